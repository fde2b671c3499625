//! Usage archives (Art. 29): a month of usage records past the three-year retention is written to a signed,
//! hash-linked archive file (see `govshare_domain::usage_archive`), checked against its seals as it is written,
//! re-read and verified, recorded in the audit chain, and only then removed from the database (on PostgreSQL, its
//! partition detached and dropped). Nothing younger than the retention is ever archived.
//!
//! The steps are idempotent across a crash: a month recorded as archived but still in the database is removed on
//! the next run once its file verifies again; a half-written file (`.partial`) is written anew.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use govshare_domain::audit::AuditEvent;
use govshare_domain::authz::Action;
use govshare_domain::evidence::{StoredUsage, UsageSeal, check_sealed_batch};
use govshare_domain::principal::Principal;
use govshare_domain::usage_archive::{
    ARCHIVE_ACTION, ARCHIVE_FORMAT, ArchiveError, ArchiveHeader, ArchiveVerifier, ArchiveWriter, DETACH_ACTION,
    MONTH_OBJECT, UsageArchive, VerifiedArchive, archive_file_name, past_retention,
};
use serde_json::json;
use sm3::Digest as _;
use uuid::Uuid;

use crate::{Result, ServiceError, Services};

/// Usage rows read per query while archiving.
const ROWS_PER_READ: u32 = 5000;

/// What one run did for one month.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchivedMonth {
    pub month: NaiveDate,
    pub file: PathBuf,
    pub records: u64,
    pub batches: u64,
    /// The month's rows left the database in this run (`false` on SQLite, which keeps them).
    pub removed: bool,
    /// The archive was written by an earlier run; this one only removed the rows.
    pub earlier: bool,
}

/// Why an archive file could not be checked: unreadable, or not a valid archive.
#[derive(Debug)]
pub enum ArchiveFileError {
    Io(std::io::Error),
    Invalid(ArchiveError),
}

impl std::fmt::Display for ArchiveFileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ArchiveFileError::Io(e) => write!(f, "cannot read it: {e}"),
            ArchiveFileError::Invalid(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for ArchiveFileError {}

/// Checks an archive file line by line (constant memory but for one batch) and returns what it holds with the
/// SM3 of the whole file. `previous`: see [`ArchiveVerifier::finish`].
pub fn verify_archive_file(
    path: &Path,
    trusted_key: Option<&str>,
    previous: Option<Option<&str>>,
) -> std::result::Result<(VerifiedArchive, String), ArchiveFileError> {
    let mut reader = BufReader::new(std::fs::File::open(path).map_err(ArchiveFileError::Io)?);
    let mut verifier = ArchiveVerifier::new();
    let mut sm3 = sm3::Sm3::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line).map_err(ArchiveFileError::Io)? == 0 {
            break;
        }
        sm3.update(&line);
        let text = std::str::from_utf8(&line)
            .map_err(|_| ArchiveFileError::Invalid(ArchiveError::Truncated))?
            .trim_end_matches('\n');
        verifier.push(text).map_err(ArchiveFileError::Invalid)?;
    }
    let verified = verifier.finish(trusted_key, previous).map_err(ArchiveFileError::Invalid)?;
    Ok((verified, hex::encode(sm3.finalize())))
}

fn io(what: String) -> impl Fn(std::io::Error) -> ServiceError {
    move |e| ServiceError::Internal(format!("{what}: {e}").into())
}

