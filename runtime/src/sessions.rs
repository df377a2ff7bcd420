//! Chat sessions in SQLite: the turns of each conversation (personal data
//! already masked), the skill dialog waiting for the user's answer, the
//! personal values the user gave (only ever handed to a skill whose manifest
//! grants them), and the handoffs to a human that staff work through.
//!
//! Everything a conversation needs to continue lives here, so a session
//! resumes after a restart exactly where it stopped. The same database file as
//! [`crate::store::Store`], on its own connection (WAL lets both write).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use crate::lang::Lang;
use crate::store::{unix_ms, StoreError};

/// Sessions idle longer than this are removed when the store opens: a
/// conversation is a service-hall visit, not an archive of personal data.
const DEFAULT_RETENTION_MS: i64 = 7 * 24 * 3600 * 1000;

pub struct SessionStore {
    conn: Mutex<Connection>,
}

/// Who said a turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Speaker {
    User,
    Assistant,
}

impl Speaker {
    fn as_str(self) -> &'static str {
        match self {
            Speaker::User => "user",
            Speaker::Assistant => "assistant",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Turn {
    pub speaker: Speaker,
    /// The text with personal data replaced by placeholders.
    pub text: String,
}

/// A skill that answered need-input and waits for the user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingDialog {
    pub skill: String,
    /// The arguments gathered so far (personal values as placeholders).
    pub input: serde_json::Value,
    /// What the skill asked for.
    pub fields: Vec<String>,
    pub prompt: String,
}

/// What a turn needs to know about its session.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Session {
    pub id: String,
    pub lang: Option<Lang>,
    /// Personal values the user has given, by placeholder (`〔手机号1〕` → value).
    pub personal: BTreeMap<String, String>,
    pub dialog: Option<PendingDialog>,
    /// The service item the conversation is about (the last answer's first
    /// cited service item): what "帮我预约" or "那要多久" refer to.
    pub topic: Option<Topic>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Topic {
    pub id: String,
    pub title: String,
}

/// A request for a person to take over, for staff to list and work through.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Handoff {
    pub id: i64,
    pub session_id: String,
    pub created_ms: i64,
    /// The question as masked text: staff call back through the session, not
    /// through data copied here.
    pub question: String,
    pub lang: String,
    /// `no_evidence` or `requested`.
    pub reason: String,
    pub status: String,
}

