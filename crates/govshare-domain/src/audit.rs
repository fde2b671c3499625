//! The audit chain (R-SEC-1): every state change is a record whose SM3 digest covers its own content and
//! the digest of the record before it, so altering, removing or reordering any record breaks the chain.
//!
//! The digest input is a versioned, length-prefixed encoding of the fields, so that no two different
//! records can encode to the same bytes. Timestamps are kept to the microsecond, the precision both
//! stores hold exactly.

use std::fmt;

use chrono::{DateTime, SubsecRound, Utc};
use serde::Serialize;
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

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
    #[serde(serialize_with = "hex_digest")]
    pub prev_hash: Digest,
    #[serde(serialize_with = "hex_digest")]
    pub hash: Digest,
}

fn hex_digest<S: serde::Serializer>(d: &Digest, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&hex::encode(d))
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
}

impl ChainBreak {
    pub fn seq(&self) -> i64 {
        match *self {
            ChainBreak::Altered { seq } | ChainBreak::Unlinked { seq } => seq,
            ChainBreak::Removed { expected, .. } => expected,
            ChainBreak::Truncated { last_seq, .. } => last_seq + 1,
            ChainBreak::HeadMismatch { head_seq } => head_seq,
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
