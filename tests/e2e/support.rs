//! Helpers shared by the end-to-end tests.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

pub fn synack() -> Command {
    Command::new(env!("CARGO_BIN_EXE_synack"))
}

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Capture works here: root, or the root of the private namespace an
/// ordinary user's test run enters (tests/common/userns.rs). Fails saying
/// why otherwise: a test that cannot run is a failure, never a pass.
pub fn require_capture(test: &str) {
    if is_root() {
        return;
    }
    panic!(
        "{test} cannot run: it needs CAP_NET_RAW to capture on lo. Run as root, or as a user \
         who may create user namespaces (the test binary then runs in a private one)."
    );
}

/// True for the host's root (not the test namespace's): the kernel
/// tracepoint is readable.
pub fn host_root() -> bool {
    crate::userns::place() == crate::userns::Where::HostRoot
}

/// Fails loudly when a tool the test compares against is missing.
pub fn require_tool(tool: &str) {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "{tool} is not installed: the CI script installs it (apt-get install {tool})"
    );
}

/// Removes the scratch directories of test runs that are over (their
/// process is gone): each holds captures and copies of the binary, tens of
/// megabytes, and a machine that runs the suite often would fill up.
fn sweep_old_scratch() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
            return;
        };
        for e in entries.flatten() {
            let name = e.file_name();
            let Some(rest) = name.to_str().and_then(|n| n.strip_prefix("synack-test-")) else {
                continue;
            };
            let pid = rest.split('-').next().unwrap_or_default();
            if pid.parse::<u32>().is_ok() && !Path::new("/proc").join(pid).exists() {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    });
}

