//! Handouts: the ladder of a finished run as a Mermaid sequence diagram or
//! as a standalone SVG drawing (`--export mermaid|svg`).
//!
//! Pure: the run's events in, text out. Nothing here reads a clock; times
//! count from the run's first shown event (as `--json`'s `t`), rows keep the
//! events' order, so one recorded run always renders to the same bytes.
//!
//! Lanes are placed the way the screen places them (`app::timeline::Lanes`):
//! one per lab peer, clients first; a capture file (no peers) gets one lane
//! per address, clients' first. Text from outside (the wire, scripts, peers)
//! goes through [`sanitize`](crate::event::sanitize) and then the target's
//! own escaping.
//!
//! This file is what the rest of synack calls ([`render`], its options);
//! the work is done in:
//! - [`ladder`]: the lanes and rows both outputs draw.
//! - [`mermaid`]: the ladder as a Mermaid sequence diagram.
//! - [`svg`]: the ladder as a standalone SVG drawing.

mod ladder;
mod mermaid;
mod svg;

pub use mermaid::mermaid;
pub use svg::svg;

use std::collections::HashSet;

use crate::event::Event;
use crate::i18n::{Lang, Theme};

/// `--export`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportFormat {
    Mermaid,
    Svg,
}

/// What to draw and how.
#[derive(Clone, Debug, Default)]
pub struct ExportOptions {
    /// The diagram's title: the scenario's name or the file's.
    pub title: String,
    /// Only this connection (the `conn` number of the events).
    pub conn: Option<u32>,
    pub theme: Theme,
    /// The narration's language.
    pub lang: Lang,
}

/// Renders the run in `format`.
#[must_use]
pub fn render(format: ExportFormat, events: &[Event], opts: &ExportOptions) -> String {
    match format {
        ExportFormat::Mermaid => mermaid(events, opts),
        ExportFormat::Svg => svg(events, opts),
    }
}

/// The connection numbers the run has, in order.
#[must_use]
pub fn connections(events: &[Event]) -> Vec<u32> {
    let mut seen = HashSet::new();
    events
        .iter()
        .filter_map(|e| match e {
            Event::Packet(p) => Some(p.conn.0),
            Event::State(s) => s.conn.map(|c| c.0),
            _ => None,
        })
        .filter(|c| seen.insert(*c))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_events_still_make_a_diagram() {
        let opts = ExportOptions::default();
        assert!(mermaid(&[], &opts).starts_with("sequenceDiagram\n"));
        let s = svg(&[], &opts);
        assert!(s.contains("<svg") && s.ends_with("</svg>\n"));
    }
}
