//! The bridge end to end in memory, on an explicit clock: audio quality (SNR) through
//! G.711 and G.729 both ways, an impaired network (jitter, reordering, 5% loss), DTMF in
//! every mode both ways, and the RTP timeout.

use std::f64::consts::TAU;
use std::time::{Duration, Instant};

use cellgate_media::bridge::{Bridge, BridgeConfig, BridgeEvent};
use cellgate_media::codec::Codec;
use cellgate_media::dtmf::detect::{Detected, DtmfDetector};
use cellgate_media::dtmf::generate::tone_samples;
use cellgate_media::dtmf::rfc4733::{EventReceiver, EventSender, ReceivedEvent};
use cellgate_media::dtmf::{Digit, DtmfAction, DtmfMode, GsmDtmfPath};
use cellgate_media::jitter::JitterMode;
use cellgate_media::rtp::{self, RtpHeader};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const FRAME: usize = 160;

fn tone(freq: f64, amp: f64, n: usize) -> Vec<i16> {
    (0..n)
        .map(|i| (amp * (TAU * freq * i as f64 / 8_000.0).sin()) as i16)
        .collect()
}

/// SNR in dB of `out` against `reference`, after finding the delay (0..max_lag samples)
/// that best aligns them; measured over `len` samples starting at `skip` in `out`.
fn snr_db(reference: &[i16], out: &[i16], skip: usize, len: usize, max_lag: usize) -> (f64, usize) {
    let mut best = (f64::MIN, 0);
    for lag in 0..max_lag.min(skip) {
        let mut corr = 0.0;
        for i in skip..skip + len.min(4_000) {
            corr += f64::from(out[i]) * f64::from(reference[i - lag]);
        }
        if corr > best.0 {
            best = (corr, lag);
        }
    }
    let lag = best.1;
    let (mut sig, mut noise) = (0.0, 0.0);
    for i in skip..skip + len {
        let r = f64::from(reference[i - lag]);
        let e = f64::from(out[i]) - r;
        sig += r * r;
        noise += e * e;
    }
    (10.0 * (sig / noise.max(1e-9)).log10(), lag)
}

/// Segmental SNR for streams whose delay may change (adaptive jitter buffers stretch and
/// shrink): each 500 ms segment is aligned on its own. Returns (mean of the segments'
/// SNR in dB, SNR of all segments' energy together, worst segment).
fn seg_snr_db(
    reference: &[i16],
    out: &[i16],
    skip: usize,
    len: usize,
    max_lag: usize,
) -> (f64, f64, f64) {
    const SEG: usize = 4_000;
    let (mut sum_db, mut n, mut worst) = (0.0, 0, f64::MAX);
    let (mut sig_all, mut noise_all) = (0.0, 0.0);
    let mut start = skip;
    while start + SEG <= skip + len && start + SEG <= out.len() {
        let mut best = (f64::MIN, 0);
        for lag in 0..max_lag.min(start) {
            let mut corr = 0.0;
            for i in start..start + 1_000 {
                corr += f64::from(out[i]) * f64::from(reference[i - lag]);
            }
            if corr > best.0 {
                best = (corr, lag);
            }
        }
        let (mut sig, mut noise) = (0.0, 0.0);
        for i in start..start + SEG {
            let r = f64::from(reference[i - best.1]);
            sig += r * r;
            noise += (f64::from(out[i]) - r).powi(2);
        }
        let db = 10.0 * (sig / noise.max(1e-9)).log10();
        sum_db += db;
        worst = worst.min(db);
        n += 1;
        sig_all += sig;
        noise_all += noise;
        start += SEG;
    }
    (
        sum_db / f64::from(n.max(1)),
        10.0 * (sig_all / noise_all.max(1e-9)).log10(),
        worst,
    )
}

fn frames(samples: &[i16]) -> impl Iterator<Item = [i16; FRAME]> + '_ {
    samples.chunks_exact(FRAME).map(|c| {
        let mut f = [0i16; FRAME];
        f.copy_from_slice(c);
        f
    })
}

