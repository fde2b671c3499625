//! Steps on a running grant after sharing: suspension, rectification and termination (Art. 27 ¶2), the
//! provider's negotiated and filed ending (Art. 27 ¶3), and change requests (Art. 25 ¶1). Each step is one grant
//! event, stored with the duties it opens or closes, the notifications it sends and its audit event in one
//! transaction ([`Services::commit_grant_step`]); the store refuses any write that widens the terms other than
//! by an approved change ([`govshare_domain::change::check_terms_change`]).

use govshare_domain::ValidationError;
use govshare_domain::audit::AuditEvent;
use govshare_domain::authz::Action;
use govshare_domain::calendar::WorkingCalendar;
use govshare_domain::change::{
    ChangeDecision, ChangeDecisionInput, ChangeRequest, ChangeRequestInput, ChangeStage, MAX_CHANGE_TEXT,
};
use govshare_domain::duty::Duty;
use govshare_domain::error::{keep, keep_all, required_text};
use govshare_domain::grant::{Ending, Grant, GrantEvent, GrantId, GrantState, Misuse};
use govshare_domain::notification::Notification;
use govshare_domain::org::{OrgId, Organisation};
use govshare_domain::principal::Principal;
use govshare_domain::use_record::{UsePeriod, UseRecord, UseRecordInput};
use serde_json::{Value, json};

use crate::{GrantView, Result, ServiceError, Services};

/// A step on a running grant, as the API and the console send it.
#[derive(Debug, Clone, Default)]
pub struct GrantActionInput {
    /// `suspend`, `resume`, `terminate`, `rectify`, `propose_termination` or `record_filing`.
    pub action: String,
    pub reason: String,
    /// For a suspension for misuse (Art. 27 ¶2): `scope_exceeded`, `purpose_exceeded` or `third_party`.
    pub misuse: String,
    /// With `misuse`: the rectification deadline, YYYY-MM-DD.
    pub rectify_by: String,
    /// For `propose_termination` (Art. 27 ¶3): the negotiation with the requester.
    pub negotiation: String,
    /// For `propose_termination`: the first day the service no longer runs, YYYY-MM-DD.
    pub effective_on: String,
    /// For `declare_ended` (Art. 27 ¶1): `purpose_met`, `purpose_impossible` or `no_longer_necessary`.
    pub ended_because: String,
    /// For `require_disposal` and `confirm_disposal`: `delete`, `return`, `seal_archive` or `other`.
    pub disposal_method: String,
    /// For `require_disposal`: what exactly the provider requires.
    pub disposal_note: String,
    /// For `confirm_disposal`: the day it was done (YYYY-MM-DD), the person responsible and the evidence.
    pub done_on: String,
    pub responsible: String,
    pub evidence: String,
    /// For `suspend` (Art. 27 ¶2): suspend, in the same step, every other active grant the provider gave the
    /// same requester.
    pub all_of_requester: bool,
    /// For `propose_narrowing` (Art. 27 ¶3): item code → `remove` or a stricter masking.
    pub narrow_items: std::collections::BTreeMap<String, String>,
}

/// A step on a grant's open change request.
#[derive(Debug, Clone, Default)]
pub struct ChangeStepInput {
    /// `send` or `withdraw` (the requester's head), `draft_decision` (the provider's clerk or head),
    /// `return_decision` or `decide` (the provider's head).
    pub step: String,
    /// The head's opinion (`send`, `decide`; optional), or why (`withdraw`, `return_decision`; required).
    pub note: String,
    /// For `draft_decision`.
    pub decision: ChangeDecisionInput,
}

/// A grant's records of use with its periods (see [`Services::use_records`]).
#[derive(Debug, Clone)]
pub struct UseRecordsView {
    pub months: u32,
    pub periods: Vec<UsePeriodView>,
    /// Oldest first.
    pub records: Vec<UseRecord>,
}

#[derive(Debug, Clone)]
pub struct UsePeriodView {
    pub period: UsePeriod,
    /// The last day its record is due.
    pub due_date: Option<chrono::NaiveDate>,
    pub recorded: bool,
}

/// What a step does besides appending its event: who hears of it and how it reads.
struct StepOutcome {
    /// The grant's new state.
    state: GrantState,
    /// How the step reads in a notification title: 「共享授权{label}：{entry}」.
    label: &'static str,
    /// The notification's text after the grant's number and label.
    detail: String,
    /// Who is told: organisations other than the actor's.
    notify: Vec<OrgId>,
    audit: Value,
}

