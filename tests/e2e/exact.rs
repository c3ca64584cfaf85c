//! The tests that need the host's root: they compare synack with the
//! kernel's `sock:inet_sock_set_state` tracepoint, which only the host's root
//! can read (tracefs is not reachable from a user namespace). Built only into
//! `tests/host_root.rs`, whose harness reports each as ignored, with that
//! reason, anywhere else.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::Duration;

use synack::kernel::trace::{StateTracer, Traced};
use synack::model::reports::Transition;
use synack::tcp::TcpState;
use synack::time::Timestamp;

use crate::states::*;
use crate::support::*;

/// Every test of this file, by name.
pub const TESTS: &[(&str, fn())] = &[
    (
        "tracer_traces_a_connection_on_ipv4_and_ipv6",
        tracer_traces_a_connection_on_ipv4_and_ipv6,
    ),
    ("demo_close_paths_as_root", demo_close_paths_as_root),
    (
        "demo_abort_closes_without_time_wait",
        demo_abort_closes_without_time_wait,
    ),
    (
        "demo_simultaneous_close_closing_on_both_sides",
        demo_simultaneous_close_closing_on_both_sides,
    ),
    ("watch_agrees_with_tracepoint", watch_agrees_with_tracepoint),
    (
        "tracer_reports_why_the_kernel_reset",
        tracer_reports_why_the_kernel_reset,
    ),
    (
        "demo_refused_rst_says_no_socket",
        demo_refused_rst_says_no_socket,
    ),
    ("demo_kill_peer_rsts_say_why", demo_kill_peer_rsts_say_why),
    (
        "demo_abort_rst_says_tcp_state",
        demo_abort_rst_says_tcp_state,
    ),
    (
        "demo_keepalive_rst_says_keepalive_timeout",
        demo_keepalive_rst_says_keepalive_timeout,
    ),
    (
        "watch_kernel_states_were_made_by_the_kernel",
        watch_kernel_states_were_made_by_the_kernel,
    ),
    (
        "demo_congestion_states_come_in_order_as_root",
        crate::congestion::demo_congestion_states_come_in_order_as_root,
    ),
    (
        "demo_backlog_abort_drops_equal_listen_overflows",
        demo_backlog_abort_drops_equal_listen_overflows,
    ),
    (
        "demo_loss_every_retransmission_tshark_sees_is_the_kernels",
        demo_loss_every_retransmission_tshark_sees_is_the_kernels,
    ),
    (
        "demo_backlog_syn_drops_are_not_guessed",
        demo_backlog_syn_drops_are_not_guessed,
    ),
    (
        "tracer_reports_drops_and_retransmissions_of_its_ports_only",
        tracer_reports_drops_and_retransmissions_of_its_ports_only,
    ),
];

/// The tracer alone, on one connection per address family: each side's
/// transitions, in order, with wall-clock times, and the instance removed.
pub fn tracer_traces_a_connection_on_ipv4_and_ipv6() {
    trace_one_connection("127.0.0.1:0".parse().unwrap());
    trace_one_connection("[::1]:0".parse().unwrap());
}

/// Transitions of one socket, in order.
fn of(ts: &[Transition], local: SocketAddr, remote: SocketAddr) -> Vec<(TcpState, TcpState)> {
    ts.iter()
        .filter(|t| t.local == local && t.remote == remote)
        .map(|t| (t.from, t.to))
        .collect()
}