fn rtp_packets(codec: Codec, pt: u8, samples: &[i16]) -> Vec<Vec<u8>> {
    let mut enc = codec.encoder();
    frames(samples)
        .enumerate()
        .map(|(i, f)| {
            let mut payload = Vec::new();
            enc.encode_into(&f, &mut payload);
            let mut out = Vec::new();
            let h = RtpHeader {
                payload_type: pt,
                marker: i == 0,
                sequence: 40_000u16.wrapping_add(i as u16),
                timestamp: 4_000_000_000u32.wrapping_add(i as u32 * 160),
                ssrc: 99,
            };
            rtp::write(&mut out, &h, &payload);
            out
        })
        .collect()
}

fn config(codec: Codec) -> BridgeConfig {
    BridgeConfig {
        codec,
        payload_type: codec.payload_type(),
        jitter: JitterMode::Fixed { delay_ms: 40 },
        ..BridgeConfig::default()
    }
}

/// Sends `samples` as RTP through the bridge (packet i arrives at 20 ms × i + delay_i,
/// `None` = lost) and returns the PCM it plays out, one frame per 20 ms tick.
fn play_through(
    cfg: &BridgeConfig,
    packets: &[Vec<u8>],
    arrival_ms: &[Option<u64>],
    ticks: usize,
) -> (Vec<i16>, Bridge) {
    let t0 = Instant::now();
    let mut bridge = Bridge::new(cfg, t0);
    let mut schedule: Vec<(u64, usize)> = arrival_ms
        .iter()
        .enumerate()
        .filter_map(|(i, a)| a.map(|a| (a, i)))
        .collect();
    schedule.sort();
    let mut next = 0;
    let mut out = Vec::new();
    for tick in 0..ticks {
        let now_ms = tick as u64 * 20;
        while next < schedule.len() && schedule[next].0 <= now_ms {
            let (at, i) = schedule[next];
            bridge
                .on_rtp(&packets[i], t0 + Duration::from_millis(at))
                .unwrap_or_else(|e| panic!("{e}"));
            next += 1;
        }
        let mut frame = [0i16; FRAME];
        bridge.tick(t0 + Duration::from_millis(now_ms), &mut frame);
        out.extend_from_slice(&frame);
    }
    (out, bridge)
}

#[test]
fn g711_tone_rtp_to_pcm_snr_at_least_30_db() {
    for codec in [Codec::Pcma, Codec::Pcmu] {
        let reference = tone(1_000.0, 10_000.0, 8_000 * 3);
        let packets = rtp_packets(codec, codec.payload_type(), &reference);
        let arrivals: Vec<_> = (0..packets.len()).map(|i| Some(i as u64 * 20)).collect();
        let (out, _) = play_through(&config(codec), &packets, &arrivals, 150);
        let (snr, lag) = snr_db(&reference, &out, 4_000, 16_000, 2_000);
        println!("{codec} RTP->PCM 1 kHz SNR {snr:.1} dB (delay {lag} samples)");
        assert!(snr >= 30.0, "{codec}: {snr:.1} dB");
        // A 1 kHz tone repeats every 8 samples, so only the delay modulo 8 is visible:
        // 40 ms of fixed jitter buffer is 320 samples.
        assert_eq!(lag % 8, 0);
    }
}

fn pcm_to_rtp(cfg: &BridgeConfig, input: &[i16]) -> Vec<Vec<u8>> {
    let mut bridge = Bridge::new(cfg, Instant::now());
    let mut packets = Vec::new();
    for f in frames(input) {
        bridge.on_pcm(&f, |p| packets.push(p.to_vec()));
    }
    packets
}

