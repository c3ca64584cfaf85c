//! Handouts: the ladder of a finished run as a Mermaid sequence diagram or
//! as a standalone SVG drawing (`--export mermaid|svg`).
//!
//! Pure: the run's events in, text out. Nothing here reads a clock; times
//! count from the run's first shown event (as `--json`'s `t`), rows keep the
//! events' order, so one recorded run always renders to the same bytes.
//!
//! Lanes are placed the way the screen places them (`app::timeline::Lanes`):
//! one per lab peer, clients first; a capture file (no peers) gets one lane
//! per address, clients' first. Text from outside (the wire, scripts, peers)
//! goes through [`sanitize`] and then the target's own escaping.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::net::SocketAddr;

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use super::{lab_call, shown};
use crate::app::timeline::{Lanes, Side};
use crate::event::{Event, LabAction, Origin, PacketEvent, StateSource, sanitize};
use crate::i18n::Lang;
use crate::tcp::track::{Notes, Role};
use crate::tcp::{Flags, Proto};

/// `--export`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportFormat {
    Mermaid,
    Svg,
}

/// The SVG's colours: the screen's `--theme`s.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Colours {
    #[default]
    Dark,
    Light,
    Contrast,
}

/// What to draw and how.
#[derive(Clone, Debug, Default)]
pub struct ExportOptions {
    /// The diagram's title: the scenario's name or the file's.
    pub title: String,
    /// Only this connection (the `conn` number of the events).
    pub conn: Option<u32>,
    pub colours: Colours,
    /// The narration's language.
    pub lang: Lang,
}

/// Renders the run in `format`.
#[must_use]
pub fn render(format: ExportFormat, events: &[Event], opts: &ExportOptions) -> String {
    match format {
        ExportFormat::Mermaid => mermaid(events, opts),
        ExportFormat::Svg => svg(events, opts),
    }
}

/// The connection numbers the run has, in order.
#[must_use]
pub fn connections(events: &[Event]) -> Vec<u32> {
    let mut seen = HashSet::new();
    events
        .iter()
        .filter_map(|e| match e {
            Event::Packet(p) => Some(p.conn.0),
            Event::State(s) => s.conn.map(|c| c.0),
            _ => None,
        })
        .filter(|c| seen.insert(*c))
        .collect()
}

// ---------------------------------------------------------------------------
// The ladder: lanes and rows, whatever the output.

/// How a packet is drawn: the screen's packet colours.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PacketKind {
    Syn,
    Fin,
    Rst,
    Data,
    Ack,
    Udp,
}

impl PacketKind {
    const ALL: [PacketKind; 6] = [
        PacketKind::Syn,
        PacketKind::Fin,
        PacketKind::Rst,
        PacketKind::Data,
        PacketKind::Ack,
        PacketKind::Udp,
    ];

    fn of(p: &PacketEvent) -> Self {
        let Some(tcp) = p.segment.tcp else {
            return PacketKind::Udp;
        };
        let f = tcp.flags;
        if f.rst() {
            PacketKind::Rst
        } else if f.syn() {
            PacketKind::Syn
        } else if f.fin() {
            PacketKind::Fin
        } else if p.segment.payload_len > 0 {
            PacketKind::Data
        } else {
            PacketKind::Ack
        }
    }

