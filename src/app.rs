//! The app: [`App`], everything the screen shows, made from the model's
//! events (`crate::model`). `App::update` is the only place that state
//! changes; the UI draws from `&App`.

pub mod conns;
pub mod input;
mod keys;
pub mod layout;
mod packed;
pub mod panes;
mod query;
pub mod quiz;
pub mod stops;
pub mod timeline;

use crate::event::{Event, LabAction, StateSource, StepEvent};
use crate::i18n::Lang;
use crate::lab::LabControl;
use crate::model::KernelMode;
use crate::tcp::TcpState;
use crate::tcp::track::ConnId;
use crate::time::Timestamp;
use quiz::Quiz;
use stops::{Forward, Stops};

pub use conns::{Connections, RowKey};
pub use input::{AppEvent, Effect, Key, Mouse};
pub use layout::{Area, LadderLayout, LadderNeeds, TableLayout};
pub use timeline::{Lanes, RowId, Sockets, Timeline};

/// What the run is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunKind {
    /// Nothing runs yet: the picker is open.
    Idle,
    /// A scenario in the lab.
    Demo { name: String },
    /// Live traffic on an interface.
    Watch { iface: String, filter: String },
    /// A capture file.
    Read { file: String },
}

/// The screen under any overlay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Screen {
    /// Every scenario with its summary.
    Picker,
    /// The ladder: a demo, or one connection of a watch/read.
    Ladder,
    /// The watch/read connection table.
    Table,
}

/// What is drawn over the screen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overlay {
    None,
    Help,
    /// The state diagram, full screen (when it has no room beside the ladder).
    Diagram,
    /// The selected packet's header fields and bytes.
    Details,
}

/// A scenario the picker offers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Choice {
    pub name: String,
    pub summary: String,
    pub summary_zh: Option<String>,
}

impl Choice {
    /// Every bundled scenario, in teaching order.
    #[must_use]
    pub fn all() -> Vec<Choice> {
        crate::lab::scenarios()
            .iter()
            .map(|s| Choice {
                name: s.name.to_owned(),
                summary: s.summary.to_owned(),
                summary_zh: s.summary_zh.map(str::to_owned),
            })
            .collect()
    }
}

/// What the table screen keeps while frozen (`p` on watch): the rows as they
/// were; the capture and the model go on underneath.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frozen {
    pub rows: Vec<RowKey>,
    /// One past the last ladder row shown.
    pub end: RowId,
}

/// The lab's state as the screen shows it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LabStatus {
    pub paused: bool,
    /// The script is over (the lab stays up).
    pub ended: bool,
    pub link_cut: bool,
    /// A loss rule (`link loss`, `link drop`) is on for the whole link.
    pub link_lossy: bool,
    /// The lab thread returned with this error.
    pub error: Option<String>,
}

/// A recording played (`synack replay`): where and when it was made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Replayed {
    /// The kernel release it ran on (`6.1.0-31-amd64`).
    pub kernel: String,
    /// The day it was recorded (`2025-03-01`).
    pub date: String,
}

/// A word for the user, shown until the next key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Notice {
    /// A key that acts on the lab (`k`, `c`, `x`, `r`), pressed in a replay.
    NeedsLab(char),
}

/// Inferred states later withdrawn, by (local, remote, time shown): what the
/// socket was instead, by whose word.
pub type Withdrawn = crate::hash::Map<
    (
        std::net::SocketAddr,
        Option<std::net::SocketAddr>,
        Timestamp,
    ),
    (TcpState, StateSource),
>;

