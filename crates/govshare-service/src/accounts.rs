//! Sign-in, sessions, accounts, memberships and API credentials (R-SEC-3).

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use govshare_domain::ValidationError;
use govshare_domain::audit::AuditEvent;
use govshare_domain::authz::Action;
use govshare_domain::org::{OrgId, Organisation};
use govshare_domain::principal::{ActingOrg, Actor, ApiCredential, CredentialId, CredentialStatus, Principal};
use govshare_domain::role::Role;
use govshare_domain::user::{Membership, User, UserId, Username, check_password_policy};
use govshare_store::{Member, Session};
use serde::Deserialize;
use serde_json::json;

use crate::secrets::{self, token_digest};
use crate::{Result, ServiceError, Services};

#[derive(Debug)]
pub struct LoginSuccess {
    /// The session token for the cookie; shown to nobody else, stored only as a digest.
    pub token: String,
    pub session: Session,
    pub principal: Principal,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct NewUserInput {
    pub username: String,
    pub display_name: String,
    pub password: String,
    #[serde(default)]
    pub contractor: bool,
    pub roles: Vec<String>,
}

/// An organisation the signed-in person can act for, with their roles there.
#[derive(Debug, Clone)]
pub struct OrgChoice {
    pub org: Organisation,
    pub roles: Vec<Role>,
}

#[derive(Debug)]
pub struct IssuedCredential {
    pub credential: ApiCredential,
    /// The full API key; returned once and never again.
    pub api_key: String,
}

fn bad_login() -> ServiceError {
    ServiceError::unauthenticated("invalid_credentials", "用户名或密码错误")
}

fn session_expired() -> ServiceError {
    ServiceError::unauthenticated("session_expired", "登录已失效,请重新登录")
}

/// Password hashing takes tens of milliseconds on purpose; keep it off the async worker threads.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f).await.map_err(|e| ServiceError::Internal(Box::new(e)))
}

impl Services {
    pub async fn login(&self, username: &str, password: &str, client: &str) -> Result<LoginSuccess> {
        let now = self.now();
        let name_key = username.trim().to_ascii_lowercase();
        let since = now - self.settings.login_window;
        let failures = self.store.count_login_failures(&name_key, client, since).await?;
        if failures >= self.settings.login_max_failures {
            return Err(ServiceError::RateLimited { retry_after_secs: self.settings.login_window.num_seconds() });
        }
        let found = match Username::parse(username) {
            Ok(name) => self.store.find_user_by_username(&name).await?,
            Err(_) => None,
        };
        let password = password.to_owned();
        let (found, password_ok) = match found {
            Some(found) => {
                let phc = found.password_hash.clone();
                let ok = blocking(move || secrets::verify_password(&password, &phc)).await?;
                (Some(found.user), ok)
            }
            None => {
                blocking(move || secrets::verify_password(&password, secrets::decoy_hash())).await?;
                (None, false)
            }
        };
        let user = match found {
            Some(user) if password_ok && !user.disabled => user,
            Some(user) if password_ok => {
                return Err(ServiceError::unauthenticated(
                    "account_disabled",
                    format!("账号 {} 已停用,请联系平台管理员", user.username),
                ));
            }
            _ => {
                self.store.record_login_failure(&name_key, client, now).await?;
                return Err(bad_login());
            }
        };
        let choices = self.org_choices(user.id).await?;
        let Some(first) = choices.first() else {
            return Err(ServiceError::unauthenticated("no_membership", "账号尚未分配到任何单位,请联系平台管理员"));
        };
        let token = secrets::random_token();
        let session = Session {
            token_hash: token_digest(&token),
            user_id: user.id,
            org_id: first.org.id,
            csrf_token: secrets::random_token(),
            created_at: now,
            expires_at: now + self.settings.session_ttl,
        };
        let principal = principal_for(&user, &first.org, &first.roles);
        let audit = AuditEvent::new(
            principal.audit_name(),
            Some(first.org.id),
            "session.login",
            "user",
            user.id,
            json!({ "client": client }),
        );
        self.store.create_session(&session, &audit).await?;
        self.store.clear_login_failures(&name_key).await?;
        Ok(LoginSuccess { token, session, principal })
    }

    /// The person behind a session token, acting for the session's organisation.
    pub async fn session_principal(&self, token: &str) -> Result<(Principal, Session)> {
        let now = self.now();
        let session = self.store.get_session(&token_digest(token), now).await?.ok_or_else(session_expired)?;
        let user = self.store.get_user(session.user_id).await?;
        if user.disabled {
            return Err(session_expired());
        }
        let roles: Vec<Role> = self
            .store
            .memberships_of_user(user.id)
            .await?
            .into_iter()
            .filter(|m| m.org_id == session.org_id)
            .map(|m| m.role)
            .collect();
        if roles.is_empty() {
            // The person was removed from the organisation they were acting for.
            return Err(session_expired());
        }
        let org = self.store.get_org(session.org_id).await?;
        Ok((principal_for(&user, &org, &roles), session))
    }

