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
    /// What the run reached for outside the scenario, in words.
    reached: Mutex<Vec<String>>,
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
}
