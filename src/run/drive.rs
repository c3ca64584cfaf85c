//! The run loop, one for every view. It takes what the sources sent (the
//! funnel), feeds the inputs to the model through the reorder window, and
//! hands the events that come out to the view in slices; it wakes every
//! [`TICK`] so that held inputs are released and clocks move, and ends on
//! a signal, at the deadline, or when the view or the sources say so.
//!
//! What differs between views is a [`Face`]: the headless writers only take
//! events; the screen also takes keys (on a channel of their own, read
//! first), ticks (its countdowns and the quiz), and draws after each turn.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;

use super::record::RecordTo;
use super::{Backlog, Msg, settled};
use crate::event::Event;
use crate::model::pipeline::Pipeline;
use crate::output::sink::Ending;
use crate::time::Timestamp;

/// How often the loop wakes without input: held inputs are released and
/// the clock moves.
pub const TICK: Duration = Duration::from_millis(50);

/// Inputs fed to the model between two hand-overs to the view: enough for
/// few system calls, few enough that a key never waits behind many.
pub(crate) const DRAIN_SLICE: usize = 1024;

/// Messages taken out of the funnel in one turn, besides the first: one
/// drain, one write for all of them.
const BATCH: usize = 64;

/// The model's side of a run: what feeds it and what it has.
pub struct Feed {
    /// The run whose inputs are taken; what an older run still had in
    /// flight is dropped.
    pub run: u64,
    pub pipeline: Pipeline,
    pub backlog: Backlog,
    /// A file is read: no reordering wait.
    pub file: bool,
    /// `--duration`: when the sources stop.
    pub deadline: Option<Instant>,
    /// Where each run's recording goes (`--record`).
    pub record: Option<RecordTo>,
    /// A run of this feed made the recording's file already (a restart
    /// replaces it).
    recorded: bool,
}

impl Feed {
    /// A feed for run 0. Its recording begins with [`Feed::begin_recording`],
    /// once the run's sources say what they are.
    ///
    /// # Errors
    /// None yet (the recording's file is made when it begins).
    pub fn new(record: Option<RecordTo>) -> Result<Self> {
        Ok(Self {
            run: 0,
            pipeline: Pipeline::new(),
            backlog: Backlog::default(),
            file: false,
            deadline: None,
            record,
            recorded: false,
        })
    }

    /// Begins the run's recording (`--record`), with its header. Called
    /// before the loop takes the run's first input.
    ///
    /// # Errors
    /// The recording cannot be created.
    pub fn begin_recording(
        &mut self,
        source: crate::recording::Source,
        kernel: crate::model::KernelMode,
    ) -> Result<()> {
        if let Some(to) = &self.record {
            let header = crate::recording::Header::new(source, to.lang, kernel);
            self.pipeline = super::record::pipeline(Some(to), &header, self.recorded)?;
            self.recorded = true;
        }
        Ok(())
    }

    /// Flushes the recording.
    ///
    /// # Errors
    /// Writing it failed (at any point of the run).
    pub fn close_recording(&mut self) -> Result<()> {
        super::record::close_recording(&mut self.pipeline, self.record.as_ref())
    }

    /// Starts a new run: what the old one still sends is dropped, and its
    /// recording is closed (the new run's begins with its sources).
    ///
    /// # Errors
    /// The recording cannot be written.
    pub fn next_run(&mut self) -> Result<()> {
        self.run += 1;
        self.close_recording()?;
        self.pipeline = Pipeline::new();
        Ok(())
    }

    /// Takes a message's inputs; any other message is returned.
    fn take(&mut self, msg: Msg) -> Option<Msg> {
        match msg {
            Msg::Inputs { run, inputs } => {
                self.backlog.taken(inputs.len());
                if run == self.run {
                    self.pipeline.push_all(inputs);
                }
                None
            }
            // A capture's frames are parsed here, as they enter the reorder
            // window: until then they wait as bytes (`capture::Frames`).
            Msg::Frames { run, frames } => {
                self.backlog.taken(frames.len());
                if run == self.run {
                    for frame in frames.iter() {
                        if let Some(input) = super::frame_input(&frame, frames.keep_bytes()) {
                            self.pipeline.push(input);
                        }
                    }
                }
                None
            }
            other => Some(other),
        }
    }

    /// After the loop: what arrived is taken, and everything held comes out.
    pub fn finish(&mut self, rx: &mut mpsc::UnboundedReceiver<Msg>) -> &mut Vec<Event> {
        while let Ok(msg) = rx.try_recv() {
            self.take(msg);
        }
        self.pipeline.finish()
    }
}

