//! What synack gives up after set-up, and how it writes files: started
//! through sudo it runs as the invoking user before the first packet; with
//! file capabilities it drops them all; `--write` files belong to the user,
//! are 0644, never replace a file without `--force` and never follow a link.
//!
//! sudo is represented by what it hands a program: root, with `SUDO_UID` and
//! `SUDO_GID` naming the user (here `nobody`, which every system has).

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::*;

const NOBODY: u32 = 65534;

/// A scratch directory `nobody` may write in.
fn shared_dir(name: &str) -> PathBuf {
    let dir = scratch(name);
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    dir
}

/// `Uid:`, `Gid:`, `CapEff:`… of a process (every thread's for `CapEff`).
fn status(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read /proc/PID/status")
}

fn field<'a>(status: &'a str, name: &str) -> &'a str {
    status
        .lines()
        .find_map(|l| l.strip_prefix(name))
        .unwrap_or_else(|| panic!("no {name} in\n{status}"))
        .trim()
}

/// Every thread's capability sets of `pid`.
fn thread_caps(pid: u32) -> Vec<(String, String, String, String)> {
    let mut caps = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .flatten()
    {
        let Ok(s) = std::fs::read_to_string(task.path().join("status")) else {
            continue;
        };
        caps.push((
            field(&s, "CapEff:").to_owned(),
            field(&s, "CapPrm:").to_owned(),
            field(&s, "CapInh:").to_owned(),
            field(&s, "CapAmb:").to_owned(),
        ));
    }
    caps
}

/// One short conversation on 127.0.0.1:`port`.
fn talk(port: u16) {
    use std::io::{Read, Write};
    let l = std::net::TcpListener::bind(("127.0.0.1", port)).expect("bind");
    let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let (mut s, _) = l.accept().unwrap();
    c.write_all(b"hello").unwrap();
    let mut buf = [0u8; 5];
    s.read_exact(&mut buf).unwrap();
    drop(c);
    drop(s);
}

/// What a watch run looked like one second after it started capturing,
/// while one conversation crossed `port`, and how it ended.
struct Observed {
    pid: u32,
    status: String,
    caps: Vec<(String, String, String, String)>,
    out: String,
    err: String,
}

/// Runs `cmd` (a `synack watch --json … --port PORT`), looks at the process
/// one second after it said it captures, talks on `port`, waits for the end.
fn observe_watch(mut cmd: Command, port: u16) -> Observed {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start synack");
    let err = wait_stderr(&mut child, "capturing on", Duration::from_secs(10));
    std::thread::sleep(Duration::from_secs(1));
    // (Through setpriv too: it execs synack, so the pid is synack's.)
    let status = status(child.id());
    let caps = thread_caps(child.id());
    talk(port);
    let out = read_all(child.stdout.take().unwrap());
    let st = wait_timeout(&mut child, Duration::from_secs(15));
    let err = err.join().unwrap();
    assert!(st.success(), "synack failed: {err}");
    Observed {
        pid: child.id(),
        status,
        caps,
        out,
        err,
    }
}

fn tshark_count(file: &Path) -> usize {
    require_tool("tshark");
    tshark_packets(file).len()
}

