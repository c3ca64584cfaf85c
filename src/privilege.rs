//! What synack keeps of its power after set-up, and how it writes files.
//!
//! A capture needs root or `CAP_NET_RAW` only to open its packet socket, and
//! the exact state transitions need root only to set up a tracefs instance.
//! Once those are open, nothing else needs privilege, so `watch` and `read`
//! give it up before the first packet is parsed:
//!
//! - started through sudo (root, with `SUDO_UID`/`SUDO_GID` of another user):
//!   supplementary groups cleared, then gid and uid set to the invoking
//!   user's (real, effective and saved), and a check that root cannot be
//!   regained. glibc applies the change to every thread of the process.
//! - started with file capabilities (`setcap cap_net_raw,cap_net_admin+eip`):
//!   every capability set emptied (effective, permitted, inheritable,
//!   ambient). Capabilities belong to a thread, so this runs before any
//!   thread is started.
//! - in both cases `no_new_privs`: nothing executed later can gain privilege.
//!
//! Root without sudo stays root (there is no user to become), and says so.
//! What the unprivileged process can no longer do itself (removing the
//! tracefs instance at exit) is left to a [`keep_cleanup`] process: forked
//! before the drop, it holds no descriptor but a pipe and does nothing but
//! wait for that pipe to close.
//!
//! Files synack writes are created by [`create_output`]: mode 0644, never
//! through a symbolic link, never over an existing file unless asked, and
//! owned by the invoking user when root writes them for a sudo user.

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// The user who ran `sudo synack …`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Invoker {
    pub uid: u32,
    pub gid: u32,
}

/// The user sudo was run by, when this process is root started through sudo
/// by someone else (`SUDO_UID` and `SUDO_GID` set, not 0).
#[must_use]
pub fn sudo_invoker() -> Option<Invoker> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return None;
    }
    let id = |var: &str| std::env::var(var).ok()?.trim().parse::<u32>().ok();
    let (uid, gid) = (id("SUDO_UID")?, id("SUDO_GID")?);
    (uid != 0).then_some(Invoker { uid, gid })
}

/// What [`drop_privileges`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dropped {
    /// An ordinary user with no capabilities: nothing to drop.
    Nothing,
    /// Root through sudo, now the invoking user.
    ToUser(Invoker),
    /// A user with file capabilities, now without any.
    Capabilities,
    /// Root not started through sudo: there is no user to become.
    KeptRoot,
}

/// Why privileges could not be dropped (the run must not go on).
#[derive(Debug, thiserror::Error)]
pub enum PrivilegeError {
    #[error("cannot give up root for uid {uid}: {call} failed ({source})")]
    Call {
        uid: u32,
        call: &'static str,
        source: io::Error,
    },
    #[error("gave up root for uid {0}, but root could be regained; stopping")]
    Regained(u32),
    #[error("cannot give up capabilities: {call} failed ({source})")]
    Caps {
        call: &'static str,
        source: io::Error,
    },
}

/// Gives up what set-up needed: see the module's description. Call it after
/// every privileged descriptor is open and before any thread that must not
/// keep capabilities is started.
///
/// # Errors
/// A call failed or root could be regained: the process must stop.
pub fn drop_privileges() -> Result<Dropped, PrivilegeError> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        let Some(user) = sudo_invoker() else {
            return Ok(Dropped::KeptRoot);
        };
        become_user(user)?;
        no_new_privs();
        return Ok(Dropped::ToUser(user));
    }
    let caps = capget().map_err(|source| PrivilegeError::Caps {
        call: "capget",
        source,
    })?;
    if caps
        .iter()
        .all(|c| c.effective == 0 && c.permitted == 0 && c.inheritable == 0)
        && !has_ambient()
    {
        return Ok(Dropped::Nothing);
    }
    // SAFETY: prctl with these arguments only changes this thread's ambient set.
    let r = unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL,
            0,
            0,
            0,
        )
    };
    if r != 0 {
        return Err(PrivilegeError::Caps {
            call: "prctl(PR_CAP_AMBIENT_CLEAR_ALL)",
            source: io::Error::last_os_error(),
        });
    }
    capset_empty().map_err(|source| PrivilegeError::Caps {
        call: "capset",
        source,
    })?;
    no_new_privs();
    Ok(Dropped::Capabilities)
}

