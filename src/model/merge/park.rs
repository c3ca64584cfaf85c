//! Kernel reports that wait before they can be used:
//!
//! - the tracepoint sees every network namespace, so a transition waits
//!   until its socket is known to be ours (its packets were captured here, or
//!   this namespace's socket table shows it), at most [`TRACE_PARK_LIMIT`];
//!   connect()'s port-0 SYN-SENT waits for the next transition of the same
//!   kernel socket, which names the port;
//! - a kernel change of a socket whose packets were not seen yet waits for
//!   them (to learn its connection), at most [`PENDING_LIMIT`].

use std::collections::VecDeque;
use std::net::SocketAddr;

use crate::hash::Map;
use crate::model::reports::Transition;
use crate::model::view::StateChange;
use crate::time::Timestamp;

/// A traced transition of a socket not (yet) known to be ours waits this long
/// (a connect() can sit in SYN-SENT for its whole timeout before its socket
/// shows up with a port).
pub const TRACE_PARK_LIMIT: u64 = 130_000_000_000;
/// At most this many transitions wait; strangers' beyond it are not kept.
pub const MAX_PARKED: usize = 20_000;
/// A kernel change for a socket whose packets were not seen yet waits this
/// long for them (to learn its connection id), then is shown without one.
pub const PENDING_LIMIT: u64 = 300_000_000;

/// A socket by (local, remote).
pub type Tuple = (SocketAddr, SocketAddr);

/// Where a parked transition waits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Spot {
    /// A transition of a socket with a port, by its tuple.
    Tuple(Tuple),
    /// connect()'s port-0 SYN-SENT, by the kernel address of its socket.
    Syn(u64),
}

#[derive(Default)]
pub(super) struct Park {
    parked: Map<Spot, Vec<Transition>>,
    parked_order: VecDeque<(Timestamp, Spot)>,
    parked_count: usize,
    /// Kernel changes waiting for their connection, by tuple, each with its
    /// arrival number; and in arrival order, for their time limit.
    pending: Map<Tuple, Vec<(u64, StateChange)>>,
    pending_order: VecDeque<(Timestamp, u64, Tuple)>,
    pending_seq: u64,
}

impl Park {
    /// Parks a transition of a socket not known to be ours (connect()'s
    /// port-0 SYN-SENT by its kernel socket). False when full.
    pub fn park(&mut self, t: &Transition) -> bool {
        if self.parked_count >= MAX_PARKED {
            return false;
        }
        let at = if t.local.port() == 0 {
            Spot::Syn(t.skaddr)
        } else {
            Spot::Tuple((t.local, t.remote))
        };
        self.parked.entry(at).or_default().push(t.clone());
        self.parked_order.push_back((t.ts, at));
        self.parked_count += 1;
        if self.parked_order.len() > 2 * self.parked_count + 1024 {
            // Most were claimed since: drop their places in the line
            // (amortised O(1): the line at least halves).
            let parked = &self.parked;
            self.parked_order.retain(|(_, at)| parked.contains_key(at));
        }
        true
    }

    pub fn any_parked(&self) -> bool {
        self.parked_count > 0
    }

    /// The port-0 SYN-SENT the same kernel socket logged before `t` (the
    /// latest one: socket addresses are reused once a socket is freed).
    pub fn syn_sent_before(&mut self, t: &Transition) -> Option<Transition> {
        let syns = self.parked.get_mut(&Spot::Syn(t.skaddr))?;
        let mut best: Option<usize> = None;
        for (i, p) in syns.iter().enumerate() {
            if p.remote == t.remote && p.ts <= t.ts && best.is_none_or(|b| syns[b].ts < p.ts) {
                best = Some(i);
            }
        }
        let p = syns.swap_remove(best?);
        if syns.is_empty() {
            self.parked.remove(&Spot::Syn(t.skaddr));
        }
        self.parked_count -= 1;
        Some(p)
    }

    /// The transitions parked for these sockets, in time order.
    pub fn claim(&mut self, tuples: &[Tuple]) -> Vec<Transition> {
        let mut mine: Vec<Transition> = Vec::new();
        if self.parked_count == 0 {
            return mine;
        }
        for t in tuples {
            if let Some(v) = self.parked.remove(&Spot::Tuple(*t)) {
                self.parked_count -= v.len();
                mine.extend(v);
            }
        }
        mine.sort_by_key(|p| p.ts);
        mine
    }

