//! The executor: runs a peer's commands as real socket calls, in order, and
//! reports each one (its `start` when it blocks a while, its result when it
//! returns). It keeps what a peer holds between calls (its socket, the
//! accepted connection, every socket `link` reaches, the forked child) and
//! runs the commands that loop: the servers (`serve`, `serve epoll`, `serve
//! select`), `read busy` and `heartbeat`.

use std::collections::HashMap;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use super::protocol::{InfoLine, Line, result_of};
use super::sys::{
    CongSample, cong_sample, errno, fd_fits_select, is_connected_tcp, local_addr, peer_addr,
    set_filter,
};
use crate::event::CallEvent;
use crate::lab::script::{
    Call, Endpoint, How, LinkRule, Payload, Proto, Ready, Serving, Side, SockOpt, Target,
};

/// How long a call must block before its `start` is reported.
const BLOCKED_AFTER_NS: u64 = 15_000_000;

/// The most events one `epoll_wait` of `serve epoll` returns.
const EPOLL_MAX_EVENTS: usize = 16;

/// How long `read busy` spins at most.
const BUSY_LIMIT: Duration = Duration::from_secs(10);

#[derive(Clone, Copy, Debug)]
struct Sock {
    fd: i32,
    bound: bool,
    listening: bool,
    connected: bool,
}

#[derive(Debug, Default)]
struct State {
    /// The socket made by socket(): the listener on a server, the connection on a client.
    sock: Option<Sock>,
    /// The connection accept() returned last.
    conn: Option<i32>,
    /// Every socket we hold (for `link`).
    held: Vec<i32>,
    /// Who sent the last datagram (for a server's `sendto`).
    last_from: Option<SocketAddr>,
    /// The forked child: (pid, command pipe).
    child: Option<(i32, i32)>,
}

struct Pending {
    call: String,
    args: String,
    begin: u64,
    announced: bool,
    /// The socket the call acts on, when known before it returns (connect):
    /// its address goes with the `start` report, so a blocked connect's SYNs
    /// are tied to their peer at once.
    fd: Option<i32>,
}

/// One peer: which endpoint it is, what it holds, the calls under way.
pub(super) struct Peer {
    me: Endpoint,
    ipv6: bool,
    port: u16,
    /// Serializes writes to stdout.
    out: Mutex<()>,
    state: Mutex<State>,
    pending: Mutex<HashMap<u64, Pending>>,
    next_slot: AtomicU64,
    /// What the link does to segments arriving at our sockets.
    rule: Mutex<LinkRule>,
    /// What each held socket's TCP_INFO said when it was last reported, by
    /// fd (with its addresses: an fd number used again is another socket).
    infos: Mutex<HashMap<i32, (SocketAddr, SocketAddr, CongSample)>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn now_ns() -> u64 {
    crate::time::Timestamp::now().0
}

fn payload_bytes(p: &Payload) -> Vec<u8> {
    match p {
        Payload::Text(t) => t.as_bytes().to_vec(),
        Payload::Bytes(n) => (0..*n).map(|i| b'a' + (i % 26) as u8).collect(),
    }
}

fn payload_args(p: &Payload) -> String {
    match p {
        Payload::Text(t) => format!("{t:?}"),
        Payload::Bytes(n) => format!("{n} bytes"),
    }
}

impl Peer {
    /// The peer `me`, whose servers listen from `port` on (IPv6 when `ipv6`).
    pub(super) fn new(me: Endpoint, ipv6: bool, port: u16) -> Self {
        Peer {
            me,
            ipv6,
            port,
            out: Mutex::new(()),
            state: Mutex::new(State::default()),
            pending: Mutex::new(HashMap::new()),
            next_slot: AtomicU64::new(0),
            rule: Mutex::new(LinkRule::Open),
            infos: Mutex::new(HashMap::new()),
        }
    }

    /// Reads TCP_INFO of every socket we hold and reports each one whose
    /// congestion state, window, threshold or retransmissions changed since
    /// its last report (after each call, and from the ticker while a
    /// transfer runs).
    pub(super) fn report_infos(&self) {
        let fds = lock(&self.state).held.clone();
        for fd in fds {
            self.report_info(fd);
        }
    }

    fn report_info(&self, fd: i32) {
        let Some(now) = cong_sample(fd).filter(CongSample::sends) else {
            return;
        };
        let (Some(local), Some(remote)) = (local_addr(fd), peer_addr(fd)) else {
            return;
        };
        let mut infos = lock(&self.infos);
        let before = infos
            .get(&fd)
            .filter(|(l, r, _)| *l == local && *r == remote)
            .map(|(_, _, s)| *s);
        if before.is_some_and(|b| !now.differs(&b)) {
            return;
        }
        infos.insert(fd, (local, remote, now));
        self.emit(&Line {
            ts_ns: Some(now_ns()),
            info: Some(Box::new(InfoLine {
                local: local.to_string(),
                remote: remote.to_string(),
                ca_state: now.ca_state,
                from: before.map(|b| b.ca_state),
                cwnd: now.cwnd,
                ssthresh: now.ssthresh,
                rtt_us: now.rtt_us,
                retransmits: now.retransmits,
                total_retrans: now.total_retrans,
            })),
            ..Line::default()
        });
    }

    /// Writes one protocol line to stdout, whole.
    pub(super) fn emit(&self, line: &Line) {
        let Ok(text) = serde_json::to_string(line) else {
            return;
        };
        let _guard = lock(&self.out);
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{text}");
        let _ = out.flush();
    }

    pub(super) fn warn(&self, message: &str) {
        self.emit(&Line {
            ts_ns: Some(now_ns()),
            warning: Some(message.to_owned()),
            ..Line::default()
        });
    }

