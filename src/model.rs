//! The pure core of a run: what the sources report in, events for the views
//! out. No I/O and no clock: whatever time it needs arrives with the inputs.
//!
//! ```text
//!  Input ─► reorder (HOLD) ─► Model ─┬─ Tracker (tcp::track: conns, notes)
//!                                    ├─ link (which packets the lab's link dropped)
//!                                    └─ merge ─┬─ view (the kernel's reports reconciled)
//!                                              └─ ConnMachine (tcp::state: states from packets)
//!                                    ─► Event, in time order
//! ```
//!
//! - [`reports`]: the kernel's reports as plain values (sock_diag sockets,
//!   tracepoint transitions and resets, the kernel mode).
//! - [`view`]: the kernel's two reports reconciled into one state per socket.
//! - [`merge`]: each socket's one timeline from the kernel and the packets.
//! - [`reorder`], [`pipeline`]: time order across sources that report late.
//! - [`link`]: the lab's link rules, applied to captured segments.

pub mod link;
pub mod merge;
pub mod pipeline;
pub mod reorder;
pub mod reports;
pub mod rules;
pub(crate) mod sorted;
pub mod view;

pub use reports::{KernelMode, ListenCounters};

use crate::event::{CallEvent, CallResult, CongSource, Event, LabAction, LabEvent, PacketEvent};
use crate::tcp::track::{Analysis, Notes, Tracker};
use crate::tcp::{RawFrame, Segment};
use crate::time::Timestamp;
use link::LinkRule;
use merge::States;
use reports::{Reset, Retransmit, SkbDrop, SockInfo, Traces, Transition as KernelTransition};

