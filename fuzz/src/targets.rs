//! The fuzz targets: one parser each, its seeds, and the invariants checked
//! on its answers (a broken invariant panics, so it is reported like a crash).

use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::Cursor;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use super::kernel_bytes::{
    CONG_FORMAT, DROP_FORMAT, RESET_FORMAT, RETRANSMIT_FORMAT, SYNACK_FORMAT, TRACE_FORMAT,
    cong_record, diag_msg, drop_record, nlmsg, reset_record, retransmit_record, synack_record,
    trace_record,
};
use super::{LengthField, Target};
use synack::capture::FileCapture;
use synack::kernel::{diag, trace};
use synack::lab::script::{self, Action, Call, Payload};
use synack::tcp::{LinkType, dissect, parse};
use synack::time::Timestamp;

/// Every target, in the order `all` runs them.
pub static TARGETS: [Target; 6] = [
    Target {
        name: "frame",
        about: "one captured frame of any link type: parse_frame, dissect, wire_len",
        run: run_frame,
        seeds: seed_frames,
        dictionary: &[
            b"\x08\x00",
            b"\x86\xdd",
            b"\x81\x00",
            b"\x45",
            b"\x60",
            b"\x06",
            b"\x11",
        ],
        length_fields: Some(frame_length_fields),
    },
    Target {
        name: "pcap",
        about: "a pcap or pcapng file: FileCapture, then parse_frame on every frame",
        run: run_pcap,
        seeds: seed_pcaps,
        dictionary: &[
            b"\xd4\xc3\xb2\xa1",
            b"\xa1\xb2\x3c\x4d",
            b"\x0a\x0d\x0d\x0a",
            b"\x4d\x3c\x2b\x1a",
            b"\x1a\x2b\x3c\x4d",
            b"\x06\x00\x00\x00",
            b"\x01\x00\x00\x00",
            b"\x09\x00\x01\x00",
        ],
        length_fields: Some(capture_length_fields),
    },
    Target {
        name: "script",
        about: "a scenario script: lab::script::parse",
        run: run_script,
        seeds: seed_scripts,
        dictionary: &[
            b"client ",
            b"server2 ",
            b"server-child ",
            b"+ ",
            b"#zh ",
            b"\"",
            b"\\",
            b"\n",
            b"read ",
            b"write ",
            b"send ",
            b"sendto ",
            b"setsockopt ",
            b"sleep ",
            b"wait ",
            b"link cut ",
            b"sysctl net.",
            b"99999999999999999999",
            b"18446744073709551615",
            b"1e308s",
            b"NaNs",
            b"-1",
            b"0.0000001s",
            b"ms",
        ],
        length_fields: None,
    },
    Target {
        name: "diag",
        about: "a sock_diag netlink answer: kernel::diag::parse_datagram",
        run: run_diag,
        seeds: seed_diag,
        dictionary: &[
            b"\x14\x00",
            b"\x03\x00",
            b"\x02\x00",
            b"\x02\x00\x00\x00",
            b"\x0a",
        ],
        length_fields: Some(diag_length_fields),
    },
    Target {
        name: "trace",
        about: "a trace_pipe_raw page of sock:inet_sock_set_state, tcp:tcp_send_reset, skb:kfree_skb, tcp:tcp_retransmit_skb/_synack and tcp:tcp_cong_state_set records: kernel::trace::parse_records, then the reader's BatchDecoder (drops named by the sockets its transitions name, congestion states kept when they change)",
        run: run_trace,
        seeds: seed_trace,
        dictionary: &[
            b"\x1d\x00\x00\x00",
            b"\x1e\x00\x00\x00",
            b"\x1f\x00\x00\x00",
            b"\xef\x08",
        ],
        length_fields: Some(trace_length_fields),
    },
    Target {
        name: "trace-format",
        about: "a tracepoint format file: kernel::trace::Layout::parse, ResetLayout::parse and DropLayout::parse (their reasons' names too, and the drop filter built from them), RetransmitLayout::parse, then pages decoded with them",
        run: run_trace_format,
        seeds: seed_trace_format,
        dictionary: &[
            b"field:",
            b"offset:",
            b"size:",
            b";",
            b"\t",
            b"ID:",
            b"18446744073709551615",
            b"4294967296",
            b"skaddr",
            b"saddr_v6[16]",
            b"__print_symbolic(REC->reason, ",
            b"{ 1, \"NO_SOCKET\" }",
            b"saddr[28]",
        ],
        length_fields: None,
    },
];

/// The target called `name`.
#[must_use]
pub fn target(name: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|t| t.name == name)
}

/// The repository (this crate is its `fuzz/`).
fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the fuzz crate is a folder of the repository")
}

fn sig(value: impl Hash) -> u64 {
    let mut h = DefaultHasher::new();
    value.hash(&mut h);
    h.finish()
}

// ---- frame ----

