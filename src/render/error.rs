//! What can stop a page from rendering.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// A template is missing or broken (a KB's own override, usually).
    #[error("template: {0:#}")]
    Template(#[from] minijinja::Error),
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("cannot write JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// The output folder holds files that the build did not write, so it is not ours to empty.
    #[error("{} exists and was not written by `runbook build`", .0.display())]
    ForeignOutput(PathBuf),
}

impl RenderError {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> RenderError {
        RenderError::Io { path: path.into(), source }
    }
}