fn decode_stream(codec: Codec, packets: &[Vec<u8>]) -> Vec<i16> {
    let mut dec = codec.decoder();
    let mut out = Vec::new();
    let mut last_seq: Option<u16> = None;
    for p in packets {
        let (h, payload) = rtp::parse(p).unwrap_or_else(|e| panic!("{e}"));
        if let Some(s) = last_seq {
            assert_eq!(h.sequence, s.wrapping_add(1), "sequence is continuous");
        }
        last_seq = Some(h.sequence);
        assert_eq!(h.payload_type, codec.payload_type());
        dec.decode_into(payload, &mut out)
            .unwrap_or_else(|e| panic!("{e}"));
    }
    out
}

#[test]
fn g711_phone_tone_pcm_to_rtp_decodes_back() {
    for codec in [Codec::Pcma, Codec::Pcmu] {
        let reference = tone(1_000.0, 10_000.0, 8_000 * 2);
        let packets = pcm_to_rtp(&config(codec), &reference);
        assert_eq!(packets.len(), 100);
        let first = rtp::parse(&packets[0])
            .map(|(h, _)| h.marker)
            .unwrap_or(false);
        assert!(first, "talkspurt starts with the marker bit");
        let out = decode_stream(codec, &packets);
        let (snr, lag) = snr_db(&reference, &out, 800, 12_000, 400);
        println!("{codec} PCM->RTP 1 kHz SNR {snr:.1} dB");
        assert!(snr >= 30.0 && lag == 0, "{codec}: {snr:.1} dB lag {lag}");
    }
}

#[test]
fn g729_both_ways_snr_reported() {
    let codec = Codec::G729;
    let reference = tone(1_000.0, 10_000.0, 8_000 * 3);
    let packets = rtp_packets(codec, 18, &reference);
    let arrivals: Vec<_> = (0..packets.len()).map(|i| Some(i as u64 * 20)).collect();
    let (out, _) = play_through(&config(codec), &packets, &arrivals, 150);
    let (snr_in, lag) = snr_db(&reference, &out, 4_000, 16_000, 2_000);
    let back = decode_stream(codec, &pcm_to_rtp(&config(codec), &reference));
    let (snr_out, _) = snr_db(&reference, &back, 4_000, 16_000, 400);
    println!("G.729 RTP->PCM 1 kHz SNR {snr_in:.1} dB (delay {lag}); PCM->RTP {snr_out:.1} dB");
    // A CELP codec does not preserve the waveform exactly; the tone must still be there.
    assert!(snr_in > 8.0 && snr_out > 8.0, "{snr_in:.1} / {snr_out:.1}");
}

#[test]
fn impaired_network_jitter_reordering_and_5_percent_loss() {
    let codec = Codec::Pcma;
    let seconds = 20;
    let reference = tone(1_000.0, 10_000.0, 8_000 * seconds);
    let packets = rtp_packets(codec, 8, &reference);
    let mut rng = ChaCha8Rng::seed_from_u64(6);
    let mut lost = 0;
    let arrivals: Vec<Option<u64>> = (0..packets.len())
        .map(|i| {
            if rng.gen_bool(0.05) {
                lost += 1;
                None
            } else {
                // 0-50 ms of network jitter: packets 20 ms apart overtake each other.
                Some(i as u64 * 20 + rng.gen_range(0..=50))
            }
        })
        .collect();
    let reordered = arrivals
        .windows(2)
        .filter(|w| matches!(w, [Some(a), Some(b)] if b < a))
        .count();
    let cfg = BridgeConfig {
        jitter: JitterMode::Adaptive {
            min_ms: 20,
            max_ms: 200,
            initial_ms: 40,
        },
        ..config(codec)
    };
    let ticks = seconds * 50 + 20;
    let (out, bridge) = play_through(&cfg, &packets, &arrivals, ticks);
    let stats = bridge.rx.jitter_stats();
    // Continuity: after the start, no frame is silent (no stall, no gap).
    let silent_frames = out[4_000..8_000 * seconds]
        .chunks(FRAME)
        .filter(|f| f.iter().all(|&s| s.abs() < 100))
        .count();
    let (snr, lag) = snr_db(&reference, &out, 8_000, 8_000 * (seconds - 3), 2_400);
    let (seg, overall, worst) = seg_snr_db(&reference, &out, 8_000, 8_000 * (seconds - 3), 2_400);
    println!("impaired 1 kHz: segmental SNR {seg:.1} dB, overall {overall:.1} dB, worst 500 ms {worst:.1} dB");
    println!(
        "impaired: {lost} lost, {reordered} reordered; played {} concealed {} late {} \
         dropped {}; target {} ms, jitter {:.1} ms; SNR {snr:.1} dB at delay {} ms; \
         silent frames {silent_frames}",
        stats.played,
        stats.concealed,
        stats.late,
        stats.overflow_drops,
        bridge.rx.jitter().target_ms(),
        bridge.rx.jitter().jitter_ms(),
        lag / 8,
    );
    assert!(reordered > 20, "the schedule really reorders ({reordered})");
    assert_eq!(out.len(), ticks * FRAME, "one frame every tick");
    assert_eq!(silent_frames, 0);
    assert!(stats.played as f64 >= 0.9 * packets.len() as f64);
    assert!(snr > 15.0, "SNR {snr:.1} dB");
}

