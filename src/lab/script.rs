//! Scenario scripts: one step per line, readable aloud in class.
//!
//! ```text
//! # The first comment line of a file is the scenario's summary.
//! #zh 紧跟在英文注释行之后的 `#zh` 行是它的中文。
//!
//! # Comment lines right above a step are its narration (shown with the step).
//! #zh 步骤正上方的注释是它的旁白。
//! server listen              # socket + bind + listen (each reported), default backlog 128
//! client connect             # to server's port on 127.0.0.1 (::1 with --ipv6)
//! server accept
//! client write "hello"       # or: write 20000  (that many bytes)
//! server read                # or: read 100 (at most 100 bytes; default 65536)
//! client close
//! ```
//!
//! Grammar (words are separated by spaces; text is in double quotes, with `\n`,
//! `\"` and `\\` escapes; `#` starts a comment only at the start of a line):
//!
//! - `ENDPOINT CALL ARGS…` — a socket call made by that peer process.
//!   Endpoints: `client`, `server`, `client2`, `server2`, …; `server-child`
//!   is the process `server fork` made (it shares the connected socket).
//!   - `socket [tcp|udp]`
//!   - `bind [ENDPOINT|PORT]` (default: a server's own port — the lab port,
//!     +1 for server2 …; a client's: 0, any)
//!   - `listen [BACKLOG]` (also socket and bind first when not done yet)
//!   - `connect [ENDPOINT|PORT]` (default: `server`; also socket first)
//!   - `accept`, `serve` (accept loop, one thread per connection, echo),
//!     `serve epoll` (one epoll loop on one thread serves every connection, echo),
//!     `serve select` (the same loop with select(): each turn passes the set
//!     of sockets to read, the listener and every connection; no timeout)
//!   - `read [N]`, `drain N` (read until N bytes in all), `recvfrom [N]`
//!   - `read [N] busy` — a busy-poll loop on a non-blocking socket: read()
//!     again and again while it returns EAGAIN. Reported as three rows at
//!     most: the first EAGAIN, one row `EAGAIN ×N` for the N calls after it
//!     that also returned EAGAIN, and the call that got something else (the
//!     bytes, 0, an error). The step goes on to the next while it spins; it
//!     gives up after 10 s (the last row is then the `EAGAIN ×N`).
//!   - `recv [peek] [N]` — recv(), with MSG_PEEK: copies the bytes waiting
//!     in the receive queue and leaves them there (the next read gets them again)
//!   - `fcntl nonblock|block` — fcntl(F_SETFL, O_NONBLOCK) (or 0): calls on
//!     the socket return EAGAIN / EINPROGRESS instead of waiting. A socket
//!     accept() returns is blocking again (Linux does not pass the flag on).
//!   - `poll in|out [TIMEOUT]`, `select in|out [TIMEOUT]` — wait until the
//!     socket is readable (in) or writable (out), at most TIMEOUT (`1s`,
//!     `500ms`; default: no limit). The result is the number of ready
//!     sockets: 1, or 0 when the time ran out.
//!   - `getsockopt error` — getsockopt(SO_ERROR): the socket's pending error,
//!     reported as the result (`0`, or its name: `ECONNREFUSED`). How a
//!     non-blocking connect ended, once the socket is writable.
//!   - `heartbeat INTERVAL MISSES` — the application's own keepalive: every
//!     INTERVAL, write "ping" and poll() for the answer at most INTERVAL (an
//!     echo server's answer is the ping coming back), then read it. After
//!     MISSES answers in a row did not come, close the connection. Each
//!     write, poll, read and the close is reported; the step goes on to the
//!     next at once while the heartbeat keeps beating (`wait ENDPOINT` waits
//!     for it to end).
//!   - `write "text"`, `write N`, `send "text" [oob]`, `sendto "text" [ENDPOINT]`
//!   - `shutdown rd|wr|rdwr`, `close`, `fork`
//!   - `setsockopt NAME VALUE [NAME VALUE]…` with NAME one of `reuseaddr`,
//!     `reuseport`, `linger` (seconds, on), `keepalive`, `idle`, `intvl`,
//!     `cnt`, `rcvbuf`, `sndbuf`, `nodelay`, `maxseg` (TCP_MAXSEG: before
//!     connect or listen, both ends then send segments of at most that size
//!     less the options; the lab's lo does not merge them into 64 KB ones)
//! - `kill ENDPOINT` — SIGKILL the peer process.
//! - `sleep DURATION` — `200ms`, `1s`, `1.5s`.
//! - `sysctl NAME VALUE` — e.g. `sysctl net.ipv4.tcp_abort_on_overflow 1` (lab only).
//! - `link cut [ENDPOINT]` / `link restore [ENDPOINT]` — drop every segment
//!   arriving at the peers' TCP sockets (after capture), or only that peer's.
//! - `link loss 5% [ENDPOINT]` — drop about that share of the segments
//!   arriving there (never a SYN). The choice is a hash of the segment's
//!   sequence and acknowledgment numbers and timestamp, so it looks random,
//!   a resent copy (a later timestamp) is drawn again, and the screen knows
//!   exactly which segments were dropped. `link restore` ends it.
//! - `link drop 5,12 [ENDPOINT]` — drop the 5th and 12th full-sized data
//!   segments of each connection's incoming stream, every copy of them, until
//!   `link restore`: those that start at byte (N-1)×MSS of the stream. For
//!   connections already open (the endpoint reads where the stream began
//!   from its socket); the MSS is its socket's (`setsockopt maxseg`).
//! - `wait ENDPOINT [DURATION]` — until its pending call returns (default 10s).
//! - `+ STEP` — any step, run right after the one before without the pace's
//!   pause: for steps whose timing matters (two FINs that must cross).

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::event::Narration;

/// A parsed scenario.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Script {
    pub steps: Vec<Step>,
    /// The script as it was written (a session recording keeps it, so that
    /// a replay can quiz on its steps).
    pub text: String,
}

