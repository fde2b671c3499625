//! Catalog endpoints (R-CAT-1..3).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use chrono::{DateTime, Utc};
use govshare_domain::catalog::{
    Assessment, AssessmentId, CatalogEntry, DataItem, DataItemInput, EntryContent, EntryEvent, EntryId, EntryInput,
    EntryVersion, FieldChange, SharingTerms,
};
use govshare_domain::notification::Notification;
use govshare_service::{AssessmentInput, CatalogScope, ReportUpload};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{ApiJson, ApiResult, parse_id};
use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};

#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct DataItemDto {
    /// 数据项名称
    pub name: String,
    /// Identifier, e.g. `id_number`.
    pub code: String,
    /// `string`, `integer`, `decimal`, `date`, `datetime`, `boolean`, `binary` (or the Chinese label).
    pub data_type: String,
    pub length: Option<u32>,
    /// e.g. 一般数据
    pub grade_class: String,
    pub grade_level: u8,
    /// The kind of personal information the item holds (`name`, `id_number`, `phone`, `address`, `bank_card`,
    /// `email`, `biometric`, …), or absent when it holds none: it decides the impact assessment and the
    /// personal-data rules, not the values' format.
    pub personal_info: Option<String>,
    /// The values' format, checked on every load and correction and used by `mask`: `id_number`, `credit_code`,
    /// `phone`, `email`, `bank_card`, or absent. An enterprise's credit code is `"format": "credit_code"` with no
    /// `personal_info`. Absent on an item written before formats existed, its kind of personal information
    /// implies one (an `id_number` item is checked as an ID number).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
}

/// A catalog entry's content, as written (R-CAT-1). Enumerations accept the English code or the Chinese label.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct EntryContentDto {
    #[schema(example = "居民户籍信息")]
    pub name: String,
    #[schema(example = "330000-GAT-0001")]
    pub resource_code: String,
    pub summary: String,
    /// `database`, `spreadsheet`, `document`, `image`, `media`, `self_describing`
    pub format: String,
    pub items: Vec<DataItemDto>,
    /// `realtime`, `daily`, `weekly`, `monthly`, `quarterly`, `half_yearly`, `yearly`, `irregular`
    pub update_frequency: String,
    /// `unconditional`, `conditional`, `not_shared`
    pub sharing_attribute: String,
    /// Required for conditional entries.
    #[serde(default)]
    pub sharing_scope: String,
    /// Required for conditional entries.
    #[serde(default)]
    pub permitted_purposes: Vec<String>,
    /// Required for not-shared entries.
    #[serde(default)]
    pub not_shared_reason: String,
    /// Required for not-shared entries: the law, administrative regulation or State Council decision.
    #[serde(default)]
    pub legal_basis: String,
    /// `service_api`, `bulk_exchange`, `file_download`; none for not-shared entries.
    #[serde(default)]
    pub delivery_methods: Vec<String>,
    #[serde(default)]
    pub usage_conditions: String,
    pub grade_class: String,
    pub grade_level: u8,
    #[serde(default)]
    pub open_to_public: bool,
    #[serde(default)]
    pub related_codes: Vec<String>,
}

impl From<EntryContentDto> for EntryInput {
    fn from(d: EntryContentDto) -> Self {
        EntryInput {
            name: d.name,
            resource_code: d.resource_code,
            summary: d.summary,
            format: d.format,
            items: d
                .items
                .into_iter()
                .map(|i| DataItemInput {
                    name: i.name,
                    code: i.code,
                    data_type: i.data_type,
                    length: i.length,
                    grade_class: i.grade_class,
                    grade_level: i.grade_level,
                    personal_info: i.personal_info,
                    format: i.format,
                })
                .collect(),
            update_frequency: d.update_frequency,
            sharing_attribute: d.sharing_attribute,
            sharing_scope: d.sharing_scope,
            permitted_purposes: d.permitted_purposes,
            not_shared_reason: d.not_shared_reason,
            legal_basis: d.legal_basis,
            delivery_methods: d.delivery_methods,
            usage_conditions: d.usage_conditions,
            grade_class: d.grade_class,
            grade_level: d.grade_level,
            open_to_public: d.open_to_public,
            related_codes: d.related_codes,
        }
    }
}

impl From<&DataItem> for DataItemDto {
    fn from(i: &DataItem) -> Self {
        DataItemDto {
            name: i.name.clone(),
            code: i.code.clone(),
            data_type: i.data_type.code().into(),
            length: i.length,
            grade_class: i.grade.class.clone(),
            grade_level: i.grade.level,
            personal_info: i.personal_info.map(|p| p.code().into()),
            format: i.format.map(|f| f.code().into()),
        }
    }
}

