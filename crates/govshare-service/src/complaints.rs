//! Public complaints and reports (Art. 37 ¶2, R-QC-3): filed without an account behind a rate limit and a
//! challenge, answered with a tracking code; handled by the department concerned (or the authority) as a duty;
//! the status page by tracking code shows the public steps and the answer only.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration as StdDuration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, NaiveDate, Utc};
use govshare_domain::ValidationError;
use govshare_domain::attachment::AttachmentRef;
use govshare_domain::audit::AuditEvent;
use govshare_domain::authz::{self, Action};
use govshare_domain::calendar::beijing;
use govshare_domain::complaint::{
    Complainant, Complaint, ComplaintEvent, ComplaintId, ComplaintInput, ComplaintStep, NewComplaint, TrackingCode,
};
use govshare_domain::duty::complaint_duties;
use govshare_domain::error::required_text;
use govshare_domain::notification::Notification;
use govshare_domain::org::{OrgId, OrgKind, Organisation};
use govshare_domain::principal::Principal;
use rand::RngCore;
use serde::Serialize;
use serde_json::json;

use crate::corrections::Upload;
use crate::secrets::digests_equal;
use crate::{Result, ServiceError, Services};

/// Filings one client address may make in an hour, attempts (refused ones included: guesses at the challenge)
/// in an hour, and status lookups in a minute.
pub const FILINGS_PER_HOUR: usize = 5;
pub const ATTEMPTS_PER_HOUR: usize = 30;
pub const LOOKUPS_PER_MINUTE: usize = 20;
/// Filings the whole node takes in an hour, whoever sends them (a flood from many addresses).
pub const NODE_FILINGS_PER_HOUR: usize = 500;
/// How long a challenge stays answerable.
pub const CHALLENGE_MINUTES: i64 = 20;

/// The public desk's memory: the clients' recent filings and lookups, and the challenges already used.
#[derive(Debug, Default)]
pub struct Desk {
    filings: Mutex<HashMap<String, Vec<Instant>>>,
    attempts: Mutex<HashMap<String, Vec<Instant>>>,
    lookups: Mutex<HashMap<String, Vec<Instant>>>,
    all_filings: Mutex<Vec<Instant>>,
    used: Mutex<HashMap<String, DateTime<Utc>>>,
}

/// Counts an event of `client` against `limit` per `window` (only when `count`); false when over it.
fn admit(
    map: &Mutex<HashMap<String, Vec<Instant>>>,
    client: &str,
    limit: usize,
    window: StdDuration,
    count: bool,
) -> bool {
    let mut map = map.lock().expect("lock");
    if map.len() > 100_000 {
        map.retain(|_, v| v.last().is_some_and(|t| t.elapsed() < window));
    }
    let seen = map.entry(client.to_owned()).or_default();
    seen.retain(|t| t.elapsed() < window);
    if seen.len() >= limit {
        return false;
    }
    if count {
        seen.push(Instant::now());
    }
    true
}

fn too_many(message: String, retry_after_secs: i64) -> ServiceError {
    ServiceError::Throttled { code: "rate_limited", message, retry_after_secs }
}

