//! `acteon`: check, format, explain, import, test, run and serve `.acteon` scripts, and the
//! language server editors start (`acteon lsp`).
//!
//! Module map:
//! - `commands/`: one file per subcommand; each turns its flags into calls on the `acteon-dsl`
//!   and `acteon-engine` libraries and reports the result.
//! - `api_keys`: where `serve` takes its API keys from (a file, the environment, flags).
//! - `buffer`: the sink buffer flags, and audit destinations wrapped in their buffers.
//! - `checkpoint`: the flags that keep durable state (a directory or a DynamoDB table).
//! - `cluster`: the flags that make a run one process of several.
//! - `diagnostics`: printing a compilation's diagnostics and deciding the exit code.
//! - `duration`: durations on the command line (`10s`).
//! - `live`: the run's live providers, Kafka and AWS kinds on one delivery runtime.

mod api_keys;
mod buffer;
mod checkpoint;
mod cluster;
mod commands;
mod diagnostics;
mod duration;
mod live;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// The engine allocates per action (its payload tree, audit lines, keys); mimalloc's
/// thread-local free lists make that a large part cheaper than the system allocator (see the
/// README's Performance section for the measured difference).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Acteon: a stream processor for event-driven pipelines, driven by `.acteon` rule scripts.
#[derive(Parser)]
#[command(name = "acteon", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Check(commands::check::Args),
    Fmt(commands::fmt::Args),
    Explain(commands::explain::Args),
    Import(commands::import::Args),
    Test(commands::test::Args),
    Run(commands::run::Args),
    Produce(commands::produce::Args),
    Serve(commands::serve::Args),
    Lsp(commands::lsp::Args),
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ACTEON_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Check(args) => commands::check::run(args),
        Command::Fmt(args) => commands::fmt::run(args),
        Command::Explain(args) => commands::explain::run(args),
        Command::Import(args) => commands::import::run(args),
        Command::Test(args) => commands::test::run(args),
        Command::Run(args) => commands::run::run(args),
        Command::Produce(args) => commands::produce::run(args),
        Command::Serve(args) => commands::serve::run(args),
        Command::Lsp(args) => commands::lsp::run(args),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}
