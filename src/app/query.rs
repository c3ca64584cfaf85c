//! What the views ask of the app: the rows shown, the moment and its step,
//! the layout, the table's rows, a packet's fields. Nothing here changes
//! the app.

use super::{
    App, Choice, Connections, Event, Frozen, KernelMode, LabStatus, LadderLayout, LadderNeeds,
    Lanes, Lang, Overlay, Quiz, RowId, RowKey, RunKind, Screen, Sockets, StepEvent, TcpState,
    Timeline, Timestamp, Withdrawn, input, layout, panes,
};
use crate::tcp::track::ConnId;

impl App {
    // ---- the state, read-only ------------------------------------------

    /// The language of the screen's words.
    #[must_use]
    pub fn lang(&self) -> Lang {
        self.lang
    }

    /// What the run is about.
    #[must_use]
    pub fn kind(&self) -> &RunKind {
        &self.kind
    }

    /// The screen under any overlay.
    #[must_use]
    pub fn screen(&self) -> Screen {
        self.screen
    }

    /// What is drawn over the screen.
    #[must_use]
    pub fn overlay(&self) -> Overlay {
        self.overlay
    }

    /// The user wants the state diagram.
    #[must_use]
    pub fn show_diagram(&self) -> bool {
        self.show_diagram
    }

    /// The scenarios the picker offers.
    #[must_use]
    pub fn choices(&self) -> &[Choice] {
        &self.choices
    }

    /// The picker's selected scenario.
    #[must_use]
    pub fn picker(&self) -> usize {
        self.picker
    }

    /// What the kernel can tell in this run (once it started).
    #[must_use]
    pub fn kernel(&self) -> Option<KernelMode> {
        self.kernel
    }

    /// The recording played, when this is a replay.
    #[must_use]
    pub fn replay(&self) -> Option<&super::Replayed> {
        self.replay.as_ref()
    }

    /// What the screen says until the next key.
    #[must_use]
    pub fn notice(&self) -> Option<super::Notice> {
        self.notice
    }

    /// The lab runs in a user namespace (no tracepoint).
    #[must_use]
    pub fn rootless(&self) -> bool {
        self.rootless
    }

    /// Every row of the run.
    #[must_use]
    pub fn timeline(&self) -> &Timeline {
        &self.timeline
    }

    /// The ladder's lanes.
    #[must_use]
    pub fn lanes(&self) -> &Lanes {
        &self.lanes
    }

    /// Each socket's states and queues, by row.
    #[must_use]
    pub fn sockets(&self) -> &Sockets {
        &self.sockets
    }

    /// The rows where each step began.
    #[must_use]
    pub fn steps(&self) -> &[(RowId, StepEvent)] {
        &self.steps
    }

    /// The lab's state.
    #[must_use]
    pub fn lab(&self) -> &LabStatus {
        &self.lab
    }

    /// The selected row; `None` follows the newest.
    #[must_use]
    pub fn cursor(&self) -> Option<RowId> {
        self.cursor
    }

    /// The first visible row, as a position among the visible rows.
    #[must_use]
    pub fn top(&self) -> usize {
        self.top
    }

    /// The packet the details view shows.
    #[must_use]
    pub fn detail(&self) -> Option<RowId> {
        self.detail
    }

    /// The field selected in the details view.
    #[must_use]
    pub fn detail_field(&self) -> usize {
        self.detail_field
    }

    /// Lines the help is scrolled by.
    #[must_use]
    pub fn help_scroll(&self) -> u16 {
        self.help_scroll
    }

    /// The connection table.
    #[must_use]
    pub fn conns(&self) -> &Connections {
        &self.conns
    }

    /// The selected table row (a position in the filtered rows).
    #[must_use]
    pub fn table_cursor(&self) -> usize {
        self.table_cursor
    }

    /// The table's filter.
    #[must_use]
    pub fn filter(&self) -> &str {
        &self.filter
    }

    /// The `/` prompt is open.
    #[must_use]
    pub fn editing_filter(&self) -> bool {
        self.editing_filter
    }

    /// The connection whose ladder is open (watch/read).
    #[must_use]
    pub fn focus(&self) -> Option<ConnId> {
        self.focus
    }

    /// Inferred states later withdrawn.
    #[must_use]
    pub fn withdrawn(&self) -> &Withdrawn {
        &self.withdrawn
    }

    /// The table as it was frozen (`p`).
    #[must_use]
    pub fn frozen(&self) -> Option<&Frozen> {
        self.frozen.as_ref()
    }

