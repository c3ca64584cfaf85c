//! Quiz mode: before a step that makes something happen, the class is asked
//! what comes next; the step then runs on the real stack and what the
//! capture, the kernel and the calls show decides the answer.
//!
//! The questions come from the script (which call, which endpoint) and the
//! choices from what TCP could plausibly do there (RFC 9293's segments and
//! states, the calls' usual results). The right answer is never predicted:
//! it is read off the events of the step (the first segment the endpoint's
//! sockets sent, the call's result, the state it entered). When nothing
//! answers within [`SETTLE`], "nothing is sent" is the answer to a packet
//! question, and a question without an observable answer is not scored.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::time::Duration;

use crate::event::{CallResult, CheckEvent, Event};
use crate::lab::Script;
use crate::lab::script::Endpoint;
use crate::lab::script::{Action, Call, How, Ready};
use crate::tcp::{Flags, TcpState};
use crate::time::Timestamp;

/// How long after a step began its answer may still arrive.
pub const SETTLE: Duration = Duration::from_millis(1500);

/// How long after one end entered the asked state the other may still
/// follow (their FINs crossed).
pub const BOTH_ENDS: Duration = Duration::from_millis(200);

/// What a question asks about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ask {
    /// The first segment the endpoint's sockets send in this step.
    FirstPacket,
    /// What the named call returns.
    Returns(&'static str),
    /// The state the endpoint's socket enters.
    NewState,
    /// Which end of the connection enters this state (close's lesson:
    /// TIME-WAIT is the end that closed first).
    WhoEnters(TcpState),
}

/// One possible answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    Syn,
    SynAck,
    Ack,
    Data,
    Fin,
    Rst,
    /// No segment at all.
    Nothing,
    /// A read returned bytes.
    Bytes,
    /// A read returned 0: end of file.
    Eof,
    /// A call succeeded (a write: its count; accept: a connection).
    Success,
    /// The call blocked: it waits (for a connection, for data).
    Blocks,
    /// accept() returned a connection at once.
    Connection,
    /// connect() returned 0: connected before it returned.
    Connected,
    /// select() or poll() returned a count above 0: sockets are ready.
    Ready,
    /// select() or poll() returned 0: the time ran out, nothing was ready.
    TimedOut,
    /// getsockopt(SO_ERROR) read 0: no error.
    NoError,
    Errno(&'static str),
    State(TcpState),
    /// That end (`client`, `server` …).
    End(String),
    /// Both ends.
    Both,
    /// Neither end.
    Neither,
}

impl Answer {
    /// The key of its label in the interface's tables (`quiz_a_*`), with the
    /// errno or state filled in by the caller.
    #[must_use]
    pub fn describe(&self, zh: bool) -> String {
        let (en, cn) = match self {
            Answer::Syn => ("SYN", "SYN"),
            Answer::SynAck => ("SYN-ACK", "SYN-ACK"),
            Answer::Ack => ("a bare ACK", "一个纯 ACK"),
            Answer::Data => ("data", "数据"),
            Answer::Fin => ("FIN", "FIN"),
            Answer::Rst => ("RST", "RST"),
            Answer::Nothing => ("nothing is sent", "什么也不发"),
            Answer::Bytes => ("the bytes that arrived", "收到的字节数"),
            Answer::Eof => ("0: end of file", "0：读到文件末尾（EOF）"),
            Answer::Success => ("success: the bytes are queued", "成功：数据进入发送缓冲区"),
            Answer::Blocks => ("it blocks: the process waits", "阻塞：进程在等待"),
            Answer::Connection => ("a connection, at once", "立即返回一个连接"),
            Answer::Connected => ("0: connected at once", "0：立即连接成功"),
            Answer::Ready => ("1: the socket is ready", "1：套接字已就绪"),
            Answer::TimedOut => ("0: the time ran out", "0：超时，没有就绪的套接字"),
            Answer::NoError => ("0: no error", "0：没有错误"),
            Answer::Errno(e) => (*e, *e),
            Answer::State(s) => (s.as_str(), s.as_str()),
            Answer::End(name) => return name.clone(),
            Answer::Both => ("both ends", "两端都是"),
            Answer::Neither => ("neither end", "两端都不是"),
        };
        if zh { cn.to_owned() } else { en.to_owned() }
    }
}

