//! The fence around a scenario's processes (DESIGN §13: anything that would reach outside the
//! scenario fails it, naming what it reached for).
//!
//! A step's process starts under a seccomp filter that hands every `connect`, every `sendto`
//! with an address, and every call that names a file (open, stat, access, readlink, exec,
//! create, remove, rename, …) to a thread of `runbook test` (seccomp user notification). That
//! thread reads the address or path from the process and decides. A connection: a scenario's
//! fixture goes through (a declared address is redirected to the fixture standing in for it),
//! the rest of this host is refused like a closed port, another host or a socket of the real host
//! is refused and noted. A path: the scenario's own folders and the tools' machinery go through;
//! the host's state ([`super::host_files`]) answers "no such file" and is noted. The filter is
//! inherited by everything the step starts and cannot be lifted from inside.
//!
//! Why not namespaces: they would refuse quietly, and a scenario must say what it reached for;
//! they also need privileges a user's `runbook test` may not have. The filter needs none
//! (`no_new_privs` is set for the step's processes, so set-user-ID programs lose their power;
//! scenarios describe commands rather than run privileged ones). It is a test's instrument, not
//! a security boundary: a process that rewrites a path between the check and the call is not
//! what it guards against.

use super::host_files;
use super::probe::sandbox::{Reach, Sandbox};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: u32 = 0xC000_003E;
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: u32 = 0xC000_00B7;
/// Syscall numbers with this bit are the x32 ABI's, another way to the same calls.
#[cfg(target_arch = "x86_64")]
const X32_SYSCALL_BIT: u32 = 0x4000_0000;
#[cfg(not(target_arch = "x86_64"))]
const X32_SYSCALL_BIT: u32 = u32::MAX;

/// Offsets in `struct seccomp_data`.
const DATA_NR: u32 = 0;
const DATA_ARCH: u32 = 4;
/// Where `args` begin; each is 8 bytes, its low half first (little-endian).
const DATA_ARGS: u32 = 16;
/// The low and high halves of `args[4]`, `sendto`'s destination address.
const DATA_ARG4_LOW: u32 = DATA_ARGS + 8 * 4;
const DATA_ARG4_HIGH: u32 = DATA_ARG4_LOW + 4;

fn statement(code: u32, k: u32) -> libc::sock_filter {
    libc::sock_filter { code: code as u16, jt: 0, jf: 0, k }
}

fn jump(code: u32, k: u32, jt: u8, jf: u8) -> libc::sock_filter {
    libc::sock_filter { code: code as u16, jt, jf, k }
}

/// The filter: `connect`, addressed `sendto` and the calls that name files go to the
/// supervisor; `io_uring`, which could connect or open without a syscall of its own, is not
/// available; calls of another ABI are refused.
fn program() -> Vec<libc::sock_filter> {
    use libc::{BPF_ABS, BPF_JEQ, BPF_JGE, BPF_JMP, BPF_K, BPF_LD, BPF_RET, BPF_W};
    let load = BPF_LD | BPF_W | BPF_ABS;
    let ret = BPF_RET | BPF_K;
    let notify = libc::SECCOMP_RET_USER_NOTIF;
    let refuse = libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32;
    let mut program = vec![
        /* 0 */ statement(load, DATA_ARCH),
        /* 1 */ jump(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH, 1, 0),
        /* 2 */ statement(ret, refuse),
        /* 3 */ statement(load, DATA_NR),
        /* 4 */ jump(BPF_JMP | BPF_JGE | BPF_K, X32_SYSCALL_BIT, 0, 1),
        /* 5 */ statement(ret, refuse),
        /* 6 */ jump(BPF_JMP | BPF_JEQ | BPF_K, libc::SYS_connect as u32, 0, 1),
        /* 7 */ statement(ret, notify),
        /* 8 */ jump(BPF_JMP | BPF_JEQ | BPF_K, libc::SYS_io_uring_setup as u32, 0, 1),
        /* 9 */ statement(ret, refuse),
        /* 10 */ jump(BPF_JMP | BPF_JEQ | BPF_K, libc::SYS_sendto as u32, 0, 6),
        /* 11 */ statement(load, DATA_ARG4_LOW),
        /* 12 */ jump(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 3),
        /* 13 */ statement(load, DATA_ARG4_HIGH),
        /* 14 */ jump(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 1),
        /* 15 */ statement(ret, libc::SECCOMP_RET_ALLOW),
        /* 16 */ statement(ret, notify),
    ];
    // 17…: the C library's own calls go through unseen.
    program.extend(library_calls_allowed());
    program.push(statement(load, DATA_NR));
    for (n, call) in PATH_CALLS.iter().enumerate() {
        let to_notify = u8::try_from(PATH_CALLS.len() - n).unwrap_or(u8::MAX);
        program.push(jump(BPF_JMP | BPF_JEQ | BPF_K, call.nr as u32, to_notify, 0));
    }
    program.push(statement(ret, libc::SECCOMP_RET_ALLOW));
    program.push(statement(ret, notify));
    program
}

