//! `acteon lsp`: the language server, for editors.

use std::path::PathBuf;
use std::process::ExitCode;

/// Run the language server on stdin and stdout (editors start it; see docs/editors.md).
///
/// Diagnostics as you type (the same as `acteon check --format json`), go to definition and
/// find references for rules, providers, chains, steps and includes, hover, completion,
/// formatting (`acteon fmt`'s layout) and quick fixes.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  acteon lsp\n  acteon lsp --sample pipelines/aws-event-pipeline/telemetry.jsonl --server http://127.0.0.1:8080"
)]
pub struct Args {
    /// JSON lines of actions whose fields `payload.` and `metadata.` complete to (the
    /// scripts' test blocks and their input files are read too).
    #[arg(long, value_name = "FILE")]
    sample: Option<PathBuf>,
    /// A running `acteon serve` (http://HOST:PORT): hover shows each rule's live count.
    #[arg(long, value_name = "URL")]
    server: Option<String>,
    /// The API key for --server, when it requires one.
    #[arg(long, value_name = "KEY", requires = "server")]
    api_key: Option<String>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    acteon_lsp::run_stdio(acteon_lsp::Options {
        sample: args.sample,
        server: args.server,
        api_key: args.api_key,
    })?;
    Ok(ExitCode::SUCCESS)
}
