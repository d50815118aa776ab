//! RTCP (RFC 3550 §6) through the `rtcp-types` crate: compound SR/RR + SDES CNAME
//! building, parsing of what the peer sends, and round-trip time from LSR/DLSR.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rtcp_types::{
    Compound, Packet, ReceiverReport, ReportBlock, RtcpPacketWriter, RtcpPacketWriterExt, Sdes,
    SdesChunk, SdesItem, SenderReport,
};
use thiserror::Error;

use crate::rtp::ReceptionReport;

/// Seconds from the NTP epoch (1900) to the Unix epoch (1970).
const NTP_UNIX_OFFSET: u64 = 2_208_988_800;

/// 64-bit NTP timestamp (32.32 fixed point seconds since 1900) of a wall-clock time.
pub fn ntp_timestamp(time: SystemTime) -> u64 {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs() + NTP_UNIX_OFFSET;
    let frac = (u64::from(since.subsec_nanos()) << 32) / 1_000_000_000;
    (secs << 32) | frac
}

/// The sender-info part of an SR: what we have sent so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SenderInfo {
    /// Wall-clock time of the report (NTP format).
    pub ntp_timestamp: u64,
    /// The same instant on the RTP media clock.
    pub rtp_timestamp: u32,
    /// Packets sent.
    pub packet_count: u32,
    /// Payload octets sent.
    pub octet_count: u32,
}

/// Why an RTCP datagram could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RtcpError {
    /// `rtcp-types` refused it.
    #[error("malformed RTCP: {0}")]
    Malformed(String),
}

/// Everything of interest in one compound RTCP packet from the peer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RtcpSummary {
    /// Sender report: (SSRC, NTP timestamp, RTP timestamp, packets, octets).
    pub sender: Option<(u32, SenderInfo)>,
    /// Report blocks (from SR or RR) the peer sent about the streams it receives.
    pub reports: Vec<ReceptionReport>,
    /// The peer said BYE.
    pub bye: bool,
}

fn block_builder(r: &ReceptionReport) -> rtcp_types::ReportBlockBuilder {
    ReportBlock::builder(r.ssrc)
        .fraction_lost(r.fraction_lost)
        .cumulative_lost((r.cumulative_lost as u32) & 0x00FF_FFFF)
        .extended_sequence_number(r.extended_highest_seq)
        .interarrival_jitter(r.jitter)
        .last_sender_report_timestamp(r.last_sr)
        .delay_since_last_sender_report_timestamp(r.delay_since_last_sr)
}

/// Builds a compound report: an SR when we have sent media (`sender`), else an RR, with
/// at most one report block, followed by SDES CNAME (RFC 3550 §6.1 requires it).
pub fn build_report(
    ssrc: u32,
    sender: Option<SenderInfo>,
    report: Option<&ReceptionReport>,
    cname: &str,
) -> Result<Vec<u8>, RtcpError> {
    let sdes = Sdes::builder()
        .add_chunk(SdesChunk::builder(ssrc).add_item(SdesItem::builder(SdesItem::CNAME, cname)));
    let compound = match sender {
        Some(info) => {
            let mut sr = SenderReport::builder(ssrc)
                .ntp_timestamp(info.ntp_timestamp)
                .rtp_timestamp(info.rtp_timestamp)
                .packet_count(info.packet_count)
                .octet_count(info.octet_count);
            if let Some(r) = report {
                sr = sr.add_report_block(block_builder(r));
            }
            Compound::builder().add_packet(sr).add_packet(sdes)
        }
        None => {
            let mut rr = ReceiverReport::builder(ssrc);
            if let Some(r) = report {
                rr = rr.add_report_block(block_builder(r));
            }
            Compound::builder().add_packet(rr).add_packet(sdes)
        }
    };
    let size = compound
        .calculate_size()
        .map_err(|e| RtcpError::Malformed(e.to_string()))?;
    let mut out = vec![0u8; size];
    compound
        .write_into(&mut out)
        .map_err(|e| RtcpError::Malformed(e.to_string()))?;
    Ok(out)
}

/// Builds a BYE for `ssrc` (sent when the call ends).
pub fn build_bye(ssrc: u32) -> Result<Vec<u8>, RtcpError> {
    let bye = rtcp_types::Bye::builder().add_source(ssrc);
    let size = bye
        .calculate_size()
        .map_err(|e| RtcpError::Malformed(e.to_string()))?;
    let mut out = vec![0u8; size];
    bye.write_into(&mut out)
        .map_err(|e| RtcpError::Malformed(e.to_string()))?;
    Ok(out)
}

