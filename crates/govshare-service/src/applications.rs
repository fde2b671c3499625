//! Sharing applications (R-APP-1..5; Art. 20–22): applying, replying, supplements, extensions, delivery, and the
//! deadline job that reminds before a deadline and marks it overdue after.

use std::collections::HashMap;

use govshare_domain::ValidationError;
use govshare_domain::application::{
    Application, ApplicationEvent, ApplicationId, ApplicationInput, ApplicationRequest, ApplicationStatus, Party,
    Reply, ReplyInput, Step,
};
use govshare_domain::audit::AuditEvent;
use govshare_domain::authz::{self, Action};
use govshare_domain::calendar::{WorkingCalendar, beijing};
use govshare_domain::catalog::{CatalogEntry, EntryId};
use govshare_domain::error::required_text;
use govshare_domain::notification::{DeadlineAlert, Notification};
use govshare_domain::org::{OrgId, OrgKind, Organisation};
use govshare_domain::principal::Principal;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::{Result, ServiceError, Services};

/// An application with both parties, where it stands now, its deadline alerts, and what the caller may do next.
#[derive(Debug, Clone, Serialize)]
pub struct ApplicationView {
    pub application: Application,
    pub requester: Organisation,
    pub provider: Organisation,
    pub status: ApplicationStatus,
    /// Reminders sent and overdue marks made by the deadline job.
    pub alerts: Vec<DeadlineAlert>,
    /// Codes of the steps the caller may take now (see [`Step::code`]).
    pub allowed_steps: Vec<&'static str>,
}

/// A step as requested through the API or the console, before it is checked.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum StepInput {
    Edit(ApplicationInput),
    Submit,
    Return {
        #[serde(default)]
        note: String,
    },
    Send {
        #[serde(default)]
        note: String,
    },
    Withdraw {
        #[serde(default)]
        note: String,
    },
    DraftReply(ReplyInput),
    ReturnReply {
        #[serde(default)]
        note: String,
    },
    ApproveReply {
        #[serde(default)]
        note: String,
    },
    Supplement {
        #[serde(flatten)]
        request: ApplicationInput,
        #[serde(default)]
        note: String,
    },
    RequestExtension {
        #[serde(default)]
        days: u32,
        #[serde(default)]
        reason: String,
    },
    DecideExtension {
        granted: bool,
        #[serde(default)]
        note: String,
    },
    RecordDelivery {
        #[serde(default)]
        note: String,
    },
}

/// Which applications to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ApplicationBox {
    /// The acting department's own applications (我的申请).
    #[default]
    Mine,
    /// Applications to the acting department, open ones first by urgency (待办).
    Inbox,
    /// Extension requests awaiting the acting authority (延期审批).
    Extensions,
    /// Every application to or from the acting authority's region, overdue first (监督).
    Region,
}

impl ApplicationBox {
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        match input.trim() {
            "" | "mine" => Ok(ApplicationBox::Mine),
            "inbox" => Ok(ApplicationBox::Inbox),
            "extensions" => Ok(ApplicationBox::Extensions),
            "region" => Ok(ApplicationBox::Region),
            other => Err(ValidationError::new(
                "box",
                "unknown_value",
                format!(
                    "「{other}」不是有效的列表，可选：mine（本单位提出的）、inbox（收到的）、extensions（待审批的延期）、region（本地区全部）"
                ),
            )),
        }
    }
}

const LINK: &str = "/console/applications";

fn link(id: ApplicationId) -> String {
    format!("{LINK}/{id}")
}

fn note_text(field: &'static str, label: &str, value: &str, required: bool) -> Result<String> {
    if !required && value.trim().is_empty() {
        return Ok(String::new());
    }
    Ok(required_text(field, label, value, 500)?)
}

impl Services {
    fn sharing_action(&self, party: Party, app: &Application, provider: &Organisation) -> Action {
        match party {
            Party::RequesterClerk => Action::PrepareSharing(app.requester),
            Party::RequesterHead => Action::ApproveSharing(app.requester),
            Party::ProviderClerk => Action::PrepareSharing(app.provider),
            Party::ProviderHead => Action::ApproveSharing(app.provider),
            Party::Authority => Action::DecideSharingExtension(provider.region),
        }
    }

