//! TCP sequence numbers: 32-bit values that wrap, compared as RFC 9293 §3.4
//! asks ("arithmetic modulo 2^32"), i.e. by the sign of the wrapping
//! difference (the serial-number rule of RFC 1982).
//!
//! `PartialOrd` is deliberately not implemented: on a circle there is no
//! total order, only "a is before b when b - a < 2^31".

use std::fmt;
use std::ops::{Add, AddAssign, Sub};

/// A TCP sequence (or acknowledgment) number.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SeqNum(pub u32);

impl SeqNum {
    /// Signed distance from `other` to `self` (`self - other`), in `-2^31..2^31`.
    #[must_use]
    pub fn diff(self, other: SeqNum) -> i32 {
        self.0.wrapping_sub(other.0) as i32
    }

    /// `self` comes before `other` on the sequence circle.
    #[must_use]
    pub fn lt(self, other: SeqNum) -> bool {
        self.diff(other) < 0
    }
    #[must_use]
    pub fn le(self, other: SeqNum) -> bool {
        self.diff(other) <= 0
    }
    #[must_use]
    pub fn gt(self, other: SeqNum) -> bool {
        self.diff(other) > 0
    }
    #[must_use]
    pub fn ge(self, other: SeqNum) -> bool {
        self.diff(other) >= 0
    }

    /// The later of two numbers on the circle.
    #[must_use]
    pub fn max(self, other: SeqNum) -> SeqNum {
        if self.lt(other) { other } else { self }
    }

    /// The earlier of two numbers on the circle.
    #[must_use]
    pub fn min(self, other: SeqNum) -> SeqNum {
        if self.gt(other) { other } else { self }
    }

    /// Forward distance from `base` to `self`, wrapping (what a relative
    /// sequence number is).
    #[must_use]
    pub fn since(self, base: SeqNum) -> u32 {
        self.0.wrapping_sub(base.0)
    }
}

impl Add<u32> for SeqNum {
    type Output = SeqNum;
    fn add(self, rhs: u32) -> SeqNum {
        SeqNum(self.0.wrapping_add(rhs))
    }
}

impl AddAssign<u32> for SeqNum {
    fn add_assign(&mut self, rhs: u32) {
        self.0 = self.0.wrapping_add(rhs);
    }
}

impl Sub<u32> for SeqNum {
    type Output = SeqNum;
    fn sub(self, rhs: u32) -> SeqNum {
        SeqNum(self.0.wrapping_sub(rhs))
    }
}

/// `a - b`: the signed distance (see [`SeqNum::diff`]).
impl Sub for SeqNum {
    type Output = i32;
    fn sub(self, rhs: SeqNum) -> i32 {
        self.diff(rhs)
    }
}

impl fmt::Display for SeqNum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::SeqNum;

    #[test]
    fn adds_and_subtracts_with_wrap() {
        assert_eq!(SeqNum(u32::MAX) + 1, SeqNum(0));
        assert_eq!(SeqNum(u32::MAX - 1) + 5, SeqNum(3));
        assert_eq!(SeqNum(2) - 5u32, SeqNum(u32::MAX - 2));
        let mut s = SeqNum(u32::MAX);
        s += 2;
        assert_eq!(s, SeqNum(1));
    }

    #[test]
    fn distance_is_signed_across_the_wrap() {
        assert_eq!(SeqNum(3) - SeqNum(u32::MAX - 1), 5);
        assert_eq!(SeqNum(u32::MAX - 1) - SeqNum(3), -5);
        assert_eq!(SeqNum(100) - SeqNum(40), 60);
        assert_eq!(SeqNum(10).since(SeqNum(u32::MAX)), 11);
    }

    #[test]
    fn compares_on_the_circle() {
        let before_wrap = SeqNum(0xffff_fff0);
        let after_wrap = SeqNum(0x10);
        assert!(before_wrap.lt(after_wrap));
        assert!(before_wrap.le(after_wrap));
        assert!(after_wrap.gt(before_wrap));
        assert!(after_wrap.ge(before_wrap));
        assert!(!after_wrap.lt(before_wrap));
        assert!(SeqNum(7).le(SeqNum(7)) && SeqNum(7).ge(SeqNum(7)));
        assert!(!SeqNum(7).lt(SeqNum(7)) && !SeqNum(7).gt(SeqNum(7)));
        assert_eq!(before_wrap.max(after_wrap), after_wrap);
        assert_eq!(before_wrap.min(after_wrap), before_wrap);
    }

    #[test]
    fn half_the_circle_away_counts_as_before() {
        // 2^31 apart: the difference is i32::MIN, i.e. "before" both ways —
        // RFC 1982 leaves this case undefined; we only need it not to panic.
        let a = SeqNum(0);
        let b = SeqNum(1 << 31);
        assert_eq!(b - a, i32::MIN);
        assert!(b.lt(a));
        assert!(SeqNum((1 << 31) - 1).gt(a));
    }
}
