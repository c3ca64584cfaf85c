//! The wiring: starts a run's sources (capture, kernel, lab), feeds what
//! they report through one channel into the model, and drives a view with
//! the events that come out: a headless writer (`crate::output`) or the
//! screen (`screen` here, drawing with `crate::ui`).
//!
//! ```text
//!  capture thread ─┐
//!  kernel threads ─┼─► Msg channel ─► reorder (150 ms) ─► Model ─► events ─► view
//!  lab thread     ─┤       (drive: the run loop, one for every view)   (headless writer,
//!  terminal input ─┘                                                  or App + TUI: screen)
//! ```
//!
//! `session` starts and stops the sources, `drive` is the loop, `record`
//! writes `--record` files, `player` plays one on the screen (`synack
//! replay`), `screen` is the screen's side of the loop (keys, effects,
//! drawing).

pub mod drive;
pub mod player;
pub mod record;
pub mod screen;
pub mod session;

use std::io;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use tokio::sync::mpsc;

use crate::app::AppEvent;
use crate::capture::{self, FileCapture, Filter};
use crate::event::Event;
use crate::lab::{LabControl, LabNs, Script};
use crate::model::Input;
use crate::model::pipeline::HOLD;
use crate::privilege::{self, Dropped};
use crate::time::Timestamp;
use drive::{Face, Feed};
use session::captured_input;

pub use record::{RecordTo, replay};
pub use screen::{ReplaySetup, Start, UiOptions, screen};

use crate::output::sink::{Ending, View};
use crate::recording::Source;
use record::{close_recording, pipeline};
use session::Session;

/// The lab server's port.
pub const LAB_PORT: u16 = 7000;

/// Parses one frame of a file or a live capture into the model's input.
#[must_use]
pub fn frame_input(frame: &capture::Frame<'_>, keep_bytes: bool) -> Option<Input> {
    capture::thread::parse(frame, keep_bytes).map(captured_input)
}

/// What the sources of a run send the loop. `run` tells runs apart: after a
/// restart, what the old run still had in flight is dropped.
#[derive(Debug)]
pub enum Msg {
    /// What a source read at once (a tracer batch, a file's packets).
    Inputs { run: u64, inputs: Vec<Input> },
    /// Packets a capture read at once, to be parsed as the loop takes them.
    Frames { run: u64, frames: capture::Frames },
    /// The lab thread returned (the script ended, or it was told to stop).
    LabDone { run: u64, error: Option<String> },
    /// A file source read its last frame.
    SourceDone { run: u64, error: Option<String> },
    /// The lab began a step: told to the screen at once (its `Step` event
    /// comes through the model with the rows, later).
    StepBegan {
        run: u64,
        step: crate::event::StepEvent,
    },
    /// Events made whole elsewhere: a recording played (`synack replay`).
    /// They skip the model, which made them when the run was recorded.
    Events { run: u64, events: Vec<Event> },
    /// The terminal: a key, the mouse, a resize.
    Ui(AppEvent),
    /// The terminal is gone (its window closed): the run ends.
    TerminalGone,
}

pub type Funnel = mpsc::UnboundedSender<Msg>;

/// Inputs sent into the funnel and not yet taken out by the loop. When the
/// loop falls behind (a slow terminal, a slow pipe), packets are skipped, and
/// counted, instead of queueing without limit.
#[derive(Clone, Debug, Default)]
pub struct Backlog(Arc<std::sync::atomic::AtomicUsize>);

/// Inputs waiting before new packets are skipped: about half a second of a
/// heavy loopback load.
pub const MAX_BACKLOG: usize = 50_000;

impl Backlog {
    /// Sends inputs; false when the loop is gone.
    pub fn send(&self, tx: &Funnel, run: u64, inputs: Vec<Input>) -> bool {
        let n = inputs.len();
        self.0.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        tx.send(Msg::Inputs { run, inputs }).is_ok()
    }

    /// Sends frames, each counted as the input it becomes; false when the
    /// loop is gone.
    pub fn send_frames(&self, tx: &Funnel, run: u64, frames: capture::Frames) -> bool {
        self.0
            .fetch_add(frames.len(), std::sync::atomic::Ordering::Relaxed);
        tx.send(Msg::Frames { run, frames }).is_ok()
    }

    /// Whether the loop is that far behind.
    #[must_use]
    pub fn full(&self) -> bool {
        self.0.load(std::sync::atomic::Ordering::Relaxed) >= MAX_BACKLOG
    }

    /// The loop took `n` inputs out.
    pub fn taken(&self, n: usize) {
        self.0.fetch_sub(n, std::sync::atomic::Ordering::Relaxed);
    }
}

/// `synack watch`'s settings.
#[derive(Clone, Debug, Default)]
pub struct WatchSetup {
    pub iface: String,
    pub ports: Vec<u16>,
    pub hosts: Vec<IpAddr>,
    pub duration: Option<f64>,
    pub count: Option<u64>,
    pub write: Option<PathBuf>,
    /// `--force`: `write` may replace an existing file.
    pub force: bool,
}

