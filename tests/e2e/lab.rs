//! The lab scenarios end to end: `synack demo NAME --json` runs each one in a
//! private network namespace and must show what defines it (packets with their
//! flags, relative seq/ack, lengths and notes; socket calls and their
//! results), as a teacher would check it on the timeline. Also: bad scripts,
//! unknown names, the default run, the rootless path, and that no peer process
//! outlives a run (normal end, Ctrl-C, a killed peer, synack itself killed).
//!
//! Failures print the whole run in a compact ladder form, so the message says
//! what the scenario actually showed.

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::*;

/// Generous: the longest scenario takes ~7 s alone, more on a loaded machine.
const DEMO_LIMIT: Duration = Duration::from_secs(45);

macro_rules! ensure {
    ($d:expr, $cond:expr, $($fmt:tt)+) => {
        let ok: bool = $cond;
        if !ok {
            $d.fail(&format!($($fmt)+));
        }
    };
}

// ---------------------------------------------------------------------------
// One demo run and its events.

struct Demo {
    what: String,
    ev: Vec<Value>,
}

/// Runs `synack demo NAME --json EXTRA…` with the test binary.
fn demo(name: &str, extra: &[&str]) -> Demo {
    demo_with(Path::new(env!("CARGO_BIN_EXE_synack")), name, extra)
}

fn demo_with(exe: &Path, name: &str, extra: &[&str]) -> Demo {
    let mut cmd = Command::new(exe);
    cmd.args(["demo", name, "--json"]).args(extra);
    let what = format!("synack demo {name} --json {}", extra.join(" "));
    let run = run_ok(&mut cmd, &what, DEMO_LIMIT);
    parse_demo(what, &run.stdout)
}

fn parse_demo(what: String, stdout: &str) -> Demo {
    let ev = json_lines(stdout);
    assert!(!ev.is_empty(), "`{what}` printed no events");
    for e in &ev {
        // (t >= 0 and foreign events are checked by `lab_runs_do_not_see_each_other`.)
        assert!(
            e["t"].is_f64() || e["t"].is_u64(),
            "`{what}`: event without a numeric `t`: {e}"
        );
        assert!(e["kind"].is_string(), "`{what}`: event without `kind`: {e}");
    }
    Demo { what, ev }
}

fn t(e: &Value) -> f64 {
    e["t"].as_f64().unwrap_or(f64::NAN)
}

fn s<'a>(e: &'a Value, field: &str) -> &'a str {
    e[field].as_str().unwrap_or("")
}

fn n(e: &Value, field: &str) -> u64 {
    e[field]
        .as_u64()
        .unwrap_or_else(|| panic!("`{field}` is not a number in {e}"))
}

