//! TCP states: synack's `state` events against the kernel's own word.
//!
//! - On real host traffic (`watch`, root): every transition a reference tracer
//!   of the test's own (a private tracefs instance reading
//!   `sock:inet_sock_set_state` as text) recorded appears among synack's
//!   kernel-sourced state events, and the TIME-WAIT sockets and timers agree
//!   with `ss`.
//! - In the lab (`demo`, root and rootless): the RFC 9293 paths of the close,
//!   abort, simultaneous-close, time-wait and backlog scenarios, one
//!   consistent timeline per socket.
//! - `read FILE`: states inferred from the packets only.
//!
//! Run by an ordinary user, these tests run as root of a private user and
//! network namespace (tests/common/userns.rs). The tests that compare with
//! the kernel's tracepoint need the host's root: they are in `exact.rs`,
//! built into `tests/host_root.rs`, which reports them as ignored elsewhere.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::*;

// ---------------------------------------------------------------------------
// What the tests need.

/// The test may run here (root, or root of the test namespace an
/// ordinary user's run enters); fails saying why otherwise.
pub fn require_kernel(test: &str) {
    require_capture(test);
}

/// Builds the command that runs `exe` with `args` as an unprivileged user.
pub(crate) type Runner = Box<dyn Fn(&Path, &str) -> std::process::Command>;

/// How a rootless run is started here: `su nobody` as root, directly otherwise.
/// Fails saying why when user namespaces are forbidden here.
pub(crate) fn rootless_runner(test: &str) -> Runner {
    let forbidden = |why: String| -> Runner {
        panic!("{test} cannot run: {why}. Allow unprivileged user namespaces.");
    };
    if std::fs::read_to_string("/proc/sys/kernel/apparmor_restrict_unprivileged_userns")
        .is_ok_and(|s| s.trim() == "1")
    {
        return forbidden(
            "kernel.apparmor_restrict_unprivileged_userns=1 denies every capability in an unprivileged user namespace".into(),
        );
    }
    let probe = "unshare --user --map-root-user --net true";
    let ok = if is_root() {
        require_tool("su");
        require_tool("unshare");
        std::process::Command::new("su")
            .args(["nobody", "-s", "/bin/sh", "-c", probe])
            .stdin(Stdio::null())
            .output()
    } else {
        std::process::Command::new("sh")
            .args(["-c", probe])
            .stdin(Stdio::null())
            .output()
    };
    match ok {
        Ok(o) if o.status.success() => {}
        Ok(o) => {
            return forbidden(format!(
                "an unprivileged user cannot create a user+net namespace (`{probe}`: {})",
                String::from_utf8_lossy(&o.stderr).trim()
            ));
        }
        Err(e) => return forbidden(format!("cannot run `{probe}`: {e}")),
    }
    if is_root() {
        Box::new(|exe: &Path, args: &str| {
            let mut c = std::process::Command::new("su");
            c.args([
                "nobody",
                "-s",
                "/bin/sh",
                "-c",
                &format!("{} {args}", exe.display()),
            ]);
            c
        })
    } else {
        Box::new(|exe: &Path, args: &str| {
            let mut c = std::process::Command::new(exe);
            c.args(args.split_whitespace());
            c
        })
    }
}

// ---------------------------------------------------------------------------
// State events.

/// One `state` event.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct St {
    pub(crate) t: f64,
    pub(crate) conn: Option<u64>,
    pub(crate) endpoint: String,
    pub(crate) local: String,
    pub(crate) remote: Option<String>,
    pub(crate) from: String,
    pub(crate) to: String,
    pub(crate) source: String,
    pub(crate) timer: Option<f64>,
}

impl St {
    fn socket(&self) -> (String, Option<String>) {
        (self.local.clone(), self.remote.clone())
    }
}

impl std::fmt::Display for St {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "t={:.6} {} {} -> {} {} → {} [{}]{}",
            self.t,
            self.endpoint,
            self.local,
            self.remote.as_deref().unwrap_or("-"),
            self.from,
            self.to,
            self.source,
            self.timer
                .map_or(String::new(), |t| format!(" timer={t:.3}"))
        )
    }
}

pub(crate) fn state_events(events: &[Value]) -> Vec<St> {
    kind(events, "state")
        .into_iter()
        .map(|e| {
            let s = |k: &str| {
                e[k].as_str()
                    .unwrap_or_else(|| panic!("state event without string `{k}`: {e}"))
                    .to_owned()
            };
            St {
                t: e["t"].as_f64().expect("t"),
                conn: e["conn"].as_u64(),
                endpoint: s("endpoint"),
                local: s("local"),
                remote: e["remote"].as_str().map(str::to_owned),
                from: e["from"].as_str().unwrap_or("(first seen)").to_owned(),
                to: s("to"),
                source: s("source"),
                timer: e["timer"].as_f64(),
            }
        })
        .collect()
}

pub(crate) fn dump(states: &[St]) -> String {
    states
        .iter()
        .map(|s| format!("  {s}\n"))
        .collect::<String>()
}

/// The events of one socket, in order.
pub(crate) fn of_socket<'a>(states: &'a [St], local: &str, remote: Option<&str>) -> Vec<&'a St> {
    states
        .iter()
        .filter(|s| s.local == local && s.remote.as_deref() == remote)
        .collect()
}

pub(crate) fn tos(states: &[&St]) -> Vec<String> {
    states.iter().map(|s| s.to.clone()).collect()
}

