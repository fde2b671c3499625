//! Sharing applications (R-APP-1..5): applying for published entries, replies, supplements, extensions, delivery,
//! and the overdue marks of the deadline job.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::{DateTime, NaiveDate, Utc};
use govshare_domain::ValidationError;
use govshare_domain::application::{ApplicationId, ApplicationInput, Reply, ReplyInput};
use govshare_domain::catalog::EntryId;
use govshare_domain::notification::DeadlineAlert;
use govshare_service::{ApplicationBox, ApplicationView, StepInput};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{ApiJson, ApiResult, parse_id};
use crate::AppState;
use crate::auth::Caller;
use crate::error::ErrorBody;

/// What the requester asks for (Art. 20 ¶2). Item codes or names; dates YYYY-MM-DD.
#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(default)]
pub struct RequestDto {
    /// Data items of the entry (codes or names).
    pub items: Vec<String>,
    /// 使用依据
    pub legal_basis: String,
    /// 依据文件及文号
    pub basis_document: String,
    /// 使用场景
    pub scenario: String,
    /// 使用范围
    pub scope: String,
    /// `service_api`, `bulk_exchange` or `file_download` (or the Chinese label); one the entry offers.
    pub delivery: String,
    pub valid_from: String,
    pub valid_until: String,
}

impl RequestDto {
    pub(crate) fn input(self) -> ApplicationInput {
        ApplicationInput {
            items: self.items,
            legal_basis: self.legal_basis,
            basis_document: self.basis_document,
            scenario: self.scenario,
            scope: self.scope,
            delivery: self.delivery,
            valid_from: self.valid_from,
            valid_until: self.valid_until,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewApplicationDto {
    /// A published entry of another department.
    pub entry_id: Uuid,
    #[serde(flatten)]
    pub request: RequestDto,
    /// Submit to the work-unit head at once (otherwise it stays a draft).
    #[serde(default)]
    pub submit: bool,
}

/// One step on an application's timeline. `step` says which; the other fields are those the step needs:
/// - requester clerk: `edit` (request fields), `submit`, `supplement` (request fields + `note`);
/// - requester head: `return` (`note`), `send`, `withdraw` (`note` optional);
/// - provider clerk: `draft_reply` (`decision` = approve | refuse | supplement, with `conditions`, `reason` or
///   `materials`), `record_delivery` (`note`);
/// - provider head: `return_reply` (`note`), `approve_reply`, `request_extension` (`days` ≤ 10, `reason`);
/// - provider's same-level authority: `decide_extension` (`granted`, `note` required when refusing).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub struct StepDto {
    pub step: String,
    pub note: String,
    #[serde(flatten)]
    pub request: RequestDto,
    pub decision: String,
    pub conditions: String,
    pub reason: String,
    pub materials: Vec<String>,
    pub days: Option<u32>,
    pub granted: Option<bool>,
}

impl StepDto {
    pub(crate) fn input(self) -> Result<StepInput, ValidationError> {
        let StepDto { step, note, request, decision, conditions, reason, materials, days, granted } = self;
        Ok(match step.trim() {
            "edit" => StepInput::Edit(request.input()),
            "submit" => StepInput::Submit,
            "return" => StepInput::Return { note },
            "send" => StepInput::Send { note },
            "withdraw" => StepInput::Withdraw { note },
            "draft_reply" => StepInput::DraftReply(ReplyInput { decision, conditions, reason, materials }),
            "return_reply" => StepInput::ReturnReply { note },
            "approve_reply" => StepInput::ApproveReply { note },
            "supplement" => StepInput::Supplement { request: request.input(), note },
            "request_extension" => StepInput::RequestExtension {
                days: days.ok_or_else(|| ValidationError::new("days", "required", "请填写延长的工作日数"))?,
                reason,
            },
            "decide_extension" => StepInput::DecideExtension {
                granted: granted.ok_or_else(|| ValidationError::new("granted", "required", "请选择是否同意延期"))?,
                note,
            },
            "record_delivery" => StepInput::RecordDelivery { note },
            "" => return Err(ValidationError::new("step", "required", "请指明办理的步骤")),
            other => {
                return Err(ValidationError::new("step", "unknown_value", format!("「{other}」不是有效的办理步骤")));
            }
        })
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReplyDto {
    /// `approve`, `refuse` or `supplement`.
    pub decision: String,
    pub label: String,
    pub conditions: Option<String>,
    pub reason: Option<String>,
    pub materials: Option<Vec<String>>,
}

impl From<Reply> for ReplyDto {
    fn from(r: Reply) -> Self {
        let (decision, label) = (r.code().to_owned(), r.label().to_owned());
        let (conditions, reason, materials) = match r {
            Reply::Approve { conditions } => (Some(conditions), None, None),
            Reply::Refuse { reason } => (None, Some(reason), None),
            Reply::Supplement { materials } => (None, None, Some(materials)),
        };
        ReplyDto { decision, label, conditions, reason, materials }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApplicationExtensionDto {
    pub days: u32,
    pub reason: String,
    pub requested_at: DateTime<Utc>,
    pub requested_by: String,
    /// None while the authority has not decided.
    pub granted: Option<bool>,
    pub decision_note: String,
    pub decided_at: Option<DateTime<Utc>>,
    pub decided_by: Option<String>,
}

/// One deadline period: the reply (1 or 10 working days, plus a granted extension) or the delivery (20).
#[derive(Debug, Serialize, ToSchema)]
pub struct DeadlineDto {
    /// `reply` or `delivery`.
    pub kind: String,
    pub started_at: DateTime<Utc>,
    pub days: u32,
    pub due_date: NaiveDate,
    /// 23:59:59 北京时间 of the due date.
    pub due_at: DateTime<Utc>,
    pub met_at: Option<DateTime<Utc>>,
    pub running: bool,
    pub late: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TimelineStepDto {
    pub at: DateTime<Utc>,
    pub actor: String,
    pub actor_name: String,
    pub org_id: Uuid,
    /// Step code, e.g. `send`, `draft_reply`.
    pub step: String,
    pub label: String,
    /// The step's content (request, reply, note, days …).
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AlertDto {
    /// `reminder` or `overdue`.
    pub kind: String,
    pub subject: String,
    pub what: String,
    pub due_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

impl From<DeadlineAlert> for AlertDto {
    fn from(a: DeadlineAlert) -> Self {
        AlertDto {
            kind: a.kind.code().to_owned(),
            subject: a.subject,
            what: a.note,
            due_at: a.due_at,
            created_at: a.created_at,
        }
    }
}

/// A sharing application, where it stands and every step taken.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApplicationDto {
    pub id: Uuid,
    /// The application's number (申请编号), what people read and quote: `SQ-`, the year of creation (Beijing
    /// time) and that year's sequence. The `id` stays the key of URLs and API calls.
    #[schema(example = "SQ-2026-000123")]
    pub number: String,
    pub entry_id: Uuid,
    pub entry_version: u32,
    pub entry_name: String,
    /// The entry's sharing attribute when applied for: `unconditional` or `conditional`.
    pub attribute: String,
    pub requester_id: Uuid,
    pub requester_name: String,
    pub provider_id: Uuid,
    pub provider_name: String,
    pub created_at: DateTime<Utc>,
    /// `draft`, `awaiting_requester_head`, `awaiting_reply`, `reply_awaiting_head`, `awaiting_supplement`,
    /// `approved`, `delivered`, `refused` or `withdrawn`.
    pub stage: String,
    pub stage_label: String,
    pub request: RequestDto,
    pub reply: Option<ReplyDto>,
    pub replied_at: Option<DateTime<Utc>>,
    pub supplement_notice: Option<Vec<String>>,
    pub extension: Option<ApplicationExtensionDto>,
    /// The running deadline, if the provider owes a reply or a delivery.
    pub due: Option<DeadlineDto>,
    /// Working days left on it, today included while it is a working day; negative when overdue.
    pub working_days_left: Option<i64>,
    /// A deadline was missed at some point.
    pub late: bool,
    pub deadlines: Vec<DeadlineDto>,
    pub timeline: Vec<TimelineStepDto>,
    pub alerts: Vec<AlertDto>,
    /// Steps the caller may take now.
    pub allowed_steps: Vec<String>,
}

fn deadline(p: govshare_domain::application::Period) -> DeadlineDto {
    DeadlineDto {
        kind: p.kind.code().to_owned(),
        started_at: p.started_at,
        days: p.days,
        due_date: p.due_date,
        due_at: p.due_at,
        met_at: p.met_at,
        running: p.running,
        late: p.late,
    }
}

impl From<ApplicationView> for ApplicationDto {
    fn from(v: ApplicationView) -> Self {
        let a = v.application;
        let s = v.status;
        let r = s.request;
        ApplicationDto {
            id: a.id.0,
            number: a.number,
            entry_id: a.entry.0,
            entry_version: a.entry_version,
            entry_name: a.entry_name,
            attribute: a.attribute.code().to_owned(),
            requester_id: v.requester.id.0,
            requester_name: v.requester.name,
            provider_id: v.provider.id.0,
            provider_name: v.provider.name,
            created_at: a.created_at,
            stage: s.stage.code().to_owned(),
            stage_label: s.stage.label().to_owned(),
            request: RequestDto {
                items: r.items,
                legal_basis: r.legal_basis,
                basis_document: r.basis_document,
                scenario: r.scenario,
                scope: r.scope,
                delivery: r.delivery.code().to_owned(),
                valid_from: r.valid_from.to_string(),
                valid_until: r.valid_until.to_string(),
            },
            reply: s.reply.map(Into::into),
            replied_at: s.replied_at,
            supplement_notice: s.supplement_notice,
            extension: s.extension.map(|x| ApplicationExtensionDto {
                days: x.days,
                reason: x.reason,
                requested_at: x.requested_at,
                requested_by: x.requested_by,
                granted: x.granted,
                decision_note: x.decision_note,
                decided_at: x.decided_at,
                decided_by: x.decided_by,
            }),
            due: s.running.map(deadline),
            working_days_left: s.working_days_left,
            late: s.late,
            deadlines: s.periods.into_iter().map(deadline).collect(),
            timeline: a
                .events
                .into_iter()
                .map(|e| {
                    let mut detail = serde_json::to_value(&e.step).unwrap_or_default();
                    if let Some(map) = detail.as_object_mut() {
                        map.remove("step");
                    }
                    TimelineStepDto {
                        at: e.at,
                        actor: e.actor,
                        actor_name: e.actor_name,
                        org_id: e.org.0,
                        step: e.step.code().to_owned(),
                        label: e.step.label().to_owned(),
                        detail,
                    }
                })
                .collect(),
            alerts: v.alerts.into_iter().map(Into::into).collect(),
            allowed_steps: v.allowed_steps.into_iter().map(str::to_owned).collect(),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// `mine` (default): the acting department's applications; `inbox`: those sent to it, most urgent first;
    /// `extensions`: extension requests awaiting the acting authority; `region`: all of the authority's region.
    #[serde(rename = "box")]
    pub which: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/applications", tag = "applications", params(ListQuery),
    security(("session" = [])),
    responses((status = 200, body = [ApplicationDto]), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<Vec<ApplicationDto>>> {
    let which =
        ApplicationBox::parse(q.which.as_deref().unwrap_or_default()).map_err(govshare_service::ServiceError::from)?;
    let views = state.services.list_applications(&caller.principal, which).await?;
    Ok(Json(views.into_iter().map(Into::into).collect()))
}

/// A requester department's clerk applies for data items of a published entry (Art. 20). The work-unit head must
/// then `send` it (with `submit: true` it goes to the head at once).
#[utoipa::path(post, path = "/api/v1/applications", tag = "applications", request_body = NewApplicationDto,
    security(("session" = [])),
    responses((status = 201, body = ApplicationDto), (status = 422, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<NewApplicationDto>,
) -> ApiResult<(StatusCode, Json<ApplicationDto>)> {
    let view = state
        .services
        .create_application(&caller.principal, EntryId(body.entry_id), &body.request.input(), body.submit)
        .await?;
    Ok((StatusCode::CREATED, Json(view.into())))
}

#[utoipa::path(get, path = "/api/v1/applications/{application_id}", tag = "applications",
    params(("application_id" = Uuid, Path)), security(("session" = [])),
    responses((status = 200, body = ApplicationDto), (status = 404, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<ApplicationDto>> {
    let id: ApplicationId = parse_id(&id)?;
    Ok(Json(state.services.get_application(&caller.principal, id).await?.into()))
}

/// Takes the next step of an application. A step that is not allowed now is refused (409 for the wrong stage,
/// 422 naming the rule otherwise, e.g. `supplement_once`, `extension_once`, `incomplete_materials`).
#[utoipa::path(post, path = "/api/v1/applications/{application_id}/steps", tag = "applications",
    params(("application_id" = Uuid, Path)), request_body = StepDto, security(("session" = [])),
    responses((status = 200, body = ApplicationDto), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 403, body = ErrorBody)))]
pub async fn step(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<StepDto>,
) -> ApiResult<Json<ApplicationDto>> {
    let id: ApplicationId = parse_id(&id)?;
    let input = body.input().map_err(govshare_service::ServiceError::from)?;
    Ok(Json(state.services.application_step(&caller.principal, id, &input).await?.into()))
}

/// Deadlines missed, newest first, as marked by the deadline job (supervision, Art. 39).
#[utoipa::path(get, path = "/api/v1/deadlines/overdue", tag = "applications", security(("session" = [])),
    responses((status = 200, body = [AlertDto]), (status = 403, body = ErrorBody)))]
pub async fn overdue(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<AlertDto>>> {
    Ok(Json(state.services.overdue_marks(&caller.principal, 200).await?.into_iter().map(Into::into).collect()))
}
