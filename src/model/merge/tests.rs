//! The merge as small ladders: inputs in (packets, tracepoint transitions,
//! walks, in the order the model takes them), each socket's lines out, as
//! `+ms who FROM → TO [source]`, checks as `+ms who ✗ SHOWN: ACTUAL` or
//! `+ms who ✓ STATE`. Every ladder is also held to the rules
//! (`crate::model::rules`).

use std::net::SocketAddr;

use crate::event::{Event, StateSource};
use crate::model::reports::{
    Reset, Retransmit, SkbDrop, SockInfo, SockTimer, TimerKind, Traces, Transition,
};
use crate::model::{Input, KernelMode, Model};
use crate::tcp::{Flags, Segment, TcpState};
use crate::time::Timestamp;

use TcpState::{
    CloseWait, Closed, Established, FinWait1, FinWait2, LastAck, Listen, SynReceived, SynSent,
    TimeWait,
};

const C: &str = "127.0.0.1:40000";
const S: &str = "127.0.0.1:7000";
const T0: u64 = 1_700_000_000_000_000_000;

fn a(s: &str) -> SocketAddr {
    s.parse().expect("address")
}

fn ms(n: u64) -> Timestamp {
    Timestamp(T0 + n * 1_000_000)
}

/// A ladder being built: inputs in the order the model takes them.
struct Ladder {
    inputs: Vec<Input>,
    /// The next sequence numbers of the client and the server.
    seq: [u32; 2],
}

impl Ladder {
    fn new(mode: KernelMode) -> Self {
        Self {
            inputs: vec![Input::KernelMode { ts: ms(0), mode }],
            seq: [1000, 5000],
        }
    }

    /// A segment at `at` ms, from the client (`true`) or the server.
    fn seg(mut self, at: u64, from_client: bool, flags: Flags) -> Self {
        let (src, dst, me, peer) = if from_client {
            (a(C), a(S), 0, 1)
        } else {
            (a(S), a(C), 1, 0)
        };
        let seq = self.seq[me];
        let ack = if flags.ack() { self.seq[peer] } else { 0 };
        if flags.syn() || flags.fin() {
            self.seq[me] += 1;
        }
        self.inputs.push(Input::Segment {
            seg: Box::new(Segment::bare(ms(at), src, dst, flags, seq, ack)),
            raw: None,
        });
        self
    }

    /// A tracepoint transition at `at` ms of the client's or server's socket.
    fn trace(mut self, at: u64, client: bool, from: TcpState, to: TcpState) -> Self {
        let (local, remote) = if client { (C, S) } else { (S, C) };
        self.inputs.push(Input::Transition(Transition {
            ts: ms(at),
            local: a(local),
            remote: a(remote),
            from,
            to,
            skaddr: u64::from(client),
        }));
        self
    }

    /// The tracepoint's records of a handshake at `at` ms: both sockets'
    /// steps to ESTABLISHED.
    fn traced_handshake(self, at: u64) -> Self {
        self.trace(at, true, Closed, SynSent)
            .trace(at, true, SynSent, Established)
            .trace(at, false, Listen, SynReceived)
            .trace(at, false, SynReceived, Established)
    }

    /// A full walk that ended at `at` ms, showing these sockets (client's or
    /// server's, state, TIME-WAIT timer left in ms).
    fn walk(mut self, at: u64, socks: &[(bool, TcpState, Option<u32>)]) -> Self {
        let socks = socks
            .iter()
            .map(|(client, state, timer)| {
                let (local, remote) = if *client { (C, S) } else { (S, C) };
                SockInfo {
                    timer: timer.map(|expires_ms| SockTimer {
                        kind: TimerKind::TimeWait,
                        expires_ms,
                        retransmits: 0,
                    }),
                    ..SockInfo::bare(*state, a(local), a(remote))
                }
            })
            .collect();
        self.inputs.push(Input::Snapshot {
            ts: ms(at),
            socks,
            counters: None,
            listeners_only: false,
            started: Some(ms(at)),
        });
        self
    }

    /// The tcp_send_reset tracepoint's report at `at` ms: a reset from the
    /// client (`true`) or the server, for `reason`.
    fn reset(mut self, at: u64, from_client: bool, reason: &str) -> Self {
        let (src, dst) = if from_client { (C, S) } else { (S, C) };
        self.inputs.push(Input::Reset(Reset {
            ts: ms(at),
            src: a(src),
            dst: a(dst),
            reason: reason.to_owned(),
        }));
        self
    }

