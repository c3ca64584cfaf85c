//! The libc helpers a peer uses around its reported calls: errno, a
//! socket's address and options, and the link's socket filters. Nothing
//! here is reported; each `unsafe` call is wrapped in a safe function.

use std::net::SocketAddr;

use crate::lab::filter;
use crate::lab::script::LinkRule;

/// Whether select() can watch `fd` (an fd_set holds fds below FD_SETSIZE).
pub(super) fn fd_fits_select(fd: i32) -> bool {
    usize::try_from(fd).is_ok_and(|f| f < libc::FD_SETSIZE)
}

/// The calling thread's errno, as the last call left it.
pub(super) fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// The address a socket is bound to (getsockname), if it has one.
pub(super) fn local_addr(fd: i32) -> Option<SocketAddr> {
    // SAFETY: the fd is borrowed for the duration of the call only and is not closed.
    let sock = std::mem::ManuallyDrop::new(unsafe {
        <socket2::Socket as std::os::fd::FromRawFd>::from_raw_fd(fd)
    });
    let addr = sock.local_addr().ok()?.as_socket()?;
    (addr.port() != 0).then_some(addr)
}

/// The address a connected socket's peer has (getpeername), if any.
pub(super) fn peer_addr(fd: i32) -> Option<SocketAddr> {
    // SAFETY: the fd is borrowed for the duration of the call only and is not closed.
    let sock = std::mem::ManuallyDrop::new(unsafe {
        <socket2::Socket as std::os::fd::FromRawFd>::from_raw_fd(fd)
    });
    sock.peer_addr().ok()?.as_socket()
}

/// What a TCP socket's `TCP_INFO` says of its congestion control.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct CongSample {
    /// `tcpi_state` (the kernel's TCP_ESTABLISHED = 1 …).
    pub state: u8,
    pub ca_state: u8,
    pub cwnd: u32,
    /// `None` while infinite.
    pub ssthresh: Option<u32>,
    pub rtt_us: u32,
    pub retransmits: u8,
    pub total_retrans: u32,
}

impl CongSample {
    /// The kernel's `TCP_INFINITE_SSTHRESH`.
    const INFINITE_SSTHRESH: u32 = 0x7fff_ffff;

    /// Whether a report of `self` after `before` tells something new (the
    /// round-trip time alone moves all the time and does not count).
    pub fn differs(&self, before: &CongSample) -> bool {
        (self.ca_state, self.cwnd, self.ssthresh, self.retransmits)
            != (
                before.ca_state,
                before.cwnd,
                before.ssthresh,
                before.retransmits,
            )
            || self.total_retrans != before.total_retrans
    }

    /// Whether the socket is one with a sender worth reporting: connected,
    /// or closing with data possibly still in flight (not a listener, not
    /// a SYN-SENT, not FIN-WAIT-2 or TIME-WAIT).
    pub fn sends(&self) -> bool {
        // ESTABLISHED, FIN_WAIT1, CLOSE_WAIT, LAST_ACK, CLOSING.
        matches!(self.state, 1 | 4 | 8 | 9 | 11)
    }
}

/// A TCP socket's congestion control, from `getsockopt(TCP_INFO)`; `None`
/// for another socket or a kernel whose answer is too short.
pub(super) fn cong_sample(fd: i32) -> Option<CongSample> {
    let info = tcp_info(fd)?;
    Some(CongSample {
        state: info.tcpi_state,
        ca_state: info.tcpi_ca_state,
        cwnd: info.tcpi_snd_cwnd,
        ssthresh: (info.tcpi_snd_ssthresh < CongSample::INFINITE_SSTHRESH)
            .then_some(info.tcpi_snd_ssthresh),
        rtt_us: info.tcpi_rtt,
        retransmits: info.tcpi_retransmits,
        total_retrans: info.tcpi_total_retrans,
    })
}

fn attach(fd: i32, prog: &mut [libc::sock_filter]) {
    let fprog = libc::sock_fprog {
        len: prog.len() as u16,
        filter: prog.as_mut_ptr(),
    };
    // SAFETY: fprog points at a program that outlives the call.
    unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_ATTACH_FILTER,
            (&raw const fprog).cast(),
            std::mem::size_of::<libc::sock_fprog>() as libc::socklen_t,
        );
    }
}

