//! The app: [`App`], everything the screen shows, made from the model's
//! events (`crate::model`). `App::update` is the only place that state
//! changes; the UI draws from `&App`.

pub mod conns;
pub mod input;
pub mod layout;
pub mod panes;
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

/// Everything the screen shows.
#[derive(Debug)]
pub struct App {
    pub lang: Lang,
    pub kind: RunKind,
    pub screen: Screen,
    pub overlay: Overlay,
    /// The user wants the diagram (beside the ladder, or as an overlay).
    pub show_diagram: bool,
    pub choices: Vec<Choice>,
    pub picker: usize,
    pub kernel: Option<KernelMode>,
    pub rootless: bool,
    pub timeline: Timeline,
    pub lanes: Lanes,
    pub sockets: Sockets,
    /// The rows where each step began.
    pub steps: Vec<(RowId, StepEvent)>,
    /// Which steps are shown: each narrated step is a stop.
    stops: Stops,
    /// A step the lab began that a click asked for, before its rows came.
    ahead: Option<StepEvent>,
    pub lab: LabStatus,
    /// The selected row; `None` follows the newest.
    pub cursor: Option<RowId>,
    /// The first visible row, as a position among the visible rows.
    pub top: usize,
    /// The packet the details view shows.
    pub detail: Option<RowId>,
    /// The field selected in the details view.
    pub detail_field: usize,
    /// Lines the help is scrolled by.
    pub help_scroll: u16,
    pub conns: Connections,
    /// The selected table row (a position in the filtered rows).
    pub table_cursor: usize,
    pub filter: String,
    /// The `/` prompt is open.
    pub editing_filter: bool,
    /// The connection whose ladder is open (watch/read).
    pub focus: Option<ConnId>,
    /// The rows of the focused connection.
    focus_rows: Vec<RowId>,
    /// Inferred states later withdrawn, by (local, remote, time shown):
    /// what the socket was instead, by whose word (their rows say so).
    pub withdrawn: std::collections::HashMap<
        (
            std::net::SocketAddr,
            Option<std::net::SocketAddr>,
            Timestamp,
        ),
        (TcpState, StateSource),
    >,
    pub frozen: Option<Frozen>,
    /// The first event's time: the ladder counts from it.
    pub t0: Option<Timestamp>,
    /// The latest event's time.
    pub last_ts: Timestamp,
    /// The clock, for countdowns.
    pub now: Timestamp,
    /// A UDP packet was seen (UDP sockets have no states to show).
    pub saw_udp: bool,
    /// Capture drops the kernel reported, and frames rejected as unreadable.
    pub dropped_packets: u64,
    pub rejected_frames: u64,
    pub width: u16,
    pub height: u16,
    max_rows: usize,
    /// The explanation pane (`e`): what the selected row means.
    pub explain: bool,
    /// Quiz mode (`demo --quiz`): the questions, the answers, the score.
    pub quiz: Option<Quiz>,
    /// Quiz mode asked the lab for the next step and waits for it to begin.
    quiz_waiting: bool,
    /// When the last step began (quiz mode runs unasked steps at a pace).
    quiz_step_at: Option<Timestamp>,
    /// Something changed since the last draw.
    pub dirty: bool,
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
            withdrawn: std::collections::HashMap::new(),
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

    /// Changes the state for one event; returns what the wiring must do.
    pub fn update(&mut self, ev: AppEvent) -> Vec<Effect> {
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
            AppEvent::LabDone { error } => {
                self.lab.error = error;
                self.dirty = true;
            }
        }
        self.keep_cursor_visible();
        effects
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

