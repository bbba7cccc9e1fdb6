//! Compiling a script for a command: diagnostics go to stderr (coloured on a terminal, unless
//! `NO_COLOR` is set), a plan comes back only when there were no errors.

use acteon_dsl::diagnostic::json::Report;
use acteon_dsl::diagnostic::Style;
use acteon_dsl::plan::Plan;
use acteon_dsl::{compile_file, Compiled};
use std::io::IsTerminal;
use std::path::Path;

/// Compiles `path`, prints every diagnostic, and returns the plan if there were no errors.
pub fn compile_or_report(path: &Path) -> Option<Plan> {
    let compiled = compile_file(path);
    report(&compiled);
    compiled.plan
}

/// Prints a compilation's diagnostics, all of them, to stderr.
pub fn report(compiled: &Compiled) {
    let style = Style::for_terminal(std::io::stderr().is_terminal());
    let rendered: String = compiled
        .diagnostics
        .iter()
        .map(|d| d.render_styled(&compiled.program.sources, style))
        .collect();
    if !rendered.is_empty() {
        eprint!("{rendered}");
    }
}

/// Prints a compilation's diagnostics to stdout as JSON, one object per line: the form the
/// language server publishes too.
pub fn report_json(compiled: &Compiled) {
    for diagnostic in &compiled.diagnostics {
        println!(
            "{}",
            Report::new(diagnostic, &compiled.program.sources).to_json_line()
        );
    }
}
