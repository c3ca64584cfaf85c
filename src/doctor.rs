//! `synack doctor`: what this machine lets synack do, line by line, and the
//! command that turns each "no" into a "yes".
//!
//! [`probe`] asks the machine (and tries the lab for real, in a forked
//! child, so that this process stays where it is); [`decide`] is pure: from
//! those answers to the report. Its tests run on recorded answers.

use std::io;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// How a lab trial ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Trial {
    /// A namespace was made and `lo` came up: the lab runs here.
    Works,
    /// It failed: the lab's own error, as a user would read it.
    Failed { message: String, apparmor: bool },
}

/// What the machine said. Every field is a plain answer, so that tests can
/// record one machine and replay it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Probe {
    pub euid: u32,
    /// This process is in the host's user namespace (its root is the
    /// machine's root, not a namespace's).
    pub host_ns: bool,
    /// The user's name, for commands that name it.
    pub user: Option<String>,
    /// This binary's path.
    pub exe: PathBuf,
    /// `uname -r`.
    pub kernel: String,
    /// The lab tried in a forked child (as this user).
    pub lab: Trial,
    /// `/proc/sys/user/max_user_namespaces`.
    pub max_user_namespaces: Option<String>,
    /// `/proc/sys/kernel/unprivileged_userns_clone` (Debian, older Ubuntu).
    pub unprivileged_userns_clone: Option<String>,
    /// `/proc/sys/kernel/apparmor_restrict_unprivileged_userns` (Ubuntu 23.10+).
    pub apparmor_restrict: Option<String>,
    /// A loaded AppArmor profile for this binary's path, when the list is
    /// readable (root only on most systems).
    pub apparmor_profile: Option<bool>,
    /// This process may open a capture without root (file capabilities).
    pub capture_caps: bool,
    /// tracefs with the `sock:inet_sock_set_state` event, and where.
    pub tracepoint: Option<PathBuf>,
    /// tracefs is mounted at all.
    pub tracefs: bool,
    /// Which of the kernel's other tracepoints synack reads are there, in
    /// a form it can read.
    pub kernel_words: KernelWords,
    /// `newuidmap` is on the PATH.
    pub newuidmap: bool,
    /// `/etc/subuid` gives this user a range.
    pub subuid: bool,
    /// Standard output is a terminal, and its size.
    pub terminal: Option<(u16, u16)>,
    /// `NO_COLOR` is set.
    pub no_color: bool,
    /// `TERM`.
    pub term: Option<String>,
    /// The locale's character set is UTF-8.
    pub utf8: bool,
    /// The defaults file, and whether it was there.
    pub config: Option<(PathBuf, bool)>,
}

/// The kernel's tracepoints beyond the states that this kernel has, each
/// with the fields synack reads (a kernel before a field's version has the
/// event without it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KernelWords {
    /// `tcp:tcp_send_reset` with a reason (Linux 6.10 and later).
    pub resets: bool,
    /// `skb:kfree_skb` with the receiving socket (Linux 6.11 and later).
    pub drops: bool,
    /// `tcp:tcp_retransmit_skb` and `tcp:tcp_retransmit_synack`.
    pub retransmits: bool,
    /// `tcp:tcp_cong_state_set` (Linux 6.2 and later).
    pub cong: bool,
}

/// A check's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Yes,
    No,
    /// Works, with less than the best (a terminal without colour, say).
    Partly,
}

/// One line of the report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Check {
    /// A short stable name (`lab`, `capture`, `tracepoint`, `uidmap`,
    /// `terminal`, `defaults`).
    pub check: &'static str,
    pub verdict: Verdict,
    /// What was found, in a sentence.
    pub says: String,
    /// Commands that would turn it into a yes, best first.
    pub fix: Vec<String>,
}

/// What `synack doctor` prints.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Report {
    pub kernel: String,
    pub uid: u32,
    /// `synack demo` can run here as this user.
    pub demo_runs: bool,
    pub checks: Vec<Check>,
}

