//! Console pages for sharing applications (R-APP-1..5): my applications, the provider's inbox sorted by urgency,
//! the authority's extension queue and region view, the application form, and each application's page with its
//! deadlines, timeline and the forms for the steps the signed-in person may take.

use std::collections::HashMap;

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use govshare_domain::application::{ApplicationId, ApplicationRequest, Reply, Stage};
use govshare_domain::authz::{Action, check};
use govshare_domain::catalog::{DeliveryMethod, EntryContent, EntryId};
use govshare_domain::grant::Grant;
use govshare_domain::org::OrgKind;
use govshare_service::{ApplicationBox, ApplicationView, ServiceError};
use serde::Deserialize;

use super::ConsoleCaller;
use super::grants::{GrantForm, grant_input, grant_links, item_label};
use super::pages::{PageResult, beijing, fail, layout};
use super::render;
use super::table::{TableState, matches_words, xlsx};
use super::view::{Feedback, Layout, StepState, steps as workflow_steps};
use crate::AppState;
use crate::api::applications::{RequestDto, StepDto};
use crate::auth::Caller;

/// One line of an application list.
#[derive(Debug, Clone)]
pub struct ApplicationRow {
    pub id: String,
    /// 申请编号, shown wherever a person reads which application this is (the id stays in URLs).
    pub number: String,
    pub entry_name: String,
    pub requester: String,
    pub provider: String,
    pub attribute: &'static str,
    pub stage: &'static str,
    pub stage_code: &'static str,
    pub due: String,
    pub left: String,
    pub overdue: bool,
    pub late: bool,
    pub created: String,
}

fn left_text(days: Option<i64>, overdue: bool) -> String {
    match days {
        None => String::new(),
        Some(_) if overdue => "已逾期".to_owned(),
        Some(n) if n <= 0 => "今日到期".to_owned(),
        Some(n) => format!("剩余 {n} 个工作日"),
    }
}

fn row(v: &ApplicationView) -> ApplicationRow {
    let s = &v.status;
    let overdue = s.running.as_ref().is_some_and(|p| p.late);
    ApplicationRow {
        id: v.application.id.to_string(),
        number: v.application.number.clone(),
        entry_name: v.application.entry_name.clone(),
        requester: v.requester.name.clone(),
        provider: v.provider.name.clone(),
        attribute: v.application.attribute.label(),
        stage: s.stage.label(),
        stage_code: s.stage.code(),
        due: s.running.as_ref().map(|p| format!("{}前{}", p.due_date, p.kind.label())).unwrap_or_default(),
        left: left_text(s.working_days_left, overdue),
        overdue,
        late: s.late,
        created: beijing(v.application.created_at),
    }
}

#[derive(Template)]
#[template(path = "applications.html")]
struct ListPage {
    layout: Layout,
    feedback: Feedback,
    tabs: Vec<(&'static str, &'static str, bool)>,
    which: &'static str,
    rows: Vec<ApplicationRow>,
    table: TableState,
    /// (code, label) of every stage, for the 状态 filter.
    stages: Vec<(&'static str, &'static str)>,
    /// A filter beyond the box is set (the box is the tab, not a filter to clear).
    filtered: bool,
    /// The box's own URL: clears the filters, keeps the tab.
    clear_href: String,
}

/// The table's filters: the box (tab), words in the number, catalog or department names, the stage, overdue only.
const FILTERS: [&str; 4] = ["box", "q", "stage", "overdue"];

fn order(column: &str, a: &ApplicationView, b: &ApplicationView) -> std::cmp::Ordering {
    let due = |v: &ApplicationView| v.status.running.as_ref().map(|p| p.due_date);
    match column {
        // Applications without a running deadline go last, whichever way the column is turned.
        "due" => due(a).is_none().cmp(&due(b).is_none()).then(due(a).cmp(&due(b))),
        "number" => a.application.number.cmp(&b.application.number),
        _ => a.application.created_at.cmp(&b.application.created_at),
    }
}