/// Instructions that allow, without a look, the calls the C library makes for its own work
/// and fall through for everything else (with the accumulator clobbered: the caller reloads
/// the number). Together they are more than half of the calls that name files:
/// - `fstat` as glibc makes it, `newfstatat`/`statx` of an empty path with AT_EMPTY_PATH, one
///   after every open: it asks about a descriptor a judged call opened;
/// - `openat` read-only with close-on-exec and nothing else, how the loader opens libraries
///   and the C library its locale, name-service and time-zone files. Of the base tools only
///   `sort` opens a file it is given that way, and it `stat`s the file first;
/// - `access`, which the loader asks about `/etc/ld.so.preload` with at every start and
///   shells and `sort` ask after a `stat` of the same path.
fn library_calls_allowed() -> Vec<libc::sock_filter> {
    use libc::{BPF_ABS, BPF_ALU, BPF_AND, BPF_JEQ, BPF_JMP, BPF_K, BPF_LD, BPF_RET, BPF_W};
    let load = BPF_LD | BPF_W | BPF_ABS;
    let allow = statement(BPF_RET | BPF_K, libc::SECCOMP_RET_ALLOW);
    let empty_path = libc::AT_EMPTY_PATH as u32;
    let mut program = Vec::new();
    // Each call and the offset of the low half of its flags argument.
    for (nr, flags) in [(libc::SYS_newfstatat, DATA_ARGS + 8 * 3), (libc::SYS_statx, DATA_ARGS + 8 * 2)] {
        program.extend([
            /* +0 */ statement(load, DATA_NR),
            /* +1 */ jump(BPF_JMP | BPF_JEQ | BPF_K, nr as u32, 0, 4),
            /* +2 */ statement(load, flags),
            /* +3 */ statement(BPF_ALU | BPF_AND | BPF_K, empty_path),
            /* +4 */ jump(BPF_JMP | BPF_JEQ | BPF_K, 0, 1, 0),
            /* +5 */ allow,
        ]);
    }
    program.extend([
        /* +0 */ statement(load, DATA_NR),
        /* +1 */ jump(BPF_JMP | BPF_JEQ | BPF_K, libc::SYS_openat as u32, 0, 3),
        /* +2 */ statement(load, DATA_ARGS + 8 * 2),
        /* +3 */ jump(BPF_JMP | BPF_JEQ | BPF_K, libc::O_RDONLY as u32 | libc::O_CLOEXEC as u32, 0, 1),
        /* +4 */ allow,
    ]);
    #[cfg(target_arch = "x86_64")]
    program.extend([
        /* +0 */ statement(load, DATA_NR),
        /* +1 */ jump(BPF_JMP | BPF_JEQ | BPF_K, libc::SYS_access as u32, 0, 1),
        /* +2 */ allow,
    ]);
    program
}

/// A system call that names files: its number, and for each path it takes, the argument that
/// holds the descriptor of the folder a relative path starts from (`None`: the working folder)
/// and the argument that holds the path.
struct PathCall {
    nr: libc::c_long,
    paths: &'static [(Option<usize>, usize)],
    /// Whether it is harmless on the folders above the scenario's own (`/dev` above
    /// `/dev/shm/…`): it only looks (stat, access, readlink, chdir: what shells, `realpath` and
    /// `getcwd` do) or cannot change a folder that exists (`mkdir -p` walks down from `/` that
    /// way). Listing such a folder is reading the host.
    harmless_above: bool,
}

/// `fchmodat2` (Linux 6.6) has the same number on x86_64 and arm64; the libc crate names it
/// for x86_64 only.
const SYS_FCHMODAT2: libc::c_long = 452;

const AT: &[(Option<usize>, usize)] = &[(Some(0), 1)];
const FIRST: &[(Option<usize>, usize)] = &[(None, 0)];
const SECOND: &[(Option<usize>, usize)] = &[(None, 1)];
const TWO: &[(Option<usize>, usize)] = &[(None, 0), (None, 1)];
const TWO_AT: &[(Option<usize>, usize)] = &[(Some(0), 1), (Some(2), 3)];

