//! GSM release cause -> SIP final status (F-6.4.23).
//!
//! Defaults follow RFC 3398 §7.2.4.1 (ISUP cause to SIP status), which uses the same
//! Q.850 cause values as 3GPP TS 24.008. Operators can override single entries.

use std::collections::BTreeMap;

use cellgate_hal::ReleaseCause;

/// The table the gateway consults when a GSM call fails before it was answered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CauseMap {
    overrides: BTreeMap<u8, u16>,
}

impl CauseMap {
    /// A table with operator overrides on top of the RFC 3398 defaults.
    pub fn with_overrides(overrides: impl IntoIterator<Item = (u8, u16)>) -> Self {
        Self {
            overrides: overrides.into_iter().collect(),
        }
    }

    /// SIP status for a GSM release cause.
    pub fn sip_status(&self, cause: ReleaseCause) -> u16 {
        self.overrides
            .get(&cause.0)
            .copied()
            .unwrap_or_else(|| rfc3398_default(cause.0))
    }
}

/// RFC 3398 §7.2.4.1 default mapping; unknown causes map by class as the RFC says.
pub fn rfc3398_default(cause: u8) -> u16 {
    match cause {
        1 => 404,     // unallocated number
        2 | 3 => 404, // no route to network / destination
        16 => 480,    // normal clearing before answer: callee not available
        17 => 486,    // user busy
        18 => 408,    // no user responding
        19 => 480,    // no answer from user (user alerted)
        20 => 480,    // subscriber absent
        21 => 403,    // call rejected
        22 => 410,    // number changed
        23 => 410,    // redirection to new destination
        26 => 404,    // non-selected user clearing
        27 => 502,    // destination out of order
        28 => 484,    // address incomplete
        29 => 501,    // facility rejected
        31 => 480,    // normal, unspecified
        34 | 38 | 41 | 42 | 47 => 503,
        55 | 57 | 87 => 403,
        58 => 503,
        65 => 488,
        70 => 488,
        79 => 501,
        88 => 503,
        102 => 504,
        111 | 127 => 500,
        c if c < 32 => 480,
        c if c < 48 => 503,
        c if c < 64 => 503,
        c if c < 80 => 501,
        _ => 500,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_rfc3398_and_overrides_win() {
        let map = CauseMap::default();
        assert_eq!(map.sip_status(ReleaseCause::USER_BUSY), 486);
        assert_eq!(map.sip_status(ReleaseCause::UNASSIGNED_NUMBER), 404);
        assert_eq!(map.sip_status(ReleaseCause::NO_ANSWER), 480);
        assert_eq!(map.sip_status(ReleaseCause::NO_USER_RESPONDING), 408);
        assert_eq!(map.sip_status(ReleaseCause::NO_CIRCUIT), 503);
        let custom = CauseMap::with_overrides([(21, 603)]);
        assert_eq!(custom.sip_status(ReleaseCause::CALL_REJECTED), 603);
        assert_eq!(custom.sip_status(ReleaseCause::USER_BUSY), 486);
    }
}