const ACTIONS: &str = "suspend、resume、terminate、rectify、propose_termination、propose_narrowing、record_filing、declare_ended、require_disposal、confirm_disposal、acknowledge_disposal、return_disposal、acknowledge_aggregation";

impl Services {
    /// One step on a running grant (see [`GrantActionInput::action`]): a suspension (possibly for misuse, with a
    /// rectification deadline), its lifting, a termination, the requester's report of its rectification, the
    /// provider's proposed ending (negotiated, Art. 27 ¶3) and the authority's recording of its filing.
    pub async fn grant_action(
        &self,
        principal: &Principal,
        id: GrantId,
        input: &GrantActionInput,
    ) -> Result<GrantView> {
        let mut grant = self.load_grant(id).await?;
        let provider = self.store.get_org(grant.provider).await?;
        let action = input.action.trim();
        let expected = grant.events.len();
        let mut event = self.grant_event(principal, action);
        let outcome = match action {
            "suspend" | "resume" | "terminate" | "rectify" => {
                self.control_step(principal, &grant, &provider, input, &mut event)?
            }
            "propose_termination" | "propose_narrowing" | "record_filing" => {
                self.ending_step(principal, &mut grant, &provider, input, &mut event)?
            }
            "declare_ended" | "require_disposal" | "confirm_disposal" | "acknowledge_disposal" | "return_disposal" => {
                self.disposal_step(principal, &grant, input, &mut event)?
            }
            "acknowledge_aggregation" => {
                self.authorize(principal, Action::AcknowledgeAggregation(provider.region))?;
                let reason = input.reason.trim();
                let mut problems = Vec::new();
                check_reason_length(reason, &mut problems);
                if !problems.is_empty() {
                    return Err(problems.into());
                }
                let Some(w) = grant.aggregation.as_mut().filter(|w| w.acknowledged.is_none()) else {
                    return Err(ServiceError::Conflict("该授权没有待确认的数据汇聚风险".into()));
                };
                w.acknowledged = Some(govshare_domain::aggregation::Acknowledgement {
                    at: event.at,
                    actor: principal.audit_name(),
                    note: reason.to_owned(),
                });
                event.reason = reason.to_owned();
                StepOutcome {
                    state: grant.state,
                    label: "汇聚风险已确认",
                    detail: format!("主管部门已确认数据汇聚风险，授权可以使用。{reason}"),
                    notify: vec![grant.requester, grant.provider],
                    audit: json!({ "reason": reason, "identifier": w.identifier }),
                }
            }
            other => {
                let message = format!("「{other}」不是有效操作，可选：{ACTIONS}");
                return Err(ValidationError::new("action", "unknown_value", message).into());
            }
        };
        let also = if action == "suspend" && input.all_of_requester {
            let others = self.store.list_grants(Some(grant.provider)).await?;
            let now = self.now();
            others
                .into_iter()
                .filter(|g| g.id != grant.id && g.requester == grant.requester)
                .filter(|g| g.state == GrantState::Active && g.is_running(now))
                .map(|mut g| {
                    g.settle(now);
                    g
                })
                .collect()
        } else {
            vec![]
        };
        self.commit_grant_steps(principal, grant, expected, event, &provider, outcome, also).await
    }

    fn grant_event(&self, principal: &Principal, action: &str) -> GrantEvent {
        GrantEvent {
            at: self.now(),
            actor: principal.audit_name(),
            action: action.to_owned(),
            org: principal.org_id(),
            ..GrantEvent::default()
        }
    }

