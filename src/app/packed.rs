//! The ladder's rows as the timeline keeps them. A busy watch is half
//! packets and half state changes; as events each is three or four
//! allocations (the event's box, the segment's, the captured bytes, a
//! name), 300-470 bytes a row. Packed, a packet is its captured bytes
//! behind a short header (the segment is parsed from the bytes again when
//! the row is looked at) and a state change is ~40 bytes: one allocation of
//! ~100 bytes. A row is unpacked only when drawn or asked about, a few dozen
//! a frame.
//!
//! The rule: a packed row unpacks to the very event pushed. A packet is
//! packed only when parsing its bytes again gives back its segment exactly;
//! anything else stays an event.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::sync::Arc;

use crate::event::{Event, PacketEvent, RetransmitWitness, StateEvent, StateSource};
use crate::tcp::parse::parse_frame;
use crate::tcp::track::{Analysis, ConnId, DupAck, Notes, Role};
use crate::tcp::{LinkType, RawFrame, TcpState};
use crate::time::Timestamp;

/// The ladder's rows, oldest first: events as they came, or packed into
/// the byte store.
#[derive(Debug, Default)]
pub struct Rows {
    rows: VecDeque<Row>,
    store: Store,
    /// Where a row is written before it goes into the store.
    scratch: Vec<u8>,
}

/// 16 bytes in the ring: an event row is boxed (the few that are not
/// packets or state changes), a packed one is where its bytes are.
#[derive(Debug)]
enum Row {
    Event(Box<Event>),
    /// A packet whose segment its captured bytes give back.
    Packet(Span),
    State(Span),
}

/// Where a packed row's bytes are in the store.
#[derive(Clone, Copy, Debug)]
struct Span {
    /// Chunk ids wrap (after 256 TB of rows).
    chunk: u32,
    start: u32,
    len: u32,
}

/// Packed rows' bytes, in chunks written in row order and freed whole once
/// their last row has gone: no allocation or free per row.
#[derive(Debug, Default)]
struct Store {
    /// Chunks filled, oldest first.
    full: VecDeque<Vec<u8>>,
    /// The chunk being written, whose id is `first + full.len()`.
    current: Vec<u8>,
    /// The id of `full[0]`.
    first: u32,
}

/// Bytes a chunk holds (a few hundred rows; a bigger row has its own).
const CHUNK: usize = 64 * 1024;

impl Store {
    fn put(&mut self, bytes: &[u8]) -> Span {
        if self.current.capacity() - self.current.len() < bytes.len() {
            let next = Vec::with_capacity(CHUNK.max(bytes.len()));
            self.full
                .push_back(std::mem::replace(&mut self.current, next));
        }
        let start = self.current.len();
        self.current.extend_from_slice(bytes);
        Span {
            chunk: self.first.wrapping_add(self.full.len() as u32),
            start: u32::try_from(start).unwrap_or(u32::MAX),
            len: u32::try_from(bytes.len()).unwrap_or(u32::MAX),
        }
    }

    fn get(&self, s: Span) -> &[u8] {
        let i = s.chunk.wrapping_sub(self.first) as usize;
        let chunk = match i.cmp(&self.full.len()) {
            std::cmp::Ordering::Less => self.full.get(i),
            std::cmp::Ordering::Equal => Some(&self.current),
            std::cmp::Ordering::Greater => None,
        };
        let (start, len) = (s.start as usize, s.len as usize);
        chunk
            .and_then(|c| c.get(start..start + len))
            .unwrap_or_default()
    }

    /// No row is left in chunks before `chunk`.
    fn release_before(&mut self, chunk: u32) {
        for _ in 0..chunk.wrapping_sub(self.first) {
            if self.full.pop_front().is_none() {
                break;
            }
            self.first = self.first.wrapping_add(1);
        }
    }
}

