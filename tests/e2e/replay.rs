//! Session recordings end to end: a demo recorded on the real stack
//! (`--record FILE`) replays to the events it printed, by any user without
//! a lab; the built-in recordings play with no lab at all. The screen's
//! replay is in `tui.rs` (tmux).

use std::process::Command;
use std::time::Duration;

use crate::support::{
    is_root, json_lines, private_synack, require_capture, run_timeout, scratch, synack,
};

const LIMIT: Duration = Duration::from_secs(60);

/// Runs the private binary `exe` with `args` as `nobody` (as root), or as
/// the ordinary user the tests run as.
fn as_nobody(exe: &std::path::Path, args: &str) -> crate::support::Ran {
    let line = format!("{} {args}", exe.display());
    let mut cmd = if is_root() {
        let mut c = Command::new("su");
        c.args(["nobody", "-s", "/bin/sh", "-c", &line]);
        c
    } else {
        let mut c = Command::new("sh");
        c.args(["-c", &line]);
        c
    };
    run_timeout(&mut cmd, LIMIT)
}

#[test]
fn replay_of_a_recorded_demo_prints_what_the_demo_printed_for_anyone() {
    require_capture("replay_of_a_recorded_demo_prints_what_the_demo_printed_for_anyone");
    let dir = scratch("replay-json");
    let _ = Command::new("chmod").arg("755").arg(&dir).status();
    let file = dir.join("kill-peer.synack");
    let demo = run_timeout(
        synack()
            .args(["demo", "kill-peer", "--json", "--record"])
            .arg(&file),
        LIMIT,
    );
    assert!(demo.status.success(), "demo failed:\n{}", demo.stderr);
    // The live run keeps the rules (json_lines checks them).
    let live = json_lines(&demo.stdout);
    assert!(
        live.iter().any(|e| e["kind"] == "packet"),
        "{}",
        demo.stdout
    );
    // The file: a header, then the events with each packet's bytes.
    let text = std::fs::read_to_string(&file).expect("the recording");
    let header: serde_json::Value =
        serde_json::from_str(text.lines().next().unwrap()).expect("a JSON header");
    assert_eq!(header["format"], "synack-recording", "{header}");
    assert_eq!(header["version"], 1);
    assert_eq!(header["source"]["kind"], "demo");
    assert_eq!(header["source"]["name"], "kill-peer");
    assert!(header["kernel"].as_str().is_some_and(|k| !k.is_empty()));
    assert!(text.contains("\"raw\":{"), "packets without their bytes");
    // --record never replaces a file.
    let again = run_timeout(
        synack()
            .args(["demo", "kill-peer", "--json", "--record"])
            .arg(&file),
        LIMIT,
    );
    assert!(!again.status.success());
    assert!(again.stderr.contains("already exists"), "{}", again.stderr);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), text);

    // Replayed by nobody, with no lab: the same lines, byte for byte, and
    // the same rules kept.
    let exe = private_synack("replay-json");
    let _ = Command::new("chmod").arg("644").arg(&file).status();
    let replay = as_nobody(&exe, &format!("replay {} --json", file.display()));
    assert!(replay.status.success(), "replay failed:\n{}", replay.stderr);
    assert_eq!(
        replay.stdout, demo.stdout,
        "replay --json differs from the demo's"
    );
    json_lines(&replay.stdout);
    assert!(
        replay.stderr.contains("demo kill-peer, recorded on Linux"),
        "{}",
        replay.stderr
    );
    // --text says where and when it was recorded, first.
    let text_out = as_nobody(&exe, &format!("replay {} --text", file.display()));
    assert!(text_out.status.success(), "{}", text_out.stderr);
    let first = text_out.stdout.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("# synack replay: demo kill-peer, recorded on Linux "),
        "{first}"
    );
    assert!(
        text_out.stdout.contains("kill(client)"),
        "{}",
        text_out.stdout
    );

    // A damaged copy names the line, and nothing panics.
    let cut = dir.join("cut.synack");
    let keep: Vec<&str> = text.lines().take(20).collect();
    std::fs::write(
        &cut,
        format!("{}\n{}", keep.join("\n"), "{\"Packet\":{\"seg"),
    )
    .unwrap();
    let bad = run_timeout(synack().arg("replay").arg(&cut).arg("--json"), LIMIT);
    assert_eq!(bad.status.code(), Some(1), "{}", bad.stderr);
    assert!(
        bad.stderr.contains("cut.synack:21:") && bad.stderr.contains("cut short"),
        "{}",
        bad.stderr
    );
    assert!(!bad.stderr.contains("panicked"), "{}", bad.stderr);
}

#[test]
fn built_in_recordings_play_as_an_ordinary_user_with_no_lab() {
    let exe = private_synack("replay-builtin");
    let run = as_nobody(&exe, "replay handshake --text");
    assert!(run.status.success(), "{}\n{}", run.stderr, run.stdout);
    let first = run.stdout.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("# synack replay: demo handshake, recorded on Linux ")
            && first.contains(" on 20"),
        "{first}"
    );
    for needle in [
        "[SYN]",
        "[SYN,ACK]",
        "SYN-SENT → ESTABLISHED",
        "connect(127.0.0.1:7000) = ok",
    ] {
        assert!(
            run.stdout.contains(needle),
            "no `{needle}`:\n{}",
            run.stdout
        );
    }
    // Its events keep the rules, as a live run's do.
    let json = as_nobody(&exe, "replay handshake --json");
    assert!(json.status.success(), "{}", json.stderr);
    json_lines(&json.stdout);
    // An unknown name lists the recordings there are.
    let none = as_nobody(&exe, "replay no-such-lesson --text");
    assert!(!none.status.success());
    assert!(
        none.stderr.contains("no scenario called no-such-lesson")
            && none.stderr.contains("kill-peer"),
        "{}",
        none.stderr
    );
}
