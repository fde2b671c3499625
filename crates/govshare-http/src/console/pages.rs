//! Console page handlers.

use std::collections::HashMap;

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, FixedOffset, Utc};
use govshare_domain::org::{NewOrganisationInput, OrgId, OrgKind};
use govshare_domain::principal::CredentialId;
use govshare_domain::region::RegionLevel;
use govshare_domain::role::Role;
use govshare_domain::user::UserId;
use govshare_service::{DutyState, DutyView, NewUserInput, ServiceError, Urgency};
use serde::Deserialize;

use super::table::{TableState, matches_words, xlsx};
use super::view::{Feedback, Layout, role_labels};
use super::{ConsoleCaller, render};
use crate::AppState;
use crate::api::ClientAddress;
use crate::auth::{Caller, session_cookie};
use crate::error::ApiError;

pub(super) type PageResult = Result<Response, Response>;

pub(super) fn fail(err: impl Into<ApiError>) -> Response {
    super::error_page(&err.into())
}

/// A path segment parsed into a domain id, or the error page naming it.
pub(super) fn path_id<T: std::str::FromStr<Err = govshare_domain::ValidationError>>(raw: &str) -> Result<T, Response> {
    raw.parse().map_err(|e: govshare_domain::ValidationError| fail(ServiceError::from(e)))
}

/// Times are shown in 北京时间 (UTC+8), the time every deadline of the regulation is counted in.
pub fn beijing(t: DateTime<Utc>) -> String {
    let offset = FixedOffset::east_opt(8 * 3600).expect("UTC+8 is a valid offset");
    t.with_timezone(&offset).format("%Y-%m-%d %H:%M").to_string()
}

/// The one way the console names who did something, from the actor of an audit record, usage record or event
/// (`user:gat.clerk`, `system:…`, `operator:…`): a person by the name in `names` (see [`person_names`]), else
/// by the account; a business system, a platform job or the command line by what it is.
pub fn actor_name(actor: &str, names: &HashMap<String, String>) -> String {
    if let Some(name) = names.get(actor) {
        return name.clone();
    }
    match actor.split_once(':') {
        Some(("user", username)) => username.to_owned(),
        Some(("system", "deadline-job")) => "期限监测任务".to_owned(),
        Some(("system", "usage-log")) => "使用记录封存任务".to_owned(),
        Some(("system", _)) => "应用系统（API 凭证）".to_owned(),
        Some(("operator", name)) => format!("运维人员 {name}（命令行）"),
        _ => "平台".to_owned(),
    }
}

/// Every organisation's name by its id: one read of the directory per page, shared by the page's parts.
pub async fn org_names(state: &AppState) -> Result<HashMap<govshare_domain::org::OrgId, String>, Response> {
    let orgs = state.services.store().list_orgs().await.map_err(|e| fail(ServiceError::from(e)))?;
    Ok(orgs.into_iter().map(|o| (o.id, o.name)).collect())
}

/// The names of the people among `actors` (`user:…` → display name), one lookup per distinct person on a page.
/// Someone whose account is gone keeps their account name (see [`actor_name`]).
/// (The actors are collected first: a future holding a borrowing iterator is not `Send` for every lifetime.)
pub async fn person_names(state: &AppState, actors: Vec<&str>) -> Result<HashMap<String, String>, Response> {
    let mut wanted: Vec<String> = actors.into_iter().filter(|a| a.starts_with("user:")).map(str::to_owned).collect();
    wanted.sort();
    wanted.dedup();
    let mut names = HashMap::new();
    for actor in wanted {
        let Some(username) = actor.strip_prefix("user:") else { continue };
        let Ok(parsed) = govshare_domain::user::Username::parse(username) else { continue };
        let found =
            state.services.store().find_user_by_username(&parsed).await.map_err(|e| fail(ServiceError::from(e)))?;
        if let Some(u) = found {
            names.insert(actor, u.user.display_name);
        }
    }
    Ok(names)
}

fn status_for(err: &ServiceError) -> StatusCode {
    ApiError::status_of(err)
}

/// Builds the frame of a signed-in page.
pub(super) async fn layout(state: &AppState, caller: &Caller, title: &str, path: &str) -> Result<Layout, Response> {
    let choices = match caller.principal.user_id() {
        Some(user) => state.services.org_choices(user).await.map_err(fail)?,
        None => Vec::new(),
    };
    let mut layout =
        Layout::new(&state.settings.node_name, title, path, &caller.principal, &choices, caller.csrf_token());
    let calendar = state.services.calendar().await.map_err(fail)?;
    let today = state.services.now().with_timezone(&govshare_domain::calendar::beijing()).date_naive();
    let admin = caller.principal.has_role(Role::PlatformAdmin);
    layout.calendar_warning = super::view::calendar_warning(&calendar.missing_years(today), admin);
    if caller.principal.org_id().is_some()
        && let Ok(count) = state.services.my_duty_count(&caller.principal).await
        && let Some(home) = layout.nav.iter_mut().flat_map(|g| g.items.iter_mut()).find(|i| i.href == "/console")
    {
        home.badge = Some(count);
    }
    Ok(layout)
}