/// Input: link selector (1 byte), the wire length (u32 LE), the frame.
fn run_frame(input: &[u8]) -> u64 {
    let Some((&sel, rest)) = input.split_first() else {
        return 0;
    };
    let link = LinkType::ALL[usize::from(sel) % LinkType::ALL.len()];
    let (orig_len, frame) = match rest.split_first_chunk::<4>() {
        Some((len, frame)) => (u32::from_le_bytes(*len), frame),
        None => (0, rest),
    };
    let parsed = parse::parse_frame(link, Timestamp::default(), frame, orig_len);
    let outcome = match &parsed {
        Err(m) => (1u8, Some(*m), None, None),
        Ok(None) => (2, None, None, None),
        Ok(Some(seg)) => {
            let on_wire = (orig_len as usize).max(frame.len());
            assert!(
                seg.payload_len as usize <= on_wire,
                "payload {} longer than the frame on the wire ({on_wire})",
                seg.payload_len
            );
            if let Some(tcp) = seg.tcp {
                assert!(tcp.header_len >= 20 && tcp.header_len <= 60);
                assert!(tcp.options.sack_blocks().len() <= synack::tcp::MAX_SACK);
            }
            (
                3,
                seg.malformed,
                Some(seg.proto),
                seg.tcp.map(|t| t.header_len),
            )
        }
    };
    let fields = dissect::dissect(link, frame);
    for f in &fields {
        assert!(
            f.range.start <= f.range.end && f.range.end <= frame.len(),
            "field {:?} has range {:?} in a {}-byte frame",
            f.name,
            f.range,
            frame.len()
        );
    }
    let covered = fields.iter().map(|f| f.range.end).max().unwrap_or(0);
    assert!(
        frame.is_empty() || covered == frame.len(),
        "bytes {covered}.. of {} belong to no field",
        frame.len()
    );
    // The details view in Chinese: the same fields, other words.
    let zh = dissect::dissect_in(link, frame, synack::i18n::Lang::Zh);
    assert!(
        zh.iter()
            .map(|f| (f.name, &f.range))
            .eq(fields.iter().map(|f| (f.name, &f.range))),
        "the languages dissect differently"
    );
    let rows = dissect::hex_rows(frame).count();
    assert_eq!(rows, frame.len().div_ceil(16));
    let wire = synack::capture::wire_len(link, frame);
    assert!(wire as usize >= frame.len().min(u32::MAX as usize));
    sig((
        sel % 5,
        outcome,
        fields.len(),
        fields.last().map(|f| f.name),
    ))
}

fn frame_length_fields(input: &[u8]) -> Vec<LengthField> {
    // The wire length, IPv4 total length / IPv6 payload length and the TCP
    // data offset byte for an Ethernet frame.
    let mut out = vec![(1, 4, false)];
    if input.len() > 5 + 20 {
        out.extend([(5 + 16, 2, true), (5 + 18, 2, true), (5 + 14, 1, true)]);
    }
    out
}

/// Ethernet frames captured in the lab (the replay fixtures hold them in hex).
fn fixture_frames() -> Vec<Vec<u8>> {
    let mut frames: Vec<Vec<u8>> = Vec::new();
    let Ok(dir) = std::fs::read_dir(repo().join("tests/fixtures")) else {
        return frames;
    };
    let mut files: Vec<PathBuf> = dir.flatten().map(|e| e.path()).collect();
    files.sort();
    for f in files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "inputs"))
    {
        let Ok(text) = std::fs::read_to_string(f) else {
            continue;
        };
        for piece in text.split("\"bytes\":\"").skip(1) {
            let Some(hex) = piece.split('"').next() else {
                continue;
            };
            let bytes: Option<Vec<u8>> = (0..hex.len() / 2)
                .map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok())
                .collect();
            if let Some(b) = bytes
                && !frames.contains(&b)
            {
                frames.push(b);
            }
        }
    }
    // A spread of them: every kind of segment the scenarios produce shows up
    // in the first few of each file, and 40 is plenty to start from.
    let step = (frames.len() / 40).max(1);
    frames.into_iter().step_by(step).collect()
}

/// Hand-built frames for what the lab does not produce: IPv6 with extension
/// headers, VLAN tags, UDP, every TCP option.
fn built_frames() -> Vec<Vec<u8>> {
    let mut tcp = vec![0u8; 20];
    tcp[0..2].copy_from_slice(&40000u16.to_be_bytes());
    tcp[2..4].copy_from_slice(&443u16.to_be_bytes());
    tcp[12] = 0xf0; // 60-byte header
    tcp[13] = 0x12;
    // MSS, NOP, wscale, SACK-permitted, timestamps, a SACK block, an unknown option.
    tcp.extend_from_slice(&[
        2, 4, 5, 0xb4, 1, 3, 3, 7, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2,
    ]);
    tcp.extend_from_slice(&[5, 10, 0, 0, 0, 1, 0, 0, 0, 9, 30, 4, 1, 1, 0, 0, 0, 0, 0, 0]);
    tcp.extend_from_slice(b"payload");
    let mut v6 = vec![0x60, 0, 0, 0];
    v6.extend_from_slice(&((8 + 8 + tcp.len()) as u16).to_be_bytes());
    v6.extend_from_slice(&[0, 64]); // hop-by-hop next
    v6.extend_from_slice(&[0; 15]);
    v6.push(1);
    v6.extend_from_slice(&[0; 15]);
    v6.push(1);
    v6.extend_from_slice(&[44, 0, 1, 4, 0, 0, 0, 0]); // hop-by-hop → fragment
    v6.extend_from_slice(&[6, 0, 0, 0, 0, 0, 0, 7]); // fragment (first) → TCP
    v6.extend_from_slice(&tcp);
    let mut eth6 = vec![0u8; 12];
    eth6.extend_from_slice(&[0x86, 0xdd]);
    eth6.extend_from_slice(&v6);

    let mut udp4 = vec![
        0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
    ];
    udp4.extend_from_slice(&[0x13, 0x88, 0x13, 0x89, 0, 12, 0, 0, b'a', b'b', b'c', b'd']);
    let total = udp4.len() as u16;
    udp4[2..4].copy_from_slice(&total.to_be_bytes());
    let mut vlan = vec![0u8; 12];
    vlan.extend_from_slice(&[0x81, 0x00, 0x00, 0x05, 0x08, 0x00]);
    vlan.extend_from_slice(&udp4);
    vlan.extend_from_slice(&[0; 6]); // Ethernet padding
    vec![eth6, vlan]
}

