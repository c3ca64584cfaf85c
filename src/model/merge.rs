//! Each endpoint's TCP state, from two witnesses: the kernel (sock_diag polls
//! and, as root, the inet_sock_set_state tracepoint) and the RFC 9293 machine
//! driven by the captured packets.
//!
//! The kernel is the authority. An inferred change the kernel confirms within
//! [`MATCH_WINDOW`] is dropped as a duplicate; one it never reports is shown,
//! marked `inferred` — in a rootless lab that fills the short states polling
//! misses (SYN-SENT, FIN-WAIT-1, LAST-ACK …); with the tracer running, where
//! the kernel misses nothing, it is also flagged as a disagreement.
//! Without a kernel (`read FILE`) every state is inferred.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use super::sorted::SortedQueue;
use crate::hash::Map;
use std::net::SocketAddr;

use super::reports::SockInfo;
use super::reports::Transition as KernelTransition;
use super::view::{KernelView, SocketQueues, StateChange};
use super::{KernelMode, ListenCounters};
use crate::event::{Event, QueueEvent, SocketQueuesEvent, StateEvent, StateSource};
use crate::tcp::state::{Cause, ConnMachine};
use crate::tcp::track::{ConnId, Role};
use crate::tcp::{Segment, TcpHeader, TcpState};
use crate::time::Timestamp;

/// How far apart (in time) a kernel change and an inferred change to the same
/// state of the same endpoint may be and still be the same change: a poll
/// interval, a tracer batch, and slack.
pub const MATCH_WINDOW: u64 = 250_000_000;
/// The window grows with the gap between sock_diag polls (a poll slowed by a
/// huge socket table or a busy machine sees a change that much later), up to
/// this: a little more than the longest poll interval.
const MAX_MATCH_WINDOW: u64 = 1_500_000_000;
/// Events held at most: under a flood the hold shortens (about 60 ms at
/// 260,000 events a second) instead of the memory growing with the rate.
const MAX_HELD: usize = 8_192;
/// A kernel change for a socket whose packets were not seen yet waits this
/// long for them (to learn its connection id), then is shown without one.
const PENDING_LIMIT: u64 = 300_000_000;

/// A connected socket's Recv-Q/Send-Q are reported at most this often (ns).
const SOCKET_QUEUES_EVERY: u64 = 100_000_000;

/// A traced transition of a socket not (yet) known to be ours waits this long
/// (a connect() can sit in SYN-SENT for its whole timeout before its socket
/// shows up with a port).
const TRACE_PARK_LIMIT: u64 = 130_000_000_000;
/// At most this many transitions wait; strangers' beyond it are not kept.
const MAX_PARKED: usize = 20_000;

/// A finished connection (both ends CLOSED or LISTEN; or TIME-WAIT, when the
/// kernel reports its end) is forgotten this long after its last packet: a
/// busy port must not fill the memory with connections long over.
const RETIRE_AFTER: u64 = 500_000_000;
/// What is kept of a forgotten connection — its id, which end is the client
/// and each end's last state shown — so the kernel's later reports on its
/// sockets (TIME-WAIT's end, 60 s on Linux) and late packets still name it.
const RETIRED_FOR: u64 = 65_000_000_000;
/// At most this many forgotten connections are kept (the oldest go first).
const MAX_RETIRED: usize = 200_000;

/// (conn, endpoint role, state): what a kernel change and an inferred one
/// are matched by.
type TwinKey = (ConnId, Role, TcpState);

/// An event waiting in time order: by (time, arrival).
type Slot = (Timestamp, u64);

struct Held {
    event: Event,
    /// Set for inferred state changes, which a kernel report may replace.
    twin: Option<TwinKey>,
}

/// The held events themselves, in places reused as they leave: the sorted
/// queue then moves (time, place) pairs, not whole events (a profile of a
/// flood spent a sixth of its time copying events as the queue shifted).
#[derive(Default)]
struct Store {
    places: Vec<Option<Held>>,
    free: Vec<u32>,
}

impl Store {
    fn put(&mut self, h: Held) -> u32 {
        if let Some(i) = self.free.pop() {
            self.places[i as usize] = Some(h);
            i
        } else {
            self.places.push(Some(h));
            u32::try_from(self.places.len() - 1).unwrap_or(u32::MAX)
        }
    }

    fn take(&mut self, i: u32) -> Option<Held> {
        let h = self.places.get_mut(i as usize)?.take();
        if h.is_some() {
            self.free.push(i);
        }
        h
    }
}

/// A socket by (local, remote).
type Tuple = (SocketAddr, SocketAddr);

/// Where a parked transition waits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Park {
    /// A transition of a socket with a port, by its tuple.
    Tuple(Tuple),
    /// connect()'s port-0 SYN-SENT, by the kernel address of its socket.
    Syn(u64),
}

/// One connection's inferred machine and what it takes to forget it.
struct Machine {
    machine: ConnMachine,
    client: SocketAddr,
    server: SocketAddr,
    /// The time of its last packet.
    last: Timestamp,
    /// Finished and queued to be forgotten.
    retiring: bool,
    /// The TIME-WAIT end already queued.
    scheduled: Option<Timestamp>,
    /// Its packets came back after it was forgotten.
    revived: bool,
}

/// A forgotten connection, by a fingerprint of its two endpoints.
#[derive(Clone, Copy, Debug)]
struct Retired {
    conn: ConnId,
    /// The lower of the two endpoints is the client.
    client_is_lo: bool,
    /// The last state shown for the (lower, higher) endpoint's socket.
    shown: [Option<(TcpState, StateSource)>; 2],
    at: Timestamp,
}

