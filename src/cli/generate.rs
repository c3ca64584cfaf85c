//! What a package ships beside the binary, made from the command line's own
//! definition so that it cannot drift from it: the shell completion scripts
//! (`synack completions SHELL`) and the man page (`synack man`).

use std::io;

use clap::{CommandFactory, ValueEnum};
use clap_mangen::Man;
use roff::{Roff, bold, roman};

use super::Cli;

/// The shells `synack completions` writes a script for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

/// The completion script for `shell`.
#[must_use]
pub fn completions(shell: Shell) -> Vec<u8> {
    let shell = match shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    let mut cmd = shown(&Cli::command());
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "synack", &mut out);
    if shell == clap_complete::Shell::Fish {
        out.extend(fish_positionals(&cmd).bytes());
    }
    out
}

/// The values a command's positional argument offers (`synack demo NAME`'s
/// scenarios, `synack completions SHELL`'s shells), for fish:
/// clap_complete's fish script completes only options and commands.
fn fish_positionals(cmd: &clap::Command) -> String {
    let quote = |s: &str| format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"));
    let mut lines = String::from("\n# The values of positional arguments.\n");
    for sub in cmd.get_subcommands() {
        for value in sub
            .get_positionals()
            .flat_map(clap::Arg::get_possible_values)
            .filter(|v| !v.is_hide_set())
        {
            let help = value
                .get_help()
                .map(|h| format!(" -d {}", quote(&h.to_string())))
                .unwrap_or_default();
            lines.push_str(&format!(
                "complete -c synack -n \"__fish_synack_using_subcommand {}\" -f -a {}{help}\n",
                sub.get_name(),
                quote(value.get_name()),
            ));
        }
    }
    lines
}

/// `cmd` without what it hides (the lab's internal `__peer`, `--record-inputs`):
/// clap_complete's scripts would offer hidden commands and options too.
/// Built again from the parts, since a clap command cannot drop one.
fn shown(cmd: &clap::Command) -> clap::Command {
    let args: Vec<&clap::Arg> = cmd.get_arguments().filter(|a| !a.is_hide_set()).collect();
    // A group names its arguments: only the shown ones stay in it.
    let groups = cmd.get_groups().map(|g| {
        let mut g = g.clone();
        clap::ArgGroup::new(g.get_id().clone())
            .args(
                g.get_args()
                    .filter(|id| args.iter().any(|a| a.get_id() == *id))
                    .cloned(),
            )
            .required(g.is_required_set())
            .multiple(g.is_multiple())
    });
    let mut out = clap::Command::new(cmd.get_name().to_owned())
        .args(args.iter().map(|&a| a.clone()))
        .groups(groups)
        .subcommands(
            cmd.get_subcommands()
                .filter(|s| !s.is_hide_set())
                .map(shown),
        );
    if let Some(about) = cmd.get_about() {
        out = out.about(about.clone());
    }
    if cmd.get_version().is_some() {
        out = out.version(env!("CARGO_PKG_VERSION"));
    }
    out
}

/// The man page, roff: the top level as clap_mangen writes it, then each
/// command with its own options (the options every command takes are
/// listed once, at the top), the scenarios and the privileges synack needs.
pub fn man() -> io::Result<Vec<u8>> {
    let mut cmd = Cli::command();
    cmd.build();
    // The version stands where the date would: an empty date would shift
    // `.TH`'s arguments (clap_mangen writes it as no argument at all).
    let page = Man::new(cmd.clone())
        .title("SYNACK")
        .date(env!("CARGO_PKG_VERSION"))
        .source("synack")
        .manual("User Commands");
    let mut out = Vec::new();
    page.render_title(&mut out)?;
    page.render_name_section(&mut out)?;
    page.render_synopsis_section(&mut out)?;
    page.render_description_section(&mut out)?;
    page.render_options_section(&mut out)?;

    out.extend(Roff::new().control("SH", ["COMMANDS"]).to_roff().bytes());
    for sub in cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
    {
        let name = sub.get_bin_name().unwrap_or_else(|| sub.get_name());
        out.extend(Roff::new().control("SS", [name]).to_roff().bytes());
        let sub = Man::new(sub.clone().mut_args(|a| {
            let global = a.is_global_set() || a.get_id() == "help";
            a.hide(global)
        }));
        let mut part = Vec::new();
        sub.render_synopsis_section(&mut part)?;
        part.extend(b".PP\n");
        sub.render_description_section(&mut part)?;
        sub.render_options_section(&mut part)?;
        out.extend(without_headings(&part).bytes());
    }

    let mut roff = Roff::new();
    roff.control("SH", ["SCENARIOS"]);
    roff.text([roman(
        "The scenarios of synack demo NAME (synack explain scenario:NAME tells more):",
    )]);
    for s in synack::lab::scenarios() {
        roff.control("TP", [])
            .text([bold(s.name)])
            .text([roman(s.summary)]);
    }
    roff.control("SH", ["PRIVILEGES"]);
    roff.text([roman(
        "demo runs its lab in a private network namespace: as root, or as any user where \
         unprivileged user namespaces are allowed. Ubuntu 24.04 and later allow them only to \
         programs that an AppArmor profile lets; the package's profile \
         /etc/apparmor.d/synack does so for /usr/bin/synack.",
    )]);
    roff.control("PP", []);
    roff.text([roman(
        "watch needs root or the capabilities CAP_NET_RAW and CAP_NET_ADMIN: run it with \
         sudo, or give them to the binary once with \
         sudo setcap cap_net_raw,cap_net_admin+eip /usr/bin/synack (again after each \
         upgrade). synack gives up root or its capabilities as soon as the capture is open.",
    )]);
    roff.control("SH", ["SEE ALSO"]);
    roff.text([roman("tcp(7), ss(8), tcpdump(8), apparmor(7), setcap(8)")]);
    out.extend(roff.to_roff().bytes());

    page.render_version_section(&mut out)?;
    // Each rendered part begins with roff's apostrophe set-up; once is enough.
    Ok(once_preamble(&out).into_bytes())
}

