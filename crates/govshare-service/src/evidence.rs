//! Tamper evidence (R-SEC-1): verifying the whole log — the chain, the usage records against their seals, the
//! chain against the signed checkpoints, the append-only guards —, signing checkpoints into a file outside the
//! database, and exporting one record's evidence for offline verification.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use govshare_domain::audit::{AuditEvent, AuditRecord, ChainBreak, ChainHead, ChainVerifier};
use govshare_domain::authz::Action;
use govshare_domain::evidence::{
    Checkpoint, EVIDENCE_FORMAT, Evidence, EvidenceSubject, LogVerifier, StoredUsage, UsageSeal, check_sealed_batch,
};
use govshare_domain::merkle;
use govshare_domain::principal::Principal;
use serde_json::json;
use uuid::Uuid;

use crate::{Result, ServiceError, Services};

/// The file, inside the checkpoint directory, that signed checkpoints are appended to (one JSON object a line).
pub const CHECKPOINT_FILE: &str = "checkpoints.jsonl";

const PAGE: u32 = 1000;
/// Usage rows read per query while verifying (the seals of one page of audit records are grouped up to this).
const USAGE_ROWS_PER_READ: u64 = 20_000;

/// The node's signed checkpoints: an append-only file outside the database.
#[derive(Debug)]
pub struct CheckpointLog {
    file: PathBuf,
    node: String,
    /// The newest checkpoint this process wrote or read; serialises appends.
    newest: Mutex<Option<Checkpoint>>,
}

impl CheckpointLog {
    pub fn new(dir: &Path, node: &str) -> CheckpointLog {
        CheckpointLog { file: dir.join(CHECKPOINT_FILE), node: node.to_owned(), newest: Mutex::new(None) }
    }

    pub fn file(&self) -> &Path {
        &self.file
    }

    /// Every checkpoint in the file, oldest first; none when the file does not exist yet.
    pub fn read(&self) -> Result<Vec<Checkpoint>> {
        let text = match std::fs::read_to_string(&self.file) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(internal(format!("cannot read the checkpoint file {}: {e}", self.file.display()))),
        };
        let checkpoints = text
            .lines()
            .enumerate()
            .filter(|(_, line)| !line.trim().is_empty())
            .map(|(i, line)| {
                serde_json::from_str(line).map_err(|e| {
                    internal(format!(
                        "line {} of the checkpoint file {} is not a checkpoint: {e}",
                        i + 1,
                        self.file.display()
                    ))
                })
            })
            .collect::<Result<Vec<Checkpoint>>>()?;
        if let Some(last) = checkpoints.iter().max_by_key(|c| c.seq) {
            let mut newest = self.newest.lock().expect("not poisoned");
            if newest.as_ref().is_none_or(|n| n.seq < last.seq) {
                *newest = Some(last.clone());
            }
        }
        Ok(checkpoints)
    }

    pub(crate) fn newest(&self) -> Result<Option<Checkpoint>> {
        if let Some(c) = self.newest.lock().expect("not poisoned").clone() {
            return Ok(Some(c));
        }
        Ok(self.read()?.into_iter().max_by_key(|c| c.seq))
    }

    /// Appends one line and flushes it to disk before returning.
    fn append(&self, checkpoint: &Checkpoint) -> Result<()> {
        let mut newest = self.newest.lock().expect("not poisoned");
        if let Some(dir) = self.file.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| internal(format!("cannot create the checkpoint directory {}: {e}", dir.display())))?;
        }
        let mut line = serde_json::to_string(checkpoint).expect("a checkpoint serialises");
        line.push('\n');
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.file)
            .and_then(|mut f| f.write_all(line.as_bytes()).and(f.sync_data()).map(|_| f))
            .map_err(|e| internal(format!("cannot write the checkpoint file {}: {e}", self.file.display())))?;
        let _ = file.flush();
        *newest = Some(checkpoint.clone());
        Ok(())
    }
}

fn internal(message: String) -> ServiceError {
    ServiceError::Internal(message.into())
}

/// The outcome of `audit verify`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditVerification {
    /// Records checked and found intact, from the first.
    pub verified: i64,
    /// The first break, if any.
    pub first_break: Option<ChainBreak>,
    /// Append-only guards (database triggers) that are missing, altered or disabled.
    pub missing_guards: Vec<String>,
    /// How many signed checkpoints the chain was held to; `None` when the node keeps no checkpoint file.
    pub checkpoints: Option<usize>,
    /// Usage records checked against their seals.
    pub usage_records: u64,
    /// Usage records sealed in the chain that left the database in an archive, accepted by their archive's list
    /// of batches (itself held to the chain's `usage.archive` record).
    pub usage_archived: u64,
    /// Archive files checked (`audit verify --archives DIR`), and what was wrong with any of them.
    pub archive_files: usize,
    pub archive_problems: Vec<String>,
}

