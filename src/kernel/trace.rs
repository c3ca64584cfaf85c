//! Exact state transitions from the tracepoint `sock:inet_sock_set_state`,
//! and why each reset was sent, from `tcp:tcp_send_reset`.
//!
//! The tracer works in a private tracefs instance (`instances/synack-<pid>`),
//! never the global buffer another tool may be reading. The kernel filters the
//! transitions by protocol and port; a thread reads the instance's per-CPU
//! `trace_pipe_raw` files and decodes the binary records.
//!
//! Resets: the same instance and reader carry `tcp:tcp_send_reset` when the
//! kernel has it with a `reason` (Linux 6.10 and later); without it the
//! transitions go on alone. Its `format` file gives the fields' offsets and,
//! in its print format, the name of each `enum sk_rst_reason` value, so a
//! newer kernel's reasons show by their names. Its addresses and ports sit
//! in two `struct sockaddr_in6`-sized byte arrays, which ftrace cannot filter
//! on (6.18 accepts `saddr == 0` and then matches nothing): where the format
//! has numeric `sport`/`dport` fields the kernel filters by port, otherwise
//! the reader keeps the watched ports' records and drops the rest. Resets
//! are rare (a refused connect, an abort), so that costs next to nothing.
//!
//! Congestion states: the same instance and reader carry
//! `tcp:tcp_cong_state_set` when the kernel has it (Linux 6.2 and later),
//! filtered by port in the kernel. Its `cong_state` is printed as a number
//! (`%u`), so the values are the kernel's documented `enum tcp_ca_state`
//! (Open 0 … Loss 4); a format that names them is read instead. It fires
//! for each `tcp_set_ca_state` call, also when the state does not change
//! (each timeout sets Loss again, each new connection gets Open): the
//! reader keeps the last state of each open socket (forgotten when the
//! socket closes) and passes on changes only, with the state left.
//!
//! Drops and retransmissions: the same instance and reader carry
//! `skb:kfree_skb` (with `enum skb_drop_reason` and `rx_sk`) and
//! `tcp:tcp_retransmit_skb` / `tcp:tcp_retransmit_synack` where the kernel
//! has them. `kfree_skb` fires for every buffer the host frees with a
//! reason; the kernel keeps IPv4 and IPv6 buffers with a receiving socket
//! and a reason above `NOT_SPECIFIED` (the filter is built from the
//! format's names), and the reader keeps those whose `rx_sk` is a socket
//! it traced a transition of (the lab's or the watched ports'), naming its
//! addresses. A drop with no socket (`NO_SOCKET`, a buffer freed before
//! the lookup) or of a socket that made no transition since synack started
//! is not reported: the record has no ports. The retransmit events have
//! numeric ports, so the kernel filters them like the transitions.
//!
//! Why binary and not the `trace_pipe` text: the text format
//! (`family=AF_INET protocol=IPPROTO_TCP sport=.. dport=.. saddr=.. ...
//! oldstate=TCP_SYN_SENT newstate=TCP_ESTABLISHED`) does not print `skaddr`,
//! the only thing that ties a connect()'s first SYN-SENT (local port 0) to the
//! socket's later transitions; the `fields` option prints `skaddr` but shows
//! the IPv6 addresses as `<INVALID-SIZE>` (measured on 6.18). The binary
//! records carry every field, cost no formatting in the kernel (reading the
//! text halved a heavy connection load's rate), and their layout is read from
//! the event's `format` file at start, so it follows the running kernel.
//!
//! Known quirks of the tracepoint, which the caller must correct:
//! - connect() logs CLOSED → SYN-SENT with local port 0 (and, for IPv4, the
//!   source address already chosen); the port appears at SYN-SENT → ESTABLISHED.
//!   Match them by `skaddr`.
//! - TIME-WAIT is never logged: a full socket that hands over to a TIME-WAIT
//!   mini-socket is logged FIN-WAIT-2 → CLOSED (or CLOSING → CLOSED); sock_diag
//!   shows the TIME-WAIT socket and its timer.
//! - A passive open is logged on the child socket as LISTEN → SYN-RECEIVED →
//!   ESTABLISHED, both when the final ACK arrives (the request socket before it
//!   is not a full socket and is not logged).
//! - The tracepoint fires for every network namespace (there is no netns
//!   field); the port filter is all that narrows it.
//! - Records are per CPU; each batch read is sorted by time before delivery,
//!   so order across CPUs holds within a batch (reads happen within ~50 ms).

use std::fs;
use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::thread::JoinHandle;

use super::linux_state;
use crate::event::{CaState, CongSource, CongestionEvent, EndpointName};
use crate::model::reports::{Reset, Retransmit, SkbDrop, Traces, Transition};
use crate::tcp::TcpState;
use crate::time::Timestamp;

const TRACEFS: &str = "/sys/kernel/tracing";
const OLD_TRACEFS: &str = "/sys/kernel/debug/tracing";
const EVENT: &str = "events/sock/inet_sock_set_state";
const RESET_EVENT: &str = "events/tcp/tcp_send_reset";
const CONG_EVENT: &str = "events/tcp/tcp_cong_state_set";

/// Sockets whose last congestion state the reader keeps; past it the
/// table starts afresh (a socket's next change then shows as from its
/// unknown state).
const CONG_SOCKETS: usize = 65_536;
const DROP_EVENT: &str = "events/skb/kfree_skb";
const RETRANSMIT_EVENT: &str = "events/tcp/tcp_retransmit_skb";
const SYNACK_EVENT: &str = "events/tcp/tcp_retransmit_synack";
/// Sockets the reader remembers by kernel address (to name a drop's
/// receiving socket); past this the oldest closed ones go first, then all.
const MAX_SOCKETS: usize = 65_536;
/// A closed socket's address is kept this long: a drop may follow its last
/// transition within the same read.
const KEEP_CLOSED_NS: u64 = 2_000_000_000;
/// How long the reader sleeps in poll(2) before looking again (and checking
/// whether it should stop).
const POLL_MS: libc::c_int = 50;
/// Reads of the buffers are at least this far apart (records wait there,
/// stamped by the kernel: only their delivery is later).
const READ_EVERY: std::time::Duration = std::time::Duration::from_millis(10);

/// Why exact transitions are not available; the app prints it once.
#[derive(Debug, thiserror::Error)]
pub enum TraceUnavailable {
    #[error(
        "state transitions need root (tracefs); run synack with sudo to see every transition. Until then {polled}",
        polled = super::POLLED
    )]
    NotRoot,
    #[error(
        "tracefs is not mounted and mounting it at {TRACEFS} failed ({0}); mount it (`mount -t tracefs nodev {TRACEFS}`). Until then {polled}",
        polled = super::POLLED
    )]
    NoTracefs(#[source] io::Error),
    #[error(
        "this kernel has no sock:inet_sock_set_state tracepoint (Linux >= 4.16 with CONFIG_TRACEPOINTS): {polled}",
        polled = super::POLLED
    )]
    EventMissing,
    #[error("cannot set up the tracefs instance: {what} ({source})")]
    Setup {
        what: String,
        #[source]
        source: io::Error,
    },
}

fn setup_err(what: impl Into<String>) -> impl FnOnce(io::Error) -> TraceUnavailable {
    let what = what.into();
    move |source| TraceUnavailable::Setup { what, source }
}

/// What one read of the buffers found, each in time order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Traced {
    pub transitions: Vec<Transition>,
    pub resets: Vec<Reset>,
    pub drops: Vec<SkbDrop>,
    pub retransmits: Vec<Retransmit>,
    /// Congestion-state changes (`tcp_cong_state_set`), the endpoint and
    /// connection left for the model to name.
    pub cong: Vec<CongestionEvent>,
}

impl Traced {
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.transitions.is_empty()
            && self.resets.is_empty()
            && self.drops.is_empty()
            && self.retransmits.is_empty()
            && self.cong.is_empty()
    }
}

/// Reads exact transitions (and resets, where the kernel says why) until dropped.
pub struct StateTracer {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    instance: PathBuf,
    /// Which of `tcp:tcp_send_reset`, `skb:kfree_skb` and the retransmit
    /// events are enabled in the instance.
    traces: Traces,
}

