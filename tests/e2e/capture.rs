//! `synack watch` and `synack read` against tcpdump and tshark on the same
//! loopback traffic: every packet once, same flags, same relative seq/ack,
//! same lengths and scaled windows, for IPv4 and IPv6.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::Stdio;
use std::time::Duration;

use crate::support::*;

/// Runs the four conversations the issue names on `ip:port`: a normal close,
/// an abortive close (RST), a half-close and a bulk transfer.
fn make_traffic(ip: IpAddr, port: u16) {
    let listener = TcpListener::bind(SocketAddr::new(ip, port)).expect("bind");
    let server = std::thread::spawn(move || {
        // 1. normal close: read a request, answer, wait for the client's FIN, close.
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = [0u8; 64];
        let n = s.read(&mut buf).unwrap();
        s.write_all(&buf[..n]).unwrap();
        assert_eq!(s.read(&mut buf).unwrap(), 0);
        drop(s);
        // 2. RST: the client aborts; the server sees ECONNRESET or EOF.
        let (mut s, _) = listener.accept().unwrap();
        let _ = s.read(&mut buf);
        drop(s);
        // 3. half-close: the client shuts down writing; the server still answers.
        let (mut s, _) = listener.accept().unwrap();
        let mut req = Vec::new();
        s.read_to_end(&mut req).unwrap();
        s.write_all(b"still talking after your FIN").unwrap();
        drop(s);
        // 4. bulk: read 2 MiB.
        let (mut s, _) = listener.accept().unwrap();
        let mut total = 0;
        let mut big = vec![0u8; 1 << 16];
        loop {
            let n = s.read(&mut big).unwrap();
            if n == 0 {
                break;
            }
            total += n;
        }
        assert_eq!(total, 2 << 20);
    });
    let addr = SocketAddr::new(ip, port);
    // 1
    let mut c = TcpStream::connect(addr).unwrap();
    c.write_all(b"hello").unwrap();
    let mut buf = [0u8; 5];
    c.read_exact(&mut buf).unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    let _ = c.read(&mut [0u8; 8]);
    drop(c);
    std::thread::sleep(Duration::from_millis(20));
    // 2: SO_LINGER {on, 0} makes close() send RST.
    let c = TcpStream::connect(addr).unwrap();
    socket2::SockRef::from(&c)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    (&c).write_all(b"bye").unwrap();
    std::thread::sleep(Duration::from_millis(20));
    drop(c);
    std::thread::sleep(Duration::from_millis(20));
    // 3
    let mut c = TcpStream::connect(addr).unwrap();
    c.write_all(b"question").unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    let mut answer = Vec::new();
    c.read_to_end(&mut answer).unwrap();
    assert_eq!(answer, b"still talking after your FIN");
    drop(c);
    std::thread::sleep(Duration::from_millis(20));
    // 4
    let mut c = TcpStream::connect(addr).unwrap();
    let chunk = vec![0x5au8; 1 << 20];
    c.write_all(&chunk).unwrap();
    c.write_all(&chunk).unwrap();
    drop(c);
    server.join().expect("server thread");
    std::thread::sleep(Duration::from_millis(100));
}

struct Captured {
    live: Vec<serde_json::Value>,
    tcpdump_file: std::path::PathBuf,
    written_file: std::path::PathBuf,
}

/// `synack watch` capturing on lo, its stdout and stderr read as it runs.
struct Watch {
    child: std::process::Child,
    stderr: std::thread::JoinHandle<String>,
    stdout: std::thread::JoinHandle<String>,
}

impl Watch {
    /// Starts `synack watch …` (`cmd`) and waits until it says it captures on lo.
    fn start(cmd: &mut std::process::Command) -> Watch {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start synack watch");
        let stderr = wait_stderr(&mut child, "capturing on lo", Duration::from_secs(10));
        let stdout = child.stdout.take().unwrap();
        let stdout = std::thread::spawn(move || read_all(stdout));
        Watch {
            child,
            stderr,
            stdout,
        }
    }

