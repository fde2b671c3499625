//! Records of use on the grant's page (Art. 29 ¶2): the grant's periods with their due dates and state, every
//! record kept, and the requester's form for a period that has ended.

use axum::Form;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};
use govshare_domain::authz::{Action, check};
use govshare_domain::grant::Grant;
use govshare_domain::principal::Principal;
use govshare_domain::use_record::UseRecordInput;
use govshare_service::UseRecordsView;

use super::ConsoleCaller;
use super::grants::{detail_page, grant_id};
use super::pages::{PageResult, actor_name, beijing};
use super::view::{Feedback, Typed};
use crate::AppState;

/// One period in the table.
#[derive(Debug, Clone)]
pub struct PeriodRow {
    pub start: String,
    pub span: String,
    pub kind: &'static str,
    pub due: String,
    pub status: &'static str,
    pub status_class: &'static str,
    /// Ended and so recordable.
    pub ended: bool,
}

/// One record, as kept.
#[derive(Debug, Clone)]
pub struct RecordRow {
    pub span: String,
    pub kind: &'static str,
    pub scenario: String,
    pub process: String,
    pub results: String,
    pub storage: String,
    pub destruction: String,
    pub recorded_by: String,
    pub recorded_at: String,
}

#[derive(Debug, Clone, Default)]
pub struct UseSection {
    pub months: u32,
    pub periods: Vec<PeriodRow>,
    /// Newest first.
    pub records: Vec<RecordRow>,
    /// The requester's staff may record.
    pub can_record: bool,
    /// (period start, label) of the periods that can be recorded now.
    pub choices: Vec<(String, String)>,
    /// What a form that came back held.
    pub typed: Typed,
}

pub fn section(
    p: &Principal,
    grant: &Grant,
    view: UseRecordsView,
    names: &std::collections::HashMap<String, String>,
    today: chrono::NaiveDate,
    typed: Typed,
) -> UseSection {
    let kind = |last: bool| if last { "终期记录" } else { "定期记录" };
    let periods: Vec<PeriodRow> = view
        .periods
        .iter()
        .map(|v| {
            let p = v.period;
            let ended = p.end <= today;
            let overdue = !v.recorded && v.due_date.is_some_and(|d| d < today);
            let (status, status_class) = match (v.recorded, ended, overdue) {
                (true, _, _) => ("已记录", "tag-ok"),
                (false, _, true) => ("已逾期", "tag-err"),
                (false, true, false) => ("待记录", "tag-warn"),
                (false, false, _) => ("期间未结束", ""),
            };
            PeriodRow {
                start: p.start.to_string(),
                span: format!("{} 至 {}", p.start, p.end),
                kind: kind(p.last),
                due: v.due_date.map(|d| d.to_string()).unwrap_or_default(),
                status,
                status_class,
                ended,
            }
        })
        .collect();
    UseSection {
        months: view.months,
        choices: periods
            .iter()
            .filter(|r| r.ended)
            .map(|r| (r.start.clone(), format!("{}（{}）", r.span, r.kind)))
            .collect(),
        periods,
        records: view
            .records
            .iter()
            .rev()
            .map(|r| RecordRow {
                span: format!("{} 至 {}", r.period_start, r.period_end),
                kind: kind(r.last),
                scenario: r.scenario.clone(),
                process: r.process.clone(),
                results: r.results.clone(),
                storage: r.storage.clone(),
                destruction: r.destruction.clone(),
                recorded_by: actor_name(&r.recorded_by, names),
                recorded_at: beijing(r.recorded_at),
            })
            .collect(),
        can_record: check(p, Action::PrepareSharing(grant.requester)).is_ok(),
        typed,
    }
}

/// The requester records a period's use; the page comes back with every problem marked and what was typed.
pub async fn record(
    State(state): State<AppState>,
    ConsoleCaller(caller): ConsoleCaller,
    Path(id): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> PageResult {
    let id = grant_id(&id)?;
    let form = Typed(fields);
    let input = UseRecordInput {
        period_start: form.owned("period_start"),
        scenario: form.owned("scenario"),
        process: form.owned("process"),
        results: form.owned("results"),
        storage: form.owned("storage"),
        destruction: form.owned("destruction"),
    };
    match state.services.record_use(&caller.principal, id, &input).await {
        Ok(_) => Ok(Redirect::to(&format!("/console/grants/{id}?notice=use_recorded#use-records")).into_response()),
        Err(err) => {
            let feedback = Feedback::from_error(&err);
            let status = feedback.status();
            let typed = form.0.into_iter().map(|(f, v)| (format!("use.{f}"), v)).collect();
            detail_page(&state, &caller, id, feedback, status, Typed(typed)).await
        }
    }
}