/// The same IP packet behind each kind of link header.
fn relink(eth: &[u8], link: LinkType) -> Option<Vec<u8>> {
    let ethertype = eth.get(12..14)?;
    let ip = eth.get(14..)?;
    let v6 = ethertype == [0x86, 0xdd];
    let mut out = match link {
        LinkType::Ethernet => return Some(eth.to_vec()),
        LinkType::RawIp => Vec::new(),
        LinkType::LinuxSll => {
            // Packet type, ARPHRD_LOOPBACK, address length, address, protocol.
            let mut h = vec![0, 0, 0x03, 0x04, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0];
            h.extend_from_slice(ethertype);
            h
        }
        LinkType::LinuxSll2 => {
            let mut h = ethertype.to_vec();
            h.extend_from_slice(&[0, 0, 0, 0, 0, 1, 3, 4, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0]);
            h
        }
        LinkType::Null => (if v6 { 30u32 } else { 2 }).to_le_bytes().to_vec(),
    };
    out.extend_from_slice(ip);
    Some(out)
}

fn frame_input(link: LinkType, frame: &[u8]) -> Vec<u8> {
    let sel = LinkType::ALL.iter().position(|&l| l == link).unwrap_or(0) as u8;
    let mut input = vec![sel];
    let wire = synack::capture::wire_len(link, frame);
    input.extend_from_slice(&wire.to_le_bytes());
    input.extend_from_slice(frame);
    input
}

fn seed_frames() -> Vec<Vec<u8>> {
    let eth: Vec<Vec<u8>> = fixture_frames().into_iter().chain(built_frames()).collect();
    let mut out = Vec::new();
    for (i, f) in eth.iter().enumerate() {
        // Every frame as Ethernet; a few of them behind every other link header.
        let links: &[LinkType] = if i % 8 == 0 || i + 2 >= eth.len() {
            &LinkType::ALL
        } else {
            &LinkType::ALL[..1]
        };
        for &link in links {
            if let Some(framed) = relink(f, link) {
                out.push(frame_input(link, &framed));
            }
        }
    }
    out
}

// ---- pcap / pcapng ----

fn run_pcap(input: &[u8]) -> u64 {
    let name = Path::new("fuzz.pcap");
    let mut cap = match FileCapture::from_reader(name, Cursor::new(input.to_vec())) {
        Ok(c) => c,
        Err(e) => return sig((0u8, error_shape(&e.to_string()))),
    };
    let mut frames = 0usize;
    let mut kinds = 0u32;
    let end = loop {
        match cap.next_frame() {
            Ok(Some(f)) => {
                frames += 1;
                assert!(
                    f.data.len() <= f.orig_len as usize,
                    "frame {frames}: {} bytes captured, {} on the wire",
                    f.data.len(),
                    f.orig_len
                );
                assert!(
                    frames <= input.len() / 12 + 1,
                    "{frames} frames from {} bytes",
                    input.len()
                );
                let kind = match parse::parse_frame(f.link, f.ts, f.data, f.orig_len) {
                    Err(_) => 0,
                    Ok(None) => 1,
                    Ok(Some(_)) => 2,
                };
                kinds |= 1 << (kind * 5 + f.link as u32);
            }
            Ok(None) => break None,
            Err(e) => {
                let msg = e.to_string();
                assert!(msg.contains("fuzz.pcap"), "the error names the file: {msg}");
                break Some(error_shape(&msg));
            }
        }
    };
    assert!(
        matches!(cap.next_frame(), Ok(None)),
        "nothing after the end"
    );
    sig((1u8, frames.min(16), kinds, end))
}

/// An error message without its numbers (so "packet 3" and "packet 4" are one kind).
fn error_shape(msg: &str) -> u64 {
    sig(msg
        .bytes()
        .filter(|b| !b.is_ascii_digit())
        .collect::<Vec<u8>>())
}

