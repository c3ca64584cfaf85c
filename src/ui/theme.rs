//! Colours and text attributes. Colour never carries meaning alone: every
//! packet kind, lane and state also has its word or glyph, so the screen
//! reads the same under `NO_COLOR`, on a light terminal and on a projector.
//!
//! What each theme promises (`tests/screens.rs` checks it on rendered
//! screens):
//! - dark: the terminal's own background and text colour, with its named
//!   colours; only bars (the header, tags, the selection) paint a
//!   background. For a dark terminal profile on a monitor.
//! - light: its own white background under every cell and dark text in
//!   fixed 256-colour codes (which terminal profiles do not remap), every
//!   colour at least 4.5:1 against what is under it (WCAG AA) and nothing
//!   dim (a terminal dims by mixing in the background), so it reads the same
//!   on a dark or light profile: for a monitor in a bright room.
//! - contrast: for projectors. Its own black background under every cell,
//!   white and bright colours in fixed 256-colour codes at least 7:1 against
//!   what is under them (WCAG AAA), no grey and nothing dim: a projector's
//!   black is the lit screen, so mid-tones are what it loses first.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};

pub use crate::i18n::Theme;

/// The styles the screen uses, by meaning.
#[derive(Clone, Debug)]
pub struct Palette {
    pub base: Style,
    pub dim: Style,
    pub header: Style,
    pub banner: Style,
    pub selected: Style,
    pub border: Style,
    pub key: Style,
    pub lanes: [Style; 4],
    pub syn: Style,
    pub fin: Style,
    pub rst: Style,
    pub data: Style,
    pub ack: Style,
    pub udp: Style,
    pub state: Style,
    pub inferred: Style,
    pub ok: Style,
    pub error: Style,
    pub warn: Style,
    /// Analysis notes (`retransmission` …) shown as tags.
    pub note: Style,
    pub lost: Style,
    pub time: Style,
    /// A highlighted box or edge of the diagram (with a lane's colour).
    pub mark: Style,
    /// The theme's own background and text colour, under every cell drawn
    /// (light, contrast); `None`: the terminal's (dark, `NO_COLOR`).
    pub paper: Option<(Color, Color)>,
    /// Whether text may be dim: only on the terminal's own colours (a dimmed
    /// colour is mixed with the background, below the contrast promised).
    pub dim_allowed: bool,
}

fn fg(c: Color) -> Style {
    Style::new().fg(c)
}

/// A colour of the xterm 256-colour palette: the same on every terminal
/// profile (profiles remap the 16 named colours, not these).
const fn xterm(n: u8) -> Color {
    Color::Indexed(n)
}

// The light theme's colours (xterm codes and their RGB).
/// #ffffff
const WHITE: Color = xterm(231);
/// #000000
const BLACK: Color = xterm(16);

