//! The kernel's word on single packets besides its resets: which segments
//! it dropped on their way into a socket, and why (`skb:kfree_skb`), and
//! which it retransmitted (`tcp:tcp_retransmit_skb`/`_synack`).
//!
//! Drops: the record names the receiving socket, not the segment. On the
//! lab's loopback a segment is processed up to its drop before the next
//! is sent, so a drop is the last segment captured towards that socket
//! before it: from its peer to it for a connected socket, to its port (and
//! address, unless it is bound to any) for a listener, the last SYN-ACK
//! from its peer for a socket still connecting (the tracepoint names it
//! before it has its port). The last [`RECENT`] packets captured are kept
//! in one ring (a copy of their addresses and time per packet, no lookup,
//! no allocation), searched from the newest only when a drop comes, and
//! only while the tracer reads drops. The model takes
//! inputs in time order, so when a drop comes that segment has come and
//! is still held: the pair is noted, and the packet takes the reason as it
//! leaves the hold. A drop with no such segment within [`DROP_WINDOW`] is
//! dropped: nothing is guessed.
//!
//! Retransmissions: each report fires just after its copy left, so it
//! comes shortly after the packet. A packet the capture's analysis calls a
//! retransmission (or out of order) takes the first report of its pair
//! from [`RETRANSMIT_BEFORE`] before it to [`RETRANSMIT_AFTER`] after it as
//! it leaves the hold, and is the kernel's; with the tracepoints on, one
//! that finds none is the capture's alone (`InferredOnly`). Without them
//! nothing is said.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;

use crate::event::{PacketEvent, RetransmitWitness};
use crate::model::reports::{Retransmit, SkbDrop, Traces};
use crate::tcp::Segment;
use crate::tcp::track::Notes;
use crate::time::Timestamp;

/// A drop is at most this long after its segment was captured (the lab's
/// loopback takes microseconds; a busy machine's softirq, more).
pub const DROP_WINDOW: u64 = 100_000_000;
/// A retransmission's report may be stamped this long before its packet
/// (the tracer's clock is converted to the capture's, within microseconds)…
pub const RETRANSMIT_BEFORE: u64 = 1_000_000;
/// … and comes at most this long after it.
pub const RETRANSMIT_AFTER: u64 = 20_000_000;
/// Reports and marks wait at most this long for their packet.
const KEEP: u64 = 2_000_000_000;
/// Entries kept at most in each table: under a flood the oldest go first.
const MAX_WAITING: usize = 8_192;

type Pair = (SocketAddr, SocketAddr);

/// Packets kept at most, newest last: a burst of a window's segments and
/// the drop of one of them reported up to the tracer's lateness after the
/// rest were captured (on the lab's loopback the drop follows its segment
/// within a few packets; 4,096 is 40 ms of a 100,000-packet-a-second flood).
const RECENT: usize = 4_096;

/// The last packets captured, oldest first (in time order: the model takes
/// packets so). The packet a drop names is the newest of its socket not
/// after the drop; had it been pushed out, so would every older one, so
/// what is found is never another packet.
#[derive(Default)]
struct Recent(VecDeque<Captured>);

/// A captured packet as a drop may name it.
#[derive(Clone, Copy)]
struct Captured {
    key: PacketKey,
    synack: bool,
}

impl Recent {
    fn push(&mut self, c: Captured) {
        if self.0.len() == RECENT {
            self.0.pop_front();
        }
        self.0.push_back(c);
    }

    /// The newest packet not after `ts` (nor more than [`DROP_WINDOW`]
    /// before it) that `wanted` accepts.
    fn newest(&self, ts: Timestamp, wanted: impl Fn(&Captured) -> bool) -> Option<PacketKey> {
        let oldest = ts.0.saturating_sub(DROP_WINDOW);
        self.0
            .iter()
            .rev()
            .skip_while(|c| c.key.2.0 > ts.0)
            .take_while(|c| c.key.2.0 >= oldest)
            .find(|c| wanted(c))
            .map(|c| c.key)
    }
}

/// A captured packet: (source, destination, time).
type PacketKey = (SocketAddr, SocketAddr, Timestamp);

/// The notes that make a packet a retransmission as the capture sees it.
const RESENT: Notes = Notes(
    Notes::RETRANSMISSION.0
        | Notes::FAST_RETRANSMISSION.0
        | Notes::SPURIOUS_RETRANSMISSION.0
        | Notes::OUT_OF_ORDER.0,
);
/// The notes the capture's analysis calls a retransmission by name.
const CALLED_RETRANSMISSION: Notes = Notes(
    Notes::RETRANSMISSION.0 | Notes::FAST_RETRANSMISSION.0 | Notes::SPURIOUS_RETRANSMISSION.0,
);

