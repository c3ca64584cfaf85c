//! Pieces more than one view draws: the rectangle of a layout area, the
//! footer's key hints, a packet's colour and label (the ladder and the
//! details view), and the queue gauge (the cards and the ladder's rows).

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;

use super::Palette;
use super::text::{put, width};
use crate::app::layout::Area;
use crate::event::{PacketEvent, sanitize};
use crate::i18n::{Lang, rst_words};
use crate::tcp::Flags;
use crate::tcp::track::Notes;

/// The ratatui rectangle of a layout area.
#[must_use]
pub fn rect(a: Area) -> Rect {
    Rect::new(a.x, a.y, a.width, a.height)
}

/// Draws key hints in a row. When they do not all fit, the ones just
/// before help and quit go first: `?` and `q` always stay (the help lists
/// every key).
pub fn draw_keys(buf: &mut Buffer, a: Area, keys: &[(String, String)], pal: &Palette) {
    let w_of = |(key, label): &(String, String)| width(key) + 1 + width(label) + 2;
    let kept_always = |k: &(String, String)| k.0 == "?" || k.0 == "q";
    let mut shown: Vec<&(String, String)> = keys.iter().collect();
    while shown.iter().map(|k| w_of(k)).sum::<u16>() + 1 > a.width {
        match shown.iter().rposition(|k| !kept_always(k)) {
            Some(i) => {
                shown.remove(i);
            }
            None => break,
        }
    }
    let mut x = a.x + 1;
    let end = a.x + a.width;
    for (key, label) in shown {
        let w = width(key) + 1 + width(label) + 2;
        if x + w > end {
            break;
        }
        x += put(buf, x, a.y, key, w, pal.key);
        x += 1;
        x += put(buf, x, a.y, label, w, pal.dim);
        x += 2;
    }
}

/// The style of a packet's kind.
#[must_use]
pub fn packet_style(p: &PacketEvent, pal: &Palette) -> Style {
    let Some(tcp) = p.segment.tcp else {
        return pal.udp;
    };
    let f = tcp.flags;
    if f.rst() {
        pal.rst
    } else if f.syn() {
        pal.syn
    } else if f.fin() {
        pal.fin
    } else if p.segment.payload_len > 0 {
        pal.data
    } else {
        pal.ack
    }
}

/// A packet's label, shortest form last: flags, then seq/ack/len/win and
/// options as room allows. What the kernel said of it (why it sent a RST,
/// why it dropped the segment: `✗ accept queue full`, whether it resent
/// it) is in words beside the numbers. Short of room, the words a tag
/// already says give way first (that the kernel resent a segment tagged a
/// retransmission, that the lab's link dropped one tagged lost), before
/// the sequence number does; then the numbers; where even the flags and the
/// reason do not fit, the reason is cut, not left out.
#[must_use]
pub fn packet_labels(p: &PacketEvent, lang: Lang) -> Vec<String> {
    let forms = plain_labels(p);
    let all = kernel_words(p, lang, true);
    if all.is_empty() {
        return forms;
    }
    let with = |words: &str, forms: &[String]| -> Vec<String> {
        if words.is_empty() {
            return forms.to_vec();
        }
        forms.iter().map(|l| format!("{l} · {words}")).collect()
    };
    let reasons = kernel_words(p, lang, false);
    if reasons == all {
        return with(&all, &forms);
    }
    // Every form but the flags alone with all the words, down to the flags
    // and the sequence number; then every form with the reasons only.
    let mut numbered = forms[..forms.len().saturating_sub(1).max(1)].to_vec();
    if let (Some(_), Some(flags)) = (p.segment.tcp, forms.last()) {
        numbered.push(format!("{flags} seq={}", p.seq));
    }
    let mut v = with(&all, &numbered);
    v.extend(with(&reasons, &forms));
    v.dedup();
    v
}

/// What the kernel said of a packet, in the label's words (empty: nothing);
/// without `echoes`, only what no tag of the packet already says.
#[must_use]
pub fn kernel_words(p: &PacketEvent, lang: Lang, echoes: bool) -> String {
    // The drop first: where the words are cut, what happened to it stays.
    let mut parts = Vec::new();
    if let Some(why) = &p.drop_reason {
        let lab = p.notes.contains(Notes::LOST);
        // The lab's link: its `lost` tag says so.
        if echoes || !lab {
            let words = crate::i18n::packet_drop_words(lang, why, lab)
                .map_or_else(|| sanitize(why).into_owned(), str::to_owned);
            parts.push(format!("✗ {words}"));
        }
    }
    if let Some(why) = &p.rst_reason {
        parts.push(rst_words(lang, why).map_or_else(|| sanitize(why).into_owned(), str::to_owned));
    }
    // A retransmission the capture's analysis tags: whether the kernel
    // confirms it.
    if let Some(w) = p.retransmit.filter(|_| echoes) {
        parts.push(crate::i18n::retransmit_row_words(lang, w).to_owned());
    }
    parts.join(" · ")
}

fn plain_labels(p: &PacketEvent) -> Vec<String> {
    let seg = &p.segment;
    let Some(tcp) = seg.tcp else {
        return vec![format!("UDP len={}", seg.payload_len), "UDP".to_owned()];
    };
    let flags = tcp.flags.to_string();
    let mut core = format!("{flags} seq={}", p.seq);
    if tcp.flags.ack() {
        core.push_str(&format!(" ack={}", p.ack));
    }
    if seg.payload_len > 0 {
        core.push_str(&format!(" len={}", seg.payload_len));
    }
    if tcp.flags.contains(Flags::URG) {
        core.push_str(&format!(" urg={}", tcp.urgent));
    }
    // The window, when there is room; when it is the point (a SYN's, a
    // closed or reopened one), in the short form too.
    let with_win = format!("{core} win={}", p.win);
    let win_matters = tcp.flags.syn() || p.win == 0 || p.notes.contains(Notes::WINDOW_UPDATE);
    let short = if win_matters { with_win.clone() } else { core };
    let mut full = with_win.clone();
    let o = &tcp.options;
    let mut opts = Vec::new();
    if let Some(m) = o.mss {
        opts.push(format!("mss={m}"));
    }
    if o.sack_perm {
        opts.push("sack".to_owned());
    }
    if o.timestamps.is_some() && tcp.flags.syn() {
        opts.push("ts".to_owned());
    }
    if let Some(ws) = o.wscale {
        opts.push(format!("ws={ws}"));
    }
    if !o.sack_blocks().is_empty() {
        opts.push(format!("sack×{}", o.sack_blocks().len()));
    }
    if !opts.is_empty() {
        full.push_str(&format!(" <{}>", opts.join(",")));
    }
    let mut v = vec![full, with_win, short, flags];
    v.dedup();
    v
}

/// `▮▮▯▯` for `n` of `of`, at most `width` cells (over-full shows all full).
/// A listener's queue holds backlog + 1 connections on Linux (it is full
/// when longer than the backlog), so callers pass that as `of`.
#[must_use]
pub fn gauge(n: u32, of: u32, width: u32) -> String {
    let of = of.max(1);
    let cells = width.min(of);
    let full = (n.min(of) * cells).div_ceil(of);
    let mut s = "▮".repeat(full as usize);
    s.push_str(&"▯".repeat((cells - full) as usize));
    s
}