    /// Every organisation a person can act for, in directory order, with their roles there.
    pub async fn org_choices(&self, user: UserId) -> Result<Vec<OrgChoice>> {
        let memberships = self.store.memberships_of_user(user).await?;
        let orgs = self.store.list_orgs().await?;
        Ok(orgs
            .into_iter()
            .filter_map(|org| {
                let mut roles: Vec<Role> = memberships.iter().filter(|m| m.org_id == org.id).map(|m| m.role).collect();
                roles.sort();
                (!roles.is_empty()).then_some(OrgChoice { org, roles })
            })
            .collect())
    }

    /// The department switcher: act for another organisation the person belongs to.
    pub async fn switch_org(&self, principal: &Principal, session: &Session, org: OrgId) -> Result<()> {
        let user = principal.user_id().ok_or_else(|| ServiceError::Forbidden("只有个人账号可以切换单位".into()))?;
        let member = self.store.memberships_of_user(user).await?.iter().any(|m| m.org_id == org);
        if !member {
            return Err(ServiceError::Forbidden("您不是该单位的人员,不能以该单位身份操作".into()));
        }
        Ok(self.store.set_session_org(&session.token_hash, org).await?)
    }

    pub async fn logout(&self, principal: &Principal, session: &Session) -> Result<()> {
        let audit = AuditEvent::new(
            principal.audit_name(),
            principal.org_id(),
            "session.logout",
            "user",
            principal.user_id().map(|u| u.to_string()).unwrap_or_default(),
            json!({}),
        );
        Ok(self.store.delete_session(&session.token_hash, &audit).await?)
    }

    /// A business system's principal from its API key: active credential, acting for its organisation only.
    pub async fn authenticate_api_key(&self, key: &str) -> Result<Principal> {
        let invalid = || ServiceError::unauthenticated("invalid_api_key", "API 凭证无效");
        let (id, secret) = secrets::parse_api_key(key.trim()).ok_or_else(invalid)?;
        // Business systems call for every record; their credential is reused for `CACHE_TTL` (dropped at once when
        // this instance revokes it), and the secret and the expiry are checked on every call.
        let cached = self
            .plane
            .credentials
            .read()
            .expect("lock")
            .get(&CredentialId(id))
            .and_then(|(c, at)| (at.elapsed() < crate::data::CACHE_TTL).then(|| c.clone()));
        let (credential, secret_hash, org) = match cached {
            Some(found) => found,
            None => {
                let (credential, secret_hash) =
                    self.store.get_credential(CredentialId(id)).await?.ok_or_else(invalid)?;
                let org = self.store.get_org(credential.org_id).await?;
                let found = (credential, secret_hash, org);
                self.plane
                    .credentials
                    .write()
                    .expect("lock")
                    .insert(CredentialId(id), (found.clone(), std::time::Instant::now()));
                found
            }
        };
        if !secrets::digests_equal(&token_digest(secret), &secret_hash) {
            return Err(invalid());
        }
        match credential.status(self.now()) {
            CredentialStatus::Active => {}
            CredentialStatus::Expired => {
                return Err(ServiceError::unauthenticated(
                    "api_key_expired",
                    format!("API 凭证已于 {} 过期", credential.expires_at.format("%Y-%m-%d %H:%M UTC")),
                ));
            }
            CredentialStatus::Revoked => {
                return Err(ServiceError::unauthenticated("api_key_revoked", "API 凭证已被吊销"));
            }
        }
        Ok(Principal {
            actor: Actor::System { credential_id: credential.id, name: credential.name },
            org: Some(acting(&org)),
            roles: BTreeSet::from([Role::SystemClient]),
        })
    }

    // ---- people ----

    pub async fn members(&self, principal: &Principal, org: OrgId) -> Result<Vec<Member>> {
        self.authorize(principal, Action::ViewMembers(org))?;
        self.store.get_org(org).await?;
        Ok(self.store.members_of_org(org).await?)
    }