impl StateTracer {
    /// Tells the reader thread to stop at its next wake-up (within
    /// `POLL_MS`), without waiting for it; dropping the tracer waits.
    pub fn request_stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Starts tracing transitions of TCP sockets whose local or remote port is
    /// in `ports` (every TCP socket when empty), and the resets the kernel
    /// sends from or to those ports with their reasons (where the kernel
    /// has `tcp:tcp_send_reset` with a reason); `on_batch` runs on the
    /// reader thread for each read that found any, in time order.
    ///
    /// Root only. Mounts tracefs at `/sys/kernel/tracing` if it is not mounted.
    ///
    /// # Errors
    /// Why tracing is unavailable (not root, no tracefs, no tracepoint) or the
    /// instance could not be set up.
    pub fn start(
        ports: &[u16],
        on_batch: impl FnMut(Traced) + Send + 'static,
    ) -> Result<Self, TraceUnavailable> {
        // SAFETY: geteuid has no preconditions and cannot fail.
        if unsafe { libc::geteuid() } != 0 || in_user_namespace() {
            return Err(TraceUnavailable::NotRoot);
        }
        let root = tracefs_root()?;
        let event_dir = root.join(EVENT);
        if !event_dir.exists() {
            return Err(TraceUnavailable::EventMissing);
        }
        let format = fs::read_to_string(event_dir.join("format"))
            .map_err(setup_err("reading the event's format"))?;
        let layout = Layout::parse(&format).ok_or_else(|| TraceUnavailable::Setup {
            what: "the event's format has unexpected fields".into(),
            source: io::Error::from(io::ErrorKind::InvalidData),
        })?;

        // Optional: without it (an older kernel, no reason field) the
        // transitions go on alone.
        let reset_format = fs::read_to_string(root.join(RESET_EVENT).join("format")).ok();
        let reset_layout = reset_format.as_deref().and_then(ResetLayout::parse);
        let cong_format = fs::read_to_string(root.join(CONG_EVENT).join("format")).ok();
        let cong_layout = cong_format.as_deref().and_then(CongLayout::parse);

        remove_stale_instances(&root.join("instances"));
        let instance = root.join(instance_name(NEXT_INSTANCE.fetch_add(1, Ordering::Relaxed)));
        fs::create_dir(&instance).map_err(setup_err(format!("mkdir {}", instance.display())))?;
        let mut tracer = Self {
            stop: Arc::new(AtomicBool::new(false)),
            thread: None,
            instance,
            traces: Traces::default(),
        };
        let reset_filter = reset_format
            .as_deref()
            .and_then(|f| kernel_port_filter(f, ports));
        tracer.configure(ports)?;
        // After the clock is set (setting it empties the buffers).
        let reset_layout = reset_layout.filter(|_| tracer.enable_resets(reset_filter.as_deref()));
        let drops = tracer.enable_drops(&root);
        let (retransmits, synacks) = tracer.enable_retransmits(&root, ports);
        // Fires per state change of a sender, never per packet: filtered by
        // port in the kernel (its sport and dport are plain numbers).
        let cong_filter = cong_format
            .as_deref()
            .and_then(|f| kernel_port_filter(f, ports));
        let cong_layout = cong_layout.filter(|_| {
            (ports.is_empty() || cong_filter.is_some())
                && tracer.enable_cong(cong_filter.as_deref())
        });
        let cpus = tracer.open_cpu_buffers()?;
        let stop = Arc::clone(&tracer.stop);
        let decoders = Decoders {
            states: layout,
            resets: reset_layout,
            // The kernel kept only these ports' resets when it could.
            reset_ports: if reset_filter.is_some() {
                Vec::new()
            } else {
                ports.to_vec()
            },
            drops,
            retransmits,
            synacks,
            cong: cong_layout,
        };
        let thread = std::thread::Builder::new()
            .name("synack-trace".into())
            .spawn(move || read_loop(&cpus, decoders, &stop, on_batch))
            .map_err(setup_err("spawning the reader thread"))?;
        tracer.thread = Some(thread);
        Ok(tracer)
    }

    /// The instance's directory (removed when the tracer is dropped).
    #[must_use]
    pub fn instance(&self) -> &Path {
        &self.instance
    }

    /// Whether the instance traces resets now: the reset event's filter
    /// (`None`: none, every reset is recorded) and enable written. A failure
    /// leaves the transitions alone.
    fn enable_resets(&mut self, filter: Option<&str>) -> bool {
        let ok = self.enable(RESET_EVENT, filter);
        self.traces.resets = ok;
        ok
    }

    /// Writes `event`'s filter (when one is given) and enables it; whether
    /// both were accepted. A refused filter leaves the event off.
    fn enable(&self, event: &str, filter: Option<&str>) -> bool {
        filter.is_none_or(|f| self.write(&format!("{event}/filter"), f).is_ok())
            && self.write(&format!("{event}/enable"), "1").is_ok()
    }

    /// Enables `skb:kfree_skb` with the kernel filter its format allows;
    /// its layout when the instance traces it. Optional, as resets are.
    fn enable_drops(&mut self, root: &Path) -> Option<DropLayout> {
        let format = fs::read_to_string(root.join(DROP_EVENT).join("format")).ok()?;
        let layout = DropLayout::parse(&format)?;
        let filter = layout.kernel_filter()?;
        self.traces.drops = self.enable(DROP_EVENT, Some(&filter));
        self.traces.drops.then_some(layout)
    }

    /// Enables `tcp:tcp_retransmit_skb` and `tcp:tcp_retransmit_synack`,
    /// filtered by port in the kernel; their layouts when both are traced
    /// (one without the other would confirm some retransmissions and
    /// leave others looking unconfirmed).
    fn enable_retransmits(
        &mut self,
        root: &Path,
        ports: &[u16],
    ) -> (Option<RetransmitLayout>, Option<RetransmitLayout>) {
        let read = |event: &str| fs::read_to_string(root.join(event).join("format")).ok();
        let (Some(skb), Some(synack)) = (read(RETRANSMIT_EVENT), read(SYNACK_EVENT)) else {
            return (None, None);
        };
        let (Some(l_skb), Some(l_synack)) = (
            RetransmitLayout::parse(&skb),
            RetransmitLayout::parse(&synack),
        ) else {
            return (None, None);
        };
        // Numeric ports in both: the kernel keeps the watched ports' only.
        let (f_skb, f_synack) = (
            kernel_port_filter(&skb, ports),
            kernel_port_filter(&synack, ports),
        );
        if !ports.is_empty() && (f_skb.is_none() || f_synack.is_none()) {
            return (None, None);
        }
        let ok = self.enable(RETRANSMIT_EVENT, f_skb.as_deref())
            && self.enable(SYNACK_EVENT, f_synack.as_deref());
        if !ok {
            let _ = self.write(&format!("{RETRANSMIT_EVENT}/enable"), "0");
            return (None, None);
        }
        self.traces.retransmits = true;
        (Some(l_skb), Some(l_synack))
    }

    /// Whether the resets' reasons are traced (the kernel has the event with a reason).
    #[must_use]
    pub fn traces_resets(&self) -> bool {
        self.traces.resets
    }

    /// What the instance traces besides the transitions.
    #[must_use]
    pub fn traces(&self) -> Traces {
        self.traces
    }

    /// Whether the congestion states are traced now: `tcp_cong_state_set`'s
    /// filter (`None`: every port) and enable written.
    fn enable_cong(&mut self, filter: Option<&str>) -> bool {
        self.traces.cong = self.enable(CONG_EVENT, filter);
        self.traces.cong
    }

    /// Whether congestion-state changes are traced.
    #[must_use]
    pub fn traces_cong(&self) -> bool {
        self.traces.cong
    }

    /// Sets clock, wake-up threshold and filter, enables the event and
    /// turns tracing on.
    fn configure(&self, ports: &[u16]) -> Result<(), TraceUnavailable> {
        self.write("trace_clock", "mono")?;
        // Wake a poller on any data, not when the buffer is half full (the default).
        self.write("buffer_percent", "0")?;
        self.write(&format!("{EVENT}/filter"), &filter_expr(ports))?;
        self.write(&format!("{EVENT}/enable"), "1")?;
        self.write("tracing_on", "1")
    }

    fn write(&self, file: &str, value: &str) -> Result<(), TraceUnavailable> {
        let path = self.instance.join(file);
        fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(&path)
            .and_then(|mut f| f.write_all(value.as_bytes()))
            .map_err(setup_err(format!(
                "writing {value:?} to {}",
                path.display()
            )))
    }

    fn open_cpu_buffers(&self) -> Result<Vec<OwnedFd>, TraceUnavailable> {
        let dir = self.instance.join("per_cpu");
        let mut fds = Vec::new();
        for entry in fs::read_dir(&dir).map_err(setup_err(format!("listing {}", dir.display())))? {
            let path = entry
                .map_err(setup_err(format!("listing {}", dir.display())))?
                .path()
                .join("trace_pipe_raw");
            let file = fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NONBLOCK)
                .open(&path)
                .map_err(setup_err(format!("opening {}", path.display())))?;
            fds.push(OwnedFd::from(file));
        }
        Ok(fds)
    }
}

impl Drop for StateTracer {
    fn drop(&mut self) {
        self.request_stop();
        if let Some(thread) = self.thread.take() {
            // The thread exits within POLL_MS; a panic in the callback is not ours to rethrow.
            let _ = thread.join();
        }
        // Best effort: disable, then remove the instance (needs the buffers closed, done above).
        let _ = self.write(&format!("{EVENT}/enable"), "0");
        if self.traces.resets {
            let _ = self.write(&format!("{RESET_EVENT}/enable"), "0");
        }
        if self.traces.drops {
            let _ = self.write(&format!("{DROP_EVENT}/enable"), "0");
        }
        if self.traces.retransmits {
            let _ = self.write(&format!("{RETRANSMIT_EVENT}/enable"), "0");
            let _ = self.write(&format!("{SYNACK_EVENT}/enable"), "0");
        }
        let _ = fs::remove_dir(&self.instance);
    }
}

/// Tracers started by this process so far (each gets its own instance).
static NEXT_INSTANCE: AtomicU32 = AtomicU32::new(0);

/// `instances/synack-<pid>` for the first tracer, `synack-<pid>-<n>` after.
fn instance_name(n: u32) -> String {
    match n {
        0 => format!("instances/synack-{}", std::process::id()),
        n => format!("instances/synack-{}-{n}", std::process::id()),
    }
}

/// Removes instances left by synack processes that died without dropping
/// their tracer (killed): `synack-<pid>[-n]` whose pid no longer exists.
/// An instance still in use cannot be removed (EBUSY), so this is safe.
fn remove_stale_instances(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix("synack-")) else {
            continue;
        };
        let pid = rest.split('-').next().unwrap_or_default();
        if pid.parse::<u32>().is_ok() && !Path::new("/proc").join(pid).exists() {
            let _ = fs::remove_dir(entry.path());
        }
    }
}

