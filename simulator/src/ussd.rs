//! USSD on the network side: sessions per line, answered from the home operator's menu
//! ([`crate::operator::UssdMenu`]) after the operator's delay; menus keep the session
//! open (`+CUSD: 1`), idle sessions end (`+CUSD: 2`), timeout codes give `+CUSD: 5`.

use std::time::Duration;

use tokio::time::sleep;

use crate::modem::Notice;
use crate::network::{Network, NetworkState};
use crate::operator::{UssdMenu, UssdReply};

/// An open USSD session (the network asked for more with `+CUSD: 1`).
#[derive(Debug, Clone)]
pub(crate) struct Session {
    options: Vec<(String, UssdReply)>,
    generation: u64,
}

impl NetworkState {
    fn home_menu(&self, line: u16) -> Option<(UssdMenu, String, String, String, i64)> {
        let sim = self.lines.get(&line)?.sim.clone()?;
        let op = self
            .operator(sim.home_operator())
            .or_else(|| self.config.operators.first())?;
        Some((
            op.ussd.clone(),
            op.currency.clone(),
            sim.msisdn,
            sim.imsi,
            sim.balance_cents,
        ))
    }
}

fn render(text: &str, currency: &str, msisdn: &str, imsi: &str, balance: i64) -> String {
    let sign = if balance < 0 { "-" } else { "" };
    let b = balance.unsigned_abs();
    text.replace("{balance}", &format!("{sign}{}.{:02}", b / 100, b % 100))
        .replace("{currency}", currency)
        .replace("{msisdn}", msisdn)
        .replace("{imsi}", imsi)
}

impl Network {
    /// A modem sends a USSD string (`AT+CUSD=1,"<str>"`); the answer comes as a notice.
    pub(crate) fn modem_ussd(&self, line: u16, request: &str) {
        let mut st = self.state();
        let Some((menu, currency, msisdn, imsi, balance)) = st.home_menu(line) else {
            return;
        };
        let session = st.ussd.remove(&line);
        let reply = match &session {
            Some(s) => s
                .options
                .iter()
                .find(|(k, _)| k == request.trim())
                .map(|(_, r)| r.clone())
                .or(Some(UssdReply::Text("Invalid choice.".into()))),
            None => menu.lookup(request).cloned(),
        };
        st.log(format!("line{line} USSD {request:?}"));
        st.ussd_generation += 1;
        let generation = st.ussd_generation;
        let (m, text, keep) = match reply {
            None => (4, None, None),
            Some(UssdReply::Text(t)) => (
                0,
                Some(render(&t, &currency, &msisdn, &imsi, balance)),
                None,
            ),
            Some(UssdReply::Menu { text, options }) => (
                1,
                Some(render(&text, &currency, &msisdn, &imsi, balance)),
                Some(options),
            ),
            Some(UssdReply::Timeout) => {
                drop(st);
                tokio::spawn(self.clone().ussd_later(
                    line,
                    menu.timeout,
                    5,
                    None,
                    generation,
                    false,
                ));
                return;
            }
        };
        if let Some(options) = keep {
            st.ussd.insert(
                line,
                Session {
                    options,
                    generation,
                },
            );
            tokio::spawn(self.clone().ussd_later(
                line,
                menu.delay + menu.timeout,
                2,
                None,
                generation,
                true,
            ));
        }
        drop(st);
        tokio::spawn(
            self.clone()
                .ussd_later(line, menu.delay, m, text, generation, false),
        );
    }

    async fn ussd_later(
        self,
        line: u16,
        after: Duration,
        m: u8,
        text: Option<String>,
        generation: u64,
        only_if_open: bool,
    ) {
        sleep(after).await;
        let mut st = self.state();
        if only_if_open {
            if st.ussd.get(&line).map(|s| s.generation) != Some(generation) {
                return;
            }
            st.ussd.remove(&line);
            st.log(format!("line{line} USSD session timed out"));
        } else if st.ussd_generation != generation
            && st.ussd.get(&line).map(|s| s.generation) != Some(generation)
        {
            // A newer request replaced this one.
            return;
        }
        st.log(format!(
            "line{line} USSD answer +CUSD: {m} {:?}",
            text.as_deref().unwrap_or("")
        ));
        st.notify(line, Notice::Ussd { m, text });
    }

    /// `AT+CUSD=2` or a reboot: the session ends.
    pub(crate) fn ussd_cancel(&self, line: u16) {
        let mut st = self.state();
        if st.ussd.remove(&line).is_some() {
            st.log(format!("line{line} USSD session cancelled"));
        }
        st.ussd_generation += 1;
    }
}
