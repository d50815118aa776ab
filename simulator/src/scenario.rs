//! Declarative TOML scenarios: programmed phones, a timeline of steps at virtual times
//! (calls, SMS, faults, signal, SIM removal, hang-ups) and expectations checked at given
//! times or at the end. See `docs/scenarios.md`.
//!
//! ```toml
//! end = "30s"
//! [[phone]]
//! number = "+8613912345678"
//! behaviour = "busy"
//! [[step]]
//! at = "5s"
//! action = "sms"
//! from = "+8613912345678"
//! line = 1
//! text = "hello"
//! [[expect]]
//! at = "7s"
//! check = "sim_messages"
//! line = 1
//! count = 1
//! ```

use std::time::Duration;

use cellgate_sms::{ConcatRef, Encoding};
use serde::Deserialize;
use thiserror::Error;
use tokio::time::{sleep_until, Instant};

use crate::faults::Fault;
use crate::network::{CallState, Network};
use crate::numbering::CalleeBehaviour;
use crate::phone::{PhoneBehaviour, PhoneSound};
use crate::smsc::SmsOptions;

/// Why a scenario could not be loaded or did not pass.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ScenarioError {
    /// The file is not valid TOML or a section has a bad or unknown key.
    #[error("invalid scenario: {0}")]
    Invalid(String),
    /// A step could not be carried out (e.g. no modem on its line).
    #[error("step {index} (at {at}, action {action}): {reason}")]
    Step {
        /// 1-based step number in the file.
        index: usize,
        /// Its `at`.
        at: String,
        /// Its `action`.
        action: String,
        /// What went wrong.
        reason: String,
    },
    /// Expectations failed (one line each).
    #[error("{} expectation(s) failed:\n{}", .0.len(), .0.join("\n"))]
    Failed(Vec<String>),
}

/// Network settings of a scenario, used by `cellgate sim --scenario` (the Rust runner
/// uses the network it is given).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ScenarioNetwork {
    /// Network seed.
    pub seed: Option<u64>,
    /// Number of lines.
    pub lines: Option<u16>,
    /// Module(s): `m35`, `uc15` or a comma-separated mix.
    pub module: Option<String>,
}

/// A programmed phone (`[[phone]]`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhoneSpec {
    /// The phone's number.
    pub number: String,
    /// `answers` (default), `busy`, `rejects`, `never_answers`, `unreachable`.
    #[serde(default)]
    pub behaviour: Option<String>,
    /// Dial -> answer (for `answers`), or dial -> rejection.
    #[serde(default)]
    pub answer_after: Option<String>,
    /// Connected -> the phone hangs up.
    #[serde(default)]
    pub hang_up_after: Option<String>,
    /// DTMF to send after connecting: `[{ at = "2s", digits = "123#" }]`.
    #[serde(default)]
    pub dtmf: Vec<DtmfSpec>,
    /// Play a tone while connected: `{ freq_hz = 1000, level = 8000 }`.
    #[serde(default)]
    pub tone: Option<ToneSpec>,
}

/// DTMF a phone sends (`dtmf = [{ at, digits }]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DtmfSpec {
    /// Time after connecting.
    pub at: String,
    /// Digits `0-9 * # A-D`.
    pub digits: String,
}

/// A tone a phone plays.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToneSpec {
    /// Frequency in Hz.
    pub freq_hz: f64,
    /// Peak amplitude.
    pub level: i16,
}

