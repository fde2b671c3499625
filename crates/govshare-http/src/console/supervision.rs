//! Supervision in the console (Art. 38 ¶2, 39–41): the region dashboard with its charts (server-side SVG, the same
//! the PDF report embeds), a department's indicators, a violation's evidence with the order form, orders with
//! their steps, and circulated notices.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use govshare_domain::authz::{Action, check};
use govshare_domain::enforcement::{NoticeId, NoticeInput, OrderId, OrderInput, OrderStepInput};
use govshare_domain::org::OrgId;
use govshare_domain::region::RegionCode;
use govshare_domain::supervision::{Observation, Period, beijing_day};
use govshare_service::{
    Dashboard, IndicatorValue, NoticeView, OrderView, OrgRow, OrgSheet, ServiceError, UsageLine, ViolationView,
};
use serde::Deserialize;

use super::ConsoleCaller;
use super::pages::{PageResult, beijing, fail, layout, path_id};
use super::render;
use super::report;
use super::view::{Feedback, Layout, Typed};
use crate::AppState;

/// The page's period and region, as the filter form sends them.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Filter {
    pub region: String,
    pub from: String,
    pub to: String,
    pub format: String,
    pub notice: Option<String>,
}

fn pct(rate: Option<f64>) -> String {
    govshare_report::format_rate(rate)
}

fn int(n: u64) -> String {
    govshare_report::format_int(i64::try_from(n).unwrap_or(i64::MAX))
}

/// An indicator as a table row: label, article, due, on time, late, pending, rate, and the definition.
pub struct IndicatorRow {
    pub label: &'static str,
    pub article: &'static str,
    pub due: String,
    pub on_time: String,
    pub late: String,
    pub pending: String,
    pub rate: String,
    pub definition: &'static str,
}

fn indicator_rows(values: &[IndicatorValue]) -> Vec<IndicatorRow> {
    values
        .iter()
        .map(|i| IndicatorRow {
            label: i.label,
            article: i.article,
            due: int(i.due),
            on_time: int(i.tally.on_time),
            late: int(i.tally.late),
            pending: int(i.tally.pending),
            rate: pct(i.rate),
            definition: i.indicator.definition(),
        })
        .collect()
}

pub struct DeptRow {
    pub rank: usize,
    pub name: String,
    pub region: String,
    pub link: String,
    pub due: String,
    pub late: String,
    pub rate: String,
    pub accesses: String,
    pub provided: String,
    pub violations: usize,
}

fn dept_rows(rows: &[OrgRow]) -> Vec<DeptRow> {
    rows.iter()
        .enumerate()
        .map(|(i, r)| DeptRow {
            rank: i + 1,
            name: r.name.clone(),
            region: r.region_name.clone(),
            link: r.link.clone(),
            due: int(r.overall.tally.due()),
            late: int(r.overall.tally.late),
            rate: pct(r.overall.rate),
            accesses: int(r.as_requester.accesses),
            provided: int(r.as_provider.rows),
            violations: r.violations,
        })
        .collect()
}

pub struct ViolationRow {
    pub key: String,
    pub link: String,
    pub article: String,
    pub text: &'static str,
    pub party: String,
    pub title: String,
    pub since: String,
    pub open: bool,
    pub order: String,
}

fn violation_rows(vs: &[ViolationView]) -> Vec<ViolationRow> {
    vs.iter()
        .map(|v| ViolationRow {
            key: v.key.clone(),
            link: format!(
                "/console/supervision/violations/{}",
                percent_encoding::utf8_percent_encode(&v.key, percent_encoding::NON_ALPHANUMERIC)
            ),
            article: v.article.clone(),
            text: v.text,
            party: v.party_name.clone(),
            title: v.title.clone(),
            since: beijing(v.since),
            open: v.open,
            order: v.order.as_ref().map(|o| format!("{}（{}）", o.number, o.state_label)).unwrap_or_default(),
        })
        .collect()
}

pub struct OrderRow {
    pub id: String,
    pub number: String,
    pub article: String,
    pub department: String,
    pub authority: String,
    pub title: String,
    pub deadline: String,
    pub overdue: bool,
    pub state: &'static str,
}