fn flags(e: &Value) -> Vec<&str> {
    e["flags"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn has(e: &Value, flag: &str) -> bool {
    flags(e).contains(&flag)
}

fn note(e: &Value, what: &str) -> bool {
    e["notes"]
        .as_array()
        .is_some_and(|a| a.iter().any(|x| x == what))
}

fn options(e: &Value) -> Vec<&str> {
    e["options"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn from(e: &Value) -> &str {
    s(e, "from")
}

fn res(e: &Value) -> &str {
    s(e, "result")
}

/// One line per event, like `--text` but with every field a test looks at.
fn line(e: &Value) -> String {
    match s(e, "kind") {
        "packet" if e["proto"] == "tcp" => {
            let urg = e
                .get("urg")
                .map(|u| format!(" urg={u}"))
                .unwrap_or_default();
            format!(
                "{:9.4} #{} {:<6} {:<14} seq={} ack={} len={} win={}{urg} notes={} {} -> {}",
                t(e),
                e["conn"],
                from(e),
                flags(e).join(","),
                e["seq"],
                e["ack"],
                e["len"],
                e["win"],
                e["notes"],
                s(e, "src"),
                s(e, "dst"),
            )
        }
        "packet" => format!("{:9.4} {e}", t(e)),
        "call" => format!(
            "{:9.4}    {:<12} {}({}){} = {}",
            t(e),
            s(e, "endpoint"),
            s(e, "call"),
            s(e, "args"),
            e.get("phase")
                .map(|p| format!(" [{}]", p.as_str().unwrap_or("?")))
                .unwrap_or_default(),
            e.get("result").and_then(Value::as_str).unwrap_or("…"),
        ),
        _ => format!("{:9.4} {e}", t(e)),
    }
}

impl Demo {
    fn dump(&self) -> String {
        let mut out = String::new();
        for e in &self.ev {
            let _ = writeln!(out, "{}", line(e));
        }
        out
    }

    #[track_caller]
    fn fail(&self, msg: &str) -> ! {
        panic!(
            "`{}`: {msg}\n--- what it printed ({} events) ---\n{}",
            self.what,
            self.ev.len(),
            self.dump()
        );
    }

    fn packets(&self) -> Vec<&Value> {
        self.ev.iter().filter(|e| e["kind"] == "packet").collect()
    }

    fn tcp(&self) -> Vec<&Value> {
        self.packets()
            .into_iter()
            .filter(|e| e["proto"] == "tcp")
            .collect()
    }

    /// Returned calls (no `phase`) of one endpoint (`lab` for the runner's own steps).
    fn calls(&self, endpoint: &str, call: &str) -> Vec<&Value> {
        self.ev
            .iter()
            .filter(|e| {
                e["kind"] == "call"
                    && e["endpoint"] == endpoint
                    && e["call"] == call
                    && e.get("phase").is_none()
            })
            .collect()
    }

    /// The first returned call, or a failure naming it.
    #[track_caller]
    fn call(&self, endpoint: &str, call: &str) -> &Value {
        self.calls(endpoint, call)
            .into_iter()
            .next()
            .unwrap_or_else(|| self.fail(&format!("no returned {endpoint} {call}() call")))
    }

    /// The first returned call with those args.
    #[track_caller]
    fn call_args(&self, endpoint: &str, call: &str, args_contain: &str) -> &Value {
        self.calls(endpoint, call)
            .into_iter()
            .find(|e| s(e, "args").contains(args_contain))
            .unwrap_or_else(|| {
                self.fail(&format!(
                    "no returned {endpoint} {call}(…{args_contain}…) call"
                ))
            })
    }

    /// The lab's `link cut …` / `link restore …` step.
    #[track_caller]
    fn link(&self, what: &str) -> &Value {
        self.calls("lab", "link")
            .into_iter()
            .find(|e| s(e, "args").starts_with(what))
            .unwrap_or_else(|| self.fail(&format!("no `link {what}` step reported")))
    }

    /// When the script was over (teardown packets come after this).
    #[track_caller]
    fn end(&self) -> f64 {
        t(self.call("lab", "end"))
    }
}

/// The byte count a `write`/`send`/`sendto` step asked for: `"text"` or `N bytes`.
fn asked_bytes(args: &str) -> Option<u64> {
    if let Some(rest) = args.strip_prefix('"') {
        return rest.find('"').map(|i| rest[..i].len() as u64);
    }
    args.split_whitespace().next()?.parse().ok()
}

/// Data segments of one side, in capture order, without retransmissions.
fn data_from<'a>(p: &[&'a Value], side: &str) -> Vec<&'a Value> {
    p.iter()
        .copied()
        .filter(|e| from(e) == side && n(e, "len") > 0 && !note(e, "retransmission"))
        .collect()
}

// ---------------------------------------------------------------------------
// handshake

fn check_handshake(d: &Demo, v6: bool) {
    let host = if v6 { "[::1]:" } else { "127.0.0.1:" };
    let p = d.tcp();
    ensure!(d, p.len() >= 3, "fewer than 3 TCP packets");
    let (syn, synack, ack) = (p[0], p[1], p[2]);
    ensure!(
        d,
        flags(syn) == ["SYN"] && from(syn) == "client",
        "the first packet is not the client's SYN: {}",
        line(syn)
    );
    ensure!(
        d,
        flags(synack) == ["SYN", "ACK"] && from(synack) == "server",
        "the second packet is not the server's SYN-ACK: {}",
        line(synack)
    );
    ensure!(
        d,
        flags(ack) == ["ACK"] && from(ack) == "client" && n(ack, "len") == 0,
        "the third packet is not the client's bare ACK: {}",
        line(ack)
    );
    ensure!(
        d,
        syn["conn"] == synack["conn"] && syn["conn"] == ack["conn"],
        "the handshake packets are not on one conn"
    );
    ensure!(
        d,
        p.iter().all(|e| e["conn"] == syn["conn"]),
        "one connection expected, but several conn ids appear"
    );
    ensure!(
        d,
        (n(syn, "seq"), n(syn, "ack")) == (0, 0)
            && (n(synack, "seq"), n(synack, "ack")) == (0, 1)
            && (n(ack, "seq"), n(ack, "ack")) == (1, 1),
        "relative seq/ack of the handshake should be 0/0, 0/1, 1/1"
    );
    ensure!(
        d,
        t(syn) <= t(synack) && t(synack) <= t(ack),
        "handshake timestamps out of order"
    );
    for e in &p {
        ensure!(
            d,
            s(e, "src").starts_with(host) && s(e, "dst").starts_with(host),
            "address not of the form {host}PORT: {}",
            line(e)
        );
    }
    let bind = d.call("server", "bind");
    ensure!(
        d,
        res(bind) == "ok" && s(bind, "args").starts_with(host),
        "server bind should be ok on {host}…"
    );
    ensure!(
        d,
        s(syn, "dst") == s(bind, "args")
            && s(synack, "src") == s(syn, "dst")
            && s(synack, "dst") == s(syn, "src")
            && s(ack, "src") == s(syn, "src"),
        "the SYN must go to the server's bound address ({}) and the SYN-ACK come back from it",
        s(bind, "args")
    );
    let opts = options(syn);
    for want in ["mss=", "sack_perm", "ts=", "wscale="] {
        ensure!(
            d,
            opts.iter().any(|o| o.starts_with(want)),
            "the SYN's options {opts:?} lack {want}…"
        );
    }
    let connect = d.call("client", "connect");
    ensure!(
        d,
        res(connect) == "ok" && s(connect, "args") == s(bind, "args"),
        "client connect() to the server's address should return ok"
    );
    ensure!(
        d,
        t(connect) >= t(synack),
        "connect() returned (t={}) before the SYN-ACK arrived (t={})",
        t(connect),
        t(synack)
    );
    let accept = d.call("server", "accept");
    ensure!(d, res(accept) == "ok", "accept() should return ok");
    ensure!(
        d,
        t(accept) >= t(ack),
        "accept() returned (t={}) before the final ACK (t={})",
        t(accept),
        t(ack)
    );
    let end = d.end();
    ensure!(
        d,
        !p.iter().any(|e| has(e, "RST") && t(e) < end),
        "an RST during the handshake scenario"
    );
    check_caused_states_follow_their_packet(d, syn, synack);
}

/// The lines between the SYN and the SYN-ACK, and what precedes the SYN:
/// the server's LISTEN → SYN-RECEIVED (which the SYN causes, RFC 9293
/// §3.10.7.2) sits after the SYN, before the SYN-ACK; and no inferred state
/// comes before a packet of its connection, as root or rootless.
fn check_caused_states_follow_their_packet(d: &Demo, syn: &Value, synack: &Value) {
    let at = |e: &Value| d.ev.iter().position(|x| std::ptr::eq(x, e)).unwrap();
    let (i_syn, i_synack) = (at(syn), at(synack));
    let passive =
        d.ev.iter()
            .position(|e| {
                e["kind"] == "state"
                    && e["to"] == "SYN-RECEIVED"
                    && e["local"] == syn["dst"]
                    && e["remote"] == syn["src"]
            })
            .unwrap_or_else(|| d.fail("no server LISTEN → SYN-RECEIVED state"));
    ensure!(
        d,
        i_syn < passive && passive < i_synack,
        "the server's SYN-RECEIVED (line {}) should come after the SYN (line {}) and before the SYN-ACK (line {})",
        passive + 1,
        i_syn + 1,
        i_synack + 1
    );
    for (i, e) in d.ev.iter().enumerate() {
        if e["kind"] != "state" || e["source"] != "inferred" {
            continue;
        }
        let packet_before = d.ev[..i]
            .iter()
            .any(|p| p["kind"] == "packet" && p["conn"] == e["conn"]);
        ensure!(
            d,
            packet_before,
            "the inferred state on line {} comes before any packet of its connection: {e}",
            i + 1
        );
    }
}

#[test]
fn handshake_ipv4() {
    require_capture("handshake_ipv4");
    check_handshake(&demo("handshake", &[]), false);
}

#[test]
fn handshake_ipv6() {
    require_capture("handshake_ipv6");
    check_handshake(&demo("handshake", &["--ipv6"]), true);
}

// ---------------------------------------------------------------------------
// data

#[test]
fn data_seq_and_ack_advance_by_the_bytes_sent() {
    require_capture("data");
    let d = demo("data", &[]);
    let p = d.tcp();
    let end = d.end();
    ensure!(
        d,
        p.iter().all(|e| e["conn"] == p[0]["conn"]),
        "one connection expected"
    );
    // Every write returned the bytes it was given.
    let mut written = std::collections::HashMap::new();
    for side in ["client", "server"] {
        let mut total = 0;
        for w in d.calls(side, "write") {
            let asked = asked_bytes(s(w, "args"))
                .unwrap_or_else(|| d.fail(&format!("cannot read a size in {}", line(w))));
            ensure!(
                d,
                res(w) == asked.to_string(),
                "write should return {asked}: {}",
                line(w)
            );
            total += asked;
        }
        written.insert(side, total);
    }
    ensure!(
        d,
        written["client"] == 5 + 3000 && written["server"] == 11,
        "the client should write 5 + 3000 bytes and the server 11, got {written:?}"
    );
    // Each side's data segments are contiguous from relative seq 1, and add up to what it wrote.
    for (side, peer) in [("client", "server"), ("server", "client")] {
        let segs = data_from(&p, side);
        let mut next = 1;
        for e in &segs {
            ensure!(
                d,
                n(e, "seq") == next,
                "{side} data segment should start at seq {next}: {}",
                line(e)
            );
            next += n(e, "len");
        }
        ensure!(
            d,
            next - 1 == written[side],
            "{side} sent {} bytes of data, but wrote {}",
            next - 1,
            written[side]
        );
        // The peer acknowledges exactly the bytes sent (before the closing FINs).
        let acked = p
            .iter()
            .filter(|e| from(e) == peer && has(e, "ACK") && t(e) < end)
            .map(|e| n(e, "ack"))
            .max()
            .unwrap_or(0);
        ensure!(
            d,
            acked == 1 + written[side],
            "the {peer} should acknowledge up to {} before the end, its highest ack is {acked}",
            1 + written[side]
        );
    }
    // The numbers the narration names.
    let c = data_from(&p, "client");
    ensure!(
        d,
        n(c[0], "seq") == 1 && n(c[0], "len") == 5,
        "the first client segment should be seq=1 len=5"
    );
    ensure!(
        d,
        p.iter()
            .any(|e| from(e) == "server" && n(e, "ack") == 6 && t(e) >= t(c[0])),
        "no server packet acknowledging 6 after \"hello\""
    );
    let sv = data_from(&p, "server");
    ensure!(
        d,
        sv.len() == 1 && n(sv[0], "seq") == 1 && n(sv[0], "len") == 11 && n(sv[0], "ack") == 6,
        "the server's answer should be one segment seq=1 ack=6 len=11"
    );
    ensure!(
        d,
        p.iter()
            .any(|e| from(e) == "client" && n(e, "ack") == 12 && t(e) >= t(sv[0])),
        "no client packet acknowledging 12 after the server's 11 bytes"
    );
    // Reads got what was written.
    let sreads: u64 = d
        .calls("server", "read")
        .iter()
        .map(|e| res(e).parse::<u64>().unwrap_or(0))
        .sum();
    ensure!(
        d,
        res(d.call("server", "read")) == "5" && sreads == 3005,
        "the server should read 5, then 3000 bytes in all (read {sreads})"
    );
    ensure!(
        d,
        res(d.call("client", "read")) == "11",
        "the client should read 11 bytes"
    );
}

// ---------------------------------------------------------------------------
// close

fn check_close(d: &Demo, v6: bool) {
    let host = if v6 { "[::1]:" } else { "127.0.0.1:" };
    let p = d.tcp();
    for e in &p {
        ensure!(
            d,
            s(e, "src").starts_with(host) && s(e, "dst").starts_with(host),
            "address not of the form {host}PORT: {}",
            line(e)
        );
    }
    let fins: Vec<&Value> = p.iter().copied().filter(|e| has(e, "FIN")).collect();
    ensure!(d, !fins.is_empty(), "no FIN at all");
    ensure!(
        d,
        from(fins[0]) == "client",
        "the first FIN is not the client's"
    );
    let cfin = fins[0];
    let sfin = fins
        .iter()
        .copied()
        .find(|e| from(e) == "server")
        .unwrap_or_else(|| d.fail("no FIN from the server"));
    ensure!(
        d,
        t(cfin) <= t(sfin),
        "the client's FIN must come before the server's"
    );
    let sack = p
        .iter()
        .copied()
        .find(|e| from(e) == "server" && flags(e) == ["ACK"] && n(e, "ack") == n(cfin, "seq") + 1);
    let sack = sack.unwrap_or_else(|| {
        d.fail(&format!(
            "no ACK from the server for the client's FIN (ack={})",
            n(cfin, "seq") + 1
        ))
    });
    ensure!(
        d,
        t(sack) >= t(cfin) && t(sack) <= t(sfin),
        "the server's ACK of the client's FIN should come between the two FINs"
    );
    ensure!(
        d,
        p.iter().any(|e| from(e) == "client"
            && has(e, "ACK")
            && n(e, "ack") == n(sfin, "seq") + 1
            && t(e) >= t(sfin)),
        "no ACK from the client for the server's FIN (ack={})",
        n(sfin, "seq") + 1
    );
    let cclose = d.call("client", "close");
    ensure!(d, res(cclose) == "ok", "client close() should be ok");
    let read = d.call("server", "read");
    ensure!(
        d,
        res(read) == "0",
        "the server's read() should return 0 (end of file), got {}",
        res(read)
    );
    ensure!(
        d,
        t(read) >= t(cfin) && t(read) <= t(sfin),
        "the server's read() = 0 should come after the client's FIN and before the server's FIN"
    );
    let sclose = d.call("server", "close");
    ensure!(
        d,
        res(sclose) == "ok" && t(sclose) >= t(read),
        "the server should close (ok) after its read"
    );
    ensure!(
        d,
        !p.iter().any(|e| has(e, "RST")),
        "an RST in a clean close"
    );
}

#[test]
fn close_ipv4() {
    require_capture("close_ipv4");
    check_close(&demo("close", &[]), false);
}

#[test]
fn close_ipv6() {
    require_capture("close_ipv6");
    check_close(&demo("close", &["--ipv6"]), true);
}

// ---------------------------------------------------------------------------
// time-wait

#[test]
fn time_wait_blocks_bind_until_reuseaddr() {
    require_capture("time-wait");
    let d = demo("time-wait", &[]);
    let p = d.tcp();
    let fins: Vec<&Value> = p.iter().copied().filter(|e| has(e, "FIN")).collect();
    ensure!(
        d,
        fins.first().is_some_and(|e| from(e) == "server"),
        "the server should send the first FIN"
    );
    ensure!(
        d,
        fins.iter().any(|e| from(e) == "client"),
        "the client should answer with its own FIN"
    );
    let sclose = d.call_args("server", "close", "connection");
    ensure!(
        d,
        res(sclose) == "ok" && t(fins[0]) <= t(sclose) + 0.001,
        "the server's FIN should leave with its close()"
    );
    let cread = d.call("client", "read");
    ensure!(
        d,
        res(cread) == "0" && t(cread) >= t(fins[0]),
        "the client's read() should return 0 after the server's FIN"
    );
    let bind = d.call("server", "bind");
    let kill = d.call_args("lab", "kill", "server");
    let binds = d.calls("server2", "bind");
    ensure!(d, binds.len() == 2, "server2 should bind twice");
    ensure!(
        d,
        binds.iter().all(|b| s(b, "args") == s(bind, "args")),
        "server2 should bind the old server's address {}",
        s(bind, "args")
    );
    ensure!(
        d,
        t(binds[0]) > t(kill),
        "server2 should bind after the old server was killed"
    );
    ensure!(
        d,
        res(binds[0]) == "EADDRINUSE",
        "the first bind (no SO_REUSEADDR) should fail with EADDRINUSE, got {}",
        res(binds[0])
    );
    let reuse = d.call_args("server2", "setsockopt", "SO_REUSEADDR");
    ensure!(
        d,
        res(reuse) == "ok" && t(reuse) > t(binds[0]) && t(reuse) < t(binds[1]),
        "server2 should set SO_REUSEADDR between its two binds"
    );
    ensure!(
        d,
        res(binds[1]) == "ok",
        "bind with SO_REUSEADDR should succeed, got {}",
        res(binds[1])
    );
    ensure!(
        d,
        res(d.call("server2", "listen")) == "ok",
        "server2 should listen"
    );
}

// ---------------------------------------------------------------------------
// kill-peer

#[test]
fn kill_peer_fin_then_rst_then_errors() {
    require_capture("kill-peer");
    let d = demo("kill-peer", &[]);
    let p = d.tcp();
    let k1 = d.call_args("lab", "kill", "client");
    let k2 = d.call_args("lab", "kill", "client2");
    ensure!(
        d,
        s(k1, "args") == "client",
        "the first kill should be of `client`"
    );
    ensure!(d, res(k1) == "ok" && res(k2) == "ok", "kill should be ok");
    let conn1 = p.first().unwrap_or_else(|| d.fail("no packets"))["conn"].clone();
    let c1: Vec<&Value> = p.iter().copied().filter(|e| e["conn"] == conn1).collect();
    let c2: Vec<&Value> = p.iter().copied().filter(|e| e["conn"] != conn1).collect();
    ensure!(
        d,
        c2.iter().all(|e| e["conn"] == c2[0]["conn"]) && !c2.is_empty(),
        "two connections expected (client, then client2)"
    );

    // Act 1: the killed client's kernel sends FIN; the server's data draws an RST.
    let fin = c1
        .iter()
        .copied()
        .find(|e| from(e) == "client" && has(e, "FIN"))
        .unwrap_or_else(|| d.fail("no FIN from the killed client"));
    ensure!(
        d,
        t(fin) >= t(k1),
        "the client's FIN should follow the kill"
    );
    let w1 = d.call_args("server", "write", "anyone there?");
    ensure!(
        d,
        res(w1) == "13",
        "the server's write after the kill should succeed (13)"
    );
    let data = c1
        .iter()
        .copied()
        .find(|e| from(e) == "server" && n(e, "len") == 13)
        .unwrap_or_else(|| d.fail("the server's 13 bytes were not sent"));
    ensure!(
        d,
        t(data) >= t(fin),
        "the server's data should follow the client's FIN"
    );
    let rst = c1
        .iter()
        .copied()
        .find(|e| from(e) == "client" && has(e, "RST") && t(e) >= t(data))
        .unwrap_or_else(|| d.fail("no RST from the dead client after the server's data"));
    let reads: Vec<&Value> = d
        .calls("server", "read")
        .into_iter()
        .filter(|e| t(e) > t(k1))
        .collect();
    let r1 = reads
        .first()
        .copied()
        .unwrap_or_else(|| d.fail("no server read() after the kill"));
    ensure!(
        d,
        t(r1) >= t(rst),
        "the server's read should come after the RST"
    );
    // As the scenario documents: the FIN came first, so read() reports end of file (0); the
    // reset received in CLOSE-WAIT is reported as EPIPE by the next write.
    ensure!(
        d,
        res(r1) == "0",
        "act 1: the server's read() after FIN then RST should return 0 as the scenario says, got {}",
        res(r1)
    );
    let w2 = d
        .calls("server", "write")
        .into_iter()
        .find(|e| t(e) > t(r1))
        .unwrap_or_else(|| d.fail("no server write after its read in act 1"));
    ensure!(
        d,
        res(w2) == "EPIPE",
        "act 1: writing to the reset connection should fail with EPIPE, got {}",
        res(w2)
    );

    // Act 2: client2 dies with unread data: RST at once, no FIN.
    ensure!(
        d,
        !c2.iter().any(|e| from(e) == "client" && has(e, "FIN")),
        "act 2: client2 had unread data, it must not send FIN"
    );
    let rst2 = c2
        .iter()
        .copied()
        .find(|e| from(e) == "client" && has(e, "RST"))
        .unwrap_or_else(|| d.fail("act 2: no RST from killed client2"));
    ensure!(d, t(rst2) >= t(k2), "act 2: the RST should follow the kill");
    let r2 = d
        .calls("server", "read")
        .into_iter()
        .find(|e| t(e) > t(k2))
        .unwrap_or_else(|| d.fail("act 2: no server read after the kill"));
    ensure!(
        d,
        res(r2) == "ECONNRESET",
        "act 2: the server's read() after the RST should fail with ECONNRESET, got {}",
        res(r2)
    );
    ensure!(
        d,
        t(r2) >= t(rst2),
        "act 2: the read error should follow the RST"
    );
    let w3 = d
        .calls("server", "write")
        .into_iter()
        .find(|e| t(e) > t(r2))
        .unwrap_or_else(|| d.fail("act 2: no server write after the failed read"));
    ensure!(
        d,
        res(w3) == "EPIPE",
        "act 2: a further write should fail with EPIPE, got {}",
        res(w3)
    );
}

/// Every event about a peer's socket names that peer, from its first on:
/// the SYN-SENT and the packets come before connect() returns (and tells
/// the socket's address), yet they must not carry the role (`client`) where
/// later events carry the peer (`client2`).
fn check_one_name_per_socket(d: &Demo, peers: &[&str]) {
    for peer in peers {
        // A blocked connect() (client3's in backlog) tells it when it starts.
        let connect =
            d.ev.iter()
                .find(|e| {
                    e["kind"] == "call"
                        && e["endpoint"] == *peer
                        && e["call"] == "connect"
                        && e.get("local").is_some()
                })
                .unwrap_or_else(|| d.fail(&format!("no {peer} connect() with its address")));
        let local = s(connect, "local");
        let mut seen = 0;
        for e in &d.ev {
            let name = match s(e, "kind") {
                "state" | "socket_queues" if e["local"] == local => e.get("endpoint"),
                "packet" if e["src"] == local => e.get("endpoint"),
                _ => continue,
            };
            seen += 1;
            ensure!(
                d,
                name.and_then(Value::as_str) == Some(*peer),
                "{peer}'s socket {local} is named {name:?} here, not {peer}: {e}"
            );
        }
        ensure!(
            d,
            seen >= 3,
            "{peer}'s socket {local}: only {seen} states/packets seen"
        );
    }
}

#[test]
fn kill_peer_and_backlog_name_each_socket_after_its_peer_only() {
    require_capture("one name per socket");
    check_one_name_per_socket(&demo("kill-peer", &[]), &["client", "client2"]);
    check_one_name_per_socket(&demo("backlog", &[]), &["client", "client2", "client3"]);
}

// ---------------------------------------------------------------------------
// abort

#[test]
fn abort_sends_rst_and_no_fin() {
    require_capture("abort");
    let d = demo("abort", &[]);
    let p = d.tcp();
    let linger = d.call_args("client", "setsockopt", "SO_LINGER");
    ensure!(d, res(linger) == "ok", "setsockopt(SO_LINGER) should be ok");
    let close = d.call("client", "close");
    ensure!(
        d,
        res(close) == "ok" && t(close) > t(linger),
        "the client should close after setting SO_LINGER"
    );
    ensure!(
        d,
        !p.iter().any(|e| from(e) == "client" && has(e, "FIN")),
        "an abortive close must not send FIN"
    );
    let rsts: Vec<&Value> = p
        .iter()
        .copied()
        .filter(|e| from(e) == "client" && has(e, "RST"))
        .collect();
    ensure!(
        d,
        rsts.len() == 1,
        "exactly one RST from the client expected"
    );
    ensure!(
        d,
        t(rsts[0]) > t(linger) && t(rsts[0]) <= t(close) + 0.001,
        "the RST should leave with close()"
    );
    let reads = d.calls("server", "read");
    ensure!(
        d,
        reads.len() == 2 && res(reads[0]) == "3" && res(reads[1]) == "ECONNRESET",
        "the server should read 3 bytes, then get ECONNRESET"
    );
}

// ---------------------------------------------------------------------------
// refused

#[test]
fn refused_gets_rst_ack_and_econnrefused() {
    require_capture("refused");
    let d = demo("refused", &[]);
    let p = d.tcp();
    ensure!(d, p.len() >= 2, "a SYN and its answer expected");
    ensure!(
        d,
        flags(p[0]) == ["SYN"] && from(p[0]) == "client",
        "the first packet should be the client's SYN"
    );
    ensure!(
        d,
        flags(p[1]) == ["ACK", "RST"]
            && s(p[1], "src") == s(p[0], "dst")
            && s(p[1], "dst") == s(p[0], "src")
            && n(p[1], "ack") == 1,
        "the SYN should be answered with RST-ACK (ack=1): {}",
        line(p[1])
    );
    ensure!(
        d,
        !p.iter().any(|e| has(e, "SYN") && has(e, "ACK")),
        "nobody listens: no SYN-ACK may appear"
    );
    let c = d.call("client", "connect");
    ensure!(
        d,
        res(c) == "ECONNREFUSED" && t(c) >= t(p[1]),
        "connect() should fail with ECONNREFUSED after the RST, got {}",
        res(c)
    );
}

// ---------------------------------------------------------------------------
// backlog

#[test]
fn backlog_full_queue_drops_syn_and_client_retransmits() {
    require_capture("backlog");
    let d = demo("backlog", &[]);
    let p = d.tcp();
    let listen = d.call("server", "listen");
    ensure!(d, s(listen, "args") == "1", "listen backlog should be 1");
    ensure!(
        d,
        d.calls("server", "accept").is_empty(),
        "the server must never accept()"
    );
    for c in ["client", "client2"] {
        ensure!(d, res(d.call(c, "connect")) == "ok", "{c} should connect");
    }
    let mut conns: Vec<u64> = p.iter().map(|e| n(e, "conn")).collect();
    conns.sort_unstable();
    conns.dedup();
    ensure!(d, conns.len() >= 3, "three client connections expected");
    let end = d.end();
    // A conn whose SYN is retransmitted and never answered while the queue is full.
    let dropped = conns.iter().copied().find(|c| {
        p.iter()
            .any(|e| n(e, "conn") == *c && flags(e) == ["SYN"] && note(e, "retransmission"))
    });
    let Some(dropped) = dropped else {
        d.fail("no SYN with note `retransmission`")
    };
    let syns: Vec<&Value> = p
        .iter()
        .copied()
        .filter(|e| n(e, "conn") == dropped && flags(e) == ["SYN"])
        .collect();
    ensure!(
        d,
        syns.len() >= 2,
        "the dropped client's original SYN is missing"
    );
    ensure!(
        d,
        !note(syns[0], "retransmission") && syns[1..].iter().all(|e| note(e, "retransmission")),
        "the first SYN is the original, the later ones retransmissions"
    );
    ensure!(
        d,
        t(syns[1]) - t(syns[0]) >= 0.8,
        "the first SYN retransmission should come about 1 s later"
    );
    ensure!(
        d,
        !p.iter()
            .any(|e| n(e, "conn") == dropped && has(e, "SYN") && has(e, "ACK") && t(e) < end),
        "the SYN beyond the queue should not be answered"
    );
    ensure!(
        d,
        d.calls("client3", "connect").is_empty(),
        "client3's connect() should still be pending"
    );
}

// ---------------------------------------------------------------------------
// backlog-abort

#[test]
fn backlog_abort_on_overflow_answers_rst() {
    require_capture("backlog-abort");
    let d = demo("backlog-abort", &[]);
    let p = d.tcp();
    let sysctl = d.call("lab", "sysctl");
    ensure!(
        d,
        s(sysctl, "args").contains("tcp_abort_on_overflow")
            && s(sysctl, "args").ends_with('1')
            && res(sysctl) == "ok",
        "a `sysctl net.ipv4.tcp_abort_on_overflow 1` call should be reported ok"
    );
    ensure!(
        d,
        res(d.call("server", "listen")) == "ok" && s(d.call("server", "listen"), "args") == "1",
        "listen backlog 1"
    );
    let end = d.end();
    // An RST from the server, during the scenario, right after a client's final ACK on that conn.
    let rst = p.iter().copied().find(|e| {
        from(e) == "server"
            && has(e, "RST")
            && t(e) < end
            && p.iter().any(|a| {
                a["conn"] == e["conn"] && from(a) == "client" && flags(a) == ["ACK"] && t(a) <= t(e)
            })
    });
    let Some(rst) = rst else {
        d.fail("no RST from the server answering a final ACK before the end")
    };
    ensure!(
        d,
        t(rst) > t(sysctl),
        "the RST should come after the sysctl"
    );
    // connect() returns at the SYN-ACK: the RST reaches either the waiting
    // connect() or the connected socket, whose next call reports it.
    let c2 = d.call("client2", "connect");
    let read2 = d.call("client2", "read");
    ensure!(
        d,
        res(c2) == "ECONNRESET" || (res(c2) == "ok" && res(read2) == "ECONNRESET"),
        "client2 should learn of the reset: connect() = {}, read() = {}",
        res(c2),
        res(read2)
    );
    ensure!(
        d,
        res(d.call("client", "connect")) == "ok" && res(d.call("client3", "connect")) == "ok",
        "client and client3 should connect (they fill the queue)"
    );
}

// ---------------------------------------------------------------------------
// half-close

#[test]
fn half_close_still_receives_after_shutdown_wr() {
    require_capture("half-close");
    let d = demo("half-close", &[]);
    let p = d.tcp();
    let shut = d.call("client", "shutdown");
    ensure!(
        d,
        s(shut, "args").contains("SHUT_WR") && res(shut) == "ok",
        "shutdown(SHUT_WR) should be reported ok"
    );
    let cfin = p
        .iter()
        .copied()
        .find(|e| from(e) == "client" && has(e, "FIN"))
        .unwrap_or_else(|| d.fail("no FIN from the client"));
    ensure!(
        d,
        t(cfin) <= t(shut) + 0.001,
        "the client's FIN should leave with shutdown()"
    );
    let sdata = p
        .iter()
        .copied()
        .find(|e| from(e) == "server" && n(e, "len") > 0)
        .unwrap_or_else(|| d.fail("no data from the server"));
    ensure!(
        d,
        t(sdata) > t(cfin),
        "the server's data should flow after the client's FIN"
    );
    ensure!(
        d,
        p.iter().any(|e| from(e) == "client"
            && n(e, "ack") == n(sdata, "seq") + n(sdata, "len")
            && t(e) >= t(sdata)),
        "the half-closed client should acknowledge the server's data"
    );
    let creads: Vec<&Value> = d
        .calls("client", "read")
        .into_iter()
        .filter(|e| t(e) > t(shut))
        .collect();
    ensure!(
        d,
        creads
            .first()
            .is_some_and(|r| res(r) == n(sdata, "len").to_string()),
        "the client's read after shutdown should return the server's {} bytes",
        n(sdata, "len")
    );
    let sreads = d.calls("server", "read");
    ensure!(
        d,
        sreads.len() >= 2 && res(sreads[0]) == "7" && res(sreads[1]) == "0",
        "the server should read the 7-byte request, then 0"
    );
    ensure!(
        d,
        t(sreads[1]) >= t(cfin),
        "the server's read() = 0 should follow the client's FIN"
    );
    let sfin = p
        .iter()
        .copied()
        .find(|e| from(e) == "server" && has(e, "FIN"))
        .unwrap_or_else(|| d.fail("no FIN from the server"));
    ensure!(
        d,
        t(sfin) >= t(sdata) && res(d.call("server", "close")) == "ok",
        "the server should close after answering"
    );
    ensure!(
        d,
        creads
            .get(1)
            .is_some_and(|r| res(r) == "0" && t(r) >= t(sfin)),
        "the client's second read should return 0 after the server's FIN"
    );
    ensure!(
        d,
        !p.iter().any(|e| has(e, "RST")),
        "no RST in a half-close"
    );
}

// ---------------------------------------------------------------------------
// keepalive

#[test]
fn keepalive_probes_then_etimedout() {
    require_capture("keepalive");
    let d = demo("keepalive", &[]);
    let p = d.tcp();
    ensure!(
        d,
        res(d.call_args("client", "setsockopt", "SO_KEEPALIVE")) == "ok",
        "SO_KEEPALIVE should be set"
    );
    let cut = d.link("cut");
    let restore = d.link("restore");
    let before: Vec<&Value> = p.iter().copied().filter(|e| t(e) < t(cut)).collect();
    ensure!(
        d,
        before
            .iter()
            .any(|e| from(e) == "client" && note(e, "keepalive") && !note(e, "lost")),
        "no keepalive probe before the link was cut"
    );
    ensure!(
        d,
        before
            .iter()
            .any(|e| from(e) == "server" && note(e, "keepalive_ack")),
        "no keepalive_ack from the server before the link was cut"
    );
    let lost: Vec<&Value> = p
        .iter()
        .copied()
        .filter(|e| t(e) > t(cut) && note(e, "keepalive"))
        .collect();
    ensure!(
        d,
        lost.len() >= 3 && lost.iter().all(|e| from(e) == "client" && note(e, "lost")),
        "after the cut, 3 keepalive probes from the client with note `lost` expected"
    );
    for w in lost.windows(2) {
        ensure!(
            d,
            t(w[1]) - t(w[0]) >= 0.7,
            "the probes should be about 1 s apart (intvl 1)"
        );
    }
    ensure!(
        d,
        !p.iter()
            .any(|e| note(e, "keepalive_ack") && t(e) > t(cut) && t(e) < t(restore)),
        "a keepalive_ack while the link was cut"
    );
    let read = d.call("client", "read");
    ensure!(
        d,
        res(read) == "ETIMEDOUT",
        "the client's read() should fail with ETIMEDOUT, got {}",
        res(read)
    );
    ensure!(
        d,
        t(read) >= t(lost[2]) && t(read) - t(cut) > 2.0,
        "ETIMEDOUT should come after the third lost probe"
    );
}

// ---------------------------------------------------------------------------
// shared-fd

#[test]
fn shared_fd_only_the_last_close_sends_fin() {
    require_capture("shared-fd");
    let d = demo("shared-fd", &[]);
    let p = d.tcp();
    let fork = d.call("server", "fork");
    ensure!(d, res(fork) == "ok", "fork should be ok");
    let first = d.call_args("server", "close", "connection");
    let last = d.call_args("server-child", "close", "connection");
    ensure!(
        d,
        res(first) == "ok" && res(last) == "ok",
        "both closes should be ok"
    );
    let sleep = d
        .calls("lab", "sleep")
        .into_iter()
        .find(|e| t(e) >= t(first) && t(e) <= t(last))
        .unwrap_or_else(|| d.fail("no sleep between the two closes"));
    let slept: f64 = s(sleep, "args")
        .strip_suffix("ms")
        .and_then(|v| v.parse::<f64>().ok())
        .map_or(0.3, |ms| ms / 1000.0);
    let sfins: Vec<&Value> = p
        .iter()
        .copied()
        .filter(|e| from(e) == "server" && has(e, "FIN"))
        .collect();
    ensure!(d, !sfins.is_empty(), "no FIN from the server");
    ensure!(
        d,
        !p.iter()
            .any(|e| from(e) == "server" && t(e) > t(fork) && t(e) < t(sleep) + slept - 0.01),
        "the first close() must send nothing, yet the server sent a packet before the child's close"
    );
    ensure!(
        d,
        t(sfins[0]) >= t(sleep) + slept - 0.01 && t(sfins[0]) <= t(last) + 0.02,
        "the FIN should leave with the last close() (t={}), it left at t={}",
        t(last),
        t(sfins[0])
    );
    let read = d.call("client", "read");
    ensure!(
        d,
        res(read) == "0" && t(read) >= t(sfins[0]),
        "the client's read should return 0 after the FIN"
    );
}

// ---------------------------------------------------------------------------
// concurrent

#[test]
fn concurrent_serves_three_clients_at_once() {
    require_capture("concurrent");
    let d = demo("concurrent", &[]);
    let p = d.tcp();
    let mut conns: Vec<u64> = p.iter().map(|e| n(e, "conn")).collect();
    conns.sort_unstable();
    conns.dedup();
    ensure!(d, conns.len() >= 3, "at least 3 connections expected");
    let mut ports = std::collections::HashSet::new();
    let mut last_handshake: f64 = 0.0;
    for c in &conns {
        let cp: Vec<&Value> = p.iter().copied().filter(|e| n(e, "conn") == *c).collect();
        ensure!(
            d,
            cp.len() >= 3
                && flags(cp[0]) == ["SYN"]
                && flags(cp[1]) == ["SYN", "ACK"]
                && flags(cp[2]) == ["ACK"],
            "conn {c} should start with a handshake"
        );
        last_handshake = last_handshake.max(t(cp[2]));
        ports.insert(s(cp[0], "src").to_owned());
        let cdata = data_from(&cp, "client");
        let sdata = data_from(&cp, "server");
        let clen: u64 = cdata.iter().map(|e| n(e, "len")).sum();
        let slen: u64 = sdata.iter().map(|e| n(e, "len")).sum();
        ensure!(
            d,
            clen > 0 && slen == clen,
            "conn {c}: the server should echo the client's {clen} bytes, it sent {slen}"
        );
        ensure!(
            d,
            t(sdata[0]) >= t(cdata[0]),
            "conn {c}: the echo should follow the request"
        );
    }
    ensure!(
        d,
        ports.len() == conns.len(),
        "each connection needs its own client port"
    );
    let first_fin = p
        .iter()
        .filter(|e| has(e, "FIN"))
        .map(|e| t(e))
        .fold(f64::INFINITY, f64::min);
    ensure!(
        d,
        last_handshake < first_fin,
        "all three connections should be open at once (every handshake before the first FIN)"
    );
    ensure!(
        d,
        d.calls("server", "accept")
            .iter()
            .filter(|e| res(e) == "ok")
            .count()
            >= 3,
        "the server should accept 3 connections"
    );
    for c in ["client", "client2", "client3"] {
        let w = d.call(c, "write");
        let r = d.call(c, "read");
        ensure!(
            d,
            res(w) == res(r)
                && asked_bytes(s(w, "args")).map(|b| b.to_string()).as_deref() == Some(res(r)),
            "{c} should read back what it wrote ({} → {})",
            s(w, "args"),
            res(r)
        );
    }
}

// ---------------------------------------------------------------------------
// epoll

/// The fd an epoll-loop call names: `fd 5, 65536` → 5, `EPOLL_CTL_ADD, fd 5, EPOLLIN` → 5.
fn fd_in(args: &str) -> Option<u32> {
    let rest = &args[args.find("fd ")? + 3..];
    rest.split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

fn check_epoll(d: &Demo) {
    let p = d.tcp();
    let mut conns: Vec<u64> = p.iter().map(|e| n(e, "conn")).collect();
    conns.sort_unstable();
    conns.dedup();
    ensure!(
        d,
        conns.len() == 3,
        "3 connections expected, saw {}",
        conns.len()
    );
    for c in &conns {
        let cp: Vec<&Value> = p.iter().copied().filter(|e| n(e, "conn") == *c).collect();
        let clen: u64 = data_from(&cp, "client").iter().map(|e| n(e, "len")).sum();
        let slen: u64 = data_from(&cp, "server").iter().map(|e| n(e, "len")).sum();
        ensure!(
            d,
            clen > 0 && slen == clen,
            "conn {c}: the server should echo the client's {clen} bytes, it sent {slen}"
        );
    }
    // One process, one thread: no fork, no child, and the loop's calls one
    // after another (a call never starts before the one before it returned).
    let calls: Vec<&Value> = d.ev.iter().filter(|e| e["kind"] == "call").collect();
    ensure!(
        d,
        !calls
            .iter()
            .any(|e| s(e, "endpoint").starts_with("server") && s(e, "endpoint") != "server"),
        "every server call must come from the one server process"
    );
    ensure!(
        d,
        d.calls("server", "fork").is_empty(),
        "an epoll server does not fork"
    );
    let create = d.call("server", "epoll_create1");
    ensure!(d, res(create) == "ok", "epoll_create1 should be ok");
    let listener = d.call("server", "listen");
    let ctl = d.calls("server", "epoll_ctl");
    let added: Vec<u32> = ctl
        .iter()
        .filter(|e| s(e, "args").starts_with("EPOLL_CTL_ADD") && s(e, "args").ends_with("EPOLLIN"))
        .filter(|e| res(e) == "ok")
        .filter_map(|e| fd_in(s(e, "args")))
        .collect();
    ensure!(
        d,
        added.len() == 4 && t(ctl[0]) > t(create) && t(create) > t(listener),
        "epoll_ctl(EPOLL_CTL_ADD, …, EPOLLIN) expected for the listener, then each of the 3 accepted sockets, after epoll_create1: {added:?}"
    );
    let lfd = added[0];
    let accepts = d.calls("server", "accept");
    ensure!(
        d,
        accepts.len() == 3
            && accepts
                .iter()
                .all(|e| res(e) == "ok" && fd_in(s(e, "args")) == Some(lfd)),
        "3 accepts on the listener (fd {lfd}) expected"
    );
    let waits = d.calls("server", "epoll_wait");
    let ready: Vec<u64> = waits
        .iter()
        .filter_map(|e| res(e).parse::<u64>().ok())
        .collect();
    ensure!(
        d,
        ready.len() == waits.len() && ready.iter().any(|&r| r >= 1),
        "epoll_wait should return ready counts (≥ 1): {ready:?}"
    );
    // Two connections queued (and one had sent) before the loop began: after
    // the first accept the listener and that connection are ready together.
    ensure!(
        d,
        ready.iter().any(|&r| r >= 2),
        "one epoll_wait should find 2 sockets ready (the listener and the first connection): {ready:?}"
    );
    for (i, fd) in added[1..].iter().enumerate() {
        let read = d
            .calls("server", "read")
            .into_iter()
            .find(|e| fd_in(s(e, "args")) == Some(*fd) && res(e) != "0")
            .unwrap_or_else(|| d.fail(&format!("no read() of fd {fd}")));
        let echo = d
            .calls("server", "write")
            .into_iter()
            .find(|e| fd_in(s(e, "args")) == Some(*fd))
            .unwrap_or_else(|| d.fail(&format!("no echo write() on fd {fd}")));
        ensure!(
            d,
            res(read) == res(echo) && t(echo) > t(read) && t(read) > t(accepts[i]),
            "fd {fd}: read then echo of the same bytes, after its accept"
        );
        let del = ctl
            .iter()
            .find(|e| s(e, "args") == format!("EPOLL_CTL_DEL, fd {fd}"))
            .unwrap_or_else(|| d.fail(&format!("no EPOLL_CTL_DEL of fd {fd}")));
        let close = d.call_args("server", "close", &format!("fd {fd}"));
        ensure!(
            d,
            t(close) > t(del) && res(close) == "ok",
            "fd {fd}: closed after it is no longer watched"
        );
    }
    // In an event loop only epoll_wait waits: whatever it reports ready
    // is served without blocking.
    let blocked: Vec<&str> = calls
        .iter()
        .filter(|e| s(e, "endpoint") == "server" && e.get("phase").is_some())
        .map(|e| s(e, "call"))
        .collect();
    ensure!(
        d,
        !blocked.is_empty() && blocked.iter().all(|&c| c == "epoll_wait"),
        "the loop should block in epoll_wait only, it blocked in {blocked:?}"
    );
    for c in ["client", "client2", "client3"] {
        let w = d.call(c, "write");
        let r = d.call(c, "read");
        ensure!(
            d,
            asked_bytes(s(w, "args")).map(|b| b.to_string()).as_deref() == Some(res(r)),
            "{c} should read back what it wrote ({} → {})",
            s(w, "args"),
            res(r)
        );
    }
}

#[test]
fn epoll_one_thread_serves_three_clients() {
    require_capture("epoll");
    check_epoll(&demo("epoll", &[]));
}

#[test]
fn epoll_rootless() {
    let d = crate::states::demo_rootless("epoll_rootless", "epoll");
    check_epoll(&Demo {
        what: "rootless synack demo epoll --json".into(),
        ev: d.events,
    });
}

// ---------------------------------------------------------------------------
// The lessons run both ways: as root here, and rootless through the
// tests' runner (an ordinary user's lab in a user namespace).

/// `synack demo NAME --json` as root, then as an ordinary user; each run
/// checked by `check`.
fn root_and_rootless(test: &str, name: &str, check: fn(&Demo)) {
    require_capture(name);
    check(&demo(name, &[]));
    let d = crate::states::demo_rootless(test, name);
    check(&Demo {
        what: format!("rootless synack demo {name} --json"),
        ev: d.events,
    });
}

/// The fds of a select's set: `nfds 6, readfds {3,4,5}, timeout NULL` → 3, 4, 5.
fn fd_set_in(args: &str) -> Vec<u32> {
    let Some((_, rest)) = args.split_once('{') else {
        return Vec::new();
    };
    let inside = rest.split('}').next().unwrap_or_default();
    inside
        .split(',')
        .filter_map(|f| f.trim().parse().ok())
        .collect()
}

/// The `data` a read returned (the bytes, as text).
fn data(e: &Value) -> &str {
    s(e, "data")
}

/// A call's lines, its `start` included, in order.
fn call_lines<'a>(d: &'a Demo, endpoint: &str, call: &str) -> Vec<&'a Value> {
    d.ev.iter()
        .filter(|e| e["kind"] == "call" && e["endpoint"] == endpoint && e["call"] == call)
        .collect()
}

