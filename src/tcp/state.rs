//! An observer's RFC 9293 state machine: from the segments of one connection
//! (both directions, each tagged with its sender's [`Role`]) infer the state
//! of both endpoints, as RFC 9293 §3.3.2 names them.
//!
//! The capture point sees a segment once; [`ConnMachine::on_segment`] applies
//! it twice, first as *sent* by one endpoint, then as *received* by the other
//! (a segment dropped after the capture point, e.g. on the lab's cut link, is
//! applied only as sent: [`ConnMachine::on_segment_lost`]). Every change goes
//! through one `set_state`, which records `from → to` with its [`Cause`].
//!
//! What an observer cannot know, and how it is reported ([`Note`],
//! [`Transition::is_guess`]):
//! - `listen()` sends no packet. A server's LISTEN is *implied* when it answers
//!   a SYN with a SYN-ACK; it is reported then (not when the SYN arrives: a SYN
//!   to a port nobody listens on is answered by RST and the server never left
//!   CLOSED), dated at the SYN, as is the SYN-RECEIVED the SYN caused
//!   ([`Transition::at`]).
//! - A connection first seen after its handshake starts as an ESTABLISHED
//!   guess on both sides ([`Cause::MidStream`]).
//! - The server's ESTABLISHED on the final ACK of the handshake assumes the ACK
//!   was taken: with a full accept queue Linux drops it silently. When the
//!   server then retransmits its SYN-ACK, the machine goes back to
//!   SYN-RECEIVED ([`Note::FinalAckDropped`]).
//! - RSTs are validated against the numbers seen so far; an RST in the window
//!   but not at the exact next sequence number resets an RFC 793 stack, while
//!   Linux (RFC 5961 §3.2) answers it with a challenge ACK ([`Note::RstInWindow`]).
//! - Not modelled, because the wire does not show them: an orphaned FIN-WAIT-2
//!   ends after `tcp_fin_timeout` only if the application called `close()`
//!   rather than `shutdown()`; a FIN is taken when it is seen, even if data
//!   before it is still missing.

use std::time::Duration;

use crate::tcp::Flags;
use crate::tcp::SeqNum;
use crate::tcp::TcpHeader;
use crate::tcp::TcpState;
use crate::tcp::track::Role;
use crate::time::Timestamp;

/// The parts of a segment that explain a transition.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SegSummary {
    pub flags: Flags,
    /// As given to the machine (absolute or relative; only differences matter).
    pub seq: u32,
    pub ack: u32,
    /// Payload bytes.
    pub len: u32,
}

impl SegSummary {
    #[must_use]
    pub fn new(hdr: &TcpHeader, payload_len: u32) -> Self {
        Self {
            flags: hdr.flags,
            seq: hdr.seq,
            ack: hdr.ack,
            len: payload_len,
        }
    }
}

/// Why an endpoint changed state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cause {
    /// The endpoint sent this segment.
    Sent(SegSummary),
    /// The endpoint received this segment.
    Received(SegSummary),
    /// The connection was first seen mid-stream (no handshake captured): this
    /// segment shows the endpoint already exists. The state is a guess.
    MidStream(SegSummary),
    /// The TIME-WAIT timer (2 MSL; Linux: 60 s) ran out.
    Timeout,
}

/// What the observer adds to a transition: an inference, or a fact the
/// states alone do not show.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Note {
    /// `listen()` sends nothing: LISTEN is implied by the SYN-ACK that answers
    /// a SYN.
    ImpliedListen,
    /// RFC 9293 §3.10.7.4: a connection that came from LISTEN returns there on
    /// RST. The connection is CLOSED; the listening socket keeps listening.
    ListenerKeepsListening,
    /// An RST in the window but not at the exact next sequence number: RFC 9293
    /// resets; Linux (RFC 5961 §3.2) sends a challenge ACK and stays.
    RstInWindow,
    /// An RST accepted with nothing seen to check its sequence number against.
    RstUnchecked,
    /// The endpoint retransmitted its SYN-ACK, so the ACK that seemed to
    /// establish it was dropped (Linux: accept queue full).
    FinalAckDropped,
    /// A new connection reuses the 4-tuple of one in TIME-WAIT.
    Reincarnation,
}

impl Note {
    /// Every note the machine can attach (the explanations must cover each).
    pub const ALL: [Note; 6] = [
        Note::ImpliedListen,
        Note::ListenerKeepsListening,
        Note::RstInWindow,
        Note::RstUnchecked,
        Note::FinalAckDropped,
        Note::Reincarnation,
    ];

    /// A short stable name for the note (its explanation's key).
    #[must_use]
    pub fn key(self) -> &'static str {
        match self {
            Note::ImpliedListen => "implied_listen",
            Note::ListenerKeepsListening => "listener_keeps_listening",
            Note::RstInWindow => "rst_in_window",
            Note::RstUnchecked => "rst_unchecked",
            Note::FinalAckDropped => "final_ack_dropped",
            Note::Reincarnation => "reincarnation",
        }
    }

    /// True when the transition is the observer's inference, not a certainty.
    #[must_use]
    pub fn is_guess(self) -> bool {
        matches!(
            self,
            Note::ImpliedListen | Note::RstInWindow | Note::RstUnchecked | Note::FinalAckDropped
        )
    }

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Note::ImpliedListen => "listener implied (listen() sends no packet)",
            Note::ListenerKeepsListening => "the listening socket stays in LISTEN",
            Note::RstInWindow => "RST in window but not exact (Linux would send a challenge ACK)",
            Note::RstUnchecked => "RST accepted without sequence numbers to check",
            Note::FinalAckDropped => "SYN-ACK retransmitted: the final ACK was dropped",
            Note::Reincarnation => "new connection on a TIME-WAIT 4-tuple",
        }
    }
}

/// One endpoint's state change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transition {
    pub endpoint: Role,
    pub from: TcpState,
    pub to: TcpState,
    pub cause: Cause,
    pub note: Option<Note>,
    /// When it happened: the segment's time, or a timer's; for a passive
    /// open (known only from the SYN-ACK), the time of the SYN that caused it.
    pub at: Timestamp,
}

impl Transition {
    /// The observer inferred this change (label it as such).
    #[must_use]
    pub fn is_guess(&self) -> bool {
        matches!(self.cause, Cause::MidStream(_)) || self.note.is_some_and(Note::is_guess)
    }
}

/// No call produces more transitions than this (the worst case, a SYN-ACK+FIN
/// from a TIME-WAIT server with timers due, makes eight).
pub const MAX_TRANSITIONS: usize = 10;

const PLACEHOLDER: Transition = Transition {
    endpoint: Role::Client,
    from: TcpState::Closed,
    to: TcpState::Closed,
    cause: Cause::Timeout,
    note: None,
    at: Timestamp(0),
};

/// The transitions one call caused, in order: a fixed-capacity list (no
/// allocation per segment). Derefs to a slice.
#[derive(Clone, Copy, Debug)]
pub struct Transitions {
    items: [Transition; MAX_TRANSITIONS],
    len: usize,
}

impl Transitions {
    fn new() -> Self {
        Self {
            items: [PLACEHOLDER; MAX_TRANSITIONS],
            len: 0,
        }
    }

    fn push(&mut self, t: Transition) {
        if let Some(slot) = self.items.get_mut(self.len) {
            *slot = t;
            self.len += 1;
        }
    }

    #[must_use]
    pub fn as_slice(&self) -> &[Transition] {
        &self.items[..self.len.min(MAX_TRANSITIONS)]
    }
}

impl std::ops::Deref for Transitions {
    type Target = [Transition];
    fn deref(&self) -> &[Transition] {
        self.as_slice()
    }
}

