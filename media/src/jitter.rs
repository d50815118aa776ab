//! Sans-IO jitter buffer with the vendor manual's three modes (F-6.5.4 to F-6.5.6).
//!
//! Packets go in with their arrival time ([`JitterBuffer::push`]); the playout side asks
//! for the next packet once per frame period ([`JitterBuffer::pop`]) and gets the packet
//! due, a [`Playout::Lost`] to conceal, or [`Playout::Silence`] while (re)buffering. The
//! buffer never blocks: a missing packet costs one concealed frame, never a stall.
//!
//! * **Fixed**: playout starts `delay` after the first packet of a talkspurt and the
//!   delay never changes; late packets are dropped.
//! * **Ordered** (顺序): packets are reordered by timestamp; the delay starts at `min`,
//!   grows by one frame per late packet up to `max` and shrinks back by one frame after
//!   10 s without late packets.
//! * **Adaptive**: starts at `initial`; the target follows the measured interarrival
//!   jitter (RFC 3550 A.8 estimate: one frame + 4 × jitter) inside `min..=max`, grows at
//!   once on late packets (stretching playout by one concealed frame) and decays slowly.
//!
//! In every mode a buffer deeper than target + 3 frames drops its oldest frame (clock
//! drift), and a buffer empty for 3 frames goes back to buffering (end of a talkspurt).

use std::time::{Duration, Instant};

use crate::rtp::extend_ts;

/// Samples per millisecond at 8 kHz.
const SAMPLES_PER_MS: u64 = 8;

/// Jitter-buffer mode and delays, all in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JitterMode {
    /// Constant delay (F-6.5.4).
    Fixed {
        /// Buffering delay.
        delay_ms: u32,
    },
    /// Reordering with a delay between min and max (F-6.5.5).
    Ordered {
        /// Smallest delay.
        min_ms: u32,
        /// Largest delay.
        max_ms: u32,
    },
    /// Delay chosen from measured jitter within min..=max, starting at initial (F-6.5.6).
    Adaptive {
        /// Smallest delay.
        min_ms: u32,
        /// Largest delay.
        max_ms: u32,
        /// Delay at the start of the call.
        initial_ms: u32,
    },
}

impl Default for JitterMode {
    /// Adaptive 20..=200 ms starting at 60 ms: the manual gives no defaults.
    fn default() -> Self {
        JitterMode::Adaptive {
            min_ms: 20,
            max_ms: 200,
            initial_ms: 60,
        }
    }
}

impl JitterMode {
    fn bounds(self) -> (u32, u32, u32) {
        match self {
            JitterMode::Fixed { delay_ms } => (delay_ms, delay_ms, delay_ms),
            JitterMode::Ordered { min_ms, max_ms } => (min_ms, max_ms.max(min_ms), min_ms),
            JitterMode::Adaptive {
                min_ms,
                max_ms,
                initial_ms,
            } => {
                let max = max_ms.max(min_ms);
                (min_ms, max, initial_ms.clamp(min_ms, max))
            }
        }
    }
}

/// What the playout side gets for one frame period.
#[derive(Debug, PartialEq, Eq)]
pub enum Playout<'a> {
    /// The packet due now.
    Frame {
        /// Its payload type.
        payload_type: u8,
        /// Its payload.
        payload: &'a [u8],
        /// Samples it covers.
        samples: u32,
    },
    /// The packet due now is missing: conceal this many samples.
    Lost {
        /// Samples to conceal.
        samples: u32,
    },
    /// Nothing to play (buffering, or the peer is silent): comfort noise or silence.
    Silence {
        /// Samples of silence.
        samples: u32,
    },
}

/// Counters for reports and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JitterStats {
    /// Packets accepted.
    pub pushed: u64,
    /// Packets that came after their playout time (dropped).
    pub late: u64,
    /// Duplicate packets (dropped).
    pub duplicates: u64,
    /// Frames played from packets.
    pub played: u64,
    /// Frames concealed.
    pub concealed: u64,
    /// Frames of silence while buffering.
    pub silent: u64,
    /// Frames dropped because the buffer was too deep.
    pub overflow_drops: u64,
    /// Times the buffer re-anchored (talkspurts, jumps, underruns).
    pub resyncs: u64,
}

#[derive(Debug)]
struct Slot {
    ts: u64,
    payload_type: u8,
    samples: u32,
    payload: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Waiting for the first packet.
    Idle,
    /// Holding packets until the target delay has passed since `since`.
    Buffering { since: Instant },
    /// Playing out from `next_ts`.
    Playing,
}

