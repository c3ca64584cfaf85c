//! The RFC 9293 state diagram, drawn from data (`assets/diagram/`): a
//! drawing and a mask of the same shape whose letters mark each arrow's cells,
//! with a legend naming each arrow's states. Both ends of the connection shown
//! are lit in their lanes' colours; the arrow of the last change is marked.
//! Each language has its drawings (the Chinese ones, `*.zh.*`, are the
//! English ones with the labels' words in Chinese, made by `zh.py`). A UDP
//! datagram has no states: the diagram says so instead of staying dark.

use std::collections::HashMap;
use std::sync::OnceLock;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::widgets::{Block, Borders, Widget};
use unicode_width::UnicodeWidthChar;

use super::Palette;
use super::text::{put, put_spans, width};
use crate::app::{App, RowId};
use crate::event::Event;
use crate::i18n::{Lang, fill, labels};
use crate::tcp::track::ConnId;
use crate::tcp::{Proto, TcpState};

/// The second cell of a character two cells wide, in [`Diagram::lines`].
const CONT: char = '\0';

/// A drawing with what the code needs to light it.
#[derive(Debug)]
pub struct Diagram {
    /// The drawing, one `Vec<char>` per line, one char per terminal cell: a
    /// Chinese character is followed by [`CONT`] for its second cell.
    pub lines: Vec<Vec<char>>,
    /// Each state's box: (x, y, width, height), relative to the drawing.
    pub boxes: HashMap<TcpState, (u16, u16, u16, u16)>,
    /// Each arrow's cells, by (from, to).
    pub edges: HashMap<(TcpState, TcpState), Vec<(u16, u16)>>,
    pub width: u16,
    pub height: u16,
}

/// The name a box carries for a state (the drawing abbreviates one).
fn box_name(s: TcpState) -> &'static str {
    match s {
        TcpState::SynReceived => "SYN-RCVD",
        other => other.as_str(),
    }
}

fn state_named(name: &str) -> Option<TcpState> {
    TcpState::ALL.into_iter().find(|s| box_name(*s) == name)
}

impl Diagram {
    /// Reads a drawing and its mask.
    ///
    /// # Errors
    /// What is wrong with the data (a missing box, an unknown state in the
    /// legend, a mask of another shape).
    pub fn parse(art: &str, mask: &str) -> Result<Self, String> {
        let lines: Vec<Vec<char>> = art
            .lines()
            .map(|l| {
                l.chars()
                    .flat_map(|c| match c.width() {
                        Some(2) => vec![c, CONT],
                        _ => vec![c],
                    })
                    .collect()
            })
            .collect();
        let (grid, legend) = mask
            .split_once("\n---\n")
            .ok_or("the mask has no `---` line before its legend")?;
        let mask: Vec<Vec<char>> = grid.lines().map(|l| l.chars().collect()).collect();
        if mask.len() != lines.len() {
            return Err(format!(
                "the mask has {} lines, the drawing {}",
                mask.len(),
                lines.len()
            ));
        }
        if let Some(y) = (0..mask.len()).find(|&y| mask[y].len() != lines[y].len()) {
            return Err(format!(
                "line {y}: the mask and the drawing differ in width"
            ));
        }
        let mut boxes = HashMap::new();
        for s in TcpState::ALL {
            let name: Vec<char> = box_name(s).chars().collect();
            let found = lines.iter().enumerate().find_map(|(y, l)| {
                l.windows(name.len())
                    .position(|w| w == name.as_slice())
                    .map(|x| (x, y))
            });
            let (x, y) = found.ok_or_else(|| format!("no box named {}", box_name(s)))?;
            // The box: from the name, left and right to the borders.
            let row = &lines[y];
            let left = row[..x]
                .iter()
                .rposition(|c| *c == '│')
                .ok_or("box without a left side")?;
            let right = x + row[x..]
                .iter()
                .position(|c| *c == '│')
                .ok_or("box without a right side")?;
            let c = |v: usize| u16::try_from(v).unwrap_or(u16::MAX);
            boxes.insert(s, (c(left), c(y.saturating_sub(1)), c(right - left + 1), 3));
        }
        let mut letters: HashMap<char, (TcpState, TcpState)> = HashMap::new();
        for line in legend.lines().filter(|l| !l.trim().is_empty()) {
            let mut w = line.split_whitespace();
            let (Some(l), Some(a), Some(b)) = (w.next(), w.next(), w.next()) else {
                return Err(format!("bad legend line {line:?}"));
            };
            let letter = l.chars().next().ok_or("empty legend letter")?;
            let from = state_named(a).ok_or_else(|| format!("unknown state {a}"))?;
            let to = state_named(b).ok_or_else(|| format!("unknown state {b}"))?;
            letters.insert(letter, (from, to));
        }
        let mut edges: HashMap<(TcpState, TcpState), Vec<(u16, u16)>> = HashMap::new();
        for (y, row) in mask.iter().enumerate() {
            for (x, ch) in row.iter().enumerate() {
                if let Some(e) = letters.get(ch) {
                    let c = |v: usize| u16::try_from(v).unwrap_or(u16::MAX);
                    edges.entry(*e).or_default().push((c(x), c(y)));
                }
            }
        }
        let width = lines.iter().map(Vec::len).max().unwrap_or(0);
        Ok(Self {
            width: u16::try_from(width).unwrap_or(u16::MAX),
            height: u16::try_from(lines.len()).unwrap_or(u16::MAX),
            lines,
            boxes,
            edges,
        })
    }
}

