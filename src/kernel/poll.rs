//! The kernel's view on threads of its own: sock_diag snapshots, paced by
//! what they cost and by what happens, and the tracepoint where synack runs
//! as root. Reports go to a callback as [`KernelReport`]s.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// How the warning that the tracepoint is out of reach begins (the screen
/// words it in the language shown).
pub const NO_TRACEPOINT: &str = "exact state transitions unavailable";

use super::diag::DiagSocket;
use super::netstat;
use super::trace::StateTracer;
use crate::model::reports::{
    KernelMode, ListenCounters, Reset, Retransmit, SkbDrop, SockInfo, Traces, Transition,
};
use crate::time::Timestamp;

/// How often the kernel's socket table is read.
pub const POLL: Duration = Duration::from_millis(20);

/// What the kernel threads report.
#[derive(Clone, Debug)]
pub enum KernelReport {
    /// A sock_diag snapshot with the namespace's listen counters; or, between
    /// two of those, of the listeners alone (`listeners_only`, no counters).
    Snapshot {
        ts: Timestamp,
        socks: Vec<SockInfo>,
        counters: Option<ListenCounters>,
        listeners_only: bool,
        /// When the walk began (`ts`: when it ended).
        started: Timestamp,
    },
    /// Transitions from the inet_sock_set_state tracepoint, in time order.
    Transitions(Vec<Transition>),
    /// Resets the kernel sent and why (tcp_send_reset), in time order.
    Resets(Vec<Reset>),
    /// Congestion-state changes (tcp_cong_state_set), in time order.
    Congestion(Vec<crate::event::CongestionEvent>),
    /// Segments the kernel dropped and why (skb:kfree_skb), in time order.
    Drops(Vec<SkbDrop>),
    /// Segments the kernel retransmitted (tcp_retransmit_skb/_synack), in time order.
    Retransmits(Vec<Retransmit>),
    /// Part of the kernel's view is unavailable, and why.
    Warning { ts: Timestamp, message: String },
}

/// Where the reports go; called from the poll and the tracer threads.
pub type Report = Arc<dyn Fn(KernelReport) -> bool + Send + Sync>;

/// The polling thread and the tracer; both stop on drop.
pub struct KernelPoller {
    stop: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
    tracer: Option<StateTracer>,
    mode: KernelMode,
}

fn warn(report: &Report, message: String) -> bool {
    report(KernelReport::Warning {
        ts: Timestamp::now(),
        message,
    })
}

impl KernelPoller {
    /// Starts polling sockets on `ports` (all when empty) and tracing
    /// transitions on `trace_ports`. The sockets are those of the calling
    /// thread's network namespace. What is unavailable is reported once as a
    /// warning; the run goes on with what remains. Whoever sees something
    /// happen (a packet, a socket call) bumps `activity`: the whole table is
    /// read soon after each bump, and only every [`IDLE_FULL_EVERY`] while
    /// nothing happens.
    #[must_use]
    pub fn start(
        ports: Vec<u16>,
        trace_ports: &[u16],
        report: &Report,
        activity: Arc<AtomicU64>,
        table: Table,
    ) -> Self {
        let r = Arc::clone(report);
        let seen = Arc::clone(&activity);
        let tracer = match StateTracer::start(trace_ports, move |t| {
            if !t.transitions.is_empty() {
                // A transition is news: the poll thread reads the table soon
                // after (a listener born or closed sends no packet).
                seen.fetch_add(1, Ordering::Relaxed);
                r(KernelReport::Transitions(t.transitions));
            }
            if !t.resets.is_empty() {
                r(KernelReport::Resets(t.resets));
            }
            if !t.cong.is_empty() {
                r(KernelReport::Congestion(t.cong));
            }
            if !t.drops.is_empty() {
                r(KernelReport::Drops(t.drops));
            }
            if !t.retransmits.is_empty() {
                r(KernelReport::Retransmits(t.retransmits));
            }
        }) {
            Ok(t) => Some(t),
            Err(e) => {
                warn(report, format!("{NO_TRACEPOINT}: {e}"));
                None
            }
        };
        let stop = Arc::new(AtomicBool::new(false));
        let diag = match DiagSocket::open() {
            Ok(d) => Some(d),
            Err(e) => {
                warn(report, format!("kernel socket states unavailable: {e}"));
                None
            }
        };
        let mode = match (&diag, &tracer) {
            (None, _) => KernelMode::None,
            (Some(_), None) => KernelMode::PollOnly,
            (Some(_), Some(_)) => KernelMode::Exact,
        };
        let exact = mode == KernelMode::Exact;
        let handle = diag.and_then(|diag| {
            let stop = Arc::clone(&stop);
            let report = Arc::clone(report);
            std::thread::Builder::new()
                .name("kernel".into())
                .spawn(move || poll_loop(diag, &ports, &report, &stop, &activity, exact, table))
                .ok()
        });
        Self {
            stop,
            handle,
            tracer,
            mode,
        }
    }

