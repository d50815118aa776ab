//! RTP packets (RFC 3550) through the `rtp-types` crate, plus the per-stream bookkeeping
//! it leaves to us: sequence and timestamp unwrapping across wrap-around, the send-side
//! counters, and the receive statistics of RFC 3550 appendix A (extended highest
//! sequence, expected/lost, loss fraction, interarrival jitter A.8).

use std::time::Instant;

use rtp_types::{RtpPacket, RtpPacketBuilder};
use thiserror::Error;

/// The fields of an RTP header the media plane uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpHeader {
    /// Payload type (7 bits).
    pub payload_type: u8,
    /// Marker bit (start of a talkspurt for audio, RFC 3551 §4.1).
    pub marker: bool,
    /// Sequence number.
    pub sequence: u16,
    /// Media timestamp (8 kHz units for every codec here).
    pub timestamp: u32,
    /// Synchronisation source.
    pub ssrc: u32,
}

/// Why a datagram is not an RTP packet we take.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RtpError {
    /// `rtp-types` refused it (wrong version, truncated, bad padding).
    #[error("not an RTP packet: {0}")]
    Malformed(String),
    /// It parses, but the payload type is in the RTCP range (RFC 5761 §4): an RTCP packet
    /// on the RTP port.
    #[error("RTCP packet on the RTP port (type {0})")]
    Rtcp(u8),
}

/// Parses a datagram into its header and payload (padding and extensions removed).
pub fn parse(datagram: &[u8]) -> Result<(RtpHeader, &[u8]), RtpError> {
    if datagram.len() >= 2 && (200..=204).contains(&datagram[1]) {
        return Err(RtpError::Rtcp(datagram[1]));
    }
    let packet = RtpPacket::parse(datagram).map_err(|e| RtpError::Malformed(e.to_string()))?;
    let header = RtpHeader {
        payload_type: packet.payload_type(),
        marker: packet.marker_bit(),
        sequence: packet.sequence_number(),
        timestamp: packet.timestamp(),
        ssrc: packet.ssrc(),
    };
    let offset = packet.payload_offset();
    let len = packet.payload_len();
    let payload = datagram.get(offset..offset + len).unwrap_or_default();
    Ok((header, payload))
}

/// Appends an RTP packet with `header` and `payload` to `out` (no CSRCs, no extension).
pub fn write(out: &mut Vec<u8>, header: &RtpHeader, payload: &[u8]) {
    let builder = RtpPacketBuilder::<&[u8], &[u8]>::new()
        .payload_type(header.payload_type & 0x7F)
        .marker_bit(header.marker)
        .sequence_number(header.sequence)
        .timestamp(header.timestamp)
        .ssrc(header.ssrc)
        .payload(payload);
    // Every field above is in range (payload type masked to 7 bits), so the checked
    // writer cannot fail; the unchecked one saves the validation on the hot path.
    builder.write_into_vec_unchecked(out);
}

/// Unwraps a 16-bit sequence number to the 64-bit value nearest `reference`.
pub fn extend_seq(seq: u16, reference: u64) -> u64 {
    let delta = seq.wrapping_sub(reference as u16) as i16;
    reference.wrapping_add_signed(i64::from(delta))
}

/// Unwraps a 32-bit timestamp to the 64-bit value nearest `reference`.
pub fn extend_ts(ts: u32, reference: u64) -> u64 {
    let delta = ts.wrapping_sub(reference as u32) as i32;
    reference.wrapping_add_signed(i64::from(delta))
}

/// Sequence number, timestamp and counters of the stream we send.
#[derive(Debug, Clone)]
pub struct RtpSendState {
    /// Our SSRC.
    pub ssrc: u32,
    /// Next sequence number.
    pub sequence: u16,
    /// Timestamp of the next sample to be sent.
    pub timestamp: u32,
    /// Packets sent (for RTCP SR).
    pub packets: u32,
    /// Payload octets sent (for RTCP SR).
    pub octets: u32,
}

impl RtpSendState {
    /// A stream starting at the given (normally random) values.
    pub fn new(ssrc: u32, sequence: u16, timestamp: u32) -> Self {
        RtpSendState {
            ssrc,
            sequence,
            timestamp,
            packets: 0,
            octets: 0,
        }
    }