impl AuditVerification {
    pub fn is_intact(&self) -> bool {
        self.first_break.is_none() && self.missing_guards.is_empty() && self.archive_problems.is_empty()
    }
}

impl Services {
    /// The node's checkpoint file, when it keeps one.
    pub fn with_checkpoints(mut self, log: CheckpointLog) -> Self {
        self.checkpoints = Some(std::sync::Arc::new(log));
        self
    }

    pub fn checkpoint_log(&self) -> Option<&CheckpointLog> {
        self.checkpoints.as_deref()
    }

    /// Walks the whole log: the chain from its first record, every usage batch against its seal, the chain against
    /// every signed checkpoint, the head; and reports missing append-only guards.
    pub async fn verify_audit(&self, principal: &Principal) -> Result<AuditVerification> {
        self.verify_audit_with(principal, None).await
    }

    /// [`Services::verify_audit`], and when `archives` names the directory of the node's usage archives, each
    /// archive the chain records there: its signature, its links, its batches against their seals, and that it is
    /// the file the chain recorded.
    pub async fn verify_audit_with(&self, principal: &Principal, archives: Option<&Path>) -> Result<AuditVerification> {
        self.verify_audit_against(principal, archives, false).await
    }

    /// [`Services::verify_audit_with`], holding the chain also to the checkpoints this node's parent witnessed
    /// (fetched from it, signed messages both ways): an insider who rewound the chain and the local checkpoint
    /// file together is still found.
    pub async fn verify_audit_against(
        &self,
        principal: &Principal,
        archives: Option<&Path>,
        witnessed: bool,
    ) -> Result<AuditVerification> {
        self.authorize(principal, Action::ViewAudit)?;
        let missing_guards = self.store.missing_guards().await?;
        let mut checkpoints = match &self.checkpoints {
            Some(log) => Some(log.read()?),
            None => None,
        };
        if witnessed {
            let mut all = checkpoints.unwrap_or_default();
            all.extend(self.witnessed_by_parent().await?);
            all.sort_by_key(|c| c.seq);
            all.dedup();
            checkpoints = Some(all);
        }
        let mut outcome = AuditVerification {
            verified: 0,
            first_break: None,
            missing_guards,
            checkpoints: checkpoints.as_ref().map(Vec::len),
            usage_records: 0,
            usage_archived: 0,
            archive_files: 0,
            archive_problems: Vec::new(),
        };
        let mut recorded: BTreeMap<NaiveDate, RecordedArchive> = BTreeMap::new();
        let mut verifier =
            match LogVerifier::new(checkpoints.as_deref().unwrap_or_default(), &self.keys.public_key_hex()) {
                Ok(v) => v,
                Err(first_break) => {
                    outcome.first_break = Some(first_break);
                    return Ok(outcome);
                }
            };
        let mut pending: Vec<(i64, UsageSeal)> = Vec::new();
        let mut after = 0;
        loop {
            let page = self.store.audit_records(after, PAGE).await?;
            for record in &page {
                match verifier.push(record) {
                    Err(first_break) => {
                        if let Err(usage_break) = self.check_seals(&mut pending, &mut outcome).await? {
                            return Ok(broken(outcome, usage_break));
                        }
                        outcome.verified = verifier.verified();
                        outcome.first_break = Some(first_break);
                        return Ok(outcome);
                    }
                    Ok(Some(seal)) => pending.push((record.seq, seal)),
                    Ok(None) => {
                        if let Some(archive) = RecordedArchive::from_record(record) {
                            recorded.insert(archive.month, archive);
                        }
                    }
                }
                if pending.iter().map(|(_, s)| s.count).sum::<u64>() >= USAGE_ROWS_PER_READ
                    && let Err(usage_break) = self.check_seals(&mut pending, &mut outcome).await?
                {
                    return Ok(broken(outcome, usage_break));
                }
            }
            match page.last() {
                Some(last) if page.len() == PAGE as usize => after = last.seq,
                _ => break,
            }
        }
        if let Err(usage_break) = self.check_seals(&mut pending, &mut outcome).await? {
            return Ok(broken(outcome, usage_break));
        }
        outcome.verified = verifier.verified();
        let usage_rows = self.store.usage_count().await?;
        if let Err(first_break) = verifier.finish(self.store.audit_head().await?, usage_rows) {
            outcome.first_break = Some(first_break);
            return Ok(outcome);
        }
        if let Err(archive_break) = self.check_archives(&recorded, outcome.verified).await? {
            outcome.first_break = Some(archive_break);
            return Ok(outcome);
        }
        if let Some(dir) = archives {
            let key = self.keys.public_key_hex();
            let mut previous: Option<String> = None;
            for archive in recorded.values() {
                let path = dir.join(govshare_domain::usage_archive::archive_file_name(archive.month));
                outcome.archive_files += 1;
                let problem = match crate::archive::verify_archive_file(&path, Some(&key), Some(previous.as_deref())) {
                    Err(e) => Some(format!("{}: {e}", path.display())),
                    Ok((v, _)) if v.link != archive.link => {
                        Some(format!("{}: not the archive the chain recorded (record {})", path.display(), archive.seq))
                    }
                    Ok(_) => None,
                };
                outcome.archive_problems.extend(problem);
                previous = Some(archive.link.clone());
            }
        }
        Ok(outcome)
    }