/// Every call a process can read, write, run or look at a file by name with (`access` aside,
/// see [`library_calls_allowed`]). Calls on a
/// descriptor (`read`, `getdents64`, `fstat`) need none: the descriptor came from one of these.
const PATH_CALLS: &[PathCall] = &[
    PathCall { nr: libc::SYS_openat, paths: AT, harmless_above: false },
    PathCall { nr: libc::SYS_openat2, paths: AT, harmless_above: false },
    PathCall { nr: libc::SYS_newfstatat, paths: AT, harmless_above: true },
    PathCall { nr: libc::SYS_statx, paths: AT, harmless_above: true },
    PathCall { nr: libc::SYS_faccessat, paths: AT, harmless_above: true },
    PathCall { nr: libc::SYS_faccessat2, paths: AT, harmless_above: true },
    PathCall { nr: libc::SYS_readlinkat, paths: AT, harmless_above: true },
    PathCall { nr: libc::SYS_execve, paths: FIRST, harmless_above: false },
    PathCall { nr: libc::SYS_execveat, paths: AT, harmless_above: false },
    PathCall { nr: libc::SYS_chdir, paths: FIRST, harmless_above: true },
    PathCall { nr: libc::SYS_statfs, paths: FIRST, harmless_above: true },
    PathCall { nr: libc::SYS_truncate, paths: FIRST, harmless_above: false },
    PathCall { nr: libc::SYS_getxattr, paths: FIRST, harmless_above: true },
    PathCall { nr: libc::SYS_lgetxattr, paths: FIRST, harmless_above: true },
    PathCall { nr: libc::SYS_listxattr, paths: FIRST, harmless_above: true },
    PathCall { nr: libc::SYS_llistxattr, paths: FIRST, harmless_above: true },
    PathCall { nr: libc::SYS_setxattr, paths: FIRST, harmless_above: false },
    PathCall { nr: libc::SYS_lsetxattr, paths: FIRST, harmless_above: false },
    PathCall { nr: libc::SYS_removexattr, paths: FIRST, harmless_above: false },
    PathCall { nr: libc::SYS_lremovexattr, paths: FIRST, harmless_above: false },
    PathCall { nr: libc::SYS_inotify_add_watch, paths: SECOND, harmless_above: false },
    PathCall { nr: libc::SYS_name_to_handle_at, paths: AT, harmless_above: false },
    PathCall { nr: libc::SYS_mkdirat, paths: AT, harmless_above: true },
    PathCall { nr: libc::SYS_mknodat, paths: AT, harmless_above: false },
    PathCall { nr: libc::SYS_unlinkat, paths: AT, harmless_above: false },
    PathCall { nr: libc::SYS_fchmodat, paths: AT, harmless_above: false },
    PathCall { nr: SYS_FCHMODAT2, paths: AT, harmless_above: false },
    PathCall { nr: libc::SYS_fchownat, paths: AT, harmless_above: false },
    PathCall { nr: libc::SYS_utimensat, paths: AT, harmless_above: false },
    PathCall { nr: libc::SYS_symlinkat, paths: &[(Some(1), 2)], harmless_above: false },
    #[cfg(target_arch = "x86_64")]
    PathCall { nr: libc::SYS_renameat, paths: TWO_AT, harmless_above: false },
    PathCall { nr: libc::SYS_renameat2, paths: TWO_AT, harmless_above: false },
    PathCall { nr: libc::SYS_linkat, paths: TWO_AT, harmless_above: false },
    #[cfg(target_arch = "x86_64")]
    PathCall { nr: libc::SYS_open, paths: FIRST, harmless_above: false },
    #[cfg(target_arch = "x86_64")]
    PathCall { nr: libc::SYS_creat, paths: FIRST, harmless_above: false },
    #[cfg(target_arch = "x86_64")]
    PathCall { nr: libc::SYS_stat, paths: FIRST, harmless_above: true },
    #[cfg(target_arch = "x86_64")]
    PathCall { nr: libc::SYS_lstat, paths: FIRST, harmless_above: true },
    #[cfg(target_arch = "x86_64")]
    PathCall { nr: libc::SYS_readlink, paths: FIRST, harmless_above: true },
    #[cfg(target_arch = "x86_64")]
    PathCall { nr: libc::SYS_mkdir, paths: FIRST, harmless_above: true },
    #[cfg(target_arch = "x86_64")]
    PathCall { nr: libc::SYS_rmdir, paths: FIRST, harmless_above: false },
    #[cfg(target_arch = "x86_64")]
    PathCall { nr: libc::SYS_unlink, paths: FIRST, harmless_above: false },
    #[cfg(target_arch = "x86_64")]
    PathCall { nr: libc::SYS_mknod, paths: FIRST, harmless_above: false },
    #[cfg(target_arch = "x86_64")]
    PathCall { nr: libc::SYS_chmod, paths: FIRST, harmless_above: false },
    #[cfg(target_arch = "x86_64")]
    PathCall { nr: libc::SYS_chown, paths: FIRST, harmless_above: false },
    #[cfg(target_arch = "x86_64")]
    PathCall { nr: libc::SYS_lchown, paths: FIRST, harmless_above: false },
    #[cfg(target_arch = "x86_64")]
    PathCall { nr: libc::SYS_utime, paths: FIRST, harmless_above: false },
    #[cfg(target_arch = "x86_64")]
    PathCall { nr: libc::SYS_utimes, paths: FIRST, harmless_above: false },
    #[cfg(target_arch = "x86_64")]
    PathCall { nr: libc::SYS_futimesat, paths: AT, harmless_above: false },
    #[cfg(target_arch = "x86_64")]
    PathCall { nr: libc::SYS_rename, paths: TWO, harmless_above: false },
    #[cfg(target_arch = "x86_64")]
    PathCall { nr: libc::SYS_link, paths: TWO, harmless_above: false },
    #[cfg(target_arch = "x86_64")]
    PathCall { nr: libc::SYS_symlink, paths: SECOND, harmless_above: false },
];

