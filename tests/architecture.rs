//! The layer order of DESIGN §1, kept by a test: every path into the crate that a file under
//! `src/` names (`use crate::…`, grouped `use crate::{a, b::c}`, `pub use`, inline
//! `crate::a::b(..)`, and `super::` paths that climb into another top-level module) must point
//! at its own layer or one below it. Subcommands under `src/cli/` never import one another;
//! only `cli/mod.rs` dispatches to them.
//!
//! Where the files outside the layers sit: `assets.rs` (embedded templates and site files,
//! depending on nothing of ours) sits with `util` at the bottom; `lib.rs` and `main.rs` are the
//! crate roots above `cli` and may name anything; `fuzzing` (the fuzz targets' entry points) sits
//! with `cli`. The `ctx!` macro is `#[macro_export]`ed, so it
//! is named `crate::ctx` although `render` defines it: it counts as `render`.

use std::path::{Path, PathBuf};

/// Bottom to top. A module may import from its own layer and the ones before it.
const LAYERS: [&[&str]; 10] = [
    &["util", "assets"],
    &["model"],
    &["record"],
    &["archive"],
    &["exec"],
    &["index"],
    &["render"],
    // The MCP tools (§16): served over stdio by `cli` and over HTTP by `server`.
    &["mcp"],
    &["server"],
    // `fuzzing`: the fuzz targets' entry points, a front end like `cli` that nothing imports.
    &["cli", "fuzzing"],
];

/// Items exported at the crate root by a module (macros), and the module that defines them.
const ROOT_ITEMS: [(&str, &str); 1] = [("ctx", "render")];

/// Files directly under `src/cli/` that every subcommand may use. Every other file (or folder)
/// there is a subcommand. (`plain`: what exec, show, check and import share about plain docs —
/// prompting for placeholders, rendering their errors; `hook_options`: the alert-hook flags
/// `serve --hooks` and `hooks` both take.)
const SHARED_CLI: [&str; 7] = ["mod", "error", "context", "output", "diagnostics", "plain", "hook_options"];

/// One path into the crate, named at `file:line`.
#[derive(Debug)]
struct Import {
    file: String,
    line: usize,
    /// The module the path is written in (the file's module plus any inline `mod`).
    from: Vec<String>,
    /// The path as written, for messages: `super::cycle::since`.
    written: String,
    /// The path from the crate root (`super`/`self`/`crate` resolved); `None` when it climbs
    /// above the root.
    resolved: Option<Vec<String>>,
}

fn layer_of(top: &str) -> Option<usize> {
    let top = ROOT_ITEMS.iter().find(|(item, _)| *item == top).map_or(top, |(_, module)| module);
    LAYERS.iter().position(|layer| layer.contains(&top))
}

fn order() -> String {
    LAYERS.iter().map(|layer| layer.join("+")).collect::<Vec<_>>().join(" → ")
}

/// The module path of a file: `src/exec/probe/mod.rs` → `[exec, probe]`; the crate roots → `[]`.
fn module_of(file: &str) -> Vec<String> {
    let relative = file.strip_prefix("src/").unwrap_or(file).trim_end_matches(".rs");
    let mut parts: Vec<String> = relative.split('/').map(str::to_string).collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib" | "main")) {
        parts.pop();
    }
    parts
}

/// Whether `file` is a crate root (`lib.rs`, `main.rs`): those declare and may name anything.
fn is_root(file: &str) -> bool {
    matches!(file, "src/lib.rs" | "src/main.rs")
}

