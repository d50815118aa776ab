//! The SMS service centre: store-and-forward between gateway SIMs and outside phones.
//!
//! * Mobile-originated (`AT+CMGS` / `AT+CMSS`): the SUBMIT is decoded with `cellgate-sms`
//!   and recorded ([`Network::smsc_received`], joined per message by
//!   [`Network::smsc_texts`]). A destination that is another gateway SIM gets it as a
//!   DELIVER; a status report goes back when one was asked for.
//! * Mobile-terminated: phones send single, concatenated (8- or 16-bit reference), GSM
//!   7-bit, UCS2 or 8-bit messages ([`Network::phone_sends_sms_with`]). The SMSC keeps
//!   each part until the line's modem takes it — stored on the SIM (`+CMTI`), shown
//!   directly (`+CMT`), or refused because the SIM is full — and drops it when its
//!   validity period ends.

use std::time::Duration;

use cellgate_sms::{
    decode_mo_tpdu_bytes, encode_deliver_tpdu, encode_hex, encode_status_report_tpdu, split_binary,
    split_text, Address, ConcatRef, Deliver, Encoding, Fragment, Reassembler, SmscTimestamp,
    SplitOptions, StatusReport, Submit, TypeOfNumber,
};
use tokio::time::{sleep, sleep_until, Instant};

use crate::modem::Notice;
use crate::network::{Network, NetworkState, SimError};
use crate::numbering::CalleeBehaviour;

/// A SUBMIT the SMSC accepted from a gateway line (one per part).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmscMessage {
    /// Line that sent it.
    pub line: u16,
    /// Sender (the line's MSISDN).
    pub from: String,
    /// Destination as submitted (`+` for international numbers).
    pub to: String,
    /// The part's text (`None` for 8-bit data).
    pub text: Option<String>,
    /// `(reference, total, sequence)` for a part of a concatenated message.
    pub concat: Option<(u16, u8, u8)>,
    /// TP-SRR.
    pub status_report_requested: bool,
    /// The message reference `+CMGS` returned.
    pub reference: u8,
    /// The TPDU as hex.
    pub tpdu_hex: String,
    /// Virtual time since the network started.
    pub at: Duration,
}

/// A whole message the SMSC received, concatenated parts joined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmscText {
    /// Sender.
    pub from: String,
    /// Destination.
    pub to: String,
    /// The joined text (8-bit data as lossy UTF-8).
    pub text: String,
    /// Number of parts.
    pub parts: u8,
}

/// How a phone's message is coded and delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsOptions {
    /// Alphabet (`Auto`: GSM 7-bit if possible, else UCS2).
    pub encoding: Encoding,
    /// Send the text's UTF-8 bytes as 8-bit data instead.
    pub binary: bool,
    /// Concatenation reference (its width decides 8- or 16-bit) if several parts are
    /// needed; `None` picks the next 8-bit reference.
    pub reference: Option<ConcatRef>,
    /// How long the SMSC keeps trying (`None`: forever).
    pub validity: Option<Duration>,
}

impl Default for SmsOptions {
    fn default() -> Self {
        Self {
            encoding: Encoding::Auto,
            binary: false,
            reference: None,
            validity: None,
        }
    }
}

/// What an undelivered message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MtKind {
    /// A DELIVER.
    Deliver,
    /// A STATUS-REPORT.
    StatusReport,
}

#[derive(Debug, Clone)]
pub(crate) struct PendingMt {
    id: u64,
    line: u16,
    pub(crate) tpdu: Vec<u8>,
    pub(crate) kind: MtKind,
    offered: bool,
    label: String,
}

/// SMSC state inside the network.
#[derive(Debug, Default)]
pub(crate) struct Smsc {
    received: Vec<SmscMessage>,
    pending: Vec<PendingMt>,
    next_id: u64,
    next_ref8: u8,
    mr: std::collections::BTreeMap<u16, u8>,
}