/// What a step does (`action = "..."` plus its keys).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// A phone calls a line (`withheld = true`: CLIR).
    Call {
        /// Caller number.
        from: String,
        /// Gateway line.
        line: u16,
        /// Hide the caller's number.
        #[serde(default)]
        withheld: bool,
    },
    /// A phone hangs up all its calls.
    Hangup {
        /// The phone.
        phone: String,
    },
    /// A phone sends DTMF into its active call.
    Dtmf {
        /// The phone.
        phone: String,
        /// The digits.
        digits: String,
    },
    /// A phone texts a line.
    Sms {
        /// Sender.
        from: String,
        /// Gateway line.
        line: u16,
        /// The text.
        text: String,
        /// `auto` (default), `gsm7`, `ucs2`.
        #[serde(default)]
        encoding: Option<String>,
        /// Send the text's bytes as 8-bit data.
        #[serde(default)]
        binary: bool,
        /// 8-bit concatenation reference.
        #[serde(default)]
        ref8: Option<u8>,
        /// 16-bit concatenation reference.
        #[serde(default)]
        ref16: Option<u16>,
        /// Validity period.
        #[serde(default)]
        validity: Option<String>,
    },
    /// Injects a fault (kinds as the control interface).
    Fault {
        /// Line.
        line: u16,
        /// Fault kind.
        kind: String,
        /// Duration (`unresponsive`, `slow`, `signal_fade`).
        #[serde(default)]
        duration: Option<String>,
        /// Count (`cme_busy`, `cms_busy`, `sms_send_failure`).
        #[serde(default)]
        count: Option<u32>,
        /// CMS code (`sms_send_failure`).
        #[serde(default)]
        cms: Option<u16>,
        /// Target rssi (`signal_fade`).
        #[serde(default)]
        to: Option<u8>,
        /// Bytes (`garbage`).
        #[serde(default)]
        bytes: Option<String>,
    },
    /// Sets a line's signal.
    Signal {
        /// Line.
        line: u16,
        /// rssi 0..=31.
        rssi: u8,
    },
    /// Pulls the SIM out of a line.
    RemoveSim {
        /// Line.
        line: u16,
    },
    /// Puts the last SIM back.
    InsertSim {
        /// Line.
        line: u16,
    },
    /// The SIM asks for PIN2 (`+CPIN: SIM PIN2`).
    AskPin2 {
        /// Line.
        line: u16,
    },
}

impl Action {
    fn name(&self) -> &'static str {
        match self {
            Action::Call { .. } => "call",
            Action::Hangup { .. } => "hangup",
            Action::Dtmf { .. } => "dtmf",
            Action::Sms { .. } => "sms",
            Action::Fault { .. } => "fault",
            Action::Signal { .. } => "signal",
            Action::RemoveSim { .. } => "remove_sim",
            Action::InsertSim { .. } => "insert_sim",
            Action::AskPin2 { .. } => "ask_pin2",
        }
    }
}

/// What an expectation checks (`check = "..."` plus its keys).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "check", rename_all = "snake_case", deny_unknown_fields)]
pub enum Check {
    /// The SMSC received a message with this text (joined parts), optionally to `to`.
    SmscText {
        /// The text.
        text: String,
        /// Destination.
        #[serde(default)]
        to: Option<String>,
    },
    /// A line's call state: `none`, `dialing`, `alerting`, `active`, `incoming`, `held`,
    /// `waiting` (`none`: no call).
    CallState {
        /// Line.
        line: u16,
        /// Expected state of its first call.
        state: String,
    },
    /// Number of messages stored on a line's SIM.
    SimMessages {
        /// Line.
        line: u16,
        /// Count.
        count: usize,
    },
    /// A line's `+CREG` stat.
    Registration {
        /// Line.
        line: u16,
        /// 0 idle, 1 home, 2 searching, 3 denied, 5 roaming.
        stat: u8,
    },
    /// Some event-log entry contains this text.
    Event {
        /// Substring.
        contains: String,
    },
}

/// One step of the timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// Virtual time since the start of the run.
    pub at: Duration,
    /// The action.
    pub action: Action,
}

/// One expectation, checked at `at` (or at the end when `None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expectation {
    /// When to check.
    pub at: Option<Duration>,
    /// What to check.
    pub check: Check,
}

