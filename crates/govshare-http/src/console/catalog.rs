//! Console pages of the catalog: the unified catalog, the department's own entries, the editor, an entry's
//! detail with its timeline and actions, the authority's review queue, and notifications.

use askama::Template;
use axum::Form;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use govshare_domain::authz::{Action, check};
use govshare_domain::catalog::{
    AssessmentConclusion, AssessmentId, AssessmentKind, CatalogEntry, DataFormat, DataType, DeliveryMethod,
    EntryContent, EntryId, EntryInput, EntryStatus, EntryVersion, FieldChange, PersonalInfoKind, SharingAttribute,
    SharingTerms, UpdateFrequency, ValueFormat,
};
use govshare_domain::duty::DutyKind;
use govshare_service::{AssessmentInput, CatalogScope, DutyState, DutyView, ReportUpload, SearchRequest, ServiceError};
use serde::Deserialize;

use super::ConsoleCaller;
use super::pages::{PageResult, beijing, fail};
use super::render;
use super::view::{Feedback, Layout, StepState, filters, steps};
use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;

async fn frame(state: &AppState, caller: &Caller, title: &str, path: &str) -> Result<Layout, Response> {
    super::pages::layout(state, caller, title, path).await
}

/// One line of a catalog list.
#[derive(Debug, Clone)]
pub struct EntryRow {
    pub id: String,
    pub name: String,
    pub code: String,
    pub provider: String,
    pub attribute: &'static str,
    pub attribute_code: &'static str,
    pub methods: String,
    pub grade: String,
    pub status: &'static str,
    pub version: u32,
    pub updated: String,
    /// On the review queue: the authority's review duty (审核期限 and working days left).
    pub review: Option<DutyView>,
    /// When the authority received it (北京时间), on the review queue.
    pub received: String,
}

async fn rows(state: &AppState, entries: &[CatalogEntry]) -> Result<Vec<EntryRow>, Response> {
    let orgs = state.services.store().list_orgs().await.map_err(|e| fail(ServiceError::from(e)))?;
    Ok(entries
        .iter()
        .map(|e| {
            let v = e.latest();
            EntryRow {
                id: e.id.to_string(),
                name: v.content.name.clone(),
                code: v.content.resource_code.clone(),
                provider: orgs.iter().find(|o| o.id == e.provider).map(|o| o.name.clone()).unwrap_or_default(),
                attribute: v.content.sharing.attribute().label(),
                attribute_code: v.content.sharing.attribute().code(),
                methods: v.content.delivery_methods.iter().map(|m| m.label()).collect::<Vec<_>>().join("、"),
                grade: v.content.grade.to_string(),
                status: v.status.label(),
                version: v.version,
                updated: beijing(v.updated_at),
                review: None,
                received: String::new(),
            }
        })
        .collect())
}

#[derive(Template)]
#[template(path = "catalog_list.html")]
struct ListPage {
    layout: Layout,
    feedback: Feedback,
    heading: &'static str,
    rows: Vec<EntryRow>,
    show_status: bool,
    can_create: bool,
    /// The review queue's 审核期限 column.
    show_deadline: bool,
}

#[derive(Debug, Deserialize, Default)]
pub struct ListQuery {
    notice: Option<String>,
}

/// One value of a facet in the sidebar: following the link toggles the filter.
#[derive(Debug, Clone)]
pub struct FacetLink {
    pub label: String,
    pub count: u64,
    pub selected: bool,
    pub href: String,
}

#[derive(Debug, Clone)]
pub struct FacetGroup {
    pub key: &'static str,
    pub label: &'static str,
    pub values: Vec<FacetLink>,
}

/// One search result.
#[derive(Debug, Clone)]
pub struct HitRow {
    pub id: String,
    pub name: String,
    pub code: String,
    pub summary: String,
    pub provider: String,
    pub attribute: &'static str,
    pub attribute_code: &'static str,
    pub methods: String,
    pub grade: String,
    pub published: String,
    /// The owning node's name when it is another node (its entries have no page here).
    pub node: Option<String>,
}

#[derive(Template)]
#[template(path = "catalog_search.html")]
struct SearchPage {
    layout: Layout,
    feedback: Feedback,
    q: String,
    total: usize,
    hits: Vec<HitRow>,
    facets: Vec<FacetGroup>,
    filtered: bool,
    /// Federated: the page offers this node's catalog and the national one.
    federated: bool,
    national: bool,
    prev_href: Option<String>,
    next_href: Option<String>,
    range: String,
}