impl WatchSetup {
    #[must_use]
    pub fn filter(&self) -> Filter {
        Filter {
            ports: self.ports.clone(),
            hosts: self.hosts.clone(),
        }
    }
}

/// `synack demo`'s settings besides the script.
#[derive(Clone, Debug)]
pub struct DemoSetup {
    pub ipv6: bool,
    /// Start paused: each step waits for the user.
    pub step: bool,
    /// Between steps while playing.
    pub pace: Duration,
    pub port: u16,
    /// The lab's namespaces (entered in `main` before any thread).
    pub ns: LabNs,
    /// `--write`: the lab's packets as a pcap file (the first run's only).
    pub write: Option<PathBuf>,
    /// `--force`: `write` may replace an existing file.
    pub force: bool,
    /// `--quiz` (on screen): each step waits for the class's answer.
    pub quiz: bool,
}

/// The time before which every source has reported.
#[must_use]
pub fn settled() -> Timestamp {
    let hold_ns = u64::try_from(HOLD.as_nanos()).unwrap_or(u64::MAX);
    Timestamp(Timestamp::now().0.saturating_sub(hold_ns))
}

/// Reads a capture file to the end through the model; no reordering (a file
/// is in its own order).
///
/// # Errors
/// The file cannot be opened or is corrupt; the view fails.
pub fn read_file(
    path: &Path,
    keep_bytes: bool,
    record: Option<&RecordTo>,
    view: &mut dyn View,
) -> Result<Ending> {
    let mut file = FileCapture::open(path)?;
    // Nothing after opening the file needs privilege.
    privilege::drop_privileges()?;
    let header = crate::recording::Header::new(
        read_source(path),
        record.map_or_else(Default::default, |r| r.lang),
        crate::model::KernelMode::None,
    );
    let mut pipeline = pipeline(record, &header, false)?;
    loop {
        let frame = match file.next_frame() {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                // What was read so far is shown; the damage is reported and ends the run.
                return Err(anyhow::Error::new(e).context(format!(
                    "reading {} stopped after {} packets",
                    path.display(),
                    pipeline.packets()
                )));
            }
        };
        let Some(input) = frame_input(&frame, keep_bytes) else {
            continue;
        };
        pipeline.push(input);
        let events = pipeline.drain(None);
        if let Some(end) = view.show(events)? {
            return Ok(end);
        }
    }
    let end = view.show(pipeline.finish())?.unwrap_or(Ending::Done);
    close_recording(&mut pipeline, record)?;
    Ok(end)
}

/// What a session recording says a `read` was: the file's name.
#[must_use]
pub fn read_source(path: &Path) -> Source {
    Source::Read {
        file: path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        ),
    }
}

/// What a session recording says a `watch` was.
#[must_use]
pub fn watch_source(setup: &WatchSetup) -> Source {
    Source::Watch {
        iface: setup.iface.clone(),
        filter: describe_filter(&setup.filter()),
    }
}

/// What a session recording says a demo was: `name` and its script, the
/// peers that get a lane, how the lab ran.
#[must_use]
pub fn demo_source(name: &str, script: &Script, setup: &DemoSetup) -> Source {
    Source::Demo {
        name: name.to_owned(),
        script: script.text.clone(),
        peers: script.endpoints().iter().map(ToString::to_string).collect(),
        rootless: setup.ns.rootless,
        ipv6: setup.ipv6,
    }
}

/// Shows a recording's events to a headless view (`synack replay --json`,
/// `--text`, `--export`): the events the recorded run showed, as they were.
/// With `step`, each step waits for a line on stdin (Enter), as a demo's.
///
/// # Errors
/// The view fails.
pub fn replay_headless(
    rec: crate::recording::Recording,
    step: bool,
    view: &mut dyn View,
) -> Result<Ending> {
    let chained: Vec<bool> = match &rec.header.source {
        Source::Demo { name, script, .. } => crate::lab::parse(name, script)
            .map(|s| s.steps.iter().map(|s| s.at_once).collect())
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    let mut from = 0;
    for (i, e) in rec.events.iter().enumerate() {
        let Event::Step(s) = e else { continue };
        let gated = !(s.index >= 2 && chained.get(s.index - 1) == Some(&true));
        if !step || !gated {
            continue;
        }
        if let Some(end) = view.show(&rec.events[from..i])? {
            return Ok(end);
        }
        from = i;
        let mut line = String::new();
        if io::stdin().read_line(&mut line).is_ok_and(|n| n == 0) {
            // Stdin is closed: the rest plays at once.
            break;
        }
    }
    Ok(view.show(&rec.events[from..])?.unwrap_or(Ending::Done))
}

/// A headless view in the loop: it takes events, and the run ends when
/// the lab or the file is done.
struct Headless<'a> {
    view: &'a mut dyn View,
    /// The view had enough (`--count`, a closed pipe): nothing more is shown.
    over: bool,
    lab_error: Option<String>,
}