/// One consistent timeline per socket: each change's `from` is the previous
/// change's `to`, times never go back, and the socket keeps its endpoint name.
/// Returns the problems found.
pub(crate) fn timeline_problems(states: &[St]) -> Vec<String> {
    let mut by_socket: BTreeMap<(String, Option<String>), Vec<&St>> = BTreeMap::new();
    for s in states {
        by_socket.entry(s.socket()).or_default().push(s);
    }
    let mut problems = Vec::new();
    for ((local, remote), evs) in &by_socket {
        for w in evs.windows(2) {
            if w[1].from != w[0].to {
                problems.push(format!(
                    "socket {local} -> {}: `{}` follows `{}` (from {} but the previous change went to {})",
                    remote.as_deref().unwrap_or("-"),
                    w[1],
                    w[0],
                    w[1].from,
                    w[0].to
                ));
            }
            if w[1].t + 1e-9 < w[0].t {
                problems.push(format!(
                    "socket {local} -> {}: time goes back: `{}` after `{}`",
                    remote.as_deref().unwrap_or("-"),
                    w[1],
                    w[0]
                ));
            }
            if w[1].endpoint != w[0].endpoint {
                problems.push(format!(
                    "socket {local} -> {}: endpoint name changes from {} to {}: `{}` after `{}`",
                    remote.as_deref().unwrap_or("-"),
                    w[0].endpoint,
                    w[1].endpoint,
                    w[1],
                    w[0]
                ));
            }
        }
    }
    problems
}

/// State events for connections the lab never had: in a private namespace
/// every socket with a remote end exchanged packets, so its 4-tuple is among
/// the packet events.
pub(crate) fn foreign_sockets(events: &[Value], states: &[St]) -> Vec<String> {
    let tuples: BTreeSet<(String, String)> = kind(events, "packet")
        .iter()
        .flat_map(|p| {
            let a = p["src"].as_str().unwrap_or_default().to_owned();
            let b = p["dst"].as_str().unwrap_or_default().to_owned();
            [(a.clone(), b.clone()), (b, a)]
        })
        .collect();
    states
        .iter()
        .filter(|s| {
            s.remote
                .as_ref()
                .is_some_and(|r| !tuples.contains(&(s.local.clone(), r.clone())))
        })
        .map(|s| format!("  {s}"))
        .collect()
}

/// The local address a lab peer's `connect` call reported.
pub(crate) fn connect_local(events: &[Value], endpoint: &str) -> String {
    kind(events, "call")
        .into_iter()
        .find(|c| c["endpoint"] == endpoint && c["call"] == "connect" && c["result"] == "ok")
        .and_then(|c| c["local"].as_str().map(str::to_owned))
        .unwrap_or_else(|| {
            panic!(
                "no successful connect() call event with a `local` for {endpoint}; calls:\n{}",
                kind(events, "call")
                    .iter()
                    .map(|c| format!("  {c}\n"))
                    .collect::<String>()
            )
        })
}

// ---------------------------------------------------------------------------
// Running demos.

pub(crate) struct Demo {
    pub(crate) events: Vec<Value>,
    pub(crate) states: Vec<St>,
    pub(crate) stderr: String,
}

pub(crate) fn run_demo(mut cmd: std::process::Command, what: &str) -> Demo {
    let ran = run_ok(&mut cmd, what, Duration::from_secs(30));
    let events = json_lines(&ran.stdout);
    let states = state_events(&events);
    Demo {
        events,
        states,
        stderr: ran.stderr,
    }
}

pub(crate) fn demo_root(name: &str) -> Demo {
    let mut cmd = synack();
    cmd.args(["demo", name, "--json"]);
    run_demo(cmd, &format!("synack demo {name} --json"))
}

/// The client's and the server's connection sockets (client local, server
/// local), found from the client's connect() call.
pub(crate) fn conn_sockets(d: &Demo, client: &str) -> (String, String) {
    let cl = connect_local(&d.events, client);
    let server_local = d
        .states
        .iter()
        .find(|s| s.remote.as_deref() == Some(cl.as_str()))
        .map(|s| s.local.clone())
        .unwrap_or_else(|| {
            panic!(
                "no state event for the server side of {cl}; states:\n{}",
                dump(&d.states)
            )
        });
    (cl, server_local)
}

pub(crate) fn assert_timeline(d: &Demo, what: &str) {
    let mut p = timeline_problems(&d.states);
    // Every socket of a lab is born in it: its first change starts from
    // CLOSED (socket(), connect(), listen()) or, for an accepted
    // connection, from its listener's LISTEN.
    let mut seen = BTreeSet::new();
    for s in &d.states {
        if seen.insert(s.socket()) {
            let ok = s.from == "CLOSED" || (s.from == "LISTEN" && s.remote.is_some());
            if !ok {
                p.push(format!(
                    "socket {} -> {}: first seen as `{s}`, but a lab socket starts CLOSED (or LISTEN for an accepted one)",
                    s.local,
                    s.remote.as_deref().unwrap_or("-")
                ));
            }
        }
    }
    assert!(
        p.is_empty(),
        "{what}: inconsistent timelines:\n{}\nall states:\n{}",
        p.join("\n"),
        dump(&d.states)
    );
    let f = foreign_sockets(&d.events, &d.states);
    assert!(
        f.is_empty(),
        "{what}: state events for sockets the lab never had (no packet of theirs was captured; another namespace's connections leaking in?):\n{}\nall states:\n{}",
        f.join("\n"),
        dump(&d.states)
    );
}

pub(crate) fn assert_path(states: &[&St], want: &[&str], what: &str, all: &[St]) {
    let got = tos(states);
    assert_eq!(
        got,
        want,
        "{what}: the sequence of `to` states differs\nthis socket:\n{}\nall states:\n{}",
        states
            .iter()
            .map(|s| format!("  {s}\n"))
            .collect::<String>(),
        dump(all)
    );
}