    async fn application_view(
        &self,
        principal: &Principal,
        application: Application,
        calendar: &WorkingCalendar,
        orgs: &HashMap<OrgId, Organisation>,
    ) -> Result<ApplicationView> {
        let org = |id: OrgId| orgs.get(&id).cloned().ok_or_else(|| ServiceError::NotFound("单位不存在".into()));
        let (requester, provider) = (org(application.requester)?, org(application.provider)?);
        let now = self.now();
        let status = application.status(calendar, now)?;
        let probes = [
            Step::Edit { request: status.request.clone() },
            Step::Submit,
            Step::Return { note: String::new() },
            Step::Send { note: String::new() },
            Step::Withdraw { note: String::new() },
            Step::DraftReply { reply: Reply::Approve { conditions: String::new() } },
            Step::ReturnReply { note: String::new() },
            Step::ApproveReply { note: String::new() },
            Step::Supplement { request: status.request.clone(), note: String::new() },
            Step::RequestExtension { days: 1, reason: String::new() },
            Step::DecideExtension { granted: true, note: String::new() },
            Step::RecordDelivery { note: String::new() },
        ];
        let allowed_steps = probes
            .iter()
            .filter(|step| authz::check(principal, self.sharing_action(step.party(), &application, &provider)).is_ok())
            .filter(|step| application.check(&status, step, now).is_ok())
            .map(|step| step.code())
            .collect();
        let alerts = self.store.deadline_alerts(&format!("application:{}", application.id)).await?;
        Ok(ApplicationView { application, requester, provider, status, alerts, allowed_steps })
    }

    pub(crate) async fn org_map(&self) -> Result<HashMap<OrgId, Organisation>> {
        Ok(self.store.list_orgs().await?.into_iter().map(|o| (o.id, o)).collect())
    }

    fn view_action(app: &Application, orgs: &HashMap<OrgId, Organisation>) -> Result<Action> {
        let org = |id: OrgId| orgs.get(&id).ok_or_else(|| ServiceError::NotFound("单位不存在".into()));
        Ok(Action::ViewApplication {
            requester: app.requester,
            provider: app.provider,
            requester_region: org(app.requester)?.region,
            provider_region: org(app.provider)?.region,
        })
    }

    /// Until the requester's head sends it, an application is the requester's own business: others are told it
    /// does not exist.
    fn check_visible(principal: &Principal, app: &Application, orgs: &HashMap<OrgId, Organisation>) -> Result<()> {
        authz::check(principal, Self::view_action(app, orgs)?).map_err(|d| ServiceError::Forbidden(d.to_string()))?;
        let sent = app.events.iter().any(|e| matches!(e.step, Step::Send { .. }));
        if sent || principal.org_id() == Some(app.requester) || principal.is_operator() {
            Ok(())
        } else {
            Err(ServiceError::NotFound("共享申请不存在".into()))
        }
    }

    fn application_audit(
        &self,
        principal: &Principal,
        id: ApplicationId,
        action: &str,
        detail: serde_json::Value,
    ) -> AuditEvent {
        AuditEvent::new(principal.audit_name(), principal.org_id(), action, "application", id, detail)
    }

    fn application_event(&self, principal: &Principal, org: OrgId, step: Step) -> ApplicationEvent {
        ApplicationEvent {
            at: self.now(),
            actor: principal.audit_name(),
            actor_name: principal.display_name(),
            org,
            step,
        }
    }

    pub fn today(&self) -> chrono::NaiveDate {
        self.now().with_timezone(&beijing()).date_naive()
    }

    /// A requester department's clerk drafts an application for a published entry; with `submit`, it goes to the
    /// work-unit head at once.
    pub async fn create_application(
        &self,
        principal: &Principal,
        entry_id: EntryId,
        input: &ApplicationInput,
        submit: bool,
    ) -> Result<ApplicationView> {
        let requester = principal.org_id().ok_or_else(|| ServiceError::Forbidden("未以任何单位身份操作".into()))?;
        self.authorize(principal, Action::PrepareSharing(requester))?;
        let entry =
            self.store.get_entry(entry_id).await.map_err(|_| {
                ValidationError::new("entry_id", "not_found", "目录不存在或尚未发布，只能申请已发布的目录")
            })?;
        let published = entry
            .published()
            .ok_or_else(|| ValidationError::new("entry_id", "not_published", "目录尚未发布，只能申请已发布的目录"))?;
        if entry.provider == requester {
            return Err(ValidationError::new("entry_id", "own_entry", "不能申请本单位自己的目录").into());
        }
        let request = ApplicationRequest::parse_all(input, &published.content, self.today())?;
        let calendar = self.calendar().await?;
        let mut application = Application {
            id: ApplicationId::new(),
            number: String::new(), // the store's, on insert
            requester,
            provider: entry.provider,
            entry: entry.id,
            entry_version: published.version,
            entry_name: published.content.name.clone(),
            attribute: published.content.sharing.attribute(),
            created_at: self.now(),
            events: vec![self.application_event(principal, requester, Step::Create { request })],
        };
        let mut notes = vec![];
        if submit {
            application.apply(self.application_event(principal, requester, Step::Submit), &calendar)?;
            notes.push(self.requester_note(&application, "待负责人审核的共享申请", "经办人提交了共享申请，请审核"));
        }
        let audit = self.application_audit(
            principal,
            application.id,
            "application.create",
            json!({ "entry": entry.id, "provider": entry.provider, "submit": submit }),
        );
        let orgs = self.org_map().await?;
        let duties = self.application_duties(&application, &calendar, &orgs)?;
        self.store.create_application(&mut application, &duties, &notes, &audit).await?;
        self.application_view(principal, application, &calendar, &orgs).await
    }

