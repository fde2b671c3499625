//! Supervision's use cases (Art. 38 ¶2, 39–41; R-SUP-1..3): the indicators of a region (its subtree) and of one
//! department over a period, read from the duty ledger and the usage roll-up at the moment of asking (a step shows
//! at once: there is no batch in between); the violation candidates with their evidence; orders to rectify and
//! circulated notices.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use govshare_domain::audit::AuditEvent;
use govshare_domain::authz::Action;
use govshare_domain::calendar::WorkingCalendar;
use govshare_domain::correction::{CorrectionStats, stats};
use govshare_domain::duty::Duty;
use govshare_domain::enforcement::{
    Notice, NoticeId, NoticeInput, Order, OrderEvent, OrderId, OrderInput, OrderState, OrderStep, OrderStepInput,
    order_duties,
};
use govshare_domain::grant::GrantId;
use govshare_domain::notification::Notification;
use govshare_domain::org::{OrgId, OrgKind, Organisation};
use govshare_domain::principal::Principal;
use govshare_domain::region::RegionCode;
use govshare_domain::supervision::{
    self, ACT_KINDS, Indicator, Observation, Period, Rule, Tally, act_violation, beijing_day, duty_violation,
    late_duty_kinds, parse_violation_key, violation_key,
};
use govshare_store::{UsageBy, UsageKey, UsageTotal};
use serde::Serialize;
use serde_json::json;

use crate::{Result, ServiceError, Services};

/// Most violations one reading lists.
pub const MAX_VIOLATIONS: u32 = 1000;

/// One indicator's figures.
#[derive(Debug, Clone, Serialize)]
pub struct IndicatorValue {
    pub indicator: Indicator,
    pub label: &'static str,
    pub article: &'static str,
    #[serde(flatten)]
    pub tally: Tally,
    pub due: u64,
    /// On time ÷ judged (0..1); absent with nothing judged.
    pub rate: Option<f64>,
}

impl IndicatorValue {
    fn new(indicator: Indicator, tally: Tally) -> IndicatorValue {
        IndicatorValue {
            indicator,
            label: indicator.label(),
            article: indicator.article(),
            tally,
            due: tally.due(),
            rate: tally.rate(),
        }
    }
}

/// Accesses, rows delivered and refusals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct UsageFigures {
    pub accesses: u64,
    pub rows: u64,
    pub refusals: u64,
}

impl UsageFigures {
    fn add(&mut self, t: &UsageTotal) {
        self.accesses += t.accesses;
        self.rows += t.rows;
        self.refusals += t.refusals;
    }
}

/// One department's (or authority's) line.
#[derive(Debug, Clone, Serialize)]
pub struct OrgRow {
    pub org: OrgId,
    pub name: String,
    pub kind: OrgKind,
    pub region: RegionCode,
    pub region_name: String,
    pub indicators: Vec<IndicatorValue>,
    /// All its timed duties of the period together.
    pub overall: IndicatorTotal,
    pub as_requester: UsageFigures,
    pub as_provider: UsageFigures,
    pub violations: usize,
    pub link: String,
}

/// Timed duties of every indicator together.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct IndicatorTotal {
    #[serde(flatten)]
    pub tally: Tally,
    pub rate: Option<f64>,
}

/// A subregion's line.
#[derive(Debug, Clone, Serialize)]
pub struct RegionRow {
    pub code: RegionCode,
    pub name: String,
    pub departments: usize,
    pub overall: IndicatorTotal,
    pub violations: usize,
    pub link: String,
}

/// Overdue duties at the end of a day.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct DayCount {
    pub day: NaiveDate,
    pub count: u64,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct DayUsage {
    pub day: NaiveDate,
    #[serde(flatten)]
    pub usage: UsageFigures,
}

/// A fact behind a violation.
#[derive(Debug, Clone, Serialize)]
pub struct EvidenceItem {
    pub label: String,
    pub at: Option<DateTime<Utc>>,
    pub detail: String,
    pub link: Option<String>,
}

/// A violation candidate with its evidence.
#[derive(Debug, Clone, Serialize)]
pub struct ViolationView {
    pub key: String,
    pub rule: Rule,
    pub article: String,
    pub text: &'static str,
    pub party: OrgId,
    pub party_name: String,
    pub title: String,
    /// When it arose: the due time missed, or the act.
    pub since: DateTime<Utc>,
    /// Still going on (the duty still open).
    pub open: bool,
    pub evidence: Vec<EvidenceItem>,
    pub link: String,
    /// The order issued on it, if any: id, number, state.
    pub order: Option<OrderBrief>,
}

#[derive(Debug, Clone, Serialize)]
pub struct OrderBrief {
    pub id: OrderId,
    pub number: String,
    pub state: OrderState,
    pub state_label: &'static str,
}