fn acting_org(caller: &Caller) -> Result<OrgId, Response> {
    caller.principal.org_id().ok_or_else(|| fail(ServiceError::Forbidden("未以任何单位身份操作".into())))
}

fn see_other(path: &str, notice: &str) -> Response {
    Redirect::to(&format!("{path}?notice={notice}")).into_response()
}

/// A page's `?notice=` after a step (the notice's code, see `view::notice_text`).
#[derive(Debug, Deserialize, Default)]
pub struct NoticeQuery {
    pub notice: Option<String>,
}

// ---- sign-in ----

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    node_name: String,
    error: Option<String>,
    username: String,
    next: String,
    csrf: String,
}

#[derive(Debug, Deserialize, Default)]
pub struct LoginQuery {
    next: Option<String>,
}

/// Only same-site relative paths are followed after sign-in, never another origin: one leading `/` but not
/// `//` (another host), no backslash anywhere (browsers read `/\` as `//`), no control character (browsers drop
/// tab, CR and LF from URLs, so `/\t/evil.example` is `//evil.example`; CR and LF cannot be in a header).
/// Anything else goes to the console's home. Spaces and non-ASCII characters are percent-encoded, so the
/// result is always a valid `Location`.
pub(crate) fn safe_next(next: Option<&str>) -> String {
    const HOME: &str = "/console";
    let Some(next) = next else { return HOME.to_owned() };
    let mut chars = next.chars();
    let well_formed = chars.next() == Some('/')
        && !matches!(chars.next(), Some('/' | '\\'))
        && !next.chars().any(|c| c.is_control() || c == '\\');
    if !well_formed {
        return HOME.to_owned();
    }
    let mut safe = String::with_capacity(next.len());
    for c in next.chars() {
        if c.is_ascii_graphic() {
            safe.push(c);
        } else {
            let mut buf = [0u8; 4];
            for byte in c.encode_utf8(&mut buf).bytes() {
                safe.push_str(&format!("%{byte:02X}"));
            }
        }
    }
    safe
}

/// The login form's CSRF cookie (double submit): the form carries the same random value as a hidden field, so a
/// form posted from another site (which cannot read or set the cookie) signs nobody in.
const LOGIN_CSRF_COOKIE: &str = "govshare_login_csrf";

fn login_csrf_cookie(token: &str, secure: bool) -> String {
    crate::auth::strict_cookie(LOGIN_CSRF_COOKIE, token, "/login", cookie::time::Duration::hours(2), secure)
}

fn login_csrf_sent(headers: &axum::http::HeaderMap) -> Option<String> {
    crate::auth::cookie_value(headers, LOGIN_CSRF_COOKIE)
}

/// The login form with a fresh CSRF token, in its cookie and its hidden field.
fn login_page(
    state: &AppState,
    headers: &axum::http::HeaderMap,
    status: StatusCode,
    error: Option<String>,
    username: String,
    next: String,
) -> Response {
    let csrf = govshare_service::secrets::random_token();
    let cookie = login_csrf_cookie(&csrf, state.settings.cookie_secure.for_request(headers));
    let page = LoginPage { node_name: state.settings.node_name.clone(), error, username, next, csrf };
    ([(header::SET_COOKIE, cookie)], render(status, &page)).into_response()
}

pub async fn login_form(
    State(state): State<AppState>,
    caller: Option<axum::Extension<Caller>>,
    headers: axum::http::HeaderMap,
    Query(q): Query<LoginQuery>,
) -> Response {
    let next = safe_next(q.next.as_deref());
    if caller.is_some_and(|c| c.session.is_some()) {
        return Redirect::to(&next).into_response();
    }
    login_page(&state, &headers, StatusCode::OK, None, String::new(), next)
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: Option<String>,
    #[serde(default)]
    login_csrf: String,
}

pub async fn login_submit(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    headers: axum::http::HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let next = safe_next(form.next.as_deref());
    let csrf_ok = login_csrf_sent(&headers)
        .is_some_and(|sent| !sent.is_empty() && govshare_service::secrets::digests_equal(&sent, &form.login_csrf));
    if !csrf_ok {
        tracing::warn!("login form posted without its CSRF token");
        let error = "登录页面已过期或来源不可信，请重新输入用户名和密码后登录。".to_owned();
        return login_page(&state, &headers, StatusCode::FORBIDDEN, Some(error), form.username, next);
    }
    let device = crate::auth::device_token(&headers);
    match state.services.login(&form.username, &form.password, &client, device.as_deref()).await {
        Ok(done) => {
            let secure = state.settings.cookie_secure.for_request(&headers);
            let cookie = session_cookie(Some(&done.token), state.services.settings().session_ttl, secure);
            let device = crate::auth::device_cookie(&done.device_token, secure);
            let cookies = axum::response::AppendHeaders([(header::SET_COOKIE, cookie), (header::SET_COOKIE, device)]);
            (cookies, Redirect::to(&next)).into_response()
        }
        Err(err @ (ServiceError::Unauthenticated { .. } | ServiceError::RateLimited { .. })) => {
            login_page(&state, &headers, status_for(&err), Some(err.to_string()), form.username, next)
        }
        Err(err) => fail(err),
    }
}