fn trace_one_connection(listen: SocketAddr) {
    use TcpState::*;
    let listener = TcpListener::bind(listen).unwrap();
    let addr = listener.local_addr().unwrap();
    let port = addr.port();
    let (tx, rx) = mpsc::channel();
    let started = Timestamp::now();
    let tracer = StateTracer::start(&[port], move |t: Traced| {
        let _ = tx.send(t.transitions);
    })
    .unwrap_or_else(|e| panic!("tracer unavailable as the host's root: {e}"));
    let instance = tracer.instance().to_owned();
    assert!(instance.is_dir());
    // Traffic on another port must not come back.
    let other = TcpListener::bind(listen).unwrap();
    let _other_client = TcpStream::connect(other.local_addr().unwrap()).unwrap();

    let client = TcpStream::connect(addr).unwrap();
    let (server, peer) = listener.accept().unwrap();
    let client_addr = client.local_addr().unwrap();
    assert_eq!(peer, client_addr);
    drop(client); // active close
    std::thread::sleep(Duration::from_millis(50));
    drop(server); // passive close
    // Wait (bounded) for both sockets' last transition to CLOSED.
    let mut got: Vec<Transition> = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while got
        .iter()
        .filter(|t| t.to == Closed && t.remote.port() != 0)
        .count()
        < 2
        && std::time::Instant::now() < deadline
    {
        got.extend(
            rx.recv_timeout(Duration::from_millis(100))
                .into_iter()
                .flatten(),
        );
    }
    drop(tracer);
    assert!(!instance.exists(), "the instance is removed on drop");
    let finished = Timestamp::now();
    got.extend(rx.try_iter().flatten());

    assert!(
        got.iter()
            .all(|t| t.local.port() == port || t.remote.port() == port || t.local.port() == 0),
        "{got:#?}"
    );
    assert!(
        got.iter().all(|t| started <= t.ts && t.ts <= finished),
        "wall-clock timestamps: {got:#?}"
    );
    // The client: CLOSED → SYN-SENT is logged with local port 0; its skaddr ties it to the rest.
    let client_log = of(&got, client_addr, addr);
    assert_eq!(
        client_log,
        [
            (SynSent, Established),
            (Established, FinWait1),
            (FinWait1, FinWait2),
            (FinWait2, Closed)
        ],
        "{got:#?}"
    );
    let sk = got.iter().find(|t| t.local == client_addr).unwrap().skaddr;
    let first = got.iter().find(|t| t.skaddr == sk).unwrap();
    assert_eq!(
        (first.from, first.to, first.local.port()),
        (Closed, SynSent, 0)
    );
    assert_eq!(first.remote, addr);
    assert_eq!(
        of(&got, addr, client_addr),
        [
            (Listen, SynReceived),
            (SynReceived, Established),
            (Established, CloseWait),
            (CloseWait, LastAck),
            (LastAck, Closed)
        ],
        "{got:#?}"
    );
    // Each side's transitions are in time order.
    assert!(got.windows(2).all(|w| w[0].ts <= w[1].ts));
}

pub fn demo_close_paths_as_root() {
    require_kernel("demo_close_paths_as_root");
    let d = demo_root("close");
    let (cl, srv) = conn_sockets(&d, "client");
    let client = of_socket(&d.states, &cl, Some(&srv));
    assert_path(&client, &CLIENT_CLOSE_PATH, "close: client", &d.states);
    assert!(
        client.iter().all(|s| s.endpoint == "client"),
        "close: the client socket's events should say endpoint client:\n{}",
        dump(&d.states)
    );
    assert_all_kernel(&client, "close: client", &d.states);
    let tw = client.last().unwrap();
    let timer = tw
        .timer
        .unwrap_or_else(|| panic!("close: client TIME-WAIT without a timer: {tw}"));
    assert!(
        (timer - 60.0).abs() <= 1.0,
        "close: client TIME-WAIT timer {timer}, expected ≈ 60 s: {tw}"
    );

    let server = of_socket(&d.states, &srv, Some(&cl));
    assert_path(&server, &SERVER_CLOSE_PATH, "close: server", &d.states);
    assert!(
        server.iter().all(|s| s.endpoint == "server"),
        "close: the server's connection events should say endpoint server:\n{}",
        dump(&d.states)
    );
    assert_all_kernel(&server, "close: server", &d.states);

    let listener = of_socket(&d.states, &srv, None);
    let listen: Vec<&St> = listener
        .iter()
        .copied()
        .filter(|s| s.to == "LISTEN")
        .collect();
    assert!(
        !listen.is_empty() && listen.iter().all(|s| s.endpoint == "listener"),
        "close: expected the listener (endpoint listener, remote null) in LISTEN; states:\n{}",
        dump(&d.states)
    );
    assert_all_kernel(&listen, "close: listener", &d.states);
    assert_timeline(&d, "close");
}

pub fn demo_abort_closes_without_time_wait() {
    require_kernel("demo_abort_closes_without_time_wait");
    let d = demo_root("abort");
    let (cl, srv) = conn_sockets(&d, "client");
    let client = of_socket(&d.states, &cl, Some(&srv));
    check_abort(&d, &client, true);
    assert_timeline(&d, "abort");
}

