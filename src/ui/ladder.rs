//! The ladder screen: header, the step's narration, one lane per endpoint
//! with time flowing down (packets as arrows between lanes, calls and state
//! changes on their lane), the endpoint cards, the diagram beside it when
//! there is room, and the footer's keys.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};

use super::parts::{draw_keys, packet_labels, packet_style, rect};
use super::text::{self, cell, hline, put, put_right, put_spans, spans_width, width};
use super::{Palette, cards, diagram, parts};
use crate::app::layout::{self, Area};
use crate::app::{App, RowId, RunKind};
use crate::event::{
    CallEvent, CallResult, CheckEvent, Event, LabAction, LabEvent, Origin, PacketEvent, QueueEvent,
    StateEvent, StateSource, StepEvent,
};
use crate::i18n::{Labels, call_args, fill, labels, note_tag};
use crate::model::KernelMode;
use crate::tcp::track::Notes;
use crate::time::Timestamp;

/// Columns of the time at the left of each row (`  0.216347 `).
pub const TIME_WIDTH: u16 = 11;

pub fn draw(buf: &mut Buffer, _area: Rect, app: &App, pal: &Palette) {
    let t = labels(app.lang());
    let lay = app.ladder_layout();
    header(buf, lay.header, app, pal, t);
    banner(buf, lay.banner, app, pal);
    let geo = Geometry::new(lay.ladder, app.lanes().len());
    lane_names(buf, lay.lane_names, &geo, app, pal, t);
    rows(buf, lay.ladder, &geo, app, pal, t);
    cards::draw(buf, lay.cards, app, pal);
    if let Some(d) = lay.diagram {
        diagram::draw_panel(buf, rect(d), app, pal);
    }
    footer(buf, lay.footer, app, pal, t);
}

/// Where the lanes are in the ladder area.
pub struct Geometry {
    /// The column of each lane's line.
    pub xs: Vec<u16>,
    pub left: u16,
    pub right: u16,
}

impl Geometry {
    #[must_use]
    pub fn new(area: Area, lanes: usize) -> Self {
        let left = area.x + TIME_WIDTH;
        let right = area.x + area.width;
        let inner = right.saturating_sub(left);
        let xs = match lanes {
            0 => Vec::new(),
            1 => vec![left + inner / 2],
            n => {
                let span = inner.saturating_sub(3);
                let gaps = u16::try_from(n - 1).unwrap_or(1);
                (0..n)
                    .map(|i| left + 1 + u16::try_from(i).unwrap_or(0) * span / gaps)
                    .collect()
            }
        };
        Self { xs, left, right }
    }

    /// The columns lane `i`'s text may take on each side of its line:
    /// (left, right). A row's text stays in its own lane: it keeps one blank
    /// column next to its own line and next to the neighbouring lane's.
    fn rooms(&self, i: usize) -> (u16, u16) {
        let x = self.xs[i];
        let left_edge = if i == 0 {
            self.left
        } else {
            self.xs[i - 1] + 2
        };
        // The last lane's right: one column short of the edge, where a panel may begin.
        let right_edge = match self.xs.get(i + 1) {
            Some(next) => next.saturating_sub(1),
            None => self.right.saturating_sub(1),
        };
        (
            x.saturating_sub(1).saturating_sub(left_edge),
            right_edge.saturating_sub(x + 2),
        )
    }

    /// Where text `w` columns wide written on lane `i` goes: (start column,
    /// room). To the right of the lane's line; on the last lane, and on
    /// another when only the left has room for it, ending left of the line.
    /// Never past the neighbouring lanes' lines: what does not fit is cut.
    fn text_at(&self, i: usize, w: u16) -> (u16, u16) {
        let x = self.xs[i];
        let (left_room, right_room) = self.rooms(i);
        let last = i + 1 == self.xs.len() && self.xs.len() > 1;
        let leftward = if last {
            w <= left_room || left_room >= right_room
        } else {
            w > right_room && (w <= left_room || left_room > right_room)
        };
        if leftward {
            (x.saturating_sub(w.min(left_room) + 1), left_room)
        } else {
            (x + 2, right_room)
        }
    }

    /// Whether text `w` columns wide fits whole on lane `i`, on either side.
    fn fits(&self, i: usize, w: u16) -> bool {
        let (l, r) = self.rooms(i);
        w <= l.max(r)
    }
}

