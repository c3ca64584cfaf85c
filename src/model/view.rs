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

use crate::hash::Map;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::reports::{SockInfo, Transition};
use crate::tcp::TcpState;
use crate::time::Timestamp;

/// A port-0 SYN-SENT whose socket never got a port after this long (a lost
/// record, a failed connect) is forgotten. SYN retries last ~127 s by default.
const PENDING_SYN_LIFETIME_NS: u64 = 300 * 1_000_000_000;

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
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct SockKey {
    local: SocketAddr,
    remote: Option<SocketAddr>,
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
    first_snapshot: Option<Timestamp>,
    /// A transition of the tracer applied to it.
    traced: bool,
    /// The first snapshot that did not show it. The table walk is not atomic
    /// (a socket being re-hashed can be skipped), so a socket is gone only
    /// when a second snapshot confirms it; it closed at the first.
    missing_since: Option<Timestamp>,
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

/// Reconciles sock_diag snapshots and tracepoint transitions into exact,
/// de-duplicated state changes.
#[derive(Debug, Default)]
pub struct KernelView {
    entries: Map<SockKey, Entry>,
    /// Port-0 SYN-SENTs by the kernel address of their socket.
    pending_syn: Map<u64, PendingSyn>,
    /// `FIN-WAIT-1/FIN-WAIT-2/CLOSING → CLOSE` at this time: TIME-WAIT or a
    /// real close; the next snapshot tells.
    /// Traced `→ CLOSE` of FIN-WAIT-1/2 or CLOSING, waiting for snapshots to
    /// show whether a TIME-WAIT (or orphan FIN-WAIT-2) mini-socket took over;
    /// `true` once one snapshot did not show it (a second must agree).
    pending_close: BTreeMap<SockKey, (Timestamp, bool)>,
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
            self.on_portless(t);
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
                self.apply(key, syn.ts, Some(syn.from), TcpState::SynSent, None, out);
                self.mark_traced(key);
            }
        }
        if self.entries.get(&key).is_some_and(|e| t.ts < e.changed_at) {
            return; // a later snapshot already told more
        }
        if let Some((at, _)) = self.pending_close.remove(&key) {
            // The socket moved on before a snapshot showed a TIME-WAIT.
            self.apply(key, at, None, TcpState::Closed, None, out);
        }
        if t.to == TcpState::Closed
            && matches!(
                t.from,
                TcpState::FinWait1 | TcpState::FinWait2 | TcpState::Closing
            )
        {
            // Linux logs the hand-over to a TIME-WAIT mini-socket as → CLOSE:
            // hold it until a snapshot shows whether a TIME-WAIT took over.
            let entry = self.entries.entry(key).or_insert(Entry {
                state: t.from,
                changed_at: t.ts,
                first_snapshot: None,
                traced: true,
                missing_since: None,
            });
            entry.changed_at = entry.changed_at.max(t.ts);
            entry.traced = true;
            if let Some(at) = entry.first_snapshot {
                self.untraced_seen.remove(&(at, key));
            }
            self.pending_close.insert(key, (t.ts, false));
            return;
        }
        self.apply(key, t.ts, Some(t.from), t.to, None, out);
        self.mark_traced(key);
    }

    /// connect() logs CLOSED → SYN-SENT before the port is chosen.
    fn on_portless(&mut self, t: &Transition) {
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
        // A snapshot may have shown the socket before this record arrived:
        // the earliest of the sockets snapshots showed since, that the tracer
        // did not see (newest first, up to the record's time).
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
            Some(key) => self.mark_traced(key),
            None => {
                self.pending_syn.insert(t.skaddr, syn);
            }
        }
    }

    /// A sock_diag snapshot taken at `ts`. Appends the changes it reveals (new
    /// sockets, changed states, sockets gone → CLOSED) and, for listeners,
    /// queue changes.
    pub fn on_snapshot(
        &mut self,
        ts: Timestamp,
        socks: &[SockInfo],
        out: &mut Vec<StateChange>,
        queues: &mut Vec<ListenerQueue>,
    ) {
        let start = out.len();
        let mut by_key = std::mem::take(&mut self.scratch);
        let shown = Shown::new(socks, &mut by_key);

        let mut resolved = BTreeSet::new();
        let due: Vec<(SockKey, Timestamp, bool)> = self
            .pending_close
            .iter()
            .filter(|(_, (at, _))| *at <= ts)
            .map(|(k, (at, looked))| (*k, *at, *looked))
            .collect();
        for (key, at, looked) in due {
            let successor = shown
                .get(&key)
                .is_some_and(|s| matches!(s.state, TcpState::TimeWait | TcpState::FinWait2));
            if !successor && !looked {
                // Clocks can disagree and the walk is not atomic: one more look.
                self.pending_close.insert(key, (at, true));
                continue;
            }
            self.pending_close.remove(&key);
            resolved.insert(key);
            match shown.get(&key) {
                Some(s) if s.state == TcpState::TimeWait => {
                    // The TIME-WAIT began at the traced close; its timer then
                    // had the time since then left on top.
                    let timer = timer_secs(s).map(|left| left + ts.seconds_since(at));
                    self.apply(key, at, None, TcpState::TimeWait, timer, out);
                    self.seen_by_snapshot(key, ts);
                }
                // An orphaned FIN-WAIT-2 socket (closed by its program) is
                // also handed to a mini-socket, still in FIN-WAIT-2 until
                // the peer's FIN or tcp_fin_timeout.
                Some(s) if s.state == TcpState::FinWait2 => {
                    let timer = timer_secs(s);
                    self.apply(key, at, None, TcpState::FinWait2, timer, out);
                }
                _ => self.apply(key, at, None, TcpState::Closed, None, out),
            }
        }

        for (key, s) in shown.in_order() {
            if resolved.contains(&key) || self.pending_close.contains_key(&key) {
                continue;
            }
            let entry = self.entries.get(&key).copied();
            if entry.is_some_and(|e| e.changed_at > ts) {
                continue; // the tracer knows something newer
            }
            // A traced full socket's states all come from the tracer; a
            // snapshot only adds what the tracer cannot see (the TIME-WAIT
            // mini-socket). Clocks of the two can disagree by milliseconds on
            // a VM, and a snapshot must not move a socket back in time.
            if entry.is_some_and(|e| {
                e.traced
                    && e.state != TcpState::Closed
                    && s.state != TcpState::TimeWait
                    && s.state != e.state
            }) {
                self.seen_by_snapshot(key, ts);
                continue;
            }
            if entry.is_none_or(|e| e.state == TcpState::Closed)
                && !matches!(s.state, TcpState::Listen | TcpState::SynReceived)
            {
                self.take_pending_syn(key, ts, out);
            }
            self.apply(key, ts, None, s.state, timer_secs(s), out);
            self.seen_by_snapshot(key, ts);
            if s.state == TcpState::Listen {
                self.listener_queue(ts, s, queues);
            }
        }

        // Sockets the snapshot no longer shows are gone (after a second look).
        let mut gone = Vec::new();
        let mut forget = Vec::new();
        for (key, e) in &mut self.entries {
            if shown.contains_key(key) {
                e.missing_since = None;
                continue;
            }
            if self.pending_close.contains_key(key) || e.changed_at > ts {
                continue;
            }
            if e.state != TcpState::Closed {
                match e.missing_since {
                    None => e.missing_since = Some(ts),
                    Some(first) => gone.push((*key, first)),
                }
            } else if e.changed_at < ts && !resolved.contains(key) {
                forget.push(*key);
            }
        }
        // In key order, whatever the table's: the same snapshot, the same lines.
        gone.sort_unstable();
        for (key, first) in gone {
            self.apply(key, first, None, TcpState::Closed, None, out);
            if let Some(e) = self.entries.get_mut(&key) {
                e.missing_since = None;
            }
        }
        for key in forget {
            if let Some(at) = self.entries.remove(&key).and_then(|e| e.first_snapshot) {
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
            self.apply(key, ts, None, TcpState::Listen, None, out);
            self.seen_by_snapshot(key, ts);
            if let Some(e) = self.entries.get_mut(&key) {
                e.missing_since = None;
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
            match e.missing_since {
                None => e.missing_since = Some(ts),
                Some(first) => {
                    e.missing_since = None;
                    self.apply(key, first, None, TcpState::Closed, None, out);
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
            self.apply(key, syn.ts, Some(syn.from), TcpState::SynSent, None, out);
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
        ts: Timestamp,
        from_if_new: Option<TcpState>,
        to: TcpState,
        timer: Option<f64>,
        out: &mut Vec<StateChange>,
    ) {
        let from = match self.entries.get_mut(&key) {
            Some(e) if e.state == to => {
                e.changed_at = e.changed_at.max(ts);
                return;
            }
            Some(e) => {
                let from = e.state;
                e.state = to;
                e.changed_at = ts;
                Some(from)
            }
            None => {
                self.entries.insert(
                    key,
                    Entry {
                        state: to,
                        changed_at: ts,
                        first_snapshot: None,
                        traced: false,
                        missing_since: None,
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
        });
    }

    fn mark_traced(&mut self, key: SockKey) {
        if let Some(e) = self.entries.get_mut(&key) {
            e.traced = true;
            if let Some(at) = e.first_snapshot {
                self.untraced_seen.remove(&(at, key));
            }
        }
    }

    /// A snapshot showed the socket (the first time sets when).
    fn seen_by_snapshot(&mut self, key: SockKey, ts: Timestamp) {
        if let Some(e) = self.entries.get_mut(&key) {
            let at = *e.first_snapshot.get_or_insert(ts);
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

fn timer_secs(s: &SockInfo) -> Option<f64> {
    s.timer.map(|t| f64::from(t.expires_ms) / 1000.0)
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
        SockInfo {
            state,
            local: addr(local),
            remote: addr(remote),
            recv_q: 0,
            send_q: 0,
            timer: None,
            info: None,
            inode: 0,
            uid: 0,
            cookie: 0,
        }
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
                .on_snapshot(ms(at), socks, &mut out, &mut self.queues);
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
        let tw = with_timer(sock(TimeWait, CLIENT, SERVER), TimerKind::TimeWait, 59_990);
        assert_eq!(
            r.snap(60, &[tw]),
            ["+60 127.0.0.1:40000>127.0.0.1:7000 FIN-WAIT-2 -> TIME-WAIT [59.990s]"]
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
        // The follow-up repeats what is known: nothing more.
        assert_eq!(
            r.trace(&tr(1, 1, CLIENT, SERVER, SynSent, Established)),
            none()
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
        // The tracer's batch for 18-19 ms arrives after that snapshot.
        assert_eq!(
            r.trace(&tr(18, 1, CLIENT, SERVER, Established, FinWait1)),
            none()
        );
        assert_eq!(
            r.trace(&tr(19, 1, CLIENT, SERVER, FinWait1, FinWait2)),
            none()
        );
        assert_eq!(
            r.view.state_of(addr(CLIENT), Some(addr(SERVER))),
            Some(FinWait2)
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
        // The poller saw the connection before the tracer's batch arrived.
        r.snap(20, &[sock(Established, CLIENT, SERVER)]);
        assert_eq!(
            r.trace(&tr(10, 1, "127.0.0.1:0", SERVER, Closed, SynSent)),
            none()
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
            none()
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
