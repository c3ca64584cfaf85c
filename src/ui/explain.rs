//! The explanation pane (`e`): at the foot of the ladder, what the selected
//! row (or the newest) means: its entries from `assets/explain/`, in the
//! language shown.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::widgets::{Block, Borders, Clear, Widget};

use super::Palette;
use super::text::put;
use crate::app::App;
use crate::app::layout::wrap;
use crate::explain;

/// Lines of the pane for `width` columns, each with its style.
fn lines(app: &App, pal: &Palette, width: u16) -> Vec<(String, Style)> {
    let meta = explain::meta(app.lang);
    let colon = if app.lang == crate::i18n::Lang::Zh {
        "："
    } else {
        ": "
    };
    let mut out = Vec::new();
    for e in app.explanations() {
        out.push((e.title.clone(), pal.header.add_modifier(Modifier::BOLD)));
        for l in wrap(&e.what, width) {
            out.push((l, pal.base));
        }
        for (label, text) in [(&meta.why, &e.why), (&meta.todo, &e.todo)] {
            if !text.is_empty() {
                for l in wrap(&format!("{label}{colon}{text}"), width) {
                    out.push((l, pal.dim));
                }
            }
        }
    }
    out
}

/// Draws the pane over the lower part of the ladder.
pub fn draw(buf: &mut Buffer, app: &App, pal: &Palette) {
    let l = app.ladder_layout().ladder;
    if l.height < 6 || l.width < 30 {
        return;
    }
    let lines = lines(app, pal, l.width.saturating_sub(4));
    if lines.is_empty() {
        return;
    }
    // Half the ladder at most: the rows it explains stay in sight.
    let room = (l.height / 2).max(4);
    let h = (u16::try_from(lines.len()).unwrap_or(u16::MAX) + 2).min(room);
    let band = Rect::new(l.x, l.y + l.height - h, l.width, h);
    Clear.render(band, buf);
    buf.set_style(band, pal.base);
    let t = crate::i18n::labels(app.lang);
    let block = Block::new()
        .borders(Borders::ALL)
        .border_style(pal.border)
        .title(format!(" {} · e ", t.key_explain))
        .title_style(pal.key);
    let inner = block.inner(band);
    block.render(band, buf);
    let shown = usize::from(inner.height);
    for (i, (line, style)) in lines.iter().take(shown).enumerate() {
        let y = inner.y + u16::try_from(i).unwrap_or(0);
        let text = if i + 1 == shown && lines.len() > shown {
            format!("{line} …")
        } else {
            line.clone()
        };
        put(
            buf,
            inner.x + 1,
            y,
            &text,
            inner.width.saturating_sub(2),
            *style,
        );
    }
}
