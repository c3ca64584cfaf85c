//! Entering the lab: a private network namespace, inside a user namespace when
//! we are not root (we are then root inside it, over that namespace only).
//!
//! `unshare(CLONE_NEWUSER)` fails with EINVAL once a second thread exists, so
//! [`enter_lab`] must run first thing in `main`, before any thread starts. A
//! network namespace has no such limit: [`fresh_net`] makes a new one for the
//! calling thread at any time (a restarted lab).

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use super::LabError;

/// The namespace we are in after [`enter_lab`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LabNs {
    /// We are not root on the host: a user namespace maps our uid to root.
    pub rootless: bool,
}

/// Prepares this process for labs: a user namespace when we are not root
/// (we become root over it, and may then make network namespaces). Each run
/// then makes its own network namespace with [`fresh_net`].
///
/// # Errors
/// [`LabError::UserNsDenied`] when the system forbids unprivileged user
/// namespaces, [`LabError::AppArmorRestricted`] when it grants one without
/// capabilities, [`LabError::NetNs`] and [`LabError::Setup`] otherwise.
pub fn enter_lab() -> Result<LabNs, LabError> {
    // SAFETY: plain getters without arguments.
    let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
    let rootless = uid != 0;
    if rootless {
        // SAFETY: unshare takes flags only; on failure nothing changed.
        if unsafe { libc::unshare(libc::CLONE_NEWUSER) } != 0 {
            let e = io::Error::last_os_error();
            return Err(match e.raw_os_error() {
                Some(libc::EINVAL) => LabError::NetNs(e),
                _ => LabError::UserNsDenied {
                    reason: userns_reason(&e),
                },
            });
        }
        let knob = super::apparmor::knob();
        let write = |path: &str, text: String| {
            std::fs::write(path, text).map_err(|source| {
                if super::apparmor::restricts(source.raw_os_error(), knob.as_deref()) {
                    LabError::AppArmorRestricted {
                        reason: format!("writing {path}: {source}"),
                        install: install_hint(),
                    }
                } else {
                    LabError::Setup {
                        what: format!("writing {path}"),
                        source,
                    }
                }
            })
        };
        write("/proc/self/setgroups", "deny".into())?;
        write("/proc/self/uid_map", format!("0 {uid} 1"))?;
        write("/proc/self/gid_map", format!("0 {gid} 1"))?;
    }
    Ok(LabNs { rootless })
}

/// Moves the calling thread into a new, empty network namespace and brings its
/// `lo` up: a clean lab. Other threads stay where they are; threads and
/// processes started from this one afterwards are in the new namespace. Used
/// for every run, so a restarted scenario finds no sockets of the last one
/// (a TIME-WAIT, a listener). Needs [`enter_lab`] first when not root.
///
/// # Errors
/// [`LabError::NetNs`], [`LabError::AppArmorRestricted`], [`LabError::Setup`].
pub fn fresh_net(ns: LabNs) -> Result<(), LabError> {
    // A namespace made from one whose tcp_child_ehash_entries is set gets a
    // hash table of its own for TCP sockets, sized for a lab. sock_diag walks
    // every bucket of the table its namespace uses; the host's global one has
    // ~256k buckets (half a millisecond a walk, 50 walks a second), a lab's
    // own 1024. The setting is written only in namespaces of our own: the
    // first time, a private parent is made just to carry it.
    if !small_child_tables() {
        unshare_net()?;
        let _ = std::fs::write(CHILD_EHASH, LAB_EHASH_BUCKETS);
    }
    unshare_net()?;
    // This namespace's children (a restarted lab) get a small table too.
    let _ = std::fs::write(CHILD_EHASH, LAB_EHASH_BUCKETS);
    if let Err(e) = bring_lo_up() {
        // Without the knob, EPERM here is still the restriction's doing
        // on kernels that apply it without saying so.
        let knob = super::apparmor::knob();
        if ns.rootless
            && (super::apparmor::restricts(e.raw_os_error(), knob.as_deref())
                || e.raw_os_error() == Some(libc::EPERM))
        {
            return Err(LabError::AppArmorRestricted {
                reason: apparmor_reason(&e, knob.as_deref()),
                install: install_hint(),
            });
        }
        return Err(LabError::Setup {
            what: "bringing lo up".into(),
            source: e,
        });
    }
    // Best effort: with TSO on, TCP hands lo 64 KB super-segments whatever
    // the MSS, and a `maxseg` lesson would show one packet where the wire
    // would carry dozens. Without it the stack cuts them to the MSS before
    // capture (the MSS on lo is ~64 KB anyway, so nothing else changes).
    let _ = lo_tso_off();
    Ok(())
}

