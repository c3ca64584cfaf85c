//! The explanations cover everything synack can show: every name the code can
//! emit has a non-empty entry in English and in Chinese (and the Chinese one is
//! Chinese). The lists come from the code itself, so a new state, note, call,
//! errno, lab action or scenario without its explanation fails here; the
//! reasons for a reset come from the kernel's own format file of
//! `tcp:tcp_send_reset` (tests/fixtures/kernel/). Also the `synack explain`
//! command, run as a real binary.

use std::process::Command;
use std::time::Duration;

use synack::event::LabAction;
use synack::explain::{self, Entry, Kind};
use synack::i18n::Lang;
use synack::lab::peer::{ERRNO_NAMES, REPORTED_CALLS, REPORTED_FLAGS};
use synack::lab::script::{CALL_NAMES, SockOpt};
use synack::tcp::TcpState;
use synack::tcp::state::Note;
use synack::tcp::track::Notes;

#[path = "common/kernel_bytes.rs"]
mod kernel_bytes;

const LANGS: [Lang; 2] = [Lang::En, Lang::Zh];

fn is_cjk(c: char) -> bool {
    matches!(c, '\u{4e00}'..='\u{9fff}' | '\u{3400}'..='\u{4dbf}')
}

/// The entry is there and says something in that language.
fn check(what: &str, entry: Option<&Entry>, lang: Lang) -> Vec<String> {
    let Some(e) = entry else {
        return vec![format!("{what}: no {} entry", lang.code())];
    };
    let mut bad = Vec::new();
    if e.title.trim().is_empty() || e.what.trim().is_empty() {
        bad.push(format!("{what}: empty title or what ({})", lang.code()));
    }
    if lang == Lang::Zh && !(e.title.chars().any(is_cjk) && e.what.chars().any(is_cjk)) {
        bad.push(format!("{what}: the Chinese entry has no Chinese in it"));
    }
    bad
}

fn covered(what: &str, lookup: impl Fn(Lang) -> Option<&'static Entry>) -> Vec<String> {
    LANGS
        .into_iter()
        .flat_map(|lang| check(what, lookup(lang), lang))
        .collect()
}

fn assert_none_missing(missing: &[String]) {
    assert!(
        missing.is_empty(),
        "missing explanations:\n  {}",
        missing.join("\n  ")
    );
}

#[test]
fn every_state_is_explained() {
    let missing: Vec<_> = TcpState::ALL
        .iter()
        .flat_map(|&s| covered(s.as_str(), |l| explain::state(s, l)))
        .collect();
    assert_none_missing(&missing);
}

#[test]
fn every_packet_kind_is_explained() {
    let missing: Vec<_> = explain::PACKET_KINDS
        .iter()
        .flat_map(|&k| covered(k, |l| explain::get(Kind::Packet, k, l)))
        .collect();
    assert_none_missing(&missing);
}

#[test]
fn every_note_is_explained() {
    let mut missing: Vec<_> = Notes::NAMES
        .iter()
        .flat_map(|&(_, name)| covered(name, |l| explain::packet_note(name, l)))
        .collect();
    missing.extend(
        Note::ALL
            .iter()
            .flat_map(|&n| covered(n.key(), |l| explain::state_note(n, l))),
    );
    assert_none_missing(&missing);
}

#[test]
fn every_call_and_option_is_explained() {
    // What a script can say, and what a peer can report (call names, and
    // the flags and options their args name).
    let mut missing: Vec<_> = CALL_NAMES
        .iter()
        .chain(&REPORTED_CALLS)
        .chain(&REPORTED_FLAGS)
        .flat_map(|&c| covered(c, |l| explain::call(c, l)))
        .collect();
    for (script_name, opt) in SockOpt::ALL {
        missing.extend(covered(opt.c_name(), |l| explain::call(opt.c_name(), l)));
        // The name a script uses finds the same entry.
        assert_eq!(
            explain::canonical(Kind::Call, script_name),
            explain::canonical(Kind::Call, opt.c_name()),
            "{script_name}"
        );
    }
    assert_none_missing(&missing);
}

#[test]
fn every_errno_a_peer_names_is_explained() {
    let mut missing: Vec<_> = ERRNO_NAMES
        .iter()
        .flat_map(|&(_, name)| covered(name, |l| explain::errno(name, l)))
        .collect();
    missing.extend(covered("EWOULDBLOCK", |l| explain::errno("EWOULDBLOCK", l)));
    assert_none_missing(&missing);
}