/// A rule of Art. 39–41, what the platform observes of it and how many candidates it has.
#[derive(Debug, Clone, Serialize)]
pub struct RuleRow {
    pub rule: Rule,
    pub article: String,
    pub text: &'static str,
    pub party: &'static str,
    pub observation: Observation,
    pub count: usize,
}

/// The region dashboard (R-SUP-3).
#[derive(Debug, Clone, Serialize)]
pub struct Dashboard {
    pub region: RegionCode,
    pub region_name: String,
    pub period: Period,
    pub period_label: String,
    pub generated_at: DateTime<Utc>,
    pub totals: Vec<IndicatorValue>,
    pub overall: IndicatorTotal,
    pub usage: UsageFigures,
    /// Ranked: best overall rate first; those with nothing judged last.
    pub departments: Vec<OrgRow>,
    pub subregions: Vec<RegionRow>,
    pub overdue_series: Vec<DayCount>,
    pub usage_series: Vec<DayUsage>,
    pub violations: Vec<ViolationView>,
    pub rules: Vec<RuleRow>,
    pub orders: Vec<OrderView>,
    /// Correction figures of the region's providers together.
    pub corrections: CorrectionStats,
}

/// Usage of one entry or grant.
#[derive(Debug, Clone, Serialize)]
pub struct UsageLine {
    pub name: String,
    pub link: Option<String>,
    #[serde(flatten)]
    pub usage: UsageFigures,
}

/// One department's indicators.
#[derive(Debug, Clone, Serialize)]
pub struct OrgSheet {
    pub period: Period,
    pub period_label: String,
    pub generated_at: DateTime<Utc>,
    #[serde(flatten)]
    pub row: OrgRow,
    pub usage_by_entry: Vec<UsageLine>,
    pub usage_by_grant: Vec<UsageLine>,
    pub corrections: CorrectionStats,
    pub violations: Vec<ViolationView>,
    pub orders: Vec<OrderView>,
}

/// An order as lists and pages show it.
#[derive(Debug, Clone, Serialize)]
pub struct OrderView {
    #[serde(flatten)]
    pub order: Order,
    pub state: OrderState,
    pub state_label: &'static str,
    pub article: String,
    pub department_name: String,
    pub authority_name: String,
    pub deadline: Option<NaiveDate>,
    /// Past its deadline without a report.
    pub overdue: bool,
    /// What the caller may do next.
    pub may_report: bool,
    pub may_verify: bool,
}

/// A notice as shown.
#[derive(Debug, Clone, Serialize)]
pub struct NoticeView {
    #[serde(flatten)]
    pub notice: Notice,
    pub region_name: String,
    pub authority_name: String,
    pub department_names: Vec<String>,
    pub order_numbers: Vec<String>,
}

/// The organisations of a region's subtree, and the names of its regions.
struct Scope {
    region_name: String,
    orgs: Vec<Organisation>,
    region_names: HashMap<RegionCode, String>,
    children: Vec<RegionCode>,
}

impl Scope {
    fn ids(&self) -> Vec<OrgId> {
        self.orgs.iter().map(|o| o.id).collect()
    }
}

fn total(indicators: &[IndicatorValue]) -> IndicatorTotal {
    let mut t = Tally::default();
    for i in indicators {
        t.merge(&i.tally);
    }
    IndicatorTotal { tally: t, rate: t.rate() }
}

impl Services {
    async fn scope(&self, region: RegionCode) -> Result<Scope> {
        let regions = self.store.list_regions().await?;
        let region_names: HashMap<RegionCode, String> = regions.iter().map(|r| (r.code, r.name.clone())).collect();
        let region_name = region_names
            .get(&region)
            .cloned()
            .ok_or_else(|| ServiceError::NotFound(format!("行政区划 {region} 不存在")))?;
        let mut orgs: Vec<Organisation> =
            self.org_map().await?.into_values().filter(|o| region.contains(o.region)).collect();
        orgs.sort_by(|a, b| (a.region, &a.name).cmp(&(b.region, &b.name)));
        let mut children: Vec<RegionCode> =
            regions.iter().filter(|r| r.code.parent() == Some(region)).map(|r| r.code).collect();
        children.sort();
        Ok(Scope { region_name, orgs, region_names, children })
    }

    /// Tallies per organisation and indicator.
    async fn tallies(&self, owners: &[OrgId], period: &Period) -> Result<HashMap<OrgId, BTreeMap<usize, Tally>>> {
        let now = self.now();
        let mut out: HashMap<OrgId, BTreeMap<usize, Tally>> = HashMap::new();
        for t in self.store.duty_tallies(Some(owners), period.start(), period.end(), now).await? {
            if let Some(i) = Indicator::of_kind(t.kind) {
                let at = Indicator::ALL.iter().position(|x| *x == i).unwrap_or(0);
                out.entry(t.owner).or_default().entry(at).or_default().merge(&t.tally);
            }
        }
        Ok(out)
    }