/// The jitter buffer of one received stream.
#[derive(Debug)]
pub struct JitterBuffer {
    mode: JitterMode,
    min_ms: u32,
    max_ms: u32,
    target_ms: u32,
    frame_samples: u32,
    slots: Vec<Slot>,
    pool: Vec<Vec<u8>>,
    current: Vec<u8>,
    state: State,
    next_ts: u64,
    last_ext: Option<u64>,
    last_samples: u32,
    empty_pops: u32,
    pops_since_late: u32,
    stretch: bool,
    epoch: Option<Instant>,
    last_transit: Option<i64>,
    /// Jitter estimate in samples, ×16 (RFC 3550 A.8 scaling).
    jitter_q4: i64,
    stats: JitterStats,
}

/// Frames of an empty buffer before it goes back to buffering.
const UNDERRUN_FRAMES: u32 = 3;
/// Frames over target before the oldest is dropped.
const OVERFLOW_FRAMES: u32 = 3;
/// Pops (frame periods) without a late packet before the target shrinks.
const SHRINK_AFTER_POPS: u32 = 500;

impl JitterBuffer {
    /// A buffer in `mode` whose playout asks for `frame_samples` per period (160 = 20 ms).
    pub fn new(mode: JitterMode, frame_samples: u32) -> Self {
        let (min_ms, max_ms, target_ms) = mode.bounds();
        let frame_samples = frame_samples.max(1);
        let capacity = (max_ms as usize / 10) + 16;
        JitterBuffer {
            mode,
            min_ms,
            max_ms,
            target_ms,
            frame_samples,
            slots: Vec::with_capacity(capacity),
            pool: (0..capacity).map(|_| Vec::with_capacity(320)).collect(),
            current: Vec::with_capacity(320),
            state: State::Idle,
            next_ts: 0,
            last_ext: None,
            last_samples: frame_samples,
            empty_pops: 0,
            pops_since_late: 0,
            stretch: false,
            epoch: None,
            last_transit: None,
            jitter_q4: 0,
            stats: JitterStats::default(),
        }
    }

    /// The mode.
    pub fn mode(&self) -> JitterMode {
        self.mode
    }

    /// Current target delay in ms.
    pub fn target_ms(&self) -> u32 {
        self.target_ms
    }

    /// Measured interarrival jitter in ms.
    pub fn jitter_ms(&self) -> f64 {
        (self.jitter_q4 >> 4) as f64 / SAMPLES_PER_MS as f64
    }

    /// Buffered audio ahead of the playout point, in ms.
    pub fn depth_ms(&self) -> u32 {
        let start = match self.state {
            State::Playing => self.next_ts,
            _ => match self.slots.first() {
                Some(s) => s.ts,
                None => return 0,
            },
        };
        let end = self
            .slots
            .last()
            .map(|s| s.ts + u64::from(s.samples))
            .unwrap_or(start);
        (end.saturating_sub(start) / SAMPLES_PER_MS) as u32
    }

    /// Counters.
    pub fn stats(&self) -> JitterStats {
        self.stats
    }

    /// Forgets every packet (new SSRC, re-INVITE); the target delay is kept.
    pub fn reset(&mut self) {
        self.clear_slots();
        self.state = State::Idle;
        self.last_ext = None;
        self.last_transit = None;
        self.epoch = None;
        self.stats.resyncs += 1;
    }

    fn clear_slots(&mut self) {
        for slot in self.slots.drain(..) {
            self.pool.push(slot.payload);
        }
    }

    fn frame_ms(&self) -> u32 {
        (u64::from(self.frame_samples) / SAMPLES_PER_MS) as u32
    }

    fn grow_target(&mut self) {
        if matches!(self.mode, JitterMode::Fixed { .. }) {
            return;
        }
        let grown = (self.target_ms + self.frame_ms()).min(self.max_ms);
        if grown > self.target_ms {
            self.target_ms = grown;
            self.stretch = matches!(self.state, State::Playing);
        }
        self.pops_since_late = 0;
    }

