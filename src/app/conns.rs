//! The watch / read screen's table: one row per connection (both ends'
//! states, packets, bytes, last seen) and one per listener (its accept queue),
//! like `ss` but live.

use std::cell::OnceCell;
use std::net::SocketAddr;

use crate::event::{Event, StateSource};
use crate::hash::Map;
use crate::tcp::TcpState;
use crate::tcp::track::{ConnId, Role};
use crate::tcp::{Proto, TcpState as State};
use crate::time::Timestamp;

/// What a table row is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RowKey {
    Conn(ConnId),
    Listener(SocketAddr),
}

/// One row of the table.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub key: RowKey,
    pub proto: Proto,
    /// The connection's client end (a listener's own address).
    pub local: SocketAddr,
    /// The server end (none for a listener).
    pub remote: Option<SocketAddr>,
    pub client_state: Option<(TcpState, StateSource)>,
    pub server_state: Option<(TcpState, StateSource)>,
    pub packets: u64,
    /// Payload bytes, both ways.
    pub bytes: u64,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    /// A listener's (accept queue, backlog).
    pub queue: Option<(u32, u32)>,
    /// Packets in this connection that carried a note (retransmission …).
    pub noted: u64,
    /// [`Entry::search_text`] as the filter compares it, made when a filter
    /// first needs it and again after the addresses or states change: the
    /// table filters every row on each frame, and making each row's text
    /// there cost milliseconds a frame with the table full.
    search: OnceCell<String>,
}

impl Entry {
    fn new(key: RowKey, proto: Proto, local: SocketAddr, ts: Timestamp) -> Self {
        Self {
            key,
            proto,
            local,
            remote: None,
            client_state: None,
            server_state: None,
            packets: 0,
            bytes: 0,
            first_seen: ts,
            last_seen: ts,
            queue: None,
            noted: 0,
            search: OnceCell::new(),
        }
    }

    /// Lower-case text the `/` filter searches: addresses, ports and states.
    #[must_use]
    pub fn search_text(&self) -> String {
        let mut t = format!("{} ", self.local);
        if let Some(r) = self.remote {
            t.push_str(&r.to_string());
        }
        for (s, _) in [self.client_state, self.server_state].into_iter().flatten() {
            t.push(' ');
            t.push_str(s.as_str());
        }
        if matches!(self.key, RowKey::Listener(_)) {
            t.push_str(" listen");
        }
        t.push(' ');
        t.push_str(self.proto.as_str());
        t.to_lowercase()
    }

    /// The addresses or states changed: the filter's text is made again
    /// when next needed.
    fn refresh_search(&mut self) {
        self.search.take();
    }

    /// Whether the row's text contains `filter` (normalized).
    fn matches(&self, filter: &str) -> bool {
        self.search
            .get_or_init(|| crate::explain::normalize(&self.search_text()))
            .contains(filter)
    }

    /// Closed on both ends (or a listener that closed).
    #[must_use]
    pub fn is_closed(&self) -> bool {
        let closed = |s: Option<(State, StateSource)>| {
            matches!(s, Some((State::Closed | State::TimeWait, _)))
        };
        match self.key {
            RowKey::Listener(_) => closed(self.server_state),
            RowKey::Conn(_) => closed(self.client_state) && closed(self.server_state),
        }
    }
}

/// The table, bounded: past `max` rows the oldest closed ones go first, a
/// sixteenth of the table at a time (one pass over the table per batch: a
/// flood of new connections made one pass per connection, and the screen
/// spent most of its time there).
#[derive(Debug)]
pub struct Connections {
    /// The rows in the order they came: nearly the order shown (newest
    /// first), so that sorting them again each frame is about one pass.
    entries: Vec<Entry>,
    /// Where each row is in `entries`.
    index: Map<RowKey, usize>,
    max: usize,
    /// Rows forgotten to stay within `max`.
    pub evicted: u64,
}

