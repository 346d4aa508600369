//! `runbook exec ID --on HOSTS` / `--inventory FILE [--limit PATTERN]`: the runbook on many
//! hosts (DESIGN §17). Chooses the hosts, sets up the connection, runs the fleet and picks the
//! exit code.

use crate::cli::Context;
use crate::cli::error::{Error, Result, exit};
use crate::cli::output;
use crate::exec::fleet::{self, FleetReporter, FleetRequest, FleetResume, HostSpec};
use crate::exec::remote::transport::{Connection, target_of};
use crate::model::Kb;
use crate::model::hosts::{self, Item};
use crate::model::inventory::{Inventory, InventoryHost};
use crate::record::{Target, Verdict};
use crate::util::text::plural;
use std::path::PathBuf;

/// The fleet flags of `runbook exec`.
#[derive(Debug, Clone, clap::Args)]
pub(super) struct FleetArgs {
    /// Run on these hosts over ssh: `gpu[01-32]`, a comma list, `@group` (with --inventory),
    /// `docker:NAME`, `k8s:NAMESPACE/POD`
    #[arg(long, visible_alias = "hosts", value_name = "HOSTS")]
    pub on: Option<String>,
    /// Take the hosts (and their vars) from an Ansible inventory: INI, YAML, or the JSON of
    /// `ansible-inventory --list`
    #[arg(long, value_name = "FILE")]
    pub inventory: Option<PathBuf>,
    /// With --inventory: only these hosts or groups (Ansible's --limit: `a,b`, `!c`, `&d`, globs)
    #[arg(long, value_name = "PATTERN", requires = "inventory")]
    pub limit: Option<String>,
    /// How many hosts run at once
    #[arg(long, value_name = "N", default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..))]
    pub forks: u16,
    /// Pass this file to ssh as its config (`ssh -F FILE`) instead of ~/.ssh/config
    #[arg(long, value_name = "FILE")]
    pub ssh_config: Option<PathBuf>,
    /// Seconds ssh waits for a host to answer before it counts as unreachable
    #[arg(long, value_name = "SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub connect_timeout: u64,
    /// Run again on the hosts that did not pass in this runbook's latest fleet run (narrowed by
    /// --on/--inventory when given)
    #[arg(long)]
    pub retry_failed: bool,
}

impl FleetArgs {
    pub(super) fn wanted(&self) -> bool {
        self.on.is_some() || self.inventory.is_some() || self.retry_failed
    }

    /// `--on gpu[01-08]`, `--inventory hosts.ini --limit gpu`, as typed (recorded in run.json).
    fn selection(&self) -> String {
        let mut parts = Vec::new();
        if let Some(on) = &self.on {
            parts.push(format!("--on {on}"));
        }
        if let Some(inventory) = &self.inventory {
            parts.push(format!("--inventory {}", inventory.display()));
        }
        if let Some(limit) = &self.limit {
            parts.push(format!("--limit {limit}"));
        }
        if self.retry_failed {
            parts.push("--retry-failed".into());
        }
        parts.join(" ")
    }
}

/// What the fleet run needs from `exec`'s own preparation.
pub(super) struct Prepared<'a> {
    pub kb: &'a Kb,
    pub request: &'a crate::exec::engine::RunRequest<'a>,
    pub json: bool,
    /// `--resume` of a fleet run.
    pub resume: Option<FleetResume>,
}

pub(super) fn run(ctx: &Context, args: &FleetArgs, prepared: Prepared) -> Result<i32> {
    let earlier = match &prepared.resume {
        Some(resume) => Some(resume.hosts.iter().map(spec_of).collect()),
        None if args.retry_failed => Some(failed_last_time(prepared.request)?),
        None => None,
    };
    let hosts = match earlier {
        // Narrowed by name; each host is reached, with its vars, as it was last time.
        Some(earlier) if args.on.is_some() || args.inventory.is_some() => {
            let named = choose_hosts(ctx, args)?;
            earlier.into_iter().filter(|f: &HostSpec| named.iter().any(|h| h.name == f.name)).collect()
        }
        Some(earlier) => earlier,
        None => choose_hosts(ctx, args)?,
    };
    let mut selection = args.selection();
    if let Some(resume) = &prepared.resume {
        selection = format!("--resume {} {selection}", resume.run_id).trim_end().to_string();
    }
    if hosts.is_empty() {
        return Err(Error::Invalid {
            message: format!("no hosts selected by {selection}"),
            hint: Some("check --on, --limit, --resume and --retry-failed".into()),
        });
    }
    if prepared.request.options.dry_run {
        return dry_run(ctx, prepared.request, &hosts, prepared.json);
    }
    let connection = connection(ctx, prepared.kb, args, prepared.request)?;
    let run = prepared.request;
    let request = FleetRequest {
        kb: run.kb,
        runbook: run.runbook,
        body: run.body,
        options: run.options,
        context: run.context,
        interrupted: run.interrupted,
        hosts,
        selection,
        forks: usize::from(args.forks),
        connection,
        resume: prepared.resume,
    };
    let reporter: Box<dyn FleetReporter> = if prepared.json {
        Box::new(crate::exec::report::json::FleetJson::new(run.context.clock))
    } else {
        Box::new(crate::exec::report::terminal::FleetTerminal::new(output::use_color(ctx.color), ctx.quiet))
    };
    let outcome = fleet::run(&request, reporter.as_ref())?;
    if let Some(problem) = outcome.archive_error {
        return Err(Error::Failed {
            message: format!("the fleet run's archive is incomplete: {problem}"),
            hint: Some("free space or fix permissions in the archive folder, or pass --archives DIR".into()),
        });
    }
    Ok(match outcome.record.verdict {
        Verdict::Passed | Verdict::Warning => exit::OK,
        Verdict::Interrupted => exit::INTERRUPTED,
        Verdict::Failed | Verdict::Running => exit::FAILED,
    })
}

