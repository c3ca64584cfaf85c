//! Connection tracking: 4-tuple → connection with a stable id and roles,
//! relative sequence numbers as Wireshark computes them, window scaling and
//! the per-segment analysis notes (Wireshark's TCP analysis definitions).

use crate::hash::{Ends, SockMap};
use std::fmt;
use std::net::SocketAddr;

use super::{Proto, Segment, SeqNum, TcpHeader};
use crate::time::Timestamp;

/// A connection's stable id, counting from 1 in order of first sight.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct ConnId(pub u32);

impl fmt::Display for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Which side of a connection sent a segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Role {
    Client,
    Server,
}

impl Role {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Client => "client",
            Role::Server => "server",
        }
    }
    #[must_use]
    pub fn peer(self) -> Role {
        match self {
            Role::Client => Role::Server,
            Role::Server => Role::Client,
        }
    }
}

/// Analysis notes on one segment, as bits (no allocation per packet).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct Notes(pub u32);

impl Notes {
    pub const RETRANSMISSION: Notes = Notes(1 << 0);
    pub const SPURIOUS_RETRANSMISSION: Notes = Notes(1 << 1);
    pub const OUT_OF_ORDER: Notes = Notes(1 << 2);
    pub const DUP_ACK: Notes = Notes(1 << 3);
    pub const ZERO_WINDOW: Notes = Notes(1 << 4);
    pub const ZERO_WINDOW_PROBE: Notes = Notes(1 << 5);
    pub const WINDOW_UPDATE: Notes = Notes(1 << 6);
    pub const KEEPALIVE: Notes = Notes(1 << 7);
    pub const KEEPALIVE_ACK: Notes = Notes(1 << 8);
    pub const PORT_REUSED: Notes = Notes(1 << 9);
    pub const MALFORMED: Notes = Notes(1 << 10);
    /// Captured while the lab's link was cut: dropped after the capture point.
    pub const LOST: Notes = Notes(1 << 11);
    /// A retransmission sent right after the peer's duplicate ACKs asked for it.
    pub const FAST_RETRANSMISSION: Notes = Notes(1 << 12);
    /// It starts beyond the data seen so far: the capture missed a segment.
    pub const PREVIOUS_SEGMENT_NOT_CAPTURED: Notes = Notes(1 << 13);
    /// It acknowledges data the capture never saw.
    pub const ACKED_UNSEEN_SEGMENT: Notes = Notes(1 << 14);
    /// It fills the peer's advertised window to the last byte.
    pub const WINDOW_FULL: Notes = Notes(1 << 15);
    /// The answer to a zero-window probe: the window is still closed.
    pub const ZERO_WINDOW_PROBE_ACK: Notes = Notes(1 << 16);

    /// Contract names, in the order they are printed.
    pub const NAMES: [(Notes, &'static str); 17] = [
        (Notes::RETRANSMISSION, "retransmission"),
        (Notes::FAST_RETRANSMISSION, "fast_retransmission"),
        (Notes::SPURIOUS_RETRANSMISSION, "spurious_retransmission"),
        (Notes::OUT_OF_ORDER, "out_of_order"),
        (
            Notes::PREVIOUS_SEGMENT_NOT_CAPTURED,
            "previous_segment_not_captured",
        ),
        (Notes::ACKED_UNSEEN_SEGMENT, "acked_unseen_segment"),
        (Notes::DUP_ACK, "dup_ack"),
        (Notes::ZERO_WINDOW, "zero_window"),
        (Notes::ZERO_WINDOW_PROBE, "zero_window_probe"),
        (Notes::ZERO_WINDOW_PROBE_ACK, "zero_window_probe_ack"),
        (Notes::WINDOW_FULL, "window_full"),
        (Notes::WINDOW_UPDATE, "window_update"),
        (Notes::KEEPALIVE, "keepalive"),
        (Notes::KEEPALIVE_ACK, "keepalive_ack"),
        (Notes::PORT_REUSED, "port_reused"),
        (Notes::MALFORMED, "malformed"),
        (Notes::LOST, "lost"),
    ];

    #[must_use]
    pub fn contains(self, other: Notes) -> bool {
        self.0 & other.0 == other.0
    }
    pub fn insert(&mut self, other: Notes) {
        self.0 |= other.0;
    }
    #[must_use]
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        Notes::NAMES
            .into_iter()
            .filter(move |(n, _)| self.contains(*n))
            .map(|(_, s)| s)
    }
}