pub fn demo_simultaneous_close_closing_on_both_sides() {
    require_kernel("demo_simultaneous_close_closing_on_both_sides");
    // Every run: both FINs cross and both sides go through CLOSING.
    let d = fins_cross_every_run(|| {
        let d = demo_root("simultaneous-close");
        check_simultaneous(&d, true);
        d
    });
    assert_timeline(&d, "simultaneous-close");
}

pub fn watch_agrees_with_tracepoint() {
    require_kernel("watch_agrees_with_tracepoint");
    let run = host_run();
    let expected = reference_expected(run);
    // The reference must have seen what the traffic did, or the test proves nothing.
    let count = |to: &str| expected.iter().filter(|r| r.new == to).count();
    assert!(
        count("SYN-SENT") == 4
            && count("SYN-RECEIVED") == 4
            && count("TIME-WAIT") == 2
            && count("LISTEN") == 1,
        "the reference tracer did not record the test's traffic (4 connects, 2 TIME-WAIT, 1 listener):\n{}\nss:\n{}",
        run.trace_text,
        run.ss_text
    );
    let missing: Vec<String> = expected
        .iter()
        .filter(|r| {
            !run.states.iter().any(|s| {
                s.source == "kernel" && s.local == r.local && s.remote == r.remote && s.to == r.new
            })
        })
        .map(|r| {
            format!(
                "  {} -> {}: {} → {}   (trace: {})",
                r.local,
                r.remote.as_deref().unwrap_or("-"),
                r.old,
                r.new,
                r.line
            )
        })
        .collect();
    assert!(
        missing.is_empty(),
        "port {}: transitions the kernel made that synack did not show as kernel state events:\n{}\nsynack's state events:\n{}\nwarnings: {:?}\nsynack stderr:\n{}",
        run.port,
        missing.join("\n"),
        dump(&run.states),
        kind(&run.events, "warning"),
        run.stderr
    );
    let p = timeline_problems(&run.states);
    assert!(
        p.is_empty(),
        "watch: inconsistent timelines:\n{}",
        p.join("\n")
    );
}

/// The converse: no kernel-sourced state the kernel never entered.
pub fn watch_kernel_states_were_made_by_the_kernel() {
    require_kernel("watch_kernel_states_were_made_by_the_kernel");
    let run = host_run();
    let expected = reference_expected(run);
    assert!(
        run.states.iter().any(|s| s.source == "kernel"),
        "port {}: synack showed no kernel-sourced state at all as root:\n{}\nwarnings: {:?}\nstderr:\n{}",
        run.port,
        dump(&run.states),
        kind(&run.events, "warning"),
        run.stderr
    );
    let invented: Vec<String> = run
        .states
        .iter()
        .filter(|s| s.source == "kernel")
        .filter(|s| {
            !expected
                .iter()
                .any(|r| r.local == s.local && r.remote == s.remote && r.new == s.to)
        })
        .map(|s| format!("  {s}"))
        .collect();
    assert!(
        invented.is_empty(),
        "port {}: synack showed kernel states the reference tracer never recorded:\n{}\nall of synack's states:\n{}\nreference:\n{}",
        run.port,
        invented.join("\n"),
        dump(&run.states),
        run.trace_text
    );
}

// ---------------------------------------------------------------------------
// Why each RST was sent (tcp:tcp_send_reset).

