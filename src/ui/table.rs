//! The watch / read screen: a live table of connections (like `ss`: both
//! ends, each end's state, packets, bytes, last seen), listeners with their
//! accept queue on top; `/` filters, `p` freezes, Enter opens a ladder.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Modifier;

use super::Palette;
use super::ladder::{draw_keys, rect};
use super::text::{put, put_right};
use crate::app::conns::{Entry, RowKey};
use crate::app::layout::table_layout;
use crate::app::{App, RunKind};
use crate::event::StateSource;
use crate::i18n::{Labels, fill, labels};
use crate::tcp::TcpState;

fn state_text(s: Option<(TcpState, StateSource)>) -> String {
    match s {
        Some((st, StateSource::Kernel)) => st.as_str().to_owned(),
        Some((st, StateSource::Inferred)) => format!("{}~", st.as_str()),
        None => "-".to_owned(),
    }
}

/// `1.2 kB`, `3.4 MB`: sizes a reader takes in at a glance.
fn bytes(n: u64) -> String {
    #[allow(clippy::cast_precision_loss)]
    let f = n as f64;
    if n < 10_000 {
        format!("{n} B")
    } else if n < 10_000_000 {
        format!("{:.1} kB", f / 1e3)
    } else if n < 10_000_000_000 {
        format!("{:.1} MB", f / 1e6)
    } else {
        format!("{:.1} GB", f / 1e9)
    }
}

fn row_text(e: &Entry, app: &App, t: &Labels, wide: bool) -> String {
    let t0 = app.t0.unwrap_or(e.last_seen);
    let last = format!("{:.1}s", e.last_seen.seconds_since(t0));
    match e.key {
        RowKey::Listener(_) => {
            let q = e
                .queue
                .map(|(a, b)| fill(&t.accept_queue, &[&a, &b]))
                .unwrap_or_default();
            let proto = if wide {
                format!("{:<5} ", e.proto.as_str())
            } else {
                String::new()
            };
            format!(
                "{proto}{:<22} {:<22} {:<25} {q}",
                e.local.to_string(),
                t.listening,
                state_text(e.server_state)
            )
        }
        RowKey::Conn(c) => {
            let states = format!(
                "{} / {}",
                state_text(e.client_state),
                state_text(e.server_state)
            );
            let remote = e.remote.map(|r| r.to_string()).unwrap_or_default();
            if wide {
                format!(
                    "{:<5} {:<22} {:<22} {:<25} {:>6} {:>9} {:>8}  #{}",
                    e.proto.as_str(),
                    e.local.to_string(),
                    remote,
                    states,
                    e.packets,
                    bytes(e.bytes),
                    last,
                    c.0
                )
            } else {
                format!(
                    "{:<22} {:<22} {:<25} {:>5}",
                    e.local.to_string(),
                    remote,
                    states,
                    e.packets
                )
            }
        }
    }
}

pub fn draw(buf: &mut Buffer, area: Rect, app: &App, pal: &Palette) {
    let t = labels(app.lang);
    let lay = table_layout(area.width, area.height);
    // Header: what is watched, counters, frozen.
    let h = rect(lay.header);
    buf.set_style(h, pal.header);
    let what = match &app.kind {
        RunKind::Watch { iface, filter } => fill(&t.watching, &[iface, filter]),
        RunKind::Read { file } => fill(&t.reading, &[file]),
        _ => String::new(),
    };
    let rows = app.table_rows();
    let listeners = rows
        .iter()
        .filter(|k| matches!(k, RowKey::Listener(_)))
        .count();
    let mut left = format!(" {} · {what}", t.title);
    if app.frozen.is_some() {
        left.push_str(" · ");
        left.push_str(&t.frozen);
    }
    let lw = put(buf, h.x, h.y, &left, h.width, pal.header);
    let mut right = vec![fill(
        &t.table_count,
        &[&(rows.len() - listeners), &listeners],
    )];
    if app.dropped_packets > 0 {
        right.push(fill(&t.drops, &[&app.dropped_packets]));
    }
    if app.rejected_frames > 0 {
        right.push(fill(&t.rejected, &[&app.rejected_frames]));
    }
    if app.conns.evicted > 0 {
        right.push(fill(&t.evicted, &[&app.conns.evicted]));
    }
    let room = h.width.saturating_sub(lw + 2);
    put_right(
        buf,
        h.right() - 1,
        h.y,
        &right.join(" · "),
        room,
        pal.header,
    );
    // Column titles, then rows.
    let tb = rect(lay.table);
    let wide = tb.width >= 110;
    let titles = if wide {
        format!(
            "{:<5} {:<22} {:<22} {:<25} {:>6} {:>9} {:>8}",
            t.col_proto,
            t.col_client,
            t.col_server,
            t.col_states,
            t.col_packets,
            t.col_bytes,
            t.col_last
        )
    } else {
        format!(
            "{:<22} {:<22} {:<25} {:>5}",
            t.col_client, t.col_server, t.col_states, t.col_packets
        )
    };
    put(
        buf,
        tb.x + 1,
        tb.y,
        &titles,
        tb.width - 1,
        pal.dim.add_modifier(Modifier::UNDERLINED),
    );
    let list_h = usize::from(tb.height.saturating_sub(1));
    if rows.is_empty() {
        put(
            buf,
            tb.x + 1,
            tb.y + 2,
            &t.table_empty,
            tb.width - 1,
            pal.dim,
        );
    }
    let cursor = app.table_cursor.min(rows.len().saturating_sub(1));
    let first = cursor.saturating_sub(list_h.saturating_sub(1));
    for (i, key) in rows.iter().enumerate().skip(first).take(list_h) {
        let Some(e) = app.conns.get(*key) else {
            continue;
        };
        let y = tb.y + 1 + u16::try_from(i - first).unwrap_or(0);
        let style = if e.is_closed() { pal.dim } else { pal.base };
        let style = if i == cursor { pal.selected } else { style };
        put(
            buf,
            tb.x + 1,
            y,
            &row_text(e, app, t, wide),
            tb.width - 1,
            style,
        );
    }
    // Footer: the filter prompt while typing, else the keys.
    let f = lay.footer;
    if app.editing_filter || !app.filter.is_empty() {
        let s = format!(
            "{}{}{}",
            t.filter_prompt,
            app.filter,
            if app.editing_filter { "▏" } else { "" }
        );
        put(buf, f.x + 1, f.y, &s, f.width - 1, pal.key);
        if !app.editing_filter {
            return;
        }
        return;
    }
    let k = |key: &str, label: &str| (key.to_owned(), label.to_owned());
    let keys = vec![
        k("↵", &t.key_open),
        k("/", &t.key_filter),
        k(
            "p",
            if app.frozen.is_some() {
                &t.key_unfreeze
            } else {
                &t.key_freeze
            },
        ),
        k("l", &t.key_lang),
        k("?", &t.key_help),
        k("q", &t.key_quit),
    ];
    draw_keys(buf, f, &keys, pal);
}