/// Connections kept before the oldest are forgotten.
pub const DEFAULT_MAX_CONNECTIONS: usize = 100_000;
/// Out-of-order threshold when no handshake RTT is known (Wireshark's 3 ms).
const DEFAULT_OOO_THRESHOLD_NS: u64 = 3_000_000;
/// A fast retransmission comes within this long of the peer's last ACK (Wireshark's 20 ms).
const FAST_RETRANSMISSION_NS: u64 = 20_000_000;
/// RFC 7323 §2.3: a shift above 14 is treated as 14.
const MAX_WSCALE: u8 = 14;

/// What the tracker made of one segment. A packet event carries it whole
/// (`event::PacketEvent`), its fields written among the packet's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Analysis {
    pub conn: ConnId,
    pub from: Role,
    /// Relative sequence number (the sender's SYN is 0).
    pub seq: u32,
    /// Relative acknowledgment number; 0 when the ACK flag is not set.
    pub ack: u32,
    /// The window, scaled by the sender's shift once both SYNs carried one.
    pub win: u32,
    pub notes: Notes,
    /// Set on a `dup_ack`: which duplicate it is and of which packet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dup_ack: Option<DupAck>,
}

/// Which duplicate ACK a packet is (Wireshark's "Dup ACK 48#2").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct DupAck {
    /// 1 for the first duplicate of an ACK number, 2 for the second …
    pub num: u32,
    /// The packet it duplicates: the sender's last ACK that was not a
    /// duplicate, by its number in this run (1 for the first packet the
    /// tracker saw; in `read`, the file's frame number when every frame is
    /// a TCP or UDP packet).
    pub of: u64,
}

/// Direction-independent connection key: the lower endpoint first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Key {
    proto: Proto,
    lo: SocketAddr,
    hi: SocketAddr,
}

impl Key {
    /// Where the connection is kept in its protocol's table.
    fn ends(&self) -> Ends {
        (self.lo, Some(self.hi))
    }

    /// The role of the sender `src` in a connection of this key.
    fn role_of(&self, src: SocketAddr, client_is_lo: bool) -> Role {
        if (src == self.lo) == client_is_lo {
            Role::Client
        } else {
            Role::Server
        }
    }

    fn of(seg: &Segment) -> Key {
        let (lo, hi) = if lower_first(&seg.src, &seg.dst) {
            (seg.src, seg.dst)
        } else {
            (seg.dst, seg.src)
        };
        Key {
            proto: seg.proto,
            lo,
            hi,
        }
    }
}

/// `a <= b` as `SocketAddr` orders them (address, then port), with two
/// IPv4 ends compared as one word each: the derived comparison was 3% of a
/// flood's time, and every packet makes a key.
fn lower_first(a: &SocketAddr, b: &SocketAddr) -> bool {
    match (a, b) {
        (SocketAddr::V4(a), SocketAddr::V4(b)) => {
            crate::hash::v4_word(a) <= crate::hash::v4_word(b)
        }
        _ => a <= b,
    }
}

/// What one side has sent so far (Wireshark's per-flow analysis state).
#[derive(Clone, Copy, Debug, Default)]
struct Flow {
    /// The number that is relative 0: the ISN, or one before the first
    /// sequence (or acknowledgment) number seen mid-stream.
    base: Option<SeqNum>,
    /// Sequence number of this side's SYN, when seen.
    isn: Option<SeqNum>,
    /// Window-scale option of this side's SYN (`Some(None)`: SYN without it).
    syn_wscale: Option<Option<u8>>,
    /// The highest sequence number sent plus its length: the next expected.
    next_seq: Option<SeqNum>,
    next_seq_ts: Timestamp,
    /// The last acknowledgment number this side sent, and when.
    last_ack: Option<SeqNum>,
    last_ack_ts: Timestamp,
    /// Duplicates of `last_ack` sent since it changed.
    dup_acks: u32,
    /// The packet number of this side's last ACK that was not a duplicate.
    last_nondup_ack: u64,
    /// The end of the data seen in one piece from the start: an ACK beyond
    /// it acknowledges something the capture did not see.
    max_seq_to_be_acked: Option<SeqNum>,
    /// The last window this side advertised (scaled).
    window: Option<u32>,
    /// Notes of this side's last segment (a keepalive ack answers a keepalive).
    last_notes: Notes,
    /// This side's last segment was a RST: its window (0 by convention)
    /// closes nothing.
    last_rst: bool,
    fin: bool,
}

