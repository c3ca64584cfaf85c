//! A short fuzz run of every target (fixed seed, so it is reproducible), so
//! `cargo test` fails when a parser panics or allocates from a length field.
//! Long runs: `cargo run --profile fuzz --example fuzz -- all --execs 10000000`
//! (at the repository's root; this crate is a default member of its workspace).

use std::path::PathBuf;

use synack_fuzz::{self as fuzz, CountingAlloc, Options, TARGETS};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// Executions per target: the whole test takes a few seconds in a debug build.
const EXECS: u64 = 50_000;

/// The allocation counters are global: the two tests take turns.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Waits for this test's turn, then turns the allocation limits on.
fn my_turn() -> std::sync::MutexGuard<'static, ()> {
    let turn = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    fuzz::counting_allocator_installed();
    turn
}

#[test]
fn every_target_survives_a_short_fuzz_run() {
    let _turn = my_turn();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut failures = Vec::new();
    for t in &TARGETS {
        let report = fuzz::run(
            t,
            &Options {
                execs: EXECS,
                seed: 0x5eed,
                corpus_dir: Some(root.join("corpus").join(t.name)),
                ..Options::default()
            },
        );
        eprintln!(
            "{}: {} execs, {:.0}/s, corpus {}",
            t.name,
            report.execs,
            report.execs_per_sec(),
            report.corpus_len
        );
        assert!(report.execs >= EXECS);
        for c in report.crashes {
            failures.push(format!(
                "{}: {} (input {:02x?})",
                t.name, c.message, c.input
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Every saved reproducer and corpus file still passes its target.
#[test]
fn saved_inputs_pass() {
    let _turn = my_turn();
    // This crate is the repository's fuzz/.
    let fuzz = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut failures = Vec::new();
    for t in &TARGETS {
        for dir in [
            fuzz.join("corpus").join(t.name),
            fuzz.join("../tests/fixtures/fuzz").join(t.name),
        ] {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for e in entries.flatten() {
                let input = std::fs::read(e.path()).unwrap();
                if let Err(m) = fuzz::replay(t, &input) {
                    failures.push(format!("{}: {}", e.path().display(), m));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