fn header(buf: &mut Buffer, a: Area, app: &App, pal: &Palette, t: &Labels) {
    let r = rect(a);
    buf.set_style(r, pal.header);
    let mut left = vec![t.title.clone()];
    match &app.kind() {
        RunKind::Demo { name } => left.push(name.clone()),
        RunKind::Watch { iface, filter } => left.push(fill(&t.watching, &[iface, filter])),
        RunKind::Read { file } => left.push(fill(&t.reading, &[file])),
        RunKind::Idle => {}
    }
    if let Some(s) = app.title_step() {
        left.push(fill(&t.step, &[&s.index, &s.total]));
    }
    if matches!(app.kind(), RunKind::Demo { .. }) {
        left.push(if app.script_over() {
            t.script_over.clone()
        } else if app.lab().paused {
            t.paused.clone()
        } else {
            t.playing.clone()
        });
        if app.lab().link_cut {
            left.push(t.link_is_cut.clone());
        }
        if app.lab().link_lossy {
            left.push(t.link_is_lossy.clone());
        }
    }
    if app.frozen().is_some() {
        left.push(t.frozen.clone());
    }
    // Where the states come from, whole and short.
    let (kernel, kernel_short) = match app.kernel() {
        Some(KernelMode::Exact) => (&t.kernel_exact, &t.kernel_exact_short),
        Some(KernelMode::PollOnly) => (&t.kernel_poll, &t.kernel_poll_short),
        Some(KernelMode::None) => (&t.kernel_none, &t.kernel_none_short),
        None if matches!(app.kind(), RunKind::Read { .. }) => {
            (&t.kernel_none, &t.kernel_none_short)
        }
        None => (&t.kernel_unknown, &t.kernel_unknown_short),
    };
    let (mut kernel, mut kernel_short) = (kernel.clone(), kernel_short.clone());
    let bare_short = kernel_short.clone();
    if app.rootless() && matches!(app.kind(), RunKind::Demo { .. }) {
        for k in [&mut kernel, &mut kernel_short] {
            k.push(' ');
            k.push_str(&t.rootless);
        }
    }
    let mut warnings = Vec::new();
    if app.dropped_packets() > 0 {
        warnings.push(fill(&t.drops, &[&app.dropped_packets()]));
    }
    if app.rejected_frames() > 0 {
        warnings.push(fill(&t.rejected, &[&app.rejected_frames()]));
    }
    if app.timeline().dropped() > 0 {
        warnings.push(fill(&t.rows_dropped, &[&app.timeline().dropped()]));
    }
    let right = |k: &str| {
        let mut v = vec![k.to_owned()];
        v.extend(warnings.iter().cloned());
        v.join(" · ")
    };
    // What is running, its step and whether it plays come first and whole;
    // the program's name gives way, then the long form of where the states
    // come from.
    // A replay says when and where it was recorded, short of room the day.
    let (mark, mark_short) = match app.replay() {
        Some(r) => (
            vec![fill(&t.recorded, &[&r.kernel, &r.date])],
            vec![fill(&t.recorded_short, &[&r.date])],
        ),
        None => (Vec::new(), Vec::new()),
    };
    let with = |from: usize, mark: &[String]| {
        let mut v: Vec<&str> = left[from..].iter().map(String::as_str).collect();
        v.extend(mark.iter().map(String::as_str));
        format!(" {}", v.join(" · "))
    };
    let lefts = [with(0, &mark), with(1, &mark), with(1, &mark_short)];
    let rights = [right(&kernel), right(&kernel_short), right(&bare_short)];
    let tries = [(0, 0), (1, 0), (1, 1), (1, 2), (2, 2)];
    let (l, r) = tries
        .iter()
        .map(|&(l, r)| (&lefts[l], &rights[r]))
        .find(|(l, r)| width(l) + width(r) + 3 <= a.width)
        .unwrap_or((&lefts[2], &rights[2]));
    let lw = put(buf, a.x, a.y, l, a.width, pal.header);
    let room = a.width.saturating_sub(lw + 2);
    if room > 8 {
        put_right(buf, a.x + a.width - 1, a.y, r, room, pal.header);
    }
}

fn banner(buf: &mut Buffer, a: Area, app: &App, pal: &Palette) {
    if a.height == 0 {
        return;
    }
    let Some(text) = app.banner_text() else {
        return;
    };
    let lines = layout::wrap(text, a.width.saturating_sub(2));
    let h = usize::from(a.height);
    for (i, line) in lines.iter().take(h).enumerate() {
        let y = a.y + u16::try_from(i).unwrap_or(0);
        cell(buf, a.x, y, "▌", pal.key);
        let mut shown = line.clone();
        if i + 1 == h && lines.len() > h {
            shown.push_str(" …");
        }
        put(buf, a.x + 2, y, &shown, a.width - 2, pal.banner);
    }
}

fn lane_names(buf: &mut Buffer, a: Area, geo: &Geometry, app: &App, pal: &Palette, t: &Labels) {
    put(
        buf,
        a.x,
        a.y,
        &format!("{:>9}", t.time),
        TIME_WIDTH,
        pal.dim,
    );
    for (i, lane) in app.lanes().lanes().iter().enumerate() {
        let name = lane.name.as_str();
        let w = width(name).min(24);
        let x = if i + 1 == geo.xs.len() && geo.xs.len() > 1 {
            geo.xs[i].saturating_sub(w.saturating_sub(1))
        } else if i == 0 {
            geo.xs[i]
        } else {
            geo.xs[i].saturating_sub(w / 2)
        };
        put(
            buf,
            x,
            a.y,
            name,
            w,
            pal.lane(i)
                .add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
        );
    }
}