    fn name(self) -> &'static str {
        match self {
            PacketKind::Syn => "syn",
            PacketKind::Fin => "fin",
            PacketKind::Rst => "rst",
            PacketKind::Data => "data",
            PacketKind::Ack => "ack",
            PacketKind::Udp => "udp",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
enum What {
    Packet {
        from: usize,
        to: usize,
        label: String,
        kind: PacketKind,
        lost: bool,
    },
    State {
        lane: usize,
        text: String,
        inferred: bool,
    },
    Call {
        lane: usize,
        text: String,
        error: bool,
    },
    /// What the lab did (kill, link cut …), across every lane.
    Lab { text: String },
    /// A step's narration, across every lane.
    Narration { text: String },
}

#[derive(Clone, Debug, PartialEq)]
struct Row {
    /// Seconds since the run's first shown event.
    t: f64,
    what: What,
}

#[derive(Debug, Default)]
struct Ladder {
    lanes: Vec<String>,
    rows: Vec<Row>,
}

/// Lanes for a capture file: one per address, every client's before the
/// servers'.
fn address_lanes(events: &[Event], conn: Option<u32>) -> Vec<SocketAddr> {
    let mut clients = Vec::new();
    let mut servers = Vec::new();
    for e in events {
        let Event::Packet(p) = e else { continue };
        if conn.is_some_and(|c| c != p.conn.0) {
            continue;
        }
        let (c, s) = match p.from {
            Role::Client => (p.segment.src, p.segment.dst),
            Role::Server => (p.segment.dst, p.segment.src),
        };
        if !clients.contains(&c) && !servers.contains(&c) {
            clients.push(c);
        }
        if !clients.contains(&s) && !servers.contains(&s) {
            servers.push(s);
        }
    }
    clients.extend(servers);
    clients
}

/// Where events go: by peer (a lab run) or by address (a capture file).
enum Placer {
    Peers(Lanes),
    Addresses(Vec<SocketAddr>),
}

impl Placer {
    fn new(events: &[Event], conn: Option<u32>) -> Self {
        if !events.iter().any(|e| matches!(e, Event::Call(_))) {
            return Placer::Addresses(address_lanes(events, conn));
        }
        // The screen's rules, learnt over the whole run first: an address's
        // owner is then known at every row, even before the peer said so.
        let mut lanes = Lanes::default();
        for (i, e) in events.iter().enumerate() {
            let row = i as u64;
            match e {
                Event::Call(c) => match c.local {
                    Some(local) => lanes.learn_peer_socket(local, &c.endpoint, row),
                    None => {
                        lanes.add_peer(&c.endpoint);
                    }
                },
                Event::Packet(p) => {
                    let (src, dst) = match p.from {
                        Role::Client => (Side::Client, Side::Server),
                        Role::Server => (Side::Server, Side::Client),
                    };
                    lanes.ensure_end(p.segment.src, src, row);
                    lanes.ensure_end(p.segment.dst, dst, row);
                }
                Event::State(s) => {
                    lanes.of_socket(s.local, &s.endpoint, row);
                }
                Event::Queue(q) => {
                    lanes.of_socket(q.local, "listener", row);
                }
                _ => {}
            }
        }
        Placer::Peers(lanes)
    }

    fn names(&self) -> Vec<String> {
        match self {
            Placer::Peers(l) => l.lanes().iter().map(|l| l.name.clone()).collect(),
            Placer::Addresses(a) => a.iter().map(ToString::to_string).collect(),
        }
    }

    fn socket(&self, addr: SocketAddr, row: u64) -> Option<usize> {
        match self {
            Placer::Peers(l) => l.owner(addr, row),
            Placer::Addresses(a) => a.iter().position(|x| *x == addr),
        }
    }

    fn packet(&self, p: &PacketEvent, row: u64) -> Option<(usize, usize)> {
        match self {
            Placer::Peers(l) => l.of_packet(p.segment.src, p.segment.dst, p.from, row),
            Placer::Addresses(_) => Some((
                self.socket(p.segment.src, row)?,
                self.socket(p.segment.dst, row)?,
            )),
        }
    }

    fn peer(&self, name: &str) -> Option<usize> {
        match self {
            Placer::Peers(l) => l.peer(name),
            Placer::Addresses(_) => None,
        }
    }
}

/// A packet's label: flags, relative seq, ack when it acknowledges, length
/// when it carries data, and what the analysis noticed.
fn packet_label(p: &PacketEvent, prefix: &str) -> String {
    let seg = &p.segment;
    let mut s = prefix.to_owned();
    match (seg.proto, seg.tcp) {
        (Proto::Tcp, Some(tcp)) => {
            let _ = write!(s, "{} seq={}", tcp.flags, p.seq);
            if tcp.flags.ack() {
                let _ = write!(s, " ack={}", p.ack);
            }
            if seg.payload_len > 0 {
                let _ = write!(s, " len={}", seg.payload_len);
            }
            if tcp.flags.contains(Flags::URG) {
                let _ = write!(s, " urg={}", tcp.urgent);
            }
            // A closed window is news; an RST's zero window is not.
            if p.win == 0 && !tcp.flags.rst() {
                s.push_str(" win=0");
            }
        }
        _ => {
            let _ = write!(s, "UDP len={}", seg.payload_len);
        }
    }
    let notes: Vec<_> = p.notes.names().collect();
    if !notes.is_empty() {
        let _ = write!(s, " ({})", notes.join(", ").replace('_', " "));
    }
    s
}

/// Call arguments longer than this are cut (a write's data).
const MAX_ARGS: usize = 28;

fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

impl Ladder {
    fn build(events: &[Event], opts: &ExportOptions) -> Self {
        let placer = Placer::new(events, opts.conn);
        let t0 = events.iter().find(|e| shown(e)).map(Event::ts);
        let t = |e: &Event| t0.map_or(0.0, |t0| e.ts().seconds_since(t0));
        // With one connection asked for: its addresses and its time span.
        let focus = opts.conn.map(|n| {
            let mut addrs = HashSet::new();
            let (mut first, mut last) = (None, None);
            for e in events {
                let (c, a, b) = match e {
                    Event::Packet(p) => (Some(p.conn.0), p.segment.src, Some(p.segment.dst)),
                    Event::State(s) => (s.conn.map(|c| c.0), s.local, s.remote),
                    _ => continue,
                };
                if c == Some(n) {
                    addrs.insert(a);
                    addrs.extend(b);
                    first = first.or(Some(e.ts()));
                    last = Some(e.ts());
                }
            }
            (addrs, first, last)
        });
        // … and its lanes: a call elsewhere is another connection's.
        let focus_lanes: Option<HashSet<usize>> = opts.conn.map(|n| {
            let mut lanes = HashSet::new();
            for (i, e) in events.iter().enumerate() {
                match e {
                    Event::Packet(p) if p.conn.0 == n => {
                        if let Some((a, b)) = placer.packet(p, i as u64) {
                            lanes.extend([a, b]);
                        }
                    }
                    Event::State(s) if s.conn.is_some_and(|c| c.0 == n) => {
                        lanes.extend(placer.socket(s.local, i as u64));
                    }
                    _ => {}
                }
            }
            lanes
        });
        let within = |e: &Event| match &focus {
            None => true,
            Some((_, Some(first), Some(last))) => e.ts() >= *first && e.ts() <= *last,
            Some(_) => false,
        };
        let several = opts.conn.is_none() && connections(events).len() > 1;
        let prefix = |c: u32| {
            if several {
                format!("#{c} ")
            } else {
                String::new()
            }
        };
        let mut rows = Vec::new();
        for (i, e) in events.iter().enumerate() {
            let row = i as u64;
            let what = match e {
                Event::Packet(p) => {
                    if opts.conn.is_some_and(|c| c != p.conn.0) {
                        continue;
                    }
                    let Some((from, to)) = placer.packet(p, row) else {
                        continue;
                    };
                    What::Packet {
                        from,
                        to,
                        label: sanitize(&packet_label(p, &prefix(p.conn.0))).into_owned(),
                        kind: PacketKind::of(p),
                        lost: p.notes.contains(Notes::LOST),
                    }
                }
                Event::State(s) => {
                    if opts.conn.is_some_and(|c| s.conn.map(|c| c.0) != Some(c)) {
                        continue;
                    }
                    let Some(lane) = placer.socket(s.local, row) else {
                        continue;
                    };
                    let mut text = s.conn.map(|c| prefix(c.0)).unwrap_or_default();
                    if s.endpoint == "listener" {
                        text.push_str("listener ");
                    }
                    match s.from {
                        Some(f) => {
                            let _ = write!(text, "{f} → {}", s.to);
                        }
                        None => {
                            let _ = write!(text, "{} (first seen)", s.to);
                        }
                    }
                    if let Some(timer) = s.timer {
                        let _ = write!(text, " (timer {timer:.0}s)");
                    }
                    let inferred = s.source == StateSource::Inferred;
                    if inferred {
                        text.push_str(" (inferred)");
                    }
                    What::State {
                        lane,
                        text,
                        inferred,
                    }
                }
                Event::Check(c) => {
                    if opts.conn.is_some_and(|n| c.conn.map(|c| c.0) != Some(n)) {
                        continue;
                    }
                    let Some(lane) = placer.socket(c.local, row) else {
                        continue;
                    };
                    let mut text = c.conn.map(|c| prefix(c.0)).unwrap_or_default();
                    if c.withdraws() {
                        let _ = write!(
                            text,
                            "✗ not {}: the {} says {}",
                            c.shown,
                            match c.source {
                                StateSource::Kernel => "kernel",
                                StateSource::Inferred => "packets",
                            },
                            c.actual
                        );
                    } else if c.shown == crate::tcp::TcpState::FinWait2 && c.timer.is_some() {
                        let _ = write!(
                            text,
                            "{}: closed by its program, waits for the peer's FIN",
                            c.shown
                        );
                    } else {
                        let _ = write!(text, "{} (the kernel confirms)", c.shown);
                    }
                    if let Some(timer) = c.timer {
                        let _ = write!(text, " (timer {timer:.0}s)");
                    }
                    What::State {
                        lane,
                        text,
                        inferred: false,
                    }
                }
                Event::Call(c) => {
                    let mine = match (&focus, c.local) {
                        (None, _) => true,
                        (Some((addrs, _, _)), Some(local)) => addrs.contains(&local),
                        (Some(_), None) => within(e),
                    };
                    let Some(lane) = placer
                        .peer(&c.endpoint)
                        .filter(|l| mine && focus_lanes.as_ref().is_none_or(|f| f.contains(l)))
                    else {
                        continue;
                    };
                    let mut text = format!(
                        "{}({})",
                        sanitize(&c.call),
                        shorten(&sanitize(&c.args), MAX_ARGS)
                    );
                    match &c.result {
                        None => text.push_str(" …"),
                        Some(r) => {
                            let _ = write!(text, " = {}", sanitize(&r.as_contract()));
                        }
                    }
                    if let Some(n) = c.times {
                        let _ = write!(text, " ×{n}");
                    }
                    if let Some(data) = &c.data {
                        let _ = write!(text, " \"{}\"", shorten(&sanitize(data), MAX_ARGS));
                    }
                    if c.endpoint.ends_with("-child") {
                        text.push_str(" [child]");
                    }
                    What::Call {
                        lane,
                        text,
                        error: c.result.as_ref().is_some_and(|r| r.is_error()),
                    }
                }
                Event::Lab(l) => {
                    if matches!(
                        l.action,
                        LabAction::Sleep(_) | LabAction::Ended | LabAction::Closing
                    ) || !within(e)
                    {
                        continue;
                    }
                    let (call, args) = lab_call(&l.action);
                    let mut text = format!("lab: {call} {}", sanitize(&args));
                    if l.result.is_error() {
                        let _ = write!(text, " = {}", sanitize(&l.result.as_contract()));
                    }
                    if l.origin == Origin::User {
                        text.push_str(" (by the user)");
                    }
                    What::Lab { text }
                }
                Event::Step(s) => {
                    let Some(n) = &s.narration else { continue };
                    if !within(e) {
                        continue;
                    }
                    What::Narration {
                        text: format!(
                            "step {}/{}: {}",
                            s.index,
                            s.total,
                            sanitize(n.text(opts.lang))
                        ),
                    }
                }
                Event::Queue(_) | Event::SocketQueues(_) | Event::Warning { .. } => continue,
            };
            rows.push(Row { t: t(e), what });
        }
        let mut ladder = Ladder {
            lanes: placer
                .names()
                .iter()
                .map(|n| sanitize(n).into_owned())
                .collect(),
            rows,
        };
        ladder.keep_used_lanes();
        ladder
    }

    /// Drops the lanes no row uses (one connection of a busy run), keeping
    /// the others' order.
    fn keep_used_lanes(&mut self) {
        let mut used = vec![false; self.lanes.len()];
        for r in &self.rows {
            match r.what {
                What::Packet { from, to, .. } => {
                    used[from] = true;
                    used[to] = true;
                }
                What::State { lane, .. } | What::Call { lane, .. } => used[lane] = true,
                What::Lab { .. } | What::Narration { .. } => {}
            }
        }
        if used.iter().all(|u| *u) || !used.iter().any(|u| *u) {
            return;
        }
        let mut new_index = Vec::with_capacity(used.len());
        let mut n = 0;
        for u in &used {
            new_index.push(n);
            n += usize::from(*u);
        }
        let names = std::mem::take(&mut self.lanes);
        self.lanes = names
            .into_iter()
            .zip(&used)
            .filter(|(_, u)| **u)
            .map(|(n, _)| n)
            .collect();
        for r in &mut self.rows {
            match &mut r.what {
                What::Packet { from, to, .. } => {
                    *from = new_index[*from];
                    *to = new_index[*to];
                }
                What::State { lane, .. } | What::Call { lane, .. } => *lane = new_index[*lane],
                What::Lab { .. } | What::Narration { .. } => {}
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Mermaid.

/// Text Mermaid shows as written: `#` and `;` end a statement, `<` `>` and
/// `&` are read as markup; each becomes an entity code (`#59;`).
fn mermaid_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in sanitize(s).chars() {
        match c {
            '#' => out.push_str("#35;"),
            ';' => out.push_str("#59;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '&' => out.push_str("#amp;"),
            c => out.push(c),
        }
    }
    out
}

/// Words Mermaid's sequence grammar reserves: never a participant's id.
const MERMAID_WORDS: &[&str] = &[
    "participant",
    "actor",
    "as",
    "end",
    "loop",
    "alt",
    "else",
    "opt",
    "par",
    "and",
    "rect",
    "critical",
    "option",
    "break",
    "note",
    "over",
    "title",
    "autonumber",
    "activate",
    "deactivate",
    "links",
    "link",
    "properties",
    "details",
    "box",
    "create",
    "destroy",
    "left",
    "right",
    "of",
];

/// A lane's id in the diagram: the peer's name when Mermaid reads it as an
/// id as it is (`client`, `server2`), else `L0`, `L1` … with the name as
/// its alias (addresses hold `:`, which ends an id).
fn mermaid_ids(lanes: &[String]) -> Vec<(String, Option<String>)> {
    lanes
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let plain = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !MERMAID_WORDS.contains(&name.to_ascii_lowercase().as_str());
            if plain {
                (name.clone(), None)
            } else {
                (format!("L{i}"), Some(mermaid_text(name)))
            }
        })
        .collect()
}

/// Wraps text at `width` columns (on spaces where it can).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        let wl = word.width();
        if !line.is_empty() && line.width() + 1 + wl > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        // A word longer than a line is cut where it must be.
        for c in word.chars() {
            if line.width() + c.width().unwrap_or(0) > width {
                lines.push(std::mem::take(&mut line));
            }
            line.push(c);
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// The run as a Mermaid sequence diagram: a message per packet, a note per
/// state change, socket call, lab action and narration.
#[must_use]
pub fn mermaid(events: &[Event], opts: &ExportOptions) -> String {
    let ladder = Ladder::build(events, opts);
    let mut out = String::from("sequenceDiagram\n");
    let _ = writeln!(
        out,
        "    %% made by synack {}; times in seconds from the first event",
        env!("CARGO_PKG_VERSION")
    );
    if !opts.title.is_empty() {
        let _ = writeln!(out, "    title {}", mermaid_text(&opts.title));
    }
    let ids = mermaid_ids(&ladder.lanes);
    for (id, alias) in &ids {
        match alias {
            Some(a) => {
                let _ = writeln!(out, "    participant {id} as {a}");
            }
            None => {
                let _ = writeln!(out, "    participant {id}");
            }
        }
    }
    let span = match (ids.first(), ids.last()) {
        (Some((a, _)), Some((b, _))) if a != b => format!("{a},{b}"),
        (Some((a, _)), _) => a.clone(),
        _ => String::new(),
    };
    for row in &ladder.rows {
        let _ = writeln!(out, "    %% t={:.6}", row.t);
        match &row.what {
            What::Packet {
                from,
                to,
                label,
                lost,
                ..
            } => {
                let arrow = if *lost { "-x" } else { "->>" };
                let _ = writeln!(
                    out,
                    "    {}{arrow}{}: {}",
                    ids[*from].0,
                    ids[*to].0,
                    mermaid_text(label)
                );
            }
            What::State { lane, text, .. } | What::Call { lane, text, .. } => {
                let _ = writeln!(
                    out,
                    "    Note over {}: {}",
                    ids[*lane].0,
                    mermaid_text(text)
                );
            }
            What::Lab { text } if !span.is_empty() => {
                let _ = writeln!(out, "    Note over {span}: {}", mermaid_text(text));
            }
            What::Narration { text } if !span.is_empty() => {
                let lines: Vec<String> = wrap(text, 60).iter().map(|l| mermaid_text(l)).collect();
                let _ = writeln!(out, "    Note over {span}: {}", lines.join("<br/>"));
            }
            What::Lab { .. } | What::Narration { .. } => {}
        }
    }
    out
}

// ---------------------------------------------------------------------------
// SVG.

/// The SVG's colours, by meaning: the screen's palette (src/ui/theme.rs) as
/// a terminal shows its named colours.
struct Paint {
    background: &'static str,
    text: &'static str,
    dim: &'static str,
    lanes: [&'static str; 4],
    state: &'static str,
    box_fill: &'static str,
    ok: &'static str,
    error: &'static str,
    warn: &'static str,
    bold: bool,
}

impl Paint {
    fn of(c: Colours) -> Self {
        match c {
            Colours::Dark => Paint {
                background: "#1e1e1e",
                text: "#e5e5e5",
                dim: "#a0a0a0",
                lanes: ["#11a8cd", "#e5e510", "#3b8eea", "#d670d6"],
                state: "#ffffff",
                box_fill: "#2d2d2d",
                ok: "#0dbc79",
                error: "#f14c4c",
                warn: "#e5e510",
                bold: false,
            },
            Colours::Light => Paint {
                background: "#ffffff",
                text: "#1f1f1f",
                dim: "#666666",
                lanes: ["#0451a5", "#bc05bc", "#0598bc", "#cd3131"],
                state: "#000000",
                box_fill: "#f3f3f3",
                ok: "#008000",
                error: "#cd3131",
                warn: "#cd3131",
                bold: false,
            },
            Colours::Contrast => Paint {
                background: "#000000",
                text: "#ffffff",
                dim: "#c0c0c0",
                lanes: ["#55ffff", "#ffff55", "#55ff55", "#ff55ff"],
                state: "#ffffff",
                box_fill: "#000000",
                ok: "#55ff55",
                error: "#ff5555",
                warn: "#ffff55",
                bold: true,
            },
        }
    }

    fn packet(&self, c: Colours, k: PacketKind) -> &'static str {
        match (c, k) {
            (Colours::Dark, PacketKind::Syn) => "#23d18b",
            (Colours::Dark, PacketKind::Fin) => "#d670d6",
            (Colours::Dark, PacketKind::Rst) => "#f14c4c",
            (Colours::Dark, PacketKind::Data) => "#29b8db",
            (Colours::Dark, PacketKind::Ack) => "#b0b0b0",
            (Colours::Dark, PacketKind::Udp) => "#3b8eea",
            (Colours::Light, PacketKind::Syn) => "#00875a",
            (Colours::Light, PacketKind::Fin) => "#bc05bc",
            (Colours::Light, PacketKind::Rst) => "#cd3131",
            (Colours::Light, PacketKind::Data) => "#0451a5",
            (Colours::Light, PacketKind::Ack) => "#666666",
            (Colours::Light, PacketKind::Udp) => "#0598bc",
            (Colours::Contrast, PacketKind::Syn) => "#55ff55",
            (Colours::Contrast, PacketKind::Fin) => "#ff55ff",
            (Colours::Contrast, PacketKind::Rst) => "#ff5555",
            (Colours::Contrast, PacketKind::Data) => "#55ffff",
            (Colours::Contrast, PacketKind::Ack) => "#ffffff",
            (Colours::Contrast, PacketKind::Udp) => "#7f9fff",
        }
    }
}

/// Text for XML content and attribute values.
fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in sanitize(s).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// One monospace column at the drawing's 12 px font.
const CELL: f64 = 7.2;
const FONT: u32 = 12;
const MARGIN: f64 = 20.0;
/// The time column, left of the lanes.
const TIME_W: f64 = 80.0;
/// The longest label drawn, in columns; longer ones are cut.
const MAX_LABEL: usize = 56;

/// Under the title: how to read the drawing.
const LEGEND: &str = "time: seconds from the first event · states boxed, socket calls rounded";

fn cols(s: &str) -> f64 {
    s.width() as f64 * CELL
}

/// The run as a standalone SVG ladder.
#[must_use]
pub fn svg(events: &[Event], opts: &ExportOptions) -> String {
    let ladder = Ladder::build(events, opts);
    let paint = Paint::of(opts.colours);
    let n = ladder.lanes.len().max(1);

    // Labels cut to size, then the lanes spaced for them.
    let mut boxes = vec![cols("LISTEN"); n];
    let mut widest_packet: f64 = 0.0;
    for r in &ladder.rows {
        match &r.what {
            What::Packet {
                label, from, to, ..
            } => {
                let span = from.abs_diff(*to).max(1) as f64;
                widest_packet = widest_packet.max(cols(&shorten(label, MAX_LABEL)) / span);
            }
            What::State { lane, text, .. } | What::Call { lane, text, .. } => {
                boxes[*lane] = boxes[*lane].max(cols(&shorten(text, MAX_LABEL)) + 12.0);
            }
            _ => {}
        }
    }
    let gap = (widest_packet + 40.0).clamp(220.0, 460.0);
    let mut xs = Vec::with_capacity(n);
    let mut x = MARGIN + TIME_W + boxes[0] / 2.0;
    for i in 0..n {
        if i > 0 {
            x += gap.max((boxes[i - 1] + boxes[i]) / 2.0 + 16.0);
        }
        xs.push(x);
    }
    let title = if opts.title.is_empty() {
        "synack".to_owned()
    } else {
        opts.title.clone()
    };
    let width = (xs[n - 1] + boxes[n - 1] / 2.0 + MARGIN)
        .max(MARGIN * 2.0 + cols(&title) * 1.5)
        .max(MARGIN * 2.0 + cols(LEGEND) * 10.0 / 12.0)
        .ceil();
    let narration_cols = (((width - MARGIN * 2.0 - TIME_W) / CELL) as usize).max(20);

    let mut body = String::new();
    let header_y = 86.0;
    let mut y = header_y + 24.0;
    for r in &ladder.rows {
        let top = y;
        let time = format!("{:.6}", r.t);
        let mut time_y = top + 16.0;
        match &r.what {
            What::Packet {
                from,
                to,
                label,
                kind,
                lost,
            } => {
                let colour = paint.packet(opts.colours, *kind);
                let (x1, x2) = (xs[*from], xs[*to]);
                let (y1, y2) = (top + 18.0, top + 34.0);
                let label = shorten(label, MAX_LABEL);
                let _ = write!(
                    body,
                    r#"<g class="packet {}{}">"#,
                    kind.name(),
                    if *lost { " lost" } else { "" }
                );
                if from == to {
                    // Both ends on one lane: a loop out and back.
                    let _ = write!(
                        body,
                        r#"<path d="M{x1:.1},{y1:.1} h40 v16 h-36" fill="none" stroke="{colour}" stroke-width="1.5" marker-end="url(#arrow-{})"/>"#,
                        kind.name()
                    );
                } else if *lost {
                    let dir = if x2 > x1 { 1.0 } else { -1.0 };
                    // Dropped on the way: the line stops short, with a cross.
                    let xe = x1 + (x2 - x1) * 0.75;
                    let ye = y1 + (y2 - y1) * 0.75;
                    let _ = write!(
                        body,
                        r#"<line x1="{x1:.1}" y1="{y1:.1}" x2="{xe:.1}" y2="{ye:.1}" stroke="{colour}" stroke-width="1.5" stroke-dasharray="6 4"/><path d="M{:.1},{:.1} l10,10 m0,-10 l-10,10" stroke="{colour}" stroke-width="2"/>"#,
                        xe + dir * 2.0 - 5.0,
                        ye - 5.0
                    );
                } else {
                    let _ = write!(
                        body,
                        r#"<line x1="{x1:.1}" y1="{y1:.1}" x2="{x2:.1}" y2="{y2:.1}" stroke="{colour}" stroke-width="1.5" marker-end="url(#arrow-{})"/>"#,
                        kind.name()
                    );
                }
                let mid = if from == to {
                    x1 + 48.0
                } else {
                    (x1 + x2) / 2.0
                };
                let anchor = if from == to { "start" } else { "middle" };
                if from.abs_diff(*to) > 1 {
                    // Over the lanes it crosses: a veil, so they do not strike it out.
                    let w = cols(&label) + 8.0;
                    let _ = write!(
                        body,
                        r#"<rect x="{:.1}" y="{:.1}" width="{w:.1}" height="15" fill="{}" fill-opacity="0.85"/>"#,
                        mid - w / 2.0,
                        top + 2.0,
                        paint.background
                    );
                }
                let _ = write!(
                    body,
                    r#"<text x="{mid:.1}" y="{:.1}" text-anchor="{anchor}" fill="{colour}"{}>{}</text></g>"#,
                    top + 13.0,
                    if paint.bold || *kind != PacketKind::Ack {
                        r#" font-weight="bold""#
                    } else {
                        ""
                    },
                    xml(&label)
                );
                time_y = top + 26.0;
                y += 40.0;
            }
            What::State {
                lane,
                text,
                inferred,
            } => {
                let text = shorten(text, MAX_LABEL);
                let w = cols(&text) + 12.0;
                let x = xs[*lane];
                let _ = write!(
                    body,
                    r#"<g class="state"><rect x="{:.1}" y="{:.1}" width="{w:.1}" height="18" fill="{}" stroke="{}" stroke-width="1"{}/><text x="{x:.1}" y="{:.1}" text-anchor="middle" fill="{}"{}>{}</text></g>"#,
                    x - w / 2.0,
                    top + 3.0,
                    paint.box_fill,
                    paint.lanes[*lane % 4],
                    if *inferred {
                        r#" stroke-dasharray="4 3""#
                    } else {
                        ""
                    },
                    top + 16.0,
                    if *inferred { paint.dim } else { paint.state },
                    if *inferred {
                        r#" font-style="italic""#
                    } else {
                        r#" font-weight="bold""#
                    },
                    xml(&text)
                );
                y += 24.0;
            }
            What::Call { lane, text, error } => {
                let text = shorten(text, MAX_LABEL);
                let w = cols(&text) + 12.0;
                let x = xs[*lane];
                let colour = if *error { paint.error } else { paint.ok };
                let _ = write!(
                    body,
                    r#"<g class="call"><rect x="{:.1}" y="{:.1}" width="{w:.1}" height="18" rx="9" fill="{}" stroke="{colour}" stroke-width="1"/><text x="{x:.1}" y="{:.1}" text-anchor="middle" fill="{colour}"{}>{}</text></g>"#,
                    x - w / 2.0,
                    top + 3.0,
                    paint.background,
                    top + 16.0,
                    if *error || paint.bold {
                        r#" font-weight="bold""#
                    } else {
                        ""
                    },
                    xml(&text)
                );
                y += 24.0;
            }
            What::Lab { text } => {
                let (a, b) = (xs[0] - 30.0, xs[n - 1] + 30.0);
                let _ = write!(
                    body,
                    r#"<g class="lab"><line x1="{a:.1}" y1="{:.1}" x2="{b:.1}" y2="{:.1}" stroke="{}" stroke-dasharray="2 3"/><text x="{:.1}" y="{:.1}" text-anchor="middle" fill="{}" font-weight="bold">{}</text></g>"#,
                    top + 20.0,
                    top + 20.0,
                    paint.warn,
                    (xs[0] + xs[n - 1]) / 2.0,
                    top + 14.0,
                    paint.warn,
                    xml(&shorten(text, MAX_LABEL * 2))
                );
                y += 26.0;
            }
            What::Narration { text } => {
                let lines = wrap(text, narration_cols);
                // A veil over the lanes: the words are read, not crossed out.
                let _ = write!(
                    body,
                    r#"<g class="narration"><rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{}" fill-opacity="0.85"/>"#,
                    MARGIN + TIME_W - 6.0,
                    top + 5.0,
                    width - (MARGIN + TIME_W - 6.0) - MARGIN / 2.0,
                    16.0 * lines.len() as f64 + 4.0,
                    paint.background
                );
                for (i, l) in lines.iter().enumerate() {
                    let _ = write!(
                        body,
                        r#"<text x="{:.1}" y="{:.1}" fill="{}" font-style="italic">{}</text>"#,
                        MARGIN + TIME_W,
                        top + 18.0 + 16.0 * i as f64,
                        paint.text,
                        xml(l)
                    );
                }
                body.push_str("</g>");
                y += 10.0 + 16.0 * lines.len() as f64;
            }
        }
        let _ = write!(
            body,
            r#"<text class="time" x="{MARGIN:.1}" y="{time_y:.1}" fill="{}" font-size="10">{time}</text>"#,
            paint.dim
        );
        body.push('\n');
    }
    let height = (y + MARGIN).ceil();

    let mut out = String::with_capacity(body.len() + 4096);
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="monospace" font-size="{FONT}">"#
    );
    let _ = writeln!(out, "<title>{}</title>", xml(&title));
    let _ = writeln!(
        out,
        "<desc>The ladder of a run, made by synack {}: packets as arrows from sender to receiver, states and socket calls on the lanes; times in seconds from the first event.</desc>",
        env!("CARGO_PKG_VERSION")
    );
    out.push_str("<defs>");
    for k in PacketKind::ALL {
        let _ = write!(
            out,
            r#"<marker id="arrow-{}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="{}"/></marker>"#,
            k.name(),
            paint.packet(opts.colours, k)
        );
    }
    out.push_str("</defs>\n");
    let _ = writeln!(
        out,
        r#"<rect x="0" y="0" width="{width}" height="{height}" fill="{}"/>"#,
        paint.background
    );
    let _ = writeln!(
        out,
        r#"<text class="title" x="{MARGIN:.1}" y="32" fill="{}" font-size="18" font-weight="bold">{}</text>"#,
        paint.text,
        xml(&title)
    );
    let _ = writeln!(
        out,
        r#"<text x="{MARGIN:.1}" y="52" fill="{}" font-size="10">{LEGEND}</text>"#,
        paint.dim
    );
    for (i, name) in ladder.lanes.iter().enumerate() {
        let colour = paint.lanes[i % 4];
        let x = xs[i];
        let _ = writeln!(
            out,
            r#"<g class="lane"><line x1="{x:.1}" y1="{:.1}" x2="{x:.1}" y2="{:.1}" stroke="{}" stroke-width="2"/><text x="{x:.1}" y="{header_y:.1}" text-anchor="middle" fill="{colour}" font-size="14" font-weight="bold">{}</text></g>"#,
            header_y + 8.0,
            height - MARGIN / 2.0,
            colour,
            xml(name)
        );
    }
    out.push_str(&body);
    out.push_str("</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mermaid_text_escapes_what_ends_a_statement_or_is_markup() {
        assert_eq!(mermaid_text("a#b;c<d>e&f"), "a#35;b#59;c#lt;d#gt;e#amp;f");
        let clean = mermaid_text("x\ny\x1b[2J");
        assert!(!clean.chars().any(char::is_control), "{clean:?}");
        // Colons stay: the text after the first one is the message.
        assert_eq!(
            mermaid_text("connect(127.0.0.1:7000) = ok"),
            "connect(127.0.0.1:7000) = ok"
        );
    }

    #[test]
    fn lanes_get_ids_mermaid_accepts() {
        let ids = mermaid_ids(&[
            "client".into(),
            "127.0.0.1:4000".into(),
            "[::1]:7000".into(),
            "end".into(),
        ]);
        assert_eq!(ids[0], ("client".into(), None));
        assert_eq!(ids[1], ("L1".into(), Some("127.0.0.1:4000".into())));
        assert_eq!(ids[2], ("L2".into(), Some("[::1]:7000".into())));
        assert_eq!(ids[3].0, "L3");
    }

    #[test]
    fn xml_escapes_markup_and_control_characters() {
        assert_eq!(
            xml(r#"<a href="x">&'"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&apos;"
        );
        assert!(!xml("a\x07b\x00").chars().any(char::is_control));
    }

    #[test]
    fn wrap_keeps_lines_within_the_width() {
        let lines = wrap("the quick brown fox jumps over the lazy dog", 10);
        assert!(lines.iter().all(|l| l.width() <= 10), "{lines:?}");
        assert_eq!(
            lines.join(" "),
            "the quick brown fox jumps over the lazy dog"
        );
        let long = wrap("abcdefghijklmnop", 5);
        assert!(long.iter().all(|l| l.width() <= 5), "{long:?}");
        assert_eq!(wrap("", 5), vec![String::new()]);
    }

    #[test]
    fn shorten_cuts_by_characters() {
        assert_eq!(shorten("héllo", 5), "héllo");
        assert_eq!(shorten("héllo world", 5), "héll…");
    }

    #[test]
    fn no_events_still_make_a_diagram() {
        let opts = ExportOptions::default();
        assert!(mermaid(&[], &opts).starts_with("sequenceDiagram\n"));
        let s = svg(&[], &opts);
        assert!(s.contains("<svg") && s.ends_with("</svg>\n"));
    }
}