    fn org_row(
        &self,
        o: &Organisation,
        scope_names: &HashMap<RegionCode, String>,
        tallies: Option<&BTreeMap<usize, Tally>>,
        usage: (UsageFigures, UsageFigures),
        violations: usize,
        period: &Period,
    ) -> OrgRow {
        let indicators: Vec<IndicatorValue> = Indicator::ALL
            .iter()
            .enumerate()
            .map(|(i, ind)| IndicatorValue::new(*ind, tallies.and_then(|t| t.get(&i)).copied().unwrap_or_default()))
            .collect();
        OrgRow {
            org: o.id,
            name: o.name.clone(),
            kind: o.kind,
            region: o.region,
            region_name: scope_names.get(&o.region).cloned().unwrap_or_default(),
            overall: total(&indicators),
            indicators,
            as_requester: usage.0,
            as_provider: usage.1,
            violations,
            link: format!("/console/supervision/departments/{}?from={}&to={}", o.id, period.from, period.to),
        }
    }

    /// The violation candidates of `owners` in the period (and those still going on), with their evidence.
    async fn find_violations(&self, owners: &[OrgId], period: &Period) -> Result<Vec<ViolationView>> {
        let now = self.now();
        let kinds = late_duty_kinds();
        let (start, end) = (period.start(), period.end());
        let late = self.store.late_duties(Some(owners), &kinds, start, end, now, MAX_VIOLATIONS).await?;
        let acts = self.store.act_duties(Some(owners), &ACT_KINDS, start, end, MAX_VIOLATIONS).await?;
        let calendar = self.calendar().await?;
        let orgs = self.org_map().await?;
        let orders: HashMap<String, Order> =
            self.store.list_orders(None).await?.into_iter().map(|o| (o.violation.clone(), o)).collect();
        let mut out = Vec::new();
        for d in late {
            if let Some(rule) = duty_violation(&d, now) {
                out.push(self.violation_view(rule, &d, None, &calendar, &orgs, &orders, now));
            }
        }
        let mut grants = HashMap::new();
        for d in acts {
            let grant = match grants.get(&d.subject_id) {
                Some(g) => g,
                None => {
                    let g = self.store.get_grant(GrantId(d.subject_id)).await?;
                    grants.entry(d.subject_id).or_insert(g)
                }
            };
            if let Some(rule) = act_violation(&d, grant) {
                let view = self.violation_view(rule, &d, Some(grant), &calendar, &orgs, &orders, now);
                out.push(view);
            }
        }
        out.sort_by(|a, b| (!a.open, a.since, &a.key).cmp(&(!b.open, b.since, &b.key)));
        Ok(out)
    }

    #[allow(clippy::too_many_arguments)]
    fn violation_view(
        &self,
        rule: Rule,
        d: &Duty,
        grant: Option<&govshare_domain::grant::Grant>,
        calendar: &WorkingCalendar,
        orgs: &HashMap<OrgId, Organisation>,
        orders: &HashMap<String, Order>,
        now: DateTime<Utc>,
    ) -> ViolationView {
        let name = |o: OrgId| orgs.get(&o).map(|o| o.name.clone()).unwrap_or_else(|| o.to_string());
        let key = violation_key(rule, &d.key);
        let mut evidence = Vec::new();
        let days = d.days.map(|n| format!("，期限{n}个工作日")).unwrap_or_default();
        evidence.push(EvidenceItem {
            label: format!("{}（{}）", d.kind.label(), d.kind.article()),
            at: Some(d.started_at),
            detail: format!(
                "{}：{}起由{}（{}）办理{}{}",
                d.title,
                beijing_day(d.started_at),
                name(d.owner),
                d.role.label(),
                d.counterpart.map(|c| format!("，相对方{}", name(c))).unwrap_or_default(),
                days
            ),
            link: Some(d.link()),
        });
        let since = match (grant, d.due_at) {
            (Some(g), _) => {
                let event: Option<usize> = d.key.rsplit(':').next().and_then(|i| i.parse().ok());
                if let Some(e) = event.and_then(|i| g.events.get(i)) {
                    let grounds =
                        e.misuse.as_ref().map(|m| format!("，理由：{}", m.grounds.label())).unwrap_or_default();
                    evidence.push(EvidenceItem {
                        label: "暂停共享".into(),
                        at: Some(e.at),
                        detail: format!("授权{}由{}暂停{}；说明：{}", g.number, e.actor, grounds, e.reason),
                        link: Some(format!("/console/grants/{}", g.id)),
                    });
                }
                d.started_at
            }
            (None, Some(due)) => {
                let due_day = beijing_day(due);
                evidence.push(EvidenceItem {
                    label: d.kind.deadline_name().into(),
                    at: Some(due),
                    detail: format!("{due_day}（北京时间当日24时前）"),
                    link: None,
                });
                match d.closed_at {
                    Some(closed) => evidence.push(EvidenceItem {
                        label: "办结".into(),
                        at: Some(closed),
                        detail: format!(
                            "{}办结，超过期限{}个工作日",
                            beijing_day(closed),
                            calendar.working_days_between(due_day, beijing_day(closed))
                        ),
                        link: None,
                    }),
                    None => evidence.push(EvidenceItem {
                        label: "仍未办结".into(),
                        at: None,
                        detail: format!(
                            "截至{}已逾期{}个工作日",
                            beijing_day(now),
                            calendar.working_days_between(due_day, beijing_day(now))
                        ),
                        link: None,
                    }),
                }
                due
            }
            (None, None) => d.started_at,
        };
        let order = orders.get(&key).map(|o| OrderBrief {
            id: o.id,
            number: o.number.clone(),
            state: o.state(),
            state_label: o.state().label(),
        });
        ViolationView {
            key,
            rule,
            article: rule.article(),
            text: rule.text(),
            party: d.owner,
            party_name: name(d.owner),
            title: d.title.clone(),
            since,
            open: d.closed_at.is_none(),
            evidence,
            link: d.link(),
            order,
        }
    }

