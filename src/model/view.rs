//! One view of every socket's state, reconciled from the kernel's two reports.
//!
//! - sock_diag snapshots ([`SockInfo`], polled every 20–50 ms) are complete
//!   (TIME-WAIT with its timer, request sockets, listeners' queues) but miss
//!   states shorter than a poll.
//! - Tracepoint transitions ([`Transition`], root only, may be absent) are
//!   exact but have quirks (see [`super::trace`]): connect()'s SYN-SENT has
//!   local port 0, TIME-WAIT is logged as `→ CLOSE`, and a passive open is
//!   logged on the child only when the final ACK arrives.
//!
//! [`KernelView`] keeps the last state known for each socket, keyed by
//! (local, remote) — a listener by its local address only — and reports a
//! [`StateChange`] only when that state changes, so the two sources never
//! report the same step twice. It is pure: times are arguments.
//!
//! ```text
//!  Transition ──► on_transition ─┐            ┌─► StateChange (from → to, exact ts when traced)
//!                                ├─ entries ──┤
//!  snapshot   ──► on_snapshot ───┘            └─► ListenerQueue (accept queue / backlog)
//! ```
//!
//! Ordering: both sources should be fed roughly in time order. A transition
//! older than what is already known for its socket (a snapshot taken later
//! was applied first) is dropped, and a snapshot older than a socket's last
//! traced transition is ignored for that socket; neither can go backwards.
//! To lose no traced state, apply a snapshot only once the tracer has
//! delivered every transition up to the snapshot's time.

use std::collections::{BTreeMap, BTreeSet};

use crate::hash::{Map, SockMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::reports::{SockInfo, TimerKind, Transition};
use crate::tcp::TcpState;
use crate::time::Timestamp;

/// A port-0 SYN-SENT whose socket never got a port after this long (a lost
/// record, a failed connect) is forgotten. SYN retries last ~127 s by default.
const PENDING_SYN_LIFETIME_NS: u64 = 300 * 1_000_000_000;

/// How well the kernel dated a change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dated {
    /// The tracepoint's own time: exact.
    Traced,
    /// The walk that first showed it (`seen`: when that walk began, or for
    /// a socket gone, the first walk that did not show it): it happened at
    /// or before, after the walk before (the merge moves it to the packet
    /// that caused it).
    Walked { seen: Timestamp },
    /// Worked out from the kernel's timer (when a TIME-WAIT began: its timer
    /// starts at 60 s), within a few milliseconds; `seen` is the walk that
    /// showed it.
    Reckoned { seen: Timestamp },
}

impl Dated {
    /// The latest the change can have happened (a walk cannot see what
    /// comes after it); `None` for the tracepoint's exact time.
    #[must_use]
    pub fn seen(self) -> Option<Timestamp> {
        match self {
            Dated::Traced => None,
            Dated::Walked { seen } | Dated::Reckoned { seen } => Some(seen),
        }
    }
}

/// When and how a report told a socket's state, and its timer then.
#[derive(Clone, Copy, Debug)]
struct Told {
    ts: Timestamp,
    timer: Option<f64>,
    dated: Dated,
}

/// How long Linux keeps a socket in TIME-WAIT (`TCP_TIMEWAIT_LEN`, not
/// tunable): a TIME-WAIT socket whose timer shows L left began 60 s − L ago.
pub const TIME_WAIT_LEN_S: f64 = 60.0;

/// A TIME-WAIT reckoned to have begun within this of a traced hand-over
/// began at it: the timer counts in jiffies (4 ms at HZ=250), a walk of a
/// small table takes microseconds. A FIN that comes later than this after
/// the program closed its socket shows the orphaned FIN-WAIT-2 between.
const HANDOVER_SLACK: u64 = 5_000_000;

/// One socket's state changed (or a socket appeared / vanished).
#[derive(Clone, Debug, PartialEq)]
pub struct StateChange {
    pub ts: Timestamp,
    pub local: SocketAddr,
    /// `None` for a listener.
    pub remote: Option<SocketAddr>,
    /// The state before: `None` when the socket was not seen before (a
    /// snapshot showed it first); a socket first seen by the tracer carries the
    /// tracer's `from` (`CLOSED` for connect(), `LISTEN` for a passive open).
    pub from: Option<TcpState>,
    pub to: TcpState,
    /// Seconds left on the socket's kernel timer (TIME-WAIT expiry,
    /// retransmission, keepalive, zero-window probe), from sock_diag.
    pub timer: Option<f64>,
    pub dated: Dated,
    /// The last time the kernel saw the socket in `from` (the change's own
    /// time when the tracepoint reported it: it sees every change).
    pub from_seen: Timestamp,
}

/// A socket its program closed in FIN-WAIT-2: Linux hands it to a
/// mini-socket that stays in FIN-WAIT-2 until the peer's FIN (then
/// TIME-WAIT) or `tcp_fin_timeout` (then it is gone). Its state does not
/// change; its timer is new.
#[derive(Clone, Debug, PartialEq)]
pub struct Orphaned {
    /// When the hand-over happened (the traced close), or the walk that
    /// first showed the mini-socket.
    pub ts: Timestamp,
    pub local: SocketAddr,
    pub remote: SocketAddr,
    /// Seconds left before the kernel gives up waiting for the FIN.
    pub timer: Option<f64>,
}

/// What the kernel last said about a socket, and when.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Word {
    pub state: TcpState,
    /// The time of the report that said it (a walk's start, a traced
    /// transition's time): the socket was in `state` then.
    pub at: Timestamp,
    /// The tracepoint has reported on this socket: it sees every change of
    /// a full socket, so its silence says the state holds.
    pub traced: bool,
}

/// A listener's accept queue changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListenerQueue {
    pub ts: Timestamp,
    pub local: SocketAddr,
    /// Connections completed and waiting for accept().
    pub accept_queue: u32,
    /// The listen() backlog.
    pub backlog: u32,
}

/// The bytes a connected socket holds changed: received and not yet read
/// (`recv_q`), sent and not yet acknowledged or not yet sent (`send_q`), as
/// `ss` shows them in Recv-Q and Send-Q.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SocketQueues {
    pub ts: Timestamp,
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub recv_q: u32,
    pub send_q: u32,
}

/// Which socket: a connection by both ends, a listener by its local address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct SockKey {
    local: SocketAddr,
    remote: Option<SocketAddr>,
}

impl std::hash::Hash for SockKey {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        crate::hash::addr(&self.local, h);
        match &self.remote {
            Some(r) => crate::hash::addr(r, h),
            None => h.write_u8(0),
        }
    }
}

impl crate::hash::SockKeyed for SockKey {
    fn ends(&self) -> crate::hash::Ends {
        (self.local, self.remote)
    }
    fn from_ends((local, remote): crate::hash::Ends) -> Self {
        Self { local, remote }
    }
}

impl SockKey {
    /// The kernel reports a listener's remote end as `0.0.0.0:0` / `[::]:0`.
    fn new(local: SocketAddr, remote: SocketAddr) -> Self {
        let remote = (remote.port() != 0 || !remote.ip().is_unspecified()).then_some(remote);
        Self { local, remote }
    }
}

/// What is known about one socket.
#[derive(Clone, Copy, Debug)]
struct Entry {
    state: TcpState,
    /// When `state` was reached (or last confirmed by the tracer): older news
    /// about this socket is stale.
    changed_at: Timestamp,
    /// When a snapshot first showed it (`None`: only the tracer has).
    first_snapshot: OptTs,
    /// A transition of the tracer applied to it.
    traced: bool,
    /// The last report that showed it in `state` (a walk's start, a traced
    /// transition's time).
    seen_at: Timestamp,
    /// An orphaned FIN-WAIT-2 mini-socket, already told.
    orphan: bool,
    /// The first snapshot that did not show it. The table walk is not atomic
    /// (a socket being re-hashed can be skipped), so a socket is gone only
    /// when a second snapshot confirms it; it closed at the first.
    missing_since: OptTs,
}

/// A time or none, in 8 bytes (`Option<Timestamp>` takes 16): the view
/// holds an entry for each of a busy port's sockets, tens of thousands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct OptTs(u64);

impl OptTs {
    /// None: no capture or clock gives this time (the year 2554).
    const NONE: OptTs = OptTs(u64::MAX);

    fn some(ts: Timestamp) -> Self {
        OptTs(ts.0.min(u64::MAX - 1))
    }

    fn get(self) -> Option<Timestamp> {
        (self != Self::NONE).then_some(Timestamp(self.0))
    }

    /// The time, set to `ts` first if there is none.
    fn get_or_insert(&mut self, ts: Timestamp) -> Timestamp {
        if *self == Self::NONE {
            *self = Self::some(ts);
        }
        Timestamp(self.0)
    }
}

/// connect()'s CLOSED → SYN-SENT, logged before the socket had a port.
#[derive(Clone, Copy, Debug)]
struct PendingSyn {
    ts: Timestamp,
    from: TcpState,
    /// Chosen already for IPv4; may be unspecified for IPv6.
    local_ip: IpAddr,
    remote: SocketAddr,
}

