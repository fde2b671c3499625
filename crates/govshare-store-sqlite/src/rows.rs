//! Private row types of the SQLite schema and their mapping to domain types.

use chrono::{DateTime, Utc};
use govshare_domain::audit::{AuditRecord, Digest};
use govshare_domain::credit_code::CreditCode;
use govshare_domain::org::{OrgId, OrgKind, Organisation};
use govshare_domain::principal::{ApiCredential, CredentialId};
use govshare_domain::region::{Region, RegionCode};
use govshare_domain::role::Role;
use govshare_domain::user::{Membership, User, UserId, Username};
use govshare_store::{Member, Result, Session, StoreError};
use uuid::Uuid;

pub fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

pub fn time(us: i64) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp_micros(us).ok_or_else(|| corrupt(format!("timestamp {us} out of range")))
}

pub fn corrupt(what: impl Into<String>) -> StoreError {
    StoreError::Other(format!("stored data is invalid: {}", what.into()).into())
}

pub fn uuid(s: &str) -> Result<Uuid> {
    Uuid::parse_str(s).map_err(|_| corrupt(format!("bad uuid {s}")))
}

pub fn digest(bytes: &[u8]) -> Result<Digest> {
    bytes.try_into().map_err(|_| corrupt("digest is not 32 bytes"))
}

fn region_code(s: &str) -> Result<RegionCode> {
    RegionCode::parse(s).map_err(|e| corrupt(e.message))
}

#[derive(Debug, sqlx::FromRow)]
pub struct RegionRow {
    code: String,
    name: String,
    parent: Option<String>,
}

impl TryFrom<RegionRow> for Region {
    type Error = StoreError;
    fn try_from(r: RegionRow) -> Result<Self> {
        Ok(Region {
            code: region_code(&r.code)?,
            name: r.name,
            parent: r.parent.as_deref().map(region_code).transpose()?,
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
pub struct OrgRow {
    id: String,
    kind: String,
    region: String,
    name: String,
    credit_code: String,
    work_unit_name: String,
    created_at: i64,
}

impl TryFrom<OrgRow> for Organisation {
    type Error = StoreError;
    fn try_from(r: OrgRow) -> Result<Self> {
        Ok(Organisation {
            id: OrgId(uuid(&r.id)?),
            kind: OrgKind::parse(&r.kind).map_err(|e| corrupt(e.message))?,
            region: region_code(&r.region)?,
            name: r.name,
            credit_code: CreditCode::parse(&r.credit_code).map_err(|e| corrupt(e.message))?,
            work_unit_name: r.work_unit_name,
            created_at: time(r.created_at)?,
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
pub struct UserRow {
    id: String,
    username: String,
    display_name: String,
    password_hash: String,
    contractor: bool,
    disabled: bool,
    created_at: i64,
}

impl UserRow {
    /// The user and their password hash.
    pub fn try_into_parts(self) -> Result<(User, String)> {
        let user = User {
            id: UserId(uuid(&self.id)?),
            username: Username::parse(&self.username).map_err(|e| corrupt(e.message))?,
            display_name: self.display_name,
            contractor: self.contractor,
            disabled: self.disabled,
            created_at: time(self.created_at)?,
        };
        Ok((user, self.password_hash))
    }
}

#[derive(Debug, sqlx::FromRow)]
pub struct MemberRow {
    #[sqlx(flatten)]
    user: UserRow,
    role: String,
}

/// Rows ordered by username then role, one per (user, role), grouped into members.
pub fn group_members(rows: Vec<MemberRow>) -> Result<Vec<Member>> {
    let mut members: Vec<Member> = Vec::new();
    for row in rows {
        let role = Role::parse(&row.role).map_err(|e| corrupt(e.message))?;
        let (user, _) = row.user.try_into_parts()?;
        match members.last_mut() {
            Some(last) if last.user.id == user.id => last.roles.push(role),
            _ => members.push(Member { user, roles: vec![role] }),
        }
    }
    for m in &mut members {
        m.roles.sort();
    }
    Ok(members)
}

pub fn membership(user: &str, org: &str, role: &str) -> Result<Membership> {
    Ok(Membership {
        user_id: UserId(uuid(user)?),
        org_id: OrgId(uuid(org)?),
        role: Role::parse(role).map_err(|e| corrupt(e.message))?,
    })
}

#[derive(Debug, sqlx::FromRow)]
pub struct SessionRow {
    token_hash: String,
    user_id: String,
    org_id: String,
    csrf_token: String,
    created_at: i64,
    expires_at: i64,
}

impl TryFrom<SessionRow> for Session {
    type Error = StoreError;
    fn try_from(r: SessionRow) -> Result<Self> {
        Ok(Session {
            token_hash: r.token_hash,
            user_id: UserId(uuid(&r.user_id)?),
            org_id: OrgId(uuid(&r.org_id)?),
            csrf_token: r.csrf_token,
            created_at: time(r.created_at)?,
            expires_at: time(r.expires_at)?,
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
pub struct CredentialRow {
    id: String,
    org_id: String,
    name: String,
    secret_hash: String,
    created_by: String,
    created_at: i64,
    expires_at: i64,
    revoked_at: Option<i64>,
}

impl CredentialRow {
    pub fn try_into_parts(self) -> Result<(ApiCredential, String)> {
        let credential = ApiCredential {
            id: CredentialId(uuid(&self.id)?),
            org_id: OrgId(uuid(&self.org_id)?),
            name: self.name,
            created_by: self.created_by,
            created_at: time(self.created_at)?,
            expires_at: time(self.expires_at)?,
            revoked_at: self.revoked_at.map(time).transpose()?,
        };
        Ok((credential, self.secret_hash))
    }
}

#[derive(Debug, sqlx::FromRow)]
pub struct AuditRow {
    seq: i64,
    at: i64,
    actor: String,
    org_id: Option<String>,
    action: String,
    object_type: String,
    object_id: String,
    detail: String,
    prev_hash: Vec<u8>,
    hash: Vec<u8>,
}

impl TryFrom<AuditRow> for AuditRecord {
    type Error = StoreError;
    fn try_from(r: AuditRow) -> Result<Self> {
        Ok(AuditRecord {
            seq: r.seq,
            at: time(r.at)?,
            actor: r.actor,
            org_id: r.org_id.as_deref().map(uuid).transpose()?.map(OrgId),
            action: r.action,
            object_type: r.object_type,
            object_id: r.object_id,
            detail: r.detail,
            prev_hash: digest(&r.prev_hash)?,
            hash: digest(&r.hash)?,
        })
    }
}