    /// Writes the next packet to `out` and advances sequence and counters. The timestamp
    /// is the caller's (it also advances through silence, see [`Self::advance`]).
    pub fn write_packet(
        &mut self,
        out: &mut Vec<u8>,
        payload_type: u8,
        marker: bool,
        timestamp: u32,
        payload: &[u8],
    ) {
        let header = RtpHeader {
            payload_type,
            marker,
            sequence: self.sequence,
            timestamp,
            ssrc: self.ssrc,
        };
        write(out, &header, payload);
        self.sequence = self.sequence.wrapping_add(1);
        self.packets = self.packets.wrapping_add(1);
        self.octets = self.octets.wrapping_add(payload.len() as u32);
    }

    /// Moves the media clock on by `samples`.
    pub fn advance(&mut self, samples: u32) {
        self.timestamp = self.timestamp.wrapping_add(samples);
    }
}

/// Receive-side statistics of one source (RFC 3550 A.1, A.3, A.8).
#[derive(Debug, Clone)]
pub struct ReceiveStats {
    ssrc: Option<u32>,
    base_seq: u64,
    max_seq: u64,
    received: u64,
    expected_prior: u64,
    received_prior: u64,
    /// Interarrival jitter in timestamp units, scaled by 16 as in A.8.
    jitter_q4: u64,
    last_transit: Option<i64>,
    clock_rate: u32,
    epoch: Option<Instant>,
    last_sr: Option<(u32, Instant)>,
}

/// What one RTCP report block says about the stream we receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceptionReport {
    /// The source reported on.
    pub ssrc: u32,
    /// Fraction lost since the previous report, in 1/256.
    pub fraction_lost: u8,
    /// Cumulative packets lost (24-bit signed in the wire format, clamped).
    pub cumulative_lost: i32,
    /// Extended highest sequence number received.
    pub extended_highest_seq: u32,
    /// Interarrival jitter in timestamp units.
    pub jitter: u32,
    /// Middle 32 bits of the last SR's NTP timestamp, 0 if none.
    pub last_sr: u32,
    /// Delay since that SR in 1/65536 s, 0 if none.
    pub delay_since_last_sr: u32,
}

impl ReceiveStats {
    /// Statistics for a stream with the given RTP clock rate.
    pub fn new(clock_rate: u32) -> Self {
        ReceiveStats {
            ssrc: None,
            base_seq: 0,
            max_seq: 0,
            received: 0,
            expected_prior: 0,
            received_prior: 0,
            jitter_q4: 0,
            last_transit: None,
            clock_rate: clock_rate.max(1),
            epoch: None,
            last_sr: None,
        }
    }

    /// The source's SSRC once a packet has arrived.
    pub fn ssrc(&self) -> Option<u32> {
        self.ssrc
    }

    /// Packets received.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Packets expected from the sequence numbers seen.
    pub fn expected(&self) -> u64 {
        if self.received == 0 {
            0
        } else {
            self.max_seq - self.base_seq + 1
        }
    }

    /// Cumulative lost (expected - received; negative with duplicates).
    pub fn cumulative_lost(&self) -> i64 {
        self.expected() as i64 - self.received as i64
    }

    /// Interarrival jitter in timestamp units.
    pub fn jitter(&self) -> u32 {
        (self.jitter_q4 >> 4) as u32
    }

    /// Interarrival jitter in milliseconds.
    pub fn jitter_ms(&self) -> f64 {
        f64::from(self.jitter()) * 1000.0 / f64::from(self.clock_rate)
    }

    /// Accounts for one packet arriving at `arrival`. A new SSRC restarts the statistics.
    pub fn on_packet(&mut self, header: &RtpHeader, arrival: Instant) {
        if self.ssrc != Some(header.ssrc) {
            *self = ReceiveStats::new(self.clock_rate);
            self.ssrc = Some(header.ssrc);
            // Start far from zero so unwrapping below the first number cannot underflow.
            self.base_seq = (1 << 32) + u64::from(header.sequence);
            self.max_seq = self.base_seq;
        }
        let ext = extend_seq(header.sequence, self.max_seq);
        if ext > self.max_seq {
            self.max_seq = ext;
        }
        if ext < self.base_seq {
            self.base_seq = ext;
        }
        self.received += 1;

        // A.8: transit = arrival (in timestamp units) - timestamp; J += (|D| - J) / 16.
        let epoch = *self.epoch.get_or_insert(arrival);
        let arrival_units = (arrival.saturating_duration_since(epoch).as_nanos()
            * u128::from(self.clock_rate)
            / 1_000_000_000) as i64;
        let transit = arrival_units - i64::from(header.timestamp);
        if let Some(last) = self.last_transit {
            // Timestamps wrap: the difference of transits is taken modulo 2^32.
            let d = i64::from((transit - last) as i32).unsigned_abs();
            let j = self.jitter_q4 as i64;
            self.jitter_q4 = (j + d as i64 - ((j + 8) >> 4)).max(0) as u64;
        }
        self.last_transit = Some(transit);
    }

