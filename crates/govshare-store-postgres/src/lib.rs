//! The PostgreSQL backend of the govshare store: the production store.
//!
//! Several instances may share one database. Audit appends are serialised by locking the single `audit_head`
//! row (`FOR UPDATE`) inside each transaction; it is the last lock a transaction takes, so no lock cycle with
//! the rows it changed can form.

mod applications;
pub mod bench;
mod catalog;
mod data;
mod evidence;
mod obligations;
mod rows;
pub mod testing;

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use govshare_domain::application::{Application, ApplicationId};
use govshare_domain::audit::{AuditEvent, AuditRecord, ChainHead, Digest, GENESIS};
use govshare_domain::catalog::{CatalogEntry, EntryEvent, EntryId, EntryVersion};
use govshare_domain::evidence::StoredUsage;
use govshare_domain::grant::{Grant, GrantId, UsageRecord};
use govshare_domain::notification::{DeadlineAlert, Notification};
use govshare_domain::obligation::{Extension, ObligationId, UpdateObligation};
use govshare_domain::org::{OrgId, OrgKind, Organisation};
use govshare_domain::principal::{ApiCredential, CredentialId};
use govshare_domain::record::{DataSource, LoadCounts, SourceLoad};
use govshare_domain::region::{Region, RegionCode};
use govshare_domain::role::Role;
use govshare_domain::source::SourceDesignation;
use govshare_domain::user::{Membership, User, UserId, Username};
use govshare_store::{
    LoginFailures, Member, RecordFeed, Result, Session, Store, StoreError, StoredRecord, UsageFilter, UserWithPassword,
};
use sqlx::postgres::PgPoolOptions;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use rows::{AuditRow, CredentialRow, OrgRow, RegionRow, SessionRow, UserRow};

#[derive(Debug, Clone)]
pub struct PgStore {
    writer: PgPool,
    reader: PgPool,
}

/// Maps sqlx errors: unique violations are conflicts, a missing row is not-found, the rest is "other".
pub(crate) fn db(err: sqlx::Error) -> StoreError {
    match &err {
        sqlx::Error::RowNotFound => StoreError::NotFound("记录不存在".into()),
        sqlx::Error::Database(e) if e.is_unique_violation() => StoreError::Conflict("该记录已存在".into()),
        sqlx::Error::Database(e) if e.is_foreign_key_violation() => StoreError::Conflict("引用的记录不存在".into()),
        _ => StoreError::other(err),
    }
}

impl PgStore {
    /// Connects to `url` (`postgres://user:pass@host:port/db`).
    pub async fn connect(url: &str) -> Result<PgStore> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await
            .map_err(db)?;
        // One pool serves both; the fields keep the code shaped like the SQLite backend's.
        Ok(PgStore { writer: pool.clone(), reader: pool })
    }

    /// Brings the schema up to date. Idempotent; safe when several instances start at once (sqlx takes an
    /// advisory lock).
    /// The start that applies the usage-seal migration (0007) also seals the usage records kept before it, once.
    pub async fn migrate(&self) -> Result<()> {
        let seals_existed = evidence::seals_migrated(&self.writer).await;
        sqlx::migrate!("./migrations").run(&self.writer).await.map_err(StoreError::other)?;
        if !seals_existed {
            evidence::seal_legacy(&self.writer).await?;
        }
        Ok(())
    }
}

/// NotFound with `what` when a statement touched no row.
fn found(rows: u64, what: &str) -> Result<()> {
    if rows == 0 { Err(StoreError::NotFound(what.to_owned())) } else { Ok(()) }
}

/// Reads and locks the chain head until the transaction ends.
async fn chain_head(conn: &mut PgConnection) -> Result<(i64, Digest)> {
    let (seq, hash): (i64, Vec<u8>) = sqlx::query_as("SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE")
        .fetch_one(&mut *conn)
        .await
        .map_err(db)?;
    Ok((seq, rows::digest(&hash)?))
}