/// The tracefs mount, mounting it when absent.
fn tracefs_root() -> Result<PathBuf, TraceUnavailable> {
    for root in [TRACEFS, OLD_TRACEFS] {
        if Path::new(root).join("instances").is_dir() {
            return Ok(PathBuf::from(root));
        }
    }
    let target = c"/sys/kernel/tracing";
    // SAFETY: all pointers are valid NUL-terminated strings; no data argument.
    let rc = unsafe {
        libc::mount(
            c"nodev".as_ptr(),
            target.as_ptr(),
            c"tracefs".as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    if rc != 0 {
        return Err(TraceUnavailable::NoTracefs(io::Error::last_os_error()));
    }
    Ok(PathBuf::from(TRACEFS))
}

/// The kernel-side filter of an event whose format is `format`, by port:
/// `Some` when the format has numeric `sport` and `dport` fields and ports
/// are given; `None` when it cannot say (`tcp_send_reset` keeps its ports in
/// sockaddr byte arrays since Linux 6.10) or every port is wanted.
fn kernel_port_filter(format: &str, ports: &[u16]) -> Option<String> {
    let fields = format_fields(format)?.1;
    let numeric = |name: &str| fields.iter().any(|(n, _, size)| n == name && *size == 2);
    if ports.is_empty() || !numeric("sport") || !numeric("dport") {
        return None;
    }
    let alts: Vec<String> = ports
        .iter()
        .map(|p| format!("sport == {p} || dport == {p}"))
        .collect();
    Some(alts.join(" || "))
}

/// The kernel-side filter: TCP, and a watched port on either side.
fn filter_expr(ports: &[u16]) -> String {
    if ports.is_empty() {
        return "protocol == 6".into();
    }
    let alts: Vec<String> = ports
        .iter()
        .map(|p| format!("sport == {p} || dport == {p}"))
        .collect();
    format!("protocol == 6 && ({})", alts.join(" || "))
}

fn clock_ns(clock: libc::clockid_t) -> i64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write; both clocks always exist on Linux.
    unsafe { libc::clock_gettime(clock, &raw mut ts) };
    ts.tv_sec
        .saturating_mul(1_000_000_000)
        .saturating_add(ts.tv_nsec)
}

/// CLOCK_REALTIME − CLOCK_MONOTONIC, read between two monotonic readings.
fn realtime_minus_monotonic() -> i64 {
    let before = clock_ns(libc::CLOCK_MONOTONIC);
    let real = clock_ns(libc::CLOCK_REALTIME);
    let after = clock_ns(libc::CLOCK_MONOTONIC);
    real - (before + (after - before) / 2)
}

/// What the reader decodes: the transitions, and the resets when the
/// instance traces them (kept only when from or to one of `reset_ports`,
/// when the kernel could not filter them: all when empty).
struct Decoders {
    states: Layout,
    resets: Option<ResetLayout>,
    reset_ports: Vec<u16>,
    drops: Option<DropLayout>,
    retransmits: Option<RetransmitLayout>,
    synacks: Option<RetransmitLayout>,
    cong: Option<CongLayout>,
}

impl Decoders {
    fn wanted(&self, r: &Reset) -> bool {
        self.reset_ports.is_empty()
            || self
                .reset_ports
                .iter()
                .any(|&p| r.src.port() == p || r.dst.port() == p)
    }
}

/// Decodes the pages of one read of every CPU's buffer into one batch in
/// time order, keeping what the reader keeps (the watched ports' resets
/// where the kernel could not filter them; the drops of sockets it traced,
/// named by their addresses). The reader thread's, and the fuzzer's.
pub struct BatchDecoder {
    decoders: Decoders,
    sockets: Sockets,
    raw_drops: Vec<RawDrop>,
    cong_states: CongStates,
    batch: Traced,
}

impl BatchDecoder {
    /// A decoder of transitions, and of resets, drops, retransmissions
    /// (`(tcp_retransmit_skb, tcp_retransmit_synack)`) and congestion
    /// states where given; resets are kept from or to `reset_ports` only
    /// (all when empty).
    #[must_use]
    pub fn new(
        states: Layout,
        resets: Option<ResetLayout>,
        reset_ports: Vec<u16>,
        drops: Option<DropLayout>,
        retransmits: Option<(RetransmitLayout, RetransmitLayout)>,
        cong: Option<CongLayout>,
    ) -> Self {
        let (retransmits, synacks) = retransmits.unzip();
        Self::of(Decoders {
            states,
            resets,
            reset_ports,
            drops,
            retransmits,
            synacks,
            cong,
        })
    }

    fn of(decoders: Decoders) -> Self {
        Self {
            decoders,
            sockets: Sockets::default(),
            raw_drops: Vec::new(),
            cong_states: CongStates::default(),
            batch: Traced::default(),
        }
    }

    /// Decodes one page of the read; `offset` is added to the records'
    /// CLOCK_MONOTONIC stamps. Nothing here can panic.
    pub fn page(&mut self, page: &[u8], offset: i64) {
        self.decoders
            .parse(page, offset, &mut self.batch, &mut self.raw_drops);
        let d = &self.decoders;
        self.batch.resets.retain(|r| d.wanted(r));
    }

    /// The read's batch, each list in time order (the drops named).
    pub fn finish(&mut self) -> Traced {
        let b = &mut self.batch;
        b.transitions.sort_by_key(|t: &Transition| t.ts);
        b.resets.sort_by_key(|r: &Reset| r.ts);
        b.retransmits.sort_by_key(|r: &Retransmit| r.ts);
        if self.decoders.cong.is_some() {
            b.cong.sort_by_key(|c| c.ts);
            self.cong_states.changes(&mut b.cong);
            self.cong_states.closed(&b.transitions);
        }
        if self.decoders.drops.is_some() {
            self.sockets
                .resolve(&b.transitions, &mut self.raw_drops, &mut b.drops);
        }
        std::mem::take(b)
    }
}

fn read_loop(
    cpus: &[OwnedFd],
    decoders: Decoders,
    stop: &AtomicBool,
    mut on_batch: impl FnMut(Traced),
) {
    let mut pollfds: Vec<libc::pollfd> = cpus
        .iter()
        .map(|fd| libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    // One sub-buffer per read; 64 KiB covers any buffer_subbuf_size_kb we set (default 4).
    let mut page = vec![0u8; 64 * 1024];
    let mut decoder = BatchDecoder::of(decoders);
    let mut last_read = std::time::Instant::now();
    while !stop.load(Ordering::Relaxed) {
        // SAFETY: `pollfds` is a valid array of that many pollfd entries.
        let rc =
            unsafe { libc::poll(pollfds.as_mut_ptr(), pollfds.len() as libc::nfds_t, POLL_MS) };
        if rc < 0 && io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
            return;
        }
        // The buffers wake us at their first record: under a connection
        // load that is a wake-up per transition. At most one read per
        // READ_EVERY gathers them in batches; a quiet run reads at once.
        let since = last_read.elapsed();
        if since < READ_EVERY {
            std::thread::sleep(READ_EVERY - since);
        }
        last_read = std::time::Instant::now();
        // CLOCK_REALTIME (what packets are stamped with) can be stepped or
        // slewed against CLOCK_MONOTONIC, by milliseconds on a VM: measured
        // again for every batch.
        let offset = realtime_minus_monotonic();
        // Read every CPU whether or not poll said so: cheap (EAGAIN) and immune
        // to wake-up thresholds.
        for fd in cpus {
            loop {
                // SAFETY: the pointer and length describe `page`, owned and writable.
                let n = unsafe { libc::read(fd.as_raw_fd(), page.as_mut_ptr().cast(), page.len()) };
                if n <= 0 {
                    break;
                }
                decoder.page(&page[..n.unsigned_abs()], offset);
            }
        }
        let batch = decoder.finish();
        if !batch.is_empty() {
            on_batch(batch);
        }
    }
}

/// A format file's field: (name, offset, size).
type Field = (String, usize, usize);

/// Each field of a format file, and its `ID`; `None` when a field line
/// cannot be read.
fn format_fields(format: &str) -> Option<(Option<u16>, Vec<Field>)> {
    let mut id = None;
    let mut fields = Vec::new();
    for line in format.lines() {
        let line = line.trim();
        if let Some(v) = line.strip_prefix("ID:") {
            id = v.trim().parse().ok();
        }
        let Some(rest) = line.strip_prefix("field:") else {
            continue;
        };
        let mut parts = rest.split(';').map(str::trim);
        let decl = parts.next()?;
        let name = decl.rsplit([' ', '*']).next()?;
        let name = name.split('[').next()?;
        let mut offset = None;
        let mut size = None;
        for p in parts {
            if let Some(v) = p.strip_prefix("offset:") {
                offset = v.parse::<usize>().ok();
            } else if let Some(v) = p.strip_prefix("size:") {
                size = v.parse::<usize>().ok();
            }
        }
        fields.push((name.to_owned(), offset?, size?));
    }
    Some((id, fields))
}

/// Finds fields by name and size, and the smallest record that holds every
/// field found so far.
struct FieldFinder {
    fields: Vec<Field>,
    min_len: usize,
}

impl FieldFinder {
    /// A format file's fields, its `ID` and where its `common_type` is (what
    /// tells one event's records from another's in a shared buffer).
    fn open(format: &str) -> Option<(u16, usize, Self)> {
        let (id, fields) = format_fields(format)?;
        let mut f = Self { fields, min_len: 0 };
        let common_type = f.at("common_type", 2)?;
        Some((id?, common_type, f))
    }

    /// The offset of `name`, when it has that size.
    fn at(&mut self, name: &str, size: usize) -> Option<usize> {
        let (_, off, sz) = self.fields.iter().find(|(n, _, _)| n == name)?;
        (*sz == size).then_some(())?;
        // An offset near usize::MAX would wrap (found by fuzzing).
        self.min_len = self.min_len.max(off.checked_add(*sz)?);
        Some(*off)
    }
}

/// Where a TCP event's two ends are in its record: the ports, the family
/// and both forms of the addresses (the fields `sock:inet_sock_set_state`,
/// `tcp:tcp_retransmit_skb`/`_synack` and `tcp:tcp_cong_state_set` share).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Ends {
    sport: usize,
    dport: usize,
    family: usize,
    saddr: usize,
    daddr: usize,
    saddr_v6: usize,
    daddr_v6: usize,
}

impl Ends {
    fn find(f: &mut FieldFinder) -> Option<Self> {
        Some(Self {
            sport: f.at("sport", 2)?,
            dport: f.at("dport", 2)?,
            family: f.at("family", 2)?,
            saddr: f.at("saddr", 4)?,
            daddr: f.at("daddr", 4)?,
            saddr_v6: f.at("saddr_v6", 16)?,
            daddr_v6: f.at("daddr_v6", 16)?,
        })
    }

