//! Counters and call records that survive restarts: each line's limit usage
//! ([`SimUsage`]) and CDR statistics ([`CdrStats`]), and the history of finished calls.
//!
//! [`CounterStore`] is what the engine uses; [`MemoryStore`] keeps everything in memory
//! (tests, simulator, devices without storage) and [`SqliteStore`] (feature `sqlite`, on
//! by default) keeps it in one SQLite file: a `schema_version` table, one JSON row per line
//! in `line_counters`, and one row per call in `call_records` with a column per field.

use std::collections::HashMap;

use cellgate_hal::LineId;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::cdr::{CallRecord, CdrStats};
use crate::limits::SimUsage;

/// Everything persisted for one line apart from its call records.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct LineCounters {
    /// Limit usage (§6.10).
    pub usage: SimUsage,
    /// CDR statistics (§5.2.1).
    pub cdr: CdrStats,
}

/// Why the store could not load or save; corrupt data names the line it belongs to.
#[derive(Debug, Error)]
pub enum StoreError {
    /// A line's stored counters could not be read back.
    #[error("{line}: stored counters unreadable: {reason}")]
    CorruptCounters {
        /// The line whose row is bad.
        line: LineId,
        /// What was wrong.
        reason: String,
    },
    /// A stored call record could not be read back.
    #[error("{line}: stored call record {id} unreadable: {reason}")]
    CorruptRecord {
        /// The line the record belongs to.
        line: LineId,
        /// The record's row id.
        id: i64,
        /// What was wrong.
        reason: String,
    },
    /// Counters that could not be encoded (should not happen).
    #[error("{line}: counters not encodable: {reason}")]
    Encode {
        /// The line being saved.
        line: LineId,
        /// What went wrong.
        reason: String,
    },
    /// The file was written by a newer build with a schema this build does not know.
    #[error("store schema version {found} is newer than this build supports ({supported})")]
    SchemaTooNew {
        /// Version found in the file.
        found: i64,
        /// Highest version this build supports.
        supported: i64,
    },
    /// SQLite itself failed (open, I/O, locking, SQL).
    #[cfg(feature = "sqlite")]
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

/// Where the engine loads line counters from at start and saves them to as they change,
/// and where finished calls are appended.
pub trait CounterStore {
    /// The saved counters of `line`, or `None` if none were ever saved.
    fn load(&self, line: LineId) -> Result<Option<LineCounters>, StoreError>;
    /// Replaces the saved counters of `line`.
    fn save(&mut self, line: LineId, counters: &LineCounters) -> Result<(), StoreError>;
    /// Appends a finished call to the history.
    fn append_record(&mut self, record: &CallRecord) -> Result<(), StoreError>;
    /// The latest `limit` records of `line`, oldest first.
    fn records(&self, line: LineId, limit: usize) -> Result<Vec<CallRecord>, StoreError>;
}

/// A [`CounterStore`] in memory: nothing survives the process. For tests, the simulator
/// and devices without writable storage.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    counters: HashMap<LineId, LineCounters>,
    records: Vec<CallRecord>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

impl CounterStore for MemoryStore {
    fn load(&self, line: LineId) -> Result<Option<LineCounters>, StoreError> {
        Ok(self.counters.get(&line).cloned())
    }

    fn save(&mut self, line: LineId, counters: &LineCounters) -> Result<(), StoreError> {
        self.counters.insert(line, counters.clone());
        Ok(())
    }

    fn append_record(&mut self, record: &CallRecord) -> Result<(), StoreError> {
        self.records.push(record.clone());
        Ok(())
    }

    fn records(&self, line: LineId, limit: usize) -> Result<Vec<CallRecord>, StoreError> {
        let mut out: Vec<CallRecord> = self
            .records
            .iter()
            .rev()
            .filter(|r| r.line == line)
            .take(limit)
            .cloned()
            .collect();
        out.reverse();
        Ok(out)
    }
}

#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;

#[cfg(feature = "sqlite")]
mod sqlite {
    use std::path::Path;
    use std::time::Duration;