// ---------------------------------------------------------------------------
// nonblocking

fn check_nonblocking(d: &Demo) {
    let p = d.tcp();
    let syn = p
        .iter()
        .copied()
        .find(|e| has(e, "SYN") && !has(e, "ACK"))
        .unwrap_or_else(|| d.fail("no SYN"));
    let fcntl = d.calls("server", "fcntl");
    ensure!(
        d,
        fcntl.len() == 2
            && fcntl
                .iter()
                .all(|e| s(e, "args") == "F_SETFL, O_NONBLOCK" && res(e) == "ok"),
        "fcntl(F_SETFL, O_NONBLOCK) = ok expected twice on the server (the listener, then the accepted socket)"
    );
    let accepts = d.calls("server", "accept");
    ensure!(
        d,
        accepts.len() == 2
            && res(accepts[0]) == "EAGAIN"
            && t(accepts[0]) < t(syn)
            && res(accepts[1]) == "ok",
        "accept() = EAGAIN on the empty queue before any SYN, then ok"
    );
    ensure!(
        d,
        t(fcntl[0]) < t(accepts[0]) && t(fcntl[1]) > t(accepts[1]),
        "the listener is made non-blocking before the first accept, the accepted socket after the second"
    );
    let cfcntl = d.call("client", "fcntl");
    let connect = d.call("client", "connect");
    ensure!(
        d,
        res(cfcntl) == "ok" && t(cfcntl) < t(syn),
        "the client's socket is non-blocking before its SYN"
    );
    ensure!(
        d,
        res(connect) == "EINPROGRESS" && t(syn) <= t(connect),
        "connect() sends the SYN and returns EINPROGRESS, got {}",
        res(connect)
    );
    let polls = d.calls("client", "poll");
    let out = polls
        .iter()
        .copied()
        .find(|e| s(e, "args").starts_with("POLLOUT"))
        .unwrap_or_else(|| d.fail("no poll(POLLOUT)"));
    let so_error = d.call_args("client", "getsockopt", "SO_ERROR");
    ensure!(
        d,
        res(out) == "1" && t(out) > t(connect),
        "poll(POLLOUT) = 1 after the connect"
    );
    ensure!(
        d,
        res(so_error) == "0" && t(so_error) > t(out),
        "getsockopt(SO_ERROR) = 0 once writable, got {}",
        res(so_error)
    );
    // The reads: EAGAIN; then the busy loop's first EAGAIN, one row for
    // the N after it, and the 5 bytes. Never a row per call.
    let reads = d.calls("server", "read");
    let spun: Vec<&Value> = reads
        .iter()
        .copied()
        .filter(|e| e.get("times").is_some())
        .collect();
    ensure!(
        d,
        spun.len() == 1 && res(spun[0]) == "EAGAIN" && n(spun[0], "times") > 0,
        "one read() = EAGAIN ×N row with N > 0 expected"
    );
    let busy = n(spun[0], "times");
    let data_pkt = p
        .iter()
        .copied()
        .find(|e| from(e) == "client" && n(e, "len") == 5)
        .unwrap_or_else(|| d.fail("no 5-byte data segment from the client"));
    let got = reads
        .iter()
        .copied()
        .find(|e| res(e) == "5")
        .unwrap_or_else(|| d.fail("no read() = 5"));
    ensure!(
        d,
        data(got) == "hello" && t(got) >= t(spun[0]) && t(got) > t(data_pkt),
        "the loop's last read() gets \"hello\" after the EAGAIN ×{busy} row and the data segment"
    );
    let before: Vec<&Value> = reads
        .iter()
        .copied()
        .filter(|e| t(e) < t(spun[0]))
        .collect();
    ensure!(
        d,
        reads.len() == 4
            && before.len() == 2
            && before
                .iter()
                .all(|e| res(e) == "EAGAIN" && t(e) < t(data_pkt)),
        "four server read rows expected: EAGAIN, the loop's first EAGAIN, EAGAIN ×{busy}, 5"
    );
    let fin = p
        .iter()
        .copied()
        .find(|e| from(e) == "server" && has(e, "FIN"))
        .unwrap_or_else(|| d.fail("no FIN from the server"));
    let poll_in = polls
        .iter()
        .copied()
        .find(|e| s(e, "args").starts_with("POLLIN"))
        .unwrap_or_else(|| d.fail("no poll(POLLIN)"));
    let eof = d.call("client", "read");
    ensure!(
        d,
        res(poll_in) == "1" && t(poll_in) >= t(fin) && res(eof) == "0",
        "after the server's FIN, poll(POLLIN) = 1 and read() = 0"
    );
}

