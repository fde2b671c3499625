//! Supervision (Art. 38 ¶2, 39–41; R-SUP-1, R-SUP-2): what the indicators measure and which facts make a violation
//! candidate, as pure functions over the duty ledger and the grants' timelines.
//!
//! **Indicators.** Every timeliness indicator is a count over duties whose due time falls in the period (Beijing
//! days, both ends included), each classified by [`classify`] at the moment of reading: met by its due time (on
//! time), met after it or still open past it (late), still open and not yet due (pending, not judged), or cut short
//! (withdrawn, ended otherwise: not judged). The rate is on time ÷ (on time + late); with nothing judged there is no
//! rate. An approved extension is part of the due time the workflow derived, so it never counts as late; a step done
//! at any time on the due date (北京时间) is on time, however many holidays the period spanned, because due times are
//! computed from the official [`crate::calendar::WorkingCalendar`].
//!
//! **Violations.** [`duty_rule`] maps each kind of duty whose lateness the regulation names to the article item it
//! breaches; [`grant_rules`] reads the grant events that are violations in themselves (a misuse found, a running
//! service stopped by its provider without filing). Every rule of Art. 39–41 is listed in [`Rule::ALL`] with what
//! the platform observes of it; items it cannot observe say so ([`Rule::observation`]) rather than being faked.
//! Detection gives candidates (疑似违规线索) with their evidence; the authority judges them and orders
//! rectification ([`crate::enforcement`]).

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use crate::calendar::beijing;
use crate::duty::{Duty, DutyKind};
use crate::error::ValidationError;
use crate::grant::{Grant, MisuseGrounds};

/// The longest period one reading covers: three years, the retention of usage records (Art. 29).
pub const MAX_PERIOD_DAYS: i64 = 3 * 366;

/// A period of Beijing days, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Period {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl Period {
    /// From the two dates a form or query gives (`YYYY-MM-DD`); `from` empty means the first day of `to`'s month,
    /// `to` empty means `today`.
    pub fn parse(from: &str, to: &str, today: NaiveDate) -> Result<Period, Vec<ValidationError>> {
        let mut problems = Vec::new();
        let date = |field: &'static str, label: &str, raw: &str, default: NaiveDate| {
            if raw.trim().is_empty() { Ok(default) } else { crate::error::ymd(field, label, raw) }
        };
        let to = crate::error::keep(&mut problems, date("to", "统计截止日期", to, today));
        let first_of_month = |d: NaiveDate| d.with_day(1).unwrap_or(d);
        let from =
            crate::error::keep(&mut problems, date("from", "统计起始日期", from, first_of_month(to.unwrap_or(today))));
        let (Some(from), Some(to)) = (from, to) else { return Err(problems) };
        if from > to {
            return Err(vec![ValidationError::new("from", "range", "统计起始日期不能晚于截止日期")]);
        }
        if (to - from).num_days() >= MAX_PERIOD_DAYS {
            return Err(vec![ValidationError::new("to", "range", "统计期间最长三年")]);
        }
        Ok(Period { from, to })
    }

    /// The calendar month holding `day`.
    pub fn month_of(day: NaiveDate) -> Period {
        let from = day.with_day(1).unwrap_or(day);
        let next = if from.month() == 12 {
            NaiveDate::from_ymd_opt(from.year() + 1, 1, 1)
        } else {
            NaiveDate::from_ymd_opt(from.year(), from.month() + 1, 1)
        };
        Period { from, to: next.and_then(|n| n.pred_opt()).unwrap_or(from) }
    }

    /// The calendar quarter holding `day`.
    pub fn quarter_of(day: NaiveDate) -> Period {
        let first_month = (day.month0() / 3) * 3 + 1;
        let from = NaiveDate::from_ymd_opt(day.year(), first_month, 1).unwrap_or(day);
        let last = Period::month_of(NaiveDate::from_ymd_opt(day.year(), first_month + 2, 1).unwrap_or(day));
        Period { from, to: last.to }
    }

    /// The first instant of the period (00:00 北京时间 of `from`).
    pub fn start(&self) -> DateTime<Utc> {
        day_start(self.from)
    }

    /// The first instant after the period (00:00 北京时间 of the day after `to`).
    pub fn end(&self) -> DateTime<Utc> {
        day_start(self.to) + Duration::days(1)
    }

    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        at >= self.start() && at < self.end()
    }

    pub fn days(&self) -> i64 {
        (self.to - self.from).num_days() + 1
    }

    /// The period of the same length just before this one (for trends).
    pub fn previous(&self) -> Period {
        let to = self.from.pred_opt().unwrap_or(self.from);
        Period { from: to - Duration::days(self.days() - 1), to }
    }

    /// Its days, in order.
    pub fn each_day(&self) -> impl Iterator<Item = NaiveDate> + '_ {
        self.from.iter_days().take_while(|d| *d <= self.to)
    }

    pub fn label(&self) -> String {
        format!("{} 至 {}", self.from.format("%Y年%-m月%-d日"), self.to.format("%Y年%-m月%-d日"))
    }
}

