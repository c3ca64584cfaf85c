//! End-to-end tests: the real `synack` binary on the real stack, compared with
//! tcpdump/tshark on the same packets. They need CAP_NET_RAW for capture: as
//! root they have it; run by an ordinary user, this binary re-runs itself in
//! a private user + network namespace (tests/common/userns.rs) and the tests
//! capture that namespace's loopback. Where neither works they fail, saying
//! why. The tests that need the host's root are in `tests/host_root.rs`.
//! The flood tests are a binary of their own (`tests/load.rs`): cargo runs
//! test binaries one after another, so a flood never shares the machine with
//! the tests that time the kernel's reports.

#[path = "common/userns.rs"]
mod userns;
enter_test_namespace_before_main!(userns::enter);

#[path = "e2e/support.rs"]
mod support;

#[path = "e2e/capture.rs"]
mod capture;

#[path = "common/loss.rs"]
mod loss;

#[path = "common/svg.rs"]
mod svg;

#[path = "e2e/lab.rs"]
mod lab;

// Some of its helpers serve only the host-root tests (tests/host_root.rs).
#[allow(dead_code)]
#[path = "e2e/states.rs"]
mod states;

#[path = "e2e/tui.rs"]
mod tui;

// Its root test runs in tests/host_root.rs.
#[allow(dead_code)]
#[path = "e2e/congestion.rs"]
mod congestion;

#[path = "e2e/rules.rs"]
mod rules;

#[path = "e2e/privilege.rs"]
mod privilege;

#[path = "e2e/doctor.rs"]
mod doctor;

#[path = "e2e/export.rs"]
mod export;

#[path = "e2e/replay.rs"]
mod replay;