#[test]
fn nonblocking_eagain_einprogress_so_error_and_a_counted_busy_loop() {
    root_and_rootless(
        "nonblocking_eagain_einprogress_so_error_and_a_counted_busy_loop",
        "nonblocking",
        check_nonblocking,
    );
}

// ---------------------------------------------------------------------------
// Why each RST was sent: the kernel's word, or nothing

/// Whether the run had the kernel's tracepoint (no warning that exact
/// transitions are unavailable).
fn traced(d: &Demo) -> bool {
    !d.ev.iter().any(|e| {
        e["kind"] == "warning" && s(e, "message").contains("exact state transitions unavailable")
    })
}

fn check_rst_reasons(d: &Demo) {
    let rsts: Vec<&Value> = d.tcp().into_iter().filter(|p| has(p, "RST")).collect();
    ensure!(d, !rsts.is_empty(), "a RST expected");
    for p in rsts {
        let why = p.get("rst_reason");
        if traced(d) {
            ensure!(
                d,
                why.is_some_and(|w| w == "NO_SOCKET"),
                "with the tracepoint the refusal's RST says NO_SOCKET: {}",
                line(p)
            );
        } else {
            ensure!(
                d,
                why.is_none(),
                "without the tracepoint no RST may carry a reason (nothing is guessed): {}",
                line(p)
            );
        }
    }
}