/// Runs `work` on a thread of its own under the fence: that thread and every thread and process
/// it starts have their connections judged against `sandbox`, by a supervisor thread outside it.
///
/// The filter goes on a thread, not on each child between `fork` and `exec`: a child then
/// inherits it through the ordinary `posix_spawn` (`vfork`-style) that std uses, where a
/// `pre_exec` hook would make every step fork the whole `runbook` process (measured: `runbook
/// test` on the shipped KB 5.7 s → 10.2 s that way).
pub(crate) fn run_fenced<T: Send>(sandbox: Arc<Sandbox>, work: impl FnOnce() -> T + Send) -> Result<T, String> {
    let cannot = |err: io::Error| format!("cannot fence the scenario's network (Linux 5.9 or later): {err}");
    let (awake, wake) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).map_err(|e| cannot(e.into()))?;
    let (send_listener, listener) = std::sync::mpsc::channel::<OwnedFd>();
    let (awake, sandbox) = (&awake, &sandbox);
    std::thread::scope(|scope| {
        // Started before the filter exists, so its own connections (to fixtures) are not judged.
        let supervisor = std::thread::Builder::new().name("scenario-fence".into()).spawn_scoped(scope, move || {
            if let Ok(listener) = listener.recv() {
                supervise(&listener, awake, sandbox);
            }
        });
        let supervisor = supervisor.map_err(cannot)?;
        let fenced = std::thread::Builder::new().name("scenario".into()).spawn_scoped(scope, move || {
            let listener = install_on_this_thread()?;
            send_listener.send(listener).map_err(|_| io::Error::other("the fence's supervisor is gone"))?;
            Ok::<T, io::Error>(work())
        });
        let result = match fenced.map_err(cannot)?.join() {
            Ok(result) => result.map_err(cannot),
            Err(panic) => std::panic::resume_unwind(panic),
        };
        drop(wake);
        drop(supervisor.join());
        result
    })
}

/// Sets `no_new_privs` and the filter on the calling thread only (no `TSYNC`): the rest of
/// `runbook` stays unfiltered. Returns the filter's notification descriptor.
fn install_on_this_thread() -> io::Result<OwnedFd> {
    let filter = program();
    let length = u16::try_from(filter.len()).map_err(io::Error::other)?;
    // SAFETY: plain system calls; the program outlives the `seccomp` call, which copies it.
    unsafe {
        if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
            return Err(io::Error::last_os_error());
        }
        let program = libc::sock_fprog { len: length, filter: filter.as_ptr().cast_mut() };
        let listener = libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            libc::SECCOMP_FILTER_FLAG_NEW_LISTENER,
            &program as *const libc::sock_fprog,
        );
        if listener < 0 {
            return Err(io::Error::last_os_error());
        }
        let listener = RawFd::try_from(listener).map_err(io::Error::other)?;
        Ok(OwnedFd::from_raw_fd(listener))
    }
}

/// `SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP` (Linux 6.6): the kernel hands a caller's call to the
/// supervisor and the answer back as a direct switch between the two threads, not two wake-ups
/// through the scheduler.
const SYNC_WAKE_UP: u64 = 1;

