//! Sources report with their own latency (a peer's call event crosses a pipe,
//! a packet crosses the capture thread), so the model sees inputs in
//! timestamp order only after they have waited a short hold time here.
//!
//! Each source delivers in (almost) its own time order: packets in the order
//! the kernel stamped them, snapshots and transitions in theirs. So inputs
//! wait in one queue per kind of source, each kept sorted by inserting from
//! the back (in the usual case, at the back: O(1)), and leave by a merge of
//! the queues' fronts. No heap, no input moved more than twice.

use std::collections::VecDeque;

use crate::app::model::Input;
use crate::time::Timestamp;

struct Held {
    ts: Timestamp,
    order: u64,
    input: Input,
}

/// Which queue an input waits in.
fn lane(input: &Input) -> usize {
    match input {
        Input::Segment { .. } | Input::Rejected { .. } => 0,
        Input::Snapshot { .. } | Input::Transition(_) | Input::KernelMode { .. } => 1,
        Input::Event(_) => 2,
    }
}

/// A time-ordered holding area. Inputs with equal timestamps leave in arrival order.
#[derive(Default)]
pub struct Reorder {
    lanes: [VecDeque<Held>; 3],
    arrivals: u64,
}

impl Reorder {
    pub fn push(&mut self, input: Input) {
        self.arrivals += 1;
        let ts = input.ts();
        let q = &mut self.lanes[lane(&input)];
        let held = Held {
            ts,
            order: self.arrivals,
            input,
        };
        // Equal times keep arrival order: after every input at or before ts.
        if q.back().is_none_or(|b| b.ts <= ts) {
            q.push_back(held);
        } else {
            let at = q.partition_point(|h| h.ts <= ts);
            q.insert(at, held);
        }
    }

    /// The queue whose front leaves next: the earliest (time, arrival).
    fn next_lane(&self) -> Option<usize> {
        (0..self.lanes.len())
            .filter_map(|i| self.lanes[i].front().map(|h| (h.ts, h.order, i)))
            .min()
            .map(|(_, _, i)| i)
    }

    /// The oldest input stamped at or before `until`, if any.
    pub fn pop_until(&mut self, until: Timestamp) -> Option<Input> {
        let i = self.next_lane()?;
        if self.lanes[i].front().is_some_and(|h| h.ts <= until) {
            self.lanes[i].pop_front().map(|h| h.input)
        } else {
            None
        }
    }

    /// The oldest input, whatever its time (used when every source has ended).
    pub fn pop(&mut self) -> Option<Input> {
        let i = self.next_lane()?;
        self.lanes[i].pop_front().map(|h| h.input)
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.lanes.iter().map(VecDeque::len).sum()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.lanes.iter().all(VecDeque::is_empty)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Event;

    fn warn(ns: u64, msg: &str) -> Input {
        Input::Event(Event::Warning {
            ts: Timestamp(ns),
            message: msg.into(),
        })
    }

    fn snapshot(ns: u64) -> Input {
        Input::Snapshot {
            ts: Timestamp(ns),
            socks: Vec::new(),
            counters: None,
        }
    }

    fn msg(i: Input) -> String {
        match i {
            Input::Event(Event::Warning { message, .. }) => message,
            Input::Snapshot { ts, .. } => format!("snapshot {}", ts.0),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn releases_in_time_order_after_hold() {
        let mut r = Reorder::default();
        r.push(warn(30, "c"));
        r.push(warn(10, "a"));
        r.push(warn(20, "b"));
        r.push(warn(20, "b2"));
        assert!(r.pop_until(Timestamp(5)).is_none());
        assert_eq!(msg(r.pop_until(Timestamp(25)).unwrap()), "a");
        assert_eq!(msg(r.pop_until(Timestamp(25)).unwrap()), "b");
        assert_eq!(msg(r.pop_until(Timestamp(25)).unwrap()), "b2");
        assert!(r.pop_until(Timestamp(25)).is_none());
        assert_eq!(msg(r.pop().unwrap()), "c");
        assert!(r.is_empty());
    }

    #[test]
    fn queues_merge_by_time_and_equal_times_by_arrival() {
        let mut r = Reorder::default();
        r.push(snapshot(20));
        r.push(warn(10, "a"));
        r.push(warn(20, "later event, same time"));
        r.push(snapshot(5));
        let order: Vec<String> = std::iter::from_fn(|| r.pop()).map(msg).collect();
        assert_eq!(
            order,
            ["snapshot 5", "a", "snapshot 20", "later event, same time"]
        );
        assert_eq!(r.len(), 0);
    }
}
