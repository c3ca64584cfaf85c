//! The kernel's TCP socket table through `NETLINK_SOCK_DIAG` (what `ss` uses).
//!
//! One `SOCK_DIAG_BY_FAMILY` dump per address family, asking for every state
//! and for `tcp_info`, with an `INET_DIAG_REQ_BYTECODE` program that keeps only
//! sockets on the watched ports *in the kernel*: the kernel still walks every
//! socket (~2 µs each) but copies out only the ones we want.
//!
//! Layouts are from `linux/inet_diag.h`, `linux/netlink.h` and `linux/tcp.h`;
//! everything is little-endian host order except ports and addresses
//! (network order). Every length read from the kernel is bounds-checked: a
//! malformed answer loses sockets, never panics.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use super::{KernelError, linux_state};
use crate::model::reports::{SockInfo, SockTimer, TcpInfoLite, TimerKind};

/// Most ports one kernel filter may carry (24 bytes of program each; the
/// jump offsets are 16-bit).
pub const MAX_PORTS: usize = 256;

const NETLINK_SOCK_DIAG: libc::c_int = 4;
const SOCK_DIAG_BY_FAMILY: u16 = 20;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_DUMP: u16 = 0x300; // NLM_F_ROOT | NLM_F_MATCH
const NLMSG_HDRLEN: usize = 16;
/// `struct inet_diag_req_v2`: family, protocol, ext, pad, states, sockid (48).
const REQ_V2_LEN: usize = 56;
/// `struct inet_diag_msg`.
const DIAG_MSG_LEN: usize = 72;
const INET_DIAG_REQ_BYTECODE: u16 = 1;
const INET_DIAG_INFO: u16 = 2;
/// `idiag_states` bits: every state synack shows (TCP_ESTABLISHED = 1 to
/// TCP_NEW_SYN_RECV = 12), or listeners only (1 << TCP_LISTEN).
///
/// Not TCP_BOUND_INACTIVE (13, Linux >= 6.6: bound, neither listening nor
/// connected), which [`linux_state`] has no state for: asking for it makes
/// the kernel walk its bind hash, shared by every namespace (65,536 buckets
/// on a small VM), which was half of every full read's cost (~0.3 ms per
/// family) for sockets that were dropped on arrival.
const ALL_STATES: u32 = 0x1ffe;
const LISTEN_ONLY: u32 = 1 << 10;
const INET_DIAG_BC_JMP: u8 = 1;
const INET_DIAG_BC_S_EQ: u8 = 11;
const INET_DIAG_BC_D_EQ: u8 = 12;
/// `tcp_info` up to and including `tcpi_total_retrans`.
const TCP_INFO_MIN_LEN: usize = 104;
const RECV_BUF_LEN: usize = 64 * 1024;

/// A netlink socket for dumping the TCP table; buffers are reused between dumps.
pub struct DiagSocket {
    fd: OwnedFd,
    seq: u32,
    request: Vec<u8>,
    recv_buf: Vec<u8>,
    /// The answers as received, with their dump's sequence number, while
    /// [`DiagSocket::keep_answers`] is on (benchmarks and fuzzing use them).
    kept: Option<Vec<(u32, Vec<u8>)>>,
}