    use cellgate_hal::LineId;
    use rusqlite::types::Value;
    use rusqlite::{params, Connection, OptionalExtension};

    use super::{CounterStore, LineCounters, StoreError};
    use crate::cdr::{CallRecord, Direction};

    /// The schema version this build writes and reads.
    const SCHEMA_VERSION: i64 = 1;

    const SCHEMA: &str = "
        CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS line_counters (
            line INTEGER PRIMARY KEY,
            counters TEXT NOT NULL
        );
        CREATE TABLE IF NOT EXISTS call_records (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            line INTEGER NOT NULL,
            direction TEXT NOT NULL,
            number TEXT NOT NULL,
            started_unix INTEGER NOT NULL,
            ended_unix INTEGER NOT NULL,
            alerted INTEGER NOT NULL,
            answered INTEGER NOT NULL,
            talk_seconds INTEGER NOT NULL,
            gsm_cause INTEGER,
            sip_status INTEGER
        );
        CREATE INDEX IF NOT EXISTS call_records_by_line ON call_records (line, id);
    ";

    /// A [`CounterStore`] in a SQLite file (WAL journal), so that limits and CDR survive
    /// restarts and power cuts.
    #[derive(Debug)]
    pub struct SqliteStore {
        pub(super) conn: Connection,
    }

    impl SqliteStore {
        /// Opens (creating if needed) the store at `path`, creates or checks the schema and
        /// switches the journal to WAL.
        pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
            Self::init(Connection::open(path)?)
        }

        /// A store in memory, for tests: the same SQL, nothing on disk.
        pub fn open_in_memory() -> Result<Self, StoreError> {
            Self::init(Connection::open_in_memory()?)
        }

        fn init(conn: Connection) -> Result<Self, StoreError> {
            conn.busy_timeout(Duration::from_secs(5))?;
            // In-memory databases answer "memory"; files answer "wal".
            let _mode: String =
                conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
            conn.pragma_update(None, "synchronous", "NORMAL")?;
            conn.execute_batch(SCHEMA)?;
            let found: Option<i64> = conn
                .query_row("SELECT MAX(version) FROM schema_version", [], |row| {
                    row.get(0)
                })
                .optional()?
                .flatten();
            match found {
                None => {
                    conn.execute(
                        "INSERT INTO schema_version (version) VALUES (?1)",
                        [SCHEMA_VERSION],
                    )?;
                }
                Some(v) if v > SCHEMA_VERSION => {
                    return Err(StoreError::SchemaTooNew {
                        found: v,
                        supported: SCHEMA_VERSION,
                    })
                }
                Some(_) => {}
            }
            Ok(Self { conn })
        }