    /// Waits for it to end (10 s at most), checks that it succeeded and
    /// returns what it printed.
    fn finish(mut self) -> String {
        let st = wait_timeout(&mut self.child, Duration::from_secs(10));
        let w_err = self.stderr.join().unwrap();
        assert!(
            st.success(),
            "synack watch exited with {st}; stderr:\n{w_err}"
        );
        self.stdout.join().unwrap()
    }
}

/// Captures the traffic with synack (--json, --write) and tcpdump at once.
fn capture_both(name: &str, ip: IpAddr) -> Captured {
    let dir = scratch(name);
    let port = free_port();
    let tcpdump_file = dir.join("tcpdump.pcap");
    let written_file = dir.join("synack.pcap");
    let mut tcpdump = std::process::Command::new("tcpdump")
        // A small snap length and a big buffer: bulk loopback frames are 64 KiB
        // and tcpdump's default buffer drops them under a fast transfer.
        .args([
            "-i",
            "lo",
            "-n",
            "-U",
            "--immediate-mode",
            "-s",
            "256",
            "-B",
            "32768",
            // Nanoseconds, as synack's own files: frames are compared in
            // time order, and microseconds would tie frames synack orders.
            "--time-stamp-precision",
            "nano",
            "-w",
        ])
        .arg(&tcpdump_file)
        .arg(format!("tcp port {port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start tcpdump");
    let td_err = wait_stderr(&mut tcpdump, "listening on", Duration::from_secs(10));
    let watch = Watch::start(
        synack()
            .args(["watch", "--json", "--port", &port.to_string(), "--write"])
            .arg(&written_file),
    );

    make_traffic(ip, port);

    interrupt(&watch.child);
    interrupt(&tcpdump);
    let printed = watch.finish();
    wait_timeout(&mut tcpdump, Duration::from_secs(10));
    let td_err = td_err.join().unwrap_or_default();
    assert!(
        td_err
            .lines()
            .any(|l| l.trim() == "0 packets dropped by kernel"),
        "tcpdump lost packets, the comparison would be meaningless:\n{td_err}"
    );
    let live = json_lines(&printed);
    // In the test namespace of an ordinary user's run there is no tracepoint,
    // and synack says so; no other warning is expected anywhere.
    let warnings: Vec<_> = kind(&live, "warning")
        .into_iter()
        .filter(|w| {
            host_root()
                || !w["message"]
                    .as_str()
                    .is_some_and(|m| m.starts_with("exact state transitions unavailable"))
        })
        .collect();
    assert!(
        warnings.is_empty(),
        "unexpected warnings: {:?}",
        kind(&live, "warning")
    );
    Captured {
        live,
        tcpdump_file,
        written_file,
    }
}

fn read_json(file: &std::path::Path) -> Vec<serde_json::Value> {
    let out = synack()
        .args(["read", "--json"])
        .arg(file)
        .output()
        .expect("run synack read");
    assert!(
        out.status.success(),
        "synack read failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    json_lines(&String::from_utf8_lossy(&out.stdout))
}

fn check_against_tshark(name: &str, ip: IpAddr) {
    require_capture(name);
    require_tool("tcpdump");
    require_tool("tshark");
    let c = capture_both(name, ip);
    let ours = synack_packets(&c.live);
    let written = tshark_dated(&c.written_file);
    let theirs = tshark_dated(&c.tcpdump_file);
    // 4 connections of at least 3+4 packets each, plus the bulk transfer's segments.
    assert!(
        theirs.len() > 30,
        "tcpdump saw only {} packets",
        theirs.len()
    );
    // synack's dissection is tshark's, frame for frame, in the same (time)
    // order: the frames synack captured, as it wrote them (--write).
    assert_eq!(
        ours.len(),
        written.len(),
        "synack showed {} packets and wrote {}",
        ours.len(),
        written.len()
    );
    for (i, (a, (_, b))) in ours.iter().zip(&written).enumerate() {
        assert_eq!(
            a,
            b,
            "packet {} differs: synack {a:?} vs tshark {b:?} (of synack's --write file)",
            i + 1
        );
    }
    // tcpdump, capturing beside it, saw the same packets at the same times.
    same_frames(&written, &theirs);
    // What the issue names must be there: handshakes, a RST, FINs, data.
    assert!(ours.iter().any(|p| p.flags == ["SYN"]));
    assert!(ours.iter().any(|p| p.flags.contains(&"RST".to_owned())));
    assert!(
        ours.iter()
            .filter(|p| p.flags.contains(&"FIN".to_owned()))
            .count()
            >= 6
    );
    assert!(ours.iter().map(|p| p.len).sum::<u64>() >= 2 << 20);
    // Connection ids: four conversations.
    let conns: std::collections::BTreeSet<u64> = crate::support::kind(&c.live, "packet")
        .iter()
        .map(|e| e["conn"].as_u64().unwrap())
        .collect();
    assert_eq!(conns.len(), 4, "expected 4 connections, got {conns:?}");

    // `read` of tcpdump's file dissects it as tshark does, in the same order.
    let read = synack_packets(&read_json(&c.tcpdump_file));
    let theirs: Vec<TsharkPacket> = theirs.into_iter().map(|(_, p)| p).collect();
    assert_eq!(read.len(), theirs.len(), "read of tcpdump's file");
    for (i, (a, b)) in read.iter().zip(&theirs).enumerate() {
        assert_eq!(a, b, "read of tcpdump's file: packet {} differs", i + 1);
    }
    // synack's own --write file reads back identically, timestamps included.
    same_packets(
        &read_json(&c.written_file),
        &c.live,
        0.0,
        "read of the --write file",
    );
}

/// How far apart two captures beside each other may stamp one frame: each
/// ring stamps a frame as it takes it (a few microseconds apart), and a
/// frame waits its turn behind the other CPU's.
const TWO_CAPTURES_APART_NS: u64 = 2_000_000;

/// Two captures of the same traffic hold the same frames, each stamped
/// within [`TWO_CAPTURES_APART_NS`] of its twin. Their orders may differ
/// where two CPUs handed frames to the rings at once (each ring orders them
/// as it took them, and stamps them then), so each frame is matched with
/// the first unmatched equal frame of the other capture near its time.
fn same_frames(ours: &[(FrameTime, TsharkPacket)], theirs: &[(FrameTime, TsharkPacket)]) {
    assert_eq!(
        ours.len(),
        theirs.len(),
        "synack captured {} packets, tcpdump {}",
        ours.len(),
        theirs.len()
    );
    let nanos = |(s, n): FrameTime| s * 1_000_000_000 + n;
    let mut taken = vec![false; theirs.len()];
    let mut from = 0;
    for (i, (t, p)) in ours.iter().enumerate() {
        let t = nanos(*t);
        while from < theirs.len()
            && (taken[from] || nanos(theirs[from].0) + TWO_CAPTURES_APART_NS < t)
        {
            assert!(
                taken[from],
                "tcpdump's packet {} ({:?}) has no twin in synack's capture near its time",
                from + 1,
                theirs[from].1
            );
            from += 1;
        }
        let twin = (from..theirs.len())
            .take_while(|j| nanos(theirs[*j].0) <= t + TWO_CAPTURES_APART_NS)
            .find(|j| !taken[*j] && theirs[*j].1 == *p);
        let Some(j) = twin else {
            panic!(
                "synack's packet {} ({p:?}) has no twin in tcpdump's capture within {} ms; \
                 tcpdump's packets there: {:#?}",
                i + 1,
                TWO_CAPTURES_APART_NS / 1_000_000,
                theirs[from..].iter().take(6).collect::<Vec<_>>()
            )
        };
        taken[j] = true;
    }
}

/// A port that has a listener before the watch starts: its first `queue`
/// line comes once (the listeners' own walk and the full walk with the
/// namespace's counters both see it at the start), and no later line repeats
/// the one before it.
#[test]
fn watch_of_a_listening_port_shows_each_queue_line_once() {
    require_capture("watch_of_a_listening_port_shows_each_queue_line_once");
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
    let addr = listener.local_addr().unwrap();
    let watch = Watch::start(
        synack()
            .args(["watch", "--json", "--duration", "2", "--port"])
            .arg(addr.port().to_string()),
    );
    std::thread::sleep(Duration::from_millis(300));
    // Two connections wait in the accept queue, then are taken.
    let a = TcpStream::connect(addr).unwrap();
    let b = TcpStream::connect(addr).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let taken: Vec<_> = (0..2).map(|_| listener.accept().unwrap()).collect();
    std::thread::sleep(Duration::from_millis(300));
    drop((a, b, taken));
    let live = json_lines(&watch.finish());
    let queues: Vec<String> = kind(&live, "queue").iter().map(|q| q.to_string()).collect();
    assert!(
        queues.len() >= 2,
        "the listener's queue (empty, then two waiting) should be shown: {queues:#?}"
    );
    let repeated = repeated_queue_lines(&live);
    assert!(
        repeated.is_empty(),
        "queue lines repeating the one before: {repeated:#?}\nall queue lines: {queues:#?}"
    );
}

#[test]
fn watch_matches_tshark_ipv4() {
    check_against_tshark("watch_v4", IpAddr::V4(Ipv4Addr::LOCALHOST));
}

#[test]
fn watch_matches_tshark_ipv6() {
    check_against_tshark("watch_v6", IpAddr::V6(Ipv6Addr::LOCALHOST));
}

/// Every packet event equal, field by field, with `t` within `t_tolerance`.
fn same_packets(
    got: &[serde_json::Value],
    want: &[serde_json::Value],
    t_tolerance: f64,
    what: &str,
) {
    let got = kind(got, "packet");
    let want = kind(want, "packet");
    assert_eq!(
        got.len(),
        want.len(),
        "{what}: {} packets, live had {}",
        got.len(),
        want.len()
    );
    // `t` counts from each run's first event, which may not be a packet.
    let t0 = |v: &[&serde_json::Value]| v.first().map_or(0.0, |e| e["t"].as_f64().unwrap());
    let (g0, w0) = (t0(&got), t0(&want));
    // The event without its `t`, and that `t`. Without the kernel's word
    // on the packet too (why it sent a RST, why it dropped a segment,
    // whether it resent one): a capture file cannot carry it, so only the
    // live run has it (rule 3 checks where it sits).
    let split = |e: &serde_json::Value| {
        let mut e = e.clone();
        for k in ["rst_reason", "drop_reason", "retransmit"] {
            e.as_object_mut().unwrap().remove(k);
        }
        let t = e
            .as_object_mut()
            .unwrap()
            .remove("t")
            .unwrap()
            .as_f64()
            .unwrap();
        (e, t)
    };
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        let (g2, gt) = split(g);
        let (w2, wt) = split(w);
        assert_eq!(g2, w2, "{what}: packet {} differs", i + 1);
        let (gt, wt) = (gt - g0, wt - w0);
        assert!(
            (gt - wt).abs() <= t_tolerance + 2e-6,
            "{what}: packet {} at t={gt}, live t={wt}",
            i + 1
        );
    }
}

/// A copy of the binary that `nobody` can run.
fn binary_for_nobody(name: &str) -> std::path::PathBuf {
    let dir = scratch(name);
    let bin = dir.join("synack");
    std::fs::copy(env!("CARGO_BIN_EXE_synack"), &bin).expect("copy binary");
    for p in [&dir, &bin] {
        std::process::Command::new("chmod")
            .arg("755")
            .arg(p)
            .status()
            .expect("chmod");
    }
    bin
}

#[test]
fn watch_without_permission_says_what_to_do() {
    assert!(
        is_root(),
        "needs root (the host's or the test namespace's) to become nobody"
    );
    let bin = binary_for_nobody("noperm");
    let out = std::process::Command::new("su")
        .args(["nobody", "-s", "/bin/sh", "-c"])
        .arg(format!("{} watch --port 9 --duration 1", bin.display()))
        .output()
        .expect("run su");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "capture as nobody succeeded?\n{err}");
    assert!(err.contains("sudo"), "no hint about sudo:\n{err}");
    assert!(
        err.contains("setcap cap_net_raw"),
        "no hint about setcap:\n{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn unknown_interface_lists_the_interfaces() {
    require_capture("unknown_interface_lists_the_interfaces");
    let out = synack()
        .args(["watch", "--iface", "nosuchif0", "--duration", "1"])
        .output()
        .expect("run synack");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("nosuchif0"), "{err}");
    assert!(err.contains("lo"), "the interfaces are not listed:\n{err}");
}