    fn requester_note(&self, app: &Application, title: &str, body: &str) -> Notification {
        Notification::new(
            app.requester,
            self.now(),
            "application.requester",
            format!("{title}：{}", app.entry_name),
            body.to_owned(),
            link(app.id),
        )
    }

    fn provider_note(&self, app: &Application, title: &str, body: String) -> Notification {
        Notification::new(
            app.provider,
            self.now(),
            "application.provider",
            format!("{title}：{}", app.entry_name),
            body,
            link(app.id),
        )
    }

    /// The entry version an application was made for (its items and delivery methods bound the request).
    async fn applied_entry(&self, app: &Application) -> Result<(CatalogEntry, govshare_domain::catalog::EntryContent)> {
        let entry = self.store.get_entry(app.entry).await?;
        let content = entry
            .version(app.entry_version)
            .map(|v| v.content.clone())
            .ok_or_else(|| ServiceError::NotFound("申请所依据的目录版本不存在".into()))?;
        Ok((entry, content))
    }

    async fn parse_step(&self, app: &Application, input: &StepInput) -> Result<Step> {
        Ok(match input {
            StepInput::Edit(request) => {
                let (_, content) = self.applied_entry(app).await?;
                Step::Edit { request: ApplicationRequest::parse_all(request, &content, self.today())? }
            }
            StepInput::Submit => Step::Submit,
            StepInput::Return { note } => Step::Return { note: note_text("note", "退回意见", note, true)? },
            StepInput::Send { note } => Step::Send { note: note_text("note", "审核意见", note, false)? },
            StepInput::Withdraw { note } => Step::Withdraw { note: note_text("note", "撤回说明", note, false)? },
            StepInput::DraftReply(reply) => Step::DraftReply { reply: Reply::parse(reply)? },
            StepInput::ReturnReply { note } => {
                Step::ReturnReply { note: note_text("note", "退回意见", note, true)? }
            }
            StepInput::ApproveReply { note } => {
                Step::ApproveReply { note: note_text("note", "审核意见", note, false)? }
            }
            StepInput::Supplement { request, note } => {
                let (_, content) = self.applied_entry(app).await?;
                Step::Supplement {
                    request: ApplicationRequest::parse_all(request, &content, self.today())?,
                    note: note_text("note", "补正说明", note, true)?,
                }
            }
            StepInput::RequestExtension { days, reason } => {
                Step::RequestExtension { days: *days, reason: note_text("reason", "延期理由", reason, true)? }
            }
            StepInput::DecideExtension { granted, note } => {
                Step::DecideExtension { granted: *granted, note: note_text("note", "审批意见", note, !granted)? }
            }
            StepInput::RecordDelivery { note } => {
                Step::RecordDelivery { note: note_text("note", "共享情况说明", note, true)? }
            }
        })
    }

    /// Takes one step of an application, as whoever the step belongs to.
    pub async fn application_step(
        &self,
        principal: &Principal,
        id: ApplicationId,
        input: &StepInput,
    ) -> Result<ApplicationView> {
        let mut application = self.store.get_application(id).await?;
        let orgs = self.org_map().await?;
        let provider =
            orgs.get(&application.provider).cloned().ok_or_else(|| ServiceError::NotFound("单位不存在".into()))?;
        // Who may look may be told what is wrong with the step; others learn nothing about the application.
        Self::check_visible(principal, &application, &orgs)?;
        let step = self.parse_step(&application, input).await?;
        let party = step.party();
        self.authorize(principal, self.sharing_action(party, &application, &provider))?;
        let acting = match party {
            Party::RequesterClerk | Party::RequesterHead => application.requester,
            Party::ProviderClerk | Party::ProviderHead => application.provider,
            Party::Authority => principal.org_id().unwrap_or(application.provider),
        };
        let calendar = self.calendar().await?;
        let expected = application.events.len();
        let event = self.application_event(principal, acting, step.clone());
        application.apply(event, &calendar).map_err(|e| match (e.field.as_ref(), e.rule) {
            ("step", "wrong_stage" | "already_decided" | "already_replied") => ServiceError::Conflict(e.message),
            _ => ServiceError::Validation(e),
        })?;
        let status = application.status(&calendar, self.now())?;
        let notes = self.step_notifications(&application, &status, &step, &provider).await?;
        let detail = json!({
            "step": step.code(),
            "stage": status.stage.code(),
            "due": status.running.as_ref().map(|p| p.due_date),
        });
        let audit = self.application_audit(principal, id, &format!("application.{}", step.code()), detail);
        let duties = self.application_duties(&application, &calendar, &orgs)?;
        self.store.save_application(&application, expected, &duties, &notes, &audit).await?;
        self.application_view(principal, application, &calendar, &orgs).await
    }

