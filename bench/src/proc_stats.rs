//! CPU time and memory from /proc, for the server under load and for the generator itself.

/// Clock ticks per second of /proc's CPU times (`getconf CLK_TCK`; 100 on Linux).
const TICKS_PER_SECOND: f64 = 100.0;

#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Server CPU seconds (user + system) so far.
    pub server_cpu: f64,
    pub server_rss_kib: Option<u64>,
    /// This process's CPU seconds so far.
    pub own_cpu: f64,
}

impl Snapshot {
    pub fn take(server: Option<u32>) -> Self {
        let server_path = |file: &str| server.map(|pid| format!("/proc/{pid}/{file}"));
        Self {
            server_cpu: server_path("stat")
                .and_then(|p| cpu_seconds(&p))
                .unwrap_or(0.0),
            server_rss_kib: server_path("status").and_then(|p| rss_kib(&p)),
            own_cpu: cpu_seconds("/proc/self/stat").unwrap_or(0.0),
        }
    }
}

fn cpu_seconds(stat_path: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(stat_path).ok()?;
    // The command name may contain spaces; the fields after it are fixed.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let user: f64 = fields.get(11)?.parse().ok()?;
    let system: f64 = fields.get(12)?.parse().ok()?;
    Some((user + system) / TICKS_PER_SECOND)
}

fn rss_kib(status_path: &str) -> Option<u64> {
    let status = std::fs::read_to_string(status_path).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let snapshot = Snapshot::take(Some(std::process::id()));
        assert!(snapshot.server_rss_kib.is_some_and(|kib| kib > 0));
        assert!(snapshot.own_cpu >= 0.0);
    }
}
