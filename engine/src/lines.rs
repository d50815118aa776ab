//! The gateway's lines: what the engine knows about each (the status model of manual
//! §5.2) and how an outbound call picks one (F-6.4.2 to F-6.4.4).

use std::time::Instant;

use cellgate_hal::LineId;

/// How a free line is chosen for a VoIP -> GSM call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LineSelection {
    /// Cycle through lines in line order (F-6.4.3).
    #[default]
    RoundRobin,
    /// Prefer the line with the fewest outbound calls since start (F-6.4.2).
    FewestCalls,
    /// Prefer the line with the least total talk time in its CDR (F-6.4.4).
    LeastTalkTime,
}

/// The call state a status page shows for a line (F-5.2.1.7).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum LineCallState {
    /// Free.
    #[default]
    Idle,
    /// Placing a call to this number.
    Dialing(String),
    /// The far end rings.
    Alerting,
    /// In conversation.
    Connected,
    /// Answered but not bridged yet: two-stage dialling or password entry.
    Active,
    /// An incoming GSM call is being forwarded to VoIP.
    Incoming,
}

impl std::fmt::Display for LineCallState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Idle => f.write_str("IDLE"),
            Self::Dialing(n) => write!(f, "DIALING {n}"),
            Self::Alerting => f.write_str("ALERTING"),
            Self::Connected => f.write_str("CONNECTED"),
            Self::Active => f.write_str("ACTIVE"),
            Self::Incoming => f.write_str("INCOMING"),
        }
    }
}

/// Radio facts the shell reports for the status pages (F-5.2.1.14 to 16, §5.2.3).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RadioInfo {
    /// `AT+CSQ` RSSI 0..31, 99 unknown.
    pub rssi: Option<u8>,
    /// Operator name.
    pub operator: Option<String>,
    /// BCCH (ARFCN) of the serving cell.
    pub bcch: Option<u32>,
    /// Location area code (F-5.2.3.10).
    pub lac: Option<u32>,
    /// Cell id (F-5.2.3.10).
    pub cell_id: Option<u32>,
    /// GPRS registration (F-5.2.3.5), when read.
    pub gprs_registered: Option<bool>,
    /// GPRS attach (F-5.2.3.6), when read.
    pub gprs_attached: Option<bool>,
}

/// What the engine knows about one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineState {
    /// Line id.
    pub id: LineId,
    /// The module is switched on (F-5.2.1.3, F-7.7.1).
    pub enabled: bool,
    /// The module is initialised and its SIM is ready.
    pub module_ready: bool,
    /// The module is registered on a GSM network.
    pub gsm_registered: bool,
    /// A call (or its clean-up) occupies the line.
    pub busy: bool,
    /// Outbound calls placed since start (F-6.4.2).
    pub outbound_calls: u64,
    /// Call state for the status page.
    pub call_state: LineCallState,
    /// The run policy disabled outbound calls (F-6.16.9; the red line number).
    pub outbound_disabled_by_policy: bool,
    /// The run policy disabled the line's VoIP (F-6.16.8).
    pub voip_disabled_by_policy: bool,
    /// The run policy turned the module off (F-6.16.10).
    pub module_off_by_policy: bool,
    /// The radio is off because the SIM's limit is used up and the module is not kept
    /// registered (F-6.10.2).
    pub radio_off_by_limits: bool,
    /// Total talk time in the CDR, in seconds (F-6.4.4 uses it).
    pub cdr_talk_seconds: u64,
    /// When the last call on the line ended (F-5.2.1.17).
    pub last_call_end: Option<Instant>,
    /// Radio facts for the status pages.
    pub radio: RadioInfo,
    /// Who the module and SIM are (§5.2.3 lower table), when read.
    pub identity: Option<cellgate_hal::ModemIdentity>,
    /// SIM state (F-5.2.1.4), when read.
    pub sim: Option<cellgate_hal::SimState>,
    /// The module's IMEI, when known (IMEI management compares against it).
    pub imei: Option<String>,
    /// The SIM's own number as the module reports it (`AT+CNUM`), when known.
    pub own_number: Option<String>,
    /// Forwarding settings applied to the SIM (by reason), for F-5.2.4.1.
    pub forwarding: Vec<cellgate_hal::CallForwarding>,
}

impl LineState {
    fn new(id: LineId) -> Self {
        Self {
            id,
            enabled: true,
            module_ready: false,
            gsm_registered: false,
            busy: false,
            outbound_calls: 0,
            call_state: LineCallState::Idle,
            outbound_disabled_by_policy: false,
            voip_disabled_by_policy: false,
            module_off_by_policy: false,
            radio_off_by_limits: false,
            cdr_talk_seconds: 0,
            last_call_end: None,
            radio: RadioInfo::default(),
            identity: None,
            sim: None,
            imei: None,
            own_number: None,
            forwarding: Vec::new(),
        }
    }

    /// Whether the line can carry a call now (module up, registered, free).
    pub fn available(&self) -> bool {
        self.enabled && self.module_ready && self.gsm_registered && !self.busy
    }

    /// Whether the run policy has taken the line out of outbound service (F-5.2.1.2).
    pub fn policy_blocked(&self) -> bool {
        self.outbound_disabled_by_policy
            || self.voip_disabled_by_policy
            || self.module_off_by_policy
    }
}

/// All lines, in line order.
#[derive(Debug, Clone)]
pub struct LineTable {
    lines: Vec<LineState>,
    selection: LineSelection,
    cursor: usize,
}

impl LineTable {
    /// Lines start not ready; the shell reports readiness as modules come up.
    pub fn new(ids: impl IntoIterator<Item = LineId>, selection: LineSelection) -> Self {
        let mut lines: Vec<LineState> = ids.into_iter().map(LineState::new).collect();
        lines.sort_by_key(|l| l.id);
        lines.dedup_by_key(|l| l.id);
        Self {
            lines,
            selection,
            cursor: 0,
        }
    }

