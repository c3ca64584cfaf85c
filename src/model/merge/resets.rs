//! Why each RST was sent: the kernel's `tcp_send_reset` reports wait here
//! for the RST packet they explain, which takes the reason as it leaves the
//! hold. The tracepoint fires just before the RST is sent, so a report
//! comes a little before its packet (and, from another source, may reach
//! synack after it: the packet waits in the hold for kernel reports anyway).
//! A report matches the first RST from its source to its destination
//! captured from [`BEFORE`] before it to [`AFTER`] after it; one whose
//! packet never came (another interface, the lab's teardown) is dropped
//! after [`KEEP`]. Nothing is guessed: a RST without a report has no reason.

use std::collections::VecDeque;
use std::net::SocketAddr;

use crate::model::reports::Reset;
use crate::time::Timestamp;

/// A report may come this long before its packet is stamped: the two
/// clocks (the tracer's and the capture's) are read apart, by a few
/// microseconds on an idle machine.
pub const BEFORE: u64 = 250_000_000;
/// … or this long after it (the other way round).
pub const AFTER: u64 = 50_000_000;
/// A report waits this long for its packet (which waits up to the longest
/// match window in the hold), then is dropped.
pub const KEEP: u64 = 2_000_000_000;
/// Reports waiting at most: a flood of resets (a port scan answered by
/// `NO_SOCKET`) keeps the newest.
pub const MAX_WAITING: usize = 4_096;

type Key = (SocketAddr, SocketAddr);

/// The reports waiting for their packets, by (source, destination), and in
/// time order to expire.
#[derive(Default)]
pub(super) struct Resets {
    by_tuple: crate::hash::Map<Key, VecDeque<(u64, Timestamp, String)>>,
    order: VecDeque<(u64, Timestamp, Key)>,
    next: u64,
}

impl Resets {
    /// A report, as the tracer gave it.
    pub fn push(&mut self, r: Reset) {
        let key = (r.src, r.dst);
        self.next += 1;
        self.by_tuple
            .entry(key)
            .or_default()
            .push_back((self.next, r.ts, r.reason));
        self.order.push_back((self.next, r.ts, key));
        while self.order.len() > MAX_WAITING {
            self.drop_oldest();
        }
    }

    /// The reason of the RST from `src` to `dst` stamped `ts`: the first
    /// report of that pair within the window, taken.
    pub fn take(&mut self, src: SocketAddr, dst: SocketAddr, ts: Timestamp) -> Option<String> {
        let key = (src, dst);
        let q = self.by_tuple.get_mut(&key)?;
        // Too old to be this packet's: never anyone's now (packets leave in
        // time order).
        while q.front().is_some_and(|(_, at, _)| at.0 + BEFORE < ts.0) {
            q.pop_front();
        }
        let found = match q.front() {
            Some((_, at, _)) if at.0 <= ts.0 + AFTER => q.pop_front().map(|(_, _, why)| why),
            _ => None,
        };
        if q.is_empty() {
            self.by_tuple.remove(&key);
        }
        found
    }

    /// Drops the reports whose packet can no longer come.
    pub fn expire(&mut self, now: Timestamp) {
        while self
            .order
            .front()
            .is_some_and(|(_, at, _)| at.0 + KEEP < now.0)
        {
            self.drop_oldest();
        }
    }

    fn drop_oldest(&mut self) {
        let Some((seq, _, key)) = self.order.pop_front() else {
            return;
        };
        if let Some(q) = self.by_tuple.get_mut(&key) {
            // Taken already when it is not at the front.
            if q.front().is_some_and(|(s, _, _)| *s == seq) {
                q.pop_front();
            }
            if q.is_empty() {
                self.by_tuple.remove(&key);
            }
        }
    }

    /// Reports waiting (for tests).
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.by_tuple.values().map(VecDeque::len).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    fn reset(ms: u64, src: &str, dst: &str, why: &str) -> Reset {
        Reset {
            ts: Timestamp(1_000_000 * MS + ms * MS),
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            reason: why.to_owned(),
        }
    }

    fn at(ms: u64) -> Timestamp {
        Timestamp(1_000_000 * MS + ms * MS)
    }

    #[test]
    fn a_report_explains_the_first_rst_of_its_pair_near_its_time() {
        let (a, b) = ("127.0.0.1:7000", "127.0.0.1:40000");
        let mut r = Resets::default();
        r.push(reset(10, a, b, "NO_SOCKET"));
        r.push(reset(500, a, b, "TCP_ABORT_ON_DATA"));
        let (sa, sb) = (a.parse().unwrap(), b.parse().unwrap());
        // The other direction: not these.
        assert_eq!(r.take(sb, sa, at(10)), None);
        // Each packet a little after its report.
        assert_eq!(r.take(sa, sb, at(11)), Some("NO_SOCKET".into()));
        assert_eq!(r.take(sa, sb, at(501)), Some("TCP_ABORT_ON_DATA".into()));
        // A third RST has no report: no reason.
        assert_eq!(r.take(sa, sb, at(502)), None);
        assert_eq!(r.len(), 0);
    }

    #[test]
    fn a_report_too_far_from_the_packet_explains_nothing() {
        let (a, b) = ("127.0.0.1:7000", "127.0.0.1:40000");
        let (sa, sb) = (a.parse().unwrap(), b.parse().unwrap());
        let mut r = Resets::default();
        r.push(reset(1000, a, b, "NO_SOCKET"));
        // A RST long before the report is not its packet; the report waits.
        assert_eq!(r.take(sa, sb, at(1000 - 100)), None);
        assert_eq!(r.len(), 1);
        // A RST long after it is not its packet either; the report is dropped.
        assert_eq!(r.take(sa, sb, at(1000 + 300)), None);
        assert_eq!(r.len(), 0);
    }

    #[test]
    fn reports_without_a_packet_expire_and_stay_bounded() {
        let mut r = Resets::default();
        r.push(reset(0, "127.0.0.1:1", "127.0.0.1:2", "NO_SOCKET"));
        r.expire(at(1_000));
        assert_eq!(r.len(), 1);
        r.expire(at(2_001));
        assert_eq!(r.len(), 0);
        for i in 0..(MAX_WAITING as u64 + 10) {
            let port = 1000 + (i % 5000);
            r.push(reset(
                i,
                &format!("127.0.0.1:{port}"),
                "127.0.0.1:2",
                "NO_SOCKET",
            ));
        }
        assert_eq!(r.len(), MAX_WAITING);
        assert_eq!(r.order.len(), MAX_WAITING);
    }
}
