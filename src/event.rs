//! The event contract's types: everything the sources report and the views
//! show, in one [`Event`] type. A leaf of the crate: it knows the TCP model's
//! values and time, nothing of the sources, the app or the views.
//!
//! The views render these to the contract's strings (`"ok"`, `"ECONNRESET"`,
//! `"cut client2"` …) only at the edge (`output`, `ui`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::i18n::Lang;
use crate::tcp::track::{Analysis, ConnId};
use crate::tcp::{RawFrame, Segment, TcpState};
use crate::time::Timestamp;

/// Where a source sends its events. Sources run on plain threads; the wiring
/// (`run`) decides where the events go.
pub type EventSink = Arc<dyn Fn(Event) + Send + Sync>;

/// Which peer of the lab (or which side of a watched connection) did something.
/// `client`, `server`, `server2`, `client3`, `listener` … as in the contract.
pub type EndpointName = std::borrow::Cow<'static, str>;

/// A captured packet with what the tracker made of it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PacketEvent {
    /// Boxed: it comes boxed from the capture and is never copied.
    pub segment: Box<Segment>,
    /// Its connection, direction, relative numbers, scaled window, notes
    /// and duplicate ACK, as the tracker found them (the model may add
    /// `lost` to the notes). Serialized among the packet's own fields, and
    /// read through as if they were (`p.seq`, see the `Deref` below).
    #[serde(flatten)]
    pub analysis: Analysis,
    /// The lab peer whose socket sent it (`client2` …), when a peer owns
    /// the source address; `None` in a watch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<EndpointName>,
    /// The captured bytes, when the view asked to keep them (the details view).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw: Option<RawFrame>,
    /// A RST's reason, as the kernel names it (`NO_SOCKET`,
    /// `TCP_ABORT_ON_CLOSE` …: the `tcp_send_reset` tracepoint, root only);
    /// `None` for other packets and where the kernel did not say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rst_reason: Option<String>,
    /// Why the kernel dropped this segment on its way into the receiving
    /// socket, as the kernel names it (`TCP_LISTEN_OVERFLOW`,
    /// `SOCKET_FILTER` …: the `skb:kfree_skb` tracepoint, root only); one
    /// shared allocation per name. `None` where the kernel reported no drop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drop_reason: Option<std::sync::Arc<str>>,
    /// Whether the kernel confirms a retransmission (the
    /// `tcp:tcp_retransmit_skb`/`_synack` tracepoints, root only): `None`
    /// where it cannot say (no tracepoint) or the packet is no retransmission.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retransmit: Option<RetransmitWitness>,
}

/// What the kernel says of a packet that resends sequence space.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RetransmitWitness {
    /// The kernel reported retransmitting it.
    Kernel,
    /// The capture's analysis calls it a retransmission, and the kernel,
    /// which reports every one it makes, did not: a spurious or phantom
    /// one as far as the sender's kernel knows (a copy the capture saw
    /// twice, a reordering).
    InferredOnly,
}

impl RetransmitWitness {
    /// The contract's name (`--json`'s `retransmit`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            RetransmitWitness::Kernel => "kernel",
            RetransmitWitness::InferredOnly => "inferred_only",
        }
    }
}

/// A packet's analysis reads as the packet's own: `p.conn`, `p.seq`,
/// `p.notes` (the fields are defined once, in [`Analysis`]).
impl std::ops::Deref for PacketEvent {
    type Target = Analysis;
    fn deref(&self) -> &Analysis {
        &self.analysis
    }
}

impl std::ops::DerefMut for PacketEvent {
    fn deref_mut(&mut self) -> &mut Analysis {
        &mut self.analysis
    }
}

/// What a socket call returned.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CallResult {
    /// Success without a count (`connect`, `bind`, `close` …).
    Ok,
    /// A byte count (`read`, `write`); `Bytes(0)` from a read is end of file.
    /// Also any other count a call returns (`epoll_wait`: the ready sockets).
    Bytes(u64),
    /// The call failed with this errno (its C name: `ECONNRESET`, or
    /// `errno 134` for a number without a name).
    Errno(String),
}

impl CallResult {
    /// Reads the contract's string back: `ok`, a number, or an errno name.
    #[must_use]
    pub fn parse(s: &str) -> Self {
        if s == "ok" {
            CallResult::Ok
        } else if let Ok(n) = s.parse() {
            CallResult::Bytes(n)
        } else {
            CallResult::Errno(s.to_owned())
        }
    }

