//! synack's entry point: parse the command line, prepare the lab's user
//! namespace when a demo may run (before any thread exists), then hand over to
//! the wiring with a view: the TUI on a terminal, a headless writer otherwise.

mod cli;

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Parser;
use synack::event::sanitize;
use synack::explain::Kind;
use synack::i18n::{Lang, wrap};
use synack::lab::{self, LabNs, Script};
use synack::output::Format;
use synack::output::export::{self, ExportFormat, ExportOptions};
use synack::output::sink::{Collect, Ending, Sink, View};
use synack::privilege::{self, Dropped, Replace};
use synack::run::{self, DemoSetup, Start, UiOptions, WatchSetup};

use cli::{Cli, Command, DemoArgs, ExportArgs};

/// Snapshots of a busy port's socket table are megabytes each, made on one
/// thread and freed on another. glibc would raise its mmap threshold to their
/// size after the first is freed and serve the next from a heap arena, where
/// freed megabytes stay resident; fixed at 256 KB, each big buffer is its own
/// mapping and goes back to the system when freed.
fn keep_big_buffers_returnable() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; called before any thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 * 1024);
    }
}

/// The scenario plain `synack` runs when it prints instead of drawing.
const DEFAULT_DEMO: &str = "close";
/// The pace of a demo on screen: a class can follow one step every 0.8 s.
const SCREEN_PACE: f64 = 0.8;

fn main() -> ExitCode {
    keep_big_buffers_returnable();
    let mut cli = Cli::parse();
    // A peer is already inside the lab: it must not enter another namespace.
    if let Some(Command::Peer { name }) = &cli.command {
        let code = lab::peer_main(name);
        return ExitCode::from(u8::try_from(code).unwrap_or(1));
    }
    // The defaults file fills in what the command line did not say.
    let defaults = synack::config::path().map(|p| {
        let found = synack::config::load(&p);
        (p, found)
    });
    let config = match defaults {
        Some((path, Ok(d))) => {
            if let Some(d) = &d {
                cli.fill_in(d);
            }
            Some((path, d.is_some()))
        }
        Some((_, Err(e))) => {
            report(&e.into());
            return ExitCode::FAILURE;
        }
        None => None,
    };
    if let Some(why) = cli.export_conflict() {
        report(&anyhow::anyhow!(why));
        return ExitCode::from(2);
    }
    let lang = cli.language();
    let out = Out::of(&cli);
    let result = match &cli.command {
        Some(Command::Peer { .. }) => bail_exit("a peer runs only inside the lab"),
        // Before any thread: it forks to try the lab.
        Some(Command::Doctor(args)) => return doctor(&cli, args, config),
        // Explanations are text from compiled-in data: no lab, no screen.
        Some(Command::Explain(args)) => explain(args.topic.as_deref(), lang).map(|()| Ending::Done),
        Some(Command::List) => {
            print_list(&mut io::stdout(), lang);
            Ok(Ending::Done)
        }
        // Made from the command line's definition: for packages and shells.
        Some(Command::Completions { shell }) => {
            print_generated(Ok(cli::generate::completions(*shell)))
        }
        Some(Command::Man) => print_generated(cli::generate::man()),
        Some(Command::Watch(args)) => watch(&cli, args, out),
        Some(Command::Read(args)) => read(&cli, args, out),
        Some(Command::Demo(args)) => demo(&cli, args, out),
        Some(Command::Replay(args)) => replay(&cli, args, out),
        None => plain(&cli, out),
    };
    match result {
        Ok(Ending::Done | Ending::OutputClosed) => ExitCode::SUCCESS,
        Ok(Ending::Interrupted) => ExitCode::from(130),
        // A reader that stopped early (`| head`) is not an error.
        Err(e)
            if e.downcast_ref::<io::Error>()
                .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe) =>
        {
            ExitCode::SUCCESS
        }
        Err(e) => {
            report(&e);
            ExitCode::FAILURE
        }
    }
}

