//! Cell (BCCH) selection (manual §6.15): automatic, fixed, or rotation among the strongest
//! allowed cells.
//!
//! [`scan_result`] orders a cell scan as the status page shows it (F-6.15.1).
//! [`BcchRotation`] is the rotation state machine of one line (F-6.15.4 to F-6.15.9): it
//! picks the cell to lock after a scan, after N calls, after N consecutive failures and at
//! a random moment in the configured interval.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, Instant};

use rand::seq::SliceRandom;
use rand::Rng;

/// Most cells a scan lists, and so most cells a rotation uses (F-6.15.1).
pub const MAX_SCAN_CELLS: usize = 7;

/// Highest channel number accepted: 14-bit UARFCN, so WCDMA lines of WoIP boards fit too
/// (GSM ARFCNs stop at 1023).
pub const MAX_ARFCN: u32 = 16_383;

/// Why a BCCH setting is refused; each variant names the text or value at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BcchError {
    /// Not `auto`, a channel number, or the rotation form.
    #[error(
        "BCCH mode `{0}`: expected `auto`, a channel number such as `62`, or a rotation setting"
    )]
    Mode(String),
    /// A channel number that is not a number or is out of range.
    #[error("BCCH channel `{input}`: expected a whole number from 0 to {MAX_ARFCN}")]
    Channel {
        /// The text at fault.
        input: String,
    },
    /// A malformed interval.
    #[error("rotation interval `{input}`: {problem}")]
    Interval {
        /// The text as given.
        input: String,
        /// What is wrong.
        problem: &'static str,
    },
    /// A list without the `black:` or `white:` prefix, or an empty white list.
    #[error("BCCH list `{input}`: {problem}")]
    List {
        /// The text as given.
        input: String,
        /// What is wrong.
        problem: &'static str,
    },
    /// `max_cells` outside 1 to 7.
    #[error("rotation max_cells {0}: expected 1 to {MAX_SCAN_CELLS}")]
    MaxCells(usize),
    /// `after_calls` or `after_failures` of 0.
    #[error("rotation {0}: must be at least 1 when set")]
    ZeroCount(&'static str),
}

/// Cells the rotation may use (F-6.15.9). Written `black:62,70` or `white:62,70`: the
/// separator is a comma, spaces around numbers are allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BcchList {
    /// These channels are forbidden.
    Black(Vec<u32>),
    /// Only these channels may be chosen.
    White(Vec<u32>),
}

impl BcchList {
    /// Whether the list allows channel `arfcn`.
    pub fn allows(&self, arfcn: u32) -> bool {
        match self {
            BcchList::Black(list) => !list.contains(&arfcn),
            BcchList::White(list) => list.contains(&arfcn),
        }
    }
}

/// Parses a comma-separated list of channel numbers (`62, 70,81`); empty text gives an
/// empty list.
pub fn parse_arfcns(input: &str) -> Result<Vec<u32>, BcchError> {
    if input.trim().is_empty() {
        return Ok(Vec::new());
    }
    input.split(',').map(parse_arfcn).collect()
}

fn parse_arfcn(input: &str) -> Result<u32, BcchError> {
    let text = input.trim();
    let bad = || BcchError::Channel {
        input: text.to_string(),
    };
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    match text.parse::<u32>() {
        Ok(n) if n <= MAX_ARFCN => Ok(n),
        _ => Err(bad()),
    }
}

impl FromStr for BcchList {
    type Err = BcchError;

    /// Reads `black:<channels>` or `white:<channels>`, channels separated by commas.
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let err = |problem| BcchError::List {
            input: input.to_string(),
            problem,
        };
        let Some((kind, rest)) = input.split_once(':') else {
            return Err(err(
                "expected `black:<channels>` or `white:<channels>`, channels separated by commas",
            ));
        };
        let channels = parse_arfcns(rest)?;
        match kind.trim().to_ascii_lowercase().as_str() {
            "black" => Ok(BcchList::Black(channels)),
            "white" if channels.is_empty() => Err(err("an empty white list allows no cell at all")),
            "white" => Ok(BcchList::White(channels)),
            _ => Err(err("the list kind must be `black` or `white`")),
        }
    }
}

