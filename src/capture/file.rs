//! Capture files: reading pcap and pcapng (recognised by their magic number,
//! not their name), and writing classic pcap.
//!
//! Files are untrusted: a truncated or corrupt file ends reading with a
//! [`CaptureError::Corrupt`] naming the file, the packet and the byte where
//! it went wrong, never a panic. After an error `next_frame` returns `Ok(None)`.
//!
//! Memory is bounded whatever the headers claim: a length field is checked
//! against [`MAX_PACKET`] (or [`MAX_BLOCK`] for a pcapng block synack
//! decodes) before a byte is allocated for it, blocks synack does not read
//! are skipped through a fixed buffer, and one frame is held at a time.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use super::{CaptureError, Frame};
use crate::tcp::LinkType;
use crate::time::Timestamp;

const PCAP_MAGIC_MICROS: u32 = 0xa1b2_c3d4;
const PCAP_MAGIC_NANOS: u32 = 0xa1b2_3c4d;
const PCAPNG_MAGIC: u32 = 0x0a0d_0d0a;
const BYTE_ORDER_MAGIC: u32 = 0x1a2b_3c4d;
const LINKTYPE_ETHERNET: u32 = 1;
const PCAP_HEADER_LEN: usize = 24;
const PCAP_RECORD_LEN: usize = 16;

/// The most bytes one packet may hold: libpcap's and Wireshark's limit
/// (256 KiB). A record claiming more is corrupt.
pub const MAX_PACKET: u32 = 256 * 1024;
/// The most bytes a pcapng block that synack decodes (section header,
/// interface description, packet) may take: a largest packet plus 64 KiB of
/// headers and options. Other blocks are skipped, whatever their length.
pub const MAX_BLOCK: u32 = MAX_PACKET + 64 * 1024;

const BLOCK_IDB: u32 = 1;
const BLOCK_PB: u32 = 2;
const BLOCK_SPB: u32 = 3;
const BLOCK_EPB: u32 = 6;
const OPT_ENDOFOPT: u16 = 0;
const OPT_IF_TSRESOL: u16 = 9;
const OPT_IF_TSOFFSET: u16 = 14;

/// What frames are read from: a file, or any byte stream.
type Source = BufReader<Box<dyn Read + Send>>;

/// Frames from a pcap or pcapng file.
pub struct FileCapture {
    path: PathBuf,
    src: Source,
    /// Bytes of the file consumed so far (errors say where they are).
    offset: u64,
    format: Format,
    /// The current frame's bytes (pcap) or block body (pcapng), reused.
    buf: Vec<u8>,
    /// Where the current frame is in `buf`.
    frame: std::ops::Range<usize>,
    /// Records read so far (for error messages).
    records: u64,
    /// Set after the end or an error.
    done: bool,
}

impl std::fmt::Debug for FileCapture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileCapture")
            .field("path", &self.path)
            .field("records", &self.records)
            .finish_non_exhaustive()
    }
}

/// Byte order of the file (or of the current pcapng section).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Order {
    Little,
    Big,
}

impl Order {
    fn u16(self, b: &[u8], at: usize) -> Option<u16> {
        let b: [u8; 2] = b.get(at..at.checked_add(2)?)?.try_into().ok()?;
        Some(match self {
            Order::Little => u16::from_le_bytes(b),
            Order::Big => u16::from_be_bytes(b),
        })
    }

    fn u32(self, b: &[u8], at: usize) -> Option<u32> {
        let b: [u8; 4] = b.get(at..at.checked_add(4)?)?.try_into().ok()?;
        Some(match self {
            Order::Little => u32::from_le_bytes(b),
            Order::Big => u32::from_be_bytes(b),
        })
    }

    fn u64(self, b: &[u8], at: usize) -> Option<u64> {
        let b: [u8; 8] = b.get(at..at.checked_add(8)?)?.try_into().ok()?;
        Some(match self {
            Order::Little => u64::from_le_bytes(b),
            Order::Big => u64::from_be_bytes(b),
        })
    }
}

enum Format {
    Pcap {
        order: Order,
        link: LinkType,
        nanos: bool,
        snaplen: u32,
    },
    PcapNg {
        order: Order,
        interfaces: Vec<Interface>,
        last_ts: Timestamp,
    },
}

/// What a pcapng Interface Description Block says about its packets.
#[derive(Clone, Copy, Debug)]
struct Interface {
    linktype: u32,
    snaplen: u32,
    /// `if_tsresol`: the timestamp unit is 10^-n s, or 2^-n s with the high bit set.
    tsresol: u8,
    /// `if_tsoffset`, seconds.
    tsoffset: u64,
}

/// Interfaces kept per section: far more than any capture has, few enough
/// that a file of nothing but Interface Description Blocks stays small.
const MAX_INTERFACES: usize = 4096;

impl Interface {
    /// Converts a timestamp in this interface's units to a [`Timestamp`].
    fn timestamp(&self, units: u64) -> Option<Timestamp> {
        let exp = u32::from(self.tsresol & 0x7f);
        let per_sec: u128 = if self.tsresol & 0x80 == 0 {
            10u128.checked_pow(exp)?
        } else {
            2u128.checked_pow(exp)?
        };
        let secs = u128::from(units) / per_sec;
        let nanos = (u128::from(units) % per_sec) * 1_000_000_000 / per_sec;
        let secs = u64::try_from(secs).ok()?.checked_add(self.tsoffset)?;
        Some(Timestamp::from_parts(secs, nanos as u32))
    }
}

