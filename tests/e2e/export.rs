//! Handouts end to end: `synack demo close --export svg|mermaid` with the
//! real binary in a real lab, the file it writes (and refuses to overwrite),
//! and `read --export` of the capture the same demo saved.

use std::path::Path;
use std::time::Duration;

use crate::support::*;

const LIMIT: Duration = Duration::from_secs(45);

/// The packet arrows of a well-formed SVG document.
fn svg_arrows(text: &str) -> usize {
    crate::svg::packet_arrows(&crate::svg::document(text))
}

/// Mermaid messages: `A->>B: …` or `A-x B: …` lines.
fn mermaid_messages(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| {
            let l = l.trim_start();
            !l.starts_with("%%")
                && !l.starts_with("Note ")
                && l.split_once(": ")
                    .is_some_and(|(a, _)| a.contains("->>") || a.contains("-x"))
        })
        .collect()
}

fn run(args: &[&str], dir: &Path) -> Ran {
    let mut cmd = synack();
    cmd.args(args).current_dir(dir);
    run_timeout(&mut cmd, LIMIT)
}

#[test]
fn demo_close_exports_an_svg_file_and_keeps_it() {
    require_capture("demo_close_exports_an_svg_file_and_keeps_it");
    let dir = scratch("export-svg");
    let args = ["demo", "close", "--export", "svg", "--output", "close.svg"];
    let ran = run(&args, &dir);
    assert!(ran.status.success(), "{}\n{}", ran.status, ran.stderr);
    assert!(ran.stdout.is_empty(), "the diagram went to stdout too");
    let file = dir.join("close.svg");
    let svg = std::fs::read_to_string(&file).expect("close.svg written");
    let arrows = svg_arrows(&svg);
    assert!(arrows >= 7, "{arrows} packet arrows in\n{svg}");
    assert!(svg.contains("<title>synack demo close</title>"), "{svg}");

    // Again: the file is kept, and the lab never starts.
    let again = run(&args, &dir);
    assert!(!again.status.success());
    assert!(again.stderr.contains("already exists"), "{}", again.stderr);
    assert!(again.stderr.contains("--force"), "{}", again.stderr);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), svg);

    // With --force it is replaced by the new run's drawing.
    let mut forced = args.to_vec();
    forced.push("--force");
    let ran = run(&forced, &dir);
    assert!(ran.status.success(), "{}", ran.stderr);
    assert!(svg_arrows(&std::fs::read_to_string(&file).unwrap()) >= 7);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn demo_close_prints_a_mermaid_diagram_and_read_draws_its_capture() {
    require_capture("demo_close_prints_a_mermaid_diagram_and_read_draws_its_capture");
    let dir = scratch("export-mermaid");
    let ran = run(
        &[
            "demo",
            "close",
            "--export",
            "mermaid",
            "--write",
            "close.pcap",
        ],
        &dir,
    );
    assert!(ran.status.success(), "{}\n{}", ran.status, ran.stderr);
    let text = &ran.stdout;
    assert!(text.starts_with("sequenceDiagram\n"), "{text}");
    assert!(text.contains("participant client\n"), "{text}");
    assert!(text.contains("participant server\n"), "{text}");
    assert!(text.contains("client->>server: SYN seq=0\n"), "{text}");
    assert!(
        text.contains("server->>client: SYN,ACK seq=0 ack=1\n"),
        "{text}"
    );
    assert!(
        text.contains("Note over client: connect(127.0.0.1:7000) = ok"),
        "{text}"
    );
    assert!(
        text.contains("Note over client: CLOSED → SYN-SENT"),
        "{text}"
    );
    let demo = mermaid_messages(text);
    assert!(demo.len() >= 7, "{text}");

    // The capture of the same run: lanes named by address.
    let read = run(
        &["read", "close.pcap", "--export", "mermaid", "--conn", "1"],
        &dir,
    );
    assert!(read.status.success(), "{}", read.stderr);
    let text = &read.stdout;
    assert!(text.starts_with("sequenceDiagram\n"), "{text}");
    assert!(text.contains("title close.pcap — connection 1"), "{text}");
    assert!(
        text.contains("participant L1 as 127.0.0.1:7000\n"),
        "{text}"
    );
    assert!(text.contains("L0->>L1: SYN seq=0\n"), "{text}");
    assert_eq!(mermaid_messages(text).len(), demo.len(), "{text}");

    // A connection the capture does not have.
    let none = run(
        &["read", "close.pcap", "--export", "svg", "--conn", "9"],
        &dir,
    );
    assert!(!none.status.success());
    assert!(none.stderr.contains("no connection 9"), "{}", none.stderr);
    let _ = std::fs::remove_dir_all(dir);
}