    fn event(&self, ts: u64, call: &str, args: &str, phase: Option<&str>, result: Option<String>) {
        self.emit(&Line {
            ts_ns: Some(ts),
            call: Some(call.to_owned()),
            args: Some(args.to_owned()),
            phase: phase.map(str::to_owned),
            result,
            ..Line::default()
        });
    }

    /// Reports `start` for calls that have been blocking a while.
    pub(super) fn announce_blocked(&self) {
        let now = now_ns();
        let mut pending = lock(&self.pending);
        for p in pending.values_mut() {
            if !p.announced && now.saturating_sub(p.begin) >= BLOCKED_AFTER_NS {
                p.announced = true;
                self.emit(&Line {
                    ts_ns: Some(p.begin),
                    call: Some(p.call.clone()),
                    args: Some(p.args.clone()),
                    phase: Some("start".to_owned()),
                    local: p.fd.and_then(local_addr).map(|a| a.to_string()),
                    ..Line::default()
                });
            }
        }
    }

    /// Runs one syscall `f` and reports it; returns its return value and errno.
    fn syscall(
        &self,
        call: &str,
        args: &str,
        count: bool,
        f: impl FnOnce() -> isize,
    ) -> (isize, i32) {
        self.syscall_on(call, args, count, None, f)
    }

    /// Like [`Peer::syscall`], and reports the local address of a socket
    /// afterwards: `Some(fd)` that socket, `Some(-1)` the one the call returned.
    fn syscall_on(
        &self,
        call: &str,
        args: &str,
        count: bool,
        local_of: Option<i32>,
        f: impl FnOnce() -> isize,
    ) -> (isize, i32) {
        let slot = self.begin_call(call, args, local_of.filter(|&fd| fd >= 0));
        let ret = f();
        let err = if ret < 0 { errno() } else { 0 };
        let local = match local_of {
            Some(-1) if ret >= 0 => local_addr(ret as i32),
            Some(fd) if fd >= 0 => local_addr(fd),
            _ => None,
        };
        self.end_call(slot, call, args, result_of(ret, err, count), local, None);
        (ret, err)
    }

    /// A reported call that fills `buf` (read, recv, recvfrom): its report
    /// carries the bytes it returned as `data` when they are few.
    fn syscall_into(
        &self,
        call: &str,
        args: &str,
        buf: &mut [u8],
        f: impl FnOnce(&mut [u8]) -> isize,
    ) -> (isize, i32) {
        let slot = self.begin_call(call, args, None);
        let ret = f(buf);
        let err = if ret < 0 { errno() } else { 0 };
        let data = usize::try_from(ret)
            .ok()
            .and_then(|n| buf.get(..n))
            .and_then(CallEvent::data_of);
        self.end_call(slot, call, args, result_of(ret, err, true), None, data);
        (ret, err)
    }

    /// A call begins: the ticker reports it as blocking if it does not
    /// return soon (with `fd`'s address, when given).
    fn begin_call(&self, call: &str, args: &str, fd: Option<i32>) -> u64 {
        let slot = self.next_slot.fetch_add(1, Ordering::Relaxed);
        lock(&self.pending).insert(
            slot,
            Pending {
                call: call.to_owned(),
                args: args.to_owned(),
                begin: now_ns(),
                announced: false,
                fd,
            },
        );
        slot
    }

    /// The call of `slot` returned with `result`: reported, while the
    /// ticker cannot announce it any more.
    fn end_call(
        &self,
        slot: u64,
        call: &str,
        args: &str,
        result: String,
        local: Option<SocketAddr>,
        data: Option<String>,
    ) {
        let end = now_ns();
        let mut pending = lock(&self.pending);
        pending.remove(&slot);
        self.emit(&Line {
            ts_ns: Some(end),
            call: Some(call.to_owned()),
            args: Some(args.to_owned()),
            result: Some(result),
            local: local.map(|a| a.to_string()),
            data,
            ..Line::default()
        });
        drop(pending);
        self.report_infos();
    }

    /// Tells the runner this command goes on (a loop that does not block
    /// in one call): it may run the next step.
    fn under_way(&self) {
        self.emit(&Line {
            under_way: true,
            ..Line::default()
        });
    }

    fn addr_of(&self, port: u16) -> SocketAddr {
        let ip = if self.ipv6 {
            IpAddr::V6(Ipv6Addr::LOCALHOST)
        } else {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        };
        SocketAddr::new(ip, port)
    }

    fn server_port(&self, index: u16) -> u16 {
        self.port.saturating_add(index.saturating_sub(1))
    }

    fn target_addr(&self, target: Option<Target>) -> SocketAddr {
        match target {
            None => self.addr_of(self.server_port(1)),
            Some(Target::Port(p)) => self.addr_of(p),
            Some(Target::Endpoint(e)) => self.addr_of(self.server_port(e.index)),
        }
    }

    fn hold(&self, fd: i32) {
        let mut st = lock(&self.state);
        st.held.push(fd);
        let rule = lock(&self.rule);
        if *rule != LinkRule::Open {
            set_filter(fd, &rule);
        }
    }

    /// A connection opened: a `drop` rule can now be put on it.
    fn connected(&self, fd: i32) {
        let rule = lock(&self.rule);
        if matches!(*rule, LinkRule::Drop { .. }) {
            set_filter(fd, &rule);
        }
    }

    fn release(&self, fd: i32) {
        lock(&self.state).held.retain(|&f| f != fd);
    }

    /// Puts `rule` on every socket we hold; for `drop`, returns where it drops.
    pub(super) fn link(&self, rule: LinkRule) -> Option<Vec<u32>> {
        let st = lock(&self.state);
        let mut current = lock(&self.rule);
        *current = rule;
        let mut at = None;
        for &fd in &st.held {
            let starts = set_filter(fd, &current);
            at = at.or(starts);
        }
        at
    }