    /// `suspend`, `resume`, `terminate` (the provider's head or its same-level authority) and `rectify` (the
    /// requester's head reports the rectification of a misuse it was suspended for).
    fn control_step(
        &self,
        principal: &Principal,
        grant: &Grant,
        provider: &Organisation,
        input: &GrantActionInput,
        event: &mut GrantEvent,
    ) -> Result<StepOutcome> {
        let action = event.action.as_str();
        let now = self.now();
        if action == "rectify" {
            self.authorize(principal, Action::ApproveSharing(grant.requester))?;
        } else {
            self.authorize(
                principal,
                Action::ControlGrant { provider: grant.provider, provider_region: provider.region },
            )?;
        }
        // Art. 27 ¶3: the provider does not end a running service on its own, except for misuse (¶2).
        if action == "terminate" && principal.org_id() == Some(grant.provider) && !grant.provider_may_terminate(now) {
            return Err(ServiceError::Conflict(
                "依据第二十七条，提供部门不得擅自终止正在提供的共享服务：应当与需求部门协商，并报同级主管部门备案（「协商终止并备案」）；因违规使用暂停的，可在审查整改情况后终止".into(),
            ));
        }
        let state = match (action, grant.state) {
            ("suspend", GrantState::Active) => GrantState::Suspended,
            ("resume", GrantState::Suspended) => GrantState::Active,
            ("terminate", GrantState::Active | GrantState::Suspended) => GrantState::Terminated,
            ("rectify", GrantState::Suspended) => match grant.misuse_suspension() {
                Some((_, _, false)) => GrantState::Suspended,
                Some((_, _, true)) => return Err(ServiceError::Conflict("已报告整改情况，请等待暂停方审查".into())),
                None => return Err(ServiceError::Conflict("该授权不是因违规使用而暂停，无需报告整改".into())),
            },
            (_, state) => {
                return Err(ServiceError::Conflict(format!("授权当前状态为「{state:?}」，不能执行该操作")));
            }
        };
        let mut problems = Vec::new();
        let reason = input.reason.trim();
        if (action == "rectify" || state != GrantState::Active) && reason.is_empty() {
            let message = if action == "rectify" {
                "请说明整改情况"
            } else {
                "暂停或终止共享授权应当说明理由"
            };
            problems.push(ValidationError::new("reason", "required", message));
        }
        check_reason_length(reason, &mut problems);
        let misuse = match action {
            "suspend" => {
                keep_all(&mut problems, Misuse::parse(&input.misuse, &input.rectify_by, self.today())).flatten()
            }
            _ => None,
        };
        if !problems.is_empty() {
            return Err(problems.into());
        }
        let label = match (action, state) {
            ("rectify", _) => "已报告整改情况",
            (_, GrantState::Suspended) => "已暂停",
            (_, GrantState::Active) => "已恢复",
            (_, GrantState::Terminated) => "已终止",
        };
        let detail = match &misuse {
            Some(m) => format!("{reason}（{}，请于 {} 前整改并报告）", m.grounds.label(), m.rectify_by),
            None => reason.to_owned(),
        };
        event.reason = reason.to_owned();
        event.misuse = misuse.clone();
        Ok(StepOutcome {
            state,
            label,
            detail,
            notify: vec![grant.requester, grant.provider],
            audit: json!({ "reason": reason, "misuse": misuse }),
        })
    }

    /// `propose_termination` (the provider's head, after negotiating with the requester) and `record_filing`
    /// (the provider's same-level authority; the ending then takes effect on its date, never before the filing).
    fn ending_step(
        &self,
        principal: &Principal,
        grant: &mut Grant,
        provider: &Organisation,
        input: &GrantActionInput,
        event: &mut GrantEvent,
    ) -> Result<StepOutcome> {
        let action = event.action.clone();
        let (now, today) = (self.now(), self.today());
        if action == "record_filing" {
            self.authorize(principal, Action::RecordServiceFiling(provider.region))?;
        } else {
            self.authorize(
                principal,
                Action::ControlGrant { provider: grant.provider, provider_region: provider.region },
            )?;
            if principal.org_id() != Some(grant.provider) {
                return Err(ServiceError::Forbidden(
                    "终止共享服务由提供部门与需求部门协商后报同级主管部门备案；主管部门可直接终止".into(),
                ));
            }
        }
        if !grant.is_running(now) || grant.state == GrantState::Terminated {
            let status = grant.status(now).label();
            return Err(ServiceError::Conflict(format!("授权当前为「{status}」，不能办理终止备案")));
        }
        if action != "record_filing" && !grant.may_propose_ending(now) {
            return Err(ServiceError::Conflict("已提出终止或变更并等待备案，或已备案".into()));
        }
        if action == "record_filing" && grant.pending_ending().is_none() && grant.pending_narrowing().is_none() {
            return Err(ServiceError::Conflict("没有待备案的共享服务终止或变更".into()));
        }
        let mut problems = Vec::new();
        let reason = input.reason.trim();
        if action != "record_filing" && reason.is_empty() {
            let message = if action == "propose_termination" {
                "暂停或终止共享授权应当说明理由"
            } else {
                "变更共享服务应当说明理由"
            };
            problems.push(ValidationError::new("reason", "required", message));
        }
        check_reason_length(reason, &mut problems);
        let ending = match action.as_str() {
            "propose_termination" => keep_all(
                &mut problems,
                Ending::parse(&input.negotiation, &input.effective_on, today, grant.valid_until),
            ),
            _ => None,
        };
        let narrowing = match action.as_str() {
            "propose_narrowing" => keep_all(
                &mut problems,
                govshare_domain::change::Narrowing::parse(
                    &input.narrow_items,
                    &input.negotiation,
                    &input.effective_on,
                    grant,
                    today,
                ),
            ),
            _ => None,
        };
        if !problems.is_empty() {
            return Err(problems.into());
        }
        let (label, detail) = match (&ending, &narrowing) {
            (Some(e), _) => (
                "拟协商终止，已报主管部门备案",
                format!("{reason}（拟自 {} 起终止，待主管部门备案后生效）", e.effective_on),
            ),
            (_, Some(n)) => (
                "拟协商变更，已报主管部门备案",
                format!("{reason}（拟自 {} 起收窄授权数据项，待主管部门备案后生效）", n.effective_on),
            ),
            (None, None) => {
                // Never before the filing: a date already passed takes effect today.
                if let Some(n) = grant.pending_narrowing().cloned() {
                    let on = n.effective_on.max(today);
                    grant.scheduled_narrowing = Some(govshare_domain::change::Narrowing { effective_on: on, ..n });
                    grant.settle(now);
                    ("变更已备案", format!("自 {on} 起按收窄后的授权条款提供。{reason}"))
                } else {
                    let on = grant.pending_ending().map(|e| e.effective_on.max(today));
                    grant.ends_on = on;
                    let on = on.map(|d| d.to_string()).unwrap_or_default();
                    ("终止已备案", format!("自 {on} 起终止。{reason}"))
                }
            }
        };
        event.reason = reason.to_owned();
        event.ending = ending.clone();
        event.narrowing = narrowing.clone();
        Ok(StepOutcome {
            state: grant.state,
            label,
            detail,
            notify: vec![grant.requester, grant.provider],
            audit: json!({ "reason": reason, "ending": ending, "narrowing": narrowing, "ends_on": grant.ends_on,
                           "scheduled": grant.scheduled_narrowing }),
        })
    }

