//! Sign-in, sessions, accounts, memberships and API credentials (R-SEC-3).

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use govshare_domain::ValidationError;
use govshare_domain::audit::AuditEvent;
use govshare_domain::authz::{self, Action, PersonScope};
use govshare_domain::org::{OrgId, Organisation};
use govshare_domain::principal::{ActingOrg, Actor, ApiCredential, CredentialId, CredentialStatus, Principal};
use govshare_domain::role::Role;
use govshare_domain::user::{Membership, User, UserId, Username, check_password_policy};
use govshare_store::{LoginFailures, Member, Session};
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
    /// The device cookie that marks this browser as one of the person's own (login throttling).
    pub device_token: String,
}

/// Whether a client must wait before it may try to sign in again, and how long (seconds). Failures of one
/// username from one client back off exponentially; an address that fails for many usernames, or any address
/// that is not a known device of a username under attack from many addresses, waits the whole window. A known
/// device is judged by its own failures only, so nobody can lock a person out of their own browser.
pub fn throttle(
    settings: &crate::SecuritySettings,
    failures: &LoginFailures,
    known_device: bool,
    now: DateTime<Utc>,
) -> Option<i64> {
    let window = settings.login_window.num_seconds().max(1);
    if failures.pair >= settings.login_max_failures {
        let doublings = (failures.pair - settings.login_max_failures).min(20) as u32;
        let wait = (30i64 << doublings).min(window);
        let until = failures.pair_last.unwrap_or(now) + Duration::seconds(wait);
        if now < until {
            return Some((until - now).num_seconds().max(1));
        }
    }
    if !known_device
        && (failures.client >= settings.login_max_failures_per_client
            || failures.username_untrusted >= settings.login_max_failures_per_user)
    {
        return Some(window);
    }
    None
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
    ServiceError::unauthenticated("session_expired", "登录已失效，请重新登录")
}

/// Password hashing takes tens of milliseconds on purpose; keep it off the async worker threads.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f).await.map_err(|e| ServiceError::Internal(Box::new(e)))
}