/// Reads until `buf` is full or the stream ends; the bytes read.
fn fill(src: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match src.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// "1.5 GiB", "320 KiB", "12 bytes".
fn size(n: u64) -> String {
    if n >= 1 << 30 {
        format!("{n} bytes ({:.1} GiB)", n as f64 / f64::from(1u32 << 30))
    } else if n >= 1 << 20 {
        format!("{n} bytes ({:.1} MiB)", n as f64 / f64::from(1u32 << 20))
    } else {
        format!("{n} bytes")
    }
}

fn block_name(kind: u32) -> String {
    match kind {
        PCAPNG_MAGIC => "Section Header Block".to_owned(),
        BLOCK_IDB => "Interface Description Block".to_owned(),
        BLOCK_PB => "Packet Block".to_owned(),
        BLOCK_SPB => "Simple Packet Block".to_owned(),
        BLOCK_EPB => "Enhanced Packet Block".to_owned(),
        other => format!("block of type {other:#010x}"),
    }
}

impl FileCapture {
    /// Opens a pcap or pcapng file (recognised by content, not extension).
    ///
    /// # Errors
    /// [`CaptureError::Open`], [`CaptureError::NotACapture`],
    /// [`CaptureError::UnsupportedLinkType`] (classic pcap) or
    /// [`CaptureError::Corrupt`].
    pub fn open(path: &Path) -> Result<Self, CaptureError> {
        let file = File::open(path).map_err(|source| CaptureError::Open {
            path: path.to_owned(),
            source,
        })?;
        Self::from_reader(path, file)
    }

    /// Reads a capture from any byte stream; `name` stands for it in error
    /// messages (as the path does for [`FileCapture::open`]).
    ///
    /// # Errors
    /// As [`FileCapture::open`].
    pub fn from_reader(
        name: &Path,
        reader: impl Read + Send + 'static,
    ) -> Result<Self, CaptureError> {
        let path = name;
        let open_err = |source| CaptureError::Open {
            path: path.to_owned(),
            source,
        };
        let mut src: Source = BufReader::new(Box::new(reader));
        let mut magic = [0u8; 4];
        let got = fill(&mut src, &mut magic).map_err(open_err)?;
        let not_capture = || CaptureError::NotACapture {
            path: path.to_owned(),
            magic: if got == 0 {
                "nothing: the file is empty".to_owned()
            } else {
                magic[..got]
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            },
        };
        if got < 4 {
            return Err(not_capture());
        }
        let (be, le) = (u32::from_be_bytes(magic), u32::from_le_bytes(magic));
        let mut me = Self {
            path: path.to_owned(),
            src,
            offset: 4,
            format: Format::PcapNg {
                order: Order::Little,
                interfaces: Vec::new(),
                last_ts: Timestamp::default(),
            },
            buf: Vec::new(),
            frame: 0..0,
            records: 0,
            done: false,
        };
        if [be, le].contains(&PCAP_MAGIC_MICROS) || [be, le].contains(&PCAP_MAGIC_NANOS) {
            let order = if le == PCAP_MAGIC_MICROS || le == PCAP_MAGIC_NANOS {
                Order::Little
            } else {
                Order::Big
            };
            let mut header = [0u8; PCAP_HEADER_LEN];
            header[..4].copy_from_slice(&magic);
            me.read_exact(&mut header[4..], "the file header")?;
            let word = |at| order.u32(&header, at).unwrap_or_default();
            let snaplen = word(16);
            // The upper bits of the link-type word carry the FCS length.
            let linktype = word(20) & 0x03ff_ffff;
            let link = LinkType::from_linktype(linktype).ok_or_else(|| {
                CaptureError::UnsupportedLinkType {
                    path: path.to_owned(),
                    linktype,
                }
            })?;
            me.format = Format::Pcap {
                order,
                link,
                nanos: word(0) == PCAP_MAGIC_NANOS,
                snaplen,
            };
        } else if be == PCAPNG_MAGIC {
            // The Section Header Block is read like any block, from its start.
            me.offset = 0;
            me.src = BufReader::new(Box::new(io::Cursor::new(magic).chain(me.src)));
            me.read_block()?;
        } else {
            return Err(not_capture());
        }
        Ok(me)
    }

    /// The next frame; `Ok(None)` at the end of the file (and after an error).
    ///
    /// # Errors
    /// [`CaptureError::Corrupt`] for a truncated or malformed record,
    /// [`CaptureError::UnsupportedLinkType`] for a pcapng packet from an
    /// interface whose link type synack cannot read.
    pub fn next_frame(&mut self) -> Result<Option<Frame<'_>>, CaptureError> {
        if self.done {
            return Ok(None);
        }
        match self.read_next() {
            Ok(Some((link, ts, orig_len))) => {
                self.records += 1;
                Ok(Some(Frame {
                    link,
                    ts,
                    data: &self.buf[self.frame.clone()],
                    orig_len,
                }))
            }
            Ok(None) => {
                self.done = true;
                Ok(None)
            }
            Err(e) => {
                self.done = true;
                Err(e)
            }
        }
    }

    fn corrupt(&self, what: String) -> CaptureError {
        CaptureError::Corrupt {
            path: self.path.clone(),
            what,
        }
    }

    /// Fills `buf` or says that `what` is cut short.
    fn read_exact(&mut self, buf: &mut [u8], what: &str) -> Result<(), CaptureError> {
        let at = self.offset;
        let got = fill(&mut self.src, buf)
            .map_err(|e| self.corrupt(format!("reading {what} at byte {at} failed: {e}")))?;
        self.offset += got as u64;
        if got < buf.len() {
            return Err(self.corrupt(format!(
                "{what} at byte {at} is cut short: {} of {} bytes (the file was truncated?)",
                got,
                buf.len()
            )));
        }
        Ok(())
    }

    /// Reads a record header of `N` bytes; `None` at a clean end of the file.
    fn read_header<const N: usize>(&mut self, what: &str) -> Result<Option<[u8; N]>, CaptureError> {
        let mut head = [0u8; N];
        let at = self.offset;
        let got = fill(&mut self.src, &mut head)
            .map_err(|e| self.corrupt(format!("reading {what} at byte {at} failed: {e}")))?;
        self.offset += got as u64;
        match got {
            0 => Ok(None),
            n if n < N => Err(self.corrupt(format!(
                "{what} at byte {at} is cut short: {n} of {N} bytes (the file was truncated?)"
            ))),
            _ => Ok(Some(head)),
        }
    }

    /// Reads the next packet into `self.buf[self.frame]`.
    fn read_next(&mut self) -> Result<Option<(LinkType, Timestamp, u32)>, CaptureError> {
        match self.format {
            Format::Pcap {
                order,
                link,
                nanos,
                snaplen,
            } => self.read_pcap_record(order, link, nanos, snaplen),
            Format::PcapNg { .. } => loop {
                if let Some(frame) = self.read_block()? {
                    return Ok(Some(frame));
                }
                if self.done {
                    return Ok(None);
                }
            },
        }
    }

    fn read_pcap_record(
        &mut self,
        order: Order,
        link: LinkType,
        nanos: bool,
        snaplen: u32,
    ) -> Result<Option<(LinkType, Timestamp, u32)>, CaptureError> {
        let record = self.records + 1;
        let at = self.offset;
        let what = format!("packet record {record}");
        let Some(head) = self.read_header::<PCAP_RECORD_LEN>(&what)? else {
            return Ok(None);
        };
        let word = |i| order.u32(&head, i).unwrap_or_default();
        let (ts_sec, ts_frac, caplen, orig_len) = (word(0), word(4), word(8), word(12));
        if caplen > MAX_PACKET {
            return Err(self.corrupt(format!(
                "{what} (at byte {at}) claims {} of captured data, more than the {} KiB a \
                 packet may hold (the file's snaplen is {snaplen})",
                size(u64::from(caplen)),
                MAX_PACKET / 1024
            )));
        }
        let per_sec = if nanos { 1_000_000_000 } else { 1_000_000 };
        if ts_frac >= per_sec {
            return Err(self.corrupt(format!(
                "{what} has a sub-second timestamp of {ts_frac} (must be below {per_sec})"
            )));
        }
        self.buf.clear();
        self.buf.resize(caplen as usize, 0);
        let mut buf = std::mem::take(&mut self.buf);
        let read = self.read_exact(&mut buf, &format!("the data of {what}"));
        self.buf = buf;
        read?;
        self.frame = 0..caplen as usize;
        let frac_nanos = if nanos { ts_frac } else { ts_frac * 1000 };
        let ts = Timestamp::from_parts(u64::from(ts_sec), frac_nanos);
        Ok(Some((link, ts, orig_len.max(caplen))))
    }

    /// Reads one pcapng block: a packet's link, time and wire length (its
    /// bytes in `self.buf[self.frame]`), or `None` for a block that holds no
    /// packet (and at the end, with `self.done` set).
    fn read_block(&mut self) -> Result<Option<(LinkType, Timestamp, u32)>, CaptureError> {
        let Format::PcapNg { order, .. } = self.format else {
            return Ok(None);
        };
        let record = self.records + 1;
        let at = self.offset;
        let Some(head) =
            self.read_header::<8>(&format!("the block after packet {}", record - 1))?
        else {
            self.done = true;
            return Ok(None);
        };
        let mut order = order;
        let kind = order.u32(&head, 0).unwrap_or_default();
        let mut body_start = 0;
        if kind == PCAPNG_MAGIC {
            // A new section, maybe in the other byte order: the byte-order
            // magic after the length says which.
            let bom = self.read_exact_array::<4>("a Section Header Block's byte-order magic")?;
            order = match (u32::from_le_bytes(bom), u32::from_be_bytes(bom)) {
                (BYTE_ORDER_MAGIC, _) => Order::Little,
                (_, BYTE_ORDER_MAGIC) => Order::Big,
                _ => {
                    return Err(self.corrupt(format!(
                        "the Section Header Block at byte {at} has byte-order magic {:02x?}, \
                         not 1a2b3c4d in either order",
                        bom
                    )));
                }
            };
            body_start = 4;
        }
        let name = block_name(kind);
        let total = order.u32(&head, 4).unwrap_or_default();
        if total < 12 || total % 4 != 0 {
            return Err(self.corrupt(format!(
                "the {name} at byte {at} claims a length of {total} bytes: a block is a \
                 multiple of 4 bytes, at least 12"
            )));
        }
        let decoded = matches!(
            kind,
            PCAPNG_MAGIC | BLOCK_IDB | BLOCK_PB | BLOCK_SPB | BLOCK_EPB
        );
        let body_len = (total - 12) as usize;
        if !decoded {
            // Skipped through a fixed buffer, whatever its length.
            let want = body_len as u64;
            let skipped =
                io::copy(&mut (&mut self.src).take(want), &mut io::sink()).map_err(|e| {
                    self.corrupt(format!("reading the {name} at byte {at} failed: {e}"))
                })?;
            self.offset += skipped;
            if skipped < want {
                return Err(self.corrupt(format!(
                    "the {name} at byte {at} claims {}, but the file ends {} bytes into it \
                     (the file was truncated?)",
                    size(u64::from(total)),
                    skipped + 8
                )));
            }
        } else {
            if total > MAX_BLOCK {
                let what = if matches!(kind, BLOCK_PB | BLOCK_SPB | BLOCK_EPB) {
                    format!("the {name} of packet {record}")
                } else {
                    format!("the {name}")
                };
                return Err(self.corrupt(format!(
                    "{what} (at byte {at}) claims {}, more than the {} KiB synack reads in \
                     one block (a packet holds at most {} KiB)",
                    size(u64::from(total)),
                    MAX_BLOCK / 1024,
                    MAX_PACKET / 1024
                )));
            }
            let mut buf = std::mem::take(&mut self.buf);
            buf.clear();
            buf.resize(body_len, 0);
            let read =
                self.read_exact(&mut buf[body_start.min(body_len)..], &format!("the {name}"));
            self.buf = buf;
            read?;
        }
        let tail = self.read_exact_array::<4>(&format!("the end of the {name}"))?;
        let trailer = order.u32(&tail, 0).unwrap_or_default();
        if trailer != total {
            return Err(self.corrupt(format!(
                "the {name} at byte {at} starts with length {total} but ends with {trailer}"
            )));
        }
        if !decoded {
            return Ok(None);
        }
        self.decode_block(kind, order, at, record)
    }

    fn read_exact_array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], CaptureError> {
        let mut b = [0u8; N];
        self.read_exact(&mut b, what)?;
        Ok(b)
    }

    /// Decodes the block body in `self.buf`.
    fn decode_block(
        &mut self,
        kind: u32,
        order: Order,
        at: u64,
        record: u64,
    ) -> Result<Option<(LinkType, Timestamp, u32)>, CaptureError> {
        let name = block_name(kind);
        let body = &self.buf;
        let short = |need: usize| {
            format!(
                "the {name} at byte {at} has {} bytes of fields, fewer than the {need} it must have",
                body.len()
            )
        };
        let (interface_id, units, data_at, caplen, orig_len) = match kind {
            PCAPNG_MAGIC => {
                if body.len() < 12 {
                    return Err(self.corrupt(short(16)));
                }
                if let Format::PcapNg {
                    order: o,
                    interfaces,
                    ..
                } = &mut self.format
                {
                    *o = order;
                    interfaces.clear();
                }
                return Ok(None);
            }
            BLOCK_IDB => {
                let (Some(linktype), Some(snaplen)) = (order.u16(body, 0), order.u32(body, 4))
                else {
                    return Err(self.corrupt(short(8)));
                };
                let mut iface = Interface {
                    linktype: u32::from(linktype),
                    snaplen,
                    tsresol: 6,
                    tsoffset: 0,
                };
                let opts = read_options(order, &body[8..])
                    .map_err(|e| self.corrupt(format!("the {name} at byte {at} has {e}")))?;
                for (code, value) in opts {
                    match (code, value.len()) {
                        (OPT_IF_TSRESOL, 1) => iface.tsresol = value[0],
                        (OPT_IF_TSOFFSET, 8) => {
                            iface.tsoffset = order.u64(value, 0).unwrap_or_default();
                        }
                        _ => {}
                    }
                }
                if let Format::PcapNg { interfaces, .. } = &mut self.format {
                    if interfaces.len() >= MAX_INTERFACES {
                        return Err(CaptureError::Corrupt {
                            path: self.path.clone(),
                            what: format!(
                                "the {name} at byte {at} defines interface {}, more than the \
                                 {MAX_INTERFACES} synack keeps",
                                interfaces.len()
                            ),
                        });
                    }
                    interfaces.push(iface);
                }
                return Ok(None);
            }
            BLOCK_EPB | BLOCK_PB => {
                let word = |i| order.u32(body, i);
                let iface = if kind == BLOCK_EPB {
                    word(0)
                } else {
                    order.u16(body, 0).map(u32::from)
                };
                let (Some(iface), Some(hi), Some(lo), Some(caplen), Some(orig)) =
                    (iface, word(4), word(8), word(12), word(16))
                else {
                    return Err(self.corrupt(short(20)));
                };
                (
                    iface,
                    Some((u64::from(hi) << 32) | u64::from(lo)),
                    20,
                    caplen,
                    orig,
                )
            }
            BLOCK_SPB => {
                let Some(orig) = order.u32(body, 0) else {
                    return Err(self.corrupt(short(4)));
                };
                // No captured length: the data (with its padding) fills the block.
                (0, None, 4, (body.len() - 4).min(orig as usize) as u32, orig)
            }
            _ => return Ok(None),
        };
        let room = body.len() - data_at;
        if caplen > MAX_PACKET {
            return Err(self.corrupt(format!(
                "packet {record} (the {name} at byte {at}) claims {} of captured data, more \
                 than the {} KiB a packet may hold",
                size(u64::from(caplen)),
                MAX_PACKET / 1024
            )));
        }
        if caplen as usize > room {
            return Err(self.corrupt(format!(
                "packet {record} (the {name} at byte {at}) claims {caplen} bytes of captured \
                 data, but its block holds only {room}"
            )));
        }
        let Format::PcapNg {
            interfaces,
            last_ts,
            ..
        } = &mut self.format
        else {
            return Ok(None);
        };
        let Some(iface) = interfaces.get(interface_id as usize).copied() else {
            return Err(CaptureError::Corrupt {
                path: self.path.clone(),
                what: format!(
                    "packet {record} refers to interface {interface_id}, which no Interface \
                     Description Block defines"
                ),
            });
        };
        let link = LinkType::from_linktype(iface.linktype).ok_or_else(|| {
            CaptureError::UnsupportedLinkType {
                path: self.path.clone(),
                linktype: iface.linktype,
            }
        })?;
        let ts = match units {
            Some(units) => iface
                .timestamp(units)
                .ok_or_else(|| CaptureError::Corrupt {
                    path: self.path.clone(),
                    what: format!(
                        "packet {record}: timestamp {units} cannot be read with if_tsresol {:#04x}",
                        iface.tsresol
                    ),
                })?,
            None => *last_ts,
        };
        *last_ts = ts;
        let mut keep = caplen as usize;
        if iface.snaplen > 0 {
            keep = keep.min(iface.snaplen as usize);
        }
        self.frame = data_at..data_at + keep;
        let orig_len = orig_len.max(keep as u32);
        Ok(Some((link, ts, orig_len)))
    }
}

