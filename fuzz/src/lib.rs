//! A small mutation fuzzer for synack's parsers of untrusted bytes, built on
//! stable Rust with no extra dependencies (no nightly, no libFuzzer).
//!
//! Each [`Target`] feeds bytes to one parser (frames of every link type,
//! pcap/pcapng files, scenario scripts, sock_diag answers, tracepoint pages
//! and format files). [`run`] starts from the target's seeds (real inputs from
//! the repository and hand-built records), mutates them, runs the parser under
//! `catch_unwind` and keeps an input as a new parent when the parser's answer
//! looks different from every answer seen before (a cheap stand-in for
//! coverage feedback). A panic, an allocation above [`ALLOC_LIMIT`] or an
//! execution that runs longer than the hang limit is a finding: the input is
//! saved under the crash directory as `TARGET-<hash>.bin`.
//!
//! Used by `fuzz/examples/fuzz.rs` (long runs) and `fuzz/tests/fuzz.rs` (a
//! short run of every target under `cargo test`). A crate of its own, a member
//! of synack's workspace, so that the `synack` library does not ship it; it
//! reaches the parsers through synack's public modules.

// Hand-built sock_diag answers and tracepoint records, seeds here and the
// library's unit tests' inputs (one copy, in tests/common).
#[path = "../../tests/common/kernel_bytes.rs"]
mod kernel_bytes;
mod mutate;
// The pseudo-random source the tests use too (one copy, in tests/common).
#[path = "../../tests/common/rng.rs"]
mod rng;
mod targets;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::RefCell;
use std::collections::HashSet;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, Once};
use std::time::{Duration, Instant};

pub use mutate::mutate;
pub use rng::Rng;
pub use targets::{TARGETS, target};

/// Bytes one execution may have allocated at its peak (with
/// [`CountingAlloc`] installed) before it counts as a finding: every input is
/// at most 64 KiB, so more than this means a length field was believed.
pub const ALLOC_LIMIT: usize = 16 << 20;

/// A length field in an input: (offset, width in bytes, big-endian).
pub type LengthField = (usize, usize, bool);
/// Finds the length fields of an input.
pub type LengthFields = fn(&[u8]) -> Vec<LengthField>;

/// One parser under test.
pub struct Target {
    pub name: &'static str,
    pub about: &'static str,
    /// Runs the parser; returns a summary of its answer (kind of result,
    /// number of records…) that steers which inputs are kept as parents.
    pub run: fn(&[u8]) -> u64,
    /// Starting inputs.
    pub seeds: fn() -> Vec<Vec<u8>>,
    /// Tokens worth inserting (keywords, magic numbers).
    pub dictionary: &'static [&'static [u8]],
    /// Where the input keeps length fields worth setting to absurd values:
    /// (offset, width in bytes, big-endian).
    pub length_fields: Option<LengthFields>,
}

/// How long a run is and where its findings go.
#[derive(Clone, Debug)]
pub struct Options {
    pub execs: u64,
    pub seed: u64,
    /// Inputs are cut to this many bytes.
    pub max_len: usize,
    /// Extra starting inputs: every file in this directory, if it exists.
    pub corpus_dir: Option<PathBuf>,
    /// Where findings are written; `None` keeps them in memory only.
    pub crash_dir: Option<PathBuf>,
    /// Stop at the first finding.
    pub stop_on_crash: bool,
    /// An execution longer than this is a hang: its input is saved and the
    /// process exits with status 3 (a parser in a loop cannot be interrupted).
    pub hang_after: Duration,
    /// Print progress to stderr every few seconds.
    pub progress: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            execs: 10_000,
            seed: 1,
            max_len: 64 * 1024,
            corpus_dir: None,
            crash_dir: None,
            stop_on_crash: false,
            hang_after: Duration::from_secs(10),
            progress: false,
        }
    }
}

