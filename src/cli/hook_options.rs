//! The options of the alert hooks, shared by `runbook serve --hooks` and `runbook hooks`.

use super::Context;
use crate::cli::error::{Error, Result};
use crate::model::config::Config;
use crate::model::duration::Duration;
use crate::server::hooks::auth::{Signature, Token};
use crate::server::hooks::{DEFAULT_BODY_LIMIT, HooksConfig, RunnerConfig};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Alert hooks")]
pub(super) struct HookOptions {
    /// Grafana: verify its HMAC-SHA256 signature with the secret in FILE
    #[arg(long, value_name = "FILE")]
    grafana_hmac_secret: Option<PathBuf>,
    /// Grafana: the header holding the signature
    #[arg(long, value_name = "HEADER", default_value = "X-Grafana-Alerting-Signature")]
    grafana_signature_header: String,
    /// Grafana: the header holding the signed timestamp, when its contact point sets one
    #[arg(long, value_name = "HEADER")]
    grafana_timestamp_header: Option<String>,
    /// One run per alert fingerprint and status within this time
    #[arg(long, value_name = "DURATION", default_value = "10m")]
    cooldown: Duration,
    /// Diagnosis runs at once
    #[arg(long, value_name = "N", default_value_t = 2)]
    concurrency: usize,
    /// Runs waiting for a free slot; alerts beyond are counted and dropped
    #[arg(long, value_name = "N", default_value_t = 256)]
    queue: usize,
    /// Stop a diagnosis run that takes longer than this
    #[arg(long, value_name = "DURATION", default_value = "30m")]
    run_timeout: Duration,
    /// Largest webhook body accepted, in bytes
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_BODY_LIMIT)]
    max_body: usize,
}

impl HookOptions {
    /// The hooks' configuration: the token and secret read, the child runs pointed at this KB.
    pub(super) fn config(&self, ctx: &Context, token_file: &Path) -> Result<HooksConfig> {
        let token_file = ctx.cwd.join(token_file);
        warn_if_readable_by_others(&token_file);
        let token = Token::from_file(&token_file).map_err(|err| Error::Invalid {
            message: err.to_string(),
            hint: Some(format!("create it with `openssl rand -hex 32 > {0}; chmod 600 {0}`", token_file.display())),
        })?;
        let signature = match &self.grafana_hmac_secret {
            Some(path) => Some(
                Signature::from_file(
                    &ctx.cwd.join(path),
                    Some(self.grafana_signature_header.clone()),
                    self.grafana_timestamp_header.clone(),
                )
                .map_err(|err| Error::Invalid { message: err.to_string(), hint: None })?,
            ),
            None => None,
        };
        let source = ctx.kb_source()?;
        let (kb_config, _) = Config::load(&source);
        let exe = std::env::current_exe()
            .map_err(|e| Error::Failed { message: format!("cannot find the runbook binary: {e}"), hint: None })?;
        let runner = RunnerConfig {
            exe,
            kb_root: source.root().map(Path::to_path_buf),
            archives: source.archives_dir(&kb_config, ctx.archives.as_deref()),
            cooldown: self.cooldown.as_std(),
            concurrency: self.concurrency.max(1),
            queue: self.queue.max(1),
            run_timeout: self.run_timeout.as_std(),
        };
        Ok(HooksConfig { token, signature, body_limit: self.max_body, runner })
    }
}

fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        eprintln!("warning: {} can be read by other users; `chmod 600` it", path.display());
    }
}