    /// The contract's string: `ok`, `42`, `ECONNRESET`.
    #[must_use]
    pub fn as_contract(&self) -> std::borrow::Cow<'_, str> {
        match self {
            CallResult::Ok => "ok".into(),
            CallResult::Bytes(n) => n.to_string().into(),
            CallResult::Errno(e) => e.as_str().into(),
        }
    }

    #[must_use]
    pub fn is_error(&self) -> bool {
        matches!(self, CallResult::Errno(_))
    }
}

/// A socket call made by a lab peer: reported when it returned, and for a
/// blocking call also when it began (`result: None`, the contract's
/// `"phase": "start"`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallEvent {
    pub ts: Timestamp,
    pub endpoint: EndpointName,
    /// `socket`, `bind`, `listen`, `connect`, `accept`, `read`, `write`,
    /// `send`, `shutdown`, `close`, `setsockopt`, `fork`, `epoll_create1`,
    /// `epoll_ctl`, `epoll_wait` …
    pub call: String,
    pub args: String,
    /// `None` while a blocking call is still blocked.
    pub result: Option<CallResult>,
    /// The socket's own address once the call gave it one (bind, connect,
    /// accept): ties the call to the packets and states of that socket.
    pub local: Option<SocketAddr>,
    /// How many calls in a row this one report stands for, each with this
    /// result (a busy-poll loop's `read() = EAGAIN ×N`); `None` is one.
    /// `ts` is when the last of them returned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u64>,
    /// The bytes a read, recv or recvfrom returned, as text (`\n`, `\xNN`
    /// escapes), when there were at most [`CallEvent::DATA_MAX`] of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
}

impl CallEvent {
    /// The most bytes a read's `data` shows: a lesson's messages, not a
    /// bulk transfer's filler (which gets its count only).
    pub const DATA_MAX: usize = 64;

    /// The `data` of bytes a call returned: printable ASCII as it is, `\n`
    /// `\r` `\t` `\\` `\"` escaped, any other byte as `\xNN`; `None`
    /// for more than [`CallEvent::DATA_MAX`] bytes, or none.
    #[must_use]
    pub fn data_of(bytes: &[u8]) -> Option<String> {
        if bytes.is_empty() || bytes.len() > Self::DATA_MAX {
            return None;
        }
        let mut s = String::with_capacity(bytes.len());
        for &b in bytes {
            match b {
                b'\n' => s.push_str("\\n"),
                b'\r' => s.push_str("\\r"),
                b'\t' => s.push_str("\\t"),
                b'\\' => s.push_str("\\\\"),
                b'"' => s.push_str("\\\""),
                0x20..=0x7e => s.push(char::from(b)),
                _ => s.push_str(&format!("\\x{b:02x}")),
            }
        }
        Some(s)
    }

    /// A blocking call that began and has not returned yet.
    #[must_use]
    pub fn is_start(&self) -> bool {
        self.result.is_none()
    }
}

/// What the lab itself did (not a peer's socket call).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LabAction {
    /// The script paused for a while.
    Sleep(Duration),
    /// A sysctl was set inside the lab.
    Sysctl { name: String, value: String },
    /// Segments arriving at the peers' sockets are dropped from now on
    /// (after capture); `only`: at that peer's sockets only.
    LinkCut { only: Option<EndpointName> },
    /// The link carries segments again.
    LinkRestored { only: Option<EndpointName> },
    /// About `per_10k` in 10,000 segments arriving at the peers' sockets
    /// (`only`: that peer's) are dropped from now on, after capture (never a
    /// SYN; which ones: [`crate::model::link::loss_drops`]).
    LinkLoss {
        per_10k: u32,
        only: Option<EndpointName>,
    },
    /// The chosen full-sized data segments (`segments`, 1-based) arriving
    /// there are dropped, every copy, after capture: those whose relative
    /// sequence number is in `at` (empty when no connection was open).
    LinkDrop {
        segments: Vec<u32>,
        at: Vec<u32>,
        only: Option<EndpointName>,
    },
    /// A peer process was killed (SIGKILL).
    Kill { endpoint: EndpointName },
    /// The script's last step is done. The lab may stay up (the TUI keeps it
    /// until the user restarts or quits) or close right after.
    Ended,
    /// The lab is being torn down: packets from now on (the kernel closing
    /// the killed peers' sockets) belong to no step.
    Closing,
}

impl LabAction {
    /// Every [`LabAction::kind`], for lists and coverage tests.
    pub const KINDS: [&'static str; 9] = [
        "sleep",
        "sysctl",
        "link-cut",
        "link-restore",
        "link-loss",
        "link-drop",
        "kill",
        "end",
        "closing",
    ];