/// From the machine's answers to the report.
#[must_use]
pub fn decide(p: &Probe) -> Report {
    let root = p.euid == 0;
    let checks = vec![
        lab_check(p, root),
        capture_check(p, root),
        tracepoint_check(p, root),
        reasons_check(p, root),
        uidmap_check(p, root),
        terminal_check(p),
        defaults_check(p),
    ];
    Report {
        kernel: p.kernel.clone(),
        uid: p.euid,
        demo_runs: p.lab == Trial::Works,
        checks,
    }
}

fn lab_check(p: &Probe, root: bool) -> Check {
    let check = "lab";
    match (&p.lab, root) {
        (Trial::Works, true) => Check {
            check,
            verdict: Verdict::Yes,
            says: "the lab runs as root: its own network namespace, every state from the kernel's tracepoint".into(),
            fix: Vec::new(),
        },
        (Trial::Works, false) => {
            let mut says = "the lab runs without root, in a user namespace (states from polls of the kernel's socket table)".to_owned();
            if p.apparmor_restrict.as_deref() == Some("1") {
                says.push_str("; AppArmor restricts user namespaces, and lets this binary have them");
                if p.apparmor_profile == Some(true) {
                    says.push_str(&format!(
                        " (profile {})",
                        crate::lab::apparmor::name(&p.exe)
                    ));
                }
            }
            Check {
                check,
                verdict: Verdict::Yes,
                says,
                fix: vec!["sudo synack demo …   (for the kernel's tracepoint too)".into()],
            }
        }
        (Trial::Failed { message, .. }, true) => Check {
            check,
            verdict: Verdict::No,
            says: format!("the lab cannot start even as root: {message}"),
            fix: vec![
                "run synack on the host or in a container with CAP_SYS_ADMIN (it makes network namespaces)".into(),
                "synack replay NAME   (a recorded lesson, no lab needed)".into(),
            ],
        },
        (Trial::Failed { message, apparmor }, false) => {
            let mut fix = Vec::new();
            if p.max_user_namespaces.as_deref() == Some("0") {
                fix.push("sudo sysctl -w user.max_user_namespaces=15000".into());
            }
            if p.unprivileged_userns_clone.as_deref() == Some("0") {
                fix.push("sudo sysctl -w kernel.unprivileged_userns_clone=1".into());
            }
            if *apparmor {
                fix.extend(crate::lab::apparmor::fixes(&p.exe));
            } else {
                fix.push("sudo synack demo …   (the lab as root)".into());
            }
            fix.push("synack replay NAME   (a recorded lesson, no lab needed)".into());
            Check {
                check,
                verdict: Verdict::No,
                says: format!("the lab cannot start without root: {message}"),
                fix,
            }
        }
    }
}

fn capture_check(p: &Probe, root: bool) -> Check {
    let check = "capture";
    let exe = p.exe.display();
    if root {
        return Check {
            check,
            verdict: Verdict::Yes,
            says: "`synack watch` can capture: running as root (it gives root up after opening the capture)".into(),
            fix: Vec::new(),
        };
    }
    if p.capture_caps {
        return Check {
            check,
            verdict: Verdict::Yes,
            says: "`synack watch` can capture: this binary has cap_net_raw,cap_net_admin (given up after opening the capture)".into(),
            fix: Vec::new(),
        };
    }
    Check {
        check,
        verdict: Verdict::No,
        says: "`synack watch` needs root or the capture capabilities to open a packet socket"
            .into(),
        fix: vec![
            format!("sudo setcap cap_net_raw,cap_net_admin+eip {exe}"),
            "sudo synack watch …".into(),
        ],
    }
}