impl PendingSyn {
    fn matches(&self, key: SockKey) -> bool {
        key.remote == Some(self.remote)
            && (self.local_ip.is_unspecified() || self.local_ip == key.local.ip())
    }
}

/// A traced `→ CLOSE` of FIN-WAIT-1/2 or CLOSING, waiting for walks to show
/// whether a mini-socket (TIME-WAIT, or an orphaned FIN-WAIT-2) took over.
#[derive(Clone, Copy, Debug)]
struct PendingClose {
    at: Timestamp,
    from: TcpState,
    /// One walk already did not show it (a second must agree).
    looked: bool,
}

/// How late a tracepoint record may reach the model: a walk must not undo
/// what the tracer reported less than this before it, nor bring back a
/// socket the tracer closed that recently.
pub const TRACE_LATE: u64 = 200_000_000;

/// Reconciles sock_diag snapshots and tracepoint transitions into exact,
/// de-duplicated state changes.
#[derive(Debug, Default)]
pub struct KernelView {
    entries: SockMap<SockKey, Entry>,
    /// Port-0 SYN-SENTs by the kernel address of their socket.
    pending_syn: Map<u64, PendingSyn>,
    /// `FIN-WAIT-1/FIN-WAIT-2/CLOSING → CLOSE` at this time: TIME-WAIT or a
    /// real close; the next snapshot tells.
    /// Traced `→ CLOSE` of FIN-WAIT-1/2 or CLOSING, waiting for snapshots to
    /// show whether a TIME-WAIT (or orphan FIN-WAIT-2) mini-socket took over;
    /// `true` once one snapshot did not show it (a second must agree).
    pending_close: BTreeMap<SockKey, PendingClose>,
    /// The last (accept queue, backlog) reported per listener.
    queues: BTreeMap<SocketAddr, (u32, u32)>,
    /// Sockets a snapshot showed that no traced transition has touched yet
    /// (where a late port-0 SYN-SENT record may belong).
    /// By when a snapshot first showed them: such a record belongs only to
    /// a socket first shown after it was logged.
    untraced_seen: BTreeSet<(Timestamp, SockKey)>,
    /// The last (recv_q, send_q) reported per connected socket.
    socket_queues: Map<(SocketAddr, SocketAddr), (u32, u32, Timestamp)>,
    /// A snapshot's sockets by key, kept between snapshots for its memory.
    scratch: Vec<(SockKey, u32, u32)>,
    /// Sockets found orphaned in FIN-WAIT-2 since the caller last asked.
    orphaned: Vec<Orphaned>,
}

/// One snapshot's sockets, each once, found by key: sorted (key, index of
/// the socket shown, index of the key's first appearance).
struct Shown<'a> {
    socks: &'a [SockInfo],
    by_key: &'a [(SockKey, u32, u32)],
}

impl<'a> Shown<'a> {
    fn new(socks: &'a [SockInfo], by_key: &'a mut Vec<(SockKey, u32, u32)>) -> Self {
        by_key.clear();
        by_key.extend(socks.iter().enumerate().map(|(i, s)| {
            let i = u32::try_from(i).unwrap_or(u32::MAX);
            (SockKey::new(s.local, s.remote), i, i)
        }));
        // Stable: a key's appearances stay in the snapshot's order.
        by_key.sort_by_key(|e| e.0);
        by_key.dedup_by(|later, kept| {
            if later.0 != kept.0 {
                return false;
            }
            let (old, new) = (&socks[kept.1 as usize], &socks[later.1 as usize]);
            // A request socket and the child replacing it: the child wins.
            if old.state == TcpState::SynReceived && new.state != old.state {
                kept.1 = later.1;
            }
            true
        });
        Self { socks, by_key }
    }

    fn get(&self, key: &SockKey) -> Option<&'a SockInfo> {
        let at = self.by_key.binary_search_by(|e| e.0.cmp(key)).ok()?;
        self.socks.get(self.by_key[at].1 as usize)
    }

    fn contains_key(&self, key: &SockKey) -> bool {
        self.get(key).is_some()
    }

    /// Each socket with its key, in the order the snapshot first showed the key.
    fn in_order(&self) -> impl Iterator<Item = (SockKey, &'a SockInfo)> + '_ {
        let mut v: Vec<(u32, u32)> = (0..self.by_key.len())
            .map(|i| (self.by_key[i].2, u32::try_from(i).unwrap_or(u32::MAX)))
            .collect();
        v.sort_unstable();
        v.into_iter().filter_map(move |(_, i)| {
            let (key, sock, _) = self.by_key.get(i as usize)?;
            Some((*key, self.socks.get(*sock as usize)?))
        })
    }
}

impl KernelView {
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// A tracepoint transition (exact time). Appends the changes it implies.
    pub fn on_transition(&mut self, t: &Transition, out: &mut Vec<StateChange>) {
        if t.local.port() == 0 {
            self.on_portless(t, out);
            return;
        }
        let key = SockKey::new(t.local, t.remote);
        if let Some(syn) = self.pending_syn.remove(&t.skaddr) {
            // The same socket, now with its port: its SYN-SENT comes first.
            let known = self
                .entries
                .get(&key)
                .is_some_and(|e| e.state != TcpState::Closed);
            if syn.matches(key) && !known {
                self.apply(
                    key,
                    Told {
                        ts: syn.ts,
                        timer: None,
                        dated: Dated::Traced,
                    },
                    Some(syn.from),
                    TcpState::SynSent,
                    out,
                );
                self.mark_traced(key);
            }
        }
        if let Some(e) = self.entries.get(&key).copied() {
            if t.ts < e.changed_at {
                // Older than what a walk (or another CPU's batch) told
                // already: the step still happened, and the tracer knows
                // when. Told as such when it leads to the state known; the
                // merge puts it in its place.
                let refines = t.to != TcpState::Closed
                    && !self.pending_close.contains_key(&key)
                    && TcpState::leads_to(t.to, e.state);
                if refines {
                    out.push(StateChange {
                        ts: t.ts,
                        local: key.local,
                        remote: key.remote,
                        from: Some(t.from),
                        to: t.to,
                        timer: None,
                        dated: Dated::Traced,
                        from_seen: t.ts,
                    });
                }
                self.mark_traced(key);
                return;
            }
        }
        if let Some(p) = self.pending_close.remove(&key) {
            // The socket moved on before a walk showed a TIME-WAIT.
            self.apply(
                key,
                Told {
                    ts: p.at,
                    timer: None,
                    dated: Dated::Traced,
                },
                None,
                TcpState::Closed,
                out,
            );
        }
        if t.to == TcpState::Closed
            && matches!(
                t.from,
                TcpState::FinWait1 | TcpState::FinWait2 | TcpState::Closing
            )
        {
            // Linux logs the hand-over to a TIME-WAIT mini-socket as → CLOSE:
            // hold it until a walk shows whether a TIME-WAIT took over.
            let entry = self.entries.get_or_insert_with(key, || Entry {
                state: t.from,
                changed_at: t.ts,
                first_snapshot: OptTs::NONE,
                traced: true,
                seen_at: t.ts,
                orphan: false,
                missing_since: OptTs::NONE,
            });
            entry.changed_at = entry.changed_at.max(t.ts);
            entry.seen_at = entry.seen_at.max(t.ts);
            entry.traced = true;
            entry.orphan = false;
            if let Some(at) = entry.first_snapshot.get() {
                self.untraced_seen.remove(&(at, key));
            }
            self.pending_close.insert(
                key,
                PendingClose {
                    at: t.ts,
                    from: t.from,
                    looked: false,
                },
            );
            return;
        }
        self.apply(
            key,
            Told {
                ts: t.ts,
                timer: None,
                dated: Dated::Traced,
            },
            Some(t.from),
            t.to,
            out,
        );
        self.mark_traced(key);
    }

    /// connect() logs CLOSED → SYN-SENT before the port is chosen.
    fn on_portless(&mut self, t: &Transition, out: &mut Vec<StateChange>) {
        if t.to != TcpState::SynSent {
            // Failed before it had a port (e.g. EADDRNOTAVAIL): no 4-tuple to show.
            self.pending_syn.remove(&t.skaddr);
            return;
        }
        let syn = PendingSyn {
            ts: t.ts,
            from: t.from,
            local_ip: t.local.ip(),
            remote: t.remote,
        };
        // A walk may have shown the socket before this record arrived: the
        // earliest of the sockets walks showed since, that the tracer did
        // not see (newest first, up to the record's time).
        let mut seen = None;
        for (at, k) in self.untraced_seen.iter().rev() {
            if *at < t.ts {
                break;
            }
            let fits = self.entries.get(k).is_some_and(|e| {
                !e.traced
                    && !matches!(
                        e.state,
                        TcpState::Listen | TcpState::SynReceived | TcpState::Closed
                    )
            });
            if fits && syn.matches(*k) {
                seen = Some(*k);
            }
        }
        match seen {
            Some(key) => {
                // Its SYN-SENT still happened, at the traced time.
                out.push(StateChange {
                    ts: syn.ts,
                    local: key.local,
                    remote: key.remote,
                    from: Some(syn.from),
                    to: TcpState::SynSent,
                    timer: None,
                    dated: Dated::Traced,
                    from_seen: syn.ts,
                });
                self.mark_traced(key);
            }
            None => {
                self.pending_syn.insert(t.skaddr, syn);
            }
        }
    }

