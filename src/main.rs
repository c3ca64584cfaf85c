//! synack's entry point: parse the command line, enter the lab's namespace
//! when a demo needs it (before any thread exists), then hand over to the app.

use std::io::{self, IsTerminal};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Parser;
use synack::app::run::{self, DemoSetup, Ending, Sink};
use synack::cli::{Cli, Command, DemoArgs, OutputMode};
use synack::lab;

/// The scenario plain `synack` runs: a whole connection's life.
const DEFAULT_DEMO: &str = "close";
/// The lab server's port.
const LAB_PORT: u16 = 7000;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // A peer is already inside the lab: it must not enter another namespace.
    if let Some(Command::Peer { name }) = &cli.command {
        let code = lab::peer_main(name);
        return ExitCode::from(u8::try_from(code).unwrap_or(1));
    }
    let mode = cli.output_mode();
    let result = match &cli.command {
        Some(Command::Watch(args)) => {
            run::watch(args, Sink::new(mode, io::stdout(), args.count)).map(|end| match end {
                // Ctrl-C is how a watch ends.
                Ending::Interrupted => Ending::Done,
                other => other,
            })
        }
        Some(Command::Read(args)) => {
            run::read_file(&args.file, Sink::new(mode, io::stdout(), None))
        }
        Some(Command::List) => {
            print_list();
            Ok(Ending::Done)
        }
        Some(Command::Demo(args)) => demo(args, mode),
        Some(Command::Peer { .. }) => unreachable!("handled above"),
        None => {
            let args = DemoArgs {
                name: Some(DEFAULT_DEMO.to_owned()),
                step: false,
                ipv6: false,
                lang: synack::cli::Lang::En,
                script: None,
            };
            let r = demo(&args, mode);
            if r.is_ok() {
                eprintln!();
                eprintln!("That was `synack demo {DEFAULT_DEMO}`. Every scenario:");
                print_list_to(&mut io::stderr());
            }
            r
        }
    };
    match result {
        Ok(Ending::Done | Ending::OutputClosed) => ExitCode::SUCCESS,
        Ok(Ending::Interrupted) => ExitCode::from(130),
        Err(e) => {
            report(&e);
            ExitCode::FAILURE
        }
    }
}

fn print_list() {
    print_list_to(&mut io::stdout());
}

fn print_list_to(out: &mut dyn io::Write) {
    let width = lab::scenarios()
        .iter()
        .map(|s| s.name.len())
        .max()
        .unwrap_or(0);
    for s in lab::scenarios() {
        let _ = writeln!(out, "  {:<width$}  {}", s.name, s.summary);
    }
    let _ = writeln!(
        out,
        "\nRun one with `synack demo NAME` (add --step to go step by step)."
    );
}

/// Loads the script (errors before anything runs), enters the lab, runs it.
fn demo(args: &DemoArgs, mode: OutputMode) -> Result<Ending> {
    let script = match (&args.script, &args.name) {
        (Some(path), _) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the script {}", path.display()))?;
            lab::parse(&path.display().to_string(), &text)?
        }
        (None, Some(name)) => {
            let Some(s) = lab::scenario(name) else {
                let names: Vec<_> = lab::scenarios().iter().map(|s| s.name).collect();
                bail!(
                    "no scenario named `{name}`. The scenarios are: {}. (`synack list` describes them.)",
                    names.join(", ")
                );
            };
            lab::parse(&format!("{}.txt", s.name), s.text)?
        }
        (None, None) => bail!("name a scenario (see `synack list`) or pass --script FILE"),
    };
    // Before any thread exists: unshare(CLONE_NEWUSER) fails in a threaded process.
    let ns = lab::enter_lab()?;
    if ns.rootless {
        eprintln!(
            "synack: lab in a user namespace (not root): kernel states come from polling and inference"
        );
    }
    let setup = DemoSetup {
        ipv6: args.ipv6,
        step: args.step,
        port: LAB_PORT,
    };
    run::demo(&script, &setup, Sink::new(mode, io::stdout(), None))
}

/// Prints an error and its causes, one per line, the way a user reads them.
fn report(e: &anyhow::Error) {
    let color = io::stderr().is_terminal();
    let (pre, post) = if color {
        ("\x1b[1;31m", "\x1b[0m")
    } else {
        ("", "")
    };
    eprintln!("{pre}synack: error:{post} {e}");
    for cause in e.chain().skip(1) {
        eprintln!("  caused by: {cause}");
    }
}