/// Seconds since the first event, as the time column shows them.
fn rel(app: &App, ts: Timestamp) -> String {
    let t0 = app.t0().unwrap_or(ts);
    format!("{:>10.6}", ts.seconds_since(t0))
}

fn rows(buf: &mut Buffer, a: Area, geo: &Geometry, app: &App, pal: &Palette, t: &Labels) {
    if app.visible_len() == 0 {
        draw_lane_lines(buf, a.y, a.height, geo, pal);
        // Across every lane, as a row for the whole lab is.
        if a.height > 1 {
            ruled(buf, a.y + 1, geo, &[&t.empty_ladder], pal.dim, pal);
        }
        return;
    }
    draw_lane_lines(buf, a.y, a.height, geo, pal);
    for i in 0..a.height {
        let pos = app.top() + usize::from(i);
        let Some(row) = app.visible_row(pos) else {
            break;
        };
        let Some(ev) = app.timeline().get(row) else {
            continue;
        };
        let y = a.y + i;
        put(buf, a.x, y, &rel(app, ev.ts()), TIME_WIDTH - 1, pal.time);
        let cx = Cx { geo, app, pal, t };
        draw_row(buf, &cx, y, row, &ev);
        if app.cursor() == Some(row) {
            buf.set_style(Rect::new(a.x, y, a.width, 1), pal.selected);
        }
    }
}

fn draw_lane_lines(buf: &mut Buffer, y: u16, h: u16, geo: &Geometry, pal: &Palette) {
    for (i, x) in geo.xs.iter().enumerate() {
        for dy in 0..h {
            cell(
                buf,
                *x,
                y + dy,
                "│",
                pal.lane(i).add_modifier(Modifier::DIM),
            );
        }
    }
}

/// What drawing a row needs besides the buffer.
struct Cx<'a> {
    geo: &'a Geometry,
    app: &'a App,
    pal: &'a Palette,
    t: &'a Labels,
}

fn draw_row(buf: &mut Buffer, cx: &Cx<'_>, y: u16, row: RowId, ev: &Event) {
    let (geo, app, pal, t) = (cx.geo, cx.app, cx.pal, cx.t);
    match ev {
        Event::Packet(p) => packet_row(buf, cx, y, row, p),
        Event::Call(c) => call_row(buf, y, geo, app, c, pal),
        Event::State(s) => state_row(buf, cx, y, row, s),
        Event::Check(c) => check_row(buf, cx, y, row, c),
        Event::Queue(q) => queue_row(buf, cx, y, row, q),
        // Not a row: the cards show them.
        Event::SocketQueues(_) => {}
        Event::Congestion(c) => cong_row(buf, cx, y, row, c),
        Event::Lab(l) => lab_row(buf, y, cx, l),
        Event::Step(s) => step_row(buf, y, geo, s, pal, t),
        Event::Warning { message, .. } => {
            // The warning every rootless run begins with, in the screen's
            // language (the others are the model's own words).
            let message = if message.starts_with(crate::kernel::poll::NO_TRACEPOINT)
                && app.lang() == crate::i18n::Lang::Zh
            {
                t.warn_no_tracepoint.as_str()
            } else {
                message.as_str()
            };
            let s = format!("⚠ {}: {message}", t.warning);
            put(buf, geo.left, y, &s, geo.right - geo.left, pal.warn);
        }
    }
}

/// Writes a row's text on lane `lane`, over the lane lines: the first of
/// `forms` (the whole text first, shorter forms after) that fits whole in
/// the lane; the last cut to the room when none does.
fn on_lane_forms(
    buf: &mut Buffer,
    y: u16,
    geo: &Geometry,
    lane: usize,
    forms: &[&[(&str, Style)]],
) {
    if lane >= geo.xs.len() {
        return;
    }
    let Some(spans) = forms
        .iter()
        .find(|f| geo.fits(lane, spans_width(f)))
        .or(forms.last())
    else {
        return;
    };
    let (x, room) = geo.text_at(lane, spans_width(spans));
    put_spans(buf, x, y, spans, room);
    // A tick on the lane line points at the text.
    let tick = if x > geo.xs[lane] { "├" } else { "┤" };
    cell(buf, geo.xs[lane], y, tick, Style::new());
}

/// Note names as short tags.
fn note_tags(p: &PacketEvent) -> Vec<&'static str> {
    p.notes.names().filter(|n| *n != "lost").collect()
}

