//! The Hugo site config of a docs folder, for `{{< param NAME >}}`: its `params` table.
//!
//! Looked for in the KB folder and the two above it (a KB may be the site, its `content/` or
//! `content/en/`): `hugo.{toml,yaml,yml,json}`, `config.{toml,yaml,yml,json}`, and the split form
//! `config/_default/` with `params.*`. Only a `params` table is taken, so another tool's
//! `config.yaml` contributes nothing.

use std::path::{Path, PathBuf};

const SITE_FILES: [&str; 8] =
    ["hugo.toml", "hugo.yaml", "hugo.yml", "hugo.json", "config.toml", "config.yaml", "config.yml", "config.json"];
const PARAMS_FILES: [&str; 4] = ["params.toml", "params.yaml", "params.yml", "params.json"];
/// Folders above the KB searched for the config.
const LEVELS_UP: usize = 2;

/// What the Hugo config gives: the site's params (`Null` without any) and the files read.
#[derive(Debug, Clone, Default)]
pub(crate) struct HugoSite {
    pub params: serde_json::Value,
    pub files: Vec<PathBuf>,
}

impl HugoSite {
    /// The config of the site holding `root`, if any.
    pub(crate) fn locate(root: &Path) -> HugoSite {
        for dir in root.ancestors().take(LEVELS_UP + 1) {
            let site = HugoSite::in_dir(dir);
            if !site.files.is_empty() {
                return site;
            }
        }
        HugoSite::default()
    }

    fn in_dir(dir: &Path) -> HugoSite {
        let mut site = HugoSite::default();
        if let Some((file, value)) = SITE_FILES.iter().map(|name| dir.join(name)).find_map(|f| read(&f).map(|v| (f, v)))
            && let Some(params) = value.get("params").filter(|p| p.is_object())
        {
            site.params = params.clone();
            site.files.push(file);
        }
        let split = dir.join("config").join("_default");
        for file in PARAMS_FILES.iter().map(|name| split.join(name)) {
            if let Some(value) = read(&file).filter(|v| v.is_object()) {
                merge(&mut site.params, value);
                site.files.push(file);
            }
        }
        for file in SITE_FILES.iter().map(|name| split.join(name)) {
            if let Some(params) = read(&file).and_then(|v| v.get("params").cloned()).filter(|p| p.is_object()) {
                merge(&mut site.params, params);
                site.files.push(file);
            }
        }
        site
    }

    /// Sizes and times of the files read, so that caches can tell when they change.
    pub(crate) fn stamps(&self) -> String {
        self.files
            .iter()
            .map(|file| {
                let stamp = std::fs::metadata(file).ok().and_then(|m| super::cache::FileStamp::of(&m));
                format!("{}:{:?}", file.display(), stamp.map(|s| (s.size, s.mtime_ns)))
            })
            .collect::<Vec<_>>()
            .join(";")
    }
}

/// The `cascade` of every section page (`_index.md`) among `files`: (folder of the section, its
/// cascade), for `{{< param >}}` in the pages below it. Hugo also allows a list of cascades,
/// each for some pages (`_target`): their values are taken for every page below.
pub(crate) fn cascades(files: &[crate::model::parse::SourceFile]) -> Vec<(String, serde_json::Value)> {
    let mut out = Vec::new();
    for file in files {
        let Some(stem) = file.stem_path.rsplit('/').next() else { continue };
        if stem != "_index" && stem != "index" {
            continue;
        }
        let Some(text) = file.file.as_ref().and_then(|f| std::fs::read_to_string(f).ok()) else { continue };
        let Some(front) = front_matter_json(text.trim_start_matches('\u{feff}')) else { continue };
        let folder = file.path.rsplit_once('/').map(|(dir, _)| dir.to_string()).unwrap_or_default();
        match front.get("cascade") {
            Some(serde_json::Value::Array(items)) => out.extend(items.iter().map(|c| (folder.clone(), c.clone()))),
            Some(cascade @ serde_json::Value::Object(_)) => out.push((folder, cascade.clone())),
            _ => {}
        }
    }
    out
}

/// A file's front matter as JSON, if it has readable front matter.
fn front_matter_json(text: &str) -> Option<serde_json::Value> {
    let fragment = super::front_matter::split(text).fragment?;
    match fragment.format {
        super::front_matter::Format::Yaml => {
            serde_saphyr::from_str::<super::front_matter::Lenient>(&fragment.text).ok().map(|v| v.0)
        }
        super::front_matter::Format::Toml => toml::from_str::<toml::Table>(&fragment.text)
            .ok()
            .map(|t| super::front_matter::toml_to_json(toml::Value::Table(t))),
    }
}

/// A config file as JSON, or `None` when it is missing or not readable as its format.
fn read(file: &Path) -> Option<serde_json::Value> {
    let text = std::fs::read_to_string(file).ok()?;
    match file.extension()?.to_str()? {
        "toml" => {
            toml::from_str::<toml::Table>(&text).ok().map(|t| super::front_matter::toml_to_json(toml::Value::Table(t)))
        }
        "yaml" | "yml" => serde_saphyr::from_str::<serde_json::Value>(&text).ok(),
        "json" => serde_json::from_str(&text).ok(),
        _ => None,
    }
}

/// Adds the keys of `more` to `into` (an object, or `Null`).
fn merge(into: &mut serde_json::Value, more: serde_json::Value) {
    let serde_json::Value::Object(more) = more else { return };
    if !into.is_object() {
        *into = serde_json::Value::Object(serde_json::Map::new());
    }
    if let Some(map) = into.as_object_mut() {
        map.extend(more);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_of_the_site_above() {
        let tmp = tempfile::tempdir().unwrap();
        let site = tmp.path();
        std::fs::create_dir_all(site.join("content/en")).unwrap();
        std::fs::write(site.join("config.yaml"), "title: Docs\nparams:\n  version: \"2.1\"\n").unwrap();
        let found = HugoSite::locate(&site.join("content/en"));
        assert_eq!(found.params["version"], "2.1");
        assert_eq!(found.files, [site.join("config.yaml")]);
        assert!(!found.stamps().is_empty());
    }

    #[test]
    fn another_tools_config_gives_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("config.yaml"), "replicas: 3\n").unwrap();
        let found = HugoSite::locate(tmp.path());
        assert!(found.params.is_null() && found.files.is_empty());
    }

    #[test]
    fn split_config_folders() {
        let tmp = tempfile::tempdir().unwrap();
        let split = tmp.path().join("config/_default");
        std::fs::create_dir_all(&split).unwrap();
        std::fs::write(split.join("params.toml"), "version = \"0.3\"\n[ui]\nnavbar = true\n").unwrap();
        let found = HugoSite::locate(tmp.path());
        assert_eq!(found.params["version"], "0.3");
        assert_eq!(found.params["ui"]["navbar"], true);
    }
}
