//! The command line (clap derive). Parsing only: `main` turns it into a mode.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::builder::{PossibleValue, StringValueParser, TypedValueParser};
use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};

use synack::i18n::{Lang, Theme};
use synack::output::Format;

pub mod generate;

#[derive(Debug, Parser)]
#[command(
    name = "synack",
    version,
    about = "Makes TCP visible: packets, socket calls and kernel states on one timeline",
    long_about = "synack runs a real client and server on the real Linux stack in a private \
                  network namespace, captures their packets and shows every packet, socket call \
                  and state change on one timeline. It also watches live traffic on any port \
                  and replays capture files.\n\nOn a terminal it opens a live screen; without a \
                  command it opens the scenario picker. With --json or --text, or when stdout is \
                  not a terminal, it prints one line per event instead (without a command: the \
                  default demo, then the list of scenarios)."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Print one JSON object per event (line-delimited, flushed per line).
    #[arg(long, global = true, conflicts_with = "text")]
    pub json: bool,

    /// Print one readable line per event.
    #[arg(long, global = true)]
    pub text: bool,

    /// Language of the screen and the narration (default: the defaults file's, else from LC_ALL / LANG).
    #[arg(long, global = true, value_enum)]
    pub lang: Option<Lang>,

    /// Colours of the screen (and of --export svg). For a projector: contrast. [default: the defaults file's, else dark]
    #[arg(long, global = true, value_enum)]
    pub theme: Option<Theme>,

    /// Rows the screen keeps; older ones are dropped (and it says so). [default: the defaults file's, else 100000]
    #[arg(long, global = true, value_name = "N", value_parser = parse_max_rows)]
    pub max_rows: Option<u64>,

    /// The defaults file's pace, for a demo on screen without --pace.
    #[arg(skip)]
    pub screen_pace: Option<f64>,

    /// Also record the run to FILE: every event with each packet's bytes, after a header
    /// (what ran, where, when). `synack replay FILE` plays it anywhere, without a lab.
    #[arg(long, global = true, value_name = "FILE")]
    pub record: Option<PathBuf>,

    /// Internal: also write the model's inputs to FILE (the tests' recorded fixtures).
    #[arg(
        long,
        global = true,
        value_name = "FILE",
        hide = true,
        conflicts_with = "record"
    )]
    pub record_inputs: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a scenario in the private lab: a real client and server, their packets and calls.
    Demo(DemoArgs),
    /// List the built-in scenarios.
    List,
    /// Say what this machine lets synack do (lab, capture, tracepoint, terminal) and how to unlock the rest.
    Doctor(DoctorArgs),
    /// Explain a state, packet, note, call, errno, lab action, scenario or topic
    /// (without a name: list them all).
    Explain(ExplainArgs),
    /// Capture live TCP/UDP traffic on an interface.
    Watch(WatchArgs),
    /// Replay a capture file (pcap or pcapng).
    Read(ReadArgs),
    /// Play a session recording (made with --record), or the built-in recording of a
    /// scenario (`synack replay handshake`): no lab, no privilege needed.
    Replay(ReplayArgs),
    /// Print a shell completion script (bash, zsh or fish).
    #[command(
        long_about = "Print a shell completion script: it completes the commands, their \
                      options and the scenario names of `synack demo`. bash: add \
                      `source <(synack completions bash)` to ~/.bashrc. zsh: \
                      `synack completions zsh > DIR/_synack` for a DIR in $fpath. fish: \
                      `synack completions fish > ~/.config/fish/completions/synack.fish`. \
                      The .deb installs all three."
    )]
    Completions {
        /// The shell to complete in.
        #[arg(value_enum)]
        shell: generate::Shell,
    },
    /// Print the man page (roff): `synack man | man -l -`.
    Man,
    /// Internal: a lab peer process (client or server), driven over stdin.
    #[command(name = "__peer", hide = true)]
    Peer { name: String },
}

#[derive(Debug, Default, Args)]
#[command(group(ArgGroup::new("files").args(["write", "output"]).multiple(true)))]
pub struct DemoArgs {
    /// Scenario name (see `synack list`). Without it, on a terminal, the scenario picker opens.
    #[arg(value_parser = ScenarioName, hide_possible_values = true)]
    pub name: Option<String>,
    /// Wait before each step: Space (on screen) or Enter (with --text/--json) runs it.
    #[arg(long)]
    pub step: bool,
    /// Seconds between steps (default: 0.8 on screen, 0 with --text/--json; 0 = as fast as the script).
    #[arg(long, value_name = "SECONDS", value_parser = parse_pace)]
    pub pace: Option<f64>,
    /// Run the scenario over IPv6 (::1).
    #[arg(long)]
    pub ipv6: bool,
    /// Run your own scenario script instead of a built-in one.
    #[arg(long, value_name = "FILE", conflicts_with = "name")]
    pub script: Option<PathBuf>,
    /// Also write the lab's packets to a pcap file (for Wireshark); never over an existing file.
    #[arg(long, short, value_name = "FILE")]
    pub write: Option<PathBuf>,
    /// Let --write or --output replace an existing file.
    #[arg(long, requires = "files")]
    pub force: bool,
    /// Quiz the class: before each step, guess what the real stack will do (1–4), then watch.
    #[arg(long, conflicts_with = "export")]
    pub quiz: bool,
    #[command(flatten)]
    pub export: ExportArgs,
}

