//! The wiring: starts the sources (capture, kernel, lab) for a run, feeds what
//! they report through one channel into the model, and hands the resulting
//! events to a view: a headless writer here, the TUI in [`crate::ui`].
//!
//! ```text
//!  capture thread ─┐
//!  kernel threads ─┼─► Msg channel ─► reorder (150 ms) ─► Model ─► events ─► view
//!  lab thread     ─┤                                                 (headless writer,
//!  terminal input ─┘                                                  or App + TUI: screen)
//! ```

pub mod screen;

pub use screen::{Start, UiOptions, screen};

/// Parses one frame of a file or a live capture into the model's input.
#[must_use]
pub fn frame_input(frame: &capture::Frame<'_>, keep_bytes: bool) -> Option<Input> {
    capture::thread::parse(frame, keep_bytes).map(captured_input)
}

use std::io::{self, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, mpsc as std_mpsc};
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::sync::mpsc;

use crate::app::AppEvent;
use crate::capture::{self, CaptureThread, Captured, FileCapture, Filter, LiveCapture, PcapWriter};
use crate::event::{Event, EventSink};
use crate::i18n::Lang;
use crate::kernel::{KernelPoller, KernelReport};
use crate::lab::{LabControl, LabError, LabNs, LabOptions, Script};
use crate::model::Input;
use crate::model::KernelMode;
use crate::model::pipeline::{HOLD, Pipeline, Recorder};
use crate::output::{Format, Writer};
use crate::privilege::{self, Dropped, Invoker, Replace, create_output};
use crate::time::Timestamp;

/// How often the loop wakes up without input (flushing held inputs).
pub const TICK: Duration = Duration::from_millis(50);
/// The lab server's port.
pub const LAB_PORT: u16 = 7000;

/// Why a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// Every source finished (file read, scenario ended, --count/--duration reached).
    Done,
    /// Ctrl-C.
    Interrupted,
    /// The output pipe was closed (e.g. `| head`): stop quietly.
    OutputClosed,
}

/// What the sources of a run send the loop. `run` tells runs apart: after a
/// restart, what the old run still had in flight is dropped.
#[derive(Debug)]
pub enum Msg {
    /// What a source read at once (a ring block's packets, a tracer batch).
    Inputs { run: u64, inputs: Vec<Input> },
    /// The lab thread returned (the script ended, or it was told to stop).
    LabDone { run: u64, error: Option<String> },
    /// A file source read its last frame.
    SourceDone { run: u64, error: Option<String> },
    /// The lab began a step: told to the screen at once (its `Step` event
    /// comes through the model with the rows, later).
    StepBegan {
        run: u64,
        step: crate::event::StepEvent,
    },
    /// The terminal: a key, the mouse, a resize.
    Ui(AppEvent),
    /// The terminal is gone (its window closed): the run ends.
    TerminalGone,
}

pub type Funnel = mpsc::UnboundedSender<Msg>;

/// Inputs sent into the funnel and not yet taken out by the loop. When the
/// loop falls behind (a slow terminal, a slow pipe), packets are skipped, and
/// counted, instead of queueing without limit.
#[derive(Clone, Debug, Default)]
pub struct Backlog(Arc<std::sync::atomic::AtomicUsize>);

/// Inputs waiting before new packets are skipped: about half a second of a
/// heavy loopback load.
pub const MAX_BACKLOG: usize = 50_000;

impl Backlog {
    /// Sends inputs; false when the loop is gone.
    pub fn send(&self, tx: &Funnel, run: u64, inputs: Vec<Input>) -> bool {
        let n = inputs.len();
        self.0.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        tx.send(Msg::Inputs { run, inputs }).is_ok()
    }

    /// Whether the loop is that far behind.
    #[must_use]
    pub fn full(&self) -> bool {
        self.0.load(std::sync::atomic::Ordering::Relaxed) >= MAX_BACKLOG
    }

    /// The loop took `n` inputs out.
    pub fn taken(&self, n: usize) {
        self.0.fetch_sub(n, std::sync::atomic::Ordering::Relaxed);
    }
}

