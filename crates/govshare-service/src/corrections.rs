//! Corrections (校核申请, Art. 26, R-QC-1): a requester's request on one record it received, the provider's
//! answer within 10 working days, the provider's own corrections; the record is marked disputed for every grant
//! while a request is open, and a corrected record reaches every grant through the change feed.

use std::collections::BTreeMap;

use govshare_domain::ValidationError;
use govshare_domain::attachment::{self, AttachmentRef};
use govshare_domain::audit::AuditEvent;
use govshare_domain::authz::Action;
use govshare_domain::catalog::EntryId;
use govshare_domain::correction::{
    AnswerInput, CheckedAnswer, Correction, CorrectionAnswer, CorrectionEvent, CorrectionId, CorrectionInput,
    CorrectionRequest, CorrectionStats, CorrectionSubject, Outcome, ValueChange, stats,
};
use govshare_domain::duty::correction_duties;
use govshare_domain::grant::mask_value;
use govshare_domain::notification::Notification;
use govshare_domain::org::{OrgId, OrgKind, Organisation};
use govshare_domain::principal::Principal;
use govshare_domain::record::Record;
use govshare_store::StoredRecord;
use serde::Serialize;
use serde_json::json;

use crate::crypto::sm3_hex;
use crate::data::SourceContext;
use crate::{Result, ServiceError, Services};

/// A file sent with a request or a complaint: its name as sent and its bytes.
#[derive(Debug, Clone)]
pub struct Upload {
    pub name: String,
    pub data: Vec<u8>,
}

/// A case with the names people read and, for the parties' staff, what it says about the record.
#[derive(Debug, Clone, Serialize)]
pub struct CorrectionView {
    pub correction: Correction,
    pub entry_name: String,
    pub provider_name: String,
    pub requester_name: Option<String>,
    /// The key and the values (claimed, old, new): for the two departments' staff only, never for the
    /// authority's supervision.
    pub subject: Option<CorrectionSubject>,
    /// The answer's due date (北京时间) and whether it is (or was) late.
    pub due_on: Option<chrono::NaiveDate>,
    pub late: bool,
}

/// Correction figures by department and by entry, over the cases the caller may read.
#[derive(Debug, Clone, Serialize)]
pub struct CorrectionFigures {
    pub departments: Vec<FigureRow>,
    pub entries: Vec<FigureRow>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FigureRow {
    /// The department's or entry's id.
    pub id: uuid::Uuid,
    pub name: String,
    pub stats: CorrectionStats,
}

impl Services {
    pub(crate) fn seal<T: Serialize>(&self, value: &T) -> Result<String> {
        let plain = serde_json::to_vec(value).map_err(|e| ServiceError::Internal(Box::new(e)))?;
        Ok(hex::encode(self.keys.encrypt(&plain)))
    }

    pub(crate) fn unseal<T: serde::de::DeserializeOwned>(&self, sealed: &str) -> Result<T> {
        let bytes = hex::decode(sealed).map_err(|e| ServiceError::Internal(Box::new(e)))?;
        let plain = self
            .keys
            .decrypt(&bytes)
            .ok_or_else(|| ServiceError::Internal("a sealed case does not decrypt with the node key".into()))?;
        serde_json::from_slice(&plain).map_err(|e| ServiceError::Internal(Box::new(e)))
    }

    /// Checks an upload and seals it for the store: its reference and the sealed bytes.
    pub(crate) fn seal_upload(
        &self,
        field: &'static str,
        upload: Option<&Upload>,
    ) -> Result<Option<(AttachmentRef, Vec<u8>)>> {
        let Some(upload) = upload else { return Ok(None) };
        let (name, content_type) = attachment::check(field, &upload.name, &upload.data)?;
        let meta = AttachmentRef {
            id: uuid::Uuid::now_v7(),
            name,
            content_type: content_type.to_owned(),
            bytes: upload.data.len() as u64,
            sm3: sm3_hex(&upload.data),
        };
        Ok(Some((meta, self.keys.encrypt(&upload.data))))
    }

    /// An attachment's bytes, opened.
    pub(crate) async fn open_attachment(&self, owner: uuid::Uuid, meta: &AttachmentRef) -> Result<Vec<u8>> {
        let sealed = self
            .store
            .get_attachment(owner, meta.id)
            .await?
            .ok_or_else(|| ServiceError::NotFound("附件不存在".into()))?;
        self.keys.decrypt(&sealed).ok_or_else(|| ServiceError::Internal("an attachment does not decrypt".into()))
    }