impl PartialEq for Transitions {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for Transitions {}

impl<'a> IntoIterator for &'a Transitions {
    type Item = &'a Transition;
    type IntoIter = std::slice::Iter<'a, Transition>;
    fn into_iter(self) -> Self::IntoIter {
        self.as_slice().iter()
    }
}

impl IntoIterator for Transitions {
    type Item = Transition;
    type IntoIter = std::iter::Take<std::array::IntoIter<Transition, MAX_TRANSITIONS>>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.into_iter().take(self.len)
    }
}

/// Behaviour that differs between stacks or settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// How long TIME-WAIT lasts (2 MSL). Linux: 60 s (`TCP_TIMEWAIT_LEN`).
    pub time_wait: Duration,
    /// RFC 1337 ("TIME-WAIT assassination hazards"): ignore an RST in
    /// TIME-WAIT. Linux's `net.ipv4.tcp_rfc1337` defaults to 0, and then an RST
    /// at exactly the next sequence number kills the TIME-WAIT socket, as
    /// RFC 9293 §3.10.7.4 says.
    pub rfc1337: bool,
}

impl Config {
    /// Linux's defaults.
    pub const LINUX: Config = Config {
        time_wait: Duration::from_secs(60),
        rfc1337: false,
    };
}

impl Default for Config {
    fn default() -> Self {
        Self::LINUX
    }
}

/// What the observer knows about one endpoint.
#[derive(Clone, Copy, Debug)]
struct Endpoint {
    state: TcpState,
    /// Sequence number of its SYN.
    iss: Option<SeqNum>,
    /// One past the highest sequence number it sent (SYN and FIN count one).
    snd_nxt: Option<SeqNum>,
    /// Sequence number its FIN occupies.
    fin_seq: Option<SeqNum>,
    /// The highest ACK it sent: its RCV.NXT as far as the wire shows.
    rcv_nxt: Option<SeqNum>,
    /// Its last advertised window, in bytes (scaled when the scale is known).
    window: u32,
    sent_syn: bool,
    wscale: Option<u8>,
    /// It reached SYN-RECEIVED from LISTEN (a passive open).
    passive: bool,
    /// A SYN it received while CLOSED or in TIME-WAIT, not answered yet,
    /// and when.
    pending_syn: Option<(SegSummary, Timestamp)>,
    time_wait_until: Option<Timestamp>,
}

impl Endpoint {
    const NEW: Endpoint = Endpoint {
        state: TcpState::Closed,
        iss: None,
        snd_nxt: None,
        fin_seq: None,
        rcv_nxt: None,
        window: 0,
        sent_syn: false,
        wscale: None,
        passive: false,
        pending_syn: None,
        time_wait_until: None,
    };

    /// A new incarnation on the same 4-tuple: forget the old numbers.
    fn forget_numbers(&mut self) {
        *self = Endpoint {
            state: self.state,
            ..Endpoint::NEW
        };
    }

    /// `ack` acknowledges its SYN: ISS < ack =< SND.NXT (RFC 9293 §3.10.7.3).
    fn syn_acked_by(&self, ack: u32) -> bool {
        let ack = SeqNum(ack);
        let Some(iss) = self.iss else { return false };
        ack.gt(iss) && self.snd_nxt.is_none_or(|nxt| ack.le(nxt))
    }

    /// `ack` acknowledges its FIN: ack ≥ FIN's seq + 1.
    fn fin_acked_by(&self, ack: u32) -> bool {
        self.fin_seq.is_some_and(|fin| SeqNum(ack).gt(fin))
    }
}

/// The later of two sequence numbers on the circle; `b` when there is no `a`.
fn later(a: Option<SeqNum>, b: SeqNum) -> SeqNum {
    a.map_or(b, |a| a.max(b))
}

fn index(who: Role) -> usize {
    match who {
        Role::Client => 0,
        Role::Server => 1,
    }
}

/// Linux's largest window scale (RFC 7323 §2.3 caps it at 14).
const MAX_WSCALE: u8 = 14;

/// Both endpoints of one connection, as an observer infers them.
#[derive(Clone, Debug)]
pub struct ConnMachine {
    /// Shared by every machine (8 bytes each instead of 24: a busy port
    /// follows thousands at once).
    cfg: &'static Config,
    ends: [Endpoint; 2],
    /// No SYN or ACK seen yet: the next one may reveal a connection mid-stream.
    fresh: bool,
}

impl Default for ConnMachine {
    fn default() -> Self {
        Self::new()
    }
}

impl ConnMachine {
    /// Both endpoints CLOSED, Linux defaults.
    #[must_use]
    pub fn new() -> Self {
        Self::with_config(&Config::LINUX)
    }

    #[must_use]
    pub fn with_config(cfg: &'static Config) -> Self {
        Self {
            cfg,
            ends: [Endpoint::NEW; 2],
            fresh: true,
        }
    }

    #[must_use]
    pub fn state(&self, who: Role) -> TcpState {
        self.ends[index(who)].state
    }

    /// When `who`'s TIME-WAIT ends, if it is in TIME-WAIT.
    #[must_use]
    pub fn time_wait_deadline(&self, who: Role) -> Option<Timestamp> {
        self.ends[index(who)].time_wait_until
    }

    /// When the SYN that neither end has answered yet came: what it caused
    /// is known only from the answer, and will be dated then.
    #[must_use]
    pub fn unanswered_syn(&self) -> Option<Timestamp> {
        self.ends
            .iter()
            .filter_map(|e| e.pending_syn.map(|(_, at)| at))
            .min()
    }

    /// The earliest timer, so the caller knows when to call [`Self::on_time`].
    #[must_use]
    pub fn next_deadline(&self) -> Option<Timestamp> {
        self.ends.iter().filter_map(|e| e.time_wait_until).min()
    }

    /// `from` sent `hdr` with `payload_len` bytes at `now`, and the peer
    /// received it. Returns the transitions it causes: timers that were due,
    /// then the sender's, then the receiver's.
    pub fn on_segment(
        &mut self,
        from: Role,
        hdr: &TcpHeader,
        payload_len: u32,
        now: Timestamp,
    ) -> Transitions {
        self.apply(from, hdr, payload_len, now, true)
    }

    /// `from` sent `hdr`, but it was lost after the capture point (the lab's
    /// cut link): only the sender is affected.
    pub fn on_segment_lost(
        &mut self,
        from: Role,
        hdr: &TcpHeader,
        payload_len: u32,
        now: Timestamp,
    ) -> Transitions {
        self.apply(from, hdr, payload_len, now, false)
    }

    /// Timers: TIME-WAIT → CLOSED once [`Config::time_wait`] has passed.
    pub fn on_time(&mut self, now: Timestamp) -> Transitions {
        let mut out = Transitions::new();
        self.expire(now, &mut out);
        out
    }

    fn apply(
        &mut self,
        from: Role,
        hdr: &TcpHeader,
        payload_len: u32,
        now: Timestamp,
        delivered: bool,
    ) -> Transitions {
        let mut out = Transitions::new();
        self.expire(now, &mut out);
        let seg = SegSummary::new(hdr, payload_len);
        if self.fresh {
            self.first_sight(from, seg, now, &mut out);
        }
        self.send(from, hdr, seg, now, &mut out);
        if delivered {
            self.receive(from.peer(), seg, now, &mut out);
        }
        out
    }

    /// The one place a state changes.
    fn set_state(
        &mut self,
        who: Role,
        to: TcpState,
        cause: Cause,
        note: Option<Note>,
        now: Timestamp,
        out: &mut Transitions,
    ) {
        let time_wait = self.cfg.time_wait;
        let e = &mut self.ends[index(who)];
        let from = e.state;
        if from == to {
            return;
        }
        e.state = to;
        e.time_wait_until = (to == TcpState::TimeWait).then(|| deadline(now, time_wait));
        out.push(Transition {
            endpoint: who,
            from,
            to,
            cause,
            note,
            at: now,
        });
    }