    /// The tracer reads drops and retransmissions too (what a root run's
    /// session tells the model first).
    fn traces(mut self) -> Self {
        self.inputs.push(Input::Traces {
            ts: ms(0),
            traces: Traces {
                resets: true,
                drops: true,
                retransmits: true,
                cong: false,
            },
        });
        self
    }

    /// A data segment of `len` bytes at `at` ms from the client (`true`) or
    /// the server, starting at `seq` (relative to the sender's first
    /// sequence number): sent again when `seq` was sent before.
    fn data(mut self, at: u64, from_client: bool, seq: u32, len: u32) -> Self {
        let (src, dst, me, peer) = if from_client {
            (a(C), a(S), 0, 1)
        } else {
            (a(S), a(C), 1, 0)
        };
        let base = [1000, 5000][me];
        let mut seg = Segment::bare(
            ms(at),
            src,
            dst,
            Flags::ACK | Flags::PSH,
            base + seq,
            self.seq[peer],
        );
        seg.payload_len = len;
        self.seq[me] = self.seq[me].max(base + seq + len);
        self.inputs.push(Input::Segment {
            seg: Box::new(seg),
            raw: None,
        });
        self
    }

    /// The kfree_skb tracepoint's report at `at` µs past `ms`: the socket
    /// of the client (`true`), the server, or the listener (`None`)
    /// dropped a segment for `reason`.
    fn dropped(mut self, at_us: u64, by: Option<bool>, reason: &str) -> Self {
        let (local, remote) = match by {
            Some(true) => (a(C), Some(a(S))),
            Some(false) => (a(S), Some(a(C))),
            None => (a("0.0.0.0:7000"), None),
        };
        self.inputs.push(Input::Drop(SkbDrop {
            ts: Timestamp(T0 + at_us * 1_000),
            local,
            remote,
            reason: reason.into(),
        }));
        self
    }

    /// The retransmit tracepoint's report at `at` µs: the client (`true`)
    /// or the server resent a segment.
    fn resent(mut self, at_us: u64, from_client: bool) -> Self {
        let (src, dst) = if from_client { (C, S) } else { (S, C) };
        self.inputs.push(Input::Retransmit(Retransmit {
            ts: Timestamp(T0 + at_us * 1_000),
            src: a(src),
            dst: a(dst),
            synack: false,
        }));
        self
    }

    /// Everything the model shows for the inputs.
    fn events(self) -> Vec<Event> {
        let mut model = Model::new();
        let mut out = Vec::new();
        for i in self.inputs {
            model.ingest(i, &mut out);
        }
        model.finish(&mut out);
        out
    }

    /// The packets the model shows with what the kernel said of them, as
    /// `+ms FLAGS len drop retransmit` (`-`: nothing).
    fn witnessed(self) -> Vec<String> {
        let out = self.events();
        out.iter()
            .filter_map(|e| match e {
                Event::Packet(p) => Some(format!(
                    "+{} {} {} {} {}",
                    p.segment.ts.seconds_since(ms(0)) * 1e3,
                    p.segment
                        .tcp
                        .map(|h| h.flags.to_string())
                        .unwrap_or_default(),
                    p.segment.payload_len,
                    p.drop_reason.as_deref().unwrap_or("-"),
                    p.retransmit.map_or("-", |w| w.as_str()),
                )),
                _ => None,
            })
            .collect()
    }

    /// The packets the model shows, as `+ms FLAGS why` (`-`: no reason).
    fn packets(self) -> Vec<String> {
        let out = self.events();
        out.iter()
            .filter_map(|e| match e {
                Event::Packet(p) => Some(format!(
                    "+{} {} {}",
                    p.segment.ts.seconds_since(ms(0)) * 1e3,
                    p.segment
                        .tcp
                        .map(|h| h.flags.to_string())
                        .unwrap_or_default(),
                    p.rst_reason.as_deref().unwrap_or("-")
                )),
                _ => None,
            })
            .collect()
    }

