//! The tests that need the host's root (the kernel tracepoint; see
//! `tests/e2e/exact.rs`). Run by anyone: as the host's root they run, and
//! anywhere else each is reported as ignored with the reason, never as ok.
//! A harness of its own (libtest-mimic) because that is decided at run time.

#![allow(dead_code, unused_imports)]

use libtest_mimic::{Arguments, Completion, Trial};

#[path = "common/userns.rs"]
mod userns;

#[path = "e2e/support.rs"]
mod support;

#[path = "e2e/states.rs"]
mod states;

#[path = "e2e/congestion.rs"]
mod congestion;

#[path = "e2e/exact.rs"]
mod exact;

fn main() {
    let args = Arguments::from_args();
    let why = match userns::place() {
        userns::Where::HostRoot => None,
        _ => Some("needs the host's root (the kernel tracepoint in tracefs)"),
    };
    let trials = exact::TESTS
        .iter()
        .map(|&(name, test)| {
            Trial::ignorable_test(format!("exact::{name}"), move || {
                if let Some(why) = why {
                    return Ok(Completion::ignored_with(why));
                }
                test();
                Ok(Completion::Completed)
            })
        })
        .collect();
    libtest_mimic::run(&args, trials).exit();
}
