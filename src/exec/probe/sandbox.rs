//! The world of a scenario (DESIGN §13), as the probes see it: files under a scenario root, disks
//! and processes as declared, HTTP and TCP targets served by loopback fixtures. Whatever a probe
//! reaches for that the scenario does not describe and that lies outside it (a remote host, the
//! real disks, the real GPU) is refused and noted, so the scenario fails naming it.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// One filesystem as a scenario declares it, in bytes and inode counts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct DiskFixture {
    pub size: f64,
    pub avail: f64,
    /// Defaults to `size - avail` (no root reserve).
    pub used: Option<f64>,
    pub inodes: Option<f64>,
    pub inodes_free: Option<f64>,
}

/// Everything a probe may read in a scenario.
#[derive(Debug, Default)]
pub(crate) struct Sandbox {
    /// Where the scenario's `files` live; absolute paths of the `file` probe resolve under it.
    pub root: PathBuf,
    /// Mount point → filesystem.
    pub disks: BTreeMap<String, DiskFixture>,
    /// URL as declared (rendered) → the loopback server that answers it.
    pub http: BTreeMap<String, SocketAddr>,
    /// Address as declared → the loopback listener standing in for it.
    pub tcp: BTreeMap<String, SocketAddr>,
    /// A loopback port where nothing listens: targets on this host the scenario does not serve.
    pub closed: Option<SocketAddr>,
    /// The folders a scenario's processes may use by path beside the tools' machinery.
    pub allowed: crate::exec::host_files::Allowed,
    /// What the run reached for outside the scenario, in words.
    reached: Mutex<Vec<String>>,
    /// The step whose process runs now, named when the network fence refuses a connection.
    step: Mutex<String>,
}

impl Sandbox {
    pub(crate) fn new(root: PathBuf) -> Sandbox {
        Sandbox { root, ..Sandbox::default() }
    }

    /// Notes that the run reached outside the scenario.
    pub(crate) fn reached_for(&self, what: String) {
        if let Ok(mut reached) = self.reached.lock()
            && !reached.contains(&what)
        {
            reached.push(what);
        }
    }