/// Why a mobile-originated message was refused (a CMS error code).
pub(crate) type Cms = u16;

impl NetworkState {
    /// The SMSC timestamp of "now".
    pub(crate) fn scts(&self) -> SmscTimestamp {
        let secs = i64::try_from(self.clock.elapsed().as_secs()).unwrap_or(0);
        SmscTimestamp::from_unix(self.config.epoch_unix + secs, self.config.tz_quarters)
    }

    fn queue_mt(&mut self, line: u16, tpdu: Vec<u8>, kind: MtKind, label: String) -> u64 {
        let id = self.smsc.next_id;
        self.smsc.next_id += 1;
        self.smsc.pending.push(PendingMt {
            id,
            line,
            tpdu,
            kind,
            offered: false,
            label,
        });
        id
    }

    /// Offers every pending message of `line` to its modem.
    pub(crate) fn offer_pending(&mut self, line: u16) {
        let ids: Vec<u64> = self
            .smsc
            .pending
            .iter_mut()
            .filter(|p| p.line == line && !p.offered)
            .map(|p| {
                p.offered = true;
                p.id
            })
            .collect();
        for id in ids {
            self.notify(line, Notice::Sms { id });
        }
    }
}

/// Address as written: `+digits` for international numbers.
pub fn address_text(a: &Address) -> String {
    if a.ton == TypeOfNumber::International {
        format!("+{}", a.value)
    } else {
        a.value.clone()
    }
}

impl Network {
    /// Every SUBMIT the SMSC accepted from the gateway's lines, in order (one per part).
    pub fn smsc_received(&self) -> Vec<SmscMessage> {
        self.state().smsc.received.clone()
    }

    /// What the SMSC received, concatenated messages joined (parts in any order; an
    /// incomplete message is listed with what arrived).
    pub fn smsc_texts(&self) -> Vec<SmscText> {
        let received = self.smsc_received();
        let mut r = Reassembler::new(Duration::from_secs(u64::MAX / 4));
        let mut out = Vec::new();
        for (i, m) in received.iter().enumerate() {
            let Ok(bytes) = cellgate_sms::decode_hex(&m.tpdu_hex) else {
                continue;
            };
            let Ok(submit) = decode_mo_tpdu_bytes(&bytes) else {
                continue;
            };
            let fragment = Fragment {
                sender: Address::parse(&m.from),
                concat: submit.concat(),
                content: submit.user_data.clone(),
            };
            if let Some(done) = r.push(fragment, i as u64) {
                out.push(SmscText {
                    from: m.from.clone(),
                    to: m.to.clone(),
                    text: content_text(&done.content),
                    parts: done.parts,
                });
            }
        }
        for inc in r.expire(u64::MAX) {
            let from = address_text(&inc.sender);
            let to = received
                .iter()
                .find(|m| m.from == from)
                .map(|m| m.to.clone())
                .unwrap_or_default();
            out.push(SmscText {
                from,
                to,
                text: content_text(&inc.content),
                parts: inc.total,
            });
        }
        out
    }

    /// Messages still waiting in the SMSC for `line` (e.g. because its SIM is full).
    pub fn smsc_pending(&self, line: u16) -> usize {
        self.state()
            .smsc
            .pending
            .iter()
            .filter(|p| p.line == line)
            .count()
    }

    /// An outside phone sends `text` to the SIM of `line` with default options; returns
    /// the number of parts.
    pub fn phone_sends_sms(&self, from: &str, line: u16, text: &str) -> Result<usize, SimError> {
        self.phone_sends_sms_with(from, line, text, &SmsOptions::default())
    }