impl Rows {
    /// Rows for at most `max` rows: the ring is made that size at once (up
    /// to a million), so it is never a doubling past what is needed, nor
    /// copied as it grows; the pages are the system's until written.
    #[must_use]
    pub fn with_max(max: usize) -> Self {
        Self {
            rows: VecDeque::with_capacity(max.min(1 << 20)),
            ..Self::default()
        }
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn push_back(&mut self, ev: Event) {
        self.scratch.clear();
        let row = match ev {
            Event::Packet(p) => {
                if pack_packet(&p, &mut self.scratch) {
                    Row::Packet(self.store.put(&self.scratch))
                } else {
                    Row::Event(Box::new(Event::Packet(p)))
                }
            }
            Event::State(s) => {
                pack_state(&s, &mut self.scratch);
                Row::State(self.store.put(&self.scratch))
            }
            other => Row::Event(Box::new(other)),
        };
        self.rows.push_back(row);
    }

    pub fn pop_front(&mut self) {
        if let Some(Row::Packet(s) | Row::State(s)) = self.rows.pop_front() {
            // Rows before this one are gone: so is every chunk before its.
            self.store.release_before(s.chunk);
        }
    }

    fn bytes(&self, i: usize) -> Option<(&Row, &[u8])> {
        let row = self.rows.get(i)?;
        let bytes = match row {
            Row::Event(_) => &[][..],
            Row::Packet(s) | Row::State(s) => self.store.get(*s),
        };
        Some((row, bytes))
    }

    /// The event pushed as row `i` (a packed row is read in full: this is
    /// for the rows drawn or asked about).
    #[must_use]
    pub fn get(&self, i: usize) -> Option<Cow<'_, Event>> {
        let unpacked = match self.bytes(i)? {
            (Row::Event(e), _) => return Some(Cow::Borrowed(e)),
            (Row::Packet(_), b) => unpack_packet(b).map(|p| Event::Packet(Box::new(p))),
            (Row::State(_), b) => unpack_state(b).map(|s| Event::State(Box::new(s))),
        };
        // Only this module writes rows, and its tests read back every kind
        // of field: a row that does not read back is a defect, said as such.
        Some(Cow::Owned(unpacked.unwrap_or_else(|| Event::Warning {
            ts: self.ts(i).unwrap_or_default(),
            message: "synack could not unpack this row (a defect: please report it)".into(),
        })))
    }

    /// Row `i`'s time, without unpacking it.
    #[must_use]
    pub fn ts(&self, i: usize) -> Option<Timestamp> {
        match self.bytes(i)? {
            (Row::Event(e), _) => Some(e.ts()),
            (_, b) => Some(Timestamp(Reader(b).u64()?)),
        }
    }

    /// The connection a packet or state row belongs to, without unpacking.
    #[must_use]
    pub fn conn(&self, i: usize) -> Option<ConnId> {
        match self.bytes(i)? {
            (Row::Event(e), _) => crate::app::row_conn(e),
            (Row::Packet(_), b) => {
                let mut r = Reader(b);
                r.u64()?;
                Some(ConnId(r.u32()?))
            }
            (Row::State(_), b) => {
                let mut r = Reader(b);
                r.u64()?;
                match r.u8()? {
                    1 => Some(ConnId(r.u32()?)),
                    _ => None,
                }
            }
        }
    }

    #[must_use]
    pub fn is_packet(&self, i: usize) -> bool {
        match self.rows.get(i) {
            Some(Row::Packet(_)) => true,
            Some(Row::Event(e)) => matches!(**e, Event::Packet(_)),
            _ => false,
        }
    }

    /// The first row at or after `ts` (rows are in time order).
    #[must_use]
    pub fn at_time(&self, ts: Timestamp) -> usize {
        let (mut lo, mut hi) = (0, self.rows.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.ts(mid).is_some_and(|t| t < ts) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }
}

/// Little-endian fields, appended.
struct Writer<'a>(&'a mut Vec<u8>);