/// `--dry-run` of a fleet run: the hosts, how each is reached and its vars, then the steps
/// rendered once for each group of hosts with the same vars. No host is contacted.
fn dry_run(ctx: &Context, run: &crate::exec::engine::RunRequest, hosts: &[HostSpec], json: bool) -> Result<i32> {
    let mut groups: Vec<(&std::collections::BTreeMap<String, serde_json::Value>, Vec<&str>)> = Vec::new();
    for host in hosts {
        match groups.iter_mut().find(|(vars, _)| **vars == host.vars) {
            Some((_, names)) => names.push(&host.name),
            None => groups.push((&host.vars, vec![&host.name])),
        }
    }
    if json {
        let listed: Vec<serde_json::Value> = hosts
            .iter()
            .map(|h| serde_json::json!({"host": h.name, "target": h.target.describe(), "vars": h.vars}))
            .collect();
        let event = serde_json::json!({"event": "fleet_dry_run", "hosts": listed, "groups": groups.len()});
        crate::exec::report::json::emit_line(&std::io::stdout(), &event);
    } else {
        print_hosts(ctx, hosts)?;
    }
    for (vars, names) in &groups {
        let folded = hosts::fold(names.iter().copied());
        let mut reporter: Box<dyn crate::exec::report::Reporter> = if json {
            Box::new(crate::exec::report::json::JsonReporter::for_host(run.context.clock, &folded))
        } else {
            print_group(ctx, &folded)?;
            Box::new(crate::exec::report::terminal::TerminalReporter::new(output::use_color(ctx.color), ctx.quiet))
        };
        let mut options = run.options.clone();
        options.host_vars = (*vars).clone();
        let request = crate::exec::engine::RunRequest { options: &options, ..*run };
        crate::exec::engine::execute(&request, reporter.as_mut())?;
    }
    Ok(exit::OK)
}

/// The hosts of a dry run, one a line: name, how it is reached, its vars.
fn print_hosts(ctx: &Context, hosts: &[HostSpec]) -> Result<()> {
    use std::io::Write;
    let mut out = output::stdout(ctx.color);
    let io = |e| Error::io("stdout", e);
    let names = hosts::fold(hosts.iter().map(|h| h.name.as_str()));
    writeln!(out, "{} on {}: {names}", output::paint(output::BOLD, "dry run"), plural(hosts.len(), "host"))
        .map_err(io)?;
    let width = hosts.iter().map(|h| h.name.chars().count()).max().unwrap_or(0);
    for host in hosts {
        let vars: Vec<String> = host.vars.iter().map(|(k, v)| format!("{k}={}", plain(v))).collect();
        let vars = output::paint(output::DIM, vars.join(" "));
        writeln!(out, "  {:<width$}  {}  {vars}", host.name, host.target.describe()).map_err(io)?;
    }
    out.flush().map_err(io)
}

/// The header of a group's steps.
fn print_group(ctx: &Context, folded: &str) -> Result<()> {
    use std::io::Write;
    let mut out = output::stdout(ctx.color);
    let io = |e| Error::io("stdout", e);
    writeln!(out, "\n{} steps on {folded}:", output::paint(output::CYAN, "▶")).map_err(io)?;
    out.flush().map_err(io)
}

