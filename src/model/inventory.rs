//! Ansible inventories (DESIGN §17): the INI and YAML formats, and the JSON that
//! `ansible-inventory --list` prints. Groups nest (`children`); variables come from groups and
//! hosts, deeper groups overriding shallower ones and host vars overriding them all, as Ansible
//! merges them. Host vars become the runbook's vars on that host; `ansible_host`,
//! `ansible_port` and `ansible_user` say how to reach it.
//!
//! [`Inventory::select`] applies a host list (`--on`) and `--limit` patterns.

use super::hosts::{self, Item, Syntax};
use crate::util::suggest::closest;
use indexmap::IndexMap;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

pub(crate) type Vars = BTreeMap<String, serde_json::Value>;

/// A bad inventory: where, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum InventoryError {
    #[error("cannot read inventory {path}: {reason}")]
    Unreadable { path: String, reason: String },
    #[error("{path}:{line}:{column}: {message}")]
    Syntax { path: String, line: usize, column: usize, message: String },
}

/// A group as written: its own hosts, child groups and vars.
#[derive(Debug, Clone, Default)]
struct Group {
    hosts: Vec<String>,
    children: Vec<String>,
    vars: Vars,
}

/// The hosts and groups of one inventory file.
#[derive(Debug, Clone, Default)]
pub(crate) struct Inventory {
    pub path: PathBuf,
    /// Host names in the order the file first names them.
    order: Vec<String>,
    /// Each host's own vars.
    host_vars: BTreeMap<String, Vars>,
    groups: BTreeMap<String, Group>,
}

/// One selected host with everything known about it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct InventoryHost {
    pub name: String,
    /// Group vars and host vars, merged.
    pub vars: Vars,
}