/// 00:00 北京时间 of `day`, in UTC.
pub fn day_start(day: NaiveDate) -> DateTime<Utc> {
    beijing()
        .from_local_datetime(&day.and_time(NaiveTime::MIN))
        .single()
        .expect("fixed offsets are unambiguous")
        .with_timezone(&Utc)
}

/// The Beijing day of an instant.
pub fn beijing_day(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&beijing()).date_naive()
}

/// How a timed duty stands at a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Timeliness {
    /// Met by its due time.
    OnTime,
    /// Met after its due time, or still open past it.
    Late,
    /// Open and not yet due: not judged yet.
    Pending,
    /// Closed without being met (withdrawn, ended otherwise): not judged.
    CutShort,
    /// No statutory period: never judged.
    Untimed,
}

/// The one definition of on time and late, which the store's aggregate queries mirror (the store contract test
/// compares them on random ledgers).
pub fn classify(d: &Duty, now: DateTime<Utc>) -> Timeliness {
    let Some(due) = d.due_at else { return Timeliness::Untimed };
    match d.closed_at {
        Some(closed) if d.met => {
            if closed <= due {
                Timeliness::OnTime
            } else {
                Timeliness::Late
            }
        }
        Some(_) => Timeliness::CutShort,
        None if now > due => Timeliness::Late,
        None => Timeliness::Pending,
    }
}

/// Counts of duties by [`Timeliness`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    pub on_time: u64,
    pub late: u64,
    pub pending: u64,
    pub cut_short: u64,
}

impl Tally {
    pub fn add(&mut self, t: Timeliness) {
        match t {
            Timeliness::OnTime => self.on_time += 1,
            Timeliness::Late => self.late += 1,
            Timeliness::Pending => self.pending += 1,
            Timeliness::CutShort => self.cut_short += 1,
            Timeliness::Untimed => {}
        }
    }

    pub fn merge(&mut self, other: &Tally) {
        self.on_time += other.on_time;
        self.late += other.late;
        self.pending += other.pending;
        self.cut_short += other.cut_short;
    }

    /// Duties due in the period, whatever their state.
    pub fn due(&self) -> u64 {
        self.on_time + self.late + self.pending + self.cut_short
    }

    /// On time ÷ judged; None with nothing judged.
    pub fn rate(&self) -> Option<f64> {
        let judged = self.on_time + self.late;
        (judged > 0).then(|| self.on_time as f64 / judged as f64)
    }
}

/// The timeliness indicators (R-SUP-1), each over the duty kinds it counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Indicator {
    /// Catalog compilation and update (Art. 17): the department's update reports, the authority's reviews.
    Catalog,
    /// Replies to applications (Art. 21).
    Reply,
    /// Delivery after approval (Art. 22).
    Delivery,
    /// Answers to correction requests (Art. 26).
    Correction,
    /// Records of use kept (Art. 29 ¶2).
    UseRecords,
    /// Disposal confirmed once use ended (Art. 27 ¶1).
    Disposal,
    /// Public complaints and reports handled (Art. 37 ¶2).
    Complaints,
    /// Disputes coordinated (Art. 28).
    Disputes,
    /// Orders to rectify complied with by their deadline (Art. 39–41).
    Orders,
}

