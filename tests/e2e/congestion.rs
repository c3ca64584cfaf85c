//! The congestion window and state end to end: what the lab's sockets
//! report of themselves (TCP_INFO, rootless and root) and, as the host's
//! root, the kernel's `tcp:tcp_cong_state_set`. The rootless tests run in
//! `tests/e2e.rs`; the root ones are listed in `exact::TESTS`
//! (`tests/host_root.rs`).

use serde_json::Value;

use crate::states::*;
use crate::support::*;

/// The `congestion` lines of `endpoint` told by `source` (`socket`, `kernel`).
pub(crate) fn cong<'a>(events: &'a [Value], endpoint: &str, source: &str) -> Vec<&'a Value> {
    kind(events, "congestion")
        .into_iter()
        .filter(|e| e["endpoint"] == endpoint && e["source"] == source)
        .collect()
}

fn num(e: &Value, field: &str) -> u64 {
    e[field]
        .as_u64()
        .unwrap_or_else(|| panic!("`{field}` is not a number in {e}"))
}

fn state(e: &Value) -> &str {
    e["state"].as_str().unwrap_or_default()
}

fn t(e: &Value) -> f64 {
    e["t"].as_f64().unwrap_or(f64::NAN)
}

/// The lines that change the state (a row on the ladder): `from` is
/// another state, or absent and the state is not Open.
pub(crate) fn changes<'a>(lines: &[&'a Value]) -> Vec<&'a Value> {
    lines
        .iter()
        .copied()
        .filter(|e| match e["from"].as_str() {
            Some(f) => f != state(e),
            None => state(e) != "Open",
        })
        .collect()
}

/// Whether `want` appears in `seen` in that order (others may come between).
fn in_order(seen: &[&str], want: &[&str]) -> bool {
    let mut it = seen.iter();
    want.iter().all(|w| it.any(|s| s == w))
}

fn dump(lines: &[&Value]) -> String {
    lines.iter().map(|e| format!("  {e}\n")).collect()
}

/// Rootless (`unshare` as the suite does, or `su nobody` when the tests run
/// as root): `demo congestion` shows, from the client socket's own TCP_INFO,
/// the window doubling in slow start, halved at Recovery (ssthresh the
/// half: Reno), one or two segments at Loss, and growing again after it.
#[test]
fn congestion_rootless_shows_cwnd_rising_and_falling_from_tcp_info() {
    let d = demo_rootless(
        "congestion_rootless_shows_cwnd_rising_and_falling_from_tcp_info",
        "congestion",
    );
    let all = kind(&d.events, "congestion");
    assert!(
        all.iter().all(|e| e["source"] == "socket"),
        "rootless: only the socket's own reports, never the tracepoint's:\n{}",
        dump(&all)
    );
    let client = cong(&d.events, "client", "socket");
    assert!(
        client.iter().all(|e| e["conn"] == 1),
        "every report names the connection:\n{}",
        dump(&client)
    );
    let recovery = client
        .iter()
        .position(|e| state(e) == "Recovery")
        .unwrap_or_else(|| panic!("no Recovery reported:\n{}", dump(&client)));
    let loss = client
        .iter()
        .skip(recovery)
        .position(|e| state(e) == "Loss")
        .map(|i| i + recovery)
        .unwrap_or_else(|| panic!("no Loss after Recovery:\n{}", dump(&client)));
    // Slow start: every report before the loss grows the window, up to 80
    // segments or more (10, 20, 40, 80).
    let before: Vec<u64> = client[..recovery].iter().map(|e| num(e, "cwnd")).collect();
    assert!(
        before.first() == Some(&10) && before.windows(2).all(|w| w[0] < w[1]),
        "slow start: the window starts at 10 and only grows: {before:?}\n{}",
        dump(&client)
    );
    let peak = *before.iter().max().unwrap_or(&0);
    assert!(peak >= 80, "the window reaches 80 segments: {before:?}");
    let r = client[recovery];
    let half = num(r, "ssthresh");
    assert!(
        num(r, "cwnd") < peak && half * 10 >= peak * 4 && half * 10 <= peak * 6,
        "Recovery halves: ssthresh {half} of a peak of {peak}, cwnd {}:\n{}",
        num(r, "cwnd"),
        dump(&client)
    );
    let l = client[loss];
    assert!(
        num(l, "cwnd") <= 2 && num(l, "ssthresh") <= half,
        "Loss: one or two segments left, ssthresh no higher:\n{}",
        dump(&client)
    );
    assert!(
        num(l, "total_retrans") > num(r, "total_retrans"),
        "the timeout's retransmission is counted:\n{}",
        dump(&client)
    );
    // Slow start again once the link is back.
    let after = client[loss..]
        .iter()
        .map(|e| num(e, "cwnd"))
        .max()
        .unwrap_or(0);
    assert!(
        after >= 10 * num(l, "cwnd"),
        "the window grows again after the timeout (to {after}):\n{}",
        dump(&client)
    );
    let seen: Vec<&str> = changes(&client).into_iter().map(state).collect();
    assert!(
        in_order(&seen, &["Recovery", "Loss", "Open"]),
        "the changes: {seen:?}"
    );
    let total: Vec<u64> = client.iter().map(|e| num(e, "total_retrans")).collect();
    assert!(
        total.windows(2).all(|w| w[0] <= w[1]),
        "total_retrans never goes back: {total:?}"
    );
}

