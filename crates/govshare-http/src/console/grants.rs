//! Console pages of the data plane (R-DEL-1..5; Art. 22, 25, 29): the grants the acting organisation requested
//! or provides, each grant's terms, states and usage records, the usage records of the organisation, and — on a
//! catalog entry's page — the provider's data source: its binding, loads from an uploaded file and their history.
//! The form creating a grant from an approved application is shown on the application's page
//! (`applications.rs`); its view model is here.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use askama::Template;
use axum::Form;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use govshare_domain::ValidationError;
use govshare_domain::authz::{Action, check};
use govshare_domain::catalog::{CatalogEntry, EntryContent, EntryId};
use govshare_domain::grant::{GrantId, GrantInput, GrantState, GrantStatus, Masking, MisuseGrounds, UsageRecord};
use govshare_domain::record::{LoadMode, RowError, SourceInput, SourceKind};
use govshare_service::{GrantActionInput, GrantView, LoadReport, LoadRequest, ServiceError, UsageSearch};
use serde::Deserialize;
use tokio::io::AsyncWriteExt;

use super::ConsoleCaller;
use super::pages::{PageResult, actor_name, beijing, fail, layout, org_names, person_names};
use super::render;
use super::table::{EXPORT_LIMIT, TableState, day_start, matches_words, xlsx};
use super::view::{Feedback, Layout, filters};
use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
use govshare_domain::org::OrgId;

/// The largest file the console's upload form takes: the CSRF check reads a multipart form whole, up to 12 MiB.
/// Larger files are loaded with `govshare source load` or the API, which stream.
pub const MAX_CONSOLE_LOAD_BYTES: usize = 12 * 1024 * 1024;

#[derive(Debug, Deserialize, Default)]
pub struct NoticeQuery {
    notice: Option<String>,
}

fn internal(err: impl std::error::Error + Send + Sync + 'static) -> ServiceError {
    ServiceError::Internal(Box::new(err))
}

fn status_class(status: GrantStatus) -> &'static str {
    match status {
        GrantStatus::Active => "tag-ok",
        GrantStatus::Suspended | GrantStatus::NotYetValid | GrantStatus::AwaitingAcknowledgement => "tag-warn",
        GrantStatus::Terminated | GrantStatus::Expired => "tag-err",
    }
}

/// "姓名(xm)", or the code alone when the entry no longer has the item.
pub(super) fn item_label(content: Option<&EntryContent>, code: &str) -> String {
    content
        .and_then(|c| c.items.iter().find(|i| i.code == code))
        .map_or_else(|| code.to_owned(), |i| format!("{}（{}）", i.name, i.code))
}

/// One line of the grant list.
#[derive(Debug, Clone)]
pub struct GrantRow {
    pub id: String,
    /// 授权编号, shown wherever a person reads which grant this is (the id stays in URLs).
    pub number: String,
    pub entry_id: String,
    pub entry_name: String,
    pub requester: String,
    pub provider: String,
    pub items: usize,
    pub validity: String,
    pub status: &'static str,
    pub status_code: &'static str,
    pub status_class: &'static str,
    pub created: String,
}

fn grant_row(v: &GrantView) -> GrantRow {
    let g = &v.grant;
    GrantRow {
        id: g.id.to_string(),
        number: g.number.clone(),
        entry_id: g.entry.to_string(),
        entry_name: v.entry_name.clone(),
        requester: v.requester_name.clone(),
        provider: v.provider_name.clone(),
        items: g.items.len(),
        validity: format!("{} 至 {}", g.valid_from, g.valid_until),
        status: v.status.label(),
        status_code: v.status.code(),
        status_class: status_class(v.status),
        created: beijing(g.created_at),
    }
}

/// One usage record as shown.
#[derive(Debug, Clone)]
pub struct UsageRow {
    pub at: String,
    /// The requesting department.
    pub caller: String,
    /// The person who called (their name), empty when a business system called.
    pub person: String,
    pub system: String,
    pub operation: &'static str,
    pub rows: u64,
    pub result: String,
    pub ok: bool,
    pub latency_ms: String,
    /// The grant's id (for its link) and number (its text); empty when the access had no grant.
    pub grant: String,
    pub grant_number: String,
    pub entry_id: String,
    pub entry_name: String,
}

fn operation_label(op: &str) -> &'static str {
    match op {
        "lookup" => "按主键查询",
        "query" => "条件查询",
        "verify" => "核验",
        "changes" => "批量交换（分页）",
        "export" => "批量交换（流式导出）",
        "download" => "文件下载",
        _ => "其他",
    }
}

fn result_label(result: &str) -> String {
    let why = match result {
        "ok" => return "成功".to_owned(),
        "not_found" => return "无记录".to_owned(),
        "item_not_granted" => "数据项不在授权范围内",
        "grant_suspended" => "授权已暂停",
        "grant_terminated" => "授权已终止",
        "grant_expired" => "授权已过期",
        "grant_not_yet_valid" => "授权尚未生效",
        "entry_not_published" => "目录未发布",
        "source_not_bound" => "未绑定数据源",
        "query_not_supported" | "exchange_not_supported" | "download_not_supported" => "授权不含该共享方式",
        "rate_limited" => "超过调用频率",
        "volume_exceeded" => "超过每日数据量",
        "validation_failed" => "请求参数不符合要求",
        "forbidden" => "无权调用",
        "upstream_failed" => "数据源暂不可用",
        _ => "其他原因",
    };
    format!("拒绝（{why}）")
}

