//! Durable state in one SQLite file: each skill's key-value namespace and the
//! skill audit log.
//!
//! Everything the host persists goes through [`Store`], so that moving shared
//! state to PostgreSQL for a multi-replica city deployment means one new
//! implementation of this module, not edits across the code base.
//!
//! Audit records are queued by the invoking thread (a channel send) and
//! written by one background thread in batches, one transaction per batch,
//! so an invocation never waits for SQLite. The writer has its own
//! connection: key-value calls contend with it only for SQLite's write lock
//! (one batch's commit). A second thread checkpoints the write-ahead log, so
//! the `fsync`s of a checkpoint (up to a second each on a busy disk) never
//! stall the writer or the queue.
//! [`Store::audit_recent`] flushes the queue first, so a reader sees every
//! call that returned before it asked.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the database {path}: {source}")]
    Open {
        path: String,
        source: rusqlite::Error,
    },
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("cannot start the audit writer thread: {0}")]
    Thread(String),
}

pub struct Store {
    // One connection behind a mutex: SQLite serialises writers anyway, and the
    // compare-and-set below must read and write under one lock.
    conn: Arc<Mutex<Connection>>,
    /// The audit queue (`None` only while dropping) and its writer and
    /// checkpointer threads.
    audit_tx: Option<SyncSender<AuditMessage>>,
    audit_threads: Vec<JoinHandle<()>>,
}

/// One skill invocation in the audit log: never its input, output or
/// personal fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    /// When the call started, in milliseconds since the Unix epoch.
    pub time_ms: i64,
    pub skill: String,
    /// `None` when no such skill was installed.
    pub version: Option<String>,
    /// `http`, `cli`, `chat`, `bench`, …
    pub caller: String,
    pub duration_us: i64,
    /// `done`, `need_input`, `failed` or `error`.
    pub outcome: String,
    /// The error code when `outcome` is `error`.
    pub error_code: Option<String>,
}

/// Most records written in one transaction.
const AUDIT_BATCH: usize = 1024;
/// Records queued before an invoking thread waits for the writer (back
/// pressure, never a silently lost record).
const AUDIT_QUEUE: usize = 16 * 1024;

enum AuditMessage {
    Record(AuditEntry),
    Flush(mpsc::Sender<()>),
}