    /// (source, destination); `None` for a family other than IPv4 or IPv6.
    fn decode(&self, rec: &[u8]) -> Option<(SocketAddr, SocketAddr)> {
        let (src, dst) = match i32::from(u16_at(rec, self.family)?) {
            libc::AF_INET => (v4_at(rec, self.saddr)?, v4_at(rec, self.daddr)?),
            libc::AF_INET6 => (v6_at(rec, self.saddr_v6)?, v6_at(rec, self.daddr_v6)?),
            _ => return None,
        };
        Some((
            SocketAddr::new(src, u16_at(rec, self.sport)?),
            SocketAddr::new(dst, u16_at(rec, self.dport)?),
        ))
    }
}

/// Where the event's fields are in a record (from its `format` file).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    id: u16,
    common_type: usize,
    skaddr: usize,
    oldstate: usize,
    newstate: usize,
    protocol: usize,
    ends: Ends,
    /// Smallest record that holds every field.
    min_len: usize,
}

impl Layout {
    /// Parses `ID: N` and `field:TYPE NAME; offset:N; size:N;` lines, checking
    /// each field has the size this decoder reads; `None` when a field is
    /// missing or has another size.
    #[must_use]
    pub fn parse(format: &str) -> Option<Self> {
        let (id, common_type, mut f) = FieldFinder::open(format)?;
        let mut layout = Self {
            id,
            common_type,
            skaddr: f.at("skaddr", 8)?,
            oldstate: f.at("oldstate", 4)?,
            newstate: f.at("newstate", 4)?,
            protocol: f.at("protocol", 2)?,
            ends: Ends::find(&mut f)?,
            min_len: 0,
        };
        layout.min_len = f.min_len;
        Some(layout)
    }

    /// Decodes one record; `None` for another event, another protocol or a
    /// state number this decoder does not know.
    fn decode(&self, rec: &[u8], mono_ns: u64, offset: i64) -> Option<Transition> {
        if rec.len() < self.min_len || u16_at(rec, self.common_type)? != self.id {
            return None;
        }
        if u16_at(rec, self.protocol)? != libc::IPPROTO_TCP as u16 {
            return None;
        }
        let state = |at: usize| -> Option<TcpState> {
            let n = i32::from_ne_bytes(rec.get(at..at + 4)?.try_into().ok()?);
            linux_state(u8::try_from(n).ok()?)
        };
        let (local, remote) = self.ends.decode(rec)?;
        let wall = i64::try_from(mono_ns).ok()?.saturating_add(offset);
        Some(Transition {
            ts: Timestamp(u64::try_from(wall).unwrap_or(0)),
            local,
            remote,
            from: state(self.oldstate)?,
            to: state(self.newstate)?,
            skaddr: u64::from_ne_bytes(rec.get(self.skaddr..self.skaddr + 8)?.try_into().ok()?),
        })
    }
}

/// Where `tcp:tcp_send_reset`'s fields are in a record, and the names of
/// its reasons (from its `format` file, Linux 6.10 and later).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResetLayout {
    id: u16,
    common_type: usize,
    reason: usize,
    /// The RST's source and destination, each a `struct sockaddr_in` or
    /// `sockaddr_in6` in a byte array of the latter's size.
    saddr: usize,
    daddr: usize,
    min_len: usize,
    /// Each reason's number and name, from the print format's
    /// `__print_symbolic(REC->reason, { 0, "NOT_SPECIFIED" }, …)`.
    names: Vec<(u32, String)>,
}

/// `sizeof(struct sockaddr_in6)`: the size of the reset event's address arrays.
const SOCKADDR_IN6: usize = 28;

impl ResetLayout {
    /// Parses the event's fields (`reason`, and `saddr`/`daddr` as
    /// sockaddr arrays) and its reasons' names; `None` when a field is
    /// missing or has another size (an older kernel, without a reason).
    #[must_use]
    pub fn parse(format: &str) -> Option<Self> {
        let (id, common_type, mut f) = FieldFinder::open(format)?;
        let mut layout = Self {
            id,
            common_type,
            reason: f.at("reason", 4)?,
            saddr: f.at("saddr", SOCKADDR_IN6)?,
            daddr: f.at("daddr", SOCKADDR_IN6)?,
            min_len: 0,
            names: symbols(format, "reason"),
        };
        layout.min_len = f.min_len;
        Some(layout)
    }

    /// The reasons the format names, by number.
    #[must_use]
    pub fn names(&self) -> &[(u32, String)] {
        &self.names
    }

    /// The name of reason `n`: the format's, or the number when it names none.
    #[must_use]
    pub fn name(&self, n: u32) -> String {
        self.names
            .iter()
            .find(|(k, _)| *k == n)
            .map_or_else(|| n.to_string(), |(_, name)| name.clone())
    }

    /// Decodes one record; `None` for another event or an address family
    /// other than IPv4 and IPv6.
    fn decode(&self, rec: &[u8], mono_ns: u64, offset: i64) -> Option<Reset> {
        if rec.len() < self.min_len || u16_at(rec, self.common_type)? != self.id {
            return None;
        }
        let wall = i64::try_from(mono_ns).ok()?.saturating_add(offset);
        Some(Reset {
            ts: Timestamp(u64::try_from(wall).unwrap_or(0)),
            src: sockaddr_at(rec, self.saddr)?,
            dst: sockaddr_at(rec, self.daddr)?,
            reason: self.name(u32_at(rec, self.reason)?),
        })
    }
}

/// Where `tcp:tcp_cong_state_set`'s fields are in a record (from its
/// `format` file), and the names of its states when the format prints them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CongLayout {
    id: u16,
    common_type: usize,
    ends: Ends,
    cong_state: usize,
    min_len: usize,
    /// `__print_symbolic(REC->cong_state, …)`, when the format has one.
    names: Vec<(u32, String)>,
}

impl CongLayout {
    /// Parses the event's fields; `None` when one is missing or has
    /// another size.
    #[must_use]
    pub fn parse(format: &str) -> Option<Self> {
        let (id, common_type, mut f) = FieldFinder::open(format)?;
        let mut layout = Self {
            id,
            common_type,
            ends: Ends::find(&mut f)?,
            cong_state: f.at("cong_state", 1)?,
            min_len: 0,
            names: symbols(format, "cong_state"),
        };
        layout.min_len = f.min_len;
        Some(layout)
    }

    /// State `n`: by the format's name for it when it prints names
    /// (`TCP_CA_Recovery` or `Recovery`), else the documented value.
    #[must_use]
    pub fn state(&self, n: u8) -> CaState {
        let Some((_, name)) = self.names.iter().find(|(k, _)| *k == u32::from(n)) else {
            return CaState::from_kernel(n);
        };
        let bare = name.strip_prefix("TCP_CA_").unwrap_or(name);
        CaState::NAMED
            .into_iter()
            .find(|s| s.name().eq_ignore_ascii_case(bare))
            .unwrap_or(CaState::Other(n))
    }

    /// Decodes one record (the state it entered; `from` is filled by the
    /// reader); `None` for another event or family.
    fn decode(&self, rec: &[u8], mono_ns: u64, offset: i64) -> Option<CongestionEvent> {
        if rec.len() < self.min_len || u16_at(rec, self.common_type)? != self.id {
            return None;
        }
        let (local, remote) = self.ends.decode(rec)?;
        let wall = i64::try_from(mono_ns).ok()?.saturating_add(offset);
        Some(CongestionEvent {
            ts: Timestamp(u64::try_from(wall).unwrap_or(0)),
            conn: None,
            endpoint: EndpointName::default(),
            local,
            remote,
            source: CongSource::Kernel,
            state: self.state(*rec.get(self.cong_state)?),
            from: None,
            cwnd: None,
            ssthresh: None,
            rtt_us: None,
            retransmits: None,
            total_retrans: None,
        })
    }
}

/// The last congestion state the tracepoint told of each socket, so that
/// only changes go on, each with the state it left.
#[derive(Default)]
struct CongStates {
    last: crate::hash::Map<(SocketAddr, SocketAddr), CaState>,
}

impl CongStates {
    /// Keeps the records of `batch` (in time order) that change their
    /// socket's state, and fills their `from`. A socket's first record is
    /// a change unless it is Open, where every connection begins (the
    /// kernel sets Open on each new connection: under a load of short
    /// connections that is one record per connection, and nothing to show).
    fn changes(&mut self, batch: &mut Vec<CongestionEvent>) {
        batch.retain_mut(|c| {
            if self.last.len() >= CONG_SOCKETS {
                self.last.clear();
            }
            let before = self.last.insert((c.local, c.remote), c.state);
            c.from = before;
            c.is_change()
        });
    }

    /// Sockets that closed: their states are forgotten (the table stays as
    /// big as the open connections).
    fn closed(&mut self, transitions: &[Transition]) {
        if self.last.is_empty() {
            return;
        }
        for t in transitions.iter().filter(|t| t.to == TcpState::Closed) {
            self.last.remove(&(t.local, t.remote));
        }
    }
}

impl Decoders {
    /// Decodes one page: transitions, resets and retransmissions into
    /// `out`, drops (still naming their socket by address) into `drops`.
    fn parse(&self, page: &[u8], offset: i64, out: &mut Traced, drops: &mut Vec<RawDrop>) {
        walk_page(page, |rec, ts| {
            if let Some(t) = self.states.decode(rec, ts, offset) {
                out.transitions.push(t);
            } else if let Some(d) = self.drops.as_ref().and_then(|l| l.decode(rec, ts, offset)) {
                drops.push(d);
            } else if let Some(r) = self
                .retransmits
                .as_ref()
                .and_then(|l| l.decode(rec, ts, offset, false))
                .or_else(|| {
                    self.synacks
                        .as_ref()
                        .and_then(|l| l.decode(rec, ts, offset, true))
                })
            {
                out.retransmits.push(r);
            } else if let Some(r) = self.resets.as_ref().and_then(|l| l.decode(rec, ts, offset)) {
                out.resets.push(r);
            } else if let Some(c) = self.cong.as_ref().and_then(|l| l.decode(rec, ts, offset)) {
                out.cong.push(c);
            }
        });
    }
}

