//! What the kernel hands synack, built by hand: sock_diag's netlink answers,
//! the `sock:inet_sock_set_state` tracepoint's format file and records, and
//! `tcp:tcp_send_reset`'s (its format file is the kernel's own, in
//! `tests/fixtures/kernel/`).
//! Included with `#[path]` by the library's unit tests of `kernel::diag` and
//! `kernel::trace` (`crate::test_kernel_bytes`) and by the fuzzer's seeds
//! (`fuzz/`), so both read the same bytes. Native byte order, as the kernel
//! writes them.

#![allow(dead_code)]

use std::net::IpAddr;

// ---- sock_diag ----

/// A netlink message: the 16-byte header, then `payload`, padded to 4 bytes.
pub fn nlmsg(kind: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&((16 + payload.len()) as u32).to_ne_bytes());
    b.extend_from_slice(&kind.to_ne_bytes());
    b.extend_from_slice(&2u16.to_ne_bytes()); // NLM_F_MULTI
    b.extend_from_slice(&seq.to_ne_bytes());
    b.extend_from_slice(&0u32.to_ne_bytes());
    b.extend_from_slice(payload);
    b.resize(b.len().div_ceil(4) * 4, 0);
    b
}

/// A `struct inet_diag_msg` (72 bytes) of a socket 7000 → 45678: cookie
/// 0x1_dead_beef, its `timer` kind expiring in 59 s, Recv-Q 3, Send-Q 128,
/// uid 1000, inode 4242; then an attribute synack skips (INET_DIAG_SHUTDOWN)
/// and, `with_info`, a `tcp_info` (INET_DIAG_INFO: 1 retransmit, MSS 1448,
/// RTT 55 µs, cwnd 10, 2 retransmitted in all).
pub fn diag_msg(
    family: u8,
    state: u8,
    timer: u8,
    src: [u8; 16],
    dst: [u8; 16],
    with_info: bool,
) -> Vec<u8> {
    let mut m = vec![0u8; 72];
    m[0] = family;
    m[1] = state;
    m[2] = timer;
    m[3] = 0; // the timer's retransmits
    m[4..6].copy_from_slice(&7000u16.to_be_bytes());
    m[6..8].copy_from_slice(&45678u16.to_be_bytes());
    m[8..24].copy_from_slice(&src);
    m[24..40].copy_from_slice(&dst);
    m[44..48].copy_from_slice(&0xdead_beefu32.to_ne_bytes());
    m[48..52].copy_from_slice(&1u32.to_ne_bytes());
    m[52..56].copy_from_slice(&59_000u32.to_ne_bytes());
    m[56..60].copy_from_slice(&3u32.to_ne_bytes());
    m[60..64].copy_from_slice(&128u32.to_ne_bytes());
    m[64..68].copy_from_slice(&1000u32.to_ne_bytes());
    m[68..72].copy_from_slice(&4242u32.to_ne_bytes());
    // INET_DIAG_SHUTDOWN: 1 byte, padded.
    m.extend_from_slice(&5u16.to_ne_bytes());
    m.extend_from_slice(&8u16.to_ne_bytes());
    m.extend_from_slice(&[3, 0, 0, 0]);
    if with_info {
        let mut info = vec![0u8; 232];
        info[2] = 1;
        info[16..20].copy_from_slice(&1448u32.to_ne_bytes());
        info[68..72].copy_from_slice(&55u32.to_ne_bytes());
        info[80..84].copy_from_slice(&10u32.to_ne_bytes());
        info[100..104].copy_from_slice(&2u32.to_ne_bytes());
        m.extend_from_slice(&(4 + info.len() as u16).to_ne_bytes());
        m.extend_from_slice(&2u16.to_ne_bytes()); // INET_DIAG_INFO
        m.extend_from_slice(&info);
    }
    m
}

// ---- the tracepoint ----

/// The event's format file on Linux 6.18 (the print format cut short).
pub const TRACE_FORMAT: &str = "name: inet_sock_set_state
ID: 2287
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:const void * skaddr;\toffset:8;\tsize:8;\tsigned:0;
\tfield:int oldstate;\toffset:16;\tsize:4;\tsigned:1;
\tfield:int newstate;\toffset:20;\tsize:4;\tsigned:1;
\tfield:__u16 sport;\toffset:24;\tsize:2;\tsigned:0;
\tfield:__u16 dport;\toffset:26;\tsize:2;\tsigned:0;
\tfield:__u16 family;\toffset:28;\tsize:2;\tsigned:0;
\tfield:__u16 protocol;\toffset:30;\tsize:2;\tsigned:0;
\tfield:__u8 saddr[4];\toffset:32;\tsize:4;\tsigned:0;
\tfield:__u8 daddr[4];\toffset:36;\tsize:4;\tsigned:0;
\tfield:__u8 saddr_v6[16];\toffset:40;\tsize:16;\tsigned:0;
\tfield:__u8 daddr_v6[16];\toffset:56;\tsize:16;\tsigned:0;

