//! `synack watch` under a flood of connections. A test binary of its own so
//! that cargo runs it alone: the flood takes both cores of a small machine,
//! and the end-to-end tests in `tests/e2e.rs` must not share them with it.

#[path = "common/userns.rs"]
mod userns;
enter_test_namespace_before_main!(userns::enter);

#[path = "e2e/support.rs"]
mod support;

#[path = "e2e/load.rs"]
mod load;