fn packet_row(buf: &mut Buffer, cx: &Cx<'_>, y: u16, row: RowId, p: &PacketEvent) {
    let (geo, app, pal, t) = (cx.geo, cx.app, cx.pal, cx.t);
    let seg = &p.segment;
    let Some((a, b)) = app.lanes().of_packet(seg.src, seg.dst, p.from, row) else {
        return;
    };
    if a >= geo.xs.len() || b >= geo.xs.len() || a == b {
        return;
    }
    let (xa, xb) = (geo.xs[a], geo.xs[b]);
    let rightward = xb > xa;
    let (lo, hi) = if rightward { (xa, xb) } else { (xb, xa) };
    let span = hi.saturating_sub(lo + 1);
    let style = packet_style(p, pal);
    let lost = p.notes.contains(Notes::LOST);
    let shaft = match seg.tcp {
        Some(tcp) if tcp.flags.rst() => "━",
        Some(tcp) if !tcp.flags.syn() && !tcp.flags.fin() && seg.payload_len == 0 => "╌",
        _ => "─",
    };
    // A lost packet's arrow stops two thirds of the way, at a ✗; one the
    // receiver's kernel dropped reaches its lane, and ends there at a ✗.
    let reach = if lost { span * 2 / 3 } else { span };
    let head = if p.drop_reason.is_some() {
        None
    } else {
        Some(style)
    };
    if rightward {
        hline(buf, lo + 1, y, reach, shaft, style);
        if lost {
            cell(buf, lo + 1 + reach, y, "✗", pal.lost);
        } else if let Some(style) = head {
            cell(buf, hi - 1, y, "▶", style);
        } else {
            cell(buf, hi - 1, y, "✗", pal.lost);
        }
    } else {
        hline(buf, hi - reach, y, reach, shaft, style);
        if lost {
            cell(buf, hi.saturating_sub(reach + 1), y, "✗", pal.lost);
        } else if let Some(style) = head {
            cell(buf, lo + 1, y, "◀", style);
        } else {
            cell(buf, lo + 1, y, "✗", pal.lost);
        }
    }
    // Tags first (they matter most), then the longest label that fits.
    // A dup ACK says which one it is: "dup ACK #3" is the lesson.
    let mut tags: Vec<String> = note_tags(p)
        .into_iter()
        .map(|n| match (n, p.dup_ack) {
            ("dup_ack", Some(d)) => format!("[{} #{}]", note_tag(app.lang(), n), d.num),
            _ => format!("[{}]", note_tag(app.lang(), n)),
        })
        .collect();
    if lost {
        tags.insert(0, format!("[{}]", t.lost));
    }
    let tag_text = tags.join("");
    // The label goes between lane lines: in the widest stretch of the arrow
    // that no other lane's line crosses (the middlemost of equals).
    let (from_x, to_x) = if rightward {
        (lo + 1, lo + 1 + reach)
    } else {
        (hi - reach, hi)
    };
    let crossed: Vec<u16> = geo
        .xs
        .iter()
        .copied()
        .filter(|&x| x > from_x && x < to_x)
        .collect();
    let mid = (from_x + to_x) / 2;
    let mut stretches = Vec::new();
    // Between the arrow's first and last cells (its head is one of them).
    let mut begin = from_x + 1;
    for end in crossed.iter().copied().chain(std::iter::once(to_x - 1)) {
        stretches.push((begin, end));
        begin = end + 1;
    }
    let (seg_from, seg_to) = stretches
        .into_iter()
        .max_by_key(|&(b, e)| {
            (
                e.saturating_sub(b),
                std::cmp::Reverse(((b + e) / 2).abs_diff(mid)),
            )
        })
        .unwrap_or((from_x, to_x));
    let (seg_from, seg_to) = if crossed.is_empty() {
        (from_x, to_x)
    } else {
        (seg_from, seg_to)
    };
    let seg = seg_to.saturating_sub(seg_from);
    let room = if crossed.is_empty() {
        reach.saturating_sub(4)
    } else {
        seg.saturating_sub(2)
    };
    // The longest label that fits beside the tags; when none does, the
    // flags (the shortest) and the tags cut to what is left.
    let forms = packet_labels(p, app.lang());
    let tag_full = width(&tag_text);
    let gap = u16::from(tag_full > 0);
    let label = forms
        .iter()
        .find(|l| width(l) + tag_full + gap <= room)
        .cloned()
        .unwrap_or_else(|| text::fit(forms.last().map_or("", String::as_str), room));
    let tag_w = tag_full.min(room.saturating_sub(width(&label) + gap));
    // A tag cut to a few cells says nothing.
    let tag_w = if tag_w < 4 && tag_w < tag_full {
        0
    } else {
        tag_w
    };
    let lw = width(&label);
    let total = lw + if tag_w > 0 { tag_w + 1 } else { 0 };
    let start = seg_from + seg.saturating_sub(total) / 2;
    let x = put(
        buf,
        start,
        y,
        &label,
        room,
        style.add_modifier(Modifier::BOLD),
    );
    if tag_w > 0 {
        put(buf, start + x + 1, y, &tag_text, tag_w, pal.note);
    }
}

