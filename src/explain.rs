//! Explanations for learners: what a state, a packet, a note, a call, an
//! errno, a lab action, a scenario or a topic means, why the kernel does it
//! and what a programmer should do about it. The texts are data in
//! `assets/explain/{en,zh}.toml`, compiled in.
//!
//! Pure and low in the layers: it knows the TCP model's values and the event
//! types (to name what the views show), nothing of the sources, the app or
//! the views.
//!
//! Keys are the names synack prints: a state as the RFC writes it
//! (`TIME-WAIT`), a packet kind from [`classify`] (`SYN-ACK`), a packet note
//! as the contract writes it (`zero_window`) or a state note's
//! [`Note::key`], a call (`connect`) or socket option (`SO_REUSEADDR`), an
//! errno (`ECONNRESET`), a reset's reason as the kernel names it
//! (`NO_SOCKET`), a [`LabAction::kind`], a scenario's name, a topic.
//! Lookups ignore case, `-`, `_` and spaces, so `time_wait`, `TIME-WAIT` and
//! `timewait` are the same key; entries may list more names in `also`.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::Deserialize;

use crate::event::{LabAction, PacketEvent};
use crate::i18n::Lang;
use crate::tcp::TcpState;
use crate::tcp::state::Note;
use crate::tcp::track::Notes;

/// What an entry explains.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Topic,
    State,
    Packet,
    Note,
    Call,
    Errno,
    /// Why the kernel sent a RST (`rst:NO_SOCKET`).
    Rst,
    /// A socket's congestion state (`cong:Recovery`).
    Cong,
    /// Why the kernel dropped a segment (`drop:TCP_LISTEN_OVERFLOW`).
    Drop,
    Action,
    Scenario,
}

impl Kind {
    /// In the order a list shows them; a bare name that several kinds know
    /// is looked up in [`Kind::PREFERENCE`] order instead.
    pub const ALL: [Kind; 11] = [
        Kind::State,
        Kind::Packet,
        Kind::Note,
        Kind::Call,
        Kind::Errno,
        Kind::Rst,
        Kind::Cong,
        Kind::Drop,
        Kind::Action,
        Kind::Scenario,
        Kind::Topic,
    ];

    /// Which entry a bare name means when several kinds have it: a topic
    /// (`keepalive`) says the most, a scenario the least.
    pub const PREFERENCE: [Kind; 11] = [
        Kind::Topic,
        Kind::State,
        Kind::Packet,
        Kind::Errno,
        Kind::Rst,
        Kind::Cong,
        Kind::Drop,
        Kind::Call,
        Kind::Note,
        Kind::Action,
        Kind::Scenario,
    ];

    /// The table's name in the data files (`[state.TIME-WAIT]`), and the
    /// prefix a lookup may carry (`state:TIME-WAIT`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Topic => "topic",
            Kind::State => "state",
            Kind::Packet => "packet",
            Kind::Note => "note",
            Kind::Call => "call",
            Kind::Errno => "errno",
            Kind::Rst => "rst",
            Kind::Cong => "cong",
            Kind::Drop => "drop",
            Kind::Action => "action",
            Kind::Scenario => "scenario",
        }
    }

    fn from_word(word: &str) -> Option<Kind> {
        let w = word.to_ascii_lowercase();
        let w = w.strip_suffix('s').unwrap_or(&w);
        if w == "reset" {
            return Some(Kind::Rst);
        }
        if w == "congestion" {
            return Some(Kind::Cong);
        }
        Kind::ALL.into_iter().find(|k| k.as_str() == w)
    }
}

/// One explanation in one language. `title` and `what` are always there.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// A short heading: the name and a few words.
    pub title: String,
    /// What happened, or what the thing is.
    pub what: String,
    /// Why the kernel (or the protocol) does it.
    #[serde(default)]
    pub why: String,
    /// What a programmer should do about it.
    #[serde(default, rename = "do")]
    pub todo: String,
    /// More names that find this entry (`EWOULDBLOCK`, `reuseaddr`); read
    /// from the English file only.
    #[serde(default)]
    pub also: Vec<String>,
}

