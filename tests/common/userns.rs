//! Lets an ordinary user run the tests that capture packets.
//!
//! Capturing needs `CAP_NET_RAW` over the network namespace. An ordinary
//! user gets it in a user namespace of their own with a network namespace of
//! their own (its own loopback): the test binary re-executes itself there,
//! before its `main`, as `unshare --map-root-user --map-auto --net`. With
//! Debian's `uidmap` (newuidmap and the user's /etc/subuid range) the
//! namespace also has other users (`nobody`, tcpdump's own), so tcpdump can
//! drop privileges and tests can become `nobody`; without it only root is
//! mapped, which is said loudly (tests that need another user fail).
//!
//! What no namespace gives is the host's tracefs: the kernel tracepoint
//! tests live in `tests/host_root.rs`, which reports them as ignored, with
//! the reason, when not run by the host's root.
//!
//! Included with `#[path]` by the test binaries that capture (and by the
//! library's own unit tests); run from an `.init_array` entry.

#![allow(dead_code)]

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

/// Set in the re-executed binary: `map-auto` (users besides root mapped)
/// or `root-only`.
pub const INSIDE: &str = "SYNACK_TEST_USERNS";

/// How this test process can capture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Where {
    /// The host's root: everything, the tracepoint included.
    HostRoot,
    /// Root of a private user + network namespace with a subordinate id
    /// range: capture, other users, tcpdump; not the tracepoint.
    Namespace,
    /// Same, but only root is mapped (no uidmap): no other user exists.
    NamespaceRootOnly,
    /// An ordinary user who could not enter a namespace.
    Unprivileged,
}

/// Where this process runs (see [`Where`]).
pub fn place() -> Where {
    match std::env::var(INSIDE).as_deref() {
        Ok("map-auto") => Where::Namespace,
        Ok("root-only") => Where::NamespaceRootOnly,
        // SAFETY: geteuid has no preconditions and cannot fail.
        _ if unsafe { libc::geteuid() } == 0 && !in_user_namespace() => Where::HostRoot,
        _ => Where::Unprivileged,
    }
}

/// True when this process's user namespace is not the initial one.
pub fn in_user_namespace() -> bool {
    std::fs::read_to_string("/proc/self/uid_map")
        .is_ok_and(|m| m.split_whitespace().collect::<Vec<_>>() != ["0", "0", "4294967295"])
}

fn works(args: &[&str]) -> bool {
    Command::new("unshare")
        .args(args)
        .arg("true")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Brings `lo` up in this (new) network namespace.
fn loopback_up() {
    // SAFETY: an ifreq zeroed then named "lo"; ioctls on a datagram socket
    // we own, closed at the end.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return;
        }
        let mut req: libc::ifreq = std::mem::zeroed();
        for (i, b) in b"lo".iter().enumerate() {
            req.ifr_name[i] = *b as libc::c_char;
        }
        if libc::ioctl(fd, libc::SIOCGIFFLAGS, &raw mut req) == 0 {
            req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
            libc::ioctl(fd, libc::SIOCSIFFLAGS, &raw mut req);
        }
        libc::close(fd);
    }
}

/// Re-executes the test binary in a private user + network namespace when
/// run by an ordinary user; brings `lo` up once inside. Says what it does.
pub fn enter() {
    if std::env::var_os(INSIDE).is_some() {
        loopback_up();
        return;
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        return;
    }
    // Before `main`, std may not have read the arguments yet: the kernel's copy.
    let cmdline = std::fs::read("/proc/self/cmdline").unwrap_or_default();
    let argv: Vec<OsString> = cmdline
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| <std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(a).to_owned())
        .collect::<Vec<std::ffi::OsString>>();
    // Listing tests (`--list`, as IDEs and nextest do) needs no namespace.
    if argv.iter().any(|a| a == "--list") {
        return;
    }
    let full = ["--map-root-user", "--map-auto", "--net", "--"];
    let root_only = ["--map-root-user", "--net", "--"];
    let (args, mode): (&[&str], &str) = if works(&full) {
        (&full, "map-auto")
    } else if works(&root_only) {
        eprintln!(
            "\n*** synack tests: not root, and `unshare --map-auto` failed (install Debian's \
             `uidmap` and give this user a range in /etc/subuid and /etc/subgid): only root is \
             mapped in the test namespace, so tests that become another user will fail ***\n"
        );
        (&root_only, "root-only")
    } else {
        eprintln!(
            "\n*** synack tests: not root, and this user cannot create a user namespace \
             (`unshare --map-root-user --net true` failed: unprivileged user namespaces are \
             disabled here). The capture tests will fail; run them as root. ***\n"
        );
        return;
    };
    let exe = std::env::current_exe().unwrap_or_else(|_| "/proc/self/exe".into());
    let rest = argv.get(1..).unwrap_or_default();
    eprintln!(
        "synack tests: not root: running in a private user + network namespace \
         (unshare {}), where capture works on the namespace's own loopback; the \
         kernel-tracepoint tests need the host's root and are reported as ignored",
        args[..args.len() - 1].join(" ")
    );
    let err = Command::new("unshare")
        .args(args)
        .arg(exe)
        .args(rest)
        .env(INSIDE, mode)
        .exec();
    eprintln!("*** synack tests: could not re-run in a namespace: {err} ***");
}

/// Declares the `.init_array` entry that runs [`enter`] before `main`.
#[macro_export]
macro_rules! enter_test_namespace_before_main {
    ($path:path) => {
        #[used]
        #[unsafe(link_section = ".init_array")]
        static ENTER_TEST_NAMESPACE: extern "C" fn() = {
            extern "C" fn enter() {
                $path();
            }
            enter
        };
    };
}
