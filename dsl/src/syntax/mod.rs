//! Parsing: `grammar/acteon.pest` through pest, then the pest pairs into the [`ast`].

// A file's items are built once and only ever walked by reference, so the size of the largest
// variant (a rule) costs nothing worth boxing for.
#[allow(clippy::large_enum_variant)]
pub mod ast;
mod parse;

pub use parse::{parse, MAX_NESTING};
