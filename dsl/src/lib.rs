//! The `.acteon` language, from source text to the plan the engine runs.
//!
//! Module map:
//! - [`syntax`]: the pest parser over `grammar/acteon.pest` and the AST, every node with its span.
//! - [`source`]: the source map diagnostics point into.
//! - [`load`]: reading the root file, following `include`s, collecting syntax errors.
//! - [`diagnostic`]: errors and warnings with stable codes, labelled spans, hints and fixes;
//!   their text and JSON forms and long explanations.
//! - [`check`]: name resolution and every semantic check, all errors in one pass.
//! - [`lower`]: the checked AST into a [`plan::Plan`].
//! - [`plan`]: the serializable IR the engine consumes.
//! - [`rows`]: table files (JSON lines of rows), read by the checker and the engine.
//! - [`fmt`]: the canonical formatter (`acteon fmt`).
//! - [`import`]: the older YAML+TOML gateway format into a script (`acteon import`).
//! - [`explain`]: a plan as a text table, JSON, Graphviz dot or Mermaid (`acteon explain`).
//!
//! [`compile_file`] and [`compile_str`] run the front end in order: load, check, lower.

pub mod check;
pub mod diagnostic;
pub mod explain;
pub mod fmt;
pub mod import;
pub mod load;
pub mod lower;
pub mod plan;
pub mod rows;
pub mod source;
pub mod syntax;

use std::path::Path;

/// The result of compiling a script: everything loaded, every diagnostic, and the plan when
/// there were no errors.
#[derive(Debug, Clone)]
pub struct Compiled {
    pub program: load::Program,
    /// Sorted by file, then position.
    pub diagnostics: Vec<diagnostic::Diagnostic>,
    pub plan: Option<plan::Plan>,
}

/// Compiles the script rooted at `path`.
pub fn compile_file(path: impl AsRef<Path>) -> Compiled {
    compile(load::load_file(path.as_ref()))
}

/// Compiles a script whose root file's text is given; includes are read relative to `path`.
pub fn compile_str(path: impl AsRef<Path>, text: &str) -> Compiled {
    compile(load::load_str(path.as_ref(), text))
}

/// [`compile_str`], with included files read by `read` (the language server's open documents).
pub fn compile_str_with(path: impl AsRef<Path>, text: &str, read: load::Reader) -> Compiled {
    compile(load::load_str_with(path.as_ref(), text, read))
}

fn compile(program: load::Program) -> Compiled {
    let mut diagnostics = program.diagnostics.clone();
    diagnostics.extend(check::check(&program));
    diagnostics.sort_by_key(|d| (d.file, d.span.start));
    diagnostic::attach_did_you_mean_fixes(&program.sources, &mut diagnostics);
    let plan = (!diagnostics.iter().any(|d| d.is_error())).then(|| lower::lower(&program));
    Compiled {
        program,
        diagnostics,
        plan,
    }
}

impl Compiled {
    pub fn has_errors(&self) -> bool {
        self.errors() > 0
    }

    pub fn errors(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.is_error()).count()
    }

    pub fn warnings(&self) -> usize {
        self.diagnostics.len() - self.errors()
    }

    /// Every diagnostic rendered against the sources, in order.
    pub fn render_diagnostics(&self) -> String {
        self.diagnostics
            .iter()
            .map(|d| d.render(&self.program.sources))
            .collect()
    }
}