/// Every reason the kernel names in its format file (but `MAX`, the enum's
/// end, never sent) is explained, and has its few words for the ladder, in
/// both languages.
#[test]
fn every_reset_reason_the_kernel_names_is_explained() {
    let layout = synack::kernel::trace::ResetLayout::parse(kernel_bytes::RESET_FORMAT)
        .expect("the kernel's format parses");
    let names: Vec<&str> = layout
        .names()
        .iter()
        .map(|(_, n)| n.as_str())
        .filter(|n| *n != "MAX")
        .collect();
    assert!(names.len() >= 24, "{names:?}");
    let mut missing: Vec<_> = names
        .iter()
        .flat_map(|&n| covered(n, |l| explain::rst_reason(n, l)))
        .collect();
    for &n in &names {
        for lang in LANGS {
            if synack::i18n::rst_words(lang, n).is_none_or(|w| w.trim().is_empty()) {
                missing.push(format!("{n}: no words in assets/i18n/{}.toml", lang.code()));
            }
        }
    }
    // Nothing explained that the kernel does not name.
    for key in explain::keys(Kind::Rst) {
        if !names.contains(&key) {
            missing.push(format!("rst:{key} is not a reason of the kernel's format"));
        }
    }
    assert_none_missing(&missing);
    assert_eq!(
        explain::canonical(Kind::Rst, "sk_rst_reason_no_socket"),
        Some("NO_SOCKET")
    );
}

/// Every congestion state synack names (the kernel's documented
/// `enum tcp_ca_state`) is explained in both languages, with the topic a
/// congestion row also shows, and nothing else is under `cong`.
#[test]
fn every_congestion_state_is_explained() {
    use synack::event::CaState;
    let mut missing: Vec<String> = CaState::NAMED
        .into_iter()
        .flat_map(|s| covered(&s.name(), |l| explain::cong_state(s, l)))
        .collect();
    missing.extend(covered("topic:congestion-window", |l| {
        explain::topic("congestion-window", l)
    }));
    let names: Vec<String> = CaState::NAMED
        .iter()
        .map(|s| s.name().into_owned())
        .collect();
    for key in explain::keys(Kind::Cong) {
        if !names.iter().any(|n| n == key) {
            missing.push(format!("cong:{key} is no congestion state"));
        }
    }
    // Every value the kernel's tracepoint can print is named, in order.
    for (n, s) in CaState::NAMED.into_iter().enumerate() {
        assert_eq!(CaState::from_kernel(n as u8), s);
    }
    assert_none_missing(&missing);
    assert_eq!(
        explain::canonical(Kind::Cong, "tcp_ca_recovery"),
        Some("Recovery")
    );
}

/// Every reason the kernel names for a drop in its format file of
/// `skb:kfree_skb` (but `MAX`, the enum's end) is explained, and has its
/// few words for the ladder, in both languages; and so is what the kernel
/// says of a retransmission.
#[test]
fn every_drop_reason_the_kernel_names_is_explained() {
    let layout = synack::kernel::trace::DropLayout::parse(kernel_bytes::DROP_FORMAT)
        .expect("the kernel's format parses");
    let names: Vec<&str> = layout
        .names()
        .all()
        .iter()
        .map(|(_, n)| &**n)
        .filter(|n| *n != "MAX")
        .collect();
    assert!(names.len() >= 128, "{names:?}");
    let mut missing: Vec<_> = names
        .iter()
        .flat_map(|&n| covered(n, |l| explain::drop_reason(n, l)))
        .collect();
    for &n in &names {
        for lang in LANGS {
            if synack::i18n::drop_words(lang, n).is_none_or(|w| w.trim().is_empty()) {
                missing.push(format!(
                    "{n}: no drop words in assets/i18n/{}.toml",
                    lang.code()
                ));
            }
        }
    }
    for key in explain::keys(Kind::Drop) {
        if !names.contains(&key) {
            missing.push(format!("drop:{key} is not a reason of the kernel's format"));
        }
    }
    for w in [
        synack::event::RetransmitWitness::Kernel,
        synack::event::RetransmitWitness::InferredOnly,
    ] {
        missing.extend(covered(w.as_str(), |l| explain::retransmit(w, l)));
    }
    assert_none_missing(&missing);
    assert_eq!(
        explain::canonical(Kind::Drop, "skb_drop_reason_tcp_listen_overflow"),
        Some("TCP_LISTEN_OVERFLOW")
    );
    // The lab's own loss says it is the lab's.
    let filter = explain::drop_reason("SOCKET_FILTER", Lang::En).expect("explained");
    assert!(filter.what.contains("lab"), "{}", filter.what);
}

#[test]
fn every_lab_action_is_explained() {
    let examples = [
        LabAction::Sleep(Duration::from_millis(200)),
        LabAction::Sysctl {
            name: "net.ipv4.tcp_abort_on_overflow".into(),
            value: "1".into(),
        },
        LabAction::LinkCut { only: None },
        LabAction::LinkRestored {
            only: Some("client2".into()),
        },
        LabAction::Kill {
            endpoint: "client".into(),
        },
        LabAction::Ended,
        LabAction::Closing,
    ];
    for a in &examples {
        assert!(LabAction::KINDS.contains(&a.kind()), "{a:?}");
    }
    let mut missing: Vec<_> = LabAction::KINDS
        .iter()
        .flat_map(|&k| covered(k, |l| explain::get(Kind::Action, k, l)))
        .collect();
    missing.extend(
        examples
            .iter()
            .flat_map(|a| covered(a.kind(), |l| explain::action(a, l))),
    );
    assert_none_missing(&missing);
}