/// The refusal's RST says why (NO_SOCKET) only where the kernel said so:
/// as the host's root; rootless (no tracefs) it shows as before, bare.
#[test]
fn a_rst_carries_a_reason_only_from_the_kernel() {
    root_and_rootless(
        "a_rst_carries_a_reason_only_from_the_kernel",
        "refused",
        check_rst_reasons,
    );
}

// ---------------------------------------------------------------------------
// What the kernel dropped and retransmitted: its word, or nothing

fn check_kernel_witness(d: &Demo) {
    let tcp = d.tcp();
    let lost: Vec<&&Value> = tcp.iter().filter(|p| note(p, "lost")).collect();
    let resent: Vec<&&Value> = tcp
        .iter()
        .filter(|p| note(p, "retransmission") || note(p, "fast_retransmission"))
        .collect();
    ensure!(
        d,
        !lost.is_empty() && !resent.is_empty(),
        "loss and retransmissions expected"
    );
    if traced(d) {
        for p in lost {
            ensure!(
                d,
                p.get("drop_reason").is_some_and(|w| w == "SOCKET_FILTER"),
                "with the tracepoint a segment the lab's link dropped is the kernel's SOCKET_FILTER drop: {}",
                line(p)
            );
        }
        for p in resent {
            ensure!(
                d,
                p.get("retransmit").is_some_and(|w| w == "kernel"),
                "with the tracepoint the loss lesson's retransmissions are the kernel's: {}",
                line(p)
            );
        }
    } else {
        for p in &tcp {
            ensure!(
                d,
                p.get("drop_reason").is_none() && p.get("retransmit").is_none(),
                "without the tracepoint no packet may say what the kernel dropped or resent (nothing is guessed): {}",
                line(p)
            );
        }
    }
}

/// The loss lesson's dropped segments and retransmissions carry the
/// kernel's word only where the kernel said it: as the host's root;
/// rootless (no tracefs) they show as before, with the capture's notes alone.
#[test]
fn drops_and_retransmissions_carry_the_kernels_word_only_from_the_kernel() {
    root_and_rootless(
        "drops_and_retransmissions_carry_the_kernels_word_only_from_the_kernel",
        "loss",
        check_kernel_witness,
    );
}

// ---------------------------------------------------------------------------
// select

fn check_select(d: &Demo) {
    let selects = d.calls("server", "select");
    let counts: Vec<u64> = selects
        .iter()
        .filter_map(|e| res(e).parse::<u64>().ok())
        .collect();
    ensure!(
        d,
        !selects.is_empty()
            && counts.len() == selects.len()
            && selects
                .iter()
                .all(|e| s(e, "args").ends_with("timeout NULL")),
        "the server's select() calls return counts and have no timeout: {counts:?}"
    );
    ensure!(
        d,
        counts.iter().all(|&c| c >= 1) && counts.contains(&2),
        "without a timeout every select returns ≥ 1, and one finds 2 ready (the listener and the first connection): {counts:?}"
    );
    let sets: Vec<Vec<u32>> = selects.iter().map(|e| fd_set_in(s(e, "args"))).collect();
    let lfd = sets[0]
        .first()
        .copied()
        .unwrap_or_else(|| d.fail("the first select watches no fd"));
    ensure!(
        d,
        sets[0] == [lfd] && s(selects[0], "args").starts_with(&format!("nfds {}, ", lfd + 1)),
        "the first select watches the listener alone (nfds = its fd + 1)"
    );
    ensure!(
        d,
        sets.iter().any(|set| set.len() == 3 && set[0] == lfd),
        "a later select watches the listener and both connections: {sets:?}"
    );
    let accepts = d.calls("server", "accept");
    ensure!(
        d,
        accepts.len() == 2
            && accepts
                .iter()
                .all(|e| res(e) == "ok" && fd_in(s(e, "args")) == Some(lfd)),
        "2 accepts on the listener (fd {lfd})"
    );
    let r1 = d.call("client", "read");
    ensure!(
        d,
        res(r1) == "3" && data(r1) == "one",
        "client reads back \"one\""
    );
    // client2's own select: 0 after its 1 s timeout, then 1.
    let lines = call_lines(d, "client2", "select");
    let done: Vec<&Value> = lines
        .iter()
        .copied()
        .filter(|e| e.get("phase").is_none())
        .collect();
    ensure!(
        d,
        done.len() == 2
            && done
                .iter()
                .all(|e| s(e, "args").ends_with("readfds {3}, timeout 1s")),
        "client2 selects twice on its socket with a 1 s timeout"
    );
    let (zero, one) = (done[0], done[1]);
    let started = lines
        .iter()
        .copied()
        .find(|e| e.get("phase").is_some() && t(e) < t(zero))
        .unwrap_or_else(|| d.fail("client2's first select should be seen waiting"));
    ensure!(
        d,
        res(zero) == "0" && t(zero) - t(started) >= 0.9,
        "with nothing ready, select() returns 0 after its 1 s timeout (waited {:.3} s)",
        t(zero) - t(started)
    );
    let c2_port = s(d.call("client2", "connect"), "local")
        .rsplit(':')
        .next()
        .unwrap_or_default()
        .to_owned();
    ensure!(
        d,
        !d.tcp().iter().any(|e| {
            s(e, "dst").ends_with(&format!(":{c2_port}"))
                && n(e, "len") > 0
                && t(e) > t(started)
                && t(e) < t(zero)
        }),
        "nothing arrived for client2 while its select waited"
    );
    let r2 = d.call("client2", "read");
    ensure!(
        d,
        res(one) == "1" && t(one) > t(zero) && res(r2) == "3" && data(r2) == "two",
        "after writing, client2's select() = 1 and it reads back \"two\""
    );
}

#[test]
fn select_returns_ready_counts_and_zero_on_timeout() {
    root_and_rootless(
        "select_returns_ready_counts_and_zero_on_timeout",
        "select",
        check_select,
    );
}

// ---------------------------------------------------------------------------
// keepalive-reboot