pub async fn logout(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    ConsoleCaller(caller): ConsoleCaller,
) -> Response {
    if let Some(session) = &caller.session
        && let Err(err) = state.services.logout(&caller.principal, session).await
    {
        return fail(err);
    }
    let cookie = session_cookie(None, chrono::Duration::zero(), state.settings.cookie_secure.for_request(&headers));
    ([(header::SET_COOKIE, cookie)], Redirect::to("/login")).into_response()
}

#[derive(Debug, Deserialize)]
pub struct SwitchForm {
    org_id: String,
    #[serde(default)]
    next: Option<String>,
}

pub async fn switch_org(
    State(state): State<AppState>,
    ConsoleCaller(caller): ConsoleCaller,
    Form(form): Form<SwitchForm>,
) -> PageResult {
    let org: OrgId = form.org_id.parse().map_err(|e: govshare_domain::ValidationError| fail(ServiceError::from(e)))?;
    let session = caller.session.as_ref().ok_or_else(|| fail(ServiceError::Forbidden("需要控制台会话".into())))?;
    state.services.switch_org(&caller.principal, session, org).await.map_err(fail)?;
    Ok(see_other(&safe_next(form.next.as_deref()), "org_switched"))
}

// ---- home and own organisation ----

#[derive(Debug, Clone)]
pub struct OrgView {
    pub kind: &'static str,
    pub is_authority: bool,
    pub region_code: String,
    pub region_name: String,
    pub name: String,
    pub credit_code: String,
    pub work_unit_name: String,
    pub created_at: String,
}

async fn org_view(state: &AppState, org: govshare_domain::org::Organisation) -> OrgView {
    let region_name = state.services.store().get_region(org.region).await.map(|r| r.name).unwrap_or_default();
    OrgView {
        kind: org.kind.label(),
        is_authority: org.kind == OrgKind::Authority,
        region_code: org.region.to_string(),
        region_name,
        name: org.name,
        credit_code: org.credit_code.to_string(),
        work_unit_name: org.work_unit_name,
        created_at: beijing(org.created_at),
    }
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    layout: Layout,
    feedback: Feedback,
    org: OrgView,
    head_name: Option<String>,
    duties: Vec<(&'static str, &'static str)>,
    /// The acting person's open duties, by due date.
    todo: Vec<DutyView>,
}

/// What each role does on the platform, in the words of the regulation.
fn duties_of(roles: &[Role], contractor: bool) -> Vec<(&'static str, &'static str)> {
    roles
        .iter()
        .map(|r| match r {
            Role::PlatformAdmin => ("平台管理员", "维护行政区划、单位和账号，保障平台运行"),
            Role::AuthorityReviewer => {
                ("主管部门审核人", "审核目录、批准延期、确定数源部门、协调争议（第十六、十七、十九、二十一、二十八条）")
            }
            Role::AuthoritySupervisor => {
                ("主管部门监管人", "查阅使用记录，监督时效与违规行为，依法暂停共享（第二十七、二十九条）")
            }
            Role::Clerk if contractor => (
                "经办人（受托方）",
                "受本单位委托编制目录、维护数据源；不能办理共享申请和共享授权，不能查看本单位人员与凭证（第三十六条）",
            ),
            Role::Clerk => ("经办人", "编制目录、提出和办理共享申请、提出校核申请（第十一条）"),

            Role::WorkUnitHead => ("工作机构负责人", "审核同意本部门目录、共享申请及答复后方可报出（第十三、二十条）"),
            Role::SystemClient => ("应用系统", "通过服务接口调用已授权的数据"),
        })
        .collect()
}

pub async fn home(
    State(state): State<AppState>,
    ConsoleCaller(caller): ConsoleCaller,
    Query(q): Query<NoticeQuery>,
) -> PageResult {
    let layout = layout(&state, &caller, "工作台", "/console").await?;
    let org_id = acting_org(&caller)?;
    let org = state.services.get_org(&caller.principal, org_id).await.map_err(fail)?;
    let head_name = state
        .services
        .store()
        .work_unit_head(org_id)
        .await
        .map_err(|e| fail(ServiceError::from(e)))?
        .map(|u| u.display_name);
    let roles: Vec<Role> = caller.principal.roles.iter().copied().collect();
    let page = HomePage {
        layout,
        feedback: Feedback::notice(q.notice.as_deref()),
        org: org_view(&state, org).await,
        head_name,
        duties: duties_of(&roles, caller.principal.is_contractor()),
        todo: state.services.my_duties(&caller.principal, DutyState::Open).await.map_err(fail)?,
    };
    Ok(render(StatusCode::OK, &page))
}

#[derive(Template)]
#[template(path = "org.html")]
struct OrgPage {
    layout: Layout,
    feedback: Feedback,
    org: OrgView,
    head_name: Option<String>,
    can_edit: bool,
}

