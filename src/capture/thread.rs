//! A live capture on its own thread: frames are handed to a callback in
//! batches of bytes ([`Frames`]), parsed by whoever takes them ([`parse`]);
//! pnet's types never leave.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::{CaptureError, Frame, Frames, LiveCapture, PcapWriter};
use crate::tcp::parse::parse_frame;
use crate::tcp::{Malformed, RawFrame, Segment};
use crate::time::Timestamp;

/// A frame, parsed.
#[derive(Clone, Debug)]
pub enum Captured {
    /// A TCP or UDP packet, with its bytes when they were asked for.
    /// (Boxed: a packet crosses threads, the reorder window and the
    /// merge's hold; the box moves, the segment is never copied.)
    Segment {
        seg: Box<Segment>,
        raw: Option<RawFrame>,
    },
    /// A frame that could not be read at all.
    Rejected { ts: Timestamp, why: Malformed },
}

/// What the capture thread reports at once.
#[derive(Debug, Default)]
pub struct Batch {
    /// Frames the kernel handed over together, not parsed yet.
    pub frames: Frames,
    /// Kernel drops, a failed write, the capture stopping: when, and what.
    pub warnings: Vec<(Timestamp, String)>,
}

impl Batch {
    fn new(keep_bytes: bool) -> Self {
        Self {
            frames: Frames::with_capacity(BATCH, BYTES_EACH, keep_bytes),
            warnings: Vec::new(),
        }
    }

    fn is_empty(&self) -> bool {
        self.frames.is_empty() && self.warnings.is_empty()
    }
}

/// Parses one frame the way every source does: `None` for frames that carry
/// neither TCP nor UDP.
#[must_use]
pub fn parse(frame: &Frame<'_>, keep_bytes: bool) -> Option<Captured> {
    match parse_frame(frame.link, frame.ts, frame.data, frame.orig_len) {
        Ok(Some(seg)) => Some(Captured::Segment {
            seg: Box::new(seg),
            raw: keep_bytes.then(|| RawFrame {
                link: frame.link,
                bytes: frame.data.into(),
            }),
        }),
        Ok(None) => None,
        Err(why) => Some(Captured::Rejected { ts: frame.ts, why }),
    }
}

/// The capture thread; stopped (and joined) on drop.
pub struct CaptureThread {
    stop: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl CaptureThread {
    /// Starts reading an interface that is already open. `report` gets the
    /// packets in batches (those the kernel handed over together); when it
    /// returns false the thread stops.
    ///
    /// # Errors
    /// The thread cannot start.
    pub fn start(
        mut cap: LiveCapture,
        mut writer: Option<PcapWriter>,
        keep_bytes: bool,
        report: impl FnMut(Batch) -> bool + Send + 'static,
    ) -> Result<Self, CaptureError> {
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = Arc::clone(&stop);
        let handle = std::thread::Builder::new()
            .name("capture".into())
            .spawn(move || capture_loop(&mut cap, writer.as_mut(), keep_bytes, report, &stop2))
            .map_err(|source| CaptureError::Setup {
                iface: "capture thread".into(),
                what: "starting the thread",
                source,
            })?;
        Ok(Self {
            stop,
            handle: Some(handle),
        })
    }

    /// Tells the thread to stop after its current read, without waiting:
    /// a run that stops several sources asks them all first, then waits for
    /// each ([`CaptureThread::stop`]), so their waits overlap.
    pub fn request_stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Stops the thread after its current read (at most one read timeout).
    pub fn stop(&mut self) {
        self.request_stop();
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

/// Frames handed over together are reported together (one message per
/// ring block, not per packet), at most this many at a time.
const BATCH: usize = 512;

/// Bytes a batch makes room for per frame: a loopback flood's frames are
/// 66-80 bytes (headers with timestamps, no payload); bigger ones grow it.
const BYTES_EACH: usize = 80;

fn capture_loop(
    cap: &mut LiveCapture,
    mut writer: Option<&mut PcapWriter>,
    keep_bytes: bool,
    mut report: impl FnMut(Batch) -> bool,
    stop: &AtomicBool,
) {
    let stats = |cap: &mut LiveCapture, batch: &mut Batch| {
        let said = match cap.take_stats() {
            Ok(s) if s.dropped > 0 => format!(
                "the kernel dropped {} of {} packets (capture too slow or buffer too small)",
                s.dropped, s.received
            ),
            Ok(_) => return,
            Err(e) => format!("cannot read capture statistics: {e}"),
        };
        batch.warnings.push((Timestamp::now(), said));
    };
    let mut batch = Batch::new(keep_bytes);
    let mut last_stats = Instant::now();
    let mut wait = false;
    // A batch is sent full, or when the kernel has nothing more for now.
    let send = |batch: &mut Batch, report: &mut dyn FnMut(Batch) -> bool| {
        let mut full = std::mem::replace(batch, Batch::new(keep_bytes));
        full.frames.trim();
        report(full)
    };
    while !stop.load(Ordering::Relaxed) {
        if last_stats.elapsed() >= Duration::from_secs(1) {
            last_stats = Instant::now();
            stats(cap, &mut batch);
        }
        // Everything the kernel has handed over, then one wait.
        let frame = if wait {
            cap.next_frame()
        } else {
            cap.try_frame()
        };
        let frame = match frame {
            Ok(Some(f)) => Some(f),
            Ok(None) => None,
            Err(e) => {
                batch
                    .warnings
                    .push((Timestamp::now(), format!("capture stopped: {e}")));
                let _ = send(&mut batch, &mut report);
                return;
            }
        };
        match frame {
            Some(frame) => {
                wait = false;
                if let Some(w) = writer.as_deref_mut() {
                    if let Err(e) = w.write(&frame) {
                        writer = None;
                        batch.warnings.push((
                            Timestamp::now(),
                            format!("writing the capture file failed: {e}"),
                        ));
                    }
                }
                batch.frames.push(&frame);
            }
            None => wait = true,
        }
        if (wait || batch.frames.len() >= BATCH)
            && !batch.is_empty()
            && !send(&mut batch, &mut report)
        {
            return;
        }
    }
    stats(cap, &mut batch);
    if let Some(w) = writer {
        if let Err(e) = w.flush() {
            batch.warnings.push((
                Timestamp::now(),
                format!("writing the capture file failed: {e}"),
            ));
        }
    }
    if !batch.is_empty() {
        let _ = send(&mut batch, &mut report);
    }
}
