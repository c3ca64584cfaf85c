//! Byte fixtures for every branch of the parser. Frames are built by hand
//! (headers only, like a snap-length capture) with the wire length given
//! separately, as a capture reports it.

use std::net::SocketAddr;

use super::parse_frame;
use crate::tcp::{Flags, LinkType, MAX_UNKNOWN, Malformed, Proto, Segment};
use crate::test_rng::Rng;
use crate::time::Timestamp;

const TS: Timestamp = Timestamp(1_000);
const V4_SRC: [u8; 4] = [10, 0, 0, 1];
const V4_DST: [u8; 4] = [10, 0, 0, 2];

/// A TCP header; options are padded with EOL to a multiple of 4.
fn tcp_hdr(
    sport: u16,
    dport: u16,
    seq: u32,
    ack: u32,
    flags: Flags,
    win: u16,
    opts: &[u8],
) -> Vec<u8> {
    let mut o = opts.to_vec();
    while o.len() % 4 != 0 {
        o.push(0);
    }
    let doff = (20 + o.len()) / 4;
    let mut h = Vec::new();
    h.extend_from_slice(&sport.to_be_bytes());
    h.extend_from_slice(&dport.to_be_bytes());
    h.extend_from_slice(&seq.to_be_bytes());
    h.extend_from_slice(&ack.to_be_bytes());
    h.push((doff as u8) << 4);
    h.push(flags.0);
    h.extend_from_slice(&win.to_be_bytes());
    h.extend_from_slice(&[0, 0, 0, 7]); // checksum, urgent pointer
    h.extend_from_slice(&o);
    h
}

fn simple_tcp(opts: &[u8]) -> Vec<u8> {
    tcp_hdr(40000, 80, 1000, 2000, Flags::ACK | Flags::PSH, 512, opts)
}

fn udp_hdr(sport: u16, dport: u16, payload: usize) -> Vec<u8> {
    let mut h = Vec::new();
    h.extend_from_slice(&sport.to_be_bytes());
    h.extend_from_slice(&dport.to_be_bytes());
    h.extend_from_slice(&((8 + payload) as u16).to_be_bytes());
    h.extend_from_slice(&[0, 0]);
    h
}

/// An IPv4 header (no options) whose total length counts `payload` more
/// bytes than `l4` holds.
fn v4_with(proto: u8, l4: &[u8], total_len: u16, frag: u16) -> Vec<u8> {
    let mut h = vec![0x45, 0];
    h.extend_from_slice(&total_len.to_be_bytes());
    h.extend_from_slice(&[0, 1]);
    h.extend_from_slice(&frag.to_be_bytes());
    h.extend_from_slice(&[64, proto, 0, 0]);
    h.extend_from_slice(&V4_SRC);
    h.extend_from_slice(&V4_DST);
    h.extend_from_slice(l4);
    h
}

fn v4(proto: u8, l4: &[u8], payload: usize) -> Vec<u8> {
    v4_with(proto, l4, (20 + l4.len() + payload) as u16, 0)
}

fn v6_addr(last: u8) -> [u8; 16] {
    let mut a = [0u8; 16];
    a[0] = 0xfd;
    a[15] = last;
    a
}

/// An IPv6 header followed by raw extension-header bytes and the transport header.
fn v6(next: u8, ext: &[u8], l4: &[u8], payload: usize) -> Vec<u8> {
    let plen = (ext.len() + l4.len() + payload) as u16;
    let mut h = vec![0x60, 0, 0, 0];
    h.extend_from_slice(&plen.to_be_bytes());
    h.extend_from_slice(&[next, 64]);
    h.extend_from_slice(&v6_addr(1));
    h.extend_from_slice(&v6_addr(2));
    h.extend_from_slice(ext);
    h.extend_from_slice(l4);
    h
}

fn ether(ethertype: u16, ip: &[u8]) -> Vec<u8> {
    let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1];
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(ip);
    f
}

fn parse(link: LinkType, frame: &[u8], orig_len: usize) -> Result<Option<Segment>, Malformed> {
    parse_frame(link, TS, frame, orig_len as u32)
}