/// Everything the screen shows. Its fields are private: [`App::update`]
/// changes them, the views read them through the methods in `query`.
#[derive(Debug)]
pub struct App {
    lang: Lang,
    kind: RunKind,
    screen: Screen,
    overlay: Overlay,
    /// The user wants the diagram (beside the ladder, or as an overlay).
    show_diagram: bool,
    choices: Vec<Choice>,
    picker: usize,
    kernel: Option<KernelMode>,
    rootless: bool,
    timeline: Timeline,
    lanes: Lanes,
    sockets: Sockets,
    /// The rows where each step began.
    steps: Vec<(RowId, StepEvent)>,
    /// Which steps are shown: each narrated step is a stop.
    stops: Stops,
    /// A step the lab began that a click asked for, before its rows came.
    ahead: Option<StepEvent>,
    lab: LabStatus,
    /// The selected row; `None` follows the newest.
    cursor: Option<RowId>,
    /// The first visible row, as a position among the visible rows.
    top: usize,
    /// The packet the details view shows.
    detail: Option<RowId>,
    /// The field selected in the details view.
    detail_field: usize,
    /// Lines the help is scrolled by.
    help_scroll: u16,
    conns: Connections,
    /// The selected table row (a position in the filtered rows).
    table_cursor: usize,
    filter: String,
    /// The `/` prompt is open.
    editing_filter: bool,
    /// The connection whose ladder is open (watch/read).
    focus: Option<ConnId>,
    /// The rows of the focused connection.
    focus_rows: Vec<RowId>,
    /// Inferred states later withdrawn, by (local, remote, time shown):
    /// what the socket was instead, by whose word (their rows say so).
    withdrawn: Withdrawn,
    frozen: Option<Frozen>,
    /// The first event's time: the ladder counts from it.
    t0: Option<Timestamp>,
    /// The latest event's time.
    last_ts: Timestamp,
    /// The clock, for countdowns.
    now: Timestamp,
    /// A UDP packet was seen (UDP sockets have no states to show).
    saw_udp: bool,
    /// Capture drops the kernel reported, and frames rejected as unreadable.
    dropped_packets: u64,
    rejected_frames: u64,
    width: u16,
    height: u16,
    max_rows: usize,
    /// The explanation pane (`e`): what the selected row means.
    explain: bool,
    /// Quiz mode (`demo --quiz`): the questions, the answers, the score.
    quiz: Option<Quiz>,
    /// Quiz mode asked the lab for the next step and waits for it to begin.
    quiz_waiting: bool,
    /// When the last step began (quiz mode runs unasked steps at a pace).
    quiz_step_at: Option<Timestamp>,
    /// A recording is played, not a live run: the lab's keys are not there.
    replay: Option<Replayed>,
    /// Said until the next key.
    notice: Option<Notice>,
    /// Something changed during this update (or since the app was made).
    dirty: bool,
}

/// What an [`App::update`] asks of the loop.
#[must_use = "the loop must carry out the effects, and redraw when asked"]
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Update {
    /// What the loop must do (a lab control, run a scenario, restart, quit).
    pub effects: Vec<Effect>,
    /// What the screen shows changed: draw it again.
    pub redraw: bool,
}

/// Quiz mode runs a step that asks nothing this long after the last one.
const QUIZ_PACE: f64 = 1.0;

/// Rows kept in the connection table.
const MAX_TABLE_ROWS: usize = 10_000;

impl App {
    #[must_use]
    pub fn new(lang: Lang, kind: RunKind, choices: Vec<Choice>, max_rows: usize) -> Self {
        let screen = match kind {
            RunKind::Idle => Screen::Picker,
            RunKind::Demo { .. } => Screen::Ladder,
            RunKind::Watch { .. } | RunKind::Read { .. } => Screen::Table,
        };
        let picker = choices
            .iter()
            .position(|c| c.name == "handshake")
            .unwrap_or(0);
        Self {
            lang,
            kind,
            screen,
            overlay: Overlay::None,
            show_diagram: true,
            choices,
            picker,
            kernel: None,
            rootless: false,
            timeline: Timeline::new(max_rows),
            lanes: Lanes::default(),
            sockets: Sockets::default(),
            steps: Vec::new(),
            stops: Stops::default(),
            ahead: None,
            lab: LabStatus::default(),
            cursor: None,
            top: 0,
            detail: None,
            detail_field: 0,
            help_scroll: 0,
            conns: Connections::new(MAX_TABLE_ROWS),
            table_cursor: 0,
            filter: String::new(),
            editing_filter: false,
            focus: None,
            focus_rows: Vec::new(),
            withdrawn: Withdrawn::default(),
            frozen: None,
            t0: None,
            last_ts: Timestamp(0),
            now: Timestamp(0),
            saw_udp: false,
            dropped_packets: 0,
            rejected_frames: 0,
            width: 80,
            height: 24,
            max_rows,
            explain: false,
            quiz: None,
            quiz_waiting: false,
            quiz_step_at: None,
            replay: None,
            notice: None,
            dirty: true,
        }
    }

