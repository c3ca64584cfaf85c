//! Colours and text attributes. Colour never carries meaning alone: every
//! packet kind, lane and state also has its word or glyph, so the screen
//! reads the same under `NO_COLOR`, on a light terminal and on a projector.

use ratatui::style::{Color, Modifier, Style};

/// `--theme`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Theme {
    /// Light text on a dark terminal.
    #[default]
    Dark,
    /// Dark text on a light terminal.
    Light,
    /// Bold, saturated colours on black: projectors wash out the rest.
    Contrast,
}

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
}

fn fg(c: Color) -> Style {
    Style::new().fg(c)
}

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
            },
            Theme::Light => Self {
                base: Style::new(),
                dim: fg(Color::DarkGray),
                header: Style::new()
                    .fg(Color::White)
                    .bg(Color::Blue)
                    .add_modifier(Modifier::BOLD),
                banner: fg(Color::Black).add_modifier(Modifier::BOLD),
                selected: Style::new().add_modifier(Modifier::REVERSED),
                border: fg(Color::DarkGray),
                key: fg(Color::Blue).add_modifier(Modifier::BOLD),
                lanes: [
                    fg(Color::Blue),
                    fg(Color::Magenta),
                    fg(Color::Cyan),
                    fg(Color::Red),
                ],
                syn: fg(Color::Green).add_modifier(Modifier::BOLD),
                fin: fg(Color::Magenta).add_modifier(Modifier::BOLD),
                rst: fg(Color::Red).add_modifier(Modifier::BOLD),
                data: fg(Color::Blue),
                ack: fg(Color::DarkGray),
                udp: fg(Color::Cyan),
                state: fg(Color::Black).add_modifier(Modifier::BOLD),
                inferred: fg(Color::DarkGray).add_modifier(Modifier::ITALIC),
                ok: fg(Color::Green),
                error: fg(Color::Red).add_modifier(Modifier::BOLD),
                warn: fg(Color::Red),
                note: fg(Color::Black).bg(Color::LightYellow),
                lost: fg(Color::Red).add_modifier(Modifier::BOLD),
                time: fg(Color::DarkGray),
                mark: Style::new().add_modifier(Modifier::BOLD | Modifier::REVERSED),
            },
            Theme::Contrast => {
                let b = |c| fg(c).bg(Color::Black).add_modifier(Modifier::BOLD);
                Self {
                    base: b(Color::White),
                    dim: b(Color::Gray),
                    header: Style::new()
                        .fg(Color::Black)
                        .bg(Color::White)
                        .add_modifier(Modifier::BOLD),
                    banner: b(Color::White),
                    selected: Style::new()
                        .fg(Color::Black)
                        .bg(Color::LightYellow)
                        .add_modifier(Modifier::BOLD),
                    border: b(Color::White),
                    key: b(Color::LightYellow),
                    lanes: [
                        b(Color::LightCyan),
                        b(Color::LightYellow),
                        b(Color::LightGreen),
                        b(Color::LightMagenta),
                    ],
                    syn: b(Color::LightGreen),
                    fin: b(Color::LightMagenta),
                    rst: b(Color::LightRed),
                    data: b(Color::LightCyan),
                    ack: b(Color::White),
                    udp: b(Color::LightBlue),
                    state: b(Color::White),
                    inferred: b(Color::Gray).add_modifier(Modifier::ITALIC),
                    ok: b(Color::LightGreen),
                    error: b(Color::LightRed),
                    warn: b(Color::LightYellow),
                    note: Style::new()
                        .fg(Color::Black)
                        .bg(Color::LightYellow)
                        .add_modifier(Modifier::BOLD),
                    lost: b(Color::LightRed),
                    time: b(Color::Gray),
                    mark: Style::new()
                        .fg(Color::Black)
                        .bg(Color::White)
                        .add_modifier(Modifier::BOLD),
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
        }
    }

    /// A lane's colour (lanes beyond four repeat them; their names differ).
    #[must_use]
    pub fn lane(&self, i: usize) -> Style {
        self.lanes[i % self.lanes.len()]
    }
}