    /// The end of use and the disposal of the data (Art. 27 ¶1): the requester's head declares the purpose met,
    /// impossible or no longer necessary (`declare_ended`: the grant is terminated); the provider's staff state
    /// the disposal required (`require_disposal`, at any time); once the use has ended the requester's staff
    /// confirm the disposal (`confirm_disposal`: method, date, person responsible, evidence); the provider's staff
    /// acknowledge it or send it back with a reason (`acknowledge_disposal`, `return_disposal`).
    fn disposal_step(
        &self,
        principal: &Principal,
        grant: &Grant,
        input: &GrantActionInput,
        event: &mut GrantEvent,
    ) -> Result<StepOutcome> {
        use govshare_domain::disposal::{DisposalConfirmation, DisposalRequirement, EndedBecause};
        let action = event.action.clone();
        let (now, today) = (self.now(), self.today());
        let who = match action.as_str() {
            "declare_ended" => Action::ApproveSharing(grant.requester),
            "confirm_disposal" => Action::PrepareSharing(grant.requester),
            _ => Action::PrepareSharing(grant.provider),
        };
        self.authorize(principal, who)?;
        let disposal = grant.disposal();
        let running = grant.is_running(now);
        let reason = input.reason.trim();
        let mut problems = Vec::new();
        check_reason_length(reason, &mut problems);
        let mut state = grant.state;
        let (label, detail, notify) = match action.as_str() {
            "declare_ended" => {
                if !running {
                    return Err(ServiceError::Conflict(format!(
                        "授权当前为「{}」，使用已结束",
                        grant.status(now).label()
                    )));
                }
                let because = keep(&mut problems, EndedBecause::parse("ended_because", &input.ended_because));
                if reason.is_empty() {
                    problems.push(ValidationError::new("reason", "required", "请说明结束使用的情况"));
                }
                event.ended_because = because;
                state = GrantState::Terminated;
                let what = because.map(|b| b.label()).unwrap_or_default();
                let detail =
                    format!("需求部门声明{what}，结束使用，并将按提供部门的要求处置数据（第二十七条）。{reason}");
                ("已由需求部门结束使用", detail, vec![grant.provider])
            }
            "require_disposal" => {
                if disposal.confirmation.is_some() && disposal.acknowledged {
                    return Err(ServiceError::Conflict("数据处置已确认完毕，无需再提出要求".into()));
                }
                let required =
                    keep_all(&mut problems, DisposalRequirement::parse(&input.disposal_method, &input.disposal_note));
                let detail = required
                    .as_ref()
                    .map(|r| format!("提供部门要求以「{}」方式处置：{}", r.method.label(), r.note))
                    .unwrap_or_default();
                event.disposal_requirement = required;
                ("提出数据处置要求", detail, vec![grant.requester])
            }
            "confirm_disposal" => {
                if running {
                    return Err(ServiceError::Conflict(
                        "授权仍在使用中：到期、终止或声明结束使用后再确认数据处置".into(),
                    ));
                }
                if disposal.confirmation.is_some() {
                    return Err(ServiceError::Conflict("已确认数据处置，等待提供部门确认".into()));
                }
                let confirmed = keep_all(
                    &mut problems,
                    DisposalConfirmation::parse(
                        &input.disposal_method,
                        &input.done_on,
                        &input.responsible,
                        &input.evidence,
                        grant,
                        today,
                    ),
                );
                let detail = confirmed
                    .as_ref()
                    .map(|c| {
                        format!(
                            "需求部门已于 {} 以「{}」方式处置数据，责任人 {}。",
                            c.done_on,
                            c.method.label(),
                            c.responsible
                        )
                    })
                    .unwrap_or_default();
                event.disposal_confirmation = confirmed;
                ("数据已处置，待确认", detail, vec![grant.provider])
            }
            _ => {
                if disposal.confirmation.is_none() || disposal.acknowledged {
                    return Err(ServiceError::Conflict("没有待确认的数据处置".into()));
                }
                if action == "return_disposal" && reason.is_empty() {
                    problems.push(ValidationError::new("reason", "required", "退回数据处置确认应当说明理由"));
                }
                if action == "acknowledge_disposal" {
                    ("数据处置已确认", format!("提供部门已确认数据处置。{reason}"), vec![grant.requester])
                } else {
                    ("数据处置被退回", format!("提供部门退回数据处置确认：{reason}"), vec![grant.requester])
                }
            }
        };
        if !problems.is_empty() {
            return Err(problems.into());
        }
        event.reason = reason.to_owned();
        let audit = json!({ "reason": reason, "ended_because": event.ended_because,
                            "requirement": event.disposal_requirement, "confirmation": event.disposal_confirmation });
        Ok(StepOutcome { state, label, detail, notify, audit })
    }