    fn expire(&mut self, now: Timestamp, out: &mut Transitions) {
        for who in [Role::Client, Role::Server] {
            let e = &self.ends[index(who)];
            if e.state == TcpState::TimeWait && e.time_wait_until.is_some_and(|t| t <= now) {
                self.set_state(who, TcpState::Closed, Cause::Timeout, None, now, out);
            }
        }
    }

    /// The first SYN or ACK decides whether the handshake is being watched.
    fn first_sight(&mut self, from: Role, seg: SegSummary, now: Timestamp, out: &mut Transitions) {
        let f = seg.flags;
        if f.rst() || !(f.syn() || f.ack()) {
            return;
        }
        self.fresh = false;
        if f.syn() && f.ack() {
            // A SYN-ACK first: the peer's SYN was not captured, but the ACK
            // number tells where it was (ISS = ack - 1).
            let peer = from.peer();
            let p = &mut self.ends[index(peer)];
            p.iss = Some(SeqNum(seg.ack) - 1);
            p.snd_nxt = Some(SeqNum(seg.ack));
            p.sent_syn = true;
            let cause = Cause::MidStream(seg);
            self.set_state(peer, TcpState::SynSent, cause, None, now, out);
        } else if !f.syn() {
            // Data or ACKs without a handshake: both ends exist already.
            let cause = Cause::MidStream(seg);
            self.set_state(from, TcpState::Established, cause, None, now, out);
            self.set_state(from.peer(), TcpState::Established, cause, None, now, out);
        }
    }

    /// The sender's side of a segment: what sending it says about the sender.
    fn send(
        &mut self,
        from: Role,
        hdr: &TcpHeader,
        seg: SegSummary,
        now: Timestamp,
        out: &mut Transitions,
    ) {
        use TcpState as S;
        let i = index(from);
        let f = seg.flags;
        let sent = Cause::Sent(seg);
        let pending = self.ends[i].pending_syn.take();

        if f.rst() {
            match self.ends[i].state {
                // §3.10.7.1 CLOSED: an RST from no socket ("connection refused").
                S::Closed | S::Listen => {}
                // §3.10.7.3 SYN-SENT: <SEQ=SEG.ACK><CTL=RST> answers an
                // unacceptable ACK; SYN-SENT itself never aborts with an RST.
                S::SynSent => {}
                // §3.10.4 ABORT / §3.10.7.4: the request dies; the listener stays.
                S::SynReceived => {
                    let note = self.ends[i].passive.then_some(Note::ListenerKeepsListening);
                    self.set_state(from, S::Closed, sent, note, now, out);
                }
                // Linux: a TIME-WAIT socket answering with RST is killed (TCP_TW_RST).
                S::TimeWait => self.set_state(from, S::Closed, sent, None, now, out),
                // §3.10.4 ABORT call: send a reset, enter CLOSED.
                S::Established
                | S::FinWait1
                | S::FinWait2
                | S::CloseWait
                | S::Closing
                | S::LastAck => {
                    self.set_state(from, S::Closed, sent, None, now, out);
                }
            }
            return;
        }

        if f.syn() && !f.ack() {
            match self.ends[i].state {
                // §3.10.1 OPEN call, active: send SYN, enter SYN-SENT.
                S::Closed | S::Listen | S::TimeWait => {
                    if self.ends[i].state == S::TimeWait {
                        self.set_state(from, S::Closed, sent, Some(Note::Reincarnation), now, out);
                    }
                    self.ends[i].forget_numbers();
                    self.set_state(from, S::SynSent, sent, None, now, out);
                    if let Some((p, _)) = pending {
                        // §3.10.7.3 SYN-SENT, SYN without ACK: the SYNs crossed
                        // (simultaneous open); enter SYN-RECEIVED.
                        self.note_peer_syn(from, p);
                        self.set_state(from, S::SynReceived, Cause::Received(p), None, now, out);
                    }
                }
                // A retransmitted SYN changes nothing.
                _ => {}
            }
        } else if f.syn() && f.ack() {
            match self.ends[i].state {
                // §3.10.7.2 LISTEN, SYN: the listener (implied) answers with
                // SYN-ACK and the connection enters SYN-RECEIVED.
                S::Closed | S::Listen | S::TimeWait => {
                    let cause = pending.map_or(sent, |(p, _)| Cause::Received(p));
                    // The SYN caused it (§3.10.7.2: on a SYN the listener sends
                    // SYN-ACK and enters SYN-RECEIVED); only the answer showed
                    // that someone listened. It happened when the SYN came.
                    let at = pending.map_or(now, |(_, at)| at);
                    if self.ends[i].state == S::TimeWait {
                        // RFC 9293 §3.10.7.4 TIME-WAIT / RFC 6191: a new SYN
                        // may reopen a 4-tuple in TIME-WAIT.
                        self.set_state(from, S::Closed, cause, Some(Note::Reincarnation), at, out);
                    }
                    self.ends[i].forget_numbers();
                    if let Some((p, _)) = pending {
                        self.note_peer_syn(from, p);
                    }
                    self.set_state(from, S::Listen, cause, Some(Note::ImpliedListen), at, out);
                    self.set_state(from, S::SynReceived, cause, None, at, out);
                    self.ends[i].passive = true;
                }
                // §3.10.7.3: only after receiving the peer's SYN does SYN-SENT
                // send SYN-ACK (that SYN was not captured).
                S::SynSent => self.set_state(from, S::SynReceived, sent, None, now, out),
                // §3.10.7.4 SYN-RECEIVED is the only state that retransmits its
                // SYN-ACK: the ACK that seemed to establish it was dropped.
                S::Established
                    if self.ends[i].passive && self.ends[i].iss == Some(SeqNum(seg.seq)) =>
                {
                    self.set_state(
                        from,
                        S::SynReceived,
                        sent,
                        Some(Note::FinalAckDropped),
                        now,
                        out,
                    );
                }
                // Retransmitted SYN-ACK.
                _ => {}
            }
        }

        if f.fin() {
            match self.ends[i].state {
                // §3.10.4 CLOSE call, SYN-RECEIVED / ESTABLISHED: send FIN, enter FIN-WAIT-1.
                S::SynReceived | S::Established => {
                    self.set_state(from, S::FinWait1, sent, None, now, out);
                }
                // §3.10.4 CLOSE call, CLOSE-WAIT: send FIN, enter LAST-ACK.
                S::CloseWait => self.set_state(from, S::LastAck, sent, None, now, out),
                // A retransmitted FIN (or one that makes no sense) changes nothing.
                _ => {}
            }
        }

        self.record_sent(from, hdr, seg);
    }

    /// The peer's ISN, learned from a SYN it received.
    fn note_peer_syn(&mut self, who: Role, syn: SegSummary) {
        let e = &mut self.ends[index(who)];
        e.rcv_nxt = Some(later(e.rcv_nxt, SeqNum(syn.seq) + 1));
    }

    /// Numbers the sender revealed: how far it sent, what it acknowledged, its
    /// window.
    fn record_sent(&mut self, from: Role, hdr: &TcpHeader, seg: SegSummary) {
        let f = seg.flags;
        let shift = self.window_shift(from);
        let e = &mut self.ends[index(from)];
        if f.syn() {
            e.iss = Some(SeqNum(seg.seq));
            e.sent_syn = true;
            e.wscale = hdr.options.wscale;
        }
        let fin_at = SeqNum(seg.seq) + u32::from(f.syn()) + seg.len;
        if f.fin() && e.fin_seq.is_none() {
            e.fin_seq = Some(fin_at);
        }
        let end = fin_at + u32::from(f.fin());
        e.snd_nxt = Some(later(e.snd_nxt, end));
        if f.ack() {
            e.rcv_nxt = Some(later(e.rcv_nxt, SeqNum(seg.ack)));
            // RFC 7323 §2.2: the window in a SYN is never scaled.
            let scale = if f.syn() { 0 } else { shift };
            e.window = u32::from(hdr.window) << scale;
        }
    }

