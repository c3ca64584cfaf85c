//! Faithful under any timing: every recorded run (tests/fixtures/*.inputs)
//! replayed with its sources' reports delayed as real machines delay them,
//! thousands of times with seeded random delays, must keep the rules of
//! `synack::model::rules`, show each socket the same path of states as the
//! undisturbed replay, give each RST the same reason (the kernel's
//! tcp_send_reset report, which may now reach synack after its packet), and
//! the same packets the kernel's drops and retransmissions (kfree_skb's
//! reports come after their packet, up to the tracer's lateness after the
//! packets that followed it).
//!
//! How a real machine perturbs the inputs, and how it is simulated here:
//! - the socket table is walked later (a slow or huge table: walks up to
//!   ~1.5 s apart): full walks are dropped, keeping gaps under 1.5 s;
//! - a walk, a tracepoint batch, a packet or a peer's report reaches synack
//!   later than it happened (up to 20 ms, 200 ms, 5 ms and 10 ms), each source
//!   in its own order;
//! - synack's loop takes the inputs in arrival order into the reorder
//!   window and lets out what is older than the hold time, on a clock that
//!   is the arrival times (as `synack::run::settled` is the wall clock).
//!
//! A failure prints the fixture and the seed; `SYNACK_TIMING_SEED=N` replays
//! that one seed on every fixture, `SYNACK_TIMING_RUNS=N` sets how many seeds
//! each fixture gets (default 120).

use std::collections::BTreeMap;
use std::path::PathBuf;

use synack::event::Event;
use synack::model::Input;
use synack::model::pipeline::{HOLD, Pipeline};
use synack::model::rules::{Line, lines_of, paths, violations};
use synack::tcp::TcpState;
use synack::time::Timestamp;

#[path = "common/fixtures.rs"]
mod fixtures;
use fixtures::inputs;
#[path = "common/rng.rs"]
mod rng;
use rng::Rng;

const MS: u64 = 1_000_000;

/// The recorded runs (`SYNACK_TIMING_ONLY=NAME`: that one alone, to look
/// at it).
fn fixtures() -> Vec<PathBuf> {
    let mut v = fixtures::fixtures();
    if let Ok(only) = std::env::var("SYNACK_TIMING_ONLY") {
        v.retain(|p| p.file_stem().is_some_and(|s| s.to_string_lossy() == only));
    }
    v
}

/// Which source delivered an input: each keeps its own order.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Source {
    Capture,
    Walks,
    Tracer,
    Lab,
}

fn source(i: &Input) -> Source {
    match i {
        Input::Segment { .. } | Input::Rejected { .. } => Source::Capture,
        Input::Snapshot { .. } | Input::KernelMode { .. } | Input::Traces { .. } => Source::Walks,
        Input::Transition(_) | Input::Reset(_) | Input::Drop(_) | Input::Retransmit(_) => {
            Source::Tracer
        }
        Input::Event(_) => Source::Lab,
    }
}

/// How hard a run is perturbed: `None` is the undisturbed replay.
fn deliver(inputs: &[Input], seed: Option<u64>) -> Vec<(u64, Input)> {
    let mut rng = Rng::new(seed.unwrap_or(0));
    let mut kept: Vec<Input> = Vec::with_capacity(inputs.len());
    // Walks come later: drop full walks at random (this run's share), as
    // long as the walks kept stay within 1.5 s of each other.
    let thin = seed.map_or(0, |_| rng.below(90));
    let full_walks: Vec<u64> = inputs
        .iter()
        .filter_map(|i| match i {
            Input::Snapshot {
                ts,
                listeners_only: false,
                ..
            } => Some(ts.0),
            _ => None,
        })
        .collect();
    let mut last_kept: Option<u64> = None;
    let mut walk = 0usize;
    for i in inputs {
        if let Input::Snapshot {
            ts,
            socks,
            listeners_only: false,
            ..
        } = i
        {
            walk += 1;
            let next = full_walks.get(walk).copied();
            let may_drop = next.is_some_and(|n| last_kept.is_none_or(|k| n - k < 1_500 * MS));
            if may_drop && rng.below(100) < thin {
                // The listeners are still walked every 20 ms.
                kept.push(Input::Snapshot {
                    ts: *ts,
                    socks: socks
                        .iter()
                        .filter(|s| s.state == TcpState::Listen)
                        .cloned()
                        .collect(),
                    counters: None,
                    listeners_only: true,
                    started: None,
                });
                continue;
            }
            last_kept = Some(ts.0);
        }
        kept.push(i.clone());
    }
    // Each source's reports arrive late by up to its own bound, in order.
    let mut last: [u64; 4] = [0; 4];
    let mut out: Vec<(u64, usize, Input)> = Vec::with_capacity(kept.len());
    for (n, i) in kept.into_iter().enumerate() {
        let s = source(&i);
        let most = match s {
            Source::Capture => 5 * MS,
            Source::Walks => 20 * MS,
            Source::Tracer => 200 * MS,
            Source::Lab => 10 * MS,
        };
        let delay = match seed {
            None => 0,
            Some(_) => (rng.next_u64() % (most + 1)) * u64::from(rng.below(4) != 0),
        };
        let slot = s as usize;
        let at = (i.ts().0 + delay).max(last[slot]);
        last[slot] = at;
        out.push((at, n, i));
    }
    out.sort_by_key(|(at, n, _)| (*at, *n));
    out.into_iter().map(|(at, _, i)| (at, i)).collect()
}