#[derive(Default)]
pub(super) struct Witness {
    traces: Traces,
    /// The last packets captured. A connecting socket's drop names the
    /// socket before it has its port (the tracepoint logs SYN-SENT with
    /// local port 0): the SYN-ACK from its peer is what it receives then.
    recent: Recent,
    /// Packets the kernel dropped, waiting to leave the hold.
    dropped: crate::hash::Map<PacketKey, Arc<str>>,
    dropped_order: VecDeque<PacketKey>,
    /// Retransmission reports waiting for their packets.
    resent: crate::hash::Map<Pair, VecDeque<Timestamp>>,
    resent_order: VecDeque<(Timestamp, Pair)>,
}

impl Witness {
    pub fn set_traces(&mut self, traces: Traces) {
        self.traces = traces;
    }

    /// A packet entered the model (in time order): a drop reported next
    /// may be it.
    pub fn captured(&mut self, seg: &Segment) {
        if !self.traces.drops {
            return;
        }
        self.recent.push(Captured {
            key: (seg.src, seg.dst, seg.ts),
            synack: seg.tcp.is_some_and(|h| h.flags.syn() && h.flags.ack()),
        });
    }

    /// A drop the kernel reported: its segment is marked, to take the
    /// reason when it leaves the hold. Newer packets may have come first
    /// when the drop's report came late: the newest not after it.
    pub fn on_drop(&mut self, d: &SkbDrop) {
        let found = match d.remote {
            Some(remote) if d.local.port() == 0 => self.recent.newest(d.ts, |c| {
                c.synack && c.key.0 == remote && c.key.1.ip() == d.local.ip()
            }),
            Some(remote) => self
                .recent
                .newest(d.ts, |c| c.key.0 == remote && c.key.1 == d.local),
            None => self.recent.newest(d.ts, |c| {
                let dst = c.key.1;
                dst.port() == d.local.port()
                    && (d.local.ip().is_unspecified() || dst.ip() == d.local.ip())
            }),
        };
        let Some(key) = found else {
            return;
        };
        if self.dropped.insert(key, Arc::clone(&d.reason)).is_none() {
            self.dropped_order.push_back(key);
        }
        while self.dropped_order.len() > MAX_WAITING
            || self
                .dropped_order
                .front()
                .is_some_and(|(_, _, at)| at.0.saturating_add(KEEP) < d.ts.0)
        {
            if let Some(old) = self.dropped_order.pop_front() {
                self.dropped.remove(&old);
            }
        }
    }

    /// A retransmission the kernel reported: it waits for its packet.
    pub fn on_retransmit(&mut self, r: Retransmit) {
        let pair = (r.src, r.dst);
        self.resent.entry(pair).or_default().push_back(r.ts);
        self.resent_order.push_back((r.ts, pair));
        while self.resent_order.len() > MAX_WAITING
            || self
                .resent_order
                .front()
                .is_some_and(|(at, _)| at.0.saturating_add(KEEP) < r.ts.0)
        {
            let Some((at, pair)) = self.resent_order.pop_front() else {
                break;
            };
            if let Some(q) = self.resent.get_mut(&pair) {
                // Taken already when it is not at the front.
                if q.front() == Some(&at) {
                    q.pop_front();
                }
                if q.is_empty() {
                    self.resent.remove(&pair);
                }
            }
        }
    }

    /// A packet leaving the hold takes what the kernel said of it.
    pub fn annotate(&mut self, p: &mut PacketEvent) {
        let seg = &p.segment;
        if !self.dropped.is_empty() {
            p.drop_reason = self.dropped.remove(&(seg.src, seg.dst, seg.ts));
        }
        if !self.traces.retransmits {
            return;
        }
        let Some(tcp) = seg.tcp else {
            return;
        };
        let occupies = seg.payload_len > 0 || tcp.flags.syn() || tcp.flags.fin();
        if !occupies || p.notes.0 & RESENT.0 == 0 {
            return;
        }
        let confirmed = self.take_report((seg.src, seg.dst), seg.ts);
        p.retransmit = if confirmed {
            Some(RetransmitWitness::Kernel)
        } else if p.notes.0 & CALLED_RETRANSMISSION.0 != 0 {
            Some(RetransmitWitness::InferredOnly)
        } else {
            None
        };
    }