impl Services {
    /// Archives every month of usage records past the retention, oldest first, into `dir`, and removes each from
    /// the database once its archive is recorded. `node` names the node in the archives.
    pub async fn archive_usage(&self, principal: &Principal, dir: &Path, node: &str) -> Result<Vec<ArchivedMonth>> {
        self.authorize(principal, Action::ManageOrganisations)?;
        let now = self.now();
        std::fs::create_dir_all(dir).map_err(io(format!("cannot create the archive directory {}", dir.display())))?;
        let key = self.keys.public_key_hex();
        let archives = self.store.usage_archives().await?;
        let mut done = Vec::new();
        // Months archived by an earlier run whose rows are still in the database (a crash between the two steps).
        if self.store.partitions_usage() {
            for a in archives.iter().filter(|a| a.detached_at.is_none()) {
                let path = dir.join(&a.file);
                let (verified, _) = verify_archive_file(&path, Some(&key), None).map_err(|e| {
                    ServiceError::Internal(
                        format!(
                            "the archive of {} ({}) does not verify, so its usage records stay in the database: {e}",
                            a.month.format("%Y-%m"),
                            path.display()
                        )
                        .into(),
                    )
                })?;
                if verified.link != a.link {
                    return Err(ServiceError::Internal(
                        format!("{} is not the archive the node recorded for {}", path.display(), a.month).into(),
                    ));
                }
                let removed = self.store.detach_usage_month(a.month, now, &detach_event(principal, a)).await?;
                done.push(ArchivedMonth {
                    month: a.month,
                    file: path,
                    records: a.records,
                    batches: a.batches,
                    removed,
                    earlier: true,
                });
            }
        }
        let mut previous = archives.last().map(|a| a.link.clone());
        let archived: std::collections::BTreeSet<NaiveDate> = archives.iter().map(|a| a.month).collect();
        for month in self.store.usage_months().await? {
            if archived.contains(&month) {
                continue;
            }
            let Some(newest) = self.store.usage_month_newest(month).await? else { continue };
            if !past_retention(month, newest, now) {
                // Months come oldest first: every later one is younger still.
                break;
            }
            let (archive, batches) = self.write_archive(month, dir, node, previous.as_deref()).await?;
            let event = AuditEvent::new(
                principal.audit_name(),
                principal.org_id(),
                ARCHIVE_ACTION,
                MONTH_OBJECT,
                month,
                json!({
                    "records": archive.records,
                    "batches": archive.batches,
                    "link": archive.link,
                    "previous": archive.previous,
                    "file": archive.file,
                    "file_sm3": archive.file_sm3,
                    "batches_digest": govshare_domain::usage_archive::batches_digest(&batches),
                }),
            );
            self.store.record_usage_archive(&archive, &batches, &event).await?;
            let removed = self.store.detach_usage_month(month, now, &detach_event(principal, &archive)).await?;
            previous = Some(archive.link.clone());
            done.push(ArchivedMonth {
                month,
                file: dir.join(&archive.file),
                records: archive.records,
                batches: archive.batches,
                removed,
                earlier: false,
            });
        }
        Ok(done)
    }

