//! The watch / read screen: a live table of connections (like `ss`: both
//! ends, each end's state, packets, bytes, last seen), listeners with their
//! accept queue on top; `/` filters, `p` freezes, Enter opens a ladder.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};

use super::Palette;
use super::parts::{draw_keys, rect};
use super::text::{put, put_right, width};
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

/// A column: its width in terminal columns, and whether it is right-aligned.
struct Col {
    width: u16,
    right: bool,
}

/// The columns: narrow (under 110 columns) or wide; the states column takes
/// what the others leave of `width`.
fn columns(wide: bool, width: u16) -> Vec<Col> {
    let c = |width, right| Col { width, right };
    let fixed: &[u16] = if wide {
        &[5, 22, 22, 6, 9, 8, 5]
    } else {
        &[22, 22, 5]
    };
    // One column of margin, one between each pair of columns.
    let taken = 1 + fixed.iter().sum::<u16>() + u16::try_from(fixed.len()).unwrap_or(0);
    let states = width.saturating_sub(taken).max(STATES_MIN);
    if wide {
        vec![
            c(5, false),
            c(22, false),
            c(22, false),
            c(states, false),
            c(6, true),
            c(9, true),
            c(8, true),
            c(5, false),
        ]
    } else {
        vec![c(22, false), c(22, false), c(states, false), c(5, true)]
    }
}

/// The states column's least width (`FIN-WAIT-2~ / CLOSE-WAIT~`).
const STATES_MIN: u16 = 25;

/// Draws cells into their columns, each cut or padded by display width.
fn draw_cells(
    buf: &mut Buffer,
    x: u16,
    y: u16,
    max: u16,
    cells: &[String],
    wide: bool,
    style: Style,
) {
    let mut cx = x;
    let end = x + max;
    let cols = columns(wide, max + 1);
    for (col, text) in cols.iter().zip(cells) {
        if cx >= end {
            break;
        }
        let room = col.width.min(end - cx);
        if col.right {
            put_right(buf, cx + room, y, text, room, style);
        } else {
            put(buf, cx, y, text, room, style);
        }
        cx += col.width + 1;
    }
    // What is left (a listener's queue) runs on past the last column.
    if let Some(rest) = cells.get(cols.len()) {
        if cx < end {
            put(buf, cx, y, rest, end - cx, style);
        }
    }
}

fn row_cells(e: &Entry, app: &App, t: &Labels, wide: bool) -> Vec<String> {
    // How long the connection has been quiet: against the clock when
    // watching, against the file's last packet when reading one.
    let now = match app.kind() {
        RunKind::Watch { .. } => app.now().max(app.last_ts()),
        _ => app.last_ts(),
    };
    let last = format!("{:.1}s", now.seconds_since(e.last_seen).max(0.0));
    let mut cells = Vec::new();
    if wide {
        cells.push(e.proto.as_str().to_owned());
    }
    match e.key {
        RowKey::Listener(_) => {
            // Any client may come: the listener is the server end.
            cells.push("*".to_owned());
            cells.push(e.local.to_string());
            // LISTEN, or CLOSED once the listener is gone (the `*` says
            // what the row is).
            cells.push(state_text(e.server_state));
            cells.push(String::new());
            if wide {
                cells.extend([String::new(), String::new(), String::new()]);
            }
            if let Some((a, b)) = e.queue {
                cells.push(fill(&t.accept_queue, &[&a, &b]));
            }
        }
        RowKey::Conn(c) => {
            cells.push(e.local.to_string());
            cells.push(e.remote.map(|r| r.to_string()).unwrap_or_default());
            cells.push(format!(
                "{} / {}",
                state_text(e.client_state),
                state_text(e.server_state)
            ));
            cells.push(e.packets.to_string());
            if wide {
                cells.push(bytes(e.bytes));
                cells.push(last);
                cells.push(format!("#{}", c.0));
            }
        }
    }
    cells
}

