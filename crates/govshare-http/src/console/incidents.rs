//! Security incidents in the console (Art. 35 ¶3): the list (a department's own reports; an authority's, those of
//! its region), the report form with the department's entries and grants to tick, and a report's page with its
//! steps and the progress and closure forms.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use govshare_domain::authz::{Action, check};
use govshare_domain::incident::{Incident, IncidentId, IncidentInput, Severity};
use govshare_service::ServiceError;

use super::ConsoleCaller;
use super::pages::{NoticeQuery, PageResult, actor_name, beijing, fail, layout, org_names, path_id, person_names};
use super::render;
use super::view::{Feedback, Layout, Typed};
use crate::AppState;
use crate::auth::Caller;

#[derive(Debug, Clone)]
pub struct IncidentRow {
    pub id: String,
    pub number: String,
    pub title: String,
    pub org: String,
    pub severity: &'static str,
    pub found_at: String,
    pub status: &'static str,
    pub status_class: &'static str,
}

fn row(i: &Incident, orgs: &std::collections::HashMap<govshare_domain::org::OrgId, String>) -> IncidentRow {
    IncidentRow {
        id: i.id.to_string(),
        number: i.number.clone(),
        title: i.title.clone(),
        org: orgs.get(&i.org).cloned().unwrap_or_default(),
        severity: i.severity.label(),
        found_at: beijing(i.found_at),
        status: if i.is_closed() { "已结案" } else { "处置中" },
        status_class: if i.is_closed() { "tag-ok" } else { "tag-warn" },
    }
}

#[derive(Template)]
#[template(path = "incidents.html")]
struct ListPage {
    layout: Layout,
    feedback: Feedback,
    rows: Vec<IncidentRow>,
    can_report: bool,
    /// (id, label) of the department's published entries and of its grants (provider or requester).
    entries: Vec<(String, String)>,
    grants: Vec<(String, String)>,
    severities: Vec<(&'static str, &'static str)>,
    typed: Typed,
}

async fn list_page(
    state: &AppState,
    caller: &Caller,
    feedback: Feedback,
    status: StatusCode,
    typed: Typed,
) -> PageResult {
    let p = &caller.principal;
    let incidents = state.services.list_incidents(p).await.map_err(fail)?;
    let orgs = org_names(state).await?;
    let org = p.org_id();
    let can_report = org.is_some_and(|o| check(p, Action::ReportIncident(o)).is_ok());
    let (mut entries, mut grants) = (Vec::new(), Vec::new());
    if let (true, Some(org)) = (can_report, org) {
        let store = state.services.store();
        for e in store.list_entries(Some(org)).await.map_err(|e| fail(ServiceError::from(e)))? {
            if let Some(v) = e.published() {
                entries.push((e.id.to_string(), v.content.name.clone()));
            }
        }
        for v in state.services.list_grants(p).await.map_err(fail)? {
            let g = &v.grant;
            if g.provider == org || g.requester == org {
                let other = if g.provider == org { &v.requester_name } else { &v.provider_name };
                grants.push((
                    g.id.to_string(),
                    format!("{} {}（{}，{}）", g.number, v.entry_name, other, v.status.label()),
                ));
            }
        }
    }
    let page = ListPage {
        layout: layout(state, caller, "政务数据安全事件", "/console/incidents").await?,
        feedback,
        rows: incidents.iter().map(|i| row(i, &orgs)).collect(),
        can_report,
        entries,
        grants,
        severities: Severity::ALL.iter().map(|s| (s.code(), s.label())).collect(),
        typed,
    };
    Ok(render(status, &page))
}

pub async fn list(State(state): State<AppState>, ConsoleCaller(caller): ConsoleCaller) -> PageResult {
    list_page(&state, &caller, Feedback::default(), StatusCode::OK, Typed::default()).await
}

