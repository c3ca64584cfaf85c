//! What synack promises about the states it shows, as code that checks a
//! run's output. The tests run it on every run they make: replays of
//! recorded inputs (undisturbed and with perturbed timing), and the `--json`
//! of real runs on the real stack.
//!
//! 1. **One path per socket.** Each change of a socket starts where the last
//!    one ended (or where the kernel's word on it, a disagreeing
//!    `state_check`, put it), never goes to the state it is already in, and
//!    follows an RFC 9293 arrow ([`TcpState::rfc_arrow`]; any state may fall
//!    to CLOSED). A path outside the diagram is shown only as the kernel's
//!    word, with a note that says so. A socket that reached CLOSED is gone:
//!    a later change on the same addresses is a new socket's.
//! 2. **TIME-WAIT only after the peer's FIN.** A socket enters TIME-WAIT
//!    only after a FIN from its peer is on the wire. (A socket first seen in
//!    TIME-WAIT, `from` unknown, is exempt: its FIN came before synack looked.)
//! 3. **`kernel` means the kernel said it.** Checked where the output can
//!    show it: a kernel timer is never longer than the state allows (TIME-WAIT:
//!    60 s on Linux) nor negative; the kernel's reason for a reset is on a
//!    RST, never on another packet; the kernel's word on a retransmission
//!    is on a segment that occupies sequence space (data, SYN or FIN),
//!    never on a bare ACK.
//! 4. **Time order.** Lines never go back in time.
//!
//! The checks read [`Line`]s, made from the model's events here
//! ([`lines_of`]) or from `--json` output by the tests, so both are held to
//! the same rules by the same code.

use std::collections::HashMap;
use std::net::SocketAddr;

use crate::event::{Event, StateSource};
use crate::tcp::TcpState;
use crate::time::Timestamp;

/// The longest timer a TIME-WAIT socket can show (Linux's `TCP_TIMEWAIT_LEN`
/// is 60 s; a timer read from the kernel has a jiffy of slack).
pub const TIME_WAIT_MAX: f64 = 60.05;

/// What the rules need of one line of output.
#[derive(Clone, Debug, PartialEq)]
pub enum Line {
    /// A TCP packet (`fin`: it carries FIN; `rst`: RST; `reason`: it
    /// carries the kernel's reason for a reset; `occupies`: it carries
    /// data, SYN or FIN; `resent`: it carries the kernel's word on a
    /// retransmission, `kernel` or `inferred_only`).
    Packet {
        t: f64,
        src: SocketAddr,
        dst: SocketAddr,
        fin: bool,
        rst: bool,
        reason: bool,
        occupies: bool,
        resent: bool,
    },
    /// A socket's state changed.
    State {
        t: f64,
        local: SocketAddr,
        remote: Option<SocketAddr>,
        from: Option<TcpState>,
        to: TcpState,
        kernel: bool,
        /// The line carries a note.
        noted: bool,
        timer: Option<f64>,
        /// Who owns the socket (for messages).
        endpoint: String,
    },
    /// The kernel's word on a socket's state, after that state was shown:
    /// it agrees, or the socket is in `kernel` (and no longer in `shown`).
    Check {
        t: f64,
        local: SocketAddr,
        remote: Option<SocketAddr>,
        shown: TcpState,
        kernel: TcpState,
        timer: Option<f64>,
    },
    /// Anything else (its time only).
    Other { t: f64 },
}

impl Line {
    #[must_use]
    pub fn t(&self) -> f64 {
        match self {
            Line::Packet { t, .. }
            | Line::State { t, .. }
            | Line::Check { t, .. }
            | Line::Other { t } => *t,
        }
    }
}

