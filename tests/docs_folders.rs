//! Real docs folders just work (issue 11, DESIGN §3): pages in the shape of Hugo (YAML and TOML
//! front matter, Docsy shortcodes), Docusaurus, Jekyll and mkdocs, with a broken front matter, a
//! broken link and a shortcode link. Every file is listed, found, rendered; `check` says exactly
//! what is wrong and nothing else.

use crate::test::{BIN, Test, unindent};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

const HUGO_CONFIG: &str = "baseURL: https://docs.example/\ntitle: Example docs\nparams:\n  version: \"2.4.1\"\n";

const HUGO_SECTION: &str = r#"
---
title: Documentation
linkTitle: Docs
weight: 20
description: Everything about the example service.
cascade:
  type: docs
---

The docs of the example service.
"#;

const HUGO_SETUP: &str = r#"
---
title: Setting up the gateway
linkTitle: Setup
weight: 10
draft: false
description: Install the gateway on a fresh host.
aliases: [/docs/install/]
author: ops
runme:
  id: 01HF7
  version: v3
---

# Setting up the gateway

{{% alert title="Before you start" color="warning" %}}
Free at least 2 GiB on `/var` for the **flamingo** cache.
{{% /alert %}}

Install version {{< param version >}} with `gatewayctl install`.

If the disk fills up, see [disk full]({{< ref "troubleshooting.md#disk-full" >}}).

{{< figure src="/img/gateway.png" caption="The gateway and its pelican queue" >}}

{{< tabpane >}}
{{< tab header="Debian" >}}
Run `apt install gateway` on Debian hosts.
{{< /tab >}}
{{< /tabpane >}}
"#;

const HUGO_TOML: &str = r#"
+++
title = "Troubleshooting"
weight = 30
date = 2024-03-01T10:00:00Z
[params]
owner_team = "edge"
+++

# Troubleshooting

## Disk full

When the quokka spool fills the disk, clear it.
"#;

const DOCUSAURUS: &str = r#"
---
sidebar_position: 2
sidebar_label: Intro
slug: /intro
tags:
  - label: Getting started
    permalink: /start
description: Where to begin with the heron dashboard.
---

# Introduction

:::tip[Fast path]
Open the heron dashboard first.
:::

Read [the missing page](./missing.md) next.
"#;

const JEKYLL: &str = r#"
---
layout: docs
permalink: /docs/install/
title: Installing on macOS
---

> [!NOTE]
> Homebrew installs the walrus toolchain.

Run the installer.
"#;

const JEKYLL_POST: &str = r#"
---
layout: post
title: "Release 4.2"
date: 2024-01-01 10:00:00 +0000
categories: release
---

The armadillo release is out.
"#;

const MKDOCS: &str = r#"
---
hide:
  - navigation
  - toc
search:
  boost: 2
---

# Caching

!!! note "Heads up"
    The ocelot cache warms up in a minute.

    Be patient.

Outside the box.
"#;

