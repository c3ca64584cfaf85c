//! One packet, field by field: every header field (link, IP, TCP with its
//! options decoded) with its value and its bytes as sent, and a hex dump in
//! which the selected field's bytes are marked. Numbers on the wire are
//! big-endian, and the screen says so: this is where htons() becomes visible.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::widgets::{Block, Borders, Widget};

use super::Palette;
use super::parts::packet_style;
use super::text::{pad, put, put_spans};
use crate::app::App;
use crate::app::layout::wrap;
use crate::event::{Event, PacketEvent};
use crate::i18n::{Labels, field_name, fill, labels};
use crate::tcp::dissect::{self, Field, Layer};
use crate::tcp::track::Role;

fn layer_style(l: Layer, pal: &Palette) -> Style {
    match l {
        Layer::Link => pal.dim,
        Layer::Ip => pal.lane(2),
        Layer::Transport => pal.lane(0),
        Layer::Options => pal.lane(1),
        Layer::Payload => pal.data,
    }
}

pub fn draw(buf: &mut Buffer, area: Rect, app: &App, pal: &Palette) {
    let t = labels(app.lang());
    let Some(row) = app.detail() else { return };
    let ev = app.timeline().get(row);
    let Some(Event::Packet(p)) = ev.as_deref() else {
        return;
    };
    super::text::clear_for_box(buf, area);
    buf.set_style(area, pal.base);
    let block = Block::new()
        .borders(Borders::ALL)
        .border_style(pal.border)
        .title(format!(
            " {} ",
            fill(&t.details_title, &[&app.packet_number(row)])
        ))
        .title_style(pal.base.add_modifier(Modifier::BOLD));
    let inner = block.inner(area);
    block.render(area, buf);
    let (x, w) = (inner.x + 1, inner.width.saturating_sub(2));
    let mut y = inner.y;
    // Who sent it to whom, and its label as on the ladder.
    let seg = &p.segment;
    let t0 = app.t0().unwrap_or(seg.ts);
    let label = super::parts::packet_labels(p, app.lang())
        .into_iter()
        .next()
        .unwrap_or_default();
    let from = match p.from {
        Role::Client => &t.from_client,
        Role::Server => &t.from_server,
    };
    let head = format!(
        "{:.6}  {from} {} → {}   ",
        seg.ts.seconds_since(t0),
        seg.src,
        seg.dst
    );
    put_spans(
        buf,
        x,
        y,
        &[(&head, pal.base), (&label, packet_style(p, pal))],
        w,
    );
    y += 1;
    // Not in its bytes: the kernel's word on why it sent it (as root).
    if let Some(why) = &p.rst_reason {
        let field = format!("{}: ", t.rst_reason);
        put_spans(
            buf,
            x,
            y,
            &[
                (&field, pal.dim),
                (
                    &crate::i18n::rst_reason(app.lang(), why),
                    packet_style(p, pal),
                ),
            ],
            w,
        );
        y += 1;
    }
    // … why it dropped it, and whether it resent it.
    if let Some(why) = &p.drop_reason {
        let field = format!("{}: ", t.drop_reason);
        let value = format!(
            "✗ {}",
            crate::i18n::drop_reason(
                app.lang(),
                why,
                p.notes.contains(crate::tcp::track::Notes::LOST),
            )
        );
        put_spans(buf, x, y, &[(&field, pal.dim), (&value, pal.lost)], w);
        y += 1;
    }
    if let Some(rw) = p.retransmit {
        let field = format!("{}: ", crate::i18n::retransmit_field(app.lang(), rw));
        let value = crate::i18n::retransmit_words(app.lang(), rw);
        put_spans(
            buf,
            x,
            y,
            &[(&field, pal.dim), (value, packet_style(p, pal))],
            w,
        );
        y += 1;
    }
    // Not in its bytes either: the sender's congestion window when it left
    // (its socket's own report, or the kernel's state).
    let sender = app
        .sockets()
        .all()
        .iter()
        .rev()
        .find(|s| s.local == seg.src && s.remote == Some(seg.dst));
    if let Some(c) = sender.and_then(|s| s.cong_at(row)) {
        let field = format!("{}: ", t.cong_field);
        let value = super::cards::cong_text(c, w.saturating_sub(super::text::width(&field)), app);
        put_spans(buf, x, y, &[(&field, pal.dim), (&value, pal.base)], w);
        y += 1;
    }
    let bottom = inner.bottom();
    // The note on byte order and the key hints at the bottom.
    let note = wrap(&t.details_order, w);
    let note_h = u16::try_from(note.len()).unwrap_or(0).min(3);
    let hint_y = bottom.saturating_sub(1);
    put(buf, x, hint_y, &t.details_hint, w, pal.key);
    for (i, line) in note.iter().take(usize::from(note_h)).enumerate() {
        let ny = hint_y.saturating_sub(note_h) + u16::try_from(i).unwrap_or(0);
        put(buf, x, ny, line, w, pal.warn);
    }
    let body_bottom = hint_y.saturating_sub(note_h + 1);
    let Some(raw) = &p.raw else {
        put(buf, x, y + 1, &t.details_no_bytes, w, pal.dim);
        return;
    };
    let fields = dissect::dissect_in(raw.link, &raw.bytes, app.lang());
    let sel = app.detail_field().min(fields.len().saturating_sub(1));
    let hex_rows = raw.bytes.len().div_ceil(16);
    let room = body_bottom.saturating_sub(y);
    // The hex dump takes up to half the room; the fields the rest.
    let hex_h = u16::try_from(hex_rows)
        .unwrap_or(u16::MAX)
        .min(room / 2)
        .max(1);
    let fields_h = room.saturating_sub(hex_h + 2);
    // Column titles. Columns are counted in terminal cells: a Chinese
    // character takes two.
    let cols = format!(
        "  {} {} {}",
        pad(&t.details_field, NAME_W),
        pad(&t.details_value, VALUE_W),
        t.details_wire
    );
    put(
        buf,
        x,
        y,
        &cols,
        w,
        pal.dim.add_modifier(Modifier::UNDERLINED),
    );
    y += 1;
    let first = sel
        .saturating_sub(usize::from(fields_h) / 2)
        .min(fields.len().saturating_sub(usize::from(fields_h)));
    for (i, f) in fields
        .iter()
        .enumerate()
        .skip(first)
        .take(usize::from(fields_h))
    {
        let style = layer_style(f.layer, pal);
        let marker = if i == sel { "▶ " } else { "  " };
        // Addresses have no number to show: their bytes are what is sent.
        let wire = f
            .raw_hex
            .clone()
            .unwrap_or_else(|| match raw.bytes.get(f.range.clone()) {
                Some(b) if f.layer != Layer::Payload && b.len() <= 16 => b
                    .iter()
                    .map(|x| format!("{x:02x}"))
                    .collect::<Vec<_>>()
                    .join(" "),
                _ => String::new(),
            });
        let bytes = match f.range.len() {
            1 => format!("{}", f.range.start),
            _ => format!("{}–{}", f.range.start, f.range.end - 1),
        };
        let value = shown_value(f, p, t);
        let line = format!(
            "{marker}{} {} {wire} @{bytes}",
            pad(field_name(app.lang(), f.name), NAME_W),
            pad(&value, VALUE_W)
        );
        let s = if i == sel {
            style.add_modifier(Modifier::REVERSED)
        } else {
            style
        };
        put(buf, x, y, &line, w, s);
        y += 1;
    }
    y = body_bottom.saturating_sub(hex_h);
    hex_dump(buf, x, y, w, hex_h, &raw.bytes, &fields, sel, pal);
}

