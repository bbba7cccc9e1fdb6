//! `acteon fmt`: rewrite scripts in the canonical layout.

use acteon_dsl::diagnostic::Style;
use acteon_dsl::source::SourceMap;
use acteon_dsl::{fmt, syntax};
use anyhow::Context;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

/// Format scripts in place (comments kept). With --check, change nothing and exit 1 if any
/// file is not already formatted.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  acteon fmt pipelines/aws-event-pipeline/*.acteon\n  acteon fmt --check pipelines/aws-event-pipeline/*.acteon"
)]
pub struct Args {
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Report files that would change instead of changing them.
    #[arg(long)]
    check: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut failed = false;
    for path in &args.files {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let mut sources = SourceMap::default();
        let id = sources.add(path.clone(), text.clone());
        let file = match syntax::parse(id, path, &text) {
            Ok(file) => file,
            Err(diagnostic) => {
                let style = Style::for_terminal(std::io::stderr().is_terminal());
                eprint!("{}", diagnostic.render_styled(&sources, style));
                failed = true;
                continue;
            }
        };
        let formatted = fmt::format(&file, &text);
        if formatted == text {
            continue;
        }
        if args.check {
            eprintln!("{}: not formatted", path.display());
            failed = true;
        } else {
            std::fs::write(path, formatted)
                .with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!("formatted {}", path.display());
        }
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