/// The words around the entries, in one language (`[meta]`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Meta {
    pub what: String,
    pub why: String,
    #[serde(rename = "do")]
    pub todo: String,
    pub see_also: String,
    pub heading: String,
    pub usage: String,
    pub state: String,
    pub packet: String,
    pub note: String,
    pub call: String,
    pub errno: String,
    pub rst: String,
    pub cong: String,
    pub drop: String,
    pub action: String,
    pub scenario: String,
    pub topic: String,
}

impl Meta {
    /// The heading of a kind's group in the list.
    #[must_use]
    pub fn kind(&self, kind: Kind) -> &str {
        match kind {
            Kind::Topic => &self.topic,
            Kind::State => &self.state,
            Kind::Packet => &self.packet,
            Kind::Note => &self.note,
            Kind::Call => &self.call,
            Kind::Errno => &self.errno,
            Kind::Rst => &self.rst,
            Kind::Cong => &self.cong,
            Kind::Drop => &self.drop,
            Kind::Action => &self.action,
            Kind::Scenario => &self.scenario,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    meta: Meta,
    #[serde(default)]
    topic: HashMap<String, Entry>,
    #[serde(default)]
    state: HashMap<String, Entry>,
    #[serde(default)]
    packet: HashMap<String, Entry>,
    #[serde(default)]
    note: HashMap<String, Entry>,
    #[serde(default)]
    call: HashMap<String, Entry>,
    #[serde(default)]
    errno: HashMap<String, Entry>,
    #[serde(default)]
    rst: HashMap<String, Entry>,
    #[serde(default)]
    cong: HashMap<String, Entry>,
    drop: HashMap<String, Entry>,
    #[serde(default)]
    action: HashMap<String, Entry>,
    #[serde(default)]
    scenario: HashMap<String, Entry>,
}

impl File {
    fn table(&self, kind: Kind) -> &HashMap<String, Entry> {
        match kind {
            Kind::Topic => &self.topic,
            Kind::State => &self.state,
            Kind::Packet => &self.packet,
            Kind::Note => &self.note,
            Kind::Call => &self.call,
            Kind::Errno => &self.errno,
            Kind::Rst => &self.rst,
            Kind::Cong => &self.cong,
            Kind::Drop => &self.drop,
            Kind::Action => &self.action,
            Kind::Scenario => &self.scenario,
        }
    }
}

const EN: &str = include_str!("../assets/explain/en.toml");
const ZH: &str = include_str!("../assets/explain/zh.toml");

/// One language's file, with its lookup index.
struct Book {
    file: File,
    /// (kind, normalised name or alias) → the key as written in the file.
    index: HashMap<(Kind, String), String>,
    /// Each kind's keys in the order the file lists them.
    order: Vec<(Kind, String)>,
}

fn load(text: &str) -> Book {
    let file: File = toml::from_str(text).expect("compiled-in explanations parse (tested)");
    let mut index = HashMap::new();
    for kind in Kind::ALL {
        for (key, entry) in file.table(kind) {
            index.insert((kind, normalize(key)), key.clone());
            for alias in &entry.also {
                index.entry((kind, normalize(alias))).or_insert(key.clone());
            }
        }
    }
    // The headers in file order (the parsed tables do not keep it).
    let mut order = Vec::new();
    for line in text.lines() {
        let Some(header) = line
            .trim()
            .strip_prefix('[')
            .and_then(|l| l.strip_suffix(']'))
        else {
            continue;
        };
        let Some((kind, key)) = header.split_once('.') else {
            continue;
        };
        if let Some(kind) = Kind::ALL.into_iter().find(|k| k.as_str() == kind) {
            order.push((kind, key.trim_matches('"').to_owned()));
        }
    }
    Book { file, index, order }
}

fn book(lang: Lang) -> &'static Book {
    static EN_BOOK: OnceLock<Book> = OnceLock::new();
    static ZH_BOOK: OnceLock<Book> = OnceLock::new();
    match lang {
        Lang::En => EN_BOOK.get_or_init(|| load(EN)),
        Lang::Zh => ZH_BOOK.get_or_init(|| load(ZH)),
    }
}

/// A name as lookups compare it: lower case, without `-`, `_`, `.`, spaces
/// or `()` (`TIME_WAIT`, `time-wait` and `timewait` are one key; so are
/// `connect()` and `connect`).
#[must_use]
pub fn normalize(name: &str) -> String {
    name.chars()
        .filter(|c| !matches!(c, '-' | '_' | ' ' | '.' | '(' | ')'))
        .flat_map(char::to_lowercase)
        .collect()
}

/// The words around the entries in `lang`.
#[must_use]
pub fn meta(lang: Lang) -> &'static Meta {
    &book(lang).file.meta
}