/// A part of a page without its `.SH` headings (a command's synopsis,
/// description and options go under its own `.SS`) and without the preamble.
fn without_headings(part: &[u8]) -> String {
    String::from_utf8_lossy(part)
        .lines()
        .filter(|l| !l.starts_with(".SH ") && !is_preamble(l))
        .fold(String::new(), |acc, l| acc + l + "\n")
}

/// `page` with roff's two preamble lines kept at the top only.
fn once_preamble(page: &[u8]) -> String {
    let text = String::from_utf8_lossy(page);
    let mut seen = 0;
    text.lines()
        .filter(|l| {
            if is_preamble(l) {
                seen += 1;
                seen <= 2
            } else {
                true
            }
        })
        .fold(String::new(), |acc, l| acc + l + "\n")
}

fn is_preamble(line: &str) -> bool {
    line.starts_with(".ie \\n(.g .ds Aq") || line.starts_with(".el .ds Aq")
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::super::{Cli, Command, DemoArgs};
    use super::*;

    #[test]
    fn demo_offers_the_scenarios_but_takes_any_name() {
        let cmd = Cli::command();
        let demo = cmd.find_subcommand("demo").unwrap();
        let name = demo.get_arguments().find(|a| a.get_id() == "name").unwrap();
        let offered: Vec<String> = name
            .get_possible_values()
            .iter()
            .map(|v| v.get_name().to_owned())
            .collect();
        let scenarios: Vec<&str> = synack::lab::scenarios().iter().map(|s| s.name).collect();
        assert_eq!(offered, scenarios);
        // `main` refuses an unknown name in its own words, not clap.
        let cli = Cli::try_parse_from(["synack", "demo", "no-such"]).unwrap();
        assert!(matches!(
            cli.command,
            Some(Command::Demo(DemoArgs { name: Some(ref n), .. })) if n == "no-such"
        ));
    }

    #[test]
    fn completions_and_man_are_commands() {
        let cli = Cli::try_parse_from(["synack", "completions", "fish"]).unwrap();
        assert!(matches!(
            cli.command,
            Some(Command::Completions { shell: Shell::Fish })
        ));
        assert!(Cli::try_parse_from(["synack", "completions"]).is_err());
        assert!(Cli::try_parse_from(["synack", "completions", "tcsh"]).is_err());
        assert!(matches!(
            Cli::try_parse_from(["synack", "man"]).unwrap().command,
            Some(Command::Man)
        ));
    }

    #[test]
    fn the_scripts_and_the_page_leave_out_what_is_hidden() {
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            let script = String::from_utf8(completions(shell)).unwrap();
            assert!(script.contains("handshake"), "{shell:?}");
            assert!(
                !script.contains("__peer") && !script.contains("record-inputs"),
                "{shell:?}"
            );
        }
        let page = String::from_utf8(man().unwrap()).unwrap();
        assert!(page.starts_with(".ie \\n(.g .ds Aq"), "{page}");
        assert_eq!(page.matches(".ds Aq").count(), 2, "one preamble:\n{page}");
        assert_eq!(page.matches("\n.TH ").count(), 1);
        assert!(page.contains(".SS \"synack demo\""), "{page}");
        assert!(
            !page.contains("__peer") && !page.contains("record-inputs"),
            "{page}"
        );
    }
}