    /// Creates an account that belongs to `org` with the given roles. Everything is checked before anything
    /// is written, so a refused request leaves no half-made account behind.
    pub async fn create_user(&self, principal: &Principal, org_id: OrgId, input: NewUserInput) -> Result<User> {
        let org = self.store.get_org(org_id).await?;
        let roles = parse_roles(&input.roles)?;
        for &role in &roles {
            self.authorize(principal, Action::AssignRole(org_id, role))?;
        }
        let user = User::parse(&input.username, &input.display_name, input.contractor, self.now())?;
        check_password_policy(&input.password, &user.username)?;
        for &role in &roles {
            role.check_assignable(org.kind, user.contractor)?;
        }
        if self.store.find_user_by_username(&user.username).await?.is_some() {
            return Err(ServiceError::Conflict(format!("用户名 {} 已存在", user.username)));
        }
        if roles.contains(&Role::WorkUnitHead) {
            self.ensure_no_head(&org).await?;
        }
        let password = input.password;
        let phc = blocking(move || secrets::hash_password(&password)).await??;
        let audit = AuditEvent::new(
            principal.audit_name(),
            Some(org_id),
            "user.create",
            "user",
            user.id,
            json!({ "username": user.username, "display_name": user.display_name, "contractor": user.contractor }),
        );
        self.store.create_user(&user, &phc, &audit).await?;
        for role in roles {
            self.add_membership(principal, Membership { user_id: user.id, org_id, role }).await?;
        }
        Ok(user)
    }

