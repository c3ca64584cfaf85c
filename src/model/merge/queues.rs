//! Queues: each listener's accept queue with the namespace's listen
//! counters (`queue` events), and each connected socket's Recv-Q/Send-Q
//! (`socket_queues` events), at a rate a reader can follow.

use std::net::SocketAddr;

use super::park::Tuple;
use crate::event::QueueEvent;
use crate::hash::Map;
use crate::model::ListenCounters;
use crate::model::view::{ListenerQueue, SocketQueues};
use crate::time::Timestamp;

/// A connected socket's Recv-Q/Send-Q are reported at most this often (ns).
pub const SOCKET_QUEUES_EVERY: u64 = 100_000_000;

#[derive(Default)]
pub(super) struct Queues {
    counters: Option<ListenCounters>,
    /// Each listener's last (accept queue, backlog).
    listeners: Map<SocketAddr, (u32, u32)>,
    /// The last `queue` line shown per listener address, as (accept queue,
    /// backlog, overflows, drops). A line is reported from two places (the
    /// queue changed; the namespace's counters changed) and a listener that
    /// misses a walk is forgotten and met again: either could repeat the last
    /// line word for word, which tells nothing. The same line is shown again
    /// only after a state change of the listener itself (a new listener).
    shown: Map<SocketAddr, (u32, u32, u64, u64)>,
    /// Socket queue changes not reported yet (too soon after the last), and
    /// their sockets in the order they first changed.
    pending: Map<Tuple, SocketQueues>,
    pending_keys: Vec<Tuple>,
    /// When each socket's queues were last reported.
    reported: Map<Tuple, Timestamp>,
}

impl Queues {
    /// A listener's accept queue changed.
    pub fn listener(&mut self, q: &ListenerQueue) -> QueueEvent {
        self.listeners.insert(q.local, (q.accept_queue, q.backlog));
        let c = self.counters.unwrap_or_default();
        QueueEvent {
            ts: q.ts,
            local: q.local,
            accept_queue: q.accept_queue,
            backlog: q.backlog,
            overflows: c.overflows,
            drops: c.drops,
        }
    }

    /// A walk read the namespace's counters (before its listeners' lines
    /// are made, which carry them); true when they moved.
    pub fn set_counters(&mut self, counters: Option<ListenCounters>) -> bool {
        let changed = counters.is_some() && counters != self.counters;
        if counters.is_some() {
            self.counters = counters;
        }
        changed
    }

    /// The counters moved (a SYN or final ACK dropped at a full queue):
    /// every listener not just reported (`reported`) is reported again with them.
    pub fn counters_moved(&mut self, ts: Timestamp, reported: &[SocketAddr]) -> Vec<QueueEvent> {
        let c = self.counters.unwrap_or_default();
        let mut listeners: Vec<_> = self
            .listeners
            .iter()
            .filter(|(l, _)| !reported.contains(l))
            .map(|(l, q)| (*l, *q))
            .collect();
        listeners.sort();
        listeners
            .into_iter()
            .map(|(local, (accept_queue, backlog))| QueueEvent {
                ts,
                local,
                accept_queue,
                backlog,
                overflows: c.overflows,
                drops: c.drops,
            })
            .collect()
    }

    /// Whether a `queue` line says exactly what the listener's last one did
    /// (then it is not shown); remembers it otherwise.
    pub fn repeats(&mut self, q: &QueueEvent) -> bool {
        let now = (q.accept_queue, q.backlog, q.overflows, q.drops);
        self.shown.insert(q.local, now) == Some(now)
    }

    /// The listener itself changed state: its next queue line is news.
    pub fn listener_changed(&mut self, local: SocketAddr) {
        self.shown.remove(&local);
    }

    /// The sockets' queue changes a walk found; returns those due, at most
    /// one per socket every [`SOCKET_QUEUES_EVERY`] (a bulk transfer changes
    /// them at every walk). The last value always follows.
    pub fn sockets(&mut self, ts: Timestamp, found: Vec<SocketQueues>) -> Vec<SocketQueues> {
        for q in found {
            let key = (q.local, q.remote);
            if self.pending.insert(key, q).is_none() {
                self.pending_keys.push(key);
            }
        }
        let mut due = Vec::new();
        // In the order they first changed: the same run gives the same lines.
        let keys = std::mem::take(&mut self.pending_keys);
        for key in keys {
            let ready = self
                .reported
                .get(&key)
                .is_none_or(|last| ts.0.saturating_sub(last.0) >= SOCKET_QUEUES_EVERY);
            if !ready {
                self.pending_keys.push(key);
                continue;
            }
            let Some(q) = self.pending.remove(&key) else {
                continue;
            };
            self.reported.insert(key, ts);
            due.push(q);
        }
        if self.reported.len() > 4096 {
            let keep = Timestamp(ts.0.saturating_sub(SOCKET_QUEUES_EVERY));
            self.reported.retain(|_, at| *at >= keep);
        }
        due
    }

    /// A connection is forgotten: so is when its sockets were reported.
    pub fn forget(&mut self, tuple: Tuple) {
        self.reported.remove(&tuple);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sq(ts: u64, recv_q: u32) -> SocketQueues {
        SocketQueues {
            ts: Timestamp(ts),
            local: "127.0.0.1:1".parse().unwrap(),
            remote: "127.0.0.1:2".parse().unwrap(),
            recv_q,
            send_q: 0,
        }
    }

    #[test]
    fn socket_queues_are_told_at_most_every_100_ms_and_the_last_value_follows() {
        let mut q = Queues::default();
        let at = Timestamp;
        assert_eq!(q.sockets(at(0), vec![sq(0, 10)]).len(), 1);
        assert!(
            q.sockets(at(20_000_000), vec![sq(20_000_000, 20)])
                .is_empty()
        );
        assert!(
            q.sockets(at(40_000_000), vec![sq(40_000_000, 30)])
                .is_empty()
        );
        let due = q.sockets(at(SOCKET_QUEUES_EVERY), Vec::new());
        assert_eq!(due.iter().map(|s| s.recv_q).collect::<Vec<_>>(), [30]);
    }

    #[test]
    fn a_queue_line_is_not_repeated_word_for_word() {
        let mut q = Queues::default();
        let local: SocketAddr = "0.0.0.0:7000".parse().unwrap();
        let line = q.listener(&ListenerQueue {
            ts: Timestamp(1),
            local,
            accept_queue: 0,
            backlog: 1,
        });
        assert!(!q.repeats(&line));
        assert!(q.repeats(&line));
        q.listener_changed(local);
        assert!(!q.repeats(&line));
        assert!(q.set_counters(Some(ListenCounters {
            overflows: 1,
            drops: 1,
        })));
        let moved = q.counters_moved(Timestamp(2), &[]);
        assert_eq!(moved.len(), 1);
        assert_eq!(moved[0].overflows, 1);
    }
}