    /// What kind of action this is, without its arguments (`link-cut`, `kill` …).
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            LabAction::Sleep(_) => "sleep",
            LabAction::Sysctl { .. } => "sysctl",
            LabAction::LinkCut { .. } => "link-cut",
            LabAction::LinkRestored { .. } => "link-restore",
            LabAction::LinkLoss { .. } => "link-loss",
            LabAction::LinkDrop { .. } => "link-drop",
            LabAction::Kill { .. } => "kill",
            LabAction::Ended => "end",
            LabAction::Closing => "closing",
        }
    }
}

/// Who asked the lab to act.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Origin {
    /// A step of the script.
    #[default]
    Script,
    /// A key pressed by the user (`k`, `c` in the TUI).
    User,
}

/// The lab acted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabEvent {
    pub ts: Timestamp,
    pub action: LabAction,
    pub result: CallResult,
    #[serde(default)]
    pub origin: Origin,
}

/// A step's narration, in the languages the script has.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Narration {
    pub en: String,
    pub zh: Option<String>,
}

impl Narration {
    /// The text in `lang`, or in English when the script has none in it.
    #[must_use]
    pub fn text(&self, lang: Lang) -> &str {
        match lang {
            Lang::Zh => self.zh.as_deref().unwrap_or(&self.en),
            Lang::En => &self.en,
        }
    }
}

/// A step of the script began.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepEvent {
    pub ts: Timestamp,
    /// 1-based.
    pub index: usize,
    /// Steps in the script.
    pub total: usize,
    /// The step's line in the script file.
    pub line: usize,
    pub narration: Option<Narration>,
}

/// Where a state came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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

/// A later word on a state already shown: the kernel confirms an inferred
/// state, or says the socket is in another (the state shown is withdrawn:
/// the socket is in `actual` from here); or the kernel adds to what it said
/// (an orphaned FIN-WAIT-2 and its timer).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckEvent {
    pub ts: Timestamp,
    pub conn: Option<ConnId>,
    pub endpoint: EndpointName,
    pub local: SocketAddr,
    pub remote: Option<SocketAddr>,
    /// The state the socket was shown in.
    pub shown: TcpState,
    /// When that state was shown (its `state` event's time).
    pub shown_at: Timestamp,
    /// The state the socket is in, by `source`'s word: `shown` when it
    /// confirms, another when the state shown is withdrawn.
    pub actual: TcpState,
    pub source: StateSource,
    /// Seconds left on the kernel's timer for the socket, when it reports one.
    pub timer: Option<f64>,
    pub note: Option<String>,
}

impl CheckEvent {
    /// The state shown was not so (the socket is in `actual`).
    #[must_use]
    pub fn withdraws(&self) -> bool {
        self.shown != self.actual
    }
}

/// A listener's accept queue and the namespace's overflow counters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
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

/// The bytes waiting in a connected socket's queues changed (what `ss`
/// shows as Recv-Q and Send-Q).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SocketQueuesEvent {
    pub ts: Timestamp,
    pub conn: Option<ConnId>,
    pub endpoint: EndpointName,
    pub local: SocketAddr,
    pub remote: SocketAddr,
    /// Received and not yet read by the program.
    pub recv_q: u32,
    /// Written by the program and not yet acknowledged by the peer.
    pub send_q: u32,
}

/// A TCP socket's congestion state (the kernel's `tcp_ca_state`: what its
/// sender believes about the path).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CaState {
    /// Nothing wrong: ACKs come in order.
    Open,
    /// Duplicate ACKs or SACKs came: something may be lost or reordered.
    Disorder,
    /// The window was cut without a loss (ECN, local congestion).
    Cwr,
    /// Fast retransmission: a loss seen by duplicate ACKs/SACKs is repaired.
    Recovery,
    /// The retransmission timer ran out: everything in flight is taken as lost.
    Loss,
    /// A value this synack does not know (a newer kernel's).
    Other(u8),
}

impl CaState {
    /// Every state synack names, for lists and coverage tests.
    pub const NAMED: [CaState; 5] = [
        CaState::Open,
        CaState::Disorder,
        CaState::Cwr,
        CaState::Recovery,
        CaState::Loss,
    ];

    /// From the kernel's number (`TCP_CA_Open` = 0 … `TCP_CA_Loss` = 4).
    #[must_use]
    pub fn from_kernel(v: u8) -> Self {
        match v {
            0 => CaState::Open,
            1 => CaState::Disorder,
            2 => CaState::Cwr,
            3 => CaState::Recovery,
            4 => CaState::Loss,
            n => CaState::Other(n),
        }
    }

