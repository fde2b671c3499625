//! Corrections in the console (Art. 26): the list with the correction figures, the request form (from a grant),
//! the provider's own correction form (from an entry), and a case's page with its answer form.

use askama::Template;
use axum::Form;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use govshare_domain::authz::{Action, check};
use govshare_domain::catalog::EntryId;
use govshare_domain::correction::{AnswerInput, Claim, CorrectionId, CorrectionInput, CorrectionStats, Outcome};
use govshare_domain::grant::GrantId;
use govshare_service::{CorrectionView, ServiceError};
use serde::Deserialize;

use super::ConsoleCaller;
use super::pages::{NoticeQuery, PageResult, actor_name, beijing, fail, layout, path_id, person_names};
use super::render;
use super::view::{Feedback, Layout, Typed, filters, read_upload_form};
use crate::AppState;
use crate::auth::Caller;

/// Largest correction form: the attachment and the fields.
pub const MAX_FORM_BYTES: usize = govshare_domain::attachment::MAX_ATTACHMENT_BYTES + 64 * 1024;

#[derive(Debug, Clone)]
pub struct CorrectionRow {
    pub id: String,
    pub number: String,
    pub entry: String,
    pub requester: String,
    pub provider: String,
    pub key_hint: String,
    pub state: &'static str,
    pub state_class: &'static str,
    pub received: String,
    pub due: String,
    pub late: bool,
}

fn row(v: &CorrectionView) -> CorrectionRow {
    let c = &v.correction;
    CorrectionRow {
        id: c.id.to_string(),
        number: c.number.clone(),
        entry: v.entry_name.clone(),
        requester: v.requester_name.clone().unwrap_or_else(|| "（提供部门主动更正）".into()),
        provider: v.provider_name.clone(),
        key_hint: c.key_hint.clone(),
        state: c.state_label(),
        state_class: match &c.answer {
            None => "tag-warn",
            Some(a) if a.outcome == Outcome::Confirmed => "tag-accent",
            Some(_) => "tag-ok",
        },
        received: beijing(c.received_at),
        due: v.due_on.map(|d| d.to_string()).unwrap_or_else(|| "—".into()),
        late: v.late,
    }
}

/// (name, requests, answered, rate, mean turnaround, late) of a figures row.
type FigureLine = (String, u64, u64, String, String, u64);

fn figure(name: &str, s: &CorrectionStats) -> FigureLine {
    (
        name.to_owned(),
        s.requests,
        s.answered,
        s.correction_rate.map_or_else(|| "—".into(), |r| format!("{:.0}%", r * 100.0)),
        s.mean_turnaround_days.map_or_else(|| "—".into(), |d| format!("{d:.1} 个工作日")),
        s.late,
    )
}

#[derive(Template)]
#[template(path = "corrections.html")]
struct ListPage {
    layout: Layout,
    feedback: Feedback,
    rows: Vec<CorrectionRow>,
    departments: Vec<FigureLine>,
    entries: Vec<FigureLine>,
    entry_filter: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    entry: Option<String>,
    notice: Option<String>,
}

pub async fn list(
    State(state): State<AppState>,
    ConsoleCaller(caller): ConsoleCaller,
    Query(q): Query<ListQuery>,
) -> PageResult {
    let p = &caller.principal;
    let entry: Option<EntryId> = match q.entry.as_deref().filter(|s| !s.is_empty()) {
        Some(raw) => Some(raw.parse().map_err(|e: govshare_domain::ValidationError| fail(ServiceError::from(e)))?),
        None => None,
    };
    let views = state.services.list_corrections(p, entry).await.map_err(fail)?;
    let figures = state.services.correction_figures(p).await.map_err(fail)?;
    let page = ListPage {
        layout: layout(&state, &caller, "数据校核", "/console/corrections").await?,
        feedback: Feedback::notice(q.notice.as_deref()),
        entry_filter: entry.and_then(|_| views.first().map(|v| v.entry_name.clone())),
        rows: views.iter().map(row).collect(),
        departments: figures.departments.iter().map(|r| figure(&r.name, &r.stats)).collect(),
        entries: figures.entries.iter().map(|r| figure(&r.name, &r.stats)).collect(),
    };
    Ok(render(StatusCode::OK, &page))
}

