//! Each endpoint's TCP state, from two witnesses: the kernel (sock_diag walks
//! and, as root, the inet_sock_set_state tracepoint, reconciled by
//! [`KernelView`]) and the RFC 9293 machine driven by the captured packets.
//!
//! The kernel is the authority; the packets date what the kernel saw late
//! and fill what it could not see. Every event waits in time order
//! ([`hold`]) for the match window. An inferred change the kernel reports
//! too is one change ([`twins`]): the kernel's, shown at the packet that
//! caused it when the kernel's time is a walk's. An inferred change the
//! kernel does not report waits for the kernel's word on its socket (a walk
//! after it, at most [`MAX_MATCH_WINDOW`]) and is shown, marked `inferred`,
//! only if that word does not contradict it ([`States::decide`]); with the
//! tracepoint, which sees every change of a full socket, one it did not
//! report is not shown. What was shown and turns out wrong is withdrawn
//! with a `Check` event, never followed by a backwards arrow; each socket's
//! path keeps to RFC 9293's arrows ([`sockets`]). Without a kernel (`read
//! FILE`) every state is inferred.
//!
//! The parts: [`hold`] (holding and releasing), [`twins`] (matching kernel
//! reports to inferences), [`names`] (naming peers), [`queues`] (listener
//! and socket queues), [`retire`] (the connections followed, and forgetting
//! them), [`park`] (kernel reports waiting to be known as ours), [`resets`]
//! (the kernel's reasons for its RSTs, waiting for their packets),
//! [`witness`] (the segments the kernel dropped and those it retransmitted),
//! [`sockets`] (each socket's timeline as shown).

mod hold;
mod names;
mod park;
mod queues;
mod resets;
mod retire;
pub mod sockets;
mod twins;
mod witness;

#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::net::SocketAddr;

use hold::{Held, Hold, Kind, Slot};
use names::Names;
use park::{Park, Tuple};
use queues::Queues;
use resets::Resets;
use retire::Conns;
use sockets::{SKEW, Shown, Sock, Sockets, Step, inferred_step, kernel_step};
pub use twins::TwinKey;
use twins::Twins;
use witness::Witness;

use super::reports::{
    Reset, Retransmit, SkbDrop, SockInfo, Traces, Transition as KernelTransition,
};
use super::view::{
    Dated, KernelView, ListenerQueue, Orphaned, SocketQueues, StateChange, TRACE_LATE,
};
use super::{KernelMode, ListenCounters};
use crate::event::{CheckEvent, Event, SocketQueuesEvent, StateEvent, StateSource};
use crate::tcp::state::{Cause, Transition};
use crate::tcp::track::{ConnId, Role};
use crate::tcp::{Segment, TcpHeader, TcpState};
use crate::time::Timestamp;

/// How far apart (in time) a kernel change and an inferred change to the same
/// state of the same endpoint may be and still be the same change: a poll
/// interval, a tracer batch, and slack. Every event waits this long.
pub const MATCH_WINDOW: u64 = 250_000_000;
/// The window grows with the gap between sock_diag walks (a walk slowed by a
/// huge socket table or a busy machine sees a change that much later), up to
/// this: a little more than the longest walk interval. An inferred change
/// waits at most this long for the kernel's word on its socket.
pub const MAX_MATCH_WINDOW: u64 = 1_500_000_000;
/// Events held at most: under a flood the hold shortens (about 60 ms at
/// 260,000 events a second) instead of the memory growing with the rate.
const MAX_HELD: usize = 8_192;

/// What the merge says of a held inferred change when it is due.
enum Verdict {
    /// Shown, with this note (if any).
    Show(Option<String>),
    /// The kernel's word contradicts it, or the tracepoint did not report
    /// it: not shown.
    Drop,
}

/// A timer read with `left` seconds at `read`, as it stood at `shown`: that
/// much more (or less) then; one that ran out by then (a report placed
/// later than it was read) is at 0, never below.
fn timer_at(left: f64, read: Timestamp, shown: Timestamp) -> f64 {
    (left + (read.0 as f64 - shown.0 as f64) / 1e9).max(0.0)
}

/// Whether the tracepoint reports this change when a socket makes it (it
/// sees every change of a full socket; not the mini-sockets that stand in
/// for TIME-WAIT and an orphaned FIN-WAIT-2, not request sockets, and a
/// passive open only at its final ACK).
fn tracer_sees(from: TcpState, to: TcpState) -> bool {
    !(matches!(to, TcpState::TimeWait | TcpState::Listen)
        || matches!(from, TcpState::TimeWait | TcpState::FinWait2)
        || (from == TcpState::Listen && to == TcpState::SynReceived)
        || (from == TcpState::SynReceived && to == TcpState::Closed))
}

/// What the merge needs of a captured segment besides its TCP header: the
/// packet event keeps the segment itself.
#[derive(Clone, Copy, Debug)]
pub struct Seen {
    pub ts: Timestamp,
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub payload_len: u32,
}

impl Seen {
    #[must_use]
    pub fn of(seg: &Segment) -> Self {
        Self {
            ts: seg.ts,
            src: seg.src,
            dst: seg.dst,
            payload_len: seg.payload_len,
        }
    }
}

