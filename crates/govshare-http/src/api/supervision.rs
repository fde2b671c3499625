//! Supervision (Art. 38 ¶2, 39–41; R-SUP-1..3): indicators of a region and of a department, violation candidates
//! with their evidence, orders to rectify, circulated notices, and the report for the people's government.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use govshare_domain::enforcement::{NoticeId, NoticeInput, OrderId, OrderInput, OrderStepInput};
use govshare_domain::org::OrgId;
use govshare_domain::region::RegionCode;
use govshare_domain::supervision::Period;
use govshare_service::ServiceError;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::{ApiJson, ApiResult, parse_id};
use crate::AppState;
use crate::auth::Caller;
use crate::console::report;
use crate::error::{ApiError, ErrorBody};

/// The period and region of a reading. Unknown parameters are refused.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(default, deny_unknown_fields)]
pub struct PeriodParams {
    /// GB/T 2260 code of the region (its subregions included); default: the caller's organisation's region.
    pub region: String,
    /// First day, `YYYY-MM-DD` (北京时间); default: the first day of `to`'s month.
    pub from: String,
    /// Last day, `YYYY-MM-DD`; default: today.
    pub to: String,
    /// For the report: `xlsx`, `pdf` or `json` (default).
    pub format: String,
}

fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    q.map(|Query(v)| v).map_err(|e| ApiError::bad_request(None, format!("查询参数有误：{}", e.body_text())))
}

fn period(state: &AppState, p: &PeriodParams) -> Result<Period, ApiError> {
    let today = govshare_domain::supervision::beijing_day(state.services.now());
    Period::parse(&p.from, &p.to, today).map_err(|e| ApiError::Service(ServiceError::from(e)))
}

fn region(caller: &Caller, p: &PeriodParams) -> Result<RegionCode, ApiError> {
    if p.region.trim().is_empty() {
        return caller
            .principal
            .org
            .as_ref()
            .map(|o| o.region)
            .ok_or_else(|| ApiError::bad_request(Some("region"), "请指定行政区划 region"));
    }
    RegionCode::parse(&p.region).map_err(|e| ApiError::Service(e.into()))
}

/// The region dashboard: indicators (each with its on-time, late, pending and cut-short counts and its rate),
/// the ranked departments, the subregions, the overdue line and usage trend per day, the violation candidates
/// with their evidence, the rules of Art. 39–41 with what the platform observes of each, orders and correction
/// figures. Computed from the duty ledger at the moment of the call. The region's authority and those above.
#[utoipa::path(get, path = "/api/v1/supervision/dashboard", tag = "supervision", params(PeriodParams),
    security(("session" = [])),
    responses((status = 200, body = serde_json::Value, description = "the dashboard"),
        (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn dashboard(
    State(state): State<AppState>,
    caller: Caller,
    q: Result<Query<PeriodParams>, QueryRejection>,
) -> ApiResult<Response> {
    let p = query(q)?;
    let (region, period) = (region(&caller, &p)?, period(&state, &p)?);
    let d = state.services.dashboard(&caller.principal, region, period).await?;
    Ok(Json(d).into_response())
}

/// The periodic report for the people's government (Art. 38 ¶2) of a region and period: `format=xlsx` (Excel,
/// one sheet per table), `format=pdf` (A4, Chinese text, tables and charts), or the dashboard as JSON.
#[utoipa::path(get, path = "/api/v1/supervision/report", tag = "supervision", params(PeriodParams),
    security(("session" = [])),
    responses((status = 200, description = "the report file"), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 503, body = ErrorBody, description = "no CJK font for the PDF")))]
pub async fn report_file(
    State(state): State<AppState>,
    caller: Caller,
    q: Result<Query<PeriodParams>, QueryRejection>,
) -> ApiResult<Response> {
    let p = query(q)?;
    let (region, period) = (region(&caller, &p)?, period(&state, &p)?);
    let format = p.format.trim().to_owned();
    if !matches!(format.as_str(), "" | "json" | "xlsx" | "pdf") {
        return Err(ApiError::bad_request(Some("format"), "format 应为 xlsx、pdf 或 json"));
    }
    let d = state.services.dashboard(&caller.principal, region, period).await?;
    report_response(&d, &format)
}

/// The dashboard `d` as a report file.
pub fn report_response(d: &govshare_service::Dashboard, format: &str) -> ApiResult<Response> {
    let model = report::build(d);
    let name = format!("{}监督报告{}至{}", d.region_name, d.period.from, d.period.to);
    let ascii = format!("supervision-{}-{}-{}", d.region, d.period.from, d.period.to);
    let internal = |e: govshare_report::ReportError| ApiError::Service(ServiceError::Internal(Box::new(e)));
    match format {
        "xlsx" => {
            let bytes = govshare_report::xlsx(&model).map_err(internal)?;
            Ok(super::interchange::attachment_named(
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                &format!("{ascii}.xlsx"),
                &format!("{name}.xlsx"),
                bytes,
            ))
        }
        "pdf" => {
            let font = report::font().map_err(|e| ApiError::Unavailable(e.to_string()))?;
            let bytes = govshare_report::pdf(&model, font).map_err(internal)?;
            Ok(super::interchange::attachment_named(
                "application/pdf",
                &format!("{ascii}.pdf"),
                &format!("{name}.pdf"),
                bytes,
            ))
        }
        _ => Ok(Json(d).into_response()),
    }
}