/// Parses an Ethernet frame captured whole plus `payload` bytes not captured.
fn eth_seg(ethertype: u16, ip: &[u8], payload: usize) -> Result<Option<Segment>, Malformed> {
    let f = ether(ethertype, ip);
    let wire = f.len() + payload;
    parse(LinkType::Ethernet, &f, wire)
}

fn ok(r: Result<Option<Segment>, Malformed>) -> Segment {
    match r {
        Ok(Some(s)) => s,
        other => panic!("expected a segment, got {other:?}"),
    }
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

const SYN_OPTS: [u8; 20] = [
    2, 4, 0xff, 0xd7, // mss 65495
    4, 2, // sack permitted
    8, 10, 0, 0, 0, 9, 0, 0, 0, 0, // timestamps 9/0
    1, // nop
    3, 3, 7, // wscale 7
];

// ---------------------------------------------------------------- link layers

#[test]
fn ethernet_ipv4_syn_with_every_common_option() {
    let l4 = tcp_hdr(40000, 7000, 0xdead_beef, 0, Flags::SYN, 65495, &SYN_OPTS);
    let s = ok(eth_seg(0x0800, &v4(6, &l4, 0), 0));
    assert_eq!(s.proto, Proto::Tcp);
    assert_eq!(s.ts, TS);
    assert_eq!(s.src, addr("10.0.0.1:40000"));
    assert_eq!(s.dst, addr("10.0.0.2:7000"));
    assert_eq!(s.payload_len, 0);
    assert_eq!(s.malformed, None);
    let t = s.tcp.unwrap();
    assert_eq!(
        (t.seq, t.ack, t.flags, t.window, t.urgent),
        (0xdead_beef, 0, Flags::SYN, 65495, 7)
    );
    assert_eq!(t.header_len, 40);
    assert_eq!(t.options.mss, Some(65495));
    assert!(t.options.sack_perm);
    assert_eq!(t.options.timestamps, Some((9, 0)));
    assert_eq!(t.options.wscale, Some(7));
    assert!(t.options.sack_blocks().is_empty());
    assert!(t.options.unknown_options().is_empty());
}

#[test]
fn payload_length_comes_from_the_ip_header_not_the_capture() {
    // Headers only were captured; the wire frame had 1448 payload bytes.
    let s = ok(eth_seg(0x0800, &v4(6, &simple_tcp(&[]), 1448), 1448));
    assert_eq!(s.payload_len, 1448);
    assert_eq!(s.malformed, None);
}

#[test]
fn the_ipv4_identification_is_kept_and_ipv6_has_none() {
    let l4 = simple_tcp(&[]);
    let mut ip = v4(6, &l4, 0);
    ip[4..6].copy_from_slice(&0xc762u16.to_be_bytes());
    assert_eq!(ok(eth_seg(0x0800, &ip, 0)).ip_id, 0xc762);
    assert_eq!(ok(eth_seg(0x86dd, &v6(6, &[], &l4, 0), 0)).ip_id, 0);
    let udp = v4(17, &udp_hdr(53, 5353, 4), 4);
    assert_eq!(ok(eth_seg(0x0800, &udp, 4)).ip_id, 1);
}

#[test]
fn ethernet_padding_is_not_payload() {
    let mut f = ether(0x0800, &v4(6, &simple_tcp(&[]), 0));
    f.resize(60, 0); // minimum Ethernet frame
    let s = ok(parse(LinkType::Ethernet, &f, 60));
    assert_eq!(s.payload_len, 0);
    assert_eq!(s.malformed, None);
}

#[test]
fn one_vlan_tag_is_skipped() {
    let ip = v4(6, &simple_tcp(&[]), 10);
    let mut f = vec![
        2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x81, 0x00, 0x00, 0x05, 0x08, 0x00,
    ];
    f.extend_from_slice(&ip);
    let s = ok(parse(LinkType::Ethernet, &f, f.len() + 10));
    assert_eq!(s.src, addr("10.0.0.1:40000"));
    assert_eq!(s.payload_len, 10);
    // A VLAN tag cut short.
    assert_eq!(
        parse(LinkType::Ethernet, &f[..16], 100),
        Err(Malformed::TruncatedEthernet)
    );
    // A VLAN tag around ARP.
    let mut arp = f[..16].to_vec();
    arp.extend_from_slice(&[0x08, 0x06, 0, 1]);
    assert_eq!(parse(LinkType::Ethernet, &arp, 60), Ok(None));
}

#[test]
fn raw_ip_version_nibble_decides() {
    let f4 = v4(6, &simple_tcp(&[]), 3);
    let s = ok(parse(LinkType::RawIp, &f4, f4.len() + 3));
    assert_eq!(s.dst, addr("10.0.0.2:80"));
    assert_eq!(s.payload_len, 3);
    let f6 = v6(6, &[], &simple_tcp(&[]), 5);
    let s = ok(parse(LinkType::RawIp, &f6, f6.len() + 5));
    assert_eq!(s.src, addr("[fd00::1]:40000"));
    assert_eq!(s.payload_len, 5);
    let mut other = f4.clone();
    other[0] = 0x55;
    assert_eq!(parse(LinkType::RawIp, &other, other.len()), Ok(None));
    assert_eq!(
        parse(LinkType::RawIp, &[], 0),
        Err(Malformed::TruncatedIpv4)
    );
}

#[test]
fn linux_sll_and_sll2_headers() {
    let ip = v4(6, &simple_tcp(&[]), 0);
    let mut sll = vec![0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x08, 0x00];
    sll.extend_from_slice(&ip);
    let s = ok(parse(LinkType::LinuxSll, &sll, sll.len()));
    assert_eq!(s.src, addr("10.0.0.1:40000"));

    let ip6 = v6(6, &[], &simple_tcp(&[]), 0);
    let mut sll2 = vec![
        0x86, 0xdd, 0, 0, 0, 0, 0, 1, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0,
    ];
    sll2.extend_from_slice(&ip6);
    let s = ok(parse(LinkType::LinuxSll2, &sll2, sll2.len()));
    assert_eq!(s.dst, addr("[fd00::2]:80"));

    assert_eq!(
        parse(LinkType::LinuxSll, &sll[..15], 100),
        Err(Malformed::TruncatedEthernet)
    );
    assert_eq!(
        parse(LinkType::LinuxSll2, &sll2[..19], 100),
        Err(Malformed::TruncatedEthernet)
    );
    let mut arp = sll[..16].to_vec();
    arp[14..16].copy_from_slice(&[0x08, 0x06]);
    assert_eq!(parse(LinkType::LinuxSll, &arp, 60), Ok(None));
}

#[test]
fn null_family_in_either_byte_order() {
    let ip4 = v4(6, &simple_tcp(&[]), 0);
    let ip6 = v6(6, &[], &simple_tcp(&[]), 0);
    for (family, ip, want) in [
        (2u32.to_le_bytes(), &ip4, "10.0.0.1:40000"),
        (2u32.to_be_bytes(), &ip4, "10.0.0.1:40000"),
        (24u32.to_le_bytes(), &ip6, "[fd00::1]:40000"),
        (28u32.to_be_bytes(), &ip6, "[fd00::1]:40000"),
        (30u32.to_le_bytes(), &ip6, "[fd00::1]:40000"),
    ] {
        let mut f = family.to_vec();
        f.extend_from_slice(ip);
        assert_eq!(
            ok(parse(LinkType::Null, &f, f.len())).src,
            addr(want),
            "family {family:?}"
        );
    }
    let mut f = 7u32.to_le_bytes().to_vec();
    f.extend_from_slice(&ip4);
    assert_eq!(parse(LinkType::Null, &f, f.len()), Ok(None));
    assert_eq!(
        parse(LinkType::Null, &[2, 0, 0], 3),
        Err(Malformed::TruncatedEthernet)
    );
}

#[test]
fn frames_synack_does_not_show() {
    // ARP
    assert_eq!(eth_seg(0x0806, &[0u8; 28], 0), Ok(None));
    // ICMP
    assert_eq!(
        eth_seg(0x0800, &v4(1, &[8, 0, 0, 0, 0, 1, 0, 1], 0), 0),
        Ok(None)
    );
    // IPv4 non-first fragment (offset 185 × 8)
    let l4 = simple_tcp(&[]);
    let frag = v4_with(6, &l4, 40, 185);
    assert_eq!(eth_seg(0x0800, &frag, 0), Ok(None));
    // First fragment (MF set, offset 0) still shows its ports.
    let first = v4_with(6, &l4, 40, 0x2000);
    assert_eq!(ok(eth_seg(0x0800, &first, 0)).src, addr("10.0.0.1:40000"));
    // IPv6: ESP, no next header, ICMPv6.
    assert_eq!(eth_seg(0x86dd, &v6(50, &[], &[0u8; 8], 0), 0), Ok(None));
    assert_eq!(eth_seg(0x86dd, &v6(59, &[], &[], 0), 0), Ok(None));
    assert_eq!(
        eth_seg(0x86dd, &v6(58, &[], &[128, 0, 0, 0], 0), 0),
        Ok(None)
    );
    // An ethertype saying IPv4 over bytes that are not IPv4.
    let mut bad = v4(6, &l4, 0);
    bad[0] = 0x65;
    assert_eq!(eth_seg(0x0800, &bad, 0), Ok(None));
}

// ------------------------------------------------------------------- IP layer

#[test]
fn ipv4_length_field_past_the_wire_frame_is_marked() {
    // Total length says 1000 bytes but the wire frame held 40 + 10.
    let ip = v4_with(6, &simple_tcp(&[]), 1000, 0);
    let f = ether(0x0800, &ip);
    let s = ok(parse(LinkType::Ethernet, &f, f.len() + 10));
    assert_eq!(s.malformed, Some(Malformed::IpLengthPastFrame));
    assert_eq!(s.payload_len, 10);
}

#[test]
fn ipv4_total_length_zero_means_tso_and_uses_the_wire() {
    let ip = v4_with(6, &simple_tcp(&[]), 0, 0);
    let f = ether(0x0800, &ip);
    let s = ok(parse(LinkType::Ethernet, &f, f.len() + 30_000));
    assert_eq!(s.payload_len, 30_000);
    assert_eq!(s.malformed, None);
}

#[test]
fn ipv4_header_errors() {
    let ip = v4(6, &simple_tcp(&[]), 0);
    // Shorter than 20 bytes.
    assert_eq!(eth_seg(0x0800, &ip[..19], 0), Err(Malformed::TruncatedIpv4));
    // IHL < 5.
    let mut low = ip.clone();
    low[0] = 0x44;
    assert_eq!(eth_seg(0x0800, &low, 0), Err(Malformed::TruncatedIpv4));
    // IHL = 15 (60 bytes) but only 40 bytes captured.
    let mut high = ip.clone();
    high[0] = 0x4f;
    assert_eq!(eth_seg(0x0800, &high, 0), Err(Malformed::TruncatedIpv4));
    // Total length smaller than the IP header.
    let short = v4_with(6, &simple_tcp(&[]), 12, 0);
    assert_eq!(eth_seg(0x0800, &short, 0), Err(Malformed::IpLengthTooShort));
    // Total length covers IP but not the whole TCP header.
    let short = v4_with(6, &simple_tcp(&[]), 30, 0);
    assert_eq!(eth_seg(0x0800, &short, 0), Err(Malformed::IpLengthTooShort));
}

#[test]
fn ipv4_options_are_skipped() {
    let l4 = simple_tcp(&[]);
    let mut ip = vec![0x46, 0];
    ip.extend_from_slice(&((24 + l4.len() + 5) as u16).to_be_bytes());
    ip.extend_from_slice(&[0, 1, 0, 0, 64, 6, 0, 0]);
    ip.extend_from_slice(&V4_SRC);
    ip.extend_from_slice(&V4_DST);
    ip.extend_from_slice(&[1, 1, 1, 0]); // NOP NOP NOP EOL
    ip.extend_from_slice(&l4);
    let s = ok(eth_seg(0x0800, &ip, 5));
    assert_eq!(s.payload_len, 5);
    assert_eq!(s.tcp.unwrap().seq, 1000);
}

#[test]
fn ipv6_extension_headers_are_walked() {
    let l4 = simple_tcp(&[]);
    // hop-by-hop (8) → routing (16) → destination options (8) → AH (12+4=16) → TCP
    let mut ext = vec![43, 0, 1, 4, 0, 0, 0, 0];
    ext.extend_from_slice(&[60, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    ext.extend_from_slice(&[51, 0, 1, 4, 0, 0, 0, 0]);
    ext.extend_from_slice(&[6, 2, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0]);
    let s = ok(eth_seg(0x86dd, &v6(0, &ext, &l4, 100), 100));
    assert_eq!(s.src, addr("[fd00::1]:40000"));
    assert_eq!(s.payload_len, 100);
    assert_eq!(s.malformed, None);
}

#[test]
fn ipv6_fragments() {
    let l4 = simple_tcp(&[]);
    // First fragment (offset 0, M set): shown.
    let first = [6, 0, 0x00, 0x01, 0, 0, 0, 9];
    assert_eq!(
        ok(eth_seg(0x86dd, &v6(44, &first, &l4, 0), 0)).dst,
        addr("[fd00::2]:80")
    );
    // Later fragment: not shown.
    let later = [6, 0, 0x05, 0x00, 0, 0, 0, 9];
    assert_eq!(eth_seg(0x86dd, &v6(44, &later, &l4, 0), 0), Ok(None));
}

#[test]
fn ipv6_errors() {
    let l4 = simple_tcp(&[]);
    let ip = v6(6, &[], &l4, 0);
    assert_eq!(eth_seg(0x86dd, &ip[..39], 0), Err(Malformed::TruncatedIpv6));
    // Extension header cut off by the capture.
    let ext = [60, 3, 0, 0, 0, 0, 0, 0];
    let ip = v6(0, &ext, &[], 0);
    assert_eq!(
        eth_seg(0x86dd, &ip, 0),
        Err(Malformed::TruncatedIpv6Extension)
    );
    // Extension header with no length byte.
    let ip = v6(60, &[6], &[], 0);
    assert_eq!(
        eth_seg(0x86dd, &ip, 0),
        Err(Malformed::TruncatedIpv6Extension)
    );
    // Payload length smaller than the extension headers.
    let mut ip = v6(60, &[6, 0, 0, 0, 0, 0, 0, 0], &l4, 0);
    ip[4..6].copy_from_slice(&4u16.to_be_bytes());
    assert_eq!(eth_seg(0x86dd, &ip, 0), Err(Malformed::IpLengthTooShort));
    // Payload length covering the extension but not the TCP header.
    ip[4..6].copy_from_slice(&12u16.to_be_bytes());
    assert_eq!(eth_seg(0x86dd, &ip, 0), Err(Malformed::IpLengthTooShort));
    // A chain of more destination-options headers than we walk.
    let mut ext = Vec::new();
    for _ in 0..12 {
        ext.extend_from_slice(&[60, 0, 0, 0, 0, 0, 0, 0]);
    }
    let ip = v6(60, &ext, &l4, 0);
    assert_eq!(eth_seg(0x86dd, &ip, 0), Ok(None));
}

#[test]
fn ipv6_length_past_frame_and_jumbo_zero() {
    let l4 = simple_tcp(&[]);
    let mut ip = v6(6, &[], &l4, 0);
    ip[4..6].copy_from_slice(&2000u16.to_be_bytes());
    let f = ether(0x86dd, &ip);
    let s = ok(parse(LinkType::Ethernet, &f, f.len() + 7));
    assert_eq!(s.malformed, Some(Malformed::IpLengthPastFrame));
    assert_eq!(s.payload_len, 7);
    ip[4..6].copy_from_slice(&0u16.to_be_bytes());
    let s = ok(parse(
        LinkType::Ethernet,
        &f[..14].iter().chain(&ip).copied().collect::<Vec<_>>(),
        f.len() + 9,
    ));
    assert_eq!(s.payload_len, 9);
    assert_eq!(s.malformed, None);
}

// -------------------------------------------------------------- TCP and UDP

#[test]
fn tcp_header_errors() {
    let l4 = simple_tcp(&[]);
    let trunc = v4_with(6, &l4[..19], 60, 0);
    assert_eq!(eth_seg(0x0800, &trunc, 20), Err(Malformed::TruncatedTcp));
    let mut small = l4.clone();
    small[12] = 4 << 4;
    assert_eq!(
        eth_seg(0x0800, &v4(6, &small, 0), 0),
        Err(Malformed::DataOffsetTooSmall)
    );
    let mut past = l4.clone();
    past[12] = 6 << 4; // 24 bytes, only 20 captured
    assert_eq!(
        eth_seg(0x0800, &v4(6, &past, 100), 100),
        Err(Malformed::DataOffsetPastEnd)
    );
}

#[test]
fn udp_over_ipv4_and_ipv6() {
    let s = ok(eth_seg(0x0800, &v4(17, &udp_hdr(5353, 53, 30), 30), 30));
    assert_eq!(s.proto, Proto::Udp);
    assert_eq!(s.tcp, None);
    assert_eq!(s.src, addr("10.0.0.1:5353"));
    assert_eq!(s.dst, addr("10.0.0.2:53"));
    assert_eq!(s.payload_len, 30);
    let s = ok(eth_seg(0x86dd, &v6(17, &[], &udp_hdr(1, 2, 4), 4), 4));
    assert_eq!(s.dst, addr("[fd00::2]:2"));
    assert_eq!(s.payload_len, 4);
}

#[test]
fn udp_errors() {
    let l4 = udp_hdr(1, 2, 0);
    assert_eq!(
        eth_seg(0x0800, &v4_with(17, &l4[..7], 28, 0), 1),
        Err(Malformed::TruncatedUdp)
    );
    assert_eq!(
        eth_seg(0x0800, &v4_with(17, &l4, 24, 0), 0),
        Err(Malformed::IpLengthTooShort)
    );
}

// ---------------------------------------------------------------- TCP options

fn options_of(opts: &[u8]) -> Segment {
    ok(eth_seg(0x0800, &v4(6, &simple_tcp(opts), 0), 0))
}

#[test]
fn eol_ends_the_options() {
    let s = options_of(&[1, 0, 2, 4, 5, 0xb4]);
    assert_eq!(s.tcp.unwrap().options.mss, None);
    assert_eq!(s.malformed, None);
}

#[test]
fn sack_blocks_one_to_four() {
    for n in 1..=4u32 {
        let mut o = vec![1, 1, 5, (2 + 8 * n) as u8];
        for i in 0..n {
            o.extend_from_slice(&(100 * i).to_be_bytes());
            o.extend_from_slice(&(100 * i + 50).to_be_bytes());
        }
        let s = options_of(&o);
        assert_eq!(s.malformed, None, "{n} blocks");
        let blocks = s.tcp.unwrap().options;
        let blocks = blocks.sack_blocks();
        assert_eq!(blocks.len(), n as usize);
        assert_eq!(blocks[n as usize - 1], (100 * (n - 1), 100 * (n - 1) + 50));
    }
}

#[test]
fn unknown_options_are_kept_up_to_the_limit() {
    // Kinds 30, 31, 32, 33, 34 with 2-byte bodies (len 4): five unknowns.
    let mut o = Vec::new();
    for k in 30..35u8 {
        o.extend_from_slice(&[k, 4, 0, 0]);
    }
    let s = options_of(&o);
    assert_eq!(s.malformed, None);
    let opts = s.tcp.unwrap().options;
    assert_eq!(opts.unknown_options().len(), MAX_UNKNOWN);
    assert_eq!(opts.unknown_options()[0], (30, 4));
    assert_eq!(opts.unknown_options()[3], (33, 4));
}

#[test]
fn option_length_zero_or_one_stops_parsing() {
    for len in [0u8, 1] {
        let s = options_of(&[2, 4, 5, 0xb4, 30, len, 3, 3, 7]);
        assert_eq!(
            s.malformed,
            Some(Malformed::OptionLengthTooSmall),
            "len {len}"
        );
        let t = s.tcp.unwrap();
        assert_eq!(
            t.options.mss,
            Some(1460),
            "options before the bad one are kept"
        );
        assert_eq!(
            t.options.wscale, None,
            "options after the bad one are not read"
        );
        assert_eq!(t.seq, 1000, "the segment itself is kept");
    }
}

#[test]
fn option_running_past_the_header() {
    // Timestamps option claims 10 bytes, only 6 remain.
    let s = options_of(&[1, 1, 8, 10, 0, 0, 0, 1]);
    assert_eq!(s.malformed, Some(Malformed::OptionPastHeader));
    assert_eq!(s.tcp.unwrap().options.timestamps, None);
    // A kind byte in the very last position, with no room for its length.
    let s = options_of(&[1, 1, 1, 2]);
    assert_eq!(s.malformed, Some(Malformed::OptionPastHeader));
}

#[test]
fn known_option_with_wrong_length() {
    for o in [
        &[2u8, 3, 5, 1, 1, 1, 1, 1][..],           // MSS len 3
        &[3, 4, 7, 0][..],                         // WS len 4
        &[4, 3, 0, 1][..],                         // SACK-perm len 3
        &[8, 8, 0, 0, 0, 1, 0, 0][..],             // TS len 8
        &[5, 9, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0][..], // SACK len 9
    ] {
        let s = options_of(o);
        assert_eq!(s.malformed, Some(Malformed::OptionBadLength), "{o:?}");
    }
    // SACK with 5 blocks (42 bytes) cannot fit 40 bytes of options anyway:
    // it runs past the header.
    let mut o = vec![5u8, 34];
    o.extend_from_slice(&[0; 32]);
    assert_eq!(options_of(&o).malformed, None, "4 blocks is fine");
    o[1] = 42;
    assert_eq!(options_of(&o).malformed, Some(Malformed::OptionPastHeader));
    // Parsing goes on after a wrong-length option whose length is sane.
    let s = options_of(&[3, 4, 7, 0, 2, 4, 5, 0xb4]);
    assert_eq!(s.malformed, Some(Malformed::OptionBadLength));
    assert_eq!(s.tcp.unwrap().options.mss, Some(1460));
}

#[test]
fn ip_length_problem_wins_over_option_problem() {
    let ip = v4_with(6, &simple_tcp(&[30, 0]), 1000, 0);
    let f = ether(0x0800, &ip);
    let s = ok(parse(LinkType::Ethernet, &f, f.len()));
    assert_eq!(s.malformed, Some(Malformed::IpLengthPastFrame));
}

// ----------------------------------------------------------------- robustness

#[test]
fn garbage_never_panics() {
    let mut rng = Rng::new(0x9e37_79b9_7f4a_7c15);
    let mut shown = 0;
    for round in 0..20_000 {
        let len = rng.below(160);
        let mut f = rng.bytes(len);
        // Steer half the rounds towards IP so deeper branches are reached.
        if round % 2 == 0 && f.len() > 34 {
            f[12] = if round % 4 == 0 { 0x08 } else { 0x86 };
            f[13] = if round % 4 == 0 { 0x00 } else { 0xdd };
            f[14] = if round % 4 == 0 { 0x45 } else { 0x60 };
            f[23] = if round % 3 == 0 { 17 } else { 6 };
        }
        let orig = rng.below(70_000) as u32;
        for link in LinkType::ALL {
            if let Ok(Some(_)) = parse_frame(link, TS, &f, orig) {
                shown += 1;
            }
        }
    }
    assert!(shown > 0, "some garbage should look like a segment");
}

#[test]
fn every_truncation_of_valid_frames_is_handled() {
    let l4 = tcp_hdr(1, 2, 3, 4, Flags::SYN, 5, &SYN_OPTS);
    // destination options → first fragment → TCP
    let ext = [44, 0, 1, 4, 0, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 1];
    let frames = [
        (LinkType::Ethernet, ether(0x0800, &v4(6, &l4, 10))),
        (LinkType::Ethernet, ether(0x86dd, &v6(60, &ext, &l4, 10))),
        (
            LinkType::Ethernet,
            ether(0x0800, &v4(17, &udp_hdr(1, 2, 3), 3)),
        ),
        (LinkType::LinuxSll2, {
            let mut f = vec![
                0x08, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0,
            ];
            f.extend_from_slice(&v4(6, &l4, 0));
            f
        }),
    ];
    for (link, f) in frames {
        assert!(matches!(parse(link, &f, f.len() + 10), Ok(Some(_))));
        for cut in 0..f.len() {
            let part = &f[..cut];
            // Cut by a snap length (wire length intact) and cut on the wire.
            let snapped = parse(link, part, f.len() + 10);
            let short = parse(link, part, cut);
            assert!(
                !matches!(snapped, Ok(Some(_))),
                "{link:?} cut at {cut}: {snapped:?}"
            );
            assert!(
                !matches!(short, Ok(Some(_))),
                "{link:?} cut at {cut}: {short:?}"
            );
        }
    }
}