    /// The states and checks the model shows, as lines.
    fn run(self) -> Vec<String> {
        let out = self.events();
        let broken = crate::model::rules::violations(&crate::model::rules::lines_of(&out, ms(0)));
        assert!(
            broken.is_empty(),
            "{broken:#?}\n{:#?}",
            out.iter().filter_map(line).collect::<Vec<_>>()
        );
        out.iter().filter_map(line).collect()
    }
}

fn line(e: &Event) -> Option<String> {
    let at = |ts: Timestamp| ts.seconds_since(ms(0)) * 1e3;
    let who = |local: SocketAddr| if local == a(C) { "client" } else { "server" };
    match e {
        Event::State(s) => {
            let src = match s.source {
                StateSource::Kernel => "kernel",
                StateSource::Inferred => "inferred",
            };
            let from = s.from.map_or("(new)", TcpState::as_str);
            Some(format!(
                "+{:.0} {} {from} → {} [{src}]",
                at(s.ts),
                who(s.local),
                s.to
            ))
        }
        Event::Check(c) if c.withdraws() => Some(format!(
            "+{:.0} {} ✗ {}: {}",
            at(c.ts),
            who(c.local),
            c.shown,
            c.actual
        )),
        Event::Check(c) => Some(format!("+{:.0} {} ✓ {}", at(c.ts), who(c.local), c.shown)),
        _ => None,
    }
}

const SYN: Flags = Flags::SYN;
const ACK: Flags = Flags::ACK;

fn syn_ack() -> Flags {
    Flags::SYN | Flags::ACK
}

fn fin_ack() -> Flags {
    Flags::FIN | Flags::ACK
}

fn handshake(l: Ladder) -> Ladder {
    handshake_at(l, 10)
}

#[test]
fn the_kernels_report_replaces_its_inferred_twin_and_keeps_its_own_time() {
    let lines = handshake(Ladder::new(KernelMode::Exact))
        .traced_handshake(10)
        .walk(30, &[(true, Established, None), (false, Established, None)])
        .run();
    assert_eq!(
        lines,
        [
            "+10 client CLOSED → SYN-SENT [kernel]",
            "+10 server LISTEN → SYN-RECEIVED [kernel]",
            "+10 client SYN-SENT → ESTABLISHED [kernel]",
            "+10 server SYN-RECEIVED → ESTABLISHED [kernel]",
        ]
    );
}

/// The first race: the client closes, its program is gone, the
/// server closes 200 ms later. The first walk after the client's close
/// came only after the server's FIN; it shows TIME-WAIT with 59.99 s left.
/// TIME-WAIT began at the server's FIN, not at the client's close.
#[test]
fn an_orphaned_fin_wait_2_enters_time_wait_only_at_the_peers_fin() {
    let lines = handshake(Ladder::new(KernelMode::Exact))
        .traced_handshake(10)
        .trace(20, true, Established, FinWait1)
        .seg(20, true, fin_ack())
        .trace(20, false, Established, CloseWait)
        .seg(20, false, ACK)
        .trace(20, true, FinWait1, FinWait2)
        // The program closed it: a mini-socket in FIN-WAIT-2 takes over.
        .trace(21, true, FinWait2, Closed)
        .trace(220, false, CloseWait, LastAck)
        .seg(220, false, fin_ack())
        .seg(220, true, ACK)
        .trace(220, false, LastAck, Closed)
        .walk(230, &[(true, TimeWait, Some(59_990))])
        .walk(250, &[(true, TimeWait, Some(59_970))])
        .run();
    let client: Vec<&String> = lines.iter().filter(|l| l.contains("client")).collect();
    assert_eq!(
        client,
        [
            "+10 client CLOSED → SYN-SENT [kernel]",
            "+10 client SYN-SENT → ESTABLISHED [kernel]",
            "+20 client ESTABLISHED → FIN-WAIT-1 [kernel]",
            "+20 client FIN-WAIT-1 → FIN-WAIT-2 [kernel]",
            "+21 client ✓ FIN-WAIT-2",
            "+220 client FIN-WAIT-2 → TIME-WAIT [kernel]",
        ]
    );
}