impl Store {
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path).map_err(|source| StoreError::Open {
            path: path.display().to_string(),
            source,
        })?;
        // WAL keeps readers off the writer's lock; `synchronous=NORMAL` is
        // durable across application crashes, which is what we promise.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS skill_kv (
                 skill TEXT NOT NULL,
                 key   TEXT NOT NULL,
                 value BLOB NOT NULL,
                 PRIMARY KEY (skill, key)
             ) WITHOUT ROWID;
             CREATE TABLE IF NOT EXISTS skill_audit (
                 id          INTEGER PRIMARY KEY,
                 time_ms     INTEGER NOT NULL,
                 skill       TEXT NOT NULL,
                 version     TEXT,
                 caller      TEXT NOT NULL,
                 duration_us INTEGER NOT NULL,
                 outcome     TEXT NOT NULL,
                 error_code  TEXT
             );
             CREATE INDEX IF NOT EXISTS skill_audit_by_skill ON skill_audit (skill, id);",
        )?;
        let conn = Arc::new(Mutex::new(conn));
        let (tx, audit_threads) = start_audit_threads(path)?;
        Ok(Self {
            conn,
            audit_tx: Some(tx),
            audit_threads,
        })
    }

    /// Queue one audit record; written within milliseconds by the writer thread.
    pub fn audit(&self, entry: AuditEntry) {
        let Some(tx) = &self.audit_tx else { return };
        if tx.send(AuditMessage::Record(entry)).is_err() {
            tracing::error!("the audit writer has stopped; an audit record was lost");
        }
    }

    /// Wait until every record queued so far is in the database.
    pub fn audit_flush(&self) {
        let Some(tx) = &self.audit_tx else { return };
        let (done_tx, done_rx) = mpsc::channel();
        if tx.send(AuditMessage::Flush(done_tx)).is_ok() {
            let _ = done_rx.recv();
        }
    }

    /// The newest `limit` audit records (of `skill`, if given), newest first.
    pub fn audit_recent(
        &self,
        limit: usize,
        skill: Option<&str>,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        self.audit_flush();
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT time_ms, skill, version, caller, duration_us, outcome, error_code
             FROM skill_audit WHERE (?1 IS NULL OR skill = ?1) ORDER BY id DESC LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![skill, limit as i64], |row| {
            Ok(AuditEntry {
                time_ms: row.get(0)?,
                skill: row.get(1)?,
                version: row.get(2)?,
                caller: row.get(3)?,
                duration_us: row.get(4)?,
                outcome: row.get(5)?,
                error_code: row.get(6)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite half-written
        // (statements are atomic), so a poisoned lock is still safe to use.
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn kv_get(&self, skill: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT value FROM skill_kv WHERE skill = ?1 AND key = ?2",
                params![skill, key],
                |row| row.get(0),
            )
            .optional()?)
    }

    /// Stores `value` only if the current value equals `expect` (`None`: absent).
    pub fn kv_put_if(
        &self,
        skill: &str,
        key: &str,
        expect: Option<&[u8]>,
        value: &[u8],
    ) -> Result<bool, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let current: Option<Vec<u8>> = tx
            .query_row(
                "SELECT value FROM skill_kv WHERE skill = ?1 AND key = ?2",
                params![skill, key],
                |row| row.get(0),
            )
            .optional()?;
        if current.as_deref() != expect {
            return Ok(false);
        }
        tx.execute(
            "INSERT INTO skill_kv (skill, key, value) VALUES (?1, ?2, ?3)
             ON CONFLICT (skill, key) DO UPDATE SET value = excluded.value",
            params![skill, key, value],
        )?;
        tx.commit()?;
        Ok(true)
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        // Closing the queue lets the writer drain it and stop; the
        // checkpointer stops after it.
        drop(self.audit_tx.take());
        for thread in self.audit_threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// How long the writer lets records gather while calls keep coming. While it
/// sleeps, queueing a record is a plain channel send: no thread is woken.
const AUDIT_GATHER: Duration = Duration::from_millis(20);

/// Least time between two checkpoints while records keep coming: each costs
/// two `fsync`s, and the log it leaves behind is at most this much writing.
const CHECKPOINT_GAP: Duration = Duration::from_millis(250);

/// Most records the writer holds back while a checkpoint runs (about half a
/// second of calls at full speed); past that it writes anyway.
const AUDIT_HOLD: usize = 64 * 1024;

/// The audit writer and the checkpointer, each on its own connection.
///
/// Why: SQLite checkpoints inside a commit by default (every 1000 pages of
/// log), and the two `fsync`s of a checkpoint took 0.1-1 s on a busy disk:
/// enough to fill the queue and stall every invoking thread behind the writer
/// (a 0.7-1.5 s worst call in `govassist bench skills`). So the writer's
/// connection never checkpoints (`wal_autocheckpoint=0`); the checkpointer
/// does, `PASSIVE`, after the writer commits, at most every
/// [`CHECKPOINT_GAP`]. While it runs the writer keeps taking records off the
/// queue but holds them (up to [`AUDIT_HOLD`], and never past a flush): its
/// writes would wait behind the `fsync` anyway, and a checkpoint that
/// catches up with every commit lets the next commit start the log afresh,
/// so the log stays small instead of growing for as long as calls keep coming.
fn start_audit_threads(
    path: &Path,
) -> Result<(SyncSender<AuditMessage>, Vec<JoinHandle<()>>), StoreError> {
    let open = |path: &Path| -> Result<Connection, StoreError> {
        let conn = Connection::open(path).map_err(|source| StoreError::Open {
            path: path.display().to_string(),
            source,
        })?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        Ok(conn)
    };
    let writer_conn = open(path)?;
    let checkpoint_conn = open(path)?;
    let (tx, rx) = mpsc::sync_channel(AUDIT_QUEUE);
    // One pending request is enough: requests that come while one waits are
    // the same request.
    let (kick_tx, kick_rx) = mpsc::sync_channel(1);
    let checkpointing = Arc::new(AtomicBool::new(false));
    let writer_sees = Arc::clone(&checkpointing);
    let spawn = |name: &str, f: Box<dyn FnOnce() + Send>| {
        std::thread::Builder::new()
            .name(name.into())
            .spawn(f)
            .map_err(|e| StoreError::Thread(e.to_string()))
    };
    let checkpointer = spawn(
        "audit-checkpoint",
        Box::new(move || checkpointer(&checkpoint_conn, &kick_rx, &checkpointing)),
    )?;
    let writer = spawn(
        "audit-writer",
        Box::new(move || audit_writer(writer_conn, &rx, &kick_tx, &writer_sees)),
    )?;
    // The writer first: the checkpointer stops when the writer has.
    Ok((tx, vec![writer, checkpointer]))
}

/// The writer thread: block until a record comes (idle), take what is queued,
/// write it (a transaction per [`AUDIT_BATCH`], with a cached statement) unless
/// a checkpoint runs, ask for a checkpoint, sleep a little so that more
/// gather, and repeat. When the queue closes, write everything and stop.
fn audit_writer(
    mut conn: Connection,
    rx: &Receiver<AuditMessage>,
    checkpoint: &SyncSender<()>,
    checkpointing: &AtomicBool,
) {
    let mut batch = Vec::with_capacity(AUDIT_BATCH);
    let mut waiting = Vec::new();
    let mut closed = false;
    let take =
        |message, batch: &mut Vec<AuditEntry>, waiting: &mut Vec<mpsc::Sender<()>>| match message {
            AuditMessage::Record(entry) => batch.push(entry),
            AuditMessage::Flush(done) => waiting.push(done),
        };
    loop {
        if batch.is_empty() && waiting.is_empty() {
            // Idle until something comes.
            match rx.recv() {
                Ok(message) => take(message, &mut batch, &mut waiting),
                Err(_) => return,
            }
        }
        while batch.len() < AUDIT_HOLD {
            match rx.try_recv() {
                Ok(message) => take(message, &mut batch, &mut waiting),
                Err(mpsc::TryRecvError::Empty) => break,
                Err(mpsc::TryRecvError::Disconnected) => {
                    closed = true;
                    break;
                }
            }
        }
        let hold = !closed
            && waiting.is_empty()
            && batch.len() < AUDIT_HOLD
            && checkpointing.load(Ordering::Acquire);
        if !hold {
            if !batch.is_empty() {
                for chunk in batch.chunks(AUDIT_BATCH) {
                    write_batch(&mut conn, chunk);
                }
                batch.clear();
                let _ = checkpoint.try_send(());
            }
            for done in waiting.drain(..) {
                let _ = done.send(());
            }
            if closed {
                return;
            }
        }
        std::thread::sleep(AUDIT_GATHER);
    }
}

/// The checkpointer thread: after each request, wait out the rest of
/// [`CHECKPOINT_GAP`] since the last checkpoint, then checkpoint, with
/// `checkpointing` set meanwhile. Stops when the writer has (the last
/// connection to close checkpoints what is left).
fn checkpointer(conn: &Connection, requests: &Receiver<()>, checkpointing: &AtomicBool) {
    let mut last = Instant::now();
    while requests.recv().is_ok() {
        // Requests that come meanwhile are this one.
        let due = last + CHECKPOINT_GAP;
        while let Some(rest) = due
            .checked_duration_since(Instant::now())
            .filter(|r| !r.is_zero())
        {
            match requests.recv_timeout(rest) {
                Ok(()) | Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
            }
        }
        checkpointing.store(true, Ordering::Release);
        // The row is (busy, frames in the log, frames checkpointed); busy is
        // not an error: another connection is checkpointing.
        if let Err(error) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::warn!(%error, "cannot checkpoint the database log");
        }
        checkpointing.store(false, Ordering::Release);
        last = Instant::now();
    }
}

fn write_batch(conn: &mut Connection, batch: &[AuditEntry]) {
    if let Err(error) = write_audit(conn, batch) {
        tracing::error!(%error, records = batch.len(), "cannot write skill audit records");
    }
}

fn write_audit(conn: &mut Connection, batch: &[AuditEntry]) -> Result<(), rusqlite::Error> {
    let tx = conn.transaction()?;
    {
        let mut insert = tx.prepare_cached(
            "INSERT INTO skill_audit (time_ms, skill, version, caller, duration_us, outcome, error_code)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        for e in batch {
            insert.execute(params![
                e.time_ms,
                e.skill,
                e.version,
                e.caller,
                e.duration_us,
                e.outcome,
                e.error_code
            ])?;
        }
    }
    tx.commit()
}

/// Milliseconds since the Unix epoch.
pub fn unix_ms(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compare_and_set_only_stores_on_expected_value_and_persists() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite3");
        {
            let store = Store::open(&path).unwrap();
            assert!(store.kv_put_if("booking", "slot", None, b"a").unwrap());
            assert!(
                !store.kv_put_if("booking", "slot", None, b"b").unwrap(),
                "absent expected"
            );
            assert!(!store
                .kv_put_if("booking", "slot", Some(b"x"), b"b")
                .unwrap());
            assert!(store
                .kv_put_if("booking", "slot", Some(b"a"), b"c")
                .unwrap());
            assert_eq!(
                store.kv_get("other-skill", "slot").unwrap(),
                None,
                "namespaces are per skill"
            );
        }
        let reopened = Store::open(&path).unwrap();
        assert_eq!(
            reopened.kv_get("booking", "slot").unwrap().as_deref(),
            Some(&b"c"[..])
        );
    }

    fn entry(skill: &str, n: i64) -> AuditEntry {
        AuditEntry {
            time_ms: 1_700_000_000_000 + n,
            skill: skill.into(),
            version: Some("0.1.0".into()),
            caller: "http".into(),
            duration_us: n,
            outcome: if n % 2 == 0 { "done" } else { "error" }.into(),
            error_code: (n % 2 == 1).then(|| "skill_timeout".into()),
        }
    }

    #[test]
    fn audit_records_are_batched_read_newest_first_and_persist() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite3");
        {
            let store = Store::open(&path).unwrap();
            for n in 0..5000 {
                store.audit(entry(if n % 10 == 0 { "a" } else { "b" }, n));
            }
            let newest = store.audit_recent(3, None).unwrap();
            assert_eq!(
                newest,
                [entry("b", 4999), entry("b", 4998), entry("b", 4997)]
            );
            let a = store.audit_recent(1000, Some("a")).unwrap();
            assert_eq!(a.len(), 500);
            assert_eq!(a[0], entry("a", 4990));
            store.audit(entry("c", 1));
        } // dropped: the queue is drained before the writer stops
        let reopened = Store::open(&path).unwrap();
        assert_eq!(reopened.audit_recent(1, None).unwrap(), [entry("c", 1)]);
    }

    #[test]
    fn the_log_is_checkpointed_in_the_background() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite3");
        let store = Store::open(&path).unwrap();
        let size = || std::fs::metadata(&path).unwrap().len();
        let before = size();
        for i in 0..20_000 {
            store.audit(entry("bench", i));
        }
        store.audit_flush();
        // No connection checkpoints on commit; the checkpointer copies the
        // log into the database file soon after the writer's commits.
        let deadline = Instant::now() + Duration::from_secs(20);
        while size() < before + 500_000 {
            assert!(
                Instant::now() < deadline,
                "not checkpointed: {} bytes",
                size()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn queueing_an_audit_record_is_cheap() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db.sqlite3")).unwrap();
        let n = 20_000;
        let started = std::time::Instant::now();
        for i in 0..n {
            store.audit(entry("bench", i));
        }
        let per_record = started.elapsed() / n as u32;
        store.audit_flush();
        let total = started.elapsed();
        eprintln!("audit: {per_record:?} per queued record; {n} written in {total:?}");
        assert_eq!(
            store.audit_recent(n as usize + 1, None).unwrap().len(),
            n as usize
        );
    }
}
