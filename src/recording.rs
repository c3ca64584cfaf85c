//! Session recordings (`--record FILE`, `synack replay FILE`): a run's whole
//! event stream, the bytes of each packet included, after a header that says
//! what ran where. The file holds the model's *output*: a replay shows what
//! the recorded run showed, whatever a later synack's model would make of
//! the same packets. The format is described in docs/events.md.
//!
//! ```text
//! {"format":"synack-recording","version":1,"synack":"0.1.0","kernel":"6.1.0-31-amd64",…}
//! {"Step":{"ts":1796055588773400648,"index":1,…}}
//! {"Packet":{"segment":{…},"conn":1,…,"raw":{"link":"Ethernet","bytes":"0000…"}}}
//! …
//! {"end":{"events":57}}
//! ```
//!
//! Pure but for [`Header::new`] (the clock, `uname`) and [`open`] (a file).

use std::io::{self, Read, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::event::Event;
use crate::i18n::Lang;
use crate::model::KernelMode;
use crate::time::Timestamp;

/// What the header's `format` says: this is a synack recording.
pub const FORMAT: &str = "synack-recording";

/// The format this synack writes and reads. It goes up when a line written
/// by an older synack would no longer be read as it was meant (a renamed
/// field, a field that changed meaning); fields added with a default keep it.
pub const VERSION: u32 = 1;

/// A script has no more steps than this (a damaged count is refused).
const MAX_STEPS: usize = 1_000_000;

/// A decompressed recording is refused past this size (a gzip bomb).
const MAX_BYTES: u64 = 1 << 30;

/// The first line of a recording.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// Always [`FORMAT`].
    pub format: String,
    /// [`VERSION`] when it was written.
    pub version: u32,
    /// The synack that recorded it (`0.1.0`).
    pub synack: String,
    /// The kernel release of the machine it ran on (`uname -r`).
    pub kernel: String,
    /// When the run began, UTC: `2025-03-01T09:30:00Z`.
    pub recorded: String,
    /// The language of the recording run (`en`, `zh`); a replay starts in it
    /// unless told otherwise.
    pub lang: String,
    /// What the kernel could tell (`Exact`: tracepoint + sock_diag,
    /// `PollOnly`: sock_diag, `None`: a file's packets only).
    pub kernel_states: KernelMode,
    /// What ran.
    pub source: Source,
}

/// What a recorded run was.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Source {
    /// `synack demo`: the scenario's name (or its script's path), the
    /// script as it was written (the quiz and the pace need its steps), the
    /// peers that got a lane, how the lab ran.
    Demo {
        name: String,
        script: String,
        peers: Vec<String>,
        rootless: bool,
        ipv6: bool,
    },
    /// `synack watch`: the interface and the filter.
    Watch { iface: String, filter: String },
    /// `synack read`: the capture file's name.
    Read { file: String },
}

impl Source {
    /// How `--text` and the error messages name it: `demo kill-peer`.
    #[must_use]
    pub fn describe(&self) -> String {
        match self {
            Source::Demo { name, .. } => format!("demo {name}"),
            Source::Watch { iface, filter } => format!("watch {iface} ({filter})"),
            Source::Read { file } => format!("read {file}"),
        }
    }
}

impl Header {
    /// A header for a run beginning now on this machine.
    #[must_use]
    pub fn new(source: Source, lang: Lang, kernel_states: KernelMode) -> Self {
        Self {
            format: FORMAT.to_owned(),
            version: VERSION,
            synack: env!("CARGO_PKG_VERSION").to_owned(),
            kernel: kernel_release(),
            recorded: rfc3339(Timestamp::now()),
            lang: lang.code().to_owned(),
            kernel_states,
            source,
        }
    }

    /// The day it was recorded (`2025-03-01`), as the screen says it.
    #[must_use]
    pub fn date(&self) -> &str {
        self.recorded.get(..10).unwrap_or(&self.recorded)
    }

    /// `recorded on Linux 6.1.0-31-amd64 on 2025-03-01`.
    #[must_use]
    pub fn mark(&self) -> String {
        format!("recorded on Linux {} on {}", self.kernel, self.date())
    }

    /// The recording run's language.
    #[must_use]
    pub fn language(&self) -> Lang {
        Lang::from_locale(&self.lang)
    }
}

/// The last line: how many events came before it. A file without it was
/// cut short.
#[derive(Debug, Serialize, Deserialize)]
struct End {
    events: u64,
}

#[derive(Debug, Serialize, Deserialize)]
struct EndLine {
    end: End,
}