    /// A new run of a scenario: the timeline starts empty, with a lane for
    /// each of the script's peers.
    fn start_demo(&mut self, name: &str, peers: &[String], paused: bool, pace: f64) {
        self.kind = RunKind::Demo {
            name: name.to_owned(),
        };
        self.clear_run();
        self.stops = Stops::new(pace);
        self.lanes = Lanes::for_peers(peers.iter().map(String::as_str));
        self.lab.paused = paused;
        self.screen = Screen::Ladder;
        self.overlay = Overlay::None;
        self.quiz = None;
        self.quiz_waiting = false;
        self.quiz_step_at = None;
        self.dirty = true;
    }

    fn clear_run(&mut self) {
        self.timeline = Timeline::new(self.max_rows);
        self.lanes = Lanes::default();
        self.sockets = Sockets::default();
        self.withdrawn.clear();
        self.steps.clear();
        self.stops = Stops::default();
        self.ahead = None;
        self.lab = LabStatus::default();
        self.cursor = None;
        self.top = 0;
        self.detail = None;
        self.conns = Connections::new(MAX_TABLE_ROWS);
        self.focus = None;
        self.focus_rows.clear();
        self.frozen = None;
        self.t0 = None;
        self.last_ts = Timestamp(0);
        self.kernel = None;
        self.dropped_packets = 0;
        self.rejected_frames = 0;
        self.saw_udp = false;
    }

    /// Changes the state for one event; returns what the loop must do.
    pub fn update(&mut self, ev: AppEvent) -> Update {
        let mut effects = Vec::new();
        match ev {
            AppEvent::Model(events) => {
                let before = self.shown_end();
                for e in events {
                    self.ingest(e);
                }
                self.stops.advance(&self.steps, self.lab.paused, self.now);
                self.shown_from(before);
                self.dirty = true;
            }
            AppEvent::StepBegan(s) => {
                // The step right after everything shown, that a click asked for.
                let next = self.steps.len() + 1;
                if self.stops.asked() && self.stops.shown() >= self.steps.len() && s.index == next {
                    self.ahead = Some(s);
                    self.dirty = true;
                }
            }
            AppEvent::Key(k) => {
                self.notice = None;
                self.on_key(k, &mut effects);
                self.dirty = true;
            }
            AppEvent::Mouse(m) => {
                self.on_mouse(m);
                self.dirty = true;
            }
            AppEvent::Resize { width, height } => {
                self.width = width;
                self.height = height;
                self.dirty = true;
            }
            AppEvent::Tick(now) => {
                // Countdowns move once a second: redraw when the shown second changes.
                if now.secs() != self.now.secs() && self.has_countdown() {
                    self.dirty = true;
                }
                self.now = now;
                let before = self.shown_end();
                if self.stops.advance(&self.steps, self.lab.paused, now) {
                    self.shown_from(before);
                    self.dirty = true;
                }
                self.quiz_tick(&mut effects);
            }
            AppEvent::Quiz(questions) => {
                self.quiz = Some(Quiz::new(questions));
                self.quiz_waiting = false;
                self.quiz_step_at = None;
                self.dirty = true;
            }
            AppEvent::Started { kernel } => {
                self.kernel = Some(kernel);
                self.dirty = true;
            }
            AppEvent::DemoStarted {
                name,
                peers,
                paused,
                rootless,
                pace,
            } => {
                self.start_demo(&name, &peers, paused, pace);
                self.rootless = rootless;
            }
            AppEvent::Replaying { kernel, date } => {
                self.replay = Some(Replayed { kernel, date });
                self.dirty = true;
            }
            AppEvent::LabDone { error } => {
                self.lab.error = error;
                self.dirty = true;
            }
        }
        self.keep_cursor_visible();
        Update {
            effects,
            redraw: std::mem::take(&mut self.dirty),
        }
    }