pub(crate) fn assert_all_kernel(states: &[&St], what: &str, all: &[St]) {
    let bad: Vec<String> = states
        .iter()
        .filter(|s| s.source != "kernel")
        .map(|s| format!("  {s}"))
        .collect();
    assert!(
        bad.is_empty(),
        "{what}: as root (tracer running) every state should be source kernel; these are not:\n{}\nall states:\n{}",
        bad.join("\n"),
        dump(all)
    );
}

pub(crate) const CLIENT_CLOSE_PATH: [&str; 5] = [
    "SYN-SENT",
    "ESTABLISHED",
    "FIN-WAIT-1",
    "FIN-WAIT-2",
    "TIME-WAIT",
];
pub(crate) const SERVER_CLOSE_PATH: [&str; 5] = [
    "SYN-RECEIVED",
    "ESTABLISHED",
    "CLOSE-WAIT",
    "LAST-ACK",
    "CLOSED",
];

// ---------------------------------------------------------------------------
// 3. Scenario paths as root.

/// The aborting side (the client, SO_LINGER 0) ends CLOSED and never enters TIME-WAIT.
pub(crate) fn check_abort(d: &Demo, client: &[&St], root: bool) {
    let path = tos(client);
    assert!(
        path.iter().any(|s| s == "ESTABLISHED"),
        "abort: client never ESTABLISHED:\n{}",
        dump(&d.states)
    );
    assert_eq!(
        path.last().map(String::as_str),
        Some("CLOSED"),
        "abort: the aborting client should end CLOSED:\n{}",
        dump(&d.states)
    );
    assert!(
        !path
            .iter()
            .any(|s| s == "TIME-WAIT" || s.starts_with("FIN-WAIT")),
        "abort: the aborting client must never be in FIN-WAIT/TIME-WAIT (RST, no FIN):\n{}",
        dump(&d.states)
    );
    let closed = client.last().unwrap();
    if root {
        assert_eq!(
            closed.source, "kernel",
            "abort: as root the client's CLOSED should come from the kernel: {closed}"
        );
    }
}

/// Whether the two FINs crossed on the wire after the link came back: the
/// first segment each side got through is its FIN, acknowledging nothing of
/// the other's FIN (relative ack 1). Then each FIN reached a receiver still in
/// FIN-WAIT-1. (When one side's ACK overtakes its FIN on the other CPU's
/// backlog, the receiver's FIN is acknowledged first and it goes through
/// FIN-WAIT-2 instead: a real outcome, but not a crossing.)
pub(crate) fn fins_crossed(d: &Demo) -> bool {
    let delivered: Vec<&Value> = kind(&d.events, "packet")
        .into_iter()
        .filter(|p| {
            p["proto"] == "tcp"
                && !p["notes"]
                    .as_array()
                    .is_some_and(|n| n.contains(&Value::from("lost")))
        })
        .collect();
    ["client", "server"].iter().all(|who| {
        // The handshake's packets are delivered too: look after the last
        // delivered packet without a FIN that precedes the FINs.
        let first_fin = delivered.iter().position(|p| {
            p["from"] == *who
                && p["flags"]
                    .as_array()
                    .is_some_and(|f| f.contains(&Value::from("FIN")))
        });
        let Some(i) = first_fin else { return false };
        let fin = delivered[i];
        let acked_before = delivered[..i]
            .iter()
            .any(|p| p["from"] == *who && p["ack"].as_u64().is_some_and(|a| a >= 2));
        fin["ack"].as_u64() == Some(1) && !acked_before
    })
}

/// The crossing depends on both retransmission timers expiring in the same
/// kernel tick on the same CPU: the lab pins its peers to one CPU so that they
/// do, every run. A class needs it every time, so every run must cross: three
/// runs, each checked, the last returned.
pub(crate) fn fins_cross_every_run(mut run: impl FnMut() -> Demo) -> Demo {
    let mut last = None;
    for i in 1..=3 {
        let d = run();
        assert!(
            fins_crossed(&d),
            "simultaneous-close: in run {i} of 3 the FINs did not cross on the wire:\n{}",
            dump(&d.states)
        );
        last = Some(d);
    }
    last.expect("ran")
}

/// assets/scenarios/simultaneous-close.txt: client and server both shut down
/// writing while the link is cut; both must pass through CLOSING.
pub(crate) fn check_simultaneous(d: &Demo, root: bool) {
    let (cl, srv) = conn_sockets(d, "client");
    for (who, local, remote) in [("client", &cl, &srv), ("server", &srv, &cl)] {
        let evs = of_socket(&d.states, local, Some(remote));
        let closing = evs.iter().find(|s| s.to == "CLOSING");
        let Some(closing) = closing else {
            panic!(
                "simultaneous-close: the {who} ({local}) never went to CLOSING; its path: {:?}\nall states:\n{}",
                tos(&evs),
                dump(&d.states)
            );
        };
        assert_eq!(
            closing.from, "FIN-WAIT-1",
            "simultaneous-close: {who} CLOSING should follow FIN-WAIT-1: {closing}"
        );
        if root {
            assert_eq!(
                closing.source, "kernel",
                "simultaneous-close: as root the {who}'s CLOSING should come from the kernel: {closing}"
            );
        }
    }
}

