//! The model's throughput on a recorded flood: `synack watch --record-inputs` of
//! 0.3 s of `examples/loadgen` (4,500 short connections: 40,880 packets,
//! 130,000 tracepoint transitions, 167 sock_diag snapshots listing up to
//! thousands of TIME-WAIT sockets), replayed through tracking, notes, state
//! inference and the kernel/inferred merge; then the JSON writer over the
//! events it made; its packets alone, as a capture file gives them; and the
//! flood with the kernel's reason for each of its RSTs (a tcp_send_reset
//! report just before each, as root on Linux 6.10+ gives them: the flood
//! was recorded before synack read them).
//! Parsing frames is `benches/track.rs`.
//!
//!     cargo bench --bench model
//!
//! `SYNACK_BENCH_INPUTS=FILE` benches a flood of your own instead (the
//! inputs `synack watch --record-inputs FILE` wrote, gzipped or not): one
//! recorded as root while drops are traced exercises the kernel's witnesses
//! too.

use std::hint::black_box;
use std::io::{BufRead, BufReader};

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use synack::event::Event;
use synack::i18n::Lang;
use synack::model::{Input, Model};
use synack::output::json_line;

fn recorded_flood() -> Vec<Input> {
    let path = std::env::var_os("SYNACK_BENCH_INPUTS").map_or_else(
        || {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/load/watch-flood.inputs.gz")
        },
        std::path::PathBuf::from,
    );
    let file = std::fs::File::open(&path).expect("the recorded flood");
    let read: Box<dyn std::io::Read> = if path.extension().is_some_and(|e| e == "gz") {
        Box::new(flate2::read::GzDecoder::new(file))
    } else {
        Box::new(file)
    };
    BufReader::new(read)
        .lines()
        .map(|l| serde_json::from_str(&l.expect("a line")).expect("an input"))
        .collect()
}

fn run(inputs: Vec<Input>, keep: bool) -> Vec<Event> {
    let mut model = Model::new();
    let mut out = Vec::new();
    let mut kept = Vec::new();
    for i in inputs {
        model.ingest(i, &mut out);
        if keep {
            kept.append(&mut out);
        } else {
            out.clear();
        }
    }
    model.finish(&mut out);
    kept.append(&mut out);
    kept
}

fn bench_model(c: &mut Criterion) {
    let inputs = recorded_flood();
    let segments = inputs
        .iter()
        .filter(|i| matches!(i, Input::Segment { .. }))
        .count() as u64;
    let mut group = c.benchmark_group("model");
    group.sample_size(20);
    group.throughput(Throughput::Elements(segments));
    group.bench_function("recorded flood, per packet (track + states + merge)", |b| {
        b.iter_batched(
            || inputs.clone(),
            |inputs| black_box(run(inputs, false).len()),
            BatchSize::PerIteration,
        );
    });
    let with_reasons = with_reset_reports(&inputs);
    group.bench_function(
        "recorded flood with a reset reason per RST, per packet",
        |b| {
            b.iter_batched(
                || with_reasons.clone(),
                |inputs| black_box(run(inputs, false).len()),
                BatchSize::PerIteration,
            );
        },
    );
    // The packets alone, as `synack read FILE` sees them: no kernel view,
    // every state inferred.
    let packets: Vec<Input> = inputs
        .iter()
        .filter(|i| matches!(i, Input::Segment { .. }))
        .cloned()
        .collect();
    group.bench_function(
        "its packets alone, per packet (track + inferred states)",
        |b| {
            b.iter_batched(
                || packets.clone(),
                |packets| black_box(run(packets, false).len()),
                BatchSize::PerIteration,
            );
        },
    );
    let events = run(inputs.clone(), true);
    group.throughput(Throughput::Elements(events.len() as u64));
    group.bench_function("recorded flood, per event (JSON line)", |b| {
        let mut line = String::with_capacity(512);
        let t0 = events.first().map(Event::ts).unwrap_or_default();
        b.iter(|| {
            let mut bytes = 0;
            for e in &events {
                line.clear();
                json_line(&mut line, e.ts().seconds_since(t0), e, Lang::En);
                bytes += line.len();
            }
            black_box(bytes)
        });
    });
    group.finish();
}

/// The flood with a tcp_send_reset report 5 µs before each RST segment.
fn with_reset_reports(inputs: &[Input]) -> Vec<Input> {
    let mut out = Vec::with_capacity(inputs.len() + inputs.len() / 8);
    for i in inputs {
        if let Input::Segment { seg, .. } = i {
            if seg.tcp.is_some_and(|h| h.flags.rst()) {
                out.push(Input::Reset(synack::model::reports::Reset {
                    ts: synack::time::Timestamp(seg.ts.0.saturating_sub(5_000)),
                    src: seg.src,
                    dst: seg.dst,
                    reason: "TCP_STATE".to_owned(),
                }));
            }
        }
        out.push(i.clone());
    }
    out
}

criterion_group!(benches, bench_model);
criterion_main!(benches);