/// The query string of a search with one parameter changed (`None` removes it).
fn search_href(req: &SearchRequest, key: &str, value: Option<String>) -> String {
    let mut params: Vec<(&str, String)> = vec![
        ("q", req.q.clone()),
        ("provider", req.provider.clone()),
        ("attribute", req.attribute.clone()),
        ("grade", req.grade.clone()),
        ("format", req.format.clone()),
        ("delivery", req.delivery.clone()),
        ("region", req.region.clone()),
        ("node", req.node.clone()),
        ("scope", req.scope.clone()),
        ("offset", req.offset.to_string()),
    ];
    for (k, v) in params.iter_mut() {
        if *k == key {
            *v = value.clone().unwrap_or_default();
        } else if *k == "offset" && key != "offset" {
            // A new filter starts at the first page.
            v.clear();
        }
    }
    params.retain(|(_, v)| !v.is_empty() && v != "0");
    let query = serde_urlencoded::to_string(&params).unwrap_or_default();
    if query.is_empty() { "/console/catalog".to_owned() } else { format!("/console/catalog?{query}") }
}

const PAGE_SIZE: usize = 20;

/// The unified catalog every department sees: Chinese full-text search over published entries with facets.
pub async fn published(
    State(state): State<AppState>,
    ConsoleCaller(caller): ConsoleCaller,
    Query(mut req): Query<SearchRequest>,
) -> PageResult {
    let layout = frame(&state, &caller, "政务数据目录", "/console/catalog").await?;
    req.limit = Some(PAGE_SIZE);
    let found = state.services.search_catalog(&caller.principal, &req).await.map_err(fail)?;
    let own = state.services.own_node().await.map_err(fail)?;
    let node_names: std::collections::HashMap<String, String> = found
        .facets
        .iter()
        .filter(|f| f.dimension.key() == "node")
        .flat_map(|f| f.values.iter().map(|v| (v.value.clone(), v.label.clone())))
        .collect();
    let facets = found
        .facets
        .iter()
        .filter(|f| !f.values.is_empty())
        .map(|f| FacetGroup {
            key: f.dimension.key(),
            label: f.dimension.label(),
            values: f
                .values
                .iter()
                .take(12)
                .map(|v| FacetLink {
                    label: v.label.clone(),
                    count: v.count,
                    selected: v.selected,
                    href: search_href(&req, f.dimension.key(), (!v.selected).then(|| v.value.clone())),
                })
                .collect(),
        })
        .collect();
    let hits = found
        .hits
        .iter()
        .map(|h| HitRow {
            id: h.id.to_string(),
            name: h.name.clone(),
            code: h.resource_code.clone(),
            summary: h.summary.chars().take(120).collect(),
            provider: h.provider_name.clone(),
            attribute: h.attribute.label(),
            attribute_code: h.attribute.code(),
            methods: h.delivery.iter().map(|m| m.label()).collect::<Vec<_>>().join("、"),
            grade: h.grade.replacen('-', " · ", 1) + " 级",
            published: beijing(h.published_at),
            node: h
                .node
                .as_ref()
                .filter(|n| Some(*n) != own.as_ref())
                .map(|n| node_names.get(&n.to_string()).cloned().unwrap_or_else(|| n.to_string())),
        })
        .collect::<Vec<_>>();
    let offset = found.offset;
    let page = SearchPage {
        layout,
        feedback: Feedback::default(),
        filtered: [&req.provider, &req.attribute, &req.grade, &req.format, &req.delivery, &req.region, &req.node]
            .iter()
            .any(|v| !v.trim().is_empty()),
        federated: own.is_some(),
        national: req.scope == "national",
        prev_href: (offset > 0)
            .then(|| search_href(&req, "offset", Some(offset.saturating_sub(PAGE_SIZE).to_string()))),
        next_href: (offset + PAGE_SIZE < found.total)
            .then(|| search_href(&req, "offset", Some((offset + PAGE_SIZE).to_string()))),
        range: if hits.is_empty() {
            String::new()
        } else {
            format!("第 {}–{} 条", offset + 1, offset + hits.len())
        },
        q: req.q.trim().to_owned(),
        total: found.total,
        hits,
        facets,
    };
    Ok(render(StatusCode::OK, &page))
}

pub async fn mine(
    State(state): State<AppState>,
    ConsoleCaller(caller): ConsoleCaller,
    Query(q): Query<ListQuery>,
) -> PageResult {
    let layout = frame(&state, &caller, "目录编制与报送", "/console/catalog/mine").await?;
    let entries = state.services.list_entries(&caller.principal, CatalogScope::Mine).await.map_err(fail)?;
    let page = ListPage {
        layout,
        feedback: Feedback::notice(q.notice.as_deref()),
        heading: "本单位目录",
        rows: rows(&state, &entries).await?,
        show_status: true,
        can_create: true,
        show_deadline: false,
    };
    Ok(render(StatusCode::OK, &page))
}

