//! The network fence around a scenario's processes (DESIGN §13: anything that would reach
//! outside the scenario fails it, naming what it reached for).
//!
//! A step's process starts under a seccomp filter that hands every `connect`, and every
//! `sendto` with an address, to a thread of `runbook test` (seccomp user notification). That
//! thread reads the address from the process and decides: a scenario's fixture goes through (a
//! declared address is redirected to the fixture standing in for it), the rest of this host is
//! refused like a closed port, another host or a socket of the real host is refused and noted.
//! The filter is inherited by everything the step starts and cannot be lifted from inside.
//!
//! Why not a network namespace: it would refuse quietly, and a scenario must say what it reached
//! for; it also needs privileges a user's `runbook test` may not have. The filter needs none
//! (`no_new_privs` is set for the step's processes, so set-user-ID programs lose their power;
//! scenarios describe commands rather than run privileged ones).

use super::probe::sandbox::{Reach, Sandbox};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
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
/// The low and high halves of `args[4]` (little-endian), `sendto`'s destination address.
const DATA_ARG4_LOW: u32 = 16 + 8 * 4;
const DATA_ARG4_HIGH: u32 = DATA_ARG4_LOW + 4;

fn statement(code: u32, k: u32) -> libc::sock_filter {
    libc::sock_filter { code: code as u16, jt: 0, jf: 0, k }
}

fn jump(code: u32, k: u32, jt: u8, jf: u8) -> libc::sock_filter {
    libc::sock_filter { code: code as u16, jt, jf, k }
}

/// The filter: `connect` and addressed `sendto` go to the supervisor; `io_uring`, which could
/// connect without a syscall of its own, is not available; calls of another ABI are refused.
fn program() -> Vec<libc::sock_filter> {
    use libc::{BPF_ABS, BPF_JEQ, BPF_JGE, BPF_JMP, BPF_K, BPF_LD, BPF_RET, BPF_W};
    let load = BPF_LD | BPF_W | BPF_ABS;
    let ret = BPF_RET | BPF_K;
    let notify = libc::SECCOMP_RET_USER_NOTIF;
    let refuse = libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32;
    vec![
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
        /* 10 */ jump(BPF_JMP | BPF_JEQ | BPF_K, libc::SYS_sendto as u32, 1, 0),
        /* 11 */ statement(ret, libc::SECCOMP_RET_ALLOW),
        /* 12 */ statement(load, DATA_ARG4_LOW),
        /* 13 */ jump(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 3),
        /* 14 */ statement(load, DATA_ARG4_HIGH),
        /* 15 */ jump(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 1),
        /* 16 */ statement(ret, libc::SECCOMP_RET_ALLOW),
        /* 17 */ statement(ret, notify),
    ]
}

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

/// Answers intercepted calls until every process of the tree is gone or `awake` is closed.
fn supervise(listener: &OwnedFd, awake: &OwnedFd, sandbox: &Sandbox) {
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
    let (pointer, length) =
        if call.nr == libc::SYS_connect as i32 { (call.args[1], call.args[2]) } else { (call.args[4], call.args[5]) };
    let address = read_address(request.pid, pointer, length);
    // The pid may have been reused while we read: only an answer to a live call counts.
    // SAFETY: `request.id` is a plain u64 the ioctl reads.
    if unsafe { libc::ioctl(listener.as_raw_fd(), libc::SECCOMP_IOCTL_NOTIF_ID_VALID, &request.id) } != 0 {
        return;
    }
    let verdict = match address {
        Some(address) => judge(&address, sandbox),
        None => Verdict::Refuse(libc::EFAULT),
    };
    answer(listener, &request, call.args[0], verdict);
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
    let local = libc::iovec { iov_base: buffer.as_mut_ptr().cast(), iov_len: length };
    let remote = libc::iovec { iov_base: pointer as *mut libc::c_void, iov_len: length };
    // SAFETY: reads at most `length` bytes into `buffer`; the remote side is the kernel's to check.
    let read = unsafe { libc::process_vm_readv(pid as libc::pid_t, &local, 1, &remote, 1, 0) };
    if read < 2 {
        return None;
    }
    Some(parse_address(&buffer[..read as usize]))
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
