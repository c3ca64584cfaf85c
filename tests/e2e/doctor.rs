//! `synack doctor` on the real machine, as the suite's user, as `nobody`,
//! and as an ordinary user who may not create user namespaces; and the
//! defaults file, read and overridden by flags.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::support::{host_root, private_synack, run_timeout, scratch, synack};

const LIMIT: Duration = Duration::from_secs(30);

/// The verdict and fixes of one check of a `doctor --json` report.
fn check<'a>(report: &'a Value, name: &str) -> (&'a str, Vec<String>) {
    let c = report["checks"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["check"] == name))
        .unwrap_or_else(|| panic!("no {name} check in {report:#}"));
    let fix = c["fix"]
        .as_array()
        .map(|f| {
            f.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    (c["verdict"].as_str().unwrap_or("?"), fix)
}

fn parse(what: &str, ran: &crate::support::Ran) -> Value {
    serde_json::from_str(&ran.stdout).unwrap_or_else(|e| {
        panic!(
            "{what}: not a JSON report ({e}):\nstdout:\n{}\nstderr:\n{}",
            ran.stdout, ran.stderr
        )
    })
}

#[test]
fn doctor_says_what_this_user_may_do() {
    let ran = run_timeout(synack().args(["doctor", "--json"]), LIMIT);
    let report = parse("synack doctor --json", &ran);
    // The suite runs as root, or as the root of its own user namespace: the
    // lab runs either way.
    assert_eq!(report["demo_runs"], true, "{report:#}");
    assert!(ran.status.success(), "exit {}: {report:#}", ran.status);
    assert_eq!(check(&report, "lab").0, "yes", "{report:#}");
    assert_eq!(check(&report, "capture").0, "yes", "{report:#}");
    let tracepoint = check(&report, "tracepoint").0;
    if host_root() {
        assert_eq!(tracepoint, "yes", "{report:#}");
        // This machine's kernel (6.18) has every tracepoint synack reads.
        assert_eq!(check(&report, "reasons").0, "yes", "{report:#}");
    } else {
        // A namespace's root is not the machine's: no tracefs.
        assert_eq!(tracepoint, "partly", "{report:#}");
    }
    // The text form says the same, a line per check.
    let ran = run_timeout(synack().arg("doctor"), LIMIT);
    assert!(ran.status.success(), "{}", ran.stderr);
    for name in [
        "lab",
        "capture",
        "tracepoint",
        "reasons",
        "uidmap",
        "terminal",
        "defaults",
    ] {
        assert!(
            ran.stdout
                .lines()
                .any(|l| l.split_whitespace().nth(1) == Some(name)),
            "no {name} line:\n{}",
            ran.stdout
        );
    }
    assert!(
        ran.stdout.contains("`synack demo` can run here."),
        "{}",
        ran.stdout
    );
}

#[test]
fn doctor_as_nobody_offers_setcap_for_watch() {
    let exe = private_synack("doctor-nobody");
    let line = format!("{} doctor --json", exe.display());
    let ran = run_timeout(
        Command::new("su").args(["nobody", "-s", "/bin/sh", "-c", &line]),
        LIMIT,
    );
    let report = parse(&format!("su nobody -c '{line}'"), &ran);
    assert_eq!(report["uid"], 65534, "{report:#}");
    // nobody may create user namespaces here (the rootless lab tests rely on it).
    assert_eq!(check(&report, "lab").0, "yes", "{report:#}");
    assert!(ran.status.success(), "exit {}: {report:#}", ran.status);
    let (capture, fix) = check(&report, "capture");
    assert_eq!(capture, "no", "{report:#}");
    assert_eq!(
        fix.first().map(String::as_str),
        Some(
            format!(
                "sudo setcap cap_net_raw,cap_net_admin+eip {}",
                exe.display()
            )
            .as_str()
        ),
        "{report:#}"
    );
    assert_eq!(check(&report, "tracepoint").0, "partly", "{report:#}");
}

/// An ordinary user who cannot create a user namespace: a user namespace of
/// the test's own where `user.max_user_namespaces` is 0, and `nobody` in it.
/// (The host's limit is not changed: the limit holds per namespace.)
#[test]
fn doctor_where_user_namespaces_are_off_says_which_knob_and_fails() {
    let exe = private_synack("doctor-off");
    let dir = scratch("doctor-off-fifo");
    let fifo = dir.join("go");
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(made.success(), "mkfifo {}", fifo.display());
    // sh waits until its namespace has its maps, then starts a shell that is
    // the namespace's root (capabilities are given at exec, by the mapped
    // uid), which sets the limit and becomes nobody to run doctor.
    let script = format!(
        "read go < '{fifo}' && exec sh -c \"echo 0 > /proc/sys/user/max_user_namespaces && \
         exec setpriv --reuid=65534 --regid=65534 --clear-groups '{exe}' doctor --json\"",
        fifo = fifo.display(),
        exe = exe.display()
    );
    let mut child = Command::new("unshare")
        .args(["--user", "sh", "-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("unshare (util-linux) must be installed");
    let pid = child.id();
    // Its maps can be written once it is in its new namespace.
    let ns = |p: &str| std::fs::read_link(format!("/proc/{p}/ns/user")).ok();
    let ours = ns("self");
    let start = std::time::Instant::now();
    while ns(&pid.to_string()) == ours {
        if start.elapsed() > LIMIT {
            let _ = child.kill();
            panic!("unshare --user did not make a user namespace within {LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    // Each map in one write, as the kernel requires.
    for map in ["uid_map", "gid_map"] {
        let path = format!("/proc/{pid}/{map}");
        let wrote = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .and_then(|mut f| f.write_all(b"0 0 1\n65534 65534 1\n"));
        if let Err(e) = wrote {
            let _ = child.kill();
            panic!("writing {path}: {e}");
        }
    }
    std::fs::write(&fifo, "go\n").expect("start the script");
    let out = child.wait_with_output().expect("wait for doctor");
    let ran = crate::support::Ran {
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    let report = parse("doctor without user namespaces", &ran);
    assert_eq!(report["demo_runs"], false, "{report:#}");
    assert_eq!(ran.status.code(), Some(1), "{report:#}\n{}", ran.stderr);
    let (lab, fix) = check(&report, "lab");
    assert_eq!(lab, "no", "{report:#}");
    assert_eq!(
        fix.first().map(String::as_str),
        Some("sudo sysctl -w user.max_user_namespaces=15000"),
        "{report:#}"
    );
    assert!(
        fix.iter().any(|f| f.starts_with("sudo synack demo")),
        "{report:#}"
    );
    let says = report["checks"][0]["says"].as_str().unwrap_or("");
    assert!(says.contains("user.max_user_namespaces is 0"), "{says}");
}

#[test]
fn the_defaults_file_is_read_and_flags_win() {
    let home = scratch("defaults");
    let dir = home.join("synack");
    std::fs::create_dir_all(&dir).expect("config dir");
    std::fs::write(
        dir.join("config.toml"),
        "lang = \"zh\"\ntheme = \"contrast\"\n",
    )
    .expect("write config");
    let explain = |extra: &[&str]| {
        let mut cmd = synack();
        cmd.env("XDG_CONFIG_HOME", &home)
            .args(["explain", "time-wait"])
            .args(extra);
        run_timeout(&mut cmd, LIMIT)
    };
    let zh = explain(&[]);
    assert!(zh.status.success(), "{}", zh.stderr);
    assert!(
        zh.stdout.contains("\n是什么："),
        "not Chinese:\n{}",
        zh.stdout
    );
    let en = explain(&["--lang", "en"]);
    assert!(en.status.success(), "{}", en.stderr);
    assert!(
        en.stdout.contains("\nWhat:\n"),
        "--lang en did not win:\n{}",
        en.stdout
    );
    assert_ne!(zh.stdout, en.stdout, "--lang en did not win over the file");
    // doctor names the file it read.
    let mut cmd = synack();
    cmd.env("XDG_CONFIG_HOME", &home).args(["doctor", "--json"]);
    let report = parse("doctor with a defaults file", &run_timeout(&mut cmd, LIMIT));
    let says = report["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["check"] == "defaults"))
        .and_then(|c| c["says"].as_str())
        .unwrap_or("")
        .to_owned();
    assert!(
        says.contains(&dir.join("config.toml").display().to_string()) && says.contains("read from"),
        "{says}"
    );
    // A bad file stops the run, naming itself and the line.
    std::fs::write(dir.join("config.toml"), "lang = \"zh\"\ncolour = \"red\"\n").expect("write");
    let bad = explain(&[]);
    assert_eq!(bad.status.code(), Some(1), "{}", bad.stderr);
    assert!(
        bad.stderr.contains("config.toml")
            && bad.stderr.contains("line 2")
            && bad.stderr.contains("colour"),
        "{}",
        bad.stderr
    );
}