/// A question asked before a step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Question {
    /// The step (1-based, as in `StepEvent::index`).
    pub step: usize,
    /// The endpoint the step acts on (`client`, `server2` …).
    pub endpoint: String,
    /// The script's words for the step (`client close`).
    pub action: String,
    pub ask: Ask,
    pub choices: Vec<Answer>,
}

impl Question {
    /// The question in words.
    #[must_use]
    pub fn prompt(&self, zh: bool) -> String {
        let e = &self.endpoint;
        match (&self.ask, zh) {
            (Ask::FirstPacket, false) => {
                format!("Next: `{}`. What does {e} send first?", self.action)
            }
            (Ask::FirstPacket, true) => format!("下一步：`{}`。{e} 首先发出什么？", self.action),
            (Ask::Returns(call), false) => {
                format!("Next: `{}`. What does {call}() return?", self.action)
            }
            (Ask::Returns(call), true) => {
                format!("下一步：`{}`。{call}() 返回什么？", self.action)
            }
            (Ask::NewState, false) => {
                format!(
                    "Next: `{}`. Which state does {e}'s socket enter?",
                    self.action
                )
            }
            (Ask::NewState, true) => {
                format!("下一步：`{}`。{e} 的套接字进入哪个状态？", self.action)
            }
            (Ask::WhoEnters(state), false) => {
                format!("Next: `{}`. Which end ends up in {state}?", self.action)
            }
            (Ask::WhoEnters(state), true) => {
                format!("下一步：`{}`。哪一端最后停留在 {state}？", self.action)
            }
        }
    }
}

/// The questions of a script, by step (1-based); `None` for steps that ask
/// nothing (socket, bind, sleep, a sysctl …).
#[must_use]
pub fn questions(script: &Script) -> Vec<Option<Question>> {
    // The endpoints whose socket (the one their calls act on) is
    // non-blocking at each step: `fcntl` sets it; accept() gives a new,
    // blocking socket.
    let mut nonblocking: HashSet<Endpoint> = HashSet::new();
    // The ends that have closed their sending side (close, shutdown wr), a
    // forked child counted as its parent.
    let mut closed: Vec<String> = Vec::new();
    script
        .steps
        .iter()
        .enumerate()
        .map(|(i, step)| {
            let asked = if step.at_once {
                // Runs right after the step before: nobody can be asked.
                None
            } else {
                second_close(i + 1, &step.action, &closed)
                    .or_else(|| question(i + 1, &step.action, &nonblocking))
            };
            if let Action::Call { endpoint, call } = &step.action {
                match call {
                    Call::Fcntl { nonblock: true } => {
                        nonblocking.insert(*endpoint);
                    }
                    Call::Fcntl { nonblock: false } | Call::Accept => {
                        nonblocking.remove(endpoint);
                    }
                    Call::Close | Call::Shutdown(How::Wr | How::RdWr) => {
                        let end = end_of(endpoint);
                        if !closed.contains(&end) {
                            closed.push(end);
                        }
                    }
                    _ => {}
                }
            }
            asked
        })
        .collect()
}

/// The end an endpoint belongs to: `server-child` is the server's.
fn end_of(e: &Endpoint) -> String {
    e.to_string().trim_end_matches("-child").to_owned()
}

/// Whether two ends face each other: a client and a server.
fn peers(a: &str, b: &str) -> bool {
    let client = |s: &str| s.starts_with("client");
    let server = |s: &str| s.starts_with("server");
    (client(a) && server(b)) || (server(a) && client(b))
}

/// The close that sends the connection's second FIN (its peer closed
/// first) asks close's lesson: which end ends up in TIME-WAIT?
fn second_close(step: usize, action: &Action, closed: &[String]) -> Option<Question> {
    let Action::Call {
        endpoint,
        call: call @ (Call::Close | Call::Shutdown(How::Wr | How::RdWr)),
    } = action
    else {
        return None;
    };
    let me = end_of(endpoint);
    if closed.contains(&me) {
        return None;
    }
    let first = closed.iter().find(|c| peers(c, &me))?;
    let words = if matches!(call, Call::Close) {
        "close"
    } else {
        "shutdown"
    };
    let mut choices = vec![
        Answer::End(first.clone()),
        Answer::End(me.clone()),
        Answer::Both,
        Answer::Neither,
    ];
    let n = choices.len();
    choices.rotate_left((step * 3 + 1) % n);
    Some(Question {
        step,
        endpoint: endpoint.to_string(),
        action: format!("{endpoint} {words}"),
        ask: Ask::WhoEnters(TcpState::TimeWait),
        choices,
    })
}

