//! Writing text into the buffer: always sanitized (nothing from the wire, a
//! script or a peer reaches the terminal as a control sequence), measured in
//! terminal columns (CJK takes two), cut with `…` when it does not fit.

use ratatui::buffer::Buffer;
use ratatui::style::Style;
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use crate::event::sanitize;

/// Columns `s` takes on a terminal.
#[must_use]
pub fn width(s: &str) -> u16 {
    u16::try_from(UnicodeWidthStr::width(s)).unwrap_or(u16::MAX)
}

/// `s` cut to at most `max` columns, ending with `…` when cut.
#[must_use]
pub fn fit(s: &str, max: u16) -> String {
    let s = sanitize(s);
    if width(&s) <= max {
        return s.into_owned();
    }
    if max == 0 {
        return String::new();
    }
    let mut out = String::new();
    let mut w = 0u16;
    for c in s.chars() {
        let cw = u16::try_from(c.width().unwrap_or(0)).unwrap_or(0);
        if w + cw + 1 > max {
            break;
        }
        out.push(c);
        w += cw;
    }
    out.push('…');
    out
}

/// `s` followed by spaces up to `w` terminal columns (as `{:<w}` does for
/// characters one column wide; a Chinese character takes two). Longer text
/// is left whole.
#[must_use]
pub fn pad(s: &str, w: u16) -> String {
    let mut out = s.to_owned();
    for _ in width(s)..w {
        out.push(' ');
    }
    out
}

/// Writes `s` at (x, y), at most `max` columns; returns the columns written.
pub fn put(buf: &mut Buffer, x: u16, y: u16, s: &str, max: u16, style: Style) -> u16 {
    let area = buf.area;
    if y < area.y || y >= area.bottom() || x >= area.right() {
        return 0;
    }
    let max = max.min(area.right() - x);
    let s = fit(s, max);
    let (end, _) = buf.set_stringn(x, y, &s, usize::from(max), style);
    end.saturating_sub(x)
}

/// Writes `s` so that it ends just before column `right`.
pub fn put_right(buf: &mut Buffer, right: u16, y: u16, s: &str, max: u16, style: Style) -> u16 {
    let s = fit(s, max);
    let w = width(&s);
    put(buf, right.saturating_sub(w), y, &s, w, style)
}

/// Writes pieces one after another from (x, y); stops at `max` columns.
pub fn put_spans(buf: &mut Buffer, x: u16, y: u16, spans: &[(&str, Style)], max: u16) -> u16 {
    let mut used = 0u16;
    for (s, style) in spans {
        if used >= max {
            break;
        }
        used += put(buf, x + used, y, s, max - used, *style);
    }
    used
}

/// Columns a list of pieces takes.
#[must_use]
pub fn spans_width(spans: &[(&str, Style)]) -> u16 {
    spans.iter().map(|(s, _)| width(s)).sum()
}

/// Fills a row segment with one character.
pub fn hline(buf: &mut Buffer, x: u16, y: u16, len: u16, ch: &str, style: Style) {
    let area = buf.area;
    if y < area.y || y >= area.bottom() {
        return;
    }
    for i in 0..len {
        let cx = x.saturating_add(i);
        if cx >= area.right() {
            break;
        }
        if let Some(cell) = buf.cell_mut((cx, y)) {
            cell.set_symbol(ch);
            cell.set_style(style);
        }
    }
}

/// Sets one cell.
pub fn cell(buf: &mut Buffer, x: u16, y: u16, ch: &str, style: Style) {
    let area = buf.area;
    if x < area.right() && y < area.bottom() && x >= area.x && y >= area.y {
        if let Some(c) = buf.cell_mut((x, y)) {
            c.set_symbol(ch);
            c.set_style(style);
        }
    }
}

/// Clears `r` for a box drawn over the screen. A wide character (CJK) just
/// left of it, whose right half falls in the box's first column, goes too:
/// left there, the terminal would draw it over the box's left border (a
/// terminal skips the cell a wide character covers).
pub fn clear_for_box(buf: &mut Buffer, r: ratatui::layout::Rect) {
    use ratatui::widgets::Widget;
    ratatui::widgets::Clear.render(r, buf);
    if r.x <= buf.area.x {
        return;
    }
    for y in r.top()..r.bottom() {
        if let Some(c) = buf.cell_mut((r.x - 1, y)) {
            if width(c.symbol()) > 1 {
                c.set_symbol(" ");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::layout::Rect;

    #[test]
    fn fit_cuts_by_columns_with_an_ellipsis() {
        assert_eq!(fit("hello", 10), "hello");
        assert_eq!(fit("hello world", 6), "hello…");
        assert_eq!(width(&fit("三次握手三次握手", 7)), 7);
        assert_eq!(fit("x", 0), "");
    }

    #[test]
    fn pad_counts_columns_not_characters() {
        assert_eq!(pad("ab", 4), "ab  ");
        assert_eq!(pad("序号", 6), "序号  ");
        assert_eq!(width(&pad("首部校验和", 24)), 24);
        assert_eq!(pad("longer", 3), "longer");
    }

    #[test]
    fn control_characters_never_reach_the_buffer() {
        let mut buf = Buffer::empty(Rect::new(0, 0, 40, 1));
        put(&mut buf, 0, 0, "a\x1b[2Jb\x07c", 40, Style::new());
        let line: String = (0..40).map(|x| buf[(x, 0)].symbol().to_owned()).collect();
        assert!(!line.chars().any(char::is_control), "{line:?}");
        assert!(line.starts_with('a'));
    }

    /// `时间` in the ladder's header, a box drawn from the column of `间`'s
    /// right half: the terminal would skip that column and lose the box's
    /// corner, so `间` goes.
    #[test]
    fn a_box_over_half_a_wide_character_keeps_its_border() {
        let mut buf = Buffer::empty(Rect::new(0, 0, 10, 2));
        put(&mut buf, 1, 0, "时间", 10, Style::new());
        clear_for_box(&mut buf, Rect::new(4, 0, 4, 2));
        buf[(4, 0)].set_symbol("┌");
        assert_eq!(buf[(3, 0)].symbol(), " ");
        assert_eq!(buf[(1, 0)].symbol(), "时");
        let line: String = (0..10).map(|x| buf[(x, 0)].symbol().to_owned()).collect();
        assert!(line.contains('┌'), "{line:?}");
    }
}