    /// Quiz mode, as the clock moves: an answer that did not come is judged,
    /// and a step that asks nothing runs after [`QUIZ_PACE`].
    fn quiz_tick(&mut self, fx: &mut Vec<Effect>) {
        let now = self.now;
        let running = self.is_demo() && self.more_to_come() && self.lab.paused;
        let Some(q) = &mut self.quiz else {
            return;
        };
        let before = q.verdict.clone();
        q.tick(now);
        if q.verdict != before {
            self.dirty = true;
        }
        let due = self
            .quiz_step_at
            .is_none_or(|at| now.seconds_since(at) >= QUIZ_PACE);
        if running && due && !self.quiz_waiting && q.may_run_unasked() {
            self.quiz_waiting = true;
            self.forward(fx);
        }
    }

    fn ingest(&mut self, ev: Event) {
        if self.t0.is_none() {
            self.t0 = Some(ev.ts());
        }
        self.last_ts = self.last_ts.max(ev.ts());
        self.conns.ingest(&ev);
        match &ev {
            Event::Warning { message, .. } => {
                if message.starts_with("the kernel dropped") {
                    self.dropped_packets += 1;
                } else if message.starts_with("malformed frame rejected") {
                    self.rejected_frames += 1;
                }
            }
            Event::Lab(l) => match &l.action {
                LabAction::LinkCut { only: None } => {
                    self.lab.link_cut = true;
                    self.lab.link_lossy = false;
                }
                LabAction::LinkLoss { only: None, .. } | LabAction::LinkDrop { only: None, .. } => {
                    self.lab.link_cut = false;
                    self.lab.link_lossy = true;
                }
                LabAction::LinkRestored { only: None } => {
                    self.lab.link_cut = false;
                    self.lab.link_lossy = false;
                }
                LabAction::Ended => self.lab.ended = true,
                _ => {}
            },
            Event::Call(c) => {
                if let Some(local) = c.local {
                    self.lanes
                        .learn_peer_socket(local, &c.endpoint, self.timeline.end());
                } else {
                    self.lanes.add_peer(&c.endpoint);
                }
            }
            _ => {}
        }
        if let Event::Packet(p) = &ev {
            self.saw_udp |= p.segment.proto == crate::tcp::Proto::Udp;
            let (src, dst) = match p.from {
                crate::tcp::track::Role::Client => (timeline::Side::Client, timeline::Side::Server),
                crate::tcp::track::Role::Server => (timeline::Side::Server, timeline::Side::Client),
            };
            let row = self.timeline.end();
            self.lanes.ensure_end(p.segment.src, src, row);
            self.lanes.ensure_end(p.segment.dst, dst, row);
        }
        if let Event::SocketQueues(q) = &ev {
            // Current as of the newest row.
            let at = self.timeline.end().saturating_sub(1);
            let sock = self.sockets.get_or_add(q.local, Some(q.remote), q.conn, at);
            sock.bytes.push((at, (q.recv_q, q.send_q)));
        }
        if let Event::Congestion(c) = &ev {
            // A change is a row of its own: the card shows it from that
            // row; a report of the window alone, from the newest row.
            let at = if c.is_change() {
                self.timeline.end()
            } else {
                self.timeline.end().saturating_sub(1)
            };
            let sock = self.sockets.get_or_add(c.local, Some(c.remote), c.conn, at);
            // The tracepoint tells the state alone, and a new state comes
            // with a new window (Loss: one segment): the window the socket
            // told before is not shown as this state's, nor as the
            // kernel's; the socket's next report brings it.
            let snap = timeline::CongSnap {
                state: c.state,
                cwnd: c.cwnd,
                ssthresh: c.cwnd.and(c.ssthresh),
                source: c.source,
            };
            sock.cong.push((at, snap));
        }
        if !Timeline::is_row(&ev) {
            return;
        }
        let is_focus = self.focus.is_some_and(|f| row_conn(&ev) == Some(f));
        let step = match &ev {
            Event::Step(s) => Some(s.clone()),
            _ => None,
        };
        let state = match &ev {
            Event::State(s) => Some(s.clone()),
            _ => None,
        };
        let check = match &ev {
            Event::Check(c) => Some(c.clone()),
            _ => None,
        };
        let queue = match &ev {
            Event::Queue(q) => Some(q.clone()),
            _ => None,
        };
        let id = self.timeline.push(ev);
        if let Some(s) = step {
            self.steps.push((id, *s));
        }
        if is_focus {
            self.focus_rows.push(id);
        }
        // What refers to rows dropped at the front goes too, now and then.
        // Each pass walks every address the lanes learnt: once an eighth
        // of the rows has turned over (at least 1,024), so a flood pays
        // for it a few times a second, not sixty.
        if self.timeline.dropped() > 0 && id % (self.max_rows as u64 / 8).max(1024) == 0 {
            let first = self.timeline.first();
            let gone = self.focus_rows.partition_point(|&r| r < first);
            self.focus_rows.drain(..gone);
            self.sockets.forget_before(first);
            self.lanes.forget_before(first);
            // Rows are in time order: a withdrawal shown before the first
            // kept row is no row's any more.
            if let Some(since) = self.timeline.ts(first) {
                self.withdrawn.retain(|&(_, _, at), _| at >= since);
            }
        }
        if let Some(s) = state {
            self.lanes.of_socket(s.local, &s.endpoint, id);
            let sock = self.sockets.for_state(s.local, s.remote, s.conn, s.to, id);
            sock.states.push((
                id,
                timeline::Snap {
                    state: s.to,
                    source: s.source,
                    since: s.ts,
                    timer: s.timer,
                    from: s.from,
                    fin_timeout: false,
                },
            ));
        }
        if let Some(c) = check {
            self.lanes.of_socket(c.local, &c.endpoint, id);
            if c.withdraws() {
                self.withdrawn
                    .insert((c.local, c.remote, c.shown_at), (c.actual, c.source));
            }
            let sock = self.sockets.get_or_add(c.local, c.remote, c.conn, id);
            // The socket is in `actual` from here; a confirmation changes
            // who said so (and may bring the kernel's timer).
            let orphan = c.actual == TcpState::FinWait2 && c.timer.is_some();
            sock.states.push((
                id,
                timeline::Snap {
                    state: c.actual,
                    source: c.source,
                    since: c.ts,
                    timer: c.timer,
                    from: None,
                    fin_timeout: orphan,
                },
            ));
        }
        if let Some(q) = queue {
            self.lanes.of_socket(q.local, "listener", id);
            let sock = self.sockets.get_or_add(q.local, None, None, id);
            sock.queue.push((
                id,
                timeline::QueueSnap {
                    accept_queue: q.accept_queue,
                    backlog: q.backlog,
                    overflows: q.overflows,
                },
            ));
        }
    }
}