    fn correction_action(c: &Correction, orgs: &std::collections::HashMap<OrgId, Organisation>) -> Action {
        let region = |id: OrgId| orgs.get(&id).map_or(c.region, |o| o.region);
        let requester = c.requester.unwrap_or(c.provider);
        Action::ViewCase { parties: [requester, c.provider], regions: [region(requester), c.region] }
    }

    /// The requester files a request on a record it received under one of its grants: the record is marked
    /// disputed for every grant at once, and the provider owes an answer within 10 working days.
    pub async fn file_correction(
        &self,
        principal: &Principal,
        input: &CorrectionInput,
        upload: Option<&Upload>,
    ) -> Result<Correction> {
        let request = CorrectionRequest::parse(input)?;
        let grant = self.load_grant(request.grant).await.map_err(|e| match e {
            ServiceError::NotFound(_) => ValidationError::new("grant", "not_found", "共享授权不存在").into(),
            other => other,
        })?;
        self.authorize(principal, Action::PrepareSharing(grant.requester))?;
        let ctx = self.source_context(grant.entry).await?;
        let mut problems = Vec::new();
        for (i, claim) in request.claims.iter().enumerate() {
            if grant.item(&claim.item).is_none() {
                problems.push(ValidationError::new(
                    format!("claims[{i}].item"),
                    "not_granted",
                    format!("数据项「{}」不在该共享授权范围内", claim.item),
                ));
            }
        }
        if !problems.is_empty() {
            return Err(problems.into());
        }
        let record = self.fetch_record(&grant, &ctx, &request.key).await?.filter(|r| grant.in_scope(r));
        if record.is_none() {
            return Err(ValidationError::new("key", "no_record", "该共享授权范围内没有这一主键的记录").into());
        }
        let record_key = self.lookup_key(grant.entry, &request.key);
        let open = self.store.list_corrections(Some(grant.entry), Some(grant.requester)).await?;
        if let Some(same) = open.iter().find(|c| c.is_open() && c.record_key == record_key) {
            return Err(ServiceError::Conflict(format!("该记录已有核实中的校核申请 {}，请等待答复", same.number)));
        }
        let attachment = self.seal_upload("attachment", upload)?;
        let provider = self.store.get_org(grant.provider).await?;
        let key_item = ctx.content.items.iter().find(|i| i.code == ctx.source.kind.key_item());
        let now = self.now();
        let subject = CorrectionSubject { key: request.key.clone(), claims: request.claims.clone(), changes: vec![] };
        let mut correction = Correction {
            id: CorrectionId::new(),
            number: String::new(),
            entry: grant.entry,
            provider: grant.provider,
            region: provider.region,
            requester: Some(grant.requester),
            grant: Some(grant.id),
            record_key,
            key_hint: mask_value(key_item.and_then(|i| i.personal_info), &request.key),
            items: request.claims.iter().map(|c| c.item.clone()).collect(),
            evidence: request.evidence,
            checked_against: request.checked_against,
            attachment: attachment.as_ref().map(|(m, _)| m.clone()),
            sealed: self.seal(&subject)?,
            received_at: now,
            events: vec![CorrectionEvent {
                at: now,
                actor: principal.audit_name(),
                org: grant.requester,
                step: "file".into(),
                text: "提出校核申请".into(),
            }],
            answer: None,
        };
        let duties = correction_duties(&correction, &ctx.content.name, &self.calendar().await?);
        let requester = self.store.get_org(grant.requester).await?;
        let link = format!("/console/corrections/{}", correction.id);
        let notes = vec![Notification::new(
            grant.provider,
            now,
            "correction.file",
            format!("{}提出校核申请：{}", requester.name, ctx.content.name),
            format!(
                "{}认为「{}」的一条记录不准确或不完整（数据项：{}），请自收到之日起 10 个工作日内核实、更正并反馈（第二十六条）。",
                requester.name,
                ctx.content.name,
                correction.items.join("、")
            ),
            link,
        )];
        let audit = AuditEvent::new(
            principal.audit_name(),
            principal.org_id(),
            "correction.file",
            "correction",
            correction.id.to_string(),
            json!({ "grant": grant.id, "entry": grant.entry, "items": correction.items,
                    "attachment": correction.attachment.as_ref().map(|a| &a.sm3) }),
        );
        let stored = attachment.as_ref().map(|(m, d)| (m, d.as_slice()));
        self.store.create_correction(&mut correction, stored, None, &duties, &notes, &audit).await?;
        self.forget_marks(correction.entry);
        Ok(correction)
    }

    /// The record as it is (hosted sources), for the answer's checks.
    async fn current_record(&self, ctx: &SourceContext, c: &Correction) -> Result<Option<Record>> {
        if !ctx.source.kind.is_hosted() {
            return Ok(None);
        }
        self.hosted_record_at(ctx, c.entry, &c.record_key).await
    }

