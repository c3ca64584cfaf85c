//! Ladder tests: fixture segments in, (conn, from, seq, ack, win, notes) out.
//! The expected notes of the `wireshark_*` ladders are what tshark 4.0
//! printed for the same packets written to a pcap.

use std::net::SocketAddr;

use super::{Analysis, ConnId, Notes, Role, Tracker};
use crate::tcp::{Flags, Malformed, Proto, Segment, TcpHeader, TcpOptions};
use crate::time::Timestamp;

const CLIENT: &str = "10.0.0.1:40000";
const SERVER: &str = "10.0.0.2:80";
const NONE: Notes = Notes(0);
const C: Role = Role::Client;
const S: Role = Role::Server;

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn flags(s: &str) -> Flags {
    let mut f = Flags(0);
    for c in s.chars() {
        f = f | match c {
            'S' => Flags::SYN,
            'A' => Flags::ACK,
            'F' => Flags::FIN,
            'R' => Flags::RST,
            'P' => Flags::PSH,
            _ => panic!("flag {c}"),
        };
    }
    f
}

/// One arrow of a ladder: `who` sends at `ms` milliseconds.
#[derive(Clone, Copy)]
struct Arrow {
    who: Role,
    ms: f64,
    flags: &'static str,
    seq: u32,
    ack: u32,
    win: u16,
    len: u32,
    wscale: Option<u8>,
}

fn at(ms: f64, who: Role, flags: &'static str, seq: u32, ack: u32, win: u16, len: u32) -> Arrow {
    Arrow {
        who,
        ms,
        flags,
        seq,
        ack,
        win,
        len,
        wscale: None,
    }
}

impl Arrow {
    fn ws(mut self, shift: u8) -> Arrow {
        self.wscale = Some(shift);
        self
    }
    fn segment(self, client: &str, server: &str) -> Segment {
        let (src, dst) = match self.who {
            Role::Client => (sa(client), sa(server)),
            Role::Server => (sa(server), sa(client)),
        };
        Segment {
            ts: Timestamp((self.ms * 1e6) as u64),
            proto: Proto::Tcp,
            src,
            dst,
            payload_len: self.len,
            ip_id: 0,
            tcp: Some(TcpHeader {
                seq: self.seq,
                ack: self.ack,
                flags: flags(self.flags),
                window: self.win,
                urgent: 0,
                header_len: 20,
                options: TcpOptions {
                    wscale: self.wscale,
                    ..TcpOptions::default()
                },
            }),
            malformed: None,
        }
    }
}

fn notes(list: &[Notes]) -> Notes {
    let mut n = Notes::default();
    for x in list {
        n.insert(*x);
    }
    n
}

/// Expected: (conn, from, seq, ack, win, notes).
type Row = (u32, Role, u32, u32, u32, Notes);

fn ladder(t: &mut Tracker, client: &str, server: &str, rows: &[(Arrow, Row)]) {
    for (i, (arrow, want)) in rows.iter().enumerate() {
        let got = t.track(&arrow.segment(client, server));
        let got_row = (got.conn.0, got.from, got.seq, got.ack, got.win, got.notes);
        assert_eq!(
            got_row,
            *want,
            "row {} ({} {} seq={} ack={}): got notes {:?}, want {:?}",
            i + 1,
            arrow.who.as_str(),
            arrow.flags,
            arrow.seq,
            arrow.ack,
            got.notes.names().collect::<Vec<_>>(),
            want.5.names().collect::<Vec<_>>()
        );
    }
}

fn run(rows: &[(Arrow, Row)]) -> Tracker {
    let mut t = Tracker::new();
    ladder(&mut t, CLIENT, SERVER, rows);
    t
}

use Notes as N;