/// The two endpoints, in either order, as one 64-bit number: what a
/// forgotten connection is found by (16 bytes kept instead of 64).
fn fingerprint(a: SocketAddr, b: SocketAddr) -> u64 {
    use std::hash::BuildHasher;
    foldhash::quality::FixedState::with_seed(0x5f4e_ac4b).hash_one((a.min(b), a.max(b)))
}

/// Merges the witnesses into state (and queue) events.
pub struct States {
    mode: KernelMode,
    view: KernelView,
    machines: Map<ConnId, Machine>,
    deadlines: BinaryHeap<Reverse<(Timestamp, ConnId)>>,
    /// Finished connections, by when they may be forgotten.
    retire_due: BinaryHeap<Reverse<(Timestamp, ConnId)>>,
    retired: Map<u64, Retired>,
    retired_order: VecDeque<(Timestamp, u64)>,
    /// Connections forgotten since the caller last asked, as (client, server).
    retired_now: Vec<(SocketAddr, SocketAddr)>,
    /// (local, remote) → the connection and the role of `local` in it.
    tuples: Map<(SocketAddr, SocketAddr), (ConnId, Role)>,
    /// Kernel changes waiting for their connection's first packet, by the
    /// socket's tuple, each with its arrival number; and in arrival order,
    /// for their time limit.
    pending: Map<Tuple, Vec<(u64, StateChange)>>,
    pending_order: VecDeque<(Timestamp, u64, Tuple)>,
    pending_seq: u64,
    /// Every event waits here a little (the match window), in time order,
    /// so that a kernel report can replace an inferred change.
    held: SortedQueue<Slot, u32>,
    store: Store,
    /// The held inferred changes by what they would be matched by.
    twins: Map<TwinKey, Vec<Slot>>,
    /// Kernel changes recently shown, to drop the inferred duplicates that
    /// come after; and the same in time order, to forget them.
    recent_kernel: Map<TwinKey, Timestamp>,
    recent_order: VecDeque<(Timestamp, TwinKey)>,
    counters: Option<ListenCounters>,
    queues: Map<SocketAddr, (u32, u32)>,
    now: Timestamp,
    /// When the last sock_diag snapshot was taken, and the match window
    /// that the gaps between snapshots call for (at least [`MATCH_WINDOW`]).
    last_snapshot: Option<Timestamp>,
    window: u64,
    order: u64,
    changes: Vec<StateChange>,
    queue_changes: Vec<super::view::ListenerQueue>,
    /// Lab peers by the local address of their sockets (`client2`, `server` …).
    names: Map<SocketAddr, String>,
    /// The last state shown for each socket (local, remote).
    shown: Map<(SocketAddr, Option<SocketAddr>), (TcpState, StateSource)>,
    /// When each lab listener's listen() returned.
    listen_calls: Map<SocketAddr, Timestamp>,
    /// Sockets (local, remote) seen in our packets or our socket table.
    /// Traced transitions waiting to be known as ours, and in arrival order
    /// (for their time limit).
    parked: Map<Park, Vec<KernelTransition>>,
    parked_order: VecDeque<(Timestamp, Park)>,
    parked_count: usize,
    socket_queue_changes: Vec<SocketQueues>,
    /// Socket queue changes not reported yet (too soon after the last), and
    /// their sockets in the order they first changed.
    pending_queues: Map<Tuple, SocketQueues>,
    pending_queue_keys: Vec<Tuple>,
    /// When each socket's queues were last reported.
    queues_reported: Map<(SocketAddr, SocketAddr), Timestamp>,
    /// The last `queue` line shown per listener address, as (accept queue,
    /// backlog, overflows, drops). A line is reported from two places (the
    /// queue changed; the namespace's counters changed) and a listener that
    /// misses a walk is forgotten and met again: either could repeat the last
    /// line word for word, which tells nothing. The same line is shown again
    /// only after a state change of the listener itself (a new listener).
    queue_shown: Map<SocketAddr, (u32, u32, u64, u64)>,
    /// The time of the last event released: nothing is placed before it.
    released_to: Timestamp,
    /// Without a kernel nothing else holds the events: SYNs not answered
    /// yet, by time (stale entries are skipped), hold what came from their
    /// time on, so that what the answer shows the SYN caused is placed
    /// right after the SYN.
    syn_waits: BinaryHeap<Reverse<(Timestamp, ConnId)>>,
}

/// Whether a connection is over: nothing more can happen to it but its
/// TIME-WAIT's end, which the kernel reports when there is one.
fn finished(m: &ConnMachine, kernel: bool) -> bool {
    [Role::Client, Role::Server]
        .into_iter()
        .all(|r| match m.state(r) {
            TcpState::Closed | TcpState::Listen => true,
            TcpState::TimeWait => kernel,
            _ => false,
        })
}

impl Default for States {
    fn default() -> Self {
        Self::new()
    }
}

