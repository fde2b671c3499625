//! The audit chain (R-SEC-1): every state change is a record whose SM3 digest covers its own content and
//! the digest of the record before it, so altering, removing or reordering any record breaks the chain.
//!
//! The digest input is a versioned, length-prefixed encoding of the fields, so that no two different
//! records can encode to the same bytes. Timestamps are kept to the microsecond, the precision both
//! stores hold exactly.

use std::fmt;

use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use sm3::{Digest as _, Sm3};

use crate::org::OrgId;

pub type Digest = [u8; 32];

/// The `prev_hash` of the first record.
pub const GENESIS: Digest = [0; 32];

const ENCODING_TAG: &[u8] = b"govshare-audit-v1";

/// What happened, as a use case describes it; the store turns it into a sealed [`AuditRecord`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEvent {
    pub actor: String,
    pub org_id: Option<OrgId>,
    /// A stable dotted code, e.g. `org.create`, `user.role.grant`, `credential.revoke`.
    pub action: String,
    pub object_type: String,
    pub object_id: String,
    pub detail: serde_json::Value,
}

impl AuditEvent {
    pub fn new(
        actor: impl Into<String>,
        org_id: Option<OrgId>,
        action: &str,
        object_type: &str,
        object_id: impl fmt::Display,
        detail: serde_json::Value,
    ) -> Self {
        AuditEvent {
            actor: actor.into(),
            org_id,
            action: action.to_owned(),
            object_type: object_type.to_owned(),
            object_id: object_id.to_string(),
            detail,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub org_id: Option<OrgId>,
    pub action: String,
    pub object_type: String,
    pub object_id: String,
    /// The event's detail as compact JSON text; the exact text is what the digest covers.
    pub detail: String,
    #[serde(with = "hex_digest")]
    pub prev_hash: Digest,
    #[serde(with = "hex_digest")]
    pub hash: Digest,
}

/// Which audit records to read (the console's audit log and its export): every condition that is set must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Exactly this actor, e.g. `user:gat.head`.
    pub actor: Option<String>,
    /// Exactly this operation code, e.g. `grant.state`.
    pub action: Option<String>,
    /// Exactly this object.
    pub object_id: Option<String>,
    /// At or after this time.
    pub from: Option<DateTime<Utc>>,
    /// Before this time.
    pub until: Option<DateTime<Utc>>,
    /// Oldest first when false.
    pub newest_first: bool,
    pub offset: u64,
    pub limit: u32,
}

/// A digest as 64 hex digits in JSON (records, checkpoints, evidence files).
pub mod hex_digest {
    use super::Digest;

    pub fn serialize<S: serde::Serializer>(d: &Digest, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(d))
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Digest, D::Error> {
        let text: String = serde::Deserialize::deserialize(d)?;
        parse(&text).ok_or_else(|| serde::de::Error::custom("a digest must be 64 hex digits"))
    }

    pub fn parse(text: &str) -> Option<Digest> {
        hex::decode(text).ok()?.try_into().ok()
    }
}

/// A list of digests as hex strings in JSON (Merkle paths).
pub mod hex_digests {
    use super::Digest;

    pub fn serialize<S: serde::Serializer>(ds: &[Digest], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(ds.iter().map(hex::encode))
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<Digest>, D::Error> {
        let texts: Vec<String> = serde::Deserialize::deserialize(d)?;
        texts
            .iter()
            .map(|t| {
                super::hex_digest::parse(t).ok_or_else(|| serde::de::Error::custom("a digest must be 64 hex digits"))
            })
            .collect()
    }
}

fn put(hasher: &mut Sm3, bytes: &[u8]) {
    hasher.update((bytes.len() as u64).to_be_bytes());
    hasher.update(bytes);
}

impl AuditRecord {
    /// Seals `event` as record `seq`, following the record whose digest is `prev_hash`.
    pub fn seal(seq: i64, at: DateTime<Utc>, event: &AuditEvent, prev_hash: Digest) -> AuditRecord {
        let mut record = AuditRecord {
            seq,
            at: at.trunc_subsecs(6),
            actor: event.actor.clone(),
            org_id: event.org_id,
            action: event.action.clone(),
            object_type: event.object_type.clone(),
            object_id: event.object_id.clone(),
            detail: event.detail.to_string(),
            prev_hash,
            hash: [0; 32],
        };
        record.hash = record.compute_hash();
        record
    }

