//! The history of cry and calm events: an SQLite database (`events.sqlite3`) in the state
//! directory, the source of `/api/v1/events` and `/api/v1/nights` and of the number the next
//! event gets, so `seq` continues across restarts.
//!
//! Each event is one transaction in WAL mode, written before the event is printed or published:
//! a SIGKILL loses at most the event being written, and the file reopens intact. A file that is
//! not a database, or fails SQLite's `quick_check`, is renamed `events.sqlite3.corrupt-UNIXTIME`
//! (with its `-wal`), reported, and replaced by an empty one. Without a state directory the
//! history lives in memory for the run. Events older than the retention are deleted as new ones
//! come.

pub mod nights;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{Connection, ErrorCode, OptionalExtension, params};
use serde_json::Value;

pub use nights::{NightHours, NightSummary};

use crate::alerts::{AlertEvent, SuspensionEvent};
use crate::clock::unix_now;
use crate::stream::Sequence;

/// The database's file name in the state directory.
pub const FILE_NAME: &str = "events.sqlite3";
/// The environment variable systemd sets to the unit's `StateDirectory=`.
pub const STATE_DIRECTORY_ENV: &str = "STATE_DIRECTORY";
/// Days of events kept by default (`--history-days`).
pub const DEFAULT_RETENTION_DAYS: u32 = 90;
/// Events `/api/v1/events` returns at most in one answer.
pub const MAX_PAGE: usize = 1000;
/// The schema this build writes (`PRAGMA user_version`).
const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    event_type TEXT NOT NULL,
    unix_time REAL NOT NULL,
    reason TEXT NOT NULL,
    payload TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_time ON events (unix_time);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
";

/// Where and how long events are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryConfig {
    /// The state directory (`--state-dir`, else `$STATE_DIRECTORY`); `None`: in memory.
    pub dir: Option<PathBuf>,
    /// `--history-days`.
    pub retention_days: u32,
    /// `--night`: the local hours a night spans.
    pub night: NightHours,
}

impl Default for HistoryConfig {
    fn default() -> Self {
        Self {
            dir: None,
            retention_days: DEFAULT_RETENTION_DAYS,
            night: NightHours::default(),
        }
    }
}

/// Why the history cannot be opened or read.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// The state directory cannot be created.
    #[error("cannot create the state directory {}", dir.display())]
    Dir {
        /// The directory.
        dir: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A corrupt database could not be moved out of the way.
    #[error("cannot set aside the corrupt history {}", path.display())]
    SetAside {
        /// The database.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A newer edge-infer wrote the database.
    #[error("{}: schema version {found} is newer than this edge-infer's ({SCHEMA_VERSION}); upgrade edge-infer", path.display())]
    Newer {
        /// The database.
        path: PathBuf,
        /// Its `user_version`.
        found: i64,
    },
    /// Still corrupt after a fresh start (the file system is failing).
    #[error("{}: corrupt even when new: {why}", path.display())]
    Corrupt {
        /// The database.
        path: PathBuf,
        /// SQLite's verdict.
        why: String,
    },
    /// SQLite failed.
    #[error("history {}: {source}", path.display())]
    Sqlite {
        /// The database (`:memory:` without a state directory).
        path: PathBuf,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
}

/// One query of `/api/v1/events`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct EventQuery {
    /// Only events with a larger `seq`.
    pub after: Option<u64>,
    /// Only events at or after this Unix time.
    pub since: Option<f64>,
    /// Only events before this Unix time.
    pub until: Option<f64>,
    /// At most this many (at most [`MAX_PAGE`]): the first ones after `after` when given, else
    /// the newest ones.
    pub limit: usize,
}

/// What the history keeps of an event: its number, type, time, the reason of a cry (empty for
/// others) and its JSON payload, which `/api/v1/events` answers.
pub trait Entry {
    /// `seq`.
    fn seq(&self) -> u64;
    /// `event_type`.
    fn event_type(&self) -> &'static str;
    /// When, in Unix seconds.
    fn unix_time(&self) -> f64;
    /// The reason of the cry it starts or ends; empty if none.
    fn reason(&self) -> &str;
    /// The payload.
    fn payload(&self) -> String;
}

impl Entry for AlertEvent {
    fn seq(&self) -> u64 {
        self.seq
    }
    fn event_type(&self) -> &'static str {
        AlertEvent::event_type(self)
    }
    fn unix_time(&self) -> f64 {
        self.unix_time
    }
    fn reason(&self) -> &str {
        AlertEvent::reason(self)
    }
    fn payload(&self) -> String {
        AlertEvent::payload(self)
    }
}