    /// Holds the store's archived months and their lists of batches to the chain's `usage.archive` records.
    async fn check_archives(
        &self,
        recorded: &BTreeMap<NaiveDate, RecordedArchive>,
        last_seq: i64,
    ) -> Result<std::result::Result<(), ChainBreak>> {
        let registry: BTreeMap<NaiveDate, String> =
            self.store.usage_archives().await?.into_iter().map(|a| (a.month, a.link)).collect();
        let mut months: std::collections::BTreeSet<NaiveDate> = registry.keys().copied().collect();
        months.extend(self.store.archived_batch_months().await?);
        months.extend(recorded.keys().copied());
        for month in months {
            let Some(archive) = recorded.get(&month) else {
                return Ok(Err(ChainBreak::ArchiveUnrecorded { month, last_seq }));
            };
            let mismatch = Err(ChainBreak::ArchiveMismatch { seq: archive.seq, month });
            if registry.get(&month) != Some(&archive.link) {
                return Ok(mismatch);
            }
            let mut listed = Vec::new();
            let mut after = None;
            loop {
                let page = self.store.archived_batches_of(month, after, 10_000).await?;
                let Some(last) = page.last() else { break };
                after = Some(last.0);
                listed.extend(page);
            }
            if govshare_domain::usage_archive::batches_digest(&listed) != archive.batches_digest {
                return Ok(mismatch);
            }
        }
        Ok(Ok(()))
    }

    /// Checks the usage rows of the pending seals (in chain order) and clears them. A seal whose rows have all
    /// left the database is accepted when an archive lists its batch with its count.
    async fn check_seals(
        &self,
        pending: &mut Vec<(i64, UsageSeal)>,
        outcome: &mut AuditVerification,
    ) -> Result<std::result::Result<(), ChainBreak>> {
        if pending.is_empty() {
            return Ok(Ok(()));
        }
        let batches: Vec<Uuid> = pending.iter().map(|(_, s)| s.batch).collect();
        let mut rows: HashMap<Uuid, Vec<StoredUsage>> = HashMap::new();
        for (batch, row) in self.store.sealed_usage(&batches).await? {
            rows.entry(batch).or_default().push(row);
        }
        let gone: Vec<Uuid> = batches.iter().filter(|b| !rows.contains_key(b)).copied().collect();
        let archived: HashMap<Uuid, u64> = if gone.is_empty() {
            HashMap::new()
        } else {
            self.store.archived_batches(&gone).await?.into_iter().map(|(b, _, n)| (b, n)).collect()
        };
        for (seq, seal) in std::mem::take(pending) {
            let batch = rows.remove(&seal.batch).unwrap_or_default();
            if batch.is_empty() && seal.count > 0 && archived.get(&seal.batch) == Some(&seal.count) {
                outcome.usage_archived += seal.count;
                continue;
            }
            if let Err(b) = check_sealed_batch(seq, &seal, &batch) {
                return Ok(Err(b));
            }
            outcome.usage_records += seal.count;
        }
        Ok(Ok(()))
    }

    /// The append-only guards missing from the database (the server refuses to start without them).
    pub async fn missing_guards(&self) -> Result<Vec<String>> {
        Ok(self.store.missing_guards().await?)
    }

    /// Recreates missing append-only guards (audited); returns what was restored.
    pub async fn restore_guards(&self, principal: &Principal) -> Result<Vec<String>> {
        self.authorize(principal, Action::ManageOrganisations)?;
        let missing = self.store.missing_guards().await?;
        if missing.is_empty() {
            return Ok(missing);
        }
        let audit = AuditEvent::new(
            principal.audit_name(),
            principal.org_id(),
            "audit.guards.restore",
            "database",
            "append-only-guards",
            json!({ "restored": missing }),
        );
        Ok(self.store.restore_guards(&audit).await?)
    }