fn become_user(user: Invoker) -> Result<(), PrivilegeError> {
    let fail = |call| PrivilegeError::Call {
        uid: user.uid,
        call,
        source: io::Error::last_os_error(),
    };
    // SAFETY: these calls take plain integers (and a null list of length 0);
    // glibc applies each to every thread of the process.
    unsafe {
        if libc::setgroups(0, std::ptr::null()) != 0 {
            return Err(fail("setgroups([])"));
        }
        if libc::setresgid(user.gid, user.gid, user.gid) != 0 {
            return Err(fail("setresgid"));
        }
        if libc::setresuid(user.uid, user.uid, user.uid) != 0 {
            return Err(fail("setresuid"));
        }
        // The proof: going back must be impossible now.
        if libc::setuid(0) == 0 || libc::seteuid(0) == 0 {
            return Err(PrivilegeError::Regained(user.uid));
        }
    }
    Ok(())
}

fn no_new_privs() {
    // SAFETY: prctl(PR_SET_NO_NEW_PRIVS, 1) only sets a flag; it cannot fail
    // on kernels since 3.5 and a failure would change nothing we rely on.
    unsafe {
        libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    }
}

/// `_LINUX_CAPABILITY_VERSION_3`: two 32-bit words per set.
const CAP_VERSION_3: u32 = 0x2008_0522;

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

