//! The screen's cost: one frame of the demo screen (ladder, cards, diagram)
//! at 120x40 with a ladder of 100,000 rows and with 10, following the newest
//! row and with a row selected in the middle (time travel). Rendering looks
//! at the visible rows only, so the two sizes should cost about the same.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use synack::app::{App, AppEvent, Key, RunKind};
use synack::event::Event;
use synack::i18n::Lang;
use synack::model::KernelMode;
use synack::tcp::track::ConnId;
use synack::time::Timestamp;
use synack::ui::{Palette, Theme, render};

/// The recorded kill-peer run, repeated (times and connections shifted)
/// until the ladder has `rows` rows.
fn app(rows: usize) -> App {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/kill-peer.inputs");
    let base = synack::run::replay(&path).expect("fixture");
    let mut app = App::new(Lang::En, RunKind::Idle, Vec::new(), rows.max(100));
    let _ = app.update(AppEvent::DemoStarted {
        name: "kill-peer".into(),
        peers: vec!["client".into(), "client2".into(), "server".into()],
        paused: false,
        rootless: false,
        pace: 0.0,
    });
    let _ = app.update(AppEvent::Started {
        kernel: KernelMode::Exact,
    });
    let _ = app.update(AppEvent::Resize {
        width: 120,
        height: 40,
    });
    let mut events: Vec<Event> = Vec::with_capacity(rows);
    let mut round = 0u64;
    while events.len() < rows {
        for e in &base {
            let mut e = e.clone();
            let shift = round * 10_000_000_000;
            let ts = Timestamp(e.ts().0 + shift);
            e.set_ts(ts);
            if let Event::Packet(p) = &mut e {
                p.conn = ConnId(p.conn.0 + 2 * round as u32);
            }
            events.push(e);
            if events.len() == rows {
                break;
            }
        }
        round += 1;
    }
    let _ = app.update(AppEvent::Model(events));
    app
}

fn frame(c: &mut Criterion) {
    let pal = Palette::new(Theme::Dark, false);
    let area = Rect::new(0, 0, 120, 40);
    for rows in [10, 100_000] {
        let mut a = app(rows);
        let mut buf = Buffer::empty(area);
        c.bench_function(&format!("frame_120x40_{rows}_rows_following"), |b| {
            b.iter(|| {
                buf.reset();
                render(&mut buf, area, black_box(&a), &pal);
            });
        });
        // Time travel: a row in the middle selected.
        for _ in 0..rows / 2 {
            let _ = a.update(AppEvent::Key(Key::Up));
        }
        c.bench_function(&format!("frame_120x40_{rows}_rows_selected"), |b| {
            b.iter(|| {
                buf.reset();
                render(&mut buf, area, black_box(&a), &pal);
            });
        });
    }
}

criterion_group!(benches, frame);
criterion_main!(benches);