/// A compiled-in drawing, parsed once.
fn load(cell: &'static OnceLock<Diagram>, art: &str, mask: &str) -> &'static Diagram {
    cell.get_or_init(|| Diagram::parse(art, mask).expect("the compiled-in diagram parses (tested)"))
}

/// The tall drawing (side panel, ≤ 48×28) in `lang`.
#[must_use]
pub fn tall(lang: Lang) -> &'static Diagram {
    static EN: OnceLock<Diagram> = OnceLock::new();
    static ZH: OnceLock<Diagram> = OnceLock::new();
    match lang {
        Lang::En => load(
            &EN,
            include_str!("../../assets/diagram/tall.txt"),
            include_str!("../../assets/diagram/tall.mask"),
        ),
        Lang::Zh => load(
            &ZH,
            include_str!("../../assets/diagram/tall.zh.txt"),
            include_str!("../../assets/diagram/tall.zh.mask"),
        ),
    }
}

/// The wide drawing (≤ 78×19) in `lang`.
#[must_use]
pub fn wide(lang: Lang) -> &'static Diagram {
    static EN: OnceLock<Diagram> = OnceLock::new();
    static ZH: OnceLock<Diagram> = OnceLock::new();
    match lang {
        Lang::En => load(
            &EN,
            include_str!("../../assets/diagram/wide.txt"),
            include_str!("../../assets/diagram/wide.mask"),
        ),
        Lang::Zh => load(
            &ZH,
            include_str!("../../assets/diagram/wide.zh.txt"),
            include_str!("../../assets/diagram/wide.zh.mask"),
        ),
    }
}

/// Whether the moment shown is about UDP, which has no states: the selected
/// row is a datagram, or datagrams are all there is (no TCP socket).
fn about_udp(app: &App) -> bool {
    match app.cursor().and_then(|r| app.timeline().get(r)).as_deref() {
        Some(Event::Packet(p)) => p.segment.proto == Proto::Udp,
        _ => app.saw_udp() && app.sockets().all().is_empty(),
    }
}

/// In place of the drawing: why UDP has none.
fn no_states(buf: &mut Buffer, area: Rect, app: &App, pal: &Palette) {
    let t = labels(app.lang());
    let w = area.width.saturating_sub(2);
    for (i, line) in crate::app::layout::wrap(&t.diagram_udp, w)
        .iter()
        .take(usize::from(area.height.saturating_sub(1)))
        .enumerate()
    {
        let y = area.y + 1 + u16::try_from(i).unwrap_or(0);
        put(buf, area.x + 1, y, line, w, pal.base);
    }
}

/// What the diagram lights at the moment shown.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Lit {
    /// (lane, lane name, state) for each end of the connection shown.
    pub ends: Vec<(usize, String, TcpState)>,
    /// The last change among them: (lane, from, to).
    pub last: Option<(usize, TcpState, TcpState)>,
}

/// The connection the diagram follows: the selected row's, else the one
/// that changed state last, at or before the moment shown.
fn connection_at(app: &App, at: RowId) -> Option<ConnId> {
    let of_row = |r: RowId| app.timeline().conn(r);
    if let Some(c) = app.cursor().and_then(of_row) {
        return Some(c);
    }
    app.sockets()
        .all()
        .iter()
        .filter(|s| s.conn.is_some())
        .filter_map(|s| {
            let n = s.states.partition_point(|(r, _)| *r <= at);
            n.checked_sub(1).map(|i| (s.states[i].0, s.conn))
        })
        .max_by_key(|(r, _)| *r)
        .and_then(|(_, c)| c)
}

