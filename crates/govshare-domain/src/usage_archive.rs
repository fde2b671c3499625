//! Usage records past their retention (Art. 29: kept at least three years) leave the database only through a
//! **usage archive**: one file per month, written by the node, that anyone holding the node's public key can check
//! offline (`govshare audit verify-archive`), in the manner of X-Road's message-log archives.
//!
//! A batch of usage records belongs to the month (北京时间) of its earliest record, so a batch and its seal
//! never straddle two archives. The file is JSON Lines:
//!
//! ```text
//! {"header":{"format":"govshare-usage-archive-v1","node":…,"public_key":…,"month":"2023-11-01","previous":…}}
//! {"seal":{"batch":…,"seal_seq":…,"count":3,"merkle_root":…}}      one per batch, ascending batch id,
//! {"row":{"position":0,"document":"…"}}                             followed by its rows in position order
//! …
//! {"trailer":{"records":…,"batches":…,"link":…,"signature":…}}
//! ```
//!
//! Every line but the trailer is **hash-linked**: `link₀ = 0³²`, `linkᵢ = SM3(linkᵢ₋₁ ‖ lineᵢ)`; the trailer
//! carries the last link and the node's SM2 signature over (format, node, month, counts, link). The header names
//! the previous archive's link, so the archives of a node form one chain: removing, replacing or reordering one
//! is found. Each batch's rows are checked against its seal's Merkle root as they are read, so the archive proves
//! what the seals in the audit chain sealed.
//!
//! Everything here is pure: the service reads the rows, writes the file and records it in the chain.

use std::fmt;

use chrono::{DateTime, Datelike, Months, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use sm3::{Digest as _, Sm3};
use uuid::Uuid;

use crate::audit::Digest;
use crate::calendar::beijing;
use crate::evidence::{UsageSeal, verify_sm2};
use crate::grant::USAGE_RETENTION_YEARS;
use crate::merkle;

/// The format tag of a usage archive.
pub const ARCHIVE_FORMAT: &str = "govshare-usage-archive-v1";
/// The action of the audit record that records an archive (object: the month).
pub const ARCHIVE_ACTION: &str = "usage.archive";
/// The action of the audit record that records the removal of an archived month from the database.
pub const DETACH_ACTION: &str = "usage.detach";
/// The object type of both: a month of usage records, named by its first day.
pub const MONTH_OBJECT: &str = "usage_month";

/// The month (its first day, 北京时间) a usage record at `at` belongs to.
pub fn month_of(at: DateTime<Utc>) -> NaiveDate {
    let local = at.with_timezone(&beijing()).date_naive();
    local.with_day(1).expect("every month has a first day")
}

/// The instant a month begins (00:00 北京时间 on its first day).
pub fn month_start(month: NaiveDate) -> DateTime<Utc> {
    let first = month.with_day(1).expect("every month has a first day");
    beijing()
        .from_local_datetime(&first.and_hms_opt(0, 0, 0).expect("midnight exists"))
        .single()
        .expect("UTC+8 has no gaps")
        .with_timezone(&Utc)
}

/// The instant the month after `month` begins.
pub fn month_end(month: NaiveDate) -> DateTime<Utc> {
    month_start(month.with_day(1).expect("every month has a first day") + Months::new(1))
}

/// Records older than this may leave the database (once archived): `now` less the retention.
pub fn retention_cutoff(now: DateTime<Utc>) -> DateTime<Utc> {
    now - Months::new(12 * USAGE_RETENTION_YEARS as u32)
}

/// Whether a month whose newest record is at `newest` may be archived and removed at `now`: the whole month, and
/// every record in it, lies before the retention cutoff.
pub fn past_retention(month: NaiveDate, newest: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    let cutoff = retention_cutoff(now);
    month_end(month) <= cutoff && newest < cutoff
}

/// The digest over a month's archived batches (ascending batch id, each with its count): what the chain's
/// `usage.archive` record and the store's list of archived batches must agree on.
pub fn batches_digest<'a>(batches: impl IntoIterator<Item = &'a (Uuid, u64)>) -> String {
    let mut h = Sm3::new();
    for (batch, count) in batches {
        h.update(batch.as_bytes());
        h.update(count.to_be_bytes());
    }
    hex::encode(h.finalize())
}