fn tracepoint_check(p: &Probe, root: bool) -> Check {
    let check = "tracepoint";
    let root = root && p.host_ns;
    match (&p.tracepoint, root) {
        (Some(at), true) => Check {
            check,
            verdict: Verdict::Yes,
            says: format!(
                "every state change comes from the kernel's sock:inet_sock_set_state tracepoint ({})",
                at.display()
            ),
            fix: Vec::new(),
        },
        (None, true) if !p.tracefs => Check {
            check,
            verdict: Verdict::Partly,
            says: "tracefs is not mounted; synack mounts it at /sys/kernel/tracing when it starts as root".into(),
            fix: vec!["sudo mount -t tracefs nodev /sys/kernel/tracing".into()],
        },
        (None, true) => Check {
            check,
            verdict: Verdict::No,
            says: "this kernel has no sock:inet_sock_set_state tracepoint (Linux 4.16 or later with CONFIG_TRACEPOINTS): states come from polls of the socket table".into(),
            fix: Vec::new(),
        },
        (_, false) => Check {
            check,
            verdict: Verdict::Partly,
            says: "the kernel's tracepoint needs the machine's root: states come from polls of the kernel's socket table, and what happens between two polls is inferred from the packets".into(),
            fix: vec!["sudo synack …".into()],
        },
    }
}

/// The kernel's own word beyond the states: why each RST, why a drop,
/// which retransmissions, the congestion states. Root, on a kernel that
/// has them; each missing one named with the version that brings it.
fn reasons_check(p: &Probe, root: bool) -> Check {
    let check = "reasons";
    let k = p.kernel_words;
    if !(root && p.host_ns) {
        return Check {
            check,
            verdict: Verdict::Partly,
            says: "the kernel's reasons (why each RST was sent, why a segment was dropped, which retransmissions it made, each congestion state) need the machine's root; the lab's peers still report their own TCP_INFO (cwnd, ssthresh, congestion state)".into(),
            fix: vec!["sudo synack …".into()],
        };
    }
    let words = [
        (
            k.resets,
            "why each RST was sent",
            "tcp:tcp_send_reset with a reason: Linux 6.10 or later",
        ),
        (
            k.drops,
            "why a segment was dropped",
            "skb:kfree_skb with rx_sk: Linux 6.11 or later",
        ),
        (
            k.retransmits,
            "which retransmissions it made",
            "tcp:tcp_retransmit_skb and tcp_retransmit_synack",
        ),
        (
            k.cong,
            "each congestion-state change",
            "tcp:tcp_cong_state_set: Linux 6.2 or later",
        ),
    ];
    let have: Vec<&str> = words.iter().filter(|w| w.0).map(|w| w.1).collect();
    let missing: Vec<String> = words
        .iter()
        .filter(|w| !w.0)
        .map(|w| format!("{} ({})", w.1, w.2))
        .collect();
    let (verdict, says) = if missing.is_empty() {
        (Verdict::Yes, format!("the kernel says {}", have.join(", ")))
    } else if have.is_empty() {
        (
            Verdict::No,
            format!(
                "kernel {} says none of: {}; synack shows what the packets and the socket table tell",
                p.kernel,
                missing.join("; ")
            ),
        )
    } else {
        (
            Verdict::Partly,
            format!(
                "the kernel says {}; kernel {} cannot say {}",
                have.join(", "),
                p.kernel,
                missing.join("; ")
            ),
        )
    };
    Check {
        check,
        verdict,
        says,
        fix: Vec::new(),
    }
}

fn uidmap_check(p: &Probe, root: bool) -> Check {
    let check = "uidmap";
    let user = p.user.clone().unwrap_or_else(|| p.euid.to_string());
    let mut fix = Vec::new();
    if !p.newuidmap {
        fix.push("sudo apt-get install uidmap".to_owned());
    }
    if !p.subuid && !root {
        fix.push(format!(
            "sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 {user}"
        ));
    }
    if root {
        return Check {
            check,
            verdict: if p.newuidmap {
                Verdict::Yes
            } else {
                Verdict::Partly
            },
            says: if p.newuidmap {
                "the test suite's rootless half can map users (newuidmap)".into()
            } else {
                "the test suite runs as root here; as an ordinary user it needs newuidmap".into()
            },
            fix,
        };
    }
    let ok = p.newuidmap && p.subuid;
    Check {
        check,
        verdict: if ok { Verdict::Yes } else { Verdict::No },
        says: if ok {
            format!(
                "`cargo test` as {user} can capture in a private namespace (newuidmap, /etc/subuid)"
            )
        } else {
            format!(
                "`cargo test` as {user} needs newuidmap and a range in /etc/subuid to capture in a private namespace"
            )
        },
        fix,
    }
}

