//! The headless views as the run loop sees them: each takes the model's
//! events in time order and says when the run should end. [`Sink`] writes
//! them as they come (`--json`, `--text`); [`Collect`] keeps them for a
//! diagram made at the end (`--export`).

use std::collections::BTreeSet;
use std::io::{self, Write};

use anyhow::{Context, Result};

use super::{Format, Writer};
use crate::event::Event;
use crate::i18n::Lang;

/// Why a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// Every source finished (file read, scenario ended, --count/--duration reached).
    Done,
    /// Ctrl-C.
    Interrupted,
    /// The output pipe was closed (e.g. `| head`): stop quietly.
    OutputClosed,
}

/// Where the model's events go when no screen shows them.
pub trait View {
    /// Takes a batch of events in time order; `Some(ending)` stops the run.
    ///
    /// # Errors
    /// The view cannot show them (the output failed).
    fn show(&mut self, events: &[Event]) -> Result<Option<Ending>>;
}

/// Writes a run's events as they come, and stops after `--count` packets.
pub struct Sink<W: Write> {
    writer: Writer<W>,
    count: Option<u64>,
    shown_packets: u64,
}

impl<W: Write> Sink<W> {
    pub fn new(format: Format, lang: Lang, out: W, count: Option<u64>) -> Self {
        Self {
            writer: Writer::new(format, lang, out),
            count,
            shown_packets: 0,
        }
    }

    /// Adds an event. `false` once `--count` packets have been shown.
    fn emit(&mut self, ev: &Event) -> bool {
        if self.count.is_some_and(|c| self.shown_packets >= c) {
            return false;
        }
        self.writer.add(ev);
        if matches!(ev, Event::Packet(_)) {
            self.shown_packets += 1;
        }
        self.count.is_none_or(|c| self.shown_packets < c)
    }
}

impl<W: Write> View for Sink<W> {
    /// Writes a batch, in one write.
    fn show(&mut self, events: &[Event]) -> Result<Option<Ending>> {
        let mut more = true;
        for ev in events {
            if !self.emit(ev) {
                more = false;
                break;
            }
        }
        match self.writer.flush() {
            Ok(()) if more => Ok(None),
            Ok(()) => Ok(Some(Ending::Done)),
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(Some(Ending::OutputClosed)),
            Err(e) => Err(e).context("writing the output"),
        }
    }
}

/// Keeps a run's events for a view that shows them only at the end (the
/// `--export` diagrams). Bounded: past `limit` events the run stops and
/// `truncated` says so. With `conn`, packets and states of other
/// connections are not kept (calls are: which connection a call served is
/// known only at the end).
pub struct Collect {
    pub events: Vec<Event>,
    pub conn: Option<u32>,
    pub limit: usize,
    pub truncated: bool,
    /// Every connection number the run had, kept or not.
    pub conns: BTreeSet<u32>,
}

impl Collect {
    #[must_use]
    pub fn new(conn: Option<u32>, limit: usize) -> Self {
        Self {
            events: Vec::new(),
            conn,
            limit,
            truncated: false,
            conns: BTreeSet::new(),
        }
    }
}

impl View for Collect {
    fn show(&mut self, events: &[Event]) -> Result<Option<Ending>> {
        for e in events {
            if let Event::Packet(p) = e {
                self.conns.insert(p.conn.0);
            }
            let other = match (e, self.conn) {
                (Event::Packet(p), Some(c)) => p.conn.0 != c,
                (Event::State(s), Some(c)) => s.conn.is_some_and(|x| x.0 != c),
                (Event::SocketQueues(_) | Event::Queue(_), _) => true,
                // A handout draws a congestion state's changes only.
                (Event::Congestion(c), conn) => {
                    !c.is_change() || conn.is_some_and(|n| c.conn.map(|c| c.0) != Some(n))
                }
                _ => false,
            };
            if other {
                continue;
            }
            if self.events.len() >= self.limit {
                self.truncated = true;
                return Ok(Some(Ending::Done));
            }
            self.events.push(e.clone());
        }
        Ok(None)
    }
}