    /// The SM3 digest of this record's content and `prev_hash`; equals `hash` for an intact record.
    pub fn compute_hash(&self) -> Digest {
        let mut h = Sm3::new();
        put(&mut h, ENCODING_TAG);
        put(&mut h, &self.seq.to_be_bytes());
        put(&mut h, &self.at.timestamp_micros().to_be_bytes());
        put(&mut h, self.actor.as_bytes());
        put(&mut h, self.org_id.map(|o| o.to_string()).unwrap_or_default().as_bytes());
        put(&mut h, self.action.as_bytes());
        put(&mut h, self.object_type.as_bytes());
        put(&mut h, self.object_id.as_bytes());
        put(&mut h, self.detail.as_bytes());
        put(&mut h, &self.prev_hash);
        h.finalize().into()
    }
}

/// The last sequence number and digest, kept by the store beside the log so that removing records from the
/// end is detected too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainHead {
    pub seq: i64,
    pub hash: Digest,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainBreak {
    /// The record's content no longer matches its digest: it was altered (or renumbered).
    Altered { seq: i64 },
    /// Records between `expected` and `found` are missing.
    Removed { expected: i64, found: i64 },
    /// The record is intact but does not follow the record before it: something before it was replaced
    /// or the records were reordered.
    Unlinked { seq: i64 },
    /// The log ends before the head says it should: records were removed from the end.
    Truncated { last_seq: i64, head_seq: i64 },
    /// The head does not match the last record.
    HeadMismatch { head_seq: i64 },
    /// The usage records sealed by record `seal_seq` are not as many as it sealed: some were removed or forged
    /// ones were added.
    UsageCount { seal_seq: i64, expected: u64, found: u64 },
    /// The usage records sealed by record `seal_seq` do not hold positions 0, 1, 2, …: one was renumbered.
    UsageOrder { seal_seq: i64, position: i64 },
    /// A usage record's columns (requester, provider, grant, time, …) disagree with its sealed document.
    UsageColumns { seal_seq: i64, usage_id: uuid::Uuid },
    /// The usage records sealed by record `seal_seq` no longer hash to its Merkle root: one was altered, or
    /// records were reordered.
    UsageAltered { seal_seq: i64 },
    /// Usage records that no seal in the chain covers: forged records were inserted.
    UsageUnsealed { count: u64, last_seq: i64 },
    /// A seal of pre-existing usage records after usage records were already sealed batch by batch: someone
    /// got records sealed as "pre-existing" that were not.
    LateLegacySeal { seq: i64 },
    /// A checkpoint's SM2 signature does not verify with the node's public key.
    CheckpointSignature { seq: i64 },
    /// The record at a signed checkpoint's sequence number is not the record that was signed: the chain was
    /// rewritten (e.g. a record altered and every later digest recomputed).
    CheckpointMismatch { seq: i64 },
    /// The chain ends before the newest signed checkpoint: records were cut from the end and the head moved
    /// back, or the log was emptied.
    BehindCheckpoint { last_seq: i64, checkpoint_seq: i64 },
    /// The usage records of an archived month that the store lists disagree with the archive recorded by record
    /// `seq` (batches added, removed or recounted), or the recorded archive is missing from the store's list.
    ArchiveMismatch { seq: i64, month: chrono::NaiveDate },
    /// The store lists a month as archived that no record of the chain archived: usage records were removed
    /// under the cover of a forged archive.
    ArchiveUnrecorded { month: chrono::NaiveDate, last_seq: i64 },
}

impl ChainBreak {
    /// The sequence number of the record where the break is found.
    pub fn seq(&self) -> i64 {
        match *self {
            ChainBreak::Altered { seq }
            | ChainBreak::Unlinked { seq }
            | ChainBreak::LateLegacySeal { seq }
            | ChainBreak::CheckpointSignature { seq }
            | ChainBreak::CheckpointMismatch { seq }
            | ChainBreak::ArchiveMismatch { seq, .. } => seq,
            ChainBreak::Removed { expected, .. } => expected,
            ChainBreak::Truncated { last_seq, .. } | ChainBreak::BehindCheckpoint { last_seq, .. } => last_seq + 1,
            ChainBreak::UsageUnsealed { last_seq, .. } | ChainBreak::ArchiveUnrecorded { last_seq, .. } => last_seq,
            ChainBreak::HeadMismatch { head_seq } => head_seq,
            ChainBreak::UsageCount { seal_seq, .. }
            | ChainBreak::UsageOrder { seal_seq, .. }
            | ChainBreak::UsageColumns { seal_seq, .. }
            | ChainBreak::UsageAltered { seal_seq } => seal_seq,
        }
    }
}

impl fmt::Display for ChainBreak {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChainBreak::Altered { seq } => {
                write!(f, "record {seq} was altered: its content does not match its SM3 digest")
            }
            ChainBreak::Removed { expected, found } => {
                write!(f, "record {expected} is missing: records {expected}..{} were removed", found - 1)
            }
            ChainBreak::Unlinked { seq } => write!(
                f,
                "record {seq} does not follow record {}: a record was replaced or records were reordered",
                seq - 1
            ),
            ChainBreak::Truncated { last_seq, head_seq } => {
                write!(f, "records {}..{head_seq} were removed from the end of the log", last_seq + 1)
            }
            ChainBreak::HeadMismatch { head_seq } => {
                write!(f, "record {head_seq} does not match the chain head: the last record was replaced")
            }
            ChainBreak::UsageCount { seal_seq, expected, found } if found < expected => write!(
                f,
                "usage records sealed by record {seal_seq} were removed: {found} of the {expected} sealed remain"
            ),
            ChainBreak::UsageCount { seal_seq, expected, found } => write!(
                f,
                "usage records were inserted into the batch sealed by record {seal_seq}: {found} found, {expected} sealed"
            ),
            ChainBreak::UsageOrder { seal_seq, position } => write!(
                f,
                "usage records sealed by record {seal_seq} were renumbered or reordered: position {position} is wrong"
            ),
            ChainBreak::UsageColumns { seal_seq, usage_id } => write!(
                f,
                "usage record {usage_id} (sealed by record {seal_seq}) was altered: its columns disagree with its sealed document"
            ),
            ChainBreak::UsageAltered { seal_seq } => write!(
                f,
                "usage records sealed by record {seal_seq} were altered or reordered: they do not match its SM3 Merkle root"
            ),
            ChainBreak::UsageUnsealed { count, .. } => {
                write!(f, "{count} usage records are covered by no seal in the chain: they were inserted (forged)")
            }
            ChainBreak::LateLegacySeal { seq } => write!(
                f,
                "record {seq} seals usage records as pre-existing after batches were already sealed: they are not genuine"
            ),
            ChainBreak::CheckpointSignature { seq } => write!(
                f,
                "the checkpoint at record {seq} is not signed by this node's SM2 key: the checkpoint file was altered"
            ),
            ChainBreak::CheckpointMismatch { seq } => write!(
                f,
                "record {seq} is not the record the signed checkpoint names: the chain was rewritten up to there"
            ),
            ChainBreak::BehindCheckpoint { last_seq, checkpoint_seq } => write!(
                f,
                "the log ends at record {last_seq} but a signed checkpoint names record {checkpoint_seq}: records were removed and the head moved back"
            ),
            ChainBreak::ArchiveMismatch { seq, month } => write!(
                f,
                "the usage records of {} that the database lists as archived disagree with the archive record {seq}: \
                 archived batches were added, removed or recounted",
                month.format("%Y-%m")
            ),
            ChainBreak::ArchiveUnrecorded { month, .. } => write!(
                f,
                "the database lists the usage records of {} as archived, but no record of the chain archived them: \
                 they were removed under a forged archive",
                month.format("%Y-%m")
            ),
        }
    }
}

