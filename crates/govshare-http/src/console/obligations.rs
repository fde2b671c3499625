//! Console pages for catalog update obligations (R-CAT-4) and sources of record with the duplicate-collection
//! check (R-CAT-7).

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect};
use govshare_domain::authz::{Action, check};
use govshare_domain::catalog::EntryId;
use govshare_domain::obligation::{ObligationId, ObligationStage, TriggerInput, TriggerKind};
use govshare_domain::org::OrgKind;
use govshare_domain::source::{DesignationInput, FieldCheck};
use govshare_service::{CatalogScope, ServiceError};
use serde::Deserialize;

use super::ConsoleCaller;
use super::pages::{PageResult, beijing, fail, layout};
use super::render;
use super::view::{Feedback, Layout};
use crate::AppState;
use crate::auth::Caller;

#[derive(Debug, Clone)]
pub struct ObligationRow {
    pub id: String,
    pub entry_id: String,
    pub entry_name: String,
    pub provider: String,
    pub kind: &'static str,
    pub changed_on: String,
    pub description: String,
    pub stage: &'static str,
    pub stage_code: &'static str,
    pub due: String,
    pub review_due: String,
    pub left: String,
    pub late: bool,
    pub extension: String,
    pub can_request_extension: bool,
    pub can_decide_extension: bool,
}

#[derive(Debug, Clone)]
pub struct EntryChoice {
    pub id: String,
    pub label: String,
}

#[derive(Template)]
#[template(path = "obligations.html")]
struct ObligationsPage {
    layout: Layout,
    feedback: Feedback,
    rows: Vec<ObligationRow>,
    entries: Vec<EntryChoice>,
    can_record: bool,
    kinds: Vec<(&'static str, &'static str)>,
    today: String,
}

#[derive(Debug, Deserialize, Default)]
pub struct NoticeQuery {
    notice: Option<String>,
}

async fn obligations_page(state: &AppState, caller: &Caller, feedback: Feedback) -> PageResult {
    let layout = layout(state, caller, "目录更新义务", "/console/catalog/obligations").await?;
    let p = &caller.principal;
    let views = state.services.list_obligations(p).await.map_err(fail)?;
    let acting = match p.org_id() {
        Some(id) => Some(state.services.store().get_org(id).await.map_err(|e| fail(ServiceError::from(e)))?),
        None => None,
    };
    let rows = views
        .into_iter()
        .map(|v| {
            let s = &v.status;
            let ext = v.obligation.extension.as_ref();
            let extension = match ext {
                None => String::new(),
                Some(x) => match &x.decision {
                    None => format!("已申请延期（理由：{}），待主管部门审批", x.reason),
                    Some(d) if d.granted => "主管部门已同意延期 5 个工作日".to_owned(),
                    Some(d) => format!("主管部门不同意延期：{}", d.note),
                },
            };
            let open_for_department = s.stage == ObligationStage::AwaitingDepartment;
            ObligationRow {
                id: v.obligation.id.to_string(),
                entry_id: v.obligation.entry.to_string(),
                entry_name: v.entry_name.clone(),
                provider: v.provider.name.clone(),
                kind: v.obligation.kind.label(),
                changed_on: v.obligation.changed_on.to_string(),
                description: v.obligation.description.clone(),
                stage: s.stage.label(),
                stage_code: match s.stage {
                    ObligationStage::AwaitingDepartment => "department",
                    ObligationStage::AwaitingAuthority => "authority",
                    ObligationStage::Completed => "completed",
                },
                due: format!("{}{}", beijing(s.due_at), if s.extended { "（已延期）" } else { "" }),
                review_due: s.review_due_at.map(beijing).unwrap_or_default(),
                left: match s.working_days_left {
                    None => String::new(),
                    Some(n) if n < 0 => format!("已逾期 {} 个工作日", -n),
                    Some(n) => format!("剩余 {n} 个工作日"),
                },
                late: s.department_late || s.authority_late,
                extension,
                can_request_extension: open_for_department
                    && ext.is_none()
                    && check(p, Action::ApproveCatalog(v.provider.id)).is_ok(),
                can_decide_extension: ext.is_some_and(|x| x.decision.is_none())
                    && check(p, Action::ReviewCatalog(v.provider.region)).is_ok(),
            }
        })
        .collect();
    // The entries the acting person may open an obligation on: published entries of their department (head) or of
    // the departments of their region (authority reviewer).
    let mut entries = Vec::new();
    if let Some(org) = &acting {
        let scope = if org.kind == OrgKind::Authority { CatalogScope::Published } else { CatalogScope::Mine };
        let orgs = state.services.store().list_orgs().await.map_err(|e| fail(ServiceError::from(e)))?;
        if let Ok(list) = state.services.list_entries(p, scope).await {
            for e in list {
                let Some(provider) = orgs.iter().find(|o| o.id == e.provider) else { continue };
                if e.published().is_some()
                    && check(p, Action::ManageCatalogObligations(provider.id, provider.region)).is_ok()
                {
                    let name = e.published().map(|v| v.content.name.clone()).unwrap_or_default();
                    entries.push(EntryChoice { id: e.id.to_string(), label: format!("{name}（{}）", provider.name) });
                }
            }
        }
    }
    let page = ObligationsPage {
        layout,
        feedback,
        can_record: !entries.is_empty(),
        rows,
        entries,
        kinds: TriggerKind::ALL.iter().map(|k| (k.code(), k.label())).collect(),
        today: state.services.now().with_timezone(&govshare_domain::calendar::beijing()).date_naive().to_string(),
    };
    Ok(render(page.feedback.status(), &page))
}