/// Seals `event` as the next record and moves the head, inside the caller's transaction.
async fn append(conn: &mut PgConnection, event: &AuditEvent) -> Result<AuditRecord> {
    let (seq, prev) = chain_head(conn).await?;
    let record = AuditRecord::seal(seq + 1, Utc::now(), event, prev);
    // One round trip for the record and the head: the head lock is held until commit, so every statement after
    // it lengthens the time other appends wait.
    sqlx::query(
        "WITH appended AS (
             INSERT INTO audit_log (seq, at, actor, org_id, action, object_type, object_id, detail, prev_hash, hash)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING seq, hash
         )
         UPDATE audit_head SET seq = appended.seq, hash = appended.hash FROM appended WHERE id = 1",
    )
    .bind(record.seq)
    .bind(record.at)
    .bind(&record.actor)
    .bind(record.org_id.map(|o| o.0))
    .bind(&record.action)
    .bind(&record.object_type)
    .bind(&record.object_id)
    .bind(&record.detail)
    .bind(record.prev_hash.as_slice())
    .bind(record.hash.as_slice())
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    Ok(record)
}

async fn org_by_credit_code(conn: &mut PgConnection, code: &str) -> Result<Option<String>> {
    let name: Option<(String,)> = sqlx::query_as("SELECT name FROM organisations WHERE credit_code = $1")
        .bind(code)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db)?;
    Ok(name.map(|n| n.0))
}