const BROKEN_FRONT_MATTER: &str = r#"
---
title: "Never closed quote
tags: [a, b
---

# Broken page

The narwhal body is still searchable.
"#;

const TYPO: &str = r#"
---
tittle: Misspelt
sumary: Also misspelt.
tag: gpu
---

# Typo page

About the axolotl service.
"#;

const KUBE_JOB_FAILED: &str = r#"
---
title: Kube Job Failed
weight: 20
---

# KubeJobFailed

## Meaning

Job failed complete.

## Impact

Failure of processing of a scheduled task.

## Diagnosis

- Check job via `kubectl -n $NAMESPACE describe jobs $JOB`.
- Check pod events via `kubectl -n $NAMESPACE describe pod $POD_FROM_JOB`.

## Mitigation

- Redesign the job so that it is idempotent.
"#;

const KUBE_JOB_COMPLETION: &str = r#"
---
title: Kube Job Completion
---

# KubeJobCompletion

## Meaning

Job is taking more than 1h to complete. A job that failed is a different alert.

## Impact

Long processing of batch job; possible issues with scheduling next job.

## Diagnosis

Check the job and its failed pods: `kubectl describe jobs`.
"#;

const NODE_FS_FILLING: &str = r#"
# NodeFilesystemSpaceFillingUp

## Meaning

This alert is based on an extrapolation of the space used in a file system.

## Impact

A filesystem running full is very bad for any process in need to write to the filesystem.

## Diagnosis

Check the filesystem usage with `df -h`.
"#;

const NODE_FS_ALMOST_OUT: &str = r#"
# NodeFilesystemAlmostOutOfSpace

## Meaning

The filesystem space on a node is almost used up: the space filling up leaves little.

## Mitigation

Free space on the filesystem.
"#;

/// Every fixture, at the path its generator keeps it.
const FILES: [(&str, &str); 14] = [
    ("content/en/docs/_index.md", HUGO_SECTION),
    ("content/en/docs/setup.md", HUGO_SETUP),
    ("content/en/docs/troubleshooting.md", HUGO_TOML),
    ("website/docs/intro.md", DOCUSAURUS),
    ("jekyll/_docs/macos.md", JEKYLL),
    ("jekyll/_posts/2024-01-01-release.markdown", JEKYLL_POST),
    ("mkdocs/docs/caching.md", MKDOCS),
    ("broken.md", BROKEN_FRONT_MATTER),
    ("typo.md", TYPO),
    ("alerts/kubernetes/KubeJobFailed.md", KUBE_JOB_FAILED),
    ("alerts/kubernetes/KubeJobCompletion.md", KUBE_JOB_COMPLETION),
    ("alerts/node/NodeFilesystemSpaceFillingUp.md", NODE_FS_FILLING),
    ("alerts/node/NodeFilesystemAlmostOutOfSpace.md", NODE_FS_ALMOST_OUT),
    ("README.md", "# Example docs\n\nThe front page of the folder.\n"),
];

/// The folder as a KB (`--kb .`: a docs folder has no `runbooks/` of its own).
fn docs_folder() -> Test {
    let test = Test::new().file("config.yaml", HUGO_CONFIG).args(["--kb", "."]);
    FILES.iter().fold(test, |test, (path, text)| test.file(path, &unindent(text)))
}

/// Runs `runbook --kb DIR ARGS…` (for several commands on one folder): status, stdout, stderr.
fn in_folder(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .arg("--kb")
        .arg(dir)
        .args(args)
        .current_dir(dir)
        .env_remove("RUNBOOK_KB")
        .env("NO_COLOR", "1")
        .env("XDG_STATE_HOME", dir.join(".state"))
        .output()
        .expect("run runbook");
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    (out.status.code().unwrap_or(-1), text(&out.stdout), text(&out.stderr))
}

/// The hits of `runbook search --json ARGS…` in `dir`.
fn hits(dir: &Path, args: &[&str]) -> Vec<Value> {
    let mut full = vec!["search", "--json"];
    full.extend(args);
    let (_, stdout, stderr) = in_folder(dir, &full);
    assert!(!stderr.contains("not searchable"), "{stderr}");
    let json: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    json["hits"].as_array().cloned().unwrap_or_default()
}

fn by_path(rows: &[Value], path: &str) -> Value {
    rows.iter().find(|r| r["path"] == path).cloned().unwrap_or_else(|| panic!("{path} is not listed"))
}

#[test]
fn every_file_is_listed_and_errors_are_marked() {
    let ran = docs_folder().args(["list", "--json"]).run();
    let rows = ran.json().as_array().unwrap().clone();
    let listed: BTreeSet<&str> = rows.iter().map(|r| r["path"].as_str().unwrap()).collect();
    let files: BTreeSet<&str> = FILES.iter().map(|(path, _)| *path).collect();
    assert_eq!(listed, files, "every Markdown file (.md and .markdown) is listed");
    assert_eq!(by_path(&rows, "broken.md")["errors"], 1, "its front matter does not parse");
    assert_eq!(by_path(&rows, "broken.md")["title"], "Broken page", "the body is read all the same");
    assert_eq!(by_path(&rows, "website/docs/intro.md")["errors"], 1, "its broken link");
    assert_eq!(by_path(&rows, "typo.md")["errors"], 0, "misspelt keys are warnings");
    for clean in ["content/en/docs/setup.md", "content/en/docs/troubleshooting.md", "jekyll/_docs/macos.md"] {
        assert_eq!(by_path(&rows, clean)["errors"], 0, "{clean}");
    }
    let setup = by_path(&rows, "content/en/docs/setup.md");
    assert_eq!(setup["summary"], "Install the gateway on a fresh host.", "description stands in for summary");
    assert_eq!(by_path(&rows, "content/en/docs/_index.md")["title"], "Documentation");
    assert_eq!(by_path(&rows, "website/docs/intro.md")["tags"], serde_json::json!(["Getting started"]));
    assert_eq!(by_path(&rows, "jekyll/_posts/2024-01-01-release.markdown")["title"], "Release 4.2");
    // The `list` table has a column for them too.
    let table = docs_folder().args(["list"]).run();
    let broken = table.stdout.lines().find(|l| l.contains("Broken page")).expect("listed");
    assert!(broken.contains("✘ 1 error"), "{broken}");
}

/// `check` says exactly what is wrong: the broken front matter, the broken link (errors), the
/// misspelt keys and the shortcode it cannot render (warnings). No generator key is a problem.
#[test]
fn check_names_only_real_problems() {
    let ran = docs_folder().args(["check", "--json"]).status(1).run();
    let json = ran.json();
    let found: BTreeSet<(String, u64, String, String)> = json["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            let message = d["message"].as_str().unwrap();
            let head: String = message.chars().take(40).collect();
            (
                d["path"].as_str().unwrap().to_string(),
                d["line"].as_u64().unwrap(),
                d["rule"].as_str().unwrap().to_string(),
                head,
            )
        })
        .collect();
    let expected: BTreeSet<(String, u64, String, String)> = [
        ("broken.md", 2, "front-matter"),
        ("content/en/docs/setup.md", 26, "shortcode"),
        ("content/en/docs/setup.md", 27, "shortcode"),
        ("typo.md", 2, "front-matter-key"),
        ("typo.md", 3, "front-matter-key"),
        ("typo.md", 4, "front-matter-key"),
        ("website/docs/intro.md", 17, "link"),
    ]
    .iter()
    .map(|(path, line, rule)| {
        let hit = found.iter().find(|f| f.0 == *path && f.1 == *line && f.2 == *rule);
        hit.cloned().unwrap_or_else(|| panic!("no {rule} diagnostic at {path}:{line} in {found:#?}"))
    })
    .collect();
    assert_eq!(found, expected, "nothing else is reported");
    assert_eq!((json["errors"].as_u64(), json["warnings"].as_u64()), (Some(2), Some(5)), "{json:#}");
    let diags = json["diagnostics"].as_array().unwrap();
    let link = diags.iter().find(|d| d["rule"] == "link").unwrap();
    assert_eq!((link["severity"].as_str(), link["column"].as_u64()), (Some("error"), Some(6)));
    assert!(link["message"].as_str().unwrap().contains("./missing.md"), "{link:#}");
    let typo = diags.iter().find(|d| d["line"] == 2 && d["path"] == "typo.md").unwrap();
    assert_eq!(typo["severity"], "warning");
    assert!(typo["hint"].as_str().unwrap().starts_with("did you mean `title`?"), "{typo:#}");
    let tabpane = diags.iter().find(|d| d["message"].as_str().unwrap().contains("`tabpane`")).unwrap();
    assert_eq!(tabpane["severity"], "warning");
    assert_eq!(tabpane["column"], 1);
    // Human output points into the file.
    let human = docs_folder().args(["check"]).status(1).run();
    assert!(human.stdout.contains("website/docs/intro.md:17:6"), "{}", human.stdout);
}