pub async fn obligations(
    State(state): State<AppState>,
    ConsoleCaller(caller): ConsoleCaller,
    Query(q): Query<NoticeQuery>,
) -> PageResult {
    obligations_page(&state, &caller, Feedback::notice(q.notice.as_deref())).await
}

#[derive(Debug, Deserialize, Default)]
pub struct ObligationForm {
    #[serde(default)]
    entry_id: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    changed_on: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    decision: String,
}

pub async fn record(
    State(state): State<AppState>,
    ConsoleCaller(caller): ConsoleCaller,
    Form(form): Form<ObligationForm>,
) -> PageResult {
    let outcome = match form.entry_id.parse::<EntryId>() {
        Ok(entry) => {
            let input = TriggerInput { kind: form.kind, changed_on: form.changed_on, description: form.description };
            state.services.record_update_trigger(&caller.principal, entry, &input).await.map(|_| ())
        }
        Err(err) => Err(err.into()),
    };
    done(&state, &caller, outcome, "obligation_recorded").await
}

pub async fn extension(
    State(state): State<AppState>,
    ConsoleCaller(caller): ConsoleCaller,
    Path((id, step)): Path<(String, String)>,
    Form(form): Form<ObligationForm>,
) -> PageResult {
    let id: ObligationId = match id.parse() {
        Ok(id) => id,
        Err(err) => return done(&state, &caller, Err(ServiceError::from(err)), "").await,
    };
    let s = &state.services;
    let (outcome, notice) = match step.as_str() {
        "request" => {
            (s.request_update_extension(&caller.principal, id, &form.reason).await.map(|_| ()), "extension_requested")
        }
        "decide" => {
            let grant = form.decision == "grant";
            (
                s.decide_update_extension(&caller.principal, id, grant, &form.reason).await.map(|_| ()),
                "extension_decided",
            )
        }
        _ => return Err(fail(ServiceError::NotFound("未知操作".into()))),
    };
    done(&state, &caller, outcome, notice).await
}

async fn done(state: &AppState, caller: &Caller, outcome: Result<(), ServiceError>, notice: &str) -> PageResult {
    match outcome {
        Ok(()) => Ok(Redirect::to(&format!("/console/catalog/obligations?notice={notice}")).into_response()),
        Err(err) => obligations_page(state, caller, Feedback::from_error(&err)).await,
    }
}

// ---- sources of record ----

#[derive(Debug, Clone)]
pub struct DesignationRow {
    pub subject: String,
    pub items: String,
    pub source: String,
    pub entry: Option<(String, String)>,
    pub basis: String,
    pub at: String,
}

#[derive(Debug, Clone)]
pub struct OrgChoice {
    pub id: String,
    pub name: String,
}

#[derive(Template)]
#[template(path = "sources.html")]
struct SourcesPage {
    layout: Layout,
    feedback: Feedback,
    rows: Vec<DesignationRow>,
    can_designate: bool,
    departments: Vec<OrgChoice>,
    entries: Vec<EntryChoice>,
    fields: String,
    checks: Vec<FieldCheck>,
    checked: bool,
}