impl Inventory {
    /// Reads an inventory; the format comes from the extension (`.json`, `.yml`/`.yaml`), else
    /// from the text (`{` starts JSON, anything else is INI), as Ansible decides.
    pub(crate) fn load(path: &Path) -> Result<Inventory, InventoryError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| InventoryError::Unreadable { path: shown.clone(), reason: os_error(&e) })?;
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or_default().to_ascii_lowercase();
        let mut inventory = match ext.as_str() {
            "json" => parse_json(&text, &shown)?,
            "yml" | "yaml" => parse_yaml(&text, &shown)?,
            _ if text.trim_start().starts_with('{') => parse_json(&text, &shown)?,
            _ => parse_ini(&text, &shown)?,
        };
        inventory.path = path.to_path_buf();
        Ok(inventory)
    }

    /// Every host name, in file order.
    #[cfg(test)]
    pub(crate) fn hosts(&self) -> &[String] {
        &self.order
    }

    pub(crate) fn group_names(&self) -> impl Iterator<Item = &str> {
        self.groups.keys().map(String::as_str).chain(["all", "ungrouped"])
    }

    fn add_host(&mut self, name: &str, vars: Vars) {
        if !self.host_vars.contains_key(name) {
            self.order.push(name.to_string());
        }
        self.host_vars.entry(name.to_string()).or_default().extend(vars);
    }

    fn group_mut(&mut self, name: &str) -> &mut Group {
        self.groups.entry(name.to_string()).or_default()
    }

    /// Every host of group `name`, its children's included, in file order; `None` for an
    /// unknown group.
    pub(crate) fn group_hosts(&self, name: &str) -> Option<Vec<String>> {
        let members: BTreeSet<&str> = match name {
            "all" => self.order.iter().map(String::as_str).collect(),
            "ungrouped" => {
                let grouped: BTreeSet<&str> = self
                    .groups
                    .iter()
                    .filter(|(g, _)| g.as_str() != "ungrouped" && g.as_str() != "all")
                    .flat_map(|(_, g)| g.hosts.iter().map(String::as_str))
                    .collect();
                let mut own: BTreeSet<&str> = self
                    .groups
                    .get("ungrouped")
                    .map(|g| g.hosts.iter().map(String::as_str).collect())
                    .unwrap_or_default();
                own.extend(self.order.iter().map(String::as_str).filter(|h| !grouped.contains(h)));
                own
            }
            _ => {
                self.groups.get(name)?;
                let mut members = BTreeSet::new();
                let mut seen = BTreeSet::new();
                self.collect(name, &mut members, &mut seen);
                members
            }
        };
        Some(self.order.iter().filter(|h| members.contains(h.as_str())).cloned().collect())
    }

    fn collect<'a>(&'a self, name: &'a str, members: &mut BTreeSet<&'a str>, seen: &mut BTreeSet<&'a str>) {
        if !seen.insert(name) {
            return;
        }
        if let Some(group) = self.groups.get(name) {
            members.extend(group.hosts.iter().map(String::as_str));
            for child in &group.children {
                self.collect(child, members, seen);
            }
        }
    }

    /// How deep each group sits below `all`: parents' vars are merged before children's.
    fn depths(&self) -> BTreeMap<&str, usize> {
        let mut depth: BTreeMap<&str, usize> = self.groups.keys().map(|g| (g.as_str(), 1)).collect();
        depth.insert("all", 0);
        // Relax as many times as there are groups; a cycle cannot push depths further.
        for _ in 0..self.groups.len() {
            let mut changed = false;
            for (name, group) in &self.groups {
                let parent = depth.get(name.as_str()).copied().unwrap_or(1);
                for child in &group.children {
                    let entry = depth.entry(child.as_str()).or_insert(1);
                    if *entry < parent + 1 && parent < self.groups.len() + 1 {
                        *entry = parent + 1;
                        changed = true;
                    }
                }
            }
            if !changed {
                break;
            }
        }
        depth
    }

    /// A host's vars: `all`, then its groups from shallow to deep (by name at equal depth),
    /// then its own.
    pub(crate) fn vars_of(&self, host: &str) -> Vars {
        let depths = self.depths();
        let mut groups: Vec<(usize, &str)> = self
            .groups
            .keys()
            .filter(|g| g.as_str() != "all")
            .filter(|g| self.group_hosts(g).is_some_and(|hosts| hosts.iter().any(|h| h == host)))
            .map(|g| (depths.get(g.as_str()).copied().unwrap_or(1), g.as_str()))
            .collect();
        groups.sort();
        let mut vars = self.groups.get("all").map(|g| g.vars.clone()).unwrap_or_default();
        for (_, group) in groups {
            vars.extend(self.groups[group].vars.clone());
        }
        if let Some(own) = self.host_vars.get(host) {
            vars.extend(own.clone());
        }
        vars
    }

    /// The hosts named by `on` (a host list; every host when `None`) narrowed by `limit`
    /// (Ansible's `--limit`: items separated by `,` or `:`, `!item` excludes, `&item` keeps
    /// only hosts also in it; items are host patterns, group names or `@group`, or globs with
    /// `*`). Unknown hosts and groups are errors, with a suggestion.
    pub(crate) fn select(&self, on: Option<&str>, limit: Option<&str>) -> Result<Vec<InventoryHost>, String> {
        let mut names = match on {
            Some(on) => self.resolve_items(&hosts::expand(on).map_err(|e| e.to_string())?)?,
            None => self.order.clone(),
        };
        if let Some(limit) = limit {
            names = self.limit(names, limit)?;
        }
        Ok(names.into_iter().map(|name| InventoryHost { vars: self.vars_of(&name), name }).collect())
    }

    fn resolve_items(&self, items: &[Item]) -> Result<Vec<String>, String> {
        let mut names: Vec<String> = Vec::new();
        for item in items {
            let found = match item {
                Item::Group(group) => self.group_or_error(group)?,
                Item::Host(host) if self.host_vars.contains_key(host) => vec![host.clone()],
                Item::Host(host) => return Err(self.unknown_host(host)),
            };
            for name in found {
                if !names.contains(&name) {
                    names.push(name);
                }
            }
        }
        Ok(names)
    }

    fn group_or_error(&self, group: &str) -> Result<Vec<String>, String> {
        self.group_hosts(group).ok_or_else(|| {
            let hint = match closest(group, self.group_names()) {
                Some(best) => format!("did you mean `@{best}`?"),
                None => format!("its groups: {}", self.group_names().collect::<Vec<_>>().join(", ")),
            };
            format!("no group `{group}` in inventory {}; {hint}", self.path.display())
        })
    }

    fn unknown_host(&self, host: &str) -> String {
        let hint = match closest(host, self.order.iter().map(String::as_str)) {
            Some(best) => format!("did you mean `{best}`?"),
            None => {
                format!("it has {} hosts: {}", self.order.len(), hosts::fold(self.order.iter().map(String::as_str)))
            }
        };
        format!("no host `{host}` in inventory {}; {hint}", self.path.display())
    }

    fn limit(&self, names: Vec<String>, limit: &str) -> Result<Vec<String>, String> {
        let parts = hosts::split_top_level(limit, &[',', ':'])
            .map_err(|(column, message)| format!("bad --limit `{limit}`: {message} (column {column})"))?;
        let mut union: Option<BTreeSet<String>> = None;
        let mut keep: Vec<BTreeSet<String>> = Vec::new();
        let mut drop: BTreeSet<String> = BTreeSet::new();
        for (_, part) in parts {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let (kind, body) = match part.as_bytes()[0] {
                b'!' => ('!', &part[1..]),
                b'&' => ('&', &part[1..]),
                _ => ('+', part),
            };
            let matched = self.limit_item(body)?;
            match kind {
                '!' => drop.extend(matched),
                '&' => keep.push(matched),
                _ => union.get_or_insert_with(BTreeSet::new).extend(matched),
            }
        }
        Ok(names
            .into_iter()
            .filter(|n| union.as_ref().is_none_or(|u| u.contains(n)))
            .filter(|n| keep.iter().all(|k| k.contains(n)))
            .filter(|n| !drop.contains(n))
            .collect())
    }

    /// One `--limit` item: `@group` or a bare group name, a glob, or a host pattern.
    fn limit_item(&self, item: &str) -> Result<BTreeSet<String>, String> {
        let item = item.strip_prefix('@').unwrap_or(item);
        if let Some(hosts) = self.group_hosts(item) {
            return Ok(hosts.into_iter().collect());
        }
        if item.contains('*') || item.contains('?') {
            let matched: BTreeSet<String> = self.order.iter().filter(|h| glob(item, h)).cloned().collect();
            if matched.is_empty() {
                return Err(format!("--limit `{item}` matches no host of inventory {}", self.path.display()));
            }
            return Ok(matched);
        }
        let names = hosts::expand_name(item, Syntax::ClusterShell)
            .map_err(|(column, message)| format!("bad --limit item `{item}`: {message} (column {column})"))?;
        let mut found = BTreeSet::new();
        for name in names {
            if !self.host_vars.contains_key(&name) {
                return Err(self.unknown_host(&name));
            }
            found.insert(name);
        }
        Ok(found)
    }
}