pub async fn review_queue(
    State(state): State<AppState>,
    ConsoleCaller(caller): ConsoleCaller,
    Query(q): Query<ListQuery>,
) -> PageResult {
    let layout = frame(&state, &caller, "目录审核", "/console/catalog/review").await?;
    let entries = state.services.list_entries(&caller.principal, CatalogScope::ReviewQueue).await.map_err(fail)?;
    // Each entry's review duty from the ledger: the same due date and working days left as the to-do list.
    let mut reviews: Vec<DutyView> = state
        .services
        .my_duties(&caller.principal, DutyState::Open)
        .await
        .map_err(fail)?
        .into_iter()
        .filter(|d| d.duty.kind == DutyKind::ReviewEntry)
        .collect();
    let mut rows = rows(&state, &entries).await?;
    for (row, entry) in rows.iter_mut().zip(&entries) {
        row.review = reviews.iter().position(|d| d.duty.subject_id == entry.id.0).map(|i| reviews.swap_remove(i));
        row.received = row.review.as_ref().map(|d| beijing(d.duty.started_at)).unwrap_or_default();
    }
    // Most urgent first: overdue, then by due time; entries without a statutory period last, oldest first.
    rows.sort_by_key(|r| {
        let due = r.review.as_ref().and_then(|d| d.duty.due_at);
        let received = r.review.as_ref().map(|d| d.duty.started_at);
        (due.is_none(), due, received)
    });
    let page = ListPage {
        layout,
        feedback: Feedback::notice(q.notice.as_deref()),
        heading: "待审核目录",
        rows,
        show_status: true,
        can_create: false,
        show_deadline: true,
    };
    Ok(render(StatusCode::OK, &page))
}

// ---- editor ----

/// Rows of data items the editor offers; more can be added after saving.
const ITEM_ROWS: usize = 8;

#[derive(Debug, Clone, Default)]
pub struct ItemForm {
    pub name: String,
    pub code: String,
    pub data_type: String,
    pub length: String,
    pub grade_class: String,
    pub grade_level: String,
    pub personal_info: String,
    pub value_format: String,
}

#[derive(Debug, Clone, Default)]
pub struct EntryForm {
    pub name: String,
    pub resource_code: String,
    pub summary: String,
    pub format: String,
    pub update_frequency: String,
    pub sharing_attribute: String,
    pub sharing_scope: String,
    pub permitted_purposes: String,
    pub not_shared_reason: String,
    pub legal_basis: String,
    pub delivery_methods: Vec<String>,
    pub usage_conditions: String,
    pub grade_class: String,
    pub grade_level: String,
    pub open_to_public: bool,
    pub related_codes: String,
    pub items: Vec<ItemForm>,
}

impl EntryForm {
    fn from_fields(fields: &[(String, String)]) -> Self {
        let get = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default();
        // As many rows as the form sent (rows may have been added in the browser), at least the usual number.
        let sent = fields
            .iter()
            .filter_map(|(k, _)| k.strip_prefix("item_name_").and_then(|n| n.parse::<usize>().ok()))
            .max()
            .map_or(0, |n| n + 1)
            .min(govshare_domain::catalog::MAX_ITEMS);
        let items = (0..sent.max(ITEM_ROWS))
            .map(|i| ItemForm {
                name: get(&format!("item_name_{i}")),
                code: get(&format!("item_code_{i}")),
                data_type: get(&format!("item_type_{i}")),
                length: get(&format!("item_length_{i}")),
                grade_class: get(&format!("item_grade_class_{i}")),
                grade_level: get(&format!("item_grade_level_{i}")),
                personal_info: get(&format!("item_pi_{i}")),
                value_format: get(&format!("item_format_{i}")),
            })
            .collect();
        EntryForm {
            name: get("name"),
            resource_code: get("resource_code"),
            summary: get("summary"),
            format: get("format"),
            update_frequency: get("update_frequency"),
            sharing_attribute: get("sharing_attribute"),
            sharing_scope: get("sharing_scope"),
            permitted_purposes: get("permitted_purposes"),
            not_shared_reason: get("not_shared_reason"),
            legal_basis: get("legal_basis"),
            delivery_methods: fields.iter().filter(|(k, _)| k == "delivery_methods").map(|(_, v)| v.clone()).collect(),
            usage_conditions: get("usage_conditions"),
            grade_class: get("grade_class"),
            grade_level: get("grade_level"),
            open_to_public: get("open_to_public") == "on",
            related_codes: get("related_codes"),
            items,
        }
    }

