//! Compiling a script for a command: diagnostics go to stderr, a plan comes back only when
//! there were no errors.

use acteon_dsl::plan::Plan;
use acteon_dsl::{compile_file, Compiled};
use std::path::Path;

/// Compiles `path`, prints every diagnostic, and returns the plan if there were no errors.
pub fn compile_or_report(path: &Path) -> Option<Plan> {
    let compiled = compile_file(path);
    report(&compiled);
    compiled.plan
}

/// Prints a compilation's diagnostics, all of them, to stderr.
pub fn report(compiled: &Compiled) {
    let rendered = compiled.render_diagnostics();
    if !rendered.is_empty() {
        eprint!("{rendered}");
    }
}