    /// The requester asks to widen a running grant (Art. 25 ¶1): more items or rows, a further purpose, or
    /// passing data to a named third party, with reasons and legal basis. Its clerk or head files it; its head
    /// then sends it ([`Services::change_step`]). One change request is open at a time.
    pub async fn request_change(
        &self,
        principal: &Principal,
        id: GrantId,
        input: &ChangeRequestInput,
    ) -> Result<GrantView> {
        let grant = self.load_grant(id).await?;
        self.authorize(principal, Action::PrepareSharing(grant.requester))?;
        let provider = self.store.get_org(grant.provider).await?;
        self.require_open_to_change(&grant)?;
        if let Some(open) = grant.open_change() {
            return Err(ServiceError::Conflict(format!(
                "第 {} 号变更申请尚在办理（{}），办结或撤回后才能提出新的变更申请",
                open.no,
                open.outcome_label()
            )));
        }
        let stored = self.store.get_entry(grant.entry).await?;
        let content = stored
            .published()
            .map(|v| v.content.clone())
            .ok_or_else(|| ServiceError::Conflict("目录已不再发布，不能申请变更".into()))?;
        let request = ChangeRequest::parse(input, &grant, &content)?;
        let expected = grant.events.len();
        let mut event = self.grant_event(principal, "request_change");
        let detail = format!("需求部门提出变更申请：{}，待其负责人审核发送。", request.summary());
        let audit = json!({ "request": request });
        event.change_request = Some(request);
        let outcome =
            StepOutcome { state: grant.state, label: "收到变更申请草稿", detail, notify: vec![], audit };
        self.commit_grant_step(principal, grant, expected, event, &provider, outcome).await
    }