fn call_row(buf: &mut Buffer, y: u16, geo: &Geometry, app: &App, c: &CallEvent, pal: &Palette) {
    let Some(lane) = app.lanes().peer(&c.endpoint) else {
        return;
    };
    let who = if c.endpoint.ends_with("-child") {
        labels(app.lang()).child_prefix.as_str()
    } else {
        ""
    };
    let args = short_args(&call_args(app.lang(), &c.args));
    let call = format!("{who}{}({args})", c.call);
    // In a narrow lane the arguments give way first: the result is the lesson.
    let bare = format!("{who}{}(…)", c.call);
    match &c.result {
        None => {
            let blocks = format!(" {}", labels(app.lang()).blocks);
            on_lane_forms(
                buf,
                y,
                geo,
                lane,
                &[
                    &[(&call, pal.base), (&blocks, pal.dim)],
                    &[(&bare, pal.base), (&blocks, pal.dim)],
                ],
            );
        }
        Some(r) => {
            let result = match r {
                CallResult::Ok => labels(app.lang()).call_ok.clone(),
                _ => r.as_contract().into_owned(),
            };
            let rs = if r.is_error() { pal.error } else { pal.ok };
            // A busy-poll loop's many calls in one row: `EAGAIN ×48211`.
            let times = c.times.map(|n| format!(" ×{n}")).unwrap_or_default();
            // What a read returned, when it is short: `= 4 "ping"`.
            let data = c
                .data
                .as_deref()
                .map(|d| format!(" \"{}\"", text::fit(d, 16)))
                .unwrap_or_default();
            // Short of room: the arguments go first, then the bytes read.
            on_lane_forms(
                buf,
                y,
                geo,
                lane,
                &[
                    &[
                        (&call, pal.base),
                        (" = ", pal.dim),
                        (&result, rs),
                        (&times, rs),
                        (&data, pal.dim),
                    ],
                    &[
                        (&bare, pal.base),
                        (" = ", pal.dim),
                        (&result, rs),
                        (&times, rs),
                        (&data, pal.dim),
                    ],
                    &[
                        (&bare, pal.base),
                        (" = ", pal.dim),
                        (&result, rs),
                        (&times, rs),
                    ],
                ],
            );
        }
    }
}

/// Call arguments as the ladder shows them: the lab's loopback address
/// dropped (`:7000`), epoll_ctl's op without its prefix (`ADD, fd 5,
/// EPOLLIN`), select's set without the `nfds N, ` before it (`readfds
/// {3,5}, timeout 1s`), long text cut.
fn short_args(args: &str) -> String {
    let mut a = args
        .replace("127.0.0.1:", ":")
        .replace("[::1]:", ":")
        .replace("EPOLL_CTL_", "");
    if let Some(rest) = a.strip_prefix("nfds ")
        && let Some((_, sets)) = rest.split_once(", ")
    {
        a = sets.replace("timeout ", "");
    }
    text::fit(&a, 22)
}

fn state_row(buf: &mut Buffer, cx: &Cx<'_>, y: u16, row: RowId, s: &StateEvent) {
    let (geo, app, pal, t) = (cx.geo, cx.app, cx.pal, cx.t);
    let Some(lane) = app.lanes().owner(s.local, row) else {
        return;
    };
    let inferred = s.source == StateSource::Inferred;
    let style = if inferred { pal.inferred } else { pal.state };
    let glyph = if inferred { "◇ " } else { "◆ " };
    let who = if s.remote.is_none() {
        format!("{}: ", t.listening)
    } else {
        String::new()
    };
    let change = match s.from {
        // The kernel confirming a state inferred earlier: no change.
        Some(f) if f == s.to => format!("{who}{}", fill(&t.confirmed, &[&s.to])),
        Some(f) => format!("{who}{f} → {}", s.to),
        None => format!("{who}→ {}", s.to),
    };
    // TIME-WAIT's timer is its lesson (2MSL); the others restart as they fire.
    let timer = s
        .timer
        .filter(|_| s.to == crate::tcp::TcpState::TimeWait)
        .map(|x| format!(" {x:.0}s"))
        .unwrap_or_default();
    let mut tag = if inferred {
        format!(" ({})", t.inferred)
    } else {
        String::new()
    };
    // Withdrawn later: the row says what the socket was instead.
    let glyph = match app.withdrawn().get(&(s.local, s.remote, s.ts)) {
        Some((actual, source)) => {
            let mark = match source {
                StateSource::Kernel => &t.withdrawn_mark,
                StateSource::Inferred => &t.withdrawn_mark_packets,
            };
            tag = format!("{tag} {}", fill(mark, &[actual]));
            "✗ "
        }
        None => glyph,
    };
    // In a narrow lane the state it left gives way first (the row above shows it).
    let to_only = match s.from {
        Some(f) if f == s.to => change.clone(),
        _ => format!("{who}→ {}", s.to),
    };
    on_lane_forms(
        buf,
        y,
        geo,
        lane,
        &[
            &[
                (glyph, style),
                (&change, style),
                (&timer, pal.dim),
                (&tag, pal.inferred),
            ],
            &[
                (glyph, style),
                (&to_only, style),
                (&timer, pal.dim),
                (&tag, pal.inferred),
            ],
            &[(glyph, style), (&to_only, style), (&timer, pal.dim)],
        ],
    );
}

