//! Public complaints and reports (Art. 37 ¶2): the handlers' list and case page in the console, and the public
//! desk (`/public/complaints`), which needs no account: the filing form behind a challenge, the receipt with the
//! tracking code, and the status page.

use askama::Template;
use axum::Form;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use govshare_domain::complaint::{ComplaintId, ComplaintInput, ComplaintState};
use govshare_service::{ComplaintView, PublicStatus, Receipt, ServiceError};
use serde::Deserialize;

use super::ConsoleCaller;
use super::pages::{NoticeQuery, PageResult, actor_name, beijing, fail, layout, path_id, person_names};
use super::render;
use super::view::{Feedback, Layout, Typed, filters, read_upload_form};
use crate::AppState;
use crate::api::ClientAddress;
use crate::auth::Caller;

#[derive(Debug, Clone)]
pub struct ComplaintRow {
    pub id: String,
    pub number: String,
    pub kind: &'static str,
    pub title: String,
    pub handler: String,
    pub state: String,
    pub state_class: &'static str,
    pub received: String,
    pub due: String,
    pub late: bool,
}

fn row(v: &ComplaintView) -> ComplaintRow {
    let c = &v.complaint;
    ComplaintRow {
        id: c.id.to_string(),
        number: c.number.clone(),
        kind: c.kind.label(),
        title: c.title.clone(),
        handler: v.handler_name.clone(),
        state: v.state.clone(),
        state_class: match c.state() {
            ComplaintState::Closed => "tag-ok",
            ComplaintState::Handling => "tag-accent",
            ComplaintState::Received => "tag-warn",
        },
        received: beijing(c.received_at),
        due: v.due_on.map(|d| d.to_string()).unwrap_or_default(),
        late: v.late,
    }
}

#[derive(Template)]
#[template(path = "complaints.html")]
struct ListPage {
    layout: Layout,
    feedback: Feedback,
    rows: Vec<ComplaintRow>,
}

pub async fn list(State(state): State<AppState>, ConsoleCaller(caller): ConsoleCaller) -> PageResult {
    let views = state.services.list_complaints(&caller.principal).await.map_err(fail)?;
    let page = ListPage {
        layout: layout(&state, &caller, "投诉举报", "/console/complaints").await?,
        feedback: Feedback::default(),
        rows: views.iter().map(row).collect(),
    };
    Ok(render(StatusCode::OK, &page))
}