/// A scratch directory in the temporary directory, unique per test; those
/// of finished runs are removed by the next run.
pub fn scratch(name: &str) -> PathBuf {
    sweep_old_scratch();
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "synack-test-{}-{}-{name}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

/// A free TCP port on both 127.0.0.1 and ::1 (checked by binding both).
pub fn free_port() -> u16 {
    for _ in 0..100 {
        let l4 = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = l4.local_addr().unwrap().port();
        if std::net::TcpListener::bind(("::1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port on 127.0.0.1 and ::1");
}

/// Reads a child's stderr until a line contains `needle` (or the timeout);
/// the rest of stderr keeps being collected in the background.
pub fn wait_stderr(
    child: &mut Child,
    needle: &str,
    timeout: Duration,
) -> std::thread::JoinHandle<String> {
    let stderr = child.stderr.take().expect("stderr piped");
    let (tx, rx) = std::sync::mpsc::channel();
    let wanted = needle.to_owned();
    let h = std::thread::spawn(move || {
        let mut r = BufReader::new(stderr);
        let mut all = String::new();
        let mut line = String::new();
        let mut sent = false;
        while r.read_line(&mut line).unwrap_or(0) > 0 {
            if !sent && line.contains(&wanted) {
                let _ = tx.send(());
                sent = true;
            }
            all.push_str(&line);
            line.clear();
        }
        all
    });
    if rx.recv_timeout(timeout).is_err() {
        let _ = child.kill();
        let out = h.join().unwrap_or_default();
        panic!("timed out waiting for `{needle}` on stderr; stderr was:\n{out}");
    }
    h
}

/// Sends SIGINT (what Ctrl-C sends) to a child.
pub fn interrupt(child: &Child) {
    // SAFETY: kill with a pid we own and a valid signal number.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
}

/// Waits for a child with a timeout; kills it and panics on timeout.
pub fn wait_timeout(child: &mut Child, timeout: Duration) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(st) = child.try_wait().expect("wait") {
            return st;
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            panic!("process did not exit within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn read_all(mut r: impl Read) -> String {
    let mut s = String::new();
    let _ = r.read_to_string(&mut s);
    s
}

/// Parses JSON lines, failing with the offending line. Every run's output
/// read this way is held to the rules synack promises (one RFC 9293 path
/// per socket, TIME-WAIT after the peer's FIN, the kernel's timers, time
/// order: `synack::model::rules`), whatever the test then checks.
///
/// One known gap, said on stderr and not hidden: once synack says it fell
/// behind and skipped packets (a debug build under a flood), a socket on
/// addresses a new connection reused can still show a path that breaks
/// rule 1 (the model forgot the old connection, or took the new one's
/// birth for the old socket's news). Those rule-1 lines after the first
/// skip are listed, not failed; everything before it, and every other rule
/// after it, must hold.
pub fn json_lines(text: &str) -> Vec<Value> {
    let events: Vec<Value> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let skipped_at = events.iter().position(|e| {
        e["kind"] == "warning"
            && e["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("synack fell behind and skipped"))
    });
    let (broken, after_skip): (Vec<String>, Vec<String>) =
        rules_broken(&events).into_iter().partition(|b| {
            let line = b
                .split_once(": line ")
                .and_then(|(_, rest)| rest.split_whitespace().next())
                .and_then(|n| n.parse::<usize>().ok());
            !(b.starts_with("rule 1")
                && skipped_at.zip(line).is_some_and(|(at, line)| line > at + 1))
        });
    if !after_skip.is_empty() {
        eprintln!(
            "KNOWN GAP: {} rule-1 line(s) after synack skipped packets:\n{}",
            after_skip.len(),
            after_skip.join("\n")
        );
    }
    assert!(
        broken.is_empty(),
        "the output breaks synack's rules:\n{}\n--- output:\n{text}",
        broken.join("\n")
    );
    events
}

/// The rules of `synack::model::rules` that `--json` output breaks.
pub fn rules_broken(events: &[Value]) -> Vec<String> {
    use synack::model::rules::{Line, violations};
    use synack::tcp::TcpState;
    let state = |v: &Value| -> Option<TcpState> {
        let name = v.as_str()?;
        TcpState::ALL.into_iter().find(|s| s.as_str() == name)
    };
    let addr = |v: &Value| v.as_str().and_then(|s| s.parse().ok());
    let lines: Vec<Line> = events
        .iter()
        .map(|e| {
            let t = e["t"].as_f64().unwrap_or_default();
            match e["kind"].as_str() {
                Some("packet") if e["proto"] == "tcp" => Line::Packet {
                    t,
                    src: addr(&e["src"]).expect("packet src"),
                    dst: addr(&e["dst"]).expect("packet dst"),
                    fin: e["flags"]
                        .as_array()
                        .is_some_and(|f| f.iter().any(|x| x == "FIN")),
                    rst: e["flags"]
                        .as_array()
                        .is_some_and(|f| f.iter().any(|x| x == "RST")),
                    reason: e.get("rst_reason").is_some(),
                    occupies: e["len"].as_u64().is_some_and(|l| l > 0)
                        || e["flags"]
                            .as_array()
                            .is_some_and(|f| f.iter().any(|x| x == "SYN" || x == "FIN")),
                    resent: e.get("retransmit").is_some(),
                },
                Some("state") => Line::State {
                    t,
                    local: addr(&e["local"]).expect("state local"),
                    remote: addr(&e["remote"]),
                    from: state(&e["from"]),
                    to: state(&e["to"]).expect("state to"),
                    kernel: e["source"] == "kernel",
                    noted: e["note"].is_string(),
                    timer: e["timer"].as_f64(),
                    endpoint: e["endpoint"].as_str().unwrap_or_default().to_owned(),
                },
                Some("state_check") => Line::Check {
                    t,
                    local: addr(&e["local"]).expect("check local"),
                    remote: addr(&e["remote"]),
                    shown: state(&e["state"]).expect("check state"),
                    kernel: state(&e["actual"]).expect("check actual"),
                    timer: e["timer"].as_f64(),
                },
                _ => Line::Other { t },
            }
        })
        .collect();
    violations(&lines)
}

pub fn kind<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["kind"] == kind).collect()
}

/// `queue` lines that say word for word what the same listener's previous
/// `queue` line said, with no state change of that listener between them.
pub fn repeated_queue_lines(events: &[Value]) -> Vec<String> {
    let mut last: std::collections::HashMap<String, Value> = std::collections::HashMap::new();
    let mut repeated = Vec::new();
    for e in events {
        let local = e["local"].as_str().unwrap_or_default().to_owned();
        if e["kind"] == "state" && e["remote"].is_null() {
            last.remove(&local);
        } else if e["kind"] == "queue" {
            let mut content = e.clone();
            content.as_object_mut().map(|o| o.remove("t"));
            if last.get(&local) == Some(&content) {
                repeated.push(e.to_string());
            }
            last.insert(local, content);
        }
    }
    repeated
}

/// Flag names from tshark's `tcp.flags` hex value, in contract order.
pub fn flag_names(hex: &str) -> Vec<String> {
    let v = u16::from_str_radix(hex.trim_start_matches("0x"), 16).expect("hex flags");
    let order = [
        (0x02, "SYN"),
        (0x10, "ACK"),
        (0x01, "FIN"),
        (0x04, "RST"),
        (0x08, "PSH"),
        (0x20, "URG"),
        (0x40, "ECE"),
        (0x80, "CWR"),
    ];
    order
        .iter()
        .filter(|(b, _)| v & b != 0)
        .map(|(_, n)| (*n).to_owned())
        .collect()
}

/// One TCP packet as tshark dissects it from a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TsharkPacket {
    pub src: String,
    pub dst: String,
    pub flags: Vec<String>,
    pub seq: u64,
    pub ack: u64,
    pub len: u64,
    pub win: u64,
}

/// Dissects a capture file with tshark (relative numbers, as its defaults),
/// in time order (see [`tshark_dated`]).
pub fn tshark_packets(file: &Path) -> Vec<TsharkPacket> {
    tshark_dated(file).into_iter().map(|(_, p)| p).collect()
}

/// A frame's time: (seconds, nanoseconds) since the epoch.
pub type FrameTime = (u64, u64);

/// tshark's dissection of a capture file, each frame with its time, in time
/// order. A file holds frames in the order they reached the capture ring;
/// with two CPUs that is not always their timestamps' order (a ring stamps
/// a frame after taking its slot), and synack shows time order, so the
/// frames are sorted by time, keeping the file's order among equal times.
/// Compare nanosecond files (`--time-stamp-precision nano`), as synack's
/// own are.
pub fn tshark_dated(file: &Path) -> Vec<(FrameTime, TsharkPacket)> {
    let out = Command::new("tshark")
        .args(["-n", "-r"])
        .arg(file)
        .args([
            "-Y",
            "tcp",
            "-T",
            "fields",
            "-E",
            "separator=|",
            "-e",
            "frame.time_epoch",
            "-e",
            "ip.src",
            "-e",
            "ipv6.src",
            "-e",
            "tcp.srcport",
            "-e",
            "ip.dst",
            "-e",
            "ipv6.dst",
            "-e",
            "tcp.dstport",
            "-e",
            "tcp.flags",
            "-e",
            "tcp.seq",
            "-e",
            "tcp.ack",
            "-e",
            "tcp.len",
            "-e",
            "tcp.window_size",
        ])
        .output()
        .expect("run tshark");
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut dated: Vec<(FrameTime, TsharkPacket)> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('|').collect();
            assert_eq!(f.len(), 12, "unexpected tshark line: {l}");
            let time = epoch_nanos(f[0]).unwrap_or_else(|| panic!("bad frame time in {l}"));
            let f = &f[1..];
            let addr = |v4: &str, v6: &str, port: &str| {
                if v4.is_empty() {
                    format!("[{v6}]:{port}")
                } else {
                    format!("{v4}:{port}")
                }
            };
            let flags = flag_names(f[6]);
            let num = |s: &str| s.parse::<u64>().unwrap_or(0);
            let packet = TsharkPacket {
                src: addr(f[0], f[1], f[2]),
                dst: addr(f[3], f[4], f[5]),
                // tshark prints the ack field even without the ACK flag; the contract says 0 then.
                ack: if flags.iter().any(|x| x == "ACK") {
                    num(f[8])
                } else {
                    0
                },
                flags,
                seq: num(f[7]),
                len: num(f[9]),
                win: num(f[10]),
            };
            (time, packet)
        })
        .collect();
    dated.sort_by_key(|(time, _)| *time);
    dated
}