/// What the sources feed the model. Serializable: a run's inputs, recorded
/// in the order the model took them, replay to the same events.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub enum Input {
    /// A parsed packet, with its bytes when the view keeps them.
    /// (Boxed, as the packet event keeps it: the box moves from the
    /// capture thread to the view, the segment is never copied.)
    Segment {
        seg: Box<Segment>,
        raw: Option<RawFrame>,
    },
    /// A frame that could not be read at all.
    Rejected {
        ts: Timestamp,
        why: crate::tcp::Malformed,
    },
    /// An event a source produced whole (lab calls, warnings).
    Event(Event),
    /// What the kernel can tell in this run (sent once, at the start).
    KernelMode { ts: Timestamp, mode: KernelMode },
    /// A sock_diag snapshot with the namespace's listen counters; or of the
    /// listeners alone (`listeners_only`: what it does not show may exist).
    Snapshot {
        ts: Timestamp,
        socks: Vec<SockInfo>,
        counters: Option<ListenCounters>,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        listeners_only: bool,
        /// When the walk began (`ts` is when it ended): each socket was
        /// read somewhere between. Recordings made before it was kept have
        /// none (the walk is then taken as instant).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        started: Option<Timestamp>,
    },
    /// A transition from the inet_sock_set_state tracepoint.
    Transition(KernelTransition),
    /// A reset the kernel sent, and why (the tcp_send_reset tracepoint):
    /// the RST packet it explains carries the reason.
    Reset(Reset),
    /// A segment the kernel dropped, and why (the skb:kfree_skb
    /// tracepoint): the packet it was carries the reason.
    Drop(SkbDrop),
    /// A segment the kernel retransmitted (tcp_retransmit_skb/_synack):
    /// the packet it was is marked as the kernel's retransmission.
    Retransmit(Retransmit),
    /// What the tracer reads besides the transitions, once at the start
    /// of a run: a capture's retransmission the kernel would have reported
    /// and did not is marked as inferred only.
    Traces { ts: Timestamp, traces: Traces },
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
            Input::Reset(r) => r.ts,
            Input::Drop(d) => d.ts,
            Input::Retransmit(r) => r.ts,
            Input::Traces { ts, .. } => *ts,
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
    /// The lab's link drops packets after capture: the rule, and whose
    /// (`None`: every peer's; `Some(name)`: that peer's only).
    link: Option<(LinkRule, Option<crate::event::EndpointName>)>,
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
        self.take(input, out);
        // Connections the states forgot (finished a while ago) leave the
        // tracker too.
        for (id, (client, server)) in self.states.take_retired() {
            self.tracker.forget(client, server, id);
        }
    }

    fn take(&mut self, input: Input, out: &mut Vec<Event>) {
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
                listeners_only,
                started,
            } => {
                if !self.ended {
                    self.states
                        .on_walk(ts, started, socks, counters, listeners_only, out);
                }
            }
            Input::Transition(t) => {
                if !self.ended {
                    self.states.on_kernel_transition(&t, out);
                }
            }
            Input::Reset(r) => {
                if !self.ended {
                    self.states.on_reset(r);
                }
            }
            Input::Drop(d) => {
                if !self.ended {
                    self.states.on_drop(&d);
                }
            }
            Input::Retransmit(r) => {
                if !self.ended {
                    self.states.on_retransmit(r);
                }
            }
            Input::Traces { traces, .. } => self.states.set_traces(traces),
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
            Input::Event(mut ev) => {
                match &mut ev {
                    Event::Call(c) => self.on_call(c),
                    Event::Lab(l) => self.on_lab(l),
                    // A socket's congestion report names its connection by
                    // its addresses (its packets came before it).
                    Event::Congestion(c) if c.conn.is_none() => {
                        let (conn, endpoint) = self.states.socket_of(c.local, c.remote);
                        if conn.is_none() && c.source == CongSource::Kernel {
                            // The tracepoint sees every namespace: a socket
                            // none of whose packets was captured here is
                            // another's (a second lab on the same ports).
                            return;
                        }
                        c.conn = conn;
                        // The tracepoint does not know whose socket it is.
                        if c.endpoint.is_empty() {
                            c.endpoint = endpoint;
                        }
                    }
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
            LabAction::LinkCut { only } => self.link = Some((LinkRule::Cut, only.clone())),
            LabAction::LinkLoss { per_10k, only } => {
                self.link = Some((LinkRule::Loss(*per_10k), only.clone()));
            }
            LabAction::LinkDrop { at, only, .. } => {
                self.link = Some((LinkRule::Drop(at.clone()), only.clone()));
            }
            LabAction::LinkRestored { .. } => self.link = None,
            LabAction::Closing => self.ended = true,
            _ => {}
        }
    }

    fn on_segment(&mut self, seg: Box<Segment>, raw: Option<RawFrame>, out: &mut Vec<Event>) {
        let states = &self.states;
        let a = self
            .tracker
            .track_with(&seg, |s| states.retired_conn(s.src, s.dst));
        let mut evicted = 0usize;
        for id in self.tracker.take_evicted() {
            self.states.forget(id, false);
            evicted += 1;
        }
        if evicted > 0 {
            self.states.hold(
                Event::Warning {
                    ts: seg.ts,
                    message: format!(
                        "synack remembers at most {} connections: it forgot the {evicted} least \
                         recently active (closed ones first); their next packets are shown as \
                         new connections",
                        self.tracker.capacity()
                    ),
                },
                out,
            );
        }
        let mut notes = a.notes;
        let lost = match &self.link {
            None => false,
            Some((rule, only)) => {
                // Only packets arriving at that peer's sockets are dropped.
                let at_peer = match only {
                    None => true,
                    Some(peer) => self.states.peer_name(seg.dst) == Some(peer.as_ref()),
                };
                at_peer && rule.drops(&seg, a.seq)
            }
        };
        if lost {
            notes.insert(Notes::LOST);
        }
        self.packets += 1;
        self.states.captured(&seg);
        // Its connection is active: not to be forgotten while its packet is shown.
        self.states.touch(a.conn, seg.ts);
        let (tcp, seen) = (seg.tcp, merge::Seen::of(&seg));
        // The packet first: the states it causes come right after it.
        self.states.hold(
            Event::Packet(Box::new(PacketEvent {
                segment: seg,
                analysis: Analysis { notes, ..a },
                // Named as it leaves the merge: a connect()'s report comes
                // after its first packets.
                endpoint: None,
                raw,
                // Given as it leaves the merge: the kernel's report may come after it.
                rst_reason: None,
                drop_reason: None,
                retransmit: None,
            })),
            out,
        );
        if let Some(hdr) = tcp {
            self.states
                .on_segment(seen, &hdr, a.conn, a.from, lost, out);
        }
    }
}