    /// A step on the open change request (see [`ChangeStepInput::step`]). An approving decision makes the
    /// grant's next terms version at once.
    pub async fn change_step(&self, principal: &Principal, id: GrantId, input: &ChangeStepInput) -> Result<GrantView> {
        let mut grant = self.load_grant(id).await?;
        let provider = self.store.get_org(grant.provider).await?;
        let step = input.step.trim();
        let (who, stages): (Action, &[ChangeStage]) = match step {
            "send" => (Action::ApproveSharing(grant.requester), &[ChangeStage::Filed]),
            "withdraw" => (
                Action::ApproveSharing(grant.requester),
                &[ChangeStage::Filed, ChangeStage::Sent, ChangeStage::Drafted],
            ),
            "draft_decision" => (Action::PrepareSharing(grant.provider), &[ChangeStage::Sent, ChangeStage::Drafted]),
            "return_decision" | "decide" => (Action::ApproveSharing(grant.provider), &[ChangeStage::Drafted]),
            other => {
                let message =
                    format!("「{other}」不是有效步骤，可选：send、withdraw、draft_decision、return_decision、decide");
                return Err(ValidationError::new("step", "unknown_value", message).into());
            }
        };
        self.authorize(principal, who)?;
        let open = grant.open_change().ok_or_else(|| ServiceError::Conflict("没有办理中的变更申请".into()))?;
        let stage = open.stage.expect("an open change has a stage");
        if !stages.contains(&stage) {
            return Err(ServiceError::Conflict(format!(
                "第 {} 号变更申请当前{}，不能执行该步骤",
                open.no,
                stage.label()
            )));
        }
        if step != "withdraw" {
            self.require_open_to_change(&grant)?;
        }
        let mut problems = Vec::new();
        let note = input.note.trim();
        let note = match step {
            "withdraw" | "return_decision" => {
                let label = if step == "withdraw" { "撤回理由" } else { "退回理由" };
                keep(&mut problems, required_text("note", label, note, MAX_CHANGE_TEXT)).unwrap_or_default()
            }
            _ if note.is_empty() => String::new(),
            _ => keep(&mut problems, required_text("note", "审核意见", note, MAX_CHANGE_TEXT)).unwrap_or_default(),
        };
        let drafted = match step {
            "draft_decision" => keep_all(&mut problems, ChangeDecision::parse(&input.decision, &open.request)),
            _ => None,
        };
        if !problems.is_empty() {
            return Err(problems.into());
        }
        let expected = grant.events.len();
        let action = match step {
            "send" => "send_change",
            "withdraw" => "withdraw_change",
            "draft_decision" => "draft_change_decision",
            "return_decision" => "return_change_decision",
            _ => "decide_change",
        };
        let mut event = self.grant_event(principal, action);
        event.reason = note.clone();
        let no = open.no;
        let summary = open.request.summary();
        let (label, detail, notify) = match step {
            "send" => (
                "收到变更申请",
                format!(
                    "需求部门申请：{summary}。请在 {} 个工作日内答复（第二十五条）。",
                    govshare_domain::change::CHANGE_REPLY_DAYS
                ),
                vec![grant.provider],
            ),
            "withdraw" => {
                let notify = if stage == ChangeStage::Filed { vec![] } else { vec![grant.provider] };
                ("变更申请已撤回", format!("第 {no} 号变更申请已撤回：{note}"), notify)
            }
            "draft_decision" => ("变更答复待审核", format!("第 {no} 号变更申请的答复已拟定，待负责人审核。"), vec![]),
            "return_decision" => ("变更答复被退回", format!("第 {no} 号变更申请的答复被退回：{note}"), vec![]),
            _ => {
                let decision = open.decision.clone().expect("a drafted change has a decision");
                let text = if decision.approve {
                    let entry = self.store.get_entry(grant.entry).await?;
                    let content = entry.published().map(|v| &v.content);
                    grant.apply_change(&open.request, &decision, event.at, content);
                    let content = content.cloned();
                    let warning = match &content {
                        Some(c) => self.assess_aggregation(&grant, c).await?,
                        None => None,
                    };
                    let pending = warning.is_some();
                    if let Some(mut w) = warning {
                        w.opened_by = expected;
                        grant.aggregation = Some(w);
                    }
                    let wait = if pending {
                        "存在数据汇聚关联风险，须经主管部门确认后方可使用（第二十五条）。"
                    } else {
                        ""
                    };
                    format!(
                        "提供部门同意第 {no} 号变更申请，授权条款已更新为第 {} 版。{wait}{note}",
                        grant.terms_version()
                    )
                } else {
                    format!("提供部门不同意第 {no} 号变更申请：{}", decision.reason)
                };
                event.change_decision = Some(decision.clone());
                let label = if decision.approve { "变更已同意" } else { "变更未获同意" };
                let mut notify = vec![grant.requester];
                if grant.aggregation.as_ref().is_some_and(|w| w.acknowledged.is_none()) {
                    notify.extend(self.authority_of(provider.region).await?.map(|a| a.id));
                }
                (label, text, notify)
            }
        };
        if let Some(d) = &drafted {
            event.change_decision = Some(d.clone());
        }
        let audit = json!({ "change": no, "note": note, "decision": event.change_decision,
                            "terms_version": grant.terms_version() });
        let outcome = StepOutcome { state: grant.state, label, detail, notify, audit };
        self.commit_grant_step(principal, grant, expected, event, &provider, outcome).await
    }

