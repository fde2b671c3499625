//! The JSON API, `/api/v1`. Its OpenAPI document is generated from these handlers and served at
//! `/api/openapi.json`, with an interactive viewer at `/api/docs`.

pub mod applications;
pub mod cases;
pub mod catalog;
pub mod data;
pub mod dto;
pub mod duties;
pub mod federation;
pub mod incidents;
pub mod interchange;
pub mod obligations;
pub mod supervision;

use std::str::FromStr;

use axum::Json;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use govshare_domain::ValidationError;
use govshare_domain::org::{NewOrganisationInput, OrgId};
use govshare_domain::principal::CredentialId;
use govshare_domain::user::UserId;
use govshare_service::NewUserInput;
use serde::Deserialize;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{IntoParams, Modify, OpenApi};
use utoipa_swagger_ui::SwaggerUi;

use crate::AppState;
use crate::auth::{Caller, client_address, session_cookie};
use crate::error::{ApiError, ErrorBody};
use crate::routes::Routes;
use dto::*;

/// JSON body extractor whose rejections are API errors naming what is wrong: a body that is not JSON at all
/// (malformed, truncated, wrong content type) is 400 `bad_request`; JSON whose values do not fit the request —
/// a missing or unknown field, a wrong type, a date or UUID that does not parse — is 422 `validation_failed`
/// naming the field by its path (`valid_until`, `items[2].code`), the same shape as every other validation error.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        let json = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| {
            let essence = v.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
            essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
        });
        if !json {
            return Err(ApiError::bad_request(None, "请求体须为 JSON，请设置 Content-Type: application/json"));
        }
        let bytes = axum::body::Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge
            } else {
                ApiError::bad_request(None, format!("无法读取请求体：{}", rejection.body_text()))
            }
        })?;
        body_from_json(&bytes).map(ApiJson)
    }
}

/// Decodes a JSON request body; see [`ApiJson`] for which failure is which answer.
pub fn body_from_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // Whether it is JSON at all first (a truncated array is malformed, not a value of the wrong type).
    if let Err(malformed) = serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
        return Err(ApiError::bad_request(None, format!("请求体不是有效的 JSON：{malformed}")));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let (path, inner) = match serde_path_to_error::deserialize::<_, T>(&mut de) {
        Ok(value) => match de.end() {
            Ok(()) => return Ok(value),
            Err(trailing) => return Err(ApiError::bad_request(None, format!("请求体不是有效的 JSON：{trailing}"))),
        },
        Err(err) => (err.path().to_string(), err.into_inner()),
    };
    if inner.classify() != serde_json::error::Category::Data {
        return Err(ApiError::bad_request(None, format!("请求体不是有效的 JSON：{inner}")));
    }
    // serde's message without its position, e.g. "invalid type: string \"x\", expected u32".
    let text = inner.to_string();
    let text = match text.rfind(" at line ") {
        Some(i) => text[..i].to_owned(),
        None => text,
    };
    let named = |prefix: &str| {
        text.strip_prefix(prefix).and_then(|rest| rest.split('`').next()).map(str::to_owned).filter(|n| !n.is_empty())
    };
    let under = |name: String| if path == "." || path.is_empty() { name } else { format!("{path}.{name}") };
    let field = |fallback: &str| if path == "." || path.is_empty() { fallback.to_owned() } else { path.clone() };
    let problem = if let Some(name) = named("missing field `") {
        let f = under(name);
        ValidationError::new(f.clone(), "required", format!("缺少必填字段「{f}」"))
    } else if let Some(name) = named("unknown field `") {
        let f = under(name);
        ValidationError::new(f.clone(), "unknown_field", format!("请求中有接口不接受的字段「{f}」（{text}）"))
    } else if text.starts_with("invalid type") || text.starts_with("invalid length") {
        let f = field("body");
        ValidationError::new(f.clone(), "type", format!("字段「{f}」的类型不正确（{text}）"))
    } else {
        let f = field("body");
        ValidationError::new(f.clone(), "format", format!("字段「{f}」的值格式不正确（{text}）"))
    };
    Err(ApiError::Service(problem.into()))
}