/// `--export`'s formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Export {
    /// A Mermaid sequence diagram (text; GitHub, GitLab and many editors draw it).
    Mermaid,
    /// A standalone SVG drawing (opens in a browser or Inkscape).
    Svg,
}

/// A handout of the run instead of the screen or the event lines.
#[derive(Debug, Default, Args)]
pub struct ExportArgs {
    /// Write the run's ladder as a diagram when it ends: a Mermaid sequence diagram or an SVG drawing.
    #[arg(long, value_enum, value_name = "FORMAT", conflicts_with_all = ["json", "text"])]
    pub export: Option<Export>,
    /// With --export: only connection N (the `conn` number of --json's events).
    #[arg(long, value_name = "N", requires = "export", value_parser = parse_conn)]
    pub conn: Option<u32>,
    /// With --export: write the diagram to FILE instead of stdout; never over an existing file.
    #[arg(long, short, value_name = "FILE", requires = "export")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Interface to capture on.
    #[arg(long, short, default_value = "lo")]
    pub iface: String,
    /// Only packets to or from this port (repeatable).
    #[arg(long, short, value_name = "N")]
    pub port: Vec<u16>,
    /// Only packets to or from this address (repeatable).
    #[arg(long, value_name = "ADDR")]
    pub host: Vec<IpAddr>,
    /// Stop after this many seconds.
    #[arg(long, value_name = "SECS", value_parser = parse_seconds)]
    pub duration: Option<f64>,
    /// Stop after this many packets.
    #[arg(long, short = 'c', value_name = "N")]
    pub count: Option<u64>,
    /// Also write the captured packets to a pcap file; never over an existing file.
    #[arg(long, short, value_name = "FILE")]
    pub write: Option<PathBuf>,
    /// Let --write replace an existing file.
    #[arg(long, requires = "write")]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Print the AppArmor profile that lets this binary's rootless lab make
    /// its user namespace (Ubuntu 23.10+), to install in /etc/apparmor.d/.
    #[arg(long)]
    pub apparmor_profile: bool,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// What to explain: `time-wait`, `SYN-ACK`, `ECONNRESET`, `backlog`, or
    /// KIND:NAME (`state:TIME-WAIT`, `scenario:close`).
    pub topic: Option<String>,
}

#[derive(Debug, Args)]
pub struct ReadArgs {
    /// A pcap or pcapng file (recognised by its content).
    pub file: PathBuf,
    /// Let --output replace an existing file.
    #[arg(long, requires = "output")]
    pub force: bool,
    #[command(flatten)]
    pub export: ExportArgs,
}

/// A demo's scenario name. Any name parses: `main` answers an unknown one
/// with the list of scenarios, as it does a name in a script. The built-in
/// scenarios are its possible values only so that the shell completions
/// offer them (`synack demo <TAB>`); `--help` does not list them.
#[derive(Clone, Copy, Debug)]
struct ScenarioName;

impl TypedValueParser for ScenarioName {
    type Value = String;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<String, clap::Error> {
        StringValueParser::new().parse_ref(cmd, arg, value)
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(
            synack::lab::scenarios()
                .iter()
                .map(|s| PossibleValue::new(s.name).help(s.summary)),
        ))
    }
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// A recording made with --record, or a scenario's name for its built-in recording.
    #[arg(value_name = "FILE|NAME")]
    pub recording: PathBuf,
    /// Wait before each step: Space (on screen) or Enter (with --text/--json) plays it.
    #[arg(long)]
    pub step: bool,
    /// Seconds between steps on screen (default: 0.8; 0 = as fast as recorded).
    #[arg(long, value_name = "SECONDS", value_parser = parse_pace)]
    pub pace: Option<f64>,
    /// Quiz the class: before each step, guess what the recorded stack did (1–4), then watch.
    #[arg(long, conflicts_with = "export")]
    pub quiz: bool,
    /// Let --output replace an existing file.
    #[arg(long, requires = "output")]
    pub force: bool,
    #[command(flatten)]
    pub export: ExportArgs,
}

