//! synack's notes against tshark's TCP analysis, frame by frame, on the
//! captures in tests/fixtures/loss (made by make.sh there). Used by
//! tests/loss.rs (tshark's recorded output) and the e2e tests (tshark run
//! now).

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

/// The captures, without `.pcap`.
pub const CAPTURES: [&str; 7] = [
    "bulk",
    "gaps",
    "gaps-chat",
    "reorder",
    "spurious",
    "zero-window",
    "keepalive",
];

/// The fields expect.sh asks tshark for, in its order.
pub const TSHARK_FIELDS: [&str; 21] = [
    "frame.number",
    "tcp.analysis.retransmission",
    "tcp.analysis.fast_retransmission",
    "tcp.analysis.spurious_retransmission",
    "tcp.analysis.out_of_order",
    "tcp.analysis.lost_segment",
    "tcp.analysis.ack_lost_segment",
    "tcp.analysis.duplicate_ack",
    "tcp.analysis.duplicate_ack_num",
    "tcp.analysis.duplicate_ack_frame",
    "tcp.analysis.window_full",
    "tcp.analysis.zero_window",
    "tcp.analysis.zero_window_probe",
    "tcp.analysis.zero_window_probe_ack",
    "tcp.analysis.window_update",
    "tcp.analysis.keep_alive",
    "tcp.analysis.keep_alive_ack",
    "tcp.options.sack_le",
    "tcp.options.sack_re",
    "tcp.options.sack.dsack_le",
    "tcp.options.sack.dsack_re",
];

/// tshark's expert flags and the contract's note for each.
const NOTE_OF: [(&str, &str); 13] = [
    ("fast_retransmission", "fast_retransmission"),
    ("spurious_retransmission", "spurious_retransmission"),
    ("out_of_order", "out_of_order"),
    ("lost_segment", "previous_segment_not_captured"),
    ("ack_lost_segment", "acked_unseen_segment"),
    ("duplicate_ack", "dup_ack"),
    ("window_full", "window_full"),
    ("zero_window", "zero_window"),
    ("zero_window_probe", "zero_window_probe"),
    ("zero_window_probe_ack", "zero_window_probe_ack"),
    ("window_update", "window_update"),
    ("keep_alive", "keepalive"),
    ("keep_alive_ack", "keepalive_ack"),
];

/// What one frame was found to be.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Frame {
    pub notes: BTreeSet<String>,
    /// (which duplicate, of which frame) on a duplicate ACK.
    pub dup_ack: Option<(u64, u64)>,
    /// `sack=L-R` / `dsack=L-R`, relative, in the order on the wire.
    pub sack: Vec<String>,
}

pub fn fixture(name: &str, ext: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/loss")
        .join(format!("{name}.{ext}"))
}

/// Frames from tshark's `-T fields -E header=y` output with [`TSHARK_FIELDS`].
/// tshark adds "retransmission" to fast and spurious ones as well; the
/// contract gives a frame one kind, the most specific.
pub fn tshark_frames(text: &str) -> Vec<Frame> {
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("a header line").split('\t').collect();
    assert_eq!(header, TSHARK_FIELDS, "the fields expect.sh records");
    let mut frames = Vec::new();
    for (i, line) in lines.enumerate() {
        let cols: Vec<&str> = line.split('\t').collect();
        let get = |name: &str| {
            let at = header.iter().position(|h| *h == name).unwrap();
            cols.get(at).copied().unwrap_or("")
        };
        assert_eq!(get("frame.number"), (i + 1).to_string(), "frames in order");
        let mut f = Frame::default();
        for (flag, note) in NOTE_OF {
            if !get(&format!("tcp.analysis.{flag}")).is_empty() {
                f.notes.insert(note.to_owned());
            }
        }
        let specific = ["fast_retransmission", "spurious_retransmission"];
        if !get("tcp.analysis.retransmission").is_empty()
            && !specific.iter().any(|n| f.notes.contains(*n))
        {
            f.notes.insert("retransmission".to_owned());
        }
        if f.notes.contains("dup_ack") {
            let first = |s: &str| s.split(',').next().unwrap().parse::<u64>().unwrap();
            f.dup_ack = Some((
                first(get("tcp.analysis.duplicate_ack_num")),
                first(get("tcp.analysis.duplicate_ack_frame")),
            ));
        }
        let split = |s: &str| -> Vec<String> {
            s.split(',')
                .filter(|x| !x.is_empty())
                .map(str::to_owned)
                .collect()
        };
        let (le, re) = (
            split(get("tcp.options.sack_le")),
            split(get("tcp.options.sack_re")),
        );
        f.sack = le
            .iter()
            .zip(&re)
            .map(|(l, r)| format!("sack={l}-{r}"))
            .collect();
        if !get("tcp.options.sack.dsack_le").is_empty() {
            f.sack[0] = format!("d{}", f.sack[0]);
        }
        frames.push(f);
    }
    frames
}