#[test]
fn read_rejects_what_is_not_a_capture() {
    let dir = scratch("notacap");
    let f = dir.join("notes.txt");
    std::fs::write(&f, "these are not packets\n").unwrap();
    let out = synack().arg("read").arg(&f).output().expect("run synack");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("notes.txt"), "the file is not named:\n{err}");
    assert!(!err.contains("panicked"), "{err}");
    let missing = synack()
        .args(["read", "/nonexistent/x.pcap"])
        .output()
        .unwrap();
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/x.pcap"));
}

/// A pcap with a good handshake segment, frames with broken headers, and a
/// TCP segment whose options run past its header: nothing stops the run,
/// the broken frames are counted in a warning, the odd one is noted.
#[test]
fn read_reports_malformed_frames_and_goes_on() {
    fn frame(tcp_header: &[u8], ip_total_len: u16) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x08, 0x00]);
        let mut ip = vec![
            0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 6, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1,
        ];
        ip[2..4].copy_from_slice(&ip_total_len.to_be_bytes());
        f.extend_from_slice(&ip);
        f.extend_from_slice(tcp_header);
        f
    }
    let mut syn = vec![
        0xc3, 0x50, 0x1b, 0x58, 0, 0, 0, 100, 0, 0, 0, 0, 0x60, 0x02, 0xff, 0xff, 0, 0, 0, 0,
    ];
    syn.extend_from_slice(&[2, 4, 0x05, 0xb4]); // MSS 1460
    let good = frame(&syn, 20 + 24);
    let mut bad_opt = syn.clone();
    bad_opt[20..24].copy_from_slice(&[8, 30, 0, 0]); // timestamps option longer than the header
    let odd = frame(&bad_opt, 20 + 24);
    let truncated = good[..30].to_vec();
    let mut tiny_offset = syn.clone();
    tiny_offset[12] = 0x20; // data offset 2 words
    let low = frame(&tiny_offset, 20 + 24);

    let dir = scratch("malformed");
    let path = dir.join("bad.pcap");
    let mut bytes = Vec::new();
    bytes.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    bytes.extend_from_slice(&2u16.to_le_bytes());
    bytes.extend_from_slice(&4u16.to_le_bytes());
    bytes.extend_from_slice(&0u32.to_le_bytes());
    bytes.extend_from_slice(&0u32.to_le_bytes());
    bytes.extend_from_slice(&65535u32.to_le_bytes());
    bytes.extend_from_slice(&1u32.to_le_bytes());
    for (i, f) in [&good, &truncated, &low, &odd].iter().enumerate() {
        bytes.extend_from_slice(&1_700_000_000u32.to_le_bytes());
        bytes.extend_from_slice(&(i as u32 * 1000).to_le_bytes());
        bytes.extend_from_slice(&(f.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&(f.len() as u32).to_le_bytes());
        bytes.extend_from_slice(f);
    }
    std::fs::write(&path, bytes).unwrap();
    let out = synack()
        .args(["read", "--json"])
        .arg(&path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events = json_lines(&text);
    let packets = kind(&events, "packet");
    assert_eq!(
        packets.len(),
        2,
        "the good SYN and the one with a bad option:\n{text}"
    );
    assert_eq!(packets[0]["options"], serde_json::json!(["mss=1460"]));
    assert!(
        packets[1]["notes"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("malformed"))
    );
    let warnings = kind(&events, "warning");
    assert_eq!(warnings.len(), 2, "one warning per rejected frame:\n{text}");
    assert!(
        warnings[1]["message"]
            .as_str()
            .unwrap()
            .contains("2 so far"),
        "{text}"
    );
}

#[test]
fn text_output_is_one_line_per_event_and_sanitized() {
    // A user's script text is echoed in call args: control characters must
    // not reach the terminal.
    let dir = scratch("sanitize");
    let f = dir.join("evil.txt");
    std::fs::write(
        &f,
        "# escape test\nserver listen\nclient connect\nclient write \"\u{1b}[2J\u{7}\"\n",
    )
    .unwrap();
    let out = synack()
        .args(["demo", "--text", "--script"])
        .arg(&f)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        text.lines().any(|l| l.contains("write(")),
        "no write call shown:\n{text}"
    );
    assert!(
        !text.contains('\u{1b}') && !text.contains('\u{7}'),
        "a control character reached the output:\n{text}"
    );
}