/// The model's events as [`Line`]s, times in seconds since `t0`.
#[must_use]
pub fn lines_of(events: &[Event], t0: Timestamp) -> Vec<Line> {
    events
        .iter()
        .map(|e| {
            let t = e.ts().seconds_since(t0);
            match e {
                Event::Packet(p) => match p.segment.tcp {
                    Some(h) => Line::Packet {
                        t,
                        src: p.segment.src,
                        dst: p.segment.dst,
                        fin: h.flags.fin(),
                        rst: h.flags.rst(),
                        reason: p.rst_reason.is_some(),
                        occupies: p.segment.payload_len > 0 || h.flags.syn() || h.flags.fin(),
                        resent: p.retransmit.is_some(),
                    },
                    None => Line::Other { t },
                },
                Event::State(s) => Line::State {
                    t,
                    local: s.local,
                    remote: s.remote,
                    from: s.from,
                    to: s.to,
                    kernel: s.source == StateSource::Kernel,
                    noted: s.note.is_some(),
                    timer: s.timer,
                    endpoint: s.endpoint.to_string(),
                },
                Event::Check(c) => Line::Check {
                    t,
                    local: c.local,
                    remote: c.remote,
                    shown: c.shown,
                    kernel: c.actual,
                    timer: c.timer,
                },
                _ => Line::Other { t },
            }
        })
        .collect()
}

/// The rules broken by a run's output, one message each (empty: none).
#[must_use]
pub fn violations(lines: &[Line]) -> Vec<String> {
    let mut out = Vec::new();
    let mut now: HashMap<(SocketAddr, Option<SocketAddr>), TcpState> = HashMap::new();
    // (from, to) of each FIN on the wire.
    let mut fins: std::collections::HashSet<(SocketAddr, SocketAddr)> =
        std::collections::HashSet::new();
    let mut last_t = f64::NEG_INFINITY;
    for (i, line) in lines.iter().enumerate() {
        let n = i + 1;
        let t = line.t();
        if t < last_t {
            out.push(format!(
                "rule 4 (time order): line {n} at {t:.6} comes after a line at {last_t:.6}"
            ));
        }
        last_t = last_t.max(t);
        match line {
            Line::Packet {
                src,
                dst,
                fin,
                rst,
                reason,
                occupies,
                resent,
                ..
            } => {
                if *fin {
                    fins.insert((*src, *dst));
                }
                if *reason && !*rst {
                    out.push(format!(
                        "rule 3 (the kernel's word): line {n} ({src}→{dst}): a reset's reason \
                         on a packet that is no RST"
                    ));
                }
                if *resent && !*occupies {
                    out.push(format!(
                        "rule 3 (the kernel's word): line {n} ({src}→{dst}): a retransmission's \
                         word on a segment with no data, SYN or FIN"
                    ));
                }
            }
            Line::State {
                local,
                remote,
                from,
                to,
                kernel,
                noted,
                timer,
                endpoint,
                ..
            } => {
                let who = format!("line {n} ({endpoint} {local}→{})", peer(*remote));
                let key = (*local, *remote);
                if let (Some(was), Some(from)) = (now.get(&key), from) {
                    if was != from {
                        out.push(format!(
                            "rule 1 (one path): {who}: {from} → {to}, but the socket was in {was}"
                        ));
                    }
                }
                if let Some(from) = from {
                    if from == to {
                        out.push(format!(
                            "rule 1 (one path): {who}: {from} → {to} goes nowhere"
                        ));
                    } else if !(TcpState::rfc_arrow(*from, *to) || *kernel && *noted) {
                        out.push(format!(
                            "rule 1 (one path): {who}: {from} → {to} is no RFC 9293 arrow{}",
                            if *kernel {
                                " and has no note saying why"
                            } else {
                                " (and only the kernel's word may leave the diagram)"
                            }
                        ));
                    }
                }
                if *to == TcpState::TimeWait && from.is_some() {
                    if let Some(r) = remote {
                        if !fins.contains(&(*r, *local)) {
                            out.push(format!(
                                "rule 2 (TIME-WAIT after the peer's FIN): {who} enters TIME-WAIT \
                                 before any FIN from {r}"
                            ));
                        }
                    }
                }
                if let Some(timer) = timer {
                    if *timer < 0.0 || (*to == TcpState::TimeWait && *timer > TIME_WAIT_MAX) {
                        out.push(format!(
                            "rule 3 (the kernel's word): {who}: a {to} timer of {timer:.3} s"
                        ));
                    }
                }
                if *to == TcpState::Closed {
                    // The socket is gone: a later line on the same
                    // addresses is a new socket's (a 4-tuple used again).
                    now.remove(&key);
                } else {
                    now.insert(key, *to);
                }
            }
            Line::Check {
                local,
                remote,
                shown,
                kernel,
                timer,
                ..
            } => {
                let key = (*local, *remote);
                let who = format!("line {n} (check of {local}→{})", peer(*remote));
                if let Some(t) = timer {
                    if *t < 0.0 || (*kernel == TcpState::TimeWait && *t > TIME_WAIT_MAX) {
                        out.push(format!(
                            "rule 3 (the kernel's word): {who}: a {kernel} timer of {t:.3} s"
                        ));
                    }
                }
                if shown == kernel {
                    continue;
                }
                // The kernel's word replaces the state shown: it must be
                // where the socket was, or before it, never ahead of it.
                if let Some(was) = now.get(&key) {
                    if !TcpState::leads_to(*kernel, *was) && *kernel != TcpState::Closed {
                        out.push(format!(
                            "rule 1 (one path): {who}: the kernel's {kernel} does not precede {was}"
                        ));
                    }
                }
                now.insert(key, *kernel);
            }
            Line::Other { .. } => {}
        }
    }
    out
}