    pub(crate) fn reached(&self) -> Vec<String> {
        self.reached.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// Notes the step whose process starts now.
    pub(crate) fn entering_step(&self, step: &str) {
        if let Ok(mut current) = self.step.lock() {
            step.clone_into(&mut current);
        }
    }

    /// The step noted last by [`Self::entering_step`].
    pub(crate) fn current_step(&self) -> String {
        self.step.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// `path` inside the scenario root (absolute paths only; others are already under the
    /// step's working directory, which is inside the root).
    pub(crate) fn inside(&self, path: &Path) -> PathBuf {
        match path.strip_prefix("/") {
            Ok(relative) if !path.starts_with(&self.root) => self.root.join(relative),
            _ => path.to_path_buf(),
        }
    }

    /// The declared filesystem holding `path`: the longest mount point that is a prefix of it.
    pub(crate) fn disk(&self, path: &str) -> Option<(&str, DiskFixture)> {
        let path = if path.starts_with('/') { path.to_string() } else { format!("/{path}") };
        self.disks
            .iter()
            .filter(|(mount, _)| {
                let mount = mount.trim_end_matches('/');
                mount.is_empty() || path == mount || path.starts_with(&format!("{mount}/"))
            })
            .max_by_key(|(mount, _)| mount.len())
            .map(|(mount, disk)| (mount.as_str(), *disk))
    }

    /// Where a request for `url` really goes: its fixture, a closed loopback port for this host
    /// (nothing listens there in the scenario), or nowhere for another host (`Err`, noted).
    pub(crate) fn http_target(&self, url: &str) -> Result<String, String> {
        let (authority_end, host) = split_url(url).ok_or_else(|| format!("invalid URL `{url}`"))?;
        let path = &url[authority_end..];
        let without_query = url.split(['?', '#']).next().unwrap_or(url);
        let fixture = self.http.get(url).or_else(|| self.http.get(without_query)).or_else(|| {
            let trimmed = without_query.trim_end_matches('/');
            self.http.iter().find(|(k, _)| k.trim_end_matches('/') == trimmed).map(|(_, v)| v)
        });
        match fixture {
            Some(addr) => Ok(format!("http://{addr}{path}")),
            None if is_local(host) => {
                let closed = self.closed.ok_or("no closed port")?;
                Ok(format!("http://{closed}{path}"))
            }
            None => {
                let what = format!("the network: {url} (no http fixture)");
                self.reached_for(what.clone());
                Err(format!("scenario: refused to reach {what}"))
            }
        }
    }

    /// The loopback address standing in for `address` (`host:port`), like [`Self::http_target`].
    pub(crate) fn tcp_target(&self, address: &str) -> Result<SocketAddr, String> {
        if let Some(addr) = self.tcp.get(address) {
            return Ok(*addr);
        }
        let host = address.rsplit_once(':').map(|(h, _)| h).unwrap_or(address);
        if is_local(host.trim_matches(['[', ']'])) {
            return self.closed.ok_or_else(|| "no closed port".to_string());
        }
        let what = format!("the network: tcp {address} (no tcp fixture)");
        self.reached_for(what.clone());
        Err(format!("scenario: refused to reach {what}"))
    }
}

/// What a script's connection to an address reaches in a scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reach {
    /// A fixture server: the address itself, or the one standing in for a declared address.
    Fixture(SocketAddr),
    /// This host, where the scenario serves nothing: refused like a closed port.
    ThisHost,
    /// Another host: refused and noted.
    Outside,
}

impl Sandbox {
    /// Where a connection to `addr` goes, like [`Self::tcp_target`] for an address already
    /// resolved: declared keys match when their host is a literal address or `localhost`.
    pub(crate) fn connection_to(&self, addr: SocketAddr) -> Reach {
        let served = self.http.values().chain(self.tcp.values());
        if served.into_iter().any(|fixture| *fixture == addr) {
            return Reach::Fixture(addr);
        }
        let declared_http = self.http.iter().filter_map(|(url, fixture)| Some((http_authority(url)?, *fixture)));
        let declared_tcp = self.tcp.iter().filter_map(|(key, fixture)| Some((tcp_authority(key)?, *fixture)));
        for ((host, port), fixture) in declared_http.chain(declared_tcp) {
            if port == addr.port() && host_matches(&host, addr.ip()) {
                return Reach::Fixture(fixture);
            }
        }
        if addr.ip().is_loopback() || addr.ip().is_unspecified() { Reach::ThisHost } else { Reach::Outside }
    }
}

/// The host and port of a declared URL (80 or 443 when it names none).
fn http_authority(url: &str) -> Option<(String, u16)> {
    let (end, host) = split_url(url)?;
    let default = if url.starts_with("https:") { 443 } else { 80 };
    let start = url.find("://")? + 3;
    let authority = &url[start..end];
    let after_host = authority.rsplit_once(']').map(|(_, rest)| rest).unwrap_or(authority);
    let port = match after_host.rsplit_once(':') {
        Some((_, port)) => port.parse().ok()?,
        None => default,
    };
    Some((host.to_string(), port))
}

/// The host and port of a declared `host:port`.
fn tcp_authority(address: &str) -> Option<(String, u16)> {
    let (host, port) = address.rsplit_once(':')?;
    Some((host.trim_matches(['[', ']']).to_string(), port.parse().ok()?))
}

/// A declared host names `ip` when it is that literal address, or `localhost` for loopback.
fn host_matches(host: &str, ip: std::net::IpAddr) -> bool {
    match host.parse::<std::net::IpAddr>() {
        Ok(declared) => declared == ip,
        Err(_) => host == "localhost" && ip.is_loopback(),
    }
}

/// Where the authority of `url` ends, and its host.
fn split_url(url: &str) -> Option<(usize, &str)> {
    let start = url.find("://")? + 3;
    let end = url[start..].find(['/', '?', '#']).map(|i| start + i).unwrap_or(url.len());
    let authority = &url[start..end];
    let authority = authority.rsplit_once('@').map(|(_, a)| a).unwrap_or(authority);
    let host = match authority.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(rest),
        None => authority.split(':').next().unwrap_or(authority),
    };
    Some((end, host))
}