/// One department's indicators, usage by entry and grant, correction figures, violations and orders: its own
/// staff, and the authorities that supervise its region.
#[utoipa::path(get, path = "/api/v1/supervision/departments/{org_id}", tag = "supervision",
    params(("org_id" = uuid::Uuid, Path), PeriodParams), security(("session" = [])),
    responses((status = 200, body = serde_json::Value), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn department(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    q: Result<Query<PeriodParams>, QueryRejection>,
) -> ApiResult<Response> {
    let org: OrgId = parse_id(&id)?;
    let p = query(q)?;
    let sheet = state.services.org_indicators(&caller.principal, org, period(&state, &p)?).await?;
    Ok(Json(sheet).into_response())
}

/// A violation candidate by its key (`<article>-<item>@<fact>`, as the dashboard lists it), with its evidence.
#[utoipa::path(get, path = "/api/v1/supervision/violations/{violation_key}", tag = "supervision",
    params(("violation_key" = String, Path)), security(("session" = [])),
    responses((status = 200, body = serde_json::Value), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn violation(State(state): State<AppState>, caller: Caller, Path(key): Path<String>) -> ApiResult<Response> {
    Ok(Json(state.services.violation(&caller.principal, &key).await?).into_response())
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub struct OrderInputDto {
    /// The violation's key.
    pub violation: String,
    /// What the department must do.
    pub requirement: String,
    /// Rectify by, `YYYY-MM-DD` (after today, at most a year ahead).
    pub deadline: String,
}

/// Orders the department a violation is about to rectify by a deadline (责令改正): the supervisor of its
/// same-level authority (for Art. 41, of the superior authority). It becomes a duty of the department's head.
#[utoipa::path(post, path = "/api/v1/supervision/orders", tag = "supervision", request_body = OrderInputDto,
    security(("session" = [])),
    responses((status = 201, body = serde_json::Value), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "`order_exists`"), (status = 422, body = ErrorBody)))]
pub async fn issue_order(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<OrderInputDto>,
) -> ApiResult<Response> {
    let input = OrderInput { violation: body.violation, requirement: body.requirement, deadline: body.deadline };
    let order = state.services.issue_order(&caller.principal, &input).await?;
    Ok((StatusCode::CREATED, Json(order)).into_response())
}

/// The orders the caller may see: its department's, or those in the regions it supervises.
#[utoipa::path(get, path = "/api/v1/supervision/orders", tag = "supervision", security(("session" = [])),
    responses((status = 200, body = serde_json::Value)))]
pub async fn list_orders(State(state): State<AppState>, caller: Caller) -> ApiResult<Response> {
    Ok(Json(state.services.list_orders(&caller.principal).await?).into_response())
}

#[utoipa::path(get, path = "/api/v1/supervision/orders/{order_id}", tag = "supervision",
    params(("order_id" = uuid::Uuid, Path)), security(("session" = [])),
    responses((status = 200, body = serde_json::Value), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_order(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Response> {
    let id: OrderId = parse_id(&id)?;
    Ok(Json(state.services.get_order(&caller.principal, id).await?).into_response())
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub struct OrderStepDto {
    /// `report` (the department's head: how it rectified), `accept` or `return` (the issuing authority's
    /// supervisor; `return` sets a new `deadline`).
    pub step: String,
    pub text: String,
    /// `YYYY-MM-DD`, only with `return`.
    pub deadline: String,
}

#[utoipa::path(post, path = "/api/v1/supervision/orders/{order_id}/steps", tag = "supervision",
    params(("order_id" = uuid::Uuid, Path)), request_body = OrderStepDto, security(("session" = [])),
    responses((status = 200, body = serde_json::Value), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn order_step(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<OrderStepDto>,
) -> ApiResult<Response> {
    let id: OrderId = parse_id(&id)?;
    let input = OrderStepInput { step: body.step, text: body.text, deadline: body.deadline };
    Ok(Json(state.services.order_step(&caller.principal, id, &input).await?).into_response())
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub struct NoticeInputDto {
    pub title: String,
    pub body: String,
    /// Ids of the orders it circulates (their departments are named in it).
    pub orders: Vec<String>,
}

/// Publishes a circulated notice (通报, Art. 29 ¶1) to every organisation of the caller's region and its
/// subregions: the supervisor of the region's authority.
#[utoipa::path(post, path = "/api/v1/supervision/notices", tag = "supervision", request_body = NoticeInputDto,
    security(("session" = [])),
    responses((status = 201, body = serde_json::Value), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn publish_notice(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<NoticeInputDto>,
) -> ApiResult<Response> {
    let input = NoticeInput { title: body.title, body: body.body, orders: body.orders };
    let notice = state.services.publish_notice(&caller.principal, &input).await?;
    Ok((StatusCode::CREATED, Json(notice)).into_response())
}

/// The notices the caller's organisation received (those of its region and the regions above), or, for an
/// authority, also those it and the authorities below it published.
#[utoipa::path(get, path = "/api/v1/supervision/notices", tag = "supervision", security(("session" = [])),
    responses((status = 200, body = serde_json::Value)))]
pub async fn list_notices(State(state): State<AppState>, caller: Caller) -> ApiResult<Response> {
    Ok(Json(state.services.list_notices(&caller.principal).await?).into_response())
}

#[utoipa::path(get, path = "/api/v1/supervision/notices/{notice_id}", tag = "supervision",
    params(("notice_id" = uuid::Uuid, Path)), security(("session" = [])),
    responses((status = 200, body = serde_json::Value), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_notice(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Response> {
    let id: NoticeId = parse_id(&id)?;
    Ok(Json(state.services.get_notice(&caller.principal, id).await?).into_response())
}