#[test]
fn every_file_is_found_by_search() {
    let dir = docs_folder().run_dir();
    for (word, path) in [
        ("flamingo", "content/en/docs/setup.md"),
        ("pelican", "content/en/docs/setup.md"),
        ("2.4.1", "content/en/docs/setup.md"),
        ("quokka", "content/en/docs/troubleshooting.md"),
        ("heron", "website/docs/intro.md"),
        ("walrus", "jekyll/_docs/macos.md"),
        ("armadillo", "jekyll/_posts/2024-01-01-release.markdown"),
        ("ocelot", "mkdocs/docs/caching.md"),
        ("narwhal", "broken.md"),
        ("axolotl", "typo.md"),
    ] {
        let hits = hits(dir.path(), &[word]);
        assert_eq!(hits.first().map(|h| h["path"].clone()), Some(Value::from(path)), "`{word}`: {hits:#?}");
        if path == "broken.md" {
            assert_eq!(hits[0]["errors"], 1, "the hit says the file has an error");
        }
    }
    // Shortcode and admonition syntax is never indexed as words.
    for syntax in ["alert", "tabpane", "figure", "param", "ref"] {
        let hits = hits(dir.path(), &[syntax]);
        assert!(hits.iter().all(|h| h["path"] != "content/en/docs/setup.md"), "`{syntax}` is no word of the page");
    }
}