impl Script {
    /// Every endpoint the script names, in order of first appearance
    /// (`server-child` counts as `server`: it is born from that peer).
    #[must_use]
    pub fn endpoints(&self) -> Vec<Endpoint> {
        let mut out: Vec<Endpoint> = Vec::new();
        let mut add = |e: Endpoint| {
            let e = Endpoint { child: false, ..e };
            if !out.contains(&e) {
                out.push(e);
            }
        };
        for step in &self.steps {
            match &step.action {
                Action::Call { endpoint, .. } | Action::Kill(endpoint) => add(*endpoint),
                Action::Wait { endpoint, .. } => add(*endpoint),
                Action::Link {
                    only: Some(endpoint),
                    ..
                } => add(*endpoint),
                _ => {}
            }
        }
        out
    }
}

/// One line of a script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// 1-based line number in the file.
    pub line: usize,
    /// The comment lines right above the step: English lines joined by
    /// spaces, `#zh` lines joined as they are (Chinese needs no spaces).
    pub narration: Option<Narration>,
    /// Written `+ STEP`: runs right after the step before, without the pace's
    /// pause (even while paused): for steps whose timing is the lesson.
    pub at_once: bool,
    pub action: Action,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    Call {
        endpoint: Endpoint,
        call: Call,
    },
    Kill(Endpoint),
    Sleep(Duration),
    Sysctl {
        name: String,
        value: String,
    },
    Link {
        rule: LinkRule,
        only: Option<Endpoint>,
    },
    Wait {
        endpoint: Endpoint,
        timeout: Duration,
    },
}

/// What the link does to the segments arriving at a peer's sockets.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum LinkRule {
    /// Everything passes (`link restore`).
    #[default]
    Open,
    /// Nothing passes (`link cut`).
    Cut,
    /// About `per_10k` in 10,000 segments are dropped (`link loss 5%` is 500).
    Loss { per_10k: u32 },
    /// The Nth full-sized data segments (1-based) are dropped (`link drop 5,12`).
    Drop { segments: Vec<u32> },
}

impl LinkRule {
    /// `5%`, `0.5%`: a share as scripts write it, in 10,000ths.
    pub fn parse_percent(word: &str) -> Result<u32, String> {
        let bad = || format!("expected a share such as `5%`, found `{word}`");
        let n = word.strip_suffix('%').ok_or_else(bad)?;
        let v: f64 = n.parse().map_err(|_| bad())?;
        if !(0.0..=100.0).contains(&v) || n.starts_with('+') {
            return Err(bad());
        }
        Ok((v * 100.0).round() as u32)
    }

    /// `5%`, `0.25%`: a share in 10,000ths as scripts write it.
    #[must_use]
    pub fn format_percent(per_10k: u32) -> String {
        let whole = per_10k / 100;
        let frac = per_10k % 100;
        if frac == 0 {
            format!("{whole}%")
        } else if frac % 10 == 0 {
            format!("{whole}.{}%", frac / 10)
        } else {
            format!("{whole}.{frac:02}%")
        }
    }
}

/// Client or server side of the lab.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Side {
    Client,
    Server,
}

/// `client`, `server2`, `server-child` …
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Endpoint {
    pub side: Side,
    /// 1 for `client`, 2 for `client2` …
    pub index: u16,
    /// The forked child of that peer.
    pub child: bool,
}

impl Endpoint {
    #[must_use]
    pub fn server() -> Self {
        Self {
            side: Side::Server,
            index: 1,
            child: false,
        }
    }

    /// `client`, `server2`, `server-child` …; `None` for anything else.
    #[must_use]
    pub fn from_name(word: &str) -> Option<Self> {
        let (base, child) = match word.strip_suffix("-child") {
            Some(b) => (b, true),
            None => (word, false),
        };
        let (side, rest) = if let Some(r) = base.strip_prefix("client") {
            (Side::Client, r)
        } else if let Some(r) = base.strip_prefix("server") {
            (Side::Server, r)
        } else {
            return None;
        };
        let index = if rest.is_empty() {
            1
        } else {
            match rest.parse::<u16>() {
                Ok(n) if n >= 2 && !rest.starts_with('0') => n,
                _ => return None,
            }
        };
        Some(Self { side, index, child })
    }