fn order_rows(orders: &[OrderView]) -> Vec<OrderRow> {
    orders
        .iter()
        .map(|o| OrderRow {
            id: o.order.id.to_string(),
            number: o.order.number.clone(),
            article: o.article.clone(),
            department: o.department_name.clone(),
            authority: o.authority_name.clone(),
            title: o.order.title.clone(),
            deadline: o.deadline.map(|d| d.to_string()).unwrap_or_default(),
            overdue: o.overdue,
            state: o.state_label,
        })
        .collect()
}

fn period_of(state: &AppState, f: &Filter) -> Result<Period, Response> {
    let today = beijing_day(state.services.now());
    Period::parse(&f.from, &f.to, today).map_err(|e| fail(ServiceError::from(e)))
}

#[derive(Template)]
#[template(path = "supervision.html")]
struct DashboardPage {
    layout: Layout,
    feedback: Feedback,
    region: String,
    region_name: String,
    from: String,
    to: String,
    period_label: String,
    generated_at: String,
    overall_rate: String,
    overall_late: String,
    usage: String,
    violations_count: usize,
    indicators: Vec<IndicatorRow>,
    departments: Vec<DeptRow>,
    subregions: Vec<(String, String, usize, String, usize)>,
    violations: Vec<ViolationRow>,
    rules: Vec<(String, &'static str, &'static str, String, usize)>,
    orders: Vec<OrderRow>,
    timeliness_svg: String,
    overdue_svg: String,
    usage_svg: String,
}

/// The filter's region, or the acting organisation's when none is chosen.
fn region_of(p: &govshare_domain::principal::Principal, f: &Filter) -> Result<RegionCode, Response> {
    match f.region.trim() {
        "" => {
            p.org.as_ref().map(|o| o.region).ok_or_else(|| fail(ServiceError::Forbidden("未以任何单位身份操作".into())))
        }
        code => RegionCode::parse(code).map_err(|e| fail(ServiceError::from(e))),
    }
}

/// The region dashboard.
pub async fn dashboard(
    State(state): State<AppState>,
    ConsoleCaller(caller): ConsoleCaller,
    Query(f): Query<Filter>,
) -> PageResult {
    let p = &caller.principal;
    let region = region_of(p, &f)?;
    let period = period_of(&state, &f)?;
    let d: Dashboard = state.services.dashboard(p, region, period).await.map_err(fail)?;
    let page = DashboardPage {
        layout: layout(&state, &caller, "监督看板", "/console/supervision").await?,
        feedback: Feedback::notice(f.notice.as_deref()),
        region: region.to_string(),
        region_name: d.region_name.clone(),
        from: period.from.to_string(),
        to: period.to.to_string(),
        period_label: d.period_label.clone(),
        generated_at: beijing(d.generated_at),
        overall_rate: pct(d.overall.rate),
        overall_late: int(d.overall.tally.late),
        usage: int(d.usage.accesses),
        violations_count: d.violations.len(),
        indicators: indicator_rows(&d.totals),
        departments: dept_rows(&d.departments),
        subregions: d
            .subregions
            .iter()
            .map(|r| (r.name.clone(), r.link.clone(), r.departments, pct(r.overall.rate), r.violations))
            .collect(),
        violations: violation_rows(&d.violations),
        rules: d
            .rules
            .iter()
            .map(|r| {
                let how = match r.observation {
                    Observation::Duties { kinds } => {
                        format!("逾期：{}", kinds.iter().map(|k| k.label()).collect::<Vec<_>>().join("、"))
                    }
                    Observation::Acts { what, .. } => what.to_owned(),
                    Observation::NotObserved { why } => format!("暂无法观察：{why}"),
                };
                (r.article.clone(), r.text, r.party, how, r.count)
            })
            .collect(),
        orders: order_rows(&d.orders),
        timeliness_svg: govshare_report::svg(&report::timeliness_chart(&d, 15)),
        overdue_svg: govshare_report::svg(&report::overdue_chart(&d)),
        usage_svg: govshare_report::svg(&report::usage_chart(&d)),
    };
    Ok(render(StatusCode::OK, &page))
}

