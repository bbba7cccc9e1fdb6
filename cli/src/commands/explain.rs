//! `acteon explain`: what a script compiles to.

use crate::diagnostics::compile_or_report;
use acteon_dsl::diagnostic::{explain::explanation, Code};
use acteon_dsl::explain;
use anyhow::bail;
use std::path::PathBuf;
use std::process::ExitCode;

/// Show a script's rule evaluation order (text), its plan (json), or its dataflow and chain
/// step graphs (dot for Graphviz, mermaid); or, with --code, what a diagnostic code means.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  acteon explain pipelines/aws-event-pipeline/pipeline.acteon\n  acteon explain pipelines/aws-event-pipeline/pipeline.acteon --format dot | dot -Tsvg > plan.svg\n  acteon explain --code E0101"
)]
pub struct Args {
    /// The script (its includes are followed).
    #[arg(required_unless_present = "code", conflicts_with = "code")]
    file: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// A diagnostic code (E0101, W0001, ...): its long explanation, with an example.
    #[arg(long, value_name = "CODE")]
    code: Option<String>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Format {
    Text,
    Json,
    Dot,
    Mermaid,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if let Some(code) = &args.code {
        let Some(code) = Code::parse(code) else {
            let known: Vec<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
            bail!(
                "no diagnostic code `{code}`; the codes are {}",
                known.join(", ")
            );
        };
        print!("{}", explanation(code));
        return Ok(ExitCode::SUCCESS);
    }
    let file = args.file.expect("clap requires a file without --code");
    let Some(plan) = compile_or_report(&file) else {
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