fn check_keepalive_reboot(d: &Demo) {
    let p = d.tcp();
    ensure!(
        d,
        res(d.call_args("server", "setsockopt", "SO_LINGER")) == "ok",
        "SO_LINGER {{on, 0}} on the server's socket"
    );
    let cut = d.link("cut");
    let restore = d.link("restore");
    let kill = d.call("lab", "kill");
    ensure!(
        d,
        t(cut) <= t(kill) && t(kill) <= t(restore),
        "cut, kill, restore in that order"
    );
    let probes_before: Vec<&Value> = p
        .iter()
        .copied()
        .filter(|e| t(e) < t(cut) && from(e) == "client" && note(e, "keepalive"))
        .collect();
    ensure!(
        d,
        !probes_before.is_empty()
            && p.iter()
                .any(|e| from(e) == "server" && t(e) > t(probes_before[0]) && t(e) < t(cut)),
        "a keepalive probe answered by the server before the reboot"
    );
    // The dying server's RST is lost on the cut link.
    let lost_rst = p
        .iter()
        .copied()
        .find(|e| from(e) == "server" && has(e, "RST") && t(e) >= t(kill))
        .unwrap_or_else(|| d.fail("no RST from the killed server"));
    ensure!(
        d,
        note(lost_rst, "lost") && t(lost_rst) < t(restore),
        "the killed server's RST should be lost on the cut link"
    );
    // After the restore: a probe, answered by the server kernel's RST.
    let probe = p
        .iter()
        .copied()
        .find(|e| t(e) > t(restore) && from(e) == "client" && note(e, "keepalive"))
        .unwrap_or_else(|| d.fail("no keepalive probe after the restore"));
    let rst = p
        .iter()
        .copied()
        .find(|e| t(e) >= t(probe) && from(e) == "server" && has(e, "RST"))
        .unwrap_or_else(|| d.fail("no RST answering the probe"));
    ensure!(
        d,
        !note(probe, "lost") && !note(rst, "lost") && !has(rst, "SYN"),
        "the probe and its RST both pass the restored link"
    );
    // Only the way into the client is cut: a probe that leaves between the
    // kill and the restore reaches the server's kernel (its RST is what is
    // lost), and every probe is a keepalive, even after a RST of window 0.
    ensure!(
        d,
        !p.iter()
            .any(|e| from(e) == "client" && (note(e, "lost") || note(e, "zero_window_probe"))),
        "no segment from the client is lost, and none is taken for a zero-window probe"
    );
    let read = d.call("client", "read");
    ensure!(
        d,
        res(read) == "ECONNRESET" && t(read) >= t(rst),
        "the blocked read() should fail with ECONNRESET after the RST, got {}",
        res(read)
    );
    // Until that RST the client's socket was ESTABLISHED: nothing told it.
    let client_changes: Vec<&Value> =
        d.ev.iter()
            .filter(|e| e["kind"] == "state" && e["endpoint"] == "client" && t(e) > t(cut))
            .collect();
    ensure!(
        d,
        client_changes
            .first()
            .is_some_and(|e| e["from"] == "ESTABLISHED" && e["to"] == "CLOSED" && t(e) >= t(rst)),
        "the client should stay ESTABLISHED until the probe's RST"
    );
}

#[test]
fn keepalive_reboot_probe_gets_rst_and_econnreset() {
    root_and_rootless(
        "keepalive_reboot_probe_gets_rst_and_econnreset",
        "keepalive-reboot",
        check_keepalive_reboot,
    );
}

/// The reboot lasts 1.5 s instead of 0.2 s, so a probe leaves while the
/// server is down: it reaches the server's kernel (only the way into the
/// client is cut) and its RST is what the link loses. The next probe after
/// the restore is still a keepalive, and ends the connection.
#[test]
fn keepalive_reboot_a_probe_during_the_reboot_gets_a_lost_rst() {
    require_capture("keepalive-reboot, longer");
    let dir = scratch("reboot-long");
    let path = dir.join("reboot-long.txt");
    let text = include_str!("../../assets/scenarios/keepalive-reboot.txt");
    assert!(text.contains("+ sleep 200ms\n"), "the scenario changed");
    std::fs::write(&path, text.replace("+ sleep 200ms\n", "+ sleep 1500ms\n")).unwrap();
    let run = run_timeout(
        synack().args(["demo", "--script"]).arg(&path).arg("--json"),
        DEMO_LIMIT,
    );
    assert!(run.status.success(), "stderr:\n{}", run.stderr);
    let d = parse_demo("keepalive-reboot with a 1.5 s reboot".into(), &run.stdout);
    check_keepalive_reboot(&d);
    let p = d.tcp();
    let (kill, restore) = (t(d.call("lab", "kill")), t(d.link("restore")));
    let probe = p
        .iter()
        .copied()
        .find(|e| from(e) == "client" && note(e, "keepalive") && t(e) > kill && t(e) < restore)
        .unwrap_or_else(|| d.fail("no probe while the server was down"));
    ensure!(
        d,
        p.iter().any(|e| from(e) == "server"
            && has(e, "RST")
            && note(e, "lost")
            && t(e) >= t(probe)
            && t(e) < restore),
        "the probe during the reboot should be answered by a RST the cut link loses"
    );
}

// ---------------------------------------------------------------------------
// heartbeat

fn check_heartbeat(d: &Demo) {
    let cut = d.link("cut");
    let writes = d.calls("client", "write");
    let polls = d.calls("client", "poll");
    let reads = d.calls("client", "read");
    let before = |v: &[&Value]| v.iter().filter(|e| t(e) < t(cut)).count();
    ensure!(
        d,
        before(&writes) >= 2
            && writes
                .iter()
                .all(|e| s(e, "args") == "\"ping\"" && res(e) == "4"),
        "the client should write \"ping\" every second (≥ 2 before the cut)"
    );
    ensure!(
        d,
        polls
            .iter()
            .filter(|e| t(e) < t(cut))
            .all(|e| res(e) == "1" && s(e, "args") == "POLLIN, timeout 1000")
            && before(&polls) >= 2,
        "before the cut every poll(POLLIN, timeout 1000) = 1"
    );
    ensure!(
        d,
        before(&reads) >= 2 && reads.iter().all(|e| data(e) == "ping"),
        "the client reads each echoed \"ping\""
    );
    ensure!(
        d,
        d.calls("server", "read").iter().any(|e| data(e) == "ping"),
        "the echo server reads the pings"
    );
    let close = d.call("client", "close");
    ensure!(
        d,
        s(close, "args").contains("3 pings unanswered") && res(close) == "ok",
        "the heartbeat should close the connection after 3 missed answers"
    );
    let missed: Vec<&Value> = polls.iter().copied().filter(|e| t(e) > t(cut)).collect();
    ensure!(
        d,
        missed.len() == 3
            && missed.iter().all(|e| res(e) == "0" && t(e) <= t(close))
            && missed.windows(2).all(|w| t(w[1]) - t(w[0]) >= 0.9),
        "after the cut, three polls returning 0, a second apart, then the close"
    );
    let after = t(close) - t(cut);
    ensure!(
        d,
        (2.0..5.0).contains(&after),
        "the heartbeat should give up within a few seconds of the cut (took {after:.3} s)"
    );
    // TCP itself had noticed nothing: no keepalive probe, no error, and
    // the client's socket ESTABLISHED until its program closed it.
    ensure!(
        d,
        !d.tcp().iter().any(|e| note(e, "keepalive")),
        "no keepalive probe: the kernel was not looking"
    );
    let first_change =
        d.ev.iter()
            .find(|e| e["kind"] == "state" && e["endpoint"] == "client" && t(e) > t(cut))
            .unwrap_or_else(|| d.fail("no state change of the client after the cut"));
    ensure!(
        d,
        first_change["from"] == "ESTABLISHED" && first_change["to"] == "FIN-WAIT-1",
        "the client's socket goes from ESTABLISHED to FIN-WAIT-1 when the heartbeat closes it"
    );
    ensure!(
        d,
        !d.ev
            .iter()
            .any(|e| e["kind"] == "state" && e["endpoint"] == "server" && t(e) > t(cut)),
        "the server's socket stays ESTABLISHED: it knows nothing"
    );
}

#[test]
fn heartbeat_gives_up_within_seconds_of_the_cut() {
    root_and_rootless(
        "heartbeat_gives_up_within_seconds_of_the_cut",
        "heartbeat",
        check_heartbeat,
    );
}

// ---------------------------------------------------------------------------
// peek

fn check_peek(d: &Demo) {
    let write = d.call("client", "write");
    let peek = d.call_args("server", "recv", "MSG_PEEK");
    ensure!(
        d,
        s(peek, "args") == "4, MSG_PEEK" && res(peek) == "4" && data(peek) == "GET ",
        "recv(4, MSG_PEEK) = 4 \"GET \" expected"
    );
    let read = d
        .calls("server", "read")
        .into_iter()
        .find(|e| t(e) > t(peek))
        .unwrap_or_else(|| d.fail("no read after the peek"));
    ensure!(
        d,
        res(read) == "15" && data(read) == "GET /index.html" && data(read).starts_with(data(peek)),
        "the read after the peek gets the same bytes from the start: \"GET /index.html\""
    );
    // The kernel's word on the receive queue: queues are reported when they
    // change, so the last report before the read says what it held up to it.
    let last =
        d.ev.iter()
            .rev()
            .find(|e| {
                e["kind"] == "socket_queues"
                    && e["endpoint"] == "server"
                    && t(e) > t(write)
                    && t(e) < t(read)
            })
            .unwrap_or_else(|| {
                d.fail("no report of the server's queues between the write and the read")
            });
    ensure!(
        d,
        n(last, "recv_q") == 15,
        "the server's recv-q should still hold 15 bytes after the peek, until the read"
    );
}

#[test]
fn peek_leaves_the_bytes_for_the_next_read() {
    root_and_rootless(
        "peek_leaves_the_bytes_for_the_next_read",
        "peek",
        check_peek,
    );
}

// ---------------------------------------------------------------------------
// urgent

#[test]
fn urgent_sets_urg_and_pointer() {
    require_capture("urgent");
    let d = demo("urgent", &[]);
    let p = d.tcp();
    let send = d.call_args("client", "send", "MSG_OOB");
    ensure!(d, res(send) == "1", "send(\"!\", MSG_OOB) should return 1");
    let urg: Vec<&Value> = p.iter().copied().filter(|e| has(e, "URG")).collect();
    ensure!(d, urg.len() == 1, "one segment with the URG flag expected");
    let u = urg[0];
    let ptr = u["urg"]
        .as_u64()
        .unwrap_or_else(|| d.fail("the URG segment has no numeric `urg` field"));
    ensure!(
        d,
        ptr > 0 && ptr <= n(u, "len") && from(u) == "client",
        "the urgent pointer should point into the client's segment (urg={ptr}, len={})",
        n(u, "len")
    );
    ensure!(
        d,
        p.iter()
            .filter(|e| !has(e, "URG"))
            .all(|e| e.get("urg").is_none_or(|v| v.as_u64() == Some(0))),
        "an urgent pointer on a segment without URG"
    );
    ensure!(
        d,
        res(d.call("server", "read")) == "11",
        "a plain read should return only the 11 normal bytes"
    );
}

// ---------------------------------------------------------------------------
// zero-window

#[test]
fn zero_window_probe_then_window_update() {
    require_capture("zero-window");
    let d = demo("zero-window", &[]);
    let p = d.tcp();
    let zw = p
        .iter()
        .copied()
        .find(|e| note(e, "zero_window"))
        .unwrap_or_else(|| d.fail("no segment with note zero_window"));
    ensure!(
        d,
        from(zw) == "server" && n(zw, "win") == 0,
        "zero_window should be the server advertising win 0"
    );
    ensure!(
        d,
        p.iter()
            .filter(|e| note(e, "zero_window"))
            .all(|e| n(e, "win") == 0),
        "a zero_window note on a segment whose win is not 0"
    );
    let probes: Vec<&Value> = p
        .iter()
        .copied()
        .filter(|e| note(e, "zero_window_probe"))
        .collect();
    ensure!(
        d,
        !probes.is_empty(),
        "no segment with note zero_window_probe (the client's probes while the window is 0)"
    );
    ensure!(
        d,
        probes.iter().all(|e| from(e) == "client" && t(e) > t(zw)),
        "zero-window probes should come from the client after the window closed"
    );
    ensure!(
        d,
        !p.iter()
            .any(|e| from(e) == "client" && note(e, "keepalive") && t(e) > t(zw)),
        "a zero-window probe is labelled keepalive (no SO_KEEPALIVE in this scenario)"
    );
    if probes.len() >= 3 {
        let g: Vec<f64> = probes.windows(2).map(|w| t(w[1]) - t(w[0])).collect();
        ensure!(
            d,
            g.windows(2).all(|x| x[1] > x[0]),
            "the probes should be further and further apart: gaps {g:?}"
        );
    }
    let last_probe = probes[probes.len() - 1];
    let wu = p
        .iter()
        .copied()
        .find(|e| note(e, "window_update") && t(e) > t(last_probe))
        .unwrap_or_else(|| d.fail("no window_update after the probes"));
    ensure!(
        d,
        from(wu) == "server" && n(wu, "win") > 0,
        "the window update should be the server opening its window"
    );
    let read: u64 = d
        .calls("server", "read")
        .iter()
        .map(|e| res(e).parse::<u64>().unwrap_or(0))
        .sum();
    ensure!(
        d,
        read == 30000,
        "the server should read all 30000 bytes, read {read}"
    );
    ensure!(
        d,
        p.iter()
            .any(|e| from(e) == "server" && n(e, "ack") == 30001 && t(e) > t(wu)),
        "the server should acknowledge all 30000 bytes after the update"
    );
}