fn capget() -> io::Result<[CapData; 2]> {
    let mut header = CapHeader {
        version: CAP_VERSION_3,
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    // SAFETY: header and data are valid for the version-3 layout (two words).
    let r = unsafe { libc::syscall(libc::SYS_capget, &raw mut header, data.as_mut_ptr()) };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(data)
}

fn capset_empty() -> io::Result<()> {
    let mut header = CapHeader {
        version: CAP_VERSION_3,
        pid: 0,
    };
    let data = [CapData::default(); 2];
    // SAFETY: header and data are valid for the version-3 layout (two words).
    let r = unsafe { libc::syscall(libc::SYS_capset, &raw mut header, data.as_ptr()) };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Whether this process may open a capture without root: `CAP_NET_RAW` and
/// `CAP_NET_ADMIN` permitted (as `setcap cap_net_raw,cap_net_admin+eip`
/// on the binary gives).
#[must_use]
pub fn capture_capabilities() -> bool {
    const CAP_NET_ADMIN: u32 = 12;
    const CAP_NET_RAW: u32 = 13;
    capget().is_ok_and(|d| {
        let p = d[0].permitted;
        p & (1 << CAP_NET_RAW) != 0 && p & (1 << CAP_NET_ADMIN) != 0
    })
}

fn has_ambient() -> bool {
    // Capability numbers run up to CAP_LAST_CAP (40 on current kernels).
    (0..64).any(|cap| {
        // SAFETY: PR_CAP_AMBIENT_IS_SET only reads this thread's ambient set.
        let r =
            unsafe { libc::prctl(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_IS_SET, cap, 0, 0) };
        r == 1
    })
}

/// Forks a process that keeps this one's root to remove `dirs` (tracefs
/// instances) once this process has exited, however it exits. It closes
/// every descriptor but the read end of a pipe whose write end only this
/// process holds, ignores the terminal's signals, and waits for end of file.
///
/// Call it while still root, before [`drop_privileges`].
///
/// # Errors
/// The pipe or the fork failed.
pub fn keep_cleanup(dirs: &[PathBuf]) -> io::Result<()> {
    if dirs.is_empty() {
        return Ok(());
    }
    // Everything the child uses is made before the fork: after it, only
    // system calls (another thread may hold the allocator's lock).
    let paths: Vec<CString> = dirs
        .iter()
        .filter_map(|d| CString::new(d.as_os_str().as_bytes()).ok())
        .collect();
    let mut fds = [0; 2];
    // SAFETY: fds has room for the two descriptors pipe2 returns.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let (read_end, write_end) = (fds[0], fds[1]);
    // SAFETY: the child below calls only async-signal-safe system calls
    // with memory made before the fork, then _exit.
    match unsafe { libc::fork() } {
        -1 => {
            let e = io::Error::last_os_error();
            // SAFETY: both descriptors are ours and open.
            unsafe {
                libc::close(read_end);
                libc::close(write_end);
            }
            Err(e)
        }
        0 => {
            // SAFETY: see above.
            unsafe { cleanup_child(read_end, &paths) }
        }
        _ => {
            // SAFETY: read_end is ours and open; write_end stays open for the
            // life of this process (its close at exit is the signal).
            unsafe {
                libc::close(read_end);
            }
            Ok(())
        }
    }
}

/// The cleanup process's whole life.
///
/// # Safety
/// Only in a child just forked by [`keep_cleanup`].
unsafe fn cleanup_child(read_end: i32, paths: &[CString]) -> ! {
    // SAFETY: plain system calls on integers and on memory made before fork.
    unsafe {
        for sig in [
            libc::SIGINT,
            libc::SIGTERM,
            libc::SIGHUP,
            libc::SIGQUIT,
            libc::SIGPIPE,
        ] {
            libc::signal(sig, libc::SIG_IGN);
        }
        libc::prctl(libc::PR_SET_NAME, c"synack-cleanup".as_ptr(), 0, 0, 0);
        // Hold nothing of the parent's: not its packet socket, not the trace
        // buffers (an open buffer keeps the instance busy), not its output
        // (a reader of the parent's stdout must see end of file at its exit).
        let rfd = read_end as libc::c_uint;
        if rfd > 0 {
            libc::syscall(libc::SYS_close_range, 0u32, rfd - 1, 0u32);
        }
        libc::syscall(libc::SYS_close_range, rfd + 1, u32::MAX, 0u32);
        let mut byte = 0u8;
        loop {
            let n = libc::read(read_end, (&raw mut byte).cast(), 1);
            if n == 0 || (n < 0 && *libc::__errno_location() != libc::EINTR) {
                break;
            }
        }
        // The parent's descriptors may still be closing: retry for ~2 s.
        let pause = libc::timespec {
            tv_sec: 0,
            tv_nsec: 20_000_000,
        };
        for path in paths {
            for _ in 0..100 {
                if libc::rmdir(path.as_ptr()) == 0 || *libc::__errno_location() != libc::EBUSY {
                    break;
                }
                libc::nanosleep(&pause, std::ptr::null_mut());
            }
        }
        libc::_exit(0)
    }
}

/// Whether [`create_output`] may replace an existing file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Replace {
    /// An existing file is an error (the default: nothing is lost).
    #[default]
    No,
    /// `--force`: an existing regular file is truncated (never a link).
    Yes,
}

/// Why an output file could not be created: says what to do.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("{} already exists; pass --force to replace it, or choose another name", .0.display())]
    Exists(PathBuf),
    #[error("{} is a symbolic link; synack does not write through links: remove it or choose another name", .0.display())]
    Symlink(PathBuf),
    #[error("{} is not a regular file; choose another name", .0.display())]
    NotRegular(PathBuf),
    #[error("cannot create {}: {source}{hint}", path.display())]
    Io {
        path: PathBuf,
        source: io::Error,
        hint: &'static str,
    },
}