    /// The dashboard of `region` and its subregions over `period`: the region's authority and those above it.
    pub async fn dashboard(&self, principal: &Principal, region: RegionCode, period: Period) -> Result<Dashboard> {
        self.authorize(principal, Action::Supervise(region))?;
        let scope = self.scope(region).await?;
        let ids = scope.ids();
        let tallies = self.tallies(&ids, &period).await?;
        let usage_of = |by| self.store.usage_totals(Some(&ids), period.from, period.to, by);
        let mut as_requester: HashMap<OrgId, UsageFigures> = HashMap::new();
        for t in usage_of(UsageBy::Requester).await? {
            if let UsageKey::Org(o) = t.key {
                as_requester.entry(o).or_default().add(&t);
            }
        }
        let mut as_provider: HashMap<OrgId, UsageFigures> = HashMap::new();
        for t in usage_of(UsageBy::Provider).await? {
            if let UsageKey::Org(o) = t.key {
                as_provider.entry(o).or_default().add(&t);
            }
        }
        let mut usage = UsageFigures::default();
        let mut by_day: BTreeMap<NaiveDate, UsageFigures> =
            period.each_day().map(|d| (d, UsageFigures::default())).collect();
        for t in usage_of(UsageBy::Day).await? {
            usage.add(&t);
            if let UsageKey::Day(d) = t.key {
                by_day.entry(d).or_default().add(&t);
            }
        }
        let violations = self.find_violations(&ids, &period).await?;
        let mut per_org: HashMap<OrgId, usize> = HashMap::new();
        for v in &violations {
            *per_org.entry(v.party).or_default() += 1;
        }
        let mut departments: Vec<OrgRow> = scope
            .orgs
            .iter()
            .map(|o| {
                let usage = (
                    as_requester.get(&o.id).copied().unwrap_or_default(),
                    as_provider.get(&o.id).copied().unwrap_or_default(),
                );
                let n = per_org.get(&o.id).copied().unwrap_or(0);
                self.org_row(o, &scope.region_names, tallies.get(&o.id), usage, n, &period)
            })
            .collect();
        departments.sort_by(|a, b| {
            let rank = |r: &OrgRow| {
                (r.overall.rate.is_none(), -(r.overall.rate.unwrap_or(0.0) * 1e6) as i64, r.overall.tally.late)
            };
            rank(a).cmp(&rank(b)).then_with(|| a.name.cmp(&b.name))
        });
        let mut totals_tally = [Tally::default(); Indicator::ALL.len()];
        for per in tallies.values() {
            for (i, t) in per {
                totals_tally[*i].merge(t);
            }
        }
        let totals: Vec<IndicatorValue> =
            Indicator::ALL.iter().zip(totals_tally).map(|(i, t)| IndicatorValue::new(*i, t)).collect();
        let subregions = scope
            .children
            .iter()
            .map(|code| {
                let rows: Vec<&OrgRow> = departments.iter().filter(|r| code.contains(r.region)).collect();
                let mut t = Tally::default();
                for r in &rows {
                    t.merge(&r.overall.tally);
                }
                RegionRow {
                    code: *code,
                    name: scope.region_names.get(code).cloned().unwrap_or_default(),
                    departments: rows.len(),
                    overall: IndicatorTotal { tally: t, rate: t.rate() },
                    violations: rows.iter().map(|r| r.violations).sum(),
                    link: format!("/console/supervision?region={code}&from={}&to={}", period.from, period.to),
                }
            })
            .collect();
        let overdue_series = self.overdue_series(&ids, &period).await?;
        let rules = Rule::ALL
            .iter()
            .map(|r| RuleRow {
                rule: *r,
                article: r.article(),
                text: r.text(),
                party: r.party().label(),
                observation: r.observation(),
                count: violations.iter().filter(|v| v.rule == *r).count(),
            })
            .collect();
        let orders = self.order_views(principal, |o| ids.contains(&o.department)).await?;
        let calendar = self.calendar().await?;
        let corrections = self.store.list_corrections(None, None).await?;
        let in_scope = corrections.iter().filter(|c| ids.contains(&c.provider) && period.contains(c.received_at));
        let corrections = stats(in_scope, &calendar, self.now());
        Ok(Dashboard {
            region,
            region_name: scope.region_name,
            period,
            period_label: period.label(),
            generated_at: self.now(),
            overall: total(&totals),
            totals,
            usage,
            departments,
            subregions,
            overdue_series,
            usage_series: by_day.into_iter().map(|(day, usage)| DayUsage { day, usage }).collect(),
            violations,
            rules,
            orders,
            corrections,
        })
    }