/// A recording read whole.
#[derive(Clone, Debug)]
pub struct Recording {
    pub header: Header,
    /// In the order the run showed them (time order).
    pub events: Vec<Event>,
}

/// Writes a recording: the header at once, each event as it comes, the end
/// line at [`Writer::finish`].
pub struct Writer<W: Write> {
    out: W,
    events: u64,
}

impl<W: Write> Writer<W> {
    /// # Errors
    /// Writing the header failed.
    pub fn new(mut out: W, header: &Header) -> io::Result<Self> {
        serde_json::to_writer(&mut out, header).map_err(io::Error::other)?;
        out.write_all(b"\n")?;
        Ok(Self { out, events: 0 })
    }

    /// # Errors
    /// Writing failed.
    pub fn event(&mut self, event: &Event) -> io::Result<()> {
        serde_json::to_writer(&mut self.out, event).map_err(io::Error::other)?;
        self.out.write_all(b"\n")?;
        self.events += 1;
        Ok(())
    }

    /// Writes the end line and flushes; gives the output back.
    ///
    /// # Errors
    /// Writing failed.
    pub fn finish(mut self) -> io::Result<W> {
        let end = EndLine {
            end: End {
                events: self.events,
            },
        };
        serde_json::to_writer(&mut self.out, &end).map_err(io::Error::other)?;
        self.out.write_all(b"\n")?;
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Why a file does not play. Each names the file, and the line when one is
/// to blame.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    #[error("{file} is empty: not a synack recording")]
    Empty { file: String },
    #[error(
        "{file} is a capture file ({what}), not a synack recording: `synack read {file}` shows it"
    )]
    Capture { file: String, what: &'static str },
    #[error(
        "{file} holds a run's model inputs (a test fixture written by --record-inputs), not a \
         session recording: record one with `--record FILE`"
    )]
    Inputs { file: String },
    #[error(
        "{file}:{line}: not a synack recording ({why}); a recording begins with a header line \
         {{\"format\":\"synack-recording\",\"version\":…}}, as `--record FILE` writes it"
    )]
    NotRecording {
        file: String,
        line: usize,
        why: String,
    },
    #[error(
        "{file} was recorded by synack {synack} in recording format {version}; this synack ({ours}) \
         reads format {VERSION} only: play it with synack {synack} or newer"
    )]
    Newer {
        file: String,
        version: u32,
        synack: String,
        ours: &'static str,
    },
    #[error(
        "{file} was recorded by synack {synack} in recording format {version}, which this synack \
         ({ours}) no longer reads (it reads format {VERSION}): play it with synack {synack}, or \
         record the run again"
    )]
    Older {
        file: String,
        version: u32,
        synack: String,
        ours: &'static str,
    },
    #[error("{file}:{line}: {why}")]
    Corrupt {
        file: String,
        line: usize,
        why: String,
    },
    #[error(
        "{file}:{line}: the recording stops here without its end line: it was cut short (the run \
         that wrote it was killed, or the file was not copied whole)"
    )]
    Truncated { file: String, line: usize },
    #[error("{file}: {why}")]
    Unreadable { file: String, why: String },
}

/// Reads a recording from a file (plain or gzip-compressed).
///
/// # Errors
/// The file cannot be read, or is not a recording this synack plays (see
/// [`FormatError`]).
pub fn open(path: &Path) -> anyhow::Result<Recording> {
    use anyhow::Context;
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(MAX_BYTES + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read {}", path.display()))?;
    if bytes.len() as u64 > MAX_BYTES {
        anyhow::bail!(
            "{} is larger than {} MiB: not a recording synack plays",
            path.display(),
            MAX_BYTES >> 20
        );
    }
    Ok(parse(&bytes, &path.display().to_string())?)
}

/// Reads a recording from its bytes (plain or gzip-compressed); `file` names
/// it in errors.
///
/// # Errors
/// See [`FormatError`].
pub fn parse(bytes: &[u8], file: &str) -> Result<Recording, FormatError> {
    let file = crate::event::sanitize(file).into_owned();
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut text = Vec::new();
        let r = flate2::read::GzDecoder::new(bytes)
            .take(MAX_BYTES + 1)
            .read_to_end(&mut text);
        return match r {
            Ok(_) if text.len() as u64 > MAX_BYTES => Err(FormatError::Unreadable {
                file,
                why: format!("it unpacks to more than {} MiB", MAX_BYTES >> 20),
            }),
            Ok(_) => parse_text(&text, file),
            Err(e) => Err(FormatError::Unreadable {
                file,
                why: format!(
                    "a gzip file that cannot be unpacked ({e}): it is damaged or cut short"
                ),
            }),
        };
    }
    parse_text(bytes, file)
}