impl Writer<'_> {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn str(&mut self, s: &str) {
        self.u32(u32::try_from(s.len()).unwrap_or(u32::MAX));
        let n = s.len().min(u32::MAX as usize);
        self.0.extend_from_slice(&s.as_bytes()[..n]);
    }
    fn opt_str(&mut self, s: Option<&str>) {
        match s {
            None => self.u8(0),
            Some(s) => {
                self.u8(1);
                self.str(s);
            }
        }
    }
    fn addr(&mut self, a: &SocketAddr) {
        match a {
            SocketAddr::V4(a) => {
                self.u8(4);
                self.0.extend_from_slice(&a.ip().octets());
                self.0.extend_from_slice(&a.port().to_le_bytes());
            }
            SocketAddr::V6(a) => {
                self.u8(6);
                self.0.extend_from_slice(&a.ip().octets());
                self.0.extend_from_slice(&a.port().to_le_bytes());
                self.u32(a.flowinfo());
                self.u32(a.scope_id());
            }
        }
    }
}

/// Reads what [`Writer`] wrote; `None` past the end or on a value no
/// writer makes.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes(self.take(2)?.try_into().ok()?))
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn str(&mut self) -> Option<&'a str> {
        let n = self.u32()? as usize;
        std::str::from_utf8(self.take(n)?).ok()
    }
    fn opt_str(&mut self) -> Option<Option<&'a str>> {
        match self.u8()? {
            0 => Some(None),
            1 => Some(Some(self.str()?)),
            _ => None,
        }
    }
    fn addr(&mut self) -> Option<SocketAddr> {
        match self.u8()? {
            4 => {
                let ip: [u8; 4] = self.take(4)?.try_into().ok()?;
                let port = self.u16()?;
                Some(SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::from(ip), port)))
            }
            6 => {
                let ip: [u8; 16] = self.take(16)?.try_into().ok()?;
                let port = self.u16()?;
                let flow = self.u32()?;
                let scope = self.u32()?;
                Some(SocketAddr::V6(SocketAddrV6::new(
                    Ipv6Addr::from(ip),
                    port,
                    flow,
                    scope,
                )))
            }
            _ => None,
        }
    }
}

/// Names the model gives most rows, unpacked without an allocation.
fn name(s: &str) -> crate::event::EndpointName {
    const COMMON: [&str; 3] = ["client", "server", "listener"];
    match COMMON.iter().find(|c| **c == s) {
        Some(c) => std::borrow::Cow::Borrowed(c),
        None => std::borrow::Cow::Owned(s.to_owned()),
    }
}

fn index_of<T: PartialEq>(all: &[T], v: &T) -> u8 {
    // Every list here is a handful long.
    all.iter().position(|x| x == v).map_or(u8::MAX, |i| i as u8)
}

const STATE_NONE: u8 = u8::MAX;

/// Writes a packet into `out`; false (nothing written) when it does not
/// pack.
fn pack_packet(p: &PacketEvent, out: &mut Vec<u8>) -> bool {
    let Some(raw) = p.raw.as_ref() else {
        return false;
    };
    let Ok(len) = u32::try_from(raw.bytes.len()) else {
        return false;
    };
    // The bytes must give back the segment (a truncated frame's wire
    // length, which the bytes do not hold, could make them differ).
    if parse_frame(raw.link, p.segment.ts, &raw.bytes, len) != Ok(Some(*p.segment)) {
        return false;
    }
    let a = &p.analysis;
    let mut w = Writer(out);
    w.u64(p.segment.ts.0);
    w.u32(a.conn.0);
    w.u8(index_of(&[Role::Client, Role::Server], &a.from));
    w.u32(a.seq);
    w.u32(a.ack);
    w.u32(a.win);
    w.u32(a.notes.0);
    match a.dup_ack {
        None => w.u8(0),
        Some(d) => {
            w.u8(1);
            w.u32(d.num);
            w.u64(d.of);
        }
    }
    w.opt_str(p.endpoint.as_deref());
    w.opt_str(p.rst_reason.as_deref());
    w.opt_str(p.drop_reason.as_deref());
    w.u8(match p.retransmit {
        None => 0,
        Some(RetransmitWitness::Kernel) => 1,
        Some(RetransmitWitness::InferredOnly) => 2,
    });
    w.u8(index_of(&LinkType::ALL, &raw.link));
    w.0.extend_from_slice(&raw.bytes);
    true
}