/// The entry of that kind called `key` (or one of its other names), in `lang`.
#[must_use]
pub fn get(kind: Kind, key: &str, lang: Lang) -> Option<&'static Entry> {
    // Names and aliases are the English file's; the other files use its keys.
    let key = canonical(kind, key)?;
    book(lang).file.table(kind).get(key)
}

/// The key as the files write it (`time_wait` → `TIME-WAIT`).
#[must_use]
pub fn canonical(kind: Kind, key: &str) -> Option<&'static str> {
    book(Lang::En)
        .index
        .get(&(kind, normalize(key)))
        .map(String::as_str)
}

/// Every key of a kind, in the order the English file lists them.
#[must_use]
pub fn keys(kind: Kind) -> Vec<&'static str> {
    book(Lang::En)
        .order
        .iter()
        .filter(|(k, _)| *k == kind)
        .map(|(_, key)| key.as_str())
        .collect()
}

/// A state's explanation.
#[must_use]
pub fn state(s: TcpState, lang: Lang) -> Option<&'static Entry> {
    get(Kind::State, s.as_str(), lang)
}

/// The packet kinds [`classify`] can return.
pub const PACKET_KINDS: [&str; 11] = [
    "SYN",
    "SYN-ACK",
    "ACK",
    "data",
    "FIN",
    "RST",
    "RST-ACK",
    "keepalive",
    "zero-window-probe",
    "window-update",
    "UDP",
];

/// What kind of packet this is, as a key of [`Kind::Packet`]: the flags that
/// matter most first (RST, SYN), then what the analysis recognised (a
/// keepalive, a zero-window probe, a window update), then FIN, data, ACK.
#[must_use]
pub fn classify(p: &PacketEvent) -> &'static str {
    let Some(tcp) = p.segment.tcp else {
        return "UDP";
    };
    let f = tcp.flags;
    if f.rst() {
        if f.ack() { "RST-ACK" } else { "RST" }
    } else if f.syn() {
        if f.ack() { "SYN-ACK" } else { "SYN" }
    } else if p.notes.contains(Notes::KEEPALIVE) {
        "keepalive"
    } else if p.notes.contains(Notes::ZERO_WINDOW_PROBE) {
        "zero-window-probe"
    } else if p.notes.contains(Notes::WINDOW_UPDATE) {
        "window-update"
    } else if f.fin() {
        "FIN"
    } else if p.segment.payload_len > 0 {
        "data"
    } else {
        "ACK"
    }
}

/// A packet's explanation (by its [`classify`] kind).
#[must_use]
pub fn packet(p: &PacketEvent, lang: Lang) -> Option<&'static Entry> {
    get(Kind::Packet, classify(p), lang)
}