impl States {
    #[must_use]
    pub fn new() -> Self {
        Self {
            mode: KernelMode::None,
            view: KernelView::new(),
            machines: Map::default(),
            deadlines: BinaryHeap::new(),
            retire_due: BinaryHeap::new(),
            retired: Map::default(),
            retired_order: VecDeque::new(),
            retired_now: Vec::new(),
            tuples: Map::default(),
            pending: Map::default(),
            pending_order: VecDeque::new(),
            pending_seq: 0,
            held: SortedQueue::new(),
            store: Store::default(),
            twins: Map::default(),
            recent_kernel: Map::default(),
            recent_order: VecDeque::new(),
            counters: None,
            queues: Map::default(),
            now: Timestamp(0),
            last_snapshot: None,
            window: MATCH_WINDOW,
            order: 0,
            changes: Vec::new(),
            queue_changes: Vec::new(),
            names: Map::default(),
            shown: Map::default(),
            listen_calls: Map::default(),
            parked: Map::default(),
            parked_order: VecDeque::new(),
            parked_count: 0,
            socket_queue_changes: Vec::new(),
            pending_queues: Map::default(),
            pending_queue_keys: Vec::new(),
            queues_reported: Map::default(),
            queue_shown: Map::default(),
            released_to: Timestamp(0),
            syn_waits: BinaryHeap::new(),
        }
    }

    /// A lab peer's listen() returned on `local` at `ts`: the listener's
    /// LISTEN, which a poll sees only at its next tick, is shown there.
    pub fn learn_listen(&mut self, local: SocketAddr, ts: Timestamp) {
        self.listen_calls.insert(local, ts);
    }

    /// A lab peer's socket has this local address (from its call reports).
    /// A forked child keeps its parent's sockets and name.
    pub fn learn_peer(&mut self, local: SocketAddr, peer: &str) {
        // The first peer on an address keeps it: a second server binding the
        // same port later (SO_REUSEADDR) must not rename the first one's sockets.
        let name = peer.strip_suffix("-child").unwrap_or(peer);
        self.names.entry(local).or_insert_with(|| name.to_owned());
    }

    /// The lab peer owning the socket bound to `local`, if known.
    #[must_use]
    pub fn peer_name(&self, local: SocketAddr) -> Option<&str> {
        self.owner_of(local).map(String::as_str)
    }

    /// The peer owning `local`: by the address itself, else by the wildcard
    /// address of its port (a socket bound to 0.0.0.0; a connect() that
    /// failed reports 0.0.0.0 and the port its SYN was sent from).
    fn owner_of(&self, local: SocketAddr) -> Option<&String> {
        if self.names.is_empty() {
            return None;
        }
        self.names.get(&local).or_else(|| {
            let any: std::net::IpAddr = match local {
                SocketAddr::V4(_) => std::net::Ipv4Addr::UNSPECIFIED.into(),
                SocketAddr::V6(_) => std::net::Ipv6Addr::UNSPECIFIED.into(),
            };
            self.names.get(&SocketAddr::new(any, local.port()))
        })
    }

    fn endpoint_name(&self, local: SocketAddr, role: Role) -> String {
        self.peer_name(local)
            .map_or_else(|| role.as_str().to_owned(), str::to_owned)
    }

    pub fn set_mode(&mut self, mode: KernelMode) {
        self.mode = mode;
    }

    #[must_use]
    pub fn mode(&self) -> KernelMode {
        self.mode
    }

    /// A tracked TCP segment: learns its 4-tuple, drives the inferred machine.
    pub fn on_segment(
        &mut self,
        seg: &Segment,
        hdr: &TcpHeader,
        conn: ConnId,
        from: Role,
        lost: bool,
        out: &mut Vec<Event>,
    ) {
        self.advance(seg.ts, out);
        if self.tuples.get(&(seg.src, seg.dst)) != Some(&(conn, from)) {
            self.confirm(&[(seg.src, seg.dst), (seg.dst, seg.src)], out);
            self.tuples.insert((seg.src, seg.dst), (conn, from));
            self.tuples.insert((seg.dst, seg.src), (conn, from.peer()));
            // Kernel changes that were waiting for this connection's id.
            let mut waiting: Vec<(u64, StateChange)> = Vec::new();
            for t in [(seg.src, seg.dst), (seg.dst, seg.src)] {
                waiting.extend(self.pending.remove(&t).unwrap_or_default());
            }
            waiting.sort_by_key(|(seq, _)| *seq);
            for (_, c) in waiting {
                self.emit_kernel(c, out);
            }
        }
        let (client, server) = match from {
            Role::Client => (seg.src, seg.dst),
            Role::Server => (seg.dst, seg.src),
        };
        if !self.machines.contains_key(&conn) {
            // Packets of a connection forgotten: it is known again.
            let revived = self.retired.remove(&fingerprint(client, server)).is_some();
            self.machines.insert(
                conn,
                Machine {
                    machine: ConnMachine::new(),
                    client,
                    server,
                    last: seg.ts,
                    retiring: false,
                    scheduled: None,
                    revived,
                },
            );
        }
        let kernel = self.mode != KernelMode::None;
        let Some(m) = self.machines.get_mut(&conn) else {
            return;
        };
        let transitions = if lost {
            m.machine
                .on_segment_lost(from, hdr, seg.payload_len, seg.ts)
        } else {
            m.machine.on_segment(from, hdr, seg.payload_len, seg.ts)
        };
        m.last = seg.ts;
        if !m.retiring && finished(&m.machine, kernel) {
            m.retiring = true;
            self.retire_due
                .push(Reverse((Timestamp(seg.ts.0 + RETIRE_AFTER), conn)));
        }
        // With a kernel, the kernel reports TIME-WAIT's end (and a finished
        // connection is forgotten before it).
        if let Some(d) = m.machine.next_deadline().filter(|_| !kernel) {
            if m.scheduled != Some(d) {
                m.scheduled = Some(d);
                self.deadlines.push(Reverse((d, conn)));
            }
        }
        let syn = m.machine.unanswered_syn();
        if let Some(at) = syn.filter(|_| !kernel) {
            if self
                .syn_waits
                .peek()
                .is_none_or(|Reverse(w)| *w != (at, conn))
            {
                self.syn_waits.push(Reverse((at, conn)));
            }
        }
        for t in &transitions {
            self.inferred(conn, t, out);
        }
    }