/// Rootless: walks only. States shorter than a walk's period are filled
/// from the packets (inferred); the kernel's later word does not undo them.
#[test]
fn brief_states_the_walks_missed_are_inferred_and_the_kernels_word_continues_them() {
    let lines = handshake(Ladder::new(KernelMode::PollOnly))
        .walk(30, &[(true, Established, None), (false, Established, None)])
        .seg(40, true, fin_ack())
        .seg(40, false, ACK)
        .walk(60, &[(true, FinWait2, None), (false, CloseWait, None)])
        .seg(70, false, fin_ack())
        .seg(70, true, ACK)
        .walk(90, &[(true, TimeWait, Some(59_980))])
        .walk(110, &[(true, TimeWait, Some(59_960))])
        .run();
    assert_eq!(
        lines,
        [
            "+10 client CLOSED → SYN-SENT [inferred]",
            "+10 server LISTEN → SYN-RECEIVED [inferred]",
            "+10 client SYN-SENT → ESTABLISHED [kernel]",
            "+10 server SYN-RECEIVED → ESTABLISHED [kernel]",
            "+40 client ESTABLISHED → FIN-WAIT-1 [inferred]",
            "+40 server ESTABLISHED → CLOSE-WAIT [kernel]",
            "+40 client FIN-WAIT-1 → FIN-WAIT-2 [kernel]",
            "+70 server CLOSE-WAIT → LAST-ACK [inferred]",
            "+70 client FIN-WAIT-2 → TIME-WAIT [kernel]",
            "+70 server LAST-ACK → CLOSED [kernel]",
        ]
    );
}

/// backlog-abort: the final ACK seemed to establish the server's socket,
/// but its request socket stays in SYN-RECEIVED (the queue was full): the
/// walk after it says so, and the inference is not shown.
#[test]
fn an_inference_the_kernel_contradicts_in_time_is_not_shown() {
    let lines = Ladder::new(KernelMode::PollOnly)
        .seg(10, true, SYN)
        .seg(10, false, syn_ack())
        .walk(20, &[(true, SynSent, None), (false, SynReceived, None)])
        .seg(30, true, ACK)
        .walk(50, &[(true, Established, None), (false, SynReceived, None)])
        .run();
    let server: Vec<&String> = lines.iter().filter(|l| l.contains("server")).collect();
    assert_eq!(server, ["+10 server LISTEN → SYN-RECEIVED [kernel]"]);
}

/// The same, when the kernel's word comes only after the inference was
/// shown (walks far apart): the row is withdrawn, not followed by a
/// backwards arrow.
#[test]
fn an_inference_the_kernel_contradicts_late_is_withdrawn() {
    let lines = Ladder::new(KernelMode::PollOnly)
        .seg(10, true, SYN)
        .seg(10, false, syn_ack())
        .walk(20, &[(true, SynSent, None), (false, SynReceived, None)])
        .seg(30, true, ACK)
        // Nothing from the kernel for 3 s: the inference is let out.
        .seg(3_000, true, ACK)
        .walk(
            3_020,
            &[(true, Established, None), (false, SynReceived, None)],
        )
        .run();
    let server: Vec<&String> = lines.iter().filter(|l| l.contains("server")).collect();
    assert_eq!(
        server,
        [
            "+10 server LISTEN → SYN-RECEIVED [kernel]",
            "+30 server SYN-RECEIVED → ESTABLISHED [inferred]",
            "+3020 server ✗ ESTABLISHED: SYN-RECEIVED",
        ]
    );
}

/// A tracepoint record late past the walk that saw where it led: the step
/// is still shown, in its place, before what the walk saw.
#[test]
fn a_late_tracepoint_record_is_placed_at_its_time() {
    let lines = handshake(Ladder::new(KernelMode::Exact))
        .traced_handshake(10)
        .seg(40, true, fin_ack())
        .seg(40, false, ACK)
        .walk(45, &[(true, FinWait2, None), (false, CloseWait, None)])
        // The tracer's batch for 40 ms comes 150 ms late.
        .seg(200, true, ACK)
        .trace(40, true, Established, FinWait1)
        .trace(40, false, Established, CloseWait)
        .trace(40, true, FinWait1, FinWait2)
        .seg(400, true, ACK)
        .run();
    let after: Vec<&String> = lines.iter().filter(|l| l.starts_with("+40")).collect();
    assert_eq!(
        after,
        [
            "+40 client ESTABLISHED → FIN-WAIT-1 [kernel]",
            "+40 server ESTABLISHED → CLOSE-WAIT [kernel]",
            "+40 client FIN-WAIT-1 → FIN-WAIT-2 [kernel]",
        ]
    );
}

