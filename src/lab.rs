//! The lab: a private network namespace where a real client and server (each
//! its own process, synack re-executed as `__peer NAME`) follow a scenario
//! script, and report every socket call they make.
//!
//! - [`filter`]: the link's rules as socket filters, and as Rust for the model.
//! - [`ns`]: entering the namespace (and a user namespace when not root).
//! - [`script`]: the scenario language, a pure parser.
//! - [`peer`]: the peer process: real libc socket calls, one JSON line each.
//! - [`runner`]: spawns the peers, plays a script, turns their lines into events.

pub mod apparmor;
pub mod filter;
pub mod ns;
pub mod peer;
pub mod runner;
pub mod script;

pub use ns::{LabNs, enter_lab, fresh_net, set_sysctl};
pub use peer::peer_main;
pub use runner::{LabControl, LabOptions, run};
pub use script::{Script, ScriptError, parse};

/// Everything that can stop the lab, each with what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    #[error(
        "cannot create a user namespace for the lab ({reason}). Run synack with sudo, or allow \
         unprivileged user namespaces: `sudo sysctl kernel.unprivileged_userns_clone=1` (Debian, \
         older Ubuntu) and/or `sudo sysctl user.max_user_namespaces=15000`. Without a lab, \
         `synack replay NAME` plays a recording of each built-in scenario made on a real lab \
         (`synack replay handshake`)"
    )]
    UserNsDenied { reason: String },
    #[error(
        "AppArmor keeps synack's lab from its user namespace ({reason}): \
         kernel.apparmor_restrict_unprivileged_userns=1 (Ubuntu 23.10 and later) gives \
         programs without a profile a namespace with no capabilities. Three ways out: \
         (1) install synack's AppArmor profile for this binary: `{install}`; \
         (2) lift the restriction for every program until the next boot: \
         `sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0`; \
         (3) run synack with sudo. `synack doctor` says what this machine allows. Without a \
         lab, `synack replay NAME` plays a recording of each built-in scenario made on a real \
         lab (`synack replay handshake`)"
    )]
    AppArmorRestricted { reason: String, install: String },
    #[error(
        "cannot create the lab's network namespace: {0}. Run synack with sudo, or from a \
         single-threaded start (enter_lab must run before any thread exists). Without a lab, \
         `synack replay NAME` plays a recording of each built-in scenario made on a real lab \
         (`synack replay handshake`)"
    )]
    NetNs(std::io::Error),
    #[error("cannot set up the lab namespace ({what}): {source}")]
    Setup {
        what: String,
        source: std::io::Error,
    },
    #[error(
        "cannot set sysctl {name} in the lab: {source}. The name must exist under /proc/sys \
         (check the spelling) and be per-namespace (net.ipv4.tcp_*, net.core.somaxconn)"
    )]
    Sysctl {
        name: String,
        source: std::io::Error,
    },
    #[error(
        "cannot start the {endpoint} peer ({exe}): {source}. Is the synack binary still there?"
    )]
    Spawn {
        endpoint: String,
        exe: String,
        source: std::io::Error,
    },
    #[error("the {endpoint} peer stopped answering ({what}); see the warnings above")]
    Peer { endpoint: String, what: String },
    #[error("line {line}: {message}")]
    Step { line: usize, message: String },
    #[error(transparent)]
    Script(#[from] ScriptError),
}

impl LabError {
    /// The C name of the OS error behind it, when there is one (`EACCES`).
    #[must_use]
    pub fn errno(&self) -> Option<String> {
        let source = match self {
            LabError::Sysctl { source, .. }
            | LabError::Setup { source, .. }
            | LabError::Spawn { source, .. }
            | LabError::NetNs(source) => source,
            _ => return None,
        };
        source
            .raw_os_error()
            .and_then(peer::errno_name)
            .map(str::to_owned)
    }
}

/// A bundled scenario: its script, compiled in.
#[derive(Clone, Copy, Debug)]
pub struct Scenario {
    pub name: &'static str,
    /// The script's first comment line.
    pub summary: &'static str,
    /// Its Chinese, from the `#zh` line after it.
    pub summary_zh: Option<&'static str>,
    pub text: &'static str,
}

macro_rules! scenario {
    ($name:literal) => {
        (
            $name,
            include_str!(concat!("../assets/scenarios/", $name, ".txt")),
        )
    };
}

const SOURCES: [(&str, &str); 26] = [
    scenario!("handshake"),
    scenario!("data"),
    scenario!("close"),
    scenario!("time-wait"),
    scenario!("kill-peer"),
    scenario!("abort"),
    scenario!("refused"),
    scenario!("backlog"),
    scenario!("backlog-abort"),
    scenario!("half-close"),
    scenario!("keepalive"),
    scenario!("keepalive-reboot"),
    scenario!("heartbeat"),
    scenario!("shared-fd"),
    scenario!("concurrent"),
    scenario!("epoll"),
    scenario!("nonblocking"),
    scenario!("select"),
    scenario!("urgent"),
    scenario!("peek"),
    scenario!("zero-window"),
    scenario!("retransmit"),
    scenario!("loss"),
    scenario!("congestion"),
    scenario!("simultaneous-close"),
    scenario!("udp"),
];

/// Every bundled scenario, in teaching order.
#[must_use]
pub fn scenarios() -> &'static [Scenario] {
    static ALL: std::sync::OnceLock<Vec<Scenario>> = std::sync::OnceLock::new();
    ALL.get_or_init(|| {
        SOURCES
            .iter()
            .map(|&(name, text)| Scenario {
                name,
                summary: script::summary(text),
                summary_zh: script::summary_zh(text),
                text,
            })
            .collect()
    })
}

/// The bundled scenario called `name`.
#[must_use]
pub fn scenario(name: &str) -> Option<&'static Scenario> {
    scenarios().iter().find(|s| s.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bundled_scenario_parses_and_has_a_summary() {
        assert_eq!(scenarios().len(), 26);
        for s in scenarios() {
            let script = parse(&format!("{}.txt", s.name), s.text)
                .unwrap_or_else(|e| panic!("{}: {e}", s.name));
            assert!(!script.steps.is_empty(), "{} has no steps", s.name);
            assert!(!s.summary.is_empty(), "{} has no summary", s.name);
        }
        assert!(scenario("handshake").is_some());
        assert!(scenario("nope").is_none());
    }

    /// A class can switch to Chinese (`l`) at any step: every narrated step
    /// and every summary of a bundled scenario has its Chinese.
    #[test]
    fn every_bundled_narration_has_its_chinese() {
        for s in scenarios() {
            assert!(s.summary_zh.is_some(), "{}: no #zh summary", s.name);
            let script = parse(s.name, s.text).expect("parses");
            for step in &script.steps {
                if let Some(n) = &step.narration {
                    assert!(
                        !n.en.is_empty() && n.zh.as_deref().is_some_and(|z| !z.is_empty()),
                        "{}:{}: narration in one language only: {n:?}",
                        s.name,
                        step.line
                    );
                }
            }
        }
    }
}
