//! Operators and cells — the declarative part of the radio network: names and codes behind
//! `AT+COPS`, cells behind `AT+CREG` / `AT+QENG` / `AT+QNWINFO`, and each operator's USSD
//! menu (`*100#` balance, own-number query, multi-step menus, a code that times out).

use std::time::Duration;

/// An operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    /// Long alphanumeric name (`AT+COPS=3,0`).
    pub long_name: String,
    /// Short alphanumeric name (`AT+COPS=3,1`).
    pub short_name: String,
    /// Mobile country code.
    pub mcc: u16,
    /// Mobile network code, 2 or 3 digits as written.
    pub mnc: String,
    /// Currency USSD balance texts use.
    pub currency: String,
    /// The USSD service menu.
    pub ussd: UssdMenu,
}

impl Operator {
    /// MCC+MNC, e.g. `46000` (`AT+COPS=3,2`, IMSI prefix).
    pub fn numeric(&self) -> String {
        format!("{:03}{}", self.mcc, self.mnc)
    }
}

/// A cell of an operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    /// MCC+MNC of its operator.
    pub operator: String,
    /// GSM ARFCN of its BCCH (`AT+QENG` `<bcch>`; BCCH lock works on it).
    pub arfcn: u16,
    /// Base station identity code.
    pub bsic: u8,
    /// Location area code.
    pub lac: u16,
    /// Cell id (16 bits on GSM, up to 28 bits on UMTS).
    pub cell_id: u32,
    /// UMTS channel (UC15 `+QENG: "servingcell"`, `+QNWINFO`).
    pub uarfcn: u16,
    /// UMTS primary scrambling code.
    pub psc: u16,
    /// Signal a modem gets on this cell unless set per line: `AT+CSQ` rssi 0..=31.
    pub rssi: u8,
}

impl Cell {
    /// Received level in dBm for an rssi value (`-113 + 2 rssi`).
    pub fn dbm(rssi: u8) -> i32 {
        -113 + 2 * i32::from(rssi.min(31))
    }
}

/// What the network answers to a USSD string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UssdReply {
    /// A final text (`+CUSD: 0`). `{balance}`, `{currency}`, `{msisdn}` and `{imsi}` are
    /// replaced with the subscriber's values.
    Text(String),
    /// A menu (`+CUSD: 1`): the text, then the reply to each user input.
    Menu {
        /// The menu text.
        text: String,
        /// `(user input, reply)`.
        options: Vec<(String, UssdReply)>,
    },
    /// The network never answers: `+CUSD: 5` after the operator's timeout.
    Timeout,
}

/// An operator's USSD service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UssdMenu {
    /// `(service code, reply)`.
    pub codes: Vec<(String, UssdReply)>,
    /// How long the network waits for an answer inside a menu session, and how long a
    /// [`UssdReply::Timeout`] code takes, before `+CUSD: 5`.
    pub timeout: Duration,
    /// How long the network takes to answer.
    pub delay: Duration,
}

impl UssdMenu {
    /// The reply to a service code (exact match after trimming), if the operator has one.
    pub fn lookup(&self, code: &str) -> Option<&UssdReply> {
        self.codes
            .iter()
            .find(|(c, _)| c == code.trim())
            .map(|(_, r)| r)
    }
}

impl Default for UssdMenu {
    /// `*100#` balance, `*101#` own number, `*123#` a two-level menu, `*999#` times out.
    fn default() -> Self {
        let balance = UssdReply::Text("Your balance is {balance} {currency}.".into());
        let number = UssdReply::Text("Your number is {msisdn}.".into());
        UssdMenu {
            codes: vec![
                ("*100#".into(), balance.clone()),
                ("*101#".into(), number.clone()),
                (
                    "*123#".into(),
                    UssdReply::Menu {
                        text: "1. Balance\n2. My number\n3. Offers".into(),
                        options: vec![
                            ("1".into(), balance),
                            ("2".into(), number),
                            (
                                "3".into(),
                                UssdReply::Menu {
                                    text: "1. 100 MB for 5.00\n2. 1 GB for 20.00".into(),
                                    options: vec![
                                        ("1".into(), UssdReply::Text("100 MB added.".into())),
                                        ("2".into(), UssdReply::Text("1 GB added.".into())),
                                    ],
                                },
                            ),
                        ],
                    },
                ),
                ("*999#".into(), UssdReply::Timeout),
            ],
            timeout: Duration::from_secs(20),
            delay: Duration::from_millis(800),
        }
    }
}

/// The default operators: China Mobile (46000, home of the default SIMs) and China
/// Unicom (46001).
pub fn default_operators() -> Vec<Operator> {
    vec![
        Operator {
            long_name: "CHINA MOBILE".into(),
            short_name: "CMCC".into(),
            mcc: 460,
            mnc: "00".into(),
            currency: "CNY".into(),
            ussd: UssdMenu::default(),
        },
        Operator {
            long_name: "CHN-UNICOM".into(),
            short_name: "UNICOM".into(),
            mcc: 460,
            mnc: "01".into(),
            currency: "CNY".into(),
            ussd: UssdMenu::default(),
        },
    ]
}

/// The default cells: two of China Mobile (the first is where every modem camps), one of
/// China Unicom.
pub fn default_cells() -> Vec<Cell> {
    vec![
        Cell {
            operator: "46000".into(),
            arfcn: 554,
            bsic: 41,
            lac: 0x7108,
            cell_id: 0x80C4,
            uarfcn: 10713,
            psc: 201,
            rssi: 24,
        },
        Cell {
            operator: "46000".into(),
            arfcn: 560,
            bsic: 22,
            lac: 0x7108,
            cell_id: 0x80C5,
            uarfcn: 10738,
            psc: 305,
            rssi: 18,
        },
        Cell {
            operator: "46001".into(),
            arfcn: 92,
            bsic: 7,
            lac: 0x2513,
            cell_id: 0x1F41,
            uarfcn: 10663,
            psc: 52,
            rssi: 20,
        },
    ]
}
