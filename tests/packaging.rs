//! What a package ships beside the binary, checked the way a shell and `man`
//! use it: `synack completions bash|zsh|fish` and `synack man`, run as the
//! real binary. The commands they must name are read from `synack --help`,
//! so a new command that the scripts or the page leave out fails here.

use std::io::Write;
use std::os::fd::{FromRawFd, OwnedFd};
use std::process::{Command, Output, Stdio};

fn synack(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_synack"))
        .args(args)
        .env("LANG", "C")
        .env_remove("LC_ALL")
        .output()
        .expect("synack runs")
}

fn stdout(args: &[&str]) -> String {
    let out = synack(args);
    assert!(out.status.success(), "synack {args:?}: {out:?}");
    String::from_utf8(out.stdout).expect("UTF-8")
}

/// The commands `synack --help` lists (without `help`).
fn commands() -> Vec<String> {
    let help = stdout(&["--help"]);
    let list: Vec<String> = help
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|&c| c != "help")
        .map(str::to_owned)
        .collect();
    for c in [
        "demo",
        "list",
        "explain",
        "watch",
        "read",
        "completions",
        "man",
    ] {
        assert!(list.iter().any(|l| l == c), "{c} not in --help:\n{help}");
    }
    list
}

/// Runs bash with the completion script loaded; `script` follows it.
fn bash_with_completions(script: &str) -> String {
    let exe = env!("CARGO_BIN_EXE_synack");
    let out = Command::new("bash")
        .args(["--norc", "--noprofile", "-c"])
        .arg(format!(
            "source <(\"$1\" completions bash) || exit 9\n{script}"
        ))
        .args(["bash", exe])
        .output()
        .expect("bash runs (the tests need bash)");
    assert!(out.status.success(), "bash: {out:?}");
    String::from_utf8(out.stdout).expect("UTF-8")
}

/// What bash offers after `words` (the last one being completed), as the
/// completion function sees it when Tab is pressed.
fn bash_completes(words: &[&str]) -> Vec<String> {
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let cword = words.len() - 1;
    let prev = if cword > 0 {
        quoted[cword - 1].clone()
    } else {
        "''".to_owned()
    };
    let script = format!(
        "COMP_WORDS=({words}); COMP_CWORD={cword}; COMP_LINE=\"${{COMP_WORDS[*]}}\"\n\
         _synack synack {cur} {prev}\n\
         printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        words = quoted.join(" "),
        cur = quoted[cword],
    );
    bash_with_completions(&script)
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn bash_loads_the_completions() {
    let spec = bash_with_completions("complete -p synack");
    assert!(
        spec.contains("-F _synack") && spec.trim_end().ends_with(" synack"),
        "{spec}"
    );
}

#[test]
fn bash_completes_commands_and_scenario_names() {
    let offered = bash_completes(&["synack", "demo", "ha"]);
    assert!(offered.iter().any(|w| w == "handshake"), "{offered:?}");
    assert!(offered.iter().all(|w| w.starts_with("ha")), "{offered:?}");
    // Every scenario, after the options the demo takes before its name.
    let offered = bash_completes(&["synack", "--lang", "zh", "demo", ""]);
    for name in [
        "handshake",
        "close",
        "time-wait",
        "udp",
        "--step",
        "--script",
    ] {
        assert!(offered.iter().any(|w| w == name), "{name}: {offered:?}");
    }
    let offered = bash_completes(&["synack", ""]);
    for c in commands() {
        assert!(offered.contains(&c), "{c}: {offered:?}");
    }
    // What the command line hides stays hidden: the lab's peer, the test
    // fixtures' --record-inputs; --record (a session file) is offered.
    assert!(
        !offered
            .iter()
            .any(|w| w == "__peer" || w == "--record-inputs"),
        "{offered:?}"
    );
    assert!(offered.iter().any(|w| w == "--record"), "{offered:?}");
    let offered = bash_completes(&["synack", "completions", ""]);
    let shells: Vec<&String> = offered.iter().filter(|w| !w.starts_with('-')).collect();
    assert_eq!(shells, ["bash", "zsh", "fish"], "{offered:?}");
}

#[test]
fn zsh_and_fish_scripts_name_every_command() {
    let zsh = stdout(&["completions", "zsh"]);
    assert!(zsh.starts_with("#compdef synack"), "{zsh}");
    let fish = stdout(&["completions", "fish"]);
    assert!(fish.contains("complete -c synack"), "{fish}");
    for c in commands() {
        assert!(zsh.contains(&format!("'{c}:")), "zsh lacks {c}");
        assert!(fish.contains(&format!("-a \"{c}\"")), "fish lacks {c}");
    }
    for script in [&zsh, &fish] {
        assert!(script.contains("handshake") && script.contains("simultaneous-close"));
        assert!(!script.contains("__peer") && !script.contains("record-inputs"));
    }
}

#[test]
fn an_unknown_shell_is_refused_with_the_choices() {
    let out = synack(&["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("invalid value 'tcsh'") && err.contains("bash, zsh, fish"),
        "{err}"
    );
}

#[test]
fn the_man_page_renders_and_names_every_command() {
    let roff = stdout(&["man"]);
    assert!(roff.contains(".TH SYNACK 1"), "{roff}");
    let mut man = Command::new("man")
        .args(["--warnings", "-l", "-"])
        .env("MANWIDTH", "80")
        .env("MANPAGER", "cat")
        .env("LANG", "C.UTF-8")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("man runs (the tests need man-db: apt-get install man-db)");
    man.stdin
        .take()
        .unwrap()
        .write_all(roff.as_bytes())
        .unwrap();
    let out = man.wait_with_output().unwrap();
    let page = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    // groff's warnings are its complaints about the roff.
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for section in [
        "NAME",
        "SYNOPSIS",
        "OPTIONS",
        "COMMANDS",
        "SCENARIOS",
        "PRIVILEGES",
    ] {
        assert!(page.lines().any(|l| l == section), "no {section}:\n{page}");
    }
    for c in commands() {
        assert!(page.contains(&format!("synack {c}")), "no {c}:\n{page}");
    }
    assert!(
        page.contains("handshake") && page.contains("setcap"),
        "{page}"
    );
    assert!(
        !page.contains("__peer") && !page.contains("--record-inputs"),
        "{page}"
    );
}

/// The scenario names the completions offer are not a list that `demo`
/// checks: an unknown name and `--script` get the answers they always had.
#[test]
fn demo_names_are_still_checked_by_synack() {
    let out = synack(&["demo", "no-such", "--text"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no scenario named `no-such`. The scenarios are: handshake,"),
        "{err}"
    );
    let out = synack(&["demo", "--script", "/nonexistent/x.txt", "--text"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot read the script /nonexistent/x.txt"),
        "{err}"
    );
}

/// `synack man | head` : a reader that is gone before synack writes (a pipe
/// whose reading end is closed) ends it quietly, as the other commands.
#[test]
fn a_reader_that_stops_early_is_no_error() {
    for what in [&["completions", "bash"][..], &["man"]] {
        let mut fds = [0; 2];
        // SAFETY: pipe fills the two descriptors it is given; checked.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        // SAFETY: both are new descriptors that nothing else owns.
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        drop(read);
        let out = Command::new(env!("CARGO_BIN_EXE_synack"))
            .args(what)
            .stdout(Stdio::from(write))
            .output()
            .expect("synack runs");
        assert!(out.status.success(), "{what:?}: {out:?}");
        assert!(out.stderr.is_empty(), "{what:?}: {out:?}");
    }
}
