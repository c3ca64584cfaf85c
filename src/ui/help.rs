//! The `?` overlay: every key, for the screen in use.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::widgets::{Block, Borders, Widget};

use super::Palette;
use super::text::{put, width};
use crate::app::layout::wrap;
use crate::app::{App, RunKind};
use crate::i18n::labels;

pub fn draw(buf: &mut Buffer, area: Rect, app: &App, pal: &Palette) {
    let t = labels(app.lang());
    let sections: [(&str, Vec<(&str, &str)>); 4] = [
        (
            &t.help_demo,
            vec![
                ("␣ Space", &t.help_space),
                ("p", &t.help_p),
                ("→ PgDn", &t.help_right),
                ("← PgUp", &t.help_left),
                ("k", &t.help_k),
                ("c", &t.help_c),
                ("x", &t.help_x),
                ("r", &t.help_r),
                ("s Tab", &t.help_s),
                ("d", &t.help_d),
                ("e", &t.help_e),
                ("1–4", &t.help_quiz),
            ],
        ),
        (&t.help_watch, {
            let mut v = vec![
                ("↵ Enter", t.help_table_enter.as_str()),
                ("/", &t.help_slash),
            ];
            // A file read whole does not move: nothing to freeze.
            if !matches!(app.kind(), RunKind::Read { .. }) {
                v.push(("p", &t.help_freeze));
            }
            v
        }),
        (
            &t.help_all,
            vec![
                ("↑↓ j k", &t.help_jk),
                ("↵ Enter", &t.help_enter),
                ("f", &t.help_f),
                ("↑↓", &t.help_move),
                ("", &t.help_mouse),
                ("l", &t.help_l),
                ("q Ctrl-C", &t.help_q),
            ],
        ),
        (
            &t.help_legend,
            vec![
                ("◆", &t.legend_kernel),
                ("◇", &t.legend_inferred),
                ("──▶", &t.legend_packet),
                ("──✗", &t.legend_lost),
                ("───✗│", &t.legend_dropped),
                ("▲", &t.legend_cong),
                (&t.blocks, &t.legend_blocking),
                (&t.legend_tag_mark, &t.legend_tag),
            ],
        ),
    ];
    // The sections for the screen in use, then the shared keys and the marks.
    let demo = matches!(app.kind(), RunKind::Demo { .. } | RunKind::Idle);
    let shown: Vec<&(&str, Vec<(&str, &str)>)> = sections
        .iter()
        .enumerate()
        .filter(|(i, _)| match i {
            0 => demo,
            1 => !demo,
            _ => true,
        })
        .map(|(_, s)| s)
        .collect();
    let w = area.width.saturating_sub(4).min(100);
    let key_w = 10;
    // Every line first (wrapped), then the window of them that fits.
    let mut lines: Vec<(String, String, bool)> = Vec::new();
    for (title, keys) in &shown {
        lines.push(((*title).to_owned(), String::new(), true));
        for (k, what) in keys {
            for (i, line) in wrap(what, w.saturating_sub(key_w + 5))
                .into_iter()
                .enumerate()
            {
                let key = if i == 0 {
                    (*k).to_owned()
                } else {
                    String::new()
                };
                lines.push((key, line, false));
            }
        }
    }
    let h = (u16::try_from(lines.len()).unwrap_or(u16::MAX) + 3).min(area.height);
    let r = Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    );
    super::text::clear_for_box(buf, r);
    buf.set_style(r, pal.base);
    let block = Block::new()
        .borders(Borders::ALL)
        .border_style(pal.key)
        .title(format!(" {} ", t.help_title))
        .title_style(pal.key);
    let inner = block.inner(r);
    block.render(r, buf);
    let room = usize::from(inner.height.saturating_sub(1));
    let max_scroll = lines.len().saturating_sub(room);
    let scroll = usize::from(app.help_scroll()).min(max_scroll);
    for (i, (key, text, title)) in lines.iter().skip(scroll).take(room).enumerate() {
        let y = inner.y + u16::try_from(i).unwrap_or(0);
        if *title {
            put(
                buf,
                inner.x + 1,
                y,
                key,
                inner.width,
                pal.base.add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
            );
        } else {
            put(buf, inner.x + 2, y, key, key_w, pal.key);
            put(
                buf,
                inner.x + 3 + key_w,
                y,
                text,
                inner.width.saturating_sub(key_w + 3),
                pal.base,
            );
        }
    }
    let more = if scroll < max_scroll { "↓ … " } else { "" };
    let close = format!("{more}{}", t.help_close);
    put(
        buf,
        inner.x + inner.width.saturating_sub(width(&close) + 1),
        inner.bottom().saturating_sub(1),
        &close,
        inner.width,
        pal.dim,
    );
}