impl Indicator {
    pub const ALL: [Indicator; 9] = [
        Indicator::Catalog,
        Indicator::Reply,
        Indicator::Delivery,
        Indicator::Correction,
        Indicator::UseRecords,
        Indicator::Disposal,
        Indicator::Complaints,
        Indicator::Disputes,
        Indicator::Orders,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Indicator::Catalog => "catalog",
            Indicator::Reply => "reply",
            Indicator::Delivery => "delivery",
            Indicator::Correction => "correction",
            Indicator::UseRecords => "use_records",
            Indicator::Disposal => "disposal",
            Indicator::Complaints => "complaints",
            Indicator::Disputes => "disputes",
            Indicator::Orders => "orders",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Indicator::Catalog => "目录编制更新及时率",
            Indicator::Reply => "申请答复及时率",
            Indicator::Delivery => "数据交付及时率",
            Indicator::Correction => "校核反馈及时率",
            Indicator::UseRecords => "使用记录按时记录率",
            Indicator::Disposal => "数据处置按时确认率",
            Indicator::Complaints => "投诉举报按时办结率",
            Indicator::Disputes => "争议按时协调率",
            Indicator::Orders => "责令改正按时整改率",
        }
    }

    pub fn article(self) -> &'static str {
        match self {
            Indicator::Catalog => "第十七条",
            Indicator::Reply => "第二十一条",
            Indicator::Delivery => "第二十二条",
            Indicator::Correction => "第二十六条",
            Indicator::UseRecords => "第二十九条",
            Indicator::Disposal => "第二十七条",
            Indicator::Complaints => "第三十七条",
            Indicator::Disputes => "第二十八条",
            Indicator::Orders => "第三十九条至第四十一条",
        }
    }

    /// The duty kinds it counts.
    pub fn kinds(self) -> &'static [DutyKind] {
        match self {
            Indicator::Catalog => &[DutyKind::UpdateCatalog, DutyKind::ReviewEntry],
            Indicator::Reply => &[DutyKind::Reply],
            Indicator::Delivery => &[DutyKind::Deliver],
            Indicator::Correction => &[DutyKind::AnswerCorrection],
            Indicator::UseRecords => &[DutyKind::RecordUse],
            Indicator::Disposal => &[DutyKind::Dispose],
            Indicator::Complaints => &[DutyKind::HandleComplaint],
            Indicator::Disputes => &[DutyKind::CoordinateDispute],
            Indicator::Orders => &[DutyKind::RectifyOrder],
        }
    }

    pub fn of_kind(kind: DutyKind) -> Option<Indicator> {
        Indicator::ALL.into_iter().find(|i| i.kinds().contains(&kind))
    }

    /// What it counts, for the documentation and the console's 指标说明.
    pub fn definition(self) -> &'static str {
        match self {
            Indicator::Catalog => {
                "分子：统计期内到期、在期限内完成的目录更新报送（第十七条第二款，含经批准的延期）和主管部门目录审核发布（第十七条第三款）件数；分母：其中已办结和已逾期未办结的件数"
            }
            Indicator::Reply => {
                "分子：统计期内答复期限届满、在期限内（含经批准的延期）作出答复的共享申请件数；分母：其中已答复和逾期未答复的件数"
            }
            Indicator::Delivery => {
                "分子：统计期内交付期限届满、在期限内完成共享交付的授权件数；分母：其中已交付和逾期未交付的件数"
            }
            Indicator::Correction => {
                "分子：统计期内反馈期限（收到之日起10个工作日）届满、按时核实更正并反馈的校核申请件数；分母：其中已反馈和逾期未反馈的件数"
            }
            Indicator::UseRecords => {
                "分子：统计期内记录期限届满、按时记录使用情况的使用期间数；分母：其中已记录和逾期未记录的期间数"
            }
            Indicator::Disposal => {
                "分子：统计期内处置期限届满、按时确认处置的授权件数；分母：其中已确认和逾期未确认的件数"
            }
            Indicator::Complaints => {
                "分子：统计期内办理期限届满、按时办结（答复或不予受理）的投诉举报件数；分母：其中已办结和逾期未办结的件数"
            }
            Indicator::Disputes => {
                "分子：统计期内协调期限届满、按时协调处理（达成一致或报请本级人民政府决定）的争议件数；分母：其中已协调和逾期未协调的件数"
            }
            Indicator::Orders => {
                "分子：统计期内整改期限届满、按时报告整改情况的责令改正件数；分母：其中已报告和逾期未报告的件数"
            }
        }
    }
}

/// Who a rule is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Party {
    Provider,
    Requester,
    Authority,
}