/// A form line for one item: code, name, ticked, the value typed, and whether it is at fault.
#[derive(Debug, Clone)]
pub struct ItemLine {
    pub code: String,
    pub name: String,
    pub ticked: bool,
    pub value: String,
    pub invalid: bool,
}

#[derive(Template)]
#[template(path = "correction_new.html")]
struct NewPage {
    layout: Layout,
    feedback: Feedback,
    /// A request under a grant (`grant` set) or the provider's own correction of an entry (`entry` set).
    grant: Option<(String, String)>,
    entry: Option<(String, String)>,
    /// The items that can be named (the grant's, or the entry's without its key), as typed.
    items: Vec<ItemLine>,
    key_name: String,
    typed: Typed,
}

#[derive(Debug, Deserialize)]
pub struct NewQuery {
    grant: Option<String>,
    entry: Option<String>,
}

async fn new_page(
    state: &AppState,
    caller: &Caller,
    q: &NewQuery,
    feedback: Feedback,
    status: StatusCode,
    typed: Typed,
) -> PageResult {
    let p = &caller.principal;
    let bad = |e: govshare_domain::ValidationError| fail(ServiceError::from(e));
    let (grant, entry_id) =
        match (q.grant.as_deref().filter(|s| !s.is_empty()), q.entry.as_deref().filter(|s| !s.is_empty())) {
            (Some(raw), _) => {
                let id: GrantId = raw.parse().map_err(bad)?;
                let v = state.services.get_grant(p, id).await.map_err(fail)?;
                if check(p, Action::PrepareSharing(v.grant.requester)).is_err() {
                    return Err(fail(ServiceError::Forbidden(
                        "只有需求部门的经办人或工作机构负责人可以提出校核申请".into(),
                    )));
                }
                let entry = v.grant.entry;
                (Some(v), entry)
            }
            (None, Some(raw)) => (None, raw.parse().map_err(bad)?),
            (None, None) => {
                return Err(fail(ServiceError::from(govshare_domain::ValidationError::new(
                    "grant",
                    "required",
                    "请从共享授权或目录页进入",
                ))));
            }
        };
    let (all_items, key_item) = state.services.correction_items(entry_id).await.map_err(fail)?;
    let key_name = all_items.iter().find(|(c, _)| *c == key_item).map(|(_, n)| n.clone()).unwrap_or(key_item.clone());
    let items: Vec<ItemLine> = all_items
        .iter()
        .filter(|(c, _)| match &grant {
            Some(v) => v.grant.item(c).is_some(),
            None => *c != key_item,
        })
        .enumerate()
        .map(|(i, (code, name))| ItemLine {
            code: code.clone(),
            name: name.clone(),
            ticked: typed.checked(&format!("claim.{code}")),
            value: typed.owned(&format!("value.{code}")),
            invalid: feedback.field_error(&format!("values.{code}")) || feedback.any_error(&format!("claims[{i}]")),
        })
        .collect();
    let entry = if grant.is_none() {
        let e = state.services.store().get_entry(entry_id).await.map_err(|e| fail(ServiceError::from(e)))?;
        if check(p, Action::PrepareSharing(e.provider)).is_err() {
            return Err(fail(ServiceError::Forbidden("只有提供部门的经办人或工作机构负责人可以更正本部门数据".into())));
        }
        Some((entry_id.to_string(), e.published().map(|v| v.content.name.clone()).unwrap_or_default()))
    } else {
        None
    };
    let page = NewPage {
        layout: layout(
            state,
            caller,
            if grant.is_some() { "提出校核申请" } else { "主动更正数据" },
            "/console/corrections",
        )
        .await?,
        feedback,
        grant: grant
            .map(|v| (v.grant.id.to_string(), format!("{} {}（{}）", v.grant.number, v.entry_name, v.provider_name))),
        entry,
        items,
        key_name,
        typed,
    };
    Ok(render(status, &page))
}