/// A packet note's explanation, by its contract name (`dup_ack`).
#[must_use]
pub fn packet_note(name: &str, lang: Lang) -> Option<&'static Entry> {
    get(Kind::Note, name, lang)
}

/// A state note's explanation.
#[must_use]
pub fn state_note(note: Note, lang: Lang) -> Option<&'static Entry> {
    get(Kind::Note, note.key(), lang)
}

/// A call's (or socket option's) explanation: `connect`, `SO_LINGER`.
#[must_use]
pub fn call(name: &str, lang: Lang) -> Option<&'static Entry> {
    get(Kind::Call, name, lang)
}

/// An errno's explanation: `ECONNRESET`.
#[must_use]
pub fn errno(name: &str, lang: Lang) -> Option<&'static Entry> {
    get(Kind::Errno, name, lang)
}

/// Why the kernel sent a RST, by the kernel's name for the reason
/// (`NO_SOCKET`; `SK_RST_REASON_NO_SOCKET` too). `None` for a reason synack
/// does not know (a newer kernel's).
#[must_use]
pub fn rst_reason(name: &str, lang: Lang) -> Option<&'static Entry> {
    get(Kind::Rst, name, lang)
}

/// A congestion state's explanation (`Open`, `Disorder`, `CWR`,
/// `Recovery`, `Loss`).
#[must_use]
pub fn cong_state(state: crate::event::CaState, lang: Lang) -> Option<&'static Entry> {
    get(Kind::Cong, &state.name(), lang)
}

/// Why the kernel dropped a segment, by the kernel's name for the reason
/// (`TCP_LISTEN_OVERFLOW`; `SKB_DROP_REASON_TCP_LISTEN_OVERFLOW` too).
/// `None` for a reason synack does not know (a newer kernel's).
#[must_use]
pub fn drop_reason(name: &str, lang: Lang) -> Option<&'static Entry> {
    get(Kind::Drop, name, lang)
}

/// What the kernel says of a retransmission (`kernel_retransmission`,
/// `inferred_only_retransmission`: notes of their own).
#[must_use]
pub fn retransmit(w: crate::event::RetransmitWitness, lang: Lang) -> Option<&'static Entry> {
    let key = match w {
        crate::event::RetransmitWitness::Kernel => "kernel_retransmission",
        crate::event::RetransmitWitness::InferredOnly => "inferred_only_retransmission",
    };
    get(Kind::Note, key, lang)
}

/// A lab action's explanation.
#[must_use]
pub fn action(a: &LabAction, lang: Lang) -> Option<&'static Entry> {
    get(Kind::Action, a.kind(), lang)
}

/// A scenario's explanation: what to watch for and what it proves.
#[must_use]
pub fn scenario(name: &str, lang: Lang) -> Option<&'static Entry> {
    get(Kind::Scenario, name, lang)
}

/// A topic of the syllabus: `backlog`, `handshake`.
#[must_use]
pub fn topic(name: &str, lang: Lang) -> Option<&'static Entry> {
    get(Kind::Topic, name, lang)
}

