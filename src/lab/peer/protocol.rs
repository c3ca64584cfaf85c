//! The peer protocol: the lines the runner and a peer send each other, one
//! JSON object per line, and the names a peer's reports use.
//!
//! - stdin: [`Command`]s from the runner (`Hello` first).
//! - stdout: [`Line`]s: a call event (`ts_ns`, `call`, `args`, then either
//!   `phase: "start"` when a call has been blocking for a moment, or `result`
//!   when it returned; `times` when one line stands for many calls, `data`
//!   for the bytes a read returned), `under_way` when a command loops without
//!   blocking in one call (a busy read, a heartbeat), `done: ID` when a
//!   command finished, or `warning`. A forked child (`server fork`) writes
//!   to the same stdout with `child: true`.
//!
//! The calls, flags and errno names a peer reports ([`REPORTED_CALLS`],
//! [`REPORTED_FLAGS`], [`ERRNO_NAMES`]) are the words the explanations must
//! cover.

use serde::{Deserialize, Serialize};

use crate::lab::script::{Call, LinkRule};

/// Runner → peer.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Command {
    Hello { ipv6: bool, port: u16 },
    Call { id: u64, call: Call, child: bool },
    Link { id: u64, rule: LinkRule },
}

/// Peer → runner.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ts_ns: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    /// The socket's own address once the call gave it one (bind, connect, accept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub child: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub done: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
    /// After `link drop`: the relative sequence numbers its filter drops at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drop_at: Option<Vec<u32>>,
    /// A call reported for this many calls in a row with the same result
    /// (a busy-poll loop's EAGAINs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u64>,
    /// The bytes a read returned, as text (see `CallEvent::data_of`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    /// The command goes on without blocking in one call (a busy-poll loop,
    /// a heartbeat): the runner may go to the next step, as it does when a
    /// call reports it blocks.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub under_way: bool,
    /// What a connected socket's `TCP_INFO` said, when it changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub info: Option<Box<InfoLine>>,
}

/// A connected TCP socket's own report (`getsockopt(TCP_INFO)`): its
/// congestion state and window, read by the peer that holds it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InfoLine {
    pub local: String,
    pub remote: String,
    /// `tcpi_ca_state`: 0 Open … 4 Loss.
    pub ca_state: u8,
    /// The state this peer reported last for the socket (none: its first report).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<u8>,
    pub cwnd: u32,
    /// `None`: infinite (no loss yet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssthresh: Option<u32>,
    pub rtt_us: u32,
    pub retransmits: u8,
    pub total_retrans: u32,
}

/// Every call a peer reports (a `call` event's `call`): the explanations
/// must cover each.
pub const REPORTED_CALLS: [&str; 22] = [
    "socket",
    "bind",
    "listen",
    "connect",
    "accept",
    "read",
    "recv",
    "recvfrom",
    "write",
    "send",
    "sendto",
    "shutdown",
    "close",
    "fork",
    "setsockopt",
    "getsockopt",
    "fcntl",
    "poll",
    "select",
    "epoll_create1",
    "epoll_ctl",
    "epoll_wait",
];

/// The flags and options the new calls name in their args (`recv(4,
/// MSG_PEEK)`, `fcntl(F_SETFL, O_NONBLOCK)`, `getsockopt(SO_ERROR)`), each
/// explained too.
pub const REPORTED_FLAGS: [&str; 3] = ["MSG_PEEK", "O_NONBLOCK", "SO_ERROR"];

/// Environment variable carrying the runner's pid, checked after PR_SET_PDEATHSIG.
pub const PARENT_PID_ENV: &str = "SYNACK_LAB_PARENT";