#[test]
fn impaired_speech_like_signal_stays_intelligible() {
    // Two non-harmonic tones with a slow amplitude envelope: concealment cannot cheat by
    // repeating whole periods, so this measures what PLC really costs.
    let codec = Codec::Pcmu;
    let n = 8_000 * 10;
    let reference: Vec<i16> = (0..n)
        .map(|i| {
            let t = i as f64 / 8_000.0;
            let env = 0.6 + 0.4 * (TAU * 3.0 * t).sin();
            (env * (6_000.0 * (TAU * 430.0 * t).sin() + 3_000.0 * (TAU * 1_370.0 * t).sin())) as i16
        })
        .collect();
    let packets = rtp_packets(codec, 0, &reference);
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    let arrivals: Vec<Option<u64>> = (0..packets.len())
        .map(|i| (!rng.gen_bool(0.05)).then(|| i as u64 * 20 + rng.gen_range(0..=30)))
        .collect();
    let cfg = BridgeConfig {
        jitter: JitterMode::Ordered {
            min_ms: 40,
            max_ms: 160,
        },
        ..config(codec)
    };
    let (out, bridge) = play_through(&cfg, &packets, &arrivals, 520);
    let (seg, overall, worst) = seg_snr_db(&reference, &out, 8_000, 8_000 * 8, 1_600);
    let clean: Vec<Option<u64>> = (0..packets.len()).map(|i| Some(i as u64 * 20)).collect();
    let (ideal, _) = play_through(&cfg, &packets, &clean, 520);
    let (snr_clean, _) = snr_db(&reference, &ideal, 8_000, 8_000 * 8, 1_600);
    let st = bridge.rx.jitter_stats();
    println!(
        "two-tone signal: SNR {snr_clean:.1} dB clean; with 5% loss + 0-30 ms jitter: \
         segmental SNR {seg:.1} dB, overall {overall:.1} dB, worst 500 ms {worst:.1} dB \
         (played {}, concealed {}, late {})",
        st.played, st.concealed, st.late
    );
    assert!(snr_clean >= 30.0);
    // Waveform SNR is harsh on concealment: a concealed 20 ms of a non-periodic signal
    // cannot match the lost waveform and costs up to twice its energy, so 5% loss bounds
    // the SNR near 10 dB however good the PLC sounds; no perceptual metric (PESQ) is
    // available here.
    assert!(overall > 6.0, "{overall:.1}");
    assert!(worst > 5.0, "{worst:.1}");
    assert!(
        st.played >= 460,
        "almost every packet played: {}",
        st.played
    );
}