/// Length fields of a pcap or pcapng file, found by walking it leniently.
fn capture_length_fields(input: &[u8]) -> Vec<LengthField> {
    let mut out = Vec::new();
    let Some(magic) = input.get(..4) else {
        return out;
    };
    let u32_at = |at: usize, be: bool| -> Option<u32> {
        let b: [u8; 4] = input.get(at..at + 4)?.try_into().ok()?;
        Some(if be {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    };
    if magic == [0x0a, 0x0d, 0x0d, 0x0a] {
        let mut be = input.get(8..12) == Some(&[0x1a, 0x2b, 0x3c, 0x4d]);
        let mut at = 0;
        for _ in 0..64 {
            let (Some(kind), Some(len)) = (u32_at(at, be), u32_at(at + 4, be)) else {
                break;
            };
            if kind == 0x0a0d_0d0a {
                be = input.get(at + 8..at + 12) == Some(&[0x1a, 0x2b, 0x3c, 0x4d]);
            }
            out.push((at + 4, 4, be));
            match kind {
                1 => out.push((at + 12, 4, be)),                       // snaplen
                3 => out.push((at + 8, 4, be)),                        // original length
                6 => out.extend([(at + 20, 4, be), (at + 24, 4, be)]), // captured, original
                2 => out.extend([(at + 20, 4, be), (at + 24, 4, be)]),
                _ => {}
            }
            let len = len as usize;
            if len < 12 || at + len > input.len() {
                break;
            }
            out.push((at + len - 4, 4, be));
            at += len;
        }
    } else if input.len() >= 24 {
        let be = magic == [0xa1, 0xb2, 0xc3, 0xd4] || magic == [0xa1, 0xb2, 0x3c, 0x4d];
        out.push((16, 4, be)); // snaplen
        let mut at = 24;
        for _ in 0..64 {
            let Some(caplen) = u32_at(at + 8, be) else {
                break;
            };
            out.extend([(at + 8, 4, be), (at + 12, 4, be)]);
            at += 16 + caplen as usize;
        }
    }
    out
}

fn pcap_file(be: bool, nanos: bool, linktype: u32, frames: &[&[u8]]) -> Vec<u8> {
    let w32 = |v: u32| if be { v.to_be_bytes() } else { v.to_le_bytes() };
    let w16 = |v: u16| if be { v.to_be_bytes() } else { v.to_le_bytes() };
    let mut f = Vec::new();
    f.extend_from_slice(&w32(if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 }));
    f.extend_from_slice(&w16(2));
    f.extend_from_slice(&w16(4));
    f.extend_from_slice(&[0; 8]);
    f.extend_from_slice(&w32(256));
    f.extend_from_slice(&w32(linktype));
    for (i, frame) in frames.iter().enumerate() {
        let keep = frame.len().min(256);
        f.extend_from_slice(&w32(1_700_000_000 + i as u32));
        f.extend_from_slice(&w32(999 * i as u32));
        f.extend_from_slice(&w32(keep as u32));
        f.extend_from_slice(&w32(frame.len() as u32 + 2 * i as u32));
        f.extend_from_slice(&frame[..keep]);
    }
    f
}

fn ng_block(be: bool, kind: u32, body: &[u8]) -> Vec<u8> {
    let w32 = |v: u32| if be { v.to_be_bytes() } else { v.to_le_bytes() };
    let len = (12 + body.len().div_ceil(4) * 4) as u32;
    let mut b = Vec::new();
    b.extend_from_slice(&w32(kind));
    b.extend_from_slice(&w32(len));
    b.extend_from_slice(body);
    b.resize(len as usize - 4, 0);
    b.extend_from_slice(&w32(len));
    b
}

/// A pcapng section: one interface per (link type, if_tsresol), then the frames
/// as Enhanced, Simple and obsolete Packet Blocks, an Interface Statistics and
/// a Name Resolution block.
fn pcapng_section(be: bool, ifaces: &[(u16, Option<u8>)], frames: &[&[u8]]) -> Vec<u8> {
    let w32 = |v: u32| if be { v.to_be_bytes() } else { v.to_le_bytes() };
    let w16 = |v: u16| if be { v.to_be_bytes() } else { v.to_le_bytes() };
    let mut shb = Vec::new();
    shb.extend_from_slice(&w32(0x1a2b_3c4d));
    shb.extend_from_slice(&w16(1));
    shb.extend_from_slice(&w16(0));
    shb.extend_from_slice(&[0xff; 8]);
    shb.extend_from_slice(&w16(4)); // shb_userappl
    shb.extend_from_slice(&w16(5));
    shb.extend_from_slice(b"fuzz\0\0\0\0");
    shb.extend_from_slice(&[0; 4]);
    let mut f = ng_block(be, 0x0a0d_0d0a, &shb);
    for &(linktype, tsresol) in ifaces {
        let mut idb = Vec::new();
        idb.extend_from_slice(&w16(linktype));
        idb.extend_from_slice(&w16(0));
        idb.extend_from_slice(&w32(256));
        if let Some(r) = tsresol {
            idb.extend_from_slice(&w16(9));
            idb.extend_from_slice(&w16(1));
            idb.extend_from_slice(&[r, 0, 0, 0]);
            idb.extend_from_slice(&w16(14)); // if_tsoffset
            idb.extend_from_slice(&w16(8));
            idb.extend_from_slice(&w32(0));
            idb.extend_from_slice(&w32(0));
            idb.extend_from_slice(&[0; 4]);
        }
        f.extend(ng_block(be, 1, &idb));
    }
    for (i, frame) in frames.iter().enumerate() {
        let iface = (i % ifaces.len().max(1)) as u32;
        let units = 1_700_000_000_000_000u64 + i as u64;
        let mut body = Vec::new();
        match i % 4 {
            3 if iface == 0 => {
                body.extend_from_slice(&w32(frame.len() as u32));
                body.extend_from_slice(frame);
                f.extend(ng_block(be, 3, &body));
                continue;
            }
            2 => {
                body.extend_from_slice(&w16(iface as u16));
                body.extend_from_slice(&w16(0));
            }
            _ => body.extend_from_slice(&w32(iface)),
        }
        body.extend_from_slice(&w32((units >> 32) as u32));
        body.extend_from_slice(&w32(units as u32));
        body.extend_from_slice(&w32(frame.len() as u32));
        body.extend_from_slice(&w32(frame.len() as u32 + 4));
        body.extend_from_slice(frame);
        // An option: opt_comment.
        body.resize(body.len().div_ceil(4) * 4, 0);
        body.extend_from_slice(&w16(1));
        body.extend_from_slice(&w16(3));
        body.extend_from_slice(b"hi\0\0");
        body.extend_from_slice(&[0; 4]);
        f.extend(ng_block(be, if i % 4 == 2 { 2 } else { 6 }, &body));
    }
    let mut isb = w32(0).to_vec();
    isb.extend_from_slice(&[0; 8]);
    f.extend(ng_block(be, 5, &isb));
    let mut nrb = Vec::new();
    nrb.extend_from_slice(&w16(1));
    nrb.extend_from_slice(&w16(10));
    nrb.extend_from_slice(&[127, 0, 0, 1]);
    nrb.extend_from_slice(b"lo\0\0\0\0");
    nrb.extend_from_slice(&[0; 4]);
    f.extend(ng_block(be, 4, &nrb));
    f.extend(ng_block(be, 0x0bad, b"custom"));
    f
}

fn seed_pcaps() -> Vec<Vec<u8>> {
    let eth: Vec<Vec<u8>> = fixture_frames()
        .into_iter()
        .take(6)
        .chain(built_frames())
        .collect();
    let refs: Vec<&[u8]> = eth.iter().map(Vec::as_slice).collect();
    let raw: Vec<Vec<u8>> = eth
        .iter()
        .filter_map(|f| relink(f, LinkType::RawIp))
        .collect();
    let raw_refs: Vec<&[u8]> = raw.iter().map(Vec::as_slice).collect();
    let sll2: Vec<Vec<u8>> = eth
        .iter()
        .filter_map(|f| relink(f, LinkType::LinuxSll2))
        .collect();
    let sll2_refs: Vec<&[u8]> = sll2.iter().map(Vec::as_slice).collect();
    let mut out = vec![
        pcap_file(false, false, 1, &refs[..3]),
        pcap_file(true, true, 1, &refs[3..]),
        pcap_file(false, true, 101, &raw_refs[..3]),
        pcap_file(false, false, 276, &sll2_refs[..2]),
        pcap_file(false, false, 1, &[]),
        pcapng_section(false, &[(1, None), (1, Some(9))], &refs[..5]),
        pcapng_section(true, &[(101, Some(0x80 | 10))], &raw_refs[..3]),
    ];
    // Two sections in one file, the second in the other byte order.
    let mut two = pcapng_section(false, &[(1, Some(6))], &refs[..2]);
    two.extend(pcapng_section(true, &[(276, None)], &sll2_refs[..2]));
    out.push(two);
    out
}

// ---- script ----

/// Byte counts a parsed script may ask a peer to allocate.
const SCRIPT_BYTES_LIMIT: usize = script::MAX_BYTES;

fn run_script(input: &[u8]) -> u64 {
    let text = String::from_utf8_lossy(input);
    let lines = text.lines().count();
    match script::parse("fuzz.txt", &text) {
        Ok(s) => {
            let mut kinds = 0u64;
            for step in &s.steps {
                assert!(step.line >= 1 && step.line <= lines);
                let (k, bytes) = match &step.action {
                    Action::Call { call, .. } => match call {
                        Call::Read(n) | Call::RecvFrom(n) => (1, *n),
                        Call::Write(Payload::Bytes(n))
                        | Call::Send {
                            payload: Payload::Bytes(n),
                            ..
                        }
                        | Call::SendTo {
                            payload: Payload::Bytes(n),
                            ..
                        } => (2, *n),
                        Call::Write(_) | Call::Send { .. } | Call::SendTo { .. } => (3, 0),
                        _ => (4, 0),
                    },
                    Action::Sleep(d) | Action::Wait { timeout: d, .. } => {
                        assert!(d.as_secs() <= 3600, "a {d:?} pause");
                        (5, 0)
                    }
                    Action::Kill(_) => (6, 0),
                    Action::Sysctl { name, .. } => {
                        assert!(name.starts_with("net.") && !name.contains(".."));
                        (7, 0)
                    }
                    Action::Link { .. } => (8, 0),
                };
                assert!(
                    bytes <= SCRIPT_BYTES_LIMIT,
                    "line {} asks a peer for {bytes} bytes",
                    step.line
                );
                kinds |= 1 << k;
            }
            let endpoints = s.endpoints();
            assert!(endpoints.iter().all(|e| !e.child));
            for e in &endpoints {
                let shown = e.to_string();
                assert_eq!(
                    script::Endpoint::from_name(&shown).map(|x| x.process()),
                    Some(*e),
                    "{shown} reads back"
                );
            }
            sig((0u8, s.steps.len().min(32), kinds, endpoints.len()))
        }
        Err(e) => {
            assert!(e.line >= 1 && e.line <= lines.max(1), "{e}");
            assert!(e.to_string().starts_with("fuzz.txt:"));
            sig((1u8, error_shape(e.message.get(..24).unwrap_or(&e.message))))
        }
    }
}

fn seed_scripts() -> Vec<Vec<u8>> {
    let Ok(dir) = std::fs::read_dir(repo().join("assets/scenarios")) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = dir.flatten().map(|e| e.path()).collect();
    files.sort();
    files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "txt"))
        .filter_map(|f| std::fs::read(f).ok())
        .collect()
}

