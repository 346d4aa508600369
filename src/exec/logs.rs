//! Where one step's full output goes: `steps/NN-<id>.stdout|.stderr` in the run folder
//! (DESIGN §5), or nowhere without an archive. A file is created by whoever writes first, so a
//! quiet step leaves no empty files behind and retries add to the same log.

use super::stream::StreamKind;
use std::io::Write;
use std::path::PathBuf;

/// One log: the full path and the path relative to the run folder.
#[derive(Debug, Clone)]
pub(crate) struct LogFile {
    pub path: PathBuf,
    pub relative: String,
}

#[derive(Debug, Default)]
pub(crate) struct StepLogs {
    pub stdout: Option<LogFile>,
    pub stderr: Option<LogFile>,
}

impl StepLogs {
    fn log(&self, kind: StreamKind) -> Option<&LogFile> {
        match kind {
            StreamKind::Stdout => self.stdout.as_ref(),
            StreamKind::Stderr => self.stderr.as_ref(),
        }
    }

    pub(crate) fn path(&self, kind: StreamKind) -> Option<PathBuf> {
        self.log(kind).map(|log| log.path.clone())
    }

    /// The run-relative name of the log, if anything was written to it.
    pub(crate) fn written(&self, kind: StreamKind) -> Option<String> {
        self.log(kind).filter(|log| log.path.exists()).map(|log| log.relative.clone())
    }

    /// Appends one line (probes write what they saw this way).
    pub(crate) fn write_line(&self, kind: StreamKind, line: &str) {
        if let Some(log) = self.log(kind)
            && let Ok(mut file) = std::fs::OpenOptions::new().create(true).append(true).open(&log.path)
        {
            let _ = writeln!(file, "{line}");
        }
    }

    /// Marks where a retry begins, in logs that already hold output.
    pub(crate) fn separator(&self, attempt: u32) {
        for log in [&self.stdout, &self.stderr].into_iter().flatten() {
            if log.path.exists()
                && let Ok(mut file) = std::fs::OpenOptions::new().append(true).open(&log.path)
            {
                let _ = writeln!(file, "──── attempt {attempt} ────");
            }
        }
    }
}
