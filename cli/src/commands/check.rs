//! `acteon check`: every error and warning of each script, at once.

use crate::diagnostics;
use acteon_dsl::compile_file;
use std::collections::HashSet;
use std::path::PathBuf;
use std::process::ExitCode;

/// Check scripts: syntax, names, types, regexes, crons, chains, templates, unreachable rules.
///
/// A file that another given file includes is checked as part of that file, so
/// `acteon check dir/*.acteon` checks each script once.
/// Exit status: 0 clean, 1 errors (or warnings with --deny-warnings).
///
/// With `--format json` every diagnostic is one JSON object per line on stdout (code,
/// severity, message, spans with labels, hint, fix): what the language server publishes.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  acteon check pipelines/aws-event-pipeline/*.acteon\n  acteon check --format json pipelines/aws-event-pipeline/pipeline.acteon"
)]
pub struct Args {
    /// Scripts to check.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Treat warnings as errors.
    #[arg(long)]
    deny_warnings: bool,
    /// `text` (for people, on stderr) or `json` (one object per diagnostic, on stdout).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    Text,
    Json,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let compiled: Vec<_> = args.files.iter().map(|f| (f, compile_file(f))).collect();
    // Files reached through another given file's includes are not roots of their own.
    let included: HashSet<PathBuf> = compiled
        .iter()
        .flat_map(|(_, c)| {
            c.program
                .sources
                .files()
                .skip(1)
                .filter_map(|(_, f)| f.path.canonicalize().ok())
                .collect::<Vec<_>>()
        })
        .collect();
    let (mut errors, mut warnings, mut roots) = (0, 0, 0);
    for (file, result) in &compiled {
        let is_included = file
            .canonicalize()
            .map(|p| included.contains(&p))
            .unwrap_or(false);
        if is_included {
            continue;
        }
        roots += 1;
        match args.format {
            Format::Text => diagnostics::report(result),
            Format::Json => diagnostics::report_json(result),
        }
        errors += result.errors();
        warnings += result.warnings();
    }
    eprintln!(
        "checked {roots} script{} ({} file{}): {errors} error{}, {warnings} warning{}",
        plural(roots),
        args.files.len(),
        plural(args.files.len()),
        plural(errors),
        plural(warnings)
    );
    let failed = errors > 0 || (args.deny_warnings && warnings > 0);
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

pub fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