#[derive(Clone, Copy, Debug)]
struct Conn {
    id: ConnId,
    /// The key's lower endpoint is the client (the addresses are the key's).
    client_is_lo: bool,
    /// Indexed by [`Role`]: 0 client, 1 server.
    flows: [Flow; 2],
    rst: bool,
    syn_ts: Option<Timestamp>,
    /// Handshake round trip (SYN → the ACK of the SYN-ACK), Wireshark's iRTT.
    irtt_ns: Option<u64>,
    /// Packet counter value when last seen (for eviction).
    last_active: u64,
}

impl Conn {
    fn new(id: ConnId, client_is_lo: bool, now: u64) -> Self {
        Conn {
            id,
            client_is_lo,
            flows: [Flow::default(); 2],
            rst: false,
            syn_ts: None,
            irtt_ns: None,
            last_active: now,
        }
    }

    fn closed(&self) -> bool {
        self.rst || (self.flows[0].fin && self.flows[1].fin)
    }

    /// The sender's window shift: known only when both SYNs carried the option.
    fn shift(&self, from: Role) -> u8 {
        match (self.flows[0].syn_wscale, self.flows[1].syn_wscale) {
            (Some(Some(c)), Some(Some(s))) => match from {
                Role::Client => c,
                Role::Server => s,
            }
            .min(MAX_WSCALE),
            _ => 0,
        }
    }
}

/// The table of a protocol's connections in [`Tracker::conns`].
fn table(proto: Proto) -> usize {
    match proto {
        Proto::Tcp => 0,
        Proto::Udp => 1,
    }
}

fn idx(role: Role) -> usize {
    match role {
        Role::Client => 0,
        Role::Server => 1,
    }
}

/// Turns segments into connections, relative numbers and analysis notes.
///
/// Pure: time comes from the segments' timestamps. Tracking a segment of a
/// known connection does not allocate.
#[derive(Debug)]
pub struct Tracker {
    /// TCP's connections, then UDP's (see [`table`]).
    conns: [SockMap<Ends, Conn>; 2],
    next_id: u32,
    packets: u64,
    max_conns: usize,
    /// Ports seen serving (source of a SYN-ACK, destination of a SYN): one bit each.
    server_ports: Box<[u64; 1024]>,
    /// Connections forgotten to make room, not yet reported.
    evicted: Vec<ConnId>,
}

impl Default for Tracker {
    fn default() -> Self {
        Self::new()
    }
}

impl Tracker {
    #[must_use]
    pub fn new() -> Self {
        Self::with_max_connections(DEFAULT_MAX_CONNECTIONS)
    }

    /// A tracker that remembers at most `max` connections (at least 1).
    /// When full, closed connections are forgotten first (least recently
    /// active first), then the least recently active ones.
    #[must_use]
    pub fn with_max_connections(max: usize) -> Self {
        Tracker {
            conns: Default::default(),
            next_id: 1,
            packets: 0,
            max_conns: max.max(1),
            server_ports: Box::new([0; 1024]),
            evicted: Vec::new(),
        }
    }

    /// Connections currently remembered.
    #[must_use]
    pub fn len(&self) -> usize {
        self.conns.iter().map(SockMap::len).sum()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.conns.iter().all(SockMap::is_empty)
    }

    /// `(client, server)` of a remembered connection.
    #[must_use]
    pub fn endpoints(&self, id: ConnId) -> Option<(SocketAddr, SocketAddr)> {
        self.conns
            .iter()
            .flat_map(SockMap::iter)
            .find(|(_, c)| c.id == id)
            .and_then(|((lo, hi), c)| {
                let hi = hi?;
                Some(if c.client_is_lo { (lo, hi) } else { (hi, lo) })
            })
    }

    fn mark_server_port(&mut self, port: u16) {
        self.server_ports[usize::from(port >> 6)] |= 1 << (port & 63);
    }

    fn is_server_port(&self, port: u16) -> bool {
        self.server_ports[usize::from(port >> 6)] & (1 << (port & 63)) != 0
    }