/// tshark's `frame.time_epoch` ("1796582431.398819871") as (seconds,
/// nanoseconds), exactly.
fn epoch_nanos(s: &str) -> Option<FrameTime> {
    let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
    if frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let nanos = format!("{frac:0<9}").parse().ok()?;
    Some((secs.parse().ok()?, nanos))
}

/// The same fields from synack's JSON packet events.
pub fn synack_packets(events: &[Value]) -> Vec<TsharkPacket> {
    kind(events, "packet")
        .into_iter()
        .filter(|e| e["proto"] == "tcp")
        .map(|e| TsharkPacket {
            src: e["src"].as_str().unwrap().to_owned(),
            dst: e["dst"].as_str().unwrap().to_owned(),
            flags: e["flags"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f.as_str().unwrap().to_owned())
                .collect(),
            seq: e["seq"].as_u64().unwrap(),
            ack: e["ack"].as_u64().unwrap(),
            len: e["len"].as_u64().unwrap(),
            win: e["win"].as_u64().unwrap(),
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Helpers for the lab tests (tests/e2e/lab.rs).

/// What a finished command printed.
pub struct Ran {
    pub status: std::process::ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// Spawns a command, retrying while the kernel says ETXTBSY (a binary copied
/// a moment ago can still be open for writing in a child another test thread
/// forked meanwhile).
pub fn spawn_retrying(cmd: &mut Command) -> Child {
    let mut tries = 0;
    loop {
        match cmd.spawn() {
            Ok(c) => return c,
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) && tries < 50 => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => panic!("cannot start {cmd:?}: {e}"),
        }
    }
}

/// Runs a command to its end with piped stdout/stderr (stdin empty); kills it
/// and panics, with what it printed so far, when it outlives `timeout`.
pub fn run_timeout(cmd: &mut Command, timeout: Duration) -> Ran {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = spawn_retrying(cmd);
    let out = child.stdout.take().expect("stdout piped");
    let err = child.stderr.take().expect("stderr piped");
    let ho = std::thread::spawn(move || read_all(out));
    let he = std::thread::spawn(move || read_all(err));
    let start = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait") {
            break st;
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            let stdout = ho.join().unwrap_or_default();
            let stderr = he.join().unwrap_or_default();
            panic!(
                "{cmd:?} did not finish within {timeout:?}\nstdout:\n{stdout}\nstderr:\n{stderr}"
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Ran {
        status,
        stdout: ho.join().unwrap_or_default(),
        stderr: he.join().unwrap_or_default(),
    }
}

/// [`run_timeout`] of a command that must succeed: else it fails, naming
/// the command as `what` and showing what it printed.
pub fn run_ok(cmd: &mut Command, what: &str, timeout: Duration) -> Ran {
    let ran = run_timeout(cmd, timeout);
    assert!(
        ran.status.success(),
        "`{what}` failed ({}).\nstderr:\n{}\nstdout:\n{}",
        ran.status,
        ran.stderr,
        ran.stdout
    );
    ran
}

/// A private copy of the synack binary in its own scratch directory (mode 755,
/// directory too, so `nobody` can run it). Processes started from it can be
/// told apart from every other synack run by their command line.
pub fn private_synack(tag: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let dir = scratch(tag);
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod dir");
    let exe = dir.join("synack");
    std::fs::copy(env!("CARGO_BIN_EXE_synack"), &exe).expect("copy synack");
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).expect("chmod exe");
    exe
}

/// Live processes (not zombies) started from `exe` whose command line names
/// `__peer`: the lab's client and server processes of that binary's runs.
/// Returns (pid, command line with spaces for NULs).
pub fn peer_processes(exe: &Path) -> Vec<(i32, String)> {
    let exe_s = exe.to_string_lossy().into_owned();
    let me = std::process::id() as i32;
    let mut found = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return found;
    };
    for ent in dir.flatten() {
        let Some(pid) = ent.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(raw) = std::fs::read(ent.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&raw).replace('\0', " ");
        if !cmdline.contains("__peer") {
            continue;
        }
        let exe_link = std::fs::read_link(ent.path().join("exe"))
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !(cmdline.contains(&exe_s) || exe_link.starts_with(&exe_s)) {
            continue;
        }
        // A zombie has exited already; only its parent's wait is missing.
        let stat = std::fs::read_to_string(ent.path().join("stat")).unwrap_or_default();
        let state = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .unwrap_or("");
        if state == "Z" || state == "X" || state.is_empty() {
            continue;
        }
        found.push((pid, cmdline.trim_end().to_owned()));
    }
    found
}

/// Waits up to `timeout` for every peer process of `exe` to be gone; returns
/// those still alive then (empty when all went).
pub fn wait_no_peers(exe: &Path, timeout: Duration) -> Vec<(i32, String)> {
    let start = Instant::now();
    loop {
        let left = peer_processes(exe);
        if left.is_empty() || start.elapsed() > timeout {
            return left;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Polls until at least `n` peer processes of `exe` are alive (or the
/// timeout); returns the largest set seen.
pub fn wait_peers(exe: &Path, n: usize, timeout: Duration) -> Vec<(i32, String)> {
    let start = Instant::now();
    let mut best = Vec::new();
    loop {
        let now = peer_processes(exe);
        if now.len() > best.len() {
            best = now;
        }
        if best.len() >= n || start.elapsed() > timeout {
            return best;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// SIGKILLs the given pids (cleanup after a failed leftover check).
pub fn kill_pids(pids: &[(i32, String)]) {
    for (pid, _) in pids {
        // SAFETY: kill with a pid we found and a valid signal number.
        unsafe {
            libc::kill(*pid, libc::SIGKILL);
        }
    }
}
