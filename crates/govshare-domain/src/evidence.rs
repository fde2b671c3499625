//! Tamper evidence beyond the chain itself (R-SEC-1):
//!
//! - **usage seals**: each group-commit batch of usage records is sealed by one chained audit record
//!   (`usage.seal`) carrying the batch's count and the SM3 Merkle root over the records' stored documents;
//! - **signed checkpoints**: the node signs the chain head (seq, digest, time, node) with its SM2 key and keeps
//!   the signatures outside the database, so a rewritten, rewound or emptied chain is found;
//! - **evidence files**: one record with its Merkle proof, the chain segment up to a checkpoint and that
//!   checkpoint, verifiable offline by anyone holding the node's public key.
//!
//! Everything here is pure: the service reads and writes, the domain decides.

use std::collections::BTreeMap;

use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use sm2::dsa::signature::Verifier as _;
use uuid::Uuid;

use crate::audit::{AuditEvent, AuditRecord, ChainBreak, ChainHead, ChainVerifier, Digest, hex_digest, hex_digests};
use crate::catalog::EntryId;
use crate::grant::{GrantId, UsageRecord};
use crate::merkle;
use crate::org::OrgId;

/// The action of the audit record that seals a batch of usage records.
pub const USAGE_SEAL_ACTION: &str = "usage.seal";
/// Its object type; the object id is the batch id every usage row of the batch carries.
pub const USAGE_BATCH_OBJECT: &str = "usage_batch";
/// Who seals: the usage log (or the upgrade that sealed the records kept before seals existed).
pub const USAGE_LOG_ACTOR: &str = "system:usage-log";

/// The SM2 distinguishing identifier of the node's signatures (GB/T 35276's default).
pub const SM2_DISTID: &str = "1234567812345678";

/// The stored bytes of a usage record: its JSON document, exactly as the store keeps it and as the Merkle leaf
/// covers it.
pub fn usage_document(record: &UsageRecord) -> String {
    serde_json::to_string(record).expect("a usage record always serialises")
}

/// What one `usage.seal` record says about its batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageSeal {
    pub batch: Uuid,
    pub count: u64,
    pub root: Digest,
    /// The one seal an upgrade makes over the usage records kept before batches were sealed.
    pub legacy: bool,
}

impl UsageSeal {
    /// The seal over `documents`, in their positions 0, 1, 2, ….
    pub fn over<D: AsRef<[u8]>>(batch: Uuid, documents: &[D], legacy: bool) -> UsageSeal {
        let leaves: Vec<Digest> = documents.iter().map(|d| merkle::leaf_hash(d.as_ref())).collect();
        UsageSeal { batch, count: documents.len() as u64, root: merkle::root(&leaves), legacy }
    }

    /// The audit event that seals the batch; it carries no personal data, only the count and the root.
    pub fn event(&self) -> AuditEvent {
        let mut detail = serde_json::json!({ "count": self.count, "merkle_root": hex::encode(self.root) });
        if self.legacy {
            detail["legacy"] = serde_json::Value::Bool(true);
        }
        AuditEvent::new(USAGE_LOG_ACTOR, None, USAGE_SEAL_ACTION, USAGE_BATCH_OBJECT, self.batch, detail)
    }

    /// The seal a record carries: `None` for a record that is not a seal, `Some(Err)` for a seal whose detail
    /// cannot be read.
    pub fn from_record(record: &AuditRecord) -> Option<Result<UsageSeal, ChainBreak>> {
        if record.action != USAGE_SEAL_ACTION || record.object_type != USAGE_BATCH_OBJECT {
            return None;
        }
        let parse = || -> Option<UsageSeal> {
            let detail: serde_json::Value = serde_json::from_str(&record.detail).ok()?;
            Some(UsageSeal {
                batch: record.object_id.parse().ok()?,
                count: detail["count"].as_u64()?,
                root: hex_digest::parse(detail["merkle_root"].as_str()?)?,
                legacy: detail["legacy"].as_bool().unwrap_or(false),
            })
        };
        Some(parse().ok_or(ChainBreak::UsageAltered { seal_seq: record.seq }))
    }
}