/// An error for a command that cannot be here.
fn bail_exit(why: &str) -> Result<Ending> {
    Err(anyhow::anyhow!(why.to_owned()))
}

/// `synack doctor`: what this machine allows; exits 0 when `synack demo`
/// can run, 1 when it cannot.
fn doctor(cli: &Cli, args: &cli::DoctorArgs, config: Option<(PathBuf, bool)>) -> ExitCode {
    use synack::doctor;
    let mut out = io::stdout().lock();
    if args.apparmor_profile {
        let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("/usr/bin/synack"));
        let _ = out.write_all(synack::lab::apparmor::profile(&exe).as_bytes());
        return ExitCode::SUCCESS;
    }
    let found = doctor::decide(&doctor::probe(config));
    let written = if cli.json {
        serde_json::to_writer_pretty(&mut out, &found)
            .map_err(io::Error::other)
            .and_then(|()| writeln!(out))
    } else {
        doctor::write_text(&mut out, &found)
    };
    match written {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            report(&e.into());
            ExitCode::FAILURE
        }
        _ if found.demo_runs => ExitCode::SUCCESS,
        _ => ExitCode::FAILURE,
    }
}

/// Where a run's events go, decided once from the command line.
#[derive(Clone, Copy)]
enum Out<'a> {
    /// The screen: there is a terminal to draw on.
    Screen,
    /// Printed as they happen (`--json`, `--text`, or stdout not a terminal).
    Print(Format),
    /// A diagram written when the run ends (`--export`, demo and read only).
    Export {
        kind: cli::Export,
        args: &'a ExportArgs,
        force: bool,
    },
}

impl<'a> Out<'a> {
    fn of(cli: &'a Cli) -> Self {
        if let Some((kind, args, force)) = cli.export() {
            return Self::Export { kind, args, force };
        }
        match cli.format() {
            Some(format) => Self::Print(format),
            None if io::stdout().is_terminal() => Self::Screen,
            None => Self::Print(Format::Text),
        }
    }
}

fn watch_setup(args: &cli::WatchArgs) -> WatchSetup {
    WatchSetup {
        iface: args.iface.clone(),
        ports: args.port.clone(),
        hosts: args.host.clone(),
        duration: args.duration,
        count: args.count,
        write: args.write.clone(),
        force: args.force,
    }
}

/// `synack watch`.
fn watch(cli: &Cli, args: &cli::WatchArgs, out: Out<'_>) -> Result<Ending> {
    let setup = watch_setup(args);
    let format = match out {
        Out::Screen => return run::screen(Start::Watch(setup), &ui_options(cli)),
        Out::Print(format) => format,
        // The command line offers --export on demo and read only.
        Out::Export { .. } => bail!("--export draws a demo or a capture file, not a watch"),
    };
    let mut sink = Sink::new(format, cli.language(), io::stdout(), args.count);
    let announce = |dropped| {
        eprintln!(
            "synack: capturing on {} ({}); Ctrl-C to stop",
            sanitize(&setup.iface),
            run::describe_filter(&setup.filter())
        );
        match dropped {
            Dropped::ToUser(u) => eprintln!(
                "synack: gave up root: running as uid {} gid {} (the user who ran sudo)",
                u.uid, u.gid
            ),
            Dropped::Capabilities => {
                eprintln!("synack: gave up its capabilities after opening the capture");
            }
            Dropped::Nothing | Dropped::KeptRoot => {}
        }
    };
    let end = run::watch(&setup, cli.record_to().as_ref(), &mut sink, announce)?;
    // Ctrl-C is how a watch ends.
    Ok(match end {
        Ending::Interrupted => Ending::Done,
        other => other,
    })
}

