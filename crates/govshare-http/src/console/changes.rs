//! Change requests on the grant's page (Art. 25 ¶1): the terms in force and their earlier versions, the third
//! parties approved, every change request with its outcome, and the form each side fills in at its turn — the
//! requester files and its head sends, the provider's clerk drafts the decision and its head gives it.

use axum::Form;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};
use govshare_domain::authz::{Action, check};
use govshare_domain::catalog::EntryContent;
use govshare_domain::change::{
    ChangeCase, ChangeDecision, ChangeDecisionInput, ChangeRequestInput, ChangeStage, ThirdParty, change_cases,
};
use govshare_domain::grant::{Grant, Masking, RowScope};
use govshare_domain::principal::Principal;
use govshare_service::ChangeStepInput;

use super::ConsoleCaller;
use super::grants::{detail_page, grant_id, item_label};
use super::pages::{PageResult, beijing};
use super::view::{Feedback, Typed};
use crate::AppState;

/// A third party as the page shows it.
#[derive(Debug, Clone)]
pub struct ThirdPartyRow {
    pub name: String,
    pub credit_code: String,
    pub items: String,
    pub purpose: String,
}

/// An earlier version of the terms.
#[derive(Debug, Clone)]
pub struct PastTermsRow {
    pub version: u32,
    pub period: String,
    pub items: String,
    pub scope: String,
    pub purposes: String,
    pub third_parties: String,
}

/// A change request in the list.
#[derive(Debug, Clone)]
pub struct CaseRow {
    pub no: u32,
    pub summary: String,
    pub filed_at: String,
    pub status: &'static str,
    pub status_class: &'static str,
    pub answer: String,
}

/// The open change request, spelled out.
#[derive(Debug, Clone)]
pub struct OpenChange {
    pub no: u32,
    pub stage: &'static str,
    pub items: String,
    pub rows: String,
    pub purpose: String,
    pub third_party: Option<ThirdPartyRow>,
    pub reasons: String,
    pub legal_basis: String,
    /// The drafted decision, in words, while the head decides.
    pub draft: Option<String>,
}