    /// socket(); becomes `state.sock`.
    fn socket(&self, proto: Proto) -> Option<Sock> {
        let domain = if self.ipv6 {
            libc::AF_INET6
        } else {
            libc::AF_INET
        };
        let (ty, name) = match proto {
            Proto::Tcp => (libc::SOCK_STREAM, "SOCK_STREAM"),
            Proto::Udp => (libc::SOCK_DGRAM, "SOCK_DGRAM"),
        };
        let family = if self.ipv6 { "AF_INET6" } else { "AF_INET" };
        // SAFETY: socket() with constant arguments.
        let (fd, _) = self.syscall("socket", &format!("{family}, {name}"), false, || unsafe {
            libc::socket(domain, ty | libc::SOCK_CLOEXEC, 0) as isize
        });
        if fd < 0 {
            return None;
        }
        let fd = fd as i32;
        self.hold(fd);
        let sock = Sock {
            fd,
            bound: false,
            listening: false,
            connected: false,
        };
        lock(&self.state).sock = Some(sock);
        Some(sock)
    }

    fn sock_or_new(&self) -> Option<Sock> {
        let existing = lock(&self.state).sock;
        existing.or_else(|| self.socket(Proto::Tcp))
    }

    /// The fd read/write/close/… act on: the accepted connection, else our socket.
    fn current(&self) -> Option<(i32, bool)> {
        let st = lock(&self.state);
        match (st.conn, st.sock) {
            (Some(c), _) => Some((c, false)),
            (None, Some(s)) => Some((s.fd, s.listening)),
            (None, None) => None,
        }
    }

    fn no_socket(&self, call: &str) {
        self.warn(&format!(
            "{}: {call} without a socket (nothing to do)",
            self.me
        ));
    }

    fn bind(&self, sock: Sock, target: Option<Target>) -> bool {
        let port = match target {
            Some(t) => self.target_addr(Some(t)).port(),
            None => match self.me.side {
                Side::Server => self.server_port(self.me.index),
                Side::Client => 0,
            },
        };
        let addr = socket2::SockAddr::from(self.addr_of(port));
        // SAFETY: addr is a valid sockaddr of addr.len() bytes.
        let (ret, _) = self.syscall_on(
            "bind",
            &self.addr_of(port).to_string(),
            false,
            Some(sock.fd),
            || unsafe { libc::bind(sock.fd, addr.as_ptr().cast(), addr.len()) as isize },
        );
        if ret == 0 {
            if let Some(s) = lock(&self.state).sock.as_mut() {
                s.bound = true;
            }
        }
        ret == 0
    }

    fn listen(&self, backlog: Option<i32>) -> bool {
        let Some(sock) = self.sock_or_new() else {
            return false;
        };
        if !sock.bound && !self.bind(sock, None) {
            return false;
        }
        let backlog = backlog.unwrap_or(128);
        // SAFETY: listen on our socket.
        let (ret, _) = self.syscall_on(
            "listen",
            &backlog.to_string(),
            false,
            Some(sock.fd),
            || unsafe { libc::listen(sock.fd, backlog) as isize },
        );
        if ret == 0 {
            if let Some(s) = lock(&self.state).sock.as_mut() {
                s.listening = true;
            }
        }
        ret == 0
    }

    /// accept(), reported with `args` (empty, or `fd 3` in the epoll loop).
    fn accept(&self, listener: i32, args: &str) -> Option<i32> {
        // SAFETY: accept4 on our listener; we don't ask for the peer address.
        let (fd, _) = self.syscall_on("accept", args, false, Some(-1), || unsafe {
            libc::accept4(
                listener,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                libc::SOCK_CLOEXEC,
            ) as isize
        });
        (fd >= 0).then(|| {
            self.hold(fd as i32);
            fd as i32
        })
    }

    fn read(&self, fd: i32, max: usize) -> isize {
        let mut buf = vec![0u8; max.max(1)];
        self.read_into(fd, &mut buf[..max], &max.to_string()).0
    }

    /// read() into `buf` (all of it), reported with `args`.
    fn read_into(&self, fd: i32, buf: &mut [u8], args: &str) -> (isize, i32) {
        self.syscall_into("read", args, buf, |b| {
            // SAFETY: b is a valid, writable buffer of b.len() bytes.
            unsafe { libc::read(fd, b.as_mut_ptr().cast(), b.len()) }
        })
    }

    /// `read [N] busy`: read() on a non-blocking socket until it returns
    /// something other than EAGAIN, without waiting in between (a busy-poll
    /// loop). One row for the first EAGAIN, one `EAGAIN ×N` for the N after
    /// it, one for the call that ended the loop; gives up after [`BUSY_LIMIT`].
    fn read_busy(&self, fd: i32, max: usize) {
        let mut buf = vec![0u8; max];
        let args = max.to_string();
        let (first, err) = self.read_into(fd, &mut buf, &args);
        if first >= 0 || err != libc::EAGAIN {
            return;
        }
        self.under_way();
        let give_up = now_ns().saturating_add(BUSY_LIMIT.as_nanos() as u64);
        let mut again = 0u64;
        let mut last_again = now_ns();
        let (ret, err, ts) = loop {
            // SAFETY: buf is a valid, writable buffer of buf.len() bytes.
            let ret = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
            let err = if ret < 0 { errno() } else { 0 };
            let ts = now_ns();
            if ret >= 0 || err != libc::EAGAIN {
                break (ret, err, ts);
            }
            again += 1;
            last_again = ts;
            if ts >= give_up {
                break (ret, err, ts);
            }
        };
        if again > 0 {
            self.emit(&Line {
                ts_ns: Some(last_again),
                call: Some("read".into()),
                args: Some(args.clone()),
                result: Some(result_of(-1, libc::EAGAIN, true)),
                times: Some(again),
                ..Line::default()
            });
        }
        if ret >= 0 || err != libc::EAGAIN {
            let data = usize::try_from(ret)
                .ok()
                .and_then(|n| buf.get(..n))
                .and_then(CallEvent::data_of);
            self.emit(&Line {
                ts_ns: Some(ts),
                call: Some("read".into()),
                args: Some(args),
                result: Some(result_of(ret, err, true)),
                data,
                ..Line::default()
            });
        } else {
            self.warn(&format!(
                "{}: read busy: still EAGAIN after {}; given up",
                self.me,
                crate::lab::runner::format_duration(BUSY_LIMIT)
            ));
        }
    }

