//! Matching kernel reports to inferences: a change the packets imply and the
//! same change the kernel reports are one change (its "twins"), if they name
//! the same endpoint of the same connection, the same state, and are close
//! enough in time (the match window).

use std::collections::hash_map::Entry;

use super::hold::Slot;
use crate::hash::Map;
use crate::tcp::TcpState;
use crate::tcp::track::{ConnId, Role};
use crate::time::Timestamp;

/// (conn, endpoint role, state): what twins share.
pub type TwinKey = (ConnId, Role, TcpState);

/// The held inferred changes of one key: almost always one (no allocation).
enum Slots {
    One(Slot),
    Many(Vec<Slot>),
}

#[derive(Default)]
pub(super) struct Twins {
    /// Held inferred changes, by key.
    held: Map<TwinKey, Slots>,
}

impl Twins {
    pub fn hold(&mut self, key: TwinKey, slot: Slot) {
        match self.held.entry(key) {
            Entry::Vacant(v) => {
                v.insert(Slots::One(slot));
            }
            Entry::Occupied(mut o) => match o.get_mut() {
                Slots::One(first) => {
                    let first = *first;
                    o.insert(Slots::Many(vec![first, slot]));
                }
                Slots::Many(v) => v.push(slot),
            },
        }
    }

    pub fn release(&mut self, key: TwinKey, slot: Slot) {
        let Entry::Occupied(mut o) = self.held.entry(key) else {
            return;
        };
        let empty = match o.get_mut() {
            Slots::One(s) => *s == slot,
            Slots::Many(v) => {
                v.retain(|s| *s != slot);
                v.is_empty()
            }
        };
        if empty {
            o.remove();
        }
    }

    /// The held inferred changes with this key within `window` of `ts`
    /// (and not before `lo` nor after `hi`), taken into `taken` (emptied
    /// first): the kernel's report replaces them.
    pub fn take_within(
        &mut self,
        key: TwinKey,
        ts: Timestamp,
        window: u64,
        (lo, hi): (Option<Timestamp>, Option<Timestamp>),
        taken: &mut Vec<Slot>,
    ) {
        taken.clear();
        let Entry::Occupied(mut o) = self.held.entry(key) else {
            return;
        };
        let near = |s: &Slot| {
            s.0.0.abs_diff(ts.0) <= window
                && lo.is_none_or(|lo| s.0 >= lo)
                && hi.is_none_or(|hi| s.0 <= hi)
        };
        let empty = match o.get_mut() {
            Slots::One(s) => {
                let s = *s;
                if near(&s) {
                    taken.push(s);
                }
                !taken.is_empty()
            }
            Slots::Many(v) => {
                v.retain(|s| {
                    if near(s) {
                        taken.push(*s);
                        return false;
                    }
                    true
                });
                v.is_empty()
            }
        };
        if empty {
            o.remove();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn take(
        t: &mut Twins,
        key: TwinKey,
        ts: Timestamp,
        window: u64,
        hi: Option<Timestamp>,
    ) -> Vec<Slot> {
        let mut taken = vec![(Timestamp(1), 99)];
        t.take_within(key, ts, window, (None, hi), &mut taken);
        taken
    }

    #[test]
    fn twins_match_by_key_and_window_only() {
        let mut t = Twins::default();
        let key = (ConnId(1), Role::Client, TcpState::TimeWait);
        t.hold(key, (Timestamp(100), 1));
        t.hold(key, (Timestamp(900), 2));
        let other = (ConnId(1), Role::Server, TcpState::TimeWait);
        assert!(take(&mut t, other, Timestamp(100), 50, None).is_empty());
        // A walk at 90 cannot have seen a change at 100.
        assert!(take(&mut t, key, Timestamp(90), 50, Some(Timestamp(90))).is_empty());
        assert_eq!(
            take(&mut t, key, Timestamp(120), 50, None),
            [(Timestamp(100), 1)]
        );
        assert!(take(&mut t, key, Timestamp(120), 50, None).is_empty());
        t.release(key, (Timestamp(900), 2));
        assert!(take(&mut t, key, Timestamp(900), 50, None).is_empty());
    }
}