    /// The contract's name: the kernel's without `TCP_CA_` (`Open`,
    /// `Disorder`, `CWR`, `Recovery`, `Loss`); a number the kernel has no
    /// name for here is `state N`.
    #[must_use]
    pub fn name(self) -> std::borrow::Cow<'static, str> {
        match self {
            CaState::Open => "Open".into(),
            CaState::Disorder => "Disorder".into(),
            CaState::Cwr => "CWR".into(),
            CaState::Recovery => "Recovery".into(),
            CaState::Loss => "Loss".into(),
            CaState::Other(n) => format!("state {n}").into(),
        }
    }
}

/// Who told a socket's congestion state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CongSource {
    /// The socket's own report: its program read `TCP_INFO` (the lab's
    /// peers, after each call and while a transfer runs). A sample: a state
    /// shorter than the time between two reads is not seen.
    Socket,
    /// The kernel's tracepoint (`tcp:tcp_cong_state_set`, root): every
    /// change, at its time; the state only.
    Kernel,
}

impl CongSource {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            CongSource::Socket => "socket",
            CongSource::Kernel => "kernel",
        }
    }

    /// How `--text` and handouts name it: the socket's own report is never
    /// passed off as the kernel's tracepoint.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            CongSource::Socket => "socket's TCP_INFO",
            CongSource::Kernel => "kernel tracepoint",
        }
    }
}

/// A connected socket's congestion window and state, as its source told
/// them. `from` is the state the same source told last for this socket
/// (`None`: it told none before): a row on the ladder is a change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CongestionEvent {
    pub ts: Timestamp,
    pub conn: Option<ConnId>,
    pub endpoint: EndpointName,
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub source: CongSource,
    pub state: CaState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<CaState>,
    /// The congestion window, in segments (`tcpi_snd_cwnd`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwnd: Option<u32>,
    /// The slow-start threshold, in segments; `None` while it is infinite
    /// (no loss yet) or not told.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssthresh: Option<u32>,
    /// The smoothed round-trip time, in microseconds (`tcpi_rtt`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtt_us: Option<u32>,
    /// Retransmission timeouts in a row not yet answered (`tcpi_retransmits`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retransmits: Option<u8>,
    /// Every segment the socket has retransmitted (`tcpi_total_retrans`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_retrans: Option<u32>,
}

impl CongestionEvent {
    /// The state changed (a row of its own on the ladder): the same source
    /// told another state last, or told none and this one is not Open
    /// (where every connection begins).
    #[must_use]
    pub fn is_change(&self) -> bool {
        match self.from {
            Some(f) => f != self.state,
            None => self.state != CaState::Open,
        }
    }
}

/// Everything that reaches the views, in one type. Each kind is boxed: an
/// event moves through the reorder window, the merge's hold and the views'
/// queues, and a small one moves cheaply (a packet's is 280 bytes, a
/// state's 150; the event is 40).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Event {
    Packet(Box<PacketEvent>),
    Call(Box<CallEvent>),
    Lab(Box<LabEvent>),
    Step(Box<StepEvent>),
    State(Box<StateEvent>),
    Check(Box<CheckEvent>),
    Queue(Box<QueueEvent>),
    SocketQueues(Box<SocketQueuesEvent>),
    /// A socket's congestion window and state (TCP_INFO or the kernel's
    /// tracepoint).
    Congestion(Box<CongestionEvent>),
    Warning {
        ts: Timestamp,
        message: String,
    },
}

impl Event {
    #[must_use]
    pub fn ts(&self) -> Timestamp {
        match self {
            Event::Packet(p) => p.segment.ts,
            Event::Call(c) => c.ts,
            Event::Lab(l) => l.ts,
            Event::Step(s) => s.ts,
            Event::State(s) => s.ts,
            Event::Check(c) => c.ts,
            Event::Queue(q) => q.ts,
            Event::SocketQueues(q) => q.ts,
            Event::Congestion(c) => c.ts,
            Event::Warning { ts, .. } => *ts,
        }
    }

    /// Asks the CPU to bring the event's box into its caches (see
    /// `model::merge::hold`: events held under a flood).
    pub fn prefetch(&self) {
        use crate::cache::prefetch;
        match self {
            Event::Packet(p) => prefetch(&**p),
            Event::Call(c) => prefetch(&**c),
            Event::Lab(l) => prefetch(&**l),
            Event::Step(s) => prefetch(&**s),
            Event::State(s) => prefetch(&**s),
            Event::Check(c) => prefetch(&**c),
            Event::Queue(q) => prefetch(&**q),
            Event::SocketQueues(q) => prefetch(&**q),
            Event::Congestion(c) => prefetch(&**c),
            Event::Warning { .. } => {}
        }
    }

