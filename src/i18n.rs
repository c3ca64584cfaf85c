//! Languages of the interface. A leaf: the labels are data in
//! `assets/i18n/`, compiled in.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A language synack speaks (`--lang`).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum,
)]
pub enum Lang {
    #[default]
    En,
    Zh,
}

/// How the screen and the handouts are coloured (`--theme`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Theme {
    /// The terminal's own colours: a dark terminal profile on a monitor
    #[default]
    Dark,
    /// Dark text on its own white background, on any terminal profile: a monitor in a bright room, paper
    Light,
    /// White and bright colours on its own black background, no grey, nothing dim: projectors
    Contrast,
}

impl Lang {
    /// The language the environment asks for: `LC_ALL`, then `LC_MESSAGES`,
    /// then `LANG` (the first that is set and not empty); Chinese for `zh*`,
    /// English otherwise.
    #[must_use]
    pub fn from_env() -> Self {
        let get = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let locale = get("LC_ALL")
            .or_else(|| get("LC_MESSAGES"))
            .or_else(|| get("LANG"));
        Self::from_locale(locale.as_deref().unwrap_or(""))
    }

    /// `zh_CN.UTF-8`, `zh_TW`, `zh` → Chinese; anything else → English.
    #[must_use]
    pub fn from_locale(locale: &str) -> Self {
        if locale.to_ascii_lowercase().starts_with("zh") {
            Lang::Zh
        } else {
            Lang::En
        }
    }

    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh",
        }
    }

    /// The other language (the `l` key).
    #[must_use]
    pub fn toggled(self) -> Self {
        match self {
            Lang::En => Lang::Zh,
            Lang::Zh => Lang::En,
        }
    }
}