impl fmt::Display for BcchList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (kind, list) = match self {
            BcchList::Black(l) => ("black", l),
            BcchList::White(l) => ("white", l),
        };
        write!(f, "{kind}:")?;
        for (i, n) in list.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{n}")?;
        }
        Ok(())
    }
}

/// Parses the switch interval in minutes (F-6.15.6): `40` (fixed) or `30-50` (random in
/// the range, bounds included).
pub fn parse_interval(input: &str) -> Result<(Duration, Duration), BcchError> {
    let err = |problem| BcchError::Interval {
        input: input.to_string(),
        problem,
    };
    let minutes = |t: &str| -> Result<u64, BcchError> {
        let t = t.trim();
        if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err("expected minutes, `40` or a range `30-50`"));
        }
        let n: u64 = t.parse().map_err(|_| err("too large"))?;
        if n == 0 {
            return Err(err("minutes must be at least 1"));
        }
        n.checked_mul(60).ok_or_else(|| err("too large"))
    };
    let (lo, hi) = match input.split_once('-') {
        Some((a, b)) => (minutes(a)?, minutes(b)?),
        None => {
            let m = minutes(input)?;
            (m, m)
        }
    };
    if lo > hi {
        return Err(err("the range must go from low to high"));
    }
    Ok((Duration::from_secs(lo), Duration::from_secs(hi)))
}

/// Rotation settings (F-6.15.5 to F-6.15.9). Build with [`RotationConfig::new`], which
/// validates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationConfig {
    /// How many of the strongest allowed cells to rotate among, 1 to 7 (F-6.15.5).
    pub max_cells: usize,
    /// Switch at a random moment in this range, bounds included (F-6.15.6).
    pub interval: (Duration, Duration),
    /// Switch after this many calls (F-6.15.7).
    pub after_calls: Option<u32>,
    /// Switch after this many consecutive failed calls (F-6.15.8).
    pub after_failures: Option<u32>,
    /// Allowed cells (F-6.15.9).
    pub list: Option<BcchList>,
}

impl RotationConfig {
    /// Checks the settings: `max_cells` 1 to 7, a non-empty interval range, counts of at
    /// least 1, list channels in range and a non-empty white list.
    pub fn new(
        max_cells: usize,
        interval: (Duration, Duration),
        after_calls: Option<u32>,
        after_failures: Option<u32>,
        list: Option<BcchList>,
    ) -> Result<Self, BcchError> {
        if max_cells == 0 || max_cells > MAX_SCAN_CELLS {
            return Err(BcchError::MaxCells(max_cells));
        }
        if interval.0.is_zero() || interval.0 > interval.1 {
            return Err(BcchError::Interval {
                input: format!("{:?}-{:?}", interval.0, interval.1),
                problem: "the range must be above 0 and go from low to high",
            });
        }
        if after_calls == Some(0) {
            return Err(BcchError::ZeroCount("after_calls"));
        }
        if after_failures == Some(0) {
            return Err(BcchError::ZeroCount("after_failures"));
        }
        if let Some(l) = &list {
            let channels = match l {
                BcchList::Black(c) | BcchList::White(c) => c,
            };
            if let Some(bad) = channels.iter().find(|n| **n > MAX_ARFCN) {
                return Err(BcchError::Channel {
                    input: bad.to_string(),
                });
            }
            if matches!(l, BcchList::White(c) if c.is_empty()) {
                return Err(BcchError::List {
                    input: l.to_string(),
                    problem: "an empty white list allows no cell at all",
                });
            }
        }
        Ok(Self {
            max_cells,
            interval,
            after_calls,
            after_failures,
            list,
        })
    }
}

/// How a line picks its cell (§6.15).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum BcchMode {
    /// The module chooses (F-6.15.2, the default).
    #[default]
    Auto,
    /// Locked to one channel (F-6.15.3).
    Fixed(u32),
    /// Rotation among several cells (F-6.15.4).
    Rotation(RotationConfig),
}

impl FromStr for BcchMode {
    type Err = BcchError;

