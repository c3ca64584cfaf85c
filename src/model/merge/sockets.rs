//! Each socket's one timeline as shown: the last state shown, who said it,
//! and whether the kernel has had its word on an inferred one yet. Rule 1
//! (one path per socket) is kept here: [`step`] decides what a new report
//! becomes, given what was shown.

use std::collections::VecDeque;
use std::net::SocketAddr;

use crate::event::StateSource;
use crate::hash::SockMap;
use crate::tcp::TcpState;
use crate::tcp::track::ConnId;
use crate::time::Timestamp;

/// A socket: (local, remote); a listener has no remote.
pub type Sock = (SocketAddr, Option<SocketAddr>);

/// The last state shown for a socket.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Shown {
    pub state: TcpState,
    pub source: StateSource,
    /// When it was shown (the line's time).
    pub at: Timestamp,
    /// The time its report spoke of (the kernel's own time of the change;
    /// the packet's for an inferred one): what later news is compared with.
    pub reported: Timestamp,
    /// An inferred state the kernel has had its word on (confirmed, moved
    /// on from, or withdrawn): nothing more to check.
    pub settled: bool,
    /// The connection it was shown for (a 4-tuple may be used again by a
    /// new one).
    pub conn: Option<ConnId>,
}

/// What a report about a socket becomes, given what was shown of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// A change from the state shown, as an RFC 9293 arrow.
    Change { from: Option<TcpState> },
    /// A change outside the diagram, shown as the kernel's word with a note.
    Noted { from: TcpState },
    /// The kernel's word agrees with an inferred state shown: say so.
    Confirm,
    /// The inferred state shown was not so: withdraw it; the socket is in
    /// `actual`. With `then`, the report's change follows from there.
    Withdraw { actual: TcpState, then: bool },
    /// Nothing new (the same state again, or older news).
    Skip,
}

/// What a kernel change of a socket becomes. `to` is the new state,
/// `view_from` the state the kernel had the socket in before and the last
/// time it saw it there, `reported` the kernel's own time of the change.
#[must_use]
pub fn kernel_step(
    last: Option<Shown>,
    view_from: Option<(TcpState, Timestamp)>,
    to: TcpState,
    reported: Timestamp,
) -> Step {
    let seen_from = view_from;
    let view_from = view_from.map(|(f, _)| f);
    // A socket that reached CLOSED is gone: a change on the same addresses
    // is a new socket's (a 4-tuple used again).
    let last = last.filter(|s| s.state != TcpState::Closed || to == TcpState::Closed);
    let Some(s) = last else {
        return match view_from {
            Some(f) if f != to && !TcpState::rfc_arrow(f, to) => Step::Noted { from: f },
            f => Step::Change {
                from: f.filter(|f| *f != to),
            },
        };
    };
    if s.state == to {
        return if s.source == StateSource::Inferred && !s.settled {
            Step::Confirm
        } else {
            Step::Skip
        };
    }
    match s.source {
        StateSource::Kernel => {
            if reported < s.reported {
                // The kernel already told something newer.
                return Step::Skip;
            }
            arrow(s.state, to)
        }
        StateSource::Inferred => {
            // The kernel saw the socket, after the inferred state began, in
            // a state that one cannot lead to: the inferred state was not so.
            // (Seen before it, the kernel only missed it.)
            if let Some((f, _)) = seen_from.filter(|(f, at)| {
                *f != s.state && at.0 > s.reported.0 + SKEW && !TcpState::leads_to(s.state, *f)
            }) {
                return Step::Withdraw {
                    actual: f,
                    then: true,
                };
            }
            if TcpState::leads_to(s.state, to) {
                return arrow(s.state, to);
            }
            if reported < s.reported && TcpState::leads_to(to, s.state) {
                // News from before the inferred state, consistent with it.
                return Step::Skip;
            }
            Step::Withdraw {
                actual: to,
                then: false,
            }
        }
    }
}