impl From<&EntryContent> for EntryContentDto {
    fn from(c: &EntryContent) -> Self {
        let (scope, purposes, reason, basis) = match &c.sharing {
            SharingTerms::Unconditional => (String::new(), vec![], String::new(), String::new()),
            SharingTerms::Conditional { scope, purposes } => {
                (scope.clone(), purposes.clone(), String::new(), String::new())
            }
            SharingTerms::NotShared { reason, legal_basis } => {
                (String::new(), vec![], reason.clone(), legal_basis.clone())
            }
        };
        EntryContentDto {
            name: c.name.clone(),
            resource_code: c.resource_code.clone(),
            summary: c.summary.clone(),
            format: c.format.code().into(),
            items: c.items.iter().map(Into::into).collect(),
            update_frequency: c.update_frequency.code().into(),
            sharing_attribute: c.sharing.attribute().code().into(),
            sharing_scope: scope,
            permitted_purposes: purposes,
            not_shared_reason: reason,
            legal_basis: basis,
            delivery_methods: c.delivery_methods.iter().map(|m| m.code().to_owned()).collect(),
            usage_conditions: c.usage_conditions.clone(),
            grade_class: c.grade.class.clone(),
            grade_level: c.grade.level,
            open_to_public: c.open_to_public,
            related_codes: c.related_codes.clone(),
        }
    }
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct AssessmentDto {
    /// `confidentiality` (保密风险评估) or `personal_info_impact` (个人信息保护影响评估)
    pub kind: String,
    pub document_title: String,
    /// 文号
    pub document_ref: String,
    /// YYYY-MM-DD
    pub assessed_on: String,
    /// `pass`, `pass_with_measures`, `fail`
    pub conclusion: String,
}

impl From<&Assessment> for AssessmentDto {
    fn from(a: &Assessment) -> Self {
        AssessmentDto {
            kind: a.kind.code().into(),
            document_title: a.document_title.clone(),
            document_ref: a.document_ref.clone(),
            assessed_on: a.assessed_on.format("%Y-%m-%d").to_string(),
            conclusion: a.conclusion.code().into(),
        }
    }
}

/// An assessment attached to a version, as read.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttachedAssessmentDto {
    /// Names the assessment in `DELETE /api/v1/catalog/{entry_id}/assessments/{assessment_id}`.
    pub id: Uuid,
    /// `confidentiality` (保密风险评估) or `personal_info_impact` (个人信息保护影响评估)
    pub kind: String,
    pub document_title: String,
    /// 文号
    pub document_ref: String,
    /// YYYY-MM-DD
    pub assessed_on: String,
    /// `pass`, `pass_with_measures`, `fail`
    pub conclusion: String,
    /// The report itself, once uploaded (`PUT …/assessments/{assessment_id}/report`).
    pub report: Option<ReportDto>,
}

/// An uploaded assessment report (a PDF).
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportDto {
    pub file_name: String,
    /// Bytes.
    pub size: u64,
    /// SM3 digest of the file, hex; the download carries it too (`X-Content-SM3`).
    pub sm3: String,
    pub uploaded_at: DateTime<Utc>,
    pub uploaded_by: String,
}