/// `synack read FILE`.
fn read(cli: &Cli, args: &cli::ReadArgs, out: Out<'_>) -> Result<Ending> {
    match out {
        Out::Screen => {
            // Fail before the screen opens: the error is then readable.
            synack::capture::FileCapture::open(&args.file)?;
            run::screen(Start::Read(args.file.clone()), &ui_options(cli))
        }
        Out::Print(format) => {
            let mut sink = Sink::new(format, cli.language(), io::stdout(), None);
            // A recording keeps the packets' bytes for the screen's details view.
            let keep = cli.record_to().is_some();
            run::read_file(&args.file, keep, cli.record_to().as_ref(), &mut sink)
        }
        Out::Export {
            kind,
            args: e,
            force,
        } => {
            let name = args.file.file_name().map_or_else(
                || args.file.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            );
            export(cli, kind, e, force, |view| {
                run::read_file(&args.file, false, cli.record_to().as_ref(), view)
                    .map(|end| (name, end))
            })
        }
    }
}

/// `synack demo [NAME]`.
fn demo(cli: &Cli, args: &DemoArgs, out: Out<'_>) -> Result<Ending> {
    match out {
        Out::Screen => {
            let demo = match (&args.name, &args.script) {
                (None, None) => None,
                _ => Some(load_named(args)?),
            };
            let setup = demo_setup(args, lab::enter_lab()?, SCREEN_PACE);
            let start = match demo {
                Some((name, script)) => Start::Demo {
                    name,
                    script,
                    setup,
                },
                None => Start::Picker { setup },
            };
            run::screen(start, &ui_options(cli))
        }
        Out::Print(format) => {
            if args.quiz {
                bail!(
                    "--quiz asks the class on screen: run it on a terminal, without --json or --text"
                );
            }
            let script = load_script(args)?;
            let mut sink = Sink::new(format, cli.language(), io::stdout(), None);
            demo_headless(cli, args, &script, &mut sink)
        }
        Out::Export {
            kind,
            args: e,
            force,
        } => {
            // Everything that can be refused is, before the lab starts.
            let (name, script) = load_named(args)?;
            export(cli, kind, e, force, |view| {
                demo_headless(cli, args, &script, view)
                    .map(|end| (format!("synack demo {name}"), end))
            })
        }
    }
}

/// `synack replay FILE|NAME`: a session recording, or a scenario's built-in
/// one, played as its run was shown. No lab and no privilege: any user.
fn replay(cli: &Cli, args: &cli::ReplayArgs, out: Out<'_>) -> Result<Ending> {
    if cli.record.is_some() || cli.record_inputs.is_some() {
        bail!("a replay is not recorded again: the recording is already a file (copy it)");
    }
    let rec = synack::recording::find(&args.recording)?;
    // The recording's language unless --lang says otherwise.
    let lang = cli.lang.map_or_else(|| rec.header.language(), Into::into);
    let about = format!(
        "{}, {} (synack {})",
        rec.header.source.describe(),
        rec.header.mark(),
        rec.header.synack
    );
    match out {
        Out::Screen => {
            let setup = run::ReplaySetup {
                step: args.step,
                pace: Duration::from_secs_f64(args.pace.unwrap_or(SCREEN_PACE)),
                quiz: args.quiz,
            };
            if args.quiz && !matches!(rec.header.source, synack::recording::Source::Demo { .. }) {
                bail!(
                    "--quiz asks about a demo's steps; this recording is of a {}",
                    about
                );
            }
            let start = Start::Replay {
                recording: Box::new(rec),
                setup,
            };
            run::screen(
                start,
                &UiOptions {
                    lang,
                    ..ui_options(cli)
                },
            )
        }
        Out::Print(format) => {
            if args.quiz {
                bail!(
                    "--quiz asks the class on screen: run it on a terminal, without --json or --text"
                );
            }
            // --json prints what the recorded run printed, and nothing else.
            match format {
                Format::Text => println!("# synack replay: {}", sanitize(&about)),
                Format::Json => eprintln!("synack: replaying {}", sanitize(&about)),
            }
            if args.step {
                eprintln!("synack: --step: press Enter for each step");
            }
            let mut sink = Sink::new(format, lang, io::stdout(), None);
            run::replay_headless(rec, args.step, &mut sink)
        }
        Out::Export {
            kind,
            args: e,
            force,
        } => {
            // The title the recorded run's own --export had.
            let title = match &rec.header.source {
                synack::recording::Source::Demo { name, .. } => format!("synack demo {name}"),
                synack::recording::Source::Read { file } => file.clone(),
                synack::recording::Source::Watch { iface, .. } => format!("synack watch {iface}"),
            };
            export(cli, kind, e, force, |view| {
                run::replay_headless(rec, false, view).map(|end| (title, end))
            })
        }
    }
}

