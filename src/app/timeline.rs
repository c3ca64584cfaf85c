//! What the ladder shows and what time travel needs: the rows (bounded), the
//! lanes and which socket belongs to which, and each socket's states with the
//! row at which each began.

use std::borrow::Cow;
use std::net::SocketAddr;

use super::packed::Rows;
use crate::event::{Event, LabAction, StateSource};
use crate::hash::Map;
use crate::tcp::TcpState;
use crate::tcp::track::{ConnId, Role};
use crate::time::Timestamp;

/// A row's position in the whole run (rows dropped at the front keep theirs).
pub type RowId = u64;

/// The ladder's rows: the newest `max` events that are shown as rows,
/// packets and state changes packed (see `packed`).
#[derive(Debug)]
pub struct Timeline {
    rows: Rows,
    /// The id of `rows[0]`.
    first: RowId,
    max: usize,
}

impl Timeline {
    #[must_use]
    pub fn new(max: usize) -> Self {
        Self {
            rows: Rows::with_max(max.max(1)),
            first: 0,
            max: max.max(1),
        }
    }

    /// Whether an event gets a row of its own. Steps do (a thin separator,
    /// and the narration banner follows them); the lab's teardown does not,
    /// nor do a socket's queue sizes (its card shows them).
    #[must_use]
    pub fn is_row(ev: &Event) -> bool {
        match ev {
            Event::Lab(l) => !matches!(l.action, LabAction::Closing),
            Event::SocketQueues(_) => false,
            Event::Congestion(c) => c.is_change(),
            _ => true,
        }
    }

    /// Appends a row; the oldest goes when there are `max`.
    pub fn push(&mut self, ev: Event) -> RowId {
        if self.rows.len() == self.max {
            self.rows.pop_front();
            self.first += 1;
        }
        self.rows.push_back(ev);
        self.end() - 1
    }

    /// A row's event: borrowed when kept as one, unpacked when packed.
    #[must_use]
    pub fn get(&self, id: RowId) -> Option<Cow<'_, Event>> {
        self.rows.get(self.index(id)?)
    }

    fn index(&self, id: RowId) -> Option<usize> {
        usize::try_from(id.checked_sub(self.first)?).ok()
    }

    /// The time of a row, without unpacking it.
    #[must_use]
    pub fn ts(&self, id: RowId) -> Option<Timestamp> {
        self.rows.ts(self.index(id)?)
    }

    /// The connection of a packet or state row, without unpacking it.
    #[must_use]
    pub fn conn(&self, id: RowId) -> Option<ConnId> {
        self.rows.conn(self.index(id)?)
    }

    /// Whether a row is a packet, without unpacking it.
    #[must_use]
    pub fn is_packet(&self, id: RowId) -> bool {
        self.index(id).is_some_and(|i| self.rows.is_packet(i))
    }

    /// The oldest row still kept.
    #[must_use]
    pub fn first(&self) -> RowId {
        self.first
    }

    /// One past the newest row.
    #[must_use]
    pub fn end(&self) -> RowId {
        self.first + self.rows.len() as u64
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Rows dropped at the front to stay within `max`.
    #[must_use]
    pub fn dropped(&self) -> u64 {
        self.first
    }

    /// The first row at or after `ts` (rows are in time order).
    #[must_use]
    pub fn at_time(&self, ts: Timestamp) -> RowId {
        self.first + self.rows.at_time(ts) as u64
    }
}

/// Which side of the lab a lane is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Side {
    Client,
    Server,
}

/// One vertical line of the ladder: a lab peer (or, for a watched
/// connection, one of its ends).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lane {
    pub name: String,
    pub side: Side,
}

/// How sure a socket → lane mapping is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Certainty {
    /// A state event named it by role (`client` for any client).
    Role,
    /// The peer itself reported the socket's address (a call's `local`).
    Peer,
}

/// The ladder's lanes and which addresses belong to each, and since when:
/// a port can change hands (a killed server's successor binds it with
/// SO_REUSEADDR while the old connection sits in TIME-WAIT), so an address's
/// owner is looked up at a row.
#[derive(Debug, Default)]
pub struct Lanes {
    lanes: Vec<Lane>,
    /// Per address: (from this row on, lane, how sure), in row order.
    owners: Map<SocketAddr, Vec<(RowId, usize, Certainty)>>,
}