impl Palette {
    #[must_use]
    pub fn new(theme: Theme, no_color: bool) -> Self {
        let p = match theme {
            Theme::Dark => Self {
                base: Style::new(),
                dim: fg(Color::Gray).add_modifier(Modifier::DIM),
                header: Style::new()
                    .fg(Color::Black)
                    .bg(Color::Cyan)
                    .add_modifier(Modifier::BOLD),
                banner: fg(Color::White).add_modifier(Modifier::BOLD),
                selected: Style::new().add_modifier(Modifier::REVERSED),
                border: fg(Color::DarkGray),
                key: fg(Color::Yellow).add_modifier(Modifier::BOLD),
                lanes: [
                    fg(Color::Cyan),
                    fg(Color::Yellow),
                    fg(Color::LightBlue),
                    fg(Color::LightMagenta),
                ],
                syn: fg(Color::Green).add_modifier(Modifier::BOLD),
                fin: fg(Color::Magenta).add_modifier(Modifier::BOLD),
                rst: fg(Color::Red).add_modifier(Modifier::BOLD),
                data: fg(Color::LightCyan),
                ack: fg(Color::Gray),
                udp: fg(Color::LightBlue),
                state: fg(Color::White).add_modifier(Modifier::BOLD),
                inferred: fg(Color::Gray).add_modifier(Modifier::ITALIC),
                ok: fg(Color::Green),
                error: fg(Color::Red).add_modifier(Modifier::BOLD),
                warn: fg(Color::Yellow),
                note: fg(Color::Black).bg(Color::Yellow),
                lost: fg(Color::Red).add_modifier(Modifier::BOLD),
                time: fg(Color::DarkGray),
                mark: Style::new().add_modifier(Modifier::BOLD | Modifier::REVERSED),
                paper: None,
                dim_allowed: true,
            },
            Theme::Light => {
                let c = |n| fg(xterm(n));
                let grey = c(240); // #585858, 7.0:1 on white
                Self {
                    base: Style::new().fg(BLACK).bg(WHITE),
                    dim: grey,
                    header: Style::new()
                        .fg(WHITE)
                        .bg(xterm(25)) // #005faf, 6.4:1
                        .add_modifier(Modifier::BOLD),
                    banner: fg(BLACK).add_modifier(Modifier::BOLD),
                    selected: Style::new().add_modifier(Modifier::REVERSED),
                    border: c(242), // #6c6c6c, 5.3:1
                    key: c(25).add_modifier(Modifier::BOLD),
                    lanes: [
                        c(19),  // #0000af, 12.9:1
                        c(90),  // #870087, 8.8:1
                        c(23),  // #005f5f, 7.5:1
                        c(124), // #af0000, 7.4:1
                    ],
                    syn: c(28).add_modifier(Modifier::BOLD), // #008700, 4.7:1
                    fin: c(127).add_modifier(Modifier::BOLD), // #af00af, 6.2:1
                    rst: c(160).add_modifier(Modifier::BOLD), // #d70000, 5.4:1
                    data: c(25),
                    ack: grey,
                    udp: c(23),
                    state: fg(BLACK).add_modifier(Modifier::BOLD),
                    inferred: grey.add_modifier(Modifier::ITALIC),
                    ok: c(28),
                    error: c(160).add_modifier(Modifier::BOLD),
                    warn: c(130),                   // #af5f00, 4.7:1
                    note: fg(BLACK).bg(xterm(229)), // on #ffffaf
                    lost: c(160).add_modifier(Modifier::BOLD),
                    time: grey,
                    mark: Style::new().add_modifier(Modifier::BOLD | Modifier::REVERSED),
                    paper: Some((WHITE, BLACK)),
                    dim_allowed: false,
                }
            }
            Theme::Contrast => {
                // Bold on black; secondary text (times, borders, hints) is
                // white too, told apart by weight, not by grey.
                let b = |n| fg(xterm(n)).bg(BLACK).add_modifier(Modifier::BOLD);
                let plain = fg(WHITE).bg(BLACK).remove_modifier(Modifier::BOLD);
                let yellow = xterm(226); // #ffff00, 19.6:1 on black
                Self {
                    base: b(231),
                    dim: plain,
                    header: Style::new()
                        .fg(BLACK)
                        .bg(WHITE)
                        .add_modifier(Modifier::BOLD),
                    banner: b(231),
                    selected: Style::new()
                        .fg(BLACK)
                        .bg(yellow)
                        .add_modifier(Modifier::BOLD),
                    border: plain,
                    key: b(226),
                    lanes: [
                        b(51),  // #00ffff, 18.2:1
                        b(226), // #ffff00
                        b(46),  // #00ff00, 15.3:1
                        b(207), // #ff5fff, 8.3:1
                    ],
                    syn: b(46),
                    fin: b(207),
                    rst: b(210), // #ff8787, 9.1:1
                    data: b(51),
                    ack: b(231),
                    udp: b(117), // #87d7ff, 13.2:1
                    state: b(231),
                    inferred: plain.add_modifier(Modifier::ITALIC),
                    ok: b(46),
                    error: b(210),
                    warn: b(226),
                    note: Style::new()
                        .fg(BLACK)
                        .bg(yellow)
                        .add_modifier(Modifier::BOLD),
                    lost: b(210),
                    time: plain,
                    mark: Style::new()
                        .fg(BLACK)
                        .bg(WHITE)
                        .add_modifier(Modifier::BOLD),
                    paper: Some((BLACK, WHITE)),
                    dim_allowed: false,
                }
            }
        };
        if no_color { p.without_color() } else { p }
    }

    /// The same attributes with every colour removed (`NO_COLOR`).
    #[must_use]
    pub fn without_color(self) -> Self {
        let strip = |s: Style| {
            let mut s = s;
            s.fg = None;
            s.bg = None;
            s
        };
        Self {
            base: strip(self.base),
            dim: strip(self.dim),
            header: Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD),
            banner: strip(self.banner),
            selected: Style::new().add_modifier(Modifier::REVERSED),
            border: strip(self.border),
            key: Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
            lanes: self.lanes.map(strip),
            syn: strip(self.syn),
            fin: strip(self.fin),
            rst: strip(self.rst).add_modifier(Modifier::UNDERLINED),
            data: strip(self.data),
            ack: strip(self.ack),
            udp: strip(self.udp),
            state: strip(self.state),
            inferred: strip(self.inferred),
            ok: strip(self.ok),
            error: Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
            warn: Style::new().add_modifier(Modifier::BOLD),
            note: Style::new().add_modifier(Modifier::REVERSED),
            lost: Style::new().add_modifier(Modifier::BOLD),
            time: strip(self.time),
            mark: Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD),
            paper: None,
            dim_allowed: self.dim_allowed,
        }
    }

    /// Keeps the theme's promise on every cell of `area` once a screen is
    /// drawn, whatever drew it: a theme with its own paper puts it under any
    /// cell left without a background (a cleared one) and gives any cell
    /// without a text colour its ink; where dim is not allowed, nothing is.
    pub fn finish(&self, buf: &mut Buffer, area: Rect) {
        let area = area.intersection(buf.area);
        for y in area.top()..area.bottom() {
            for x in area.left()..area.right() {
                let Some(c) = buf.cell_mut((x, y)) else {
                    continue;
                };
                if let Some((paper, ink)) = self.paper {
                    if c.bg == Color::Reset {
                        c.bg = paper;
                    }
                    if c.fg == Color::Reset {
                        c.fg = ink;
                    }
                }
                if !self.dim_allowed {
                    c.modifier.remove(Modifier::DIM);
                }
            }
        }
    }

    /// A lane's colour (lanes beyond four repeat them; their names differ).
    #[must_use]
    pub fn lane(&self, i: usize) -> Style {
        self.lanes[i % self.lanes.len()]
    }
}