#[cfg(test)]
mod tests {
    //! The model on hand-made inputs: what it forgets, and what it still
    //! knows after forgetting.

    use std::net::SocketAddr;

    use super::KernelMode;
    use super::reports::SockInfo;
    use super::{Input, Model};
    use crate::event::{Event, StateSource};
    use crate::tcp::{Flags, Segment, TcpState};
    use crate::time::Timestamp;

    const CLIENT: &str = "127.0.0.1:40000";
    const SERVER: &str = "127.0.0.1:7000";

    fn sa(s: &str) -> SocketAddr {
        s.parse().expect("address")
    }

    fn ms(n: u64) -> Timestamp {
        Timestamp(1_700_000_000_000_000_000 + n * 1_000_000)
    }

    fn seg(at: u64, from_client: bool, flags: Flags, seq: u32, ack: u32) -> Input {
        let (src, dst) = if from_client {
            (sa(CLIENT), sa(SERVER))
        } else {
            (sa(SERVER), sa(CLIENT))
        };
        Input::Segment {
            seg: Box::new(Segment::bare(ms(at), src, dst, flags, seq, ack)),
            raw: None,
        }
    }

    fn snapshot(at: u64, socks: &[(&str, &str, TcpState)]) -> Input {
        Input::Snapshot {
            ts: ms(at),
            socks: socks
                .iter()
                .map(|(l, r, state)| SockInfo::bare(*state, sa(l), sa(r)))
                .collect(),
            counters: None,
            listeners_only: false,
            started: None,
        }
    }

    /// A whole connection: handshake, then the client closes first (it ends
    /// in TIME-WAIT, the server CLOSED), all within 3 ms.
    fn connection(model: &mut Model, out: &mut Vec<Event>) {
        let a = Flags::ACK;
        for input in [
            seg(0, true, Flags::SYN, 100, 0),
            seg(1, false, Flags::SYN | a, 500, 101),
            seg(1, true, a, 101, 501),
            seg(2, true, Flags::FIN | a, 101, 501),
            seg(2, false, Flags::FIN | a, 501, 102),
            seg(3, true, a, 102, 502),
        ] {
            model.ingest(input, out);
        }
    }