/// A loaded scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// Name (optional `name = "..."`).
    pub name: String,
    /// Network settings for `cellgate sim --scenario`.
    pub network: ScenarioNetwork,
    /// Programmed phones.
    pub phones: Vec<(String, PhoneBehaviour)>,
    /// The timeline, in file order (run in time order).
    pub steps: Vec<Step>,
    /// The expectations.
    pub expectations: Vec<Expectation>,
    /// Run length (`end = "..."`; default: 1 s after the last step or check).
    pub end: Option<Duration>,
}

/// Parses `"5s"`, `"250ms"`, `"1.5s"`, `"2m"`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
        Some(i) => s.split_at(i),
        None => (s, ""),
    };
    let v: f64 = num
        .parse()
        .map_err(|_| format!("bad duration {s:?} (e.g. \"5s\", \"250ms\", \"2m\")"))?;
    let secs = match unit {
        "ms" => v / 1000.0,
        "s" => v,
        "m" | "min" => v * 60.0,
        _ => return Err(format!("bad duration {s:?} (units ms, s, m)")),
    };
    if !secs.is_finite() || !(0.0..=1e9).contains(&secs) {
        return Err(format!("bad duration {s:?}"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Takes the `at` key out of a step/expectation table.
fn take_at(t: &mut toml::Table, what: &str) -> Result<Option<(String, Duration)>, String> {
    match t.remove("at") {
        None => Ok(None),
        Some(toml::Value::String(s)) => parse_duration(&s)
            .map(|d| Some((s, d)))
            .map_err(|e| format!("{what}: key `at`: {e}")),
        Some(_) => Err(format!("{what}: key `at` must be a string like \"5s\"")),
    }
}

fn tables(root: &mut toml::Table, key: &str) -> Result<Vec<toml::Table>, String> {
    match root.remove(key) {
        None => Ok(Vec::new()),
        Some(toml::Value::Array(items)) => items
            .into_iter()
            .enumerate()
            .map(|(i, v)| match v {
                toml::Value::Table(t) => Ok(t),
                _ => Err(format!("{key} {}: must be a table ([[{key}]])", i + 1)),
            })
            .collect(),
        Some(_) => Err(format!("`{key}` must be an array of tables ([[{key}]])")),
    }
}

fn phone_behaviour(p: &PhoneSpec, what: &str) -> Result<PhoneBehaviour, String> {
    let dur = |key: &str, v: &Option<String>| -> Result<Option<Duration>, String> {
        v.as_deref()
            .map(parse_duration)
            .transpose()
            .map_err(|e| format!("{what}: key `{key}`: {e}"))
    };
    let answer_after = dur("answer_after", &p.answer_after)?;
    let alert = crate::numbering::DEFAULT_ALERT_AFTER;
    let callee = match p.behaviour.as_deref().unwrap_or("answers") {
        "answers" => {
            let after = answer_after.unwrap_or(alert + crate::numbering::DEFAULT_ANSWER_AFTER);
            return finish(PhoneBehaviour::answers_after(after), p, what);
        }
        "busy" => CalleeBehaviour::Busy { after: alert },
        "rejects" => CalleeBehaviour::Rejects {
            alert_after: alert,
            reject_after: answer_after.unwrap_or(crate::numbering::DEFAULT_REJECT_AFTER),
        },
        "never_answers" => CalleeBehaviour::NeverAnswers {
            alert_after: alert,
            give_up_after: crate::numbering::DEFAULT_NO_ANSWER_AFTER,
        },
        "unreachable" => CalleeBehaviour::Unreachable { after: alert },
        other => {
            return Err(format!(
                "{what}: key `behaviour`: unknown {other:?} (answers, busy, rejects, \
                 never_answers, unreachable)"
            ))
        }
    };
    finish(PhoneBehaviour::with_callee(callee), p, what)
}

fn finish(mut b: PhoneBehaviour, p: &PhoneSpec, what: &str) -> Result<PhoneBehaviour, String> {
    if let Some(h) = &p.hang_up_after {
        b.hang_up_after =
            Some(parse_duration(h).map_err(|e| format!("{what}: key `hang_up_after`: {e}"))?);
    }
    for (i, d) in p.dtmf.iter().enumerate() {
        let at =
            parse_duration(&d.at).map_err(|e| format!("{what}: dtmf {}: key `at`: {e}", i + 1))?;
        b = b.send_dtmf(at, &d.digits);
    }
    if let Some(t) = &p.tone {
        b = b.play(PhoneSound::Tone {
            freq_hz: t.freq_hz,
            level: t.level,
        });
    }
    Ok(b)
}

fn fault(action: &Action) -> Result<Option<(u16, Fault)>, String> {
    let Action::Fault {
        line,
        kind,
        duration,
        count,
        cms,
        to,
        bytes,
    } = action
    else {
        return Ok(None);
    };
    let d = duration
        .as_deref()
        .map(parse_duration)
        .transpose()
        .map_err(|e| format!("key `duration`: {e}"))?;
    let f = match kind.as_str() {
        "unresponsive" => Fault::Unresponsive(d),
        "recover" => Fault::Recover,
        "garbage" => Fault::Garbage(
            bytes
                .as_deref()
                .unwrap_or("\u{ff}\u{fe}garbage\r\n")
                .as_bytes()
                .to_vec(),
        ),
        "reboot" => Fault::Reboot,
        "slow" => Fault::Slow(d.unwrap_or(Duration::from_secs(2))),
        "cme_busy" => Fault::CmeBusy(count.unwrap_or(1)),
        "cms_busy" => Fault::CmsBusy(count.unwrap_or(1)),
        "sim_removed" => Fault::SimRemoved,
        "sim_inserted" => Fault::SimInserted,
        "deregister" => Fault::Deregister,
        "reregister" => Fault::Reregister,
        "sms_send_failure" => Fault::SmsSendFailure {
            count: count.unwrap_or(1),
            cms: cms.unwrap_or(500),
        },
        "signal_fade" => Fault::SignalFade {
            to: to.unwrap_or(0).min(31),
            over: d.unwrap_or(Duration::from_secs(10)),
        },
        other => return Err(format!("key `kind`: unknown fault {other:?}")),
    };
    Ok(Some((*line, f)))
}

fn call_state(s: &str) -> Result<Option<CallState>, String> {
    Ok(Some(match s {
        "none" => return Ok(None),
        "dialing" => CallState::Dialing,
        "alerting" => CallState::Alerting,
        "active" => CallState::Active,
        "incoming" => CallState::Incoming,
        "held" => CallState::Held,
        "waiting" => CallState::Waiting,
        other => {
            return Err(format!(
                "key `state`: unknown {other:?} (none, dialing, alerting, active, incoming, \
                 held, waiting)"
            ))
        }
    }))
}

impl Scenario {
    /// Parses and validates a scenario. Errors name the section, its number and the key.
    pub fn from_toml(text: &str) -> Result<Scenario, ScenarioError> {
        Self::parse(text).map_err(ScenarioError::Invalid)
    }

    fn parse(text: &str) -> Result<Scenario, String> {
        let mut root: toml::Table = text.parse().map_err(|e: toml::de::Error| e.to_string())?;
        let name = match root.remove("name") {
            None => String::new(),
            Some(toml::Value::String(s)) => s,
            Some(_) => return Err("key `name` must be a string".into()),
        };
        let end = match root.remove("end") {
            None => None,
            Some(toml::Value::String(s)) => {
                Some(parse_duration(&s).map_err(|e| format!("key `end`: {e}"))?)
            }
            Some(_) => return Err("key `end` must be a string like \"30s\"".into()),
        };
        let network = match root.remove("network") {
            None => ScenarioNetwork::default(),
            Some(v) => ScenarioNetwork::deserialize(v).map_err(|e| format!("[network]: {e}"))?,
        };
        let mut phones = Vec::new();
        for (i, t) in tables(&mut root, "phone")?.into_iter().enumerate() {
            let what = format!("phone {}", i + 1);
            let spec = PhoneSpec::deserialize(toml::Value::Table(t))
                .map_err(|e| format!("{what}: {}", e.message()))?;
            phones.push((spec.number.clone(), phone_behaviour(&spec, &what)?));
        }
        let mut steps = Vec::new();
        for (i, mut t) in tables(&mut root, "step")?.into_iter().enumerate() {
            let what = format!("step {}", i + 1);
            let (_, at) = take_at(&mut t, &what)?.ok_or(format!("{what}: missing key `at`"))?;
            let action = Action::deserialize(toml::Value::Table(t))
                .map_err(|e| format!("{what}: {}", e.message()))?;
            fault(&action).map_err(|e| format!("{what}: {e}"))?;
            if let Action::Sms {
                encoding, validity, ..
            } = &action
            {
                if let Some(e) = encoding {
                    if !matches!(e.as_str(), "auto" | "gsm7" | "ucs2") {
                        return Err(format!(
                            "{what}: key `encoding`: unknown {e:?} (auto, gsm7, ucs2)"
                        ));
                    }
                }
                if let Some(v) = validity {
                    parse_duration(v).map_err(|e| format!("{what}: key `validity`: {e}"))?;
                }
            }
            steps.push(Step { at, action });
        }
        let mut expectations = Vec::new();
        for (i, mut t) in tables(&mut root, "expect")?.into_iter().enumerate() {
            let what = format!("expect {}", i + 1);
            let at = take_at(&mut t, &what)?.map(|(_, d)| d);
            let check = Check::deserialize(toml::Value::Table(t))
                .map_err(|e| format!("{what}: {}", e.message()))?;
            if let Check::CallState { state, .. } = &check {
                call_state(state).map_err(|e| format!("{what}: {e}"))?;
            }
            expectations.push(Expectation { at, check });
        }
        if let Some(key) = root.keys().next() {
            return Err(format!(
                "unknown key `{key}` (name, end, network, phone, step, expect)"
            ));
        }
        Ok(Scenario {
            name,
            network,
            phones,
            steps,
            expectations,
            end,
        })
    }

    /// When the run ends: `end`, else 1 s after the last step or timed check.
    pub fn duration(&self) -> Duration {
        self.end.unwrap_or_else(|| {
            let last = self
                .steps
                .iter()
                .map(|s| s.at)
                .chain(self.expectations.iter().filter_map(|e| e.at))
                .max()
                .unwrap_or_default();
            last + Duration::from_secs(1)
        })
    }

    /// Plays the scenario on `net` from now (virtual time under a paused clock): programs
    /// the phones, runs each step at its time, checks each expectation at its time and the
    /// untimed ones at the end. Returns the names of the checks that passed.
    pub async fn run(&self, net: &Network) -> Result<Vec<String>, ScenarioError> {
        let start = Instant::now();
        for (number, b) in &self.phones {
            net.set_phone(number, b.clone());
        }
        // Steps before checks at equal times; file order otherwise.
        let mut timeline: Vec<(Duration, u8, usize)> = self
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| (s.at, 0, i))
            .chain(
                self.expectations
                    .iter()
                    .enumerate()
                    .filter_map(|(i, e)| e.at.map(|t| (t, 1, i))),
            )
            .collect();
        timeline.sort();
        let mut failed = Vec::new();
        let mut passed = Vec::new();
        for (at, kind, i) in timeline {
            sleep_until(start + at).await;
            if kind == 0 {
                let step = &self.steps[i];
                self.run_step(net, step)
                    .map_err(|reason| ScenarioError::Step {
                        index: i + 1,
                        at: format!("{:?}", step.at),
                        action: step.action.name().to_owned(),
                        reason,
                    })?;
            } else {
                check(net, i, &self.expectations[i], &mut passed, &mut failed);
            }
        }
        sleep_until(start + self.duration()).await;
        for (i, e) in self.expectations.iter().enumerate() {
            if e.at.is_none() {
                check(net, i, e, &mut passed, &mut failed);
            }
        }
        if failed.is_empty() {
            Ok(passed)
        } else {
            Err(ScenarioError::Failed(failed))
        }
    }

    fn run_step(&self, net: &Network, step: &Step) -> Result<(), String> {
        let e = |e: crate::network::SimError| e.to_string();
        match &step.action {
            Action::Call {
                from,
                line,
                withheld,
            } => net.phone_calls_line_with(from, *line, *withheld).map_err(e),
            Action::Hangup { phone } => net.phone_hangs_up(phone).map_err(e),
            Action::Dtmf { phone, digits } => net.phone_sends_dtmf(phone, digits).map_err(e),
            Action::Sms {
                from,
                line,
                text,
                encoding,
                binary,
                ref8,
                ref16,
                validity,
            } => {
                let opts = SmsOptions {
                    encoding: match encoding.as_deref() {
                        Some("gsm7") => Encoding::Gsm7,
                        Some("ucs2") => Encoding::Ucs2,
                        _ => Encoding::Auto,
                    },
                    binary: *binary,
                    reference: ref16.map(ConcatRef::Sixteen).or(ref8.map(ConcatRef::Eight)),
                    validity: validity.as_deref().map(parse_duration).transpose()?,
                };
                net.phone_sends_sms_with(from, *line, text, &opts)
                    .map(|_| ())
                    .map_err(e)
            }
            a @ Action::Fault { .. } => match fault(a)? {
                Some((line, f)) => net.inject(line, f).map_err(e),
                None => Ok(()),
            },
            Action::Signal { line, rssi } => net.set_signal(*line, *rssi).map_err(e),
            Action::RemoveSim { line } => net.remove_sim(*line).map(|_| ()).map_err(e),
            Action::InsertSim { line } => net.insert_sim(*line, None).map_err(e),
            Action::AskPin2 { line } => net.ask_pin2(*line).map_err(e),
        }
    }
}

fn check(
    net: &Network,
    i: usize,
    e: &Expectation,
    passed: &mut Vec<String>,
    failed: &mut Vec<String>,
) {
    let when = e.at.map_or("end".to_owned(), |t| format!("{t:?}"));
    let what = format!("expect {} (at {when})", i + 1);
    let result: Result<String, String> = match &e.check {
        Check::SmscText { text, to } => {
            let texts = net.smsc_texts();
            if texts.iter().any(|t| {
                t.text == *text
                    && to
                        .as_deref()
                        .is_none_or(|to| crate::phone::same_number(&t.to, to))
            }) {
                Ok(format!("SMSC received {text:?}"))
            } else {
                let got: Vec<&str> = texts.iter().map(|t| t.text.as_str()).collect();
                Err(format!("SMSC did not receive {text:?} (got {got:?})"))
            }
        }
        Check::CallState { line, state } => {
            let want = call_state(state).ok().flatten();
            let got = net
                .calls()
                .iter()
                .find(|c| c.line == *line)
                .map(|c| c.state);
            if got == want {
                Ok(format!("line{line} call state {state}"))
            } else {
                Err(format!("line{line} call state: want {state}, got {got:?}"))
            }
        }
        Check::SimMessages { line, count } => {
            let got = net.sim(*line).map_or(0, |s| s.messages.len());
            if got == *count {
                Ok(format!("line{line} SIM holds {count} messages"))
            } else {
                Err(format!("line{line} SIM messages: want {count}, got {got}"))
            }
        }
        Check::Registration { line, stat } => {
            let got = net.registration(*line);
            if got == Some(*stat) {
                Ok(format!("line{line} registration {stat}"))
            } else {
                Err(format!("line{line} registration: want {stat}, got {got:?}"))
            }
        }
        Check::Event { contains } => {
            if net
                .event_log()
                .iter()
                .any(|l| l.contains(contains.as_str()))
            {
                Ok(format!("event {contains:?}"))
            } else {
                Err(format!("no event contains {contains:?}"))
            }
        }
    };
    match result {
        Ok(s) => passed.push(format!("{what}: {s}")),
        Err(s) => failed.push(format!("{what}: {s}")),
    }
}
