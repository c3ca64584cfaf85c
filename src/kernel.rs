//! Kernel socket states.