/// `synack watch`'s settings.
#[derive(Clone, Debug, Default)]
pub struct WatchSetup {
    pub iface: String,
    pub ports: Vec<u16>,
    pub hosts: Vec<IpAddr>,
    pub duration: Option<f64>,
    pub count: Option<u64>,
    pub write: Option<PathBuf>,
    /// `--force`: `write` may replace an existing file.
    pub force: bool,
}

impl WatchSetup {
    #[must_use]
    pub fn filter(&self) -> Filter {
        Filter {
            ports: self.ports.clone(),
            hosts: self.hosts.clone(),
        }
    }
}

/// `synack demo`'s settings besides the script.
#[derive(Clone, Debug)]
pub struct DemoSetup {
    pub ipv6: bool,
    /// Start paused: each step waits for the user.
    pub step: bool,
    /// Between steps while playing.
    pub pace: Duration,
    pub port: u16,
    /// The lab's namespaces (entered in `main` before any thread).
    pub ns: LabNs,
    /// `--write`: the lab's packets as a pcap file (the first run's only).
    pub write: Option<PathBuf>,
    /// `--force`: `write` may replace an existing file.
    pub force: bool,
    /// `--quiz` (on screen): each step waits for the class's answer.
    pub quiz: bool,
}

/// The sources of one run; stopping it stops them all.
pub struct Session {
    pub run: u64,
    pub kernel_mode: KernelMode,
    /// What was given up after set-up (watch only; a demo's lab needs root).
    pub dropped: Dropped,
    capture: Option<CaptureThread>,
    kernel: Option<KernelPoller>,
    lab: Option<LabHandle>,
}

struct LabHandle {
    control: std_mpsc::Sender<LabControl>,
    thread: Option<std::thread::JoinHandle<()>>,
}

fn captured_input(c: Captured) -> Input {
    match c {
        Captured::Segment { seg, raw } => Input::Segment { seg, raw },
        Captured::Rejected { ts, why } => Input::Rejected { ts, why },
        Captured::Warning { ts, message } => Input::Event(Event::Warning { ts, message }),
    }
}

fn kernel_inputs(r: KernelReport) -> Vec<Input> {
    match r {
        KernelReport::Snapshot {
            ts,
            socks,
            counters,
            listeners_only,
            started,
        } => vec![Input::Snapshot {
            ts,
            socks,
            counters,
            listeners_only,
            started: Some(started),
        }],
        KernelReport::Transitions(ts) => ts.into_iter().map(Input::Transition).collect(),
        KernelReport::Warning { ts, message } => vec![Input::Event(Event::Warning { ts, message })],
    }
}

fn start_kernel(
    run: u64,
    ports: Vec<u16>,
    trace_ports: &[u16],
    tx: &Funnel,
    backlog: &Backlog,
    activity: &Arc<std::sync::atomic::AtomicU64>,
) -> KernelPoller {
    let ktx = tx.clone();
    let kb = backlog.clone();
    let skipped = std::sync::atomic::AtomicU64::new(0);
    let report: crate::kernel::poll::Report = Arc::new(move |r| {
        use std::sync::atomic::Ordering::Relaxed;
        if kb.full() {
            // A snapshot the loop has no time for is skipped: the next one
            // says the same and more. Transitions are lost: counted, and said.
            if let KernelReport::Transitions(t) = &r {
                skipped.fetch_add(t.len() as u64, Relaxed);
            }
            if !matches!(r, KernelReport::Warning { .. }) {
                return !ktx.is_closed();
            }
        }
        let mut inputs = kernel_inputs(r);
        let lost = skipped.swap(0, Relaxed);
        if lost > 0 {
            inputs.push(Input::Event(Event::Warning {
                ts: Timestamp::now(),
                message: format!(
                    "synack fell behind and skipped {lost} state changes the kernel reported \
                     (the output or the screen was too slow to keep up); those states may \
                     be missing or shown only as inferred from the packets"
                ),
            }));
        }
        kb.send(&ktx, run, inputs)
    });
    let poller = KernelPoller::start(ports, trace_ports, &report, Arc::clone(activity));
    let mode = Input::KernelMode {
        ts: Timestamp::now(),
        mode: poller.mode(),
    };
    backlog.send(tx, run, vec![mode]);
    poller
}