/// Every label of the screen in one language (`assets/i18n/*.toml`).
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Labels {
    pub too_small: String,
    pub title: String,
    pub step: String,
    pub playing: String,
    pub paused: String,
    pub script_over: String,
    pub kernel_exact: String,
    pub kernel_exact_short: String,
    pub kernel_poll_short: String,
    pub kernel_none_short: String,
    pub kernel_unknown_short: String,
    pub kernel_poll: String,
    pub kernel_none: String,
    pub kernel_unknown: String,
    pub rootless: String,
    pub link_is_cut: String,
    pub link_is_lossy: String,
    pub following: String,
    pub following_file: String,
    /// A replay following its newest row.
    pub following_replay: String,
    /// A replay: `recorded on Linux {kernel} on {date}`.
    pub recorded: String,
    /// The same, short of room: `recorded {date}`.
    pub recorded_short: String,
    /// A lab key pressed in a replay: `{key}`, the scenario's name.
    pub needs_lab: String,
    pub row_of: String,
    pub rows_dropped: String,
    pub frozen: String,
    pub watching: String,
    pub reading: String,
    pub drops: String,
    pub rejected: String,
    pub lab_failed: String,
    pub source_failed: String,
    pub quiz_title: String,
    pub quiz_press: String,
    pub quiz_right: String,
    pub quiz_wrong: String,
    pub quiz_unseen: String,
    pub quiz_corrected: String,
    pub quiz_watching: String,
    pub quiz_over: String,
    pub time: String,
    pub lab: String,
    pub lab_row: String,
    pub end_row: String,
    pub inferred: String,
    pub blocks: String,
    pub child_prefix: String,
    /// A call that succeeded without a count (`connect() = ok`).
    pub call_ok: String,
    pub confirmed: String,
    pub withdrawn: String,
    pub withdrawn_by_packets: String,
    pub withdrawn_short: String,
    pub withdrawn_mark: String,
    pub withdrawn_mark_packets: String,
    pub orphaned: String,
    pub fin_timeout: String,
    pub lost: String,
    pub accept_queue: String,
    pub overflows: String,
    pub kill_row: String,
    pub kill_dead_row: String,
    pub kill_dead_short: String,
    pub link_cut_short: String,
    pub link_loss_short: String,
    pub link_drop_short: String,
    pub end_row_short: String,
    pub link_cut_row: String,
    pub link_cut_one_row: String,
    pub link_restored_row: String,
    pub link_loss_row: String,
    pub link_loss_one_row: String,
    pub link_drop_row: String,
    pub link_drop_one_row: String,
    pub sleep_row: String,
    pub sysctl_row: String,
    pub by_you: String,
    pub warning: String,
    pub warn_no_tracepoint: String,
    pub empty_ladder: String,
    pub dup_ack: String,
    pub listening: String,
    pub queue_card: String,
    pub queue_card_short: String,
    pub bytes_card: String,
    pub bytes_card_short: String,
    /// A card's congestion line: cwnd, ssthresh, the state.
    pub cwnd_card: String,
    pub cwnd_card_short: String,
    /// The window and the state, in a narrow card.
    pub cwnd_card_state: String,
    /// The window alone.
    pub cwnd_card_bare: String,
    /// Who told the congestion state: the socket's own TCP_INFO or the
    /// kernel's tracepoint.
    pub cong_by_socket: String,
    pub cong_by_kernel: String,
    /// A congestion-state change's row: the state it left, the new one.
    pub cong_row: String,
    /// The socket's report of its window in a state the kernel's rows told.
    pub cong_report: String,
    pub cong_row_short: String,
    /// The details view's line for the sender's window when a packet left.
    pub cong_field: String,
    pub no_sockets: String,
    pub udp_no_state: String,
    pub closed_sockets: String,
    pub key_step: String,
    pub key_step_back: String,
    pub key_pause: String,
    pub key_play: String,
    pub key_kill: String,
    pub key_cut: String,
    pub key_restore: String,
    pub key_loss_on: String,
    pub key_loss_off: String,
    pub key_restart: String,
    pub key_scenarios: String,
    pub key_diagram: String,
    pub key_explain: String,
    pub key_lang: String,
    pub key_help: String,
    pub key_quit: String,
    pub key_follow: String,
    pub key_details: String,
    pub key_back: String,
    pub key_filter: String,
    pub key_freeze: String,
    pub key_unfreeze: String,
    pub key_open: String,
    pub key_run: String,
    pub key_move: String,
    pub key_field: String,
    pub key_packet: String,
    pub picker_title: String,
    pub picker_help: String,
    pub picker_running: String,
    /// Which scenarios the picker shows when they do not all fit: `1–20 of 25`.
    pub picker_shown: String,
    pub help_title: String,
    pub help_close: String,
    pub help_demo: String,
    pub help_watch: String,
    pub help_all: String,
    pub help_space: String,
    pub help_p: String,
    pub help_right: String,
    pub help_left: String,
    pub help_k: String,
    pub help_c: String,
    pub help_x: String,
    pub help_r: String,
    pub help_s: String,
    pub help_d: String,
    pub help_e: String,
    pub help_quiz: String,
    pub help_enter: String,
    pub help_f: String,
    pub help_move: String,
    pub help_mouse: String,
    pub help_l: String,
    pub help_q: String,
    pub help_table_enter: String,
    pub help_slash: String,
    pub help_freeze: String,
    pub help_jk: String,
    pub help_legend: String,
    pub legend_kernel: String,
    pub legend_inferred: String,
    pub legend_packet: String,
    pub legend_lost: String,
    /// The help's legend: a segment the receiver's kernel dropped.
    pub legend_dropped: String,
    /// The help's legend: a row of the sender's congestion state.
    pub legend_cong: String,
    pub legend_blocking: String,
    pub legend_tag: String,
    pub legend_tag_mark: String,
    pub details_title: String,
    pub details_hint: String,
    pub details_order: String,
    pub details_no_bytes: String,
    pub details_field: String,
    pub details_value: String,
    pub details_bytes: String,
    pub details_wire: String,
    pub from_client: String,
    pub from_server: String,
    pub details_relative: String,
    pub details_scaled: String,
    pub diagram_title: String,
    pub diagram_last: String,
    pub diagram_off_edge: String,
    pub diagram_at: String,
    pub diagram_udp: String,
    pub col_proto: String,
    pub col_client: String,
    pub col_server: String,
    pub col_states: String,
    pub col_states_short: String,
    pub col_packets: String,
    pub col_bytes: String,
    pub col_last: String,
    pub table_empty: String,
    pub table_no_match: String,
    pub table_count: String,
    pub filter_prompt: String,
    pub evicted: String,
    /// The name of a RST's reason as the kernel gave it (the details view, `--text`).
    pub rst_reason: String,
    /// The ladder's tag of each analysis note, by its contract name.
    pub notes: BTreeMap<String, String>,
    /// A few words for each reason the kernel gives for a reset, by its
    /// name in the kernel (`NO_SOCKET`).
    pub resets: BTreeMap<String, String>,
    /// The name of a drop's reason as the kernel gave it (the details view, `--text`).
    pub drop_reason: String,
    /// What the kernel says of a retransmission (the details view, `--text`).
    pub retransmit: String,
    /// … of one the capture alone calls a retransmission: not the kernel's word.
    pub retransmit_capture: String,
    /// The label's words for a retransmission the kernel confirms.
    pub retransmit_kernel: String,
    /// … and for one the capture alone calls a retransmission.
    pub retransmit_inferred_only: String,
    /// … the same on the ladder, where no field name says it is the capture's.
    pub retransmit_inferred_only_row: String,
    /// The words of a `SOCKET_FILTER` drop of a segment the lab's link
    /// dropped (noted `lost`): the lab's own filter.
    pub drop_lab_link: String,
    /// A few words for each reason the kernel gives for dropping a segment,
    /// by its name in the kernel (`TCP_LISTEN_OVERFLOW`).
    pub drop_reasons: BTreeMap<String, String>,
    /// The words of socket calls' arguments (see [`call_args`]).
    pub args: ArgWords,
    /// The details view's name of each header field, by the dissector's name.
    pub fields: BTreeMap<String, String>,
    /// The words of the header fields' values (`tcp::dissect`).
    pub dissect: DissectWords,
}