#[test]
fn handshake_data_and_close() {
    let t = run(&[
        (at(0., C, "S", 1000, 0, 64240, 0), (1, C, 0, 0, 64240, NONE)),
        (
            at(1., S, "SA", 5000, 1001, 65483, 0),
            (1, S, 0, 1, 65483, NONE),
        ),
        (at(2., C, "A", 1001, 5001, 502, 0), (1, C, 1, 1, 502, NONE)),
        (at(3., C, "PA", 1001, 5001, 502, 5), (1, C, 1, 1, 502, NONE)),
        (at(4., S, "A", 5001, 1006, 509, 0), (1, S, 1, 6, 509, NONE)),
        (at(5., S, "PA", 5001, 1006, 509, 7), (1, S, 1, 6, 509, NONE)),
        (at(6., C, "A", 1006, 5008, 502, 0), (1, C, 6, 8, 502, NONE)),
        (at(7., C, "FA", 1006, 5008, 502, 0), (1, C, 6, 8, 502, NONE)),
        (at(8., S, "FA", 5008, 1007, 509, 0), (1, S, 8, 7, 509, NONE)),
        (at(9., C, "A", 1007, 5009, 502, 0), (1, C, 7, 9, 502, NONE)),
    ]);
    assert_eq!(t.len(), 1);
    assert_eq!(t.endpoints(ConnId(1)), Some((sa(CLIENT), sa(SERVER))));
    assert_eq!(t.endpoints(ConnId(2)), None);
}

/// The same packets as a pcap checked with tshark 4.0 (`tcp.analysis.*`).
#[test]
fn wireshark_notes_ladder() {
    run(&[
        (
            at(0., C, "S", 1000, 0, 65535, 0).ws(7),
            (1, C, 0, 0, 65535, NONE),
        ),
        (
            at(10., S, "SA", 5000, 1001, 65535, 0).ws(7),
            (1, S, 0, 1, 65535, NONE),
        ),
        (
            at(20., C, "A", 1001, 5001, 512, 0),
            (1, C, 1, 1, 65536, NONE),
        ),
        (
            at(30., C, "PA", 1001, 5001, 512, 100),
            (1, C, 1, 1, 65536, NONE),
        ),
        (
            at(40., C, "PA", 1101, 5001, 512, 100),
            (1, C, 101, 1, 65536, NONE),
        ),
        (
            at(50., S, "A", 5001, 1101, 256, 0),
            (1, S, 1, 101, 32768, NONE),
        ),
        (
            at(60., S, "A", 5001, 1101, 256, 0),
            (1, S, 1, 101, 32768, N::DUP_ACK),
        ),
        (
            at(70., S, "A", 5001, 1101, 300, 0),
            (1, S, 1, 101, 38400, N::WINDOW_UPDATE),
        ),
        // Bytes 1..101 were acked: resending them is spurious (and only
        // that: one retransmission kind per segment, as Wireshark).
        (
            at(500., C, "PA", 1001, 5001, 512, 100),
            (1, C, 1, 1, 65536, N::SPURIOUS_RETRANSMISSION),
        ),
        (
            at(600., C, "PA", 1101, 5001, 512, 100),
            (1, C, 101, 1, 65536, N::RETRANSMISSION),
        ),
        (
            at(700., S, "A", 5001, 1201, 0, 0),
            (1, S, 1, 201, 0, N::ZERO_WINDOW),
        ),
        (
            at(800., C, "PA", 1201, 5001, 512, 1),
            (1, C, 201, 1, 65536, N::ZERO_WINDOW_PROBE),
        ),
        (
            at(900., C, "PA", 1201, 5001, 512, 1),
            (1, C, 201, 1, 65536, N::ZERO_WINDOW_PROBE),
        ),
        // The answer to the probe, the window still closed.
        (
            at(1000., S, "A", 5001, 1201, 0, 0),
            (
                1,
                S,
                1,
                201,
                0,
                notes(&[N::ZERO_WINDOW, N::ZERO_WINDOW_PROBE_ACK]),
            ),
        ),
        (
            at(1100., S, "A", 5001, 1201, 300, 0),
            (1, S, 1, 201, 38400, N::WINDOW_UPDATE),
        ),
        (
            at(2000., C, "A", 1200, 5001, 512, 0),
            (1, C, 200, 1, 65536, N::KEEPALIVE),
        ),
        (
            at(2010., S, "A", 5001, 1201, 300, 0),
            (1, S, 1, 201, 38400, N::KEEPALIVE_ACK),
        ),
        (
            at(2100., C, "A", 1200, 5001, 512, 1),
            (1, C, 200, 1, 65536, N::KEEPALIVE),
        ),
        // A gap (401 > next expected 201), then the gap filled 1 ms later.
        (
            at(3000., C, "PA", 1401, 5001, 512, 100),
            (1, C, 401, 1, 65536, N::PREVIOUS_SEGMENT_NOT_CAPTURED),
        ),
        (
            at(3001., C, "PA", 1201, 5001, 512, 200),
            (1, C, 201, 1, 65536, N::OUT_OF_ORDER),
        ),
        // The same old bytes half a second later: a retransmission, not acked yet.
        (
            at(3500., C, "PA", 1201, 5001, 512, 100),
            (1, C, 201, 1, 65536, N::RETRANSMISSION),
        ),
        (
            at(3600., C, "FA", 1501, 5001, 512, 0),
            (1, C, 501, 1, 65536, NONE),
        ),
        (
            at(3700., S, "FA", 5001, 1502, 300, 0),
            (1, S, 1, 502, 38400, NONE),
        ),
        (
            at(3800., C, "A", 1502, 5002, 512, 0),
            (1, C, 502, 2, 65536, NONE),
        ),
        (
            at(4000., C, "FA", 1501, 5001, 512, 0),
            (1, C, 501, 1, 65536, N::RETRANSMISSION),
        ),
    ]);
}