    /// Overdue duties at the end of each day of the period (up to today).
    async fn overdue_series(&self, owners: &[OrgId], period: &Period) -> Result<Vec<DayCount>> {
        let now = self.now();
        let changes = self.store.overdue_changes(Some(owners), period.start(), period.end(), now).await?;
        let mut delta: BTreeMap<NaiveDate, i64> = BTreeMap::new();
        for at in &changes.became {
            *delta.entry(beijing_day(*at)).or_default() += 1;
        }
        for at in &changes.ended {
            *delta.entry(beijing_day(*at)).or_default() -= 1;
        }
        let today = beijing_day(now);
        let mut count = changes.at_start as i64;
        Ok(period
            .each_day()
            .take_while(|d| *d <= today)
            .map(|day| {
                count += delta.get(&day).copied().unwrap_or(0);
                DayCount { day, count: count.max(0) as u64 }
            })
            .collect())
    }

    /// One department's indicators: its own staff, and the authorities that supervise its region.
    pub async fn org_indicators(&self, principal: &Principal, org: OrgId, period: Period) -> Result<OrgSheet> {
        let orgs = self.org_map().await?;
        let o = orgs.get(&org).ok_or_else(|| ServiceError::NotFound("单位不存在".into()))?.clone();
        // Its own staff (not contractors' engineers), and the authorities that supervise it.
        if self.authorize(principal, Action::Supervise(o.region)).is_err() {
            self.authorize(principal, Action::ViewOwnWork(org))?;
            if principal.is_contractor() {
                return Err(ServiceError::Forbidden("无权查看监督指标：只对本单位工作人员和主管部门可见".into()));
            }
        }
        let ids = [org];
        let tallies = self.tallies(&ids, &period).await?;
        let usage_of = |by| self.store.usage_totals(Some(&ids), period.from, period.to, by);
        let sum = |rows: Vec<UsageTotal>| {
            let mut u = UsageFigures::default();
            rows.iter().for_each(|t| u.add(t));
            u
        };
        let usage = (sum(usage_of(UsageBy::Requester).await?), sum(usage_of(UsageBy::Provider).await?));
        let mut usage_by_entry = Vec::new();
        for t in usage_of(UsageBy::Entry).await? {
            if let UsageKey::Entry(e) = t.key {
                let mut u = UsageFigures::default();
                u.add(&t);
                let name = self.entry_name(e).await.unwrap_or_else(|_| e.to_string());
                usage_by_entry.push(UsageLine { name, link: Some(format!("/console/catalog/{e}")), usage: u });
            }
        }
        let mut usage_by_grant = Vec::new();
        // The department's grants in one read, not one read per grant (a provider may have hundreds).
        let numbers: HashMap<GrantId, String> =
            self.store.list_grants(Some(org)).await?.into_iter().map(|g| (g.id, g.number)).collect();
        for t in usage_of(UsageBy::Grant).await? {
            if let UsageKey::Grant(g) = t.key {
                let mut u = UsageFigures::default();
                u.add(&t);
                let (name, link) = match g {
                    Some(g) => match numbers.get(&g) {
                        Some(number) => (number.clone(), Some(format!("/console/grants/{g}"))),
                        None => (g.to_string(), None),
                    },
                    None => ("（未找到授权的调用）".to_owned(), None),
                };
                usage_by_grant.push(UsageLine { name, link, usage: u });
            }
        }
        let violations = self.find_violations(&ids, &period).await?;
        let regions: HashMap<RegionCode, String> =
            self.store.list_regions().await?.into_iter().map(|r| (r.code, r.name)).collect();
        let row = self.org_row(&o, &regions, tallies.get(&org), usage, violations.len(), &period);
        let calendar = self.calendar().await?;
        let corrections = self.store.list_corrections(None, Some(org)).await?;
        let corrections = stats(
            corrections.iter().filter(|c| c.provider == org && period.contains(c.received_at)),
            &calendar,
            self.now(),
        );
        let orders = self.order_views(principal, |x| x.department == org).await?;
        Ok(OrgSheet {
            period,
            period_label: period.label(),
            generated_at: self.now(),
            row,
            usage_by_entry,
            usage_by_grant,
            corrections,
            violations,
            orders,
        })
    }

