//! The TUI's loop: one funnel (sources, terminal input, ticks, signals)
//! feeds [`App::update`]; its effects drive the lab; the screen is redrawn
//! when something changed (and once a second while a countdown runs).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;

use super::{
    Backlog, DRAIN_SLICE, DemoSetup, Ending, Funnel, Msg, Session, WatchSetup, frame_input, settled,
};
use crate::app::{App, AppEvent, Choice, Effect, RunKind};
use crate::capture::FileCapture;
use crate::i18n::Lang;
use crate::lab::{self, LabControl, Script};
use crate::model::pipeline::Pipeline;
use crate::time::Timestamp;
use crate::ui::{self, Palette, Theme, Tui};

/// How the screen looks.
#[derive(Clone, Debug)]
pub struct UiOptions {
    pub lang: Lang,
    pub theme: Theme,
    pub no_color: bool,
    pub max_rows: usize,
    /// Also record the model's inputs to this file (replayable fixtures).
    pub record: Option<PathBuf>,
}

/// What the screen opens on.
pub enum Start {
    /// The scenario picker; nothing runs until one is chosen.
    Picker {
        setup: DemoSetup,
    },
    /// A scenario, running at once.
    Demo {
        name: String,
        script: Script,
        setup: DemoSetup,
    },
    Watch(WatchSetup),
    Read(PathBuf),
}

/// How often the loop wakes without input: held inputs are released and
/// the clock moves.
const TICK: Duration = Duration::from_millis(50);
/// At most this often a burst of events redraws the screen.
const FRAME: Duration = Duration::from_millis(33);

/// The running sources and how to reach the lab.
struct Runner {
    run: u64,
    session: Option<Session>,
    control: Option<std_mpsc::Sender<LabControl>>,
    pipeline: Pipeline,
    /// The scenario being shown (for `r`), and the demo settings.
    script: Option<(String, Script)>,
    setup: Option<DemoSetup>,
    /// A file is read: no reordering wait.
    file: bool,
    /// Reading the file stopped at damage.
    file_error: Option<String>,
    deadline: Option<Instant>,
    tx: Funnel,
    backlog: Backlog,
    /// Where a recording goes (each run starts it over).
    record: Option<PathBuf>,
}

impl Runner {
    fn stop(&mut self) {
        self.control = None;
        if let Some(mut s) = self.session.take() {
            s.stop();
        }
    }

    /// Starts a scenario in a clean lab (a new network namespace).
    fn start_demo(&mut self, app: &mut App, name: &str, script: Script) -> Result<()> {
        self.stop();
        let setup = self
            .setup
            .clone()
            .context("no lab settings (not a demo run)")?;
        self.run += 1;
        super::close_recording(&mut self.pipeline, self.record.as_deref())?;
        self.pipeline = super::pipeline(self.record.as_deref())?;
        let peers: Vec<String> = script.endpoints().iter().map(ToString::to_string).collect();
        // The quiz holds each step until the class has answered.
        let mut setup = setup;
        setup.step |= setup.quiz;
        app.update(AppEvent::DemoStarted {
            name: name.to_owned(),
            peers,
            paused: setup.step,
            rootless: setup.ns.rootless,
            pace: setup.pace.as_secs_f64(),
        });
        if setup.quiz {
            app.update(AppEvent::Quiz(crate::app::quiz::questions(&script)));
        }
        let (session, control) = Session::demo(
            self.run,
            &script,
            &setup,
            true,
            true,
            &self.tx,
            &self.backlog,
        )?;
        app.update(AppEvent::Started {
            kernel: session.kernel_mode,
        });
        self.session = Some(session);
        self.control = Some(control);
        self.script = Some((name.to_owned(), script));
        // `--write` holds the first run; a run restarted or picked later
        // does not replace it.
        if let Some(s) = &mut self.setup {
            s.write = None;
        }
        Ok(())
    }
}

