//! The `tcp` probe: does `host:port` accept a connection within the timeout.
//!
//! An unreachable service is a failed check, not a probe error: "refused" is exactly the answer
//! the operator needs. Only an address that cannot be read at all is an error.

use super::{ProbeEnv, ProbeOutcome, format_duration, format_millis, network_timeout, os_error};
use crate::model::probe::TcpProbe;
use crate::record::CheckResult;
use std::io;
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The outcome of trying every address `host` resolves to.
enum Attempt {
    Accepted {
        addr: SocketAddr,
        took: Duration,
    },
    /// Why nothing connected: one `address: reason` per address tried, or why none could be.
    Failed(Vec<String>),
}

pub(crate) fn run(probe: &TcpProbe, env: &ProbeEnv) -> ProbeOutcome {
    let address = probe.address.source.trim();
    let (host, port) = match split_address(address) {
        Ok(parts) => parts,
        Err(reason) => return ProbeOutcome::error(reason),
    };
    let timeout = network_timeout(probe.timeout, env);
    let deadline = Instant::now() + timeout;
    let resolved = match env.sandbox.map(|s| s.tcp_target(address)) {
        None => resolve(host, port, timeout),
        Some(Ok(addr)) => Ok(vec![addr]),
        Some(Err(reason)) => return ProbeOutcome::error(reason),
    };
    let attempt = match resolved {
        Ok(addrs) => connect_any(&addrs, deadline, timeout),
        Err(reason) => Attempt::Failed(vec![reason]),
    };
    let expected = if probe.reachable { "to accept connections" } else { "not to accept connections" };
    let (actual, observed, accepted) = match &attempt {
        Attempt::Accepted { addr, took } => {
            let via = if addr.to_string() == address { String::new() } else { format!(" ({addr})") };
            let observed = format!("{address}{via} accepts connections ({})", format_millis(*took));
            (format!("accepted in {}", format_millis(*took)), observed, true)
        }
        Attempt::Failed(reasons) => {
            let reason = reasons.join("; ");
            (reason.clone(), format!("{address}: {reason}"), false)
        }
    };
    let check = CheckResult::new(address, expected.to_string(), actual, accepted == probe.reachable);
    ProbeOutcome::done(vec![check], vec![observed])
}

/// Splits `host:port`, with IPv6 hosts in brackets (`[::1]:11434`).
fn split_address(address: &str) -> Result<(&str, u16), String> {
    let bad =
        |why: &str| format!("bad address `{address}`: {why}; write host:port, like 127.0.0.1:11434 or [::1]:11434");
    let (host, port) = if let Some(rest) = address.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or_else(|| bad("no closing `]`"))?;
        let port = after.strip_prefix(':').ok_or_else(|| bad("no port"))?;
        (host, port)
    } else {
        let (host, port) = address.rsplit_once(':').ok_or_else(|| bad("no port"))?;
        if host.contains(':') {
            return Err(bad("an IPv6 address needs brackets"));
        }
        (host, port)
    };
    if host.is_empty() {
        return Err(bad("no host"));
    }
    match port.parse::<u16>() {
        Ok(0) | Err(_) => Err(bad(&format!("`{port}` is not a port number"))),
        Ok(port) => Ok((host, port)),
    }
}

/// The addresses `host` stands for. Name lookup cannot be cancelled, so it runs on its own
/// thread and is abandoned when it outlasts the timeout.
fn resolve(host: &str, port: u16, timeout: Duration) -> Result<Vec<SocketAddr>, String> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let lookup = {
        let host = host.to_string();
        move || (host.as_str(), port).to_socket_addrs().map(Iterator::collect::<Vec<_>>)
    };
    let (tx, rx) = mpsc::channel();
    let spawned = std::thread::Builder::new().name("tcp-resolve".into()).spawn(move || {
        // The receiver may be gone after a timeout; nobody is left to tell.
        let _ = tx.send(lookup());
    });
    let answer = match spawned {
        Ok(_) => rx.recv_timeout(timeout),
        Err(e) => return Err(format!("cannot resolve {host}: {}", os_error(&e))),
    };
    match answer {
        Ok(Ok(addrs)) if !addrs.is_empty() => Ok(addrs),
        Ok(Ok(_)) => Err(format!("cannot resolve {host}: no addresses")),
        Ok(Err(e)) => Err(format!("cannot resolve {host}: {}", os_error(&e))),
        Err(_) => Err(format!("cannot resolve {host}: no answer within {}", format_duration(timeout))),
    }
}

/// Tries each address in turn until one accepts, all within one deadline.
fn connect_any(addrs: &[SocketAddr], deadline: Instant, timeout: Duration) -> Attempt {
    let mut reasons = Vec::new();
    for addr in addrs {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            reasons.push(format!("{addr}: not tried, the {} timeout ran out", format_duration(timeout)));
            continue;
        }
        let start = Instant::now();
        match TcpStream::connect_timeout(addr, remaining) {
            Ok(_) => {
                return Attempt::Accepted { addr: *addr, took: start.elapsed() };
            }
            Err(e) => reasons.push(connect_failure(addrs.len(), addr, &e, timeout)),
        }
    }
    Attempt::Failed(reasons)
}