pub async fn new_form(
    State(state): State<AppState>,
    ConsoleCaller(caller): ConsoleCaller,
    Query(q): Query<NewQuery>,
) -> PageResult {
    new_page(&state, &caller, &q, Feedback::default(), StatusCode::OK, Typed::default()).await
}

/// The request form: `claim.<code>` ticks an item, `value.<code>` is the value believed right.
pub async fn file(
    State(state): State<AppState>,
    ConsoleCaller(caller): ConsoleCaller,
    multipart: Multipart,
) -> PageResult {
    let (form, upload) = read_upload_form(multipart).await.map_err(fail)?;
    let claims = form
        .0
        .iter()
        .filter_map(|(f, _)| f.strip_prefix("claim."))
        .map(|code| Claim { item: code.to_owned(), value: form.owned(&format!("value.{code}")) })
        .collect();
    let input = CorrectionInput {
        grant: form.owned("grant"),
        key: form.owned("key"),
        claims,
        evidence: form.owned("evidence"),
        checked_against: form.owned("checked_against"),
    };
    match state.services.file_correction(&caller.principal, &input, upload.as_ref()).await {
        Ok(c) => Ok(Redirect::to(&format!("/console/corrections/{}?notice=correction_filed", c.id)).into_response()),
        Err(err) => {
            let feedback = Feedback::from_error(&err);
            let status = feedback.status();
            let q = NewQuery { grant: Some(input.grant), entry: None };
            new_page(&state, &caller, &q, feedback, status, form).await
        }
    }
}

/// The provider's own correction: `value.<code>` for each item to change, and the reasons.
pub async fn correct(
    State(state): State<AppState>,
    ConsoleCaller(caller): ConsoleCaller,
    Path(id): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = Typed(fields);
    let entry: EntryId = id.parse().map_err(|e: govshare_domain::ValidationError| fail(ServiceError::from(e)))?;
    let values = values_of(&form);
    match state
        .services
        .correct_record(&caller.principal, entry, form.value("key"), &values, form.value("reasons"))
        .await
    {
        Ok(c) => {
            Ok(Redirect::to(&format!("/console/corrections/{}?notice=correction_corrected", c.id)).into_response())
        }
        Err(err) => {
            let feedback = Feedback::from_error(&err);
            let status = feedback.status();
            let q = NewQuery { grant: None, entry: Some(id) };
            new_page(&state, &caller, &q, feedback, status, form).await
        }
    }
}

/// The non-empty `value.<code>` fields.
fn values_of(form: &Typed) -> std::collections::BTreeMap<String, String> {
    form.0
        .iter()
        .filter_map(|(f, v)| f.strip_prefix("value.").map(|c| (c.to_owned(), v.clone())))
        .filter(|(_, v)| !v.trim().is_empty())
        .collect()
}

/// One line of the claims table: (code, name, the requester's value, the current value, the new value, at fault).
type ClaimLine = (String, String, String, String, String, bool);

