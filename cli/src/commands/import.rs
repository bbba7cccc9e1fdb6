//! `acteon import`: the older gateway's YAML+TOML configuration as one `.acteon` script.

use acteon_dsl::import;
use anyhow::Context;
use std::path::PathBuf;
use std::process::ExitCode;

/// Convert an acteon.toml and a directory of YAML rule files into an equivalent script, and
/// name everything that could not be converted.
#[derive(clap::Args)]
#[command(
    after_help = "Example:\n  acteon import --config pipelines/aws-event-pipeline/reference/acteon.toml \\\n    --rules pipelines/aws-event-pipeline/reference/rules -o imported.acteon"
)]
pub struct Args {
    /// The gateway's TOML configuration.
    #[arg(long)]
    config: PathBuf,
    /// The directory of YAML rule files.
    #[arg(long)]
    rules: PathBuf,
    /// Where to write the script (default: standard output).
    #[arg(short, long)]
    output: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let imported = import::import(&args.config, &args.rules)?;
    for item in &imported.unconverted {
        eprintln!("warning: not converted: {item}");
    }
    match &args.output {
        Some(path) => std::fs::write(path, &imported.script)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => print!("{}", imported.script),
    }
    Ok(ExitCode::SUCCESS)
}
