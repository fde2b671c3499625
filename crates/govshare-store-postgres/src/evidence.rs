//! Tamper evidence on PostgreSQL: sealed usage batches, the seal of the records kept before seals existed, and
//! the append-only triggers and their functions (which `audit verify` checks and `audit restore-guards`
//! recreates).

use govshare_domain::audit::{AuditEvent, AuditRecord};
use govshare_domain::catalog::EntryId;
use govshare_domain::evidence::{StoredUsage, USAGE_BATCH_OBJECT, USAGE_SEAL_ACTION, UsageColumns, UsageSeal};
use govshare_domain::grant::{GrantId, UsageRecord};
use govshare_domain::org::OrgId;
use govshare_store::Result;
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder};
use uuid::Uuid;

use crate::rows::AuditRow;
use crate::{append, chain_head, db};

const ROWS_PER_STATEMENT: usize = 500;

/// The trigger functions, with their body as created.
const FUNCTIONS: &[(&str, &str)] = &[
    ("audit_log_append_only", "BEGIN RAISE EXCEPTION 'audit_log is append-only'; END;"),
    ("usage_records_append_only", "BEGIN RAISE EXCEPTION 'usage records are append-only'; END;"),
];

/// A trigger that keeps the evidence append-only: name, table, `pg_trigger.tgtype` bits, function, timing.
struct Guard {
    name: &'static str,
    table: &'static str,
    tgtype: i32,
    function: &'static str,
    on: &'static str,
}

// tgtype bits: ROW 1, BEFORE 2, INSERT 4, DELETE 8, UPDATE 16, TRUNCATE 32.
const GUARDS: &[Guard] = &[
    Guard {
        name: "audit_log_no_update",
        table: "audit_log",
        tgtype: 1 | 2 | 16,
        function: "audit_log_append_only",
        on: "BEFORE UPDATE ON audit_log FOR EACH ROW",
    },
    Guard {
        name: "audit_log_no_delete",
        table: "audit_log",
        tgtype: 1 | 2 | 8,
        function: "audit_log_append_only",
        on: "BEFORE DELETE ON audit_log FOR EACH ROW",
    },
    Guard {
        name: "audit_log_no_truncate",
        table: "audit_log",
        tgtype: 2 | 32,
        function: "audit_log_append_only",
        on: "BEFORE TRUNCATE ON audit_log FOR EACH STATEMENT",
    },
    Guard {
        name: "usage_records_no_change",
        table: "usage_records",
        tgtype: 1 | 2 | 8 | 16,
        function: "usage_records_append_only",
        on: "BEFORE UPDATE OR DELETE ON usage_records FOR EACH ROW",
    },
    Guard {
        name: "usage_records_no_truncate",
        table: "usage_records",
        tgtype: 2 | 32,
        function: "usage_records_append_only",
        on: "BEFORE TRUNCATE ON usage_records FOR EACH STATEMENT",
    },
];

