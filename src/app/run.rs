//! The run loop: sources on their own threads feed one channel; inputs wait
//! in the reorder buffer, go through the model in timestamp order, and the
//! resulting events reach the headless writer.

use std::io::{self, Write};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::sync::mpsc;

use crate::app::model::{Input, Model};
use crate::app::reorder::Reorder;
use crate::app::states::{KernelMode, ListenCounters};
use crate::app::{Event, EventSink};
use crate::capture::{self, FileCapture, Filter, LiveCapture, PcapWriter};
use crate::cli::{OutputMode, WatchArgs};
use crate::kernel::diag::DiagSocket;
use crate::kernel::trace::StateTracer;
use crate::output::Writer;
use crate::tcp::parse::parse_frame;
use crate::time::Timestamp;

/// How long inputs wait so that late reports from other sources can be put
/// in front of them.
const HOLD: Duration = Duration::from_millis(150);
/// How often the loop wakes up without input (flushing held inputs).
const TICK: Duration = Duration::from_millis(50);

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

/// Where the writer's output goes and when to stop.
pub struct Sink<W: Write> {
    writer: Writer<W>,
    count: Option<u64>,
    shown_packets: u64,
}

impl<W: Write> Sink<W> {
    pub fn new(mode: OutputMode, out: W, count: Option<u64>) -> Self {
        Self {
            writer: Writer::new(mode, out),
            count,
            shown_packets: 0,
        }
    }

    /// Writes an event. `Ok(false)` once `--count` packets have been shown.
    fn emit(&mut self, ev: &Event) -> io::Result<bool> {
        if self.count.is_some_and(|c| self.shown_packets >= c) {
            return Ok(false);
        }
        self.writer.write(ev)?;
        if matches!(ev, Event::Packet(_)) {
            self.shown_packets += 1;
        }
        Ok(self.count.is_none_or(|c| self.shown_packets < c))
    }
}

/// Feeds held inputs older than `until` through the model into the sink.
fn drain<W: Write>(
    reorder: &mut Reorder,
    model: &mut Model,
    sink: &mut Sink<W>,
    until: Option<Timestamp>,
    buf: &mut Vec<Event>,
) -> io::Result<bool> {
    loop {
        let next = match until {
            Some(u) => reorder.pop_until(u),
            None => reorder.pop(),
        };
        let Some(input) = next else { return Ok(true) };
        buf.clear();
        model.ingest(input, buf);
        for ev in buf.iter() {
            if !sink.emit(ev)? {
                return Ok(false);
            }
        }
    }
}

fn output_result(r: io::Result<bool>) -> Result<Option<Ending>> {
    match r {
        Ok(true) => Ok(None),
        Ok(false) => Ok(Some(Ending::Done)),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(Some(Ending::OutputClosed)),
        Err(e) => Err(e).context("writing the output"),
    }
}

/// Reads a capture file to the end; no reordering (a file is in its own order).
///
/// # Errors
/// The file cannot be opened or is corrupt; the output cannot be written.
pub fn read_file<W: Write>(path: &Path, mut sink: Sink<W>) -> Result<Ending> {
    let mut file = FileCapture::open(path)?;
    let mut model = Model::new();
    let mut buf = Vec::new();
    loop {
        let frame = match file.next_frame() {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                // What was read so far is shown; the damage is reported and ends the run.
                return Err(anyhow::Error::new(e).context(format!(
                    "reading {} stopped after {} packets",
                    path.display(),
                    model.packets
                )));
            }
        };
        let input = match parse_frame(frame.link, frame.ts, frame.data, frame.orig_len) {
            Ok(Some(seg)) => Input::Segment(seg),
            Ok(None) => continue,
            Err(why) => Input::Rejected { ts: frame.ts, why },
        };
        buf.clear();
        model.ingest(input, &mut buf);
        for ev in &buf {
            match output_result(sink.emit(ev))? {
                None => {}
                Some(end) => return Ok(end),
            }
        }
    }
    Ok(output_result(finish(&mut model, &mut sink, &mut buf))?.unwrap_or(Ending::Done))
}