/// An alert-named page is the first hit for its name, in any case, and for its words.
#[test]
fn alert_pages_are_found_by_name_and_words() {
    let dir = docs_folder().run_dir();
    for (query, first) in [
        ("KubeJobFailed", "alerts/kubernetes/KubeJobFailed.md"),
        ("kubejobfailed", "alerts/kubernetes/KubeJobFailed.md"),
        ("KUBEJOBFAILED", "alerts/kubernetes/KubeJobFailed.md"),
        ("job failed", "alerts/kubernetes/KubeJobFailed.md"),
        ("kube job failed", "alerts/kubernetes/KubeJobFailed.md"),
        ("NodeFilesystemSpaceFillingUp", "alerts/node/NodeFilesystemSpaceFillingUp.md"),
        ("filesystem space filling up", "alerts/node/NodeFilesystemSpaceFillingUp.md"),
        ("node filesystem space filling", "alerts/node/NodeFilesystemSpaceFillingUp.md"),
    ] {
        let hits = hits(dir.path(), &[query]);
        assert_eq!(hits.first().map(|h| h["path"].clone()), Some(Value::from(first)), "`{query}`: {hits:#?}");
    }
}

/// Hits are pages: a page's other matching sections fold under its best one.
#[test]
fn search_results_are_grouped_per_page() {
    let dir = docs_folder().run_dir();
    let hits = hits(dir.path(), &["job"]);
    let paths: Vec<&str> = hits.iter().map(|h| h["path"].as_str().unwrap()).collect();
    let unique: BTreeSet<&str> = paths.iter().copied().collect();
    assert_eq!(paths.len(), unique.len(), "one hit per page: {paths:?}");
    let failed = hits.iter().find(|h| h["path"] == "alerts/kubernetes/KubeJobFailed.md").unwrap();
    let more: Vec<&str> = failed["more"].as_array().unwrap().iter().map(|s| s["heading"].as_str().unwrap()).collect();
    assert!(more.len() >= 2 && more.contains(&"Diagnosis"), "{failed:#}");
    let (_, human, _) = in_folder(dir.path(), &["search", "job"]);
    assert!(human.contains("more sections:"), "{human}");
}

#[test]
fn generator_keys_are_kept_as_extra() {
    let ran = docs_folder().args(["show", "--json", "content/en/docs/setup.md"]).run();
    let json = ran.json();
    let extra = &json["extra"];
    assert_eq!(extra["weight"], 10);
    assert_eq!(extra["draft"], false);
    assert_eq!(extra["linkTitle"], "Setup");
    assert_eq!(extra["description"], "Install the gateway on a fresh host.");
    assert_eq!(extra["runme"]["version"], "v3", "a tool's own table, as written");
    assert!(extra.get("title").is_none() && extra.get("aliases").is_none(), "runbook keys are not extra");
    let toml = docs_folder().args(["show", "--json", "content/en/docs/troubleshooting.md"]).run().json();
    assert_eq!(toml["title"], "Troubleshooting");
    assert_eq!(toml["extra"]["date"], "2024-03-01T10:00:00Z");
    assert_eq!(toml["extra"]["params"]["owner_team"], "edge");
    // The `ref` shortcode is a cross-reference, with its anchor.
    let links = json["links"].as_array().unwrap();
    let reference = links.iter().find(|l| l["dest"] == "troubleshooting.md#disk-full").expect("the ref link");
    assert_eq!(reference["target"], "troubleshooting");
    assert_eq!(reference["anchor"], "disk-full");
    let backlinks = toml["backlinks"].as_array().unwrap();
    assert!(backlinks.iter().any(|b| b["path"] == "content/en/docs/setup.md"), "{backlinks:#?}");
}

