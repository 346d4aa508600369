//! A runbook run on many hosts (DESIGN §17). The fleet run's `run.json` is an ordinary
//! [`RunRecord`](super::RunRecord) — one aggregate record per step, findings folded by host — with
//! a [`Fleet`] part listing every host; each host has its own ordinary `run.json` under
//! `hosts/<host>/`, with a [`Remote`] part saying where it ran. Readers that know nothing of
//! fleets read both as runs.

use super::{Outcome, StepRecord, Verdict};
use crate::model::hosts;
use crate::util::names::named_enum;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How a host is reached. Plain data: `exec::remote` turns it into commands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Target {
    /// The OpenSSH client, to a destination it resolves through its own config.
    Ssh {
        destination: String,
        /// `ansible_host`: the address to connect to instead of the destination's name.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        address: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        port: Option<u16>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        user: Option<String>,
    },
    /// `docker exec -i NAME`.
    Docker { container: String },
    /// `kubectl exec -i -n NAMESPACE POD [-c CONTAINER]`.
    Kubectl {
        namespace: String,
        pod: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        container: Option<String>,
    },
}

impl Target {
    /// In words, for output: `ssh gpu07`, `docker web1`, `kubectl ops/api-0`.
    pub fn describe(&self) -> String {
        match self {
            Target::Ssh { destination, address, port, user } => {
                let mut text = format!("ssh {}", user.as_ref().map_or(String::new(), |u| format!("{u}@")));
                text.push_str(address.as_deref().unwrap_or(destination));
                if let Some(port) = port {
                    text.push_str(&format!(":{port}"));
                }
                text
            }
            Target::Docker { container } => format!("docker {container}"),
            Target::Kubectl { namespace, pod, container } => match container {
                Some(c) => format!("kubectl {namespace}/{pod} ({c})"),
                None => format!("kubectl {namespace}/{pod}"),
            },
        }
    }
}

/// On a host's own record: where the run happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Remote {
    /// The host's name in the fleet (as `--on` or the inventory names it).
    pub host: String,
    pub target: Target,
    /// The fleet run this host's record belongs to.
    pub fleet_run: String,
    /// Why the host could not be reached, or the connection was lost; the steps after that did
    /// not run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unreachable: Option<String>,
}

named_enum! {
    /// How one host of a fleet run ended.
    pub enum HostOutcome {
        /// Its run passed (or only warning/info steps failed).
        Passed = "passed",
        Failed = "failed",
        /// It could not be reached, or the connection dropped: nothing is known of the steps
        /// that did not run.
        Unreachable = "unreachable",
        Interrupted = "interrupted",
        /// Not finished yet (or the fleet run was killed before it could say).
        Running = "running",
    }
}

/// One host of a fleet run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FleetHost {
    pub name: String,
    pub outcome: HostOutcome,
    /// The verdict of the host's own run.
    pub verdict: Verdict,
    /// Why it did not pass, in one line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Its run folder, relative to the fleet run's folder: `hosts/gpu07`.
    pub dir: String,
    pub target: Target,
    /// The host vars that became runbook vars on it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub vars: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    pub duration_ms: u64,
    /// Carried over unchanged from the fleet run this one resumed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub resumed: bool,
}

/// The fleet part of a fleet run's record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fleet {
    /// How the hosts were chosen, as typed: `--on gpu[01-08]`, `--inventory hosts.ini --limit gpu`.
    pub selection: String,
    pub forks: usize,
    pub hosts: Vec<FleetHost>,
    /// The folded outcome: `gpu[01-06,08] passed · gpu07 failed: driver 535.104, expected >=550`.
    pub summary: String,
}

impl Fleet {
    pub fn host(&self, name: &str) -> Option<&FleetHost> {
        self.hosts.iter().find(|h| h.name == name)
    }

    /// Host names with each outcome, folded: `[(Passed, "gpu[01-06,08]"), …]`.
    pub fn outcome_counts(&self) -> Vec<(HostOutcome, usize)> {
        HostOutcome::ALL
            .iter()
            .map(|&o| (o, self.hosts.iter().filter(|h| h.outcome == o).count()))
            .filter(|(_, n)| *n > 0)
            .collect()
    }
}