    /// recv(), with MSG_PEEK when `peek`: reported as `recv(4, MSG_PEEK)`.
    fn recv(&self, fd: i32, max: usize, peek: bool) {
        let mut buf = vec![0u8; max.max(1)];
        let (flags, args) = if peek {
            (libc::MSG_PEEK, format!("{max}, MSG_PEEK"))
        } else {
            (0, max.to_string())
        };
        self.syscall_into("recv", &args, &mut buf[..max], |b| {
            // SAFETY: b is a valid, writable buffer of b.len() bytes.
            unsafe { libc::recv(fd, b.as_mut_ptr().cast(), b.len(), flags) }
        });
    }

    fn write(&self, fd: i32, bytes: &[u8], args: &str) -> isize {
        // SAFETY: bytes is a valid slice.
        self.syscall("write", args, true, || unsafe {
            libc::write(fd, bytes.as_ptr().cast(), bytes.len())
        })
        .0
    }

    fn close(&self, fd: i32, what: &str) {
        // The socket's last word before it goes (what a transfer's end left).
        self.report_info(fd);
        self.release(fd);
        // SAFETY: fd is ours; it is forgotten whatever close returns.
        self.syscall("close", what, false, || unsafe { libc::close(fd) as isize });
    }

    pub(super) fn run_call(self: &Arc<Self>, call: &Call) {
        match call {
            Call::Socket(proto) => {
                self.socket(*proto);
            }
            Call::Bind(port) => {
                if let Some(sock) = self.sock_or_new() {
                    self.bind(sock, *port);
                }
            }
            Call::Listen(backlog) => {
                self.listen(*backlog);
            }
            Call::Connect(target) => {
                let Some(sock) = self.sock_or_new() else {
                    return;
                };
                let to = self.target_addr(*target);
                let addr = socket2::SockAddr::from(to);
                // SAFETY: addr is a valid sockaddr of addr.len() bytes.
                let (ret, _) = self.syscall_on(
                    "connect",
                    &to.to_string(),
                    false,
                    Some(sock.fd),
                    || unsafe { libc::connect(sock.fd, addr.as_ptr().cast(), addr.len()) as isize },
                );
                if ret == 0 {
                    if let Some(s) = lock(&self.state).sock.as_mut() {
                        s.connected = true;
                    }
                    self.connected(sock.fd);
                }
            }
            Call::Accept => {
                let listener = lock(&self.state).sock.filter(|s| s.listening);
                let Some(listener) = listener else {
                    return self.no_socket("accept");
                };
                if let Some(fd) = self.accept(listener.fd, "") {
                    let mut st = lock(&self.state);
                    // An earlier connection stays open (and held for `link`).
                    st.conn = Some(fd);
                }
            }
            Call::Serve(Serving::Threads) => self.serve(),
            Call::Serve(Serving::Epoll) => self.serve_epoll(),
            Call::Serve(Serving::Select) => self.serve_select(),
            Call::Read(max) => match self.current() {
                Some((fd, _)) => {
                    self.read(fd, *max);
                }
                None => self.no_socket("read"),
            },
            Call::ReadBusy(max) => match self.current() {
                Some((fd, _)) => self.read_busy(fd, *max),
                None => self.no_socket("read"),
            },
            Call::Recv { max, peek } => match self.current() {
                Some((fd, _)) => self.recv(fd, *max, *peek),
                None => self.no_socket("recv"),
            },
            Call::Fcntl { nonblock } => {
                if let Some(fd) = self
                    .current()
                    .map(|(fd, _)| fd)
                    .or_else(|| self.sock_or_new().map(|s| s.fd))
                {
                    self.fcntl(fd, *nonblock);
                }
            }
            Call::Poll { ready, timeout } => match self.current() {
                Some((fd, _)) => {
                    self.poll_one(fd, *ready, *timeout);
                }
                None => self.no_socket("poll"),
            },
            Call::Select { ready, timeout } => match self.current() {
                Some((fd, _)) => {
                    self.select_on(&[fd], *ready, *timeout);
                }
                None => self.no_socket("select"),
            },
            Call::GetSockOptError => match self.current() {
                Some((fd, _)) => self.so_error(fd),
                None => self.no_socket("getsockopt"),
            },
            Call::Heartbeat { every, misses } => self.heartbeat(*every, *misses),
            Call::Drain(total) => match self.current() {
                Some((fd, _)) => {
                    let mut got = 0usize;
                    while got < *total {
                        let n = self.read(fd, (*total - got).min(65536));
                        if n <= 0 {
                            break;
                        }
                        got += n.unsigned_abs();
                    }
                }
                None => self.no_socket("drain"),
            },
            Call::RecvFrom(max) => self.recvfrom(*max),
            Call::Write(p) => match self.current() {
                Some((fd, _)) => {
                    self.write(fd, &payload_bytes(p), &payload_args(p));
                }
                None => self.no_socket("write"),
            },
            Call::Send { payload, oob } => match self.current() {
                Some((fd, _)) => {
                    let bytes = payload_bytes(payload);
                    let (flags, args) = if *oob {
                        (libc::MSG_OOB, format!("{}, MSG_OOB", payload_args(payload)))
                    } else {
                        (0, payload_args(payload))
                    };
                    // SAFETY: bytes is a valid slice.
                    self.syscall("send", &args, true, || unsafe {
                        libc::send(fd, bytes.as_ptr().cast(), bytes.len(), flags)
                    });
                }
                None => self.no_socket("send"),
            },
            Call::SendTo { payload, to } => self.sendto(payload, *to),
            Call::Shutdown(how) => match self.current() {
                Some((fd, _)) => {
                    let (h, name) = match how {
                        How::Rd => (libc::SHUT_RD, "SHUT_RD"),
                        How::Wr => (libc::SHUT_WR, "SHUT_WR"),
                        How::RdWr => (libc::SHUT_RDWR, "SHUT_RDWR"),
                    };
                    // SAFETY: shutdown on our socket.
                    self.syscall("shutdown", name, false, || unsafe {
                        libc::shutdown(fd, h) as isize
                    });
                }
                None => self.no_socket("shutdown"),
            },
            Call::Close => match self.take_current() {
                Some((fd, what)) => self.close(fd, what),
                None => self.no_socket("close"),
            },
            Call::Fork => self.fork(),
            Call::SetSockOpt(opts) => {
                let Some(fd) = self
                    .current()
                    .map(|(fd, _)| fd)
                    .or_else(|| self.sock_or_new().map(|s| s.fd))
                else {
                    return;
                };
                for &(opt, value) in opts {
                    self.setsockopt(fd, opt, value);
                }
            }
        }
    }