    /// Whether a socket is ours: its packets were captured here, or this
    /// namespace's socket table shows it (or did until it closed).
    fn is_ours(&self, local: SocketAddr, remote: SocketAddr) -> bool {
        self.tuples.contains_key(&(local, remote))
            || self.view.state_of(local, Some(remote)).is_some()
            || self.retired.contains_key(&fingerprint(local, remote))
    }

    /// A packet of `conn` at `ts`: it is not to be forgotten before it is seen.
    pub fn touch(&mut self, conn: ConnId, ts: Timestamp) {
        if let Some(m) = self.machines.get_mut(&conn) {
            m.last = m.last.max(ts);
        }
    }

    /// The connection and the role of `local` in it, for a socket whose
    /// packets were seen (its connection may have been forgotten since).
    fn conn_of(&self, local: SocketAddr, remote: SocketAddr) -> Option<(ConnId, Role)> {
        if let Some(found) = self.tuples.get(&(local, remote)) {
            return Some(*found);
        }
        let r = self.retired.get(&fingerprint(local, remote))?;
        let role = if (local < remote) == r.client_is_lo {
            Role::Client
        } else {
            Role::Server
        };
        Some((r.conn, role))
    }

    /// A forgotten connection with these endpoints: its id and its client,
    /// for the tracker to take its late packets back under the same id.
    #[must_use]
    pub fn retired_conn(&self, a: SocketAddr, b: SocketAddr) -> Option<(ConnId, SocketAddr)> {
        let r = self.retired.get(&fingerprint(a, b))?;
        let client = if r.client_is_lo { a.min(b) } else { a.max(b) };
        Some((r.conn, client))
    }