#[test]
fn rtp_timeout_fires_once_after_configured_silence() {
    let cfg = BridgeConfig {
        rtp_timeout: Some(Duration::from_secs(2)),
        ..config(Codec::Pcma)
    };
    let t0 = Instant::now();
    let mut b = Bridge::new(&cfg, t0);
    let packets = rtp_packets(Codec::Pcma, 8, &tone(500.0, 1_000.0, 160 * 10));
    let mut timeouts = Vec::new();
    let mut frame = [0i16; FRAME];
    for tick in 0..300u64 {
        let now = t0 + Duration::from_millis(tick * 20);
        if tick < 10 {
            b.on_rtp(&packets[tick as usize], now)
                .unwrap_or_else(|e| panic!("{e}"));
        }
        b.tick(now, &mut frame);
        while let Some(e) = b.poll_event() {
            if let BridgeEvent::RtpTimeout { silent_for } = e {
                timeouts.push((tick, silent_for));
            }
        }
    }
    // Last packet at tick 9 (180 ms): the timeout is due at 2180 ms = tick 109.
    assert_eq!(timeouts, vec![(109, Duration::from_secs(2))]);
}

fn digit(c: char) -> Digit {
    Digit::from_char(c).unwrap_or_else(|| panic!("{c}"))
}

fn events(b: &mut Bridge) -> Vec<BridgeEvent> {
    std::iter::from_fn(|| b.poll_event()).collect()
}

fn engine_actions(ev: &[BridgeEvent]) -> Vec<DtmfAction> {
    ev.iter()
        .filter_map(|e| match e {
            BridgeEvent::Dtmf(a) => Some(*a),
            _ => None,
        })
        .collect()
}

fn detect_all(samples: &[i16]) -> String {
    let mut d = DtmfDetector::new();
    let mut s = String::new();
    d.process(samples, |e| {
        if let Detected::Started(x) = e {
            s.push(x.to_char());
        }
    });
    s
}

/// Runs `ticks` of a call with silence from the module; collects PCM to the module and
/// RTP to the peer.
fn run_call(
    b: &mut Bridge,
    t0: Instant,
    from_tick: u64,
    ticks: u64,
    gsm_pcm: &[i16],
) -> (Vec<i16>, Vec<Vec<u8>>) {
    let mut to_gsm = Vec::new();
    let mut to_sip = Vec::new();
    let mut src = frames(gsm_pcm);
    for t in from_tick..from_tick + ticks {
        let now = t0 + Duration::from_millis(t * 20);
        let mut f = [0i16; FRAME];
        b.tick(now, &mut f);
        to_gsm.extend_from_slice(&f);
        let input = src.next().unwrap_or([0; FRAME]);
        b.on_pcm(&input, |p| to_sip.push(p.to_vec()));
    }
    (to_gsm, to_sip)
}

fn rfc4733_digits(packets: &[Vec<u8>], te_pt: u8) -> String {
    let mut r = EventReceiver::new();
    let mut s = String::new();
    for p in packets {
        if let Ok((h, payload)) = rtp::parse(p) {
            if h.payload_type == te_pt {
                r.on_packet(h.timestamp, payload, |e| {
                    if let ReceivedEvent::Ended(d, _) = e {
                        s.push(d.to_char());
                    }
                });
            }
        }
    }
    s
}

fn decode_voice(packets: &[Vec<u8>], codec: Codec) -> Vec<i16> {
    let mut dec = codec.decoder();
    let mut out = Vec::new();
    for p in packets {
        if let Ok((h, payload)) = rtp::parse(p) {
            if h.payload_type == codec.payload_type() {
                let _ = dec.decode_into(payload, &mut out);
            }
        }
    }
    out
}

