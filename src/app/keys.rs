//! The keys and the mouse: what each does on each screen, and the moves
//! of the selection and the steps they make. Called only from
//! [`App::update`].

use super::{
    App, Effect, Event, Forward, Frozen, Key, LabControl, Lanes, Mouse, Notice, Overlay, RowId,
    RowKey, RunKind, Screen, layout,
};
use crate::tcp::track::ConnId;

impl App {
    /// Quiz mode's keys: a digit answers the open question and runs its
    /// step. True when the key was the quiz's.
    pub(super) fn quiz_key(&mut self, key: Key, fx: &mut Vec<Effect>) -> bool {
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

    /// Rows from `before` on have just been shown: the quiz sees them now
    /// (it asks about what the class sees), and a step shown ends the wait.
    pub(super) fn shown_from(&mut self, before: RowId) {
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
            .filter_map(|r| self.timeline.get(r).map(std::borrow::Cow::into_owned))
            .collect();
        q.observe(&rows);
        if rows.iter().any(|e| matches!(e, Event::Step(_))) {
            self.quiz_waiting = false;
            self.quiz_step_at = Some(self.now);
        }
    }

    /// A click forward: the next step the lab ran already is shown, or the
    /// lab is asked to run one. The screen follows the newest row.
    pub(super) fn forward(&mut self, fx: &mut Vec<Effect>) {
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
    pub(super) fn back_a_step(&mut self) {
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
    pub(super) fn ahead_a_step(&mut self) -> bool {
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
    pub(super) fn click_forward(&mut self, running: bool, fx: &mut Vec<Effect>) {
        if !self.ahead_a_step() && running && self.lab.paused {
            self.forward(fx);
        }
    }

    /// Keeps the selection on screen, or the newest row when following.
    pub(super) fn keep_cursor_visible(&mut self) {
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
    pub(super) fn move_cursor(&mut self, delta: isize) {
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

    pub(super) fn select_row(&mut self, row: RowId) {
        self.select_pos(self.visible_pos(row));
    }

    pub(super) fn select_pos(&mut self, pos: usize) {
        self.cursor = self.visible_row(pos.min(self.visible_len().saturating_sub(1)));
    }

    pub(super) fn on_key(&mut self, key: Key, fx: &mut Vec<Effect>) {
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

    pub(super) fn on_picker_key(&mut self, key: Key, fx: &mut Vec<Effect>) {
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

    pub(super) fn on_ladder_key(&mut self, key: Key, fx: &mut Vec<Effect>) {
        if self.quiz_key(key, fx) {
            return;
        }
        let page = isize::try_from(self.ladder_height().saturating_sub(1).max(1)).unwrap_or(1);
        let demo = self.is_demo();
        let running = demo && self.more_to_come();
        match key {
            // A replay has no lab to kill, cut, make lossy or restart: say so.
            Key::Char(c @ ('k' | 'c' | 'x' | 'r')) if demo && self.replay.is_some() => {
                self.notice = Some(Notice::NeedsLab(c));
            }
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
                let who = self
                    .kill_target()
                    .unwrap_or(std::borrow::Cow::Borrowed("server"));
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

    /// Shows a packet's details, its TCP (or UDP) header selected first:
    /// what a student looks for.
    pub(super) fn open_details(&mut self, row: RowId) {
        self.detail = Some(row);
        self.cursor = Some(row);
        self.overlay = Overlay::Details;
        self.detail_field = self
            .packet_fields(row)
            .iter()
            .position(|f| f.layer == crate::tcp::dissect::Layer::Transport)
            .unwrap_or(0);
    }

    pub(super) fn on_details_key(&mut self, key: Key, fx: &mut Vec<Effect>) {
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

    pub(super) fn toggle_freeze(&mut self) {
        self.frozen = match self.frozen {
            Some(_) => None,
            None => Some(Frozen {
                rows: self.conns.rows(&self.filter),
                end: self.timeline.end(),
            }),
        };
    }

    pub(super) fn on_table_key(&mut self, key: Key) {
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

    pub(super) fn on_filter_key(&mut self, key: Key) {
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
    pub(super) fn open_connection(&mut self, conn: ConnId) {
        let Some(e) = self.conns.get(RowKey::Conn(conn)) else {
            return;
        };
        let Some(server) = e.remote else { return };
        self.lanes = Lanes::for_connection(e.local, server);
        self.focus = Some(conn);
        let (first, end) = (self.timeline.first(), self.timeline.end());
        self.focus_rows = (first..end)
            .filter(|r| self.timeline.conn(*r) == Some(conn))
            .collect();
        self.cursor = None;
        self.screen = Screen::Ladder;
    }

    pub(super) fn on_mouse(&mut self, m: Mouse) {
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
