//! SMS PDU codec: encoding a SUBMIT, decoding a DELIVER, splitting a long UCS2 text and
//! reassembling its parts — what the gateway does for every message it sends or receives.

use std::time::Duration;

use cellgate_sms::{
    decode_mt, encode_deliver, encode_submit, split_text, Address, Deliver, MtPdu, Reassembler,
    SmscTimestamp, SplitOptions, Submit,
};
use criterion::{black_box, criterion_group, criterion_main, Criterion};

const LATIN: &str = "Your balance is 12.50 EUR. Top up at any shop or dial *100# for details {ok}";

fn long_ucs2() -> String {
    "Привет! 你好，世界 😀 — ".repeat(8)
}

fn bench_codec(c: &mut Criterion) {
    let submit = Submit::new(Address::international("4915112345678"), LATIN);
    c.bench_function("sms/encode_submit_gsm7", |b| {
        b.iter(|| encode_submit(black_box(&submit), None))
    });

    let stamp = SmscTimestamp::from_unix(1_795_600_000, 4);
    let deliver = Deliver::new(Address::international("8613800000001"), stamp, LATIN);
    let hex = match encode_deliver(&deliver, None) {
        Ok(pdu) => pdu.hex,
        Err(e) => panic!("encode_deliver: {e}"),
    };
    c.bench_function("sms/decode_deliver_gsm7", |b| {
        b.iter(|| decode_mt(black_box(&hex)))
    });

    let text = long_ucs2();
    c.bench_function("sms/split_ucs2_text", |b| {
        b.iter(|| split_text(black_box(&text), &SplitOptions::default()))
    });

    let parts: Vec<String> = match split_text(&text, &SplitOptions::default()) {
        Ok(parts) => parts
            .into_iter()
            .filter_map(|p| {
                encode_deliver(
                    &p.into_deliver(Address::international("8613800000001"), stamp),
                    None,
                )
                .ok()
                .map(|e| e.hex)
            })
            .collect(),
        Err(e) => panic!("split_text: {e}"),
    };
    c.bench_function("sms/decode_and_reassemble_ucs2_parts", |b| {
        b.iter(|| {
            let mut reassembler = Reassembler::new(Duration::from_secs(60));
            let mut done = None;
            for hex in &parts {
                if let Ok((_, MtPdu::Deliver(d))) = decode_mt(hex) {
                    done = reassembler.push_deliver(&d, 0).or(done);
                }
            }
            black_box(done)
        })
    });
}

criterion_group!(benches, bench_codec);
criterion_main!(benches);