/// `client3` → (client side, 3); `server-child` → (server side, 1): the
/// lab's own reading of peer names.
fn peer_order(name: &str) -> Option<(Side, u16)> {
    let e = crate::lab::script::Endpoint::from_name(name)?;
    let side = match e.side {
        crate::lab::script::Side::Client => Side::Client,
        crate::lab::script::Side::Server => Side::Server,
    };
    Some((side, e.index))
}

impl Lanes {
    /// Lanes for lab peers, clients first (`client`, `client2` …), then servers.
    #[must_use]
    pub fn for_peers<'a>(names: impl IntoIterator<Item = &'a str>) -> Self {
        let mut lanes = Self::default();
        for n in names {
            lanes.add_peer(n);
        }
        lanes
    }

    /// Two lanes for one watched connection: its client end and its server end.
    #[must_use]
    pub fn for_connection(client: SocketAddr, server: SocketAddr) -> Self {
        let mut lanes = Self {
            lanes: vec![
                Lane {
                    name: client.to_string(),
                    side: Side::Client,
                },
                Lane {
                    name: server.to_string(),
                    side: Side::Server,
                },
            ],
            owners: Map::default(),
        };
        lanes.owners.insert(client, vec![(0, 0, Certainty::Peer)]);
        lanes.owners.insert(server, vec![(0, 1, Certainty::Peer)]);
        lanes
    }

    #[must_use]
    pub fn lanes(&self) -> &[Lane] {
        &self.lanes
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.lanes.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.lanes.is_empty()
    }

    /// The lane of a peer, added (in order) when new. `None` for names that
    /// are not peers (`lab`, `listener`).
    pub fn add_peer(&mut self, name: &str) -> Option<usize> {
        let base = name.strip_suffix("-child").unwrap_or(name);
        if let Some(i) = self.lanes.iter().position(|l| l.name == base) {
            return Some(i);
        }
        let (side, n) = peer_order(base)?;
        let at = self
            .lanes
            .iter()
            .position(|l| peer_order(&l.name).is_some_and(|o| o > (side, n)))
            .unwrap_or(self.lanes.len());
        self.insert(
            at,
            Lane {
                name: base.to_owned(),
                side,
            },
        );
        Some(at)
    }

    fn insert(&mut self, at: usize, lane: Lane) {
        // Addresses point at lanes by index: shift those after the new one.
        for (_, l, _) in self.owners.values_mut().flatten() {
            if *l >= at {
                *l += 1;
            }
        }
        self.lanes.insert(at, lane);
    }

    /// A packet's end that no peer owns, on a side without any lane (the
    /// closed port of `refused`: nobody there, but the RST comes from it):
    /// a lane named by its address, clients' first, servers' last.
    pub fn ensure_end(&mut self, addr: SocketAddr, side: Side, row: RowId) {
        if self.owner(addr, row).is_some() || self.first_of(side).is_some() {
            return;
        }
        let at = match side {
            Side::Client => 0,
            Side::Server => self.lanes.len(),
        };
        self.insert(
            at,
            Lane {
                name: addr.to_string(),
                side,
            },
        );
        self.owners.insert(addr, vec![(row, at, Certainty::Peer)]);
    }

    /// The lane of an existing peer (no new lane).
    #[must_use]
    pub fn peer(&self, name: &str) -> Option<usize> {
        let base = name.strip_suffix("-child").unwrap_or(name);
        self.lanes.iter().position(|l| l.name == base)
    }

    /// A peer reported at row `row` that this address is one of its sockets.
    pub fn learn_peer_socket(&mut self, addr: SocketAddr, peer: &str, row: RowId) {
        let Some(lane) = self.add_peer(peer) else {
            return;
        };
        let held = self.owners.entry(addr).or_default();
        // Guesses by role were only guesses: the peer's word replaces them.
        held.retain(|(_, _, c)| *c == Certainty::Peer);
        if held.last().is_none_or(|(_, l, _)| *l != lane) {
            held.push((row, lane, Certainty::Peer));
        }
    }

    /// A state event named the socket's owner by role only; kept until a
    /// peer says better.
    fn learn_by_role(&mut self, addr: SocketAddr, lane: usize, row: RowId) {
        self.owners
            .entry(addr)
            .or_insert_with(|| vec![(row, lane, Certainty::Role)]);
    }

    /// The lane that owned an address at `row` (rows before its first owner
    /// was known belong to that first owner).
    #[must_use]
    pub fn owner(&self, addr: SocketAddr, row: RowId) -> Option<usize> {
        let held = self.owners.get(&addr)?;
        let n = held.partition_point(|(r, _, _)| *r <= row);
        held.get(n.saturating_sub(1)).map(|(_, l, _)| *l)
    }

    /// The first lane of a side (where unknown sockets of that role go).
    #[must_use]
    pub fn first_of(&self, side: Side) -> Option<usize> {
        self.lanes.iter().position(|l| l.side == side)
    }

    /// A packet's lanes: (from, to).
    #[must_use]
    pub fn of_packet(
        &self,
        src: SocketAddr,
        dst: SocketAddr,
        from: Role,
        row: RowId,
    ) -> Option<(usize, usize)> {
        let (from_side, to_side) = match from {
            Role::Client => (Side::Client, Side::Server),
            Role::Server => (Side::Server, Side::Client),
        };
        let a = self.owner(src, row).or_else(|| self.first_of(from_side))?;
        let b = self.owner(dst, row).or_else(|| self.first_of(to_side))?;
        Some((a, b))
    }

    /// Forgets the guesses by role made before row `first` (rows no longer
    /// kept): a long watch would otherwise keep one for every address it
    /// ever saw. An address guessed again later gets the same lane (the
    /// guess is by its role); a peer's word is kept.
    pub fn forget_before(&mut self, first: RowId) {
        self.owners.retain(|_, held| {
            !held
                .iter()
                .all(|(r, _, c)| *c == Certainty::Role && *r < first)
        });
    }

    /// A state or queue event's lane (at its row): by its socket's owner,
    /// else by the endpoint name it carries.
    pub fn of_socket(&mut self, local: SocketAddr, endpoint: &str, row: RowId) -> Option<usize> {
        if let Some(l) = self.owner(local, row) {
            return Some(l);
        }
        let lane = match endpoint {
            "listener" => self.first_of(Side::Server),
            name => self
                .peer(name)
                .or_else(|| peer_order(name).and_then(|(side, _)| self.first_of(side))),
        }?;
        self.learn_by_role(local, lane, row);
        Some(lane)
    }
}