/// The tracer alone: a connect to a port where nobody listens, on IPv4 and
/// IPv6. The kernel's reset has no socket; its addresses are the SYN's,
/// reversed, and its reason is NO_SOCKET. Another port's reset does not
/// come back.
pub fn tracer_reports_why_the_kernel_reset() {
    for any in ["127.0.0.1:0", "[::1]:0"] {
        let any: SocketAddr = any.parse().unwrap();
        // A port nobody listens on: bound, never listened.
        let closed = std::net::TcpListener::bind(any).unwrap();
        let addr = closed.local_addr().unwrap();
        drop(closed);
        let other = std::net::TcpListener::bind(any).unwrap();
        let other_addr = other.local_addr().unwrap();
        drop(other);
        let (tx, rx) = mpsc::channel();
        let tracer = StateTracer::start(&[addr.port()], move |t: Traced| {
            let _ = tx.send(t.resets);
        })
        .unwrap_or_else(|e| panic!("tracer unavailable as the host's root: {e}"));
        assert!(
            tracer.traces_resets(),
            "this kernel has tcp_send_reset with a reason"
        );
        let started = Timestamp::now();
        let refused = TcpStream::connect(other_addr);
        assert!(refused.is_err(), "{other_addr}: {refused:?}");
        let refused = TcpStream::connect(addr);
        assert!(refused.is_err(), "{addr}: {refused:?}");
        let mut got = Vec::new();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while got.is_empty() && std::time::Instant::now() < deadline {
            got.extend(
                rx.recv_timeout(Duration::from_millis(100))
                    .into_iter()
                    .flatten(),
            );
        }
        std::thread::sleep(Duration::from_millis(100));
        drop(tracer);
        got.extend(rx.try_iter().flatten());
        let ours: Vec<_> = got.iter().filter(|r| r.src == addr).collect();
        assert_eq!(ours.len(), 1, "{got:#?}");
        let r = ours[0];
        assert_eq!(r.reason, "NO_SOCKET", "{r:?}");
        assert_eq!(r.dst.ip(), addr.ip(), "{r:?}");
        assert!(
            r.dst.port() != 0 && started <= r.ts && r.ts <= Timestamp::now(),
            "{r:?}"
        );
        assert!(
            got.iter()
                .all(|r| r.src.port() == addr.port() || r.dst.port() == addr.port()),
            "another port's reset came back: {got:#?}"
        );
    }
}

/// The RST packets of a run, as (src, dst, reason), each with the line
/// that showed it; fails unless every RST says why.
fn rst_reasons(d: &Demo, name: &str) -> Vec<(String, String, String)> {
    let rsts: Vec<&serde_json::Value> = kind(&d.events, "packet")
        .into_iter()
        .filter(|p| {
            p["flags"]
                .as_array()
                .is_some_and(|f| f.iter().any(|x| x == "RST"))
        })
        .collect();
    assert!(
        !rsts.is_empty(),
        "{name}: no RST at all:\n{}",
        dump(&d.states)
    );
    let missing: Vec<String> = rsts
        .iter()
        .filter(|p| !p["rst_reason"].is_string())
        .map(|p| format!("  {p}"))
        .collect();
    assert!(
        missing.is_empty(),
        "{name}: as root every RST says why the kernel sent it; these do not:\n{}\nstderr:\n{}",
        missing.join("\n"),
        d.stderr
    );
    rsts.iter()
        .map(|p| {
            let s = |k: &str| p[k].as_str().unwrap_or_default().to_owned();
            (s("src"), s("dst"), s("rst_reason"))
        })
        .collect()
}

/// `demo refused`: the SYN to a closed port is answered by a reset with no
/// socket behind it.
pub fn demo_refused_rst_says_no_socket() {
    require_kernel("demo_refused_rst_says_no_socket");
    let d = demo_root("refused");
    let reasons = rst_reasons(&d, "refused");
    let client = connect_local_or_syn(&d);
    assert_eq!(
        reasons,
        [("127.0.0.1:7000".to_owned(), client, "NO_SOCKET".to_owned())],
        "refused"
    );
}

/// The client's address: its SYN's source (a refused connect() reports none).
fn connect_local_or_syn(d: &Demo) -> String {
    kind(&d.events, "packet")
        .into_iter()
        .find(|p| {
            p["flags"]
                .as_array()
                .is_some_and(|f| f.len() == 1 && f[0] == "SYN")
        })
        .and_then(|p| p["src"].as_str().map(str::to_owned))
        .unwrap_or_else(|| panic!("no SYN:\n{}", dump(&d.states)))
}

/// `demo kill-peer`: the first act's RST answers the server's data at the
/// killed client's closed socket (TCP_ABORT_ON_DATA: data after close); the
/// second act's is the second client dying with data it never read
/// (TCP_ABORT_ON_CLOSE).
pub fn demo_kill_peer_rsts_say_why() {
    require_kernel("demo_kill_peer_rsts_say_why");
    let d = demo_root("kill-peer");
    let reasons = rst_reasons(&d, "kill-peer");
    let client = connect_local(&d.events, "client");
    let client2 = connect_local(&d.events, "client2");
    let of = |who: &str| -> Vec<&str> {
        reasons
            .iter()
            .filter(|(src, _, _)| src == who)
            .map(|(_, _, why)| why.as_str())
            .collect()
    };
    assert_eq!(
        of(&client),
        ["TCP_ABORT_ON_DATA"],
        "kill-peer: {reasons:#?}"
    );
    assert_eq!(
        of(&client2),
        ["TCP_ABORT_ON_CLOSE"],
        "kill-peer: {reasons:#?}"
    );
}