/// Creates `path` for writing with mode 0644 (less the umask), never through
/// a symbolic link, and never over an existing file unless `replace`. With
/// `owner`, the file is given to that user (root writing for a sudo user).
///
/// # Errors
/// [`OutputError`], each saying what to do.
pub fn create_output(
    path: &Path,
    replace: Replace,
    owner: Option<Invoker>,
) -> Result<File, OutputError> {
    let mut options = std::fs::OpenOptions::new();
    options
        .write(true)
        .mode(0o644)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC);
    match replace {
        // O_EXCL: fails on anything at the path, a dangling link included.
        Replace::No => options.create_new(true),
        Replace::Yes => options.create(true).truncate(true),
    };
    let file = options.open(path).map_err(|source| {
        let is_link = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
        match source.raw_os_error() {
            _ if is_link => OutputError::Symlink(path.to_owned()),
            Some(libc::EEXIST) => OutputError::Exists(path.to_owned()),
            Some(libc::EACCES | libc::EPERM) => OutputError::Io {
                path: path.to_owned(),
                source,
                hint: if sudo_invoker().is_some() || gave_up_root() {
                    " (synack writes as the user who ran sudo, after giving up root)"
                } else {
                    ""
                },
            },
            _ => OutputError::Io {
                path: path.to_owned(),
                source,
                hint: "",
            },
        }
    })?;
    let meta = file.metadata().map_err(|source| OutputError::Io {
        path: path.to_owned(),
        source,
        hint: "",
    })?;
    if !meta.file_type().is_file() {
        return Err(OutputError::NotRegular(path.to_owned()));
    }
    if let Some(user) = owner {
        std::os::unix::fs::fchown(&file, Some(user.uid), Some(user.gid)).map_err(|source| {
            OutputError::Io {
                path: path.to_owned(),
                source,
                hint: "",
            }
        })?;
    }
    Ok(file)
}

/// True when this process started as root and is now an ordinary user (its
/// saved uid is not root while SUDO_UID names it).
fn gave_up_root() -> bool {
    // SAFETY: getuid has no preconditions and cannot fail.
    let uid = unsafe { libc::getuid() };
    std::env::var("SUDO_UID").is_ok_and(|v| v.trim().parse::<u32>() == Ok(uid)) && uid != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir() -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "synack-priv-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn an_existing_file_is_kept_unless_forced() {
        let d = dir();
        let p = d.join("out.pcap");
        std::fs::write(&p, b"precious").unwrap();
        let e = create_output(&p, Replace::No, None).unwrap_err();
        assert!(matches!(e, OutputError::Exists(_)), "{e}");
        assert!(e.to_string().contains("--force"), "{e}");
        assert_eq!(std::fs::read(&p).unwrap(), b"precious");
        drop(create_output(&p, Replace::Yes, None).unwrap());
        assert_eq!(std::fs::read(&p).unwrap(), b"", "--force truncates");
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn a_planted_symlink_is_never_followed() {
        let d = dir();
        let target = d.join("victim");
        std::fs::write(&target, b"keep me").unwrap();
        let link = d.join("out.pcap");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        for replace in [Replace::No, Replace::Yes] {
            let e = create_output(&link, replace, None).unwrap_err();
            assert!(matches!(e, OutputError::Symlink(_)), "{replace:?}: {e}");
        }
        // A dangling link: creating through it would make the target.
        let dangling = d.join("dangling");
        std::os::unix::fs::symlink(d.join("nowhere"), &dangling).unwrap();
        assert!(matches!(
            create_output(&dangling, Replace::Yes, None),
            Err(OutputError::Symlink(_))
        ));
        assert!(!d.join("nowhere").exists());
        assert_eq!(std::fs::read(&target).unwrap(), b"keep me");
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn a_new_file_is_0644_less_the_umask() {
        use std::os::unix::fs::PermissionsExt;
        let d = dir();
        let p = d.join("new.pcap");
        drop(create_output(&p, Replace::No, None).unwrap());
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        // No bit beyond 0644, whatever the umask removed.
        assert_eq!(mode & !0o644, 0, "mode {mode:o}");
        assert_eq!(mode & 0o600, 0o600, "mode {mode:o}");
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn a_directory_is_not_an_output() {
        let d = dir();
        let e = create_output(&d, Replace::Yes, None).unwrap_err();
        assert!(
            matches!(e, OutputError::NotRegular(_) | OutputError::Io { .. }),
            "{e}"
        );
        std::fs::remove_dir_all(d).unwrap();
    }
}