/// Answers intercepted calls until every process of the tree is gone or `awake` is closed.
fn supervise(listener: &OwnedFd, awake: &OwnedFd, sandbox: &Sandbox) {
    // SAFETY: a u64 the ioctl reads. Older kernels refuse the flag and work as before.
    unsafe { libc::ioctl(listener.as_raw_fd(), libc::SECCOMP_IOCTL_NOTIF_SET_FLAGS, &SYNC_WAKE_UP) };
    loop {
        let mut polled = [
            libc::pollfd { fd: listener.as_raw_fd(), events: libc::POLLIN, revents: 0 },
            libc::pollfd { fd: awake.as_raw_fd(), events: libc::POLLIN, revents: 0 },
        ];
        // SAFETY: two valid pollfds.
        let ready = unsafe { libc::poll(polled.as_mut_ptr(), 2, -1) };
        if ready < 0 {
            match io::Error::last_os_error().kind() {
                io::ErrorKind::Interrupted => continue,
                _ => return,
            }
        }
        let [calls, wake] = polled;
        if wake.revents != 0 {
            return;
        }
        if calls.revents & libc::POLLIN != 0 {
            answer_one(listener, sandbox);
        } else if calls.revents != 0 {
            // POLLHUP: every process of the tree has exited.
            return;
        }
    }
}

/// Receives one intercepted call and answers it.
fn answer_one(listener: &OwnedFd, sandbox: &Sandbox) {
    // SAFETY: the kernel requires a zeroed request and fills it.
    let mut request: libc::seccomp_notif = unsafe { std::mem::zeroed() };
    // SAFETY: `request` is a valid seccomp_notif for RECV to fill.
    if unsafe { libc::ioctl(listener.as_raw_fd(), libc::SECCOMP_IOCTL_NOTIF_RECV, &mut request) } != 0 {
        // The caller died meanwhile, or another wake-up took it.
        return;
    }
    let call = &request.data;
    let nr = libc::c_long::from(call.nr);
    // The pid may have been reused while we read its memory: a verdict with effects (a note, a
    // redirection) is only given to a call that is still live. Allowing needs no such care.
    let live = || {
        // SAFETY: `request.id` is a plain u64 the ioctl reads.
        unsafe { libc::ioctl(listener.as_raw_fd(), libc::SECCOMP_IOCTL_NOTIF_ID_VALID, &request.id) == 0 }
    };
    let verdict = match PATH_CALLS.iter().find(|c| c.nr == nr) {
        Some(path_call) => match hosts_path(request.pid, call, path_call, sandbox) {
            None => Verdict::Allow,
            Some(_) if !live() => return,
            Some(path) => {
                let (step, shown) = (sandbox.current_step(), path.display());
                sandbox.reached_for(format!(
                    "the host's file {shown} (from step {step}; a scenario's files are under $RUNBOOK_ROOT: \"${{RUNBOOK_ROOT:-}}{shown}\")"
                ));
                Verdict::Refuse(libc::ENOENT)
            }
        },
        None => {
            let (pointer, length) =
                if nr == libc::SYS_connect { (call.args[1], call.args[2]) } else { (call.args[4], call.args[5]) };
            let address = read_address(request.pid, pointer, length);
            if !live() {
                return;
            }
            match address {
                Some(address) => judge(&address, sandbox),
                None => Verdict::Refuse(libc::EFAULT),
            }
        }
    };
    answer(listener, &request, call.args[0], verdict);
}

/// The first path of a call that names files that is the host's, if any: such a call answers
/// "no such file", as on a host without it.
fn hosts_path(pid: u32, call: &libc::seccomp_data, path_call: &PathCall, sandbox: &Sandbox) -> Option<PathBuf> {
    for &(folder, path) in path_call.paths {
        let Some(written) = read_path(pid, call.args[path]) else { continue };
        // An empty path names the descriptor itself (AT_EMPTY_PATH), opened by a judged call.
        if written.as_os_str().is_empty() {
            continue;
        }
        let path = if written.is_absolute() {
            host_files::absolute(Path::new("/"), &written)
        } else {
            // Without a starting folder the process or its descriptor is gone: nothing to judge.
            let Some(base) = starting_folder(pid, folder.map(|a| call.args[a])) else { continue };
            host_files::absolute(&base, &written)
        };
        if sandbox.allowed.is_hosts(&path, pid, path_call.harmless_above) && !is_runbooks_own(pid) {
            return Some(path);
        }
    }
    None
}

/// The folder a relative path starts from: the process's working folder, or the one the
/// descriptor `fd` names (`AT_FDCWD` is the working folder too).
fn starting_folder(pid: u32, fd: Option<u64>) -> Option<PathBuf> {
    // The descriptor is an `int` in the low half of the argument.
    let fd = fd.map(|raw| raw as u32 as i32).filter(|fd| *fd != libc::AT_FDCWD);
    let link = match fd {
        Some(fd) => format!("/proc/{pid}/fd/{fd}"),
        None => format!("/proc/{pid}/cwd"),
    };
    std::fs::read_link(link).ok().filter(|folder| folder.is_absolute())
}