    async fn step_notifications(
        &self,
        app: &Application,
        status: &ApplicationStatus,
        step: &Step,
        provider: &Organisation,
    ) -> Result<Vec<Notification>> {
        let due = status.running.as_ref().map(|p| p.due_date.to_string()).unwrap_or_default();
        let requester_name = self.store.get_org(app.requester).await?.name;
        let notes = match step {
            Step::Create { .. } | Step::Edit { .. } => vec![],
            Step::Submit => vec![self.requester_note(app, "待负责人审核的共享申请", "经办人提交了共享申请，请审核")],
            Step::Return { note } => vec![self.requester_note(app, "共享申请被退回", &format!("负责人退回：{note}"))],
            Step::Send { .. } => vec![self.provider_note(
                app,
                "收到共享申请",
                format!(
                    "{requester_name}申请共享「{}」（{}），请于 {due} 前答复（第二十一条，{} 个工作日）。",
                    app.entry_name,
                    app.attribute.label(),
                    app.reply_days()
                ),
            )],
            Step::Withdraw { note } => {
                vec![self.provider_note(app, "共享申请已撤回", format!("{requester_name}撤回了申请。{note}"))]
            }
            Step::DraftReply { reply } => {
                vec![self.provider_note(
                    app,
                    "答复意见待负责人审核",
                    format!("经办人拟定的答复意见：{}", reply.label()),
                )]
            }
            Step::ReturnReply { note } => {
                vec![self.provider_note(app, "答复意见被退回", format!("负责人退回：{note}"))]
            }
            Step::ApproveReply { .. } => {
                let body = match &status.reply {
                    Some(Reply::Approve { conditions }) if conditions.is_empty() => {
                        format!("提供部门同意共享。提供部门应于 {due} 前完成共享（第二十二条）。")
                    }
                    Some(Reply::Approve { conditions }) => {
                        format!("提供部门附条件同意共享，条件：{conditions}。提供部门应于 {due} 前完成共享。")
                    }
                    Some(Reply::Refuse { reason }) => format!("提供部门不同意共享，理由：{reason}"),
                    Some(Reply::Supplement { materials }) => {
                        format!("提供部门一次性告知需要补正的材料：{}。补正后重新计算答复期限。", materials.join(";"))
                    }
                    None => String::new(),
                };
                vec![self.requester_note(app, "共享申请已答复", &body)]
            }
            Step::Supplement { .. } => vec![self.provider_note(
                app,
                "共享申请已补正",
                format!("{requester_name}已补正材料，请于 {due} 前答复。"),
            )],
            Step::RequestExtension { days, reason } => match self.authority_of(provider.region).await? {
                Some(authority) => vec![Notification::new(
                    authority.id,
                    self.now(),
                    "application.extension",
                    format!("答复延期申请：{}", app.entry_name),
                    format!("{}申请将答复期限延长 {days} 个工作日，理由：{reason}", provider.name),
                    link(app.id),
                )],
                None => vec![],
            },
            Step::DecideExtension { granted, note } => {
                let reason = status.extension.as_ref().map(|x| x.reason.clone()).unwrap_or_default();
                if *granted {
                    let body = format!("主管部门同意延期，答复期限延至 {due}。延期理由：{reason}");
                    vec![
                        self.provider_note(app, "答复延期已获同意", body.clone()),
                        self.requester_note(app, "答复期限延长", &body),
                    ]
                } else {
                    vec![self.provider_note(
                        app,
                        "答复延期未获同意",
                        format!("主管部门不同意延期：{note}。答复期限仍为 {due}。"),
                    )]
                }
            }
            Step::RecordDelivery { note } => {
                vec![self.requester_note(app, "数据已共享", &format!("提供部门登记已共享：{note}"))]
            }
        };
        Ok(notes)
    }