/// `demo abort`: close() with SO_LINGER {on, 0} on an established socket is
/// the kernel's TCP_STATE (an abort in a synchronized state), not
/// TCP_ABORT_ON_LINGER (which is TCP_LINGER2 < 0).
pub fn demo_abort_rst_says_tcp_state() {
    require_kernel("demo_abort_rst_says_tcp_state");
    let d = demo_root("abort");
    let reasons = rst_reasons(&d, "abort");
    let client = connect_local(&d.events, "client");
    assert_eq!(
        reasons,
        [(client, "127.0.0.1:7000".to_owned(), "TCP_STATE".to_owned())],
        "abort"
    );
}

/// `demo keepalive`: with the link cut, the client's kernel gives up after
/// its unanswered probes and resets: TCP_KEEPALIVE_TIMEOUT.
pub fn demo_keepalive_rst_says_keepalive_timeout() {
    require_kernel("demo_keepalive_rst_says_keepalive_timeout");
    let d = demo_root("keepalive");
    let reasons = rst_reasons(&d, "keepalive");
    let client = connect_local(&d.events, "client");
    assert_eq!(
        reasons,
        [(
            client,
            "127.0.0.1:7000".to_owned(),
            "TCP_KEEPALIVE_TIMEOUT".to_owned()
        )],
        "keepalive"
    );
}

/// The packets of a run that carry the kernel's drop reason, as
/// (src, dst, flags, reason).
fn dropped(d: &Demo) -> Vec<(String, String, String, String)> {
    kind(&d.events, "packet")
        .into_iter()
        .filter(|p| p["drop_reason"].is_string())
        .map(|p| {
            let s = |k: &str| p[k].as_str().unwrap_or_default().to_owned();
            let flags: Vec<&str> = p["flags"]
                .as_array()
                .map(|f| f.iter().filter_map(|x| x.as_str()).collect())
                .unwrap_or_default();
            (s("src"), s("dst"), flags.join(","), s("drop_reason"))
        })
        .collect()
}

/// The lab's own loss is the lab's: every packet the lab's link dropped
/// (`lost`) is one the receiving kernel says its socket filter dropped,
/// and every SOCKET_FILTER drop is one the lab's link dropped.
fn lab_loss_is_the_socket_filter(d: &Demo, name: &str) {
    let packets = kind(&d.events, "packet");
    let lost = |p: &serde_json::Value| {
        p["notes"]
            .as_array()
            .is_some_and(|n| n.iter().any(|x| x == "lost"))
    };
    let wrong: Vec<String> = packets
        .iter()
        .filter(|p| lost(p) != (p["drop_reason"] == "SOCKET_FILTER"))
        .map(|p| format!("  {p}"))
        .collect();
    assert!(
        wrong.is_empty(),
        "{name}: a packet lost on the lab's link must be the kernel's SOCKET_FILTER drop, and only such a packet:\n{}",
        wrong.join("\n")
    );
    assert!(packets.iter().any(|p| lost(p)), "{name}: nothing was lost");
}

