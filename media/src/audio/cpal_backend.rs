//! USB-audio modems (the UC15's UAC interface) through cpal, resampled with rubato between
//! the device's rate and 8 kHz. Each open line runs on its own thread, because cpal
//! streams are not `Send`; samples cross between the audio callbacks and that thread in
//! small mutex-protected queues.
//!
//! Streams are opened in f32 at the device's default configuration, downmixed to mono on
//! input and duplicated to every channel on output.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use async_trait::async_trait;
use cellgate_hal::{AudioChannel, AudioHal, HalError, HalResult, LineId, PcmFrame, FRAME_SAMPLES};
use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler};
use tokio::sync::mpsc;

/// Which sound devices a line uses (by the name cpal shows; `None` = the default device).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CpalDevices {
    /// Capture device: audio from the module.
    pub input: Option<String>,
    /// Playback device: audio to the module.
    pub output: Option<String>,
}

struct Running {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

/// `AudioHal` over cpal devices, one pair per line.
pub struct CpalAudio {
    lines: HashMap<LineId, CpalDevices>,
    open: Mutex<HashMap<LineId, Running>>,
}

impl std::fmt::Debug for CpalAudio {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CpalAudio")
            .field("lines", &self.lines)
            .finish()
    }
}

impl CpalAudio {
    /// A backend with the given devices per line.
    pub fn new(lines: HashMap<LineId, CpalDevices>) -> Self {
        CpalAudio {
            lines,
            open: Mutex::new(HashMap::new()),
        }
    }
}

fn find(host: &cpal::Host, name: Option<&str>, input: bool) -> Result<cpal::Device, String> {
    match name {
        None => if input {
            host.default_input_device()
        } else {
            host.default_output_device()
        }
        .ok_or_else(|| "no default sound device".to_string()),
        Some(want) => {
            let devices = if input {
                host.input_devices()
            } else {
                host.output_devices()
            }
            .map_err(|e| e.to_string())?;
            for d in devices {
                if d.to_string() == want {
                    return Ok(d);
                }
            }
            Err(format!("no sound device named `{want}`"))
        }
    }
}

/// Chunk of device-rate audio handed to the resampler at once (about 20 ms).
fn chunk_for(rate: u32) -> usize {
    (rate as usize / 50).max(1)
}