/// One socket's state at some moment.
#[derive(Clone, Debug, PartialEq)]
pub struct Snap {
    pub state: TcpState,
    pub source: StateSource,
    /// When it was entered.
    pub since: Timestamp,
    /// The kernel's timer at `since` (TIME-WAIT's expiry …), in seconds.
    pub timer: Option<f64>,
    pub from: Option<TcpState>,
    /// An orphaned FIN-WAIT-2: `timer` is `tcp_fin_timeout`'s.
    pub fin_timeout: bool,
}

impl Snap {
    /// Seconds left on the timer at `at`, when there is one.
    #[must_use]
    pub fn timer_left(&self, at: Timestamp) -> Option<f64> {
        self.timer
            .map(|t| (t - at.seconds_since(self.since)).max(0.0))
    }
}

/// A listener's accept queue at some moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueSnap {
    pub accept_queue: u32,
    pub backlog: u32,
    pub overflows: u64,
}

/// A socket's congestion window and state at some moment (its card).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CongSnap {
    pub state: crate::event::CaState,
    pub cwnd: Option<u32>,
    pub ssthresh: Option<u32>,
    pub source: crate::event::CongSource,
}

/// A socket and its history, for the endpoint cards.
#[derive(Clone, Debug)]
pub struct Socket {
    pub local: SocketAddr,
    pub remote: Option<SocketAddr>,
    pub conn: Option<ConnId>,
    /// The row at which it first appeared.
    pub born: RowId,
    /// States with the row each was shown at, in row order.
    pub states: Vec<(RowId, Snap)>,
    /// A listener's queue, with the row of each change.
    pub queue: Vec<(RowId, QueueSnap)>,
    /// A connected socket's (Recv-Q, Send-Q), with the row each was current at.
    pub bytes: Vec<(RowId, (u32, u32))>,
    /// Its congestion window and state, with the row each was current at.
    pub cong: Vec<(RowId, CongSnap)>,
}