#[test]
pub(crate) fn demo_time_wait_server_has_kernel_timer() {
    require_kernel("demo_time_wait_server_has_kernel_timer");
    let d = demo_root("time-wait");
    let (cl, srv) = conn_sockets(&d, "client");
    let server = of_socket(&d.states, &srv, Some(&cl));
    let tw = server
        .iter()
        .find(|s| s.to == "TIME-WAIT")
        .unwrap_or_else(|| {
            panic!(
                "time-wait: the server's connection {srv} -> {cl} never went to TIME-WAIT:\n{}",
                dump(&d.states)
            )
        });
    assert_eq!(
        tw.source, "kernel",
        "time-wait: the server's TIME-WAIT should come from the kernel: {tw}"
    );
    let timer = tw
        .timer
        .unwrap_or_else(|| panic!("time-wait: the server's TIME-WAIT has no timer: {tw}"));
    assert!(
        (timer - 60.0).abs() <= 1.0,
        "time-wait: timer {timer}, expected ≈ 60 s: {tw}"
    );
    assert_eq!(
        tw.endpoint,
        "server",
        "time-wait: the TIME-WAIT connection was accepted by `server` (server2 only binds the port later), yet it is shown as `{}`: {tw}\nall states:\n{}",
        tw.endpoint,
        dump(&d.states)
    );
    let client = of_socket(&d.states, &cl, Some(&srv));
    assert!(
        !tos(&client).iter().any(|s| s == "TIME-WAIT"),
        "time-wait: the client closed second and must not be in TIME-WAIT:\n{}",
        dump(&d.states)
    );
    assert_timeline(&d, "time-wait");
}

#[test]
pub(crate) fn demo_backlog_queue_full_and_overflows() {
    require_kernel("demo_backlog_queue_full_and_overflows");
    let d = demo_root("backlog");
    let queues = kind(&d.events, "queue");
    let num = |q: &Value, k: &str| {
        q[k].as_u64()
            .unwrap_or_else(|| panic!("queue event without numeric `{k}`: {q}"))
    };
    let listing = queues
        .iter()
        .map(|q| format!("  {q}\n"))
        .collect::<String>();
    assert!(
        queues.iter().any(|q| {
            let (a, b) = (num(q, "accept_queue"), num(q, "backlog"));
            b == 1 && (a == b + 1 || a >= b)
        }),
        "backlog: no queue event shows the full accept queue of the backlog-1 listener (accept_queue ≥ backlog); queue events:\n{listing}"
    );
    let overflows: Vec<u64> = queues.iter().map(|q| num(q, "overflows")).collect();
    assert!(
        overflows.windows(2).all(|w| w[0] <= w[1]),
        "backlog: the overflows counter went down: {overflows:?}\n{listing}"
    );
    assert!(
        overflows.len() >= 2 && overflows.last() > overflows.first(),
        "backlog: the overflows counter should rise across queue events (the third client's SYN and its retransmissions are dropped): {overflows:?}\n{listing}"
    );
    let repeated = repeated_queue_lines(&d.events);
    assert!(
        repeated.is_empty(),
        "backlog: queue lines repeating the listener's line before: {repeated:#?}\n{listing}"
    );
    assert_timeline(&d, "backlog");
}

// ---------------------------------------------------------------------------
// 4. Rootless.

pub(crate) fn demo_rootless(test: &str, name: &str) -> Demo {
    let runner = rootless_runner(test);
    let exe = private_synack(&format!("rootless-{name}"));
    let cmd = runner(&exe, &format!("demo {name} --json"));
    let d = run_demo(cmd, &format!("rootless synack demo {name} --json"));
    let warned = kind(&d.events, "warning").iter().any(|w| {
        let m = w["message"].as_str().unwrap_or_default().to_lowercase();
        m.contains("transitions") && m.contains("unavailable")
    });
    assert!(
        warned,
        "rootless {name}: expected a warning event saying exact state transitions are unavailable; warnings: {:?}\nstderr:\n{}",
        kind(&d.events, "warning"),
        d.stderr
    );
    let bad: Vec<String> = d
        .states
        .iter()
        .filter(|s| s.source != "kernel" && s.source != "inferred")
        .map(|s| format!("  {s}"))
        .collect();
    assert!(
        bad.is_empty(),
        "rootless {name}: bad sources:\n{}",
        bad.join("\n")
    );
    d
}

/// States a poll cannot catch must be marked inferred: SYN-SENT and LAST-ACK
/// last microseconds on loopback, and so does any state left within 0.2 ms.
pub(crate) fn assert_short_inferred(evs: &[&St], what: &str, all: &[St]) {
    for (i, s) in evs.iter().enumerate() {
        let lasted = evs.get(i + 1).map(|n| n.t - s.t);
        let short =
            matches!(s.to.as_str(), "SYN-SENT" | "LAST-ACK") || lasted.is_some_and(|d| d < 0.0002);
        assert!(
            !short || s.source == "inferred",
            "{what}: `{s}` lasted {lasted:?} s, shorter than any sock_diag poll could see, yet is not marked inferred\nall states:\n{}",
            dump(all)
        );
    }
}

#[test]
pub(crate) fn rootless_close_paths() {
    let d = demo_rootless("rootless_close_paths", "close");
    let (cl, srv) = conn_sockets(&d, "client");
    let client = of_socket(&d.states, &cl, Some(&srv));
    assert_path(
        &client,
        &CLIENT_CLOSE_PATH,
        "rootless close: client",
        &d.states,
    );
    assert_short_inferred(&client, "rootless close: client", &d.states);
    let server = of_socket(&d.states, &srv, Some(&cl));
    assert_path(
        &server,
        &SERVER_CLOSE_PATH,
        "rootless close: server",
        &d.states,
    );
    assert_short_inferred(&server, "rootless close: server", &d.states);
    // FIN-WAIT-1 is one of the short ones the issue names; say so when polls caught it.
    let fw1 = client.iter().find(|s| s.to == "FIN-WAIT-1").unwrap();
    if fw1.source != "inferred" {
        eprintln!("note: rootless close: a poll caught the client's FIN-WAIT-1: {fw1}");
    }
    assert!(
        of_socket(&d.states, &srv, None)
            .first()
            .is_some_and(|s| s.to == "LISTEN"),
        "rootless close: no listener LISTEN:\n{}",
        dump(&d.states)
    );
    let p = timeline_problems(&d.states);
    assert!(p.is_empty(), "rootless close: {}", p.join("\n"));
}