pub async fn list(
    State(state): State<AppState>,
    ConsoleCaller(caller): ConsoleCaller,
    Query(query): Query<HashMap<String, String>>,
) -> PageResult {
    let p = &caller.principal;
    let acting = match p.org_id() {
        Some(id) => Some(state.services.store().get_org(id).await.map_err(|e| fail(ServiceError::from(e)))?),
        None => None,
    };
    let mut tabs = Vec::new();
    if let Some(org) = &acting {
        let staff =
            check(p, Action::PrepareSharing(org.id)).is_ok() || check(p, Action::ApproveSharing(org.id)).is_ok();
        if staff {
            tabs.push(("mine", "本单位的申请"));
            tabs.push(("inbox", "收到的申请"));
        }
        if check(p, Action::DecideSharingExtension(org.region)).is_ok() {
            tabs.push(("extensions", "延期审批"));
        }
        if org.kind == OrgKind::Authority {
            tabs.push(("region", "本地区申请与时限"));
        }
    }
    let asked = query.get("box").map(String::as_str).filter(|b| !b.is_empty());
    let which = ApplicationBox::parse(asked.unwrap_or(tabs.first().map_or("mine", |t| t.0)))
        .map_err(|e| fail(ServiceError::from(e)))?;
    let code = match which {
        ApplicationBox::Mine => "mine",
        ApplicationBox::Inbox => "inbox",
        ApplicationBox::Extensions => "extensions",
        ApplicationBox::Region => "region",
    };
    // What is received is worked through by its deadline, nearest first; what was sent, newest first.
    let (sorts, desc) = match which {
        ApplicationBox::Mine => (["created", "due", "number"], true),
        _ => (["due", "created", "number"], false),
    };
    let mut query = query;
    query.insert("box".into(), code.into());
    let mut table = TableState::from_query("/console/applications", &query, &FILTERS, &sorts, desc);
    let views = state.services.list_applications(p, which).await.map_err(fail)?;
    let (words, stage, overdue_only) =
        (table.filter("q").to_owned(), table.filter("stage").to_owned(), table.filter("overdue") == "1");
    let shown = table.page_of(
        views,
        |v| {
            let overdue = v.status.running.as_ref().is_some_and(|p| p.late);
            (stage.is_empty() || v.status.stage.code() == stage)
                && (!overdue_only || overdue)
                && matches_words(
                    &words,
                    &[&v.application.number, &v.application.entry_name, &v.requester.name, &v.provider.name],
                )
        },
        order,
    );
    let rows: Vec<ApplicationRow> = shown.iter().map(row).collect();
    if table.export {
        return export(&rows);
    }
    let page = ListPage {
        layout: layout(&state, &caller, "共享申请", "/console/applications").await?,
        feedback: Feedback::notice(query.get("notice").map(String::as_str)),
        tabs: tabs.into_iter().map(|(c, l)| (c, l, c == code)).collect(),
        which: code,
        rows,
        table,
        stages: Stage::ALL.iter().map(|s| (s.code(), s.label())).collect(),
        filtered: !words.is_empty() || !stage.is_empty() || overdue_only,
        clear_href: format!("/console/applications?box={code}"),
    };
    Ok(render(StatusCode::OK, &page))
}

fn export(rows: &[ApplicationRow]) -> PageResult {
    let headers = ["申请编号", "目录", "需求部门", "提供部门", "共享属性", "状态", "期限", "剩余时间", "发起时间"];
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.number.clone(),
                r.entry_name.clone(),
                r.requester.clone(),
                r.provider.clone(),
                r.attribute.to_owned(),
                if r.late { format!("{}（曾逾期）", r.stage) } else { r.stage.to_owned() },
                r.due.clone(),
                r.left.clone(),
                r.created.clone(),
            ]
        })
        .collect();
    xlsx("applications.xlsx", "共享申请.xlsx", &headers, &cells)
}

/// The request fields as shown in a form (prefilled from an earlier request or from what was typed).
#[derive(Debug, Clone, Default)]
pub struct RequestForm {
    pub items: Vec<String>,
    pub legal_basis: String,
    pub basis_document: String,
    pub scenario: String,
    pub scope: String,
    pub delivery: String,
    pub valid_from: String,
    pub valid_until: String,
}

impl RequestForm {
    pub fn has_item(&self, code: &str) -> bool {
        self.items.iter().any(|i| i == code)
    }

    fn from_request(r: &ApplicationRequest) -> Self {
        RequestForm {
            items: r.items.clone(),
            legal_basis: r.legal_basis.clone(),
            basis_document: r.basis_document.clone(),
            scenario: r.scenario.clone(),
            scope: r.scope.clone(),
            delivery: r.delivery.code().to_owned(),
            valid_from: r.valid_from.to_string(),
            valid_until: r.valid_until.to_string(),
        }
    }

