//! Kernel socket states: the socket table (sock_diag), exact transitions
//! (the `sock:inet_sock_set_state` tracepoint), why each reset was sent
//! (`tcp:tcp_send_reset`) and the listen-queue counters.
//!
//! These are sources: they do I/O and hand back small owned values
//! (sockets, transitions and resets, defined with the model that takes
//! them: `crate::model::reports`); the model turns them into events.

pub mod diag;
pub mod netstat;
pub mod poll;
pub mod trace;

/// Where states come from without the tracepoint (rootless, or no tracefs):
/// one wording wherever synack says it.
pub const POLLED: &str = "states come from sock_diag polls of the kernel's socket table, and what happens between two polls is inferred from the packets";

use crate::tcp::TcpState;

pub use poll::{KernelPoller, KernelReport};

/// What went wrong while asking the kernel about sockets.
#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    #[error(
        "cannot open a NETLINK_SOCK_DIAG socket ({0}); the kernel needs inet_diag/tcp_diag (try `modprobe tcp_diag`)"
    )]
    Open(#[source] std::io::Error),
    #[error("cannot send the sock_diag request ({0}); the netlink socket may have been closed")]
    Send(#[source] std::io::Error),
    #[error("cannot read the sock_diag answer ({0}); retry the dump")]
    Recv(#[source] std::io::Error),
    #[error(
        "the kernel refused the sock_diag request: {0}; (EINVAL: the port filter was rejected; ENOENT: tcp_diag is not loaded, try `modprobe tcp_diag`)"
    )]
    Refused(#[source] std::io::Error),
    #[error("too many ports for the kernel filter ({0}, at most {max}); watch fewer ports", max = diag::MAX_PORTS)]
    TooManyPorts(usize),
    #[error("cannot read {path} ({source}); is /proc mounted?")]
    Proc {
        path: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} has no {field} counter; this kernel's TcpExt table is not what synack expects")]
    MissingCounter {
        path: &'static str,
        field: &'static str,
    },
}

/// Maps a Linux `TCP_*` state number (include/net/tcp_states.h) to the RFC 9293 name.
///
/// Linux has two states RFC 9293 does not: `TCP_NEW_SYN_RECV` (12, a request
/// socket waiting for the final ACK) is shown as SYN-RECEIVED, and `TCP_CLOSE`
/// (7) is CLOSED. Unknown numbers give `None`.
#[must_use]
pub fn linux_state(n: u8) -> Option<TcpState> {
    Some(match n {
        1 => TcpState::Established,
        2 => TcpState::SynSent,
        3 | 12 => TcpState::SynReceived,
        4 => TcpState::FinWait1,
        5 => TcpState::FinWait2,
        6 => TcpState::TimeWait,
        7 => TcpState::Closed,
        8 => TcpState::CloseWait,
        9 => TcpState::LastAck,
        10 => TcpState::Listen,
        11 => TcpState::Closing,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_every_linux_state() {
        assert_eq!(linux_state(1), Some(TcpState::Established));
        assert_eq!(linux_state(3), Some(TcpState::SynReceived));
        assert_eq!(linux_state(12), Some(TcpState::SynReceived));
        assert_eq!(linux_state(6), Some(TcpState::TimeWait));
        assert_eq!(linux_state(7), Some(TcpState::Closed));
        assert_eq!(linux_state(10), Some(TcpState::Listen));
        assert_eq!(linux_state(0), None);
        assert_eq!(linux_state(13), None);
    }
}