/// tshark's analysis of `pcap` now, as expect.sh records it.
pub fn tshark_now(pcap: &std::path::Path) -> String {
    let mut cmd = Command::new("tshark");
    cmd.arg("-r")
        .arg(pcap)
        .args(["-T", "fields", "-E", "header=y"]);
    for f in TSHARK_FIELDS {
        cmd.args(["-e", f]);
    }
    let out = cmd
        .stderr(std::process::Stdio::null())
        .output()
        .expect("run tshark");
    assert!(out.status.success(), "tshark -r {} failed", pcap.display());
    String::from_utf8(out.stdout).unwrap()
}

/// Frames as `synack read FILE --json` shows them, with who sent each.
pub fn synack_frames(name: &str) -> Vec<(Frame, String)> {
    let out = Command::new(env!("CARGO_BIN_EXE_synack"))
        .arg("read")
        .arg(fixture(name, "pcap"))
        .arg("--json")
        .output()
        .expect("run synack read");
    assert!(out.status.success(), "synack read {name} failed");
    frames_of_json(&String::from_utf8(out.stdout).unwrap())
}

/// The packets of a `--json` run (read, watch or a demo's live capture) as
/// frames, with who sent each.
pub fn frames_of_json(json: &str) -> Vec<(Frame, String)> {
    let mut frames = Vec::new();
    for line in json.lines() {
        let e: serde_json::Value = serde_json::from_str(line).unwrap();
        if e["kind"] != "packet" {
            continue;
        }
        let strs = |v: &serde_json::Value| -> Vec<String> {
            v.as_array()
                .map(|a| a.iter().map(|s| s.as_str().unwrap().to_owned()).collect())
                .unwrap_or_default()
        };
        let f = Frame {
            notes: strs(&e["notes"]).into_iter().collect(),
            dup_ack: e["dup_ack_num"]
                .as_u64()
                .map(|n| (n, e["dup_ack_of"].as_u64().expect("dup_ack_of"))),
            sack: strs(&e["options"])
                .into_iter()
                .filter(|o| o.starts_with("sack=") || o.starts_with("dsack="))
                .collect(),
        };
        frames.push((f, e["from"].as_str().unwrap().to_owned()));
    }
    frames
}

/// Compares synack with tshark on every frame of a capture; panics with
/// the frames that differ. Returns how many frames were compared.
///
/// One difference is by design (CHANGELOG, `zero_window_probe`): Linux
/// probes a closed window with a segment of no data one below the next
/// sequence number, which tshark calls a keep-alive and synack a
/// zero-window probe; the peer's answer, its window still 0, is then
/// synack's `zero_window_probe_ack` where tshark (having seen no probe)
/// notes only `zero_window`.
pub fn compare(name: &str, tshark_output: &str) -> usize {
    let theirs = tshark_frames(tshark_output);
    let ours = synack_frames(name);
    assert_eq!(ours.len(), theirs.len(), "{name}: frame count");
    compare_frames(name, &theirs, &ours)
}

/// [`compare`] on frames already made.
pub fn compare_frames(name: &str, theirs: &[Frame], ours: &[(Frame, String)]) -> usize {
    let mut probe_from: Option<String> = None;
    let mut bad = Vec::new();
    for (i, (want, (got, from))) in theirs.iter().zip(ours).enumerate() {
        let mut want = want.clone();
        if want.notes.contains("keepalive") && got.notes.contains("zero_window_probe") {
            want.notes.remove("keepalive");
            want.notes.insert("zero_window_probe".to_owned());
            probe_from = Some(from.clone());
        } else if probe_from.as_ref().is_some_and(|p| p != from) {
            if want.notes.len() == 1 && want.notes.contains("zero_window") {
                want.notes.insert("zero_window_probe_ack".to_owned());
            }
            probe_from = None;
        }
        if *got != want {
            bad.push(format!(
                "frame {}: tshark {want:?}\n   synack {got:?}",
                i + 1
            ));
        }
    }
    assert!(
        bad.is_empty(),
        "{name}: {} of {} frames differ:\n{}",
        bad.len(),
        theirs.len(),
        bad.join("\n")
    );
    theirs.len()
}