/// Merges the witnesses into state (and queue) events.
pub struct States {
    mode: KernelMode,
    view: KernelView,
    conns: Conns,
    names: Names,
    park: Park,
    queues: Queues,
    hold: Hold,
    twins: Twins,
    /// The twins a kernel report takes (kept: one buffer for the run).
    twins_taken: Vec<Slot>,
    sockets: Sockets,
    /// The kernel's reasons for the resets it sent, waiting for their RSTs.
    resets: Resets,
    /// The kernel's drops and retransmissions, matched to their packets.
    witness: Witness,
    now: Timestamp,
    /// When the last full walk ended, and the match window that the gaps
    /// between walks call for (at least [`MATCH_WINDOW`]).
    last_snapshot: Option<Timestamp>,
    window: u64,
    /// When the latest full walk began: an inferred change before it has
    /// had the kernel's word.
    last_walk: Option<Timestamp>,
    changes: Vec<StateChange>,
    queue_changes: Vec<ListenerQueue>,
    socket_queue_changes: Vec<SocketQueues>,
    /// Each endpoint's last kernel change placed, while no inferred change
    /// of it was placed since: an inferred change that repeats it (its
    /// packet came after the kernel's report) is that same change, and is
    /// not held at all.
    kernel_last: crate::hash::Map<(ConnId, Role), (TcpState, Timestamp)>,
    /// Entries `kernel_last` held after its last sweep.
    kernel_last_swept: usize,
    /// With the tracepoint, walks wait until its records up to their time
    /// have come (they come up to [`TRACE_LATE`] late): a walk must not show
    /// the end of a path whose steps the tracer is still to tell.
    walks: std::collections::VecDeque<Walk>,
}

/// A sock_diag walk, waiting to be applied.
struct Walk {
    ts: Timestamp,
    started: Option<Timestamp>,
    socks: Vec<SockInfo>,
    counters: Option<ListenCounters>,
    listeners_only: bool,
}

impl Default for States {
    fn default() -> Self {
        Self::new()
    }
}

impl States {
    /// The kernel's changes of connections already forgotten (a TIME-WAIT's
    /// end, reported a minute after its last packet) would stay in
    /// `kernel_last` for good: swept whenever it has doubled, each is kept
    /// while its connection is followed, or as long as its brief is.
    fn sweep_kernel_last(&mut self) {
        if self.kernel_last.len() < (2 * self.kernel_last_swept).max(1024) {
            return;
        }
        let now = self.now.0;
        let conns = &self.conns;
        self.kernel_last.retain(|(conn, _), (_, ts)| {
            conns.get(*conn).is_some() || ts.0.saturating_add(retire::RETIRED_FOR) > now
        });
        self.kernel_last_swept = self.kernel_last.len();
    }
    #[must_use]
    pub fn new() -> Self {
        Self {
            mode: KernelMode::None,
            view: KernelView::new(),
            conns: Conns::default(),
            names: Names::default(),
            park: Park::default(),
            queues: Queues::default(),
            hold: Hold::default(),
            twins: Twins::default(),
            twins_taken: Vec::new(),
            sockets: Sockets::default(),
            resets: Resets::default(),
            witness: Witness::default(),
            now: Timestamp(0),
            last_snapshot: None,
            window: MATCH_WINDOW,
            last_walk: None,
            changes: Vec::new(),
            queue_changes: Vec::new(),
            socket_queue_changes: Vec::new(),
            kernel_last: crate::hash::Map::default(),
            kernel_last_swept: 0,
            walks: std::collections::VecDeque::new(),
        }
    }

    /// A lab peer's listen() returned on `local` at `ts`: the listener's
    /// LISTEN, which a walk sees only at its next tick, is shown there.
    pub fn learn_listen(&mut self, local: SocketAddr, ts: Timestamp) {
        self.names.learn_listen(local, ts);
    }

    /// A lab peer's socket has this local address (from its call reports).
    pub fn learn_peer(&mut self, local: SocketAddr, peer: &str) {
        self.names.learn_peer(local, peer);
    }

    /// The lab peer owning the socket bound to `local`, if known.
    #[must_use]
    pub fn peer_name(&self, local: SocketAddr) -> Option<&str> {
        self.names.owner_of(local).map(String::as_str)
    }

    pub fn set_mode(&mut self, mode: KernelMode) {
        self.mode = mode;
    }

    #[must_use]
    pub fn mode(&self) -> KernelMode {
        self.mode
    }

    /// A forgotten connection with these endpoints: its id and its client,
    /// for the tracker to take its late packets back under the same id.
    #[must_use]
    pub fn retired_conn(&self, a: SocketAddr, b: SocketAddr) -> Option<(ConnId, SocketAddr)> {
        self.conns.retired_conn(a, b)
    }