/// Parses a path segment into a domain id, naming the segment when it is malformed.
pub fn parse_id<T: FromStr<Err = ValidationError>>(raw: &str) -> Result<T, ApiError> {
    T::from_str(raw).map_err(|e| ApiError::Service(e.into()))
}

pub(crate) type ApiResult<T> = Result<T, ApiError>;

#[derive(Debug, OpenApi)]
#[openapi(
    info(title = "govshare API", description = "政务数据共享平台 API. Errors carry a stable English `code` and a Chinese `message`."),
    paths(
        login, logout, me, switch_org, change_password,
        list_regions, create_region,
        list_orgs, create_org, get_org, update_org,
        list_members, create_member, grant_role, revoke_role, disable_member, enable_member, reset_member_password,
        list_credentials, issue_credential, revoke_credential,
        recent_audit, verify_audit, checkpoint_audit,
        catalog::list, catalog::search, catalog::create, catalog::get, catalog::edit, catalog::delete, catalog::attach_assessment, catalog::remove_assessment, catalog::upload_report, catalog::download_report, catalog::submit,
        catalog::head_decision, catalog::review, catalog::version_diff, catalog::notifications, catalog::mark_read,
        interchange::template, interchange::import, interchange::export_xlsx, interchange::export_dcat,
        obligations::list, obligations::record, obligations::request_extension, obligations::decide_extension,
        obligations::list_sources, obligations::designate, obligations::check,
        applications::list, applications::create, applications::get, applications::step, applications::overdue,
        duties::list,
        data::bind_source, data::get_source, data::load_source, data::create_grant, data::list_grants, data::get_grant,
        data::grant_action, incidents::report, incidents::list, incidents::get, incidents::step,
        data::request_change, data::change_step, data::use_records, data::record_use, data::lookup, data::query, data::verify, data::changes, data::export, data::download, data::signing_key,
        data::usage,
        cases::file_correction, cases::list_corrections, cases::correction_figures, cases::get_correction,
        cases::answer_correction, cases::correction_attachment, cases::correct_record,
        cases::open_dispute, cases::list_disputes, cases::get_dispute, cases::dispute_step,
        cases::list_complaints, cases::get_complaint, cases::complaint_step, cases::complaint_attachment,
        cases::challenge, cases::departments, cases::file_complaint, cases::complaint_status,
        supervision::dashboard, supervision::report_file, supervision::department, supervision::violation,
        supervision::issue_order, supervision::list_orders, supervision::get_order, supervision::order_step,
        supervision::publish_notice, supervision::list_notices, supervision::get_notice,
        federation::status,
    ),
    components(schemas(ErrorBody)),
    modifiers(&SecuritySchemes),
    tags(
        (name = "session", description = "Sign-in for people (console sessions)"),
        (name = "directory", description = "Regions and organisations (R-ORG-1..3)"),
        (name = "accounts", description = "People, roles and API credentials (R-SEC-3)"),
        (name = "audit", description = "The SM3-chained audit log (R-SEC-1)"),
        (name = "federation", description = "This node's place in the national system of interconnected platforms (Art. 30–32)"),
        (name = "catalog", description = "The government data catalog and its lifecycle (R-CAT-1..3), notifications"),
        (name = "applications", description = "Sharing applications with working-day deadlines (R-APP-1..5), and the to-do list of every duty"),
        (name = "data", description = "Data sources, grants, governed delivery and usage records (R-DEL-1..5)"),
        (name = "incidents", description = "Security incident reports (Art. 35 ¶3, R-QC-4)"),
        (name = "corrections", description = "Correction requests (校核申请) and corrections, with the disputed mark on records (Art. 26, R-QC-1)"),
        (name = "disputes", description = "Sharing disputes: negotiation, coordination by the same-level or common superior authority, the people's government's decision (Art. 28, R-QC-2)"),
        (name = "complaints", description = "Public complaints and reports, as their handlers work on them (Art. 37 ¶2, R-QC-3)"),
        (name = "public", description = "The public desk: complaints and reports without an account, and their status by tracking code (Art. 37 ¶2)"),
    )
)]
pub struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("gsk_…").build()),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                crate::auth::SESSION_COOKIE,
                "Console session; unsafe requests also need the X-CSRF-Token header",
            ))),
        );
    }
}