    /// Takes the first report of `pair` near `ts`, dropping those too old
    /// to be any later packet's (packets leave in time order).
    fn take_report(&mut self, pair: Pair, ts: Timestamp) -> bool {
        let Some(q) = self.resent.get_mut(&pair) else {
            return false;
        };
        while q
            .front()
            .is_some_and(|at| at.0.saturating_add(RETRANSMIT_BEFORE) < ts.0)
        {
            q.pop_front();
        }
        let found = q
            .front()
            .is_some_and(|at| at.0 <= ts.0.saturating_add(RETRANSMIT_AFTER));
        if found {
            q.pop_front();
        }
        if q.is_empty() {
            self.resent.remove(&pair);
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tcp::Flags;

    fn addr(s: &str) -> SocketAddr {
        s.parse().expect("an address")
    }

    fn seg(us: u64, src: &str, dst: &str, flags: Flags) -> Segment {
        Segment::bare(Timestamp(us * 1_000), addr(src), addr(dst), flags, 1, 1)
    }

    fn drop_at(us: u64, local: &str, remote: Option<&str>) -> SkbDrop {
        SkbDrop {
            ts: Timestamp(us * 1_000),
            local: addr(local),
            remote: remote.map(addr),
            reason: Arc::from("SOCKET_FILTER"),
        }
    }

    fn witness() -> Witness {
        let mut w = Witness::default();
        w.set_traces(Traces {
            drops: true,
            ..Traces::default()
        });
        w
    }

    fn reason(w: &mut Witness, s: &Segment) -> Option<Arc<str>> {
        w.dropped.remove(&(s.src, s.dst, s.ts))
    }

    /// The newest packet of the socket not after the drop takes it, even
    /// when newer packets (of it and of others) came before the report.
    #[test]
    fn a_drop_names_the_newest_packet_of_its_socket_not_after_it() {
        let mut w = witness();
        let (c, s) = ("10.0.0.1:40000", "10.0.0.2:7000");
        let first = seg(10, s, c, Flags::ACK);
        let second = seg(20, s, c, Flags::ACK);
        let other = seg(25, "10.0.0.3:1", c, Flags::ACK);
        let later = seg(40, s, c, Flags::ACK);
        for p in [&first, &second, &other, &later] {
            w.captured(p);
        }
        w.on_drop(&drop_at(30, c, Some(s)));
        assert!(reason(&mut w, &first).is_none());
        assert_eq!(reason(&mut w, &second).as_deref(), Some("SOCKET_FILTER"));
        assert!(reason(&mut w, &other).is_none() && reason(&mut w, &later).is_none());
    }

    /// A listener's drop (no peer) is the last packet to its port and
    /// address; a connecting socket's (no port yet) the last SYN-ACK from
    /// its peer.
    #[test]
    fn listeners_and_connecting_sockets_are_found_by_port_and_by_syn_ack() {
        let mut w = witness();
        let to_listener = seg(10, "10.0.0.1:40000", "10.0.0.2:7000", Flags::ACK);
        let elsewhere = seg(11, "10.0.0.1:40001", "10.0.0.9:7000", Flags::ACK);
        let synack = seg(
            12,
            "10.0.0.2:7000",
            "10.0.0.1:40002",
            Flags::SYN | Flags::ACK,
        );
        let plain = seg(13, "10.0.0.2:7000", "10.0.0.1:40002", Flags::ACK);
        for p in [&to_listener, &elsewhere, &synack, &plain] {
            w.captured(p);
        }
        w.on_drop(&drop_at(20, "10.0.0.2:7000", None));
        w.on_drop(&drop_at(20, "10.0.0.1:0", Some("10.0.0.2:7000")));
        assert!(reason(&mut w, &to_listener).is_some());
        assert!(reason(&mut w, &elsewhere).is_none());
        assert!(reason(&mut w, &synack).is_some());
        assert!(reason(&mut w, &plain).is_none());
    }

    /// Nothing is guessed: a packet older than the window, or pushed out
    /// of the ring by newer ones, is not named.
    #[test]
    fn a_drop_too_late_or_beyond_the_ring_names_nothing() {
        let mut w = witness();
        let (c, s) = ("10.0.0.1:40000", "10.0.0.2:7000");
        let old = seg(10, s, c, Flags::ACK);
        w.captured(&old);
        w.on_drop(&drop_at(10 + DROP_WINDOW / 1_000 + 1, c, Some(s)));
        assert!(w.dropped.is_empty());
        for i in 0..RECENT as u64 {
            w.captured(&seg(20 + i, "10.0.0.3:1", "10.0.0.4:2", Flags::ACK));
        }
        w.on_drop(&drop_at(5_000, c, Some(s)));
        assert!(w.dropped.is_empty());
        assert_eq!(w.recent.0.len(), RECENT);
    }
}