async fn usage_rows(
    state: &AppState,
    records: &[UsageRecord],
    orgs: &HashMap<OrgId, String>,
) -> Result<Vec<UsageRow>, Response> {
    let store = state.services.store();
    let names = person_names(state, records.iter().map(|r| r.actor.as_str()).collect()).await?;
    let mut entries: HashMap<EntryId, String> = HashMap::new();
    let mut grants: HashMap<GrantId, String> = HashMap::new();
    for r in records {
        if let Some(grant) = r.grant
            && let std::collections::hash_map::Entry::Vacant(slot) = grants.entry(grant)
        {
            slot.insert(store.get_grant(grant).await.map_or_else(|_| String::new(), |g| g.number));
        }
        if let std::collections::hash_map::Entry::Vacant(slot) = entries.entry(r.entry) {
            let name = match store.get_entry(r.entry).await {
                Ok(e) => e.published().unwrap_or_else(|| e.latest()).content.name.clone(),
                Err(_) => r.entry.to_string(),
            };
            slot.insert(name);
        }
    }
    Ok(records
        .iter()
        .map(|r| UsageRow {
            at: beijing(r.at),
            caller: orgs.get(&r.requester).cloned().unwrap_or_default(),
            person: if r.actor.starts_with("user:") { actor_name(&r.actor, &names) } else { String::new() },
            system: r.system.clone().unwrap_or_default(),
            operation: operation_label(&r.operation),
            rows: r.rows,
            result: result_label(&r.result),
            ok: r.result == "ok" || r.result == "not_found",
            latency_ms: format!("{:.1}", r.latency_us as f64 / 1000.0),
            grant: r.grant.map(|g| g.to_string()).unwrap_or_default(),
            grant_number: r.grant.and_then(|g| grants.get(&g).cloned()).unwrap_or_default(),
            entry_id: r.entry.to_string(),
            entry_name: entries.get(&r.entry).cloned().unwrap_or_default(),
        })
        .collect())
}

// ---- grants ----

#[derive(Template)]
#[template(path = "grants.html")]
struct ListPage {
    layout: Layout,
    feedback: Feedback,
    rows: Vec<GrantRow>,
    table: TableState,
    /// (code, label) of every status, for the 状态 filter.
    statuses: Vec<(&'static str, &'static str)>,
    /// Whether the acting organisation is shown both sides (then the 本单位是 filter is offered).
    sides: bool,
}

/// The grant table's filters: words in the number, catalog or department names; the status; the acting
/// organisation's side (`provider` / `requester`).
const GRANT_FILTERS: [&str; 3] = ["q", "status", "side"];

fn grant_order(column: &str, a: &GrantView, b: &GrantView) -> std::cmp::Ordering {
    match column {
        "until" => a.grant.valid_until.cmp(&b.grant.valid_until),
        "number" => a.grant.number.cmp(&b.grant.number),
        _ => a.grant.created_at.cmp(&b.grant.created_at),
    }
}

pub async fn list(
    State(state): State<AppState>,
    ConsoleCaller(caller): ConsoleCaller,
    Query(query): Query<HashMap<String, String>>,
) -> PageResult {
    let mut table =
        TableState::from_query("/console/grants", &query, &GRANT_FILTERS, &["created", "until", "number"], true);
    let views = state.services.list_grants(&caller.principal).await.map_err(fail)?;
    let acting = caller.principal.org_id();
    let (words, status, side) = (table.filter("q").to_owned(), table.filter("status"), table.filter("side"));
    let (status, side) = (status.to_owned(), side.to_owned());
    let shown = table.page_of(
        views,
        |v| {
            (status.is_empty() || v.status.code() == status)
                && match side.as_str() {
                    "provider" => Some(v.grant.provider) == acting,
                    "requester" => Some(v.grant.requester) == acting,
                    _ => true,
                }
                && matches_words(&words, &[&v.grant.number, &v.entry_name, &v.requester_name, &v.provider_name])
        },
        grant_order,
    );
    let rows: Vec<GrantRow> = shown.iter().map(grant_row).collect();
    if table.export {
        let headers = ["授权编号", "目录", "需求部门", "提供部门", "数据项", "有效期", "状态"];
        let cells: Vec<Vec<String>> = rows
            .iter()
            .map(|r| {
                vec![
                    r.number.clone(),
                    r.entry_name.clone(),
                    r.requester.clone(),
                    r.provider.clone(),
                    r.items.to_string(),
                    r.validity.clone(),
                    r.status.to_owned(),
                ]
            })
            .collect();
        return xlsx("grants.xlsx", "共享授权.xlsx", &headers, &cells);
    }
    let page = ListPage {
        layout: layout(&state, &caller, "共享授权", "/console/grants").await?,
        feedback: Feedback::notice(query.get("notice").map(String::as_str)),
        rows,
        table,
        statuses: GrantStatus::ALL.iter().map(|s| (s.code(), s.label())).collect(),
        sides: acting.is_some(),
    };
    Ok(render(StatusCode::OK, &page))
}

/// One step of a grant's life.
#[derive(Debug, Clone)]
pub struct GrantEventRow {
    pub at: String,
    pub actor: String,
    pub action: &'static str,
    pub reason: String,
}