/// Routes that prepare a large answer before its first byte (the file download is written to a temporary file
/// first): they get the upload deadline (`server.upload_timeout_secs`) instead of the request deadline.
pub const LONG_RESPONSES: &[&str] = &["/api/v1/data/{grant_id}/download"];

pub fn routes() -> Routes {
    Routes::new()
        .post("/api/v1/auth/login", login)
        .post("/api/v1/auth/logout", logout)
        .get("/api/v1/me", me)
        .put("/api/v1/me/org", switch_org)
        .put("/api/v1/me/password", change_password)
        .get("/api/v1/regions", list_regions)
        .post("/api/v1/regions", create_region)
        .get("/api/v1/organisations", list_orgs)
        .post("/api/v1/organisations", create_org)
        .get("/api/v1/organisations/{org_id}", get_org)
        .patch("/api/v1/organisations/{org_id}", update_org)
        .get("/api/v1/organisations/{org_id}/members", list_members)
        .post("/api/v1/organisations/{org_id}/members", create_member)
        .post("/api/v1/organisations/{org_id}/members/roles", grant_role)
        .delete("/api/v1/organisations/{org_id}/members/{user_id}/roles/{role}", revoke_role)
        .post("/api/v1/organisations/{org_id}/members/{user_id}/disable", disable_member)
        .post("/api/v1/organisations/{org_id}/members/{user_id}/enable", enable_member)
        .put("/api/v1/organisations/{org_id}/members/{user_id}/password", reset_member_password)
        .get("/api/v1/organisations/{org_id}/credentials", list_credentials)
        .post("/api/v1/organisations/{org_id}/credentials", issue_credential)
        .delete("/api/v1/organisations/{org_id}/credentials/{credential_id}", revoke_credential)
        .get("/api/v1/audit", recent_audit)
        .post("/api/v1/audit/verify", verify_audit)
        .post("/api/v1/audit/checkpoints", checkpoint_audit)
        .get("/api/v1/federation", federation::status)
        .limited(axum::http::Method::POST, "/federation/v1/messages", federation::message, federation::MESSAGE_LIMIT)
        .get("/api/v1/catalog", catalog::list)
        .post("/api/v1/catalog", catalog::create)
        .get("/api/v1/catalog/search", catalog::search)
        .get("/api/v1/catalog/template.xlsx", interchange::template)
        .limited(Method::POST, "/api/v1/catalog/import", interchange::import, govshare_service::MAX_IMPORT_BYTES + 1024)
        .get("/api/v1/catalog/export.xlsx", interchange::export_xlsx)
        .get("/api/v1/catalog/export.jsonld", interchange::export_dcat)
        .get("/api/v1/catalog/{entry_id}", catalog::get)
        .put("/api/v1/catalog/{entry_id}", catalog::edit)
        .delete("/api/v1/catalog/{entry_id}", catalog::delete)
        .post("/api/v1/catalog/{entry_id}/assessments", catalog::attach_assessment)
        .delete("/api/v1/catalog/{entry_id}/assessments/{assessment_id}", catalog::remove_assessment)
        .limited(
            Method::PUT,
            "/api/v1/catalog/{entry_id}/assessments/{assessment_id}/report",
            catalog::upload_report,
            govshare_domain::catalog::MAX_REPORT_BYTES + 1024,
        )
        .get("/api/v1/catalog/{entry_id}/assessments/{assessment_id}/report", catalog::download_report)
        .post("/api/v1/catalog/{entry_id}/submit", catalog::submit)
        .post("/api/v1/catalog/{entry_id}/head-decision", catalog::head_decision)
        .post("/api/v1/catalog/{entry_id}/review", catalog::review)
        .get("/api/v1/catalog/{entry_id}/diff", catalog::version_diff)
        .get("/api/v1/obligations", obligations::list)
        .post("/api/v1/obligations", obligations::record)
        .post("/api/v1/obligations/{obligation_id}/extension", obligations::request_extension)
        .post("/api/v1/obligations/{obligation_id}/extension-decision", obligations::decide_extension)
        .get("/api/v1/sources", obligations::list_sources)
        .post("/api/v1/sources", obligations::designate)
        .post("/api/v1/sources/check", obligations::check)
        .get("/api/v1/applications", applications::list)
        .post("/api/v1/applications", applications::create)
        .get("/api/v1/applications/{application_id}", applications::get)
        .post("/api/v1/applications/{application_id}/steps", applications::step)
        .get("/api/v1/deadlines/overdue", applications::overdue)
        .get("/api/v1/catalog/{entry_id}/source", data::get_source)
        .put("/api/v1/catalog/{entry_id}/source", data::bind_source)
        .limited(Method::POST, "/api/v1/catalog/{entry_id}/source/load", data::load_source, data::MAX_UPLOAD_BYTES)
        .post("/api/v1/applications/{application_id}/grant", data::create_grant)
        .get("/api/v1/grants", data::list_grants)
        .get("/api/v1/grants/{grant_id}", data::get_grant)
        .post("/api/v1/grants/{grant_id}/state", data::grant_action)
        .post("/api/v1/incidents", incidents::report)
        .get("/api/v1/incidents", incidents::list)
        .get("/api/v1/incidents/{incident_id}", incidents::get)
        .post("/api/v1/incidents/{incident_id}/steps", incidents::step)
        .limited(Method::POST, "/api/v1/corrections", cases::file_correction, cases::MAX_CASE_BODY_BYTES)
        .get("/api/v1/corrections", cases::list_corrections)
        .get("/api/v1/corrections/figures", cases::correction_figures)
        .get("/api/v1/corrections/{correction_id}", cases::get_correction)
        .post("/api/v1/corrections/{correction_id}/answer", cases::answer_correction)
        .get("/api/v1/corrections/{correction_id}/attachment", cases::correction_attachment)
        .post("/api/v1/catalog/{entry_id}/corrections", cases::correct_record)
        .post("/api/v1/disputes", cases::open_dispute)
        .get("/api/v1/disputes", cases::list_disputes)
        .get("/api/v1/disputes/{dispute_id}", cases::get_dispute)
        .post("/api/v1/disputes/{dispute_id}/steps", cases::dispute_step)
        .get("/api/v1/complaints", cases::list_complaints)
        .get("/api/v1/complaints/{complaint_id}", cases::get_complaint)
        .post("/api/v1/complaints/{complaint_id}/steps", cases::complaint_step)
        .get("/api/v1/complaints/{complaint_id}/attachment", cases::complaint_attachment)
        .get("/api/v1/public/complaints/challenge", cases::challenge)
        .get("/api/v1/public/departments", cases::departments)
        .limited(Method::POST, "/api/v1/public/complaints", cases::file_complaint, cases::MAX_CASE_BODY_BYTES)
        .get("/api/v1/public/complaints/{tracking_code}", cases::complaint_status)
        .get("/api/v1/supervision/dashboard", supervision::dashboard)
        .get("/api/v1/supervision/report", supervision::report_file)
        .get("/api/v1/supervision/departments/{org_id}", supervision::department)
        .get("/api/v1/supervision/violations/{violation_key}", supervision::violation)
        .post("/api/v1/supervision/orders", supervision::issue_order)
        .get("/api/v1/supervision/orders", supervision::list_orders)
        .get("/api/v1/supervision/orders/{order_id}", supervision::get_order)
        .post("/api/v1/supervision/orders/{order_id}/steps", supervision::order_step)
        .post("/api/v1/supervision/notices", supervision::publish_notice)
        .get("/api/v1/supervision/notices", supervision::list_notices)
        .get("/api/v1/supervision/notices/{notice_id}", supervision::get_notice)
        .post("/api/v1/grants/{grant_id}/changes", data::request_change)
        .post("/api/v1/grants/{grant_id}/changes/current", data::change_step)
        .get("/api/v1/grants/{grant_id}/use-records", data::use_records)
        .post("/api/v1/grants/{grant_id}/use-records", data::record_use)
        .get("/api/v1/data/{grant_id}/records", data::query)
        .get("/api/v1/data/{grant_id}/records/{key}", data::lookup)
        .post("/api/v1/data/{grant_id}/verify", data::verify)
        .get("/api/v1/data/{grant_id}/changes", data::changes)
        .get("/api/v1/data/{grant_id}/export", data::export)
        .get("/api/v1/data/{grant_id}/download", data::download)
        .get("/api/v1/node/signing-key", data::signing_key)
        .get("/api/v1/usage", data::usage)
        .get("/bench/baseline/{entry_id}/{key}", data::baseline)
        .get("/api/v1/duties", duties::list)
        .get("/api/v1/notifications", catalog::notifications)
        .post("/api/v1/notifications/{notification_id}/read", catalog::mark_read)
        .get("/api/openapi.json", || async { Json(ApiDoc::openapi()) })
        .merge_foreign(
            SwaggerUi::new("/api/docs").url("/api/docs/openapi.json", ApiDoc::openapi()).into(),
            &["/api/docs", "/api/docs/", "/api/docs/{*rest}", "/api/docs/openapi.json"],
        )
}

