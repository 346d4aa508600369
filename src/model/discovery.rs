//! Where the knowledge base is, and which files in it are runbooks (DESIGN §2).

use super::cache::FileStamp;
use super::config::CONFIG_FILE;
use super::parse::SourceFile;
use std::path::{Path, PathBuf};

/// Extensions of Markdown files (Jekyll writes `.markdown` too), compared without regard to case.
pub(crate) const MARKDOWN_EXTENSIONS: [&str; 2] = ["md", "markdown"];

/// Whether a file name or path is a Markdown file's.
pub(crate) fn is_markdown_path(path: &str) -> bool {
    markdown_stem(path).is_some()
}

/// `path` without its Markdown extension, if it has one.
pub(crate) fn markdown_stem(path: &str) -> Option<&str> {
    let (stem, ext) = path.rsplit_once('.')?;
    (!stem.is_empty() && !stem.ends_with('/') && MARKDOWN_EXTENSIONS.iter().any(|m| ext.eq_ignore_ascii_case(m)))
        .then_some(stem)
}

/// Folders never searched for runbooks: run records, build output, dependencies.
pub(crate) const SKIPPED_DIRS: [&str; 3] = ["archives", "target", "node_modules"];

/// Where the runbooks come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KbSource {
    /// A folder on disk. `runbooks_dir` is `root/runbooks` when that exists, else `root`.
    Dir { root: PathBuf, runbooks_dir: PathBuf },
    /// The runbooks compiled into the binary.
    Builtin,
}

#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    #[error("knowledge base `{0}` does not exist")]
    Missing(PathBuf),
    #[error("knowledge base `{0}` is not a directory")]
    NotADirectory(PathBuf),
}

impl KbSource {
    /// The KB of an explicit `--kb DIR` / `RUNBOOK_KB`, or the nearest ancestor of `cwd` holding
    /// `runbook.toml` or `runbooks/`, or the built-in KB.
    pub fn locate(explicit: Option<&Path>, cwd: &Path) -> Result<KbSource, DiscoveryError> {
        if let Some(dir) = explicit {
            let dir = if dir.is_absolute() { dir.to_path_buf() } else { cwd.join(dir) };
            if !dir.exists() {
                return Err(DiscoveryError::Missing(dir));
            }
            if !dir.is_dir() {
                return Err(DiscoveryError::NotADirectory(dir));
            }
            return Ok(KbSource::for_dir(dir));
        }
        for dir in cwd.ancestors() {
            if dir.join(CONFIG_FILE).is_file() || dir.join("runbooks").is_dir() {
                return Ok(KbSource::for_dir(dir.to_path_buf()));
            }
        }
        Ok(KbSource::Builtin)
    }

    pub fn for_dir(root: PathBuf) -> KbSource {
        let root = std::fs::canonicalize(&root).unwrap_or(root);
        let nested = root.join("runbooks");
        let runbooks_dir = if nested.is_dir() { nested } else { root.clone() };
        KbSource::Dir { root, runbooks_dir }
    }

    pub fn root(&self) -> Option<&Path> {
        match self {
            KbSource::Dir { root, .. } => Some(root),
            KbSource::Builtin => None,
        }
    }

    /// Where new runbooks go (`runbook new`).
    pub fn runbooks_dir(&self) -> Option<&Path> {
        match self {
            KbSource::Dir { runbooks_dir, .. } => Some(runbooks_dir),
            KbSource::Builtin => None,
        }
    }

    /// Search index and caches (DESIGN §2): `DIR/.runbook/`, or the XDG state dir for the
    /// built-in KB.
    pub fn state_dir(&self) -> PathBuf {
        match self.root() {
            Some(root) => root.join(super::kb::STATE_DIR),
            None => super::kb::xdg_state_dir().join("builtin"),
        }
    }

    /// The search index, in the state folder.
    pub fn index_dir(&self) -> PathBuf {
        self.state_dir().join("index")
    }

    /// Where run archives go: `--archives` wins, then `runbook.toml`, then `DIR/archives/`.
    pub fn archives_dir(&self, config: &super::config::Config, override_dir: Option<&Path>) -> PathBuf {
        if let Some(dir) = override_dir {
            return dir.to_path_buf();
        }
        match self.root() {
            Some(root) => match &config.archives {
                Some(dir) => root.join(dir),
                None => root.join("archives"),
            },
            None => super::kb::xdg_state_dir().join("archives"),
        }
    }