    fn from_fields(fields: &[(String, String)]) -> Self {
        let get = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default();
        RequestForm {
            items: fields.iter().filter(|(k, _)| k == "items").map(|(_, v)| v.clone()).collect(),
            legal_basis: get("legal_basis"),
            basis_document: get("basis_document"),
            scenario: get("scenario"),
            scope: get("scope"),
            delivery: get("delivery"),
            valid_from: get("valid_from"),
            valid_until: get("valid_until"),
        }
    }

    fn dto(&self) -> RequestDto {
        RequestDto {
            items: self.items.clone(),
            legal_basis: self.legal_basis.clone(),
            basis_document: self.basis_document.clone(),
            scenario: self.scenario.clone(),
            scope: self.scope.clone(),
            delivery: self.delivery.clone(),
            valid_from: self.valid_from.clone(),
            valid_until: self.valid_until.clone(),
        }
    }
}

/// A data item or delivery method offered by the entry.
#[derive(Debug, Clone)]
pub struct Choice {
    pub code: String,
    pub label: String,
}

fn item_choices(content: &EntryContent) -> Vec<Choice> {
    content
        .items
        .iter()
        .map(|i| Choice {
            code: i.code.clone(),
            label: format!(
                "{}\u{ff08}{} · {} {} 级{}\u{ff09}",
                i.name,
                i.code,
                i.grade.class,
                i.grade.level,
                i.personal_info.map_or(String::new(), |k| format!(" · {}", k.label()))
            ),
        })
        .collect()
}

fn method_choices(content: &EntryContent) -> Vec<Choice> {
    DeliveryMethod::ALL
        .iter()
        .filter(|m| content.delivery_methods.contains(m))
        .map(|m| Choice { code: m.code().to_owned(), label: m.label().to_owned() })
        .collect()
}

#[derive(Template)]
#[template(path = "application_new.html")]
struct NewPage {
    layout: Layout,
    feedback: Feedback,
    entry_id: String,
    entry_name: String,
    provider: String,
    attribute: &'static str,
    terms: String,
    reply_days: u32,
    items: Vec<Choice>,
    methods: Vec<Choice>,
    form: RequestForm,
}

#[derive(Debug, Deserialize, Default)]
pub struct NewQuery {
    entry: Option<String>,
}

async fn new_page(state: &AppState, caller: &Caller, entry: &str, form: RequestForm, feedback: Feedback) -> PageResult {
    let id: EntryId = entry.parse().map_err(|e| fail(ServiceError::from(e)))?;
    let entry = state.services.get_entry(&caller.principal, id).await.map_err(fail)?;
    let published =
        entry.published().ok_or_else(|| fail(ServiceError::NotFound("目录尚未发布，只能申请已发布的目录".into())))?;
    let provider = state.services.store().get_org(entry.provider).await.map_err(|e| fail(ServiceError::from(e)))?;
    let layout = layout(state, caller, "申请共享", "/console/applications").await?;
    let c = &published.content;
    let attribute = c.sharing.attribute();
    let terms = match &c.sharing {
        govshare_domain::catalog::SharingTerms::Conditional { scope, purposes } => {
            format!("共享范围：{scope}；使用用途：{}", purposes.join("、"))
        }
        _ => String::new(),
    };
    let today = state.services.now().with_timezone(&govshare_domain::calendar::beijing()).date_naive();
    let form = if form.valid_from.is_empty() && form.items.is_empty() {
        RequestForm {
            valid_from: today.to_string(),
            valid_until: (today + chrono::Duration::days(364)).to_string(),
            delivery: c.delivery_methods.iter().next().map(|m| m.code().to_owned()).unwrap_or_default(),
            ..form
        }
    } else {
        form
    };
    let page = NewPage {
        layout,
        entry_id: entry.id.to_string(),
        entry_name: c.name.clone(),
        provider: provider.name,
        attribute: attribute.label(),
        terms,
        reply_days: if attribute == govshare_domain::catalog::SharingAttribute::Unconditional { 1 } else { 10 },
        items: item_choices(c),
        methods: method_choices(c),
        feedback,
        form,
    };
    let status = page.feedback.status();
    Ok(render(status, &page))
}

pub async fn new_form(
    State(state): State<AppState>,
    ConsoleCaller(caller): ConsoleCaller,
    Query(q): Query<NewQuery>,
) -> PageResult {
    new_page(&state, &caller, q.entry.as_deref().unwrap_or_default(), RequestForm::default(), Feedback::default()).await
}