    fn update_jitter(&mut self, ext: u64, arrival: Instant) {
        let epoch = *self.epoch.get_or_insert(arrival);
        let units = (arrival.saturating_duration_since(epoch).as_micros() as u64 * SAMPLES_PER_MS
            / 1_000) as i64;
        let transit = units - ext as i64;
        if let Some(last) = self.last_transit {
            let d = (transit - last).abs();
            self.jitter_q4 += d - ((self.jitter_q4 + 8) >> 4);
        }
        self.last_transit = Some(transit);
        if let JitterMode::Adaptive { .. } = self.mode {
            let jitter_ms = ((self.jitter_q4 >> 4) as u64 / SAMPLES_PER_MS) as u32;
            let desired = (self.frame_ms() + 4 * jitter_ms).clamp(self.min_ms, self.max_ms);
            if desired > self.target_ms {
                // Round up to whole frames so the stretch below is meaningful.
                let f = self.frame_ms().max(1);
                self.target_ms = desired.div_ceil(f) * f;
                self.target_ms = self.target_ms.min(self.max_ms);
            }
        }
    }

    /// Takes a packet that arrived at `arrival`. `samples` is its duration (from the codec).
    /// A packet with the marker bit starts a talkspurt: an idle buffer re-anchors on it.
    pub fn push(
        &mut self,
        timestamp: u32,
        marker: bool,
        payload_type: u8,
        payload: &[u8],
        samples: u32,
        arrival: Instant,
    ) {
        let samples = if samples == 0 {
            self.frame_samples
        } else {
            samples
        };
        let reference = self.last_ext.unwrap_or((1 << 32) + u64::from(timestamp));
        let ext = extend_ts(timestamp, reference);
        let max_ahead = u64::from(self.max_ms + 2_000) * SAMPLES_PER_MS;

        if self.state == State::Playing {
            if ext + u64::from(samples) <= self.next_ts {
                if self.next_ts - ext > max_ahead {
                    // Far in the past: the sender restarted its clock. Re-anchor.
                    self.resync(arrival);
                } else {
                    self.stats.late += 1;
                    self.grow_target();
                    return;
                }
            } else if ext > self.next_ts + max_ahead
                || (marker && self.slots.is_empty() && self.empty_pops > 0)
            {
                // A jump ahead, or a new talkspurt after the buffer ran dry.
                self.resync(arrival);
            }
        }
        if self.slots.iter().any(|s| s.ts == ext) {
            self.stats.duplicates += 1;
            return;
        }
        self.update_jitter(ext, arrival);
        if self.last_ext.is_none_or(|l| ext > l) {
            self.last_ext = Some(ext);
        }
        if self.state == State::Idle {
            self.state = State::Buffering { since: arrival };
        }
        if self.slots.len() == self.slots.capacity() {
            // Full: drop the oldest (never reached with sane max delays).
            let old = self.slots.remove(0);
            self.pool.push(old.payload);
            self.stats.overflow_drops += 1;
        }
        let mut buf = self.pool.pop().unwrap_or_default();
        buf.clear();
        buf.extend_from_slice(payload);
        let at = self.slots.partition_point(|s| s.ts < ext);
        self.slots.insert(
            at,
            Slot {
                ts: ext,
                payload_type,
                samples,
                payload: buf,
            },
        );
        self.stats.pushed += 1;
    }

    fn resync(&mut self, arrival: Instant) {
        self.clear_slots();
        self.state = State::Buffering { since: arrival };
        self.last_ext = None;
        self.last_transit = None;
        self.empty_pops = 0;
        self.stretch = false;
        self.stats.resyncs += 1;
    }

    /// The playout side's request for the next period at `now`.
    pub fn pop(&mut self, now: Instant) -> Playout<'_> {
        if let State::Buffering { since } = self.state {
            let waited = now.saturating_duration_since(since);
            if waited >= Duration::from_millis(u64::from(self.target_ms)) {
                match self.slots.first() {
                    Some(first) => {
                        self.next_ts = first.ts;
                        self.state = State::Playing;
                        self.empty_pops = 0;
                    }
                    None => self.state = State::Idle,
                }
            }
        }
        if self.state != State::Playing {
            self.stats.silent += 1;
            return Playout::Silence {
                samples: self.last_samples,
            };
        }

        self.pops_since_late += 1;
        if self.pops_since_late >= SHRINK_AFTER_POPS {
            self.pops_since_late = 0;
            self.shrink_target();
        }
        if self.stretch {
            // Play one concealed frame without consuming audio: the buffer gets deeper.
            self.stretch = false;
            self.stats.concealed += 1;
            return Playout::Lost {
                samples: self.last_samples,
            };
        }