fn start_capture(
    run: u64,
    cap: LiveCapture,
    writer: Option<PcapWriter>,
    keep_bytes: bool,
    tx: &Funnel,
    backlog: &Backlog,
    activity: &Arc<std::sync::atomic::AtomicU64>,
) -> Result<CaptureThread> {
    let ctx = tx.clone();
    let cb = backlog.clone();
    let mut skipped = 0u64;
    let activity = Arc::clone(activity);
    let thread = CaptureThread::start(cap, writer, keep_bytes, move |batch| {
        // Packets: the kernel's table is worth reading again soon.
        if !batch.is_empty() {
            activity.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        if cb.full() {
            skipped += batch.len() as u64;
            return !ctx.is_closed();
        }
        let mut inputs = Vec::with_capacity(batch.len() + 1);
        if skipped > 0 {
            let message = format!(
                "synack fell behind and skipped {skipped} packets (the output or the screen was too slow to keep up)"
            );
            inputs.push(Input::Event(Event::Warning {
                ts: Timestamp::now(),
                message,
            }));
            skipped = 0;
        }
        inputs.extend(batch.into_iter().map(captured_input));
        cb.send(&ctx, run, inputs)
    });
    Ok(thread?)
}

/// The pcap file `--write` names, created safely (see
/// [`crate::privilege::create_output`]); `owner` for root writing for a sudo user.
fn pcap_writer(path: &Path, force: bool, owner: Option<Invoker>) -> Result<PcapWriter> {
    let replace = if force { Replace::Yes } else { Replace::No };
    let file = create_output(path, replace, owner)?;
    Ok(PcapWriter::new(file, path, capture::DEFAULT_SNAPLEN)?)
}

impl Session {
    /// Captures an interface and polls the kernel for the watched ports.
    ///
    /// # Errors
    /// The capture cannot be opened (with what to do), privileges cannot be
    /// given up, or `--write` fails.
    pub fn watch(
        run: u64,
        setup: &WatchSetup,
        keep_bytes: bool,
        tx: &Funnel,
        backlog: &Backlog,
    ) -> Result<Self> {
        let cap = LiveCapture::open(&setup.iface, &setup.filter(), capture::DEFAULT_SNAPLEN)?;
        // Privilege is given up before the first packet is read. Capabilities
        // belong to threads: without sudo they go before any thread starts
        // (the tracer needs real root, so nothing is lost). Through sudo the
        // tracer's instance is set up as root first; setresuid then reaches
        // every thread.
        let sudo = privilege::sudo_invoker();
        let mut dropped = Dropped::Nothing;
        if sudo.is_none() {
            dropped = privilege::drop_privileges()?;
        }
        let activity = Arc::default();
        let kernel = start_kernel(
            run,
            setup.ports.clone(),
            &setup.ports,
            tx,
            backlog,
            &activity,
        );
        if sudo.is_some() {
            let instances: Vec<PathBuf> = kernel
                .trace_instance()
                .map(Path::to_owned)
                .into_iter()
                .collect();
            privilege::keep_cleanup(&instances)
                .context("starting the process that removes the tracefs instance at exit")?;
            dropped = privilege::drop_privileges()?;
        }
        // Created as the user synack now runs as.
        let writer = match &setup.write {
            Some(p) => Some(pcap_writer(p, setup.force, None)?),
            None => None,
        };
        let capture = start_capture(run, cap, writer, keep_bytes, tx, backlog, &activity)?;
        Ok(Self {
            run,
            kernel_mode: kernel.mode(),
            dropped,
            capture: Some(capture),
            kernel: Some(kernel),
            lab: None,
        })
    }

    /// Makes a clean lab (a new network namespace for the calling thread),
    /// captures its `lo`, polls its sockets and plays `script` there.
    ///
    /// # Errors
    /// The lab's namespace, its capture or its thread cannot be set up.
    pub fn demo(
        run: u64,
        script: &Script,
        setup: &DemoSetup,
        stay: bool,
        keep_bytes: bool,
        tx: &Funnel,
        backlog: &Backlog,
    ) -> Result<(Self, std_mpsc::Sender<LabControl>)> {
        crate::lab::fresh_net(setup.ns)?;
        let cap = LiveCapture::open("lo", &Filter::default(), capture::DEFAULT_SNAPLEN)
            .context("capturing the lab's loopback")?;
        // The lab needs root for its whole life; its file is given to the
        // user who ran sudo.
        let writer = match &setup.write {
            Some(p) => Some(pcap_writer(p, setup.force, privilege::sudo_invoker())?),
            None => None,
        };
        let activity: Arc<std::sync::atomic::AtomicU64> = Arc::default();
        let capture = start_capture(run, cap, writer, keep_bytes, tx, backlog, &activity)?;
        // The lab's namespace holds only the lab's sockets: poll them all; the
        // tracepoint sees every namespace, so it is narrowed to the lab's ports.
        let trace_ports: Vec<u16> = (0..10).map(|i| setup.port.saturating_add(i)).collect();
        let kernel = start_kernel(run, Vec::new(), &trace_ports, tx, backlog, &activity);
        let (control, control_rx) = std_mpsc::channel();
        let opts = LabOptions {
            ipv6: setup.ipv6,
            port: setup.port,
            pace: setup.pace,
            paused: setup.step,
            stay,
            control: control_rx,
        };
        let etx = tx.clone();
        let eb = backlog.clone();
        let lab_activity = Arc::clone(&activity);
        let sink: EventSink = Arc::new(move |ev| {
            // A socket call can change the table without a packet (accept()
            // empties the accept queue, read() the receive queue).
            lab_activity.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if let Event::Step(step) = &ev {
                let _ = etx.send(Msg::StepBegan {
                    run,
                    step: step.clone(),
                });
            }
            eb.send(&etx, run, vec![Input::Event(ev)]);
        });
        let done = tx.clone();
        let script = script.clone();
        let thread = std::thread::Builder::new()
            .name("lab".into())
            .spawn(move || {
                let r = crate::lab::run(&script, opts, sink);
                let error = r.err().map(|e: LabError| e.to_string());
                let _ = done.send(Msg::LabDone { run, error });
            })
            .context("starting the lab thread")?;
        let session = Self {
            run,
            kernel_mode: kernel.mode(),
            dropped: Dropped::Nothing,
            capture: Some(capture),
            kernel: Some(kernel),
            lab: Some(LabHandle {
                control: control.clone(),
                thread: Some(thread),
            }),
        };
        Ok((session, control))
    }

    /// Stops every source: the lab first (it tears down its peers), then the
    /// capture and the kernel threads.
    pub fn stop(&mut self) {
        if let Some(lab) = &mut self.lab {
            let _ = lab.control.send(LabControl::Stop);
            if let Some(t) = lab.thread.take() {
                let _ = t.join();
            }
        }
        // Every thread is told first, then each is waited for: their waits
        // (a poll timeout each, the capture socket's close) overlap.
        if let Some(c) = &self.capture {
            c.request_stop();
        }
        if let Some(k) = &self.kernel {
            k.request_stop();
        }
        if let Some(mut c) = self.capture.take() {
            c.stop();
        }
        if let Some(mut k) = self.kernel.take() {
            k.stop();
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Where a headless run's output goes and when to stop.
pub struct Sink<W: Write> {
    writer: Writer<W>,
    count: Option<u64>,
    shown_packets: u64,
}

impl<W: Write> Sink<W> {
    pub fn new(format: Format, lang: Lang, out: W, count: Option<u64>) -> Self {
        Self {
            writer: Writer::new(format, lang, out),
            count,
            shown_packets: 0,
        }
    }

    /// Writes an event. `Ok(false)` once `--count` packets have been shown.
    /// Adds an event. `false` once `--count` packets have been shown.
    fn emit(&mut self, ev: &Event) -> bool {
        if self.count.is_some_and(|c| self.shown_packets >= c) {
            return false;
        }
        self.writer.add(ev);
        if matches!(ev, Event::Packet(_)) {
            self.shown_packets += 1;
        }
        self.count.is_none_or(|c| self.shown_packets < c)
    }

    /// Writes a batch, in one write; `Some(ending)` when the run should stop.
    fn emit_all(&mut self, events: &[Event]) -> Result<Option<Ending>> {
        let mut more = true;
        for ev in events {
            if !self.emit(ev) {
                more = false;
                break;
            }
        }
        match self.writer.flush() {
            Ok(()) if more => Ok(None),
            Ok(()) => Ok(Some(Ending::Done)),
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(Some(Ending::OutputClosed)),
            Err(e) => Err(e).context("writing the output"),
        }
    }
}

/// Where the model's events go: a headless writer or the TUI's app.
pub trait View {
    /// Takes a batch of events in time order; `Some(ending)` stops the run.
    ///
    /// # Errors
    /// The view cannot show them (the output failed).
    fn show(&mut self, events: &[Event]) -> Result<Option<Ending>>;
}

impl<W: Write> View for Sink<W> {
    fn show(&mut self, events: &[Event]) -> Result<Option<Ending>> {
        self.emit_all(events)
    }
}

/// Keeps a run's events for a view that shows them only at the end (the
/// `--export` diagrams). Bounded: past `limit` events the run stops and
/// `truncated` says so. With `conn`, packets and states of other
/// connections are not kept (calls are: which connection a call served is
/// known only at the end).
pub struct Collect {
    pub events: Vec<Event>,
    pub conn: Option<u32>,
    pub limit: usize,
    pub truncated: bool,
    /// Every connection number the run had, kept or not.
    pub conns: std::collections::BTreeSet<u32>,
}

impl Collect {
    #[must_use]
    pub fn new(conn: Option<u32>, limit: usize) -> Self {
        Self {
            events: Vec::new(),
            conn,
            limit,
            truncated: false,
            conns: std::collections::BTreeSet::new(),
        }
    }
}

impl View for Collect {
    fn show(&mut self, events: &[Event]) -> Result<Option<Ending>> {
        for e in events {
            if let Event::Packet(p) = e {
                self.conns.insert(p.conn.0);
            }
            let other = match (e, self.conn) {
                (Event::Packet(p), Some(c)) => p.conn.0 != c,
                (Event::State(s), Some(c)) => s.conn.is_some_and(|x| x.0 != c),
                (Event::SocketQueues(_) | Event::Queue(_), _) => true,
                _ => false,
            };
            if other {
                continue;
            }
            if self.events.len() >= self.limit {
                self.truncated = true;
                return Ok(Some(Ending::Done));
            }
            self.events.push(e.clone());
        }
        Ok(None)
    }
}

/// The inputs a run's model took, in the order it took them, one JSON object
/// a line (`--record FILE`): replayed through a model they give the same
/// events again. Tests keep such recordings as fixtures.
struct Recording {
    out: io::BufWriter<std::fs::File>,
    error: Option<io::Error>,
}

impl Recorder for Recording {
    fn record(&mut self, input: &Input) {
        if self.error.is_some() {
            return;
        }
        let r = serde_json::to_writer(&mut self.out, input)
            .map_err(io::Error::other)
            .and_then(|()| self.out.write_all(b"\n"));
        if let Err(e) = r {
            self.error = Some(e);
        }
    }

    fn finish(&mut self) -> io::Result<()> {
        let flushed = self.out.flush();
        self.error.take().map_or(flushed, Err)
    }
}

/// A pipeline that also records what its model takes (`--record`).
///
/// # Errors
/// The file cannot be created.
pub fn pipeline(record: Option<&Path>) -> Result<Pipeline> {
    let recorder: Option<Box<dyn Recorder>> = match record {
        Some(p) => Some(Box::new(Recording {
            out: io::BufWriter::new(
                std::fs::File::create(p)
                    .with_context(|| format!("cannot create {}", p.display()))?,
            ),
            error: None,
        })),
        None => None,
    };
    Ok(Pipeline::recording(recorder))
}

/// Flushes the pipeline's recording, if any.
///
/// # Errors
/// Writing it failed (at any point of the run).
pub fn close_recording(pipeline: &mut Pipeline, record: Option<&Path>) -> Result<()> {
    pipeline.finish_recording().with_context(|| {
        format!(
            "writing {}",
            record.map_or_else(|| "the recording".into(), |p| p.display().to_string())
        )
    })
}

/// Replays a recording through a model: the events the run showed.
///
/// # Errors
/// The file cannot be read, or a line is not an input (with its number).
pub fn replay(path: &Path) -> Result<Vec<Event>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut inputs = Vec::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let input: Input = serde_json::from_str(line)
            .with_context(|| format!("{}:{}: not a recorded input", path.display(), i + 1))?;
        inputs.push(input);
    }
    Ok(crate::model::pipeline::replay(inputs))
}

/// The time before which every source has reported.
#[must_use]
pub fn settled() -> Timestamp {
    let hold_ns = u64::try_from(HOLD.as_nanos()).unwrap_or(u64::MAX);
    Timestamp(Timestamp::now().0.saturating_sub(hold_ns))
}

/// Reads a capture file to the end through the model; no reordering (a file
/// is in its own order).
///
/// # Errors
/// The file cannot be opened or is corrupt; the view fails.
pub fn read_file(
    path: &Path,
    keep_bytes: bool,
    record: Option<&Path>,
    view: &mut dyn View,
) -> Result<Ending> {
    let mut file = FileCapture::open(path)?;
    // Nothing after opening the file needs privilege.
    privilege::drop_privileges()?;
    let mut pipeline = pipeline(record)?;
    loop {
        let frame = match file.next_frame() {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                // What was read so far is shown; the damage is reported and ends the run.
                return Err(anyhow::Error::new(e).context(format!(
                    "reading {} stopped after {} packets",
                    path.display(),
                    pipeline.packets()
                )));
            }
        };
        let Some(input) = frame_input(&frame, keep_bytes) else {
            continue;
        };
        pipeline.push(input);
        let events = pipeline.drain(None);
        if let Some(end) = view.show(events)? {
            return Ok(end);
        }
    }
    let end = view.show(pipeline.finish())?.unwrap_or(Ending::Done);
    close_recording(&mut pipeline, record)?;
    Ok(end)
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")
}

/// Inputs fed to the model between two writes of the headless loop: enough
/// for few system calls, few enough to keep the events made in between small.
pub(crate) const DRAIN_SLICE: usize = 1024;

/// The headless loop: inputs until the sources end, the deadline passes, the
/// view has enough, or Ctrl-C.
async fn pump(
    rx: &mut mpsc::UnboundedReceiver<Msg>,
    backlog: &Backlog,
    view: &mut dyn View,
    deadline: Option<tokio::time::Instant>,
    pipeline: &mut Pipeline,
) -> Result<(Ending, Option<String>)> {
    // Takes a message's inputs into the pipeline; true when the run is over.
    let take = |msg: Msg, pipeline: &mut Pipeline, lab_error: &mut Option<String>| match msg {
        Msg::Inputs { inputs, .. } => {
            backlog.taken(inputs.len());
            pipeline.push_all(inputs);
            false
        }
        Msg::LabDone { error, .. } | Msg::SourceDone { error, .. } => {
            *lab_error = error;
            true
        }
        // Headless views show each step as its rows come.
        Msg::Ui(_) | Msg::TerminalGone | Msg::StepBegan { .. } => false,
    };
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    // SIGTERM ends the run as Ctrl-C does: what was captured is written out.
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("listening for SIGTERM")?;
    let mut lab_error = None;
    let ending = loop {
        tokio::select! {
            msg = rx.recv() => match msg {
                Some(msg) => {
                    if take(msg, pipeline, &mut lab_error) {
                        break Ending::Done;
                    }
                    // What else is waiting goes in the same batch: one drain,
                    // one write for all of it.
                    let mut over = false;
                    for _ in 0..64 {
                        match rx.try_recv() {
                            Ok(msg) => over |= take(msg, pipeline, &mut lab_error),
                            Err(_) => break,
                        }
                    }
                    if over {
                        break Ending::Done;
                    }
                }
                None => break Ending::Done,
            },
            _ = tick.tick() => {
                if deadline.is_some_and(|d| tokio::time::Instant::now() >= d) {
                    break Ending::Done;
                }
            }
            _ = &mut ctrl_c => break Ending::Interrupted,
            _ = term.recv() => break Ending::Interrupted,
        }
        let until = settled();
        loop {
            let (events, more) = pipeline.drain_some(until, DRAIN_SLICE);
            if let Some(end) = view.show(events)? {
                return Ok((end, lab_error));
            }
            if !more {
                break;
            }
        }
        // Under a flood a message is always ready, and the runtime would
        // never get to its timers and signals: the deadline is checked here,
        // and the loop lets the runtime poll them (Ctrl-C, SIGTERM) each turn.
        if deadline.is_some_and(|d| tokio::time::Instant::now() >= d) {
            break Ending::Done;
        }
        tokio::task::yield_now().await;
    };
    // Whatever arrived is shown, in order.
    while let Ok(msg) = rx.try_recv() {
        take(msg, pipeline, &mut lab_error);
    }
    if let Some(end) = view.show(pipeline.finish())? {
        return Ok((end, lab_error));
    }
    Ok((ending, lab_error))
}

/// `synack watch`, headless. `announce` is told once every source runs.
///
/// # Errors
/// The capture cannot be opened (with what to do), or the output fails.
pub fn watch(
    setup: &WatchSetup,
    record: Option<&Path>,
    view: &mut dyn View,
    announce: impl FnOnce(Dropped),
) -> Result<Ending> {
    let mut pipeline = pipeline(record)?;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let backlog = Backlog::default();
    let mut session = Session::watch(0, setup, false, &tx, &backlog)?;
    drop(tx);
    announce(session.dropped);
    let rt = runtime()?;
    let deadline = setup
        .duration
        .map(|s| tokio::time::Instant::now() + Duration::from_secs_f64(s));
    let ending =
        rt.block_on(async { pump(&mut rx, &backlog, view, deadline, &mut pipeline).await });
    session.stop();
    close_recording(&mut pipeline, record)?;
    ending.map(|(e, _)| e)
}

/// A human-readable summary of a watch filter (`tcp and udp, port 80`).
#[must_use]
pub fn describe_filter(f: &Filter) -> String {
    let mut parts = vec!["tcp and udp".to_owned()];
    if !f.ports.is_empty() {
        let p: Vec<String> = f.ports.iter().map(u16::to_string).collect();
        parts.push(format!("port {}", p.join(" or ")));
    }
    if !f.hosts.is_empty() {
        let h: Vec<String> = f.hosts.iter().map(ToString::to_string).collect();
        parts.push(format!("host {}", h.join(" or ")));
    }
    parts.join(", ")
}

/// `synack demo`, headless: plays the script in a clean lab and stops when it
/// ends or on Ctrl-C. With `setup.step`, each line on stdin runs one step.
///
/// # Errors
/// Capture cannot start; a peer cannot start; the output fails.
pub fn demo(
    script: &Script,
    setup: &DemoSetup,
    record: Option<&Path>,
    view: &mut dyn View,
) -> Result<Ending> {
    let mut pipeline = pipeline(record)?;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let backlog = Backlog::default();
    // A recording keeps the packets' bytes: the screen's details view replays them.
    let keep_bytes = record.is_some();
    let (mut session, control) = Session::demo(0, script, setup, false, keep_bytes, &tx, &backlog)?;
    drop(tx);
    if setup.step {
        // Enter runs the next step; the thread ends with stdin or the lab.
        std::thread::spawn(move || {
            let mut line = String::new();
            while io::stdin().read_line(&mut line).is_ok_and(|n| n > 0) {
                line.clear();
                if control.send(LabControl::Next).is_err() {
                    break;
                }
            }
        });
    } else {
        drop(control);
    }
    let rt = runtime()?;
    let result = rt.block_on(async { pump(&mut rx, &backlog, view, None, &mut pipeline).await });
    session.stop();
    close_recording(&mut pipeline, record)?;
    let (ending, lab_error) = result?;
    if let Some(e) = lab_error {
        return Err(anyhow::anyhow!(e)).context("the lab stopped");
    }
    Ok(ending)
}