/// A challenge for the public form: a sum to work out, and the signed token that carries it.
#[derive(Debug, Clone, Serialize)]
pub struct Challenge {
    pub question: String,
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

/// What the complainant gets back.
#[derive(Debug, Clone, Serialize)]
pub struct Receipt {
    /// `ABCD-EFGH-JKMN-PQRS`: the only way to the case's status; shown once, never stored.
    pub tracking_code: String,
    pub received_at: DateTime<Utc>,
    pub kind: String,
    pub title: String,
    /// Who handles it: the department concerned, or the authority.
    pub handler_name: String,
    pub due_on: Option<NaiveDate>,
}

/// The status page: the public steps and the answer, nothing else.
#[derive(Debug, Clone, Serialize)]
pub struct PublicStatus {
    pub kind: String,
    pub title: String,
    pub received_at: DateTime<Utc>,
    pub state: String,
    pub due_on: Option<NaiveDate>,
    pub steps: Vec<PublicStep>,
    pub answer: Option<String>,
    pub answered_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PublicStep {
    pub at: DateTime<Utc>,
    pub label: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ComplaintView {
    pub complaint: Complaint,
    pub handler_name: String,
    pub concerned_name: Option<String>,
    /// The complainant's name and contact: for those handling the case only.
    pub complainant: Option<Complainant>,
    pub state: String,
    pub due_on: Option<NaiveDate>,
    pub late: bool,
    /// The caller may take the next step.
    pub can_handle: bool,
}

const NUMBERS: [&str; 21] = [
    "零", "一", "二", "三", "四", "五", "六", "七", "八", "九", "十", "十一", "十二", "十三", "十四", "十五", "十六",
    "十七", "十八", "十九", "二十",
];

impl Services {
    fn challenge_mac(&self, expires: i64, nonce: &str, answer: &str) -> String {
        self.keys.record_key("complaint-challenge", &format!("{expires}.{nonce}.{}", answer.trim()))
    }

    /// A new challenge: a sum written in Chinese numerals, answered in digits. Its token is signed with the node
    /// key (the answer is not in it) and is good once, for [`CHALLENGE_MINUTES`].
    pub fn complaint_challenge(&self) -> Challenge {
        let mut rng = rand::rngs::OsRng;
        let (a, b) = (1 + rng.next_u32() % 20, 1 + rng.next_u32() % 20);
        let mut nonce = [0u8; 12];
        rng.fill_bytes(&mut nonce);
        let nonce = URL_SAFE_NO_PAD.encode(nonce);
        let expires_at = self.now() + chrono::Duration::minutes(CHALLENGE_MINUTES);
        let mac = self.challenge_mac(expires_at.timestamp(), &nonce, &(a + b).to_string());
        Challenge {
            question: format!("{}加{}等于多少？（请填写阿拉伯数字）", NUMBERS[a as usize], NUMBERS[b as usize]),
            token: format!("{}.{nonce}.{mac}", expires_at.timestamp()),
            expires_at,
        }
    }

    fn check_challenge(&self, token: &str, answer: &str) -> Result<()> {
        let wrong = || ValidationError::new("challenge_answer", "wrong_answer", "验证题答案不正确，请重新作答");
        let mut parts = token.trim().splitn(3, '.');
        let (Some(expires), Some(nonce), Some(mac)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(ValidationError::new("challenge_token", "format", "验证信息无效，请刷新页面重新作答").into());
        };
        let Ok(expires) = expires.parse::<i64>() else {
            return Err(ValidationError::new("challenge_token", "format", "验证信息无效，请刷新页面重新作答").into());
        };
        if expires < self.now().timestamp() {
            return Err(ValidationError::new("challenge_token", "expired", "验证题已过期，请刷新页面重新作答").into());
        }
        if answer.trim().is_empty() {
            return Err(ValidationError::new("challenge_answer", "required", "请回答验证题").into());
        }
        if !digests_equal(&self.challenge_mac(expires, nonce, answer), mac) {
            return Err(wrong().into());
        }
        let mut used = self.desk.used.lock().expect("lock");
        let now = self.now();
        used.retain(|_, at| *at > now);
        if used.insert(nonce.to_owned(), DateTime::from_timestamp(expires, 0).unwrap_or(now)).is_some() {
            return Err(ValidationError::new("challenge_token", "used", "验证题已使用过，请刷新页面重新作答").into());
        }
        Ok(())
    }

    /// Who a filing goes to when the complainant cannot tell: the authority of the highest region on the node.
    fn default_handler(orgs: &HashMap<OrgId, Organisation>) -> Option<&Organisation> {
        orgs.values().filter(|o| o.kind == OrgKind::Authority).min_by_key(|o| (o.region.level() as u8, o.region))
    }

    fn authority_ids(orgs: &HashMap<OrgId, Organisation>) -> Vec<OrgId> {
        orgs.values().filter(|o| o.kind == OrgKind::Authority).map(|o| o.id).collect()
    }

    fn tracking_digest(&self, code: &TrackingCode) -> String {
        self.keys.record_key("complaint-tracking", code.as_str())
    }

    /// A public filing from `client` (its address): limited per client and per node, behind the challenge;
    /// `website` is the form's hidden field that only robots fill in.
    #[allow(clippy::too_many_arguments)]
    pub async fn file_complaint(
        &self,
        client: &str,
        input: &ComplaintInput,
        challenge_token: &str,
        challenge_answer: &str,
        website: &str,
        upload: Option<&Upload>,
    ) -> Result<Receipt> {
        let hour = StdDuration::from_secs(3600);
        if !admit(&self.desk.attempts, client, ATTEMPTS_PER_HOUR, hour, true) {
            return Err(too_many(format!("同一网络每小时最多尝试提交 {ATTEMPTS_PER_HOUR} 次，请稍后再试"), 3600));
        }
        if !admit(&self.desk.filings, client, FILINGS_PER_HOUR, hour, false) {
            return Err(too_many(format!("同一网络每小时最多提交 {FILINGS_PER_HOUR} 件，请稍后再试"), 3600));
        }
        if !website.trim().is_empty() {
            return Err(ValidationError::new("website", "not_allowed", "请勿填写此项").into());
        }
        self.check_challenge(challenge_token, challenge_answer)?;
        let today = self.now().with_timezone(&beijing()).date_naive();
        let new = NewComplaint::parse(input, today)?;
        let receipt = self.create_complaint(new, upload, "公众", &self.keys.record_key("client", client)).await?;
        admit(&self.desk.filings, client, FILINGS_PER_HOUR, hour, true);
        Ok(receipt)
    }

    /// A complaint received by letter or telephone, entered by the node's operator (the demo's, too).
    pub async fn enter_complaint(&self, principal: &Principal, input: &ComplaintInput) -> Result<Receipt> {
        if !principal.is_operator() {
            return Err(ServiceError::Forbidden("只有平台运维人员可以代为录入投诉举报".into()));
        }
        let new = NewComplaint::parse(input, self.now().with_timezone(&beijing()).date_naive())?;
        self.create_complaint(new, None, &principal.audit_name(), "operator").await
    }

    /// Stores a checked filing with its duty, tells the handler, and returns the receipt.
    async fn create_complaint(
        &self,
        new: NewComplaint,
        upload: Option<&Upload>,
        actor: &str,
        client: &str,
    ) -> Result<Receipt> {
        let orgs = self.org_map().await?;
        let handler = match new.department {
            Some(id) => {
                orgs.get(&id).ok_or_else(|| ValidationError::new("department", "not_found", "所选单位不存在"))?
            }
            None => Self::default_handler(&orgs)
                .ok_or_else(|| ServiceError::Conflict("本平台尚未设立政务数据共享主管部门，暂不能受理".into()))?,
        };
        {
            let mut all = self.desk.all_filings.lock().expect("lock");
            all.retain(|t| t.elapsed() < StdDuration::from_secs(3600));
            if all.len() >= NODE_FILINGS_PER_HOUR {
                return Err(too_many("当前提交的人数较多，请稍后再试".into(), 600));
            }
            all.push(Instant::now());
        }
        let attachment = self.seal_upload("attachment", upload)?;
        let mut random = [0u8; 10];
        rand::rngs::OsRng.fill_bytes(&mut random);
        let code = TrackingCode::from_random(random);
        let now = self.now();
        let mut c = Complaint {
            id: ComplaintId::new(),
            number: String::new(),
            tracking_digest: self.tracking_digest(&code),
            kind: new.kind,
            concerned: new.department,
            handler: handler.id,
            region: handler.region,
            title: new.title,
            description: new.description,
            happened_on: new.happened_on,
            sealed: self.seal(&new.complainant)?,
            attachment: attachment.as_ref().map(|(m, _)| m.clone()),
            received_at: now,
            days: self.settings.complaint_days,
            events: vec![ComplaintEvent {
                at: now,
                actor: actor.into(),
                step: ComplaintStep::File,
                text: String::new(),
                to: Some(handler.id),
            }],
        };
        let calendar = self.calendar().await?;
        let duties = complaint_duties(&c, &calendar, &Self::authority_ids(&orgs));
        let notes = vec![Notification::new(
            handler.id,
            now,
            "complaint.file",
            format!("收到公众{}：{}", c.kind.label(), c.title),
            format!("公众通过平台提交{}，请在 {} 个工作日内办理并答复（第三十七条）。", c.kind.label(), c.days),
            format!("/console/complaints/{}", c.id),
        )];
        let audit = AuditEvent::new(
            actor.to_owned(),
            None,
            "complaint.file",
            "complaint",
            c.id.to_string(),
            json!({ "handler": handler.id, "kind": c.kind, "client": client,
                    "attachment": c.attachment.as_ref().map(|a| &a.sm3) }),
        );
        let stored = attachment.as_ref().map(|(m, d)| (m, d.as_slice()));
        self.store.create_complaint(&mut c, stored, &duties, &notes, &audit).await?;
        Ok(Receipt {
            tracking_code: code.display(),
            received_at: now,
            kind: c.kind.label().into(),
            title: c.title.clone(),
            handler_name: handler.name.clone(),
            due_on: duties.first().and_then(|d| d.due_date()),
        })
    }

    /// The public status of the case with this tracking code: NotFound for any code that is not one (the same
    /// answer whether the code is malformed or unknown), limited per client.
    pub async fn complaint_status(&self, client: &str, code: &str) -> Result<PublicStatus> {
        if !admit(&self.desk.lookups, client, LOOKUPS_PER_MINUTE, StdDuration::from_secs(60), true) {
            return Err(too_many(format!("每分钟最多查询 {LOOKUPS_PER_MINUTE} 次，请稍后再试"), 60));
        }
        let not_found = || ServiceError::NotFound("没有这个查询码的投诉举报，请核对后重试".into());
        let code = TrackingCode::parse(code).map_err(|_| not_found())?;
        let c = self.store.complaint_by_tracking(&self.tracking_digest(&code)).await?.ok_or_else(not_found)?;
        let calendar = self.calendar().await?;
        let duty = complaint_duties(&c, &calendar, &[]).into_iter().next();
        let answer = c.answer();
        Ok(PublicStatus {
            kind: c.kind.label().into(),
            title: c.title.clone(),
            received_at: c.received_at,
            state: c.state().label().into(),
            due_on: duty.and_then(|d| d.due_date()),
            steps: c
                .events
                .iter()
                .filter_map(|e| e.step.public_label().map(|l| PublicStep { at: e.at, label: l.into() }))
                .collect(),
            answer: answer.map(|e| e.text.clone()),
            answered_at: answer.map(|e| e.at),
        })
    }

    fn complaint_action(c: &Complaint) -> Action {
        Action::ViewCase { parties: [c.handler, c.concerned.unwrap_or(c.handler)], regions: [c.region, c.region] }
    }

    fn complaint_view(
        &self,
        principal: &Principal,
        c: Complaint,
        orgs: &HashMap<OrgId, Organisation>,
        calendar: &govshare_domain::calendar::WorkingCalendar,
    ) -> Result<ComplaintView> {
        let name = |id: OrgId| orgs.get(&id).map_or_else(String::new, |o| o.name.clone());
        let handles = authz::check(principal, Action::HandleComplaint(c.handler)).is_ok();
        let duty = complaint_duties(&c, calendar, &[]).into_iter().last();
        Ok(ComplaintView {
            handler_name: name(c.handler),
            concerned_name: c.concerned.map(name),
            complainant: if handles { Some(self.unseal(&c.sealed)?) } else { None },
            state: c.state().label().into(),
            due_on: duty.as_ref().and_then(|d| d.due_date()),
            late: duty.is_some_and(|d| d.late(self.now())),
            can_handle: handles && c.state() != govshare_domain::complaint::ComplaintState::Closed,
            complaint: c,
        })
    }

    /// A handling step: accept, decline (reasons, public), transfer (to another department or the authority),
    /// note (internal), answer (public). A transfer hands the duty with its deadline to the new handler.
    pub async fn complaint_step(
        &self,
        principal: &Principal,
        id: ComplaintId,
        step: &str,
        text: &str,
        to: Option<&str>,
    ) -> Result<ComplaintView> {
        let mut c = self.store.get_complaint(id).await?;
        self.authorize(principal, Action::HandleComplaint(c.handler))?;
        let step = ComplaintStep::parse(step)?;
        c.check_step(step).map_err(|(code, message)| ServiceError::OutOfTurn { code, message: message.into() })?;
        let orgs = self.org_map().await?;
        let label = match step {
            ComplaintStep::Answer => "答复内容",
            ComplaintStep::Decline => "不予受理的理由",
            ComplaintStep::Transfer => "转办理由",
            _ => "办理情况",
        };
        let text = match (step, text.trim()) {
            (ComplaintStep::Accept, "") => String::new(),
            (_, raw) => required_text("text", label, raw, govshare_domain::complaint::MAX_COMPLAINT_TEXT)?,
        };
        let mut target = None;
        if step == ComplaintStep::Transfer {
            let raw = to.unwrap_or_default().trim();
            let id: OrgId = match raw {
                "" => return Err(ValidationError::new("to", "required", "请选择转办的单位").into()),
                raw => raw.parse().map_err(|e: ValidationError| e.for_field("to"))?,
            };
            let org = orgs.get(&id).ok_or_else(|| ValidationError::new("to", "not_found", "转办单位不存在"))?;
            if org.id == c.handler {
                return Err(ValidationError::new("to", "same_handler", "不能转给本单位").into());
            }
            target = Some(org);
        }
        let now = self.now();
        let expected = c.events.len();
        c.events.push(ComplaintEvent {
            at: now,
            actor: principal.audit_name(),
            step,
            text: text.clone(),
            to: target.map(|o| o.id),
        });
        let mut notes = Vec::new();
        if let Some(org) = target {
            c.handler = org.id;
            c.region = org.region;
            notes.push(Notification::new(
                org.id,
                now,
                "complaint.transfer",
                format!("转办公众{}：{}", c.kind.label(), c.title),
                format!(
                    "{}将公众{}转交你单位办理：{text}",
                    orgs.get(&c.events[0].to.unwrap_or(c.handler)).map_or("", |o| o.name.as_str()),
                    c.kind.label()
                ),
                format!("/console/complaints/{}", c.id),
            ));
        }
        let calendar = self.calendar().await?;
        let duties = complaint_duties(&c, &calendar, &Self::authority_ids(&orgs));
        let audit = AuditEvent::new(
            principal.audit_name(),
            principal.org_id(),
            &format!("complaint.{}", step.code()),
            "complaint",
            c.id.to_string(),
            json!({ "to": target.map(|o| o.id) }),
        );
        self.store.save_complaint(&c, expected, &duties, &notes, &audit).await?;
        self.complaint_view(principal, c, &orgs, &calendar)
    }

    pub async fn get_complaint(&self, principal: &Principal, id: ComplaintId) -> Result<ComplaintView> {
        let c = self.store.get_complaint(id).await?;
        self.authorize(principal, Self::complaint_action(&c))?;
        self.complaint_view(principal, c, &self.org_map().await?, &self.calendar().await?)
    }

    /// The cases with the caller's department; an authority's: every case handled in its region.
    pub async fn list_complaints(&self, principal: &Principal) -> Result<Vec<ComplaintView>> {
        let org = principal.org.as_ref().ok_or_else(|| ServiceError::Forbidden("未以任何单位身份操作".into()))?;
        // People only: a business system has no case work.
        self.authorize(principal, Action::ViewOwnWork(org.id))?;
        let handler = (org.kind != OrgKind::Authority && !principal.is_operator()).then_some(org.id);
        let (orgs, calendar) = (self.org_map().await?, self.calendar().await?);
        let mut out = Vec::new();
        for c in self.store.list_complaints(handler).await? {
            if authz::check(principal, Self::complaint_action(&c)).is_ok() {
                out.push(self.complaint_view(principal, c, &orgs, &calendar)?);
            }
        }
        Ok(out)
    }

    /// A case's attachment, for those handling it.
    pub async fn complaint_attachment(
        &self,
        principal: &Principal,
        id: ComplaintId,
    ) -> Result<(AttachmentRef, Vec<u8>)> {
        let c = self.store.get_complaint(id).await?;
        self.authorize(principal, Action::HandleComplaint(c.handler))?;
        let meta = c.attachment.clone().ok_or_else(|| ServiceError::NotFound("该投诉举报没有附件".into()))?;
        let data = self.open_attachment(c.id.0, &meta).await?;
        Ok((meta, data))
    }

    /// The departments a complaint can name (names only), for the public form.
    pub async fn complaint_departments(&self) -> Result<Vec<(OrgId, String)>> {
        let mut orgs: Vec<Organisation> = self.store.list_orgs().await?;
        orgs.sort_by(|a, b| (a.region, &a.name).cmp(&(b.region, &b.name)));
        Ok(orgs.into_iter().map(|o| (o.id, o.name)).collect())
    }
}