fn terminal_check(p: &Probe) -> Check {
    let check = "terminal";
    let Some((w, h)) = p.terminal else {
        return Check {
            check,
            verdict: Verdict::Partly,
            says: "standard output is not a terminal: synack prints text (--text, --json) instead of drawing".into(),
            fix: Vec::new(),
        };
    };
    let mut problems = Vec::new();
    let mut fix = Vec::new();
    if w < 80 || h < 24 {
        problems.push(format!("{w}x{h} is smaller than 80x24"));
        fix.push("make the window at least 80 columns by 24 rows".to_owned());
    }
    if !p.utf8 {
        problems.push("the locale is not UTF-8 (arrows and Chinese need it)".to_owned());
        fix.push("export LANG=C.UTF-8".to_owned());
    }
    let dumb = p
        .term
        .as_deref()
        .is_none_or(|t| t.is_empty() || t == "dumb");
    if dumb {
        problems.push("TERM says the terminal cannot draw".to_owned());
        fix.push("export TERM=xterm-256color".to_owned());
    }
    let colour = if p.no_color {
        "no colour (NO_COLOR is set)"
    } else if p.term.as_deref().is_some_and(|t| t.contains("256color")) {
        "256 colours"
    } else {
        "basic colours"
    };
    if problems.is_empty() {
        Check {
            check,
            verdict: Verdict::Yes,
            says: format!("{w}x{h}, UTF-8, {colour}"),
            fix,
        }
    } else {
        Check {
            check,
            verdict: if dumb { Verdict::No } else { Verdict::Partly },
            says: format!("{w}x{h}, {colour}: {}", problems.join("; ")),
            fix,
        }
    }
}

fn defaults_check(p: &Probe) -> Check {
    let check = "defaults";
    match &p.config {
        Some((path, true)) => Check {
            check,
            verdict: Verdict::Yes,
            says: format!("defaults read from {}", path.display()),
            fix: Vec::new(),
        },
        Some((path, false)) => Check {
            check,
            verdict: Verdict::Yes,
            says: format!(
                "no defaults file ({} would set lang, theme, pace, max_rows)",
                path.display()
            ),
            fix: Vec::new(),
        },
        None => Check {
            check,
            verdict: Verdict::Partly,
            says: "no place for a defaults file: neither XDG_CONFIG_HOME nor HOME is set".into(),
            fix: Vec::new(),
        },
    }
}

/// Writes the report as a person reads it.
///
/// # Errors
/// The output's.
pub fn write_text(out: &mut dyn io::Write, r: &Report) -> io::Result<()> {
    writeln!(
        out,
        "synack doctor: what this machine allows (Linux {}, uid {})\n",
        r.kernel, r.uid
    )?;
    for c in &r.checks {
        let mark = match c.verdict {
            Verdict::Yes => "yes",
            Verdict::No => "no ",
            Verdict::Partly => "~  ",
        };
        writeln!(out, "  {mark}  {:<10}  {}", c.check, c.says)?;
        for (i, f) in c.fix.iter().enumerate() {
            let lead = match (i, c.verdict) {
                (0, Verdict::Yes) => "more:",
                (0, _) => "fix:",
                _ => " or:",
            };
            writeln!(out, "       {:<10}  {lead} {f}", "")?;
        }
    }
    writeln!(out)?;
    if r.demo_runs {
        writeln!(out, "`synack demo` can run here.")?;
    } else {
        writeln!(
            out,
            "`synack demo` cannot run here as this user; `synack replay NAME` plays a recorded lesson anywhere."
        )?;
    }
    Ok(())
}