/// `demo backlog-abort`: client2's final ACK reaches a full accept queue.
/// The kernel drops it for TCP_LISTEN_OVERFLOW, and the count of such
/// drops synack shows equals the rise of the lab's TcpExtListenOverflows
/// (`/proc/net/netstat` inside the lab, as the `queue` lines report it)
/// over the run. The SYN-ACK client2's cut link lost is the lab's drop.
///
/// (`demo backlog` drops SYNs at its full queue instead: Linux 6.18 counts
/// them in ListenOverflows but frees them as consumed, with no drop
/// reason, so no `kfree_skb` record names them and synack says nothing.)
pub fn demo_backlog_abort_drops_equal_listen_overflows() {
    require_kernel("demo_backlog_abort_drops_equal_listen_overflows");
    let d = demo_root("backlog-abort");
    let drops = dropped(&d);
    let overflow: Vec<_> = drops
        .iter()
        .filter(|(_, _, _, why)| why == "TCP_LISTEN_OVERFLOW")
        .collect();
    let counters: Vec<u64> = kind(&d.events, "queue")
        .iter()
        .filter_map(|q| q["overflows"].as_u64())
        .collect();
    // The lab's namespace is new with the run: its counter starts at 0.
    let Some(&rise) = counters.iter().max() else {
        panic!("backlog-abort: no queue lines:\n{}", dump(&d.states));
    };
    assert!(
        rise >= 1,
        "backlog-abort: ListenOverflows never rose: {counters:?}"
    );
    assert_eq!(
        overflow.len() as u64,
        rise,
        "backlog-abort: TCP_LISTEN_OVERFLOW drops shown vs ListenOverflows' rise {counters:?}; drops: {drops:#?}"
    );
    // Each is a final ACK (no SYN, no data) to the server's port, from client2.
    // client2's connect() fails (the RST follows the drop): its address is
    // on the call's start.
    let client2 = kind(&d.events, "call")
        .into_iter()
        .find(|c| c["endpoint"] == "client2" && c["call"] == "connect" && c["phase"] == "start")
        .and_then(|c| c["local"].as_str().map(str::to_owned))
        .unwrap_or_else(|| panic!("backlog-abort: client2's connect() never started"));
    for (src, dst, flags, _) in &overflow {
        assert_eq!(
            (src.as_str(), dst.as_str(), flags.as_str()),
            (client2.as_str(), "127.0.0.1:7000", "ACK"),
            "backlog-abort: {drops:#?}"
        );
    }
    lab_loss_is_the_socket_filter(&d, "backlog-abort");
}