/// `connection refused`, or `[::1]:80: connection refused` when several addresses were tried.
fn connect_failure(tried: usize, addr: &SocketAddr, e: &io::Error, timeout: Duration) -> String {
    let reason = match e.kind() {
        io::ErrorKind::ConnectionRefused => "connection refused".to_string(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => {
            format!("no answer within {}", format_duration(timeout))
        }
        _ => lowercase_first(&os_error(e)),
    };
    if tried == 1 { reason } else { format!("{addr}: {reason}") }
}

fn lowercase_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::ProbeStatus;
    use super::super::testing::env;
    use super::*;
    use std::net::TcpListener;
    use std::path::Path;

    fn probe(yaml: &str) -> TcpProbe {
        serde_saphyr::from_str(yaml).unwrap()
    }

    /// A loopback port that was just free: bound, then released.
    fn closed_port() -> u16 {
        TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
    }

    #[test]
    fn listener_is_reachable() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let outcome = run(&probe(&format!("{{address: \"{address}\"}}")), &env(Path::new("/")));
        assert_eq!(outcome.status, ProbeStatus::Done);
        assert!(outcome.passed(), "{:?}", outcome.checks);
        assert!(outcome.observed[0].starts_with(&format!("{address} accepts connections (")), "{:?}", outcome.observed);
        let unexpected = run(&probe(&format!("{{address: \"{address}\", reachable: false}}")), &env(Path::new("/")));
        assert!(
            unexpected.checks[0]
                .message
                .starts_with(&format!("{address}: expected not to accept connections, saw accepted in ")),
            "{:?}",
            unexpected.checks
        );
    }

    #[test]
    fn localhost_name_resolves() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let outcome = run(&probe(&format!("{{address: \"localhost:{port}\", timeout: 2s}}")), &env(Path::new("/")));
        assert!(outcome.passed(), "{:?} {:?}", outcome.checks, outcome.observed);
        assert!(outcome.observed[0].contains("(127.0.0.1:"), "{:?}", outcome.observed);
    }

    #[test]
    fn closed_port_is_refused() {
        let address = format!("127.0.0.1:{}", closed_port());
        let refused = run(&probe(&format!("{{address: \"{address}\", timeout: 1s}}")), &env(Path::new("/")));
        assert_eq!(refused.status, ProbeStatus::Done);
        assert!(!refused.passed());
        assert_eq!(
            refused.checks[0].message,
            format!("{address}: expected to accept connections, saw connection refused")
        );
        assert_eq!(refused.observed, [format!("{address}: connection refused")]);
        let expected_closed =
            run(&probe(&format!("{{address: \"{address}\", reachable: false}}")), &env(Path::new("/")));
        assert!(expected_closed.passed(), "{:?}", expected_closed.checks);
    }

    #[test]
    fn bracketed_ipv6() {
        assert_eq!(split_address("[::1]:11434").unwrap(), ("::1", 11434));
        // Loopback IPv6 may be disabled in containers: refused or unreachable, never an error.
        let outcome = run(&probe(&format!("{{address: \"[::1]:{}\"}}", closed_port())), &env(Path::new("/")));
        assert_eq!(outcome.status, ProbeStatus::Done);
    }

    #[test]
    fn bad_addresses_are_errors() {
        for (address, why) in [
            ("127.0.0.1", "no port"),
            ("localhost:http", "`http` is not a port number"),
            ("127.0.0.1:0", "`0` is not a port number"),
            ("127.0.0.1:70000", "`70000` is not a port number"),
            ("::1:80", "an IPv6 address needs brackets"),
            ("[::1:80", "no closing `]`"),
            (":80", "no host"),
        ] {
            let outcome = run(&probe(&format!("{{address: \"{address}\"}}")), &env(Path::new("/")));
            let ProbeStatus::Error(reason) = &outcome.status else { panic!("{address}: {:?}", outcome.status) };
            assert!(reason.starts_with(&format!("bad address `{address}`: {why}; write host:port")), "{reason}");
        }
    }

    #[test]
    fn unknown_host_is_a_failed_check() {
        // `.invalid` never resolves (RFC 2606); without DNS the lookup fails just the same.
        let outcome = run(&probe("{address: \"no-such-host.invalid:80\", timeout: 2s}"), &env(Path::new("/")));
        assert_eq!(outcome.status, ProbeStatus::Done);
        assert!(!outcome.passed());
        assert!(outcome.checks[0].actual.starts_with("cannot resolve no-such-host.invalid: "), "{:?}", outcome.checks);
        assert!(
            run(&probe("{address: \"no-such-host.invalid:80\", reachable: false, timeout: 2s}"), &env(Path::new("/")))
                .passed()
        );
    }

    #[test]
    fn several_addresses_are_named_and_share_the_deadline() {
        let addrs: Vec<SocketAddr> = (0..2).map(|_| SocketAddr::from(([127, 0, 0, 1], closed_port()))).collect();
        let Attempt::Failed(reasons) =
            connect_any(&addrs, Instant::now() + Duration::from_secs(1), Duration::from_secs(1))
        else {
            panic!("closed ports accepted");
        };
        assert_eq!(reasons, [format!("{}: connection refused", addrs[0]), format!("{}: connection refused", addrs[1])]);
        let Attempt::Failed(late) = connect_any(&addrs, Instant::now(), Duration::from_secs(1)) else { panic!() };
        assert_eq!(late[0], format!("{}: not tried, the 1s timeout ran out", addrs[0]));
    }
}
