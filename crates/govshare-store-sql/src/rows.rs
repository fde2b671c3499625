//! Rows of the schema read into domain types, and the domain's ids bound as values.

use govshare_domain::application::{Application, ApplicationId};
use govshare_domain::audit::{AuditRecord, Digest};
use govshare_domain::catalog::{Assessment, EntryContent, EntryId, EntryStatus};
use govshare_domain::complaint::ComplaintId;
use govshare_domain::correction::CorrectionId;
use govshare_domain::credit_code::CreditCode;
use govshare_domain::dispute::DisputeId;
use govshare_domain::enforcement::{NoticeId, OrderId};
use govshare_domain::grant::{Grant, GrantId, UsageRecord};
use govshare_domain::incident::IncidentId;
use govshare_domain::notification::{AlertKind, DeadlineAlert};
use govshare_domain::obligation::{Extension, ObligationId, TriggerKind, UpdateObligation};
use govshare_domain::org::{OrgId, OrgKind, Organisation};
use govshare_domain::principal::{ApiCredential, CredentialId};
use govshare_domain::record::{DataSource, SourceLoad};
use govshare_domain::region::{Region, RegionCode};
use govshare_domain::role::Role;
use govshare_domain::source::SourceDesignation;
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

ids!(
    OrgId,
    UserId,
    EntryId,
    ApplicationId,
    GrantId,
    CredentialId,
    ObligationId,
    IncidentId,
    CorrectionId,
    DisputeId,
    ComplaintId,
    OrderId,
    NoticeId
);

impl Value for Digest {
    fn read(row: &impl Row, c: Col<'_>) -> Result<Option<Self>> {
        row.bytes(c)?
            .map(|b| b.as_slice().try_into().map_err(|_| corrupt(format!("{c}: digest is not 32 bytes"))))
            .transpose()
    }
}

/// Columns of domain values kept as their code (parsed on the way out).
macro_rules! parsed {
    ($($t:ty => $parse:expr),* $(,)?) => {$(
        impl Value for $t {
            fn read(row: &impl Row, c: Col<'_>) -> Result<Option<Self>> {
                row.text(c)?.map(|s| ($parse)(s.as_str()).ok_or_else(|| corrupt(format!("{c}: {s}")))).transpose()
            }
        }
    )*};
}

parsed! {
    RegionCode => |s| RegionCode::parse(s).ok(),
    Role => |s| Role::parse(s).ok(),
    OrgKind => |s| OrgKind::parse(s).ok(),
    CreditCode => |s| CreditCode::parse(s).ok(),
    Username => |s| Username::parse(s).ok(),
    AlertKind => AlertKind::parse,
    TriggerKind => |s| TriggerKind::parse(s).ok(),
    EntryStatus => |s| EntryStatus::parse("status", s).ok(),
}

/// Columns holding a domain value as its JSON document.
macro_rules! documents {
    ($($t:ty),* $(,)?) => {$(
        impl Value for $t {
            fn read(row: &impl Row, c: Col<'_>) -> Result<Option<Self>> {
                row.text(c)?
                    .map(|s| serde_json::from_str(&s).map_err(|e| corrupt(format!("document in {c}: {e}"))))
                    .transpose()
            }
        }
    )*};
}

documents!(
    Application,
    Grant,
    DataSource,
    SourceLoad,
    UsageRecord,
    govshare_domain::use_record::UseRecord,
    govshare_domain::incident::Incident,
    govshare_domain::correction::Correction,
    govshare_domain::dispute::Dispute,
    govshare_domain::complaint::Complaint,
    govshare_domain::enforcement::Order,
    govshare_domain::enforcement::Notice,
    EntryContent,
    Vec<Assessment>,
    Extension,
    Vec<String>
);

/// A value as its JSON document.
pub fn json<T: serde::Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(govshare_store::StoreError::other)
}

/// Implements [`FromRow`] for a struct read column by column: `from_row!(T { a, b })` reads the statement's
/// columns in that order; `from_row!(T by name { a, b })` reads the columns named like the fields.
macro_rules! from_row {
    ($t:ident { $($field:ident),* $(,)? }) => {
        impl $crate::driver::FromRow for $t {
            fn from_row(r: &impl $crate::driver::Row) -> govshare_store::Result<Self> {
                let mut at = 0usize..;
                Ok($t { $($field: r.get(at.next().unwrap_or_default())?),* })
            }
        }
    };
    ($t:ident by name { $($field:ident),* $(,)? }) => {
        impl $crate::driver::FromRow for $t {
            fn from_row(r: &impl $crate::driver::Row) -> govshare_store::Result<Self> {
                Ok($t { $($field: r.get(stringify!($field))?),* })
            }
        }
    };
}
pub(crate) use from_row;

from_row!(Region { code, name, parent });
from_row!(Organisation by name { id, kind, region, name, credit_code, work_unit_name, created_at });
from_row!(User by name { id, username, display_name, contractor, disabled, created_at });
from_row!(Membership by name { user_id, org_id, role });
from_row!(Session by name { token_hash, user_id, org_id, csrf_token, created_at, expires_at });
from_row!(ApiCredential by name { id, org_id, name, created_by, created_at, expires_at, revoked_at });
from_row!(AuditRecord by name { seq, at, actor, org_id, action, object_type, object_id, detail, prev_hash, hash });

/// A user row: the user and their password hash.
pub struct UserRow(pub User, pub String);

impl FromRow for UserRow {
    fn from_row(r: &impl Row) -> Result<Self> {
        Ok(UserRow(User::from_row(r)?, r.get("password_hash")?))
    }
}

/// A credential row: the credential and its secret's hash.
pub struct CredentialRow(pub ApiCredential, pub String);

impl FromRow for CredentialRow {
    fn from_row(r: &impl Row) -> Result<Self> {
        Ok(CredentialRow(ApiCredential::from_row(r)?, r.get("secret_hash")?))
    }
}

/// Rows of users with a `role` column, ordered by username then role, grouped into members.
pub fn group_members(rows: &[impl Row]) -> Result<Vec<Member>> {
    let mut members: Vec<Member> = Vec::new();
    for row in rows {
        let (role, user): (Role, User) = (row.get("role")?, User::from_row(row)?);
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

/// Reads an id that may not parse (evidence is compared, not trusted): a bad one reads as the max UUID, so that
/// verification reports a mismatch rather than failing.
pub fn lenient_id(r: &impl Row, c: usize) -> Uuid {
    r.get::<Uuid>(c).unwrap_or(Uuid::max())
}

from_row!(UpdateObligation { id, entry, kind, changed_on, description, recorded_by, recorded_at, extension });
from_row!(SourceDesignation { id, region, subject, items, source_org, entry, basis, designated_by, designated_at });
from_row!(DeadlineAlert { key, subject, kind, due_at, created_at, note });

pub const OBLIGATION_COLUMNS: &str =
    "o.id, o.entry_id, o.kind, o.changed_on, o.description, o.recorded_by, o.recorded_at, o.extension";

pub fn extension_text(e: Option<&Extension>) -> Result<Option<String>> {
    e.map(json).transpose()
}
