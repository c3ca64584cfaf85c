//! Endpoint cards: for each lane, its sockets at the moment shown (the
//! selected row, or now): the state in large type with where it came from,
//! TIME-WAIT's countdown from the kernel's timer, a listener's accept queue
//! as a gauge against its backlog.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::widgets::{Block, Borders, Widget};

use super::Palette;
use super::ladder::Geometry;
use super::text::{put, put_spans};
use crate::app::App;
use crate::app::layout::Area;
use crate::app::timeline::Socket;
use crate::event::StateSource;
use crate::i18n::{fill, labels};
use crate::tcp::TcpState;

/// `▮▮▯▯` for `n` of `of`, at most `width` cells (over-full shows all full).
/// A listener's queue holds backlog + 1 connections on Linux (it is full
/// when longer than the backlog), so callers pass that as `of`.
#[must_use]
pub fn gauge(n: u32, of: u32, width: u32) -> String {
    let of = of.max(1);
    let cells = width.min(of);
    let full = (n.min(of) * cells).div_ceil(of);
    let mut s = "▮".repeat(full as usize);
    s.push_str(&"▯".repeat((cells - full) as usize));
    s
}

pub fn draw(buf: &mut Buffer, a: Area, _geo: &Geometry, app: &App, pal: &Palette) {
    if a.height < 3 || app.lanes.is_empty() {
        return;
    }
    let t = labels(app.lang);
    let Some(at) = app.moment() else { return };
    let when = app.moment_time();
    let n = u16::try_from(app.lanes.len()).unwrap_or(1).max(1);
    let w = a.width / n;
    for (i, lane) in app.lanes.lanes().iter().enumerate() {
        let i16 = u16::try_from(i).unwrap_or(0);
        let x = a.x + i16 * w;
        let bw = if i16 + 1 == n { a.width - i16 * w } else { w };
        let r = Rect::new(x, a.y, bw, a.height);
        Block::new()
            .borders(Borders::ALL)
            .border_style(pal.lane(i))
            .title(format!(" {} ", lane.name))
            .title_style(pal.lane(i).add_modifier(Modifier::BOLD))
            .render(r, buf);
        let inner_w = bw.saturating_sub(2);
        let lines = a.height.saturating_sub(2);
        let mut socks: Vec<&Socket> = app
            .sockets
            .all()
            .iter()
            .filter(|s| app.lanes.owner(s.local) == Some(i) && s.state_at(at).is_some())
            .collect();
        // Listeners first, then connections in order.
        socks.sort_by_key(|s| (!s.is_listener(), s.conn.map(|c| c.0)));
        let closed = |s: &&Socket| {
            s.state_at(at)
                .is_some_and(|st| st.state == TcpState::Closed)
        };
        let open: Vec<&Socket> = socks.iter().filter(|s| !closed(s)).copied().collect();
        let n_closed = socks.len() - open.len();
        // Closed sockets show only while there is room.
        let mut shown: Vec<&Socket> = open;
        for s in socks.iter().filter(|s| closed(s)) {
            if shown.len() < usize::from(lines) {
                shown.push(s);
            }
        }
        let hidden = socks.len().saturating_sub(shown.len());
        if shown.is_empty() {
            put(buf, x + 1, a.y + 1, &t.no_sockets, inner_w, pal.dim);
            continue;
        }
        for (j, s) in shown.iter().enumerate() {
            let j16 = u16::try_from(j).unwrap_or(u16::MAX);
            if j16 >= lines {
                break;
            }
            let y = a.y + 1 + j16;
            if hidden > 0 && j16 + 1 == lines {
                put(
                    buf,
                    x + 1,
                    y,
                    &fill(&t.closed_sockets, &[&hidden]),
                    inner_w,
                    pal.dim,
                );
                break;
            }
            let Some(st) = s.state_at(at) else { continue };
            let name = match (s.conn, s.remote) {
                (_, None) => format!(":{}", s.local.port()),
                (Some(c), Some(_)) => format!("#{}", c.0),
                (None, Some(_)) => format!(":{}", s.local.port()),
            };
            let state_style = match (st.source, st.state) {
                (StateSource::Inferred, _) => pal.inferred.add_modifier(Modifier::BOLD),
                (_, TcpState::Closed) => pal.dim,
                _ => pal.lane(i).add_modifier(Modifier::BOLD),
            };
            let timer = match st.state {
                TcpState::Closed => String::new(),
                _ => st
                    .timer_left(when)
                    .map(|left| format!(" {:.0}s", left.ceil()))
                    .unwrap_or_default(),
            };
            let source = if st.source == StateSource::Inferred {
                format!(" ({})", t.inferred)
            } else {
                String::new()
            };
            let queue = s.queue_at(at).map(|q| {
                format!(
                    " {} {}",
                    gauge(q.accept_queue, q.backlog.saturating_add(1), 6),
                    fill(&t.queue_card, &[&q.accept_queue, &q.backlog])
                )
            });
            let queue = queue.unwrap_or_default();
            let state = st.state.as_str();
            put_spans(
                buf,
                x + 1,
                y,
                &[
                    (&name, pal.dim),
                    (" ", pal.dim),
                    (state, state_style),
                    (&timer, pal.warn),
                    (&source, pal.inferred),
                    (&queue, pal.base),
                ],
                inner_w,
            );
        }
        let _ = n_closed;
    }
}

#[cfg(test)]
mod tests {
    use super::gauge;

    #[test]
    fn gauge_fills_against_the_backlog() {
        assert_eq!(gauge(0, 2, 6), "▯▯");
        assert_eq!(gauge(2, 2, 6), "▮▮");
        assert_eq!(gauge(3, 2, 6), "▮▮");
        assert_eq!(gauge(1, 128, 6), "▮▯▯▯▯▯");
        assert_eq!(gauge(0, 0, 6), "▯");
    }
}
