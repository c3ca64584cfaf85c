//! A run's sources: the capture thread, the kernel's threads and the lab's
//! thread, started together for a `watch` or a `demo` and stopped together.
//! Each reports through the funnel ([`Funnel`]); none knows the model or a
//! view.

use std::path::{Path, PathBuf};
use std::sync::{Arc, mpsc as std_mpsc};

use anyhow::{Context, Result};

use super::{Backlog, DemoSetup, Funnel, Msg, WatchSetup};
use crate::capture::{self, CaptureThread, Captured, Filter, LiveCapture, PcapWriter};
use crate::event::{Event, EventSink};
use crate::kernel::poll::Table;
use crate::kernel::{KernelPoller, KernelReport};
use crate::lab::{LabControl, LabError, LabOptions, Script};
use crate::model::{Input, KernelMode};
use crate::privilege::{self, Dropped, Invoker, Replace, create_output};
use crate::time::Timestamp;

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

pub(super) fn captured_input(c: Captured) -> Input {
    match c {
        Captured::Segment { seg, raw } => Input::Segment { seg, raw },
        Captured::Rejected { ts, why } => Input::Rejected { ts, why },
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
        KernelReport::Resets(rs) => rs.into_iter().map(Input::Reset).collect(),
        KernelReport::Congestion(cs) => cs
            .into_iter()
            .map(|c| Input::Event(Event::Congestion(Box::new(c))))
            .collect(),
        KernelReport::Drops(ds) => ds.into_iter().map(Input::Drop).collect(),
        KernelReport::Retransmits(rs) => rs.into_iter().map(Input::Retransmit).collect(),
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
    table: Table,
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
    let poller = KernelPoller::start(ports, trace_ports, &report, Arc::clone(activity), table);
    let now = Timestamp::now();
    let mode = Input::KernelMode {
        ts: now,
        mode: poller.mode(),
    };
    let traces = Input::Traces {
        ts: now,
        traces: poller.traces(),
    };
    backlog.send(tx, run, vec![mode, traces]);
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
        let capture::Batch { frames, warnings } = batch;
        // Packets: the kernel's table is worth reading again soon.
        if !frames.is_empty() {
            activity.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        // What the capture says of itself (kernel drops, a failed write)
        // always goes.
        let mut told: Vec<Input> = warnings
            .into_iter()
            .map(|(ts, message)| Input::Event(Event::Warning { ts, message }))
            .collect();
        if cb.full() {
            // Packets wait no more. The first skip is told at once: the run
            // may end before the loop catches up, and the count with it.
            if skipped == 0 && !frames.is_empty() {
                told.push(Input::Event(Event::Warning {
                    ts: Timestamp::now(),
                    message: "synack fell behind and skipped packets from here on (the output \
                              or the screen was too slow to keep up); how many, once it catches up"
                        .into(),
                }));
            }
            skipped += frames.len() as u64;
            return if told.is_empty() {
                !ctx.is_closed()
            } else {
                cb.send(&ctx, run, told)
            };
        }
        if skipped > 0 {
            let message = format!(
                "synack fell behind and skipped {skipped} packets (the output or the screen was too slow to keep up)"
            );
            told.push(Input::Event(Event::Warning {
                ts: Timestamp::now(),
                message,
            }));
            skipped = 0;
        }
        (told.is_empty() || cb.send(&ctx, run, told))
            && (frames.is_empty() || cb.send_frames(&ctx, run, frames))
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
            Table::Host,
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
        let kernel = start_kernel(
            run,
            Vec::new(),
            &trace_ports,
            tx,
            backlog,
            &activity,
            Table::Lab,
        );
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
                    step: (**step).clone(),
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

    /// Plays a recording's events (`synack replay`) on a thread that takes
    /// the lab's place: the same controls, the steps gated the same way.
    ///
    /// # Errors
    /// The thread cannot start.
    pub fn replay(
        run: u64,
        events: Vec<Event>,
        play: super::player::Play,
        kernel_mode: KernelMode,
        tx: &Funnel,
    ) -> Result<(Self, std_mpsc::Sender<LabControl>)> {
        let (control, control_rx) = std_mpsc::channel();
        let tx = tx.clone();
        let thread = std::thread::Builder::new()
            .name("replay".into())
            .spawn(move || super::player::play(run, events, &play, control_rx, &tx))
            .context("starting the replay's thread")?;
        let session = Self {
            run,
            kernel_mode,
            dropped: Dropped::Nothing,
            capture: None,
            kernel: None,
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
        // Every thread is told first, then each is waited for: their
        // waits overlap instead of adding up.
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