impl Entry for SuspensionEvent {
    fn seq(&self) -> u64 {
        self.seq
    }
    fn event_type(&self) -> &'static str {
        SuspensionEvent::event_type(self)
    }
    fn unix_time(&self) -> f64 {
        self.unix_time
    }
    fn reason(&self) -> &str {
        ""
    }
    fn payload(&self) -> String {
        SuspensionEvent::payload(self)
    }
}

/// The event history (see the module documentation).
pub struct History {
    conn: Mutex<Connection>,
    path: PathBuf,
    retention_seconds: f64,
    night: NightHours,
    sequence: Sequence,
}

fn is_corruption(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt)
    )
}

/// Why a database cannot be used: corrupt (set it aside), or any other error.
enum Unusable {
    Corrupt(String),
    Other(HistoryError),
}

impl Unusable {
    fn into_error(self, path: &Path) -> HistoryError {
        match self {
            Self::Corrupt(why) => HistoryError::Corrupt {
                path: path.to_path_buf(),
                why,
            },
            Self::Other(e) => e,
        }
    }
}

impl History {
    /// Opens (or creates) the history `config` names; a corrupt file is set aside and replaced.
    pub fn open(config: &HistoryConfig) -> Result<Self, HistoryError> {
        let Some(dir) = &config.dir else {
            let conn = Connection::open_in_memory().map_err(|source| HistoryError::Sqlite {
                path: ":memory:".into(),
                source,
            })?;
            return Self::prepare(conn, PathBuf::from(":memory:"), config)
                .map_err(|u| u.into_error(Path::new(":memory:")));
        };
        std::fs::create_dir_all(dir).map_err(|source| HistoryError::Dir {
            dir: dir.clone(),
            source,
        })?;
        let path = dir.join(FILE_NAME);
        match Self::open_file(&path, config) {
            Ok(history) => Ok(history),
            Err(Unusable::Other(e)) => Err(e),
            Err(Unusable::Corrupt(why)) => {
                let aside = set_aside(&path)?;
                log::error!(
                    "the event history {} is corrupt ({why}): set aside as {}, starting a new one",
                    path.display(),
                    aside.display()
                );
                Self::open_file(&path, config).map_err(|u| u.into_error(&path))
            }
        }
    }

    fn open_file(path: &Path, config: &HistoryConfig) -> Result<Self, Unusable> {
        let conn = Connection::open(path).map_err(|e| classify(path, e))?;
        Self::prepare(conn, path.to_path_buf(), config)
    }

