//! The screen's side of the run loop ([`super::drive`]): keys and the
//! mouse go to [`App::update`]; what it asks (a lab control, run a
//! scenario, restart, quit) is done here; the screen is redrawn when
//! something changed, at most once a frame unless a key asks.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use tokio::sync::mpsc;

use super::drive::{self, Face, Feed};
use super::record::RecordTo;
use super::{Backlog, DemoSetup, Ending, Funnel, Msg, Session, WatchSetup};
use crate::app::{App, AppEvent, Choice, Effect, RunKind, Update};
use crate::capture::{self, FileCapture};
use crate::event::Event;
use crate::i18n::Lang;
use crate::lab::{self, LabControl, Script};
use crate::model::KernelMode;
use crate::recording::{Recording, Source};
use crate::time::Timestamp;
use crate::ui::{self, Palette, Theme, Tui};

/// How the screen looks.
#[derive(Clone, Debug)]
pub struct UiOptions {
    pub lang: Lang,
    pub theme: Theme,
    pub no_color: bool,
    pub max_rows: usize,
    /// Also record the run (`--record`; `--record-inputs` for fixtures).
    pub record: Option<RecordTo>,
}

/// How `synack replay` plays a recording on the screen.
#[derive(Clone, Debug)]
pub struct ReplaySetup {
    /// Start paused: each step waits for a click (`--step`).
    pub step: bool,
    /// Between steps while playing.
    pub pace: Duration,
    /// `--quiz`: each step waits for the class's answer.
    pub quiz: bool,
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
    /// A session recording, played as its run was shown (no lab, no capture).
    Replay {
        recording: Box<Recording>,
        setup: ReplaySetup,
    },
}

/// At most this often a burst of events redraws the screen.
const FRAME: Duration = Duration::from_millis(33);

/// The screen in the loop: the app, the terminal, and the run's sources
/// (which a key can stop, restart or replace).
struct OnScreen {
    app: App,
    /// `None` until the terminal is entered (sources start before it).
    tui: Option<Tui>,
    palette: Palette,
    session: Option<Session>,
    control: Option<std_mpsc::Sender<LabControl>>,
    /// The scenario being shown (for `r`), and the demo settings.
    script: Option<(String, Script)>,
    setup: Option<DemoSetup>,
    /// A replay's settings: the screen plays recordings, it runs no lab.
    replay: Option<ReplaySetup>,
    /// Reading the file stopped at damage.
    file_error: Option<String>,
    tx: Funnel,
    /// What the screen shows changed since it was drawn.
    redraw: bool,
    last_draw: Instant,
}

impl OnScreen {
    /// Stops the run's sources (the screen stays).
    fn stop(&mut self) {
        self.control = None;
        if let Some(mut s) = self.session.take() {
            s.stop();
        }
    }

    /// Tells the app; does what it asks. `Some` when the screen should end.
    fn tell(&mut self, ev: AppEvent, feed: &mut Feed) -> Result<Option<Ending>> {
        let up = self.app.update(ev);
        self.apply(up, feed)
    }

    /// Does what an update asked.
    fn apply(&mut self, up: Update, feed: &mut Feed) -> Result<Option<Ending>> {
        self.redraw |= up.redraw;
        for fx in up.effects {
            match fx {
                Effect::Quit => return Ok(Some(Ending::Done)),
                Effect::Lab(ctl) => {
                    if let Some(c) = &self.control {
                        let _ = c.send(ctl);
                    }
                }
                Effect::Run(name) if self.replay.is_some() => {
                    // The picker of a replay plays the scenario's recording.
                    match crate::recording::builtin(&name) {
                        Some(Ok(rec)) => self.start_replay(feed, rec)?,
                        Some(Err(e)) => {
                            let error = Some(e.to_string());
                            if let Some(end) = self.tell(AppEvent::LabDone { error }, feed)? {
                                return Ok(Some(end));
                            }
                        }
                        None => {}
                    }
                }
                Effect::Run(name) => {
                    let script = lab::scenario(&name)
                        .map(|s| lab::parse(&format!("{}.txt", s.name), s.text));
                    match script {
                        Some(Ok(script)) => self.start_demo(feed, &name, script)?,
                        Some(Err(e)) => {
                            let error = Some(e.to_string());
                            if let Some(end) = self.tell(AppEvent::LabDone { error }, feed)? {
                                return Ok(Some(end));
                            }
                        }
                        None => {}
                    }
                }
                Effect::Restart => {
                    if let Some((name, script)) = self.script.clone() {
                        self.start_demo(feed, &name, script)?;
                    }
                }
            }
        }
        Ok(None)
    }