fn parse_max_rows(s: &str) -> Result<u64, String> {
    match s.parse::<u64>() {
        Ok(n) if n >= 100 => Ok(n),
        _ => Err(format!(
            "`{s}` is not a row count of 100 or more (the screen keeps the newest N rows; e.g. 100000)"
        )),
    }
}

fn parse_conn(s: &str) -> Result<u32, String> {
    match s.parse::<u32>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!(
            "`{s}` is not a connection number: 1, 2 … as in the `conn` of --json's events"
        )),
    }
}

fn parse_pace(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && (0.0..=3600.0).contains(&v) => Ok(v),
        _ => Err(format!(
            "`{s}` is not a number of seconds between 0 and 3600 (e.g. 0.8, or 0 for no pause)"
        )),
    }
}

fn parse_seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!(
            "`{s}` is not a positive number of seconds (e.g. 5 or 0.5)"
        )),
    }
}

/// Rows the screen keeps unless told.
pub const DEFAULT_MAX_ROWS: u64 = 100_000;

impl Cli {
    /// `--json` or `--text`: the headless format asked for, if any.
    #[must_use]
    pub fn format(&self) -> Option<Format> {
        if self.json {
            Some(Format::Json)
        } else if self.text {
            Some(Format::Text)
        } else {
            None
        }
    }

    /// `--export` and its options, when the command asked for a diagram;
    /// with whether `--force` was given.
    #[must_use]
    pub fn export(&self) -> Option<(Export, &ExportArgs, bool)> {
        let (args, force) = match &self.command {
            Some(Command::Demo(d)) => (&d.export, d.force),
            Some(Command::Read(r)) => (&r.export, r.force),
            Some(Command::Replay(r)) => (&r.export, r.force),
            _ => return None,
        };
        args.export.map(|e| (e, args, force))
    }

    /// Why `--export` cannot be: --json or --text asked for another output.
    #[must_use]
    pub fn export_conflict(&self) -> Option<String> {
        let (format, ..) = self.export()?;
        let other = self.format()?;
        let name = |o| match o {
            Format::Json => "--json",
            Format::Text => "--text",
        };
        Some(format!(
            "--export {} writes a diagram when the run ends; {} prints the events as they happen: choose one",
            match format {
                Export::Mermaid => "mermaid",
                Export::Svg => "svg",
            },
            name(other)
        ))
    }

    /// Where `--record` (or `--record-inputs`) writes the run.
    #[must_use]
    pub fn record_to(&self) -> Option<synack::run::RecordTo> {
        let (path, inputs) = match (&self.record, &self.record_inputs) {
            (Some(p), _) => (p, false),
            (None, Some(p)) => (p, true),
            (None, None) => return None,
        };
        Some(synack::run::RecordTo {
            path: path.clone(),
            inputs,
            lang: self.language(),
        })
    }

    /// `--lang`, else the environment's language.
    #[must_use]
    pub fn language(&self) -> Lang {
        self.lang.unwrap_or_else(Lang::from_env)
    }

    /// `--theme`, else dark.
    #[must_use]
    pub fn theme(&self) -> Theme {
        self.theme.unwrap_or_default()
    }

    /// `--max-rows`, else 100,000.
    #[must_use]
    pub fn max_rows(&self) -> u64 {
        self.max_rows.unwrap_or(DEFAULT_MAX_ROWS)
    }

