//! `PcmDeviceAudio` against FIFOs made with `mkfifo`, standing in for a module's PCM port.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;

use cellgate_hal::{AudioHal, LineId};
use cellgate_media::audio::{PcmDeviceAudio, PcmDevicePaths};
use tokio::fs::{File, OpenOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn fifo(dir: &std::path::Path, name: &str) -> PathBuf {
    let p = dir.join(name);
    let ok = Command::new("mkfifo")
        .arg(&p)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(ok, "mkfifo {}", p.display());
    p
}

#[tokio::test]
async fn frames_flow_both_ways_through_fifos() {
    let dir = std::env::temp_dir().join(format!("cellgate-pcm-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let input = fifo(&dir, "from_module");
    let output = fifo(&dir, "to_module");
    let line = LineId(1);
    let audio = PcmDeviceAudio::new(HashMap::from([(
        line,
        PcmDevicePaths {
            input: input.clone(),
            output: output.clone(),
        },
    )]));

    // The "module" opens its ends while the backend opens its own.
    let module = async {
        let w = OpenOptions::new().write(true).open(&input).await;
        let r = File::open(&output).await;
        (w, r)
    };
    let (chan, (w, r)) = tokio::join!(audio.open(line), module);
    let mut chan = chan.unwrap_or_else(|e| panic!("{e}"));
    let mut module_w = w.unwrap_or_else(|e| panic!("{e}"));
    let mut module_r = r.unwrap_or_else(|e| panic!("{e}"));

    // Module -> gateway: two frames of a ramp, written in odd-sized pieces.
    let samples: Vec<i16> = (0..320).map(|i| (i * 50 - 8_000) as i16).collect();
    let bytes: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
    for piece in bytes.chunks(77) {
        module_w
            .write_all(piece)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let f1 = chan
        .from_gsm
        .recv()
        .await
        .unwrap_or_else(|| panic!("no frame"));
    let f2 = chan
        .from_gsm
        .recv()
        .await
        .unwrap_or_else(|| panic!("no frame"));
    assert_eq!(&f1[..], &samples[..160]);
    assert_eq!(&f2[..], &samples[160..]);

    // Gateway -> module.
    let mut frame = [0i16; 160];
    frame[0] = -2;
    frame[159] = 12_345;
    chan.to_gsm
        .send(frame)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut back = [0u8; 320];
    module_r
        .read_exact(&mut back)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(i16::from_le_bytes([back[0], back[1]]), -2);
    assert_eq!(i16::from_le_bytes([back[318], back[319]]), 12_345);

    audio.close(line).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(audio.open(LineId(9)).await.is_err(), "unconfigured line");
    let _ = std::fs::remove_dir_all(&dir);
}
