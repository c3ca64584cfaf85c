//! Plays a [`Script`] in the lab: one peer process per endpoint, steps in
//! order, every reported call forwarded to the event sink. A control channel
//! lets the user drive it: next step, pause and play, kill a peer, cut the
//! link, stop.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command as Process, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::LabError;
use super::peer::{Command, InfoLine, Line, PARENT_PID_ENV, errno_name};
use super::script::{Action, Endpoint, LinkRule, Script};
use crate::event::{
    CaState, CallEvent, CallResult, CongSource, CongestionEvent, EndpointName, Event, EventSink,
    LabAction, LabEvent, Origin, StepEvent,
};
use crate::time::Timestamp;

/// What the user asks of a running lab.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LabControl {
    /// Run the next step now (while paused, or without waiting out the pace).
    Next,
    /// Stop before each step until `Next` or `Play`.
    Pause,
    /// Go on at the pace.
    Play,
    /// SIGKILL a peer now (`None`: the server).
    Kill(Option<EndpointName>),
    /// Cut the link if it carries segments, restore it if it is cut.
    ToggleLink,
    /// Turn the scenario's loss (its first `link loss` or `link drop`, else
    /// 5% loss) on for every peer, or restore the link if a loss is on.
    ToggleLoss,
    /// Tear the lab down and return.
    Stop,
}

/// How a demo runs.
pub struct LabOptions {
    pub ipv6: bool,
    /// The server's port (`server2` listens on port + 1 …).
    pub port: u16,
    /// Time between the end of a step and the start of the next while playing.
    pub pace: Duration,
    /// Start paused: each step waits for [`LabControl::Next`] (`--step`).
    pub paused: bool,
    /// After the last step, keep the lab up (sockets keep their timers, the
    /// user may still kill or cut) until [`LabControl::Stop`].
    pub stay: bool,
    pub control: mpsc::Receiver<LabControl>,
}

/// A blocking call is left running this long after its `start` arrived.
const BLOCKED_GRACE: Duration = Duration::from_millis(200);
/// A step that neither finishes nor reports blocking this long gets a warning.
const STEP_LIMIT: Duration = Duration::from_secs(3);
/// Time for the last packets after the last step (TIME-WAIT is not waited out).
const SETTLE: Duration = Duration::from_millis(300);
const TICK: Duration = Duration::from_millis(20);

/// What the peers' reader threads tell the runner.
enum Msg {
    Done {
        peer: usize,
        id: u64,
    },
    /// Where a peer's `link drop` filter drops (relative sequence numbers).
    DropAt {
        at: Vec<u32>,
    },
    Start {
        peer: usize,
    },
    Exited {
        peer: usize,
    },
}

struct PeerProc {
    endpoint: Endpoint,
    name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    alive: bool,
    outstanding: Vec<u64>,
    /// Its current call reported that it blocks.
    blocked: bool,
}

/// Kills and reaps every peer on every way out of [`run`].
struct Peers(Vec<PeerProc>);

impl Drop for Peers {
    fn drop(&mut self) {
        for p in &mut self.0 {
            p.stdin = None;
            let _ = p.child.kill();
            let _ = p.child.wait();
        }
    }
}

