//! Languages of the interface. A leaf: the labels are data in
//! `assets/i18n/`, compiled in.

use serde::{Deserialize, Serialize};

/// A language synack speaks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Lang {
    #[default]
    En,
    Zh,
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
    pub empty_ladder: String,
    pub dup_ack: String,
    pub listening: String,
    pub queue_card: String,
    pub queue_card_short: String,
    pub bytes_card: String,
    pub bytes_card_short: String,
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
    pub legend_blocking: String,
    pub legend_tag: String,
    pub details_title: String,
    pub details_hint: String,
    pub details_order: String,
    pub details_no_bytes: String,
    pub details_field: String,
    pub details_value: String,
    pub details_bytes: String,
    pub details_wire: String,
    pub diagram_title: String,
    pub diagram_last: String,
    pub diagram_off_edge: String,
    pub diagram_at: String,
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
    fn locale_names_choose_the_language() {
        assert_eq!(Lang::from_locale("zh_CN.UTF-8"), Lang::Zh);
        assert_eq!(Lang::from_locale("ZH_tw"), Lang::Zh);
        assert_eq!(Lang::from_locale("en_US.UTF-8"), Lang::En);
        assert_eq!(Lang::from_locale("C"), Lang::En);
        assert_eq!(Lang::from_locale(""), Lang::En);
    }

    #[test]
    fn both_languages_have_every_label_and_chinese_is_chinese() {
        // Both files parse into every field (deny_unknown_fields: no extra key).
        let as_map = |l: Lang| match serde_json::to_value(labels(l)) {
            Ok(serde_json::Value::Object(m)) => m,
            other => panic!("labels are not a table: {other:?}"),
        };
        let (en, zh) = (as_map(Lang::En), as_map(Lang::Zh));
        let mut chinese = 0;
        for (k, e) in &en {
            let (e, z) = (e.as_str().unwrap_or(""), zh[k].as_str().unwrap_or(""));
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
    fn fill_puts_values_in_order() {
        assert_eq!(fill("step {}/{}", &[&3, &9]), "step 3/9");
        assert_eq!(fill("no args", &[&1]), "no args");
        assert_eq!(fill("{} and {}", &[&"a"]), "a and ");
    }
}