    /// Signs the chain head now, on demand.
    pub async fn checkpoint(&self, principal: &Principal) -> Result<Option<Checkpoint>> {
        self.authorize(principal, Action::ViewAudit)?;
        self.checkpoint_head().await
    }

    /// Signs the chain head and appends the checkpoint to the file, unless the newest checkpoint already names
    /// the head (then that one is the answer) or the chain is empty (`None`). Refuses to sign a head the chain
    /// since the newest checkpoint does not lead to: signing would launder a rewrite.
    pub async fn checkpoint_head(&self) -> Result<Option<Checkpoint>> {
        let log = self.checkpoints.as_ref().ok_or_else(|| {
            ServiceError::Conflict("本节点未配置检查点目录（audit.checkpoint_dir），无法签署检查点".into())
        })?;
        let Some(head) = self.store.audit_head().await? else {
            return Ok(None);
        };
        let newest = log.newest()?;
        if let Some(c) = &newest
            && c.seq == head.seq
            && c.hash == head.hash
        {
            return Ok(newest);
        }
        if let Err(problem) = self.chain_leads_to(newest.as_ref(), head).await? {
            tracing::error!(%problem, "the audit chain is broken; no checkpoint is signed");
            return Err(ServiceError::Conflict(format!("审计链已被篡改，拒绝签署检查点：{problem}")));
        }
        let mut checkpoint = Checkpoint::unsigned(&log.node, head, self.now(), &self.keys.public_key_hex());
        checkpoint.signature = self.keys.sign(&checkpoint.message());
        log.append(&checkpoint)?;
        Ok(Some(checkpoint))
    }

    /// Whether the records from the checkpoint (or from the first record) link up to `head`.
    async fn chain_leads_to(
        &self,
        from: Option<&Checkpoint>,
        head: ChainHead,
    ) -> Result<std::result::Result<(), ChainBreak>> {
        let Some(from) = from else {
            let mut verifier = ChainVerifier::default();
            let mut after = 0;
            loop {
                let page = self.store.audit_records(after, PAGE).await?;
                for record in &page {
                    if let Err(b) = verifier.push(record) {
                        return Ok(Err(b));
                    }
                }
                match page.last() {
                    Some(last) if page.len() == PAGE as usize => after = last.seq,
                    _ => return Ok(verifier.finish(Some(head)).map(|_| ())),
                }
            }
        };
        if head.seq < from.seq {
            return Ok(Err(ChainBreak::BehindCheckpoint { last_seq: head.seq, checkpoint_seq: from.seq }));
        }
        let mut prev: Option<AuditRecord> = None;
        let mut after = from.seq - 1;
        loop {
            let page = self.store.audit_records(after, PAGE).await?;
            for record in page.iter().take_while(|r| r.seq <= head.seq) {
                let linked = match &prev {
                    None => record.seq == from.seq && record.hash == from.hash,
                    Some(p) => record.seq == p.seq + 1 && record.prev_hash == p.hash,
                };
                if !linked {
                    return Ok(Err(ChainBreak::CheckpointMismatch { seq: record.seq }));
                }
                if record.compute_hash() != record.hash {
                    return Ok(Err(ChainBreak::Altered { seq: record.seq }));
                }
                prev = Some(record.clone());
            }
            match page.last() {
                Some(last) if page.len() == PAGE as usize && last.seq < head.seq => after = last.seq,
                _ => break,
            }
        }
        Ok(match prev {
            Some(p) if p.seq == head.seq && p.hash == head.hash => Ok(()),
            Some(p) => Err(ChainBreak::HeadMismatch { head_seq: p.seq }),
            None => Err(ChainBreak::CheckpointMismatch { seq: from.seq }),
        })
    }