    /// Quiz mode's keys: a digit answers the open question and runs its
    /// step. True when the key was the quiz's.
    fn quiz_key(&mut self, key: Key, fx: &mut Vec<Effect>) -> bool {
        let running = self.is_demo() && self.more_to_come();
        let Some(q) = &mut self.quiz else {
            return false;
        };
        if !running || self.quiz_waiting || q.current().is_none() {
            return false;
        }
        match key {
            Key::Char(c @ '1'..='9') => {
                let n = usize::from(c as u8 - b'1');
                if q.answer(n) {
                    self.quiz_waiting = true;
                    self.forward(fx);
                }
                true
            }
            // The step runs only once the class has answered.
            Key::Char(' ') | Key::Right | Key::PageDown | Key::Char('p') => true,
            _ => false,
        }
    }

    /// A kernel timer counts down on screen right now.
    #[must_use]
    pub fn has_countdown(&self) -> bool {
        self.cursor.is_none()
            && self.sockets.all().iter().any(|s| {
                s.states.last().is_some_and(|(_, st)| {
                    st.timer.is_some() && st.timer_left(self.now) > Some(0.0)
                })
            })
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
            self.steps.push((id, s));
        }
        if is_focus {
            self.focus_rows.push(id);
        }
        // What refers to rows dropped at the front goes too, now and then.
        if self.timeline.dropped() > 0 && id % 1024 == 0 {
            let first = self.timeline.first();
            let gone = self.focus_rows.partition_point(|&r| r < first);
            self.focus_rows.drain(..gone);
            self.sockets.forget_before(first);
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

    // ---- the rows the ladder shows -------------------------------------

    /// How many rows the ladder can show (the focused connection's, or all).
    #[must_use]
    pub fn visible_len(&self) -> usize {
        match self.focus {
            Some(_) => self.focus_rows_kept().len(),
            None => {
                let end = self.shown_end();
                usize::try_from(end.saturating_sub(self.timeline.first())).unwrap_or(usize::MAX)
            }
        }
    }

    /// The end of the rows shown: the newest row, or where the table was
    /// frozen, or the first row of a step still waiting for its turn.
    #[must_use]
    pub fn shown_end(&self) -> RowId {
        let end = self.frozen.as_ref().map_or(self.timeline.end(), |f| f.end);
        match self.stops.held_from(&self.steps) {
            Some(held) if self.is_demo() => end.min(held),
            _ => end,
        }
    }

    /// The lab may still run steps, or steps it ran wait for their turn.
    fn more_to_come(&self) -> bool {
        !self.lab.ended || self.stops.shown() < self.steps.len()
    }

    /// The script is over and every step of it is shown.
    #[must_use]
    pub fn script_over(&self) -> bool {
        self.lab.ended && self.stops.shown() >= self.steps.len()
    }

    /// Rows from `before` on have just been shown: the quiz sees them now
    /// (it asks about what the class sees), and a step shown ends the wait.
    fn shown_from(&mut self, before: RowId) {
        let after = self.shown_end();
        if self
            .ahead
            .as_ref()
            .is_some_and(|a| a.index <= self.stops.shown())
        {
            self.ahead = None;
        }
        if after <= before {
            return;
        }
        let Some(q) = &mut self.quiz else {
            return;
        };
        let rows: Vec<Event> = (before.max(self.timeline.first())..after)
            .filter_map(|r| self.timeline.get(r).cloned())
            .collect();
        q.observe(&rows);
        if rows.iter().any(|e| matches!(e, Event::Step(_))) {
            self.quiz_waiting = false;
            self.quiz_step_at = Some(self.now);
        }
    }

    /// A click forward: the next step the lab ran already is shown, or the
    /// lab is asked to run one. The screen follows the newest row.
    fn forward(&mut self, fx: &mut Vec<Effect>) {
        let before = self.shown_end();
        match self.stops.forward(&self.steps, self.now) {
            Forward::Shown => self.shown_from(before),
            Forward::AskLab => {
                if !self.lab.ended {
                    fx.push(Effect::Lab(LabControl::Next));
                }
            }
        }
        self.cursor = None;
    }

    /// Time travel to the first row of the step before the one shown (to
    /// the first row from the first step).
    fn back_a_step(&mut self) {
        let shown = self.stops.shown().min(self.steps.len());
        let Some(moment) = self.moment() else {
            return;
        };
        // The step the moment is in, and the one before it.
        let now = self.steps[..shown].partition_point(|(r, _)| *r <= moment);
        let target = match now.checked_sub(2) {
            Some(i) => self.steps[i].0,
            None => self.timeline.first(),
        };
        self.select_row(target);
    }

    /// Looking back: time travel to the next step's first row, or follow
    /// the newest once the moment is in the last step shown. False when
    /// the screen already follows the newest row.
    fn ahead_a_step(&mut self) -> bool {
        let Some(cursor) = self.cursor else {
            return false;
        };
        let shown = self.stops.shown().min(self.steps.len());
        let next = self.steps[..shown].partition_point(|(r, _)| *r <= cursor);
        match self.steps[..shown].get(next) {
            Some((r, _)) => self.select_row(*r),
            None => self.cursor = None,
        }
        true
    }

    /// → or PgDn in a demo: a step ahead when looking back, else (paused)
    /// the next step.
    fn click_forward(&mut self, running: bool, fx: &mut Vec<Effect>) {
        if !self.ahead_a_step() && running && self.lab.paused {
            self.forward(fx);
        }
    }

    fn focus_rows_kept(&self) -> &[RowId] {
        let first = self.timeline.first();
        let end = self.shown_end();
        let a = self.focus_rows.partition_point(|&r| r < first);
        let b = self.focus_rows.partition_point(|&r| r < end);
        &self.focus_rows[a..b]
    }

    /// The row at a visible position.
    #[must_use]
    pub fn visible_row(&self, pos: usize) -> Option<RowId> {
        if pos >= self.visible_len() {
            return None;
        }
        match self.focus {
            Some(_) => self.focus_rows_kept().get(pos).copied(),
            None => Some(self.timeline.first() + pos as u64),
        }
    }

    /// The visible position of a row (the nearest before it when hidden).
    #[must_use]
    pub fn visible_pos(&self, row: RowId) -> usize {
        match self.focus {
            Some(_) => self
                .focus_rows_kept()
                .partition_point(|&r| r <= row)
                .saturating_sub(1),
            None => usize::try_from(row.saturating_sub(self.timeline.first())).unwrap_or(0),
        }
    }

    /// The moment the cards and the diagram show: the selected row, or the newest.
    #[must_use]
    pub fn moment(&self) -> Option<RowId> {
        self.cursor.or_else(|| {
            let n = self.visible_len();
            n.checked_sub(1).and_then(|p| self.visible_row(p))
        })
    }

    /// The clock for countdowns at the moment shown: now when following,
    /// the selected row's time otherwise.
    #[must_use]
    pub fn moment_time(&self) -> Timestamp {
        match self.cursor.and_then(|r| self.timeline.get(r)) {
            Some(ev) => ev.ts(),
            None => self.now,
        }
    }

    /// The step a click just began, while its rows are on their way (the
    /// screen following the newest row).
    #[must_use]
    pub fn ahead_step(&self) -> Option<&StepEvent> {
        self.ahead.as_ref().filter(|_| self.cursor.is_none())
    }

    /// The step the title names: the one a click just began, or the one
    /// in effect at the moment shown.
    #[must_use]
    pub fn title_step(&self) -> Option<&StepEvent> {
        self.ahead_step().or_else(|| self.step_at(self.moment()))
    }

    /// The step in effect at the moment shown.
    #[must_use]
    pub fn step_at(&self, row: Option<RowId>) -> Option<&StepEvent> {
        let row = row?;
        let n = self.steps.partition_point(|(r, _)| *r <= row);
        n.checked_sub(1).map(|i| &self.steps[i].1)
    }

    /// The narration shown at the moment: the last narrated step's (a step
    /// without words of its own keeps the words of the one before).
    #[must_use]
    pub fn narration_at(&self, row: Option<RowId>) -> Option<&crate::event::Narration> {
        let row = row?;
        let n = self.steps.partition_point(|(r, _)| *r <= row);
        self.steps[..n]
            .iter()
            .rev()
            .find_map(|(_, s)| s.narration.as_ref())
    }

    /// What the banner says at the moment shown: the narration, or before
    /// any narrated step, the scenario's summary (a paused `--step` start).
    #[must_use]
    pub fn banner_text(&self) -> Option<&str> {
        if let Some(n) = self.ahead_step().and_then(|s| s.narration.as_ref()) {
            return Some(n.text(self.lang));
        }
        if let Some(n) = self.narration_at(self.moment()) {
            return Some(n.text(self.lang));
        }
        let RunKind::Demo { name } = &self.kind else {
            return None;
        };
        let c = self.choices.iter().find(|c| &c.name == name)?;
        Some(match self.lang {
            Lang::Zh => c.summary_zh.as_deref().unwrap_or(&c.summary),
            Lang::En => &c.summary,
        })
    }

    /// The ladder's layout at the current size.
    #[must_use]
    pub fn ladder_layout(&self) -> LadderLayout {
        let banner = self.banner_text().map_or(0, |n| {
            layout::wrapped_lines(n, self.width.saturating_sub(2))
        });
        let (card_lines, card_sockets) = self.card_lines();
        let plain = LadderNeeds {
            banner_lines: banner,
            card_lines,
            card_sockets,
            diagram: self.show_diagram,
            quiz_lines: 0,
            explain_lines: 0,
        };
        if !self.explain && self.quiz.is_none() {
            return layout::ladder_layout(self.width, self.height, plain);
        }
        // The boxes' text wraps at the ladder's width less borders and margins.
        let text_w = layout::ladder_layout(self.width, self.height, plain)
            .ladder
            .width
            .saturating_sub(4);
        let count = |v: Vec<(String, panes::Look)>| u16::try_from(v.len()).unwrap_or(u16::MAX);
        layout::ladder_layout(
            self.width,
            self.height,
            LadderNeeds {
                quiz_lines: count(panes::quiz_lines(self, text_w)),
                explain_lines: count(panes::explain_lines(self, text_w)),
                ..plain
            },
        )
    }

    /// The most lines a lane's card takes at the moment shown, and the most
    /// it takes with one line per connection.
    #[must_use]
    pub fn card_lines(&self) -> (u16, u16) {
        let at = self.moment();
        let mut per_lane = vec![0u16; self.lanes.len().max(1)];
        let mut socks = vec![0u16; self.lanes.len().max(1)];
        if let Some(at) = at {
            for s in self.sockets.all() {
                if s.state_at(at).is_some() {
                    if self.focus.is_some_and(|f| s.conn != Some(f)) {
                        continue;
                    }
                    if let Some(l) = s.lane(&self.lanes) {
                        // A listener's queue and a connection's bytes take a
                        // line of their own (cut short: a connection gets one).
                        let state = s.state_at(at).map(|st| st.state);
                        let queue = s.queue_at(at).is_some()
                            && state.is_some_and(|st| st != TcpState::Closed);
                        let bytes = s.bytes_at(at).is_some()
                            && matches!(state, Some(TcpState::Established | TcpState::CloseWait));
                        if let Some(n) = per_lane.get_mut(l) {
                            *n += 1 + u16::from(queue) + u16::from(bytes);
                        }
                        if let Some(k) = socks.get_mut(l) {
                            *k += 1 + u16::from(queue && s.is_listener());
                        }
                    }
                }
            }
        }
        let most = |v: Vec<u16>| v.into_iter().max().unwrap_or(0).max(1);
        (most(per_lane), most(socks))
    }

    fn ladder_height(&self) -> usize {
        usize::from(self.ladder_layout().ladder.height).max(1)
    }

    /// Keeps the selection on screen, or the newest row when following.
    fn keep_cursor_visible(&mut self) {
        if self.screen != Screen::Ladder {
            return;
        }
        let h = self.ladder_height();
        let n = self.visible_len();
        match self.cursor {
            None => self.top = n.saturating_sub(h),
            Some(row) => {
                if row < self.timeline.first() {
                    self.cursor = Some(self.timeline.first());
                }
                let pos = self.visible_pos(self.cursor.unwrap_or(row));
                if pos < self.top {
                    self.top = pos;
                } else if pos >= self.top + h {
                    self.top = pos + 1 - h;
                }
                self.top = self.top.min(n.saturating_sub(1));
            }
        }
    }

    /// Moves the selection by `delta` visible rows (following stops).
    fn move_cursor(&mut self, delta: isize) {
        let n = self.visible_len();
        if n == 0 {
            return;
        }
        let pos = match self.cursor {
            Some(r) => self.visible_pos(r),
            None => n - 1,
        };
        let new = pos.saturating_add_signed(delta).min(n - 1);
        self.cursor = self.visible_row(new);
    }

    fn select_row(&mut self, row: RowId) {
        self.select_pos(self.visible_pos(row));
    }

    fn select_pos(&mut self, pos: usize) {
        self.cursor = self.visible_row(pos.min(self.visible_len().saturating_sub(1)));
    }

    /// The packet nearest to a row (itself when it is one): the details view's.
    #[must_use]
    pub fn nearest_packet(&self, row: RowId) -> Option<RowId> {
        let pos = self.visible_pos(row);
        let is_packet = |p: usize| {
            self.visible_row(p)
                .filter(|r| matches!(self.timeline.get(*r), Some(Event::Packet(_))))
        };
        let n = self.visible_len();
        (0..n).find_map(|d| is_packet(pos + d).or_else(|| pos.checked_sub(d).and_then(is_packet)))
    }

    /// The next packet after (`forward`) or before a row.
    fn step_packet(&self, from: RowId, forward: bool) -> Option<RowId> {
        let pos = self.visible_pos(from);
        let n = self.visible_len();
        let is_packet = |r: &RowId| matches!(self.timeline.get(*r), Some(Event::Packet(_)));
        if forward {
            (pos + 1..n)
                .filter_map(|p| self.visible_row(p))
                .find(is_packet)
        } else {
            (0..pos)
                .rev()
                .filter_map(|p| self.visible_row(p))
                .find(is_packet)
        }
    }

    /// The peer a `k` kills: the selected row's, else the server.
    #[must_use]
    pub fn kill_target(&self) -> Option<String> {
        let row = self.cursor?;
        let lane = match self.timeline.get(row)? {
            Event::Call(c) => self.lanes.peer(&c.endpoint),
            Event::State(s) => self.lanes.owner(s.local, row),
            Event::Packet(p) => self.lanes.owner(p.segment.src, row),
            Event::Queue(q) => self.lanes.owner(q.local, row),
            _ => None,
        }?;
        self.lanes
            .lanes()
            .get(lane)
            .map(|l| input::kill_target(&l.name))
    }

    // ---- keys ------------------------------------------------------------

    fn on_key(&mut self, key: Key, fx: &mut Vec<Effect>) {
        if matches!(key, Key::CtrlC) {
            fx.push(Effect::Quit);
            return;
        }
        if self.editing_filter {
            self.on_filter_key(key);
            return;
        }
        match self.overlay {
            Overlay::Help => {
                // Arrows scroll a help taller than the screen; any other key
                // closes it (q still quits).
                match key {
                    Key::Down | Key::PageDown => {
                        self.help_scroll = self.help_scroll.saturating_add(3)
                    }
                    Key::Up | Key::PageUp => self.help_scroll = self.help_scroll.saturating_sub(3),
                    _ => {
                        self.overlay = Overlay::None;
                        if key == Key::Char('q') {
                            fx.push(Effect::Quit);
                        }
                    }
                }
                return;
            }
            Overlay::Details => {
                self.on_details_key(key, fx);
                return;
            }
            Overlay::Diagram => {
                if matches!(key, Key::Esc | Key::Char('d' | 'q')) {
                    self.overlay = Overlay::None;
                    if key == Key::Char('d') {
                        self.show_diagram = false;
                    }
                    if key == Key::Char('q') {
                        fx.push(Effect::Quit);
                    }
                    return;
                }
            }
            Overlay::None => {}
        }
        // Keys every screen shares.
        match key {
            Key::Char('q') => return fx.push(Effect::Quit),
            Key::Char('?') => {
                self.overlay = Overlay::Help;
                self.help_scroll = 0;
                return;
            }
            Key::Char('l') => {
                self.lang = self.lang.toggled();
                return;
            }
            Key::Char('e') if self.screen == Screen::Ladder => {
                self.explain = !self.explain;
                return;
            }
            _ => {}
        }
        match self.screen {
            Screen::Picker => self.on_picker_key(key, fx),
            Screen::Ladder => self.on_ladder_key(key, fx),
            Screen::Table => self.on_table_key(key),
        }
    }

    fn on_picker_key(&mut self, key: Key, fx: &mut Vec<Effect>) {
        let n = self.choices.len();
        match key {
            Key::Up | Key::Char('k') => self.picker = self.picker.saturating_sub(1),
            Key::Down | Key::Char('j') => self.picker = (self.picker + 1).min(n.saturating_sub(1)),
            Key::Home => self.picker = 0,
            Key::End => self.picker = n.saturating_sub(1),
            Key::PageUp => self.picker = self.picker.saturating_sub(10),
            Key::PageDown => self.picker = (self.picker + 10).min(n.saturating_sub(1)),
            Key::Enter | Key::Right => {
                if let Some(c) = self.choices.get(self.picker) {
                    fx.push(Effect::Run(c.name.clone()));
                }
            }
            Key::Esc | Key::Tab | Key::Char('s') => {
                if matches!(self.kind, RunKind::Demo { .. }) {
                    self.screen = Screen::Ladder;
                }
            }
            _ => {}
        }
    }

    fn is_demo(&self) -> bool {
        matches!(self.kind, RunKind::Demo { .. })
    }

    fn on_ladder_key(&mut self, key: Key, fx: &mut Vec<Effect>) {
        if self.quiz_key(key, fx) {
            return;
        }
        let page = isize::try_from(self.ladder_height().saturating_sub(1).max(1)).unwrap_or(1);
        let demo = self.is_demo();
        let running = demo && self.more_to_come();
        match key {
            Key::Up | Key::Char('k') if !(demo && key == Key::Char('k')) => self.move_cursor(-1),
            Key::Down | Key::Char('j') => self.move_cursor(1),
            // A clicker's back keys: the step before, at its first row.
            Key::Left | Key::PageUp if demo && !self.steps.is_empty() => self.back_a_step(),
            Key::Left => self.move_cursor(-1),
            Key::PageUp => self.move_cursor(-page),
            Key::Home => self.select_pos(0),
            Key::End => self.select_pos(usize::MAX),
            Key::Char('f') => self.cursor = None,
            Key::Enter => {
                if let Some(p) = self.moment().and_then(|r| self.nearest_packet(r)) {
                    self.open_details(p);
                }
            }
            Key::Char('d') => {
                if layout::side_diagram_fits(self.width, self.height) {
                    self.show_diagram = !self.show_diagram;
                } else {
                    self.show_diagram = true;
                    self.overlay = Overlay::Diagram;
                }
            }
            // Presentation clickers: → and PgDn go forward a step: to the
            // next step's first row when looking back, else the next step.
            Key::Right | Key::PageDown if demo && !self.steps.is_empty() => {
                self.click_forward(running, fx);
            }
            Key::Right | Key::PageDown => {
                if key == Key::PageDown {
                    self.move_cursor(page);
                } else {
                    self.move_cursor(1);
                }
            }
            Key::Char(' ') if running => {
                if self.lab.paused {
                    self.forward(fx);
                } else {
                    self.lab.paused = true;
                    fx.push(Effect::Lab(LabControl::Pause));
                }
            }
            Key::Char('p') if running => {
                self.lab.paused = !self.lab.paused;
                fx.push(Effect::Lab(if self.lab.paused {
                    LabControl::Pause
                } else {
                    LabControl::Play
                }));
            }
            Key::Char('p') if !demo && !self.reading() => self.toggle_freeze(),
            // The lab's answer shows as a new row: follow, so it is seen.
            Key::Char('k') if demo => {
                let who = self.kill_target().unwrap_or_else(|| "server".to_owned());
                fx.push(Effect::Lab(LabControl::Kill(Some(who))));
                self.cursor = None;
            }
            Key::Char('c') if demo => {
                fx.push(Effect::Lab(LabControl::ToggleLink));
                self.cursor = None;
            }
            Key::Char('x') if demo => {
                fx.push(Effect::Lab(LabControl::ToggleLoss));
                self.cursor = None;
            }
            Key::Char('r') if demo => fx.push(Effect::Restart),
            Key::Char('s') | Key::Tab if demo => {
                self.screen = Screen::Picker;
                if let RunKind::Demo { name } = &self.kind {
                    if let Some(i) = self.choices.iter().position(|c| &c.name == name) {
                        self.picker = i;
                    }
                }
            }
            Key::Esc => {
                if self.focus.is_some() {
                    self.focus = None;
                    self.focus_rows.clear();
                    self.cursor = None;
                    self.screen = Screen::Table;
                } else {
                    self.cursor = None;
                }
            }
            _ => {}
        }
    }

    /// A packet row's number among the packets shown (1 for the first), as
    /// Wireshark numbers frames.
    #[must_use]
    pub fn packet_number(&self, row: RowId) -> usize {
        let pos = self.visible_pos(row);
        (0..=pos)
            .filter_map(|p| self.visible_row(p))
            .filter(|r| matches!(self.timeline.get(*r), Some(Event::Packet(_))))
            .count()
    }

    /// The header fields of a packet row (none when its bytes were not kept).
    #[must_use]
    pub fn packet_fields(&self, row: RowId) -> Vec<crate::tcp::dissect::Field> {
        match self.timeline.get(row) {
            Some(Event::Packet(p)) => p
                .raw
                .as_ref()
                .map(|raw| crate::tcp::dissect::dissect(raw.link, &raw.bytes))
                .unwrap_or_default(),
            _ => Vec::new(),
        }
    }

    /// Shows a packet's details, its TCP (or UDP) header selected first:
    /// what a student looks for.
    fn open_details(&mut self, row: RowId) {
        self.detail = Some(row);
        self.cursor = Some(row);
        self.overlay = Overlay::Details;
        self.detail_field = self
            .packet_fields(row)
            .iter()
            .position(|f| f.layer == crate::tcp::dissect::Layer::Transport)
            .unwrap_or(0);
    }

    fn on_details_key(&mut self, key: Key, fx: &mut Vec<Effect>) {
        match key {
            Key::Esc | Key::Enter | Key::Backspace => self.overlay = Overlay::None,
            Key::Char('q') => fx.push(Effect::Quit),
            Key::Up | Key::Char('k') => self.detail_field = self.detail_field.saturating_sub(1),
            Key::Down | Key::Char('j') => {
                let n = self.detail.map_or(0, |d| self.packet_fields(d).len());
                self.detail_field = (self.detail_field + 1).min(n.saturating_sub(1));
            }
            Key::Home => self.detail_field = 0,
            Key::Left | Key::PageUp | Key::Right | Key::PageDown => {
                let forward = matches!(key, Key::Right | Key::PageDown);
                if let Some(d) = self.detail.and_then(|d| self.step_packet(d, forward)) {
                    self.open_details(d);
                }
            }
            Key::Char('l') => self.lang = self.lang.toggled(),
            _ => {}
        }
    }

    /// Reading a file: everything is there at once, nothing to freeze.
    fn reading(&self) -> bool {
        matches!(self.kind, RunKind::Read { .. })
    }

    fn toggle_freeze(&mut self) {
        self.frozen = match self.frozen {
            Some(_) => None,
            None => Some(Frozen {
                rows: self.conns.rows(&self.filter),
                end: self.timeline.end(),
            }),
        };
    }

    /// The table's rows as shown (frozen, or live and filtered).
    #[must_use]
    pub fn table_rows(&self) -> Vec<RowKey> {
        match &self.frozen {
            Some(f) => f.rows.clone(),
            None => self.conns.rows(&self.filter),
        }
    }

    fn on_table_key(&mut self, key: Key) {
        let n = self.table_rows().len();
        let page = usize::from(self.height.saturating_sub(4)).max(1);
        match key {
            Key::Up | Key::Char('k') => self.table_cursor = self.table_cursor.saturating_sub(1),
            Key::Down | Key::Char('j') => self.table_cursor += 1,
            Key::PageUp => self.table_cursor = self.table_cursor.saturating_sub(page),
            Key::PageDown => self.table_cursor += page,
            Key::Home => self.table_cursor = 0,
            Key::End => self.table_cursor = n.saturating_sub(1),
            Key::Char('/') => self.editing_filter = true,
            Key::Char('p') if !self.reading() => self.toggle_freeze(),
            Key::Esc => self.filter.clear(),
            Key::Enter => {
                if let Some(RowKey::Conn(conn)) = self.table_rows().get(self.table_cursor).copied()
                {
                    self.open_connection(conn);
                }
            }
            _ => {}
        }
        self.table_cursor = self.table_cursor.min(n.saturating_sub(1));
    }

    fn on_filter_key(&mut self, key: Key) {
        match key {
            Key::Enter => self.editing_filter = false,
            Key::Esc => {
                self.editing_filter = false;
                self.filter.clear();
            }
            Key::Backspace => {
                self.filter.pop();
            }
            Key::Char(c) if !c.is_control() && self.filter.chars().count() < 64 => {
                self.filter.push(c);
            }
            _ => {}
        }
        self.table_cursor = 0;
    }

    /// Opens a connection's ladder (watch/read).
    fn open_connection(&mut self, conn: ConnId) {
        let Some(e) = self.conns.get(RowKey::Conn(conn)) else {
            return;
        };
        let Some(server) = e.remote else { return };
        self.lanes = Lanes::for_connection(e.local, server);
        self.focus = Some(conn);
        let (first, end) = (self.timeline.first(), self.timeline.end());
        self.focus_rows = (first..end)
            .filter(|r| {
                self.timeline
                    .get(*r)
                    .is_some_and(|ev| row_conn(ev) == Some(conn))
            })
            .collect();
        self.cursor = None;
        self.screen = Screen::Ladder;
    }

    fn on_mouse(&mut self, m: Mouse) {
        match (self.screen, m) {
            (Screen::Ladder, Mouse::ScrollUp) => self.move_cursor(-3),
            (Screen::Ladder, Mouse::ScrollDown) => {
                if self.cursor.is_some() {
                    self.move_cursor(3);
                }
            }
            (Screen::Ladder, Mouse::Click { col, row }) => {
                let area = self.ladder_layout().ladder;
                if area.contains(col, row) {
                    let pos = self.top + usize::from(row - area.y);
                    if pos < self.visible_len() {
                        self.cursor = self.visible_row(pos);
                    }
                }
            }
            (Screen::Table | Screen::Picker, Mouse::ScrollUp) => {
                self.on_key(Key::Up, &mut Vec::new());
            }
            (Screen::Table | Screen::Picker, Mouse::ScrollDown) => {
                self.on_key(Key::Down, &mut Vec::new());
            }
            (Screen::Table, Mouse::Click { row, .. }) => {
                // Row 0 is the header, row 1 the column titles.
                if let Some(i) = usize::from(row).checked_sub(2) {
                    self.table_cursor = i.min(self.table_rows().len().saturating_sub(1));
                }
            }
            (Screen::Picker, Mouse::Click { .. }) => {}
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