#[test]
pub(crate) fn rootless_simultaneous_close() {
    let d = fins_cross_every_run(|| {
        let d = demo_rootless("rootless_simultaneous_close", "simultaneous-close");
        check_simultaneous(&d, false);
        d
    });
    let p = timeline_problems(&d.states);
    assert!(
        p.is_empty(),
        "rootless simultaneous-close: {}",
        p.join("\n")
    );
}

#[test]
pub(crate) fn rootless_abort() {
    let d = demo_rootless("rootless_abort", "abort");
    let (cl, srv) = conn_sockets(&d, "client");
    let client = of_socket(&d.states, &cl, Some(&srv));
    check_abort(&d, &client, false);
    let p = timeline_problems(&d.states);
    assert!(p.is_empty(), "rootless abort: {}", p.join("\n"));
}

// ---------------------------------------------------------------------------
// 1, 2, 5. Host traffic under `watch`, with a reference tracer and `ss`.

pub(crate) const TRACEFS: &str = "/sys/kernel/tracing";

/// A private tracefs instance recording inet_sock_set_state for one port.
/// Dropping it disables the event and removes the instance, even on failure.
pub(crate) struct RefTracer {
    pub(crate) dir: PathBuf,
}

impl RefTracer {
    fn start(port: u16) -> Self {
        let root = Path::new(TRACEFS);
        if !root.join("instances").exists() {
            let st = std::process::Command::new("mount")
                .args(["-t", "tracefs", "nodev", TRACEFS])
                .status();
            assert!(
                root.join("instances").exists(),
                "tracefs is not available at {TRACEFS} (mount: {st:?})"
            );
        }
        let dir = root
            .join("instances")
            .join(format!("synack-test-{}", std::process::id()));
        if dir.exists() {
            let _ = std::fs::remove_dir(&dir);
        }
        std::fs::create_dir(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
        let me = Self { dir };
        let ev = me.event_dir();
        std::fs::write(
            ev.join("filter"),
            format!("sport == {port} || dport == {port}"),
        )
        .expect("set the tracepoint filter");
        std::fs::write(ev.join("enable"), "1").expect("enable the tracepoint");
        me
    }

    fn event_dir(&self) -> PathBuf {
        self.dir.join("events/sock/inet_sock_set_state")
    }

    /// Stops recording and returns the trace text.
    fn finish(&self) -> String {
        let _ = std::fs::write(self.event_dir().join("enable"), "0");
        std::fs::read_to_string(self.dir.join("trace")).expect("read the instance's trace")
    }
}

impl Drop for RefTracer {
    fn drop(&mut self) {
        let _ = std::fs::write(self.event_dir().join("enable"), "0");
        for _ in 0..50 {
            if std::fs::remove_dir(&self.dir).is_ok() || !self.dir.exists() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        eprintln!("warning: could not remove {}", self.dir.display());
    }
}

/// Kills a child on drop (a failed test leaves no synack behind).
pub(crate) struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// One line of the reference trace, ports resolved.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RefT {
    pub(crate) local: String,
    pub(crate) remote: Option<String>,
    pub(crate) old: String,
    pub(crate) new: String,
    pub(crate) line: String,
}

pub(crate) fn contract_state(linux: &str) -> String {
    match linux {
        "TCP_ESTABLISHED" => "ESTABLISHED",
        "TCP_SYN_SENT" => "SYN-SENT",
        "TCP_SYN_RECV" | "TCP_NEW_SYN_RECV" => "SYN-RECEIVED",
        "TCP_FIN_WAIT1" => "FIN-WAIT-1",
        "TCP_FIN_WAIT2" => "FIN-WAIT-2",
        "TCP_TIME_WAIT" => "TIME-WAIT",
        "TCP_CLOSE" => "CLOSED",
        "TCP_CLOSE_WAIT" => "CLOSE-WAIT",
        "TCP_LAST_ACK" => "LAST-ACK",
        "TCP_LISTEN" => "LISTEN",
        "TCP_CLOSING" => "CLOSING",
        other => panic!("unknown Linux TCP state {other}"),
    }
    .to_owned()
}

pub(crate) fn fmt_addr(family: &str, v4: &str, v6: &str, port: &str) -> String {
    if family == "AF_INET6" {
        format!("[{v6}]:{port}")
    } else {
        format!("{v4}:{port}")
    }
}

/// Parses the instance's `trace` text (TCP records only) and gives connect()'s
/// port-0 SYN-SENT its port: the next SYN-SENT → … record of the same
/// local address towards the same remote (the test connects one at a time).
pub(crate) fn parse_trace(text: &str) -> Vec<RefT> {
    struct Raw {
        family: String,
        sport: String,
        dport: String,
        saddr: String,
        daddr: String,
        saddr6: String,
        daddr6: String,
        old: String,
        new: String,
        line: String,
    }
    let mut raw = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        let Some((_, rest)) = line.split_once("inet_sock_set_state:") else {
            continue;
        };
        let kv: BTreeMap<&str, &str> = rest
            .split_whitespace()
            .filter_map(|w| w.split_once('='))
            .collect();
        if kv.get("protocol") != Some(&"IPPROTO_TCP") {
            continue;
        }
        let g = |k: &str| {
            kv.get(k)
                .unwrap_or_else(|| panic!("trace line without {k}: {line}"))
                .to_string()
        };
        raw.push(Raw {
            family: g("family"),
            sport: g("sport"),
            dport: g("dport"),
            saddr: g("saddr"),
            daddr: g("daddr"),
            saddr6: g("saddrv6"),
            daddr6: g("daddrv6"),
            old: g("oldstate"),
            new: g("newstate"),
            line: line.trim().to_owned(),
        });
    }
    let mut out = Vec::new();
    for (i, r) in raw.iter().enumerate() {
        let mut sport = r.sport.clone();
        if sport == "0" {
            let next = raw[i + 1..].iter().find(|n| {
                n.old == "TCP_SYN_SENT"
                    && n.sport != "0"
                    && n.family == r.family
                    && n.dport == r.dport
                    && n.daddr == r.daddr
                    && n.daddr6 == r.daddr6
                    && n.saddr == r.saddr
                    && n.saddr6 == r.saddr6
            });
            match next {
                Some(n) => sport = n.sport.clone(),
                None => panic!(
                    "reference trace: cannot find the port of this connect(): {}\ntrace:\n{text}",
                    r.line
                ),
            }
        }
        let remote = if r.dport == "0" {
            None
        } else {
            Some(fmt_addr(&r.family, &r.daddr, &r.daddr6, &r.dport))
        };
        out.push(RefT {
            local: fmt_addr(&r.family, &r.saddr, &r.saddr6, &sport),
            remote,
            old: contract_state(&r.old),
            new: contract_state(&r.new),
            line: r.line.clone(),
        });
    }
    out
}

