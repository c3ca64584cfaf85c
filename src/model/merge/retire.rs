//! The connections the merge follows, and retiring them: each connection's
//! inferred machine and its sockets' tuples; a finished connection is
//! forgotten a while after its last packet, and a brief of it kept for the
//! kernel's later reports (TIME-WAIT's end) and late packets.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::SocketAddr;

use super::park::Tuple;
use crate::event::StateSource;
use crate::hash::{Ends, Map, Pair, SockMap};
use crate::tcp::TcpState;
use crate::tcp::state::ConnMachine;
use crate::tcp::track::{ConnId, Role};
use crate::time::Timestamp;

/// A finished connection (both ends CLOSED or LISTEN; or TIME-WAIT, when the
/// kernel reports its end) is forgotten this long after its last packet: a
/// busy port must not fill the memory with connections long over.
pub const RETIRE_AFTER: u64 = 500_000_000;
/// What is kept of a forgotten connection — its id, which end is the client
/// and each end's last state shown — so the kernel's later reports on its
/// sockets (TIME-WAIT's end, 60 s on Linux) and late packets still name it.
pub const RETIRED_FOR: u64 = 65_000_000_000;
/// At most this many forgotten connections are kept (the oldest go first).
pub const MAX_RETIRED: usize = 200_000;

/// One connection's inferred machine and what it takes to forget it.
pub(super) struct Machine {
    pub machine: ConnMachine,
    /// (client, server).
    ends: Pair,
    /// The time of its first packet, and of its last.
    pub first: Timestamp,
    pub last: Timestamp,
    /// Finished and queued to be forgotten.
    retiring: bool,
    /// The TIME-WAIT end already queued.
    scheduled: Option<Timestamp>,
    /// Its packets came back after it was forgotten.
    pub revived: bool,
}

impl Machine {
    /// The socket of `role` as (local, remote).
    pub fn socket(&self, role: Role) -> Tuple {
        let (client, server) = self.ends.get();
        match role {
            Role::Client => (client, server),
            Role::Server => (server, client),
        }
    }

    /// (client, server).
    pub fn ends(&self) -> Tuple {
        self.ends.get()
    }
}

/// A socket's last state shown, who said it, whether the kernel has had its
/// word on it, and the time its report spoke of.
pub type Brief = (TcpState, StateSource, bool, Timestamp);

/// A forgotten connection, by a fingerprint of its two endpoints.
#[derive(Clone, Copy, Debug)]
struct Retired {
    conn: ConnId,
    /// The lower of the two endpoints is the client.
    client_is_lo: bool,
    /// The last state shown for the (lower, higher) endpoint's socket, with
    /// the time its report spoke of.
    shown: [Option<Brief>; 2],
    at: Timestamp,
}

/// Forgotten connections kept in brief, by fingerprint. A brief older than
/// [`RETIRED_FOR`] is gone at once (not found) and swept out with the others
/// at most once a second of packet time: no list of them by age to keep
/// (16 bytes each, ~70,000 after a flood's few seconds).
#[derive(Default)]
struct Briefs {
    map: Map<u64, Retired>,
    /// Briefs from this time or before are gone.
    limit: Timestamp,
    /// No brief is older than this (it may be older than the oldest).
    oldest: Option<Timestamp>,
    swept_at: Timestamp,
}

/// How often, in packet time, the briefs gone are swept out.
const SWEEP_EVERY: u64 = 1_000_000_000;

impl Briefs {
    fn get(&self, fp: u64) -> Option<&Retired> {
        self.map.get(&fp).filter(|r| r.at > self.limit)
    }

    fn get_mut(&mut self, fp: u64) -> Option<&mut Retired> {
        let limit = self.limit;
        self.map.get_mut(&fp).filter(|r| r.at > limit)
    }

    fn remove(&mut self, fp: u64) {
        self.map.remove(&fp);
    }

    fn len(&self) -> usize {
        self.map.len()
    }

    fn insert(&mut self, fp: u64, r: Retired) {
        self.oldest = Some(self.oldest.map_or(r.at, |o| o.min(r.at)));
        self.map.insert(fp, r);
        if self.map.len() > MAX_RETIRED {
            // The oldest go, an eighth at once.
            let mut ats: Vec<Timestamp> = self.map.values().map(|r| r.at).collect();
            let (_, cut, _) = ats.select_nth_unstable(MAX_RETIRED / 8);
            let cut = *cut;
            self.map.retain(|_, r| r.at > cut);
            self.oldest = self.map.values().map(|r| r.at).min();
        }
    }