/// The kernel's later word on a state shown: it confirms it, says the
/// socket was in another state (the state shown is withdrawn), or adds its
/// timer (an orphaned FIN-WAIT-2).
fn check_row(buf: &mut Buffer, cx: &Cx<'_>, y: u16, row: RowId, c: &CheckEvent) {
    let (geo, app, pal, t) = (cx.geo, cx.app, cx.pal, cx.t);
    let Some(lane) = app.lanes().owner(c.local, row) else {
        return;
    };
    let (glyph, text, short, style) = if c.withdraws() {
        let label = match c.source {
            StateSource::Kernel => &t.withdrawn,
            StateSource::Inferred => &t.withdrawn_by_packets,
        };
        (
            "✗ ",
            fill(label, &[&c.shown, &c.actual]),
            fill(&t.withdrawn_short, &[&c.actual]),
            pal.warn,
        )
    } else if c.actual == crate::tcp::TcpState::FinWait2 && c.timer.is_some() {
        let text = fill(&t.orphaned, &[&c.actual]);
        ("◆ ", text.clone(), text, pal.state)
    } else {
        let text = fill(&t.confirmed, &[&c.actual]);
        ("◆ ", text.clone(), text, pal.state)
    };
    let timer = c.timer.map(|x| format!(" {x:.0}s")).unwrap_or_default();
    on_lane_forms(
        buf,
        y,
        geo,
        lane,
        &[
            &[(glyph, style), (&text, style), (&timer, pal.dim)],
            &[(glyph, style), (&short, style), (&timer, pal.dim)],
        ],
    );
}

/// A congestion-state change on the sending socket's lane: `▲ congestion
/// Open → Recovery cwnd 14 · ssthresh 7 (TCP_INFO)`; narrower lanes drop the threshold, the window,
/// then the source, then the state left.
fn cong_row(buf: &mut Buffer, cx: &Cx<'_>, y: u16, row: RowId, c: &crate::event::CongestionEvent) {
    let (geo, app, pal, t) = (cx.geo, cx.app, cx.pal, cx.t);
    let Some(lane) = app.lanes().owner(c.local, row) else {
        return;
    };
    let state = c.state.name();
    let short = fill(&t.cong_row_short, &[&state]);
    // Where the kernel's tracepoint has told this socket's changes as they
    // happened, the socket's own report (read a moment later, and blind to
    // a state it passed through between two reads: `Recovery → Open` after
    // the kernel's `Recovery → Loss`, `Loss → Open`) tells its window in
    // the state it is in, not a change of its own.
    let told = c.source == crate::event::CongSource::Socket
        && app
            .sockets()
            .all()
            .iter()
            .rev()
            .find(|s| s.local == c.local && s.born <= row)
            .is_some_and(|s| {
                s.cong
                    .iter()
                    .any(|(r, k)| *r < row && k.source == crate::event::CongSource::Kernel)
            });
    // A first report that is not Open: where it came from is not known.
    let change = match c.from {
        _ if told => fill(&t.cong_report, &[&state]),
        Some(from) => fill(&t.cong_row, &[&from.name(), &state]),
        None => short.clone(),
    };
    let window = match (c.cwnd, c.ssthresh) {
        (Some(w), Some(s)) => format!(" cwnd {w} · ssthresh {s}"),
        (Some(w), None) => format!(" cwnd {w}"),
        _ => String::new(),
    };
    let cwnd = c.cwnd.map(|w| format!(" cwnd {w}")).unwrap_or_default();
    let source = match c.source {
        crate::event::CongSource::Socket => format!(" {}", t.cong_by_socket),
        crate::event::CongSource::Kernel => format!(" {}", t.cong_by_kernel),
    };
    let style = match c.state {
        crate::event::CaState::Open => pal.state,
        _ => pal.warn,
    };
    on_lane_forms(
        buf,
        y,
        geo,
        lane,
        &[
            &[
                ("▲ ", style),
                (&change, style),
                (&window, pal.dim),
                (&source, pal.dim),
            ],
            &[
                ("▲ ", style),
                (&change, style),
                (&cwnd, pal.dim),
                (&source, pal.dim),
            ],
            &[("▲ ", style), (&change, style), (&source, pal.dim)],
            &[("▲ ", style), (&change, style)],
            &[("▲ ", style), (&short, style)],
            &[("▲ ", style), (&state, style)],
        ],
    );
}

