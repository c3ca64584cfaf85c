//! Issue 11: under real loss, synack notes each frame exactly as tshark 4.0
//! does (retransmission kinds, duplicate ACKs and which frame they repeat,
//! segments the capture missed, window full, SACK and D-SACK blocks), on
//! loopback captures with dropped segments (tests/fixtures/loss/make.sh).
//! tshark's analysis is recorded next to each capture (expect.sh); the e2e
//! tests run tshark itself.

// CAPTURES serves the e2e test that runs tshark.
#[allow(dead_code)]
#[path = "common/loss.rs"]
mod loss;

fn check(name: &str) {
    let recorded = std::fs::read_to_string(loss::fixture(name, "tshark")).unwrap();
    let n = loss::compare(name, &recorded);
    assert!(n > 100, "{name}: only {n} frames");
}

#[test]
fn bulk_with_dropped_segments_matches_tshark() {
    check("bulk");
}

#[test]
fn frames_missing_from_the_capture_match_tshark() {
    check("gaps");
}

/// A request/answer exchange with frames cut out: the answer's ACK for a
/// request the capture missed is noted once, as Wireshark does, not again
/// on the 1-byte answer that carries the same ACK.
#[test]
fn frames_missing_from_a_chat_match_tshark() {
    check("gaps-chat");
}

#[test]
fn reordered_segments_match_tshark() {
    check("reorder");
}

#[test]
fn spurious_retransmissions_and_dsack_match_tshark() {
    check("spurious");
}

#[test]
fn zero_window_and_window_full_match_tshark() {
    check("zero-window");
}

/// `demo keepalive`'s probes and answers: the answer to the first probe is
/// a window update for tshark (its window differs from the SYN-ACK's,
/// which is not scaled), the second a keep-alive ACK; synack says the same.
#[test]
fn keepalive_probes_and_answers_match_tshark() {
    let recorded = std::fs::read_to_string(loss::fixture("keepalive", "tshark")).unwrap();
    let n = loss::compare("keepalive", &recorded);
    assert!(n >= 10, "keepalive: only {n} frames");
    let notes: Vec<Vec<String>> = loss::synack_frames("keepalive")
        .into_iter()
        .map(|(f, _)| f.notes.into_iter().collect())
        .collect();
    let has = |i: usize, note: &str| notes[i].iter().any(|n| n == note);
    assert!(has(3, "keepalive") && has(4, "window_update"), "{notes:?}");
    assert!(has(5, "keepalive") && has(6, "keepalive_ack"), "{notes:?}");
}

/// Each capture holds what it was made for.
#[test]
fn captures_hold_the_cases() {
    let notes = |name: &str| -> Vec<String> {
        loss::synack_frames(name)
            .into_iter()
            .flat_map(|(f, _)| f.notes.into_iter().chain(f.sack))
            .collect()
    };
    let has = |name: &str, what: &str| {
        assert!(
            notes(name).iter().any(|n| n.starts_with(what)),
            "{name} has no {what}"
        );
    };
    for what in [
        "fast_retransmission",
        "retransmission",
        "out_of_order",
        "dup_ack",
    ] {
        has("bulk", what);
    }
    has("gaps", "previous_segment_not_captured");
    has("gaps", "acked_unseen_segment");
    has("spurious", "spurious_retransmission");
    has("spurious", "dsack=");
    has("zero-window", "window_full");
    has("zero-window", "zero_window_probe_ack");
}
