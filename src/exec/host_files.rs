//! Which paths of the real host a scenario's processes may use (DESIGN §13: a scenario never
//! reads the host). The places where a host keeps the state runbooks diagnose (`/proc`, `/sys`,
//! `/dev`, `/etc`, `/run`, `/var`, homes, `/opt`, `/usr/local`, kernel modules) are the host's;
//! inside them, only the few files the C library and the base tools read for their own work
//! (the loader's cache, time zone, user names, `/dev/null`, a process's own `/proc/self`) stay
//! usable. Programs, libraries and locales under `/usr` and `/lib` are the tools' machinery and
//! are read as they are; so is scratch space (`/tmp`, `/var/tmp`).

use std::path::{Component, Path, PathBuf};

/// Where a host keeps its state: a path at or under one of these is the host's.
const HOST_STATE: &[&str] = &[
    "/proc",
    "/sys",
    "/dev",
    "/etc",
    "/run",
    "/var",
    "/home",
    "/root",
    "/opt",
    "/mnt",
    "/media",
    "/srv",
    "/boot",
    "/snap",
    "/usr/local",
    "/usr/src",
    "/lib/modules",
    "/usr/lib/modules",
    "/lib/firmware",
    "/usr/lib/firmware",
];

/// Inside those places, what the C library and the base tools read on their own: a script
/// cannot learn the host's state from them that a runbook would diagnose.
const MACHINERY: &[&str] = &[
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/random",
    "/dev/urandom",
    "/dev/tty",
    "/dev/fd",
    "/dev/stdin",
    "/dev/stdout",
    "/dev/stderr",
    "/dev/pts",
    "/dev/ptmx",
    "/dev/shm",
    "/proc/self",
    "/proc/thread-self",
    "/proc/filesystems",
    "/sys/devices/system/cpu/online",
    "/sys/devices/system/cpu/possible",
    "/sys/fs/selinux",
    "/etc/ld.so.cache",
    "/etc/ld.so.preload",
    "/etc/localtime",
    "/etc/timezone",
    "/etc/nsswitch.conf",
    "/etc/passwd",
    "/etc/group",
    "/etc/locale.alias",
    "/etc/hosts",
    "/etc/host.conf",
    "/etc/gai.conf",
    "/etc/resolv.conf",
    "/etc/services",
    "/etc/protocols",
    "/etc/mime.types",
    "/etc/magic",
    "/etc/inputrc",
    "/etc/selinux/config",
    "/var/tmp",
];

/// The paths a scenario's processes may use besides the machinery: the scenario's own folders
/// (its root, its commands, the base tools) and the folders the base tools' programs live in.
#[derive(Debug, Default, Clone)]
pub(crate) struct Allowed {
    pub folders: Vec<PathBuf>,
}

impl Allowed {
    /// Whether `path` (absolute and normalized) is one of the host's, as a process of the scenario
    /// `caller` (its pid, which may read its own `/proc/<pid>`) uses it. A call `harmless_above`
    /// the scenario's own folders (a stat, a `mkdir` of one that exists) may use those.
    pub(crate) fn is_hosts(&self, path: &Path, caller: u32, harmless_above: bool) -> bool {
        let above = |folder: &PathBuf| harmless_above && folder.starts_with(path);
        if self.folders.iter().any(|folder| path.starts_with(folder) || above(folder)) {
            return false;
        }
        if !HOST_STATE.iter().any(|place| path.starts_with(place)) {
            return false;
        }
        if MACHINERY.iter().any(|file| path.starts_with(file)) {
            return false;
        }
        !is_own_proc(path, caller)
    }
}

/// `/proc/<caller>/…`: the process's own entry under its number rather than `self`.
fn is_own_proc(path: &Path, caller: u32) -> bool {
    let mut components = path.components().skip(1);
    components.next() == Some(Component::Normal("proc".as_ref()))
        && components.next().and_then(|c| c.as_os_str().to_str()).and_then(|n| n.parse::<u32>().ok()) == Some(caller)
}