fn queue_row(buf: &mut Buffer, cx: &Cx<'_>, y: u16, row: RowId, q: &QueueEvent) {
    let (geo, app, pal, t) = (cx.geo, cx.app, cx.pal, cx.t);
    let Some(lane) = app.lanes().owner(q.local, row) else {
        return;
    };
    let gauge = parts::gauge(q.accept_queue, q.backlog.saturating_add(1), 6);
    let text = fill(&t.accept_queue, &[&q.accept_queue, &q.backlog]);
    let over = if q.overflows > 0 {
        format!(" {}", fill(&t.overflows, &[&q.overflows]))
    } else {
        String::new()
    };
    let full = q.accept_queue > q.backlog.max(1) || q.accept_queue >= q.backlog && q.backlog > 0;
    let style = if full { pal.warn } else { pal.dim };
    let numbers = format!("{}/{}", q.accept_queue, q.backlog);
    on_lane_forms(
        buf,
        y,
        geo,
        lane,
        &[
            &[
                (&text, style),
                (" ", style),
                (&gauge, style),
                (&over, pal.warn),
            ],
            &[
                (&gauge, style),
                (" ", style),
                (&numbers, style),
                (&over, pal.warn),
            ],
        ],
    );
}

fn lab_row(buf: &mut Buffer, y: u16, cx: &Cx<'_>, l: &LabEvent) {
    let (geo, app, pal, t) = (cx.geo, cx.app, cx.pal, cx.t);
    // The whole sentence, a short form for a narrow lane or screen, and the
    // endpoint whose lane it belongs on (none: the whole lab).
    let (text, short, style, who) = match &l.action {
        LabAction::Kill { endpoint } if l.result.as_contract() == "ESRCH" => (
            fill(&t.kill_dead_row, &[endpoint, endpoint]),
            fill(&t.kill_dead_short, &[endpoint]),
            pal.dim,
            Some(endpoint),
        ),
        LabAction::Kill { endpoint } => {
            let text = fill(&t.kill_row, &[endpoint]);
            (text.clone(), text, pal.error, Some(endpoint))
        }
        LabAction::LinkCut { only: None } => (
            t.link_cut_row.clone(),
            t.link_cut_short.clone(),
            pal.lost,
            None,
        ),
        LabAction::LinkCut { only: Some(who) } => (
            fill(&t.link_cut_one_row, &[who]),
            t.link_cut_short.clone(),
            pal.lost,
            Some(who),
        ),
        LabAction::LinkRestored { .. } => (
            t.link_restored_row.clone(),
            t.link_restored_row.clone(),
            pal.ok,
            None,
        ),
        LabAction::LinkLoss { per_10k, only } => {
            let share = crate::lab::script::LinkRule::format_percent(*per_10k);
            let text = match only {
                None => fill(&t.link_loss_row, &[&share]),
                Some(who) => fill(&t.link_loss_one_row, &[who, &share]),
            };
            (
                text,
                fill(&t.link_loss_short, &[&share]),
                pal.lost,
                only.as_ref(),
            )
        }
        LabAction::LinkDrop { segments, only, .. } => {
            let list: Vec<String> = segments.iter().map(u32::to_string).collect();
            let list = list.join(", ");
            let text = match only {
                None => fill(&t.link_drop_row, &[&list]),
                Some(who) => fill(&t.link_drop_one_row, &[who, &list]),
            };
            (
                text,
                fill(&t.link_drop_short, &[&list]),
                pal.lost,
                only.as_ref(),
            )
        }
        LabAction::Sleep(d) => {
            let text = fill(&t.sleep_row, &[&crate::lab::runner::format_duration(*d)]);
            (text.clone(), text, pal.dim, None)
        }
        LabAction::Sysctl { name, value } => {
            let text = fill(&t.sysctl_row, &[name, value]);
            (text.clone(), text, pal.warn, None)
        }
        // A replay has no lab that stays up.
        LabAction::Ended if app.replay().is_some() => (
            format!("■ {}", t.end_row_short),
            format!("■ {}", t.end_row_short),
            pal.key,
            None,
        ),
        LabAction::Ended => (
            format!("■ {}", t.end_row),
            format!("■ {}", t.end_row_short),
            pal.key,
            None,
        ),
        LabAction::Closing => return,
    };
    let dead = matches!(l.action, LabAction::Kill { .. }) && l.result.as_contract() == "ESRCH";
    let finish = |s: &str, whole: bool| {
        let mut s = if whole {
            fill(&t.lab_row, &[&s])
        } else {
            s.to_owned()
        };
        if l.result.is_error() && !dead {
            s.push_str(&format!(" = {}", l.result.as_contract()));
        }
        if l.origin == Origin::User && whole {
            s.push(' ');
            s.push_str(&t.by_you);
        }
        s
    };
    // Shorter and shorter: the short sentence, then without "lab:" and "(your key)".
    let forms = [
        finish(&text, true),
        finish(&short, true),
        finish(&short, false),
    ];
    match who.and_then(|w| app.lanes().peer(w)) {
        Some(lane) => {
            let spans: Vec<[(&str, Style); 1]> =
                forms.iter().map(|f| [(f.as_str(), style)]).collect();
            let forms: Vec<&[(&str, Style)]> = spans.iter().map(|s| s.as_slice()).collect();
            on_lane_forms(buf, y, geo, lane, &forms);
        }
        None => ruled(buf, y, geo, &[&forms[0], &forms[1], &forms[2]], style, pal),
    }
}