    /// Read access for status pages.
    pub fn lines(&self) -> &[LineState] {
        &self.lines
    }

    /// One line.
    pub fn get(&self, id: LineId) -> Option<&LineState> {
        self.lines.iter().find(|l| l.id == id)
    }

    /// Mutable access to one line.
    pub fn get_mut(&mut self, id: LineId) -> Option<&mut LineState> {
        self.lines.iter_mut().find(|l| l.id == id)
    }

    /// Chooses any available line for an outbound call and marks it busy.
    pub fn take(&mut self) -> Option<LineId> {
        self.take_where(None, |_| true)
    }

    /// Chooses a line for an outbound call among those `eligible` accepts and marks it
    /// busy; `preferred` (call memory, F-6.6.2) wins when it is available and eligible.
    pub fn take_where(
        &mut self,
        preferred: Option<LineId>,
        eligible: impl Fn(&LineState) -> bool,
    ) -> Option<LineId> {
        let n = self.lines.len();
        let ok = |l: &LineState| l.available() && eligible(l);
        let preferred = preferred.and_then(|p| self.lines.iter().position(|l| l.id == p && ok(l)));
        let index = match preferred {
            Some(i) => Some(i),
            None => match self.selection {
                LineSelection::RoundRobin => (0..n)
                    .map(|k| (self.cursor + k) % n)
                    .find(|&i| ok(&self.lines[i])),
                LineSelection::FewestCalls => (0..n)
                    .filter(|&i| ok(&self.lines[i]))
                    .min_by_key(|&i| (self.lines[i].outbound_calls, i)),
                LineSelection::LeastTalkTime => (0..n)
                    .filter(|&i| ok(&self.lines[i]))
                    .min_by_key(|&i| (self.lines[i].cdr_talk_seconds, i)),
            },
        }?;
        self.cursor = (index + 1) % n.max(1);
        let line = &mut self.lines[index];
        line.busy = true;
        line.outbound_calls += 1;
        Some(line.id)
    }

    /// Marks a line free again.
    pub fn release(&mut self, id: LineId) {
        if let Some(line) = self.get_mut(id) {
            line.busy = false;
            line.call_state = LineCallState::Idle;
        }
    }

    /// Sets the status-page call state of a line.
    pub fn set_call_state(&mut self, id: LineId, state: LineCallState) {
        if let Some(line) = self.get_mut(id) {
            line.call_state = state;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ready(table: &mut LineTable) {
        for l in &mut table.lines {
            l.module_ready = true;
            l.gsm_registered = true;
        }
    }

    #[test]
    fn round_robin_cycles_and_skips_busy_and_unregistered() {
        let mut t = LineTable::new((1..=3).map(LineId), LineSelection::RoundRobin);
        assert_eq!(t.take(), None, "no line is ready yet");
        ready(&mut t);
        t.get_mut(LineId(2)).unwrap().gsm_registered = false;
        assert_eq!(t.take(), Some(LineId(1)));
        assert_eq!(t.take(), Some(LineId(3)));
        assert_eq!(t.take(), None);
        t.release(LineId(1));
        assert_eq!(t.take(), Some(LineId(1)));
    }

    #[test]
    fn fewest_calls_prefers_least_used_line() {
        let mut t = LineTable::new((1..=2).map(LineId), LineSelection::FewestCalls);
        ready(&mut t);
        assert_eq!(t.take(), Some(LineId(1)));
        t.release(LineId(1));
        assert_eq!(t.take(), Some(LineId(2)));
        t.release(LineId(2));
        assert_eq!(t.take(), Some(LineId(1)));
    }

    #[test]
    fn least_talk_time_prefers_the_line_with_least_cdr_time_f_6_4_4() {
        let mut t = LineTable::new((1..=3).map(LineId), LineSelection::LeastTalkTime);
        ready(&mut t);
        t.get_mut(LineId(1)).unwrap().cdr_talk_seconds = 300;
        t.get_mut(LineId(2)).unwrap().cdr_talk_seconds = 20;
        t.get_mut(LineId(3)).unwrap().cdr_talk_seconds = 100;
        assert_eq!(t.take(), Some(LineId(2)));
        assert_eq!(t.take(), Some(LineId(3)), "line 2 is busy now");
    }

    #[test]
    fn preferred_line_wins_only_when_available_and_eligible_f_6_6_2() {
        let mut t = LineTable::new((1..=3).map(LineId), LineSelection::RoundRobin);
        ready(&mut t);
        assert_eq!(t.take_where(Some(LineId(3)), |_| true), Some(LineId(3)));
        assert_eq!(
            t.take_where(Some(LineId(3)), |l| l.id != LineId(1)),
            Some(LineId(2)),
            "line 3 busy: normal selection among eligible lines"
        );
        assert_eq!(t.take_where(None, |l| l.id == LineId(3)), None);
    }

    #[test]
    fn disabled_module_is_not_available_f_5_2_1_3() {
        let mut t = LineTable::new([LineId(1)], LineSelection::RoundRobin);
        ready(&mut t);
        t.get_mut(LineId(1)).unwrap().enabled = false;
        assert_eq!(t.take(), None);
    }

    #[test]
    fn call_state_text_matches_the_status_page_f_5_2_1_7() {
        assert_eq!(LineCallState::Idle.to_string(), "IDLE");
        assert_eq!(
            LineCallState::Dialing("13800138000".into()).to_string(),
            "DIALING 13800138000"
        );
        assert_eq!(LineCallState::Active.to_string(), "ACTIVE");
    }
}