    /// The scale of `who`'s advertised windows: RFC 7323 §2.2 applies it only
    /// when both SYNs carried the option. Mid-stream it is unknown; assume the
    /// largest, so RST checks err on the side of accepting (flagged as a guess).
    fn window_shift(&self, who: Role) -> u8 {
        let (me, peer) = (&self.ends[index(who)], &self.ends[index(who.peer())]);
        if !(me.sent_syn && peer.sent_syn) {
            return MAX_WSCALE;
        }
        match (me.wscale, peer.wscale) {
            (Some(s), Some(_)) => s.min(MAX_WSCALE),
            _ => 0,
        }
    }

    /// The receiver's side of a segment (RFC 9293 §3.10.7, SEGMENT ARRIVES).
    fn receive(&mut self, to: Role, seg: SegSummary, now: Timestamp, out: &mut Transitions) {
        use TcpState as S;
        let i = index(to);
        let f = seg.flags;
        let got = Cause::Received(seg);

        if f.rst() {
            match self.ends[i].state {
                // §3.10.7.1 CLOSED / §3.10.7.2 LISTEN: an incoming RST is ignored.
                S::Closed | S::Listen => {}
                // §3.10.7.3 SYN-SENT: an RST counts only if its ACK acknowledges our SYN.
                S::SynSent => {
                    if f.ack() && self.ends[i].syn_acked_by(seg.ack) {
                        self.set_state(to, S::Closed, got, None, now, out);
                    }
                }
                // §3.10.7.4 SYN-RECEIVED: a valid RST returns a passive open to
                // LISTEN (the connection is gone), an active one to CLOSED.
                S::SynReceived => {
                    if let RstVerdict::Accept(check) = self.rst_check(to, seg.seq) {
                        let note = if self.ends[i].passive {
                            Some(Note::ListenerKeepsListening)
                        } else {
                            check
                        };
                        self.set_state(to, S::Closed, got, note, now, out);
                    }
                }
                // §3.10.7.4 TIME-WAIT: RST → CLOSED. Linux does this only for
                // an RST at exactly RCV.NXT, and not with tcp_rfc1337=1
                // (RFC 1337 ignores it).
                S::TimeWait => {
                    if !self.cfg.rfc1337 && self.rst_exact(to, seg.seq) {
                        self.set_state(to, S::Closed, got, None, now, out);
                    }
                }
                // §3.10.7.4 first (sequence number) and second (RST) checks:
                // a valid RST closes the connection.
                S::Established
                | S::FinWait1
                | S::FinWait2
                | S::CloseWait
                | S::Closing
                | S::LastAck => {
                    if let RstVerdict::Accept(note) = self.rst_check(to, seg.seq) {
                        self.set_state(to, S::Closed, got, note, now, out);
                    }
                }
            }
            return;
        }

        if f.syn() && !f.ack() {
            match self.ends[i].state {
                // §3.10.7.2 LISTEN: the answer (SYN-ACK or RST) shows whether
                // anyone listens, so the SYN waits for it. Linux lets a SYN
                // reopen a TIME-WAIT 4-tuple the same way.
                S::Closed | S::Listen | S::TimeWait => self.ends[i].pending_syn = Some((seg, now)),
                // §3.10.7.3 SYN-SENT, SYN without ACK: simultaneous open, enter SYN-RECEIVED.
                S::SynSent => {
                    self.note_peer_syn(to, seg);
                    self.set_state(to, S::SynReceived, got, None, now, out);
                }
                // §3.10.7.4 fourth check: a SYN in a synchronized state gets a
                // challenge ACK (a retransmitted SYN changes nothing).
                _ => {}
            }
            return;
        }

        // §3.10.7.4 fifth check: "if the ACK bit is off, drop the segment".
        if !f.ack() {
            return;
        }

        match self.ends[i].state {
            // §3.10.7.3 SYN-SENT, SYN-ACK acknowledging our SYN: enter ESTABLISHED
            // (and send the final ACK). Otherwise it answers with RST.
            S::SynSent => {
                if !(f.syn() && self.ends[i].syn_acked_by(seg.ack)) {
                    return;
                }
                self.note_peer_syn(to, seg);
                self.set_state(to, S::Established, got, None, now, out);
            }
            // §3.10.7.4 fifth, SYN-RECEIVED: SND.UNA < SEG.ACK =< SND.NXT →
            // ESTABLISHED (also the peer's SYN-ACK in a simultaneous open).
            S::SynReceived => {
                if !self.ends[i].syn_acked_by(seg.ack) {
                    return;
                }
                self.set_state(to, S::Established, got, None, now, out);
            }
            // §3.10.7.4 fifth, FIN-WAIT-1: our FIN acknowledged → FIN-WAIT-2.
            S::FinWait1 if self.ends[i].fin_acked_by(seg.ack) => {
                self.set_state(to, S::FinWait2, got, None, now, out);
            }
            // §3.10.7.4 fifth, CLOSING: our FIN acknowledged → TIME-WAIT.
            S::Closing if self.ends[i].fin_acked_by(seg.ack) => {
                self.set_state(to, S::TimeWait, got, None, now, out);
            }
            // §3.10.7.4 fifth, LAST-ACK: our FIN acknowledged → CLOSED.
            S::LastAck if self.ends[i].fin_acked_by(seg.ack) => {
                self.set_state(to, S::Closed, got, None, now, out);
                return;
            }
            // Data and ACKs change no state (half-close: data still flows
            // from the CLOSE-WAIT side).
            _ => {}
        }

        if f.fin() {
            match self.ends[i].state {
                // §3.10.7.4 eighth, SYN-RECEIVED / ESTABLISHED: enter CLOSE-WAIT.
                S::SynReceived | S::Established => {
                    self.set_state(to, S::CloseWait, got, None, now, out);
                }
                // §3.10.7.4 eighth, FIN-WAIT-1, our FIN not yet acked: CLOSING
                // (simultaneous close). When this segment acked it, the fifth
                // check above already moved to FIN-WAIT-2, as Linux does.
                S::FinWait1 => self.set_state(to, S::Closing, got, None, now, out),
                // §3.10.7.4 eighth, FIN-WAIT-2: enter TIME-WAIT.
                S::FinWait2 => self.set_state(to, S::TimeWait, got, None, now, out),
                // §3.10.7.4 eighth, TIME-WAIT: a retransmitted FIN restarts the 2 MSL timer.
                S::TimeWait => {
                    self.ends[i].time_wait_until = Some(deadline(now, self.cfg.time_wait));
                }
                // CLOSE-WAIT, CLOSING, LAST-ACK: remain; CLOSED, LISTEN,
                // SYN-SENT: drop.
                _ => {}
            }
        }
    }

    /// An RST at exactly the next sequence number `to` expects (RFC 9293
    /// §3.10.7.4 / RFC 5961 §3.2: SEG.SEQ = RCV.NXT). Also the sender's FIN's
    /// own number, as Linux accepts after a FIN (`tcp_reset_check`).
    fn rst_exact(&self, to: Role, seq: u32) -> bool {
        let seq = SeqNum(seq);
        let (me, peer) = (&self.ends[index(to)], &self.ends[index(to.peer())]);
        me.rcv_nxt == Some(seq) || peer.snd_nxt == Some(seq) || peer.fin_seq == Some(seq)
    }

    /// Whether `to` accepts an RST at `seq` (RFC 9293 §3.10.7.4 first check).
    fn rst_check(&self, to: Role, seq: u32) -> RstVerdict {
        if self.rst_exact(to, seq) {
            return RstVerdict::Accept(None);
        }
        let me = &self.ends[index(to)];
        let Some(rcv_nxt) = me.rcv_nxt else {
            return RstVerdict::Accept(Some(Note::RstUnchecked));
        };
        // RCV.NXT =< SEG.SEQ < RCV.NXT + RCV.WND (a zero window admits only
        // the exact number, checked above).
        let offset = SeqNum(seq) - rcv_nxt;
        let in_window = offset >= 0 && offset.unsigned_abs() < me.window;
        if in_window {
            RstVerdict::Accept(Some(Note::RstInWindow))
        } else {
            RstVerdict::Ignore
        }
    }
}