/// The ends and the last change to light at the moment shown.
#[must_use]
pub fn lit(app: &App) -> Lit {
    let Some(at) = app.moment() else {
        return Lit::default();
    };
    let conn = connection_at(app, at);
    let socks: Vec<_> = app
        .sockets()
        .all()
        .iter()
        .filter(|s| match conn {
            Some(c) => s.conn == Some(c),
            None => s.is_listener(),
        })
        .collect();
    let mut lit = Lit::default();
    let mut last_row = None;
    for s in socks {
        let Some(st) = s.state_at(at) else { continue };
        let Some(lane) = s.lane(app.lanes()) else {
            continue;
        };
        let name = app
            .lanes()
            .lanes()
            .get(lane)
            .map(|l| l.name.clone())
            .unwrap_or_default();
        lit.ends.push((lane, name, st.state));
        let n = s.states.partition_point(|(r, _)| *r <= at);
        if let Some((row, snap)) = n.checked_sub(1).map(|i| &s.states[i]) {
            if last_row.is_none_or(|r| *row > r) {
                last_row = Some(*row);
                lit.last = snap.from.map(|f| (lane, f, snap.state));
            }
        }
    }
    lit.ends.sort_by_key(|e| e.0);
    lit
}

/// Draws a drawing at (x, y) with the lit boxes and arrow.
fn draw_art(buf: &mut Buffer, x: u16, y: u16, d: &Diagram, lit: &Lit, pal: &Palette) {
    for (dy, line) in d.lines.iter().enumerate() {
        let yy = y + u16::try_from(dy).unwrap_or(0);
        let s: String = line.iter().filter(|c| **c != CONT).collect();
        put(buf, x, yy, &s, d.width, pal.base);
    }
    if let Some((lane, from, to)) = lit.last {
        if let Some(cells) = d.edges.get(&(from, to)) {
            for &(cx, cy) in cells {
                if let Some(c) = buf.cell_mut((x + cx, y + cy)) {
                    c.set_style(
                        pal.lane(lane)
                            .add_modifier(Modifier::BOLD | Modifier::REVERSED),
                    );
                }
            }
        }
    }
    for (lane, _, state) in &lit.ends {
        if let Some(&(bx, by, bw, bh)) = d.boxes.get(state) {
            let style = pal.lane(*lane).add_modifier(Modifier::BOLD);
            buf.set_style(Rect::new(x + bx, y + by, bw, bh), style);
            // The name reversed, so that two ends in the same box still show.
            let inner = Rect::new(x + bx + 1, y + by + 1, bw.saturating_sub(2), 1);
            buf.set_style(inner, style.add_modifier(Modifier::REVERSED));
        }
    }
}

/// The legend under the drawing: each end's state, and the last change.
fn legend(buf: &mut Buffer, area: Rect, app: &App, lit: &Lit, pal: &Palette, d: &Diagram) {
    let t = labels(app.lang());
    // Everything stays inside the area: a line that does not fit is cut.
    let put = |buf: &mut Buffer, x: u16, y: u16, s: &str, style: Style| {
        if y < area.bottom() && x < area.right() {
            put(buf, x, y, s, area.right() - x, style);
        }
    };
    let mut y = area.y;
    let mut x = area.x;
    for (lane, name, state) in &lit.ends {
        let s = format!("▌{name} {state}  ");
        let w = width(&s);
        if x > area.x && x + w > area.right() {
            y += 1;
            x = area.x;
        }
        put(buf, x, y, &s, pal.lane(*lane).add_modifier(Modifier::BOLD));
        x += w;
    }
    if let Some((lane, from, to)) = lit.last {
        y += 1;
        let who = app
            .lanes()
            .lanes()
            .get(lane)
            .map_or("", |l| l.name.as_str());
        let text = if d.edges.contains_key(&(from, to)) || from == to {
            fill(&t.diagram_last, &[&who, &from, &to])
        } else {
            fill(&t.diagram_off_edge, &[&from, &to])
        };
        for (i, line) in crate::app::layout::wrap(&text, area.width)
            .iter()
            .enumerate()
        {
            put(
                buf,
                area.x,
                y + u16::try_from(i).unwrap_or(0),
                line,
                pal.base,
            );
        }
    }
    if app.cursor().is_some() {
        put_spans(
            buf,
            area.x,
            area.bottom().saturating_sub(1),
            &[(&t.diagram_at, pal.dim)],
            area.width,
        );
    }
}

fn frame(buf: &mut Buffer, area: Rect, title: &str, pal: &Palette) -> Rect {
    let block = Block::new()
        .borders(Borders::ALL)
        .border_style(pal.border)
        .title(format!(" {title} "))
        .title_style(pal.base.add_modifier(Modifier::BOLD));
    let inner = block.inner(area);
    block.render(area, buf);
    inner
}