    /// What the command line did not say, from the defaults file: flags win.
    /// The file's pace is a screen's (a printed demo runs as fast as its
    /// script unless --pace says otherwise).
    pub fn fill_in(&mut self, d: &synack::config::Defaults) {
        self.lang = self.lang.or(d.lang);
        self.theme = self.theme.or(d.theme);
        self.max_rows = self.max_rows.or(d.max_rows);
        self.screen_pace = d.pace;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn watch_rejects_bad_duration() {
        let err = Cli::try_parse_from(["synack", "watch", "--duration", "0"]).unwrap_err();
        assert!(
            err.to_string().contains("positive number of seconds"),
            "{err}"
        );
    }

    #[test]
    fn json_and_text_conflict() {
        assert!(Cli::try_parse_from(["synack", "--json", "--text", "list"]).is_err());
    }

    #[test]
    fn demo_takes_a_name_or_a_script_not_both() {
        assert!(Cli::try_parse_from(["synack", "demo", "--script", "x.txt"]).is_ok());
        assert!(Cli::try_parse_from(["synack", "demo", "close", "--script", "x.txt"]).is_err());
        let cli = Cli::try_parse_from(["synack", "demo", "close", "--ipv6", "--json"]).unwrap();
        assert_eq!(cli.format(), Some(Format::Json));
        let cli = Cli::try_parse_from(["synack", "demo"]).unwrap();
        assert_eq!(cli.format(), None);
    }

    #[test]
    fn force_needs_a_file_to_write() {
        assert!(Cli::try_parse_from(["synack", "watch", "--force"]).is_err());
        assert!(Cli::try_parse_from(["synack", "demo", "close", "--force"]).is_err());
        let cli =
            Cli::try_parse_from(["synack", "demo", "close", "-w", "x.pcap", "--force"]).unwrap();
        assert!(matches!(
            cli.command,
            Some(Command::Demo(DemoArgs {
                force: true,
                write: Some(_),
                ..
            }))
        ));
    }

    #[test]
    fn export_takes_a_format_a_connection_and_a_file() {
        let cli = Cli::try_parse_from([
            "synack", "demo", "close", "--export", "svg", "--conn", "1", "-o", "c.svg",
        ])
        .unwrap();
        let (format, args, force) = cli.export().unwrap();
        assert_eq!(format, Export::Svg);
        assert_eq!(args.conn, Some(1));
        assert!(!force);
        let cli = Cli::try_parse_from([
            "synack", "read", "x.pcap", "--export", "mermaid", "--output", "x.mmd", "--force",
        ])
        .unwrap();
        assert!(matches!(cli.export(), Some((Export::Mermaid, _, true))));
        assert!(
            Cli::try_parse_from(["synack", "demo", "close"])
                .unwrap()
                .export()
                .is_none()
        );
        // Demo's --force serves --output as well as --write.
        assert!(
            Cli::try_parse_from([
                "synack", "demo", "close", "--export", "svg", "-o", "c.svg", "--force"
            ])
            .is_ok()
        );
    }

    #[test]
    fn export_refuses_what_it_cannot_do() {
        let err = Cli::try_parse_from(["synack", "demo", "close", "--export", "png"]).unwrap_err();
        assert!(err.to_string().contains("mermaid"), "{err}");
        let err =
            Cli::try_parse_from(["synack", "demo", "close", "--export", "svg", "--conn", "0"])
                .unwrap_err();
        assert!(err.to_string().contains("connection number"), "{err}");
        // --conn and --output mean nothing without --export.
        assert!(Cli::try_parse_from(["synack", "demo", "close", "--conn", "1"]).is_err());
        assert!(Cli::try_parse_from(["synack", "read", "x.pcap", "-o", "x.svg"]).is_err());
        assert!(Cli::try_parse_from(["synack", "read", "x.pcap", "--force"]).is_err());
        // One output at a time: clap sees a --json given after the
        // subcommand; before it, `export_conflict` does.
        let cli =
            Cli::try_parse_from(["synack", "--json", "demo", "close", "--export", "svg"]).unwrap();
        assert!(cli.export_conflict().unwrap().contains("--json"));
        let cli = Cli::try_parse_from(["synack", "demo", "close", "--export", "svg"]).unwrap();
        assert_eq!(cli.export_conflict(), None);
        assert!(
            Cli::try_parse_from(["synack", "demo", "close", "--export", "svg", "--text"]).is_err()
        );
    }

    #[test]
    fn explain_takes_an_optional_topic_and_the_global_lang() {
        let cli = Cli::try_parse_from(["synack", "explain", "--lang", "zh", "syn"]).unwrap();
        assert_eq!(cli.language(), synack::i18n::Lang::Zh);
        assert!(matches!(
            cli.command,
            Some(Command::Explain(ExplainArgs { topic: Some(ref t) })) if t == "syn"
        ));
        let cli = Cli::try_parse_from(["synack", "explain"]).unwrap();
        assert!(matches!(
            cli.command,
            Some(Command::Explain(ExplainArgs { topic: None }))
        ));
    }

    #[test]
    fn pace_and_lang_are_checked() {
        assert!(Cli::try_parse_from(["synack", "demo", "close", "--pace", "-1"]).is_err());
        assert!(Cli::try_parse_from(["synack", "demo", "close", "--pace", "nan"]).is_err());
        let cli = Cli::try_parse_from(["synack", "demo", "close", "--pace", "0"]).unwrap();
        assert!(
            matches!(cli.command, Some(Command::Demo(DemoArgs { pace: Some(p), .. })) if p == 0.0)
        );
        let cli = Cli::try_parse_from(["synack", "--lang", "zh", "list"]).unwrap();
        assert_eq!(cli.language(), synack::i18n::Lang::Zh);
        assert!(Cli::try_parse_from(["synack", "--max-rows", "5"]).is_err());
    }
}
