//! After sharing (2): corrections (Art. 26, R-QC-1), disputes (Art. 28, R-QC-2) and public complaints
//! (Art. 37 ¶2, R-QC-3), with the public desk that needs no account.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use base64::Engine;
use chrono::{DateTime, NaiveDate, Utc};
use govshare_domain::attachment::AttachmentRef;
use govshare_domain::catalog::EntryId;
use govshare_domain::complaint::{ComplaintId, ComplaintInput};
use govshare_domain::correction::{AnswerInput, Claim, CorrectionId, CorrectionInput, CorrectionStats};
use govshare_domain::dispute::{DisputeId, DisputeInput, StepInput};
use govshare_service::{ComplaintView, CorrectionView, DisputeView, Upload};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{ApiJson, ApiResult, ClientAddress, parse_id};
use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};

/// Largest JSON body of a request with an attachment (2 MiB, base64) and its fields.
pub const MAX_CASE_BODY_BYTES: usize = govshare_domain::attachment::MAX_ATTACHMENT_BYTES * 4 / 3 + 64 * 1024;

#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct AttachmentInputDto {
    pub file_name: String,
    /// The file, base64 (standard alphabet). PDF, PNG or JPEG (recognised by content), at most 2 MiB.
    pub content_base64: String,
}

fn upload(dto: Option<AttachmentInputDto>) -> Result<Option<Upload>, ApiError> {
    let Some(dto) = dto.filter(|d| !d.content_base64.trim().is_empty()) else { return Ok(None) };
    let data = base64::engine::general_purpose::STANDARD.decode(dto.content_base64.trim()).map_err(|_| {
        ApiError::Service(
            govshare_domain::ValidationError::new("attachment.content_base64", "base64", "附件内容不是有效的 base64")
                .into(),
        )
    })?;
    Ok(Some(Upload { name: dto.file_name, data }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AttachmentDto {
    pub id: Uuid,
    pub name: String,
    pub content_type: String,
    pub bytes: u64,
    /// SM3 of the content, hex.
    pub sm3: String,
}

impl From<AttachmentRef> for AttachmentDto {
    fn from(a: AttachmentRef) -> Self {
        AttachmentDto { id: a.id, name: a.name, content_type: a.content_type, bytes: a.bytes, sm3: a.sm3 }
    }
}

pub fn file_response(meta: &AttachmentRef, data: Vec<u8>) -> Response {
    let content_type = match meta.content_type.as_str() {
        "application/pdf" => "application/pdf",
        "image/png" => "image/png",
        "image/jpeg" => "image/jpeg",
        _ => "application/octet-stream",
    };
    let mut response = super::interchange::attachment_named(content_type, "attachment", &meta.name, data);
    response.headers_mut().insert("x-content-type-options", axum::http::HeaderValue::from_static("nosniff"));
    response
}

// ---- corrections ----

#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct ClaimDto {
    /// A granted item's code.
    pub item: String,
    /// The value the requester believes right; empty when it does not know it.
    pub value: String,
}

#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct NewCorrectionDto {
    /// The grant the record was received under (the caller's department must be its requester).
    pub grant: String,
    /// The value of the record's key item.
    pub key: String,
    /// The items believed wrong or missing (1 to 50, each once).
    pub claims: Vec<ClaimDto>,
    /// The grounds: what was found and why it is believed wrong (at most 2000 characters).
    pub evidence: String,
    /// The source checked against (a register, a document, a site visit), optional.
    pub checked_against: String,
    pub attachment: Option<AttachmentInputDto>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CorrectionStepDto {
    pub at: DateTime<Utc>,
    pub actor: String,
    pub org_id: Uuid,
    /// `file`, `answer` or `correct` (a provider's own correction).
    pub step: String,
    pub text: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ValueChangeDto {
    pub item: String,
    #[schema(value_type = Object)]
    pub old: serde_json::Value,
    #[schema(value_type = Object)]
    pub new: serde_json::Value,
}

/// What the case says of the record: for the two departments' staff only.
#[derive(Debug, Serialize, ToSchema)]
pub struct CorrectionSubjectDto {
    pub key: String,
    pub claims: Vec<ClaimDto>,
    pub changes: Vec<ValueChangeDto>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CorrectionAnswerDto {
    /// `corrected` (已更正), `confirmed` (经核实无误) or `partly` (部分更正).
    pub outcome: String,
    pub reasons: String,
    pub changed_items: Vec<String>,
    /// The change-feed sequence number of the corrected version (hosted sources).
    pub applied_seq: Option<i64>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CorrectionDto {
    pub id: Uuid,
    /// `JH-2026-000001` (校核编号); the change feed and the disputed marks name it.
    pub number: String,
    pub entry_id: Uuid,
    pub entry_name: String,
    pub provider_id: Uuid,
    pub provider_name: String,
    /// `null` for a provider's own correction.
    pub requester_id: Option<Uuid>,
    pub requester_name: Option<String>,
    pub grant_id: Option<Uuid>,
    /// The record's key, masked.
    pub key_hint: String,
    pub items: Vec<String>,
    pub evidence: String,
    pub checked_against: String,
    pub attachment: Option<AttachmentDto>,
    pub received_at: DateTime<Utc>,
    /// The answer's due date (10 working days from receipt, 北京时间) and whether it is or was late.
    pub due_on: Option<NaiveDate>,
    pub late: bool,
    /// Under review: the record is marked disputed for every grant meanwhile.
    pub open: bool,
    pub answer: Option<CorrectionAnswerDto>,
    pub subject: Option<CorrectionSubjectDto>,
    pub steps: Vec<CorrectionStepDto>,
}

impl From<CorrectionView> for CorrectionDto {
    fn from(v: CorrectionView) -> Self {
        let c = v.correction;
        CorrectionDto {
            open: c.is_open(),
            id: c.id.0,
            number: c.number,
            entry_id: c.entry.0,
            entry_name: v.entry_name,
            provider_id: c.provider.0,
            provider_name: v.provider_name,
            requester_id: c.requester.map(|r| r.0),
            requester_name: v.requester_name,
            grant_id: c.grant.map(|g| g.0),
            key_hint: c.key_hint,
            items: c.items,
            evidence: c.evidence,
            checked_against: c.checked_against,
            attachment: c.attachment.map(Into::into),
            received_at: c.received_at,
            due_on: v.due_on,
            late: v.late,
            answer: c.answer.map(|a| CorrectionAnswerDto {
                outcome: a.outcome.code().into(),
                reasons: a.reasons,
                changed_items: a.changed_items,
                applied_seq: a.applied_seq,
                at: a.at,
            }),
            subject: v.subject.map(|s| CorrectionSubjectDto {
                key: s.key,
                claims: s.claims.into_iter().map(|c| ClaimDto { item: c.item, value: c.value }).collect(),
                changes: s
                    .changes
                    .into_iter()
                    .map(|c| ValueChangeDto { item: c.item, old: c.old, new: c.new })
                    .collect(),
            }),
            steps: c
                .events
                .into_iter()
                .map(|e| CorrectionStepDto { at: e.at, actor: e.actor, org_id: e.org.0, step: e.step, text: e.text })
                .collect(),
        }
    }
}

/// The requester's clerk or head files a correction request (校核申请) on one record received under its grant.
/// From now until the answer the record is marked disputed (异议标注) in every grant's lookups, queries, change
/// feed and downloads; the provider owes the answer within 10 working days of receipt (Art. 26).
#[utoipa::path(post, path = "/api/v1/corrections", tag = "corrections", request_body = NewCorrectionDto,
    security(("session" = [])),
    responses((status = 201, body = CorrectionDto), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn file_correction(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<NewCorrectionDto>,
) -> ApiResult<(StatusCode, Json<CorrectionDto>)> {
    let input = CorrectionInput {
        grant: body.grant,
        key: body.key,
        claims: body.claims.into_iter().map(|c| Claim { item: c.item, value: c.value }).collect(),
        evidence: body.evidence,
        checked_against: body.checked_against,
    };
    let upload = upload(body.attachment)?;
    let c = state.services.file_correction(&caller.principal, &input, upload.as_ref()).await?;
    Ok((StatusCode::CREATED, Json(state.services.get_correction(&caller.principal, c.id).await?.into())))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct CorrectionListParams {
    /// Only the correction history of this catalog entry.
    pub entry: Option<String>,
}

/// The corrections the caller may read, newest first: its department's (filed or received); an authority's,
/// those with a department of its region.
#[utoipa::path(get, path = "/api/v1/corrections", tag = "corrections", params(CorrectionListParams),
    security(("session" = [])), responses((status = 200, body = [CorrectionDto]), (status = 422, body = ErrorBody)))]
pub async fn list_corrections(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<CorrectionListParams>,
) -> ApiResult<Json<Vec<CorrectionDto>>> {
    let entry: Option<EntryId> = params.entry.as_deref().filter(|s| !s.is_empty()).map(parse_id).transpose()?;
    Ok(Json(state.services.list_corrections(&caller.principal, entry).await?.into_iter().map(Into::into).collect()))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CorrectionStatsDto {
    pub requests: u64,
    pub open: u64,
    pub answered: u64,
    pub corrected: u64,
    pub late: u64,
    pub proactive: u64,
    /// corrected / answered.
    pub correction_rate: Option<f64>,
    /// Mean working days from receipt to answer.
    pub mean_turnaround_days: Option<f64>,
}

impl From<CorrectionStats> for CorrectionStatsDto {
    fn from(s: CorrectionStats) -> Self {
        CorrectionStatsDto {
            requests: s.requests,
            open: s.open,
            answered: s.answered,
            corrected: s.corrected,
            late: s.late,
            proactive: s.proactive,
            correction_rate: s.correction_rate,
            mean_turnaround_days: s.mean_turnaround_days,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FigureRowDto {
    pub id: Uuid,
    pub name: String,
    pub stats: CorrectionStatsDto,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CorrectionFiguresDto {
    /// By providing department.
    pub departments: Vec<FigureRowDto>,
    pub entries: Vec<FigureRowDto>,
}

/// Correction rate (corrected / answered) and turnaround (working days) by providing department and by entry,
/// over the corrections the caller may read.
#[utoipa::path(get, path = "/api/v1/corrections/figures", tag = "corrections", security(("session" = [])),
    responses((status = 200, body = CorrectionFiguresDto)))]
pub async fn correction_figures(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<CorrectionFiguresDto>> {
    let f = state.services.correction_figures(&caller.principal).await?;
    let rows = |rows: Vec<govshare_service::FigureRow>| {
        rows.into_iter().map(|r| FigureRowDto { id: r.id, name: r.name, stats: r.stats.into() }).collect()
    };
    Ok(Json(CorrectionFiguresDto { departments: rows(f.departments), entries: rows(f.entries) }))
}

/// One correction: the two departments' staff (with the record's key and values), the authorities of their
/// regions (without them).
#[utoipa::path(get, path = "/api/v1/corrections/{correction_id}", tag = "corrections",
    params(("correction_id" = Uuid, Path)), security(("session" = [])),
    responses((status = 200, body = CorrectionDto), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_correction(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<CorrectionDto>> {
    let id: CorrectionId = parse_id(&id)?;
    Ok(Json(state.services.get_correction(&caller.principal, id).await?.into()))
}

#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct CorrectionAnswerInputDto {
    /// `corrected`, `confirmed` or `partly`.
    pub outcome: String,
    /// Required for `confirmed` and `partly`.
    pub reasons: String,
    /// The corrected values by item code (never the key item), typed as the item: required for `corrected` and
    /// `partly`, refused for `confirmed`.
    pub values: BTreeMap<String, String>,
}

/// The provider's clerk or head answers: the corrected values are written to the hosted record in the same step
/// (a new version in the change feed, naming this correction), and the disputed mark is lifted.
#[utoipa::path(post, path = "/api/v1/corrections/{correction_id}/answer", tag = "corrections",
    params(("correction_id" = Uuid, Path)), request_body = CorrectionAnswerInputDto, security(("session" = [])),
    responses((status = 200, body = CorrectionDto), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn answer_correction(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<CorrectionAnswerInputDto>,
) -> ApiResult<Json<CorrectionDto>> {
    let id: CorrectionId = parse_id(&id)?;
    let input = AnswerInput { outcome: body.outcome, reasons: body.reasons, values: body.values };
    state.services.answer_correction(&caller.principal, id, &input).await?;
    Ok(Json(state.services.get_correction(&caller.principal, id).await?.into()))
}

/// The request's attachment, for the two departments' staff.
#[utoipa::path(get, path = "/api/v1/corrections/{correction_id}/attachment", tag = "corrections",
    params(("correction_id" = Uuid, Path)), security(("session" = [])),
    responses((status = 200, description = "the file (PDF, PNG or JPEG)"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn correction_attachment(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let id: CorrectionId = parse_id(&id)?;
    let (meta, data) = state.services.correction_attachment(&caller.principal, id).await?;
    Ok(file_response(&meta, data))
}

#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct ProactiveCorrectionDto {
    /// The value of the record's key item.
    pub key: String,
    /// The corrected values by item code (never the key item).
    pub values: BTreeMap<String, String>,
    /// Why (required).
    pub reasons: String,
}

/// The provider corrects one of its hosted records on its own initiative: written at once, it reaches every
/// grant through the change feed with the correction's number.
#[utoipa::path(post, path = "/api/v1/catalog/{entry_id}/corrections", tag = "corrections",
    params(("entry_id" = Uuid, Path)), request_body = ProactiveCorrectionDto, security(("session" = [])),
    responses((status = 201, body = CorrectionDto), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn correct_record(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ProactiveCorrectionDto>,
) -> ApiResult<(StatusCode, Json<CorrectionDto>)> {
    let entry: EntryId = parse_id(&id)?;
    let c = state.services.correct_record(&caller.principal, entry, &body.key, &body.values, &body.reasons).await?;
    Ok((StatusCode::CREATED, Json(state.services.get_correction(&caller.principal, c.id).await?.into())))
}

// ---- disputes ----

#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct NewDisputeDto {
    /// The other department.
    pub counterpart: String,
    /// `refusal`, `condition`, `delivery`, `correction` or `other`.
    pub matter: String,
    /// The application, grant or correction it is about, between the two departments: at least one unless
    /// `matter` is `other`.
    pub application: String,
    pub grant: String,
    pub correction: String,
    pub title: String,
    pub description: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DisputeStepDto {
    pub at: DateTime<Utc>,
    pub actor: String,
    pub org_id: Uuid,
    /// `negotiate`, `agree`, `escalate`, `coordinate`, `refer` or `decide`.
    pub step: String,
    /// The stage it was taken in.
    pub stage: String,
    pub meeting: String,
    pub positions: String,
    pub outcome: String,
    pub document: String,
    pub decided_on: Option<NaiveDate>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DisputeDto {
    pub id: Uuid,
    /// `ZY-2026-000001` (争议编号).
    pub number: String,
    pub opener_id: Uuid,
    pub opener_name: String,
    pub counterpart_id: Uuid,
    pub counterpart_name: String,
    pub matter: String,
    pub application_id: Option<Uuid>,
    pub grant_id: Option<Uuid>,
    pub correction_id: Option<Uuid>,
    pub title: String,
    pub description: String,
    /// `negotiation`, `coordination`, `decision`, `resolved` or `decided`.
    pub stage: String,
    /// The lowest region both parties lie in: its authority coordinates. `null` across provinces.
    pub coordinator_region: Option<String>,
    pub coordinator_id: Option<Uuid>,
    pub coordinator_name: Option<String>,
    /// The coordinator is the parties' common superior authority (cross-level or cross-region).
    pub superior: bool,
    pub coordination_due_on: Option<NaiveDate>,
    pub coordination_late: bool,
    pub created_at: DateTime<Utc>,
    pub steps: Vec<DisputeStepDto>,
}

impl From<DisputeView> for DisputeDto {
    fn from(v: DisputeView) -> Self {
        let d = v.dispute;
        DisputeDto {
            id: d.id.0,
            number: d.number,
            opener_id: d.opener.0,
            opener_name: v.opener_name,
            counterpart_id: d.counterpart.0,
            counterpart_name: v.counterpart_name,
            matter: d.matter.code().into(),
            application_id: d.application.map(|a| a.0),
            grant_id: d.grant.map(|g| g.0),
            correction_id: d.correction.map(|c| c.0),
            title: d.title,
            description: d.description,
            stage: d.stage.code().into(),
            coordinator_region: d.coordinator_region.map(|r| r.to_string()),
            coordinator_id: d.coordinator.map(|o| o.0),
            coordinator_name: v.coordinator_name,
            superior: v.superior,
            coordination_due_on: v.coordination_due_on,
            coordination_late: v.coordination_late,
            created_at: d.created_at,
            steps: d
                .steps
                .into_iter()
                .map(|s| DisputeStepDto {
                    at: s.at,
                    actor: s.actor,
                    org_id: s.org.0,
                    step: s.kind.code().into(),
                    stage: s.stage.code().into(),
                    meeting: s.meeting,
                    positions: s.positions,
                    outcome: s.outcome,
                    document: s.document,
                    decided_on: s.decided_on,
                })
                .collect(),
        }
    }
}

/// A department's clerk or head opens a sharing dispute with another department (Art. 28). It starts in
/// negotiation between the two.
#[utoipa::path(post, path = "/api/v1/disputes", tag = "disputes", request_body = NewDisputeDto,
    security(("session" = [])),
    responses((status = 201, body = DisputeDto), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn open_dispute(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<NewDisputeDto>,
) -> ApiResult<(StatusCode, Json<DisputeDto>)> {
    let input = DisputeInput {
        counterpart: body.counterpart,
        matter: body.matter,
        application: body.application,
        grant: body.grant,
        correction: body.correction,
        title: body.title,
        description: body.description,
    };
    Ok((StatusCode::CREATED, Json(state.services.open_dispute(&caller.principal, &input).await?.into())))
}

/// The caller's department's disputes; an authority's: every dispute with a party in its region.
#[utoipa::path(get, path = "/api/v1/disputes", tag = "disputes", security(("session" = [])),
    responses((status = 200, body = [DisputeDto])))]
pub async fn list_disputes(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<DisputeDto>>> {
    Ok(Json(state.services.list_disputes(&caller.principal).await?.into_iter().map(Into::into).collect()))
}

#[utoipa::path(get, path = "/api/v1/disputes/{dispute_id}", tag = "disputes", params(("dispute_id" = Uuid, Path)),
    security(("session" = [])),
    responses((status = 200, body = DisputeDto), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_dispute(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<DisputeDto>> {
    let id: DisputeId = parse_id(&id)?;
    Ok(Json(state.services.get_dispute(&caller.principal, id).await?.into()))
}

#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct DisputeStepInputDto {
    /// By the parties in negotiation: `negotiate` (a meeting: `meeting`, `positions`, `outcome`), `agree`,
    /// `escalate` (negotiation failed: the coordinating authority takes it, with a deadline). By the
    /// coordinating authority's reviewer: `coordinate` (its work: `meeting`, `positions`, `outcome`), `agree`,
    /// `refer` (coordination failed: to its people's government), `decide` (the government's decision:
    /// `document`, `decided_on`). A step out of turn is refused (409, e.g. `negotiation_required`).
    pub step: String,
    pub meeting: String,
    pub positions: String,
    pub outcome: String,
    pub document: String,
    /// `YYYY-MM-DD`.
    pub decided_on: String,
}

/// A step on the ladder (negotiation → coordination → the people's government); no rung can be skipped.
#[utoipa::path(post, path = "/api/v1/disputes/{dispute_id}/steps", tag = "disputes",
    params(("dispute_id" = Uuid, Path)), request_body = DisputeStepInputDto, security(("session" = [])),
    responses((status = 200, body = DisputeDto), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn dispute_step(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<DisputeStepInputDto>,
) -> ApiResult<Json<DisputeDto>> {
    let id: DisputeId = parse_id(&id)?;
    let input = StepInput {
        step: body.step,
        meeting: body.meeting,
        positions: body.positions,
        outcome: body.outcome,
        document: body.document,
        decided_on: body.decided_on,
    };
    Ok(Json(state.services.dispute_step(&caller.principal, id, &input).await?.into()))
}

// ---- complaints: handling ----

#[derive(Debug, Serialize, ToSchema)]
pub struct ComplainantDto {
    pub name: String,
    pub contact: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ComplaintStepDto {
    pub at: DateTime<Utc>,
    pub actor: String,
    /// `file`, `accept`, `decline`, `transfer`, `note` (internal) or `answer`.
    pub step: String,
    pub text: String,
    pub to: Option<Uuid>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ComplaintDto {
    pub id: Uuid,
    /// `TS-2026-000001` (投诉编号, for the handlers; the complainant has the tracking code).
    pub number: String,
    /// `complaint` (投诉) or `report` (举报).
    pub kind: String,
    pub handler_id: Uuid,
    pub handler_name: String,
    pub concerned_id: Option<Uuid>,
    pub concerned_name: Option<String>,
    pub title: String,
    pub description: String,
    pub happened_on: Option<NaiveDate>,
    /// The complainant's name and contact: only for those handling the case.
    pub complainant: Option<ComplainantDto>,
    pub attachment: Option<AttachmentDto>,
    pub received_at: DateTime<Utc>,
    /// `待受理`, `办理中` or `已办结`.
    pub state: String,
    pub due_on: Option<NaiveDate>,
    pub late: bool,
    pub steps: Vec<ComplaintStepDto>,
}

impl From<ComplaintView> for ComplaintDto {
    fn from(v: ComplaintView) -> Self {
        let c = v.complaint;
        ComplaintDto {
            id: c.id.0,
            number: c.number,
            kind: match c.kind {
                govshare_domain::complaint::ComplaintKind::Complaint => "complaint".into(),
                govshare_domain::complaint::ComplaintKind::Report => "report".into(),
            },
            handler_id: c.handler.0,
            handler_name: v.handler_name,
            concerned_id: c.concerned.map(|o| o.0),
            concerned_name: v.concerned_name,
            title: c.title,
            description: c.description,
            happened_on: c.happened_on,
            complainant: v.complainant.map(|p| ComplainantDto { name: p.name, contact: p.contact }),
            attachment: c.attachment.map(Into::into),
            received_at: c.received_at,
            state: v.state,
            due_on: v.due_on,
            late: v.late,
            steps: c
                .events
                .into_iter()
                .map(|e| ComplaintStepDto {
                    at: e.at,
                    actor: e.actor,
                    step: e.step.code().into(),
                    text: e.text,
                    to: e.to.map(|o| o.0),
                })
                .collect(),
        }
    }
}

/// The complaints and reports with the caller's department; an authority's: every one handled in its region.
#[utoipa::path(get, path = "/api/v1/complaints", tag = "complaints", security(("session" = [])),
    responses((status = 200, body = [ComplaintDto])))]
pub async fn list_complaints(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<ComplaintDto>>> {
    Ok(Json(state.services.list_complaints(&caller.principal).await?.into_iter().map(Into::into).collect()))
}

#[utoipa::path(get, path = "/api/v1/complaints/{complaint_id}", tag = "complaints",
    params(("complaint_id" = Uuid, Path)), security(("session" = [])),
    responses((status = 200, body = ComplaintDto), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_complaint(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<ComplaintDto>> {
    let id: ComplaintId = parse_id(&id)?;
    Ok(Json(state.services.get_complaint(&caller.principal, id).await?.into()))
}

#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct ComplaintStepInputDto {
    /// `accept`, `decline` (reasons, shown to the complainant), `transfer` (to `to`, with reasons), `note`
    /// (internal) or `answer` (shown to the complainant; closes the case).
    pub step: String,
    pub text: String,
    /// A transfer's new handler (an organisation id).
    pub to: String,
}

/// The handler's staff take a step; a transfer hands the duty, with its deadline, to the new handler.
#[utoipa::path(post, path = "/api/v1/complaints/{complaint_id}/steps", tag = "complaints",
    params(("complaint_id" = Uuid, Path)), request_body = ComplaintStepInputDto, security(("session" = [])),
    responses((status = 200, body = ComplaintDto), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn complaint_step(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ComplaintStepInputDto>,
) -> ApiResult<Json<ComplaintDto>> {
    let id: ComplaintId = parse_id(&id)?;
    let to = (!body.to.trim().is_empty()).then_some(body.to.as_str());
    Ok(Json(state.services.complaint_step(&caller.principal, id, &body.step, &body.text, to).await?.into()))
}

#[utoipa::path(get, path = "/api/v1/complaints/{complaint_id}/attachment", tag = "complaints",
    params(("complaint_id" = Uuid, Path)), security(("session" = [])),
    responses((status = 200, description = "the file (PDF, PNG or JPEG)"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn complaint_attachment(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let id: ComplaintId = parse_id(&id)?;
    let (meta, data) = state.services.complaint_attachment(&caller.principal, id).await?;
    Ok(file_response(&meta, data))
}

// ---- complaints: the public desk (no account) ----

#[derive(Debug, Serialize, ToSchema)]
pub struct ChallengeDto {
    /// A sum in Chinese numerals, to answer in digits.
    pub question: String,
    /// Send back as `challenge_token`; good once, for 20 minutes.
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

/// A challenge for the public form (no third-party service): answer it in the filing.
#[utoipa::path(get, path = "/api/v1/public/complaints/challenge", tag = "public",
    responses((status = 200, body = ChallengeDto)))]
pub async fn challenge(State(state): State<AppState>) -> Json<ChallengeDto> {
    let c = state.services.complaint_challenge();
    Json(ChallengeDto { question: c.question, token: c.token, expires_at: c.expires_at })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DepartmentDto {
    pub id: Uuid,
    pub name: String,
}

/// The departments a complaint can name (names only).
#[utoipa::path(get, path = "/api/v1/public/departments", tag = "public",
    responses((status = 200, body = [DepartmentDto])))]
pub async fn departments(State(state): State<AppState>) -> ApiResult<Json<Vec<DepartmentDto>>> {
    let list = state.services.complaint_departments().await?;
    Ok(Json(list.into_iter().map(|(id, name)| DepartmentDto { id: id.0, name }).collect()))
}

#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct NewComplaintDto {
    /// `complaint` (投诉) or `report` (举报).
    pub kind: String,
    /// The department concerned (an id from `/api/v1/public/departments`); empty when unknown: the authority
    /// takes it.
    pub department: String,
    /// At most 100 characters.
    pub title: String,
    /// What happened and what is asked (at most 3000 characters).
    pub description: String,
    /// `YYYY-MM-DD`, optional; not in the future.
    pub happened_on: String,
    /// Optional: a complaint may be anonymous.
    pub name: String,
    /// How to reach the complainant for the answer (required); seen only by those handling it.
    pub contact: String,
    pub challenge_token: String,
    pub challenge_answer: String,
    /// Leave empty (a field only robots fill in).
    pub website: String,
    pub attachment: Option<AttachmentInputDto>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReceiptDto {
    /// The tracking code (查询码): the only way to the case's status. Shown once; the platform keeps only its
    /// keyed digest.
    pub tracking_code: String,
    pub received_at: DateTime<Utc>,
    pub kind: String,
    pub title: String,
    pub handler_name: String,
    pub due_on: Option<NaiveDate>,
}

/// Files a complaint or report without an account (Art. 37 ¶2): limited to 5 filings (and 30 attempts) an hour per address and
/// behind the challenge; answered with the tracking code and a receipt.
#[utoipa::path(post, path = "/api/v1/public/complaints", tag = "public", request_body = NewComplaintDto,
    responses((status = 201, body = ReceiptDto), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn file_complaint(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    ApiJson(body): ApiJson<NewComplaintDto>,
) -> ApiResult<(StatusCode, Json<ReceiptDto>)> {
    let input = ComplaintInput {
        kind: body.kind,
        department: body.department,
        title: body.title,
        description: body.description,
        happened_on: body.happened_on,
        name: body.name,
        contact: body.contact,
    };
    let upload = upload(body.attachment)?;
    let r = state
        .services
        .file_complaint(&client, &input, &body.challenge_token, &body.challenge_answer, &body.website, upload.as_ref())
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(ReceiptDto {
            tracking_code: r.tracking_code,
            received_at: r.received_at,
            kind: r.kind,
            title: r.title,
            handler_name: r.handler_name,
            due_on: r.due_on,
        }),
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PublicStepDto {
    pub at: DateTime<Utc>,
    pub label: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PublicStatusDto {
    pub kind: String,
    pub title: String,
    pub received_at: DateTime<Utc>,
    pub state: String,
    pub due_on: Option<NaiveDate>,
    /// The public steps only (never internal notes or who handled it).
    pub steps: Vec<PublicStepDto>,
    pub answer: Option<String>,
    pub answered_at: Option<DateTime<Utc>>,
}

/// The status of the case with this tracking code: 404 for anything that is not one; 20 lookups a minute per
/// address.
#[utoipa::path(get, path = "/api/v1/public/complaints/{tracking_code}", tag = "public",
    params(("tracking_code" = String, Path)),
    responses((status = 200, body = PublicStatusDto), (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn complaint_status(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    Path(code): Path<String>,
) -> ApiResult<Json<PublicStatusDto>> {
    let s = state.services.complaint_status(&client, &code).await?;
    Ok(Json(PublicStatusDto {
        kind: s.kind,
        title: s.title,
        received_at: s.received_at,
        state: s.state,
        due_on: s.due_on,
        steps: s.steps.into_iter().map(|p| PublicStepDto { at: p.at, label: p.label }).collect(),
        answer: s.answer,
        answered_at: s.answered_at,
    }))
}
