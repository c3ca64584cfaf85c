//! End-to-end tests: the real `synack` binary on the real stack, compared with
//! tcpdump/tshark on the same packets. They need root (CAP_NET_RAW) for
//! capture; where that is impossible they fail loudly, or with
//! `SYNACK_SKIP_CAPTURE_TESTS=1` they say SKIPPED on stderr and return.
//! The flood tests are a binary of their own (`tests/load.rs`): cargo runs
//! test binaries one after another, so a flood never shares the machine with
//! the tests that time the kernel's reports.

#[path = "e2e/support.rs"]
mod support;

#[path = "e2e/capture.rs"]
mod capture;

#[path = "e2e/lab.rs"]
mod lab;

#[path = "e2e/states.rs"]
mod states;

#[path = "e2e/tui.rs"]
mod tui;

#[path = "e2e/privilege.rs"]
mod privilege;