/// The report of the dashboard's region and period, as Excel or PDF.
pub async fn report_file(
    State(state): State<AppState>,
    ConsoleCaller(caller): ConsoleCaller,
    Query(f): Query<Filter>,
) -> PageResult {
    let p = &caller.principal;
    let region = region_of(p, &f)?;
    let period = period_of(&state, &f)?;
    let format = if f.format == "pdf" { "pdf" } else { "xlsx" };
    let d = state.services.dashboard(p, region, period).await.map_err(fail)?;
    crate::api::supervision::report_response(&d, format).map_err(fail)
}

#[derive(Template)]
#[template(path = "supervision_org.html")]
struct OrgPage {
    layout: Layout,
    feedback: Feedback,
    name: String,
    region_name: String,
    from: String,
    to: String,
    period_label: String,
    overall_rate: String,
    indicators: Vec<IndicatorRow>,
    as_requester: (String, String, String),
    as_provider: (String, String, String),
    by_entry: Vec<(String, Option<String>, String, String, String)>,
    by_grant: Vec<(String, Option<String>, String, String, String)>,
    corrections: (u64, u64, u64, u64, String),
    violations: Vec<ViolationRow>,
    orders: Vec<OrderRow>,
}

fn usage_lines(lines: &[UsageLine]) -> Vec<(String, Option<String>, String, String, String)> {
    lines
        .iter()
        .map(|l| (l.name.clone(), l.link.clone(), int(l.usage.accesses), int(l.usage.rows), int(l.usage.refusals)))
        .collect()
}

/// A department's indicators.
pub async fn department(
    State(state): State<AppState>,
    ConsoleCaller(caller): ConsoleCaller,
    Path(id): Path<String>,
    Query(f): Query<Filter>,
) -> PageResult {
    let org: OrgId = path_id(&id)?;
    let period = period_of(&state, &f)?;
    let s: OrgSheet = state.services.org_indicators(&caller.principal, org, period).await.map_err(fail)?;
    let u = |x: &govshare_service::UsageFigures| (int(x.accesses), int(x.rows), int(x.refusals));
    let page = OrgPage {
        layout: layout(&state, &caller, "部门监督指标", "/console/supervision").await?,
        feedback: Feedback::default(),
        name: s.row.name.clone(),
        region_name: s.row.region_name.clone(),
        from: period.from.to_string(),
        to: period.to.to_string(),
        period_label: s.period_label.clone(),
        overall_rate: pct(s.row.overall.rate),
        indicators: indicator_rows(&s.row.indicators),
        as_requester: u(&s.row.as_requester),
        as_provider: u(&s.row.as_provider),
        by_entry: usage_lines(&s.usage_by_entry),
        by_grant: usage_lines(&s.usage_by_grant),
        corrections: (
            s.corrections.requests,
            s.corrections.answered,
            s.corrections.corrected,
            s.corrections.late,
            s.corrections.mean_turnaround_days.map(|d| format!("{d:.1}")).unwrap_or_else(|| "—".into()),
        ),
        violations: violation_rows(&s.violations),
        orders: order_rows(&s.orders),
    };
    Ok(render(StatusCode::OK, &page))
}

#[derive(Template)]
#[template(path = "supervision_violation.html")]
struct ViolationPage {
    layout: Layout,
    feedback: Feedback,
    v: ViolationRow,
    evidence: Vec<(String, String, String, Option<String>)>,
    may_order: bool,
    typed: Typed,
}

async fn violation_page(
    state: &AppState,
    caller: &super::super::auth::Caller,
    key: &str,
    feedback: Feedback,
    status: StatusCode,
    typed: Typed,
) -> PageResult {
    let p = &caller.principal;
    let v = state.services.violation(p, key).await.map_err(fail)?;
    let orgs = state.services.store().get_org(v.party).await.map_err(|e| fail(ServiceError::from(e)))?;
    let region = match v.rule.party() {
        govshare_domain::supervision::Party::Authority => orgs.region.parent().unwrap_or(orgs.region),
        _ => orgs.region,
    };
    let page = ViolationPage {
        layout: layout(state, caller, "违规线索", "/console/supervision").await?,
        feedback,
        may_order: v.order.as_ref().is_none_or(|o| o.state == govshare_domain::enforcement::OrderState::Closed)
            && check(p, Action::Enforce(region)).is_ok(),
        evidence: v
            .evidence
            .iter()
            .map(|e| (e.label.clone(), e.at.map(beijing).unwrap_or_default(), e.detail.clone(), e.link.clone()))
            .collect(),
        v: violation_rows(std::slice::from_ref(&v)).remove(0),
        typed,
    };
    Ok(render(status, &page))
}