    /// The provider answers: corrected (the new values are written, and so reach every grant), confirmed, or
    /// partly; the disputed mark is lifted in the same step.
    pub async fn answer_correction(
        &self,
        principal: &Principal,
        id: CorrectionId,
        input: &AnswerInput,
    ) -> Result<Correction> {
        let mut c = self.store.get_correction(id).await?;
        self.authorize(principal, Action::PrepareSharing(c.provider))?;
        if !c.is_open() {
            return Err(ServiceError::OutOfTurn {
                code: "correction_answered", message: "该校核申请已答复".into()
            });
        }
        let ctx = self.source_context(c.entry).await?;
        let current = self.current_record(&ctx, &c).await?;
        if ctx.source.kind.is_hosted() && current.is_none() {
            return Err(ServiceError::Conflict(
                "该记录已不在数据源中（已删除或替换），请选择「经核实无误」并说明情况".into(),
            ));
        }
        let answer = CheckedAnswer::parse(input, &ctx.content.items, ctx.source.kind.key_item(), current.as_ref())?;
        let mut subject: CorrectionSubject = self.unseal(&c.sealed)?;
        let record = self.apply_values(&ctx, &c.record_key, current, &answer, &mut subject);
        let now = self.now();
        let expected = c.events.len();
        c.sealed = self.seal(&subject)?;
        c.events.push(CorrectionEvent {
            at: now,
            actor: principal.audit_name(),
            org: c.provider,
            step: "answer".into(),
            text: answer.outcome.label().into(),
        });
        c.answer = Some(CorrectionAnswer {
            outcome: answer.outcome,
            reasons: answer.reasons.clone(),
            changed_items: answer.values.iter().map(|(k, _)| k.clone()).collect(),
            applied_seq: None,
            at: now,
        });
        let duties = correction_duties(&c, &ctx.content.name, &self.calendar().await?);
        let mut notes = Vec::new();
        if let Some(requester) = c.requester {
            notes.push(Notification::new(
                requester,
                now,
                "correction.answer",
                format!("校核申请 {} 已答复：{}", c.number, answer.outcome.label()),
                format!(
                    "「{}」的校核申请 {} 结果：{}。{}",
                    ctx.content.name,
                    c.number,
                    answer.outcome.label(),
                    answer.reasons
                ),
                format!("/console/corrections/{}", c.id),
            ));
        }
        let audit = AuditEvent::new(
            principal.audit_name(),
            principal.org_id(),
            "correction.answer",
            "correction",
            c.id.to_string(),
            json!({ "outcome": answer.outcome, "changed_items": c.answer.as_ref().map(|a| &a.changed_items) }),
        );
        self.store.save_correction(&mut c, expected, record.as_ref(), &duties, &notes, &audit).await?;
        self.forget_marks(c.entry);
        Ok(c)
    }

    /// The new values applied to the hosted record (its new stored form), with the changes kept in the subject.
    fn apply_values(
        &self,
        ctx: &SourceContext,
        record_key: &str,
        current: Option<Record>,
        answer: &CheckedAnswer,
        subject: &mut CorrectionSubject,
    ) -> Option<StoredRecord> {
        let mut record = current.clone();
        for (item, new) in &answer.values {
            let old = current.as_ref().and_then(|r| r.get(item)).cloned().unwrap_or(serde_json::Value::Null);
            subject.changes.push(ValueChange { item: item.clone(), old, new: new.clone() });
            if let Some(r) = record.as_mut() {
                r.insert(item.clone(), new.clone());
            }
        }
        match record {
            Some(r) if !answer.values.is_empty() => {
                let scope_item = ctx.source.kind.scope_item();
                Some(crate::data::stored_record(
                    &self.keys,
                    ctx.source.encrypted,
                    scope_item,
                    record_key.to_owned(),
                    &r,
                ))
            }
            _ => None,
        }
    }