    fn prepare(conn: Connection, path: PathBuf, config: &HistoryConfig) -> Result<Self, Unusable> {
        let sql = |e: rusqlite::Error| classify(&path, e);
        let check: String = conn
            .query_row("PRAGMA quick_check", [], |r| r.get(0))
            .map_err(sql)?;
        if check != "ok" {
            return Err(Unusable::Corrupt(check));
        }
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(sql)?;
        if version > SCHEMA_VERSION {
            return Err(Unusable::Other(HistoryError::Newer {
                path,
                found: version,
            }));
        }
        // WAL: a killed writer leaves a log that the next open replays or discards whole.
        // NORMAL: no fsync per event; a power cut may lose the last events, a killed process
        // does not.
        conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))
            .map_err(sql)?;
        conn.execute_batch(&format!(
            "PRAGMA synchronous = NORMAL; {SCHEMA} PRAGMA user_version = {SCHEMA_VERSION};"
        ))
        .map_err(sql)?;
        let stored: Option<i64> = conn
            .query_row("SELECT value FROM meta WHERE key = 'next_seq'", [], |r| {
                r.get(0)
            })
            .optional()
            .map_err(sql)?;
        let max: Option<i64> = conn
            .query_row("SELECT MAX(seq) FROM events", [], |r| r.get(0))
            .map_err(sql)?;
        let next_seq = stored
            .unwrap_or(0)
            .max(max.map_or(0, |m| m + 1))
            .max(0)
            .unsigned_abs();
        let history = Self {
            conn: Mutex::new(conn),
            path,
            retention_seconds: f64::from(config.retention_days) * 86_400.0,
            night: config.night,
            sequence: Sequence::starting_at(next_seq),
        };
        history
            .prune(unix_now())
            .map_err(|e| Unusable::Other(history.error(e)))?;
        Ok(history)
    }

    fn error(&self, source: rusqlite::Error) -> HistoryError {
        HistoryError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The file (or `:memory:`).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The number the next event gets: at the start of a run, one more than the last one ever
    /// stored.
    pub fn next_seq(&self) -> u64 {
        self.sequence.peek()
    }

    /// The numbers of this run's events, from [`History::next_seq`] on: the detector numbers
    /// its cries and calms from it, the alerts its records of suspensions.
    pub fn sequence(&self) -> &Sequence {
        &self.sequence
    }

    /// The night this history summarises.
    pub fn night_hours(&self) -> NightHours {
        self.night
    }

    /// Stores one event (and deletes those past the retention). A failure is logged, not
    /// returned: the event still goes out over MQTT and HTTP.
    pub fn append(&self, event: &impl Entry) {
        if let Err(e) = self.try_append(event) {
            log::error!(
                "cannot store event {} in {}: {e}",
                event.seq(),
                self.path.display()
            );
        }
    }

    fn try_append(&self, alert: &impl Entry) -> rusqlite::Result<()> {
        let seq = i64::try_from(alert.seq()).unwrap_or(i64::MAX);
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        tx.execute(
            "INSERT OR REPLACE INTO events (seq, event_type, unix_time, reason, payload) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                seq,
                alert.event_type(),
                alert.unix_time(),
                alert.reason(),
                alert.payload()
            ],
        )?;
        tx.execute(
            "INSERT INTO meta (key, value) VALUES ('next_seq', ?1) \
             ON CONFLICT (key) DO UPDATE SET value = MAX(value, excluded.value)",
            params![seq.saturating_add(1)],
        )?;
        tx.execute(
            "DELETE FROM events WHERE unix_time < ?1",
            params![alert.unix_time() - self.retention_seconds],
        )?;
        tx.commit()
    }

    fn prune(&self, now: f64) -> rusqlite::Result<usize> {
        self.lock().execute(
            "DELETE FROM events WHERE unix_time < ?1",
            params![now - self.retention_seconds],
        )
    }

    /// The events `query` selects, oldest first, as their MQTT payloads.
    pub fn events(&self, query: &EventQuery) -> Result<Vec<Value>, HistoryError> {
        let limit = i64::try_from(query.limit.min(MAX_PAGE)).unwrap_or(0);
        let after = query
            .after
            .map_or(-1, |a| i64::try_from(a).unwrap_or(i64::MAX));
        let since = query.since.unwrap_or(f64::MIN);
        let until = query.until.unwrap_or(f64::MAX);
        let order = if query.after.is_some() { "ASC" } else { "DESC" };
        let conn = self.lock();
        let mut stmt = conn
            .prepare(&format!(
                "SELECT payload FROM events WHERE seq > ?1 AND unix_time >= ?2 AND unix_time < ?3 \
                 ORDER BY seq {order} LIMIT ?4"
            ))
            .map_err(|e| self.error(e))?;
        let rows = stmt
            .query_map(params![after, since, until, limit], |r| {
                r.get::<_, String>(0)
            })
            .map_err(|e| self.error(e))?;
        let mut events = Vec::new();
        for row in rows {
            let payload = row.map_err(|e| self.error(e))?;
            events.push(serde_json::from_str(&payload).unwrap_or(Value::String(payload)));
        }
        if query.after.is_none() {
            events.reverse();
        }
        Ok(events)
    }

    /// The summaries of the last `last` nights at `now` (Unix time), oldest first; the current
    /// night (if one is in progress) counts as the last.
    pub fn nights(&self, last: usize, now: f64) -> Result<Vec<NightSummary>, HistoryError> {
        let conn = self.lock();
        nights::summarise(&conn, self.night, last, now).map_err(|e| self.error(e))
    }
}

fn classify(path: &Path, e: rusqlite::Error) -> Unusable {
    if is_corruption(&e) {
        Unusable::Corrupt(e.to_string())
    } else {
        Unusable::Other(HistoryError::Sqlite {
            path: path.to_path_buf(),
            source: e,
        })
    }
}