async fn own_org_page(state: &AppState, caller: &Caller, feedback: Feedback) -> PageResult {
    let layout = layout(state, caller, "本单位信息", "/console/org").await?;
    let org_id = acting_org(caller)?;
    let org = state.services.get_org(&caller.principal, org_id).await.map_err(fail)?;
    let head_name = state
        .services
        .store()
        .work_unit_head(org_id)
        .await
        .map_err(|e| fail(ServiceError::from(e)))?
        .map(|u| u.display_name);
    let can_edit =
        govshare_domain::authz::check(&caller.principal, govshare_domain::authz::Action::EditOrganisation(org_id))
            .is_ok();
    let status = feedback.status();
    Ok(render(status, &OrgPage { layout, feedback, org: org_view(state, org).await, head_name, can_edit }))
}

pub async fn own_org(
    State(state): State<AppState>,
    ConsoleCaller(caller): ConsoleCaller,
    Query(q): Query<NoticeQuery>,
) -> PageResult {
    own_org_page(&state, &caller, Feedback::notice(q.notice.as_deref())).await
}

#[derive(Debug, Deserialize)]
pub struct WorkUnitForm {
    #[serde(default)]
    work_unit_name: String,
}

pub async fn update_work_unit(
    State(state): State<AppState>,
    ConsoleCaller(caller): ConsoleCaller,
    Form(form): Form<WorkUnitForm>,
) -> PageResult {
    let org = acting_org(&caller)?;
    match state.services.update_work_unit(&caller.principal, org, &form.work_unit_name).await {
        Ok(_) => Ok(see_other("/console/org", "work_unit_updated")),
        Err(err) => own_org_page(&state, &caller, Feedback::from_error(&err)).await,
    }
}

// ---- people ----

#[derive(Debug, Clone)]
pub struct MemberView {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub contractor: bool,
    pub disabled: bool,
    pub roles: Vec<(&'static str, &'static str)>,
    pub is_self: bool,
    /// The caller may disable it or reset its password (the person belongs to the caller's unit alone).
    pub manageable: bool,
}

/// One region's organisations in the administrator's organisation picker.
#[derive(Debug, Clone)]
pub struct OrgGroup {
    pub region: String,
    /// (id, name, whether it is the one shown).
    pub orgs: Vec<(String, String, bool)>,
}

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage {
    layout: Layout,
    feedback: Feedback,
    /// The organisation whose people are shown; every form of the page names it.
    org_id: String,
    org_name: String,
    members: Vec<MemberView>,
    can_manage: bool,
    can_manage_accounts: bool,
    assignable: Vec<(&'static str, &'static str)>,
    form: NewUserForm,
    /// The administrator's organisation picker, by region; empty for everyone else.
    picker: Vec<OrgGroup>,
    /// The organisation has no work-unit head yet (a new organisation's first account is usually its head).
    head_missing: bool,
    /// How many people the organisation has (the table may show fewer: filtered or paged).
    member_count: usize,
    table: TableState,
    /// (code, label) of every role, for the 角色 filter.
    roles: Vec<(&'static str, &'static str)>,
}

/// The people table's filters: the organisation (the administrator's choice), words in the name or account,
/// a role, and the account's state (`active`, `disabled`, `contractor`).
const PEOPLE_FILTERS: [&str; 4] = ["org", "q", "role", "state"];

#[derive(Debug, Clone, Default)]
pub struct NewUserForm {
    pub username: String,
    pub display_name: String,
    pub contractor: bool,
    pub roles: Vec<String>,
}

impl NewUserForm {
    pub fn has_role(&self, code: &str) -> bool {
        self.roles.iter().any(|r| r == code)
    }
}

/// The organisation a people page or form is about: the one its `org` names (the query string or the forms'
/// hidden field), else the one the caller acts for. This only reads the id: whether the caller may see or change
/// that organisation's people is decided by the use cases (`ViewMembers`, `AssignRole`, `ManageAccount`).
fn people_org(caller: &Caller, raw: Option<&str>) -> Result<OrgId, Response> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        Some(raw) => raw.parse().map_err(|e: govshare_domain::ValidationError| fail(ServiceError::from(e))),
        None => acting_org(caller),
    }
}

/// Back to the people page of `org` with a notice; the acting organisation's page keeps its short address.
fn people_redirect(caller: &Caller, org: OrgId, notice: &str) -> Response {
    if caller.principal.org_id() == Some(org) {
        see_other("/console/users", notice)
    } else {
        Redirect::to(&format!("/console/users?org={org}&notice={notice}")).into_response()
    }
}