/// The columns a store keeps beside a usage record's document so that lists can filter; they must say what the
/// sealed document says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageColumns {
    pub id: Uuid,
    pub at: DateTime<Utc>,
    pub requester: OrgId,
    pub provider: OrgId,
    pub grant: Option<GrantId>,
    pub entry: EntryId,
    pub rows: u64,
}

impl UsageColumns {
    /// The columns of a record; times to the microsecond, the precision both stores keep.
    pub fn of(record: &UsageRecord) -> UsageColumns {
        UsageColumns {
            id: record.id,
            at: record.at.trunc_subsecs(6),
            requester: record.requester,
            provider: record.provider,
            grant: record.grant,
            entry: record.entry,
            rows: record.rows,
        }
    }
}

/// One stored usage row, as verification reads it.
#[derive(Debug, Clone)]
pub struct StoredUsage {
    pub position: i64,
    pub document: String,
    pub columns: UsageColumns,
}

/// Checks the rows a store holds for one seal (ordered by position) against the seal made by record `seal_seq`.
pub fn check_sealed_batch(seal_seq: i64, seal: &UsageSeal, rows: &[StoredUsage]) -> Result<(), ChainBreak> {
    if rows.len() as u64 != seal.count {
        return Err(ChainBreak::UsageCount { seal_seq, expected: seal.count, found: rows.len() as u64 });
    }
    for (i, row) in rows.iter().enumerate() {
        if row.position != i as i64 {
            return Err(ChainBreak::UsageOrder { seal_seq, position: i as i64 });
        }
        let agrees = serde_json::from_str::<UsageRecord>(&row.document)
            .is_ok_and(|record| UsageColumns::of(&record) == row.columns);
        if !agrees {
            return Err(ChainBreak::UsageColumns { seal_seq, usage_id: row.columns.id });
        }
    }
    if UsageSeal::over(seal.batch, &rows.iter().map(|r| r.document.as_bytes()).collect::<Vec<_>>(), seal.legacy).root
        != seal.root
    {
        return Err(ChainBreak::UsageAltered { seal_seq });
    }
    Ok(())
}

// ---- checkpoints ----

/// The node's signature over the chain head at a moment, kept outside the database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The node's name.
    pub node: String,
    pub seq: i64,
    #[serde(with = "hex_digest")]
    pub hash: Digest,
    pub at: DateTime<Utc>,
    /// The signer's SM2 public key (uncompressed SEC1, hex).
    pub public_key: String,
    /// SM2 signature (r ‖ s, hex) over [`Checkpoint::signed_bytes`].
    pub signature: String,
}

const CHECKPOINT_TAG: &[u8] = b"govshare-checkpoint-v1";

impl Checkpoint {
    /// The bytes the node signs: a versioned, length-prefixed encoding of node, seq, digest and time.
    pub fn signed_bytes(node: &str, head: ChainHead, at: DateTime<Utc>) -> Vec<u8> {
        let mut out = Vec::new();
        for field in
            [CHECKPOINT_TAG, node.as_bytes(), &head.seq.to_be_bytes(), &head.hash, &at.timestamp_micros().to_be_bytes()]
        {
            out.extend_from_slice(&(field.len() as u64).to_be_bytes());
            out.extend_from_slice(field);
        }
        out
    }

    /// An unsigned checkpoint of `head` at `at` (to the microsecond); sign its [`Checkpoint::message`].
    pub fn unsigned(node: &str, head: ChainHead, at: DateTime<Utc>, public_key: &str) -> Checkpoint {
        Checkpoint {
            node: node.to_owned(),
            seq: head.seq,
            hash: head.hash,
            at: at.trunc_subsecs(6),
            public_key: public_key.to_owned(),
            signature: String::new(),
        }
    }

    pub fn message(&self) -> Vec<u8> {
        Checkpoint::signed_bytes(&self.node, ChainHead { seq: self.seq, hash: self.hash }, self.at)
    }

    /// Whether the signature verifies with the public key the checkpoint names.
    pub fn signature_valid(&self) -> bool {
        verify_sm2(&self.public_key, &self.message(), &self.signature)
    }
}