print fmt: \"family=%s protocol=%s sport=%hu dport=%hu ...\"
";

/// A record of [`TRACE_FORMAT`] (72 bytes; ports in host order, skaddr
/// 0xffff_8881_00da_ca00). A v4 socket's addresses are in both the v4 and
/// the (mapped) v6 fields; a v6 one's v4 field holds garbage, as the kernel
/// leaves it.
pub fn trace_record(
    family: u16,
    old: i32,
    new: i32,
    sport: u16,
    dport: u16,
    src: IpAddr,
    dst: IpAddr,
) -> Vec<u8> {
    let mut r = vec![0u8; 72];
    r[0..2].copy_from_slice(&2287u16.to_ne_bytes());
    r[8..16].copy_from_slice(&0xffff_8881_00da_ca00u64.to_ne_bytes());
    r[16..20].copy_from_slice(&old.to_ne_bytes());
    r[20..24].copy_from_slice(&new.to_ne_bytes());
    r[24..26].copy_from_slice(&sport.to_ne_bytes());
    r[26..28].copy_from_slice(&dport.to_ne_bytes());
    r[28..30].copy_from_slice(&family.to_ne_bytes());
    r[30..32].copy_from_slice(&6u16.to_ne_bytes());
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            r[32..36].copy_from_slice(&s.octets());
            r[36..40].copy_from_slice(&d.octets());
            r[40..56].copy_from_slice(&s.to_ipv6_mapped().octets());
            r[56..72].copy_from_slice(&d.to_ipv6_mapped().octets());
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            r[32..36].copy_from_slice(&[127, 0, 0, 6]);
            r[40..56].copy_from_slice(&s.octets());
            r[56..72].copy_from_slice(&d.octets());
        }
        _ => panic!("a record's two addresses are of one family"),
    }
    r
}

// ---- tcp:tcp_send_reset ----

/// The `tcp:tcp_send_reset` event's format file on Linux 6.18, as the
/// kernel wrote it (`/sys/kernel/tracing/events/tcp/tcp_send_reset/format`):
/// the reason's names are in its print format.
pub const RESET_FORMAT: &str = include_str!("../fixtures/kernel/tcp_send_reset-6.18.format");

/// A `struct sockaddr_in` or `sockaddr_in6` in the event's 28-byte array.
fn sockaddr(ip: IpAddr, port: u16) -> [u8; 28] {
    let mut a = [0u8; 28];
    a[2..4].copy_from_slice(&port.to_be_bytes());
    match ip {
        IpAddr::V4(v4) => {
            a[0..2].copy_from_slice(&2u16.to_ne_bytes());
            a[4..8].copy_from_slice(&v4.octets());
        }
        IpAddr::V6(v6) => {
            a[0..2].copy_from_slice(&10u16.to_ne_bytes());
            a[8..24].copy_from_slice(&v6.octets());
        }
    }
    a
}

/// A record of [`RESET_FORMAT`] (88 bytes): a reset from `src` to `dst`
/// for reason number `reason`, by the socket `skaddr` (0: none, as for
/// `NO_SOCKET`) in Linux state `state` (0: unknown).
pub fn reset_record(
    reason: u32,
    skaddr: u64,
    state: i32,
    src: (IpAddr, u16),
    dst: (IpAddr, u16),
) -> Vec<u8> {
    let mut r = vec![0u8; 88];
    r[0..2].copy_from_slice(&2280u16.to_ne_bytes());
    r[8..16].copy_from_slice(&0xffff_8881_0bad_5c00u64.to_ne_bytes());
    r[16..24].copy_from_slice(&skaddr.to_ne_bytes());
    r[24..28].copy_from_slice(&state.to_ne_bytes());
    r[28..32].copy_from_slice(&reason.to_ne_bytes());
    r[32..60].copy_from_slice(&sockaddr(src.0, src.1));
    r[60..88].copy_from_slice(&sockaddr(dst.0, dst.1));
    r
}

/// `tcp:tcp_cong_state_set`'s format file, as Linux 6.18 writes it (the
/// state printed as a number).
pub const CONG_FORMAT: &str = include_str!("../fixtures/kernel/tcp_cong_state_set-6.18.format");