    /// Gives an existing person a role in `org` (adding them to it if they were not a member).
    pub async fn grant_role(&self, principal: &Principal, org_id: OrgId, username: &str, role: &str) -> Result<()> {
        let role = Role::parse(role)?;
        self.authorize(principal, Action::AssignRole(org_id, role))?;
        let org = self.store.get_org(org_id).await?;
        let name = Username::parse(username)?;
        let user = self
            .store
            .find_user_by_username(&name)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("用户 {name} 不存在")))?
            .user;
        role.check_assignable(org.kind, user.contractor)?;
        if role == Role::WorkUnitHead {
            self.ensure_no_head(&org).await?;
        }
        self.add_membership(principal, Membership { user_id: user.id, org_id, role }).await
    }

    pub async fn revoke_role(&self, principal: &Principal, org_id: OrgId, user_id: UserId, role: &str) -> Result<()> {
        let role = Role::parse(role)?;
        self.authorize(principal, Action::AssignRole(org_id, role))?;
        if principal.user_id() == Some(user_id) && role == Role::PlatformAdmin {
            return Err(ServiceError::Conflict("不能撤销本人的平台管理员角色,以免平台无人管理".into()));
        }
        let membership = Membership { user_id, org_id, role };
        let audit = AuditEvent::new(
            principal.audit_name(),
            Some(org_id),
            "membership.revoke",
            "user",
            user_id,
            json!({ "role": role.code() }),
        );
        self.store.remove_membership(&membership, &audit).await.map_err(|e| match e {
            govshare_store::StoreError::NotFound(_) => {
                ServiceError::NotFound(format!("该人员在本单位没有「{}」角色", role.label()))
            }
            other => other.into(),
        })
    }

    async fn add_membership(&self, principal: &Principal, membership: Membership) -> Result<()> {
        let audit = AuditEvent::new(
            principal.audit_name(),
            Some(membership.org_id),
            "membership.grant",
            "user",
            membership.user_id,
            json!({ "role": membership.role.code() }),
        );
        Ok(self.store.add_membership(&membership, &audit).await?)
    }

    async fn ensure_no_head(&self, org: &Organisation) -> Result<()> {
        match self.store.work_unit_head(org.id).await? {
            Some(head) => Err(ServiceError::Conflict(format!(
                "{}已有工作机构负责人「{}」,请先撤销其负责人角色",
                org.name, head.display_name
            ))),
            None => Ok(()),
        }
    }

    /// Finds `user` among the members of `org`, so an organisation can manage only its own people.
    async fn member_of(&self, org: OrgId, user: UserId) -> Result<User> {
        self.store
            .members_of_org(org)
            .await?
            .into_iter()
            .find(|m| m.user.id == user)
            .map(|m| m.user)
            .ok_or_else(|| ServiceError::NotFound("该人员不属于本单位".into()))
    }

    pub async fn set_user_disabled(
        &self,
        principal: &Principal,
        org: OrgId,
        user: UserId,
        disabled: bool,
    ) -> Result<()> {
        self.authorize(principal, Action::ManageAccount(org))?;
        let target = self.member_of(org, user).await?;
        if principal.user_id() == Some(user) && disabled {
            return Err(ServiceError::Conflict("不能停用本人账号".into()));
        }
        let action = if disabled { "user.disable" } else { "user.enable" };
        let audit = AuditEvent::new(
            principal.audit_name(),
            Some(org),
            action,
            "user",
            user,
            json!({ "username": target.username }),
        );
        Ok(self.store.set_user_disabled(user, disabled, &audit).await?)
    }

    pub async fn reset_password(
        &self,
        principal: &Principal,
        org: OrgId,
        user: UserId,
        new_password: &str,
    ) -> Result<()> {
        self.authorize(principal, Action::ManageAccount(org))?;
        let target = self.member_of(org, user).await?;
        self.store_password(principal, &target, new_password, "user.password.reset").await
    }

    pub async fn change_own_password(&self, principal: &Principal, current: &str, new_password: &str) -> Result<()> {
        self.authorize(principal, Action::ManageOwnAccount)?;
        let user_id = principal.user_id().ok_or_else(|| ServiceError::Forbidden("只有个人账号可以修改密码".into()))?;
        let user = self.store.get_user(user_id).await?;
        let stored = self
            .store
            .find_user_by_username(&user.username)
            .await?
            .ok_or_else(|| ServiceError::NotFound("账号不存在".into()))?;
        let current = current.to_owned();
        if !blocking(move || secrets::verify_password(&current, &stored.password_hash)).await? {
            return Err(ValidationError::new("current_password", "mismatch", "当前密码不正确").into());
        }
        self.store_password(principal, &user, new_password, "user.password.change").await
    }

    async fn store_password(&self, principal: &Principal, user: &User, password: &str, action: &str) -> Result<()> {
        check_password_policy(password, &user.username)?;
        let password = password.to_owned();
        let phc = blocking(move || secrets::hash_password(&password)).await??;
        let audit = AuditEvent::new(principal.audit_name(), principal.org_id(), action, "user", user.id, json!({}));
        Ok(self.store.set_password_hash(user.id, &phc, &audit).await?)
    }

    // ---- API credentials ----

    pub async fn list_credentials(&self, principal: &Principal, org: OrgId) -> Result<Vec<ApiCredential>> {
        self.authorize(principal, Action::ViewCredentials(org))?;
        Ok(self.store.list_credentials(org).await?)
    }

    pub async fn issue_credential(
        &self,
        principal: &Principal,
        org: OrgId,
        name: &str,
        valid_days: i64,
    ) -> Result<IssuedCredential> {
        self.authorize(principal, Action::ManageCredentials(org))?;
        self.store.get_org(org).await?;
        let now = self.now();
        let name = ApiCredential::parse_name(name)?;
        if !(1..=govshare_domain::principal::MAX_CREDENTIAL_DAYS).contains(&valid_days) {
            return Err(ValidationError::new(
                "valid_days",
                "range",
                format!("有效天数应在 1–{} 之间", govshare_domain::principal::MAX_CREDENTIAL_DAYS),
            )
            .into());
        }
        let expires_at: DateTime<Utc> = now + Duration::days(valid_days);
        ApiCredential::check_expiry(expires_at, now)?;
        let credential = ApiCredential {
            id: CredentialId::new(),
            org_id: org,
            name,
            created_by: principal.audit_name(),
            created_at: now,
            expires_at,
            revoked_at: None,
        };
        let secret = secrets::random_token();
        let audit = AuditEvent::new(
            principal.audit_name(),
            Some(org),
            "credential.issue",
            "api_credential",
            credential.id,
            json!({ "name": credential.name, "expires_at": credential.expires_at }),
        );
        self.store.create_credential(&credential, &token_digest(&secret), &audit).await?;
        let api_key = secrets::format_api_key(credential.id.0, &secret);
        Ok(IssuedCredential { credential, api_key })
    }

    pub async fn revoke_credential(&self, principal: &Principal, org: OrgId, id: CredentialId) -> Result<()> {
        self.authorize(principal, Action::ManageCredentials(org))?;
        match self.store.get_credential(id).await? {
            Some((credential, _)) if credential.org_id == org => {}
            _ => return Err(ServiceError::NotFound("本单位没有该 API 凭证".into())),
        }
        let audit =
            AuditEvent::new(principal.audit_name(), Some(org), "credential.revoke", "api_credential", id, json!({}));
        self.store.revoke_credential(id, self.now(), &audit).await?;
        self.plane.credentials.write().expect("lock").remove(&id);
        Ok(())
    }
}

fn parse_roles(codes: &[String]) -> Result<Vec<Role>> {
    let roles: BTreeSet<Role> = codes.iter().map(|c| Role::parse(c)).collect::<Result<_, _>>()?;
    if roles.is_empty() {
        return Err(ValidationError::new("roles", "required", "请至少选择一个角色").into());
    }
    Ok(roles.into_iter().collect())
}

fn acting(org: &Organisation) -> ActingOrg {
    ActingOrg { id: org.id, kind: org.kind, region: org.region, name: org.name.clone() }
}

fn principal_for(user: &User, org: &Organisation, roles: &[Role]) -> Principal {
    Principal {
        actor: Actor::User {
            id: user.id,
            username: user.username.clone(),
            display_name: user.display_name.clone(),
            contractor: user.contractor,
        },
        org: Some(acting(org)),
        roles: roles.iter().copied().collect(),
    }
}
