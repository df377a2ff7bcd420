//! Durable state in one SQLite file: for now each skill's key-value namespace.
//!
//! Everything the host persists goes through [`Store`], so that moving shared
//! state to PostgreSQL for a multi-replica city deployment means one new
//! implementation of this module, not edits across the code base.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{params, Connection, OptionalExtension};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the database {path}: {source}")]
    Open { path: String, source: rusqlite::Error },
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

pub struct Store {
    // One connection behind a mutex: SQLite serialises writers anyway, and the
    // compare-and-set below must read and write under one lock.
    conn: Mutex<Connection>,
}

impl Store {
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path)
            .map_err(|source| StoreError::Open { path: path.display().to_string(), source })?;
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
             ) WITHOUT ROWID;",
        )?;
        Ok(Self { conn: Mutex::new(conn) })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite half-written
        // (statements are atomic), so a poisoned lock is still safe to use.
        self.conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
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
            assert!(!store.kv_put_if("booking", "slot", None, b"b").unwrap(), "absent expected");
            assert!(!store.kv_put_if("booking", "slot", Some(b"x"), b"b").unwrap());
            assert!(store.kv_put_if("booking", "slot", Some(b"a"), b"c").unwrap());
            assert_eq!(store.kv_get("other-skill", "slot").unwrap(), None, "namespaces are per skill");
        }
        let reopened = Store::open(&path).unwrap();
        assert_eq!(reopened.kv_get("booking", "slot").unwrap().as_deref(), Some(&b"c"[..]));
    }
}