fn capture_kind(bytes: &[u8]) -> Option<&'static str> {
    let magic = bytes.get(..4)?;
    match magic {
        [0xd4, 0xc3, 0xb2, 0xa1]
        | [0xa1, 0xb2, 0xc3, 0xd4]
        | [0x4d, 0x3c, 0xb2, 0xa1]
        | [0xa1, 0xb2, 0x3c, 0x4d] => Some("pcap"),
        [0x0a, 0x0d, 0x0d, 0x0a] => Some("pcapng"),
        _ => None,
    }
}

/// The model's inputs, as the test fixtures hold them, begin with one of these.
const INPUT_KINDS: [&str; 6] = [
    "Segment",
    "Rejected",
    "Event",
    "KernelMode",
    "Snapshot",
    "Transition",
];

fn parse_text(bytes: &[u8], file: String) -> Result<Recording, FormatError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(FormatError::Empty { file });
    }
    if let Some(what) = capture_kind(bytes) {
        return Err(FormatError::Capture { file, what });
    }
    // Lines are numbered from 1; a last line without its newline is kept
    // (cut short, it will not parse).
    let mut lines = bytes
        .split(|&b| b == b'\n')
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .filter(|(_, l)| !l.iter().all(u8::is_ascii_whitespace));
    let Some((first_no, first)) = lines.next() else {
        return Err(FormatError::Empty { file });
    };
    let header = read_header(first, first_no, &file)?;
    let mut events = Vec::new();
    let last_no = bytes.split(|&b| b == b'\n').count();
    let complete = bytes.ends_with(b"\n");
    for (no, line) in lines {
        let cut = no == last_no && !complete;
        let text = std::str::from_utf8(line).map_err(|_| FormatError::Corrupt {
            file: file.clone(),
            line: no,
            why: "not UTF-8 text: the file is damaged".into(),
        })?;
        if text.starts_with("{\"end\"") {
            let end: EndLine = serde_json::from_str(text).map_err(|e| {
                if cut || e.is_eof() {
                    FormatError::Truncated {
                        file: file.clone(),
                        line: no,
                    }
                } else {
                    FormatError::Corrupt {
                        file: file.clone(),
                        line: no,
                        why: format!("a damaged end line ({e})"),
                    }
                }
            })?;
            if end.end.events != events.len() as u64 {
                return Err(FormatError::Corrupt {
                    file,
                    line: no,
                    why: format!(
                        "the end line counts {} events, but {} came before it: lines are missing",
                        end.end.events,
                        events.len()
                    ),
                });
            }
            if let Some((after, _)) = lines_after(bytes, no) {
                return Err(FormatError::Corrupt {
                    file,
                    line: after,
                    why: "more after the end line: two files joined, or a damaged file".into(),
                });
            }
            return Ok(Recording { header, events });
        }
        match serde_json::from_str::<Event>(text) {
            Ok(Event::Step(s)) if s.index == 0 || s.index > s.total || s.total > MAX_STEPS => {
                return Err(FormatError::Corrupt {
                    file,
                    line: no,
                    why: format!("step {} of {}: a damaged step", s.index, s.total),
                });
            }
            Ok(ev) => events.push(ev),
            Err(e) if cut || e.is_eof() => {
                return Err(FormatError::Truncated { file, line: no });
            }
            Err(e) => {
                return Err(FormatError::Corrupt {
                    file,
                    line: no,
                    why: format!("not an event of recording format {} ({e})", header.version),
                });
            }
        }
    }
    Err(FormatError::Truncated {
        file,
        line: last_no.max(first_no),
    })
}

/// The first line that is not blank after line `no`.
fn lines_after(bytes: &[u8], no: usize) -> Option<(usize, &[u8])> {
    bytes
        .split(|&b| b == b'\n')
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .skip(no)
        .find(|(_, l)| !l.iter().all(u8::is_ascii_whitespace))
}