    /// The first event's time: the ladder counts from it.
    #[must_use]
    pub fn t0(&self) -> Option<Timestamp> {
        self.t0
    }

    /// The latest event's time.
    #[must_use]
    pub fn last_ts(&self) -> Timestamp {
        self.last_ts
    }

    /// The clock, for countdowns.
    #[must_use]
    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// A UDP packet was seen.
    #[must_use]
    pub fn saw_udp(&self) -> bool {
        self.saw_udp
    }

    /// Capture drops the kernel reported.
    #[must_use]
    pub fn dropped_packets(&self) -> u64 {
        self.dropped_packets
    }

    /// Frames rejected as unreadable.
    #[must_use]
    pub fn rejected_frames(&self) -> u64 {
        self.rejected_frames
    }

    /// The terminal's width.
    #[must_use]
    pub fn width(&self) -> u16 {
        self.width
    }

    /// The terminal's height.
    #[must_use]
    pub fn height(&self) -> u16 {
        self.height
    }

    /// The explanation pane (`e`) is open.
    #[must_use]
    pub fn explain(&self) -> bool {
        self.explain
    }

    /// Quiz mode's questions, answers and score.
    #[must_use]
    pub fn quiz(&self) -> Option<&Quiz> {
        self.quiz.as_ref()
    }

    // ---- the rows the ladder shows -----------------------------------------

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
    pub(super) fn more_to_come(&self) -> bool {
        !self.lab.ended || self.stops.shown() < self.steps.len()
    }

    /// The script is over and every step of it is shown.
    #[must_use]
    pub fn script_over(&self) -> bool {
        self.lab.ended && self.stops.shown() >= self.steps.len()
    }

    pub(super) fn focus_rows_kept(&self) -> &[RowId] {
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
        match self.cursor.and_then(|r| self.timeline.ts(r)) {
            Some(ts) => ts,
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
                        let cong =
                            s.cong_at(at).is_some() && state.is_some_and(crate::ui::cards::sends);
                        if let Some(n) = per_lane.get_mut(l) {
                            *n += 1 + u16::from(queue) + u16::from(bytes) + u16::from(cong);
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

    pub(super) fn ladder_height(&self) -> usize {
        usize::from(self.ladder_layout().ladder.height).max(1)
    }

    /// The packet nearest to a row (itself when it is one): the details view's.
    #[must_use]
    pub fn nearest_packet(&self, row: RowId) -> Option<RowId> {
        let pos = self.visible_pos(row);
        let is_packet = |p: usize| self.visible_row(p).filter(|r| self.timeline.is_packet(*r));
        let n = self.visible_len();
        (0..n).find_map(|d| is_packet(pos + d).or_else(|| pos.checked_sub(d).and_then(is_packet)))
    }

    /// The next packet after (`forward`) or before a row.
    pub(super) fn step_packet(&self, from: RowId, forward: bool) -> Option<RowId> {
        let pos = self.visible_pos(from);
        let n = self.visible_len();
        let is_packet = |r: &RowId| self.timeline.is_packet(*r);
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
    pub fn kill_target(&self) -> Option<crate::event::EndpointName> {
        let row = self.cursor?;
        let lane = match &*self.timeline.get(row)? {
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

    pub(super) fn is_demo(&self) -> bool {
        matches!(self.kind, RunKind::Demo { .. })
    }

    /// A packet row's number among the packets shown (1 for the first), as
    /// Wireshark numbers frames.
    #[must_use]
    pub fn packet_number(&self, row: RowId) -> usize {
        let pos = self.visible_pos(row);
        (0..=pos)
            .filter_map(|p| self.visible_row(p))
            .filter(|r| self.timeline.is_packet(*r))
            .count()
    }

    /// The header fields of a packet row (none when its bytes were not kept).
    #[must_use]
    pub fn packet_fields(&self, row: RowId) -> Vec<crate::tcp::dissect::Field> {
        match self.timeline.get(row).as_deref() {
            Some(Event::Packet(p)) => p
                .raw
                .as_ref()
                .map(|raw| crate::tcp::dissect::dissect(raw.link, &raw.bytes))
                .unwrap_or_default(),
            _ => Vec::new(),
        }
    }

    /// Reading a file: everything is there at once, nothing to freeze.
    pub(super) fn reading(&self) -> bool {
        matches!(self.kind, RunKind::Read { .. })
    }

    /// The table's rows as shown (frozen, or live and filtered).
    #[must_use]
    pub fn table_rows(&self) -> Vec<RowKey> {
        match &self.frozen {
            Some(f) => f.rows.clone(),
            None => self.conns.rows(&self.filter),
        }
    }
}
