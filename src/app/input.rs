//! What reaches [`super::App::update`] and what it asks of the wiring. The
//! app knows no terminal library: the UI turns terminal events into these.

use crate::event::{EndpointName, Event};
use crate::lab::LabControl;
use crate::model::KernelMode;
use crate::time::Timestamp;

/// A key as the app understands it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Key {
    Char(char),
    Enter,
    Esc,
    Tab,
    BackTab,
    Backspace,
    Up,
    Down,
    Left,
    Right,
    PageUp,
    PageDown,
    Home,
    End,
    /// Ctrl-C (raw mode delivers it as a key).
    CtrlC,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mouse {
    ScrollUp,
    ScrollDown,
    /// A left click at a cell (column, row), counted from the top left.
    Click {
        col: u16,
        row: u16,
    },
}

/// Everything that can change the screen's state.
#[derive(Clone, Debug)]
pub enum AppEvent {
    /// Events the model made, in time order.
    Model(Vec<Event>),
    Key(Key),
    Mouse(Mouse),
    Resize {
        width: u16,
        height: u16,
    },
    /// The clock moved (countdowns tick on it).
    Tick(Timestamp),
    /// A run started: what the kernel can tell in it.
    Started {
        kernel: KernelMode,
    },
    /// A scenario started in a clean lab: the timeline starts over, with a
    /// lane for each of its peers.
    DemoStarted {
        name: String,
        peers: Vec<String>,
        paused: bool,
        rootless: bool,
        /// Seconds between steps while playing.
        pace: f64,
    },
    /// The lab began a step (told at once, before its rows come through
    /// the model): a click's answer shows in the title and the banner now.
    StepBegan(crate::event::StepEvent),
    /// Quiz mode for the demo just started: a question (or none) per step.
    Quiz(Vec<Option<crate::app::quiz::Question>>),
    /// The run is a recording played (`synack replay`), made on Linux
    /// `kernel` on `date`: the screen says so, and the lab's keys are not there.
    Replaying {
        kernel: String,
        date: String,
    },
    /// The lab thread returned; `error` when it failed.
    LabDone {
        error: Option<String>,
    },
}

/// What the app asks the wiring to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Pass a control to the running lab.
    Lab(LabControl),
    /// Run this scenario in a clean lab (from the picker).
    Run(String),
    /// Run the current scenario again in a clean lab.
    Restart,
    Quit,
}

/// Which peer a lab action names, for the `k` key.
#[must_use]
pub fn kill_target(name: &str) -> EndpointName {
    name.strip_suffix("-child")
        .unwrap_or(name)
        .to_owned()
        .into()
}
