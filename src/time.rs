//! Timestamps shared by every source: nanoseconds since the Unix epoch
//! (CLOCK_REALTIME), the clock the kernel stamps captured packets with.

use std::fmt;

/// A point in time, nanoseconds since the Unix epoch.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    serde::Deserialize,
)]
pub struct Timestamp(pub u64);

impl Timestamp {
    /// Reads the wall clock (the same clock as packet timestamps).
    #[must_use]
    pub fn now() -> Self {
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Self::from_parts(d.as_secs(), d.subsec_nanos())
    }

    #[must_use]
    pub fn from_parts(secs: u64, nanos: u32) -> Self {
        Self(
            secs.saturating_mul(1_000_000_000)
                .saturating_add(u64::from(nanos)),
        )
    }

    #[must_use]
    pub fn secs(self) -> u64 {
        self.0 / 1_000_000_000
    }

    #[must_use]
    pub fn subsec_nanos(self) -> u32 {
        (self.0 % 1_000_000_000) as u32
    }

    /// Seconds from `earlier` to `self`; negative when `self` is earlier.
    #[must_use]
    #[allow(clippy::cast_precision_loss)]
    pub fn seconds_since(self, earlier: Timestamp) -> f64 {
        if self.0 >= earlier.0 {
            (self.0 - earlier.0) as f64 / 1e9
        } else {
            -((earlier.0 - self.0) as f64 / 1e9)
        }
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:09}", self.secs(), self.subsec_nanos())
    }
}