/// The options after a block's fixed fields: (code, value) until
/// `opt_endofopt` or the end. `Err` says which option runs past the block.
fn read_options(order: Order, mut b: &[u8]) -> Result<Vec<(u16, &[u8])>, String> {
    let mut out = Vec::new();
    while b.len() >= 4 {
        let code = order.u16(b, 0).unwrap_or_default();
        let len = usize::from(order.u16(b, 2).unwrap_or_default());
        if code == OPT_ENDOFOPT {
            break;
        }
        let padded = len.div_ceil(4) * 4;
        let Some(value) = b.get(4..4 + len) else {
            return Err(format!(
                "option {code} claiming {len} bytes, past the end of the block"
            ));
        };
        out.push((code, value));
        b = b.get(4 + padded..).unwrap_or_default();
    }
    Ok(out)
}

/// Writes frames to a classic pcap file (LINKTYPE_ETHERNET, nanosecond
/// timestamps: magic 0xa1b23c4d, read by tcpdump, tshark and Wireshark).
pub struct PcapWriter {
    path: PathBuf,
    out: BufWriter<File>,
    snaplen: u32,
}

impl std::fmt::Debug for PcapWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PcapWriter")
            .field("path", &self.path)
            .field("snaplen", &self.snaplen)
            .finish_non_exhaustive()
    }
}