/// tshark 4.0 on the same packets: RST seq/ack, SYN retransmission, a new ISN
/// is a new session, half-close, and numbers across the 2^32 wrap.
#[test]
fn wireshark_rst_reuse_half_close_and_wrap() {
    run(&[
        (at(0., C, "S", 1000, 0, 64240, 0), (1, C, 0, 0, 64240, NONE)),
        (at(1., S, "RA", 0, 1001, 0, 0), (1, S, 1, 1, 0, NONE)),
        // A different ISN on the same ports: a new connection.
        (
            at(200., C, "S", 7000, 0, 64240, 0),
            (2, C, 0, 0, 64240, N::PORT_REUSED),
        ),
        (
            at(201., S, "SA", 9000, 7001, 65535, 0),
            (2, S, 0, 1, 65535, NONE),
        ),
        (
            at(202., C, "A", 7001, 9001, 64240, 0),
            (2, C, 1, 1, 64240, NONE),
        ),
        // The same ISN again on the open connection: a retransmitted SYN.
        (
            at(1202., C, "S", 7000, 0, 64240, 0),
            (2, C, 0, 0, 64240, N::RETRANSMISSION),
        ),
        // Half-close: the client's FIN, the server keeps sending.
        (
            at(1300., C, "FA", 7001, 9001, 64240, 0),
            (2, C, 1, 1, 64240, NONE),
        ),
        (
            at(1301., S, "A", 9001, 7002, 65535, 0),
            (2, S, 1, 2, 65535, NONE),
        ),
        (
            at(1302., S, "PA", 9001, 7002, 65535, 50),
            (2, S, 1, 2, 65535, NONE),
        ),
        (
            at(1303., C, "A", 7002, 9051, 64240, 0),
            (2, C, 2, 51, 64240, NONE),
        ),
        (
            at(1304., S, "FA", 9051, 7002, 65535, 0),
            (2, S, 51, 2, 65535, NONE),
        ),
        (
            at(1305., C, "A", 7002, 9052, 64240, 0),
            (2, C, 2, 52, 64240, NONE),
        ),
        // Closed by both FINs: a new SYN is a new connection; ISNs near the wrap.
        (
            at(2000., C, "S", 0xffff_ff00, 0, 64240, 0),
            (3, C, 0, 0, 64240, N::PORT_REUSED),
        ),
        (
            at(2001., S, "SA", 0xffff_fff0, 0xffff_ff01, 65535, 0),
            (3, S, 0, 1, 65535, NONE),
        ),
        (
            at(2002., C, "PA", 0xffff_ff01, 0xffff_fff1, 64240, 0x200),
            (3, C, 1, 1, 64240, NONE),
        ),
        (
            at(2003., S, "PA", 0xffff_fff1, 0x101, 65535, 0x20),
            (3, S, 1, 513, 65535, NONE),
        ),
        (
            at(2004., C, "A", 0x101, 0x11, 64240, 0),
            (3, C, 513, 33, 64240, NONE),
        ),
    ]);
}

