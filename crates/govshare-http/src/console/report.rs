//! The supervision report for the people's government (Art. 38 ¶2): one [`govshare_report::Report`] built from
//! the region dashboard, and the charts the console shows (the same SVG the PDF embeds).

use std::sync::OnceLock;

use govshare_report::{Block, Cell, Chart, Column, Font, Report, ReportError, Section, Series, Table};
use govshare_service::Dashboard;

use super::pages::beijing;

/// The font reports are set in: `GOVSHARE_REPORT_FONT` (a path; `path#index` for a collection), or the first of
/// the usual CJK fonts found ([`Font::discover`]). Looked up once.
pub fn font() -> Result<&'static Font, ReportError> {
    static FONT: OnceLock<Result<Font, ReportError>> = OnceLock::new();
    FONT.get_or_init(|| match std::env::var("GOVSHARE_REPORT_FONT") {
        Ok(spec) if !spec.trim().is_empty() => {
            let (path, index) = match spec.rsplit_once('#') {
                Some((p, i)) => (p.to_owned(), i.parse().unwrap_or(0)),
                None => (spec, 0),
            };
            Font::from_file(std::path::Path::new(&path), index)
        }
        _ => Font::discover(),
    })
    .as_ref()
    .map_err(Clone::clone)
}

/// The timeliness of each department (its overall on-time rate), best first, at most `n` bars.
pub fn timeliness_chart(d: &Dashboard, n: usize) -> Chart {
    Chart::Bars {
        title: "各部门办理及时率（统计期内到期的有时限事项）".into(),
        unit: "%".into(),
        bars: d.departments.iter().filter_map(|r| r.overall.rate.map(|x| (r.name.clone(), x))).take(n).collect(),
        max: Some(1.0),
    }
}

pub fn overdue_chart(d: &Dashboard) -> Chart {
    Chart::Line {
        title: "逾期未办结事项数（每日日终）".into(),
        unit: "件".into(),
        labels: d.overdue_series.iter().map(|p| p.day.format("%m-%d").to_string()).collect(),
        series: vec![Series {
            name: "逾期事项".into(),
            values: d.overdue_series.iter().map(|p| p.count as f64).collect(),
        }],
    }
}

pub fn usage_chart(d: &Dashboard) -> Chart {
    Chart::Line {
        title: "数据调用趋势（每日）".into(),
        unit: "次".into(),
        labels: d.usage_series.iter().map(|p| p.day.format("%m-%d").to_string()).collect(),
        series: vec![
            Series {
                name: "调用次数".into(),
                values: d.usage_series.iter().map(|p| p.usage.accesses as f64).collect(),
            },
            Series {
                name: "拒绝次数".into(),
                values: d.usage_series.iter().map(|p| p.usage.refusals as f64).collect(),
            },
        ],
    }
}

fn int(n: u64) -> Cell {
    Cell::Int(i64::try_from(n).unwrap_or(i64::MAX))
}

