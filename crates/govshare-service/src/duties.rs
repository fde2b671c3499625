//! The duty ledger's use cases: deriving a subject's duties after each step (written by the store in the step's
//! transaction), the to-do list of the acting person, the one deadline sweep over the ledger, and the one-time
//! derivation of the duties of timelines kept before the ledger existed.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use govshare_domain::application::Application;
use govshare_domain::audit::AuditEvent;
use govshare_domain::authz::Action;
use govshare_domain::calendar::{WorkingCalendar, beijing, end_of_day};
use govshare_domain::catalog::CatalogEntry;
use govshare_domain::duty::{self, Duty, SubjectKind};
use govshare_domain::notification::{AlertKind, DeadlineAlert, Notification};
use govshare_domain::org::{OrgId, OrgKind, Organisation};
use govshare_domain::principal::Principal;
use govshare_domain::role::Role;
use govshare_store::DutyFilter;
use serde::Serialize;
use serde_json::json;

use crate::{Result, ServiceError, Services};

/// What one run of the deadline job did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SweepReport {
    pub reminders: usize,
    pub overdue: usize,
}

/// Which duties a to-do list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DutyState {
    Open,
    Closed,
    All,
}

impl DutyState {
    pub fn parse(input: &str) -> std::result::Result<DutyState, govshare_domain::ValidationError> {
        match input.trim() {
            "" | "open" => Ok(DutyState::Open),
            "closed" => Ok(DutyState::Closed),
            "all" => Ok(DutyState::All),
            other => Err(govshare_domain::ValidationError::new(
                "state",
                "unknown_value",
                format!("「{other}」不是有效的待办状态，可选：open（未办结）、closed（已办结）、all（全部）"),
            )),
        }
    }
}

/// How pressing a duty is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Urgency {
    /// Past its due time.
    Overdue,
    /// Due within 2 working days (today included).
    Soon,
    Normal,
    /// No statutory period.
    Untimed,
    /// Met or cut short.
    Closed,
}

impl Urgency {
    pub fn code(self) -> &'static str {
        match self {
            Urgency::Overdue => "overdue",
            Urgency::Soon => "soon",
            Urgency::Normal => "normal",
            Urgency::Untimed => "untimed",
            Urgency::Closed => "closed",
        }
    }
}

/// A duty as a to-do list shows it.
#[derive(Debug, Clone, Serialize)]
pub struct DutyView {
    #[serde(flatten)]
    pub duty: Duty,
    pub label: &'static str,
    pub article: &'static str,
    pub role_label: &'static str,
    pub counterpart_name: Option<String>,
    pub due_date: Option<NaiveDate>,
    pub working_days_left: Option<i64>,
    pub late: bool,
    pub urgency: Urgency,
    pub link: String,
}

/// Most duties a to-do list returns.
pub const MAX_DUTIES: u32 = 500;

/// The same-level authority of `org`'s region.
/// The same-level authority of `org`, from an organisation map already loaded.
pub(crate) fn authority_of(orgs: &HashMap<OrgId, Organisation>, org: OrgId) -> Option<OrgId> {
    let region = orgs.get(&org)?.region;
    orgs.values().find(|o| o.kind == OrgKind::Authority && o.region == region).map(|o| o.id)
}

impl Services {
    /// The duties of an application after a step.
    pub(crate) fn application_duties(
        &self,
        app: &Application,
        calendar: &WorkingCalendar,
        orgs: &HashMap<OrgId, Organisation>,
    ) -> Result<Vec<Duty>> {
        Ok(duty::application_duties(app, calendar, authority_of(orgs, app.provider))?)
    }

    /// The duties of a catalog entry after a step: its own workflow's and those of its update obligations (which
    /// its steps meet).
    pub(crate) async fn entry_duties(
        &self,
        entry: &CatalogEntry,
        changed: Option<&govshare_domain::obligation::UpdateObligation>,
    ) -> Result<Vec<Duty>> {
        let calendar = self.calendar().await?;
        let orgs = self.org_map().await?;
        let mut obligations: Vec<_> = self
            .store
            .list_obligations(Some(entry.provider))
            .await?
            .into_iter()
            .filter(|o| o.entry == entry.id && changed.is_none_or(|c| c.id != o.id))
            .collect();
        obligations.extend(changed.cloned());
        catalog_duties(entry, &obligations, &calendar, &orgs)
    }