/// One TIME-WAIT socket as `ss` shows it.
#[derive(Debug, Clone)]
pub(crate) struct SsTw {
    pub(crate) local: String,
    pub(crate) remote: String,
    /// The timer, as an interval: ss prints it truncated to its precision.
    pub(crate) lo: f64,
    pub(crate) hi: f64,
    pub(crate) line: String,
}

/// `59sec`, `1min`, `9.123ms`, `123ms`, `1min5sec` → (low, high) seconds.
pub(crate) fn parse_ss_time(s: &str) -> (f64, f64) {
    let mut rest = s;
    let mut total = 0.0;
    let mut precision = 0.001;
    let take_num = |r: &str| -> (f64, usize) {
        let n = r.chars().take_while(char::is_ascii_digit).count();
        (r[..n].parse::<f64>().unwrap_or(0.0), n)
    };
    let (n, len) = take_num(rest);
    if rest[len..].starts_with("min") {
        total += n * 60.0;
        precision = if n > 9.0 { 60.0 } else { 1.0 };
        rest = &rest[len + 3..];
    }
    let (n, len) = take_num(rest);
    if len > 0 && rest[len..].starts_with("sec") {
        total += n;
        precision = 1.0;
        rest = &rest[len + 3..];
    } else if len > 0 && rest[len..].starts_with('.') {
        total += n;
        precision = 0.001;
        rest = &rest[len + 1..];
    }
    let (n, len) = take_num(rest);
    if len > 0 && rest[len..].starts_with("ms") {
        total += n / 1000.0;
        precision = 0.001;
    }
    (total, total + precision)
}

pub(crate) fn ss_time_wait(port: u16) -> (Vec<SsTw>, String) {
    let out = std::process::Command::new("ss")
        .args(["-tanoH", "state", "time-wait"])
        .arg(format!("( sport = :{port} or dport = :{port} )"))
        .output()
        .expect("run ss");
    assert!(
        out.status.success(),
        "ss failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut v = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let addrs: Vec<&str> = line
            .split_whitespace()
            .filter(|w| w.parse::<SocketAddr>().is_ok())
            .collect();
        assert_eq!(addrs.len(), 2, "unexpected ss line: {line}");
        let timer = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("timer:("))
            .unwrap_or_else(|| panic!("ss line without a timer: {line}"));
        let mut f = timer.trim_end_matches(')').split(',');
        assert_eq!(f.next(), Some("timewait"), "unexpected ss timer: {line}");
        let (lo, hi) = parse_ss_time(f.next().unwrap_or_default());
        v.push(SsTw {
            local: addrs[0].to_owned(),
            remote: addrs[1].to_owned(),
            lo,
            hi,
            line: line.trim().to_owned(),
        });
    }
    (v, text)
}

/// What one `watch` run over the test's own traffic left to compare.
pub(crate) struct HostRun {
    pub(crate) port: u16,
    pub(crate) events: Vec<Value>,
    pub(crate) states: Vec<St>,
    pub(crate) stderr: String,
    pub(crate) reference: Vec<RefT>,
    pub(crate) trace_text: String,
    pub(crate) ss: Vec<SsTw>,
    pub(crate) ss_text: String,
    /// Seconds from just before the first connect() to the ss call.
    pub(crate) ss_after_anchor: f64,
    /// Uncertainty of the anchor (how long that connect() took).
    pub(crate) anchor_slack: f64,
    pub(crate) anchor_local: String,
    pub(crate) pcap: PathBuf,
    /// The sockets that closed first (client of #1, server of #2) by construction.
    pub(crate) closed_first: Vec<(String, String)>,
}

