//! The ladder both handouts draw, whatever the output: the run's events
//! placed on lanes (one per peer, or per address for a capture file) as
//! rows of packets, states, socket calls, the lab's actions and narration,
//! and their words cut or wrapped to fit.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::net::SocketAddr;

use super::{ExportOptions, connections};
use crate::app::timeline::{Lanes, Side};
use crate::event::{Event, LabAction, Origin, PacketEvent, StateSource, sanitize};
use crate::i18n::{Lang, rst_words};
use crate::output::{lab_call, shown};
use crate::tcp::track::{Notes, Role};
use crate::tcp::{Flags, Proto};

/// How a packet is drawn: the screen's packet colours.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum PacketKind {
    Syn,
    Fin,
    Rst,
    Data,
    Ack,
    Udp,
}

impl PacketKind {
    pub(super) const ALL: [PacketKind; 6] = [
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

    pub(super) fn name(self) -> &'static str {
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
pub(super) enum What {
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
pub(super) struct Row {
    /// Seconds since the run's first shown event.
    pub(super) t: f64,
    pub(super) what: What,
}

#[derive(Debug, Default)]
pub(super) struct Ladder {
    pub(super) lanes: Vec<String>,
    pub(super) rows: Vec<Row>,
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
/// when it carries data, what the analysis noticed, and why the kernel sent
/// a RST (in `lang`, as the screen words it).
fn packet_label(p: &PacketEvent, prefix: &str, lang: Lang) -> String {
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
    if let Some(why) = &p.drop_reason {
        let _ = write!(
            s,
            " · ✗ {}",
            crate::i18n::packet_drop_words(lang, why, p.notes.contains(Notes::LOST)).unwrap_or(why)
        );
    }
    if let Some(why) = &p.rst_reason {
        let _ = write!(s, " · {}", rst_words(lang, why).unwrap_or(why));
    }
    if let Some(w) = p.retransmit {
        let _ = write!(s, " · {}", crate::i18n::retransmit_row_words(lang, w));
    }
    s
}

/// Call arguments longer than this are cut (a write's data).
const MAX_ARGS: usize = 28;

pub(super) fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

impl Ladder {
    pub(super) fn build(events: &[Event], opts: &ExportOptions) -> Self {
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
                        label: sanitize(&packet_label(p, &prefix(p.conn.0), opts.lang))
                            .into_owned(),
                        kind: PacketKind::of(p),
                        // Lost on the link, or dropped by the receiver's kernel.
                        lost: p.notes.contains(Notes::LOST) || p.drop_reason.is_some(),
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
                Event::Congestion(c) => {
                    if !c.is_change() || opts.conn.is_some_and(|n| c.conn.map(|c| c.0) != Some(n)) {
                        continue;
                    }
                    let Some(lane) = placer.socket(c.local, row) else {
                        continue;
                    };
                    let mut text = c.conn.map(|c| prefix(c.0)).unwrap_or_default();
                    match c.from {
                        Some(from) => {
                            let _ = write!(text, "congestion {} → {}", from.name(), c.state.name());
                        }
                        None => {
                            let _ = write!(text, "congestion → {}", c.state.name());
                        }
                    }
                    if let Some(w) = c.cwnd {
                        let _ = write!(text, " (cwnd {w}");
                        if let Some(s) = c.ssthresh {
                            let _ = write!(text, ", ssthresh {s}");
                        }
                        text.push(')');
                    }
                    let _ = write!(text, " [{}]", c.source.label());
                    What::State {
                        lane,
                        text,
                        inferred: false,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shorten_cuts_by_characters() {
        assert_eq!(shorten("héllo", 5), "héllo");
        assert_eq!(shorten("héllo world", 5), "héll…");
    }
}