#[test]
fn every_scenario_is_explained() {
    let missing: Vec<_> = synack::lab::scenarios()
        .iter()
        .map(|s| s.name)
        .flat_map(|name| covered(name, |l| explain::scenario(name, l)))
        .collect();
    assert_none_missing(&missing);
}

#[test]
fn the_syllabus_topics_are_explained() {
    let topics = [
        "handshake",
        "backlog",
        "time-wait",
        "half-close",
        "four-way-close",
        "keepalive",
        "shared-fd",
        "server-designs",
        "tcp-options",
        "ipv6",
        "tcp-vs-udp",
        "msg-oob",
        "byte-order",
        "nonblocking",
        "heartbeat",
    ];
    let missing: Vec<_> = topics
        .iter()
        .flat_map(|&t| covered(t, |l| explain::topic(t, l)))
        .collect();
    assert_none_missing(&missing);
}

#[test]
fn every_entry_is_complete_in_both_languages() {
    let mut missing = Vec::new();
    for kind in Kind::ALL {
        for key in explain::keys(kind) {
            let what = format!("{}:{key}", kind.as_str());
            missing.extend(covered(&what, |l| explain::get(kind, key, l)));
            // A field said in English is said in Chinese too, and the other way.
            let (en, zh) = (
                explain::get(kind, key, Lang::En).unwrap(),
                explain::get(kind, key, Lang::Zh).unwrap(),
            );
            for (field, a, b) in [("why", &en.why, &zh.why), ("do", &en.todo, &zh.todo)] {
                if a.is_empty() != b.is_empty() {
                    missing.push(format!("{what}: `{field}` in one language only"));
                }
                if !b.is_empty() && !b.chars().any(is_cjk) {
                    missing.push(format!("{what}: `{field}` in zh has no Chinese"));
                }
            }
        }
    }
    assert_none_missing(&missing);
}

fn synack(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_synack"))
        .args(args)
        .env("LANG", "C")
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .output()
        .expect("synack runs")
}

#[test]
fn explain_prints_chinese_when_asked() {
    let out = synack(&["explain", "time-wait", "--lang", "zh"]);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("TIME-WAIT"), "{text}");
    assert!(text.contains("2MSL") && text.chars().any(is_cjk), "{text}");
}

#[test]
fn explain_examples_work() {
    for (args, want) in [
        (&["explain", "ECONNRESET"][..], "ECONNRESET"),
        (&["explain", "backlog"][..], "accept queue"),
        (&["explain", "--lang", "zh", "syn"][..], "三次握手"),
        (&["explain", "state:syn_sent"][..], "SYN-SENT"),
        (&["explain", "NO_SOCKET"][..], "[rst:NO_SOCKET]"),
        (&["explain", "rst:no_socket"][..], "nobody listens"),
        (
            &["explain", "--lang", "zh", "rst:TCP_ABORT_ON_CLOSE"][..],
            "未读数据",
        ),
    ] {
        let out = synack(args);
        assert!(out.status.success(), "{args:?}: {out:?}");
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains(want), "{args:?}: {text}");
    }
    let out = synack(&["explain"]);
    let text = String::from_utf8(out.stdout).unwrap();
    for heading in ["TCP states", "Packets", "Errors", "Scenarios", "Topics"] {
        assert!(text.contains(heading), "{text}");
    }
    assert!(
        text.contains("FIN-WAIT-2") && text.contains("EADDRINUSE"),
        "{text}"
    );
}

#[test]
fn explain_of_an_unknown_name_fails_with_close_matches() {
    let out = synack(&["explain", "nosuch"]);
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("nosuch") && err.contains("synack explain"),
        "{err}"
    );
    let out = synack(&["explain", "ECONNRESTE"]);
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("errno:ECONNRESET"), "{err}");
}

/// `synack explain` names the scenarios in the order `synack list` does.
#[test]
fn explain_lists_scenarios_in_the_order_of_list() {
    let list = synack(&["list"]);
    assert!(list.status.success());
    let listed: Vec<String> = String::from_utf8_lossy(&list.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("  "))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect();
    let out = synack(&["explain"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let section = text
        .split("(scenario):")
        .nth(1)
        .unwrap_or_else(|| panic!("no scenario section:\n{text}"));
    let explained: Vec<String> = section
        .lines()
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .flat_map(|l| l.split_whitespace())
        .map(str::to_owned)
        .collect();
    assert_eq!(explained, listed);
}