impl DiagSocket {
    /// Opens the netlink socket. Needs no privilege.
    ///
    /// # Errors
    /// [`KernelError::Open`] when the kernel has no sock_diag support.
    pub fn open() -> Result<Self, KernelError> {
        // SAFETY: plain socket(2) call; the result is checked before use.
        let raw = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
                NETLINK_SOCK_DIAG,
            )
        };
        if raw < 0 {
            return Err(KernelError::Open(io::Error::last_os_error()));
        }
        // SAFETY: `raw` is a fresh, valid descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // A dump never legitimately takes a second; do not hang the poller if it does.
        let timeout = libc::timeval {
            tv_sec: 2,
            tv_usec: 0,
        };
        // SAFETY: `timeout` is a valid timeval and the length matches it.
        let rc = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                std::ptr::from_ref(&timeout).cast(),
                size_of::<libc::timeval>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(KernelError::Open(io::Error::last_os_error()));
        }
        Ok(Self {
            fd,
            seq: 0,
            request: Vec::with_capacity(NLMSG_HDRLEN + REQ_V2_LEN + 64),
            recv_buf: vec![0; RECV_BUF_LEN],
            kept: None,
        })
    }

    /// From now on keeps a copy of every answer datagram (for benchmarks and
    /// fuzzing of [`parse_datagram`] with what a real kernel sends).
    pub fn keep_answers(&mut self) {
        self.kept.get_or_insert_with(Vec::new);
    }

    /// The answers kept so far, each with its dump's sequence number.
    pub fn take_answers(&mut self) -> Vec<(u32, Vec<u8>)> {
        self.kept.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// Every TCP socket (IPv4 and IPv6, all states including TIME-WAIT
    /// mini-sockets, SYN-RECEIVED request sockets and listeners) whose local
    /// or remote port is in `ports` (all sockets when `ports` is empty),
    /// written to `out` (cleared first).
    ///
    /// # Errors
    /// Too many ports, or the netlink exchange failed.
    pub fn dump(&mut self, ports: &[u16], out: &mut Vec<SockInfo>) -> Result<(), KernelError> {
        self.dump_states(ALL_STATES, ports, out)
    }

    /// The listening sockets on `ports` only. Cheap at any table size: asked
    /// for listeners alone, the kernel walks its listening hash and skips the
    /// connection table (`inet_diag_dump_icsk`).
    ///
    /// # Errors
    /// As [`DiagSocket::dump`].
    pub fn dump_listeners(
        &mut self,
        ports: &[u16],
        out: &mut Vec<SockInfo>,
    ) -> Result<(), KernelError> {
        self.dump_states(LISTEN_ONLY, ports, out)
    }

    fn dump_states(
        &mut self,
        states: u32,
        ports: &[u16],
        out: &mut Vec<SockInfo>,
    ) -> Result<(), KernelError> {
        out.clear();
        if ports.len() > MAX_PORTS {
            return Err(KernelError::TooManyPorts(ports.len()));
        }
        for family in [libc::AF_INET as u8, libc::AF_INET6 as u8] {
            self.seq = self.seq.wrapping_add(1);
            build_request(family, states, ports, self.seq, &mut self.request);
            self.send()?;
            self.receive(self.seq, out)?;
        }
        Ok(())
    }

    fn send(&self) -> Result<(), KernelError> {
        loop {
            // SAFETY: the pointer and length describe `self.request`, which outlives the call.
            let n = unsafe {
                libc::send(
                    self.fd.as_raw_fd(),
                    self.request.as_ptr().cast(),
                    self.request.len(),
                    0,
                )
            };
            if n >= 0 {
                return Ok(());
            }
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(KernelError::Send(err));
            }
        }
    }

    fn receive(&mut self, seq: u32, out: &mut Vec<SockInfo>) -> Result<(), KernelError> {
        loop {
            // SAFETY: the pointer and length describe `self.recv_buf`, owned and writable.
            let n = unsafe {
                libc::recv(
                    self.fd.as_raw_fd(),
                    self.recv_buf.as_mut_ptr().cast(),
                    self.recv_buf.len(),
                    libc::MSG_TRUNC,
                )
            };
            if n < 0 {
                let err = io::Error::last_os_error();
                if err.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(KernelError::Recv(err));
            }
            let n = n.unsigned_abs();
            if n > self.recv_buf.len() {
                return Err(KernelError::Recv(io::Error::other(format!(
                    "a netlink message of {n} bytes did not fit the {} byte buffer",
                    self.recv_buf.len()
                ))));
            }
            if let Some(kept) = &mut self.kept {
                kept.push((seq, self.recv_buf[..n].to_vec()));
            }
            match parse_datagram(&self.recv_buf[..n], seq, out) {
                Parsed::More => {}
                Parsed::Done => return Ok(()),
                Parsed::Error(errno) => {
                    return Err(KernelError::Refused(io::Error::from_raw_os_error(errno)));
                }
            }
        }
    }
}