    /// Connections forgotten since the last call, as (client, server).
    pub fn take_retired(&mut self) -> impl Iterator<Item = (SocketAddr, SocketAddr)> + '_ {
        self.retired_now.drain(..)
    }

    /// Connections currently remembered (with their machines) and forgotten
    /// ones still kept in brief.
    #[must_use]
    pub fn remembered(&self) -> (usize, usize) {
        (self.machines.len(), self.retired.len())
    }

    /// Forgets a connection: its machine, its sockets' tuples and what was
    /// shown of them. With `keep`, a brief of it stays for later reports.
    pub fn forget(&mut self, conn: ConnId, keep: bool) {
        let Some(m) = self.machines.remove(&conn) else {
            return;
        };
        let (c, s) = (m.client, m.server);
        for t in [(c, s), (s, c)] {
            self.tuples.remove(&t);
            self.queues_reported.remove(&t);
        }
        let (lo, hi) = (c.min(s), c.max(s));
        let shown = [
            self.shown.remove(&(lo, Some(hi))),
            self.shown.remove(&(hi, Some(lo))),
        ];
        if !keep {
            return;
        }
        let fp = fingerprint(c, s);
        self.retired.insert(
            fp,
            Retired {
                conn,
                client_is_lo: c < s,
                shown,
                at: self.now,
            },
        );
        self.retired_order.push_back((self.now, fp));
        self.retired_now.push((c, s));
        while self.retired.len() > MAX_RETIRED {
            let Some((at, fp)) = self.retired_order.pop_front() else {
                break;
            };
            if self.retired.get(&fp).is_some_and(|r| r.at == at) {
                self.retired.remove(&fp);
            }
        }
    }

    /// Forgets finished connections whose time has come, and what is kept of
    /// those forgotten long ago.
    fn retire(&mut self) {
        let kernel = self.mode != KernelMode::None;
        while let Some(Reverse((due, conn))) = self.retire_due.peek().copied() {
            if due > self.now {
                break;
            }
            self.retire_due.pop();
            let Some(m) = self.machines.get_mut(&conn) else {
                continue;
            };
            if !finished(&m.machine, kernel) {
                m.retiring = false;
                continue;
            }
            let at = Timestamp(m.last.0 + RETIRE_AFTER);
            if at > self.now {
                // Packets came since: later.
                self.retire_due.push(Reverse((at, conn)));
                continue;
            }
            self.forget(conn, true);
        }
        let limit = self.now.0.saturating_sub(RETIRED_FOR);
        while let Some(&(at, fp)) = self.retired_order.front() {
            if at.0 > limit {
                break;
            }
            self.retired_order.pop_front();
            if self.retired.get(&fp).is_some_and(|r| r.at == at) {
                self.retired.remove(&fp);
            }
        }
    }

    /// The last state shown for a socket.
    fn last_shown(
        &self,
        local: SocketAddr,
        remote: Option<SocketAddr>,
    ) -> Option<(TcpState, StateSource)> {
        if let Some(s) = self.shown.get(&(local, remote)) {
            return Some(*s);
        }
        let remote = remote?;
        if self.tuples.contains_key(&(local, remote)) {
            return None;
        }
        let r = self.retired.get(&fingerprint(local, remote))?;
        r.shown[usize::from(local > remote)]
    }

    fn set_shown(
        &mut self,
        local: SocketAddr,
        remote: Option<SocketAddr>,
        v: (TcpState, StateSource),
    ) {
        if let Some(r) = remote.filter(|r| !self.tuples.contains_key(&(local, *r))) {
            if let Some(entry) = self.retired.get_mut(&fingerprint(local, r)) {
                entry.shown[usize::from(local > r)] = Some(v);
                return;
            }
            if v.0 == TcpState::Closed {
                // A socket the packets never showed, now gone: nothing to
                // continue from (a new one on the same addresses starts anew).
                self.shown.remove(&(local, remote));
                return;
            }
        }
        self.shown.insert((local, remote), v);
    }

    /// A tracepoint transition. The tracepoint sees every network namespace,
    /// so a transition is used only once its socket is known to be ours: its
    /// packets were captured here or this namespace's socket table shows it.
    /// Until then it waits ([`TRACE_PARK_LIMIT`]); a stranger's never qualifies.
    /// Listeners are left to the polls: every lab listens on the same address.
    /// connect()'s SYN-SENT (local port 0) waits for the next transition of
    /// the same kernel socket, which names the port.
    pub fn on_kernel_transition(&mut self, t: &KernelTransition, out: &mut Vec<Event>) {
        self.advance(t.ts, out);
        if t.remote.port() == 0 {
            return;
        }
        if t.local.port() != 0 && self.is_ours(t.local, t.remote) {
            self.release_syn_sent(t, out);
            self.feed_transition(t, out);
        } else if self.parked_count < MAX_PARKED {
            let at = if t.local.port() == 0 {
                Park::Syn(t.skaddr)
            } else {
                Park::Tuple((t.local, t.remote))
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
        }
    }

    /// Feeds the port-0 SYN-SENT that the same kernel socket logged before `t`
    /// (the latest one: socket addresses are reused once a socket is freed).
    fn release_syn_sent(&mut self, t: &KernelTransition, out: &mut Vec<Event>) {
        let Some(syns) = self.parked.get_mut(&Park::Syn(t.skaddr)) else {
            return;
        };
        let mut best: Option<usize> = None;
        for (i, p) in syns.iter().enumerate() {
            if p.remote == t.remote && p.ts <= t.ts && best.is_none_or(|b| syns[b].ts < p.ts) {
                best = Some(i);
            }
        }
        if let Some(i) = best {
            let p = syns.swap_remove(i);
            if syns.is_empty() {
                self.parked.remove(&Park::Syn(t.skaddr));
            }
            self.parked_count -= 1;
            self.feed_transition(&p, out);
        }
    }

    /// Sockets now known to be ours: their parked transitions go to the view.
    fn confirm(&mut self, tuples: &[(SocketAddr, SocketAddr)], out: &mut Vec<Event>) {
        if self.parked_count == 0 {
            return;
        }
        let mut mine: Vec<KernelTransition> = Vec::new();
        for t in tuples {
            if let Some(v) = self.parked.remove(&Park::Tuple(*t)) {
                self.parked_count -= v.len();
                mine.extend(v);
            }
        }
        mine.sort_by_key(|p| p.ts);
        for p in &mine {
            self.release_syn_sent(p, out);
            self.feed_transition(p, out);
        }
    }

    fn feed_transition(&mut self, t: &KernelTransition, out: &mut Vec<Event>) {
        let mut changes = std::mem::take(&mut self.changes);
        changes.clear();
        self.view.on_transition(t, &mut changes);
        for c in changes.drain(..) {
            self.kernel_change(c, out);
        }
        self.changes = changes;
    }

    /// A sock_diag snapshot (and the namespace's listen counters).
    pub fn on_snapshot(
        &mut self,
        ts: Timestamp,
        socks: &[SockInfo],
        counters: Option<ListenCounters>,
        out: &mut Vec<Event>,
    ) {
        self.follow_poll_gap(ts);
        self.advance(ts, out);
        if self.parked_count > 0 {
            let tuples: Vec<_> = socks.iter().map(|s| (s.local, s.remote)).collect();
            self.confirm(&tuples, out);
        }
        let mut changes = std::mem::take(&mut self.changes);
        let mut queues = std::mem::take(&mut self.queue_changes);
        changes.clear();
        queues.clear();
        self.view.on_snapshot(ts, socks, &mut changes, &mut queues);
        for c in changes.drain(..) {
            self.kernel_change(c, out);
        }
        self.on_socket_queues(ts, socks);
        let counters_changed = counters.is_some() && counters != self.counters;
        if counters.is_some() {
            self.counters = counters;
        }
        let mut reported = Vec::new();
        for q in queues.drain(..) {
            reported.push(q.local);
            self.queue_event(&q);
        }
        if counters_changed {
            // The counters moved without a queue change (a SYN or final ACK
            // dropped at a full queue): report it on every listener.
            let c = self.counters.unwrap_or_default();
            // Listeners whose queue changed in this snapshot were just reported
            // with the new counters.
            let mut listeners: Vec<_> = self
                .queues
                .iter()
                .filter(|(l, _)| !reported.contains(l))
                .map(|(l, q)| (*l, *q))
                .collect();
            listeners.sort();
            for (local, (accept_queue, backlog)) in listeners {
                self.push(
                    ts,
                    Event::Queue(QueueEvent {
                        ts,
                        local,
                        accept_queue,
                        backlog,
                        overflows: c.overflows,
                        drops: c.drops,
                    }),
                    None,
                );
            }
        }
        self.changes = changes;
        self.queue_changes = queues;
    }

    /// A walk of the listeners alone (between full snapshots).
    pub fn on_listeners(&mut self, ts: Timestamp, socks: &[SockInfo], out: &mut Vec<Event>) {
        self.advance(ts, out);
        let mut changes = std::mem::take(&mut self.changes);
        let mut queues = std::mem::take(&mut self.queue_changes);
        changes.clear();
        queues.clear();
        self.view.on_listeners(ts, socks, &mut changes, &mut queues);
        for c in changes.drain(..) {
            self.kernel_change(c, out);
        }
        for q in queues.drain(..) {
            self.queue_event(&q);
        }
        self.changes = changes;
        self.queue_changes = queues;
    }

    /// A listener's accept queue changed.
    fn queue_event(&mut self, q: &super::view::ListenerQueue) {
        self.queues.insert(q.local, (q.accept_queue, q.backlog));
        let counters = self.counters.unwrap_or_default();
        self.push(
            q.ts,
            Event::Queue(QueueEvent {
                ts: q.ts,
                local: q.local,
                accept_queue: q.accept_queue,
                backlog: q.backlog,
                overflows: counters.overflows,
                drops: counters.drops,
            }),
            None,
        );
    }

    /// Reports connected sockets' Recv-Q/Send-Q changes, at most one per
    /// socket every [`SOCKET_QUEUES_EVERY`]: a bulk transfer changes them at
    /// every poll. The last value always follows.
    fn on_socket_queues(&mut self, ts: Timestamp, socks: &[SockInfo]) {
        let mut found = std::mem::take(&mut self.socket_queue_changes);
        found.clear();
        self.view.socket_queues(ts, socks, &mut found);
        for q in found.drain(..) {
            let key = (q.local, q.remote);
            if self.pending_queues.insert(key, q).is_none() {
                self.pending_queue_keys.push(key);
            }
        }
        self.socket_queue_changes = found;
        // In the order they first changed: the same run gives the same lines.
        let keys = std::mem::take(&mut self.pending_queue_keys);
        for key in keys {
            let due = self
                .queues_reported
                .get(&key)
                .is_none_or(|last| ts.0.saturating_sub(last.0) >= SOCKET_QUEUES_EVERY);
            if !due {
                self.pending_queue_keys.push(key);
                continue;
            }
            let Some(q) = self.pending_queues.remove(&key) else {
                continue;
            };
            self.queues_reported.insert(key, ts);
            let found = self.conn_of(key.0, key.1);
            let endpoint = match found {
                Some((_, role)) => self.endpoint_name(q.local, role),
                None => self.endpoint_name(q.local, Role::Client),
            };
            let ev = Event::SocketQueues(SocketQueuesEvent {
                ts: q.ts,
                conn: found.map(|(c, _)| c),
                endpoint,
                local: q.local,
                remote: q.remote,
                recv_q: q.recv_q,
                send_q: q.send_q,
            });
            self.push(q.ts, ev, None);
        }
        if self.queues_reported.len() > 4096 {
            let keep = Timestamp(ts.0.saturating_sub(SOCKET_QUEUES_EVERY));
            self.queues_reported.retain(|_, at| *at >= keep);
        }
    }

    /// Moves time forward: fires inferred timers and releases what is due.
    fn advance(&mut self, now: Timestamp, out: &mut Vec<Event>) {
        if now > self.now {
            self.now = now;
        }
        while let Some(Reverse((due, conn))) = self.deadlines.peek().copied() {
            if due > self.now {
                break;
            }
            self.deadlines.pop();
            if let Some(entry) = self.machines.get_mut(&conn) {
                entry.scheduled = None;
                let ts = entry.machine.on_time(due);
                for t in &ts {
                    self.inferred(conn, t, out);
                }
            }
        }
        let park_limit = Timestamp(self.now.0.saturating_sub(TRACE_PARK_LIMIT));
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
        let limit = Timestamp(self.now.0.saturating_sub(PENDING_LIMIT));
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
            self.emit_kernel(c, out);
        }
        let window = self.hold_time();
        let mut until = Timestamp(self.now.0.saturating_sub(window));
        if let Some(syn) = self.syn_barrier() {
            until = until.min(Timestamp(syn.0.saturating_sub(1)));
        }
        self.release(Some(until), out);
        self.retire();
    }

    /// The time of the oldest SYN still waiting for its answer (for at most
    /// [`MATCH_WINDOW`]), when nothing else holds the events.
    fn syn_barrier(&mut self) -> Option<Timestamp> {
        let oldest = Timestamp(self.now.0.saturating_sub(MATCH_WINDOW));
        while let Some(&Reverse((at, conn))) = self.syn_waits.peek() {
            let waiting = at > oldest
                && self
                    .machines
                    .get(&conn)
                    .and_then(|m| m.machine.unanswered_syn())
                    == Some(at);
            if waiting {
                return Some(at);
            }
            self.syn_waits.pop();
        }
        None
    }

    /// How long events wait for a kernel report to replace them.
    fn hold_time(&self) -> u64 {
        match self.mode {
            KernelMode::None => 0,
            KernelMode::Exact | KernelMode::PollOnly => self.window,
        }
    }

    /// Widens the match window when polls come further apart than it allows
    /// (a poll sees a change only at its next tick), and narrows it back as
    /// they speed up again.
    fn follow_poll_gap(&mut self, ts: Timestamp) {
        if let Some(last) = self.last_snapshot.filter(|l| *l < ts) {
            let gap = ts.0 - last.0;
            let wanted = (gap + gap / 4 + 50_000_000).clamp(MATCH_WINDOW, MAX_MATCH_WINDOW);
            // Up at once; down slowly, so one quick poll does not undo it.
            self.window = if wanted >= self.window {
                wanted
            } else {
                self.window - (self.window - wanted) / 8
            };
        }
        self.last_snapshot = Some(ts);
    }

    /// Everything still held, in time order (the run is ending).
    pub fn flush(&mut self, out: &mut Vec<Event>) {
        let mut waiting: Vec<(u64, StateChange)> = std::mem::take(&mut self.pending)
            .into_values()
            .flatten()
            .collect();
        waiting.sort_by_key(|(seq, _)| *seq);
        self.pending_order.clear();
        for (_, c) in waiting {
            self.emit_kernel(c, out);
        }
        self.release(None, out);
    }

    /// Events held up to `until` (all when `None`), in time order.
    fn release(&mut self, until: Option<Timestamp>, out: &mut Vec<Event>) {
        while let Some(&(slot, _)) = self.held.first() {
            if until.is_some_and(|u| slot.0 > u) && self.held.len() <= MAX_HELD {
                break;
            }
            let Some(h) = self.held.pop_first().and_then(|(_, i)| self.store.take(i)) else {
                break;
            };
            if let Some(k) = h.twin {
                self.forget_twin(k, slot);
            }
            let mut event = h.event;
            self.released_to = self.released_to.max(slot.0);
            self.name_owner(&mut event);
            if let Event::Queue(q) = &event {
                let now = (q.accept_queue, q.backlog, q.overflows, q.drops);
                if self.queue_shown.insert(q.local, now) == Some(now) {
                    // The listener's last line said exactly this.
                    continue;
                }
            }
            if let Event::State(st) = &mut event {
                // One timeline per socket: each change starts where the last
                // one shown (by either witness) ended.
                if let Some((last, source)) = self.last_shown(st.local, st.remote) {
                    if last == st.to {
                        // The same state again: shown only when the kernel
                        // confirms what was so far only inferred.
                        if !(source == StateSource::Inferred && st.source == StateSource::Kernel) {
                            continue;
                        }
                        st.note.get_or_insert_with(|| {
                            "the kernel confirms the state inferred from the packets".to_owned()
                        });
                    }
                    st.from = Some(last);
                }
                self.set_shown(st.local, st.remote, (st.to, st.source));
                if st.remote.is_none() {
                    // The listener itself changed: its next queue line is news.
                    self.queue_shown.remove(&st.local);
                }
            }
            out.push(event);
        }
        let keep = Timestamp(self.now.0.saturating_sub(self.hold_time().max(1)));
        while let Some(&(ts, k)) = self.recent_order.front() {
            // Under a flood the count bounds it, as it bounds the held events.
            if ts >= keep && self.recent_order.len() <= MAX_HELD {
                break;
            }
            self.recent_order.pop_front();
            if self.recent_kernel.get(&k) == Some(&ts) {
                self.recent_kernel.remove(&k);
            }
        }
    }

    /// Names the peer owning an event's socket as the event leaves. A peer
    /// tells a socket's address only when its call returns (connect()) or
    /// blocks for a while, so the SYN-SENT and the first packets of a
    /// connect() came before its name: held since, they get it now, and the
    /// socket has one name from its first event on.
    fn name_owner(&self, event: &mut Event) {
        if self.names.is_empty() {
            return;
        }
        let (local, endpoint) = match event {
            // A listener is `listener`, by the contract.
            Event::State(s) if s.remote.is_some() => (s.local, &mut s.endpoint),
            Event::SocketQueues(q) => (q.local, &mut q.endpoint),
            Event::Packet(p) => {
                p.endpoint = self.owner_of(p.segment.src).cloned();
                return;
            }
            _ => return,
        };
        if let Some(name) = self.owner_of(local) {
            if endpoint != name {
                endpoint.clone_from(name);
            }
        }
    }

    fn forget_twin(&mut self, k: TwinKey, slot: Slot) {
        if let Some(v) = self.twins.get_mut(&k) {
            v.retain(|s| *s != slot);
            if v.is_empty() {
                self.twins.remove(&k);
            }
        }
    }

    /// Holds any event so that it leaves in time order with the state
    /// changes still waiting for confirmation. `now` advances the clock.
    pub fn hold(&mut self, event: Event, out: &mut Vec<Event>) {
        let ts = event.ts();
        self.push(ts, event, None);
        self.advance(ts, out);
    }

    fn push(&mut self, ts: Timestamp, event: Event, key: Option<TwinKey>) {
        self.order += 1;
        let slot = (ts, self.order);
        let inferred = matches!(&event, Event::State(s) if s.source == StateSource::Inferred);
        let twin = key.filter(|_| inferred);
        if let Some(k) = twin {
            self.twins.entry(k).or_default().push(slot);
        }
        let place = self.store.put(Held { event, twin });
        self.held.insert(slot, place);
    }

    fn kernel_change(&mut self, c: StateChange, out: &mut Vec<Event>) {
        let known = c.remote.is_none_or(|r| self.conn_of(c.local, r).is_some());
        if known {
            self.emit_kernel(c, out);
        } else if let Some(r) = c.remote {
            self.pending_seq += 1;
            self.pending_order
                .push_back((c.ts, self.pending_seq, (c.local, r)));
            self.pending
                .entry((c.local, r))
                .or_default()
                .push((self.pending_seq, c));
        }
    }

    fn emit_kernel(&mut self, c: StateChange, _out: &mut Vec<Event>) {
        let found = c.remote.and_then(|r| self.conn_of(c.local, r));
        let endpoint = match (c.remote, found) {
            (None, _) => "listener".to_owned(),
            (Some(_), Some((_, role))) => self.endpoint_name(c.local, role),
            // Never seen on the wire: a local port that is listening is a server's.
            (Some(_), None) => {
                let role = if self.view.state_of(c.local, None) == Some(TcpState::Listen) {
                    Role::Server
                } else {
                    Role::Client
                };
                self.endpoint_name(c.local, role)
            }
        };
        let key = found.map(|(conn, role)| (conn, role, c.to));
        let mut ts = c.ts;
        let mut timer = c.timer;
        let mut note = None;
        let mut from = c.from;
        if from.is_none() && c.to == TcpState::SynSent {
            // RFC 9293: only connect() on a CLOSED socket leads to SYN-SENT.
            from = Some(TcpState::Closed);
        }
        if c.remote.is_none() && c.to == TcpState::Listen {
            if let Some(at) = self.listen_calls.get(&c.local).copied() {
                // The lab's own listen() made it: it came from CLOSED.
                from = from.or(Some(TcpState::Closed));
                if at < ts && ts.0 - at.0 <= self.window {
                    if ts.0 - at.0 > 1_000_000 {
                        note = Some(format!(
                            "reported by the kernel {:.0} ms later; shown when listen() returned",
                            ts.seconds_since(at) * 1e3
                        ));
                    }
                    ts = at;
                }
            }
        }
        if let Some(k) = key {
            // The inferred twin of this change, if it is still held, is a duplicate.
            let twins: Vec<Slot> = self
                .twins
                .get(&k)
                .map(|v| {
                    v.iter()
                        .copied()
                        .filter(|(at, _)| at.0.abs_diff(c.ts.0) <= self.window)
                        .collect()
                })
                .unwrap_or_default();
            // A poll sees a change only at its next tick, and the tracepoint
            // reports a passive open only with the final ACK: when the packet
            // that caused the change was seen earlier, the change is shown there.
            if let Some(earlier) = twins.iter().map(|(at, _)| *at).min() {
                if earlier < ts {
                    if ts.0 - earlier.0 > 1_000_000 {
                        note = Some(format!(
                            "reported by the kernel {:.0} ms later; shown at the packet that caused it",
                            ts.seconds_since(earlier) * 1e3
                        ));
                    }
                    // The timer was read at the kernel's time: it had that much more then.
                    timer = timer.map(|t| t + ts.seconds_since(earlier));
                    ts = earlier;
                }
            }
            for slot in twins {
                if let Some(place) = self.held.remove(&slot) {
                    self.store.take(place);
                }
                self.forget_twin(k, slot);
            }
            self.recent_kernel.insert(k, ts);
            self.recent_order.push_back((ts, k));
        }
        let ev = Event::State(StateEvent {
            ts,
            conn: found.map(|(conn, _)| conn),
            endpoint,
            local: c.local,
            remote: c.remote,
            from,
            to: c.to,
            source: StateSource::Kernel,
            timer,
            note,
        });
        self.push(ts, ev, key);
    }

    fn inferred(&mut self, conn: ConnId, t: &crate::tcp::state::Transition, _out: &mut Vec<Event>) {
        // At the packet that caused it (for a passive open, the SYN, before
        // the SYN-ACK that showed it), unless that was already let out:
        // never before what is already shown.
        let ts = t.at.max(self.released_to);
        let Some((client, server, revived)) = self
            .machines
            .get(&conn)
            .map(|m| (m.client, m.server, m.revived))
        else {
            return;
        };
        let (local, remote) = match t.endpoint {
            Role::Client => (client, server),
            Role::Server => (server, client),
        };
        let key = (conn, t.endpoint, t.to);
        let mut note = t.note.map(|n| n.as_str().to_owned());
        if matches!(t.cause, Cause::MidStream(_)) {
            note = Some(if revived {
                "packets of a connection synack had forgotten (finished, then quiet): the state is a guess"
            } else {
                "capture started mid-connection: the state is a guess"
            }.to_owned());
        }
        if self.mode != KernelMode::None {
            if self
                .recent_kernel
                .get(&key)
                .is_some_and(|k| k.0.abs_diff(ts.0) <= self.window)
            {
                return;
            }
            // The kernel shows the listener itself; the implied one adds nothing.
            if t.to == TcpState::Listen
                && (self.view.state_of(local, None) == Some(TcpState::Listen)
                    || self.listen_calls.contains_key(&local))
            {
                return;
            }
            if self.mode == KernelMode::Exact {
                let kernel_now = self.view.state_of(local, Some(remote));
                note = Some(match kernel_now {
                    Some(k) => {
                        format!("disagrees with the kernel, which reported {k} and not this state")
                    }
                    None => "the kernel did not report this state".to_owned(),
                });
            }
        }
        let ev = Event::State(StateEvent {
            ts,
            conn: Some(conn),
            endpoint: self.endpoint_name(local, t.endpoint),
            local,
            remote: Some(remote),
            from: Some(t.from),
            to: t.to,
            source: StateSource::Inferred,
            timer: None,
            note,
        });
        self.push(ts, ev, Some(key));
    }
}
