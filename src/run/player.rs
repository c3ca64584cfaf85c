//! A session recording played on the screen as a run: a thread that takes
//! the lab's place. It takes the same controls ([`LabControl`]: the next
//! step, pause, play, stop) and gates the steps as the lab does (the pace
//! while playing, a click while paused; a step written `+ STEP` follows the
//! one before at once); within a step the events come as far apart as they
//! were recorded. Each event is moved to the time it is shown (the step it
//! belongs to began now), so the screen's clocks — the pace, the quiz, a
//! TIME-WAIT's countdown — run as in a live run. The events skip the model:
//! they are what the recorded run's model made.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::{Funnel, Msg};
use crate::event::Event;
use crate::lab::LabControl;
use crate::time::Timestamp;

/// How a recording plays.
#[derive(Clone, Debug)]
pub struct Play {
    /// Between the end of a step and the next while playing.
    pub pace: Duration,
    /// Each step waits for [`LabControl::Next`] (`--step`, `--quiz`).
    pub paused: bool,
    /// Which steps (by index, 0-based) follow the one before at once
    /// (`+ STEP` in the script).
    pub chained: Vec<bool>,
    /// Everything at once, at the recorded times (a capture file's recording,
    /// which a live `read` shows whole too).
    pub whole: bool,
}

/// How long the thread sleeps at most before it looks at the controls.
const LOOK: Duration = Duration::from_millis(20);

/// The controls as the thread keeps them.
struct Gate {
    control: mpsc::Receiver<LabControl>,
    paused: bool,
    /// Clicks not yet answered: each opens one gate (a fast clicker gets a
    /// step for each click).
    next: u32,
    stopped: bool,
}

impl Gate {
    /// Takes what arrived, waiting at most `wait` for the first.
    fn look(&mut self, wait: Duration) {
        let mut first = Some(wait);
        loop {
            let got = match first.take() {
                Some(w) if !w.is_zero() => self.control.recv_timeout(w).map_err(|e| match e {
                    mpsc::RecvTimeoutError::Timeout => mpsc::TryRecvError::Empty,
                    mpsc::RecvTimeoutError::Disconnected => mpsc::TryRecvError::Disconnected,
                }),
                _ => self.control.try_recv(),
            };
            match got {
                Ok(LabControl::Next) => self.next += 1,
                Ok(LabControl::Pause) => self.paused = true,
                Ok(LabControl::Play) => self.paused = false,
                Ok(LabControl::Stop) | Err(mpsc::TryRecvError::Disconnected) => {
                    self.stopped = true;
                    return;
                }
                // The screen says these need the lab; nothing to do here.
                Ok(LabControl::Kill(_) | LabControl::ToggleLink | LabControl::ToggleLoss) => {}
                Err(mpsc::TryRecvError::Empty) => return,
            }
        }
    }

    /// Waits before a step: `pace` while playing, a `Next` (or `Play`)
    /// while paused. False when told to stop.
    fn open(&mut self, pace: Duration) -> bool {
        let since = Instant::now();
        loop {
            self.look(Duration::ZERO);
            if self.stopped {
                return false;
            }
            if self.next > 0 {
                self.next -= 1;
                return true;
            }
            if !self.paused && since.elapsed() >= pace {
                return true;
            }
            self.look(LOOK);
        }
    }

    /// Sleeps until `until`, taking controls. False when told to stop.
    fn sleep_until(&mut self, until: Instant) -> bool {
        loop {
            self.look(Duration::ZERO);
            if self.stopped {
                return false;
            }
            let now = Instant::now();
            if now >= until {
                return true;
            }
            self.look((until - now).min(LOOK));
        }
    }
}

/// Nanoseconds to add to a recorded time, from each step that began a new
/// stretch of the recording's clock on: a `state_check`'s `shown_at` moves
/// as the line it names moved.
#[derive(Default)]
struct Shifts(Vec<(u64, i128)>);

impl Shifts {
    fn at(&self, recorded: u64) -> i128 {
        let i = self.0.partition_point(|&(from, _)| from <= recorded);
        match i.checked_sub(1) {
            Some(i) => self.0[i].1,
            None => self.0.first().map_or(0, |&(_, s)| s),
        }
    }
}

fn moved(ts: Timestamp, by: i128) -> Timestamp {
    let t = i128::from(ts.0) + by;
    Timestamp(u64::try_from(t.max(0)).unwrap_or(u64::MAX))
}