impl PcapWriter {
    /// Creates (or truncates) `path` and writes the pcap file header.
    /// Frames longer than `snaplen` are trimmed (their `orig_len` is kept).
    ///
    /// # Errors
    /// [`CaptureError::Open`] or [`CaptureError::Write`].
    pub fn create(path: &Path, snaplen: u32) -> Result<Self, CaptureError> {
        let file = File::create(path).map_err(|source| CaptureError::Open {
            path: path.to_owned(),
            source,
        })?;
        Self::new(file, path, snaplen)
    }

    /// Writes the pcap file header to `file`, already created for `path`
    /// (by [`crate::privilege::create_output`]).
    ///
    /// # Errors
    /// [`CaptureError::Write`].
    pub fn new(file: File, path: &Path, snaplen: u32) -> Result<Self, CaptureError> {
        let snaplen = snaplen.max(1);
        let mut me = Self {
            path: path.to_owned(),
            out: BufWriter::new(file),
            snaplen,
        };
        let mut header = Vec::with_capacity(24);
        header.extend_from_slice(&PCAP_MAGIC_NANOS.to_ne_bytes());
        header.extend_from_slice(&2u16.to_ne_bytes()); // version 2.4
        header.extend_from_slice(&4u16.to_ne_bytes());
        header.extend_from_slice(&0i32.to_ne_bytes()); // thiszone
        header.extend_from_slice(&0u32.to_ne_bytes()); // sigfigs
        header.extend_from_slice(&snaplen.to_ne_bytes());
        header.extend_from_slice(&LINKTYPE_ETHERNET.to_ne_bytes());
        me.put(&header)?;
        Ok(me)
    }

