//! The network's local time (F-5.2.0.6): time limits, monthly windows and daily
//! schedules need the civil time, which the core cannot read itself. The shell reports
//! it (from the system clock and the configured zone, or the module's network time) as
//! an anchor: the local time at one instant; later instants add their offset.

use std::time::{Duration, Instant};

use time::PrimitiveDateTime;

/// Local time at an instant, when known.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct NetworkClock {
    anchor: Option<(Instant, PrimitiveDateTime, i64)>,
}

impl NetworkClock {
    /// Sets the anchor: at `at` the local time was `local` and the Unix time `unix`.
    pub fn set(&mut self, at: Instant, local: Option<PrimitiveDateTime>, unix: i64) {
        self.anchor = local.map(|l| (at, l, unix));
    }

    /// Local time at `now`; `None` without network time.
    pub fn local(&self, now: Instant) -> Option<PrimitiveDateTime> {
        let (at, local, _) = self.anchor?;
        let delta = now.saturating_duration_since(at);
        local.checked_add(time::Duration::try_from(delta).ok()?)
    }

    /// Unix seconds at `now` (0-based from the anchor; 0 without network time).
    pub fn unix(&self, now: Instant) -> i64 {
        match self.anchor {
            Some((at, _, unix)) => {
                let delta = now.saturating_duration_since(at);
                let back = at.saturating_duration_since(now);
                unix + secs(delta) - secs(back)
            }
            None => 0,
        }
    }
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}