/// The kernel's word on an inferred state that comes after it was shown
/// confirms it with a check, not with a CLOSED → CLOSED.
#[test]
fn a_late_confirmation_is_a_check_not_a_change_to_the_same_state() {
    let lines = handshake(Ladder::new(KernelMode::PollOnly))
        .walk(30, &[(true, Established, None), (false, Established, None)])
        .seg(40, true, Flags::RST)
        .seg(3_000, true, ACK)
        .walk(3_010, &[])
        .walk(3_030, &[])
        .run();
    let client: Vec<&String> = lines.iter().filter(|l| l.contains("client")).collect();
    assert_eq!(
        client.last().map(|s| s.as_str()),
        // Gone from two walks: the second says so.
        Some("+3030 client ✓ CLOSED"),
        "{lines:#?}"
    );
    assert!(
        !lines.iter().any(|l| l.contains("CLOSED → CLOSED")),
        "{lines:#?}"
    );
}

/// A flood's 4-tuple used again. The server closed first; its orphan in
/// FIN-WAIT-2 was killed by the client's RST, which Linux does not report.
/// A new connection on the same addresses is a new socket: it comes from
/// LISTEN, not from the old one's FIN-WAIT-2.
#[test]
fn a_new_connection_on_used_addresses_is_a_new_socket() {
    let mut l = handshake(Ladder::new(KernelMode::Exact))
        .traced_handshake(10)
        .trace(20, false, Established, FinWait1)
        .seg(20, false, fin_ack())
        .trace(20, true, Established, CloseWait)
        .seg(20, true, ACK)
        .trace(20, false, FinWait1, FinWait2)
        .trace(20, false, FinWait2, Closed)
        .walk(25, &[(false, FinWait2, None), (true, CloseWait, None)])
        .seg(30, true, Flags::RST)
        .trace(30, true, CloseWait, Closed);
    l.seq = [90_000, 70_000];
    let lines = handshake_at(l, 2_000)
        .traced_handshake(2_000)
        .seg(4_000, true, ACK)
        .run();
    let server: Vec<&String> = lines.iter().filter(|l| l.contains("server")).collect();
    assert_eq!(
        &server[server.len() - 3..],
        [
            "+30 server FIN-WAIT-2 → CLOSED [inferred]",
            "+2000 server LISTEN → SYN-RECEIVED [kernel]",
            "+2000 server SYN-RECEIVED → ESTABLISHED [kernel]",
        ],
        "{lines:#?}"
    );
}

/// The same when the old socket's end was never shown (the tracer's
/// records of it were lost under a flood): the new connection's SYN says
/// it had gone, and its line ends there before the new one begins.
#[test]
fn an_old_socket_whose_end_was_not_shown_ends_when_its_addresses_are_taken() {
    let mut l = Ladder::new(KernelMode::Exact)
        .seg(10, true, SYN)
        .trace(10, true, Closed, SynSent)
        .seg(10, false, syn_ack())
        .trace(10, true, SynSent, Established)
        .trace(10, false, Listen, SynReceived)
        .seg(10, true, ACK)
        // Lost: the server's SYN-RECEIVED → ESTABLISHED and its → CLOSE.
        .seg(20, true, Flags::RST)
        .trace(20, true, Established, Closed);
    l.seq = [90_000, 70_000];
    let lines = handshake_at(l, 2_000)
        .traced_handshake(2_000)
        .seg(4_000, true, ACK)
        .run();
    let server: Vec<&String> = lines.iter().filter(|l| l.contains("server")).collect();
    assert_eq!(
        server,
        [
            "+10 server LISTEN → SYN-RECEIVED [kernel]",
            "+2000 server SYN-RECEIVED → CLOSED [inferred]",
            // The tracer's view still had the old socket in SYN-RECEIVED:
            // the new one's first step is the packets' word.
            "+2000 server LISTEN → SYN-RECEIVED [inferred]",
            "+2000 server SYN-RECEIVED → ESTABLISHED [kernel]",
        ],
        "{lines:#?}"
    );
}

fn handshake_at(l: Ladder, at: u64) -> Ladder {
    l.seg(at, true, SYN)
        .seg(at, false, syn_ack())
        .seg(at, true, ACK)
}

