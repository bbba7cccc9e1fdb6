//! `acteon explain`: what a script compiles to.

use crate::diagnostics::compile_or_report;
use acteon_dsl::explain;
use std::path::PathBuf;
use std::process::ExitCode;

/// Show a script's rule evaluation order (text), its plan (json), or its dataflow and chain
/// step graphs (dot for Graphviz, mermaid).
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  acteon explain pipelines/aws-event-pipeline/pipeline.acteon\n  acteon explain pipelines/aws-event-pipeline/pipeline.acteon --format dot | dot -Tsvg > plan.svg"
)]
pub struct Args {
    /// The script (its includes are followed).
    file: PathBuf,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Format {
    Text,
    Json,
    Dot,
    Mermaid,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let Some(plan) = compile_or_report(&args.file) else {
        return Ok(ExitCode::from(1));
    };
    let out = match args.format {
        Format::Text => explain::text(&plan),
        Format::Json => explain::json(&plan),
        Format::Dot => explain::dot(&plan),
        Format::Mermaid => explain::mermaid(&plan),
    };
    print!("{out}");
    Ok(ExitCode::SUCCESS)
}
