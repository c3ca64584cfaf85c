//! The pure core of a run: inputs in timestamp order → events for the views.
//! No I/O and no clock: whatever time it needs arrives with the inputs.

use crate::app::{CallEvent, Event, PacketEvent};
use crate::tcp::Segment;
use crate::tcp::track::{Notes, Tracker};
use crate::time::Timestamp;

/// What the sources feed the model.
#[derive(Clone, Debug)]
pub enum Input {
    /// A parsed packet.
    Segment(Segment),
    /// A frame that could not be read at all.
    Rejected {
        ts: Timestamp,
        why: crate::tcp::Malformed,
    },
    /// An event a source produced whole (lab calls, warnings).
    Event(Event),
}

impl Input {
    #[must_use]
    pub fn ts(&self) -> Timestamp {
        match self {
            Input::Segment(s) => s.ts,
            Input::Rejected { ts, .. } => *ts,
            Input::Event(e) => e.ts(),
        }
    }
}

/// Connection tracking and everything derived from the packets.
#[derive(Default)]
pub struct Model {
    tracker: Tracker,
    /// The lab's link is cut: packets seen now are dropped after capture.
    link_cut: bool,
    /// Frames rejected as unreadable, by reason, not yet reported.
    rejected: u64,
    /// Packets shown so far.
    pub packets: u64,
}

impl Model {
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds one input; the events it causes are appended to `out`.
    pub fn ingest(&mut self, input: Input, out: &mut Vec<Event>) {
        match input {
            Input::Segment(seg) => self.on_segment(seg, out),
            Input::Rejected { ts, why } => {
                self.rejected += 1;
                // One warning per reason and power of ten, so a flood of bad
                // frames is reported without drowning the timeline.
                if self.rejected.is_power_of_two() || self.rejected < 4 {
                    out.push(Event::Warning {
                        ts,
                        message: format!(
                            "malformed frame rejected ({why}); {} so far",
                            self.rejected
                        ),
                    });
                }
            }
            Input::Event(ev) => {
                if let Event::Call(c) = &ev {
                    self.on_call(c);
                }
                out.push(ev);
            }
        }
    }

    fn on_call(&mut self, c: &CallEvent) {
        if c.call == "link" && c.phase.is_none() && c.result == "ok" {
            match c.args.as_str() {
                "cut" => self.link_cut = true,
                "restore" => self.link_cut = false,
                _ => {}
            }
        }
    }

    fn on_segment(&mut self, seg: Segment, out: &mut Vec<Event>) {
        let a = self.tracker.track(&seg);
        let mut notes = a.notes;
        if self.link_cut {
            notes.insert(Notes::LOST);
        }
        self.packets += 1;
        out.push(Event::Packet(Box::new(PacketEvent {
            segment: seg,
            conn: a.conn,
            from: a.from,
            seq: a.seq,
            ack: a.ack,
            win: a.win,
            notes,
        })));
    }
}