    /// Connections forgotten since the last call, as (id, client, server).
    pub fn take_retired(&mut self) -> impl Iterator<Item = (ConnId, Tuple)> + '_ {
        self.conns.take_retired()
    }

    /// Connections currently remembered (with their machines) and forgotten
    /// ones still kept in brief.
    #[must_use]
    pub fn remembered(&self) -> (usize, usize) {
        self.conns.remembered()
    }

    /// A packet of `conn` at `ts`: it is not to be forgotten before it is seen.
    pub fn touch(&mut self, conn: ConnId, ts: Timestamp) {
        self.conns.touch(conn, ts);
    }

    /// Holds any event so that it leaves in time order with the state
    /// changes still waiting for confirmation; its time advances the clock.
    pub fn hold(&mut self, event: Event, out: &mut Vec<Event>) {
        let ts = event.ts();
        self.tick(ts);
        self.push(ts, event, Kind::Plain);
        self.settle(out);
    }

    /// The run is over: everything still held, in time order.
    pub fn flush(&mut self, out: &mut Vec<Event>) {
        while let Some(w) = self.walks.pop_front() {
            self.apply_walk(w);
        }
        for c in self.park.drain_waiting() {
            self.emit_kernel(c);
        }
        self.release(None, out);
    }

    /// A tracked TCP segment: learns its 4-tuple, drives the inferred machine.
    pub fn on_segment(
        &mut self,
        seg: Seen,
        hdr: &TcpHeader,
        conn: ConnId,
        from: Role,
        lost: bool,
        out: &mut Vec<Event>,
    ) {
        self.tick(seg.ts);
        if self.conns.learn(seg.src, seg.dst, conn, from) {
            let tuples = [(seg.src, seg.dst), (seg.dst, seg.src)];
            self.confirm(&tuples);
            // Kernel changes that were waiting for this connection's id.
            for c in self.park.found(&tuples) {
                self.emit_kernel(c);
            }
        }
        let (client, server) = match from {
            Role::Client => (seg.src, seg.dst),
            Role::Server => (seg.dst, seg.src),
        };
        let kernel = self.mode != KernelMode::None;
        let m = self.conns.machine(conn, client, server, seg.ts);
        let transitions = if lost {
            m.machine
                .on_segment_lost(from, hdr, seg.payload_len, seg.ts)
        } else {
            m.machine.on_segment(from, hdr, seg.payload_len, seg.ts)
        };
        self.conns.after_packet(conn, seg.ts, kernel);
        for t in &transitions {
            self.inferred(conn, t);
        }
        self.settle(out);
    }

    /// A tracepoint transition. The tracepoint sees every network namespace,
    /// so a transition is used only once its socket is known to be ours: its
    /// packets were captured here or this namespace's socket table shows it.
    /// Until then it waits ([`park`]); a stranger's never qualifies.
    pub fn on_kernel_transition(&mut self, t: &KernelTransition, out: &mut Vec<Event>) {
        self.tick(t.ts);
        if t.remote.port() != 0 {
            if t.local.port() != 0 && self.is_ours(t.local, t.remote) {
                if let Some(syn) = self.park.syn_sent_before(t) {
                    self.feed(&syn);
                }
                self.feed(t);
            } else {
                self.park.park(t);
            }
        }
        self.settle(out);
    }

    /// Why the kernel sent a reset (the tcp_send_reset tracepoint): the RST
    /// it explains takes the reason when it leaves the hold. The tracepoint
    /// sees every namespace; a report no packet of ours matches is dropped.
    pub fn on_reset(&mut self, r: Reset) {
        self.resets.expire(self.now);
        self.resets.push(r);
    }

    /// What the tracer reads besides the transitions.
    pub fn set_traces(&mut self, traces: Traces) {
        self.witness.set_traces(traces);
    }

    /// A captured packet (TCP or not) entered the model: a drop the kernel
    /// reports next may be it.
    pub fn captured(&mut self, seg: &Segment) {
        self.witness.captured(seg);
    }

    /// A segment the kernel dropped (skb:kfree_skb): the packet it was
    /// takes the reason when it leaves the hold.
    pub fn on_drop(&mut self, d: &SkbDrop) {
        self.witness.on_drop(d);
    }

    /// A segment the kernel retransmitted: the packet it was is marked
    /// when it leaves the hold.
    pub fn on_retransmit(&mut self, r: Retransmit) {
        self.witness.on_retransmit(r);
    }

    /// A sock_diag walk that began at `started` and ended at `ts` (with the
    /// namespace's listen counters); or of the listeners alone.
    pub fn on_walk(
        &mut self,
        ts: Timestamp,
        started: Option<Timestamp>,
        socks: Vec<SockInfo>,
        counters: Option<ListenCounters>,
        listeners_only: bool,
        out: &mut Vec<Event>,
    ) {
        if !listeners_only {
            self.follow_walk_gap(ts);
        }
        self.tick(ts);
        let walk = Walk {
            ts,
            started,
            socks,
            counters,
            listeners_only,
        };
        if self.mode == KernelMode::Exact {
            self.walks.push_back(walk);
        } else {
            self.apply_walk(walk);
        }
        self.settle(out);
    }

    fn apply_walk(&mut self, w: Walk) {
        if w.listeners_only {
            self.on_listeners(w.ts, &w.socks);
        } else {
            self.on_snapshot(w.ts, w.started, &w.socks, w.counters);
        }
    }

    /// A full walk.
    fn on_snapshot(
        &mut self,
        ts: Timestamp,
        started: Option<Timestamp>,
        socks: &[SockInfo],
        counters: Option<ListenCounters>,
    ) {
        let walk = started.unwrap_or(ts).min(ts);
        if self.park.any_parked() {
            let tuples: Vec<Tuple> = socks.iter().map(|s| (s.local, s.remote)).collect();
            self.confirm(&tuples);
        }
        let mut changes = std::mem::take(&mut self.changes);
        let mut queues = std::mem::take(&mut self.queue_changes);
        changes.clear();
        queues.clear();
        self.view
            .on_snapshot(ts, walk, socks, &mut changes, &mut queues);
        for c in changes.drain(..) {
            self.kernel_change(c);
        }
        let orphans: Vec<Orphaned> = self.view.take_orphaned().collect();
        for o in orphans {
            self.orphaned(&o);
        }
        let mut found = std::mem::take(&mut self.socket_queue_changes);
        found.clear();
        self.view.socket_queues(ts, socks, &mut found);
        for q in self.queues.sockets(ts, std::mem::take(&mut found)) {
            self.socket_queues_event(q);
        }
        self.socket_queue_changes = found;
        let moved = self.queues.set_counters(counters);
        let mut reported = Vec::new();
        for q in queues.drain(..) {
            reported.push(q.local);
            let ev = self.queues.listener(&q);
            self.push(q.ts, Event::Queue(Box::new(ev)), Kind::Plain);
        }
        if moved {
            for ev in self.queues.counters_moved(ts, &reported) {
                self.push(ts, Event::Queue(Box::new(ev)), Kind::Plain);
            }
        }
        self.changes = changes;
        self.queue_changes = queues;
        self.last_walk = Some(self.last_walk.map_or(walk, |w| w.max(walk)));
        self.check_unsettled(ts);
    }

    /// A walk of the listeners alone (between full walks).
    fn on_listeners(&mut self, ts: Timestamp, socks: &[SockInfo]) {
        let mut changes = std::mem::take(&mut self.changes);
        let mut queues = std::mem::take(&mut self.queue_changes);
        changes.clear();
        queues.clear();
        self.view.on_listeners(ts, socks, &mut changes, &mut queues);
        for c in changes.drain(..) {
            self.kernel_change(c);
        }
        for q in queues.drain(..) {
            let ev = self.queues.listener(&q);
            self.push(q.ts, Event::Queue(Box::new(ev)), Kind::Plain);
        }
        self.changes = changes;
        self.queue_changes = queues;
    }

    /// Forgets a connection: its machine, its sockets' tuples and what was
    /// shown of them. With `keep`, a brief of it stays for later reports.
    pub fn forget(&mut self, conn: ConnId, keep: bool) {
        let Some(m) = self.conns.get(conn) else {
            return;
        };
        let (c, s) = m.ends();
        if !self.conns.owns(conn, (c, s)) {
            // A newer connection took over its 4-tuple: the sockets, what
            // was shown of them and their brief are the newer one's.
            self.conns.forget(conn, None, self.now);
            return;
        }
        let shown = [
            self.sockets.remove(&(c, Some(s))),
            self.sockets.remove(&(s, Some(c))),
        ]
        .map(|o| o.map(|x| (x.state, x.source, x.settled, x.reported)));
        self.conns.forget(conn, keep.then_some(shown), self.now);
        self.kernel_last.remove(&(conn, Role::Client));
        self.kernel_last.remove(&(conn, Role::Server));
        self.queues.forget((c, s));
        self.queues.forget((s, c));
    }

    // ---- time ----

    /// Moves the clock forward: fires inferred timers, lets go of strangers'
    /// parked reports, and shows the kernel changes that waited long enough
    /// for their packets.
    fn tick(&mut self, now: Timestamp) {
        if now > self.now {
            self.now = now;
        }
        for (conn, ts) in self.conns.timers(self.now) {
            for t in &ts {
                self.inferred(conn, t);
            }
        }
        for c in self.park.expire(self.now) {
            self.emit_kernel(c);
        }
        while self
            .walks
            .front()
            .is_some_and(|w| w.ts.0 + TRACE_LATE <= self.now.0)
        {
            if let Some(w) = self.walks.pop_front() {
                self.apply_walk(w);
            }
        }
    }

    /// Lets out what is due and forgets the connections whose time came.
    fn settle(&mut self, out: &mut Vec<Event>) {
        let mut until = Timestamp(self.now.0.saturating_sub(self.hold_time()));
        if let Some(syn) = self.conns.syn_barrier(self.now, MATCH_WINDOW) {
            until = until.min(Timestamp(syn.0.saturating_sub(1)));
        }
        self.release(Some(until), out);
        let kernel = self.mode != KernelMode::None;
        for conn in self.conns.due(self.now, kernel) {
            self.forget(conn, true);
        }
    }

    /// How long events wait for a kernel report to replace them.
    fn hold_time(&self) -> u64 {
        match self.mode {
            KernelMode::None => 0,
            KernelMode::Exact | KernelMode::PollOnly => self.window,
        }
    }

    /// Widens the match window when walks come further apart than it allows
    /// (a walk sees a change only at its next tick), and narrows it back as
    /// they speed up again.
    fn follow_walk_gap(&mut self, ts: Timestamp) {
        if let Some(last) = self.last_snapshot.filter(|l| *l < ts) {
            let gap = ts.0 - last.0;
            let wanted = (gap + gap / 4 + 50_000_000).clamp(MATCH_WINDOW, MAX_MATCH_WINDOW);
            // Up at once; down slowly, so one quick walk does not undo it.
            self.window = if wanted >= self.window {
                wanted
            } else {
                self.window - (self.window - wanted) / 8
            };
        }
        self.last_snapshot = Some(ts);
    }

    // ---- holding and releasing ----

    /// Holds an event at `ts` (or at the release frontier, if that is later:
    /// its time is then the frontier's).
    fn push(&mut self, ts: Timestamp, mut event: Event, kind: Kind) -> Slot {
        let placed = ts.max(self.hold.released_to());
        if placed != event.ts() {
            event.set_ts(placed);
        }
        self.hold.push(placed, Held { event, kind })
    }

    /// Events held up to `until` (all when `None`), in time order. An
    /// inferred change still waiting for the kernel's word holds back what
    /// comes after it.
    fn release(&mut self, until: Option<Timestamp>, out: &mut Vec<Event>) {
        while let Some((slot, held)) = self.hold.first() {
            let over = self.hold.len() > MAX_HELD;
            if let Some(u) = until {
                if !over && (slot.0 > u || self.waits(slot, held)) {
                    break;
                }
            }
            let Some((slot, held)) = self.hold.pop_first() else {
                break;
            };
            self.let_out(slot, held, out);
        }
    }

    /// Whether a held inferred change still waits for the kernel's word on
    /// its socket: a walk that began after it (the tracepoint's word, where
    /// it sees such a change, has come within the hold time).
    fn waits(&self, slot: Slot, held: &Held) -> bool {
        let (Kind::Inferred { .. }, Event::State(ev)) = (&held.kind, &held.event) else {
            return false;
        };
        if self.mode == KernelMode::None || self.now.0 >= slot.0.0 + MAX_MATCH_WINDOW {
            return false;
        }
        if self.mode == KernelMode::Exact && self.traced(ev) {
            return false;
        }
        self.last_walk.is_none_or(|w| w <= slot.0)
    }

    /// Exact mode, a change the tracepoint would report, of a socket it reports on.
    fn traced(&self, ev: &StateEvent) -> bool {
        ev.from.is_some_and(|f| tracer_sees(f, ev.to))
            && self
                .view
                .word(ev.local, ev.remote)
                .is_some_and(|w| w.traced)
    }

    fn let_out(&mut self, slot: Slot, held: Held, out: &mut Vec<Event>) {
        let Held { event, kind } = held;
        match (kind, event) {
            (Kind::Inferred { key }, Event::State(ev)) => {
                if self.mode != KernelMode::None {
                    self.twins.release(key, slot);
                }
                match self.decide(&ev, slot.0) {
                    Verdict::Drop => {}
                    Verdict::Show(note) => {
                        let Ok(last) = self.last_for(&ev, out) else {
                            return;
                        };
                        let step = inferred_step(last, ev.from, ev.to);
                        let mut ev = ev;
                        ev.note = note;
                        self.apply(ev, step, slot.0, out);
                    }
                }
            }
            (
                Kind::Kernel {
                    reported,
                    view_from,
                    from_seen,
                },
                Event::State(ev),
            ) => {
                self.end_if_reborn(&ev, view_from, reported, out);
                let Ok(last) = self.last_for(&ev, out) else {
                    return;
                };
                let step = kernel_step(last, view_from.map(|f| (f, from_seen)), ev.to, reported);
                self.apply_kernel(ev, step, reported, out);
            }
            (Kind::Check, Event::Check(c)) => self.let_out_check(c, out),
            (_, mut event) => {
                self.names.name_owner(&mut event);
                if let Event::Packet(p) = &mut event {
                    if p.segment.tcp.is_some_and(|h| h.flags.rst()) {
                        p.rst_reason = self.resets.take(p.segment.src, p.segment.dst, p.segment.ts);
                    }
                    self.witness.annotate(p);
                }
                if let Event::Queue(q) = &event {
                    if self.queues.repeats(q) {
                        // The listener's last line said exactly this.
                        return;
                    }
                }
                out.push(event);
            }
        }
    }

    /// What an inferred change comes to when it is due: the kernel's word
    /// on its socket decides.
    fn decide(&self, ev: &StateEvent, at: Timestamp) -> Verdict {
        if self.mode == KernelMode::None {
            return Verdict::Show(ev.note.clone());
        }
        let word = self.view.word(ev.local, ev.remote);
        let traced =
            ev.from.is_some_and(|f| tracer_sees(f, ev.to)) && word.is_some_and(|w| w.traced);
        if self.mode == KernelMode::Exact && traced && self.now.0 >= at.0 + TRACE_LATE {
            // The tracepoint reports every such change of this socket, and
            // had its time: had the socket made it, its report would have
            // replaced this one. (Let out sooner, under a flood, it is
            // shown, and the kernel's word follows.)
            return Verdict::Drop;
        }
        let word = word.filter(|w| w.at > at);
        match word {
            Some(w) if w.state == ev.to || TcpState::leads_to(ev.to, w.state) => {
                Verdict::Show(ev.note.clone())
            }
            // The kernel saw the socket after this, in a state it could not
            // have reached from here.
            Some(_) => Verdict::Drop,
            None if self.mode == KernelMode::Exact => {
                Verdict::Show(Some(ev.note.clone().unwrap_or_else(|| {
                    "the kernel has not reported this state".to_owned()
                })))
            }
            None => Verdict::Show(ev.note.clone()),
        }
    }

    fn apply_kernel(
        &mut self,
        mut ev: Box<StateEvent>,
        step: Step,
        reported: Timestamp,
        out: &mut Vec<Event>,
    ) {
        if let Step::Withdraw { actual, then: true } = step {
            let at = ev.ts;
            self.withdraw(&ev, actual, StateSource::Kernel, None, out);
            if actual == ev.to {
                return;
            }
            let next = kernel_step(
                self.last_shown((ev.local, ev.remote)),
                Some((actual, reported)),
                ev.to,
                reported,
            );
            ev.ts = at;
            self.apply(ev, next, reported, out);
            return;
        }
        self.apply(ev, step, reported, out);
    }

    /// Shows a report as `step` says. `reported` is the time the report
    /// speaks of (the kernel's own, or the packet's).
    fn apply(
        &mut self,
        mut ev: Box<StateEvent>,
        step: Step,
        reported: Timestamp,
        out: &mut Vec<Event>,
    ) {
        let k = (ev.local, ev.remote);
        match step {
            Step::Skip => {}
            Step::Change { from } => {
                ev.from = from;
                self.show(ev, reported, out);
            }
            Step::Noted { from } => {
                ev.from = Some(from);
                if ev.note.is_none() {
                    ev.note = Some(format!(
                        "the kernel's word: RFC 9293 draws no arrow from {from} to {}; the states \
                         between were too brief for synack to see",
                        ev.to
                    ));
                }
                self.show(ev, reported, out);
            }
            Step::Confirm => {
                let Some(last) = self.last_shown(k) else {
                    return;
                };
                let mut check = self.check_of(&ev, last, ev.to, StateSource::Kernel);
                check.timer = ev.timer;
                check.note = Some("the kernel confirms the state inferred from the packets".into());
                self.set_shown(
                    k,
                    Shown {
                        source: StateSource::Kernel,
                        settled: true,
                        ..last
                    },
                );
                let mut event = Event::Check(Box::new(check));
                self.names.name_owner(&mut event);
                out.push(event);
            }
            Step::Withdraw { actual, .. } => {
                let source = ev.source;
                let note = ev.note.clone();
                self.withdraw(&ev, actual, source, note, out);
            }
        }
    }

    /// The last state shown for `ev`'s socket. A socket of an older
    /// connection on the same addresses is gone, since a 4-tuple is one
    /// socket's at a time: if its end was not shown, it is shown now (the
    /// kernel does not report every end: a RST to an orphan in FIN-WAIT-2
    /// takes it away unreported). `Err`: news of an older connection's
    /// socket, after a newer one's was shown.
    fn last_for(&mut self, ev: &StateEvent, out: &mut Vec<Event>) -> Result<Option<Shown>, ()> {
        let k = (ev.local, ev.remote);
        let last = self.last_shown(k);
        let Some((l, (was, now))) = last.and_then(|l| Some((l, l.conn.zip(ev.conn)?))) else {
            return Ok(last);
        };
        if was == now {
            return Ok(last);
        }
        if was > now {
            return Err(());
        }
        if l.state == TcpState::Closed {
            return Ok(last);
        }
        self.end_unreported(ev, l, Some(was), out);
        Ok(self.last_shown(k))
    }

    /// The kernel reports a socket born on these addresses (LISTEN →
    /// SYN-RECEIVED, CLOSED → SYN-SENT) after the last change shown of one
    /// that is neither closed nor listening: a socket cannot go back, so a
    /// new one took the addresses, and the old one had closed unreported.
    /// (Where the packets that began the new connection were not seen — a
    /// flood skipped them — nothing else tells.)
    fn end_if_reborn(
        &mut self,
        ev: &StateEvent,
        view_from: Option<TcpState>,
        reported: Timestamp,
        out: &mut Vec<Event>,
    ) {
        let born = matches!(
            (view_from, ev.to),
            (Some(TcpState::Listen), TcpState::SynReceived)
                | (Some(TcpState::Closed), TcpState::SynSent)
        );
        if !born {
            return;
        }
        let Some(l) = self.last_shown((ev.local, ev.remote)) else {
            return;
        };
        let settled_elsewhere =
            matches!(l.state, TcpState::Closed | TcpState::Listen) || l.state == ev.to;
        if settled_elsewhere || reported <= l.at {
            return;
        }
        self.end_unreported(ev, l, l.conn, out);
    }

    /// Shows the end of a socket whose end the kernel did not report, as a
    /// new connection takes its addresses.
    fn end_unreported(
        &mut self,
        ev: &StateEvent,
        l: Shown,
        conn: Option<ConnId>,
        out: &mut Vec<Event>,
    ) {
        let end = StateEvent {
            ts: ev.ts,
            conn,
            endpoint: ev.endpoint.clone(),
            local: ev.local,
            remote: ev.remote,
            from: Some(l.state),
            to: TcpState::Closed,
            source: StateSource::Inferred,
            timer: None,
            note: Some(
                "gone unreported: a new connection took these addresses, so this socket had closed"
                    .to_owned(),
            ),
        };
        self.show(Box::new(end), ev.ts, out);
        if let Some(r) = ev.remote {
            // Its brief, if it was forgotten, says so too.
            self.conns.set_retired_shown(
                ev.local,
                r,
                (TcpState::Closed, StateSource::Inferred, true, ev.ts),
            );
        }
    }

    /// Shows a state change; it is now the socket's last state.
    fn show(&mut self, ev: Box<StateEvent>, reported: Timestamp, out: &mut Vec<Event>) {
        let k = (ev.local, ev.remote);
        self.set_shown(
            k,
            Shown {
                state: ev.to,
                source: ev.source,
                at: ev.ts,
                reported,
                settled: false,
                conn: ev.conn,
            },
        );
        if ev.remote.is_none() {
            // The listener itself changed: its next queue line is news.
            self.queues.listener_changed(ev.local);
        }
        let mut event = Event::State(ev);
        self.names.name_owner(&mut event);
        out.push(event);
    }

    /// The state shown last for `ev`'s socket was not so: a check says what
    /// it is (`actual`, by `source`'s word), and it is the socket's state now.
    fn withdraw(
        &mut self,
        ev: &StateEvent,
        actual: TcpState,
        source: StateSource,
        note: Option<String>,
        out: &mut Vec<Event>,
    ) {
        let k = (ev.local, ev.remote);
        let Some(last) = self.last_shown(k) else {
            return;
        };
        let mut check = self.check_of(ev, last, actual, source);
        check.note = note.or_else(|| {
            Some(match source {
                StateSource::Kernel => format!("the kernel says {actual}"),
                StateSource::Inferred => format!("the packets now say {actual}"),
            })
        });
        self.set_shown(
            k,
            Shown {
                state: actual,
                source,
                at: ev.ts,
                reported: ev.ts,
                settled: true,
                conn: last.conn,
            },
        );
        let mut event = Event::Check(Box::new(check));
        self.names.name_owner(&mut event);
        out.push(event);
    }

    fn check_of(
        &self,
        ev: &StateEvent,
        last: Shown,
        actual: TcpState,
        source: StateSource,
    ) -> CheckEvent {
        CheckEvent {
            ts: ev.ts,
            conn: ev.conn,
            endpoint: ev.endpoint.clone(),
            local: ev.local,
            remote: ev.remote,
            shown: last.state,
            shown_at: last.at,
            actual,
            source,
            timer: None,
            note: None,
        }
    }

    /// A held check (the kernel's word on an inferred state shown, or on an
    /// orphaned FIN-WAIT-2): shown if that state is still the socket's last.
    fn let_out_check(&mut self, mut c: Box<CheckEvent>, out: &mut Vec<Event>) {
        let k = (c.local, c.remote);
        let Some(last) = self.last_shown(k) else {
            return;
        };
        if last.state != c.shown || last.conn.zip(c.conn).is_some_and(|(a, b)| a != b) {
            // Not the state it speaks of, or another connection's socket.
            return;
        }
        if c.shown != c.actual && (last.source != StateSource::Inferred || last.at != c.shown_at) {
            return;
        }
        c.shown_at = last.at;
        self.set_shown(
            k,
            Shown {
                state: c.actual,
                source: c.source,
                at: if c.shown == c.actual { last.at } else { c.ts },
                reported: if c.shown == c.actual {
                    last.reported
                } else {
                    c.ts
                },
                settled: true,
                conn: last.conn,
            },
        );
        let mut event = Event::Check(c);
        self.names.name_owner(&mut event);
        out.push(event);
    }

    /// After a walk: the inferred states shown and not settled yet get the
    /// kernel's word, where it has spoken since: confirmed, moved on from
    /// (its own changes say so), or withdrawn.
    fn check_unsettled(&mut self, ts: Timestamp) {
        for (k, s) in self.sockets.unsettled(self.now) {
            let Some(w) = self.view.word(k.0, k.1).filter(|w| w.at > s.at) else {
                continue;
            };
            self.sockets.settle(&k);
            if w.state != s.state && TcpState::leads_to(s.state, w.state) {
                continue;
            }
            let found = k.1.and_then(|r| self.conns.conn_of(k.0, r));
            let endpoint = match (k.1, found) {
                (None, _) => Cow::Borrowed("listener"),
                (Some(_), Some((_, role))) => self.names.endpoint(k.0, role),
                (Some(_), None) => self.names.endpoint(k.0, Role::Client),
            };
            let note = if w.state == s.state {
                "the kernel confirms the state inferred from the packets".to_owned()
            } else {
                format!("the kernel says {}", w.state)
            };
            let check = CheckEvent {
                ts,
                conn: found.map(|(c, _)| c),
                endpoint,
                local: k.0,
                remote: k.1,
                shown: s.state,
                shown_at: s.at,
                actual: w.state,
                source: StateSource::Kernel,
                timer: None,
                note: Some(note),
            };
            self.push(ts, Event::Check(Box::new(check)), Kind::Check);
        }
    }

    /// A socket its program closed in FIN-WAIT-2: the kernel keeps it there,
    /// with a timer, until the peer's FIN.
    fn orphaned(&mut self, o: &Orphaned) {
        let found = self.conns.conn_of(o.local, o.remote);
        let role = found.map_or(Role::Client, |(_, r)| r);
        let check = CheckEvent {
            ts: o.ts,
            conn: found.map(|(c, _)| c),
            endpoint: self.names.endpoint(o.local, role),
            local: o.local,
            remote: Some(o.remote),
            shown: TcpState::FinWait2,
            shown_at: o.ts,
            actual: TcpState::FinWait2,
            source: StateSource::Kernel,
            timer: o.timer,
            note: Some(
                "closed by its program: the kernel keeps it in FIN-WAIT-2, waiting for the \
                 peer's FIN, until net.ipv4.tcp_fin_timeout runs out"
                    .to_owned(),
            ),
        };
        self.push(o.ts, Event::Check(Box::new(check)), Kind::Check);
    }

    // ---- the sockets' timelines ----

    /// The last state shown for a socket (of a forgotten connection too).
    fn last_shown(&self, k: Sock) -> Option<Shown> {
        if let Some(s) = self.sockets.get(&k) {
            return Some(s);
        }
        // A forgotten connection's (of an older one, when a newer one
        // follows these addresses now).
        let remote = k.1?;
        self.conns
            .retired_shown(k.0, remote)
            .map(|(conn, (state, source, settled, reported))| Shown {
                state,
                source,
                at: reported,
                reported,
                settled,
                conn: Some(conn),
            })
    }

    fn set_shown(&mut self, k: Sock, mut v: Shown) {
        if self.mode == KernelMode::None {
            // No kernel's word will come.
            v.settled = true;
        }
        if self.sockets.replace(&k, v) {
            return;
        }
        if let Some(r) = k.1.filter(|r| !self.conns.live(&(k.0, *r))) {
            if self
                .conns
                .set_retired_shown(k.0, r, (v.state, v.source, v.settled, v.reported))
            {
                return;
            }
            if v.state == TcpState::Closed {
                // A socket the packets never showed, now gone: nothing to
                // continue from (a new one on the same addresses starts anew).
                self.sockets.remove(&k);
                return;
            }
        }
        self.sockets.set(k, v);
    }

    // ---- kernel reports ----

    /// Whether a socket is ours: its packets were captured here, or this
    /// namespace's socket table shows it (or did until it closed).
    fn is_ours(&self, local: SocketAddr, remote: SocketAddr) -> bool {
        self.conns.knows(local, remote) || self.view.state_of(local, Some(remote)).is_some()
    }

    /// Sockets now known to be ours: their parked transitions go to the view.
    fn confirm(&mut self, tuples: &[Tuple]) {
        for p in self.park.claim(tuples) {
            if let Some(syn) = self.park.syn_sent_before(&p) {
                self.feed(&syn);
            }
            self.feed(&p);
        }
    }

    fn feed(&mut self, t: &KernelTransition) {
        let mut changes = std::mem::take(&mut self.changes);
        changes.clear();
        self.view.on_transition(t, &mut changes);
        for c in changes.drain(..) {
            self.kernel_change(c);
        }
        self.changes = changes;
    }

    fn kernel_change(&mut self, c: StateChange) {
        let found = c.remote.and_then(|r| self.conns.conn_of(c.local, r));
        if let Some((conn, _)) = found {
            if self
                .conns
                .get(conn)
                .is_some_and(|m| m.first.0 > c.ts.0 + SKEW)
            {
                // Dated before the connection that holds these addresses
                // now began: news of an earlier socket on them (a 4-tuple
                // used again), gone since.
                return;
            }
        }
        match c.remote {
            Some(r) if found.is_none() => self.park.wait((c.local, r), c),
            _ => self.emit_with(c, found),
        }
    }

    /// Places a kernel change in time: at its inferred twin when the kernel
    /// saw it late (a walk's time), at the listen() that made a listener,
    /// never before what was already let out.
    fn emit_kernel(&mut self, c: StateChange) {
        let found = c.remote.and_then(|r| self.conns.conn_of(c.local, r));
        self.emit_with(c, found);
    }

    /// [`States::emit_kernel`], the socket's connection already looked up.
    fn emit_with(&mut self, c: StateChange, found: Option<(ConnId, Role)>) {
        let endpoint = match (c.remote, found) {
            (None, _) => Cow::Borrowed("listener"),
            (Some(_), Some((_, role))) => self.names.endpoint(c.local, role),
            // Never seen on the wire: a local port that is listening is a server's.
            (Some(_), None) => {
                let role = if self.view.state_of(c.local, None) == Some(TcpState::Listen) {
                    Role::Server
                } else {
                    Role::Client
                };
                self.names.endpoint(c.local, role)
            }
        };
        let key = found.map(|(conn, role)| (conn, role, c.to));
        let mut ts = c.ts;
        // The twin's place in the line, when the report takes its time.
        let mut turn = None;
        let mut note = None;
        let mut from = c.from;
        if from.is_none() && c.to == TcpState::SynSent {
            // RFC 9293: only connect() on a CLOSED socket leads to SYN-SENT.
            from = Some(TcpState::Closed);
        }
        if c.remote.is_none() && c.to == TcpState::Listen {
            if let Some(at) = self.names.listen_call(c.local) {
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
            // The inferred twins of this change, if still held, are the same
            // change. The packet that caused it dates a change the kernel saw
            // late (a walk, a TIME-WAIT reckoned from its timer, a passive
            // open the tracepoint logs only at the final ACK); the
            // tracepoint's own time stands otherwise.
            // A walk cannot see what came after it, nor a change from a
            // state it saw the socket in after the change.
            let (lo, hi) = match c.dated.seen() {
                Some(seen) => (
                    c.from
                        .map(|_| Timestamp(c.from_seen.0.saturating_sub(SKEW))),
                    Some(Timestamp(seen.0 + SKEW)),
                ),
                None => (None, None),
            };
            let mut twins = std::mem::take(&mut self.twins_taken);
            self.twins
                .take_within(k, c.ts, self.window, (lo, hi), &mut twins);
            if let Some(first) = twins.iter().min().copied() {
                let at = first.0;
                let late = c.dated != Dated::Traced || k.2 == TcpState::SynReceived;
                if at <= ts || late {
                    turn = Some(first);
                }
                if at < ts || (late && at != ts) {
                    if ts > at && ts.0 - at.0 > 1_000_000 {
                        note = Some(format!(
                            "reported by the kernel {:.0} ms later; shown at the packet that caused it",
                            ts.seconds_since(at) * 1e3
                        ));
                    }
                    ts = at;
                }
            }
            for slot in twins.drain(..) {
                if let Some(Held {
                    event: Event::State(twin),
                    ..
                }) = self.hold.remove(slot)
                {
                    // A socket a walk saw first: the packets tell where it
                    // came from (a passive open, from LISTEN).
                    from = from.or(twin.from);
                }
            }
            self.twins_taken = twins;
        }
        let floor = self.hold.released_to();
        if turn.is_some_and(|s| s.0 != ts) {
            turn = None;
        }
        if ts < floor {
            if floor.0 - ts.0 > 1_000_000 {
                note = Some(format!(
                    "the kernel's report came {:.0} ms after the fact, after later events were \
                     shown: shown here",
                    floor.seconds_since(ts) * 1e3
                ));
            }
            ts = floor;
        }
        let timer = c.timer.map(|t| timer_at(t, c.ts, ts));
        let ev = Event::State(Box::new(StateEvent {
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
        }));
        if let Some((conn, role, state)) = key {
            self.kernel_last.insert((conn, role), (state, ts));
            self.sweep_kernel_last();
        }
        let kind = Kind::Kernel {
            reported: c.ts,
            view_from: from,
            from_seen: c.from_seen,
        };
        match turn.filter(|s| s.0 >= floor) {
            Some(slot) => {
                self.hold.put_back(slot, Held { event: ev, kind });
            }
            None => {
                self.push(ts, ev, kind);
            }
        }
    }

    /// The connection a socket of these addresses belongs to, if followed,
    /// and its endpoint's name (the lab peer's, else its role's).
    #[must_use]
    pub fn socket_of(
        &self,
        local: SocketAddr,
        remote: SocketAddr,
    ) -> (Option<ConnId>, crate::event::EndpointName) {
        match self.conns.conn_of(local, remote) {
            Some((c, role)) => (Some(c), self.names.endpoint(local, role)),
            None => (None, self.names.endpoint(local, Role::Client)),
        }
    }

    fn socket_queues_event(&mut self, q: SocketQueues) {
        let found = self.conns.conn_of(q.local, q.remote);
        let endpoint = match found {
            Some((_, role)) => self.names.endpoint(q.local, role),
            None => self.names.endpoint(q.local, Role::Client),
        };
        let ev = Event::SocketQueues(Box::new(SocketQueuesEvent {
            ts: q.ts,
            conn: found.map(|(c, _)| c),
            endpoint,
            local: q.local,
            remote: q.remote,
            recv_q: q.recv_q,
            send_q: q.send_q,
        }));
        self.push(q.ts, ev, Kind::Plain);
    }

    // ---- inferred changes ----

    fn inferred(&mut self, conn: ConnId, t: &Transition) {
        let Some(m) = self.conns.get(conn) else {
            return;
        };
        let (local, remote) = m.socket(t.endpoint);
        let revived = m.revived;
        // At the packet that caused it (for a passive open, the SYN, before
        // the SYN-ACK that showed it).
        let ts = t.at.max(self.hold.released_to());
        let key = (conn, t.endpoint, t.to);
        let mut note = t.note.map(|n| n.as_str().to_owned());
        let mut from = Some(t.from);
        if matches!(t.cause, Cause::MidStream(_)) {
            // Seen first in the middle of its life: where it came from is
            // not known.
            from = None;
            note = Some(if revived {
                "packets of a connection synack had forgotten (finished, then quiet): the state is a guess"
            } else {
                "capture started mid-connection: the state is a guess"
            }.to_owned());
        }
        // The kernel shows the listener itself; a connection's socket was
        // never listening.
        if self.mode != KernelMode::None {
            if t.to == TcpState::Listen {
                return;
            }
            // The kernel's report of this very change came first.
            if self
                .kernel_last
                .get(&(conn, t.endpoint))
                .is_some_and(|(s, at)| *s == t.to && at.0.abs_diff(ts.0) <= self.window)
            {
                return;
            }
            self.kernel_last.remove(&(conn, t.endpoint));
        }
        let ev = Event::State(Box::new(StateEvent {
            ts,
            conn: Some(conn),
            endpoint: self.names.endpoint(local, t.endpoint),
            local,
            remote: Some(remote),
            from,
            to: t.to,
            source: StateSource::Inferred,
            timer: None,
            note,
        }));
        let slot = self.push(ts, ev, Kind::Inferred { key });
        if self.mode != KernelMode::None {
            // Without a kernel no report will come to replace it.
            self.twins.hold(key, slot);
        }
    }
}