fn question(step: usize, action: &Action, nonblocking: &HashSet<Endpoint>) -> Option<Question> {
    let make = |endpoint: &Endpoint, words: String, ask: Ask, mut choices: Vec<Answer>| {
        // The likely answer is listed first above; the class must not learn
        // that "1" is always right: the order turns with the step.
        let n = choices.len();
        choices.rotate_left((step * 3 + 1) % n);
        Question {
            step,
            endpoint: endpoint.to_string(),
            action: words,
            ask,
            choices,
        }
    };
    match action {
        Action::Kill(e) => Some(make(
            e,
            format!("kill {e}"),
            Ask::FirstPacket,
            vec![Answer::Fin, Answer::Rst, Answer::Nothing, Answer::Syn],
        )),
        Action::Call { endpoint: e, call } => {
            let q = |words: &str, ask, choices| Some(make(e, format!("{e} {words}"), ask, choices));
            match call {
                Call::Listen(_) => q(
                    "listen",
                    Ask::NewState,
                    vec![
                        Answer::State(TcpState::Listen),
                        Answer::State(TcpState::SynSent),
                        Answer::State(TcpState::Established),
                        Answer::State(TcpState::SynReceived),
                    ],
                ),
                // A non-blocking connect returns before the handshake ends.
                Call::Connect(_) if nonblocking.contains(e) => q(
                    "connect",
                    Ask::Returns("connect"),
                    vec![
                        Answer::Errno("EINPROGRESS"),
                        Answer::Connected,
                        Answer::Blocks,
                        Answer::Errno("EAGAIN"),
                    ],
                ),
                Call::Connect(_) => q(
                    "connect",
                    Ask::FirstPacket,
                    vec![Answer::Syn, Answer::SynAck, Answer::Ack, Answer::Nothing],
                ),
                Call::Close => q(
                    "close",
                    Ask::FirstPacket,
                    vec![Answer::Fin, Answer::Rst, Answer::Nothing, Answer::Syn],
                ),
                Call::Shutdown(How::Wr | How::RdWr) => q(
                    "shutdown",
                    Ask::FirstPacket,
                    vec![Answer::Fin, Answer::Rst, Answer::Nothing, Answer::Ack],
                ),
                Call::Read(_) | Call::Recv { .. } => {
                    let (name, words) = match call {
                        Call::Recv { max, peek: true } => ("recv", format!("recv peek {max}")),
                        Call::Recv { .. } => ("recv", "recv".to_owned()),
                        _ => ("read", "read".to_owned()),
                    };
                    // Nothing to read: a non-blocking socket says so at once.
                    let waits = if nonblocking.contains(e) {
                        Answer::Errno("EAGAIN")
                    } else {
                        Answer::Blocks
                    };
                    q(
                        &words,
                        Ask::Returns(name),
                        vec![
                            Answer::Bytes,
                            Answer::Eof,
                            Answer::Errno("ECONNRESET"),
                            waits,
                        ],
                    )
                }
                // Whether the time runs out is the lesson: the answer is
                // the call's result, not that it waits.
                Call::Select { ready, timeout } | Call::Poll { ready, timeout } => {
                    let name = if matches!(call, Call::Select { .. }) {
                        "select"
                    } else {
                        "poll"
                    };
                    // As the script says it: `client2 select in 1s`.
                    let mut words = format!(
                        "{name} {}",
                        match ready {
                            Ready::In => "in",
                            Ready::Out => "out",
                        }
                    );
                    if let Some(t) = timeout {
                        words.push(' ');
                        words.push_str(&crate::lab::runner::format_duration(*t));
                    }
                    q(
                        &words,
                        Ask::Returns(name),
                        vec![
                            Answer::Ready,
                            Answer::TimedOut,
                            Answer::Errno("EAGAIN"),
                            Answer::Errno("ETIMEDOUT"),
                        ],
                    )
                }
                Call::GetSockOptError => q(
                    "getsockopt error",
                    Ask::Returns("getsockopt"),
                    vec![
                        Answer::NoError,
                        Answer::Errno("EINPROGRESS"),
                        Answer::Errno("ECONNREFUSED"),
                        Answer::Errno("EAGAIN"),
                    ],
                ),
                // accept() takes a connection the handshake has finished:
                // none yet, and it waits.
                Call::Accept => q(
                    "accept",
                    Ask::Returns("accept"),
                    vec![
                        Answer::Blocks,
                        Answer::Connection,
                        Answer::Errno("ECONNREFUSED"),
                        Answer::Errno("EAGAIN"),
                    ],
                ),
                Call::Write(_) | Call::Send { .. } => {
                    let name = if matches!(call, Call::Write(_)) {
                        "write"
                    } else {
                        "send"
                    };
                    q(
                        name,
                        Ask::Returns(name),
                        vec![
                            Answer::Success,
                            Answer::Errno("EPIPE"),
                            Answer::Errno("ECONNRESET"),
                            Answer::Eof,
                        ],
                    )
                }
                _ => None,
            }
        }
        _ => None,
    }
}