/// Writes the kernel filter for "local or remote port in `ports`".
///
/// The kernel runs the program (`inet_diag_bc_run`) as: each op either matches
/// and jumps `yes` bytes, or does not and jumps `no` bytes; the socket is kept
/// when the jumps land exactly on the end and dropped when they overshoot it.
/// `yes` is a `u8` and `no` a `u16`, so every condition is a 12-byte unit:
///
/// ```text
/// +0  {code: S_EQ|D_EQ, yes: 8, no: 12}   match → +8, else next unit (+12)
/// +4  {code: 0, yes: 0, no: PORT}         operand of the port op (host order)
/// +8  {code: JMP, yes: 4, no: to the end} reached only on a match: accept
/// ```
///
/// The last unit's `no` is 16, four bytes past the end: no condition matched,
/// reject. The kernel's audit (`inet_diag_bc_audit`) walks the `yes` chain,
/// which visits every unit and every JMP, so every `no` target is a valid op.
pub fn encode_port_filter(ports: &[u16], out: &mut Vec<u8>) {
    const UNIT: usize = 12;
    let total = ports.len() * 2 * UNIT;
    let mut offset = 0usize;
    for &port in ports {
        for code in [INET_DIAG_BC_S_EQ, INET_DIAG_BC_D_EQ] {
            let remaining = total - offset;
            let no = if remaining == UNIT { UNIT + 4 } else { UNIT };
            out.extend_from_slice(&[code, 8]);
            out.extend_from_slice(&(no as u16).to_ne_bytes());
            out.extend_from_slice(&[0, 0]);
            out.extend_from_slice(&port.to_ne_bytes());
            out.extend_from_slice(&[INET_DIAG_BC_JMP, 4]);
            out.extend_from_slice(&((remaining - 8) as u16).to_ne_bytes());
            offset += UNIT;
        }
    }
}

fn build_request(family: u8, states: u32, ports: &[u16], seq: u32, out: &mut Vec<u8>) {
    out.clear();
    out.resize(NLMSG_HDRLEN + REQ_V2_LEN, 0);
    // nlmsghdr: len (patched below), type, flags, seq, pid.
    out[4..6].copy_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    out[6..8].copy_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    out[8..12].copy_from_slice(&seq.to_ne_bytes());
    // inet_diag_req_v2: family, protocol, ext, pad, states; sockid left zero.
    let r = NLMSG_HDRLEN;
    out[r] = family;
    out[r + 1] = libc::IPPROTO_TCP as u8;
    out[r + 2] = 1 << (INET_DIAG_INFO - 1);
    out[r + 4..r + 8].copy_from_slice(&states.to_ne_bytes());
    if !ports.is_empty() {
        let attr_at = out.len();
        out.extend_from_slice(&[0; 4]);
        encode_port_filter(ports, out);
        let attr_len = (out.len() - attr_at) as u16;
        out[attr_at..attr_at + 2].copy_from_slice(&attr_len.to_ne_bytes());
        out[attr_at + 2..attr_at + 4].copy_from_slice(&INET_DIAG_REQ_BYTECODE.to_ne_bytes());
    }
    let len = out.len() as u32;
    out[0..4].copy_from_slice(&len.to_ne_bytes());
}

/// What one netlink datagram of the dump said.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    /// Sockets (or nothing); more datagrams follow.
    More,
    /// The dump is complete.
    Done,
    /// The kernel refused the request (an errno).
    Error(i32),
}

