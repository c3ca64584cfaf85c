//! Endpoint cards: for each lane, its sockets at the moment shown (the
//! selected row, or now): the state in large type with where it came from,
//! TIME-WAIT's countdown from the kernel's timer, a listener's accept queue
//! as a gauge against its backlog.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::widgets::{Block, Borders, Widget};

use super::text::{put, put_spans, width};
use super::{Palette, parts};
use crate::app::App;
use crate::app::layout::Area;
use crate::app::timeline::{CongSnap, Socket};
use crate::event::{CaState, CongSource, StateSource};
use crate::i18n::{fill, labels};
use crate::tcp::TcpState;

/// The states in which a socket may still send data (its congestion
/// window means something).
pub(crate) fn sends(state: TcpState) -> bool {
    matches!(
        state,
        TcpState::Established
            | TcpState::CloseWait
            | TcpState::FinWait1
            | TcpState::LastAck
            | TcpState::Closing
    )
}

/// `cwnd 14 · ssthresh 7 · Recovery (TCP_INFO)`, or the longest shorter
/// form that fits `room` (`cwnd 14 · ssthresh 7`, `cwnd 14 · Recovery`,
/// `cwnd 14`; never `14/7`, which a student reads as a fraction): the
/// window and threshold in segments (∞: no loss yet), the congestion
/// state, who told them.
pub(super) fn cong_text(c: &CongSnap, room: u16, app: &App) -> String {
    let t = labels(app.lang());
    let source = match c.source {
        CongSource::Socket => &t.cong_by_socket,
        CongSource::Kernel => &t.cong_by_kernel,
    };
    let state = c.state.name();
    // The kernel's tracepoint tells the state alone.
    let Some(cwnd) = c.cwnd else {
        let named = fill(&t.cong_report, &[&state]);
        return [format!("{named} {source}"), named, state.into_owned()]
            .into_iter()
            .find(|f| width(f) <= room)
            .unwrap_or_default();
    };
    let cwnd = cwnd.to_string();
    let ssthresh = c.ssthresh.map_or_else(|| "∞".to_owned(), |v| v.to_string());
    let forms = [
        format!(
            "{} {source}",
            fill(&t.cwnd_card, &[&cwnd, &ssthresh, &state])
        ),
        fill(&t.cwnd_card, &[&cwnd, &ssthresh, &state]),
        fill(&t.cwnd_card_short, &[&cwnd, &ssthresh]),
        fill(&t.cwnd_card_state, &[&cwnd, &state]),
        fill(&t.cwnd_card_bare, &[&cwnd]),
    ];
    forms
        .into_iter()
        .find(|f| width(f) <= room)
        .unwrap_or_default()
}

fn cong_style(c: &CongSnap, pal: &Palette) -> Style {
    match c.state {
        CaState::Open => pal.dim,
        _ => pal.warn,
    }
}