impl Party {
    pub fn label(self) -> &'static str {
        match self {
            Party::Provider => "政务数据提供部门",
            Party::Requester => "政务数据需求部门",
            Party::Authority => "政务数据共享主管部门",
        }
    }
}

/// An item of Art. 39, 40 or 41.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Rule {
    #[serde(rename = "39-1")]
    A39_1,
    #[serde(rename = "39-2")]
    A39_2,
    #[serde(rename = "39-3")]
    A39_3,
    #[serde(rename = "39-4")]
    A39_4,
    #[serde(rename = "39-5")]
    A39_5,
    #[serde(rename = "39-6")]
    A39_6,
    #[serde(rename = "39-7")]
    A39_7,
    #[serde(rename = "39-8")]
    A39_8,
    #[serde(rename = "40-1")]
    A40_1,
    #[serde(rename = "40-2")]
    A40_2,
    #[serde(rename = "40-3")]
    A40_3,
    #[serde(rename = "40-4")]
    A40_4,
    #[serde(rename = "40-5")]
    A40_5,
    #[serde(rename = "40-6")]
    A40_6,
    #[serde(rename = "41-1")]
    A41_1,
    #[serde(rename = "41-2")]
    A41_2,
}

/// What the platform observes of a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum Observation {
    /// Lateness of these duties in the ledger.
    Duties { kinds: &'static [DutyKind] },
    /// Acts recorded in the grants' timelines, each of which opened one of these duties (the duty is the act's
    /// index in the ledger; [`grant_rules`] reads the act itself).
    Acts { kinds: &'static [DutyKind], what: &'static str },
    /// Not observed; why not.
    NotObserved { why: &'static str },
}

impl Rule {
    pub const ALL: [Rule; 16] = [
        Rule::A39_1,
        Rule::A39_2,
        Rule::A39_3,
        Rule::A39_4,
        Rule::A39_5,
        Rule::A39_6,
        Rule::A39_7,
        Rule::A39_8,
        Rule::A40_1,
        Rule::A40_2,
        Rule::A40_3,
        Rule::A40_4,
        Rule::A40_5,
        Rule::A40_6,
        Rule::A41_1,
        Rule::A41_2,
    ];

    /// `39-4` and so on.
    pub fn code(self) -> &'static str {
        match self {
            Rule::A39_1 => "39-1",
            Rule::A39_2 => "39-2",
            Rule::A39_3 => "39-3",
            Rule::A39_4 => "39-4",
            Rule::A39_5 => "39-5",
            Rule::A39_6 => "39-6",
            Rule::A39_7 => "39-7",
            Rule::A39_8 => "39-8",
            Rule::A40_1 => "40-1",
            Rule::A40_2 => "40-2",
            Rule::A40_3 => "40-3",
            Rule::A40_4 => "40-4",
            Rule::A40_5 => "40-5",
            Rule::A40_6 => "40-6",
            Rule::A41_1 => "41-1",
            Rule::A41_2 => "41-2",
        }
    }

    pub fn parse(code: &str) -> Option<Rule> {
        Rule::ALL.into_iter().find(|r| r.code() == code.trim())
    }

    /// 第三十九条第（四）项.
    pub fn article(self) -> String {
        let (article, item) = self.code().split_once('-').expect("codes are article-item");
        let article = match article {
            "39" => "第三十九条",
            "40" => "第四十条",
            _ => "第四十一条",
        };
        let item = ["一", "二", "三", "四", "五", "六", "七", "八"][item.parse::<usize>().unwrap_or(1) - 1];
        format!("{article}第（{item}）项")
    }

    pub fn party(self) -> Party {
        match self.code().as_bytes()[1] {
            b'9' => Party::Provider,
            b'0' => Party::Requester,
            _ => Party::Authority,
        }
    }

    /// The item's words in the regulation.
    pub fn text(self) -> &'static str {
        match self {
            Rule::A39_1 => "未按照要求编制或者更新政务数据目录",
            Rule::A39_2 => "通过擅自增设条件等方式阻碍、影响政务数据共享",
            Rule::A39_3 => "未配合数源部门及时完善更新政务数据",
            Rule::A39_4 => "未按时答复政务数据共享申请或者未按时共享政务数据，且无正当理由",
            Rule::A39_5 => "未按照规定将业务信息系统收集和产生的下级政府行政区域内的政务数据回流至下级政府部门",
            Rule::A39_6 => "收到政务数据校核申请后，未按时核实、更正",
            Rule::A39_7 => "擅自终止或者变更已提供的政务数据共享服务",
            Rule::A39_8 => "未按照规定将已建设的政务数据平台纳入全国一体化政务大数据体系",
            Rule::A40_1 => "重复收集可以通过共享获取的政务数据",
            Rule::A40_2 => "擅自超出使用范围、共享目的使用通过共享获取的政务数据",
            Rule::A40_3 => "擅自将通过共享获取的政务数据提供给第三方",
            Rule::A40_4 => {
                "共享目的已实现、无法实现或者为实现共享目的不再必要，未按照要求妥善处置通过共享获取的政务数据"
            }
            Rule::A40_5 => "未按照规定保存通过共享获取的政务数据有关记录",
            Rule::A40_6 => "未对通过共享获取的政务数据履行安全管理责任",
            Rule::A41_1 => "未按照规定明确数源部门",
            Rule::A41_2 => "未按照规定对政务数据共享争议进行协调处理",
        }
    }

    pub fn observation(self) -> Observation {
        use Observation::*;
        match self {
            Rule::A39_1 => Duties { kinds: &[DutyKind::UpdateCatalog] },
            Rule::A39_4 => Duties { kinds: &[DutyKind::Reply, DutyKind::Deliver] },
            Rule::A39_6 => Duties { kinds: &[DutyKind::AnswerCorrection] },
            Rule::A40_4 => Duties { kinds: &[DutyKind::Dispose] },
            Rule::A40_5 => Duties { kinds: &[DutyKind::RecordUse] },
            Rule::A41_2 => Duties { kinds: &[DutyKind::CoordinateDispute] },
            Rule::A39_7 => Acts {
                kinds: &[DutyKind::RestoreService],
                what: "提供部门未经协商备案暂停正在提供的共享服务（非因违规使用、非因安全事件）；经协商并备案的终止不在此列",
            },
            Rule::A40_2 => Acts {
                kinds: &[DutyKind::Rectify],
                what: "提供部门或主管部门以超出使用范围、超出使用用途为由暂停共享",
            },
            Rule::A40_3 => Acts {
                kinds: &[DutyKind::Rectify],
                what: "提供部门或主管部门以擅自向第三方提供为由暂停共享",
            },
            Rule::A39_2 => NotObserved {
                why: "平台只记录答复结论和理由，无法判断所附条件是否属于擅自增设；不予共享和部分共享的理由可在申请记录中查阅",
            },
            Rule::A39_3 => NotObserved {
                why: "数源部门与提供部门之间的数据完善更新在平台外进行，平台没有其过程记录"
            },
            Rule::A39_5 => {
                NotObserved { why: "数据回流在跨层级节点之间进行，节点互联后方可观察" }
            }
            Rule::A39_8 => NotObserved {
                why: "平台纳入全国一体化政务大数据体系属于节点互联事项，本节点无法自证"
            },
            Rule::A40_1 => NotObserved {
                why: "平台提供重复收集核查工具，但部门实际收集数据的登记尚未纳入平台，无法确认是否已重复收集",
            },
            Rule::A40_6 => NotObserved {
                why: "安全管理责任的履行情况在平台外；平台记录的安全事件报告可在安全事件页面查阅，事件本身不等于未履行责任",
            },
            Rule::A41_1 => NotObserved {
                why: "数源部门的确定依据（同一数据由多个部门收集）需要部门收集登记，尚未纳入平台；已确定的数源部门可在数源部门页面查阅",
            },
        }
    }
}