fn u16_ne(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_ne(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

const fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// Walks the netlink messages in `buf`, appending sockets of dump `seq` to `out`.
/// A message that does not fit ends the walk of this datagram (nothing after it
/// can be trusted); messages of other dumps are skipped. Any bytes are safe.
#[must_use]
pub fn parse_datagram(buf: &[u8], seq: u32, out: &mut Vec<SockInfo>) -> Parsed {
    let mut at = 0;
    while buf.len().saturating_sub(at) >= NLMSG_HDRLEN {
        let (Some(len), Some(kind), Some(msg_seq)) =
            (u32_ne(buf, at), u16_ne(buf, at + 4), u32_ne(buf, at + 8))
        else {
            break;
        };
        let len = len as usize;
        if len < NLMSG_HDRLEN || len > buf.len() - at {
            break;
        }
        let payload = &buf[at + NLMSG_HDRLEN..at + len];
        at += align4(len);
        if msg_seq != seq {
            continue;
        }
        match kind {
            NLMSG_DONE => return Parsed::Done,
            NLMSG_ERROR => {
                // struct nlmsgerr: int error (negative errno; 0 is an acknowledgement).
                let errno = u32_ne(payload, 0).map_or(libc::EPROTO, |e| {
                    i32::from_ne_bytes(e.to_ne_bytes()).wrapping_neg()
                });
                if errno != 0 {
                    return Parsed::Error(errno);
                }
            }
            SOCK_DIAG_BY_FAMILY => {
                if let Some(sock) = parse_diag_msg(payload) {
                    out.push(sock);
                }
            }
            _ => {}
        }
    }
    Parsed::More
}

/// Decodes one `struct inet_diag_msg` and its attributes; `None` when it is too
/// short or names an unknown family or state.
fn parse_diag_msg(msg: &[u8]) -> Option<SockInfo> {
    if msg.len() < DIAG_MSG_LEN {
        return None;
    }
    let family = i32::from(msg[0]);
    let state = linux_state(msg[1])?;
    let sport = u16::from_be_bytes([msg[4], msg[5]]);
    let dport = u16::from_be_bytes([msg[6], msg[7]]);
    let src = decode_addr(family, &msg[8..24])?;
    let dst = decode_addr(family, &msg[24..40])?;
    let cookie = u64::from(u32_ne(msg, 44)?) | (u64::from(u32_ne(msg, 48)?) << 32);
    let timer = TimerKind::from_kernel(msg[2]).map(|kind| SockTimer {
        kind,
        expires_ms: u32_ne(msg, 52).unwrap_or(0),
        retransmits: msg[3],
    });
    let mut info = None;
    let mut at = DIAG_MSG_LEN;
    while msg.len().saturating_sub(at) >= 4 {
        let (Some(len), Some(kind)) = (u16_ne(msg, at), u16_ne(msg, at + 2)) else {
            break;
        };
        let len = usize::from(len);
        if len < 4 || len > msg.len() - at {
            break;
        }
        if kind & 0x3fff == INET_DIAG_INFO {
            info = parse_tcp_info(&msg[at + 4..at + len]);
        }
        at += align4(len);
    }
    Some(SockInfo {
        state,
        local: SocketAddr::new(src, sport),
        remote: SocketAddr::new(dst, dport),
        recv_q: u32_ne(msg, 56)?,
        send_q: u32_ne(msg, 60)?,
        timer,
        info,
        uid: u32_ne(msg, 64)?,
        inode: u32_ne(msg, 68)?,
        cookie,
    })
}

/// `idiag_src`/`idiag_dst` are four big-endian words: an IPv4 address uses the
/// first; an IPv6 one all sixteen bytes. A dual-stack IPv6 socket talking to an
/// IPv4 peer reports `::ffff:a.b.c.d`; it is returned as IPv4 so it matches the
/// captured packets.
fn decode_addr(family: i32, raw: &[u8]) -> Option<IpAddr> {
    match family {
        libc::AF_INET => Some(IpAddr::V4(Ipv4Addr::new(raw[0], raw[1], raw[2], raw[3]))),
        libc::AF_INET6 => {
            let octets: [u8; 16] = raw.try_into().ok()?;
            let v6 = Ipv6Addr::from(octets);
            Some(v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4))
        }
        _ => None,
    }
}

/// Reads the `struct tcp_info` fields synack uses (offsets from linux/tcp.h).
fn parse_tcp_info(b: &[u8]) -> Option<TcpInfoLite> {
    if b.len() < TCP_INFO_MIN_LEN {
        return None;
    }
    Some(TcpInfoLite {
        retransmits: b[2],
        snd_mss: u32_ne(b, 16)?,
        rcv_mss: u32_ne(b, 20)?,
        unacked: u32_ne(b, 24)?,
        rtt_us: u32_ne(b, 68)?,
        rttvar_us: u32_ne(b, 72)?,
        snd_cwnd: u32_ne(b, 80)?,
        total_retrans: u32_ne(b, 100)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tcp::TcpState;
    use crate::test_kernel_bytes::{diag_msg, nlmsg};
    use crate::test_rng::Rng;
    use std::collections::BTreeSet;
    use std::net::{TcpListener, TcpStream};
    use std::process::Command;

    #[test]
    fn encodes_one_port_as_two_chained_conditions() {
        let mut bc = Vec::new();
        encode_port_filter(&[0x1234], &mut bc);
        let p = 0x1234u16.to_ne_bytes();
        #[rustfmt::skip]
        let want = [
            // S_EQ: match → JMP at +8; else next unit (+12)
            11, 8, 12, 0,   0, 0, p[0], p[1],   1, 4, 16, 0,
            // D_EQ (last): match → JMP; else 16 = 4 past the end: reject
            12, 8, 16, 0,   0, 0, p[0], p[1],   1, 4, 4, 0,
        ];
        assert_eq!(bc, want);
    }

    #[test]
    fn every_jump_lands_on_an_op_or_the_end() {
        let ports: Vec<u16> = (1..=MAX_PORTS as u16).collect();
        let mut bc = Vec::new();
        encode_port_filter(&ports, &mut bc);
        assert_eq!(bc.len(), MAX_PORTS * 24);
        // Run the program as the kernel does for a socket with sport 77 (a
        // match), one with dport MAX_PORTS (the last condition) and none.
        let run = |sport: u16, dport: u16| -> bool {
            let mut at = 0usize;
            while at < bc.len() {
                let (code, yes) = (bc[at], usize::from(bc[at + 1]));
                let no = usize::from(u16::from_ne_bytes([bc[at + 2], bc[at + 3]]));
                let operand = || u16::from_ne_bytes([bc[at + 6], bc[at + 7]]);
                let hit = match code {
                    INET_DIAG_BC_S_EQ => sport == operand(),
                    INET_DIAG_BC_D_EQ => dport == operand(),
                    INET_DIAG_BC_JMP => false,
                    _ => panic!("unexpected op {code}"),
                };
                at += if hit { yes } else { no };
            }
            at == bc.len()
        };
        assert!(run(77, 60000));
        assert!(run(60000, MAX_PORTS as u16));
        assert!(!run(60000, 60001));
    }

    #[test]
    fn request_layout() {
        let mut req = Vec::new();
        build_request(libc::AF_INET6 as u8, ALL_STATES, &[80], 9, &mut req);
        assert_eq!(req.len(), 16 + 56 + 4 + 24);
        assert_eq!(u32_ne(&req, 0), Some(req.len() as u32));
        assert_eq!(u16_ne(&req, 4), Some(SOCK_DIAG_BY_FAMILY));
        assert_eq!(u16_ne(&req, 6), Some(0x301));
        assert_eq!(u32_ne(&req, 8), Some(9));
        assert_eq!(&req[16..20], &[libc::AF_INET6 as u8, 6, 2, 0]);
        assert_eq!(u32_ne(&req, 20), Some(ALL_STATES));
        // Every state from ESTABLISHED (1) to NEW_SYN_RECV (12), and not
        // BOUND_INACTIVE (13), which makes the kernel walk its bind hash.
        for n in 1..=12 {
            assert!(ALL_STATES & (1 << n) != 0, "state {n}");
            assert!(linux_state(n).is_some(), "state {n}");
        }
        assert_eq!(ALL_STATES & !0x1ffe, 0);
        assert_eq!(linux_state(13), None);
        assert_eq!(u16_ne(&req, 72), Some(28));
        assert_eq!(u16_ne(&req, 74), Some(INET_DIAG_REQ_BYTECODE));
        build_request(libc::AF_INET as u8, LISTEN_ONLY, &[], 10, &mut req);
        assert_eq!(req.len(), 16 + 56);
        assert_eq!(u32_ne(&req, 20), Some(1 << 10), "TCPF_LISTEN only");
    }

    #[test]
    fn parses_hand_built_answers() {
        let v6 = Ipv6Addr::LOCALHOST.octets();
        let mapped = Ipv4Addr::new(10, 0, 0, 1).to_ipv6_mapped().octets();
        let mut v4 = [0u8; 16];
        v4[..4].copy_from_slice(&[127, 0, 0, 1]);
        let mut buf = nlmsg(
            SOCK_DIAG_BY_FAMILY,
            5,
            &diag_msg(10, 6, 3, v6, mapped, false),
        );
        buf.extend(nlmsg(
            SOCK_DIAG_BY_FAMILY,
            5,
            &diag_msg(2, 1, 3, v4, v4, true),
        ));
        buf.extend(nlmsg(
            SOCK_DIAG_BY_FAMILY,
            4,
            &diag_msg(2, 1, 3, v4, v4, true),
        )); // other dump
        buf.extend(nlmsg(
            SOCK_DIAG_BY_FAMILY,
            5,
            &diag_msg(2, 99, 3, v4, v4, true),
        )); // unknown state
        let mut out = Vec::new();
        assert_eq!(parse_datagram(&buf, 5, &mut out), Parsed::More);
        assert_eq!(out.len(), 2);
        let tw = &out[0];
        assert_eq!(tw.state, TcpState::TimeWait);
        assert_eq!(tw.local, "[::1]:7000".parse().unwrap());
        assert_eq!(tw.remote, "10.0.0.1:45678".parse().unwrap());
        assert_eq!(
            tw.timer,
            Some(SockTimer {
                kind: TimerKind::TimeWait,
                expires_ms: 59_000,
                retransmits: 0
            })
        );
        assert_eq!(
            (tw.recv_q, tw.send_q, tw.uid, tw.inode),
            (3, 128, 1000, 4242)
        );
        assert_eq!(tw.cookie, 0x1_dead_beef);
        assert_eq!(tw.info, None);
        let est = &out[1];
        assert_eq!(est.local, "127.0.0.1:7000".parse().unwrap());
        let info = est.info.unwrap();
        assert_eq!(
            (info.snd_mss, info.rtt_us, info.snd_cwnd, info.total_retrans),
            (1448, 55, 10, 2)
        );
        assert_eq!(info.retransmits, 1);

        let done = nlmsg(NLMSG_DONE, 5, &0i32.to_ne_bytes());
        assert_eq!(parse_datagram(&done, 5, &mut out), Parsed::Done);
        let err = nlmsg(NLMSG_ERROR, 5, &(-libc::EINVAL).to_ne_bytes());
        assert_eq!(
            parse_datagram(&err, 5, &mut out),
            Parsed::Error(libc::EINVAL)
        );
    }

    #[test]
    fn truncated_and_garbage_answers_do_not_panic() {
        let v6 = Ipv6Addr::LOCALHOST.octets();
        let good = nlmsg(SOCK_DIAG_BY_FAMILY, 1, &diag_msg(10, 1, 3, v6, v6, true));
        let mut out = Vec::new();
        for cut in 0..good.len() {
            let mut b = good[..cut].to_vec();
            let _ = parse_datagram(&b, 1, &mut out);
            // Lie about the length in the header too.
            if b.len() >= 4 {
                b[..4].copy_from_slice(&(good.len() as u32).to_ne_bytes());
                let _ = parse_datagram(&b, 1, &mut out);
            }
        }
        // Attribute length too large, too small, and a short tcp_info.
        let mut m = diag_msg(2, 1, 3, v6, v6, false);
        m.extend_from_slice(&[0xff, 0xff, 2, 0, 1, 2, 3, 4]);
        assert!(parse_diag_msg(&m).unwrap().info.is_none());
        let mut m = diag_msg(2, 1, 3, v6, v6, false);
        m.extend_from_slice(&[1, 0, 2, 0]);
        assert!(parse_diag_msg(&m).unwrap().info.is_none());
        let mut m = diag_msg(2, 1, 3, v6, v6, false);
        m.extend_from_slice(&[12, 0, 2, 0, 1, 2, 3, 4, 5, 6, 7, 8]);
        assert!(parse_diag_msg(&m).unwrap().info.is_none());
        assert!(parse_diag_msg(&diag_msg(7, 1, 3, v6, v6, true)).is_none());
        // Pseudo-random bytes.
        let mut rng = Rng::new(0x2545_f491_4f6c_dd1d);
        for _ in 0..2000 {
            let junk = rng.bytes(200);
            let _ = parse_datagram(&junk, 1, &mut out);
            parse_diag_msg(&junk);
        }
    }

    // ---- against the real kernel ----

    /// (local, remote, timer ms) of the sockets `ss` lists for `filter`.
    fn ss(args: &[&str]) -> Vec<(SocketAddr, SocketAddr, Option<u32>, u32, u32)> {
        let out = Command::new("ss")
            .args(args)
            .output()
            .expect("ss (iproute2) is installed");
        assert!(
            out.status.success(),
            "ss failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|line| {
                let f: Vec<&str> = line.split_whitespace().collect();
                // With a state filter there is no State column; with -l there is.
                let skip = usize::from(f.first()?.parse::<u32>().is_err());
                let (rq, sq) = (f.get(skip)?.parse().ok()?, f.get(skip + 1)?.parse().ok()?);
                let local = f.get(skip + 2)?.parse().ok()?;
                let remote = f.get(skip + 3)?.parse().unwrap_or(local);
                let timer = f
                    .iter()
                    .find_map(|t| t.strip_prefix("timer:("))
                    .and_then(ss_timer_ms);
                Some((local, remote, timer, rq, sq))
            })
            .collect()
    }

    /// `timewait,59sec,0` / `timewait,1min2.345ms,0` / `on,200ms,0` → milliseconds.
    fn ss_timer_ms(t: &str) -> Option<u32> {
        let mut time = t.split(',').nth(1)?;
        let mut ms = 0u32;
        if let Some((min, rest)) = time.split_once("min") {
            ms += min.parse::<u32>().ok()? * 60_000;
            time = rest;
        }
        if let Some(s) = time.strip_suffix("sec") {
            ms += s.parse::<u32>().ok()? * 1000;
        } else if let Some(t) = time.strip_suffix("ms") {
            match t.split_once('.') {
                Some((s, frac)) => {
                    ms += s.parse::<u32>().ok()? * 1000 + frac.parse::<u32>().ok()?
                }
                None => ms += t.parse::<u32>().ok()?,
            }
        }
        Some(ms)
    }

    #[test]
    fn ss_timer_formats() {
        assert_eq!(ss_timer_ms("timewait,59sec,0)"), Some(59_000));
        assert_eq!(ss_timer_ms("timewait,58.120ms,0)"), Some(58_120));
        assert_eq!(ss_timer_ms("on,200ms,0)"), Some(200));
        assert_eq!(ss_timer_ms("keepalive,1min2.005ms,0)"), Some(62_005));
    }

    /// A listener on 127.0.0.1 and one on ::1 sharing a free port.
    fn listeners(backlog: i32) -> (u16, socket2::Socket, socket2::Socket) {
        use socket2::{Domain, Socket, Type};
        for _ in 0..50 {
            let v4 = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
            v4.bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
                .unwrap();
            let port = v4.local_addr().unwrap().as_socket().unwrap().port();
            let v6 = Socket::new(Domain::IPV6, Type::STREAM, None).unwrap();
            v6.set_only_v6(true).unwrap();
            if v6
                .bind(&SocketAddr::from((Ipv6Addr::LOCALHOST, port)).into())
                .is_ok()
            {
                v4.listen(backlog).unwrap();
                v6.listen(backlog).unwrap();
                return (port, v4, v6);
            }
        }
        panic!("no port free on both 127.0.0.1 and ::1");
    }

    #[test]
    fn dump_matches_ss_for_time_wait_listen_and_the_port_filter() {
        let mut diag = match DiagSocket::open() {
            Ok(d) => d,
            Err(e) => panic!("sock_diag unavailable here: {e}"),
        };
        let (port, l4, l6) = listeners(7);
        let mut keep = Vec::new();
        for listener in [&l4, &l6] {
            let addr = listener.local_addr().unwrap().as_socket().unwrap();
            for _ in 0..2 {
                // Client closes first, then the server: the client ends in TIME-WAIT.
                let client = TcpStream::connect(addr).unwrap();
                let (server, _) = listener.accept().unwrap();
                drop(client);
                std::thread::sleep(std::time::Duration::from_millis(20));
                drop(server);
            }
            keep.push(TcpStream::connect(addr).unwrap()); // stays in the accept queue
        }
        // An unrelated listener and connection that the filter must exclude.
        let other = TcpListener::bind("127.0.0.1:0").unwrap();
        let other_port = other.local_addr().unwrap().port();
        let _other_client = TcpStream::connect(other.local_addr().unwrap()).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(50));

        let mut out = Vec::new();
        diag.dump(&[port], &mut out).unwrap();
        let filter = format!("( sport = :{port} or dport = :{port} )");
        let ss_tw = ss(&["-tanoH", "state", "time-wait", &filter]);

        assert!(
            out.iter()
                .all(|s| s.local.port() == port || s.remote.port() == port),
            "{out:#?}"
        );
        assert!(
            !out.iter()
                .any(|s| s.local.port() == other_port || s.remote.port() == other_port)
        );

        let ours: BTreeSet<_> = out
            .iter()
            .filter(|s| s.state == TcpState::TimeWait)
            .map(|s| (s.local, s.remote))
            .collect();
        let theirs: BTreeSet<_> = ss_tw.iter().map(|s| (s.0, s.1)).collect();
        assert_eq!(ours.len(), 4, "two TIME-WAIT per family: {out:#?}");
        assert_eq!(ours, theirs);
        for s in out.iter().filter(|s| s.state == TcpState::TimeWait) {
            let timer = s.timer.expect("TIME-WAIT has a timer");
            assert_eq!(timer.kind, TimerKind::TimeWait);
            let ss_ms = ss_tw
                .iter()
                .find(|t| (t.0, t.1) == (s.local, s.remote))
                .unwrap()
                .2
                .unwrap();
            assert!(
                timer.expires_ms.abs_diff(ss_ms) <= 1000,
                "{timer:?} vs ss {ss_ms} ms"
            );
            assert!(s.info.is_none());
        }

        let ss_listen = ss(&["-tlnH", &format!("sport = :{port}")]);
        let our_listen: Vec<_> = out.iter().filter(|s| s.state == TcpState::Listen).collect();
        assert_eq!(our_listen.len(), 2);
        for l in our_listen {
            let theirs = ss_listen
                .iter()
                .find(|t| t.0 == l.local)
                .expect("ss lists the listener");
            assert_eq!((l.recv_q, l.send_q), (theirs.3, theirs.4));
            assert_eq!(
                (l.recv_q, l.send_q),
                (1, 7),
                "one queued connection, backlog 7"
            );
        }
        let established = out
            .iter()
            .filter(|s| s.state == TcpState::Established)
            .count();
        assert_eq!(established, 4, "each kept client and its queued child");
        assert!(
            out.iter()
                .filter(|s| s.state == TcpState::Established)
                .all(|s| s.info.is_some())
        );

        // Listeners only: the same two, with the same queues, and nothing else.
        let mut listeners_only = Vec::new();
        diag.dump_listeners(&[port], &mut listeners_only).unwrap();
        let mut expected: Vec<_> = out
            .iter()
            .filter(|s| s.state == TcpState::Listen)
            .map(|s| (s.local, s.recv_q, s.send_q))
            .collect();
        let mut got: Vec<_> = listeners_only
            .iter()
            .map(|s| (s.local, s.recv_q, s.send_q))
            .collect();
        expected.sort();
        got.sort();
        assert_eq!(got, expected, "{listeners_only:#?}");

        // No filter: everything, including the unrelated port.
        diag.dump(&[], &mut out).unwrap();
        assert!(out.iter().any(|s| s.local.port() == other_port));
    }
}
