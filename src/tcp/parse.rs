//! Bytes → [`Segment`], once, at the edge.
//!
//! Every length is checked before a pnet view is made or a byte is read, so
//! no input can panic. The payload length comes from the IP header's length
//! field, never from the captured bytes: live captures are trimmed to a snap
//! length and usually hold only the headers.

use std::net::{IpAddr, SocketAddr};

use pnet_packet::ethernet::EthernetPacket;
use pnet_packet::ipv4::Ipv4Packet;
use pnet_packet::ipv6::Ipv6Packet;
use pnet_packet::tcp::TcpPacket;
use pnet_packet::udp::UdpPacket;

use super::{
    Flags, LinkType, MAX_SACK, MAX_UNKNOWN, Malformed, Proto, Segment, TcpHeader, TcpOptions,
};
use crate::time::Timestamp;

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
const ETHERTYPE_VLAN: u16 = 0x8100;
const ETHERNET_LEN: usize = 14;
const VLAN_TAG_LEN: usize = 4;
const SLL_LEN: usize = 16;
const SLL2_LEN: usize = 20;
const NULL_LEN: usize = 4;
const IPV4_MIN_LEN: usize = 20;
const IPV6_LEN: usize = 40;
const TCP_MIN_LEN: usize = 20;
const UDP_LEN: usize = 8;
const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;
/// IPv6 extension headers walked before giving up (real packets carry 0–2).
const MAX_IPV6_EXTENSIONS: usize = 8;

/// The network layer a link header announced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Net {
    V4,
    V6,
}

/// Parses one captured frame.
///
/// `frame` holds the captured bytes (maybe trimmed to a snap length);
/// `orig_len` is the frame's length on the wire.
///
/// Returns `Ok(None)` for frames synack does not show (ARP, ICMP, other
/// protocols, non-first fragments, ESP), `Err` when a header cannot be read,
/// and a segment with `malformed` set when only a part of it was rejected.
///
/// # Errors
/// The [`Malformed`] reason when the link, IP, TCP or UDP header is truncated
/// or its lengths contradict each other.
pub fn parse_frame(
    link: LinkType,
    ts: Timestamp,
    frame: &[u8],
    orig_len: u32,
) -> Result<Option<Segment>, Malformed> {
    let Some((net, link_len)) = link_header(link, frame)? else {
        return Ok(None);
    };
    let ip = frame.get(link_len..).unwrap_or_default();
    // Bytes of the IP packet on the wire. A capture that claims a shorter
    // wire length than it captured is believed for what it captured.
    let wire = (orig_len as usize)
        .max(frame.len())
        .saturating_sub(link_len);
    match net {
        Net::V4 => parse_ipv4(ts, ip, wire),
        Net::V6 => parse_ipv6(ts, ip, wire),
    }
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes([
        *b.get(at)?,
        *b.get(at + 1)?,
        *b.get(at + 2)?,
        *b.get(at + 3)?,
    ]))
}

fn net_of_ethertype(ethertype: u16) -> Option<Net> {
    match ethertype {
        ETHERTYPE_IPV4 => Some(Net::V4),
        ETHERTYPE_IPV6 => Some(Net::V6),
        _ => None,
    }
}

/// The network layer and the link header's length, `None` for non-IP frames.
/// A truncated link header of any kind is reported as `TruncatedEthernet`.
fn link_header(link: LinkType, frame: &[u8]) -> Result<Option<(Net, usize)>, Malformed> {
    match link {
        LinkType::Ethernet => {
            let eth = EthernetPacket::new(frame).ok_or(Malformed::TruncatedEthernet)?;
            let ethertype = eth.get_ethertype().0;
            if ethertype == ETHERTYPE_VLAN {
                // One 802.1Q tag: TCI (2 bytes), then the inner ethertype.
                let inner = be16(frame, ETHERNET_LEN + 2).ok_or(Malformed::TruncatedEthernet)?;
                Ok(net_of_ethertype(inner).map(|n| (n, ETHERNET_LEN + VLAN_TAG_LEN)))
            } else {
                Ok(net_of_ethertype(ethertype).map(|n| (n, ETHERNET_LEN)))
            }
        }
        LinkType::RawIp => {
            let first = frame.first().ok_or(Malformed::TruncatedIpv4)?;
            Ok(match first >> 4 {
                4 => Some((Net::V4, 0)),
                6 => Some((Net::V6, 0)),
                _ => None,
            })
        }
        LinkType::LinuxSll => {
            if frame.len() < SLL_LEN {
                return Err(Malformed::TruncatedEthernet);
            }
            let proto = be16(frame, 14).ok_or(Malformed::TruncatedEthernet)?;
            Ok(net_of_ethertype(proto).map(|n| (n, SLL_LEN)))
        }
        LinkType::LinuxSll2 => {
            if frame.len() < SLL2_LEN {
                return Err(Malformed::TruncatedEthernet);
            }
            let proto = be16(frame, 0).ok_or(Malformed::TruncatedEthernet)?;
            Ok(net_of_ethertype(proto).map(|n| (n, SLL2_LEN)))
        }
        LinkType::Null => {
            let bytes: [u8; NULL_LEN] = frame
                .get(..NULL_LEN)
                .and_then(|b| b.try_into().ok())
                .ok_or(Malformed::TruncatedEthernet)?;
            // Host byte order of the machine that wrote the capture: try both.
            let family = |v: u32| match v {
                2 => Some(Net::V4),
                24 | 28 | 30 => Some(Net::V6),
                _ => None,
            };
            let net =
                family(u32::from_le_bytes(bytes)).or_else(|| family(u32::from_be_bytes(bytes)));
            Ok(net.map(|n| (n, NULL_LEN)))
        }
    }
}

