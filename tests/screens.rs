//! The screens a student sees, rendered from recorded runs into a test buffer
//! and compared with reviewed snapshots (tests/snapshots/). A recording
//! (tests/fixtures/NAME.inputs, written by `synack demo NAME --json --record-inputs
//! FILE`) holds what the model took from the sources; replayed, it gives the
//! run's events again, with every time fixed, so the screens are the same on
//! every machine.
//!
//! To review a change: `cargo insta review` (or `INSTA_UPDATE=always cargo
//! test --test screens` and read the `.snap` diff).

use std::path::Path;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Color;
use synack::app::{App, AppEvent, Choice, Key, Overlay, RunKind};
use synack::event::Event;
use synack::i18n::Lang;
use synack::model::KernelMode;
use synack::time::Timestamp;
use synack::ui::{Palette, Theme, render};
use unicode_width::UnicodeWidthStr;

#[path = "common/fixtures.rs"]
mod fixtures;
use fixtures::replayed as fixture;

fn choices() -> Vec<Choice> {
    Choice::all()
}

/// The peers a recorded run's calls name, as the lab would announce them.
fn peers(events: &[Event]) -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    for e in events {
        if let Event::Call(c) = e {
            let name = c.endpoint.trim_end_matches("-child").to_owned();
            if !v.contains(&name) {
                v.push(name);
            }
        }
    }
    v
}

/// An app that played a recorded demo, at `w`×`h`, its clock `after`
/// seconds past the last event.
fn demo_app(name: &str, lang: Lang, w: u16, h: u16, after: f64) -> App {
    let events = fixture(name);
    let last = events.last().map_or(Timestamp(0), Event::ts);
    let mut app = recorded_app(name, lang, w, h, false, 0.0);
    let now = Timestamp(last.0 + (after * 1e9) as u64);
    let _ = app.update(AppEvent::Tick(now));
    app
}

/// An app given every event of a recorded demo, started `paused` (as
/// `--step`) or at `pace` seconds.
fn recorded_app(name: &str, lang: Lang, w: u16, h: u16, paused: bool, pace: f64) -> App {
    let events = fixture(name);
    let mut app = App::new(lang, RunKind::Idle, choices(), 100_000);
    let _ = app.update(AppEvent::DemoStarted {
        name: name.to_owned(),
        peers: peers(&events),
        paused,
        rootless: false,
        pace,
    });
    let _ = app.update(AppEvent::Started {
        kernel: KernelMode::Exact,
    });
    let _ = app.update(AppEvent::Resize {
        width: w,
        height: h,
    });
    let _ = app.update(AppEvent::Model(events));
    app
}

/// A line of the screen as its cells: a wide character, then an empty cell.
fn cells(line: &str) -> Vec<String> {
    let mut v = Vec::new();
    for c in line.chars() {
        v.push(c.to_string());
        if UnicodeWidthStr::width(c.to_string().as_str()) == 2 {
            v.push(String::new());
        }
    }
    v.resize(v.len().max(200), " ".to_owned());
    v
}

/// The screen as text, one line per row, wide characters counted once.
fn screen(app: &App, pal: &Palette) -> String {
    let area = Rect::new(0, 0, app.width(), app.height());
    let mut buf = Buffer::empty(area);
    render(&mut buf, area, app, pal);
    buffer_text(&buf)
}