// ---- sock_diag ----

fn run_diag(input: &[u8]) -> u64 {
    // The dump's sequence number is the first message's, so mutations of
    // the payload are not all lost on a sequence mismatch.
    let seq = input
        .get(8..12)
        .map_or(0, |b| u32::from_ne_bytes(b.try_into().unwrap_or_default()));
    let mut out = Vec::new();
    let parsed = diag::parse_datagram(input, seq, &mut out);
    assert!(
        out.len() <= input.len() / (16 + 72),
        "{} sockets from {} bytes",
        out.len(),
        input.len()
    );
    let kind = match parsed {
        diag::Parsed::More => 0,
        diag::Parsed::Done => 1,
        diag::Parsed::Error(_) => 2,
    };
    let infos = out.iter().filter(|s| s.info.is_some()).count();
    let timers = out.iter().filter(|s| s.timer.is_some()).count();
    sig((kind, out.len().min(8), infos.min(8), timers.min(8)))
}

fn diag_length_fields(input: &[u8]) -> Vec<LengthField> {
    let be = cfg!(target_endian = "big");
    let mut out = Vec::new();
    let mut at = 0;
    while at + 16 <= input.len() && out.len() < 64 {
        out.push((at, 4, be));
        // The attribute after the 72-byte inet_diag_msg.
        if at + 16 + 72 + 4 <= input.len() {
            out.push((at + 16 + 72, 2, be));
        }
        let len = u32::from_ne_bytes(input[at..at + 4].try_into().unwrap_or_default()) as usize;
        if len < 16 {
            break;
        }
        at += len.div_ceil(4) * 4;
    }
    out
}

