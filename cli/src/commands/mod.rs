//! One module per subcommand.

pub mod check;
pub mod explain;
pub mod fmt;
pub mod import;
pub mod lsp;
pub mod produce;
pub mod run;
pub mod serve;
pub mod test;