    /// The peer process this endpoint lives in (`server` for `server-child`).
    #[must_use]
    pub fn process(self) -> Self {
        Self {
            child: false,
            ..self
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.side {
            Side::Client => "client",
            Side::Server => "server",
        })?;
        if self.index != 1 {
            write!(f, "{}", self.index)?;
        }
        if self.child {
            f.write_str("-child")?;
        }
        Ok(())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Proto {
    Tcp,
    Udp,
}

/// Where `connect` and `sendto` go.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Target {
    Endpoint(Endpoint),
    Port(u16),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Payload {
    Text(String),
    /// That many bytes of filler.
    Bytes(usize),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum How {
    Rd,
    Wr,
    RdWr,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SockOpt {
    ReuseAddr,
    ReusePort,
    Linger,
    KeepAlive,
    KeepIdle,
    KeepIntvl,
    KeepCnt,
    RcvBuf,
    SndBuf,
    NoDelay,
    MaxSeg,
}

impl SockOpt {
    /// The names scripts use, with the option each stands for.
    pub const ALL: [(&'static str, SockOpt); 11] = [
        ("reuseaddr", SockOpt::ReuseAddr),
        ("reuseport", SockOpt::ReusePort),
        ("linger", SockOpt::Linger),
        ("keepalive", SockOpt::KeepAlive),
        ("idle", SockOpt::KeepIdle),
        ("intvl", SockOpt::KeepIntvl),
        ("cnt", SockOpt::KeepCnt),
        ("rcvbuf", SockOpt::RcvBuf),
        ("sndbuf", SockOpt::SndBuf),
        ("nodelay", SockOpt::NoDelay),
        ("maxseg", SockOpt::MaxSeg),
    ];

    /// The C name, as shown in the call's args.
    #[must_use]
    pub fn c_name(self) -> &'static str {
        match self {
            SockOpt::ReuseAddr => "SO_REUSEADDR",
            SockOpt::ReusePort => "SO_REUSEPORT",
            SockOpt::Linger => "SO_LINGER",
            SockOpt::KeepAlive => "SO_KEEPALIVE",
            SockOpt::KeepIdle => "TCP_KEEPIDLE",
            SockOpt::KeepIntvl => "TCP_KEEPINTVL",
            SockOpt::KeepCnt => "TCP_KEEPCNT",
            SockOpt::RcvBuf => "SO_RCVBUF",
            SockOpt::SndBuf => "SO_SNDBUF",
            SockOpt::NoDelay => "TCP_NODELAY",
            SockOpt::MaxSeg => "TCP_MAXSEG",
        }
    }
}

/// How `serve` serves its connections (each echoes what it reads).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Serving {
    /// `serve` or `serve threads`: an accept loop, a thread per connection.
    Threads,
    /// `serve epoll`: one thread waits in epoll_wait for whichever socket
    /// is ready (the listener or a connection) and serves it.
    Epoll,
    /// `serve select`: the same loop with select(), which is given the
    /// whole set of sockets to watch on every call.
    Select,
}

/// What `poll` and `select` wait for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Ready {
    /// Readable: bytes (or end of file, or an error) to read; a connection
    /// to accept on a listener.
    In,
    /// Writable: room in the send buffer; a non-blocking connect has ended.
    Out,
}

/// A socket call (or a short sequence, like `listen` on a fresh peer).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Call {
    Socket(Proto),
    Bind(Option<Target>),
    Listen(Option<i32>),
    Connect(Option<Target>),
    Accept,
    Serve(Serving),
    Read(usize),
    /// `read [N] busy`: read() in a loop while it returns EAGAIN.
    ReadBusy(usize),
    Recv {
        max: usize,
        peek: bool,
    },
    Drain(usize),
    RecvFrom(usize),
    Write(Payload),
    Send {
        payload: Payload,
        oob: bool,
    },
    SendTo {
        payload: Payload,
        to: Option<Endpoint>,
    },
    Shutdown(How),
    Close,
    Fork,
    SetSockOpt(Vec<(SockOpt, i32)>),
    /// `getsockopt error`: SO_ERROR, the socket's pending error.
    GetSockOptError,
    /// `fcntl nonblock` (true) or `fcntl block` (false).
    Fcntl {
        nonblock: bool,
    },
    Poll {
        ready: Ready,
        timeout: Option<Duration>,
    },
    Select {
        ready: Ready,
        timeout: Option<Duration>,
    },
    Heartbeat {
        every: Duration,
        misses: u32,
    },
}

/// A script that cannot run, with where and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct ScriptError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

/// The first comment line of a script (its summary), without the `#`.
#[must_use]
pub fn summary(text: &str) -> &str {
    text.lines()
        .map(str::trim)
        .filter_map(|l| l.strip_prefix('#'))
        .find(|c| zh_text(c).is_none())
        .map_or("", str::trim)
}

/// The Chinese summary: the `#zh` line that follows the first comment line.
#[must_use]
pub fn summary_zh(text: &str) -> Option<&str> {
    let mut comments = text
        .lines()
        .map(str::trim)
        .take_while(|l| l.starts_with('#'))
        .filter_map(|l| l.strip_prefix('#'));
    comments.next()?;
    comments.find_map(zh_text)
}

/// The text of a `#zh …` comment (given without its `#`).
fn zh_text(comment: &str) -> Option<&str> {
    comment
        .strip_prefix("zh ")
        .or_else(|| comment.strip_prefix("zh\t"))
        .map(str::trim)
}

const DEFAULT_READ: usize = 65536;
/// The longest pause a script may ask for (`sleep`, a `wait` timeout).
const MAX_PAUSE: Duration = Duration::from_secs(3600);
/// The most bytes one call may read or write (a peer allocates that many):
/// 16 MiB, far above any scenario, far below what would exhaust memory.
pub const MAX_BYTES: usize = 16 << 20;
const DEFAULT_WAIT: Duration = Duration::from_secs(10);
/// The shortest heartbeat interval (a shorter one would flood the ladder).
const MIN_BEAT: Duration = Duration::from_millis(10);

/// Parses a whole script; the first bad line stops it, before anything runs.
///
/// # Errors
/// `FILE:LINE: expected …, found …` for an unknown verb or endpoint, a
/// missing or extra argument, a bad number or duration.
pub fn parse(name_for_errors: &str, text: &str) -> Result<Script, ScriptError> {
    let mut steps = Vec::new();
    let mut english: Vec<String> = Vec::new();
    let mut chinese: Vec<String> = Vec::new();
    let mut seen_summary = false;
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = raw.trim();
        if line.is_empty() {
            english.clear();
            chinese.clear();
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            if seen_summary {
                match zh_text(comment) {
                    Some(zh) => chinese.push(zh.to_owned()),
                    None => english.push(comment.trim().to_owned()),
                }
            }
            seen_summary = true;
            continue;
        }
        seen_summary = true;
        let err = |message: String| ScriptError {
            file: name_for_errors.to_owned(),
            line: line_no,
            message,
        };
        let (at_once, line) = match line.strip_prefix('+') {
            Some(rest) => (true, rest.trim_start()),
            None => (false, line),
        };
        if at_once && steps.is_empty() {
            return Err(err(
                "expected a step before this one: `+` runs a step right after the one before"
                    .into(),
            ));
        }
        let words = tokenize(line).map_err(err)?;
        let action = parse_action(&words).map_err(err)?;
        let en = english.join(" ");
        let zh = chinese.concat();
        english.clear();
        chinese.clear();
        steps.push(Step {
            line: line_no,
            narration: (!en.is_empty() || !zh.is_empty()).then(|| Narration {
                zh: (!zh.is_empty()).then_some(zh),
                en,
            }),
            at_once,
            action,
        });
    }
    Ok(Script {
        steps,
        text: text.to_owned(),
    })
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Word {
    Bare(String),
    Quoted(String),
}

impl Word {
    fn shown(&self) -> String {
        match self {
            Word::Bare(s) => format!("`{s}`"),
            Word::Quoted(s) => format!("\"{s}\""),
        }
    }
}

fn tokenize(line: &str) -> Result<Vec<Word>, String> {
    let mut words = Vec::new();
    let mut chars = line.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '"' {
            chars.next();
            let mut s = String::new();
            loop {
                match chars.next() {
                    None => return Err("expected a closing `\"`, found the end of the line".into()),
                    Some('"') => break,
                    Some('\\') => match chars.next() {
                        Some('n') => s.push('\n'),
                        Some('t') => s.push('\t'),
                        Some('"') => s.push('"'),
                        Some('\\') => s.push('\\'),
                        other => {
                            return Err(format!(
                                "expected an escape (\\n, \\t, \\\", \\\\), found `\\{}`",
                                other.map(String::from).unwrap_or_default()
                            ));
                        }
                    },
                    Some(ch) => s.push(ch),
                }
            }
            words.push(Word::Quoted(s));
        } else {
            let mut s = String::new();
            while let Some(&ch) = chars.peek() {
                if ch.is_whitespace() {
                    break;
                }
                s.push(ch);
                chars.next();
            }
            words.push(Word::Bare(s));
        }
    }
    Ok(words)
}