    fn states_of<'a>(out: &'a [Event], local: &str) -> Vec<&'a crate::event::StateEvent> {
        out.iter()
            .filter_map(|e| match e {
                Event::State(s) if s.local == sa(local) => Some(&**s),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_finished_connection_is_forgotten_but_the_kernel_still_names_it() {
        let mut model = Model::new();
        let mut out = Vec::new();
        model.ingest(
            Input::KernelMode {
                ts: ms(0),
                mode: KernelMode::PollOnly,
            },
            &mut out,
        );
        connection(&mut model, &mut out);
        assert_eq!(model.states.remembered(), (1, 0));
        // A second later (a poll): the connection is over and forgotten...
        model.ingest(
            snapshot(1000, &[(CLIENT, SERVER, TcpState::TimeWait)]),
            &mut out,
        );
        assert_eq!(model.states.remembered(), (0, 1), "not forgotten");
        assert!(model.tracker.is_empty(), "the tracker still has it");
        // ...yet TIME-WAIT's end, a minute later, is still connection 1's.
        for at in [61_000, 61_020, 61_040] {
            model.ingest(snapshot(at, &[]), &mut out);
        }
        model.finish(&mut out);
        let client = states_of(&out, CLIENT);
        let end = client
            .iter()
            .find(|s| s.to == TcpState::Closed && s.source == StateSource::Kernel)
            .unwrap_or_else(|| panic!("no kernel CLOSED for the client: {client:#?}"));
        assert_eq!(end.conn.map(|c| c.0), Some(1));
        assert_eq!(end.endpoint, "client");
        assert_eq!(end.from, Some(TcpState::TimeWait));
    }

    #[test]
    fn a_late_packet_of_a_forgotten_connection_keeps_its_id() {
        let mut model = Model::new();
        let mut out = Vec::new();
        model.ingest(
            Input::KernelMode {
                ts: ms(0),
                mode: KernelMode::PollOnly,
            },
            &mut out,
        );
        connection(&mut model, &mut out);
        model.ingest(snapshot(1000, &[]), &mut out);
        assert_eq!(model.states.remembered(), (0, 1));
        // The server's FIN again (its ACK was lost, say), from the server.
        model.ingest(
            seg(1500, false, Flags::FIN | Flags::ACK, 501, 102),
            &mut out,
        );
        model.finish(&mut out);
        let late = out
            .iter()
            .rev()
            .find_map(|e| match e {
                Event::Packet(p) => Some(p),
                _ => None,
            })
            .expect("the late packet");
        assert_eq!(
            late.conn.0, 1,
            "a forgotten connection came back under a new id"
        );
        assert_eq!(late.from, crate::tcp::track::Role::Server);
        let guesses: Vec<_> = out
            .iter()
            .filter_map(|e| match e {
                Event::State(s) if s.ts == ms(1500) => s.note.clone(),
                _ => None,
            })
            .collect();
        assert!(
            guesses.iter().all(|n| n.contains("forgotten")),
            "its states after the comeback should say why they are guesses: {guesses:?}"
        );
    }

    #[test]
    fn a_connection_still_open_is_not_forgotten() {
        let mut model = Model::new();
        let mut out = Vec::new();
        model.ingest(
            Input::KernelMode {
                ts: ms(0),
                mode: KernelMode::PollOnly,
            },
            &mut out,
        );
        let a = Flags::ACK;
        for input in [
            seg(0, true, Flags::SYN, 100, 0),
            seg(1, false, Flags::SYN | a, 500, 101),
            seg(1, true, a, 101, 501),
        ] {
            model.ingest(input, &mut out);
        }
        // An hour of silence: an idle connection is still a connection.
        model.ingest(snapshot(3_600_000, &[]), &mut out);
        assert_eq!(model.states.remembered(), (1, 0));
        assert_eq!(model.tracker.len(), 1);
    }

    /// The congestion tracepoint sees every namespace: a kernel report of a
    /// socket none of whose packets was captured here (a second lab on the
    /// same ports) is not shown; one of a connection seen here is, and so is
    /// a lab peer's own TCP_INFO report.
    #[test]
    fn a_strangers_congestion_state_is_not_shown() {
        use crate::event::{CaState, CongSource, CongestionEvent};
        let report = |at: u64, local: &str, source: CongSource| {
            Input::Event(Event::Congestion(Box::new(CongestionEvent {
                ts: ms(at),
                conn: None,
                endpoint: match source {
                    CongSource::Socket => "client".into(),
                    CongSource::Kernel => crate::event::EndpointName::default(),
                },
                local: sa(local),
                remote: sa(SERVER),
                source,
                state: CaState::Loss,
                from: None,
                cwnd: None,
                ssthresh: None,
                rtt_us: None,
                retransmits: None,
                total_retrans: None,
            })))
        };
        let mut model = Model::new();
        let mut out = Vec::new();
        connection(&mut model, &mut out);
        for input in [
            report(4, "127.0.0.1:40001", CongSource::Kernel),
            report(4, CLIENT, CongSource::Kernel),
            report(5, "127.0.0.1:40002", CongSource::Socket),
        ] {
            model.ingest(input, &mut out);
        }
        model.finish(&mut out);
        let shown: Vec<(u16, CongSource)> = out
            .iter()
            .filter_map(|e| match e {
                Event::Congestion(c) => Some((c.local.port(), c.source)),
                _ => None,
            })
            .collect();
        assert_eq!(
            shown,
            [(40000, CongSource::Kernel), (40002, CongSource::Socket)]
        );
    }
}