/// Verifies an SM2 signature (r ‖ s, hex) of `message` against a public key (SEC1, hex).
pub fn verify_sm2(public_key_hex: &str, message: &[u8], signature_hex: &str) -> bool {
    let (Ok(key), Ok(sig)) = (hex::decode(public_key_hex), hex::decode(signature_hex)) else {
        return false;
    };
    let (Ok(key), Ok(sig)) =
        (sm2::dsa::VerifyingKey::from_sec1_bytes(SM2_DISTID, &key), sm2::dsa::Signature::from_slice(&sig))
    else {
        return false;
    };
    key.verify(message, &sig).is_ok()
}

// ---- verifying the whole log ----

/// Walks the chain like [`ChainVerifier`] and also holds it to the signed checkpoints and hands back the usage
/// seals to check against the stored usage rows.
#[derive(Debug, Clone)]
pub struct LogVerifier {
    chain: ChainVerifier,
    checkpoints: BTreeMap<i64, Digest>,
    sealed: u64,
    seals: u64,
}

impl LogVerifier {
    /// Checks every checkpoint's signature against the node's public key, then starts at the first record.
    pub fn new(checkpoints: &[Checkpoint], node_public_key: &str) -> Result<LogVerifier, ChainBreak> {
        let mut by_seq = BTreeMap::new();
        for c in checkpoints {
            if c.public_key != node_public_key || !c.signature_valid() {
                return Err(ChainBreak::CheckpointSignature { seq: c.seq });
            }
            if by_seq.insert(c.seq, c.hash).is_some_and(|earlier| earlier != c.hash) {
                // Two signed checkpoints name different records at one seq: the chain was rewritten in between.
                return Err(ChainBreak::CheckpointMismatch { seq: c.seq });
            }
        }
        Ok(LogVerifier { chain: ChainVerifier::default(), checkpoints: by_seq, sealed: 0, seals: 0 })
    }

    /// Verifies the next record; returns the usage seal it makes, if it is one.
    pub fn push(&mut self, record: &AuditRecord) -> Result<Option<UsageSeal>, ChainBreak> {
        self.chain.push(record)?;
        if self.checkpoints.get(&record.seq).is_some_and(|hash| *hash != record.hash) {
            return Err(ChainBreak::CheckpointMismatch { seq: record.seq });
        }
        match UsageSeal::from_record(record) {
            None => Ok(None),
            Some(seal) => {
                let seal = seal?;
                if seal.legacy && self.seals > 0 {
                    return Err(ChainBreak::LateLegacySeal { seq: record.seq });
                }
                self.seals += 1;
                self.sealed += seal.count;
                Ok(Some(seal))
            }
        }
    }

    pub fn verified(&self) -> i64 {
        self.chain.verified()
    }

    /// Ends the walk: the head must match, no checkpoint may lie beyond the end, and every stored usage row
    /// (`usage_rows`, the table's count) must belong to a seal.
    pub fn finish(self, head: Option<ChainHead>, usage_rows: u64) -> Result<i64, ChainBreak> {
        let last_seq = self.chain.verified();
        // A head still ahead of the records is reported as truncation by the chain itself.
        let verified = self.chain.finish(head)?;
        if let Some((&checkpoint_seq, _)) = self.checkpoints.last_key_value()
            && checkpoint_seq > last_seq
        {
            return Err(ChainBreak::BehindCheckpoint { last_seq, checkpoint_seq });
        }
        if usage_rows > self.sealed {
            return Err(ChainBreak::UsageUnsealed { count: usage_rows - self.sealed, last_seq });
        }
        Ok(verified)
    }
}

// ---- evidence files ----

/// The format tag of an evidence file.
pub const EVIDENCE_FORMAT: &str = "govshare-evidence-v1";

/// What an evidence file proves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EvidenceSubject {
    /// The first record of the chain segment.
    AuditRecord { seq: i64 },
    /// A usage record: its stored document, its position in the batch that the first record of the segment
    /// seals, and the Merkle path from it to the seal's root.
    UsageRecord {
        document: String,
        position: u64,
        #[serde(with = "hex_digests")]
        merkle_path: Vec<Digest>,
    },
}