impl Face for Headless<'_> {
    fn message(&mut self, msg: Msg, _feed: &mut Feed) -> Result<Option<Ending>> {
        Ok(match msg {
            Msg::LabDone { error, .. } | Msg::SourceDone { error, .. } => {
                self.lab_error = error;
                Some(Ending::Done)
            }
            // Each step shows as its rows come; no terminal here.
            Msg::StepBegan { .. }
            | Msg::Ui(_)
            | Msg::TerminalGone
            | Msg::Inputs { .. }
            | Msg::Frames { .. }
            | Msg::Events { .. } => None,
        })
    }

    fn show(&mut self, events: &mut Vec<Event>) -> Result<Option<Ending>> {
        let end = self.view.show(events)?;
        self.over |= end.is_some();
        Ok(end)
    }

    fn deadline(&mut self) -> Option<Ending> {
        Some(Ending::Done)
    }
}

/// Runs the loop for a headless view until the sources end, the deadline
/// passes, the view has enough, or a signal; then what is still held is
/// shown (unless the view had enough) and the sources stop.
fn headless(
    rx: &mut mpsc::UnboundedReceiver<Msg>,
    feed: &mut Feed,
    session: &mut Session,
    view: &mut dyn View,
) -> Result<(Ending, Option<String>)> {
    let mut face = Headless {
        view,
        over: false,
        lab_error: None,
    };
    let rt = drive::runtime()?;
    let ended = rt.block_on(drive::drive(rx, None, feed, &mut face));
    let shown = ended.and_then(|end| {
        if face.over {
            return Ok(end);
        }
        Ok(face.view.show(feed.finish(rx))?.unwrap_or(end))
    });
    session.stop();
    feed.close_recording()?;
    Ok((shown?, face.lab_error))
}

/// `synack watch`, headless. `announce` is told once every source runs.
///
/// # Errors
/// The capture cannot be opened (with what to do), or the output fails.
pub fn watch(
    setup: &WatchSetup,
    record: Option<&RecordTo>,
    view: &mut dyn View,
    announce: impl FnOnce(Dropped),
) -> Result<Ending> {
    let mut feed = Feed::new(record.cloned())?;
    let (tx, mut rx) = mpsc::unbounded_channel();
    // A session recording keeps the packets' bytes: a replay's details
    // view shows them.
    let keep_bytes = record.is_some_and(|r| !r.inputs);
    let mut session = Session::watch(0, setup, keep_bytes, &tx, &feed.backlog)?;
    drop(tx);
    feed.begin_recording(watch_source(setup), session.kernel_mode)?;
    announce(session.dropped);
    feed.deadline = setup
        .duration
        .map(|s| Instant::now() + Duration::from_secs_f64(s));
    headless(&mut rx, &mut feed, &mut session, view).map(|(end, _)| end)
}

/// A human-readable summary of a watch filter (`tcp and udp, port 80`).
#[must_use]
pub fn describe_filter(f: &Filter) -> String {
    let mut parts = vec!["tcp and udp".to_owned()];
    if !f.ports.is_empty() {
        let p: Vec<String> = f.ports.iter().map(u16::to_string).collect();
        parts.push(format!("port {}", p.join(" or ")));
    }
    if !f.hosts.is_empty() {
        let h: Vec<String> = f.hosts.iter().map(ToString::to_string).collect();
        parts.push(format!("host {}", h.join(" or ")));
    }
    parts.join(", ")
}

/// `synack demo`, headless: plays the script in a clean lab and stops when it
/// ends or on Ctrl-C. With `setup.step`, each line on stdin runs one step.
///
/// # Errors
/// Capture cannot start; a peer cannot start; the output fails.
pub fn demo(
    name: &str,
    script: &Script,
    setup: &DemoSetup,
    record: Option<&RecordTo>,
    view: &mut dyn View,
) -> Result<Ending> {
    let mut feed = Feed::new(record.cloned())?;
    let (tx, mut rx) = mpsc::unbounded_channel();
    // A recording keeps the packets' bytes: the screen's details view replays them.
    let keep_bytes = record.is_some();
    let (mut session, control) =
        Session::demo(0, script, setup, false, keep_bytes, &tx, &feed.backlog)?;
    drop(tx);
    feed.begin_recording(demo_source(name, script, setup), session.kernel_mode)?;
    if setup.step {
        // Enter runs the next step; the thread ends with stdin or the lab.
        std::thread::spawn(move || {
            let mut line = String::new();
            while io::stdin().read_line(&mut line).is_ok_and(|n| n > 0) {
                line.clear();
                if control.send(LabControl::Next).is_err() {
                    break;
                }
            }
        });
    } else {
        drop(control);
    }
    let (ending, lab_error) = headless(&mut rx, &mut feed, &mut session, view)?;
    if let Some(e) = lab_error {
        return Err(anyhow::anyhow!(e)).context("the lab stopped");
    }
    Ok(ending)
}