impl SessionStore {
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::open_with_retention(path, DEFAULT_RETENTION_MS)
    }

    /// Opens the store and removes sessions idle for more than `retention_ms`.
    pub fn open_with_retention(path: &Path, retention_ms: i64) -> Result<Self, StoreError> {
        let conn = Connection::open(path).map_err(|source| StoreError::Open {
            path: path.display().to_string(),
            source,
        })?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        // Two connections on one file: wait for the other's write instead of failing.
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS chat_session (
                 id         TEXT PRIMARY KEY,
                 lang       TEXT,
                 personal   TEXT NOT NULL DEFAULT '{}',
                 dialog     TEXT,
                 topic      TEXT,
                 created_ms INTEGER NOT NULL,
                 updated_ms INTEGER NOT NULL
             );
             CREATE TABLE IF NOT EXISTS chat_turn (
                 id         INTEGER PRIMARY KEY,
                 session_id TEXT NOT NULL REFERENCES chat_session (id) ON DELETE CASCADE,
                 speaker    TEXT NOT NULL,
                 text       TEXT NOT NULL,
                 created_ms INTEGER NOT NULL
             );
             CREATE INDEX IF NOT EXISTS chat_turn_by_session ON chat_turn (session_id, id);
             CREATE TABLE IF NOT EXISTS chat_handoff (
                 id         INTEGER PRIMARY KEY,
                 session_id TEXT NOT NULL,
                 created_ms INTEGER NOT NULL,
                 question   TEXT NOT NULL,
                 lang       TEXT NOT NULL,
                 reason     TEXT NOT NULL,
                 status     TEXT NOT NULL DEFAULT 'open'
             );",
        )?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        let cutoff = now_ms() - retention_ms;
        let removed = conn.execute(
            "DELETE FROM chat_session WHERE updated_ms < ?1",
            params![cutoff],
        )?;
        if removed > 0 {
            tracing::info!(removed, "idle chat sessions removed");
        }
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        // Statements are atomic: a panic elsewhere cannot leave SQLite half-written.
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The session the client named, when it exists; otherwise a new, empty session under a fresh
    /// id made here ([`new_session_id`]). A client never chooses the id of a new session: ids are
    /// what lets a conversation continue (and reach the personal values it holds), so they must be
    /// unguessable, and a made-up or expired id must not open a conversation under that name.
    pub fn resume_or_start(&self, requested: Option<&str>) -> Result<Session, StoreError> {
        let conn = self.conn();
        let now = now_ms();
        let resumed = match requested {
            Some(id) => {
                conn.execute(
                    "UPDATE chat_session SET updated_ms = ?2 WHERE id = ?1",
                    params![id, now],
                )? == 1
            }
            None => false,
        };
        let id = match requested {
            Some(id) if resumed => id.to_owned(),
            _ => {
                let id = new_session_id();
                conn.execute(
                    "INSERT INTO chat_session (id, created_ms, updated_ms) VALUES (?1, ?2, ?2)",
                    params![id, now],
                )?;
                id
            }
        };
        let (lang, personal, dialog, topic): (
            Option<String>,
            String,
            Option<String>,
            Option<String>,
        ) = conn.query_row(
            "SELECT lang, personal, dialog, topic FROM chat_session WHERE id = ?1",
            params![id],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
        )?;
        Ok(Session {
            id,
            lang: lang.as_deref().and_then(Lang::parse),
            // Written only by this module; an unreadable value (a manual edit)
            // costs the user a repeated question, never the conversation.
            personal: serde_json::from_str(&personal).unwrap_or_default(),
            dialog: dialog.and_then(|d| serde_json::from_str(&d).ok()),
            topic: topic.and_then(|t| serde_json::from_str(&t).ok()),
        })
    }

    /// Whether a session with this id exists.
    pub fn exists(&self, id: &str) -> Result<bool, StoreError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT 1 FROM chat_session WHERE id = ?1",
                params![id],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// Saves what a turn changed: the language, the personal values and the pending dialog.
    pub fn save_state(&self, session: &Session) -> Result<(), StoreError> {
        let personal = serde_json::to_string(&session.personal).unwrap_or_else(|_| "{}".into());
        let dialog = session
            .dialog
            .as_ref()
            .and_then(|d| serde_json::to_string(d).ok());
        let topic = session
            .topic
            .as_ref()
            .and_then(|t| serde_json::to_string(t).ok());
        self.conn().execute(
            "UPDATE chat_session SET lang = ?2, personal = ?3, dialog = ?4, topic = ?5, updated_ms = ?6 WHERE id = ?1",
            params![session.id, session.lang.map(Lang::code), personal, dialog, topic, now_ms()],
        )?;
        Ok(())
    }

    /// Appends a user turn and the assistant's reply in one transaction, so a
    /// crash never leaves a question without its answer in the history.
    pub fn append_exchange(
        &self,
        session_id: &str,
        question: &str,
        reply: &str,
    ) -> Result<(), StoreError> {
        self.append_turns(
            session_id,
            &[(Speaker::User, question), (Speaker::Assistant, reply)],
        )
    }

    /// Appends turns in order, in one transaction.
    pub fn append_turns(
        &self,
        session_id: &str,
        turns: &[(Speaker, &str)],
    ) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let now = now_ms();
        for (speaker, text) in turns {
            tx.execute(
                "INSERT INTO chat_turn (session_id, speaker, text, created_ms) VALUES (?1, ?2, ?3, ?4)",
                params![session_id, speaker.as_str(), text, now],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// The last `limit` turns of the session, oldest first.
    pub fn recent_turns(&self, session_id: &str, limit: usize) -> Result<Vec<Turn>, StoreError> {
        let conn = self.conn();
        let mut statement = conn.prepare(
            "SELECT speaker, text FROM chat_turn WHERE session_id = ?1 ORDER BY id DESC LIMIT ?2",
        )?;
        let rows = statement.query_map(params![session_id, limit as i64], |row| {
            let speaker: String = row.get(0)?;
            Ok(Turn {
                speaker: if speaker == "user" {
                    Speaker::User
                } else {
                    Speaker::Assistant
                },
                text: row.get(1)?,
            })
        })?;
        let mut turns: Vec<Turn> = rows.collect::<Result<_, _>>()?;
        turns.reverse();
        Ok(turns)
    }

    /// Records that the user should hear from a person; returns the handoff's id.
    pub fn create_handoff(
        &self,
        session_id: &str,
        question: &str,
        lang: Lang,
        reason: &str,
    ) -> Result<i64, StoreError> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO chat_handoff (session_id, created_ms, question, lang, reason) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![session_id, now_ms(), question, lang.code(), reason],
        )?;
        Ok(conn.last_insert_rowid())
    }

    /// Handoffs, newest first; only those with `status` when given.
    pub fn handoffs(&self, limit: usize, status: Option<&str>) -> Result<Vec<Handoff>, StoreError> {
        let conn = self.conn();
        let mut statement = conn.prepare(
            "SELECT id, session_id, created_ms, question, lang, reason, status FROM chat_handoff
             WHERE ?1 IS NULL OR status = ?1 ORDER BY id DESC LIMIT ?2",
        )?;
        let rows = statement.query_map(params![status, limit as i64], |row| {
            Ok(Handoff {
                id: row.get(0)?,
                session_id: row.get(1)?,
                created_ms: row.get(2)?,
                question: row.get(3)?,
                lang: row.get(4)?,
                reason: row.get(5)?,
                status: row.get(6)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Marks a handoff `open` or `closed`; false when there is no such handoff.
    pub fn set_handoff_status(&self, id: i64, status: &str) -> Result<bool, StoreError> {
        Ok(self.conn().execute(
            "UPDATE chat_handoff SET status = ?2 WHERE id = ?1",
            params![id, status],
        )? == 1)
    }
}

/// 128 random bits from the operating system, as `s-` and 32 hex digits.
pub fn new_session_id() -> String {
    let mut bytes = [0u8; 16];
    if getrandom_fill(&mut bytes).is_err() {
        // No OS randomness is a broken machine; fall back to the hasher's per-process keys.
        use std::hash::{BuildHasher, Hasher};
        let a = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        let b = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        bytes[..8].copy_from_slice(&a.to_le_bytes());
        bytes[8..].copy_from_slice(&b.to_le_bytes());
    }
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("s-{hex}")
}

fn getrandom_fill(bytes: &mut [u8]) -> std::io::Result<()> {
    use std::io::Read;
    std::fs::File::open("/dev/urandom")?.read_exact(bytes)
}

fn now_ms() -> i64 {
    unix_ms(std::time::SystemTime::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_resumes_after_reopening_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chat.sqlite3");
        let id = {
            let store = SessionStore::open(&path).unwrap();
            let mut session = store.resume_or_start(None).unwrap();
            assert!(session.dialog.is_none());
            session.lang = Some(Lang::Traditional);
            session
                .personal
                .insert("〔手机号1〕".into(), "13800138000".into());
            session.dialog = Some(PendingDialog {
                skill: "appointment-booking".into(),
                input: serde_json::json!({"action": "book"}),
                fields: vec!["phone".into()],
                prompt: "请提供手机号".into(),
            });
            session.topic = Some(Topic {
                id: "114400001".into(),
                title: "营业执照".into(),
            });
            store.save_state(&session).unwrap();
            store
                .append_exchange(&session.id, "我想预约", "请提供手机号")
                .unwrap();
            session.id
        };
        let store = SessionStore::open(&path).unwrap();
        let session = store.resume_or_start(Some(&id)).unwrap();
        assert_eq!(session.id, id);
        assert_eq!(session.lang, Some(Lang::Traditional));
        assert_eq!(session.personal["〔手机号1〕"], "13800138000");
        assert_eq!(session.topic.as_ref().unwrap().title, "营业执照");
        assert_eq!(session.dialog.unwrap().fields, vec!["phone".to_owned()]);
        let turns = store.recent_turns(&id, 10).unwrap();
        assert_eq!(turns.len(), 2);
        assert_eq!(turns[0].speaker, Speaker::User);
        assert_eq!(turns[1].text, "请提供手机号");
    }

    #[test]
    fn idle_sessions_are_removed_with_their_turns() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chat.sqlite3");
        let old = {
            let store = SessionStore::open(&path).unwrap();
            let old = store.resume_or_start(None).unwrap().id;
            store.append_exchange(&old, "q", "a").unwrap();
            old
        };
        std::thread::sleep(std::time::Duration::from_millis(5));
        let store = SessionStore::open_with_retention(&path, 1).unwrap();
        assert!(!store.exists(&old).unwrap());
        assert!(store.recent_turns(&old, 10).unwrap().is_empty());
        // Its id, sent again, opens a new session under a new id.
        let next = store.resume_or_start(Some(&old)).unwrap();
        assert_ne!(next.id, old);
        assert!(next.dialog.is_none() && next.personal.is_empty());
    }

    #[test]
    fn a_client_never_chooses_a_new_sessions_id() {
        let dir = tempfile::tempdir().unwrap();
        let store = SessionStore::open(&dir.path().join("chat.sqlite3")).unwrap();
        let made_up = store.resume_or_start(Some("my-own-id")).unwrap();
        assert_ne!(made_up.id, "my-own-id");
        assert!(!store.exists("my-own-id").unwrap());
        assert_eq!(
            store.resume_or_start(Some(&made_up.id)).unwrap().id,
            made_up.id,
            "a real id resumes"
        );
    }

    #[test]
    fn session_ids_are_random_and_valid() {
        let a = new_session_id();
        assert_ne!(a, new_session_id());
        assert_eq!(a.len(), 34);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    }

    #[test]
    fn handoffs_are_listed_newest_first_and_can_be_closed() {
        let dir = tempfile::tempdir().unwrap();
        let store = SessionStore::open(&dir.path().join("chat.sqlite3")).unwrap();
        let first = store
            .create_handoff("s-1", "问题一", Lang::Simplified, "no_evidence")
            .unwrap();
        let second = store
            .create_handoff("s-2", "问题二", Lang::English, "requested")
            .unwrap();
        let all = store.handoffs(10, None).unwrap();
        assert_eq!(
            all.iter().map(|h| h.id).collect::<Vec<_>>(),
            vec![second, first]
        );
        assert!(store.set_handoff_status(first, "closed").unwrap());
        assert!(!store.set_handoff_status(999, "closed").unwrap());
        let open = store.handoffs(10, Some("open")).unwrap();
        assert_eq!(open.len(), 1);
        assert_eq!(open[0].reason, "requested");
    }
}