#[derive(Template)]
#[template(path = "correction_detail.html")]
struct DetailPage {
    layout: Layout,
    feedback: Feedback,
    r: CorrectionRow,
    grant: Option<String>,
    key: Option<String>,
    evidence: String,
    checked_against: String,
    attachment: Option<(String, u64)>,
    claims: Vec<ClaimLine>,
    /// (when, who, step)
    steps: Vec<(String, String, String)>,
    answer: Option<(&'static str, String, String)>,
    can_answer: bool,
    outcomes: Vec<(&'static str, &'static str)>,
}

async fn detail_page(
    state: &AppState,
    caller: &Caller,
    id: CorrectionId,
    feedback: Feedback,
    status: StatusCode,
) -> PageResult {
    let p = &caller.principal;
    let v = state.services.get_correction(p, id).await.map_err(fail)?;
    let c = &v.correction;
    let can_answer = c.is_open() && check(p, Action::PrepareSharing(c.provider)).is_ok();
    let current = if check(p, Action::PrepareSharing(c.provider)).is_ok() {
        state.services.correction_record(p, id).await.map_err(fail)?
    } else {
        None
    };
    let (items, _) = state.services.correction_items(c.entry).await.map_err(fail)?;
    let name = |code: &str| items.iter().find(|(c, _)| c == code).map_or_else(|| code.to_owned(), |(_, n)| n.clone());
    let subject = v.subject.clone();
    let mut codes: Vec<String> = c.items.clone();
    if can_answer {
        // The provider may correct any item of the record, not only those named.
        for (code, _) in current.iter().flatten().map(|(c, n, _)| (c.clone(), n.clone())) {
            if !codes.contains(&code) {
                codes.push(code);
            }
        }
    }
    let claims = codes
        .iter()
        .map(|code| {
            let claimed = subject
                .as_ref()
                .and_then(|s| s.claims.iter().find(|x| x.item == *code))
                .map(|x| if x.value.is_empty() { "（未提供建议值）".to_owned() } else { x.value.clone() });
            let now = current.as_ref().and_then(|r| r.iter().find(|(c, _, _)| c == code)).map(|(_, _, v)| v.clone());
            let new = subject
                .as_ref()
                .and_then(|s| s.changes.iter().find(|x| x.item == *code))
                .map(|x| govshare_domain::record::json_to_raw(&x.new));
            let invalid = feedback.field_error(&format!("values.{code}"));
            (
                code.clone(),
                name(code),
                claimed.unwrap_or_else(|| "—".into()),
                now.unwrap_or_default(),
                new.unwrap_or_default(),
                invalid,
            )
        })
        .collect();
    let names = person_names(state, c.events.iter().map(|e| e.actor.as_str()).collect()).await?;
    let page = DetailPage {
        layout: layout(state, caller, "校核申请", "/console/corrections").await?,
        feedback,
        r: row(&v),
        grant: c.grant.map(|g| g.to_string()),
        key: subject.as_ref().map(|s| s.key.clone()),
        evidence: c.evidence.clone(),
        checked_against: c.checked_against.clone(),
        attachment: c.attachment.as_ref().filter(|_| subject.is_some()).map(|a| (a.name.clone(), a.bytes)),
        claims,
        steps: c.events.iter().map(|e| (beijing(e.at), actor_name(&e.actor, &names), e.text.clone())).collect(),
        answer: c.answer.as_ref().map(|a| (a.outcome.label(), a.reasons.clone(), beijing(a.at))),
        can_answer,
        outcomes: Outcome::ALL.iter().map(|o| (o.code(), o.label())).collect(),
    };
    Ok(render(status, &page))
}

pub async fn detail(
    State(state): State<AppState>,
    ConsoleCaller(caller): ConsoleCaller,
    Path(id): Path<String>,
    Query(q): Query<NoticeQuery>,
) -> PageResult {
    detail_page(&state, &caller, path_id::<CorrectionId>(&id)?, Feedback::notice(q.notice.as_deref()), StatusCode::OK)
        .await
}

pub async fn answer(
    State(state): State<AppState>,
    ConsoleCaller(caller): ConsoleCaller,
    Path(id): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> PageResult {
    let id = path_id::<CorrectionId>(&id)?;
    let form = Typed(fields);
    let input =
        AnswerInput { outcome: form.owned("outcome"), reasons: form.owned("reasons"), values: values_of(&form) };
    match state.services.answer_correction(&caller.principal, id, &input).await {
        Ok(_) => Ok(Redirect::to(&format!("/console/corrections/{id}?notice=correction_answered")).into_response()),
        Err(err) => {
            let feedback = Feedback::from_error(&err);
            let status = feedback.status();
            detail_page(&state, &caller, id, feedback, status).await
        }
    }
}

pub async fn attachment(
    State(state): State<AppState>,
    ConsoleCaller(caller): ConsoleCaller,
    Path(id): Path<String>,
) -> PageResult {
    let id = path_id::<CorrectionId>(&id)?;
    let (meta, data) = state.services.correction_attachment(&caller.principal, id).await.map_err(fail)?;
    Ok(crate::api::cases::file_response(&meta, data))
}