/// `demo loss`, as whoever runs the tests: the client's last report of
/// itself counts as many retransmissions (`total_retrans`) as the capture
/// shows it sent.
#[test]
fn loss_tcp_info_counts_the_retransmissions_the_capture_shows() {
    require_capture("loss_tcp_info_counts_the_retransmissions_the_capture_shows");
    let d = demo_root("loss");
    let client = cong(&d.events, "client", "socket");
    let last = client
        .last()
        .unwrap_or_else(|| panic!("no TCP_INFO report from the client"));
    let resent = kind(&d.events, "packet")
        .into_iter()
        .filter(|p| {
            p["from"] == "client"
                && p["notes"].as_array().is_some_and(|n| {
                    n.iter().any(|x| {
                        x == "retransmission"
                            || x == "fast_retransmission"
                            || x == "spurious_retransmission"
                    })
                })
        })
        .count() as u64;
    assert_eq!(
        num(last, "total_retrans"),
        resent,
        "TCP_INFO's total_retrans against the capture's retransmissions:\n{}",
        dump(&client)
    );
    assert_eq!(resent, 2, "the fast retransmission and the timeout's");
}

/// As the host's root: the kernel's congestion states of the client in
/// `loss` and in `congestion` come in order (… Recovery, Loss, Open), each
/// from the state before it; Recovery before the fast retransmission
/// leaves, Loss before the timeout's; the socket's own reports say the
/// same, later (they are samples).
pub fn demo_congestion_states_come_in_order_as_root() {
    require_kernel("demo_congestion_states_come_in_order_as_root");
    for name in ["loss", "congestion"] {
        let d = demo_root(name);
        let kernel = cong(&d.events, "client", "kernel");
        let seen: Vec<&str> = kernel.iter().copied().map(state).collect();
        assert!(
            in_order(&seen, &["Recovery", "Loss", "Open"]),
            "{name}: the kernel's states: {seen:?}"
        );
        assert!(
            matches!(seen.first(), Some(&("Disorder" | "Recovery"))),
            "{name}: the first change leaves Open: {seen:?}"
        );
        // Changes only, each from the one before.
        for w in kernel.windows(2) {
            assert_eq!(
                w[1]["from"].as_str(),
                Some(state(w[0])),
                "{name}: a chain of changes:\n{}",
                dump(&kernel)
            );
            assert_ne!(state(w[0]), state(w[1]), "{name}: changes only");
        }
        let at = |s: &str| {
            kernel
                .iter()
                .find(|e| state(e) == s)
                .map(|e| t(e))
                .unwrap_or(f64::NAN)
        };
        let packets = kind(&d.events, "packet");
        let first_with = |note: &str| {
            packets
                .iter()
                .find(|p| {
                    p["from"] == "client"
                        && p["notes"]
                            .as_array()
                            .is_some_and(|n| n.iter().any(|x| x == note))
                })
                .map(|p| t(p))
                .unwrap_or_else(|| panic!("{name}: no client packet noted {note}"))
        };
        assert!(
            at("Recovery") <= first_with("fast_retransmission"),
            "{name}: Recovery ({}) before the fast retransmission ({})",
            at("Recovery"),
            first_with("fast_retransmission")
        );
        assert!(
            at("Loss") <= first_with("retransmission") && at("Loss") > at("Recovery"),
            "{name}: Loss ({}) after Recovery, before the timeout's retransmission ({})",
            at("Loss"),
            first_with("retransmission")
        );
        let socket = cong(&d.events, "client", "socket");
        let told: Vec<&str> = changes(&socket).into_iter().map(state).collect();
        assert!(
            in_order(&told, &["Recovery"]),
            "{name}: the socket's own reports see Recovery too: {told:?}"
        );
        let sampled = socket
            .iter()
            .find(|e| state(e) == "Recovery")
            .map(|e| t(e))
            .unwrap_or(f64::NAN);
        assert!(
            sampled >= at("Recovery"),
            "{name}: a sample comes after the kernel's change"
        );
    }
}
