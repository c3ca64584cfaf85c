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
            "-w",
        ])
        .arg(&tcpdump_file)
        .arg(format!("tcp port {port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start tcpdump");
    let td_err = wait_stderr(&mut tcpdump, "listening on", Duration::from_secs(10));
    let mut watch = synack()
        .args(["watch", "--json", "--port", &port.to_string(), "--write"])
        .arg(&written_file)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start synack watch");
    let w_err = wait_stderr(&mut watch, "capturing on lo", Duration::from_secs(10));
    let stdout = watch.stdout.take().unwrap();
    let reader = std::thread::spawn(move || read_all(stdout));

    make_traffic(ip, port);

    interrupt(&watch);
    interrupt(&tcpdump);
    let st = wait_timeout(&mut watch, Duration::from_secs(10));
    let w_err = w_err.join().unwrap();
    assert!(
        st.success(),
        "synack watch exited with {st}; stderr:\n{w_err}"
    );
    wait_timeout(&mut tcpdump, Duration::from_secs(10));
    let td_err = td_err.join().unwrap_or_default();
    assert!(
        td_err
            .lines()
            .any(|l| l.trim() == "0 packets dropped by kernel"),
        "tcpdump lost packets, the comparison would be meaningless:\n{td_err}"
    );
    let live = json_lines(&reader.join().unwrap());
    assert!(
        kind(&live, "warning").is_empty(),
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
    if !require_capture(name) {
        return;
    }
    require_tool("tcpdump");
    require_tool("tshark");
    let c = capture_both(name, ip);
    let ours = synack_packets(&c.live);
    let theirs = tshark_packets(&c.tcpdump_file);
    // 4 connections of at least 3+4 packets each, plus the bulk transfer's segments.
    assert!(
        theirs.len() > 30,
        "tcpdump saw only {} packets",
        theirs.len()
    );
    assert_eq!(
        ours.len(),
        theirs.len(),
        "synack showed {} packets, tcpdump captured {}",
        ours.len(),
        theirs.len()
    );
    for (i, (a, b)) in ours.iter().zip(&theirs).enumerate() {
        assert_eq!(
            a,
            b,
            "packet {} differs: synack {a:?} vs tshark {b:?}",
            i + 1
        );
    }
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

    // `read` of tcpdump's capture gives the same events as the live run
    // (tcpdump's timestamps come from its own ring, a few µs off ours).
    same_packets(
        &read_json(&c.tcpdump_file),
        &c.live,
        0.001,
        "read of tcpdump's file",
    );
    // synack's own --write file reads back identically, timestamps included.
    same_packets(
        &read_json(&c.written_file),
        &c.live,
        0.0,
        "read of the --write file",
    );
    assert_eq!(
        tshark_packets(&c.written_file),
        theirs,
        "tshark reads synack's file differently"
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
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        let mut g2 = (*g).clone();
        let mut w2 = (*w).clone();
        let gt = g2
            .as_object_mut()
            .unwrap()
            .remove("t")
            .unwrap()
            .as_f64()
            .unwrap();
        let wt = w2
            .as_object_mut()
            .unwrap()
            .remove("t")
            .unwrap()
            .as_f64()
            .unwrap();
        assert_eq!(g2, w2, "{what}: packet {} differs", i + 1);
        assert!(
            (gt - wt).abs() <= t_tolerance + 1e-9,
            "{what}: packet {} at t={gt}, live t={wt}",
            i + 1
        );
    }
}