/// The report of a dashboard.
pub fn build(d: &Dashboard) -> Report {
    let mut sections = Vec::new();
    let judged = d.overall.tally.on_time + d.overall.tally.late;
    sections.push(Section {
        heading: "一、总体情况".into(),
        blocks: vec![Block::Paragraph(format!(
            "统计期间{}，{}及所辖区域共{}个单位。统计期内到期的有时限事项{}件，已判定{}件，其中按时办结{}件、逾期{}件，总体及时率{}；数据调用{}次，交付{}条，拒绝{}次；发现疑似违规线索{}条，责令改正{}件。",
            d.period_label,
            d.region_name,
            d.departments.len(),
            d.overall.tally.due(),
            judged,
            d.overall.tally.on_time,
            d.overall.tally.late,
            govshare_report::format_rate(d.overall.rate),
            govshare_report::format_int(d.usage.accesses as i64),
            govshare_report::format_int(d.usage.rows as i64),
            govshare_report::format_int(d.usage.refusals as i64),
            d.violations.len(),
            d.orders.len(),
        ))],
    });
    let indicator_rows = d
        .totals
        .iter()
        .map(|i| {
            vec![
                Cell::Text(i.label.into()),
                Cell::Text(i.article.into()),
                int(i.due),
                int(i.tally.on_time),
                int(i.tally.late),
                int(i.tally.pending),
                Cell::Rate(i.rate),
            ]
        })
        .collect();
    sections.push(Section {
        heading: "二、监督指标".into(),
        blocks: vec![
            Block::Table(Table {
                title: "监督指标".into(),
                columns: vec![
                    Column::text("指标"),
                    Column::text("依据"),
                    Column::numeric("到期件数"),
                    Column::numeric("按时"),
                    Column::numeric("逾期"),
                    Column::numeric("未到期"),
                    Column::numeric("及时率"),
                ],
                rows: indicator_rows,
            }),
            Block::Paragraph(format!(
                "数据校核：收到校核申请{}件，已反馈{}件，确认有误并更正{}件，逾期{}件。",
                d.corrections.requests, d.corrections.answered, d.corrections.corrected, d.corrections.late
            )),
        ],
    });
    let ranking = d
        .departments
        .iter()
        .enumerate()
        .map(|(i, r)| {
            vec![
                int(i as u64 + 1),
                Cell::Text(r.name.clone()),
                Cell::Text(r.region_name.clone()),
                int(r.overall.tally.due()),
                int(r.overall.tally.late),
                Cell::Rate(r.overall.rate),
                int(r.as_requester.accesses),
                int(r.as_provider.rows),
                int(r.violations as u64),
            ]
        })
        .collect();
    sections.push(Section {
        heading: "三、各部门情况".into(),
        blocks: vec![
            Block::Chart(timeliness_chart(d, 20)),
            Block::Table(Table {
                title: "部门排名".into(),
                columns: vec![
                    Column::numeric("名次"),
                    Column::text("单位"),
                    Column::text("行政区划"),
                    Column::numeric("到期事项"),
                    Column::numeric("逾期"),
                    Column::numeric("及时率"),
                    Column::numeric("调用次数"),
                    Column::numeric("提供条数"),
                    Column::numeric("违规线索"),
                ],
                rows: ranking,
            }),
        ],
    });
    sections.push(Section {
        heading: "四、趋势".into(),
        blocks: vec![Block::Chart(overdue_chart(d)), Block::Chart(usage_chart(d))],
    });
    let violation_rows = d
        .violations
        .iter()
        .map(|v| {
            vec![
                Cell::Text(v.article.clone()),
                Cell::Text(v.party_name.clone()),
                Cell::Text(v.title.clone()),
                Cell::Text(beijing(v.since)),
                Cell::Text(if v.open { "持续中".into() } else { "已结束".into() }),
                Cell::Text(
                    v.order
                        .as_ref()
                        .map(|o| format!("{} {}", o.number, o.state_label))
                        .unwrap_or_else(|| "未处理".into()),
                ),
            ]
        })
        .collect();
    let unobserved: Vec<String> = d
        .rules
        .iter()
        .filter(|r| matches!(r.observation, govshare_domain::supervision::Observation::NotObserved { .. }))
        .map(|r| r.article.clone())
        .collect();
    sections.push(Section {
        heading: "五、违规线索及处理".into(),
        blocks: vec![
            Block::Table(Table {
                title: "违规线索".into(),
                columns: vec![
                    Column::text("条款"),
                    Column::text("单位"),
                    Column::text("事项"),
                    Column::text("发生时间"),
                    Column::text("状态"),
                    Column::text("处理"),
                ],
                rows: violation_rows,
            }),
            Block::Paragraph(format!("以下条款项平台尚无法观察，未纳入自动发现：{}。", unobserved.join("、"))),
        ],
    });
    Report {
        title: format!("{}政务数据共享监督情况报告", d.region_name),
        subtitle: format!("统计期间：{}", d.period_label),
        generated_at: beijing(d.generated_at),
        sections,
    }
}
