//! Virtual-time helpers. Everything in the simulator runs on the tokio clock so tests under
//! `start_paused = true` are deterministic; this module only turns instants into the
//! stable timestamps used in the event log.

use std::time::Duration;

use tokio::time::Instant;

/// The network's time origin: timestamps in the event log are relative to it, so two runs of
/// the same scenario print the same log.
#[derive(Debug, Clone, Copy)]
pub struct SimClock {
    origin: Instant,
}

impl SimClock {
    /// Starts a clock at the current (virtual) tokio instant.
    pub fn start() -> Self {
        Self {
            origin: Instant::now(),
        }
    }

    /// Time since the clock started.
    pub fn elapsed(&self) -> Duration {
        Instant::now().saturating_duration_since(self.origin)
    }

    /// The current time as a fixed-width log stamp, e.g. `"   1.000s"`.
    pub fn stamp(&self) -> String {
        format_stamp(self.elapsed())
    }
}

/// Formats a duration as seconds with millisecond precision, right-aligned so log columns
/// line up (`"   1.000s"`, `"  61.250s"`). Integer arithmetic only, so output never
/// depends on float formatting.
pub fn format_stamp(d: Duration) -> String {
    let ms = d.as_millis();
    format!("{:>4}.{:03}s", ms / 1000, ms % 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_are_fixed_width() {
        assert_eq!(format_stamp(Duration::from_millis(1000)), "   1.000s");
        assert_eq!(format_stamp(Duration::from_millis(61_250)), "  61.250s");
        assert_eq!(format_stamp(Duration::ZERO), "   0.000s");
    }
}