    /// The most connections remembered at once.
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.max_conns
    }

    /// Connections forgotten to make room since the last call.
    pub fn take_evicted(&mut self) -> impl Iterator<Item = ConnId> + '_ {
        self.evicted.drain(..)
    }

    /// Forgets the TCP connection between `a` and `b` (it is over).
    pub fn forget(&mut self, a: SocketAddr, b: SocketAddr, id: ConnId) {
        let key = Key {
            proto: Proto::Tcp,
            lo: a.min(b),
            hi: a.max(b),
        };
        let conns = &mut self.conns[table(key.proto)];
        // Not a newer connection on the same addresses.
        if conns.get(&key.ends()).is_some_and(|c| c.id == id) {
            conns.remove(&key.ends());
        }
    }

    /// Analyses one segment.
    pub fn track(&mut self, seg: &Segment) -> Analysis {
        self.track_with(seg, |_| None)
    }

    /// Analyses one segment; a segment that would start a connection
    /// mid-stream first asks `forgotten` whether it belongs to one forgotten
    /// earlier (its id and its client), to continue under the same id.
    pub fn track_with(
        &mut self,
        seg: &Segment,
        forgotten: impl FnOnce(&Segment) -> Option<(ConnId, SocketAddr)>,
    ) -> Analysis {
        self.packets += 1;
        let key = Key::of(seg);
        let syn_only = seg.tcp.is_some_and(|t| t.flags.syn() && !t.flags.ack());
        if let Some(t) = seg.tcp.filter(|t| t.flags.syn()) {
            if t.flags.ack() {
                self.mark_server_port(seg.src.port());
            } else {
                self.mark_server_port(seg.dst.port());
            }
        }

        let mut notes = Notes::default();
        let (tab, ends) = (table(key.proto), key.ends());
        let reused = match (self.conns[tab].get(&ends), seg.tcp) {
            (Some(c), Some(t)) if syn_only => {
                let from = key.role_of(seg.src, c.client_is_lo);
                // RFC 9293 §3.6.1 allows a new incarnation once the old one is
                // closed; a different ISN on a live one is one too (Wireshark's rule).
                c.closed() || c.flows[idx(from)].base.is_some_and(|b| b != SeqNum(t.seq))
            }
            _ => false,
        };
        if reused {
            notes.insert(Notes::PORT_REUSED);
            self.conns[tab].remove(&ends);
        }
        if !self.conns[tab].contains_key(&ends) {
            if self.len() >= self.max_conns {
                self.evict();
            }
            let known = if syn_only { None } else { forgotten(seg) };
            let conn = self.new_conn(seg, &key, known);
            self.conns[tab].insert(ends, conn);
        }
        let packets = self.packets;
        let Some(conn) = self.conns[tab].get_mut(&ends) else {
            // Unreachable: inserted above. Answer something harmless.
            return Analysis {
                conn: ConnId(0),
                from: Role::Client,
                seq: 0,
                ack: 0,
                win: 0,
                notes,
                dup_ack: None,
            };
        };
        conn.last_active = packets;
        let from = key.role_of(seg.src, conn.client_is_lo);
        if seg.malformed.is_some() {
            notes.insert(Notes::MALFORMED);
        }
        let Some(tcp) = seg.tcp else {
            return Analysis {
                conn: conn.id,
                from,
                seq: 0,
                ack: 0,
                win: 0,
                notes,
                dup_ack: None,
            };
        };
        let (seq, ack, win, dup_ack) = analyse(
            conn,
            from,
            (packets, seg.ts),
            seg.payload_len,
            &tcp,
            &mut notes,
        );
        Analysis {
            conn: conn.id,
            from,
            seq,
            ack,
            win,
            notes,
            dup_ack,
        }
    }

    /// A new connection of `key`; `known`: the id and client of a forgotten one.
    fn new_conn(&mut self, seg: &Segment, key: &Key, known: Option<(ConnId, SocketAddr)>) -> Conn {
        if let Some((id, client)) = known {
            return Conn::new(id, client == key.lo, self.packets);
        }
        let client_is_src = match seg.tcp {
            None => true,
            Some(t) if t.flags.syn() => !t.flags.ack(),
            Some(_) => {
                let (s, d) = (seg.src.port(), seg.dst.port());
                match (self.is_server_port(s), self.is_server_port(d)) {
                    (false, true) => true,
                    (true, false) => false,
                    _ if (s < 1024) != (d < 1024) => d < 1024,
                    // The lower port is the server's; equal ports: the sender is the client.
                    _ => s >= d,
                }
            }
        };
        let client = if client_is_src { seg.src } else { seg.dst };
        let id = ConnId(self.next_id);
        self.next_id = self.next_id.wrapping_add(1).max(1);
        Conn::new(id, client == key.lo, self.packets)
    }

    /// Forgets about an eighth of the table: closed connections first, then
    /// the least recently active.
    fn evict(&mut self) {
        let mut order: Vec<(bool, u64, usize, Ends)> = self
            .conns
            .iter()
            .enumerate()
            .flat_map(|(t, conns)| {
                conns
                    .iter()
                    .map(move |(k, c)| (!c.closed(), c.last_active, t, k))
            })
            .collect();
        let n = (self.max_conns / 8).max(1).min(order.len());
        if n == 0 {
            return;
        }
        order.select_nth_unstable_by_key(n - 1, |(open, active, _, _)| (*open, *active));
        for (_, _, t, k) in &order[..n] {
            if let Some(c) = self.conns[*t].remove(k) {
                self.evicted.push(c.id);
            }
        }
    }
}