/// Issue 11: the loss captures' notes against tshark run now (tests/loss.rs
/// checks them against its recorded output without tshark). Also proves the
/// recorded output is still what tshark says.
#[test]
fn loss_notes_match_tshark_run_now() {
    require_tool("tshark");
    for name in crate::loss::CAPTURES {
        let now = crate::loss::tshark_now(&crate::loss::fixture(name, "pcap"));
        let recorded = std::fs::read_to_string(crate::loss::fixture(name, "tshark")).unwrap();
        assert_eq!(
            now, recorded,
            "{name}: tshark now differs from {name}.tshark"
        );
        crate::loss::compare(name, &now);
    }
}

/// Live, under real loss: the `loss` demo's own capture (its link drops
/// segments after the capture tap), as synack showed it while it ran,
/// against tshark's analysis of the same packets (`--write`), frame by
/// frame. The file also holds the packets of the lab's teardown, which the
/// run does not show: the comparison covers the frames shown.
#[test]
fn live_capture_under_loss_gives_tsharks_notes() {
    require_capture("live_capture_under_loss_gives_tsharks_notes");
    require_tool("tshark");
    let dir = scratch("live-loss");
    let pcap = dir.join("loss.pcap");
    let out = synack()
        .args(["demo", "loss", "--json", "--write"])
        .arg(&pcap)
        .output()
        .expect("run synack demo loss");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut ours = crate::loss::frames_of_json(&String::from_utf8(out.stdout).unwrap());
    // `lost` is the lab's word (its filter dropped the segment after the
    // capture tap), which no capture can tell tshark: checked, then set aside.
    let lost = ours
        .iter()
        .filter(|(f, _)| f.notes.contains("lost"))
        .count();
    assert_eq!(lost, 2, "the 5th segment and its fast retransmission");
    for (f, _) in &mut ours {
        f.notes.remove("lost");
    }
    let theirs = crate::loss::tshark_frames(&crate::loss::tshark_now(&pcap));
    assert!(
        ours.len() >= 20 && theirs.len() >= ours.len(),
        "shown {} packets, the file has {}",
        ours.len(),
        theirs.len()
    );
    // What makes the comparison worth something: the loss is there.
    let notes: std::collections::BTreeSet<&str> = ours
        .iter()
        .flat_map(|(f, _)| f.notes.iter().map(String::as_str))
        .collect();
    for n in ["fast_retransmission", "dup_ack", "retransmission"] {
        assert!(notes.contains(n), "no {n} in the live run: {notes:?}");
    }
    crate::loss::compare_frames("live loss demo", &theirs[..ours.len()], &ours);
}