// ---- asking the machine ----------------------------------------------------

fn knob(path: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_owned())
}

/// Tries the lab in a forked child: the user namespace (without root), a
/// fresh network namespace and `lo` up, exactly as a demo starts. Must be
/// called before any thread exists (as `synack doctor` does first).
#[must_use]
pub fn try_lab() -> Trial {
    let mut fds = [0i32; 2];
    // SAFETY: pipe2 fills two descriptors.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Trial::Failed {
            message: format!("pipe: {}", io::Error::last_os_error()),
            apparmor: false,
        };
    }
    // SAFETY: the descriptors are fresh and ours alone.
    let (rd, wr) = unsafe {
        use std::os::fd::FromRawFd;
        (
            std::fs::File::from_raw_fd(fds[0]),
            std::fs::File::from_raw_fd(fds[1]),
        )
    };
    // SAFETY: the process has one thread (doctor forks before starting
    // any), so the child may allocate and run ordinary code before _exit.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Trial::Failed {
            message: format!("fork: {}", io::Error::last_os_error()),
            apparmor: false,
        };
    }
    if pid == 0 {
        drop(rd);
        let said = match crate::lab::enter_lab().and_then(crate::lab::fresh_net) {
            Ok(()) => "ok\n".to_owned(),
            // The cause alone: the report says what to do.
            Err(crate::lab::LabError::AppArmorRestricted { reason, .. }) => format!("1\n{reason}"),
            Err(crate::lab::LabError::UserNsDenied { reason }) => format!("0\n{reason}"),
            Err(e) => format!("0\n{e}"),
        };
        let mut wr = wr;
        let _ = io::Write::write_all(&mut wr, said.as_bytes());
        // SAFETY: _exit ends the child without running the parent's
        // destructors or atexit handlers twice.
        unsafe { libc::_exit(0) };
    }
    drop(wr);
    let mut said = String::new();
    let _ = io::Read::read_to_string(&mut &rd, &mut said);
    let mut status = 0;
    // SAFETY: pid is our child; status is a valid out-pointer.
    unsafe { libc::waitpid(pid, &raw mut status, 0) };
    if said == "ok\n" {
        return Trial::Works;
    }
    match said.split_once('\n') {
        Some((flag, message)) => Trial::Failed {
            message: message.trim().to_owned(),
            apparmor: flag == "1",
        },
        None => Trial::Failed {
            message: "the trial ended without a word (killed?)".into(),
            apparmor: false,
        },
    }
}

fn on_path(name: &str) -> bool {
    let dirs = std::env::var_os("PATH").unwrap_or_else(|| "/usr/sbin:/usr/bin:/sbin:/bin".into());
    std::env::split_paths(&dirs).any(|d| d.join(name).is_file())
}

fn user_name(uid: u32) -> Option<String> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| {
        let mut f = l.split(':');
        let name = f.next()?;
        let id = f.nth(1)?;
        (id.parse::<u32>().ok()? == uid).then(|| name.to_owned())
    })
}

fn has_subuid(user: Option<&str>, uid: u32) -> bool {
    let Ok(text) = std::fs::read_to_string("/etc/subuid") else {
        return false;
    };
    let uid = uid.to_string();
    text.lines()
        .filter_map(|l| l.split(':').next())
        .any(|who| who == uid || user.is_some_and(|u| u == who))
}

fn terminal_size() -> Option<(u16, u16)> {
    use std::io::IsTerminal;
    if !io::stdout().is_terminal() {
        return None;
    }
    // SAFETY: winsize is plain data; TIOCGWINSZ fills it for a terminal.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: stdout is a terminal and ws a valid winsize.
    let r = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &raw mut ws) };
    (r == 0).then_some((ws.ws_col, ws.ws_row))
}