fn unpack_packet(b: &[u8]) -> Option<PacketEvent> {
    let mut r = Reader(b);
    let ts = Timestamp(r.u64()?);
    let conn = ConnId(r.u32()?);
    let from = *[Role::Client, Role::Server].get(usize::from(r.u8()?))?;
    let seq = r.u32()?;
    let ack = r.u32()?;
    let win = r.u32()?;
    let notes = Notes(r.u32()?);
    let dup_ack = match r.u8()? {
        0 => None,
        1 => Some(DupAck {
            num: r.u32()?,
            of: r.u64()?,
        }),
        _ => return None,
    };
    let endpoint = r.opt_str()?.map(name);
    let rst_reason = r.opt_str()?.map(str::to_owned);
    let drop_reason = r.opt_str()?.map(Arc::<str>::from);
    let retransmit = match r.u8()? {
        0 => None,
        1 => Some(RetransmitWitness::Kernel),
        2 => Some(RetransmitWitness::InferredOnly),
        _ => return None,
    };
    let link = *LinkType::ALL.get(usize::from(r.u8()?))?;
    let bytes = r.0;
    let len = u32::try_from(bytes.len()).ok()?;
    let segment = parse_frame(link, ts, bytes, len).ok()??;
    Some(PacketEvent {
        segment: Box::new(segment),
        analysis: Analysis {
            conn,
            from,
            seq,
            ack,
            win,
            notes,
            dup_ack,
        },
        endpoint,
        raw: Some(RawFrame {
            link,
            bytes: bytes.into(),
        }),
        rst_reason,
        drop_reason,
        retransmit,
    })
}

fn pack_state(s: &StateEvent, out: &mut Vec<u8>) {
    let mut w = Writer(out);
    w.u64(s.ts.0);
    match s.conn {
        None => w.u8(0),
        Some(c) => {
            w.u8(1);
            w.u32(c.0);
        }
    }
    w.str(&s.endpoint);
    w.addr(&s.local);
    match &s.remote {
        None => w.u8(0),
        Some(a) => {
            w.u8(1);
            w.addr(a);
        }
    }
    w.u8(s.from.map_or(STATE_NONE, |f| index_of(&TcpState::ALL, &f)));
    w.u8(index_of(&TcpState::ALL, &s.to));
    w.u8(index_of(
        &[StateSource::Kernel, StateSource::Inferred],
        &s.source,
    ));
    match s.timer {
        None => w.u8(0),
        Some(t) => {
            w.u8(1);
            w.u64(t.to_bits());
        }
    }
    w.opt_str(s.note.as_deref());
}