fn seed_diag() -> Vec<Vec<u8>> {
    let v6 = Ipv6Addr::LOCALHOST.octets();
    let mapped = Ipv4Addr::new(10, 0, 0, 1).to_ipv6_mapped().octets();
    let mut v4 = [0u8; 16];
    v4[..4].copy_from_slice(&[127, 0, 0, 1]);
    let mut dump = nlmsg(20, 7, &diag_msg(10, 6, 3, v6, mapped, false));
    dump.extend(nlmsg(20, 7, &diag_msg(2, 1, 1, v4, v4, true)));
    dump.extend(nlmsg(20, 8, &diag_msg(2, 10, 0, v4, v4, true)));
    dump.extend(nlmsg(20, 7, &diag_msg(10, 10, 0, v6, v6, false)));
    let mut done = nlmsg(20, 3, &diag_msg(2, 8, 2, v4, v4, true));
    done.extend(nlmsg(3, 3, &0i32.to_ne_bytes()));
    vec![
        dump,
        done,
        nlmsg(2, 9, &(-22i32).to_ne_bytes()),
        nlmsg(2, 9, &0i32.to_ne_bytes()),
    ]
}

// ---- tracepoint ----

fn layout() -> &'static trace::Layout {
    static LAYOUT: std::sync::OnceLock<trace::Layout> = std::sync::OnceLock::new();
    LAYOUT.get_or_init(|| trace::Layout::parse(TRACE_FORMAT).expect("the 6.18 format parses"))
}

fn reset_layout() -> &'static trace::ResetLayout {
    static LAYOUT: std::sync::OnceLock<trace::ResetLayout> = std::sync::OnceLock::new();
    LAYOUT.get_or_init(|| {
        trace::ResetLayout::parse(RESET_FORMAT).expect("the 6.18 reset format parses")
    })
}

fn cong_layout() -> &'static trace::CongLayout {
    static LAYOUT: std::sync::OnceLock<trace::CongLayout> = std::sync::OnceLock::new();
    LAYOUT.get_or_init(|| {
        trace::CongLayout::parse(CONG_FORMAT).expect("the 6.18 congestion format parses")
    })
}