#[derive(Template)]
#[template(path = "complaint_detail.html")]
struct DetailPage {
    layout: Layout,
    feedback: Feedback,
    r: ComplaintRow,
    description: String,
    happened_on: String,
    concerned: String,
    complainant: Option<(String, String)>,
    attachment: Option<(String, u64)>,
    /// (when, who, step, text, public)
    steps: Vec<(String, String, &'static str, String, bool)>,
    /// The steps the caller may take now: (code, label).
    choices: Vec<(&'static str, &'static str)>,
    orgs: Vec<(String, String)>,
}

async fn detail_page(
    state: &AppState,
    caller: &Caller,
    id: ComplaintId,
    feedback: Feedback,
    status: StatusCode,
) -> PageResult {
    use govshare_domain::complaint::ComplaintStep as S;
    let p = &caller.principal;
    let v = state.services.get_complaint(p, id).await.map_err(fail)?;
    let c = &v.complaint;
    let choices = if v.can_handle {
        [S::Accept, S::Decline, S::Transfer, S::Note, S::Answer]
            .into_iter()
            .filter(|s| c.check_step(*s).is_ok())
            .map(|s| (s.code(), s.label()))
            .collect()
    } else {
        vec![]
    };
    let orgs = if v.can_handle {
        let mut all = state.services.store().list_orgs().await.map_err(|e| fail(ServiceError::from(e)))?;
        all.retain(|o| o.id != c.handler);
        all.into_iter().map(|o| (o.id.to_string(), o.name)).collect()
    } else {
        vec![]
    };
    let names = person_names(state, c.events.iter().map(|e| e.actor.as_str()).collect()).await?;
    let page = DetailPage {
        layout: layout(state, caller, "投诉举报", "/console/complaints").await?,
        feedback,
        r: row(&v),
        description: c.description.clone(),
        happened_on: c.happened_on.map(|d| d.to_string()).unwrap_or_else(|| "—".into()),
        concerned: v.concerned_name.clone().unwrap_or_else(|| "（投诉人未能确定，由主管部门分办）".into()),
        complainant: v
            .complainant
            .as_ref()
            .map(|x| (if x.name.is_empty() { "（匿名）".to_owned() } else { x.name.clone() }, x.contact.clone())),
        attachment: c
            .attachment
            .as_ref()
            .filter(|_| v.can_handle || v.complainant.is_some())
            .map(|a| (a.name.clone(), a.bytes)),
        steps: c
            .events
            .iter()
            .map(|e| {
                (
                    beijing(e.at),
                    actor_name(&e.actor, &names),
                    e.step.label(),
                    e.text.clone(),
                    e.step.public_label().is_some(),
                )
            })
            .collect(),
        choices,
        orgs,
    };
    Ok(render(status, &page))
}

pub async fn detail(
    State(state): State<AppState>,
    ConsoleCaller(caller): ConsoleCaller,
    Path(id): Path<String>,
    Query(q): Query<NoticeQuery>,
) -> PageResult {
    detail_page(&state, &caller, path_id::<ComplaintId>(&id)?, Feedback::notice(q.notice.as_deref()), StatusCode::OK)
        .await
}

pub async fn step(
    State(state): State<AppState>,
    ConsoleCaller(caller): ConsoleCaller,
    Path(id): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> PageResult {
    let id = path_id::<ComplaintId>(&id)?;
    let form = Typed(fields);
    let to = form.owned("to");
    let to = (!to.trim().is_empty()).then_some(to.as_str());
    match state.services.complaint_step(&caller.principal, id, form.value("step"), form.value("text"), to).await {
        Ok(v) if !v.can_handle && v.complaint.state() != ComplaintState::Closed => {
            // Transferred away: the case is another's now.
            Ok(Redirect::to("/console/complaints").into_response())
        }
        Ok(_) => Ok(Redirect::to(&format!("/console/complaints/{id}?notice=complaint_step")).into_response()),
        Err(err) => {
            let feedback = Feedback::from_error(&err);
            let status = feedback.status();
            detail_page(&state, &caller, id, feedback, status).await
        }
    }
}

pub async fn attachment(
    State(state): State<AppState>,
    ConsoleCaller(caller): ConsoleCaller,
    Path(id): Path<String>,
) -> PageResult {
    let id = path_id::<ComplaintId>(&id)?;
    let (meta, data) = state.services.complaint_attachment(&caller.principal, id).await.map_err(fail)?;
    Ok(crate::api::cases::file_response(&meta, data))
}

// ---- the public desk ----

#[derive(Template)]
#[template(path = "public_complaint.html")]
struct PublicForm {
    node_name: String,
    error: Option<String>,
    problems: Vec<(String, String)>,
    departments: Vec<(String, String)>,
    question: String,
    token: String,
    typed: Typed,
    /// The visitor's console session's CSRF token, if they are signed in (the form then carries it).
    csrf: String,
}

#[derive(Template)]
#[template(path = "public_receipt.html")]
struct PublicReceipt {
    node_name: String,
    receipt: Receipt,
    received: String,
}

#[derive(Template)]
#[template(path = "public_status.html")]
struct PublicStatusPage {
    node_name: String,
    code: String,
    error: Option<String>,
    status: Option<PublicStatus>,
    steps: Vec<(String, String)>,
    received: String,
    answered: String,
}

fn public_error(err: &ServiceError) -> (Option<String>, Vec<(String, String)>, StatusCode) {
    let status = crate::error::ApiError::status_of(err);
    match err.problems() {
        Some(p) => (
            Some("请按提示修改后重新提交：".into()),
            p.iter().map(|e| (e.field.to_string(), e.message.clone())).collect(),
            status,
        ),
        None => (Some(err.to_string()), vec![], status),
    }
}

async fn public_form(state: &AppState, csrf: String, typed: Typed, err: Option<&ServiceError>) -> PageResult {
    let departments = state.services.complaint_departments().await.map_err(fail)?;
    let challenge = state.services.complaint_challenge();
    let (error, problems, status) = err.map(public_error).unwrap_or((None, vec![], StatusCode::OK));
    let page = PublicForm {
        node_name: state.settings.node_name.clone(),
        error,
        problems,
        departments: departments.into_iter().map(|(id, n)| (id.to_string(), n)).collect(),
        question: challenge.question,
        token: challenge.token,
        typed,
        csrf,
    };
    Ok(render(status, &page))
}

/// The session's CSRF token, when the visitor happens to be signed in to the console.
fn csrf_of(caller: Option<&axum::Extension<Caller>>) -> String {
    caller.map(|c| c.csrf_token().to_owned()).unwrap_or_default()
}

pub async fn public_new(State(state): State<AppState>, caller: Option<axum::Extension<Caller>>) -> PageResult {
    public_form(&state, csrf_of(caller.as_ref()), Typed::default(), None).await
}

pub async fn public_file(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    caller: Option<axum::Extension<Caller>>,
    multipart: Multipart,
) -> PageResult {
    let read = read_upload_form(multipart).await;
    let (form, upload) = match read {
        Ok(x) => x,
        Err(err) => return public_form(&state, csrf_of(caller.as_ref()), Typed::default(), Some(&err)).await,
    };
    let input = ComplaintInput {
        kind: form.owned("kind"),
        department: form.owned("department"),
        title: form.owned("title"),
        description: form.owned("description"),
        happened_on: form.owned("happened_on"),
        name: form.owned("name"),
        contact: form.owned("contact"),
    };
    let filed = state
        .services
        .file_complaint(
            &client,
            &input,
            form.value("challenge_token"),
            form.value("challenge_answer"),
            form.value("website"),
            upload.as_ref(),
        )
        .await;
    match filed {
        Ok(receipt) => {
            let page = PublicReceipt {
                node_name: state.settings.node_name.clone(),
                received: beijing(receipt.received_at),
                receipt,
            };
            Ok(render(StatusCode::CREATED, &page))
        }
        Err(err) => public_form(&state, csrf_of(caller.as_ref()), form, Some(&err)).await,
    }
}

#[derive(Debug, Deserialize)]
pub struct StatusQuery {
    code: Option<String>,
}

pub async fn public_status(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    Query(q): Query<StatusQuery>,
) -> PageResult {
    let code = q.code.unwrap_or_default();
    let (status, error, http) = if code.trim().is_empty() {
        (None, None, StatusCode::OK)
    } else {
        match state.services.complaint_status(&client, &code).await {
            Ok(s) => (Some(s), None, StatusCode::OK),
            Err(e) => (None, Some(e.to_string()), crate::error::ApiError::status_of(&e)),
        }
    };
    let page = PublicStatusPage {
        node_name: state.settings.node_name.clone(),
        steps: status.iter().flat_map(|s| s.steps.iter().map(|p| (beijing(p.at), p.label.clone()))).collect(),
        received: status.as_ref().map(|s| beijing(s.received_at)).unwrap_or_default(),
        answered: status.as_ref().and_then(|s| s.answered_at).map(beijing).unwrap_or_default(),
        code,
        error,
        status,
    };
    Ok(render(http, &page))
}
