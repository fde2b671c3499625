//! Disputes in the console (Art. 28): the list and the opening form, and a dispute's page with the ladder, its
//! steps, and the form of the next step for whoever may take it.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use govshare_domain::authz::{Action, check};
use govshare_domain::dispute::{DisputeId, DisputeInput, Matter, Stage, StepInput, StepKind};
use govshare_domain::org::OrgKind;
use govshare_service::{DisputeView, ServiceError};

use super::ConsoleCaller;
use super::pages::{NoticeQuery, PageResult, actor_name, beijing, fail, layout, path_id, person_names};
use super::render;
use super::view::{Feedback, Layout, StepState, Typed, steps};
use crate::AppState;
use crate::auth::Caller;

#[derive(Debug, Clone)]
pub struct DisputeRow {
    pub id: String,
    pub number: String,
    pub title: String,
    pub matter: &'static str,
    pub parties: String,
    pub coordinator: String,
    pub stage: &'static str,
    pub stage_class: &'static str,
    pub opened: String,
    pub due: String,
    pub late: bool,
}

fn row(v: &DisputeView) -> DisputeRow {
    let d = &v.dispute;
    DisputeRow {
        id: d.id.to_string(),
        number: d.number.clone(),
        title: d.title.clone(),
        matter: d.matter.label(),
        parties: format!("{} ↔ {}", v.opener_name, v.counterpart_name),
        coordinator: match &v.coordinator_name {
            Some(n) if v.superior => format!("{n}（共同的上级主管部门）"),
            Some(n) => format!("{n}（同级主管部门）"),
            None => "国家政务数据共享主管部门（跨省）".into(),
        },
        stage: d.stage.label(),
        stage_class: if d.stage.is_final() { "tag-ok" } else { "tag-warn" },
        opened: beijing(d.created_at),
        due: v.coordination_due_on.map(|d| d.to_string()).unwrap_or_default(),
        late: v.coordination_late,
    }
}

#[derive(Template)]
#[template(path = "disputes.html")]
struct ListPage {
    layout: Layout,
    feedback: Feedback,
    rows: Vec<DisputeRow>,
    can_open: bool,
    /// (id, name) of the other organisations, and (id, label) of the department's applications and grants.
    orgs: Vec<(String, String)>,
    applications: Vec<(String, String)>,
    grants: Vec<(String, String)>,
    matters: Vec<(&'static str, &'static str)>,
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
    let views = state.services.list_disputes(p).await.map_err(fail)?;
    let org = p.org_id();
    let can_open = org.is_some_and(|o| check(p, Action::PrepareSharing(o)).is_ok())
        && p.org.as_ref().is_some_and(|o| o.kind != OrgKind::Authority);
    let (mut orgs, mut applications, mut grants) = (Vec::new(), Vec::new(), Vec::new());
    if let (true, Some(own)) = (can_open, org) {
        let store = state.services.store();
        for o in store.list_orgs().await.map_err(|e| fail(ServiceError::from(e)))? {
            if o.id != own && o.kind != OrgKind::Authority {
                orgs.push((o.id.to_string(), o.name));
            }
        }
        for a in store.list_applications(Some(own), false).await.map_err(|e| fail(ServiceError::from(e)))? {
            applications.push((a.id.to_string(), format!("{} {}", a.number, a.stage().label())));
        }
        for v in state.services.list_grants(p).await.map_err(fail)? {
            let other = if v.grant.provider == own { &v.requester_name } else { &v.provider_name };
            grants.push((v.grant.id.to_string(), format!("{} {}（{}）", v.grant.number, v.entry_name, other)));
        }
    }
    let page = ListPage {
        layout: layout(state, caller, "共享争议", "/console/disputes").await?,
        feedback,
        rows: views.iter().map(row).collect(),
        can_open,
        orgs,
        applications,
        grants,
        matters: Matter::ALL.iter().map(|m| (m.code(), m.label())).collect(),
        typed,
    };
    Ok(render(status, &page))
}

pub async fn list(
    State(state): State<AppState>,
    ConsoleCaller(caller): ConsoleCaller,
    Query(q): Query<NoticeQuery>,
) -> PageResult {
    list_page(&state, &caller, Feedback::notice(q.notice.as_deref()), StatusCode::OK, Typed::default()).await
}

pub async fn open(
    State(state): State<AppState>,
    ConsoleCaller(caller): ConsoleCaller,
    Form(fields): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = Typed(fields);
    let input = DisputeInput {
        counterpart: form.owned("counterpart"),
        matter: form.owned("matter"),
        application: form.owned("application"),
        grant: form.owned("grant"),
        correction: form.owned("correction"),
        title: form.owned("title"),
        description: form.owned("description"),
    };
    match state.services.open_dispute(&caller.principal, &input).await {
        Ok(v) => Ok(Redirect::to(&format!("/console/disputes/{}?notice=dispute_opened", v.dispute.id)).into_response()),
        Err(err) => {
            let feedback = Feedback::from_error(&err);
            let status = feedback.status();
            list_page(&state, &caller, feedback, status, form).await
        }
    }
}