/// Columns of the field names and of the values.
const NAME_W: u16 = 24;
const VALUE_W: u16 = 30;

/// A field's value, with what the ladder shows beside the wire's number:
/// relative sequence numbers (SACK blocks' too), the window after scaling.
fn shown_value(f: &Field, p: &PacketEvent, t: &Labels) -> String {
    let rel = |n: &dyn std::fmt::Display| fill(&t.details_relative, &[&f.value, n]);
    let tcp = p.segment.tcp;
    let acks = tcp.is_some_and(|t| t.flags.ack());
    match f.name {
        "Sequence number" => rel(&p.seq),
        "Acknowledgment number" if acks => rel(&p.ack),
        "Window" => match tcp {
            Some(h) if u32::from(h.window) != p.win => fill(&t.details_scaled, &[&f.value, &p.win]),
            _ => f.value.clone(),
        },
        // SACK blocks name bytes of the receiver's stream: relative to the
        // same origin as the ACK beside them (the ACK's absolute minus its
        // relative), as Wireshark shows them.
        "SACK option" if acks && f.value.starts_with("sack=") => {
            let Some(h) = tcp else {
                return f.value.clone();
            };
            let base = h.ack.wrapping_sub(p.ack);
            let blocks: Vec<String> = h
                .options
                .sack_blocks()
                .iter()
                .map(|(l, r)| format!("{}-{}", l.wrapping_sub(base), r.wrapping_sub(base)))
                .collect();
            if blocks.is_empty() {
                f.value.clone()
            } else {
                rel(&blocks.join(" "))
            }
        }
        _ => f.value.clone(),
    }
}