/// Plays `events` into the funnel as run `run`, then waits for
/// [`LabControl::Stop`]; says [`Msg::LabDone`] when it returns.
pub fn play(
    run: u64,
    events: Vec<Event>,
    opts: &Play,
    control: mpsc::Receiver<LabControl>,
    tx: &Funnel,
) {
    let mut gate = Gate {
        control,
        paused: opts.paused,
        next: 0,
        stopped: false,
    };
    let send = |batch: &mut Vec<Event>| {
        if batch.is_empty() {
            return true;
        }
        tx.send(Msg::Events {
            run,
            events: std::mem::take(batch),
        })
        .is_ok()
    };
    let mut batch = Vec::new();
    if opts.whole {
        // Batches, so the screen draws between them.
        for chunk in events.chunks(1024) {
            batch.extend_from_slice(chunk);
            if !send(&mut batch) {
                return;
            }
        }
    } else {
        let mut shifts = Shifts::default();
        // When (on this machine's clocks) the recorded moment `base` is shown.
        let mut base: Option<(Timestamp, Instant, Timestamp)> = None;
        for mut ev in events {
            let ts = ev.ts();
            if let Event::Step(s) = &ev {
                let chained = s.index >= 2 && opts.chained.get(s.index - 1) == Some(&true);
                if !chained {
                    if !send(&mut batch) {
                        return;
                    }
                    // The first step runs at once unless paused, as in the lab.
                    let pace = if s.index <= 1 {
                        Duration::ZERO
                    } else {
                        opts.pace
                    };
                    if !gate.open(pace) {
                        break;
                    }
                    base = None;
                }
            }
            let (recorded, at, wall) =
                *base.get_or_insert_with(|| (ts, Instant::now(), Timestamp::now()));
            let shift = i128::from(wall.0) - i128::from(recorded.0);
            if shifts.0.last().is_none_or(|&(_, s)| s != shift) {
                shifts.0.push((recorded.0, shift));
            }
            let due = at + Duration::from_nanos(ts.0.saturating_sub(recorded.0));
            if due > Instant::now() {
                if !send(&mut batch) {
                    return;
                }
                if !gate.sleep_until(due) {
                    break;
                }
            }
            ev.set_ts(moved(ts, shift));
            if let Event::Check(c) = &mut ev {
                c.shown_at = moved(c.shown_at, shifts.at(c.shown_at.0));
            }
            if let Event::Step(s) = &ev {
                if !send(&mut batch) {
                    return;
                }
                let _ = tx.send(Msg::StepBegan {
                    run,
                    step: (**s).clone(),
                });
            }
            batch.push(ev);
        }
    }
    if !send(&mut batch) {
        return;
    }
    // The recording is over; the screen stays, as after a demo's script.
    while !gate.stopped {
        gate.look(Duration::from_millis(200));
    }
    let _ = tx.send(Msg::LabDone { run, error: None });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{CallEvent, CallResult, StepEvent};

    fn step(ts: u64, index: usize) -> Event {
        Event::Step(Box::new(StepEvent {
            ts: Timestamp(ts),
            index,
            total: 3,
            line: index,
            narration: None,
        }))
    }

    fn call(ts: u64) -> Event {
        Event::Call(Box::new(CallEvent {
            ts: Timestamp(ts),
            endpoint: "client".into(),
            call: "close".into(),
            args: String::new(),
            result: Some(CallResult::Ok),
            local: None,
            times: None,
            data: None,
        }))
    }

    /// Everything the player sent, in order, until it waits for Stop.
    fn played(events: Vec<Event>, opts: Play, clicks: usize) -> (Vec<Event>, Vec<usize>) {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let (ctl, control) = mpsc::channel();
        for _ in 0..clicks {
            ctl.send(LabControl::Next).unwrap();
        }
        let n = events.len();
        let t = std::thread::spawn(move || play(0, events, &opts, control, &tx));
        let mut out = Vec::new();
        let mut began = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(10);
        while out.len() < n {
            assert!(Instant::now() < deadline, "the player stopped at {out:?}");
            match rx.try_recv() {
                Ok(Msg::Events { events, .. }) => out.extend(events),
                Ok(Msg::StepBegan { step, .. }) => began.push(step.index),
                Ok(_) => {}
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
        ctl.send(LabControl::Stop).unwrap();
        t.join().unwrap();
        (out, began)
    }

    #[test]
    fn a_recording_plays_whole_in_order_with_its_gaps_and_its_steps_told() {
        let ms = 1_000_000;
        let events = vec![
            step(1_000 * ms, 1),
            call(1_000 * ms + 30 * ms),
            step(5_000 * ms, 2),
            call(5_000 * ms + 1),
            step(5_000 * ms + 2, 3),
        ];
        let opts = Play {
            pace: Duration::ZERO,
            paused: false,
            chained: vec![false, false, true],
            whole: false,
        };
        let start = Instant::now();
        let (out, began) = played(events.clone(), opts, 0);
        // The 4 s between the steps are the pace's (0 here), the 30 ms
        // inside the first are kept.
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "{:?}",
            start.elapsed()
        );
        assert!(start.elapsed() >= Duration::from_millis(30));
        assert_eq!(out.len(), events.len());
        assert_eq!(began, vec![1, 2, 3]);
        let gap = out[1].ts().seconds_since(out[0].ts());
        assert!((gap - 0.030).abs() < 1e-6, "{gap}");
        // Times keep their order, and a chained step keeps its recorded gap.
        assert!(out.windows(2).all(|w| w[0].ts() <= w[1].ts()));
        assert_eq!(out[4].ts().0 - out[3].ts().0, 1);
    }

    #[test]
    fn paused_each_step_waits_for_a_click() {
        let events = vec![step(10, 1), call(11), step(20, 2), call(21)];
        let opts = Play {
            pace: Duration::from_secs(3600),
            paused: true,
            chained: vec![false, false],
            whole: false,
        };
        // Two clicks: both steps play, at once (no pace waited).
        let start = Instant::now();
        let (out, _) = played(events, opts, 2);
        assert_eq!(out.len(), 4);
        assert!(start.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn a_check_names_the_line_it_checks_at_that_line_s_new_time() {
        let mut check = match serde_json::from_str::<Event>(
            r#"{"Check":{"ts":25,"conn":1,"endpoint":"client","local":"127.0.0.1:1","remote":"127.0.0.1:2","shown":"FinWait2","shown_at":11,"actual":"FinWait2","source":"Kernel","timer":null,"note":null}}"#,
        ) {
            Ok(e) => e,
            Err(e) => panic!("{e}"),
        };
        check.set_ts(Timestamp(25));
        let events = vec![step(10, 1), call(11), step(20, 2), check];
        let opts = Play {
            pace: Duration::from_millis(50),
            paused: false,
            chained: vec![false, false],
            whole: false,
        };
        let (out, _) = played(events, opts, 0);
        let Event::Check(c) = &out[3] else {
            panic!("{:?}", out[3]);
        };
        assert_eq!(c.shown_at, out[1].ts(), "shown_at follows the call's line");
    }
}