pub async fn report(
    State(state): State<AppState>,
    ConsoleCaller(caller): ConsoleCaller,
    Form(fields): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = Typed(fields);
    let input = IncidentInput {
        title: form.owned("title"),
        description: form.owned("description"),
        found_at: form.owned("found_at"),
        severity: form.owned("severity"),
        entries: form.values("entries"),
        grants: form.values("grants"),
        on_requester_side: form.checked("on_requester_side"),
        emergency_plan: form.owned("emergency_plan"),
    };
    match state.services.report_incident(&caller.principal, &input).await {
        Ok(i) => Ok(Redirect::to(&format!("/console/incidents/{}?notice=incident_reported", i.id)).into_response()),
        Err(err) => {
            let feedback = Feedback::from_error(&err);
            let status = feedback.status();
            list_page(&state, &caller, feedback, status, form).await
        }
    }
}

#[derive(Template)]
#[template(path = "incident_detail.html")]
struct DetailPage {
    layout: Layout,
    feedback: Feedback,
    r: IncidentRow,
    description: String,
    emergency_plan: String,
    on_requester_side: bool,
    /// Names of the entries and grant numbers affected, and of the responsible requesters.
    entries: Vec<(String, String)>,
    grants: Vec<(String, String)>,
    responsible: Vec<String>,
    /// (when, who, step, text)
    steps: Vec<(String, String, &'static str, String)>,
    can_step: bool,
}

async fn detail_page(
    state: &AppState,
    caller: &Caller,
    id: IncidentId,
    feedback: Feedback,
    status: StatusCode,
) -> PageResult {
    let p = &caller.principal;
    let i = state.services.get_incident(p, id).await.map_err(fail)?;
    let orgs = org_names(state).await?;
    let store = state.services.store();
    let mut entries = Vec::new();
    for e in &i.entries {
        let name = store.get_entry(*e).await.ok().and_then(|x| x.published().map(|v| v.content.name.clone()));
        entries.push((e.to_string(), name.unwrap_or_else(|| "（目录已不再发布）".into())));
    }
    let mut grants = Vec::new();
    for g in &i.grants {
        let number = store.get_grant(*g).await.map(|x| x.number).unwrap_or_default();
        grants.push((g.to_string(), number));
    }
    let names = person_names(state, i.events.iter().map(|e| e.actor.as_str()).collect()).await?;
    let page = DetailPage {
        layout: layout(state, caller, "安全事件报告", "/console/incidents").await?,
        feedback,
        r: row(&i, &orgs),
        description: i.description.clone(),
        emergency_plan: i.emergency_plan.clone(),
        on_requester_side: i.on_requester_side,
        entries,
        grants,
        responsible: i.responsible.iter().map(|o| orgs.get(o).cloned().unwrap_or_default()).collect(),
        steps: i
            .events
            .iter()
            .map(|e| (beijing(e.at), actor_name(&e.actor, &names), e.label(), e.text.clone()))
            .collect(),
        can_step: !i.is_closed() && check(p, Action::ReportIncident(i.org)).is_ok(),
    };
    Ok(render(status, &page))
}

pub async fn detail(
    State(state): State<AppState>,
    ConsoleCaller(caller): ConsoleCaller,
    Path(id): Path<String>,
    axum::extract::Query(q): axum::extract::Query<NoticeQuery>,
) -> PageResult {
    detail_page(&state, &caller, path_id::<IncidentId>(&id)?, Feedback::notice(q.notice.as_deref()), StatusCode::OK)
        .await
}

pub async fn step(
    State(state): State<AppState>,
    ConsoleCaller(caller): ConsoleCaller,
    Path(id): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> PageResult {
    let id = path_id::<IncidentId>(&id)?;
    let form = Typed(fields);
    let step = form.owned("step");
    match state.services.incident_step(&caller.principal, id, &step, form.value("text")).await {
        Ok(_) => Ok(Redirect::to(&format!("/console/incidents/{id}?notice=incident_{}", step.trim())).into_response()),
        Err(err) => {
            let feedback = Feedback::from_error(&err);
            let status = feedback.status();
            detail_page(&state, &caller, id, feedback, status).await
        }
    }
}
