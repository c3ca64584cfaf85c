//! The ladder as a Mermaid sequence diagram (`--export mermaid`): a message
//! per packet, a note per state change, socket call, lab action and
//! narration, every text in Mermaid's entity codes.

use std::fmt::Write as _;

use super::ExportOptions;
use super::ladder::{Ladder, What};
use crate::event::{Event, sanitize};
use crate::i18n::wrap;

/// Text Mermaid shows as written: `#` and `;` end a statement, `<` `>` and
/// `&` are read as markup; each becomes an entity code (`#59;`).
fn mermaid_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in sanitize(s).chars() {
        match c {
            '#' => out.push_str("#35;"),
            ';' => out.push_str("#59;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '&' => out.push_str("#amp;"),
            c => out.push(c),
        }
    }
    out
}

/// Words Mermaid's sequence grammar reserves: never a participant's id.
const MERMAID_WORDS: &[&str] = &[
    "participant",
    "actor",
    "as",
    "end",
    "loop",
    "alt",
    "else",
    "opt",
    "par",
    "and",
    "rect",
    "critical",
    "option",
    "break",
    "note",
    "over",
    "title",
    "autonumber",
    "activate",
    "deactivate",
    "links",
    "link",
    "properties",
    "details",
    "box",
    "create",
    "destroy",
    "left",
    "right",
    "of",
];

/// A lane's id in the diagram: the peer's name when Mermaid reads it as an
/// id as it is (`client`, `server2`), else `L0`, `L1` … with the name as
/// its alias (addresses hold `:`, which ends an id).
fn mermaid_ids(lanes: &[String]) -> Vec<(String, Option<String>)> {
    lanes
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let plain = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !MERMAID_WORDS.contains(&name.to_ascii_lowercase().as_str());
            if plain {
                (name.clone(), None)
            } else {
                (format!("L{i}"), Some(mermaid_text(name)))
            }
        })
        .collect()
}

/// The run as a Mermaid sequence diagram: a message per packet, a note per
/// state change, socket call, lab action and narration.
#[must_use]
pub fn mermaid(events: &[Event], opts: &ExportOptions) -> String {
    let ladder = Ladder::build(events, opts);
    let mut out = String::from("sequenceDiagram\n");
    let _ = writeln!(
        out,
        "    %% made by synack {}; times in seconds from the first event",
        env!("CARGO_PKG_VERSION")
    );
    if !opts.title.is_empty() {
        let _ = writeln!(out, "    title {}", mermaid_text(&opts.title));
    }
    let ids = mermaid_ids(&ladder.lanes);
    for (id, alias) in &ids {
        match alias {
            Some(a) => {
                let _ = writeln!(out, "    participant {id} as {a}");
            }
            None => {
                let _ = writeln!(out, "    participant {id}");
            }
        }
    }
    let span = match (ids.first(), ids.last()) {
        (Some((a, _)), Some((b, _))) if a != b => format!("{a},{b}"),
        (Some((a, _)), _) => a.clone(),
        _ => String::new(),
    };
    for row in &ladder.rows {
        let _ = writeln!(out, "    %% t={:.6}", row.t);
        match &row.what {
            What::Packet {
                from,
                to,
                label,
                lost,
                ..
            } => {
                let arrow = if *lost { "-x" } else { "->>" };
                let _ = writeln!(
                    out,
                    "    {}{arrow}{}: {}",
                    ids[*from].0,
                    ids[*to].0,
                    mermaid_text(label)
                );
            }
            What::State { lane, text, .. } | What::Call { lane, text, .. } => {
                let _ = writeln!(
                    out,
                    "    Note over {}: {}",
                    ids[*lane].0,
                    mermaid_text(text)
                );
            }
            What::Lab { text } if !span.is_empty() => {
                let _ = writeln!(out, "    Note over {span}: {}", mermaid_text(text));
            }
            What::Narration { text } if !span.is_empty() => {
                let lines: Vec<String> = wrap(text, 60).iter().map(|l| mermaid_text(l)).collect();
                let _ = writeln!(out, "    Note over {span}: {}", lines.join("<br/>"));
            }
            What::Lab { .. } | What::Narration { .. } => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mermaid_text_escapes_what_ends_a_statement_or_is_markup() {
        assert_eq!(mermaid_text("a#b;c<d>e&f"), "a#35;b#59;c#lt;d#gt;e#amp;f");
        let clean = mermaid_text("x\ny\x1b[2J");
        assert!(!clean.chars().any(char::is_control), "{clean:?}");
        // Colons stay: the text after the first one is the message.
        assert_eq!(
            mermaid_text("connect(127.0.0.1:7000) = ok"),
            "connect(127.0.0.1:7000) = ok"
        );
    }

    #[test]
    fn lanes_get_ids_mermaid_accepts() {
        let ids = mermaid_ids(&[
            "client".into(),
            "127.0.0.1:4000".into(),
            "[::1]:7000".into(),
            "end".into(),
        ]);
        assert_eq!(ids[0], ("client".into(), None));
        assert_eq!(ids[1], ("L1".into(), Some("127.0.0.1:4000".into())));
        assert_eq!(ids[2], ("L2".into(), Some("[::1]:7000".into())));
        assert_eq!(ids[3].0, "L3");
    }
}