#[test]
fn a_new_syn_after_rst_is_a_new_connection_even_with_the_same_isn() {
    // Our rule (RFC 9293 §3.5: a reset connection is gone); tshark 4.0 calls
    // this SYN a retransmission instead.
    run(&[
        (at(0., C, "S", 1000, 0, 100, 0), (1, C, 0, 0, 100, NONE)),
        (at(1., S, "RA", 0, 1001, 0, 0), (1, S, 1, 1, 0, NONE)),
        (
            at(100., C, "S", 1000, 0, 100, 0),
            (2, C, 0, 0, 100, N::PORT_REUSED),
        ),
    ]);
}

#[test]
fn window_scaling_needs_both_syns() {
    // Only the client offers a shift: nobody scales. (The repeated ACK is a
    // dup ack for tshark too.)
    run(&[
        (
            at(0., C, "S", 1, 0, 1000, 0).ws(7),
            (1, C, 0, 0, 1000, NONE),
        ),
        (at(1., S, "SA", 1, 2, 1000, 0), (1, S, 0, 1, 1000, NONE)),
        (at(2., C, "A", 2, 2, 1000, 0), (1, C, 1, 1, 1000, NONE)),
        (
            at(3., S, "A", 2, 2, 1000, 0),
            (1, S, 1, 1, 1000, N::DUP_ACK),
        ),
    ]);
    // Both offer: each side's own shift, never on the SYNs; 15 counts as 14.
    run(&[
        (
            at(0., C, "S", 1, 0, 1000, 0).ws(2),
            (1, C, 0, 0, 1000, NONE),
        ),
        (
            at(1., S, "SA", 1, 2, 1000, 0).ws(15),
            (1, S, 0, 1, 1000, NONE),
        ),
        (at(2., C, "A", 2, 2, 1000, 0), (1, C, 1, 1, 4000, NONE)),
        (
            at(3., S, "A", 2, 2, 3, 0),
            (1, S, 1, 1, 3 << 14, N::WINDOW_UPDATE),
        ),
    ]);
}

#[test]
fn mid_stream_numbers_start_at_one_and_windows_stay_unscaled() {
    // tshark 4.0: the first seq seen is 1, the first ack seen is 1.
    run(&[
        (at(0., C, "A", 1000, 5000, 100, 10), (1, C, 1, 1, 100, NONE)),
        (
            at(100., S, "A", 5000, 1010, 100, 0),
            (1, S, 1, 11, 100, NONE),
        ),
        (
            at(200., C, "A", 1010, 5000, 100, 0),
            (1, C, 11, 1, 100, N::DUP_ACK),
        ),
    ]);
}

#[test]
fn mid_stream_roles() {
    let mut t = Tracker::new();
    // Well-known port: the server sends first.
    let a = at(0., S, "A", 1, 1, 100, 0);
    let r = t.track(&a.segment("10.0.0.1:50000", "10.0.0.2:443"));
    assert_eq!((r.conn, r.from), (ConnId(1), Role::Server));
    assert_eq!(
        t.endpoints(r.conn),
        Some((sa("10.0.0.1:50000"), sa("10.0.0.2:443")))
    );
    // Both high ports, nothing known: the lower port serves.
    let r = t.track(&at(0., C, "A", 1, 1, 100, 0).segment("10.0.0.1:50000", "10.0.0.2:8080"));
    assert_eq!((r.conn, r.from), (ConnId(2), Role::Client));
    let r = t.track(&at(0., C, "A", 1, 1, 100, 0).segment("10.0.0.1:8080", "10.0.0.2:50000"));
    assert_eq!((r.conn, r.from), (ConnId(3), Role::Server));
    // Port 50001 was seen receiving a SYN: it serves, though it is the higher one.
    t.track(&at(0., C, "S", 1, 0, 100, 0).segment("10.0.0.9:40000", "10.0.0.2:50001"));
    let r = t.track(&at(0., C, "A", 1, 1, 100, 0).segment("10.0.0.2:50001", "10.0.0.3:41000"));
    assert_eq!((r.conn, r.from), (ConnId(5), Role::Server));
    // A SYN-ACK seen first: its sender is the server.
    let r = t.track(&at(0., S, "SA", 1, 1, 100, 0).segment("10.0.0.5:3000", "10.0.0.6:60000"));
    assert_eq!(
        (r.conn, r.from, r.seq, r.ack),
        (ConnId(6), Role::Server, 0, 1)
    );
    assert_eq!(
        t.endpoints(r.conn),
        Some((sa("10.0.0.5:3000"), sa("10.0.0.6:60000")))
    );
    assert_eq!(t.len(), 6);
}