/// The lines of one socket's card entry: its state (and TIME-WAIT's
/// countdown), and for a listener its accept queue: on a line of its own,
/// or when `tight` after the state on the same line, where it fits.
#[allow(clippy::too_many_arguments)]
fn socket_lines(
    s: &Socket,
    at: crate::app::RowId,
    when: crate::time::Timestamp,
    lane: usize,
    room: u16,
    tight: bool,
    app: &App,
    pal: &Palette,
) -> Vec<Vec<(String, Style)>> {
    let t = labels(app.lang());
    let Some(st) = s.state_at(at) else {
        return Vec::new();
    };
    let name = match (s.conn, s.remote) {
        (Some(c), Some(_)) => format!("#{}", c.0),
        _ => format!(":{}", s.local.port()),
    };
    let state_style = match (st.source, st.state) {
        (StateSource::Inferred, _) => pal.inferred.add_modifier(Modifier::BOLD),
        (_, TcpState::Closed) => pal.dim,
        _ => pal.lane(lane).add_modifier(Modifier::BOLD),
    };
    // Only TIME-WAIT's timer counts down to a known end (2MSL); the other
    // timers restart as they fire, so a frozen number would mislead. Whole
    // seconds, rounded up, less a jiffy's slack (a timer read as 60.003 s
    // is TIME-WAIT's 60).
    let secs = |left: f64| (left - 0.005).max(0.0).ceil();
    let timer = match st.state {
        TcpState::TimeWait => st
            .timer_left(when)
            .map(|left| format!(" {:.0}s", secs(left)))
            .unwrap_or_default(),
        // An orphaned FIN-WAIT-2 also counts down to a known end.
        TcpState::FinWait2 if st.fin_timeout => st
            .timer_left(when)
            .map(|left| format!(" {:.0}s {}", secs(left), t.fin_timeout))
            .unwrap_or_default(),
        _ => String::new(),
    };
    let source = if st.source == StateSource::Inferred {
        format!(" ({})", t.inferred)
    } else {
        String::new()
    };
    let mut lines = vec![vec![
        (name, pal.dim),
        (" ".to_owned(), pal.dim),
        (st.state.as_str().to_owned(), state_style),
        (timer, pal.warn),
        (source, pal.inferred),
    ]];
    // Data moves in ESTABLISHED and CLOSE-WAIT; elsewhere the queues hold
    // only a SYN or a FIN (counted as one byte), which would mislead.
    let holds_data = matches!(st.state, TcpState::Established | TcpState::CloseWait);
    if let Some((recv, send)) = s.bytes_at(at).filter(|_| holds_data) {
        // What the program has not read yet, and what the peer has not acknowledged.
        let forms = [
            fill(&t.bytes_card, &[&recv, &send]),
            fill(&t.bytes_card_short, &[&recv, &send]),
            format!("{recv}/{send}"),
        ];
        let text = forms
            .into_iter()
            .find(|f| 2 + width(f) <= room)
            .unwrap_or_default();
        let style = if recv > 0 || send > 0 {
            pal.warn
        } else {
            pal.dim
        };
        lines.push(vec![("  ".to_owned(), pal.dim), (text, style)]);
    }
    if let Some(c) = s.cong_at(at).filter(|_| sends(st.state)) {
        lines.push(vec![
            ("  ".to_owned(), pal.dim),
            (
                cong_text(c, room.saturating_sub(2), app),
                cong_style(c, pal),
            ),
        ]);
    }
    if let Some(q) = s.queue_at(at).filter(|_| st.state != TcpState::Closed) {
        let g = parts::gauge(q.accept_queue, q.backlog.saturating_add(1), 6);
        // The longest form that fits whole: a number cut short would lie.
        let forms = [
            fill(&t.queue_card, &[&q.accept_queue, &q.backlog]),
            fill(&t.queue_card_short, &[&q.accept_queue, &q.backlog]),
            format!("{}/{}", q.accept_queue, q.backlog),
            String::new(),
        ];
        let text = forms
            .into_iter()
            .find(|f| 2 + width(&g) + 1 + width(f) <= room)
            .unwrap_or_default();
        let over = q.accept_queue > q.backlog;
        let style = if over { pal.warn } else { pal.base };
        let queue = vec![(" ".to_owned(), style), (g, style), (" ".to_owned(), style)];
        // Short of lines (80x24: a listener and a connection in 3), the
        // gauge and its numbers follow the state, so the connection's card
        // (its recv-q and send-q) still shows.
        let head: u16 = lines[0].iter().map(|(t, _)| width(t)).sum();
        let short = format!("{}/{}", q.accept_queue, q.backlog);
        let queue_w: u16 = queue.iter().map(|(t, _)| width(t)).sum();
        if tight && head + queue_w + width(&short) <= room {
            lines[0].extend(queue);
            lines[0].push((short, style));
        } else {
            let mut line = vec![(" ".to_owned(), pal.dim)];
            line.extend(queue);
            line.push((text, style));
            lines.push(line);
        }
    }
    lines
}

pub fn draw(buf: &mut Buffer, a: Area, app: &App, pal: &Palette) {
    if a.height < 3 || app.lanes().is_empty() {
        return;
    }
    let t = labels(app.lang());
    let Some(at) = app.moment() else { return };
    let when = app.moment_time();
    let n = u16::try_from(app.lanes().len()).unwrap_or(1).max(1);
    let w = a.width / n;
    for (i, lane) in app.lanes().lanes().iter().enumerate() {
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
        let room = usize::from(a.height.saturating_sub(2));
        let mut socks: Vec<&Socket> = app
            .sockets()
            .all()
            .iter()
            .filter(|s| s.lane(app.lanes()) == Some(i) && s.state_at(at).is_some())
            // A watched connection's ladder shows that connection's sockets only.
            .filter(|s| app.focus().is_none_or(|f| s.conn == Some(f)))
            .collect();
        // Listeners first, then open connections in order, closed ones last.
        let closed = |s: &Socket| {
            s.state_at(at)
                .is_some_and(|st| st.state == TcpState::Closed)
        };
        socks.sort_by_key(|s| (!s.is_listener(), closed(s), s.conn.map(|c| c.0)));
        if socks.is_empty() {
            let none = if app.saw_udp() {
                &t.udp_no_state
            } else {
                &t.no_sockets
            };
            put(buf, x + 1, a.y + 1, none, inner_w, pal.dim);
            continue;
        }
        let lines_of = |tight| -> Vec<_> {
            socks
                .iter()
                .map(|s| socket_lines(s, at, when, i, inner_w, tight, app, pal))
                .collect()
        };
        let groups: Vec<Vec<_>> = lines_of(false);
        let total: usize = groups.iter().map(Vec::len).sum();
        // Short of lines, a listener's queue first follows its state on one
        // line, so a connection's queues below still show (peek's recv-q).
        let tight: Vec<Vec<_>> = lines_of(true);
        let tight_total: usize = tight.iter().map(Vec::len).sum();
        let lines = if total <= room {
            groups.into_iter().flatten().collect()
        } else if tight_total <= room {
            tight.into_iter().flatten().collect()
        } else {
            // Still too many: a connection gets one line (a listener keeps
            // its gauge's line when that fits); then every socket one line
            // (a listener's queue in figures on its line); then the selected
            // row's connection, the listeners and the open ones before the
            // closed, and the last line says how many are left out. The
            // server's connections are never hidden behind its listener.
            let medium: Vec<Vec<(String, Style)>> = socks
                .iter()
                .zip(&groups)
                .flat_map(|(s, g)| {
                    if s.is_listener() {
                        g.clone()
                    } else {
                        g.iter().take(1).cloned().collect()
                    }
                })
                .collect();
            if medium.len() <= room {
                medium
            } else {
                let compact: Vec<Vec<(String, Style)>> = socks
                    .iter()
                    .zip(&groups)
                    .map(|(s, g)| one_line(s, g, at, inner_w, pal))
                    .collect();
                pick_lines(
                    &socks,
                    compact,
                    at,
                    room,
                    selected_conn(app),
                    &t.closed_sockets,
                    pal,
                )
            }
        };
        for (j, line) in lines.iter().enumerate() {
            let y = a.y + 1 + u16::try_from(j).unwrap_or(0);
            let spans: Vec<(&str, Style)> = line.iter().map(|(s, st)| (s.as_str(), *st)).collect();
            put_spans(buf, x + 1, y, &spans, inner_w);
        }
    }
}