fn arrow(from: TcpState, to: TcpState) -> Step {
    if TcpState::rfc_arrow(from, to) {
        Step::Change { from: Some(from) }
    } else {
        Step::Noted { from }
    }
}

/// What an inferred change becomes, given what was shown.
#[must_use]
pub fn inferred_step(last: Option<Shown>, from: Option<TcpState>, to: TcpState) -> Step {
    // After CLOSED, a new socket on the same addresses.
    let last = last.filter(|s| s.state != TcpState::Closed || to == TcpState::Closed);
    let Some(s) = last else {
        return Step::Change {
            from: from.filter(|f| *f != to),
        };
    };
    if s.state == to {
        return Step::Skip;
    }
    if TcpState::rfc_arrow(s.state, to) {
        return Step::Change {
            from: Some(s.state),
        };
    }
    // The packets take back what they implied (a SYN-ACK sent again: the
    // final ACK that seemed to establish the connection was dropped).
    if s.source == StateSource::Inferred && TcpState::leads_to(to, s.state) {
        return Step::Withdraw {
            actual: to,
            then: false,
        };
    }
    // Only the kernel's word may leave the diagram.
    Step::Skip
}

/// How far the clocks of the capture and of the kernel's reports may
/// disagree: a kernel report within this after an inferred change may
/// still be from before it.
pub const SKEW: u64 = 2_000_000;

/// Inferred states shown and not settled are checked against the kernel's
/// word for at most this long.
pub const UNSETTLED_FOR: u64 = 3_000_000_000;

#[derive(Default)]
pub(super) struct Sockets {
    shown: SockMap<Sock, Shown>,
    /// Sockets whose last shown state is inferred and not settled, in the
    /// order they were shown (stale entries are skipped, and swept out when
    /// the list doubles: see [`Sockets::note_unsettled`]).
    unsettled: VecDeque<(Timestamp, Sock)>,
    /// The length at which the list is next swept.
    sweep_at: usize,
}

/// The unsettled list's length below which it is not swept.
const SWEEP_FROM: usize = 1_024;

impl Sockets {
    pub fn get(&self, k: &Sock) -> Option<Shown> {
        self.shown.get(k).copied()
    }

    pub fn set(&mut self, k: Sock, s: Shown) {
        self.shown.insert(k, s);
        self.note_unsettled(k, s);
    }

    /// Replaces the last shown state of a socket already known; false when
    /// it is not.
    pub fn replace(&mut self, k: &Sock, s: Shown) -> bool {
        let Some(slot) = self.shown.get_mut(k) else {
            return false;
        };
        *slot = s;
        self.note_unsettled(*k, s);
        true
    }

    /// Lists a socket whose shown state is inferred and unsettled. The
    /// entries of sockets settled or shown again since stay in the list
    /// until a walk checks it (about once a second on a busy host), and
    /// under a flood they are nearly all of it (tens of thousands a
    /// second, each settled by the tracepoint within milliseconds): the list
    /// is swept of them whenever it doubles, so it holds what is live.
    fn note_unsettled(&mut self, k: Sock, s: Shown) {
        if s.source != StateSource::Inferred || s.settled {
            return;
        }
        self.unsettled.push_back((s.at, k));
        if self.unsettled.len() >= self.sweep_at.max(SWEEP_FROM) {
            let shown = &self.shown;
            self.unsettled
                .retain(|(at, k)| shown.get(k).is_some_and(|s| live(s, *at)));
            self.sweep_at = self.unsettled.len() * 2;
        }
    }

    pub fn remove(&mut self, k: &Sock) -> Option<Shown> {
        self.shown.remove(k)
    }

