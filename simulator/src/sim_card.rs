//! SIM cards: the subscriber identity a modem reports (`AT+QCCID`, `AT+CIMI`, `AT+CNUM`),
//! the secrets and retry counters behind `AT+CPIN` / `AT+CLCK` / `AT+CPWD` (PIN 1 / PUK
//! and PIN2 / PUK2, the fixed dialling lock that PIN2 guards), the SMS store
//! (`AT+CMGL` ...), the SMSC address, call-forwarding and call-waiting subscriptions and
//! the prepaid balance USSD reports.
//!
//! The card is data plus small pure state machines; the network owns the card in a slot
//! and the modem reaches it through the network, so a card keeps its messages and
//! counters when it is removed and inserted again.

use std::collections::BTreeMap;

use crate::luhn;

/// PIN tries before the card asks for the PUK.
pub const PIN_TRIES: u8 = 3;
/// PUK tries before the card is blocked for good.
pub const PUK_TRIES: u8 = 10;
/// PIN2 tries before the card asks for the PUK2 (CHV2 blocked).
pub const PIN2_TRIES: u8 = 3;
/// PUK2 tries before PIN2 is blocked for good.
pub const PUK2_TRIES: u8 = 10;
/// Default SMS capacity of a simulated card (`AT+CPMS` total).
pub const DEFAULT_SMS_CAPACITY: usize = 30;

/// Where the card's lock stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimLock {
    /// Unlocked (or no PIN set): `+CPIN: READY`.
    Ready,
    /// The PIN is needed: `+CPIN: SIM PIN`.
    PinRequired,
    /// The PIN was wrong three times: `+CPIN: SIM PUK`.
    PukRequired,
    /// The PUK was wrong ten times: the card is dead (`+CPIN: SIM ERROR` ... CME 13).
    Blocked,
}

/// What a message slot holds, as `AT+CMGL` numbers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SmsStatus {
    /// 0, `"REC UNREAD"`.
    ReceivedUnread,
    /// 1, `"REC READ"`.
    ReceivedRead,
    /// 2, `"STO UNSENT"`.
    StoredUnsent,
    /// 3, `"STO SENT"`.
    StoredSent,
}

impl SmsStatus {
    /// The PDU-mode number.
    pub fn code(self) -> u8 {
        match self {
            SmsStatus::ReceivedUnread => 0,
            SmsStatus::ReceivedRead => 1,
            SmsStatus::StoredUnsent => 2,
            SmsStatus::StoredSent => 3,
        }
    }

    /// The text-mode name.
    pub fn text(self) -> &'static str {
        match self {
            SmsStatus::ReceivedUnread => "REC UNREAD",
            SmsStatus::ReceivedRead => "REC READ",
            SmsStatus::StoredUnsent => "STO UNSENT",
            SmsStatus::StoredSent => "STO SENT",
        }
    }

    /// From the PDU-mode number.
    pub fn from_code(c: u8) -> Option<SmsStatus> {
        match c {
            0 => Some(SmsStatus::ReceivedUnread),
            1 => Some(SmsStatus::ReceivedRead),
            2 => Some(SmsStatus::StoredUnsent),
            3 => Some(SmsStatus::StoredSent),
            _ => None,
        }
    }

    /// From the text-mode name (case-insensitive).
    pub fn from_text(t: &str) -> Option<SmsStatus> {
        [
            SmsStatus::ReceivedUnread,
            SmsStatus::ReceivedRead,
            SmsStatus::StoredUnsent,
            SmsStatus::StoredSent,
        ]
        .into_iter()
        .find(|s| s.text().eq_ignore_ascii_case(t))
    }
}

/// One stored message: its status and its TPDU (DELIVER, SUBMIT or STATUS-REPORT octets,
/// without the SMSC address).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSms {
    /// Read / unread / sent / unsent.
    pub status: SmsStatus,
    /// The TPDU octets.
    pub tpdu: Vec<u8>,
}