    /// The aggregation risk `grant` (being made or widened, on `content`) would add to what its requester holds
    /// across its other running grants (Art. 25 ¶2; the rule is `govshare_domain::aggregation`'s).
    pub(crate) async fn assess_aggregation(
        &self,
        grant: &Grant,
        content: &govshare_domain::catalog::EntryContent,
    ) -> Result<Option<govshare_domain::aggregation::AggregationWarning>> {
        use govshare_domain::aggregation::{AggregationRule, Holding, assess};
        let now = self.now();
        let others: Vec<Grant> = self
            .store
            .list_grants(Some(grant.requester))
            .await?
            .into_iter()
            .filter(|g| g.requester == grant.requester && g.id != grant.id && g.is_running(now))
            .map(|mut g| {
                g.settle(now);
                g
            })
            .collect();
        let mut contents = std::collections::HashMap::new();
        for g in &others {
            if let std::collections::hash_map::Entry::Vacant(slot) = contents.entry(g.entry)
                && let Some(v) = self.store.get_entry(g.entry).await?.published()
            {
                slot.insert(v.content.clone());
            }
        }
        let mut holdings = vec![Holding { grant: None, entry: grant.entry, content, items: &grant.items }];
        for g in &others {
            if let Some(c) = contents.get(&g.entry) {
                holdings.push(Holding { grant: Some(g.id), entry: g.entry, content: c, items: &g.items });
            }
        }
        let settings = self.settings();
        let rule = AggregationRule {
            threshold: settings.aggregation_threshold,
            sensitive_level: settings.aggregation_sensitive_level,
            scheme: settings.grade_scheme.clone(),
        };
        Ok(assess(&holdings, &rule, now))
    }

    /// Every duty of a grant: those of its steps, of its records of use and of its disposal. `authority` is the
    /// provider's same-level authority; the caller loads the calendar once for all the grants of a step.
    pub(crate) async fn all_grant_duties(
        &self,
        grant: &Grant,
        title: &str,
        calendar: &WorkingCalendar,
        authority: Option<OrgId>,
    ) -> Result<Vec<Duty>> {
        let mut duties = govshare_domain::duty::grant_duties(grant, title, calendar, authority);
        let records = self.store.use_records(grant.id).await?;
        let months = self.settings().use_record_months;
        duties.extend(govshare_domain::duty::use_record_duties(grant, title, calendar, months, &records));
        duties.extend(govshare_domain::duty::disposal_duties(grant, title, calendar));
        Ok(duties)
    }

    /// The requester's clerk or head records how it used the grant's data in a period that has ended (Art. 29
    /// ¶2): scenario, process, results, storage and destruction. Appended, never changed; a further record for
    /// the same period amends it. The provider is told.
    pub async fn record_use(&self, principal: &Principal, id: GrantId, input: &UseRecordInput) -> Result<UseRecord> {
        let grant = self.load_grant(id).await?;
        self.authorize(principal, Action::PrepareSharing(grant.requester))?;
        let months = self.settings().use_record_months;
        let (now, today) = (self.now(), self.today());
        let record =
            UseRecord::parse(input, &grant, months, today, uuid::Uuid::now_v7(), &principal.audit_name(), now)?;
        let entry_name = self.entry_name(grant.entry).await?;
        let calendar = self.calendar().await?;
        let mut records = self.store.use_records(id).await?;
        records.push(record.clone());
        let duties = govshare_domain::duty::use_record_duties(&grant, &entry_name, &calendar, months, &records);
        let kind = if record.last { "终期" } else { "定期" };
        let notes = vec![Notification::new(
            grant.provider,
            now,
            "grant.use_record",
            format!("需求部门已记录数据使用情况：{entry_name}"),
            format!(
                "共享授权 {} 的{kind}使用情况记录（{} 至 {}）已提交，可在授权页面查阅（第二十九条）。",
                grant.number, record.period_start, record.period_end
            ),
            format!("/console/grants/{}#use-records", grant.id),
        )];
        let audit = AuditEvent::new(
            principal.audit_name(),
            principal.org_id(),
            "grant.use_record",
            "grant",
            grant.id.to_string(),
            json!({ "record": record.id, "period_start": record.period_start, "period_end": record.period_end }),
        );
        self.store.add_use_record(&record, &duties, &notes, &audit).await?;
        Ok(record)
    }

    /// A grant's records of use and its periods, for its two parties and their same-level authorities.
    pub async fn use_records(&self, principal: &Principal, id: GrantId) -> Result<UseRecordsView> {
        let grant = self.load_grant(id).await?;
        let (requester, provider) = self.parties(&grant).await?;
        self.authorize(principal, Self::delivery_action(&grant, &requester, &provider))?;
        let months = self.settings().use_record_months;
        let records = self.store.use_records(id).await?;
        let calendar = self.calendar().await?;
        // The periods' due dates and whether each was recorded are their duties' (one derivation for both).
        let (actual, _) = govshare_domain::use_record::use_periods(&grant, months);
        let duties = govshare_domain::duty::use_record_duties(&grant, "", &calendar, months, &records);
        let periods = actual
            .into_iter()
            .zip(&duties)
            .map(|(period, duty)| UsePeriodView { period, due_date: duty.due_date(), recorded: duty.met })
            .collect();
        Ok(UseRecordsView { months, periods, records })
    }