pub async fn violation(
    State(state): State<AppState>,
    ConsoleCaller(caller): ConsoleCaller,
    Path(key): Path<String>,
) -> PageResult {
    violation_page(&state, &caller, &key, Feedback::default(), StatusCode::OK, Typed::default()).await
}

/// Issues an order from a violation's page.
pub async fn issue_order(
    State(state): State<AppState>,
    ConsoleCaller(caller): ConsoleCaller,
    Form(fields): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = Typed(fields);
    let input = OrderInput {
        violation: form.owned("violation"),
        requirement: form.owned("requirement"),
        deadline: form.owned("deadline"),
    };
    match state.services.issue_order(&caller.principal, &input).await {
        Ok(o) => {
            Ok(Redirect::to(&format!("/console/supervision/orders/{}?notice=order_issued", o.order.id)).into_response())
        }
        Err(err) => {
            let feedback = Feedback::from_error(&err);
            let status = feedback.status();
            violation_page(&state, &caller, &input.violation, feedback, status, form).await
        }
    }
}

#[derive(Template)]
#[template(path = "supervision_orders.html")]
struct OrdersPage {
    layout: Layout,
    feedback: Feedback,
    orders: Vec<OrderRow>,
}

pub async fn orders(State(state): State<AppState>, ConsoleCaller(caller): ConsoleCaller) -> PageResult {
    let orders = state.services.list_orders(&caller.principal).await.map_err(fail)?;
    let page = OrdersPage {
        layout: layout(&state, &caller, "责令改正", "/console/supervision/orders").await?,
        feedback: Feedback::default(),
        orders: order_rows(&orders),
    };
    Ok(render(StatusCode::OK, &page))
}