// ---------------------------------------------------------------------------
// retransmit

#[test]
fn retransmit_backs_off_and_recovers() {
    require_capture("retransmit");
    let d = demo("retransmit", &[]);
    let p = d.tcp();
    let cut = d.link("cut");
    let restore = d.link("restore");
    let w = d.call_args("client", "write", "important");
    ensure!(d, res(w) == "9", "write should return 9 at once");
    let copies: Vec<&Value> = p
        .iter()
        .copied()
        .filter(|e| from(e) == "client" && n(e, "len") == 9)
        .collect();
    ensure!(d, !copies.is_empty(), "the 9 bytes were never sent");
    ensure!(
        d,
        copies.iter().all(|e| n(e, "seq") == n(copies[0], "seq")),
        "the repeated segment should keep its seq"
    );
    ensure!(
        d,
        t(copies[0]) > t(cut) && note(copies[0], "lost") && !note(copies[0], "retransmission"),
        "the original should be sent after the cut and marked lost"
    );
    let during: Vec<&Value> = copies
        .iter()
        .copied()
        .filter(|e| t(e) < t(restore))
        .collect();
    ensure!(
        d,
        during.len() >= 3,
        "at least 2 retransmissions while the link was cut expected"
    );
    ensure!(
        d,
        during[1..]
            .iter()
            .all(|e| note(e, "retransmission") && note(e, "lost")),
        "the copies while cut should be noted retransmission and lost"
    );
    let g: Vec<f64> = copies.windows(2).map(|w| t(w[1]) - t(w[0])).collect();
    ensure!(
        d,
        g.windows(2).all(|x| x[1] >= x[0] * 0.9) && g[g.len() - 1] >= 1.8 * g[0],
        "the gaps between retransmissions should grow (back-off): {g:?}"
    );
    let after = copies
        .iter()
        .copied()
        .find(|e| t(e) > t(restore))
        .unwrap_or_else(|| d.fail("no retransmission after the link was restored"));
    ensure!(
        d,
        note(after, "retransmission") && !note(after, "lost"),
        "the retransmission after the restore should not be lost"
    );
    let acked = n(copies[0], "seq") + 9;
    ensure!(
        d,
        p.iter()
            .any(|e| from(e) == "server" && n(e, "ack") == acked && t(e) >= t(after)),
        "the server should acknowledge the data (ack={acked}) after the restore"
    );
    let read = d.call("server", "read");
    ensure!(
        d,
        res(read) == "9" && t(read) >= t(after),
        "the server should read the 9 bytes once they get through"
    );
}

// ---------------------------------------------------------------------------
// loss

#[test]
fn loss_shows_dup_acks_a_fast_retransmission_and_a_timeout() {
    require_capture("loss");
    let d = demo("loss", &[]);
    let p = d.tcp();
    let drop = d.link("drop 5 server");
    let restore = d.link("restore");
    let data: Vec<&Value> = p
        .iter()
        .copied()
        .filter(|e| from(e) == "client" && n(e, "len") > 0)
        .collect();
    // Ten segments of 988 bytes (1000 less the timestamp option).
    ensure!(
        d,
        data.iter().all(|e| n(e, "len") == 988),
        "every data segment should be 988 bytes long (maxseg 1000)"
    );
    let lost: Vec<&Value> = data.iter().copied().filter(|e| note(e, "lost")).collect();
    let hole = 4 * 988 + 1;
    ensure!(
        d,
        lost.len() == 2 && lost.iter().all(|e| n(e, "seq") == hole && t(e) > t(drop)),
        "the 5th segment (seq {hole}) and its fast retransmission should be lost, and nothing else"
    );
    ensure!(
        d,
        data.iter().filter(|e| n(e, "seq") != hole).count() == 9,
        "the nine other segments should each be sent once"
    );
    // The duplicate ACKs between the loss and the fast retransmission, each
    // with a SACK block naming what arrived after the hole.
    let dups: Vec<&Value> = p
        .iter()
        .copied()
        .filter(|e| {
            from(e) == "server"
                && n(e, "ack") == hole
                && t(e) > t(lost[0])
                && t(e) < t(lost[1])
                && options(e).iter().any(|o| o.starts_with("sack="))
        })
        .collect();
    ensure!(
        d,
        dups.len() >= 3,
        "at least three duplicate ACKs with SACK blocks should come before the fast retransmission"
    );
    ensure!(
        d,
        options(dups[0]).contains(&format!("sack={}-{}", hole + 988, hole + 2 * 988).as_str()),
        "the first duplicate ACK should SACK the 6th segment"
    );
    ensure!(
        d,
        t(lost[1]) - t(lost[0]) < 0.1,
        "the fast retransmission should not wait for a timer"
    );
    // Named as Wireshark names them: the resend is a fast retransmission,
    // and the plain duplicates are numbered 1, 2 … after the ACK they repeat.
    ensure!(
        d,
        note(lost[1], "fast_retransmission"),
        "the resend after the duplicate ACKs should be noted fast_retransmission"
    );
    let numbered: Vec<u64> = dups
        .iter()
        .filter(|e| note(e, "dup_ack"))
        .map(|e| n(e, "dup_ack_num"))
        .collect();
    ensure!(
        d,
        !numbered.is_empty() && numbered.iter().enumerate().all(|(i, k)| *k == i as u64 + 1),
        "the dup ACKs should be numbered 1, 2 … (got {numbered:?})"
    );
    let rto = data
        .iter()
        .copied()
        .find(|e| t(e) > t(restore))
        .unwrap_or_else(|| d.fail("no retransmission after the link was restored"));
    ensure!(
        d,
        n(rto, "seq") == hole
            && note(rto, "retransmission")
            && !note(rto, "lost")
            && t(rto) - t(lost[1]) >= 0.19,
        "the timer's retransmission (at least 200 ms after the lost one) should get through"
    );
    ensure!(
        d,
        p.iter()
            .any(|e| from(e) == "server" && n(e, "ack") == 9881 && t(e) >= t(rto)),
        "one ACK should cover all ten segments after the timer's retransmission"
    );
    let reads = d.calls("server", "read");
    let last = reads
        .last()
        .unwrap_or_else(|| d.fail("the server read nothing"));
    ensure!(
        d,
        t(last) >= t(rto)
            && reads
                .iter()
                .map(|e| res(e).parse::<u64>().unwrap_or(0))
                .sum::<u64>()
                == 9880,
        "the server should read the 9880 bytes, the last of them after the retransmission"
    );
}

/// `link loss 20% server` on a 30-segment transfer: what the model notes
/// `lost` must be exactly what the filter dropped. A segment the server
/// acknowledged or SACKed must have a copy not noted lost sent before that;
/// a segment noted lost must be sent again; nothing towards the client is lost.
#[test]
fn link_loss_notes_exactly_what_the_filter_dropped() {
    require_capture("link_loss");
    let dir = scratch("link-loss");
    let path = dir.join("loss20.txt");
    std::fs::write(
        &path,
        "server listen\nclient setsockopt maxseg 1000\nclient connect\nserver accept\n\
         link loss 20% server\nclient write 30000\nserver drain 30000\nlink restore\n\
         client close\nserver close\n",
    )
    .unwrap();
    let run = run_timeout(
        synack().args(["demo", "--script"]).arg(&path).arg("--json"),
        DEMO_LIMIT,
    );
    assert!(run.status.success(), "stderr:\n{}", run.stderr);
    let d = parse_demo("link loss 20%".into(), &run.stdout);
    let p = d.tcp();
    d.link("loss 20% server");
    let data: Vec<&Value> = p
        .iter()
        .copied()
        .filter(|e| from(e) == "client" && n(e, "len") > 0)
        .collect();
    let lost = data.iter().filter(|e| note(e, "lost")).count();
    ensure!(
        d,
        lost >= 1 && lost < data.len() / 2,
        "about a fifth of the data segments should be lost: {lost} of {}",
        data.len()
    );
    ensure!(
        d,
        !p.iter().any(|e| from(e) == "server" && note(e, "lost")),
        "nothing towards the client may be lost"
    );
    let delivered_before = |seq: u64, at: f64| {
        data.iter()
            .any(|e| n(e, "seq") == seq && !note(e, "lost") && t(e) <= at)
    };
    for e in &data {
        if note(e, "lost") {
            ensure!(
                d,
                data.iter()
                    .any(|x| n(x, "seq") == n(e, "seq") && t(x) > t(e)),
                "the lost segment seq={} should be sent again",
                n(e, "seq")
            );
        }
    }
    for a in p.iter().filter(|e| from(e) == "server" && has(e, "ACK")) {
        let mut covered: Vec<(u64, u64)> = vec![(1, n(a, "ack"))];
        for o in options(a) {
            if let Some((l, r)) = o.strip_prefix("sack=").and_then(|b| b.split_once('-')) {
                covered.push((l.parse().unwrap(), r.parse().unwrap()));
            }
        }
        for e in &data {
            let (seq, end) = (n(e, "seq"), n(e, "seq") + n(e, "len"));
            if t(e) <= t(a) && covered.iter().any(|&(l, r)| l <= seq && end <= r) {
                ensure!(
                    d,
                    delivered_before(seq, t(a)),
                    "the server acknowledged seq={seq} at {}, yet every copy before was noted lost",
                    t(a)
                );
            }
        }
    }
    let read: u64 = d
        .calls("server", "read")
        .iter()
        .map(|e| res(e).parse::<u64>().unwrap_or(0))
        .sum();
    ensure!(d, read == 30000, "the server should read all 30000 bytes");
}

// ---------------------------------------------------------------------------
// simultaneous-close

#[test]
fn simultaneous_close_fins_cross() {
    require_capture("simultaneous-close");
    let d = demo("simultaneous-close", &[]);
    let p = d.tcp();
    let cut = d.link("cut");
    let restore = d.link("restore");
    for side in ["client", "server"] {
        let sh = d.call(side, "shutdown");
        ensure!(
            d,
            s(sh, "args").contains("SHUT_WR")
                && res(sh) == "ok"
                && t(sh) > t(cut)
                && t(sh) < t(restore),
            "{side} shutdown(SHUT_WR) should be ok while the link is cut"
        );
    }
    let fin_of = |side: &str| -> Vec<&Value> {
        p.iter()
            .copied()
            .filter(|e| from(e) == side && has(e, "FIN"))
            .collect()
    };
    let (cf, sf) = (fin_of("client"), fin_of("server"));
    ensure!(
        d,
        !cf.is_empty() && !sf.is_empty(),
        "FINs from both sides expected"
    );
    for (side, fins, peer) in [("client", &cf, &sf), ("server", &sf, &cf)] {
        let first = fins[0];
        ensure!(
            d,
            note(first, "lost") && t(first) > t(cut) && t(first) < t(restore),
            "the {side}'s first FIN should be sent while cut (note lost)"
        );
        ensure!(
            d,
            n(first, "ack") == 1,
            "the {side}'s first FIN should not acknowledge the peer's FIN yet (ack=1)"
        );
        let peer_delivered = peer
            .iter()
            .copied()
            .find(|e| !note(e, "lost"))
            .unwrap_or_else(|| d.fail(&format!("no FIN got through to the {side}")));
        ensure!(
            d,
            t(first) < t(peer_delivered) && t(peer_delivered) > t(restore),
            "the {side}'s FIN should leave before the peer's FIN got through (after the restore)"
        );
        let fin_seq = n(first, "seq");
        let acker = if side == "client" { "server" } else { "client" };
        ensure!(
            d,
            p.iter().any(|e| from(e) == acker
                && has(e, "ACK")
                && n(e, "ack") == fin_seq + 1
                && !note(e, "lost")
                && t(e) > t(restore)),
            "the {acker} should acknowledge the {side}'s FIN (ack={}) after the restore",
            fin_seq + 1
        );
    }
    ensure!(
        d,
        !p.iter().any(|e| has(e, "RST")),
        "no RST in a simultaneous close"
    );
}