#[test]
fn watch_through_sudo_runs_as_the_invoking_user_and_writes_their_file() {
    require_capture("watch_through_sudo_runs_as_the_invoking_user_and_writes_their_file");
    let dir = shared_dir("sudo-watch");
    let pcap = dir.join("watch.pcap");
    let port = free_port();
    let mut cmd = synack();
    cmd.args(["watch", "--json", "--duration", "4", "--port"])
        .arg(port.to_string())
        .arg("--write")
        .arg(&pcap)
        .env("SUDO_UID", NOBODY.to_string())
        .env("SUDO_GID", NOBODY.to_string())
        .env("SUDO_USER", "nobody");
    let Observed {
        pid,
        status: s,
        caps,
        out,
        err,
    } = observe_watch(cmd, port);

    // One second after start: nobody, in every id, with no capability left.
    let n = NOBODY.to_string();
    let all_nobody = format!("{n}\t{n}\t{n}\t{n}");
    assert_eq!(field(&s, "Uid:"), all_nobody, "{s}");
    assert_eq!(field(&s, "Gid:"), all_nobody, "{s}");
    assert_eq!(field(&s, "Groups:"), "", "supplementary groups kept:\n{s}");
    assert_eq!(field(&s, "NoNewPrivs:"), "1", "{s}");
    let zero = "0000000000000000".to_owned();
    for c in &caps {
        assert_eq!(c, &(zero.clone(), zero.clone(), zero.clone(), zero.clone()));
    }
    assert!(err.contains("running as uid 65534"), "not said:\n{err}");

    // It still captured, and its file is the user's.
    let events = json_lines(&out);
    let packets = kind(&events, "packet").len();
    assert!(packets >= 8, "{packets} packets:\n{out}\n{err}");
    let meta = std::fs::metadata(&pcap).expect("the --write file");
    assert_eq!((meta.uid(), meta.gid()), (NOBODY, NOBODY));
    assert_eq!(meta.mode() & 0o777, 0o644, "mode {:o}", meta.mode());
    assert_eq!(
        tshark_count(&pcap),
        packets,
        "the file holds what was shown"
    );

    // The tracefs instance (when there was one) is removed by the process
    // that kept root for it, after synack itself exited.
    let instance = Path::new("/sys/kernel/tracing/instances").join(format!("synack-{pid}"));
    let gone = (0..50).any(|_| {
        std::thread::sleep(Duration::from_millis(50));
        !instance.exists()
    });
    assert!(gone, "{} left behind", instance.display());
}

/// A classic pcap header (microseconds, Ethernet) and `frames` SYNs from
/// 10.0.0.1:40000 to 10.0.0.2:80, one second apart.
fn pcap_of_syns(frames: u32) -> (Vec<u8>, Vec<Vec<u8>>) {
    let mut header = Vec::new();
    header.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    header.extend_from_slice(&2u16.to_le_bytes());
    header.extend_from_slice(&4u16.to_le_bytes());
    header.extend_from_slice(&[0; 8]);
    header.extend_from_slice(&65535u32.to_le_bytes());
    header.extend_from_slice(&1u32.to_le_bytes());
    let mut records = Vec::new();
    for i in 0..frames {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x08, 0x00]);
        // IPv4, 20 + 20 bytes, TCP, checksum left 0 (not checked on read).
        f.extend_from_slice(&[
            0x45, 0, 0, 40, 0, 1, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ]);
        f.extend_from_slice(&40000u16.to_be_bytes());
        f.extend_from_slice(&80u16.to_be_bytes());
        f.extend_from_slice(&(1000 + i).to_be_bytes());
        f.extend_from_slice(&0u32.to_be_bytes());
        f.extend_from_slice(&[0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0]);
        let mut r = Vec::new();
        r.extend_from_slice(&(1_700_000_000 + i).to_le_bytes());
        r.extend_from_slice(&0u32.to_le_bytes());
        r.extend_from_slice(&(f.len() as u32).to_le_bytes());
        r.extend_from_slice(&(f.len() as u32).to_le_bytes());
        r.extend_from_slice(&f);
        records.push(r);
    }
    (header, records)
}

#[test]
fn read_through_sudo_gives_up_root_before_parsing() {
    use std::io::Write;
    let dir = shared_dir("sudo-read");
    // A pipe, fed slowly: synack is looked at while it waits for packet 2.
    let fifo = dir.join("slow.pcap");
    let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid path and mode.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0, "mkfifo");
    let mut child = synack()
        .args(["read", "--json"])
        .arg(&fifo)
        .env("SUDO_UID", NOBODY.to_string())
        .env("SUDO_GID", NOBODY.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run synack");
    let (header, records) = pcap_of_syns(2);
    let mut w = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    w.write_all(&header).unwrap();
    w.write_all(&records[0]).unwrap();
    w.flush().unwrap();
    std::thread::sleep(Duration::from_secs(1));
    let s = status(child.id());
    w.write_all(&records[1]).unwrap();
    drop(w);
    let out = read_all(child.stdout.take().unwrap());
    let st = wait_timeout(&mut child, Duration::from_secs(10));
    assert!(st.success(), "{}", read_all(child.stderr.take().unwrap()));
    assert!(field(&s, "Uid:").starts_with("65534\t65534\t65534"), "{s}");
    assert_eq!(kind(&json_lines(&out), "packet").len(), 2, "{out}");
}

