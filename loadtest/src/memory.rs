//! Resources of a process (this one or a server's) from /proc: resident memory from
//! /proc/PID/status (VmRSS now, VmHWM peak) and CPU time from /proc/PID/stat.

use serde::Serialize;

/// Memory of one process in KiB.
#[derive(Debug, Clone, Copy, Default, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct ProcMem {
    pub pid: u32,
    pub vm_rss_kib: u64,
    pub vm_hwm_kib: u64,
}

/// Reads `/proc/<pid>/status` (`None` for this process). None if unreadable (not Linux, gone).
pub fn read(pid: Option<u32>) -> Option<ProcMem> {
    let (path, pid) = match pid {
        Some(p) => (format!("/proc/{p}/status"), p),
        None => ("/proc/self/status".to_owned(), std::process::id()),
    };
    let text = std::fs::read_to_string(path).ok()?;
    parse(&text, pid)
}

fn parse(text: &str, pid: u32) -> Option<ProcMem> {
    let field = |name: &str| -> Option<u64> {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
    };
    Some(ProcMem {
        pid,
        vm_rss_kib: field("VmRSS:")?,
        vm_hwm_kib: field("VmHWM:")?,
    })
}

/// Linux reports CPU times in USER_HZ ticks, 100 per second on every mainstream architecture.
const TICKS_PER_SECOND: f64 = 100.0;

/// CPU time a process has used so far, in seconds.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct CpuTime {
    pub pid: u32,
    pub user_s: f64,
    pub system_s: f64,
}

/// Reads `/proc/<pid>/stat` (`None` for this process).
pub fn cpu(pid: Option<u32>) -> Option<CpuTime> {
    let (path, pid) = match pid {
        Some(p) => (format!("/proc/{p}/stat"), p),
        None => ("/proc/self/stat".to_owned(), std::process::id()),
    };
    parse_stat(&std::fs::read_to_string(path).ok()?, pid)
}

fn parse_stat(text: &str, pid: u32) -> Option<CpuTime> {
    // The command name (field 2) may hold spaces; fields after its closing ')' start at 3.
    let rest = &text[text.rfind(')')? + 1..];
    let mut f = rest.split_whitespace().skip(11); // field 14 (utime) is the 12th after ')'
    let utime: f64 = f.next()?.parse().ok()?;
    let stime: f64 = f.next()?.parse().ok()?;
    Some(CpuTime {
        pid,
        user_s: utime / TICKS_PER_SECOND,
        system_s: stime / TICKS_PER_SECOND,
    })
}

/// CPU used by one process over a stretch of wall time.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct CpuUse {
    pub pid: u32,
    pub user_s: f64,
    pub system_s: f64,
    /// (user + system) / wall time: how many cores it kept busy on average.
    pub cores: f64,
}

impl CpuUse {
    pub fn between(a: CpuTime, b: CpuTime, wall_s: f64) -> CpuUse {
        let (u, s) = (b.user_s - a.user_s, b.system_s - a.system_s);
        CpuUse {
            pid: b.pid,
            user_s: u,
            system_s: s,
            cores: if wall_s > 0.0 { (u + s) / wall_s } else { 0.0 },
        }
    }
}

/// KiB as MiB with one decimal, for the table.
pub fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_status() {
        let s = "Name:\tx\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\n";
        let m = parse(s, 7).expect("parsed");
        assert_eq!(m.vm_hwm_kib, 2048);
        assert_eq!(m.vm_rss_kib, 1024);
    }

    #[test]
    fn parses_stat_with_spaces_in_the_name() {
        let s = "42 (my prog) S 1 2 3 4 5 6 7 8 9 10 250 75 0 0";
        let c = parse_stat(s, 42).expect("stat");
        assert_eq!(c.user_s, 2.5);
        assert_eq!(c.system_s, 0.75);
    }

    #[test]
    fn reads_self() {
        if cfg!(target_os = "linux") {
            let m = read(None).expect("own status");
            assert!(m.vm_rss_kib > 0 && m.vm_hwm_kib >= m.vm_rss_kib);
        }
    }
}
