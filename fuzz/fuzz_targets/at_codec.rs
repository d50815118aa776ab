//! Fuzz the sans-IO AT codec: arbitrary module output, split at arbitrary points, while
//! a command (chosen by the first input byte) is pending; timeouts and resyncs in between.
//! The codec must never panic, and must stay usable: after a resync a fresh command gets
//! its `OK`.
#![no_main]

use std::time::Duration;

use cellgate_backends::at::{AtCodec, AtCommand, AtItem, Final, Instant};
use libfuzzer_sys::fuzz_target;

const COMMANDS: &[&str] = &[
    "AT", "AT+CLCC", "AT+CMGL=4", "AT+CMGR=1", "AT+CGSN", "AT+CREG?", "ATD123;", "AT+CMGS=5",
];

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let mut codec = AtCodec::new();
    let now = Instant::now();
    let line = COMMANDS[usize::from(sel) % COMMANDS.len()];
    let Ok(mut cmd) = AtCommand::new(line) else {
        return;
    };
    if line.starts_with("AT+CMGS") {
        cmd = cmd.with_body(b"0011AABBCC".to_vec());
    }
    let _ = codec.send_command(cmd, Duration::from_secs(5), now);
    let chunk = usize::from(sel >> 3).max(1);
    for (i, part) in rest.chunks(chunk).enumerate() {
        codec.push_bytes(part);
        while codec.poll_item().is_some() {}
        while codec.poll_transmit().is_some() {}
        if i % 7 == 6 {
            codec.handle_timeout(now + Duration::from_secs(10));
        }
    }
    codec.resync();
    while codec.poll_item().is_some() {}
    while codec.poll_transmit().is_some() {}
    let Ok(probe) = AtCommand::new("AT") else {
        return;
    };
    assert!(codec.send_command(probe, Duration::from_secs(1), now).is_ok());
    codec.push_bytes(b"\r\nOK\r\n");
    let mut got_ok = false;
    while let Some(item) = codec.poll_item() {
        got_ok |= item == AtItem::Final(Final::Ok);
    }
    assert!(got_ok, "codec did not recover after resync");
});
