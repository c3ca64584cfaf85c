//! Plays a [`Script`] in the lab: one peer process per endpoint, steps in
//! order, every reported call forwarded to the event sink.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command as Process, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use super::LabError;
use super::peer::{Command, Line, PARENT_PID_ENV};
use super::script::{Action, Endpoint, Script};
use crate::app::{CallEvent, Event, EventSink, Phase};
use crate::time::Timestamp;

/// How a demo runs.
pub struct LabOptions {
    pub ipv6: bool,
    /// The server's port (`server2` listens on port + 1 …).
    pub port: u16,
    /// When set, one `()` is awaited before each step (`--step`).
    pub step: Option<mpsc::Receiver<()>>,
    /// Set by Ctrl-C: the run stops between steps or while waiting.
    pub cancel: Arc<AtomicBool>,
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
    Done { peer: usize, id: u64 },
    Start { peer: usize },
    Exited { peer: usize },
}

struct PeerProc {
    endpoint: Endpoint,
    name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    alive: bool,
    outstanding: Vec<u64>,
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

/// Spawns the peers, runs every step in order, sends each call event (as
/// `Event::Call` with the endpoint's name) and any warnings into `sink`, and
/// returns when the script ends (after ~300 ms for the last packets). `sleep`,
/// `sysctl`, `link` and `kill` appear as calls of the endpoint `lab`.
///
/// A blocking call is left running ~200 ms after it reported `start`, then the
/// next step begins. With `opts.step`, waits for one `()` before each step.
/// `opts.cancel` stops the run between steps and while waiting.
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
        });
    }
    drop(msg_tx);
    let mut lab = Lab {
        peers,
        msgs: msg_rx,
        sink,
        cancel: opts.cancel,
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
    let mut stepper = opts.step;
    for step in &script.steps {
        if let Some(rx) = &stepper {
            match lab.wait_for_step(rx) {
                StepGate::Go => {}
                StepGate::Cancelled => return Ok(()),
                StepGate::Closed => stepper = None,
            }
        }
        if lab.cancelled() {
            return Ok(());
        }
        lab.step(step.line, &step.action);
    }
    lab.pause(SETTLE);
    // Killing the peers closes their sockets (FINs, RSTs): those packets come
    // after this mark and belong to no step.
    lab.lab_event(Timestamp::now(), "end", "", "ok");
    Ok(())
}

enum StepGate {
    Go,
    Cancelled,
    Closed,
}