/// The caller's address, for login throttling.
#[derive(Debug)]
pub struct ClientAddress(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddress {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddress(client_address(parts)))
    }
}

// ---- session ----

/// Signs a person in; sets the session cookie and returns the CSRF token to send with unsafe requests.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "session", request_body = LoginRequest,
    responses((status = 200, body = MeDto), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn login(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    headers: axum::http::HeaderMap,
    ApiJson(req): ApiJson<LoginRequest>,
) -> ApiResult<Response> {
    let services = &state.services;
    let device = crate::auth::device_token(&headers);
    let done = services.login(&req.username, &req.password, &client, device.as_deref()).await?;
    let orgs = match done.principal.user_id() {
        Some(user) => services.org_choices(user).await?,
        None => Vec::new(),
    };
    let secure = state.settings.cookie_secure.for_request(&headers);
    let cookie = session_cookie(Some(&done.token), services.settings().session_ttl, secure);
    let device = crate::auth::device_cookie(&done.device_token, secure);
    let body = MeDto::new(&done.principal, orgs, Some(done.session.csrf_token));
    Ok((axum::response::AppendHeaders([(header::SET_COOKIE, cookie), (header::SET_COOKIE, device)]), Json(body))
        .into_response())
}

#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "session", security(("session" = [])),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn logout(State(state): State<AppState>, headers: axum::http::HeaderMap, caller: Caller) -> ApiResult<Response> {
    // A business system has no session to end.
    let session = caller.session.as_ref().ok_or_else(|| {
        ApiError::Service(govshare_service::ServiceError::Forbidden("只有控制台会话可以退出登录".into()))
    })?;
    state.services.logout(&caller.principal, session).await?;
    let cookie = session_cookie(None, chrono::Duration::zero(), state.settings.cookie_secure.for_request(&headers));
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, cookie)]).into_response())
}