impl Services {
    /// Signs a person in. `address` is the caller's network address; `device` the device cookie the browser
    /// sent, if any. Failures slow down only the client that makes them (see [`throttle`]): a browser that
    /// holds this person's device cookie counts apart from every other caller, so an attacker elsewhere can
    /// never lock the person out.
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        address: &str,
        device: Option<&str>,
    ) -> Result<LoginSuccess> {
        let now = self.now();
        let name_key = username.trim().to_ascii_lowercase();
        let known_device = device.and_then(|d| self.device_id(&name_key, d));
        let client = match &known_device {
            Some(id) => format!("device:{id}"),
            None => format!("ip:{address}"),
        };
        let failures = self.store.login_failures(&name_key, &client, now - self.settings.login_window).await?;
        if let Some(retry_after_secs) = throttle(&self.settings, &failures, known_device.is_some(), now) {
            tracing::warn!(username = %name_key, client = %client, "sign-in throttled");
            return Err(ServiceError::RateLimited { retry_after_secs });
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
                    format!("账号 {} 已停用，请联系平台管理员", user.username),
                ));
            }
            _ => {
                self.store.record_login_failure(&name_key, &client, now).await?;
                return Err(bad_login());
            }
        };
        let choices = self.org_choices(user.id).await?;
        let Some(first) = choices.first() else {
            return Err(ServiceError::unauthenticated("no_membership", "账号尚未分配到任何单位，请联系平台管理员"));
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
            json!({ "client": address, "known_device": known_device.is_some() }),
        );
        self.store.create_session(&session, &audit).await?;
        self.store.clear_login_failures(&name_key, &client).await?;
        let device_id = known_device.unwrap_or_else(|| secrets::random_token()[..22].to_owned());
        let device_token = self.device_token(&name_key, &device_id);
        Ok(LoginSuccess { token, session, principal, device_token })
    }

    /// The device cookie for this person's browser: `id.tag`, the tag an HMAC-SM3 of the username and the id
    /// under the node's key, so it cannot be made for another person.
    fn device_token(&self, username: &str, id: &str) -> String {
        format!("{id}.{}", self.keys.record_key("login-device", &format!("{username}\u{1f}{id}")))
    }

    /// The device id of a device cookie, if it is genuine and was given to this username.
    fn device_id(&self, username: &str, token: &str) -> Option<String> {
        let (id, _) = token.split_once('.')?;
        if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            return None;
        }
        secrets::digests_equal(token, &self.device_token(username, id)).then(|| id.to_owned())
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
            return Err(ServiceError::Forbidden("您不是该单位的人员，不能以该单位身份操作".into()));
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

    /// How many people each of `orgs` has, for the administrator's directory; each is asked as
    /// [`Action::ViewMembers`], so the whole answer is refused if any one of them may not be seen.
    pub async fn member_counts(&self, principal: &Principal, orgs: &[OrgId]) -> Result<Vec<usize>> {
        let mut counts = Vec::with_capacity(orgs.len());
        for &org in orgs {
            self.authorize(principal, Action::ViewMembers(org))?;
            counts.push(self.store.members_of_org(org).await?.len());
        }
        Ok(counts)
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

    /// Gives a person a role in `org`. A head gives roles only to people who are already members of their
    /// organisation; adding someone who is not (a person of another organisation) is the administrator's
    /// alone, so nobody is pulled into an organisation that can then manage their account.
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
        let memberships = self.store.memberships_of_user(user.id).await?;
        if !memberships.iter().any(|m| m.org_id == org_id) {
            self.authorize(principal, Action::AddExistingPerson(org_id))?;
        }
        role.check_assignable(org.kind, user.contractor)?;
        if role == Role::WorkUnitHead {
            self.ensure_no_head(&org).await?;
        }
        self.add_membership(principal, Membership { user_id: user.id, org_id, role }).await
    }

    /// Where a person holds roles, for the account rule of [`Action::ManageAccount`].
    pub async fn person_scope(&self, user: UserId) -> Result<PersonScope> {
        let memberships = self.store.memberships_of_user(user).await?;
        let orgs: BTreeSet<OrgId> = memberships.iter().map(|m| m.org_id).collect();
        Ok(PersonScope {
            sole_org: if orgs.len() == 1 { orgs.first().copied() } else { None },
            admin: memberships.iter().any(|m| m.role == Role::PlatformAdmin),
        })
    }

    /// Whether the principal may disable, enable or reset the password of each of `members` of `org`.
    pub async fn manageable_accounts(
        &self,
        principal: &Principal,
        org: OrgId,
        members: &[Member],
    ) -> Result<Vec<bool>> {
        let mut answers = Vec::with_capacity(members.len());
        for m in members {
            let person = self.person_scope(m.user.id).await?;
            answers.push(authz::check(principal, Action::ManageAccount { org, person }).is_ok());
        }
        Ok(answers)
    }

    /// The account `user` of `org`'s members, if the principal may manage it.
    async fn manageable_member(&self, principal: &Principal, org: OrgId, user: UserId) -> Result<User> {
        let target = self.member_of(org, user).await?;
        let person = self.person_scope(user).await?;
        self.authorize(principal, Action::ManageAccount { org, person })?;
        Ok(target)
    }

    pub async fn revoke_role(&self, principal: &Principal, org_id: OrgId, user_id: UserId, role: &str) -> Result<()> {
        let role = Role::parse(role)?;
        self.authorize(principal, Action::AssignRole(org_id, role))?;
        if principal.user_id() == Some(user_id) && role == Role::PlatformAdmin {
            return Err(ServiceError::Conflict("不能撤销本人的平台管理员角色，以免平台无人管理".into()));
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
                "{}已有工作机构负责人「{}」，请先撤销其负责人角色",
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
        let target = self.manageable_member(principal, org, user).await?;
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
        let target = self.manageable_member(principal, org, user).await?;
        self.store_password(principal, &target, new_password, None, "user.password.reset").await
    }

    /// Changes the person's own password; every other session of theirs ends, `session` (the one asking) stays.
    pub async fn change_own_password(
        &self,
        principal: &Principal,
        session: Option<&Session>,
        current: &str,
        new_password: &str,
    ) -> Result<()> {
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
        let keep = session.map(|s| s.token_hash.as_str());
        self.store_password(principal, &user, new_password, keep, "user.password.change").await
    }

    /// Stores a new password and ends the person's sessions but `keep_session`.
    async fn store_password(
        &self,
        principal: &Principal,
        user: &User,
        password: &str,
        keep_session: Option<&str>,
        action: &str,
    ) -> Result<()> {
        check_password_policy(password, &user.username)?;
        let password = password.to_owned();
        let phc = blocking(move || secrets::hash_password(&password)).await??;
        let audit = AuditEvent::new(
            principal.audit_name(),
            principal.org_id(),
            action,
            "user",
            user.id,
            json!({ "other_sessions_ended": true }),
        );
        Ok(self.store.set_password_hash(user.id, &phc, keep_session, &audit).await?)
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