impl std::error::Error for ChainBreak {}

/// Walks the chain one record at a time, in sequence order, so a store can feed it page by page.
#[derive(Debug, Clone)]
pub struct ChainVerifier {
    expected_seq: i64,
    prev_hash: Digest,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        ChainVerifier { expected_seq: 1, prev_hash: GENESIS }
    }
}

impl ChainVerifier {
    pub fn push(&mut self, record: &AuditRecord) -> Result<(), ChainBreak> {
        if record.seq > self.expected_seq {
            return Err(ChainBreak::Removed { expected: self.expected_seq, found: record.seq });
        }
        if record.compute_hash() != record.hash {
            return Err(ChainBreak::Altered { seq: record.seq });
        }
        if record.seq < self.expected_seq || record.prev_hash != self.prev_hash {
            return Err(ChainBreak::Unlinked { seq: record.seq });
        }
        self.expected_seq += 1;
        self.prev_hash = record.hash;
        Ok(())
    }

    /// Number of records verified so far.
    pub fn verified(&self) -> i64 {
        self.expected_seq - 1
    }

    pub fn finish(self, head: Option<ChainHead>) -> Result<i64, ChainBreak> {
        let last_seq = self.verified();
        match head {
            None if last_seq == 0 => Ok(0),
            None => Err(ChainBreak::HeadMismatch { head_seq: last_seq }),
            Some(head) if head.seq > last_seq => Err(ChainBreak::Truncated { last_seq, head_seq: head.seq }),
            Some(head) if head.seq < last_seq || head.hash != self.prev_hash => {
                Err(ChainBreak::HeadMismatch { head_seq: head.seq })
            }
            Some(_) => Ok(last_seq),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use proptest::prelude::*;

    use super::*;

    fn chain(n: i64) -> Vec<AuditRecord> {
        let mut prev = GENESIS;
        (1..=n)
            .map(|seq| {
                let at = Utc.timestamp_opt(1_790_000_000 + seq, 123_456_789).unwrap();
                let event = AuditEvent::new(
                    format!("user:u{seq}"),
                    None,
                    "org.create",
                    "organisation",
                    seq,
                    serde_json::json!({"name": format!("单位{seq}")}),
                );
                let r = AuditRecord::seal(seq, at, &event, prev);
                prev = r.hash;
                r
            })
            .collect()
    }

    fn verify(records: &[AuditRecord], head: Option<ChainHead>) -> Result<i64, ChainBreak> {
        let mut v = ChainVerifier::default();
        for r in records {
            v.push(r)?;
        }
        v.finish(head)
    }

    fn head_of(records: &[AuditRecord]) -> Option<ChainHead> {
        records.last().map(|r| ChainHead { seq: r.seq, hash: r.hash })
    }

    #[test]
    fn intact_chain_verifies() {
        let records = chain(5);
        assert_eq!(verify(&records, head_of(&records)), Ok(5));
        assert_eq!(verify(&[], None), Ok(0));
    }

    #[test]
    fn sealing_truncates_to_microseconds() {
        let r = &chain(1)[0];
        assert_eq!(r.at.timestamp_subsec_nanos() % 1000, 0);
    }

    #[test]
    fn detects_tail_truncation() {
        let records = chain(5);
        let head = head_of(&records);
        assert_eq!(verify(&records[..3], head), Err(ChainBreak::Truncated { last_seq: 3, head_seq: 5 }));
    }

    #[test]
    fn detects_replaced_record_with_recomputed_digest() {
        let mut records = chain(5);
        records[2].detail = "{}".into();
        records[2].hash = records[2].compute_hash();
        assert_eq!(verify(&records, head_of(&chain(5))), Err(ChainBreak::Unlinked { seq: 4 }));
    }

    proptest! {
        /// Changing any one field of any one record is reported at exactly that record.
        #[test]
        fn any_alteration_is_found_at_its_record(n in 1i64..20, pick in any::<prop::sample::Index>(), field in 0usize..6) {
            let mut records = chain(n);
            let head = head_of(&records);
            let i = pick.index(records.len());
            let r = &mut records[i];
            match field {
                0 => r.actor.push('x'),
                1 => r.action = "org.delete".into(),
                2 => r.object_id.push('0'),
                3 => r.detail = r.detail.replace("单位", "部门"),
                4 => r.at += chrono::Duration::microseconds(1),
                _ => r.seq += 1000,
            }
            let err = verify(&records, head).unwrap_err();
            let expected = i as i64 + 1;
            if field == 5 {
                prop_assert_eq!(err, ChainBreak::Removed { expected, found: expected + 1000 });
            } else {
                prop_assert_eq!(err, ChainBreak::Altered { seq: expected });
            }
        }

        /// Removing any one record, or swapping two adjacent records' positions, is found.
        #[test]
        fn removal_and_reordering_are_found(n in 2i64..20, pick in any::<prop::sample::Index>()) {
            let records = chain(n);
            let head = head_of(&records);
            let i = pick.index(records.len());
            let mut removed = records.clone();
            removed.remove(i);
            prop_assert!(verify(&removed, head).is_err());

            let j = pick.index(records.len() - 1);
            let mut swapped = records.clone();
            swapped.swap(j, j + 1);
            prop_assert!(verify(&swapped, head).is_err());
        }
    }
}