/// Plain `synack`: the picker on a terminal; printed, the default scenario
/// and then the list of every scenario.
fn plain(cli: &Cli, out: Out<'_>) -> Result<Ending> {
    let args = DemoArgs {
        name: Some(DEFAULT_DEMO.to_owned()),
        ..DemoArgs::default()
    };
    match out {
        Out::Screen => {
            let setup = demo_setup(&args, lab::enter_lab()?, SCREEN_PACE);
            run::screen(Start::Picker { setup }, &ui_options(cli))
        }
        Out::Print(format) => {
            let script = load_script(&args)?;
            let mut sink = Sink::new(format, cli.language(), io::stdout(), None);
            let r = demo_headless(cli, &args, &script, &mut sink);
            if r.is_ok() {
                eprintln!();
                eprintln!("That was `synack demo {DEFAULT_DEMO}`. Every scenario:");
                print_list(&mut io::stderr(), cli.language());
            }
            r
        }
        // The command line refuses --export without demo or read.
        Out::Export { .. } => bail!("--export draws a demo or a capture file: name one"),
    }
}

/// A demo without the screen: the lab's namespace entered, the run's
/// events to `view`.
fn demo_headless(
    cli: &Cli,
    args: &DemoArgs,
    script: &Script,
    view: &mut dyn View,
) -> Result<Ending> {
    let ns = lab::enter_lab()?;
    if ns.rootless {
        eprintln!(
            "synack: lab in a user namespace (not root): {}",
            synack::kernel::POLLED
        );
    }
    if args.step {
        eprintln!("synack: --step: press Enter for each step");
    }
    let setup = demo_setup(args, ns, 0.0);
    run::demo(
        &demo_name(args),
        script,
        &setup,
        cli.record_to().as_ref(),
        view,
    )
}

/// A demo's set-up from its options; `pace` when --pace is not given.
fn demo_setup(args: &DemoArgs, ns: LabNs, pace: f64) -> DemoSetup {
    DemoSetup {
        ipv6: args.ipv6,
        step: args.step,
        pace: Duration::from_secs_f64(args.pace.unwrap_or(pace)),
        port: run::LAB_PORT,
        ns,
        write: args.write.clone(),
        force: args.force,
        quiz: args.quiz,
    }
}

/// Events a diagram is made of at most: far more than a handout can show,
/// few enough to keep a huge capture file from filling the memory.
const EXPORT_LIMIT: usize = 200_000;