/// What an endpoint does with an RST in a synchronized state.
enum RstVerdict {
    /// Out of the window: dropped.
    Ignore,
    /// Accepted, with a note when the acceptance is a guess.
    Accept(Option<Note>),
}

fn deadline(now: Timestamp, after: Duration) -> Timestamp {
    let nanos = u64::try_from(after.as_nanos()).unwrap_or(u64::MAX);
    Timestamp(now.0.saturating_add(nanos))
}

/// Tests read as ladder diagrams: one segment per line, so the tables are
/// exempt from rustfmt (which would spread each row over a dozen lines).
#[cfg(test)]
mod tests {
    use super::*;
    use Role::{Client as C, Server as S};
    use TcpState::{
        CloseWait, Closed, Closing, Established, FinWait1, FinWait2, LastAck, Listen, SynReceived,
        SynSent, TimeWait,
    };

    const SYN: Flags = Flags::SYN;
    const SYN_ACK: Flags = Flags(Flags::SYN.0 | Flags::ACK.0);
    const ACK: Flags = Flags::ACK;
    const PSH_ACK: Flags = Flags(Flags::PSH.0 | Flags::ACK.0);
    const FIN: Flags = Flags::FIN;
    const FIN_ACK: Flags = Flags(Flags::FIN.0 | Flags::ACK.0);
    const RST: Flags = Flags::RST;
    const RST_ACK: Flags = Flags(Flags::RST.0 | Flags::ACK.0);

    /// One rung of a ladder: who sends, flags, seq, ack, payload length, and
    /// the transitions expected (endpoint, from, to), in order.
    type Step = (
        Role,
        Flags,
        u32,
        u32,
        u32,
        &'static [(Role, TcpState, TcpState)],
    );

    /// Client ISS 1000, server ISS 5000.
    #[rustfmt::skip]
    const OPEN: &[Step] = &[
        (C, SYN, 1000, 0, 0, &[(C, Closed, SynSent)]),
        (S, SYN_ACK, 5000, 1001, 0, &[(S, Closed, Listen), (S, Listen, SynReceived), (C, SynSent, Established)]),
        (C, ACK, 1001, 5001, 0, &[(S, SynReceived, Established)]),
    ];

    const NANOS: u64 = 1_000_000_000;

    fn hdr(flags: Flags, seq: u32, ack: u32) -> TcpHeader {
        TcpHeader {
            seq,
            ack,
            flags,
            window: 65535,
            header_len: 20,
            ..TcpHeader::default()
        }
    }

    /// A machine and a clock that advances 1 ms per segment.
    struct Lab {
        m: ConnMachine,
        now: Timestamp,
    }

    impl Lab {
        fn new() -> Self {
            Self::with(Config::default())
        }
        fn with(cfg: Config) -> Self {
            Self {
                m: ConnMachine::with_config(Box::leak(Box::new(cfg))),
                now: Timestamp(1_700_000_000 * NANOS),
            }
        }
        fn opened() -> Self {
            let mut lab = Self::new();
            lab.run(OPEN);
            lab
        }
        fn send(&mut self, who: Role, flags: Flags, seq: u32, ack: u32, len: u32) -> Transitions {
            self.now.0 += NANOS / 1000;
            self.m.on_segment(who, &hdr(flags, seq, ack), len, self.now)
        }
        fn lose(&mut self, who: Role, flags: Flags, seq: u32, ack: u32, len: u32) -> Transitions {
            self.now.0 += NANOS / 1000;
            self.m
                .on_segment_lost(who, &hdr(flags, seq, ack), len, self.now)
        }
        fn wait(&mut self, secs: u64) -> Transitions {
            self.now.0 += secs * NANOS;
            self.m.on_time(self.now)
        }
        fn run(&mut self, steps: &[Step]) {
            for (n, &(who, flags, seq, ack, len, want)) in steps.iter().enumerate() {
                let out = self.send(who, flags, seq, ack, len);
                assert_eq!(
                    brief(&out),
                    want,
                    "step {n}: {who:?} sends {flags} seq={seq} ack={ack} len={len}"
                );
            }
        }
        fn states(&self) -> (TcpState, TcpState) {
            (self.m.state(C), self.m.state(S))
        }
    }

    fn brief(out: &Transitions) -> Vec<(Role, TcpState, TcpState)> {
        out.iter().map(|t| (t.endpoint, t.from, t.to)).collect()
    }

    #[test]
    #[rustfmt::skip]
    fn normal_open_implies_the_listener() {
        let mut lab = Lab::new();
        let syn = lab.send(C, SYN, 1000, 0, 0);
        assert_eq!(syn[0].cause, Cause::Sent(SegSummary { flags: SYN, seq: 1000, ack: 0, len: 0 }));
        assert_eq!(lab.m.state(S), Closed, "a SYN alone does not show a listener");
        let synack = lab.send(S, SYN_ACK, 5000, 1001, 0);
        let received_syn = Cause::Received(SegSummary { flags: SYN, seq: 1000, ack: 0, len: 0 });
        assert_eq!(brief(&synack), [(S, Closed, Listen), (S, Listen, SynReceived), (C, SynSent, Established)]);
        assert_eq!((synack[0].cause, synack[1].cause), (received_syn, received_syn));
        assert_eq!(synack[0].note, Some(Note::ImpliedListen));
        assert!(synack[0].is_guess() && !synack[1].is_guess() && !synack[2].is_guess());
        lab.run(&OPEN[2..]);
        assert_eq!(lab.states(), (Established, Established));
    }

    #[test]
    #[rustfmt::skip]
    fn simultaneous_open_on_the_wire() {
        Lab::new().run(&[
            (C, SYN, 1000, 0, 0, &[(C, Closed, SynSent)]),
            // The server's SYN crossed the client's: it was SYN-SENT when that arrived.
            (S, SYN, 5000, 0, 0, &[(S, Closed, SynSent), (S, SynSent, SynReceived), (C, SynSent, SynReceived)]),
            (C, SYN_ACK, 1000, 5001, 0, &[(S, SynReceived, Established)]),
            (S, SYN_ACK, 5000, 1001, 0, &[(C, SynReceived, Established)]),
        ]);
    }

    #[test]
    #[rustfmt::skip]
    fn simultaneous_open_through_a_cut_link() {
        let mut lab = Lab::new();
        assert_eq!(brief(&lab.lose(C, SYN, 1000, 0, 0)), [(C, Closed, SynSent)]);
        assert_eq!(brief(&lab.lose(S, SYN, 5000, 0, 0)), [(S, Closed, SynSent)]);
        lab.run(&[
            (C, SYN, 1000, 0, 0, &[(S, SynSent, SynReceived)]),
            (S, SYN, 5000, 0, 0, &[(C, SynSent, SynReceived)]),
            (S, SYN_ACK, 5000, 1001, 0, &[(C, SynReceived, Established)]),
            (C, SYN_ACK, 1000, 5001, 0, &[(S, SynReceived, Established)]),
        ]);
    }

    #[test]
    #[rustfmt::skip]
    fn refused_connect_never_shows_a_listener() {
        let mut lab = Lab::new();
        lab.run(&[
            (C, SYN, 1000, 0, 0, &[(C, Closed, SynSent)]),
            (S, RST_ACK, 0, 1001, 0, &[(C, SynSent, Closed)]),
        ]);
        assert_eq!(lab.states(), (Closed, Closed));
        // A late SYN retransmission after the refusal is a new attempt.
        lab.run(&[(C, SYN, 1000, 0, 0, &[(C, Closed, SynSent)])]);
    }