/// `demo loss` with its packets written to a file: every segment tshark's
/// analysis calls a retransmission is one synack shows as the kernel's
/// (the sender's kernel reported retransmitting it), none is "inferred
/// only" (the loopback neither duplicates nor reorders), the kernel's
/// count of each sender's retransmissions equals the `total_retrans` its
/// socket reports (TCP_INFO), and what the lab's link dropped is the
/// receiver's SOCKET_FILTER drop.
pub fn demo_loss_every_retransmission_tshark_sees_is_the_kernels() {
    require_kernel("demo_loss_every_retransmission_tshark_sees_is_the_kernels");
    require_tool("tshark");
    let dir = scratch("loss-retransmissions");
    let pcap = dir.join("loss.pcap");
    let mut cmd = synack();
    cmd.args(["demo", "loss", "--json", "--write"]).arg(&pcap);
    let d = run_demo(cmd, "synack demo loss --json --write");
    let out = std::process::Command::new("tshark")
        .args(["-n", "-r"])
        .arg(&pcap)
        .args([
            "-Y",
            "tcp.analysis.retransmission",
            "-T",
            "fields",
            "-e",
            "ip.src",
            "-e",
            "tcp.srcport",
            "-e",
            "ip.dst",
            "-e",
            "tcp.dstport",
            "-e",
            "tcp.seq",
            "-e",
            "tcp.len",
        ])
        .output()
        .expect("run tshark");
    assert!(
        out.status.success(),
        "tshark: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // tshark's retransmissions, each (src, dst, seq, len), in file order.
    let theirs: Vec<(String, String, u64, u64)> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f.len() == 6).then(|| {
                (
                    format!("{}:{}", f[0], f[1]),
                    format!("{}:{}", f[2], f[3]),
                    f[4].parse().unwrap_or(u64::MAX),
                    f[5].parse().unwrap_or(u64::MAX),
                )
            })
        })
        .collect();
    assert!(
        theirs.len() >= 2,
        "loss: tshark sees no retransmissions in the lesson's file: {theirs:?}"
    );
    let ours: Vec<&serde_json::Value> = kind(&d.events, "packet")
        .into_iter()
        .filter(|p| p["proto"] == "tcp")
        .collect();
    let key = |p: &serde_json::Value| {
        (
            p["src"].as_str().unwrap_or_default().to_owned(),
            p["dst"].as_str().unwrap_or_default().to_owned(),
            p["seq"].as_u64().unwrap_or(u64::MAX),
            p["len"].as_u64().unwrap_or(u64::MAX),
        )
    };
    // The n-th copy tshark calls a retransmission is the n-th copy synack
    // shows after the first of the same segment.
    let mut unconfirmed = Vec::new();
    for (i, t) in theirs.iter().enumerate() {
        let nth = theirs[..i].iter().filter(|x| *x == t).count();
        let copies: Vec<&&serde_json::Value> = ours.iter().filter(|p| key(p) == *t).collect();
        match copies.get(nth + 1) {
            Some(p) if p["retransmit"] == "kernel" => {}
            Some(p) => unconfirmed.push(format!("  {p}")),
            None => unconfirmed.push(format!("  {t:?}: not shown (copies: {})", copies.len())),
        }
    }
    assert!(
        unconfirmed.is_empty(),
        "loss: every retransmission tshark sees is the kernel's; these are not:\n{}\nstderr:\n{}",
        unconfirmed.join("\n"),
        d.stderr
    );
    let phantoms: Vec<String> = ours
        .iter()
        .filter(|p| p["retransmit"] == "inferred_only")
        .map(|p| format!("  {p}"))
        .collect();
    assert!(phantoms.is_empty(), "loss: {}", phantoms.join("\n"));
    // The kernel's count of each sender's retransmissions (the segments it
    // reported resending) is what the socket itself counts: the last
    // TCP_INFO report of each socket that sent data, `total_retrans`.
    let reports = kind(&d.events, "congestion");
    let senders: Vec<&str> = reports
        .iter()
        .filter(|c| c["source"] == "socket")
        .filter_map(|c| c["local"].as_str())
        .collect();
    assert!(!senders.is_empty(), "loss: no socket reported its TCP_INFO");
    let mut checked = 0;
    for local in senders
        .iter()
        .copied()
        .collect::<std::collections::BTreeSet<_>>()
    {
        let last = reports
            .iter()
            .rev()
            .find(|c| c["source"] == "socket" && c["local"] == local)
            .and_then(|c| c["total_retrans"].as_u64())
            .unwrap_or_else(|| panic!("loss: {local}'s last report has no total_retrans"));
        let kernel = ours
            .iter()
            .filter(|p| p["src"] == local && p["retransmit"] == "kernel")
            .count() as u64;
        assert_eq!(
            kernel, last,
            "loss: the kernel reported {kernel} retransmissions from {local}, its TCP_INFO \
             counts {last}"
        );
        checked += kernel;
    }
    assert_eq!(
        checked, 2,
        "loss: the fast retransmission and the timeout's"
    );
    lab_loss_is_the_socket_filter(&d, "loss");
}

/// `demo backlog`: the SYNs that find the accept queue full raise the
/// lab's ListenOverflows, but Linux (6.18) frees them as consumed
/// (`tcp_conn_request` returns 0 after counting), so no `kfree_skb` record
/// names them, and synack marks no packet dropped: it does not guess which
/// SYN the counter counted. The retransmitted SYNs are the kernel's.
pub fn demo_backlog_syn_drops_are_not_guessed() {
    require_kernel("demo_backlog_syn_drops_are_not_guessed");
    let d = demo_root("backlog");
    let overflows = kind(&d.events, "queue")
        .iter()
        .filter_map(|q| q["overflows"].as_u64())
        .max()
        .unwrap_or(0);
    assert!(overflows >= 1, "backlog: ListenOverflows never rose");
    assert_eq!(
        dropped(&d),
        [],
        "backlog: no drop the kernel did not report"
    );
    let client3 = kind(&d.events, "call")
        .into_iter()
        .find(|c| c["endpoint"] == "client3" && c["call"] == "connect")
        .and_then(|c| c["local"].as_str().map(str::to_owned))
        .unwrap_or_else(|| panic!("backlog: client3 never connected"));
    let syns: Vec<&serde_json::Value> = kind(&d.events, "packet")
        .into_iter()
        .filter(|p| p["src"] == client3.as_str() && p["flags"] == serde_json::json!(["SYN"]))
        .collect();
    assert!(
        syns.len() >= 3,
        "backlog: client3's SYN and its retransmissions: {syns:#?}"
    );
    for p in &syns[1..] {
        assert_eq!(p["retransmit"], "kernel", "backlog: {p}");
    }
}