    /// Appends one frame.
    ///
    /// # Errors
    /// [`CaptureError::Unwritable`] for a frame that is not Ethernet or whose
    /// timestamp does not fit the format (after 2106), [`CaptureError::Write`].
    pub fn write(&mut self, frame: &Frame<'_>) -> Result<(), CaptureError> {
        if frame.link != LinkType::Ethernet {
            return Err(self.unwritable(format!(
                "the file holds Ethernet frames, not {:?}",
                frame.link
            )));
        }
        let Ok(secs) = u32::try_from(frame.ts.secs()) else {
            return Err(self.unwritable(format!(
                "timestamp {} is past what pcap can store (2106)",
                frame.ts
            )));
        };
        let data = &frame.data[..frame.data.len().min(self.snaplen as usize)];
        let incl_len = data.len() as u32;
        let mut record = Vec::with_capacity(16);
        record.extend_from_slice(&secs.to_ne_bytes());
        record.extend_from_slice(&frame.ts.subsec_nanos().to_ne_bytes());
        record.extend_from_slice(&incl_len.to_ne_bytes());
        record.extend_from_slice(&frame.orig_len.max(incl_len).to_ne_bytes());
        self.put(&record)?;
        self.put(data)
    }

    /// Flushes buffered frames to the file.
    ///
    /// # Errors
    /// [`CaptureError::Write`].
    pub fn flush(&mut self) -> Result<(), CaptureError> {
        self.out.flush().map_err(|source| CaptureError::Write {
            path: self.path.clone(),
            source,
        })
    }

    fn put(&mut self, bytes: &[u8]) -> Result<(), CaptureError> {
        self.out
            .write_all(bytes)
            .map_err(|source| CaptureError::Write {
                path: self.path.clone(),
                source,
            })
    }