    /// A sock_diag snapshot whose walk began at `walk` and ended at `ts`.
    /// Appends the changes it reveals (new sockets, changed states, sockets
    /// gone → CLOSED) and, for listeners, queue changes.
    pub fn on_snapshot(
        &mut self,
        ts: Timestamp,
        walk: Timestamp,
        socks: &[SockInfo],
        out: &mut Vec<StateChange>,
        queues: &mut Vec<ListenerQueue>,
    ) {
        let start = out.len();
        let walk = walk.min(ts);
        let mut by_key = std::mem::take(&mut self.scratch);
        let shown = Shown::new(socks, &mut by_key);

        let mut resolved = BTreeSet::new();
        let due: Vec<(SockKey, PendingClose)> = self
            .pending_close
            .iter()
            .filter(|(_, p)| p.at <= ts)
            .map(|(k, p)| (*k, *p))
            .collect();
        for (key, p) in due {
            let successor = shown
                .get(&key)
                .filter(|s| matches!(s.state, TcpState::TimeWait | TcpState::FinWait2));
            if successor.is_none() && !p.looked {
                // Clocks can disagree and the walk is not atomic: one more look.
                self.pending_close
                    .insert(key, PendingClose { looked: true, ..p });
                continue;
            }
            self.pending_close.remove(&key);
            resolved.insert(key);
            let at = p.at;
            match successor {
                Some(s) if s.state == TcpState::TimeWait => {
                    if p.from == TcpState::Closing {
                        // CLOSING hands over only when its FIN is acknowledged:
                        // TIME-WAIT began at the traced close.
                        let timer = timer_secs(s).map(|left| left + ts.seconds_since(at));
                        self.apply(
                            key,
                            Told {
                                ts: at,
                                timer,
                                dated: Dated::Traced,
                            },
                            None,
                            TcpState::TimeWait,
                            out,
                        );
                    } else {
                        // FIN-WAIT-2 hands over either on the peer's FIN
                        // (TIME-WAIT at once) or because its program closed
                        // it (an orphaned FIN-WAIT-2, TIME-WAIT only when the
                        // FIN comes). The timer tells which: it starts at 60 s
                        // when TIME-WAIT begins.
                        let began = time_wait_began(s, ts).map_or(at, |b| b.max(at).min(ts));
                        let began = if began.0 <= at.0 + HANDOVER_SLACK {
                            at
                        } else {
                            began
                        };
                        if began > at {
                            self.orphaned.push(Orphaned {
                                ts: at,
                                local: key.local,
                                remote: key.remote.unwrap_or(key.local),
                                timer: None,
                            });
                        }
                        let timer = timer_secs(s).map(|left| left + ts.seconds_since(began));
                        self.apply(
                            key,
                            Told {
                                ts: began,
                                timer,
                                dated: Dated::Reckoned { seen: ts },
                            },
                            None,
                            TcpState::TimeWait,
                            out,
                        );
                    }
                    self.seen_by_snapshot(key, walk);
                }
                // An orphaned FIN-WAIT-2 socket (closed by its program) is
                // handed to a mini-socket, still in FIN-WAIT-2 until the
                // peer's FIN or tcp_fin_timeout.
                Some(s) => {
                    let timer = timer_secs(s).map(|left| left + ts.seconds_since(at));
                    self.apply(
                        key,
                        Told {
                            ts: at,
                            timer: None,
                            dated: Dated::Traced,
                        },
                        None,
                        TcpState::FinWait2,
                        out,
                    );
                    if let Some(e) = self.entries.get_mut(&key) {
                        e.orphan = true;
                    }
                    self.orphaned.push(Orphaned {
                        ts: at,
                        local: key.local,
                        remote: key.remote.unwrap_or(key.local),
                        timer,
                    });
                    self.seen_by_snapshot(key, walk);
                }
                None => self.apply(
                    key,
                    Told {
                        ts: at,
                        timer: None,
                        dated: Dated::Traced,
                    },
                    None,
                    TcpState::Closed,
                    out,
                ),
            }
        }

        for (key, s) in shown.in_order() {
            if resolved.contains(&key) || self.pending_close.contains_key(&key) {
                continue;
            }
            let entry = self.entries.get(&key).copied();
            if entry.is_some_and(|e| e.changed_at >= walk && e.traced) {
                // The tracer saw a change while (or after) the walk ran: the
                // walk may have read the socket before it.
                continue;
            }
            if entry.is_some_and(|e| e.changed_at > ts) {
                continue;
            }
            // A traced full socket's states all come from the tracer; a
            // walk only adds what the tracer cannot see (the mini-sockets:
            // TIME-WAIT, an orphaned FIN-WAIT-2). Nor does a walk bring back
            // a socket the tracer closed, unless it closed long enough ago
            // for a new one's records to have come.
            let tracer_knows = entry.is_some_and(|e| {
                e.traced
                    && s.state != TcpState::TimeWait
                    && s.state != e.state
                    && (e.state != TcpState::Closed || e.changed_at.0 + TRACE_LATE > walk.0)
            });
            if tracer_knows {
                self.seen_by_snapshot(key, walk);
                continue;
            }
            if entry.is_none_or(|e| e.state == TcpState::Closed)
                && !matches!(s.state, TcpState::Listen | TcpState::SynReceived)
            {
                self.take_pending_syn(key, ts, out);
            }
            let entry = self.entries.get(&key).copied();
            // A FIN-WAIT-2 mini-socket (its timer is the TIME-WAIT wheel's):
            // its program closed it. Told once, after the change to FIN-WAIT-2.
            let orphan = s.state == TcpState::FinWait2
                && s.timer.is_some_and(|t| t.kind == TimerKind::TimeWait)
                && entry.is_none_or(|e| !(e.orphan && e.state == TcpState::FinWait2));
            // A TIME-WAIT first seen by a walk began when its timer says,
            // after what was known before it.
            let (at, dated) = match entry {
                Some(e) if s.state == TcpState::TimeWait && e.state != TcpState::TimeWait => {
                    match time_wait_began(s, ts) {
                        Some(b) => (b.max(e.changed_at).min(ts), Dated::Reckoned { seen: ts }),
                        None => (ts, Dated::Walked { seen: ts }),
                    }
                }
                _ => (ts, Dated::Walked { seen: ts }),
            };
            let timer = timer_secs(s).map(|left| left + ts.seconds_since(at));
            self.apply(
                key,
                Told {
                    ts: at,
                    timer,
                    dated,
                },
                None,
                s.state,
                out,
            );
            if orphan {
                if let Some(e) = self.entries.get_mut(&key) {
                    e.orphan = true;
                }
                self.orphaned.push(Orphaned {
                    ts: walk,
                    local: key.local,
                    remote: key.remote.unwrap_or(key.local),
                    timer: timer_secs(s).map(|left| left + ts.seconds_since(walk)),
                });
            }
            self.seen_by_snapshot(key, walk);
            if s.state == TcpState::Listen {
                self.listener_queue(ts, s, queues);
            }
        }

        // Sockets the snapshot no longer shows are gone (after a second look).
        let mut gone = Vec::new();
        let mut forget = Vec::new();
        for (key, e) in self.entries.iter_mut() {
            if shown.contains_key(&key) {
                e.missing_since = OptTs::NONE;
                continue;
            }
            if self.pending_close.contains_key(&key) || e.changed_at > ts {
                continue;
            }
            if e.state != TcpState::Closed {
                match e.missing_since.get() {
                    None => e.missing_since = OptTs::some(ts),
                    Some(first) => gone.push((key, first)),
                }
            } else if e.changed_at < ts && !resolved.contains(&key) {
                forget.push(key);
            }
        }
        // In key order, whatever the table's: the same snapshot, the same lines.
        gone.sort_unstable();
        for (key, first) in gone {
            self.apply(
                key,
                Told {
                    ts: first,
                    timer: None,
                    dated: Dated::Walked { seen: first },
                },
                None,
                TcpState::Closed,
                out,
            );
            if let Some(e) = self.entries.get_mut(&key) {
                e.missing_since = OptTs::NONE;
            }
        }
        for key in forget {
            if let Some(at) = self
                .entries
                .remove(&key)
                .and_then(|e| e.first_snapshot.get())
            {
                self.untraced_seen.remove(&(at, key));
            }
        }
        let listening: BTreeSet<SocketAddr> = socks
            .iter()
            .filter(|s| s.state == TcpState::Listen)
            .map(|s| s.local)
            .collect();
        self.scratch = by_key;
        self.queues.retain(|local, _| listening.contains(local));
        self.pending_syn
            .retain(|_, p| ts.0.saturating_sub(p.ts.0) < PENDING_SYN_LIFETIME_NS);

        // Traced corrections carry their earlier times; keep the output in time
        // order (stable: one socket's changes stay in order).
        if let Some(added) = out.get_mut(start..) {
            added.sort_by_key(|c| c.ts);
        }
    }