// ---------------------------------------------------------------------------
// udp

#[test]
fn udp_datagrams_only() {
    require_capture("udp");
    let d = demo("udp", &[]);
    let p = d.packets();
    ensure!(d, p.len() >= 2, "a datagram each way expected");
    for e in &p {
        ensure!(d, e["proto"] == "udp", "a non-UDP packet: {}", line(e));
        for f in ["flags", "seq", "ack", "win", "options"] {
            ensure!(
                d,
                e.get(f).is_none(),
                "a UDP packet must not carry `{f}`: {e}"
            );
        }
    }
    let c = p
        .iter()
        .copied()
        .find(|e| from(e) == "client")
        .unwrap_or_else(|| d.fail("no datagram from the client"));
    let sv = p
        .iter()
        .copied()
        .find(|e| from(e) == "server")
        .unwrap_or_else(|| d.fail("no datagram from the server"));
    ensure!(
        d,
        n(c, "len") == 5 && n(sv, "len") == 10 && t(c) < t(sv),
        "\"hello\" (5) then \"hello back\" (10) expected"
    );
    ensure!(
        d,
        s(sv, "src") == s(c, "dst") && s(sv, "dst") == s(c, "src"),
        "the answer should go back to the sender"
    );
    ensure!(
        d,
        res(d.call("client", "sendto")) == "5"
            && res(d.call("server", "recvfrom")) == "5"
            && res(d.call("server", "sendto")) == "10"
            && res(d.call("client", "recvfrom")) == "10",
        "sendto/recvfrom should move 5 and 10 bytes"
    );
    ensure!(
        d,
        d.calls("client", "connect").is_empty() && d.calls("server", "accept").is_empty(),
        "no connect/accept in UDP"
    );
}

// ---------------------------------------------------------------------------
// Isolation: each demo has its own namespace, so nothing of one run may show in another.

/// Checks that every event belongs to this run: `t` counts from the run's first
/// event (never negative), and every state event with a peer address is about a
/// connection whose packets this run captured.
fn check_only_own_events(d: &Demo) {
    let mut pairs = std::collections::HashSet::new();
    for e in d.packets() {
        pairs.insert((s(e, "src").to_owned(), s(e, "dst").to_owned()));
        pairs.insert((s(e, "dst").to_owned(), s(e, "src").to_owned()));
    }
    for e in &d.ev {
        ensure!(
            d,
            t(e) >= 0.0,
            "`t` counts from the first event, yet it is negative: {e}"
        );
        if e["kind"] == "state" && e["remote"].is_string() {
            ensure!(
                d,
                pairs.contains(&(s(e, "local").to_owned(), s(e, "remote").to_owned())),
                "a state event about a connection this run never saw (another lab's socket?): {e}"
            );
            ensure!(
                d,
                !e["conn"].is_null(),
                "a connection's state event without `conn`: {e}"
            );
        }
    }
}

#[test]
fn lab_runs_do_not_see_each_other() {
    require_capture("isolation");
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let noise: Vec<_> = (0..2)
        .map(|_| {
            let done = done.clone();
            std::thread::spawn(move || {
                let mut runs = Vec::new();
                while !done.load(std::sync::atomic::Ordering::Relaxed) {
                    runs.push(demo("close", &[]));
                }
                runs
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(100));
    let victim = demo("zero-window", &[]);
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let others: Vec<Demo> = noise
        .into_iter()
        .flat_map(|h| h.join().expect("noise thread"))
        .collect();
    assert!(
        others.len() >= 4,
        "the other runs should overlap the long one"
    );
    check_only_own_events(&victim);
    for d in &others {
        check_only_own_events(d);
    }
}

// ---------------------------------------------------------------------------
// Bad scripts, unknown names, the default run.

fn scenario_names() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/scenarios");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("assets/scenarios")
        .flatten()
        .filter_map(|e| {
            e.file_name()
                .to_str()
                .and_then(|n| n.strip_suffix(".txt"))
                .map(str::to_owned)
        })
        .collect();
    names.sort();
    assert!(names.len() >= 17, "scenario files missing: {names:?}");
    names
}

#[test]
fn bad_scripts_are_rejected_with_file_and_line() {
    let dir = scratch("bad-scripts");
    let cases = [
        (
            "unknown-verb.txt",
            "# a comment\n\nserver listen\nclient frobnicate\n",
            4,
            &["frobnicate", "expected"][..],
        ),
        (
            "missing-arg.txt",
            "server listen\nclient connect\nserver accept\nclient write\n",
            4,
            &["expected"][..],
        ),
        (
            "unknown-endpoint.txt",
            "server listen\n# who?\nwizard connect\n",
            3,
            &["wizard", "expected"][..],
        ),
    ];
    for (file, text, line_no, needles) in cases {
        let path = dir.join(file);
        std::fs::write(&path, text).unwrap();
        let run = run_timeout(
            synack().args(["demo", "--script"]).arg(&path).arg("--json"),
            Duration::from_secs(20),
        );
        let ctx = format!(
            "{file} ({text:?}): status {}, stderr:\n{}\nstdout:\n{}",
            run.status, run.stderr, run.stdout
        );
        assert!(!run.status.success(), "a bad script must fail: {ctx}");
        assert!(
            run.stderr.contains(&format!("{file}:{line_no}:")),
            "stderr should name `{file}:{line_no}:`: {ctx}"
        );
        for n in needles {
            assert!(run.stderr.contains(n), "stderr should mention `{n}`: {ctx}");
        }
        assert!(
            run.stdout.trim().is_empty(),
            "nothing may run for a bad script, yet stdout has output: {ctx}"
        );
    }
}

#[test]
fn unknown_scenario_lists_the_names() {
    let run = run_timeout(
        synack().args(["demo", "no-such-scenario", "--json"]),
        Duration::from_secs(20),
    );
    let ctx = format!(
        "status {}, stderr:\n{}\nstdout:\n{}",
        run.status, run.stderr, run.stdout
    );
    assert!(
        !run.status.success(),
        "an unknown scenario must fail: {ctx}"
    );
    assert!(
        run.stderr.contains("no-such-scenario"),
        "stderr should repeat the bad name: {ctx}"
    );
    for name in scenario_names() {
        assert!(
            run.stderr.contains(&name),
            "stderr should list `{name}`: {ctx}"
        );
    }
    assert!(run.stdout.trim().is_empty(), "nothing may run: {ctx}");
}

#[test]
fn default_run_without_terminal_shows_a_demo_and_the_list() {
    require_capture("default run");
    let run = run_timeout(&mut synack(), Duration::from_secs(30));
    let ctx = format!(
        "status {}, stderr:\n{}\nstdout:\n{}",
        run.status, run.stderr, run.stdout
    );
    assert!(run.status.success(), "`synack` should exit 0: {ctx}");
    assert!(
        run.stdout.contains("[SYN]") && run.stdout.contains("[SYN,ACK]"),
        "stdout should show a demo's packets: {ctx}"
    );
    assert!(
        run.stdout.contains("connect(") && run.stdout.contains("= ok"),
        "stdout should show a demo's calls: {ctx}"
    );
    let all = format!("{}{}", run.stdout, run.stderr);
    for name in scenario_names() {
        assert!(
            all.contains(&name),
            "the scenario list lacks `{name}`: {ctx}"
        );
    }
}

// ---------------------------------------------------------------------------
// Rootless.

#[test]
fn rootless_handshake_as_nobody() {
    let exe = private_synack("rootless");
    let cmd_line = format!("{} demo handshake --json", exe.display());
    let mut tries = 0;
    let run = loop {
        let mut cmd = if is_root() {
            let mut c = Command::new("su");
            c.args(["nobody", "-s", "/bin/sh", "-c", &cmd_line]);
            c
        } else {
            let mut c = Command::new(&exe);
            c.args(["demo", "handshake", "--json"]);
            c
        };
        let run = run_timeout(&mut cmd, DEMO_LIMIT);
        // The fresh copy may still be open for writing in a child another test forked.
        if !run.status.success() && run.stderr.contains("Text file busy") && tries < 20 {
            tries += 1;
            std::thread::sleep(Duration::from_millis(100));
            continue;
        }
        break run;
    };
    if !run.status.success() {
        let err = run.stderr.to_lowercase();
        let forbidden = ["user namespace", "unshare", "apparmor", "userns"]
            .iter()
            .any(|w| err.contains(w));
        assert!(
            !forbidden,
            "rootless demo impossible here: user namespaces are forbidden for nobody: {}",
            run.stderr
        );
        panic!(
            "`{cmd_line}` as nobody failed ({}):\nstderr:\n{}\nstdout:\n{}",
            run.status, run.stderr, run.stdout
        );
    }
    let d = parse_demo(format!("su nobody -c '{cmd_line}'"), &run.stdout);
    check_handshake(&d, false);
    let left = wait_no_peers(&exe, Duration::from_secs(2));
    kill_pids(&left);
    assert!(
        left.is_empty(),
        "peer processes outlived the rootless run: {left:?}"
    );
}

// ---------------------------------------------------------------------------
// Nothing outlives synack.

/// Starts a private copy on `scenario`, checks its peers appear, lets `act`
/// end the run, then checks every peer of that copy is gone within 2 s.
fn no_leftovers(tag: &str, scenario: &str, act: impl FnOnce(&mut std::process::Child, &Path)) {
    let exe = private_synack(tag);
    let mut cmd = Command::new(&exe);
    cmd.args(["demo", scenario, "--json"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = spawn_retrying(&mut cmd);
    let err = child.stderr.take().unwrap();
    let errh = std::thread::spawn(move || read_all(err));
    let seen = wait_peers(&exe, 2, Duration::from_secs(10));
    if seen.len() < 2 {
        let _ = child.kill();
        let _ = child.wait();
        panic!(
            "{tag}: expected the client and server peer processes (`{} __peer …`) to run, saw {seen:?}; stderr:\n{}",
            exe.display(),
            errh.join().unwrap_or_default()
        );
    }
    act(&mut child, &exe);
    let _ = child.kill();
    let _ = child.wait();
    let left = wait_no_peers(&exe, Duration::from_secs(2));
    kill_pids(&left);
    assert!(
        left.is_empty(),
        "{tag}: peer processes outlived synack by 2 s: {left:?} (they were {seen:?}); synack's stderr:\n{}",
        errh.join().unwrap_or_default()
    );
}

#[test]
fn no_leftover_peers_after_normal_end() {
    require_capture("no leftovers (normal end)");
    no_leftovers("leftover-normal", "handshake", |child, _| {
        let st = wait_timeout(child, DEMO_LIMIT);
        assert!(st.success(), "the demo should end normally: {st}");
    });
}

#[test]
fn no_leftover_peers_after_a_killed_peer() {
    require_capture("no leftovers (kill-peer)");
    no_leftovers("leftover-killpeer", "kill-peer", |child, _| {
        let st = wait_timeout(child, DEMO_LIMIT);
        assert!(st.success(), "the demo should end normally: {st}");
    });
}

#[test]
fn no_leftover_peers_after_ctrl_c() {
    require_capture("no leftovers (Ctrl-C)");
    no_leftovers("leftover-sigint", "keepalive", |child, _| {
        std::thread::sleep(Duration::from_millis(1000));
        assert!(
            child.try_wait().unwrap().is_none(),
            "keepalive should still be running at 1 s"
        );
        interrupt(child);
        let start = Instant::now();
        let _ = wait_timeout(child, Duration::from_secs(10));
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "synack took {:?} to stop after Ctrl-C (the scenario had ~5 s left)",
            start.elapsed()
        );
    });
}

#[test]
fn no_leftover_peers_after_synack_is_killed() {
    require_capture("no leftovers (SIGKILL)");
    no_leftovers("leftover-sigkill", "keepalive", |child, _| {
        std::thread::sleep(Duration::from_millis(1000));
        assert!(
            child.try_wait().unwrap().is_none(),
            "keepalive should still be running at 1 s"
        );
        child.kill().expect("SIGKILL synack");
        let _ = child.wait();
    });
}
