//! The text of the boxes the ladder makes room for: quiz mode's question
//! and verdict (above the rows) and the explanation of the selected row
//! (below them). Pure: the layout counts these lines, the screen draws them.

use unicode_width::UnicodeWidthStr;

use super::App;
use super::layout::wrap;
use super::quiz::Answer;
use crate::event::{CallResult, Event};
use crate::explain;
use crate::i18n::{Lang, fill, labels};

/// How a line of a box is meant to look.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Look {
    Heading,
    Body,
    Aside,
    Keys,
    Good,
    Bad,
    Unsure,
}

/// Lines of the quiz box for `width` columns of text (empty: no box).
#[must_use]
pub fn quiz_lines(app: &App, width: u16) -> Vec<(String, Look)> {
    let Some(q) = &app.quiz() else {
        return Vec::new();
    };
    let t = labels(app.lang());
    let zh = app.lang() == Lang::Zh;
    let mut out = Vec::new();
    let mut push = |text: &str, look| {
        out.extend(wrap(text, width).into_iter().map(|l| (l, look)));
    };
    if let Some(v) = &q.verdict {
        match &v.truth {
            None => push(&t.quiz_unseen, Look::Unsure),
            Some(truth) if v.right() => {
                push(&fill(&t.quiz_right, &[&truth.describe(zh)]), Look::Good);
            }
            Some(truth) => {
                let chosen = v
                    .question
                    .choices
                    .get(v.chosen)
                    .map(|c| c.describe(zh))
                    .unwrap_or_default();
                push(
                    &fill(&t.quiz_wrong, &[&truth.describe(zh), &chosen]),
                    Look::Bad,
                );
            }
        }
        if let Some(shown) = v.corrected {
            let shown = Answer::State(shown).describe(zh);
            push(&fill(&t.quiz_corrected, &[&shown]), Look::Unsure);
        }
    }
    if let Some(question) = q.current() {
        push(&question.prompt(zh), Look::Heading);
        // The choices side by side when they fit: the ladder stays visible.
        let mut row = String::new();
        for (i, c) in question.choices.iter().enumerate() {
            let item = format!("[{}] {}", i + 1, c.describe(zh));
            if !row.is_empty() && row.width() + 3 + item.width() > usize::from(width) {
                out.push((std::mem::take(&mut row), Look::Keys));
            }
            if !row.is_empty() {
                row.push_str("   ");
            }
            row.push_str(&item);
        }
        if !row.is_empty() {
            out.push((row, Look::Keys));
        }
        out.extend(
            wrap(&fill(&t.quiz_press, &[&question.choices.len()]), width)
                .into_iter()
                .map(|l| (l, Look::Aside)),
        );
    } else if q.watching() {
        out.push((t.quiz_watching.clone(), Look::Aside));
    } else if q.finished() && q.total() > 0 {
        out.push((fill(&t.quiz_over, &[&q.right, &q.asked]), Look::Heading));
    }
    out
}

/// What the row at the moment shown means: the entries of its state,
/// packet kind and notes (a RST's reason first: why the kernel sent it),
/// call and errno, lab action, or the scenario at a step's row.
#[must_use]
pub fn explanations(app: &App) -> Vec<&'static explain::Entry> {
    let lang = app.lang();
    let scenario = || match &app.kind() {
        super::RunKind::Demo { name } => explain::scenario(name, lang),
        _ => None,
    };
    let Some(ev) = app.moment().and_then(|r| app.timeline().get(r)) else {
        return scenario().into_iter().collect();
    };
    let mut out = Vec::new();
    match &*ev {
        Event::Packet(p) => {
            if let Some(why) = &p.rst_reason {
                out.extend(explain::rst_reason(why, lang));
            }
            if let Some(why) = &p.drop_reason {
                out.extend(explain::drop_reason(why, lang));
            }
            if let Some(w) = p.retransmit {
                out.extend(explain::retransmit(w, lang));
            }
            out.extend(explain::packet(p, lang));
            for n in p.notes.names() {
                out.extend(explain::packet_note(n, lang));
            }
        }
        Event::State(s) => out.extend(explain::state(s.to, lang)),
        Event::Check(c) => out.extend(explain::state(c.actual, lang)),
        Event::Call(c) => {
            if let Some(CallResult::Errno(e)) = &c.result {
                out.extend(explain::errno(e, lang));
            }
            out.extend(explain::call(&c.call, lang));
        }
        Event::Lab(l) => out.extend(explain::action(&l.action, lang)),
        Event::Queue(_) => out.extend(explain::topic("backlog", lang)),
        Event::Congestion(c) => {
            out.extend(explain::cong_state(c.state, lang));
            out.extend(explain::topic("congestion-window", lang));
        }
        Event::Step(_) | Event::SocketQueues(_) | Event::Warning { .. } => out.extend(scenario()),
    }
    out
}

/// Lines of the explanation pane for `width` columns (empty: no pane).
#[must_use]
pub fn explain_lines(app: &App, width: u16) -> Vec<(String, Look)> {
    if !app.explain() {
        return Vec::new();
    }
    let meta = explain::meta(app.lang());
    let colon = if app.lang() == Lang::Zh { "：" } else { ": " };
    let mut out = Vec::new();
    // A step's row: that step's own words first (the banner may show a
    // later step's while its rows come in), then what the scenario is.
    if let Some(Event::Step(s)) = app.moment().and_then(|r| app.timeline().get(r)).as_deref() {
        if let Some(n) = &s.narration {
            let t = labels(app.lang());
            out.push((fill(&t.step, &[&s.index, &s.total]), Look::Heading));
            out.extend(
                wrap(n.text(app.lang()), width)
                    .into_iter()
                    .map(|l| (l, Look::Body)),
            );
        }
    }
    for e in explanations(app) {
        out.push((e.title.clone(), Look::Heading));
        out.extend(wrap(&e.what, width).into_iter().map(|l| (l, Look::Body)));
        for (label, text) in [(&meta.why, &e.why), (&meta.todo, &e.todo)] {
            if !text.is_empty() {
                let line = format!("{label}{colon}{text}");
                out.extend(wrap(&line, width).into_iter().map(|l| (l, Look::Aside)));
            }
        }
    }
    out
}