/// How the screen words the arguments the lab reports for a socket call
/// (`close(connection)`, `write(3 bytes (echo))`, `epoll_wait(max 16,
/// timeout -1)`). Each `{}` is a number.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ArgWords {
    pub connection: String,
    pub listener: String,
    pub bytes: String,
    pub echo: String,
    pub max: String,
    pub timeout: String,
    pub child_pid: String,
    pub unanswered: String,
}

/// The words of header field values in the details view, filled by
/// `tcp::dissect` (each `{}` in order, as [`fill`] does).
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DissectWords {
    /// A value and what it means: `6 (TCP)`.
    pub named: String,
    /// Between the items of a list.
    pub sep: String,
    pub bytes: String,
    pub after_ip: String,
    pub truncated: String,
    pub truncated_of: String,
    pub not_dissected: String,
    pub not_ip: String,
    pub not_ipv4: String,
    pub not_ipv6: String,
    pub short_header: String,
    pub later_fragment: String,
    pub too_many_extensions: String,
    pub name_not_dissected: String,
    pub protocol_not_dissected: String,
    pub captured_of: String,
    pub vlan: String,
    pub none: String,
    pub unknown: String,
    pub little_endian: String,
    pub big_endian: String,
    pub nic_fills: String,
    pub jumbogram: String,
    pub shorter_than_header: String,
    pub below_20: String,
    pub fragment: String,
    pub more_fragments: String,
    pub last_fragment: String,
    pub extension: String,
    pub reserved_bit: String,
    pub offset: String,
    pub no_room: String,
    pub bad_length: String,
    pub past_header: String,
    pub wscale_capped: String,
    pub wrong_length: String,
    pub option_kind: String,
    pub to_us: String,
    pub broadcast: String,
    pub multicast: String,
    pub to_another_host: String,
    pub sent_by_us: String,
    pub ethernet: String,
    pub loopback: String,
    pub ipv6_in_ipv4: String,
    pub none_tun: String,
    pub hop_by_hop: String,
    pub routing: String,
    pub fragment_name: String,
    pub no_next_header: String,
    pub destination_options: String,
    pub md5: String,
    pub user_timeout: String,
    pub fast_open: String,
    pub experimental: String,
}