/// Checked with tshark 4.0 as well.
#[test]
fn notes_negative_cases() {
    run(&[
        (at(0., C, "S", 100, 0, 1000, 0), (1, C, 0, 0, 1000, NONE)),
        (at(1., S, "SA", 500, 101, 0, 0), (1, S, 0, 1, 0, NONE)), // SYN: never zero_window
        (at(2., C, "A", 101, 501, 1000, 0), (1, C, 1, 1, 1000, NONE)),
        // The SYN-ACK's ack again with a new window: a window update (tshark agrees).
        (
            at(3., S, "A", 501, 101, 1000, 0),
            (1, S, 1, 1, 1000, N::WINDOW_UPDATE),
        ),
        (
            at(4., C, "PA", 101, 501, 1000, 10),
            (1, C, 1, 1, 1000, NONE),
        ),
        // Data with the same ack and window: not a dup ack (it has payload).
        (
            at(5., C, "PA", 111, 501, 1000, 10),
            (1, C, 11, 1, 1000, NONE),
        ),
        (at(6., S, "A", 501, 121, 1000, 0), (1, S, 1, 21, 1000, NONE)),
        // Same ack, other window, but seq is not the next expected: nothing.
        // (Relative numbers below the base wrap, as tshark prints them.)
        (
            at(7., S, "A", 400, 121, 900, 0),
            (1, S, u32::MAX - 99, 21, 900, NONE),
        ),
        // One before the next expected but carrying FIN: not a keepalive.
        (
            at(8., C, "FA", 120, 501, 1000, 0),
            (1, C, 20, 1, 1000, N::RETRANSMISSION),
        ),
        // RST with window 0 is not a zero window.
        (at(9., S, "R", 501, 0, 0, 0), (1, S, 1, 0, 0, NONE)),
    ]);
}

#[test]
fn out_of_order_uses_the_handshake_rtt() {
    // iRTT 50 ms: a hole filled 40 ms after the highest segment is out of order,
    // one filled 60 ms after is a retransmission.
    let rows = |gap: f64, note: Notes| {
        run(&[
            (at(0., C, "S", 0, 0, 100, 0), (1, C, 0, 0, 100, NONE)),
            (at(25., S, "SA", 0, 1, 100, 0), (1, S, 0, 1, 100, NONE)),
            (at(50., C, "A", 1, 1, 100, 0), (1, C, 1, 1, 100, NONE)),
            // Bytes 1..11 are not seen yet.
            (
                at(100., C, "PA", 11, 1, 100, 10),
                (1, C, 11, 1, 100, N::PREVIOUS_SEGMENT_NOT_CAPTURED),
            ),
            (
                at(100. + gap, C, "PA", 1, 1, 100, 10),
                (1, C, 1, 1, 100, note),
            ),
        ]);
    };
    rows(40., N::OUT_OF_ORDER);
    rows(60., N::RETRANSMISSION);
}

/// A rebooted peer's kernel answers a keepalive probe with a RST whose
/// window is 0 (lost on the lab's cut link, say): the next probe, the same
/// shape, is a keepalive still, not a probe of a closed window.
#[test]
fn a_rst_s_window_of_zero_does_not_make_a_keepalive_a_window_probe() {
    run(&[
        (at(0., C, "A", 1000, 5000, 100, 0), (1, C, 1, 1, 100, NONE)),
        (at(1., S, "A", 5000, 1000, 100, 0), (1, S, 1, 1, 100, NONE)),
        (
            at(1000., C, "A", 999, 5000, 100, 0),
            (1, C, 0, 1, 100, notes(&[N::KEEPALIVE])),
        ),
        (at(1001., S, "R", 5000, 0, 0, 0), (1, S, 1, 0, 0, NONE)),
        (
            at(2000., C, "A", 999, 5000, 100, 0),
            (1, C, 0, 1, 100, notes(&[N::KEEPALIVE])),
        ),
    ]);
}