    /// Lists the runbook files, sorted by path, with their bytes not yet read.
    pub fn files(&self) -> Vec<SourceFile> {
        match self {
            KbSource::Dir { root, runbooks_dir } => walk(root, runbooks_dir),
            KbSource::Builtin => super::kb::builtin_files(),
        }
    }

    /// [`files`](KbSource::files) and, in the same order, their stamps (`None` where a file
    /// cannot be read, and for the built-in KB, whose files have none).
    pub fn files_stamped(&self) -> (Vec<SourceFile>, Vec<Option<FileStamp>>) {
        match self {
            KbSource::Dir { root, runbooks_dir } => walk_stamped(root, runbooks_dir),
            KbSource::Builtin => {
                let files = super::kb::builtin_files();
                let stamps = vec![None; files.len()];
                (files, stamps)
            }
        }
    }
}

/// What a walk of `runbooks_dir` looks at: `.gitignore` honoured, hidden and [`SKIPPED_DIRS`]
/// folders skipped.
fn walk_builder(runbooks_dir: &Path) -> ignore::WalkBuilder {
    let mut builder = ignore::WalkBuilder::new(runbooks_dir);
    builder
        .hidden(true)
        .git_ignore(true)
        .git_exclude(true)
        .git_global(false)
        .require_git(false)
        .follow_links(false)
        .filter_entry(|entry| {
            let is_dir = entry.file_type().is_some_and(|t| t.is_dir());
            !(is_dir && entry.depth() > 0 && SKIPPED_DIRS.contains(&entry.file_name().to_string_lossy().as_ref()))
        });
    builder
}

/// The entry, when it is a Markdown file.
fn markdown_entry(entry: Result<ignore::DirEntry, ignore::Error>) -> Option<ignore::DirEntry> {
    entry.ok().filter(|entry| {
        entry.file_type().is_some_and(|t| t.is_file()) && is_markdown_path(&entry.file_name().to_string_lossy())
    })
}

/// The Markdown files under `runbooks_dir` (see [`walk_builder`]), walked on every core: the
/// files are parsed next, and a large KB's folders are many.
fn walk(root: &Path, runbooks_dir: &Path) -> Vec<SourceFile> {
    let found = std::sync::Mutex::new(Vec::new());
    walk_builder(runbooks_dir).build_parallel().run(|| {
        let found = &found;
        Box::new(move |entry| {
            if let Some(file) =
                markdown_entry(entry).and_then(|entry| source_file(root, runbooks_dir, entry.into_path()))
                && let Ok(mut found) = found.lock()
            {
                found.push(file);
            }
            ignore::WalkState::Continue
        })
    });
    let mut files = found.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
    files.sort_by(|a, b| a.path.cmp(&b.path));
    files
}

/// [`walk`] with each file's stamp: the freshness check before every search, which runs beside
/// the search itself. On two cores at 10,000 files, walking on one thread and then stamping in
/// chunks on every core (see [`FileStamp::of_paths`]) took 6 + 5 ms where the parallel walk took
/// 8 before the same stamps, and stamping as one thread walked 14.
fn walk_stamped(root: &Path, runbooks_dir: &Path) -> (Vec<SourceFile>, Vec<Option<FileStamp>>) {
    let mut files: Vec<SourceFile> = walk_builder(runbooks_dir)
        .build()
        .filter_map(markdown_entry)
        .filter_map(|entry| source_file(root, runbooks_dir, entry.into_path()))
        .collect();
    files.sort_by(|a, b| a.path.cmp(&b.path));
    let paths: Vec<Option<&Path>> = files.iter().map(|file| file.file.as_deref()).collect();
    let stamps = FileStamp::of_paths(&paths);
    (files, stamps)
}

fn source_file(root: &Path, runbooks_dir: &Path, file: PathBuf) -> Option<SourceFile> {
    // The walk names each file as its folder's path, a slash, and its name: when all three are
    // text, cutting the folder's text off is the component-wise `strip_prefix` without its cost
    // (8 % of the CPU time of a search at 10,000 files, by `perf record`).
    if let Some((path, within)) = plain_relative(&file, root).zip(plain_relative(&file, runbooks_dir)) {
        let (path, within) = (path.to_string(), within.to_string());
        return Some(SourceFile::new(path, &within, Some(file)));
    }
    let path = slash_path(file.strip_prefix(root).ok()?);
    let within = slash_path(file.strip_prefix(runbooks_dir).ok()?);
    Some(SourceFile::new(path, &within, Some(file)))
}