    #[test]
    #[rustfmt::skip]
    fn close_from_the_client() {
        let mut lab = Lab::opened();
        lab.run(&[
            (C, FIN_ACK, 1001, 5001, 0, &[(C, Established, FinWait1), (S, Established, CloseWait)]),
            (S, ACK, 5001, 1002, 0, &[(C, FinWait1, FinWait2)]),
            (S, FIN_ACK, 5001, 1002, 0, &[(S, CloseWait, LastAck), (C, FinWait2, TimeWait)]),
            (C, ACK, 1002, 5002, 0, &[(S, LastAck, Closed)]),
        ]);
        assert_eq!(lab.states(), (TimeWait, Closed));
    }

    #[test]
    #[rustfmt::skip]
    fn close_from_the_server() {
        let mut lab = Lab::opened();
        lab.run(&[
            (S, FIN_ACK, 5001, 1001, 0, &[(S, Established, FinWait1), (C, Established, CloseWait)]),
            (C, ACK, 1001, 5002, 0, &[(S, FinWait1, FinWait2)]),
            (C, FIN_ACK, 1001, 5002, 0, &[(C, CloseWait, LastAck), (S, FinWait2, TimeWait)]),
            (S, ACK, 5002, 1002, 0, &[(C, LastAck, Closed)]),
        ]);
        assert_eq!(lab.states(), (Closed, TimeWait));
    }

    /// The usual Linux three-segment close: the passive side's FIN carries the
    /// ACK of the first FIN. RFC 9293's checks (ACK fifth, FIN eighth) and
    /// Linux's tcp_rcv_state_process both pass through FIN-WAIT-2.
    #[test]
    #[rustfmt::skip]
    fn fin_and_ack_of_fin_in_one_segment() {
        let mut lab = Lab::opened();
        lab.run(&[
            (C, FIN_ACK, 1001, 5001, 0, &[(C, Established, FinWait1), (S, Established, CloseWait)]),
            (S, FIN_ACK, 5001, 1002, 0, &[(S, CloseWait, LastAck), (C, FinWait1, FinWait2), (C, FinWait2, TimeWait)]),
            (C, ACK, 1002, 5002, 0, &[(S, LastAck, Closed)]),
        ]);
    }

    #[test]
    #[rustfmt::skip]
    fn simultaneous_close_goes_through_closing_on_both_sides() {
        let mut lab = Lab::opened();
        // The link is cut, so both FINs are in flight at once.
        assert_eq!(brief(&lab.lose(C, FIN_ACK, 1001, 5001, 0)), [(C, Established, FinWait1)]);
        lab.run(&[
            (S, FIN_ACK, 5001, 1001, 0, &[(S, Established, FinWait1), (C, FinWait1, Closing)]),
            (C, FIN_ACK, 1001, 5001, 0, &[(S, FinWait1, Closing)]),
            (C, ACK, 1002, 5002, 0, &[(S, Closing, TimeWait)]),
            (S, ACK, 5002, 1002, 0, &[(C, Closing, TimeWait)]),
        ]);
        assert_eq!(lab.states(), (TimeWait, TimeWait));
    }

    #[test]
    #[rustfmt::skip]
    fn half_close_lets_data_flow_from_the_close_wait_side() {
        let mut lab = Lab::opened();
        lab.run(&[
            (C, FIN_ACK, 1001, 5001, 0, &[(C, Established, FinWait1), (S, Established, CloseWait)]),
            (S, ACK, 5001, 1002, 0, &[(C, FinWait1, FinWait2)]),
            (S, PSH_ACK, 5001, 1002, 100, &[]),
            (C, ACK, 1002, 5101, 0, &[]),
            (S, PSH_ACK, 5101, 1002, 1000, &[]),
            (S, FIN_ACK, 6101, 1002, 0, &[(S, CloseWait, LastAck), (C, FinWait2, TimeWait)]),
            // Acknowledges the data, not the FIN: LAST-ACK waits.
            (C, ACK, 1002, 6101, 0, &[]),
            (C, ACK, 1002, 6102, 0, &[(S, LastAck, Closed)]),
        ]);
    }

    #[test]
    #[rustfmt::skip]
    fn fin_without_ack_is_dropped_by_the_receiver() {
        // §3.10.7.4 fifth check; the sender did close, though.
        Lab::opened().run(&[(C, FIN, 1001, 0, 0, &[(C, Established, FinWait1)])]);
    }

    #[test]
    #[rustfmt::skip]
    fn rst_in_syn_sent_needs_an_ack_of_the_syn() {
        Lab::new().run(&[
            (C, SYN, 1000, 0, 0, &[(C, Closed, SynSent)]),
            (S, RST, 0, 0, 0, &[]),
            (S, RST_ACK, 0, 999, 0, &[]),
            (S, RST_ACK, 0, 1002, 0, &[]),
            (S, RST_ACK, 0, 1001, 0, &[(C, SynSent, Closed)]),
        ]);
    }

    #[test]
    #[rustfmt::skip]
    fn syn_sent_answering_a_bad_syn_ack_with_rst_stays_syn_sent() {
        let mut lab = Lab::new();
        lab.run(&[
            (C, SYN, 1000, 0, 0, &[(C, Closed, SynSent)]),
            // §3.10.7.3: an ACK outside ISS < ack =< SND.NXT is unacceptable.
            (S, SYN_ACK, 5000, 77, 0, &[(S, Closed, Listen), (S, Listen, SynReceived)]),
            (C, RST, 77, 0, 0, &[]),
        ]);
        assert_eq!(lab.states(), (SynSent, SynReceived));
    }

    #[test]
    #[rustfmt::skip]
    fn rst_in_syn_received_ends_the_connection_not_the_listener() {
        let mut lab = Lab::new();
        lab.run(&OPEN[..2]);
        let out = lab.send(C, RST_ACK, 1001, 5001, 0);
        assert_eq!(brief(&out), [(C, Established, Closed), (S, SynReceived, Closed)]);
        assert_eq!(out[1].note, Some(Note::ListenerKeepsListening));
        assert!(!out[1].is_guess());
    }

    #[test]
    #[rustfmt::skip]
    fn server_abort_from_syn_received() {
        // tcp_abort_on_overflow=1: the final ACK finds the accept queue full.
        let mut lab = Lab::new();
        lab.run(&OPEN[..2]);
        let out = lab.send(S, RST, 5001, 0, 0);
        assert_eq!(brief(&out), [(S, SynReceived, Closed), (C, Established, Closed)]);
        assert_eq!(out[0].note, Some(Note::ListenerKeepsListening));
    }

    #[test]
    #[rustfmt::skip]
    fn rst_in_established_from_either_side() {
        Lab::opened().run(&[(C, RST_ACK, 1001, 5001, 0, &[(C, Established, Closed), (S, Established, Closed)])]);
        Lab::opened().run(&[(S, RST, 5001, 0, 0, &[(S, Established, Closed), (C, Established, Closed)])]);
    }

    #[test]
    #[rustfmt::skip]
    fn rst_in_fin_wait_1_and_close_wait() {
        Lab::opened().run(&[
            (C, FIN_ACK, 1001, 5001, 0, &[(C, Established, FinWait1), (S, Established, CloseWait)]),
            (S, RST_ACK, 5001, 1002, 0, &[(S, CloseWait, Closed), (C, FinWait1, Closed)]),
        ]);
    }

    #[test]
    #[rustfmt::skip]
    fn rst_in_fin_wait_2_either_way() {
        let half_closed: &[Step] = &[
            (C, FIN_ACK, 1001, 5001, 0, &[(C, Established, FinWait1), (S, Established, CloseWait)]),
            (S, ACK, 5001, 1002, 0, &[(C, FinWait1, FinWait2)]),
        ];
        let mut lab = Lab::opened();
        lab.run(half_closed);
        lab.run(&[(S, RST_ACK, 5001, 1002, 0, &[(S, CloseWait, Closed), (C, FinWait2, Closed)])]);
        // Linux resets when data reaches a socket that was closed (FIN-WAIT-2).
        let mut lab = Lab::opened();
        lab.run(half_closed);
        lab.run(&[
            (S, PSH_ACK, 5001, 1002, 10, &[]),
            (C, RST, 1002, 0, 0, &[(C, FinWait2, Closed), (S, CloseWait, Closed)]),
        ]);
    }