#[test]
fn zero_window_probe_needs_a_closed_window() {
    run(&[
        (at(0., C, "A", 1000, 5000, 100, 0), (1, C, 1, 1, 100, NONE)),
        (at(1., S, "A", 5000, 1000, 100, 0), (1, S, 1, 1, 100, NONE)),
        // One byte at the next expected seq, window open: plain data.
        (at(2., C, "PA", 1000, 5000, 100, 1), (1, C, 1, 1, 100, NONE)),
    ]);
}

#[test]
fn udp_flows() {
    let mut t = Tracker::new();
    let udp = |src: &str, dst: &str| Segment {
        ts: Timestamp(0),
        proto: Proto::Udp,
        src: sa(src),
        dst: sa(dst),
        payload_len: 30,
        ip_id: 0,
        tcp: None,
        malformed: None,
    };
    let q = t.track(&udp("10.0.0.1:5353", "10.0.0.2:53"));
    let a = t.track(&udp("10.0.0.2:53", "10.0.0.1:5353"));
    // A TCP connection on the same addresses is a different one.
    let tcp = t.track(&at(0., C, "S", 1, 0, 1, 0).segment("10.0.0.1:5353", "10.0.0.2:53"));
    let want = Analysis {
        conn: ConnId(1),
        from: Role::Client,
        seq: 0,
        ack: 0,
        win: 0,
        notes: NONE,
        dup_ack: None,
    };
    assert_eq!(q, want);
    assert_eq!(
        a,
        Analysis {
            from: Role::Server,
            ..want
        }
    );
    assert_eq!(tcp.conn, ConnId(2));
    assert_eq!(
        t.endpoints(ConnId(1)),
        Some((sa("10.0.0.1:5353"), sa("10.0.0.2:53")))
    );
}

#[test]
fn malformed_segments_are_noted() {
    let mut t = Tracker::new();
    let mut seg = at(0., C, "S", 1, 0, 1, 0).segment(CLIENT, SERVER);
    seg.malformed = Some(Malformed::OptionBadLength);
    assert_eq!(t.track(&seg).notes, N::MALFORMED);
    let seg = at(1., S, "SA", 1, 2, 1, 0).segment(CLIENT, SERVER);
    assert_eq!(t.track(&seg).notes, NONE);
}

#[test]
fn the_table_is_bounded_and_forgets_closed_connections_first() {
    let mut t = Tracker::with_max_connections(8);
    let client = |i: u32| format!("10.0.0.1:{}", 20000 + i);
    for i in 0..8u32 {
        let c = client(i);
        t.track(&at(0., C, "S", 1, 0, 1, 0).segment(&c, SERVER));
        if i == 5 {
            // Connection 6 is reset; it goes first, though it is not the oldest.
            t.track(&at(1., S, "RA", 0, 2, 0, 0).segment(&c, SERVER));
        }
    }
    assert_eq!(t.len(), 8);
    // Touch connection 1 so connection 2 is now the least recently active open one.
    t.track(&at(2., C, "A", 2, 1, 1, 0).segment(&client(0), SERVER));
    let r = t.track(&at(3., C, "S", 1, 0, 1, 0).segment(&client(100), SERVER));
    assert_eq!(r.conn, ConnId(9));
    assert_eq!(t.len(), 8);
    assert_eq!(t.endpoints(ConnId(6)), None, "the closed one is forgotten");
    let evicted: Vec<ConnId> = t.take_evicted().collect();
    assert_eq!(evicted, [ConnId(6)], "what was forgotten is told");
    assert_eq!(t.take_evicted().count(), 0, "and told once");
    assert!(t.endpoints(ConnId(1)).is_some());
    assert!(t.endpoints(ConnId(2)).is_some());
    let r = t.track(&at(4., C, "S", 1, 0, 1, 0).segment(&client(101), SERVER));
    assert_eq!(r.conn, ConnId(10));
    assert_eq!(
        t.endpoints(ConnId(2)),
        None,
        "then the least recently active"
    );
    assert!(t.endpoints(ConnId(1)).is_some());
    for i in 200..1000 {
        t.track(&at(5., C, "S", 1, 0, 1, 0).segment(&client(i), SERVER));
        assert!(t.len() <= 8);
    }
}

