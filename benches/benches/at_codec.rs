//! AT parsing: realistic module output (a 20-row `+CLCC` answer with URCs interleaved, and
//! a `+CMGL` answer with 10 PDUs) through the sans-IO `AtCodec`, in bytes per second.

use std::time::Duration;

use cellgate_backends::at::{AtCodec, AtCommand, AtItem, Instant};
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};

const PDU: &str = "07911326040000F0040B911346610089F60000208062917314080CC8F71D14969741F977FD07";

fn clcc_answer() -> Vec<u8> {
    let mut s = String::from("AT+CLCC\r\r\n");
    for i in 1..=20 {
        s.push_str(&format!(
            "+CLCC: {i},{},{},0,0,\"+4917012345{i:02}\",145,\"\"\r\n",
            i % 2,
            i % 6
        ));
        if i % 5 == 0 {
            s.push_str("\r\n+CREG: 1,\"1A2B\",\"00C4\"\r\n\r\nRING\r\n");
        }
    }
    s.push_str("\r\nOK\r\n");
    s.into_bytes()
}

fn cmgl_answer() -> Vec<u8> {
    let mut s = String::from("\r\n");
    for i in 1..=10 {
        s.push_str(&format!("+CMGL: {i},1,,{}\r\n{PDU}\r\n", PDU.len() / 2 - 8));
    }
    s.push_str("\r\n+CMTI: \"SM\",11\r\n\r\nOK\r\n");
    s.into_bytes()
}

fn command(line: &str) -> AtCommand {
    AtCommand::new(line).unwrap_or_else(|e| panic!("{e}"))
}

/// Run one command's answer through a fresh codec, in chunks of `chunk` bytes as a
/// serial port delivers them; returns the number of items.
fn parse(line: &str, answer: &[u8], chunk: usize) -> usize {
    let mut codec = AtCodec::new();
    let now = Instant::now();
    if codec
        .send_command(command(line), Duration::from_secs(5), now)
        .is_err()
    {
        return 0;
    }
    let _ = codec.poll_transmit();
    let mut items = 0;
    for part in answer.chunks(chunk) {
        codec.push_bytes(part);
        while let Some(item) = codec.poll_item() {
            black_box(&item);
            items += usize::from(!matches!(item, AtItem::TimedOut));
        }
    }
    items
}

fn bench(c: &mut Criterion) {
    let clcc = clcc_answer();
    let cmgl = cmgl_answer();
    let mut g = c.benchmark_group("at_codec");
    g.throughput(Throughput::Bytes(clcc.len() as u64));
    g.bench_function("clcc_20_rows_with_urcs/64B_chunks", |b| {
        b.iter(|| parse("AT+CLCC", black_box(&clcc), 64))
    });
    g.bench_function("clcc_20_rows_with_urcs/1B_chunks", |b| {
        b.iter(|| parse("AT+CLCC", black_box(&clcc), 1))
    });
    g.throughput(Throughput::Bytes(cmgl.len() as u64));
    g.bench_function("cmgl_10_pdus/64B_chunks", |b| {
        b.iter(|| parse("AT+CMGL=4", black_box(&cmgl), 64))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