/// This host, as a scenario describes it: loopback names and addresses.
fn is_local(host: &str) -> bool {
    matches!(host, "localhost" | "0.0.0.0" | "::" | "::1") || host.starts_with("127.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_go_to_their_fixture_a_closed_port_or_nowhere() {
        let mut sandbox = Sandbox::new(PathBuf::from("/tmp/s"));
        let served: SocketAddr = "127.0.0.1:4000".parse().unwrap();
        sandbox.http.insert("http://127.0.0.1:11434/".into(), served);
        sandbox.closed = Some("127.0.0.1:4001".parse().unwrap());
        assert_eq!(sandbox.http_target("http://127.0.0.1:11434/").unwrap(), "http://127.0.0.1:4000/");
        assert_eq!(sandbox.http_target("http://127.0.0.1:11434").unwrap(), "http://127.0.0.1:4000");
        assert_eq!(sandbox.http_target("http://localhost:8000/health").unwrap(), "http://127.0.0.1:4001/health");
        assert!(sandbox.http_target("https://example.com/x").is_err());
        assert_eq!(sandbox.reached(), ["the network: https://example.com/x (no http fixture)"]);
    }

    #[test]
    fn the_longest_mount_point_holds_a_path() {
        let mut sandbox = Sandbox::new(PathBuf::from("/tmp/s"));
        let disk = DiskFixture { size: 10.0, avail: 1.0, used: None, inodes: None, inodes_free: None };
        sandbox.disks.insert("/".into(), disk);
        sandbox.disks.insert("/var".into(), DiskFixture { size: 20.0, ..disk });
        assert_eq!(sandbox.disk("/var/lib").unwrap().0, "/var");
        assert_eq!(sandbox.disk("/variable").unwrap().0, "/");
        assert_eq!(sandbox.inside(Path::new("/etc/x")), PathBuf::from("/tmp/s/etc/x"));
    }

    #[test]
    fn connections_reach_a_fixture_this_host_or_outside() {
        let mut sandbox = Sandbox::new(PathBuf::from("/tmp/s"));
        let http: SocketAddr = "127.0.0.1:4000".parse().unwrap();
        let tcp: SocketAddr = "127.0.0.1:4002".parse().unwrap();
        sandbox.http.insert("http://localhost:11434/api/ps".into(), http);
        sandbox.http.insert("https://10.0.0.9/health".into(), http);
        sandbox.tcp.insert("[::1]:9400".into(), tcp);
        sandbox.tcp.insert("db.internal:5432".into(), tcp);
        let reach = |a: &str| sandbox.connection_to(a.parse().unwrap());
        assert_eq!(reach("127.0.0.1:4000"), Reach::Fixture(http));
        assert_eq!(reach("127.0.0.1:11434"), Reach::Fixture(http));
        assert_eq!(reach("[::1]:11434"), Reach::Fixture(http));
        assert_eq!(reach("10.0.0.9:443"), Reach::Fixture(http));
        assert_eq!(reach("[::1]:9400"), Reach::Fixture(tcp));
        assert_eq!(reach("127.0.0.1:9400"), Reach::ThisHost, "the declared address is ::1 only");
        assert_eq!(reach("127.0.0.1:5432"), Reach::ThisHost, "a name is not an address");
        assert_eq!(reach("10.0.0.9:80"), Reach::Outside);
        assert_eq!(reach("93.184.216.34:80"), Reach::Outside);
    }
}