/// One distinct finding (inputs that panic at the same place count once).
#[derive(Clone, Debug)]
pub struct Crash {
    /// The panic message and where it was raised, or the allocation size.
    pub message: String,
    pub input: Vec<u8>,
    pub saved: Option<PathBuf>,
}

/// What a run did.
#[derive(Clone, Debug)]
pub struct Report {
    pub target: &'static str,
    pub execs: u64,
    pub elapsed: Duration,
    /// Executions that panicked or allocated too much (all of them, not only
    /// the distinct ones).
    pub failed_execs: u64,
    pub crashes: Vec<Crash>,
    pub corpus_len: usize,
    /// Largest peak allocation of one execution, in bytes (0 without
    /// [`CountingAlloc`]).
    pub peak_alloc: usize,
}

impl Report {
    #[must_use]
    pub fn execs_per_sec(&self) -> f64 {
        self.execs as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// FNV-1a, for crash file names and de-duplication.
#[must_use]
pub fn hash(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

// ---- allocation accounting ----

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static COUNTING: AtomicBool = AtomicBool::new(false);
/// Requests above this are refused (the process aborts); the input is saved first.
const HARD_LIMIT: usize = 1 << 30;

/// A global allocator that counts live bytes and their peak, so a run can
/// tell an input that made a parser allocate from a length field. Install it
/// in the binary that fuzzes: `#[global_allocator] static A: CountingAlloc = CountingAlloc;`
pub struct CountingAlloc;

impl CountingAlloc {
    fn grew(size: usize) {
        let now = LIVE.fetch_add(size, Ordering::Relaxed) + size;
        PEAK.fetch_max(now, Ordering::Relaxed);
    }

    fn check(size: usize) {
        if size > HARD_LIMIT {
            save_current("alloc");
        }
    }
}

// SAFETY: every call is forwarded to `System` with the same arguments; the
// counters are plain atomics.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        Self::check(layout.size());
        // SAFETY: forwarded unchanged.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            Self::grew(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        Self::check(layout.size());
        // SAFETY: forwarded unchanged.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            Self::grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        Self::check(new_size);
        // SAFETY: forwarded unchanged.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            Self::grew(new_size);
        }
        p
    }
}

/// Bytes allocated at the peak since the last call, above what was live then.
fn take_peak(base: usize) -> usize {
    let peak = PEAK.swap(LIVE.load(Ordering::Relaxed), Ordering::Relaxed);
    peak.saturating_sub(base)
}

// ---- the input being executed, for the hang watchdog and the allocator ----

struct Current {
    target: &'static str,
    dir: Option<PathBuf>,
    input: Vec<u8>,
}

static CURRENT: Mutex<Option<Current>> = Mutex::new(None);
/// Milliseconds since `EPOCH` when the running execution began; 0 when idle.
static STARTED_MS: AtomicU64 = AtomicU64::new(0);
static HANG_MS: AtomicU64 = AtomicU64::new(10_000);
static EPOCH: Mutex<Option<Instant>> = Mutex::new(None);

fn now_ms() -> u64 {
    let mut epoch = EPOCH
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let start = *epoch.get_or_insert_with(Instant::now);
    start.elapsed().as_millis() as u64 + 1
}

/// Writes the input being executed to `DIR/TARGET-KIND-<hash>.bin` (used when
/// the process is about to end: a hang or a huge allocation).
fn save_current(kind: &str) {
    // `try_lock`: the allocator may be called while the loop holds the lock.
    let Ok(guard) = CURRENT.try_lock() else {
        return;
    };
    if let Some(cur) = guard.as_ref() {
        let saved = cur
            .dir
            .as_deref()
            .and_then(|dir| save(dir, &format!("{}-{kind}", cur.target), &cur.input));
        eprintln!(
            "fuzz {}: {kind} on a {}-byte input{}",
            cur.target,
            cur.input.len(),
            saved
                .map(|p| format!(", saved to {}", p.display()))
                .unwrap_or_default()
        );
    }
}