fn normalised(sql: &str) -> String {
    sql.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Inserts the batch's rows, then appends its seal. The chain append locks `audit_head`, which serialises
/// commits across connections; taking it last keeps the row inserts outside that lock.
pub async fn append_sealed(conn: &mut PgConnection, records: &[UsageRecord]) -> Result<()> {
    let documents: Vec<String> = records.iter().map(govshare_domain::evidence::usage_document).collect();
    let seal = UsageSeal::over(Uuid::now_v7(), &documents, false);
    for (chunk, offset) in records.chunks(ROWS_PER_STATEMENT).zip((0..).step_by(ROWS_PER_STATEMENT)) {
        let mut q = QueryBuilder::<Postgres>::new(
            "INSERT INTO usage_records (id, at, requester, provider, grant_id, entry_id, rows, document, seal_id, \
             seal_position) ",
        );
        q.push_values(chunk.iter().enumerate(), |mut b, (i, r)| {
            b.push_bind(r.id)
                .push_bind(r.at)
                .push_bind(r.requester.0)
                .push_bind(r.provider.0)
                .push_bind(r.grant.map(|g| g.0))
                .push_bind(r.entry.0)
                .push_bind(r.rows as i64)
                .push_bind(documents[offset + i].as_str())
                .push_bind(seal.batch)
                .push_bind((offset + i) as i64);
        });
        q.build().execute(&mut *conn).await.map_err(db)?;
    }
    append(conn, &seal.event()).await?;
    Ok(())
}

type UsageRow = (Uuid, chrono::DateTime<chrono::Utc>, Uuid, Uuid, Option<Uuid>, Uuid, i64, String, Uuid, i64);

fn stored(row: UsageRow) -> (Uuid, StoredUsage) {
    let (id, at, requester, provider, grant, entry, rows, document, seal, position) = row;
    let columns = UsageColumns {
        id,
        at,
        requester: OrgId(requester),
        provider: OrgId(provider),
        grant: grant.map(GrantId),
        entry: EntryId(entry),
        rows: rows.max(0) as u64,
    };
    (seal, StoredUsage { position, document, columns })
}

pub async fn sealed_usage(pool: &PgPool, batches: &[Uuid]) -> Result<Vec<(Uuid, StoredUsage)>> {
    let rows: Vec<UsageRow> = sqlx::query_as(
        "SELECT id, at, requester, provider, grant_id, entry_id, rows, document, seal_id, seal_position \
         FROM usage_records WHERE seal_id = ANY($1) ORDER BY seal_id, seal_position",
    )
    .bind(batches)
    .fetch_all(pool)
    .await
    .map_err(db)?;
    Ok(rows.into_iter().map(stored).collect())
}

pub async fn usage_count(pool: &PgPool) -> Result<u64> {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM usage_records").fetch_one(pool).await.map_err(db)?;
    Ok(n.max(0) as u64)
}

pub async fn usage_seal_of(pool: &PgPool, usage: Uuid) -> Result<Option<(Uuid, i64)>> {
    let row: Option<(Option<Uuid>, Option<i64>)> =
        sqlx::query_as("SELECT seal_id, seal_position FROM usage_records WHERE id = $1")
            .bind(usage)
            .fetch_optional(pool)
            .await
            .map_err(db)?;
    Ok(row.and_then(|(seal, position)| Some((seal?, position?))))
}

pub async fn seal_record(pool: &PgPool, batch: Uuid) -> Result<Option<AuditRecord>> {
    let row: Option<AuditRow> = sqlx::query_as(
        "SELECT * FROM audit_log WHERE object_type = $1 AND object_id = $2 AND action = $3 ORDER BY seq LIMIT 1",
    )
    .bind(USAGE_BATCH_OBJECT)
    .bind(batch.to_string())
    .bind(USAGE_SEAL_ACTION)
    .fetch_optional(pool)
    .await
    .map_err(db)?;
    row.map(TryInto::try_into).transpose()
}

/// Whether migration 0007 (usage seals) had been applied before this start.
pub async fn seals_migrated(pool: &PgPool) -> bool {
    sqlx::query_as::<_, (i64,)>("SELECT COUNT(*) FROM _sqlx_migrations WHERE version = 7 AND success")
        .fetch_one(pool)
        .await
        .is_ok_and(|(n,)| n > 0)
}

/// Seals the records migration 0007 gathered into the nil batch, unless the chain already has a legacy seal
/// (several instances may start at once: the head lock makes the check and the seal one step). Called only by a
/// start that found the migration unapplied, so rows inserted later with the nil batch id are never sealed by a
/// restart.
pub async fn seal_legacy(pool: &PgPool) -> Result<()> {
    let mut tx = pool.begin().await.map_err(db)?;
    chain_head(&mut tx).await?;
    let nil = Uuid::nil();
    let (sealed,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM audit_log WHERE object_type = $1 AND object_id = $2 AND action = $3")
            .bind(USAGE_BATCH_OBJECT)
            .bind(nil.to_string())
            .bind(USAGE_SEAL_ACTION)
            .fetch_one(&mut *tx)
            .await
            .map_err(db)?;
    let documents: Vec<(String,)> =
        sqlx::query_as("SELECT document FROM usage_records WHERE seal_id = $1 ORDER BY seal_position")
            .bind(nil)
            .fetch_all(&mut *tx)
            .await
            .map_err(db)?;
    if sealed > 0 || documents.is_empty() {
        return Ok(());
    }
    let documents: Vec<String> = documents.into_iter().map(|(d,)| d).collect();
    append(&mut tx, &UsageSeal::over(nil, &documents, true).event()).await?;
    tx.commit().await.map_err(db)
}

/// The guards (functions first, then triggers) that are missing, altered or disabled.
async fn guard_state(conn: &mut PgConnection) -> Result<(Vec<&'static str>, Vec<&'static str>)> {
    let functions: Vec<(String, String)> = sqlx::query_as(
        "SELECT p.proname::text, p.prosrc FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
         WHERE n.nspname = current_schema() AND p.proname IN ('audit_log_append_only', 'usage_records_append_only')",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    let triggers: Vec<(String, String, i32, String, String, bool)> = sqlx::query_as(
        "SELECT t.tgname::text, c.relname::text, t.tgtype::int4, t.tgenabled::text, p.proname::text, t.tgqual IS NULL
         FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
         JOIN pg_proc p ON p.oid = t.tgfoid
         WHERE NOT t.tgisinternal AND n.nspname = current_schema() AND c.relname IN ('audit_log', 'usage_records')",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    let bad_functions = FUNCTIONS
        .iter()
        .filter(|(name, body)| !functions.iter().any(|(n, src)| n == name && normalised(src) == normalised(body)))
        .map(|(name, _)| *name)
        .collect();
    let bad_triggers = GUARDS
        .iter()
        .filter(|g| {
            !triggers.iter().any(|(name, table, tgtype, enabled, function, unconditional)| {
                name == g.name
                    && table == g.table
                    && *tgtype == g.tgtype
                    && matches!(enabled.as_str(), "O" | "A")
                    && function == g.function
                    && *unconditional
            })
        })
        .map(|g| g.name)
        .collect();
    Ok((bad_functions, bad_triggers))
}

pub async fn missing_guards(pool: &PgPool) -> Result<Vec<String>> {
    let mut conn = pool.acquire().await.map_err(db)?;
    let (functions, triggers) = guard_state(&mut conn).await?;
    Ok(functions.into_iter().map(|f| format!("{f}()")).chain(triggers.into_iter().map(str::to_owned)).collect())
}

pub async fn restore_guards(pool: &PgPool, audit: &AuditEvent) -> Result<Vec<String>> {
    let mut tx = pool.begin().await.map_err(db)?;
    let (functions, triggers) = guard_state(&mut tx).await?;
    if functions.is_empty() && triggers.is_empty() {
        return Ok(Vec::new());
    }
    for name in &functions {
        let (_, body) = FUNCTIONS.iter().find(|(n, _)| n == name).expect("a known function");
        let create = format!("CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ {body} $$");
        sqlx::query(&create).execute(&mut *tx).await.map_err(db)?;
    }
    for name in &triggers {
        let g = GUARDS.iter().find(|g| g.name == *name).expect("a known trigger");
        sqlx::query(&format!("DROP TRIGGER IF EXISTS {} ON {}", g.name, g.table))
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        sqlx::query(&format!("CREATE TRIGGER {} {} EXECUTE FUNCTION {}()", g.name, g.on, g.function))
            .execute(&mut *tx)
            .await
            .map_err(db)?;
    }
    append(&mut tx, audit).await?;
    tx.commit().await.map_err(db)?;
    Ok(functions.into_iter().map(|f| format!("{f}()")).chain(triggers.into_iter().map(str::to_owned)).collect())
}
