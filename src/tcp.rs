//! The pure TCP model: bytes → [`Segment`] at the edge ([`parse`]), segments →
//! connections with relative numbers and analysis notes ([`track`]), and the
//! RFC 9293 state machine that infers each endpoint's state ([`state`]).
//!
//! Nothing here touches a socket, a clock or the terminal: time comes in as an
//! argument, so every rule is tested from byte fixtures.

pub mod dissect;
pub mod parse;
pub mod seq;
pub mod state;
pub mod track;

pub use seq::SeqNum;

use std::fmt;
use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use crate::time::Timestamp;

/// RFC 9293 connection states, printed as the RFC writes them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum TcpState {
    Closed,
    Listen,
    SynSent,
    SynReceived,
    Established,
    FinWait1,
    FinWait2,
    CloseWait,
    Closing,
    LastAck,
    TimeWait,
}

impl TcpState {
    /// Every state, in the RFC's order (lists and coverage tests walk it).
    pub const ALL: [TcpState; 11] = [
        TcpState::Closed,
        TcpState::Listen,
        TcpState::SynSent,
        TcpState::SynReceived,
        TcpState::Established,
        TcpState::FinWait1,
        TcpState::FinWait2,
        TcpState::CloseWait,
        TcpState::Closing,
        TcpState::LastAck,
        TcpState::TimeWait,
    ];

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            TcpState::Closed => "CLOSED",
            TcpState::Listen => "LISTEN",
            TcpState::SynSent => "SYN-SENT",
            TcpState::SynReceived => "SYN-RECEIVED",
            TcpState::Established => "ESTABLISHED",
            TcpState::FinWait1 => "FIN-WAIT-1",
            TcpState::FinWait2 => "FIN-WAIT-2",
            TcpState::CloseWait => "CLOSE-WAIT",
            TcpState::Closing => "CLOSING",
            TcpState::LastAck => "LAST-ACK",
            TcpState::TimeWait => "TIME-WAIT",
        }
    }
}

impl TcpState {
    /// Whether RFC 9293 has an arrow `from → to`: the 19 of its state diagram
    /// (§3.3.2, Figure 5), SEND in LISTEN (§3.10.2: LISTEN → SYN-SENT), a FIN
    /// that also acknowledges ours in FIN-WAIT-1 (§3.10.7.4: straight to
    /// TIME-WAIT), and any state falling to CLOSED (an RST, an abort, a
    /// timeout: §3.10.7.4, §3.10.8).
    #[must_use]
    pub fn rfc_arrow(from: TcpState, to: TcpState) -> bool {
        use TcpState::{
            CloseWait, Closed, Closing, Established, FinWait1, FinWait2, LastAck, Listen,
            SynReceived, SynSent, TimeWait,
        };
        if from == to {
            return false;
        }
        matches!(
            (from, to),
            (_, Closed)
                | (Closed, Listen | SynSent)
                | (Listen, SynReceived | SynSent)
                | (SynSent, SynReceived | Established)
                | (SynReceived, Established | FinWait1 | Listen)
                | (Established, FinWait1 | CloseWait)
                | (FinWait1, FinWait2 | Closing | TimeWait)
                | (FinWait2 | Closing, TimeWait)
                | (CloseWait, LastAck)
        )
    }

    /// Whether `to` can follow `from` through zero or more RFC 9293 arrows
    /// (without passing CLOSED): a later report of `to` is consistent with
    /// the socket having been in `from`.
    #[must_use]
    pub fn leads_to(from: TcpState, to: TcpState) -> bool {
        if from == to || to == TcpState::Closed {
            return true;
        }
        let mut seen = [false; 11];
        let mut stack = vec![from];
        while let Some(s) = stack.pop() {
            for next in TcpState::ALL {
                if next == TcpState::Closed || !TcpState::rfc_arrow(s, next) {
                    continue;
                }
                if next == to {
                    return true;
                }
                let i = next as usize;
                if !seen[i] {
                    seen[i] = true;
                    stack.push(next);
                }
            }
        }
        false
    }
}

impl std::fmt::Display for TcpState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Transport protocol of a captured packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Proto {
    Tcp,
    Udp,
}

impl Proto {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }
}

/// TCP control bits, stored as on the wire (byte 13 of the header).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Flags(pub u8);