/// A month's archive as the node records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UsageArchive {
    pub month: NaiveDate,
    /// The file's name (in the node's archive directory).
    pub file: String,
    pub records: u64,
    pub batches: u64,
    /// The archive's last link, which the next archive names.
    pub link: String,
    pub previous: Option<String>,
    /// SM3 of the whole file.
    pub file_sm3: String,
    pub archived_at: DateTime<Utc>,
    /// When the month's rows left the database; `None` while they are still there.
    pub detached_at: Option<DateTime<Utc>>,
}

/// The file name of a month's archive: `usage-archive-2023-11.jsonl`.
pub fn archive_file_name(month: NaiveDate) -> String {
    format!("usage-archive-{}.jsonl", month.format("%Y-%m"))
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchiveHeader {
    pub format: String,
    /// The node's name.
    pub node: String,
    /// The signer's SM2 public key (uncompressed SEC1, hex).
    pub public_key: String,
    /// The month archived (its first day).
    pub month: NaiveDate,
    pub created_at: DateTime<Utc>,
    /// The link of the node's previous archive; `None` for its first.
    pub previous: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchiveSeal {
    pub batch: Uuid,
    /// The sequence number of the batch's `usage.seal` record in the audit chain.
    pub seal_seq: i64,
    pub count: u64,
    pub merkle_root: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub legacy: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchiveRow {
    pub position: u64,
    /// The usage record's stored document, exactly as sealed.
    pub document: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchiveTrailer {
    pub records: u64,
    pub batches: u64,
    /// The last line's link.
    pub link: String,
    /// SM2 signature (r ‖ s, hex) over [`signed_bytes`].
    pub signature: String,
}

/// One line of an archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArchiveLine {
    Header(ArchiveHeader),
    Seal(ArchiveSeal),
    Row(ArchiveRow),
    Trailer(ArchiveTrailer),
}

impl ArchiveLine {
    /// The line's bytes, without the newline: what is written and what the link covers.
    pub fn encode(&self) -> String {
        serde_json::to_string(self).expect("an archive line always serialises")
    }
}

/// The next link after a line.
pub fn next_link(link: &Digest, line: &str) -> Digest {
    let mut h = Sm3::new();
    h.update(link);
    h.update(line.as_bytes());
    h.finalize().into()
}

/// The bytes the node signs: a versioned, length-prefixed encoding of node, month, counts and the last link.
pub fn signed_bytes(node: &str, month: NaiveDate, records: u64, batches: u64, link: &str) -> Vec<u8> {
    let month = month.to_string();
    let mut out = Vec::new();
    for field in [
        ARCHIVE_FORMAT.as_bytes(),
        node.as_bytes(),
        month.as_bytes(),
        &records.to_be_bytes(),
        &batches.to_be_bytes(),
        link.as_bytes(),
    ] {
        out.extend_from_slice(&(field.len() as u64).to_be_bytes());
        out.extend_from_slice(field);
    }
    out
}

/// Builds an archive line by line: each line it hands back is to be written followed by a newline.
#[derive(Debug)]
pub struct ArchiveWriter {
    link: Digest,
    node: String,
    month: NaiveDate,
    records: u64,
    batches: u64,
    /// The open batch: what its seal promised, and how many rows came.
    open: Option<(u64, u64)>,
}

impl ArchiveWriter {
    /// Starts an archive; returns the writer and the header line.
    pub fn start(header: &ArchiveHeader) -> (ArchiveWriter, String) {
        let line = ArchiveLine::Header(header.clone()).encode();
        let writer = ArchiveWriter {
            link: next_link(&[0; 32], &line),
            node: header.node.clone(),
            month: header.month,
            records: 0,
            batches: 0,
            open: None,
        };
        (writer, line)
    }

    fn push(&mut self, line: ArchiveLine) -> String {
        let line = line.encode();
        self.link = next_link(&self.link, &line);
        line
    }

    /// Opens a batch. Panics if the previous batch did not get all the rows its seal counts (a bug in the caller).
    pub fn seal(&mut self, seal: &UsageSeal, seal_seq: i64) -> String {
        self.close_batch();
        self.batches += 1;
        self.open = Some((seal.count, 0));
        self.push(ArchiveLine::Seal(ArchiveSeal {
            batch: seal.batch,
            seal_seq,
            count: seal.count,
            merkle_root: hex::encode(seal.root),
            legacy: seal.legacy,
        }))
    }

    pub fn row(&mut self, position: u64, document: &str) -> String {
        let open = self.open.as_mut().expect("a row follows its batch's seal");
        open.1 += 1;
        self.records += 1;
        self.push(ArchiveLine::Row(ArchiveRow { position, document: document.to_owned() }))
    }

    fn close_batch(&mut self) {
        if let Some((count, rows)) = self.open.take() {
            assert_eq!(count, rows, "a batch is archived with every row its seal counts");
        }
    }

    /// The bytes to sign for the trailer.
    pub fn message(&self) -> Vec<u8> {
        signed_bytes(&self.node, self.month, self.records, self.batches, &hex::encode(self.link))
    }

    /// Ends the archive with the signature over [`ArchiveWriter::message`]; returns the trailer line and the
    /// archive's link.
    pub fn finish(mut self, signature: String) -> (String, String) {
        self.close_batch();
        let link = hex::encode(self.link);
        let trailer = ArchiveLine::Trailer(ArchiveTrailer {
            records: self.records,
            batches: self.batches,
            link: link.clone(),
            signature,
        });
        (trailer.encode(), link)
    }

    pub fn records(&self) -> u64 {
        self.records
    }
}

/// What a verified archive holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedArchive {
    pub node: String,
    pub public_key: String,
    pub month: NaiveDate,
    pub created_at: DateTime<Utc>,
    pub records: u64,
    pub batches: u64,
    pub link: String,
    pub previous: Option<String>,
    /// [`batches_digest`] over the archive's batches.
    pub batches_digest: String,
}

/// Why an archive does not verify; `line` counts from 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArchiveError {
    /// A line that is not an archive line, or one out of place.
    Malformed { line: u64, reason: String },
    /// A batch's rows do not hash to its seal's Merkle root, are fewer or more than it counts, or out of order.
    Batch { line: u64, batch: Uuid, reason: &'static str },
    /// The trailer's link is not the link of the lines before it: a line was altered, added or removed.
    Link,
    /// The trailer's counts are not the archive's.
    Counts,
    /// The signature does not verify with the public key.
    Signature,
    /// The archive is signed by another key than the one trusted.
    Key,
    /// The file ends before its trailer, or goes on after it.
    Truncated,
    /// The header names another previous archive than the one before it.
    Previous { expected: Option<String>, found: Option<String> },
}

impl fmt::Display for ArchiveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArchiveError::Malformed { line, reason } => write!(f, "line {line}: {reason}"),
            ArchiveError::Batch { line, batch, reason } => write!(f, "line {line}: batch {batch}: {reason}"),
            ArchiveError::Link => write!(
                f,
                "the lines do not hash to the trailer's link: a line was altered, added, removed or reordered"
            ),
            ArchiveError::Counts => write!(f, "the trailer's counts are not the archive's"),
            ArchiveError::Signature => write!(f, "the SM2 signature does not verify with the archive's public key"),
            ArchiveError::Key => write!(f, "the archive is signed by another key than the trusted one"),
            ArchiveError::Truncated => write!(f, "the archive is cut short or has lines after its trailer"),
            ArchiveError::Previous { expected, found } => write!(
                f,
                "the archive follows {} but the archive before it ends with {}: an archive was removed, replaced or \
                 reordered",
                found.as_deref().unwrap_or("no archive"),
                expected.as_deref().unwrap_or("no archive")
            ),
        }
    }
}