fn buffer_text(buf: &Buffer) -> String {
    let mut out = String::new();
    for y in 0..buf.area.height {
        let mut skip = 0usize;
        let mut line = String::new();
        for x in 0..buf.area.width {
            let sym = buf[(x, y)].symbol();
            if skip == 0 {
                line.push_str(sym);
                skip = UnicodeWidthStr::width(sym).max(1);
            }
            skip -= 1;
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn dark() -> Palette {
    Palette::new(Theme::Dark, false)
}

fn key(app: &mut App, k: Key) {
    let _ = app.update(AppEvent::Key(k));
}

// ---- demo screens --------------------------------------------------------

#[test]
fn handshake_80x24() {
    let app = demo_app("handshake", Lang::En, 80, 24, 1.0);
    let s = screen(&app, &dark());
    // What a student must see: the three packets and both ends ESTABLISHED.
    assert!(s.contains("SYN seq=0"), "{s}");
    assert!(s.contains("SYN,ACK seq=0 ack=1"), "{s}");
    assert!(s.contains("ACK seq=1 ack=1"), "{s}");
    assert!(s.contains("SYN-SENT → ESTABLISHED"), "{s}");
    assert!(s.contains("SYN-RECEIVED → ESTABLISHED"), "{s}");
    insta::assert_snapshot!(s);
}

#[test]
fn handshake_120x40() {
    let app = demo_app("handshake", Lang::En, 120, 40, 1.0);
    let s = screen(&app, &dark());
    assert!(
        s.contains("TCP state diagram"),
        "the diagram sits beside the ladder:\n{s}"
    );
    insta::assert_snapshot!(s);
}

#[test]
fn close_80x24_counts_down_time_wait() {
    let app = demo_app("close", Lang::En, 80, 24, 3.2);
    let s = screen(&app, &dark());
    let card = s
        .lines()
        .find(|l| l.contains("TIME-WAIT") && l.starts_with('│'))
        .unwrap_or_else(|| panic!("no TIME-WAIT card:\n{s}"));
    // 60 s from the kernel, 3.2 s later (plus the time between the state and the end).
    assert!(card.contains("57s") || card.contains("56s"), "{card}");
    insta::assert_snapshot!(s);
}

#[test]
fn close_120x40() {
    let app = demo_app("close", Lang::En, 120, 40, 3.2);
    insta::assert_snapshot!(screen(&app, &dark()));
}

#[test]
fn close_80x24_in_chinese() {
    let app = demo_app("close", Lang::Zh, 80, 24, 3.2);
    let s = screen(&app, &dark());
    assert!(s.contains("服务器关闭") || s.contains("第"), "{s}");
    insta::assert_snapshot!(s);
}

#[test]
fn kill_peer_80x24() {
    let app = demo_app("kill-peer", Lang::En, 80, 24, 1.0);
    let s = screen(&app, &dark());
    assert!(s.contains("read(65536) = ECONNRESET"), "{s}");
    assert!(s.contains("RST"), "{s}");
    insta::assert_snapshot!(s);
}

/// Every row of a run at this size, top to bottom, with the ladder's lane
/// lines: no text is written over another lane's line (a row's words stay
/// in its own lane; an arrow may cross a lane, its label may not; a row for
/// the whole lab is a dotted rule across every lane).
fn lanes_hold_their_own_text(name: &str, lang: Lang, w: u16, h: u16) {
    let mut app = demo_app(name, lang, w, h, 1.0);
    let lanes = app.lanes().len();
    assert!(lanes >= 3, "{name}: {lanes} lanes");
    let mut seen = 0;
    for _ in 0..app.visible_len() + 1 {
        let lay = app.ladder_layout();
        let geo = synack::ui::ladder::Geometry::new(lay.ladder, lanes);
        let area = Rect::new(0, 0, w, h);
        let mut buf = Buffer::empty(area);
        render(&mut buf, area, &app, &dark());
        for y in lay.ladder.y..lay.ladder.y + lay.ladder.height {
            let row: String = (0..w).map(|x| buf[(x, y)].symbol().to_owned()).collect();
            if row.contains('┄') || row.contains('⚠') || row.trim().is_empty() {
                continue;
            }
            for (i, &x) in geo.xs.iter().enumerate() {
                let sym = buf[(x, y)].symbol();
                assert!(
                    "│├┤─━╌▶◀✗".contains(sym),
                    "{name} {w}x{h}: lane {i}'s line (column {x}) has {sym:?} written over it:\n{}",
                    buffer_text(&buf)
                );
            }
            seen += 1;
        }
        key(&mut app, Key::Up);
    }
    assert!(seen > 20, "{name}: only {seen} rows checked");
}

#[test]
fn three_and_four_lanes_keep_their_text_in_their_lane() {
    for name in [
        "concurrent",
        "epoll",
        "kill-peer",
        "backlog",
        "backlog-abort",
    ] {
        for (w, h) in [(80, 24), (120, 40)] {
            for lang in [Lang::En, Lang::Zh] {
                lanes_hold_their_own_text(name, lang, w, h);
            }
        }
    }
}

#[test]
fn concurrent_80x24() {
    let app = demo_app("concurrent", Lang::En, 80, 24, 1.0);
    let s = screen(&app, &dark());
    // The server's card lists its three connections beside its listener.
    for conn in ["#1 ", "#2 ", "#3 "] {
        assert!(
            s.lines().rev().take(6).filter(|l| l.contains(conn)).count() >= 2,
            "{conn}:\n{s}"
        );
    }
    assert!(!s.contains("more"), "{s}");
    insta::assert_snapshot!(s);
}

#[test]
fn epoll_80x24() {
    let app = demo_app("epoll", Lang::En, 80, 24, 1.0);
    let s = screen(&app, &dark());
    assert!(s.contains("epoll_wait("), "{s}");
    insta::assert_snapshot!(s);
}

#[test]
fn kill_peer_120x40() {
    let app = demo_app("kill-peer", Lang::En, 120, 40, 1.0);
    insta::assert_snapshot!(screen(&app, &dark()));
}

#[test]
fn backlog_80x24_fills_the_accept_queue() {
    let app = demo_app("backlog", Lang::En, 80, 24, 1.0);
    let s = screen(&app, &dark());
    assert!(
        s.contains("queue 2 · backlog 1") || s.contains("2 (backlog 1)"),
        "{s}"
    );
    insta::assert_snapshot!(s);
}

#[test]
fn backlog_120x40() {
    let app = demo_app("backlog", Lang::En, 120, 40, 1.0);
    insta::assert_snapshot!(screen(&app, &dark()));
}

// ---- time travel ---------------------------------------------------------

/// Selecting the SYN-ACK shows the client still in SYN-SENT, in its card and
/// in the diagram; `f` shows now again.
#[test]
fn selecting_a_row_shows_that_moment() {
    let mut app = demo_app("handshake", Lang::En, 120, 40, 1.0);
    // Up until the selected row is the SYN-ACK.
    for _ in 0..200 {
        key(&mut app, Key::Up);
        let row = app.cursor().and_then(|r| app.timeline().get(r));
        if let Some(Event::Packet(p)) = row.as_deref() {
            if p.segment
                .tcp
                .is_some_and(|t| t.flags.syn() && t.flags.ack())
            {
                break;
            }
        }
    }
    let s = screen(&app, &dark());
    let card = s
        .lines()
        .find(|l| l.contains("#1 ") && l.starts_with('│'))
        .unwrap_or_else(|| panic!("no connection card:\n{s}"));
    assert!(
        card.contains("SYN-SENT"),
        "client card at the SYN-ACK: {card}\n{s}"
    );
    assert!(
        s.contains("▌client SYN-SENT"),
        "diagram legend at the SYN-ACK:\n{s}"
    );
    key(&mut app, Key::Char('f'));
    let s = screen(&app, &dark());
    assert!(s.contains("▌client ESTABLISHED"), "{s}");
}

/// The client closed by its program in FIN-WAIT-2: the row says so, and at
/// that moment its card counts down the FIN timeout the kernel reported.
#[test]
fn an_orphaned_fin_wait_2_shows_its_fin_timeout() {
    let mut app = demo_app("close", Lang::En, 80, 24, 3.2);
    for _ in 0..200 {
        key(&mut app, Key::Up);
        let row = app.cursor().and_then(|r| app.timeline().get(r));
        if matches!(row.as_deref(), Some(Event::Check(c)) if !c.withdraws()) {
            break;
        }
    }
    let s = screen(&app, &dark());
    assert!(
        s.contains("FIN-WAIT-2, closed: waits for the peer's FIN"),
        "{s}"
    );
    let card = s
        .lines()
        .find(|l| l.contains("#1 FIN-WAIT-2") && l.starts_with('│'))
        .unwrap_or_else(|| panic!("no FIN-WAIT-2 card:\n{s}"));
    assert!(card.contains("60s FIN timeout"), "{card}\n{s}");
    insta::assert_snapshot!(s);
}

/// Rootless backlog-abort: the packets implied ESTABLISHED; the SYN-ACK
/// sent again takes it back. The row that showed it is marked, the check
/// says what the socket is, and no arrow goes backwards.
#[test]
fn a_withdrawn_state_is_marked_not_reversed() {
    let mut app = demo_app("rootless-backlog-abort", Lang::En, 120, 40, 1.5);
    // Four lanes and the diagram beside: each lane keeps a short form.
    let s = screen(&app, &dark());
    assert!(s.contains("✗ → ESTABLISHED"), "{s}");
    assert!(!s.contains("ESTABLISHED → SYN-RECEIVED"), "{s}");
    insta::assert_snapshot!(s);
    // Without the diagram the check says what the socket really was.
    key(&mut app, Key::Char('d'));
    let s = screen(&app, &dark());
    assert!(s.contains("✗ → ESTABLISHED"), "{s}");
    assert!(s.contains("✗ in fact SYN-RECEIVED"), "{s}");
    assert!(!s.contains("ESTABLISHED → SYN-RECEIVED"), "{s}");
    // On a wide screen, the whole sentence.
    let wide = demo_app("rootless-backlog-abort", Lang::En, 250, 40, 1.5);
    let s = screen(&wide, &dark());
    assert!(
        s.contains("✗ not ESTABLISHED: the packets now say SYN-RECEIVED"),
        "{s}"
    );
}

/// The epoll loop in the server's lane: back to the epoll_wait that found two
/// sockets ready, with the accept and epoll_ctl around it readable.
#[test]
fn epoll_100x30_shows_the_loop_in_one_lane() {
    let mut app = demo_app("epoll", Lang::En, 100, 30, 1.0);
    for _ in 0..300 {
        key(&mut app, Key::Up);
        let row = app.cursor().and_then(|r| app.timeline().get(r));
        if let Some(Event::Call(c)) = row.as_deref() {
            if c.call == "epoll_wait" && c.result == Some(synack::event::CallResult::Bytes(2)) {
                break;
            }
        }
    }
    let s = screen(&app, &dark());
    // Four lanes at 100 columns: the arguments give way to the result.
    assert!(s.contains("epoll_wait(…) = 2"), "{s}");
    assert!(s.contains("epoll_ctl(…) = ok"), "{s}");
    assert!(s.contains("accept(fd "), "{s}");
    insta::assert_snapshot!(s);
}

// ---- other screens ---------------------------------------------------------

#[test]
fn picker_80x24() {
    let mut app = App::new(Lang::En, RunKind::Idle, choices(), 1000);
    let _ = app.update(AppEvent::Resize {
        width: 80,
        height: 24,
    });
    let s = screen(&app, &dark());
    assert!(
        s.contains("▶ handshake"),
        "handshake is selected at start:\n{s}"
    );
    insta::assert_snapshot!(s);
}

#[test]
fn details_80x24() {
    let mut app = demo_app("handshake", Lang::En, 80, 24, 1.0);
    // Select the first packet (the SYN) and open its details.
    key(&mut app, Key::Home);
    key(&mut app, Key::Enter);
    assert_eq!(app.overlay(), Overlay::Details);
    let s = screen(&app, &dark());
    assert!(s.contains("big-endian"), "{s}");
    assert!(s.contains("Source port"), "{s}");
    assert!(s.contains("0x1b58"), "port 7000 as on the wire:\n{s}");
    insta::assert_snapshot!(s);
}

#[test]
fn x_asks_the_lab_for_loss_and_the_screen_says_it_is_on() {
    use synack::app::Effect;
    use synack::event::{CallResult, LabAction, LabEvent, Origin};
    use synack::lab::LabControl;
    let mut app = demo_app("retransmit", Lang::En, 120, 40, 0.5);
    let fx = app.update(AppEvent::Key(Key::Char('x'))).effects;
    assert!(
        fx.contains(&Effect::Lab(LabControl::ToggleLoss)),
        "x should ask the lab to toggle the loss: {fx:?}"
    );
    let last = fixture("retransmit").last().map_or(0, |e| e.ts().0);
    let ts = Timestamp(last + 1);
    let _ = app.update(AppEvent::Model(vec![Event::Lab(Box::new(LabEvent {
        ts,
        action: LabAction::LinkLoss {
            per_10k: 500,
            only: None,
        },
        result: CallResult::Ok,
        origin: Origin::User,
    }))]));
    let text = screen(&app, &dark());
    assert!(
        app.lab().link_lossy,
        "the app should know the link is lossy"
    );
    assert!(text.contains("≈ lossy link"), "the header says so:\n{text}");
    assert!(
        text.contains("x no loss"),
        "the footer offers to end it:\n{text}"
    );
    assert!(
        text.contains("link loss 5%"),
        "the ladder shows the lab's row:\n{text}"
    );
}

#[test]
fn help_80x24() {
    let mut app = demo_app("handshake", Lang::En, 80, 24, 1.0);
    key(&mut app, Key::Char('?'));
    insta::assert_snapshot!(screen(&app, &dark()));
}

fn watch_app(w: u16, h: u16) -> App {
    let events = fixture("concurrent");
    let mut app = App::new(
        Lang::En,
        RunKind::Watch {
            iface: "lo".into(),
            filter: "tcp and udp, port 7000".into(),
        },
        choices(),
        100_000,
    );
    let _ = app.update(AppEvent::Started {
        kernel: KernelMode::Exact,
    });
    let _ = app.update(AppEvent::Resize {
        width: w,
        height: h,
    });
    let last = events.last().map_or(Timestamp(0), Event::ts);
    let _ = app.update(AppEvent::Model(events));
    let _ = app.update(AppEvent::Tick(Timestamp(last.0 + 1_000_000_000)));
    app
}

#[test]
fn watch_table_80x24() {
    let app = watch_app(80, 24);
    let s = screen(&app, &dark());
    assert!(s.contains("connections: 3 · listening: 1"), "{s}");
    insta::assert_snapshot!(s);
}

#[test]
fn a_listener_gone_reads_closed_in_the_table() {
    let mut app = watch_app(120, 40);
    let before = screen(&app, &dark());
    let row = |s: &str| -> String {
        s.lines()
            .find(|l| l.contains(" *  ") && l.contains("127.0.0.1:7000"))
            .unwrap_or_else(|| panic!("no listener row:\n{s}"))
            .to_owned()
    };
    assert!(row(&before).contains("LISTEN"), "{before}");
    let ts = Timestamp(app.last_ts().0 + 1_000_000);
    let _ = app.update(AppEvent::Model(vec![Event::State(Box::new(
        synack::event::StateEvent {
            ts,
            conn: None,
            endpoint: "listener".into(),
            local: "127.0.0.1:7000".parse().expect("address"),
            remote: None,
            from: Some(synack::tcp::TcpState::Listen),
            to: synack::tcp::TcpState::Closed,
            source: synack::event::StateSource::Kernel,
            timer: None,
            note: None,
        },
    ))]));
    let after = screen(&app, &dark());
    let r = row(&after);
    assert!(r.contains("CLOSED") && !r.contains("LISTEN"), "{after}");
    assert!(!after.contains("(listening)"), "{after}");
}

#[test]
fn watch_table_120x40_and_a_connection_ladder() {
    let mut app = watch_app(120, 40);
    insta::assert_snapshot!("watch_table_120x40", screen(&app, &dark()));
    // Down to the first connection, Enter opens its ladder; Esc comes back.
    key(&mut app, Key::Down);
    key(&mut app, Key::Enter);
    let s = screen(&app, &dark());
    assert!(s.contains("SYN seq=0"), "{s}");
    insta::assert_snapshot!("watch_connection_ladder_120x40", s);
    key(&mut app, Key::Esc);
    assert!(screen(&app, &dark()).contains("connections"));
}

#[test]
fn watch_filter_and_freeze() {
    let mut app = watch_app(100, 30);
    key(&mut app, Key::Char('/'));
    for c in "listen".chars() {
        key(&mut app, Key::Char(c));
    }
    key(&mut app, Key::Enter);
    assert_eq!(app.table_rows().len(), 1, "only the listener matches");
    key(&mut app, Key::Esc);
    assert_eq!(app.table_rows().len(), 4);
    // Frozen: new connections are counted underneath but not shown.
    key(&mut app, Key::Char('p'));
    let before = app.table_rows().len();
    let mut later = fixture("handshake");
    for e in &mut later {
        // Another connection than the recording's first.
        match e {
            Event::Packet(p) => p.conn.0 += 100,
            Event::State(s) => s.conn = s.conn.map(|c| synack::tcp::track::ConnId(c.0 + 100)),
            _ => {}
        }
    }
    let _ = app.update(AppEvent::Model(later));
    assert_eq!(app.table_rows().len(), before, "frozen screen");
    key(&mut app, Key::Char('p'));
    assert!(
        app.table_rows().len() > before,
        "caught up after unfreezing"
    );
}

/// Typing a filter the way `explain` takes names: case, `-`, `_` and
/// spaces aside, TIME-WAIT is found however it is written; a filter that
/// lets nothing through says so (not "no connections yet").
#[test]
fn table_filter_takes_a_state_however_it_is_written() {
    let mut app = watch_app(100, 30);
    assert_eq!(app.table_rows().len(), 4);
    for typed in [
        "TIME_WAIT",
        "time-wait",
        "timewait",
        "Time Wait",
        "TIME-WAIT",
    ] {
        key(&mut app, Key::Char('/'));
        for c in typed.chars() {
            key(&mut app, Key::Char(c));
        }
        key(&mut app, Key::Enter);
        assert_eq!(app.table_rows().len(), 3, "/{typed}: the three clients");
        key(&mut app, Key::Esc);
    }
    key(&mut app, Key::Char('/'));
    for c in "fin_wait".chars() {
        key(&mut app, Key::Char(c));
    }
    key(&mut app, Key::Enter);
    assert!(app.table_rows().is_empty());
    let s = screen(&app, &dark());
    assert!(
        s.contains("No connection matches the filter “fin_wait” (Esc clears it)."),
        "{s}"
    );
    assert!(!s.contains("No connections yet"), "{s}");
}

/// At 100 columns the column titles are whole; reading a file offers no
/// freeze (nothing moves) and `p` does nothing.
#[test]
fn table_titles_fit_at_100_columns_and_read_has_no_freeze() {
    let app = watch_app(100, 30);
    let s = screen(&app, &dark());
    let titles = s.lines().nth(1).unwrap_or_default();
    for t in [
        "client end",
        "server end",
        "client / server state (~ inferred)",
        "pkts",
    ] {
        assert!(titles.contains(t), "{t:?} not whole in {titles:?}");
    }
    assert!(s.contains("freeze"), "watch offers freeze:\n{s}");
    let mut read = App::new(
        Lang::En,
        RunKind::Read {
            file: "close.pcap".into(),
        },
        choices(),
        100_000,
    );
    let _ = read.update(AppEvent::Started {
        kernel: KernelMode::None,
    });
    let _ = read.update(AppEvent::Resize {
        width: 100,
        height: 30,
    });
    let _ = read.update(AppEvent::Model(fixture("close")));
    let s = screen(&read, &dark());
    assert!(!s.contains("freeze"), "{s}");
    key(&mut read, Key::Char('p'));
    let s = screen(&read, &dark());
    assert!(!s.contains("frozen") && !s.contains("freeze"), "{s}");
    key(&mut read, Key::Char('?'));
    let s = screen(&read, &dark());
    assert!(!s.contains("freeze"), "help:\n{s}");
}

// ---- robustness ------------------------------------------------------------

#[test]
fn too_small_and_every_size_render_without_panic() {
    let sizes = [
        (1, 1),
        (20, 5),
        (59, 15),
        (60, 16),
        (80, 24),
        (133, 41),
        (250, 80),
    ];
    for (w, h) in sizes {
        let mut app = demo_app("kill-peer", Lang::Zh, w, h, 1.0);
        let s = screen(&app, &dark());
        if w < 60 || h < 16 {
            assert!(s.contains("60×16") || w < 20, "{w}x{h}:\n{s}");
        }
        for k in [
            Key::Char('d'),
            Key::Up,
            Key::Enter,
            Key::Esc,
            Key::Char('?'),
        ] {
            key(&mut app, k);
            let _ = screen(&app, &dark());
        }
    }
}

#[test]
fn no_color_uses_no_colour_at_all() {
    let app = demo_app("kill-peer", Lang::En, 120, 40, 1.0);
    let pal = Palette::new(Theme::Dark, true);
    let area = Rect::new(0, 0, 120, 40);
    let mut buf = Buffer::empty(area);
    render(&mut buf, area, &app, &pal);
    for y in 0..40 {
        for x in 0..120 {
            let c = &buf[(x, y)];
            assert!(
                c.fg == Color::Reset && c.bg == Color::Reset,
                "cell ({x},{y}) {:?} has a colour under NO_COLOR",
                c.symbol()
            );
        }
    }
    // The meaning is still there in words.
    let s = buffer_text(&buf);
    assert!(s.contains("RST") && s.contains("ECONNRESET"));
}

#[test]
fn every_theme_renders() {
    for theme in [Theme::Dark, Theme::Light, Theme::Contrast] {
        let app = demo_app("close", Lang::En, 100, 30, 1.0);
        let s = screen(&app, &Palette::new(theme, false));
        assert!(s.contains("TIME-WAIT"), "{theme:?}");
    }
}

// ---- themes keep their promise ---------------------------------------------

/// The RGB of an xterm 256-colour code (16–255; 0–15 are the terminal
/// profile's own, so they have none).
fn xterm_rgb(c: Color) -> Option<[u8; 3]> {
    let Color::Indexed(n) = c else { return None };
    let level = |v: u8| if v == 0 { 0 } else { 55 + 40 * v };
    match n {
        16..=231 => {
            let i = n - 16;
            Some([level(i / 36), level(i / 6 % 6), level(i % 6)])
        }
        232..=255 => Some([8 + 10 * (n - 232); 3]),
        _ => None,
    }
}

/// WCAG 2 contrast ratio of two xterm colours (1 to 21).
fn contrast(a: [u8; 3], b: [u8; 3]) -> f64 {
    let lum = |c: [u8; 3]| {
        let lin = |v: u8| {
            let v = f64::from(v) / 255.0;
            if v <= 0.04045 {
                v / 12.92
            } else {
                ((v + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * lin(c[0]) + 0.7152 * lin(c[1]) + 0.0722 * lin(c[2])
    };
    let (x, y) = (lum(a), lum(b));
    (x.max(y) + 0.05) / (x.min(y) + 0.05)
}

/// What a cell shows: (text colour, background), swapped when reversed.
fn shown(c: &ratatui::buffer::Cell) -> (Color, Color) {
    if c.modifier.contains(ratatui::style::Modifier::REVERSED) {
        (c.bg, c.fg)
    } else {
        (c.fg, c.bg)
    }
}

/// The screens a theme must hold on: a demo's ladder with a row selected and
/// the diagram beside it, the diagram, a packet's details, the help, the
/// explanation pane, the scenario picker and a watch's table.
fn theme_screens(pal: &Palette) -> Vec<Buffer> {
    let render_app = |app: &App| {
        let area = Rect::new(0, 0, app.width(), app.height());
        let mut buf = Buffer::empty(area);
        render(&mut buf, area, app, pal);
        buf
    };
    let mut out = Vec::new();
    let mut app = demo_app("kill-peer", Lang::En, 120, 40, 1.0);
    for _ in 0..6 {
        key(&mut app, Key::Up);
    }
    out.push(render_app(&app));
    let mut small = demo_app("kill-peer", Lang::Zh, 80, 24, 1.0);
    key(&mut small, Key::Char('d'));
    out.push(render_app(&small));
    key(&mut small, Key::Esc);
    select(&mut small, |e| matches!(e, Event::Packet(_)));
    key(&mut small, Key::Enter);
    out.push(render_app(&small));
    key(&mut small, Key::Esc);
    key(&mut small, Key::Char('?'));
    out.push(render_app(&small));
    key(&mut small, Key::Esc);
    key(&mut small, Key::Char('e'));
    out.push(render_app(&small));
    let mut picker = App::new(Lang::En, RunKind::Idle, choices(), 1000);
    let _ = picker.update(AppEvent::Resize {
        width: 80,
        height: 24,
    });
    out.push(render_app(&picker));
    out.push(render_app(&watch_app(100, 30)));
    out
}

/// dark: the terminal's own background everywhere but the bars (header,
/// tags, the selection), its named colours, no black text on its background.
#[test]
fn dark_keeps_the_terminals_own_background() {
    let pal = Palette::new(Theme::Dark, false);
    for buf in theme_screens(&pal) {
        let mut own = 0;
        for c in buf.content() {
            assert!(
                matches!(c.bg, Color::Reset | Color::Cyan | Color::Yellow),
                "{c:?}: dark paints only bars"
            );
            assert!(xterm_rgb(c.fg).is_none(), "{c:?}: a fixed colour");
            if c.bg == Color::Reset {
                own += 1;
                assert_ne!(c.fg, Color::Black, "{c:?}: black on a dark terminal");
            }
        }
        assert!(
            own * 10 > buf.content().len() * 9,
            "mostly the terminal's own"
        );
    }
}

/// A theme that paints its own paper: on every screen of
/// [`theme_screens`], nothing dim, every cell in fixed colours at least
/// `ratio`:1, `also` holds for each cell's text colour, and most cells on
/// `paper`.
fn own_paper(
    theme: Theme,
    paper: Color,
    ratio: f64,
    also: impl Fn(&ratatui::buffer::Cell, [u8; 3]),
) {
    use ratatui::style::Modifier;
    let pal = Palette::new(theme, false);
    for buf in theme_screens(&pal) {
        let mut on_paper = 0;
        for c in buf.content() {
            assert!(!c.modifier.contains(Modifier::DIM), "{c:?}: dim");
            let (fg, bg) = shown(c);
            let (Some(f), Some(b)) = (xterm_rgb(fg), xterm_rgb(bg)) else {
                panic!("{c:?}: a colour the terminal's profile decides");
            };
            also(c, f);
            let r = contrast(f, b);
            assert!(r >= ratio, "{c:?}: {r:.1}:1");
            if c.bg == paper {
                on_paper += 1;
            }
        }
        assert!(
            on_paper * 10 > buf.content().len() * 8,
            "{theme:?}: mostly on its paper"
        );
    }
}

/// light: its own white background under every cell but the bars, dark text
/// in fixed colours, every cell at least 4.5:1 and nothing dim, whatever the
/// terminal.
#[test]
fn light_paints_its_own_background_under_dark_text() {
    own_paper(Theme::Light, Color::Indexed(231), 4.5, |_, _| {});
}

/// contrast (for projectors): its own black background under every cell
/// but the bars, white and bright colours at least 7:1, no grey, nothing dim.
#[test]
fn contrast_has_no_grey_and_nothing_dim() {
    own_paper(Theme::Contrast, Color::Indexed(16), 7.0, |c, f| {
        let grey = f[0] == f[1] && f[1] == f[2] && f[0] != 0 && f[0] != 255;
        assert!(!grey, "{c:?}: grey text");
    });
}

/// A screen with its styles: the text, then each style with a letter, then
/// the letters cell by cell (a reviewable picture of a theme).
fn styled(buf: &Buffer) -> String {
    let marks: Vec<char> = ('a'..='z').chain('A'..='Z').chain('0'..='9').collect();
    let mut styles: Vec<(Color, Color, ratatui::style::Modifier)> = Vec::new();
    let mut grid = String::new();
    for y in 0..buf.area.height {
        for x in 0..buf.area.width {
            let c = &buf[(x, y)];
            let key = (c.fg, c.bg, c.modifier);
            let i = styles.iter().position(|s| *s == key).unwrap_or_else(|| {
                styles.push(key);
                styles.len() - 1
            });
            grid.push(marks.get(i).copied().unwrap_or('?'));
        }
        grid.push('\n');
    }
    let legend: String = styles
        .iter()
        .enumerate()
        .map(|(i, (fg, bg, m))| {
            format!(
                "{} fg={fg:?} bg={bg:?} {m:?}\n",
                marks.get(i).copied().unwrap_or('?')
            )
        })
        .collect();
    format!("{}--- styles\n{legend}--- cells\n{grid}", buffer_text(buf))
}

/// Each theme on the handshake at 80x24, the SYN-ACK selected.
#[test]
fn each_theme_at_80x24() {
    for (name, theme) in [
        ("theme_dark_80x24", Theme::Dark),
        ("theme_light_80x24", Theme::Light),
        ("theme_contrast_80x24", Theme::Contrast),
    ] {
        let mut app = demo_app("handshake", Lang::En, 80, 24, 1.0);
        select(
            &mut app,
            |e| matches!(e, Event::Packet(p) if p.segment.tcp.is_some_and(|t| t.flags.syn() && t.flags.ack())),
        );
        let area = Rect::new(0, 0, 80, 24);
        let mut buf = Buffer::empty(area);
        render(&mut buf, area, &app, &Palette::new(theme, false));
        insta::assert_snapshot!(name, styled(&buf));
    }
}

#[test]
fn max_rows_keeps_the_newest_and_says_how_many_went() {
    let events = fixture("kill-peer");
    let mut app = App::new(Lang::En, RunKind::Idle, choices(), 100);
    let _ = app.update(AppEvent::DemoStarted {
        name: "kill-peer".into(),
        peers: peers(&events),
        paused: false,
        rootless: false,
        pace: 0.0,
    });
    let _ = app.update(AppEvent::Resize {
        width: 120,
        height: 40,
    });
    for _ in 0..10 {
        let _ = app.update(AppEvent::Model(events.clone()));
    }
    assert_eq!(app.visible_len(), 100, "the newest 100 rows are kept");
    assert!(app.timeline().dropped() > 500);
    let s = screen(&app, &dark());
    assert!(
        s.contains(&format!("{} older rows dropped", app.timeline().dropped())),
        "{s}"
    );
}

/// The explanation pane (`e`) on the kill-peer run, in Chinese at 80×24:
/// the newest row's entry under the ladder, the rows above it still shown.
#[test]
fn explain_pane_80x24_in_chinese() {
    let mut app = demo_app("kill-peer", Lang::Zh, 80, 24, 1.0);
    key(&mut app, Key::Char('e'));
    assert!(app.explain());
    insta::assert_snapshot!(screen(&app, &dark()));
}

// ---- a clicker through the steps ------------------------------------------

/// The narrations of a recorded demo's steps, in order.
fn narrations(name: &str) -> Vec<(usize, String)> {
    fixture(name)
        .iter()
        .filter_map(|e| match e {
            Event::Step(s) => Some((s.index, s.narration.as_ref()?.text(Lang::En).to_owned())),
            _ => None,
        })
        .collect()
}

/// `demo loss --step`: steps 6, 7 and 8 are written `+ STEP` (the lab runs
/// them at once, the kernel does not wait), yet each one's words are on the
/// screen, whole at 80x24, for a click of its own; ← goes back a step at a
/// time and → forward again; `e` on a step's row shows that step's words.
#[test]
fn stepping_through_loss_shows_every_steps_words_in_turn() {
    let mut app = recorded_app("loss", Lang::En, 80, 24, true, 1.0);
    let words = narrations("loss");
    for chained in [6, 7, 8] {
        assert!(
            words.iter().any(|(i, _)| *i == chained),
            "step {chained} has words: {words:?}"
        );
    }
    // (A step without words goes with the one before it: all came at
    // once here, as if every step had been written `+ STEP`.)
    let mut seen: Vec<String> = Vec::new();
    for _ in 0..40 {
        key(&mut app, Key::Char(' '));
        let step = app.title_step().map(|s| s.index);
        if let Some(b) = app.banner_text() {
            if seen.last().is_none_or(|last| last != b) {
                seen.push(b.to_owned());
            }
        }
        // The whole narration is on the screen.
        let text = screen(&app, &dark());
        if let Some(b) = app.banner_text() {
            // The banner's lines, their margin mark taken off, as one.
            let flat: String = text
                .lines()
                .filter_map(|l| l.strip_prefix("▌"))
                .flat_map(str::split_whitespace)
                .collect::<Vec<_>>()
                .join(" ");
            assert!(
                flat.contains(b),
                "step {step:?}: the banner is cut at 80x24:\n{text}"
            );
        }
    }
    let texts: Vec<String> = words.iter().map(|(_, w)| w.clone()).collect();
    assert_eq!(seen, texts, "each narrated step, once, in order");
    let last = app.title_step().map_or(0, |s| s.index);
    assert_eq!(
        Some(last),
        fixture("loss").iter().rev().find_map(|e| match e {
            Event::Step(s) => Some(s.index),
            _ => None,
        })
    );
    // Back a step at a time, to the first; then forward again.
    let mut back = Vec::new();
    for _ in 0..last + 2 {
        key(&mut app, Key::Left);
        back.push(app.title_step().map_or(0, |s| s.index));
    }
    let expected: Vec<usize> = (1..last).rev().chain([1, 1, 1]).take(back.len()).collect();
    assert_eq!(back, expected, "← goes back one step each time");
    key(&mut app, Key::PageDown);
    assert_eq!(
        app.title_step().map(|s| s.index),
        Some(2),
        "PgDn: the next step"
    );
    key(&mut app, Key::PageUp);
    assert_eq!(
        app.title_step().map(|s| s.index),
        Some(1),
        "PgUp: the step before"
    );
    // `e` on step 6's row: its own words.
    for _ in 0..5 {
        key(&mut app, Key::Right);
    }
    assert_eq!(app.title_step().map(|s| s.index), Some(6));
    key(&mut app, Key::Char('e'));
    let six = &words
        .iter()
        .find(|(i, _)| *i == 6)
        .expect("step 6 has words")
        .1;
    let pane = pane_lines(&app).join(" ");
    assert!(pane.contains(six.as_str()), "e on step 6: {pane}");
}

// ---- Chinese everywhere a word is shown ------------------------------------

/// Moves the selection up from the newest row to the first row `pick`
/// accepts; panics when there is none.
fn select(app: &mut App, pick: impl Fn(&Event) -> bool) {
    key(app, Key::End);
    for _ in 0..app.visible_len() + 1 {
        key(app, Key::Up);
        if app
            .cursor()
            .and_then(|r| app.timeline().get(r))
            .is_some_and(|e| pick(&e))
        {
            return;
        }
    }
    panic!("no row to select");
}

/// A packet that acknowledges with SACK blocks (the receiver is missing a
/// segment), from a window scaled by the handshake.
fn sack_packet(e: &Event) -> bool {
    matches!(e, Event::Packet(p)
        if p.segment.tcp.is_some_and(|t| !t.options.sack_blocks().is_empty()
            && u32::from(t.window) != p.win))
}

/// Names and values line up by cells on every field row of a details
/// screen: each value starts at cell 29 and, when it fits its column, the
/// bytes on the wire at cell 60.
fn assert_details_columns(s: &str) {
    let rows: Vec<Vec<String>> = s.lines().filter(|l| l.contains(" @")).map(cells).collect();
    assert!(rows.len() > 5, "{s}");
    for r in &rows {
        let line: String = r.concat();
        assert!(r[28] == " " && r[29] != " ", "value column: {line}\n{s}");
        if r[59] == " " && r[60] != " " {
            continue;
        }
        assert!(
            r[29..60].iter().all(|c| c != " "),
            "wire column: {line}\n{s}"
        );
    }
}

/// The details of a SACK from `demo loss` in Chinese: every field's name and
/// value in Chinese, the columns straight (counted in cells), the SACK
/// blocks relative like the seq and ack.
#[test]
fn details_80x24_in_chinese() {
    let mut app = demo_app("loss", Lang::Zh, 80, 24, 1.0);
    select(&mut app, sack_packet);
    key(&mut app, Key::Enter);
    assert_eq!(app.overlay(), Overlay::Details);
    // As it opens: the TCP header, seq and ack relative.
    let s = screen(&app, &dark());
    assert!(s.contains("▶ 源端口"), "{s}");
    assert!(s.contains("序号") && s.contains("确认号"), "{s}");
    assert!(s.contains("（相对 1）"), "{s}");
    assert_details_columns(&s);
    insta::assert_snapshot!(s);
    // Down to the SACK option (the last field): the window scaled, the
    // blocks relative.
    let fields = app.packet_fields(app.detail().expect("details open"));
    let sack = fields
        .iter()
        .position(|f| f.name == "SACK option")
        .expect("a SACK option");
    while app.detail_field() < sack {
        key(&mut app, Key::Down);
    }
    let s = screen(&app, &dark());
    assert!(s.contains("（缩放后 "), "{s}");
    let row = s
        .lines()
        .find(|l| l.contains("▶ SACK 选项"))
        .unwrap_or_else(|| panic!("no SACK option selected:\n{s}"));
    assert!(row.contains("sack=") && row.contains("（相对 "), "{row}");
    assert_details_columns(&s);
    insta::assert_snapshot!("details_sack_80x24_in_chinese", s);
}

/// The state diagram (`d`) of `demo loss` in Chinese at 80x24: the wide
/// drawing with its labels in Chinese, both ends lit.
#[test]
fn diagram_80x24_in_chinese() {
    let mut app = demo_app("loss", Lang::Zh, 80, 24, 1.0);
    key(&mut app, Key::Char('d'));
    assert_eq!(app.overlay(), Overlay::Diagram);
    let s = screen(&app, &dark());
    for label in [
        "TCP 状态图",
        "2MSL 超时",
        "收 SYN/发 SYN,ACK",
        "收 FIN",
        "close()",
    ] {
        assert!(s.contains(label), "{label}:\n{s}");
    }
    assert!(s.contains("▌client TIME-WAIT"), "{s}");
    insta::assert_snapshot!(s);
}

/// UDP has no connection states: `d` in the `udp` demo says so, in both
/// languages, instead of a TCP diagram with nothing lit.
#[test]
fn the_diagram_of_udp_says_there_are_no_states() {
    for (lang, words) in [
        (Lang::En, "UDP has no connection and so no states"),
        (Lang::Zh, "UDP 没有连接，因此也没有状态"),
    ] {
        let mut app = demo_app("udp", lang, 80, 24, 1.0);
        key(&mut app, Key::Char('d'));
        let s = screen(&app, &dark());
        assert!(s.contains(words), "{s}");
        assert!(!s.contains("ESTABLISHED"), "no TCP diagram:\n{s}");
        // Beside the ladder on a big screen too.
        let app = demo_app("udp", lang, 120, 40, 1.0);
        let s = screen(&app, &dark());
        let flat: String = s.split_whitespace().collect();
        assert!(flat.contains(&words.replace(' ', "")), "{s}");
        assert!(!s.contains("LISTEN"), "{s}");
    }
}

#[path = "common/names.rs"]
mod names;
use names::NAMES;

/// The Latin words of a Chinese screen that are neither in [`NAMES`] nor in
/// `own` (the run's own names: its scenario and its peers). Quoted text is
/// data a peer sends; a hex dump's printable column is the packet's bytes:
/// neither is read. `{on, 0}` is how the ladder writes a linger option. The
/// narration (the banner's `▌` lines, written by the scenario's author) may
/// gloss a term with its English name in brackets, as Chinese textbooks do:
/// `全连接队列（accept queue）`.
fn english_words(screen: &str, own: &[String]) -> Vec<String> {
    let mut words = Vec::new();
    for line in screen.lines() {
        let line = if line.starts_with('▌') {
            glosses_removed(line)
        } else {
            line.to_owned()
        };
        let cells: Vec<char> = line.chars().collect();
        let hex_dump = cells.len() > 8
            && cells[2..6].iter().all(char::is_ascii_hexdigit)
            && cells[6..8] == [' ', ' '];
        if hex_dump {
            continue;
        }
        // A word cut short by the width (`le…` of `len=`) is no word.
        let line: String = line
            .replace("{on, 0}", "")
            .split(' ')
            .map(|w| if w.ends_with('…') { "" } else { w })
            .collect::<Vec<_>>()
            .join(" ");
        let unquoted: String = line
            .split('"')
            .enumerate()
            .filter(|(i, _)| i % 2 == 0)
            .map(|(_, s)| s)
            .collect::<Vec<_>>()
            .join(" ");
        for token in unquoted.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
        {
            // A command-line option (`--quiz`) is a name.
            if token.starts_with("--") {
                continue;
            }
            // Numbers glued to a unit or a name: 200ms, 2MSL, 0x1b58.
            let token = token.trim_matches('-');
            if token.starts_with("0x") {
                continue;
            }
            let word = token.trim_start_matches(|c: char| c.is_ascii_digit());
            if word.chars().filter(char::is_ascii_alphabetic).count() < 2 {
                continue;
            }
            // A multiplier (x128).
            if word.starts_with('x') && word[1..].bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            // The kernel's own names for a reason (`TCP_LISTEN_OVERFLOW`,
            // `NO_SOCKET`): a name, whichever the kernel has.
            if word.contains('_')
                && word
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
            {
                continue;
            }
            if !NAMES.contains(&word) && !own.iter().any(|o| o == word) {
                words.push(word.to_owned());
            }
        }
    }
    words.sort();
    words.dedup();
    words
}

/// `s` without its bracketed glosses (`（…）`; a line's end closes one).
fn glosses_removed(s: &str) -> String {
    let mut out = String::new();
    let mut depth = 0;
    for c in s.chars() {
        match c {
            '（' => depth += 1,
            '）' => depth = 0.max(depth - 1),
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// The names a recorded run brings: its scenario and its peers (the
/// script's names, which the Chinese narration uses as they are).
fn own_names(name: &str) -> Vec<String> {
    let mut v = peers(&fixture(name));
    v.push(name.to_owned());
    v
}

/// Every screen of a recorded demo a Chinese class sees: the ladder at every
/// position, the details of every packet (every field), the diagram at each
/// step's end, the help.
fn chinese_screens(name: &str, w: u16, h: u16) -> Vec<String> {
    let mut app = demo_app(name, Lang::Zh, w, h, 1.0);
    let mut out = Vec::new();
    key(&mut app, Key::Home);
    let rows = app.visible_len();
    for pos in 0..rows {
        let row = app
            .cursor()
            .and_then(|r| app.timeline().get(r))
            .map(std::borrow::Cow::into_owned);
        if pos % 8 == 0 || pos + 1 == rows {
            out.push(screen(&app, &dark()));
            key(&mut app, Key::Char('d'));
            out.push(screen(&app, &dark()));
            key(&mut app, Key::Esc);
        }
        if let Some(Event::Packet(_)) = row {
            key(&mut app, Key::Enter);
            key(&mut app, Key::Home);
            let fields = app.detail().map_or(0, |d| app.packet_fields(d).len());
            for f in 0..fields {
                if f % 6 == 0 || f + 1 == fields {
                    out.push(screen(&app, &dark()));
                }
                key(&mut app, Key::Down);
            }
            key(&mut app, Key::Esc);
        }
        key(&mut app, Key::Down);
    }
    // The help's box only: beside it, the ladder shows cut words.
    key(&mut app, Key::Char('?'));
    let s = screen(&app, &dark());
    let lines: Vec<&str> = s.lines().collect();
    let top = lines
        .iter()
        .position(|l| l.contains("┌ 按键"))
        .unwrap_or_else(|| panic!("the help's box:\n{s}"));
    let cells_of_top = cells(lines[top]);
    let left = cells_of_top.iter().position(|c| c == "┌").unwrap_or(0);
    // Its own corner: a panel beside it may begin on the same line.
    let right = cells_of_top
        .iter()
        .skip(left)
        .position(|c| c == "┐")
        .map_or(0, |i| left + i);
    let bottom = (top..lines.len())
        .find(|&y| cells(lines[y])[left] == "└")
        .unwrap_or(lines.len() - 1);
    out.push(
        lines[top..=bottom]
            .iter()
            .map(|l| cells(l)[left..=right].concat())
            .collect::<Vec<_>>()
            .join("\n"),
    );
    out
}

#[test]
fn the_english_word_check_catches_english_words() {
    let own = own_names("loss");
    assert_eq!(
        english_words("│ 总长度  64 bytes（relative 1）  0x0040 @16–17 │", &own),
        ["bytes", "relative"]
    );
    assert!(
        english_words(
            "SYN,ACK seq=0 ack=1 win=65483 <mss=65495,sack,ts,ws=10> write(\"hello there\") 200ms 2MSL 超时 ▌client TIME-WAIT",
            &own
        )
        .is_empty()
    );
    // The English details view is full of them.
    let mut app = demo_app("loss", Lang::En, 80, 24, 1.0);
    select(&mut app, sack_packet);
    key(&mut app, Key::Enter);
    let words = english_words(&screen(&app, &dark()), &own);
    for w in ["bytes", "relative", "port", "Sequence"] {
        assert!(words.iter().any(|x| x == w), "{w} not caught: {words:?}");
    }
}

/// The screens of the loss, retransmit and keepalive recordings in Chinese
/// (ladder, every packet's details, the diagram, the help) show no English
/// word: only names (see [`NAMES`]).
#[test]
fn chinese_screens_have_no_english_words() {
    // A rootless run too: its first row is the warning that the tracepoint
    // is out of reach.
    for name in [
        "loss",
        "retransmit",
        "keepalive",
        "rootless-handshake",
        "nonblocking",
        "select",
        "keepalive-reboot",
        "heartbeat",
        "peek",
        "congestion",
        "drops-loss",
        "drops-backlog-abort",
        "rst-kill-peer",
        "rst-refused",
        "rst-abort",
    ] {
        let own = own_names(name);
        for (w, h) in [(80, 24), (120, 40)] {
            for s in chinese_screens(name, w, h) {
                let words = english_words(&s, &own);
                assert!(words.is_empty(), "{name} {w}x{h}: {words:?} in\n{s}");
            }
        }
    }
    // The two reviewed Chinese screens too.
    for snap in [
        "details_80x24_in_chinese",
        "details_sack_80x24_in_chinese",
        "diagram_80x24_in_chinese",
    ] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/snapshots")
            .join(format!("screens__{snap}.snap"));
        let text = std::fs::read_to_string(&path).expect("a reviewed snapshot");
        let body = text.splitn(3, "---\n").nth(2).unwrap_or_default();
        let words = english_words(body, &own_names("loss"));
        assert!(words.is_empty(), "{snap}: {words:?}");
    }
}

// ---- why the kernel sent a RST (as root) ------------------------------------

/// Selects the newest RST row.
fn select_rst(app: &mut App) {
    select(
        app,
        |e| matches!(e, Event::Packet(p) if p.segment.tcp.is_some_and(|h| h.flags.rst())),
    );
}

/// `demo refused` as root: the RST's label says why in words, in the
/// language shown; the details view has the kernel's name for it; `e`
/// explains it first.
#[test]
fn a_rst_says_why_the_kernel_sent_it() {
    let app = demo_app("rst-refused", Lang::En, 80, 24, 1.0);
    let s = screen(&app, &dark());
    assert!(s.contains("· nobody listens on this port"), "{s}");
    insta::assert_snapshot!(s);
    let app = demo_app("rst-refused", Lang::Zh, 80, 24, 1.0);
    let s = screen(&app, &dark());
    assert!(s.contains("· 此端口无人监听"), "{s}");

    let mut app = demo_app("rst-refused", Lang::En, 80, 24, 1.0);
    select_rst(&mut app);
    key(&mut app, Key::Enter);
    assert_eq!(app.overlay(), Overlay::Details);
    let s = screen(&app, &dark());
    assert!(
        s.contains("reset reason (kernel): NO_SOCKET (nobody listens on this port)"),
        "{s}"
    );
    key(&mut app, Key::Esc);
    key(&mut app, Key::Char('e'));
    let pane = pane_lines(&app);
    assert_eq!(
        pane.first().map(String::as_str),
        Some("NO_SOCKET: no socket for this segment"),
        "{pane:#?}"
    );
    assert!(
        pane.iter().any(|l| l.starts_with("RST-ACK")),
        "the packet's own entry follows: {pane:#?}"
    );
}

/// kill-peer as root: the first RST answers data sent to the killed
/// client's closed socket, the second is the second client dying with data
/// unread; each row says so (cut where its arrow is short, never left out).
#[test]
fn kill_peers_resets_say_why() {
    let mut app = demo_app("rst-kill-peer", Lang::En, 160, 40, 1.0);
    select_rst(&mut app);
    let s = screen(&app, &dark());
    assert!(s.contains("· closed with unread data"), "{s}");
    let mut zh = demo_app("rst-kill-peer", Lang::Zh, 160, 40, 1.0);
    select_rst(&mut zh);
    let s = screen(&zh, &dark());
    assert!(s.contains("· 关闭时还有未读数据"), "{s}");
    // Three lanes and the diagram at 120 columns: the words are cut.
    let mut narrow = demo_app("rst-kill-peer", Lang::En, 120, 40, 1.0);
    select_rst(&mut narrow);
    let s = screen(&narrow, &dark());
    assert!(s.contains("ACK,RST · closed with …"), "{s}");
    // The first RST, further up.
    select(
        &mut app,
        |e| matches!(e, Event::Packet(p) if p.rst_reason.as_deref() == Some("TCP_ABORT_ON_DATA")),
    );
    let s = screen(&app, &dark());
    assert!(s.contains("· data arrived after close"), "{s}");
}

// ---- the congestion window ---------------------------------------------------

/// `demo congestion`, recorded as root: each change of congestion state is
/// a row on the client's lane saying who told it (the socket's TCP_INFO or
/// the kernel's tracepoint); with such a row selected, the client's card
/// shows the window and threshold its socket reported last; `e` explains
/// the state. In Chinese too.
#[test]
fn congestion_rows_and_the_card_show_the_window_and_who_told_it() {
    use synack::event::{CaState, CongSource};
    let events = fixture("congestion");
    let changes: Vec<(CongSource, CaState)> = events
        .iter()
        .filter_map(|e| match e {
            Event::Congestion(c) if c.is_change() => Some((c.source, c.state)),
            _ => None,
        })
        .collect();
    for (source, state) in [
        (CongSource::Socket, CaState::Recovery),
        (CongSource::Socket, CaState::Loss),
        (CongSource::Kernel, CaState::Recovery),
        (CongSource::Kernel, CaState::Loss),
    ] {
        assert!(
            changes.contains(&(source, state)),
            "the recording has {state:?} from {source:?}: {changes:?}"
        );
    }
    for lang in [Lang::En, Lang::Zh] {
        let mut app = demo_app("congestion", lang, 120, 40, 1.0);
        select(
            &mut app,
            |e| matches!(e, Event::Congestion(c) if c.source == CongSource::Socket && c.state == CaState::Recovery),
        );
        let Some(Event::Congestion(c)) = app
            .cursor()
            .and_then(|r| app.timeline().get(r))
            .map(std::borrow::Cow::into_owned)
        else {
            panic!("a congestion row is selected");
        };
        let text = screen(&app, &dark());
        let (w, s) = (c.cwnd.unwrap_or_default(), c.ssthresh.unwrap_or_default());
        // The card's form that fits its width at 120 columns: the
        // threshold named, never `42/42` (read as a fraction).
        let card = match lang {
            Lang::En => format!("cwnd {w} · ssthresh {s}"),
            Lang::Zh => format!("拥塞窗口 {w} · 阈值 {s}"),
        };
        assert!(!text.contains(&format!("{w}/{s}")), "{text}");
        // The kernel's rows told the change as it happened; the socket's
        // report, read later, tells its window in that state and does not
        // tell a change of its own (`Open → Recovery` after the kernel's
        // `Disorder → Recovery`).
        let (row, source) = match lang {
            Lang::En => ("congestion Recovery cwnd ", "(TCP_INFO)"),
            Lang::Zh => ("拥塞状态 Recovery cwnd ", "（TCP_INFO）"),
        };
        assert!(!text.contains("Open → Recovery"), "{text}");
        assert!(
            text.contains(row),
            "{lang:?}: the row says the change:\n{text}"
        );
        assert!(
            text.contains(&card),
            "{lang:?}: the card shows `{card}`:\n{text}"
        );
        assert!(text.contains(source), "{lang:?}: who told it:\n{text}");
        key(&mut app, Key::Char('e'));
        let pane = pane_lines(&app).join(" ");
        let title = synack::explain::cong_state(CaState::Recovery, lang)
            .expect("Recovery is explained")
            .title
            .as_str();
        assert!(
            pane.contains(title),
            "{lang:?}: e explains Recovery: {pane}"
        );
        // The kernel's row says it is the kernel's.
        key(&mut app, Key::Char('e'));
        select(
            &mut app,
            |e| matches!(e, Event::Congestion(c) if c.source == CongSource::Kernel && c.state == CaState::Loss),
        );
        let text = screen(&app, &dark());
        let kernel = match lang {
            Lang::En => "(kernel)",
            Lang::Zh => "（内核）",
        };
        assert!(
            text.contains(kernel),
            "{lang:?}: the tracepoint's row:\n{text}"
        );
        // The tracepoint tells the state alone: the card does not show the
        // window the socket told in the state before as the kernel's.
        let window = match lang {
            Lang::En => "cwnd",
            Lang::Zh => "拥塞窗口",
        };
        assert!(
            !text
                .lines()
                .any(|l| l.starts_with('│') && l.contains(kernel) && l.contains(window)),
            "{lang:?}: a stale window as the kernel's:\n{text}"
        );
        let card = match lang {
            Lang::En => "congestion Loss (kernel)",
            Lang::Zh => "拥塞状态 Loss （内核）",
        };
        assert!(text.contains(card), "{lang:?}: the card:\n{text}");
        // A packet's details: the sender's window when it left.
        select(&mut app, |e| {
            matches!(e, Event::Packet(p) if p.endpoint.as_deref() == Some("client")
                && p.notes.names().any(|n| n == "retransmission"))
        });
        key(&mut app, Key::Enter);
        let text = screen(&app, &dark());
        let field = match lang {
            Lang::En => "the sender's congestion: cwnd ",
            Lang::Zh => "发送方的拥塞状态: 拥塞窗口 ",
        };
        assert!(
            text.contains(field) && text.contains("Loss"),
            "{lang:?}: the details of the timeout's retransmission:\n{text}"
        );
    }
}

fn select_drop(app: &mut App, reason: &str) {
    select(
        app,
        |e| matches!(e, Event::Packet(p) if p.drop_reason.as_deref() == Some(reason)),
    );
}

/// `demo backlog-abort` as root: the final ACK the server's kernel dropped
/// at its full accept queue ends at a ✗ on the server's lane with the
/// reason in words, in the language shown; the details view has the
/// kernel's name for it; `e` explains it first. The SYN-ACK client2's cut
/// link lost says it was the lab's.
#[test]
fn a_dropped_segment_says_why_the_kernel_dropped_it() {
    let mut app = demo_app("drops-backlog-abort", Lang::En, 160, 40, 1.0);
    select_drop(&mut app, "TCP_LISTEN_OVERFLOW");
    let s = screen(&app, &dark());
    assert!(s.contains("✗ accept queue full"), "{s}");
    let mut zh = demo_app("drops-backlog-abort", Lang::Zh, 160, 40, 1.0);
    select_drop(&mut zh, "TCP_LISTEN_OVERFLOW");
    let s = screen(&zh, &dark());
    assert!(s.contains("✗ 全连接队列已满"), "{s}");

    key(&mut app, Key::Enter);
    assert_eq!(app.overlay(), Overlay::Details);
    let s = screen(&app, &dark());
    assert!(
        s.contains("dropped by the kernel: ✗ TCP_LISTEN_OVERFLOW (accept queue full)"),
        "{s}"
    );
    key(&mut app, Key::Esc);
    key(&mut app, Key::Char('e'));
    let pane = pane_lines(&app);
    assert_eq!(
        pane.first().map(String::as_str),
        Some("TCP_LISTEN_OVERFLOW: accept queue full"),
        "{pane:#?}"
    );

    // Where its arrow leaves little room, the row says `[lost]` (the lab's
    // link, as its own words say where there is room) and the details view
    // has the kernel's name.
    let mut app = demo_app("drops-backlog-abort", Lang::En, 160, 40, 1.0);
    select_drop(&mut app, "SOCKET_FILTER");
    let s = screen(&app, &dark());
    assert!(s.contains("SYN,ACK─[lost]"), "{s}");
    key(&mut app, Key::Enter);
    let s = screen(&app, &dark());
    assert!(
        s.contains("dropped by the kernel: ✗ SOCKET_FILTER (the lab's link)"),
        "{s}"
    );
    key(&mut app, Key::Esc);
    key(&mut app, Key::Char('e'));
    let pane = pane_lines(&app);
    assert_eq!(
        pane.first().map(String::as_str),
        Some("SOCKET_FILTER: a socket filter"),
        "{pane:#?}"
    );
}

/// `demo loss` as root: the retransmissions say the kernel resent them, in
/// the label and the details view, and `e` says what that means.
#[test]
fn a_retransmission_says_the_kernel_resent_it() {
    let mut app = demo_app("drops-loss", Lang::En, 160, 40, 1.0);
    select(
        &mut app,
        |e| matches!(e, Event::Packet(p) if p.retransmit == Some(synack::event::RetransmitWitness::Kernel)),
    );
    let s = screen(&app, &dark());
    assert!(s.contains("the kernel resent it"), "{s}");
    key(&mut app, Key::Enter);
    let s = screen(&app, &dark());
    assert!(
        s.contains("retransmission (kernel): the kernel resent it"),
        "{s}"
    );
    key(&mut app, Key::Esc);
    key(&mut app, Key::Char('e'));
    let pane = pane_lines(&app);
    assert!(
        pane.iter()
            .any(|l| l == "retransmission (kernel): the kernel resent it"),
        "{pane:#?}"
    );
}

/// `demo loss` as root at 80x24, the projector's size: the segments the
/// lab's link dropped keep their sequence number and their tags (which is
/// lost, that it is the fast retransmission): the kernel's words that only
/// repeat a tag give way first.
#[test]
fn a_lost_segment_keeps_its_seq_and_tags_at_80x24() {
    let mut app = demo_app("drops-loss", Lang::En, 80, 24, 1.0);
    select_drop(&mut app, "SOCKET_FILTER");
    let s = screen(&app, &dark());
    let rows: Vec<&str> = s.lines().filter(|l| l.contains("[lost]")).collect();
    assert!(!rows.is_empty(), "{s}");
    for row in &rows {
        assert!(
            row.contains("seq=") || row.contains("fast_retransmission"),
            "{row}\n{s}"
        );
        assert!(!row.contains('…'), "nothing cut: {row}\n{s}");
    }
}

/// A retransmission the capture's analysis calls one and the kernel did not
/// make is not labelled the kernel's: its details say it is the capture's
/// alone, and so does its row.
#[test]
fn a_retransmission_only_the_capture_saw_is_not_called_the_kernels() {
    use synack::event::RetransmitWitness;
    let mut events = fixture("drops-loss");
    let mut n = 0;
    for e in &mut events {
        if let Event::Packet(p) = e {
            if p.retransmit == Some(RetransmitWitness::Kernel) && p.drop_reason.is_none() {
                p.retransmit = Some(RetransmitWitness::InferredOnly);
                n += 1;
            }
        }
    }
    assert!(n > 0, "the recording has a retransmission that arrived");
    let mut app = App::new(Lang::En, RunKind::Idle, choices(), 100_000);
    let _ = app.update(AppEvent::DemoStarted {
        name: "loss".to_owned(),
        peers: peers(&events),
        paused: false,
        rootless: false,
        pace: 0.0,
    });
    let _ = app.update(AppEvent::Started {
        kernel: KernelMode::Exact,
    });
    let _ = app.update(AppEvent::Resize {
        width: 160,
        height: 40,
    });
    let _ = app.update(AppEvent::Model(events));
    select(
        &mut app,
        |e| matches!(e, Event::Packet(p) if p.retransmit == Some(RetransmitWitness::InferredOnly)),
    );
    let s = screen(&app, &dark());
    assert!(
        s.contains("capture only: the kernel did not resend it"),
        "{s}"
    );
    key(&mut app, Key::Enter);
    let s = screen(&app, &dark());
    assert!(
        s.contains("retransmission (capture only): the kernel did not resend it"),
        "{s}"
    );
    assert!(!s.contains("retransmission (kernel)"), "{s}");
}

/// `demo loss` as root at 80x24: the timeout's retransmission, which
/// arrives, says which segment it is, that the kernel resent it, and its tag.
#[test]
fn a_retransmission_at_80x24_says_its_seq_and_that_the_kernel_resent_it() {
    let mut app = demo_app("drops-loss", Lang::En, 80, 24, 1.0);
    select(&mut app, |e| {
        matches!(e, Event::Packet(p) if p.retransmit == Some(synack::event::RetransmitWitness::Kernel)
            && p.drop_reason.is_none())
    });
    let s = screen(&app, &dark());
    let row = s
        .lines()
        .find(|l| l.contains("the kernel resent it"))
        .unwrap_or_else(|| panic!("{s}"));
    assert!(row.contains(" seq="), "{row}");
    assert!(row.contains("[retransmission]"), "{row}");
}

/// The explanation pane's lines, as wide as it may be.
fn pane_lines(app: &App) -> Vec<String> {
    synack::app::panes::explain_lines(app, 200)
        .into_iter()
        .map(|(l, _)| l)
        .collect()
}