fn reception(block: &ReportBlock<'_>) -> ReceptionReport {
    let raw = block.cumulative_lost() & 0x00FF_FFFF;
    // 24-bit two's complement.
    let cumulative_lost = ((raw << 8) as i32) >> 8;
    ReceptionReport {
        ssrc: block.ssrc(),
        fraction_lost: block.fraction_lost(),
        cumulative_lost,
        extended_highest_seq: block.extended_sequence_number(),
        jitter: block.interarrival_jitter(),
        last_sr: block.last_sender_report_timestamp(),
        delay_since_last_sr: block.delay_since_last_sender_report_timestamp(),
    }
}

/// Parses a compound RTCP packet.
pub fn parse(datagram: &[u8]) -> Result<RtcpSummary, RtcpError> {
    let compound = Compound::parse(datagram).map_err(|e| RtcpError::Malformed(e.to_string()))?;
    let mut summary = RtcpSummary::default();
    for packet in compound {
        match packet.map_err(|e| RtcpError::Malformed(e.to_string()))? {
            Packet::Sr(sr) => {
                summary.sender = Some((
                    sr.ssrc(),
                    SenderInfo {
                        ntp_timestamp: sr.ntp_timestamp(),
                        rtp_timestamp: sr.rtp_timestamp(),
                        packet_count: sr.packet_count(),
                        octet_count: sr.octet_count(),
                    },
                ));
                summary
                    .reports
                    .extend(sr.report_blocks().map(|b| reception(&b)));
            }
            Packet::Rr(rr) => summary
                .reports
                .extend(rr.report_blocks().map(|b| reception(&b))),
            Packet::Bye(_) => summary.bye = true,
            _ => {}
        }
    }
    Ok(summary)
}

/// Round-trip time from a report block about our stream (RFC 3550 §6.4.1):
/// now - LSR - DLSR, with `now_ntp` the arrival time of the report.
pub fn round_trip(report: &ReceptionReport, now_ntp: u64) -> Option<Duration> {
    if report.last_sr == 0 {
        return None;
    }
    let now_mid = (now_ntp >> 16) as u32;
    let rtt = now_mid
        .wrapping_sub(report.last_sr)
        .wrapping_sub(report.delay_since_last_sr);
    // More than ~18 h means the arithmetic wrapped: a bogus report.
    (rtt < 0x8000_0000).then(|| Duration::from_secs_f64(f64::from(rtt) / 65_536.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block() -> ReceptionReport {
        ReceptionReport {
            ssrc: 42,
            fraction_lost: 12,
            cumulative_lost: -3,
            extended_highest_seq: 70_000,
            jitter: 33,
            last_sr: 0x1234_5678,
            delay_since_last_sr: 65_536,
        }
    }

    #[test]
    fn sr_round_trip() {
        let info = SenderInfo {
            ntp_timestamp: ntp_timestamp(UNIX_EPOCH + Duration::from_secs(1_000)),
            rtp_timestamp: 160,
            packet_count: 50,
            octet_count: 8_000,
        };
        let bytes = build_report(7, Some(info), Some(&block()), "line1@cellgate")
            .unwrap_or_else(|e| panic!("{e}"));
        let s = parse(&bytes).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.sender, Some((7, info)));
        assert_eq!(s.reports, vec![block()]);
        assert!(!s.bye);
        assert_eq!(info.ntp_timestamp >> 32, NTP_UNIX_OFFSET + 1_000);
    }

    #[test]
    fn rr_and_bye() {
        let bytes = build_report(9, None, None, "x").unwrap_or_else(|e| panic!("{e}"));
        let s = parse(&bytes).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.sender, None);
        assert!(s.reports.is_empty());
        let bye = build_bye(9).unwrap_or_else(|e| panic!("{e}"));
        assert!(parse(&bye).unwrap_or_else(|e| panic!("{e}")).bye);
        assert!(parse(&[1, 2, 3]).is_err());
        assert!(parse(&[]).is_err());
    }

    #[test]
    fn rtt() {
        let mut r = block();
        r.delay_since_last_sr = 2 * 65_536;
        // now is LSR + 3 s; DLSR 2 s -> RTT 1 s.
        let now_ntp = (u64::from(r.last_sr.wrapping_add(3 * 65_536))) << 16;
        let rtt = round_trip(&r, now_ntp).unwrap_or_default();
        assert_eq!(rtt, Duration::from_secs(1));
    }
}