#[test]
fn dtmf_rfc4733_mode_both_ways() {
    let cfg = BridgeConfig {
        dtmf_mode: DtmfMode::Rfc4733,
        ..config(Codec::Pcma)
    };
    let t0 = Instant::now();
    let mut b = Bridge::new(&cfg, t0);
    // SIP -> GSM: RFC 4733 packets become AT+VTS.
    let mut s = EventSender::new(digit('4'), 100, 1_000, 160);
    let mut seq = 7u16;
    while let Some(p) = s.next_packet() {
        let mut pkt = Vec::new();
        let h = RtpHeader {
            payload_type: 101,
            marker: p.marker,
            sequence: seq,
            timestamp: p.timestamp,
            ssrc: 5,
        };
        rtp::write(&mut pkt, &h, &p.payload);
        seq += 1;
        b.on_rtp(&pkt, t0).unwrap_or_else(|e| panic!("{e}"));
    }
    let ev = events(&mut b);
    assert_eq!(
        engine_actions(&ev),
        vec![DtmfAction::SendAtVts {
            digit: digit('4'),
            duration_ms: 100
        }]
    );
    // GSM -> SIP: a +QTONEDET digit becomes RFC 4733 events in our stream.
    b.dtmf_from_module(digit('#'), 100);
    b.dtmf_from_module(digit('9'), 80);
    let (_, rtp_out) = run_call(&mut b, t0, 0, 40, &[]);
    assert_eq!(rfc4733_digits(&rtp_out, 101), "#9");
    // Voice resumes after the events, with continuous sequence numbers.
    let seqs: Vec<u16> = rtp_out
        .iter()
        .filter_map(|p| rtp::parse(p).ok())
        .map(|(h, _)| h.sequence)
        .collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0].wrapping_add(1)));
}

#[test]
fn dtmf_sip_info_mode_both_ways() {
    let cfg = BridgeConfig {
        dtmf_mode: DtmfMode::SipInfo,
        ..config(Codec::Pcmu)
    };
    let t0 = Instant::now();
    let mut b = Bridge::new(&cfg, t0);
    b.dtmf_from_sip_info(digit('1'), 250);
    b.dtmf_from_module(digit('*'), 120);
    assert_eq!(
        engine_actions(&events(&mut b)),
        vec![
            DtmfAction::SendAtVts {
                digit: digit('1'),
                duration_ms: 250
            },
            DtmfAction::SendSipInfo {
                digit: digit('*'),
                duration_ms: 120
            },
        ]
    );
}

#[test]
fn dtmf_in_band_mode_both_ways() {
    let codec = Codec::Pcma;
    let t0 = Instant::now();
    // SIP sends the tone in its audio; with AT+VTS on the module side it is detected.
    let cfg = BridgeConfig {
        dtmf_mode: DtmfMode::InBand,
        ..config(codec)
    };
    let mut sip_audio = vec![0i16; 1_600];
    sip_audio.extend(tone_samples(digit('8'), 80, -12.0));
    sip_audio.extend(vec![0i16; 4_000]);
    let packets = rtp_packets(codec, 8, &sip_audio);
    let arrivals: Vec<_> = (0..packets.len()).map(|i| Some(i as u64 * 20)).collect();
    let (_, mut b) = play_through(&cfg, &packets, &arrivals, packets.len() + 10);
    let ev = events(&mut b);
    assert_eq!(engine_actions(&ev).len(), 1);
    assert!(
        matches!(engine_actions(&ev)[0], DtmfAction::SendAtVts { digit: d, .. } if d == digit('8'))
    );

    // GSM -> SIP: a module-reported digit is played into the RTP audio.
    let mut b = Bridge::new(&cfg, t0);
    b.dtmf_from_module(digit('0'), 100);
    b.dtmf_from_module(digit('D'), 100);
    let (_, rtp_out) = run_call(&mut b, t0, 0, 40, &[]);
    assert_eq!(detect_all(&decode_voice(&rtp_out, codec)), "0D");

    // Module side in-band too: RFC 4733 from SIP is played into the PCM to the module,
    // and a tone in the module's PCM becomes RFC 4733 (mode RFC 4733).
    let cfg = BridgeConfig {
        dtmf_mode: DtmfMode::Rfc4733,
        gsm_dtmf: GsmDtmfPath::InBand,
        ..config(codec)
    };
    let mut b = Bridge::new(&cfg, t0);
    let mut s = EventSender::new(digit('3'), 100, 0, 160);
    let mut seq = 0u16;
    while let Some(p) = s.next_packet() {
        let mut pkt = Vec::new();
        let h = RtpHeader {
            payload_type: 101,
            marker: p.marker,
            sequence: seq,
            timestamp: p.timestamp,
            ssrc: 5,
        };
        rtp::write(&mut pkt, &h, &p.payload);
        seq += 1;
        b.on_rtp(&pkt, t0).unwrap_or_else(|e| panic!("{e}"));
    }
    let mut gsm = vec![0i16; 800];
    gsm.extend(tone_samples(digit('B'), 60, -15.0));
    gsm.extend(vec![0i16; 2_000]);
    let (to_gsm, rtp_out) = run_call(&mut b, t0, 0, 40, &gsm);
    assert_eq!(detect_all(&to_gsm), "3");
    assert_eq!(rfc4733_digits(&rtp_out, 101), "B");
    assert!(engine_actions(&events(&mut b)).is_empty());
}