/// The application form has repeated `items` checkboxes, so it is read as a list of pairs.
pub async fn create(
    State(state): State<AppState>,
    ConsoleCaller(caller): ConsoleCaller,
    Form(fields): Form<Vec<(String, String)>>,
) -> PageResult {
    let entry = fields.iter().find(|(k, _)| k == "entry_id").map(|(_, v)| v.clone()).unwrap_or_default();
    let submit = fields.iter().any(|(k, v)| k == "action" && v == "submit");
    let form = RequestForm::from_fields(&fields);
    let id: Result<EntryId, _> = entry.parse();
    let outcome = match id {
        Ok(id) => state.services.create_application(&caller.principal, id, &form.dto().input(), submit).await,
        Err(e) => Err(e.into()),
    };
    match outcome {
        Ok(view) => {
            let notice = if submit { "application_submitted" } else { "application_drafted" };
            Ok(Redirect::to(&format!("/console/applications/{}?notice={notice}", view.application.id)).into_response())
        }
        Err(err) => new_page(&state, &caller, &entry, form, Feedback::from_error(&err)).await,
    }
}

/// One row of the timeline.
#[derive(Debug, Clone)]
pub struct StepRow {
    pub at: String,
    pub actor: String,
    pub org: String,
    pub label: &'static str,
    pub detail: String,
}

/// One deadline period.
#[derive(Debug, Clone)]
pub struct PeriodRow {
    pub kind: &'static str,
    pub started: String,
    pub days: u32,
    pub due: String,
    pub met: String,
    pub running: bool,
    pub late: bool,
}