/// Renames `path` (and its `-wal` and `-shm`) to `*.corrupt-UNIXTIME`; the new name.
fn set_aside(path: &Path) -> Result<PathBuf, HistoryError> {
    let stamp = unix_now() as u64;
    let renamed = |p: &Path| {
        let mut name = p.as_os_str().to_owned();
        name.push(format!(".corrupt-{stamp}"));
        PathBuf::from(name)
    };
    let aside = renamed(path);
    std::fs::rename(path, &aside).map_err(|source| HistoryError::SetAside {
        path: path.to_path_buf(),
        source,
    })?;
    for suffix in ["-wal", "-shm"] {
        let mut side = path.as_os_str().to_owned();
        side.push(suffix);
        let side = PathBuf::from(side);
        if side.exists() {
            let _ = std::fs::rename(&side, renamed(&side));
        }
    }
    Ok(aside)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::AlertKind;

    fn config(dir: &Path) -> HistoryConfig {
        HistoryConfig {
            dir: Some(dir.to_path_buf()),
            ..HistoryConfig::default()
        }
    }

    fn cry(seq: u64, unix_time: f64, reason: &str) -> AlertEvent {
        AlertEvent {
            seq,
            kind: AlertKind::CryStarted {
                reason: reason.into(),
                confidence: 0.8,
                cry_prob: Some(0.9),
            },
            t: 1.0,
            unix_time,
        }
    }

    fn calm(seq: u64, unix_time: f64, reason: &str) -> AlertEvent {
        AlertEvent {
            seq,
            kind: AlertKind::Calm {
                after: reason.into(),
                cry_started: 1.0,
            },
            t: 2.0,
            unix_time,
        }
    }

    fn seqs(events: &[Value]) -> Vec<u64> {
        events.iter().map(|e| e["seq"].as_u64().unwrap()).collect()
    }

    #[test]
    fn seq_continues_after_a_reopen_even_when_retention_deleted_every_event() {
        let dir = tempfile::tempdir().unwrap();
        let now = unix_now();
        let history = History::open(&config(dir.path())).unwrap();
        assert_eq!(history.next_seq(), 0);
        history.append(&cry(0, now - 100.0 * 86_400.0, "hungry"));
        history.append(&calm(1, now - 100.0 * 86_400.0 + 60.0, "hungry"));
        history.append(&cry(2, now - 10.0, "tired"));
        drop(history);

        let history = History::open(&config(dir.path())).unwrap();
        assert_eq!(history.next_seq(), 3);
        let all = EventQuery {
            limit: MAX_PAGE,
            ..EventQuery::default()
        };
        // 90 days by default: the two old events went when the third came.
        assert_eq!(seqs(&history.events(&all).unwrap()), [2]);
        let payload = &history.events(&all).unwrap()[0];
        assert_eq!(payload["event_type"], "cry_started");
        assert_eq!(payload["reason"], "tired");
        drop(history);

        // A day's retention, and an event two days on: the cry at `now` goes.
        let history = History::open(&HistoryConfig {
            retention_days: 1,
            ..config(dir.path())
        })
        .unwrap();
        history.append(&calm(3, now + 2.0 * 86_400.0, "tired"));
        drop(history);
        let history = History::open(&config(dir.path())).unwrap();
        assert_eq!(seqs(&history.events(&all).unwrap()), [3]);
        assert_eq!(history.next_seq(), 4);
    }

    #[test]
    fn a_corrupt_file_is_set_aside_and_a_new_history_started() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        let garbage = b"this is not an SQLite database, it is a shopping list".repeat(100);
        std::fs::write(&path, &garbage).unwrap();
        let history = History::open(&config(dir.path())).unwrap();
        assert_eq!(history.next_seq(), 0);
        history.append(&cry(0, unix_now(), "hungry"));
        let aside: Vec<PathBuf> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.to_string_lossy().contains(".corrupt-"))
            .collect();
        assert_eq!(aside.len(), 1, "{aside:?}");
        assert_eq!(std::fs::read(&aside[0]).unwrap(), garbage, "kept as it was");
        drop(history);
        assert_eq!(History::open(&config(dir.path())).unwrap().next_seq(), 1);
    }

    #[test]
    fn a_database_damaged_inside_fails_its_check_and_is_set_aside() {
        let dir = tempfile::tempdir().unwrap();
        let history = History::open(&config(dir.path())).unwrap();
        for seq in 0..200 {
            history.append(&cry(seq, unix_now(), &"x".repeat(200)));
        }
        drop(history);
        let path = dir.path().join(FILE_NAME);
        let mut bytes = std::fs::read(&path).unwrap();
        assert!(bytes.len() > 8192, "{} bytes", bytes.len());
        // Page 2 onwards (the header on page 1 stays valid): b-tree pages overwritten.
        for b in &mut bytes[4096..8192] {
            *b = 0xA5;
        }
        std::fs::write(&path, &bytes).unwrap();
        let history = History::open(&config(dir.path())).unwrap();
        assert_eq!(history.next_seq(), 0, "a fresh history");
        assert!(std::fs::read_dir(dir.path()).unwrap().any(|e| {
            e.unwrap()
                .file_name()
                .to_string_lossy()
                .contains(".corrupt-")
        }));
    }

    #[test]
    fn events_page_by_seq_and_filter_by_time() {
        let history = History::open(&HistoryConfig::default()).unwrap();
        for seq in 0..10 {
            history.append(&cry(seq, 1_000.0 + seq as f64, "hungry"));
        }
        let q = |after, since, until, limit| {
            seqs(
                &history
                    .events(&EventQuery {
                        after,
                        since,
                        until,
                        limit,
                    })
                    .unwrap(),
            )
        };
        assert_eq!(q(Some(3), None, None, 4), [4, 5, 6, 7]);
        assert_eq!(q(Some(7), None, None, 4), [8, 9]);
        assert_eq!(
            q(None, None, None, 3),
            [7, 8, 9],
            "the newest, oldest first"
        );
        assert_eq!(q(None, Some(1_002.0), Some(1_005.0), 100), [2, 3, 4]);
        assert_eq!(q(Some(9), None, None, 4), Vec::<u64>::new());
    }
}