#[test]
fn ids_are_direction_independent_and_count_from_one() {
    let mut t = Tracker::new();
    let a = t.track(&at(0., C, "S", 1, 0, 1, 0).segment(CLIENT, SERVER));
    let b = t.track(&at(0., S, "SA", 1, 2, 1, 0).segment(CLIENT, SERVER));
    let c = t.track(&at(0., C, "S", 1, 0, 1, 0).segment("[::1]:1000", "[::1]:2000"));
    assert_eq!((a.conn, b.conn, c.conn), (ConnId(1), ConnId(1), ConnId(2)));
    assert_eq!(
        (a.from, b.from, c.from),
        (Role::Client, Role::Server, Role::Client)
    );
}

/// Linux probes a zero window with no data and seq one below snd_una
/// (tcp_send_probe0): the same shape as a keepalive, but into a closed window.
#[test]
fn zero_length_probe_into_a_closed_window_is_a_zero_window_probe() {
    let zw = notes(&[N::ZERO_WINDOW]);
    run(&[
        (at(0., C, "A", 1000, 5000, 100, 0), (1, C, 1, 1, 100, NONE)),
        (
            at(1., C, "PA", 1000, 5000, 100, 100),
            (1, C, 1, 1, 100, NONE),
        ),
        // The server takes everything and closes its window.
        (at(2., S, "A", 5000, 1100, 0, 0), (1, S, 1, 101, 0, zw)),
        // Seq one below the next byte, no data, into the closed window: a probe.
        (
            at(200., C, "A", 1099, 5000, 100, 0),
            (1, C, 100, 1, 100, notes(&[N::ZERO_WINDOW_PROBE])),
        ),
        // The answer, window still closed: the probe's ACK.
        (
            at(201., S, "A", 5000, 1100, 0, 0),
            (
                1,
                S,
                1,
                101,
                0,
                notes(&[N::ZERO_WINDOW, N::ZERO_WINDOW_PROBE_ACK]),
            ),
        ),
        // The window opens: the same segment shape is now a keepalive.
        (
            at(300., S, "A", 5000, 1100, 500, 0),
            (1, S, 1, 101, 500, notes(&[N::WINDOW_UPDATE])),
        ),
        (
            at(400., C, "A", 1099, 5000, 100, 0),
            (1, C, 100, 1, 100, notes(&[N::KEEPALIVE])),
        ),
    ]);
}

#[test]
fn a_forgotten_connection_comes_back_under_its_id_and_roles() {
    let mut t = Tracker::new();
    t.track(&at(0., C, "S", 1, 0, 1, 0).segment(CLIENT, SERVER));
    // Another connection's id: a newer one on the same addresses stays.
    t.forget(sa(SERVER), sa(CLIENT), ConnId(7));
    assert!(!t.is_empty());
    t.forget(sa(SERVER), sa(CLIENT), ConnId(1));
    assert!(t.is_empty());
    // The server's packet comes late: asked, the caller names connection 1.
    let late = at(9., S, "FA", 7, 2, 1, 0).segment(CLIENT, SERVER);
    let r = t.track_with(&late, |s| {
        assert_eq!((s.src, s.dst), (sa(SERVER), sa(CLIENT)));
        Some((ConnId(1), sa(CLIENT)))
    });
    assert_eq!((r.conn, r.from), (ConnId(1), S));
    assert_eq!(t.endpoints(ConnId(1)), Some((sa(CLIENT), sa(SERVER))));
    // A new SYN is a new connection: nobody is asked.
    t.forget(sa(CLIENT), sa(SERVER), ConnId(1));
    let syn = at(10., C, "S", 50, 0, 1, 0).segment(CLIENT, SERVER);
    let r = t.track_with(&syn, |_| panic!("asked about a SYN"));
    assert_eq!(r.conn, ConnId(2));
}