/// Transport bytes as captured, plus how long the transport part is on the
/// wire according to the IP header.
struct Transport<'a> {
    ts: Timestamp,
    src: IpAddr,
    dst: IpAddr,
    protocol: u8,
    captured: &'a [u8],
    len: usize,
    /// IPv4's identification; 0 for IPv6.
    ip_id: u16,
    malformed: Option<Malformed>,
}

fn parse_ipv4(ts: Timestamp, ip: &[u8], wire: usize) -> Result<Option<Segment>, Malformed> {
    let pkt = Ipv4Packet::new(ip).ok_or(Malformed::TruncatedIpv4)?;
    if pkt.get_version() != 4 {
        return Ok(None);
    }
    let ihl = usize::from(pkt.get_header_length()) * 4;
    if ihl < IPV4_MIN_LEN || ihl > ip.len() {
        return Err(Malformed::TruncatedIpv4);
    }
    let total = usize::from(pkt.get_total_length());
    let mut malformed = None;
    let ip_len = if total == 0 {
        // TSO: the NIC fills the length in later; the wire length is the truth.
        wire
    } else if total > wire {
        malformed = Some(Malformed::IpLengthPastFrame);
        wire
    } else {
        total
    };
    if ip_len < ihl {
        return Err(Malformed::IpLengthTooShort);
    }
    if pkt.get_fragment_offset() != 0 {
        // Only the first fragment carries the transport header.
        return Ok(None);
    }
    let t = Transport {
        ts,
        src: IpAddr::V4(pkt.get_source()),
        dst: IpAddr::V4(pkt.get_destination()),
        protocol: pkt.get_next_level_protocol().0,
        captured: ip.get(ihl..).unwrap_or_default(),
        len: ip_len - ihl,
        ip_id: pkt.get_identification(),
        malformed,
    };
    parse_transport(t)
}

fn parse_ipv6(ts: Timestamp, ip: &[u8], wire: usize) -> Result<Option<Segment>, Malformed> {
    let pkt = Ipv6Packet::new(ip).ok_or(Malformed::TruncatedIpv6)?;
    if pkt.get_version() != 6 {
        return Ok(None);
    }
    let wire_payload = wire.saturating_sub(IPV6_LEN);
    let declared = usize::from(pkt.get_payload_length());
    let mut malformed = None;
    let payload_len = if declared == 0 {
        // A jumbogram or TSO: take the wire length.
        wire_payload
    } else if declared > wire_payload {
        malformed = Some(Malformed::IpLengthPastFrame);
        wire_payload
    } else {
        declared
    };

    let mut next = pkt.get_next_header().0;
    let mut off = IPV6_LEN;
    let mut walked = 0;
    loop {
        let ext_len = match next {
            // Hop-by-hop, routing, destination options: (len + 1) × 8 bytes.
            0 | 43 | 60 => {
                let len = *ip.get(off + 1).ok_or(Malformed::TruncatedIpv6Extension)?;
                (usize::from(len) + 1) * 8
            }
            // Fragment: 8 bytes; only the first fragment has the transport header.
            44 => {
                let frag = be16(ip, off + 2).ok_or(Malformed::TruncatedIpv6Extension)?;
                if frag >> 3 != 0 {
                    return Ok(None);
                }
                8
            }
            // Authentication header: (len + 2) × 4 bytes (RFC 4302).
            51 => {
                let len = *ip.get(off + 1).ok_or(Malformed::TruncatedIpv6Extension)?;
                (usize::from(len) + 2) * 4
            }
            _ => break,
        };
        if ip.len() < off + ext_len {
            return Err(Malformed::TruncatedIpv6Extension);
        }
        next = ip[off];
        off += ext_len;
        walked += 1;
        if walked > MAX_IPV6_EXTENSIONS {
            return Ok(None);
        }
    }
    // Extension headers count in the payload length.
    let Some(len) = (payload_len + IPV6_LEN).checked_sub(off) else {
        return Err(Malformed::IpLengthTooShort);
    };
    let t = Transport {
        ts,
        src: IpAddr::V6(pkt.get_source()),
        dst: IpAddr::V6(pkt.get_destination()),
        protocol: next,
        captured: ip.get(off..).unwrap_or_default(),
        len,
        ip_id: 0,
        malformed,
    };
    parse_transport(t)
}