    /// Briefs older than [`RETIRED_FOR`] at `now` are gone.
    fn expire(&mut self, now: Timestamp) {
        self.limit = self.limit.max(Timestamp(now.0.saturating_sub(RETIRED_FOR)));
        let limit = self.limit;
        if self.oldest.is_none_or(|o| o > limit) || now.0 < self.swept_at.0 + SWEEP_EVERY {
            return;
        }
        self.map.retain(|_, r| r.at > limit);
        self.oldest = self.map.values().map(|r| r.at).min();
        self.swept_at = now;
    }
}

/// The two endpoints, in either order, as one 64-bit number: what a
/// forgotten connection is found by (16 bytes kept instead of 64).
fn fingerprint(a: SocketAddr, b: SocketAddr) -> u64 {
    use std::hash::BuildHasher;
    foldhash::quality::FixedState::with_seed(0x5f4e_ac4b).hash_one((a.min(b), a.max(b)))
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

#[derive(Default)]
pub(super) struct Conns {
    machines: Map<ConnId, Machine>,
    /// (local, remote) → the connection and the role of `local` in it.
    tuples: SockMap<Ends, (ConnId, Role)>,
    /// Inferred TIME-WAIT ends, by time (without a kernel only).
    deadlines: BinaryHeap<Reverse<(Timestamp, ConnId)>>,
    /// Finished connections, by when they may be forgotten.
    retire_due: BinaryHeap<Reverse<(Timestamp, ConnId)>>,
    retired: Briefs,
    /// Connections forgotten since the caller last asked, as (id, (client, server)).
    retired_now: Vec<(ConnId, Tuple)>,
    /// Without a kernel nothing else holds the events: SYNs not answered
    /// yet, by time (stale entries are skipped), hold what came from their
    /// time on, so that what the answer shows the SYN caused is placed
    /// right after the SYN.
    syn_waits: BinaryHeap<Reverse<(Timestamp, ConnId)>>,
}

impl Conns {
    /// The connection and the role of `local` in it, for a socket whose
    /// packets were seen (its connection may have been forgotten since).
    pub fn conn_of(&self, local: SocketAddr, remote: SocketAddr) -> Option<(ConnId, Role)> {
        if let Some(found) = self.tuples.get(&(local, Some(remote))) {
            return Some(*found);
        }
        let r = self.retired.get(fingerprint(local, remote))?;
        let role = if (local < remote) == r.client_is_lo {
            Role::Client
        } else {
            Role::Server
        };
        Some((r.conn, role))
    }

    /// Whether this socket's packets were seen (its connection may be forgotten since).
    pub fn knows(&self, local: SocketAddr, remote: SocketAddr) -> bool {
        self.tuples.contains_key(&(local, Some(remote)))
            || self.retired.get(fingerprint(local, remote)).is_some()
    }

    /// Whether this connection still holds its 4-tuple (a newer one on the
    /// same addresses takes it over).
    pub fn owns(&self, conn: ConnId, tuple: Tuple) -> bool {
        self.tuples
            .get(&(tuple.0, Some(tuple.1)))
            .is_some_and(|(id, _)| *id == conn)
    }

    /// Whether the socket's connection is followed now (not forgotten).
    pub fn live(&self, t: &Tuple) -> bool {
        self.tuples.contains_key(&(t.0, Some(t.1)))
    }

    /// A forgotten connection with these endpoints: its id and its client.
    pub fn retired_conn(&self, a: SocketAddr, b: SocketAddr) -> Option<(ConnId, SocketAddr)> {
        let r = self.retired.get(fingerprint(a, b))?;
        let client = if r.client_is_lo { a.min(b) } else { a.max(b) };
        Some((r.conn, client))
    }

    /// The tuples of a packet's connection are (now) this connection's;
    /// false when they already were.
    pub fn learn(&mut self, src: SocketAddr, dst: SocketAddr, conn: ConnId, from: Role) -> bool {
        if self.tuples.get(&(src, Some(dst))) == Some(&(conn, from)) {
            return false;
        }
        self.tuples.insert((src, Some(dst)), (conn, from));
        self.tuples.insert((dst, Some(src)), (conn, from.peer()));
        true
    }

    /// The connection's machine, made if new (a forgotten connection whose
    /// packets come back is known again, as `revived`).
    pub fn machine(
        &mut self,
        conn: ConnId,
        client: SocketAddr,
        server: SocketAddr,
        ts: Timestamp,
    ) -> &mut Machine {
        self.machines.entry(conn).or_insert_with(|| {
            // Its own brief (a new connection on the same addresses leaves
            // the older one's: what was last shown of those sockets).
            let fp = fingerprint(client, server);
            let revived = self.retired.get(fp).is_some_and(|r| r.conn == conn);
            if revived {
                self.retired.remove(fp);
            }
            Machine {
                machine: ConnMachine::new(),
                ends: Pair::new(client, server),
                first: ts,
                last: ts,
                retiring: false,
                scheduled: None,
                revived,
            }
        })
    }

    pub fn get(&self, conn: ConnId) -> Option<&Machine> {
        self.machines.get(&conn)
    }

    /// After a packet moved the machine: queues what its state calls for
    /// (forgetting it once finished, its inferred TIME-WAIT end, the wait
    /// for the answer to a SYN).
    pub fn after_packet(&mut self, conn: ConnId, ts: Timestamp, kernel: bool) {
        let Some(m) = self.machines.get_mut(&conn) else {
            return;
        };
        m.last = ts;
        if !m.retiring && finished(&m.machine, kernel) {
            m.retiring = true;
            self.retire_due
                .push(Reverse((Timestamp(ts.0 + RETIRE_AFTER), conn)));
        }
        // With a kernel, the kernel reports TIME-WAIT's end (and a finished
        // connection is forgotten before it).
        if let Some(d) = m.machine.next_deadline().filter(|_| !kernel) {
            if m.scheduled != Some(d) {
                m.scheduled = Some(d);
                self.deadlines.push(Reverse((d, conn)));
            }
        }
        if let Some(at) = m.machine.unanswered_syn().filter(|_| !kernel) {
            if self
                .syn_waits
                .peek()
                .is_none_or(|Reverse(w)| *w != (at, conn))
            {
                self.syn_waits.push(Reverse((at, conn)));
            }
        }
    }

    /// Inferred timers due by `now`: the connections and their machines' transitions.
    pub fn timers(&mut self, now: Timestamp) -> Vec<(ConnId, crate::tcp::state::Transitions)> {
        let mut out = Vec::new();
        while let Some(Reverse((due, conn))) = self.deadlines.peek().copied() {
            if due > now {
                break;
            }
            self.deadlines.pop();
            if let Some(entry) = self.machines.get_mut(&conn) {
                entry.scheduled = None;
                out.push((conn, entry.machine.on_time(due)));
            }
        }
        out
    }

    /// The time of the oldest SYN still waiting for its answer (for at most
    /// `longest`), when nothing else holds the events.
    pub fn syn_barrier(&mut self, now: Timestamp, longest: u64) -> Option<Timestamp> {
        let oldest = Timestamp(now.0.saturating_sub(longest));
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

    /// A packet of `conn` at `ts`: it is not to be forgotten before it is seen.
    pub fn touch(&mut self, conn: ConnId, ts: Timestamp) {
        if let Some(m) = self.machines.get_mut(&conn) {
            m.last = m.last.max(ts);
        }
    }

    /// Finished connections whose time has come (to be forgotten by the
    /// caller, with [`Conns::forget`]); and forgets what was kept of those
    /// forgotten long ago.
    pub fn due(&mut self, now: Timestamp, kernel: bool) -> Vec<ConnId> {
        let mut due = Vec::new();
        while let Some(Reverse((at, conn))) = self.retire_due.peek().copied() {
            if at > now {
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
            if at > now {
                // Packets came since: later.
                self.retire_due.push(Reverse((at, conn)));
                continue;
            }
            due.push(conn);
        }
        self.retired.expire(now);
        due
    }

    /// Forgets a connection: its machine and its sockets' tuples. With
    /// `shown` (each socket's last state, client's first), a brief of it
    /// stays for later reports. Returns its (client, server).
    pub fn forget(
        &mut self,
        conn: ConnId,
        shown: Option<[Option<Brief>; 2]>,
        now: Timestamp,
    ) -> Option<Tuple> {
        let m = self.machines.remove(&conn)?;
        let (c, s) = m.ends();
        if self
            .tuples
            .get(&(c, Some(s)))
            .is_none_or(|(id, _)| *id != conn)
        {
            // The 4-tuple is a newer connection's now.
            return None;
        }
        self.tuples.remove(&(c, Some(s)));
        self.tuples.remove(&(s, Some(c)));
        let shown = shown?;
        let fp = fingerprint(c, s);
        // Stored by (lower, higher) endpoint.
        let shown = if c < s { shown } else { [shown[1], shown[0]] };
        self.retired.insert(
            fp,
            Retired {
                conn,
                client_is_lo: c < s,
                shown,
                at: now,
            },
        );
        self.retired_now.push((conn, (c, s)));
        Some((c, s))
    }

    /// The last state shown for a socket of a forgotten connection.
    pub fn retired_shown(&self, local: SocketAddr, remote: SocketAddr) -> Option<(ConnId, Brief)> {
        let r = self.retired.get(fingerprint(local, remote))?;
        Some((r.conn, r.shown[usize::from(local > remote)]?))
    }

    /// Records the last state shown for a socket of a forgotten
    /// connection; false when no brief of it is kept.
    pub fn set_retired_shown(&mut self, local: SocketAddr, remote: SocketAddr, v: Brief) -> bool {
        match self.retired.get_mut(fingerprint(local, remote)) {
            Some(r) => {
                r.shown[usize::from(local > remote)] = Some(v);
                true
            }
            None => false,
        }
    }

    /// Connections forgotten since the last call, as (id, (client, server)).
    pub fn take_retired(&mut self) -> std::vec::Drain<'_, (ConnId, Tuple)> {
        self.retired_now.drain(..)
    }

    /// Connections followed now, and forgotten ones kept in brief.
    pub fn remembered(&self) -> (usize, usize) {
        (self.machines.len(), self.retired.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const C: &str = "127.0.0.1:40000";
    const S: &str = "127.0.0.1:7000";
    const MS: u64 = 1_000_000;

    fn a(s: &str) -> SocketAddr {
        s.parse().expect("address")
    }

    fn t(ms: u64) -> Timestamp {
        Timestamp(1_700_000_000_000_000_000 + ms * MS)
    }

    fn brief(state: TcpState, at: u64) -> Option<Brief> {
        Some((state, StateSource::Kernel, true, t(at)))
    }

    /// A connection seen at `at` ms (a new machine: both ends CLOSED, so
    /// finished at once).
    fn seen(conns: &mut Conns, id: u32, at: u64) -> ConnId {
        let conn = ConnId(id);
        conns.learn(a(C), a(S), conn, Role::Client);
        conns.machine(conn, a(C), a(S), t(at));
        conns.after_packet(conn, t(at), true);
        conn
    }

    #[test]
    fn a_finished_connection_is_forgotten_after_its_last_packet_and_kept_in_brief() {
        let mut conns = Conns::default();
        let conn = seen(&mut conns, 1, 0);
        let retire = RETIRE_AFTER / MS;
        assert!(conns.due(t(retire - 1), true).is_empty());
        // A packet at 100 ms puts it off.
        conns.touch(conn, t(100));
        assert!(conns.due(t(retire), true).is_empty());
        assert_eq!(conns.due(t(100 + retire), true), [conn]);
        let shown = [brief(TcpState::TimeWait, 90), brief(TcpState::Closed, 95)];
        assert_eq!(
            conns.forget(conn, Some(shown), t(100 + retire)),
            Some((a(C), a(S)))
        );
        assert_eq!(conns.remembered(), (0, 1));
        assert!(!conns.live(&(a(C), a(S))));
        // The kernel's later reports still name it, and each end's role.
        assert_eq!(conns.conn_of(a(S), a(C)), Some((conn, Role::Server)));
        assert_eq!(conns.conn_of(a(C), a(S)), Some((conn, Role::Client)));
        assert_eq!(
            conns.retired_shown(a(C), a(S)),
            Some((conn, shown[0].unwrap()))
        );
        assert_eq!(
            conns.retired_shown(a(S), a(C)),
            Some((conn, shown[1].unwrap()))
        );
        assert_eq!(
            conns.take_retired().collect::<Vec<_>>(),
            [(conn, (a(C), a(S)))]
        );
        // Kept for TIME-WAIT's length and a little more, then gone.
        let kept = RETIRED_FOR / MS;
        assert!(conns.due(t(100 + retire + kept - 1), true).is_empty());
        assert_eq!(conns.remembered(), (0, 1));
        conns.due(t(100 + retire + kept), true);
        assert_eq!(conns.remembered(), (0, 0));
        assert_eq!(conns.conn_of(a(C), a(S)), None);
    }

    #[test]
    fn briefs_are_gone_on_time_swept_in_bulk_and_the_oldest_go_past_the_cap() {
        let brief = |at: u64| Retired {
            conn: ConnId(1),
            client_is_lo: true,
            shown: [None, None],
            at: t(at),
        };
        let kept = RETIRED_FOR / MS;
        let mut b = Briefs::default();
        b.insert(1, brief(0));
        b.insert(2, brief(500));
        b.expire(t(kept - 1));
        assert!(b.get(1).is_some() && b.get(2).is_some());
        // The first is gone at once; the sweep that follows takes it out.
        b.expire(t(kept));
        assert!(b.get(1).is_none() && b.get_mut(1).is_none());
        assert!(b.get(2).is_some());
        assert_eq!(b.len(), 1, "swept");
        // The second, gone within the second after that sweep: not found,
        // swept out at the next.
        b.expire(t(kept + 500));
        assert!(b.get(2).is_none());
        assert_eq!(b.len(), 1, "no sweep within the second");
        b.expire(t(kept + 1000));
        assert_eq!(b.len(), 0);
        b.insert(3, brief(kept + 1000));
        assert!(b.get(3).is_some());
        // Past the cap the oldest go, an eighth at once.
        let mut b = Briefs::default();
        for i in 0..=MAX_RETIRED as u64 {
            b.insert(i, brief(i / 16));
        }
        assert!(b.len() <= MAX_RETIRED * 7 / 8 + 16, "{}", b.len());
        assert!(b.get(0).is_none() && b.get(MAX_RETIRED as u64).is_some());
    }

    #[test]
    fn a_newer_connection_on_the_same_addresses_keeps_them() {
        let mut conns = Conns::default();
        let old = seen(&mut conns, 1, 0);
        // A new SYN on the same 4-tuple before the old one is forgotten.
        let new = seen(&mut conns, 2, 10);
        assert!(conns.owns(new, (a(C), a(S))));
        assert!(!conns.owns(old, (a(C), a(S))));
        // Forgetting the old one leaves the new one's tuples, and no brief.
        let shown = [brief(TcpState::Closed, 5), brief(TcpState::Closed, 5)];
        assert_eq!(conns.forget(old, Some(shown), t(600)), None);
        assert_eq!(conns.take_retired().count(), 0);
        assert_eq!(conns.conn_of(a(S), a(C)), Some((new, Role::Server)));
        assert_eq!(conns.remembered(), (1, 0));
    }

    #[test]
    fn a_brief_is_its_own_connections_to_revive() {
        let mut conns = Conns::default();
        let old = seen(&mut conns, 1, 0);
        let shown = [
            brief(TcpState::FinWait2, 5),
            brief(TcpState::SynReceived, 5),
        ];
        conns.forget(old, Some(shown), t(600));
        // A new connection on the addresses: the old one's brief stays
        // (what was last shown of the old sockets), and it is not revived.
        let new = seen(&mut conns, 2, 700);
        assert!(!conns.get(new).is_some_and(|m| m.revived));
        assert_eq!(
            conns.retired_shown(a(S), a(C)),
            Some((old, shown[1].unwrap()))
        );
        // Late packets of a forgotten connection bring it back, revived.
        let mut conns = Conns::default();
        let old = seen(&mut conns, 1, 0);
        conns.forget(old, Some(shown), t(600));
        conns.learn(a(C), a(S), old, Role::Client);
        assert!(conns.machine(old, a(C), a(S), t(700)).revived);
        assert_eq!(conns.retired_shown(a(S), a(C)), None);
    }
}