fn decode_page(layout: &trace::Layout, resets: Option<&trace::ResetLayout>, page: &[u8]) -> u64 {
    let mut out = trace::Traced::default();
    trace::parse_records(page, layout, resets, 1_000, &mut out);
    let records = out.transitions.len() + out.resets.len();
    assert!(
        records <= page.len() / 8,
        "{records} records from a {}-byte page",
        page.len()
    );
    sig((
        out.transitions.len().min(8),
        out.transitions
            .iter()
            .map(|t| (t.from as u8, t.to as u8))
            .take(4)
            .collect::<Vec<_>>(),
        out.transitions.iter().any(|t| t.local.is_ipv6()),
        out.resets.len().min(8),
        out.resets
            .iter()
            .map(|r| r.reason.len())
            .take(4)
            .collect::<Vec<_>>(),
        out.resets.iter().any(|r| r.src.is_ipv6()),
    ))
}

fn run_trace(input: &[u8]) -> u64 {
    let a = decode_page(layout(), Some(reset_layout()), input);
    // The whole reader: drops named by the transitions' sockets, every
    // list in time order.
    let mut d = trace::BatchDecoder::new(
        layout().clone(),
        Some(reset_layout().clone()),
        vec![5999],
        trace::DropLayout::parse(DROP_FORMAT),
        trace::RetransmitLayout::parse(RETRANSMIT_FORMAT)
            .zip(trace::RetransmitLayout::parse(SYNACK_FORMAT)),
        Some(cong_layout().clone()),
    );
    d.page(input, 1_000);
    let out = d.finish();
    let records = out.transitions.len()
        + out.resets.len()
        + out.drops.len()
        + out.retransmits.len()
        + out.cong.len();
    assert!(
        records <= input.len() / 8,
        "{records} records from a {}-byte page",
        input.len()
    );
    assert!(out.drops.windows(2).all(|w| w[0].ts <= w[1].ts));
    assert!(out.retransmits.windows(2).all(|w| w[0].ts <= w[1].ts));
    // Only changes go on, each from the state the socket left.
    assert!(out.cong.iter().all(|c| c.is_change()));
    sig((
        a,
        out.drops.len().min(8),
        out.drops
            .iter()
            .map(|d| d.reason.len())
            .take(4)
            .collect::<Vec<_>>(),
        out.retransmits.len().min(8),
        out.retransmits.iter().any(|r| r.synack),
        out.cong
            .iter()
            .map(|c| c.state.name().len())
            .take(4)
            .collect::<Vec<_>>(),
    ))
}

fn trace_length_fields(input: &[u8]) -> Vec<LengthField> {
    let be = cfg!(target_endian = "big");
    // The commit word and each record's header and array[0].
    let mut out = vec![(8, 4, be)];
    let mut at = 16;
    while at + 8 <= input.len() && out.len() < 64 {
        out.extend([(at, 4, be), (at + 4, 4, be)]);
        let head = u32::from_ne_bytes(input[at..at + 4].try_into().unwrap_or_default());
        let arr = u32::from_ne_bytes(input[at + 4..at + 8].try_into().unwrap_or_default());
        at += match head & 0x1f {
            0 => 8 + (arr as usize).saturating_sub(4).div_ceil(4) * 4,
            29 => 4 + arr as usize,
            30 | 31 => 8,
            n => 4 + n as usize * 4,
        };
    }
    out
}

/// A ring-buffer page: each record in the short form (type_len = words), the
/// long form (type_len 0), after a time extend, an absolute stamp or padding.
fn trace_page(records: &[Vec<u8>]) -> Vec<u8> {
    let mut p = vec![0u8; 16];
    p[0..8].copy_from_slice(&1_000_000u64.to_ne_bytes());
    for (i, rec) in records.iter().enumerate() {
        let words = (rec.len() / 4) as u32;
        match i % 5 {
            0 if words < 29 => p.extend_from_slice(&(words | (10 << 5)).to_ne_bytes()),
            1 => {
                p.extend_from_slice(&(30u32 | (5 << 5)).to_ne_bytes());
                p.extend_from_slice(&3u32.to_ne_bytes());
                p.extend_from_slice(&0u32.to_ne_bytes());
                p.extend_from_slice(&(rec.len() as u32 + 4).to_ne_bytes());
            }
            2 => {
                p.extend_from_slice(&(31u32 | (7 << 5)).to_ne_bytes());
                p.extend_from_slice(&1u32.to_ne_bytes());
                p.extend_from_slice(&0u32.to_ne_bytes());
                p.extend_from_slice(&(rec.len() as u32 + 4).to_ne_bytes());
            }
            3 => {
                p.extend_from_slice(&(29u32 | (2 << 5)).to_ne_bytes());
                p.extend_from_slice(&4u32.to_ne_bytes());
                p.extend_from_slice(&(1u32 << 5).to_ne_bytes());
                p.extend_from_slice(&(rec.len() as u32 + 4).to_ne_bytes());
            }
            _ => {
                p.extend_from_slice(&(4u32 << 5).to_ne_bytes());
                p.extend_from_slice(&(rec.len() as u32 + 4).to_ne_bytes());
            }
        }
        p.extend_from_slice(rec);
    }
    let commit = (p.len() - 16) as u64;
    p[8..16].copy_from_slice(&commit.to_ne_bytes());
    p
}

