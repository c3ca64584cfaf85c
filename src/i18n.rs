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
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Labels {
    pub too_small: String,
    pub title: String,
    pub step: String,
    pub playing: String,
    pub paused: String,
    pub script_over: String,
    pub kernel_exact: String,
    pub kernel_poll: String,
    pub kernel_none: String,
    pub kernel_unknown: String,
    pub rootless: String,
    pub link_is_cut: String,
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
    pub time: String,
    pub lab: String,
    pub lab_row: String,
    pub end_row: String,
    pub inferred: String,
    pub lost: String,
    pub accept_queue: String,
    pub overflows: String,
    pub kill_row: String,
    pub link_cut_row: String,
    pub link_cut_one_row: String,
    pub link_restored_row: String,
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
    pub closed_sockets: String,
    pub key_step: String,
    pub key_pause: String,
    pub key_play: String,
    pub key_kill: String,
    pub key_cut: String,
    pub key_restore: String,
    pub key_restart: String,
    pub key_scenarios: String,
    pub key_diagram: String,
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
    pub help_k: String,
    pub help_c: String,
    pub help_r: String,
    pub help_s: String,
    pub help_d: String,
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
    pub col_packets: String,
    pub col_bytes: String,
    pub col_last: String,
    pub table_empty: String,
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

    fn pairs<'a>(
        en: &'a Labels,
        zh: &'a Labels,
    ) -> impl Iterator<Item = (&'static str, &'a str, &'a str)> {
        [
            ("too_small", en.too_small.as_str(), zh.too_small.as_str()),
            ("title", en.title.as_str(), zh.title.as_str()),
            ("step", en.step.as_str(), zh.step.as_str()),
            ("playing", en.playing.as_str(), zh.playing.as_str()),
            ("paused", en.paused.as_str(), zh.paused.as_str()),
            (
                "script_over",
                en.script_over.as_str(),
                zh.script_over.as_str(),
            ),
            (
                "kernel_exact",
                en.kernel_exact.as_str(),
                zh.kernel_exact.as_str(),
            ),
            (
                "kernel_poll",
                en.kernel_poll.as_str(),
                zh.kernel_poll.as_str(),
            ),
            (
                "kernel_none",
                en.kernel_none.as_str(),
                zh.kernel_none.as_str(),
            ),
            (
                "kernel_unknown",
                en.kernel_unknown.as_str(),
                zh.kernel_unknown.as_str(),
            ),
            ("rootless", en.rootless.as_str(), zh.rootless.as_str()),
            (
                "link_is_cut",
                en.link_is_cut.as_str(),
                zh.link_is_cut.as_str(),
            ),
            ("following", en.following.as_str(), zh.following.as_str()),
            (
                "following_file",
                en.following_file.as_str(),
                zh.following_file.as_str(),
            ),
            ("row_of", en.row_of.as_str(), zh.row_of.as_str()),
            (
                "rows_dropped",
                en.rows_dropped.as_str(),
                zh.rows_dropped.as_str(),
            ),
            ("frozen", en.frozen.as_str(), zh.frozen.as_str()),
            ("watching", en.watching.as_str(), zh.watching.as_str()),
            ("reading", en.reading.as_str(), zh.reading.as_str()),
            ("drops", en.drops.as_str(), zh.drops.as_str()),
            ("rejected", en.rejected.as_str(), zh.rejected.as_str()),
            ("lab_failed", en.lab_failed.as_str(), zh.lab_failed.as_str()),
            ("time", en.time.as_str(), zh.time.as_str()),
            ("lab", en.lab.as_str(), zh.lab.as_str()),
            ("lab_row", en.lab_row.as_str(), zh.lab_row.as_str()),
            ("end_row", en.end_row.as_str(), zh.end_row.as_str()),
            ("inferred", en.inferred.as_str(), zh.inferred.as_str()),
            ("lost", en.lost.as_str(), zh.lost.as_str()),
            (
                "accept_queue",
                en.accept_queue.as_str(),
                zh.accept_queue.as_str(),
            ),
            ("overflows", en.overflows.as_str(), zh.overflows.as_str()),
            ("kill_row", en.kill_row.as_str(), zh.kill_row.as_str()),
            (
                "link_cut_row",
                en.link_cut_row.as_str(),
                zh.link_cut_row.as_str(),
            ),
            (
                "link_cut_one_row",
                en.link_cut_one_row.as_str(),
                zh.link_cut_one_row.as_str(),
            ),
            (
                "link_restored_row",
                en.link_restored_row.as_str(),
                zh.link_restored_row.as_str(),
            ),
            ("sleep_row", en.sleep_row.as_str(), zh.sleep_row.as_str()),
            ("sysctl_row", en.sysctl_row.as_str(), zh.sysctl_row.as_str()),
            ("by_you", en.by_you.as_str(), zh.by_you.as_str()),
            ("warning", en.warning.as_str(), zh.warning.as_str()),
            (
                "empty_ladder",
                en.empty_ladder.as_str(),
                zh.empty_ladder.as_str(),
            ),
            ("dup_ack", en.dup_ack.as_str(), zh.dup_ack.as_str()),
            ("listening", en.listening.as_str(), zh.listening.as_str()),
            ("queue_card", en.queue_card.as_str(), zh.queue_card.as_str()),
            (
                "queue_card_short",
                en.queue_card_short.as_str(),
                zh.queue_card_short.as_str(),
            ),
            ("no_sockets", en.no_sockets.as_str(), zh.no_sockets.as_str()),
            (
                "closed_sockets",
                en.closed_sockets.as_str(),
                zh.closed_sockets.as_str(),
            ),
            ("key_step", en.key_step.as_str(), zh.key_step.as_str()),
            ("key_pause", en.key_pause.as_str(), zh.key_pause.as_str()),
            ("key_play", en.key_play.as_str(), zh.key_play.as_str()),
            ("key_kill", en.key_kill.as_str(), zh.key_kill.as_str()),
            ("key_cut", en.key_cut.as_str(), zh.key_cut.as_str()),
            (
                "key_restore",
                en.key_restore.as_str(),
                zh.key_restore.as_str(),
            ),
            (
                "key_restart",
                en.key_restart.as_str(),
                zh.key_restart.as_str(),
            ),
            (
                "key_scenarios",
                en.key_scenarios.as_str(),
                zh.key_scenarios.as_str(),
            ),
            (
                "key_diagram",
                en.key_diagram.as_str(),
                zh.key_diagram.as_str(),
            ),
            ("key_lang", en.key_lang.as_str(), zh.key_lang.as_str()),
            ("key_help", en.key_help.as_str(), zh.key_help.as_str()),
            ("key_quit", en.key_quit.as_str(), zh.key_quit.as_str()),
            ("key_follow", en.key_follow.as_str(), zh.key_follow.as_str()),
            (
                "key_details",
                en.key_details.as_str(),
                zh.key_details.as_str(),
            ),
            ("key_back", en.key_back.as_str(), zh.key_back.as_str()),
            ("key_filter", en.key_filter.as_str(), zh.key_filter.as_str()),
            ("key_freeze", en.key_freeze.as_str(), zh.key_freeze.as_str()),
            (
                "key_unfreeze",
                en.key_unfreeze.as_str(),
                zh.key_unfreeze.as_str(),
            ),
            ("key_open", en.key_open.as_str(), zh.key_open.as_str()),
            ("key_run", en.key_run.as_str(), zh.key_run.as_str()),
            ("key_move", en.key_move.as_str(), zh.key_move.as_str()),
            ("key_field", en.key_field.as_str(), zh.key_field.as_str()),
            ("key_packet", en.key_packet.as_str(), zh.key_packet.as_str()),
            (
                "picker_title",
                en.picker_title.as_str(),
                zh.picker_title.as_str(),
            ),
            (
                "picker_help",
                en.picker_help.as_str(),
                zh.picker_help.as_str(),
            ),
            (
                "picker_running",
                en.picker_running.as_str(),
                zh.picker_running.as_str(),
            ),
            ("help_title", en.help_title.as_str(), zh.help_title.as_str()),
            ("help_close", en.help_close.as_str(), zh.help_close.as_str()),
            ("help_demo", en.help_demo.as_str(), zh.help_demo.as_str()),
            ("help_watch", en.help_watch.as_str(), zh.help_watch.as_str()),
            ("help_all", en.help_all.as_str(), zh.help_all.as_str()),
            ("help_space", en.help_space.as_str(), zh.help_space.as_str()),
            ("help_p", en.help_p.as_str(), zh.help_p.as_str()),
            ("help_right", en.help_right.as_str(), zh.help_right.as_str()),
            ("help_k", en.help_k.as_str(), zh.help_k.as_str()),
            ("help_c", en.help_c.as_str(), zh.help_c.as_str()),
            ("help_r", en.help_r.as_str(), zh.help_r.as_str()),
            ("help_s", en.help_s.as_str(), zh.help_s.as_str()),
            ("help_d", en.help_d.as_str(), zh.help_d.as_str()),
            ("help_enter", en.help_enter.as_str(), zh.help_enter.as_str()),
            ("help_f", en.help_f.as_str(), zh.help_f.as_str()),
            ("help_move", en.help_move.as_str(), zh.help_move.as_str()),
            ("help_mouse", en.help_mouse.as_str(), zh.help_mouse.as_str()),
            ("help_l", en.help_l.as_str(), zh.help_l.as_str()),
            ("help_q", en.help_q.as_str(), zh.help_q.as_str()),
            (
                "help_table_enter",
                en.help_table_enter.as_str(),
                zh.help_table_enter.as_str(),
            ),
            ("help_slash", en.help_slash.as_str(), zh.help_slash.as_str()),
            (
                "help_freeze",
                en.help_freeze.as_str(),
                zh.help_freeze.as_str(),
            ),
            ("help_jk", en.help_jk.as_str(), zh.help_jk.as_str()),
            (
                "help_legend",
                en.help_legend.as_str(),
                zh.help_legend.as_str(),
            ),
            (
                "legend_kernel",
                en.legend_kernel.as_str(),
                zh.legend_kernel.as_str(),
            ),
            (
                "legend_inferred",
                en.legend_inferred.as_str(),
                zh.legend_inferred.as_str(),
            ),
            (
                "legend_packet",
                en.legend_packet.as_str(),
                zh.legend_packet.as_str(),
            ),
            (
                "legend_lost",
                en.legend_lost.as_str(),
                zh.legend_lost.as_str(),
            ),
            (
                "legend_blocking",
                en.legend_blocking.as_str(),
                zh.legend_blocking.as_str(),
            ),
            ("legend_tag", en.legend_tag.as_str(), zh.legend_tag.as_str()),
            (
                "details_title",
                en.details_title.as_str(),
                zh.details_title.as_str(),
            ),
            (
                "details_hint",
                en.details_hint.as_str(),
                zh.details_hint.as_str(),
            ),
            (
                "details_order",
                en.details_order.as_str(),
                zh.details_order.as_str(),
            ),
            (
                "details_no_bytes",
                en.details_no_bytes.as_str(),
                zh.details_no_bytes.as_str(),
            ),
            (
                "details_field",
                en.details_field.as_str(),
                zh.details_field.as_str(),
            ),
            (
                "details_value",
                en.details_value.as_str(),
                zh.details_value.as_str(),
            ),
            (
                "details_bytes",
                en.details_bytes.as_str(),
                zh.details_bytes.as_str(),
            ),
            (
                "details_wire",
                en.details_wire.as_str(),
                zh.details_wire.as_str(),
            ),
            (
                "diagram_title",
                en.diagram_title.as_str(),
                zh.diagram_title.as_str(),
            ),
            (
                "diagram_last",
                en.diagram_last.as_str(),
                zh.diagram_last.as_str(),
            ),
            (
                "diagram_off_edge",
                en.diagram_off_edge.as_str(),
                zh.diagram_off_edge.as_str(),
            ),
            ("diagram_at", en.diagram_at.as_str(), zh.diagram_at.as_str()),
            ("col_proto", en.col_proto.as_str(), zh.col_proto.as_str()),
            ("col_client", en.col_client.as_str(), zh.col_client.as_str()),
            ("col_server", en.col_server.as_str(), zh.col_server.as_str()),
            ("col_states", en.col_states.as_str(), zh.col_states.as_str()),
            (
                "col_packets",
                en.col_packets.as_str(),
                zh.col_packets.as_str(),
            ),
            ("col_bytes", en.col_bytes.as_str(), zh.col_bytes.as_str()),
            ("col_last", en.col_last.as_str(), zh.col_last.as_str()),
            (
                "table_empty",
                en.table_empty.as_str(),
                zh.table_empty.as_str(),
            ),
            (
                "table_count",
                en.table_count.as_str(),
                zh.table_count.as_str(),
            ),
            (
                "filter_prompt",
                en.filter_prompt.as_str(),
                zh.filter_prompt.as_str(),
            ),
            ("evicted", en.evicted.as_str(), zh.evicted.as_str()),
        ]
        .into_iter()
    }

    #[test]
    fn both_languages_have_every_label_and_chinese_is_chinese() {
        let en = labels(Lang::En);
        let zh = labels(Lang::Zh);
        for (k, e, z) in pairs(en, zh) {
            assert!(!e.trim().is_empty(), "en label {k} is empty");
            assert!(!z.trim().is_empty(), "zh label {k} is empty");
            assert_eq!(
                e.matches("{}").count(),
                z.matches("{}").count(),
                "{k}: the languages fill a different number of values"
            );
        }
        // Labels that are words (not only symbols or key names) are written in Chinese.
        let chinese = pairs(en, zh)
            .filter(|(_, _, z)| z.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)))
            .count();
        assert!(
            chinese * 10 >= pairs(en, zh).count() * 8,
            "most zh labels must be Chinese"
        );
    }

    #[test]
    fn fill_puts_values_in_order() {
        assert_eq!(fill("step {}/{}", &[&3, &9]), "step 3/9");
        assert_eq!(fill("no args", &[&1]), "no args");
        assert_eq!(fill("{} and {}", &[&"a"]), "a and ");
    }
}