/// The words of one line, consumed left to right, with error messages that
/// name what was expected.
struct Words<'a> {
    words: &'a [Word],
    pos: usize,
}

impl Words<'_> {
    fn peek(&self) -> Option<&Word> {
        self.words.get(self.pos)
    }

    fn next_bare(&mut self, expected: &str) -> Result<String, String> {
        match self.words.get(self.pos) {
            Some(Word::Bare(s)) => {
                self.pos += 1;
                Ok(s.clone())
            }
            Some(w) => Err(format!("expected {expected}, found {}", w.shown())),
            None => Err(format!("expected {expected}, found the end of the line")),
        }
    }

    fn opt_bare(&mut self) -> Option<String> {
        match self.words.get(self.pos) {
            Some(Word::Bare(s)) => {
                self.pos += 1;
                Some(s.clone())
            }
            _ => None,
        }
    }

    fn number<T: std::str::FromStr>(&mut self, expected: &str) -> Result<T, String> {
        let w = self.next_bare(expected)?;
        w.parse()
            .map_err(|_| format!("expected {expected}, found `{w}`"))
    }

    fn opt_number<T: std::str::FromStr>(&mut self, expected: &str) -> Result<Option<T>, String> {
        if self.peek().is_none() {
            return Ok(None);
        }
        self.number(expected).map(Some)
    }

    fn payload(&mut self) -> Result<Payload, String> {
        match self.words.get(self.pos) {
            Some(Word::Quoted(s)) => {
                self.pos += 1;
                Ok(Payload::Text(s.clone()))
            }
            _ => {
                let n = self.number("quoted text or a byte count")?;
                byte_count(n).map(Payload::Bytes)
            }
        }
    }

    fn end(&self) -> Result<(), String> {
        match self.peek() {
            None => Ok(()),
            Some(w) => Err(format!("expected the end of the line, found {}", w.shown())),
        }
    }
}

const VERBS: &str =
    "an endpoint (client, server, client2 …), `kill`, `sleep`, `sysctl`, `link` or `wait`";
/// Every call a script can make (`client connect`, `server serve` …).
pub const CALL_NAMES: [&str; 22] = [
    "socket",
    "bind",
    "listen",
    "connect",
    "accept",
    "serve",
    "read",
    "recv",
    "drain",
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
    "heartbeat",
];

fn calls() -> String {
    format!("a call ({})", CALL_NAMES.join(", "))
}

fn parse_action(words: &[Word]) -> Result<Action, String> {
    let mut w = Words { words, pos: 0 };
    let first = w.next_bare(VERBS)?;
    let action = match first.as_str() {
        "kill" => Action::Kill(endpoint(&mut w)?),
        "sleep" => Action::Sleep(duration(&w.next_bare("a duration (200ms, 1s)")?)?),
        "sysctl" => {
            let name = w.next_bare("a sysctl name (net.ipv4.…)")?;
            if !name.starts_with("net.") || name.contains("..") || name.contains('/') {
                return Err(format!(
                    "expected a sysctl name under net. (net.ipv4.…), found `{name}`"
                ));
            }
            let value = w.next_bare("a value")?;
            Action::Sysctl { name, value }
        }
        "link" => {
            const MODES: &str = "`cut`, `restore`, `loss` or `drop`";
            let rule = match w.next_bare(MODES)?.as_str() {
                "cut" => LinkRule::Cut,
                "restore" => LinkRule::Open,
                "loss" => LinkRule::Loss {
                    per_10k: LinkRule::parse_percent(&w.next_bare("a share such as `5%`")?)?,
                },
                "drop" => {
                    let list = w.next_bare("segment numbers such as `5,12`")?;
                    let mut segments = Vec::new();
                    for n in list.split(',') {
                        match n.parse::<u32>() {
                            Ok(n) if (1..=1_000_000).contains(&n) => segments.push(n),
                            _ => {
                                return Err(format!(
                                    "expected segment numbers from 1 such as `5,12`, found `{list}`"
                                ));
                            }
                        }
                    }
                    LinkRule::Drop { segments }
                }
                other => return Err(format!("expected {MODES}, found `{other}`")),
            };
            let only = if w.peek().is_some() {
                Some(endpoint(&mut w)?)
            } else {
                None
            };
            Action::Link { rule, only }
        }
        "wait" => {
            let endpoint = endpoint(&mut w)?;
            let timeout = match w.opt_bare() {
                Some(d) => duration(&d)?,
                None => DEFAULT_WAIT,
            };
            Action::Wait { endpoint, timeout }
        }
        word => match Endpoint::from_name(word) {
            Some(endpoint) => Action::Call {
                endpoint,
                call: call(&mut w)?,
            },
            None => return Err(format!("expected {VERBS}, found `{word}`")),
        },
    };
    w.end()?;
    Ok(action)
}