    /// The tracefs instance the exact transitions come from, if any.
    #[must_use]
    pub fn trace_instance(&self) -> Option<&std::path::Path> {
        self.tracer.as_ref().map(StateTracer::instance)
    }

    /// What the tracer reads besides the transitions (nothing without it).
    #[must_use]
    pub fn traces(&self) -> Traces {
        self.tracer
            .as_ref()
            .map(StateTracer::traces)
            .unwrap_or_default()
    }

    /// What this run's kernel view can tell.
    #[must_use]
    pub fn mode(&self) -> KernelMode {
        self.mode
    }

    /// Tells the poll thread and the tracer to stop, without waiting for
    /// them: a run that stops several sources asks them all first, then
    /// waits for each ([`KernelPoller::stop`]), so their waits overlap.
    pub fn request_stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = &self.tracer {
            t.request_stop();
        }
    }

    /// Stops both threads and waits for them (the tracer's wait overlaps
    /// the poll thread's).
    pub fn stop(&mut self) {
        self.request_stop();
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
        self.tracer = None;
    }
}

impl Drop for KernelPoller {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The slowest the table is read, whatever it costs.
pub const POLL_MAX: Duration = Duration::from_secs(1);
/// While nothing happens (no packet, no socket call), the whole table is read
/// this often (for what changes without a packet: timers running out, a
/// program reading its receive queue); listeners still every [`POLL`].
pub const IDLE_FULL_EVERY: Duration = Duration::from_millis(200);
/// A read of the table may take at most this share of the time between
/// reads (1/200: the walk stays near 0.5% of a core at any table size).
const POLL_COST_SHARE: u32 = 200;

/// The wait before the next read: [`POLL`], or longer when a read costs more
/// (sock_diag walks the whole table: tens of thousands of TIME-WAIT sockets
/// under a connection load make a read take milliseconds). `read_cost` is
/// the CPU time the read used, not the time it took: a read that waited for
/// a CPU (a busy machine) or for the kernel to load its diag module cost
/// little, and pushing the next one 200 times that far out left a whole
/// demo without a full read (a server's TIME-WAIT then came out inferred).
#[must_use]
pub fn poll_interval(read_cost: Duration) -> Duration {
    (read_cost * POLL_COST_SHARE).clamp(POLL, POLL_MAX)
}

/// The CPU time the calling thread has used (user and system: a netlink
/// dump's walk runs in the reader's own system call), or `None` where the
/// clock is unavailable.
fn thread_cpu_time() -> Option<Duration> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec through the pointer, which
    // points to a live, writable timespec for the duration of the call.
    let r = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &raw mut ts) };
    if r != 0 {
        return None;
    }
    let secs = u64::try_from(ts.tv_sec).ok()?;
    let nanos = u32::try_from(ts.tv_nsec).ok()?;
    Some(Duration::new(secs, nanos))
}