    fn setsockopt(&self, fd: i32, opt: SockOpt, value: i32) {
        let (level, name) = match opt {
            SockOpt::ReuseAddr => (libc::SOL_SOCKET, libc::SO_REUSEADDR),
            SockOpt::ReusePort => (libc::SOL_SOCKET, libc::SO_REUSEPORT),
            SockOpt::Linger => (libc::SOL_SOCKET, libc::SO_LINGER),
            SockOpt::KeepAlive => (libc::SOL_SOCKET, libc::SO_KEEPALIVE),
            SockOpt::KeepIdle => (libc::IPPROTO_TCP, libc::TCP_KEEPIDLE),
            SockOpt::KeepIntvl => (libc::IPPROTO_TCP, libc::TCP_KEEPINTVL),
            SockOpt::KeepCnt => (libc::IPPROTO_TCP, libc::TCP_KEEPCNT),
            SockOpt::RcvBuf => (libc::SOL_SOCKET, libc::SO_RCVBUF),
            SockOpt::SndBuf => (libc::SOL_SOCKET, libc::SO_SNDBUF),
            SockOpt::NoDelay => (libc::IPPROTO_TCP, libc::TCP_NODELAY),
            SockOpt::MaxSeg => (libc::IPPROTO_TCP, libc::TCP_MAXSEG),
        };
        let args = if opt == SockOpt::Linger {
            format!("SO_LINGER {{on, {value}}}")
        } else {
            format!("{} {value}", opt.c_name())
        };
        if opt == SockOpt::Linger {
            let l = libc::linger {
                l_onoff: 1,
                l_linger: value,
            };
            // SAFETY: l is a valid struct linger for the call.
            self.syscall("setsockopt", &args, false, || unsafe {
                libc::setsockopt(
                    fd,
                    level,
                    name,
                    (&raw const l).cast(),
                    std::mem::size_of::<libc::linger>() as libc::socklen_t,
                ) as isize
            });
        } else {
            // SAFETY: value is a valid int for the call.
            self.syscall("setsockopt", &args, false, || unsafe {
                libc::setsockopt(
                    fd,
                    level,
                    name,
                    (&raw const value).cast(),
                    std::mem::size_of::<i32>() as libc::socklen_t,
                ) as isize
            });
        }
    }

    fn recvfrom(&self, max: usize) {
        let Some((fd, _)) = self.current() else {
            return self.no_socket("recvfrom");
        };
        let mut buf = vec![0u8; max.max(1)];
        // SAFETY: sockaddr_storage is plain old data.
        let mut from: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
        let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        let (n, _) = self.syscall_into("recvfrom", &max.to_string(), &mut buf[..max], |b| {
            // SAFETY: b, from and len are valid for the call.
            unsafe {
                libc::recvfrom(
                    fd,
                    b.as_mut_ptr().cast(),
                    b.len(),
                    0,
                    (&raw mut from).cast(),
                    &raw mut len,
                )
            }
        });
        if n >= 0 {
            // SAFETY: the kernel filled `from` with `len` bytes of address.
            let addr = unsafe { socket2::SockAddr::new(from, len) };
            lock(&self.state).last_from = addr.as_socket();
        }
    }

    fn sendto(&self, payload: &Payload, to: Option<Endpoint>) {
        let sock = lock(&self.state).sock;
        let Some(sock) = sock.or_else(|| self.socket(Proto::Udp)) else {
            return;
        };
        let dest = match (to, self.me.side) {
            (Some(e), _) if e.side == Side::Server => Some(self.addr_of(self.server_port(e.index))),
            (Some(_), _) | (None, Side::Server) => lock(&self.state).last_from,
            (None, Side::Client) => Some(self.addr_of(self.server_port(1))),
        };
        let Some(dest) = dest else {
            return self.warn(&format!(
                "{}: sendto: no address yet (recvfrom first)",
                self.me
            ));
        };
        let addr = socket2::SockAddr::from(dest);
        let bytes = payload_bytes(payload);
        // SAFETY: bytes and addr are valid for the call.
        self.syscall(
            "sendto",
            &format!("{}, {dest}", payload_args(payload)),
            true,
            || unsafe {
                libc::sendto(
                    sock.fd,
                    bytes.as_ptr().cast(),
                    bytes.len(),
                    0,
                    addr.as_ptr().cast(),
                    addr.len(),
                )
            },
        );
    }