fn run_line(
    devices: CpalDevices,
    stop: Arc<AtomicBool>,
    from_gsm: mpsc::Sender<PcmFrame>,
    mut to_gsm: mpsc::Receiver<PcmFrame>,
    ready: std::sync::mpsc::Sender<Result<(), String>>,
) {
    let host = cpal::default_host();
    let setup = (|| -> Result<_, String> {
        let in_dev = find(&host, devices.input.as_deref(), true)?;
        let out_dev = find(&host, devices.output.as_deref(), false)?;
        let in_cfg = in_dev
            .default_input_config()
            .map_err(|e| e.to_string())?
            .config();
        let out_cfg = out_dev
            .default_output_config()
            .map_err(|e| e.to_string())?
            .config();
        let captured: Arc<Mutex<VecDeque<f32>>> = Arc::default();
        let playback: Arc<Mutex<VecDeque<f32>>> = Arc::default();
        let in_channels = usize::from(in_cfg.channels.max(1));
        let out_channels = usize::from(out_cfg.channels.max(1));
        let cap = Arc::clone(&captured);
        let input = in_dev
            .build_input_stream::<f32, _, _>(
                in_cfg,
                move |data: &[f32], _| {
                    if let Ok(mut q) = cap.lock() {
                        for f in data.chunks(in_channels) {
                            q.push_back(f.iter().sum::<f32>() / in_channels as f32);
                        }
                    }
                },
                |e| tracing::warn!("capture error: {e}"),
                None,
            )
            .map_err(|e| e.to_string())?;
        let play = Arc::clone(&playback);
        let output = out_dev
            .build_output_stream::<f32, _, _>(
                out_cfg,
                move |data: &mut [f32], _| {
                    if let Ok(mut q) = play.lock() {
                        for f in data.chunks_mut(out_channels) {
                            let v = q.pop_front().unwrap_or(0.0);
                            f.iter_mut().for_each(|s| *s = v);
                        }
                    }
                },
                |e| tracing::warn!("playback error: {e}"),
                None,
            )
            .map_err(|e| e.to_string())?;
        input.play().map_err(|e| e.to_string())?;
        output.play().map_err(|e| e.to_string())?;
        let down = Fft::<f32>::new(
            in_cfg.sample_rate as usize,
            8_000,
            chunk_for(in_cfg.sample_rate),
            1,
            FixedSync::Input,
        )
        .map_err(|e| e.to_string())?;
        let up = Fft::<f32>::new(
            8_000,
            out_cfg.sample_rate as usize,
            FRAME_SAMPLES,
            1,
            FixedSync::Input,
        )
        .map_err(|e| e.to_string())?;
        Ok((
            input,
            output,
            captured,
            playback,
            down,
            up,
            in_cfg.sample_rate,
        ))
    })();
    let (_input, _output, captured, playback, mut down, mut up, in_rate) = match setup {
        Ok(s) => {
            let _ = ready.send(Ok(()));
            s
        }
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let chunk = chunk_for(in_rate);
    let mut block = vec![0f32; chunk];
    let mut narrow: Vec<f32> = Vec::with_capacity(4 * FRAME_SAMPLES);
    let mut out8k = vec![0f32; FRAME_SAMPLES];
    while !stop.load(Ordering::Relaxed) {
        // Capture: device rate -> 8 kHz -> 20 ms frames.
        loop {
            let got = captured
                .lock()
                .ok()
                .filter(|q| q.len() >= chunk)
                .map(|mut q| {
                    block
                        .iter_mut()
                        .for_each(|s| *s = q.pop_front().unwrap_or(0.0));
                });
            if got.is_none() {
                break;
            }
            let Ok(adapter) = InterleavedSlice::new(&block[..], 1, chunk) else {
                break;
            };
            if let Ok(res) = down.process(&adapter, None) {
                narrow.extend(res.take_data());
            }
            while narrow.len() >= FRAME_SAMPLES {
                let mut frame = [0i16; FRAME_SAMPLES];
                for (d, s) in frame.iter_mut().zip(narrow.drain(..FRAME_SAMPLES)) {
                    *d = (s * 32_767.0).clamp(-32_768.0, 32_767.0) as i16;
                }
                let _ = from_gsm.try_send(frame);
            }
        }
        // Playback: 20 ms frames -> device rate.
        while let Ok(frame) = to_gsm.try_recv() {
            for (d, s) in out8k.iter_mut().zip(frame.iter()) {
                *d = f32::from(*s) / 32_768.0;
            }
            let Ok(adapter) = InterleavedSlice::new(&out8k[..], 1, FRAME_SAMPLES) else {
                break;
            };
            if let Ok(res) = up.process(&adapter, None) {
                if let Ok(mut q) = playback.lock() {
                    q.extend(res.take_data());
                }
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[async_trait]
impl AudioHal for CpalAudio {
    async fn open(&self, line: LineId) -> HalResult<AudioChannel> {
        let devices = self.lines.get(&line).cloned().ok_or_else(|| {
            HalError::InvalidArgument(format!("no sound device configured for {line}"))
        })?;
        let (from_tx, from_gsm) = mpsc::channel(8);
        let (to_gsm, to_rx) = mpsc::channel(8);
        let stop = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name(format!("cpal-{line}"))
            .spawn(move || run_line(devices, flag, from_tx, to_rx, ready_tx))
            .map_err(|e| HalError::LinkDown(e.to_string()))?;
        let ready = tokio::task::spawn_blocking(move || ready_rx.recv())
            .await
            .map_err(|e| HalError::LinkDown(e.to_string()))?;
        match ready {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(HalError::LinkDown(e)),
            Err(e) => return Err(HalError::LinkDown(e.to_string())),
        }
        if let Ok(mut open) = self.open.lock() {
            if let Some(old) = open.insert(line, Running { stop, thread }) {
                old.stop.store(true, Ordering::Relaxed);
            }
        }
        Ok(AudioChannel { from_gsm, to_gsm })
    }

    async fn close(&self, line: LineId) -> HalResult<()> {
        let running = self.open.lock().ok().and_then(|mut o| o.remove(&line));
        if let Some(r) = running {
            r.stop.store(true, Ordering::Relaxed);
            let _ = tokio::task::spawn_blocking(move || r.thread.join()).await;
        }
        Ok(())
    }
}