#[test]
fn pages_render_without_raw_shortcodes() {
    let ran = docs_folder().args(["build", "--out", "public"]).run();
    let read = |id: &str| {
        std::fs::read_to_string(ran.path().join(format!("public/runbooks/{id}/index.html")))
            .unwrap_or_else(|e| panic!("page {id}: {e}"))
    };
    let setup = read("setup");
    let body = setup.split("<div class=\"prose\">").nth(1).unwrap();
    assert!(!body.contains("{{"), "no raw shortcode: {body}");
    assert!(body.contains("<aside class=\"admonition admonition-warning\""), "{body}");
    assert!(body.contains("<p class=\"admonition-title\">Before you start</p>"), "{body}");
    assert!(body.contains("Install version 2.4.1 with"), "the param comes from config.yaml: {body}");
    assert!(body.contains("href=\"/runbooks/troubleshooting/#disk-full\""), "the ref link points at the page: {body}");
    assert!(body.contains("<img src=\"/img/gateway.png\""), "{body}");
    assert!(body.contains("<span class=\"figure-caption\">The gateway and its pelican queue</span>"), "{body}");
    assert!(body.contains("Run <code>apt install gateway</code> on Debian hosts."), "tab content is kept: {body}");
    let troubleshooting = read("troubleshooting");
    assert!(troubleshooting.contains("Referenced by"), "the ref counts as a backlink");
    assert!(troubleshooting.contains("href=\"/runbooks/setup/\""));
    let intro = read("intro");
    assert!(intro.contains("admonition-tip") && intro.contains(">Fast path</p>"), "{intro}");
    assert!(!intro.contains(":::"), "{intro}");
    let macos = read("macos");
    assert!(macos.contains("admonition-note") && !macos.contains("[!NOTE]"), "{macos}");
    let caching = read("caching");
    assert!(caching.contains(">Heads up</p>") && caching.contains("Be patient."), "{caching}");
    assert!(!caching.contains("!!!"), "{caching}");
    // A page with errors is shown with a banner.
    let broken = read("broken");
    assert!(broken.contains("1 error in this file"), "{broken}");
    assert!(broken.contains("The narwhal body is still searchable."));
}

/// The navigation follows the folder tree: a folder's `_index.md` is its page, `weight` orders.
#[test]
fn navigation_follows_the_folders() {
    let ran = docs_folder()
        .file("content/en/docs/zebra.md", "---\nweight: 5\n---\n# Zebra first\n")
        .args(["build", "--out", "public"])
        .run();
    let assets = ran.path().join("public/assets");
    let nav = std::fs::read_dir(&assets)
        .unwrap()
        .flatten()
        .find(|e| e.file_name().to_string_lossy().starts_with("nav."))
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .expect("the shared nav");
    let docs =
        nav.find("<a href=\"/runbooks/_index/\">Docs</a></summary>").expect("the folder's page, by its linkTitle");
    let order: Vec<usize> =
        ["Zebra first", "Setup", "Troubleshooting"].iter().map(|t| nav[docs..].find(t).expect(t)).collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "weight 5, 10, 30: {nav}");
    assert!(nav.starts_with("<ul><li><a href=\"/runbooks/README/\">Example docs</a>"), "the front page first: {nav}");
}

/// `exec` refuses a runbook whose steps have errors, but a broken link affects nothing else.
#[test]
fn a_broken_link_does_not_stop_exec() {
    let page = "# Runnable\n\nSee [gone](gone.md).\n\n```yaml step\nrun: echo ran-it\n```\n";
    let ran = Test::new().file("runbooks/ops/runnable.md", page).args(["exec", "runnable", "--no-archive"]).run();
    assert!(ran.stdout.contains("ran-it"), "{}", ran.stdout);
    let broken = "# Broken step\n\nSee [gone](gone.md).\n\n```yaml step\nrun: true\ntimeout: never\n```\n";
    let refused = Test::new().file("runbooks/ops/stuck.md", broken).args(["exec", "stuck"]).status(2).run();
    assert!(
        refused.stderr.contains("has 1 error: it will not run"),
        "only the step's error counts: {}",
        refused.stderr
    );
}

/// A link to an anchor the site generator makes for a heading of symbols only (`### $$`; DocFX
/// names it `#section`) is a warning: runbook cannot tell it is broken. Any other missing anchor
/// stays an error.
#[test]
fn anchors_a_generator_makes_for_symbol_headings_are_warnings() {
    let ran = Test::new()
        .file(
            "docs/vars.md",
            "# Variables\n\n- [`$$`](#section)\n- [nothing](#nowhere)\n\n### `$$`\n\nThe last token.\n",
        )
        .file("docs/plain.md", "# Plain\n\n- [missing](#section)\n\n## Words\n")
        .args(["--kb", ".", "check", "--json"])
        .status(1)
        .run();
    let json = ran.json();
    let found: Vec<(String, String, String)> = json["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["path"].as_str().unwrap().to_string(),
                d["severity"].as_str().unwrap().to_string(),
                d["message"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        found.contains(&(
            "docs/vars.md".into(),
            "warning".into(),
            "link to anchor `#section`, which docs/vars.md may make itself".into()
        )),
        "{found:#?}"
    );
    assert!(
        found.iter().any(|(p, s, m)| p == "docs/plain.md"
            && s == "error"
            && m.starts_with("link to missing anchor `#section`")),
        "{found:#?}"
    );
}