    /// An outside phone sends `text` to the SIM of `line`: split into parts as a phone
    /// would (`cellgate_sms::split_text`), each part a DELIVER the SMSC forwards.
    pub fn phone_sends_sms_with(
        &self,
        from: &str,
        line: u16,
        text: &str,
        opts: &SmsOptions,
    ) -> Result<usize, SimError> {
        let sender = crate::phone::normalise(from);
        if sender.trim_start_matches('+').is_empty() {
            return Err(SimError::InvalidNumber(from.to_owned()));
        }
        let (ids, delay) = {
            let mut st = self.state();
            if !st.lines.contains_key(&line) {
                return Err(SimError::NoSuchLine(line));
            }
            let reference = opts.reference.unwrap_or_else(|| {
                st.smsc.next_ref8 = st.smsc.next_ref8.wrapping_add(1);
                ConcatRef::Eight(st.smsc.next_ref8)
            });
            let split = SplitOptions {
                encoding: opts.encoding,
                reference,
                ..SplitOptions::default()
            };
            let parts = if opts.binary {
                split_binary(text.as_bytes(), &split)
            } else {
                split_text(text, &split)
            }
            .map_err(|e| SimError::Encoding(e.to_string()))?;
            let scts = st.scts();
            let total = parts.len();
            let mut ids = Vec::new();
            for (i, part) in parts.into_iter().enumerate() {
                let deliver = part.into_deliver(Address::parse(&sender), scts);
                let tpdu =
                    encode_deliver_tpdu(&deliver).map_err(|e| SimError::Encoding(e.to_string()))?;
                let label = format!("SMS from {sender} to line{line} part {}/{total}", i + 1);
                st.log(format!("{label}: at the SMSC"));
                ids.push(st.queue_mt(line, tpdu, MtKind::Deliver, label));
            }
            (ids, st.config.sms_delivery_delay)
        };
        let n = ids.len();
        if let Some(validity) = opts.validity {
            let expires = Instant::now() + validity;
            tokio::spawn(self.clone().expire(ids, expires));
        }
        tokio::spawn(self.clone().offer_later(line, delay));
        Ok(n)
    }

    async fn offer_later(self, line: u16, delay: Duration) {
        sleep(delay).await;
        self.state().offer_pending(line);
    }

    async fn expire(self, ids: Vec<u64>, at: Instant) {
        sleep_until(at).await;
        let mut st = self.state();
        let mut expired = Vec::new();
        st.smsc.pending.retain(|p| {
            let gone = ids.contains(&p.id);
            if gone {
                expired.push(p.label.clone());
            }
            !gone
        });
        for label in expired {
            st.log(format!("{label}: validity period expired, dropped"));
        }
    }

    /// The modem of `line` asks for a pending message it was offered.
    pub(crate) fn smsc_take(&self, id: u64) -> Option<(Vec<u8>, MtKind)> {
        let st = self.state();
        st.smsc
            .pending
            .iter()
            .find(|p| p.id == id)
            .map(|p| (p.tpdu.clone(), p.kind))
    }

    /// The modem took (`true`) or refused (`false`, e.g. SIM full) an offered message.
    pub(crate) fn smsc_result(&self, id: u64, accepted: bool, how: &str) {
        let mut st = self.state();
        let Some(pos) = st.smsc.pending.iter().position(|p| p.id == id) else {
            return;
        };
        if accepted {
            let p = st.smsc.pending.remove(pos);
            st.log(format!("{}: delivered ({how})", p.label));
        } else {
            let label = st.smsc.pending[pos].label.clone();
            st.smsc.pending[pos].offered = false;
            st.log(format!("{label}: not delivered ({how}), kept at the SMSC"));
        }
    }

    /// The modem of `line` can take messages again (memory freed, SMS ready, SIM in).
    pub(crate) fn smsc_retry(&self, line: u16) {
        self.state().offer_pending(line);
    }