    #[test]
    #[rustfmt::skip]
    fn rst_in_closing() {
        let mut lab = Lab::opened();
        lab.lose(C, FIN_ACK, 1001, 5001, 0);
        lab.run(&[
            (S, FIN_ACK, 5001, 1001, 0, &[(S, Established, FinWait1), (C, FinWait1, Closing)]),
            (C, FIN_ACK, 1001, 5001, 0, &[(S, FinWait1, Closing)]),
            (S, RST, 5002, 0, 0, &[(S, Closing, Closed), (C, Closing, Closed)]),
        ]);
    }

    #[rustfmt::skip]
    const TO_LAST_ACK: &[Step] = &[
        (C, FIN_ACK, 1001, 5001, 0, &[(C, Established, FinWait1), (S, Established, CloseWait)]),
        (S, ACK, 5001, 1002, 0, &[(C, FinWait1, FinWait2)]),
        (S, FIN_ACK, 5001, 1002, 0, &[(S, CloseWait, LastAck), (C, FinWait2, TimeWait)]),
    ];

    #[test]
    #[rustfmt::skip]
    fn rst_from_time_wait_reaches_last_ack() {
        // Linux: a TIME-WAIT socket that answers with RST is gone (TCP_TW_RST).
        let mut lab = Lab::opened();
        lab.run(TO_LAST_ACK);
        lab.run(&[(C, RST, 1002, 0, 0, &[(C, TimeWait, Closed), (S, LastAck, Closed)])]);
    }

    #[test]
    #[rustfmt::skip]
    fn rst_in_time_wait_kills_it_unless_rfc1337() {
        let mut lab = Lab::opened();
        lab.run(TO_LAST_ACK);
        // Not at RCV.NXT exactly: Linux ignores it even with tcp_rfc1337=0.
        lab.run(&[(S, RST, 5100, 0, 0, &[(S, LastAck, Closed)])]);
        assert_eq!(lab.m.state(C), TimeWait);
        lab.run(&[(S, RST, 5002, 0, 0, &[(C, TimeWait, Closed)])]);

        let mut lab = Lab::with(Config {
            rfc1337: true,
            ..Config::default()
        });
        lab.run(OPEN);
        lab.run(TO_LAST_ACK);
        lab.run(&[(S, RST, 5002, 0, 0, &[(S, LastAck, Closed)])]);
        assert_eq!(lab.m.state(C), TimeWait);
    }

    #[test]
    #[rustfmt::skip]
    fn out_of_window_rst_is_ignored_by_the_receiver() {
        let mut lab = Lab::opened();
        // The client advertised 65535 bytes from 5001 (no window scaling).
        lab.run(&[
            (S, RST, 5001 + 70_000, 0, 0, &[(S, Established, Closed)]),
            (S, RST, 4000, 0, 0, &[]),
        ]);
        assert_eq!(lab.m.state(C), Established);
    }

    #[test]
    #[rustfmt::skip]
    fn in_window_rst_is_accepted_as_a_guess() {
        let mut lab = Lab::opened();
        let out = lab.send(S, RST, 5001 + 100, 0, 0);
        assert_eq!(brief(&out), [(S, Established, Closed), (C, Established, Closed)]);
        assert_eq!(out[1].note, Some(Note::RstInWindow));
        assert!(out[1].is_guess() && !out[0].is_guess());
    }

    #[test]
    #[rustfmt::skip]
    fn scaled_windows_are_used_for_rst_checks() {
        let mut lab = Lab::new();
        let mut syn = hdr(SYN, 1000, 0);
        syn.options.wscale = Some(7);
        lab.m.on_segment(C, &syn, 0, lab.now);
        let mut synack = hdr(SYN_ACK, 5000, 1001);
        synack.options.wscale = Some(7);
        lab.m.on_segment(S, &synack, 0, lab.now);
        let mut ack = hdr(ACK, 1001, 5001);
        ack.window = 512; // 64 KiB after scaling
        lab.m.on_segment(C, &ack, 0, lab.now);
        assert_eq!(lab.states(), (Established, Established));
        lab.run(&[(S, RST, 5001 + 60_000, 0, 0, &[(S, Established, Closed), (C, Established, Closed)])]);

        let mut lab = Lab::new();
        lab.run(&OPEN[..2]);
        lab.m.on_segment(C, &TcpHeader { window: 512, ..hdr(ACK, 1001, 5001) }, 0, lab.now);
        lab.run(&[(S, RST, 5001 + 60_000, 0, 0, &[(S, Established, Closed)])]);
    }

    #[test]
    #[rustfmt::skip]
    fn retransmissions_are_not_counted_twice() {
        let mut lab = Lab::new();
        lab.run(&[
            (C, SYN, 1000, 0, 0, &[(C, Closed, SynSent)]),
            (C, SYN, 1000, 0, 0, &[]),
            (S, SYN_ACK, 5000, 1001, 0, &[(S, Closed, Listen), (S, Listen, SynReceived), (C, SynSent, Established)]),
            (S, SYN_ACK, 5000, 1001, 0, &[]),
            (C, ACK, 1001, 5001, 0, &[(S, SynReceived, Established)]),
            (C, ACK, 1001, 5001, 0, &[]),
            (C, FIN_ACK, 1001, 5001, 0, &[(C, Established, FinWait1), (S, Established, CloseWait)]),
            (C, FIN_ACK, 1001, 5001, 0, &[]),
            (S, ACK, 5001, 1002, 0, &[(C, FinWait1, FinWait2)]),
            (S, FIN_ACK, 5001, 1002, 0, &[(S, CloseWait, LastAck), (C, FinWait2, TimeWait)]),
            (S, FIN_ACK, 5001, 1002, 0, &[]),
            (C, ACK, 1002, 5002, 0, &[(S, LastAck, Closed)]),
        ]);
    }

    #[test]
    #[rustfmt::skip]
    fn lost_fin_counts_for_the_receiver_only_when_it_arrives() {
        let mut lab = Lab::opened();
        assert_eq!(brief(&lab.lose(C, FIN_ACK, 1001, 5001, 0)), [(C, Established, FinWait1)]);
        assert_eq!(lab.m.state(S), Established);
        lab.run(&[(C, FIN_ACK, 1001, 5001, 0, &[(S, Established, CloseWait)])]);
    }

    #[test]
    #[rustfmt::skip]
    fn time_wait_ends_after_its_timer_and_a_fin_restarts_it() {
        let mut lab = Lab::opened();
        lab.run(TO_LAST_ACK);
        let entered = lab.now;
        assert_eq!(lab.m.next_deadline(), Some(Timestamp(entered.0 + 60 * NANOS)));
        assert!(lab.wait(30).is_empty());
        // The last ACK was lost, so the server retransmits its FIN.
        lab.run(&[(S, FIN_ACK, 5001, 1002, 0, &[])]);
        let restarted = lab.now;
        assert_eq!(lab.m.time_wait_deadline(C), Some(Timestamp(restarted.0 + 60 * NANOS)));
        assert!(lab.wait(59).is_empty());
        let out = lab.wait(1);
        assert_eq!(brief(&out), [(C, TimeWait, Closed)]);
        assert_eq!(out[0].cause, Cause::Timeout);
        assert_eq!(lab.m.next_deadline(), None);
    }

    #[test]
    #[rustfmt::skip]
    fn a_segment_after_the_deadline_fires_the_timer_first() {
        let mut lab = Lab::with(Config {
            time_wait: Duration::from_secs(1),
            ..Config::default()
        });
        lab.run(OPEN);
        lab.run(TO_LAST_ACK);
        lab.now.0 += 2 * NANOS;
        // The final ACK arrives late; the client's TIME-WAIT is over by then.
        lab.run(&[(C, ACK, 1002, 5002, 0, &[(C, TimeWait, Closed), (S, LastAck, Closed)])]);
    }

