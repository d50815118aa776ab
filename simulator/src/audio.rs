//! Voice audio of the simulated lines: an [`AudioHal`] whose channels carry 20 ms PCM
//! frames between the gateway and the far end of the line's active call (an outside phone,
//! or another gateway line), paced by the tokio clock, with seeded frame loss and a fixed
//! delay ([`AudioConfig`]).

use std::collections::VecDeque;
use std::time::Duration;

use async_trait::async_trait;
use cellgate_hal::audio::{AudioChannel, AudioHal, PcmFrame, FRAME_SAMPLES};
use cellgate_hal::{HalError, HalResult, LineId};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio::sync::mpsc;
use tokio::time::{interval, Instant, MissedTickBehavior};

use crate::network::{FarEnd, Network};

/// Frames buffered in each direction of a channel (5 s).
pub const CHANNEL_FRAMES: usize = 250;
/// Frame period.
pub const FRAME_PERIOD: Duration = Duration::from_millis(20);

/// Impairments of the simulated voice path, applied per frame and direction.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct AudioConfig {
    /// Probability (0.0..=1.0) that a frame is lost; drawn from the network seed.
    pub loss: f64,
    /// One-way delay of every frame (rounded up to 20 ms ticks).
    pub delay: Duration,
}

/// The simulator's [`AudioHal`] ([`Network::audio`]). Opening a line starts a 20 ms clock
/// for it: frames the gateway writes to `to_gsm` reach the far end while a call is active
/// (discarded otherwise) and the far end's frames arrive on `from_gsm`, one per tick.
#[derive(Debug, Clone)]
pub struct SimAudio {
    net: Network,
}

impl SimAudio {
    /// The audio of `net`'s lines.
    pub fn new(net: Network) -> Self {
        Self { net }
    }
}

fn no_line(line: LineId) -> HalError {
    HalError::LinkDown(format!("no simulated modem on line {}", line.0))
}

#[async_trait]
impl AudioHal for SimAudio {
    async fn open(&self, line: LineId) -> HalResult<AudioChannel> {
        let n = line.0;
        let (generation, seed) = self.net.audio_open(n).ok_or_else(|| no_line(line))?;
        let (to_gsm, to_rx) = mpsc::channel(CHANNEL_FRAMES);
        let (from_tx, from_gsm) = mpsc::channel(CHANNEL_FRAMES);
        let rng = ChaCha8Rng::seed_from_u64(seed ^ (u64::from(n) << 32) ^ generation ^ 0xa0d1);
        tokio::spawn(pump(self.net.clone(), n, generation, to_rx, from_tx, rng));
        Ok(AudioChannel { from_gsm, to_gsm })
    }

    async fn close(&self, line: LineId) -> HalResult<()> {
        self.net.audio_close(line.0);
        Ok(())
    }
}

/// One line's 20 ms audio clock.
async fn pump(
    net: Network,
    line: u16,
    generation: u64,
    mut to_rx: mpsc::Receiver<PcmFrame>,
    from_tx: mpsc::Sender<PcmFrame>,
    mut rng: ChaCha8Rng,
) {
    let mut tick = interval(FRAME_PERIOD);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut up: VecDeque<(Instant, FarEnd, PcmFrame)> = VecDeque::new();
    let mut down: VecDeque<(Instant, PcmFrame)> = VecDeque::new();
    let mut gateway_gone = false;
    loop {
        tick.tick().await;
        let now = Instant::now();
        let mut written = Vec::new();
        loop {
            match to_rx.try_recv() {
                Ok(f) => written.push(f),
                Err(mpsc::error::TryRecvError::Empty) => break,
                Err(mpsc::error::TryRecvError::Disconnected) => {
                    gateway_gone = true;
                    break;
                }
            }
        }
        if gateway_gone && from_tx.is_closed() {
            break;
        }
        let mut st = net.state();
        if !st.audio_is_current(line, generation) {
            break;
        }
        let config = st.audio_config;
        let due = now + config.delay;
        let far = st.far_end(line);
        // Gateway -> far end.
        if let Some(far) = &far {
            for f in written {
                if config.loss > 0.0 && rng.gen_bool(config.loss.clamp(0.0, 1.0)) {
                    continue;
                }
                up.push_back((due, far.clone(), f));
            }
        }
        while up.front().is_some_and(|(t, _, _)| *t <= now) {
            if let Some((_, to, f)) = up.pop_front() {
                st.audio_deliver(&to, f);
            }
        }
        // Far end -> gateway.
        if let Some(far) = &far {
            let frame = st.far_end_frame(line, far);
            if let Some(frame) = frame {
                let lost = config.loss > 0.0 && rng.gen_bool(config.loss.clamp(0.0, 1.0));
                if !lost {
                    down.push_back((due, frame));
                }
            }
        }
        drop(st);
        while down.front().is_some_and(|(t, _)| *t <= now) {
            if let Some((_, f)) = down.pop_front() {
                // A full channel means the gateway does not read: drop, as a real PCM
                // port overruns.
                let _ = from_tx.try_send(f);
            }
        }
    }
}

/// A silent frame.
pub const SILENCE: PcmFrame = [0; FRAME_SAMPLES];