    /// A provider corrects a hosted record of its own on its own initiative (with the reasons): the record is
    /// written at once and reaches every grant through the change feed.
    pub async fn correct_record(
        &self,
        principal: &Principal,
        entry: EntryId,
        key: &str,
        values: &BTreeMap<String, String>,
        reasons: &str,
    ) -> Result<Correction> {
        let stored_entry = self.store.get_entry(entry).await?;
        self.authorize(principal, Action::PrepareSharing(stored_entry.provider))?;
        let ctx = self.source_context(entry).await?;
        if !ctx.source.kind.is_hosted() {
            return Err(ServiceError::refused("correction_not_hosted", "接口代理类数据源请在本部门系统中更正"));
        }
        let key = govshare_domain::error::required_text("key", "记录主键", key, 200)?;
        let record_key = self.lookup_key(entry, &key);
        let current = self.hosted_record_at(&ctx, entry, &record_key).await?;
        if current.is_none() {
            return Err(ValidationError::new("key", "no_record", "数据源中没有这一主键的记录").into());
        }
        let input =
            AnswerInput { outcome: Outcome::Corrected.code().into(), reasons: reasons.into(), values: values.clone() };
        let answer = CheckedAnswer::parse(&input, &ctx.content.items, ctx.source.kind.key_item(), current.as_ref())?;
        if answer.reasons.is_empty() {
            return Err(ValidationError::new("reasons", "required", "请说明更正的依据").into());
        }
        let mut subject = CorrectionSubject { key: key.clone(), claims: vec![], changes: vec![] };
        let record = self.apply_values(&ctx, &record_key, current, &answer, &mut subject);
        let provider = self.store.get_org(stored_entry.provider).await?;
        let key_item = ctx.content.items.iter().find(|i| i.code == ctx.source.kind.key_item());
        let now = self.now();
        let mut c = Correction {
            id: CorrectionId::new(),
            number: String::new(),
            entry,
            provider: provider.id,
            region: provider.region,
            requester: None,
            grant: None,
            record_key,
            key_hint: mask_value(key_item.and_then(|i| i.personal_info), &key),
            items: answer.values.iter().map(|(k, _)| k.clone()).collect(),
            evidence: answer.reasons.clone(),
            checked_against: String::new(),
            attachment: None,
            sealed: self.seal(&subject)?,
            received_at: now,
            events: vec![CorrectionEvent {
                at: now,
                actor: principal.audit_name(),
                org: provider.id,
                step: "correct".into(),
                text: "主动更正".into(),
            }],
            answer: Some(CorrectionAnswer {
                outcome: Outcome::Corrected,
                reasons: answer.reasons.clone(),
                changed_items: answer.values.iter().map(|(k, _)| k.clone()).collect(),
                applied_seq: None,
                at: now,
            }),
        };
        let audit = AuditEvent::new(
            principal.audit_name(),
            principal.org_id(),
            "correction.correct",
            "correction",
            c.id.to_string(),
            json!({ "entry": entry, "changed_items": c.items }),
        );
        self.store.create_correction(&mut c, None, record.as_ref(), &[], &[], &audit).await?;
        self.forget_marks(entry);
        Ok(c)
    }

    pub async fn get_correction(&self, principal: &Principal, id: CorrectionId) -> Result<CorrectionView> {
        let c = self.store.get_correction(id).await?;
        let orgs = self.org_map().await?;
        self.authorize(principal, Self::correction_action(&c, &orgs))?;
        self.correction_view(principal, c, &orgs, &self.calendar().await?).await
    }

    async fn correction_view(
        &self,
        principal: &Principal,
        c: Correction,
        orgs: &std::collections::HashMap<OrgId, Organisation>,
        calendar: &govshare_domain::calendar::WorkingCalendar,
    ) -> Result<CorrectionView> {
        let name = |id: OrgId| orgs.get(&id).map_or_else(String::new, |o| o.name.clone());
        let party = principal.org_id().is_some_and(|o| o == c.provider || Some(o) == c.requester);
        let mut subject: Option<CorrectionSubject> = if party { Some(self.unseal(&c.sealed)?) } else { None };
        // The requester sees the record's values only as its grant delivers them (masked, hashed, or not at all):
        // a correction must not become a way round the grant's terms.
        if let (Some(s), Some(grant), false) = (subject.as_mut(), c.grant, principal.org_id() == Some(c.provider)) {
            let grant = self.load_grant(grant).await?;
            let ctx = self.source_context(c.entry).await?;
            let through = |item: &str, value: &serde_json::Value| {
                let record: Record = [(item.to_owned(), value.clone())].into_iter().collect();
                grant.project(&record, &ctx.content).remove(item).unwrap_or(serde_json::Value::Null)
            };
            for change in &mut s.changes {
                change.old = through(&change.item, &change.old);
                change.new = through(&change.item, &change.new);
            }
        }
        let duty = correction_duties(&c, "", calendar).into_iter().next();
        Ok(CorrectionView {
            entry_name: self.entry_name(c.entry).await?,
            provider_name: name(c.provider),
            requester_name: c.requester.map(name),
            subject,
            due_on: duty.as_ref().and_then(|d| d.due_date()),
            late: duty.is_some_and(|d| d.late(self.now())),
            correction: c,
        })
    }

