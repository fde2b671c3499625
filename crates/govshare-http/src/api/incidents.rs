//! Security incident reports (Art. 35 ¶3, R-QC-4).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use govshare_domain::incident::{Incident, IncidentId, IncidentInput};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{ApiJson, ApiResult, parse_id};
use crate::AppState;
use crate::auth::Caller;
use crate::error::ErrorBody;

#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct NewIncidentDto {
    /// What happened, in a line (at most 200 characters).
    pub title: String,
    /// The course of events (at most 2000 characters).
    pub description: String,
    /// When it was found, 北京时间: `YYYY-MM-DDTHH:MM` or `YYYY-MM-DD HH:MM`; not in the future.
    pub found_at: String,
    /// `extremely_severe` (特别重大), `severe` (重大), `significant` (较大) or `general` (一般).
    pub severity: String,
    /// Affected catalog entries: the department's own, or those of the grants below.
    pub entries: Vec<String>,
    /// Affected grants, where the department is provider or requester: those still active are suspended by the
    /// report, in the same step. At least one entry or grant.
    pub grants: Vec<String>,
    /// It happened on the requester's side, in the use of shared data: the grants' requesters are recorded as
    /// bearing the security responsibility (Art. 34 ¶2).
    pub on_requester_side: bool,
    /// The emergency plan started and the measures taken (required: 立即启动应急预案).
    pub emergency_plan: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IncidentStepDto {
    pub at: DateTime<Utc>,
    pub actor: String,
    /// `report`, `progress` or `close`.
    pub step: String,
    pub text: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IncidentDto {
    pub id: Uuid,
    /// `SJ-2026-000001` (事件编号).
    pub number: String,
    pub org_id: Uuid,
    pub region: String,
    pub title: String,
    pub description: String,
    pub found_at: DateTime<Utc>,
    pub severity: String,
    pub entries: Vec<Uuid>,
    pub grants: Vec<Uuid>,
    pub on_requester_side: bool,
    /// The requesters bearing the security responsibility (Art. 34 ¶2).
    pub responsible: Vec<Uuid>,
    pub emergency_plan: String,
    pub closed: bool,
    pub created_at: DateTime<Utc>,
    pub steps: Vec<IncidentStepDto>,
}

impl From<Incident> for IncidentDto {
    fn from(i: Incident) -> Self {
        IncidentDto {
            closed: i.is_closed(),
            id: i.id.0,
            number: i.number,
            org_id: i.org.0,
            region: i.region.to_string(),
            title: i.title,
            description: i.description,
            found_at: i.found_at,
            severity: i.severity.code().to_owned(),
            entries: i.entries.iter().map(|e| e.0).collect(),
            grants: i.grants.iter().map(|g| g.0).collect(),
            on_requester_side: i.on_requester_side,
            responsible: i.responsible.iter().map(|o| o.0).collect(),
            emergency_plan: i.emergency_plan,
            created_at: i.created_at,
            steps: i
                .events
                .into_iter()
                .map(|e| IncidentStepDto { at: e.at, actor: e.actor, step: e.step, text: e.text })
                .collect(),
        }
    }
}

/// A department's clerk or head reports a security incident with the emergency plan it started. Every affected
/// grant still active is suspended in the same step (access refused at once); the department's same-level
/// authority and the grants' other parties are told at once. Every problem of the report is named (422).
#[utoipa::path(post, path = "/api/v1/incidents", tag = "incidents", request_body = NewIncidentDto,
    security(("session" = [])),
    responses((status = 201, body = IncidentDto), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn report(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<NewIncidentDto>,
) -> ApiResult<(StatusCode, Json<IncidentDto>)> {
    let input = IncidentInput {
        title: body.title,
        description: body.description,
        found_at: body.found_at,
        severity: body.severity,
        entries: body.entries,
        grants: body.grants,
        on_requester_side: body.on_requester_side,
        emergency_plan: body.emergency_plan,
    };
    let incident = state.services.report_incident(&caller.principal, &input).await?;
    Ok((StatusCode::CREATED, Json(incident.into())))
}

/// The acting department's incident reports, newest first; an authority's: those of its region's departments.
#[utoipa::path(get, path = "/api/v1/incidents", tag = "incidents", security(("session" = [])),
    responses((status = 200, body = [IncidentDto])))]
pub async fn list(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<IncidentDto>>> {
    Ok(Json(state.services.list_incidents(&caller.principal).await?.into_iter().map(Into::into).collect()))
}

/// One report: readable by the reporting department's staff and its same-level authority.
#[utoipa::path(get, path = "/api/v1/incidents/{incident_id}", tag = "incidents", params(("incident_id" = Uuid, Path)),
    security(("session" = [])), responses((status = 200, body = IncidentDto), (status = 403, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<IncidentDto>> {
    let id: IncidentId = parse_id(&id)?;
    Ok(Json(state.services.get_incident(&caller.principal, id).await?.into()))
}

#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct IncidentStepInputDto {
    /// `progress` (a progress report) or `close` (the closure: how it was handled and the hidden dangers
    /// removed). A closed report takes no further step.
    pub step: String,
    /// At most 2000 characters.
    pub text: String,
}

/// The reporting department's staff report progress or close the report; the authority is told of each.
#[utoipa::path(post, path = "/api/v1/incidents/{incident_id}/steps", tag = "incidents",
    params(("incident_id" = Uuid, Path)), request_body = IncidentStepInputDto, security(("session" = [])),
    responses((status = 200, body = IncidentDto), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn step(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<IncidentStepInputDto>,
) -> ApiResult<Json<IncidentDto>> {
    let id: IncidentId = parse_id(&id)?;
    Ok(Json(state.services.incident_step(&caller.principal, id, &body.step, &body.text).await?.into()))
}