/// `source` with comments, string and character literals turned into spaces (newlines kept),
/// so that only code is scanned and line numbers stay right.
fn blank(source: &str) -> String {
    let chars: Vec<char> = source.chars().collect();
    let mut out = String::with_capacity(source.len());
    let mut i = 0;
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    let keep = |c: char| if c == '\n' { '\n' } else { ' ' };
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let prev = if i > 0 { Some(chars[i - 1]) } else { None };
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(keep(chars[i]));
                    i += 1;
                }
            }
        } else if c == 'r' && matches!(next, Some('"' | '#')) && prev.is_none_or(|p| !is_ident(p) || p == 'b') {
            let hashes = chars[i + 1..].iter().take_while(|&&h| h == '#').count();
            if chars.get(i + 1 + hashes) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            let close: String = std::iter::once('"').chain(std::iter::repeat_n('#', hashes)).collect();
            let body_start = i + 2 + hashes;
            let rest: String = chars[body_start..].iter().collect();
            let body_len = rest.find(&close).map_or(rest.chars().count(), |at| rest[..at].chars().count());
            let end = (body_start + body_len + close.chars().count()).min(chars.len());
            out.extend(chars[i..end].iter().map(|&c| keep(c)));
            i = end;
        } else if c == '"' {
            out.push(' ');
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                if i < chars.len() {
                    out.push(keep(chars[i]));
                    i += 1;
                }
            }
            out.push(' ');
            i += 1;
        } else if c == '\'' && next == Some('\\') {
            // An escaped character literal: up to the closing quote.
            let end = chars[i + 3..].iter().position(|&q| q == '\'').map_or(chars.len(), |at| i + 4 + at);
            out.extend(std::iter::repeat_n(' ', end - i));
            i = end;
        } else if c == '\'' && chars.get(i + 2) == Some(&'\'') {
            out.push_str("   ");
            i += 3;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    PathSep,
    Punct(char),
}

fn tokens(code: &str) -> Vec<(Token, usize)> {
    let chars: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let (mut i, mut line) = (0, 1);
    while i < chars.len() {
        let c = chars[i];
        if c == '\n' {
            line += 1;
            i += 1;
        } else if c.is_whitespace() {
            i += 1;
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push((Token::Ident(chars[start..i].iter().collect()), line));
        } else if c == ':' && chars.get(i + 1) == Some(&':') {
            out.push((Token::PathSep, line));
            i += 2;
        } else {
            out.push((Token::Punct(c), line));
            i += 1;
        }
    }
    out
}

/// Whether a path starts inside this crate (rather than at another crate or a local name).
fn is_crate_path(first: &str) -> bool {
    matches!(first, "crate" | "super" | "self")
}

/// Resolves `crate`, `super` and `self` against the module `from`.
fn resolve(from: &[String], path: &[String]) -> Option<Vec<String>> {
    let mut segments = path.iter().peekable();
    let mut base: Vec<String> = match segments.peek().map(|s| s.as_str()) {
        Some("crate") => {
            segments.next();
            Vec::new()
        }
        _ => from.to_vec(),
    };
    while let Some(segment) = segments.next_if(|s| *s == "super" || *s == "self") {
        if segment == "super" {
            base.pop()?;
        }
    }
    base.extend(segments.filter(|s| *s != "self").cloned());
    Some(base)
}

/// The paths of one `use` tree starting at `tokens[*at]`, each with `prefix` in front.
fn use_tree(tokens: &[(Token, usize)], at: &mut usize, prefix: Vec<String>, out: &mut Vec<(Vec<String>, usize)>) {
    let mut path = prefix;
    let line = tokens.get(*at).map_or(0, |(_, line)| *line);
    while let Some((token, line)) = tokens.get(*at) {
        match token {
            Token::Punct('{') => {
                *at += 1;
                while !matches!(tokens.get(*at), None | Some((Token::Punct('}'), _))) {
                    use_tree(tokens, at, path.clone(), out);
                    if matches!(tokens.get(*at), Some((Token::Punct(','), _))) {
                        *at += 1;
                    }
                }
                *at += 1;
                return;
            }
            Token::Ident(name) if name == "as" => {
                *at += 2;
                break;
            }
            Token::Ident(name) => {
                path.push(name.clone());
                *at += 1;
                if !matches!(tokens.get(*at), Some((Token::PathSep, _))) {
                    out.push((path, *line));
                    if matches!(tokens.get(*at), Some((Token::Ident(word), _)) if word == "as") {
                        *at += 2;
                    }
                    return;
                }
                *at += 1;
            }
            Token::Punct('*') => {
                *at += 1;
                break;
            }
            _ => break,
        }
    }
    if !path.is_empty() {
        out.push((path, line));
    }
}