/// Four conversations on 127.0.0.1:`port`, one at a time: the client closes
/// first, the server closes first, the client aborts (SO_LINGER 0), the
/// server aborts. Returns (instant before the first connect, that connect's
/// duration, its local address, the sockets that closed first).
pub(crate) fn host_traffic(port: u16) -> (Instant, f64, String, Vec<(String, String)>) {
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let listener = TcpListener::bind(addr).expect("bind the test listener");
    let mut buf = [0u8; 64];
    let mut closed_first = Vec::new();

    // 1. client closes first: the client ends in TIME-WAIT.
    let anchor = Instant::now();
    let mut c = TcpStream::connect(addr).expect("connect #1");
    let slack = anchor.elapsed().as_secs_f64();
    let anchor_local = c.local_addr().unwrap().to_string();
    let (mut s, _) = listener.accept().unwrap();
    c.write_all(b"hello").unwrap();
    let n = s.read(&mut buf).unwrap();
    s.write_all(&buf[..n]).unwrap();
    c.read_exact(&mut buf[..n]).unwrap();
    closed_first.push((anchor_local.clone(), addr.to_string()));
    drop(c);
    assert_eq!(
        s.read(&mut buf).unwrap(),
        0,
        "#1: the server should read EOF"
    );
    std::thread::sleep(Duration::from_millis(30));
    drop(s);
    std::thread::sleep(Duration::from_millis(30));

    // 2. server closes first: the server's socket ends in TIME-WAIT.
    let mut c = TcpStream::connect(addr).expect("connect #2");
    let (s, peer) = listener.accept().unwrap();
    closed_first.push((addr.to_string(), peer.to_string()));
    drop(s);
    assert_eq!(
        c.read(&mut buf).unwrap(),
        0,
        "#2: the client should read EOF"
    );
    std::thread::sleep(Duration::from_millis(30));
    c.shutdown(Shutdown::Both).ok();
    drop(c);
    std::thread::sleep(Duration::from_millis(30));

    // 3. the client aborts: SO_LINGER {on, 0} makes close() send RST.
    let c = TcpStream::connect(addr).expect("connect #3");
    let (mut s, _) = listener.accept().unwrap();
    (&c).write_all(b"bye").unwrap();
    let _ = s.read(&mut buf);
    socket2::SockRef::from(&c)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(c);
    let r = s.read(&mut buf);
    assert!(
        r.as_ref()
            .is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionReset),
        "#3: the server should read ECONNRESET, got {r:?}"
    );
    drop(s);
    std::thread::sleep(Duration::from_millis(30));

    // 4. the server aborts.
    let mut c = TcpStream::connect(addr).expect("connect #4");
    let (s, _) = listener.accept().unwrap();
    socket2::SockRef::from(&s)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(s);
    let r = c.read(&mut buf);
    assert!(
        r.as_ref()
            .is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionReset),
        "#4: the client should read ECONNRESET, got {r:?}"
    );
    drop(c);
    std::thread::sleep(Duration::from_millis(30));
    drop(listener);
    (anchor, slack, anchor_local, closed_first)
}

/// A port free on 127.0.0.1 with no socket of any state on it (no TIME-WAIT
/// left from an earlier run).
pub(crate) fn quiet_port() -> u16 {
    for _ in 0..50 {
        let p = free_port();
        let out = std::process::Command::new("ss")
            .args(["-tanH"])
            .arg(format!("( sport = :{p} or dport = :{p} )"))
            .output()
            .expect("run ss");
        if String::from_utf8_lossy(&out.stdout).trim().is_empty() {
            return p;
        }
    }
    panic!("no quiet port found");
}

pub(crate) fn host_run_inner() -> HostRun {
    require_tool("ss");
    let port = quiet_port();
    let dir = scratch("states-watch");
    let pcap = dir.join("watch.pcap");
    // The reference tracer first: it sees everything synack could. Only the
    // host's root can read it; the tests that compare with it need that.
    let tracer = host_root().then(|| RefTracer::start(port));
    let mut child = synack()
        .args(["watch", "--json", "--port", &port.to_string(), "--write"])
        .arg(&pcap)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start synack watch");
    let err = wait_stderr(&mut child, "capturing on", Duration::from_secs(10));
    let stdout = child.stdout.take().unwrap();
    let mut child = KillOnDrop(child);
    let out = std::thread::spawn(move || read_all(stdout));

    let (anchor, anchor_slack, anchor_local, closed_first) = host_traffic(port);
    // A TIME-WAIT socket is in the kernel's word only once a walk of the
    // socket table has shown it, and walks are paced by what they cost: on
    // the host's table (every bucket of it is walked, a few ms here) they
    // come up to POLL_MAX apart. A user watching sees TIME-WAIT then; the
    // test waits as long before it stops synack.
    std::thread::sleep(synack::kernel::poll::POLL_MAX + Duration::from_millis(500));
    let before = Instant::now();
    let (ss, ss_text) = ss_time_wait(port);
    let ss_at = before + before.elapsed() / 2;
    let ss_after_anchor = ss_at.duration_since(anchor).as_secs_f64();

    interrupt(&child.0);
    let st = wait_timeout(&mut child.0, Duration::from_secs(10));
    let stderr = err.join().unwrap_or_default();
    let stdout = out.join().unwrap_or_default();
    assert!(
        st.success(),
        "synack watch exited with {st}\nstderr:\n{stderr}\nstdout:\n{stdout}"
    );
    let trace_text = tracer.map(|t| t.finish()).unwrap_or_default();
    let reference = parse_trace(&trace_text);
    let events = json_lines(&stdout);
    let states = state_events(&events);
    HostRun {
        port,
        events,
        states,
        stderr,
        reference,
        trace_text,
        ss,
        ss_text,
        ss_after_anchor,
        anchor_slack,
        anchor_local,
        pcap,
        closed_first,
    }
}

/// The watch run, shared by the tests that read it (run once).
pub(crate) fn host_run() -> &'static HostRun {
    static RUN: OnceLock<Result<HostRun, String>> = OnceLock::new();
    let r = RUN.get_or_init(|| {
        std::panic::catch_unwind(host_run_inner).map_err(|e| {
            e.downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_else(|| "panic".into())
        })
    });
    match r {
        Ok(run) => run,
        Err(e) => panic!("the shared watch run failed: {e}"),
    }
}

/// The reference transitions with the TIME-WAIT hand-over restored: a
/// FIN-WAIT-1/FIN-WAIT-2/CLOSING → CLOSE of a socket ss shows in TIME-WAIT
/// is → TIME-WAIT.
pub(crate) fn reference_expected(run: &HostRun) -> Vec<RefT> {
    let tw: BTreeSet<(String, String)> = run
        .ss
        .iter()
        .map(|s| (s.local.clone(), s.remote.clone()))
        .collect();
    run.reference
        .iter()
        .cloned()
        .map(|mut r| {
            if r.new == "CLOSED"
                && matches!(r.old.as_str(), "FIN-WAIT-1" | "FIN-WAIT-2" | "CLOSING")
                && r.remote
                    .as_ref()
                    .is_some_and(|rem| tw.contains(&(r.local.clone(), rem.clone())))
            {
                r.new = "TIME-WAIT".into();
            }
            r
        })
        .collect()
}

