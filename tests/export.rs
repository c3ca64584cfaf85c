//! Handouts (`--export mermaid|svg`) from recorded runs: the fixtures in
//! tests/fixtures/*.inputs replayed to events and drawn, without a lab or
//! root.
//!
//! - Golden copies in tests/golden/ (open the .svg in a browser to review
//!   one): a change shows as a diff. `UPDATE_GOLDEN=1 cargo test --test
//!   export` rewrites them.
//! - Every fixture: the SVG is well-formed XML with one arrow per packet,
//!   the Mermaid text one message per packet, in any theme, per connection.
//! - Hostile text (control bytes, markup, Mermaid's statement ends) cannot
//!   break out of either.

use std::path::Path;

use synack::event::{CallEvent, CallResult, Event, Narration, StepEvent};
use synack::i18n::Theme;
use synack::output::export::{self, ExportFormat, ExportOptions, connections, mermaid, svg};
use synack::time::Timestamp;

#[path = "common/fixtures.rs"]
mod fixtures;
use fixtures::{fixtures, replay, replayed as events};
#[path = "common/svg.rs"]
mod svg_doc;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn opts(title: &str, conn: Option<u32>) -> ExportOptions {
    ExportOptions {
        title: title.to_owned(),
        conn,
        ..ExportOptions::default()
    }
}

/// Compares with tests/golden/NAME, or writes it with UPDATE_GOLDEN=1.
fn golden(name: &str, actual: &str) {
    let path = root().join("tests/golden").join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (UPDATE_GOLDEN=1 cargo test --test export writes it)",
            path.display()
        )
    });
    if expected != actual {
        let first = expected
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| expected.lines().count().min(actual.lines().count()));
        panic!(
            "{name} differs from its golden copy at line {}:\n golden: {:?}\n    now: {:?}\n\
             (review, then UPDATE_GOLDEN=1 cargo test --test export)",
            first + 1,
            expected.lines().nth(first),
            actual.lines().nth(first)
        );
    }
}

/// The packet arrows of an SVG, after checking it is well-formed SVG.
fn svg_packets(text: &str) -> usize {
    let doc = svg_doc::document(text);
    let root = doc.root_element();
    for a in ["width", "height", "viewBox"] {
        assert!(root.attribute(a).is_some(), "the svg has no {a}");
    }
    for node in doc.descendants() {
        if let Some(t) = node.text() {
            assert!(!t.chars().any(|c| c.is_control() && c != '\n'), "{t:?}");
        }
    }
    svg_doc::packet_arrows(&doc)
}

/// Text Mermaid shows as written: `;` and `#` would end the statement, `<`
/// `>` `&` be markup; only entity codes and line breaks may hold them.
fn plain_text(t: &str) {
    assert!(!t.trim().is_empty(), "empty text");
    let mut rest = t.replace("<br/>", " ");
    for code in ["#35;", "#59;", "#lt;", "#gt;", "#amp;"] {
        rest = rest.replace(code, "");
    }
    assert!(
        !rest.contains([';', '#', '<', '>', '&']),
        "unescaped: {t:?}"
    );
}

/// Checks every line of a Mermaid text against the statements it may use;
/// returns the number of messages (packets).
fn mermaid_messages(text: &str) -> usize {
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("sequenceDiagram"));
    let mut ids = Vec::new();
    let mut messages = 0;
    for line in lines {
        assert!(!line.chars().any(char::is_control), "{line:?}");
        let l = line
            .strip_prefix("    ")
            .unwrap_or_else(|| panic!("not indented: {line:?}"));
        if l.starts_with("%%") {
            continue;
        }
        if let Some(t) = l.strip_prefix("title ") {
            plain_text(t);
        } else if let Some(p) = l.strip_prefix("participant ") {
            let (id, alias) = p.split_once(" as ").unwrap_or((p, "x"));
            plain_text(alias);
            assert!(
                id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                "id {id:?}"
            );
            ids.push(id.to_owned());
        } else if let Some(n) = l.strip_prefix("Note over ") {
            let (who, text) = n.split_once(": ").expect("a note's text");
            plain_text(text);
            for id in who.split(',') {
                assert!(ids.iter().any(|i| i == id), "undeclared {id:?}: {line:?}");
            }
        } else {
            let (arrow, text) = l.split_once(": ").expect("a message's text");
            plain_text(text);
            let (a, b) = arrow
                .split_once("->>")
                .or_else(|| arrow.split_once("-x"))
                .unwrap_or_else(|| panic!("not a statement: {line:?}"));
            for id in [a, b] {
                assert!(ids.iter().any(|i| i == id), "undeclared {id:?}: {line:?}");
            }
            messages += 1;
        }
    }
    messages
}