/// Who is calling: the person or business system, the organisation it acts for, and its roles.
#[utoipa::path(get, path = "/api/v1/me", tag = "session", security(("session" = []), ("api_key" = [])),
    responses((status = 200, body = MeDto), (status = 401, body = ErrorBody)))]
async fn me(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<MeDto>> {
    let orgs = match caller.principal.user_id() {
        Some(user) => state.services.org_choices(user).await?,
        None => Vec::new(),
    };
    let csrf = caller.session.as_ref().map(|s| s.csrf_token.clone());
    Ok(Json(MeDto::new(&caller.principal, orgs, csrf)))
}

/// The department switcher: act for another organisation the person belongs to.
#[utoipa::path(put, path = "/api/v1/me/org", tag = "session", request_body = SwitchOrgRequest, security(("session" = [])),
    responses((status = 204), (status = 403, body = ErrorBody)))]
async fn switch_org(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<SwitchOrgRequest>,
) -> ApiResult<StatusCode> {
    let session = caller.session.as_ref().ok_or_else(|| {
        ApiError::Service(govshare_service::ServiceError::Forbidden("只有控制台会话可以切换单位".into()))
    })?;
    state.services.switch_org(&caller.principal, session, OrgId(req.org_id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(put, path = "/api/v1/me/password", tag = "session", request_body = PasswordChangeRequest, security(("session" = [])),
    responses((status = 204), (status = 422, body = ErrorBody)))]
async fn change_password(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<PasswordChangeRequest>,
) -> ApiResult<StatusCode> {
    let session = caller.session.as_ref();
    state.services.change_own_password(&caller.principal, session, &req.current_password, &req.new_password).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- directory ----

#[utoipa::path(get, path = "/api/v1/regions", tag = "directory", security(("session" = []), ("api_key" = [])),
    responses((status = 200, body = [RegionDto])))]
async fn list_regions(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<RegionDto>>> {
    let regions = state.services.list_regions(&caller.principal).await?;
    Ok(Json(regions.into_iter().map(Into::into).collect()))
}

#[utoipa::path(post, path = "/api/v1/regions", tag = "directory", request_body = NewRegionRequest, security(("session" = [])),
    responses((status = 201, body = RegionDto), (status = 422, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn create_region(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<NewRegionRequest>,
) -> ApiResult<(StatusCode, Json<RegionDto>)> {
    let region = state.services.create_region(&caller.principal, &req.code, &req.name).await?;
    Ok((StatusCode::CREATED, Json(region.into())))
}

#[utoipa::path(get, path = "/api/v1/organisations", tag = "directory", security(("session" = []), ("api_key" = [])),
    responses((status = 200, body = [OrganisationDto])))]
async fn list_orgs(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<OrganisationDto>>> {
    let orgs = state.services.list_orgs(&caller.principal).await?;
    Ok(Json(orgs.into_iter().map(Into::into).collect()))
}

#[utoipa::path(post, path = "/api/v1/organisations", tag = "directory", request_body = NewOrganisationRequest, security(("session" = [])),
    responses((status = 201, body = OrganisationDto), (status = 422, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn create_org(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<NewOrganisationRequest>,
) -> ApiResult<(StatusCode, Json<OrganisationDto>)> {
    let input = NewOrganisationInput {
        kind: req.kind,
        region_code: req.region_code,
        name: req.name,
        credit_code: req.credit_code,
        work_unit_name: req.work_unit_name,
    };
    let org = state.services.create_org(&caller.principal, &input).await?;
    Ok((StatusCode::CREATED, Json(org.into())))
}

#[utoipa::path(get, path = "/api/v1/organisations/{org_id}", tag = "directory", security(("session" = []), ("api_key" = [])),
    params(("org_id" = Uuid, Path)), responses((status = 200, body = OrganisationDto), (status = 404, body = ErrorBody)))]
async fn get_org(
    State(state): State<AppState>,
    caller: Caller,
    Path(org_id): Path<String>,
) -> ApiResult<Json<OrganisationDto>> {
    let org = state.services.get_org(&caller.principal, parse_id(&org_id)?).await?;
    Ok(Json(org.into()))
}

#[utoipa::path(patch, path = "/api/v1/organisations/{org_id}", tag = "directory", request_body = UpdateOrganisationRequest,
    security(("session" = [])), params(("org_id" = Uuid, Path)),
    responses((status = 200, body = OrganisationDto), (status = 403, body = ErrorBody)))]
async fn update_org(
    State(state): State<AppState>,
    caller: Caller,
    Path(org_id): Path<String>,
    ApiJson(req): ApiJson<UpdateOrganisationRequest>,
) -> ApiResult<Json<OrganisationDto>> {
    let org = state.services.update_work_unit(&caller.principal, parse_id(&org_id)?, &req.work_unit_name).await?;
    Ok(Json(org.into()))
}

// ---- people ----

#[utoipa::path(get, path = "/api/v1/organisations/{org_id}/members", tag = "accounts", security(("session" = [])),
    params(("org_id" = Uuid, Path)), responses((status = 200, body = [MemberDto]), (status = 403, body = ErrorBody)))]