    /// Moves the event to another time (the merge places a late report at
    /// the release frontier).
    pub fn set_ts(&mut self, ts: Timestamp) {
        match self {
            Event::Packet(p) => p.segment.ts = ts,
            Event::Call(c) => c.ts = ts,
            Event::Lab(l) => l.ts = ts,
            Event::Step(s) => s.ts = ts,
            Event::State(s) => s.ts = ts,
            Event::Check(c) => c.ts = ts,
            Event::Queue(q) => q.ts = ts,
            Event::SocketQueues(q) => q.ts = ts,
            Event::Congestion(c) => c.ts = ts,
            Event::Warning { ts: t, .. } => *t = ts,
        }
    }
}

/// Text that came from outside (scripts, the wire, the kernel, peers) with
/// every control character replaced, so it cannot move the cursor, change
/// colours or set a window title when printed.
#[must_use]
pub fn sanitize(s: &str) -> std::borrow::Cow<'_, str> {
    if s.chars().any(char::is_control) {
        s.chars()
            .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
            .collect::<String>()
            .into()
    } else {
        s.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tcp::track::{DupAck, Notes, Role};

    /// A packet event as recordings and `--record` write it: the analysis's
    /// fields among the packet's own, in this order.
    #[test]
    fn a_packet_event_serializes_its_fields_in_order_and_reads_back() {
        let seg = Segment {
            ts: Timestamp(1_500),
            proto: crate::tcp::Proto::Tcp,
            src: "127.0.0.1:40000".parse().unwrap(),
            dst: "127.0.0.1:7000".parse().unwrap(),
            payload_len: 5,
            ip_id: 0,
            tcp: None,
            malformed: None,
        };
        let mut p = PacketEvent {
            segment: Box::new(seg),
            analysis: Analysis {
                conn: ConnId(3),
                from: Role::Server,
                seq: 1,
                ack: 6,
                win: 65_535,
                notes: Notes::LOST,
                dup_ack: Some(DupAck { num: 2, of: 9 }),
            },
            endpoint: Some("server".into()),
            raw: Some(RawFrame {
                link: crate::tcp::LinkType::RawIp,
                bytes: Box::new([0x45, 0]),
            }),
            rst_reason: None,
            drop_reason: None,
            retransmit: None,
        };
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(
            json,
            r#"{"segment":{"ts":1500,"proto":"Tcp","src":"127.0.0.1:40000","dst":"127.0.0.1:7000","payload_len":5,"tcp":null,"malformed":null},"conn":3,"from":"Server","seq":1,"ack":6,"win":65535,"notes":2048,"dup_ack":{"num":2,"of":9},"endpoint":"server","raw":{"link":"RawIp","bytes":"4500"}}"#
        );
        assert_eq!(serde_json::from_str::<PacketEvent>(&json).unwrap(), p);
        p.analysis.dup_ack = None;
        p.endpoint = None;
        p.raw = None;
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(
            json,
            r#"{"segment":{"ts":1500,"proto":"Tcp","src":"127.0.0.1:40000","dst":"127.0.0.1:7000","payload_len":5,"tcp":null,"malformed":null},"conn":3,"from":"Server","seq":1,"ack":6,"win":65535,"notes":2048}"#
        );
        assert_eq!(serde_json::from_str::<PacketEvent>(&json).unwrap(), p);
    }

    #[test]
    fn call_results_round_trip_through_the_contract_strings() {
        for s in ["ok", "0", "4096", "ECONNRESET", "errno 134"] {
            assert_eq!(CallResult::parse(s).as_contract(), s);
        }
        assert_eq!(CallResult::parse("7"), CallResult::Bytes(7));
        assert!(CallResult::parse("EPIPE").is_error());
        assert!(!CallResult::parse("0").is_error());
    }

    #[test]
    fn sanitize_removes_every_control_character() {
        let hostile = "a\x1b]0;pwned\x07b\x1b[2Jc\r\n\u{9b}d";
        let clean = sanitize(hostile);
        assert!(!clean.chars().any(char::is_control), "{clean:?}");
        assert!(clean.starts_with('a') && clean.ends_with('d'));
        assert!(matches!(sanitize("plain"), std::borrow::Cow::Borrowed(_)));
    }

    #[test]
    fn narration_falls_back_to_english() {
        let n = Narration {
            en: "hello".into(),
            zh: None,
        };
        assert_eq!(n.text(Lang::Zh), "hello");
        let n = Narration {
            en: "hello".into(),
            zh: Some("你好".into()),
        };
        assert_eq!(n.text(Lang::Zh), "你好");
        assert_eq!(n.text(Lang::En), "hello");
    }
}
