//! The SQLite backend of the govshare store: the embedded default. It contributes only its [`Dialect`]; every
//! transaction is written once in `govshare-store-sql`.
//!
//! All writes go through a pool of exactly one connection, so a transaction that reads the audit chain's head
//! and then writes can never meet another writer half-way (no `SQLITE_BUSY` upgrades); reads use their own
//! pool. WAL journal with `synchronous=FULL`: a committed transaction survives a crash or power loss.
//! Ids are stored as hyphenated `TEXT`, instants as integer microseconds since the epoch, dates as `TEXT`
//! (`YYYY-MM-DD`), lists are bound as one JSON array and read with `json_each`.

use std::borrow::Cow;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use govshare_store::{Result, StoreError};
use govshare_store_sql::driver::{Arg, Col, CopySource, Dialect, Repair, Row, Sql, corrupt, db};
use sqlx::sqlite::{SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Arguments, Sqlite, SqlitePool};
use uuid::Uuid;

pub mod bench;

/// The store on SQLite.
pub type SqliteStore = govshare_store_sql::SqlStore<SqliteDialect>;

#[derive(Debug)]
pub struct SqliteDialect {
    writer: SqlitePool,
    reader: SqlitePool,
}

/// A trigger that aborts `$op` on `$table`: its name and the statement that creates it.
macro_rules! guard {
    ($name:literal, $op:literal, $table:literal, $message:literal) => {
        (
            $name,
            concat!(
                "CREATE TRIGGER ",
                $name,
                " BEFORE ",
                $op,
                " ON ",
                $table,
                " BEGIN SELECT RAISE(ABORT, '",
                $message,
                "'); END"
            ),
        )
    };
}

/// The triggers that keep the evidence append-only: name, and the statement that creates each.
const GUARDS: [(&str, &str); 6] = [
    guard!("audit_log_no_update", "UPDATE", "audit_log", "audit_log is append-only"),
    guard!("audit_log_no_delete", "DELETE", "audit_log", "audit_log is append-only"),
    guard!("usage_records_no_update", "UPDATE", "usage_records", "usage records are append-only"),
    guard!("usage_records_no_delete", "DELETE", "usage_records", "usage records are append-only"),
    guard!("use_records_no_update", "UPDATE", "use_records", "records of use are append-only"),
    guard!("use_records_no_delete", "DELETE", "use_records", "records of use are append-only"),
];

/// SQL text with its whitespace collapsed and a trailing `;` dropped, for comparing definitions.
fn normalised(sql: &str) -> String {
    sql.split_whitespace().collect::<Vec<_>>().join(" ").trim_end_matches(';').trim_end().to_owned()
}

/// SQLite's placeholders for the store's `$n` (see `SqliteDialect::statement`).
#[doc(hidden)]
pub fn placeholders(text: &str) -> Cow<'_, str> {
    let bytes = text.as_bytes();
    let mut numbers = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'$' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit) {
            let start = i + 1;
            i = start;
            while bytes.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            numbers.push(text[start..i].parse::<usize>().unwrap_or(0));
        } else {
            i += 1;
        }
    }
    if numbers.is_empty() {
        return Cow::Borrowed(text);
    }
    let in_order = numbers.iter().enumerate().all(|(k, n)| *n == k + 1);
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
            out.push('?');
            while in_order && chars.peek().is_some_and(char::is_ascii_digit) {
                chars.next();
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

govshare_store_sql::sqlx_driver!(SqliteDialect, Sqlite, LiteRow);

impl SqliteDialect {
    fn writer(&self) -> &SqlitePool {
        &self.writer
    }

    fn reader(&self) -> &SqlitePool {
        &self.reader
    }

    /// The statement with SQLite's placeholders. Where `$1, $2, …` appear once each and in order (every multi-row
    /// insert) they become anonymous `?`: SQLite keeps a list of named or numbered parameters, and sqlx asks for each
    /// parameter's name while binding, a linear search each — quadratic for a 500-row insert with 4,000 parameters
    /// (it made bulk loads three times slower; `sqlite3_bind_parameter_name` was a quarter of the profile). Other
    /// statements (a parameter used twice, few parameters) get numbered `?n`. The store's SQL never has `$` followed
    /// by a digit inside a literal (values are always bound).
    fn statement(text: &str) -> Cow<'_, str> {
        placeholders(text)
    }

    fn arguments<'q>(sql: &'q Sql<'_>) -> Result<SqliteArguments<'q>> {
        let mut args = SqliteArguments::default();
        for arg in &sql.args {
            match arg {
                Arg::Int(v) => args.add(*v),
                Arg::Bool(v) => args.add(*v),
                Arg::Text(v) => args.add(v.as_deref()),
                Arg::Bytes(v) => args.add(v.as_deref()),
                Arg::Id(v) => args.add(v.map(|u| u.hyphenated().to_string())),
                Arg::Time(v) => args.add(v.map(|t| t.timestamp_micros())),
                Arg::Date(v) => args.add(v.map(|d| d.format("%Y-%m-%d").to_string())),
                Arg::Texts(v) => args.add(serde_json::to_string(v).map_err(StoreError::other)?),
                Arg::Ids(v) => args.add(serde_json::to_string(v).map_err(StoreError::other)?),
            }
            .map_err(StoreError::Other)?;
        }
        Ok(args)
    }
}