    /// The evidence file of one usage record: its document, its Merkle proof to its batch's seal, the chain from
    /// the seal to a signed checkpoint (signed now if none covers it) and the checkpoint.
    pub async fn usage_evidence(&self, principal: &Principal, id: Uuid) -> Result<Evidence> {
        self.authorize(principal, Action::ViewAudit)?;
        let (batch, position) = self
            .store
            .usage_seal_of(id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("没有编号为 {id} 的已封存使用记录")))?;
        let seal_record = self
            .store
            .seal_record(batch)
            .await?
            .ok_or_else(|| ServiceError::Conflict(format!("使用记录 {id} 所属批次没有封存记录，不能出具证据")))?;
        let seal = match UsageSeal::from_record(&seal_record) {
            Some(Ok(seal)) => seal,
            _ => return Err(ServiceError::Conflict(format!("审计记录 {} 不是有效的封存记录", seal_record.seq))),
        };
        let rows: Vec<StoredUsage> =
            self.store.sealed_usage(&[batch]).await?.into_iter().filter(|(b, _)| *b == batch).map(|(_, r)| r).collect();
        check_sealed_batch(seal_record.seq, &seal, &rows)
            .map_err(|b| ServiceError::Conflict(format!("使用记录所属批次已被篡改，不能出具证据：{b}")))?;
        let leaves: Vec<_> = rows.iter().map(|r| merkle::leaf_hash(r.document.as_bytes())).collect();
        let index = usize::try_from(position).unwrap_or(usize::MAX);
        let merkle_path = merkle::inclusion_proof(&leaves, index)
            .ok_or_else(|| ServiceError::Conflict(format!("使用记录 {id} 的批次位置无效")))?;
        let subject = EvidenceSubject::UsageRecord {
            document: rows[index].document.clone(),
            position: index as u64,
            merkle_path,
        };
        self.evidence(principal, subject, seal_record.seq, json!({ "usage_record": id })).await
    }

    /// The evidence file of one audit record: the chain from it to a signed checkpoint and the checkpoint.
    pub async fn audit_evidence(&self, principal: &Principal, seq: i64) -> Result<Evidence> {
        self.authorize(principal, Action::ViewAudit)?;
        self.evidence(principal, EvidenceSubject::AuditRecord { seq }, seq, json!({ "audit_record": seq })).await
    }

    async fn evidence(
        &self,
        principal: &Principal,
        subject: EvidenceSubject,
        first_seq: i64,
        what: serde_json::Value,
    ) -> Result<Evidence> {
        let log = self.checkpoints.as_ref().ok_or_else(|| {
            ServiceError::Conflict("本节点未配置检查点目录（audit.checkpoint_dir），无法出具证据".into())
        })?;
        let covering = log.read()?.into_iter().filter(|c| c.seq >= first_seq).min_by_key(|c| c.seq);
        let checkpoint = match covering {
            Some(c) => c,
            None => self
                .checkpoint_head()
                .await?
                .filter(|c| c.seq >= first_seq)
                .ok_or_else(|| ServiceError::NotFound(format!("审计记录 {first_seq} 不存在")))?,
        };
        let mut chain = Vec::new();
        let mut after = first_seq - 1;
        while after < checkpoint.seq {
            let page = self.store.audit_records(after, PAGE).await?;
            let Some(last) = page.last().map(|r| r.seq) else { break };
            chain.extend(page.into_iter().filter(|r| r.seq <= checkpoint.seq));
            after = last;
        }
        let evidence = Evidence { format: EVIDENCE_FORMAT.into(), subject, chain, checkpoint };
        evidence
            .verify(Some(&self.keys.public_key_hex()))
            .map_err(|e| ServiceError::Conflict(format!("数据库中的审计记录与签名检查点不一致，不能出具证据：{e}")))?;
        let mut detail = what;
        detail["checkpoint_seq"] = json!(evidence.checkpoint.seq);
        let audit = AuditEvent::new(
            principal.audit_name(),
            principal.org_id(),
            "audit.evidence.export",
            "audit",
            first_seq,
            detail,
        );
        self.store.append_audit(&audit).await?;
        Ok(evidence)
    }
}

/// A `usage.archive` record of the chain: what the node recorded of one month's archive.
#[derive(Debug, Clone)]
struct RecordedArchive {
    seq: i64,
    month: NaiveDate,
    link: String,
    batches_digest: String,
}

impl RecordedArchive {
    fn from_record(record: &AuditRecord) -> Option<RecordedArchive> {
        use govshare_domain::usage_archive::{ARCHIVE_ACTION, MONTH_OBJECT};
        if record.action != ARCHIVE_ACTION || record.object_type != MONTH_OBJECT {
            return None;
        }
        let detail: serde_json::Value = serde_json::from_str(&record.detail).ok()?;
        Some(RecordedArchive {
            seq: record.seq,
            month: record.object_id.parse().ok()?,
            link: detail["link"].as_str()?.to_owned(),
            batches_digest: detail["batches_digest"].as_str()?.to_owned(),
        })
    }
}

fn broken(mut outcome: AuditVerification, usage_break: ChainBreak) -> AuditVerification {
    outcome.verified = usage_break.seq() - 1;
    outcome.first_break = Some(usage_break);
    outcome
}
