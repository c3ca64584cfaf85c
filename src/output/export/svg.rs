//! The ladder as a standalone SVG drawing (`--export svg`): lanes, packets
//! as arrows, states and calls boxed on their lanes, in the screen's
//! theme for the chosen theme, every text escaped for XML.

use std::fmt::Write as _;

use unicode_width::UnicodeWidthStr;

use super::ExportOptions;
use super::ladder::{Ladder, PacketKind, What, shorten};
use crate::event::{Event, sanitize};
use crate::i18n::Theme;
use crate::i18n::wrap;

/// The SVG's theme, by meaning: the screen's palette (src/ui/theme.rs) as
/// a terminal shows its named theme.
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
    fn of(c: Theme) -> Self {
        match c {
            Theme::Dark => Paint {
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
            Theme::Light => Paint {
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
            Theme::Contrast => Paint {
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

    fn packet(&self, c: Theme, k: PacketKind) -> &'static str {
        match (c, k) {
            (Theme::Dark, PacketKind::Syn) => "#23d18b",
            (Theme::Dark, PacketKind::Fin) => "#d670d6",
            (Theme::Dark, PacketKind::Rst) => "#f14c4c",
            (Theme::Dark, PacketKind::Data) => "#29b8db",
            (Theme::Dark, PacketKind::Ack) => "#b0b0b0",
            (Theme::Dark, PacketKind::Udp) => "#3b8eea",
            (Theme::Light, PacketKind::Syn) => "#00875a",
            (Theme::Light, PacketKind::Fin) => "#bc05bc",
            (Theme::Light, PacketKind::Rst) => "#cd3131",
            (Theme::Light, PacketKind::Data) => "#0451a5",
            (Theme::Light, PacketKind::Ack) => "#666666",
            (Theme::Light, PacketKind::Udp) => "#0598bc",
            (Theme::Contrast, PacketKind::Syn) => "#55ff55",
            (Theme::Contrast, PacketKind::Fin) => "#ff55ff",
            (Theme::Contrast, PacketKind::Rst) => "#ff5555",
            (Theme::Contrast, PacketKind::Data) => "#55ffff",
            (Theme::Contrast, PacketKind::Ack) => "#ffffff",
            (Theme::Contrast, PacketKind::Udp) => "#7f9fff",
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
    let paint = Paint::of(opts.theme);
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
                let colour = paint.packet(opts.theme, *kind);
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
            paint.packet(opts.theme, k)
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
    fn xml_escapes_markup_and_control_characters() {
        assert_eq!(
            xml(r#"<a href="x">&'"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&apos;"
        );
        assert!(!xml("a\x07b\x00").chars().any(char::is_control));
    }
}