async fn list_members(
    State(state): State<AppState>,
    caller: Caller,
    Path(org_id): Path<String>,
) -> ApiResult<Json<Vec<MemberDto>>> {
    let members = state.services.members(&caller.principal, parse_id(&org_id)?).await?;
    Ok(Json(members.into_iter().map(Into::into).collect()))
}

/// Creates an account in this organisation with the given roles.
#[utoipa::path(post, path = "/api/v1/organisations/{org_id}/members", tag = "accounts", request_body = NewUserRequest,
    security(("session" = [])), params(("org_id" = Uuid, Path)),
    responses((status = 201, body = UserDto), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_member(
    State(state): State<AppState>,
    caller: Caller,
    Path(org_id): Path<String>,
    ApiJson(req): ApiJson<NewUserRequest>,
) -> ApiResult<(StatusCode, Json<UserDto>)> {
    let input = NewUserInput {
        username: req.username,
        display_name: req.display_name,
        password: req.password,
        contractor: req.contractor,
        roles: req.roles,
    };
    let user = state.services.create_user(&caller.principal, parse_id(&org_id)?, input).await?;
    Ok((StatusCode::CREATED, Json(user.into())))
}

/// Gives an existing person a role in this organisation.
#[utoipa::path(post, path = "/api/v1/organisations/{org_id}/members/roles", tag = "accounts", request_body = GrantRoleRequest,
    security(("session" = [])), params(("org_id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn grant_role(
    State(state): State<AppState>,
    caller: Caller,
    Path(org_id): Path<String>,
    ApiJson(req): ApiJson<GrantRoleRequest>,
) -> ApiResult<StatusCode> {
    state.services.grant_role(&caller.principal, parse_id(&org_id)?, &req.username, &req.role).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(delete, path = "/api/v1/organisations/{org_id}/members/{user_id}/roles/{role}", tag = "accounts",
    security(("session" = [])), params(("org_id" = Uuid, Path), ("user_id" = Uuid, Path), ("role" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn revoke_role(
    State(state): State<AppState>,
    caller: Caller,
    Path((org_id, user_id, role)): Path<(String, String, String)>,
) -> ApiResult<StatusCode> {
    let user_id: UserId = parse_id(&user_id)?;
    state.services.revoke_role(&caller.principal, parse_id(&org_id)?, user_id, &role).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/organisations/{org_id}/members/{user_id}/disable", tag = "accounts",
    security(("session" = [])), params(("org_id" = Uuid, Path), ("user_id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = ErrorBody)))]
async fn disable_member(
    State(state): State<AppState>,
    caller: Caller,
    Path((org_id, user_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    state.services.set_user_disabled(&caller.principal, parse_id(&org_id)?, parse_id(&user_id)?, true).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/organisations/{org_id}/members/{user_id}/enable", tag = "accounts",
    security(("session" = [])), params(("org_id" = Uuid, Path), ("user_id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = ErrorBody)))]
async fn enable_member(
    State(state): State<AppState>,
    caller: Caller,
    Path((org_id, user_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    state.services.set_user_disabled(&caller.principal, parse_id(&org_id)?, parse_id(&user_id)?, false).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(put, path = "/api/v1/organisations/{org_id}/members/{user_id}/password", tag = "accounts", request_body = PasswordResetRequest,
    security(("session" = [])), params(("org_id" = Uuid, Path), ("user_id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn reset_member_password(
    State(state): State<AppState>,
    caller: Caller,
    Path((org_id, user_id)): Path<(String, String)>,
    ApiJson(req): ApiJson<PasswordResetRequest>,
) -> ApiResult<StatusCode> {
    state
        .services
        .reset_password(&caller.principal, parse_id(&org_id)?, parse_id(&user_id)?, &req.new_password)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- API credentials ----

#[utoipa::path(get, path = "/api/v1/organisations/{org_id}/credentials", tag = "accounts", security(("session" = [])),
    params(("org_id" = Uuid, Path)), responses((status = 200, body = [CredentialDto]), (status = 403, body = ErrorBody)))]
async fn list_credentials(
    State(state): State<AppState>,
    caller: Caller,
    Path(org_id): Path<String>,
) -> ApiResult<Json<Vec<CredentialDto>>> {
    let now = state.services.now();
    let list = state.services.list_credentials(&caller.principal, parse_id(&org_id)?).await?;
    Ok(Json(list.into_iter().map(|c| CredentialDto::new(c, now)).collect()))
}

/// Issues an API credential for one of this organisation's business systems. The key is in this response only.
#[utoipa::path(post, path = "/api/v1/organisations/{org_id}/credentials", tag = "accounts", request_body = NewCredentialRequest,
    security(("session" = [])), params(("org_id" = Uuid, Path)),
    responses((status = 201, body = IssuedCredentialDto), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn issue_credential(
    State(state): State<AppState>,
    caller: Caller,
    Path(org_id): Path<String>,
    ApiJson(req): ApiJson<NewCredentialRequest>,
) -> ApiResult<(StatusCode, Json<IssuedCredentialDto>)> {
    let issued =
        state.services.issue_credential(&caller.principal, parse_id(&org_id)?, &req.name, req.valid_days).await?;
    let body = IssuedCredentialDto {
        credential: CredentialDto::new(issued.credential, state.services.now()),
        api_key: issued.api_key,
    };
    Ok((StatusCode::CREATED, Json(body)))
}

#[utoipa::path(delete, path = "/api/v1/organisations/{org_id}/credentials/{credential_id}", tag = "accounts",
    security(("session" = [])), params(("org_id" = Uuid, Path), ("credential_id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn revoke_credential(
    State(state): State<AppState>,
    caller: Caller,
    Path((org_id, credential_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let credential_id: CredentialId = parse_id(&credential_id)?;
    state.services.revoke_credential(&caller.principal, parse_id(&org_id)?, credential_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- audit ----

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Only this organisation's records.
    pub org_id: Option<uuid::Uuid>,
    /// At most this many, newest first (1–500, default 100).
    pub limit: Option<u32>,
}

#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", security(("session" = [])), params(AuditQuery),
    responses((status = 200, body = [AuditRecordDto]), (status = 403, body = ErrorBody)))]
async fn recent_audit(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<AuditQuery>,
) -> ApiResult<Json<Vec<AuditRecordDto>>> {
    let records = state.services.recent_audit(&caller.principal, q.org_id.map(OrgId), q.limit.unwrap_or(100)).await?;
    Ok(Json(records.into_iter().map(Into::into).collect()))
}

/// Walks the whole chain and reports the first altered, removed or reordered record.
#[utoipa::path(post, path = "/api/v1/audit/verify", tag = "audit", security(("session" = [])),
    responses((status = 200, body = AuditVerificationDto), (status = 403, body = ErrorBody)))]
async fn verify_audit(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<AuditVerificationDto>> {
    let v = state.services.verify_audit(&caller.principal).await?;
    Ok(Json(AuditVerificationDto {
        intact: v.is_intact(),
        verified: v.verified,
        broken_at: v.first_break.as_ref().map(|b| b.seq()),
        problem: v.first_break.map(|b| b.to_string()),
        missing_guards: v.missing_guards,
        checkpoints: v.checkpoints,
        usage_records: v.usage_records,
        usage_archived: v.usage_archived,
    }))
}

/// Signs the chain head now with the node's SM2 key and appends the checkpoint to the node's checkpoint file
/// (outside the database). Answers the newest checkpoint when it already names the head; 204 when the chain is
/// empty; 409 when the chain since the newest checkpoint is broken (nothing is signed).
#[utoipa::path(post, path = "/api/v1/audit/checkpoints", tag = "audit", security(("session" = [])),
    responses((status = 200, body = CheckpointDto), (status = 204), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
async fn checkpoint_audit(State(state): State<AppState>, caller: Caller) -> ApiResult<Response> {
    Ok(match state.services.checkpoint(&caller.principal).await? {
        Some(checkpoint) => Json(CheckpointDto::from(checkpoint)).into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    })
}