impl Row for LiteRow {
    fn int(&self, c: Col<'_>) -> Result<Option<i64>> {
        self.get(c)
    }
    fn boolean(&self, c: Col<'_>) -> Result<Option<bool>> {
        self.get(c)
    }
    fn text(&self, c: Col<'_>) -> Result<Option<String>> {
        self.get(c)
    }
    fn bytes(&self, c: Col<'_>) -> Result<Option<Vec<u8>>> {
        self.get(c)
    }
    fn id(&self, c: Col<'_>) -> Result<Option<Uuid>> {
        let text: Option<&str> = self.get(c)?;
        text.map(|s| Uuid::parse_str(s).map_err(|_| corrupt(format!("bad uuid {s} in {c}")))).transpose()
    }
    fn time(&self, c: Col<'_>) -> Result<Option<DateTime<Utc>>> {
        let us: Option<i64> = self.get(c)?;
        us.map(|us| DateTime::from_timestamp_micros(us).ok_or_else(|| corrupt(format!("timestamp {us} in {c}"))))
            .transpose()
    }
    fn date(&self, c: Col<'_>) -> Result<Option<NaiveDate>> {
        let text: Option<&str> = self.get(c)?;
        text.map(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| corrupt(format!("bad date {s} in {c}"))))
            .transpose()
    }
}

impl Dialect for SqliteDialect {
    const LOCK_HEAD: &'static str = "";
    const WRITABLE_CTE: bool = false;
    const PARALLEL_WRITES: usize = 1;
    const COLUMNS: &'static str = "SELECT m.name, p.name, p.type, p.\"notnull\" = 0 AND p.pk = 0 FROM sqlite_master m
         JOIN pragma_table_info(m.name) p
         WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND m.name <> '_sqlx_migrations'";
    const USAGE_PARTITIONS: bool = false;
    const USAGE_MONTHS: &'static str = "SELECT DISTINCT month FROM usage_records ORDER BY month";

    /// Opens (creating if missing) the database at `url`: `sqlite://path/to/file.db` or `sqlite:path`.
    async fn connect(url: &str) -> Result<Self> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(StoreError::other)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5))
            // Planner statistics: without them SQLite prefers any equality over a range and read the supervision
            // indicators by kind through most of the ledger (150 ms against 2 ms, `govshare bench supervision`).
            // Each connection refreshes the statistics of what changed when the pool retires it (every 30 minutes
            // at most) and `migrate` at start-up; a bounded sample keeps each run to milliseconds.
            .analysis_limit(1000)
            .optimize_on_close(true, None);
        if let Some(parent) = options.get_filename().parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent).map_err(StoreError::other)?;
        }
        // No liveness ping before a pooled connection is lent: an embedded database does not drop connections,
        // and each ping is a round trip to the connection's thread (7 % of a governed lookup's samples, README).
        let pool = || SqlitePoolOptions::new().test_before_acquire(false);
        let writer = pool().max_connections(1).connect_with(options.clone()).await.map_err(db)?;
        let reader = pool().max_connections(4).connect_with(options).await.map_err(db)?;
        Ok(SqliteDialect { writer, reader })
    }

    fn any(expr: &str, param: &str) -> String {
        format!("{expr} IN (SELECT value FROM json_each({param}))")
    }

    fn starts_with(column: &str, param: &str) -> String {
        format!("substr({column}, 1, length({param})) = {param}")
    }

    const COPY_IN: bool = false;

    async fn copy_in(_: &mut Self::Conn, _: &str, _: &[u8]) -> Result<u64> {
        Err(StoreError::Other("SQLite has no COPY; bulk writes are multi-row INSERTs".into()))
    }

    async fn copy_in_stream(_: &mut Self::Conn, _: &str, _: &mut dyn CopySource) -> Result<u64> {
        Err(StoreError::Other("SQLite has no COPY; bulk writes are multi-row INSERTs".into()))
    }

    fn bulk_load_hints(_first: bool) -> &'static [&'static str] {
        &[]
    }

    async fn migrate(&self) -> Result<()> {
        sqlx::migrate!("./migrations").run(&self.writer).await.map_err(StoreError::other)?;
        sqlx::query("PRAGMA optimize=0x10002").execute(&self.writer).await.map_err(db)?;
        Ok(())
    }

    async fn guards(conn: &mut Self::Conn) -> Result<Vec<Repair>> {
        let present: Vec<(String, Option<String>)> =
            sqlx::query_as("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
                .fetch_all(conn)
                .await
                .map_err(db)?;
        Ok(GUARDS
            .iter()
            .filter(|(name, sql)| {
                !present.iter().any(|(n, s)| n == name && s.as_deref().map(normalised) == Some(normalised(sql)))
            })
            .map(|(name, create)| Repair {
                name: (*name).to_owned(),
                statements: vec![format!("DROP TRIGGER IF EXISTS {name}"), (*create).to_owned()],
            })
            .collect())
    }
}