fn parse_transport(t: Transport<'_>) -> Result<Option<Segment>, Malformed> {
    match t.protocol {
        IPPROTO_TCP => parse_tcp(t).map(Some),
        IPPROTO_UDP => parse_udp(t).map(Some),
        // ICMP, ESP (50), no next header (59) and the rest: not shown.
        _ => Ok(None),
    }
}

fn parse_tcp(t: Transport<'_>) -> Result<Segment, Malformed> {
    let b = t.captured;
    if b.len() < TCP_MIN_LEN {
        return Err(Malformed::TruncatedTcp);
    }
    let pkt = TcpPacket::new(b).ok_or(Malformed::TruncatedTcp)?;
    let header_len = usize::from(pkt.get_data_offset()) * 4;
    if header_len < TCP_MIN_LEN {
        return Err(Malformed::DataOffsetTooSmall);
    }
    if header_len > b.len() {
        return Err(Malformed::DataOffsetPastEnd);
    }
    let Some(payload_len) = t.len.checked_sub(header_len) else {
        return Err(Malformed::IpLengthTooShort);
    };
    let (options, option_problem) =
        parse_options(b.get(TCP_MIN_LEN..header_len).unwrap_or_default());
    let tcp = TcpHeader {
        seq: pkt.get_sequence(),
        ack: pkt.get_acknowledgement(),
        flags: Flags(pkt.get_flags()),
        window: pkt.get_window(),
        urgent: pkt.get_urgent_ptr(),
        header_len: header_len as u8,
        options,
    };
    Ok(Segment {
        ts: t.ts,
        proto: Proto::Tcp,
        src: SocketAddr::new(t.src, pkt.get_source()),
        dst: SocketAddr::new(t.dst, pkt.get_destination()),
        payload_len: u32::try_from(payload_len).unwrap_or(u32::MAX),
        ip_id: t.ip_id,
        tcp: Some(tcp),
        malformed: t.malformed.or(option_problem),
    })
}

fn parse_udp(t: Transport<'_>) -> Result<Segment, Malformed> {
    let pkt = UdpPacket::new(t.captured).ok_or(Malformed::TruncatedUdp)?;
    let Some(payload_len) = t.len.checked_sub(UDP_LEN) else {
        return Err(Malformed::IpLengthTooShort);
    };
    Ok(Segment {
        ts: t.ts,
        proto: Proto::Udp,
        src: SocketAddr::new(t.src, pkt.get_source()),
        dst: SocketAddr::new(t.dst, pkt.get_destination()),
        payload_len: u32::try_from(payload_len).unwrap_or(u32::MAX),
        ip_id: t.ip_id,
        tcp: None,
        malformed: t.malformed,
    })
}

/// Reads the option bytes (after the fixed 20-byte header). Stops at the
/// first option whose length cannot be trusted; an option of a known kind
/// with the wrong length is skipped and reported.
fn parse_options(b: &[u8]) -> (TcpOptions, Option<Malformed>) {
    let mut o = TcpOptions::default();
    let mut problem = None;
    let mut i = 0;
    while let Some(&kind) = b.get(i) {
        match kind {
            0 => break,
            1 => {
                i += 1;
                continue;
            }
            _ => {}
        }
        let Some(&len) = b.get(i + 1) else {
            problem = Some(Malformed::OptionPastHeader);
            break;
        };
        let len = usize::from(len);
        if len < 2 {
            problem = Some(Malformed::OptionLengthTooSmall);
            break;
        }
        let Some(body) = b.get(i + 2..i + len) else {
            problem = Some(Malformed::OptionPastHeader);
            break;
        };
        let ok = match (kind, len) {
            (2, 4) => {
                o.mss = be16(body, 0);
                true
            }
            (3, 3) => {
                o.wscale = body.first().copied();
                true
            }
            (4, 2) => {
                o.sack_perm = true;
                true
            }
            (5, _) if len >= 10 && (len - 2) % 8 == 0 && (len - 2) / 8 <= MAX_SACK => {
                let mut n = 0;
                for block in body.chunks_exact(8) {
                    if let (Some(l), Some(r)) = (be32(block, 0), be32(block, 4)) {
                        o.sack[n] = (l, r);
                        n += 1;
                    }
                }
                o.sack_len = n as u8;
                true
            }
            (8, 10) => {
                o.timestamps = be32(body, 0).zip(be32(body, 4));
                true
            }
            (2..=5 | 8, _) => false,
            _ => {
                let n = usize::from(o.unknown_len);
                if n < MAX_UNKNOWN {
                    o.unknown[n] = (kind, len as u8);
                    o.unknown_len += 1;
                }
                true
            }
        };
        if !ok && problem.is_none() {
            problem = Some(Malformed::OptionBadLength);
        }
        i += len;
    }
    (o, problem)
}

#[cfg(test)]
mod tests;
