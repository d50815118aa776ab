//! The simulated operator and its serving cell: the declarative answers behind `AT+COPS?`,
//! `AT+CREG?` and `AT+CSQ`. Later versions grow this into several operators and cells.

/// An operator as modems report it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorInfo {
    /// Long alphanumeric name (`AT+COPS=3,0`).
    pub long_name: &'static str,
    /// Short alphanumeric name (`AT+COPS=3,1`).
    pub short_name: &'static str,
    /// MCC+MNC (`AT+COPS=3,2`).
    pub numeric: &'static str,
}

/// A GSM cell as modems report it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellSite {
    /// Location area code (printed as 4 hex digits).
    pub lac: u16,
    /// Cell id (printed as 4 hex digits).
    pub cell_id: u16,
    /// `AT+CSQ` rssi, 0..=31.
    pub rssi: u8,
    /// `AT+CSQ` bit error rate, 0..=7.
    pub ber: u8,
}

/// The one operator of the minimal simulator.
pub const HOME_OPERATOR: OperatorInfo = OperatorInfo {
    long_name: "CHINA MOBILE",
    short_name: "CMCC",
    numeric: "46000",
};

/// The one cell every modem of the minimal simulator camps on.
pub const HOME_CELL: CellSite = CellSite {
    lac: 0x7108,
    cell_id: 0x80C4,
    rssi: 24,
    ber: 0,
};