pub fn draw(buf: &mut Buffer, area: Rect, app: &App, pal: &Palette) {
    let t = labels(app.lang());
    let lay = table_layout(area.width, area.height);
    // Header: what is watched, counters, frozen.
    let h = rect(lay.header);
    buf.set_style(h, pal.header);
    let what = match &app.kind() {
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
    if let Some(r) = app.replay() {
        left.push_str(" · ");
        left.push_str(&fill(&t.recorded, &[&r.kernel, &r.date]));
    }
    if app.frozen().is_some() {
        left.push_str(" · ");
        left.push_str(&t.frozen);
    }
    let lw = put(buf, h.x, h.y, &left, h.width, pal.header);
    let mut right = vec![fill(
        &t.table_count,
        &[&(rows.len() - listeners), &listeners],
    )];
    if app.dropped_packets() > 0 {
        right.push(fill(&t.drops, &[&app.dropped_packets()]));
    }
    if app.rejected_frames() > 0 {
        right.push(fill(&t.rejected, &[&app.rejected_frames()]));
    }
    if app.conns().evicted > 0 {
        right.push(fill(&t.evicted, &[&app.conns().evicted]));
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
    // The states column's title, shortened when the column is narrow.
    let states_w = columns(wide, tb.width)
        .get(if wide { 3 } else { 2 })
        .map_or(0, |c| c.width);
    let col_states = if width(&t.col_states) <= states_w {
        &t.col_states
    } else {
        &t.col_states_short
    };
    let titles: Vec<String> = if wide {
        [
            &t.col_proto,
            &t.col_client,
            &t.col_server,
            col_states,
            &t.col_packets,
            &t.col_bytes,
            &t.col_last,
        ]
        .into_iter()
        .cloned()
        .collect()
    } else {
        [&t.col_client, &t.col_server, col_states, &t.col_packets]
            .into_iter()
            .cloned()
            .collect()
    };
    draw_cells(
        buf,
        tb.x + 1,
        tb.y,
        tb.width - 1,
        &titles,
        wide,
        pal.dim.add_modifier(Modifier::UNDERLINED),
    );
    let list_h = usize::from(tb.height.saturating_sub(1));
    if rows.is_empty() {
        // Nothing yet, or nothing the filter lets through.
        let filtered = !app.filter().trim().is_empty() && !app.conns().is_empty();
        let empty = if filtered {
            fill(&t.table_no_match, &[&app.filter().trim()])
        } else {
            t.table_empty.clone()
        };
        put(buf, tb.x + 1, tb.y + 2, &empty, tb.width - 1, pal.dim);
    }
    let cursor = app.table_cursor().min(rows.len().saturating_sub(1));
    let first = cursor.saturating_sub(list_h.saturating_sub(1));
    for (i, key) in rows.iter().enumerate().skip(first).take(list_h) {
        let Some(e) = app.conns().get(*key) else {
            continue;
        };
        let y = tb.y + 1 + u16::try_from(i - first).unwrap_or(0);
        let style = if e.is_closed() { pal.dim } else { pal.base };
        let style = if i == cursor { pal.selected } else { style };
        if i == cursor {
            buf.set_style(Rect::new(tb.x, y, tb.width, 1), style);
        }
        draw_cells(
            buf,
            tb.x + 1,
            y,
            tb.width - 1,
            &row_cells(e, app, t, wide),
            wide,
            style,
        );
    }
    // Footer: what went wrong, the filter prompt while typing, else the keys.
    let f = lay.footer;
    if let Some(err) = &app.lab().error {
        let s = fill(&t.source_failed, &[err]);
        put(buf, f.x + 1, f.y, &s, f.width - 1, pal.error);
        return;
    }
    if app.editing_filter() || !app.filter().is_empty() {
        let s = format!(
            "{}{}{}",
            t.filter_prompt,
            app.filter(),
            if app.editing_filter() { "▏" } else { "" }
        );
        put(buf, f.x + 1, f.y, &s, f.width - 1, pal.key);
        if !app.editing_filter() {
            return;
        }
        return;
    }
    let k = |key: &str, label: &str| (key.to_owned(), label.to_owned());
    let mut keys = vec![k("↵", &t.key_open), k("/", &t.key_filter)];
    // A file read whole does not move: nothing to freeze.
    if !matches!(app.kind(), RunKind::Read { .. }) {
        keys.push(k(
            "p",
            if app.frozen().is_some() {
                &t.key_unfreeze
            } else {
                &t.key_freeze
            },
        ));
    }
    keys.extend([
        k("l", &t.key_lang),
        k("?", &t.key_help),
        k("q", &t.key_quit),
    ]);
    draw_keys(buf, f, &keys, pal);
}