/// Reads the table every [`POLL`]: the whole of it when something happened
/// since the last full read (or [`IDLE_FULL_EVERY`] passed) and its adaptive
/// interval allows; otherwise, while things happen, the listeners alone (a
/// walk that costs the same at any table size), so a listener's life is seen
/// even when full reads are rare.
///
/// While nothing happens the listener walks stop or slow down: each one costs
/// what a walk of the kernel's whole listening hash costs (its buckets are
/// shared by every namespace), and fifty a second were most of an idle
/// screen's CPU. With the tracepoint (`exact`) a listener's birth and death
/// are transitions, which count as activity, and its accept queue fills
/// with packets: the full reads of the idle period see the rest. Without it
/// the listener walks back off (see [`quiet_listen_every`]) while they find
/// the listeners as they were.
fn poll_loop(
    mut diag: DiagSocket,
    ports: &[u16],
    report: &Report,
    stop: &AtomicBool,
    activity: &AtomicU64,
    exact: bool,
    table: Table,
) {
    let mut counters_ok = true;
    let mut counters_read = false;
    let mut next_full = std::time::Instant::now();
    let mut last_full = next_full;
    let mut seen = u64::MAX;
    let mut costs = RecentCosts::default();
    // What the last walk of either kind found listening, and the quiet
    // listener walks' pace (rootless).
    let mut listeners: Vec<SockInfo> = Vec::new();
    let mut listen_every = POLL;
    let mut next_listen = next_full;
    while !stop.load(Ordering::Relaxed) {
        let started = std::time::Instant::now();
        let now_seen = activity.load(Ordering::Relaxed);
        let active = now_seen != seen;
        let full = started >= next_full && (active || started >= last_full + IDLE_FULL_EVERY);
        if !full {
            if active {
                listen_every = POLL;
            }
            let walk_listeners = active || (!exact && started >= next_listen);
            if walk_listeners {
                // A fresh vector each time: the snapshot is handed over, not copied.
                let mut socks = Vec::new();
                let walk = Timestamp::now();
                if let Err(e) = diag.dump_listeners(ports, &mut socks) {
                    warn(
                        report,
                        format!("reading the kernel's listening sockets failed: {e}"),
                    );
                    return;
                }
                listen_every = quiet_listen_every(listen_every, socks == listeners);
                next_listen = started + listen_every;
                listeners.clone_from(&socks);
                let snapshot = KernelReport::Snapshot {
                    ts: Timestamp::now(),
                    socks,
                    counters: None,
                    listeners_only: true,
                    started: walk,
                };
                if !report(snapshot) {
                    return;
                }
            }
            // A full read already due waits for news, or for the idle period.
            let full = if next_full > started {
                next_full
            } else {
                started + POLL
            };
            sleep_until(started + POLL, full, stop);
            continue;
        }
        seen = now_seen;
        last_full = started;
        let mut socks = Vec::new();
        let cpu_before = thread_cpu_time();
        let walk = Timestamp::now();
        if let Err(e) = diag.dump(ports, &mut socks) {
            warn(
                report,
                format!("reading the kernel's socket table failed: {e}"),
            );
            return;
        }
        // What grows with the table: the walk (the counters cost the same
        // at any size), in CPU time where the clock tells it.
        let took = match (cpu_before, thread_cpu_time()) {
            (Some(a), Some(b)) => b.saturating_sub(a),
            _ => started.elapsed(),
        };
        let ts = Timestamp::now();
        // A listener born or gone (or its queue moved) without a packet or a
        // transition: the quiet listener walks start again at full pace.
        let now_listening: Vec<SockInfo> = socks
            .iter()
            .filter(|s| s.state == crate::tcp::TcpState::Listen)
            .cloned()
            .collect();
        if now_listening != listeners {
            listeners = now_listening;
            listen_every = POLL;
            next_listen = started + POLL;
        }
        // The counters are told on listeners' queue reports: without a
        // listener they are read once, as the base a listener's report
        // starts from, and not again (a read formats all of /proc/net/netstat).
        let any_listener = !listeners.is_empty();
        let counters = if counters_ok && (any_listener || !counters_read) {
            counters_read = true;
            match netstat::listen_counters() {
                Ok((overflows, drops)) => Some(ListenCounters { overflows, drops }),
                Err(e) => {
                    counters_ok = false;
                    warn(report, format!("listen overflow counters unavailable: {e}"));
                    None
                }
            }
        } else {
            None
        };
        let snapshot = KernelReport::Snapshot {
            ts,
            socks,
            counters,
            listeners_only: false,
            started: walk,
        };
        if !report(snapshot) {
            return;
        }
        costs.push(took);
        next_full = started + table.full_read_every(costs.least());
        sleep_until(started + POLL, next_full, stop);
    }
}

/// Whose socket table the poller reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Table {
    /// The lab's namespace: a table of its own, small (1,024 buckets) and
    /// holding only the lab's sockets.
    Lab,
    /// The host's (`watch`): as big as the host's load makes it.
    Host,
}

/// The most a lab's full reads are spaced out: a lesson's step (a peek
/// that leaves bytes in a queue, half a second) must see one.
pub const LAB_POLL_MAX: Duration = Duration::from_millis(100);

impl Table {
    /// The wait before the next full read, from what reads cost: the host's
    /// as [`poll_interval`] says; a lab's never longer than [`LAB_POLL_MAX`]
    /// (its table cannot be big: a read that cost much was the machine's
    /// doing — a busy VM counts the host's preemption as the thread's CPU).
    #[must_use]
    pub fn full_read_every(self, read_cost: Duration) -> Duration {
        match self {
            Self::Lab => poll_interval(read_cost).min(LAB_POLL_MAX),
            Self::Host => poll_interval(read_cost),
        }
    }
}

