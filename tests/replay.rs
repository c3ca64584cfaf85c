//! The model on recorded runs: every fixture in tests/fixtures/*.inputs (what
//! the sources gave the model in a real run: packets, sock_diag snapshots,
//! tracepoint transitions, the lab's calls) is replayed and its events, as
//! `--json` prints them, compared with a reviewed golden copy
//! (tests/snapshots/replay__NAME.snap). A change to the model that changes
//! what a user sees shows up here as a diff to read.
//!
//! Record one: `synack demo NAME --json --record-inputs tests/fixtures/NAME.inputs`
//! (as root for the tracepoint; as an ordinary user for the rootless lab), or
//! `synack read FILE --json --record-inputs …`.

use std::path::Path;

use synack::event::Event;
use synack::i18n::Lang;
use synack::model::Input;
use synack::output::json_line;

#[path = "common/fixtures.rs"]
mod fixtures;
use fixtures::{fixtures, inputs, replay, replayed};

/// The rules of `synack::model::rules` the events break.
fn rules(events: &[Event]) -> Vec<String> {
    let t0 = events.first().map_or(synack::time::Timestamp(0), Event::ts);
    synack::model::rules::violations(&synack::model::rules::lines_of(events, t0))
}

/// The events as `--json` lines.
fn json_lines(events: &[Event]) -> String {
    let t0 = events
        .iter()
        .find(|e| !matches!(e, Event::Step(s) if s.narration.is_none()));
    let t0 = t0.map_or(synack::time::Timestamp(0), Event::ts);
    let mut out = String::new();
    for e in events {
        if matches!(e, Event::Step(s) if s.narration.is_none())
            || matches!(e, Event::Lab(l) if l.action == synack::event::LabAction::Closing)
        {
            continue;
        }
        json_line(&mut out, e.ts().seconds_since(t0), e, Lang::En);
        out.push('\n');
    }
    out
}

#[test]
fn every_recorded_run_replays_to_its_golden_events() {
    for path in fixtures() {
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let events = replay(&path);
        insta::assert_snapshot!(name, json_lines(&events));
    }
}

/// Invariants any run keeps, whatever the golden copy says.
#[test]
fn every_packet_is_shown_once_and_events_keep_time_order_per_socket() {
    for path in fixtures() {
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let inputs = inputs(&path);
        let events = replay(&path);
        // Packets before the lab's teardown are shown, each once.
        let closing = events.iter().position(
            |e| matches!(e, Event::Lab(l) if l.action == synack::event::LabAction::Closing),
        );
        let segments = inputs
            .iter()
            .take_while(|i| {
                !matches!(i, Input::Event(Event::Lab(l)) if l.action == synack::event::LabAction::Closing)
            })
            .filter(|i| matches!(i, Input::Segment { .. }))
            .count();
        let packets = events
            .iter()
            .take(closing.unwrap_or(events.len()))
            .filter(|e| matches!(e, Event::Packet(_)))
            .count();
        assert_eq!(packets, segments, "{name}: packets in, packets shown");
        // The rules every run keeps (one path per socket, TIME-WAIT after
        // the peer's FIN, the kernel's timers, time order).
        let broken = rules(&events);
        assert!(broken.is_empty(), "{name}:\n{}", broken.join("\n"));
        // Time never goes back, and what a packet caused comes after it: an
        // inferred change after a packet of its connection; a passive open
        // (LISTEN → SYN-RECEIVED) right after the SYN that caused it, before
        // the SYN-ACK (RFC 9293 §3.10.7.2).
        let mut last_packet: std::collections::HashMap<_, &synack::event::PacketEvent> =
            std::collections::HashMap::new();
        for (i, pair) in events.windows(2).enumerate() {
            assert!(
                pair[0].ts() <= pair[1].ts(),
                "{name}: event {} goes back in time: {:?} then {:?}",
                i + 1,
                pair[0],
                pair[1]
            );
        }
        for e in &events {
            match e {
                Event::Packet(p) => {
                    last_packet.insert(p.conn, p.as_ref());
                }
                Event::State(s) if s.conn.is_some() => {
                    let before = s.conn.and_then(|c| last_packet.get(&c));
                    if s.source == synack::event::StateSource::Inferred {
                        assert!(
                            before.is_some(),
                            "{name}: inferred {s:?} before any packet of its connection"
                        );
                    }
                    let passive = s.to == synack::tcp::TcpState::SynReceived
                        && s.from.is_none_or(|f| f == synack::tcp::TcpState::Listen);
                    if passive {
                        let syn = before.is_some_and(|p| {
                            p.segment.dst == s.local
                                && p.segment
                                    .tcp
                                    .is_some_and(|h| h.flags.syn() && !h.flags.ack())
                        });
                        assert!(
                            syn,
                            "{name}: {s:?} should come right after the SYN that caused it; the packet before it is {before:?}"
                        );
                    }
                }
                _ => {}
            }
        }
        // A listener's queue line never repeats its last one word for word
        // (time-wait's recording had its listener missed by a walk and met
        // again, and printed the same line twice).
        let mut queue_shown = std::collections::HashMap::new();
        for e in &events {
            match e {
                Event::State(s) if s.remote.is_none() => {
                    queue_shown.remove(&s.local);
                }
                Event::Queue(q) => {
                    let now = (q.accept_queue, q.backlog, q.overflows, q.drops);
                    assert_ne!(
                        queue_shown.insert(q.local, now),
                        Some(now),
                        "{name}: the queue line of {} at {:?} repeats the one before",
                        q.local,
                        q.ts
                    );
                }
                _ => {}
            }
        }
    }
}