/// The ladder's rungs for the step indicator.
fn ladder(stage: Stage) -> Vec<(&'static str, StepState)> {
    let at = match stage {
        Stage::Negotiation => 0,
        Stage::Coordination => 1,
        Stage::Decision => 2,
        Stage::Resolved | Stage::Decided => 3,
    };
    steps(&["部门协商", "主管部门协调", "本级人民政府决定", "办结"], Some(at))
}

/// A step row: (when, who, step, stage, meeting, positions, outcome, document and date).
type StepRow = (String, String, &'static str, &'static str, String, String, String, String);

#[derive(Template)]
#[template(path = "dispute_detail.html")]
struct DetailPage {
    layout: Layout,
    feedback: Feedback,
    r: DisputeRow,
    description: String,
    links: Vec<(String, String)>,
    steps_bar: Vec<(&'static str, StepState)>,
    records: Vec<StepRow>,
    /// The steps the caller may take now: (code, label).
    choices: Vec<(&'static str, &'static str)>,
    /// The caller takes a coordination step (the meeting fields are the coordination's).
    as_authority: bool,
    deciding: bool,
}

async fn detail_page(
    state: &AppState,
    caller: &Caller,
    id: DisputeId,
    feedback: Feedback,
    status: StatusCode,
) -> PageResult {
    let p = &caller.principal;
    let v = state.services.get_dispute(p, id).await.map_err(fail)?;
    let d = &v.dispute;
    let party = p.org_id().is_some_and(|o| d.parties().contains(&o))
        && p.org_id().is_some_and(|o| check(p, Action::PrepareSharing(o)).is_ok());
    let coordinator = d.coordinator_region.is_some_and(|r| check(p, Action::CoordinateDispute(r)).is_ok());
    let choices: Vec<(&'static str, &'static str)> = StepKind::ALL
        .iter()
        .filter(|k| d.check_step(**k).is_ok())
        .filter(|k| if k.by_parties(d.stage) { party } else { coordinator })
        .map(|k| (k.code(), k.label()))
        .collect();
    let mut links = Vec::new();
    if let Some(a) = d.application {
        links.push((format!("/console/applications/{a}"), "共享申请".into()));
    }
    if let Some(g) = d.grant {
        links.push((format!("/console/grants/{g}"), "共享授权".into()));
    }
    if let Some(c) = d.correction {
        links.push((format!("/console/corrections/{c}"), "校核申请".into()));
    }
    let names = person_names(state, d.steps.iter().map(|s| s.actor.as_str()).collect()).await?;
    let page = DetailPage {
        layout: layout(state, caller, "共享争议", "/console/disputes").await?,
        feedback,
        r: row(&v),
        description: d.description.clone(),
        links,
        steps_bar: ladder(d.stage),
        records: d
            .steps
            .iter()
            .map(|s| {
                let doc = match (&s.document, s.decided_on) {
                    (doc, Some(on)) if !doc.is_empty() => format!("{doc}（{on}）"),
                    _ => String::new(),
                };
                (
                    beijing(s.at),
                    actor_name(&s.actor, &names),
                    s.kind.label(),
                    s.stage.label(),
                    s.meeting.clone(),
                    s.positions.clone(),
                    s.outcome.clone(),
                    doc,
                )
            })
            .collect(),
        as_authority: coordinator && !party,
        deciding: d.stage == Stage::Decision,
        choices,
    };
    Ok(render(status, &page))
}

pub async fn detail(
    State(state): State<AppState>,
    ConsoleCaller(caller): ConsoleCaller,
    Path(id): Path<String>,
    Query(q): Query<NoticeQuery>,
) -> PageResult {
    detail_page(&state, &caller, path_id::<DisputeId>(&id)?, Feedback::notice(q.notice.as_deref()), StatusCode::OK)
        .await
}

pub async fn step(
    State(state): State<AppState>,
    ConsoleCaller(caller): ConsoleCaller,
    Path(id): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> PageResult {
    let id = path_id::<DisputeId>(&id)?;
    let form = Typed(fields);
    let input = StepInput {
        step: form.owned("step"),
        meeting: form.owned("meeting"),
        positions: form.owned("positions"),
        outcome: form.owned("outcome"),
        document: form.owned("document"),
        decided_on: form.owned("decided_on"),
    };
    match state.services.dispute_step(&caller.principal, id, &input).await {
        Ok(_) => Ok(Redirect::to(&format!("/console/disputes/{id}?notice=dispute_step")).into_response()),
        Err(err) => {
            let feedback = Feedback::from_error(&err);
            let status = feedback.status();
            detail_page(&state, &caller, id, feedback, status).await
        }
    }
}