/// `--export`: runs the demo or reads the file headless (`ran`, which says
/// the diagram's title), keeping its events, and writes the diagram when
/// the run ends.
fn export(
    cli: &Cli,
    kind: cli::Export,
    args: &ExportArgs,
    force: bool,
    ran: impl FnOnce(&mut Collect) -> Result<(String, Ending)>,
) -> Result<Ending> {
    let replace = if force { Replace::Yes } else { Replace::No };
    let mut file = match &args.output {
        Some(path) => Some((
            path,
            privilege::create_output(path, replace, privilege::sudo_invoker())?,
        )),
        None => None,
    };
    let mut view = Collect::new(args.conn, EXPORT_LIMIT);
    let checked = ran(&mut view).and_then(|(title, end)| {
        if let Some(n) = args.conn.filter(|n| !view.conns.contains(n)) {
            let have: Vec<String> = view.conns.iter().map(u32::to_string).collect();
            if have.is_empty() {
                bail!("--conn {n}: the run had no connection");
            }
            bail!(
                "--conn {n}: the run had no connection {n}; its connections are {}",
                have.join(", ")
            );
        }
        Ok((title, end))
    });
    let (title, end) = match checked {
        Ok(v) => v,
        Err(e) => {
            // Nothing to show: the empty file made for it goes.
            if let Some((path, f)) = file.take() {
                drop(f);
                let _ = std::fs::remove_file(path);
            }
            return Err(e);
        }
    };
    if view.truncated {
        eprintln!(
            "synack: the run had more than {EXPORT_LIMIT} events; the diagram shows the first {EXPORT_LIMIT} (--conn N draws one connection)"
        );
    }
    let opts = ExportOptions {
        title: match args.conn {
            Some(n) => format!("{title} — connection {n}"),
            None => title,
        },
        conn: args.conn,
        theme: cli.theme(),
        lang: cli.language(),
    };
    let format = match kind {
        cli::Export::Mermaid => ExportFormat::Mermaid,
        cli::Export::Svg => ExportFormat::Svg,
    };
    let text = export::render(format, &view.events, &opts);
    match file {
        Some((path, mut f)) => {
            f.write_all(text.as_bytes())
                .and_then(|()| f.flush())
                .with_context(|| format!("writing {}", path.display()))?;
            eprintln!("synack: wrote {}", path.display());
        }
        None => {
            let mut out = io::stdout().lock();
            match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(Ending::OutputClosed),
                Err(e) => return Err(e).context("writing the diagram"),
            }
        }
    }
    Ok(end)
}

/// How the screen looks, from the command line.
fn ui_options(cli: &Cli) -> UiOptions {
    UiOptions {
        lang: cli.language(),
        theme: cli.theme(),
        no_color: std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()),
        max_rows: usize::try_from(cli.max_rows()).unwrap_or(usize::MAX),
        record: cli.record_to(),
    }
}

fn print_list(out: &mut dyn io::Write, lang: Lang) {
    let width = lab::scenarios()
        .iter()
        .map(|s| s.name.len())
        .max()
        .unwrap_or(0);
    for s in lab::scenarios() {
        let summary = match lang {
            Lang::Zh => s.summary_zh.unwrap_or(s.summary),
            Lang::En => s.summary,
        };
        let _ = writeln!(out, "  {:<width$}  {}", s.name, summary);
    }
    let _ = writeln!(
        out,
        "\nRun one with `synack demo NAME` (add --step to go step by step)."
    );
}

/// `synack completions SHELL`, `synack man`: the text to stdout (a reader
/// that stops early is no error: `main` takes a broken pipe as the end).
fn print_generated(text: io::Result<Vec<u8>>) -> Result<Ending> {
    let mut out = io::stdout().lock();
    out.write_all(&text?)?;
    out.flush()?;
    Ok(Ending::Done)
}