/// The organisation picker: every organisation, grouped by region in code order (the authority first).
async fn org_picker(state: &AppState, caller: &Caller, shown: OrgId) -> Result<Vec<OrgGroup>, Response> {
    let mut regions = state.services.list_regions(&caller.principal).await.map_err(fail)?;
    regions.sort_by_key(|r| r.code);
    let mut orgs = state.services.list_orgs(&caller.principal).await.map_err(fail)?;
    orgs.sort_by_key(|o| o.kind != OrgKind::Authority);
    let option = |o: &govshare_domain::org::Organisation| (o.id.to_string(), o.name.clone(), o.id == shown);
    let mut groups: Vec<OrgGroup> = regions
        .iter()
        .map(|r| OrgGroup {
            region: r.name.clone(),
            orgs: orgs.iter().filter(|o| o.region == r.code).map(option).collect(),
        })
        .filter(|g| !g.orgs.is_empty())
        .collect();
    let stray: Vec<_> = orgs.iter().filter(|o| !regions.iter().any(|r| r.code == o.region)).map(option).collect();
    if !stray.is_empty() {
        groups.push(OrgGroup { region: "其他".into(), orgs: stray });
    }
    Ok(groups)
}

async fn users_page(
    state: &AppState,
    caller: &Caller,
    org_id: OrgId,
    feedback: Feedback,
    form: NewUserForm,
    query: &HashMap<String, String>,
) -> PageResult {
    use govshare_domain::authz::{Action, check};
    let layout = layout(state, caller, "人员与角色", "/console/users").await?;
    // First, so that a caller who may not see this organisation's people learns nothing else about it either.
    let members = state.services.members(&caller.principal, org_id).await.map_err(fail)?;
    let org = state.services.get_org(&caller.principal, org_id).await.map_err(fail)?;
    let assignable: Vec<(&str, &str)> = Role::ASSIGNABLE
        .into_iter()
        .filter(|r| {
            r.check_assignable(org.kind, false).is_ok()
                && check(&caller.principal, Action::AssignRole(org_id, *r)).is_ok()
        })
        .map(|r| (r.code(), r.label()))
        .collect();
    let head_missing = org.kind == OrgKind::Department
        && !members.iter().any(|m| m.roles.contains(&Role::WorkUnitHead))
        && assignable.iter().any(|(c, _)| *c == Role::WorkUnitHead.code());
    let mut form = form;
    if members.is_empty() && head_missing && form.roles.is_empty() {
        form.roles.push(Role::WorkUnitHead.code().to_owned());
    }
    let picker = if check(&caller.principal, Action::ManageOrganisations).is_ok() {
        org_picker(state, caller, org_id).await?
    } else {
        Vec::new()
    };
    let me = caller.principal.user_id();
    let manageable = state.services.manageable_accounts(&caller.principal, org_id, &members).await.map_err(fail)?;
    let can_manage_accounts = manageable.iter().any(|&m| m);
    let member_count = members.len();
    let mut query = query.clone();
    query.insert("org".into(), org_id.to_string());
    let mut table = TableState::from_query("/console/users", &query, &PEOPLE_FILTERS, &["name", "username"], false);
    let members: Vec<MemberView> = members
        .into_iter()
        .zip(manageable)
        .map(|(m, manageable)| MemberView {
            manageable,
            id: m.user.id.to_string(),
            username: m.user.username.to_string(),
            display_name: m.user.display_name,
            contractor: m.user.contractor,
            disabled: m.user.disabled,
            roles: m.roles.iter().map(|r| (r.code(), r.label())).collect(),
            is_self: Some(m.user.id) == me,
        })
        .collect();
    let (words, role, account) =
        (table.filter("q").to_owned(), table.filter("role").to_owned(), table.filter("state").to_owned());
    let members = table.page_of(
        members,
        |m| {
            matches_words(&words, &[&m.display_name, &m.username])
                && (role.is_empty() || m.roles.iter().any(|(code, _)| *code == role))
                && match account.as_str() {
                    "active" => !m.disabled,
                    "disabled" => m.disabled,
                    "contractor" => m.contractor,
                    _ => true,
                }
        },
        |column, a, b| match column {
            "username" => a.username.cmp(&b.username),
            _ => a.display_name.cmp(&b.display_name).then(a.username.cmp(&b.username)),
        },
    );
    if table.export {
        let headers = ["姓名", "账号", "角色", "受托方人员", "状态"];
        let cells: Vec<Vec<String>> = members
            .iter()
            .map(|m| {
                vec![
                    m.display_name.clone(),
                    m.username.clone(),
                    m.roles.iter().map(|(_, l)| *l).collect::<Vec<_>>().join("、"),
                    if m.contractor { "是" } else { "否" }.to_owned(),
                    if m.disabled { "已停用" } else { "正常" }.to_owned(),
                ]
            })
            .collect();
        return xlsx("people.xlsx", &format!("{}人员.xlsx", org.name), &headers, &cells);
    }
    let status = feedback.status();
    let page = UsersPage {
        layout,
        feedback,
        org_id: org_id.to_string(),
        org_name: org.name,
        members,
        can_manage: !assignable.is_empty(),
        can_manage_accounts,
        assignable,
        form,
        picker,
        head_missing,
        member_count,
        table,
        roles: Role::ASSIGNABLE.iter().map(|r| (r.code(), r.label())).collect(),
    };
    Ok(render(status, &page))
}

