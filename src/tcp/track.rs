//! Connection tracking: 4-tuple → connection with a stable id and roles,
//! relative sequence numbers as Wireshark computes them, window scaling and
//! the per-segment analysis notes (Wireshark's TCP analysis definitions).

use std::fmt;

/// A connection's stable id, counting from 1 in order of first sight.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u32);

impl fmt::Display for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Which side of a connection sent a segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
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
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Notes(pub u16);

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

    /// Contract names, in the order they are printed.
    pub const NAMES: [(Notes, &'static str); 12] = [
        (Notes::RETRANSMISSION, "retransmission"),
        (Notes::SPURIOUS_RETRANSMISSION, "spurious_retransmission"),
        (Notes::OUT_OF_ORDER, "out_of_order"),
        (Notes::DUP_ACK, "dup_ack"),
        (Notes::ZERO_WINDOW, "zero_window"),
        (Notes::ZERO_WINDOW_PROBE, "zero_window_probe"),
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