/// A timer is shown as it stood at the line's time: more when the line is
/// earlier than the reading, less when later, and never below 0 (a flood in
/// `watch` showed a SYN-SENT timer of -0.000 s: read at 0 ms, placed later).
#[test]
fn a_timer_stands_as_at_its_lines_time_and_never_below_zero() {
    use super::timer_at;
    assert!((timer_at(59.9, ms(200), ms(100)) - 60.0).abs() < 1e-9);
    assert!((timer_at(1.0, ms(200), ms(300)) - 0.9).abs() < 1e-9);
    assert_eq!(timer_at(0.0, ms(200), ms(201)), 0.0);
    assert_eq!(timer_at(0.05, ms(200), ms(3_000)), 0.0);
}

/// A flood made synack skip the packets of a new connection on used
/// addresses: only the tracepoint tells that a new socket was born there
/// (LISTEN → SYN-RECEIVED after the old one's ESTABLISHED). The old one
/// ends first; no backwards arrow.
#[test]
fn a_socket_born_on_used_addresses_without_its_packets_ends_the_old_one() {
    let lines = handshake(Ladder::new(KernelMode::Exact))
        .traced_handshake(10)
        .trace(2_000, false, Listen, SynReceived)
        .trace(2_000, false, SynReceived, Established)
        .run();
    let server: Vec<&String> = lines.iter().filter(|l| l.contains("server")).collect();
    assert_eq!(
        &server[server.len() - 3..],
        [
            "+2000 server ESTABLISHED → CLOSED [inferred]",
            "+2000 server LISTEN → SYN-RECEIVED [kernel]",
            "+2000 server SYN-RECEIVED → ESTABLISHED [kernel]",
        ],
        "{lines:#?}"
    );
}

/// The kernel says why it sent each reset (tcp_send_reset): the RST it
/// explains carries the reason, whether the report reached the model before
/// the packet (as the tracepoint fires) or after it (a late tracer batch).
/// Nothing else gets one: not another RST, not a RST the kernel said
/// nothing of, not a packet of another pair.
#[test]
fn a_rst_carries_the_reason_the_kernel_gave_for_it() {
    let rst = Flags::RST | Flags::ACK;
    let packets = handshake(Ladder::new(KernelMode::Exact))
        .traced_handshake(10)
        // The client aborts (SO_LINGER 0): the report first, as it fires.
        .reset(20, true, "TCP_STATE")
        .seg(20, true, rst)
        // A report of the other direction, no RST of which is captured: nobody's.
        .reset(30, false, "NO_SOCKET")
        .packets();
    assert_eq!(&packets[3..], ["+20 ACK,RST TCP_STATE"], "{packets:#?}");

    // The report after its packet (its batch came late): still its.
    let packets = handshake(Ladder::new(KernelMode::Exact))
        .seg(20, false, rst)
        .reset(20, false, "TCP_ABORT_ON_CLOSE")
        // A second RST the kernel gave no report for: no reason.
        .seg(400, false, Flags::RST)
        .packets();
    assert_eq!(
        &packets[3..],
        ["+20 ACK,RST TCP_ABORT_ON_CLOSE", "+400 RST -"],
        "{packets:#?}"
    );

    // Rootless: no tracer, no reason; nothing is made up.
    let packets = handshake(Ladder::new(KernelMode::PollOnly))
        .seg(20, true, rst)
        .packets();
    assert_eq!(&packets[3..], ["+20 ACK,RST -"], "{packets:#?}");
}

