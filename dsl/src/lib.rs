//! The `.acteon` language, from source text to the plan the engine runs.
//!
//! Module map:
//! - [`syntax`]: the pest parser over `grammar/acteon.pest` and the AST, every node with its span.
//! - [`source`]: the source map diagnostics point into.
//! - [`load`]: reading the root file, following `include`s, collecting syntax errors.
//! - [`diagnostic`]: errors and warnings with stable codes, spans, carets and hints.
//! - [`check`]: name resolution and every semantic check, all errors in one pass.
//! - [`lower`]: the checked AST into a [`plan::Plan`].
//! - [`plan`]: the serializable IR the engine consumes.
//! - [`fmt`]: the canonical formatter (`acteon fmt`).
//! - [`import`]: the older YAML+TOML gateway format into a script (`acteon import`).
//! - [`explain`]: a plan as a text table, JSON, Graphviz dot or Mermaid (`acteon explain`).

pub mod check;
pub mod diagnostic;
pub mod explain;
pub mod fmt;
pub mod import;
pub mod load;
pub mod lower;
pub mod plan;
pub mod source;
pub mod syntax;