/// A live capture on its own thread, parsing at the edge and sending inputs.
pub struct CaptureThread {
    stop: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl CaptureThread {
    /// Starts capturing on an interface that is already open.
    ///
    /// # Errors
    /// The pcap file for `--write` cannot be created.
    pub fn start(
        mut cap: LiveCapture,
        write: Option<&Path>,
        tx: mpsc::UnboundedSender<Input>,
    ) -> Result<Self> {
        let mut writer = match write {
            Some(p) => Some(
                PcapWriter::create(p, capture::DEFAULT_SNAPLEN)
                    .with_context(|| format!("creating {}", p.display()))?,
            ),
            None => None,
        };
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = Arc::clone(&stop);
        let handle = std::thread::Builder::new()
            .name("capture".into())
            .spawn(move || capture_loop(&mut cap, writer.as_mut(), &tx, &stop2))
            .context("starting the capture thread")?;
        Ok(Self {
            stop,
            handle: Some(handle),
        })
    }

    /// Stops the thread after its current read (at most one read timeout).
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

impl Drop for CaptureThread {
    fn drop(&mut self) {
        self.stop();
    }
}

fn warn(tx: &mpsc::UnboundedSender<Input>, message: String) {
    let _ = tx.send(Input::Event(Event::Warning {
        ts: Timestamp::now(),
        message,
    }));
}

fn capture_loop(
    cap: &mut LiveCapture,
    mut writer: Option<&mut PcapWriter>,
    tx: &mpsc::UnboundedSender<Input>,
    stop: &AtomicBool,
) {
    let mut last_stats = std::time::Instant::now();
    let report_stats = |cap: &mut LiveCapture| match cap.take_stats() {
        Ok(s) if s.dropped > 0 => warn(
            tx,
            format!(
                "the kernel dropped {} of {} packets (capture too slow or buffer too small)",
                s.dropped, s.received
            ),
        ),
        Ok(_) => {}
        Err(e) => warn(tx, format!("cannot read capture statistics: {e}")),
    };
    while !stop.load(Ordering::Relaxed) {
        if last_stats.elapsed() >= Duration::from_secs(1) {
            last_stats = std::time::Instant::now();
            report_stats(cap);
        }
        let frame = match cap.next_frame() {
            Ok(Some(f)) => f,
            Ok(None) => continue,
            Err(e) => {
                warn(tx, format!("capture stopped: {e}"));
                return;
            }
        };
        if let Some(w) = writer.as_deref_mut() {
            if let Err(e) = w.write(&frame) {
                warn(tx, format!("writing the capture file failed: {e}"));
                writer = None;
            }
        }
        let input = match parse_frame(frame.link, frame.ts, frame.data, frame.orig_len) {
            Ok(Some(seg)) => Input::Segment(seg),
            Ok(None) => continue,
            Err(why) => Input::Rejected { ts: frame.ts, why },
        };
        if tx.send(input).is_err() {
            return;
        }
    }
    report_stats(cap);
    if let Some(w) = writer {
        if let Err(e) = w.flush() {
            warn(tx, format!("writing the capture file failed: {e}"));
        }
    }
}

/// The shared loop: takes inputs until the sources end, the deadline passes,
/// the sink has enough, or Ctrl-C.
async fn pump<W: Write>(
    rx: &mut mpsc::UnboundedReceiver<Input>,
    sink: &mut Sink<W>,
    model: &mut Model,
    deadline: Option<tokio::time::Instant>,
    finished: &AtomicBool,
) -> Result<Ending> {
    let mut reorder = Reorder::default();
    let mut buf = Vec::new();
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let hold_ns = u64::try_from(HOLD.as_nanos()).unwrap_or(u64::MAX);
    let ending = loop {
        tokio::select! {
            input = rx.recv() => match input {
                Some(i) => reorder.push(i),
                None => break Ending::Done,
            },
            _ = tick.tick() => {
                if deadline.is_some_and(|d| tokio::time::Instant::now() >= d) {
                    break Ending::Done;
                }
                if finished.load(Ordering::Relaxed) {
                    // Let the capture catch the last packets before stopping.
                    break Ending::Done;
                }
            }
            _ = &mut ctrl_c => break Ending::Interrupted,
        }
        let until = Timestamp(Timestamp::now().0.saturating_sub(hold_ns));
        if let Some(end) = output_result(drain(&mut reorder, model, sink, Some(until), &mut buf))? {
            return Ok(end);
        }
    };
    // Whatever arrived is shown, in order.
    while let Ok(i) = rx.try_recv() {
        reorder.push(i);
    }
    if let Some(end) = output_result(drain(&mut reorder, model, sink, None, &mut buf))? {
        return Ok(end);
    }
    if let Some(end) = output_result(finish(model, sink, &mut buf))? {
        return Ok(end);
    }
    Ok(ending)
}

/// Writes what the model still holds.
fn finish<W: Write>(
    model: &mut Model,
    sink: &mut Sink<W>,
    buf: &mut Vec<Event>,
) -> io::Result<bool> {
    buf.clear();
    model.finish(buf);
    for ev in buf.iter() {
        if !sink.emit(ev)? {
            return Ok(false);
        }
    }
    Ok(true)
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")
}

/// `synack watch`.
///
/// # Errors
/// The capture cannot be opened (with what to do), or the output fails.
pub fn watch<W: Write>(args: &WatchArgs, mut sink: Sink<W>) -> Result<Ending> {
    let filter = Filter {
        ports: args.port.clone(),
        hosts: args.host.clone(),
    };
    let cap = LiveCapture::open(&args.iface, &filter, capture::DEFAULT_SNAPLEN)?;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut kernel = KernelThread::start(args.port.clone(), &args.port, &tx);
    let mut thread = CaptureThread::start(cap, args.write.as_deref(), tx)?;
    // Said once every source runs: what happens from now on is seen whole.
    eprintln!(
        "synack: capturing on {} ({}); Ctrl-C to stop",
        args.iface,
        describe_filter(&filter)
    );
    let rt = runtime()?;
    let deadline = args
        .duration
        .map(|s| tokio::time::Instant::now() + Duration::from_secs_f64(s));
    let finished = AtomicBool::new(false);
    let mut model = Model::new();
    let ending =
        rt.block_on(async { pump(&mut rx, &mut sink, &mut model, deadline, &finished).await });
    thread.stop();
    kernel.stop();
    ending
}

/// Lets the lab's events into the input channel.
#[must_use]
pub fn forward_events(
    tx: mpsc::UnboundedSender<Input>,
) -> (EventSink, std::thread::JoinHandle<()>) {
    let (etx, mut erx) = mpsc::unbounded_channel::<Event>();
    let h = std::thread::spawn(move || {
        while let Some(ev) = erx.blocking_recv() {
            if tx.send(Input::Event(ev)).is_err() {
                break;
            }
        }
    });
    (etx, h)
}

/// What `synack demo` needs to know besides the script.
pub struct DemoSetup {
    pub ipv6: bool,
    pub step: bool,
    pub port: u16,
}

/// `synack demo`: the lab's namespace must already be entered (before any
/// thread existed). Captures the lab's `lo`, plays the script, and stops when
/// it ends or on Ctrl-C.
///
/// # Errors
/// Capture cannot start; a peer cannot start; the output fails.
pub fn demo<W: Write>(
    script: &crate::lab::Script,
    setup: &DemoSetup,
    mut sink: Sink<W>,
) -> Result<Ending> {
    let cap = LiveCapture::open("lo", &Filter::default(), capture::DEFAULT_SNAPLEN)
        .context("capturing the lab's loopback")?;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut thread = CaptureThread::start(cap, None, tx.clone())?;
    // The lab's namespace holds only the lab's sockets: poll them all; the
    // tracepoint sees every namespace, so it is narrowed to the lab's ports.
    let trace_ports: Vec<u16> = (0..10).map(|i| setup.port.saturating_add(i)).collect();
    let mut kernel = KernelThread::start(Vec::new(), &trace_ports, &tx);
    let (events, forwarder) = forward_events(tx);
    let cancel = Arc::new(AtomicBool::new(false));
    let finished = Arc::new(AtomicBool::new(false));
    let step = if setup.step {
        let (go, wait) = std::sync::mpsc::channel();
        eprintln!("synack: --step: press Enter for each step");
        std::thread::spawn(move || {
            let stdin = io::stdin();
            let mut line = String::new();
            while stdin.read_line(&mut line).is_ok_and(|n| n > 0) {
                line.clear();
                if go.send(()).is_err() {
                    break;
                }
            }
        });
        Some(wait)
    } else {
        None
    };
    let opts = crate::lab::LabOptions {
        ipv6: setup.ipv6,
        port: setup.port,
        step,
        cancel: Arc::clone(&cancel),
    };
    let lab = {
        let script = script.clone();
        let finished = Arc::clone(&finished);
        std::thread::Builder::new()
            .name("lab".into())
            .spawn(move || {
                let r = crate::lab::run(&script, opts, events);
                finished.store(true, Ordering::Relaxed);
                r
            })
            .context("starting the lab thread")?
    };
    let rt = runtime()?;
    let mut model = Model::new();
    let ending = rt.block_on(async { pump(&mut rx, &mut sink, &mut model, None, &finished).await });
    cancel.store(true, Ordering::Relaxed);
    let lab_result = lab
        .join()
        .map_err(|_| anyhow::anyhow!("the lab thread panicked"))?;
    thread.stop();
    kernel.stop();
    drop(forwarder);
    lab_result.context("the lab stopped")?;
    ending
}

fn describe_filter(f: &Filter) -> String {
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

/// How often the kernel's socket table is read (the issue asks for ≥ 20/s).
const POLL: Duration = Duration::from_millis(20);

/// The kernel's view: sock_diag polls on a thread, and the tracepoint where
/// synack runs as root.
pub struct KernelThread {
    stop: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
    tracer: Option<StateTracer>,
}

impl KernelThread {
    /// Starts polling sockets on `ports` (all when empty) and tracing
    /// transitions on `trace_ports`. What is unavailable is reported once as
    /// a warning; the run goes on with what remains.
    #[must_use]
    pub fn start(ports: Vec<u16>, trace_ports: &[u16], tx: &mpsc::UnboundedSender<Input>) -> Self {
        let ttx = tx.clone();
        let tracer = match StateTracer::start(trace_ports, move |t| {
            let _ = ttx.send(Input::Transition(t));
        }) {
            Ok(t) => Some(t),
            Err(e) => {
                warn(tx, format!("exact state transitions unavailable: {e}"));
                None
            }
        };
        let stop = Arc::new(AtomicBool::new(false));
        let diag = match DiagSocket::open() {
            Ok(d) => Some(d),
            Err(e) => {
                warn(tx, format!("kernel socket states unavailable: {e}"));
                None
            }
        };
        let mode = match (&diag, &tracer) {
            (None, _) => KernelMode::None,
            (Some(_), None) => KernelMode::PollOnly,
            (Some(_), Some(_)) => KernelMode::Exact,
        };
        let _ = tx.send(Input::KernelMode {
            ts: Timestamp::now(),
            mode,
        });
        let handle = diag.and_then(|mut diag| {
            let stop = Arc::clone(&stop);
            let tx = tx.clone();
            std::thread::Builder::new()
                .name("kernel".into())
                .spawn(move || {
                    let mut socks = Vec::new();
                    let mut counters_ok = true;
                    while !stop.load(Ordering::Relaxed) {
                        if let Err(e) = diag.dump(&ports, &mut socks) {
                            warn(
                                &tx,
                                format!("reading the kernel's socket table failed: {e}"),
                            );
                            return;
                        }
                        let ts = Timestamp::now();
                        let counters = if counters_ok {
                            match crate::kernel::netstat::listen_counters() {
                                Ok((overflows, drops)) => Some(ListenCounters { overflows, drops }),
                                Err(e) => {
                                    counters_ok = false;
                                    warn(&tx, format!("listen overflow counters unavailable: {e}"));
                                    None
                                }
                            }
                        } else {
                            None
                        };
                        let snapshot = Input::Snapshot {
                            ts,
                            socks: socks.clone(),
                            counters,
                        };
                        if tx.send(snapshot).is_err() {
                            return;
                        }
                        std::thread::sleep(POLL);
                    }
                })
                .ok()
        });
        Self {
            stop,
            handle,
            tracer,
        }
    }

    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
        self.tracer = None;
    }
}

impl Drop for KernelThread {
    fn drop(&mut self) {
        self.stop();
    }
}