/// A self-contained proof that one record is part of a node's audit log, as signed at a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    pub format: String,
    pub subject: EvidenceSubject,
    /// From the record (or the usage record's seal) to the checkpoint's record, in order.
    pub chain: Vec<AuditRecord>,
    pub checkpoint: Checkpoint,
}

/// What a verified evidence file establishes.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedEvidence {
    /// The audit record proven (for a usage record, the seal of its batch).
    pub record: AuditRecord,
    pub usage: Option<UsageRecord>,
    pub checkpoint: Checkpoint,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvidenceError {
    #[error("not a govshare evidence file (format `{0}`)")]
    Format(String),
    #[error("the checkpoint's SM2 signature does not verify: the checkpoint was altered or not signed by its key")]
    Signature,
    #[error("the checkpoint is signed by key {found}, not by the expected key {expected}")]
    UntrustedKey { expected: String, found: String },
    #[error("the chain segment is empty")]
    EmptyChain,
    #[error("record {0} in the chain segment was altered: its content does not match its SM3 digest")]
    Altered(i64),
    #[error("record {0} in the chain segment does not follow the record before it")]
    Unlinked(i64),
    #[error("the chain segment ends at record {found}, not at the checkpoint's record {checkpoint} with its digest")]
    CheckpointMismatch { found: i64, checkpoint: i64 },
    #[error("the evidence names record {expected}, but the chain segment starts at record {found}")]
    WrongRecord { expected: i64, found: i64 },
    #[error("record {0} is not a usage seal")]
    NotASeal(i64),
    #[error("the usage record's document is not a usage record")]
    Document,
    #[error(
        "the usage record is not in the batch sealed by record {0}: its Merkle proof does not reach the sealed root"
    )]
    Inclusion(i64),
}