fn unpack_state(b: &[u8]) -> Option<StateEvent> {
    let mut r = Reader(b);
    let ts = Timestamp(r.u64()?);
    let conn = match r.u8()? {
        0 => None,
        1 => Some(ConnId(r.u32()?)),
        _ => return None,
    };
    let endpoint = name(r.str()?);
    let local = r.addr()?;
    let remote = match r.u8()? {
        0 => None,
        1 => Some(r.addr()?),
        _ => return None,
    };
    let from = match r.u8()? {
        STATE_NONE => None,
        i => Some(*TcpState::ALL.get(usize::from(i))?),
    };
    let to = *TcpState::ALL.get(usize::from(r.u8()?))?;
    let source = *[StateSource::Kernel, StateSource::Inferred].get(usize::from(r.u8()?))?;
    let timer = match r.u8()? {
        0 => None,
        1 => Some(f64::from_bits(r.u64()?)),
        _ => return None,
    };
    let note = r.opt_str()?.map(str::to_owned);
    if !r.0.is_empty() {
        return None;
    }
    Some(StateEvent {
        ts,
        conn,
        endpoint,
        local,
        remote,
        from,
        to,
        source,
        timer,
        note,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rng::Rng;

    /// An Ethernet frame carrying TCP over IPv4 or IPv6, its fields and
    /// options from `rng`, `payload` bytes counted by the IP header of
    /// which `kept` were captured.
    fn frame(rng: &mut Rng, v6: bool, payload: usize, kept: usize) -> Vec<u8> {
        let mut tcp = Vec::new();
        tcp.extend_from_slice(&rng.bytes(12)); // ports, seq, ack
        let opts = 4 * rng.below(11);
        tcp.push(u8::try_from(((20 + opts) / 4) << 4).unwrap_or(0x50));
        tcp.extend_from_slice(&rng.bytes(7)); // flags, window, checksum, urgent
        // Options: random kinds and lengths, often well formed.
        let mut o = Vec::new();
        while o.len() < opts {
            match rng.below(4) {
                0 => o.push(1),
                1 => o.extend_from_slice(&[2, 4, rng.byte(), rng.byte()]),
                2 => o.extend_from_slice(&[8, 10]),
                _ => o.push(rng.byte()),
            }
        }
        o.truncate(opts);
        tcp.extend_from_slice(&o);
        let l4 = u16::try_from(tcp.len() + payload).unwrap_or(u16::MAX);
        let mut f = vec![0u8; 12];
        if v6 {
            f.extend_from_slice(&[0x86, 0xdd, 0x60, 0, 0, 0]);
            f.extend_from_slice(&l4.to_be_bytes());
            f.extend_from_slice(&[6, 64]);
            f.extend_from_slice(&rng.bytes(32));
        } else {
            f.extend_from_slice(&[0x08, 0x00, 0x45, 0]);
            f.extend_from_slice(&(20 + l4).to_be_bytes());
            f.extend_from_slice(&rng.bytes(2)); // id
            f.extend_from_slice(&[0x40, 0, 64, 6, 0, 0]);
            f.extend_from_slice(&rng.bytes(8));
        }
        f.extend_from_slice(&tcp);
        f.extend_from_slice(&rng.bytes(kept.min(payload)));
        f
    }

    fn opt_str(rng: &mut Rng) -> Option<String> {
        rng.one_in(3)
            .then(|| ["", "client2", "TCP_LISTEN_OVERFLOW", "包丢了"][rng.below(4)].to_owned())
    }

    fn packet(rng: &mut Rng) -> Option<Event> {
        let payload = if rng.one_in(2) { 0 } else { rng.below(3000) };
        let kept = if rng.one_in(2) {
            payload
        } else {
            rng.below(payload + 1)
        };
        let v6 = rng.one_in(3);
        let bytes = frame(rng, v6, payload, kept);
        let ts = Timestamp(rng.next_u64());
        // A capture's wire length: usually what it kept, sometimes more.
        let wire = bytes.len() + if rng.one_in(4) { rng.below(100) } else { 0 };
        let segment =
            parse_frame(LinkType::Ethernet, ts, &bytes, u32::try_from(wire).ok()?).ok()??;
        Some(Event::Packet(Box::new(PacketEvent {
            segment: Box::new(segment),
            analysis: Analysis {
                conn: ConnId(rng.next_u64() as u32),
                from: if rng.one_in(2) {
                    Role::Client
                } else {
                    Role::Server
                },
                seq: rng.next_u64() as u32,
                ack: rng.next_u64() as u32,
                win: rng.next_u64() as u32,
                notes: Notes(rng.next_u64() as u32),
                dup_ack: rng.one_in(3).then(|| DupAck {
                    num: rng.next_u64() as u32,
                    of: rng.next_u64(),
                }),
            },
            endpoint: opt_str(rng).map(crate::event::EndpointName::from),
            raw: Some(RawFrame {
                link: LinkType::Ethernet,
                bytes: bytes.into(),
            }),
            rst_reason: opt_str(rng),
            drop_reason: opt_str(rng).map(Arc::from),
            retransmit: [
                None,
                Some(RetransmitWitness::Kernel),
                Some(RetransmitWitness::InferredOnly),
            ][rng.below(3)],
        })))
    }

    fn addr(rng: &mut Rng) -> SocketAddr {
        let port = rng.next_u64() as u16;
        if rng.one_in(2) {
            SocketAddr::V4(SocketAddrV4::new(
                Ipv4Addr::from(rng.next_u64() as u32),
                port,
            ))
        } else {
            let ip: [u8; 16] = rng.bytes(16).try_into().unwrap();
            SocketAddr::V6(SocketAddrV6::new(
                ip.into(),
                port,
                rng.next_u64() as u32,
                rng.next_u64() as u32,
            ))
        }
    }

    fn state(rng: &mut Rng) -> Event {
        let pick = |rng: &mut Rng| TcpState::ALL[rng.below(TcpState::ALL.len())];
        Event::State(Box::new(StateEvent {
            ts: Timestamp(rng.next_u64()),
            conn: rng.one_in(2).then(|| ConnId(rng.next_u64() as u32)),
            endpoint: ["client", "server", "listener", "client3", "服务端"][rng.below(5)].into(),
            local: addr(rng),
            remote: rng.one_in(2).then(|| addr(rng)),
            from: rng.one_in(2).then(|| pick(rng)),
            to: pick(rng),
            source: if rng.one_in(2) {
                StateSource::Kernel
            } else {
                StateSource::Inferred
            },
            timer: rng
                .one_in(2)
                .then(|| f64::from(rng.next_u64() as u32) / 1000.0),
            note: opt_str(rng),
        }))
    }

    /// A window of the newest rows, as the timeline keeps it.
    fn window(seed: u64, n: usize, max: usize) -> (Rows, VecDeque<Event>, usize) {
        let mut rng = Rng::new(seed);
        let (mut rows, mut expect) = (Rows::default(), VecDeque::new());
        let mut kept = 0;
        for i in 0..n {
            let ev = if i % 2 == 0 {
                match packet(&mut rng) {
                    Some(ev) => ev,
                    None => continue,
                }
            } else {
                state(&mut rng)
            };
            rows.push_back(ev.clone());
            expect.push_back(ev);
            kept += usize::from(matches!(rows.rows.back(), Some(Row::Event(_))));
            if rows.len() > max {
                rows.pop_front();
                expect.pop_front();
            }
            // Now and then, every row kept reads back.
            if i % 997 == 0 {
                check(&rows, &expect);
            }
        }
        (rows, expect, kept)
    }

    fn check(rows: &Rows, expect: &VecDeque<Event>) {
        assert_eq!(rows.len(), expect.len());
        for (i, ev) in expect.iter().enumerate() {
            assert_eq!(*rows.get(i).unwrap(), *ev, "row {i}");
            assert_eq!(rows.ts(i), Some(ev.ts()), "row {i}");
            assert_eq!(rows.conn(i), crate::app::row_conn(ev), "row {i}");
            assert_eq!(rows.is_packet(i), matches!(ev, Event::Packet(_)), "row {i}");
        }
    }

    #[test]
    fn every_packed_row_unpacks_to_the_event_pushed() {
        let (rows, expect, kept) = window(0x5eed, 20_000, 3_000);
        check(&rows, &expect);
        // Both ways are taken: most rows pack, and packets whose bytes do
        // not give back their segment (a wire length past the bytes) stay
        // events.
        let packed = rows
            .rows
            .iter()
            .filter(|r| !matches!(r, Row::Event(_)))
            .count();
        assert!(packed > 2_000 && kept > 100, "packed {packed}, kept {kept}");
        // Chunks whose rows have all gone are freed: about as many are
        // kept as the rows kept fill.
        let bytes: usize = rows.store.full.iter().map(Vec::capacity).sum();
        let used: usize = rows
            .rows
            .iter()
            .map(|r| match r {
                Row::Packet(s) | Row::State(s) => s.len as usize,
                Row::Event(_) => 0,
            })
            .sum();
        assert!(bytes <= used + 2 * CHUNK, "{bytes} bytes kept for {used}");
    }

    /// Chunk ids wrap around without losing a row or a chunk.
    #[test]
    fn chunk_ids_wrap() {
        let mut store = Store {
            first: u32::MAX - 1,
            ..Store::default()
        };
        let big = vec![7u8; CHUNK];
        let spans: Vec<Span> = (0..5).map(|_| store.put(&big)).collect();
        assert_eq!(
            spans.iter().map(|s| s.chunk).collect::<Vec<_>>(),
            [u32::MAX, 0, 1, 2, 3]
        );
        for s in &spans {
            assert_eq!(store.get(*s), &big[..]);
        }
        store.release_before(1);
        assert_eq!(store.first, 1);
        assert!(store.get(spans[0]).is_empty());
        assert_eq!(store.get(spans[3]), &big[..]);
        assert_eq!(store.get(spans[4]), &big[..]);
    }

    #[test]
    fn rows_are_found_by_time() {
        let mut rows = Rows::default();
        let mut rng = Rng::new(9);
        for t in [10, 20, 20, 30] {
            let Event::State(mut s) = state(&mut rng) else {
                unreachable!()
            };
            s.ts = Timestamp(t);
            rows.push_back(Event::State(s));
        }
        rows.push_back(Event::Warning {
            ts: Timestamp(40),
            message: "w".into(),
        });
        let at = |t| rows.at_time(Timestamp(t));
        assert_eq!(
            [at(0), at(10), at(11), at(20), at(21), at(40), at(41)],
            [0, 0, 1, 1, 3, 4, 5]
        );
    }

    #[test]
    fn a_packet_without_its_bytes_and_other_events_stay_events() {
        let mut rng = Rng::new(3);
        let ev = loop {
            if let Some(Event::Packet(mut p)) = packet(&mut rng) {
                p.raw = None;
                break Event::Packet(p);
            }
        };
        let warning = Event::Warning {
            ts: Timestamp(5),
            message: "x".into(),
        };
        let mut rows = Rows::default();
        rows.push_back(ev.clone());
        rows.push_back(warning.clone());
        assert!(matches!(&rows.rows[0], Row::Event(e) if **e == ev));
        assert!(matches!(&rows.rows[1], Row::Event(e) if **e == warning));
        assert!(rows.store.current.is_empty());
    }

    #[test]
    fn a_packed_row_is_a_fraction_of_its_event() {
        // A pure ACK on loopback as a watch keeps it.
        let mut rng = Rng::new(11);
        let ev = loop {
            if let Some(Event::Packet(p)) = packet(&mut rng)
                && p.raw.as_ref().is_some_and(|r| r.bytes.len() <= 80)
                && p.endpoint.is_none()
                && p.rst_reason.is_none()
                && p.drop_reason.is_none()
            {
                break Event::Packet(p);
            }
        };
        let mut rows = Rows::default();
        rows.push_back(ev);
        let Some(Row::Packet(s)) = rows.rows.back() else {
            panic!("a packet with its bytes packs")
        };
        // A header of 40 bytes or so, then the frame; 16 in the ring.
        assert!(s.len <= 48 + 80, "{}", s.len);
        assert_eq!(std::mem::size_of::<Row>(), 16);
    }
}