fn start_watchdog() {
    static WATCHDOG: Once = Once::new();
    WATCHDOG.call_once(|| {
        std::thread::spawn(|| {
            loop {
                std::thread::sleep(Duration::from_millis(250));
                let started = STARTED_MS.load(Ordering::Relaxed);
                if started != 0
                    && now_ms().saturating_sub(started) > HANG_MS.load(Ordering::Relaxed)
                {
                    save_current("hang");
                    eprintln!("fuzz: an execution ran too long: giving up");
                    std::process::exit(3);
                }
            }
        });
    });
}

// ---- panics ----

thread_local! {
    /// Set while this thread runs a fuzz target: panics are recorded here
    /// instead of printed.
    static PANIC: RefCell<Option<Option<String>>> = const { RefCell::new(None) };
}

fn install_panic_hook() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let fuzzing = PANIC.with(|p| {
                let mut p = p.borrow_mut();
                match p.as_mut() {
                    Some(slot) => {
                        *slot = Some(info.to_string());
                        true
                    }
                    None => false,
                }
            });
            if !fuzzing {
                default(info);
            }
        }));
    });
}

fn save(dir: &Path, stem: &str, input: &[u8]) -> Option<PathBuf> {
    std::fs::create_dir_all(dir).ok()?;
    let path = dir.join(format!("{stem}-{:016x}.bin", hash(input)));
    std::fs::write(&path, input).ok()?;
    Some(path)
}

/// The key that makes two findings the same: where the panic was raised
/// (the first line of "panicked at FILE:LINE:COL:\nMESSAGE"), or the message
/// without its numbers for other findings.
fn crash_key(message: &str) -> String {
    match message.strip_prefix("panicked at ") {
        Some(rest) => rest.lines().next().unwrap_or_default().to_owned(),
        None => message.chars().filter(|c| !c.is_ascii_digit()).collect(),
    }
}

/// Runs one input through the target, recording a panic. `Err` holds what went wrong.
fn exec(target: &Target, input: &[u8]) -> Result<u64, String> {
    if let Ok(mut cur) = CURRENT.lock()
        && let Some(cur) = cur.as_mut()
    {
        cur.input.clear();
        cur.input.extend_from_slice(input);
    }
    let base = LIVE.load(Ordering::Relaxed);
    take_peak(base);
    STARTED_MS.store(now_ms(), Ordering::Relaxed);
    PANIC.with(|p| *p.borrow_mut() = Some(None));
    let result = catch_unwind(AssertUnwindSafe(|| (target.run)(input)));
    let message = PANIC.with(|p| p.borrow_mut().take().flatten());
    STARTED_MS.store(0, Ordering::Relaxed);
    let peak = take_peak(base);
    PEAK_SEEN.fetch_max(peak, Ordering::Relaxed);
    match result {
        Ok(_) if COUNTING.load(Ordering::Relaxed) && peak > ALLOC_LIMIT => Err(format!(
            "allocated {peak} bytes at the peak for a {}-byte input (limit {ALLOC_LIMIT})",
            input.len()
        )),
        Ok(sig) => Ok(sig),
        Err(_) => Err(message.unwrap_or_else(|| "panic without a message".to_owned())),
    }
}

static PEAK_SEEN: AtomicUsize = AtomicUsize::new(0);

/// Turns on allocation limits: call once from a binary whose global
/// allocator is [`CountingAlloc`].
pub fn counting_allocator_installed() {
    COUNTING.store(true, Ordering::Relaxed);
}

/// Runs `target` on one input (a reproducer) and says what went wrong, if anything.
///
/// # Errors
/// The panic message, or the allocation that went over the limit.
pub fn replay(target: &Target, input: &[u8]) -> Result<u64, String> {
    install_panic_hook();
    exec(target, input)
}