/// The rule a late duty of this kind breaches, if its lateness is a violation in itself.
pub fn duty_rule(kind: DutyKind) -> Option<Rule> {
    Rule::ALL.into_iter().find(|r| matches!(r.observation(), Observation::Duties { kinds } if kinds.contains(&kind)))
}

/// Every duty kind whose lateness some rule observes (the kinds [`duty_rule`] maps to a rule), in rule order.
pub fn late_duty_kinds() -> Vec<DutyKind> {
    Rule::ALL
        .iter()
        .filter_map(|r| match r.observation() {
            Observation::Duties { kinds } => Some(kinds.iter().copied()),
            _ => None,
        })
        .flatten()
        .collect()
}

/// The rule a duty breaches at `now`: a duty of a kind [`duty_rule`] names, late by [`classify`].
pub fn duty_violation(d: &Duty, now: DateTime<Utc>) -> Option<Rule> {
    duty_rule(d.kind).filter(|_| classify(d, now) == Timeliness::Late)
}

/// The duty kinds whose opening records an act that is a violation candidate in itself.
pub const ACT_KINDS: [DutyKind; 2] = [DutyKind::RestoreService, DutyKind::Rectify];

/// The rule the act that opened `d` breaches, given the grant it is about (whose event says the grounds).
pub fn act_violation(d: &Duty, grant: &Grant) -> Option<Rule> {
    let event: usize = d.key.rsplit(':').next()?.parse().ok()?;
    grant_rules(grant).into_iter().find(|(_, i)| *i == event).map(|(r, _)| r)
}