/// A datagram socket to ask interface ioctls of; it closes when dropped.
fn ioctl_socket() -> io::Result<OwnedFd> {
    // SAFETY: socket() with constant arguments.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a socket just opened, owned by nothing else: OwnedFd
    // closes it once.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `ethtool -K lo tso off`, by ioctl.
fn lo_tso_off() -> io::Result<()> {
    const ETHTOOL_STSO: u32 = 0x1f;
    #[repr(C)]
    struct EthtoolValue {
        cmd: u32,
        data: u32,
    }
    let fd = ioctl_socket()?;
    let mut value = EthtoolValue {
        cmd: ETHTOOL_STSO,
        data: 0,
    };
    // SAFETY: ifreq is plain old data; all-zero is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = *src as libc::c_char;
    }
    req.ifr_ifru.ifru_data = (&raw mut value).cast();
    // SAFETY: fd is a valid socket, req names `lo` and points at value.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::SIOCETHTOOL, &mut req) };
    // The error is read before `fd` closes (when it drops, after this).
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The sysctl giving namespaces made from this one a TCP hash table of their
/// own (Linux ≥ 6.1; 0: they share the global table).
const CHILD_EHASH: &str = "/proc/sys/net/ipv4/tcp_child_ehash_entries";
/// Buckets of a lab's own TCP hash table (a power of two; labs hold a few
/// hundred sockets at most).
const LAB_EHASH_BUCKETS: &str = "1024";

fn small_child_tables() -> bool {
    read_knob(CHILD_EHASH).is_some_and(|v| v != "0")
}

fn unshare_net() -> Result<(), LabError> {
    // SAFETY: unshare takes flags only; on failure nothing changed.
    if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
        return Err(LabError::NetNs(io::Error::last_os_error()));
    }
    Ok(())
}

fn read_knob(path: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_owned())
}

fn userns_reason(e: &io::Error) -> String {
    let mut why = format!("unshare: {e}");
    if read_knob("/proc/sys/kernel/unprivileged_userns_clone").as_deref() == Some("0") {
        why.push_str("; kernel.unprivileged_userns_clone is 0");
    }
    if read_knob("/proc/sys/user/max_user_namespaces").as_deref() == Some("0") {
        why.push_str("; user.max_user_namespaces is 0");
    }
    why
}

/// The commands that install synack's AppArmor profile for this binary.
fn install_hint() -> String {
    let exe = std::env::current_exe().unwrap_or_else(|_| "/usr/bin/synack".into());
    super::apparmor::install(&exe)
}

fn apparmor_reason(e: &io::Error, knob: Option<&str>) -> String {
    match knob {
        Some(v) => {
            format!("bringing lo up: {e}; kernel.apparmor_restrict_unprivileged_userns is {v}")
        }
        None => format!("bringing lo up: {e}"),
    }
}

/// `ip link set lo up`, by ioctl.
fn bring_lo_up() -> io::Result<()> {
    let fd = ioctl_socket()?;
    // SAFETY: ifreq is plain old data; all-zero is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = *src as libc::c_char;
    }
    // SAFETY: fd is a valid socket and req a valid ifreq naming `lo`.
    let mut rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) };
    if rc == 0 {
        // SAFETY: the union member ifru_flags is the one SIOCGIFFLAGS filled.
        unsafe {
            req.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
        }
        // SAFETY: as above.
        rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::SIOCSIFFLAGS, &req) };
    }
    // The error is read before `fd` closes (when it drops, after this).
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Writes `value` to the lab's `/proc/sys/<name with dots as slashes>`.
/// Only `net.*` names: those are per network namespace, so the host is untouched.
///
/// # Errors
/// [`LabError::Sysctl`] when the name is not a `net.` sysctl or cannot be written.
pub fn set_sysctl(name: &str, value: &str) -> Result<(), LabError> {
    if !name.starts_with("net.") || name.contains("..") || name.contains('/') {
        return Err(LabError::Sysctl {
            name: name.to_owned(),
            source: io::Error::new(io::ErrorKind::InvalidInput, "not a net.* sysctl"),
        });
    }
    let path = format!("/proc/sys/{}", name.replace('.', "/"));
    std::fs::write(&path, value).map_err(|source| LabError::Sysctl {
        name: name.to_owned(),
        source,
    })
}