/// `path` as the kernel would start resolving it: joined to `base` (the working folder or the
/// folder a descriptor names) when relative, `.` and `..` folded away. Symbolic links are not
/// followed: a path is judged as the script wrote it.
pub(crate) fn absolute(base: &Path, path: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    let joined = if path.is_absolute() { path.to_path_buf() } else { base.join(path) };
    for component in joined.components() {
        match component {
            Component::Normal(part) => out.push(part),
            Component::ParentDir => {
                out.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed() -> Allowed {
        Allowed { folders: vec![PathBuf::from("/tmp/runbook-test-x/s1"), PathBuf::from("/home/me/.cargo/bin")] }
    }

    #[test]
    fn the_state_runbooks_diagnose_is_the_hosts() {
        let allowed = allowed();
        for path in [
            "/proc/driver/nvidia/version",
            "/proc/1/cmdline",
            "/sys/module/nvidia/version",
            "/dev/nvidia-uvm",
            "/dev/nvidia0",
            "/etc/os-release",
            "/etc/nvidia-container-runtime/config.toml",
            "/var/log/syslog",
            "/run/docker.sock",
            "/home/me/.ollama/models",
            "/usr/local/cuda/version.json",
            "/lib/modules/6.8.0/updates/dkms/nvidia.ko",
            "/proc",
        ] {
            assert!(allowed.is_hosts(Path::new(path), 4242, false), "{path} should be the host's");
        }
    }

    #[test]
    fn the_tools_machinery_and_the_scenarios_own_folders_are_not() {
        let allowed = allowed();
        for path in [
            "/usr/bin/grep",
            "/usr/lib/x86_64-linux-gnu/libc.so.6",
            "/usr/lib/locale/C.utf8/LC_CTYPE",
            "/usr/share/zoneinfo/UTC",
            "/etc/ld.so.cache",
            "/etc/passwd",
            "/dev/null",
            "/dev/fd/63",
            "/proc/self/fd/3",
            "/proc/4242/status",
            "/tmp/scratch",
            "/var/tmp/x",
            "/tmp/runbook-test-x/s1/root/proc/driver/nvidia/version",
            "/home/me/.cargo/bin/rg",
        ] {
            assert!(!allowed.is_hosts(Path::new(path), 4242, false), "{path} should be usable");
        }
        // A neighbour's /proc entry and names that only begin like machinery are the host's.
        assert!(allowed.is_hosts(Path::new("/proc/4243/status"), 4242, false));
        assert!(allowed.is_hosts(Path::new("/etc/passwd-"), 4242, false));
        assert!(allowed.is_hosts(Path::new("/dev/nullx"), 4242, false));
    }

    #[test]
    fn the_folders_above_the_scenarios_own_may_be_looked_at_but_not_listed() {
        let allowed = Allowed { folders: vec![PathBuf::from("/dev/shm/runbook-test-x/s1")] };
        assert!(!allowed.is_hosts(Path::new("/dev"), 1, true));
        assert!(allowed.is_hosts(Path::new("/dev"), 1, false));
        assert!(allowed.is_hosts(Path::new("/dev/nvidia0"), 1, true));
    }

    #[test]
    fn paths_are_judged_after_folding_dots_and_joining_the_working_folder() {
        let cwd = Path::new("/tmp/runbook-test-x/s1/root/home/user");
        assert_eq!(absolute(cwd, Path::new("../../proc/x")), PathBuf::from("/tmp/runbook-test-x/s1/root/proc/x"));
        assert_eq!(absolute(cwd, Path::new("/proc/./driver//nvidia")), PathBuf::from("/proc/driver/nvidia"));
        assert_eq!(absolute(Path::new("/"), Path::new("sys/module")), PathBuf::from("/sys/module"));
        let escape = absolute(cwd, Path::new("../../../../../../../../etc/os-release"));
        assert_eq!(escape, PathBuf::from("/etc/os-release"));
        assert!(allowed().is_hosts(&escape, 1, false));
    }
}