    #[test]
    #[rustfmt::skip]
    fn mid_stream_start_is_a_guess_then_closes_normally() {
        let mut lab = Lab::new();
        let out = lab.send(C, PSH_ACK, 7000, 9000, 100);
        assert_eq!(brief(&out), [(C, Closed, Established), (S, Closed, Established)]);
        assert!(matches!(out[0].cause, Cause::MidStream(s) if s.len == 100));
        assert!(out.iter().all(Transition::is_guess));
        lab.run(&[
            (S, ACK, 9000, 7100, 0, &[]),
            (S, FIN_ACK, 9000, 7100, 0, &[(S, Established, FinWait1), (C, Established, CloseWait)]),
            (C, FIN_ACK, 7100, 9001, 0, &[(C, CloseWait, LastAck), (S, FinWait1, FinWait2), (S, FinWait2, TimeWait)]),
            (S, ACK, 9001, 7101, 0, &[(C, LastAck, Closed)]),
            // After the close, a stray ACK is not a new mid-stream start.
            (S, ACK, 9001, 7101, 0, &[]),
        ]);
    }

    #[test]
    #[rustfmt::skip]
    fn mid_stream_fin_first() {
        Lab::new().run(&[(
            S,
            FIN_ACK,
            9000,
            7000,
            0,
            &[(S, Closed, Established), (C, Closed, Established), (S, Established, FinWait1), (C, Established, CloseWait)],
        )]);
    }

    #[test]
    #[rustfmt::skip]
    fn a_lone_rst_first_changes_nothing() {
        let mut lab = Lab::new();
        lab.run(&[(S, RST_ACK, 0, 1001, 0, &[])]);
        lab.run(OPEN);
    }

    #[test]
    #[rustfmt::skip]
    fn syn_ack_first_implies_the_missed_syn() {
        let mut lab = Lab::new();
        let out = lab.send(S, SYN_ACK, 5000, 1001, 0);
        assert_eq!(
            brief(&out),
            [(C, Closed, SynSent), (S, Closed, Listen), (S, Listen, SynReceived), (C, SynSent, Established)]
        );
        assert!(matches!(out[0].cause, Cause::MidStream(_)));
        lab.run(&OPEN[2..]);
    }

    #[test]
    #[rustfmt::skip]
    fn retransmitted_syn_ack_shows_the_final_ack_was_dropped() {
        // Accept queue full (tcp_abort_on_overflow=0): the ACK is dropped silently.
        let mut lab = Lab::opened();
        let out = lab.send(S, SYN_ACK, 5000, 1001, 0);
        assert_eq!(brief(&out), [(S, Established, SynReceived)]);
        assert_eq!(out[0].note, Some(Note::FinalAckDropped));
        assert!(out[0].is_guess());
        lab.run(&[(C, ACK, 1001, 5001, 0, &[(S, SynReceived, Established)])]);
    }

    #[test]
    #[rustfmt::skip]
    fn new_syn_reopens_a_server_time_wait() {
        let mut lab = Lab::opened();
        lab.run(&[
            (S, FIN_ACK, 5001, 1001, 0, &[(S, Established, FinWait1), (C, Established, CloseWait)]),
            (C, FIN_ACK, 1001, 5002, 0, &[(C, CloseWait, LastAck), (S, FinWait1, FinWait2), (S, FinWait2, TimeWait)]),
            (S, ACK, 5002, 1002, 0, &[(C, LastAck, Closed)]),
            (C, SYN, 90_000, 0, 0, &[(C, Closed, SynSent)]),
        ]);
        let out = lab.send(S, SYN_ACK, 700_000, 90_001, 0);
        assert_eq!(
            brief(&out),
            [(S, TimeWait, Closed), (S, Closed, Listen), (S, Listen, SynReceived), (C, SynSent, Established)]
        );
        assert_eq!(out[0].note, Some(Note::Reincarnation));
        lab.run(&[(C, ACK, 90_001, 700_001, 0, &[(S, SynReceived, Established)])]);
    }

    #[test]
    #[rustfmt::skip]
    fn sequence_numbers_across_the_wrap() {
        const MAX: u32 = u32::MAX;
        let mut lab = Lab::new();
        lab.run(&[
            (C, SYN, MAX, 0, 0, &[(C, Closed, SynSent)]),
            // ack 0 = MAX + 1: acknowledges the SYN across the wrap.
            (S, SYN_ACK, MAX - 15, 0, 0, &[(S, Closed, Listen), (S, Listen, SynReceived), (C, SynSent, Established)]),
            (C, ACK, 0, MAX - 14, 0, &[(S, SynReceived, Established)]),
            (C, PSH_ACK, 0, MAX - 14, 100, &[]),
            (S, PSH_ACK, MAX - 14, 100, 32, &[]), // 15 bytes before the wrap, 17 after
            (C, FIN_ACK, 100, 17, 0, &[(C, Established, FinWait1), (S, Established, CloseWait)]),
            (S, ACK, 17, 100, 0, &[]), // before the FIN: not its ACK
            (S, ACK, 17, 101, 0, &[(C, FinWait1, FinWait2)]),
            (S, FIN_ACK, 17, 101, 0, &[(S, CloseWait, LastAck), (C, FinWait2, TimeWait)]),
            (C, ACK, 101, 17, 0, &[]),
            (C, ACK, 101, 18, 0, &[(S, LastAck, Closed)]),
        ]);
    }

    #[test]
    #[rustfmt::skip]
    fn syn_ack_wrapping_ack_is_checked_on_the_circle() {
        Lab::new().run(&[
            (C, SYN, u32::MAX, 0, 0, &[(C, Closed, SynSent)]),
            // ack = MAX: does not acknowledge the SYN at MAX.
            (S, SYN_ACK, 5, u32::MAX, 0, &[(S, Closed, Listen), (S, Listen, SynReceived)]),
            // ack 1 is past SND.NXT (0): the client ignores it; the server aborted.
            (S, RST_ACK, 0, 1, 0, &[(S, SynReceived, Closed)]),
            (S, RST_ACK, 0, 0, 0, &[(C, SynSent, Closed)]),
        ]);
    }

    #[test]
    #[rustfmt::skip]
    fn transitions_iterate_by_reference_and_by_value() {
        let mut lab = Lab::new();
        lab.send(C, SYN, 1000, 0, 0);
        let out = lab.send(S, SYN_ACK, 5000, 1001, 0);
        assert_eq!(out.len(), 3);
        assert_eq!((&out).into_iter().count(), 3);
        let owned: Vec<Transition> = out.into_iter().collect();
        assert_eq!(owned.as_slice(), out.as_slice());
        assert!(ConnMachine::new().on_time(lab.now).is_empty());
    }

    #[test]
    fn a_passive_open_is_dated_at_the_syn_that_caused_it() {
        let mut lab = Lab::new();
        let syn = lab.send(C, SYN, 1000, 0, 0);
        let syn_at = lab.now;
        assert!(syn.iter().all(|t| t.at == syn_at));
        // A retransmitted SYN is the one answered: the passive open is its.
        lab.now.0 += NANOS;
        lab.send(C, SYN, 1000, 0, 0);
        let retransmitted_at = lab.now;
        assert_eq!(lab.m.unanswered_syn(), Some(retransmitted_at));
        let answer = lab.send(S, SYN_ACK, 5000, 1001, 0);
        assert_eq!(lab.m.unanswered_syn(), None);
        let dated: Vec<_> = answer.iter().map(|t| (t.endpoint, t.to, t.at)).collect();
        assert_eq!(
            dated,
            [
                (S, Listen, retransmitted_at),
                (S, SynReceived, retransmitted_at),
                (C, Established, lab.now),
            ]
        );
    }
}