/// Fuzzes `target` for `opts.execs` executions.
#[must_use]
pub fn run(target: &'static Target, opts: &Options) -> Report {
    install_panic_hook();
    HANG_MS.store(opts.hang_after.as_millis() as u64, Ordering::Relaxed);
    if let Ok(mut cur) = CURRENT.lock() {
        *cur = Some(Current {
            target: target.name,
            dir: opts.crash_dir.clone(),
            input: Vec::with_capacity(opts.max_len),
        });
    }
    start_watchdog();
    PEAK_SEEN.store(0, Ordering::Relaxed);
    let mut rng = Rng::new(opts.seed);
    let mut corpus: Vec<Vec<u8>> = (target.seeds)();
    if let Some(dir) = &opts.corpus_dir
        && let Ok(entries) = std::fs::read_dir(dir)
    {
        let mut files: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        files.sort();
        corpus.extend(files.iter().filter_map(|f| std::fs::read(f).ok()));
    }
    for c in &mut corpus {
        c.truncate(opts.max_len);
    }
    if corpus.is_empty() {
        corpus.push(Vec::new());
    }
    let mut seen: HashSet<u64> = HashSet::new();
    let mut crashes: Vec<Crash> = Vec::new();
    let mut keys: HashSet<String> = HashSet::new();
    let mut failed_execs = 0u64;
    let started = Instant::now();
    let mut last_progress = Instant::now();
    let mut execs = 0u64;
    let mut input = Vec::with_capacity(opts.max_len);
    let mut on_result = |input: &[u8],
                         result: Result<u64, String>,
                         corpus: &mut Vec<Vec<u8>>,
                         crashes: &mut Vec<Crash>|
     -> bool {
        match result {
            Ok(sig) => {
                if seen.insert(sig) && corpus.len() < MAX_CORPUS {
                    corpus.push(input.to_vec());
                }
                false
            }
            Err(message) => {
                failed_execs += 1;
                if keys.insert(crash_key(&message)) {
                    let saved = opts
                        .crash_dir
                        .as_deref()
                        .and_then(|d| save(d, target.name, input));
                    if opts.progress {
                        eprintln!(
                            "fuzz {}: FOUND {message}{}",
                            target.name,
                            saved
                                .as_ref()
                                .map(|p| format!("\n  input saved to {}", p.display()))
                                .unwrap_or_default()
                        );
                    }
                    crashes.push(Crash {
                        message,
                        input: input.to_vec(),
                        saved,
                    });
                }
                true
            }
        }
    };
    // Every seed runs once as it is.
    let seeds = corpus.clone();
    for s in &seeds {
        let r = exec(target, s);
        execs += 1;
        if on_result(s, r, &mut corpus, &mut crashes) && opts.stop_on_crash {
            break;
        }
    }
    while execs < opts.execs && (crashes.is_empty() || !opts.stop_on_crash) {
        let parent = rng.below(corpus.len());
        input.clear();
        input.extend_from_slice(&corpus[parent]);
        // Stack 1, 2, 4 … 16 mutations (small numbers are the most common).
        let n = 1usize << rng.below(5);
        for _ in 0..n {
            mutate(&mut input, &mut rng, &corpus, target);
        }
        input.truncate(opts.max_len);
        let r = exec(target, &input);
        execs += 1;
        on_result(&input, r, &mut corpus, &mut crashes);
        if opts.progress && execs % 4096 == 0 && last_progress.elapsed() > Duration::from_secs(5) {
            last_progress = Instant::now();
            let secs = started.elapsed().as_secs_f64();
            eprintln!(
                "fuzz {}: {execs} execs, {:.0}/s, corpus {}, crashes {}",
                target.name,
                execs as f64 / secs,
                corpus.len(),
                crashes.len()
            );
        }
    }
    if let Ok(mut cur) = CURRENT.lock() {
        *cur = None;
    }
    Report {
        target: target.name,
        execs,
        elapsed: started.elapsed(),
        failed_execs,
        crashes,
        corpus_len: corpus.len(),
        peak_alloc: PEAK_SEEN.load(Ordering::Relaxed),
    }
}

/// Parents kept at most (new ones beyond this are dropped).
const MAX_CORPUS: usize = 4096;