/// A SIM in a gateway slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimCard {
    /// Integrated circuit card id, 20 digits with a Luhn check digit (`AT+QCCID`).
    pub iccid: String,
    /// International mobile subscriber identity, 15 digits (`AT+CIMI`); its first five
    /// digits name the home operator.
    pub imsi: String,
    /// The SIM's own phone number (`AT+CNUM`, USSD own-number query), national format.
    pub msisdn: String,
    /// The PIN (4-8 digits).
    pub pin: String,
    /// The PUK (8 digits).
    pub puk: String,
    /// Whether the PIN is asked at power-on (`AT+CLCK="SC"`).
    pub pin_enabled: bool,
    /// PIN tries left.
    pub pin_tries: u8,
    /// PUK tries left.
    pub puk_tries: u8,
    /// Lock state; starts as [`SimLock::PinRequired`] at power-on when the PIN is enabled.
    pub lock: SimLock,
    /// The service centre address (`AT+CSCA`), international.
    pub smsc: String,
    /// Message slots (`AT+CPMS` total).
    pub sms_capacity: usize,
    /// Stored messages by index (1-based, as `+CMTI` reports).
    pub messages: BTreeMap<usize, StoredSms>,
    /// Prepaid balance in hundredths of the operator's currency (USSD `*100#`).
    pub balance_cents: i64,
    /// Call forwarding per reason (0 unconditional, 1 busy, 2 no reply, 3 not reachable):
    /// the number calls are diverted to.
    pub forwarding: BTreeMap<u8, String>,
    /// No-reply time for reason 2, seconds.
    pub no_reply_secs: u8,
    /// Call waiting subscribed and active (`AT+CCWA`).
    pub call_waiting: bool,
    /// PIN2 (CHV2, 4-8 digits): guards the fixed dialling lock and the FDN phonebook.
    pub pin2: String,
    /// PUK2 (8 digits): unblocks PIN2.
    pub puk2: String,
    /// PIN2 tries left; at 0 the card wants the PUK2.
    pub pin2_tries: u8,
    /// PUK2 tries left; at 0 PIN2 is blocked for good.
    pub puk2_tries: u8,
    /// The last operation needed PIN2 and did not get it: with PIN 1 done, `AT+CPIN?`
    /// answers `SIM PIN2` (or `SIM PUK2` with no PIN2 try left) until PIN2 is entered.
    pub pin2_asked: bool,
    /// Fixed dialling (FDN) lock on (`AT+CLCK="FD"`).
    pub fixed_dialing: bool,
}

impl SimCard {
    /// A deterministic, plausible SIM for a gateway line, so tests can predict identities:
    /// ICCID `898600…` (20 digits, Luhn-valid), IMSI `46000…` (15 digits) and MSISDN
    /// `1380000<line:04>` (11 digits; line 1 -> `13800000001`); PIN `1234` (disabled),
    /// PUK `12345678`, PIN2 `5678`, PUK2 `87654321`, fixed dialling off, SMSC
    /// `+8613800100500`, 30 message slots, balance 50.00.
    pub fn for_line(line: u16) -> SimCard {
        SimCard {
            iccid: luhn::complete(&format!("898600{:013}", 1_000_000 + u64::from(line))),
            imsi: format!("46000{:010}", 1_234_500_000 + u64::from(line)),
            msisdn: format!("1380000{:04}", line),
            pin: "1234".into(),
            puk: "12345678".into(),
            pin_enabled: false,
            pin_tries: PIN_TRIES,
            puk_tries: PUK_TRIES,
            lock: SimLock::Ready,
            smsc: "+8613800100500".into(),
            sms_capacity: DEFAULT_SMS_CAPACITY,
            messages: BTreeMap::new(),
            balance_cents: 5000,
            forwarding: BTreeMap::new(),
            no_reply_secs: 20,
            call_waiting: true,
            pin2: "5678".into(),
            puk2: "87654321".into(),
            pin2_tries: PIN2_TRIES,
            puk2_tries: PUK2_TRIES,
            pin2_asked: false,
            fixed_dialing: false,
        }
    }

    /// The card with its PIN enabled (asked at power-on).
    pub fn with_pin(mut self, pin: &str) -> SimCard {
        self.pin = pin.to_owned();
        self.pin_enabled = true;
        self.lock = SimLock::PinRequired;
        self
    }

    /// MCC+MNC of the home operator (first five IMSI digits).
    pub fn home_operator(&self) -> &str {
        self.imsi.get(..5).unwrap_or("")
    }

