//! The PostgreSQL backend of the govshare store: the production store. It contributes only its [`Dialect`];
//! every transaction is written once in `govshare-store-sql`.
//!
//! Several instances may share one database. Audit appends are serialised by locking the single `audit_head`
//! row (`FOR UPDATE`) inside each transaction; it is the last lock a transaction takes, so no lock cycle with
//! the rows it changed can form. Ids are `UUID`, instants `TIMESTAMPTZ`, lists are array parameters.

pub mod bench;
pub mod testing;

use std::borrow::Cow;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use govshare_store::{Result, StoreError};
use govshare_store_sql::driver::{Arg, Col, CopySource, Dialect, Repair, Row, Sql, db};
use sqlx::postgres::{PgArguments, PgPoolOptions};
use sqlx::{Arguments, PgPool, Postgres};
use uuid::Uuid;

/// The store on PostgreSQL.
pub type PgStore = govshare_store_sql::SqlStore<PgDialect>;

#[derive(Debug)]
pub struct PgDialect {
    pool: PgPool,
}

/// The trigger functions, with their body as created.
const FUNCTIONS: &[(&str, &str)] = &[
    ("audit_log_append_only", "BEGIN RAISE EXCEPTION 'audit_log is append-only'; END;"),
    ("usage_records_append_only", "BEGIN RAISE EXCEPTION 'usage records are append-only'; END;"),
    ("use_records_append_only", "BEGIN RAISE EXCEPTION 'records of use are append-only'; END;"),
];

/// The triggers that keep the evidence append-only: name, table, `pg_trigger.tgtype` bits (ROW 1, BEFORE 2,
/// INSERT 4, DELETE 8, UPDATE 16, TRUNCATE 32), function, timing.
const GUARDS: &[(&str, &str, i32, &str, &str)] = &[
    (
        "audit_log_no_update",
        "audit_log",
        1 | 2 | 16,
        "audit_log_append_only",
        "BEFORE UPDATE ON audit_log FOR EACH ROW",
    ),
    ("audit_log_no_delete", "audit_log", 1 | 2 | 8, "audit_log_append_only", "BEFORE DELETE ON audit_log FOR EACH ROW"),
    (
        "audit_log_no_truncate",
        "audit_log",
        2 | 32,
        "audit_log_append_only",
        "BEFORE TRUNCATE ON audit_log FOR EACH STATEMENT",
    ),
    (
        "usage_records_no_change",
        "usage_records",
        1 | 2 | 8 | 16,
        "usage_records_append_only",
        "BEFORE UPDATE OR DELETE ON usage_records FOR EACH ROW",
    ),
    (
        "usage_records_no_truncate",
        "usage_records",
        2 | 32,
        "usage_records_append_only",
        "BEFORE TRUNCATE ON usage_records FOR EACH STATEMENT",
    ),
    (
        "use_records_no_change",
        "use_records",
        1 | 2 | 8 | 16,
        "use_records_append_only",
        "BEFORE UPDATE OR DELETE ON use_records FOR EACH ROW",
    ),
    (
        "use_records_no_truncate",
        "use_records",
        2 | 32,
        "use_records_append_only",
        "BEFORE TRUNCATE ON use_records FOR EACH STATEMENT",
    ),
];

fn normalised(sql: &str) -> String {
    sql.split_whitespace().collect::<Vec<_>>().join(" ")
}

govshare_store_sql::sqlx_driver!(PgDialect, Postgres, PgResultRow);

impl PgDialect {
    fn writer(&self) -> &PgPool {
        &self.pool
    }

    fn reader(&self) -> &PgPool {
        &self.pool
    }

    fn statement(text: &str) -> Cow<'_, str> {
        Cow::Borrowed(text)
    }

    fn arguments(sql: &Sql<'_>) -> Result<PgArguments> {
        let mut args = PgArguments::default();
        for arg in &sql.args {
            match arg {
                Arg::Int(v) => args.add(*v),
                Arg::Bool(v) => args.add(*v),
                Arg::Text(v) => args.add(v.as_deref()),
                Arg::Bytes(v) => args.add(v.as_deref()),
                Arg::Id(v) => args.add(*v),
                Arg::Time(v) => args.add(*v),
                Arg::Date(v) => args.add(*v),
                Arg::Texts(v) => args.add(v.as_slice()),
                Arg::Ids(v) => args.add(v.as_slice()),
            }
            .map_err(StoreError::Other)?;
        }
        Ok(args)
    }
}

