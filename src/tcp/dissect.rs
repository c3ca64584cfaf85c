//! One captured frame → every header field with the bytes it occupies, for
//! the details view and its hex dump.
//!
//! Layers start where [`super::parse`] says they do: the same link headers
//! (one VLAN tag, SLL, SLL2, Null in either byte order), the same IPv6
//! extension-header walk and the same TCP option rules. Unlike the parser,
//! nothing is rejected here: what cannot be decoded is still shown, so every
//! captured byte belongs to at least one field.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::ops::Range;

use super::{Flags, LinkType};
use crate::i18n::{DissectWords, Lang, fill, labels};

/// Which protocol layer a field belongs to (the UI colours by layer).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layer {
    Link,
    Ip,
    Transport,
    Options,
    Payload,
}

/// One header field (or the payload) of a captured frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    pub layer: Layer,
    /// Short English name as a student would see it: "Source port", "TTL", …
    /// (one of [`FIELD_NAMES`]; the screen shows it through
    /// `i18n::field_name`).
    pub name: &'static str,
    /// Byte range within the frame. Fields smaller than a byte (IPv4
    /// version and header length, flags and fragment offset, TCP data
    /// offset, IPv6 version, traffic class and flow label) give the bytes
    /// that contain them, so several fields may share bytes.
    pub range: Range<usize>,
    /// The decoded value as shown: "7000", "127.0.0.1", "0x4000 (DF)", "SYN, ACK", …
    /// in the language asked for ([`dissect_in`]).
    pub value: String,
    /// The number read from the wire, in hex: "0x1b58" for port 7000 (the
    /// bytes `1b 58` in wire order, big-endian). `None` for addresses,
    /// payload and other non-numbers. The one field not in network byte
    /// order is the Null loopback address family, written in the capturing
    /// host's order: its `raw_hex` is the decoded number.
    pub raw_hex: Option<String>,
}

/// Every name a [`Field`] can have, in the order of the layers.
pub const FIELD_NAMES: [&str; 53] = [
    "Destination MAC",
    "Source MAC",
    "EtherType",
    "VLAN tag",
    "Packet type",
    "Link-layer type",
    "Address length",
    "Link-layer address",
    "Protocol",
    "Reserved",
    "Interface index",
    "Address family",
    "Version",
    "Header length",
    "DSCP/ECN",
    "Total length",
    "Identification",
    "Flags / fragment offset",
    "TTL",
    "Header checksum",
    "Source address",
    "Destination address",
    "IP options",
    "Traffic class",
    "Flow label",
    "Payload length",
    "Next header",
    "Hop limit",
    "Hop-by-hop options header",
    "Routing header",
    "Fragment header",
    "Authentication header",
    "Destination options header",
    "Source port",
    "Destination port",
    "Sequence number",
    "Acknowledgment number",
    "Flags",
    "Window",
    "Checksum",
    "Urgent pointer",
    "Length",
    "End of option list",
    "Option padding",
    "NOP",
    "MSS option",
    "Window scale option",
    "SACK permitted option",
    "SACK option",
    "Timestamps option",
    "Unknown option",
    "Payload",
    "Padding",
];

/// Every field of the frame that the captured bytes contain, in wire order,
/// with values in English.
///
/// A frame cut short (captures keep only the first bytes) gives the fields
/// that fit, then the field the cut went through with a "truncated" value,
/// and stops. Captured payload bytes become a final `Payload` field; bytes
/// after the end the IP length field gives (Ethernet padding) a `Padding`
/// field. Never panics, whatever the bytes.
#[must_use]
pub fn dissect(link: LinkType, bytes: &[u8]) -> Vec<Field> {
    dissect_in(link, bytes, Lang::En)
}

/// [`dissect`] with the values' words in `lang` (`60 bytes`, `60 字节`):
/// the same fields, names, ranges and raw numbers in every language.
#[must_use]
pub fn dissect_in(link: LinkType, bytes: &[u8], lang: Lang) -> Vec<Field> {
    let w = &labels(lang).dissect;
    let mut d = Dissector {
        bytes,
        end: bytes.len(),
        fields: Vec::new(),
        w,
    };
    // `None` only means the bytes ran out inside a header, whose captured
    // part is already a field: nothing is left to do either way.
    let _ = d.frame(link);
    if d.end < bytes.len() {
        d.fields.push(Field {
            layer: Layer::Link,
            name: "Padding",
            range: d.end..bytes.len(),
            value: fill(&w.after_ip, &[&(bytes.len() - d.end)]),
            raw_hex: None,
        });
    }
    d.fields
}

/// The frame in rows of 16 bytes, each with its offset, for a hex dump.
pub fn hex_rows(bytes: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    bytes.chunks(16).enumerate().map(|(i, row)| (i * 16, row))
}

const ETHERTYPE_IPV4: u32 = 0x0800;
const ETHERTYPE_IPV6: u32 = 0x86dd;
const ETHERTYPE_VLAN: u32 = 0x8100;
const IPV6_LEN: usize = 40;
const TCP_MIN_LEN: usize = 20;
const UDP_LEN: usize = 8;
/// The same limit as the parser: a ninth extension header is not followed.
const MAX_IPV6_EXTENSIONS: usize = 8;

#[derive(Clone, Copy)]
enum Net {
    V4,
    V6,
}

struct Dissector<'a> {
    bytes: &'a [u8],
    /// Where the current IP packet ends: the end of the frame until an IP
    /// length field says less. Never beyond `bytes.len()`.
    end: usize,
    fields: Vec<Field>,
    /// The words of the values.
    w: &'static DissectWords,
}

impl<'a> Dissector<'a> {
    fn push(
        &mut self,
        layer: Layer,
        name: &'static str,
        range: Range<usize>,
        value: String,
        raw_hex: Option<String>,
    ) {
        self.fields.push(Field {
            layer,
            name,
            range,
            value,
            raw_hex,
        });
    }

    /// A field whose range may reach past `end` (a malformed length): only
    /// the part before `end` is shown.
    fn note(&mut self, layer: Layer, name: &'static str, range: Range<usize>, value: String) {
        let range = range.start..range.end.min(self.end);
        if range.start < range.end {
            self.push(layer, name, range, value, None);
        }
    }

    fn byte(&self, at: usize) -> Option<u8> {
        if at < self.end {
            self.bytes.get(at).copied()
        } else {
            None
        }
    }

