//! The gateway's lines and how an outbound call picks one (F-6.4.2, F-6.4.3).

use cellgate_hal::LineId;

/// How a free line is chosen for a VoIP -> GSM call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LineSelection {
    /// Cycle through lines in line order (F-6.4.3).
    #[default]
    RoundRobin,
    /// Prefer the line with the fewest outbound calls since start (F-6.4.2).
    FewestCalls,
}

/// What the engine knows about one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineState {
    /// Line id.
    pub id: LineId,
    /// The module is initialised and its SIM is ready.
    pub module_ready: bool,
    /// The module is registered on a GSM network.
    pub gsm_registered: bool,
    /// A call (or its clean-up) occupies the line.
    pub busy: bool,
    /// Outbound calls placed since start.
    pub outbound_calls: u64,
}

impl LineState {
    fn available(&self) -> bool {
        self.module_ready && self.gsm_registered && !self.busy
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
        let mut lines: Vec<LineState> = ids
            .into_iter()
            .map(|id| LineState {
                id,
                module_ready: false,
                gsm_registered: false,
                busy: false,
                outbound_calls: 0,
            })
            .collect();
        lines.sort_by_key(|l| l.id);
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

    /// Mutable access to one line.
    pub fn get_mut(&mut self, id: LineId) -> Option<&mut LineState> {
        self.lines.iter_mut().find(|l| l.id == id)
    }

    /// Chooses a line for an outbound call and marks it busy, or `None` when none is free.
    pub fn take(&mut self) -> Option<LineId> {
        let n = self.lines.len();
        let index = match self.selection {
            LineSelection::RoundRobin => (0..n)
                .map(|k| (self.cursor + k) % n)
                .find(|&i| self.lines[i].available()),
            LineSelection::FewestCalls => (0..n)
                .filter(|&i| self.lines[i].available())
                .min_by_key(|&i| (self.lines[i].outbound_calls, i)),
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
}