    fn unwritable(&self, what: String) -> CaptureError {
        CaptureError::Unwritable {
            path: self.path.clone(),
            what,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("synack-test-{}-capture", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join(name)
    }

    /// A tool these tests compare against: missing, the test fails (as in
    /// the e2e suite; the CI script installs them), never passes unchecked.
    fn require_tool(name: &str) {
        let found = std::process::Command::new(name)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        assert!(
            found,
            "{name} is not installed: the CI script installs it (apt-get install tcpdump tshark)"
        );
    }

    /// An Ethernet + IPv4 + TCP frame with `payload` bytes of payload.
    fn tcp_frame(sport: u16, payload: usize) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x08, 0x00]);
        let total = 20 + 20 + payload;
        let mut ip = [0u8; 20];
        ip[0] = 0x45;
        ip[2..4].copy_from_slice(&(total as u16).to_be_bytes());
        ip[8] = 64;
        ip[9] = 6;
        ip[12..16].copy_from_slice(&[127, 0, 0, 1]);
        ip[16..20].copy_from_slice(&[127, 0, 0, 1]);
        f.extend_from_slice(&ip);
        let mut tcp = [0u8; 20];
        tcp[0..2].copy_from_slice(&sport.to_be_bytes());
        tcp[2..4].copy_from_slice(&7000u16.to_be_bytes());
        tcp[12] = 0x50;
        tcp[13] = 0x18;
        f.extend_from_slice(&tcp);
        f.extend((0..payload).map(|i| i as u8));
        f
    }

    struct Owned {
        ts: Timestamp,
        data: Vec<u8>,
        orig_len: u32,
        link: LinkType,
    }

    fn read_all(path: &Path) -> Result<Vec<Owned>, CaptureError> {
        let mut cap = FileCapture::open(path)?;
        let mut out = Vec::new();
        while let Some(f) = cap.next_frame()? {
            out.push(Owned {
                ts: f.ts,
                data: f.data.to_vec(),
                orig_len: f.orig_len,
                link: f.link,
            });
        }
        Ok(out)
    }

    /// Three frames: a short one, one longer than the snap length, one at a
    /// different second.
    fn write_sample(path: &Path) -> Vec<Owned> {
        let frames = vec![
            Owned {
                ts: Timestamp::from_parts(1_700_000_000, 123_456_789),
                data: tcp_frame(40000, 10),
                orig_len: 0,
                link: LinkType::Ethernet,
            },
            Owned {
                ts: Timestamp::from_parts(1_700_000_000, 999_999_999),
                data: tcp_frame(40001, 1000),
                orig_len: 0,
                link: LinkType::Ethernet,
            },
            Owned {
                ts: Timestamp::from_parts(1_700_000_001, 1),
                data: tcp_frame(40002, 0),
                orig_len: 0,
                link: LinkType::Ethernet,
            },
        ];
        let mut w = PcapWriter::create(path, 256).unwrap();
        for f in &frames {
            let frame = Frame {
                link: f.link,
                ts: f.ts,
                data: &f.data,
                orig_len: super::super::wire_len(f.link, &f.data),
            };
            w.write(&frame).unwrap();
        }
        w.flush().unwrap();
        frames
    }

    #[test]
    fn pcap_round_trip_keeps_bytes_timestamps_and_lengths() {
        let path = tmp("roundtrip.pcap");
        let written = write_sample(&path);
        let read = read_all(&path).unwrap();
        assert_eq!(read.len(), written.len());
        for (r, w) in read.iter().zip(&written) {
            assert_eq!(r.link, LinkType::Ethernet);
            assert_eq!(r.ts, w.ts);
            let keep = w.data.len().min(256);
            assert_eq!(r.data, w.data[..keep]);
            assert_eq!(r.orig_len as usize, w.data.len());
        }
        assert_eq!(read[1].data.len(), 256, "trimmed to the snap length");
        assert_eq!(read[1].orig_len, 14 + 20 + 20 + 1000);
    }

    #[test]
    fn writer_refuses_what_pcap_cannot_hold() {
        let path = tmp("refuse.pcap");
        let mut w = PcapWriter::create(&path, 256).unwrap();
        let data = tcp_frame(1, 0);
        let raw = Frame {
            link: LinkType::RawIp,
            ts: Timestamp::from_parts(1, 0),
            data: &data,
            orig_len: 54,
        };
        assert!(matches!(
            w.write(&raw),
            Err(CaptureError::Unwritable { .. })
        ));
        let late = Frame {
            link: LinkType::Ethernet,
            ts: Timestamp::from_parts(1 << 33, 0),
            data: &data,
            orig_len: 54,
        };
        assert!(matches!(
            w.write(&late),
            Err(CaptureError::Unwritable { .. })
        ));
    }

    #[test]
    fn tcpdump_and_tshark_read_what_pcap_writer_wrote() {
        let path = tmp("external.pcap");
        write_sample(&path);
        require_tool("tcpdump");
        require_tool("tshark");
        {
            let out = std::process::Command::new("tcpdump")
                .args(["-nn", "-tt", "--nano", "-r"])
                .arg(&path)
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success(),
                "tcpdump -r failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(text.lines().count(), 3, "{text}");
            assert!(
                text.contains("1700000000.123456789 IP 127.0.0.1.40000 > 127.0.0.1.7000"),
                "{text}"
            );
            assert!(
                text.contains("length 1000"),
                "payload length from the IP header: {text}"
            );
        }
        {
            let out = std::process::Command::new("tshark")
                .args(["-r"])
                .arg(&path)
                .args([
                    "-T",
                    "fields",
                    "-e",
                    "frame.time_epoch",
                    "-e",
                    "frame.len",
                    "-e",
                    "frame.cap_len",
                ])
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success(),
                "tshark -r failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let lines: Vec<&str> = text.lines().collect();
            assert_eq!(lines.len(), 3, "{text}");
            assert!(lines[0].starts_with("1700000000.123456789"), "{text}");
            assert!(lines[1].ends_with("1054\t256"), "{text}");
        }
    }

    #[test]
    fn reads_pcapng_written_by_editcap() {
        // editcap comes with tshark.
        require_tool("editcap");
        let pcap = tmp("for-ng.pcap");
        let ng = tmp("converted.pcapng");
        let written = write_sample(&pcap);
        let st = std::process::Command::new("editcap")
            .args(["-F", "pcapng"])
            .arg(&pcap)
            .arg(&ng)
            .status()
            .unwrap();
        assert!(st.success());
        let read = read_all(&ng).unwrap();
        assert_eq!(read.len(), 3);
        for (r, w) in read.iter().zip(&written) {
            assert_eq!(r.ts, w.ts, "nanosecond if_tsresol honoured");
            assert_eq!(r.data, w.data[..w.data.len().min(256)]);
            assert_eq!(r.orig_len as usize, w.data.len());
        }
    }

    fn block(kind: u32, body: &[u8]) -> Vec<u8> {
        let len = (12 + body.len().div_ceil(4) * 4) as u32;
        let mut b = Vec::new();
        b.extend_from_slice(&kind.to_le_bytes());
        b.extend_from_slice(&len.to_le_bytes());
        b.extend_from_slice(body);
        b.resize(len as usize - 4, 0);
        b.extend_from_slice(&len.to_le_bytes());
        b
    }

    fn shb() -> Vec<u8> {
        let mut body = Vec::new();
        body.extend_from_slice(&0x1a2b_3c4du32.to_le_bytes());
        body.extend_from_slice(&1u16.to_le_bytes());
        body.extend_from_slice(&0u16.to_le_bytes());
        body.extend_from_slice(&(-1i64).to_le_bytes());
        block(PCAPNG_MAGIC, &body)
    }

    fn idb(linktype: u16, tsresol: Option<u8>) -> Vec<u8> {
        let mut body = Vec::new();
        body.extend_from_slice(&linktype.to_le_bytes());
        body.extend_from_slice(&0u16.to_le_bytes());
        body.extend_from_slice(&0u32.to_le_bytes());
        if let Some(r) = tsresol {
            body.extend_from_slice(&9u16.to_le_bytes());
            body.extend_from_slice(&1u16.to_le_bytes());
            body.extend_from_slice(&[r, 0, 0, 0]);
            body.extend_from_slice(&[0, 0, 0, 0]); // opt_endofopt
        }
        block(1, &body)
    }

    fn epb(iface: u32, units: u64, data: &[u8], orig_len: u32) -> Vec<u8> {
        let mut body = Vec::new();
        body.extend_from_slice(&iface.to_le_bytes());
        body.extend_from_slice(&((units >> 32) as u32).to_le_bytes());
        body.extend_from_slice(&(units as u32).to_le_bytes());
        body.extend_from_slice(&(data.len() as u32).to_le_bytes());
        body.extend_from_slice(&orig_len.to_le_bytes());
        body.extend_from_slice(data);
        block(6, &body)
    }

    fn hand_built_pcapng() -> Vec<u8> {
        let frame = tcp_frame(40000, 5);
        let mut f = shb();
        f.extend(idb(1, None)); // default: microseconds
        f.extend(idb(101, Some(9))); // raw IP, nanoseconds
        f.extend(idb(1, Some(0x80 | 10))); // 2^-10 s
        f.extend(epb(0, 1_700_000_000_000_001, &frame, 1000));
        f.extend(epb(1, 1_700_000_000_000_000_002, &frame[14..], 986));
        f.extend(epb(
            2,
            (1_700_000_000 << 10) | 512,
            &frame,
            frame.len() as u32,
        ));
        f
    }

    #[test]
    fn reads_hand_built_pcapng_with_per_interface_link_and_resolution() {
        let path = tmp("hand.pcapng");
        std::fs::write(&path, hand_built_pcapng()).unwrap();
        let read = read_all(&path).unwrap();
        assert_eq!(read.len(), 3);
        assert_eq!(read[0].link, LinkType::Ethernet);
        assert_eq!(read[0].ts, Timestamp::from_parts(1_700_000_000, 1000));
        assert_eq!(read[0].orig_len, 1000);
        assert_eq!(read[1].link, LinkType::RawIp);
        assert_eq!(read[1].ts, Timestamp::from_parts(1_700_000_000, 2));
        assert_eq!(read[1].data.len(), tcp_frame(0, 5).len() - 14);
        assert_eq!(
            read[2].ts,
            Timestamp::from_parts(1_700_000_000, 500_000_000)
        );
    }

    #[test]
    fn unknown_link_types_are_named() {
        let path = tmp("linktype.pcapng");
        let mut f = shb();
        f.extend(idb(147, None));
        f.extend(epb(0, 1, &[1, 2, 3, 4], 4));
        std::fs::write(&path, f).unwrap();
        let err = read_all(&path).err().unwrap();
        assert!(
            matches!(err, CaptureError::UnsupportedLinkType { linktype: 147, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("147"));

        let path = tmp("linktype.pcap");
        let mut pcap = std::fs::read({
            let p = tmp("for-linktype.pcap");
            write_sample(&p);
            p
        })
        .unwrap();
        pcap[20..24].copy_from_slice(&147u32.to_ne_bytes());
        std::fs::write(&path, pcap).unwrap();
        let err = FileCapture::open(&path).err().unwrap();
        assert!(err.to_string().contains("link type 147"), "{err}");
    }

    #[test]
    fn garbage_and_empty_files_are_not_captures() {
        let path = tmp("garbage.txt");
        std::fs::write(&path, b"hello world, not a capture").unwrap();
        let err = FileCapture::open(&path).err().unwrap();
        assert!(matches!(err, CaptureError::NotACapture { .. }), "{err}");
        assert!(err.to_string().contains("68 65 6c 6c"), "{err}");
        std::fs::write(&path, b"").unwrap();
        assert!(
            FileCapture::open(&path)
                .err()
                .unwrap()
                .to_string()
                .contains("empty")
        );
        let missing = tmp("does-not-exist.pcap");
        assert!(matches!(
            FileCapture::open(&missing),
            Err(CaptureError::Open { .. })
        ));
    }

    /// Every prefix of a valid file reads without panicking: frames, then
    /// either a clean end or a `Corrupt` error naming the file.
    #[test]
    fn truncated_files_end_with_an_error_not_a_panic() {
        let pcap_path = tmp("full.pcap");
        write_sample(&pcap_path);
        for (name, full) in [
            ("pcap", std::fs::read(&pcap_path).unwrap()),
            ("pcapng", hand_built_pcapng()),
        ] {
            let cut = tmp(&format!("cut.{name}"));
            for len in 0..full.len() {
                std::fs::write(&cut, &full[..len]).unwrap();
                match read_all(&cut) {
                    Ok(_) => {}
                    Err(e @ (CaptureError::Corrupt { .. } | CaptureError::NotACapture { .. })) => {
                        assert!(e.to_string().contains("cut."), "{e}");
                    }
                    Err(e) => panic!("{name} cut at {len}: unexpected error {e}"),
                }
            }
            // Cutting inside the last record must be reported.
            std::fs::write(&cut, &full[..full.len() - 3]).unwrap();
            let err = read_all(&cut).err().expect("truncation reported");
            assert!(err.to_string().contains("truncated"), "{err}");
        }
    }

    /// Corrupting any byte (with a few values) never panics.
    #[test]
    fn corrupt_bytes_never_panic() {
        let pcap_path = tmp("full2.pcap");
        write_sample(&pcap_path);
        for (name, full) in [
            ("pcap", std::fs::read(&pcap_path).unwrap()),
            ("pcapng", hand_built_pcapng()),
        ] {
            let bad = tmp(&format!("bad.{name}"));
            for at in 0..full.len() {
                for v in [0x00, 0xff, 0x80, 0x01] {
                    let mut f = full.clone();
                    f[at] = v;
                    std::fs::write(&bad, &f).unwrap();
                    let _ = read_all(&bad);
                }
            }
        }
    }

    // ---- absurd headers: a clear error at the first lie, in bounded memory ----

    fn read_bytes(bytes: Vec<u8>) -> (Vec<Owned>, Option<CaptureError>) {
        let mut out = Vec::new();
        let mut cap = match FileCapture::from_reader(Path::new("lie.pcap"), io::Cursor::new(bytes))
        {
            Ok(c) => c,
            Err(e) => return (out, Some(e)),
        };
        loop {
            match cap.next_frame() {
                Ok(Some(f)) => out.push(Owned {
                    ts: f.ts,
                    data: f.data.to_vec(),
                    orig_len: f.orig_len,
                    link: f.link,
                }),
                Ok(None) => return (out, None),
                Err(e) => {
                    assert!(
                        cap.buf.capacity() <= MAX_BLOCK as usize,
                        "{}",
                        cap.buf.capacity()
                    );
                    return (out, Some(e));
                }
            }
        }
    }

    fn pcap_header(snaplen: u32) -> Vec<u8> {
        let mut h = Vec::new();
        h.extend_from_slice(&PCAP_MAGIC_MICROS.to_le_bytes());
        h.extend_from_slice(&[2, 0, 4, 0]);
        h.extend_from_slice(&[0; 8]);
        h.extend_from_slice(&snaplen.to_le_bytes());
        h.extend_from_slice(&1u32.to_le_bytes());
        h
    }

    fn pcap_record(caplen: u32, data: &[u8]) -> Vec<u8> {
        let mut r = Vec::new();
        r.extend_from_slice(&1_700_000_000u32.to_le_bytes());
        r.extend_from_slice(&0u32.to_le_bytes());
        r.extend_from_slice(&caplen.to_le_bytes());
        r.extend_from_slice(&caplen.to_le_bytes());
        r.extend_from_slice(data);
        r
    }

    #[test]
    fn a_4_gib_snaplen_is_only_a_number() {
        let frame = tcp_frame(1, 3);
        let mut f = pcap_header(u32::MAX);
        f.extend(pcap_record(frame.len() as u32, &frame));
        let (frames, err) = read_bytes(f);
        assert!(err.is_none(), "{err:?}");
        assert_eq!(frames.len(), 1);
    }

    #[test]
    fn a_packet_claiming_2_gib_is_refused_before_anything_is_allocated() {
        let frame = tcp_frame(1, 3);
        let mut f = pcap_header(u32::MAX);
        f.extend(pcap_record(frame.len() as u32, &frame));
        f.extend(pcap_record(frame.len() as u32, &frame));
        f.extend(pcap_record(0x8000_0000, &frame));
        let (frames, err) = read_bytes(f);
        assert_eq!(frames.len(), 2);
        let err = err.unwrap().to_string();
        assert!(
            err.contains(
                "packet record 3 (at byte 170) claims 2147483648 bytes (2.0 GiB) of \
                 captured data, more than the 256 KiB a packet may hold (the file's snaplen is \
                 4294967295)"
            ),
            "{err}"
        );
        assert!(err.starts_with("lie.pcap is truncated or corrupt"), "{err}");
        // Within the limit but past the end of the file: truncated, not allocated first.
        let mut f = pcap_header(65535);
        f.extend(pcap_record(MAX_PACKET, &frame));
        let err = read_bytes(f).1.unwrap().to_string();
        assert!(
            err.contains("the data of packet record 1 at byte 40 is cut short: 57 of 262144 bytes"),
            "{err}"
        );
    }

    #[test]
    fn a_pcapng_block_claiming_2_gib_is_refused() {
        let frame = tcp_frame(40000, 5);
        let mut f = shb();
        f.extend(idb(1, None));
        f.extend(epb(0, 1, &frame, 1000));
        let mut lie = epb(0, 2, &frame, 1000);
        lie[4..8].copy_from_slice(&0x8000_0000u32.to_le_bytes());
        f.extend(lie);
        let (frames, err) = read_bytes(f.clone());
        assert_eq!(frames.len(), 1);
        let err = err.unwrap().to_string();
        assert!(
            err.contains(
                "the Enhanced Packet Block of packet 2 (at byte 140) claims 2147483648 \
                 bytes (2.0 GiB), more than the 320 KiB synack reads in one block"
            ),
            "{err}"
        );
        // A block synack skips may be long, but not longer than the file.
        let mut f = shb();
        f.extend(block(0x0bad, b"custom"));
        f[32..36].copy_from_slice(&0x8000_0000u32.to_le_bytes());
        let err = read_bytes(f).1.unwrap().to_string();
        assert!(
            err.contains(
                "the block of type 0x00000bad at byte 28 claims 2147483648 bytes \
                 (2.0 GiB), but the file ends 20 bytes into it (the file was truncated?)"
            ),
            "{err}"
        );
        // An EPB whose captured length is more than its block holds.
        let mut f = shb();
        f.extend(idb(1, None));
        let mut b = epb(0, 1, &frame, 1000);
        b[20..24].copy_from_slice(&0x7fff_ffffu32.to_le_bytes());
        f.extend(b);
        let err = read_bytes(f).1.unwrap().to_string();
        assert!(
            err.contains(
                "packet 1 (the Enhanced Packet Block at byte 48) claims \
                 2147483647 bytes (2.0 GiB) of captured data, more than the 256 KiB"
            ),
            "{err}"
        );
        // Lengths that are not a block's, and a trailer that disagrees.
        let mut f = shb();
        f.extend(idb(1, None));
        f[32..36].copy_from_slice(&13u32.to_le_bytes());
        let err = read_bytes(f).1.unwrap().to_string();
        assert!(
            err.contains("claims a length of 13 bytes: a block is a multiple of 4"),
            "{err}"
        );
        let mut f = shb();
        f.extend(idb(1, None));
        let n = f.len();
        f[n - 4..].copy_from_slice(&24u32.to_le_bytes());
        let err = read_bytes(f).1.unwrap().to_string();
        assert!(
            err.contains("starts with length 20 but ends with 24"),
            "{err}"
        );
    }

    /// A stream of a billion empty packets, then a lie: read one at a time in
    /// the same small buffer (the first 200 000 here, to keep the test short).
    #[test]
    fn a_billion_packet_stream_is_read_in_bounded_memory() {
        struct Endless {
            header: Vec<u8>,
            at: u64,
            lie_after: u64,
        }
        impl Read for Endless {
            fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
                if !self.header.is_empty() {
                    let n = out.len().min(self.header.len());
                    out[..n].copy_from_slice(&self.header[..n]);
                    self.header.drain(..n);
                    return Ok(n);
                }
                let mut n = 0;
                while n + 16 <= out.len() {
                    let caplen: u32 = if self.at == self.lie_after {
                        u32::MAX
                    } else {
                        0
                    };
                    out[n..n + 16].copy_from_slice(&pcap_record(caplen, &[]));
                    self.at += 1;
                    n += 16;
                }
                Ok(n)
            }
        }
        let stream = Endless {
            header: pcap_header(65535),
            at: 0,
            lie_after: 200_000,
        };
        let mut cap = FileCapture::from_reader(Path::new("endless.pcap"), stream).unwrap();
        let mut n = 0u64;
        let err = loop {
            match cap.next_frame() {
                Ok(Some(f)) => {
                    assert!(f.data.is_empty());
                    n += 1;
                }
                Ok(None) => panic!("the stream never ends"),
                Err(e) => break e,
            }
        };
        assert_eq!(n, 200_000);
        assert!(cap.buf.capacity() <= MAX_BLOCK as usize);
        assert!(
            err.to_string()
                .contains("packet record 200001 (at byte 3200024) claims 4294967295"),
            "{err}"
        );
    }

    /// A file of nothing but interface descriptions is refused past 4096.
    #[test]
    fn interfaces_are_bounded() {
        let mut f = shb();
        for _ in 0..=MAX_INTERFACES {
            f.extend(idb(1, None));
        }
        let err = read_bytes(f).1.unwrap().to_string();
        assert!(
            err.contains("defines interface 4096, more than the 4096 synack keeps"),
            "{err}"
        );
    }
}