    /// Accept loop on its own thread; each connection echoes on its own thread.
    fn serve(self: &Arc<Self>) {
        let listening = lock(&self.state).sock.is_some_and(|s| s.listening);
        if !listening && !self.listen(None) {
            return;
        }
        let Some(listener) = lock(&self.state).sock.map(|s| s.fd) else {
            return;
        };
        let peer = Arc::clone(self);
        std::thread::spawn(move || {
            while let Some(fd) = peer.accept(listener, "") {
                let peer = Arc::clone(&peer);
                std::thread::spawn(move || {
                    let mut buf = vec![0u8; 65536];
                    loop {
                        let (n, _) = peer.read_into(fd, &mut buf, "65536");
                        if n <= 0 {
                            break;
                        }
                        let data = &buf[..n.unsigned_abs()];
                        if peer.write(fd, data, &format!("{} bytes (echo)", data.len())) < 0 {
                            break;
                        }
                    }
                    peer.close(fd, "connection");
                });
            }
        });
    }

    /// `serve epoll`: epoll_create1 and the listener's EPOLL_CTL_ADD here (so
    /// the step ends once the server is ready), then one thread runs the loop
    /// for the peer's life. Like `serve`, it ends with the peer process when
    /// the lab tears it down.
    fn serve_epoll(self: &Arc<Self>) {
        let listening = lock(&self.state).sock.is_some_and(|s| s.listening);
        if !listening && !self.listen(None) {
            return;
        }
        let Some(listener) = lock(&self.state).sock.map(|s| s.fd) else {
            return;
        };
        // SAFETY: epoll_create1 with a constant flag.
        let (ep, _) = self.syscall("epoll_create1", "EPOLL_CLOEXEC", false, || unsafe {
            libc::epoll_create1(libc::EPOLL_CLOEXEC) as isize
        });
        if ep < 0 {
            return;
        }
        let ep = ep as i32;
        if !self.epoll_ctl(ep, libc::EPOLL_CTL_ADD, listener) {
            // SAFETY: ep is ours and used nowhere else.
            unsafe { libc::close(ep) };
            return;
        }
        let peer = Arc::clone(self);
        std::thread::spawn(move || peer.epoll_loop(ep, listener));
    }

    /// The event loop of `serve epoll`, level-triggered, one thread for every
    /// socket: wait until some are ready, then serve each once (the listener:
    /// accept and watch the new connection; a connection: read, and echo, or
    /// unwatch and close it at end of file or error). A ready socket does not
    /// block its call, so the sockets stay blocking and no EAGAIN shows.
    fn epoll_loop(&self, ep: i32, listener: i32) {
        let mut ready = [libc::epoll_event { events: 0, u64: 0 }; EPOLL_MAX_EVENTS];
        let mut buf = vec![0u8; 65536];
        let wait_args = format!("max {EPOLL_MAX_EVENTS}, timeout -1");
        loop {
            // SAFETY: `ready` has room for EPOLL_MAX_EVENTS events.
            let (n, err) = self.syscall("epoll_wait", &wait_args, true, || unsafe {
                libc::epoll_wait(ep, ready.as_mut_ptr(), EPOLL_MAX_EVENTS as i32, -1) as isize
            });
            if n < 0 {
                if err == libc::EINTR {
                    continue;
                }
                return self.warn(&format!("{}: the epoll loop stopped", self.me));
            }
            for ev in &ready[..n.unsigned_abs()] {
                let fd = ev.u64 as i32;
                if fd == listener {
                    if let Some(conn) = self.accept(listener, &format!("fd {listener}")) {
                        if !self.epoll_ctl(ep, libc::EPOLL_CTL_ADD, conn) {
                            self.close(conn, &format!("fd {conn}"));
                        }
                    }
                    continue;
                }
                if self.echo_once(fd, &mut buf) {
                    continue;
                }
                self.epoll_ctl(ep, libc::EPOLL_CTL_DEL, fd);
                self.close(fd, &format!("fd {fd}"));
            }
        }
    }

    /// epoll_ctl on the loop's instance, for input (EPOLLIN), the socket's fd
    /// as the event's data; reported as `EPOLL_CTL_ADD, fd 5, EPOLLIN`.
    fn epoll_ctl(&self, ep: i32, op: i32, fd: i32) -> bool {
        let args = match op {
            libc::EPOLL_CTL_ADD => format!("EPOLL_CTL_ADD, fd {fd}, EPOLLIN"),
            libc::EPOLL_CTL_DEL => format!("EPOLL_CTL_DEL, fd {fd}"),
            _ => format!("op {op}, fd {fd}"),
        };
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: fd as u64,
        };
        // SAFETY: ev is valid for the call (ignored by EPOLL_CTL_DEL).
        let (ret, _) = self.syscall("epoll_ctl", &args, false, || unsafe {
            libc::epoll_ctl(ep, op, fd, &raw mut ev) as isize
        });
        ret == 0
    }

    /// An event loop serves a ready connection once: read(), and write the
    /// bytes back. False at end of file or an error (the loop closes it).
    fn echo_once(&self, fd: i32, buf: &mut [u8]) -> bool {
        let args = format!("fd {fd}, {}", buf.len());
        let (got, _) = self.read_into(fd, buf, &args);
        if got <= 0 {
            return false;
        }
        let data = &buf[..got.unsigned_abs()];
        let args = format!("fd {fd}, {} bytes (echo)", data.len());
        self.write(fd, data, &args) >= 0
    }

    /// `serve select`: listens first when needed, then one thread runs the
    /// select loop for the peer's life (as `serve epoll` does).
    fn serve_select(self: &Arc<Self>) {
        let listening = lock(&self.state).sock.is_some_and(|s| s.listening);
        if !listening && !self.listen(None) {
            return;
        }
        let Some(listener) = lock(&self.state).sock.map(|s| s.fd) else {
            return;
        };
        let peer = Arc::clone(self);
        std::thread::spawn(move || peer.select_loop(listener));
    }