/// The CPU cost of the last few full reads. The pace follows the cheapest
/// of them: a big table makes every read dear, while one dear read among
/// cheap ones is the machine's doing (a busy CPU's cache, an interrupt), and
/// pushing the next read 200 times that far out left a lesson's step
/// without a read for half a second (`peek`'s receive queue went unseen).
#[derive(Default)]
struct RecentCosts {
    last: [Option<Duration>; 4],
    next: usize,
}

impl RecentCosts {
    fn push(&mut self, cost: Duration) {
        self.last[self.next] = Some(cost);
        self.next = (self.next + 1) % self.last.len();
    }

    fn least(&self) -> Duration {
        self.last
            .iter()
            .flatten()
            .min()
            .copied()
            .unwrap_or_default()
    }
}

/// The pace of the listener walks while nothing happens (no packet, no
/// socket call) and no tracepoint tells a listener's birth and death: it
/// doubles each time a walk finds the listeners as they were, from [`POLL`]
/// to four times [`IDLE_FULL_EVERY`] (by then the idle period's full reads
/// see the listeners first, unless a big table spaces them out). A walk that
/// finds a change goes back to [`POLL`].
#[must_use]
pub fn quiet_listen_every(every: Duration, unchanged: bool) -> Duration {
    if unchanged {
        (every * 2).min(IDLE_FULL_EVERY * 4)
    } else {
        POLL
    }
}

/// Sleeps until the earlier of `tick` and `full`, in short slices so that a
/// stop is seen within 50 ms.
fn sleep_until(tick: std::time::Instant, full: std::time::Instant, stop: &AtomicBool) {
    let until = tick.min(full);
    while !stop.load(Ordering::Relaxed) {
        let left = until.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            break;
        }
        std::thread::sleep(left.min(Duration::from_millis(50)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_labs_full_reads_come_at_least_every_100_ms() {
        let dear = Duration::from_millis(3);
        assert_eq!(
            Table::Host.full_read_every(dear),
            Duration::from_millis(600)
        );
        assert_eq!(Table::Lab.full_read_every(dear), LAB_POLL_MAX);
        assert_eq!(Table::Lab.full_read_every(Duration::ZERO), POLL);
    }

    #[test]
    fn one_dear_read_among_cheap_ones_does_not_space_the_reads_out() {
        let mut c = RecentCosts::default();
        assert_eq!(poll_interval(c.least()), POLL);
        c.push(Duration::from_micros(50));
        c.push(Duration::from_millis(3));
        assert_eq!(poll_interval(c.least()), POLL);
        // A big table: every read is dear.
        for _ in 0..4 {
            c.push(Duration::from_millis(3));
        }
        assert_eq!(poll_interval(c.least()), Duration::from_millis(600));
    }

    #[test]
    fn quiet_listener_walks_back_off_until_something_changes() {
        let mut every = POLL;
        let mut paces = Vec::new();
        for _ in 0..8 {
            every = quiet_listen_every(every, true);
            paces.push(every.as_millis());
        }
        assert_eq!(paces, [40, 80, 160, 320, 640, 800, 800, 800]);
        assert_eq!(quiet_listen_every(every, false), POLL);
    }

    #[test]
    fn reads_that_cost_more_come_less_often() {
        assert_eq!(poll_interval(Duration::from_micros(10)), POLL);
        assert_eq!(
            poll_interval(Duration::from_millis(2)),
            Duration::from_millis(400)
        );
        assert_eq!(poll_interval(Duration::from_millis(50)), POLL_MAX);
    }

    #[test]
    fn a_reads_cost_is_the_cpu_it_used_not_the_time_it_waited() {
        let before = thread_cpu_time().expect("the thread CPU clock");
        std::thread::sleep(Duration::from_millis(100));
        let slept = thread_cpu_time().expect("the thread CPU clock") - before;
        assert!(
            slept < Duration::from_millis(20),
            "100 ms asleep counted as {slept:?} of CPU"
        );
        // Work does count (bounded, in case the clock never moves).
        let wall = std::time::Instant::now();
        let mut spins = 0u64;
        while thread_cpu_time().expect("the thread CPU clock") - before < Duration::from_millis(2) {
            spins = std::hint::black_box(spins + 1);
            assert!(
                wall.elapsed() < Duration::from_secs(20),
                "the thread CPU clock did not advance while spinning"
            );
        }
    }
}