    /// The acting organisation's duties for the roles the caller holds there (an API key: all its duties).
    pub async fn my_duties(&self, principal: &Principal, state: DutyState) -> Result<Vec<DutyView>> {
        let filter = self.my_filter(principal, state)?;
        let duties = self.store.duties(&filter, MAX_DUTIES).await?;
        let calendar = self.calendar().await?;
        let orgs = self.org_map().await?;
        let now = self.now();
        Ok(duties.into_iter().map(|d| view(d, &calendar, &orgs, now)).collect())
    }

    /// How many open duties wait for the caller (the navigation badge).
    pub async fn my_duty_count(&self, principal: &Principal) -> Result<u64> {
        Ok(self.store.count_duties(&self.my_filter(principal, DutyState::Open)?).await?)
    }

    fn my_filter(&self, principal: &Principal, state: DutyState) -> Result<DutyFilter> {
        let org = principal.org_id().ok_or_else(|| ServiceError::Forbidden("未以任何单位身份操作".into()))?;
        self.authorize(principal, Action::ViewDuties(org))?;
        let roles = if principal.roles.contains(&Role::SystemClient) {
            None
        } else {
            Some(principal.roles.iter().copied().filter(|r| *r != Role::PlatformAdmin).collect())
        };
        let open = match state {
            DutyState::Open => Some(true),
            DutyState::Closed => Some(false),
            DutyState::All => None,
        };
        Ok(DutyFilter { owner: Some(org), roles, open, subject: None, started_by: Some(self.now()) })
    }

    /// The deadline job: over the ledger's open duties due within the reminder window (by index, not by reading
    /// every timeline), sends one reminder in a duty's last working days and marks it overdue once its due time
    /// has passed. The store records each alert on the duty row conditionally, so of several instances sweeping
    /// at once exactly one sends each.
    pub async fn run_deadline_sweep(&self) -> Result<SweepReport> {
        self.backfill_duties().await?;
        let now = self.now();
        let calendar = self.calendar().await?;
        let today = now.with_timezone(&beijing()).date_naive();
        // The longest reminder window is 3 working days (today included).
        let horizon = end_of_day(calendar.add_working_days(today, 3)?.0);
        let mut orgs: Option<HashMap<OrgId, Organisation>> = None;
        let mut report = SweepReport::default();
        // Two ranges of the ledger's index: not yet reminded and due within the window, reminded and now overdue.
        for (sent, due_by) in [(None, horizon), (Some(AlertKind::Reminder), now)] {
            let mut after = None;
            loop {
                let page = self.store.due_duties(sent, due_by, after.clone(), 500).await?;
                let full = page.len() == 500;
                for duty in page {
                    let Some(due_at) = duty.due_at else { continue };
                    after = Some((due_at, duty.key.clone()));
                    let kind = if now > due_at {
                        AlertKind::Overdue
                    } else if sent.is_none() && duty.reminder_due(&calendar, now) {
                        AlertKind::Reminder
                    } else {
                        continue;
                    };
                    if orgs.is_none() {
                        orgs = Some(self.org_map().await?);
                    }
                    if self.alert(&duty, kind, &calendar, orgs.as_ref().expect("just loaded"), now).await? {
                        match kind {
                            AlertKind::Reminder => report.reminders += 1,
                            AlertKind::Overdue => report.overdue += 1,
                        }
                    }
                }
                if !full {
                    break;
                }
            }
        }
        Ok(report)
    }