    /// Reads `auto` or a channel number (`62`). Rotation has several settings and is built
    /// with [`RotationConfig::new`].
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let text = input.trim();
        if text.eq_ignore_ascii_case("auto") {
            return Ok(BcchMode::Auto);
        }
        if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
            return parse_arfcn(text).map(BcchMode::Fixed);
        }
        Err(BcchError::Mode(input.to_string()))
    }
}

/// A scan as the status page shows it (F-6.15.1): channel numbers, strongest first (ties
/// keep scan order), each channel once, at most 7.
pub fn scan_result(cells: &[(u32, i16)]) -> Vec<u32> {
    strongest_first(cells, |_| true, MAX_SCAN_CELLS)
}

fn strongest_first(cells: &[(u32, i16)], allow: impl Fn(u32) -> bool, max: usize) -> Vec<u32> {
    let mut sorted: Vec<(u32, i16)> = cells.to_vec();
    // Stable: equal levels keep scan order.
    sorted.sort_by_key(|c| std::cmp::Reverse(c.1));
    let mut out: Vec<u32> = Vec::new();
    for (arfcn, _) in sorted {
        if out.len() == max {
            break;
        }
        if allow(arfcn) && !out.contains(&arfcn) {
            out.push(arfcn);
        }
    }
    out
}

/// One line's cell rotation (F-6.15.4 to F-6.15.9).
///
/// Every method returning `Some(arfcn)` means "lock the module to this channel now". A
/// switch restarts the call and failure counts and the interval timer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BcchRotation {
    config: RotationConfig,
    candidates: Vec<u32>,
    current: Option<u32>,
    calls: u32,
    failures: u32,
    next_switch: Option<Instant>,
}

impl BcchRotation {
    /// A rotation with no cell chosen yet: feed it a scan with [`BcchRotation::on_scan`].
    pub fn new(config: RotationConfig) -> Self {
        Self {
            config,
            candidates: Vec::new(),
            current: None,
            calls: 0,
            failures: 0,
            next_switch: None,
        }
    }

    /// A new cell scan: the candidates become the `max_cells` strongest cells the list
    /// allows. If the current cell is still a candidate nothing changes; otherwise a
    /// random candidate is locked (random, so the lines of one gateway spread over the
    /// cells). With no allowed cell visible the lock stays as it is: unlocking would let
    /// the module camp on a cell the list forbids.
    pub fn on_scan<R: Rng + ?Sized>(
        &mut self,
        cells: &[(u32, i16)],
        now: Instant,
        rng: &mut R,
    ) -> Option<u32> {
        let list = self.config.list.as_ref();
        self.candidates = strongest_first(
            cells,
            |a| list.is_none_or(|l| l.allows(a)),
            self.config.max_cells.min(MAX_SCAN_CELLS),
        );
        if self.current.is_some_and(|c| self.candidates.contains(&c)) {
            return None;
        }
        let pick = *self.candidates.choose(rng)?;
        Some(self.switch_to(pick, now, rng))
    }

    /// A call on the line ended: switch after `after_calls` calls (F-6.15.7) or
    /// `after_failures` consecutive failed calls (F-6.15.8).
    pub fn on_call_end<R: Rng + ?Sized>(
        &mut self,
        success: bool,
        now: Instant,
        rng: &mut R,
    ) -> Option<u32> {
        self.calls = self.calls.saturating_add(1);
        self.failures = if success {
            0
        } else {
            self.failures.saturating_add(1)
        };
        let by_calls = self.config.after_calls.is_some_and(|n| self.calls >= n);
        let by_failures = self
            .config
            .after_failures
            .is_some_and(|n| self.failures >= n);
        if by_calls || by_failures {
            self.rotate(now, rng)
        } else {
            None
        }
    }

    /// The interval timer: at [`BcchRotation::poll_timeout`], switch to another cell and
    /// draw the next moment in the interval range (F-6.15.6).
    pub fn on_timeout<R: Rng + ?Sized>(&mut self, now: Instant, rng: &mut R) -> Option<u32> {
        if self.next_switch.is_some_and(|t| t <= now) {
            self.rotate(now, rng)
        } else {
            None
        }
    }