    /// The sockets whose last shown state is inferred and unsettled (the
    /// kernel's word on each is to be checked); those unsettled for longer
    /// than [`UNSETTLED_FOR`] are settled as they are.
    pub fn unsettled(&mut self, now: Timestamp) -> Vec<(Sock, Shown)> {
        let old = Timestamp(now.0.saturating_sub(UNSETTLED_FOR));
        while let Some(&(at, k)) = self.unsettled.front() {
            if at > old {
                break;
            }
            self.unsettled.pop_front();
            if let Some(s) = self.shown.get_mut(&k).filter(|s| s.at == at) {
                s.settled = true;
            }
        }
        let shown = &self.shown;
        let mut out: Vec<(Sock, Shown)> = Vec::new();
        self.unsettled.retain(|(at, k)| match shown.get(k) {
            Some(s) if live(s, *at) => {
                out.push((*k, *s));
                true
            }
            _ => false,
        });
        self.sweep_at = self.unsettled.len() * 2;
        out
    }

    pub fn settle(&mut self, k: &Sock) {
        if let Some(s) = self.shown.get_mut(k) {
            s.settled = true;
        }
    }
}

/// Whether an unsettled list's entry made at `at` is still its socket's
/// word: the state shown since, inferred and not settled.
fn live(s: &Shown, at: Timestamp) -> bool {
    s.at == at && !s.settled && s.source == StateSource::Inferred
}

#[cfg(test)]
mod tests {
    use super::*;
    use TcpState::{
        CloseWait, Closed, Established, FinWait1, FinWait2, LastAck, Listen, SynReceived, SynSent,
        TimeWait,
    };

    fn shown(state: TcpState, source: StateSource, at: u64) -> Option<Shown> {
        Some(Shown {
            state,
            source,
            at: ms(at),
            reported: ms(at),
            settled: false,
            conn: None,
        })
    }
    /// Milliseconds (the clocks' skew is 2 ms).
    fn ms(n: u64) -> Timestamp {
        Timestamp(n * 1_000_000)
    }
    const K: StateSource = StateSource::Kernel;
    const I: StateSource = StateSource::Inferred;

    #[test]
    fn a_kernel_report_continues_or_confirms_what_was_shown() {
        assert_eq!(
            kernel_step(None, Some((Closed, ms(1))), SynSent, ms(1)),
            Step::Change { from: Some(Closed) }
        );
        assert_eq!(
            kernel_step(
                shown(FinWait2, K, 5),
                Some((FinWait2, ms(9))),
                TimeWait,
                ms(9)
            ),
            Step::Change {
                from: Some(FinWait2)
            }
        );
        // The same state the packets implied: the kernel confirms it.
        assert_eq!(
            kernel_step(shown(Closed, I, 5), Some((FinWait2, ms(4))), Closed, ms(4)),
            Step::Confirm
        );
        // The same state the kernel already said: nothing.
        assert_eq!(
            kernel_step(shown(Closed, K, 5), Some((FinWait2, ms(4))), Closed, ms(4)),
            Step::Skip
        );
        // Older news than the kernel's last word: nothing.
        assert_eq!(
            kernel_step(
                shown(FinWait2, K, 5),
                Some((Established, ms(4))),
                FinWait1,
                ms(4)
            ),
            Step::Skip
        );
    }

    #[test]
    fn a_kernel_report_withdraws_an_inference_it_contradicts() {
        // backlog-abort: the packets implied ESTABLISHED; the kernel's
        // request socket was still SYN-RECEIVED when it went.
        assert_eq!(
            kernel_step(
                shown(Established, I, 5),
                Some((SynReceived, ms(8))),
                Closed,
                ms(9)
            ),
            Step::Withdraw {
                actual: SynReceived,
                then: true
            }
        );
        // A walk first sees the socket in a state the inference cannot lead to.
        assert_eq!(
            kernel_step(shown(LastAck, I, 5), None, CloseWait, ms(9)),
            Step::Withdraw {
                actual: CloseWait,
                then: false
            }
        );
        // The kernel moved on from the inferred state: a plain change.
        assert_eq!(
            kernel_step(
                shown(FinWait1, I, 5),
                Some((FinWait1, ms(9))),
                FinWait2,
                ms(9)
            ),
            Step::Change {
                from: Some(FinWait1)
            }
        );
    }

