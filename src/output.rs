//! Headless writers.
