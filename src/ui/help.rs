//! The `?` overlay: every key, for the screen in use.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::widgets::{Block, Borders, Clear, Widget};

use super::Palette;
use super::text::{put, width};
use crate::app::App;
use crate::app::layout::wrap;
use crate::i18n::labels;

pub fn draw(buf: &mut Buffer, area: Rect, app: &App, pal: &Palette) {
    let t = labels(app.lang);
    let sections: [(&str, Vec<(&str, &str)>); 3] = [
        (
            &t.help_demo,
            vec![
                ("␣ Space", &t.help_space),
                ("p", &t.help_p),
                ("→ PgDn", &t.help_right),
                ("k", &t.help_k),
                ("c", &t.help_c),
                ("r", &t.help_r),
                ("s Tab", &t.help_s),
                ("d", &t.help_d),
            ],
        ),
        (
            &t.help_watch,
            vec![
                ("↵ Enter", &t.help_table_enter),
                ("/", &t.help_slash),
                ("p", &t.help_freeze),
            ],
        ),
        (
            &t.help_all,
            vec![
                ("↑↓ j k", &t.help_jk),
                ("↵ Enter", &t.help_enter),
                ("f", &t.help_f),
                ("↑↓ ← →", &t.help_move),
                ("", &t.help_mouse),
                ("l", &t.help_l),
                ("q Ctrl-C", &t.help_q),
            ],
        ),
    ];
    let w = area.width.saturating_sub(4).min(100);
    let lines: u16 = sections
        .iter()
        .map(|(_, keys)| 1 + u16::try_from(keys.len()).unwrap_or(0))
        .sum::<u16>()
        + 6;
    let h = lines.min(area.height);
    let r = Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    );
    Clear.render(r, buf);
    buf.set_style(r, pal.base);
    let block = Block::new()
        .borders(Borders::ALL)
        .border_style(pal.key)
        .title(format!(" {} ", t.help_title))
        .title_style(pal.key);
    let inner = block.inner(r);
    block.render(r, buf);
    let key_w = 10;
    let mut y = inner.y;
    for (title, keys) in &sections {
        if y >= inner.bottom() {
            break;
        }
        put(
            buf,
            inner.x + 1,
            y,
            title,
            inner.width,
            pal.base.add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
        );
        y += 1;
        for (k, what) in keys {
            if y >= inner.bottom() {
                break;
            }
            put(buf, inner.x + 2, y, k, key_w, pal.key);
            let text = wrap(what, inner.width.saturating_sub(key_w + 3));
            put(
                buf,
                inner.x + 3 + key_w,
                y,
                text.first().map_or("", String::as_str),
                inner.width - key_w - 3,
                pal.base,
            );
            y += 1;
        }
    }
    let close = &t.help_close;
    put(
        buf,
        inner.x + inner.width.saturating_sub(width(close) + 1),
        inner.bottom().saturating_sub(1),
        close,
        inner.width,
        pal.dim,
    );
}
