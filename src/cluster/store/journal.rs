//! The session journal of a node that runs alone: `<data_dir>/sessions.jsonl`, one JSON line
//! per session opened or revoked, so that a restart keeps its players' sessions (a retry after
//! a restart reconnects with the same token) and its revocations. Read once at start, written
//! again without the expired lines (at start, and whenever the dead lines outnumber the live
//! ones past [`COMPACT_AFTER`]). Sessions are rare next to spins: one short-held mutex.

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::SessionRecord;
use crate::cluster::ClusterError;

/// The journal's file name inside `server.data_dir`.
pub const JOURNAL_FILE: &str = "sessions.jsonl";
/// Lines written since the last compaction past which, if most are dead, the file is rewritten.
const COMPACT_AFTER: usize = 100_000;
/// Longest line read back (a session record is about 250 bytes): a longer one is corrupt.
const MAX_LINE: usize = 4_096;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Entry {
    Open(SessionRecord),
    /// Revoked until this Unix second (when its token would have expired).
    Revoke {
        sid: String,
        until: u64,
    },
}

/// What the journal holds once read: live sessions and live revocations.
#[derive(Debug, Default)]
pub struct Live {
    pub sessions: HashMap<String, SessionRecord>,
    pub revoked: HashMap<String, u64>,
}

impl Live {
    fn apply(&mut self, entry: Entry, now: u64) {
        match entry {
            Entry::Open(record) if record.expires_at > now => {
                if !self.revoked.contains_key(&record.session_id) {
                    self.sessions.insert(record.session_id.clone(), record);
                }
            }
            Entry::Open(_) => {}
            Entry::Revoke { sid, until } => {
                self.sessions.remove(&sid);
                if until > now {
                    self.revoked.insert(sid, until);
                }
            }
        }
    }

    fn entries(&self) -> impl Iterator<Item = Entry> + '_ {
        let sessions = self.sessions.values().cloned().map(Entry::Open);
        let revoked = self.revoked.iter().map(|(sid, until)| Entry::Revoke {
            sid: sid.clone(),
            until: *until,
        });
        sessions.chain(revoked)
    }
}

pub struct Journal {
    path: PathBuf,
    file: Mutex<Writer>,
}

struct Writer {
    file: std::fs::File,
    written: usize,
}

fn io(path: &Path, e: std::io::Error) -> ClusterError {
    ClusterError::Corrupt {
        key: path.display().to_string(),
        message: e.to_string(),
    }
}

impl Journal {
    /// Reads the journal in `dir` (a missing one is empty), rewrites it with only what is
    /// live, and keeps it open for appending. A line that does not parse stops start-up: the
    /// file is the node's, an edit to it is refused rather than guessed at.
    pub fn open(dir: &Path, now: u64) -> Result<(Journal, Live), ClusterError> {
        let path = dir.join(JOURNAL_FILE);
        let mut live = Live::default();
        match std::fs::File::open(&path) {
            Ok(file) => {
                for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
                    let line = line.map_err(|e| io(&path, e))?;
                    if line.len() > MAX_LINE {
                        return Err(corrupt(&path, n, "line too long"));
                    }
                    let entry: Entry = serde_json::from_str(&line)
                        .map_err(|e| corrupt(&path, n, &e.to_string()))?;
                    live.apply(entry, now);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(&path, e)),
        }
        let file = rewrite(&path, live.entries())?;
        let journal = Journal {
            path,
            file: Mutex::new(Writer { file, written: 0 }),
        };
        Ok((journal, live))
    }

    /// Appends one entry. `live` is asked for what is live only when the file is compacted.
    pub fn append(&self, entry: &Entry, live: impl FnOnce() -> Live) -> Result<(), ClusterError> {
        let mut line = serde_json::to_string(entry).map_err(|e| ClusterError::Corrupt {
            key: self.path.display().to_string(),
            message: e.to_string(),
        })?;
        line.push('\n');
        let mut writer = self
            .file
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        writer
            .file
            .write_all(line.as_bytes())
            .map_err(|e| io(&self.path, e))?;
        writer.written += 1;
        if writer.written >= COMPACT_AFTER {
            let live = live();
            if writer.written > 2 * (live.sessions.len() + live.revoked.len()) {
                writer.file = rewrite(&self.path, live.entries())?;
            }
            writer.written = 0;
        }
        Ok(())
    }
}

fn corrupt(path: &Path, n: usize, why: &str) -> ClusterError {
    ClusterError::Corrupt {
        key: format!("{} line {}", path.display(), n + 1),
        message: why.to_string(),
    }
}

/// Writes `entries` to a new file beside `path`, moves it over `path` (readable by the owner
/// only: it names sessions), and returns it open for appending.
fn rewrite(
    path: &Path,
    entries: impl Iterator<Item = Entry>,
) -> Result<std::fs::File, ClusterError> {
    let tmp = path.with_extension("jsonl.tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut out = std::io::BufWriter::new(options.open(&tmp).map_err(|e| io(&tmp, e))?);
    for entry in entries {
        let line = serde_json::to_string(&entry).map_err(|e| ClusterError::Corrupt {
            key: tmp.display().to_string(),
            message: e.to_string(),
        })?;
        writeln!(out, "{line}").map_err(|e| io(&tmp, e))?;
    }
    out.flush().map_err(|e| io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| io(path, e))?;
    std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .map_err(|e| io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::PlayerId;

    fn record(sid: &str, expires_at: u64) -> SessionRecord {
        SessionRecord {
            session_id: sid.into(),
            player: PlayerId::parse("p").unwrap(),
            currency: "EUR".into(),
            opened_at_ms: 0,
            expires_at,
            profile: "default".into(),
            age_band: None,
        }
    }

    #[test]
    fn a_restart_keeps_live_sessions_and_revocations_only() {
        let dir = tempfile::tempdir().unwrap();
        let (journal, live) = Journal::open(dir.path(), 1_000).unwrap();
        assert!(live.sessions.is_empty());
        for entry in [
            Entry::Open(record("live", 5_000)),
            Entry::Open(record("old", 1_500)),
            Entry::Open(record("gone", 5_000)),
            Entry::Revoke {
                sid: "gone".into(),
                until: 5_000,
            },
        ] {
            journal.append(&entry, Live::default).unwrap();
        }
        drop(journal);
        let (_, live) = Journal::open(dir.path(), 2_000).unwrap();
        assert_eq!(live.sessions.keys().collect::<Vec<_>>(), ["live"]);
        assert_eq!(live.revoked.get("gone"), Some(&5_000));
        // The rewritten file holds only what is live.
        let text = std::fs::read_to_string(dir.path().join(JOURNAL_FILE)).unwrap();
        assert_eq!(text.lines().count(), 2, "{text}");
        let (_, live) = Journal::open(dir.path(), 6_000).unwrap();
        assert!(live.sessions.is_empty() && live.revoked.is_empty());
    }

    #[test]
    fn an_edited_journal_stops_start_up() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(JOURNAL_FILE), "{\"open\": 1}\n").unwrap();
        let e = Journal::open(dir.path(), 0).err().expect("refused");
        assert!(e.to_string().contains("line 1"), "{e}");
    }
}
