//! How calls use the media plane: RTP ports from the configured range (F-6.5.1), the
//! media of answered calls ([`Output::MediaStart`] / [`Output::MediaStop`]), DTMF
//! between the bridge and the signalling, and the RTP timeout (F-6.5.12).

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Instant;

use cellgate_hal::LineId;
use cellgate_media::dtmf::{DtmfMode, GsmDtmfPath};
use tracing::{debug, info};

use super::output::MediaParams;
use super::{Gateway, ModemCommand, Output};
use crate::call::{CallPhase, CallRef, InboundPhase};
use crate::sip::sdp::AcceptedOffer;

/// What a call's media session reports to the core.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaEvent {
    /// No RTP for the configured time (F-6.5.12): the call is hung up.
    RtpTimeout,
    /// A digit from the SIP side the module must send (`AT+VTS`).
    DtmfToModule(char),
    /// A digit from the GSM side to send as SIP INFO.
    DtmfToSip(char),
    /// A digit the bridge received from the SIP side (RFC 4733 or in-band), whatever
    /// it does with it: digit entry before dialling uses it.
    DigitFromSip(char),
    /// A digit the bridge detected in the module's audio: digit entry uses it.
    DigitFromGsm(char),
}

impl Gateway {
    /// The lowest even port of the range not held by a call; `None` when all are.
    pub(super) fn allocate_rtp_port(&self) -> Option<u16> {
        let used: BTreeSet<u16> = self
            .calls
            .values()
            .map(|c| c.media_port)
            .chain(self.inbound.values().map(|c| c.media_port))
            .chain(self.collecting.values().map(|c| c.media_port))
            .collect();
        let low = self.config.rtp_base_port.saturating_add(1) & !1;
        let high = self.config.rtp_port_max;
        (low..high)
            .step_by(2)
            .find(|p| *p != 0 && !used.contains(p))
    }

    /// Asks the shell to start the media of call `call` as negotiated in `offer`.
    pub(super) fn start_media(
        &mut self,
        call: CallRef,
        line: LineId,
        local_port: u16,
        offer: &AcceptedOffer,
    ) {
        let Some((ip, port)) = offer.remote_rtp else {
            info!(call = call.0, "no RTP address from the peer: no media");
            return;
        };
        let media = &self.config.media;
        let gsm_dtmf = match media.dtmf_mode {
            DtmfMode::SipInfo => GsmDtmfPath::AtCommand,
            _ => media.gsm_dtmf,
        };
        let params = MediaParams {
            call,
            line,
            local_port,
            remote: SocketAddr::new(ip, port),
            codec: offer.codec,
            payload_type: offer.payload_type,
            telephone_event: offer.telephone_event,
            dtmf_mode: media.dtmf_mode,
            gsm_dtmf,
            ptime: cellgate_media::sdp::effective_ptime_ms(media.ptime_ms, offer.codec),
            rtp_timeout: media.rtp_timeout,
        };
        debug!(call = call.0, ?params, "media start");
        self.media.insert(call, params);
        self.output
            .push_back(Output::MediaStart(self.media[&call].clone()));
    }

    /// Stops the media of calls that are no longer connected.
    pub(super) fn sync_media(&mut self) {
        let ended: Vec<CallRef> = self
            .media
            .keys()
            .copied()
            .filter(|id| {
                let outbound = self.calls.get(id).is_some_and(|c| {
                    (c.phase == CallPhase::Connected && !c.gsm_done && !c.sip_done)
                        || (c.gsm.two_stage && !c.sip_done && c.phase != CallPhase::Ending)
                });
                let collecting = self.collecting.contains_key(id);
                let inbound = self.inbound.get(id).is_some_and(|c| {
                    c.phase == InboundPhase::Connected && !c.gsm_done && !c.sip_done
                });
                !outbound && !inbound && !collecting
            })
            .collect();
        for call in ended {
            self.media.remove(&call);
            debug!(call = call.0, "media stop");
            self.output.push_back(Output::MediaStop { call });
        }
    }

    /// The call with running media on `line`, if any.
    pub(super) fn media_on(&self, line: LineId) -> Option<&MediaParams> {
        self.media.values().find(|m| m.line == line)
    }

    /// An event from the media session of `call`.
    pub fn handle_media_event(&mut self, now: Instant, call: CallRef, event: MediaEvent) {
        let Some(line) = self.media.get(&call).map(|m| m.line) else {
            debug!(
                call = call.0,
                ?event,
                "media event for a call without media"
            );
            return;
        };
        match event {
            MediaEvent::RtpTimeout => {
                info!(call = call.0, %line, "no RTP in time (F-6.5.12): hanging up");
                let collecting = self
                    .calls
                    .get(&call)
                    .is_some_and(|c| c.gsm.collect.is_some());
                let unanswered = self.calls.get(&call).is_some_and(|c| c.unanswered());
                if collecting {
                    self.release_collecting_call(now, call);
                } else if unanswered {
                    self.end_unanswered(now, call, 408);
                } else if let Some(c) = self.calls.get_mut(&call) {
                    c.phase = CallPhase::Ending;
                    let hang_up = !c.gsm_done;
                    self.send_bye(now, call);
                    if hang_up {
                        self.hang_up(line, call);
                    }
                } else if let Some(c) = self.inbound.get(&call) {
                    let hang_up = !c.gsm_done;
                    self.send_inbound_bye(now, call);
                    if hang_up {
                        self.hang_up(line, call);
                    }
                }
            }
            MediaEvent::DtmfToModule(digit) => {
                self.output.push_back(Output::Modem {
                    line,
                    call: Some(call),
                    command: ModemCommand::SendDtmf(digit),
                });
            }
            MediaEvent::DtmfToSip(digit) => {
                if !self.collect_from_gsm(now, line, digit) {
                    self.send_info_dtmf(now, line, digit)
                }
            }
            MediaEvent::DigitFromSip(digit) => {
                if !self.collect_from_sip(now, call, digit) {
                    self.call_waiting_key(line, digit);
                }
            }
            MediaEvent::DigitFromGsm(digit) => {
                self.collect_from_gsm(now, line, digit);
            }
        }
        self.sync_media();
    }
}