#[async_trait]
impl Store for PgStore {
    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.reader).await.map_err(db)?;
        Ok(())
    }

    async fn create_region(&self, region: &Region, audit: &AuditEvent) -> Result<()> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        let exists: Option<(String,)> = sqlx::query_as("SELECT name FROM regions WHERE code = $1")
            .bind(region.code.to_string())
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
        if let Some((name,)) = exists {
            return Err(StoreError::Conflict(format!("行政区划 {} 已存在(「{name}」)", region.code)));
        }
        if let Some(parent) = region.parent {
            let found: Option<(String,)> = sqlx::query_as("SELECT code FROM regions WHERE code = $1")
                .bind(parent.to_string())
                .fetch_optional(&mut *tx)
                .await
                .map_err(db)?;
            if found.is_none() {
                return Err(StoreError::Conflict(format!("上级行政区划 {parent} 尚未创建")));
            }
        }
        sqlx::query("INSERT INTO regions (code, name, parent) VALUES ($1, $2, $3)")
            .bind(region.code.to_string())
            .bind(&region.name)
            .bind(region.parent.map(|p| p.to_string()))
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        append(&mut tx, audit).await?;
        tx.commit().await.map_err(db)
    }

    async fn list_regions(&self) -> Result<Vec<Region>> {
        let rows: Vec<RegionRow> = sqlx::query_as("SELECT code, name, parent FROM regions ORDER BY code")
            .fetch_all(&self.reader)
            .await
            .map_err(db)?;
        rows.into_iter().map(TryInto::try_into).collect()
    }

    async fn get_region(&self, code: RegionCode) -> Result<Region> {
        let row: Option<RegionRow> = sqlx::query_as("SELECT code, name, parent FROM regions WHERE code = $1")
            .bind(code.to_string())
            .fetch_optional(&self.reader)
            .await
            .map_err(db)?;
        row.ok_or_else(|| StoreError::NotFound(format!("行政区划 {code} 不存在")))?.try_into()
    }

    async fn create_org(&self, org: &Organisation, audit: &AuditEvent) -> Result<()> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        let region: Option<(String,)> = sqlx::query_as("SELECT name FROM regions WHERE code = $1")
            .bind(org.region.to_string())
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
        if region.is_none() {
            return Err(StoreError::Conflict(format!("行政区划 {} 尚未创建", org.region)));
        }
        if let Some(holder) = org_by_credit_code(&mut tx, org.credit_code.as_str()).await? {
            return Err(StoreError::Conflict(format!("统一社会信用代码 {} 已被「{holder}」使用", org.credit_code)));
        }
        if org.kind == OrgKind::Authority {
            let existing: Option<(String,)> =
                sqlx::query_as("SELECT name FROM organisations WHERE region = $1 AND kind = 'authority'")
                    .bind(org.region.to_string())
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db)?;
            if let Some((name,)) = existing {
                return Err(StoreError::Conflict(format!("行政区划 {} 已有主管部门「{name}」", org.region)));
            }
        }
        sqlx::query("INSERT INTO organisations (id, kind, region, name, credit_code, work_unit_name, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind(org.id.0)
            .bind(org.kind.code())
            .bind(org.region.to_string())
            .bind(&org.name)
            .bind(org.credit_code.as_str())
            .bind(&org.work_unit_name)
            .bind(org.created_at)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        append(&mut tx, audit).await?;
        tx.commit().await.map_err(db)
    }

    async fn update_org_work_unit(&self, id: OrgId, work_unit_name: &str, audit: &AuditEvent) -> Result<()> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        let done = sqlx::query("UPDATE organisations SET work_unit_name = $1 WHERE id = $2")
            .bind(work_unit_name)
            .bind(id.0)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        found(done.rows_affected(), "单位不存在")?;
        append(&mut tx, audit).await?;
        tx.commit().await.map_err(db)
    }

    async fn get_org(&self, id: OrgId) -> Result<Organisation> {
        let row: Option<OrgRow> = sqlx::query_as("SELECT * FROM organisations WHERE id = $1")
            .bind(id.0)
            .fetch_optional(&self.reader)
            .await
            .map_err(db)?;
        row.ok_or_else(|| StoreError::NotFound("单位不存在".into()))?.try_into()
    }

    async fn list_orgs(&self) -> Result<Vec<Organisation>> {
        let rows: Vec<OrgRow> =
            sqlx::query_as("SELECT * FROM organisations ORDER BY kind = 'department', region, name")
                .fetch_all(&self.reader)
                .await
                .map_err(db)?;
        rows.into_iter().map(TryInto::try_into).collect()
    }

    async fn is_empty(&self) -> Result<bool> {
        let (n,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM organisations").fetch_one(&self.reader).await.map_err(db)?;
        Ok(n == 0)
    }

    async fn create_user(&self, user: &User, password_hash: &str, audit: &AuditEvent) -> Result<()> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        let taken: Option<(Uuid,)> = sqlx::query_as("SELECT id FROM users WHERE username = $1")
            .bind(user.username.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
        if taken.is_some() {
            return Err(StoreError::Conflict(format!("用户名 {} 已存在", user.username)));
        }
        sqlx::query("INSERT INTO users (id, username, display_name, password_hash, contractor, disabled, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind(user.id.0)
            .bind(user.username.as_str())
            .bind(&user.display_name)
            .bind(password_hash)
            .bind(user.contractor)
            .bind(user.disabled)
            .bind(user.created_at)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        append(&mut tx, audit).await?;
        tx.commit().await.map_err(db)
    }

    async fn get_user(&self, id: UserId) -> Result<User> {
        let row: Option<UserRow> = sqlx::query_as("SELECT * FROM users WHERE id = $1")
            .bind(id.0)
            .fetch_optional(&self.reader)
            .await
            .map_err(db)?;
        Ok(row.ok_or_else(|| StoreError::NotFound("用户不存在".into()))?.try_into_parts()?.0)
    }

    async fn find_user_by_username(&self, username: &Username) -> Result<Option<UserWithPassword>> {
        let row: Option<UserRow> = sqlx::query_as("SELECT * FROM users WHERE username = $1")
            .bind(username.as_str())
            .fetch_optional(&self.reader)
            .await
            .map_err(db)?;
        row.map(|r| r.try_into_parts().map(|(user, password_hash)| UserWithPassword { user, password_hash }))
            .transpose()
    }

    async fn set_password_hash(
        &self,
        id: UserId,
        password_hash: &str,
        keep_session: Option<&str>,
        audit: &AuditEvent,
    ) -> Result<()> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        let done = sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(password_hash)
            .bind(id.0)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        found(done.rows_affected(), "用户不存在")?;
        sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND token_hash <> $2")
            .bind(id.0)
            .bind(keep_session.unwrap_or_default())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        append(&mut tx, audit).await?;
        tx.commit().await.map_err(db)
    }

    async fn set_user_disabled(&self, id: UserId, disabled: bool, audit: &AuditEvent) -> Result<()> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        let done = sqlx::query("UPDATE users SET disabled = $1 WHERE id = $2")
            .bind(disabled)
            .bind(id.0)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        found(done.rows_affected(), "用户不存在")?;
        if disabled {
            sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(id.0).execute(&mut *tx).await.map_err(db)?;
        }
        append(&mut tx, audit).await?;
        tx.commit().await.map_err(db)
    }

    async fn add_membership(&self, m: &Membership, audit: &AuditEvent) -> Result<()> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        let exists: Option<(String,)> =
            sqlx::query_as("SELECT role FROM memberships WHERE user_id = $1 AND org_id = $2 AND role = $3")
                .bind(m.user_id.0)
                .bind(m.org_id.0)
                .bind(m.role.code())
                .fetch_optional(&mut *tx)
                .await
                .map_err(db)?;
        if exists.is_some() {
            return Err(StoreError::Conflict(format!("该人员在本单位已有「{}」角色", m.role.label())));
        }
        if m.role == Role::WorkUnitHead {
            let head: Option<(String,)> = sqlx::query_as(
                "SELECT u.display_name FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.org_id = $1 AND m.role = 'work_unit_head'",
            )
            .bind(m.org_id.0)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
            if let Some((name,)) = head {
                return Err(StoreError::Conflict(format!("该单位已有工作机构负责人「{name}」")));
            }
        }
        sqlx::query("INSERT INTO memberships (user_id, org_id, role) VALUES ($1, $2, $3)")
            .bind(m.user_id.0)
            .bind(m.org_id.0)
            .bind(m.role.code())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        append(&mut tx, audit).await?;
        tx.commit().await.map_err(db)
    }

    async fn remove_membership(&self, m: &Membership, audit: &AuditEvent) -> Result<()> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        let done = sqlx::query("DELETE FROM memberships WHERE user_id = $1 AND org_id = $2 AND role = $3")
            .bind(m.user_id.0)
            .bind(m.org_id.0)
            .bind(m.role.code())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        found(done.rows_affected(), "没有该角色")?;
        append(&mut tx, audit).await?;
        tx.commit().await.map_err(db)
    }

    async fn memberships_of_user(&self, user: UserId) -> Result<Vec<Membership>> {
        let rows: Vec<(Uuid, Uuid, String)> =
            sqlx::query_as("SELECT user_id, org_id, role FROM memberships WHERE user_id = $1 ORDER BY org_id, role")
                .bind(user.0)
                .fetch_all(&self.reader)
                .await
                .map_err(db)?;
        rows.into_iter().map(|(u, o, r)| rows::membership(u, o, &r)).collect()
    }

    async fn members_of_org(&self, org: OrgId) -> Result<Vec<Member>> {
        let rows: Vec<rows::MemberRow> = sqlx::query_as(
            "SELECT u.*, m.role FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.org_id = $1 ORDER BY u.username, m.role",
        )
        .bind(org.0)
        .fetch_all(&self.reader)
        .await
        .map_err(db)?;
        rows::group_members(rows)
    }

    async fn work_unit_head(&self, org: OrgId) -> Result<Option<User>> {
        let row: Option<UserRow> = sqlx::query_as(
            "SELECT u.* FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.org_id = $1 AND m.role = 'work_unit_head'",
        )
        .bind(org.0)
        .fetch_optional(&self.reader)
        .await
        .map_err(db)?;
        row.map(|r| r.try_into_parts().map(|p| p.0)).transpose()
    }

    async fn create_session(&self, s: &Session, audit: &AuditEvent) -> Result<()> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        sqlx::query("INSERT INTO sessions (token_hash, user_id, org_id, csrf_token, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(&s.token_hash)
            .bind(s.user_id.0)
            .bind(s.org_id.0)
            .bind(&s.csrf_token)
            .bind(s.created_at)
            .bind(s.expires_at)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        append(&mut tx, audit).await?;
        tx.commit().await.map_err(db)
    }

    async fn get_session(&self, token_hash: &str, now: DateTime<Utc>) -> Result<Option<Session>> {
        let row: Option<SessionRow> =
            sqlx::query_as("SELECT * FROM sessions WHERE token_hash = $1 AND expires_at > $2")
                .bind(token_hash)
                .bind(now)
                .fetch_optional(&self.reader)
                .await
                .map_err(db)?;
        row.map(TryInto::try_into).transpose()
    }

    async fn set_session_org(&self, token_hash: &str, org: OrgId) -> Result<()> {
        let done = sqlx::query("UPDATE sessions SET org_id = $1 WHERE token_hash = $2")
            .bind(org.0)
            .bind(token_hash)
            .execute(&self.writer)
            .await
            .map_err(db)?;
        found(done.rows_affected(), "会话不存在")?;
        Ok(())
    }

    async fn delete_session(&self, token_hash: &str, audit: &AuditEvent) -> Result<()> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        append(&mut tx, audit).await?;
        tx.commit().await.map_err(db)
    }

    async fn purge_expired(&self, now: DateTime<Utc>, failures_before: DateTime<Utc>) -> Result<u64> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        let a =
            sqlx::query("DELETE FROM sessions WHERE expires_at <= $1").bind(now).execute(&mut *tx).await.map_err(db)?;
        let b = sqlx::query("DELETE FROM login_failures WHERE at < $1")
            .bind(failures_before)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(a.rows_affected() + b.rows_affected())
    }

    async fn record_login_failure(&self, username: &str, client: &str, at: DateTime<Utc>) -> Result<()> {
        sqlx::query("INSERT INTO login_failures (username, client, at) VALUES ($1, $2, $3)")
            .bind(username)
            .bind(client)
            .bind(at)
            .execute(&self.writer)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn login_failures(&self, username: &str, client: &str, since: DateTime<Utc>) -> Result<LoginFailures> {
        let (pair, pair_last, by_client, untrusted): (i64, Option<DateTime<Utc>>, i64, i64) = sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM login_failures WHERE username = $1 AND client = $2 AND at >= $3),
                    (SELECT MAX(at) FROM login_failures WHERE username = $4 AND client = $5 AND at >= $6),
                    (SELECT COUNT(*) FROM login_failures WHERE client = $7 AND at >= $8),
                    (SELECT COUNT(*) FROM login_failures WHERE username = $9 AND client LIKE 'ip:%' AND at >= $10)",
        )
        .bind(username)
        .bind(client)
        .bind(since)
        .bind(username)
        .bind(client)
        .bind(since)
        .bind(client)
        .bind(since)
        .bind(username)
        .bind(since)
        .fetch_one(&self.reader)
        .await
        .map_err(db)?;
        Ok(LoginFailures {
            pair: pair as u64,
            pair_last,
            client: by_client as u64,
            username_untrusted: untrusted as u64,
        })
    }

    async fn clear_login_failures(&self, username: &str, client: &str) -> Result<()> {
        sqlx::query("DELETE FROM login_failures WHERE username = $1 AND client = $2")
            .bind(username)
            .bind(client)
            .execute(&self.writer)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn create_credential(&self, c: &ApiCredential, secret_hash: &str, audit: &AuditEvent) -> Result<()> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        sqlx::query(
            "INSERT INTO api_credentials (id, org_id, name, secret_hash, created_by, created_at, expires_at, revoked_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(c.id.0)
        .bind(c.org_id.0)
        .bind(&c.name)
        .bind(secret_hash)
        .bind(&c.created_by)
        .bind(c.created_at)
        .bind(c.expires_at)
        .bind(c.revoked_at)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        append(&mut tx, audit).await?;
        tx.commit().await.map_err(db)
    }

    async fn get_credential(&self, id: CredentialId) -> Result<Option<(ApiCredential, String)>> {
        let row: Option<CredentialRow> = sqlx::query_as("SELECT * FROM api_credentials WHERE id = $1")
            .bind(id.0)
            .fetch_optional(&self.reader)
            .await
            .map_err(db)?;
        row.map(|r| r.try_into_parts()).transpose()
    }

    async fn list_credentials(&self, org: OrgId) -> Result<Vec<ApiCredential>> {
        let rows: Vec<CredentialRow> =
            sqlx::query_as("SELECT * FROM api_credentials WHERE org_id = $1 ORDER BY created_at DESC, id DESC")
                .bind(org.0)
                .fetch_all(&self.reader)
                .await
                .map_err(db)?;
        rows.into_iter().map(|r| r.try_into_parts().map(|p| p.0)).collect()
    }

    async fn revoke_credential(&self, id: CredentialId, at: DateTime<Utc>, audit: &AuditEvent) -> Result<()> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        let current: Option<(Option<DateTime<Utc>>,)> =
            sqlx::query_as("SELECT revoked_at FROM api_credentials WHERE id = $1")
                .bind(id.0)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db)?;
        match current {
            None => return Err(StoreError::NotFound("API 凭证不存在".into())),
            Some((Some(_),)) => return Err(StoreError::Conflict("API 凭证已吊销".into())),
            Some((None,)) => {}
        }
        sqlx::query("UPDATE api_credentials SET revoked_at = $1 WHERE id = $2")
            .bind(at)
            .bind(id.0)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        append(&mut tx, audit).await?;
        tx.commit().await.map_err(db)
    }

    async fn create_entry(&self, entry: &CatalogEntry, audit: &AuditEvent) -> Result<()> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        catalog::insert_entry(&mut tx, entry).await?;
        append(&mut tx, audit).await?;
        tx.commit().await.map_err(db)
    }

    async fn create_entries(&self, entries: &[CatalogEntry], audit: &AuditEvent) -> Result<()> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        for entry in entries {
            catalog::insert_entry(&mut tx, entry).await?;
        }
        append(&mut tx, audit).await?;
        tx.commit().await.map_err(db)
    }

    async fn save_versions(
        &self,
        entry: EntryId,
        versions: &[EntryVersion],
        event: &EntryEvent,
        notifications: &[Notification],
        audit: &AuditEvent,
    ) -> Result<()> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        let exists: Option<(uuid::Uuid,)> = sqlx::query_as("SELECT id FROM catalog_entries WHERE id = $1")
            .bind(entry.0)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
        if exists.is_none() {
            return Err(StoreError::NotFound("目录不存在".into()));
        }
        catalog::upsert_versions(&mut tx, entry, versions).await?;
        catalog::insert_event(&mut tx, entry, event).await?;
        catalog::insert_notifications(&mut tx, notifications).await?;
        append(&mut tx, audit).await?;
        tx.commit().await.map_err(db)
    }

    async fn get_entry(&self, id: EntryId) -> Result<CatalogEntry> {
        catalog::load(&self.reader, Some(id), None)
            .await?
            .pop()
            .ok_or_else(|| StoreError::NotFound("目录不存在".into()))
    }

    async fn list_entries(&self, provider: Option<OrgId>) -> Result<Vec<CatalogEntry>> {
        catalog::load(&self.reader, None, provider).await
    }

    async fn published_versions(&self) -> Result<Vec<(EntryId, u32)>> {
        let rows: Vec<(uuid::Uuid, i32)> = sqlx::query_as(
            "SELECT entry_id, MAX(version) FROM catalog_versions WHERE status = 'published' GROUP BY entry_id",
        )
        .fetch_all(&self.reader)
        .await
        .map_err(db)?;
        Ok(rows.into_iter().map(|(id, v)| (EntryId(id), v as u32)).collect())
    }

    async fn create_obligation(
        &self,
        obligation: &UpdateObligation,
        notifications: &[Notification],
        audit: &AuditEvent,
    ) -> Result<()> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        obligations::insert_obligation(&mut tx, obligation).await?;
        catalog::insert_notifications(&mut tx, notifications).await?;
        append(&mut tx, audit).await?;
        tx.commit().await.map_err(db)
    }

    async fn set_obligation_extension(
        &self,
        id: ObligationId,
        previous: Option<&Extension>,
        next: &Extension,
        notifications: &[Notification],
        audit: &AuditEvent,
    ) -> Result<()> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        obligations::set_extension(&mut tx, id, previous, next).await?;
        catalog::insert_notifications(&mut tx, notifications).await?;
        append(&mut tx, audit).await?;
        tx.commit().await.map_err(db)
    }

    async fn get_obligation(&self, id: ObligationId) -> Result<UpdateObligation> {
        obligations::get_obligation(&self.reader, id).await
    }

    async fn list_obligations(&self, provider: Option<OrgId>) -> Result<Vec<UpdateObligation>> {
        obligations::list_obligations(&self.reader, provider).await
    }

    async fn save_designation(
        &self,
        designation: &SourceDesignation,
        notifications: &[Notification],
        audit: &AuditEvent,
    ) -> Result<()> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        obligations::save_designation(&mut tx, designation).await?;
        catalog::insert_notifications(&mut tx, notifications).await?;
        append(&mut tx, audit).await?;
        tx.commit().await.map_err(db)
    }

    async fn list_designations(&self, region: Option<RegionCode>) -> Result<Vec<SourceDesignation>> {
        obligations::list_designations(&self.reader, region).await
    }

    async fn create_application(
        &self,
        application: &Application,
        notifications: &[Notification],
        audit: &AuditEvent,
    ) -> Result<()> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        applications::insert(&mut tx, application).await?;
        catalog::insert_notifications(&mut tx, notifications).await?;
        append(&mut tx, audit).await?;
        tx.commit().await.map_err(db)
    }

    async fn save_application(
        &self,
        application: &Application,
        expected_events: usize,
        notifications: &[Notification],
        audit: &AuditEvent,
    ) -> Result<()> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        applications::update(&mut tx, application, expected_events).await?;
        catalog::insert_notifications(&mut tx, notifications).await?;
        append(&mut tx, audit).await?;
        tx.commit().await.map_err(db)
    }

    async fn get_application(&self, id: ApplicationId) -> Result<Application> {
        applications::get(&self.reader, id).await
    }

    async fn list_applications(&self, party: Option<OrgId>, open_only: bool) -> Result<Vec<Application>> {
        applications::list(&self.reader, party, open_only).await
    }

    async fn save_source(&self, source: &DataSource, audit: &AuditEvent) -> Result<()> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        data::save_source(&mut tx, source).await?;
        append(&mut tx, audit).await?;
        tx.commit().await.map_err(db)
    }

    async fn get_source(&self, entry: EntryId) -> Result<Option<DataSource>> {
        data::get_source(&self.reader, entry).await
    }

    async fn load_records(
        &self,
        load: &SourceLoad,
        feed: &mut dyn RecordFeed,
        audit: &AuditEvent,
    ) -> Result<LoadCounts> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        let counts = data::load(&mut tx, load, feed).await?;
        append(&mut tx, audit).await?;
        tx.commit().await.map_err(db)?;
        Ok(counts)
    }

    async fn source_loads(&self, entry: EntryId, limit: u32) -> Result<Vec<SourceLoad>> {
        data::loads(&self.reader, entry, limit).await
    }

    async fn get_record(&self, entry: EntryId, key: &str) -> Result<Option<StoredRecord>> {
        data::get_record(&self.reader, entry, key).await
    }

    async fn scan_records(
        &self,
        entry: EntryId,
        scope_prefixes: Option<&[String]>,
        after_key: Option<&str>,
        limit: u32,
    ) -> Result<Vec<StoredRecord>> {
        data::scan(&self.reader, entry, scope_prefixes, after_key, limit).await
    }

    async fn record_changes(
        &self,
        entry: EntryId,
        scope_prefixes: Option<&[String]>,
        after_seq: i64,
        live_only: bool,
        limit: u32,
    ) -> Result<Vec<StoredRecord>> {
        data::changes(&self.reader, entry, scope_prefixes, after_seq, live_only, limit).await
    }

    async fn create_grant(
        &self,
        grant: &Grant,
        application: &Application,
        expected_events: usize,
        notifications: &[Notification],
        audit: &AuditEvent,
    ) -> Result<()> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        applications::update(&mut tx, application, expected_events).await?;
        data::insert_grant(&mut tx, grant).await?;
        catalog::insert_notifications(&mut tx, notifications).await?;
        append(&mut tx, audit).await?;
        tx.commit().await.map_err(db)
    }

    async fn save_grant(
        &self,
        grant: &Grant,
        expected_events: usize,
        notifications: &[Notification],
        audit: &AuditEvent,
    ) -> Result<()> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        data::update_grant(&mut tx, grant, expected_events).await?;
        catalog::insert_notifications(&mut tx, notifications).await?;
        append(&mut tx, audit).await?;
        tx.commit().await.map_err(db)
    }

    async fn get_grant(&self, id: GrantId) -> Result<Grant> {
        data::get_grant(&self.reader, id).await
    }

    async fn list_grants(&self, party: Option<OrgId>) -> Result<Vec<Grant>> {
        data::list_grants(&self.reader, party).await
    }

    async fn append_usage(&self, records: &[UsageRecord]) -> Result<()> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        evidence::append_sealed(&mut tx, records).await?;
        tx.commit().await.map_err(db)
    }

    async fn sealed_usage(&self, batches: &[Uuid]) -> Result<Vec<(Uuid, StoredUsage)>> {
        evidence::sealed_usage(&self.reader, batches).await
    }

    async fn usage_count(&self) -> Result<u64> {
        evidence::usage_count(&self.reader).await
    }

    async fn usage_seal_of(&self, id: Uuid) -> Result<Option<(Uuid, i64)>> {
        evidence::usage_seal_of(&self.reader, id).await
    }

    async fn seal_record(&self, batch: Uuid) -> Result<Option<AuditRecord>> {
        evidence::seal_record(&self.reader, batch).await
    }

    async fn usage_records(&self, filter: &UsageFilter, limit: u32) -> Result<Vec<UsageRecord>> {
        data::usage(&self.reader, filter, limit).await
    }

    /// One: every usage batch appends its seal to the chain, and chain appends serialise on the `audit_head` lock
    /// until commit, so parallel batches would only wait for each other holding small batches. One writer lets
    /// every record that arrives meanwhile join the next batch (measured: see README, Benchmarks).
    fn parallel_writes(&self) -> usize {
        1
    }

    async fn usage_rows_since(&self, grant: GrantId, since: DateTime<Utc>) -> Result<u64> {
        data::rows_since(&self.reader, grant, since).await
    }

    async fn record_deadline_alert(
        &self,
        alert: &DeadlineAlert,
        notifications: &[Notification],
        audit: &AuditEvent,
    ) -> Result<bool> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        if !applications::insert_alert(&mut tx, alert).await? {
            return Ok(false);
        }
        catalog::insert_notifications(&mut tx, notifications).await?;
        append(&mut tx, audit).await?;
        tx.commit().await.map_err(db)?;
        Ok(true)
    }

    async fn deadline_alerts(&self, subject: &str) -> Result<Vec<DeadlineAlert>> {
        applications::alerts(&self.reader, subject).await
    }

    async fn overdue_marks(&self, limit: u32) -> Result<Vec<DeadlineAlert>> {
        applications::overdue(&self.reader, limit).await
    }

    async fn notifications(&self, org: OrgId, limit: u32) -> Result<Vec<Notification>> {
        catalog::notifications(&self.reader, org, limit).await
    }

    async fn mark_notification_read(&self, org: OrgId, id: uuid::Uuid, at: DateTime<Utc>) -> Result<()> {
        let done =
            sqlx::query("UPDATE notifications SET read_at = COALESCE(read_at, $1) WHERE id = $2 AND org_id = $3")
                .bind(at)
                .bind(id)
                .bind(org.0)
                .execute(&self.writer)
                .await
                .map_err(db)?;
        found(done.rows_affected(), "通知不存在")?;
        Ok(())
    }

    async fn save_calendar_years(&self, years: &[(i32, String)], audit: &AuditEvent) -> Result<()> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        for (year, data) in years {
            sqlx::query("INSERT INTO calendar_years (year, data) VALUES ($1, $2) ON CONFLICT (year) DO UPDATE SET data = excluded.data")
                .bind(year)
                .bind(data)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        append(&mut tx, audit).await?;
        tx.commit().await.map_err(db)
    }

    async fn calendar_years(&self) -> Result<Vec<(i32, String)>> {
        sqlx::query_as("SELECT year, data FROM calendar_years ORDER BY year").fetch_all(&self.reader).await.map_err(db)
    }

    async fn append_audit(&self, audit: &AuditEvent) -> Result<AuditRecord> {
        let mut tx = self.writer.begin().await.map_err(db)?;
        let record = append(&mut tx, audit).await?;
        tx.commit().await.map_err(db)?;
        Ok(record)
    }

    async fn audit_records(&self, after: i64, limit: u32) -> Result<Vec<AuditRecord>> {
        let rows: Vec<AuditRow> = sqlx::query_as("SELECT * FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2")
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&self.reader)
            .await
            .map_err(db)?;
        rows.into_iter().map(TryInto::try_into).collect()
    }

    async fn recent_audit(&self, org: Option<OrgId>, limit: u32) -> Result<Vec<AuditRecord>> {
        let rows: Vec<AuditRow> = sqlx::query_as(
            "SELECT * FROM audit_log WHERE ($1::uuid IS NULL OR org_id = $1) ORDER BY seq DESC LIMIT $2",
        )
        .bind(org.map(|o| o.0))
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await
        .map_err(db)?;
        rows.into_iter().map(TryInto::try_into).collect()
    }

    async fn audit_head(&self) -> Result<Option<ChainHead>> {
        let (seq, hash): (i64, Vec<u8>) = sqlx::query_as("SELECT seq, hash FROM audit_head WHERE id = 1")
            .fetch_one(&self.reader)
            .await
            .map_err(db)?;
        let hash = rows::digest(&hash)?;
        Ok((seq > 0 || hash != GENESIS).then_some(ChainHead { seq, hash }))
    }

    async fn missing_guards(&self) -> Result<Vec<String>> {
        evidence::missing_guards(&self.reader).await
    }

    async fn restore_guards(&self, audit: &AuditEvent) -> Result<Vec<String>> {
        evidence::restore_guards(&self.writer, audit).await
    }
}