/// Every path into the crate that `source` (the text of `file`) names.
fn scan(file: &str, source: &str) -> Vec<Import> {
    let tokens = tokens(&blank(source));
    let file_module = module_of(file);
    // Inline `mod name {`: the module name and the brace depth it opened at.
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0;
    let mut imports = Vec::new();
    let mut at = 0;
    while at < tokens.len() {
        let mut found: Vec<(Vec<String>, usize)> = Vec::new();
        match &tokens[at].0 {
            Token::Ident(word) if word == "mod" => {
                if let (Some((Token::Ident(name), _)), Some((Token::Punct('{'), _))) =
                    (tokens.get(at + 1), tokens.get(at + 2))
                {
                    inline.push((name.clone(), depth));
                    depth += 1;
                    at += 3;
                    continue;
                }
                at += 1;
            }
            Token::Ident(word) if word == "use" => {
                at += 1;
                if matches!(tokens.get(at), Some((Token::PathSep, _))) {
                    at += 1;
                }
                use_tree(&tokens, &mut at, Vec::new(), &mut found);
            }
            Token::Ident(word) if is_crate_path(word) && matches!(tokens.get(at + 1), Some((Token::PathSep, _))) => {
                let line = tokens[at].1;
                let mut path = vec![word.clone()];
                at += 1;
                while let (Some((Token::PathSep, _)), Some((Token::Ident(next), _))) =
                    (tokens.get(at), tokens.get(at + 1))
                {
                    path.push(next.clone());
                    at += 2;
                }
                found.push((path, line));
            }
            Token::Punct('{') => {
                depth += 1;
                at += 1;
            }
            Token::Punct('}') => {
                depth = depth.saturating_sub(1);
                if inline.last().is_some_and(|(_, opened)| *opened == depth) {
                    inline.pop();
                }
                at += 1;
            }
            _ => at += 1,
        }
        let from: Vec<String> =
            file_module.iter().cloned().chain(inline.iter().map(|(name, _)| name.clone())).collect();
        for (path, line) in found.into_iter().filter(|(path, _)| path.first().is_some_and(|p| is_crate_path(p))) {
            imports.push(Import {
                file: file.to_string(),
                line,
                resolved: resolve(&from, &path),
                written: path.join("::"),
                from: from.clone(),
            });
        }
    }
    imports
}

/// The subcommand a module path of `cli` names, if any: `[cli, cycle, since]` → `cycle`.
fn subcommand<'a>(path: &'a [String], subcommands: &[String]) -> Option<&'a str> {
    match path {
        [top, name, ..] if top == "cli" && subcommands.contains(name) => Some(name),
        _ => None,
    }
}

/// What is wrong with one import, if anything.
fn violation(import: &Import, subcommands: &[String]) -> Option<String> {
    if is_root(&import.file) {
        return None;
    }
    let place = format!("{}:{}", import.file, import.line);
    let Some(target) = &import.resolved else {
        return Some(format!("{place}: `{}` climbs above the crate root", import.written));
    };
    let (from_top, to_top) = (&import.from[0], target.first()?);
    if from_top == to_top && from_top != "cli" {
        return None;
    }
    let (Some(from_layer), Some(to_layer)) = (layer_of(from_top), layer_of(to_top)) else {
        return Some(format!(
            "{place}: `{}` names the top-level `{to_top}`, which has no layer; add it to LAYERS (order {})",
            import.written,
            order()
        ));
    };
    if to_layer > from_layer {
        return Some(format!(
            "{place}: `{from_top}` imports `{}` from `{to_top}`, a layer above it (order {}); move what it needs down",
            import.written,
            order()
        ));
    }
    let to_command = subcommand(target, subcommands)?;
    match subcommand(&import.from, subcommands) {
        Some(from_command) if from_command == to_command => None,
        Some(from_command) => Some(format!(
            "{place}: subcommand `{from_command}` uses `{}` of subcommand `{to_command}`; subcommands never call each other, move it down",
            import.written
        )),
        None if import.file == "src/cli/mod.rs" => None,
        None => Some(format!(
            "{place}: shared cli file uses `{}` of subcommand `{to_command}`; only cli/mod.rs dispatches to subcommands",
            import.written
        )),
    }
}

