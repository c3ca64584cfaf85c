//! Quiz mode's box, at the foot of the ladder: the verdict on the last
//! answer, the next question with numbered choices, and the score.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::widgets::{Block, Borders, Clear, Widget};

use super::Palette;
use super::text::put;
use crate::app::App;
use crate::app::layout::wrap;
use crate::i18n::{Lang, fill, labels};

/// Lines of the box, each with its style.
fn lines(app: &App, pal: &Palette, width: u16) -> Vec<(String, Style)> {
    let Some(q) = &app.quiz else {
        return Vec::new();
    };
    let t = labels(app.lang);
    let zh = app.lang == Lang::Zh;
    let mut out = Vec::new();
    if let Some(v) = &q.verdict {
        let (text, style) = match &v.truth {
            None => (t.quiz_unseen.clone(), pal.warn),
            Some(truth) if v.right() => (fill(&t.quiz_right, &[&truth.describe(zh)]), pal.ok),
            Some(truth) => {
                let chosen = v
                    .question
                    .choices
                    .get(v.chosen)
                    .map(|c| c.describe(zh))
                    .unwrap_or_default();
                (
                    fill(&t.quiz_wrong, &[&truth.describe(zh), &chosen]),
                    pal.error,
                )
            }
        };
        out.extend(wrap(&text, width).into_iter().map(|l| (l, style)));
    }
    if let Some(question) = q.current() {
        out.extend(
            wrap(&question.prompt(zh), width)
                .into_iter()
                .map(|l| (l, pal.header)),
        );
        // The choices side by side when they fit: the ladder stays visible.
        let mut row = String::new();
        for (i, c) in question.choices.iter().enumerate() {
            let item = format!("[{}] {}", i + 1, c.describe(zh));
            if !row.is_empty() && super::text::width(&row) + 3 + super::text::width(&item) > width {
                out.push((std::mem::take(&mut row), pal.key));
            }
            if !row.is_empty() {
                row.push_str("   ");
            }
            row.push_str(&item);
        }
        if !row.is_empty() {
            out.push((row, pal.key));
        }
        out.extend(
            wrap(&fill(&t.quiz_press, &[&question.choices.len()]), width)
                .into_iter()
                .map(|l| (l, pal.dim)),
        );
    } else if q.watching() {
        out.push((t.quiz_watching.clone(), pal.dim));
    } else if q.finished() && q.total() > 0 {
        out.push((fill(&t.quiz_over, &[&q.right, &q.asked]), pal.header));
    }
    out
}

/// Draws the box over the top of the ladder (the newest rows, at its foot,
/// stay visible), if the quiz has something to say.
pub fn draw(buf: &mut Buffer, app: &App, pal: &Palette) {
    let Some(q) = &app.quiz else {
        return;
    };
    let l = app.ladder_layout().ladder;
    let area = Rect::new(l.x, l.y, l.width, l.height);
    let w = area.width.saturating_sub(2).min(100);
    let lines = lines(app, pal, w.saturating_sub(4));
    if lines.is_empty() || w < 20 {
        return;
    }
    let h = (u16::try_from(lines.len()).unwrap_or(u16::MAX) + 2).min(area.height);
    let r = Rect::new(area.x + (area.width - w) / 2, area.y, w, h);
    // The rows behind the box's band are hidden whole, not cut at its edges.
    let band = Rect::new(area.x, area.y, area.width, h);
    Clear.render(band, buf);
    buf.set_style(band, pal.base);
    buf.set_style(r, pal.base);
    let t = labels(app.lang);
    let block = Block::new()
        .borders(Borders::ALL)
        .border_style(pal.key)
        .title(format!(" {} ", fill(&t.quiz_title, &[&q.right, &q.asked])))
        .title_style(pal.key);
    let inner = block.inner(r);
    block.render(r, buf);
    for (i, (line, style)) in lines.iter().take(usize::from(inner.height)).enumerate() {
        let yy = inner.y + u16::try_from(i).unwrap_or(0);
        put(
            buf,
            inner.x + 1,
            yy,
            line,
            inner.width.saturating_sub(2),
            *style,
        );
    }
}