/// The change-request part of the grant's page.
#[derive(Debug, Clone, Default)]
pub struct ChangeSection {
    pub terms_version: u32,
    pub third_parties: Vec<ThirdPartyRow>,
    pub past: Vec<PastTermsRow>,
    pub cases: Vec<CaseRow>,
    pub open: Option<OpenChange>,
    pub can_file: bool,
    pub can_send: bool,
    pub can_withdraw: bool,
    pub can_draft: bool,
    pub can_decide: bool,
    /// (code, name) of the entry's items the requester may ask for: not granted, or granted as 不返回.
    pub requestable: Vec<(String, String)>,
    /// (code, name) of the items a third party may be asked to receive: returned ones and requestable ones.
    pub passable: Vec<(String, String)>,
    /// The grant's row scope, in words, when it has one (prefixes and all rows can be asked for).
    pub scope: Option<String>,
    /// For the decision form: the requested items (code, name), the maskings (code, label) and each item's
    /// default masking.
    pub decision_items: Vec<(String, String, &'static str)>,
    pub maskings: Vec<(&'static str, &'static str)>,
    pub asked_prefixes: String,
    pub asked_all_rows: bool,
    pub asked_purpose: String,
    pub asked_third_items: Vec<(String, String)>,
    /// What was typed into a form that came back with problems.
    pub typed: Typed,
}

fn names(codes: &[String], content: &EntryContent) -> String {
    codes.iter().map(|c| item_label(Some(content), c)).collect::<Vec<_>>().join("、")
}

fn scope_text(scope: &Option<RowScope>, content: &EntryContent) -> String {
    match scope {
        None => "全部记录".to_owned(),
        Some(s) => format!("{} 以 {} 开头的记录", item_label(Some(content), &s.item), s.prefixes.join("、")),
    }
}

fn third_party_row(t: &ThirdParty, content: &EntryContent) -> ThirdPartyRow {
    ThirdPartyRow {
        name: t.name.clone(),
        credit_code: t.credit_code.clone(),
        items: names(&t.items, content),
        purpose: t.purpose.clone(),
    }
}

fn decision_text(d: &ChangeDecision, content: &EntryContent) -> String {
    if !d.approve {
        return format!("不同意：{}", d.reason);
    }
    let mut parts = Vec::new();
    if !d.items.is_empty() {
        let items: Vec<String> = d
            .items
            .iter()
            .map(|i| format!("{}（{}）", item_label(Some(content), &i.code), i.masking.label()))
            .collect();
        parts.push(format!("增加数据项 {}", items.join("、")));
    }
    if d.all_rows {
        parts.push("扩大至全部数据行".to_owned());
    } else if !d.add_prefixes.is_empty() {
        parts.push(format!("增加行范围 {}", d.add_prefixes.join("、")));
    }
    if d.purpose {
        parts.push("用于新的用途".to_owned());
    }
    if !d.third_party_items.is_empty() {
        parts.push(format!("向第三方提供 {}", names(&d.third_party_items, content)));
    }
    let reason = if d.reason.is_empty() { String::new() } else { format!("。意见：{}", d.reason) };
    format!("同意：{}{reason}", parts.join("；"))
}

fn case_row(c: &ChangeCase, content: &EntryContent) -> CaseRow {
    CaseRow {
        no: c.no,
        summary: c.request.summary(),
        filed_at: beijing(c.filed_at),
        status: c.outcome_label(),
        status_class: match c.outcome {
            Some("approved") => "tag-ok",
            Some("refused") => "tag-err",
            Some(_) => "",
            None => "tag-warn",
        },
        answer: match (&c.decision, c.stage) {
            (Some(d), None) => decision_text(d, content),
            _ => String::new(),
        },
    }
}

/// The section for `principal` on `grant` (`running`: the grant runs and no ending is under way).
pub fn section(p: &Principal, grant: &Grant, content: &EntryContent, running: bool, typed: Typed) -> ChangeSection {
    let cases = change_cases(&grant.events);
    let open = cases.last().filter(|c| c.stage.is_some());
    let stage = open.and_then(|c| c.stage);
    let requester_clerk = check(p, Action::PrepareSharing(grant.requester)).is_ok();
    let requester_head = check(p, Action::ApproveSharing(grant.requester)).is_ok();
    let provider_clerk = check(p, Action::PrepareSharing(grant.provider)).is_ok();
    let provider_head = check(p, Action::ApproveSharing(grant.provider)).is_ok();
    let requestable: Vec<(String, String)> = content
        .items
        .iter()
        .filter(|i| grant.item(&i.code).is_none_or(|g| g.masking == Masking::Drop))
        .map(|i| (i.code.clone(), i.name.clone()))
        .collect();
    let passable: Vec<(String, String)> = content
        .items
        .iter()
        .filter(|i| grant.returned_items().any(|g| g.code == i.code) || requestable.iter().any(|(c, _)| c == &i.code))
        .map(|i| (i.code.clone(), i.name.clone()))
        .collect();
    let default_masking = |code: &str| {
        content.items.iter().find(|i| i.code == code).map(Masking::default_for).unwrap_or(Masking::Keep).code()
    };
    ChangeSection {
        terms_version: grant.terms_version(),
        third_parties: grant.third_parties.iter().map(|t| third_party_row(t, content)).collect(),
        past: grant
            .past_terms
            .iter()
            .rev()
            .map(|v| PastTermsRow {
                version: v.version,
                period: format!("{} 至 {}", beijing(v.from), beijing(v.until)),
                items: v
                    .terms
                    .items
                    .iter()
                    .map(|i| format!("{}（{}）", item_label(Some(content), &i.code), i.masking.label()))
                    .collect::<Vec<_>>()
                    .join("、"),
                scope: scope_text(&v.terms.row_scope, content),
                purposes: std::iter::once(&v.terms.purpose)
                    .chain(&v.terms.further_purposes)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("；"),
                third_parties: v.terms.third_parties.iter().map(|t| t.name.clone()).collect::<Vec<_>>().join("、"),
            })
            .collect(),
        cases: cases.iter().rev().map(|c| case_row(c, content)).collect(),
        open: open.map(|c| OpenChange {
            no: c.no,
            stage: c.outcome_label(),
            items: names(&c.request.add_items, content),
            rows: if c.request.all_rows { "全部数据行".to_owned() } else { c.request.add_prefixes.join("、") },
            purpose: c.request.purpose.clone(),
            third_party: c.request.third_party.as_ref().map(|t| third_party_row(t, content)),
            reasons: c.request.reasons.clone(),
            legal_basis: c.request.legal_basis.clone(),
            draft: (c.stage == Some(ChangeStage::Drafted))
                .then(|| c.decision.as_ref().map(|d| decision_text(d, content)))
                .flatten(),
        }),
        can_file: running && open.is_none() && requester_clerk,
        can_send: running && stage == Some(ChangeStage::Filed) && requester_head,
        can_withdraw: open.is_some() && requester_head,
        can_draft: running && matches!(stage, Some(ChangeStage::Sent | ChangeStage::Drafted)) && provider_clerk,
        can_decide: running && stage == Some(ChangeStage::Drafted) && provider_head,
        scope: grant.row_scope.as_ref().map(|_| scope_text(&grant.row_scope, content)),
        decision_items: open
            .map(|c| {
                c.request
                    .add_items
                    .iter()
                    .map(|code| (code.clone(), item_label(Some(content), code), default_masking(code)))
                    .collect()
            })
            .unwrap_or_default(),
        maskings: Masking::ALL.iter().map(|m| (m.code(), m.label())).collect(),
        asked_prefixes: open.map(|c| c.request.add_prefixes.join(",")).unwrap_or_default(),
        asked_all_rows: open.is_some_and(|c| c.request.all_rows),
        asked_purpose: open.map(|c| c.request.purpose.clone()).unwrap_or_default(),
        asked_third_items: open
            .and_then(|c| c.request.third_party.as_ref())
            .map(|t| t.items.iter().map(|code| (code.clone(), item_label(Some(content), code))).collect())
            .unwrap_or_default(),
        requestable,
        passable,
        typed,
    }
}

/// The requester files a change request; the page comes back with every problem marked and what was typed.
pub async fn file(
    State(state): State<AppState>,
    ConsoleCaller(caller): ConsoleCaller,
    Path(id): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> PageResult {
    let id = grant_id(&id)?;
    let form = Typed(fields);
    let input = ChangeRequestInput {
        add_items: form.values("add_items"),
        add_prefixes: form.owned("add_prefixes"),
        all_rows: form.checked("all_rows"),
        purpose: form.owned("purpose"),
        third_party_name: form.owned("third_party_name"),
        third_party_credit_code: form.owned("third_party_credit_code"),
        third_party_items: form.values("third_party_items"),
        third_party_purpose: form.owned("third_party_purpose"),
        reasons: form.owned("reasons"),
        legal_basis: form.owned("legal_basis"),
    };
    match state.services.request_change(&caller.principal, id, &input).await {
        Ok(_) => Ok(Redirect::to(&format!("/console/grants/{id}?notice=change_filed")).into_response()),
        Err(err) => {
            let feedback = Feedback::from_error(&err);
            let status = feedback.status();
            detail_page(&state, &caller, id, feedback, status, form).await
        }
    }
}

/// A step on the open change request: send, withdraw, draft the decision, return it, decide.
pub async fn step(
    State(state): State<AppState>,
    ConsoleCaller(caller): ConsoleCaller,
    Path(id): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> PageResult {
    let id = grant_id(&id)?;
    let form = Typed(fields);
    let step = form.owned("step");
    let decision = ChangeDecisionInput {
        decision: form.owned("decision"),
        items: form
            .values("items")
            .into_iter()
            .map(|code| {
                let masking = form.owned(&format!("masking.{code}"));
                (code, masking)
            })
            .collect(),
        add_prefixes: form.values("add_prefixes").join(","),
        all_rows: form.checked("all_rows"),
        purpose: form.checked("purpose"),
        third_party_items: form.values("third_party_items"),
        reason: form.owned("reason"),
    };
    let input = ChangeStepInput { step: step.clone(), note: form.owned("note"), decision };
    match state.services.change_step(&caller.principal, id, &input).await {
        Ok(_) => Ok(Redirect::to(&format!("/console/grants/{id}?notice=change_{}", step.trim())).into_response()),
        Err(err) => {
            let feedback = Feedback::from_error(&err);
            let status = feedback.status();
            detail_page(&state, &caller, id, feedback, status, form).await
        }
    }
}