    fn from_content(c: &EntryContent) -> Self {
        let (scope, purposes, reason, basis) = match &c.sharing {
            SharingTerms::Unconditional => Default::default(),
            SharingTerms::Conditional { scope, purposes } => {
                (scope.clone(), purposes.join("\n"), String::new(), String::new())
            }
            SharingTerms::NotShared { reason, legal_basis } => {
                (String::new(), String::new(), reason.clone(), legal_basis.clone())
            }
        };
        let mut items: Vec<ItemForm> = c
            .items
            .iter()
            .map(|i| ItemForm {
                name: i.name.clone(),
                code: i.code.clone(),
                data_type: i.data_type.code().into(),
                length: i.length.map(|l| l.to_string()).unwrap_or_default(),
                grade_class: i.grade.class.clone(),
                grade_level: i.grade.level.to_string(),
                personal_info: i.personal_info.map(|p| p.code().to_owned()).unwrap_or_default(),
                value_format: i.format.map(|f| f.code().to_owned()).unwrap_or_default(),
            })
            .collect();
        items.resize(items.len().max(ITEM_ROWS), ItemForm::default());
        EntryForm {
            name: c.name.clone(),
            resource_code: c.resource_code.clone(),
            summary: c.summary.clone(),
            format: c.format.code().into(),
            update_frequency: c.update_frequency.code().into(),
            sharing_attribute: c.sharing.attribute().code().into(),
            sharing_scope: scope,
            permitted_purposes: purposes,
            not_shared_reason: reason,
            legal_basis: basis,
            delivery_methods: c.delivery_methods.iter().map(|m| m.code().to_owned()).collect(),
            usage_conditions: c.usage_conditions.clone(),
            grade_class: c.grade.class.clone(),
            grade_level: c.grade.level.to_string(),
            open_to_public: c.open_to_public,
            related_codes: c.related_codes.join(","),
            items,
        }
    }

    /// The form rows that become data items (rows with neither name nor code are left out), in order: the
    /// `k`-th data item of the input is row `kept_rows()[k]` of the form.
    fn kept_rows(&self) -> Vec<usize> {
        (0..self.items.len())
            .filter(|&i| !(self.items[i].name.trim().is_empty() && self.items[i].code.trim().is_empty()))
            .collect()
    }

    /// The problems of the form's input with item fields named by their row in the form (the input leaves
    /// empty rows out).
    fn on_rows(&self, problems: &[govshare_domain::ValidationError]) -> Vec<govshare_domain::ValidationError> {
        let rows = self.kept_rows();
        let mut problems = problems.to_vec();
        for p in &mut problems {
            let renamed = p.field.strip_prefix("items[").and_then(|rest| {
                let (k, tail) = rest.split_once(']')?;
                let row = rows.get(k.parse::<usize>().ok()?)?;
                Some(format!("items[{row}]{tail}"))
            });
            if let Some(field) = renamed {
                p.field = field.into();
            }
        }
        problems
    }

    /// The form as domain input; a level that is not a number becomes 0, which the grade rule then names.
    fn to_input(&self) -> EntryInput {
        let lines = |s: &str| s.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect::<Vec<_>>();
        EntryInput {
            name: self.name.clone(),
            resource_code: self.resource_code.clone(),
            summary: self.summary.clone(),
            format: self.format.clone(),
            items: self
                .items
                .iter()
                .filter(|i| !(i.name.trim().is_empty() && i.code.trim().is_empty()))
                .map(|i| govshare_domain::catalog::DataItemInput {
                    name: i.name.clone(),
                    code: i.code.clone(),
                    data_type: i.data_type.clone(),
                    length: i.length.trim().parse().ok(),
                    grade_class: i.grade_class.clone(),
                    grade_level: i.grade_level.trim().parse().unwrap_or(0),
                    personal_info: Some(i.personal_info.clone()).filter(|p| !p.trim().is_empty()),
                    format: Some(i.value_format.clone()).filter(|f| !f.trim().is_empty()),
                })
                .collect(),
            update_frequency: self.update_frequency.clone(),
            sharing_attribute: self.sharing_attribute.clone(),
            sharing_scope: self.sharing_scope.clone(),
            permitted_purposes: lines(&self.permitted_purposes),
            not_shared_reason: self.not_shared_reason.clone(),
            legal_basis: self.legal_basis.clone(),
            delivery_methods: self.delivery_methods.clone(),
            usage_conditions: self.usage_conditions.clone(),
            grade_class: self.grade_class.clone(),
            grade_level: self.grade_level.trim().parse().unwrap_or(0),
            open_to_public: self.open_to_public,
            related_codes: self
                .related_codes
                .split([',', ',', ' '])
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(str::to_owned)
                .collect(),
        }
    }

    pub fn has_method(&self, code: &str) -> bool {
        self.delivery_methods.iter().any(|m| m == code)
    }
}

pub type Choice = (&'static str, &'static str);

fn choices<T: Copy>(all: &[T], code: fn(T) -> &'static str, label: fn(T) -> &'static str) -> Vec<Choice> {
    all.iter().map(|v| (code(*v), label(*v))).collect()
}

#[derive(Template)]
#[template(path = "catalog_edit.html")]
struct EditPage {
    layout: Layout,
    feedback: Feedback,
    action: String,
    form: EntryForm,
    formats: Vec<Choice>,
    frequencies: Vec<Choice>,
    attributes: Vec<Choice>,
    methods: Vec<Choice>,
    types: Vec<Choice>,
    pi_kinds: Vec<Choice>,
    value_formats: Vec<Choice>,
    classes: Vec<String>,
    levels: Vec<String>,
}

