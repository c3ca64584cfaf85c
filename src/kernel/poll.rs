//! The kernel's view on threads of its own: sock_diag snapshots at a fixed
//! rate, and the tracepoint where synack runs as root. Reports go to a
//! callback as [`KernelReport`]s.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::diag::{DiagSocket, SockInfo};
use super::trace::{StateTracer, Transition};
use super::{KernelMode, ListenCounters, netstat};
use crate::time::Timestamp;

/// How often the kernel's socket table is read.
pub const POLL: Duration = Duration::from_millis(20);

/// What the kernel threads report.
#[derive(Clone, Debug)]
pub enum KernelReport {
    /// A sock_diag snapshot with the namespace's listen counters.
    Snapshot {
        ts: Timestamp,
        socks: Vec<SockInfo>,
        counters: Option<ListenCounters>,
    },
    /// A transition from the inet_sock_set_state tracepoint.
    Transition(Transition),
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
    /// warning; the run goes on with what remains.
    #[must_use]
    pub fn start(ports: Vec<u16>, trace_ports: &[u16], report: &Report) -> Self {
        let r = Arc::clone(report);
        let tracer = match StateTracer::start(trace_ports, move |t| {
            r(KernelReport::Transition(t));
        }) {
            Ok(t) => Some(t),
            Err(e) => {
                warn(report, format!("exact state transitions unavailable: {e}"));
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
        let handle = diag.and_then(|diag| {
            let stop = Arc::clone(&stop);
            let report = Arc::clone(report);
            std::thread::Builder::new()
                .name("kernel".into())
                .spawn(move || poll_loop(diag, &ports, &report, &stop))
                .ok()
        });
        Self {
            stop,
            handle,
            tracer,
            mode,
        }
    }

    /// What this run's kernel view can tell.
    #[must_use]
    pub fn mode(&self) -> KernelMode {
        self.mode
    }

    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
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

fn poll_loop(mut diag: DiagSocket, ports: &[u16], report: &Report, stop: &AtomicBool) {
    let mut socks = Vec::new();
    let mut counters_ok = true;
    while !stop.load(Ordering::Relaxed) {
        if let Err(e) = diag.dump(ports, &mut socks) {
            warn(
                report,
                format!("reading the kernel's socket table failed: {e}"),
            );
            return;
        }
        let ts = Timestamp::now();
        let counters = if counters_ok {
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
            socks: socks.clone(),
            counters,
        };
        if !report(snapshot) {
            return;
        }
        std::thread::sleep(POLL);
    }
}