/// `*` any run of characters, `?` one character.
fn glob(pattern: &str, text: &str) -> bool {
    let regex = format!("^{}$", regex::escape(pattern).replace(r"\*", ".*").replace(r"\?", "."));
    regex::Regex::new(&regex).is_ok_and(|r| r.is_match(text))
}

fn os_error(err: &std::io::Error) -> String {
    let text = err.to_string();
    match text.find(" (os error ") {
        Some(cut) => text[..cut].to_string(),
        None => text,
    }
}

// ---- INI ----

#[derive(Clone, Copy, PartialEq, Eq)]
enum Section {
    Hosts,
    Vars,
    Children,
}

fn parse_ini(text: &str, path: &str) -> Result<Inventory, InventoryError> {
    let mut inventory = Inventory::default();
    let mut group = "ungrouped".to_string();
    let mut section = Section::Hosts;
    for (index, raw) in text.lines().enumerate() {
        let line_no = index + 1;
        let syntax = |column: usize, message: String| InventoryError::Syntax {
            path: path.to_string(),
            line: line_no,
            column,
            message,
        };
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        let column = raw.len() - raw.trim_start().len() + 1;
        if let Some(header) = line.strip_prefix('[') {
            let header = header
                .split_once(']')
                .map(|(h, _)| h)
                .ok_or_else(|| syntax(column, format!("section header `{line}` is never closed with `]`")))?;
            (group, section) = match header.split_once(':') {
                None => (header.to_string(), Section::Hosts),
                Some((name, "vars")) => (name.to_string(), Section::Vars),
                Some((name, "children")) => (name.to_string(), Section::Children),
                Some((_, other)) => {
                    return Err(syntax(
                        column,
                        format!("unknown section kind `:{other}`; Ansible knows `:vars` and `:children`"),
                    ));
                }
            };
            if group.is_empty() || group.contains(char::is_whitespace) {
                return Err(syntax(column, format!("bad group name `{group}`")));
            }
            inventory.group_mut(&group);
            continue;
        }
        match section {
            Section::Children => {
                let child = strip_comment(line);
                inventory.group_mut(child);
                inventory.group_mut(&group).children.push(child.to_string());
            }
            Section::Vars => {
                let (key, value) = strip_comment(line)
                    .split_once('=')
                    .ok_or_else(|| syntax(column, format!("`{line}` in [{group}:vars] is not `name=value`")))?;
                inventory.group_mut(&group).vars.insert(key.trim().to_string(), unquote(value.trim()).into());
            }
            Section::Hosts => parse_ini_host(&mut inventory, &group, strip_comment(line), column, &syntax)?,
        }
    }
    Ok(inventory)
}