fn utf8_locale() -> bool {
    let locale = ["LC_ALL", "LC_CTYPE", "LANG"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
        .unwrap_or_default()
        .to_ascii_lowercase();
    locale.contains("utf-8") || locale.contains("utf8")
}

fn apparmor_profile_loaded(exe: &Path) -> Option<bool> {
    let list = std::fs::read_to_string("/sys/kernel/security/apparmor/profiles").ok()?;
    let name = crate::lab::apparmor::name(exe);
    Some(
        list.lines()
            .any(|l| l.split_whitespace().next().is_some_and(|n| n == name)),
    )
}

/// Which of the other tracepoints synack reads this kernel has, read with
/// the parsers the tracer uses (a format without a field synack needs does
/// not count).
fn kernel_words(root: Option<&Path>) -> KernelWords {
    use crate::kernel::trace::{CongLayout, DropLayout, ResetLayout, RetransmitLayout};
    let Some(root) = root else {
        return KernelWords::default();
    };
    let format = |event: &str| std::fs::read_to_string(root.join(event).join("format")).ok();
    let parses = |event: &str, parse: fn(&str) -> bool| format(event).is_some_and(|f| parse(&f));
    KernelWords {
        resets: parses("tcp/tcp_send_reset", |f| ResetLayout::parse(f).is_some()),
        drops: parses("skb/kfree_skb", |f| DropLayout::parse(f).is_some()),
        retransmits: parses("tcp/tcp_retransmit_skb", |f| {
            RetransmitLayout::parse(f).is_some()
        }) && parses("tcp/tcp_retransmit_synack", |f| {
            RetransmitLayout::parse(f).is_some()
        }),
        cong: parses("tcp/tcp_cong_state_set", |f| CongLayout::parse(f).is_some()),
    }
}

fn tracepoint() -> (bool, Option<PathBuf>) {
    let mut mounted = false;
    for root in ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"] {
        let root = Path::new(root);
        if root.join("events").is_dir() {
            mounted = true;
            let format = root.join("events/sock/inet_sock_set_state/format");
            if format.is_file() {
                return (true, Some(format));
            }
        }
    }
    (mounted, None)
}

