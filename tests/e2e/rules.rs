//! Every scenario, as fast as the script goes (`--pace 0`, where the races
//! are), as root (tracepoint + walks) and rootless (walks only): its
//! `--json` keeps synack's rules (`json_lines` checks them on every run a
//! test makes). A race found once in eight runs is a bug: each scenario
//! runs twice here, and the rest of the suite runs most of them again.

use crate::states::{Demo, require_kernel, rootless_runner, run_demo};
use crate::support::*;

/// The scenarios `synack list` names.
fn scenarios() -> Vec<String> {
    let out = synack().arg("list").output().expect("synack list");
    assert!(out.status.success(), "synack list failed");
    let names: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("  "))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect();
    assert!(names.len() >= 20, "synack list: {names:?}");
    names
}

fn states_seen(d: &Demo) -> usize {
    d.states.len()
}

#[test]
fn every_scenario_keeps_the_rules_as_root() {
    require_kernel("every_scenario_keeps_the_rules_as_root");
    for name in scenarios() {
        for _ in 0..2 {
            let mut cmd = synack();
            cmd.args(["demo", &name, "--json", "--pace", "0"]);
            let d = run_demo(cmd, &format!("synack demo {name} --json --pace 0"));
            assert!(
                name == "udp" || states_seen(&d) > 0,
                "{name}: no state events at all"
            );
        }
    }
}

#[test]
fn every_scenario_keeps_the_rules_rootless() {
    let test = "every_scenario_keeps_the_rules_rootless";
    let runner = rootless_runner(test);
    // One copy of the binary the unprivileged user may run, for every scenario.
    let exe = private_synack("rootless-rules");
    for name in scenarios() {
        for _ in 0..2 {
            let cmd = runner(&exe, &format!("demo {name} --json --pace 0"));
            let d = run_demo(cmd, &format!("rootless synack demo {name} --json --pace 0"));
            assert!(
                name == "udp" || states_seen(&d) > 0,
                "{name}: no state events at all"
            );
            assert!(
                d.states
                    .iter()
                    .all(|s| s.source == "inferred" || s.source == "kernel"),
                "{name}: {:?}",
                d.states
            );
        }
    }
}
