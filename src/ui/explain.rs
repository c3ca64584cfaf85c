//! The explanation pane (`e`): between the ladder's rows and the cards,
//! what the selected row (or the newest) means, from `assets/explain/`, in
//! the language shown. Its text is `app::panes::explain_lines`.

use ratatui::buffer::Buffer;

use super::Palette;
use crate::app::App;
use crate::app::panes::explain_lines;
use crate::i18n::labels;

pub fn draw(buf: &mut Buffer, app: &App, pal: &Palette) {
    let Some(a) = app.ladder_layout().explain else {
        return;
    };
    let t = labels(app.lang());
    let lines = explain_lines(app, a.width.saturating_sub(4));
    super::quiz::boxed(
        buf,
        a,
        &format!(" {} · e ", t.key_explain),
        &lines,
        pal,
        pal.border,
    );
}
