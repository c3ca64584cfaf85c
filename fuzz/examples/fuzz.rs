//! Fuzzes synack's parsers of untrusted input on stable Rust.
//!
//! ```text
//! cargo run --profile fuzz --example fuzz -- TARGET|all [--execs N] [--seed N]
//!     [--max-len BYTES] [--stop] [--hang-secs S]
//! cargo run --profile fuzz --example fuzz -- TARGET --repro FILE...
//! cargo run --profile fuzz --example fuzz -- list
//! ```
//!
//! The `fuzz` profile is `release` with overflow checks and debug assertions
//! on, so arithmetic that would wrap is a finding too (`--release` works as
//! well). Starting inputs are the target's seeds plus `fuzz/corpus/TARGET/*`;
//! findings are saved to `fuzz/crashes/TARGET-<hash>.bin`. The exit status is
//! 1 when anything was found, 3 on a hang.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use synack_fuzz::{self as fuzz, CountingAlloc, Options, TARGETS};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

fn usage() -> ExitCode {
    eprintln!(
        "usage: fuzz TARGET|all [--execs N] [--seed N] [--max-len BYTES] [--stop] [--hang-secs S]\n       \
         fuzz TARGET --repro FILE...\n       fuzz list\ntargets:"
    );
    for t in &TARGETS {
        eprintln!("  {:13} {}", t.name, t.about);
    }
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(which) = args.first() else {
        return usage();
    };
    if which == "list" {
        for t in &TARGETS {
            println!("{:13} {}", t.name, t.about);
        }
        return ExitCode::SUCCESS;
    }
    // This crate is the repository's fuzz/.
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut opts = Options {
        execs: 1_000_000,
        progress: true,
        crash_dir: Some(root.join("crashes")),
        ..Options::default()
    };
    let mut repro: Vec<PathBuf> = Vec::new();
    let mut it = args[1..].iter();
    while let Some(arg) = it.next() {
        let mut number = |what: &str| -> Option<u64> {
            let v = it.next().and_then(|v| v.replace('_', "").parse().ok());
            if v.is_none() {
                eprintln!("fuzz: {arg} needs a number ({what})");
            }
            v
        };
        match arg.as_str() {
            "--execs" => match number("executions") {
                Some(n) => opts.execs = n,
                None => return usage(),
            },
            "--seed" => match number("the PRNG seed") {
                Some(n) => opts.seed = n,
                None => return usage(),
            },
            "--max-len" => match number("bytes") {
                Some(n) => opts.max_len = n as usize,
                None => return usage(),
            },
            "--hang-secs" => match number("seconds") {
                Some(n) => opts.hang_after = Duration::from_secs(n),
                None => return usage(),
            },
            "--stop" => opts.stop_on_crash = true,
            "--repro" => repro.extend(it.by_ref().map(PathBuf::from)),
            other => {
                eprintln!("fuzz: unknown option {other}");
                return usage();
            }
        }
    }
    let targets: Vec<&'static fuzz::Target> = if which == "all" {
        TARGETS.iter().collect()
    } else {
        match fuzz::target(which) {
            Some(t) => vec![t],
            None => {
                eprintln!("fuzz: no target named {which}");
                return usage();
            }
        }
    };
    fuzz::counting_allocator_installed();

    if !repro.is_empty() {
        let mut failed = false;
        for t in &targets {
            for file in &repro {
                let Ok(input) = std::fs::read(file) else {
                    eprintln!("fuzz: cannot read {}", file.display());
                    return ExitCode::from(2);
                };
                match fuzz::replay(t, &input) {
                    Ok(_) => println!("{} {}: ok", t.name, file.display()),
                    Err(e) => {
                        failed = true;
                        println!("{} {}: {e}", t.name, file.display());
                    }
                }
            }
        }
        return if failed {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        };
    }

    let mut found = false;
    for t in targets {
        let run_opts = Options {
            corpus_dir: Some(root.join("corpus").join(t.name)),
            ..opts.clone()
        };
        let report = fuzz::run(t, &run_opts);
        println!(
            "{}: {} execs in {:.1} s, {:.0} execs/s, corpus {}, peak allocation {} KiB, \
             {} crashing execs, {} distinct",
            report.target,
            report.execs,
            report.elapsed.as_secs_f64(),
            report.execs_per_sec(),
            report.corpus_len,
            report.peak_alloc / 1024,
            report.failed_execs,
            report.crashes.len()
        );
        for c in &report.crashes {
            found = true;
            println!(
                "  {}\n    input: {}",
                c.message,
                c.saved
                    .as_ref()
                    .map_or_else(|| format!("{:02x?}", c.input), |p| p.display().to_string())
            );
        }
    }
    if found {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