/// The diagram in the side panel beside the ladder.
pub fn draw_panel(buf: &mut Buffer, area: Rect, app: &App, pal: &Palette) {
    let t = labels(app.lang());
    let inner = frame(buf, area, &t.diagram_title, pal);
    if about_udp(app) {
        no_states(buf, inner, app, pal);
        return;
    }
    let tall = tall(app.lang());
    let d = if tall.width <= inner.width && tall.height <= inner.height {
        tall
    } else {
        return;
    };
    let lit = lit(app);
    draw_art(buf, inner.x, inner.y, d, &lit, pal);
    let below = Rect::new(
        inner.x,
        inner.y + d.height + 1,
        inner.width,
        inner.height.saturating_sub(d.height + 1),
    );
    legend(buf, below, app, &lit, pal, d);
}

/// The diagram over the whole screen (`d` on a small terminal).
pub fn draw_overlay(buf: &mut Buffer, area: Rect, app: &App, pal: &Palette) {
    let t = labels(app.lang());
    super::text::clear_for_box(buf, area);
    buf.set_style(area, pal.base);
    let inner = frame(buf, area, &t.diagram_title, pal);
    if about_udp(app) {
        no_states(buf, inner, app, pal);
        return;
    }
    let lit = lit(app);
    let d = [wide(app.lang()), tall(app.lang())]
        .into_iter()
        .find(|d| d.width <= inner.width && d.height < inner.height)
        .unwrap_or_else(|| wide(app.lang()));
    let x = inner.x + inner.width.saturating_sub(d.width) / 2;
    draw_art(buf, x, inner.y, d, &lit, pal);
    let below = Rect::new(
        inner.x,
        (inner.y + d.height).min(inner.bottom().saturating_sub(1)),
        inner.width,
        inner.bottom().saturating_sub(inner.y + d.height),
    );
    legend(buf, below, app, &lit, pal, d);
    let _ = Style::new();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_drawings_have_every_state_and_the_main_arrows() {
        for (name, d) in [
            ("tall", tall(Lang::En)),
            ("wide", wide(Lang::En)),
            ("tall.zh", tall(Lang::Zh)),
            ("wide.zh", wide(Lang::Zh)),
        ] {
            assert_eq!(d.boxes.len(), 11, "{name}");
            for edge in [
                (TcpState::Closed, TcpState::SynSent),
                (TcpState::SynSent, TcpState::Established),
                (TcpState::Listen, TcpState::SynReceived),
                (TcpState::SynReceived, TcpState::Established),
                (TcpState::Established, TcpState::FinWait1),
                (TcpState::FinWait1, TcpState::FinWait2),
                (TcpState::FinWait2, TcpState::TimeWait),
                (TcpState::Established, TcpState::CloseWait),
                (TcpState::CloseWait, TcpState::LastAck),
                (TcpState::LastAck, TcpState::Closed),
                (TcpState::TimeWait, TcpState::Closed),
                (TcpState::FinWait1, TcpState::Closing),
                (TcpState::Closing, TcpState::TimeWait),
            ] {
                assert!(
                    d.edges.get(&edge).is_some_and(|c| !c.is_empty()),
                    "{name}: no arrow {edge:?}"
                );
            }
        }
        for lang in [Lang::En, Lang::Zh] {
            assert!(tall(lang).width <= 48 && tall(lang).height <= 28);
            assert!(wide(lang).width <= 78 && wide(lang).height <= 19);
        }
    }

    /// The Chinese drawings are the English ones with other words: the same
    /// size, the same boxes and the same cells for every arrow's frame.
    #[test]
    fn chinese_drawings_have_the_english_geometry() {
        let frame = |c: char| "─│┌┐└┘╭╮╰╯▶◀▲▼".contains(c);
        for (en, zh) in [
            (tall(Lang::En), tall(Lang::Zh)),
            (wide(Lang::En), wide(Lang::Zh)),
        ] {
            assert_eq!((en.width, en.height), (zh.width, zh.height));
            assert_eq!(en.boxes, zh.boxes);
            let mut keys: Vec<_> = en.edges.keys().collect();
            keys.sort_by_key(|(a, b)| (a.as_str(), b.as_str()));
            for k in keys {
                let on_frame = |d: &Diagram| {
                    let mut v: Vec<(u16, u16)> = d.edges[k]
                        .iter()
                        .copied()
                        .filter(|&(x, y)| frame(en.lines[usize::from(y)][usize::from(x)]))
                        .collect();
                    v.sort_unstable();
                    v
                };
                assert_eq!(on_frame(en), on_frame(zh), "{k:?}");
            }
            // Only Chinese words: no rcv, snd or timeout left.
            let text: String = zh.lines.iter().flatten().collect();
            for word in ["rcv", "snd", "timeout"] {
                assert!(!text.contains(word), "{word} in the Chinese drawing");
            }
        }
    }

    #[test]
    fn broken_data_is_an_error_not_a_panic() {
        assert!(Diagram::parse("x", "y").is_err());
        assert!(Diagram::parse("│CLOSED│\n", "        \n---\na CLOSED NOPE\n").is_err());
    }
}
