//! The scenario picker: every scenario with its one-line summary.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Modifier;

use super::Palette;
use super::text::{put, width};
use crate::app::{App, RunKind};
use crate::i18n::{Lang, fill, labels};

pub fn draw(buf: &mut Buffer, area: Rect, app: &App, pal: &Palette) {
    let t = labels(app.lang());
    let header = Rect::new(area.x, area.y, area.width, 1);
    buf.set_style(header, pal.header);
    put(
        buf,
        area.x,
        area.y,
        &format!(" {} · {}", t.title, t.picker_title),
        area.width,
        pal.header,
    );
    let name_w = app
        .choices()
        .iter()
        .map(|c| width(&c.name))
        .max()
        .unwrap_or(8)
        + 2;
    let list_top = area.y + 2;
    let list_h = area.height.saturating_sub(4);
    let first = app
        .picker()
        .saturating_sub(usize::from(list_h) / 2)
        .min(app.choices().len().saturating_sub(usize::from(list_h)));
    // Not all fit (25 scenarios in a 24-line terminal): say which are
    // shown, so the ones below the last line are not missed.
    let shown = usize::from(list_h).min(app.choices().len());
    if shown < app.choices().len() {
        let count = fill(
            &t.picker_shown,
            &[&(first + 1), &(first + shown), &app.choices().len()],
        );
        let w = width(&count);
        put(
            buf,
            area.right().saturating_sub(w + 1),
            area.y,
            &count,
            w,
            pal.header,
        );
    }
    for (i, c) in app
        .choices()
        .iter()
        .enumerate()
        .skip(first)
        .take(usize::from(list_h))
    {
        let y = list_top + u16::try_from(i - first).unwrap_or(0);
        let selected = i == app.picker();
        let summary = match app.lang() {
            Lang::Zh => c.summary_zh.as_deref().unwrap_or(&c.summary),
            Lang::En => &c.summary,
        };
        let marker = if selected { "▶ " } else { "  " };
        let name_style = if selected {
            pal.selected.add_modifier(Modifier::BOLD)
        } else {
            pal.key
        };
        put(buf, area.x + 1, y, marker, 2, pal.key);
        put(buf, area.x + 3, y, &c.name, name_w, name_style);
        let sx = area.x + 3 + name_w;
        put(
            buf,
            sx,
            y,
            summary,
            area.width.saturating_sub(sx + 1),
            if selected { pal.base } else { pal.dim },
        );
    }
    let foot_y = area.bottom().saturating_sub(1);
    put(
        buf,
        area.x + 1,
        foot_y,
        &t.picker_help,
        area.width - 2,
        pal.key,
    );
    if let RunKind::Demo { name } = &app.kind() {
        let s = fill(&t.picker_running, &[name]);
        put(
            buf,
            area.x + 1,
            foot_y.saturating_sub(1),
            &s,
            area.width - 2,
            pal.dim,
        );
    }
}