impl Evidence {
    /// Checks the file without the database: the checkpoint's signature (against `trusted_key` when given,
    /// otherwise against the key the file names), the chain segment's digests and links up to the checkpoint,
    /// and for a usage record its Merkle proof to its seal.
    pub fn verify(&self, trusted_key: Option<&str>) -> Result<VerifiedEvidence, EvidenceError> {
        if self.format != EVIDENCE_FORMAT {
            return Err(EvidenceError::Format(self.format.clone()));
        }
        let checkpoint = &self.checkpoint;
        if let Some(expected) = trusted_key
            && !expected.trim().eq_ignore_ascii_case(&checkpoint.public_key)
        {
            return Err(EvidenceError::UntrustedKey {
                expected: expected.trim().to_owned(),
                found: checkpoint.public_key.clone(),
            });
        }
        if !checkpoint.signature_valid() {
            return Err(EvidenceError::Signature);
        }
        let first = self.chain.first().ok_or(EvidenceError::EmptyChain)?;
        let mut prev: Option<&AuditRecord> = None;
        for record in &self.chain {
            if record.compute_hash() != record.hash {
                return Err(EvidenceError::Altered(record.seq));
            }
            if let Some(p) = prev
                && (record.seq != p.seq + 1 || record.prev_hash != p.hash)
            {
                return Err(EvidenceError::Unlinked(record.seq));
            }
            prev = Some(record);
        }
        let last = prev.expect("the chain is not empty");
        if last.seq != checkpoint.seq || last.hash != checkpoint.hash {
            return Err(EvidenceError::CheckpointMismatch { found: last.seq, checkpoint: checkpoint.seq });
        }
        let usage = match &self.subject {
            EvidenceSubject::AuditRecord { seq } => {
                if *seq != first.seq {
                    return Err(EvidenceError::WrongRecord { expected: *seq, found: first.seq });
                }
                None
            }
            EvidenceSubject::UsageRecord { document, position, merkle_path } => {
                let seal = match UsageSeal::from_record(first) {
                    Some(Ok(seal)) => seal,
                    _ => return Err(EvidenceError::NotASeal(first.seq)),
                };
                let record: UsageRecord = serde_json::from_str(document).map_err(|_| EvidenceError::Document)?;
                let leaf = merkle::leaf_hash(document.as_bytes());
                if !merkle::verify_inclusion(&leaf, *position, seal.count, merkle_path, &seal.root) {
                    return Err(EvidenceError::Inclusion(first.seq));
                }
                Some(record)
            }
        };
        Ok(VerifiedEvidence { record: first.clone(), usage, checkpoint: checkpoint.clone() })
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use sm2::dsa::signature::Signer as _;

    use super::*;
    use crate::audit::GENESIS;

    fn signing_key(seed: u8) -> sm2::dsa::SigningKey {
        sm2::dsa::SigningKey::from_slice(SM2_DISTID, &[seed; 32]).unwrap()
    }

    fn sign(key: &sm2::dsa::SigningKey, node: &str, head: ChainHead, at: DateTime<Utc>) -> Checkpoint {
        let public = hex::encode(key.verifying_key().to_sec1_bytes());
        let mut c = Checkpoint::unsigned(node, head, at, &public);
        let signature: sm2::dsa::Signature = key.sign(&c.message());
        c.signature = hex::encode(signature.to_bytes());
        c
    }

    fn usage(n: u32) -> UsageRecord {
        UsageRecord {
            id: Uuid::from_u128(n as u128),
            at: Utc.timestamp_opt(1_790_000_000 + n as i64, 123_456_789).unwrap(),
            requester: OrgId(Uuid::from_u128(1)),
            provider: OrgId(Uuid::from_u128(2)),
            actor: "system:就业服务系统".into(),
            system: Some("就业服务系统".into()),
            grant: Some(GrantId(Uuid::from_u128(3))),
            entry: EntryId(Uuid::from_u128(4)),
            purpose: "社会救助资格核查".into(),
            operation: "lookup".into(),
            items: vec!["xm".into()],
            rows: 1,
            result: "ok".into(),
            latency_us: 100,
        }
    }

    /// A chain of `n` records whose second record seals a batch of five usage records; the batch's documents.
    fn log(n: i64) -> (Vec<AuditRecord>, Vec<String>, UsageSeal) {
        let documents: Vec<String> = (0..5).map(|i| usage_document(&usage(i))).collect();
        let seal = UsageSeal::over(Uuid::from_u128(99), &documents, false);
        let mut prev = GENESIS;
        let records = (1..=n)
            .map(|seq| {
                let at = Utc.timestamp_opt(1_790_000_000 + seq, 0).unwrap();
                let event = if seq == 2 {
                    seal.event()
                } else {
                    AuditEvent::new("user:u", None, "org.create", "organisation", seq, serde_json::json!({}))
                };
                let r = AuditRecord::seal(seq, at, &event, prev);
                prev = r.hash;
                r
            })
            .collect();
        (records, documents, seal)
    }

    fn head(records: &[AuditRecord]) -> ChainHead {
        let last = records.last().unwrap();
        ChainHead { seq: last.seq, hash: last.hash }
    }

    fn stored(documents: &[String]) -> Vec<StoredUsage> {
        documents
            .iter()
            .enumerate()
            .map(|(i, d)| StoredUsage {
                position: i as i64,
                document: d.clone(),
                columns: UsageColumns::of(&serde_json::from_str(d).unwrap()),
            })
            .collect()
    }

    #[test]
    fn seals_round_trip_through_their_audit_record() {
        let (records, _, seal) = log(3);
        assert_eq!(UsageSeal::from_record(&records[1]), Some(Ok(seal)));
        assert_eq!(UsageSeal::from_record(&records[0]), None);
    }

    #[test]
    fn a_batch_is_checked_row_by_row_and_by_its_root() {
        let (_, documents, seal) = log(3);
        let rows = stored(&documents);
        assert_eq!(check_sealed_batch(2, &seal, &rows), Ok(()));

        let mut removed = rows.clone();
        removed.remove(1);
        assert_eq!(
            check_sealed_batch(2, &seal, &removed),
            Err(ChainBreak::UsageCount { seal_seq: 2, expected: 5, found: 4 })
        );

        let mut altered = rows.clone();
        let mut record: UsageRecord = serde_json::from_str(&altered[3].document).unwrap();
        record.purpose = "其他用途".into();
        altered[3].document = usage_document(&record);
        assert_eq!(check_sealed_batch(2, &seal, &altered), Err(ChainBreak::UsageAltered { seal_seq: 2 }));

        let mut column = rows.clone();
        column[0].columns.requester = OrgId(Uuid::from_u128(7));
        assert_eq!(
            check_sealed_batch(2, &seal, &column),
            Err(ChainBreak::UsageColumns { seal_seq: 2, usage_id: rows[0].columns.id })
        );

        // Swapping two documents (keeping positions) changes the root; renumbering is found as such.
        let mut swapped = rows.clone();
        let (a, b) = (swapped[0].clone(), swapped[1].clone());
        swapped[0] = StoredUsage { position: 0, ..b };
        swapped[1] = StoredUsage { position: 1, ..a };
        assert_eq!(check_sealed_batch(2, &seal, &swapped), Err(ChainBreak::UsageAltered { seal_seq: 2 }));
        let mut renumbered = rows.clone();
        renumbered[2].position = 7;
        assert_eq!(check_sealed_batch(2, &seal, &renumbered), Err(ChainBreak::UsageOrder { seal_seq: 2, position: 2 }));
    }

    #[test]
    fn the_log_is_held_to_its_checkpoints() {
        let key = signing_key(7);
        let public = hex::encode(key.verifying_key().to_sec1_bytes());
        let (records, _, _) = log(6);
        let at = Utc.timestamp_opt(1_790_000_100, 0).unwrap();
        let checkpoint = sign(&key, "节点", ChainHead { seq: 4, hash: records[3].hash }, at);
        let run = |records: &[AuditRecord], checkpoints: &[Checkpoint], usage_rows: u64| {
            let mut v = LogVerifier::new(checkpoints, &public)?;
            for r in records {
                v.push(r)?;
            }
            v.finish(records.last().map(|_| head(records)), usage_rows)
        };
        assert_eq!(run(&records, std::slice::from_ref(&checkpoint), 5), Ok(6));
        // Forged usage rows beyond those sealed.
        assert_eq!(
            run(&records, std::slice::from_ref(&checkpoint), 6),
            Err(ChainBreak::UsageUnsealed { count: 1, last_seq: 6 })
        );
        // Newest records cut and the head moved back behind the checkpoint; the log emptied.
        assert_eq!(
            run(&records[..3], std::slice::from_ref(&checkpoint), 5),
            Err(ChainBreak::BehindCheckpoint { last_seq: 3, checkpoint_seq: 4 })
        );
        assert_eq!(
            run(&[], std::slice::from_ref(&checkpoint), 0),
            Err(ChainBreak::BehindCheckpoint { last_seq: 0, checkpoint_seq: 4 })
        );
        // A record altered and every later digest recomputed: intact as a chain, but not what was signed.
        let mut rewritten = records.clone();
        let mut prev = rewritten[1].hash;
        for r in &mut rewritten[2..] {
            if r.seq == 3 {
                r.actor = "user:mallory".into();
            }
            r.prev_hash = prev;
            r.hash = r.compute_hash();
            prev = r.hash;
        }
        assert_eq!(
            run(&rewritten, std::slice::from_ref(&checkpoint), 5),
            Err(ChainBreak::CheckpointMismatch { seq: 4 })
        );
        // A checkpoint altered, or signed by another key.
        let mut forged = checkpoint.clone();
        forged.seq = 3;
        assert_eq!(run(&records, &[forged], 5), Err(ChainBreak::CheckpointSignature { seq: 3 }));
        let other = sign(&signing_key(8), "节点", ChainHead { seq: 4, hash: records[3].hash }, at);
        assert_eq!(run(&records, &[other], 5), Err(ChainBreak::CheckpointSignature { seq: 4 }));
    }

    #[test]
    fn a_late_legacy_seal_is_refused() {
        let (mut records, _, _) = log(3);
        let legacy = UsageSeal::over(Uuid::nil(), &["{}"], true);
        let forged = AuditRecord::seal(4, Utc::now(), &legacy.event(), records[2].hash);
        records.push(forged);
        let mut v = LogVerifier::new(&[], "").unwrap();
        let outcome = records.iter().try_for_each(|r| v.push(r).map(|_| ()));
        assert_eq!(outcome, Err(ChainBreak::LateLegacySeal { seq: 4 }));
    }

    fn evidence_of_usage(index: usize) -> (Evidence, String) {
        let key = signing_key(9);
        let public = hex::encode(key.verifying_key().to_sec1_bytes());
        let (records, documents, _) = log(5);
        let leaves: Vec<Digest> = documents.iter().map(|d| merkle::leaf_hash(d.as_bytes())).collect();
        let checkpoint = sign(&key, "节点", head(&records), Utc.timestamp_opt(1_790_000_200, 0).unwrap());
        let evidence = Evidence {
            format: EVIDENCE_FORMAT.into(),
            subject: EvidenceSubject::UsageRecord {
                document: documents[index].clone(),
                position: index as u64,
                merkle_path: merkle::inclusion_proof(&leaves, index).unwrap(),
            },
            chain: records[1..].to_vec(),
            checkpoint,
        };
        (evidence, public)
    }

    #[test]
    fn evidence_verifies_offline_and_survives_a_json_round_trip() {
        for i in 0..5 {
            let (evidence, public) = evidence_of_usage(i);
            let text = serde_json::to_string_pretty(&evidence).unwrap();
            let back: Evidence = serde_json::from_str(&text).unwrap();
            let verified = back.verify(Some(&public)).unwrap();
            assert_eq!(verified.usage.unwrap().id, Uuid::from_u128(i as u128));
            assert_eq!(verified.record.seq, 2);
        }
    }

    #[test]
    fn tampered_evidence_is_refused() {
        let (evidence, public) = evidence_of_usage(2);
        let (other_evidence, other_key) = {
            let (mut e, _) = evidence_of_usage(2);
            let key = signing_key(10);
            e.checkpoint =
                sign(&key, "节点", ChainHead { seq: e.checkpoint.seq, hash: e.checkpoint.hash }, e.checkpoint.at);
            (e, hex::encode(key.verifying_key().to_sec1_bytes()))
        };
        assert!(other_evidence.verify(Some(&other_key)).is_ok());
        assert!(matches!(other_evidence.verify(Some(&public)), Err(EvidenceError::UntrustedKey { .. })));

        let mut record = evidence.clone();
        if let EvidenceSubject::UsageRecord { document, .. } = &mut record.subject {
            *document = document.replace("社会救助资格核查", "其他用途");
        }
        assert_eq!(record.verify(None), Err(EvidenceError::Inclusion(2)));

        let mut proof = evidence.clone();
        if let EvidenceSubject::UsageRecord { merkle_path, .. } = &mut proof.subject {
            merkle_path[0][0] ^= 1;
        }
        assert_eq!(proof.verify(None), Err(EvidenceError::Inclusion(2)));

        let mut position = evidence.clone();
        if let EvidenceSubject::UsageRecord { position, .. } = &mut position.subject {
            *position = 3;
        }
        assert_eq!(position.verify(None), Err(EvidenceError::Inclusion(2)));

        let mut signature = evidence.clone();
        let mut bytes = hex::decode(&signature.checkpoint.signature).unwrap();
        bytes[5] ^= 1;
        signature.checkpoint.signature = hex::encode(bytes);
        assert_eq!(signature.verify(None), Err(EvidenceError::Signature));

        let mut moved = evidence.clone();
        moved.checkpoint.seq += 1;
        assert_eq!(moved.verify(None), Err(EvidenceError::Signature));

        let mut chain = evidence.clone();
        chain.chain[1].actor = "user:mallory".into();
        assert_eq!(chain.verify(None), Err(EvidenceError::Altered(3)));

        let mut cut = evidence.clone();
        cut.chain.pop();
        assert_eq!(cut.verify(None), Err(EvidenceError::CheckpointMismatch { found: 4, checkpoint: 5 }));

        let mut gap = evidence.clone();
        gap.chain.remove(1);
        assert_eq!(gap.verify(None), Err(EvidenceError::Unlinked(4)));

        assert_eq!(evidence.verify(Some(&public)).map(|v| v.record.seq), Ok(2));
    }
}