fn endpoint(w: &mut Words<'_>) -> Result<Endpoint, String> {
    let e = w.next_bare("an endpoint (client, server, client2 …)")?;
    Endpoint::from_name(&e).ok_or_else(|| {
        format!("expected an endpoint (client, server, client2, server-child …), found `{e}`")
    })
}

fn call(w: &mut Words<'_>) -> Result<Call, String> {
    let verb = w.next_bare(&calls())?;
    Ok(match verb.as_str() {
        "socket" => match w.opt_bare().as_deref() {
            None | Some("tcp") => Call::Socket(Proto::Tcp),
            Some("udp") => Call::Socket(Proto::Udp),
            Some(other) => return Err(format!("expected `tcp` or `udp`, found `{other}`")),
        },
        "bind" => Call::Bind(match w.opt_bare() {
            None => None,
            Some(t) => Some(target(&t)?),
        }),
        "listen" => Call::Listen(w.opt_number("a backlog (a number)")?),
        "connect" => Call::Connect(match w.opt_bare() {
            None => None,
            Some(t) => Some(target(&t)?),
        }),
        "accept" => Call::Accept,
        "serve" => Call::Serve(match w.opt_bare().as_deref() {
            None | Some("threads") => Serving::Threads,
            Some("epoll") => Serving::Epoll,
            Some("select") => Serving::Select,
            Some(other) => {
                return Err(format!(
                    "expected `threads`, `epoll`, `select` or the end of the line, found `{other}`"
                ));
            }
        }),
        "read" => {
            let max = match w.peek() {
                Some(Word::Bare(b)) if b == "busy" => DEFAULT_READ,
                _ => byte_count(
                    w.opt_number("a byte count or `busy`")?
                        .unwrap_or(DEFAULT_READ),
                )?,
            };
            match w.opt_bare().as_deref() {
                None => Call::Read(max),
                Some("busy") => Call::ReadBusy(max),
                Some(other) => {
                    return Err(format!(
                        "expected `busy` or the end of the line, found `{other}`"
                    ));
                }
            }
        }
        "recv" => {
            let peek = match w.peek() {
                Some(Word::Bare(b)) if b == "peek" => {
                    w.pos += 1;
                    true
                }
                _ => false,
            };
            let max = byte_count(
                w.opt_number("a byte count (or `peek` before it)")?
                    .unwrap_or(DEFAULT_READ),
            )?;
            Call::Recv { max, peek }
        }
        "drain" => Call::Drain(w.number("a byte count")?),
        "recvfrom" => Call::RecvFrom(byte_count(
            w.opt_number("a byte count")?.unwrap_or(DEFAULT_READ),
        )?),
        "write" => Call::Write(w.payload()?),
        "send" => {
            let payload = w.payload()?;
            let oob = match w.opt_bare().as_deref() {
                None => false,
                Some("oob") => true,
                Some(other) => {
                    return Err(format!(
                        "expected `oob` or the end of the line, found `{other}`"
                    ));
                }
            };
            Call::Send { payload, oob }
        }
        "sendto" => {
            let payload = w.payload()?;
            let to = if w.peek().is_some() {
                Some(endpoint(w)?)
            } else {
                None
            };
            Call::SendTo { payload, to }
        }
        "shutdown" => match w.next_bare("`rd`, `wr` or `rdwr`")?.as_str() {
            "rd" => Call::Shutdown(How::Rd),
            "wr" => Call::Shutdown(How::Wr),
            "rdwr" => Call::Shutdown(How::RdWr),
            other => return Err(format!("expected `rd`, `wr` or `rdwr`, found `{other}`")),
        },
        "close" => Call::Close,
        "fork" => Call::Fork,
        "setsockopt" => {
            let names = SockOpt::ALL.map(|(n, _)| n).join(", ");
            let mut opts = Vec::new();
            loop {
                let name = w.next_bare(&format!("an option ({names})"))?;
                let opt = SockOpt::ALL
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|&(_, o)| o)
                    .ok_or_else(|| format!("expected an option ({names}), found `{name}`"))?;
                let value: i32 = w.number("a number")?;
                opts.push((opt, value));
                if w.peek().is_none() {
                    break;
                }
            }
            Call::SetSockOpt(opts)
        }
        "getsockopt" => match w
            .next_bare("an option to read (`error`: SO_ERROR)")?
            .as_str()
        {
            "error" => Call::GetSockOptError,
            other => {
                return Err(format!(
                    "expected an option to read (`error`: SO_ERROR), found `{other}`"
                ));
            }
        },
        "fcntl" => match w.next_bare("`nonblock` or `block`")?.as_str() {
            "nonblock" => Call::Fcntl { nonblock: true },
            "block" => Call::Fcntl { nonblock: false },
            other => return Err(format!("expected `nonblock` or `block`, found `{other}`")),
        },
        "poll" | "select" => {
            let ready = match w.next_bare("`in` or `out`")?.as_str() {
                "in" => Ready::In,
                "out" => Ready::Out,
                other => return Err(format!("expected `in` or `out`, found `{other}`")),
            };
            let timeout = match w.opt_bare() {
                None => None,
                Some(d) => Some(duration(&d)?),
            };
            if verb == "poll" {
                Call::Poll { ready, timeout }
            } else {
                Call::Select { ready, timeout }
            }
        }
        "heartbeat" => {
            let word = w.next_bare("an interval (1s, 500ms)")?;
            let every = duration(&word)?;
            if every < MIN_BEAT {
                return Err(format!(
                    "expected an interval of at least 10ms, found `{word}`"
                ));
            }
            let misses: u32 = w.number("how many missed answers end it (a number)")?;
            if !(1..=100).contains(&misses) {
                return Err(format!(
                    "expected from 1 to 100 missed answers, found `{misses}`"
                ));
            }
            Call::Heartbeat { every, misses }
        }
        other => return Err(format!("expected {}, found `{other}`", calls())),
    })
}