/// Puts a classic BPF program that drops every segment on `sock`, as the
/// lab's `link cut` does.
fn drop_everything(sock: &TcpStream) {
    use std::os::fd::AsRawFd;
    let mut insns = [libc::sock_filter {
        code: 0x06, // BPF_RET | BPF_K
        jt: 0,
        jf: 0,
        k: 0,
    }];
    let prog = libc::sock_fprog {
        len: 1,
        filter: insns.as_mut_ptr(),
    };
    // SAFETY: `prog` points at `insns`, alive for the call; the kernel
    // copies the program; the length is the size of `prog`.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_ATTACH_FILTER,
            (&raw const prog).cast(),
            std::mem::size_of::<libc::sock_fprog>() as libc::socklen_t,
        )
    };
    assert_eq!(
        rc,
        0,
        "SO_ATTACH_FILTER: {}",
        std::io::Error::last_os_error()
    );
}

/// The tracer alone, on the host's loopback, IPv4 and IPv6: a connection
/// on a traced port and one on another port, each server socket with a
/// filter that drops everything, each client writing once. The traced
/// port's drop comes back as SOCKET_FILTER naming the server's socket
/// (its addresses, from its traced transitions), and the client's kernel
/// resends its data: retransmissions of that pair. The other port's drop
/// and retransmissions do not come back.
pub fn tracer_reports_drops_and_retransmissions_of_its_ports_only() {
    use std::io::Write;
    for any in ["127.0.0.1:0", "[::1]:0"] {
        let any: SocketAddr = any.parse().unwrap();
        let traced = TcpListener::bind(any).unwrap();
        let other = TcpListener::bind(any).unwrap();
        let (at, other_at) = (traced.local_addr().unwrap(), other.local_addr().unwrap());
        let (tx, rx) = mpsc::channel();
        let tracer = StateTracer::start(&[at.port()], move |t: Traced| {
            let _ = tx.send((t.drops, t.retransmits));
        })
        .unwrap_or_else(|e| panic!("tracer unavailable as the host's root: {e}"));
        let traces = tracer.traces();
        assert!(
            traces.drops && traces.retransmits,
            "this kernel has kfree_skb with rx_sk and the retransmit events: {traces:?}"
        );
        let mut clients = Vec::new();
        for l in [&traced, &other] {
            let mut client = TcpStream::connect(l.local_addr().unwrap()).unwrap();
            let (server, _) = l.accept().unwrap();
            drop_everything(&server);
            client.write_all(b"dropped").unwrap();
            clients.push((client, server));
        }
        let client = clients[0].0.local_addr().unwrap();
        let other_client = clients[1].0.local_addr().unwrap();
        // The first retransmission comes after the RTO (at least 200 ms).
        let (mut drops, mut resent) = (Vec::new(), Vec::new());
        let deadline = std::time::Instant::now() + Duration::from_secs(3);
        while (drops.is_empty() || resent.is_empty()) && std::time::Instant::now() < deadline {
            if let Ok((d, r)) = rx.recv_timeout(Duration::from_millis(100)) {
                drops.extend(d);
                resent.extend(r);
            }
        }
        std::thread::sleep(Duration::from_millis(100));
        drop(tracer);
        for (d, r) in rx.try_iter() {
            drops.extend(d);
            resent.extend(r);
        }
        assert!(
            drops.iter().any(|d| &*d.reason == "SOCKET_FILTER"
                && d.local == at
                && d.remote == Some(client)),
            "{any}: the server's socket filter's drop, naming it: {drops:#?}"
        );
        assert!(
            resent
                .iter()
                .any(|r| r.src == client && r.dst == at && !r.synack),
            "{any}: the client's retransmissions: {resent:#?}"
        );
        let strays: Vec<String> = drops
            .iter()
            .map(|d| (d.local, d.remote))
            .chain(resent.iter().map(|r| (r.src, Some(r.dst))))
            .filter(|(a, b)| {
                [Some(*a), *b]
                    .into_iter()
                    .flatten()
                    .any(|x| x == other_at || x == other_client)
            })
            .map(|x| format!("  {x:?}"))
            .collect();
        assert!(
            strays.is_empty(),
            "{any}: another port's came back:\n{}",
            strays.join("\n")
        );
    }
}