    /// A walk of the listeners alone, taken at `ts` between full snapshots:
    /// listeners that appeared, their queues, and those gone (after a second
    /// look, as in [`KernelView::on_snapshot`]). Other sockets are untouched.
    pub fn on_listeners(
        &mut self,
        ts: Timestamp,
        socks: &[SockInfo],
        out: &mut Vec<StateChange>,
        queues: &mut Vec<ListenerQueue>,
    ) {
        let start = out.len();
        for s in socks.iter().filter(|s| s.state == TcpState::Listen) {
            let key = SockKey::new(s.local, s.remote);
            if self
                .entries
                .get(&key)
                .is_some_and(|e| e.changed_at > ts || e.traced)
            {
                continue;
            }
            self.apply(
                key,
                Told {
                    ts,
                    timer: None,
                    dated: Dated::Walked { seen: ts },
                },
                None,
                TcpState::Listen,
                out,
            );
            self.seen_by_snapshot(key, ts);
            if let Some(e) = self.entries.get_mut(&key) {
                e.missing_since = OptTs::NONE;
            }
            self.listener_queue(ts, s, queues);
        }
        let known: Vec<SocketAddr> = self.queues.keys().copied().collect();
        for local in known {
            if socks
                .iter()
                .any(|s| s.local == local && s.state == TcpState::Listen)
            {
                continue;
            }
            let key = SockKey {
                local,
                remote: None,
            };
            let Some(e) = self.entries.get_mut(&key) else {
                self.queues.remove(&local);
                continue;
            };
            if e.state != TcpState::Listen || e.changed_at > ts {
                continue;
            }
            match e.missing_since.get() {
                None => e.missing_since = OptTs::some(ts),
                Some(first) => {
                    e.missing_since = OptTs::NONE;
                    self.apply(
                        key,
                        Told {
                            ts: first,
                            timer: None,
                            dated: Dated::Walked { seen: first },
                        },
                        None,
                        TcpState::Closed,
                        out,
                    );
                    self.queues.remove(&local);
                }
            }
        }
        if let Some(added) = out.get_mut(start..) {
            added.sort_by_key(|c| c.ts);
        }
    }

    /// Reports a listener's accept queue when it changed.
    fn listener_queue(&mut self, ts: Timestamp, s: &SockInfo, queues: &mut Vec<ListenerQueue>) {
        if self.queues.get(&s.local) != Some(&(s.recv_q, s.send_q)) {
            self.queues.insert(s.local, (s.recv_q, s.send_q));
            queues.push(ListenerQueue {
                ts,
                local: s.local,
                accept_queue: s.recv_q,
                backlog: s.send_q,
            });
        }
    }

    /// A snapshot shows a new connection: if the tracer saw its port-0
    /// SYN-SENT, that comes first (the oldest such, when several match).
    fn take_pending_syn(&mut self, key: SockKey, ts: Timestamp, out: &mut Vec<StateChange>) {
        let found = self
            .pending_syn
            .iter()
            .filter(|(_, p)| p.ts <= ts && p.matches(key))
            .min_by_key(|(skaddr, p)| (p.ts, **skaddr))
            .map(|(skaddr, p)| (*skaddr, *p));
        if let Some((skaddr, syn)) = found {
            self.pending_syn.remove(&skaddr);
            self.apply(
                key,
                Told {
                    ts: syn.ts,
                    timer: None,
                    dated: Dated::Traced,
                },
                Some(syn.from),
                TcpState::SynSent,
                out,
            );
            self.mark_traced(key);
        }
    }

    /// The state known for a socket; `remote == None` asks for a listener, and
    /// a listener on `0.0.0.0` (IPv4) or `::` (both) listens on every address.
    #[must_use]
    pub fn state_of(&self, local: SocketAddr, remote: Option<SocketAddr>) -> Option<TcpState> {
        if let Some(e) = self.entries.get(&SockKey { local, remote }) {
            return Some(e.state);
        }
        if remote.is_some() || local.ip().is_unspecified() {
            return None;
        }
        let any = |ip: IpAddr| SocketAddr::new(ip, local.port());
        let mut wildcards = vec![any(IpAddr::V6(Ipv6Addr::UNSPECIFIED))];
        if local.is_ipv4() {
            wildcards.insert(0, any(IpAddr::V4(Ipv4Addr::UNSPECIFIED)));
        }
        wildcards.into_iter().find_map(|local| {
            self.entries
                .get(&SockKey {
                    local,
                    remote: None,
                })
                .map(|e| e.state)
        })
    }

    /// Records `to` for `key` at `ts`, emitting a change when it differs from
    /// the state known (`from_if_new` is the `from` of a socket not known yet).
    fn apply(
        &mut self,
        key: SockKey,
        told: Told,
        from_if_new: Option<TcpState>,
        to: TcpState,
        out: &mut Vec<StateChange>,
    ) {
        let Told { ts, timer, dated } = told;
        let mut from_seen = ts;
        let from = match self.entries.get_mut(&key) {
            Some(e) if e.state == to => {
                e.changed_at = e.changed_at.max(ts);
                e.seen_at = e.seen_at.max(ts);
                return;
            }
            Some(e) => {
                if dated != Dated::Traced {
                    from_seen = e.seen_at.max(e.changed_at).min(ts);
                }
                // A closed socket's addresses taken by a new one, or a new
                // socket born on them (a connect(), a passive open): the
                // old one is gone (a 4-tuple is one socket's at a time;
                // an orphan may go with no report, a RST to a FIN-WAIT-2
                // mini-socket), and the tracer says where the new one came
                // from.
                let from = match from_if_new {
                    Some(f) if e.state == TcpState::Closed || born(f, to) => f,
                    _ => e.state,
                };
                e.state = to;
                e.changed_at = ts;
                e.seen_at = e.seen_at.max(ts);
                e.orphan = false;
                Some(from).filter(|f| *f != to)
            }
            None => {
                self.entries.insert(
                    key,
                    Entry {
                        state: to,
                        changed_at: ts,
                        first_snapshot: OptTs::NONE,
                        traced: false,
                        seen_at: ts,
                        orphan: false,
                        missing_since: OptTs::NONE,
                    },
                );
                from_if_new.filter(|f| *f != to)
            }
        };
        out.push(StateChange {
            ts,
            local: key.local,
            remote: key.remote,
            from,
            to,
            timer,
            dated,
            from_seen,
        });
    }

    /// What the kernel last said about a socket (`remote` `None`: a
    /// listener), and when; `None` when it said nothing, or when its word is
    /// still out (a hand-over the walks have not shown yet).
    #[must_use]
    pub fn word(&self, local: SocketAddr, remote: Option<SocketAddr>) -> Option<Word> {
        let key = SockKey { local, remote };
        if self.pending_close.contains_key(&key) {
            return None;
        }
        self.entries.get(&key).map(|e| Word {
            state: e.state,
            at: e.seen_at.max(e.changed_at),
            traced: e.traced,
        })
    }

    /// Sockets found orphaned in FIN-WAIT-2 since the last call.
    pub fn take_orphaned(&mut self) -> std::vec::Drain<'_, Orphaned> {
        self.orphaned.drain(..)
    }

    fn mark_traced(&mut self, key: SockKey) {
        if let Some(e) = self.entries.get_mut(&key) {
            e.traced = true;
            if let Some(at) = e.first_snapshot.get() {
                self.untraced_seen.remove(&(at, key));
            }
        }
    }

    /// A snapshot showed the socket (the first time sets when).
    fn seen_by_snapshot(&mut self, key: SockKey, ts: Timestamp) {
        if let Some(e) = self.entries.get_mut(&key) {
            e.seen_at = e.seen_at.max(ts);
            let at = e.first_snapshot.get_or_insert(ts);
            if !e.traced {
                self.untraced_seen.insert((at, key));
            }
        }
    }
}

impl KernelView {
    /// The connected sockets of a snapshot whose Recv-Q or Send-Q changed
    /// since the last report (a socket first seen with both at 0 is not news).
    /// Sockets gone from the snapshot are forgotten.
    pub fn socket_queues(
        &mut self,
        ts: Timestamp,
        socks: &[SockInfo],
        out: &mut Vec<SocketQueues>,
    ) {
        for s in socks {
            let key = SockKey::new(s.local, s.remote);
            let Some(remote) = key.remote else { continue };
            // TIME-WAIT and request sockets hold no data.
            if matches!(
                s.state,
                TcpState::Listen | TcpState::TimeWait | TcpState::SynReceived
            ) {
                continue;
            }
            let now = (s.recv_q, s.send_q);
            let before = self
                .socket_queues
                .insert((s.local, remote), (s.recv_q, s.send_q, ts))
                .map(|(r, s, _)| (r, s));
            if before.unwrap_or((0, 0)) != now {
                out.push(SocketQueues {
                    ts,
                    local: s.local,
                    remote,
                    recv_q: s.recv_q,
                    send_q: s.send_q,
                });
            }
        }
        // Those this snapshot did not show are gone.
        self.socket_queues.retain(|_, (_, _, at)| *at == ts);
    }
}