/// Reads a capture file on a thread into the funnel, in batches, waiting
/// when the loop is behind (a file can wait; nothing is skipped).
fn read_thread(run: u64, mut file: FileCapture, tx: Funnel, backlog: Backlog) {
    std::thread::spawn(move || {
        let mut batch = Vec::with_capacity(256);
        let error = loop {
            while backlog.full() {
                if tx.is_closed() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            match file.next_frame() {
                Ok(Some(frame)) => {
                    batch.extend(frame_input(&frame, true));
                    if batch.len() >= 256 && !backlog.send(&tx, run, std::mem::take(&mut batch)) {
                        return;
                    }
                }
                Ok(None) => break None,
                Err(e) => break Some(e.to_string()),
            }
        };
        if !batch.is_empty() {
            backlog.send(&tx, run, batch);
        }
        let _ = tx.send(Msg::SourceDone { run, error });
    });
}

/// Reads the terminal on a thread into the funnel until `stop`.
fn input_thread(tx: Funnel, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    use ratatui::crossterm::event;
    std::thread::spawn(move || {
        let gone = |tx: &Funnel| {
            let _ = tx.send(Msg::TerminalGone);
        };
        while !stop.load(Ordering::Relaxed) {
            // A terminal that went away without a SIGHUP (its window closed
            // while synack ran in another session, as under `su`) ends the run.
            if ui::wait_input(Duration::from_millis(100)) == ui::Input::Gone {
                return gone(&tx);
            }
            // Keys that arrived, and resizes (crossterm learns of those by
            // SIGWINCH): take whatever is there without waiting.
            loop {
                match event::poll(Duration::ZERO) {
                    Ok(true) => match event::read() {
                        Ok(ev) => {
                            for ev in ui::convert(&ev) {
                                if tx.send(Msg::Ui(ev)).is_err() {
                                    return;
                                }
                            }
                        }
                        Err(_) => return gone(&tx),
                    },
                    Ok(false) => break,
                    Err(_) => return gone(&tx),
                }
            }
        }
    })
}

/// Opens the screen and runs until the user quits (or a signal ends it).
///
/// # Errors
/// The sources cannot start (before the screen opens, so the message is
/// readable), or the terminal cannot be used.
pub fn screen(start: Start, opts: &UiOptions) -> Result<Ending> {
    let (tx, mut rx) = mpsc::unbounded_channel::<Msg>();
    let kind = match &start {
        Start::Picker { .. } => RunKind::Idle,
        Start::Demo { name, .. } => RunKind::Demo { name: name.clone() },
        Start::Watch(w) => RunKind::Watch {
            iface: w.iface.clone(),
            filter: super::describe_filter(&w.filter()),
        },
        Start::Read(p) => RunKind::Read {
            file: p.display().to_string(),
        },
    };
    let mut app = App::new(opts.lang, kind, Choice::all(), opts.max_rows);
    let mut runner = Runner {
        run: 0,
        session: None,
        control: None,
        pipeline: super::pipeline(opts.record.as_deref())?,
        script: None,
        setup: None,
        file: false,
        file_error: None,
        deadline: None,
        tx: tx.clone(),
        backlog: Backlog::default(),
        record: opts.record.clone(),
    };
    // Sources start before the terminal changes: their errors print plainly.
    match start {
        Start::Picker { setup } => {
            runner.setup = Some(setup);
        }
        Start::Demo {
            name,
            script,
            setup,
        } => {
            runner.setup = Some(setup);
            runner.start_demo(&mut app, &name, script)?;
        }
        Start::Watch(setup) => {
            let session = Session::watch(0, &setup, true, &tx, &runner.backlog)?;
            app.update(AppEvent::Started {
                kernel: session.kernel_mode,
            });
            runner.deadline = setup
                .duration
                .map(|s| Instant::now() + Duration::from_secs_f64(s));
            runner.session = Some(session);
        }
        Start::Read(path) => {
            let file = FileCapture::open(&path)?;
            // Nothing after opening the file needs privilege.
            crate::privilege::drop_privileges()?;
            runner.file = true;
            read_thread(0, file, tx.clone(), runner.backlog.clone());
        }
    }
    let palette = Palette::new(opts.theme, opts.no_color);
    let mut tui = Tui::enter().context("opening the screen")?;
    let (w, h) = tui.size().context("reading the terminal's size")?;
    app.update(AppEvent::Resize {
        width: w,
        height: h,
    });
    // A test hook: a panic on another thread after this many milliseconds
    // (the end-to-end test checks that the terminal and the lab survive it).
    if let Some(ms) = std::env::var("SYNACK_TEST_PANIC_AFTER_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(ms));
            panic!("SYNACK_TEST_PANIC_AFTER_MS: a deliberate panic");
        });
    }
    let stop_input = Arc::new(AtomicBool::new(false));
    // The terminal's keys and mouse come on a channel of their own, read first.
    let (ui_tx, mut ui_rx) = mpsc::unbounded_channel::<Msg>();
    let input = input_thread(ui_tx, Arc::clone(&stop_input));
    drop(tx);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let result = rt.block_on(event_loop(
        &mut rx,
        &mut ui_rx,
        &mut app,
        &mut runner,
        &mut tui,
        &palette,
    ));
    stop_input.store(true, Ordering::Relaxed);
    runner.stop();
    drop(tui);
    let _ = input.join();
    super::close_recording(&mut runner.pipeline, runner.record.as_deref())?;
    if let Some(e) = runner.file_error.take() {
        // The screen showed what was read before the damage; the run failed.
        return Err(anyhow::anyhow!(e));
    }
    result
}

