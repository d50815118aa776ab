//! DTMF by SIP INFO (F-6.4.15), both ways: `application/dtmf-relay` (`Signal=5`) or
//! `application/dtmf` (`5`) from SIP becomes [`ModemCommand::SendDtmf`]; a digit the
//! module detects goes to the SIP peer as INFO `application/dtmf-relay`.

use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;
use cellgate_hal::LineId;
use cellgate_media::dtmf::{DtmfMode, GsmDtmfPath};
use ezk_sip_types::{Method, Name, StatusCode};
use tracing::debug;

use super::client_transactions::Purpose;
use super::headers::branch_of;
use super::{Gateway, ModemCommand, Output};
use crate::call::CallPhase;
use crate::sip::message::{CoreHeaders, Request, Response};

impl Gateway {
    /// INFO from the SIP peer of either kind of call: its digit goes to the module.
    pub(super) fn handle_info(
        &mut self,
        now: Instant,
        source: SocketAddr,
        request: &Request,
        core: &CoreHeaders,
    ) {
        let call_id = core.call_id.0.as_str();
        let target = self
            .find_call_by_call_id(call_id)
            .and_then(|id| self.calls.get(&id).map(|c| (id, c.line, !c.gsm_done)))
            .or_else(|| {
                self.inbound_by_call_id(call_id)
                    .and_then(|id| self.inbound.get(&id).map(|c| (id, c.line, !c.gsm_done)))
            });
        let Some((id, line, gsm_up)) = target else {
            let resp = Response::to_request(
                request,
                StatusCode::CALL_OR_TRANSACTION_DOES_NOT_EXIST,
                None,
            );
            self.reply_non_invite(now, source, request, core, resp);
            return;
        };
        let digit = dtmf_digit(&request.body);
        let resp = Response::to_request(request, StatusCode::OK, None);
        self.reply_non_invite(now, source, request, core, resp);
        if let Some(d) = digit {
            if self.collect_from_sip(now, id, d) {
                return;
            }
            self.call_waiting_key(line, d);
        }
        match digit {
            Some(digit) if gsm_up => {
                debug!(call = id.0, %line, %digit, "DTMF from SIP to GSM");
                self.output.push_back(Output::Modem {
                    line,
                    call: Some(id),
                    command: ModemCommand::SendDtmf(digit),
                });
            }
            _ => debug!(call = id.0, "INFO without a DTMF digit ignored"),
        }
    }

    /// DTMF the module reported (`+QTONEDET`) on `line`: SIP INFO in that mode (or
    /// without media); with media in the RFC 4733 / in-band modes the bridge sends it
    /// (`AT` path), or already detects the tone in the PCM (in-band path: ignored here).
    pub(super) fn dtmf_from_gsm(&mut self, now: Instant, line: LineId, digit: char) {
        if self.collect_from_gsm(now, line, digit) {
            return;
        }
        if let Some(m) = self.media_on(line) {
            if m.dtmf_mode != DtmfMode::SipInfo {
                if m.gsm_dtmf == GsmDtmfPath::AtCommand {
                    let call = m.call;
                    self.output.push_back(Output::MediaDtmf { call, digit });
                } else {
                    debug!(%line, %digit, "+QTONEDET ignored: the bridge detects in-band");
                }
                return;
            }
        }
        self.send_info_dtmf(now, line, digit);
    }

    /// Sends `digit` as SIP INFO to the peer of the connected call on `line`.
    pub(super) fn send_info_dtmf(&mut self, now: Instant, line: LineId, digit: char) {
        let public = self.config.public_addr;
        let body = format!("Signal={digit}\r\nDuration=160\r\n");
        let request = if let Some(id) = self.active_call_on(line) {
            let Some(call) = self.calls.get_mut(&id) else {
                return;
            };
            if call.phase != CallPhase::Connected {
                return;
            }
            let req = call.sip.build_request(Method::INFO, &mut self.ids, public);
            Some((req, call.sip.reply_to()))
        } else if let Some(id) = self.inbound_on(line) {
            self.connected_inbound_request(id, Method::INFO)
        } else {
            None
        };
        let Some((mut req, to)) = request else { return };
        req.headers
            .insert(Name::CONTENT_TYPE, "application/dtmf-relay");
        req.body = Bytes::from(body);
        let branch = branch_of(&req);
        self.start_client_transaction(now, &req, branch, to, Purpose::Info);
    }
}

/// The digit of a SIP INFO DTMF body: `Signal=5` (application/dtmf-relay) or a bare
/// digit (application/dtmf).
fn dtmf_digit(body: &[u8]) -> Option<char> {
    let text = std::str::from_utf8(body).ok()?;
    let value = text
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once('=')?;
            k.trim().eq_ignore_ascii_case("signal").then_some(v.trim())
        })
        .unwrap_or(text.trim());
    let mut chars = value.chars();
    let c = chars.next()?.to_ascii_uppercase();
    (chars.next().is_none() && matches!(c, '0'..='9' | '*' | '#' | 'A'..='D')).then_some(c)
}