    /// Power-on: the card asks for the PIN again if it is enabled (a PUK or blocked state
    /// survives).
    pub fn power_on(&mut self) {
        if self.lock == SimLock::Ready && self.pin_enabled {
            self.lock = SimLock::PinRequired;
        }
        // A pending PIN2 request belonged to the operation before the power cycle.
        self.pin2_asked = false;
    }

    /// `+CPIN: <state>` text.
    pub fn cpin_text(&self) -> &'static str {
        match self.lock {
            SimLock::Ready if self.pin2_asked && self.pin2_tries == 0 => "SIM PUK2",
            SimLock::Ready if self.pin2_asked => "SIM PIN2",
            SimLock::Ready => "READY",
            SimLock::PinRequired => "SIM PIN",
            SimLock::PukRequired => "SIM PUK",
            SimLock::Blocked => "SIM ERROR",
        }
    }

    /// `AT+CPIN=<pin>`: `Ok` when unlocked; `Err(cme)` otherwise (16 wrong PIN, 12 PUK
    /// now required, 3 nothing asked). With PIN 1 done and PIN2 asked, the code is the
    /// PIN2 ([`SimCard::enter_pin2`]).
    pub fn enter_pin(&mut self, pin: &str) -> Result<(), u16> {
        if self.lock == SimLock::Ready && self.pin2_asked {
            return self.enter_pin2(pin);
        }
        match self.lock {
            SimLock::PinRequired => {
                if pin == self.pin {
                    self.pin_tries = PIN_TRIES;
                    self.lock = SimLock::Ready;
                    Ok(())
                } else {
                    self.pin_tries = self.pin_tries.saturating_sub(1);
                    if self.pin_tries == 0 {
                        self.lock = SimLock::PukRequired;
                        Err(12)
                    } else {
                        Err(16)
                    }
                }
            }
            SimLock::PukRequired => Err(12),
            SimLock::Blocked => Err(13),
            SimLock::Ready => Err(3),
        }
    }

    /// `AT+CPIN=<puk>,<newpin>`: unblocks and sets the new PIN (with PIN 1 done and the
    /// PUK2 asked: the PUK2 and a new PIN2).
    pub fn enter_puk(&mut self, puk: &str, new_pin: &str) -> Result<(), u16> {
        if self.lock == SimLock::Ready && self.pin2_asked {
            return self.enter_puk2(puk, new_pin);
        }
        match self.lock {
            SimLock::PukRequired => {
                if !valid_pin(new_pin) {
                    return Err(3);
                }
                if puk == self.puk {
                    self.puk_tries = PUK_TRIES;
                    self.pin_tries = PIN_TRIES;
                    self.pin = new_pin.to_owned();
                    self.lock = SimLock::Ready;
                    Ok(())
                } else {
                    self.puk_tries = self.puk_tries.saturating_sub(1);
                    if self.puk_tries == 0 {
                        self.lock = SimLock::Blocked;
                        Err(13)
                    } else {
                        Err(16)
                    }
                }
            }
            // With a PIN pending, `<pin>,<newpin>` is accepted by modules as PIN + change.
            SimLock::PinRequired => {
                let old = puk;
                self.enter_pin(old)?;
                if valid_pin(new_pin) {
                    self.pin = new_pin.to_owned();
                }
                Ok(())
            }
            SimLock::Blocked => Err(13),
            SimLock::Ready => Err(3),
        }
    }

    /// Checks the PIN for `AT+CLCK` / `AT+CPWD` (counts a wrong try like `AT+CPIN`).
    pub fn check_pin(&mut self, pin: &str) -> Result<(), u16> {
        if self.lock != SimLock::Ready {
            return Err(match self.lock {
                SimLock::PukRequired => 12,
                SimLock::Blocked => 13,
                _ => 11,
            });
        }
        if pin == self.pin {
            self.pin_tries = PIN_TRIES;
            Ok(())
        } else {
            self.pin_tries = self.pin_tries.saturating_sub(1);
            if self.pin_tries == 0 {
                self.lock = SimLock::PukRequired;
            }
            Err(16)
        }
    }

    /// `AT+CPWD="SC",<old>,<new>`.
    pub fn change_pin(&mut self, old: &str, new: &str) -> Result<(), u16> {
        if !valid_pin(new) {
            return Err(3);
        }
        self.check_pin(old)?;
        self.pin = new.to_owned();
        Ok(())
    }

    /// `AT+CPIN=<pin2>` while the card asks for PIN2: `Ok` clears the request; `Err(cme)`
    /// otherwise (16 wrong PIN2, 18 PUK2 now required, 3 nothing asked).
    pub fn enter_pin2(&mut self, pin2: &str) -> Result<(), u16> {
        if self.lock != SimLock::Ready || !self.pin2_asked {
            return Err(3);
        }
        self.check_pin2(pin2)?;
        self.pin2_asked = false;
        Ok(())
    }

    /// `AT+CPIN=<puk2>,<newpin2>` while the card asks for the PUK2: unblocks PIN2 and
    /// sets the new one (16 wrong PUK2; PIN2 blocked for good after ten: 18 from then on).
    pub fn enter_puk2(&mut self, puk2: &str, new_pin2: &str) -> Result<(), u16> {
        if self.lock != SimLock::Ready || !self.pin2_asked {
            return Err(3);
        }
        if self.pin2_tries > 0 {
            // PIN2 is asked, not the PUK2: `<pin2>,<newpin2>` enters and changes it.
            self.check_pin2(puk2)?;
            if valid_pin(new_pin2) {
                self.pin2 = new_pin2.to_owned();
            }
            self.pin2_asked = false;
            return Ok(());
        }
        if !valid_pin(new_pin2) {
            return Err(3);
        }
        if self.puk2_tries == 0 {
            return Err(18);
        }
        if puk2 == self.puk2 {
            self.puk2_tries = PUK2_TRIES;
            self.pin2_tries = PIN2_TRIES;
            self.pin2 = new_pin2.to_owned();
            self.pin2_asked = false;
            Ok(())
        } else {
            self.puk2_tries = self.puk2_tries.saturating_sub(1);
            Err(if self.puk2_tries == 0 { 18 } else { 16 })
        }
    }

    /// Checks PIN2 for `AT+CPIN`, `AT+CLCK="FD"` and `AT+CPWD="P2"`: a wrong one costs a
    /// try (16), the third in a row blocks PIN2 (18, and the card asks for the PUK2); a
    /// right one restores the tries. PIN 1 must be done first (11 / 12 / 13 otherwise).
    pub fn check_pin2(&mut self, pin2: &str) -> Result<(), u16> {
        match self.lock {
            SimLock::Ready => {}
            SimLock::PinRequired => return Err(11),
            SimLock::PukRequired => return Err(12),
            SimLock::Blocked => return Err(13),
        }
        if self.pin2_tries == 0 {
            self.pin2_asked = true;
            return Err(18);
        }
        if pin2 == self.pin2 {
            self.pin2_tries = PIN2_TRIES;
            return Ok(());
        }
        self.pin2_tries -= 1;
        if self.pin2_tries == 0 {
            self.pin2_asked = true;
            Err(18)
        } else {
            Err(16)
        }
    }

    /// `AT+CLCK="FD",<0|1>,<pin2>`: fixed dialling off or on. Without a password the card
    /// asks for PIN2 (17).
    pub fn set_fixed_dialing(&mut self, enabled: bool, pin2: Option<&str>) -> Result<(), u16> {
        let Some(pin2) = pin2.filter(|p| !p.is_empty()) else {
            if self.lock == SimLock::Ready {
                self.pin2_asked = true;
                return Err(if self.pin2_tries == 0 { 18 } else { 17 });
            }
            return Err(11);
        };
        self.check_pin2(pin2)?;
        self.pin2_asked = false;
        self.fixed_dialing = enabled;
        Ok(())
    }

    /// `AT+CPWD="P2",<old>,<new>`.
    pub fn change_pin2(&mut self, old: &str, new: &str) -> Result<(), u16> {
        if !valid_pin(new) {
            return Err(3);
        }
        self.check_pin2(old)?;
        self.pin2 = new.to_owned();
        self.pin2_asked = false;
        Ok(())
    }

    /// Stores a message in the first free slot; `None` when the card is full.
    pub fn store(&mut self, sms: StoredSms) -> Option<usize> {
        let index = (1..=self.sms_capacity).find(|i| !self.messages.contains_key(i))?;
        self.messages.insert(index, sms);
        Some(index)
    }

    /// Whether every slot is used.
    pub fn is_full(&self) -> bool {
        self.messages.len() >= self.sms_capacity
    }
}