/// A count of bytes a peer allocates (a read buffer, a payload): at most [`MAX_BYTES`].
fn byte_count(n: usize) -> Result<usize, String> {
    if n > MAX_BYTES {
        return Err(format!(
            "expected a byte count of at most {MAX_BYTES} (16 MiB), found `{n}`"
        ));
    }
    Ok(n)
}

fn target(word: &str) -> Result<Target, String> {
    if let Some(e) = Endpoint::from_name(word) {
        return Ok(Target::Endpoint(e));
    }
    word.parse().map(Target::Port).map_err(|_| {
        format!("expected an endpoint (server, server2 …) or a port number, found `{word}`")
    })
}

/// `200ms`, `1s`, `1.5s`, at most an hour.
fn duration(word: &str) -> Result<Duration, String> {
    let bad = || format!("expected a duration (200ms, 1s, 1.5s), found `{word}`");
    let d = if let Some(ms) = word.strip_suffix("ms") {
        ms.parse::<u64>()
            .map(Duration::from_millis)
            .map_err(|_| bad())?
    } else {
        let secs = word.strip_suffix('s').ok_or_else(bad)?;
        let value: f64 = secs.parse().map_err(|_| bad())?;
        if !value.is_finite() || value < 0.0 {
            return Err(bad());
        }
        Duration::try_from_secs_f64(value).unwrap_or(Duration::MAX)
    };
    if d > MAX_PAUSE {
        return Err(format!(
            "expected a duration of at most an hour (3600s), found `{word}`"
        ));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(line: &str) -> Action {
        let s = parse("t.txt", line).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.steps.len(), 1);
        s.steps[0].action.clone()
    }

    fn err(text: &str) -> String {
        parse("bad.txt", text).expect_err("should fail").to_string()
    }

    fn ep(side: Side, index: u16) -> Endpoint {
        Endpoint {
            side,
            index,
            child: false,
        }
    }

    fn call_of(line: &str) -> Call {
        match one(line) {
            Action::Call { call, .. } => call,
            other => panic!("not a call: {other:?}"),
        }
    }

    #[test]
    fn endpoints_parse_and_print() {
        for name in [
            "client",
            "server",
            "client2",
            "server12",
            "server-child",
            "client3-child",
        ] {
            let e = Endpoint::from_name(name).expect(name);
            assert_eq!(e.to_string(), name);
        }
        for bad in ["clients", "server1", "server02", "peer", "server-", ""] {
            assert_eq!(Endpoint::from_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn every_call_verb() {
        assert_eq!(call_of("server socket"), Call::Socket(Proto::Tcp));
        assert_eq!(call_of("server socket udp"), Call::Socket(Proto::Udp));
        assert_eq!(call_of("server bind"), Call::Bind(None));
        assert_eq!(
            call_of("server bind 7000"),
            Call::Bind(Some(Target::Port(7000)))
        );
        assert_eq!(
            call_of("server2 bind server"),
            Call::Bind(Some(Target::Endpoint(ep(Side::Server, 1))))
        );
        assert_eq!(call_of("server listen"), Call::Listen(None));
        assert_eq!(call_of("server listen 1"), Call::Listen(Some(1)));
        assert_eq!(call_of("client connect"), Call::Connect(None));
        assert_eq!(
            call_of("client connect server2"),
            Call::Connect(Some(Target::Endpoint(ep(Side::Server, 2))))
        );
        assert_eq!(
            call_of("client connect 7999"),
            Call::Connect(Some(Target::Port(7999)))
        );
        assert_eq!(call_of("server accept"), Call::Accept);
        assert_eq!(call_of("server serve"), Call::Serve(Serving::Threads));
        assert_eq!(
            call_of("server serve threads"),
            Call::Serve(Serving::Threads)
        );
        assert_eq!(call_of("server serve epoll"), Call::Serve(Serving::Epoll));
        assert_eq!(call_of("server serve select"), Call::Serve(Serving::Select));
        assert_eq!(call_of("server read busy"), Call::ReadBusy(65536));
        assert_eq!(call_of("server read 10 busy"), Call::ReadBusy(10));
        assert_eq!(
            call_of("server recv"),
            Call::Recv {
                max: 65536,
                peek: false
            }
        );
        assert_eq!(
            call_of("server recv peek 4"),
            Call::Recv { max: 4, peek: true }
        );
        assert_eq!(
            call_of("client fcntl nonblock"),
            Call::Fcntl { nonblock: true }
        );
        assert_eq!(
            call_of("client fcntl block"),
            Call::Fcntl { nonblock: false }
        );
        assert_eq!(
            call_of("client poll out"),
            Call::Poll {
                ready: Ready::Out,
                timeout: None
            }
        );
        assert_eq!(
            call_of("client select in 1500ms"),
            Call::Select {
                ready: Ready::In,
                timeout: Some(Duration::from_millis(1500))
            }
        );
        assert_eq!(call_of("client getsockopt error"), Call::GetSockOptError);
        assert_eq!(
            call_of("client heartbeat 1s 3"),
            Call::Heartbeat {
                every: Duration::from_secs(1),
                misses: 3
            }
        );
        assert_eq!(call_of("server read"), Call::Read(65536));
        assert_eq!(call_of("server read 10"), Call::Read(10));
        assert_eq!(call_of("server drain 5000"), Call::Drain(5000));
        assert_eq!(call_of("server recvfrom"), Call::RecvFrom(65536));
        assert_eq!(
            call_of(r#"client write "a \"b\"\n""#),
            Call::Write(Payload::Text("a \"b\"\n".into()))
        );
        assert_eq!(
            call_of("client write 20000"),
            Call::Write(Payload::Bytes(20000))
        );
        assert_eq!(
            call_of(r#"client send "!" oob"#),
            Call::Send {
                payload: Payload::Text("!".into()),
                oob: true
            }
        );
        assert_eq!(
            call_of(r#"client sendto "hi""#),
            Call::SendTo {
                payload: Payload::Text("hi".into()),
                to: None
            }
        );
        assert_eq!(
            call_of(r#"server sendto "hi" client"#),
            Call::SendTo {
                payload: Payload::Text("hi".into()),
                to: Some(ep(Side::Client, 1))
            }
        );
        assert_eq!(call_of("client shutdown wr"), Call::Shutdown(How::Wr));
        assert_eq!(call_of("client shutdown rd"), Call::Shutdown(How::Rd));
        assert_eq!(call_of("client shutdown rdwr"), Call::Shutdown(How::RdWr));
        assert_eq!(call_of("client close"), Call::Close);
        assert_eq!(call_of("server fork"), Call::Fork);
        assert_eq!(
            call_of("client setsockopt keepalive 1 idle 1 intvl 1 cnt 3"),
            Call::SetSockOpt(vec![
                (SockOpt::KeepAlive, 1),
                (SockOpt::KeepIdle, 1),
                (SockOpt::KeepIntvl, 1),
                (SockOpt::KeepCnt, 3)
            ])
        );
        assert_eq!(
            call_of("client setsockopt linger 0"),
            Call::SetSockOpt(vec![(SockOpt::Linger, 0)])
        );
    }

    #[test]
    fn lab_verbs() {
        assert_eq!(one("kill client"), Action::Kill(ep(Side::Client, 1)));
        assert_eq!(
            one("sleep 200ms"),
            Action::Sleep(Duration::from_millis(200))
        );
        assert_eq!(
            one("sleep 1.5s"),
            Action::Sleep(Duration::from_millis(1500))
        );
        assert_eq!(
            one("sysctl net.ipv4.tcp_abort_on_overflow 1"),
            Action::Sysctl {
                name: "net.ipv4.tcp_abort_on_overflow".into(),
                value: "1".into()
            }
        );
        assert_eq!(
            one("link cut"),
            Action::Link {
                rule: LinkRule::Cut,
                only: None
            }
        );
        assert_eq!(
            one("link loss 2.5% client"),
            Action::Link {
                rule: LinkRule::Loss { per_10k: 250 },
                only: Some(ep(Side::Client, 1))
            }
        );
        assert_eq!(
            one("link drop 5,12"),
            Action::Link {
                rule: LinkRule::Drop {
                    segments: vec![5, 12]
                },
                only: None
            }
        );
        for bad in [
            "link loss 5",
            "link loss 101%",
            "link drop 0",
            "link drop 5,x",
        ] {
            assert!(parse("bad.txt", bad).is_err(), "{bad}");
        }
        assert_eq!(LinkRule::format_percent(500), "5%");
        assert_eq!(LinkRule::format_percent(250), "2.5%");
        assert_eq!(LinkRule::format_percent(25), "0.25%");
        assert_eq!(
            one("link restore client2"),
            Action::Link {
                rule: LinkRule::Open,
                only: Some(ep(Side::Client, 2))
            }
        );
        assert_eq!(
            one("wait server"),
            Action::Wait {
                endpoint: ep(Side::Server, 1),
                timeout: Duration::from_secs(10)
            }
        );
        assert_eq!(
            one("wait client 3s"),
            Action::Wait {
                endpoint: ep(Side::Client, 1),
                timeout: Duration::from_secs(3)
            }
        );
    }

    #[test]
    fn comments_become_narration_of_the_next_step() {
        let text = "# Title line\n#zh 标题\n# more header\n\n# Why we listen.\n#zh 为什么监听，\n# Second line.\n#zh 第二行。\nserver listen\nclient connect\n\n# orphan\n\nclient close\n";
        let s = parse("t.txt", text).expect("parses");
        assert_eq!(summary(text), "Title line");
        assert_eq!(summary_zh(text), Some("标题"));
        assert_eq!(summary_zh("# Title\n\n#zh late\nserver listen\n"), None);
        assert_eq!(s.steps.len(), 3);
        assert_eq!(s.steps[0].line, 9);
        assert_eq!(
            s.steps[0].narration,
            Some(Narration {
                en: "Why we listen. Second line.".into(),
                zh: Some("为什么监听，第二行。".into()),
            })
        );
        assert_eq!(s.steps[1].narration, None);
        assert_eq!(s.steps[2].narration, None);
        assert_eq!(s.steps[2].line, 14);
    }

    #[test]
    fn a_plus_runs_a_step_right_after_the_one_before() {
        let s = parse(
            "t.txt",
            "client shutdown wr\n+ server shutdown wr\n+sleep 1s\n",
        )
        .unwrap();
        assert_eq!(
            s.steps.iter().map(|st| st.at_once).collect::<Vec<_>>(),
            vec![false, true, true]
        );
        assert_eq!(s.steps[2].action, Action::Sleep(Duration::from_secs(1)));
        let e = parse("t.txt", "+ client connect\n").unwrap_err();
        assert!(
            e.to_string()
                .contains("t.txt:1: expected a step before this one"),
            "{e}"
        );
    }

    #[test]
    fn a_summary_right_above_the_first_step_is_not_narration() {
        let s = parse("t.txt", "# Title\nserver listen\n").expect("parses");
        assert_eq!(s.steps[0].narration, None);
    }

    #[test]
    fn endpoints_in_order() {
        let s = parse(
            "t",
            "server listen\nclient connect\nserver-child close\nclient2 connect\n",
        )
        .expect("parses");
        let names: Vec<String> = s.endpoints().iter().map(ToString::to_string).collect();
        assert_eq!(names, ["server", "client", "client2"]);
    }

    #[test]
    fn bad_scripts_say_where_and_what() {
        assert_eq!(
            err("server listen\nclient dance\n"),
            "bad.txt:2: expected a call (socket, bind, listen, connect, accept, serve, read, recv, \
             drain, recvfrom, write, send, sendto, shutdown, close, fork, setsockopt, getsockopt, \
             fcntl, poll, select, heartbeat), found `dance`"
        );
        assert_eq!(
            err("jump client"),
            "bad.txt:1: expected an endpoint (client, server, client2 …), `kill`, `sleep`, \
             `sysctl`, `link` or `wait`, found `jump`"
        );
        assert_eq!(
            err("# c\n\nclient write"),
            "bad.txt:3: expected quoted text or a byte count, found the end of the line"
        );
        assert_eq!(
            err("kill peer"),
            "bad.txt:1: expected an endpoint (client, server, client2, server-child …), found `peer`"
        );
        assert_eq!(
            err("sleep 2 s"),
            "bad.txt:1: expected a duration (200ms, 1s, 1.5s), found `2`"
        );
        assert_eq!(
            err("sleep fast"),
            "bad.txt:1: expected a duration (200ms, 1s, 1.5s), found `fast`"
        );
        // Found by the fuzzer: milliseconds had no upper bound (a script
        // could pause the lab for 11 years), seconds had one.
        assert_eq!(
            err("client3 connect\nsleep 350044444444ms"),
            "bad.txt:2: expected a duration of at most an hour (3600s), found `350044444444ms`"
        );
        assert_eq!(
            err("wait client 3600001ms"),
            "bad.txt:1: expected a duration of at most an hour (3600s), found `3600001ms`"
        );
        assert_eq!(
            err("sleep 1e300s"),
            "bad.txt:1: expected a duration of at most an hour (3600s), found `1e300s`"
        );
        assert_eq!(
            one("sleep 3600000ms"),
            Action::Sleep(Duration::from_secs(3600))
        );
        // A byte count is what the peer allocates: bounded.
        assert_eq!(
            err("client read 99999999999"),
            "bad.txt:1: expected a byte count of at most 16777216 (16 MiB), found `99999999999`"
        );
        assert_eq!(
            err("client write 16777217"),
            "bad.txt:1: expected a byte count of at most 16777216 (16 MiB), found `16777217`"
        );
        assert!(err("client sendto 18446744073709551615 server").contains("16 MiB"));
        assert!(err("client recvfrom 16777217").contains("16 MiB"));
        assert_eq!(
            err("server listen x"),
            "bad.txt:1: expected a backlog (a number), found `x`"
        );
        assert_eq!(
            err("client close now"),
            "bad.txt:1: expected the end of the line, found `now`"
        );
        assert_eq!(
            err("server serve poll"),
            "bad.txt:1: expected `threads`, `epoll`, `select` or the end of the line, found `poll`"
        );
        assert_eq!(
            err("server read 10 fast"),
            "bad.txt:1: expected `busy` or the end of the line, found `fast`"
        );
        assert_eq!(
            err("server read busy 10"),
            "bad.txt:1: expected the end of the line, found `10`"
        );
        assert_eq!(
            err("server recv peak"),
            "bad.txt:1: expected a byte count (or `peek` before it), found `peak`"
        );
        assert_eq!(
            err("client fcntl O_NONBLOCK"),
            "bad.txt:1: expected `nonblock` or `block`, found `O_NONBLOCK`"
        );
        assert_eq!(
            err("client poll"),
            "bad.txt:1: expected `in` or `out`, found the end of the line"
        );
        assert_eq!(
            err("client select both 1s"),
            "bad.txt:1: expected `in` or `out`, found `both`"
        );
        assert_eq!(
            err("client poll out forever"),
            "bad.txt:1: expected a duration (200ms, 1s, 1.5s), found `forever`"
        );
        assert_eq!(
            err("client getsockopt rcvbuf"),
            "bad.txt:1: expected an option to read (`error`: SO_ERROR), found `rcvbuf`"
        );
        assert_eq!(
            err("client heartbeat 5ms 3"),
            "bad.txt:1: expected an interval of at least 10ms, found `5ms`"
        );
        assert_eq!(
            err("client heartbeat 1s 0"),
            "bad.txt:1: expected from 1 to 100 missed answers, found `0`"
        );
        assert_eq!(
            err("client heartbeat 1s"),
            "bad.txt:1: expected how many missed answers end it (a number), found the end of the line"
        );
        assert_eq!(
            err(r#"server serve "epoll""#),
            "bad.txt:1: expected the end of the line, found \"epoll\""
        );
        assert_eq!(
            err("server serve epoll now"),
            "bad.txt:1: expected the end of the line, found `now`"
        );
        assert_eq!(
            err("client shutdown both"),
            "bad.txt:1: expected `rd`, `wr` or `rdwr`, found `both`"
        );
        assert_eq!(
            err("link down"),
            "bad.txt:1: expected `cut`, `restore`, `loss` or `drop`, found `down`"
        );
        assert_eq!(
            err(r#"client write "open"#),
            "bad.txt:1: expected a closing `\"`, found the end of the line"
        );
        assert_eq!(
            err("sysctl kernel.panic 1"),
            "bad.txt:1: expected a sysctl name under net. (net.ipv4.…), found `kernel.panic`"
        );
        assert_eq!(
            err("client setsockopt speed 1"),
            "bad.txt:1: expected an option (reuseaddr, reuseport, linger, keepalive, idle, intvl, \
             cnt, rcvbuf, sndbuf, nodelay, maxseg), found `speed`"
        );
        assert_eq!(
            err("client setsockopt linger"),
            "bad.txt:1: expected a number, found the end of the line"
        );
        assert_eq!(
            err("client connect nowhere"),
            "bad.txt:1: expected an endpoint (server, server2 …) or a port number, found `nowhere`"
        );
    }
}