/// The connection a row belongs to, when it belongs to one.
#[must_use]
pub fn row_conn(ev: &Event) -> Option<ConnId> {
    match ev {
        Event::Packet(p) => Some(p.conn),
        Event::State(s) => s.conn,
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::CheckEvent;

    #[test]
    fn withdrawals_go_with_the_rows_they_marked() {
        let watch = RunKind::Watch {
            iface: "lo".into(),
            filter: String::new(),
        };
        let mut app = App::new(Lang::En, watch, Vec::new(), 1024);
        let local: std::net::SocketAddr = "127.0.0.1:40000".parse().unwrap();
        let remote: std::net::SocketAddr = "127.0.0.1:80".parse().unwrap();
        let check = Event::Check(Box::new(CheckEvent {
            ts: Timestamp(2),
            conn: None,
            endpoint: "client".into(),
            local,
            remote: Some(remote),
            shown: TcpState::TimeWait,
            shown_at: Timestamp(1),
            actual: TcpState::FinWait2,
            source: StateSource::Kernel,
            timer: None,
            note: None,
        }));
        let rows = |from: u64, n: u64| -> Vec<Event> {
            (from..from + n)
                .map(|t| Event::Warning {
                    ts: Timestamp(t),
                    message: "row".into(),
                })
                .collect()
        };
        let _ = app.update(AppEvent::Model(vec![check]));
        let _ = app.update(AppEvent::Model(rows(10, 1000)));
        assert_eq!(app.withdrawn().len(), 1, "its row is still kept");
        let _ = app.update(AppEvent::Model(rows(2_000, 3_000)));
        assert!(app.timeline().first() > 1);
        assert!(app.withdrawn().is_empty(), "its row is gone, and so is it");
    }
}