/// The subcommands: every file or folder directly under `src/cli/` but the shared ones.
fn subcommands_of(files: &[(String, String)]) -> Vec<String> {
    let mut names: Vec<String> = files
        .iter()
        .filter_map(|(file, _)| file.strip_prefix("src/cli/"))
        .map(|rest| rest.split('/').next().unwrap_or(rest).trim_end_matches(".rs").to_string())
        .filter(|name| !SHARED_CLI.contains(&name.as_str()))
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Every violation in `files` (path relative to the package, text).
fn check(files: &[(String, String)]) -> (Vec<String>, usize) {
    let subcommands = subcommands_of(files);
    let imports: Vec<Import> = files.iter().flat_map(|(file, source)| scan(file, source)).collect();
    let violations = imports.iter().filter_map(|import| violation(import, &subcommands)).collect();
    (violations, imports.len())
}

fn rust_files(dir: &Path, root: &Path, out: &mut Vec<(String, String)>) {
    let mut entries: Vec<PathBuf> =
        std::fs::read_dir(dir).expect("read src/").map(|e| e.expect("entry").path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, root, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let relative = path.strip_prefix(root).expect("under the package").to_string_lossy().replace('\\', "/");
            out.push((relative, std::fs::read_to_string(&path).expect("read a source file")));
        }
    }
}

#[test]
fn imports_follow_the_layer_order() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), root, &mut files);
    let (violations, imports) = check(&files);
    // Not vacuous: the scan reads the whole crate.
    assert!(files.len() > 80 && imports > 300, "scanned {} files, {imports} imports: is src/ there?", files.len());
    assert!(violations.is_empty(), "imports that break DESIGN §1 ({}):\n{}", violations.len(), violations.join("\n"));
}

fn file(path: &str, source: &str) -> (String, String) {
    (path.to_string(), source.to_string())
}

fn violations_in(files: &[(String, String)]) -> Vec<String> {
    check(files).0
}

#[test]
fn upward_imports_are_caught_in_every_form() {
    let found = violations_in(&[
        file("src/model/a.rs", "use crate::cli::Context;\n"),
        file("src/index/b.rs", "use std::fmt;\nuse crate::{util::fs, server::state::AppState};\n"),
        file("src/render/c.rs", "pub use crate::server::SiteSearch;\n"),
        file("src/archive/d.rs", "use super::super::exec::engine;\n"),
        file("src/exec/e.rs", "fn f() {\n    let site = crate::render::Site::new();\n}\n"),
        file("src/record/f.rs", "use crate::{\n    model::Severity,\n    archive::{store, writer::RunArchive},\n};\n"),
        file("src/model/g.rs", "use crate::nothing::Here;\n"),
    ]);
    let expect = [
        "src/model/a.rs:1: `model` imports `crate::cli::Context` from `cli`",
        "src/index/b.rs:2: `index` imports `crate::server::state::AppState` from `server`",
        "src/render/c.rs:1: `render` imports `crate::server::SiteSearch` from `server`",
        "src/archive/d.rs:1: `archive` imports `super::super::exec::engine` from `exec`",
        "src/exec/e.rs:2: `exec` imports `crate::render::Site::new` from `render`",
        "src/record/f.rs:3: `record` imports `crate::archive::store` from `archive`",
        "src/record/f.rs:3: `record` imports `crate::archive::writer::RunArchive` from `archive`",
        "src/model/g.rs:1: `crate::nothing::Here` names the top-level `nothing`, which has no layer",
    ];
    assert_eq!(found.len(), expect.len(), "{found:#?}");
    for (found, expect) in found.iter().zip(expect) {
        assert!(found.starts_with(expect), "{found}\n  should start with\n{expect}");
    }
}

