//! Parsing: `grammar/acteon.pest` through pest, then the pest pairs into the [`ast`].

pub mod ast;
mod parse;

pub use parse::{parse, MAX_NESTING};