/// The recorded flood (tests/fixtures/load/watch-flood.inputs.gz: `synack
/// watch --record-inputs` of 0.3 s of `examples/loadgen`, as root), replayed. Its
/// events are too many for a golden copy; what a user would check is: every
/// packet shown once, each socket's states continuing one another, the
/// kernel's word on nearly every change, and a summary that stays the same.
#[test]
fn the_recorded_flood_replays_whole_and_the_same() {
    use std::collections::BTreeMap;
    use std::io::{BufRead, BufReader};
    use synack::event::StateSource;

    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/load/watch-flood.inputs.gz");
    let file = std::fs::File::open(&path).expect("the recorded flood");
    let inputs: Vec<Input> = BufReader::new(flate2::read::GzDecoder::new(file))
        .lines()
        .map(|l| serde_json::from_str(&l.expect("a line")).expect("an input"))
        .collect();
    let segments = inputs
        .iter()
        .filter(|i| matches!(i, Input::Segment { .. }))
        .count();
    let mut model = synack::model::Model::new();
    let mut events = Vec::new();
    for i in inputs {
        model.ingest(i, &mut events);
    }
    model.finish(&mut events);

    let packets = events
        .iter()
        .filter(|e| matches!(e, Event::Packet(_)))
        .count();
    assert_eq!(packets, segments, "packets in, packets shown");
    let broken = rules(&events);
    assert!(
        broken.is_empty(),
        "{} broken rules, the first: {:#?}",
        broken.len(),
        &broken[..broken.len().min(10)]
    );
    let mut summary: BTreeMap<String, usize> = BTreeMap::new();
    for e in &events {
        let kind = match e {
            Event::Packet(_) => "packet".to_owned(),
            Event::State(s) => format!("state {:?} → {}", s.source, s.to),
            Event::Check(c) => format!(
                "check {} {}",
                if c.withdraws() {
                    "withdrawn"
                } else {
                    "confirmed"
                },
                c.shown
            ),
            Event::Warning { message, .. } => format!("warning: {message}"),
            Event::Queue(_) => "listener queue".to_owned(),
            Event::SocketQueues(_) => "socket queues".to_owned(),
            Event::Congestion(c) => format!("congestion {} {}", c.source.as_str(), c.state.name()),
            Event::Call(_) | Event::Lab(_) | Event::Step(_) => "lab".to_owned(),
        };
        *summary.entry(kind).or_default() += 1;
    }
    // Under the flood the polls that see TIME-WAIT come late, and the holds
    // are cut short by count: an inferred TIME-WAIT then shows first, and
    // the kernel's word on it follows. It must follow for every one.
    let time_wait = |source: StateSource| -> std::collections::HashSet<_> {
        events
            .iter()
            .filter_map(|e| match e {
                Event::State(s)
                    if s.source == source && s.to == synack::tcp::TcpState::TimeWait =>
                {
                    Some((s.local, s.remote))
                }
                // The kernel's word after the inferred TIME-WAIT was shown.
                Event::Check(c)
                    if source == StateSource::Kernel
                        && !c.withdraws()
                        && c.shown == synack::tcp::TcpState::TimeWait =>
                {
                    Some((c.local, c.remote))
                }
                _ => None,
            })
            .collect()
    };
    let unconfirmed: Vec<_> = time_wait(StateSource::Inferred)
        .difference(&time_wait(StateSource::Kernel))
        .copied()
        .collect();
    assert!(
        unconfirmed.is_empty(),
        "inferred TIME-WAIT the kernel never reported: {unconfirmed:?}"
    );
    let text: String = summary
        .iter()
        .map(|(k, n)| format!("{n:>7} {k}\n"))
        .collect();
    insta::assert_snapshot!("watch-flood-summary", text);
}