impl Flags {
    pub const FIN: Flags = Flags(0x01);
    pub const SYN: Flags = Flags(0x02);
    pub const RST: Flags = Flags(0x04);
    pub const PSH: Flags = Flags(0x08);
    pub const ACK: Flags = Flags(0x10);
    pub const URG: Flags = Flags(0x20);
    pub const ECE: Flags = Flags(0x40);
    pub const CWR: Flags = Flags(0x80);

    /// Names in the order the event contract fixes: SYN ACK FIN RST PSH URG ECE CWR.
    pub const ORDERED: [(Flags, &'static str); 8] = [
        (Flags::SYN, "SYN"),
        (Flags::ACK, "ACK"),
        (Flags::FIN, "FIN"),
        (Flags::RST, "RST"),
        (Flags::PSH, "PSH"),
        (Flags::URG, "URG"),
        (Flags::ECE, "ECE"),
        (Flags::CWR, "CWR"),
    ];

    #[must_use]
    pub fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }

    #[must_use]
    pub fn syn(self) -> bool {
        self.contains(Flags::SYN)
    }
    #[must_use]
    pub fn ack(self) -> bool {
        self.contains(Flags::ACK)
    }
    #[must_use]
    pub fn fin(self) -> bool {
        self.contains(Flags::FIN)
    }
    #[must_use]
    pub fn rst(self) -> bool {
        self.contains(Flags::RST)
    }

    /// The set flags' names, in contract order.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        Flags::ORDERED
            .into_iter()
            .filter(move |(f, _)| self.contains(*f))
            .map(|(_, n)| n)
    }
}

impl std::ops::BitOr for Flags {
    type Output = Flags;
    fn bitor(self, rhs: Flags) -> Flags {
        Flags(self.0 | rhs.0)
    }
}

impl fmt::Display for Flags {
    /// `SYN,ACK`; `-` when no flag is set.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for n in self.names() {
            if !first {
                f.write_str(",")?;
            }
            f.write_str(n)?;
            first = false;
        }
        if first {
            f.write_str("-")?;
        }
        Ok(())
    }
}

/// At most this many SACK blocks fit in a TCP header (40 option bytes).
pub const MAX_SACK: usize = 4;
/// Unknown options kept per segment; more are counted but not kept.
pub const MAX_UNKNOWN: usize = 4;

/// TCP options, parsed into a fixed-size value (no allocation per packet).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TcpOptions {
    pub mss: Option<u16>,
    pub wscale: Option<u8>,
    pub sack_perm: bool,
    /// (TSval, TSecr)
    pub timestamps: Option<(u32, u32)>,
    /// SACK blocks as on the wire (absolute sequence numbers).
    pub sack: [(u32, u32); MAX_SACK],
    pub sack_len: u8,
    /// Options of unknown kind: (kind, length).
    pub unknown: [(u8, u8); MAX_UNKNOWN],
    pub unknown_len: u8,
}

impl TcpOptions {
    #[must_use]
    pub fn sack_blocks(&self) -> &[(u32, u32)] {
        &self.sack[..usize::from(self.sack_len).min(MAX_SACK)]
    }
    #[must_use]
    pub fn unknown_options(&self) -> &[(u8, u8)] {
        &self.unknown[..usize::from(self.unknown_len).min(MAX_UNKNOWN)]
    }
}

/// The TCP part of a segment, as on the wire (absolute numbers, unscaled window).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TcpHeader {
    pub seq: u32,
    pub ack: u32,
    pub flags: Flags,
    pub window: u16,
    pub urgent: u16,
    /// Header length in bytes (data offset × 4).
    pub header_len: u8,
    pub options: TcpOptions,
}