    /// A modem submits a TPDU (`AT+CMGS`/`AT+CMSS`): `Ok(mr)` or a CMS error.
    pub(crate) fn modem_submit(&self, line: u16, tpdu: &[u8]) -> Result<u8, Cms> {
        let submit = decode_mo_tpdu_bytes(tpdu).map_err(|_| 304u16)?;
        let (reports, deliveries0, deliveries1, delay) = {
            let mut st = self.state();
            let Some(from) = st.lines.get(&line).and_then(|l| l.sim.clone()) else {
                return Err(310);
            };
            let mr = {
                let c = st.smsc.mr.entry(line).or_insert(0);
                *c = c.wrapping_add(1);
                *c
            };
            let to = address_text(&submit.destination);
            let concat = submit.concat().map(|c| {
                let r = match c.reference {
                    ConcatRef::Eight(r) => u16::from(r),
                    ConcatRef::Sixteen(r) => r,
                };
                (r, c.total, c.sequence)
            });
            let at = st.clock.elapsed();
            st.smsc.received.push(SmscMessage {
                line,
                from: from.msisdn.clone(),
                to: to.clone(),
                text: submit.text().map(str::to_owned),
                concat,
                status_report_requested: submit.status_report_request,
                reference: mr,
                tpdu_hex: encode_hex(tpdu),
                at,
            });
            let part = concat.map_or(String::new(), |(_, t, s)| format!(" part {s}/{t}"));
            st.log(format!(
                "line{line} SMS to {to}{part} accepted by the SMSC (mr {mr}): {:?}",
                submit.text().unwrap_or("<8-bit data>")
            ));
            let mut dests: Vec<u16> = Vec::new();
            let mut report_queued = false;
            let status = match st.line_of_number(&to) {
                Some(dest) => {
                    let deliver = Deliver {
                        dcs: submit.dcs,
                        udh: submit.udh.clone(),
                        user_data: submit.user_data.clone(),
                        status_report_indication: submit.status_report_request,
                        ..Deliver::new(Address::national(&from.msisdn), st.scts(), "")
                    };
                    if let Ok(t) = encode_deliver_tpdu(&deliver) {
                        let label = format!("SMS from line{line} to line{dest}{part}");
                        st.queue_mt(dest, t, MtKind::Deliver, label);
                        dests.push(dest);
                    }
                    0x00
                }
                None => match st.config.numbering.resolve(&to) {
                    CalleeBehaviour::Unassigned { .. } => 0x41,
                    _ => 0x00,
                },
            };
            if submit.status_report_request {
                let report =
                    StatusReport::new(mr, submit.destination.clone(), st.scts(), st.scts(), status);
                if let Ok(t) = encode_status_report_tpdu(&report) {
                    let label = format!("status report for line{line} mr {mr}");
                    st.queue_mt(line, t, MtKind::StatusReport, label);
                    report_queued = true;
                }
            }
            (mr, report_queued, dests, st.config.sms_delivery_delay)
        };
        let (mr, report_queued, dests) = (reports, deliveries0, deliveries1);
        for dest in dests {
            tokio::spawn(self.clone().offer_later(dest, delay));
        }
        if report_queued {
            tokio::spawn(self.clone().offer_later(line, delay * 3));
        }
        Ok(mr)
    }
}

fn content_text(c: &cellgate_sms::UserData) -> String {
    match c {
        cellgate_sms::UserData::Text(t) => t.clone(),
        cellgate_sms::UserData::Binary(b) => String::from_utf8_lossy(b).into_owned(),
    }
}

/// A SUBMIT built from text-mode parameters (`AT+CMGS="<da>"` after `AT+CSMP`).
pub(crate) fn text_mode_submit(da: &str, text: &str, fo: u8, vp: u8, dcs: u8) -> Submit {
    let mut s = Submit::new(Address::parse(da), text);
    s.status_report_request = fo & 0x20 != 0;
    if fo & 0x18 == 0x10 {
        s.validity = Some(cellgate_sms::Validity::Relative(vp));
    }
    if dcs & 0x0C == 0x08 {
        s.dcs = cellgate_sms::Dcs::UCS2;
    }
    s
}