#[derive(Debug, Deserialize, Default)]
pub struct SourceForm {
    #[serde(default)]
    subject: String,
    #[serde(default)]
    items: String,
    #[serde(default)]
    source_org: String,
    #[serde(default)]
    entry: String,
    #[serde(default)]
    basis: String,
    #[serde(default)]
    fields: String,
}

async fn sources_page(
    state: &AppState,
    caller: &Caller,
    feedback: Feedback,
    fields: String,
    checks: Option<Vec<FieldCheck>>,
) -> PageResult {
    let layout = layout(state, caller, "数源部门与重复采集核对", "/console/catalog/sources").await?;
    let p = &caller.principal;
    let store = state.services.store();
    let orgs = store.list_orgs().await.map_err(|e| fail(ServiceError::from(e)))?;
    let designations = state.services.list_designations(p).await.map_err(fail)?;
    let published = state.services.list_entries(p, CatalogScope::Published).await.map_err(fail)?;
    let entry_name =
        |id: EntryId| published.iter().find(|e| e.id == id).and_then(|e| e.published()).map(|v| v.content.name.clone());
    let rows = designations
        .into_iter()
        .map(|d| DesignationRow {
            subject: d.subject,
            items: d.items.join("、"),
            source: orgs.iter().find(|o| o.id == d.source_org).map(|o| o.name.clone()).unwrap_or_default(),
            entry: d.entry.and_then(|id| Some((id.to_string(), entry_name(id)?))),
            basis: d.basis,
            at: beijing(d.designated_at),
        })
        .collect();
    let acting = orgs.iter().find(|o| Some(o.id) == p.org_id());
    let can_designate =
        acting.is_some_and(|a| a.kind == OrgKind::Authority && check(p, Action::ReviewCatalog(a.region)).is_ok());
    let (departments, entries) = match acting.filter(|_| can_designate) {
        Some(a) => {
            let deps: Vec<_> = orgs.iter().filter(|o| o.kind == OrgKind::Department && o.region == a.region).collect();
            let entries = published
                .iter()
                .filter_map(|e| {
                    let provider = deps.iter().find(|o| o.id == e.provider)?;
                    Some(EntryChoice {
                        id: e.id.to_string(),
                        label: format!("{}（{}）", e.published()?.content.name, provider.name),
                    })
                })
                .collect();
            (deps.iter().map(|o| OrgChoice { id: o.id.to_string(), name: o.name.clone() }).collect(), entries)
        }
        None => (vec![], vec![]),
    };
    let page = SourcesPage {
        layout,
        feedback,
        rows,
        can_designate,
        departments,
        entries,
        fields,
        checked: checks.is_some(),
        checks: checks.unwrap_or_default(),
    };
    Ok(render(page.feedback.status(), &page))
}

pub async fn sources(
    State(state): State<AppState>,
    ConsoleCaller(caller): ConsoleCaller,
    Query(q): Query<NoticeQuery>,
) -> PageResult {
    sources_page(&state, &caller, Feedback::notice(q.notice.as_deref()), String::new(), None).await
}

pub async fn designate(
    State(state): State<AppState>,
    ConsoleCaller(caller): ConsoleCaller,
    Form(form): Form<SourceForm>,
) -> PageResult {
    let input = DesignationInput {
        subject: form.subject,
        items: form.items,
        source_org: form.source_org,
        entry: form.entry,
        basis: form.basis,
    };
    match state.services.designate_source(&caller.principal, &input).await {
        Ok(_) => Ok(Redirect::to("/console/catalog/sources?notice=source_designated").into_response()),
        Err(err) => sources_page(&state, &caller, Feedback::from_error(&err), String::new(), None).await,
    }
}

pub async fn check_fields(
    State(state): State<AppState>,
    ConsoleCaller(caller): ConsoleCaller,
    Form(form): Form<SourceForm>,
) -> PageResult {
    match state.services.check_collection(&caller.principal, &form.fields).await {
        Ok(checks) => sources_page(&state, &caller, Feedback::default(), form.fields, Some(checks)).await,
        Err(err) => sources_page(&state, &caller, Feedback::from_error(&err), form.fields, None).await,
    }
}
