//! Who is acting, and for which organisation (R-ORG-3: every action is done for exactly one organisation).

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ValidationError;
use crate::error::required_text;
use crate::id::define_id;
use crate::org::{OrgId, OrgKind};
use crate::region::RegionCode;
use crate::role::Role;
use crate::user::{UserId, Username};

define_id! {
    /// Identity of an API credential.
    pub struct CredentialId, field "credential_id", message "凭证标识格式错误"
}

/// An API credential of a business system (应用系统): scoped to one organisation, expiring, revocable.
/// The secret itself is never stored; only its digest is, by the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiCredential {
    pub id: CredentialId,
    pub org_id: OrgId,
    /// The business system this credential belongs to, e.g. 「不动产登记系统」.
    pub name: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialStatus {
    Active,
    Expired,
    Revoked,
}

impl CredentialStatus {
    pub fn label(self) -> &'static str {
        match self {
            CredentialStatus::Active => "有效",
            CredentialStatus::Expired => "已过期",
            CredentialStatus::Revoked => "已吊销",
        }
    }
}

/// Longest validity of one credential; business systems rotate at least yearly.
pub const MAX_CREDENTIAL_DAYS: i64 = 366;

impl ApiCredential {
    pub fn status(&self, now: DateTime<Utc>) -> CredentialStatus {
        if self.revoked_at.is_some() {
            CredentialStatus::Revoked
        } else if now >= self.expires_at {
            CredentialStatus::Expired
        } else {
            CredentialStatus::Active
        }
    }

    pub fn parse_name(name: &str) -> Result<String, ValidationError> {
        required_text("name", "应用系统名称", name, 64)
    }

    pub fn check_expiry(expires_at: DateTime<Utc>, now: DateTime<Utc>) -> Result<(), ValidationError> {
        if expires_at <= now {
            return Err(ValidationError::new("expires_at", "in_past", "有效期截止时间必须晚于当前时间"));
        }
        if expires_at - now > chrono::Duration::days(MAX_CREDENTIAL_DAYS) {
            return Err(ValidationError::new(
                "expires_at",
                "too_long",
                format!("API 凭证有效期最长 {MAX_CREDENTIAL_DAYS} 天"),
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Actor {
    User {
        id: UserId,
        username: Username,
        display_name: String,
        contractor: bool,
    },
    System {
        credential_id: CredentialId,
        name: String,
    },
    /// Someone with shell access to the node running `govshare admin …`.
    Operator {
        name: String,
    },
}

/// The organisation an actor is acting for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActingOrg {
    pub id: OrgId,
    pub kind: OrgKind,
    pub region: RegionCode,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Principal {
    pub actor: Actor,
    /// `None` only for the operator, who acts for the node itself.
    pub org: Option<ActingOrg>,
    pub roles: BTreeSet<Role>,
}

impl Principal {
    pub fn operator(name: &str) -> Self {
        Principal { actor: Actor::Operator { name: name.to_owned() }, org: None, roles: BTreeSet::new() }
    }

    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    pub fn is_operator(&self) -> bool {
        matches!(self.actor, Actor::Operator { .. })
    }

    pub fn is_contractor(&self) -> bool {
        matches!(self.actor, Actor::User { contractor: true, .. })
    }

    pub fn org_id(&self) -> Option<OrgId> {
        self.org.as_ref().map(|o| o.id)
    }

    pub fn user_id(&self) -> Option<UserId> {
        match &self.actor {
            Actor::User { id, .. } => Some(*id),
            _ => None,
        }
    }

    /// How this actor is written into the audit log: stable, human-readable, unambiguous.
    pub fn audit_name(&self) -> String {
        match &self.actor {
            Actor::User { username, .. } => format!("user:{username}"),
            Actor::System { credential_id, .. } => format!("system:{credential_id}"),
            Actor::Operator { name } => format!("operator:{name}"),
        }
    }

    pub fn display_name(&self) -> String {
        match &self.actor {
            Actor::User { display_name, .. } => display_name.clone(),
            Actor::System { name, .. } => name.clone(),
            Actor::Operator { name } => format!("运维操作员 {name}"),
        }
    }
}
