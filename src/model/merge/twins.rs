//! Matching kernel reports to inferences: a change the packets imply and the
//! same change the kernel reports are one change (its "twins"), if they name
//! the same endpoint of the same connection, the same state, and are close
//! enough in time (the match window).

use super::hold::Slot;
use crate::hash::Map;
use crate::tcp::TcpState;
use crate::tcp::track::{ConnId, Role};
use crate::time::Timestamp;

/// (conn, endpoint role, state): what twins share.
pub type TwinKey = (ConnId, Role, TcpState);

#[derive(Default)]
pub(super) struct Twins {
    /// Held inferred changes, by key.
    held: Map<TwinKey, Vec<Slot>>,
}

impl Twins {
    pub fn hold(&mut self, key: TwinKey, slot: Slot) {
        self.held.entry(key).or_default().push(slot);
    }

    pub fn release(&mut self, key: TwinKey, slot: Slot) {
        if let Some(v) = self.held.get_mut(&key) {
            v.retain(|s| *s != slot);
            if v.is_empty() {
                self.held.remove(&key);
            }
        }
    }

    /// The held inferred changes with this key within `window` of `ts`
    /// (and not before `lo` nor after `hi`), taken: the kernel's report
    /// replaces them.
    pub fn take_within(
        &mut self,
        key: TwinKey,
        ts: Timestamp,
        window: u64,
        lo: Option<Timestamp>,
        hi: Option<Timestamp>,
    ) -> Vec<Slot> {
        let Some(v) = self.held.get_mut(&key) else {
            return Vec::new();
        };
        let mut taken = Vec::new();
        v.retain(|s| {
            let near = s.0.0.abs_diff(ts.0) <= window
                && lo.is_none_or(|lo| s.0 >= lo)
                && hi.is_none_or(|hi| s.0 <= hi);
            if near {
                taken.push(*s);
            }
            !near
        });
        if v.is_empty() {
            self.held.remove(&key);
        }
        taken
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twins_match_by_key_and_window_only() {
        let mut t = Twins::default();
        let key = (ConnId(1), Role::Client, TcpState::TimeWait);
        t.hold(key, (Timestamp(100), 1));
        t.hold(key, (Timestamp(900), 2));
        let other = (ConnId(1), Role::Server, TcpState::TimeWait);
        assert!(
            t.take_within(other, Timestamp(100), 50, None, None)
                .is_empty()
        );
        // A walk at 90 cannot have seen a change at 100.
        assert!(
            t.take_within(key, Timestamp(90), 50, None, Some(Timestamp(90)))
                .is_empty()
        );
        assert_eq!(
            t.take_within(key, Timestamp(120), 50, None, None),
            [(Timestamp(100), 1)]
        );
        assert!(
            t.take_within(key, Timestamp(120), 50, None, None)
                .is_empty()
        );
        t.release(key, (Timestamp(900), 2));
        assert!(
            t.take_within(key, Timestamp(900), 50, None, None)
                .is_empty()
        );
    }
}
