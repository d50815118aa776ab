//! Per-line PCM over raw character devices, FIFOs or pipes carrying 8 kHz s16le mono:
//! 320 bytes per 20 ms frame each way.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

use async_trait::async_trait;
use cellgate_hal::{AudioChannel, AudioHal, HalError, HalResult, LineId, PcmFrame, FRAME_SAMPLES};
use tokio::fs::{File, OpenOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Bytes of one frame on the device.
const FRAME_BYTES: usize = FRAME_SAMPLES * 2;

/// Where a line's PCM comes from and goes to. The same path twice means one
/// bidirectional device (opened read-write once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PcmDevicePaths {
    /// Read: PCM from the module (what the GSM party says).
    pub input: PathBuf,
    /// Write: PCM to the module.
    pub output: PathBuf,
}

/// `AudioHal` over PCM device paths, one pair per line.
#[derive(Debug, Default)]
pub struct PcmDeviceAudio {
    lines: HashMap<LineId, PcmDevicePaths>,
    open: Mutex<HashMap<LineId, [JoinHandle<()>; 2]>>,
}

impl PcmDeviceAudio {
    /// A backend with the given paths per line.
    pub fn new(lines: HashMap<LineId, PcmDevicePaths>) -> Self {
        PcmDeviceAudio {
            lines,
            open: Mutex::new(HashMap::new()),
        }
    }

    async fn open_files(paths: &PcmDevicePaths) -> std::io::Result<(File, File)> {
        if paths.input == paths.output {
            let f = OpenOptions::new()
                .read(true)
                .write(true)
                .open(&paths.input)
                .await?;
            let g = f.try_clone().await?;
            return Ok((f, g));
        }
        // Open both at once: a FIFO's open blocks until its other end is opened, and the
        // module side may open them in either order.
        let mut write = OpenOptions::new();
        write.write(true);
        let (r, w) = tokio::join!(File::open(&paths.input), write.open(&paths.output));
        Ok((r?, w?))
    }
}

async fn read_loop(mut input: File, tx: mpsc::Sender<PcmFrame>) {
    let mut bytes = [0u8; FRAME_BYTES];
    loop {
        if input.read_exact(&mut bytes).await.is_err() {
            tracing::debug!("PCM input closed");
            return;
        }
        let mut frame = [0i16; FRAME_SAMPLES];
        for (s, b) in frame.iter_mut().zip(bytes.chunks_exact(2)) {
            *s = i16::from_le_bytes([b[0], b[1]]);
        }
        if tx.send(frame).await.is_err() {
            return;
        }
    }
}

async fn write_loop(mut output: File, mut rx: mpsc::Receiver<PcmFrame>) {
    let mut bytes = [0u8; FRAME_BYTES];
    while let Some(frame) = rx.recv().await {
        for (b, s) in bytes.chunks_exact_mut(2).zip(frame.iter()) {
            b.copy_from_slice(&s.to_le_bytes());
        }
        if output.write_all(&bytes).await.is_err() {
            tracing::debug!("PCM output closed");
            return;
        }
    }
}

#[async_trait]
impl AudioHal for PcmDeviceAudio {
    async fn open(&self, line: LineId) -> HalResult<AudioChannel> {
        let paths = self.lines.get(&line).ok_or_else(|| {
            HalError::InvalidArgument(format!("no PCM device configured for {line}"))
        })?;
        let (input, output) = Self::open_files(paths)
            .await
            .map_err(|e| HalError::LinkDown(format!("{}: {e}", paths.input.display())))?;
        let (from_tx, from_gsm) = mpsc::channel(8);
        let (to_gsm, to_rx) = mpsc::channel(8);
        let tasks = [
            tokio::spawn(read_loop(input, from_tx)),
            tokio::spawn(write_loop(output, to_rx)),
        ];
        if let Ok(mut open) = self.open.lock() {
            if let Some(old) = open.insert(line, tasks) {
                old.iter().for_each(JoinHandle::abort);
            }
        }
        Ok(AudioChannel { from_gsm, to_gsm })
    }

    async fn close(&self, line: LineId) -> HalResult<()> {
        if let Ok(mut open) = self.open.lock() {
            if let Some(tasks) = open.remove(&line) {
                tasks.iter().for_each(JoinHandle::abort);
            }
        }
        Ok(())
    }
}