fn seed_trace() -> Vec<Vec<u8>> {
    let (lo4, lo6) = (Ipv4Addr::LOCALHOST.into(), Ipv6Addr::LOCALHOST.into());
    let v4 = |old, new, port| trace_record(2, old, new, port, 5999, lo4, lo4);
    let v6 = |old, new, port| trace_record(10, old, new, port, 5999, lo6, lo6);
    let mut padded = trace_page(&[v4(7, 2, 0), v4(2, 1, 40000)]);
    padded.resize(4096, 0xaa);
    let reset4 = |reason, sk| reset_record(reason, sk, 1, (lo4, 5999), (lo4, 40000));
    vec![
        trace_page(&[
            v4(7, 2, 0),
            v4(2, 1, 40000),
            v6(10, 3, 5999),
            v6(3, 1, 5999),
            v4(1, 4, 1),
        ]),
        trace_page(&[v6(1, 8, 5999), v4(4, 5, 1), v4(5, 7, 1)]),
        padded,
        trace_page(&[
            reset4(1, 0),
            v4(1, 7, 40000),
            reset4(14, 0xffff_8881_0000_1000),
            reset_record(11, 7, 8, (lo6, 5999), (lo6, 40000)),
            reset4(99, 0),
        ]),
        // A listener, a drop at it, another socket's drop, a retransmission
        // of each kind.
        trace_page(&[
            v4(7, 10, 5999),
            drop_record(40, 0xffff_8881_00da_ca00, 0x0800),
            drop_record(5, 0xffff_8881_0000_0001, 0x86dd),
            retransmit_record((Ipv4Addr::LOCALHOST, 40000), (Ipv4Addr::LOCALHOST, 5999), 0),
            synack_record((Ipv6Addr::LOCALHOST, 5999), (Ipv6Addr::LOCALHOST, 40000)),
        ]),
        // A sender's congestion states: a change, a repeat, an unknown value.
        trace_page(&[
            cong_record(1, (Ipv4Addr::LOCALHOST, 40000), (Ipv4Addr::LOCALHOST, 5999)),
            v4(1, 4, 40000),
            cong_record(3, (Ipv4Addr::LOCALHOST, 40000), (Ipv4Addr::LOCALHOST, 5999)),
            cong_record(3, (Ipv4Addr::LOCALHOST, 40000), (Ipv4Addr::LOCALHOST, 5999)),
            cong_record(
                200,
                (Ipv4Addr::LOCALHOST, 40000),
                (Ipv4Addr::LOCALHOST, 5999),
            ),
        ]),
    ]
}

fn run_trace_format(input: &[u8]) -> u64 {
    let text = String::from_utf8_lossy(input);
    let resets = trace::ResetLayout::parse(&text);
    if let Some(r) = &resets {
        // Names are identifiers, each number named once.
        for (i, (n, name)) in r.names().iter().enumerate() {
            assert!(
                !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'),
                "{name:?}"
            );
            assert!(!r.names()[..i].iter().any(|(m, _)| m == n), "{n} twice");
        }
    }
    let drops = trace::DropLayout::parse(&text);
    if let Some(d) = &drops {
        let names = d.names().all();
        for (i, (n, name)) in names.iter().enumerate() {
            assert!(
                !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'),
                "{name:?}"
            );
            assert!(!names[..i].iter().any(|(m, _)| m == n), "{n} twice");
        }
        // The kernel filter is numbers and the format's names' values only.
        if let Some(f) = d.kernel_filter() {
            assert!(
                f.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b" _=<>!&|()".contains(&b)),
                "{f:?}"
            );
        }
    }
    let retransmits = trace::RetransmitLayout::parse(&text);
    let cong = trace::CongLayout::parse(&text);
    let parsed = trace::Layout::parse(&text);
    let pages = trace_pages();
    let states = match &parsed {
        Some(l) => l,
        None if resets.is_some() => layout(),
        None => return 0,
    };
    sig((
        drops.as_ref().map(|d| d.names().all().len()),
        retransmits.is_some(),
        cong.as_ref()
            .map(|c| (0..=5u8).map(|n| c.state(n).name().len()).sum::<usize>()),
        resets.as_ref().map(|r| r.names().len()),
        pages
            .iter()
            .map(|p| decode_page(states, resets.as_ref(), p))
            .collect::<Vec<_>>(),
    ))
}

fn trace_pages() -> &'static [Vec<u8>] {
    static PAGES: std::sync::OnceLock<Vec<Vec<u8>>> = std::sync::OnceLock::new();
    PAGES.get_or_init(seed_trace)
}

fn seed_trace_format() -> Vec<Vec<u8>> {
    vec![
        TRACE_FORMAT.as_bytes().to_vec(),
        RESET_FORMAT.as_bytes().to_vec(),
        DROP_FORMAT.as_bytes().to_vec(),
        RETRANSMIT_FORMAT.as_bytes().to_vec(),
        SYNACK_FORMAT.as_bytes().to_vec(),
        CONG_FORMAT.as_bytes().to_vec(),
        // Fields in another order and at other offsets, as another kernel may lay them out.
        TRACE_FORMAT
            .replace("offset:8;\tsize:8", "offset:64;\tsize:8")
            .replace("offset:56;\tsize:16", "offset:8;\tsize:16")
            .into_bytes(),
    ]
}