    /// Starts a scenario in a clean lab (a new network namespace).
    fn start_demo(&mut self, feed: &mut Feed, name: &str, script: Script) -> Result<()> {
        self.stop();
        let mut setup = self
            .setup
            .clone()
            .context("no lab settings (not a demo run)")?;
        feed.next_run()?;
        let peers: Vec<String> = script.endpoints().iter().map(ToString::to_string).collect();
        // The quiz holds each step until the class has answered.
        setup.step |= setup.quiz;
        // What a run's start asks for is only a redraw.
        self.tell(
            AppEvent::DemoStarted {
                name: name.to_owned(),
                peers,
                paused: setup.step,
                rootless: setup.ns.rootless,
                pace: setup.pace.as_secs_f64(),
            },
            feed,
        )?;
        if setup.quiz {
            self.tell(AppEvent::Quiz(crate::app::quiz::questions(&script)), feed)?;
        }
        let (session, control) = Session::demo(
            feed.run,
            &script,
            &setup,
            true,
            true,
            &self.tx,
            &feed.backlog,
        )?;
        self.tell(
            AppEvent::Started {
                kernel: session.kernel_mode,
            },
            feed,
        )?;
        feed.begin_recording(
            super::demo_source(name, &script, &setup),
            session.kernel_mode,
        )?;
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
    /// Plays a recording (`synack replay`): the app is told what the run
    /// was (a demo's name, lanes and quiz), then the player thread plays it.
    fn start_replay(&mut self, feed: &mut Feed, rec: Recording) -> Result<()> {
        self.stop();
        let setup = self.replay.clone().context("not a replay")?;
        feed.next_run()?;
        let header = rec.header;
        let mut chained = Vec::new();
        let paused = setup.step || setup.quiz;
        if let Source::Demo {
            name,
            script,
            peers,
            rootless,
            ..
        } = &header.source
        {
            let parsed = lab::parse(name, script);
            self.tell(
                AppEvent::DemoStarted {
                    name: name.clone(),
                    peers: peers.clone(),
                    paused,
                    rootless: *rootless,
                    pace: setup.pace.as_secs_f64(),
                },
                feed,
            )?;
            if let Ok(script) = &parsed {
                chained = script.steps.iter().map(|s| s.at_once).collect();
            }
            if setup.quiz {
                let script = parsed.with_context(|| {
                    format!("--quiz: the recording's script cannot be read ({name})")
                })?;
                self.tell(AppEvent::Quiz(crate::app::quiz::questions(&script)), feed)?;
            }
        }
        self.tell(
            AppEvent::Replaying {
                kernel: header.kernel.clone(),
                date: header.date().to_owned(),
            },
            feed,
        )?;
        self.tell(
            AppEvent::Started {
                kernel: header.kernel_states,
            },
            feed,
        )?;
        let play = super::player::Play {
            pace: setup.pace,
            paused,
            chained,
            whole: matches!(header.source, Source::Read { .. }),
        };
        let (session, control) =
            Session::replay(feed.run, rec.events, play, header.kernel_states, &self.tx)?;
        self.session = Some(session);
        self.control = Some(control);
        self.script = None;
        Ok(())
    }
}

impl Face for OnScreen {
    fn message(&mut self, msg: Msg, feed: &mut Feed) -> Result<Option<Ending>> {
        match msg {
            Msg::LabDone { run, error } if run == feed.run => {
                self.tell(AppEvent::LabDone { error }, feed)
            }
            Msg::SourceDone { run, error } if run == feed.run => {
                let events = std::mem::take(feed.pipeline.finish());
                if let Some(end) = self.tell(AppEvent::Model(events), feed)? {
                    return Ok(Some(end));
                }
                match error {
                    Some(e) => {
                        // Shown on screen now; said again, and the run fails, on leaving.
                        self.file_error = Some(e.clone());
                        self.tell(AppEvent::LabDone { error: Some(e) }, feed)
                    }
                    None => Ok(None),
                }
            }
            Msg::StepBegan { run, step } if run == feed.run => {
                self.tell(AppEvent::StepBegan(step), feed)
            }
            Msg::Events { run, mut events } if run == feed.run => self.show(&mut events),
            Msg::Ui(ev) => self.tell(ev, feed),
            Msg::TerminalGone => Ok(Some(Ending::Interrupted)),
            Msg::LabDone { .. }
            | Msg::SourceDone { .. }
            | Msg::StepBegan { .. }
            | Msg::Events { .. }
            | Msg::Inputs { .. }
            | Msg::Frames { .. } => Ok(None),
        }
    }

    fn show(&mut self, events: &mut Vec<Event>) -> Result<Option<Ending>> {
        // The model's events ask for nothing but a redraw. The app keeps
        // them (the rows): they move, never copied.
        let up = self.app.update(AppEvent::Model(std::mem::take(events)));
        self.redraw |= up.redraw;
        debug_assert!(
            up.effects.is_empty(),
            "the model's events asked for {:?}",
            up.effects
        );
        Ok(None)
    }