/// Why a frame or part of it could not be read. Malformed input is data:
/// it is counted and reported, never a reason to stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error, Serialize, Deserialize)]
pub enum Malformed {
    #[error("frame shorter than an Ethernet header")]
    TruncatedEthernet,
    #[error("IPv4 header truncated or its header length is invalid")]
    TruncatedIpv4,
    #[error("IPv6 header truncated")]
    TruncatedIpv6,
    #[error("IPv6 extension header truncated")]
    TruncatedIpv6Extension,
    #[error("IP total length is smaller than the IP header")]
    IpLengthTooShort,
    #[error("TCP header truncated")]
    TruncatedTcp,
    #[error("TCP data offset below 5 words")]
    DataOffsetTooSmall,
    #[error("TCP data offset points past the end of the segment")]
    DataOffsetPastEnd,
    #[error("TCP option length 0 or 1")]
    OptionLengthTooSmall,
    #[error("TCP option runs past the header")]
    OptionPastHeader,
    #[error("TCP option has the wrong length for its kind")]
    OptionBadLength,
    #[error("UDP header truncated")]
    TruncatedUdp,
    #[error("IP length field says more bytes than the frame has")]
    IpLengthPastFrame,
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
fn is_zero(v: &u16) -> bool {
    *v == 0
}

/// One captured TCP or UDP packet, parsed once at the edge.
/// Downstream code sees only this small owned value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    /// Kernel (or capture file) timestamp.
    pub ts: Timestamp,
    pub proto: Proto,
    pub src: SocketAddr,
    pub dst: SocketAddr,
    /// Transport payload length from the IP header's length field, never from
    /// the captured bytes (captures are trimmed to a snap length).
    pub payload_len: u32,
    /// The IPv4 header's identification (a counter per socket on Linux:
    /// each copy of a resent segment has its own); 0 for IPv6. The lab's
    /// loss rule mixes it in. Absent from recordings made before it was kept.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub ip_id: u16,
    /// Present for TCP.
    pub tcp: Option<TcpHeader>,
    /// A non-fatal problem: the segment is usable (ports, numbers, flags) but
    /// some part of it (e.g. an option) was rejected.
    pub malformed: Option<Malformed>,
}

#[cfg(test)]
impl Segment {
    /// A TCP segment with no payload or options (for tests).
    #[must_use]
    pub fn bare(
        ts: Timestamp,
        src: SocketAddr,
        dst: SocketAddr,
        flags: Flags,
        seq: u32,
        ack: u32,
    ) -> Self {
        Self {
            ts,
            proto: Proto::Tcp,
            src,
            dst,
            payload_len: 0,
            ip_id: 0,
            tcp: Some(TcpHeader {
                seq,
                ack,
                flags,
                window: 65_000,
                urgent: 0,
                header_len: 20,
                options: TcpOptions::default(),
            }),
            malformed: None,
        }
    }
}

/// How frames are framed, as capture files name it (pcap LINKTYPE_*).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum LinkType {
    /// LINKTYPE_ETHERNET (1): live capture on `lo` and on real NICs.
    Ethernet,
    /// LINKTYPE_RAW (101) / LINKTYPE_IPV4 (228) / LINKTYPE_IPV6 (229): no link header.
    RawIp,
    /// LINKTYPE_LINUX_SLL (113): `tcpdump -i any` before libpcap 1.10.
    LinuxSll,
    /// LINKTYPE_LINUX_SLL2 (276): `tcpdump -i any` since libpcap 1.10.
    LinuxSll2,
    /// LINKTYPE_NULL (0): BSD loopback, a 4-byte host-order address family.
    Null,
}

impl LinkType {
    /// Every link type synack reads, in declaration order (tests and the
    /// fuzzer walk it).
    pub const ALL: [LinkType; 5] = [
        LinkType::Ethernet,
        LinkType::RawIp,
        LinkType::LinuxSll,
        LinkType::LinuxSll2,
        LinkType::Null,
    ];

    /// The link type for a pcap/pcapng LINKTYPE number, if synack reads it.
    #[must_use]
    pub fn from_linktype(n: u32) -> Option<LinkType> {
        Some(match n {
            0 => LinkType::Null,
            1 => LinkType::Ethernet,
            101 | 228 | 229 => LinkType::RawIp,
            113 => LinkType::LinuxSll,
            276 => LinkType::LinuxSll2,
            _ => return None,
        })
    }
}

/// The bytes of a captured frame, kept for the details view (header fields
/// and a hex dump). At most a snap length long.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RawFrame {
    pub link: LinkType,
    #[serde(with = "hex_bytes")]
    pub bytes: Box<[u8]>,
}

/// Bytes as a hex string in serialized form (recorded fixtures stay readable).
mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        use std::fmt::Write;
        let mut text = String::with_capacity(bytes.len() * 2);
        for b in bytes {
            let _ = write!(text, "{b:02x}");
        }
        s.serialize_str(&text)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Box<[u8]>, D::Error> {
        let text = String::deserialize(d)?;
        if text.len() % 2 != 0 || !text.is_ascii() {
            return Err(D::Error::custom("odd-length or non-ASCII hex string"));
        }
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).map_err(D::Error::custom))
            .collect()
    }
}