        /// Deletes all but the latest `keep_per_line` call records of every line, so the
        /// history does not grow without bound. Returns how many were deleted.
        pub fn prune_records(&mut self, keep_per_line: usize) -> Result<usize, StoreError> {
            let keep = i64::try_from(keep_per_line).unwrap_or(i64::MAX);
            let n = self.conn.execute(
                "DELETE FROM call_records WHERE id IN (
                    SELECT id FROM (
                        SELECT id, ROW_NUMBER() OVER (PARTITION BY line ORDER BY id DESC) AS n
                        FROM call_records
                    ) WHERE n > ?1
                )",
                [keep],
            )?;
            Ok(n)
        }
    }

    /// Reads one call-record row, explaining what is wrong instead of failing.
    fn record_from_row(line: LineId, row: &rusqlite::Row<'_>) -> Result<CallRecord, String> {
        fn int(row: &rusqlite::Row<'_>, i: usize, name: &str) -> Result<Option<i64>, String> {
            match row.get::<_, Value>(i).map_err(|e| e.to_string())? {
                Value::Null => Ok(None),
                Value::Integer(v) => Ok(Some(v)),
                other => Err(format!("{name} is not an integer: {other:?}")),
            }
        }
        fn required(v: Option<i64>, name: &str) -> Result<i64, String> {
            v.ok_or_else(|| format!("{name} is NULL"))
        }
        fn fit<T: TryFrom<i64>>(v: i64, name: &str) -> Result<T, String> {
            T::try_from(v).map_err(|_| format!("{name} out of range: {v}"))
        }
        let text = |i: usize, name: &str| match row.get::<_, Value>(i) {
            Ok(Value::Text(s)) => Ok(s),
            Ok(other) => Err(format!("{name} is not text: {other:?}")),
            Err(e) => Err(e.to_string()),
        };
        let direction = match text(1, "direction")?.as_str() {
            "outbound" => Direction::Outbound,
            "inbound" => Direction::Inbound,
            other => return Err(format!("unknown direction {other:?}")),
        };
        Ok(CallRecord {
            line,
            direction,
            number: text(2, "number")?,
            started_unix: required(int(row, 3, "started_unix")?, "started_unix")?,
            ended_unix: required(int(row, 4, "ended_unix")?, "ended_unix")?,
            alerted: required(int(row, 5, "alerted")?, "alerted")? != 0,
            answered: required(int(row, 6, "answered")?, "answered")? != 0,
            talk_seconds: fit(
                required(int(row, 7, "talk_seconds")?, "talk_seconds")?,
                "talk_seconds",
            )?,
            gsm_cause: int(row, 8, "gsm_cause")?
                .map(|v| fit(v, "gsm_cause"))
                .transpose()?,
            sip_status: int(row, 9, "sip_status")?
                .map(|v| fit(v, "sip_status"))
                .transpose()?,
        })
    }

    impl CounterStore for SqliteStore {
        fn load(&self, line: LineId) -> Result<Option<LineCounters>, StoreError> {
            let value: Option<Value> = self
                .conn
                .query_row(
                    "SELECT counters FROM line_counters WHERE line = ?1",
                    [line.0],
                    |row| row.get(0),
                )
                .optional()?;
            let corrupt = |reason: String| StoreError::CorruptCounters { line, reason };
            match value {
                None => Ok(None),
                Some(Value::Text(json)) => serde_json::from_str(&json)
                    .map(Some)
                    .map_err(|e| corrupt(e.to_string())),
                Some(other) => Err(corrupt(format!("not text: {other:?}"))),
            }
        }

        fn save(&mut self, line: LineId, counters: &LineCounters) -> Result<(), StoreError> {
            let json = serde_json::to_string(counters).map_err(|e| StoreError::Encode {
                line,
                reason: e.to_string(),
            })?;
            self.conn.execute(
                "INSERT INTO line_counters (line, counters) VALUES (?1, ?2)
                 ON CONFLICT (line) DO UPDATE SET counters = excluded.counters",
                params![line.0, json],
            )?;
            Ok(())
        }

        fn append_record(&mut self, r: &CallRecord) -> Result<(), StoreError> {
            self.conn.execute(
                "INSERT INTO call_records (line, direction, number, started_unix, ended_unix,
                     alerted, answered, talk_seconds, gsm_cause, sip_status)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    r.line.0,
                    r.direction.as_str(),
                    r.number,
                    r.started_unix,
                    r.ended_unix,
                    r.alerted,
                    r.answered,
                    r.talk_seconds,
                    r.gsm_cause,
                    r.sip_status
                ],
            )?;
            Ok(())
        }

        fn records(&self, line: LineId, limit: usize) -> Result<Vec<CallRecord>, StoreError> {
            let limit = i64::try_from(limit).unwrap_or(i64::MAX);
            let mut stmt = self.conn.prepare(
                "SELECT * FROM (
                    SELECT id, direction, number, started_unix, ended_unix, alerted, answered,
                           talk_seconds, gsm_cause, sip_status
                    FROM call_records WHERE line = ?1 ORDER BY id DESC LIMIT ?2
                 ) ORDER BY id ASC",
            )?;
            let rows = stmt.query_map(params![line.0, limit], |row| {
                Ok((row.get::<_, i64>(0)?, record_from_row(line, row)))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (id, record) = row?;
                out.push(record.map_err(|reason| StoreError::CorruptRecord {
                    line,
                    id,
                    reason,
                })?);
            }
            Ok(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cdr::Direction;
    use crate::limits::{LimitSpec, SimLimits};
    use std::time::Duration;
    use time::macros::datetime;

    fn record(line: u16, n: i64) -> CallRecord {
        CallRecord {
            line: LineId(line),
            direction: if n % 2 == 0 {
                Direction::Outbound
            } else {
                Direction::Inbound
            },
            number: format!("1380000{n:04}"),
            started_unix: 1_700_000_000 + n * 100,
            ended_unix: 1_700_000_000 + n * 100 + 70,
            alerted: true,
            answered: n % 3 != 0,
            talk_seconds: 60,
            gsm_cause: (n % 2 == 0).then_some(16),
            sip_status: (n % 2 == 1).then_some(200),
        }
    }

    fn counters() -> LineCounters {
        let cfg = SimLimits {
            minutes: LimitSpec::parse("D5,1000").unwrap_or_default(),
            calls: LimitSpec::Total(50),
            ..SimLimits::default()
        };
        let mut c = LineCounters {
            usage: SimUsage::new(),
            cdr: CdrStats::new(1_700_000_000),
        };
        c.usage.call_ended(
            &cfg,
            true,
            Duration::from_secs(68),
            Some(datetime!(2024-03-06 10:00)),
        );
        c.usage.sms_sent(3);
        c.cdr.record(&record(3, 2));
        c
    }

    /// The behaviour every store must have.
    fn exercise(store: &mut dyn CounterStore) {
        assert!(store.load(LineId(3)).unwrap().is_none());
        let c = counters();
        store.save(LineId(3), &c).unwrap();
        assert_eq!(store.load(LineId(3)).unwrap(), Some(c.clone()));
        let mut c2 = c.clone();
        c2.cdr.reset(1_800_000_000);
        store.save(LineId(3), &c2).unwrap();
        assert_eq!(store.load(LineId(3)).unwrap(), Some(c2));
        for n in 0..6 {
            store.append_record(&record(1 + (n % 2) as u16, n)).unwrap();
        }
        // Line 1 got n = 0, 2, 4: the latest two, oldest first.
        let got = store.records(LineId(1), 2).unwrap();
        assert_eq!(got, vec![record(1, 2), record(1, 4)]);
        assert_eq!(store.records(LineId(2), 10).unwrap().len(), 3);
        assert!(store.records(LineId(9), 10).unwrap().is_empty());
    }

    #[test]
    fn memory_store() {
        exercise(&mut MemoryStore::new());
    }

    #[cfg(feature = "sqlite")]
    mod sqlite {
        use super::*;
        use std::path::PathBuf;
        use std::sync::atomic::{AtomicU32, Ordering};

        /// A fresh directory under the system temp dir, removed on drop.
        struct TempDir(PathBuf);

        impl TempDir {
            fn new() -> Self {
                static N: AtomicU32 = AtomicU32::new(0);
                let nanos = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos())
                    .unwrap_or(0);
                let dir = std::env::temp_dir().join(format!(
                    "cellgate-store-{}-{nanos}-{}",
                    std::process::id(),
                    N.fetch_add(1, Ordering::Relaxed)
                ));
                std::fs::create_dir_all(&dir).unwrap();
                Self(dir)
            }
        }

        impl Drop for TempDir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }

        #[test]
        fn in_memory_behaves_like_a_store() {
            exercise(&mut SqliteStore::open_in_memory().unwrap());
        }

        /// Counters and records survive closing and reopening the file, in WAL mode.
        #[test]
        fn survives_reopen() {
            let dir = TempDir::new();
            let path = dir.0.join("counters.db");
            let c = counters();
            {
                let mut s = SqliteStore::open(&path).unwrap();
                s.save(LineId(3), &c).unwrap();
                s.append_record(&record(3, 1)).unwrap();
                s.append_record(&record(3, 2)).unwrap();
            }
            let s = SqliteStore::open(&path).unwrap();
            assert_eq!(s.load(LineId(3)).unwrap(), Some(c));
            assert_eq!(
                s.records(LineId(3), 10).unwrap(),
                vec![record(3, 1), record(3, 2)]
            );
            let mode: String = s
                .conn
                .query_row("PRAGMA journal_mode", [], |r| r.get(0))
                .unwrap();
            assert_eq!(mode, "wal");
            let versions: i64 = s
                .conn
                .query_row("SELECT COUNT(*) FROM schema_version", [], |r| r.get(0))
                .unwrap();
            assert_eq!(versions, 1);
        }

        /// A corrupt counters row is an error naming the line, not a panic.
        #[test]
        fn corrupt_counters_named() {
            let mut s = SqliteStore::open_in_memory().unwrap();
            s.save(LineId(3), &counters()).unwrap();
            s.conn
                .execute(
                    "UPDATE line_counters SET counters = '{\"usage\": [' WHERE line = 3",
                    [],
                )
                .unwrap();
            let e = s.load(LineId(3)).unwrap_err();
            assert!(
                matches!(
                    e,
                    StoreError::CorruptCounters {
                        line: LineId(3),
                        ..
                    }
                ),
                "{e:?}"
            );
            assert!(e
                .to_string()
                .starts_with("line3: stored counters unreadable"));
            s.conn
                .execute(
                    "UPDATE line_counters SET counters = x'00ff' WHERE line = 3",
                    [],
                )
                .unwrap();
            assert!(matches!(
                s.load(LineId(3)),
                Err(StoreError::CorruptCounters {
                    line: LineId(3),
                    ..
                })
            ));
            // Other lines still load.
            assert!(s.load(LineId(4)).unwrap().is_none());
        }

        /// A corrupt call-record row is an error naming line and row.
        #[test]
        fn corrupt_record_named() {
            let mut s = SqliteStore::open_in_memory().unwrap();
            s.append_record(&record(2, 1)).unwrap();
            s.conn
                .execute("UPDATE call_records SET direction = 'sideways'", [])
                .unwrap();
            let e = s.records(LineId(2), 5).unwrap_err();
            assert!(
                matches!(
                    e,
                    StoreError::CorruptRecord {
                        line: LineId(2),
                        id: 1,
                        ..
                    }
                ),
                "{e:?}"
            );
            s.conn
                .execute(
                    "UPDATE call_records SET direction = 'inbound', talk_seconds = -5",
                    [],
                )
                .unwrap();
            let e = s.records(LineId(2), 5).unwrap_err();
            assert!(e.to_string().contains("talk_seconds out of range"), "{e}");
        }

        /// A file from a newer schema is refused rather than misread.
        #[test]
        fn newer_schema_refused() {
            let dir = TempDir::new();
            let path = dir.0.join("counters.db");
            {
                let s = SqliteStore::open(&path).unwrap();
                s.conn
                    .execute("UPDATE schema_version SET version = 99", [])
                    .unwrap();
            }
            assert!(matches!(
                SqliteStore::open(&path),
                Err(StoreError::SchemaTooNew {
                    found: 99,
                    supported: 1
                })
            ));
        }

        #[test]
        fn prune_keeps_latest_per_line() {
            let mut s = SqliteStore::open_in_memory().unwrap();
            for n in 0..10 {
                s.append_record(&record(1 + (n % 2) as u16, n)).unwrap();
            }
            assert_eq!(s.prune_records(2).unwrap(), 6);
            assert_eq!(
                s.records(LineId(1), 10).unwrap(),
                vec![record(1, 6), record(1, 8)]
            );
            assert_eq!(s.records(LineId(2), 10).unwrap().len(), 2);
        }
    }
}