impl Socket {
    /// Its last state shown is CLOSED.
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.states
            .last()
            .is_some_and(|(_, st)| st.state == TcpState::Closed)
    }

    /// The state at row `at` (the last one shown at or before it).
    #[must_use]
    pub fn state_at(&self, at: RowId) -> Option<&Snap> {
        let n = self.states.partition_point(|(r, _)| *r <= at);
        n.checked_sub(1).map(|i| &self.states[i].1)
    }

    /// A connected socket's (Recv-Q, Send-Q) at row `at`.
    #[must_use]
    pub fn bytes_at(&self, at: RowId) -> Option<(u32, u32)> {
        let n = self.bytes.partition_point(|(r, _)| *r <= at);
        n.checked_sub(1).map(|i| self.bytes[i].1)
    }

    /// Its congestion window and state at row `at`.
    #[must_use]
    pub fn cong_at(&self, at: RowId) -> Option<&CongSnap> {
        let n = self.cong.partition_point(|(r, _)| *r <= at);
        n.checked_sub(1).map(|i| &self.cong[i].1)
    }

    #[must_use]
    pub fn queue_at(&self, at: RowId) -> Option<&QueueSnap> {
        let n = self.queue.partition_point(|(r, _)| *r <= at);
        n.checked_sub(1).map(|i| &self.queue[i].1)
    }

    #[must_use]
    pub fn is_listener(&self) -> bool {
        self.remote.is_none()
    }

    /// The lane of the peer that held the socket's address when it appeared.
    #[must_use]
    pub fn lane(&self, lanes: &Lanes) -> Option<usize> {
        let first_state = self.states.first().map(|(r, _)| *r);
        let first_queue = self.queue.first().map(|(r, _)| *r);
        let born = first_state
            .into_iter()
            .chain(first_queue)
            .min()
            .unwrap_or(0);
        lanes.owner(self.local, born)
    }
}

/// Every socket seen, in order of appearance; at most `MAX_SOCKETS`
/// (the oldest closed ones go first).
#[derive(Debug, Default)]
pub struct Sockets {
    list: Vec<Socket>,
    index: Map<Ends, usize>,
}

/// A socket's addresses as the index's key, hashed a word an address
/// (`crate::hash::addr`): each state event looks one up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Ends(SocketAddr, Option<SocketAddr>);

impl std::hash::Hash for Ends {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        crate::hash::addr(&self.0, h);
        match &self.1 {
            Some(a) => crate::hash::addr(a, h),
            None => h.write_u8(0),
        }
    }
}

/// Sockets kept for the cards; a demo has a handful.
pub const MAX_SOCKETS: usize = 512;

/// Sockets forgotten together once `MAX_SOCKETS` is reached.
const EVICT_BATCH: usize = MAX_SOCKETS / 8;

impl Sockets {
    pub fn get_or_add(
        &mut self,
        local: SocketAddr,
        remote: Option<SocketAddr>,
        conn: Option<ConnId>,
        row: RowId,
    ) -> &mut Socket {
        let key = Ends(local, remote);
        let i = if let Some(&i) = self.index.get(&key) {
            i
        } else {
            if self.list.len() >= MAX_SOCKETS {
                self.evict();
            }
            self.index.insert(key, self.list.len());
            self.list.push(Socket {
                local,
                remote,
                conn,
                born: row,
                states: Vec::new(),
                queue: Vec::new(),
                bytes: Vec::new(),
                cong: Vec::new(),
            });
            self.list.len() - 1
        };
        let s = &mut self.list[i];
        if s.conn.is_none() {
            s.conn = conn;
        }
        s
    }

    /// Forgets `EVICT_BATCH` sockets: the oldest closed ones, then (when
    /// fewer are closed) the oldest of the rest. In batches, so a flood of
    /// new sockets rebuilds the index once per batch, not once per socket.
    fn evict(&mut self) {
        let mut closed_left = EVICT_BATCH.min(self.list.iter().filter(|s| s.is_closed()).count());
        let mut others_left = EVICT_BATCH - closed_left;
        self.list.retain(|s| {
            let left = if s.is_closed() {
                &mut closed_left
            } else {
                &mut others_left
            };
            let keep = *left == 0;
            *left = left.saturating_sub(1);
            keep
        });
        self.index = self
            .list
            .iter()
            .enumerate()
            .map(|(i, s)| (Ends(s.local, s.remote), i))
            .collect();
    }

    /// The socket a state event is about: a new one when the last socket
    /// with these addresses had closed and this one is not closed (a new
    /// listener on a port a killed server held, a reused 4-tuple).
    pub fn for_state(
        &mut self,
        local: SocketAddr,
        remote: Option<SocketAddr>,
        conn: Option<ConnId>,
        to: TcpState,
        row: RowId,
    ) -> &mut Socket {
        let reborn = self
            .index
            .get(&Ends(local, remote))
            .is_some_and(|&i| to != TcpState::Closed && self.list[i].is_closed());
        if reborn {
            self.index.remove(&Ends(local, remote));
        }
        self.get_or_add(local, remote, conn, row)
    }