    /// Change requests are made to a running grant, not one that is ending.
    fn require_open_to_change(&self, grant: &Grant) -> Result<()> {
        let now = self.now();
        let ending = grant.ends_on.is_some() || grant.pending_ending().is_some();
        let narrowing = grant.pending_narrowing().is_some() || grant.scheduled_narrowing.is_some();
        if !grant.is_running(now) || ending || narrowing {
            return Err(ServiceError::Conflict(format!(
                "授权当前为「{}」{}，不能办理变更申请",
                grant.status(now).label(),
                if ending {
                    "且正在终止"
                } else if narrowing {
                    "且提供部门的协商变更尚待备案或生效"
                } else {
                    ""
                }
            )));
        }
        Ok(())
    }

    /// Stores a step: the event appended (compare-and-set on the event count), the grant's duties re-derived,
    /// the other organisations told, one audit event; then drops the cached grant so access follows at once.
    async fn commit_grant_step(
        &self,
        principal: &Principal,
        grant: Grant,
        expected: usize,
        event: GrantEvent,
        provider: &Organisation,
        outcome: StepOutcome,
    ) -> Result<GrantView> {
        self.commit_grant_steps(principal, grant, expected, event, provider, outcome, vec![]).await
    }

    /// As [`Services::commit_grant_step`], the same step also taken on `also` (grants of the same provider), all
    /// in one transaction.
    #[allow(clippy::too_many_arguments)]
    async fn commit_grant_steps(
        &self,
        principal: &Principal,
        mut grant: Grant,
        expected: usize,
        event: GrantEvent,
        provider: &Organisation,
        mut outcome: StepOutcome,
        mut also: Vec<Grant>,
    ) -> Result<GrantView> {
        let action = event.action.clone();
        grant.state = outcome.state;
        let calendar = self.calendar().await?;
        let authority = self.authority_of(provider.region).await?.map(|a| a.id);
        let mut duties = Vec::new();
        let mut expected_also = Vec::new();
        for other in &mut also {
            expected_also.push(other.events.len());
            other.state = outcome.state;
            other.events.push(event.clone());
            let title = self.entry_name(other.entry).await?;
            duties.extend(self.all_grant_duties(other, &title, &calendar, authority).await?);
        }
        grant.events.push(event);
        if !also.is_empty() {
            let numbers: Vec<&str> = also.iter().map(|g| g.number.as_str()).collect();
            outcome.detail = format!(
                "{}同时暂停了该需求部门在提供部门的其他 {} 项授权：{}。",
                outcome.detail,
                also.len(),
                numbers.join("、")
            );
            outcome.audit["also"] = json!(also.iter().map(|g| g.id).collect::<Vec<_>>());
        }
        let entry_name = self.entry_name(grant.entry).await?;
        let label = outcome.label;
        let notes: Vec<Notification> = outcome
            .notify
            .iter()
            .copied()
            .filter(|o| Some(*o) != principal.org_id())
            .map(|org| {
                Notification::new(
                    org,
                    self.now(),
                    "grant.state",
                    format!("共享授权{label}：{entry_name}"),
                    format!("「{entry_name}」的共享授权 {} {label}。{}", grant.number, outcome.detail),
                    format!("/console/grants/{}", grant.id),
                )
            })
            .collect();
        let audit = AuditEvent::new(
            principal.audit_name(),
            principal.org_id(),
            &format!("grant.{action}"),
            "grant",
            grant.id.to_string(),
            outcome.audit,
        );
        duties.extend(self.all_grant_duties(&grant, &entry_name, &calendar, authority).await?);
        let mut writes = vec![(&grant, expected)];
        writes.extend(also.iter().zip(expected_also.iter().copied()));
        self.store.save_grants(&writes, &duties, &notes, &audit).await?;
        self.forget_grant(grant.id);
        for other in &also {
            self.forget_grant(other.id);
        }
        self.load_grant_view(grant).await
    }
}

fn check_reason_length(reason: &str, problems: &mut Vec<ValidationError>) {
    if reason.chars().count() > 500 {
        problems.push(ValidationError::new("reason", "too_long", "理由最多 500 个字符"));
    }
}