/// A socket's first step: connect() on a CLOSED socket, or a passive open
/// from a listener's SYN.
fn born(from: TcpState, to: TcpState) -> bool {
    matches!(
        (from, to),
        (TcpState::Closed, TcpState::SynSent) | (TcpState::Listen, TcpState::SynReceived)
    )
}

fn timer_secs(s: &SockInfo) -> Option<f64> {
    s.timer.map(|t| f64::from(t.expires_ms) / 1000.0)
}

/// When a TIME-WAIT socket a walk ended at `ts` showed began: its timer
/// starts at [`TIME_WAIT_LEN_S`] (a TIME-WAIT timer the kernel shows is
/// never more).
fn time_wait_began(s: &SockInfo, ts: Timestamp) -> Option<Timestamp> {
    let t = s.timer.filter(|t| t.kind == TimerKind::TimeWait)?;
    let left_ns = u64::from(t.expires_ms) * 1_000_000;
    let len_ns = (TIME_WAIT_LEN_S * 1e9) as u64;
    let elapsed = len_ns.checked_sub(left_ns)?;
    Some(Timestamp(ts.0.saturating_sub(elapsed)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::reports::{SockTimer, TimerKind};
    use TcpState::{
        CloseWait, Closed, Closing, Established, FinWait1, FinWait2, LastAck, Listen, SynReceived,
        SynSent, TimeWait,
    };

    const CLIENT: &str = "127.0.0.1:40000";
    const SERVER: &str = "127.0.0.1:7000";

    fn ms(n: u64) -> Timestamp {
        Timestamp(1_700_000_000_000_000_000 + n * 1_000_000)
    }

    fn addr(s: &str) -> SocketAddr {
        s.parse().expect("test address")
    }

    #[test]
    fn an_optional_time_in_a_word_gives_back_what_it_was_given() {
        let mut t = OptTs::NONE;
        assert_eq!(t.get(), None);
        assert_eq!(t.get_or_insert(ms(5)), ms(5));
        assert_eq!(t.get_or_insert(ms(9)), ms(5), "set once");
        assert_eq!(OptTs::some(ms(7)).get(), Some(ms(7)));
        assert_eq!(OptTs::some(Timestamp(0)).get(), Some(Timestamp(0)));
        assert!(OptTs::some(Timestamp(u64::MAX)).get().is_some());
        assert_eq!(size_of::<Entry>(), 40);
    }

    fn tr(
        at: u64,
        skaddr: u64,
        local: &str,
        remote: &str,
        from: TcpState,
        to: TcpState,
    ) -> Transition {
        Transition {
            ts: ms(at),
            local: addr(local),
            remote: addr(remote),
            from,
            to,
            skaddr,
        }
    }

    fn sock(state: TcpState, local: &str, remote: &str) -> SockInfo {
        SockInfo::bare(state, addr(local), addr(remote))
    }

    fn with_timer(mut s: SockInfo, kind: TimerKind, expires_ms: u32) -> SockInfo {
        s.timer = Some(SockTimer {
            kind,
            expires_ms,
            retransmits: 0,
        });
        s
    }

    fn listener(local: &str, accept_queue: u32, backlog: u32) -> SockInfo {
        let mut s = sock(Listen, local, "0.0.0.0:0");
        s.recv_q = accept_queue;
        s.send_q = backlog;
        s
    }

    /// Each change as one ladder line: `+ms local>remote FROM -> TO [timer]`.
    fn ladder(changes: &[StateChange]) -> Vec<String> {
        changes
            .iter()
            .map(|c| {
                let ms = c.ts.seconds_since(ms(0)) * 1000.0;
                let remote = c.remote.map_or(String::new(), |r| format!(">{r}"));
                let from = c.from.map_or("(new)", TcpState::as_str);
                let timer = c.timer.map_or(String::new(), |t| format!(" [{t:.3}s]"));
                format!("+{ms:.0} {}{remote} {from} -> {}{timer}", c.local, c.to)
            })
            .collect()
    }

    #[derive(Default)]
    struct Run {
        view: KernelView,
        changes: Vec<StateChange>,
        queues: Vec<ListenerQueue>,
    }

    impl Run {
        fn trace(&mut self, t: &Transition) -> Vec<String> {
            let mut out = Vec::new();
            self.view.on_transition(t, &mut out);
            self.changes.extend(out.iter().cloned());
            ladder(&out)
        }

        fn snap(&mut self, at: u64, socks: &[SockInfo]) -> Vec<String> {
            let mut out = Vec::new();
            self.view
                .on_snapshot(ms(at), ms(at), socks, &mut out, &mut self.queues);
            self.changes.extend(out.iter().cloned());
            ladder(&out)
        }

        fn listeners(&mut self, at: u64, socks: &[SockInfo]) -> Vec<String> {
            let mut out = Vec::new();
            self.view
                .on_listeners(ms(at), socks, &mut out, &mut self.queues);
            self.changes.extend(out.iter().cloned());
            ladder(&out)
        }
    }

    fn none() -> Vec<String> {
        Vec::new()
    }

    #[test]
    fn client_lifecycle_from_the_tracer_alone() {
        let mut r = Run::default();
        // connect(): SYN-SENT before the port is chosen.
        assert_eq!(
            r.trace(&tr(0, 1, "127.0.0.1:0", SERVER, Closed, SynSent)),
            none()
        );
        assert_eq!(r.view.state_of(addr(CLIENT), Some(addr(SERVER))), None);
        // SYN-ACK received: the port appears; the SYN-SENT comes first, at its own time.
        assert_eq!(
            r.trace(&tr(1, 1, CLIENT, SERVER, SynSent, Established)),
            [
                "+0 127.0.0.1:40000>127.0.0.1:7000 CLOSED -> SYN-SENT",
                "+1 127.0.0.1:40000>127.0.0.1:7000 SYN-SENT -> ESTABLISHED",
            ]
        );
        assert_eq!(
            r.trace(&tr(5, 1, CLIENT, SERVER, Established, FinWait1))
                .len(),
            1
        );
        assert_eq!(
            r.trace(&tr(6, 1, CLIENT, SERVER, FinWait1, FinWait2)).len(),
            1
        );
        // Hand-over to TIME-WAIT, logged as → CLOSE: held for the next snapshot.
        assert_eq!(r.trace(&tr(7, 1, CLIENT, SERVER, FinWait2, Closed)), none());
        assert_eq!(
            r.view.state_of(addr(CLIENT), Some(addr(SERVER))),
            Some(FinWait2)
        );
        assert_eq!(
            ladder(&r.changes),
            [
                "+0 127.0.0.1:40000>127.0.0.1:7000 CLOSED -> SYN-SENT",
                "+1 127.0.0.1:40000>127.0.0.1:7000 SYN-SENT -> ESTABLISHED",
                "+5 127.0.0.1:40000>127.0.0.1:7000 ESTABLISHED -> FIN-WAIT-1",
                "+6 127.0.0.1:40000>127.0.0.1:7000 FIN-WAIT-1 -> FIN-WAIT-2",
            ]
        );
    }

    #[test]
    fn time_wait_correction_takes_the_tracer_time_and_the_snapshot_timer() {
        let mut r = Run::default();
        r.trace(&tr(0, 1, CLIENT, SERVER, Established, FinWait1));
        r.trace(&tr(1, 1, CLIENT, SERVER, FinWait1, FinWait2));
        assert_eq!(
            r.trace(&tr(10, 1, CLIENT, SERVER, FinWait2, Closed)),
            none()
        );
        // A snapshot taken before the close (delivered late) decides nothing.
        let before = sock(FinWait2, CLIENT, SERVER);
        assert_eq!(r.snap(8, &[before]), none());
        // The next one shows the TIME-WAIT mini-socket, 59.9 s left 20 ms later.
        let tw = with_timer(sock(TimeWait, CLIENT, SERVER), TimerKind::TimeWait, 59_900);
        assert_eq!(
            r.snap(30, std::slice::from_ref(&tw)),
            ["+10 127.0.0.1:40000>127.0.0.1:7000 FIN-WAIT-2 -> TIME-WAIT [59.920s]"]
        );
        let change = r.changes.last().expect("a change");
        assert_eq!(change.ts, ms(10));
        assert!((change.timer.unwrap_or_default() - 59.92).abs() < 1e-9);
        // The countdown alone reports nothing.
        let later = with_timer(sock(TimeWait, CLIENT, SERVER), TimerKind::TimeWait, 59_000);
        assert_eq!(r.snap(930, &[later]), none());
        // Expired: gone once a second snapshot agrees, CLOSED at the first.
        assert_eq!(r.snap(60_040, &[]), none());
        assert_eq!(
            r.snap(60_060, &[]),
            ["+60040 127.0.0.1:40000>127.0.0.1:7000 TIME-WAIT -> CLOSED"]
        );
        assert_eq!(
            r.view.state_of(addr(CLIENT), Some(addr(SERVER))),
            Some(Closed)
        );
        // A closed socket is forgotten once a later snapshot confirms it gone.
        assert_eq!(r.snap(60_080, &[]), none());
        assert_eq!(r.view.state_of(addr(CLIENT), Some(addr(SERVER))), None);
    }

    #[test]
    fn close_without_time_wait_is_closed_at_the_tracer_time() {
        let mut r = Run::default();
        // FIN-WAIT-1 then an RST: → CLOSE, and no TIME-WAIT follows.
        r.trace(&tr(0, 1, CLIENT, SERVER, Established, FinWait1));
        assert_eq!(r.trace(&tr(4, 1, CLIENT, SERVER, FinWait1, Closed)), none());
        // Two snapshots must agree that no mini-socket took over.
        assert_eq!(r.snap(20, &[]), none());
        assert_eq!(
            r.snap(25, &[]),
            ["+4 127.0.0.1:40000>127.0.0.1:7000 FIN-WAIT-1 -> CLOSED"]
        );
        // An abort from ESTABLISHED and a LAST-ACK close are final at once.
        let other = "127.0.0.1:40001";
        r.trace(&tr(30, 2, other, SERVER, SynSent, Established));
        assert_eq!(
            r.trace(&tr(31, 2, other, SERVER, Established, Closed)),
            ["+31 127.0.0.1:40001>127.0.0.1:7000 ESTABLISHED -> CLOSED"]
        );
        let passive = "127.0.0.1:40002";
        r.trace(&tr(40, 3, SERVER, passive, CloseWait, LastAck));
        assert_eq!(
            r.trace(&tr(41, 3, SERVER, passive, LastAck, Closed)),
            ["+41 127.0.0.1:7000>127.0.0.1:40002 LAST-ACK -> CLOSED"]
        );
        // CLOSING → CLOSE (simultaneous close) is held like FIN-WAIT-2.
        let simultaneous = "127.0.0.1:40003";
        r.trace(&tr(50, 4, simultaneous, SERVER, FinWait1, Closing));
        assert_eq!(
            r.trace(&tr(51, 4, simultaneous, SERVER, Closing, Closed)),
            none()
        );
        let tw = with_timer(
            sock(TimeWait, simultaneous, SERVER),
            TimerKind::TimeWait,
            60_000,
        );
        assert_eq!(
            r.snap(51, &[tw]),
            ["+51 127.0.0.1:40003>127.0.0.1:7000 CLOSING -> TIME-WAIT [60.000s]"]
        );
    }

    #[test]
    fn server_side_with_both_sources() {
        let mut r = Run::default();
        let any = "0.0.0.0:7000";
        assert_eq!(
            r.trace(&tr(0, 10, any, "0.0.0.0:0", Closed, Listen)),
            ["+0 0.0.0.0:7000 CLOSED -> LISTEN"]
        );
        // The poller sees the listener the tracer reported: no second change.
        assert_eq!(r.snap(10, &[listener(any, 0, 128)]), none());
        // The SYN arrived: a request socket, shown as SYN-RECEIVED.
        let req = sock(SynReceived, SERVER, CLIENT);
        assert_eq!(
            r.snap(
                30,
                &[
                    listener(any, 0, 128),
                    with_timer(req, TimerKind::Retransmit, 1000)
                ]
            ),
            ["+30 127.0.0.1:7000>127.0.0.1:40000 (new) -> SYN-RECEIVED [1.000s]"]
        );
        // The final ACK: the tracer logs the child's LISTEN → SYN-RECEIVED → ESTABLISHED.
        assert_eq!(
            r.trace(&tr(35, 11, SERVER, CLIENT, Listen, SynReceived)),
            none()
        );
        assert_eq!(
            r.trace(&tr(35, 11, SERVER, CLIENT, SynReceived, Established)),
            ["+35 127.0.0.1:7000>127.0.0.1:40000 SYN-RECEIVED -> ESTABLISHED"]
        );
        let child = sock(Established, SERVER, CLIENT);
        assert_eq!(r.snap(50, &[listener(any, 1, 128), child]), none());
        assert_eq!(
            r.view.state_of(addr(SERVER), Some(addr(CLIENT))),
            Some(Established)
        );
        // A listener on 0.0.0.0 listens on every IPv4 address.
        assert_eq!(r.view.state_of(addr(SERVER), None), Some(Listen));
        assert_eq!(r.view.state_of(addr("10.0.0.1:7000"), None), Some(Listen));
        assert_eq!(r.view.state_of(addr("127.0.0.1:7001"), None), None);
        assert_eq!(r.queues.len(), 2);
    }

    #[test]
    fn server_side_from_the_tracer_alone() {
        let mut r = Run::default();
        assert_eq!(
            r.trace(&tr(35, 11, SERVER, CLIENT, Listen, SynReceived)),
            ["+35 127.0.0.1:7000>127.0.0.1:40000 LISTEN -> SYN-RECEIVED"]
        );
        assert_eq!(
            r.trace(&tr(35, 11, SERVER, CLIENT, SynReceived, Established)),
            ["+35 127.0.0.1:7000>127.0.0.1:40000 SYN-RECEIVED -> ESTABLISHED"]
        );
        r.trace(&tr(60, 11, SERVER, CLIENT, Established, CloseWait));
        r.trace(&tr(61, 11, SERVER, CLIENT, CloseWait, LastAck));
        assert_eq!(
            r.trace(&tr(62, 11, SERVER, CLIENT, LastAck, Closed)),
            ["+62 127.0.0.1:7000>127.0.0.1:40000 LAST-ACK -> CLOSED"]
        );
    }

    #[test]
    fn polling_only_diffs_the_snapshots() {
        let mut r = Run::default();
        let est = with_timer(
            sock(Established, CLIENT, SERVER),
            TimerKind::Keepalive,
            7_200_000,
        );
        assert_eq!(
            r.snap(0, std::slice::from_ref(&est)),
            ["+0 127.0.0.1:40000>127.0.0.1:7000 (new) -> ESTABLISHED [7200.000s]"]
        );
        assert_eq!(r.snap(20, &[est]), none());
        let fw2 = with_timer(sock(FinWait2, CLIENT, SERVER), TimerKind::Keepalive, 60_000);
        assert_eq!(
            r.snap(40, &[fw2]),
            ["+40 127.0.0.1:40000>127.0.0.1:7000 ESTABLISHED -> FIN-WAIT-2 [60.000s]"]
        );
        // TIME-WAIT's timer starts at 60 s: 59.99 s left at 60 ms means it
        // began at 50 ms (and had 60 s then).
        let tw = with_timer(sock(TimeWait, CLIENT, SERVER), TimerKind::TimeWait, 59_990);
        assert_eq!(
            r.snap(60, &[tw]),
            ["+50 127.0.0.1:40000>127.0.0.1:7000 FIN-WAIT-2 -> TIME-WAIT [60.000s]"]
        );
        assert_eq!(
            r.changes.last().map(|c| c.dated),
            Some(Dated::Reckoned { seen: ms(60) })
        );
        let tw = with_timer(sock(TimeWait, CLIENT, SERVER), TimerKind::TimeWait, 30_000);
        assert_eq!(r.snap(30_060, &[tw]), none());
        assert_eq!(r.snap(60_080, &[]), none());
        assert_eq!(
            r.snap(60_100, &[]),
            ["+60080 127.0.0.1:40000>127.0.0.1:7000 TIME-WAIT -> CLOSED"]
        );
        assert_eq!(r.snap(60_100, &[]), none());
    }

    #[test]
    fn snapshot_before_the_tracer_follow_up_keeps_the_traced_syn_sent() {
        let mut r = Run::default();
        r.trace(&tr(0, 1, "127.0.0.1:0", SERVER, Closed, SynSent));
        // The poller sees the connection established before the tracer's next batch.
        assert_eq!(
            r.snap(20, &[sock(Established, CLIENT, SERVER)]),
            [
                "+0 127.0.0.1:40000>127.0.0.1:7000 CLOSED -> SYN-SENT",
                "+20 127.0.0.1:40000>127.0.0.1:7000 SYN-SENT -> ESTABLISHED",
            ]
        );
        // The follow-up dates the ESTABLISHED the walk saw at 20 ms: told
        // at its own time (the merge shows the better-dated of the two).
        assert_eq!(
            r.trace(&tr(1, 1, CLIENT, SERVER, SynSent, Established)),
            ["+1 127.0.0.1:40000>127.0.0.1:7000 SYN-SENT -> ESTABLISHED"]
        );
        assert_eq!(r.snap(40, &[sock(Established, CLIENT, SERVER)]), none());
    }

    #[test]
    fn polling_never_invents_a_syn_sent() {
        let mut r = Run::default();
        assert_eq!(
            r.snap(20, &[sock(Established, CLIENT, SERVER)]),
            ["+20 127.0.0.1:40000>127.0.0.1:7000 (new) -> ESTABLISHED"]
        );
    }

    #[test]
    fn the_two_sources_never_report_a_step_twice() {
        let mut r = Run::default();
        r.trace(&tr(0, 1, "127.0.0.1:0", SERVER, Closed, SynSent));
        r.trace(&tr(1, 1, CLIENT, SERVER, SynSent, Established));
        assert_eq!(r.snap(20, &[sock(Established, CLIENT, SERVER)]), none());
        r.trace(&tr(25, 1, CLIENT, SERVER, Established, FinWait1));
        r.trace(&tr(26, 1, CLIENT, SERVER, FinWait1, FinWait2));
        assert_eq!(r.snap(40, &[sock(FinWait2, CLIENT, SERVER)]), none());
        // A snapshot that caught an intermediate state the tracer already passed.
        r.trace(&tr(45, 1, CLIENT, SERVER, FinWait2, Closed));
        assert_eq!(r.snap(44, &[sock(FinWait2, CLIENT, SERVER)]), none());
        r.snap(60, &[sock(TimeWait, CLIENT, SERVER)]);
        assert_eq!(
            ladder(&r.changes),
            [
                "+0 127.0.0.1:40000>127.0.0.1:7000 CLOSED -> SYN-SENT",
                "+1 127.0.0.1:40000>127.0.0.1:7000 SYN-SENT -> ESTABLISHED",
                "+25 127.0.0.1:40000>127.0.0.1:7000 ESTABLISHED -> FIN-WAIT-1",
                "+26 127.0.0.1:40000>127.0.0.1:7000 FIN-WAIT-1 -> FIN-WAIT-2",
                "+45 127.0.0.1:40000>127.0.0.1:7000 FIN-WAIT-2 -> TIME-WAIT",
            ]
        );
        // Every change continues from the previous one.
        for pair in r.changes.windows(2) {
            assert_eq!(pair[1].from, Some(pair[0].to));
        }
    }

    #[test]
    fn late_transitions_never_go_backwards() {
        let mut r = Run::default();
        r.snap(0, &[sock(Established, CLIENT, SERVER)]);
        assert_eq!(
            r.snap(20, &[sock(FinWait2, CLIENT, SERVER)]),
            ["+20 127.0.0.1:40000>127.0.0.1:7000 ESTABLISHED -> FIN-WAIT-2"]
        );
        // The tracer's batch for 18-19 ms arrives after that snapshot: the
        // steps the walk missed are told at their times (the merge puts them
        // in order), and the socket stays where it is.
        assert_eq!(
            r.trace(&tr(18, 1, CLIENT, SERVER, Established, FinWait1)),
            ["+18 127.0.0.1:40000>127.0.0.1:7000 ESTABLISHED -> FIN-WAIT-1"]
        );
        assert_eq!(
            r.trace(&tr(19, 1, CLIENT, SERVER, FinWait1, FinWait2)),
            ["+19 127.0.0.1:40000>127.0.0.1:7000 FIN-WAIT-1 -> FIN-WAIT-2"]
        );
        assert_eq!(
            r.view.state_of(addr(CLIENT), Some(addr(SERVER))),
            Some(FinWait2)
        );
        // A record that does not lead to the state known is not told.
        assert_eq!(
            r.trace(&tr(17, 1, CLIENT, SERVER, FinWait1, Closing)),
            none()
        );
    }

    /// The table walk is not atomic: a socket one snapshot skipped and the
    /// next one shows again never closed.
    #[test]
    fn one_snapshot_missing_a_socket_does_not_close_it() {
        let mut r = Run::default();
        let est = sock(Established, CLIENT, SERVER);
        r.snap(0, std::slice::from_ref(&est));
        assert_eq!(r.snap(20, &[]), none());
        assert_eq!(r.snap(40, std::slice::from_ref(&est)), none());
        assert_eq!(r.snap(60, &[]), none());
        assert_eq!(
            r.snap(80, &[]),
            ["+60 127.0.0.1:40000>127.0.0.1:7000 ESTABLISHED -> CLOSED"]
        );
    }

    #[test]
    fn a_traced_socket_newer_than_the_snapshot_is_not_closed_by_it() {
        let mut r = Run::default();
        r.trace(&tr(15, 11, SERVER, CLIENT, Listen, SynReceived));
        r.trace(&tr(15, 11, SERVER, CLIENT, SynReceived, Established));
        // Taken at 14 ms, before the child existed.
        assert_eq!(r.snap(14, &[]), none());
        assert_eq!(
            r.view.state_of(addr(SERVER), Some(addr(CLIENT))),
            Some(Established)
        );
        // Two later snapshots that do not show it: gone since the first.
        assert_eq!(r.snap(40, &[]), none());
        assert_eq!(
            r.snap(60, &[]),
            ["+40 127.0.0.1:7000>127.0.0.1:40000 ESTABLISHED -> CLOSED"]
        );
    }

    #[test]
    fn a_late_port_zero_syn_sent_claims_the_socket_already_seen() {
        let mut r = Run::default();
        // The poller saw the connection before the tracer's batch arrived:
        // the SYN-SENT it missed is told at its time.
        r.snap(20, &[sock(Established, CLIENT, SERVER)]);
        assert_eq!(
            r.trace(&tr(10, 1, "127.0.0.1:0", SERVER, Closed, SynSent)),
            ["+10 127.0.0.1:40000>127.0.0.1:7000 CLOSED -> SYN-SENT"]
        );
        // A second connection to the same server must not inherit that SYN-SENT.
        let second = "127.0.0.1:40001";
        assert_eq!(
            r.snap(
                40,
                &[
                    sock(Established, CLIENT, SERVER),
                    sock(Established, second, SERVER)
                ]
            ),
            ["+40 127.0.0.1:40001>127.0.0.1:7000 (new) -> ESTABLISHED"]
        );
        assert_eq!(
            r.trace(&tr(11, 1, CLIENT, SERVER, SynSent, Established)),
            ["+11 127.0.0.1:40000>127.0.0.1:7000 SYN-SENT -> ESTABLISHED"]
        );
    }

    #[test]
    fn a_connect_that_fails_before_it_has_a_port_shows_nothing() {
        let mut r = Run::default();
        r.trace(&tr(0, 1, "127.0.0.1:0", SERVER, Closed, SynSent));
        assert_eq!(
            r.trace(&tr(1, 1, "127.0.0.1:0", SERVER, SynSent, Closed)),
            none()
        );
        assert_eq!(
            r.snap(20, &[sock(Established, CLIENT, SERVER)]),
            ["+20 127.0.0.1:40000>127.0.0.1:7000 (new) -> ESTABLISHED"]
        );
    }

    #[test]
    fn a_refused_connect_is_syn_sent_then_closed() {
        let mut r = Run::default();
        r.trace(&tr(0, 1, "127.0.0.1:0", SERVER, Closed, SynSent));
        assert_eq!(
            r.trace(&tr(1, 1, CLIENT, SERVER, SynSent, Closed)),
            [
                "+0 127.0.0.1:40000>127.0.0.1:7000 CLOSED -> SYN-SENT",
                "+1 127.0.0.1:40000>127.0.0.1:7000 SYN-SENT -> CLOSED",
            ]
        );
    }

    #[test]
    fn listener_queue_changes() {
        let mut r = Run::default();
        let any = "0.0.0.0:7000";
        assert_eq!(
            r.snap(0, &[listener(any, 0, 1)]),
            ["+0 0.0.0.0:7000 (new) -> LISTEN"]
        );
        r.snap(20, &[listener(any, 0, 1)]);
        r.snap(40, &[listener(any, 1, 1)]);
        r.snap(60, &[listener(any, 2, 1)]);
        r.snap(80, &[listener(any, 2, 1)]);
        r.snap(100, &[listener(any, 1, 1)]);
        let seen: Vec<(Timestamp, u32, u32)> = r
            .queues
            .iter()
            .map(|q| (q.ts, q.accept_queue, q.backlog))
            .collect();
        assert_eq!(
            seen,
            [
                (ms(0), 0, 1),
                (ms(40), 1, 1),
                (ms(60), 2, 1),
                (ms(100), 1, 1)
            ]
        );
        assert!(r.queues.iter().all(|q| q.local == addr(any)));
        // close() on the listener.
        assert_eq!(r.snap(120, &[]), none());
        assert_eq!(r.snap(130, &[]), ["+120 0.0.0.0:7000 LISTEN -> CLOSED"]);
        assert_eq!(r.changes.last().and_then(|c| c.remote), None);
        // Listening again reports its queue afresh.
        r.snap(140, &[listener(any, 0, 1)]);
        assert_eq!(r.queues.len(), 5);
    }

    #[test]
    fn listener_walks_between_snapshots_see_listeners_only() {
        let mut r = Run::default();
        let any = "0.0.0.0:7000";
        let est = sock(Established, CLIENT, SERVER);
        r.snap(0, std::slice::from_ref(&est));
        // A listener born and gone between two full snapshots is still seen.
        assert_eq!(
            r.listeners(20, &[listener(any, 0, 5)]),
            ["+20 0.0.0.0:7000 (new) -> LISTEN"]
        );
        r.listeners(40, &[listener(any, 1, 5)]);
        assert_eq!(r.listeners(60, &[]), none(), "one look is not enough");
        assert_eq!(r.listeners(80, &[]), ["+60 0.0.0.0:7000 LISTEN -> CLOSED"]);
        let seen: Vec<(Timestamp, u32)> = r.queues.iter().map(|q| (q.ts, q.accept_queue)).collect();
        assert_eq!(seen, [(ms(20), 0), (ms(40), 1)]);
        // The connection the listener walks never showed is untouched.
        assert_eq!(
            r.view.state_of(addr(CLIENT), Some(addr(SERVER))),
            Some(Established)
        );
        assert_eq!(r.snap(100, std::slice::from_ref(&est)), none());
    }

    #[test]
    fn ipv6_client_and_dual_stack_listener() {
        let mut r = Run::default();
        let (client, server) = ("[::1]:40000", "[::1]:7000");
        // IPv6 connect(): neither the port nor the source address is chosen yet.
        assert_eq!(
            r.trace(&tr(0, 7, "[::]:0", server, Closed, SynSent)),
            none()
        );
        assert_eq!(
            r.trace(&tr(1, 7, client, server, SynSent, Established)),
            [
                "+0 [::1]:40000>[::1]:7000 CLOSED -> SYN-SENT",
                "+1 [::1]:40000>[::1]:7000 SYN-SENT -> ESTABLISHED",
            ]
        );
        let any6 = "[::]:7000";
        let mut l = sock(Listen, any6, "[::]:0");
        l.send_q = 4096;
        assert_eq!(
            r.snap(
                20,
                &[
                    l,
                    sock(Established, client, server),
                    sock(Established, server, client)
                ]
            ),
            [
                "+20 [::]:7000 (new) -> LISTEN",
                "+20 [::1]:7000>[::1]:40000 (new) -> ESTABLISHED",
            ]
        );
        assert_eq!(r.changes[2].remote, None);
        assert_eq!(r.queues.len(), 1);
        // `::` listens on every address, IPv4 ones included (dual stack).
        assert_eq!(r.view.state_of(addr(server), None), Some(Listen));
        assert_eq!(r.view.state_of(addr("127.0.0.1:7000"), None), Some(Listen));
        assert_eq!(
            r.view.state_of(addr(client), Some(addr(server))),
            Some(Established)
        );
    }

    /// A socket its program closed in FIN-WAIT-2 is handed to a mini-socket
    /// that stays in FIN-WAIT-2 (its timer is tcp_fin_timeout's): no change,
    /// an orphan. It enters TIME-WAIT when the peer's FIN comes, which the
    /// walk after shows, with a TIME-WAIT timer that started then.
    #[test]
    fn an_orphaned_fin_wait_2_is_fin_wait_2_until_a_walk_shows_time_wait() {
        let mut r = Run::default();
        r.trace(&tr(0, 1, CLIENT, SERVER, Established, FinWait1));
        r.trace(&tr(1, 1, CLIENT, SERVER, FinWait1, FinWait2));
        assert_eq!(r.trace(&tr(5, 1, CLIENT, SERVER, FinWait2, Closed)), none());
        let fw2 = with_timer(sock(FinWait2, CLIENT, SERVER), TimerKind::TimeWait, 59_990);
        assert_eq!(r.snap(20, &[fw2]), none());
        let orphans: Vec<Orphaned> = r.view.take_orphaned().collect();
        assert_eq!(orphans.len(), 1);
        assert_eq!(orphans[0].ts, ms(5));
        assert!(orphans[0].timer.is_some_and(|t| (t - 60.005).abs() < 0.001));
        // The peer's FIN at 200 ms; the walk at 210 shows 59.99 s left.
        let tw = with_timer(sock(TimeWait, CLIENT, SERVER), TimerKind::TimeWait, 59_990);
        assert_eq!(
            r.snap(210, &[tw]),
            ["+200 127.0.0.1:40000>127.0.0.1:7000 FIN-WAIT-2 -> TIME-WAIT [60.000s]"]
        );
    }

    /// Rootless (no tracepoint): the walk that first shows FIN-WAIT-2 shows
    /// it as a mini-socket (the TIME-WAIT wheel's timer): an orphan, told
    /// once, after the change.
    #[test]
    fn walks_alone_tell_an_orphaned_fin_wait_2() {
        let mut r = Run::default();
        r.snap(0, &[sock(Established, CLIENT, SERVER)]);
        let fw2 = with_timer(sock(FinWait2, CLIENT, SERVER), TimerKind::TimeWait, 59_000);
        assert_eq!(
            r.snap(20, std::slice::from_ref(&fw2)),
            ["+20 127.0.0.1:40000>127.0.0.1:7000 ESTABLISHED -> FIN-WAIT-2 [59.000s]"]
        );
        assert_eq!(r.view.take_orphaned().count(), 1);
        r.snap(40, &[fw2]);
        assert_eq!(r.view.take_orphaned().count(), 0, "told once");
    }

    /// The same hand-over, when no walk came before the peer's FIN: the
    /// first walk shows TIME-WAIT, and its timer says it began at the FIN,
    /// 200 ms after the hand-over (the orphan is told), not at the hand-over.
    #[test]
    fn time_wait_begins_when_its_timer_says_not_at_the_hand_over() {
        let mut r = Run::default();
        r.trace(&tr(0, 1, CLIENT, SERVER, Established, FinWait1));
        r.trace(&tr(1, 1, CLIENT, SERVER, FinWait1, FinWait2));
        r.trace(&tr(5, 1, CLIENT, SERVER, FinWait2, Closed));
        let tw = with_timer(sock(TimeWait, CLIENT, SERVER), TimerKind::TimeWait, 59_990);
        assert_eq!(
            r.snap(215, &[tw]),
            ["+205 127.0.0.1:40000>127.0.0.1:7000 FIN-WAIT-2 -> TIME-WAIT [60.000s]"]
        );
        assert_eq!(r.view.take_orphaned().count(), 1);
        // Handed over at the FIN itself (the timer agrees, within a jiffy):
        // TIME-WAIT at the hand-over, no orphan.
        let (c2, s2) = ("127.0.0.1:40001", SERVER);
        r.trace(&tr(300, 2, c2, s2, FinWait2, Closed));
        let tw = with_timer(sock(TimeWait, c2, s2), TimerKind::TimeWait, 59_981);
        assert_eq!(
            r.snap(320, &[tw]),
            ["+300 127.0.0.1:40001>127.0.0.1:7000 FIN-WAIT-2 -> TIME-WAIT [60.001s]"]
        );
        assert_eq!(r.view.take_orphaned().count(), 0);
    }

    /// A walk that began before the tracer's LAST-ACK → CLOSE and ended
    /// after it shows the socket as it was when read: it must not bring the
    /// closed socket back.
    #[test]
    fn a_walk_older_than_a_traced_close_does_not_bring_the_socket_back() {
        let mut r = Run::default();
        r.trace(&tr(0, 11, SERVER, CLIENT, Established, CloseWait));
        r.trace(&tr(30, 11, SERVER, CLIENT, CloseWait, LastAck));
        r.trace(&tr(31, 11, SERVER, CLIENT, LastAck, Closed));
        let mut out = Vec::new();
        r.view.on_snapshot(
            ms(32),
            ms(29),
            &[sock(CloseWait, SERVER, CLIENT)],
            &mut out,
            &mut r.queues,
        );
        assert!(out.is_empty(), "{out:?}");
        // Nor does one that began after it, that soon (the new socket's
        // own records would be on their way).
        r.view.on_snapshot(
            ms(50),
            ms(49),
            &[sock(CloseWait, SERVER, CLIENT)],
            &mut out,
            &mut r.queues,
        );
        assert!(out.is_empty(), "{out:?}");
        assert_eq!(
            r.view.state_of(addr(SERVER), Some(addr(CLIENT))),
            Some(Closed)
        );
    }

    #[test]
    fn the_kernels_last_word_on_a_socket_says_when() {
        let mut r = Run::default();
        r.snap(10, &[sock(Established, CLIENT, SERVER)]);
        r.snap(30, &[sock(Established, CLIENT, SERVER)]);
        assert_eq!(
            r.view.word(addr(CLIENT), Some(addr(SERVER))),
            Some(Word {
                state: Established,
                at: ms(30),
                traced: false
            })
        );
        r.trace(&tr(40, 1, CLIENT, SERVER, Established, FinWait1));
        assert_eq!(
            r.view.word(addr(CLIENT), Some(addr(SERVER))),
            Some(Word {
                state: FinWait1,
                at: ms(40),
                traced: true
            })
        );
        // While a hand-over waits for a walk, the word is still out.
        r.trace(&tr(41, 1, CLIENT, SERVER, FinWait1, FinWait2));
        r.trace(&tr(42, 1, CLIENT, SERVER, FinWait2, Closed));
        assert_eq!(r.view.word(addr(CLIENT), Some(addr(SERVER))), None);
    }

    #[test]
    fn odd_input_never_panics() {
        let mut r = Run::default();
        // Same state twice, a from that disagrees, duplicate sockets in one snapshot.
        r.trace(&tr(0, 1, CLIENT, SERVER, Established, Established));
        r.trace(&tr(1, 1, CLIENT, SERVER, Closing, Closed));
        r.trace(&tr(2, 1, CLIENT, SERVER, Closing, Closed));
        let twice = [
            sock(Established, CLIENT, SERVER),
            sock(TimeWait, CLIENT, SERVER),
        ];
        r.snap(0, &twice);
        r.snap(u64::MAX / 2_000_000, &twice);
        r.snap(1, &[]);
        for pair in r.changes.windows(2) {
            assert_eq!(pair[1].from, Some(pair[0].to));
        }
    }
}