/// The labels of `lang`, parsed once.
///
/// # Panics
/// When a compiled-in label file is broken, which a unit test rules out.
#[must_use]
pub fn labels(lang: Lang) -> &'static Labels {
    static EN: std::sync::OnceLock<Labels> = std::sync::OnceLock::new();
    static ZH: std::sync::OnceLock<Labels> = std::sync::OnceLock::new();
    let (cell, text) = match lang {
        Lang::En => (&EN, include_str!("../assets/i18n/en.toml")),
        Lang::Zh => (&ZH, include_str!("../assets/i18n/zh.toml")),
    };
    cell.get_or_init(|| toml::from_str(text).expect("compiled-in labels parse (tested)"))
}

/// The ladder's tag for an analysis note (its contract name in English, a
/// word in Chinese); a name without an entry is shown as it is.
#[must_use]
pub fn note_tag(lang: Lang, name: &str) -> &str {
    labels(lang).notes.get(name).map_or(name, String::as_str)
}

/// A few words for why the kernel sent a reset (`NO_SOCKET` → "nobody
/// listens on this port"); `None` for a reason synack has no words for (a
/// newer kernel's: its name is shown alone).
#[must_use]
pub fn rst_words(lang: Lang, reason: &str) -> Option<&'static str> {
    labels(lang).resets.get(reason).map(String::as_str)
}

/// A reset's reason as the views write it beside its name:
/// `NO_SOCKET (nobody listens on this port)`, or the name alone.
#[must_use]
pub fn rst_reason(lang: Lang, reason: &str) -> String {
    let reason = crate::event::sanitize(reason);
    match (rst_words(lang, &reason), lang) {
        (Some(w), Lang::En) => format!("{reason} ({w})"),
        (Some(w), Lang::Zh) => format!("{reason}（{w}）"),
        (None, _) => reason.into_owned(),
    }
}

/// A few words for why the kernel dropped a segment
/// (`TCP_LISTEN_OVERFLOW` → "accept queue full"); `None` for a reason
/// synack has no words for (a newer kernel's: its name is shown alone).
#[must_use]
pub fn drop_words(lang: Lang, reason: &str) -> Option<&'static str> {
    labels(lang).drop_reasons.get(reason).map(String::as_str)
}

/// The words for a packet's drop: a `SOCKET_FILTER` drop of a segment
/// the lab's link dropped (`lab`: noted `lost`) is the lab's link, not any
/// filter; otherwise as [`drop_words`].
#[must_use]
pub fn packet_drop_words(lang: Lang, reason: &str, lab: bool) -> Option<&'static str> {
    if lab && reason == "SOCKET_FILTER" {
        return Some(&labels(lang).drop_lab_link);
    }
    drop_words(lang, reason)
}

/// A drop's reason as the views write it beside its name:
/// `TCP_LISTEN_OVERFLOW (accept queue full)`, or the name alone; `lab`
/// as in [`packet_drop_words`].
#[must_use]
pub fn drop_reason(lang: Lang, reason: &str, lab: bool) -> String {
    let reason = crate::event::sanitize(reason);
    match (packet_drop_words(lang, &reason, lab), lang) {
        (Some(w), Lang::En) => format!("{reason} ({w})"),
        (Some(w), Lang::Zh) => format!("{reason}（{w}）"),
        (None, _) => reason.into_owned(),
    }
}

