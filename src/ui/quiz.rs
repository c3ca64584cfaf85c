//! Quiz mode's box, between the lane names and the ladder's rows: the
//! verdict on the last answer, the next question with numbered choices, and
//! the score. Its text is `app::panes::quiz_lines`.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::widgets::{Block, Borders, Widget};

use super::Palette;
use super::text::put;
use crate::app::App;
use crate::app::layout::Area;
use crate::app::panes::{Look, quiz_lines};
use crate::i18n::{fill, labels};

pub fn draw(buf: &mut Buffer, app: &App, pal: &Palette) {
    let (Some(a), Some(q)) = (app.ladder_layout().quiz, &app.quiz()) else {
        return;
    };
    let t = labels(app.lang());
    let lines = quiz_lines(app, a.width.saturating_sub(4));
    let title = format!(" {} ", fill(&t.quiz_title, &[&q.right, &q.asked]));
    boxed(buf, a, &title, &lines, pal, pal.key);
}

fn style(look: Look, pal: &Palette) -> Style {
    match look {
        Look::Heading => pal.header.add_modifier(Modifier::BOLD),
        Look::Body => pal.base,
        Look::Aside => pal.dim,
        Look::Keys => pal.key,
        Look::Good => pal.ok,
        Look::Bad => pal.error,
        Look::Unsure => pal.warn,
    }
}

/// A bordered box over `a` with `lines`; the last line that fits ends in
/// `…` when some do not.
pub(super) fn boxed(
    buf: &mut Buffer,
    a: Area,
    title: &str,
    lines: &[(String, Look)],
    pal: &Palette,
    border: Style,
) {
    let r = Rect::new(a.x, a.y, a.width, a.height);
    super::text::clear_for_box(buf, r);
    buf.set_style(r, pal.base);
    let block = Block::new()
        .borders(Borders::ALL)
        .border_style(border)
        .title(title.to_owned())
        .title_style(pal.key);
    let inner = block.inner(r);
    block.render(r, buf);
    let shown = usize::from(inner.height);
    for (i, (line, look)) in lines.iter().take(shown).enumerate() {
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
            style(*look, pal),
        );
    }
}
