//! 3GPP TS 24.008 release causes: the declarative table behind `AT+CEER` and the event log.

use cellgate_hal::ReleaseCause;

/// Cause reported by `AT+CEER` before any call has ended.
pub const NO_CAUSE: ReleaseCause = ReleaseCause(0);
/// Cause 28 (invalid number format), used for an empty dial string.
pub const INVALID_NUMBER_FORMAT: ReleaseCause = ReleaseCause(28);
/// Cause 88 (incompatible destination), used for a data call (`ATD` without `;`).
pub const INCOMPATIBLE_DESTINATION: ReleaseCause = ReleaseCause(88);

/// Text for the causes the simulator produces (and the common ones around them).
const CAUSE_TEXTS: &[(u8, &str)] = &[
    (0, "No cause information available"),
    (1, "Unassigned (unallocated) number"),
    (16, "Normal call clearing"),
    (17, "User busy"),
    (18, "No user responding"),
    (19, "User alerting, no answer"),
    (20, "Subscriber absent"),
    (21, "Call rejected"),
    (27, "Destination out of order"),
    (28, "Invalid number format (incomplete number)"),
    (31, "Normal, unspecified"),
    (34, "No circuit/channel available"),
    (38, "Network out of order"),
    (41, "Temporary failure"),
    (88, "Incompatible destination"),
];

/// Human-readable text of a release cause, as `AT+CEER` and the event log print it.
pub fn cause_text(cause: ReleaseCause) -> &'static str {
    CAUSE_TEXTS
        .iter()
        .find(|(n, _)| *n == cause.0)
        .map(|(_, t)| *t)
        .unwrap_or("Unspecified cause")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_and_unknown_causes() {
        assert_eq!(cause_text(ReleaseCause::USER_BUSY), "User busy");
        assert_eq!(cause_text(ReleaseCause(200)), "Unspecified cause");
    }
}