fn parse_ini_host(
    inventory: &mut Inventory,
    group: &str,
    line: &str,
    column: usize,
    syntax: &dyn Fn(usize, String) -> InventoryError,
) -> Result<(), InventoryError> {
    let words = shlex::split(line).ok_or_else(|| syntax(column, format!("unbalanced quotes in `{line}`")))?;
    let Some((name, assignments)) = words.split_first() else { return Ok(()) };
    let mut vars = Vars::new();
    for word in assignments {
        let (key, value) = word
            .split_once('=')
            .ok_or_else(|| syntax(column, format!("`{word}` after host `{name}` is not `name=value`")))?;
        vars.insert(key.to_string(), ini_literal(value));
    }
    // `host:2222` is the host with its SSH port; an IPv6 address has more than one colon.
    let (name, port) = match name.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') && !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => {
            (host, Some(port))
        }
        _ => (name.as_str(), None),
    };
    if let Some(port) = port {
        vars.entry("ansible_port".into()).or_insert_with(|| ini_literal(port));
    }
    let names = hosts::expand_name(name, Syntax::Ansible)
        .map_err(|(c, message)| syntax(column + c - 1, format!("bad host `{name}`: {message}")))?;
    for host in names {
        inventory.add_host(&host, vars.clone());
        let members = &mut inventory.group_mut(group).hosts;
        if !members.contains(&host) {
            members.push(host);
        }
    }
    Ok(())
}

/// Inline host vars are Python literals to Ansible: numbers and booleans, else strings.
fn ini_literal(value: &str) -> serde_json::Value {
    match value {
        "True" | "true" => return true.into(),
        "False" | "false" => return false.into(),
        _ => {}
    }
    if let Ok(n) = value.parse::<i64>() {
        return n.into();
    }
    if let Ok(x) = value.parse::<f64>()
        && value.contains('.')
        && let Some(n) = serde_json::Number::from_f64(x)
    {
        return serde_json::Value::Number(n);
    }
    value.into()
}