/// A record of [`CONG_FORMAT`] (64 bytes, ID 2271): the IPv4 socket
/// `local` → `remote` entered congestion state `state`.
pub fn cong_record(
    state: u8,
    local: (std::net::Ipv4Addr, u16),
    remote: (std::net::Ipv4Addr, u16),
) -> Vec<u8> {
    let mut r = vec![0u8; 64];
    r[0..2].copy_from_slice(&2271u16.to_ne_bytes());
    r[8..16].copy_from_slice(&0xffff_8881_0bad_5c00u64.to_ne_bytes());
    r[16..18].copy_from_slice(&local.1.to_ne_bytes());
    r[18..20].copy_from_slice(&remote.1.to_ne_bytes());
    r[20..22].copy_from_slice(&2u16.to_ne_bytes());
    r[22..26].copy_from_slice(&local.0.octets());
    r[26..30].copy_from_slice(&remote.0.octets());
    r[62] = state;
    r
}

// ---- skb:kfree_skb and tcp:tcp_retransmit_skb/_synack ----

/// The `skb:kfree_skb` event's format file on Linux 6.18, as the kernel
/// wrote it: the drop reasons' names are in its print format.
pub const DROP_FORMAT: &str = include_str!("../fixtures/kernel/kfree_skb-6.18.format");
/// `tcp:tcp_retransmit_skb`'s and `tcp:tcp_retransmit_synack`'s on 6.18.
pub const RETRANSMIT_FORMAT: &str =
    include_str!("../fixtures/kernel/tcp_retransmit_skb-6.18.format");
pub const SYNACK_FORMAT: &str =
    include_str!("../fixtures/kernel/tcp_retransmit_synack-6.18.format");

/// A record of [`DROP_FORMAT`] (40 bytes): a buffer of `protocol`
/// (0x0800: IPv4) freed by socket `rx_sk` (0: none) for reason number `reason`.
pub fn drop_record(reason: u32, rx_sk: u64, protocol: u16) -> Vec<u8> {
    let mut r = vec![0u8; 40];
    r[0..2].copy_from_slice(&2310u16.to_ne_bytes());
    r[8..16].copy_from_slice(&0xffff_8881_0bad_0100u64.to_ne_bytes());
    r[16..24].copy_from_slice(&0xffff_ffff_8100_0000u64.to_ne_bytes());
    r[24..32].copy_from_slice(&rx_sk.to_ne_bytes());
    r[32..34].copy_from_slice(&protocol.to_ne_bytes());
    r[36..40].copy_from_slice(&reason.to_ne_bytes());
    r
}

/// A record of [`RETRANSMIT_FORMAT`] (80 bytes) from `src` to `dst`
/// (IPv4), with `err` (0: sent).
pub fn retransmit_record(
    src: (std::net::Ipv4Addr, u16),
    dst: (std::net::Ipv4Addr, u16),
    err: i32,
) -> Vec<u8> {
    let mut r = vec![0u8; 80];
    r[0..2].copy_from_slice(&2281u16.to_ne_bytes());
    r[16..24].copy_from_slice(&0xffff_8881_00da_ca00u64.to_ne_bytes());
    r[24..28].copy_from_slice(&1i32.to_ne_bytes());
    r[28..30].copy_from_slice(&src.1.to_ne_bytes());
    r[30..32].copy_from_slice(&dst.1.to_ne_bytes());
    r[32..34].copy_from_slice(&2u16.to_ne_bytes());
    r[34..38].copy_from_slice(&src.0.octets());
    r[38..42].copy_from_slice(&dst.0.octets());
    r[42..58].copy_from_slice(&src.0.to_ipv6_mapped().octets());
    r[58..74].copy_from_slice(&dst.0.to_ipv6_mapped().octets());
    r[76..80].copy_from_slice(&err.to_ne_bytes());
    r
}

/// A record of [`SYNACK_FORMAT`] (72 bytes) from `src` to `dst` (IPv6).
pub fn synack_record(src: (std::net::Ipv6Addr, u16), dst: (std::net::Ipv6Addr, u16)) -> Vec<u8> {
    let mut r = vec![0u8; 72];
    r[0..2].copy_from_slice(&2275u16.to_ne_bytes());
    r[24..26].copy_from_slice(&src.1.to_ne_bytes());
    r[26..28].copy_from_slice(&dst.1.to_ne_bytes());
    r[28..30].copy_from_slice(&10u16.to_ne_bytes());
    r[38..54].copy_from_slice(&src.0.octets());
    r[54..70].copy_from_slice(&dst.0.octets());
    r
}
