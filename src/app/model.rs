//! The pure core of a run: inputs in timestamp order → events for the views.
//! No I/O and no clock: whatever time it needs arrives with the inputs.

use crate::app::states::States;
use crate::event::{CallEvent, CallResult, Event, LabAction, LabEvent, PacketEvent};
use crate::kernel::diag::SockInfo;
use crate::kernel::trace::Transition as KernelTransition;
use crate::kernel::{KernelMode, ListenCounters};
use crate::tcp::track::{Notes, Tracker};
use crate::tcp::{RawFrame, Segment};
use crate::time::Timestamp;

/// What the sources feed the model. Serializable: a run's inputs, recorded
/// in the order the model took them, replay to the same events.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub enum Input {
    /// A parsed packet, with its bytes when the view keeps them.
    Segment { seg: Segment, raw: Option<RawFrame> },
    /// A frame that could not be read at all.
    Rejected {
        ts: Timestamp,
        why: crate::tcp::Malformed,
    },
    /// An event a source produced whole (lab calls, warnings).
    Event(Event),
    /// What the kernel can tell in this run (sent once, at the start).
    KernelMode { ts: Timestamp, mode: KernelMode },
    /// A sock_diag snapshot with the namespace's listen counters.
    Snapshot {
        ts: Timestamp,
        socks: Vec<SockInfo>,
        counters: Option<ListenCounters>,
    },
    /// A transition from the inet_sock_set_state tracepoint.
    Transition(KernelTransition),
}

impl Input {
    #[must_use]
    pub fn ts(&self) -> Timestamp {
        match self {
            Input::Segment { seg, .. } => seg.ts,
            Input::Rejected { ts, .. } => *ts,
            Input::Event(e) => e.ts(),
            Input::KernelMode { ts, .. } | Input::Snapshot { ts, .. } => *ts,
            Input::Transition(t) => t.ts,
        }
    }
}

/// Connection tracking, states, and everything derived from the packets.
#[derive(Default)]
pub struct Model {
    tracker: Tracker,
    states: States,
    /// The lab is closing: what follows is its teardown.
    ended: bool,
    /// The lab's link is cut: packets seen now are dropped after capture
    /// (`Some(None)`: every peer's; `Some(Some(name))`: that peer's only).
    link_cut: Option<Option<String>>,
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

    /// The run is over: everything still held for matching, in time order.
    pub fn finish(&mut self, out: &mut Vec<Event>) {
        self.states.flush(out);
    }

    /// Feeds one input; the events it causes are appended to `out`.
    pub fn ingest(&mut self, input: Input, out: &mut Vec<Event>) {
        match input {
            Input::Segment { seg, raw } => {
                if !self.ended {
                    self.on_segment(seg, raw, out);
                }
            }
            Input::KernelMode { ts, mode } => {
                self.states.set_mode(mode);
                let _ = ts;
            }
            Input::Snapshot {
                ts,
                socks,
                counters,
            } => {
                if !self.ended {
                    self.states.on_snapshot(ts, &socks, counters, out);
                }
            }
            Input::Transition(t) => {
                if !self.ended {
                    self.states.on_kernel_transition(&t, out);
                }
            }
            Input::Rejected { ts, why } => {
                self.rejected += 1;
                // One warning per reason and power of ten, so a flood of bad
                // frames is reported without drowning the timeline.
                if self.rejected.is_power_of_two() || self.rejected < 4 {
                    self.states.hold(
                        Event::Warning {
                            ts,
                            message: format!(
                                "malformed frame rejected ({why}); {} so far",
                                self.rejected
                            ),
                        },
                        out,
                    );
                }
            }
            Input::Event(ev) => {
                match &ev {
                    Event::Call(c) => self.on_call(c),
                    Event::Lab(l) => self.on_lab(l),
                    _ => {}
                }
                self.states.hold(ev, out);
            }
        }
    }

    fn on_call(&mut self, c: &CallEvent) {
        // A blocked connect() names its socket in its start report already:
        // its packets (and a cut link's losses) are that peer's from then on.
        if let Some(local) = c.local {
            self.states.learn_peer(local, &c.endpoint);
            if c.call == "listen" && c.result == Some(CallResult::Ok) {
                self.states.learn_listen(local, c.ts);
            }
        }
    }

    fn on_lab(&mut self, l: &LabEvent) {
        if l.result != CallResult::Ok {
            return;
        }
        match &l.action {
            // `cut client2` cuts one peer only: its incoming packets are lost.
            LabAction::LinkCut { only } => self.link_cut = Some(only.clone()),
            LabAction::LinkRestored { .. } => self.link_cut = None,
            LabAction::Closing => self.ended = true,
            _ => {}
        }
    }

    fn on_segment(&mut self, seg: Segment, raw: Option<RawFrame>, out: &mut Vec<Event>) {
        let a = self.tracker.track(&seg);
        let mut notes = a.notes;
        let lost = match &self.link_cut {
            None => false,
            Some(None) => true,
            // Only packets arriving at that peer's sockets are dropped.
            Some(Some(peer)) => self.states.peer_name(seg.dst) == Some(peer.as_str()),
        };
        if lost {
            notes.insert(Notes::LOST);
        }
        self.packets += 1;
        // The packet first: the states it causes come right after it.
        self.states.hold(
            Event::Packet(Box::new(PacketEvent {
                segment: seg,
                conn: a.conn,
                from: a.from,
                seq: a.seq,
                ack: a.ack,
                win: a.win,
                notes,
                raw,
            })),
            out,
        );
        if let Some(hdr) = seg.tcp {
            self.states
                .on_segment(&seg, &hdr, a.conn, a.from, lost, out);
        }
    }
}