/// Quiz mode on recorded runs: the class answers the first choice each time;
/// the verdicts come from the events of each step, as on screen. What the
/// real stack did is the answer: close sends FIN, a killed process with
/// unread data makes its kernel send RST, read after FIN returns 0 …
#[test]
fn quiz_answers_come_from_what_the_recorded_run_did() {
    use synack::app::quiz::{Answer, Quiz, questions};
    use synack::tcp::TcpState;

    // The verdicts of a recorded run (`file`) of scenario `name`.
    let judge_file = |file: &str, name: &str| -> Vec<(String, Option<Answer>)> {
        let s = synack::lab::scenarios()
            .iter()
            .find(|s| s.name == name)
            .expect("scenario");
        let script = synack::lab::parse(name, s.text).expect("script");
        let events = replayed(file);
        let mut quiz = Quiz::new(questions(&script));
        let mut verdicts = Vec::new();
        let mut last = None;
        for ev in &events {
            // The class answers before the step runs; time passes as in the run.
            if let Event::Step(_) = ev {
                if quiz.current().is_some() {
                    assert!(quiz.answer(0));
                }
            }
            quiz.tick(ev.ts());
            quiz.observe(std::slice::from_ref(ev));
            if let Some(v) = &quiz.verdict {
                if last.as_ref() != Some(v) {
                    verdicts.push((v.question.action.clone(), v.truth.clone()));
                    last = Some(v.clone());
                }
            }
        }
        // The screen's clock goes on after the run: what waited is judged.
        let end = events.last().map_or(0, |e| e.ts().0);
        quiz.tick(synack::time::Timestamp(end + 2_000_000_000));
        if let Some(v) = &quiz.verdict {
            if last.as_ref() != Some(v) {
                verdicts.push((v.question.action.clone(), v.truth.clone()));
            }
        }
        verdicts
    };
    let judge = |name: &str| judge_file(name, name);

    let close = judge("close");
    assert_eq!(
        close,
        [
            (
                "server listen".into(),
                Some(Answer::State(TcpState::Listen))
            ),
            ("client connect".into(), Some(Answer::Syn)),
            ("server accept".into(), Some(Answer::Connection)),
            ("client close".into(), Some(Answer::Fin)),
            ("server read".into(), Some(Answer::Eof)),
            // The second close asks close's lesson: who ends in TIME-WAIT?
            ("server close".into(), Some(Answer::End("client".into()))),
        ]
    );
    // The end that closed first, whichever it is.
    for (name, action, who) in [
        (
            "time-wait",
            "client close",
            Some(Answer::End("server".into())),
        ),
        (
            "half-close",
            "server close",
            Some(Answer::End("client".into())),
        ),
        ("loss", "server close", Some(Answer::End("client".into()))),
        (
            "congestion",
            "server close",
            Some(Answer::End("client".into())),
        ),
        (
            "shared-fd",
            "client close",
            Some(Answer::End("server".into())),
        ),
    ] {
        let verdicts = judge(name);
        assert!(
            verdicts.contains(&(action.into(), who.clone())),
            "{name}: {verdicts:?}"
        );
    }
    // In the handshake accept() comes first: it waits for the handshake.
    let handshake = judge("handshake");
    assert!(
        handshake.contains(&("server accept".into(), Some(Answer::Blocks))),
        "{handshake:?}"
    );
    let kill = judge("kill-peer");
    let of = |action: &str| -> Vec<Option<Answer>> {
        kill.iter()
            .filter(|(a, _)| a == action)
            .map(|(_, t)| t.clone())
            .collect()
    };
    assert_eq!(of("kill client"), [Some(Answer::Fin)], "{kill:?}");
    assert_eq!(of("kill client2"), [Some(Answer::Rst)], "{kill:?}");
    assert_eq!(
        of("server read"),
        [
            Some(Answer::Bytes),
            Some(Answer::Eof),
            Some(Answer::Errno("ECONNRESET"))
        ],
        "{kill:?}"
    );
    assert_eq!(
        of("server write"),
        [
            Some(Answer::Success),
            Some(Answer::Errno("EPIPE")),
            Some(Answer::Success),
            Some(Answer::Errno("EPIPE"))
        ],
        "{kill:?}"
    );
    // Non-blocking: what each call returns when it may not wait.
    for name in ["nonblocking", "rootless-nonblocking"] {
        let nb = judge_file(name, "nonblocking");
        assert_eq!(
            nb,
            [
                (
                    "server listen".into(),
                    Some(Answer::State(TcpState::Listen))
                ),
                ("server accept".into(), Some(Answer::Errno("EAGAIN"))),
                ("client connect".into(), Some(Answer::Errno("EINPROGRESS"))),
                ("client poll out".into(), Some(Answer::Ready)),
                ("client getsockopt error".into(), Some(Answer::NoError)),
                ("server accept".into(), Some(Answer::Connection)),
                ("server read".into(), Some(Answer::Errno("EAGAIN"))),
                // `+ client write` runs at once after the read: not asked.
                ("server close".into(), Some(Answer::Fin)),
                ("client poll in".into(), Some(Answer::Ready)),
                ("client read".into(), Some(Answer::Eof)),
                // The connection's second close: the server closed first.
                ("client close".into(), Some(Answer::End("server".into()))),
            ],
            "{name}"
        );
    }
    // A select with a timeout: 0 when nothing came, then 1.
    let sel = judge("select");
    let selects: Vec<_> = sel
        .iter()
        .filter(|(a, _)| a == "client2 select in 1s")
        .collect();
    assert_eq!(
        selects,
        [
            &("client2 select in 1s".to_owned(), Some(Answer::TimedOut)),
            &("client2 select in 1s".to_owned(), Some(Answer::Ready))
        ],
        "{sel:?}"
    );
    // The read blocks; the reboot (`+ kill server`, chained to the cut)
    // runs at once, so nobody is asked about it.
    let reboot = judge("keepalive-reboot");
    assert!(
        reboot.contains(&("client read".into(), Some(Answer::Blocks)))
            && !reboot.iter().any(|(a, _)| a == "kill server"),
        "{reboot:?}"
    );
    // The read after a peek gets bytes.
    let peek = judge("peek");
    assert!(
        peek.contains(&("server recv peek 4".into(), Some(Answer::Bytes)))
            && peek.contains(&("server read".into(), Some(Answer::Bytes))),
        "{peek:?}"
    );
}
