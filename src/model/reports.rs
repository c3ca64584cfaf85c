//! What the kernel reports, as the model takes it: sockets from a sock_diag
//! walk ([`SockInfo`]), transitions from the `sock:inet_sock_set_state`
//! tracepoint ([`Transition`]), the resets the kernel sent and why ([`Reset`],
//! the `tcp:tcp_send_reset` tracepoint), what a run's kernel can tell ([`KernelMode`])
//! and the namespace's listen counters. Plain values: the sources in
//! `crate::kernel` fill them, the model reads them, recordings keep them.

use std::net::SocketAddr;

use crate::tcp::TcpState;
use crate::time::Timestamp;

/// What the kernel can tell in a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum KernelMode {
    /// No kernel view (reading a file).
    None,
    /// sock_diag polls only: short states are missed.
    PollOnly,
    /// Polls plus the tracepoint: every transition.
    Exact,
}

/// Kernel counters of the namespace, read with each snapshot.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ListenCounters {
    pub overflows: u64,
    pub drops: u64,
}

/// Which kernel timer is pending on a socket (`idiag_timer`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum TimerKind {
    /// 1: retransmission (also tail-loss probe and RACK reorder timers; a
    /// request socket's SYN-ACK retransmission).
    Retransmit,
    /// 4: zero-window probe.
    ZeroWindowProbe,
    /// 2: keepalive (the socket's `sk_timer`, also used for FIN-WAIT-2).
    Keepalive,
    /// 3: TIME-WAIT expiry.
    TimeWait,
    Other(u8),
}

impl TimerKind {
    /// `idiag_timer` as the kernel numbers it (0: none).
    #[must_use]
    pub fn from_kernel(n: u8) -> Option<Self> {
        Some(match n {
            0 => return None,
            1 => TimerKind::Retransmit,
            2 => TimerKind::Keepalive,
            3 => TimerKind::TimeWait,
            4 => TimerKind::ZeroWindowProbe,
            other => TimerKind::Other(other),
        })
    }
}

/// A pending timer: what it is, milliseconds left, retransmissions so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SockTimer {
    pub kind: TimerKind,
    pub expires_ms: u32,
    pub retransmits: u8,
}

/// The few `tcp_info` fields synack shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TcpInfoLite {
    pub rtt_us: u32,
    pub rttvar_us: u32,
    pub snd_cwnd: u32,
    pub snd_mss: u32,
    pub rcv_mss: u32,
    pub retransmits: u8,
    pub total_retrans: u32,
    pub unacked: u32,
}

/// One socket as the kernel reports it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SockInfo {
    pub state: TcpState,
    pub local: SocketAddr,
    pub remote: SocketAddr,
    /// Bytes not yet read; for LISTEN the accept-queue length (as `ss` shows).
    pub recv_q: u32,
    /// Bytes not yet acknowledged; for LISTEN the backlog (as `ss` shows).
    pub send_q: u32,
    pub timer: Option<SockTimer>,
    /// Present for full sockets; TIME-WAIT and request sockets have none.
    pub info: Option<TcpInfoLite>,
    pub inode: u32,
    pub uid: u32,
    pub cookie: u64,
}

#[cfg(test)]
impl SockInfo {
    /// A connection's socket in `state` with nothing queued (for tests).
    #[must_use]
    pub fn bare(state: TcpState, local: SocketAddr, remote: SocketAddr) -> Self {
        Self {
            state,
            local,
            remote,
            recv_q: 0,
            send_q: 0,
            timer: None,
            info: None,
            inode: 0,
            uid: 0,
            cookie: 0,
        }
    }
}

/// One state change of one socket, as the kernel made it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Transition {
    /// Wall-clock time (CLOCK_REALTIME, like packet timestamps).
    pub ts: Timestamp,
    /// The socket's own address and port (`sport` in the tracepoint).
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub from: TcpState,
    pub to: TcpState,
    /// The kernel address of the socket: stable for the socket's life, so it
    /// ties the port-0 SYN-SENT to the rest of the connection.
    pub skaddr: u64,
}

/// A reset the kernel sent, and why: the `tcp:tcp_send_reset` tracepoint
/// (root only). It fires just before the RST leaves, so its time is a little
/// before the captured packet's.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Reset {
    /// Wall-clock time (CLOCK_REALTIME, like packet timestamps).
    pub ts: Timestamp,
    /// The RST's source address: the socket that sent it, or, when no
    /// socket did (`NO_SOCKET`: the segment it answers found none), the
    /// address that segment was sent to.
    pub src: SocketAddr,
    /// The RST's destination.
    pub dst: SocketAddr,
    /// The kernel's name for why (`NO_SOCKET`, `TCP_ABORT_ON_CLOSE` …), as
    /// the event's format file names it; the number when it names none.
    pub reason: String,
}

/// A segment the kernel dropped on its way into a socket, and why: the
/// `skb:kfree_skb` tracepoint (root only). The record names the socket
/// that received it (`rx_sk`), not the segment's ports: the tracer knows
/// the socket by its address from the transitions it traced, so a drop
/// names the receiving socket's addresses, and the model ties it to the
/// last segment captured towards that socket before it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SkbDrop {
    /// Wall-clock time (CLOCK_REALTIME, like packet timestamps).
    pub ts: Timestamp,
    /// The receiving socket's own address (a listener's may be unspecified,
    /// `0.0.0.0:7000`).
    pub local: SocketAddr,
    /// Its peer; `None` for a listener.
    pub remote: Option<SocketAddr>,
    /// The kernel's name for why (`TCP_LISTEN_OVERFLOW`, `SOCKET_FILTER` …),
    /// as the event's format file names it; the number when it names none.
    /// Shared: each name is one allocation for the whole run.
    pub reason: std::sync::Arc<str>,
}

/// A segment the kernel retransmitted: the `tcp:tcp_retransmit_skb` and
/// `tcp:tcp_retransmit_synack` tracepoints (root only). Each fires just
/// after the copy is handed to the device (so after the capture saw it).
/// Retransmissions the kernel failed to send (`err` ≠ 0) are not reported.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Retransmit {
    /// Wall-clock time (CLOCK_REALTIME, like packet timestamps).
    pub ts: Timestamp,
    /// The retransmitted segment's source and destination.
    pub src: SocketAddr,
    pub dst: SocketAddr,
    /// A listener's SYN-ACK (`tcp_retransmit_synack`), not a full socket's segment.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub synack: bool,
}

/// What the tracer reads besides the transitions, once it is set up: the
/// model tells a retransmission the kernel did not confirm only when the
/// kernel would have.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Traces {
    pub resets: bool,
    pub drops: bool,
    pub retransmits: bool,
    /// `tcp:tcp_cong_state_set` (recorded inputs made before it was read have none).
    #[serde(default)]
    pub cong: bool,
}