    /// The event loop of `serve select`: each turn builds the set of sockets
    /// to read (the listener and every connection), select() sleeps until
    /// some are ready and says how many, and the loop looks through the set
    /// for them: the listener accepts, a connection is read and echoed, or
    /// closed at end of file or an error. No timeout: select waits as long
    /// as it takes.
    fn select_loop(&self, listener: i32) {
        let mut conns: Vec<i32> = Vec::new();
        let mut buf = vec![0u8; 65536];
        loop {
            let mut watched = vec![listener];
            watched.extend(&conns);
            let (n, err, ready) = self.select_on(&watched, Ready::In, None);
            if n < 0 {
                if err == libc::EINTR {
                    continue;
                }
                return self.warn(&format!("{}: the select loop stopped", self.me));
            }
            if ready.contains(&listener) {
                if let Some(conn) = self.accept(listener, &format!("fd {listener}")) {
                    if fd_fits_select(conn) {
                        conns.push(conn);
                    } else {
                        self.warn(&format!("{}: fd {conn} is beyond FD_SETSIZE", self.me));
                        self.close(conn, &format!("fd {conn}"));
                    }
                }
            }
            for fd in ready.into_iter().filter(|&fd| fd != listener) {
                if !self.echo_once(fd, &mut buf) {
                    conns.retain(|&c| c != fd);
                    self.close(fd, &format!("fd {fd}"));
                }
            }
        }
    }

    /// One reported select() on `fds` for `ready`, waiting at most
    /// `timeout` (`None`: no limit): its return value, errno, and the fds
    /// it marked ready. Reported as `nfds 6, readfds {3,5}, timeout 1s`.
    fn select_on(
        &self,
        fds: &[i32],
        ready: Ready,
        timeout: Option<Duration>,
    ) -> (isize, i32, Vec<i32>) {
        let fds: Vec<i32> = fds
            .iter()
            .copied()
            .filter(|&fd| fd_fits_select(fd))
            .collect();
        // SAFETY: fd_set is plain old data; FD_ZERO and FD_SET get fds below
        // FD_SETSIZE only (filtered above).
        let mut set: libc::fd_set = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        unsafe { libc::FD_ZERO(&raw mut set) };
        for &fd in &fds {
            // SAFETY: fd is below FD_SETSIZE.
            unsafe { libc::FD_SET(fd, &raw mut set) };
        }
        let nfds = fds.iter().max().map_or(0, |m| m + 1);
        let list: Vec<String> = fds.iter().map(i32::to_string).collect();
        let set_name = match ready {
            Ready::In => "readfds",
            Ready::Out => "writefds",
        };
        let shown = timeout.map_or_else(|| "NULL".to_owned(), crate::lab::runner::format_duration);
        let args = format!(
            "nfds {nfds}, {set_name} {{{}}}, timeout {shown}",
            list.join(",")
        );
        let mut tv = timeout.map(|d| libc::timeval {
            tv_sec: d.as_secs() as libc::time_t,
            tv_usec: libc::suseconds_t::from(d.subsec_micros() as i32),
        });
        let tvp = tv.as_mut().map_or(std::ptr::null_mut(), std::ptr::from_mut);
        let setp = &raw mut set;
        let (read_set, write_set) = match ready {
            Ready::In => (setp, std::ptr::null_mut()),
            Ready::Out => (std::ptr::null_mut(), setp),
        };
        // SAFETY: the sets and the timeval are valid (or null) for the call.
        let (n, err) = self.syscall("select", &args, true, || unsafe {
            libc::select(nfds, read_set, write_set, std::ptr::null_mut(), tvp) as isize
        });
        let marked = if n > 0 {
            fds.iter()
                .copied()
                // SAFETY: fd is below FD_SETSIZE and the set is initialised.
                .filter(|&fd| unsafe { libc::FD_ISSET(fd, &raw const set) })
                .collect()
        } else {
            Vec::new()
        };
        (n, err, marked)
    }

    /// One reported poll() of `fd` for `ready`, at most `timeout`:
    /// `poll(POLLIN, timeout 1000) = 1` (the timeout in milliseconds, as C
    /// takes it; -1 waits as long as it takes). Returns what poll returned.
    fn poll_one(&self, fd: i32, ready: Ready, timeout: Option<Duration>) -> isize {
        let (events, name) = match ready {
            Ready::In => (libc::POLLIN, "POLLIN"),
            Ready::Out => (libc::POLLOUT, "POLLOUT"),
        };
        let ms = timeout.map_or(-1, |d| i32::try_from(d.as_millis()).unwrap_or(i32::MAX));
        let mut pfd = libc::pollfd {
            fd,
            events,
            revents: 0,
        };
        // SAFETY: pfd is one valid pollfd for the call.
        self.syscall("poll", &format!("{name}, timeout {ms}"), true, || unsafe {
            libc::poll(&raw mut pfd, 1, ms) as isize
        })
        .0
    }

    /// `fcntl nonblock|block`: fcntl(F_SETFL, O_NONBLOCK) or 0. A socket has
    /// no other status flag set here, so the flags are set whole.
    fn fcntl(&self, fd: i32, nonblock: bool) {
        let (flags, args) = if nonblock {
            (libc::O_NONBLOCK, "F_SETFL, O_NONBLOCK")
        } else {
            (0, "F_SETFL, 0")
        };
        // SAFETY: fcntl F_SETFL on our socket with an int argument.
        self.syscall("fcntl", args, false, || unsafe {
            libc::fcntl(fd, libc::F_SETFL, flags) as isize
        });
    }