/// Threads of `runbook` itself (the engine running the steps, its readers) are under the filter
/// too; what they open is the engine's business, not the scenario's.
fn is_runbooks_own(pid: u32) -> bool {
    Path::new(&format!("/proc/self/task/{pid}")).exists()
}

/// The longest path the kernel takes.
const PATH_MAX: usize = 4096;

/// A NUL-terminated path from the process's memory, read a page at a time so that a path near
/// the end of a mapping is still read (a read never splits across an unmapped page).
fn read_path(pid: u32, pointer: u64) -> Option<PathBuf> {
    use std::os::unix::ffi::OsStringExt;
    const PAGE: u64 = 4096;
    if pointer == 0 {
        return None;
    }
    let mut bytes = Vec::with_capacity(256);
    let mut at = pointer;
    while bytes.len() < PATH_MAX {
        let chunk = usize::try_from(PAGE - at % PAGE).ok()?.min(PATH_MAX - bytes.len());
        let start = bytes.len();
        bytes.resize(start + chunk, 0);
        let read = read_memory(pid, at, &mut bytes[start..]).filter(|n| *n > 0)?;
        bytes.truncate(start + read);
        if let Some(end) = bytes[start..].iter().position(|b| *b == 0) {
            bytes.truncate(start + end);
            return Some(PathBuf::from(std::ffi::OsString::from_vec(bytes)));
        }
        at += read as u64;
    }
    None
}

/// An address a process asked for, as read from its memory.
#[derive(Debug, PartialEq)]
enum Address {
    Inet(SocketAddr),
    Unix(String),
    /// AF_UNSPEC (dissolves a datagram association) and netlink (the kernel itself).
    Harmless,
    Other(u16),
}

/// The longest socket address there is (`sockaddr_storage`).
const MAX_ADDRESS: usize = 128;

fn read_address(pid: u32, pointer: u64, length: u64) -> Option<Address> {
    let length = (length as usize).min(MAX_ADDRESS);
    let mut buffer = [0u8; MAX_ADDRESS];
    let read = read_memory(pid, pointer, &mut buffer[..length]).filter(|n| *n >= 2)?;
    Some(parse_address(&buffer[..read]))
}

/// Copies `buffer.len()` bytes at `pointer` in process `pid` into `buffer`; how many it got.
fn read_memory(pid: u32, pointer: u64, buffer: &mut [u8]) -> Option<usize> {
    let local = libc::iovec { iov_base: buffer.as_mut_ptr().cast(), iov_len: buffer.len() };
    let remote = libc::iovec { iov_base: pointer as *mut libc::c_void, iov_len: buffer.len() };
    // SAFETY: writes at most `buffer.len()` bytes into `buffer`; the remote side is the kernel's
    // to check.
    let read = unsafe { libc::process_vm_readv(pid as libc::pid_t, &local, 1, &remote, 1, 0) };
    usize::try_from(read).ok()
}

fn parse_address(bytes: &[u8]) -> Address {
    let family = u16::from_ne_bytes([bytes[0], bytes[1]]);
    let port = || u16::from_be_bytes([bytes[2], bytes[3]]);
    match i32::from(family) {
        libc::AF_INET if bytes.len() >= 8 => {
            let ip = Ipv4Addr::new(bytes[4], bytes[5], bytes[6], bytes[7]);
            Address::Inet(SocketAddr::new(IpAddr::V4(ip), port()))
        }
        libc::AF_INET6 if bytes.len() >= 24 => {
            let mut octets = [0u8; 16];
            octets.copy_from_slice(&bytes[8..24]);
            let ip = Ipv6Addr::from(octets);
            let ip = ip.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(IpAddr::V6(ip));
            Address::Inet(SocketAddr::new(ip, port()))
        }
        libc::AF_UNIX => {
            let path = &bytes[2..];
            match path.first() {
                None => Address::Harmless,
                Some(0) => Address::Unix(format!("@{}", String::from_utf8_lossy(&path[1..]))),
                Some(_) => {
                    let end = path.iter().position(|b| *b == 0).unwrap_or(path.len());
                    Address::Unix(String::from_utf8_lossy(&path[..end]).into_owned())
                }
            }
        }
        libc::AF_UNSPEC | libc::AF_NETLINK => Address::Harmless,
        _ => Address::Other(family),
    }
}

#[derive(Debug, PartialEq)]
enum Verdict {
    /// The call goes through as the process made it.
    Allow,
    /// The socket is replaced by one connected to this fixture, and the call succeeds.
    Redirect(SocketAddr),
    /// The call fails with this errno.
    Refuse(i32),
}