#[derive(Template)]
#[template(path = "application_detail.html")]
struct DetailPage {
    layout: Layout,
    feedback: Feedback,
    v: ApplicationRow,
    request: RequestForm,
    item_labels: Vec<String>,
    delivery: &'static str,
    reply: Option<(String, String)>,
    supplement_notice: Vec<String>,
    extension: Option<String>,
    periods: Vec<PeriodRow>,
    steps: Vec<StepRow>,
    alerts: Vec<(String, &'static str, String)>,
    allowed: Vec<&'static str>,
    /// For the edit and supplement forms.
    items: Vec<Choice>,
    methods: Vec<Choice>,
    form: RequestForm,
    /// The provider's form creating a grant, on an approved application.
    grant_form: Option<GrantForm>,
    /// Grants made for the application: (id, text).
    grants: Vec<(String, String)>,
    /// The step indicator (`steps.html`).
    workflow: Vec<(&'static str, StepState)>,
    /// The provider answered (the printable document is then the 答复函).
    answered: bool,
}

impl DetailPage {
    fn can(&self, step: &str) -> bool {
        self.allowed.contains(&step)
    }
}

#[derive(Debug, Deserialize, Default)]
pub struct DetailQuery {
    notice: Option<String>,
}

async fn detail_page(
    state: &AppState,
    caller: &Caller,
    id: ApplicationId,
    feedback: Feedback,
    typed: Option<RequestForm>,
    typed_grant: Option<&[(String, String)]>,
) -> PageResult {
    let view = state.services.get_application(&caller.principal, id).await.map_err(fail)?;
    let layout = layout(state, caller, "共享申请详情", "/console/applications").await?;
    let entry =
        state.services.store().get_entry(view.application.entry).await.map_err(|e| fail(ServiceError::from(e)))?;
    let content = entry.version(view.application.entry_version).map(|v| v.content.clone());
    let s = &view.status;
    let grants = state.services.grants_of_application(id).await.map_err(fail)?;
    let mut steps = timeline(&view, &grants);
    steps.reverse();
    let periods = s
        .periods
        .iter()
        .map(|p| PeriodRow {
            kind: p.kind.label(),
            started: beijing(p.started_at),
            days: p.days,
            due: format!("{} 23:59", p.due_date),
            met: p.met_at.map(beijing).unwrap_or_default(),
            running: p.running,
            late: p.late,
        })
        .collect();
    let extension = s.extension.as_ref().map(|x| {
        let decision = match x.granted {
            None => "待主管部门审批".to_owned(),
            Some(true) => format!("主管部门已同意（{}）", x.decided_by.clone().unwrap_or_default()),
            Some(false) if x.decided_by.is_none() => format!("已失效：{}", x.decision_note),
            Some(false) => format!("主管部门不同意：{}", x.decision_note),
        };
        format!("申请延长 {} 个工作日，理由：{}；{decision}", x.days, x.reason)
    });
    let grant_form = (s.stage == Stage::Approved
        && check(&caller.principal, Action::CreateGrant(view.application.provider)).is_ok())
    .then(|| {
        let form = GrantForm::new(
            content.as_ref(),
            &s.request.items,
            s.request.valid_from.to_string(),
            s.request.valid_until.to_string(),
        );
        match typed_grant {
            Some(fields) => form.typed(fields),
            None => form,
        }
    });
    let page = DetailPage {
        layout,
        feedback,
        workflow: workflow(s.stage),
        answered: s.replied_at.is_some(),
        grant_form,
        grants: grant_links(&grants, state.services.now()),
        v: row(&view),
        request: RequestForm::from_request(&s.request),
        item_labels: s.request.items.iter().map(|code| item_label(content.as_ref(), code)).collect(),
        delivery: s.request.delivery.label(),
        reply: s.reply.as_ref().map(|r| (r.label().to_owned(), reply_text(r))),
        supplement_notice: s.supplement_notice.clone().unwrap_or_default(),
        extension,
        periods,
        steps,
        alerts: view.alerts.iter().map(|a| (beijing(a.created_at), a.kind.label(), a.note.clone())).collect(),
        allowed: view.allowed_steps.clone(),
        items: content.as_ref().map(item_choices).unwrap_or_default(),
        methods: content.as_ref().map(method_choices).unwrap_or_default(),
        form: typed.unwrap_or_else(|| RequestForm::from_request(&s.request)),
    };
    let status = page.feedback.status();
    Ok(render(status, &page))
}

/// The application's steps, oldest first, each with who took it for which organisation and what they wrote.
fn timeline(view: &ApplicationView, grants: &[Grant]) -> Vec<StepRow> {
    use govshare_domain::application::Step;
    let orgs = [(view.requester.id, view.requester.name.clone()), (view.provider.id, view.provider.name.clone())];
    let org_name = |id| {
        orgs.iter().find(|(o, _)| *o == id).map(|(_, n)| n.clone()).unwrap_or_else(|| "政务数据共享主管部门".into())
    };
    // Delivery notes written before grants had numbers name the grant by its id: show its number instead.
    let with_numbers =
        |note: &String| grants.iter().fold(note.clone(), |text, g| text.replace(&g.id.to_string(), &g.number));
    view.application
        .events
        .iter()
        .map(|e| {
            let detail = match &e.step {
                Step::Create { .. } | Step::Edit { .. } | Step::Submit => String::new(),
                Step::Return { note }
                | Step::Withdraw { note }
                | Step::ReturnReply { note }
                | Step::Send { note }
                | Step::ApproveReply { note } => note.clone(),
                Step::RecordDelivery { note } => with_numbers(note),
                Step::DraftReply { reply } => reply_text(reply),
                Step::Supplement { note, .. } => note.clone(),
                Step::RequestExtension { days, reason } => format!("延长 {days} 个工作日，理由：{reason}"),
                Step::DecideExtension { note, .. } => note.clone(),
            };
            StepRow {
                at: beijing(e.at),
                actor: e.actor_name.clone(),
                org: org_name(e.org),
                label: e.step.label(),
                detail,
            }
        })
        .collect()
}

/// The application workflow's step indicator: empty once it was refused or withdrawn (its status says so).
fn workflow(stage: Stage) -> Vec<(&'static str, StepState)> {
    const LABELS: [&str; 5] = ["起草申请", "本单位负责人审核", "提供部门答复", "提供部门共享", "已共享"];
    let at = match stage {
        Stage::Draft => Some(0),
        Stage::AwaitingRequesterHead => Some(1),
        Stage::AwaitingReply | Stage::ReplyAwaitingHead | Stage::AwaitingSupplement => Some(2),
        Stage::Approved => Some(3),
        Stage::Delivered => None,
        Stage::Refused | Stage::Withdrawn => return Vec::new(),
    };
    workflow_steps(&LABELS, at)
}

#[derive(Template)]
#[template(path = "application_print.html")]
struct PrintPage {
    /// 政务数据共享申请审批单, or 答复函 once the provider answered.
    title: &'static str,
    node_name: String,
    v: ApplicationRow,
    request: RequestForm,
    item_labels: Vec<String>,
    delivery: &'static str,
    /// The final answer: (decision, its conditions or reasons, when), once given.
    answer: Option<(String, String, String)>,
    steps: Vec<StepRow>,
    printed: String,
    printed_by: String,
}

/// A printable 审批单 (before the answer) or 答复函 (after it) of an application: the request, every step with
/// who took it and their 审核意见, and the answer — for the file (归档) and for a paper signature where one is
/// required. Readable by whoever may read the application.
pub async fn print(
    State(state): State<AppState>,
    ConsoleCaller(caller): ConsoleCaller,
    Path(id): Path<String>,
) -> PageResult {
    let id: ApplicationId = id.parse().map_err(|e: govshare_domain::ValidationError| fail(ServiceError::from(e)))?;
    let view = state.services.get_application(&caller.principal, id).await.map_err(fail)?;
    let entry =
        state.services.store().get_entry(view.application.entry).await.map_err(|e| fail(ServiceError::from(e)))?;
    let content = entry.version(view.application.entry_version).map(|v| v.content.clone());
    let grants = state.services.grants_of_application(id).await.map_err(fail)?;
    let s = &view.status;
    let answer = match (&s.reply, s.replied_at) {
        (Some(r), Some(at)) => Some((r.label().to_owned(), reply_text(r), beijing(at))),
        _ => None,
    };
    let page = PrintPage {
        title: if answer.is_some() { "政务数据共享申请答复函" } else { "政务数据共享申请审批单" },
        node_name: state.settings.node_name.clone(),
        v: row(&view),
        request: RequestForm::from_request(&s.request),
        item_labels: s.request.items.iter().map(|code| item_label(content.as_ref(), code)).collect(),
        delivery: s.request.delivery.label(),
        answer,
        steps: timeline(&view, &grants),
        printed: beijing(state.services.now()),
        printed_by: caller.principal.display_name(),
    };
    Ok(render(StatusCode::OK, &page))
}

fn reply_text(r: &Reply) -> String {
    match r {
        Reply::Approve { conditions } if conditions.is_empty() => String::new(),
        Reply::Approve { conditions } => format!("共享条件：{conditions}"),
        Reply::Refuse { reason } => format!("理由：{reason}"),
        Reply::Supplement { materials } => format!("需补正：{}", materials.join(";")),
    }
}

pub async fn detail(
    State(state): State<AppState>,
    ConsoleCaller(caller): ConsoleCaller,
    Path(id): Path<String>,
    Query(q): Query<DetailQuery>,
) -> PageResult {
    let id: ApplicationId = id.parse().map_err(|e| fail(ServiceError::from(e)))?;
    detail_page(&state, &caller, id, Feedback::notice(q.notice.as_deref()), None, None).await
}

/// Every step posts here; `step` says which, the other fields are the step's (see the API's `StepDto`).
pub async fn step(
    State(state): State<AppState>,
    ConsoleCaller(caller): ConsoleCaller,
    Path(id): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> PageResult {
    let id: ApplicationId = id.parse().map_err(|e| fail(ServiceError::from(e)))?;
    let get = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default();
    let typed = RequestForm::from_fields(&fields);
    let step = get("step");
    let dto = StepDto {
        step: step.clone(),
        note: get("note"),
        request: typed.dto(),
        decision: get("decision"),
        conditions: get("conditions"),
        reason: get("reason"),
        materials: get("materials").lines().map(str::to_owned).collect(),
        days: match get("days").trim() {
            "" => None,
            d => Some(d.parse().unwrap_or(0)),
        },
        granted: match get("granted").as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        },
    };
    let outcome = match dto.input() {
        Ok(input) => state.services.application_step(&caller.principal, id, &input).await,
        Err(e) => Err(e.into()),
    };
    match outcome {
        Ok(_) => Ok(Redirect::to(&format!("/console/applications/{id}?notice=step_{step}")).into_response()),
        Err(err) => {
            let typed = matches!(step.as_str(), "edit" | "supplement").then_some(typed);
            detail_page(&state, &caller, id, Feedback::from_error(&err), typed, None).await
        }
    }
}

/// The provider creates the grant of an approved application; the grant's page follows, or the application's
/// page with the reason and what was typed.
pub async fn create_grant(
    State(state): State<AppState>,
    ConsoleCaller(caller): ConsoleCaller,
    Path(id): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> PageResult {
    let id: ApplicationId = id.parse().map_err(|e| fail(ServiceError::from(e)))?;
    match state.services.create_grant(&caller.principal, id, &grant_input(&fields)).await {
        Ok(view) => {
            Ok(Redirect::to(&format!("/console/grants/{}?notice=grant_created", view.grant.id)).into_response())
        }
        Err(err) => detail_page(&state, &caller, id, Feedback::from_error(&err), None, Some(&fields)).await,
    }
}