fn edit_page(state: &AppState, layout: Layout, feedback: Feedback, action: String, form: EntryForm) -> Response {
    let scheme = &state.services.settings().grade_scheme;
    let status = feedback.status();
    let page = EditPage {
        layout,
        feedback,
        action,
        form,
        formats: choices(DataFormat::ALL, DataFormat::code, DataFormat::label),
        frequencies: choices(UpdateFrequency::ALL, UpdateFrequency::code, UpdateFrequency::label),
        attributes: choices(SharingAttribute::ALL, SharingAttribute::code, SharingAttribute::label),
        methods: choices(DeliveryMethod::ALL, DeliveryMethod::code, DeliveryMethod::label),
        types: choices(DataType::ALL, DataType::code, DataType::label),
        pi_kinds: choices(PersonalInfoKind::ALL, PersonalInfoKind::code, PersonalInfoKind::label),
        value_formats: choices(ValueFormat::ALL, ValueFormat::code, ValueFormat::label),
        classes: scheme.classes.clone(),
        levels: (1..=scheme.max_level).map(|l| l.to_string()).collect(),
    };
    render(status, &page)
}

pub async fn new_form(State(state): State<AppState>, ConsoleCaller(caller): ConsoleCaller) -> PageResult {
    let layout = frame(&state, &caller, "新建目录", "/console/catalog/mine").await?;
    let mut form = EntryForm { items: vec![ItemForm::default(); ITEM_ROWS], ..Default::default() };
    let scheme = &state.services.settings().grade_scheme;
    form.grade_class = scheme.classes.last().cloned().unwrap_or_default();
    Ok(edit_page(&state, layout, Feedback::default(), "/console/catalog/new".into(), form))
}

pub async fn create(
    State(state): State<AppState>,
    ConsoleCaller(caller): ConsoleCaller,
    Form(fields): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = EntryForm::from_fields(&fields);
    match state.services.create_entry(&caller.principal, &form.to_input()).await {
        Ok(entry) => Ok(Redirect::to(&format!("/console/catalog/{}?notice=entry_saved", entry.id)).into_response()),
        Err(err) => {
            let layout = frame(&state, &caller, "新建目录", "/console/catalog/mine").await?;
            Ok(edit_page(&state, layout, form_feedback(&form, &err), "/console/catalog/new".into(), form))
        }
    }
}

fn entry_id(raw: &str) -> Result<EntryId, Response> {
    raw.parse().map_err(|e: govshare_domain::ValidationError| fail(ServiceError::from(e)))
}

pub async fn edit_form(
    State(state): State<AppState>,
    ConsoleCaller(caller): ConsoleCaller,
    Path(id): Path<String>,
) -> PageResult {
    let id = entry_id(&id)?;
    let entry = state.services.get_entry(&caller.principal, id).await.map_err(fail)?;
    // The form is only for those who may save it (the POST is refused by the use case for anyone else).
    check(&caller.principal, Action::DraftCatalog(entry.provider))
        .map_err(|denied| fail(ServiceError::Forbidden(denied.to_string())))?;
    let layout = frame(&state, &caller, "编辑目录", "/console/catalog/mine").await?;
    let form = EntryForm::from_content(&entry.latest().content);
    Ok(edit_page(&state, layout, Feedback::default(), format!("/console/catalog/{id}/edit"), form))
}

pub async fn edit(
    State(state): State<AppState>,
    ConsoleCaller(caller): ConsoleCaller,
    Path(id): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> PageResult {
    let id = entry_id(&id)?;
    let form = EntryForm::from_fields(&fields);
    match state.services.edit_entry(&caller.principal, id, &form.to_input()).await {
        Ok(_) => Ok(Redirect::to(&format!("/console/catalog/{id}?notice=entry_saved")).into_response()),
        Err(err) => {
            let layout = frame(&state, &caller, "编辑目录", "/console/catalog/mine").await?;
            let feedback = form_feedback(&form, &err);
            Ok(edit_page(&state, layout, feedback, format!("/console/catalog/{id}/edit"), form))
        }
    }
}

/// A refused save: every problem of the content at once, marked on the form's rows; otherwise the refusal.
fn form_feedback(form: &EntryForm, err: &ServiceError) -> Feedback {
    match err.problems() {
        Some(problems) => Feedback::from_problems(&form.on_rows(problems)),
        None => Feedback::from_error(err),
    }
}

// ---- detail ----

#[derive(Debug, Clone)]
pub struct EventView {
    pub at: String,
    pub actor: String,
    pub action: &'static str,
    pub version: u32,
    pub note: String,
}

fn action_label(action: &str) -> &'static str {
    match action {
        "draft.create" => "新建草稿",
        "draft.edit" => "修改草稿",
        "revision.create" => "发起新版本",
        "assessment.attach" => "附加评估",
        "assessment.remove" => "移除评估",
        "assessment.report" => "上传评估报告",
        "draft.submit" => "提交负责人审核",
        "head.approve" => "负责人同意并报送主管部门",
        "head.reject" => "负责人退回",
        "authority.publish" => "主管部门审核发布",
        "authority.return" => "主管部门退回",
        _ => "其他",
    }
}