#[derive(Template)]
#[template(path = "supervision_order.html")]
struct OrderPage {
    layout: Layout,
    feedback: Feedback,
    o: OrderRow,
    requirement: String,
    violation_link: String,
    issued_at: String,
    events: Vec<(String, String, &'static str, String, String)>,
    may_report: bool,
    may_verify: bool,
    typed: Typed,
}

async fn order_page(
    state: &AppState,
    caller: &super::super::auth::Caller,
    id: OrderId,
    feedback: Feedback,
    status: StatusCode,
    typed: Typed,
) -> PageResult {
    let v = state.services.get_order(&caller.principal, id).await.map_err(fail)?;
    let page = OrderPage {
        layout: layout(state, caller, "责令改正", "/console/supervision/orders").await?,
        feedback,
        requirement: v.order.requirement.clone(),
        violation_link: format!(
            "/console/supervision/violations/{}",
            percent_encoding::utf8_percent_encode(&v.order.violation, percent_encoding::NON_ALPHANUMERIC)
        ),
        issued_at: beijing(v.order.issued_at),
        events: v
            .order
            .events
            .iter()
            .map(|e| {
                (
                    beijing(e.at),
                    e.actor.clone(),
                    e.step.label(),
                    e.text.clone(),
                    e.deadline.map(|d| d.to_string()).unwrap_or_default(),
                )
            })
            .collect(),
        may_report: v.may_report,
        may_verify: v.may_verify,
        o: order_rows(std::slice::from_ref(&v)).remove(0),
        typed,
    };
    Ok(render(status, &page))
}

pub async fn order(
    State(state): State<AppState>,
    ConsoleCaller(caller): ConsoleCaller,
    Path(id): Path<String>,
    Query(f): Query<Filter>,
) -> PageResult {
    let id: OrderId = path_id(&id)?;
    order_page(&state, &caller, id, Feedback::notice(f.notice.as_deref()), StatusCode::OK, Typed::default()).await
}

pub async fn order_step(
    State(state): State<AppState>,
    ConsoleCaller(caller): ConsoleCaller,
    Path(id): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> PageResult {
    let id: OrderId = path_id(&id)?;
    let form = Typed(fields);
    let input = OrderStepInput { step: form.owned("step"), text: form.owned("text"), deadline: form.owned("deadline") };
    match state.services.order_step(&caller.principal, id, &input).await {
        Ok(_) => Ok(Redirect::to(&format!("/console/supervision/orders/{id}?notice=order_step")).into_response()),
        Err(err) => {
            let feedback = Feedback::from_error(&err);
            let status = feedback.status();
            order_page(&state, &caller, id, feedback, status, form).await
        }
    }
}

#[derive(Template)]
#[template(path = "supervision_notices.html")]
struct NoticesPage {
    layout: Layout,
    feedback: Feedback,
    notices: Vec<(String, String, String, String, String)>,
    may_publish: bool,
    orders: Vec<OrderRow>,
    typed: Typed,
}

async fn notices_page(
    state: &AppState,
    caller: &super::super::auth::Caller,
    feedback: Feedback,
    status: StatusCode,
    typed: Typed,
) -> PageResult {
    let p = &caller.principal;
    let notices = state.services.list_notices(p).await.map_err(fail)?;
    let may_publish = p.org.as_ref().is_some_and(|o| {
        o.kind == govshare_domain::org::OrgKind::Authority && check(p, Action::Enforce(o.region)).is_ok()
    });
    let orders = if may_publish { state.services.list_orders(p).await.map_err(fail)? } else { Vec::new() };
    let page = NoticesPage {
        layout: layout(state, caller, "通报", "/console/supervision/notices").await?,
        feedback,
        notices: notices
            .iter()
            .map(|n| {
                (
                    n.notice.id.to_string(),
                    n.notice.number.clone(),
                    n.notice.title.clone(),
                    format!("{}（{}）", n.authority_name, n.region_name),
                    beijing(n.notice.published_at),
                )
            })
            .collect(),
        may_publish,
        orders: order_rows(&orders),
        typed,
    };
    Ok(render(status, &page))
}

pub async fn notices(
    State(state): State<AppState>,
    ConsoleCaller(caller): ConsoleCaller,
    Query(f): Query<Filter>,
) -> PageResult {
    notices_page(&state, &caller, Feedback::notice(f.notice.as_deref()), StatusCode::OK, Typed::default()).await
}

pub async fn publish_notice(
    State(state): State<AppState>,
    ConsoleCaller(caller): ConsoleCaller,
    Form(fields): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = Typed(fields);
    let orders: Vec<String> = form.0.iter().filter(|(k, _)| k == "orders").map(|(_, v)| v.clone()).collect();
    let input = NoticeInput { title: form.owned("title"), body: form.owned("body"), orders };
    match state.services.publish_notice(&caller.principal, &input).await {
        Ok(n) => Ok(Redirect::to(&format!("/console/supervision/notices/{}?notice=notice_published", n.notice.id))
            .into_response()),
        Err(err) => {
            let feedback = Feedback::from_error(&err);
            let status = feedback.status();
            notices_page(&state, &caller, feedback, status, form).await
        }
    }
}

#[derive(Template)]
#[template(path = "supervision_notice.html")]
struct NoticePage {
    layout: Layout,
    feedback: Feedback,
    n: NoticeView,
    published_at: String,
    paragraphs: Vec<String>,
}

pub async fn notice(
    State(state): State<AppState>,
    ConsoleCaller(caller): ConsoleCaller,
    Path(id): Path<String>,
    Query(f): Query<Filter>,
) -> PageResult {
    let id: NoticeId = path_id(&id)?;
    let n = state.services.get_notice(&caller.principal, id).await.map_err(fail)?;
    let page = NoticePage {
        layout: layout(&state, &caller, "通报", "/console/supervision/notices").await?,
        feedback: Feedback::notice(f.notice.as_deref()),
        published_at: beijing(n.notice.published_at),
        paragraphs: n.notice.body.lines().filter(|l| !l.trim().is_empty()).map(str::to_owned).collect(),
        n,
    };
    Ok(render(StatusCode::OK, &page))
}