/// Loss as Wireshark sees it: duplicate ACKs counted and pointing at the
/// ACK they repeat, a fast retransmission after the second, a segment that
/// fills the window, data the capture missed and its ACK.
#[test]
fn loss_notes_dup_ack_numbers_and_gaps() {
    let mut t = Tracker::new();
    let rows = [
        at(0., C, "S", 0, 0, 1000, 0).ws(0),
        at(1., S, "SA", 0, 1, 1000, 0).ws(0),
        at(2., C, "A", 1, 1, 1000, 0),
        at(3., C, "PA", 1, 1, 1000, 100),    // 4
        at(3.1, C, "PA", 101, 1, 1000, 100), // 5: lost after the capture
        at(3.2, C, "PA", 201, 1, 1000, 100), // 6
        at(4., S, "A", 1, 101, 1000, 0),     // 7: acks 4
        at(4.1, S, "A", 1, 101, 1000, 0),    // 8: dup #1 of 7
        at(4.2, S, "A", 1, 101, 1000, 0),    // 9: dup #2 of 7
        at(4.3, C, "PA", 101, 1, 1000, 100), // 10: fast retransmission
        at(5., S, "A", 1, 301, 1000, 0),     // 11
        // The window is 1000 from ACK 301: 100 bytes reaching 1301 fill it;
        // 1301..1401 is never captured, 1401.. is.
        at(6., C, "PA", 1201, 1, 1000, 100), // 12: beyond 301: gap
        at(7., S, "A", 1, 1301, 200, 0),     // 13: acks bytes not seen
    ];
    let got: Vec<_> = rows
        .iter()
        .map(|r| t.track(&r.segment(CLIENT, SERVER)))
        .collect();
    let dup = |i: usize| got[i - 1].dup_ack.map(|d| (d.num, d.of));
    assert_eq!(dup(8), Some((1, 7)));
    assert_eq!(dup(9), Some((2, 7)));
    assert_eq!(dup(7), None);
    assert_eq!(got[9].notes, N::FAST_RETRANSMISSION);
    assert_eq!(got[10].notes, NONE);
    assert_eq!(
        got[11].notes,
        notes(&[N::PREVIOUS_SEGMENT_NOT_CAPTURED, N::WINDOW_FULL])
    );
    assert_eq!(got[12].notes, N::ACKED_UNSEEN_SEGMENT);
    // Not within 20 ms of the duplicates: a plain retransmission.
    let mut t = Tracker::new();
    for r in &rows[..9] {
        t.track(&r.segment(CLIENT, SERVER));
    }
    let late = at(30., C, "PA", 101, 1, 1000, 100);
    assert_eq!(
        t.track(&late.segment(CLIENT, SERVER)).notes,
        N::RETRANSMISSION
    );
}

/// The screen tags every note: in English by its contract name, in Chinese
/// by a word (`src/i18n.rs`, `[notes]`).
#[test]
fn every_note_has_a_tag_in_both_languages() {
    use crate::i18n::{Lang, note_tag};
    for (_, name) in Notes::NAMES {
        assert_eq!(note_tag(Lang::En, name), name);
        let zh = note_tag(Lang::Zh, name);
        assert!(
            zh.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
            "{name}: no Chinese tag ({zh})"
        );
    }
}

/// The key's order of ends is `SocketAddr`'s own, the fast way or not.
#[test]
fn ends_are_ordered_as_socket_addresses_order_them() {
    let mut rng = crate::test_rng::Rng::new(21);
    let addr = |rng: &mut crate::test_rng::Rng| -> SocketAddr {
        // Few values, so that equal addresses and equal ports come up.
        let ip = [127, 0, 0, rng.below(3) as u8];
        let port = [0, 1, 80, 65535][rng.below(4)];
        if rng.one_in(4) {
            SocketAddr::from((
                std::net::Ipv6Addr::from([0, 0, 0, 0, 0, 0, 0, 1 + ip[3] as u16]),
                port,
            ))
        } else if rng.one_in(8) {
            SocketAddr::from(([255, 255, 255, 255], port))
        } else {
            SocketAddr::from((ip, port))
        }
    };
    for _ in 0..10_000 {
        let (a, b) = (addr(&mut rng), addr(&mut rng));
        assert_eq!(super::lower_first(&a, &b), a <= b, "{a} {b}");
    }
}