/// The field's name for what is known of a retransmission (the details
/// view, `--text`): the kernel's, or the capture's alone.
#[must_use]
pub fn retransmit_field(lang: Lang, w: crate::event::RetransmitWitness) -> &'static str {
    let l = labels(lang);
    match w {
        crate::event::RetransmitWitness::Kernel => &l.retransmit,
        crate::event::RetransmitWitness::InferredOnly => &l.retransmit_capture,
    }
}

/// What the kernel says of a retransmission, on the ladder: beside the
/// capture's tag, one the kernel did not make says it is the capture's alone.
#[must_use]
pub fn retransmit_row_words(lang: Lang, w: crate::event::RetransmitWitness) -> &'static str {
    let l = labels(lang);
    match w {
        crate::event::RetransmitWitness::Kernel => &l.retransmit_kernel,
        crate::event::RetransmitWitness::InferredOnly => &l.retransmit_inferred_only_row,
    }
}

/// What the kernel says of a retransmission, after the field's name.
#[must_use]
pub fn retransmit_words(lang: Lang, w: crate::event::RetransmitWitness) -> &'static str {
    let l = labels(lang);
    match w {
        crate::event::RetransmitWitness::Kernel => &l.retransmit_kernel,
        crate::event::RetransmitWitness::InferredOnly => &l.retransmit_inferred_only,
    }
}