/// What a segment is, in the quiz's words.
fn packet_answer(flags: Option<Flags>, payload: u32) -> Answer {
    let Some(f) = flags else {
        return Answer::Data;
    };
    if f.rst() {
        Answer::Rst
    } else if f.syn() && f.ack() {
        Answer::SynAck
    } else if f.syn() {
        Answer::Syn
    } else if f.fin() {
        Answer::Fin
    } else if payload > 0 {
        Answer::Data
    } else {
        Answer::Ack
    }
}

fn result_answer(call: &str, r: &CallResult) -> Answer {
    match r {
        CallResult::Errno(e) => Answer::Errno(errno_static(e)),
        CallResult::Bytes(0) if call == "read" || call == "recv" => Answer::Eof,
        CallResult::Bytes(_) if call == "read" || call == "recv" => Answer::Bytes,
        CallResult::Ok if call == "accept" => Answer::Connection,
        CallResult::Ok if call == "connect" => Answer::Connected,
        CallResult::Bytes(0) if call == "select" || call == "poll" => Answer::TimedOut,
        CallResult::Bytes(_) if call == "select" || call == "poll" => Answer::Ready,
        CallResult::Bytes(0) if call == "getsockopt" => Answer::NoError,
        CallResult::Ok | CallResult::Bytes(_) => Answer::Success,
    }
}

/// Errno names as `'static` (the few a question offers; others are leaked
/// once, which is fine for the handful a run can produce).
fn errno_static(e: &str) -> &'static str {
    const KNOWN: [&str; 8] = [
        "ECONNRESET",
        "EPIPE",
        "ECONNREFUSED",
        "ETIMEDOUT",
        "EAGAIN",
        "ENOTCONN",
        "EINPROGRESS",
        "EADDRINUSE",
    ];
    KNOWN
        .iter()
        .find(|k| **k == e)
        .copied()
        .unwrap_or_else(|| Box::leak(e.to_owned().into_boxed_str()))
}

/// How an asked question ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub question: Question,
    /// The choice the class picked (0-based).
    pub chosen: usize,
    /// What really happened; `None` when nothing in the events answered.
    pub truth: Option<Answer>,
    /// The state first shown as the answer, withdrawn since (the kernel's
    /// word replaced it): the verdict is the corrected state's.
    pub corrected: Option<TcpState>,
}

impl Verdict {
    #[must_use]
    pub fn right(&self) -> bool {
        self.truth.as_ref() == self.question.choices.get(self.chosen)
    }
}

/// A question answered, its step not yet judged.
#[derive(Clone, Debug)]
struct Pending {
    question: Question,
    chosen: usize,
    /// When its step began (its `StepEvent`).
    started: Option<Timestamp>,
    /// Segments since then, by source: whose they are may be learnt later
    /// (connect() reports its address after its SYN has left).
    seen: Vec<(SocketAddr, Answer)>,
    /// The ends whose sockets entered the asked state since then, and when
    /// the first did.
    entered: Vec<String>,
    first_entered: Option<Timestamp>,
}