    #[test]
    fn a_state_the_kernel_saw_before_the_inference_does_not_contradict_it() {
        // Rootless: the last walk saw CLOSE-WAIT, LAST-ACK was too brief to
        // see; the kernel's CLOSED continues from the inferred LAST-ACK.
        assert_eq!(
            kernel_step(
                shown(LastAck, I, 5),
                Some((CloseWait, ms(3))),
                Closed,
                ms(9)
            ),
            Step::Change {
                from: Some(LastAck)
            }
        );
    }

    #[test]
    fn after_closed_the_same_addresses_are_a_new_socket() {
        assert_eq!(
            kernel_step(
                shown(Closed, K, 5),
                Some((Listen, ms(9))),
                SynReceived,
                ms(9)
            ),
            Step::Change { from: Some(Listen) }
        );
        assert_eq!(
            inferred_step(shown(Closed, K, 5), Some(Closed), SynSent),
            Step::Change { from: Some(Closed) }
        );
    }

    #[test]
    fn a_kernel_path_outside_the_diagram_is_noted() {
        assert_eq!(
            kernel_step(
                shown(Established, K, 5),
                Some((Established, ms(9))),
                TimeWait,
                ms(9)
            ),
            Step::Noted { from: Established }
        );
    }

    #[test]
    fn inferred_changes_keep_to_the_diagram() {
        assert_eq!(
            inferred_step(None, Some(Listen), SynReceived),
            Step::Change { from: Some(Listen) }
        );
        assert_eq!(
            inferred_step(shown(TimeWait, K, 1), Some(FinWait2), TimeWait),
            Step::Skip
        );
        assert_eq!(
            inferred_step(shown(Established, I, 1), Some(Established), SynReceived),
            Step::Withdraw {
                actual: SynReceived,
                then: false
            }
        );
        assert_eq!(
            inferred_step(shown(SynReceived, K, 1), Some(Established), CloseWait),
            Step::Skip
        );
    }

    #[test]
    fn unsettled_inferences_are_listed_until_settled_or_old() {
        let mut s = Sockets::default();
        let k: Sock = ("127.0.0.1:1".parse().unwrap(), None);
        s.set(
            k,
            Shown {
                state: FinWait1,
                source: I,
                at: ms(10),
                reported: ms(10),
                settled: false,
                conn: None,
            },
        );
        assert_eq!(s.unsettled(ms(20)).len(), 1);
        s.settle(&k);
        assert!(s.unsettled(ms(20)).is_empty());
        s.set(
            k,
            Shown {
                state: FinWait2,
                source: I,
                at: ms(30),
                reported: ms(30),
                settled: false,
                conn: None,
            },
        );
        assert!(s.unsettled(Timestamp(ms(30).0 + UNSETTLED_FOR)).is_empty());
    }

    /// A flood: every inference is settled by the tracepoint moments later,
    /// and no walk comes for a while. The list keeps the live entries only
    /// (it used to hold every one of the second's, 54,000 in a watch), and
    /// the one still unsettled is still found.
    #[test]
    fn the_unsettled_list_is_swept_of_what_was_settled_since() {
        let mut s = Sockets::default();
        let inferred = |at| Shown {
            state: Established,
            source: I,
            at: ms(at),
            reported: ms(at),
            settled: false,
            conn: None,
        };
        let open: Sock = ("127.0.0.1:1".parse().unwrap(), None);
        s.set(open, inferred(1));
        for port in 2..50_000u16 {
            let k: Sock = (SocketAddr::from(([127, 0, 0, 1], port)), None);
            s.set(k, inferred(2));
            s.settle(&k);
            if port % 2 == 0 {
                s.remove(&k);
            }
        }
        assert!(
            s.unsettled.len() <= 2 * SWEEP_FROM,
            "{} listed",
            s.unsettled.len()
        );
        let left = s.unsettled(ms(3));
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].0, open);
    }
}