/// What a view adds to the loop. `Some(ending)` from any of these ends the run.
pub trait Face {
    /// A message that is not inputs: the lab or a file source is done, a
    /// step began, a key, the terminal went away.
    ///
    /// # Errors
    /// What it did in answer failed (a new run could not start).
    fn message(&mut self, msg: Msg, feed: &mut Feed) -> Result<Option<Ending>>;

    /// Events the model made, in time order.
    ///
    /// # Errors
    /// The view cannot show them.
    fn show(&mut self, events: &mut Vec<Event>) -> Result<Option<Ending>>;

    /// The clock moved (every [`TICK`]).
    ///
    /// # Errors
    /// As [`Face::message`].
    fn tick(&mut self, _feed: &mut Feed) -> Result<Option<Ending>> {
        Ok(None)
    }

    /// `--duration` is over.
    fn deadline(&mut self) -> Option<Ending>;

    /// A turn of the loop ended; `urgent` when it took a key.
    ///
    /// # Errors
    /// Drawing failed.
    fn turn_end(&mut self, _urgent: bool) -> Result<()> {
        Ok(())
    }
}

/// The next key, or never when the view takes none.
async fn next_key(keys: &mut Option<&mut mpsc::UnboundedReceiver<Msg>>) -> Option<Msg> {
    match keys {
        Some(k) => k.recv().await,
        None => std::future::pending().await,
    }
}

/// Runs the loop until a signal, the deadline, the view or the sources end
/// it. With `keys` (a terminal), its hang-up ends the run too; without, a
/// hang-up is left to what the process was told (`nohup` keeps it running).
///
/// # Errors
/// The view failed, or the signals cannot be listened for.
pub async fn drive(
    rx: &mut mpsc::UnboundedReceiver<Msg>,
    mut keys: Option<&mut mpsc::UnboundedReceiver<Msg>>,
    feed: &mut Feed,
    face: &mut dyn Face,
) -> Result<Ending> {
    let mut term = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("listening for SIGINT")?;
    let mut hup = match keys {
        Some(_) => Some(signal(SignalKind::hangup()).context("listening for SIGHUP")?),
        None => None,
    };
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Inputs due and not yet fed: the next turn feeds them before taking news.
    let mut more_due = false;
    loop {
        let mut urgent = false;
        // Keys and signals first: under a flood the funnel holds seconds of
        // packets, and a key must not wait behind them.
        let first = tokio::select! {
            biased;
            Some(msg) = next_key(&mut keys) => {
                urgent = true;
                Some(msg)
            }
            _ = term.recv() => return Ok(Ending::Interrupted),
            _ = int.recv() => return Ok(Ending::Interrupted),
            Some(()) = async {
                match &mut hup {
                    Some(h) => h.recv().await,
                    None => std::future::pending().await,
                }
            } => return Ok(Ending::Interrupted),
            _ = tick.tick() => {
                if let Some(end) = face.tick(feed)? {
                    return Ok(end);
                }
                None
            }
            () = std::future::ready(()), if more_due => None,
            msg = rx.recv() => match msg {
                Some(msg) => Some(msg),
                None => return Ok(Ending::Done),
            },
        };
        if let Some(msg) = first {
            if let Some(other) = feed.take(msg) {
                if let Some(end) = face.message(other, feed)? {
                    return Ok(end);
                }
            }
            if !urgent {
                // What else is waiting goes in the same turn.
                for _ in 0..BATCH {
                    let Ok(msg) = rx.try_recv() else { break };
                    if let Some(other) = feed.take(msg) {
                        if let Some(end) = face.message(other, feed)? {
                            return Ok(end);
                        }
                    }
                }
            }
        }
        let until = if feed.file {
            Timestamp(u64::MAX)
        } else {
            settled()
        };
        let (events, more) = feed.pipeline.drain_some(until, DRAIN_SLICE);
        more_due = more;
        if !events.is_empty() {
            if let Some(end) = face.show(events)? {
                return Ok(end);
            }
        }
        face.turn_end(urgent)?;
        // Under a flood a message is always ready and the runtime would never
        // get to its timers and signals: the deadline is checked here, and
        // each turn lets the runtime poll them.
        if feed.deadline.is_some_and(|d| Instant::now() >= d) {
            feed.deadline = None;
            if let Some(end) = face.deadline() {
                return Ok(end);
            }
        }
        tokio::task::yield_now().await;
    }
}

/// The runtime the loop runs on: one thread, the loop's own.
///
/// # Errors
/// The runtime cannot start.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")
}
