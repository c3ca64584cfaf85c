//! Holding and releasing: every event waits here, in time order, so that a
//! kernel report can still replace or precede what is held, and leaves once
//! the merge lets it. Nothing is placed before what already left: a late
//! event is placed at the release frontier (rule 4: time order).

use super::twins::TwinKey;
use crate::cache::prefetch;
use crate::event::Event;
use crate::model::sorted::SortedQueue;
use crate::tcp::TcpState;
use crate::time::Timestamp;

/// An event's place in time order: (time, arrival).
pub(super) type Slot = (Timestamp, u64);

/// What a held event is, for the merge's decisions when it leaves.
#[derive(Clone, Debug)]
pub(super) enum Kind {
    /// Shown as it is (packets, calls, queues …).
    Plain,
    /// A change inferred from the packets: a kernel report may replace it,
    /// and the kernel's word decides whether it is shown.
    Inferred { key: TwinKey },
    /// A change the kernel reported: `reported` is the kernel's own time,
    /// `view_from` the state the kernel had it in before.
    Kernel {
        reported: Timestamp,
        view_from: Option<TcpState>,
        from_seen: Timestamp,
    },
    /// The kernel's word on the state already shown (the event is a
    /// `Check`): shown only if the state it is about is still the last shown.
    Check,
}

/// How far behind the leaving event the memory of those to follow is asked
/// for (see [`Hold::pop_first`]).
const FAR: usize = 12;
const NEAR: usize = 6;
const NEAREST: usize = 3;

pub(super) struct Held {
    pub event: Event,
    pub kind: Kind,
}

/// The held events, in places reused as they leave: the sorted queue moves
/// (slot, place) pairs, not whole events.
#[derive(Default)]
pub(super) struct Hold {
    queue: SortedQueue<Slot, u32>,
    places: Vec<Option<Held>>,
    free: Vec<u32>,
    arrivals: u64,
    /// The time of the last event let out: nothing is placed before it.
    released_to: Timestamp,
}

impl Hold {
    /// Holds `held` at `ts`, or at the frontier if `ts` is before it;
    /// returns its slot (the time it was placed at is `slot.0`).
    pub fn push(&mut self, ts: Timestamp, held: Held) -> Slot {
        self.arrivals += 1;
        let slot = (ts.max(self.released_to), self.arrivals);
        self.put_back(slot, held)
    }

    /// Holds `held` in a slot an event just taken out held (a kernel report
    /// taking its inferred twin's place, and its turn).
    pub fn put_back(&mut self, slot: Slot, held: Held) -> Slot {
        let place = if let Some(i) = self.free.pop() {
            self.places[i as usize] = Some(held);
            i
        } else {
            self.places.push(Some(held));
            u32::try_from(self.places.len() - 1).unwrap_or(u32::MAX)
        };
        self.queue.insert(slot, place);
        slot
    }

    /// The earliest held event.
    pub fn first(&self) -> Option<(Slot, &Held)> {
        let (slot, place) = self.queue.first()?;
        Some((*slot, self.places.get(*place as usize)?.as_ref()?))
    }

    /// Takes the earliest held event; the frontier moves to its time.
    ///
    /// Under a flood an event leaves long after it was made, and its
    /// boxes have left the CPU's caches: each leaving event asks for the
    /// memory of those soon to follow (their places [`FAR`] behind, their
    /// boxes [`NEAR`] behind, a packet's segment [`NEAREST`] behind), so
    /// that the merge and the writer find it there (the merge's release was
    /// a tenth of a flooded watch's time, most of it waiting for memory).
    pub fn pop_first(&mut self) -> Option<(Slot, Held)> {
        self.prefetch_ahead();
        let (slot, place) = self.queue.pop_first()?;
        self.released_to = self.released_to.max(slot.0);
        Some((slot, self.take(place)?))
    }

    /// Takes the event held at `slot`, wherever it is.
    pub fn remove(&mut self, slot: Slot) -> Option<Held> {
        let place = self.queue.remove(&slot)?;
        self.take(place)
    }

    fn held_at(&self, i: usize) -> Option<&Held> {
        let (_, place) = self.queue.get(i)?;
        self.places.get(*place as usize)?.as_ref()
    }

    fn prefetch_ahead(&self) {
        if let Some((_, place)) = self.queue.get(FAR) {
            if let Some(h) = self.places.get(*place as usize) {
                prefetch(h);
            }
        }
        if let Some(h) = self.held_at(NEAR) {
            h.event.prefetch();
        }
        if let Some(Held {
            event: Event::Packet(p),
            ..
        }) = self.held_at(NEAREST)
        {
            prefetch(&*p.segment);
        }
    }

    fn take(&mut self, place: u32) -> Option<Held> {
        let h = self.places.get_mut(place as usize)?.take();
        if h.is_some() {
            self.free.push(place);
        }
        h
    }

    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// The time of the last event let out.
    pub fn released_to(&self) -> Timestamp {
        self.released_to
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn warn(ns: u64) -> Held {
        Held {
            event: Event::Warning {
                ts: Timestamp(ns),
                message: String::new(),
            },
            kind: Kind::Plain,
        }
    }

    #[test]
    fn leaves_in_time_order_and_never_before_the_frontier() {
        let mut h = Hold::default();
        h.push(Timestamp(30), warn(30));
        let early = h.push(Timestamp(10), warn(10));
        assert_eq!(early.0, Timestamp(10));
        assert_eq!(h.pop_first().map(|(s, _)| s.0), Some(Timestamp(10)));
        assert_eq!(h.pop_first().map(|(s, _)| s.0), Some(Timestamp(30)));
        // Late: placed at the frontier, not before it.
        let late = h.push(Timestamp(20), warn(20));
        assert_eq!(late.0, Timestamp(30));
        assert!(h.remove(late).is_some());
        assert_eq!(h.len(), 0);
    }
}