fn strip_comment(line: &str) -> &str {
    match line.find(" #").or_else(|| line.find("\t#")) {
        Some(cut) => line[..cut].trim_end(),
        None => line,
    }
}

fn unquote(value: &str) -> String {
    for quote in ['"', '\''] {
        if value.len() >= 2 && value.starts_with(quote) && value.ends_with(quote) {
            return value[1..value.len() - 1].to_string();
        }
    }
    value.to_string()
}

// ---- YAML ----

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct YamlGroup {
    #[serde(default)]
    hosts: Option<IndexMap<String, Option<Vars>>>,
    #[serde(default)]
    children: Option<IndexMap<String, Option<YamlGroup>>>,
    #[serde(default)]
    vars: Option<Vars>,
}

fn parse_yaml(text: &str, path: &str) -> Result<Inventory, InventoryError> {
    let top: IndexMap<String, Option<YamlGroup>> = if text.trim().is_empty() {
        IndexMap::new()
    } else {
        serde_saphyr::from_str(text).map_err(|err| yaml_error(&err, path))?
    };
    let mut inventory = Inventory::default();
    for (name, group) in top {
        add_yaml_group(&mut inventory, &name, group.unwrap_or_default(), (path, text))?;
    }
    Ok(inventory)
}

/// Where `needle` first appears in `text` (1-based line and column), for errors found after
/// parsing; (1, 1) when it cannot be found.
fn position_of(text: &str, needle: &str) -> (usize, usize) {
    text.lines()
        .enumerate()
        .find_map(|(i, line)| line.find(needle).map(|c| (i + 1, line[..c].chars().count() + 1)))
        .unwrap_or((1, 1))
}

fn add_yaml_group(
    inventory: &mut Inventory,
    name: &str,
    group: YamlGroup,
    (path, text): (&str, &str),
) -> Result<(), InventoryError> {
    inventory.group_mut(name).vars.extend(group.vars.unwrap_or_default());
    for (host, vars) in group.hosts.unwrap_or_default() {
        let names = hosts::expand_name(&host, Syntax::Ansible).map_err(|(column, message)| {
            let (line, start) = position_of(text, &host);
            InventoryError::Syntax {
                path: path.to_string(),
                line,
                column: start + column - 1,
                message: format!("bad host `{host}` in group `{name}`: {message}"),
            }
        })?;
        for host in names {
            inventory.add_host(&host, vars.clone().unwrap_or_default());
            let members = &mut inventory.group_mut(name).hosts;
            if !members.contains(&host) {
                members.push(host);
            }
        }
    }
    for (child, body) in group.children.unwrap_or_default() {
        inventory.group_mut(&child);
        if !inventory.groups[name].children.contains(&child) {
            inventory.group_mut(name).children.push(child.clone());
        }
        add_yaml_group(inventory, &child, body.unwrap_or_default(), (path, text))?;
    }
    Ok(())
}

fn yaml_error(err: &serde_saphyr::Error, path: &str) -> InventoryError {
    let location = err.location().unwrap_or(serde_saphyr::Location::UNKNOWN);
    let message = err.to_string();
    let message = message.split(" at line ").next().unwrap_or(&message).trim().to_string();
    let message = if message.contains("unknown field") {
        format!("{message} (a group has `hosts`, `children` and `vars`)")
    } else {
        message
    };
    InventoryError::Syntax {
        path: path.to_string(),
        line: location.line() as usize,
        column: location.column() as usize,
        message,
    }
}

// ---- ansible-inventory --list ----

#[derive(Debug, Default, Deserialize)]
struct JsonGroup {
    #[serde(default)]
    hosts: Vec<String>,
    #[serde(default)]
    children: Vec<String>,
    #[serde(default)]
    vars: Vars,
}