    /// A kernel change waits for its connection's first packet.
    pub fn wait(&mut self, tuple: Tuple, c: StateChange) {
        self.pending_seq += 1;
        self.pending_order
            .push_back((c.ts, self.pending_seq, tuple));
        self.pending
            .entry(tuple)
            .or_default()
            .push((self.pending_seq, c));
    }

    /// The kernel changes that waited for these sockets' packets, in arrival order.
    pub fn found(&mut self, tuples: &[Tuple]) -> Vec<StateChange> {
        if self.pending.is_empty() {
            return Vec::new();
        }
        let mut waiting: Vec<(u64, StateChange)> = Vec::new();
        for t in tuples {
            waiting.extend(self.pending.remove(t).unwrap_or_default());
        }
        waiting.sort_by_key(|(seq, _)| *seq);
        waiting.into_iter().map(|(_, c)| c).collect()
    }

    /// Forgets strangers' transitions parked too long; returns the kernel
    /// changes that waited long enough for their packets (shown without).
    pub fn expire(&mut self, now: Timestamp) -> Vec<StateChange> {
        let park_limit = Timestamp(now.0.saturating_sub(TRACE_PARK_LIMIT));
        while let Some(&(ts, at)) = self.parked_order.front() {
            if ts > park_limit {
                break;
            }
            self.parked_order.pop_front();
            if let Some(v) = self.parked.get_mut(&at) {
                let before = v.len();
                v.retain(|p| p.ts > park_limit);
                self.parked_count -= before - v.len();
                if v.is_empty() {
                    self.parked.remove(&at);
                }
            }
        }
        let mut due = Vec::new();
        let limit = Timestamp(now.0.saturating_sub(PENDING_LIMIT));
        while let Some(&(ts, seq, tuple)) = self.pending_order.front() {
            if ts > limit {
                break;
            }
            self.pending_order.pop_front();
            let Some(v) = self.pending.get_mut(&tuple) else {
                continue;
            };
            let Some(i) = v.iter().position(|(s, _)| *s == seq) else {
                continue;
            };
            let (_, c) = v.remove(i);
            if v.is_empty() {
                self.pending.remove(&tuple);
            }
            due.push(c);
        }
        due
    }

    /// Every kernel change still waiting, in arrival order (the run ends).
    pub fn drain_waiting(&mut self) -> Vec<StateChange> {
        let mut waiting: Vec<(u64, StateChange)> = std::mem::take(&mut self.pending)
            .into_values()
            .flatten()
            .collect();
        waiting.sort_by_key(|(seq, _)| *seq);
        self.pending_order.clear();
        waiting.into_iter().map(|(_, c)| c).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::view::Dated;
    use crate::tcp::TcpState;

    fn tr(ts: u64, local: &str, remote: &str, skaddr: u64) -> Transition {
        Transition {
            ts: Timestamp(ts),
            local: local.parse().unwrap(),
            remote: remote.parse().unwrap(),
            from: TcpState::Closed,
            to: TcpState::SynSent,
            skaddr,
        }
    }

    #[test]
    fn a_parked_syn_sent_is_found_by_its_kernel_socket_and_strangers_expire() {
        let mut p = Park::default();
        assert!(p.park(&tr(10, "127.0.0.1:0", "127.0.0.1:7000", 9)));
        assert!(p.park(&tr(20, "10.0.0.1:5000", "10.0.0.2:80", 3)));
        let next = tr(30, "127.0.0.1:40000", "127.0.0.1:7000", 9);
        assert_eq!(p.syn_sent_before(&next).map(|t| t.ts), Some(Timestamp(10)));
        assert!(p.syn_sent_before(&next).is_none());
        p.expire(Timestamp(20 + TRACE_PARK_LIMIT));
        assert!(!p.any_parked());
    }

    #[test]
    fn a_change_waits_for_its_packets_then_goes_without() {
        let mut p = Park::default();
        let t: Tuple = (
            "127.0.0.1:1".parse().unwrap(),
            "127.0.0.1:2".parse().unwrap(),
        );
        let c = StateChange {
            ts: Timestamp(5),
            local: t.0,
            remote: Some(t.1),
            from: None,
            to: TcpState::Established,
            timer: None,
            dated: Dated::Walked { seen: Timestamp(5) },
            from_seen: Timestamp(5),
        };
        p.wait(t, c.clone());
        assert!(p.expire(Timestamp(5 + PENDING_LIMIT - 1)).is_empty());
        assert_eq!(p.expire(Timestamp(5 + PENDING_LIMIT)), [c]);
        assert!(p.found(&[t]).is_empty());
    }
}
