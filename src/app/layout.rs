//! Where each part of the screen goes, as a pure function of the terminal's
//! size and what there is to show. The UI draws into these areas; the app
//! uses them to scroll and to map a mouse click to a row.
//!
//! The demo screen, at 80x24 (the diagram opens with `d`) and from ~110x32
//! (the diagram stays beside the ladder):
//!
//! ```text
//! ┌──────────────────────── header ───────────────────────────┐
//! │ narration banner (the whole text)                          │
//! │ lane names                                  │              │
//! │ ladder (time │ lanes)                       │  state       │
//! │                                             │  diagram     │
//! │ endpoint cards (one box per lane)           │              │
//! └──────────────────────── footer ───────────────────────────┘
//! ```

/// A rectangle of cells.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Area {
    pub x: u16,
    pub y: u16,
    pub width: u16,
    pub height: u16,
}

impl Area {
    #[must_use]
    pub fn new(x: u16, y: u16, width: u16, height: u16) -> Self {
        Self {
            x,
            y,
            width,
            height,
        }
    }

    #[must_use]
    pub fn contains(&self, col: u16, row: u16) -> bool {
        col >= self.x
            && row >= self.y
            && col < self.x.saturating_add(self.width)
            && row < self.y.saturating_add(self.height)
    }

    #[must_use]
    pub fn bottom(&self) -> u16 {
        self.y.saturating_add(self.height)
    }
}

/// Below this the screen only says that it is too small.
pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 16;

/// The diagram's side panel (the tall drawing is at most 48 columns).
pub const DIAGRAM_WIDTH: u16 = 50;
/// From this size the diagram has room beside the ladder.
pub const SIDE_DIAGRAM_MIN: (u16, u16) = (110, 34);

/// The demo screen's (and a connection's ladder's) areas.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LadderLayout {
    pub header: Area,
    pub banner: Area,
    pub lane_names: Area,
    pub ladder: Area,
    /// Quiz mode's box, between the lane names and the rows.
    pub quiz: Option<Area>,
    /// The explanation pane, between the rows and the cards.
    pub explain: Option<Area>,
    pub cards: Area,
    pub diagram: Option<Area>,
    pub footer: Area,
}

/// What the layout depends on besides the size.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LadderNeeds {
    /// Lines the narration needs at the full width (0: no banner).
    pub banner_lines: u16,
    /// The most lines any lane's card takes (a socket's state, its queue or bytes).
    pub card_lines: u16,
    /// The most lines any lane's card takes with one line per connection
    /// (a listener keeps its gauge's line).
    pub card_sockets: u16,
    /// The user asked for the diagram (`d`).
    pub diagram: bool,
    /// Lines of text quiz mode's box holds (0: no box).
    pub quiz_lines: u16,
    /// Lines of text the explanation pane holds (0: no pane).
    pub explain_lines: u16,
}

/// Rows of the ladder the boxes always leave.
const MIN_LADDER_ROWS: u16 = 3;

/// Whether the diagram fits beside the ladder at this size.
#[must_use]
pub fn side_diagram_fits(width: u16, height: u16) -> bool {
    width >= SIDE_DIAGRAM_MIN.0 && height >= SIDE_DIAGRAM_MIN.1
}

#[must_use]
pub fn ladder_layout(width: u16, height: u16, needs: LadderNeeds) -> LadderLayout {
    let full = |y, h| Area::new(0, y, width, h);
    let header = full(0, 1);
    let footer = full(height.saturating_sub(1), 1);
    let big = height >= 30;
    // The narration is read whole: the banner grows to a third of the
    // screen (7 lines at 80x24; the longest narration takes 5).
    let max_banner = height.saturating_sub(2) / 3;
    let banner_h = needs.banner_lines.min(max_banner);
    let banner = full(1, banner_h);
    let body_top = 1 + banner_h;
    let body_h = height.saturating_sub(body_top + 1);
    let side = needs.diagram && side_diagram_fits(width, height);
    let left_w = if side {
        width.saturating_sub(DIAGRAM_WIDTH)
    } else {
        width
    };
    let diagram = side.then(|| Area::new(left_w, body_top, DIAGRAM_WIDTH, body_h));
    // Cards: a border, then each socket's lines (at most 3 on a small
    // screen); when that is too few, one line per socket and one more line
    // of the ladder's, so a server's connections show beside its listener.
    let max_lines = if big { 6 } else { 3 };
    let lines = if needs.card_lines <= max_lines {
        needs.card_lines
    } else {
        needs.card_sockets.clamp(max_lines, max_lines + 1)
    };
    let cards_h = if lines == 0 {
        0
    } else {
        (lines + 2).min(body_h / 3)
    };
    let rows_h = body_h.saturating_sub(cards_h + 1);
    // The boxes take rows from the ladder (borders included), the quiz's
    // first: a question must be read whole; the pane gets at most half of
    // what is left.
    let boxed = |lines: u16| if lines == 0 { 0 } else { lines + 2 };
    let spare = rows_h.saturating_sub(MIN_LADDER_ROWS);
    let quiz_h = boxed(needs.quiz_lines).min(spare);
    let explain_h = boxed(needs.explain_lines)
        .min((rows_h.saturating_sub(quiz_h)) / 2)
        .min(spare.saturating_sub(quiz_h));
    let explain_h = if explain_h < 3 { 0 } else { explain_h };
    let quiz_h = if quiz_h < 3 { 0 } else { quiz_h };
    let ladder_h = rows_h - quiz_h - explain_h;
    let top = body_top + 1;
    LadderLayout {
        header,
        banner,
        lane_names: Area::new(0, body_top, left_w, 1),
        quiz: (quiz_h > 0).then(|| Area::new(0, top, left_w, quiz_h)),
        ladder: Area::new(0, top + quiz_h, left_w, ladder_h),
        explain: (explain_h > 0).then(|| Area::new(0, top + quiz_h + ladder_h, left_w, explain_h)),
        cards: Area::new(0, top + rows_h, left_w, cards_h),
        diagram,
        footer,
    }
}