#[derive(Debug, Default, Deserialize)]
struct JsonMeta {
    #[serde(default)]
    hostvars: IndexMap<String, Vars>,
}

fn parse_json(text: &str, path: &str) -> Result<Inventory, InventoryError> {
    let syntax = |err: serde_json::Error| InventoryError::Syntax {
        path: path.to_string(),
        line: err.line(),
        column: err.column(),
        message: err.to_string().split(" at line ").next().unwrap_or_default().to_string(),
    };
    let mut top: IndexMap<String, serde_json::Value> = serde_json::from_str(text).map_err(syntax)?;
    let meta: JsonMeta = match top.shift_remove("_meta") {
        Some(meta) => serde_json::from_value(meta).map_err(syntax)?,
        None => JsonMeta::default(),
    };
    let mut inventory = Inventory::default();
    // `all` first: its children list the groups in the order ansible-inventory prints them.
    let mut names: Vec<String> = top.keys().cloned().collect();
    names.sort_by_key(|n| n != "all");
    for name in names {
        let group: JsonGroup = serde_json::from_value(top[&name].clone()).map_err(|e| {
            let (line, column) = position_of(text, &format!("\"{name}\""));
            InventoryError::Syntax { path: path.to_string(), line, column, message: format!("group `{name}`: {e}") }
        })?;
        inventory.group_mut(&name).vars.extend(group.vars);
        for child in group.children {
            inventory.group_mut(&child);
            inventory.group_mut(&name).children.push(child);
        }
        for host in group.hosts {
            inventory.add_host(&host, Vars::new());
            inventory.group_mut(&name).hosts.push(host);
        }
    }
    for (host, vars) in meta.hostvars {
        inventory.add_host(&host, vars);
    }
    Ok(inventory)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(name: &str, text: &str) -> Result<Inventory, InventoryError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        Inventory::load(&path)
    }

    fn names(inv: &Inventory, on: Option<&str>, limit: Option<&str>) -> Vec<String> {
        inv.select(on, limit).unwrap().into_iter().map(|h| h.name).collect()
    }

    const INI: &str = "\
lonely ansible_host=10.0.0.9
[gpu]
gpu[01:03] rack=a
gpu04:2222 rack=b  # the new one
[gpu:vars]
driver_min=550
[storage]
nas1
[dc:children]
gpu
storage
[dc:vars]
driver_min=535
site = \"paris\"
";

    #[test]
    fn ini_groups_children_and_vars() {
        let inv = load("hosts", INI).unwrap();
        assert_eq!(inv.hosts(), ["lonely", "gpu01", "gpu02", "gpu03", "gpu04", "nas1"]);
        assert_eq!(names(&inv, Some("@dc"), None), ["gpu01", "gpu02", "gpu03", "gpu04", "nas1"]);
        assert_eq!(names(&inv, Some("@ungrouped"), None), ["lonely"]);
        let vars = inv.vars_of("gpu04");
        // The deeper group (gpu, under dc) wins over its parent; the host's own vars win over both.
        assert_eq!(vars["driver_min"], "550");
        assert_eq!(vars["site"], "paris");
        assert_eq!(vars["rack"], "b");
        assert_eq!(vars["ansible_port"], 2222);
        assert_eq!(inv.vars_of("nas1")["driver_min"], "535");
    }

    #[test]
    fn limit_follows_ansible() {
        let inv = load("hosts.ini", INI).unwrap();
        assert_eq!(names(&inv, None, Some("gpu:!gpu02")), ["gpu01", "gpu03", "gpu04"]);
        assert_eq!(names(&inv, None, Some("dc,&storage")), ["nas1"]);
        assert_eq!(names(&inv, None, Some("gpu0[1-2],lonely")), ["lonely", "gpu01", "gpu02"]);
        assert_eq!(names(&inv, Some("@gpu"), Some("*3")), ["gpu03"]);
        assert!(inv.select(None, Some("gpu99")).unwrap_err().contains("no host `gpu99`"));
        let err = inv.select(Some("@gpus"), None).unwrap_err();
        assert!(err.contains("did you mean `@gpu`"), "{err}");
        let err = inv.select(Some("gpu5"), None).unwrap_err();
        assert!(err.contains("no host `gpu5`"), "{err}");
    }

    #[test]
    fn yaml_inventories() {
        let yaml = "\
all:
  vars: {driver_min: 535}
  hosts:
    login1:
  children:
    gpu:
      vars: {driver_min: 550}
      hosts:
        gpu[01:02]: {rack: a}
        gpu03:
          rack: b
          ansible_user: ops
";
        let inv = load("inv.yml", yaml).unwrap();
        assert_eq!(inv.hosts(), ["login1", "gpu01", "gpu02", "gpu03"]);
        assert_eq!(names(&inv, Some("@gpu"), None), ["gpu01", "gpu02", "gpu03"]);
        assert_eq!(inv.vars_of("gpu03")["driver_min"], 550);
        assert_eq!(inv.vars_of("gpu03")["ansible_user"], "ops");
        assert_eq!(inv.vars_of("login1")["driver_min"], 535);
        let err = load("bad.yaml", "all:\n  host:\n    a:\n").unwrap_err();
        assert!(matches!(&err, InventoryError::Syntax { line: 2, .. }), "{err}");
        assert!(err.to_string().contains("unknown field"), "{err}");
    }

    #[test]
    fn ansible_inventory_list_json() {
        let json = r#"{
            "_meta": {"hostvars": {"gpu01": {"rack": "a", "driver_min": 550}, "gpu02": {"rack": "b"}}},
            "all": {"children": ["ungrouped", "gpu"]},
            "gpu": {"hosts": ["gpu01", "gpu02"], "vars": {"site": "paris"}},
            "ungrouped": {"hosts": ["login1"]}
        }"#;
        let inv = load("inv.json", json).unwrap();
        assert_eq!(names(&inv, Some("@gpu"), None), ["gpu01", "gpu02"]);
        assert_eq!(inv.vars_of("gpu01")["driver_min"], 550);
        assert_eq!(inv.vars_of("gpu02")["site"], "paris");
        assert_eq!(names(&inv, Some("@ungrouped"), None), ["login1"]);
        let err = load("inv.json", "{\n  \"gpu\": {\"hosts\": 3}}").unwrap_err();
        assert!(matches!(&err, InventoryError::Syntax { line: 2, column: 3, .. }), "{err}");
        let err = load("inv.yml", "gpu:\n  hosts:\n    n[3:1]:\n").unwrap_err();
        assert!(matches!(&err, InventoryError::Syntax { line: 3, .. }), "{err}");
        let err = load("inv.json", "{\"all\": [}").unwrap_err();
        assert!(matches!(err, InventoryError::Syntax { line: 1, .. }), "{err}");
    }

    #[test]
    fn bad_ini_says_where() {
        let err = load("h", "[gpu]\na b\n").unwrap_err();
        assert_eq!(err.to_string().split(": ").next().unwrap().rsplit('/').next().unwrap(), "h:2:1");
        assert!(err.to_string().contains("`b` after host `a` is not `name=value`"), "{err}");
        let err = load("h", "[gpu\n").unwrap_err();
        assert!(err.to_string().contains("never closed"), "{err}");
        let err = load("h", "[gpu]\nx[05:01]\n").unwrap_err();
        assert!(err.to_string().contains("goes backwards"), "{err}");
        let err = load("h", "[gpu:hosts]\n").unwrap_err();
        assert!(err.to_string().contains("unknown section kind"), "{err}");
        let missing = Inventory::load(Path::new("/nonexistent/inventory")).unwrap_err();
        assert_eq!(missing.to_string(), "cannot read inventory /nonexistent/inventory: No such file or directory");
    }
}
