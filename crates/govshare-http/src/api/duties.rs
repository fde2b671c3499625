//! The to-do list (待办): the duties the acting organisation owes, for the caller's roles there (R-APP-5).

use axum::Json;
use axum::extract::{Query, State};
use chrono::{DateTime, NaiveDate, Utc};
use govshare_service::{DutyState, DutyView, ServiceError};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::ApiResult;
use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DutyQuery {
    /// Whose duties: `me` (default), the acting organisation's duties for the caller's roles there (an API key:
    /// all the organisation's duties).
    pub party: Option<String>,
    /// `open` (default), `closed` or `all`.
    pub state: Option<String>,
}

/// One duty: something the organisation must do, by when, under which article.
#[derive(Debug, Serialize, ToSchema)]
pub struct DutyDto {
    /// Stable identifier of the duty.
    pub key: String,
    /// `revise_application`, `approve_application`, `reply`, `decide_reply_extension`, `supplement`, `deliver`,
    /// `approve_entry`, `revise_entry`, `review_entry`, `update_catalog`, `decide_update_extension`, `rectify`
    /// (Art. 27 ¶2: the requester rectifies a misuse by the deadline the suspension set) or `decide_rectification`.
    pub kind: String,
    /// What must be done, in Chinese (e.g. 答复共享申请).
    pub label: String,
    pub article: String,
    /// `application`, `entry`, `obligation` or `grant`.
    pub subject_kind: String,
    pub subject_id: Uuid,
    /// What it is about (the catalog entry's name).
    pub title: String,
    pub owner: Uuid,
    /// The role that must act: `clerk`, `work_unit_head`, `authority_reviewer`.
    pub role: String,
    pub role_label: String,
    pub counterpart: Option<Uuid>,
    pub counterpart_name: Option<String>,
    pub started_at: DateTime<Utc>,
    /// The statutory period in working days (with a granted extension); absent where the regulation sets none.
    pub days: Option<u32>,
    pub due_at: Option<DateTime<Utc>>,
    pub due_date: Option<NaiveDate>,
    /// Working days left while open: the period's days not yet over, today included while it is one of them (on the
    /// day of receipt of a 10-day period: 10); negative when overdue.
    pub working_days_left: Option<i64>,
    pub closed_at: Option<DateTime<Utc>>,
    /// Closed because it was done (false: cut short, e.g. by a withdrawal).
    pub met: bool,
    /// Met late, or open past its due time.
    pub late: bool,
    /// `overdue`, `soon` (due within 2 working days), `normal`, `untimed` (no statutory period) or `closed`.
    pub urgency: String,
    /// The console page where it is acted on.
    pub link: String,
}

impl From<DutyView> for DutyDto {
    fn from(v: DutyView) -> Self {
        let d = v.duty;
        DutyDto {
            key: d.key,
            kind: d.kind.code().to_owned(),
            label: v.label.to_owned(),
            article: v.article.to_owned(),
            subject_kind: d.subject_kind.code().to_owned(),
            subject_id: d.subject_id,
            title: d.title,
            owner: d.owner.0,
            role: d.role.code().to_owned(),
            role_label: v.role_label.to_owned(),
            counterpart: d.counterpart.map(|c| c.0),
            counterpart_name: v.counterpart_name,
            started_at: d.started_at,
            days: d.days,
            due_at: d.due_at,
            due_date: v.due_date,
            working_days_left: v.working_days_left,
            closed_at: d.closed_at,
            met: d.met,
            late: v.late,
            urgency: v.urgency.code().to_owned(),
            link: v.link,
        }
    }
}

/// The caller's to-do list: open duties by due date (those without a statutory period last), or closed ones
/// newest first. At most 500.
#[utoipa::path(get, path = "/api/v1/duties", tag = "applications", params(DutyQuery),
    security(("session" = []), ("api_key" = [])),
    responses((status = 200, body = [DutyDto]), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<DutyQuery>,
) -> ApiResult<Json<Vec<DutyDto>>> {
    match q.party.as_deref().map(str::trim) {
        None | Some("" | "me") => {}
        Some(other) => {
            return Err(ApiError::from(ServiceError::Validation(govshare_domain::ValidationError::new(
                "party",
                "unknown_value",
                format!("「{other}」不是有效的取值，目前只支持 me（本人在当前单位的待办）"),
            ))));
        }
    }
    let which = DutyState::parse(q.state.as_deref().unwrap_or_default()).map_err(ServiceError::from)?;
    Ok(Json(state.services.my_duties(&caller.principal, which).await?.into_iter().map(Into::into).collect()))
}
