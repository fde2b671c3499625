//! Catalog update obligations (R-CAT-4) and sources of record with the duplicate-collection check (R-CAT-7).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, NaiveDate, Utc};
use govshare_domain::catalog::EntryId;
use govshare_domain::obligation::{ObligationId, TriggerInput};
use govshare_domain::source::{DesignationInput, FieldCheck, SourceDesignation};
use govshare_service::ObligationView;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::catalog::DecisionDto;
use super::{ApiJson, ApiResult, parse_id};
use crate::AppState;
use crate::auth::Caller;
use crate::error::ErrorBody;

#[derive(Debug, Deserialize, ToSchema)]
pub struct TriggerDto {
    pub entry_id: Uuid,
    /// `law_change` (法律、行政法规、国务院决定调整) or `duty_change` (部门职责变化), or the Chinese label.
    pub kind: String,
    /// The day the change took effect, YYYY-MM-DD; the 10 working days count from it.
    pub changed_on: String,
    /// What changed.
    pub description: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ExtensionRequestDto {
    pub reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExtensionDto {
    pub reason: String,
    pub requested_by: String,
    pub requested_at: DateTime<Utc>,
    /// None while the authority has not decided.
    pub granted: Option<bool>,
    pub decision_note: Option<String>,
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
}

/// An update obligation and where it stands now.
#[derive(Debug, Serialize, ToSchema)]
pub struct ObligationDto {
    pub id: Uuid,
    pub entry_id: Uuid,
    pub entry_name: String,
    pub resource_code: String,
    pub provider_id: Uuid,
    pub provider_name: String,
    pub kind: String,
    pub changed_on: NaiveDate,
    pub description: String,
    pub recorded_by: String,
    pub recorded_at: DateTime<Utc>,
    pub extension: Option<ExtensionDto>,
    /// `awaiting_department`, `awaiting_authority` or `completed`.
    pub stage: String,
    /// The department's deadline (23:59:59 北京时间): 10 working days after the change, 15 if extended.
    pub due_at: DateTime<Utc>,
    pub due_date: NaiveDate,
    pub extended: bool,
    pub first_submitted_at: Option<DateTime<Utc>>,
    /// The latest receipt by the authority, and its review deadline (2 working days).
    pub received_at: Option<DateTime<Utc>>,
    pub review_due_at: Option<DateTime<Utc>>,
    pub published_at: Option<DateTime<Utc>>,
    pub department_late: bool,
    pub authority_late: bool,
    /// Working days left on the running deadline; negative when overdue; absent when completed.
    pub working_days_left: Option<i64>,
}

impl From<ObligationView> for ObligationDto {
    fn from(v: ObligationView) -> Self {
        let o = v.obligation;
        let s = v.status;
        ObligationDto {
            id: o.id.0,
            entry_id: o.entry.0,
            entry_name: v.entry_name,
            resource_code: v.resource_code,
            provider_id: v.provider.id.0,
            provider_name: v.provider.name,
            kind: o.kind.code().to_owned(),
            changed_on: o.changed_on,
            description: o.description,
            recorded_by: o.recorded_by,
            recorded_at: o.recorded_at,
            extension: o.extension.map(|x| ExtensionDto {
                reason: x.reason,
                requested_by: x.requested_by,
                requested_at: x.requested_at,
                granted: x.decision.as_ref().map(|d| d.granted),
                decision_note: x.decision.as_ref().map(|d| d.note.clone()),
                decided_by: x.decision.as_ref().map(|d| d.decided_by.clone()),
                decided_at: x.decision.as_ref().map(|d| d.decided_at),
            }),
            stage: serde_json::to_value(s.stage).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default(),
            due_at: s.due_at,
            due_date: s.due_date,
            extended: s.extended,
            first_submitted_at: s.first_submitted_at,
            received_at: s.received_at,
            review_due_at: s.review_due_at,
            published_at: s.published_at,
            department_late: s.department_late,
            authority_late: s.authority_late,
            working_days_left: s.working_days_left,
        }
    }
}

/// The acting organisation's update obligations (an authority: its region's), open ones first.
#[utoipa::path(get, path = "/api/v1/obligations", tag = "catalog", security(("session" = [])),
    responses((status = 200, body = [ObligationDto])))]