    pub async fn get_application(&self, principal: &Principal, id: ApplicationId) -> Result<ApplicationView> {
        let application = self.store.get_application(id).await?;
        let orgs = self.org_map().await?;
        Self::check_visible(principal, &application, &orgs)?;
        let calendar = self.calendar().await?;
        self.application_view(principal, application, &calendar, &orgs).await
    }

    /// One of the acting organisation's lists. Open applications come first, the most urgent running deadline
    /// first; then the rest, newest first.
    pub async fn list_applications(
        &self,
        principal: &Principal,
        which: ApplicationBox,
    ) -> Result<Vec<ApplicationView>> {
        let org = principal.org.as_ref().ok_or_else(|| ServiceError::Forbidden("未以任何单位身份操作".into()))?;
        let orgs = self.org_map().await?;
        let acting = orgs.get(&org.id).cloned().ok_or_else(|| ServiceError::NotFound("单位不存在".into()))?;
        let region_of = |id: OrgId| orgs.get(&id).map(|o| o.region);
        let applications: Vec<Application> = match which {
            ApplicationBox::Mine => {
                self.authorize(principal, Action::PrepareSharing(acting.id))
                    // Refused both ways: the reason is the first one (who may handle applications at all).
                    .or_else(|first| self.authorize(principal, Action::ApproveSharing(acting.id)).map_err(|_| first))?;
                let all = self.store.list_applications(Some(acting.id), false).await?;
                all.into_iter().filter(|a| a.requester == acting.id).collect()
            }
            ApplicationBox::Inbox => {
                self.authorize(principal, Action::PrepareSharing(acting.id))
                    // Refused both ways: the reason is the first one (who may handle applications at all).
                    .or_else(|first| self.authorize(principal, Action::ApproveSharing(acting.id)).map_err(|_| first))?;
                let all = self.store.list_applications(Some(acting.id), false).await?;
                // A provider sees an application once it was sent to it.
                all.into_iter()
                    .filter(|a| a.provider == acting.id && a.events.iter().any(|e| matches!(e.step, Step::Send { .. })))
                    .collect()
            }
            ApplicationBox::Extensions => {
                self.authorize(principal, Action::DecideSharingExtension(acting.region))?;
                let open = self.store.list_applications(None, true).await?;
                open.into_iter()
                    .filter(|a| region_of(a.provider) == Some(acting.region))
                    .filter(|a| {
                        a.events.iter().any(|e| matches!(e.step, Step::RequestExtension { .. }))
                            && !a.events.iter().any(|e| matches!(e.step, Step::DecideExtension { .. }))
                    })
                    .collect()
            }
            ApplicationBox::Region => {
                if acting.kind != OrgKind::Authority {
                    return Err(ServiceError::Forbidden("只有政务数据共享主管部门可以查看本地区全部共享申请".into()));
                }
                let all = self.store.list_applications(None, false).await?;
                let mine: Vec<Application> = all
                    .into_iter()
                    .filter(|a| {
                        region_of(a.provider) == Some(acting.region) || region_of(a.requester) == Some(acting.region)
                    })
                    .collect();
                let mut visible = Vec::with_capacity(mine.len());
                for a in mine {
                    match Self::check_visible(principal, &a, &orgs) {
                        Ok(()) => visible.push(a),
                        Err(ServiceError::NotFound(_)) => {}
                        Err(e) => return Err(e),
                    }
                }
                visible
            }
        };
        let calendar = self.calendar().await?;
        let mut views = Vec::with_capacity(applications.len());
        for a in applications {
            views.push(self.application_view(principal, a, &calendar, &orgs).await?);
        }
        views.sort_by_key(|v| {
            let open = !v.status.stage.is_final();
            let due = v.status.running.as_ref().map(|p| p.due_at);
            (!open, due.is_none(), due, !v.status.late, std::cmp::Reverse(v.application.created_at))
        });
        if which == ApplicationBox::Region {
            views.sort_by_key(|v| (!v.status.running.as_ref().is_some_and(|p| p.late), !v.status.late));
        }
        Ok(views)
    }

    /// Overdue marks, newest first (supervision, Art. 39): the administrator and authority staff.
    pub async fn overdue_marks(&self, principal: &Principal, limit: u32) -> Result<Vec<DeadlineAlert>> {
        self.authorize(principal, Action::ViewAudit)?;
        Ok(self.store.overdue_marks(limit.clamp(1, 500)).await?)
    }
}