/// The bytes, 16 a row, each coloured by its field's layer; the selected
/// field's bytes reversed. The rows shown keep the selection in view.
#[allow(clippy::too_many_arguments)]
fn hex_dump(
    buf: &mut Buffer,
    x: u16,
    y: u16,
    w: u16,
    h: u16,
    bytes: &[u8],
    fields: &[Field],
    sel: usize,
    pal: &Palette,
) {
    let style_of = |i: usize| {
        // The innermost (last) field covering the byte decides its colour.
        let f = fields.iter().rev().find(|f| f.range.contains(&i));
        let selected = fields.get(sel).is_some_and(|s| s.range.contains(&i));
        let base = f.map_or(pal.dim, |f| layer_style(f.layer, pal));
        if selected {
            base.add_modifier(Modifier::REVERSED | Modifier::BOLD)
        } else {
            base
        }
    };
    let rows: Vec<(usize, &[u8])> = dissect::hex_rows(bytes).collect();
    let sel_row = fields.get(sel).map_or(0, |f| f.range.start / 16);
    let first = sel_row
        .saturating_sub(usize::from(h) / 2)
        .min(rows.len().saturating_sub(usize::from(h)));
    for (r, (offset, chunk)) in rows.iter().skip(first).take(usize::from(h)).enumerate() {
        let yy = y + u16::try_from(r).unwrap_or(0);
        let mut cx = x + put(buf, x, yy, &format!("{offset:04x}  "), w, pal.time);
        for (j, b) in chunk.iter().enumerate() {
            if j == 8 {
                cx += 1;
            }
            let s = style_of(offset + j);
            if cx + 3 > x + w {
                break;
            }
            put(buf, cx, yy, &format!("{b:02x}"), 2, s);
            cx += 3;
        }
        // The printable view: bytes from the wire, never control characters.
        let ascii_x = x + 6 + 16 * 3 + 2;
        if ascii_x + 16 <= x + w {
            for (j, b) in chunk.iter().enumerate() {
                let ch = if b.is_ascii_graphic() || *b == b' ' {
                    char::from(*b).to_string()
                } else {
                    "·".to_owned()
                };
                put(
                    buf,
                    ascii_x + u16::try_from(j).unwrap_or(0),
                    yy,
                    &ch,
                    1,
                    style_of(offset + j),
                );
            }
        }
    }
}