    /// One violation candidate, by its key, with its evidence; None of the period limits apply.
    pub async fn violation(&self, principal: &Principal, key: &str) -> Result<ViolationView> {
        let (rule, fact) = parse_violation_key(key).ok_or_else(|| {
            ServiceError::from(govshare_domain::ValidationError::new("key", "format", "违规线索编号格式错误"))
        })?;
        let missing = || ServiceError::NotFound("违规线索不存在".into());
        let duty = self.store.duty(fact).await?.ok_or_else(missing)?;
        let orgs = self.org_map().await?;
        let owner = orgs.get(&duty.owner).ok_or_else(missing)?;
        self.authorize(principal, Action::Supervise(owner.region))?;
        let now = self.now();
        let calendar = self.calendar().await?;
        let orders: HashMap<String, Order> =
            self.store.list_orders(None).await?.into_iter().map(|o| (o.violation.clone(), o)).collect();
        let grant = if ACT_KINDS.contains(&duty.kind) {
            Some(self.store.get_grant(GrantId(duty.subject_id)).await?)
        } else {
            None
        };
        let found = match &grant {
            Some(g) => act_violation(&duty, g),
            None => duty_violation(&duty, now),
        };
        if found != Some(rule) {
            return Err(missing());
        }
        Ok(self.violation_view(rule, &duty, grant.as_ref(), &calendar, &orgs, &orders, now))
    }

    async fn order_views(&self, principal: &Principal, keep: impl Fn(&Order) -> bool) -> Result<Vec<OrderView>> {
        let orgs = self.org_map().await?;
        let today = beijing_day(self.now());
        Ok(self
            .store
            .list_orders(None)
            .await?
            .into_iter()
            .filter(|o| keep(o))
            .filter(|o| {
                self.authorize_quiet(principal, Action::ViewOrder { department: o.department, region: o.region })
            })
            .map(|o| order_view(o, &orgs, principal, today))
            .collect())
    }

    /// Lists of orders and notices are for people of an organisation (and the operator), not business systems.
    fn authorize_person(&self, principal: &Principal) -> Result<()> {
        match principal.org_id() {
            Some(org) => self.authorize(principal, Action::ViewOwnWork(org)),
            None if principal.is_operator() => Ok(()),
            None => Err(ServiceError::Forbidden("未以任何单位身份操作".into())),
        }
    }

    fn authorize_quiet(&self, principal: &Principal, action: Action) -> bool {
        govshare_domain::authz::check(principal, action).is_ok()
    }

    /// Orders the department a violation is about to rectify it (Art. 39–41): the supervisor of the
    /// department's same-level authority; for an authority's violation (Art. 41), of the superior authority.
    pub async fn issue_order(&self, principal: &Principal, input: &OrderInput) -> Result<OrderView> {
        let now = self.now();
        let parsed = input.parse(beijing_day(now)).map_err(ServiceError::from)?;
        let violation = self.violation(principal, &parsed.violation).await?;
        let orgs = self.org_map().await?;
        let department = orgs.get(&violation.party).ok_or_else(|| ServiceError::NotFound("单位不存在".into()))?;
        let region = match violation.rule.party() {
            supervision::Party::Authority => department
                .region
                .parent()
                .ok_or_else(|| ServiceError::Conflict("该主管部门没有上级主管部门，应由本级人民政府责令改正".into()))?,
            _ => department.region,
        };
        self.authorize(principal, Action::Enforce(region))?;
        let authority = principal.org_id().ok_or_else(|| ServiceError::Forbidden("未以任何单位身份操作".into()))?;
        if let Some(existing) = self
            .store
            .list_orders(None)
            .await?
            .into_iter()
            .find(|o| o.violation == violation.key && o.state() != OrderState::Closed)
        {
            return Err(ServiceError::OutOfTurn {
                code: "order_exists",
                message: format!("该违规事项已责令改正（{}），尚未办结", existing.number),
            });
        }
        let mut order = Order {
            id: OrderId::new(),
            number: String::new(),
            violation: violation.key.clone(),
            rule: violation.rule,
            title: violation.title.clone(),
            department: department.id,
            authority,
            region,
            requirement: parsed.requirement.clone(),
            issued_at: now,
            events: vec![OrderEvent {
                at: now,
                actor: principal.audit_name(),
                step: OrderStep::Issue,
                text: parsed.requirement,
                deadline: Some(parsed.deadline),
            }],
        };
        let calendar = self.calendar().await?;
        let duties = order_duties(&order, &calendar);
        let notes = vec![Notification::new(
            department.id,
            now,
            "supervision.order",
            format!("责令改正：{}", violation.title),
            format!("依据{}，请于{}前整改并报告整改情况", violation.rule.article(), parsed.deadline),
            format!("/console/supervision/orders/{}", order.id),
        )];
        let audit = AuditEvent::new(
            principal.audit_name(),
            principal.org_id(),
            "order.issue",
            "order",
            order.id.to_string(),
            json!({ "violation": violation.key, "department": department.id, "deadline": parsed.deadline }),
        );
        self.store.create_order(&mut order, &duties, &notes, &audit).await?;
        Ok(order_view(order, &orgs, principal, beijing_day(now)))
    }