/// A PIN is 4 to 8 digits.
pub fn valid_pin(pin: &str) -> bool {
    (4..=8).contains(&pin.len()) && pin.bytes().all(|b| b.is_ascii_digit())
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
        assert_eq!(sim.home_operator(), "46000");
        assert_ne!(SimCard::for_line(2), sim);
    }

    #[test]
    fn pin_then_puk_then_blocked() {
        let mut sim = SimCard::for_line(1).with_pin("1111");
        assert_eq!(sim.enter_pin("0000"), Err(16));
        assert_eq!(sim.enter_pin("0000"), Err(16));
        assert_eq!(sim.pin_tries, 1);
        assert_eq!(sim.enter_pin("0000"), Err(12));
        assert_eq!(sim.lock, SimLock::PukRequired);
        assert_eq!(sim.enter_pin("1111"), Err(12));
        assert_eq!(sim.enter_puk("12345678", "4321"), Ok(()));
        assert_eq!(sim.lock, SimLock::Ready);
        assert_eq!(sim.pin, "4321");
        sim.lock = SimLock::PukRequired;
        for _ in 0..9 {
            assert_eq!(sim.enter_puk("00000000", "1111"), Err(16));
        }
        assert_eq!(sim.enter_puk("00000000", "1111"), Err(13));
        assert_eq!(sim.lock, SimLock::Blocked);
    }

    #[test]
    fn pin2_then_puk2_and_the_fixed_dialing_lock() {
        let mut sim = SimCard::for_line(1);
        assert_eq!(sim.cpin_text(), "READY");
        // No password: the card asks for PIN2.
        assert_eq!(sim.set_fixed_dialing(true, None), Err(17));
        assert_eq!(sim.cpin_text(), "SIM PIN2");
        assert_eq!(sim.enter_pin("0000"), Err(16), "AT+CPIN takes it as PIN2");
        assert_eq!(sim.pin2_tries, 2);
        assert_eq!(sim.pin_tries, PIN_TRIES, "PIN 1 untouched");
        assert_eq!(sim.enter_pin("5678"), Ok(()));
        assert_eq!((sim.pin2_tries, sim.cpin_text()), (3, "READY"));
        assert_eq!(sim.set_fixed_dialing(true, Some("5678")), Ok(()));
        assert!(sim.fixed_dialing);
        // Three wrong PIN2s block it; the lock is unchanged.
        assert_eq!(sim.set_fixed_dialing(false, Some("1111")), Err(16));
        assert_eq!(sim.set_fixed_dialing(false, Some("1111")), Err(16));
        assert_eq!(sim.set_fixed_dialing(false, Some("1111")), Err(18));
        assert!(sim.fixed_dialing);
        assert_eq!(sim.cpin_text(), "SIM PUK2");
        assert_eq!(sim.set_fixed_dialing(false, Some("5678")), Err(18));
        assert_eq!(sim.enter_puk("00000000", "4444"), Err(16));
        assert_eq!(sim.puk2_tries, PUK2_TRIES - 1);
        assert_eq!(sim.enter_puk("87654321", "4444"), Ok(()));
        assert_eq!((sim.pin2.as_str(), sim.pin2_tries), ("4444", 3));
        assert_eq!(sim.cpin_text(), "READY");
        assert_eq!(sim.change_pin2("4444", "2468"), Ok(()));
        assert_eq!(sim.set_fixed_dialing(false, Some("2468")), Ok(()));
        assert!(!sim.fixed_dialing);
        // A power cycle forgets the request, not the counters.
        sim.pin2_asked = true;
        sim.pin2_tries = 2;
        sim.power_on();
        assert_eq!((sim.cpin_text(), sim.pin2_tries), ("READY", 2));
    }

    #[test]
    fn store_fills_up() {
        let mut sim = SimCard::for_line(1);
        sim.sms_capacity = 2;
        let m = StoredSms {
            status: SmsStatus::ReceivedUnread,
            tpdu: vec![0],
        };
        assert_eq!(sim.store(m.clone()), Some(1));
        assert_eq!(sim.store(m.clone()), Some(2));
        assert!(sim.is_full());
        assert_eq!(sim.store(m.clone()), None);
        sim.messages.remove(&1);
        assert_eq!(sim.store(m), Some(1));
    }
}