fn read_header(line: &[u8], no: usize, file: &str) -> Result<Header, FormatError> {
    let not = |why: String| FormatError::NotRecording {
        file: file.to_owned(),
        line: no,
        why,
    };
    let text = std::str::from_utf8(line).map_err(|_| not("it is not text".into()))?;
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| not(format!("its first line is not JSON: {e}")))?;
    let Some(obj) = value.as_object() else {
        return Err(not("its first line is not a JSON object".into()));
    };
    if obj.get("format").and_then(|f| f.as_str()) != Some(FORMAT) {
        if obj.len() == 1 && obj.keys().all(|k| INPUT_KINDS.contains(&k.as_str())) {
            return Err(FormatError::Inputs {
                file: file.to_owned(),
            });
        }
        return Err(not("its first line is not a recording's header".into()));
    }
    let synack = obj.get("synack").and_then(|s| s.as_str()).map_or_else(
        || "(unknown)".to_owned(),
        |s| crate::event::sanitize(s).into_owned(),
    );
    let version = obj.get("version").and_then(serde_json::Value::as_u64);
    let Some(version) = version.and_then(|v| u32::try_from(v).ok()) else {
        return Err(FormatError::Corrupt {
            file: file.to_owned(),
            line: no,
            why: "the header has no format version".into(),
        });
    };
    let ours = env!("CARGO_PKG_VERSION");
    if version > VERSION {
        return Err(FormatError::Newer {
            file: file.to_owned(),
            version,
            synack,
            ours,
        });
    }
    if version < VERSION {
        return Err(FormatError::Older {
            file: file.to_owned(),
            version,
            synack,
            ours,
        });
    }
    serde_json::from_value(value).map_err(|e| FormatError::Corrupt {
        file: file.to_owned(),
        line: no,
        why: format!("a damaged header ({e})"),
    })
}