fn step_row(buf: &mut Buffer, y: u16, geo: &Geometry, s: &StepEvent, pal: &Palette, t: &Labels) {
    let text = fill(&t.step, &[&s.index, &s.total]);
    ruled(buf, y, geo, &[&text], pal.dim, pal);
}

/// A row for the whole lab (a step begins, the link is cut): a dotted rule
/// across every lane with the first of `forms` that fits in its middle.
fn ruled(buf: &mut Buffer, y: u16, geo: &Geometry, forms: &[&str], style: Style, pal: &Palette) {
    // One column short of the right edge: a panel may begin there.
    let room = (geo.right - geo.left).saturating_sub(1);
    let text = forms
        .iter()
        .find(|f| width(f) + 2 <= room)
        .or(forms.last())
        .map(|f| format!(" {f} "))
        .unwrap_or_default();
    let w = width(&text).min(room);
    hline(buf, geo.left, y, room, "┄", pal.dim);
    put(buf, geo.left + (room - w) / 2, y, &text, room, style);
}

/// The footer: the keys that matter on this screen, as many as fit.
pub fn footer_keys(app: &App, t: &Labels) -> Vec<(String, String)> {
    let k = |key: &str, label: &str| (key.to_owned(), label.to_owned());
    let mut v = Vec::new();
    match &app.kind() {
        RunKind::Demo { .. } => {
            if !app.script_over() {
                if app.lab().paused {
                    v.push(k("␣", &t.key_step));
                    if app.steps().len() > 1 {
                        v.push(k("←", &t.key_step_back));
                    }
                    v.push(k("p", &t.key_play));
                } else {
                    v.push(k("p", &t.key_pause));
                }
            }
            // A replay has no lab: its keys are not offered.
            let lab = app.replay().is_none();
            if lab {
                v.push(k("k", &t.key_kill));
                v.push(k(
                    "c",
                    if app.lab().link_cut {
                        &t.key_restore
                    } else {
                        &t.key_cut
                    },
                ));
                v.push(k("r", &t.key_restart));
            }
            v.push(k("s", &t.key_scenarios));
            v.push(k("d", &t.key_diagram));
            v.push(k("e", &t.key_explain));
            v.push(k("↵", &t.key_details));
            if lab {
                v.push(k(
                    "x",
                    if app.lab().link_lossy {
                        &t.key_loss_off
                    } else {
                        &t.key_loss_on
                    },
                ));
            }
        }
        kind => {
            v.push(k("Esc", &t.key_back));
            // A file read whole does not move: nothing to freeze.
            if !matches!(kind, RunKind::Read { .. }) {
                v.push(k("p", &t.key_freeze));
            }
            v.push(k("e", &t.key_explain));
            v.push(k("↵", &t.key_details));
        }
    }
    if app.cursor().is_some() {
        v.push(k("f", &t.key_follow));
    }
    v.push(k("l", &t.key_lang));
    v.push(k("?", &t.key_help));
    v.push(k("q", &t.key_quit));
    v
}

fn footer(buf: &mut Buffer, a: Area, app: &App, pal: &Palette, t: &Labels) {
    if let Some(err) = &app.lab().error {
        put(
            buf,
            a.x + 1,
            a.y,
            &fill(&t.lab_failed, &[err]),
            a.width - 1,
            pal.error,
        );
        return;
    }
    if let Some(crate::app::Notice::NeedsLab(key)) = app.notice() {
        let name = match app.kind() {
            RunKind::Demo { name } => name.as_str(),
            _ => "NAME",
        };
        put(
            buf,
            a.x + 1,
            a.y,
            &fill(&t.needs_lab, &[&key, &name]),
            a.width - 1,
            pal.warn,
        );
        return;
    }
    // Where the selection is, at the right: live, or row i/n; keys in the rest.
    let pos = match app.cursor() {
        None if matches!(app.kind(), RunKind::Read { .. }) => t.following_file.clone(),
        None if app.replay().is_some() => t.following_replay.clone(),
        None => t.following.clone(),
        Some(r) => fill(&t.row_of, &[&(app.visible_pos(r) + 1), &app.visible_len()]),
    };
    let w = width(&pos);
    put_right(buf, a.x + a.width - 1, a.y, &pos, w, pal.dim);
    let keys = Area::new(a.x, a.y, a.width.saturating_sub(w + 2), 1);
    draw_keys(buf, keys, &footer_keys(app, t), pal);
}

#[cfg(test)]
mod tests {
    use super::short_args;

    #[test]
    fn call_args_are_shortened_for_the_lane() {
        assert_eq!(short_args("127.0.0.1:7000"), ":7000");
        assert_eq!(short_args("[::1]:7000"), ":7000");
        assert_eq!(
            short_args("EPOLL_CTL_ADD, fd 5, EPOLLIN"),
            "ADD, fd 5, EPOLLIN"
        );
        assert_eq!(short_args("EPOLL_CTL_DEL, fd 5"), "DEL, fd 5");
    }
}