fn detach(fd: i32) {
    let zero: libc::c_int = 0;
    // SAFETY: SO_DETACH_FILTER ignores its value; ENOENT when none is attached.
    unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_DETACH_FILTER,
            (&raw const zero).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

fn get_int(fd: i32, level: i32, name: i32) -> Option<i32> {
    let mut v: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: v and len are valid for the call.
    let r = unsafe { libc::getsockopt(fd, level, name, (&raw mut v).cast(), &raw mut len) };
    (r == 0).then_some(v)
}

fn set_int(fd: i32, level: i32, name: i32, v: i32) -> bool {
    // SAFETY: v is a valid int for the call.
    unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&raw const v).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        ) == 0
    }
}

fn tcp_info(fd: i32) -> Option<libc::tcp_info> {
    // SAFETY: tcp_info is plain old data.
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: info and len are valid for the call.
    let r = unsafe {
        libc::getsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&raw mut info).cast(),
            &raw mut len,
        )
    };
    (r == 0 && len as usize >= std::mem::size_of::<libc::tcp_info>()).then_some(info)
}

fn bytes_received(fd: i32) -> Option<u64> {
    tcp_info(fd).map(|info| info.tcpi_bytes_received)
}

/// Where a connected TCP socket's incoming stream began (the peer's initial
/// sequence number + 1) and its MSS: `rcv_nxt` (read in repair mode, left at
/// once without a window probe) less the bytes received so far, read again
/// until no segment slipped in between.
fn stream_start(fd: i32) -> Option<(u32, u32)> {
    const TCP_REPAIR_OFF_NO_WP: i32 = -1;
    const TCP_RECV_QUEUE: i32 = 1;
    let mss = u32::try_from(get_int(fd, libc::IPPROTO_TCP, libc::TCP_MAXSEG)?).ok()?;
    // Repair mode forgets SO_REUSEADDR when it ends: put it back.
    let reuse = get_int(fd, libc::SOL_SOCKET, libc::SO_REUSEADDR).unwrap_or(0);
    for _ in 0..10 {
        let before = bytes_received(fd)?;
        if !set_int(fd, libc::IPPROTO_TCP, libc::TCP_REPAIR, 1) {
            return None;
        }
        let rcv_nxt = if set_int(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_REPAIR_QUEUE,
            TCP_RECV_QUEUE,
        ) {
            get_int(fd, libc::IPPROTO_TCP, libc::TCP_QUEUE_SEQ)
        } else {
            None
        };
        set_int(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_REPAIR,
            TCP_REPAIR_OFF_NO_WP,
        );
        if reuse != 0 {
            set_int(fd, libc::SOL_SOCKET, libc::SO_REUSEADDR, reuse);
        }
        let after = bytes_received(fd)?;
        if before == after {
            return Some(((rcv_nxt? as u32).wrapping_sub(after as u32), mss));
        }
    }
    None
}

pub(super) fn is_connected_tcp(fd: i32) -> bool {
    get_int(fd, libc::SOL_SOCKET, libc::SO_TYPE) == Some(libc::SOCK_STREAM)
        && get_int(fd, libc::SOL_SOCKET, libc::SO_ACCEPTCONN) == Some(0)
        && {
            // SAFETY: sockaddr_storage is plain old data.
            let mut a: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
            let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            // SAFETY: a and len are valid for the call.
            unsafe { libc::getpeername(fd, (&raw mut a).cast(), &raw mut len) == 0 }
        }
}

/// Puts `rule` on one socket. For `drop` on a connected TCP socket, returns
/// the relative sequence numbers it drops at.
pub(super) fn set_filter(fd: i32, rule: &LinkRule) -> Option<Vec<u32>> {
    let tcp = get_int(fd, libc::SOL_SOCKET, libc::SO_TYPE) == Some(libc::SOCK_STREAM);
    match rule {
        LinkRule::Open => detach(fd),
        LinkRule::Cut => attach(fd, &mut filter::cut_program()),
        LinkRule::Loss { per_10k } if tcp => attach(fd, &mut filter::loss_program(*per_10k)),
        LinkRule::Drop { segments } if tcp && is_connected_tcp(fd) => {
            let Some((base, mss)) = stream_start(fd) else {
                detach(fd);
                return None;
            };
            let starts = crate::model::link::drop_starts(segments, mss);
            let seqs: Vec<u32> = starts
                .iter()
                .map(|s| base.wrapping_add(*s).wrapping_sub(1))
                .collect();
            attach(fd, &mut filter::drop_program(&seqs));
            return Some(starts);
        }
        _ => detach(fd),
    }
    None
}