impl Row for PgResultRow {
    fn int(&self, c: Col<'_>) -> Result<Option<i64>> {
        use sqlx::{TypeInfo, ValueRef};
        // BIGINT, or INTEGER (versions, event counts, years): decoded as the column's own type, not by trying one.
        let raw = match c {
            Col::Name(n) => sqlx::Row::try_get_raw(&self.0, n),
            Col::At(i) => sqlx::Row::try_get_raw(&self.0, i),
        }
        .map_err(db)?;
        if raw.type_info().name() == "INT4" { Ok(self.get::<Option<i32>>(c)?.map(i64::from)) } else { self.get(c) }
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
        self.get(c)
    }
    fn time(&self, c: Col<'_>) -> Result<Option<DateTime<Utc>>> {
        self.get(c)
    }
    fn date(&self, c: Col<'_>) -> Result<Option<NaiveDate>> {
        self.get(c)
    }
}

impl Dialect for PgDialect {
    const LOCK_HEAD: &'static str = " FOR UPDATE";
    const WRITABLE_CTE: bool = true;
    const PARALLEL_WRITES: usize = 1;
    const COLUMNS: &'static str = "SELECT table_name::text, column_name::text, data_type::text, is_nullable = 'YES'
         FROM information_schema.columns WHERE table_schema = current_schema() AND table_name <> '_sqlx_migrations'
         AND table_name NOT IN (SELECT relname FROM pg_class WHERE relispartition)";
    const USAGE_PARTITIONS: bool = true;
    /// From the catalog, not the rows: the partitions of `usage_records`, named `usage_records_YYYY_MM`.
    const USAGE_MONTHS: &'static str = "SELECT to_date(substring(c.relname from '(\\d{4}_\\d{2})$'), 'YYYY_MM')
         FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
         JOIN pg_namespace n ON n.oid = p.relnamespace
         WHERE p.relname = 'usage_records' AND n.nspname = current_schema() ORDER BY 1";

