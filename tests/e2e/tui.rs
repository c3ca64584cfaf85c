//! The TUI as a user meets it: the real binary in a real terminal (tmux),
//! driven by keys, read back from the screen.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::support::{host_root, is_root, require_tool, scratch};

/// A tmux server of its own (`-L`), with one window running a shell.
struct Tmux {
    socket: String,
    dir: PathBuf,
}

/// Short (a socket path has at most 107 bytes) and private to this run.
fn tmux_dir() -> &'static std::path::Path {
    static DIR: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("synack-test-{}-tmux", std::process::id()));
        std::fs::create_dir_all(&d).expect("tmux socket directory");
        d
    })
}

impl Tmux {
    fn start(test: &str, width: u16, height: u16) -> Self {
        require_tool("tmux");
        static N: AtomicU32 = AtomicU32::new(0);
        let socket = format!(
            "synack-{}-{}-{test}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let dir = scratch(test);
        let t = Self { socket, dir };
        let ok = t
            .cmd()
            .args(["new-session", "-d", "-s", "main"])
            .args(["-x", &width.to_string(), "-y", &height.to_string()])
            .args(["env", "PS1=$ ", "TERM=xterm-256color", "LANG=C.UTF-8", "sh"])
            .status()
            .expect("start tmux");
        assert!(ok.success(), "tmux did not start");
        // No status line: the pane is the whole window.
        let _ = t.cmd().args(["set", "-g", "status", "off"]).status();
        t.wait_for("$", Duration::from_secs(5));
        t
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.socket]);
        // A socket directory of the test's own: in the test namespace uid 0
        // is not the host's root, whose /tmp/tmux-0 tmux would refuse.
        c.env("TMUX_TMPDIR", tmux_dir());
        c
    }

    /// Types a command line into the shell.
    fn run(&self, line: &str) {
        let _ = self
            .cmd()
            .args(["send-keys", "-t", "main", "-l", line])
            .status();
        self.keys(&["Enter"]);
    }

    /// Types text as it is (`-` and `_` too), without Enter.
    fn type_text(&self, text: &str) {
        let _ = self
            .cmd()
            .args(["send-keys", "-t", "main", "-l", text])
            .status();
        std::thread::sleep(Duration::from_millis(150));
    }

    /// Sends keys by tmux name (`Enter`, `Space`, `Up`, `q` …), one at a
    /// time as a person types them.
    fn keys(&self, keys: &[&str]) {
        for k in keys {
            let _ = self.cmd().args(["send-keys", "-t", "main", k]).status();
            std::thread::sleep(Duration::from_millis(150));
        }
    }

    fn screen(&self) -> String {
        let out = self
            .cmd()
            .args(["capture-pane", "-p", "-t", "main"])
            .output()
            .expect("capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Whether the program in the pane uses the alternate screen now.
    fn alternate(&self) -> bool {
        let out = self
            .cmd()
            .args(["display", "-p", "-t", "main", "#{alternate_on}"])
            .output()
            .expect("tmux display");
        String::from_utf8_lossy(&out.stdout).trim() == "1"
    }

    /// Waits until the screen contains `needle`; panics with the screen.
    fn wait_for(&self, needle: &str, timeout: Duration) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if s.contains(needle) {
                return s;
            }
            assert!(
                start.elapsed() < timeout,
                "`{needle}` did not appear within {timeout:?}; the screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn resize(&self, w: u16, h: u16) {
        let _ = self
            .cmd()
            .args([
                "resize-window",
                "-t",
                "main",
                "-x",
                &w.to_string(),
                "-y",
                &h.to_string(),
            ])
            .status();
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd().arg("kill-server").status();
    }
}

/// A copy of the binary at a path of this test's own (so that `pgrep`
/// finds this test's processes only), readable by `nobody`.
fn own_binary(t: &Tmux) -> PathBuf {
    let bin = t.dir.join("synack");
    std::fs::copy(env!("CARGO_BIN_EXE_synack"), &bin).expect("copy binary");
    for p in [t.dir.as_path(), bin.as_path()] {
        let _ = Command::new("chmod").arg("755").arg(p).status();
    }
    bin
}

/// Processes whose command line starts with this binary (the app and its peers).
fn processes_of(bin: &Path) -> Vec<String> {
    let out = Command::new("pgrep")
        .args(["-a", "-f", &format!("^{}", bin.display())])
        .output()
        .expect("pgrep");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

fn wait_gone(bin: &Path) {
    let start = Instant::now();
    while !processes_of(bin).is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "left behind: {:?}",
            processes_of(bin)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The terminal is as it was: the main screen with the shell's lines, the
/// exit status printed, cooked mode with echo.
fn check_restored(t: &Tmux, status: &str) {
    let s = t.wait_for(&format!("exit={status}"), Duration::from_secs(10));
    assert!(!t.alternate(), "still on the alternate screen:\n{s}");
    assert!(
        s.contains("before-synack"),
        "the shell's screen is gone:\n{s}"
    );
    // The marker is computed, so the typed command line does not match it.
    t.run("stty -a | tr ' ' '\\n' | grep -x -e icanon -e echo -e -icanon -e -echo | tr '\\n' ' '; echo STTY-$((40+2))");
    let s = t.wait_for("STTY-42", Duration::from_secs(5));
    let line = s
        .lines()
        .rev()
        .find(|l| l.ends_with("STTY-42"))
        .unwrap_or_default();
    assert!(
        line.contains("icanon") && !line.contains("-icanon") && !line.contains("-echo"),
        "terminal left in raw mode: {line}\n{s}"
    );
}

/// A lab can run here: as root, or as a user who may create user
/// namespaces (the rootless lab); fails saying why otherwise.
fn require_lab(test: &str) {
    if is_root() {
        return;
    }
    let probe = Command::new("unshare")
        .args(["--user", "--map-root-user", "--net", "true"])
        .output();
    let why = match probe {
        Ok(o) if o.status.success() => return,
        Ok(o) => format!(
            "this user cannot create a user+net namespace for the lab ({})",
            String::from_utf8_lossy(&o.stderr).trim()
        ),
        Err(e) => format!("cannot run unshare: {e}"),
    };
    panic!("{test} cannot run: {why}. Run as root, or allow unprivileged user namespaces.");
}

/// What the header says about the kernel's view: the host's root gets the
/// tracepoint (the test namespace's root does not).
fn kernel_states() -> &'static str {
    if host_root() {
        "kernel states: tracepoint + sock_diag"
    } else {
        "kernel states: sock_diag + inferred"
    }
}

/// The same, as a title short of room says it.
fn kernel_states_short() -> &'static str {
    if host_root() {
        "kernel: tracepoint"
    } else {
        "kernel: sock_diag"
    }
}

const LONG: Duration = Duration::from_secs(20);

#[test]
fn tui_plain_synack_opens_the_picker_and_q_restores_the_terminal() {
    require_lab("tui_plain_synack_opens_the_picker_and_q_restores_the_terminal");
    let t = Tmux::start("picker", 100, 30);
    let bin = own_binary(&t);
    t.run(&format!(
        "echo before-synack; {}; echo exit=$?",
        bin.display()
    ));
    let s = t.wait_for("▶ handshake", LONG);
    assert!(t.alternate(), "the TUI uses the alternate screen");
    assert!(s.contains("Scenarios") && s.contains("kill-peer"), "{s}");
    // The picker runs the selected scenario.
    t.keys(&["Enter"]);
    t.wait_for("SYN-SENT → ESTABLISHED", LONG);
    t.keys(&["q"]);
    check_restored(&t, "0");
    wait_gone(&bin);
}

#[test]
fn tui_demo_handshake_keys_kill_details_picker_language_help() {
    require_lab("tui_demo_handshake_keys_kill_details_picker_language_help");
    let t = Tmux::start("keys", 100, 30);
    let bin = own_binary(&t);
    t.run(&format!(
        "echo before-synack; {} demo handshake --pace 0.2; echo exit=$?",
        bin.display()
    ));
    // The handshake on both lanes, and the kernel as the header says.
    let s = t.wait_for("script over", LONG);
    for needle in [
        "SYN seq=0",
        "SYN,ACK seq=0 ack=1",
        "SYN-SENT → ESTABLISHED",
        "SYN-RECEIVED → ESTABLISHED",
        kernel_states(),
    ] {
        assert!(s.contains(needle), "no `{needle}`:\n{s}");
    }
    // k kills the server: the lab says so, and the dead process's kernel sends FIN.
    t.keys(&["k"]);
    let s = t.wait_for("kill(server)", LONG);
    let s = if s.contains("FIN") {
        s
    } else {
        t.wait_for("FIN", LONG)
    };
    let kill_line = s.lines().position(|l| l.contains("kill(server)")).unwrap();
    let fin_line = s
        .lines()
        .position(|l| l.contains("FIN") && l.contains('◀'))
        .unwrap_or_else(|| panic!("no FIN from the server after the kill:\n{s}"));
    assert!(fin_line > kill_line, "the FIN comes after the kill:\n{s}");
    // Enter: the selected packet, field by field, with its bytes.
    t.keys(&["Enter"]);
    let s = t.wait_for("big-endian", LONG);
    assert!(s.contains("0000  "), "no hex dump:\n{s}");
    assert!(s.contains("Source port"), "{s}");
    t.keys(&["Escape"]);
    // l: Chinese, and back.
    t.keys(&["l"]);
    t.wait_for("退出", LONG);
    t.keys(&["l"]);
    t.wait_for("quit", LONG);
    // ?: the help lists every key; any key closes it.
    t.keys(&["?"]);
    let s = t.wait_for("Keys", LONG);
    assert!(s.contains("restart the scenario"), "{s}");
    t.keys(&["Escape"]);
    // k again (f first: no row selected, so k means the server): the
    // server is dead already, and the row says so in words.
    t.keys(&["f", "k"]);
    let s = t.wait_for("already dead", LONG);
    assert!(!s.contains("ESRCH"), "{s}");
    // s: the picker.
    t.keys(&["s"]);
    t.wait_for("▶ handshake", LONG);
    t.keys(&["q"]);
    check_restored(&t, "0");
    wait_gone(&bin);
}

#[test]
fn tui_step_shows_nothing_on_the_wire_until_space() {
    require_lab("tui_step_shows_nothing_on_the_wire_until_space");
    let t = Tmux::start("step", 100, 30);
    let bin = own_binary(&t);
    t.run(&format!(
        "echo before-synack; {} demo handshake --step; echo exit=$?",
        bin.display()
    ));
    t.wait_for("paused", LONG);
    std::thread::sleep(Duration::from_millis(1500));
    let s = t.screen();
    assert!(!s.contains("SYN seq"), "a packet before any step ran:\n{s}");
    assert!(!s.contains("listen("), "a call before any step ran:\n{s}");
    // Step 1 (listen) and 2 (accept): still no packet.
    t.keys(&["Space"]);
    t.wait_for("listen(128) = ok", LONG);
    t.keys(&["Space"]);
    t.wait_for("accept() blocks", LONG);
    std::thread::sleep(Duration::from_millis(500));
    assert!(!t.screen().contains("SYN seq"), "{}", t.screen());
    // Step 3: connect, and the handshake on the wire.
    t.keys(&["Space"]);
    t.wait_for("SYN,ACK seq=0 ack=1", LONG);
    t.keys(&["q"]);
    check_restored(&t, "0");
    wait_gone(&bin);
}

#[test]
fn tui_sigterm_restores_the_terminal_and_leaves_no_process() {
    require_lab("tui_sigterm_restores_the_terminal_and_leaves_no_process");
    let t = Tmux::start("sigterm", 100, 30);
    let bin = own_binary(&t);
    t.run(&format!(
        "echo before-synack; {} demo kill-peer; echo exit=$?",
        bin.display()
    ));
    t.wait_for("SYN", LONG);
    let procs = processes_of(&bin);
    assert!(procs.len() >= 2, "the app and its peers: {procs:?}");
    let app = procs
        .iter()
        .find(|l| !l.contains("__peer"))
        .and_then(|l| l.split_whitespace().next())
        .expect("the app's pid")
        .to_owned();
    let _ = Command::new("kill").args(["-TERM", &app]).status();
    check_restored(&t, "130");
    wait_gone(&bin);
}

#[test]
fn tui_sighup_and_a_panic_restore_the_terminal_too() {
    require_lab("tui_sighup_and_a_panic_restore_the_terminal_too");
    let t = Tmux::start("sighup", 100, 30);
    let bin = own_binary(&t);
    t.run(&format!(
        "echo before-synack; {} demo handshake; echo exit=$?",
        bin.display()
    ));
    t.wait_for("SYN", LONG);
    let app = processes_of(&bin)
        .iter()
        .find(|l| !l.contains("__peer"))
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .expect("the app's pid");
    let _ = Command::new("kill").args(["-HUP", &app]).status();
    check_restored(&t, "130");
    wait_gone(&bin);
    // A panic on another thread: the terminal is restored, the panic is
    // printed, the process ends with 101 and its peers with it.
    t.run("clear; echo before-synack");
    t.run(&format!(
        "SYNACK_TEST_PANIC_AFTER_MS=1500 {} demo handshake; echo exit=$?",
        bin.display()
    ));
    let s = t.wait_for("exit=101", LONG);
    assert!(
        s.contains("deliberate panic"),
        "the panic message is shown:\n{s}"
    );
    check_restored(&t, "101");
    wait_gone(&bin);
}

#[test]
fn tui_resize_to_tiny_and_back_and_restart() {
    require_lab("tui_resize_to_tiny_and_back_and_restart");
    let t = Tmux::start("resize", 100, 30);
    let bin = own_binary(&t);
    t.run(&format!(
        "echo before-synack; {} demo handshake --pace 0.1; echo exit=$?",
        bin.display()
    ));
    t.wait_for("script over", LONG);
    t.resize(50, 12);
    t.wait_for("too small", LONG);
    t.resize(80, 24);
    t.wait_for("script over", LONG);
    // r: the scenario again in a clean lab (a new connection, step 1 again).
    t.keys(&["r"]);
    t.wait_for("▶ playing", LONG);
    t.wait_for("script over", LONG);
    let s = t.screen();
    assert!(s.contains("SYN-SENT → ESTABLISHED"), "{s}");
    t.keys(&["q"]);
    check_restored(&t, "0");
    wait_gone(&bin);
}

#[test]
fn tui_rootless_says_sock_diag_and_inferred() {
    require_lab("tui_rootless_says_sock_diag_and_inferred");
    let t = Tmux::start("rootless", 100, 30);
    let bin = own_binary(&t);
    // As root the test becomes nobody; an ordinary user is rootless already.
    let run = format!("{} demo handshake --pace 0.1", bin.display());
    let run = if is_root() {
        require_tool("su");
        format!("su nobody -s /bin/sh -c '{run}'")
    } else {
        run
    };
    t.run(&format!("echo before-synack; {run}; echo exit=$?"));
    let s = t.wait_for("script over", LONG);
    assert!(s.contains("sock_diag + inferred"), "{s}");
    assert!(s.contains("(rootless)"), "{s}");
    assert!(s.contains("ESTABLISHED"), "{s}");
    t.keys(&["q"]);
    check_restored(&t, "0");
    wait_gone(&bin);
}

/// A window closed while synack runs in another session (as under `su`, or
/// `setsid`): no SIGHUP comes, the terminal just hangs up. synack must notice,
/// end, and take its lab with it, not spin on the dead terminal.
#[test]
fn tui_a_closed_window_without_sighup_ends_the_run() {
    require_lab("tui_a_closed_window_without_sighup_ends_the_run");
    require_tool("setsid");
    let t = Tmux::start("hangup", 100, 30);
    let bin = own_binary(&t);
    t.run(&format!(
        "setsid -w {} demo handshake --pace 0.1",
        bin.display()
    ));
    t.wait_for("SYN", LONG);
    assert!(!processes_of(&bin).is_empty());
    drop(t);
    wait_gone(&bin);
}

/// A script whose file name, summary, narration and payloads (a TCP write, a
/// UDP datagram) carry an OSC window title (`ESC ] 0 ; pwned BEL`), a clear
/// screen (`ESC [ 2 J`), CSI cursor moves, and CSI as one C1 character
/// (U+009B): what a hostile peer or file could put before a user.
fn hostile_script(dir: &Path) -> PathBuf {
    const NASTY: &str = "\u{1b}]0;pwned\u{7}\u{1b}[2J\u{1b}[5;5H\u{1b}[10A\u{9b}2J";
    let text = format!(
        "# Hostile summary {NASTY}\n\
         server listen\n\
         client connect\n\
         server accept\n\
         # Narration {NASTY} here\n\
         client write \"{NASTY} tail\"\n\
         server read\n\
         server2 socket udp\n\
         server2 bind\n\
         client2 socket udp\n\
         client2 sendto \"{NASTY}x\" server2\n"
    );
    let path = dir.join("evil-\u{1b}]0;pwned\u{7}.txt");
    std::fs::write(&path, text).expect("write the script");
    path
}

/// Control characters in `s` other than line ends, with where they are.
fn controls(s: &str) -> Vec<(usize, char)> {
    s.char_indices()
        .filter(|(_, c)| c.is_control() && *c != '\n')
        .collect()
}

fn pane_title(t: &Tmux) -> String {
    let out = t
        .cmd()
        .args(["display", "-p", "-t", "main", "#{pane_title}"])
        .output()
        .expect("tmux display");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn tui_and_text_show_hostile_bytes_as_text() {
    require_lab("tui_and_text_show_hostile_bytes_as_text");
    let t = Tmux::start("hostile", 120, 40);
    let bin = own_binary(&t);
    let script = hostile_script(&t.dir);

    // (a) Headless: nothing but text and line ends, on stdout and stderr.
    for format in ["--text", "--json"] {
        let out = Command::new(&bin)
            .args(["demo", format, "--script"])
            .arg(&script)
            .output()
            .expect("run synack");
        let stdout = String::from_utf8(out.stdout).expect("UTF-8 output");
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{format}: {stderr}");
        assert!(
            stdout.contains("sendto") && stdout.contains("pwned"),
            "{format}: the hostile calls are not shown:\n{stdout}"
        );
        for (what, text) in [("stdout", &stdout), ("stderr", &stderr)] {
            let bad = controls(text);
            assert!(
                bad.is_empty(),
                "{format}: control characters reached {what}: {bad:?}\n{}",
                text.escape_debug()
            );
        }
    }
    // An error quoting a hostile file name.
    let out = Command::new(&bin)
        .args(["read", "--text"])
        .arg(t.dir.join("no-\u{1b}]0;pwned\u{7}\u{1b}[2J-file"))
        .output()
        .expect("run synack read");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !out.status.success() && stderr.contains("pwned"),
        "{stderr}"
    );
    assert!(
        controls(&stderr).is_empty(),
        "control characters in the error: {}",
        stderr.escape_debug()
    );

    // (b) The screen: synack's own, the pane's title untouched. The file is
    // named by a glob: its real name would be typed into the shell raw. The
    // header may cut "script over" short (the scratch path's length
    // varies), so the wait is for its start.
    let title = pane_title(&t);
    t.run(&format!(
        "echo before-synack; {} demo --pace 0.2 --script {}/evil-*.txt; echo exit=$?",
        bin.display(),
        t.dir.display()
    ));
    let s = t.wait_for("■ script", LONG);
    for needle in ["evil-", "Narration", "sendto(", "write(", "step 9/9"] {
        assert!(s.contains(needle), "no `{needle}` on synack's screen:\n{s}");
    }
    // A long title keeps the step and shortens where the states come from.
    assert!(
        s.contains(kernel_states()) || s.contains(kernel_states_short()),
        "no kernel states on synack's screen:\n{s}"
    );
    // The datagram's bytes in the details view: dots for the controls.
    t.keys(&["Enter"]);
    let s = t.wait_for("big-endian", LONG);
    assert!(
        s.contains("]0;pw"),
        "the payload's bytes are not shown:\n{s}"
    );
    t.keys(&["Escape"]);
    let s = t.wait_for("■ script", LONG);
    assert!(
        s.contains("sendto(") && (s.contains(kernel_states()) || s.contains(kernel_states_short())),
        "synack's screen is gone:\n{s}"
    );
    let now = pane_title(&t);
    assert!(
        now == title && !now.contains("pwned"),
        "the pane's title changed from `{title}` to `{now}`"
    );
    t.keys(&["q"]);
    check_restored(&t, "0");
    assert_eq!(pane_title(&t), title, "the title changed after the run");
    wait_gone(&bin);
}

/// The digit the quiz box shows before `label` (`[2] SYN`), exact label.
fn quiz_digit(screen: &str, label: &str) -> String {
    let needle = format!("] {label}");
    for (i, _) in screen.match_indices(&needle) {
        let after = screen[i + needle.len()..].chars().next().unwrap_or(' ');
        if after.is_alphanumeric() || after == '-' {
            continue;
        }
        if let Some(d) = screen[..i].chars().last().filter(char::is_ascii_digit) {
            return d.to_string();
        }
    }
    panic!("no choice `{label}` on the quiz:\n{screen}");
}

#[test]
fn tui_quiz_asks_before_each_step_and_the_real_stack_answers() {
    require_lab("tui_quiz_asks_before_each_step_and_the_real_stack_answers");
    let t = Tmux::start("quiz", 80, 24);
    let bin = own_binary(&t);
    t.run(&format!(
        "echo before-synack; {} demo close --quiz; echo exit=$?",
        bin.display()
    ));
    let s = t.wait_for("Which state does server's socket enter?", LONG);
    assert!(s.contains("Quiz · 0 of 0 right"), "{s}");
    // The step waits for the answer: Space does not run it.
    t.keys(&["Space"]);
    std::thread::sleep(Duration::from_millis(1200));
    assert!(!t.screen().contains("listen(128)"), "{}", t.screen());
    t.keys(&[&quiz_digit(&s, "LISTEN")]);
    t.wait_for("✓ Right: LISTEN.", LONG);
    // A wrong answer: the real packets say what connect() sent.
    let s = t.wait_for("What does client send first?", LONG);
    t.keys(&[&quiz_digit(&s, "SYN-ACK")]);
    t.wait_for("✗ The real stack did: SYN. (You chose: SYN-ACK.)", LONG);
    // The handshake is over before accept(): it returns at once.
    let s = t.wait_for("What does accept() return?", LONG);
    t.keys(&[&quiz_digit(&s, "a connection, at once")]);
    t.wait_for("✓ Right: a connection, at once.", LONG);
    let s = t.wait_for("`client close`", LONG);
    t.keys(&[&quiz_digit(&s, "FIN")]);
    t.wait_for("✓ Right: FIN.", LONG);
    let s = t.wait_for("What does read() return?", LONG);
    t.keys(&[&quiz_digit(&s, "0: end of file")]);
    t.wait_for("✓ Right: 0: end of file.", LONG);
    // The second close asks close's lesson.
    let s = t.wait_for("Which end ends up in TIME-WAIT?", LONG);
    t.keys(&[&quiz_digit(&s, "client")]);
    t.wait_for("Quiz over: 5 of 6 right.", LONG);
    // The same words in Chinese, live.
    t.keys(&["l"]);
    t.wait_for("测验结束：答对 5 / 6。", LONG);
    t.keys(&["q"]);
    check_restored(&t, "0");
    wait_gone(&bin);
}

#[test]
fn tui_explain_pane_follows_the_selected_row_in_both_languages() {
    require_lab("tui_explain_pane_follows_the_selected_row_in_both_languages");
    let t = Tmux::start("explain", 100, 30);
    let bin = own_binary(&t);
    t.run(&format!(
        "echo before-synack; {} demo handshake --pace 0.2; echo exit=$?",
        bin.display()
    ));
    t.wait_for("script over", LONG);
    // The first row is step 1's: the scenario; then the server's socket().
    t.keys(&["e", "Home"]);
    let s = t.wait_for("Scenario: the three-way handshake", LONG);
    assert!(s.contains("explain · e"), "{s}");
    // Down to the server's socket() (rootless, a warning row comes first).
    let mut s = String::new();
    for _ in 0..4 {
        t.keys(&["Down"]);
        std::thread::sleep(Duration::from_millis(300));
        s = t.screen();
        if s.contains("socket(): make an endpoint") {
            break;
        }
    }
    assert!(s.contains("socket(): make an endpoint"), "{s}");
    let syn_row = s
        .lines()
        .position(|l| l.contains("SYN seq=0") && !l.contains("ACK"))
        .expect("the SYN's row is on screen");
    let socket_row = s
        .lines()
        .position(|l| l.contains("socket(AF_INET"))
        .expect("the socket() row is on screen");
    let down = vec!["Down"; syn_row - socket_row];
    t.keys(&down);
    let s = t.wait_for("What to do", LONG);
    assert!(
        s.lines().any(|l| l.contains("│ SYN")),
        "the pane does not explain the SYN:\n{s}"
    );
    // Live in Chinese, then closed with e.
    t.keys(&["l"]);
    t.wait_for("该怎么做", LONG);
    t.keys(&["e"]);
    std::thread::sleep(Duration::from_millis(500));
    assert!(!t.screen().contains("该怎么做"), "{}", t.screen());
    t.keys(&["q"]);
    check_restored(&t, "0");
    wait_gone(&bin);
}

/// A clicker through `demo loss --step` at 80x24: steps 6, 7 and 8 are run
/// by the lab at once (`+ STEP`), yet each one's words come on the screen
/// for a click of their own, whole; ← goes back one step and → forward.
#[test]
fn tui_stepping_through_loss_shows_every_steps_words() {
    require_lab("tui_stepping_through_loss_shows_every_steps_words");
    let t = Tmux::start("clicker", 80, 24);
    let bin = own_binary(&t);
    t.run(&format!(
        "echo before-synack; {} demo loss --step; echo exit=$?",
        bin.display()
    ));
    t.wait_for("paused", LONG);
    // The end of each narrated step's words (the last words show that the
    // whole text is on the screen).
    let ends = [
        (6, "the others are numbered dup ACKs."),
        (7, "It is lost too."),
        (8, "(at least 200 ms)."),
    ];
    let flat = |s: &str| -> String {
        s.lines()
            .filter_map(|l| l.strip_prefix("▌"))
            .flat_map(str::split_whitespace)
            .collect::<Vec<_>>()
            .join(" ")
    };
    // The title names the step (the ladder's step rows say it too).
    let title = |step: usize| {
        let want = format!("· step {step}/11 ·");
        let start = Instant::now();
        loop {
            let s = t.screen();
            if s.lines().next().is_some_and(|l| l.contains(&want)) {
                return s;
            }
            assert!(
                start.elapsed() < LONG,
                "the title did not say step {step}:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    for step in 1..=8 {
        t.keys(&["Space"]);
        title(step);
        if let Some((_, end)) = ends.iter().find(|(i, _)| *i == step) {
            // Its words stay until the next click (the kernel went on).
            std::thread::sleep(Duration::from_millis(700));
            let s = title(step);
            assert!(
                flat(&s).contains(end),
                "step {step}'s words, whole, until the next click:\n{s}"
            );
        }
    }
    t.keys(&["Left"]);
    title(7);
    t.keys(&["PageUp"]);
    title(6);
    t.keys(&["Right"]);
    title(7);
    t.keys(&["q"]);
    check_restored(&t, "0");
    wait_gone(&bin);
}

/// The ladder's rows on a captured screen: between the lane names
/// ("time" …) and the cards' top border, those with a lane glyph.
fn ladder_rows(s: &str) -> Vec<Vec<char>> {
    let lines: Vec<&str> = s.lines().collect();
    let Some(top) = lines
        .iter()
        .position(|l| l.trim_start().starts_with("time"))
    else {
        return Vec::new();
    };
    let bottom = lines
        .iter()
        .position(|l| l.starts_with('┌'))
        .unwrap_or(lines.len());
    lines[top + 1..bottom.max(top + 1)]
        .iter()
        .filter(|l| l.contains(['│', '├', '┤', '┄']))
        .map(|l| l.chars().collect())
        .collect()
}

/// Live, at a projector's 80x24, clicking through: with three clients and
/// a server, no row writes over another lane's line, at any step.
#[test]
fn tui_four_lanes_at_80x24_keep_their_text_in_their_lane() {
    require_lab("tui_four_lanes_at_80x24_keep_their_text_in_their_lane");
    for name in ["concurrent", "epoll"] {
        let t = Tmux::start(&format!("lanes-{name}"), 80, 24);
        let bin = own_binary(&t);
        t.run(&format!(
            "echo before-synack; {} demo {name} --step; echo exit=$?",
            bin.display()
        ));
        // Before the first step the ladder is bare: its lane lines.
        let s = t.wait_for("Nothing on the wire yet", LONG);
        let bare = ladder_rows(&s)
            .into_iter()
            .find(|r| !r.contains(&'┄'))
            .unwrap_or_else(|| panic!("no ladder rows:\n{s}"));
        let lanes: Vec<usize> = (0..bare.len()).filter(|&x| bare[x] == '│').collect();
        assert_eq!(lanes.len(), 4, "{name}: lanes {lanes:?}:\n{s}");
        let start = Instant::now();
        let mut looked = 0;
        loop {
            t.keys(&["Space"]);
            std::thread::sleep(Duration::from_millis(300));
            let s = t.screen();
            for r in ladder_rows(&s) {
                if r.contains(&'┄') {
                    continue;
                }
                for &x in &lanes {
                    let c = r.get(x).copied().unwrap_or(' ');
                    assert!(
                        "│├┤─━╌▶◀✗".contains(c),
                        "{name}: {c:?} over the lane line at column {x}:\n{s}"
                    );
                }
            }
            looked += 1;
            if s.contains("■ script over") {
                break;
            }
            assert!(start.elapsed() < LONG, "{name} did not end:\n{s}");
        }
        assert!(looked >= 10, "{name}: the screen was read {looked} times");
        t.keys(&["q"]);
        check_restored(&t, "0");
        wait_gone(&bin);
    }
}

/// In Chinese, live at 80x24: a packet's details and the state diagram
/// have none of the English words they used to show.
#[test]
fn tui_details_and_diagram_in_chinese_have_no_english_words() {
    require_lab("tui_details_and_diagram_in_chinese_have_no_english_words");
    let t = Tmux::start("zh-details", 80, 24);
    let bin = own_binary(&t);
    t.run(&format!(
        "echo before-synack; {} demo close --lang zh --pace 0.1; echo exit=$?",
        bin.display()
    ));
    t.wait_for("脚本结束", LONG);
    let english = [
        "Total length",
        "Source port",
        "bytes",
        "relative",
        "scaled",
        "big-endian",
        // (the diagram's calls keep their names: listen(), close())
        "timeout",
        "rcv ",
        "snd ",
        "(connection)",
    ];
    // Up to a packet row (the close's last ACK), then its details.
    let start = Instant::now();
    loop {
        t.keys(&["Up"]);
        std::thread::sleep(Duration::from_millis(150));
        t.keys(&["Enter"]);
        std::thread::sleep(Duration::from_millis(300));
        let s = t.screen();
        if s.contains("源端口") {
            for w in english {
                assert!(!s.contains(w), "`{w}` in the Chinese details:\n{s}");
            }
            assert!(s.contains("大端序") || s.contains("字节"), "{s}");
            break;
        }
        t.keys(&["Escape"]);
        assert!(start.elapsed() < LONG, "no packet's details:\n{s}");
    }
    t.keys(&["Escape"]);
    t.keys(&["d"]);
    let s = t.wait_for("ESTABLISHED", LONG);
    let s = if s.contains("TIME-WAIT") {
        s
    } else {
        t.wait_for("TIME-WAIT", LONG)
    };
    for w in english {
        assert!(!s.contains(w), "`{w}` in the Chinese diagram:\n{s}");
    }
    assert!(s.contains("收") && s.contains("发"), "{s}");
    t.keys(&["q"]);
    check_restored(&t, "0");
    wait_gone(&bin);
}

/// Reading a capture in tmux at 100x30: the filter takes a state however it
/// is written, an empty result says so, the titles are whole, no freeze.
#[test]
fn tui_read_table_filter_titles_and_no_freeze() {
    require_lab("tui_read_table_filter_titles_and_no_freeze");
    let t = Tmux::start("read-filter", 100, 30);
    let bin = own_binary(&t);
    let pcap = t.dir.join("close.pcap");
    let made = Command::new(&bin)
        .args(["demo", "close", "--pace", "0", "--text", "--write"])
        .arg(&pcap)
        .output()
        .expect("synack demo close --write");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let _ = Command::new("chmod").arg("644").arg(&pcap).status();
    t.run(&format!(
        "echo before-synack; {} read {}; echo exit=$?",
        bin.display(),
        pcap.display()
    ));
    let s = t.wait_for("client / server state (~ inferred)", LONG);
    assert!(!s.contains("freeze"), "reading a file offers freeze:\n{s}");
    for typed in ["TIME_WAIT", "time-wait", "timewait"] {
        t.keys(&["/"]);
        t.type_text(typed);
        t.keys(&["Enter"]);
        let s = t.wait_for(&format!("filter: {typed}"), LONG);
        assert!(s.contains("TIME-WAIT"), "/{typed}:\n{s}");
        assert!(!s.contains("No connection"), "/{typed}:\n{s}");
        t.keys(&["Escape"]);
    }
    t.keys(&["/"]);
    t.type_text("syn_sent");
    t.keys(&["Enter"]);
    t.wait_for("No connection matches the filter “syn_sent”", LONG);
    t.keys(&["Escape"]);
    t.keys(&["p"]);
    std::thread::sleep(Duration::from_millis(300));
    assert!(!t.screen().contains("frozen"), "{}", t.screen());
    t.keys(&["q"]);
    check_restored(&t, "0");
    wait_gone(&bin);
}

/// The ladder's rows of a screen, without the time column (a replay shows
/// each step when it plays it, so its times are its own).
fn rows_without_time(screen: &str) -> Vec<String> {
    let lines: Vec<&str> = screen.lines().collect();
    let Some(start) = lines
        .iter()
        .position(|l| l.trim_start().starts_with("time "))
    else {
        return Vec::new();
    };
    lines[start + 1..]
        .iter()
        .take_while(|l| !l.starts_with('┌'))
        .map(|l| l.chars().skip(11).collect::<String>().trim_end().to_owned())
        .collect()
}

/// What the library's screen shows for these events at this size once a
/// replay of them is over: the rows a replay must show.
fn replay_screen(rec: &synack::recording::Recording, w: u16, h: u16) -> String {
    use synack::app::{App, AppEvent, Choice, RunKind};
    use synack::recording::Source;
    let Source::Demo {
        name,
        peers,
        rootless,
        ..
    } = &rec.header.source
    else {
        panic!("not a demo: {:?}", rec.header.source);
    };
    let mut app = App::new(
        synack::i18n::Lang::En,
        RunKind::Idle,
        Choice::all(),
        100_000,
    );
    for ev in [
        AppEvent::DemoStarted {
            name: name.clone(),
            peers: peers.clone(),
            paused: false,
            rootless: *rootless,
            pace: 0.0,
        },
        AppEvent::Replaying {
            kernel: rec.header.kernel.clone(),
            date: rec.header.date().to_owned(),
        },
        AppEvent::Started {
            kernel: rec.header.kernel_states,
        },
        AppEvent::Resize {
            width: w,
            height: h,
        },
        AppEvent::Model(rec.events.clone()),
    ] {
        let _ = app.update(ev);
    }
    let area = ratatui::layout::Rect::new(0, 0, w, h);
    let mut buf = ratatui::buffer::Buffer::empty(area);
    synack::ui::render(
        &mut buf,
        area,
        &app,
        &synack::ui::Palette::new(synack::ui::Theme::Dark, false),
    );
    let mut out = String::new();
    for y in 0..h {
        let mut skip = 0usize;
        for x in 0..w {
            let sym = buf[(x, y)].symbol();
            if skip == 0 {
                out.push_str(sym);
                skip = unicode_width::UnicodeWidthStr::width(sym).max(1);
            }
            skip -= 1;
        }
        out.push('\n');
    }
    out
}

#[test]
fn tui_replay_of_a_recorded_demo_shows_its_rows_as_nobody() {
    require_lab("tui_replay_of_a_recorded_demo_shows_its_rows_as_nobody");
    let t = Tmux::start("replay", 100, 30);
    let bin = own_binary(&t);
    // Recorded on the real stack by whoever runs the tests...
    let file = t.dir.join("kill-peer.synack");
    let rec = crate::support::run_timeout(
        crate::support::synack()
            .args(["demo", "kill-peer", "--json", "--record"])
            .arg(&file),
        LONG * 3,
    );
    assert!(
        rec.status.success(),
        "the recording run failed:\n{}",
        rec.stderr
    );
    let _ = Command::new("chmod").arg("644").arg(&file).status();
    let recording = synack::recording::open(&file).expect("the recording reads");
    // ... and played by nobody, with no lab and no privilege.
    let replay = format!("{} replay {} --pace 0", bin.display(), file.display());
    let line = if is_root() {
        format!("su nobody -s /bin/sh -c '{replay}'")
    } else {
        replay
    };
    t.run(&format!("echo before-synack; {line}; echo exit=$?"));
    let s = t.wait_for("■ end of the script", LONG);
    assert!(s.contains("kill-peer") && s.contains("recorded "), "{s}");
    assert!(s.contains("● replay"), "{s}");
    // The rows the recorded events make, at this size.
    let shown = rows_without_time(&s);
    let expected = rows_without_time(&replay_screen(&recording, 100, 30));
    assert!(shown.len() > 10, "{s}");
    assert_eq!(shown, expected, "the replay's rows differ:\n{s}");
    // The lab's keys say they need a lab.
    t.keys(&["k"]);
    t.wait_for("not available in a replay", LONG);
    t.keys(&["c"]);
    t.wait_for("c: not available in a replay", LONG);
    // Enter: the packet's bytes, recorded with it.
    t.keys(&["Up", "Up", "Enter"]);
    let s = t.wait_for("big-endian", LONG);
    assert!(s.contains("0000  "), "no hex dump:\n{s}");
    t.keys(&["Escape"]);
    // Time travel: back a step, then a step ahead.
    t.keys(&["f", "Left"]);
    t.wait_for("row ", LONG);
    t.keys(&["q"]);
    check_restored(&t, "0");
    wait_gone(&bin);
}