    /// When [`BcchRotation::on_timeout`] must next be called; `None` before a cell is
    /// locked.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.next_switch
    }

    /// The locked channel, shown on the status page (F-5.2.1.16).
    pub fn current(&self) -> Option<u32> {
        self.current
    }

    /// The cells rotated among, strongest first.
    pub fn candidates(&self) -> &[u32] {
        &self.candidates
    }

    /// The settings.
    pub fn config(&self) -> &RotationConfig {
        &self.config
    }

    /// Moves to a random other candidate. With one candidate, stays but restarts the
    /// counts and the timer.
    fn rotate<R: Rng + ?Sized>(&mut self, now: Instant, rng: &mut R) -> Option<u32> {
        let others: Vec<u32> = self
            .candidates
            .iter()
            .copied()
            .filter(|c| Some(*c) != self.current)
            .collect();
        match others.choose(rng) {
            Some(&pick) => Some(self.switch_to(pick, now, rng)),
            None => {
                self.restart(now, rng);
                None
            }
        }
    }

    fn switch_to<R: Rng + ?Sized>(&mut self, arfcn: u32, now: Instant, rng: &mut R) -> u32 {
        self.current = Some(arfcn);
        self.restart(now, rng);
        arfcn
    }

    fn restart<R: Rng + ?Sized>(&mut self, now: Instant, rng: &mut R) {
        self.calls = 0;
        self.failures = 0;
        let (lo, hi) = self.config.interval;
        let secs = rng.gen_range(lo.as_secs()..=hi.as_secs().max(lo.as_secs()));
        self.next_switch = now.checked_add(Duration::from_secs(secs));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    const MIN: Duration = Duration::from_secs(60);

    fn config(
        max: usize,
        interval: &str,
        calls: Option<u32>,
        fails: Option<u32>,
        list: Option<&str>,
    ) -> RotationConfig {
        RotationConfig::new(
            max,
            parse_interval(interval).unwrap(),
            calls,
            fails,
            list.map(|l| l.parse().unwrap()),
        )
        .unwrap()
    }

    const SCAN: [(u32, i16); 9] = [
        (10, -90),
        (20, -60),
        (30, -75),
        (40, -100),
        (50, -60),
        (60, -80),
        (70, -95),
        (80, -85),
        (90, -70),
    ];

    #[test]
    fn f_6_15_1_scan_strongest_first_max_7() {
        assert_eq!(scan_result(&SCAN), vec![20, 50, 90, 30, 60, 80, 10]);
        assert_eq!(
            scan_result(&[(5, -80), (5, -70), (6, -75)]),
            vec![5, 6],
            "each channel once, at its strongest"
        );
        assert!(scan_result(&[]).is_empty());
    }

    #[test]
    fn f_6_15_2_3_mode_parse() {
        assert_eq!("auto".parse(), Ok(BcchMode::Auto));
        assert_eq!(" 62 ".parse(), Ok(BcchMode::Fixed(62)));
        assert_eq!(
            "99999".parse::<BcchMode>(),
            Err(BcchError::Channel {
                input: "99999".into()
            })
        );
        assert!(matches!(
            "rotate".parse::<BcchMode>(),
            Err(BcchError::Mode(_))
        ));
    }

    #[test]
    fn f_6_15_6_interval_parse() {
        assert_eq!(parse_interval("30-50"), Ok((30 * MIN, 50 * MIN)));
        assert_eq!(parse_interval(" 40 "), Ok((40 * MIN, 40 * MIN)));
        for bad in ["", "50-30", "0", "a-b", "30-", "-5", "30-50-70"] {
            let e = parse_interval(bad).unwrap_err();
            assert!(e.to_string().contains(&format!("`{bad}`")), "{e}");
        }
    }

    #[test]
    fn f_6_15_9_list_parse() {
        assert_eq!(
            "black:62, 70,81".parse(),
            Ok(BcchList::Black(vec![62, 70, 81]))
        );
        assert_eq!("White:62".parse(), Ok(BcchList::White(vec![62])));
        assert_eq!("black:".parse(), Ok(BcchList::Black(vec![])));
        assert!(matches!(
            "white:".parse::<BcchList>(),
            Err(BcchError::List { .. })
        ));
        assert!(matches!(
            "62,70".parse::<BcchList>(),
            Err(BcchError::List { .. })
        ));
        assert!(matches!(
            "grey:62".parse::<BcchList>(),
            Err(BcchError::List { .. })
        ));
        assert_eq!(
            "black:62;70".parse::<BcchList>(),
            Err(BcchError::Channel {
                input: "62;70".into()
            })
        );
        assert_eq!(
            "black:62,70".parse::<BcchList>().map(|l| l.to_string()),
            Ok("black:62,70".into())
        );
    }

    #[test]
    fn f_6_15_5_config_validation() {
        let i = (30 * MIN, 50 * MIN);
        assert_eq!(
            RotationConfig::new(8, i, None, None, None),
            Err(BcchError::MaxCells(8))
        );
        assert_eq!(
            RotationConfig::new(0, i, None, None, None),
            Err(BcchError::MaxCells(0))
        );
        assert_eq!(
            RotationConfig::new(3, i, Some(0), None, None),
            Err(BcchError::ZeroCount("after_calls"))
        );
        assert_eq!(
            RotationConfig::new(3, i, None, Some(0), None),
            Err(BcchError::ZeroCount("after_failures"))
        );
        assert!(RotationConfig::new(3, (50 * MIN, 30 * MIN), None, None, None).is_err());
        assert!(RotationConfig::new(3, i, None, None, Some(BcchList::White(vec![]))).is_err());
        assert!(
            RotationConfig::new(3, i, None, None, Some(BcchList::Black(vec![20_000]))).is_err()
        );
    }

    #[test]
    fn f_6_15_9_candidates_follow_list_and_max_cells() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let t0 = Instant::now();
        let mut r = BcchRotation::new(config(3, "40", None, None, Some("black:20,90")));
        let first = r.on_scan(&SCAN, t0, &mut rng);
        assert_eq!(r.candidates(), &[50, 30, 60]);
        assert!(first.is_some_and(|c| r.candidates().contains(&c)));
        assert_eq!(r.current(), first);

        let mut w = BcchRotation::new(config(5, "40", None, None, Some("white:10,40,99")));
        let pick = w.on_scan(&SCAN, t0, &mut rng);
        assert_eq!(w.candidates(), &[10, 40]);
        assert!(pick == Some(10) || pick == Some(40));
    }

    #[test]
    fn f_6_15_4_rescan_keeps_a_still_good_cell_and_never_unlocks() {
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let t0 = Instant::now();
        let mut r = BcchRotation::new(config(7, "40", None, None, Some("white:20,50")));
        let cur = r.on_scan(&SCAN, t0, &mut rng);
        assert!(cur.is_some());
        assert_eq!(r.on_scan(&SCAN, t0, &mut rng), None, "still a candidate");
        assert_eq!(r.current(), cur);
        // Nothing allowed visible: keep the lock.
        assert_eq!(r.on_scan(&[(10, -50)], t0, &mut rng), None);
        assert_eq!(r.current(), cur);
        // The current cell disappeared, the other allowed one is there: move to it.
        let other = if cur == Some(20) { 50 } else { 20 };
        assert_eq!(r.on_scan(&[(other, -90)], t0, &mut rng), Some(other));
    }

    #[test]
    fn f_6_15_6_switch_at_random_moment_in_interval() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let t0 = Instant::now();
        let mut r = BcchRotation::new(config(7, "30-50", None, None, None));
        assert_eq!(r.poll_timeout(), None);
        let mut cur = r.on_scan(&SCAN, t0, &mut rng);
        let mut at = t0;
        let mut waits = Vec::new();
        for _ in 0..20 {
            let next = r.poll_timeout().unwrap();
            let wait = next - at;
            assert!(wait >= 30 * MIN && wait <= 50 * MIN, "{wait:?}");
            waits.push(wait);
            assert_eq!(r.on_timeout(next - Duration::from_secs(1), &mut rng), None);
            let new = r.on_timeout(next, &mut rng);
            assert!(new.is_some() && new != cur, "switches to another cell");
            cur = new;
            at = next;
        }
        waits.dedup();
        assert!(waits.len() > 1, "the moment is random");
    }

    #[test]
    fn f_6_15_7_switch_after_n_calls() {
        let mut rng = ChaCha8Rng::seed_from_u64(6);
        let t0 = Instant::now();
        let mut r = BcchRotation::new(config(2, "60", Some(3), None, None));
        let first = r.on_scan(&SCAN, t0, &mut rng);
        assert_eq!(r.on_call_end(true, t0, &mut rng), None);
        assert_eq!(r.on_call_end(false, t0, &mut rng), None);
        let second = r.on_call_end(true, t0, &mut rng);
        assert!(second.is_some() && second != first);
        // Counts restart after the switch.
        assert_eq!(r.on_call_end(true, t0, &mut rng), None);
        assert_eq!(r.on_call_end(true, t0, &mut rng), None);
        assert_eq!(r.on_call_end(true, t0, &mut rng), first);
    }

    #[test]
    fn f_6_15_8_switch_after_n_consecutive_failures() {
        let mut rng = ChaCha8Rng::seed_from_u64(8);
        let t0 = Instant::now();
        let mut r = BcchRotation::new(config(3, "60", None, Some(2), None));
        let first = r.on_scan(&SCAN, t0, &mut rng);
        assert_eq!(r.on_call_end(false, t0, &mut rng), None);
        assert_eq!(
            r.on_call_end(true, t0, &mut rng),
            None,
            "success breaks the run"
        );
        assert_eq!(r.on_call_end(false, t0, &mut rng), None);
        let next = r.on_call_end(false, t0, &mut rng);
        assert!(next.is_some() && next != first);
    }

    #[test]
    fn f_6_15_single_candidate_stays_and_rearms() {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let t0 = Instant::now();
        let mut r = BcchRotation::new(config(1, "40", Some(1), None, None));
        assert_eq!(r.on_scan(&SCAN, t0, &mut rng), Some(20));
        assert_eq!(r.on_call_end(true, t0, &mut rng), None);
        let t1 = t0 + 40 * MIN;
        assert_eq!(r.on_timeout(t1, &mut rng), None);
        assert_eq!(r.poll_timeout(), Some(t1 + 40 * MIN));
        assert_eq!(r.current(), Some(20));
    }

    #[test]
    fn f_6_15_no_scan_no_switch() {
        let mut rng = ChaCha8Rng::seed_from_u64(10);
        let t0 = Instant::now();
        let mut r = BcchRotation::new(config(3, "40", Some(1), Some(1), None));
        assert_eq!(r.on_call_end(false, t0, &mut rng), None);
        assert_eq!(r.on_timeout(t0 + 100 * MIN, &mut rng), None);
        assert_eq!(r.current(), None);
    }

    proptest! {
        #[test]
        fn f_6_15_1_scan_sorted_unique_bounded(cells in prop::collection::vec((0u32..50, -113i16..-51), 0..30)) {
            let out = scan_result(&cells);
            prop_assert!(out.len() <= MAX_SCAN_CELLS);
            let best = |a: u32| cells.iter().filter(|c| c.0 == a).map(|c| c.1).max();
            for w in out.windows(2) {
                prop_assert!(w[0] != w[1]);
                prop_assert!(best(w[0]) >= best(w[1]));
            }
        }

        #[test]
        fn f_6_15_9_rotation_only_picks_allowed(
            cells in prop::collection::vec((0u32..20, -113i16..-51), 1..30),
            white in prop::collection::vec(0u32..20, 1..5),
            seed: u64,
        ) {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let t0 = Instant::now();
            let mut r = BcchRotation::new(RotationConfig::new(3, (MIN, 2 * MIN), Some(1), None, Some(BcchList::White(white.clone()))).unwrap());
            r.on_scan(&cells, t0, &mut rng);
            for _ in 0..5 {
                if let Some(c) = r.on_call_end(true, t0, &mut rng) {
                    prop_assert!(white.contains(&c));
                }
                if let Some(c) = r.current() {
                    prop_assert!(white.contains(&c));
                }
            }
        }
    }
}
