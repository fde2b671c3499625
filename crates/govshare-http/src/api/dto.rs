//! What the API sends and receives. Domain types are mapped here, so the wire format is decided in one place.

use chrono::{DateTime, Utc};
use govshare_domain::audit::AuditRecord;
use govshare_domain::org::Organisation;
use govshare_domain::principal::{Actor, ApiCredential, Principal};
use govshare_domain::region::Region;
use govshare_domain::role::Role;
use govshare_domain::user::User;
use govshare_service::OrgChoice;
use govshare_store::Member;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Serialize, ToSchema)]
pub struct RegionDto {
    /// GB/T 2260 code.
    #[schema(example = "330100")]
    pub code: String,
    pub name: String,
    pub parent: Option<String>,
    /// `province`, `city` or `county`.
    pub level: String,
}

impl From<Region> for RegionDto {
    fn from(r: Region) -> Self {
        let level =
            serde_json::to_value(r.level()).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
        RegionDto { code: r.code.to_string(), name: r.name, parent: r.parent.map(|p| p.to_string()), level }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewRegionRequest {
    #[schema(example = "330100")]
    pub code: String,
    #[schema(example = "杭州市")]
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrganisationDto {
    pub id: Uuid,
    /// `authority` (主管部门) or `department` (政府部门).
    pub kind: String,
    pub region_code: String,
    pub name: String,
    /// 统一社会信用代码.
    pub credit_code: String,
    /// 政务数据共享工作机构.
    pub work_unit_name: String,
    pub created_at: DateTime<Utc>,
}

impl From<Organisation> for OrganisationDto {
    fn from(o: Organisation) -> Self {
        OrganisationDto {
            id: o.id.0,
            kind: o.kind.code().into(),
            region_code: o.region.to_string(),
            name: o.name,
            credit_code: o.credit_code.to_string(),
            work_unit_name: o.work_unit_name,
            created_at: o.created_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewOrganisationRequest {
    #[schema(example = "department")]
    pub kind: String,
    #[schema(example = "330000")]
    pub region_code: String,
    #[schema(example = "浙江省民政厅")]
    pub name: String,
    #[schema(example = "91350100M000100Y43")]
    pub credit_code: String,
    #[schema(example = "办公室（数据管理处）")]
    pub work_unit_name: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct UpdateOrganisationRequest {
    pub work_unit_name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserDto {
    pub id: Uuid,
    pub username: String,
    pub display_name: String,
    /// 受托方 account (Art. 36).
    pub contractor: bool,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
}

impl From<User> for UserDto {
    fn from(u: User) -> Self {
        UserDto {
            id: u.id.0,
            username: u.username.to_string(),
            display_name: u.display_name,
            contractor: u.contractor,
            disabled: u.disabled,
            created_at: u.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberDto {
    pub user: UserDto,
    /// Role codes: `platform_admin`, `authority_reviewer`, `authority_supervisor`, `clerk`, `work_unit_head`.
    pub roles: Vec<String>,
}

impl From<Member> for MemberDto {
    fn from(m: Member) -> Self {
        MemberDto { user: m.user.into(), roles: role_codes(&m.roles) }
    }
}

pub fn role_codes(roles: &[Role]) -> Vec<String> {
    roles.iter().map(|r| r.code().to_owned()).collect()
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewUserRequest {
    pub username: String,
    pub display_name: String,
    /// Initial password: at least 10 characters, three of lower, upper, digit, symbol.
    pub password: String,
    #[serde(default)]
    pub contractor: bool,
    pub roles: Vec<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct GrantRoleRequest {
    pub username: String,
    pub role: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PasswordResetRequest {
    pub new_password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PasswordChangeRequest {
    pub current_password: String,
    pub new_password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CredentialDto {
    pub id: Uuid,
    pub org_id: Uuid,
    /// The business system it belongs to.
    pub name: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// `active`, `expired` or `revoked`, as of the response.
    pub status: String,
}

impl CredentialDto {
    pub fn new(c: ApiCredential, now: DateTime<Utc>) -> Self {
        let status =
            serde_json::to_value(c.status(now)).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
        CredentialDto {
            id: c.id.0,
            org_id: c.org_id.0,
            name: c.name,
            created_by: c.created_by,
            created_at: c.created_at,
            expires_at: c.expires_at,
            revoked_at: c.revoked_at,
            status,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewCredentialRequest {
    #[schema(example = "不动产登记系统")]
    pub name: String,
    /// Days until it expires, 1–366.
    #[schema(example = 180)]
    pub valid_days: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IssuedCredentialDto {
    pub credential: CredentialDto,
    /// The API key, shown this once and never again. Send it as `Authorization: Bearer <api_key>`.
    pub api_key: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct SwitchOrgRequest {
    pub org_id: Uuid,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrgChoiceDto {
    pub org: OrganisationDto,
    pub roles: Vec<String>,
}

impl From<OrgChoice> for OrgChoiceDto {
    fn from(c: OrgChoice) -> Self {
        OrgChoiceDto { org: c.org.into(), roles: role_codes(&c.roles) }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MeDto {
    /// `user` or `system`.
    pub kind: String,
    /// Username, or the credential id for a business system.
    pub name: String,
    pub display_name: String,
    pub contractor: bool,
    /// The organisation the caller is acting for.
    pub org_id: Option<Uuid>,
    pub org_name: Option<String>,
    pub roles: Vec<String>,
    /// For people: every organisation they can switch to.
    pub orgs: Vec<OrgChoiceDto>,
    /// For console sessions: the token to send as `X-CSRF-Token` with unsafe requests.
    pub csrf_token: Option<String>,
}

impl MeDto {
    pub fn new(p: &Principal, orgs: Vec<OrgChoice>, csrf_token: Option<String>) -> Self {
        let (kind, name) = match &p.actor {
            Actor::User { username, .. } => ("user", username.to_string()),
            Actor::System { credential_id, .. } => ("system", credential_id.to_string()),
            Actor::Operator { name } => ("operator", name.clone()),
        };
        MeDto {
            kind: kind.into(),
            name,
            display_name: p.display_name(),
            contractor: p.is_contractor(),
            org_id: p.org.as_ref().map(|o| o.id.0),
            org_name: p.org.as_ref().map(|o| o.name.clone()),
            roles: p.roles.iter().map(|r| r.code().to_owned()).collect(),
            orgs: orgs.into_iter().map(Into::into).collect(),
            csrf_token,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditRecordDto {
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub org_id: Option<Uuid>,
    pub action: String,
    pub object_type: String,
    pub object_id: String,
    /// JSON text of the event's detail.
    pub detail: String,
    /// SM3 digest of the previous record, hex.
    pub prev_hash: String,
    /// SM3 digest of this record, hex.
    pub hash: String,
}

impl From<AuditRecord> for AuditRecordDto {
    fn from(r: AuditRecord) -> Self {
        AuditRecordDto {
            seq: r.seq,
            at: r.at,
            actor: r.actor,
            org_id: r.org_id.map(|o| o.0),
            action: r.action,
            object_type: r.object_type,
            object_id: r.object_id,
            detail: r.detail,
            prev_hash: hex::encode(r.prev_hash),
            hash: hex::encode(r.hash),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditVerificationDto {
    pub intact: bool,
    /// Records verified intact from the first.
    pub verified: i64,
    /// Sequence number of the first broken record.
    pub broken_at: Option<i64>,
    pub problem: Option<String>,
    /// Append-only triggers missing, altered or disabled in the database.
    pub missing_guards: Vec<String>,
    /// Signed checkpoints the chain was held to; absent when the node keeps no checkpoint file.
    pub checkpoints: Option<usize>,
    /// Usage records checked against their seals.
    pub usage_records: u64,
    /// Sealed usage records that have left the database in a recorded archive (months past the three-year
    /// retention), accepted by the archive's list of batches.
    pub usage_archived: u64,
}

/// The node's SM2 signature over the chain head, as appended to its checkpoint file.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckpointDto {
    pub node: String,
    pub seq: i64,
    /// SM3 digest of the record at `seq`, hex.
    pub hash: String,
    pub at: chrono::DateTime<chrono::Utc>,
    /// The signer's SM2 public key (uncompressed SEC1, hex).
    pub public_key: String,
    /// SM2 signature (r ‖ s, hex).
    pub signature: String,
}

impl From<govshare_domain::evidence::Checkpoint> for CheckpointDto {
    fn from(c: govshare_domain::evidence::Checkpoint) -> Self {
        CheckpointDto {
            node: c.node,
            seq: c.seq,
            hash: hex::encode(c.hash),
            at: c.at,
            public_key: c.public_key,
            signature: c.signature,
        }
    }
}
