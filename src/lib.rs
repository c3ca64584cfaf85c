//! synack: makes TCP visible.
//!
//! The crate is split the way data flows (see `docs/architecture.md`), and
//! imports point one way only:
//!
//! ```text
//! time, i18n  ←  tcp  ←  event  ←  model  ←  explain, capture, kernel, lab  ←  app  ←  output, ui  ←  run  ←  main
//! ```
//!
//! Sources (`capture`, `kernel`, `lab`) do I/O and report small owned values
//! (the kernel's in the model's own types, `model::reports`) or
//! [`event::Event`]s; the model (`tcp`, `model`) is pure and takes time as an
//! argument; the views (`output`, `ui`) read the event stream; `run` wires
//! sources to a view.

pub mod app;
pub mod cache;
pub mod capture;
pub mod config;
pub mod doctor;
pub mod event;
pub mod explain;
pub mod hash;
pub mod i18n;
pub mod kernel;
pub mod lab;
pub mod model;
pub mod output;
pub mod privilege;
pub mod recording;
pub mod run;
pub mod tcp;
pub mod time;
pub mod ui;

// The library's own tests capture too: an ordinary user runs them in a
// private user + network namespace (see the file).
#[cfg(test)]
#[path = "../tests/common/userns.rs"]
mod test_userns;
#[cfg(test)]
enter_test_namespace_before_main!(test_userns::enter);

// The pseudo-random source of every test and the fuzzer (one copy).
#[cfg(test)]
#[path = "../tests/common/names.rs"]
mod test_names;
#[cfg(test)]
#[path = "../tests/common/rng.rs"]
mod test_rng;
// sock_diag answers and tracepoint records by hand, for kernel's tests and
// the fuzzer's seeds.
#[cfg(test)]
#[path = "../tests/common/kernel_bytes.rs"]
mod test_kernel_bytes;