/// The kernel says which segment it dropped only by the socket that
/// dropped it: the last segment captured towards that socket before the
/// drop takes the reason (a listener's: the last to its port), and no
/// other packet does. Rootless, nothing.
#[test]
fn a_dropped_segment_carries_the_kernel_reason() {
    let ack = Flags::ACK;
    let packets = handshake(Ladder::new(KernelMode::Exact))
        .traces()
        .traced_handshake(10)
        // The client's data, then an ACK of the server's, then the server's
        // ACK dropped by the client's socket filter 5 µs after it.
        .data(20, true, 1, 100)
        .seg(30, false, ack)
        .dropped(30_005, Some(true), "SOCKET_FILTER")
        // A segment to the listener's port, dropped by the listener (its
        // queue was full): the last to port 7000 before the drop.
        .seg(40, true, ack)
        .dropped(40_010, None, "TCP_LISTEN_OVERFLOW")
        // A drop with no segment before it within the window: nobody's.
        .dropped(900_000, Some(false), "TCP_OLD_DATA")
        .witnessed();
    assert_eq!(
        &packets[3..],
        [
            "+20 ACK,PSH 100 - -",
            "+30 ACK 0 SOCKET_FILTER -",
            "+40 ACK 0 TCP_LISTEN_OVERFLOW -"
        ],
        "{packets:#?}"
    );
    // Rootless: the same reports never come; and without the tracer's word
    // that it reads drops, a report is not tied to anything.
    let packets = handshake(Ladder::new(KernelMode::PollOnly))
        .seg(30, false, ack)
        .dropped(30_005, Some(true), "SOCKET_FILTER")
        .witnessed();
    assert_eq!(&packets[3..], ["+30 ACK 0 - -"], "{packets:#?}");
}

/// A segment sent again is the kernel's retransmission when the kernel
/// reported one of its pair just after it; one the capture alone calls a
/// retransmission (the kernel, which reports every one, did not) is
/// `inferred_only`. A first transmission is neither, and without the
/// tracepoints nothing is said.
#[test]
fn retransmissions_the_kernel_confirms_and_those_it_does_not() {
    let packets = handshake(Ladder::new(KernelMode::Exact))
        .traces()
        .traced_handshake(10)
        .data(20, true, 1, 100)
        // Resent at 220 ms: the kernel's report 30 µs later.
        .data(220, true, 1, 100)
        .resent(220_030, true)
        // A copy seen again at 230 ms with no report: the capture's alone.
        .data(230, true, 1, 100)
        .witnessed();
    let tail: Vec<&str> = packets[3..].iter().map(String::as_str).collect();
    assert_eq!(tail[0], "+20 ACK,PSH 100 - -", "{packets:#?}");
    assert!(tail[1].ends_with(" kernel"), "{packets:#?}");
    assert!(tail[2].ends_with(" inferred_only"), "{packets:#?}");

    // The report of another pair, or far from the packet, confirms nothing.
    let packets = handshake(Ladder::new(KernelMode::Exact))
        .traces()
        .traced_handshake(10)
        .data(20, true, 1, 100)
        .resent(100_000, false)
        .data(220, true, 1, 100)
        .resent(600_000, true)
        .witnessed();
    assert!(packets[4].ends_with(" inferred_only"), "{packets:#?}");

    // Without the tracepoints: a retransmission, and nothing from the kernel.
    let packets = handshake(Ladder::new(KernelMode::PollOnly))
        .data(20, true, 1, 100)
        .data(220, true, 1, 100)
        .witnessed();
    assert!(packets[4].ends_with(" - -"), "{packets:#?}");
}

/// A minute after its last packet a connection is long forgotten, yet the
/// kernel still reports its TIME-WAIT's end: what the merge keeps of the
/// kernel's last word on each socket must not grow with every connection
/// ever seen.
#[test]
fn the_kernels_last_words_on_forgotten_connections_are_swept() {
    use crate::tcp::track::{ConnId, Role};
    let mut st = super::States::new();
    st.now = ms(1_000);
    for i in 0..5_000u32 {
        st.kernel_last
            .insert((ConnId(i), Role::Client), (TimeWait, ms(u64::from(i))));
        st.sweep_kernel_last();
    }
    assert_eq!(
        st.kernel_last.len(),
        5_000,
        "all said within the brief's time"
    );
    // 65 s on: the words older than a forgotten connection's brief go.
    st.now = ms(65_000 + 2_500);
    st.kernel_last_swept = 0;
    st.sweep_kernel_last();
    assert_eq!(st.kernel_last.len(), 5_000 - 2_501);
    assert!(st.kernel_last.keys().all(|(c, _)| c.0 > 2_500));
    // Bounded as words keep coming: a sweep whenever the map has doubled.
    for i in 0..100_000u64 {
        st.now = ms(70_000 + i * 10);
        st.kernel_last
            .insert((ConnId(10_000 + i as u32), Role::Server), (Closed, st.now));
        st.sweep_kernel_last();
    }
    assert!(
        st.kernel_last.len() <= 2 * 6_500,
        "{}",
        st.kernel_last.len()
    );
}