    /// Writes, syncs and re-verifies one month's archive; returns it and its batches with their counts.
    async fn write_archive(
        &self,
        month: NaiveDate,
        dir: &Path,
        node: &str,
        previous: Option<&str>,
    ) -> Result<(UsageArchive, Vec<(Uuid, u64)>)> {
        let name = archive_file_name(month);
        let path = dir.join(&name);
        if path.exists() {
            return Err(ServiceError::Internal(
                format!(
                    "{} exists but the node recorded no archive of {}: check it and move it away, then run again",
                    path.display(),
                    month.format("%Y-%m")
                )
                .into(),
            ));
        }
        let partial = dir.join(format!("{name}.partial"));
        let key = self.keys.public_key_hex();
        let header = ArchiveHeader {
            format: ARCHIVE_FORMAT.into(),
            node: node.to_owned(),
            public_key: key.clone(),
            month,
            created_at: self.now(),
            previous: previous.map(str::to_owned),
        };
        let write_error = io(format!("cannot write {}", partial.display()));
        let mut file = BufWriter::new(
            std::fs::File::create(&partial).map_err(io(format!("cannot create {}", partial.display())))?,
        );
        let (mut writer, first) = ArchiveWriter::start(&header);
        let mut lines = vec![first];
        let mut batches: Vec<(Uuid, u64)> = Vec::new();
        let mut seals: HashMap<Uuid, (i64, UsageSeal)> = HashMap::new();
        let mut open: Option<(Uuid, Vec<StoredUsage>)> = None;
        let mut after = None;
        loop {
            let page = self.store.usage_month_page(month, after, ROWS_PER_READ).await?;
            let Some((last_batch, last_row)) = page.last() else { break };
            after = Some((*last_batch, last_row.position));
            let unknown: Vec<Uuid> = {
                let mut ids: Vec<Uuid> = page.iter().map(|(b, _)| *b).filter(|b| !seals.contains_key(b)).collect();
                ids.dedup();
                ids
            };
            for record in self.store.seal_records(&unknown).await? {
                if let Some(Ok(seal)) = UsageSeal::from_record(&record) {
                    seals.entry(seal.batch).or_insert((record.seq, seal));
                }
            }
            for (batch, row) in page {
                if open.as_ref().is_some_and(|(b, _)| *b != batch) {
                    let (b, rows) = open.take().expect("just checked");
                    archive_batch(month, &mut writer, &mut lines, &mut batches, &mut seals, b, rows)?;
                }
                open.get_or_insert_with(|| (batch, Vec::new())).1.push(row);
            }
            for line in lines.drain(..) {
                file.write_all(line.as_bytes()).and_then(|_| file.write_all(b"\n")).map_err(&write_error)?;
            }
        }
        if let Some((b, rows)) = open.take() {
            archive_batch(month, &mut writer, &mut lines, &mut batches, &mut seals, b, rows)?;
        }
        let records = writer.records();
        let signature = self.keys.sign(&writer.message());
        let (trailer, link) = writer.finish(signature);
        lines.push(trailer);
        for line in lines.drain(..) {
            file.write_all(line.as_bytes()).and_then(|_| file.write_all(b"\n")).map_err(&write_error)?;
        }
        let file = file.into_inner().map_err(|e| write_error(e.into_error()))?;
        file.sync_all().map_err(io(format!("cannot sync {}", partial.display())))?;
        drop(file);
        std::fs::rename(&partial, &path).map_err(io(format!("cannot move {} into place", partial.display())))?;
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        // Read back what is on disk: only a file that verifies, as the next run and any auditor will read it, is
        // recorded, and only a recorded archive lets rows leave the database.
        let (verified, file_sm3) = verify_archive_file(&path, Some(&key), Some(previous)).map_err(|e| {
            ServiceError::Internal(format!("the archive just written, {}, does not verify: {e}", path.display()).into())
        })?;
        if verified.link != link || verified.records != records {
            return Err(ServiceError::Internal(format!("{} is not the archive just written", path.display()).into()));
        }
        let archive = UsageArchive {
            month,
            file: name,
            records,
            batches: verified.batches,
            link,
            previous: previous.map(str::to_owned),
            file_sm3,
            archived_at: self.now(),
            detached_at: None,
        };
        Ok((archive, batches))
    }
}

/// Checks one batch's rows against its seal in the chain and adds it to the archive.
fn archive_batch(
    month: NaiveDate,
    writer: &mut ArchiveWriter,
    lines: &mut Vec<String>,
    batches: &mut Vec<(Uuid, u64)>,
    seals: &mut HashMap<Uuid, (i64, UsageSeal)>,
    batch: Uuid,
    rows: Vec<StoredUsage>,
) -> Result<()> {
    let refuse = |why: String| {
        ServiceError::Internal(
            format!(
                "the usage records of {} cannot be archived: {why}; nothing was archived — run `govshare audit verify`",
                month.format("%Y-%m")
            )
            .into(),
        )
    };
    let (seq, seal) = seals.remove(&batch).ok_or_else(|| refuse(format!("batch {batch} has no seal in the chain")))?;
    check_sealed_batch(seq, &seal, &rows).map_err(|b| refuse(b.to_string()))?;
    lines.push(writer.seal(&seal, seq));
    for row in &rows {
        lines.push(writer.row(row.position as u64, &row.document));
    }
    batches.push((batch, rows.len() as u64));
    Ok(())
}

fn detach_event(principal: &Principal, archive: &UsageArchive) -> AuditEvent {
    AuditEvent::new(
        principal.audit_name(),
        principal.org_id(),
        DETACH_ACTION,
        MONTH_OBJECT,
        archive.month,
        json!({ "records": archive.records, "link": archive.link, "file": archive.file }),
    )
}
