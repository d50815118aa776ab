//! SIM cards: the subscriber identity a modem reports (`AT+QCCID`, `AT+CIMI`, `AT+CNUM`).

use crate::luhn;

/// A SIM in a gateway slot. Later versions add PIN/PUK state and SMS storage; the identity
/// strings are what gateways use to recognise a line after USB renumbering.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimCard {
    /// Integrated circuit card id, 20 digits with a Luhn check digit (`AT+QCCID`).
    pub iccid: String,
    /// International mobile subscriber identity, 15 digits (`AT+CIMI`).
    pub imsi: String,
    /// The SIM's own phone number (`AT+CNUM`), 11 digits, national format.
    pub msisdn: String,
}

impl SimCard {
    /// A deterministic, plausible SIM for a gateway line, so tests can predict identities:
    /// ICCID `898600…` (20 digits, Luhn-valid), IMSI `46000…` (15 digits) and MSISDN
    /// `1380000<line:04>` (11 digits; line 1 -> `13800000001`).
    pub fn for_line(line: u16) -> SimCard {
        SimCard {
            iccid: luhn::complete(&format!("898600{:013}", 1_000_000 + u64::from(line))),
            imsi: format!("46000{:010}", 1_234_500_000 + u64::from(line)),
            msisdn: format!("1380000{:04}", line),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn for_line_is_plausible() {
        let sim = SimCard::for_line(1);
        assert_eq!(sim.iccid.len(), 20);
        assert!(sim.iccid.starts_with("89860"));
        assert!(luhn::is_valid(&sim.iccid));
        assert_eq!(sim.imsi.len(), 15);
        assert!(sim.imsi.starts_with("46000"));
        assert_eq!(sim.msisdn, "13800000001");
        assert_ne!(SimCard::for_line(2), sim);
    }
}
