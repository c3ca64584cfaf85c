//! Sources report with their own latency (a peer's call event crosses a pipe,
//! a packet crosses the capture thread), so the model sees inputs in
//! timestamp order only after they have waited a short hold time here.
//!
//! Each source delivers in (almost) its own time order: packets in the order
//! the kernel stamped them, snapshots and transitions in theirs. So inputs
//! wait in one queue per kind of source, each kept sorted (in the usual case
//! by appending: O(1)), and leave by a merge of the queues' fronts.

use super::Input;
use super::sorted::SortedQueue;
use crate::time::Timestamp;

/// (time, arrival): equal times leave in arrival order.
type Key = (Timestamp, u64);

/// Inputs waiting at most: about 60 ms of a heavy loopback load (260,000
/// packets and kernel reports a second), far more than a lab makes.
pub const MAX_WAITING: usize = 8_192;

/// Which queue an input waits in. The tracer's resets have a queue of
/// their own: they come in their own time order, but after the transitions
/// of the same read, so in the transitions' queue each would land inside
/// it (moving part of a chunk of a flood's transitions, microseconds each).
/// So do the tracer's congestion states, which would land inside the lab's
/// calls.
fn lane(input: &Input) -> usize {
    match input {
        Input::Segment { .. } | Input::Rejected { .. } => 0,
        Input::Snapshot { .. }
        | Input::Transition(_)
        | Input::KernelMode { .. }
        | Input::Traces { .. } => 1,
        Input::Event(crate::event::Event::Congestion(c))
            if c.source == crate::event::CongSource::Kernel =>
        {
            6
        }
        Input::Event(_) => 2,
        Input::Reset(_) => 3,
        Input::Drop(_) => 4,
        Input::Retransmit(_) => 5,
    }
}

/// A time-ordered holding area. Inputs with equal timestamps leave in arrival order.
#[derive(Default)]
pub struct Reorder {
    lanes: [SortedQueue<Key, Input>; 7],
    arrivals: u64,
    /// The latest time released so far.
    released: Timestamp,
    /// Inputs that arrived stamped before something already released.
    late: u64,
}

impl Reorder {
    pub fn push(&mut self, input: Input) {
        self.arrivals += 1;
        let ts = input.ts();
        if ts < self.released {
            self.late += 1;
        }
        self.lanes[lane(&input)].insert((ts, self.arrivals), input);
    }

    /// The queue whose front leaves next: the earliest (time, arrival).
    fn next_lane(&self) -> Option<usize> {
        (0..self.lanes.len())
            .filter_map(|i| self.lanes[i].first().map(|(key, _)| (*key, i)))
            .min()
            .map(|(_, i)| i)
    }

    /// The oldest input stamped at or before `until`, if any; or the oldest
    /// anyway while more than [`MAX_WAITING`] wait (a flood must not hold
    /// the memory of a whole hold time: the hold shortens instead).
    pub fn pop_until(&mut self, until: Timestamp) -> Option<Input> {
        let i = self.next_lane()?;
        let due = self.len() > MAX_WAITING
            || self.lanes[i]
                .first()
                .is_some_and(|((ts, _), _)| *ts <= until);
        if due { self.take(i) } else { None }
    }

    /// The oldest input, whatever its time (used when every source has ended).
    pub fn pop(&mut self) -> Option<Input> {
        let i = self.next_lane()?;
        self.take(i)
    }

    fn take(&mut self, lane: usize) -> Option<Input> {
        let ((ts, _), input) = self.lanes[lane].pop_first()?;
        self.released = self.released.max(ts);
        Some(input)
    }

    /// Inputs so far that arrived after a later one had left: they leave
    /// out of order (a source stalled longer than the hold time).
    #[must_use]
    pub fn late(&self) -> u64 {
        self.late
    }

    /// The latest time that has left.
    #[must_use]
    pub fn released(&self) -> Timestamp {
        self.released
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.lanes.iter().map(SortedQueue::len).sum()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.lanes.iter().all(SortedQueue::is_empty)
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
            listeners_only: false,
            started: None,
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

    #[test]
    fn a_flood_shortens_the_hold_instead_of_growing_it() {
        let mut r = Reorder::default();
        for i in 0..MAX_WAITING + 10 {
            r.push(warn(1_000 + i as u64, "flood"));
        }
        // Nothing is due yet, but only MAX_WAITING may wait: the oldest go.
        let early = std::iter::from_fn(|| r.pop_until(Timestamp(0))).count();
        assert_eq!(early, 10);
        assert_eq!(r.len(), MAX_WAITING);
    }

    #[test]
    fn inputs_arriving_after_newer_ones_left_are_counted_late() {
        let mut r = Reorder::default();
        r.push(warn(100, "b"));
        assert!(r.pop_until(Timestamp(150)).is_some());
        assert_eq!(r.released(), Timestamp(100));
        r.push(warn(50, "a, too late"));
        r.push(warn(120, "c, in time"));
        assert_eq!(r.late(), 1);
    }
}