/// A socket's card entry on one line: its first line, with a listener's
/// queue as `n/backlog` when it fits.
fn one_line(
    s: &Socket,
    full: &[Vec<(String, Style)>],
    at: crate::app::RowId,
    room: u16,
    pal: &Palette,
) -> Vec<(String, Style)> {
    let mut line = full.first().cloned().unwrap_or_default();
    let used: u16 = line.iter().map(|(t, _)| width(t)).sum();
    let open = s
        .state_at(at)
        .is_some_and(|st| st.state != TcpState::Closed);
    if let Some(q) = s.queue_at(at).filter(|_| open) {
        let n = format!(" {}/{}", q.accept_queue, q.backlog);
        if used + width(&n) <= room {
            let style = if q.accept_queue > q.backlog {
                pal.warn
            } else {
                pal.base
            };
            line.push((n, style));
        }
    }
    line
}

/// The connection of the selected row, if it belongs to one.
fn selected_conn(app: &App) -> Option<crate::tcp::track::ConnId> {
    use crate::event::Event;
    match &*app.cursor().and_then(|r| app.timeline().get(r))? {
        Event::Packet(p) => Some(p.conn),
        Event::State(s) => s.conn,
        Event::Check(c) => c.conn,
        _ => None,
    }
}

/// Which of a card's one-line entries to show in `room` lines, in their
/// order: all when they fit; else the selected connection's, the listeners,
/// then open before closed, and a last line counting the rest.
fn pick_lines(
    socks: &[&Socket],
    lines: Vec<Vec<(String, Style)>>,
    at: crate::app::RowId,
    room: usize,
    selected: Option<crate::tcp::track::ConnId>,
    more: &str,
    pal: &Palette,
) -> Vec<Vec<(String, Style)>> {
    if lines.len() <= room {
        return lines;
    }
    let keep = room.saturating_sub(1);
    let closed = |s: &Socket| s.state_at(at).is_none_or(|st| st.state == TcpState::Closed);
    let mut order: Vec<usize> = (0..socks.len()).collect();
    order.sort_by_key(|&j| {
        let s = socks[j];
        (
            !(selected.is_some() && s.conn == selected),
            !s.is_listener(),
            closed(s),
            j,
        )
    });
    let mut chosen: Vec<usize> = order.into_iter().take(keep).collect();
    chosen.sort_unstable();
    let left_out = lines.len() - chosen.len();
    let mut out: Vec<Vec<(String, Style)>> = chosen.iter().map(|&j| lines[j].clone()).collect();
    out.push(vec![(fill(more, &[&left_out]), pal.dim)]);
    out
}

#[cfg(test)]
mod tests {
    use super::super::parts::gauge;

    #[test]
    fn gauge_fills_against_the_backlog() {
        assert_eq!(gauge(0, 2, 6), "▯▯");
        assert_eq!(gauge(2, 2, 6), "▮▮");
        assert_eq!(gauge(3, 2, 6), "▮▮");
        assert_eq!(gauge(1, 128, 6), "▮▯▯▯▯▯");
        assert_eq!(gauge(0, 0, 6), "▯");
    }
}