#[test]
pub(crate) fn watch_time_wait_matches_ss() {
    require_kernel("watch_time_wait_matches_ss");
    let run = host_run();
    let ours: Vec<&St> = run
        .states
        .iter()
        .filter(|s| s.to == "TIME-WAIT" && s.source == "kernel")
        .collect();
    let our_set: BTreeSet<(String, String)> = ours
        .iter()
        .map(|s| (s.local.clone(), s.remote.clone().unwrap_or_default()))
        .collect();
    let ss_set: BTreeSet<(String, String)> = run
        .ss
        .iter()
        .map(|s| (s.local.clone(), s.remote.clone()))
        .collect();
    let built: BTreeSet<(String, String)> = run.closed_first.iter().cloned().collect();
    assert_eq!(
        ss_set, built,
        "ss should list exactly the two sockets that closed first (the test's own check):\n{}",
        run.ss_text
    );
    assert_eq!(
        our_set,
        ss_set,
        "TIME-WAIT sockets: synack (kernel) vs ss differ\nsynack:\n{}\nss:\n{}",
        ours.iter().map(|s| format!("  {s}\n")).collect::<String>(),
        run.ss_text
    );
    // Wall time of synack's t = 0: the first connect()'s SYN-SENT happened
    // during that connect (anchor .. anchor + slack).
    let syn = run
        .states
        .iter()
        .find(|s| s.local == run.anchor_local && s.to == "SYN-SENT")
        .unwrap_or_else(|| {
            panic!(
                "no SYN-SENT event for the first connection {}:\n{}",
                run.anchor_local,
                dump(&run.states)
            )
        });
    for s in &ours {
        let timer = s
            .timer
            .unwrap_or_else(|| panic!("synack's TIME-WAIT has no timer: {s}"));
        let ss = run
            .ss
            .iter()
            .find(|x| x.local == s.local && Some(&x.remote) == s.remote.as_ref())
            .unwrap();
        // Seconds from this event to the ss call.
        let elapsed = run.ss_after_anchor - (s.t - syn.t);
        let predicted = timer - elapsed;
        let slack = run.anchor_slack;
        assert!(
            predicted >= ss.lo - 1.0 - slack && predicted <= ss.hi + 1.0 + slack,
            "TIME-WAIT timer of {} -> {}: synack said {timer:.3} s at t={:.6}; {elapsed:.3} s later ss said {} (i.e. {:.3}..{:.3} s), synack predicts {predicted:.3} s — more than 1 s apart",
            s.local,
            s.remote.as_deref().unwrap_or("-"),
            s.t,
            ss.line,
            ss.lo,
            ss.hi
        );
    }
}

#[test]
pub(crate) fn read_of_capture_infers_states_only() {
    require_kernel("read_of_capture_infers_states_only");
    let run = host_run();
    let mut cmd = synack();
    cmd.args(["read", "--json"]).arg(&run.pcap);
    let ran = run_timeout(&mut cmd, Duration::from_secs(20));
    assert!(
        ran.status.success(),
        "synack read failed ({}):\n{}",
        ran.status,
        ran.stderr
    );
    let events = json_lines(&ran.stdout);
    let states = state_events(&events);
    assert!(
        !states.is_empty(),
        "synack read {} printed no state events:\n{}",
        run.pcap.display(),
        ran.stdout
    );
    let not_inferred: Vec<String> = states
        .iter()
        .filter(|s| s.source != "inferred")
        .map(|s| format!("  {s}"))
        .collect();
    assert!(
        not_inferred.is_empty(),
        "read of a file has no kernel to ask, yet these states are not `inferred`:\n{}",
        not_inferred.join("\n")
    );
    assert!(
        states.iter().all(|s| s.timer.is_none()),
        "read: a kernel timer cannot be known from a file:\n{}",
        dump(&states)
    );
    // The side that closed first sits in TIME-WAIT; the other one does not.
    let tw: BTreeSet<(String, String)> = states
        .iter()
        .filter(|s| s.to == "TIME-WAIT")
        .map(|s| (s.local.clone(), s.remote.clone().unwrap_or_default()))
        .collect();
    let built: BTreeSet<(String, String)> = run.closed_first.iter().cloned().collect();
    assert_eq!(
        tw,
        built,
        "read: TIME-WAIT should be inferred for exactly the sides that closed first\nstates:\n{}",
        dump(&states)
    );
    // Both handshakes' states and the RSTs' CLOSED are there too.
    for want in ["SYN-SENT", "SYN-RECEIVED", "ESTABLISHED", "CLOSED"] {
        assert!(
            states.iter().any(|s| s.to == want),
            "read: no inferred {want}:\n{}",
            dump(&states)
        );
    }
    let p = timeline_problems(&states);
    assert!(
        p.is_empty(),
        "read: inconsistent timelines:\n{}",
        p.join("\n")
    );
}

#[test]
pub(crate) fn ss_time_parser() {
    assert_eq!(parse_ss_time("59sec"), (59.0, 60.0));
    assert_eq!(parse_ss_time("1min"), (60.0, 61.0));
    let (lo, hi) = parse_ss_time("9.123ms");
    assert!((lo - 9.123).abs() < 1e-9 && (hi - 9.124).abs() < 1e-9);
    let (lo, _) = parse_ss_time("123ms");
    assert!((lo - 0.123).abs() < 1e-9);
}
