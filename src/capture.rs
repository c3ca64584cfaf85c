//! Packet capture: live frames from a Linux packet socket, and frames from
//! pcap/pcapng files.
//!
//! Everything here hands out [`Frame`]s: the captured bytes (trimmed to a snap
//! length), the link type, the kernel's (or the file's) timestamp and the
//! frame's length on the wire. Parsing frames into `Segment`s is `tcp`'s job;
//! pnet types never leave this module; capture files are read by `file` itself.

pub mod bpf;
mod file;
mod frames;
mod live;
pub mod thread;

use std::net::IpAddr;
use std::path::PathBuf;

use crate::tcp::LinkType;
use crate::time::Timestamp;

pub use bpf::compile_filter;
pub use file::{FileCapture, PcapWriter};
pub use frames::Frames;
pub use live::{LiveCapture, interface_names};
pub use thread::{Batch, CaptureThread, Captured};

/// Bytes kept of each packet: link, IP and TCP headers with options, and a
/// preview of the payload. Payload lengths come from the IP header, never from
/// the captured bytes.
pub const DEFAULT_SNAPLEN: u32 = 256;

/// Which packets to capture. An empty list means "any".
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    /// Accept a packet when its source or destination port is one of these.
    pub ports: Vec<u16>,
    /// Accept a packet when its source or destination address is one of these.
    pub hosts: Vec<IpAddr>,
}

/// One captured frame, borrowed from the capture's buffer until the next read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame<'a> {
    pub link: LinkType,
    pub ts: Timestamp,
    /// The captured bytes, starting with the link-layer header.
    pub data: &'a [u8],
    /// The frame's length on the wire (≥ `data.len()`).
    pub orig_len: u32,
}

/// Kernel counters for a live capture, as tcpdump reports them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CaptureStats {
    /// Packets the filter accepted, including the dropped ones
    /// (tcpdump's "packets received by filter").
    pub received: u64,
    /// Accepted packets the kernel dropped because the socket's receive buffer
    /// was full (tcpdump's "packets dropped by kernel").
    pub dropped: u64,
}

/// Why capturing, or reading or writing a capture file, failed.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error(
        "not allowed to open a packet socket ({source}): run with sudo, or grant the binary the \
         capability: sudo setcap cap_net_raw,cap_net_admin+eip {exe}"
    )]
    PermissionDenied {
        exe: String,
        #[source]
        source: std::io::Error,
    },
    #[error("no network interface named {name:?}; available: {}", available.join(", "))]
    NoSuchInterface {
        name: String,
        available: Vec<String>,
    },
    #[error(
        "interface {name:?} does not carry Ethernet frames (ARPHRD type {arphrd}); synack captures \
         on Ethernet-framed interfaces such as lo or a NIC: choose another with --iface"
    )]
    NotEthernet { name: String, arphrd: u32 },
    #[error(
        "the capture filter has {len} instructions, more than the kernel's 4096: give fewer \
         --port/--host values"
    )]
    FilterTooLarge { len: usize },
    #[error("could not set up packet capture on {iface:?} ({what}): {source}")]
    Setup {
        iface: String,
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("reading packets from {iface:?} failed: {source}")]
    Read {
        iface: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot open {}: {source}", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{} is not a pcap or pcapng capture (it starts with {magic}); save captures with \
         tcpdump -w, tshark -w or synack watch --write",
        path.display()
    )]
    NotACapture { path: PathBuf, magic: String },
    #[error(
        "{} uses link type {linktype}, which synack cannot read; it reads Ethernet (1), raw IP \
         (101, 228, 229), Linux cooked (113, 276) and BSD loopback (0): capture on another \
         interface or convert the file",
        path.display()
    )]
    UnsupportedLinkType { path: PathBuf, linktype: u32 },
    #[error("{} is truncated or corrupt: {what}", path.display())]
    Corrupt { path: PathBuf, what: String },
    #[error("writing {} failed: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write to {}: {what}", path.display())]
    Unwritable { path: PathBuf, what: String },
}

/// The frame's length on the wire, from the IP header's length field (the
/// kernel does not report it through pnet, and frames are trimmed to the snap
/// length), falling back to the captured length.
#[must_use]
pub fn wire_len(link: LinkType, data: &[u8]) -> u32 {
    let captured = u32::try_from(data.len()).unwrap_or(u32::MAX);
    if link != LinkType::Ethernet || data.len() < 14 {
        return captured;
    }
    let be16 = |at: usize| {
        data.get(at..at + 2)
            .map(|b| u32::from(u16::from_be_bytes([b[0], b[1]])))
    };
    let from_ip = match be16(12) {
        // IPv4: total length includes the IP header. 0 means "unknown"
        // (TSO on some NICs): fall back.
        Some(0x0800) => be16(16).filter(|&n| n >= 20).map(|n| 14 + n),
        // IPv6: payload length excludes the 40-byte fixed header. 0 means a
        // jumbogram or GSO: fall back.
        Some(0x86dd) => be16(18).filter(|&n| n > 0).map(|n| 14 + 40 + n),
        _ => None,
    };
    from_ip.map_or(captured, |n| n.max(captured))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_len_from_ip_headers() {
        let mut v4 = vec![0u8; 60];
        v4[12..14].copy_from_slice(&[0x08, 0x00]);
        v4[16..18].copy_from_slice(&1500u16.to_be_bytes());
        assert_eq!(wire_len(LinkType::Ethernet, &v4), 1514);

        let mut v6 = vec![0u8; 74];
        v6[12..14].copy_from_slice(&[0x86, 0xdd]);
        v6[18..20].copy_from_slice(&1000u16.to_be_bytes());
        assert_eq!(wire_len(LinkType::Ethernet, &v6), 1054);

        // Unknown lengths and short or odd frames fall back to the captured length.
        v4[16..18].copy_from_slice(&0u16.to_be_bytes());
        assert_eq!(wire_len(LinkType::Ethernet, &v4), 60);
        assert_eq!(wire_len(LinkType::Ethernet, &v4[..16]), 16);
        assert_eq!(wire_len(LinkType::Ethernet, &[1, 2, 3]), 3);
        assert_eq!(wire_len(LinkType::RawIp, &v6), 74);
        // Never less than what was captured.
        v4[16..18].copy_from_slice(&30u16.to_be_bytes());
        assert_eq!(wire_len(LinkType::Ethernet, &v4), 60);
    }

    #[test]
    fn errors_say_what_to_do() {
        let e = CaptureError::NoSuchInterface {
            name: "eth9".into(),
            available: vec!["lo".into(), "eth0".into()],
        };
        assert!(e.to_string().contains("lo, eth0"), "{e}");
        let e = CaptureError::PermissionDenied {
            exe: "/usr/bin/synack".into(),
            source: std::io::Error::from_raw_os_error(libc::EPERM),
        };
        assert!(
            e.to_string()
                .contains("sudo setcap cap_net_raw,cap_net_admin+eip /usr/bin/synack"),
            "{e}"
        );
    }
}