/// The watch / read table screen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TableLayout {
    pub header: Area,
    /// The column titles, then one connection per line.
    pub table: Area,
    pub footer: Area,
}

#[must_use]
pub fn table_layout(width: u16, height: u16) -> TableLayout {
    TableLayout {
        header: Area::new(0, 0, width, 1),
        table: Area::new(0, 1, width, height.saturating_sub(2)),
        footer: Area::new(0, height.saturating_sub(1), width, 1),
    }
}

/// Lines `text` takes when wrapped at `width` columns (words kept whole
/// where they fit; CJK characters count two columns and may break anywhere).
#[must_use]
pub fn wrapped_lines(text: &str, width: u16) -> u16 {
    wrap(text, width).len().try_into().unwrap_or(u16::MAX)
}

/// Wraps `text` at `width` columns (at least 8: a box narrower than that
/// shows nothing useful), as [`crate::i18n::wrap`] does.
#[must_use]
pub fn wrap(text: &str, width: u16) -> Vec<String> {
    crate::i18n::wrap(text, usize::from(width.max(8)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_screen_keeps_a_usable_ladder() {
        let l = ladder_layout(
            80,
            24,
            LadderNeeds {
                banner_lines: 5,
                card_lines: 4,
                diagram: true,
                ..LadderNeeds::default()
            },
        );
        assert_eq!(l.banner.height, 5, "the whole narration");
        assert!(l.diagram.is_none(), "no room beside the ladder at 80x24");
        assert!(l.ladder.height >= 10, "{l:?}");
        assert_eq!(l.footer.y, 23);
        assert_eq!(l.cards.bottom(), 23);
    }

    #[test]
    fn big_screen_puts_the_diagram_beside() {
        let l = ladder_layout(
            120,
            40,
            LadderNeeds {
                banner_lines: 2,
                card_lines: 2,
                diagram: true,
                ..LadderNeeds::default()
            },
        );
        let d = l.diagram.expect("diagram beside the ladder");
        assert_eq!(d.x + d.width, 120);
        assert_eq!(l.ladder.width, 70);
        assert!(d.height >= 30);
    }

    #[test]
    fn the_boxes_take_rows_from_the_ladder_and_leave_some() {
        let plain = LadderNeeds {
            banner_lines: 2,
            card_lines: 2,
            ..LadderNeeds::default()
        };
        let before = ladder_layout(80, 24, plain);
        let l = ladder_layout(
            80,
            24,
            LadderNeeds {
                quiz_lines: 4,
                explain_lines: 6,
                ..plain
            },
        );
        let quiz = l.quiz.expect("the quiz box");
        let explain = l.explain.expect("the pane");
        // Stacked without overlap: quiz, rows, pane, cards.
        assert_eq!(quiz.y, before.ladder.y);
        assert_eq!(quiz.height, 6);
        assert_eq!(l.ladder.y, quiz.bottom());
        assert_eq!(explain.y, l.ladder.bottom());
        assert_eq!(explain.bottom(), l.cards.y);
        assert_eq!(l.cards, before.cards);
        assert!(l.ladder.height >= MIN_LADDER_ROWS, "{l:?}");
        // Tiny screens keep the rows before any box.
        let tiny = ladder_layout(
            60,
            16,
            LadderNeeds {
                quiz_lines: 30,
                explain_lines: 30,
                ..plain
            },
        );
        assert!(tiny.ladder.height >= MIN_LADDER_ROWS, "{tiny:?}");
    }

    #[test]
    fn wrapping_keeps_words_and_breaks_cjk() {
        assert_eq!(wrap("one two three", 8), vec!["one two", "three"]);
        assert_eq!(
            wrap("a verylongwordthatdoesnotfit", 8),
            vec!["a", "verylong", "wordthat", "doesnotf", "it"]
        );
        let zh = wrap("三次握手：SYN、SYN-ACK、ACK。", 10);
        assert!(
            zh.iter()
                .all(|l| unicode_width::UnicodeWidthStr::width(l.as_str()) <= 10),
            "{zh:?}"
        );
        assert_eq!(wrapped_lines("", 20), 0);
        // A line never begins with a comma or a full stop.
        let zh = wrap(
            "最高有效字节在前。htons()、htonl()、ntohs() 和 ntohl() 转换。",
            16,
        );
        assert!(zh.iter().all(|l| !l.starts_with(['、', '。'])), "{zh:?}");
        assert_eq!(
            wrap("三次握手、四次挥手", 8),
            vec!["三次握", "手、四次", "挥手"]
        );
    }
}
