//! The command line (clap derive). Parsing only: `main` turns it into a mode.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "synack",
    version,
    about = "Makes TCP visible: packets, socket calls and kernel states on one timeline",
    long_about = "synack runs a real client and server on the real Linux stack in a private \
                  network namespace, captures their packets and shows every packet, socket call \
                  and state change on one timeline. It also watches live traffic on any port \
                  and replays capture files.\n\nWithout a command it runs the default demo."
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
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a scenario in the private lab: a real client and server, their packets and calls.
    Demo(DemoArgs),
    /// List the built-in scenarios.
    List,
    /// Capture live TCP/UDP traffic on an interface.
    Watch(WatchArgs),
    /// Replay a capture file (pcap or pcapng).
    Read(ReadArgs),
    /// Internal: a lab peer process (client or server), driven over stdin.
    #[command(name = "__peer", hide = true)]
    Peer { name: String },
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Scenario name (see `synack list`).
    #[arg(required_unless_present = "script")]
    pub name: Option<String>,
    /// Wait for Enter before each step.
    #[arg(long)]
    pub step: bool,
    /// Run the scenario over IPv6 (::1).
    #[arg(long)]
    pub ipv6: bool,
    /// Language of the explanations.
    #[arg(long, value_enum, default_value_t = Lang::En)]
    pub lang: Lang,
    /// Run your own scenario script instead of a built-in one.
    #[arg(long, value_name = "FILE", conflicts_with = "name")]
    pub script: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Lang {
    En,
    Zh,
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
    /// Also write the captured packets to a pcap file.
    #[arg(long, short, value_name = "FILE")]
    pub write: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ReadArgs {
    /// A pcap or pcapng file (recognised by its content).
    pub file: PathBuf,
}

fn parse_seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!(
            "`{s}` is not a positive number of seconds (e.g. 5 or 0.5)"
        )),
    }
}

/// How events are shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputMode {
    Json,
    Text,
}

impl Cli {
    /// `--json` or `--text`; text until the TUI exists.
    #[must_use]
    pub fn output_mode(&self) -> OutputMode {
        if self.json {
            OutputMode::Json
        } else {
            OutputMode::Text
        }
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
    fn demo_needs_a_name_or_script() {
        assert!(Cli::try_parse_from(["synack", "demo"]).is_err());
        assert!(Cli::try_parse_from(["synack", "demo", "--script", "x.txt"]).is_ok());
        let cli = Cli::try_parse_from(["synack", "demo", "close", "--ipv6", "--json"]).unwrap();
        assert_eq!(cli.output_mode(), OutputMode::Json);
    }
}
