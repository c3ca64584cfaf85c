//! The event funnel: every source turns what it reads into an [`Event`]; one
//! mutator (`App::update`, with the TUI) and the headless writers read them.

pub mod model;
pub mod reorder;
pub mod run;
pub mod states;

use std::net::SocketAddr;

use crate::tcp::Segment;
use crate::tcp::track::{ConnId, Notes, Role};
use crate::time::Timestamp;

/// Where every source sends its events: one funnel, read by one consumer.
/// Unbounded sends never block, so sources on plain threads can use it too.
pub type EventSink = tokio::sync::mpsc::UnboundedSender<Event>;

/// Which peer of the lab (or which side of a watched connection) did something.
/// `client`, `server`, `server2`, `client3`, `listener` … as in the contract.
pub type EndpointName = String;

/// A captured packet with what the tracker made of it.
#[derive(Clone, Debug, PartialEq)]
pub struct PacketEvent {
    pub segment: Segment,
    pub conn: ConnId,
    pub from: Role,
    /// Relative sequence and acknowledgment numbers (each direction's ISN is 0).
    pub seq: u32,
    pub ack: u32,
    /// Window scaled by the sender's window scale once the handshake set it.
    pub win: u32,
    pub notes: Notes,
}

/// A socket call made by a lab peer, reported when it returned (or, for a
/// blocking call, also when it began: `phase == Some("start")`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallEvent {
    pub ts: Timestamp,
    pub endpoint: EndpointName,
    /// `socket`, `bind`, `listen`, `connect`, `accept`, `read`, `write`, `send`,
    /// `shutdown`, `close`, `setsockopt`, `fork`, `kill`, `sysctl`, `link` …
    pub call: String,
    pub args: String,
    /// `Some(Phase::Start)` when a blocking call began; `None` when it returned.
    pub phase: Option<Phase>,
    /// `ok`, a byte count (`"0"` is EOF) or an errno name (`ECONNRESET`).
    /// Empty for `phase == Some(Start)`.
    pub result: String,
    /// The socket's own address once the call gave it one (bind, connect,
    /// accept): ties the call to the packets and states of that socket.
    pub local: Option<SocketAddr>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Start,
}

/// RFC 9293 connection states, printed as the RFC writes them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TcpState {
    Closed,
    Listen,
    SynSent,
    SynReceived,
    Established,
    FinWait1,
    FinWait2,
    CloseWait,
    Closing,
    LastAck,
    TimeWait,
}

impl TcpState {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            TcpState::Closed => "CLOSED",
            TcpState::Listen => "LISTEN",
            TcpState::SynSent => "SYN-SENT",
            TcpState::SynReceived => "SYN-RECEIVED",
            TcpState::Established => "ESTABLISHED",
            TcpState::FinWait1 => "FIN-WAIT-1",
            TcpState::FinWait2 => "FIN-WAIT-2",
            TcpState::CloseWait => "CLOSE-WAIT",
            TcpState::Closing => "CLOSING",
            TcpState::LastAck => "LAST-ACK",
            TcpState::TimeWait => "TIME-WAIT",
        }
    }
}

impl std::fmt::Display for TcpState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a state came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StateSource {
    /// Read from the kernel (sock_diag or the inet_sock_set_state tracepoint).
    Kernel,
    /// Inferred from captured segments by the RFC 9293 machine.
    Inferred,
}

impl StateSource {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            StateSource::Kernel => "kernel",
            StateSource::Inferred => "inferred",
        }
    }
}

/// An endpoint's state changed.
#[derive(Clone, Debug, PartialEq)]
pub struct StateEvent {
    pub ts: Timestamp,
    /// The connection, when known (a listener has none).
    pub conn: Option<ConnId>,
    pub endpoint: EndpointName,
    pub local: SocketAddr,
    pub remote: Option<SocketAddr>,
    /// `None` when the socket was not seen before (it appeared in this state).
    pub from: Option<TcpState>,
    pub to: TcpState,
    pub source: StateSource,
    /// Seconds left on the kernel's timer for this socket, when it reports one.
    pub timer: Option<f64>,
    /// Why the state is uncertain or noteworthy (an inference, a disagreement
    /// between the kernel and the packets).
    pub note: Option<String>,
}

/// A listener's accept queue and the namespace's overflow counters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueEvent {
    pub ts: Timestamp,
    pub local: SocketAddr,
    pub accept_queue: u32,
    pub backlog: u32,
    /// TcpExtListenOverflows of the namespace.
    pub overflows: u64,
    /// TcpExtListenDrops of the namespace.
    pub drops: u64,
}

/// Everything that reaches the views, in one type.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    Packet(Box<PacketEvent>),
    Call(CallEvent),
    State(StateEvent),
    Queue(QueueEvent),
    Warning { ts: Timestamp, message: String },
}

impl Event {
    #[must_use]
    pub fn ts(&self) -> Timestamp {
        match self {
            Event::Packet(p) => p.segment.ts,
            Event::Call(c) => c.ts,
            Event::State(s) => s.ts,
            Event::Queue(q) => q.ts,
            Event::Warning { ts, .. } => *ts,
        }
    }
}