fn packets(events: &[Event], conn: Option<u32>) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, Event::Packet(p) if conn.is_none_or(|c| p.conn.0 == c)))
        .count()
}

#[test]
fn recorded_runs_draw_their_golden_diagrams() {
    let close = events("close");
    golden(
        "close.mmd",
        &mermaid(&close, &opts("synack demo close", None)),
    );
    golden("close.svg", &svg(&close, &opts("synack demo close", None)));
    let handshake = events("handshake");
    golden(
        "handshake.mmd",
        &mermaid(&handshake, &opts("synack demo handshake", None)),
    );
    let light = ExportOptions {
        theme: Theme::Light,
        ..opts("synack demo handshake", None)
    };
    golden("handshake-light.svg", &svg(&handshake, &light));
    // A capture file: lanes named by address.
    let pcap = events("read-pcap");
    golden(
        "read-pcap.mmd",
        &mermaid(&pcap, &opts("read-pcap.pcap", None)),
    );
    // Several peers and connections; then one of them.
    let concurrent = events("concurrent");
    golden(
        "concurrent.mmd",
        &mermaid(&concurrent, &opts("synack demo concurrent", None)),
    );
    golden(
        "concurrent-conn2.mmd",
        &mermaid(
            &concurrent,
            &opts("synack demo concurrent — connection 2", Some(2)),
        ),
    );
}

#[test]
fn every_recorded_run_draws_each_packet_once_in_both_formats() {
    for path in fixtures() {
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let events = replay(&path);
        let all = packets(&events, None);
        assert!(all > 0, "{name}: no packets");
        for theme in [Theme::Dark, Theme::Light, Theme::Contrast] {
            let o = ExportOptions {
                theme,
                ..opts(&name, None)
            };
            assert_eq!(svg_packets(&svg(&events, &o)), all, "{name} {theme:?}");
        }
        assert_eq!(
            mermaid_messages(&mermaid(&events, &opts(&name, None))),
            all,
            "{name}"
        );
        for c in connections(&events) {
            let o = opts(&name, Some(c));
            let n = packets(&events, Some(c));
            assert_eq!(svg_packets(&svg(&events, &o)), n, "{name} conn {c}");
            assert_eq!(
                mermaid_messages(&mermaid(&events, &o)),
                n,
                "{name} conn {c}"
            );
        }
    }
}

#[test]
fn diagrams_are_the_same_for_the_same_run_and_start_at_zero() {
    let close = events("close");
    for format in [ExportFormat::Mermaid, ExportFormat::Svg] {
        let a = export::render(format, &close, &opts("x", None));
        let b = export::render(format, &close, &opts("x", None));
        assert_eq!(a, b);
    }
    let m = mermaid(&close, &opts("x", None));
    let first = m.lines().find(|l| l.contains("%% t=")).unwrap();
    assert_eq!(first.trim(), "%% t=0.000000");
}