    /// Notes a sender report from the source (for LSR/DLSR in our report blocks).
    pub fn on_sender_report(&mut self, ntp_timestamp: u64, arrival: Instant) {
        self.last_sr = Some(((ntp_timestamp >> 16) as u32, arrival));
    }

    /// A report block for now; updates the "since last report" counters (A.3).
    pub fn report(&mut self, now: Instant) -> Option<ReceptionReport> {
        let ssrc = self.ssrc?;
        let expected = self.expected();
        let expected_interval = expected - self.expected_prior;
        let received_interval = self.received - self.received_prior;
        self.expected_prior = expected;
        self.received_prior = self.received;
        let lost_interval = expected_interval as i64 - received_interval as i64;
        let fraction_lost = if expected_interval == 0 || lost_interval <= 0 {
            0
        } else {
            ((lost_interval << 8) / expected_interval as i64).min(255) as u8
        };
        let (last_sr, delay_since_last_sr) = match self.last_sr {
            Some((lsr, at)) => {
                let d = now.saturating_duration_since(at);
                (lsr, (d.as_secs_f64() * 65_536.0) as u32)
            }
            None => (0, 0),
        };
        Some(ReceptionReport {
            ssrc,
            fraction_lost,
            cumulative_lost: self.cumulative_lost().clamp(-0x80_0000, 0x7F_FFFF) as i32,
            extended_highest_seq: (self.max_seq - (1 << 32)) as u32,
            jitter: self.jitter(),
            last_sr,
            delay_since_last_sr,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn write_then_parse() {
        let mut out = Vec::new();
        let h = RtpHeader {
            payload_type: 8,
            marker: true,
            sequence: 65_535,
            timestamp: 0xFFFF_FF00,
            ssrc: 0xDEAD_BEEF,
        };
        write(&mut out, &h, &[1, 2, 3]);
        assert_eq!(out.len(), 15);
        let (parsed, payload) = parse(&out).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(parsed, h);
        assert_eq!(payload, &[1, 2, 3]);
    }

    #[test]
    fn junk_and_rtcp_are_refused() {
        assert!(parse(&[]).is_err());
        assert!(parse(&[0x00; 12]).is_err());
        assert!(matches!(
            parse(&[0x80, 200, 0, 6]),
            Err(RtpError::Rtcp(200))
        ));
    }

    #[test]
    fn unwrapping() {
        assert_eq!(extend_seq(2, 65_534 + (1 << 16)), 2 + (2 << 16));
        assert_eq!(extend_seq(65_534, 2 + (2 << 16)), 65_534 + (1 << 16));
        assert_eq!(extend_ts(10, u64::from(u32::MAX) - 5), (1 << 32) + 10);
        assert_eq!(extend_ts(u32::MAX, 1 << 32), u64::from(u32::MAX));
    }

    #[test]
    fn stats_across_wrap_with_loss() {
        let mut s = ReceiveStats::new(8_000);
        let t0 = Instant::now();
        let mut seq: u16 = 65_500;
        let mut ts: u32 = u32::MAX - 1_000;
        for i in 0..100u32 {
            if i % 10 != 3 {
                let h = RtpHeader {
                    payload_type: 0,
                    marker: false,
                    sequence: seq,
                    timestamp: ts,
                    ssrc: 7,
                };
                // Alternate 0 / 10 ms extra delay: |D| = 80 units each time.
                let extra = if i.is_multiple_of(2) { 0 } else { 10 };
                s.on_packet(&h, t0 + Duration::from_millis(u64::from(i * 20 + extra)));
            }
            seq = seq.wrapping_add(1);
            ts = ts.wrapping_add(160);
        }
        assert_eq!(s.expected(), 100);
        let r = s.report(t0).unwrap_or_else(|| panic!("no report"));
        assert_eq!(r.cumulative_lost, 10);
        assert_eq!(r.extended_highest_seq, (1 << 16) + 63);
        // The jitter converges towards |D| = 80 (or 160 when a loss shifts the pattern).
        assert!(r.jitter > 40 && r.jitter < 170, "jitter {}", r.jitter);
        assert_eq!(r.fraction_lost, 25);
    }
}