/// A `kfree_skb` record as read: the receiving socket by its kernel address.
#[derive(Clone, Debug, PartialEq, Eq)]
struct RawDrop {
    ts: Timestamp,
    rx_sk: u64,
    reason: Arc<str>,
}

/// The sockets the reader traced, by kernel address: what a drop's `rx_sk`
/// names. Filled from the transitions (the kernel's filter kept the lab's
/// or the watched ports'), so a socket of another port is never found.
#[derive(Default)]
struct Sockets {
    by_addr: crate::hash::Map<u64, (SocketAddr, SocketAddr)>,
    /// Sockets that reached CLOSED, with when: forgotten [`KEEP_CLOSED_NS`] later.
    closed: std::collections::VecDeque<(Timestamp, u64)>,
}

impl Sockets {
    fn learn(&mut self, t: &Transition) {
        self.by_addr.insert(t.skaddr, (t.local, t.remote));
        if t.to == TcpState::Closed {
            self.closed.push_back((t.ts, t.skaddr));
        }
    }

    fn forget_closed(&mut self, now: Timestamp) {
        while let Some(&(at, addr)) = self.closed.front() {
            if at.0.saturating_add(KEEP_CLOSED_NS) > now.0 && self.by_addr.len() <= MAX_SOCKETS {
                break;
            }
            self.closed.pop_front();
            self.by_addr.remove(&addr);
        }
        if self.by_addr.len() > MAX_SOCKETS {
            // Open sockets beyond the bound (a watch of a huge server): start again.
            self.by_addr.clear();
            self.closed.clear();
        }
    }

    /// Names the receiving socket of each drop in `raw` (emptied), in time
    /// order with the batch's transitions (sorted), so a socket's address
    /// is the one it had at the drop; drops of unknown sockets are left out.
    fn resolve(
        &mut self,
        transitions: &[Transition],
        raw: &mut Vec<RawDrop>,
        out: &mut Vec<SkbDrop>,
    ) {
        raw.sort_by_key(|d| d.ts);
        let mut next = transitions.iter().peekable();
        for d in raw.drain(..) {
            while let Some(t) = next.next_if(|t| t.ts <= d.ts) {
                self.learn(t);
            }
            if let Some(&(local, remote)) = self.by_addr.get(&d.rx_sk) {
                out.push(SkbDrop {
                    ts: d.ts,
                    local,
                    remote: (remote.port() != 0).then_some(remote),
                    reason: d.reason,
                });
            }
        }
        for t in next {
            self.learn(t);
        }
        if let Some(last) = transitions.last() {
            self.forget_closed(last.ts);
        }
    }
}

/// An `enum`'s names by value, each allocated once and shared by every
/// record that names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Names(Vec<(u32, Arc<str>)>);

impl Names {
    fn from_format(format: &str, field: &str) -> Self {
        let mut v: Vec<(u32, Arc<str>)> = symbols(format, field)
            .into_iter()
            .map(|(n, name)| (n, Arc::from(name)))
            .collect();
        v.sort_by_key(|(n, _)| *n);
        Self(v)
    }

    /// The name of `n`: the format's, or the number when it names none.
    #[must_use]
    pub fn name(&self, n: u32) -> Arc<str> {
        match self.0.binary_search_by_key(&n, |(k, _)| *k) {
            Ok(i) => Arc::clone(&self.0[i].1),
            Err(_) => Arc::from(n.to_string()),
        }
    }

    /// The value named `name`.
    #[must_use]
    pub fn value(&self, name: &str) -> Option<u32> {
        self.0.iter().find(|(_, n)| &**n == name).map(|(k, _)| *k)
    }

    /// Every (value, name), by value.
    #[must_use]
    pub fn all(&self) -> &[(u32, Arc<str>)] {
        &self.0
    }
}

/// Where `skb:kfree_skb`'s fields are in a record, and the names of its
/// reasons (`enum skb_drop_reason`, from its `format` file).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DropLayout {
    id: u16,
    common_type: usize,
    rx_sk: usize,
    protocol: usize,
    reason: usize,
    min_len: usize,
    names: Names,
}

/// `ETH_P_IP` and `ETH_P_IPV6`: the record's `protocol` (host order).
const ETH_P_IP: u16 = 0x0800;
const ETH_P_IPV6: u16 = 0x86dd;

impl DropLayout {
    /// Parses the fields (`rx_sk`, `protocol`, `reason`) and the reasons'
    /// names; `None` when a field is missing or has another size (a kernel
    /// before 6.11 has no `rx_sk`: without it a drop cannot name its socket).
    #[must_use]
    pub fn parse(format: &str) -> Option<Self> {
        let (id, common_type, mut f) = FieldFinder::open(format)?;
        let mut layout = Self {
            id,
            common_type,
            rx_sk: f.at("rx_sk", 8)?,
            protocol: f.at("protocol", 2)?,
            reason: f.at("reason", 4)?,
            min_len: 0,
            names: Names::from_format(format, "reason"),
        };
        layout.min_len = f.min_len;
        Some(layout)
    }

    /// The reasons' names.
    #[must_use]
    pub fn names(&self) -> &Names {
        &self.names
    }

    /// What the kernel keeps: IPv4 and IPv6 buffers freed by a socket it
    /// found, for a reason above `NOT_SPECIFIED` (below it the enum has
    /// "not dropped yet" and "consumed"; `NOT_SPECIFIED` is every plain
    /// `kfree_skb()`, the host's most common by far, and says nothing).
    /// `None` when the format does not name `NOT_SPECIFIED`.
    #[must_use]
    pub fn kernel_filter(&self) -> Option<String> {
        let floor = self.names.value("NOT_SPECIFIED")?;
        Some(format!(
            "reason > {floor} && rx_sk != 0 && (protocol == {ETH_P_IP} || protocol == {ETH_P_IPV6})"
        ))
    }

    /// Decodes one record; `None` for another event, another protocol, no
    /// socket, or a reason the kernel filter would have left out.
    fn decode(&self, rec: &[u8], mono_ns: u64, offset: i64) -> Option<RawDrop> {
        if rec.len() < self.min_len || u16_at(rec, self.common_type)? != self.id {
            return None;
        }
        let proto = u16_at(rec, self.protocol)?;
        let rx_sk = u64::from_ne_bytes(rec.get(self.rx_sk..self.rx_sk + 8)?.try_into().ok()?);
        let reason = u32_at(rec, self.reason)?;
        let floor = self.names.value("NOT_SPECIFIED").unwrap_or(0);
        if !matches!(proto, ETH_P_IP | ETH_P_IPV6) || rx_sk == 0 || reason <= floor {
            return None;
        }
        let wall = i64::try_from(mono_ns).ok()?.saturating_add(offset);
        Some(RawDrop {
            ts: Timestamp(u64::try_from(wall).unwrap_or(0)),
            rx_sk,
            reason: self.names.name(reason),
        })
    }
}

/// Where `tcp:tcp_retransmit_skb`'s or `tcp:tcp_retransmit_synack`'s
/// fields are in a record (the same addresses and ports; the former has
/// `err` too).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetransmitLayout {
    id: u16,
    common_type: usize,
    ends: Ends,
    err: Option<usize>,
    min_len: usize,
}

impl RetransmitLayout {
    /// Parses the fields; `None` when one is missing or has another size.
    #[must_use]
    pub fn parse(format: &str) -> Option<Self> {
        let (id, common_type, mut f) = FieldFinder::open(format)?;
        let mut layout = Self {
            id,
            common_type,
            ends: Ends::find(&mut f)?,
            err: None,
            min_len: 0,
        };
        layout.err = f.at("err", 4);
        layout.min_len = f.min_len;
        Some(layout)
    }

    /// Decodes one record; `None` for another event, another family, or a
    /// retransmission that failed (nothing was sent).
    fn decode(&self, rec: &[u8], mono_ns: u64, offset: i64, synack: bool) -> Option<Retransmit> {
        if rec.len() < self.min_len || u16_at(rec, self.common_type)? != self.id {
            return None;
        }
        if let Some(at) = self.err {
            if u32_at(rec, at)? != 0 {
                return None;
            }
        }
        let (src, dst) = self.ends.decode(rec)?;
        let wall = i64::try_from(mono_ns).ok()?.saturating_add(offset);
        Some(Retransmit {
            ts: Timestamp(u64::try_from(wall).unwrap_or(0)),
            src,
            dst,
            synack,
        })
    }
}

/// The `{ value, "NAME" }` pairs of `__print_symbolic(REC->field, …)` in a
/// format's print format. Values the kernel did not resolve to numbers, and
/// names that are not plain identifiers, are left out.
fn symbols(format: &str, field: &str) -> Vec<(u32, String)> {
    let key = format!("__print_symbolic(REC->{field},");
    let Some(at) = format.find(&key) else {
        return Vec::new();
    };
    let mut rest = &format[at + key.len()..];
    let mut out = Vec::new();
    loop {
        rest = rest.trim_start_matches(|c: char| c == ',' || c.is_whitespace());
        let Some(body) = rest.strip_prefix('{') else {
            break; // `)`: the table ends
        };
        let Some(end) = body.find('}') else {
            break;
        };
        let (entry, after) = (&body[..end], &body[end + 1..]);
        rest = after;
        let Some((value, name)) = entry.split_once(',') else {
            continue;
        };
        let value = value.trim();
        let value = match value.strip_prefix("0x") {
            Some(hex) => u32::from_str_radix(hex, 16).ok(),
            None => value.parse().ok(),
        };
        let name = name
            .trim()
            .strip_prefix('"')
            .and_then(|n| n.strip_suffix('"'))
            .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
        if let (Some(v), Some(name)) = (value, name) {
            if !out.iter().any(|(k, _)| *k == v) {
                out.push((v, name.to_owned()));
            }
        }
    }
    out
}