    async fn alert(
        &self,
        duty: &Duty,
        kind: AlertKind,
        calendar: &WorkingCalendar,
        orgs: &HashMap<OrgId, Organisation>,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let (Some(due_at), Some(due_date)) = (duty.due_at, duty.due_date()) else { return Ok(false) };
        let what = duty.kind.deadline_name();
        let left = duty.working_days_left(calendar, now).unwrap_or(0);
        let (title, body) = match kind {
            AlertKind::Reminder => {
                (format!("{what}临近：{}", duty.title), format!("{what}为 {due_date}，还剩 {left} 个工作日。"))
            }
            AlertKind::Overdue => (
                format!("{what}已逾期：{}", duty.title),
                format!("{what} {due_date} 已过，已标记逾期（{}、第三十九条）。", duty.kind.article()),
            ),
        };
        let mut to = vec![duty.owner];
        if kind == AlertKind::Overdue {
            to.extend(duty.counterpart);
            to.extend(authority_of(orgs, duty.owner));
        }
        let mut seen = std::collections::HashSet::new();
        to.retain(|o| seen.insert(*o));
        let code = format!("deadline.{}", kind.code());
        let notes: Vec<Notification> = to
            .iter()
            .map(|org| Notification::new(*org, now, &code, title.clone(), body.clone(), duty.link()))
            .collect();
        let subject = match duty.subject_kind {
            SubjectKind::Application => format!("application:{}", duty.subject_id),
            SubjectKind::Entry => format!("catalog_entry:{}", duty.subject_id),
            SubjectKind::Obligation => format!("catalog_obligation:{}", duty.subject_id),
            SubjectKind::Grant => format!("grant:{}", duty.subject_id),
            SubjectKind::Correction => format!("correction:{}", duty.subject_id),
            SubjectKind::Dispute => format!("dispute:{}", duty.subject_id),
            SubjectKind::Complaint => format!("complaint:{}", duty.subject_id),
            SubjectKind::Order => format!("order:{}", duty.subject_id),
        };
        let alert = DeadlineAlert {
            key: format!("{}:{due_date}:{}", duty.key, kind.code()),
            subject,
            kind,
            due_at,
            created_at: now,
            note: what.to_owned(),
        };
        let audit = AuditEvent::new(
            "system:deadline-job",
            Some(duty.owner),
            &code,
            "deadline",
            &alert.key,
            json!({ "subject": alert.subject, "due_at": due_at, "what": what, "duty": duty.kind.code() }),
        );
        Ok(self.store.mark_duty(&duty.key, due_at, &alert, &notes, &audit).await?)
    }

    /// Derives the duties of every application, entry and obligation kept before the ledger existed, once (the
    /// first start after the upgrade); later starts find it done. Idempotent: duties are written by key.
    pub async fn backfill_duties(&self) -> Result<usize> {
        if !self.store.duty_backfill_pending().await? {
            return Ok(0);
        }
        let calendar = self.calendar().await?;
        let orgs = self.org_map().await?;
        let mut duties = Vec::new();
        for app in self.store.list_applications(None, false).await? {
            duties.extend(self.application_duties(&app, &calendar, &orgs)?);
        }
        let obligations = self.store.list_obligations(None).await?;
        for entry in self.store.list_entries(None).await? {
            let of_entry: Vec<_> = obligations.iter().filter(|o| o.entry == entry.id).cloned().collect();
            duties.extend(catalog_duties(&entry, &of_entry, &calendar, &orgs)?);
        }
        let audit = AuditEvent::new(
            "system:upgrade",
            None,
            "duty.backfill",
            "duty_ledger",
            "duties",
            json!({ "duties": duties.len(), "open": duties.iter().filter(|d| d.is_open()).count() }),
        );
        self.store.backfill_duties(&duties, &audit).await?;
        Ok(duties.len())
    }
}

/// The duties of a catalog entry's own workflow and of its update obligations.
fn catalog_duties(
    entry: &CatalogEntry,
    obligations: &[govshare_domain::obligation::UpdateObligation],
    calendar: &WorkingCalendar,
    orgs: &HashMap<OrgId, Organisation>,
) -> Result<Vec<Duty>> {
    let authority = authority_of(orgs, entry.provider);
    let mut duties = duty::entry_duties(entry, calendar, authority, obligations)?;
    for o in obligations {
        duties.extend(duty::obligation_duties(o, entry, calendar, authority)?);
    }
    Ok(duties)
}

fn view(duty: Duty, calendar: &WorkingCalendar, orgs: &HashMap<OrgId, Organisation>, now: DateTime<Utc>) -> DutyView {
    let left = if duty.is_open() { duty.working_days_left(calendar, now) } else { None };
    let late = duty.late(now);
    let urgency = match (duty.is_open(), duty.due_at, left) {
        (false, _, _) => Urgency::Closed,
        (true, None, _) => Urgency::Untimed,
        (true, Some(due), _) if now > due => Urgency::Overdue,
        (true, Some(_), Some(l)) if l <= 2 => Urgency::Soon,
        _ => Urgency::Normal,
    };
    DutyView {
        label: duty.kind.label(),
        article: duty.kind.article(),
        role_label: duty.role.label(),
        counterpart_name: duty.counterpart.and_then(|c| orgs.get(&c)).map(|o| o.name.clone()),
        due_date: duty.due_date(),
        working_days_left: left,
        late,
        urgency,
        link: duty.link(),
        duty,
    }
}