impl std::error::Error for ArchiveError {}

/// Checks an archive line by line, in constant memory but for the open batch's leaves.
#[derive(Debug, Default)]
pub struct ArchiveVerifier {
    line: u64,
    link: Digest,
    header: Option<ArchiveHeader>,
    open: Option<(ArchiveSeal, Vec<Digest>)>,
    records: u64,
    batches: u64,
    last_batch: Option<Uuid>,
    digest: Sm3,
    trailer: Option<ArchiveTrailer>,
}

impl ArchiveVerifier {
    pub fn new() -> ArchiveVerifier {
        ArchiveVerifier::default()
    }

    /// The next line, without its newline.
    pub fn push(&mut self, text: &str) -> Result<(), ArchiveError> {
        self.line += 1;
        let line = self.line;
        let malformed = |reason: String| ArchiveError::Malformed { line, reason };
        if self.trailer.is_some() {
            return Err(ArchiveError::Truncated);
        }
        let parsed: ArchiveLine =
            serde_json::from_str(text).map_err(|e| malformed(format!("not an archive line: {e}")))?;
        match parsed {
            ArchiveLine::Header(h) if line == 1 => {
                if h.format != ARCHIVE_FORMAT {
                    return Err(malformed(format!("format {:?} is not {ARCHIVE_FORMAT}", h.format)));
                }
                self.header = Some(h);
            }
            ArchiveLine::Header(_) => return Err(malformed("a second header".into())),
            _ if line == 1 => return Err(malformed("the archive does not begin with its header".into())),
            ArchiveLine::Seal(seal) => {
                self.close_batch()?;
                if self.last_batch.is_some_and(|last| last >= seal.batch) {
                    return Err(malformed("batches are not in ascending order".into()));
                }
                self.last_batch = Some(seal.batch);
                self.batches += 1;
                self.digest.update(seal.batch.as_bytes());
                self.digest.update(seal.count.to_be_bytes());
                self.open = Some((seal, Vec::new()));
            }
            ArchiveLine::Row(row) => {
                let Some((seal, leaves)) = self.open.as_mut() else {
                    return Err(malformed("a row before any seal".into()));
                };
                if row.position != leaves.len() as u64 {
                    return Err(ArchiveError::Batch { line, batch: seal.batch, reason: "rows out of position order" });
                }
                leaves.push(merkle::leaf_hash(row.document.as_bytes()));
                self.records += 1;
            }
            ArchiveLine::Trailer(trailer) => {
                self.close_batch()?;
                self.trailer = Some(trailer);
                return Ok(());
            }
        }
        self.link = next_link(&self.link, text);
        Ok(())
    }