/// The quiz of one run.
#[derive(Clone, Debug, Default)]
pub struct Quiz {
    questions: Vec<Option<Question>>,
    /// The next step the lab will run (1-based).
    next_step: usize,
    pending: Option<Pending>,
    /// The last verdict, shown until the next question is answered.
    pub verdict: Option<Verdict>,
    pub right: u32,
    pub asked: u32,
    /// Every address an endpoint's calls gave its sockets.
    addrs: HashMap<String, HashSet<SocketAddr>>,
    /// Steps whose verdict was given (a step is judged once).
    judged: HashSet<usize>,
    /// The state line that answered the last verdict: its socket and time.
    answered_by: Option<(SocketAddr, Option<SocketAddr>, Timestamp)>,
}

impl Quiz {
    #[must_use]
    pub fn new(questions: Vec<Option<Question>>) -> Self {
        Self {
            questions,
            next_step: 1,
            ..Self::default()
        }
    }

    /// The question to show now: the next step's, while it waits for an
    /// answer (none while the last one is being judged).
    #[must_use]
    pub fn current(&self) -> Option<&Question> {
        if self.pending.is_some() {
            return None;
        }
        self.questions.get(self.next_step.checked_sub(1)?)?.as_ref()
    }

    /// True when the lab may run the next step without asking (it has no
    /// question, and the last answer is judged).
    #[must_use]
    pub fn may_run_unasked(&self) -> bool {
        self.pending.is_none() && self.next_step <= self.questions.len() && self.current().is_none()
    }

    /// The class picked choice `n` (0-based) for the current question; true
    /// when it was a valid choice (the step may run).
    pub fn answer(&mut self, n: usize) -> bool {
        let Some(q) = self.current() else {
            return false;
        };
        if n >= q.choices.len() {
            return false;
        }
        self.pending = Some(Pending {
            question: q.clone(),
            chosen: n,
            started: None,
            seen: Vec::new(),
            entered: Vec::new(),
            first_entered: None,
        });
        self.verdict = None;
        true
    }

    /// Follows the run's events.
    pub fn observe(&mut self, events: &[Event]) {
        for ev in events {
            match ev {
                Event::Call(c) => {
                    if let Some(a) = c.local {
                        self.addrs
                            .entry(c.endpoint.to_string())
                            .or_default()
                            .insert(a);
                    }
                }
                Event::State(s) => {
                    self.addrs
                        .entry(s.endpoint.to_string())
                        .or_default()
                        .insert(s.local);
                }
                Event::Check(c) if c.withdraws() => self.correct(c),
                _ => {}
            }
            if let Event::Step(s) = ev {
                self.next_step = s.index + 1;
                if let Some(p) = &mut self.pending
                    && p.question.step == s.index
                {
                    p.started = Some(s.ts);
                }
                continue;
            }
            let Some(p) = &mut self.pending else {
                continue;
            };
            if p.started.is_none() {
                continue;
            }
            if let Event::Packet(pk) = ev {
                let answer = packet_answer(pk.segment.tcp.map(|t| t.flags), pk.segment.payload_len);
                p.seen.push((pk.segment.src, answer));
            }
            if let Ask::WhoEnters(asked) = p.question.ask {
                match ev {
                    Event::State(s) if s.to == asked => {
                        let end = s.endpoint.trim_end_matches("-child").to_owned();
                        if !p.entered.contains(&end) {
                            p.entered.push(end);
                        }
                        p.first_entered.get_or_insert(s.ts);
                    }
                    // Shown, then withdrawn: that end was not in it.
                    Event::Check(c) if c.withdraws() && c.shown == asked => {
                        let end = c.endpoint.trim_end_matches("-child");
                        p.entered.retain(|e| e != end);
                    }
                    _ => {}
                }
                self.tick(ev.ts());
                continue;
            }
            let truth = match &p.question.ask {
                Ask::FirstPacket => self.first_packet(),
                _ => {
                    let q = p.question.clone();
                    self.truth_in(&q, ev)
                }
            };
            if let Some(truth) = truth {
                if self.judge(Some(truth)) {
                    self.answered_by = match ev {
                        Event::State(s) => Some((s.local, s.remote, s.ts)),
                        _ => None,
                    };
                }
            }
        }
    }