pub async fn list(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<ObligationDto>>> {
    let views = state.services.list_obligations(&caller.principal).await?;
    Ok(Json(views.into_iter().map(Into::into).collect()))
}

/// Records a law or duty change that requires updating a published entry (Art. 17): opens the obligation.
#[utoipa::path(post, path = "/api/v1/obligations", tag = "catalog", request_body = TriggerDto, security(("session" = [])),
    responses((status = 201, body = ObligationDto), (status = 422, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn record(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<TriggerDto>,
) -> ApiResult<(StatusCode, Json<ObligationDto>)> {
    let input = TriggerInput { kind: body.kind, changed_on: body.changed_on, description: body.description };
    let view = state.services.record_update_trigger(&caller.principal, EntryId(body.entry_id), &input).await?;
    Ok((StatusCode::CREATED, Json(view.into())))
}

/// The provider's work-unit head asks for the one 5-working-day extension.
#[utoipa::path(post, path = "/api/v1/obligations/{obligation_id}/extension", tag = "catalog",
    params(("obligation_id" = Uuid, Path)), request_body = ExtensionRequestDto, security(("session" = [])),
    responses((status = 200, body = ObligationDto), (status = 422, body = ErrorBody)))]
pub async fn request_extension(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ExtensionRequestDto>,
) -> ApiResult<Json<ObligationDto>> {
    let id: ObligationId = parse_id(&id)?;
    Ok(Json(state.services.request_update_extension(&caller.principal, id, &body.reason).await?.into()))
}

/// The same-level authority consents to the extension (`approve: true`) or refuses it with a reason.
#[utoipa::path(post, path = "/api/v1/obligations/{obligation_id}/extension-decision", tag = "catalog",
    params(("obligation_id" = Uuid, Path)), request_body = DecisionDto, security(("session" = [])),
    responses((status = 200, body = ObligationDto), (status = 422, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn decide_extension(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<DecisionDto>,
) -> ApiResult<Json<ObligationDto>> {
    let id: ObligationId = parse_id(&id)?;
    Ok(Json(state.services.decide_update_extension(&caller.principal, id, body.approve, &body.reason).await?.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct DesignationDto {
    /// The data subject, e.g. 户籍人口.
    pub subject: String,
    /// Data item names covered.
    pub items: Vec<String>,
    pub source_org_id: Uuid,
    /// The source's published entry that shares this data, if any.
    pub entry_id: Option<Uuid>,
    /// The decision or document the designation rests on.
    pub basis: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SourceOfRecordDto {
    pub id: Uuid,
    pub region: String,
    pub subject: String,
    pub items: Vec<String>,
    pub source_org_id: Uuid,
    pub entry_id: Option<Uuid>,
    pub basis: String,
    pub designated_by: String,
    pub designated_at: DateTime<Utc>,
}

impl From<SourceDesignation> for SourceOfRecordDto {
    fn from(d: SourceDesignation) -> Self {
        SourceOfRecordDto {
            id: d.id,
            region: d.region.to_string(),
            subject: d.subject,
            items: d.items,
            source_org_id: d.source_org.0,
            entry_id: d.entry.map(|e| e.0),
            basis: d.basis,
            designated_by: d.designated_by,
            designated_at: d.designated_at,
        }
    }
}

/// Sources of record (数源部门) designated by the authorities.
#[utoipa::path(get, path = "/api/v1/sources", tag = "catalog", security(("session" = [])),
    responses((status = 200, body = [SourceOfRecordDto])))]
pub async fn list_sources(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<SourceOfRecordDto>>> {
    Ok(Json(state.services.list_designations(&caller.principal).await?.into_iter().map(Into::into).collect()))
}

/// The authority designates the source-of-record department for a data subject in its region (Art. 19 ¶2).
#[utoipa::path(post, path = "/api/v1/sources", tag = "catalog", request_body = DesignationDto, security(("session" = [])),
    responses((status = 201, body = SourceOfRecordDto), (status = 422, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn designate(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<DesignationDto>,
) -> ApiResult<(StatusCode, Json<SourceOfRecordDto>)> {
    let input = DesignationInput {
        subject: body.subject,
        items: body.items.join("\n"),
        source_org: body.source_org_id.to_string(),
        entry: body.entry_id.map(|e| e.to_string()).unwrap_or_default(),
        basis: body.basis,
    };
    let d = state.services.designate_source(&caller.principal, &input).await?;
    Ok((StatusCode::CREATED, Json(d.into())))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CollectionCheckDto {
    /// The form's field names.
    pub fields: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FieldSourceDto {
    pub entry_id: Uuid,
    pub entry_name: String,
    pub provider_id: Uuid,
    pub provider_name: String,
    pub item_name: String,
    pub sharing_attribute: String,
    pub source_of_record: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FieldCheckDto {
    pub field: String,
    /// `obtain_by_sharing`, `catalogued_not_shared` or `collect`.
    pub verdict: String,
    pub verdict_label: String,
    pub sources: Vec<FieldSourceDto>,
}

impl From<FieldCheck> for FieldCheckDto {
    fn from(c: FieldCheck) -> Self {
        FieldCheckDto {
            field: c.field,
            verdict: serde_json::to_value(c.verdict)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            verdict_label: c.verdict.label().to_owned(),
            sources: c
                .sources
                .into_iter()
                .map(|s| FieldSourceDto {
                    entry_id: s.entry.0,
                    entry_name: s.entry_name,
                    provider_id: s.provider.0,
                    provider_name: s.provider_name,
                    item_name: s.item_name,
                    sharing_attribute: s.attribute.code().to_owned(),
                    source_of_record: s.source_of_record,
                })
                .collect(),
        }
    }
}

/// Checks a form's fields against the published catalog (Art. 19 ¶1): which may be obtained by sharing instead of
/// being collected again, and from whom.
#[utoipa::path(post, path = "/api/v1/sources/check", tag = "catalog", request_body = CollectionCheckDto, security(("session" = [])),
    responses((status = 200, body = [FieldCheckDto]), (status = 422, body = ErrorBody)))]
pub async fn check(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CollectionCheckDto>,
) -> ApiResult<Json<Vec<FieldCheckDto>>> {
    let checks = state.services.check_collection(&caller.principal, &body.fields.join("\n")).await?;
    Ok(Json(checks.into_iter().map(Into::into).collect()))
}