pub async fn users(
    State(state): State<AppState>,
    ConsoleCaller(caller): ConsoleCaller,
    Query(query): Query<HashMap<String, String>>,
) -> PageResult {
    let org = people_org(&caller, query.get("org").map(String::as_str).filter(|o| !o.is_empty()))?;
    let feedback = match query.get("notice").map(String::as_str) {
        // Just registered (the organisation page sends the administrator here): its first account comes next.
        Some("org_created") => Feedback {
            notice: Some("单位已登记，尚无人员。请先为其创建工作机构负责人的账号，再由负责人创建经办人。".into()),
            ..Default::default()
        },
        notice => Feedback::notice(notice),
    };
    users_page(&state, &caller, org, feedback, NewUserForm::default(), &query).await
}

/// The create-user form has repeated `roles` checkboxes, so it is read as a list of pairs.
pub async fn create_user(
    State(state): State<AppState>,
    ConsoleCaller(caller): ConsoleCaller,
    Form(fields): Form<Vec<(String, String)>>,
) -> PageResult {
    let get = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default();
    let org = people_org(&caller, Some(&get("org")))?;
    let input = NewUserInput {
        username: get("username"),
        display_name: get("display_name"),
        password: get("password"),
        contractor: get("contractor") == "on",
        roles: fields.iter().filter(|(k, _)| k == "roles").map(|(_, v)| v.clone()).collect(),
    };
    let form = NewUserForm {
        username: input.username.clone(),
        display_name: input.display_name.clone(),
        contractor: input.contractor,
        roles: input.roles.clone(),
    };
    match state.services.create_user(&caller.principal, org, input).await {
        Ok(_) => Ok(people_redirect(&caller, org, "user_created")),
        Err(err) => users_page(&state, &caller, org, Feedback::from_error(&err), form, &HashMap::new()).await,
    }
}

#[derive(Debug, Deserialize)]
pub struct GrantForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    org: String,
}