/// Folds `(host, result)` pairs the way ClusterShell's `-b` folds identical output: hosts with
/// the same result share one folded host set. Groups come in the order of their results'
/// `rank` (then the result text), joined with ` · `:
/// `gpu[01-06,08] passed · gpu07 failed: driver 535.104, expected >=550`.
pub(crate) fn fold_results<'a>(results: impl IntoIterator<Item = (&'a str, usize, String)>) -> String {
    let mut groups: BTreeMap<(usize, String), Vec<&'a str>> = BTreeMap::new();
    for (host, rank, result) in results {
        groups.entry((rank, result)).or_default().push(host);
    }
    groups
        .into_iter()
        .map(|((_, result), hosts)| format!("{} {result}", hosts::fold(hosts)))
        .collect::<Vec<_>>()
        .join(" · ")
}

/// A host's result as one phrase for folding: `passed`, `failed: <why>`, `unreachable: <why>`.
pub(crate) fn host_result(outcome: HostOutcome, reason: Option<&str>) -> (usize, String) {
    let rank = HostOutcome::ALL.iter().position(|&o| o == outcome).unwrap_or(0);
    match reason {
        Some(reason) if outcome != HostOutcome::Passed => (rank, format!("{outcome}: {reason}")),
        _ => (rank, outcome.to_string()),
    }
}

/// One step's result on one host, for folding: `passed`, `failed: <first failed check>`,
/// `skipped: <why>`.
pub(crate) fn step_result(step: &StepRecord) -> (usize, String) {
    let rank = match step.outcome {
        Outcome::Passed => 0,
        Outcome::Skipped => 1,
        Outcome::Failed => 2,
        Outcome::TimedOut => 3,
        Outcome::Error => 4,
        Outcome::Interrupted => 5,
    };
    match step.why() {
        Some(why) if step.outcome != Outcome::Passed => (rank, format!("{}: {why}", step.outcome)),
        _ => (rank, step.outcome.to_string()),
    }
}

/// The outcome a step has across hosts: the worst one any host saw.
pub(crate) fn worst_outcome(outcomes: impl IntoIterator<Item = Outcome>) -> Outcome {
    let severity = |o: Outcome| match o {
        Outcome::Skipped => 0,
        Outcome::Passed => 1,
        Outcome::Failed => 3,
        Outcome::TimedOut => 4,
        Outcome::Error => 2,
        Outcome::Interrupted => 5,
    };
    outcomes.into_iter().max_by_key(|&o| severity(o)).unwrap_or(Outcome::Skipped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_fold_like_clush() {
        let mut results: Vec<(&str, usize, String)> = ["gpu01", "gpu02", "gpu03", "gpu04", "gpu05", "gpu06", "gpu08"]
            .into_iter()
            .map(|h| {
                let (rank, text) = host_result(HostOutcome::Passed, None);
                (h, rank, text)
            })
            .collect();
        let (rank, text) = host_result(HostOutcome::Failed, Some("driver 535.104, expected >=550"));
        results.insert(3, ("gpu07", rank, text));
        let (rank, text) =
            host_result(HostOutcome::Unreachable, Some("ssh: connect to host gpu09 port 22: Connection refused"));
        results.insert(0, ("gpu09", rank, text));
        assert_eq!(
            fold_results(results),
            "gpu[01-06,08] passed · gpu07 failed: driver 535.104, expected >=550 · gpu09 unreachable: ssh: connect to host gpu09 port 22: Connection refused"
        );
    }

    #[test]
    fn the_worst_outcome_wins() {
        assert_eq!(worst_outcome([Outcome::Passed, Outcome::Skipped]), Outcome::Passed);
        assert_eq!(worst_outcome([Outcome::Passed, Outcome::Failed, Outcome::Error]), Outcome::Failed);
        assert_eq!(worst_outcome([]), Outcome::Skipped);
    }

    #[test]
    fn targets_in_words() {
        let ssh = Target::Ssh {
            destination: "gpu07".into(),
            address: Some("10.0.0.7".into()),
            port: Some(2222),
            user: Some("ops".into()),
        };
        assert_eq!(ssh.describe(), "ssh ops@10.0.0.7:2222");
        let json = serde_json::to_string(&ssh).unwrap();
        assert_eq!(serde_json::from_str::<Target>(&json).unwrap(), ssh);
        let k8s = Target::Kubectl { namespace: "ops".into(), pod: "api-0".into(), container: None };
        assert_eq!(k8s.describe(), "kubectl ops/api-0");
    }
}
