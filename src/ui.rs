//! The TUI (placeholder while the seam is built).
use std::path::PathBuf;

use anyhow::Result;

use crate::i18n::Lang;
use crate::lab::Script;
use crate::run::{DemoSetup, Ending, WatchSetup};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Theme {
    Dark,
    Light,
    Contrast,
}

pub struct UiOptions {
    pub lang: Lang,
    pub theme: Theme,
    pub no_color: bool,
    pub max_rows: usize,
    pub record: Option<PathBuf>,
}

pub enum Start {
    Picker {
        setup: DemoSetup,
    },
    Demo {
        name: String,
        script: Script,
        setup: DemoSetup,
    },
    Watch(WatchSetup),
    Read(PathBuf),
}

/// # Errors
/// Never yet.
pub fn run(_start: Start, _o: &UiOptions) -> Result<Ending> {
    anyhow::bail!("the screen is not built yet")
}
