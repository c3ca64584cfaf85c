//! Sources report with their own latency (a peer's call event crosses a pipe,
//! a packet crosses the capture thread), so the model sees inputs in
//! timestamp order only after they have waited a short hold time here.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::app::model::Input;
use crate::time::Timestamp;

struct Held {
    ts: Timestamp,
    order: u64,
    input: Input,
}

impl PartialEq for Held {
    fn eq(&self, other: &Self) -> bool {
        (self.ts, self.order) == (other.ts, other.order)
    }
}
impl Eq for Held {}
impl PartialOrd for Held {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Held {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.ts, self.order).cmp(&(other.ts, other.order))
    }
}

/// A time-ordered holding area. Inputs with equal timestamps leave in arrival order.
#[derive(Default)]
pub struct Reorder {
    heap: BinaryHeap<Reverse<Held>>,
    arrivals: u64,
}

impl Reorder {
    pub fn push(&mut self, input: Input) {
        self.arrivals += 1;
        self.heap.push(Reverse(Held {
            ts: input.ts(),
            order: self.arrivals,
            input,
        }));
    }

    /// The oldest input stamped at or before `until`, if any.
    pub fn pop_until(&mut self, until: Timestamp) -> Option<Input> {
        if self.heap.peek().is_some_and(|Reverse(h)| h.ts <= until) {
            self.heap.pop().map(|Reverse(h)| h.input)
        } else {
            None
        }
    }

    /// The oldest input, whatever its time (used when every source has ended).
    pub fn pop(&mut self) -> Option<Input> {
        self.heap.pop().map(|Reverse(h)| h.input)
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
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

    fn msg(i: Input) -> String {
        match i {
            Input::Event(Event::Warning { message, .. }) => message,
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
}
