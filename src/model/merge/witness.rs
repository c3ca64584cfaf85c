//! The kernel's word on single packets besides its resets: which segments
//! it dropped on their way into a socket, and why (`skb:kfree_skb`), and
//! which it retransmitted (`tcp:tcp_retransmit_skb`/`_synack`).
//!
//! Drops: the record names the receiving socket, not the segment. On the
//! lab's loopback a segment is processed up to its drop before the next
//! is sent, so a drop is the last segment captured towards that socket
//! before it (among the last 64 towards its port): from its peer to it
//! for a connected socket, to its port (and address, unless it is bound to
//! any) for a listener, the last SYN-ACK from its peer for a socket still
//! connecting (the tracepoint names it before it has its port). The
//! bookkeeping costs one lookup of a small table per packet, and only when
//! the tracer reads drops. The model takes
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

/// Packets kept towards each port at most: a burst of a window's segments
/// and the drop of one of them reported up to the tracer's lateness after
/// the rest were captured.
const RECENT: usize = 64;

/// The last packets towards one port, oldest first (in time order: the
/// model takes packets so). The packet a drop names is the newest of its
/// socket not after the drop; had it been pushed out, so would every older
/// one, so what is found is never another packet.
#[derive(Default)]
struct Recent(VecDeque<PacketKey>);

impl Recent {
    fn push(&mut self, key: PacketKey) {
        if self.0.len() == RECENT {
            self.0.pop_front();
        }
        self.0.push_back(key);
    }

    /// The newest packet that `wanted` accepts.
    fn newest(&self, wanted: impl Fn(&PacketKey) -> bool) -> Option<PacketKey> {
        self.0.iter().rev().find(|k| wanted(k)).copied()
    }

    fn newest_ts(&self) -> u64 {
        self.0.back().map_or(0, |k| k.2.0)
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
    /// The last packets captured towards each port (one table of ports,
    /// one lookup per packet).
    last_to_port: crate::hash::Map<u16, Recent>,
    /// The last SYN-ACK from each address: a connecting socket's drop
    /// names it before it has its port (the tracepoint logs SYN-SENT with
    /// local port 0), and a SYN-ACK is what it receives then.
    last_synack_from: crate::hash::Map<SocketAddr, PacketKey>,
    /// When the tables above were last swept of old packets.
    swept: Timestamp,
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

    /// A packet entered the model (in time order): the last of its pair
    /// and towards its port, which a drop reported next may be.
    pub fn captured(&mut self, seg: &Segment) {
        if !self.traces.drops {
            return;
        }
        self.last_to_port
            .entry(seg.dst.port())
            .or_default()
            .push((seg.src, seg.dst, seg.ts));
        if seg.tcp.is_some_and(|h| h.flags.syn() && h.flags.ack()) {
            self.last_synack_from
                .insert(seg.src, (seg.src, seg.dst, seg.ts));
        }
        if seg.ts.0 > self.swept.0.saturating_add(1_000_000_000) {
            let old = seg.ts.0.saturating_sub(DROP_WINDOW);
            self.last_to_port.retain(|_, r| r.newest_ts() >= old);
            self.last_synack_from.retain(|_, (_, _, at)| at.0 >= old);
            self.swept = seg.ts;
        }
    }

    /// A drop the kernel reported: its segment is marked, to take the
    /// reason when it leaves the hold.
    pub fn on_drop(&mut self, d: &SkbDrop) {
        let found = match d.remote {
            Some(remote) if d.local.port() == 0 => self
                .last_synack_from
                .get(&remote)
                .copied()
                .filter(|(_, dst, _)| dst.ip() == d.local.ip()),
            // Newer packets may have come first when the drop's report
            // came late: the newest not after it.
            Some(remote) => self.last_to_port.get(&d.local.port()).and_then(|r| {
                r.newest(|(src, dst, at)| *src == remote && *dst == d.local && at.0 <= d.ts.0)
            }),
            None => self.last_to_port.get(&d.local.port()).and_then(|r| {
                r.newest(|(_, dst, at)| {
                    (d.local.ip().is_unspecified() || dst.ip() == d.local.ip()) && at.0 <= d.ts.0
                })
            }),
        };
        let Some(key) = found.filter(|(_, _, at)| at.0 <= d.ts.0 && d.ts.0 - at.0 <= DROP_WINDOW)
        else {
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