/// `file` relative to `folder` by text alone, where that is certainly what `strip_prefix`
/// would give: both are UTF-8 and the rest has no empty, `.` or `..` component.
fn plain_relative<'a>(file: &'a Path, folder: &Path) -> Option<&'a str> {
    let folder = folder.to_str()?.trim_end_matches('/');
    let rest = file.to_str()?.strip_prefix(folder)?.strip_prefix('/')?;
    let plain = rest.split('/').all(|part| !matches!(part, "" | "." | ".."));
    plain.then_some(rest)
}

fn slash_path(path: &Path) -> String {
    path.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/")
}

impl SourceFile {
    /// `path` relative to the KB root, `within` relative to the runbooks folder (both with `.md`).
    pub fn new(path: String, within: &str, file: Option<PathBuf>) -> SourceFile {
        let stem_path = markdown_stem(within).unwrap_or(within).to_string();
        let category_dir = stem_path.split_once('/').map(|(dir, _)| dir.to_string());
        SourceFile { path, stem_path, category_dir, file, bytes: Vec::new() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_ancestor_wins() {
        let tmp = tempfile::tempdir().unwrap();
        let kb = tmp.path().join("kb");
        std::fs::create_dir_all(kb.join("runbooks/ops")).unwrap();
        std::fs::create_dir_all(kb.join("deep/er")).unwrap();
        let found = KbSource::locate(None, &kb.join("deep/er")).unwrap();
        assert_eq!(found.root(), Some(std::fs::canonicalize(&kb).unwrap().as_path()));
        assert_eq!(found.runbooks_dir().unwrap().file_name().unwrap(), "runbooks");
    }

    #[test]
    fn explicit_dir_must_exist() {
        let tmp = tempfile::tempdir().unwrap();
        assert!(matches!(
            KbSource::locate(Some(&tmp.path().join("nope")), tmp.path()),
            Err(DiscoveryError::Missing(_))
        ));
        let plain = KbSource::locate(Some(tmp.path()), Path::new("/")).unwrap();
        assert_eq!(plain.root(), plain.runbooks_dir());
    }

    #[test]
    fn relative_paths_by_text_are_the_component_wise_ones() {
        for (file, folder) in [
            ("/kb/runbooks/ops/a.md", "/kb"),
            ("/kb/runbooks/ops/a.md", "/kb/runbooks"),
            ("/kb/runbooks/ops/a.md", "/kb/runbooks/"),
            ("/kb/runbooks/a.md", "/kb/runbooks"),
            ("/kb/runbooks/./a.md", "/kb/runbooks"),
            ("/kb/runbooks//a.md", "/kb/runbooks"),
            ("/kb/runbooks/../a.md", "/kb/runbooks"),
            ("/kb/runbooksx/a.md", "/kb/runbooks"),
            ("/elsewhere/a.md", "/kb"),
        ] {
            let (file, folder) = (Path::new(file), Path::new(folder));
            let by_components = file.strip_prefix(folder).ok().map(slash_path);
            if let Some(by_text) = plain_relative(file, folder) {
                assert_eq!(Some(by_text.to_string()), by_components, "{file:?} in {folder:?}");
            }
        }
        assert_eq!(plain_relative(Path::new("/kb/runbooks/ops/a.md"), Path::new("/kb")), Some("runbooks/ops/a.md"));
        assert_eq!(plain_relative(Path::new("/kb/runbooksx/a.md"), Path::new("/kb/runbooks")), None);
    }

    #[test]
    fn walk_skips_what_it_should() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        for file in ["a.md", "ops/b.md", ".hidden/c.md", "archives/d.md", "node_modules/e.md", "ignored/f.md", "g.txt"]
        {
            let path = root.join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "# x\n").unwrap();
        }
        std::fs::write(root.join(".gitignore"), "ignored/\n").unwrap();
        let source = KbSource::for_dir(root.to_path_buf());
        let paths: Vec<String> = source.files().into_iter().map(|f| f.path).collect();
        assert_eq!(paths, vec!["a.md", "ops/b.md"]);
        // The freshness check's walk (one thread, with stamps) sees the same files.
        let (files, stamps) = source.files_stamped();
        let stamped: Vec<(String, Option<u64>)> =
            files.into_iter().zip(stamps).map(|(f, stamp)| (f.path, stamp.map(|s| s.size))).collect();
        assert_eq!(stamped, [("a.md".to_string(), Some(4)), ("ops/b.md".to_string(), Some(4))]);
        assert!(is_markdown_path("_posts/2019-07-02-release.markdown") && is_markdown_path("README.MD"));
        assert!(!is_markdown_path(".md") && !is_markdown_path("notes.txt"));
        assert_eq!(markdown_stem("posts/a.markdown"), Some("posts/a"));
    }
}