    /// Connects to `url` (`postgres://user:pass@host:port/db`).
    async fn connect(url: &str) -> Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await
            .map_err(db)?;
        Ok(PgDialect { pool })
    }

    fn any(expr: &str, param: &str) -> String {
        format!("{expr} = ANY({param})")
    }

    fn starts_with(column: &str, param: &str) -> String {
        format!("starts_with({column}, {param})")
    }

    /// The table grows inside the load's one transaction, unseen by the statistics: without the first hint the
    /// planner keeps choosing sequential scans for the per-batch key lookups and a large load becomes quadratic;
    /// the second lets the planner see the rows written so far (ANALYZE samples the transaction's own rows).
    fn bulk_load_hints(first: bool) -> &'static [&'static str] {
        if first { &["SET LOCAL enable_seqscan = off"] } else { &["ANALYZE source_records"] }
    }

    const COPY_IN: bool = true;

    async fn copy_in(conn: &mut Self::Conn, statement: &str, data: &[u8]) -> Result<u64> {
        let mut copy = conn.copy_in_raw(statement).await.map_err(db)?;
        copy.send(data).await.map_err(db)?;
        copy.finish().await.map_err(db)
    }

    async fn copy_in_stream(conn: &mut Self::Conn, statement: &str, source: &mut dyn CopySource) -> Result<u64> {
        let mut copy = conn.copy_in_raw(statement).await.map_err(db)?;
        loop {
            match source.next_chunk().await {
                Ok(Some(chunk)) => {
                    copy.send(chunk).await.map_err(db)?;
                }
                Ok(None) => return copy.finish().await.map_err(db),
                Err(e) => {
                    let _ = copy.abort(e.to_string()).await;
                    return Err(e);
                }
            }
        }
    }

    /// Idempotent; safe when several instances start at once (sqlx takes an advisory lock).
    async fn migrate(&self) -> Result<()> {
        sqlx::migrate!("./migrations").run(&self.pool).await.map_err(StoreError::other)
    }

    /// The guards (functions first, then triggers) that are missing, altered or disabled.
    async fn guards(conn: &mut Self::Conn) -> Result<Vec<Repair>> {
        let functions: Vec<(String, String)> = sqlx::query_as(
            "SELECT p.proname::text, p.prosrc FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
             WHERE n.nspname = current_schema() AND p.proname IN ('audit_log_append_only', 'usage_records_append_only', 'use_records_append_only')",
        )
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
        let triggers: Vec<(String, String, i32, String, String, bool)> = sqlx::query_as(
            "SELECT t.tgname::text, c.relname::text, t.tgtype::int4, t.tgenabled::text, p.proname::text, t.tgqual IS NULL
             FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
             JOIN pg_proc p ON p.oid = t.tgfoid
             WHERE NOT t.tgisinternal AND n.nspname = current_schema() AND c.relname IN ('audit_log', 'usage_records', 'use_records')",
        )
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
        let bad_functions = FUNCTIONS
            .iter()
            .filter(|(name, body)| !functions.iter().any(|(n, src)| n == name && normalised(src) == normalised(body)))
            .map(|(name, body)| Repair {
                name: format!("{name}()"),
                statements: vec![format!(
                    "CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ {body} $$"
                )],
            });
        let bad_triggers = GUARDS
            .iter()
            .filter(|&&(name, table, tgtype, function, _)| {
                !triggers.iter().any(|(n, t, ty, enabled, f, unconditional)| {
                    (n.as_str(), t.as_str(), *ty, f.as_str(), *unconditional) == (name, table, tgtype, function, true)
                        && matches!(enabled.as_str(), "O" | "A")
                })
            })
            .map(|&(name, table, _, function, on)| Repair {
                name: name.to_owned(),
                statements: vec![
                    format!("DROP TRIGGER IF EXISTS {name} ON {table}"),
                    format!("CREATE TRIGGER {name} {on} EXECUTE FUNCTION {function}()"),
                ],
            });
        // Each month's partition: the parent's row guard is cloned onto it (and could be disabled there alone);
        // its TRUNCATE guard is its own, since truncating a partition by name fires only the partition's.
        let partitions: Vec<(String, bool, bool)> = sqlx::query_as(
            "SELECT c.relname::text,
                    EXISTS (SELECT 1 FROM pg_trigger t JOIN pg_proc f ON f.oid = t.tgfoid WHERE t.tgrelid = c.oid
                            AND t.tgname = 'usage_records_no_change' AND t.tgtype = 27 AND t.tgenabled IN ('O', 'A')
                            AND t.tgqual IS NULL AND f.proname = 'usage_records_append_only'),
                    EXISTS (SELECT 1 FROM pg_trigger t JOIN pg_proc f ON f.oid = t.tgfoid WHERE t.tgrelid = c.oid
                            AND t.tgname = 'usage_records_no_truncate' AND t.tgtype = 34 AND t.tgenabled IN ('O', 'A')
                            AND f.proname = 'usage_records_append_only')
             FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
             JOIN pg_namespace n ON n.oid = p.relnamespace
             WHERE p.relname = 'usage_records' AND n.nspname = current_schema() ORDER BY 1",
        )
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
        let bad_partitions = partitions.into_iter().flat_map(|(partition, row_guard, truncate_guard)| {
            let row = (!row_guard).then(|| Repair {
                name: format!("usage_records_no_change ON {partition}"),
                statements: vec![format!("ALTER TABLE {partition} ENABLE TRIGGER usage_records_no_change")],
            });
            let truncate = (!truncate_guard).then(|| Repair {
                name: format!("usage_records_no_truncate ON {partition}"),
                statements: vec![
                    format!("DROP TRIGGER IF EXISTS usage_records_no_truncate ON {partition}"),
                    format!(
                        "CREATE TRIGGER usage_records_no_truncate BEFORE TRUNCATE ON {partition} FOR EACH STATEMENT \
                         EXECUTE FUNCTION usage_records_append_only()"
                    ),
                ],
            });
            row.into_iter().chain(truncate)
        });
        Ok(bad_functions.chain(bad_triggers).chain(bad_partitions).collect())
    }
}