async fn event_loop(
    rx: &mut mpsc::UnboundedReceiver<Msg>,
    ui_rx: &mut mpsc::UnboundedReceiver<Msg>,
    app: &mut App,
    runner: &mut Runner,
    tui: &mut Tui,
    palette: &Palette,
) -> Result<Ending> {
    let mut term = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
    let mut hup = signal(SignalKind::hangup()).context("listening for SIGHUP")?;
    let mut int = signal(SignalKind::interrupt()).context("listening for SIGINT")?;
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_draw = Instant::now() - FRAME;
    // Inputs due and not yet fed: the next turn does not wait for news.
    let mut more_due = false;
    loop {
        let mut urgent = false;
        // Keys and signals first: under a flood the funnel holds seconds of
        // packets, and a key must not wait behind them.
        tokio::select! {
            biased;
            Some(msg) = ui_rx.recv() => {
                urgent = true;
                if let Some(end) = take_msg(Some(msg), app, runner)? {
                    return Ok(end);
                }
            }
            _ = term.recv() => return Ok(Ending::Interrupted),
            _ = hup.recv() => return Ok(Ending::Interrupted),
            _ = int.recv() => return Ok(Ending::Interrupted),
            _ = tick.tick() => {
                if runner.deadline.is_some_and(|d| Instant::now() >= d) {
                    runner.deadline = None;
                    runner.stop();
                }
                let effects = app.update(AppEvent::Tick(Timestamp::now()));
                if let Some(end) = apply(effects, app, runner)? {
                    return Ok(end);
                }
            }
            msg = rx.recv() => {
                if let Some(end) = take_msg(msg, app, runner)? {
                    return Ok(end);
                }
            }
            () = std::future::ready(()), if more_due => {}
        }
        // In slices, so that a key is never behind more than one of them.
        let until = if runner.file {
            Timestamp(u64::MAX)
        } else {
            settled()
        };
        let (events, more) = runner.pipeline.drain_some(until, DRAIN_SLICE);
        more_due = more;
        if !events.is_empty() {
            app.update(AppEvent::Model(events.to_vec()));
        }
        if app.dirty && (urgent || last_draw.elapsed() >= FRAME) {
            tui.draw(app, palette).context("drawing the screen")?;
            app.dirty = false;
            last_draw = Instant::now();
        }
        // Under a flood a message is always ready and the runtime would never
        // get to its timers and signals: the deadline is checked here, and
        // each turn lets the runtime poll them.
        if runner.deadline.is_some_and(|d| Instant::now() >= d) {
            runner.deadline = None;
            runner.stop();
        }
        tokio::task::yield_now().await;
    }
}

/// Takes one message of the funnel (or of the terminal's channel); `Some`
/// when the run is over.
fn take_msg(msg: Option<Msg>, app: &mut App, runner: &mut Runner) -> Result<Option<Ending>> {
    match msg {
        Some(Msg::Inputs { run, inputs }) => {
            runner.backlog.taken(inputs.len());
            if run == runner.run {
                runner.pipeline.push_all(inputs);
            }
        }
        Some(Msg::LabDone { run, error }) if run == runner.run => {
            app.update(AppEvent::LabDone { error });
        }
        Some(Msg::SourceDone { run, error }) if run == runner.run => {
            let events = runner.pipeline.finish().to_vec();
            app.update(AppEvent::Model(events));
            if let Some(e) = error {
                // Shown on screen now; said again, and the run fails, on leaving.
                runner.file_error = Some(e.clone());
                app.update(AppEvent::LabDone { error: Some(e) });
            }
        }
        Some(Msg::StepBegan { run, step }) if run == runner.run => {
            app.update(AppEvent::StepBegan(step));
        }
        Some(Msg::LabDone { .. } | Msg::SourceDone { .. } | Msg::StepBegan { .. }) => {}
        Some(Msg::TerminalGone) => return Ok(Some(Ending::Interrupted)),
        Some(Msg::Ui(ev)) => {
            let effects = app.update(ev);
            return apply(effects, app, runner);
        }
        None => return Ok(Some(Ending::Done)),
    }
    Ok(None)
}

/// Does what the app asked; `Some` when the screen should end.
fn apply(effects: Vec<Effect>, app: &mut App, runner: &mut Runner) -> Result<Option<Ending>> {
    for fx in effects {
        match fx {
            Effect::Quit => return Ok(Some(Ending::Done)),
            Effect::Lab(ctl) => {
                if let Some(c) = &runner.control {
                    let _ = c.send(ctl);
                }
            }
            Effect::Run(name) => {
                let script =
                    lab::scenario(&name).map(|s| lab::parse(&format!("{}.txt", s.name), s.text));
                match script {
                    Some(Ok(script)) => runner.start_demo(app, &name, script)?,
                    Some(Err(e)) => app
                        .update(AppEvent::LabDone {
                            error: Some(e.to_string()),
                        })
                        .clear(),
                    None => {}
                }
            }
            Effect::Restart => {
                if let Some((name, script)) = runner.script.clone() {
                    runner.start_demo(app, &name, script)?;
                }
            }
        }
    }
    Ok(None)
}