fn peer(remote: Option<SocketAddr>) -> String {
    remote.map_or_else(|| "*".to_owned(), |r| r.to_string())
}

/// Each socket's states in order (the `to` of its changes, and the kernel's
/// word where a check replaced one): what the property tests compare between
/// an undisturbed replay and a perturbed one.
#[must_use]
pub fn paths(lines: &[Line]) -> std::collections::BTreeMap<String, Vec<TcpState>> {
    let mut out: std::collections::BTreeMap<String, Vec<TcpState>> =
        std::collections::BTreeMap::new();
    for line in lines {
        match line {
            Line::State {
                local, remote, to, ..
            } => out
                .entry(format!("{local}→{}", peer(*remote)))
                .or_default()
                .push(*to),
            Line::Check {
                local,
                remote,
                shown,
                kernel,
                ..
            } if shown != kernel => {
                let path = out.entry(format!("{local}→{}", peer(*remote))).or_default();
                // The state shown is withdrawn; the socket is where the kernel says.
                if path.last() == Some(shown) {
                    path.pop();
                }
                if path.last() != Some(kernel) {
                    path.push(*kernel);
                }
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use TcpState::{
        CloseWait, Closed, Established, FinWait1, FinWait2, LastAck, Listen, SynReceived, SynSent,
        TimeWait,
    };

    const C: &str = "127.0.0.1:40000";
    const S: &str = "127.0.0.1:7000";

    fn a(s: &str) -> SocketAddr {
        s.parse().expect("address")
    }

    fn st(t: f64, local: &str, from: Option<TcpState>, to: TcpState, kernel: bool) -> Line {
        let remote = if local == C { S } else { C };
        Line::State {
            t,
            local: a(local),
            remote: Some(a(remote)),
            from,
            to,
            kernel,
            noted: false,
            timer: None,
            endpoint: "x".into(),
        }
    }

    fn fin(t: f64, from: &str, to: &str) -> Line {
        Line::Packet {
            t,
            src: a(from),
            dst: a(to),
            fin: true,
            rst: false,
            reason: false,
            occupies: true,
            resent: false,
        }
    }

    #[test]
    fn a_clean_close_keeps_every_rule() {
        let lines = [
            st(0.0, C, Some(Closed), SynSent, true),
            st(0.1, C, Some(SynSent), Established, true),
            st(0.2, C, Some(Established), FinWait1, true),
            fin(0.2, C, S),
            st(0.2, S, None, CloseWait, true),
            st(0.3, C, Some(FinWait1), FinWait2, true),
            st(0.4, S, Some(CloseWait), LastAck, true),
            fin(0.4, S, C),
            st(0.4, C, Some(FinWait2), TimeWait, true),
            st(0.5, S, Some(LastAck), Closed, true),
        ];
        assert_eq!(violations(&lines), Vec::<String>::new());
    }

    #[test]
    fn each_broken_rule_is_named() {
        let cases: [(&[Line], &str); 5] = [
            (&[st(0.0, C, Some(FinWait2), TimeWait, true)], "rule 2"),
            (
                &[
                    st(0.0, C, Some(Closed), SynSent, true),
                    st(0.1, C, Some(Established), FinWait1, true),
                ],
                "rule 1",
            ),
            (&[st(0.0, C, Some(Closed), Closed, true)], "goes nowhere"),
            (
                &[st(0.0, S, Some(Established), SynReceived, false)],
                "no RFC 9293 arrow",
            ),
            (
                &[
                    st(0.2, C, Some(Closed), SynSent, true),
                    st(0.1, C, Some(SynSent), Established, true),
                ],
                "rule 4",
            ),
        ];
        for (lines, want) in cases {
            let v = violations(lines);
            assert!(
                v.iter().any(|m| m.contains(want)),
                "{want} not found in {v:?} for {lines:?}"
            );
        }
    }

    #[test]
    fn a_time_wait_timer_longer_than_the_state_allows_is_not_the_kernels() {
        let mut tw = st(0.4, C, Some(FinWait2), TimeWait, true);
        if let Line::State { timer, .. } = &mut tw {
            *timer = Some(60.2);
        }
        let v = violations(&[fin(0.3, S, C), tw]);
        assert!(v.iter().any(|m| m.contains("rule 3")), "{v:?}");
    }

    #[test]
    fn a_disagreeing_check_moves_the_socket_back_and_paths_follow_it() {
        let lines = [
            st(0.0, S, Some(Listen), SynReceived, true),
            st(0.1, S, Some(SynReceived), Established, false),
            Line::Check {
                t: 0.3,
                local: a(S),
                remote: Some(a(C)),
                shown: Established,
                kernel: SynReceived,
                timer: None,
            },
            st(0.4, S, Some(SynReceived), Closed, true),
        ];
        assert_eq!(violations(&lines), Vec::<String>::new());
        let p = paths(&lines);
        assert_eq!(p[&format!("{S}→{C}")], [SynReceived, Closed]);
        // The kernel cannot say a socket is ahead of where it was shown.
        let ahead = [
            st(0.0, S, Some(Listen), SynReceived, true),
            Line::Check {
                t: 0.3,
                local: a(S),
                remote: Some(a(C)),
                shown: SynReceived,
                kernel: LastAck,
                timer: None,
            },
        ];
        assert!(!violations(&ahead).is_empty());
    }

    #[test]
    fn arrows_are_rfc_9293s() {
        assert!(TcpState::rfc_arrow(FinWait2, TimeWait));
        assert!(TcpState::rfc_arrow(CloseWait, Closed));
        assert!(!TcpState::rfc_arrow(Established, SynReceived));
        assert!(!TcpState::rfc_arrow(Closed, Closed));
        assert!(!TcpState::rfc_arrow(TimeWait, FinWait2));
        assert!(TcpState::leads_to(SynReceived, LastAck));
        assert!(TcpState::leads_to(FinWait1, TimeWait));
        assert!(!TcpState::leads_to(Established, SynReceived));
        assert!(!TcpState::leads_to(TimeWait, FinWait2));
    }

    #[test]
    fn a_resets_reason_is_on_a_rst_only() {
        let packet = |rst, reason| Line::Packet {
            t: 0.0,
            src: a(S),
            dst: a(C),
            fin: false,
            rst,
            reason,
            occupies: false,
            resent: false,
        };
        assert!(
            violations(&[
                packet(true, true),
                packet(true, false),
                packet(false, false)
            ])
            .is_empty()
        );
        let broken = violations(&[packet(false, true)]);
        assert_eq!(broken.len(), 1, "{broken:?}");
        assert!(broken[0].starts_with("rule 3"), "{broken:?}");
    }

    #[test]
    fn the_kernels_word_on_a_retransmission_is_on_a_segment_that_occupies_sequence_space() {
        let packet = |occupies, resent| Line::Packet {
            t: 0.0,
            src: a(C),
            dst: a(S),
            fin: false,
            rst: false,
            reason: false,
            occupies,
            resent,
        };
        assert!(violations(&[packet(true, true), packet(false, false)]).is_empty());
        let broken = violations(&[packet(false, true)]);
        assert_eq!(broken.len(), 1, "{broken:?}");
        assert!(broken[0].starts_with("rule 3"), "{broken:?}");
    }
}
