//! synack: makes TCP visible.
//!
//! The crate is split the way data flows (see DESIGN.md):
//! sources (`capture`, `kernel`, `lab`) do I/O and turn what they read into
//! [`app::Event`]s; the model (`tcp`) is pure and takes time as an argument;
//! the views (`output`, later `ui`) read the resulting event stream.

pub mod app;
pub mod capture;
pub mod cli;
pub mod kernel;
pub mod lab;
pub mod output;
pub mod tcp;
pub mod time;