#[test]
fn watch_with_file_capabilities_drops_every_one() {
    require_capture("watch_with_file_capabilities_drops_every_one");
    require_tool("setcap");
    require_tool("setpriv");
    let dir = shared_dir("setcap");
    let bin = dir.join("synack");
    std::fs::copy(env!("CARGO_BIN_EXE_synack"), &bin).expect("copy binary");
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let st = Command::new("setcap")
        .arg("cap_net_raw,cap_net_admin+eip")
        .arg(&bin)
        .status()
        .expect("run setcap");
    assert!(st.success(), "setcap failed");
    let port = free_port();
    let mut cmd = Command::new("setpriv");
    cmd.args(["--reuid", "65534", "--regid", "65534", "--clear-groups"])
        .arg(&bin)
        .args(["watch", "--json", "--duration", "4", "--port"])
        .arg(port.to_string());
    let Observed {
        status: s,
        caps,
        out,
        err,
        ..
    } = observe_watch(cmd, port);
    assert!(field(&s, "Uid:").starts_with("65534"), "{s}");
    assert!(caps.len() >= 2, "threads: {caps:?}");
    let zero = "0000000000000000".to_owned();
    for c in &caps {
        assert_eq!(
            c,
            &(zero.clone(), zero.clone(), zero.clone(), zero.clone()),
            "a thread kept capabilities"
        );
    }
    assert!(err.contains("gave up its capabilities"), "{err}");
    let packets = kind(&json_lines(&out), "packet").len();
    assert!(packets >= 8, "{packets} packets after dropping:\n{err}");
}

#[test]
fn write_never_replaces_a_file_or_follows_a_link_unless_told() {
    require_capture("write_never_replaces_a_file_or_follows_a_link_unless_told");
    let dir = scratch("write-safe");
    let existing = dir.join("kept.pcap");
    std::fs::write(&existing, b"precious").unwrap();
    let out = synack()
        .args(["watch", "--duration", "1", "--port", "9", "--write"])
        .arg(&existing)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("already exists") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(std::fs::read(&existing).unwrap(), b"precious");

    let victim = dir.join("victim");
    std::fs::write(&victim, b"not yours").unwrap();
    let link = dir.join("link.pcap");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    for force in [false, true] {
        let mut cmd = synack();
        cmd.args(["watch", "--duration", "1", "--port", "9", "--write"])
            .arg(&link);
        if force {
            cmd.arg("--force");
        }
        let out = cmd.output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "force={force}");
        assert!(err.contains("symbolic link"), "{err}");
    }
    assert_eq!(std::fs::read(&victim).unwrap(), b"not yours");

    // --force replaces a regular file.
    let out = synack()
        .args([
            "watch",
            "--duration",
            "1",
            "--port",
            "9",
            "--force",
            "--write",
        ])
        .arg(&existing)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_ne!(std::fs::read(&existing).unwrap(), b"precious");
}

#[test]
fn demo_writes_the_labs_packets_for_the_sudo_user() {
    let dir = shared_dir("demo-write");
    let pcap = dir.join("close.pcap");
    let out = synack()
        .args(["demo", "close", "--json", "--write"])
        .arg(&pcap)
        .env("SUDO_UID", NOBODY.to_string())
        .env("SUDO_GID", NOBODY.to_string())
        .output()
        .expect("run synack");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown = kind(&json_lines(&stdout), "packet").len();
    let meta = std::fs::metadata(&pcap).expect("the --write file");
    assert_eq!((meta.uid(), meta.gid()), (NOBODY, NOBODY));
    assert_eq!(meta.mode() & 0o777, 0o644);
    let written = tshark_count(&pcap);
    assert!(
        written >= shown && shown >= 7,
        "the file has {written} packets, the run showed {shown}"
    );
    // A second run keeps the first file.
    let again = synack()
        .args(["demo", "close", "--json", "--write"])
        .arg(&pcap)
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));
    assert_eq!(tshark_count(&pcap), written);
}