    fn close_batch(&mut self) -> Result<(), ArchiveError> {
        let Some((seal, leaves)) = self.open.take() else { return Ok(()) };
        let batch_error = |reason| ArchiveError::Batch { line: self.line, batch: seal.batch, reason };
        if leaves.len() as u64 != seal.count {
            return Err(batch_error("not as many rows as its seal counts"));
        }
        if hex::encode(merkle::root(&leaves)) != seal.merkle_root {
            return Err(batch_error("the rows do not hash to the seal's Merkle root"));
        }
        Ok(())
    }

    /// Ends the check: the trailer's link, counts and signature; the signer, if a key is trusted; the link to the
    /// previous archive, if it is known (`Some(None)`: this must be the node's first archive).
    pub fn finish(
        self,
        trusted_key: Option<&str>,
        previous: Option<Option<&str>>,
    ) -> Result<VerifiedArchive, ArchiveError> {
        let (Some(header), Some(trailer)) = (self.header, self.trailer) else {
            return Err(ArchiveError::Truncated);
        };
        let link = hex::encode(self.link);
        if trailer.link != link {
            return Err(ArchiveError::Link);
        }
        if (trailer.records, trailer.batches) != (self.records, self.batches) {
            return Err(ArchiveError::Counts);
        }
        let message = signed_bytes(&header.node, header.month, self.records, self.batches, &link);
        if !verify_sm2(&header.public_key, &message, &trailer.signature) {
            return Err(ArchiveError::Signature);
        }
        if trusted_key.is_some_and(|k| !k.eq_ignore_ascii_case(&header.public_key)) {
            return Err(ArchiveError::Key);
        }
        if let Some(expected) = previous
            && expected != header.previous.as_deref()
        {
            return Err(ArchiveError::Previous {
                expected: expected.map(str::to_owned),
                found: header.previous.clone(),
            });
        }
        Ok(VerifiedArchive {
            node: header.node,
            public_key: header.public_key,
            month: header.month,
            created_at: header.created_at,
            records: self.records,
            batches: self.batches,
            link,
            previous: header.previous,
            batches_digest: hex::encode(self.digest.finalize()),
        })
    }
}