/// A grant event that is a violation candidate in itself: the rule and the event's index.
pub fn grant_rules(grant: &Grant) -> Vec<(Rule, usize)> {
    let mut out = Vec::new();
    for (i, e) in grant.events.iter().enumerate() {
        if e.action != "suspend" {
            continue;
        }
        match &e.misuse {
            Some(m) => out.push((if m.grounds == MisuseGrounds::ThirdParty { Rule::A40_3 } else { Rule::A40_2 }, i)),
            // The provider stopped the running service on its own: not for misuse (Art. 27 ¶2), not for a security
            // incident (Art. 35), not by its authority.
            None if e.org == Some(grant.provider) && e.incident.is_none() => out.push((Rule::A39_7, i)),
            None => {}
        }
    }
    out
}

/// The stable key of a violation: the rule and the fact it rests on (a duty's key, or a grant event).
pub fn violation_key(rule: Rule, fact: &str) -> String {
    format!("{}@{fact}", rule.code())
}

/// The parts of a violation key, if it is one.
pub fn parse_violation_key(key: &str) -> Option<(Rule, &str)> {
    let (rule, fact) = key.trim().split_once('@')?;
    Some((Rule::parse(rule)?, fact)).filter(|(_, f)| !f.is_empty() && f.len() <= 200)
}