/// Sockets name-service lookups try (nscd, systemd's user database): refusing them quietly
/// makes the C library read its files instead, which is not reaching for anything.
const NAME_SERVICES: &[&str] = &["/var/run/nscd/socket", "/run/nscd/socket", "/run/systemd/userdb/"];

fn judge(address: &Address, sandbox: &Sandbox) -> Verdict {
    let step = sandbox.current_step();
    match address {
        Address::Harmless => Verdict::Allow,
        Address::Inet(addr) => match sandbox.connection_to(*addr) {
            Reach::Fixture(fixture) if fixture == *addr => Verdict::Allow,
            Reach::Fixture(fixture) => Verdict::Redirect(fixture),
            Reach::ThisHost => Verdict::Refuse(libc::ECONNREFUSED),
            Reach::Outside => {
                let what = if addr.port() == 53 { "a DNS server at" } else { "a connection to" };
                sandbox.reached_for(format!("the network: {what} {addr} (from step {step})"));
                Verdict::Refuse(libc::ENETUNREACH)
            }
        },
        Address::Unix(path) if std::path::Path::new(path).starts_with(&sandbox.root) => Verdict::Allow,
        Address::Unix(path) if NAME_SERVICES.iter().any(|s| path.starts_with(s)) => Verdict::Refuse(libc::ENOENT),
        Address::Unix(path) => {
            sandbox.reached_for(format!("the host's socket {path} (from step {step})"));
            Verdict::Refuse(libc::ECONNREFUSED)
        }
        Address::Other(family) => {
            sandbox.reached_for(format!("a socket of address family {family} (from step {step})"));
            Verdict::Refuse(libc::EAFNOSUPPORT)
        }
    }
}

fn answer(listener: &OwnedFd, request: &libc::seccomp_notif, socket: u64, verdict: Verdict) {
    let mut response = libc::seccomp_notif_resp { id: request.id, val: 0, error: 0, flags: 0 };
    match verdict {
        Verdict::Allow => response.flags = libc::SECCOMP_USER_NOTIF_FLAG_CONTINUE as u32,
        Verdict::Refuse(errno) => response.error = -errno,
        Verdict::Redirect(fixture) => {
            if let Err(errno) = replace_socket(listener, request.id, socket, fixture) {
                response.error = -errno;
            }
        }
    }
    // SAFETY: `response` is a valid seccomp_notif_resp; a caller gone meanwhile makes it fail,
    // which leaves nothing to do.
    unsafe { libc::ioctl(listener.as_raw_fd(), libc::SECCOMP_IOCTL_NOTIF_SEND, &response) };
}

