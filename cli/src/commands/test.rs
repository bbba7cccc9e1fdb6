//! `acteon test`: run the `test` blocks of scripts.

use crate::diagnostics::compile_or_report;
use std::path::PathBuf;
use std::process::ExitCode;

/// Run every `test` block of the scripts on the event clock with dry-run providers, and report
/// each as ok or FAILED with what differed.
#[derive(clap::Args)]
#[command(
    after_help = "Example:\n  acteon test pipelines/aws-event-pipeline/expected-outcomes.acteon"
)]
pub struct Args {
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let (mut passed, mut failed) = (0usize, 0usize);
    for path in &args.files {
        let Some(plan) = compile_or_report(path) else {
            failed += 1;
            continue;
        };
        for test in &plan.tests {
            let outcome = acteon_engine::run_test(&plan, test);
            if outcome.passed {
                passed += 1;
                println!("test {} ... ok", test.name);
            } else {
                failed += 1;
                println!("test {} ... FAILED", test.name);
                for failure in &outcome.failures {
                    println!("    {failure}");
                }
            }
        }
    }
    println!("\ntests: {passed} passed, {failed} failed");
    Ok(if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