/// A `struct sockaddr_in` or `sockaddr_in6` (the family in native order,
/// the port in network order). An IPv4-mapped address is returned as IPv4,
/// as everywhere else in synack.
fn sockaddr_at(b: &[u8], at: usize) -> Option<SocketAddr> {
    let port = u16::from_be_bytes(b.get(at + 2..at + 4)?.try_into().ok()?);
    let ip = match i32::from(u16_at(b, at)?) {
        libc::AF_INET => v4_at(b, at + 4)?,
        libc::AF_INET6 => v6_at(b, at + 8)?,
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn v4_at(b: &[u8], at: usize) -> Option<IpAddr> {
    let o: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
    Some(IpAddr::V4(Ipv4Addr::from(o)))
}

/// An IPv4-mapped address (a dual-stack socket with an IPv4 peer) is returned
/// as IPv4, as sock_diag's decoder does, so both match the captured packets.
fn v6_at(b: &[u8], at: usize) -> Option<IpAddr> {
    let o: [u8; 16] = b.get(at..at + 16)?.try_into().ok()?;
    let v6 = Ipv6Addr::from(o);
    Some(v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4))
}

// Ring-buffer page layout (events/header_page and events/header_event):
// u64 timestamp, u64 commit (bytes of data; high bits are flags), data.
// Each record starts with a u32: type_len (5 bits) | time_delta (27 bits) << 5.
const PAGE_HEADER: usize = 16;
/// Bits 30 and 31 of `commit` flag missed events; the rest is the data length.
const COMMIT_MASK: u64 = 0x3fff_ffff;
const TYPE_PADDING: u32 = 29;
const TYPE_TIME_EXTEND: u32 = 30;
const TYPE_TIME_STAMP: u32 = 31;
const TS_SHIFT: u32 = 27;

/// Decodes one page read from `trace_pipe_raw`, appending transitions to `out`.
/// Anything that does not fit ends the page; nothing here can panic.
/// `offset` is added to the records' CLOCK_MONOTONIC stamps.
pub fn parse_page(page: &[u8], layout: &Layout, offset: i64, out: &mut Vec<Transition>) {
    walk_page(page, |rec, ts| out.extend(layout.decode(rec, ts, offset)));
}

/// Decodes one page of transitions and, with `resets`, of resets, appending
/// each to its list in `out`. As [`parse_page`].
pub fn parse_records(
    page: &[u8],
    layout: &Layout,
    resets: Option<&ResetLayout>,
    offset: i64,
    out: &mut Traced,
) {
    walk_page(page, |rec, ts| {
        if let Some(t) = layout.decode(rec, ts, offset) {
            out.transitions.push(t);
        } else if let Some(r) = resets.and_then(|l| l.decode(rec, ts, offset)) {
            out.resets.push(r);
        }
    });
}

/// Calls `each` with every record of a page and its CLOCK_MONOTONIC stamp.
fn walk_page(page: &[u8], mut each: impl FnMut(&[u8], u64)) {
    let (Some(ts), Some(commit)) = (
        page.get(..8)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_ne_bytes),
        page.get(8..16)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_ne_bytes),
    ) else {
        return;
    };
    let mut ts = ts;
    let data_len = usize::try_from(commit & COMMIT_MASK).unwrap_or(usize::MAX);
    let end = PAGE_HEADER.saturating_add(data_len).min(page.len());
    let mut at = PAGE_HEADER;
    while at + 4 <= end {
        let Some(head) = u32_at(page, at) else { return };
        let type_len = head & 0x1f;
        let delta = u64::from(head >> 5);
        let array0 = u32_at(page, at + 4);
        let next = match type_len {
            TYPE_PADDING => {
                if delta == 0 {
                    return; // the rest of the page is padding
                }
                ts = ts.wrapping_add(delta);
                at + 4 + array0.map_or(usize::MAX / 2, |l| l as usize)
            }
            TYPE_TIME_EXTEND => {
                let Some(hi) = array0 else { return };
                ts = ts.wrapping_add((u64::from(hi) << TS_SHIFT) | delta);
                at + 8
            }
            TYPE_TIME_STAMP => {
                // An absolute stamp of 59 bits; the top bits come from the page's.
                let Some(hi) = array0 else { return };
                let abs = (u64::from(hi) << TS_SHIFT) | delta;
                ts = abs | (ts & !((1u64 << 59) - 1));
                at + 8
            }
            0 => {
                // Long record: array[0] is its length including that word.
                let Some(len) = array0 else { return };
                let len = (len as usize).saturating_sub(4);
                ts = ts.wrapping_add(delta);
                let start = at + 8;
                if let Some(rec) = page.get(start..start.saturating_add(len).min(end)) {
                    each(rec, ts);
                }
                start.saturating_add((len + 3) & !3)
            }
            n => {
                let len = n as usize * 4;
                ts = ts.wrapping_add(delta);
                let start = at + 4;
                if let Some(rec) = page.get(start..(start + len).min(end)) {
                    each(rec, ts);
                }
                start + len
            }
        };
        if next <= at {
            return;
        }
        at = next;
    }
}

