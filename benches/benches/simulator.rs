//! One simulated hour of a busy 32-line gateway, on a paused tokio clock: how long it takes
//! in wall time. Every line, all hour long: an outgoing call (dial, ring, answer, 60 s up,
//! `ATH`), an outgoing SMS (`AT+CMGS`, PDU mode), and a phone texting the line every 5
//! minutes (`+CMTI`, read with `AT+CMGR`, deleted with `AT+CMGD`).

use std::time::Duration;

use cellgate_simulator::{ModuleProfile, Network, NetworkConfig};
use criterion::{criterion_group, criterion_main, Criterion};
use tokio::io::{
    AsyncBufReadExt, AsyncWriteExt, BufReader, DuplexStream, Lines, ReadHalf, WriteHalf,
};
use tokio::time::{sleep, Instant};

const LINES: u16 = 32;
const HOUR: Duration = Duration::from_secs(3600);
/// `AT+CMGS=` length and PDU of a short SUBMIT ("hello", to +15550001).
const SUBMIT_LEN: usize = 16;
const SUBMIT_PDU: &str = "000100089151550010000005E8329BFD06";

struct Driver {
    rx: Lines<BufReader<ReadHalf<DuplexStream>>>,
    tx: WriteHalf<DuplexStream>,
    stored: Vec<String>,
}

impl Driver {
    async fn send(&mut self, cmd: &str) {
        let _ = self.tx.write_all(format!("{cmd}\r").as_bytes()).await;
    }

    /// Reads lines until one satisfies `done`; remembers `+CMTI` indexes on the way.
    async fn until(&mut self, done: impl Fn(&str) -> bool) -> Option<String> {
        loop {
            let line = self.rx.next_line().await.ok()??;
            if let Some(idx) = line.strip_prefix("+CMTI: \"SM\",") {
                self.stored.push(idx.to_owned());
            }
            if done(&line) {
                return Some(line);
            }
        }
    }

    async fn command(&mut self, cmd: &str) -> Option<String> {
        self.send(cmd).await;
        self.until(|l| l == "OK" || l.contains("ERROR")).await
    }
}

async fn drive_line(net: Network, line: u16, end: Instant) -> (u32, u32, u32) {
    let port = net.attach_modem(line, ModuleProfile::M35);
    let (r, w) = tokio::io::split(port);
    let mut d = Driver {
        rx: BufReader::new(r).lines(),
        tx: w,
        stored: Vec::new(),
    };
    d.until(|l| l == "SMS Ready").await;
    for cmd in [
        "ATE0",
        "AT+CMEE=1",
        "AT+QMOSTAT=1",
        "AT+CMGF=0",
        "AT+CNMI=2,1,0,0,0",
    ] {
        d.command(cmd).await;
    }
    let (mut calls, mut sent, mut read) = (0, 0, 0);
    while Instant::now() < end {
        d.command(&format!("ATD155501{line:02};")).await;
        if d.until(|l| l == "MO CONNECTED" || l == "NO CARRIER")
            .await
            .as_deref()
            == Some("MO CONNECTED")
        {
            calls += 1;
        }
        sleep(Duration::from_secs(60)).await;
        d.command("ATH").await;
        d.send(&format!("AT+CMGS={SUBMIT_LEN}")).await;
        sleep(Duration::from_millis(50)).await;
        let _ = d.tx.write_all(format!("{SUBMIT_PDU}\x1a").as_bytes()).await;
        if d.until(|l| l == "OK" || l.contains("ERROR"))
            .await
            .as_deref()
            == Some("OK")
        {
            sent += 1;
        }
        while let Some(idx) = d.stored.pop() {
            d.command(&format!("AT+CMGR={idx}")).await;
            d.command(&format!("AT+CMGD={idx}")).await;
            read += 1;
        }
        sleep(Duration::from_secs(90)).await;
    }
    (calls, sent, read)
}

fn one_busy_hour() -> (u32, u32, u32) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("runtime");
    rt.block_on(async {
        let net = Network::new(NetworkConfig::default());
        let end = Instant::now() + HOUR;
        let texting = {
            let net = net.clone();
            tokio::spawn(async move {
                while Instant::now() < end {
                    sleep(Duration::from_secs(300)).await;
                    for line in 1..=LINES {
                        let _ = net.phone_sends_sms("+8613912345678", line, "ping from a phone");
                    }
                }
            })
        };
        let tasks: Vec<_> = (1..=LINES)
            .map(|l| tokio::spawn(drive_line(net.clone(), l, end)))
            .collect();
        let mut total = (0, 0, 0);
        for t in tasks {
            if let Ok((c, s, r)) = t.await {
                total = (total.0 + c, total.1 + s, total.2 + r);
            }
        }
        let _ = texting.await;
        total
    })
}

fn bench(c: &mut Criterion) {
    let (calls, sent, read) = one_busy_hour();
    println!(
        "one simulated hour, {LINES} lines: {calls} calls, {sent} SMS sent, {read} SMS received"
    );
    assert!(calls > 0 && sent > 0 && read > 0);
    let mut g = c.benchmark_group("simulator");
    g.sample_size(10);
    g.bench_function("busy_32_line_hour", |b| b.iter(one_busy_hour));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