/// `synack explain [NAME]`: one entry, or the list of everything explained.
fn explain(topic: Option<&str>, lang: Lang) -> Result<()> {
    let mut out = io::stdout().lock();
    let meta = synack::explain::meta(lang);
    let Some(topic) = topic else {
        let colon = match lang {
            Lang::En => ":",
            Lang::Zh => "：",
        };
        writeln!(out, "{}{colon}", meta.heading)?;
        for kind in Kind::ALL {
            writeln!(out, "\n{} ({}){colon}", meta.kind(kind), kind.as_str())?;
            // Scenarios in the order `synack list` teaches them.
            let keys: Vec<&str> = if kind == Kind::Scenario {
                synack::lab::scenarios().iter().map(|s| s.name).collect()
            } else {
                synack::explain::keys(kind)
            };
            for line in wrap(&keys.join("  "), 76) {
                writeln!(out, "  {line}")?;
            }
        }
        writeln!(out, "\n{}", meta.usage)?;
        return Ok(());
    };
    let found = match synack::explain::find(topic, lang) {
        Ok(found) => found,
        Err(close) if close.is_empty() => {
            bail!("nothing is explained under `{topic}`. `synack explain` lists every name.")
        }
        Err(close) => bail!(
            "nothing is explained under `{topic}`. Did you mean: {}? (`synack explain` lists every name.)",
            close.join(", ")
        ),
    };
    let e = found.entry;
    let colon = match lang {
        Lang::En => ":",
        Lang::Zh => "：",
    };
    writeln!(out, "{}  [{}:{}]", e.title, found.kind.as_str(), found.key)?;
    for (label, text) in [
        (&meta.what, &e.what),
        (&meta.why, &e.why),
        (&meta.todo, &e.todo),
    ] {
        if text.is_empty() {
            continue;
        }
        writeln!(out, "\n{label}{colon}")?;
        // Chinese has no spaces to break at: the terminal wraps it.
        let lines = match lang {
            Lang::En => wrap(text, 76),
            Lang::Zh => vec![text.clone()],
        };
        for line in lines {
            writeln!(out, "  {line}")?;
        }
    }
    if !found.others.is_empty() {
        let others: Vec<String> = found
            .others
            .iter()
            .map(|(kind, key)| format!("{}:{key}", kind.as_str()))
            .collect();
        writeln!(out, "\n{}{colon} {}", meta.see_also, others.join(", "))?;
    }
    Ok(())
}

/// The script a demo names, with the name shown for it.
fn load_named(args: &DemoArgs) -> Result<(String, Script)> {
    Ok((demo_name(args), load_script(args)?))
}

/// The name shown for a demo: the scenario's, or its script's path.
fn demo_name(args: &DemoArgs) -> String {
    match (&args.script, &args.name) {
        (Some(path), _) => path.display().to_string(),
        (None, Some(name)) => name.clone(),
        (None, None) => String::new(),
    }
}

/// Loads the script (errors before anything runs).
fn load_script(args: &DemoArgs) -> Result<Script> {
    match (&args.script, &args.name) {
        (Some(path), _) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the script {}", path.display()))?;
            Ok(lab::parse(&path.display().to_string(), &text)?)
        }
        (None, Some(name)) => {
            let Some(s) = lab::scenario(name) else {
                let names: Vec<_> = lab::scenarios().iter().map(|s| s.name).collect();
                bail!(
                    "no scenario named `{name}`. The scenarios are: {}. (`synack list` describes them.)",
                    names.join(", ")
                );
            };
            Ok(lab::parse(&format!("{}.txt", s.name), s.text)?)
        }
        (None, None) => bail!(
            "name a scenario (see `synack list`) or pass --script FILE; on a terminal, \
             `synack demo` without a name opens the scenario picker"
        ),
    }
}

/// Prints an error and its causes, one per line, the way a user reads them.
fn report(e: &anyhow::Error) {
    let color = io::stderr().is_terminal();
    let (pre, post) = if color {
        ("\x1b[1;31m", "\x1b[0m")
    } else {
        ("", "")
    };
    // Errors quote what the user or the system gave (a file name, an
    // interface's name, a script's line): its control bytes stay text.
    eprintln!("{pre}synack: error:{post} {}", printable(&e.to_string()));
    // A cause the message above already says (the OS error at its end) is
    // not said twice.
    let mut said = e.to_string();
    for cause in e.chain().skip(1) {
        let text = cause.to_string();
        if !said.contains(&text) {
            eprintln!("  caused by: {}", printable(&text));
        }
        said = text;
    }
}

/// `s` with its line breaks kept and every other control character replaced.
fn printable(s: &str) -> String {
    s.split('\n').map(sanitize).collect::<Vec<_>>().join("\n")
}