impl From<&Assessment> for AttachedAssessmentDto {
    fn from(a: &Assessment) -> Self {
        let AssessmentDto { kind, document_title, document_ref, assessed_on, conclusion } = a.into();
        AttachedAssessmentDto {
            id: a.id.0,
            kind,
            document_title,
            document_ref,
            assessed_on,
            conclusion,
            report: a.report.as_ref().map(|r| ReportDto {
                file_name: r.file_name.clone(),
                size: r.size,
                sm3: r.sm3.clone(),
                uploaded_at: r.uploaded_at,
                uploaded_by: r.uploaded_by.clone(),
            }),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EntryVersionDto {
    pub version: u32,
    /// `draft`, `awaiting_head`, `submitted`, `published`, `returned`, `superseded`
    pub status: String,
    pub status_label: String,
    pub content: EntryContentDto,
    pub assessments: Vec<AttachedAssessmentDto>,
    pub updated_at: DateTime<Utc>,
}

impl From<&EntryVersion> for EntryVersionDto {
    fn from(v: &EntryVersion) -> Self {
        EntryVersionDto {
            version: v.version,
            status: v.status.code().into(),
            status_label: v.status.label().into(),
            content: (&v.content).into(),
            assessments: v.assessments.iter().map(Into::into).collect(),
            updated_at: v.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EntryEventDto {
    pub version: u32,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub actor_name: String,
    pub action: String,
    pub note: String,
}

impl From<&EntryEvent> for EntryEventDto {
    fn from(e: &EntryEvent) -> Self {
        EntryEventDto {
            version: e.version,
            at: e.at,
            actor: e.actor.clone(),
            actor_name: e.actor_name.clone(),
            action: e.action.clone(),
            note: e.note.clone(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CatalogEntryDto {
    pub id: Uuid,
    /// The provider department.
    pub provider_id: Uuid,
    pub created_at: DateTime<Utc>,
    pub published_version: Option<u32>,
    pub working_version: Option<u32>,
    /// Versions the caller may see, oldest first.
    pub versions: Vec<EntryVersionDto>,
    /// The timeline: every step, who did it and when.
    pub events: Vec<EntryEventDto>,
}

impl From<&CatalogEntry> for CatalogEntryDto {
    fn from(e: &CatalogEntry) -> Self {
        CatalogEntryDto {
            id: e.id.0,
            provider_id: e.provider.0,
            created_at: e.created_at,
            published_version: e.published().map(|v| v.version),
            working_version: e.working().map(|v| v.version),
            versions: e.versions.iter().map(Into::into).collect(),
            events: e.events.iter().map(Into::into).collect(),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// `published` (default): the unified catalog; `mine`: the acting department's entries, drafts included;
    /// `review`: entries waiting for the acting authority.
    pub scope: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/catalog", tag = "catalog", params(ListQuery), security(("session" = []), ("api_key" = [])),
    responses((status = 200, body = [CatalogEntryDto]), (status = 403, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<Vec<CatalogEntryDto>>> {
    let scope = match q.scope.as_deref().unwrap_or("published") {
        "published" => CatalogScope::Published,
        "mine" => CatalogScope::Mine,
        "review" => CatalogScope::ReviewQueue,
        other => {
            return Err(ApiError::bad_request(
                Some("scope"),
                format!("scope 应为 published、mine 或 review，收到「{other}」"),
            ));
        }
    };
    let entries = state.services.list_entries(&caller.principal, scope).await?;
    Ok(Json(entries.iter().map(Into::into).collect()))
}

/// Creates a draft entry for the acting department.
#[utoipa::path(post, path = "/api/v1/catalog", tag = "catalog", request_body = EntryContentDto, security(("session" = [])),
    responses((status = 201, body = CatalogEntryDto), (status = 422, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<EntryContentDto>,
) -> ApiResult<(StatusCode, Json<CatalogEntryDto>)> {
    let entry = state.services.create_entry(&caller.principal, &body.into()).await?;
    Ok((StatusCode::CREATED, Json((&entry).into())))
}

#[utoipa::path(get, path = "/api/v1/catalog/{entry_id}", tag = "catalog", params(("entry_id" = Uuid, Path)),
    security(("session" = []), ("api_key" = [])), responses((status = 200, body = CatalogEntryDto), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<CatalogEntryDto>> {
    let id: EntryId = parse_id(&id)?;
    Ok(Json((&state.services.get_entry(&caller.principal, id).await?).into()))
}

/// Edits the working draft, or starts a new version of a published entry.
#[utoipa::path(put, path = "/api/v1/catalog/{entry_id}", tag = "catalog", params(("entry_id" = Uuid, Path)), request_body = EntryContentDto,
    security(("session" = [])), responses((status = 200, body = CatalogEntryDto), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn edit(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<EntryContentDto>,
) -> ApiResult<Json<CatalogEntryDto>> {
    let id: EntryId = parse_id(&id)?;
    Ok(Json((&state.services.edit_entry(&caller.principal, id, &body.into()).await?).into()))
}

/// Deletes a draft entry that was never submitted (created by mistake or twice), with its versions and timeline;
/// its resource code becomes free. For whoever may edit the draft (the provider's clerks and head). Refused with
/// `409 conflict` once the entry has been submitted or published: from then on it is part of the record and is
/// never deleted (a published entry changes by a new version). Audited as `catalog.delete`.
#[utoipa::path(delete, path = "/api/v1/catalog/{entry_id}", tag = "catalog", params(("entry_id" = Uuid, Path)),
    security(("session" = [])), responses((status = 204, description = "Deleted"), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<StatusCode> {
    let id: EntryId = parse_id(&id)?;
    state.services.delete_entry(&caller.principal, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/catalog/{entry_id}/assessments", tag = "catalog", params(("entry_id" = Uuid, Path)), request_body = AssessmentDto,
    security(("session" = [])), responses((status = 200, body = CatalogEntryDto), (status = 422, body = ErrorBody)))]
pub async fn attach_assessment(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<AssessmentDto>,
) -> ApiResult<Json<CatalogEntryDto>> {
    let id: EntryId = parse_id(&id)?;
    let input = AssessmentInput {
        kind: body.kind,
        document_title: body.document_title,
        document_ref: body.document_ref,
        assessed_on: body.assessed_on,
        conclusion: body.conclusion,
    };
    Ok(Json((&state.services.attach_assessment(&caller.principal, id, &input).await?).into()))
}

/// Takes a wrongly attached assessment off the working draft (Art. 13), for whoever may edit the draft, while
/// it is a draft or returned; an assessment of a submitted or published version stays (`409 conflict`). Returns
/// the entry. Audited as `catalog.assessment.remove`; the timeline records it.
#[utoipa::path(delete, path = "/api/v1/catalog/{entry_id}/assessments/{assessment_id}", tag = "catalog",
    params(("entry_id" = Uuid, Path), ("assessment_id" = Uuid, Path)), security(("session" = [])),
    responses((status = 200, body = CatalogEntryDto), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub async fn remove_assessment(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, assessment)): Path<(String, String)>,
) -> ApiResult<Json<CatalogEntryDto>> {
    let id: EntryId = parse_id(&id)?;
    let assessment: AssessmentId = parse_id(&assessment)?;
    Ok(Json((&state.services.remove_assessment(&caller.principal, id, assessment).await?).into()))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ReportParams {
    /// The file's name as the person knows it, e.g. `保密风险评估报告.pdf` (default 评估报告.pdf).
    pub file_name: Option<String>,
}

/// Uploads the assessment report itself: the PDF file is the request body (`Content-Type: application/pdf`),
/// at most 10 MiB. It must be a PDF by its content (it starts with `%PDF-`): anything else is refused with `422`
/// naming the field `report` (rule `not_pdf`; `too_large`, `required`) and nothing is stored. Replaces an earlier
/// upload. Only while the draft is editable (`409 conflict` once submitted or published), for whoever may edit it.
/// The file's SM3 digest is recorded, audited (`catalog.assessment.report`) and shown on the timeline.
#[utoipa::path(put, path = "/api/v1/catalog/{entry_id}/assessments/{assessment_id}/report", tag = "catalog",
    params(("entry_id" = Uuid, Path), ("assessment_id" = Uuid, Path), ReportParams),
    request_body(content = Vec<u8>, content_type = "application/pdf"), security(("session" = [])),
    responses((status = 200, body = CatalogEntryDto), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn upload_report(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, assessment)): Path<(String, String)>,
    Query(p): Query<ReportParams>,
    body: Bytes,
) -> ApiResult<Json<CatalogEntryDto>> {
    let id: EntryId = parse_id(&id)?;
    let assessment: AssessmentId = parse_id(&assessment)?;
    let file = ReportUpload { file_name: p.file_name.unwrap_or_default(), bytes: body.to_vec() };
    Ok(Json((&state.services.upload_assessment_report(&caller.principal, id, assessment, &file).await?).into()))
}

/// Downloads an assessment's report (PDF), for whoever may read the version it belongs to: everyone for a
/// published entry, the provider and its same-level authority for a draft. `X-Content-SM3` carries the SM3 digest
/// recorded at upload (the file is checked against it before it is sent).
#[utoipa::path(get, path = "/api/v1/catalog/{entry_id}/assessments/{assessment_id}/report", tag = "catalog",
    params(("entry_id" = Uuid, Path), ("assessment_id" = Uuid, Path)), security(("session" = [])),
    responses((status = 200, content_type = "application/pdf", description = "the report"), (status = 404, body = ErrorBody)))]
pub async fn download_report(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, assessment)): Path<(String, String)>,
) -> ApiResult<Response> {
    let id: EntryId = parse_id(&id)?;
    let assessment: AssessmentId = parse_id(&assessment)?;
    let (report, bytes) = state.services.assessment_report(&caller.principal, id, assessment).await?;
    let mut response =
        super::interchange::attachment_named("application/pdf", "assessment-report.pdf", &report.file_name, bytes);
    if let Ok(digest) = HeaderValue::from_str(&report.sm3) {
        response.headers_mut().insert("x-content-sm3", digest);
    }
    Ok(response)
}

/// The clerk submits the draft to the work-unit head (needs the required assessments).
#[utoipa::path(post, path = "/api/v1/catalog/{entry_id}/submit", tag = "catalog", params(("entry_id" = Uuid, Path)),
    security(("session" = [])), responses((status = 200, body = CatalogEntryDto), (status = 409, body = ErrorBody)))]
pub async fn submit(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<CatalogEntryDto>> {
    let id: EntryId = parse_id(&id)?;
    Ok(Json((&state.services.submit_entry(&caller.principal, id).await?).into()))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct DecisionDto {
    /// true: approve (head) or publish (authority); false: send back.
    pub approve: bool,
    /// Required when sending back.
    #[serde(default)]
    pub reason: String,
}

/// The work-unit head approves (the entry goes to the same-level authority) or sends it back.
#[utoipa::path(post, path = "/api/v1/catalog/{entry_id}/head-decision", tag = "catalog", params(("entry_id" = Uuid, Path)), request_body = DecisionDto,
    security(("session" = [])), responses((status = 200, body = CatalogEntryDto), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn head_decision(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<DecisionDto>,
) -> ApiResult<Json<CatalogEntryDto>> {
    let id: EntryId = parse_id(&id)?;
    Ok(Json((&state.services.head_decide(&caller.principal, id, body.approve, &body.reason).await?).into()))
}

/// The same-level authority publishes (every department is notified) or returns it with reasons.
#[utoipa::path(post, path = "/api/v1/catalog/{entry_id}/review", tag = "catalog", params(("entry_id" = Uuid, Path)), request_body = DecisionDto,
    security(("session" = [])), responses((status = 200, body = CatalogEntryDto), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn review(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<DecisionDto>,
) -> ApiResult<Json<CatalogEntryDto>> {
    let id: EntryId = parse_id(&id)?;
    Ok(Json((&state.services.review_entry(&caller.principal, id, body.approve, &body.reason).await?).into()))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DiffQuery {
    pub from: u32,
    pub to: u32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FieldChangeDto {
    pub field: String,
    pub before: String,
    pub after: String,
}

impl From<FieldChange> for FieldChangeDto {
    fn from(c: FieldChange) -> Self {
        FieldChangeDto { field: c.field, before: c.before, after: c.after }
    }
}

#[utoipa::path(get, path = "/api/v1/catalog/{entry_id}/diff", tag = "catalog", params(("entry_id" = Uuid, Path), DiffQuery),
    security(("session" = []), ("api_key" = [])), responses((status = 200, body = [FieldChangeDto]), (status = 404, body = ErrorBody)))]
pub async fn version_diff(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<DiffQuery>,
) -> ApiResult<Json<Vec<FieldChangeDto>>> {
    let id: EntryId = parse_id(&id)?;
    let changes = state.services.entry_diff(&caller.principal, id, q.from, q.to).await?;
    Ok(Json(changes.into_iter().map(Into::into).collect()))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationDto {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub kind: String,
    pub title: String,
    pub body: String,
    pub link: String,
    /// When the signed-in person first opened it; each person of the organisation
    /// reads on their own.
    pub read_at: Option<DateTime<Utc>>,
}

impl From<Notification> for NotificationDto {
    fn from(n: Notification) -> Self {
        NotificationDto {
            id: n.id,
            created_at: n.created_at,
            kind: n.kind,
            title: n.title,
            body: n.body,
            link: n.link,
            read_at: n.read_at,
        }
    }
}

/// The acting organisation's notifications, newest first.
#[utoipa::path(get, path = "/api/v1/notifications", tag = "catalog", security(("session" = [])),
    responses((status = 200, body = [NotificationDto])))]
pub async fn notifications(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<NotificationDto>>> {
    let list = state.services.notifications(&caller.principal, 100).await?;
    Ok(Json(list.into_iter().map(Into::into).collect()))
}

#[utoipa::path(post, path = "/api/v1/notifications/{notification_id}/read", tag = "catalog", params(("notification_id" = Uuid, Path)),
    security(("session" = [])), responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn mark_read(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<StatusCode> {
    let id =
        Uuid::parse_str(id.trim()).map_err(|_| ApiError::bad_request(Some("notification_id"), "通知标识格式错误"))?;
    state.services.mark_notification_read(&caller.principal, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Free text and facet filters of a catalog search. Facet values are codes (or the Chinese labels).
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SearchParams {
    /// Words to find in names, abstracts and data items (all must match), or a resource code.
    #[serde(default)]
    pub q: String,
    /// Provider department id.
    #[serde(default)]
    pub provider: String,
    /// `unconditional`, `conditional` or `not_shared`.
    #[serde(default)]
    pub attribute: String,
    /// `{class}-{level}`, e.g. `一般数据-3`.
    #[serde(default)]
    pub grade: String,
    /// Data format code, e.g. `database`.
    #[serde(default)]
    pub format: String,
    /// `service_api`, `bulk_exchange` or `file_download`.
    #[serde(default)]
    pub delivery: String,
    /// Provider's region code (GB/T 2260), e.g. `330100`.
    #[serde(default)]
    pub region: String,
    /// The node that owns the entry, in the national catalog: `national`, `province-330000`, `city-330300` …
    #[serde(default)]
    pub node: String,
    /// `local` (default): this node's catalog, with the entries its child nodes delivered; `national`: the
    /// national catalog, answered by the root node (on the root and on a node not federated, the same as
    /// `local`). 502 `upstream_failed` when the root cannot be reached.
    #[serde(default)]
    pub scope: String,
    #[serde(default)]
    pub offset: usize,
    /// 1–200, default 20.
    pub limit: Option<usize>,
}

/// One published entry found by a search.
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchHitDto {
    pub id: Uuid,
    pub version: u32,
    pub name: String,
    pub resource_code: String,
    pub summary: String,
    pub provider_id: Uuid,
    pub provider_name: String,
    pub region: String,
    pub sharing_attribute: String,
    pub grade: String,
    pub format: String,
    pub delivery_methods: Vec<String>,
    pub published_at: DateTime<Utc>,
    /// The node that owns the entry (where applications for it are answered); absent on a node not federated.
    pub node: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FacetValueDto {
    pub value: String,
    pub label: String,
    pub count: u64,
    pub selected: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FacetDto {
    /// `provider`, `attribute`, `grade`, `format`, `delivery`, `region` or `node`: the query parameter that
    /// filters on it.
    pub dimension: String,
    pub label: String,
    pub values: Vec<FacetValueDto>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SearchResultsDto {
    /// Matching entries in all.
    pub total: usize,
    pub offset: usize,
    pub limit: usize,
    pub hits: Vec<SearchHitDto>,
    /// Counts among the matching entries, per facet, most frequent first.
    pub facets: Vec<FacetDto>,
}

/// Chinese full-text search of the published catalog with facets (R-CAT-5); with `scope=national`, of the
/// national catalog every node's entries flow up to (Art. 30–32).
#[utoipa::path(get, path = "/api/v1/catalog/search", tag = "catalog", params(SearchParams), security(("session" = []), ("api_key" = [])),
    responses((status = 200, body = SearchResultsDto), (status = 422, body = ErrorBody), (status = 502, body = ErrorBody)))]
pub async fn search(
    State(state): State<AppState>,
    caller: Caller,
    Query(p): Query<SearchParams>,
) -> ApiResult<Json<SearchResultsDto>> {
    let request = govshare_service::SearchRequest {
        q: p.q,
        provider: p.provider,
        attribute: p.attribute,
        grade: p.grade,
        format: p.format,
        delivery: p.delivery,
        region: p.region,
        node: p.node,
        scope: p.scope,
        offset: p.offset,
        limit: p.limit,
    };
    let found = state.services.search_catalog(&caller.principal, &request).await?;
    Ok(Json(SearchResultsDto {
        total: found.total,
        offset: found.offset,
        limit: found.limit,
        hits: found
            .hits
            .into_iter()
            .map(|h| SearchHitDto {
                id: h.id.0,
                version: h.version,
                name: h.name,
                resource_code: h.resource_code,
                summary: h.summary,
                provider_id: h.provider.0,
                provider_name: h.provider_name,
                region: h.region.to_string(),
                sharing_attribute: h.attribute.code().to_owned(),
                grade: h.grade,
                format: h.format.code().to_owned(),
                delivery_methods: h.delivery.iter().map(|d| d.code().to_owned()).collect(),
                published_at: h.published_at,
                node: h.node.map(|n| n.to_string()),
            })
            .collect(),
        facets: found
            .facets
            .into_iter()
            .map(|f| FacetDto {
                dimension: f.dimension.key().to_owned(),
                label: f.label.to_owned(),
                values: f
                    .values
                    .into_iter()
                    .map(|v| FacetValueDto { value: v.value, label: v.label, count: v.count, selected: v.selected })
                    .collect(),
            })
            .collect(),
    }))
}