/// Puts a socket connected to `fixture` in place of the caller's socket `socket`, keeping its
/// descriptor number, so its `connect` succeeds against the fixture.
fn replace_socket(listener: &OwnedFd, id: u64, socket: u64, fixture: SocketAddr) -> Result<(), i32> {
    let errno = |e: io::Error| e.raw_os_error().unwrap_or(libc::ECONNREFUSED);
    let connected = std::net::TcpStream::connect(fixture).map_err(errno)?;
    let target = u32::try_from(socket).map_err(|_| libc::EBADF)?;
    let addfd = libc::seccomp_notif_addfd {
        id,
        flags: libc::SECCOMP_ADDFD_FLAG_SETFD as u32,
        srcfd: connected.as_raw_fd() as u32,
        newfd: target,
        newfd_flags: 0,
    };
    // SAFETY: `addfd` is valid; the kernel duplicates `srcfd` into the caller.
    if unsafe { libc::ioctl(listener.as_raw_fd(), libc::SECCOMP_IOCTL_NOTIF_ADDFD, &addfd) } < 0 {
        return Err(errno(io::Error::last_os_error()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn inet(addr: &str) -> Vec<u8> {
        let addr: SocketAddr = addr.parse().unwrap();
        let mut bytes = Vec::new();
        match addr {
            SocketAddr::V4(v4) => {
                bytes.extend((libc::AF_INET as u16).to_ne_bytes());
                bytes.extend(v4.port().to_be_bytes());
                bytes.extend(v4.ip().octets());
                bytes.extend([0u8; 8]);
            }
            SocketAddr::V6(v6) => {
                bytes.extend((libc::AF_INET6 as u16).to_ne_bytes());
                bytes.extend(v6.port().to_be_bytes());
                bytes.extend([0u8; 4]);
                bytes.extend(v6.ip().octets());
                bytes.extend([0u8; 4]);
            }
        }
        bytes
    }

    fn unix(path: &[u8]) -> Vec<u8> {
        let mut bytes = (libc::AF_UNIX as u16).to_ne_bytes().to_vec();
        bytes.extend(path);
        if path.first() != Some(&0) {
            bytes.push(0); // a path is NUL-terminated; an abstract name is as long as it is
        }
        bytes
    }

    #[test]
    fn every_jump_of_the_filter_lands_inside_it_and_each_call_is_listed_once() {
        let program = program();
        for (n, instruction) in program.iter().enumerate() {
            if u32::from(instruction.code) & 0x07 == libc::BPF_JMP {
                let (taken, not_taken) = (n + 1 + usize::from(instruction.jt), n + 1 + usize::from(instruction.jf));
                assert!(taken < program.len() && not_taken < program.len(), "instruction {n} jumps out");
            }
        }
        let last = program.last().map(|i| i.k);
        assert_eq!(last, Some(libc::SECCOMP_RET_USER_NOTIF), "the program ends in the notification");
        let mut numbers: Vec<_> = PATH_CALLS.iter().map(|c| c.nr).collect();
        numbers.sort_unstable();
        numbers.dedup();
        assert_eq!(numbers.len(), PATH_CALLS.len(), "a call is listed twice");
    }

    #[test]
    fn a_path_is_read_up_to_its_nul_even_at_the_end_of_a_mapping() {
        // Two pages, the second unmapped: a path ending just before it must still be read.
        // SAFETY: an anonymous mapping of our own, written inside its first page only.
        unsafe {
            let page = 4096usize;
            let base = libc::mmap(
                std::ptr::null_mut(),
                2 * page,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            );
            assert_ne!(base, libc::MAP_FAILED);
            libc::munmap(base.cast::<u8>().add(page).cast(), page);
            let path = b"/proc/driver/nvidia/version\0";
            let at = base.cast::<u8>().add(page - path.len());
            std::ptr::copy_nonoverlapping(path.as_ptr(), at, path.len());
            let read = read_path(std::process::id(), at as u64);
            assert_eq!(read, Some(PathBuf::from("/proc/driver/nvidia/version")));
            // Without its NUL before the gap, nothing is made up.
            *at.add(path.len() - 1) = b'x';
            assert_eq!(read_path(std::process::id(), at as u64), None);
            libc::munmap(base, page);
        }
        assert_eq!(read_path(std::process::id(), 0), None);
    }

    #[test]
    fn addresses_are_read_like_the_kernel_lays_them_out() {
        assert_eq!(parse_address(&inet("10.1.2.3:8080")), Address::Inet("10.1.2.3:8080".parse().unwrap()));
        assert_eq!(parse_address(&inet("[2001:db8::1]:443")), Address::Inet("[2001:db8::1]:443".parse().unwrap()));
        assert_eq!(parse_address(&inet("[::ffff:127.0.0.1]:80")), Address::Inet("127.0.0.1:80".parse().unwrap()));
        assert_eq!(parse_address(&unix(b"/run/docker.sock")), Address::Unix("/run/docker.sock".into()));
        assert_eq!(parse_address(&unix(b"\0abstract")), Address::Unix("@abstract".into()));
        assert_eq!(parse_address(&(libc::AF_UNSPEC as u16).to_ne_bytes()), Address::Harmless);
        assert_eq!(parse_address(&(libc::AF_PACKET as u16).to_ne_bytes()), Address::Other(libc::AF_PACKET as u16));
    }

    #[test]
    fn the_verdict_lets_fixtures_through_and_notes_the_outside() {
        let mut sandbox = Sandbox::new(PathBuf::from("/tmp/scenario/root"));
        let served: SocketAddr = "127.0.0.1:4000".parse().unwrap();
        sandbox.tcp.insert("localhost:11434".into(), served);
        sandbox.entering_step("probe");
        let judge = |a: Address| judge(&a, &sandbox);
        assert_eq!(judge(Address::Inet(served)), Verdict::Allow);
        assert_eq!(judge(Address::Inet("127.0.0.1:11434".parse().unwrap())), Verdict::Redirect(served));
        assert_eq!(judge(Address::Inet("127.0.0.1:8080".parse().unwrap())), Verdict::Refuse(libc::ECONNREFUSED));
        assert_eq!(judge(Address::Inet("10.0.0.2:53".parse().unwrap())), Verdict::Refuse(libc::ENETUNREACH));
        assert_eq!(judge(Address::Unix("/tmp/scenario/root/run/app.sock".into())), Verdict::Allow);
        assert_eq!(judge(Address::Unix("/var/run/nscd/socket".into())), Verdict::Refuse(libc::ENOENT));
        assert_eq!(judge(Address::Unix("/run/docker.sock".into())), Verdict::Refuse(libc::ECONNREFUSED));
        assert_eq!(
            sandbox.reached(),
            [
                "the network: a DNS server at 10.0.0.2:53 (from step probe)",
                "the host's socket /run/docker.sock (from step probe)",
            ]
        );
    }
}