    pub async fn get_order(&self, principal: &Principal, id: OrderId) -> Result<OrderView> {
        let order = self.store.get_order(id).await?;
        self.authorize(principal, Action::ViewOrder { department: order.department, region: order.region })?;
        let orgs = self.org_map().await?;
        Ok(order_view(order, &orgs, principal, beijing_day(self.now())))
    }

    /// The orders the caller may see: those of its department, or of the regions it supervises.
    pub async fn list_orders(&self, principal: &Principal) -> Result<Vec<OrderView>> {
        self.authorize_person(principal)?;
        self.order_views(principal, |_| true).await
    }

    /// The department reports its rectification; the issuing authority accepts it or returns it with a new
    /// deadline.
    pub async fn order_step(&self, principal: &Principal, id: OrderId, input: &OrderStepInput) -> Result<OrderView> {
        let now = self.now();
        let (step, text, deadline) = input.parse(beijing_day(now)).map_err(ServiceError::from)?;
        let mut order = self.store.get_order(id).await?;
        self.authorize(principal, Action::ViewOrder { department: order.department, region: order.region })?;
        match step {
            OrderStep::Report => self.authorize(principal, Action::ReportRectification(order.department))?,
            _ => {
                self.authorize(principal, Action::Enforce(order.region))?;
                if principal.org_id() != Some(order.authority) && !principal.is_operator() {
                    return Err(ServiceError::Forbidden("只有作出责令改正的主管部门可以核查".into()));
                }
            }
        }
        order.check_step(step).map_err(|(code, message)| ServiceError::OutOfTurn { code, message: message.into() })?;
        let expected = order.events.len();
        order.events.push(OrderEvent { at: now, actor: principal.audit_name(), step, text, deadline });
        let calendar = self.calendar().await?;
        let duties = order_duties(&order, &calendar);
        let (to, title) = match step {
            OrderStep::Report => (order.authority, format!("整改情况待核查：{}", order.title)),
            OrderStep::Accept => (order.department, format!("整改已核查办结：{}", order.title)),
            _ => (order.department, format!("整改不到位，请重新整改：{}", order.title)),
        };
        let notes = vec![Notification::new(
            to,
            now,
            &format!("supervision.order.{}", step.code()),
            title,
            step.label().into(),
            format!("/console/supervision/orders/{}", order.id),
        )];
        let audit = AuditEvent::new(
            principal.audit_name(),
            principal.org_id(),
            &format!("order.{}", step.code()),
            "order",
            order.id.to_string(),
            json!({ "deadline": deadline }),
        );
        self.store.save_order(&order, expected, &duties, &notes, &audit).await?;
        let orgs = self.org_map().await?;
        Ok(order_view(order, &orgs, principal, beijing_day(now)))
    }

