//! Throughput of the model's hot path: `parse_frame` + `Tracker::track` over
//! in-memory Ethernet/IPv4/TCP frames (headers only, as a snap-length capture
//! holds them): many short connections interleaved with one bulk transfer.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use synack::tcp::parse::parse_frame;
use synack::tcp::track::Tracker;
use synack::tcp::{Flags, LinkType};
use synack::time::Timestamp;

const SHORT_CONNECTIONS: u32 = 2_000;
const BULK_SEGMENTS: u32 = 20_000;
const MSS: u32 = 1448;

struct Frame {
    bytes: Vec<u8>,
    wire_len: u32,
    ts: Timestamp,
}

#[allow(clippy::too_many_arguments)]
fn frame(
    ts_us: u64,
    src: ([u8; 4], u16),
    dst: ([u8; 4], u16),
    seq: u32,
    ack: u32,
    flags: Flags,
    win: u16,
    payload: u32,
) -> Frame {
    let syn = flags.syn();
    let opts: &[u8] = if syn {
        &[
            2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7,
        ]
    } else {
        &[1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 1]
    };
    let tcp_len = 20 + opts.len();
    let total = 20 + tcp_len + payload as usize;
    let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00];
    f.extend_from_slice(&[0x45, 0]);
    f.extend_from_slice(&(total as u16).to_be_bytes());
    f.extend_from_slice(&[0, 0, 0x40, 0, 64, 6, 0, 0]);
    f.extend_from_slice(&src.0);
    f.extend_from_slice(&dst.0);
    f.extend_from_slice(&src.1.to_be_bytes());
    f.extend_from_slice(&dst.1.to_be_bytes());
    f.extend_from_slice(&seq.to_be_bytes());
    f.extend_from_slice(&ack.to_be_bytes());
    f.push(((tcp_len / 4) as u8) << 4);
    f.push(flags.0);
    f.extend_from_slice(&win.to_be_bytes());
    f.extend_from_slice(&[0, 0, 0, 0]);
    f.extend_from_slice(opts);
    Frame {
        wire_len: (14 + total) as u32,
        bytes: f,
        ts: Timestamp(ts_us * 1000),
    }
}

fn workload() -> Vec<Frame> {
    let server = ([10, 0, 0, 2], 7000);
    let bulk_client = ([10, 0, 0, 3], 50000);
    let (a, sa, pa, fa) = (
        Flags::ACK,
        Flags::SYN | Flags::ACK,
        Flags::PSH | Flags::ACK,
        Flags::FIN | Flags::ACK,
    );
    let mut frames = Vec::new();
    let mut t = 0u64;
    let mut tick = || {
        t += 3;
        t
    };
    // The bulk connection's handshake.
    let (mut cs, ss) = (1_000_000u32, 9_000_000u32);
    frames.push(frame(
        tick(),
        bulk_client,
        server,
        cs,
        0,
        Flags::SYN,
        64240,
        0,
    ));
    frames.push(frame(tick(), server, bulk_client, ss, cs + 1, sa, 65160, 0));
    cs += 1;
    frames.push(frame(tick(), bulk_client, server, cs, ss + 1, a, 502, 0));
    let per_short = BULK_SEGMENTS / SHORT_CONNECTIONS;
    for i in 0..BULK_SEGMENTS {
        frames.push(frame(tick(), bulk_client, server, cs, ss + 1, pa, 502, MSS));
        cs = cs.wrapping_add(MSS);
        if i % 2 == 1 {
            frames.push(frame(tick(), server, bulk_client, ss + 1, cs, a, 509, 0));
        }
        if i % per_short == 0 {
            // One whole short connection (8 segments) every few bulk segments.
            let n = i / per_short;
            let client = ([10, 1, (n >> 8) as u8, n as u8], 30000 + (n % 30000) as u16);
            let (c, s) = (n.wrapping_mul(7919), n.wrapping_mul(104_729));
            frames.push(frame(tick(), client, server, c, 0, Flags::SYN, 64240, 0));
            frames.push(frame(tick(), server, client, s, c + 1, sa, 65160, 0));
            frames.push(frame(tick(), client, server, c + 1, s + 1, a, 502, 0));
            frames.push(frame(tick(), client, server, c + 1, s + 1, pa, 502, 100));
            frames.push(frame(tick(), server, client, s + 1, c + 101, pa, 509, 200));
            frames.push(frame(tick(), client, server, c + 101, s + 201, fa, 502, 0));
            frames.push(frame(tick(), server, client, s + 201, c + 102, fa, 509, 0));
            frames.push(frame(tick(), client, server, c + 102, s + 202, a, 502, 0));
        }
    }
    frames
}

fn bench_track(c: &mut Criterion) {
    let frames = workload();
    let mut group = c.benchmark_group("track");
    group.throughput(Throughput::Elements(frames.len() as u64));
    group.bench_function("parse_frame+track", |b| {
        b.iter(|| {
            let mut tracker = Tracker::new();
            let mut notes = 0u32;
            for f in &frames {
                if let Ok(Some(seg)) = parse_frame(LinkType::Ethernet, f.ts, &f.bytes, f.wire_len) {
                    notes += u32::from(tracker.track(&seg).notes.0 != 0);
                }
            }
            black_box((notes, tracker.len()))
        });
    });
    group.finish();
}

criterion_group!(benches, bench_track);
criterion_main!(benches);
