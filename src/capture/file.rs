//! Capture files: reading pcap and pcapng (recognised by their magic number,
//! not their name) with pcap-file, and writing classic pcap.
//!
//! Files are untrusted: a truncated or corrupt file ends reading with a
//! [`CaptureError::Corrupt`] naming the file and the record, never a panic.
//! After an error `next_frame` returns `Ok(None)`.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use pcap_file::PcapError;
use pcap_file::pcap::PcapReader;
use pcap_file::pcapng::blocks::interface_description::{
    InterfaceDescriptionBlock, InterfaceDescriptionOption,
};
use pcap_file::pcapng::{Block, PcapNgReader};

use super::{CaptureError, Frame};
use crate::tcp::LinkType;
use crate::time::Timestamp;

const PCAP_MAGIC_MICROS: u32 = 0xa1b2_c3d4;
const PCAP_MAGIC_NANOS: u32 = 0xa1b2_3c4d;
const PCAPNG_MAGIC: u32 = 0x0a0d_0d0a;
const LINKTYPE_ETHERNET: u32 = 1;

/// Frames from a pcap or pcapng file.
pub struct FileCapture {
    path: PathBuf,
    format: Format,
    /// The current frame's bytes (copied out of the reader's buffer).
    buf: Vec<u8>,
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

/// What frames are read from: a file, or any byte stream.
type Source = Box<dyn Read + Send>;

enum Format {
    Pcap {
        reader: PcapReader<Source>,
        link: LinkType,
        nanos: bool,
    },
    PcapNg {
        reader: Box<PcapNgReader<Source>>,
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

impl Interface {
    fn from_idb(idb: &InterfaceDescriptionBlock<'_>) -> Self {
        let mut me = Interface {
            linktype: u32::from(idb.linktype),
            snaplen: idb.snaplen,
            tsresol: 6,
            tsoffset: 0,
        };
        for opt in &idb.options {
            match opt {
                InterfaceDescriptionOption::IfTsResol(r) => me.tsresol = *r,
                InterfaceDescriptionOption::IfTsOffset(o) => me.tsoffset = *o,
                _ => {}
            }
        }
        me
    }

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
        Self::from_reader(path, std::io::BufReader::new(file))
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
        let corrupt = |what: String| CaptureError::Corrupt {
            path: path.to_owned(),
            what,
        };
        let mut reader = reader;
        let mut magic = Vec::with_capacity(4);
        (&mut reader)
            .take(4)
            .read_to_end(&mut magic)
            .map_err(open_err)?;
        // The magic number is read again by the parser.
        let file: Source = Box::new(std::io::Cursor::new(magic.clone()).chain(reader));
        let not_capture = || CaptureError::NotACapture {
            path: path.to_owned(),
            magic: if magic.is_empty() {
                "nothing: the file is empty".to_owned()
            } else {
                magic
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            },
        };
        let Ok(word) = <[u8; 4]>::try_from(magic.as_slice()) else {
            return Err(not_capture());
        };
        let (be, le) = (u32::from_be_bytes(word), u32::from_le_bytes(word));
        let format =
            if [be, le].contains(&PCAP_MAGIC_MICROS) || [be, le].contains(&PCAP_MAGIC_NANOS) {
                let reader =
                    PcapReader::new(file).map_err(|e| corrupt(describe("the file header", &e)))?;
                let header = reader.header();
                let linktype = u32::from(header.datalink);
                let link = LinkType::from_linktype(linktype).ok_or_else(|| {
                    CaptureError::UnsupportedLinkType {
                        path: path.to_owned(),
                        linktype,
                    }
                })?;
                let nanos = header.ts_resolution == pcap_file::TsResolution::NanoSecond;
                Format::Pcap {
                    reader,
                    link,
                    nanos,
                }
            } else if be == PCAPNG_MAGIC {
                let reader = PcapNgReader::new(file)
                    .map_err(|e| corrupt(describe("the section header block", &e)))?;
                Format::PcapNg {
                    reader: Box::new(reader),
                    interfaces: Vec::new(),
                    last_ts: Timestamp::default(),
                }
            } else {
                return Err(not_capture());
            };
        Ok(Self {
            path: path.to_owned(),
            format,
            buf: Vec::new(),
            records: 0,
            done: false,
        })
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
                    data: &self.buf,
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

    /// Reads the next packet into `self.buf`.
    fn read_next(&mut self) -> Result<Option<(LinkType, Timestamp, u32)>, CaptureError> {
        let record = self.records + 1;
        let path = &self.path;
        let corrupt = |what: String| CaptureError::Corrupt {
            path: path.clone(),
            what,
        };
        match &mut self.format {
            Format::Pcap {
                reader,
                link,
                nanos,
            } => {
                let Some(next) = reader.next_raw_packet() else {
                    return Ok(None);
                };
                let raw =
                    next.map_err(|e| corrupt(describe(&format!("packet record {record}"), &e)))?;
                let per_sec = if *nanos { 1_000_000_000 } else { 1_000_000 };
                if raw.ts_frac >= per_sec {
                    return Err(corrupt(format!(
                        "packet record {record} has a sub-second timestamp of {} (must be below {per_sec})",
                        raw.ts_frac
                    )));
                }
                let frac_nanos = if *nanos {
                    raw.ts_frac
                } else {
                    raw.ts_frac * 1000
                };
                let ts = Timestamp::from_parts(u64::from(raw.ts_sec), frac_nanos);
                self.buf.clear();
                self.buf.extend_from_slice(&raw.data);
                Ok(Some((*link, ts, raw.orig_len.max(raw.incl_len))))
            }
            Format::PcapNg {
                reader,
                interfaces,
                last_ts,
            } => loop {
                let Some(next) = reader.next_block() else {
                    return Ok(None);
                };
                let block = next.map_err(|e| {
                    corrupt(describe(
                        &format!("the block after packet {}", record - 1),
                        &e,
                    ))
                })?;
                let (interface_id, units, data, orig_len) = match block {
                    Block::SectionHeader(_) => {
                        interfaces.clear();
                        continue;
                    }
                    Block::InterfaceDescription(idb) => {
                        interfaces.push(Interface::from_idb(&idb));
                        continue;
                    }
                    Block::EnhancedPacket(epb) => {
                        // pcap-file hands over the raw timestamp units as if they were nanoseconds.
                        let units = u64::try_from(epb.timestamp.as_nanos()).unwrap_or(u64::MAX);
                        (epb.interface_id, Some(units), epb.data, epb.original_len)
                    }
                    Block::Packet(pb) => (
                        u32::from(pb.interface_id),
                        Some(pb.timestamp),
                        pb.data,
                        pb.original_len,
                    ),
                    // No timestamp, always the first interface.
                    Block::SimplePacket(spb) => (0, None, spb.data, spb.original_len),
                    _ => continue,
                };
                let Some(iface) = interfaces.get(interface_id as usize).copied() else {
                    return Err(corrupt(format!(
                        "packet {record} refers to interface {interface_id}, which no Interface Description Block defines"
                    )));
                };
                let link = LinkType::from_linktype(iface.linktype).ok_or_else(|| {
                    CaptureError::UnsupportedLinkType {
                        path: path.clone(),
                        linktype: iface.linktype,
                    }
                })?;
                let ts = match units {
                    Some(units) => iface.timestamp(units).ok_or_else(|| {
                        corrupt(format!(
                            "packet {record}: timestamp {units} cannot be read with if_tsresol {:#04x}",
                            iface.tsresol
                        ))
                    })?,
                    None => *last_ts,
                };
                *last_ts = ts;
                // A Simple Packet Block's data includes its padding.
                let mut keep = data.len().min(orig_len as usize);
                if iface.snaplen > 0 {
                    keep = keep.min(iface.snaplen as usize);
                }
                self.buf.clear();
                self.buf.extend_from_slice(&data[..keep]);
                let orig_len = orig_len.max(u32::try_from(keep).unwrap_or(u32::MAX));
                return Ok(Some((link, ts, orig_len)));
            },
        }
    }
}

/// Says what was wrong with `what` in words a user can act on.
fn describe(what: &str, e: &PcapError) -> String {
    match e {
        PcapError::IncompleteBuffer => format!("{what} is cut short (the file was truncated?)"),
        PcapError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            format!("{what} runs past the end of the file (the file was truncated?)")
        }
        PcapError::IoError(io) => format!("reading {what} failed: {io}"),
        PcapError::InvalidField(field) => format!("{what} is malformed: {field}"),
        PcapError::InvalidInterfaceId(id) => {
            format!("{what} refers to interface {id}, which is not defined")
        }
        PcapError::Utf8Error(_) | PcapError::FromUtf8Error(_) => {
            format!("{what} has a text option that is not UTF-8")
        }
    }
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
        let dir = std::env::temp_dir().join(format!("synack-capture-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join(name)
    }

    fn tool(name: &str) -> bool {
        std::process::Command::new(name)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
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
        let mut checked = 0;
        if tool("tcpdump") {
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
            checked += 1;
        }
        if tool("tshark") {
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
            checked += 1;
        }
        if checked == 0 {
            eprintln!(
                "NOTE: neither tcpdump nor tshark is installed; external readers not checked"
            );
        }
    }

    #[test]
    fn reads_pcapng_written_by_editcap() {
        if !tool("editcap") {
            eprintln!("NOTE: editcap is not installed; the hand-built pcapng test still runs");
            return;
        }
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
}