        // Too deep (sender clock faster than ours, or a burst): drop the oldest frames.
        let limit = u64::from(self.target_ms + OVERFLOW_FRAMES * self.frame_ms()) * SAMPLES_PER_MS;
        while self.slots.len() > 1 {
            let end = self
                .slots
                .last()
                .map(|s| s.ts + u64::from(s.samples))
                .unwrap_or(0);
            if end.saturating_sub(self.next_ts) <= limit {
                break;
            }
            let old = self.slots.remove(0);
            self.next_ts = self.slots.first().map(|s| s.ts).unwrap_or(self.next_ts);
            self.pool.push(old.payload);
            self.stats.overflow_drops += 1;
        }

        // Anything wholly before the playout point is stale.
        while self
            .slots
            .first()
            .is_some_and(|s| s.ts + u64::from(s.samples) <= self.next_ts)
        {
            let old = self.slots.remove(0);
            self.pool.push(old.payload);
        }

        match self.slots.first() {
            Some(first) if first.ts <= self.next_ts => {
                let slot = self.slots.remove(0);
                self.next_ts = slot.ts + u64::from(slot.samples);
                self.last_samples = slot.samples;
                self.empty_pops = 0;
                let old = std::mem::replace(&mut self.current, slot.payload);
                self.pool.push(old);
                self.stats.played += 1;
                Playout::Frame {
                    payload_type: slot.payload_type,
                    payload: &self.current,
                    samples: slot.samples,
                }
            }
            Some(first) => {
                let gap = (first.ts - self.next_ts).min(u64::from(self.last_samples)) as u32;
                self.next_ts += u64::from(gap);
                self.empty_pops = 0;
                self.stats.concealed += 1;
                Playout::Lost { samples: gap }
            }
            None => {
                self.empty_pops += 1;
                if self.empty_pops > UNDERRUN_FRAMES {
                    self.state = State::Idle;
                    self.stats.silent += 1;
                    return Playout::Silence {
                        samples: self.last_samples,
                    };
                }
                self.next_ts += u64::from(self.last_samples);
                self.stats.concealed += 1;
                Playout::Lost {
                    samples: self.last_samples,
                }
            }
        }
    }

    fn shrink_target(&mut self) {
        let floor = match self.mode {
            JitterMode::Fixed { .. } => return,
            JitterMode::Ordered { .. } => self.min_ms,
            JitterMode::Adaptive { .. } => {
                let jitter_ms = ((self.jitter_q4 >> 4) as u64 / SAMPLES_PER_MS) as u32;
                (self.frame_ms() + 4 * jitter_ms).clamp(self.min_ms, self.max_ms)
            }
        };
        self.target_ms = self.target_ms.saturating_sub(self.frame_ms()).max(floor);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_steady(mode: JitterMode) -> (JitterBuffer, Vec<char>) {
        let mut jb = JitterBuffer::new(mode, 160);
        let t0 = Instant::now();
        let mut log = Vec::new();
        for i in 0..50u32 {
            let now = t0 + Duration::from_millis(u64::from(i) * 20);
            jb.push(i * 160, i == 0, 0, &[i as u8; 160], 160, now);
            log.push(match jb.pop(now) {
                Playout::Frame { payload, .. } => {
                    assert_eq!(payload.len(), 160);
                    'F'
                }
                Playout::Lost { .. } => 'L',
                Playout::Silence { .. } => 'S',
            });
        }
        (jb, log)
    }

    #[test]
    fn fixed_delay_holds_then_plays_every_frame() {
        let (jb, log) = run_steady(JitterMode::Fixed { delay_ms: 60 });
        let s: String = log.iter().collect();
        assert!(s.starts_with("SSSF"), "{s}");
        assert!(!s[3..].contains(['L', 'S']), "{s}");
        assert_eq!(jb.depth_ms(), 60);
        assert_eq!(jb.target_ms(), 60);
    }

    #[test]
    fn reorders_by_timestamp() {
        let mut jb = JitterBuffer::new(
            JitterMode::Ordered {
                min_ms: 40,
                max_ms: 200,
            },
            160,
        );
        let t0 = Instant::now();
        for (k, i) in [1u32, 0, 3, 2].into_iter().enumerate() {
            jb.push(
                1_000 + i * 160,
                false,
                8,
                &[i as u8],
                160,
                t0 + Duration::from_millis(k as u64),
            );
        }
        let now = t0 + Duration::from_millis(100);
        for i in 0..4u8 {
            match jb.pop(now) {
                Playout::Frame { payload, .. } => assert_eq!(payload, &[i]),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn loss_is_concealed_and_late_packet_grows_ordered_target() {
        let mut jb = JitterBuffer::new(
            JitterMode::Ordered {
                min_ms: 20,
                max_ms: 100,
            },
            160,
        );
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        jb.push(0, true, 0, &[0; 160], 160, at(0));
        assert!(matches!(jb.pop(at(0)), Playout::Silence { .. }));
        assert!(matches!(jb.pop(at(20)), Playout::Frame { .. }));
        // Packet 1 missing, packet 2 present: conceal, then play 2.
        jb.push(320, false, 0, &[2; 160], 160, at(40));
        assert!(matches!(jb.pop(at(40)), Playout::Lost { samples: 160 }));
        assert!(matches!(jb.pop(at(60)), Playout::Frame { .. }));
        // Packet 1 arrives now: late.
        jb.push(160, false, 0, &[1; 160], 160, at(61));
        assert_eq!(jb.stats().late, 1);
        assert_eq!(jb.target_ms(), 40);
    }

    #[test]
    fn timestamp_wrap_is_seamless() {
        let mut jb = JitterBuffer::new(JitterMode::Fixed { delay_ms: 20 }, 160);
        let t0 = Instant::now();
        let start = u32::MAX - 480;
        let mut frames = 0;
        for i in 0..10u32 {
            let now = t0 + Duration::from_millis(u64::from(i) * 20);
            jb.push(start.wrapping_add(i * 160), false, 0, &[0; 160], 160, now);
            if matches!(jb.pop(now), Playout::Frame { .. }) {
                frames += 1;
            }
        }
        assert_eq!(frames, 9);
        assert_eq!(jb.stats().concealed, 0);
    }

    #[test]
    fn runs_dry_then_rebuffers_on_new_talkspurt() {
        let (mut jb, _) = run_steady(JitterMode::Fixed { delay_ms: 40 });
        let t0 = Instant::now() + Duration::from_secs(1);
        let kinds: Vec<_> = (0..6)
            .map(|i| match jb.pop(t0 + Duration::from_millis(i * 20)) {
                Playout::Frame { .. } => 'F',
                Playout::Lost { .. } => 'L',
                Playout::Silence { .. } => 'S',
            })
            .collect();
        assert_eq!(kinds.iter().collect::<String>(), "FFLLLS");
        // New talkspurt 10 s later in media time.
        jb.push(
            49 * 160 + 80_000,
            true,
            0,
            &[9; 160],
            160,
            t0 + Duration::from_millis(200),
        );
        assert!(matches!(
            jb.pop(t0 + Duration::from_millis(220)),
            Playout::Silence { .. }
        ));
        assert!(matches!(
            jb.pop(t0 + Duration::from_millis(240)),
            Playout::Frame { .. }
        ));
    }

    #[test]
    fn adaptive_target_follows_jitter() {
        let mut jb = JitterBuffer::new(
            JitterMode::Adaptive {
                min_ms: 20,
                max_ms: 300,
                initial_ms: 40,
            },
            160,
        );
        let t0 = Instant::now();
        for i in 0..200u32 {
            // Every other packet 30 ms late: |D| = 240 samples.
            let extra = if i % 2 == 1 { 30 } else { 0 };
            let arrival = t0 + Duration::from_millis(u64::from(i * 20 + extra));
            jb.push(i * 160, false, 0, &[0; 160], 160, arrival);
            let _ = jb.pop(t0 + Duration::from_millis(u64::from(i * 20)));
        }
        assert!(jb.jitter_ms() > 20.0, "jitter {}", jb.jitter_ms());
        assert!(jb.target_ms() >= 100, "target {}", jb.target_ms());
        assert!(jb.target_ms() <= 300);
    }

    #[test]
    fn duplicates_and_overflow() {
        let mut jb = JitterBuffer::new(JitterMode::Fixed { delay_ms: 20 }, 160);
        let t0 = Instant::now();
        jb.push(0, false, 0, &[0; 160], 160, t0);
        jb.push(0, false, 0, &[0; 160], 160, t0);
        assert_eq!(jb.stats().duplicates, 1);
        // A burst of 20 packets at once: playout drops the excess beyond target + 3 frames.
        for i in 1..20u32 {
            jb.push(i * 160, false, 0, &[0; 160], 160, t0);
        }
        assert!(matches!(
            jb.pop(t0 + Duration::from_millis(20)),
            Playout::Frame { .. }
        ));
        assert!(jb.depth_ms() <= 20 + 60);
        assert!(jb.stats().overflow_drops > 0);
    }
}
