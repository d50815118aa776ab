//! The media hot path: cost per 20 ms frame of the bridge (RTP in -> jitter buffer ->
//! decode -> PCM out, and PCM in -> encode -> RTP out), for G.711 and G.729, next to a
//! bare UDP receive-and-send of the same packet stream over loopback, measured in the
//! same run. The closing report prints the ratio and the calls one core sustains.

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use cellgate_media::bridge::{Bridge, BridgeConfig};
use cellgate_media::codec::Codec;
use cellgate_media::jitter::JitterMode;
use cellgate_media::rtp::{self, RtpHeader};
use criterion::{black_box, criterion_group, criterion_main, Criterion};

const FRAME: usize = 160;

fn tone_frame(i: usize) -> [i16; FRAME] {
    let mut f = [0i16; FRAME];
    for (k, s) in f.iter_mut().enumerate() {
        let n = (i * FRAME + k) as f64;
        *s = (8_000.0 * (std::f64::consts::TAU * 1_000.0 * n / 8_000.0).sin()) as i16;
    }
    f
}

/// One call's bridge fed in steady state: each `step` is one 20 ms frame each way.
struct Call {
    bridge: Bridge,
    payload: Vec<u8>,
    packet: Vec<u8>,
    frame_in: [i16; FRAME],
    out: [i16; FRAME],
    t0: Instant,
    n: u64,
    codec: Codec,
}

impl Call {
    fn new(codec: Codec) -> Self {
        let cfg = BridgeConfig {
            codec,
            payload_type: codec.payload_type(),
            jitter: JitterMode::Adaptive {
                min_ms: 20,
                max_ms: 200,
                initial_ms: 40,
            },
            ..BridgeConfig::default()
        };
        let t0 = Instant::now();
        Call {
            bridge: Bridge::new(&cfg, t0),
            payload: codec.encode(&tone_frame(0)),
            packet: Vec::with_capacity(256),
            frame_in: tone_frame(3),
            out: [0; FRAME],
            t0,
            n: 0,
            codec,
        }
    }

    fn packet(&mut self) -> &[u8] {
        self.packet.clear();
        let h = RtpHeader {
            payload_type: self.codec.payload_type(),
            marker: false,
            sequence: self.n as u16,
            timestamp: (self.n as u32).wrapping_mul(160),
            ssrc: 1,
        };
        rtp::write(&mut self.packet, &h, &self.payload);
        &self.packet
    }

    fn rtp_to_pcm(&mut self) {
        let now = self.t0 + Duration::from_millis(self.n * 20);
        self.packet();
        let _ = self.bridge.on_rtp(&self.packet, now);
        self.bridge.tick(now, &mut self.out);
        black_box(&self.out);
        self.n += 1;
    }

    fn pcm_to_rtp(&mut self) {
        self.bridge.on_pcm(&self.frame_in, |p| {
            black_box(p);
        });
    }
}

struct Udp {
    a: UdpSocket,
    b: UdpSocket,
    c: UdpSocket,
    c_addr: std::net::SocketAddr,
    buf: [u8; 2_048],
}

impl Udp {
    fn new() -> Option<Self> {
        let a = UdpSocket::bind("127.0.0.1:0").ok()?;
        let b = UdpSocket::bind("127.0.0.1:0").ok()?;
        let c = UdpSocket::bind("127.0.0.1:0").ok()?;
        // Only `a` is connected: a connected `b` would drop what `a` sends it.
        a.connect(b.local_addr().ok()?).ok()?;
        for s in [&b, &c] {
            s.set_read_timeout(Some(Duration::from_secs(1))).ok()?;
        }
        let c_addr = c.local_addr().ok()?;
        Some(Udp {
            a,
            b,
            c,
            c_addr,
            buf: [0; 2_048],
        })
    }

    /// One packet through a forwarding hop: the peer sends it, we receive it and send it
    /// on, the far side drains it — the I/O a session does per frame and direction.
    fn forward(&mut self, packet: &[u8]) {
        let _ = self.a.send(packet);
        if let Ok(n) = self.b.recv(&mut self.buf) {
            let _ = self.b.send_to(&self.buf[..n], self.c_addr);
        }
        let _ = self.c.recv(&mut self.buf);
    }
}

fn bench_bridge(c: &mut Criterion) {
    let mut g = c.benchmark_group("media_frame");
    for codec in [Codec::Pcma, Codec::G729] {
        let mut call = Call::new(codec);
        g.bench_function(format!("{codec}_rtp_to_pcm"), |b| {
            b.iter(|| call.rtp_to_pcm())
        });
        let mut call = Call::new(codec);
        g.bench_function(format!("{codec}_pcm_to_rtp"), |b| {
            b.iter(|| call.pcm_to_rtp())
        });
        let mut call = Call::new(codec);
        g.bench_function(format!("{codec}_both_directions"), |b| {
            b.iter(|| {
                call.rtp_to_pcm();
                call.pcm_to_rtp();
            })
        });
    }
    if let Some(mut udp) = Udp::new() {
        let mut call = Call::new(Codec::Pcma);
        let packet = call.packet().to_vec();
        g.bench_function("udp_loopback_receive_and_send", |b| {
            b.iter(|| udp.forward(&packet))
        });
    }
    g.finish();
}

/// Mean ns per iteration of `f` over `iters` after a warm-up.
fn time_ns(iters: u32, mut f: impl FnMut()) -> f64 {
    for _ in 0..iters / 10 {
        f();
    }
    let start = Instant::now();
    for _ in 0..iters {
        f();
    }
    start.elapsed().as_nanos() as f64 / f64::from(iters)
}

fn report(_c: &mut Criterion) {
    let Some(mut udp) = Udp::new() else {
        println!("media report: no loopback UDP, skipped");
        return;
    };
    let packet = Call::new(Codec::Pcma).packet().to_vec();
    let udp_ns = time_ns(50_000, || udp.forward(&packet));
    println!("\nmedia report (same run):");
    println!(
        "  bare UDP forward of one RTP packet over loopback (peer send, our receive, our \
         send, far-side receive): {udp_ns:.0} ns"
    );
    for codec in [Codec::Pcma, Codec::G729] {
        let mut call = Call::new(codec);
        let both = time_ns(50_000, || {
            call.rtp_to_pcm();
            call.pcm_to_rtp();
        });
        let budget = 20_000_000.0;
        println!(
            "  {codec}: bridge both directions {both:.0} ns per 20 ms frame = {:.2}x one UDP \
             forward; calls per core: {:.0} (bridge only), {:.0} (bridge + one UDP forward \
             per frame, which over-counts a session's own receive + send)",
            both / udp_ns,
            budget / both,
            budget / (both + udp_ns),
        );
    }
}

criterion_group!(benches, bench_bridge, report);
criterion_main!(benches);