/// The fact name of a grant event.
pub fn grant_fact(grant: &Grant, event: usize) -> String {
    format!("grant:{}:event:{event}", grant.id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::{WorkingCalendar, end_of_day};
    use crate::duty::SubjectKind;
    use crate::org::OrgId;
    use crate::role::Role;

    fn grant(provider: OrgId, requester: OrgId) -> Grant {
        use crate::grant::{GrantId, GrantState};
        Grant {
            id: GrantId(uuid::Uuid::from_u128(9)),
            number: "GX-2026-000001".into(),
            application: crate::application::ApplicationId(uuid::Uuid::from_u128(8)),
            requester,
            provider,
            entry: crate::catalog::EntryId(uuid::Uuid::from_u128(7)),
            items: vec![],
            purpose: String::new(),
            row_scope: None,
            delivery: Default::default(),
            valid_from: NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
            valid_until: NaiveDate::from_ymd_opt(2027, 12, 1).unwrap(),
            rate_per_minute: 1,
            daily_rows: 1,
            state: GrantState::Suspended,
            further_purposes: vec![],
            third_parties: vec![],
            past_terms: vec![],
            terms_since: None,
            aggregation: None,
            scheduled_narrowing: None,
            ends_on: None,
            hash_key: String::new(),
            created_at: at("2026-11-01T02:00:00Z"),
            events: vec![],
        }
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn duty(kind: DutyKind, started: &str, days: u32, closed: Option<&str>, met: bool) -> Duty {
        let calendar = WorkingCalendar::official();
        let deadline = calendar.deadline(at(started), days).unwrap();
        Duty {
            key: format!("application:x:{}:0", kind.code()),
            kind,
            subject_kind: SubjectKind::Application,
            subject_id: uuid::Uuid::nil(),
            title: "户籍信息".into(),
            owner: OrgId::new(),
            role: Role::Clerk,
            counterpart: None,
            started_at: at(started),
            days: Some(days),
            due_at: Some(deadline.due_at),
            closed_at: closed.map(at),
            met,
        }
    }

    #[test]
    fn a_reply_on_the_last_working_day_across_national_day_is_on_time() {
        // Received Monday 2026-09-28; 10 working days skip 10-01..10-07 (holiday; 09-27 and 10-10 are make-up
        // working days in 2026's calendar or not — the calendar decides): whatever the due date, 23:00 北京时间
        // on it is on time and one minute after its end is late.
        let d = duty(DutyKind::Reply, "2026-09-28T02:00:00Z", 10, None, false);
        let due = d.due_at.unwrap();
        let due_day = beijing_day(due);
        assert!(due_day > NaiveDate::from_ymd_opt(2026, 10, 12).unwrap(), "the holiday lengthens the period");
        assert_eq!(due, end_of_day(due_day));
        let last_evening = due - Duration::minutes(59);
        let mut replied = d.clone();
        (replied.closed_at, replied.met) = (Some(last_evening), true);
        assert_eq!(classify(&replied, due + Duration::days(30)), Timeliness::OnTime);
        assert_eq!(duty_violation(&replied, due + Duration::days(30)), None, "must not fire");
        (replied.closed_at, replied.met) = (Some(due + Duration::minutes(1)), true);
        assert_eq!(classify(&replied, due + Duration::days(30)), Timeliness::Late);
        assert_eq!(duty_violation(&replied, due + Duration::days(30)), Some(Rule::A39_4));
        // Open: pending up to its due time, late after.
        assert_eq!(classify(&d, due), Timeliness::Pending);
        assert_eq!(duty_violation(&d, due), None);
        assert_eq!(classify(&d, due + Duration::seconds(1)), Timeliness::Late);
    }

    #[test]
    fn an_approved_extension_moves_the_due_time_and_nothing_fires_inside_it() {
        // Reply period 10 working days with a 10-day extension (Art. 21): the workflow derives 20 days.
        let extended = duty(DutyKind::Reply, "2026-11-02T02:00:00Z", 20, None, false);
        let plain = duty(DutyKind::Reply, "2026-11-02T02:00:00Z", 10, None, false);
        let between = plain.due_at.unwrap() + Duration::days(3);
        assert!(between < extended.due_at.unwrap());
        assert_eq!(duty_violation(&plain, between), Some(Rule::A39_4));
        assert_eq!(duty_violation(&extended, between), None);
        let mut answered = extended.clone();
        (answered.closed_at, answered.met) = (Some(between), true);
        assert_eq!(duty_violation(&answered, between + Duration::days(60)), None);
    }

    #[test]
    fn withdrawn_and_untimed_duties_are_never_judged() {
        let cut = duty(DutyKind::Reply, "2026-11-02T02:00:00Z", 10, Some("2026-12-30T02:00:00Z"), false);
        assert_eq!(classify(&cut, at("2027-01-30T00:00:00Z")), Timeliness::CutShort);
        assert_eq!(duty_violation(&cut, at("2027-01-30T00:00:00Z")), None);
        let mut untimed = duty(DutyKind::ApproveApplication, "2026-11-02T02:00:00Z", 10, None, false);
        (untimed.days, untimed.due_at) = (None, None);
        assert_eq!(classify(&untimed, at("2030-01-01T00:00:00Z")), Timeliness::Untimed);
        let mut t = Tally::default();
        t.add(Timeliness::Untimed);
        t.add(Timeliness::CutShort);
        assert_eq!((t.due(), t.rate()), (1, None), "nothing judged: no rate, not 0% and not 100%");
    }

    #[test]
    fn tally_rate_counts_on_time_over_judged() {
        let mut t = Tally::default();
        for x in [Timeliness::OnTime, Timeliness::OnTime, Timeliness::OnTime, Timeliness::Late, Timeliness::Pending] {
            t.add(x);
        }
        assert_eq!(t.due(), 5);
        assert_eq!(t.rate(), Some(0.75));
    }

    #[test]
    fn each_late_duty_kind_maps_to_its_article_item_and_others_do_not() {
        let cases = [
            (DutyKind::UpdateCatalog, Some(Rule::A39_1)),
            (DutyKind::Reply, Some(Rule::A39_4)),
            (DutyKind::Deliver, Some(Rule::A39_4)),
            (DutyKind::AnswerCorrection, Some(Rule::A39_6)),
            (DutyKind::Dispose, Some(Rule::A40_4)),
            (DutyKind::RecordUse, Some(Rule::A40_5)),
            (DutyKind::CoordinateDispute, Some(Rule::A41_2)),
            // Lateness of these is no violation of an item of Art. 39–41 in itself.
            (DutyKind::ApproveApplication, None),
            (DutyKind::Supplement, None),
            (DutyKind::ReviewEntry, None),
            (DutyKind::HandleComplaint, None),
            (DutyKind::RectifyOrder, None),
        ];
        for (kind, rule) in cases {
            assert_eq!(duty_rule(kind), rule, "{kind:?}");
            let late = duty(kind, "2026-11-02T02:00:00Z", 10, None, false);
            assert_eq!(duty_violation(&late, at("2027-03-01T00:00:00Z")), rule, "{kind:?}");
        }
        assert_eq!(Rule::A39_4.article(), "第三十九条第（四）项");
        assert_eq!(Rule::A41_2.article(), "第四十一条第（二）项");
        assert_eq!(
            (Rule::A39_6.party(), Rule::A40_5.party(), Rule::A41_1.party()),
            (Party::Provider, Party::Requester, Party::Authority)
        );
        for r in Rule::ALL {
            assert_eq!(Rule::parse(r.code()), Some(r));
        }
    }

    #[test]
    fn grant_events_fire_for_misuse_and_an_unfiled_stop_only() {
        use crate::grant::{GrantEvent, Misuse};
        let provider = OrgId::new();
        let authority = OrgId::new();
        let mut g = grant(provider, OrgId::new());
        let event = |org, misuse: Option<MisuseGrounds>, incident: bool| GrantEvent {
            at: at("2026-11-03T02:00:00Z"),
            actor: "x".into(),
            action: "suspend".into(),
            org: Some(org),
            misuse: misuse
                .map(|grounds| Misuse { grounds, rectify_by: NaiveDate::from_ymd_opt(2026, 11, 20).unwrap() }),
            incident: incident.then(uuid::Uuid::nil),
            ..GrantEvent::default()
        };
        g.events.push(GrantEvent { action: "create".into(), ..GrantEvent::default() });
        g.events.push(event(provider, Some(MisuseGrounds::PurposeExceeded), false));
        g.events.push(event(provider, Some(MisuseGrounds::ThirdParty), false));
        g.events.push(event(provider, None, false));
        g.events.push(event(provider, None, true));
        g.events.push(event(authority, None, false));
        assert_eq!(grant_rules(&g), vec![(Rule::A40_2, 1), (Rule::A40_3, 2), (Rule::A39_7, 3)]);
        let key = violation_key(Rule::A39_7, &grant_fact(&g, 3));
        assert_eq!(parse_violation_key(&key).map(|(r, _)| r), Some(Rule::A39_7));
        assert_eq!(parse_violation_key("39-4@"), None);
        assert_eq!(parse_violation_key("99-1@x"), None);
    }

    #[test]
    fn periods_parse_name_their_fields_and_split_into_months_and_quarters() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 3).unwrap();
        let p = Period::parse("", "", today).unwrap();
        assert_eq!((p.from.to_string(), p.to.to_string()), ("2026-12-01".into(), "2026-12-03".into()));
        let err = Period::parse("2026-12-05", "2026-12-01", today).unwrap_err();
        assert_eq!((err[0].field.as_ref(), err[0].rule), ("from", "range"));
        let err = Period::parse("2026-13-01", "x", today).unwrap_err();
        assert_eq!(err.iter().map(|e| e.field.as_ref()).collect::<Vec<_>>(), ["to", "from"]);
        assert_eq!(Period::parse("2020-01-01", "2026-01-01", today).unwrap_err()[0].rule, "range");
        let q = Period::quarter_of(NaiveDate::from_ymd_opt(2026, 11, 15).unwrap());
        assert_eq!((q.from.to_string(), q.to.to_string()), ("2026-10-01".into(), "2026-12-31".into()));
        assert_eq!(Period::month_of(NaiveDate::from_ymd_opt(2026, 2, 10).unwrap()).to.to_string(), "2026-02-28");
        assert_eq!(q.previous().from.to_string(), "2026-07-01");
        // The period's instants are Beijing days.
        assert_eq!(q.start(), at("2026-09-30T16:00:00Z"));
        assert_eq!(q.end(), at("2026-12-31T16:00:00Z"));
        assert!(q.contains(at("2026-12-31T15:59:59Z")) && !q.contains(at("2026-12-31T16:00:00Z")));
    }
}