/// A var's value as typed: strings without their quotes.
fn plain(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// The hosts `--on` and `--inventory`/`--limit` name, in order, each once.
fn choose_hosts(ctx: &Context, args: &FleetArgs) -> Result<Vec<HostSpec>> {
    let invalid = |message: String, hint: &str| Error::Invalid { message, hint: Some(hint.into()) };
    let hosts = match &args.inventory {
        Some(path) => {
            let inventory = Inventory::load(&ctx.cwd.join(path))
                .map_err(|e| invalid(e.to_string(), "fix the inventory, or name the hosts with --on"))?;
            let selected = inventory
                .select(args.on.as_deref(), args.limit.as_deref())
                .map_err(|e| invalid(e, "`ansible-inventory --graph` shows an inventory's groups"))?;
            selected.into_iter().map(inventory_host).collect::<std::result::Result<Vec<_>, String>>().map_err(|e| {
                invalid(format!("{}: {e}", path.display()), "fix the host's ansible_* vars in the inventory")
            })?
        }
        None => {
            let on = args.on.as_deref().unwrap_or_default();
            let items = hosts::expand(on).map_err(|e| invalid(e.to_string(), "write hosts like gpu[01-08],login1"))?;
            on_items(items)?
        }
    };
    Ok(hosts)
}

/// The hosts that did not pass in the runbook's latest fleet run, as they were reached then.
fn failed_last_time(request: &crate::exec::engine::RunRequest) -> Result<Vec<HostSpec>> {
    let id = &request.runbook.id;
    let last = crate::archive::store::Archives::new(&request.options.archives_dir)
        .records_of(id)
        .find(|(_, r)| r.fleet.is_some())
        .and_then(|(_, r)| Some((r.run_id, r.fleet?)));
    let Some((run_id, fleet)) = last else {
        return Err(Error::Invalid {
            message: format!("nothing to retry: no earlier fleet run of {id}"),
            hint: Some(format!(
                "run it with --on HOSTS or --inventory FILE first: `runbook exec {id} --on 'gpu[01-08]'`"
            )),
        });
    };
    let failed: Vec<HostSpec> = fleet
        .hosts
        .into_iter()
        .filter(|h| h.outcome != crate::record::HostOutcome::Passed)
        .map(|h| spec_of(&h))
        .collect();
    if failed.is_empty() {
        return Err(Error::Invalid { message: format!("nothing to retry: every host passed in {run_id}"), hint: None });
    }
    Ok(failed)
}

/// A host of an earlier fleet run, reached as it was then.
fn spec_of(host: &crate::record::FleetHost) -> HostSpec {
    HostSpec { name: host.name.clone(), target: host.target.clone(), vars: host.vars.clone() }
}

fn on_items(items: Vec<Item>) -> Result<Vec<HostSpec>> {
    let mut hosts: Vec<HostSpec> = Vec::new();
    for item in items {
        match item {
            Item::Group(group) => {
                return Err(Error::Invalid {
                    message: format!("`@{group}` names an inventory group, and no inventory was given"),
                    hint: Some("add --inventory FILE".into()),
                });
            }
            Item::Host(name) => {
                let target = target_of(&name).map_err(|message| Error::Invalid {
                    message,
                    hint: Some("write HOST, HOST:PORT, docker:NAME or k8s:NAMESPACE/POD".into()),
                })?;
                if !hosts.iter().any(|h| h.name == name) {
                    hosts.push(HostSpec { name, target, vars: Default::default() });
                }
            }
        }
    }
    Ok(hosts)
}

/// An inventory host as a target: `ansible_host`, `ansible_port`, `ansible_user`, and
/// `ansible_connection: docker` (the container named by `ansible_host`, or the host's name).
fn inventory_host(host: InventoryHost) -> std::result::Result<HostSpec, String> {
    let text = |key: &str| match host.vars.get(key) {
        Some(serde_json::Value::String(s)) => Some(s.clone()),
        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let address = text("ansible_host");
    let target = match text("ansible_connection").as_deref() {
        Some("docker") => Target::Docker { container: address.unwrap_or_else(|| host.name.clone()) },
        None | Some("ssh") | Some("smart") | Some("paramiko") => {
            let port = match text("ansible_port") {
                Some(port) => {
                    Some(port.parse::<u16>().map_err(|_| format!("host {}: bad ansible_port `{port}`", host.name))?)
                }
                None => None,
            };
            Target::Ssh { destination: host.name.clone(), address, port, user: text("ansible_user") }
        }
        Some(other) => {
            return Err(format!("host {}: ansible_connection `{other}` is not supported (ssh or docker)", host.name));
        }
    };
    Ok(HostSpec { name: host.name, target, vars: host.vars })
}

/// The programs as found on the run's `PATH`, the control sockets under the KB's state folder.
fn connection(
    ctx: &Context,
    kb: &Kb,
    args: &FleetArgs,
    request: &crate::exec::engine::RunRequest,
) -> Result<Connection> {
    let path = request.context.env.get("PATH").map(String::as_str);
    let mut connection =
        Connection::new(path, &kb.state_dir()).map_err(|message| Error::Invalid { message, hint: None })?;
    if let Some(config) = &args.ssh_config {
        let config = ctx.cwd.join(config);
        if let Err(err) = std::fs::metadata(&config) {
            return Err(Error::io(&config, err));
        }
        connection.ssh_config = Some(config);
    }
    connection.connect_timeout_s = args.connect_timeout;
    Ok(connection)
}