/// The details view's name for a header field (the dissector's English name
/// when the language has none for it).
#[must_use]
pub fn field_name(lang: Lang, name: &'static str) -> &'static str {
    labels(lang).fields.get(name).map_or(name, String::as_str)
}

/// A socket call's arguments as the lab reports them (the contract's
/// `args`, in English), worded in `lang`. Only the lab's own words change
/// (`connection`, `listener`, `N bytes`, `(echo)`, `max N`, `timeout N`,
/// `child pid N`); names, numbers and quoted text (data a peer sends) stay
/// as they are. In English the result is the input.
#[must_use]
pub fn call_args(lang: Lang, args: &str) -> String {
    let w = &labels(lang).args;
    // Split at the commas outside quotes and braces (`"a, b"`, `{on, 0}`).
    let mut parts = Vec::new();
    let (mut depth, mut quoted, mut escaped, mut start) = (0i32, false, false, 0);
    for (i, c) in args.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '{' if !quoted => depth += 1,
            '}' if !quoted => depth -= 1,
            ',' if !quoted && depth == 0 => {
                parts.push(&args[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&args[start..]);
    let number = |s: &str| {
        !s.is_empty()
            && s.trim_start_matches('-')
                .bytes()
                .all(|b| b.is_ascii_digit())
    };
    let word = |part: &str| -> Option<String> {
        let p = part.trim();
        if p == "connection" {
            return Some(w.connection.clone());
        }
        if p == "listener" {
            return Some(w.listener.clone());
        }
        if let Some(n) = p.strip_suffix(" bytes (echo)").filter(|n| number(n)) {
            return Some(fill(&w.echo, &[&n]));
        }
        if let Some(n) = p.strip_suffix(" bytes").filter(|n| number(n)) {
            return Some(fill(&w.bytes, &[&n]));
        }
        if let Some(n) = p.strip_prefix("max ").filter(|n| number(n)) {
            return Some(fill(&w.max, &[&n]));
        }
        // poll's milliseconds, select's `1s` or `NULL`.
        if let Some(n) = p.strip_prefix("timeout ").filter(|n| !n.is_empty()) {
            return Some(fill(&w.timeout, &[&n]));
        }
        // A heartbeat that gave up: `3 pings unanswered`.
        if let Some(n) = p.strip_suffix(" pings unanswered").filter(|n| number(n)) {
            return Some(fill(&w.unanswered, &[&n]));
        }
        if let Some(n) = p.strip_prefix("child pid ").filter(|n| number(n)) {
            return Some(fill(&w.child_pid, &[&n]));
        }
        None
    };
    parts
        .iter()
        .map(|part| match word(part) {
            // Keep the space the contract puts after each comma.
            Some(text) => {
                let lead = &part[..part.len() - part.trim_start().len()];
                format!("{lead}{text}")
            }
            None => (*part).to_owned(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Full-width punctuation a line may not begin with.
const NO_LINE_START: &str = "、。，．：；！？）」』】〉》…";

/// Wraps `text` at `width` terminal columns: words stay whole where they
/// fit (a longer one is cut), CJK characters take two columns and may break
/// anywhere, and closing full-width punctuation never begins a line. The
/// one wrapping of the screen, the handouts and `synack explain`.
#[must_use]
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    use unicode_width::UnicodeWidthChar;
    let width = width.max(1);
    // Tokens: words between spaces; each wide (CJK) character is a token of
    // its own, and needs no space before it.
    let mut tokens: Vec<(String, usize, bool)> = Vec::new();
    let mut space_before = false;
    let mut word = String::new();
    let mut word_w = 0;
    let flush = |word: &mut String, word_w: &mut usize, space: &mut bool, tokens: &mut Vec<_>| {
        if !word.is_empty() {
            tokens.push((std::mem::take(word), *word_w, *space));
            *word_w = 0;
            *space = false;
        }
    };
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if c.is_whitespace() {
            flush(&mut word, &mut word_w, &mut space_before, &mut tokens);
            space_before = true;
        } else if w > 1 {
            flush(&mut word, &mut word_w, &mut space_before, &mut tokens);
            // Chinese punctuation that closes (、。，）…) never starts a
            // line: it stays with what it follows.
            if !space_before && NO_LINE_START.contains(c) {
                if let Some(last) = tokens.last_mut() {
                    last.0.push(c);
                    last.1 += w;
                    continue;
                }
            }
            word.push(c);
            word_w = w;
            flush(&mut word, &mut word_w, &mut space_before, &mut tokens);
        } else {
            word.push(c);
            word_w += w;
        }
    }
    flush(&mut word, &mut word_w, &mut space_before, &mut tokens);
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut line_w = 0;
    for (tok, tok_w, space) in tokens {
        let gap = usize::from(space && line_w > 0);
        if line_w > 0 && line_w + gap + tok_w > width {
            lines.push(std::mem::take(&mut line));
            line_w = 0;
        }
        if line_w > 0 && space {
            line.push(' ');
            line_w += 1;
        }
        if tok_w <= width - line_w {
            line.push_str(&tok);
            line_w += tok_w;
            continue;
        }
        // A word longer than a line: cut it.
        for c in tok.chars() {
            let w = c.width().unwrap_or(0);
            if line_w + w > width {
                lines.push(std::mem::take(&mut line));
                line_w = 0;
            }
            line.push(c);
            line_w += w;
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// Fills each `{}` of a label with the next argument.
#[must_use]
pub fn fill(label: &str, args: &[&dyn std::fmt::Display]) -> String {
    let mut out = String::with_capacity(label.len() + 16);
    let mut args = args.iter();
    let mut rest = label;
    while let Some(i) = rest.find("{}") {
        out.push_str(&rest[..i]);
        if let Some(a) = args.next() {
            out.push_str(&a.to_string());
        }
        rest = &rest[i + 2..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_keeps_lines_within_the_width_and_every_word() {
        use unicode_width::UnicodeWidthStr;
        let lines = wrap("the quick brown fox jumps over the lazy dog", 10);
        assert!(lines.iter().all(|l| l.width() <= 10), "{lines:?}");
        assert_eq!(
            lines.join(" "),
            "the quick brown fox jumps over the lazy dog"
        );
        let long = wrap("abcdefghijklmnop", 5);
        assert_eq!(long, vec!["abcde", "fghij", "klmno", "p"]);
        assert!(wrap("", 5).is_empty());
    }

    #[test]
    fn locale_names_choose_the_language() {
        assert_eq!(Lang::from_locale("zh_CN.UTF-8"), Lang::Zh);
        assert_eq!(Lang::from_locale("ZH_tw"), Lang::Zh);
        assert_eq!(Lang::from_locale("en_US.UTF-8"), Lang::En);
        assert_eq!(Lang::from_locale("C"), Lang::En);
        assert_eq!(Lang::from_locale(""), Lang::En);
    }

    /// Every label as `table.key` → text (the tables flattened).
    fn flat(l: Lang) -> BTreeMap<String, String> {
        fn walk(prefix: &str, v: &serde_json::Value, out: &mut BTreeMap<String, String>) {
            match v {
                serde_json::Value::Object(m) => {
                    for (k, v) in m {
                        let key = if prefix.is_empty() {
                            k.clone()
                        } else {
                            format!("{prefix}.{k}")
                        };
                        walk(&key, v, out);
                    }
                }
                serde_json::Value::String(s) => {
                    out.insert(prefix.to_owned(), s.clone());
                }
                other => panic!("label {prefix} is not text: {other:?}"),
            }
        }
        let mut out = BTreeMap::new();
        walk(
            "",
            &serde_json::to_value(labels(l)).expect("labels serialize"),
            &mut out,
        );
        out
    }

    #[test]
    fn both_languages_have_every_label_and_chinese_is_chinese() {
        // Both files parse into every field (deny_unknown_fields: no extra
        // key); the open tables (notes, fields) have the same keys.
        let (en, zh) = (flat(Lang::En), flat(Lang::Zh));
        assert_eq!(
            en.keys().collect::<Vec<_>>(),
            zh.keys().collect::<Vec<_>>(),
            "the languages label different things"
        );
        let mut chinese = 0;
        for (k, e) in &en {
            let z = &zh[k];
            assert!(!e.trim().is_empty(), "en label {k} is empty");
            assert!(!z.trim().is_empty(), "zh label {k} is empty");
            assert_eq!(
                e.matches("{}").count(),
                z.matches("{}").count(),
                "{k}: the languages fill a different number of values"
            );
            if z.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)) {
                chinese += 1;
            }
        }
        // Labels that are words (not only symbols or key names) are written in Chinese.
        assert!(
            chinese * 10 >= en.len() * 8,
            "most zh labels must be Chinese: {chinese} of {}",
            en.len()
        );
    }

    #[test]
    fn call_args_change_only_the_labs_own_words() {
        let zh = |a: &str| call_args(Lang::Zh, a);
        assert_eq!(zh("connection"), "连接");
        assert_eq!(zh("listener"), "监听套接字");
        assert_eq!(zh("3 bytes (echo)"), "3 字节（回显）");
        assert_eq!(zh("fd 5, 3 bytes (echo)"), "fd 5, 3 字节（回显）");
        assert_eq!(zh("max 16, timeout -1"), "最多 16, 超时 -1");
        assert_eq!(zh("child pid 12900"), "子进程 pid 12900");
        assert_eq!(zh("10000 bytes, MSG_OOB"), "10000 字节, MSG_OOB");
        // Names, numbers, notation and what a peer sends stay as they are.
        for kept in [
            "AF_INET, SOCK_STREAM",
            "SO_LINGER {on, 0}",
            "127.0.0.1:7000",
            "\"connection\"",
            "\"a, 5 bytes\", :7000",
            "\"say \\\"max 3\\\", listener\"",
            "EPOLL_CTL_ADD, fd 5, EPOLLIN",
            "65536",
            "",
        ] {
            assert_eq!(zh(kept), kept);
        }
        // In English the contract's words are the screen's.
        for a in [
            "connection",
            "fd 5, 3 bytes (echo)",
            "max 16, timeout -1",
            "child pid 7",
        ] {
            assert_eq!(call_args(Lang::En, a), a);
        }
    }

    #[test]
    fn fill_puts_values_in_order() {
        assert_eq!(fill("step {}/{}", &[&3, &9]), "step 3/9");
        assert_eq!(fill("no args", &[&1]), "no args");
        assert_eq!(fill("{} and {}", &[&"a"]), "a and ");
    }
}