#[test]
fn vad_suppresses_silence_and_sends_comfort_noise_once() {
    let cfg = BridgeConfig {
        vad: true,
        comfort_noise_pt: Some(13),
        ..config(Codec::Pcmu)
    };
    let mut input = tone(800.0, 8_000.0, 8_000);
    input.extend(vec![0i16; 16_000]);
    input.extend(tone(800.0, 8_000.0, 1_600));
    let packets = pcm_to_rtp(&cfg, &input);
    let headers: Vec<RtpHeader> = packets
        .iter()
        .filter_map(|p| rtp::parse(p).ok())
        .map(|(h, _)| h)
        .collect();
    let cn: Vec<_> = headers.iter().filter(|h| h.payload_type == 13).collect();
    assert_eq!(cn.len(), 1);
    let voice = headers.iter().filter(|h| h.payload_type == 0).count();
    // 50 tone frames + 10 hangover + 10 tone frames; the 2 s of silence are not sent.
    assert_eq!(voice, 70);
    let markers = headers.iter().filter(|h| h.marker).count();
    assert_eq!(markers, 2, "each talkspurt starts with the marker bit");
    let last = headers.last().map(|h| h.timestamp).unwrap_or(0);
    assert_eq!(
        last,
        (24_000 + 1_440) as u32,
        "the timestamp runs on through silence"
    );
}

#[test]
fn ptime_40_and_10_packetise_correctly() {
    for (ptime, count, bytes) in [(40u32, 25usize, 320usize), (10, 100, 80)] {
        let cfg = BridgeConfig {
            ptime_ms: ptime,
            ..config(Codec::Pcma)
        };
        let packets = pcm_to_rtp(&cfg, &tone(1_000.0, 5_000.0, 8_000));
        assert_eq!(packets.len(), count, "ptime {ptime}");
        let (h, payload) = rtp::parse(&packets[1]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(payload.len(), bytes);
        assert_eq!(h.timestamp, bytes as u32);
    }
}

#[test]
fn gains_apply_in_both_directions() {
    use cellgate_media::gain::Gain;
    let cfg = BridgeConfig {
        input_gain: Gain::from_db(-6),
        output_gain: Gain::from_db(6),
        ..config(Codec::Pcma)
    };
    let reference = tone(1_000.0, 4_000.0, 8_000);
    let out = decode_stream(Codec::Pcma, &pcm_to_rtp(&cfg, &reference));
    let peak = |s: &[i16]| s.iter().map(|x| x.unsigned_abs()).max().unwrap_or(0);
    let p = peak(&out[800..]);
    assert!((1_900..2_100).contains(&p), "input gain -6 dB: peak {p}");
    let packets = rtp_packets(Codec::Pcma, 8, &reference);
    let arrivals: Vec<_> = (0..packets.len()).map(|i| Some(i as u64 * 20)).collect();
    let (out, _) = play_through(&cfg, &packets, &arrivals, 50);
    let p = peak(&out[2_000..]);
    assert!((7_700..8_300).contains(&p), "output gain +6 dB: peak {p}");
}