    /// `getsockopt error`: reads SO_ERROR (which also clears it) and reports
    /// the error it held as the result: `0`, or its name. A non-blocking
    /// connect that ended well (0) makes the socket a connection here too.
    fn so_error(&self, fd: i32) {
        let slot = self.begin_call("getsockopt", "SO_ERROR", None);
        let mut v: libc::c_int = 0;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: v and len are valid for the call.
        let r = unsafe {
            libc::getsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_ERROR,
                (&raw mut v).cast(),
                &raw mut len,
            )
        };
        let result = if r < 0 {
            result_of(-1, errno(), false)
        } else if v == 0 {
            "0".to_owned()
        } else {
            result_of(-1, v, false)
        };
        self.end_call(slot, "getsockopt", "SO_ERROR", result, None, None);
        if r == 0 && v == 0 && is_connected_tcp(fd) {
            let was = lock(&self.state).sock.filter(|s| s.fd == fd);
            if was.is_some_and(|s| !s.connected) {
                if let Some(s) = lock(&self.state).sock.as_mut() {
                    s.connected = true;
                }
                self.connected(fd);
            }
        }
    }

    /// `heartbeat EVERY MISSES`: the application's own keepalive, on this
    /// thread until it ends. Each beat writes "ping" and polls for the
    /// answer at most EVERY; an answer is read (an echo server sends the
    /// ping back) and the next beat waits for the rest of EVERY. After
    /// MISSES polls in a row found nothing, the connection is closed. A
    /// failed write or read, or end of file, closes it too.
    fn heartbeat(&self, every: Duration, misses: u32) {
        let Some((fd, _)) = self.current() else {
            return self.no_socket("heartbeat");
        };
        self.under_way();
        let mut buf = vec![0u8; 65536];
        let mut missed = 0u32;
        let why = loop {
            let beat = std::time::Instant::now();
            if self.write(fd, b"ping", "\"ping\"") < 0 {
                break None;
            }
            let n = self.poll_one(fd, Ready::In, Some(every));
            if n < 0 {
                break None;
            }
            if n == 0 {
                missed += 1;
                if missed >= misses {
                    break Some(missed);
                }
                continue;
            }
            if self.read_into(fd, &mut buf, "65536").0 <= 0 {
                break None;
            }
            missed = 0;
            std::thread::sleep(every.saturating_sub(beat.elapsed()));
        };
        // The close says why when the heartbeat gave up: `3 pings unanswered`.
        if let Some((fd, what)) = self.take_current().filter(|&(f, _)| f == fd) {
            let what = match why {
                Some(n) => format!("{n} pings unanswered"),
                None => what.to_owned(),
            };
            self.close(fd, &what);
        }
    }

    /// Takes the socket `close` acts on (the accepted connection, else our
    /// socket) out of the state, with what it is.
    fn take_current(&self) -> Option<(i32, &'static str)> {
        let mut st = lock(&self.state);
        if let Some(c) = st.conn.take() {
            return Some((c, "connection"));
        }
        st.sock.take().map(|s| {
            let what = match (s.listening, s.connected) {
                (true, _) => "listener",
                (false, true) => "connection",
                (false, false) => "socket",
            };
            (s.fd, what)
        })
    }

    /// fork(): the child shares every socket (as a fork-per-connection server
    /// would), closes its copy of the listener, and then waits for `close`.
    fn fork(&self) {
        let Some((conn, _)) = self.current() else {
            return self.no_socket("fork");
        };
        let listener = lock(&self.state)
            .sock
            .filter(|s| s.listening && s.fd != conn)
            .map(|s| s.fd);
        let mut pipe_fds = [0i32; 2];
        // SAFETY: pipe2 fills two fds.
        if unsafe { libc::pipe2(pipe_fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            return self.warn(&format!(
                "{}: pipe: {}",
                self.me,
                std::io::Error::last_os_error()
            ));
        }
        let [rd, wr] = pipe_fds;
        // SAFETY: getpid has no arguments.
        let parent = unsafe { libc::getpid() };
        let stdout_guard = lock(&self.out);
        // SAFETY: fork; the child only runs `child_loop`, which makes raw
        // syscalls on stack buffers (no allocation, no locks) and _exits.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            super::child::child_loop(parent, rd, conn, listener);
        }
        drop(stdout_guard);
        let ts = now_ns();
        // SAFETY: rd belongs to the child now.
        unsafe { libc::close(rd) };
        if pid < 0 {
            let e = errno();
            // SAFETY: wr is ours.
            unsafe { libc::close(wr) };
            self.event(ts, "fork", "", None, Some(result_of(-1, e, false)));
            return;
        }
        lock(&self.state).child = Some((pid, wr));
        self.event(
            ts,
            "fork",
            &format!("child pid {pid}"),
            None,
            Some("ok".into()),
        );
    }

    /// A command for the forked child: only `close` is understood.
    pub(super) fn child_call(&self, id: u64, call: &Call) {
        let child = lock(&self.state).child;
        match (child, call) {
            (Some((_, wr)), Call::Close) => {
                let mut msg = [0u8; 9];
                msg[..8].copy_from_slice(&id.to_le_bytes());
                msg[8] = b'c';
                // SAFETY: msg is a valid 9-byte buffer; writes ≤ PIPE_BUF are atomic.
                let n = unsafe { libc::write(wr, msg.as_ptr().cast(), msg.len()) };
                if n != 9 {
                    self.warn(&format!("{}-child is gone", self.me));
                    self.emit(&Line {
                        done: Some(id),
                        ..Line::default()
                    });
                }
            }
            (None, _) => {
                self.warn(&format!(
                    "{}-child does not exist (use `{} fork` first)",
                    self.me, self.me
                ));
                self.emit(&Line {
                    done: Some(id),
                    ..Line::default()
                });
            }
            (Some(_), _) => {
                self.warn(&format!("{}-child only knows `close`", self.me));
                self.emit(&Line {
                    done: Some(id),
                    ..Line::default()
                });
            }
        }
    }
}
