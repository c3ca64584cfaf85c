//! The model behind the reorder buffer: inputs go in as the sources deliver
//! them, events come out in time order once every source had time to report.
//! Time is an argument (`drain(until)`): the wiring passes the clock, a test
//! passes a virtual one.

use std::time::Duration;

use super::reorder::Reorder;
use super::{Input, Model};
use crate::event::Event;
use crate::time::Timestamp;

/// How long inputs wait so that late reports from other sources can be put
/// in front of them.
pub const HOLD: Duration = Duration::from_millis(150);

/// Takes a copy of each input the model takes, in the model's order
/// (`--record FILE` writes them out; replayed they give the same events).
pub trait Recorder {
    fn record(&mut self, input: &Input);
    /// Events the model made, in the order it made them (`--record FILE`
    /// keeps these: a session recording).
    fn events(&mut self, _events: &[Event]) {}
    /// The run is over: whatever the recorder still holds is written.
    ///
    /// # Errors
    /// The recorder's own output failed (at any point of the run).
    fn finish(&mut self) -> std::io::Result<()>;
}

/// Reorder buffer + model.
#[derive(Default)]
pub struct Pipeline {
    reorder: Reorder,
    model: Model,
    buf: Vec<Event>,
    recorder: Option<Box<dyn Recorder>>,
    /// Late inputs already reported.
    late_reported: u64,
}

impl Pipeline {
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// A pipeline whose model's inputs also go to `recorder`.
    #[must_use]
    pub fn recording(recorder: Option<Box<dyn Recorder>>) -> Self {
        Self {
            recorder,
            ..Self::default()
        }
    }

    /// Finishes the recorder, if any (it records nothing more).
    ///
    /// # Errors
    /// The recorder's output failed.
    pub fn finish_recording(&mut self) -> std::io::Result<()> {
        match self.recorder.take() {
            Some(mut r) => r.finish(),
            None => Ok(()),
        }
    }

    fn feed(&mut self, input: Input) {
        if let Some(r) = &mut self.recorder {
            r.record(&input);
        }
        self.model.ingest(input, &mut self.buf);
        let late = self.reorder.late();
        // Said at the first, then each time the count doubles.
        if late > 0 && late >= self.late_reported.saturating_mul(2) {
            self.late_reported = late;
            let warning = Input::Event(Event::Warning {
                ts: self.reorder.released(),
                message: format!(
                    "{late} reports so far reached synack more than {} ms after the fact \
                     (the machine is overloaded); they are shown after newer events",
                    HOLD.as_millis()
                ),
            });
            self.model.ingest(warning, &mut self.buf);
        }
    }

    pub fn push(&mut self, input: Input) {
        self.reorder.push(input);
    }

    pub fn push_all(&mut self, inputs: Vec<Input>) {
        for i in inputs {
            self.reorder.push(i);
        }
    }

    /// Feeds the model what has waited long enough (everything when
    /// `until` is `None`); returns the events it made.
    pub fn drain(&mut self, until: Option<Timestamp>) -> &[Event] {
        self.buf.clear();
        loop {
            let next = match until {
                Some(u) => self.reorder.pop_until(u),
                None => self.reorder.pop(),
            };
            let Some(input) = next else { break };
            self.feed(input);
        }
        self.told();
        &self.buf
    }

    /// The recorder sees the events made since the buffer was cleared.
    fn told(&mut self) {
        if let Some(r) = &mut self.recorder {
            if !self.buf.is_empty() {
                r.events(&self.buf);
            }
        }
    }

    /// Like [`Pipeline::drain`], but feeds at most `max` inputs; the flag
    /// tells whether more are due. A busy source's backlog then goes out in
    /// slices instead of as one batch the size of everything waiting.
    pub fn drain_some(&mut self, until: Timestamp, max: usize) -> (&mut Vec<Event>, bool) {
        self.buf.clear();
        for _ in 0..max {
            let Some(input) = self.reorder.pop_until(until) else {
                self.told();
                return (&mut self.buf, false);
            };
            self.feed(input);
        }
        self.told();
        (&mut self.buf, true)
    }

    /// The run is over: everything held, then what the model still holds.
    pub fn finish(&mut self) -> &mut Vec<Event> {
        self.buf.clear();
        while let Some(input) = self.reorder.pop() {
            self.feed(input);
        }
        self.model.finish(&mut self.buf);
        self.told();
        &mut self.buf
    }

    /// Packets the model has seen.
    #[must_use]
    pub fn packets(&self) -> u64 {
        self.model.packets
    }
}

/// Replays recorded inputs (in the order a model took them) through a new
/// model: the events the run showed.
pub fn replay(inputs: impl IntoIterator<Item = Input>) -> Vec<Event> {
    let mut model = Model::new();
    let mut out = Vec::new();
    for input in inputs {
        model.ingest(input, &mut out);
    }
    model.finish(&mut out);
    out
}