    fn tick(&mut self, feed: &mut Feed) -> Result<Option<Ending>> {
        self.tell(AppEvent::Tick(Timestamp::now()), feed)
    }

    fn deadline(&mut self) -> Option<Ending> {
        // The sources stop; the screen stays for the user to look.
        self.stop();
        None
    }

    fn turn_end(&mut self, urgent: bool) -> Result<()> {
        let Some(tui) = &mut self.tui else {
            return Ok(());
        };
        if self.redraw && (urgent || self.last_draw.elapsed() >= FRAME) {
            tui.draw(&self.app, &self.palette)
                .context("drawing the screen")?;
            self.redraw = false;
            self.last_draw = Instant::now();
        }
        Ok(())
    }
}

/// Reads a capture file on a thread into the funnel, in batches, waiting
/// when the loop is behind (a file can wait; nothing is skipped).
fn read_thread(run: u64, mut file: FileCapture, tx: Funnel, backlog: Backlog) {
    std::thread::spawn(move || {
        let mut batch = capture::Frames::with_capacity(256, 128, true);
        let error = loop {
            while backlog.full() {
                if tx.is_closed() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            match file.next_frame() {
                Ok(Some(frame)) => {
                    batch.push(&frame);
                    if batch.len() >= 256 {
                        let full = std::mem::replace(
                            &mut batch,
                            capture::Frames::with_capacity(256, 128, true),
                        );
                        if !backlog.send_frames(&tx, run, full) {
                            return;
                        }
                    }
                }
                Ok(None) => break None,
                Err(e) => break Some(e.to_string()),
            }
        };
        if !batch.is_empty() {
            backlog.send_frames(&tx, run, batch);
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
        Start::Replay { recording, .. } => match &recording.header.source {
            Source::Demo { name, .. } => RunKind::Demo { name: name.clone() },
            Source::Watch { iface, filter } => RunKind::Watch {
                iface: iface.clone(),
                filter: filter.clone(),
            },
            Source::Read { file } => RunKind::Read { file: file.clone() },
        },
    };
    let mut feed = Feed::new(opts.record.clone())?;
    let mut face = OnScreen {
        app: App::new(opts.lang, kind, Choice::all(), opts.max_rows),
        tui: None,
        palette: Palette::new(opts.theme, opts.no_color),
        session: None,
        control: None,
        script: None,
        setup: None,
        replay: None,
        file_error: None,
        tx: tx.clone(),
        redraw: true,
        // The first turn draws.
        last_draw: Instant::now()
            .checked_sub(FRAME)
            .unwrap_or_else(Instant::now),
    };
    // Sources start before the terminal changes: their errors print plainly.
    match start {
        Start::Picker { setup } => {
            face.setup = Some(setup);
        }
        Start::Demo {
            name,
            script,
            setup,
        } => {
            face.setup = Some(setup);
            face.start_demo(&mut feed, &name, script)?;
        }
        Start::Watch(setup) => {
            let session = Session::watch(0, &setup, true, &tx, &feed.backlog)?;
            face.tell(
                AppEvent::Started {
                    kernel: session.kernel_mode,
                },
                &mut feed,
            )?;
            feed.deadline = setup
                .duration
                .map(|s| Instant::now() + Duration::from_secs_f64(s));
            feed.begin_recording(super::watch_source(&setup), session.kernel_mode)?;
            face.session = Some(session);
        }
        Start::Read(path) => {
            let file = FileCapture::open(&path)?;
            // Nothing after opening the file needs privilege.
            crate::privilege::drop_privileges()?;
            feed.file = true;
            feed.begin_recording(super::read_source(&path), KernelMode::None)?;
            read_thread(0, file, tx.clone(), feed.backlog.clone());
        }
        Start::Replay { recording, setup } => {
            face.replay = Some(setup);
            face.start_replay(&mut feed, *recording)?;
        }
    }
    let tui = Tui::enter().context("opening the screen")?;
    let (w, h) = tui.size().context("reading the terminal's size")?;
    face.tui = Some(tui);
    face.tell(
        AppEvent::Resize {
            width: w,
            height: h,
        },
        &mut feed,
    )?;
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
    let rt = drive::runtime()?;
    let result = rt.block_on(drive::drive(
        &mut rx,
        Some(&mut ui_rx),
        &mut feed,
        &mut face,
    ));
    stop_input.store(true, Ordering::Relaxed);
    face.stop();
    drop(face.tui.take());
    let _ = input.join();
    feed.close_recording()?;
    if let Some(e) = face.file_error.take() {
        // The screen showed what was read before the damage; the run failed.
        return Err(anyhow::anyhow!(e));
    }
    result
}