/// The run as synack's loop would take it: inputs pushed as they arrive,
/// what is older than the hold let out as the clock passes.
fn run(delivered: Vec<(u64, Input)>) -> Vec<Event> {
    let hold = u64::try_from(HOLD.as_nanos()).expect("hold");
    let mut pipeline = Pipeline::new();
    let mut events = Vec::new();
    for (at, input) in delivered {
        pipeline.push(input);
        events.extend_from_slice(pipeline.drain(Some(Timestamp(at.saturating_sub(hold)))));
    }
    events.extend_from_slice(pipeline.finish());
    events
}

fn lines(events: &[Event]) -> Vec<Line> {
    let t0 = events.first().map_or(Timestamp(0), Event::ts);
    lines_of(events, t0)
}

/// Prints a run as `--text` would (`SYNACK_TIMING_DUMP=FIXTURE`, with a seed).
fn dump(name: &str, seed: u64, events: &[Event]) {
    let mut w = synack::output::Writer::new(
        synack::output::Format::Text,
        synack::i18n::Lang::En,
        Vec::new(),
    );
    for e in events {
        w.add(e);
    }
    let _ = w.flush();
    eprintln!(
        "---- {name}, seed {seed} ----\n{}",
        String::from_utf8_lossy(&w.into_inner())
    );
}

fn seeds() -> Vec<u64> {
    if let Some(s) = std::env::var("SYNACK_TIMING_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        return vec![s];
    }
    let n: u64 = std::env::var("SYNACK_TIMING_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(120);
    (1..=n).collect()
}

/// Each RST as `src → dst seq=N: REASON` (`-`: none), in order.
fn reasons(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Packet(p) if p.segment.tcp.is_some_and(|h| h.flags.rst()) => Some(format!(
                "{} → {} seq={}: {}",
                p.segment.src,
                p.segment.dst,
                p.seq,
                p.rst_reason.as_deref().unwrap_or("-")
            )),
            // What the kernel said it dropped or resent: the same packets
            // whatever the timing.
            Event::Packet(p) if p.drop_reason.is_some() || p.retransmit.is_some() => Some(format!(
                "{} → {} seq={} len={}: ✗{} {}",
                p.segment.src,
                p.segment.dst,
                p.seq,
                p.segment.payload_len,
                p.drop_reason.as_deref().unwrap_or("-"),
                p.retransmit.map_or("-", |w| w.as_str())
            )),
            _ => None,
        })
        .collect()
}

fn show(paths: &BTreeMap<String, Vec<TcpState>>) -> String {
    paths
        .iter()
        .map(|(k, v)| {
            let v: Vec<&str> = v.iter().map(|s| s.as_str()).collect();
            format!("  {k}: {}\n", v.join(" → "))
        })
        .collect()
}

#[test]
fn every_recorded_run_keeps_the_rules_undisturbed() {
    let mut failed = Vec::new();
    for path in fixtures() {
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let events = run(deliver(&inputs(&path), None));
        for v in violations(&lines(&events)) {
            failed.push(format!("{name}: {v}"));
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

#[test]
fn every_recorded_run_keeps_the_rules_and_its_paths_under_perturbed_timing() {
    let mut failed = Vec::new();
    let seeds = seeds();
    for path in fixtures() {
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let recorded = inputs(&path);
        let undisturbed = run(deliver(&recorded, None));
        if std::env::var("SYNACK_TIMING_DUMP").is_ok_and(|d| d == name) {
            dump(&name, 0, &undisturbed);
        }
        let reference = paths(&lines(&undisturbed));
        let reference_reasons = reasons(&undisturbed);
        let mut broken_seeds = 0;
        for &seed in &seeds {
            let events = run(deliver(&recorded, Some(seed)));
            if std::env::var("SYNACK_TIMING_DUMP").is_ok_and(|d| d == name) {
                dump(&name, seed, &events);
            }
            let lines = lines(&events);
            let broken = violations(&lines);
            let got = paths(&lines);
            let got_reasons = reasons(&events);
            if broken.is_empty() && got == reference && got_reasons == reference_reasons {
                continue;
            }
            broken_seeds += 1;
            if broken_seeds > 3 {
                continue;
            }
            if !broken.is_empty() {
                failed.push(format!(
                    "{name}, seed {seed}: {}",
                    broken.join(&format!("\n{name}, seed {seed}: "))
                ));
            }
            if got != reference {
                failed.push(format!(
                    "{name}, seed {seed}: the paths differ from the undisturbed replay's\nundisturbed:\n{}perturbed:\n{}",
                    show(&reference),
                    show(&got)
                ));
            }
            if got_reasons != reference_reasons {
                failed.push(format!(
                    "{name}, seed {seed}: the RSTs' reasons differ from the undisturbed replay's\nundisturbed: {reference_reasons:#?}\nperturbed: {got_reasons:#?}"
                ));
            }
        }
        if broken_seeds > 3 {
            failed.push(format!(
                "{name}: {broken_seeds} of {} seeds fail (the first 3 shown)",
                seeds.len()
            ));
        }
    }
    assert!(
        failed.is_empty(),
        "{} failures (SYNACK_TIMING_SEED=N replays one):\n{}",
        failed.len(),
        failed.join("\n")
    );
}