/// What a name the user typed found.
#[derive(Debug)]
pub struct Found {
    pub kind: Kind,
    /// The key as the files write it.
    pub key: &'static str,
    pub entry: &'static Entry,
    /// Other kinds with an entry of the same name (`scenario:close`).
    pub others: Vec<(Kind, &'static str)>,
}

/// Finds what a user typed: `KIND:NAME` (or `KIND/NAME`) for one kind, or a
/// bare name, taken in [`Kind::PREFERENCE`] order.
///
/// # Errors
/// Nothing by that name: the closest names, best first (perhaps none).
pub fn find(query: &str, lang: Lang) -> Result<Found, Vec<String>> {
    let (only, name) = match query.split_once([':', '/']) {
        Some((k, name)) => match Kind::from_word(k) {
            Some(kind) => (Some(kind), name),
            None => (None, query),
        },
        None => (None, query),
    };
    let kinds: Vec<Kind> = only.map_or_else(|| Kind::PREFERENCE.to_vec(), |k| vec![k]);
    let mut hits = kinds
        .iter()
        .filter_map(|&kind| Some((kind, canonical(kind, name)?)));
    let Some((kind, key)) = hits.next() else {
        return Err(suggest(name, only));
    };
    let entry = get(kind, key, lang).ok_or_else(|| suggest(name, only))?;
    Ok(Found {
        kind,
        key,
        entry,
        others: hits.collect(),
    })
}

/// Up to five names close to `name`: those that contain it or that it
/// contains, then those a few edits away.
fn suggest(name: &str, only: Option<Kind>) -> Vec<String> {
    let want = normalize(name);
    if want.is_empty() {
        return Vec::new();
    }
    let b = book(Lang::En);
    let mut scored: Vec<(usize, Option<usize>, String)> = Vec::new();
    for (kind, key) in &b.order {
        if only.is_some_and(|k| k != *kind) {
            continue;
        }
        let mut names = vec![key.as_str()];
        if let Some(e) = b.file.table(*kind).get(key) {
            names.extend(e.also.iter().map(String::as_str));
        }
        let best = names
            .iter()
            .map(|n| {
                let n = normalize(n);
                if n.contains(&want) || (want.len() >= 3 && want.contains(&n)) {
                    0
                } else {
                    distance(&want, &n)
                }
            })
            .min()
            .unwrap_or(usize::MAX);
        let limit = (want.chars().count() / 3).max(1);
        if best <= limit {
            let shown = format!("{}:{key}", kind.as_str());
            if !scored.iter().any(|(_, _, s)| *s == shown) {
                let rank = Kind::PREFERENCE.iter().position(|k| k == kind);
                scored.push((best, rank, shown));
            }
        }
    }
    scored.sort_by_key(|(d, rank, _)| (*d, *rank));
    scored.into_iter().take(5).map(|(_, _, s)| s).collect()
}

/// Levenshtein distance between two short names.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tcp::track::{Analysis, ConnId, Role};
    use crate::tcp::{Flags, Proto, Segment, TcpHeader};
    use crate::time::Timestamp;

    #[test]
    fn both_files_parse_with_the_same_keys() {
        for kind in Kind::ALL {
            let mut en: Vec<_> = book(Lang::En).file.table(kind).keys().collect();
            let mut zh: Vec<_> = book(Lang::Zh).file.table(kind).keys().collect();
            en.sort();
            zh.sort();
            assert_eq!(en, zh, "{} keys differ between en and zh", kind.as_str());
            assert!(!en.is_empty(), "no {} entries", kind.as_str());
        }
    }

    #[test]
    fn names_are_found_however_they_are_spelled() {
        for name in ["time-wait", "TIME_WAIT", "timewait", "Time Wait"] {
            assert_eq!(canonical(Kind::State, name), Some("TIME-WAIT"), "{name}");
        }
        assert_eq!(canonical(Kind::Packet, "synack"), Some("SYN-ACK"));
        assert_eq!(canonical(Kind::Packet, "syn_ack"), Some("SYN-ACK"));
        assert_eq!(canonical(Kind::Errno, "ewouldblock"), Some("EAGAIN"));
        assert_eq!(canonical(Kind::Call, "reuseaddr"), Some("SO_REUSEADDR"));
        assert_eq!(canonical(Kind::Call, "connect()"), Some("connect"));
        assert!(state(TcpState::SynReceived, Lang::Zh).is_some());
    }