    /// The `len` bytes at `at`, or `None` when they do not all lie before
    /// `end`; then the part that does is recorded as a truncated field.
    fn get(&mut self, layer: Layer, name: &'static str, at: usize, len: usize) -> Option<&'a [u8]> {
        let stop = at.checked_add(len)?;
        if stop <= self.end {
            return self.bytes.get(at..stop);
        }
        if at < self.end {
            let value = fill(&self.w.truncated_of, &[&(self.end - at), &len]);
            self.push(layer, name, at..self.end, value, None);
        }
        None
    }

    /// A big-endian number of 1 to 4 bytes, shown by `show`.
    fn uint(
        &mut self,
        layer: Layer,
        name: &'static str,
        at: usize,
        len: usize,
        show: impl FnOnce(u32) -> String,
    ) -> Option<u32> {
        let b = self.get(layer, name, at, len)?;
        let n = b.iter().fold(0u32, |n, &x| (n << 8) | u32::from(x));
        self.push(layer, name, at..at + len, show(n), Some(hex(b)));
        Some(n)
    }

    fn text(
        &mut self,
        layer: Layer,
        name: &'static str,
        at: usize,
        len: usize,
        show: impl FnOnce(&[u8]) -> String,
    ) -> Option<()> {
        let b = self.get(layer, name, at, len)?;
        self.push(layer, name, at..at + len, show(b), None);
        Some(())
    }

    /// Bytes from `at` to the end that are not dissected, and why.
    fn rest(&mut self, at: usize, why: &str) {
        if at < self.end {
            let n = self.end - at;
            let value = fill(&self.w.not_dissected, &[&n, &why]);
            self.push(Layer::Payload, "Payload", at..self.end, value, None);
        }
    }

    /// The transport payload from `at`; `declared` is its length according
    /// to the IP header, when known.
    fn payload(&mut self, at: usize, declared: Option<usize>) {
        if at < self.end {
            let n = self.end - at;
            let value = match declared {
                Some(d) if d > n => fill(&self.w.captured_of, &[&n, &d]),
                _ => fill(&self.w.bytes, &[&n]),
            };
            self.push(Layer::Payload, "Payload", at..self.end, value, None);
        }
    }

    fn frame(&mut self, link: LinkType) -> Option<()> {
        let (net, at) = match link {
            LinkType::Ethernet => self.ethernet()?,
            LinkType::RawIp => {
                let net = match self.byte(0)? >> 4 {
                    4 => Some(Net::V4),
                    6 => Some(Net::V6),
                    _ => None,
                };
                (net, 0)
            }
            LinkType::LinuxSll => self.sll()?,
            LinkType::LinuxSll2 => self.sll2()?,
            LinkType::Null => self.null()?,
        };
        match net {
            Some(Net::V4) => self.ipv4(at),
            Some(Net::V6) => self.ipv6(at),
            None => {
                self.rest(at, &self.w.not_ip);
                Some(())
            }
        }
    }

    // ------------------------------------------------------------ link layer

    fn ethernet(&mut self) -> Option<(Option<Net>, usize)> {
        self.text(Layer::Link, "Destination MAC", 0, 6, mac)?;
        self.text(Layer::Link, "Source MAC", 6, 6, mac)?;
        let w = self.w;
        let mut ethertype = self.uint(Layer::Link, "EtherType", 12, 2, |n| ethertype_text(n, w))?;
        let mut at = 14;
        // Like the parser, one 802.1Q tag is looked through, not more.
        if ethertype == ETHERTYPE_VLAN {
            // Tag control: priority (3 bits), drop eligible (1), VLAN id (12).
            self.uint(Layer::Link, "VLAN tag", 14, 2, |tci| {
                fill(&w.vlan, &[&(tci & 0x0fff), &(tci >> 13)])
            })?;
            ethertype = self.uint(Layer::Link, "EtherType", 16, 2, |n| ethertype_text(n, w))?;
            at = 18;
        }
        Some((net_of_ethertype(ethertype), at))
    }

    fn sll(&mut self) -> Option<(Option<Net>, usize)> {
        let w = self.w;
        self.uint(Layer::Link, "Packet type", 0, 2, |n| packet_type(n, w))?;
        self.uint(Layer::Link, "Link-layer type", 2, 2, |n| arphrd(n, w))?;
        let addr_len = self.uint(Layer::Link, "Address length", 4, 2, |n| n.to_string())?;
        self.link_addr(6, addr_len)?;
        let proto = self.uint(Layer::Link, "Protocol", 14, 2, |n| ethertype_text(n, w))?;
        Some((net_of_ethertype(proto), 16))
    }

    fn sll2(&mut self) -> Option<(Option<Net>, usize)> {
        let w = self.w;
        let proto = self.uint(Layer::Link, "Protocol", 0, 2, |n| ethertype_text(n, w))?;
        self.uint(Layer::Link, "Reserved", 2, 2, |n| n.to_string())?;
        self.uint(Layer::Link, "Interface index", 4, 4, |n| n.to_string())?;
        self.uint(Layer::Link, "Link-layer type", 8, 2, |n| arphrd(n, w))?;
        self.uint(Layer::Link, "Packet type", 10, 1, |n| packet_type(n, w))?;
        let addr_len = self.uint(Layer::Link, "Address length", 11, 1, |n| n.to_string())?;
        self.link_addr(12, addr_len)?;
        Some((net_of_ethertype(proto), 20))
    }

    /// The 8-byte address slot of SLL headers; only `len` bytes are used.
    fn link_addr(&mut self, at: usize, len: u32) -> Option<()> {
        let w = self.w;
        self.text(Layer::Link, "Link-layer address", at, 8, |b| {
            let used = &b[..(len as usize).min(b.len())];
            if used.is_empty() {
                w.none.clone()
            } else {
                mac(used)
            }
        })
    }

    fn null(&mut self) -> Option<(Option<Net>, usize)> {
        let b = self.get(Layer::Link, "Address family", 0, 4)?;
        let bytes = [b[0], b[1], b[2], b[3]];
        // The one field in host byte order (of the machine that captured):
        // like the parser, try little-endian first, then big-endian.
        let family = |v: u32| match v {
            2 => Some((Net::V4, "IPv4")),
            24 | 28 | 30 => Some((Net::V6, "IPv6")),
            _ => None,
        };
        let le = u32::from_le_bytes(bytes);
        let be = u32::from_be_bytes(bytes);
        let w = self.w;
        let (n, net, value) = match (family(le), family(be)) {
            (Some((net, name)), _) => (le, Some(net), fill(&w.little_endian, &[&le, &name])),
            (None, Some((net, name))) => (be, Some(net), fill(&w.big_endian, &[&be, &name])),
            (None, None) => (le, None, fill(&w.named, &[&le, &w.unknown])),
        };
        self.push(
            Layer::Link,
            "Address family",
            0..4,
            value,
            Some(format!("{n:#010x}")),
        );
        Some((net, 4))
    }

    // -------------------------------------------------------------- IP layer

    fn version(&mut self, at: usize) -> Option<u8> {
        let b = self.get(Layer::Ip, "Version", at, 1)?[0];
        let v = b >> 4;
        self.push(
            Layer::Ip,
            "Version",
            at..at + 1,
            v.to_string(),
            Some(format!("{v:#x}")),
        );
        Some(b)
    }

    fn ipv4(&mut self, at: usize) -> Option<()> {
        let b0 = self.version(at)?;
        let w = self.w;
        if b0 >> 4 != 4 {
            self.rest(at + 1, &w.not_ipv4);
            return Some(());
        }
        let ihl = usize::from(b0 & 0x0f) * 4;
        self.push(
            Layer::Ip,
            "Header length",
            at..at + 1,
            header_len_text(ihl, w),
            Some(format!("{:#x}", b0 & 0x0f)),
        );
        self.uint(Layer::Ip, "DSCP/ECN", at + 1, 1, |n| dscp_ecn(n as u8, w))?;
        let total = self.uint(Layer::Ip, "Total length", at + 2, 2, |n| match n {
            // TSO: the NIC writes the length after the kernel hands the packet over.
            0 => w.nic_fills.clone(),
            n if (n as usize) < ihl => fill(&w.shorter_than_header, &[&n]),
            n => fill(&w.bytes, &[&n]),
        })? as usize;
        self.uint(Layer::Ip, "Identification", at + 4, 2, |n| n.to_string())?;
        let frag = self.uint(Layer::Ip, "Flags / fragment offset", at + 6, 2, |n| {
            ipv4_flags(n, w)
        })?;
        self.uint(Layer::Ip, "TTL", at + 8, 1, |n| n.to_string())?;
        let proto = self.uint(Layer::Ip, "Protocol", at + 9, 1, |n| protocol(n as u8, w))? as u8;
        self.uint(Layer::Ip, "Header checksum", at + 10, 2, |n| {
            format!("{n:#06x}")
        })?;
        self.text(Layer::Ip, "Source address", at + 12, 4, ipv4_addr)?;
        self.text(Layer::Ip, "Destination address", at + 16, 4, ipv4_addr)?;
        if ihl < 20 {
            self.rest(at + 20, &w.short_header);
            return Some(());
        }
        let declared = if total >= ihl {
            self.end = self.end.min(at + total);
            Some(total - ihl)
        } else {
            None
        };
        if ihl > 20 {
            let n = ihl - 20;
            self.text(Layer::Ip, "IP options", at + 20, n, |_| {
                fill(&w.bytes, &[&n])
            })?;
        }
        if frag & 0x1fff != 0 {
            self.rest(at + ihl, &w.later_fragment);
            return Some(());
        }
        self.transport(proto, at + ihl, declared)
    }

    fn ipv6(&mut self, at: usize) -> Option<()> {
        let b0 = self.version(at)?;
        let w = self.w;
        if b0 >> 4 != 6 {
            self.rest(at + 1, &w.not_ipv6);
            return Some(());
        }
        // Traffic class: the low nibble of byte 0 and the high nibble of byte 1.
        let b1 = self.get(Layer::Ip, "Traffic class", at, 2)?[1];
        let tc = (b0 << 4) | (b1 >> 4);
        self.push(
            Layer::Ip,
            "Traffic class",
            at..at + 2,
            dscp_ecn(tc, w),
            Some(format!("{tc:#04x}")),
        );
        let fl = self.get(Layer::Ip, "Flow label", at + 1, 3)?;
        let flow = (u32::from(fl[0] & 0x0f) << 16) | (u32::from(fl[1]) << 8) | u32::from(fl[2]);
        let flow = format!("{flow:#07x}");
        self.push(
            Layer::Ip,
            "Flow label",
            at + 1..at + 4,
            flow.clone(),
            Some(flow),
        );
        let plen = self.uint(Layer::Ip, "Payload length", at + 4, 2, |n| match n {
            0 => w.jumbogram.clone(),
            n => fill(&w.bytes, &[&n]),
        })? as usize;
        let mut next = self.uint(Layer::Ip, "Next header", at + 6, 1, |n| {
            protocol(n as u8, w)
        })? as u8;
        self.uint(Layer::Ip, "Hop limit", at + 7, 1, |n| n.to_string())?;
        self.text(Layer::Ip, "Source address", at + 8, 16, ipv6_addr)?;
        self.text(Layer::Ip, "Destination address", at + 24, 16, ipv6_addr)?;
        if plen != 0 {
            self.end = self.end.min(at + IPV6_LEN + plen);
        }

        let mut off = at + IPV6_LEN;
        let mut walked = 0;
        loop {
            let name = match next {
                0 => "Hop-by-hop options header",
                43 => "Routing header",
                44 => "Fragment header",
                51 => "Authentication header",
                60 => "Destination options header",
                _ => break,
            };
            if walked == MAX_IPV6_EXTENSIONS {
                self.rest(off, &w.too_many_extensions);
                return Some(());
            }
            let len = if next == 44 {
                8
            } else {
                let Some(n) = self.byte(off + 1) else {
                    self.note(Layer::Ip, name, off..off + 1, w.truncated.clone());
                    return None;
                };
                // The length byte counts differently per header (RFC 8200, RFC 4302).
                if next == 51 {
                    (usize::from(n) + 2) * 4
                } else {
                    (usize::from(n) + 1) * 8
                }
            };
            let h = self.get(Layer::Ip, name, off, len)?;
            let after = protocol(h[0], w);
            let mut later_fragment = false;
            let value = if next == 44 {
                let frag = u16::from_be_bytes([h[2], h[3]]);
                later_fragment = frag >> 3 != 0;
                let more = if frag & 1 != 0 {
                    &w.more_fragments
                } else {
                    &w.last_fragment
                };
                fill(&w.fragment, &[&after, &((frag >> 3) * 8), more])
            } else {
                fill(&w.extension, &[&len, &after])
            };
            self.push(Layer::Ip, name, off..off + len, value, None);
            next = h[0];
            off += len;
            walked += 1;
            if later_fragment {
                self.rest(off, &w.later_fragment);
                return Some(());
            }
        }
        // The payload length counts the extension headers too.
        let declared = (plen != 0)
            .then(|| (IPV6_LEN + plen).checked_sub(off - at))
            .flatten();
        self.transport(next, off, declared)
    }

    // ------------------------------------------------------- transport layer

    /// `declared` is the transport length (header and payload) that the IP
    /// header gives, when it gives one.
    fn transport(&mut self, proto: u8, at: usize, declared: Option<usize>) -> Option<()> {
        match proto {
            6 => self.tcp(at, declared),
            17 => self.udp(at, declared),
            p => {
                let w = self.w;
                let why = match protocol_name(p, w) {
                    Some(name) => fill(&w.name_not_dissected, &[&name]),
                    None => fill(&w.protocol_not_dissected, &[&p]),
                };
                self.rest(at, &why);
                Some(())
            }
        }
    }

    fn tcp(&mut self, at: usize, declared: Option<usize>) -> Option<()> {
        let l = Layer::Transport;
        self.uint(l, "Source port", at, 2, |n| n.to_string())?;
        self.uint(l, "Destination port", at + 2, 2, |n| n.to_string())?;
        self.uint(l, "Sequence number", at + 4, 4, |n| n.to_string())?;
        self.uint(l, "Acknowledgment number", at + 8, 4, |n| n.to_string())?;
        // Data offset: the high nibble of byte 12, in 4-byte words.
        let b12 = self.get(l, "Header length", at + 12, 1)?[0];
        let hl = usize::from(b12 >> 4) * 4;
        let raw = format!("{:#x}", b12 >> 4);
        let w = self.w;
        self.push(
            l,
            "Header length",
            at + 12..at + 13,
            header_len_text(hl, w),
            Some(raw),
        );
        let flags = self.get(l, "Flags", at + 13, 1)?[0];
        self.push(
            l,
            "Flags",
            at + 13..at + 14,
            flags_text(flags, w),
            Some(hex(&[flags])),
        );
        self.uint(l, "Window", at + 14, 2, |n| n.to_string())?;
        self.uint(l, "Checksum", at + 16, 2, |n| format!("{n:#06x}"))?;
        self.uint(l, "Urgent pointer", at + 18, 2, |n| n.to_string())?;
        if hl < TCP_MIN_LEN {
            self.rest(at + TCP_MIN_LEN, &w.short_header);
            return Some(());
        }
        self.tcp_options(at + TCP_MIN_LEN, at + hl)?;
        self.payload(at + hl, declared.and_then(|d| d.checked_sub(hl)));
        Some(())
    }

    /// The options in `start..stop`, read by the parser's rules: EOL ends
    /// them, a length below 2 or past the header stops the reading, a known
    /// kind with the wrong length is shown as such and skipped.
    fn tcp_options(&mut self, start: usize, stop: usize) -> Option<()> {
        let l = Layer::Options;
        let w = self.w;
        let mut i = start;
        while i < stop {
            let kind = self.byte(i)?;
            match kind {
                0 => {
                    self.push(
                        l,
                        "End of option list",
                        i..i + 1,
                        "eol".into(),
                        Some("0x00".into()),
                    );
                    let n = stop - i - 1;
                    if n > 0 {
                        self.text(l, "Option padding", i + 1, n, |_| fill(&w.bytes, &[&n]))?;
                    }
                    return Some(());
                }
                1 => {
                    self.push(l, "NOP", i..i + 1, "nop".into(), Some("0x01".into()));
                    i += 1;
                    continue;
                }
                _ => {}
            }
            let name = option_name(kind);
            if i + 1 >= stop {
                let value = fill(&w.no_room, &[&kind]);
                self.note(l, name, i..stop, value);
                return Some(());
            }
            let Some(len) = self.byte(i + 1) else {
                self.note(l, name, i..i + 1, w.truncated.clone());
                return None;
            };
            let len = usize::from(len);
            if len < 2 {
                let value = fill(&w.bad_length, &[&len]);
                self.note(l, name, i..stop, value);
                return Some(());
            }
            if i + len > stop {
                self.note(l, name, i..stop, fill(&w.past_header, &[&len]));
                return Some(());
            }
            let b = self.get(l, name, i, len)?;
            let (value, raw) = option_value(kind, b, w);
            self.push(l, name, i..i + len, value, raw);
            i += len;
        }
        Some(())
    }

    fn udp(&mut self, at: usize, declared: Option<usize>) -> Option<()> {
        let l = Layer::Transport;
        let w = self.w;
        self.uint(l, "Source port", at, 2, |n| n.to_string())?;
        self.uint(l, "Destination port", at + 2, 2, |n| n.to_string())?;
        self.uint(l, "Length", at + 4, 2, |n| fill(&w.bytes, &[&n]))?;
        self.uint(l, "Checksum", at + 6, 2, |n| match n {
            0 => fill(&w.named, &[&"0x0000", &w.none]),
            n => format!("{n:#06x}"),
        })?;
        // Like the parser, the payload length comes from IP, not UDP's own field.
        self.payload(at + UDP_LEN, declared.and_then(|d| d.checked_sub(UDP_LEN)));
        Some(())
    }
}

// ------------------------------------------------------------------ values

/// "0x" and the bytes in wire order: the big-endian number they hold.
fn hex(b: &[u8]) -> String {
    b.iter().fold(String::from("0x"), |mut s, x| {
        let _ = write!(s, "{x:02x}");
        s
    })
}

fn mac(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn ipv4_addr(b: &[u8]) -> String {
    match <[u8; 4]>::try_from(b) {
        Ok(a) => Ipv4Addr::from(a).to_string(),
        Err(_) => String::new(),
    }
}

fn ipv6_addr(b: &[u8]) -> String {
    match <[u8; 16]>::try_from(b) {
        Ok(a) => Ipv6Addr::from(a).to_string(),
        Err(_) => String::new(),
    }
}

fn net_of_ethertype(ethertype: u32) -> Option<Net> {
    match ethertype {
        ETHERTYPE_IPV4 => Some(Net::V4),
        ETHERTYPE_IPV6 => Some(Net::V6),
        _ => None,
    }
}

/// `n` shown as `shown`, followed by what it means when it has a name:
/// `0x0800 (IPv4)`, `6 (TCP)`.
fn named(shown: &str, name: Option<&str>, w: &DissectWords) -> String {
    match name {
        Some(name) => fill(&w.named, &[&shown, &name]),
        None => shown.to_owned(),
    }
}

fn ethertype_text(n: u32, w: &DissectWords) -> String {
    let name = match n {
        ETHERTYPE_IPV4 => Some("IPv4"),
        ETHERTYPE_IPV6 => Some("IPv6"),
        ETHERTYPE_VLAN => Some("VLAN"),
        0x0806 => Some("ARP"),
        _ => None,
    };
    named(&format!("{n:#06x}"), name, w)
}

fn packet_type(n: u32, w: &DissectWords) -> String {
    let name = match n {
        0 => Some(&w.to_us),
        1 => Some(&w.broadcast),
        2 => Some(&w.multicast),
        3 => Some(&w.to_another_host),
        4 => Some(&w.sent_by_us),
        _ => None,
    };
    named(&n.to_string(), name.map(String::as_str), w)
}

/// Linux ARPHRD_* device types.
fn arphrd(n: u32, w: &DissectWords) -> String {
    let name = match n {
        1 => Some(w.ethernet.as_str()),
        772 => Some(w.loopback.as_str()),
        776 => Some(w.ipv6_in_ipv4.as_str()),
        778 => Some("GRE"),
        65534 => Some(w.none_tun.as_str()),
        _ => None,
    };
    named(&n.to_string(), name, w)
}

fn protocol_name(n: u8, w: &DissectWords) -> Option<&str> {
    Some(match n {
        0 => &w.hop_by_hop,
        1 => "ICMP",
        6 => "TCP",
        17 => "UDP",
        41 => "IPv6",
        43 => &w.routing,
        44 => &w.fragment_name,
        50 => "ESP",
        51 => "AH",
        58 => "ICMPv6",
        59 => &w.no_next_header,
        60 => &w.destination_options,
        _ => return None,
    })
}

fn protocol(n: u8, w: &DissectWords) -> String {
    named(&n.to_string(), protocol_name(n, w), w)
}

fn header_len_text(len: usize, w: &DissectWords) -> String {
    if len < 20 {
        fill(&w.below_20, &[&len])
    } else {
        fill(&w.bytes, &[&len])
    }
}

/// IPv4 type of service / IPv6 traffic class: 6 bits DSCP, 2 bits ECN.
fn dscp_ecn(b: u8, w: &DissectWords) -> String {
    let ecn = ["Not-ECT", "ECT(1)", "ECT(0)", "CE"][usize::from(b & 3)];
    format!("DSCP {}{}ECN {ecn}", b >> 2, w.sep)
}

/// 3 flag bits (reserved, DF, MF), then the offset in units of 8 bytes.
fn ipv4_flags(n: u32, w: &DissectWords) -> String {
    let mut parts = Vec::new();
    if n & 0x8000 != 0 {
        parts.push(w.reserved_bit.clone());
    }
    if n & 0x4000 != 0 {
        parts.push("DF".to_string());
    }
    if n & 0x2000 != 0 {
        parts.push("MF".to_string());
    }
    if n & 0x1fff != 0 {
        parts.push(fill(&w.offset, &[&((n & 0x1fff) * 8)]));
    }
    let list = parts.join(&w.sep);
    named(
        &format!("{n:#06x}"),
        (!parts.is_empty()).then_some(&*list),
        w,
    )
}

fn flags_text(b: u8, w: &DissectWords) -> String {
    let names: Vec<_> = Flags(b).names().collect();
    if names.is_empty() {
        w.none.clone()
    } else {
        names.join(", ")
    }
}

fn option_name(kind: u8) -> &'static str {
    match kind {
        2 => "MSS option",
        3 => "Window scale option",
        4 => "SACK permitted option",
        5 => "SACK option",
        8 => "Timestamps option",
        _ => "Unknown option",
    }
}

/// Value and raw hex of a whole option (kind and length bytes included).
fn option_value(kind: u8, b: &[u8], w: &DissectWords) -> (String, Option<String>) {
    let len = b.len();
    let body = b.get(2..).unwrap_or_default();
    let be32 = |at: usize| {
        body.get(at..at + 4)
            .and_then(|x| <[u8; 4]>::try_from(x).ok())
            .map_or(0, u32::from_be_bytes)
    };
    match (kind, len) {
        (2, 4) => {
            let mss = u16::from_be_bytes([body[0], body[1]]);
            (format!("mss={mss}"), Some(hex(body)))
        }
        (3, 3) => {
            let shift = body[0];
            // RFC 7323: a shift above 14 is used as 14.
            let value = if shift > 14 {
                fill(&w.wscale_capped, &[&shift])
            } else {
                named(
                    &format!("wscale={shift}"),
                    Some(&format!("x{}", 1u32 << shift)),
                    w,
                )
            };
            (value, Some(hex(body)))
        }
        (4, 2) => ("sack_perm".to_string(), None),
        (5, _) if len >= 10 && (len - 2) % 8 == 0 && (len - 2) / 8 <= super::MAX_SACK => {
            let blocks: Vec<_> = (0..(len - 2) / 8)
                .map(|i| format!("{}-{}", be32(i * 8), be32(i * 8 + 4)))
                .collect();
            (format!("sack={}", blocks.join(" ")), None)
        }
        (8, 10) => (
            format!("ts={}/{}", be32(0), be32(4)),
            Some(format!("{:#010x}/{:#010x}", be32(0), be32(4))),
        ),
        (2..=5 | 8, _) => (fill(&w.wrong_length, &[&len]), None),
        _ => {
            let known = match kind {
                19 => Some(w.md5.as_str()),
                28 => Some(w.user_timeout.as_str()),
                29 => Some("TCP-AO"),
                30 => Some("MPTCP"),
                34 => Some(w.fast_open.as_str()),
                253 | 254 => Some(w.experimental.as_str()),
                _ => None,
            };
            let kind = named(&kind.to_string(), known, w);
            (fill(&w.option_kind, &[&kind, &len]), None)
        }
    }
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::tcp::parse::parse_frame;
    use crate::test_rng::Rng;
    use crate::time::Timestamp;

    /// Dissects and checks what must hold for any input: every range lies
    /// in the slice and is not empty, fields come in wire order, every byte
    /// belongs to a field, and where the parser accepts the frame both agree
    /// on addresses, ports and sequence numbers.
    fn check(link: LinkType, bytes: &[u8]) -> Vec<Field> {
        let fields = dissect(link, bytes);
        let mut covered = 0;
        let mut last_start = 0;
        for f in &fields {
            assert!(f.range.start < f.range.end, "{f:?}");
            assert!(f.range.end <= bytes.len(), "{f:?} in {} bytes", bytes.len());
            assert!(f.range.start >= last_start, "{f:?} out of order");
            assert!(f.range.start <= covered, "gap before {f:?}");
            last_start = f.range.start;
            covered = covered.max(f.range.end);
        }
        assert_eq!(covered, bytes.len(), "bytes left uncovered: {fields:#?}");

        if let Ok(Some(seg)) = parse_frame(link, Timestamp(0), bytes, bytes.len() as u32) {
            let values = |name: &str| {
                fields
                    .iter()
                    .filter(|f| f.name == name)
                    .map(|f| f.value.clone())
                    .collect::<Vec<_>>()
            };
            assert_eq!(
                values("Source port"),
                [seg.src.port().to_string()],
                "{fields:#?}"
            );
            assert_eq!(values("Destination port"), [seg.dst.port().to_string()]);
            assert_eq!(values("Source address"), [seg.src.ip().to_string()]);
            assert_eq!(values("Destination address"), [seg.dst.ip().to_string()]);
            if let Some(t) = seg.tcp {
                assert_eq!(values("Sequence number"), [t.seq.to_string()]);
                let hl = values("Header length").pop();
                assert_eq!(hl, Some(format!("{} bytes", t.header_len)));
            }
        }
        fields
    }

    fn field<'f>(fields: &'f [Field], name: &str) -> &'f Field {
        fields
            .iter()
            .find(|f| f.name == name)
            .unwrap_or_else(|| panic!("no field {name:?} in {fields:#?}"))
    }

    /// Name, range, value and raw hex of a field, for one-line assertions.
    fn show(f: &Field) -> (&str, Range<usize>, &str, Option<&str>) {
        (f.name, f.range.clone(), &f.value, f.raw_hex.as_deref())
    }

    fn names(fields: &[Field]) -> Vec<&str> {
        fields.iter().map(|f| f.name).collect()
    }

    /// Ethernet, IPv4, TCP SYN 127.0.0.1:7000 → 127.0.0.1:443 with the
    /// options Linux sends: 74 bytes.
    fn syn_frame() -> Vec<u8> {
        let mut f = vec![
            0x02, 0, 0, 0, 0, 0x02, // 0..6 destination MAC
            0x02, 0, 0, 0, 0, 0x01, // 6..12 source MAC
            0x08, 0x00, // 12..14 EtherType IPv4
            0x45, // 14 version 4, IHL 5 (20 bytes)
            0x00, // 15 DSCP 0, ECN 0
            0x00, 0x3c, // 16..18 total length 60
            0x1c, 0x46, // 18..20 identification 7238
            0x40, 0x00, // 20..22 DF, offset 0
            0x40, // 22 TTL 64
            0x06, // 23 protocol TCP
            0x1c, 0x2f, // 24..26 header checksum
            127, 0, 0, 1, // 26..30 source
            127, 0, 0, 1, // 30..34 destination
            0x1b, 0x58, // 34..36 source port 7000
            0x01, 0xbb, // 36..38 destination port 443
            0xde, 0xad, 0xbe, 0xef, // 38..42 sequence number
            0, 0, 0, 0,    // 42..46 acknowledgment number
            0xa0, // 46 data offset 10 (40 bytes)
            0x02, // 47 SYN
            0xff, 0xd7, // 48..50 window 65495
            0xfe, 0x30, // 50..52 checksum
            0, 0, // 52..54 urgent pointer
        ];
        f.extend_from_slice(&[
            2, 4, 0xff, 0xd7, // 54..58 MSS 65495
            4, 2, // 58..60 SACK permitted
            8, 10, 0xd1, 0xfb, 0x43, 0xdd, 0, 0, 0, 0, // 60..70 timestamps 3522905053/0
            1, // 70 NOP
            3, 3, 7, // 71..74 window scale 7
        ]);
        f
    }

    #[test]
    fn ethernet_ipv4_syn_with_options() {
        let f = syn_frame();
        assert_eq!(f.len(), 74);
        let d = check(LinkType::Ethernet, &f);
        assert_eq!(
            names(&d),
            [
                "Destination MAC",
                "Source MAC",
                "EtherType",
                "Version",
                "Header length",
                "DSCP/ECN",
                "Total length",
                "Identification",
                "Flags / fragment offset",
                "TTL",
                "Protocol",
                "Header checksum",
                "Source address",
                "Destination address",
                "Source port",
                "Destination port",
                "Sequence number",
                "Acknowledgment number",
                "Header length",
                "Flags",
                "Window",
                "Checksum",
                "Urgent pointer",
                "MSS option",
                "SACK permitted option",
                "Timestamps option",
                "NOP",
                "Window scale option",
            ]
        );
        let layer_of = |i: usize| d[i].layer;
        assert_eq!(layer_of(0), Layer::Link);
        assert_eq!(layer_of(3), Layer::Ip);
        assert_eq!(layer_of(14), Layer::Transport);
        assert_eq!(layer_of(23), Layer::Options);

        assert_eq!(
            show(&d[0]),
            ("Destination MAC", 0..6, "02:00:00:00:00:02", None)
        );
        assert_eq!(
            show(&d[2]),
            ("EtherType", 12..14, "0x0800 (IPv4)", Some("0x0800"))
        );
        assert_eq!(show(&d[3]), ("Version", 14..15, "4", Some("0x4")));
        assert_eq!(
            show(&d[4]),
            ("Header length", 14..15, "20 bytes", Some("0x5"))
        );
        assert_eq!(
            show(&d[5]),
            ("DSCP/ECN", 15..16, "DSCP 0, ECN Not-ECT", Some("0x00"))
        );
        assert_eq!(
            show(&d[6]),
            ("Total length", 16..18, "60 bytes", Some("0x003c"))
        );
        assert_eq!(
            show(&d[7]),
            ("Identification", 18..20, "7238", Some("0x1c46"))
        );
        assert_eq!(
            show(&d[8]),
            (
                "Flags / fragment offset",
                20..22,
                "0x4000 (DF)",
                Some("0x4000")
            )
        );
        assert_eq!(show(&d[9]), ("TTL", 22..23, "64", Some("0x40")));
        assert_eq!(show(&d[10]), ("Protocol", 23..24, "6 (TCP)", Some("0x06")));
        assert_eq!(
            show(&d[11]),
            ("Header checksum", 24..26, "0x1c2f", Some("0x1c2f"))
        );
        assert_eq!(show(&d[12]), ("Source address", 26..30, "127.0.0.1", None));
        assert_eq!(
            show(&d[13]),
            ("Destination address", 30..34, "127.0.0.1", None)
        );

        assert_eq!(
            show(&d[14]),
            ("Source port", 34..36, "7000", Some("0x1b58"))
        );
        assert_eq!(
            show(&d[15]),
            ("Destination port", 36..38, "443", Some("0x01bb"))
        );
        assert_eq!(
            show(&d[16]),
            ("Sequence number", 38..42, "3735928559", Some("0xdeadbeef"))
        );
        assert_eq!(
            show(&d[17]),
            ("Acknowledgment number", 42..46, "0", Some("0x00000000"))
        );
        assert_eq!(
            show(&d[18]),
            ("Header length", 46..47, "40 bytes", Some("0xa"))
        );
        assert_eq!(show(&d[19]), ("Flags", 47..48, "SYN", Some("0x02")));
        assert_eq!(show(&d[20]), ("Window", 48..50, "65495", Some("0xffd7")));
        assert_eq!(show(&d[21]), ("Checksum", 50..52, "0xfe30", Some("0xfe30")));
        assert_eq!(
            show(&d[22]),
            ("Urgent pointer", 52..54, "0", Some("0x0000"))
        );

        assert_eq!(
            show(&d[23]),
            ("MSS option", 54..58, "mss=65495", Some("0xffd7"))
        );
        assert_eq!(
            show(&d[24]),
            ("SACK permitted option", 58..60, "sack_perm", None)
        );
        assert_eq!(
            show(&d[25]),
            (
                "Timestamps option",
                60..70,
                "ts=3522905053/0",
                Some("0xd1fb43dd/0x00000000")
            )
        );
        assert_eq!(show(&d[26]), ("NOP", 70..71, "nop", Some("0x01")));
        assert_eq!(
            show(&d[27]),
            (
                "Window scale option",
                71..74,
                "wscale=7 (x128)",
                Some("0x07")
            )
        );
        assert!(
            d.iter().all(|f| f.name != "Payload"),
            "a SYN carries no data"
        );
    }

    /// Raw IPv6, TCP ACK+PSH `[fd00::1]:7000` → `[fd00::2]:50000` with timestamps
    /// and the 5 payload bytes "hello": 77 bytes.
    fn ipv6_ack_frame() -> Vec<u8> {
        let mut f = vec![
            0x60, 0x0a, 0xbc, 0xde, // 0..4 version 6, traffic class 0, flow label 0xabcde
            0x00, 0x25, // 4..6 payload length 37 (32 TCP + 5 data)
            0x06, // 6 next header TCP
            0x40, // 7 hop limit 64
            0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, // 8..24 source fd00::1
            0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, // 24..40 destination fd00::2
            0x1b, 0x58, // 40..42 source port 7000
            0xc3, 0x50, // 42..44 destination port 50000
            0, 0, 0x03, 0xe8, // 44..48 sequence number 1000
            0, 0, 0x07, 0xd0, // 48..52 acknowledgment number 2000
            0x80, // 52 data offset 8 (32 bytes)
            0x18, // 53 PSH, ACK
            0x02, 0x00, // 54..56 window 512
            0x12, 0x34, // 56..58 checksum
            0, 0, // 58..60 urgent pointer
            1, 1, // 60..62 NOP NOP
            8, 10, 0, 0, 0, 5, 0, 0, 0, 4, // 62..72 timestamps 5/4
        ];
        f.extend_from_slice(b"hello"); // 72..77 payload
        f
    }

    #[test]
    fn raw_ipv6_ack_with_payload() {
        let f = ipv6_ack_frame();
        let d = check(LinkType::RawIp, &f);
        assert_eq!(show(&d[0]), ("Version", 0..1, "6", Some("0x6")));
        assert_eq!(
            show(&d[1]),
            ("Traffic class", 0..2, "DSCP 0, ECN Not-ECT", Some("0x00"))
        );
        assert_eq!(
            show(&d[2]),
            ("Flow label", 1..4, "0xabcde", Some("0xabcde"))
        );
        assert_eq!(
            show(&d[3]),
            ("Payload length", 4..6, "37 bytes", Some("0x0025"))
        );
        assert_eq!(show(&d[4]), ("Next header", 6..7, "6 (TCP)", Some("0x06")));
        assert_eq!(show(&d[5]), ("Hop limit", 7..8, "64", Some("0x40")));
        assert_eq!(show(&d[6]), ("Source address", 8..24, "fd00::1", None));
        assert_eq!(
            show(&d[7]),
            ("Destination address", 24..40, "fd00::2", None)
        );
        assert!(d[..8].iter().all(|f| f.layer == Layer::Ip));

        assert_eq!(show(&d[8]), ("Source port", 40..42, "7000", Some("0x1b58")));
        assert_eq!(
            show(field(&d, "Acknowledgment number")),
            ("Acknowledgment number", 48..52, "2000", Some("0x000007d0"))
        );
        assert_eq!(
            show(field(&d, "Flags")),
            ("Flags", 53..54, "ACK, PSH", Some("0x18"))
        );
        let opts: Vec<_> = d.iter().filter(|f| f.layer == Layer::Options).collect();
        assert_eq!(
            opts.iter().map(|f| show(f)).collect::<Vec<_>>(),
            [
                ("NOP", 60..61, "nop", Some("0x01")),
                ("NOP", 61..62, "nop", Some("0x01")),
                (
                    "Timestamps option",
                    62..72,
                    "ts=5/4",
                    Some("0x00000005/0x00000004")
                ),
            ]
        );
        let last = d.last().unwrap();
        assert_eq!(show(last), ("Payload", 72..77, "5 bytes", None));
        assert_eq!(last.layer, Layer::Payload);

        // Only 2 of the 5 payload bytes captured: the IP header still tells.
        let d = check(LinkType::RawIp, &f[..74]);
        assert_eq!(
            show(d.last().unwrap()),
            ("Payload", 72..74, "2 of 5 bytes captured", None)
        );
    }

    #[test]
    fn sll2_frame() {
        let mut f = vec![
            0x08, 0x00, // 0..2 protocol IPv4
            0, 0, // 2..4 reserved
            0, 0, 0, 1, // 4..8 interface index 1
            0x03, 0x04, // 8..10 ARPHRD 772 (loopback)
            4,    // 10 packet type: sent by us
            6,    // 11 address length
            0, 0, 0, 0, 0, 0, 0, 0, // 12..20 address (6 of 8 bytes used)
            0x45, 0x00, 0x00, 0x28, // 20..24 IPv4, total length 40
            0, 0, 0x40, 0x00, // 24..28 id 0, DF
            64, 6, 0, 0, // 28..32 TTL 64, TCP, checksum 0
            10, 0, 0, 1, // 32..36 source
            10, 0, 0, 2, // 36..40 destination
        ];
        f.extend_from_slice(&[
            0xc3, 0x50, 0x1b, 0x58, // 40..44 ports 50000 → 7000
            0, 0, 0, 1, 0, 0, 0, 2, // 44..52 seq 1, ack 2
            0x50, 0x11, // 52..54 data offset 5, FIN ACK
            0x01, 0x00, 0, 0, 0, 0, // 54..60 window 256, checksum, urgent
        ]);
        let d = check(LinkType::LinuxSll2, &f);
        let link: Vec<_> = d
            .iter()
            .take_while(|f| f.layer == Layer::Link)
            .map(show)
            .collect();
        assert_eq!(
            link,
            [
                ("Protocol", 0..2, "0x0800 (IPv4)", Some("0x0800")),
                ("Reserved", 2..4, "0", Some("0x0000")),
                ("Interface index", 4..8, "1", Some("0x00000001")),
                ("Link-layer type", 8..10, "772 (loopback)", Some("0x0304")),
                ("Packet type", 10..11, "4 (sent by us)", Some("0x04")),
                ("Address length", 11..12, "6", Some("0x06")),
                ("Link-layer address", 12..20, "00:00:00:00:00:00", None),
            ]
        );
        assert_eq!(show(&d[7]), ("Version", 20..21, "4", Some("0x4")));
        assert_eq!(show(field(&d, "Source address")).1, 32..36);
        assert_eq!(
            show(field(&d, "Source port")),
            ("Source port", 40..42, "50000", Some("0xc350"))
        );
        assert_eq!(show(field(&d, "Flags")).2, "ACK, FIN");
        assert_eq!(d.last().unwrap().name, "Urgent pointer");
    }

    #[test]
    fn sll_null_and_vlan_link_headers_start_ip_where_the_parser_does() {
        let ip_tcp = &syn_frame()[14..];

        let mut sll = vec![
            0, 0, // 0..2 packet type: to us
            0, 1, // 2..4 ARPHRD Ethernet
            0, 6, // 4..6 address length
            2, 0, 0, 0, 0, 1, 0, 0, // 6..14 address
            0x08, 0x00, // 14..16 protocol IPv4
        ];
        sll.extend_from_slice(ip_tcp);
        let d = check(LinkType::LinuxSll, &sll);
        assert_eq!(show(&d[3]).2, "02:00:00:00:00:01");
        assert_eq!(show(field(&d, "Version")).1, 16..17);
        assert_eq!(show(field(&d, "Source port")).1, 36..38);

        for (family, want) in [
            (2u32.to_le_bytes(), "2 (IPv4, little-endian)"),
            (2u32.to_be_bytes(), "2 (IPv4, big-endian)"),
        ] {
            let mut null = family.to_vec();
            null.extend_from_slice(ip_tcp);
            let d = check(LinkType::Null, &null);
            assert_eq!(
                show(&d[0]),
                ("Address family", 0..4, want, Some("0x00000002"))
            );
            assert_eq!(show(field(&d, "Source port")).1, 24..26);
        }

        let mut vlan = syn_frame()[..12].to_vec();
        vlan.extend_from_slice(&[
            0x81, 0x00, // 12..14 EtherType 802.1Q
            0x20, 0x05, // 14..16 priority 1, VLAN 5
            0x08, 0x00, // 16..18 EtherType IPv4
        ]);
        vlan.extend_from_slice(ip_tcp);
        let d = check(LinkType::Ethernet, &vlan);
        assert_eq!(
            show(&d[3]),
            ("VLAN tag", 14..16, "VLAN 5, priority 1", Some("0x2005"))
        );
        assert_eq!(
            show(&d[4]),
            ("EtherType", 16..18, "0x0800 (IPv4)", Some("0x0800"))
        );
        assert_eq!(show(field(&d, "Source port")).1, 38..40);

        // ARP is not dissected beyond the link header.
        let mut arp = syn_frame()[..12].to_vec();
        arp.extend_from_slice(&[0x08, 0x06]);
        arp.extend_from_slice(&[0; 28]);
        let d = check(LinkType::Ethernet, &arp);
        assert_eq!(show(&d[2]).2, "0x0806 (ARP)");
        assert_eq!(
            show(&d[3]),
            ("Payload", 14..42, "28 bytes (not IP: not dissected)", None)
        );

        // ICMP is not dissected beyond the IP header.
        let mut icmp = syn_frame()[..42].to_vec();
        icmp[16..18].copy_from_slice(&28u16.to_be_bytes());
        icmp[23] = 1;
        let d = check(LinkType::Ethernet, &icmp);
        assert_eq!(
            show(d.last().unwrap()),
            ("Payload", 34..42, "8 bytes (ICMP: not dissected)", None)
        );
    }

    #[test]
    fn udp_datagram_with_ethernet_padding() {
        let f = vec![
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // 0..6 destination MAC
            0x02, 0, 0, 0, 0, 0x01, // 6..12 source MAC
            0x08, 0x00, // 12..14 IPv4
            0x45, 0x00, 0x00, 0x20, // 14..18 IHL 5, total length 32
            0x00, 0x01, 0x00, 0x00, // 18..22 id 1, no flags
            0x40, 0x11, 0x00, 0x00, // 22..26 TTL 64, UDP, checksum 0
            192, 168, 1, 10, // 26..30 source
            192, 168, 1, 255, // 30..34 destination
            0x14, 0xe9, // 34..36 source port 5353
            0x00, 0x35, // 36..38 destination port 53
            0x00, 0x0c, // 38..40 length 12
            0x00, 0x00, // 40..42 checksum 0 (none)
            1, 2, 3, 4, // 42..46 payload
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // 46..60 padding to 60 bytes
        ];
        let d = check(LinkType::Ethernet, &f);
        assert_eq!(show(&d[0]).2, "ff:ff:ff:ff:ff:ff");
        assert_eq!(show(field(&d, "Protocol")).2, "17 (UDP)");
        assert_eq!(
            show(field(&d, "Flags / fragment offset")).2,
            "0x0000",
            "no flag set"
        );
        let udp: Vec<_> = d
            .iter()
            .filter(|f| f.layer == Layer::Transport)
            .map(show)
            .collect();
        assert_eq!(
            udp,
            [
                ("Source port", 34..36, "5353", Some("0x14e9")),
                ("Destination port", 36..38, "53", Some("0x0035")),
                ("Length", 38..40, "12 bytes", Some("0x000c")),
                ("Checksum", 40..42, "0x0000 (none)", Some("0x0000")),
            ]
        );
        let n = d.len();
        assert_eq!(show(&d[n - 2]), ("Payload", 42..46, "4 bytes", None));
        assert_eq!(
            show(&d[n - 1]),
            ("Padding", 46..60, "14 bytes after the IP packet", None)
        );
        assert_eq!(d[n - 1].layer, Layer::Link);
    }

    #[test]
    fn truncated_in_the_middle_of_the_tcp_options() {
        let f = syn_frame();
        // The capture stops 4 bytes into the 10-byte timestamps option.
        let d = check(LinkType::Ethernet, &f[..64]);
        let n = d.len();
        assert_eq!(
            show(&d[n - 2]),
            ("SACK permitted option", 58..60, "sack_perm", None)
        );
        assert_eq!(
            show(&d[n - 1]),
            (
                "Timestamps option",
                60..64,
                "truncated: 4 of 10 bytes",
                None
            )
        );
        // The header fields before the cut are whole.
        assert_eq!(show(field(&d, "Header length")).2, "20 bytes");
        assert_eq!(
            show(&d[18]),
            ("Header length", 46..47, "40 bytes", Some("0xa"))
        );

        // Cut in the middle of a 4-byte field.
        let d = check(LinkType::Ethernet, &f[..40]);
        assert_eq!(
            show(d.last().unwrap()),
            ("Sequence number", 38..40, "truncated: 2 of 4 bytes", None)
        );

        // Every cut of every fixture keeps the invariants in `check`.
        let sll2 = {
            let mut s = vec![0x86, 0xdd, 0, 0, 0, 0, 0, 1, 0, 1, 0, 6];
            s.extend_from_slice(&[2, 0, 0, 0, 0, 1, 0, 0]);
            s.extend_from_slice(&ipv6_ack_frame());
            s
        };
        for (link, frame) in [
            (LinkType::Ethernet, f.clone()),
            (LinkType::RawIp, ipv6_ack_frame()),
            (LinkType::LinuxSll2, sll2),
        ] {
            for cut in 0..=frame.len() {
                check(link, &frame[..cut]);
            }
        }
    }

    #[test]
    fn ipv6_extension_headers_and_odd_options() {
        let ack = ipv6_ack_frame();
        let mut f = ack[..40].to_vec();
        f[6] = 0; // next header: hop-by-hop
        f[5] += 24; // payload length counts the extension headers
        f.extend_from_slice(&[
            60, 0, 1, 4, 0, 0, 0, 0, // 40..48 hop-by-hop (8 bytes) → destination options
            44, 0, 1, 4, 0, 0, 0, 0, // 48..56 destination options (8) → fragment
            6, 0, 0x00, 0x01, 0, 0, 0, 9, // 56..64 fragment: offset 0, more → TCP
        ]);
        f.extend_from_slice(&ack[40..]);
        let d = check(LinkType::RawIp, &f);
        let ext: Vec<_> = d[8..11].iter().map(show).collect();
        assert_eq!(
            ext,
            [
                (
                    "Hop-by-hop options header",
                    40..48,
                    "8 bytes, next header 60 (destination options)",
                    None
                ),
                (
                    "Destination options header",
                    48..56,
                    "8 bytes, next header 44 (fragment)",
                    None
                ),
                (
                    "Fragment header",
                    56..64,
                    "next header 6 (TCP), offset 0, more fragments",
                    None
                ),
            ]
        );
        assert_eq!(show(field(&d, "Source port")).1, 64..66);
        assert_eq!(
            show(d.last().unwrap()),
            ("Payload", 96..101, "5 bytes", None)
        );

        // Options with a wrong length, an unknown kind, EOL and padding.
        let mut f = ipv6_ack_frame()[..72].to_vec();
        f[5] = 32;
        f[60..72].copy_from_slice(&[
            3, 4, 7, 0, // wscale with length 4: wrong
            30, 4, 0, 0, // MPTCP
            0, 0, 0, 0, // EOL, then padding
        ]);
        let d = check(LinkType::RawIp, &f);
        let opts: Vec<_> = d
            .iter()
            .filter(|f| f.layer == Layer::Options)
            .map(show)
            .collect();
        assert_eq!(
            opts,
            [
                (
                    "Window scale option",
                    60..64,
                    "wrong length 4 for this kind",
                    None
                ),
                ("Unknown option", 64..68, "kind=30 (MPTCP) len=4", None),
                ("End of option list", 68..69, "eol", Some("0x00")),
                ("Option padding", 69..72, "3 bytes", None),
            ]
        );
    }

    #[test]
    fn garbage_never_panics() {
        let mut rng = Rng::new(0x0123_4567_89ab_cdef);
        let mut reached = 0;
        let mut parsed = 0;
        for round in 0..20_000 {
            let len = rng.below(100);
            let mut f = rng.bytes(len);
            // Steer half the rounds towards IP and TCP so deep branches are reached.
            if round % 2 == 0 && f.len() > 34 {
                let v4 = round % 4 == 0;
                f[12..14].copy_from_slice(if v4 { &[0x08, 0x00] } else { &[0x86, 0xdd] });
                f[14] = if v4 { 0x45 } else { 0x60 };
                f[if v4 { 23 } else { 20 }] = if round % 3 == 0 { 17 } else { 6 };
                if v4 {
                    f[20] &= 0x40; // no fragment offset
                    f[21] = 0;
                }
            }
            for link in LinkType::ALL {
                let d = check(link, &f);
                if d.iter().any(|f| f.name == "Source port") {
                    reached += 1;
                }
                if let Ok(Some(_)) = parse_frame(link, Timestamp(0), &f, f.len() as u32) {
                    parsed += 1;
                }
            }
        }
        assert!(
            reached > 1000,
            "too few reach the transport layer: {reached}"
        );
        assert!(
            parsed > 100,
            "too few cross-checked with the parser: {parsed}"
        );
    }

    /// Words of Latin letters in `s` that are not names (protocols, flags,
    /// option mnemonics, codepoints like `ECT(0)`, hex numbers): what a
    /// Chinese value must not contain.
    fn english_words(s: &str) -> Vec<String> {
        // The names a Chinese value may show, shared with tests/screens.rs.
        use crate::test_names::NAMES;
        s.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
            .filter(|w| w.chars().filter(char::is_ascii_alphabetic).count() >= 2)
            .filter(|w| !NAMES.contains(w))
            // Hex numbers (0x1b58, 0xabcde) and multipliers (x128).
            .filter(|w| {
                let multiplier = w.starts_with('x') && w[1..].bytes().all(|b| b.is_ascii_digit());
                !(w.starts_with("0x") || multiplier)
            })
            .filter(|w| !w.bytes().all(|b| b.is_ascii_hexdigit() || b == b':'))
            .map(str::to_owned)
            .collect()
    }

    /// The same frame in Chinese: the same fields (names, ranges, raw
    /// numbers), every value free of English words.
    fn check_zh(link: LinkType, bytes: &[u8]) {
        let en = dissect(link, bytes);
        let zh = dissect_in(link, bytes, Lang::Zh);
        assert_eq!(en.len(), zh.len());
        for (e, z) in en.iter().zip(&zh) {
            assert_eq!(
                (e.name, &e.range, &e.raw_hex),
                (z.name, &z.range, &z.raw_hex)
            );
            let words = english_words(&z.value);
            assert!(words.is_empty(), "{}: {:?} has {words:?}", z.name, z.value);
            assert!(
                FIELD_NAMES.contains(&z.name),
                "{} is not in FIELD_NAMES",
                z.name
            );
        }
    }

    #[test]
    fn every_field_name_is_in_both_languages() {
        use crate::i18n::field_name;
        for name in FIELD_NAMES {
            assert_eq!(field_name(Lang::En, name), name);
            let zh = field_name(Lang::Zh, name);
            assert!(
                zh.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
                "{name}: no Chinese name ({zh})"
            );
        }
    }

    #[test]
    fn chinese_values_have_no_english_words() {
        // The checker itself catches what it must.
        assert_eq!(english_words("60 bytes"), ["bytes"]);
        assert_eq!(english_words("3735928559 (relative 1)"), ["relative"]);
        assert!(
            english_words("0x4000（DF） 6（TCP） wscale=7（x128） 0x1b58 02:00:00:00:00:0a")
                .is_empty()
        );

        let f = syn_frame();
        for cut in 0..=f.len() {
            check_zh(LinkType::Ethernet, &f[..cut]);
        }
        let ack = ipv6_ack_frame();
        for cut in 0..=ack.len() {
            check_zh(LinkType::RawIp, &ack[..cut]);
        }
        // Every link header, a VLAN tag, ARP, ICMP, a later fragment.
        let ip_tcp = &syn_frame()[14..];
        for (link, head) in [
            (
                LinkType::LinuxSll,
                vec![0, 4, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, 0x08, 0x00],
            ),
            (
                LinkType::LinuxSll,
                vec![0, 3, 0xff, 0xfe, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x08, 0x00],
            ),
            (LinkType::Null, 2u32.to_le_bytes().to_vec()),
            (LinkType::Null, 2u32.to_be_bytes().to_vec()),
            (LinkType::Null, 7u32.to_be_bytes().to_vec()),
        ] {
            let mut frame = head;
            frame.extend_from_slice(ip_tcp);
            check_zh(link, &frame);
        }
        let mut sll2 = vec![0x86, 0xdd, 0, 0, 0, 0, 0, 1, 0x03, 0x04, 2, 0];
        sll2.extend_from_slice(&[0; 8]);
        sll2.extend_from_slice(&ipv6_ack_frame());
        check_zh(LinkType::LinuxSll2, &sll2);
        let mut vlan = syn_frame()[..12].to_vec();
        vlan.extend_from_slice(&[0x81, 0x00, 0x20, 0x05, 0x08, 0x06]);
        vlan.extend_from_slice(&[0; 28]);
        check_zh(LinkType::Ethernet, &vlan);
        let mut icmp = syn_frame()[..42].to_vec();
        icmp[16..18].copy_from_slice(&28u16.to_be_bytes());
        icmp[23] = 1;
        check_zh(LinkType::Ethernet, &icmp);
        let mut frag = syn_frame();
        frag[20] = 0x20; // MF, offset 8 bytes later: no TCP header here
        frag[21] = 1;
        frag[14] = 0x46; // and 4 bytes of IP options
        check_zh(LinkType::Ethernet, &frag);
        // IPv6 extension headers, odd options, a UDP datagram with padding.
        let mut ext = ack[..40].to_vec();
        ext[6] = 0;
        ext[5] += 16;
        ext.extend_from_slice(&[43, 0, 0, 0, 0, 0, 0, 0, 44, 0, 0, 0x09, 0, 0, 0, 9]);
        ext.extend_from_slice(&ack[40..]);
        check_zh(LinkType::RawIp, &ext);
        let mut opts = ipv6_ack_frame()[..72].to_vec();
        opts[5] = 32;
        opts[60..72].copy_from_slice(&[3, 4, 7, 0, 30, 4, 0, 0, 0, 0, 0, 0]);
        check_zh(LinkType::RawIp, &opts);
        for bad in [[3, 3, 15, 1], [19, 4, 0, 0], [5, 1, 0, 0], [253, 9, 0, 0]] {
            let mut o = ipv6_ack_frame()[..64].to_vec();
            o[5] = 24;
            o[60..64].copy_from_slice(&bad);
            check_zh(LinkType::RawIp, &o);
        }
        // Whatever the bytes.
        let mut rng = Rng::new(0x0bad_cafe_dead_beef);
        for _ in 0..3000 {
            let len = rng.below(100);
            let g = rng.bytes(len);
            for link in [LinkType::Ethernet, LinkType::RawIp, LinkType::LinuxSll2] {
                check_zh(link, &g);
            }
        }
    }

    #[test]
    fn hex_rows_are_16_bytes_with_offsets() {
        let f = syn_frame();
        let rows: Vec<_> = hex_rows(&f).collect();
        assert_eq!(rows.len(), 5);
        assert_eq!(rows[0], (0, &f[..16]));
        assert_eq!(rows[4], (64, &f[64..]));
        assert_eq!(hex_rows(&[]).count(), 0);
    }
}
