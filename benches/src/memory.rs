//! Resident memory, from the kernel's own count (`/proc/<pid>/status`), and how much a process
//! has read (`/proc/<pid>/io`); `None` where there is no procfs.

/// The peak resident set so far (VmHWM), in bytes.
pub fn peak_rss_bytes() -> Option<u64> {
    status_bytes("VmHWM:")
}

/// The resident set now (VmRSS), in bytes.
pub fn rss_bytes() -> Option<u64> {
    status_bytes("VmRSS:")
}

/// Process `pid`'s resident set now (VmRSS), in bytes.
pub fn rss_bytes_of(pid: u32) -> Option<u64> {
    field_of(&format!("/proc/{pid}/status"), "VmRSS:").map(|kib| kib * 1024)
}

/// How many bytes process `pid` has read so far (its `rchar`).
pub fn bytes_read_by(pid: u32) -> Option<u64> {
    field_of(&format!("/proc/{pid}/io"), "rchar:")
}

fn status_bytes(field: &str) -> Option<u64> {
    field_of("/proc/self/status", field).map(|kib| kib * 1024)
}

/// The number after `field` in a procfs file of `name: value` lines.
fn field_of(path: &str, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    let line = text.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