    #[must_use]
    pub fn all(&self) -> &[Socket] {
        &self.list
    }

    /// Drops history from before row `first` (rows no longer kept), keeping
    /// the last entry before it: the state in effect at `first`.
    pub fn forget_before(&mut self, first: RowId) {
        fn trim<T>(v: &mut Vec<(RowId, T)>, first: RowId) {
            let n = v.partition_point(|(r, _)| *r < first);
            if n > 1 {
                v.drain(..n - 1);
            }
        }
        for s in &mut self.list {
            trim(&mut s.states, first);
            trim(&mut s.queue, first);
            trim(&mut s.bytes, first);
            trim(&mut s.cong, first);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    fn close(s: &mut Socket, row: RowId) {
        s.states.push((
            row,
            Snap {
                state: TcpState::Closed,
                source: StateSource::Kernel,
                since: Timestamp(row),
                timer: None,
                from: None,
                fin_timeout: false,
            },
        ));
    }

    #[test]
    fn a_full_list_forgets_the_oldest_closed_sockets_first() {
        let mut socks = Sockets::default();
        let server = Some(addr(80));
        for port in 0..MAX_SOCKETS as u16 {
            let s = socks.get_or_add(addr(1000 + port), server, None, u64::from(port));
            // Every third socket closed.
            if port % 3 == 1 {
                close(s, u64::from(port));
            }
        }
        assert_eq!(socks.all().len(), MAX_SOCKETS);
        socks.get_or_add(addr(9999), server, None, 10_000);
        let kept: Vec<u16> = socks.all().iter().map(|s| s.local.port()).collect();
        assert_eq!(kept.len(), MAX_SOCKETS - EVICT_BATCH + 1);
        // The first EVICT_BATCH closed ones (ports 1001, 1004 …) are gone; all
        // open ones stay; the newest is there, last.
        let gone: Vec<u16> = (0..MAX_SOCKETS as u16)
            .map(|p| 1000 + p)
            .filter(|p| !kept.contains(p))
            .collect();
        let want: Vec<u16> = (0..EVICT_BATCH as u16).map(|i| 1001 + 3 * i).collect();
        assert_eq!(gone, want);
        assert_eq!(kept.last(), Some(&9999));
        // The index still finds each kept socket at its place.
        for (i, s) in socks.all().iter().enumerate() {
            assert_eq!(socks.index[&Ends(s.local, s.remote)], i);
        }
    }

    #[test]
    fn with_too_few_closed_the_oldest_open_ones_go_too() {
        let mut socks = Sockets::default();
        for port in 0..MAX_SOCKETS as u16 {
            let s = socks.get_or_add(addr(1000 + port), None, None, u64::from(port));
            if port == 500 {
                close(s, 500);
            }
        }
        socks.get_or_add(addr(9999), None, None, 10_000);
        let kept: Vec<u16> = socks.all().iter().map(|s| s.local.port()).collect();
        assert!(!kept.contains(&1500), "the closed one goes");
        let first_kept = 1000 + EVICT_BATCH as u16 - 1;
        assert_eq!(kept[0], first_kept, "then the oldest open ones: {kept:?}");
        assert_eq!(kept.len(), MAX_SOCKETS - EVICT_BATCH + 1);
    }

    #[test]
    fn guesses_by_role_before_the_kept_rows_are_forgotten() {
        let mut lanes = Lanes::for_peers(["client", "server"]);
        let old = addr(40000);
        let peer = addr(40001);
        assert_eq!(lanes.of_socket(old, "client", 10), Some(0));
        lanes.learn_peer_socket(peer, "client", 10);
        assert_eq!(lanes.of_socket(addr(80), "server", 2_000), Some(1));
        lanes.forget_before(1_000);
        assert!(!lanes.owners.contains_key(&old), "the old guess goes");
        assert!(lanes.owners.contains_key(&peer), "a peer's word stays");
        assert!(lanes.owners.contains_key(&addr(80)), "a newer guess stays");
        // Seen again, it gets the same lane by its role.
        assert_eq!(lanes.of_socket(old, "client", 3_000), Some(0));
    }
}