/// Checks a whole archive held in memory (tests, small archives); files are checked line by line.
pub fn verify_archive(
    text: &str,
    trusted_key: Option<&str>,
    previous: Option<Option<&str>>,
) -> Result<VerifiedArchive, ArchiveError> {
    let mut verifier = ArchiveVerifier::new();
    for line in text.lines() {
        verifier.push(line)?;
    }
    verifier.finish(trusted_key, previous)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sm2::dsa::SigningKey;
    use sm2::dsa::signature::Signer;

    use crate::evidence::SM2_DISTID;

    fn key() -> SigningKey {
        SigningKey::from_slice(SM2_DISTID, &[7u8; 32]).unwrap()
    }

    fn public(key: &SigningKey) -> String {
        hex::encode(key.verifying_key().to_sec1_bytes())
    }

    /// An archive of `batches` (each a list of documents), signed by `key`.
    fn archive(key: &SigningKey, previous: Option<&str>, batches: &[Vec<&str>]) -> (String, String) {
        let header = ArchiveHeader {
            format: ARCHIVE_FORMAT.into(),
            node: "浙江省节点".into(),
            public_key: public(key),
            month: NaiveDate::from_ymd_opt(2023, 11, 1).unwrap(),
            created_at: Utc::now(),
            previous: previous.map(str::to_owned),
        };
        let (mut w, first) = ArchiveWriter::start(&header);
        let mut lines = vec![first];
        let mut ids: Vec<Uuid> = batches.iter().map(|_| Uuid::now_v7()).collect();
        ids.sort();
        for (i, (docs, id)) in batches.iter().zip(ids).enumerate() {
            lines.push(w.seal(&UsageSeal::over(id, docs, false), i as i64 + 1));
            for (p, d) in docs.iter().enumerate() {
                lines.push(w.row(p as u64, d));
            }
        }
        let signature: sm2::dsa::Signature = key.sign(&w.message());
        let (trailer, link) = w.finish(hex::encode(signature.to_bytes()));
        lines.push(trailer);
        (lines.join("\n") + "\n", link)
    }

    #[test]
    fn an_archive_verifies_and_names_its_month_counts_and_link() {
        let k = key();
        let (text, link) = archive(&k, None, &[vec!["a", "b", "c"], vec!["d"]]);
        let v = verify_archive(&text, Some(&public(&k)), Some(None)).unwrap();
        assert_eq!((v.records, v.batches, v.link.as_str()), (4, 2, link.as_str()));
        assert_eq!(v.month, NaiveDate::from_ymd_opt(2023, 11, 1).unwrap());
    }

    #[test]
    fn an_altered_removed_or_reordered_line_is_found() {
        let k = key();
        let (text, _) = archive(&k, None, &[vec!["a", "b", "c"], vec!["d", "e"]]);
        let lines: Vec<&str> = text.lines().collect();
        // A row's document altered: its batch no longer hashes to the seal.
        let altered = text.replace(r#""document":"b""#, r#""document":"x""#);
        assert!(matches!(verify_archive(&altered, None, None), Err(ArchiveError::Batch { .. })));
        // A whole batch removed (seal and rows): the link breaks.
        let mut cut = lines.clone();
        cut.drain(5..8);
        assert_eq!(verify_archive(&cut.join("\n"), None, None), Err(ArchiveError::Link));
        // Two rows swapped.
        let mut swapped = lines.clone();
        swapped.swap(2, 3);
        assert!(matches!(verify_archive(&swapped.join("\n"), None, None), Err(ArchiveError::Batch { .. })));
        // The trailer removed, or a line after it.
        assert_eq!(verify_archive(&lines[..lines.len() - 1].join("\n"), None, None), Err(ArchiveError::Truncated));
        assert_eq!(verify_archive(&(text.clone() + lines[2]), None, None), Err(ArchiveError::Truncated));
        // A seal that promises a row more than follows it.
        let short = text.replacen(r#""count":3"#, r#""count":4"#, 1);
        assert!(matches!(verify_archive(&short, None, None), Err(ArchiveError::Batch { .. })));
    }

    #[test]
    fn a_resigned_archive_needs_the_trusted_key_and_archives_link_in_order() {
        let (k, other) = (key(), SigningKey::from_slice(SM2_DISTID, &[9u8; 32]).unwrap());
        let (first, first_link) = archive(&k, None, &[vec!["a"]]);
        let (second, _) = archive(&k, Some(&first_link), &[vec!["b"]]);
        assert!(verify_archive(&second, Some(&public(&k)), Some(Some(&first_link))).is_ok());
        // Skipping the first archive is found by the link the second names.
        assert!(matches!(verify_archive(&second, None, Some(None)), Err(ArchiveError::Previous { .. })));
        // An archive rebuilt and signed with another key verifies only against that key.
        let (forged, _) = archive(&other, None, &[vec!["a"]]);
        assert!(verify_archive(&forged, None, None).is_ok());
        assert_eq!(verify_archive(&forged, Some(&public(&k)), None), Err(ArchiveError::Key));
        // A trailer whose signature is another archive's.
        let stolen: Vec<&str> = first.lines().collect();
        let trailer_of_first = stolen.last().unwrap();
        let mut spliced: Vec<&str> = second.lines().collect();
        *spliced.last_mut().unwrap() = trailer_of_first;
        assert!(verify_archive(&spliced.join("\n"), None, None).is_err());
    }

    #[test]
    fn months_and_retention_are_counted_in_beijing_time() {
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        let nov = NaiveDate::from_ymd_opt(2023, 11, 1).unwrap();
        // 2023-11-30 16:30 UTC is 2023-12-01 00:30 in Beijing.
        assert_eq!(month_of(at("2023-11-30T16:30:00Z")), NaiveDate::from_ymd_opt(2023, 12, 1).unwrap());
        assert_eq!(month_of(at("2023-11-30T15:59:59Z")), nov);
        assert_eq!(month_end(nov), at("2023-11-30T16:00:00Z"));
        // November 2023 may go once three years have passed since its end, not a moment before.
        assert!(!past_retention(nov, at("2023-11-30T15:00:00Z"), at("2026-11-30T15:59:59Z")));
        assert!(past_retention(nov, at("2023-11-30T15:00:00Z"), at("2026-11-30T16:00:00Z")));
        // A record of the month's last batch written just after midnight keeps the month a moment longer.
        assert!(!past_retention(nov, at("2023-11-30T16:00:01Z"), at("2026-11-30T16:00:00Z")));
    }
}
