//! `acteon lsp`: a language server for `.acteon` scripts, over stdio, on `lsp-server` and
//! `lsp-types`.
//!
//! It answers from the same front end as `acteon check` (`acteon-dsl`): the diagnostics it
//! publishes are built from [`acteon_dsl::diagnostic::json::Report`], the very objects
//! `acteon check --format json` prints, so the editor and the command line cannot disagree.
//!
//! Module map:
//! - [`server`]: the message loop: documents opened and changed, requests answered, diagnostics
//!   pushed once the queue of changes is drained.
//! - [`documents`]: the editor's unsaved texts; `file://` URIs to paths and back.
//! - [`workspace`]: which script a document belongs to (the root that includes it) and the
//!   analysis of that script.
//! - [`index`]: declarations and uses of rules, providers, chains, steps, recurring actions,
//!   tests and includes, for definition, references and hover.
//! - [`convert`]: reports to the protocol's diagnostics, fixes to code actions.
//! - [`hover`]: what a name shows on hover.
//! - [`completion`]: keywords, names, settings per block kind, field paths.
//! - [`samples`]: the field paths of sample actions (`--sample`, the scripts' test blocks).
//! - [`live`]: each rule's live count from a running `acteon serve` (`--server`).
//! - [`lines`]: byte offsets to the protocol's UTF-16 positions.

pub mod completion;
pub mod convert;
pub mod documents;
pub mod hover;
pub mod index;
pub mod lines;
pub mod live;
pub mod samples;
pub mod server;
pub mod workspace;

use std::path::PathBuf;

pub use server::serve;

/// What `acteon lsp` is started with.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// JSON lines of actions whose fields `payload.` completes (beside the scripts' tests).
    pub sample: Option<PathBuf>,
    /// A running `acteon serve` (`http://HOST:PORT`) whose counts hover shows.
    pub server: Option<String>,
    /// The key for `--server`, when it requires one.
    pub api_key: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read the sample `{0}`: {1}")]
    Sample(PathBuf, std::io::Error),
    #[error("`{0}` is not a server URL: {1}")]
    ServerUrl(String, &'static str),
    #[error("the server at {0} did not answer: {1}")]
    Server(String, String),
    #[error("the editor broke the protocol: {0}")]
    Protocol(#[from] lsp_server::ProtocolError),
    #[error("the connection to the editor failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("a message could not be encoded: {0}")]
    Json(#[from] serde_json::Error),
}

/// Serves one editor on stdin and stdout until it says `exit`.
pub fn run_stdio(options: Options) -> Result<(), Error> {
    let (connection, threads) = lsp_server::Connection::stdio();
    serve(connection, options)?;
    threads.join()?;
    Ok(())
}
