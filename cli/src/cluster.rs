//! Cluster flags: one dataflow over several processes (timely's cluster mode), shared by the
//! commands that run a pipeline.

use acteon_engine::Cluster;
use anyhow::Context;
use std::path::PathBuf;

/// The first port of the default addresses, as timely's own examples use.
const DEFAULT_PORT: u16 = 2101;

/// Run as one process of several: each process runs --workers workers of one dataflow, reads
/// its share of the input and writes the audit of the decisions made in it; keyed state
/// (dedup, throttle, quota, group, chains) moves to its owner across processes.
#[derive(clap::Args, Debug, Clone)]
#[command(next_help_heading = "Cluster")]
pub struct ClusterArgs {
    /// Processes in the cluster; every process is started with the same count and its own
    /// --process.
    #[arg(long, default_value_t = 1, value_name = "N")]
    processes: usize,
    /// This process's index, from 0 (process 0 also reads standard input, when that is the
    /// input).
    #[arg(long, default_value_t = 0, value_name = "I")]
    process: usize,
    /// A file of the processes' addresses, one host:port per line in process order (default:
    /// 127.0.0.1:2101, 127.0.0.1:2102, ...).
    #[arg(long, value_name = "FILE")]
    hosts: Option<PathBuf>,
}

impl ClusterArgs {
    /// `None` for a single process.
    pub fn cluster(&self) -> anyhow::Result<Option<Cluster>> {
        if self.processes <= 1 && self.hosts.is_none() {
            anyhow::ensure!(
                self.process == 0,
                "--process {} needs --processes N greater than it",
                self.process
            );
            return Ok(None);
        }
        let addresses = match &self.hosts {
            Some(path) => read_hosts(path)?,
            None => (0..self.processes)
                .map(|i| format!("127.0.0.1:{}", usize::from(DEFAULT_PORT) + i))
                .collect(),
        };
        anyhow::ensure!(
            self.hosts.is_none() || self.processes <= 1 || addresses.len() == self.processes,
            "--processes {} but the hosts file lists {} addresses",
            self.processes,
            addresses.len()
        );
        anyhow::ensure!(
            self.process < addresses.len(),
            "--process {}: the cluster has {} processes, numbered from 0",
            self.process,
            addresses.len()
        );
        Ok(Some(Cluster {
            process: self.process,
            addresses,
        }))
    }
}

/// One `host:port` per line; blank lines and `#` comments are skipped.
fn read_hosts(path: &PathBuf) -> anyhow::Result<Vec<String>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the hosts file {}", path.display()))?;
    let addresses: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(str::to_owned)
        .collect();
    if let Some(bad) = addresses.iter().find(|a| a.rsplit_once(':').is_none()) {
        anyhow::bail!("{}: {bad:?} is not host:port", path.display());
    }
    anyhow::ensure!(!addresses.is_empty(), "{}: no addresses", path.display());
    Ok(addresses)
}