#[test]
fn subcommands_never_import_one_another() {
    let found = violations_in(&[
        file("src/cli/mod.rs", "mod archive;\nmod cycle;\nfn f() { cycle::run(); archive::run(); }\n"),
        file("src/cli/output.rs", "pub fn paint() {}\n"),
        file("src/cli/cycle.rs", "pub fn since() {}\n"),
        file("src/cli/search.rs", "pub fn fresh_index() {}\n"),
        file(
            "src/cli/archive.rs",
            "use super::output::paint;\nuse crate::cli::search::fresh_index;\nfn f() { super::cycle::since(); }\n",
        ),
        file("src/cli/context.rs", "use super::cycle::since;\n"),
    ]);
    let expect = [
        "src/cli/archive.rs:2: subcommand `archive` uses `crate::cli::search::fresh_index` of subcommand `search`",
        "src/cli/archive.rs:3: subcommand `archive` uses `super::cycle::since` of subcommand `cycle`",
        "src/cli/context.rs:1: shared cli file uses `super::cycle::since` of subcommand `cycle`",
    ];
    assert_eq!(found.len(), expect.len(), "{found:#?}");
    for (found, expect) in found.iter().zip(expect) {
        assert!(found.starts_with(expect), "{found}\n  should start with\n{expect}");
    }
}

#[test]
fn comments_strings_and_allowed_paths_are_not_imports() {
    let found = violations_in(&[
        file(
            "src/model/a.rs",
            concat!(
                "//! See [`crate::cli`].\n",
                "// use crate::server::x;\n",
                "/* crate::render::y /* nested */ crate::exec::z */\n",
                "const S: &str = \"crate::cli::Context\";\n",
                "const R: &str = r#\"use crate::cli::x; \"quoted\"\"#;\n",
                "const C: char = '\"'; const Q: char = '\\'';\n",
                "fn f<'a>(x: &'a str) -> &'a str { x }\n",
                "use crate::util::text::duration;\n",
                "pub(crate) use super::b::B;\n",
            ),
        ),
        file("src/cli/show.rs", "use super::context::find;\nuse crate::cli::error::Result;\nuse crate::model::Kb;\n"),
        file("src/lib.rs", "pub mod cli;\npub mod model;\n"),
        file("src/render/pages.rs", "fn f() { crate::ctx! {}; }\n"),
    ]);
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn inline_modules_change_what_super_means() {
    let source = "fn f() {}\n#[cfg(test)]\nmod tests {\n    use super::*;\n    use super::super::super::cli::Context;\n}\nuse super::super::cli::X;\n";
    let found = violations_in(&[file("src/model/a.rs", source)]);
    // In `mod tests`, three `super`s climb to the root; after it, two do.
    assert_eq!(found.len(), 2, "{found:#?}");
    assert!(
        found[0].starts_with("src/model/a.rs:5: `model` imports `super::super::super::cli::Context`"),
        "{found:#?}"
    );
    assert!(found[1].starts_with("src/model/a.rs:7: `model` imports `super::super::cli::X`"), "{found:#?}");
}

/// The modules `src/lib.rs` declares, with whether each is `pub` (reachable from outside).
fn declared_modules(lib: &str) -> Vec<(String, bool)> {
    lib.lines()
        .filter_map(|line| {
            let line = line.trim();
            let (public, rest) = match line.strip_prefix("pub mod ") {
                Some(rest) => (true, rest),
                None => (false, line.strip_prefix("pub(crate) mod ").or_else(|| line.strip_prefix("mod "))?),
            };
            Some((rest.trim_end_matches(';').to_string(), public))
        })
        .collect()
}

#[test]
fn modules_are_crate_private_unless_something_outside_reaches_them() {
    let lib = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs")).expect("read lib.rs");
    assert!(lib.contains("#![warn(unreachable_pub)]"), "src/lib.rs must keep `#![warn(unreachable_pub)]`");
    let modules = declared_modules(&lib);
    assert!(modules.len() >= 10, "read {} modules from src/lib.rs", modules.len());
    // main.rs drives `cli`, the benchmark harness `index`, the fuzz targets `fuzzing`.
    let public: Vec<&str> = modules.iter().filter(|(_, public)| *public).map(|(name, _)| name.as_str()).collect();
    assert_eq!(public, ["cli", "fuzzing", "index"], "only what main.rs, the harness and the fuzz targets use is `pub`");
}

#[test]
fn a_public_module_is_seen() {
    let lib = "pub(crate) mod archive;\npub mod cli;\n#[doc(hidden)]\npub mod fuzzing;\nmod util;\n";
    let modules = declared_modules(lib);
    assert_eq!(
        modules,
        [("archive".into(), false), ("cli".into(), true), ("fuzzing".into(), true), ("util".into(), false)]
    );
}