/// Asks this machine. Forks once (the lab's trial): call before any thread
/// exists. `config` is the defaults file and whether it was found.
#[must_use]
pub fn probe(config: Option<(PathBuf, bool)>) -> Probe {
    let lab = try_lab();
    // SAFETY: a plain getter.
    let euid = unsafe { libc::geteuid() };
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("synack"));
    let (tracefs, tracepoint) = tracepoint();
    // …/events/sock/inet_sock_set_state/format → …/events
    let events = tracepoint
        .as_deref()
        .and_then(|f| f.parent()?.parent()?.parent());
    let kernel_words = kernel_words(events);
    // The host's namespace maps every uid to itself.
    let host_ns = knob("/proc/self/uid_map")
        .is_some_and(|m| m.split_whitespace().collect::<Vec<_>>() == ["0", "0", "4294967295"]);
    let user = user_name(euid);
    Probe {
        euid,
        host_ns,
        subuid: has_subuid(user.as_deref(), euid),
        user,
        kernel: knob("/proc/sys/kernel/osrelease").unwrap_or_else(|| "?".into()),
        lab,
        max_user_namespaces: knob("/proc/sys/user/max_user_namespaces"),
        unprivileged_userns_clone: knob("/proc/sys/kernel/unprivileged_userns_clone"),
        apparmor_restrict: knob("/proc/sys/kernel/apparmor_restrict_unprivileged_userns"),
        apparmor_profile: apparmor_profile_loaded(&exe),
        capture_caps: crate::privilege::capture_capabilities(),
        tracepoint,
        tracefs,
        kernel_words,
        newuidmap: on_path("newuidmap"),
        terminal: terminal_size(),
        no_color: std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()),
        term: std::env::var("TERM").ok(),
        utf8: utf8_locale(),
        config,
        exe,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An ordinary user on a Debian machine where everything is allowed.
    fn debian_user() -> Probe {
        Probe {
            euid: 1000,
            host_ns: true,
            user: Some("ana".into()),
            exe: PathBuf::from("/usr/bin/synack"),
            kernel: "6.18.0".into(),
            lab: Trial::Works,
            max_user_namespaces: Some("63405".into()),
            unprivileged_userns_clone: Some("1".into()),
            apparmor_restrict: None,
            apparmor_profile: None,
            capture_caps: false,
            tracepoint: None,
            tracefs: false,
            kernel_words: KernelWords::default(),
            newuidmap: true,
            subuid: true,
            terminal: Some((120, 40)),
            no_color: false,
            term: Some("xterm-256color".into()),
            utf8: true,
            config: Some((PathBuf::from("/home/ana/.config/synack/config.toml"), false)),
        }
    }

    fn check<'a>(r: &'a Report, name: &str) -> &'a Check {
        r.checks
            .iter()
            .find(|c| c.check == name)
            .unwrap_or_else(|| panic!("no {name} check in {r:?}"))
    }

    #[test]
    fn root_can_do_everything() {
        let p = Probe {
            euid: 0,
            tracepoint: Some(PathBuf::from(
                "/sys/kernel/tracing/events/sock/inet_sock_set_state/format",
            )),
            tracefs: true,
            kernel_words: KernelWords {
                resets: true,
                drops: true,
                retransmits: true,
                cong: true,
            },
            ..debian_user()
        };
        let r = decide(&p);
        assert!(r.demo_runs);
        for name in [
            "lab",
            "capture",
            "tracepoint",
            "reasons",
            "uidmap",
            "terminal",
            "defaults",
        ] {
            assert_eq!(check(&r, name).verdict, Verdict::Yes, "{name}: {r:?}");
        }
    }

    #[test]
    fn an_ordinary_user_gets_the_lab_and_a_command_for_each_no() {
        let r = decide(&debian_user());
        assert!(r.demo_runs);
        assert_eq!(check(&r, "lab").verdict, Verdict::Yes);
        let cap = check(&r, "capture");
        assert_eq!(cap.verdict, Verdict::No);
        assert_eq!(
            cap.fix[0],
            "sudo setcap cap_net_raw,cap_net_admin+eip /usr/bin/synack"
        );
        assert_eq!(check(&r, "tracepoint").verdict, Verdict::Partly);
        // With file capabilities, watch works.
        let r = decide(&Probe {
            capture_caps: true,
            ..debian_user()
        });
        assert_eq!(check(&r, "capture").verdict, Verdict::Yes);
    }

    #[test]
    fn ubuntus_restriction_offers_the_profile_the_sysctl_and_sudo() {
        let p = Probe {
            lab: Trial::Failed {
                message: "writing /proc/self/setgroups: Operation not permitted".into(),
                apparmor: true,
            },
            apparmor_restrict: Some("1".into()),
            ..debian_user()
        };
        let r = decide(&p);
        assert!(!r.demo_runs);
        let lab = check(&r, "lab");
        assert_eq!(lab.verdict, Verdict::No);
        assert!(lab.fix[0].contains("/etc/apparmor.d/synack"), "{lab:?}");
        assert!(lab.fix[0].starts_with("/usr/bin/synack doctor --apparmor-profile"));
        assert!(lab.fix[1].contains("apparmor_restrict_unprivileged_userns=0"));
        assert!(lab.fix[2].starts_with("sudo synack"));
        assert!(lab.fix.iter().any(|f| f.starts_with("synack replay")));
        // With a profile loaded the lab works, and the line says why.
        let r = decide(&Probe {
            apparmor_restrict: Some("1".into()),
            apparmor_profile: Some(true),
            ..debian_user()
        });
        assert!(check(&r, "lab").says.contains("profile synack"), "{r:?}");
    }

    #[test]
    fn user_namespaces_off_say_which_knob() {
        let p = Probe {
            lab: Trial::Failed {
                message: "unshare: No space left on device (os error 28)".into(),
                apparmor: false,
            },
            max_user_namespaces: Some("0".into()),
            ..debian_user()
        };
        let r = decide(&p);
        assert!(!r.demo_runs);
        let lab = check(&r, "lab");
        assert_eq!(lab.fix[0], "sudo sysctl -w user.max_user_namespaces=15000");
        let p = Probe {
            lab: Trial::Failed {
                message: "unshare: Operation not permitted".into(),
                apparmor: false,
            },
            unprivileged_userns_clone: Some("0".into()),
            ..debian_user()
        };
        let lab = decide(&p).checks.remove(0);
        assert_eq!(
            lab.fix[0],
            "sudo sysctl -w kernel.unprivileged_userns_clone=1"
        );
        assert!(lab.fix[1].starts_with("sudo synack demo"));
    }

    #[test]
    fn the_terminal_line_says_what_is_missing() {
        let r = decide(&Probe {
            terminal: Some((70, 20)),
            utf8: false,
            ..debian_user()
        });
        let t = check(&r, "terminal");
        assert_eq!(t.verdict, Verdict::Partly);
        assert!(
            t.says.contains("70x20") && t.says.contains("UTF-8"),
            "{t:?}"
        );
        assert!(t.fix.contains(&"export LANG=C.UTF-8".to_owned()));
        let r = decide(&Probe {
            term: Some("dumb".into()),
            ..debian_user()
        });
        assert_eq!(check(&r, "terminal").verdict, Verdict::No);
        let r = decide(&Probe {
            no_color: true,
            ..debian_user()
        });
        assert!(check(&r, "terminal").says.contains("NO_COLOR"));
    }

    #[test]
    fn the_defaults_line_names_the_file() {
        let mut p = debian_user();
        p.config = Some((PathBuf::from("/home/ana/.config/synack/config.toml"), true));
        let r = decide(&p);
        assert!(
            check(&r, "defaults")
                .says
                .contains("read from /home/ana/.config/synack/config.toml")
        );
    }

    #[test]
    fn the_report_reads_line_by_line() {
        let mut out = Vec::new();
        write_text(&mut out, &decide(&debian_user())).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("  no   capture"), "{text}");
        assert!(text.contains("fix: sudo setcap"), "{text}");
        assert!(text.ends_with("`synack demo` can run here.\n"), "{text}");
    }

    /// Root on an older kernel: the reasons it cannot give are named with
    /// the version that brings them; an ordinary user is told they need root.
    #[test]
    fn an_older_kernel_names_the_reasons_it_cannot_give() {
        let p = Probe {
            euid: 0,
            kernel: "6.8.0".into(),
            tracepoint: Some(PathBuf::from(
                "/sys/kernel/tracing/events/sock/inet_sock_set_state/format",
            )),
            tracefs: true,
            kernel_words: KernelWords {
                resets: false,
                drops: false,
                retransmits: true,
                cong: true,
            },
            ..debian_user()
        };
        let r = decide(&p);
        let c = check(&r, "reasons");
        assert_eq!(c.verdict, Verdict::Partly, "{c:?}");
        assert!(c.says.contains("Linux 6.10 or later"), "{c:?}");
        assert!(c.says.contains("Linux 6.11 or later"), "{c:?}");
        assert!(c.says.contains("kernel 6.8.0"), "{c:?}");
        assert!(!c.says.contains("6.2 or later"), "{c:?}");
        let r = decide(&Probe {
            kernel_words: KernelWords::default(),
            ..p
        });
        assert_eq!(check(&r, "reasons").verdict, Verdict::No);
        let r = decide(&debian_user());
        let c = check(&r, "reasons");
        assert_eq!(c.verdict, Verdict::Partly);
        assert!(c.says.contains("TCP_INFO"), "{c:?}");
        assert_eq!(c.fix, ["sudo synack …"]);
    }
}