impl Connections {
    #[must_use]
    pub fn new(max: usize) -> Self {
        Self {
            // Made full size at once (the pages are the system's until
            // written): never a doubling past `max`, nor a copy as it grows.
            entries: Vec::with_capacity(max.clamp(16, 1 << 16)),
            index: Map::with_capacity_and_hasher(max.clamp(16, 1 << 16), Default::default()),
            max: max.max(16),
            evicted: 0,
        }
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    #[must_use]
    pub fn get(&self, key: RowKey) -> Option<&Entry> {
        self.entries.get(*self.index.get(&key)?)
    }

    fn get_mut(&mut self, key: RowKey) -> Option<&mut Entry> {
        self.entries.get_mut(*self.index.get(&key)?)
    }

    fn entry(&mut self, key: RowKey, proto: Proto, local: SocketAddr, ts: Timestamp) -> &mut Entry {
        let i = match self.index.get(&key) {
            Some(&i) => i,
            None => {
                if self.entries.len() >= self.max {
                    self.evict();
                }
                self.index.insert(key, self.entries.len());
                self.entries.push(Entry::new(key, proto, local, ts));
                self.entries.len() - 1
            }
        };
        &mut self.entries[i]
    }

    fn evict(&mut self) {
        let mut ranked: Vec<((bool, Timestamp), RowKey)> = self
            .entries
            .iter()
            .map(|e| ((!e.is_closed(), e.last_seen), e.key))
            .collect();
        if ranked.is_empty() {
            return;
        }
        let n = (self.max / 16).clamp(1, ranked.len());
        ranked.select_nth_unstable_by_key(n - 1, |(rank, _)| *rank);
        for (_, k) in &ranked[..n] {
            self.index.remove(k);
        }
        self.entries.retain(|e| self.index.contains_key(&e.key));
        for (i, e) in self.entries.iter().enumerate() {
            self.index.insert(e.key, i);
        }
        self.evicted += n as u64;
    }

    /// Takes one event from the model.
    pub fn ingest(&mut self, ev: &Event) {
        match ev {
            Event::Packet(p) => {
                let seg = &p.segment;
                let (client, server) = match p.from {
                    Role::Client => (seg.src, seg.dst),
                    Role::Server => (seg.dst, seg.src),
                };
                let e = self.entry(RowKey::Conn(p.conn), seg.proto, client, seg.ts);
                if e.remote != Some(server) {
                    e.remote = Some(server);
                    e.refresh_search();
                }
                e.packets += 1;
                e.bytes += u64::from(seg.payload_len);
                e.last_seen = e.last_seen.max(seg.ts);
                if !p.notes.is_empty() {
                    e.noted += 1;
                }
            }
            Event::State(s) => {
                let state = Some((s.to, s.source));
                match (s.conn, s.remote) {
                    (Some(conn), Some(_)) => {
                        let key = RowKey::Conn(conn);
                        // The connection's row exists once a packet was seen.
                        if let Some(e) = self.get_mut(key) {
                            if s.local == e.local {
                                e.client_state = state;
                            } else {
                                e.server_state = state;
                            }
                            e.refresh_search();
                            e.last_seen = e.last_seen.max(s.ts);
                        }
                    }
                    (_, None) => {
                        let e = self.entry(RowKey::Listener(s.local), Proto::Tcp, s.local, s.ts);
                        e.server_state = state;
                        e.refresh_search();
                        e.last_seen = e.last_seen.max(s.ts);
                    }
                    (None, Some(_)) => {}
                }
            }
            Event::Queue(q) => {
                let e = self.entry(RowKey::Listener(q.local), Proto::Tcp, q.local, q.ts);
                e.queue = Some((q.accept_queue, q.backlog));
                if e.server_state.is_none() {
                    e.server_state = Some((TcpState::Listen, StateSource::Kernel));
                    e.refresh_search();
                }
            }
            _ => {}
        }
    }

    /// The rows to show, listeners first, then connections newest first,
    /// keeping those whose text contains `filter` as `explain` compares
    /// names: case, `-`, `_` and spaces aside (`time_wait`, `TIME-WAIT` and
    /// `timewait` find the same rows).
    #[must_use]
    pub fn rows(&self, filter: &str) -> Vec<RowKey> {
        let filter = crate::explain::normalize(filter);
        let mut rows: Vec<&Entry> = self
            .entries
            .iter()
            .rev()
            .filter(|e| filter.is_empty() || e.matches(&filter))
            .collect();
        rows.sort_by(|a, b| {
            let listener = |e: &Entry| matches!(e.key, RowKey::Listener(_));
            listener(b)
                .cmp(&listener(a))
                .then(b.first_seen.cmp(&a.first_seen))
                .then_with(|| key_order(b.key).cmp(&key_order(a.key)))
        });
        rows.into_iter().map(|e| e.key).collect()
    }
}

fn key_order(k: RowKey) -> (u32, String) {
    match k {
        RowKey::Conn(c) => (c.0, String::new()),
        RowKey::Listener(a) => (0, a.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::StateEvent;

    fn listener(port: u16, to: TcpState, ts: u64) -> Event {
        Event::State(Box::new(StateEvent {
            ts: Timestamp(ts),
            conn: None,
            endpoint: "listener".into(),
            local: SocketAddr::from(([127, 0, 0, 1], port)),
            remote: None,
            from: None,
            to,
            source: StateSource::Kernel,
            timer: None,
            note: None,
        }))
    }

    #[test]
    fn a_full_table_forgets_a_batch_of_the_oldest_closed_rows() {
        let max = 64;
        let mut t = Connections::new(max);
        // Ports 0..64: every other one closed, the closed ones seen last
        // for the low ports.
        for p in 0..max as u16 {
            let state = if p % 2 == 0 {
                TcpState::Closed
            } else {
                TcpState::Listen
            };
            t.ingest(&listener(p, state, u64::from(p)));
        }
        assert_eq!((t.len(), t.evicted), (max, 0));
        t.ingest(&listener(1000, TcpState::Listen, 1000));
        let batch = max / 16;
        assert_eq!(t.evicted, batch as u64);
        assert_eq!(t.len(), max - batch + 1);
        let key = |p: u16| RowKey::Listener(SocketAddr::from(([127, 0, 0, 1], p)));
        for p in 0..max as u16 {
            let gone = p % 2 == 0 && usize::from(p / 2) < batch;
            assert_eq!(t.get(key(p)).is_none(), gone, "port {p}");
        }
        assert!(t.get(key(1000)).is_some());
    }

    #[test]
    fn open_rows_go_only_when_none_is_closed_oldest_first() {
        let mut t = Connections::new(16);
        for p in 0..16u16 {
            t.ingest(&listener(p, TcpState::Listen, 100 - u64::from(p)));
        }
        t.ingest(&listener(99, TcpState::Listen, 200));
        let key = |p: u16| RowKey::Listener(SocketAddr::from(([127, 0, 0, 1], p)));
        // max 16: one at a time; port 15 was seen longest ago.
        assert!(t.get(key(15)).is_none());
        assert_eq!(t.len(), 16);
    }

    /// The filter's text is kept between frames, and made again when a
    /// row's state changes: a row is found by the state it is in now, not
    /// the one it was in when first filtered.
    #[test]
    fn the_filter_finds_rows_by_their_state_now() {
        let mut t = Connections::new(16);
        t.ingest(&listener(80, TcpState::Listen, 1));
        t.ingest(&listener(81, TcpState::Listen, 2));
        let key = |p: u16| RowKey::Listener(SocketAddr::from(([127, 0, 0, 1], p)));
        assert_eq!(t.rows("LISTEN").len(), 2);
        assert!(t.rows("closed").is_empty());
        t.ingest(&listener(80, TcpState::Closed, 3));
        assert_eq!(t.rows("closed"), vec![key(80)]);
        assert_eq!(t.rows("listen"), vec![key(81), key(80)]);
        assert_eq!(t.rows("127.0.0.1:81"), vec![key(81)]);
    }

    /// Rows are shown by when each was first seen, newest first, whatever
    /// order they came in, and rows evicted are not shown.
    #[test]
    fn rows_come_newest_first_seen_first_listeners_on_top() {
        let mut t = Connections::new(16);
        let key = |p: u16| RowKey::Listener(SocketAddr::from(([127, 0, 0, 1], p)));
        // Arrival order 1..=20, first seen at scattered times.
        for p in 1..=20u16 {
            t.ingest(&listener(p, TcpState::Closed, u64::from(p * 7 % 20)));
        }
        let shown = t.rows("");
        assert_eq!(shown.len(), t.len());
        let mut expect: Vec<u16> = (1..=20).filter(|p| t.get(key(*p)).is_some()).collect();
        expect.sort_by_key(|p| std::cmp::Reverse(p * 7 % 20));
        assert_eq!(shown, expect.into_iter().map(key).collect::<Vec<_>>());
    }
}