    /// The state that answered the last verdict was withdrawn: the verdict
    /// (and the score) follow the state the socket was really in, as the
    /// ladder does.
    fn correct(&mut self, c: &CheckEvent) {
        if self.answered_by != Some((c.local, c.remote, c.shown_at)) {
            return;
        }
        let Some(v) = self.verdict.as_mut() else {
            return;
        };
        if v.truth != Some(Answer::State(c.shown)) {
            return;
        }
        let was_right = v.right();
        v.truth = Some(Answer::State(c.actual));
        v.corrected = Some(c.shown);
        match (was_right, v.right()) {
            (true, false) => self.right -= 1,
            (false, true) => self.right += 1,
            _ => {}
        }
        self.answered_by = None;
    }

    /// The first segment since the step began from a socket of the asked
    /// endpoint, as far as its sockets are known now.
    fn first_packet(&self) -> Option<Answer> {
        let p = self.pending.as_ref()?;
        let mine = self.addrs.get(&p.question.endpoint)?;
        p.seen
            .iter()
            .find(|(src, _)| mine.contains(src))
            .map(|(_, a)| a.clone())
    }

    /// The clock moved: a question whose answer did not come is judged.
    pub fn tick(&mut self, now: Timestamp) {
        let Some(p) = &self.pending else {
            return;
        };
        let Some(started) = p.started else {
            return;
        };
        // Who enters a state: the other end may follow the first a moment
        // later (a simultaneous close), then the answer is in.
        let settled = p
            .first_entered
            .is_some_and(|t| now.seconds_since(t) >= BOTH_ENDS.as_secs_f64());
        if now.seconds_since(started) < SETTLE.as_secs_f64() && !settled {
            return;
        }
        let truth = match &p.question.ask {
            Ask::FirstPacket => Some(self.first_packet().unwrap_or(Answer::Nothing)),
            Ask::WhoEnters(_) => Some(match p.entered.as_slice() {
                [] => Answer::Neither,
                [one] => Answer::End(one.clone()),
                _ => Answer::Both,
            }),
            Ask::Returns(_) | Ask::NewState => None,
        };
        self.judge(truth);
    }

    /// Gives the verdict on the pending answer; false when there was none
    /// to give (no answer pending, or its step judged already).
    fn judge(&mut self, truth: Option<Answer>) -> bool {
        let Some(p) = self.pending.take() else {
            return false;
        };
        if !self.judged.insert(p.question.step) {
            return false;
        }
        let v = Verdict {
            question: p.question,
            chosen: p.chosen,
            truth,
            corrected: None,
        };
        self.answered_by = None;
        if v.truth.is_some() {
            self.asked += 1;
            if v.right() {
                self.right += 1;
            }
        }
        self.verdict = Some(v);
        true
    }

    /// Whether `ev` answers `q`.
    fn truth_in(&self, q: &Question, ev: &Event) -> Option<Answer> {
        match (&q.ask, ev) {
            // A blocking call is reported when it begins to wait (no result),
            // which answers a question that offers "it blocks"; the others
            // wait for the result.
            (Ask::Returns(call), Event::Call(c)) if c.endpoint == q.endpoint && c.call == *call => {
                match &c.result {
                    Some(r) => Some(result_answer(call, r)),
                    None if q.choices.contains(&Answer::Blocks) => Some(Answer::Blocks),
                    None => None,
                }
            }
            // By address: a listener's states are the `listener`'s, not the server's.
            (Ask::NewState, Event::State(s))
                if self
                    .addrs
                    .get(&q.endpoint)
                    .is_some_and(|a| a.contains(&s.local)) =>
            {
                Some(Answer::State(s.to))
            }
            _ => None,
        }
    }

    /// An answer was given and its step is being watched.
    #[must_use]
    pub fn watching(&self) -> bool {
        self.pending.is_some()
    }

    /// Questions left to ask after the current step.
    #[must_use]
    pub fn total(&self) -> usize {
        self.questions.iter().flatten().count()
    }