fn grant_action_label(action: &str) -> &'static str {
    match action {
        "create" => "创建授权",
        "suspend" => "暂停",
        "resume" => "恢复",
        "terminate" => "终止",
        "rectify" => "报告整改情况",
        "propose_termination" => "协商终止并报备案",
        "propose_narrowing" => "协商变更并报备案",
        "record_filing" => "终止备案",
        "request_change" => "提出变更申请",
        "send_change" => "审核发送变更申请",
        "withdraw_change" => "撤回变更申请",
        "draft_change_decision" => "拟定变更答复",
        "return_change_decision" => "退回变更答复",
        "decide_change" => "答复变更申请",
        "declare_ended" => "需求部门结束使用",
        "require_disposal" => "提出处置要求",
        "confirm_disposal" => "确认数据处置",
        "acknowledge_disposal" => "确认处置情况",
        "return_disposal" => "退回处置确认",
        "acknowledge_aggregation" => "确认数据汇聚风险",
        _ => "其他",
    }
}

#[derive(Template)]
#[template(path = "grant_detail.html")]
struct DetailPage {
    layout: Layout,
    feedback: Feedback,
    v: GrantRow,
    application_id: String,
    /// The application's number (申请编号), the link's text.
    application_number: String,
    /// (item, how it leaves)
    items: Vec<(String, &'static str)>,
    purpose: String,
    row_scope: String,
    delivery: String,
    rate_per_minute: u32,
    daily_rows: u64,
    created: String,
    events: Vec<GrantEventRow>,
    can_control: bool,
    can_suspend: bool,
    can_resume: bool,
    can_terminate: bool,
    /// The requester's head may report the rectification of the misuse the grant is suspended for.
    can_rectify: bool,
    /// The requester's staff may file a correction request on a record received under the grant (Art. 26).
    can_correct: bool,
    /// The misuse suspension in force: (grounds, rectify-by date, whether the rectification was reported).
    misuse: Option<(&'static str, String, bool)>,
    /// The aggregation warning: (summary, (entry, item, why) rows,
    /// acknowledgement in words).
    aggregation: Option<AggregationShown>,
    /// The provider's same-level authority may acknowledge the pending aggregation warning.
    can_acknowledge_aggregation: bool,
    /// (code, label) of the misuse grounds, for the suspension form.
    misuse_grounds: Vec<(&'static str, &'static str)>,
    /// The provider's head may propose ending the running service (Art. 27 ¶3).
    can_propose_ending: bool,
    /// The authority may record the filing of the proposed ending.
    can_record_filing: bool,
    /// The proposed ending awaiting its filing: (effective date, negotiation).
    pending_ending: Option<(String, String)>,
    /// The day a filed ending takes effect.
    ends_on: Option<String>,
    /// For the narrowing form: (code, name, current masking, the stricter choices (code, label)).
    narrow_rows: Vec<NarrowRow>,
    /// A proposed narrowing awaiting its filing: (date, negotiation, the items as they will be).
    pending_narrowing: Option<(String, String, String)>,
    /// A filed narrowing waiting for its day: (date, the items as they will be).
    scheduled_narrowing: Option<(String, String)>,
    usage: Vec<UsageRow>,
    show_grant: bool,
    /// Change requests and the terms' versions (Art. 25 ¶1).
    changes: super::changes::ChangeSection,
    /// Records of use (Art. 29 ¶2).
    uses: super::uses::UseSection,
    /// The disposal of the data once the use ends (Art. 27 ¶1).
    disposal: super::disposal::DisposalSection,
}

/// A granted item in the narrowing form: code, name, current masking, the stricter choices (code, label).
type NarrowRow = (String, String, &'static str, Vec<(&'static str, &'static str)>);

/// Items as a narrowing leaves them, in words.
fn narrowed_items(items: &[govshare_domain::grant::GrantItem], content: &EntryContent) -> String {
    items
        .iter()
        .map(|i| format!("{}（{}）", item_label(Some(content), &i.code), i.masking.label()))
        .collect::<Vec<_>>()
        .join("、")
}

/// An aggregation warning as the page shows it: the summary, (entry, item, why) rows, the acknowledgement in words.
type AggregationShown = (String, Vec<(String, String, String)>, Option<String>);

pub(super) fn grant_id(raw: &str) -> Result<GrantId, Response> {
    raw.parse().map_err(|e: ValidationError| fail(ServiceError::from(e)))
}

/// The grant's page; `typed` is what a change-request form that came back with problems held.
pub(super) async fn detail_page(
    state: &AppState,
    caller: &Caller,
    id: GrantId,
    feedback: Feedback,
    status: StatusCode,
    typed: super::view::Typed,
) -> PageResult {
    let p = &caller.principal;
    let view = state.services.get_grant(p, id).await.map_err(fail)?;
    let layout = layout(state, caller, "共享授权详情", "/console/grants").await?;
    let g = &view.grant;
    let store = state.services.store();
    let entry = store.get_entry(g.entry).await.map_err(|e| fail(ServiceError::from(e)))?;
    let content = entry.published().unwrap_or_else(|| entry.latest()).content.clone();
    let provider = store.get_org(g.provider).await.map_err(|e| fail(ServiceError::from(e)))?;
    let can_control = check(p, Action::ControlGrant { provider: g.provider, provider_region: provider.region }).is_ok();
    let records = state.services.usage_records(p, Some(id), None, 100).await.map_err(fail)?;
    let application = store.get_application(g.application).await.map_err(|e| fail(ServiceError::from(e)))?;
    let uses = state.services.use_records(p, id).await.map_err(fail)?;
    let actors = g.events.iter().map(|e| e.actor.as_str()).chain(uses.records.iter().map(|r| r.recorded_by.as_str()));
    let names = person_names(state, actors.collect()).await?;
    let (use_typed, typed): (Vec<_>, Vec<_>) = typed.0.into_iter().partition(|(f, _)| f.starts_with("use."));
    let use_typed = super::view::Typed(use_typed.into_iter().map(|(f, v)| (f["use.".len()..].to_owned(), v)).collect());
    let typed = super::view::Typed(typed);
    let now = state.services.now();
    let page = DetailPage {
        layout,
        feedback,
        v: grant_row(&view),
        application_id: g.application.to_string(),
        application_number: application.number,
        items: g.items.iter().map(|i| (item_label(Some(&content), &i.code), i.masking.label())).collect(),
        purpose: g.purposes().collect::<Vec<_>>().join("；"),
        row_scope: match &g.row_scope {
            None => "全部记录".to_owned(),
            Some(s) => format!("{} 以 {} 开头的记录", item_label(Some(&content), &s.item), s.prefixes.join("、")),
        },
        delivery: g.delivery.iter().map(|m| m.label()).collect::<Vec<_>>().join("、"),
        rate_per_minute: g.rate_per_minute,
        daily_rows: g.daily_rows,
        created: beijing(g.created_at),
        events: g
            .events
            .iter()
            .rev()
            .map(|e| GrantEventRow {
                at: beijing(e.at),
                actor: actor_name(&e.actor, &names),
                action: grant_action_label(&e.action),
                reason: match (&e.misuse, &e.change_request, &e.change_decision) {
                    (Some(m), _, _) => format!("{}（{}；整改期限 {}）", e.reason, m.grounds.label(), m.rectify_by),
                    (_, Some(r), _) => r.summary(),
                    (_, _, Some(d)) if e.action == "decide_change" && !d.approve => format!("不同意：{}", d.reason),
                    _ => e.reason.clone(),
                },
            })
            .collect(),
        can_correct: check(p, Action::PrepareSharing(g.requester)).is_ok(),
        can_rectify: g.misuse_suspension().is_some_and(|(_, _, reported)| !reported)
            && check(p, Action::ApproveSharing(g.requester)).is_ok(),
        misuse: g.misuse_suspension().map(|(_, m, reported)| (m.grounds.label(), m.rectify_by.to_string(), reported)),
        misuse_grounds: MisuseGrounds::ALL.iter().map(|g| (g.code(), g.label())).collect(),
        aggregation: g.aggregation.as_ref().map(|w| {
            (
                w.summary(),
                w.combination.iter().map(|a| (a.entry_name.clone(), a.item_name.clone(), a.why.clone())).collect(),
                w.acknowledged
                    .as_ref()
                    .map(|a| format!("{} 由{}确认。{}", beijing(a.at), actor_name(&a.actor, &names), a.note)),
            )
        }),
        can_acknowledge_aggregation: g.aggregation.as_ref().is_some_and(|w| w.acknowledged.is_none())
            && check(p, Action::AcknowledgeAggregation(provider.region)).is_ok(),
        can_control,
        can_suspend: can_control && g.state == GrantState::Active && g.ends_on.is_none(),
        can_resume: can_control && g.state == GrantState::Suspended,
        // The provider's head ends a running service only by negotiation and filing, except after misuse.
        can_terminate: can_control
            && view.status != GrantStatus::Terminated
            && (p.org_id() != Some(g.provider) || g.provider_may_terminate(now)),
        can_propose_ending: can_control && p.org_id() == Some(g.provider) && g.may_propose_ending(now),
        can_record_filing: (g.pending_ending().is_some() || g.pending_narrowing().is_some())
            && check(p, Action::RecordServiceFiling(provider.region)).is_ok(),
        pending_ending: g.pending_ending().map(|e| (e.effective_on.to_string(), e.negotiation.clone())),
        narrow_rows: g
            .items
            .iter()
            .map(|i| {
                let mut choices = vec![("remove", "移除该数据项")];
                if i.masking == Masking::Keep {
                    choices.push((Masking::Mask.code(), Masking::Mask.label()));
                    choices.push((Masking::Hash.code(), Masking::Hash.label()));
                }
                if i.masking != Masking::Drop {
                    choices.push((Masking::Drop.code(), Masking::Drop.label()));
                }
                (i.code.clone(), item_label(Some(&content), &i.code), i.masking.label(), choices)
            })
            .collect(),
        pending_narrowing: g
            .pending_narrowing()
            .map(|n| (n.effective_on.to_string(), n.negotiation.clone(), narrowed_items(&n.items, &content))),
        scheduled_narrowing: g
            .scheduled_narrowing
            .as_ref()
            .map(|n| (n.effective_on.to_string(), narrowed_items(&n.items, &content))),
        ends_on: g.ends_on.map(|d| d.to_string()),
        usage: usage_rows(state, &records, &org_names(state).await?).await?,
        show_grant: false,
        disposal: super::disposal::section(p, g, now),
        uses: super::uses::section(p, g, uses, &names, state.services.today(), use_typed),
        changes: super::changes::section(
            p,
            g,
            &content,
            g.is_running(now) && g.ends_on.is_none() && g.pending_ending().is_none(),
            typed,
        ),
    };
    Ok(render(status, &page))
}

pub async fn detail(
    State(state): State<AppState>,
    ConsoleCaller(caller): ConsoleCaller,
    Path(id): Path<String>,
    Query(q): Query<NoticeQuery>,
) -> PageResult {
    let id = grant_id(&id)?;
    detail_page(&state, &caller, id, Feedback::notice(q.notice.as_deref()), StatusCode::OK, Default::default()).await
}

/// A step on the grant (its `action` and that action's fields); the outcome is shown on the grant's page. A
/// narrowing's items come as `narrow.<code>` fields (`remove` or a stricter masking; empty: unchanged).
pub async fn change_state(
    State(state): State<AppState>,
    ConsoleCaller(caller): ConsoleCaller,
    Path(id): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> PageResult {
    let id = grant_id(&id)?;
    let form = super::view::Typed(fields);
    let narrow_items = form
        .0
        .iter()
        .filter_map(|(f, v)| f.strip_prefix("narrow.").map(|code| (code.to_owned(), v.trim().to_owned())))
        .filter(|(_, v)| !v.is_empty())
        .collect();
    let input = GrantActionInput {
        action: form.owned("action"),
        reason: form.owned("reason"),
        misuse: form.owned("misuse"),
        rectify_by: form.owned("rectify_by"),
        negotiation: form.owned("negotiation"),
        effective_on: form.owned("effective_on"),
        ended_because: form.owned("ended_because"),
        disposal_method: form.owned("disposal_method"),
        disposal_note: form.owned("disposal_note"),
        done_on: form.owned("done_on"),
        responsible: form.owned("responsible"),
        evidence: form.owned("evidence"),
        all_of_requester: form.checked("all_of_requester"),
        narrow_items,
    };
    match state.services.grant_action(&caller.principal, id, &input).await {
        Ok(_) => {
            Ok(Redirect::to(&format!("/console/grants/{id}?notice=grant_{}", input.action.trim())).into_response())
        }
        Err(err) => {
            detail_page(&state, &caller, id, Feedback::from_error(&err), ApiError::status_of(&err), Default::default())
                .await
        }
    }
}

// ---- usage records ----

#[derive(Template)]
#[template(path = "usage.html")]
struct UsagePage {
    layout: Layout,
    feedback: Feedback,
    usage: Vec<UsageRow>,
    show_grant: bool,
    table: TableState,
    /// (id, name) of the organisations that can be the other side, for the 对方单位 filter.
    counterparts: Vec<(String, String)>,
}

/// The usage table's filters: the other side, and a period in 北京时间 days.
const USAGE_FILTERS: [&str; 3] = ["counterpart", "from", "to"];

/// The acting organisation's usage records (an authority: its region's), newest first, filtered and paged by
/// the store (the log grows by every call: it is never read whole).
pub async fn usage(
    State(state): State<AppState>,
    ConsoleCaller(caller): ConsoleCaller,
    Query(query): Query<HashMap<String, String>>,
) -> PageResult {
    let mut table = TableState::from_query("/console/usage", &query, &USAGE_FILTERS, &["at"], true);
    let parsed = (|| -> Result<UsageSearch, ServiceError> {
        let counterpart = match table.filter("counterpart") {
            "" => None,
            raw => Some(raw.parse().map_err(|_| {
                ServiceError::Validation(ValidationError::new(
                    "counterpart",
                    "org",
                    "对方单位不在单位名录中，请从列表中选择",
                ))
            })?),
        };
        Ok(UsageSearch {
            counterpart,
            since: day_start("from", table.filter("from"), false)?,
            before: day_start("to", table.filter("to"), true)?,
            offset: if table.export { 0 } else { table.offset() },
            limit: if table.export { EXPORT_LIMIT } else { table.per_page },
        })
    })();
    let (feedback, search) = match parsed {
        Ok(search) => (Feedback::default(), search),
        Err(err) => (Feedback::from_error(&err), UsageSearch { limit: table.per_page, ..UsageSearch::default() }),
    };
    let (records, total) = state.services.search_usage(&caller.principal, &search).await.map_err(fail)?;
    table.total = total;
    let orgs = org_names(&state).await?;
    let usage = usage_rows(&state, &records, &orgs).await?;
    if table.export {
        let headers =
            ["时间", "目录", "授权编号", "调用方", "调用人", "应用系统", "操作", "行数", "结果", "耗时（ms）"];
        let cells: Vec<Vec<String>> = usage
            .iter()
            .map(|u| {
                vec![
                    u.at.clone(),
                    u.entry_name.clone(),
                    u.grant_number.clone(),
                    u.caller.clone(),
                    u.person.clone(),
                    u.system.clone(),
                    u.operation.to_owned(),
                    u.rows.to_string(),
                    u.result.clone(),
                    u.latency_ms.clone(),
                ]
            })
            .collect();
        return xlsx("usage-records.xlsx", "使用记录.xlsx", &headers, &cells);
    }
    let acting = caller.principal.org_id();
    let mut counterparts: Vec<(String, String)> =
        orgs.iter().filter(|(id, _)| Some(**id) != acting).map(|(id, name)| (id.to_string(), name.clone())).collect();
    counterparts.sort_by(|a, b| a.1.cmp(&b.1));
    let page = UsagePage {
        layout: layout(&state, &caller, "使用记录", "/console/usage").await?,
        feedback,
        usage,
        show_grant: true,
        table,
        counterparts,
    };
    Ok(render(page.feedback.status(), &page))
}

// ---- the grant form on an approved application ----

/// One requested item and how it is to leave (`""`: not granted).
#[derive(Debug, Clone)]
pub struct GrantItemForm {
    pub code: String,
    pub label: String,
    pub masking: String,
}

impl GrantItemForm {
    pub fn selected(&self, code: &str) -> bool {
        self.masking == code
    }

    /// The input field of this item's masking, as validation names it.
    pub fn field(&self) -> String {
        format!("items.{}", self.code)
    }
}

/// The provider's grant terms as shown in the form: prefilled from the request, or what was typed.
#[derive(Debug, Clone, Default)]
pub struct GrantForm {
    pub items: Vec<GrantItemForm>,
    /// (code, label) of the entry's items, for the row scope.
    pub scope_items: Vec<(String, String)>,
    pub scope_item: String,
    pub scope_prefixes: String,
    pub valid_from: String,
    pub valid_until: String,
    pub rate_per_minute: String,
    pub daily_rows: String,
    /// (code, label) of the masking choices.
    pub maskings: Vec<(&'static str, &'static str)>,
}

fn field(fields: &[(String, String)], name: &str) -> String {
    fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default()
}

impl GrantForm {
    /// The defaults: every requested item (personal information masked, the rest as held), the request's period
    /// and the default limits.
    pub fn new(content: Option<&EntryContent>, requested: &[String], valid_from: String, valid_until: String) -> Self {
        let items = requested
            .iter()
            .map(|code| {
                let item = content.and_then(|c| c.items.iter().find(|i| &i.code == code));
                GrantItemForm {
                    code: code.clone(),
                    label: item_label(content, code),
                    masking: item.map_or(Masking::Keep, Masking::default_for).code().to_owned(),
                }
            })
            .collect();
        let mut maskings: Vec<(&'static str, &'static str)> =
            Masking::ALL.iter().map(|m| (m.code(), m.label())).collect();
        maskings.push(("", "不授权"));
        GrantForm {
            items,
            scope_items: content
                .map(|c| c.items.iter().map(|i| (i.code.clone(), format!("{}（{}）", i.name, i.code))).collect())
                .unwrap_or_default(),
            scope_item: String::new(),
            scope_prefixes: String::new(),
            valid_from,
            valid_until,
            rate_per_minute: govshare_domain::grant::DEFAULT_RATE_PER_MINUTE.to_string(),
            daily_rows: govshare_domain::grant::DEFAULT_DAILY_ROWS.to_string(),
            maskings,
        }
    }

    /// The form with what was typed.
    pub fn typed(mut self, fields: &[(String, String)]) -> Self {
        for item in &mut self.items {
            item.masking = field(fields, &format!("mask_{}", item.code));
        }
        self.scope_item = field(fields, "scope_item");
        self.scope_prefixes = field(fields, "scope_prefixes");
        self.valid_from = field(fields, "valid_from");
        self.valid_until = field(fields, "valid_until");
        self.rate_per_minute = field(fields, "rate_per_minute");
        self.daily_rows = field(fields, "daily_rows");
        self
    }
}

/// The posted form as domain input: `mask_<code>` fields with a value are the granted items. A limit that is
/// not a number becomes 0, which the range rule then names.
pub fn grant_input(fields: &[(String, String)]) -> GrantInput {
    let limit = |name: &str| match field(fields, name).trim() {
        "" => None,
        n => Some(n.parse().unwrap_or(0)),
    };
    GrantInput {
        items: fields
            .iter()
            .filter_map(|(k, v)| Some((k.strip_prefix("mask_")?.to_owned(), v.trim().to_owned())))
            .filter(|(_, v)| !v.is_empty())
            .collect::<BTreeMap<_, _>>(),
        scope_item: field(fields, "scope_item"),
        scope_prefixes: field(fields, "scope_prefixes"),
        valid_from: field(fields, "valid_from"),
        valid_until: field(fields, "valid_until"),
        rate_per_minute: limit("rate_per_minute").map(|n: u64| u32::try_from(n).unwrap_or(0)),
        daily_rows: limit("daily_rows"),
    }
}

/// A grant made for an application, as linked from the application's page: (id, text beginning with its
/// number).
pub fn grant_links(
    grants: &[govshare_domain::grant::Grant],
    now: chrono::DateTime<chrono::Utc>,
) -> Vec<(String, String)> {
    grants
        .iter()
        .map(|g| {
            (
                g.id.to_string(),
                format!(
                    "{} · {} · {} 项数据 · {} 至 {}",
                    g.number,
                    g.status(now).label(),
                    g.items.len(),
                    g.valid_from,
                    g.valid_until
                ),
            )
        })
        .collect()
}

// ---- data source (on the catalog entry's page) ----

/// One load of the source's history.
#[derive(Debug, Clone)]
pub struct LoadRow {
    pub at: String,
    pub actor: String,
    pub file_name: String,
    pub file_sm3: String,
    pub mode: &'static str,
    pub rows_read: u64,
    pub rows_rejected: u64,
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub deleted: u64,
}

fn mode_label(mode: LoadMode) -> &'static str {
    match mode {
        LoadMode::Replace => "全量替换",
        LoadMode::Upsert => "增量更新",
    }
}

/// The data-source section of an entry's page, for its provider (and the same-level authority, read-only).
#[derive(Debug, Clone)]
pub struct SourceSection {
    pub bound: bool,
    pub kind_code: &'static str,
    pub kind_label: &'static str,
    pub key_label: String,
    pub scope_label: String,
    pub url: String,
    pub encrypted: bool,
    pub updated: String,
    pub updated_by: String,
    /// Only a published entry can be bound.
    pub published: bool,
    pub can_manage: bool,
    /// (code, label) of the entry's items.
    pub items: Vec<(String, String)>,
    pub loads: Vec<LoadRow>,
    pub max_upload_mb: usize,
    /// The binding form's values: the current binding, or what was typed when it was refused.
    pub form: SourceInput,
}

impl SourceSection {
    pub fn is_key(&self, code: &str) -> bool {
        self.form.key_item == code
    }

    pub fn is_scope(&self, code: &str) -> bool {
        self.form.scope_item == code
    }
}

/// The section, or `None` when the principal may not see the entry's source (only its provider and the
/// same-level authority may).
pub async fn source_section(
    state: &AppState,
    caller: &Caller,
    entry: &CatalogEntry,
    typed: Option<&SourceInput>,
) -> Option<SourceSection> {
    let p = &caller.principal;
    let (source, loads) = match state.services.get_source(p, entry.id).await {
        Ok(found) => found,
        Err(ServiceError::Forbidden(_)) => return None,
        Err(err) => {
            tracing::warn!(error = %err, entry = %entry.id, "data source could not be read for the console");
            return None;
        }
    };
    let published = entry.published();
    let content = published.unwrap_or_else(|| entry.latest()).content.clone();
    let label = |code: &str| item_label(Some(&content), code);
    let (kind_code, kind_label, key_item, scope_item, url) = match source.as_ref().map(|s| &s.kind) {
        None => ("hosted", "", String::new(), String::new(), String::new()),
        Some(SourceKind::Hosted { key_item, scope_item }) => {
            ("hosted", "平台托管", key_item.clone(), scope_item.clone().unwrap_or_default(), String::new())
        }
        Some(SourceKind::Proxy { url, key_item }) => {
            ("proxy", "接口代理", key_item.clone(), String::new(), url.clone())
        }
    };
    // Names are for reading: if the directory cannot be read, the section shows account names instead.
    let actors = loads.iter().map(|l| l.actor.as_str()).chain(source.as_ref().map(|s| s.updated_by.as_str()));
    let names = person_names(state, actors.collect()).await.unwrap_or_default();
    let form = typed.cloned().unwrap_or_else(|| SourceInput {
        kind: kind_code.to_owned(),
        key_item: key_item.clone(),
        scope_item: scope_item.clone(),
        url: url.clone(),
    });
    Some(SourceSection {
        form,
        bound: source.is_some(),
        kind_code,
        kind_label,
        key_label: if key_item.is_empty() { String::new() } else { label(&key_item) },
        scope_label: if scope_item.is_empty() { String::new() } else { label(&scope_item) },
        url,
        encrypted: source.as_ref().is_some_and(|s| s.encrypted),
        updated: source.as_ref().map(|s| beijing(s.updated_at)).unwrap_or_default(),
        updated_by: source.as_ref().map(|s| actor_name(&s.updated_by, &names)).unwrap_or_default(),
        published: published.is_some(),
        can_manage: check(p, Action::ManageSource(entry.provider)).is_ok(),
        items: content.items.iter().map(|i| (i.code.clone(), format!("{}（{}）", i.name, i.code))).collect(),
        loads: loads
            .iter()
            .map(|l| LoadRow {
                at: beijing(l.at),
                actor: actor_name(&l.actor, &names),
                file_name: l.file_name.clone(),
                file_sm3: l.file_sm3.chars().take(16).collect(),
                mode: mode_label(l.mode),
                rows_read: l.rows_read,
                rows_rejected: l.rows_rejected,
                inserted: l.counts.inserted,
                updated: l.counts.updated,
                unchanged: l.counts.unchanged,
                deleted: l.counts.deleted,
            })
            .collect(),
        max_upload_mb: MAX_CONSOLE_LOAD_BYTES / (1024 * 1024),
    })
}

fn entry_id(raw: &str) -> Result<EntryId, Response> {
    raw.parse().map_err(|e: ValidationError| fail(ServiceError::from(e)))
}

/// Binds (or rebinds) the entry's source; a refusal is shown on the entry's page.
pub async fn bind_source(
    State(state): State<AppState>,
    ConsoleCaller(caller): ConsoleCaller,
    Path(id): Path<String>,
    Form(input): Form<SourceInput>,
) -> PageResult {
    let id = entry_id(&id)?;
    match state.services.bind_source(&caller.principal, id, &input).await {
        Ok(_) => Ok(Redirect::to(&format!("/console/catalog/{id}?notice=source_bound")).into_response()),
        Err(err) => entry_page_with_error(&state, &caller, id, &err, Some(&input)).await,
    }
}

/// The entry's page with a refused source action's reason (and the refused binding in its form), and the
/// refusal's status.
async fn entry_page_with_error(
    state: &AppState,
    caller: &Caller,
    id: EntryId,
    err: &ServiceError,
    typed: Option<&SourceInput>,
) -> PageResult {
    let q = super::catalog::DetailQuery::default();
    let page = super::catalog::detail_page_typed(state, caller, id, &q, Feedback::from_error(err), typed).await?;
    let (mut parts, body) = page.into_parts();
    parts.status = ApiError::status_of(err);
    Ok(Response::from_parts(parts, body))
}

#[derive(Template)]
#[template(path = "source_load.html")]
struct LoadPage {
    layout: Layout,
    feedback: Feedback,
    entry_id: String,
    entry_name: String,
    file_name: String,
    loaded: bool,
    rows_read: u64,
    rows_with_errors: u64,
    errors: Vec<RowError>,
    /// Only the first errors are reported.
    truncated: bool,
}

/// Reads the upload form into `path`: the file (streamed to disk), the load mode and whether to load the valid
/// rows of a file with errors.
async fn read_load_form(mut multipart: Multipart, path: &std::path::Path) -> Result<LoadRequest, ServiceError> {
    let unreadable = || ValidationError::new("file", "unreadable", "上传内容不完整，请重新选择文件");
    let mut request =
        LoadRequest { format: String::new(), mode: String::new(), accept_valid: false, file_name: String::new() };
    let mut size = 0u64;
    while let Some(mut part) = multipart.next_field().await.map_err(|_| unreadable())? {
        let name = part.name().map(str::to_owned);
        match name.as_deref() {
            Some("file") => {
                let file_name = part.file_name().unwrap_or_default();
                request.file_name = file_name.rsplit(['/', '\\']).next().unwrap_or_default().to_owned();
                let mut file = tokio::fs::File::create(path).await.map_err(internal)?;
                while let Some(chunk) = part.chunk().await.map_err(|_| unreadable())? {
                    size += chunk.len() as u64;
                    file.write_all(&chunk).await.map_err(internal)?;
                }
                file.flush().await.map_err(internal)?;
            }
            Some("mode") => request.mode = part.text().await.map_err(|_| unreadable())?,
            Some("format") => request.format = part.text().await.map_err(|_| unreadable())?,
            Some("accept_valid") => request.accept_valid = true,
            _ => {}
        }
    }
    if size == 0 {
        return Err(
            ValidationError::new("file", "required", "请选择要加载的数据文件（CSV、Excel 或 JSON Lines）").into()
        );
    }
    if request.file_name.is_empty() {
        request.file_name = "upload".into();
    }
    Ok(request)
}

/// Loads an uploaded file into the entry's hosted source. A clean load returns to the entry's page; a file with
/// bad rows shows the row-level report (and, when nothing was loaded, why).
pub async fn load_source(
    State(state): State<AppState>,
    ConsoleCaller(caller): ConsoleCaller,
    Path(id): Path<String>,
    multipart: Multipart,
) -> PageResult {
    let id = entry_id(&id)?;
    let dir = tempfile::tempdir().map_err(|e| fail(internal(e)))?;
    let path = dir.path().join("upload");
    let outcome: Result<(LoadRequest, LoadReport), ServiceError> = async {
        let request = read_load_form(multipart, &path).await?;
        let report =
            state.services.load_source(&caller.principal, id, &path, &request, Arc::new(AtomicU64::new(0))).await?;
        Ok((request, report))
    }
    .await;
    drop(dir);
    match outcome {
        Ok((_, report)) if report.load.is_some() && report.rows_with_errors == 0 => {
            Ok(Redirect::to(&format!("/console/catalog/{id}?notice=source_loaded")).into_response())
        }
        Ok((request, report)) => {
            let entry = state.services.get_entry(&caller.principal, id).await.map_err(fail)?;
            let layout = layout(&state, &caller, "数据加载结果", "/console/catalog").await?;
            let loaded = report.load.is_some();
            let feedback = match &report.load {
                None => Feedback {
                    error: Some(format!(
                        "文件有 {} 行错误，未加载任何数据。请按下表修改后重新上传，或勾选「仅加载无误的行」。",
                        report.rows_with_errors
                    )),
                    ..Default::default()
                },
                Some(load) => Feedback {
                    notice: Some(format!(
                        "已加载无误的行：新增 {}，更新 {}，未变 {}，删除 {}；有错误的 {} 行未加载。",
                        load.counts.inserted,
                        load.counts.updated,
                        load.counts.unchanged,
                        load.counts.deleted,
                        report.rows_with_errors
                    )),
                    ..Default::default()
                },
            };
            let page = LoadPage {
                layout,
                feedback,
                entry_id: id.to_string(),
                entry_name: entry.published().unwrap_or_else(|| entry.latest()).content.name.clone(),
                file_name: request.file_name,
                loaded,
                rows_read: report.rows_read,
                rows_with_errors: report.rows_with_errors,
                truncated: report.errors.len() >= govshare_service::MAX_REPORTED_ERRORS,
                errors: report.errors,
            };
            Ok(render(if loaded { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY }, &page))
        }
        Err(err) => entry_page_with_error(&state, &caller, id, &err, None).await,
    }
}
