//! Every narrated step is a stop. The lab runs a step written `+ STEP` at
//! once after the one before (the kernel does not wait for a class: a fast
//! retransmission follows its duplicate ACKs whatever the pace), so several
//! steps can arrive together. The screen shows them one at a time: the rows
//! from a narrated step's first row on wait until it is that step's turn.
//! With `--step` (or `--quiz`), its turn is a click; at a pace, the pace
//! after the narration before it was shown. A step without words goes with
//! the one before it.

use super::timeline::RowId;
use crate::event::StepEvent;
use crate::time::Timestamp;

/// What a click forward does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Forward {
    /// A step the lab had run already is shown now.
    Shown,
    /// The lab must run the next step; it is shown as it comes.
    AskLab,
}

/// Which of the steps the lab ran are shown.
#[derive(Clone, Debug, Default)]
pub struct Stops {
    /// Steps shown: a prefix of the run's steps.
    shown: usize,
    /// Clicks that asked for a step that had not come yet: each shows one
    /// when it comes (a fast clicker can be ahead of the lab).
    asked: u32,
    /// When the last narrated step was shown (at a pace, the next one waits
    /// the pace from then).
    shown_at: Option<Timestamp>,
    /// The pace, in seconds.
    pace: f64,
}

impl Stops {
    #[must_use]
    pub fn new(pace: f64) -> Self {
        Self {
            pace,
            ..Self::default()
        }
    }

    /// The first row not shown: the first row of the first step waiting
    /// for its turn.
    #[must_use]
    pub fn held_from(&self, steps: &[(RowId, StepEvent)]) -> Option<RowId> {
        steps.get(self.shown).map(|(r, _)| *r)
    }

    /// How many steps are shown.
    #[must_use]
    pub fn shown(&self) -> usize {
        self.shown
    }

    /// A click asked for a step, and it has not come yet.
    #[must_use]
    pub fn asked(&self) -> bool {
        self.asked > 0
    }

    /// Shows the steps whose turn has come; true if any was.
    pub fn advance(&mut self, steps: &[(RowId, StepEvent)], paused: bool, now: Timestamp) -> bool {
        let before = self.shown;
        while let Some((_, s)) = steps.get(self.shown) {
            let turn = if self.asked > 0 {
                // The step a click asked for, whatever it says.
                self.asked -= 1;
                true
            } else if s.narration.is_none() {
                // A step without words goes with the one before it.
                true
            } else if paused {
                false
            } else {
                self.pace <= 0.0
                    || self
                        .shown_at
                        .is_none_or(|at| now.seconds_since(at) >= self.pace)
            };
            if !turn {
                break;
            }
            if s.narration.is_some() {
                self.shown_at = Some(now);
            }
            self.shown += 1;
        }
        self.shown != before
    }

    /// A click forward: the next step the lab ran already, or the lab must
    /// run one (which is shown when it comes).
    pub fn forward(&mut self, steps: &[(RowId, StepEvent)], now: Timestamp) -> Forward {
        self.asked += 1;
        if self.shown < steps.len() {
            self.advance(steps, true, now);
            Forward::Shown
        } else {
            Forward::AskLab
        }
    }

    /// Everything that came is shown (the run is over and nothing waits
    /// for a click, or the steps are no longer held).
    pub fn show_all(&mut self, steps: &[(RowId, StepEvent)]) {
        self.shown = steps.len();
        self.asked = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Narration;

    fn step(row: RowId, index: usize, words: bool) -> (RowId, StepEvent) {
        (
            row,
            StepEvent {
                ts: Timestamp(0),
                index,
                total: 9,
                line: index,
                narration: words.then(|| Narration {
                    en: format!("step {index}"),
                    zh: None,
                }),
            },
        )
    }

    fn at(secs: f64) -> Timestamp {
        Timestamp((secs * 1e9) as u64)
    }

    #[test]
    fn stepping_shows_chained_narrated_steps_one_click_at_a_time() {
        let mut s = Stops::new(1.0);
        let mut steps = vec![step(0, 1, true)];
        // Paused: the first step shows when the click that asked for it comes.
        assert_eq!(s.held_from(&steps), Some(0));
        assert_eq!(s.forward(&[], at(0.0)), Forward::AskLab);
        assert!(s.advance(&steps, true, at(0.1)));
        assert_eq!(s.held_from(&steps), None);
        // The next click runs step 2, and steps 3 (no words) and 4 (words)
        // come with it at once.
        assert_eq!(s.forward(&steps, at(1.0)), Forward::AskLab);
        steps.extend([step(5, 2, true), step(8, 3, false), step(9, 4, true)]);
        s.advance(&steps, true, at(1.1));
        assert_eq!(s.shown(), 3, "2 and its wordless 3 show, 4 waits");
        assert_eq!(s.held_from(&steps), Some(9));
        // Nothing shows without a click, however long.
        assert!(!s.advance(&steps, true, at(60.0)));
        // The click shows 4 at once, without asking the lab.
        assert_eq!(s.forward(&steps, at(61.0)), Forward::Shown);
        assert_eq!(s.held_from(&steps), None);
        assert!(!s.asked());
        // A click that asks for a wordless step shows it alone: a narrated
        // step chained after it waits for its own click.
        assert_eq!(s.forward(&steps, at(62.0)), Forward::AskLab);
        steps.extend([step(12, 5, false), step(13, 6, true)]);
        s.advance(&steps, true, at(62.1));
        assert_eq!(s.held_from(&steps), Some(13));
    }

    #[test]
    fn a_fast_clicker_gets_a_step_for_each_click() {
        let mut s = Stops::new(1.0);
        let mut steps = Vec::new();
        // Three clicks before the first step's rows come.
        for _ in 0..3 {
            assert_eq!(s.forward(&steps, at(0.0)), Forward::AskLab);
        }
        steps.extend([step(0, 1, true), step(4, 2, true), step(9, 3, true)]);
        s.advance(&steps, true, at(0.5));
        assert_eq!(s.shown(), 3);
        assert!(!s.asked());
        // A fourth step comes (chained): it waits for its click.
        steps.push(step(12, 4, true));
        s.advance(&steps, true, at(0.6));
        assert_eq!(s.held_from(&steps), Some(12));
    }

    #[test]
    fn at_a_pace_each_narration_stays_the_pace() {
        let mut s = Stops::new(1.0);
        let mut steps = vec![step(0, 1, true), step(3, 2, true), step(4, 3, true)];
        assert!(s.advance(&steps, false, at(0.0)));
        assert_eq!(s.shown(), 1, "the first at once; 2 came with it and waits");
        assert!(!s.advance(&steps, false, at(0.5)));
        assert!(s.advance(&steps, false, at(1.0)));
        assert_eq!(s.shown(), 2);
        assert!(s.advance(&steps, false, at(2.5)));
        assert_eq!(s.shown(), 3);
        // A step that comes after the pace shows as it comes.
        steps.push(step(7, 4, true));
        assert!(s.advance(&steps, false, at(4.0)));
        assert_eq!(s.held_from(&steps), None);
    }

    #[test]
    fn show_all_lets_everything_through() {
        let mut s = Stops::new(1.0);
        let steps = vec![step(0, 1, true), step(1, 2, true)];
        s.show_all(&steps);
        assert_eq!(s.held_from(&steps), None);
    }
}
