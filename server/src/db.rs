//! The server's database: SQLite in the data directory, created with its tables on first start.
//!
//! Profiles, tables and pipelines are stored as the user sent them (placeholders unresolved,
//! secrets included: the file is the server's, `0600`), each write in one transaction, names
//! unique per kind. Readers mask secrets before anything leaves the server.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, params};

/// The database's schema, by version: each step runs once, in order.
const MIGRATIONS: &[&str] = &["CREATE TABLE profiles (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        config TEXT NOT NULL,
        created_at INTEGER NOT NULL
     );
     CREATE TABLE connection_tables (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        profile_id TEXT NOT NULL REFERENCES profiles(id),
        body TEXT NOT NULL,
        created_at INTEGER NOT NULL
     );
     CREATE TABLE pipelines (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        query TEXT NOT NULL,
        tables TEXT NOT NULL,
        state TEXT NOT NULL,
        created_at INTEGER NOT NULL
     );"];

/// A stored row: id, name, and the stored JSON or SQL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Row {
    pub(crate) id: String,
    pub(crate) name: String,
    /// The profile's `config`, the table's whole request body, or the pipeline's query.
    pub(crate) body: String,
    /// The table's profile, or the pipeline's tables (comma-separated), or empty.
    pub(crate) link: String,
    /// The pipeline's state.
    pub(crate) state: String,
}

/// Why a write did not happen.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DbError {
    #[error("a {0} named `{1}` already exists")]
    NameTaken(&'static str, String),
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

pub(crate) struct Db {
    conn: Mutex<Connection>,
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Kinds of stored things, with their table and id prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Profile,
    Table,
    Pipeline,
}

impl Kind {
    fn table(self) -> &'static str {
        match self {
            Kind::Profile => "profiles",
            Kind::Table => "connection_tables",
            Kind::Pipeline => "pipelines",
        }
    }

    pub(crate) fn noun(self) -> &'static str {
        match self {
            Kind::Profile => "connection profile",
            Kind::Table => "connection table",
            Kind::Pipeline => "pipeline",
        }
    }

    fn prefix(self) -> &'static str {
        match self {
            Kind::Profile => "prof",
            Kind::Table => "tbl",
            Kind::Pipeline => "pl",
        }
    }

    fn select(self) -> &'static str {
        match self {
            Kind::Profile => "SELECT id, name, config, '', '' FROM profiles",
            Kind::Table => "SELECT id, name, body, profile_id, '' FROM connection_tables",
            Kind::Pipeline => "SELECT id, name, query, tables, state FROM pipelines",
        }
    }
}

/// A fresh id: the kind's prefix and 16 random hex digits.
fn new_id(kind: Kind) -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    format!("{}_{:016x}", kind.prefix(), h.finish())
}

impl Db {
    /// Opens (creating) `dir/laminar.db` and brings its schema up to date.
    pub(crate) fn open(dir: &Path) -> Result<Self, DbError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        let path = dir.join("laminar.db");
        let conn = Connection::open(&path)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600));
        }
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        for (i, step) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let tx = conn.unchecked_transaction()?;
            tx.execute_batch(step)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)?;
            tx.commit()?;
        }
        Ok(Db {
            conn: Mutex::new(conn),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Inserts a row; its name must be free.
    pub(crate) fn insert(
        &self,
        kind: Kind,
        name: &str,
        body: &str,
        link: &str,
        state: &str,
    ) -> Result<Row, DbError> {
        let id = new_id(kind);
        let conn = self.lock();
        let tx = conn.unchecked_transaction()?;
        let taken: Option<String> = tx
            .query_row(
                &format!("SELECT id FROM {} WHERE name = ?1", kind.table()),
                params![name],
                |r| r.get(0),
            )
            .optional()?;
        if taken.is_some() {
            return Err(DbError::NameTaken(kind.noun(), name.to_owned()));
        }
        match kind {
            Kind::Profile => tx.execute(
                "INSERT INTO profiles (id, name, config, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![id, name, body, now()],
            )?,
            Kind::Table => tx.execute(
                "INSERT INTO connection_tables (id, name, profile_id, body, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![id, name, link, body, now()],
            )?,
            Kind::Pipeline => tx.execute(
                "INSERT INTO pipelines (id, name, query, tables, state, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![id, name, body, link, state, now()],
            )?,
        };
        tx.commit()?;
        Ok(Row {
            id,
            name: name.to_owned(),
            body: body.to_owned(),
            link: link.to_owned(),
            state: state.to_owned(),
        })
    }

    /// Every row of a kind, oldest first.
    pub(crate) fn list(&self, kind: Kind) -> Result<Vec<Row>, DbError> {
        let conn = self.lock();
        let mut stmt = conn.prepare(&format!("{} ORDER BY rowid", kind.select()))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(Row {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    body: r.get(2)?,
                    link: r.get(3)?,
                    state: r.get(4)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// One row by id.
    pub(crate) fn get(&self, kind: Kind, id: &str) -> Result<Option<Row>, DbError> {
        let conn = self.lock();
        Ok(conn
            .query_row(
                &format!("{} WHERE id = ?1", kind.select()),
                params![id],
                |r| {
                    Ok(Row {
                        id: r.get(0)?,
                        name: r.get(1)?,
                        body: r.get(2)?,
                        link: r.get(3)?,
                        state: r.get(4)?,
                    })
                },
            )
            .optional()?)
    }

    /// Deletes a row; whether it existed.
    pub(crate) fn delete(&self, kind: Kind, id: &str) -> Result<bool, DbError> {
        let conn = self.lock();
        Ok(conn.execute(
            &format!("DELETE FROM {} WHERE id = ?1", kind.table()),
            params![id],
        )? > 0)
    }

    /// Records a pipeline's state.
    pub(crate) fn set_state(&self, id: &str, state: &str) -> Result<(), DbError> {
        self.lock().execute(
            "UPDATE pipelines SET state = ?2 WHERE id = ?1",
            params![id, state],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_rows_survive_a_reopen() {
        let dir = std::env::temp_dir().join(format!("laminar-db-{}", new_id(Kind::Profile)));
        let db = Db::open(&dir).unwrap();
        let row = db.insert(Kind::Profile, "p", "{}", "", "").unwrap();
        assert!(row.id.starts_with("prof_"));
        assert!(matches!(
            db.insert(Kind::Profile, "p", "{}", "", ""),
            Err(DbError::NameTaken(..))
        ));
        drop(db);
        let db = Db::open(&dir).unwrap();
        assert_eq!(db.get(Kind::Profile, &row.id).unwrap(), Some(row.clone()));
        assert!(db.delete(Kind::Profile, &row.id).unwrap());
        assert!(db.list(Kind::Profile).unwrap().is_empty());
        let _ = std::fs::remove_dir_all(dir);
    }
}
