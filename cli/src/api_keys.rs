//! Where `acteon serve` takes its API keys from: a file, the environment, or (for
//! development) the command line, which every user of the machine can read in the process
//! list.

use acteon_server::ApiKey;
use anyhow::Context;
use std::path::PathBuf;

/// The environment variable that holds API keys.
pub const ENV: &str = "ACTEON_API_KEYS";

#[derive(clap::Args, Debug, Clone)]
#[command(next_help_heading = "API keys")]
pub struct ApiKeyArgs {
    /// Require the keys in this file: one per line, `KEY` or `KEY:TENANT[,TENANT...]` (limited
    /// to those tenants); blank lines and `#` comments are skipped. Keys are also read from
    /// the ACTEON_API_KEYS environment variable (entries separated by newlines or `;`).
    #[arg(long, value_name = "FILE")]
    api_keys_file: Option<PathBuf>,
    /// Require this API key (repeatable); `KEY:TENANT[,TENANT...]` limits it to tenants. For
    /// development only: the command line is visible to every user of the machine (use
    /// --api-keys-file or ACTEON_API_KEYS).
    #[arg(long = "api-key", value_name = "KEY[:TENANTS]")]
    api_keys: Vec<ApiKey>,
}

impl ApiKeyArgs {
    /// Every key from the file, the environment and the command line (the last with a
    /// warning).
    pub fn keys(&self) -> anyhow::Result<Vec<ApiKey>> {
        let mut keys = Vec::new();
        if let Some(path) = &self.api_keys_file {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the API keys file {}", path.display()))?;
            keys.extend(
                ApiKey::parse_list(&text)
                    .map_err(|e| anyhow::anyhow!("in the API keys file {}: {e}", path.display()))?,
            );
        }
        if let Ok(text) = std::env::var(ENV) {
            keys.extend(ApiKey::parse_list(&text).map_err(|e| anyhow::anyhow!("in {ENV}: {e}"))?);
        }
        if !self.api_keys.is_empty() {
            eprintln!(
                "warning: --api-key puts the key in the process list, where every user of this \
                 machine can read it; use --api-keys-file or {ENV} outside development"
            );
            keys.extend(self.api_keys.iter().cloned());
        }
        Ok(keys)
    }
}