    #[test]
    fn a_bare_name_prefers_the_topic_and_names_the_others() {
        let f = find("time-wait", Lang::En).unwrap();
        assert_eq!((f.kind, f.key), (Kind::Topic, "time-wait"));
        assert!(
            f.others.contains(&(Kind::State, "TIME-WAIT")),
            "{:?}",
            f.others
        );
        assert!(f.others.contains(&(Kind::Scenario, "time-wait")));
        let f = find("state:time_wait", Lang::En).unwrap();
        assert_eq!((f.kind, f.key), (Kind::State, "TIME-WAIT"));
        let f = find("syn", Lang::Zh).unwrap();
        assert_eq!((f.kind, f.key), (Kind::Packet, "SYN"));
        assert_eq!(find("ECONNRESET", Lang::En).unwrap().kind, Kind::Errno);
        assert_eq!(find("backlog", Lang::En).unwrap().kind, Kind::Topic);
    }

    #[test]
    fn unknown_names_get_close_matches() {
        let close = find("timewiat", Lang::En).unwrap_err();
        assert!(close.iter().any(|s| s == "topic:time-wait"), "{close:?}");
        let close = find("ECONNRESE", Lang::En).unwrap_err();
        assert!(close.iter().any(|s| s == "errno:ECONNRESET"), "{close:?}");
        assert!(find("zzzzzzzzzz", Lang::En).unwrap_err().is_empty());
    }

    #[test]
    fn keys_keep_the_files_order() {
        let states = keys(Kind::State);
        let rfc: Vec<_> = TcpState::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(states, rfc);
    }

    fn packet_of(flags: &[Flags], len: u32, notes: Notes) -> PacketEvent {
        let addr = "127.0.0.1:7000".parse().unwrap();
        let tcp = (!flags.is_empty()).then(|| TcpHeader {
            flags: Flags(flags.iter().fold(0, |a, f| a | f.0)),
            ..TcpHeader::default()
        });
        PacketEvent {
            segment: Box::new(Segment {
                ts: Timestamp::default(),
                proto: if tcp.is_some() {
                    Proto::Tcp
                } else {
                    Proto::Udp
                },
                src: addr,
                dst: addr,
                payload_len: len,
                ip_id: 0,
                tcp,
                malformed: None,
            }),
            endpoint: None,
            analysis: Analysis {
                conn: ConnId(1),
                from: Role::Client,
                seq: 0,
                ack: 0,
                win: 0,
                notes,
                dup_ack: None,
            },
            raw: None,
            rst_reason: None,
            drop_reason: None,
            retransmit: None,
        }
    }

    #[test]
    fn packets_are_classified_into_explained_kinds() {
        let none = Notes::default();
        let cases = [
            (packet_of(&[Flags::SYN], 0, none), "SYN"),
            (packet_of(&[Flags::SYN, Flags::ACK], 0, none), "SYN-ACK"),
            (packet_of(&[Flags::ACK], 0, none), "ACK"),
            (packet_of(&[Flags::ACK, Flags::PSH], 5, none), "data"),
            (packet_of(&[Flags::FIN, Flags::ACK], 0, none), "FIN"),
            (packet_of(&[Flags::RST], 0, none), "RST"),
            (packet_of(&[Flags::RST, Flags::ACK], 0, none), "RST-ACK"),
            (packet_of(&[Flags::ACK], 0, Notes::KEEPALIVE), "keepalive"),
            (
                packet_of(&[Flags::ACK], 1, Notes::ZERO_WINDOW_PROBE),
                "zero-window-probe",
            ),
            (
                packet_of(&[Flags::ACK], 0, Notes::WINDOW_UPDATE),
                "window-update",
            ),
            (packet_of(&[], 5, none), "UDP"),
        ];
        for (p, want) in &cases {
            assert_eq!(classify(p), *want);
            assert!(packet(p, Lang::Zh).is_some(), "{want}");
        }
        let mut seen: Vec<_> = cases.iter().map(|(_, k)| *k).collect();
        seen.sort_unstable();
        let mut all = PACKET_KINDS.to_vec();
        all.sort_unstable();
        assert_eq!(seen, all, "every kind classify returns has a case here");
    }

    #[test]
    fn edit_distance() {
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("same", "same"), 0);
    }
}