    /// The cases the caller may read: its department's (filed or received), or, for an authority, those of
    /// every department in its region; only `entry`'s when given.
    pub async fn list_corrections(&self, principal: &Principal, entry: Option<EntryId>) -> Result<Vec<CorrectionView>> {
        let org = principal.org.as_ref().ok_or_else(|| ServiceError::Forbidden("未以任何单位身份操作".into()))?;
        // People only: a business system has no case work.
        self.authorize(principal, Action::ViewOwnWork(org.id))?;
        let party = (org.kind != OrgKind::Authority && !principal.is_operator()).then_some(org.id);
        let orgs = self.org_map().await?;
        let calendar = self.calendar().await?;
        let mut out = Vec::new();
        for c in self.store.list_corrections(entry, party).await? {
            if govshare_domain::authz::check(principal, Self::correction_action(&c, &orgs)).is_ok() {
                out.push(self.correction_view(principal, c, &orgs, &calendar).await?);
            }
        }
        Ok(out)
    }

    /// Correction rate and turnaround by providing department and by entry (R-SUP-1), over the readable cases.
    pub async fn correction_figures(&self, principal: &Principal) -> Result<CorrectionFigures> {
        let views = self.list_corrections(principal, None).await?;
        let calendar = self.calendar().await?;
        let now = self.now();
        let mut by_org: BTreeMap<OrgId, (String, Vec<&Correction>)> = BTreeMap::new();
        let mut by_entry: BTreeMap<EntryId, (String, Vec<&Correction>)> = BTreeMap::new();
        for v in &views {
            by_org
                .entry(v.correction.provider)
                .or_insert_with(|| (v.provider_name.clone(), vec![]))
                .1
                .push(&v.correction);
            by_entry.entry(v.correction.entry).or_insert_with(|| (v.entry_name.clone(), vec![])).1.push(&v.correction);
        }
        let rows = |groups: Vec<(uuid::Uuid, (String, Vec<&Correction>))>| -> Vec<FigureRow> {
            groups
                .into_iter()
                .map(|(id, (name, cases))| FigureRow { id, name, stats: stats(cases, &calendar, now) })
                .collect()
        };
        Ok(CorrectionFigures {
            departments: rows(by_org.into_iter().map(|(k, v)| (k.0, v)).collect()),
            entries: rows(by_entry.into_iter().map(|(k, v)| (k.0, v)).collect()),
        })
    }

    /// The record's current values of the entry's items, for the provider's staff answering a case (hosted
    /// sources; `None` for a proxied one, or when the record is gone): (code, name, value) in the entry's order.
    pub async fn correction_record(
        &self,
        principal: &Principal,
        id: CorrectionId,
    ) -> Result<Option<Vec<(String, String, String)>>> {
        let c = self.store.get_correction(id).await?;
        self.authorize(principal, Action::PrepareSharing(c.provider))?;
        let ctx = self.source_context(c.entry).await?;
        let Some(record) = self.current_record(&ctx, &c).await? else { return Ok(None) };
        Ok(Some(
            ctx.content
                .items
                .iter()
                .map(|i| {
                    let v = record.get(&i.code).map(govshare_domain::record::json_to_raw).unwrap_or_default();
                    (i.code.clone(), i.name.clone(), v)
                })
                .collect(),
        ))
    }

    /// An entry's data items (code, name) and key item, for the correction forms.
    pub async fn correction_items(&self, entry: EntryId) -> Result<(Vec<(String, String)>, String)> {
        let ctx = self.source_context(entry).await?;
        Ok((
            ctx.content.items.iter().map(|i| (i.code.clone(), i.name.clone())).collect(),
            ctx.source.kind.key_item().to_owned(),
        ))
    }

    /// A case's attachment, for the two departments' staff.
    pub async fn correction_attachment(
        &self,
        principal: &Principal,
        id: CorrectionId,
    ) -> Result<(AttachmentRef, Vec<u8>)> {
        let c = self.store.get_correction(id).await?;
        let parties = [c.requester.unwrap_or(c.provider), c.provider];
        let region = c.region;
        self.authorize(principal, Action::ViewCase { parties, regions: [region, region] })?;
        if !principal.org_id().is_some_and(|o| parties.contains(&o)) {
            return Err(ServiceError::Forbidden("附件只对校核双方部门可见".into()));
        }
        let meta = c.attachment.clone().ok_or_else(|| ServiceError::NotFound("该校核申请没有附件".into()))?;
        let data = self.open_attachment(c.id.0, &meta).await?;
        Ok((meta, data))
    }
}
