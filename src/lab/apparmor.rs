//! Ubuntu's restriction of unprivileged user namespaces
//! (`kernel.apparmor_restrict_unprivileged_userns=1`, 23.10 and later): the
//! namespace is made, but without capabilities, so the lab's first writes
//! (`setgroups`, `uid_map`) or bringing `lo` up fail. Programs that need
//! one get an AppArmor profile with `userns,` for their path; these build
//! synack's, and tell the restriction from other failures.

use std::path::Path;

/// Whether a failed step of the rootless lab's set-up is the AppArmor
/// restriction at work: refused (EPERM or EACCES) while the knob is on.
#[must_use]
pub fn restricts(errno: Option<i32>, knob: Option<&str>) -> bool {
    matches!(errno, Some(libc::EPERM | libc::EACCES)) && knob.map(str::trim) == Some("1")
}

/// The knob's value, when this kernel has it.
#[must_use]
pub fn knob() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/apparmor_restrict_unprivileged_userns")
        .ok()
        .map(|s| s.trim().to_owned())
}

/// The AppArmor profile's name for a binary: `synack` for the packaged
/// `/usr/bin/synack`, a name made from the path otherwise (so that a
/// `cargo install`ed copy can have its own beside the package's).
#[must_use]
pub fn name(exe: &Path) -> String {
    if exe == Path::new("/usr/bin/synack") {
        return "synack".to_owned();
    }
    let tail: String = exe
        .to_string_lossy()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("synack{tail}")
}

/// The AppArmor profile that lets the binary at `exe` create user
/// namespaces (`synack doctor --apparmor-profile`).
#[must_use]
pub fn profile(exe: &Path) -> String {
    let path = exe.to_string_lossy().replace('"', "");
    let name = name(exe);
    format!(
        "# AppArmor profile for synack at {path}: it lets the binary create the\n\
         # user namespace its lab runs in without root, where\n\
         # kernel.apparmor_restrict_unprivileged_userns=1 (Ubuntu 23.10 and later)\n\
         # forbids that to other programs. Install it as /etc/apparmor.d/{name} and\n\
         # load it with `sudo apparmor_parser -r /etc/apparmor.d/{name}`.\n\
         abi <abi/4.0>,\n\
         include <tunables/global>\n\
         \n\
         profile {name} \"{path}\" flags=(unconfined) {{\n  userns,\n\n  include if exists <local/{name}>\n}}\n"
    )
}

/// The commands that install and load the profile for `exe`.
#[must_use]
pub fn install(exe: &Path) -> String {
    let name = name(exe);
    let path = exe.to_string_lossy();
    // The binary that runs is the one the profile is for (another synack
    // may come first on the PATH); quoted for the shell when it must be.
    let run = if path
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+".contains(c))
    {
        path.into_owned()
    } else {
        format!("'{}'", path.replace('\'', r"'\''"))
    };
    format!(
        "{run} doctor --apparmor-profile | sudo tee /etc/apparmor.d/{name} >/dev/null && sudo apparmor_parser -r /etc/apparmor.d/{name}"
    )
}

/// The three ways out of the AppArmor restriction, best first.
#[must_use]
pub fn fixes(exe: &Path) -> Vec<String> {
    vec![
        install(exe),
        "sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0   (every program, until reboot)".to_owned(),
        "sudo synack demo …   (the lab as root, with the kernel's tracepoint)".to_owned(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_restriction_is_told_from_its_errors() {
        // Ubuntu 24.04: uid_map and setgroups writes fail with EPERM, lo's
        // RTM_NEWADDR/SIOCSIFFLAGS with EPERM, some kernels say EACCES.
        assert!(restricts(Some(libc::EPERM), Some("1")));
        assert!(restricts(Some(libc::EACCES), Some("1\n")));
        // The knob off or absent: another cause.
        assert!(!restricts(Some(libc::EPERM), Some("0")));
        assert!(!restricts(Some(libc::EPERM), None));
        // Other errors are not the restriction's.
        assert!(!restricts(Some(libc::ENOSPC), Some("1")));
        assert!(!restricts(None, Some("1")));
    }

    #[test]
    fn the_profile_names_the_binary_and_allows_user_namespaces() {
        let p = profile(Path::new("/usr/bin/synack"));
        assert!(
            p.contains("profile synack \"/usr/bin/synack\" flags=(unconfined)"),
            "{p}"
        );
        assert!(p.contains("  userns,"), "{p}");
        assert!(p.contains("abi <abi/4.0>,"), "{p}");
        let mine = Path::new("/home/a b/.cargo/bin/synack");
        assert_eq!(name(mine), "synack_home_a_b__cargo_bin_synack");
        let p = profile(mine);
        assert!(p.contains("\"/home/a b/.cargo/bin/synack\""), "{p}");
        assert!(install(mine).contains("/etc/apparmor.d/synack_home_a_b__cargo_bin_synack"));
        assert!(
            install(mine).starts_with("'/home/a b/.cargo/bin/synack' doctor --apparmor-profile |"),
            "{}",
            install(mine)
        );
        assert_eq!(fixes(mine).len(), 3);
    }
}