    /// Publishes a circulated notice (通报, Art. 29 ¶1) to every department and authority of the caller's
    /// region and its subregions: the supervisor of the region's authority.
    pub async fn publish_notice(&self, principal: &Principal, input: &NoticeInput) -> Result<NoticeView> {
        let orgs = self.org_map().await?;
        let authority = principal
            .org_id()
            .and_then(|o| orgs.get(&o))
            .filter(|o| o.kind == OrgKind::Authority)
            .ok_or_else(|| ServiceError::Forbidden("无权通报：只有政务数据共享主管部门可以通报".into()))?
            .clone();
        self.authorize(principal, Action::Enforce(authority.region))?;
        let (title, body, order_ids) = input.parse().map_err(ServiceError::from)?;
        let mut departments = Vec::new();
        for (i, id) in order_ids.iter().enumerate() {
            let order = self.store.get_order(*id).await.map_err(|_| {
                ServiceError::from(govshare_domain::ValidationError::new(
                    format!("orders[{i}]"),
                    "not_found",
                    "责令改正不存在",
                ))
            })?;
            if !authority.region.contains(order.region) {
                return Err(ServiceError::from(govshare_domain::ValidationError::new(
                    format!("orders[{i}]"),
                    "out_of_region",
                    format!("责令改正{}不属于本行政区域", order.number),
                )));
            }
            if !departments.contains(&order.department) {
                departments.push(order.department);
            }
        }
        let now = self.now();
        let mut notice = Notice {
            id: NoticeId::new(),
            number: String::new(),
            region: authority.region,
            authority: authority.id,
            title: title.clone(),
            body,
            orders: order_ids,
            departments,
            published_at: now,
            published_by: principal.audit_name(),
        };
        let link = format!("/console/supervision/notices/{}", notice.id);
        let notes: Vec<Notification> = orgs
            .values()
            .filter(|o| authority.region.contains(o.region) && o.id != authority.id)
            .map(|o| {
                Notification::new(
                    o.id,
                    now,
                    "supervision.notice",
                    format!("通报：{title}"),
                    authority.name.clone(),
                    link.clone(),
                )
            })
            .collect();
        let audit = AuditEvent::new(
            principal.audit_name(),
            principal.org_id(),
            "notice.publish",
            "notice",
            notice.id.to_string(),
            json!({ "region": authority.region, "orders": notice.orders, "recipients": notes.len() }),
        );
        self.store.create_notice(&mut notice, &notes, &audit).await?;
        self.notice_view(notice, &orgs).await
    }

    async fn notice_view(&self, notice: Notice, orgs: &HashMap<OrgId, Organisation>) -> Result<NoticeView> {
        let name = |o: &OrgId| orgs.get(o).map(|o| o.name.clone()).unwrap_or_default();
        let mut order_numbers = Vec::new();
        for id in &notice.orders {
            order_numbers.push(self.store.get_order(*id).await.map(|o| o.number).unwrap_or_default());
        }
        let region_name = self.store.get_region(notice.region).await.map(|r| r.name).unwrap_or_default();
        Ok(NoticeView {
            region_name,
            authority_name: name(&notice.authority),
            department_names: notice.departments.iter().map(name).collect(),
            order_numbers,
            notice,
        })
    }

    /// Whether the caller may read a notice: every organisation of its region (and subregions), and every
    /// authority above.
    fn may_read_notice(&self, principal: &Principal, notice: &Notice, orgs: &HashMap<OrgId, Organisation>) -> bool {
        if principal.is_operator() {
            return true;
        }
        let Some(org) = principal.org_id().and_then(|o| orgs.get(&o)) else { return false };
        if principal.is_contractor() || matches!(principal.actor, govshare_domain::principal::Actor::System { .. }) {
            return false;
        }
        notice.region.contains(org.region) || (org.kind == OrgKind::Authority && org.region.contains(notice.region))
    }

    pub async fn list_notices(&self, principal: &Principal) -> Result<Vec<NoticeView>> {
        self.authorize_person(principal)?;
        let orgs = self.org_map().await?;
        let mut out = Vec::new();
        for n in self.store.list_notices().await? {
            if self.may_read_notice(principal, &n, &orgs) {
                out.push(self.notice_view(n, &orgs).await?);
            }
        }
        Ok(out)
    }

    pub async fn get_notice(&self, principal: &Principal, id: NoticeId) -> Result<NoticeView> {
        let orgs = self.org_map().await?;
        let n = self.store.get_notice(id).await?;
        if !self.may_read_notice(principal, &n, &orgs) {
            return Err(ServiceError::Forbidden("无权查看通报：只对通报区域内的单位和上级主管部门可见".into()));
        }
        self.notice_view(n, &orgs).await
    }
}

fn order_view(order: Order, orgs: &HashMap<OrgId, Organisation>, principal: &Principal, today: NaiveDate) -> OrderView {
    use govshare_domain::authz::check;
    let name = |o: OrgId| orgs.get(&o).map(|o| o.name.clone()).unwrap_or_default();
    let state = order.state();
    let deadline = order.deadline();
    let may_report =
        state == OrderState::Rectifying && check(principal, Action::ReportRectification(order.department)).is_ok();
    let may_verify = state == OrderState::Reported
        && check(principal, Action::Enforce(order.region)).is_ok()
        && principal.org_id() == Some(order.authority);
    OrderView {
        state,
        state_label: state.label(),
        article: order.rule.article(),
        department_name: name(order.department),
        authority_name: name(order.authority),
        deadline,
        overdue: state == OrderState::Rectifying && deadline.is_some_and(|d| today > d),
        may_report,
        may_verify,
        order,
    }
}