/// The running kernel's release (`uname -r`), or `unknown`.
#[must_use]
pub fn kernel_release() -> String {
    // SAFETY: uname fills the struct it is given; zeroed is a valid start.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `u` is a valid, writable utsname.
    if unsafe { libc::uname(&mut u) } != 0 {
        return "unknown".into();
    }
    let bytes: Vec<u8> = u
        .release
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// A time as RFC 3339 in UTC, to the second: `2025-03-01T09:30:00Z`.
#[must_use]
pub fn rfc3339(ts: Timestamp) -> String {
    let secs = ts.secs();
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The proleptic Gregorian date of a day counted from 1970-01-01 (Howard
/// Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// A recording of each built-in scenario, made on a real lab by
/// `scripts/record-lessons` and compiled in (gzip): `synack replay NAME`
/// plays one with no lab at all.
macro_rules! builtin {
    ($name:literal) => {
        (
            $name,
            include_bytes!(concat!("../assets/recordings/", $name, ".synack.gz")).as_slice(),
        )
    };
}

const BUILTIN: [(&str, &[u8]); 25] = [
    builtin!("handshake"),
    builtin!("data"),
    builtin!("close"),
    builtin!("time-wait"),
    builtin!("kill-peer"),
    builtin!("abort"),
    builtin!("refused"),
    builtin!("backlog"),
    builtin!("backlog-abort"),
    builtin!("half-close"),
    builtin!("keepalive"),
    builtin!("keepalive-reboot"),
    builtin!("heartbeat"),
    builtin!("shared-fd"),
    builtin!("concurrent"),
    builtin!("epoll"),
    builtin!("nonblocking"),
    builtin!("select"),
    builtin!("urgent"),
    builtin!("peek"),
    builtin!("zero-window"),
    builtin!("retransmit"),
    builtin!("loss"),
    builtin!("simultaneous-close"),
    builtin!("udp"),
];

/// The built-in recording of scenario `name`, read.
///
/// # Errors
/// The compiled-in recording does not read (a test checks each does).
#[must_use]
pub fn builtin(name: &str) -> Option<Result<Recording, FormatError>> {
    BUILTIN
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(n, bytes)| parse(bytes, &format!("the built-in recording of {n}")))
}

/// The scenarios with a built-in recording, in teaching order.
#[must_use]
pub fn builtin_names() -> Vec<&'static str> {
    BUILTIN.iter().map(|(n, _)| *n).collect()
}

/// What `synack replay ARG` plays: the file at `arg` when there is one,
/// else the built-in recording of the scenario named `arg`.
///
/// # Errors
/// Neither exists, or the file is not a recording this synack plays.
pub fn find(arg: &Path) -> anyhow::Result<Recording> {
    if arg.exists() {
        return open(arg);
    }
    let name = arg.to_string_lossy();
    if let Some(found) = builtin(&name) {
        return Ok(found?);
    }
    let name = crate::event::sanitize(&name).into_owned();
    if name.contains('/') || std::path::Path::new(&name).extension().is_some() {
        anyhow::bail!("cannot open {name}: no such file");
    }
    anyhow::bail!(
        "no file named {name}, and no scenario called {name} has a built-in recording; \
         those that do: {}",
        builtin_names().join(", ")
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{CallEvent, CallResult, StepEvent};

    fn header() -> Header {
        Header::new(
            Source::Demo {
                name: "handshake".into(),
                script: "server listen\n".into(),
                peers: vec!["server".into()],
                rootless: false,
                ipv6: false,
            },
            Lang::Zh,
            KernelMode::Exact,
        )
    }

    fn events() -> Vec<Event> {
        vec![
            Event::Step(Box::new(StepEvent {
                ts: Timestamp(1_000),
                index: 1,
                total: 1,
                line: 1,
                narration: None,
            })),
            Event::Call(Box::new(CallEvent {
                ts: Timestamp(2_000),
                endpoint: "server".into(),
                call: "listen".into(),
                args: "128".into(),
                result: Some(CallResult::Ok),
                local: Some("127.0.0.1:7000".parse().unwrap()),
                times: None,
                data: None,
            })),
        ]
    }

    fn written(header: &Header, events: &[Event]) -> Vec<u8> {
        let mut w = Writer::new(Vec::new(), header).unwrap();
        for e in events {
            w.event(e).unwrap();
        }
        w.finish().unwrap()
    }

    fn error(bytes: &[u8]) -> String {
        match parse(bytes, "x.synack") {
            Ok(r) => panic!("read as a recording: {:?}", r.header),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn a_recording_reads_back_as_it_was_written() {
        let h = header();
        let bytes = written(&h, &events());
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(
            text.starts_with(r#"{"format":"synack-recording","version":1,"#),
            "{text}"
        );
        assert!(text.ends_with("{\"end\":{\"events\":2}}\n"), "{text}");
        let r = parse(&bytes, "x").unwrap();
        assert_eq!(r.header, h);
        assert_eq!(r.events, events());
        assert_eq!(r.header.language(), Lang::Zh);
        assert_eq!(r.header.synack, env!("CARGO_PKG_VERSION"));
        assert!(!r.header.kernel.is_empty());
        // Compressed, it reads the same.
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&bytes).unwrap();
        let r = parse(&gz.finish().unwrap(), "x.gz").unwrap();
        assert_eq!(r.events, events());
    }

    #[test]
    fn the_header_says_where_and_when() {
        let mut h = header();
        h.kernel = "6.1.0-31-amd64".into();
        h.recorded = "2025-03-01T09:30:00Z".into();
        assert_eq!(h.date(), "2025-03-01");
        assert_eq!(h.mark(), "recorded on Linux 6.1.0-31-amd64 on 2025-03-01");
        assert_eq!(h.source.describe(), "demo handshake");
        assert_eq!(rfc3339(Timestamp(0)), "1970-01-01T00:00:00Z");
        assert_eq!(
            rfc3339(Timestamp::from_parts(1_740_821_400, 5)),
            "2025-03-01T09:30:00Z"
        );
        // A leap day, and the end of a century that is not a leap year.
        assert_eq!(
            rfc3339(Timestamp::from_parts(951_782_400, 0)),
            "2000-02-29T00:00:00Z"
        );
        assert_eq!(
            rfc3339(Timestamp::from_parts(4_107_542_399, 0)),
            "2100-02-28T23:59:59Z"
        );
    }

    #[test]
    fn another_format_version_says_which_synack_plays_it() {
        for (version, says) in [(2, "reads format 1 only"), (0, "no longer reads")] {
            let mut h = header();
            h.version = version;
            h.synack = "9.9.9".into();
            let e = error(&written(&h, &events()));
            assert!(e.contains(says), "{e}");
            assert!(e.contains(&format!("format {version}")), "{e}");
            assert!(e.contains("synack 9.9.9"), "{e}");
        }
        // A newer header with fields this synack does not know still says
        // its version, not that the header is damaged.
        let e = error(
            b"{\"format\":\"synack-recording\",\"version\":7,\"synack\":\"3.0\",\"new\":{}}\n",
        );
        assert!(e.contains("format 7") && e.contains("synack 3.0"), "{e}");
    }

    #[test]
    fn what_is_not_a_recording_is_named_with_its_line() {
        assert!(error(b"").contains("is empty"));
        assert!(error(b"\n \n").contains("is empty"));
        let e = error(b"hello world\n");
        assert!(e.starts_with("x.synack:1: not a synack recording"), "{e}");
        let e = error(b"\n\n[1,2]\n");
        assert!(e.starts_with("x.synack:3: not a synack recording"), "{e}");
        let e = error(b"{\"name\":\"x\"}\n");
        assert!(e.contains("not a recording's header"), "{e}");
        let e = error(&[0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0]);
        assert!(
            e.contains("capture file (pcap)") && e.contains("synack read"),
            "{e}"
        );
        let e = error(b"{\"KernelMode\":{\"ts\":1,\"mode\":\"Exact\"}}\n");
        assert!(e.contains("model inputs"), "{e}");
        let e = error(&[0xff, 0xfe, 0x00, 0x41, b'\n']);
        assert!(e.contains("x.synack:1:") && e.contains("not text"), "{e}");
        let e = error(&[0x1f, 0x8b, 8, 0, 0, 0]);
        assert!(e.contains("gzip"), "{e}");
    }

    #[test]
    fn a_cut_or_damaged_recording_names_the_line() {
        let good = written(&header(), &events());
        let text = String::from_utf8(good).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        // Cut inside line 3.
        let cut = &text[..text.find(&lines[2][5..]).unwrap()];
        let e = error(cut.as_bytes());
        assert!(
            e.starts_with("x.synack:3:") && e.contains("cut short"),
            "{e}"
        );
        // Cut after line 3: no end line.
        let cut = format!("{}\n{}\n{}\n", lines[0], lines[1], lines[2]);
        let e = error(cut.as_bytes());
        assert!(e.contains("cut short"), "{e}");
        // A damaged event.
        let bad = text.replace("\"listen\"", "42");
        let e = error(bad.as_bytes());
        assert!(e.starts_with("x.synack:3: not an event"), "{e}");
        // A step that cannot be.
        let bad = text.replace("\"index\":1,\"total\":1", "\"index\":3,\"total\":1");
        let e = error(bad.as_bytes());
        assert!(e.starts_with("x.synack:2: step 3 of 1"), "{e}");
        // A line lost: the end line's count says so.
        let lost = format!("{}\n{}\n{}\n", lines[0], lines[1], lines[3]);
        let e = error(lost.as_bytes());
        assert!(
            e.starts_with("x.synack:3:") && e.contains("lines are missing"),
            "{e}"
        );
        // Something after the end line.
        let e = error(format!("{text}{}\n", lines[1]).as_bytes());
        assert!(
            e.starts_with("x.synack:5:") && e.contains("after the end line"),
            "{e}"
        );
        // A damaged header.
        let e = error(text.replacen("\"lang\"", "\"lung\"", 1).as_bytes());
        assert!(e.starts_with("x.synack:1: a damaged header"), "{e}");
        // Binary noise never panics.
        let mut noise = text.into_bytes();
        for i in (40..noise.len()).step_by(37) {
            noise[i] ^= 0x5a;
            let _ = parse(&noise, "noise");
        }
    }

    #[test]
    fn every_scenario_has_a_built_in_recording_that_keeps_the_rules() {
        let names: Vec<&str> = crate::lab::scenarios().iter().map(|s| s.name).collect();
        assert_eq!(
            builtin_names(),
            names,
            "one recording per scenario, in order"
        );
        for name in names {
            let r = builtin(name).unwrap().unwrap_or_else(|e| panic!("{e}"));
            let Source::Demo {
                name: n,
                script,
                peers,
                ..
            } = &r.header.source
            else {
                panic!("{name}: {:?}", r.header.source);
            };
            assert_eq!(n, name);
            assert_eq!(
                script,
                crate::lab::scenario(name).unwrap().text,
                "{name}: re-record it"
            );
            assert!(!peers.is_empty());
            assert!(
                r.events
                    .iter()
                    .any(|e| matches!(e, Event::Packet(p) if p.raw.is_some())),
                "{name}: packets without their bytes"
            );
            let t0 = r.events.first().map_or(Timestamp(0), Event::ts);
            let broken =
                crate::model::rules::violations(&crate::model::rules::lines_of(&r.events, t0));
            assert!(broken.is_empty(), "{name}:\n{}", broken.join("\n"));
        }
    }

    #[test]
    fn replay_finds_a_file_or_a_scenario_s_recording() {
        let e = find(Path::new("no-such-scenario")).unwrap_err().to_string();
        assert!(e.contains("no scenario called no-such-scenario"), "{e}");
        let e = find(Path::new("/nonexistent/x.synack"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("no such file"), "{e}");
    }
}