/// Spawns the peers, runs every step in order, and sends into `sink` each
/// call event (`Event::Call`, with the endpoint's name), each step's start and
/// narration (`Event::Step`), what the lab itself does (`Event::Lab`: sleep,
/// sysctl, link, kill, the end, the teardown) and warnings.
///
/// Steps are gated by `opts`: the pace between steps, or `Next` while paused.
/// A blocking call is left running ~200 ms after it reported `start`, then
/// the next step begins. Returns when the script ends (after ~300 ms for the
/// last packets), or with `opts.stay` when told to stop; `Stop` ends it at
/// any point.
///
/// # Errors
/// [`LabError::Spawn`] when a peer cannot start, [`LabError::Peer`] when a
/// peer dies before its first step.
pub fn run(script: &Script, opts: LabOptions, sink: EventSink) -> Result<(), LabError> {
    let exe = std::env::current_exe().map_err(|source| LabError::Spawn {
        endpoint: "lab".into(),
        exe: "synack".into(),
        source,
    })?;
    let (msg_tx, msg_rx) = mpsc::channel::<Msg>();
    let mut peers = Peers(Vec::new());
    for (index, endpoint) in script.endpoints().into_iter().enumerate() {
        let name = endpoint.to_string();
        let spawn_err = |source| LabError::Spawn {
            endpoint: name.clone(),
            exe: exe.display().to_string(),
            source,
        };
        let mut child = Process::new(&exe)
            .arg("__peer")
            .arg(&name)
            .env(PARENT_PID_ENV, std::process::id().to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(spawn_err)?;
        let stdin = child.stdin.take();
        if let Some(out) = child.stdout.take() {
            let (tx, sink, name) = (msg_tx.clone(), sink.clone(), name.clone());
            std::thread::spawn(move || read_peer(index, &name, out, &tx, &sink));
        }
        if let Some(err) = child.stderr.take() {
            let (sink, name) = (sink.clone(), name.clone());
            std::thread::spawn(move || {
                for line in BufReader::new(err).lines().map_while(Result::ok) {
                    warn(&sink, format!("{name}: {line}"));
                }
            });
        }
        peers.0.push(PeerProc {
            endpoint,
            name,
            child,
            stdin,
            alive: true,
            outstanding: Vec::new(),
            blocked: false,
        });
    }
    drop(msg_tx);
    let mut lab = Lab {
        peers,
        msgs: msg_rx,
        sink,
        control: opts.control,
        stopped: false,
        paused: opts.paused,
        next: false,
        cut: false,
        lossy: false,
        loss_rule: script
            .steps
            .iter()
            .find_map(|s| match &s.action {
                Action::Link { rule, .. }
                    if matches!(rule, LinkRule::Loss { .. } | LinkRule::Drop { .. }) =>
                {
                    Some(rule.clone())
                }
                _ => None,
            })
            .unwrap_or(LinkRule::Loss { per_10k: 500 }),
        drop_at: None,
        next_id: 0,
    };
    for i in 0..lab.peers.0.len() {
        let hello = Command::Hello {
            ipv6: opts.ipv6,
            port: opts.port,
        };
        if !lab.send(i, &hello) {
            let p = &lab.peers.0[i];
            return Err(LabError::Peer {
                endpoint: p.name.clone(),
                what: "it exited at start".into(),
            });
        }
    }
    let total = script.steps.len();
    for (i, step) in script.steps.iter().enumerate() {
        // The first step runs at once unless paused; later ones wait the pace,
        // except those written `+ STEP`, which follow the one before at once.
        let pace = if i == 0 { Duration::ZERO } else { opts.pace };
        if step.at_once {
            lab.poll_control();
            if lab.stopped {
                lab.close();
                return Ok(());
            }
        } else if !lab.gate(pace) {
            lab.close();
            return Ok(());
        }
        lab.emit(Event::Step(Box::new(StepEvent {
            ts: Timestamp::now(),
            index: i + 1,
            total,
            line: step.line,
            narration: step.narration.clone(),
        })));
        lab.step(step.line, &step.action);
    }
    lab.pause(SETTLE);
    lab.lab_event(
        Timestamp::now(),
        LabAction::Ended,
        CallResult::Ok,
        Origin::Script,
    );
    if opts.stay {
        while !lab.stopped {
            lab.pause(Duration::from_secs(1));
        }
    }
    lab.close();
    Ok(())
}

fn warn(sink: &EventSink, message: String) {
    sink(Event::Warning {
        ts: Timestamp::now(),
        message,
    });
}

/// Turns one peer's stdout lines into events and runner messages.
fn read_peer(
    peer: usize,
    name: &str,
    out: std::process::ChildStdout,
    tx: &mpsc::Sender<Msg>,
    sink: &EventSink,
) {
    for text in BufReader::new(out).lines().map_while(Result::ok) {
        let line: Line = match serde_json::from_str(&text) {
            Ok(l) => l,
            Err(_) => {
                warn(sink, format!("{name}: {text}"));
                continue;
            }
        };
        if let Some(at) = line.drop_at {
            let _ = tx.send(Msg::DropAt { at });
        }
        if let Some(id) = line.done {
            let _ = tx.send(Msg::Done { peer, id });
        }
        if let Some(message) = line.warning {
            warn(sink, message);
        }
        if let Some(info) = line.info {
            match congestion_event(name, line.ts_ns, &info) {
                Some(ev) => sink(ev),
                None => warn(
                    sink,
                    format!("{name}: a TCP_INFO report without its addresses"),
                ),
            }
        }
        if line.under_way && !line.child {
            let _ = tx.send(Msg::Start { peer });
        }
        if let Some(call) = line.call {
            let start = line.phase.as_deref() == Some("start");
            if start && !line.child {
                let _ = tx.send(Msg::Start { peer });
            }
            let endpoint = if line.child {
                format!("{name}-child")
            } else {
                name.to_owned()
            };
            let result = if start {
                None
            } else {
                Some(CallResult::parse(line.result.as_deref().unwrap_or("ok")))
            };
            sink(Event::Call(Box::new(CallEvent {
                ts: Timestamp(line.ts_ns.unwrap_or_else(|| Timestamp::now().0)),
                endpoint: endpoint.into(),
                call,
                args: line.args.unwrap_or_default(),
                result,
                local: line.local.and_then(|l| l.parse().ok()),
                times: line.times,
                data: line.data,
            })));
        }
    }
    let _ = tx.send(Msg::Exited { peer });
}

/// A peer's TCP_INFO report as the contract's event: the socket's own
/// report (`None` when its addresses do not parse).
fn congestion_event(name: &str, ts_ns: Option<u64>, info: &InfoLine) -> Option<Event> {
    Some(Event::Congestion(Box::new(CongestionEvent {
        ts: Timestamp(ts_ns.unwrap_or_else(|| Timestamp::now().0)),
        conn: None,
        endpoint: name.to_owned().into(),
        local: info.local.parse().ok()?,
        remote: info.remote.parse().ok()?,
        source: CongSource::Socket,
        state: CaState::from_kernel(info.ca_state),
        from: info.from.map(CaState::from_kernel),
        cwnd: Some(info.cwnd),
        ssthresh: info.ssthresh,
        rtt_us: Some(info.rtt_us),
        retransmits: Some(info.retransmits),
        total_retrans: Some(info.total_retrans),
    })))
}

struct Lab {
    peers: Peers,
    msgs: mpsc::Receiver<Msg>,
    sink: EventSink,
    control: mpsc::Receiver<LabControl>,
    /// Told to stop (or nobody can tell us any more).
    stopped: bool,
    paused: bool,
    /// `Next` arrived: the gate opens once.
    next: bool,
    /// The whole link is cut (by a script step or the user's toggle).
    cut: bool,
    /// A loss rule is on for the whole link.
    lossy: bool,
    /// What the user's loss toggle turns on.
    loss_rule: LinkRule,
    /// What the last `link drop` reported.
    drop_at: Option<Vec<u32>>,
    next_id: u64,
}

impl Lab {
    fn emit(&self, event: Event) {
        (self.sink)(event);
    }

    fn lab_event(&self, ts: Timestamp, action: LabAction, result: CallResult, origin: Origin) {
        self.emit(Event::Lab(Box::new(LabEvent {
            ts,
            action,
            result,
            origin,
        })));
    }

    /// Says the lab is being torn down: what the kernel does for the killed
    /// peers follows, and belongs to no step. The peers die when `Peers` drops.
    fn close(&self) {
        self.lab_event(
            Timestamp::now(),
            LabAction::Closing,
            CallResult::Ok,
            Origin::Script,
        );
    }

    fn warn(&self, line: usize, message: &str) {
        warn(&self.sink, format!("line {line}: {message}"));
    }

    fn index_of(&self, endpoint: Endpoint) -> Option<usize> {
        let e = endpoint.process();
        self.peers.0.iter().position(|p| p.endpoint == e)
    }

    fn send(&mut self, peer: usize, cmd: &Command) -> bool {
        let Ok(text) = serde_json::to_string(cmd) else {
            return false;
        };
        let p = &mut self.peers.0[peer];
        let ok = p.alive
            && p.stdin
                .as_mut()
                .is_some_and(|s| writeln!(s, "{text}").and_then(|()| s.flush()).is_ok());
        if !ok {
            p.alive = false;
        }
        ok
    }

    fn handle(&mut self, msg: &Msg) {
        if let Msg::DropAt { at } = msg {
            self.drop_at.get_or_insert_with(|| at.clone());
            return;
        }
        match *msg {
            Msg::DropAt { .. } => {}
            Msg::Done { peer, id } => {
                if let Some(p) = self.peers.0.get_mut(peer) {
                    p.outstanding.retain(|&o| o != id);
                }
            }
            Msg::Exited { peer } => {
                if let Some(p) = self.peers.0.get_mut(peer) {
                    p.alive = false;
                    p.outstanding.clear();
                }
            }
            Msg::Start { peer } => {
                if let Some(p) = self.peers.0.get_mut(peer) {
                    p.blocked = true;
                }
            }
        }
    }

    /// Reads what the user asked for, acting on kills and link changes at once.
    fn poll_control(&mut self) {
        loop {
            match self.control.try_recv() {
                Ok(LabControl::Next) => self.next = true,
                Ok(LabControl::Pause) => self.paused = true,
                Ok(LabControl::Play) => self.paused = false,
                Ok(LabControl::Stop) => self.stopped = true,
                Ok(LabControl::Kill(who)) => {
                    let who = who.unwrap_or(std::borrow::Cow::Borrowed("server"));
                    match Endpoint::from_name(&who) {
                        Some(e) if self.index_of(e).is_some() => self.kill(e, Origin::User),
                        _ => warn(
                            &self.sink,
                            format!("kill: this scenario has no peer named {who}"),
                        ),
                    }
                }
                Ok(LabControl::ToggleLink) => {
                    let rule = if self.cut {
                        LinkRule::Open
                    } else {
                        LinkRule::Cut
                    };
                    self.link(None, &rule, None, Origin::User);
                }
                Ok(LabControl::ToggleLoss) => {
                    let rule = if self.lossy {
                        LinkRule::Open
                    } else {
                        self.loss_rule.clone()
                    };
                    self.link(None, &rule, None, Origin::User);
                }
                Err(mpsc::TryRecvError::Empty) => return,
                // Nobody can drive the lab any more: stop.
                Err(mpsc::TryRecvError::Disconnected) => {
                    self.stopped = true;
                    return;
                }
            }
        }
    }

    /// Waits before a step: `pace` while playing, until `Next` or `Play`
    /// while paused. False when told to stop.
    fn gate(&mut self, pace: Duration) -> bool {
        let since = Instant::now();
        self.next = false;
        loop {
            self.poll_control();
            if self.stopped {
                return false;
            }
            if self.next || (!self.paused && since.elapsed() >= pace) {
                self.next = false;
                return true;
            }
            if let Ok(m) = self.msgs.recv_timeout(TICK) {
                self.handle(&m);
            }
        }
    }

    /// Sleeps, still reading messages and the controls.
    fn pause(&mut self, d: Duration) {
        let until = Instant::now() + d;
        loop {
            self.poll_control();
            let now = Instant::now();
            if self.stopped || now >= until {
                break;
            }
            if let Ok(m) = self.msgs.recv_timeout((until - now).min(TICK)) {
                self.handle(&m);
            }
        }
    }

    /// Waits until the call `id` of `peer` (every call, when `None`)
    /// finished, or it blocked and its grace ran out (true), or `limit`
    /// passed (false), or the lab stops.
    fn wait_until(&mut self, peer: usize, id: Option<u64>, limit: Duration) -> bool {
        let mut deadline = Instant::now() + limit;
        let mut graced = false;
        loop {
            self.poll_control();
            let p = &self.peers.0[peer];
            let finished = match id {
                Some(id) => !p.outstanding.contains(&id),
                None => p.outstanding.is_empty(),
            };
            if finished || !p.alive || self.stopped {
                return true;
            }
            if id.is_some() && p.blocked && !graced {
                graced = true;
                deadline = Instant::now() + BLOCKED_GRACE;
            }
            let now = Instant::now();
            if now >= deadline {
                return graced;
            }
            match self.msgs.recv_timeout((deadline - now).min(TICK)) {
                Ok(m) => self.handle(&m),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => return true,
            }
        }
    }

    fn step(&mut self, line: usize, action: &Action) {
        match action {
            Action::Call { endpoint, call } => {
                let Some(peer) = self.index_of(*endpoint) else {
                    return;
                };
                if !self.peers.0[peer].alive {
                    return self.warn(line, &format!("{endpoint} is not running (killed?)"));
                }
                if !self.peers.0[peer].outstanding.is_empty() && !endpoint.child {
                    self.warn(
                        line,
                        &format!("{endpoint} is still in its previous call; this one waits for it"),
                    );
                }
                self.next_id += 1;
                let id = self.next_id;
                let cmd = Command::Call {
                    id,
                    call: call.clone(),
                    child: endpoint.child,
                };
                if !self.send(peer, &cmd) {
                    return self.warn(line, &format!("{endpoint} is not running"));
                }
                let p = &mut self.peers.0[peer];
                p.outstanding.push(id);
                p.blocked = false;
                if !self.wait_until(peer, Some(id), STEP_LIMIT) {
                    self.warn(
                        line,
                        &format!("{endpoint} has not finished this step; going on"),
                    );
                }
            }
            Action::Kill(endpoint) => self.kill(*endpoint, Origin::Script),
            Action::Sleep(d) => {
                self.lab_event(
                    Timestamp::now(),
                    LabAction::Sleep(*d),
                    CallResult::Ok,
                    Origin::Script,
                );
                self.pause(*d);
            }
            Action::Sysctl { name, value } => {
                let ts = Timestamp::now();
                let result = match super::ns::set_sysctl(name, value) {
                    Ok(()) => CallResult::Ok,
                    Err(e) => {
                        self.warn(line, &e.to_string());
                        CallResult::Errno(e.errno().unwrap_or_else(|| "error".to_owned()))
                    }
                };
                let action = LabAction::Sysctl {
                    name: name.clone(),
                    value: value.clone(),
                };
                self.lab_event(ts, action, result, Origin::Script);
            }
            Action::Link { rule, only } => self.link(Some(line), rule, *only, Origin::Script),
            Action::Wait { endpoint, timeout } => {
                let Some(peer) = self.index_of(*endpoint) else {
                    return;
                };
                if !self.wait_until(peer, None, *timeout) {
                    self.warn(
                        line,
                        &format!(
                            "{endpoint} still blocked after {}",
                            format_duration(*timeout)
                        ),
                    );
                }
            }
        }
    }

    /// SIGKILLs a peer process and reaps it.
    fn kill(&mut self, endpoint: Endpoint, origin: Origin) {
        let Some(peer) = self.index_of(endpoint) else {
            return;
        };
        let p = &mut self.peers.0[peer];
        // Stamped before the signal: the dying peer's kernel closes its
        // sockets at once, and those packets must come after the kill.
        let ts = Timestamp::now();
        let result = if p.alive {
            match p.child.kill() {
                Ok(()) => CallResult::Ok,
                Err(e) => errno_result(&e),
            }
        } else {
            CallResult::Errno("ESRCH".into())
        };
        // Reaped at once: its sockets are closed by the kernel now.
        let _ = p.child.wait();
        p.alive = false;
        p.stdin = None;
        p.outstanding.clear();
        let action = LabAction::Kill {
            endpoint: endpoint.process().to_string().into(),
        };
        self.lab_event(ts, action, result, origin);
    }

    /// Broadcasts the link's new rule and waits until every peer applied
    /// it, so the event's timestamp is when the link really changed.
    fn link(
        &mut self,
        line: Option<usize>,
        rule: &LinkRule,
        only: Option<Endpoint>,
        origin: Origin,
    ) {
        let targets: Vec<usize> = match only {
            Some(e) => self.index_of(e).into_iter().collect(),
            None => (0..self.peers.0.len()).collect(),
        };
        self.drop_at = None;
        let mut sent = Vec::new();
        for peer in targets {
            self.next_id += 1;
            let id = self.next_id;
            let cmd = Command::Link {
                id,
                rule: rule.clone(),
            };
            if self.send(peer, &cmd) {
                self.peers.0[peer].outstanding.push(id);
                sent.push((peer, id));
            }
        }
        for (peer, id) in sent {
            if !self.wait_until(peer, Some(id), Duration::from_secs(1)) {
                let name = self.peers.0[peer].name.clone();
                let message = format!("{name} did not confirm the link change");
                match line {
                    Some(line) => self.warn(line, &message),
                    None => warn(&self.sink, message),
                }
            }
        }
        if only.is_none() {
            self.cut = *rule == LinkRule::Cut;
            self.lossy = matches!(rule, LinkRule::Loss { .. } | LinkRule::Drop { .. });
        }
        let only: Option<EndpointName> = only.map(|e| e.to_string().into());
        let action = match rule {
            LinkRule::Open => LabAction::LinkRestored { only },
            LinkRule::Cut => LabAction::LinkCut { only },
            LinkRule::Loss { per_10k } => LabAction::LinkLoss {
                per_10k: *per_10k,
                only,
            },
            LinkRule::Drop { segments } => {
                let at = self.drop_at.take().unwrap_or_default();
                if at.is_empty() {
                    let message = "link drop: no open connection to drop segments of".to_owned();
                    match line {
                        Some(line) => self.warn(line, &message),
                        None => warn(&self.sink, message),
                    }
                }
                LabAction::LinkDrop {
                    segments: segments.clone(),
                    at,
                    only,
                }
            }
        };
        self.lab_event(Timestamp::now(), action, CallResult::Ok, origin);
    }
}

fn errno_result(e: &std::io::Error) -> CallResult {
    let name = e
        .raw_os_error()
        .and_then(errno_name)
        .map_or_else(|| e.to_string(), str::to_owned);
    CallResult::Errno(name)
}

/// `200ms`, `2s`: a duration as scripts write it.
#[must_use]
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms % 1000 == 0 {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_print_as_written() {
        assert_eq!(format_duration(Duration::from_millis(200)), "200ms");
        assert_eq!(format_duration(Duration::from_secs(2)), "2s");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1500ms");
    }
}