fn warn(sink: &EventSink, message: String) {
    let _ = sink.send(Event::Warning {
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
        if let Some(id) = line.done {
            let _ = tx.send(Msg::Done { peer, id });
        }
        if let Some(message) = line.warning {
            warn(sink, message);
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
            let _ = sink.send(Event::Call(CallEvent {
                ts: Timestamp(line.ts_ns.unwrap_or_else(|| Timestamp::now().0)),
                endpoint,
                call,
                args: line.args.unwrap_or_default(),
                phase: start.then_some(Phase::Start),
                result: line.result.unwrap_or_default(),
                local: line.local.and_then(|l| l.parse().ok()),
            }));
        }
    }
    let _ = tx.send(Msg::Exited { peer });
}

struct Lab {
    peers: Peers,
    msgs: mpsc::Receiver<Msg>,
    sink: EventSink,
    cancel: Arc<AtomicBool>,
    next_id: u64,
}

impl Lab {
    fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::SeqCst)
    }

    fn lab_event(&self, ts: Timestamp, call: &str, args: &str, result: &str) {
        let _ = self.sink.send(Event::Call(CallEvent {
            ts,
            endpoint: "lab".into(),
            call: call.into(),
            args: args.into(),
            phase: None,
            result: result.into(),
            local: None,
        }));
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
        match *msg {
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
            Msg::Start { .. } => {}
        }
    }

    /// Sleeps, still reading messages and honoring cancel.
    fn pause(&mut self, d: Duration) {
        let until = Instant::now() + d;
        while !self.cancelled() {
            let now = Instant::now();
            if now >= until {
                break;
            }
            if let Ok(m) = self.msgs.recv_timeout((until - now).min(TICK)) {
                self.handle(&m);
            }
        }
    }

    fn wait_for_step(&mut self, rx: &mpsc::Receiver<()>) -> StepGate {
        loop {
            if self.cancelled() {
                return StepGate::Cancelled;
            }
            match rx.recv_timeout(TICK) {
                Ok(()) => return StepGate::Go,
                Err(mpsc::RecvTimeoutError::Disconnected) => return StepGate::Closed,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    while let Ok(m) = self.msgs.try_recv() {
                        self.handle(&m);
                    }
                }
            }
        }
    }

    /// Waits until `done(peer)` holds, a blocked call's grace ran out (when
    /// `blocking_ok`), `limit` passed (false), or cancel.
    fn wait_until(&mut self, peer: usize, id: Option<u64>, limit: Duration) -> bool {
        let mut deadline = Instant::now() + limit;
        let mut blocked = false;
        loop {
            let p = &self.peers.0[peer];
            let finished = match id {
                Some(id) => !p.outstanding.contains(&id),
                None => p.outstanding.is_empty(),
            };
            if finished || !p.alive || self.cancelled() {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return blocked;
            }
            match self.msgs.recv_timeout((deadline - now).min(TICK)) {
                Ok(Msg::Start { peer: from }) if from == peer && id.is_some() && !blocked => {
                    blocked = true;
                    deadline = Instant::now() + BLOCKED_GRACE;
                }
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
                self.peers.0[peer].outstanding.push(id);
                if !self.wait_until(peer, Some(id), STEP_LIMIT) {
                    self.warn(
                        line,
                        &format!("{endpoint} has not finished this step; going on"),
                    );
                }
            }
            Action::Kill(endpoint) => {
                let Some(peer) = self.index_of(*endpoint) else {
                    return;
                };
                let p = &mut self.peers.0[peer];
                // Stamped before the signal: the dying peer's kernel closes its
                // sockets at once, and those packets must come after the kill.
                let ts = Timestamp::now();
                let result = match p.child.kill() {
                    Ok(()) => "ok",
                    Err(_) => "ESRCH",
                };
                // Reaped at once: its sockets are closed by the kernel now.
                let _ = p.child.wait();
                p.alive = false;
                p.stdin = None;
                p.outstanding.clear();
                self.lab_event(ts, "kill", &endpoint.to_string(), result);
            }
            Action::Sleep(d) => {
                self.lab_event(Timestamp::now(), "sleep", &format_duration(*d), "ok");
                self.pause(*d);
            }
            Action::Sysctl { name, value } => {
                let ts = Timestamp::now();
                let result = match super::ns::set_sysctl(name, value) {
                    Ok(()) => "ok".to_owned(),
                    Err(e) => {
                        self.warn(line, &e.to_string());
                        "error".to_owned()
                    }
                };
                self.lab_event(ts, "sysctl", &format!("{name}={value}"), &result);
            }
            Action::Link { cut, only } => self.link(line, *cut, *only),
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

    /// Broadcasts the cut (or restore) and waits until every peer applied it,
    /// so the event's timestamp is when the link state really changed.
    fn link(&mut self, line: usize, cut: bool, only: Option<Endpoint>) {
        let targets: Vec<usize> = match only {
            Some(e) => self.index_of(e).into_iter().collect(),
            None => (0..self.peers.0.len()).collect(),
        };
        let mut sent = Vec::new();
        for peer in targets {
            self.next_id += 1;
            let id = self.next_id;
            if self.send(peer, &Command::Link { id, cut }) {
                self.peers.0[peer].outstanding.push(id);
                sent.push((peer, id));
            }
        }
        for (peer, id) in sent {
            if !self.wait_until(peer, Some(id), Duration::from_secs(1)) {
                let name = self.peers.0[peer].name.clone();
                self.warn(line, &format!("{name} did not confirm the link change"));
            }
        }
        let ts = Timestamp::now();
        let verb = if cut { "cut" } else { "restore" };
        let args = match only {
            Some(e) => format!("{verb} {e}"),
            None => verb.to_owned(),
        };
        self.lab_event(ts, "link", &args, "ok");
    }
}

fn format_duration(d: Duration) -> String {
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