/// True inside a user namespace (a rootless lab): uid 0 there is not root on
/// the host, and tracefs stays out of reach. The initial namespace maps every id.
fn in_user_namespace() -> bool {
    std::fs::read_to_string("/proc/self/uid_map").is_ok_and(|m| {
        let fields: Vec<&str> = m.split_whitespace().collect();
        fields != ["0", "0", "4294967295"]
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_kernel_bytes::{
        CONG_FORMAT, DROP_FORMAT, RESET_FORMAT, RETRANSMIT_FORMAT, SYNACK_FORMAT, TRACE_FORMAT,
        cong_record, drop_record, reset_record, retransmit_record, synack_record, trace_record,
    };
    use crate::test_rng::Rng;

    #[test]
    fn parses_the_format_file() {
        let l = Layout::parse(TRACE_FORMAT).unwrap();
        assert_eq!(
            (l.id, l.skaddr, l.oldstate, l.ends.sport, l.ends.family),
            (2287, 8, 16, 24, 28)
        );
        assert_eq!((l.ends.saddr, l.ends.daddr_v6, l.min_len), (32, 56, 72));
        // A field with an unexpected size, or a missing one, is refused.
        assert!(
            Layout::parse(
                &TRACE_FORMAT.replace("size:16;\tsigned:0;\n\n", "size:8;\tsigned:0;\n\n")
            )
            .is_none()
        );
        assert!(Layout::parse(&TRACE_FORMAT.replace("skaddr", "sk")).is_none());
        assert!(Layout::parse("").is_none());
        // Found by fuzzing: an offset whose end does not fit a usize
        // overflowed (a panic in debug builds, a wrapped minimum length in release).
        let huge = TRACE_FORMAT.replace(
            "common_type;\toffset:0;",
            "common_type;\toffset:018446744073709551615;",
        );
        assert_ne!(huge, TRACE_FORMAT);
        assert!(Layout::parse(&huge).is_none());
    }

    fn page(events: &[(u32, Vec<u8>)]) -> Vec<u8> {
        let mut p = vec![0u8; PAGE_HEADER];
        p[0..8].copy_from_slice(&1_000_000u64.to_ne_bytes());
        for (delta, rec) in events {
            if *delta >= 1 << 27 {
                // A time extend, then the record with no delta of its own.
                p.extend_from_slice(
                    &(TYPE_TIME_EXTEND | ((delta & 0x7ff_ffff) << 5)).to_ne_bytes(),
                );
                p.extend_from_slice(&(delta >> 27).to_ne_bytes());
                p.extend_from_slice(&((rec.len() as u32 / 4) & 0x1f).to_ne_bytes());
            } else {
                // Long form (type_len 0) to exercise it: array[0] = len + 4.
                p.extend_from_slice(&(delta << 5).to_ne_bytes());
                p.extend_from_slice(&(rec.len() as u32 + 4).to_ne_bytes());
            }
            p.extend_from_slice(rec);
        }
        let commit = (p.len() - PAGE_HEADER) as u64;
        p[8..16].copy_from_slice(&commit.to_ne_bytes());
        p.resize(4096, 0xaa); // the read returns the whole page; past `commit` is junk
        p
    }

    #[test]
    fn decodes_v4_and_v6_records_from_a_page() {
        let layout = Layout::parse(TRACE_FORMAT).unwrap();
        let lo4: IpAddr = Ipv4Addr::LOCALHOST.into();
        let lo6: IpAddr = Ipv6Addr::LOCALHOST.into();
        let p = page(&[
            (10, trace_record(2, 7, 2, 0, 5999, lo4, lo4)),
            (200_000_000, trace_record(2, 2, 1, 54756, 5999, lo4, lo4)),
            (5, trace_record(10, 10, 3, 5999, 39782, lo6, lo6)),
            (5, trace_record(10, 5, 12345, 5999, 39782, lo6, lo6)), // unknown state: skipped
        ]);
        let mut out = Vec::new();
        parse_page(&p, &layout, 1_000, &mut out);
        assert_eq!(out.len(), 3, "{out:#?}");
        assert_eq!(out[0].ts, Timestamp(1_000_000 + 10 + 1_000));
        assert_eq!(
            (out[0].from, out[0].to),
            (TcpState::Closed, TcpState::SynSent)
        );
        assert_eq!(out[0].local, "127.0.0.1:0".parse().unwrap());
        assert_eq!(out[0].skaddr, 0xffff_8881_00da_ca00);
        assert_eq!(out[1].ts, Timestamp(1_000_000 + 10 + 200_000_000 + 1_000));
        assert_eq!(out[1].local, "127.0.0.1:54756".parse().unwrap());
        assert_eq!(out[1].remote, "127.0.0.1:5999".parse().unwrap());
        assert_eq!(
            (out[2].from, out[2].to),
            (TcpState::Listen, TcpState::SynReceived)
        );
        assert_eq!(out[2].local, "[::1]:5999".parse().unwrap());
        assert_eq!(out[2].remote, "[::1]:39782".parse().unwrap());
    }

    #[test]
    fn truncated_and_garbage_pages_do_not_panic() {
        let layout = Layout::parse(TRACE_FORMAT).unwrap();
        let lo4: IpAddr = Ipv4Addr::LOCALHOST.into();
        let p = page(&[
            (1, trace_record(2, 1, 4, 1, 2, lo4, lo4)),
            (1 << 28, trace_record(2, 4, 5, 1, 2, lo4, lo4)),
        ]);
        let mut out = Vec::new();
        for cut in 0..200 {
            parse_page(&p[..cut], &layout, 0, &mut out);
        }
        let mut rng = Rng::new(0x9e37_79b9_7f4a_7c15);
        for _ in 0..3000 {
            let mut junk = rng.bytes(256);
            parse_page(&junk, &layout, i64::MIN, &mut out);
            junk[8..16].copy_from_slice(&240u64.to_ne_bytes());
            parse_page(&junk, &layout, i64::MAX, &mut out);
            layout.decode(&junk, u64::MAX, i64::MAX);
        }
    }

    /// The kernel's own format file of `tcp:tcp_send_reset` on 6.18: the
    /// fields' offsets, and every reason's name from the print format (the
    /// socket states' table before it is another field's).
    #[test]
    fn parses_the_reset_format_file_and_its_reason_names() {
        let l = ResetLayout::parse(RESET_FORMAT).unwrap();
        assert_eq!(
            (l.id, l.common_type, l.reason, l.saddr, l.daddr, l.min_len),
            (2280, 0, 28, 32, 60, 88)
        );
        let names: Vec<&str> = l.names().iter().map(|(_, n)| n.as_str()).collect();
        assert_eq!(names.len(), 26, "{names:?}");
        assert_eq!(l.names()[0], (0, "NOT_SPECIFIED".to_owned()));
        assert_eq!(l.name(1), "NO_SOCKET");
        assert_eq!(l.name(11), "TCP_ABORT_ON_CLOSE");
        assert_eq!(l.name(12), "TCP_ABORT_ON_LINGER");
        assert_eq!(l.name(14), "TCP_STATE");
        assert_eq!(l.name(15), "TCP_KEEPALIVE_TIMEOUT");
        assert_eq!(l.name(24), "ERROR");
        assert!(!names.contains(&"TCP_ESTABLISHED"), "{names:?}");
        // A number the format does not name is shown as the number.
        assert_eq!(l.name(99), "99");
        // A newer kernel's reason shows by its name: the names are read,
        // not known in advance.
        let newer = RESET_FORMAT.replace(
            "{ 25, \"MAX\" }",
            "{ 25, \"TCP_SOMETHING_NEW\" }, { 26, \"MAX\" }",
        );
        assert_ne!(newer, RESET_FORMAT);
        let n = ResetLayout::parse(&newer).unwrap();
        assert_eq!(
            (n.name(25).as_str(), n.name(26).as_str()),
            ("TCP_SOMETHING_NEW", "MAX")
        );
        // The same fields at other offsets, as another build may lay them out.
        let moved = RESET_FORMAT
            .replace("reason;\toffset:28;", "reason;\toffset:92;")
            .replace("saddr[28];\toffset:32;", "saddr[28];\toffset:96;");
        let m = ResetLayout::parse(&moved).unwrap();
        assert_eq!((m.reason, m.saddr, m.min_len), (92, 96, 124));
        // An older kernel's event (no reason; ports and addresses in fields
        // of their own) is not this decoder's.
        assert!(ResetLayout::parse(TRACE_FORMAT).is_none());
        assert!(ResetLayout::parse(&RESET_FORMAT.replace(" reason;", " why;")).is_none());
        assert!(ResetLayout::parse(&RESET_FORMAT.replace("size:28;", "size:16;")).is_none());
    }

    #[test]
    fn reason_tables_are_read_whatever_their_spelling() {
        let fmt =
            |table: &str| format!("print fmt: \"%s\", __print_symbolic(REC->reason, {table})");
        assert_eq!(
            symbols(&fmt("{ 0, \"A\" }, { 0x1f, \"B_2\" }"), "reason"),
            [(0, "A".to_owned()), (31, "B_2".to_owned())]
        );
        // Unresolved enum values, names that are not identifiers, a cut table.
        assert_eq!(
            symbols(
                &fmt("{ SK_RST_REASON_X, \"X\" }, { 2, \"a\\x1b[2J\" }, { 3, \"C\" }, { 4,"),
                "reason"
            ),
            [(3, "C".to_owned())]
        );
        assert!(symbols("print fmt: \"%d\", REC->reason", "reason").is_empty());
        assert!(symbols(&fmt(""), "reason").is_empty());
    }

    #[test]
    fn decodes_resets_with_and_without_a_socket() {
        let states = Layout::parse(TRACE_FORMAT).unwrap();
        let resets = ResetLayout::parse(RESET_FORMAT).unwrap();
        let lo4: IpAddr = Ipv4Addr::LOCALHOST.into();
        let lo6: IpAddr = Ipv6Addr::LOCALHOST.into();
        let mapped: IpAddr = Ipv4Addr::new(10, 0, 0, 1).to_ipv6_mapped().into();
        let p = page(&[
            // A SYN to a closed port: no socket, the addresses from the SYN, reversed.
            (10, reset_record(1, 0, 0, (lo4, 7000), (lo4, 44728))),
            (5, trace_record(2, 1, 7, 44736, 7000, lo4, lo4)),
            // SO_LINGER 0 on an IPv6 socket; a dual-stack socket's IPv4 peer.
            (
                5,
                reset_record(14, 0xffff_8881_0000_1000, 1, (lo6, 40000), (lo6, 7000)),
            ),
            (
                5,
                reset_record(11, 0xffff_8881_0000_2000, 7, (mapped, 7000), (mapped, 5)),
            ),
            // Another family: skipped.
            (5, {
                let mut r = reset_record(1, 0, 0, (lo4, 1), (lo4, 2));
                r[32..34].copy_from_slice(&1u16.to_ne_bytes());
                r
            }),
        ]);
        let mut out = Traced::default();
        parse_records(&p, &states, Some(&resets), 1_000, &mut out);
        assert_eq!(out.transitions.len(), 1, "{out:#?}");
        let r = &out.resets;
        assert_eq!(r.len(), 3, "{out:#?}");
        assert_eq!(r[0].ts, Timestamp(1_000_000 + 10 + 1_000));
        assert_eq!(r[0].reason, "NO_SOCKET");
        assert_eq!(r[0].src, "127.0.0.1:7000".parse().unwrap());
        assert_eq!(r[0].dst, "127.0.0.1:44728".parse().unwrap());
        assert_eq!(r[1].reason, "TCP_STATE");
        assert_eq!(r[1].src, "[::1]:40000".parse().unwrap());
        assert_eq!(r[2].reason, "TCP_ABORT_ON_CLOSE");
        assert_eq!(r[2].src, "10.0.0.1:7000".parse().unwrap());
        // Without the reset layout the same page gives the transitions alone.
        let mut alone = Traced::default();
        parse_records(&p, &states, None, 1_000, &mut alone);
        assert_eq!((alone.transitions.len(), alone.resets.len()), (1, 0));
        // Junk never panics.
        let mut rng = Rng::new(7);
        for _ in 0..2000 {
            let junk = rng.bytes(200);
            resets.decode(&junk, u64::MAX, i64::MIN);
            parse_records(&junk, &states, Some(&resets), 0, &mut alone);
        }
    }

    #[test]
    fn resets_are_kept_for_the_watched_ports_where_the_kernel_cannot_filter() {
        // 6.18's event keeps its ports in sockaddr arrays: no kernel filter.
        assert_eq!(kernel_port_filter(RESET_FORMAT, &[7000]), None);
        // A format with numeric port fields is filtered in the kernel.
        assert_eq!(
            kernel_port_filter(TRACE_FORMAT, &[80, 443]).as_deref(),
            Some("sport == 80 || dport == 80 || sport == 443 || dport == 443")
        );
        assert_eq!(kernel_port_filter(TRACE_FORMAT, &[]), None);
        let d = Decoders {
            states: Layout::parse(TRACE_FORMAT).unwrap(),
            resets: ResetLayout::parse(RESET_FORMAT),
            reset_ports: vec![7000],
            drops: None,
            retransmits: None,
            synacks: None,
            cong: None,
        };
        let reset = |src: &str, dst: &str| Reset {
            ts: Timestamp(0),
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            reason: "NO_SOCKET".into(),
        };
        assert!(d.wanted(&reset("127.0.0.1:7000", "127.0.0.1:5")));
        assert!(d.wanted(&reset("127.0.0.1:5", "127.0.0.1:7000")));
        assert!(!d.wanted(&reset("127.0.0.1:22", "127.0.0.1:5")));
        let all = Decoders {
            reset_ports: Vec::new(),
            ..d
        };
        assert!(all.wanted(&reset("127.0.0.1:22", "127.0.0.1:5")));
    }

    /// The kernel's own format file of `skb:kfree_skb` on 6.18: the fields,
    /// every drop reason's name, and the filter built from them.
    #[test]
    fn parses_the_drop_format_file_and_its_reason_names() {
        let l = DropLayout::parse(DROP_FORMAT).unwrap();
        assert_eq!(
            (l.id, l.rx_sk, l.protocol, l.reason, l.min_len),
            (2310, 24, 32, 36, 40)
        );
        assert_eq!(l.names().all().len(), 129);
        assert_eq!(&*l.names().name(40), "TCP_LISTEN_OVERFLOW");
        assert_eq!(&*l.names().name(5), "SOCKET_FILTER");
        assert_eq!(&*l.names().name(999), "999");
        // One allocation per name, shared by every record.
        assert!(Arc::ptr_eq(&l.names().name(40), &l.names().name(40)));
        // The floor comes from the names, not from a number known in advance.
        assert_eq!(
            l.kernel_filter().as_deref(),
            Some("reason > 2 && rx_sk != 0 && (protocol == 2048 || protocol == 34525)")
        );
        let shifted = DROP_FORMAT.replace("{ 2, \"NOT_SPECIFIED\" }", "{ 7, \"NOT_SPECIFIED\" }");
        assert_ne!(shifted, DROP_FORMAT);
        assert!(
            DropLayout::parse(&shifted)
                .unwrap()
                .kernel_filter()
                .unwrap()
                .starts_with("reason > 7 ")
        );
        // Without NOT_SPECIFIED nothing says which reasons are drops: not traced.
        let unnamed = DROP_FORMAT.replace("\"NOT_SPECIFIED\"", "\"SOMETHING\"");
        assert_eq!(DropLayout::parse(&unnamed).unwrap().kernel_filter(), None);
        // A kernel before rx_sk (6.10 and older) cannot name the socket.
        assert!(DropLayout::parse(&DROP_FORMAT.replace("rx_sk", "sk")).is_none());
        assert!(DropLayout::parse(RESET_FORMAT).is_none());
    }

    #[test]
    fn a_drop_names_the_socket_its_transitions_named() {
        let d = Decoders {
            states: Layout::parse(TRACE_FORMAT).unwrap(),
            resets: None,
            reset_ports: Vec::new(),
            drops: DropLayout::parse(DROP_FORMAT),
            retransmits: None,
            synacks: None,
            cong: None,
        };
        let lo4: IpAddr = Ipv4Addr::LOCALHOST.into();
        let sk = 0xffff_8881_00da_ca00; // trace_record's socket
        let p = page(&[
            // A listener on 7000; a final ACK dropped at its full queue.
            (10, trace_record(2, 7, 10, 7000, 0, lo4, lo4)),
            (10, drop_record(40, sk, 0x0800)),
            // Another socket's (not traced): left out; no socket: left out.
            (10, drop_record(40, 0xffff_8881_0000_0001, 0x0800)),
            (10, drop_record(3, 0, 0x0800)),
            // NOT_SPECIFIED, and another protocol: what the kernel filter leaves out.
            (10, drop_record(2, sk, 0x0800)),
            (10, drop_record(40, sk, 0x0806)),
        ]);
        let mut out = Traced::default();
        let mut raw = Vec::new();
        d.parse(&p, 1_000, &mut out, &mut raw);
        assert_eq!(raw.len(), 2, "{raw:?}");
        let mut sockets = Sockets::default();
        sockets.resolve(&out.transitions, &mut raw, &mut out.drops);
        assert_eq!(out.drops.len(), 1, "{out:#?}");
        let drop = &out.drops[0];
        assert_eq!(&*drop.reason, "TCP_LISTEN_OVERFLOW");
        assert_eq!(drop.local, "127.0.0.1:7000".parse().unwrap());
        assert_eq!(drop.remote, None);
        assert_eq!(drop.ts, Timestamp(1_000_000 + 20 + 1_000));
        // A drop read before its socket's transition (another CPU's page)
        // is still named: the batch is taken in time order.
        let later = page(&[(30, drop_record(5, sk, 0x0800))]);
        let first = page(&[(10, trace_record(2, 1, 7, 40000, 7000, lo4, lo4))]);
        let mut out = Traced::default();
        let mut sockets = Sockets::default();
        d.parse(&later, 0, &mut out, &mut raw);
        d.parse(&first, 0, &mut out, &mut raw);
        sockets.resolve(&out.transitions, &mut raw, &mut out.drops);
        assert_eq!(out.drops.len(), 1, "{out:#?}");
        assert_eq!(out.drops[0].remote, Some("127.0.0.1:7000".parse().unwrap()));
        assert_eq!(&*out.drops[0].reason, "SOCKET_FILTER");
        // Closed sockets are forgotten in time; junk never panics.
        let mut rng = Rng::new(11);
        for _ in 0..2000 {
            let junk = rng.bytes(128);
            d.parse(&junk, 0, &mut out, &mut raw);
        }
    }

    #[test]
    fn decodes_retransmissions_and_filters_their_ports_in_the_kernel() {
        let skb = RetransmitLayout::parse(RETRANSMIT_FORMAT).unwrap();
        let synack = RetransmitLayout::parse(SYNACK_FORMAT).unwrap();
        assert_eq!(
            (skb.id, skb.ends.sport, skb.err, skb.min_len),
            (2281, 28, Some(76), 80)
        );
        assert_eq!((synack.id, synack.ends.sport, synack.err), (2275, 24, None));
        assert_eq!(
            kernel_port_filter(RETRANSMIT_FORMAT, &[7000]).as_deref(),
            Some("sport == 7000 || dport == 7000")
        );
        let d = Decoders {
            states: Layout::parse(TRACE_FORMAT).unwrap(),
            resets: None,
            reset_ports: Vec::new(),
            drops: None,
            retransmits: Some(skb),
            synacks: Some(synack),
            cong: None,
        };
        let lo = Ipv4Addr::LOCALHOST;
        let lo6 = Ipv6Addr::LOCALHOST;
        let p = page(&[
            (10, retransmit_record((lo, 40000), (lo, 7000), 0)),
            // Failed: nothing was sent.
            (10, retransmit_record((lo, 40000), (lo, 7000), -105)),
            (10, synack_record((lo6, 7000), (lo6, 40001))),
        ]);
        let mut out = Traced::default();
        d.parse(&p, 0, &mut out, &mut Vec::new());
        assert_eq!(out.retransmits.len(), 2, "{out:#?}");
        assert_eq!(out.retransmits[0].src, "127.0.0.1:40000".parse().unwrap());
        assert_eq!(out.retransmits[0].dst, "127.0.0.1:7000".parse().unwrap());
        assert!(!out.retransmits[0].synack);
        assert_eq!(out.retransmits[1].src, "[::1]:7000".parse().unwrap());
        assert!(out.retransmits[1].synack);
    }

    #[test]
    fn filter_expression() {
        assert_eq!(filter_expr(&[]), "protocol == 6");
        assert_eq!(
            filter_expr(&[80, 443]),
            "protocol == 6 && (sport == 80 || dport == 80 || sport == 443 || dport == 443)"
        );
    }

    #[test]
    fn parses_the_congestion_format_and_keeps_each_sockets_changes() {
        let l = CongLayout::parse(CONG_FORMAT).unwrap();
        assert_eq!(
            (l.id, l.ends.sport, l.ends.dport, l.cong_state, l.min_len),
            (2271, 16, 18, 62, 63)
        );
        // 6.18 prints a number: the documented values name it.
        assert!(l.names.is_empty());
        assert_eq!(l.state(3), CaState::Recovery);
        assert_eq!(l.state(9), CaState::Other(9));
        // A kernel that prints names is read by them.
        let named = CONG_FORMAT.replace(
            "REC->cong_state\n",
            "__print_symbolic(REC->cong_state, { 0, \"TCP_CA_Open\" }, { 4, \"TCP_CA_Loss\" }, { 7, \"TCP_CA_Later\" })",
        );
        let n = CongLayout::parse(&named).unwrap();
        assert_eq!(n.state(4), CaState::Loss);
        assert_eq!(n.state(7), CaState::Other(7));
        assert!(CongLayout::parse(&CONG_FORMAT.replace("cong_state;", "state;")).is_none());
        assert!(CongLayout::parse(&CONG_FORMAT.replace("size:1;", "size:4;")).is_none());
        assert!(CongLayout::parse(RESET_FORMAT).is_none());

        let me = (std::net::Ipv4Addr::LOCALHOST, 40000);
        let srv = (std::net::Ipv4Addr::LOCALHOST, 7000);
        let recs: Vec<(u32, Vec<u8>)> = [1u8, 3, 4, 4, 0]
            .into_iter()
            .map(|s| (1_000, cong_record(s, me, srv)))
            .chain([(1_000, cong_record(0, srv, me))])
            .collect();
        let mut out = Traced::default();
        let d = Decoders {
            states: Layout::parse(TRACE_FORMAT).unwrap(),
            resets: None,
            reset_ports: Vec::new(),
            drops: None,
            retransmits: None,
            synacks: None,
            cong: Some(l.clone()),
        };
        d.parse(&page(&recs), 0, &mut out, &mut Vec::new());
        assert_eq!(out.cong.len(), 6);
        assert!(out.transitions.is_empty());
        let mut seen = CongStates::default();
        seen.changes(&mut out.cong);
        let told: Vec<(u16, Option<CaState>, CaState)> = out
            .cong
            .iter()
            .map(|c| (c.local.port(), c.from, c.state))
            .collect();
        // The second Loss (another timeout) is no change; the first record
        // of a socket has no state before it, and is no change when it is
        // Open (each new connection's).
        assert_eq!(
            told,
            [
                (40000, None, CaState::Disorder),
                (40000, Some(CaState::Disorder), CaState::Recovery),
                (40000, Some(CaState::Recovery), CaState::Loss),
                (40000, Some(CaState::Loss), CaState::Open),
            ]
        );
        assert!(
            out.cong
                .iter()
                .all(|c| c.source == CongSource::Kernel && c.cwnd.is_none() && c.is_change())
        );
        // The server's socket closes: forgotten.
        assert_eq!(seen.last.len(), 2);
        seen.closed(&[Transition {
            ts: Timestamp(0),
            local: SocketAddr::from(srv),
            remote: SocketAddr::from(me),
            from: TcpState::LastAck,
            to: TcpState::Closed,
            skaddr: 1,
        }]);
        assert_eq!(seen.last.len(), 1);
        // Cut records and garbage decode to nothing, without a panic.
        let mut cut = cong_record(3, me, srv);
        cut.truncate(40);
        assert!(l.decode(&cut, 0, 0).is_none());
    }
}