#[test]
fn one_connection_shows_its_own_rows_and_lanes_only() {
    let concurrent = events("concurrent");
    let conns = connections(&concurrent);
    assert!(conns.len() >= 2, "{conns:?}");
    let all = mermaid(&concurrent, &opts("c", None));
    let one = mermaid(&concurrent, &opts("c", Some(conns[1])));
    // Several connections: each row says which.
    assert!(
        all.contains(&format!("#35;{} SYN seq=0", conns[1])),
        "{all}"
    );
    // One: no numbers, and fewer lanes.
    assert!(
        one.contains(": SYN seq=0") && !one.contains("#35;"),
        "{one}"
    );
    let lanes = |m: &str| m.lines().filter(|l| l.contains("participant ")).count();
    assert!(lanes(&one) < lanes(&all), "{one}");
    assert_eq!(lanes(&one), 2, "{one}");
}

#[test]
fn hostile_text_stays_text() {
    let mut events = events("close");
    let ts = events[0].ts();
    let nasty = "<script>alert(1)</script>; end\n#x \x1b[2J \"q\" & 'a'";
    events.insert(
        1,
        Event::Call(Box::new(CallEvent {
            ts,
            endpoint: "client".into(),
            call: "write".into(),
            args: nasty.into(),
            result: Some(CallResult::Errno(nasty.into())),
            local: None,
            times: None,
            data: Some(nasty.into()),
        })),
    );
    events.insert(
        1,
        Event::Step(Box::new(StepEvent {
            ts: Timestamp(ts.0),
            index: 1,
            total: 1,
            line: 1,
            narration: Some(Narration {
                en: nasty.into(),
                zh: None,
            }),
        })),
    );
    let o = opts(nasty, None);
    let m = mermaid(&events, &o);
    assert_eq!(mermaid_messages(&m), packets(&events, None));
    assert!(!m.contains("<script>"), "{m}");
    let s = svg(&events, &o);
    assert_eq!(svg_packets(&s), packets(&events, None));
    assert!(!s.contains("<script>"), "{s}");
    let doc = roxmltree::Document::parse(&s).unwrap();
    let title = doc
        .descendants()
        .find(|n| n.has_tag_name("title"))
        .and_then(|n| n.text())
        .unwrap();
    assert!(
        title.starts_with("<script>"),
        "the title reads as written: {title:?}"
    );
}

/// A RST the kernel said why it sent (as root): its arrow says why, in the
/// handout's language.
#[test]
fn a_rst_says_why_in_the_handout() {
    let ev = events("rst-kill-peer");
    let m = mermaid(&ev, &opts("kill-peer", None));
    assert!(
        m.contains("ACK,RST seq=1 ack=25 · closed with unread data"),
        "{m}"
    );
    assert!(m.contains("· data arrived after close"), "{m}");
    let zh = ExportOptions {
        lang: synack::i18n::Lang::Zh,
        ..opts("kill-peer", None)
    };
    let s = svg(&events("rst-refused"), &zh);
    svg_packets(&s);
    assert!(s.contains("· 此端口无人监听"), "{s}");
}

/// A segment the kernel dropped (as root): its arrow ends at a ✗ on the
/// receiver's lane and says why; the kernel's retransmissions say so too,
/// in the handout's language.
#[test]
fn a_dropped_segment_and_a_kernel_retransmission_say_so_in_the_handout() {
    let ev = events("drops-backlog-abort");
    let m = mermaid(&ev, &opts("backlog-abort", None));
    let line = m
        .lines()
        .find(|l| l.contains("accept queue full"))
        .unwrap_or_else(|| panic!("no dropped ACK:\n{m}"));
    assert!(line.contains("-x"), "a cross at the receiver: {line}");
    assert!(
        line.contains("ACK seq=1 ack=1 · ✗ accept queue full"),
        "{line}"
    );
    assert!(m.contains("the kernel resent it"), "{m}");
    let zh = ExportOptions {
        lang: synack::i18n::Lang::Zh,
        ..opts("loss", None)
    };
    let s = svg(&events("drops-loss"), &zh);
    svg_packets(&s);
    assert!(s.contains("内核确认重传"), "{s}");
    // The lab's link dropped it: the receiver's socket filter is the lab's.
    assert!(s.contains("✗ 实验环境的链路规则"), "{s}");
}