    /// True once every step has run and the last answer is judged.
    #[must_use]
    pub fn finished(&self) -> bool {
        self.pending.is_none() && self.next_step > self.questions.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{StateEvent, StateSource, StepEvent};

    /// Step 1 of 1 begins at 0 ms.
    fn first_step() -> Event {
        Event::Step(Box::new(StepEvent {
            ts: at(0),
            index: 1,
            total: 1,
            line: 1,
            narration: None,
        }))
    }

    fn at(ms: u64) -> Timestamp {
        Timestamp(1_700_000_000_000_000_000 + ms * 1_000_000)
    }

    fn bundled(name: &str) -> Vec<Option<Question>> {
        let s = crate::lab::scenario(name).expect("bundled");
        questions(&crate::lab::parse(name, s.text).expect("parses"))
    }

    fn asked<'a>(qs: &'a [Option<Question>], action: &str) -> Vec<&'a Question> {
        qs.iter().flatten().filter(|q| q.action == action).collect()
    }

    /// The non-blocking lesson's questions offer what a call may return
    /// when it may not wait: EINPROGRESS for connect, EAGAIN for read.
    #[test]
    fn a_non_blocking_socket_changes_the_choices() {
        let qs = bundled("nonblocking");
        let connect = asked(&qs, "client connect");
        assert_eq!(connect.len(), 1);
        assert_eq!(connect[0].ask, Ask::Returns("connect"));
        assert!(connect[0].choices.contains(&Answer::Errno("EINPROGRESS")));
        // The first read of the accepted socket comes after its own fcntl.
        let read = asked(&qs, "server read");
        assert_eq!(read.len(), 1);
        assert!(read[0].choices.contains(&Answer::Errno("EAGAIN")));
        assert!(!read[0].choices.contains(&Answer::Blocks));
        // The client's last read is non-blocking too.
        assert!(
            asked(&qs, "client read")[0]
                .choices
                .contains(&Answer::Errno("EAGAIN"))
        );
        // The busy loop asks nothing: its first EAGAIN is not its lesson.
        assert!(asked(&qs, "server read busy").is_empty());
        assert!(
            asked(&qs, "client getsockopt error")[0]
                .choices
                .contains(&Answer::NoError)
        );
        // A blocking read elsewhere still offers "it blocks".
        let close = bundled("half-close");
        assert!(
            close
                .iter()
                .flatten()
                .filter(|q| q.ask == Ask::Returns("read"))
                .all(|q| q.choices.contains(&Answer::Blocks))
        );
    }

    /// A select with a timeout first reports that it waits; its question
    /// is answered by what it returns: 0 when the time ran out.
    #[test]
    fn a_select_is_judged_by_its_result_not_its_wait() {
        let qs = bundled("select");
        let q = asked(&qs, "client2 select in 1s")[0].clone();
        let step = q.step;
        let mut quiz = Quiz::new(vec![None; step - 1].into_iter().chain([Some(q)]).collect());
        quiz.next_step = step;
        let n = quiz
            .current()
            .expect("asked")
            .choices
            .iter()
            .position(|a| *a == Answer::TimedOut)
            .expect("0 is a choice");
        assert!(quiz.answer(n));
        let call = |ms: u64, result: Option<CallResult>| {
            Event::Call(Box::new(crate::event::CallEvent {
                ts: at(ms),
                endpoint: "client2".into(),
                call: "select".into(),
                args: "nfds 4, readfds {3}, timeout 1s".into(),
                result,
                local: None,
                times: None,
                data: None,
            }))
        };
        quiz.observe(&[
            Event::Step(Box::new(StepEvent {
                ts: at(0),
                index: step,
                total: step,
                line: 1,
                narration: None,
            })),
            call(1, None),
        ]);
        assert!(quiz.verdict.is_none(), "the wait does not answer");
        quiz.observe(&[call(1001, Some(CallResult::Bytes(0)))]);
        let v = quiz.verdict.as_ref().expect("judged");
        assert_eq!(v.truth, Some(Answer::TimedOut));
        assert!(v.right());
    }

    /// backlog-abort's race as a quiz: the server's socket seemed to become
    /// ESTABLISHED, and the kernel then said it was still SYN-RECEIVED. The
    /// verdict and the score follow the kernel, as the ladder does.
    #[test]
    fn a_withdrawn_state_corrects_the_verdict_and_the_score() {
        let local: SocketAddr = "127.0.0.1:7000".parse().unwrap();
        let remote: Option<SocketAddr> = "127.0.0.1:40000".parse().ok();
        let mut quiz = Quiz::new(vec![Some(Question {
            step: 1,
            endpoint: "server".into(),
            action: "client connect".into(),
            ask: Ask::NewState,
            choices: vec![
                Answer::State(TcpState::Established),
                Answer::State(TcpState::SynReceived),
            ],
        })]);
        // The server's calls gave its socket this address.
        quiz.addrs.entry("server".into()).or_default().insert(local);
        assert!(quiz.answer(0));
        quiz.observe(&[
            first_step(),
            Event::State(Box::new(StateEvent {
                ts: at(10),
                conn: None,
                endpoint: "server".into(),
                local,
                remote,
                from: Some(TcpState::SynReceived),
                to: TcpState::Established,
                source: StateSource::Inferred,
                timer: None,
                note: None,
            })),
        ]);
        assert_eq!((quiz.right, quiz.asked), (1, 1));
        quiz.observe(&[Event::Check(Box::new(CheckEvent {
            ts: at(300),
            conn: None,
            endpoint: "server".into(),
            local,
            remote,
            shown: TcpState::Established,
            shown_at: at(10),
            actual: TcpState::SynReceived,
            source: StateSource::Kernel,
            timer: None,
            note: None,
        }))]);
        let v = quiz.verdict.as_ref().expect("a verdict");
        assert_eq!(v.truth, Some(Answer::State(TcpState::SynReceived)));
        assert_eq!(v.corrected, Some(TcpState::Established));
        assert_eq!((quiz.right, quiz.asked), (0, 1));
    }

    fn script(name: &str) -> Script {
        let s = crate::lab::scenarios()
            .iter()
            .find(|s| s.name == name)
            .expect("scenario");
        crate::lab::parse(name, s.text).expect("script")
    }

    fn who_enters(name: &str) -> Vec<String> {
        questions(&script(name))
            .into_iter()
            .flatten()
            .filter(|q| q.ask == Ask::WhoEnters(TcpState::TimeWait))
            .map(|q| q.action)
            .collect()
    }

    /// Close's lesson is asked where the second FIN of a connection goes
    /// out; never between clients of different connections, never on a
    /// step that runs at once after the one before.
    #[test]
    fn the_second_close_of_a_connection_asks_who_ends_in_time_wait() {
        assert_eq!(who_enters("close"), ["server close"]);
        assert_eq!(who_enters("time-wait"), ["client close"]);
        assert_eq!(who_enters("shared-fd"), ["client close"]);
        assert!(who_enters("concurrent").is_empty());
        assert!(who_enters("epoll").is_empty());
        let sim = questions(&script("simultaneous-close"));
        let steps = script("simultaneous-close").steps;
        for (q, step) in sim.iter().zip(&steps) {
            assert!(!(step.at_once && q.is_some()), "{step:?} asks {q:?}");
        }
    }

    /// Both ends entering TIME-WAIT within a moment of each other is "both".
    #[test]
    fn both_ends_entering_is_both() {
        let local: SocketAddr = "127.0.0.1:7000".parse().unwrap();
        let remote: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        let q = Question {
            step: 1,
            endpoint: "server".into(),
            action: "server close".into(),
            ask: Ask::WhoEnters(TcpState::TimeWait),
            choices: vec![
                Answer::End("client".into()),
                Answer::End("server".into()),
                Answer::Both,
                Answer::Neither,
            ],
        };
        let state = |ms, endpoint: &str, l, r| {
            Event::State(Box::new(StateEvent {
                ts: at(ms),
                conn: None,
                endpoint: endpoint.to_owned().into(),
                local: l,
                remote: Some(r),
                from: Some(TcpState::Closing),
                to: TcpState::TimeWait,
                source: StateSource::Kernel,
                timer: Some(60.0),
                note: None,
            }))
        };
        let mut quiz = Quiz::new(vec![Some(q)]);
        assert!(quiz.answer(2));
        quiz.observe(&[
            first_step(),
            state(5, "client", remote, local),
            state(6, "server", local, remote),
        ]);
        assert!(quiz.verdict.is_none(), "the other end may still follow");
        quiz.tick(at(400));
        let v = quiz.verdict.as_ref().expect("judged");
        assert_eq!(v.truth, Some(Answer::Both));
        assert!(v.right());
    }
}
