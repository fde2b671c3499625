//! Rows of the schema read into domain types, and the domain's ids bound as values.

use chrono::{DateTime, Utc};
use govshare_domain::application::ApplicationId;
use govshare_domain::audit::{AuditRecord, Digest};
use govshare_domain::catalog::EntryId;
use govshare_domain::credit_code::CreditCode;
use govshare_domain::grant::GrantId;
use govshare_domain::obligation::ObligationId;
use govshare_domain::org::{OrgId, OrgKind, Organisation};
use govshare_domain::principal::{ApiCredential, CredentialId};
use govshare_domain::region::{Region, RegionCode};
use govshare_domain::role::Role;
use govshare_domain::user::{Membership, User, UserId, Username};
use govshare_store::{Member, Result, Session};
use uuid::Uuid;

use crate::driver::{Arg, Bind, Col, FromRow, Row, Value, corrupt};

macro_rules! ids {
    ($($t:ident),*) => {$(
        impl<'a> Bind<'a> for $t {
            fn arg(self) -> Arg<'a> {
                Arg::Id(Some(self.0))
            }
            fn null() -> Arg<'a> {
                Arg::Id(None)
            }
        }
        impl Value for $t {
            fn read(row: &impl Row, c: Col<'_>) -> Result<Option<Self>> {
                Ok(row.id(c)?.map($t))
            }
        }
    )*};
}

ids!(OrgId, UserId, EntryId, ApplicationId, GrantId, CredentialId, ObligationId);

/// A stored digest (32 bytes).
pub struct Hash(pub Digest);

impl Value for Hash {
    fn read(row: &impl Row, c: Col<'_>) -> Result<Option<Self>> {
        row.bytes(c)?
            .map(|b| b.as_slice().try_into().map(Hash).map_err(|_| corrupt("digest is not 32 bytes")))
            .transpose()
    }
}

impl Value for RegionCode {
    fn read(row: &impl Row, c: Col<'_>) -> Result<Option<Self>> {
        row.text(c)?.map(|s| RegionCode::parse(&s).map_err(|e| corrupt(e.message))).transpose()
    }
}

impl Value for Role {
    fn read(row: &impl Row, c: Col<'_>) -> Result<Option<Self>> {
        row.text(c)?.map(|s| Role::parse(&s).map_err(|e| corrupt(e.message))).transpose()
    }
}

/// A JSON document column.
pub struct Json<T>(pub T);

impl<T: serde::de::DeserializeOwned> Value for Json<T> {
    fn read(row: &impl Row, c: Col<'_>) -> Result<Option<Self>> {
        row.text(c)?
            .map(|s| serde_json::from_str(&s).map(Json).map_err(|e| corrupt(format!("document in {c}: {e}"))))
            .transpose()
    }
}

/// A value as its JSON document.
pub fn json<T: serde::Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(govshare_store::StoreError::other)
}

impl FromRow for Region {
    fn from_row(r: &impl Row) -> Result<Self> {
        Ok(Region { code: r.get("code")?, name: r.get("name")?, parent: r.get("parent")? })
    }
}

impl FromRow for Organisation {
    fn from_row(r: &impl Row) -> Result<Self> {
        Ok(Organisation {
            id: r.get("id")?,
            kind: OrgKind::parse(&r.get::<String>("kind")?).map_err(|e| corrupt(e.message))?,
            region: r.get("region")?,
            name: r.get("name")?,
            credit_code: CreditCode::parse(&r.get::<String>("credit_code")?).map_err(|e| corrupt(e.message))?,
            work_unit_name: r.get("work_unit_name")?,
            created_at: r.get("created_at")?,
        })
    }
}

/// A user row: the user and their password hash.
pub struct UserRow(pub User, pub String);

impl FromRow for UserRow {
    fn from_row(r: &impl Row) -> Result<Self> {
        let user = User {
            id: r.get("id")?,
            username: Username::parse(&r.get::<String>("username")?).map_err(|e| corrupt(e.message))?,
            display_name: r.get("display_name")?,
            contractor: r.get("contractor")?,
            disabled: r.get("disabled")?,
            created_at: r.get("created_at")?,
        };
        Ok(UserRow(user, r.get("password_hash")?))
    }
}

/// Rows of users with a `role` column, ordered by username then role, grouped into members.
pub fn group_members(rows: &[impl Row]) -> Result<Vec<Member>> {
    let mut members: Vec<Member> = Vec::new();
    for row in rows {
        let role: Role = row.get("role")?;
        let UserRow(user, _) = UserRow::from_row(row)?;
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

impl FromRow for Membership {
    fn from_row(r: &impl Row) -> Result<Self> {
        Ok(Membership { user_id: r.get("user_id")?, org_id: r.get("org_id")?, role: r.get("role")? })
    }
}

impl FromRow for Session {
    fn from_row(r: &impl Row) -> Result<Self> {
        Ok(Session {
            token_hash: r.get("token_hash")?,
            user_id: r.get("user_id")?,
            org_id: r.get("org_id")?,
            csrf_token: r.get("csrf_token")?,
            created_at: r.get("created_at")?,
            expires_at: r.get("expires_at")?,
        })
    }
}

/// A credential row: the credential and its secret's hash.
pub struct CredentialRow(pub ApiCredential, pub String);

impl FromRow for CredentialRow {
    fn from_row(r: &impl Row) -> Result<Self> {
        let credential = ApiCredential {
            id: r.get("id")?,
            org_id: r.get("org_id")?,
            name: r.get("name")?,
            created_by: r.get("created_by")?,
            created_at: r.get("created_at")?,
            expires_at: r.get("expires_at")?,
            revoked_at: r.get::<Option<DateTime<Utc>>>("revoked_at")?,
        };
        Ok(CredentialRow(credential, r.get("secret_hash")?))
    }
}

impl FromRow for AuditRecord {
    fn from_row(r: &impl Row) -> Result<Self> {
        Ok(AuditRecord {
            seq: r.get("seq")?,
            at: r.get("at")?,
            actor: r.get("actor")?,
            org_id: r.get("org_id")?,
            action: r.get("action")?,
            object_type: r.get("object_type")?,
            object_id: r.get("object_id")?,
            detail: r.get("detail")?,
            prev_hash: r.get::<Hash>("prev_hash")?.0,
            hash: r.get::<Hash>("hash")?.0,
        })
    }
}

/// Reads an id that may not parse (evidence is compared, not trusted): a bad one reads as the max UUID, so that
/// verification reports a mismatch rather than failing.
pub fn lenient_id(r: &impl Row, c: usize) -> Uuid {
    r.get::<Uuid>(c).unwrap_or(Uuid::max())
}