/// The errno values a peer names, with their C names (what a call's
/// `result` can be; the explanations must cover each).
pub const ERRNO_NAMES: [(i32, &str); 39] = [
    (libc::EPERM, "EPERM"),
    (libc::ENOENT, "ENOENT"),
    (libc::EINTR, "EINTR"),
    (libc::EIO, "EIO"),
    (libc::EBADF, "EBADF"),
    (libc::EAGAIN, "EAGAIN"),
    (libc::ENOMEM, "ENOMEM"),
    (libc::EACCES, "EACCES"),
    (libc::EFAULT, "EFAULT"),
    (libc::EINVAL, "EINVAL"),
    (libc::EMFILE, "EMFILE"),
    (libc::ENFILE, "ENFILE"),
    (libc::ENOSPC, "ENOSPC"),
    (libc::EPIPE, "EPIPE"),
    (libc::ENOTSOCK, "ENOTSOCK"),
    (libc::EDESTADDRREQ, "EDESTADDRREQ"),
    (libc::EMSGSIZE, "EMSGSIZE"),
    (libc::EPROTOTYPE, "EPROTOTYPE"),
    (libc::ENOPROTOOPT, "ENOPROTOOPT"),
    (libc::EPROTONOSUPPORT, "EPROTONOSUPPORT"),
    (libc::EOPNOTSUPP, "EOPNOTSUPP"),
    (libc::EAFNOSUPPORT, "EAFNOSUPPORT"),
    (libc::EADDRINUSE, "EADDRINUSE"),
    (libc::EADDRNOTAVAIL, "EADDRNOTAVAIL"),
    (libc::ENETDOWN, "ENETDOWN"),
    (libc::ENETUNREACH, "ENETUNREACH"),
    (libc::ENETRESET, "ENETRESET"),
    (libc::ECONNABORTED, "ECONNABORTED"),
    (libc::ECONNRESET, "ECONNRESET"),
    (libc::ENOBUFS, "ENOBUFS"),
    (libc::EISCONN, "EISCONN"),
    (libc::ENOTCONN, "ENOTCONN"),
    (libc::ESHUTDOWN, "ESHUTDOWN"),
    (libc::ETIMEDOUT, "ETIMEDOUT"),
    (libc::ECONNREFUSED, "ECONNREFUSED"),
    (libc::EHOSTDOWN, "EHOSTDOWN"),
    (libc::EHOSTUNREACH, "EHOSTUNREACH"),
    (libc::EALREADY, "EALREADY"),
    (libc::EINPROGRESS, "EINPROGRESS"),
];

/// The C name of an errno value.
#[must_use]
pub fn errno_name(e: i32) -> Option<&'static str> {
    ERRNO_NAMES.iter().find(|(v, _)| *v == e).map(|&(_, n)| n)
}

/// A call's `result` as a peer reports it: the errno's C name when it
/// failed, what it returned when that is a count, else `ok`.
pub(super) fn result_of(ret: isize, err: i32, count: bool) -> String {
    if ret < 0 {
        errno_name(err).map_or_else(|| format!("errno {err}"), str::to_owned)
    } else if count {
        ret.to_string()
    } else {
        "ok".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_names() {
        assert_eq!(errno_name(libc::ECONNRESET), Some("ECONNRESET"));
        assert_eq!(errno_name(libc::EPIPE), Some("EPIPE"));
        assert_eq!(errno_name(libc::EADDRINUSE), Some("EADDRINUSE"));
        assert_eq!(errno_name(libc::ECONNREFUSED), Some("ECONNREFUSED"));
        assert_eq!(errno_name(libc::ETIMEDOUT), Some("ETIMEDOUT"));
        assert_eq!(errno_name(99999), None);
        assert_eq!(result_of(-1, libc::EPIPE, true), "EPIPE");
        assert_eq!(result_of(0, 0, true), "0");
        assert_eq!(result_of(0, 0, false), "ok");
    }

    #[test]
    fn info_lines_round_trip() {
        let l = Line {
            ts_ns: Some(9),
            info: Some(Box::new(InfoLine {
                local: "127.0.0.1:40000".into(),
                remote: "127.0.0.1:7000".into(),
                ca_state: 3,
                from: Some(0),
                cwnd: 14,
                ssthresh: Some(14),
                rtt_us: 52,
                retransmits: 0,
                total_retrans: 1,
            })),
            ..Line::default()
        };
        let text = serde_json::to_string(&l).expect("serializes");
        assert_eq!(serde_json::from_str::<Line>(&text).expect("parses"), l);
    }

    #[test]
    fn lines_round_trip() {
        let l = Line {
            ts_ns: Some(5),
            call: Some("connect".into()),
            args: Some("127.0.0.1:7000".into()),
            phase: Some("start".into()),
            ..Line::default()
        };
        let text = serde_json::to_string(&l).expect("serializes");
        assert_eq!(
            text,
            r#"{"ts_ns":5,"call":"connect","args":"127.0.0.1:7000","phase":"start"}"#
        );
        assert_eq!(serde_json::from_str::<Line>(&text).expect("parses"), l);
        let child: Line = serde_json::from_str(
            r#"{"ts_ns":1,"call":"close","args":"connection","result":"ok","child":true}"#,
        )
        .expect("parses");
        assert!(child.child);
    }
}