pub async fn grant_role(
    State(state): State<AppState>,
    ConsoleCaller(caller): ConsoleCaller,
    Form(form): Form<GrantForm>,
) -> PageResult {
    let org = people_org(&caller, Some(&form.org))?;
    match state.services.grant_role(&caller.principal, org, &form.username, &form.role).await {
        Ok(()) => Ok(people_redirect(&caller, org, "role_granted")),
        Err(err) => {
            users_page(&state, &caller, org, Feedback::from_error(&err), NewUserForm::default(), &HashMap::new()).await
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct RoleForm {
    #[serde(default)]
    role: String,
    #[serde(default)]
    org: String,
}

/// The hidden field of the account forms that names the organisation they act in.
#[derive(Debug, Deserialize)]
pub struct OrgField {
    #[serde(default)]
    org: String,
}

fn user_id(raw: &str) -> Result<UserId, Response> {
    raw.parse().map_err(|e: govshare_domain::ValidationError| fail(ServiceError::from(e)))
}

pub async fn revoke_role(
    State(state): State<AppState>,
    ConsoleCaller(caller): ConsoleCaller,
    Path(user): Path<String>,
    Form(form): Form<RoleForm>,
) -> PageResult {
    let org = people_org(&caller, Some(&form.org))?;
    match state.services.revoke_role(&caller.principal, org, user_id(&user)?, &form.role).await {
        Ok(()) => Ok(people_redirect(&caller, org, "role_revoked")),
        Err(err) => {
            users_page(&state, &caller, org, Feedback::from_error(&err), NewUserForm::default(), &HashMap::new()).await
        }
    }
}

async fn set_disabled(state: AppState, caller: Caller, user: String, form: OrgField, disabled: bool) -> PageResult {
    let org = people_org(&caller, Some(&form.org))?;
    match state.services.set_user_disabled(&caller.principal, org, user_id(&user)?, disabled).await {
        Ok(()) => Ok(people_redirect(&caller, org, if disabled { "user_disabled" } else { "user_enabled" })),
        Err(err) => {
            users_page(&state, &caller, org, Feedback::from_error(&err), NewUserForm::default(), &HashMap::new()).await
        }
    }
}

pub async fn disable_user(
    State(state): State<AppState>,
    ConsoleCaller(caller): ConsoleCaller,
    Path(user): Path<String>,
    Form(form): Form<OrgField>,
) -> PageResult {
    set_disabled(state, caller, user, form, true).await
}

pub async fn enable_user(
    State(state): State<AppState>,
    ConsoleCaller(caller): ConsoleCaller,
    Path(user): Path<String>,
    Form(form): Form<OrgField>,
) -> PageResult {
    set_disabled(state, caller, user, form, false).await
}

#[derive(Debug, Deserialize)]
pub struct ResetForm {
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    org: String,
}

pub async fn reset_password(
    State(state): State<AppState>,
    ConsoleCaller(caller): ConsoleCaller,
    Path(user): Path<String>,
    Form(form): Form<ResetForm>,
) -> PageResult {
    let org = people_org(&caller, Some(&form.org))?;
    match state.services.reset_password(&caller.principal, org, user_id(&user)?, &form.new_password).await {
        Ok(()) => Ok(people_redirect(&caller, org, "password_reset")),
        Err(err) => {
            users_page(&state, &caller, org, Feedback::from_error(&err), NewUserForm::default(), &HashMap::new()).await
        }
    }
}

// ---- API credentials ----

#[derive(Debug, Clone)]
pub struct CredentialView {
    pub id: String,
    pub name: String,
    pub created_by: String,
    pub created_at: String,
    pub expires_at: String,
    pub status: &'static str,
    pub active: bool,
}

#[derive(Template)]
#[template(path = "credentials.html")]
struct CredentialsPage {
    layout: Layout,
    feedback: Feedback,
    org_name: String,
    credentials: Vec<CredentialView>,
    can_manage: bool,
    issued: Option<(String, String)>,
}

async fn credentials_page(
    state: &AppState,
    caller: &Caller,
    feedback: Feedback,
    issued: Option<(String, String)>,
) -> PageResult {
    use govshare_domain::authz::{Action, check};
    let layout = layout(state, caller, "API 凭证", "/console/credentials").await?;
    let org_id = acting_org(caller)?;
    let list = state.services.list_credentials(&caller.principal, org_id).await.map_err(fail)?;
    let now = state.services.now();
    let names = person_names(state, list.iter().map(|c| c.created_by.as_str()).collect()).await?;
    let credentials = list
        .into_iter()
        .map(|c| {
            let status = c.status(now);
            CredentialView {
                id: c.id.to_string(),
                name: c.name.clone(),
                created_by: actor_name(&c.created_by, &names),
                created_at: beijing(c.created_at),
                expires_at: beijing(c.expires_at),
                status: status.label(),
                active: status == govshare_domain::principal::CredentialStatus::Active,
            }
        })
        .collect();
    let status = feedback.status();
    let page = CredentialsPage {
        layout,
        feedback,
        org_name: caller.principal.org.as_ref().map(|o| o.name.clone()).unwrap_or_default(),
        credentials,
        can_manage: check(&caller.principal, Action::ManageCredentials(org_id)).is_ok(),
        issued,
    };
    Ok(render(status, &page))
}

pub async fn credentials(
    State(state): State<AppState>,
    ConsoleCaller(caller): ConsoleCaller,
    Query(q): Query<NoticeQuery>,
) -> PageResult {
    credentials_page(&state, &caller, Feedback::notice(q.notice.as_deref()), None).await
}

#[derive(Debug, Deserialize)]
pub struct IssueForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    valid_days: String,
}

/// Issuing shows the key on the response page itself, once; it is not stored anywhere it could be shown again.
pub async fn issue_credential(
    State(state): State<AppState>,
    ConsoleCaller(caller): ConsoleCaller,
    Form(form): Form<IssueForm>,
) -> PageResult {
    let org = acting_org(&caller)?;
    let days = match form.valid_days.trim().parse::<i64>() {
        Ok(days) => days,
        Err(_) => {
            let err = ServiceError::Validation(govshare_domain::ValidationError::new(
                "valid_days",
                "format",
                "有效天数应为整数",
            ));
            return credentials_page(&state, &caller, Feedback::from_error(&err), None).await;
        }
    };
    match state.services.issue_credential(&caller.principal, org, &form.name, days).await {
        Ok(issued) => {
            let feedback = Feedback {
                notice: Some("API 凭证已签发。密钥只显示这一次，请立即复制并妥善保存".into()),
                ..Default::default()
            };
            credentials_page(&state, &caller, feedback, Some((issued.credential.name, issued.api_key))).await
        }
        Err(err) => credentials_page(&state, &caller, Feedback::from_error(&err), None).await,
    }
}

pub async fn revoke_credential(
    State(state): State<AppState>,
    ConsoleCaller(caller): ConsoleCaller,
    Path(id): Path<String>,
) -> PageResult {
    let org = acting_org(&caller)?;
    let id: CredentialId = id.parse().map_err(|e: govshare_domain::ValidationError| fail(ServiceError::from(e)))?;
    match state.services.revoke_credential(&caller.principal, org, id).await {
        Ok(()) => Ok(see_other("/console/credentials", "credential_revoked")),
        Err(err) => credentials_page(&state, &caller, Feedback::from_error(&err), None).await,
    }
}

// ---- organisations (platform admin) ----

#[derive(Debug, Clone)]
pub struct RegionView {
    pub code: String,
    pub name: String,
    pub level: &'static str,
    pub depth: u8,
    pub authority: Option<String>,
    pub departments: usize,
}

/// A row of the directory: the organisation, and how many people it has (with the link to them).
#[derive(Debug, Clone)]
pub struct DirectoryRow {
    pub org: OrgView,
    pub id: String,
    pub people: usize,
}

#[derive(Template)]
#[template(path = "organisations.html")]
struct OrganisationsPage {
    layout: Layout,
    feedback: Feedback,
    regions: Vec<RegionView>,
    orgs: Vec<DirectoryRow>,
    form: OrgForm,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct OrgForm {
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub region_code: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub credit_code: String,
    #[serde(default)]
    pub work_unit_name: String,
}

async fn organisations_page(state: &AppState, caller: &Caller, feedback: Feedback, form: OrgForm) -> PageResult {
    use govshare_domain::authz::{Action, check};
    check(&caller.principal, Action::ManageOrganisations).map_err(|d| fail(ServiceError::Forbidden(d.to_string())))?;
    let layout = layout(state, caller, "组织机构", "/console/organisations").await?;
    let mut regions = state.services.list_regions(&caller.principal).await.map_err(fail)?;
    regions.sort_by_key(|r| r.code);
    let orgs = state.services.list_orgs(&caller.principal).await.map_err(fail)?;
    let region_views = regions
        .iter()
        .map(|r| RegionView {
            code: r.code.to_string(),
            name: r.name.clone(),
            level: r.level().label(),
            depth: match r.level() {
                RegionLevel::Province => 0,
                RegionLevel::City => 1,
                RegionLevel::County => 2,
            },
            authority: orgs.iter().find(|o| o.region == r.code && o.kind == OrgKind::Authority).map(|o| o.name.clone()),
            departments: orgs.iter().filter(|o| o.region == r.code && o.kind == OrgKind::Department).count(),
        })
        .collect();
    let ids: Vec<OrgId> = orgs.iter().map(|o| o.id).collect();
    let counts = state.services.member_counts(&caller.principal, &ids).await.map_err(fail)?;
    let mut org_views = Vec::with_capacity(orgs.len());
    for (org, people) in orgs.into_iter().zip(counts) {
        let id = org.id.to_string();
        let mut view = org_view(state, org).await;
        if view.region_name.is_empty() {
            view.region_name = view.region_code.clone();
        }
        org_views.push(DirectoryRow { org: view, id, people });
    }
    let status = feedback.status();
    Ok(render(status, &OrganisationsPage { layout, feedback, regions: region_views, orgs: org_views, form }))
}

pub async fn organisations(
    State(state): State<AppState>,
    ConsoleCaller(caller): ConsoleCaller,
    Query(q): Query<NoticeQuery>,
) -> PageResult {
    organisations_page(&state, &caller, Feedback::notice(q.notice.as_deref()), OrgForm::default()).await
}

pub async fn create_org(
    State(state): State<AppState>,
    ConsoleCaller(caller): ConsoleCaller,
    Form(form): Form<OrgForm>,
) -> PageResult {
    let input = NewOrganisationInput {
        kind: form.kind.clone(),
        region_code: form.region_code.clone(),
        name: form.name.clone(),
        credit_code: form.credit_code.clone(),
        work_unit_name: form.work_unit_name.clone(),
    };
    match state.services.create_org(&caller.principal, &input).await {
        // Its people page next: a new organisation has no account yet, and its head's comes first.
        Ok(org) => Ok(Redirect::to(&format!("/console/users?org={}&notice=org_created", org.id)).into_response()),
        Err(err) => organisations_page(&state, &caller, Feedback::from_error(&err), form).await,
    }
}

#[derive(Debug, Deserialize)]
pub struct RegionForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    name: String,
}

pub async fn create_region(
    State(state): State<AppState>,
    ConsoleCaller(caller): ConsoleCaller,
    Form(form): Form<RegionForm>,
) -> PageResult {
    match state.services.create_region(&caller.principal, &form.code, &form.name).await {
        Ok(_) => Ok(see_other("/console/organisations", "region_created")),
        Err(err) => organisations_page(&state, &caller, Feedback::from_error(&err), OrgForm::default()).await,
    }
}

// ---- own account ----

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    layout: Layout,
    feedback: Feedback,
    roles: Vec<&'static str>,
}

async fn account_page(state: &AppState, caller: &Caller, feedback: Feedback) -> PageResult {
    let layout = layout(state, caller, "本人账号", "/console/account").await?;
    let roles: Vec<Role> = caller.principal.roles.iter().copied().collect();
    let status = feedback.status();
    Ok(render(status, &AccountPage { layout, feedback, roles: role_labels(&roles) }))
}

pub async fn account(
    State(state): State<AppState>,
    ConsoleCaller(caller): ConsoleCaller,
    Query(q): Query<NoticeQuery>,
) -> PageResult {
    account_page(&state, &caller, Feedback::notice(q.notice.as_deref())).await
}

#[derive(Debug, Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    confirm_password: String,
}

pub async fn change_password(
    State(state): State<AppState>,
    ConsoleCaller(caller): ConsoleCaller,
    Form(form): Form<PasswordForm>,
) -> PageResult {
    if form.new_password != form.confirm_password {
        let err = ServiceError::Validation(govshare_domain::ValidationError::new(
            "confirm_password",
            "mismatch",
            "两次输入的新密码不一致",
        ));
        return account_page(&state, &caller, Feedback::from_error(&err)).await;
    }
    let session = caller.session.as_ref();
    match state
        .services
        .change_own_password(&caller.principal, session, &form.current_password, &form.new_password)
        .await
    {
        Ok(()) => Ok(see_other("/console/account", "password_changed")),
        Err(err) => account_page(&state, &caller, Feedback::from_error(&err)).await,
    }
}