/// Relative numbers, scaled window and Wireshark's analysis for one TCP
/// segment (`at`: its packet number and time); updates the sender's flow
/// afterwards.
fn analyse(
    conn: &mut Conn,
    from: Role,
    at: (u64, Timestamp),
    seglen: u32,
    t: &TcpHeader,
    notes: &mut Notes,
) -> (u32, u32, u32, Option<DupAck>) {
    let (packet, ts) = at;
    let (f, r) = (idx(from), idx(from.peer()));
    let seq = SeqNum(t.seq);
    let ack = SeqNum(t.ack);
    let flags = t.flags;
    let sfr = flags.syn() || flags.fin() || flags.rst();

    // Handshake facts.
    if flags.syn() {
        let fl = &mut conn.flows[f];
        if fl.isn.is_none() {
            fl.isn = Some(seq);
            fl.base = Some(seq);
            fl.syn_wscale = Some(t.options.wscale);
        }
        if !flags.ack() && conn.syn_ts.is_none() {
            conn.syn_ts = Some(ts);
        }
    } else if from == Role::Client
        && flags.ack()
        && conn.irtt_ns.is_none()
        && conn.flows[r].isn.is_some()
    {
        if let Some(syn) = conn.syn_ts {
            conn.irtt_ns = Some(ts.0.saturating_sub(syn.0));
        }
    }
    if flags.rst() {
        conn.rst = true;
    }
    if flags.fin() {
        conn.flows[f].fin = true;
    }
    // Mid-stream: the first number seen is relative 1 (Wireshark).
    let base = *conn.flows[f].base.get_or_insert(seq - 1);
    let rel_ack = if flags.ack() {
        ack.since(*conn.flows[r].base.get_or_insert(ack - 1))
    } else {
        0
    };
    let win = if flags.syn() {
        u32::from(t.window)
    } else {
        u32::from(t.window) << conn.shift(from)
    };

    let fwd = conn.flows[f];
    let rev = conn.flows[r];
    let at_next = fwd.next_seq == Some(seq);
    let same_ack = flags.ack() && fwd.last_ack == Some(ack);
    // A pure ACK that repeats this side's last one: the shape shared by
    // keepalive ACKs, zero-window probe ACKs and duplicate ACKs.
    let repeat = seglen == 0 && fwd.window == Some(win) && at_next && same_ack && !sfr;
    let mut zwp = false;
    let mut dup_ack = None;

    // Wireshark's rules for the sender's side, in its order; a rule that
    // ends the list jumps past the rest.
    'fwd: {
        // Zero window probe: one byte at the next expected seq into a closed window.
        if seglen == 1 && at_next && rev.window == Some(0) {
            notes.insert(Notes::ZERO_WINDOW_PROBE);
            zwp = true;
            break 'fwd;
        }
        if win == 0 && !sfr {
            notes.insert(Notes::ZERO_WINDOW);
        }
        // Beyond the data seen so far: something in between was not captured.
        if !flags.rst() && fwd.next_seq.is_some_and(|n| seq.gt(n)) {
            notes.insert(Notes::PREVIOUS_SEGMENT_NOT_CAPTURED);
        }
        // Keepalive: 0 or 1 byte, one before the next expected seq. Linux's
        // zero-window probe (tcp_send_probe0) has the same shape — no data,
        // seq one below snd_una — and is told apart by the peer's closed
        // window; a RST's window of 0 is not one (a rebooted peer's kernel
        // answers a keepalive with RST, window 0, and the next probe is
        // still a keepalive).
        if seglen <= 1 && !sfr && fwd.next_seq.is_some_and(|n| seq == n - 1) {
            if rev.window == Some(0) && !rev.last_rst {
                notes.insert(Notes::ZERO_WINDOW_PROBE);
                zwp = true;
            } else {
                notes.insert(Notes::KEEPALIVE);
            }
            break 'fwd;
        }
        if seglen == 0 && win != 0 && fwd.window != Some(win) && at_next && same_ack && !sfr {
            notes.insert(Notes::WINDOW_UPDATE);
        }
        // Window full: the data reaches the right edge of the window the
        // peer last offered (its ACK plus its window), once the peer's SYN
        // told how its window is scaled.
        if seglen > 0 && !sfr && rev.syn_wscale.is_some() {
            if let (Some(a), Some(w)) = (rev.last_ack, rev.window) {
                if seq + seglen == a + w {
                    notes.insert(Notes::WINDOW_FULL);
                }
            }
        }
        if repeat && win != 0 && rev.last_notes.contains(Notes::KEEPALIVE) {
            notes.insert(Notes::KEEPALIVE_ACK);
            break 'fwd;
        }
        if repeat && win == 0 && rev.last_notes.contains(Notes::ZERO_WINDOW_PROBE) {
            notes.insert(Notes::ZERO_WINDOW_PROBE_ACK);
            break 'fwd;
        }
        if repeat && win != 0 {
            notes.insert(Notes::DUP_ACK);
            let n = fwd.dup_acks + 1;
            conn.flows[f].dup_acks = n;
            dup_ack = Some(DupAck {
                num: n,
                of: fwd.last_nondup_ack,
            });
        }
    }

    // An ACK beyond what the peer was seen to send in one piece. Noted on
    // the first segment that carries it, as tshark 4.0 notes it: not on the
    // next ones of the same sender with the same ACK (the answer right
    // after the ACK that was noted).
    if flags.ack()
        && rev.max_seq_to_be_acked.is_some_and(|m| ack.gt(m))
        && fwd.last_ack != Some(ack)
    {
        notes.insert(Notes::ACKED_UNSEEN_SEGMENT);
        // Once said, the peer's data counts as seen up to here.
        conn.flows[r].max_seq_to_be_acked = rev.next_seq;
    }

    // Retransmission family: data, SYN or FIN that does not advance the
    // seq. One kind per segment, the first that fits: fast, out of order,
    // spurious, plain.
    let not_advanced = fwd.next_seq.is_some_and(|n| seq.lt(n));
    if !notes.contains(Notes::KEEPALIVE)
        && (seglen > 0 || flags.syn() || flags.fin())
        && not_advanced
    {
        let since_highest = ts.0.saturating_sub(fwd.next_seq_ts.0);
        let since_peer_ack = ts.0.saturating_sub(rev.last_ack_ts.0);
        let threshold = conn
            .irtt_ns
            .filter(|&n| n > 0)
            .unwrap_or(DEFAULT_OOO_THRESHOLD_NS);
        if rev.dup_acks >= 2 && rev.last_ack == Some(seq) && since_peer_ack < FAST_RETRANSMISSION_NS
        {
            notes.insert(Notes::FAST_RETRANSMISSION);
        } else if since_highest < threshold && fwd.next_seq != Some(seq + seglen) {
            notes.insert(Notes::OUT_OF_ORDER);
        } else if seglen > 0 && rev.last_ack.is_some_and(|a| (seq + seglen).le(a)) {
            notes.insert(Notes::SPURIOUS_RETRANSMISSION);
        } else {
            notes.insert(Notes::RETRANSMISSION);
        }
    }

    // Remember what this side has sent.
    let fl = &mut conn.flows[f];
    let mut next = seq + seglen;
    if flags.syn() || flags.fin() {
        next += 1;
    }
    if !zwp && fl.next_seq.is_none_or(|n| next.gt(n)) {
        fl.next_seq = Some(next);
        fl.next_seq_ts = ts;
    }
    // A segment that continues what was seen in one piece (new data, or a
    // retransmission filling the hole) makes all data seen so far count.
    if fl.max_seq_to_be_acked.is_none_or(|m| m == seq) {
        fl.max_seq_to_be_acked = fl.next_seq;
    }
    fl.window = Some(win);
    if flags.ack() {
        if fl.last_ack != Some(ack) {
            fl.dup_acks = 0;
            fl.last_nondup_ack = packet;
        }
        fl.last_ack = Some(ack);
        fl.last_ack_ts = ts;
    }
    fl.last_notes = *notes;
    fl.last_rst = flags.rst();

    (seq.since(base), rel_ack, win, dup_ack)
}

#[cfg(test)]
mod tests;