/// The catalog's lifecycle (R-CAT-3) as the step indicator shows it: a returned version is back at 起草, a
/// superseded one has been through every step.
fn lifecycle_steps(status: EntryStatus) -> Vec<(&'static str, StepState)> {
    const STEPS: [&str; 4] = ["起草", "负责人审核", "主管部门审核", "已发布"];
    let current = match status {
        EntryStatus::Draft | EntryStatus::Returned => Some(0),
        EntryStatus::AwaitingHead => Some(1),
        EntryStatus::SubmittedToAuthority => Some(2),
        EntryStatus::Published => Some(3),
        EntryStatus::Superseded => None,
    };
    steps(&STEPS, current)
}

#[derive(Template)]
#[template(path = "catalog_detail.html")]
struct DetailPage {
    layout: Layout,
    feedback: Feedback,
    id: String,
    provider: String,
    shown: EntryVersion,
    sharing: String,
    methods: String,
    versions: Vec<(u32, &'static str, String)>,
    events: Vec<EventView>,
    changes: Vec<FieldChange>,
    compare: Option<(u32, u32)>,
    can_edit: bool,
    can_submit: bool,
    can_approve: bool,
    can_review: bool,
    /// A draft never submitted may be deleted by whoever may edit it.
    can_delete: bool,
    /// The shown version is the editable draft: its assessments may be removed.
    can_remove_assessments: bool,
    /// The shown version's place in the lifecycle (`templates/steps.html`).
    steps: Vec<(&'static str, StepState)>,
    /// Another department's staff may apply for a published, shared entry.
    can_apply: bool,
    kinds: Vec<Choice>,
    conclusions: Vec<Choice>,
    /// The data source, for the provider and its same-level authority.
    source: Option<super::grants::SourceSection>,
}

#[derive(Debug, Deserialize, Default)]
pub struct DetailQuery {
    notice: Option<String>,
    version: Option<u32>,
    from: Option<u32>,
}

pub(super) async fn detail_page(
    state: &AppState,
    caller: &Caller,
    id: EntryId,
    q: &DetailQuery,
    feedback: Feedback,
) -> PageResult {
    detail_page_typed(state, caller, id, q, feedback, None).await
}

/// The entry's page; `typed_source` is a refused source binding, shown again in its form.
pub(super) async fn detail_page_typed(
    state: &AppState,
    caller: &Caller,
    id: EntryId,
    q: &DetailQuery,
    feedback: Feedback,
    typed_source: Option<&govshare_domain::record::SourceInput>,
) -> PageResult {
    let entry = state.services.get_entry(&caller.principal, id).await.map_err(fail)?;
    let provider = state.services.store().get_org(entry.provider).await.map_err(|e| fail(ServiceError::from(e)))?;
    let layout = frame(state, caller, "目录详情", "/console/catalog").await?;
    let shown = q.version.and_then(|n| entry.version(n)).unwrap_or_else(|| entry.latest()).clone();
    let compare = q.from.filter(|f| *f != shown.version && entry.version(*f).is_some()).map(|f| (f, shown.version));
    let changes = match compare {
        Some((from, to)) => state.services.entry_diff(&caller.principal, id, from, to).await.map_err(fail)?,
        None => vec![],
    };
    let working = entry.working().map(|v| v.status);
    let p = &caller.principal;
    let drafting = check(p, Action::DraftCatalog(entry.provider)).is_ok();
    let sharing = match &shown.content.sharing {
        SharingTerms::Unconditional => "无条件共享".to_owned(),
        SharingTerms::Conditional { scope, purposes } => {
            format!("有条件共享 · 共享范围：{scope} · 使用用途：{}", purposes.join("、"))
        }
        SharingTerms::NotShared { reason, legal_basis } => format!("不予共享 · 理由：{reason} · 依据：{legal_basis}"),
    };
    let page = DetailPage {
        layout,
        feedback,
        id: id.to_string(),
        provider: provider.name,
        methods: shown.content.delivery_methods.iter().map(|m| m.label()).collect::<Vec<_>>().join("、"),
        sharing,
        versions: entry.versions.iter().map(|v| (v.version, v.status.label(), beijing(v.updated_at))).collect(),
        events: entry
            .events
            .iter()
            .rev()
            .map(|e| EventView {
                at: beijing(e.at),
                actor: e.actor_name.clone(),
                action: action_label(&e.action),
                version: e.version,
                note: e.note.clone(),
            })
            .collect(),
        changes,
        compare,
        can_edit: drafting && !matches!(working, Some(EntryStatus::AwaitingHead | EntryStatus::SubmittedToAuthority)),
        can_submit: drafting && matches!(working, Some(EntryStatus::Draft | EntryStatus::Returned)),
        can_approve: working == Some(EntryStatus::AwaitingHead)
            && check(p, Action::ApproveCatalog(entry.provider)).is_ok(),
        can_review: working == Some(EntryStatus::SubmittedToAuthority)
            && check(p, Action::ReviewCatalog(provider.region)).is_ok(),
        can_delete: drafting && entry.check_deletable().is_ok(),
        steps: lifecycle_steps(shown.status),
        can_remove_assessments: drafting
            && matches!(working, Some(EntryStatus::Draft | EntryStatus::Returned))
            && entry.working().is_some_and(|v| v.version == shown.version),
        can_apply: entry
            .published()
            .is_some_and(|v| v.content.sharing.attribute() != govshare_domain::catalog::SharingAttribute::NotShared)
            && p.org_id().is_some_and(|org| org != entry.provider && check(p, Action::PrepareSharing(org)).is_ok()),
        kinds: choices(AssessmentKind::ALL, AssessmentKind::code, AssessmentKind::label),
        conclusions: choices(AssessmentConclusion::ALL, AssessmentConclusion::code, AssessmentConclusion::label),
        source: super::grants::source_section(state, caller, &entry, typed_source).await,
        shown,
    };
    let status = page.feedback.status();
    Ok(render(status, &page))
}

pub async fn detail(
    State(state): State<AppState>,
    ConsoleCaller(caller): ConsoleCaller,
    Path(id): Path<String>,
    Query(q): Query<DetailQuery>,
) -> PageResult {
    let id = entry_id(&id)?;
    detail_page(&state, &caller, id, &q, Feedback::notice(q.notice.as_deref())).await
}

#[derive(Debug, Deserialize, Default)]
pub struct ActionForm {
    #[serde(default)]
    reason: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    document_title: String,
    #[serde(default)]
    document_ref: String,
    #[serde(default)]
    assessed_on: String,
    #[serde(default)]
    conclusion: String,
    #[serde(default)]
    assessment_id: String,
}

/// Every lifecycle action posts here; the outcome is shown on the entry's page.
pub async fn act(
    State(state): State<AppState>,
    ConsoleCaller(caller): ConsoleCaller,
    Path((id, action)): Path<(String, String)>,
    Form(form): Form<ActionForm>,
) -> PageResult {
    let id = entry_id(&id)?;
    let s = &state.services;
    let p = &caller.principal;
    let outcome = match action.as_str() {
        "remove-assessment" => {
            let assessment = form
                .assessment_id
                .parse()
                .map_err(|e: govshare_domain::ValidationError| fail(ServiceError::from(e)))?;
            s.remove_assessment(p, id, assessment).await.map(|_| "assessment_removed")
        }
        "submit" => s.submit_entry(p, id).await.map(|_| "entry_submitted"),
        "approve" => s.head_decide(p, id, true, "").await.map(|_| "entry_approved"),
        "reject" => s.head_decide(p, id, false, &form.reason).await.map(|_| "entry_sent_back"),
        "publish" => s.review_entry(p, id, true, "").await.map(|_| "entry_published"),
        "return" => s.review_entry(p, id, false, &form.reason).await.map(|_| "entry_returned"),
        "delete" => {
            return match s.delete_entry(p, id).await {
                Ok(()) => Ok(Redirect::to("/console/catalog/mine?notice=entry_deleted").into_response()),
                Err(err) => detail_page(&state, &caller, id, &DetailQuery::default(), Feedback::from_error(&err)).await,
            };
        }
        _ => return Err(fail(ServiceError::NotFound("未知操作".into()))),
    };
    match outcome {
        Ok(notice) => Ok(Redirect::to(&format!("/console/catalog/{id}?notice={notice}")).into_response()),
        Err(err) => detail_page(&state, &caller, id, &DetailQuery::default(), Feedback::from_error(&err)).await,
    }
}

/// Largest assessment form (the report and the fields); the CSRF check reads multipart bodies up to 12 MiB.
pub const MAX_ASSESSMENT_FORM_BYTES: usize = govshare_domain::catalog::MAX_REPORT_BYTES + 64 * 1024;

/// The assessment form's fields and, when one was chosen, the report file.
async fn read_assessment_form(mut multipart: Multipart) -> Result<(ActionForm, Option<ReportUpload>), ServiceError> {
    let unreadable = || govshare_domain::ValidationError::new("report", "unreadable", "上传内容不完整，请重新选择文件");
    let mut form = ActionForm::default();
    let mut report = None;
    while let Some(field) = multipart.next_field().await.map_err(|_| unreadable())? {
        let name = field.name().unwrap_or_default().to_owned();
        if name == "report" {
            let file_name = field.file_name().unwrap_or_default().to_owned();
            let bytes = field.bytes().await.map_err(|_| unreadable())?;
            // A form sent without choosing a file still has the part, empty and unnamed.
            if !(bytes.is_empty() && file_name.is_empty()) {
                report = Some(ReportUpload { file_name, bytes: bytes.to_vec() });
            }
            continue;
        }
        let value = field.text().await.map_err(|_| unreadable())?;
        match name.as_str() {
            "kind" => form.kind = value,
            "document_title" => form.document_title = value,
            "document_ref" => form.document_ref = value,
            "assessed_on" => form.assessed_on = value,
            "conclusion" => form.conclusion = value,
            _ => {}
        }
    }
    Ok((form, report))
}

/// Attaches an assessment (Art. 13), with its report (PDF) when one is chosen: a multipart form.
pub async fn attach_assessment(
    State(state): State<AppState>,
    ConsoleCaller(caller): ConsoleCaller,
    Path(id): Path<String>,
    multipart: Multipart,
) -> PageResult {
    let id = entry_id(&id)?;
    let outcome = match read_assessment_form(multipart).await {
        Ok((form, report)) => {
            let input = AssessmentInput {
                kind: form.kind,
                document_title: form.document_title,
                document_ref: form.document_ref,
                assessed_on: form.assessed_on,
                conclusion: form.conclusion,
            };
            state.services.attach_assessment_with_report(&caller.principal, id, &input, report.as_ref()).await
        }
        Err(err) => Err(err),
    };
    match outcome {
        Ok(_) => Ok(Redirect::to(&format!("/console/catalog/{id}?notice=assessment_attached")).into_response()),
        Err(err) => detail_page(&state, &caller, id, &DetailQuery::default(), Feedback::from_error(&err)).await,
    }
}

/// Uploads (or replaces) the report file of an attached assessment: a multipart form with the file as `report`.
pub async fn upload_report(
    State(state): State<AppState>,
    ConsoleCaller(caller): ConsoleCaller,
    Path((id, assessment)): Path<(String, String)>,
    multipart: Multipart,
) -> PageResult {
    let id = entry_id(&id)?;
    let assessment: AssessmentId =
        assessment.parse().map_err(|e: govshare_domain::ValidationError| fail(ServiceError::from(e)))?;
    let outcome = match read_assessment_form(multipart).await {
        Ok((_, Some(file))) => state.services.upload_assessment_report(&caller.principal, id, assessment, &file).await,
        Ok((_, None)) => {
            Err(govshare_domain::ValidationError::new("report", "required", "请选择评估报告文件（PDF）").into())
        }
        Err(err) => Err(err),
    };
    match outcome {
        Ok(_) => Ok(Redirect::to(&format!("/console/catalog/{id}?notice=report_uploaded")).into_response()),
        Err(err) => detail_page(&state, &caller, id, &DetailQuery::default(), Feedback::from_error(&err)).await,
    }
}

// ---- notifications ----

#[derive(Debug, Clone)]
pub struct NotificationView {
    pub id: String,
    pub at: String,
    pub title: String,
    pub body: String,
    pub unread: bool,
}

#[derive(Template)]
#[template(path = "notifications.html")]
struct NotificationsPage {
    layout: Layout,
    feedback: Feedback,
    items: Vec<NotificationView>,
}

pub async fn notifications(State(state): State<AppState>, ConsoleCaller(caller): ConsoleCaller) -> PageResult {
    let layout = frame(&state, &caller, "消息通知", "/console/notifications").await?;
    let list = state.services.notifications(&caller.principal, 100).await.map_err(fail)?;
    let items = list
        .into_iter()
        .map(|n| NotificationView {
            id: n.id.to_string(),
            at: beijing(n.created_at),
            title: n.title,
            body: n.body,
            unread: n.read_at.is_none(),
        })
        .collect();
    Ok(render(StatusCode::OK, &NotificationsPage { layout, feedback: Feedback::default(), items }))
}

/// Opening a notification marks it read, so it is a POST (a GET never changes state), then goes to its page.
pub async fn open_notification(
    State(state): State<AppState>,
    ConsoleCaller(caller): ConsoleCaller,
    Path(id): Path<String>,
) -> PageResult {
    let id = uuid::Uuid::parse_str(id.trim())
        .map_err(|_| fail(ApiError::bad_request(Some("notification_id"), "通知标识格式错误")))?;
    let list = state.services.notifications(&caller.principal, 200).await.map_err(fail)?;
    let target =
        list.iter().find(|n| n.id == id).map(|n| n.link.clone()).unwrap_or_else(|| "/console/notifications".into());
    state.services.mark_notification_read(&caller.principal, id).await.map_err(fail)?;
    Ok(Redirect::to(&target).into_response())
}
