//! Bulk delivery in bounded memory (R-DEL-4, issue 17 item 3): the streamed export of the bulk-exchange feed and
//! the signed file download.
//!
//! **Export** (`data_export`): the snapshot or the changes since a cursor, as one stream of NDJSON lines. Three
//! stages run at once — the store's read of the next chunk, the decryption, projection and encoding of the chunk
//! before it (split across the cores), and the gate: the chunk's volume reserved and its usage record made durable,
//! and only then the chunk's bytes handed to the connection. At most a few chunks are in memory whatever the size
//! of the data; a client that goes away stops the pipeline at its next chunk.
//!
//! **Download** (`data_download`): the ZIP is written to an unlinked temporary file as the rows are read (the data
//! file hashed with SM3 as it is written, then the signed manifest), the usage record is made durable, and the file
//! is then streamed. Memory stays bounded; the file's size is bounded by the temporary directory's free space and
//! the grant's daily volume. Excel files hold at most [`MAX_XLSX_ROWS`] rows (the format's own limit).

use std::collections::HashMap;
use std::io::{Seek, Write};
use std::sync::Arc;
use std::time::Instant;

use govshare_domain::ValidationError;
use govshare_domain::catalog::DeliveryMethod;
use govshare_domain::grant::{Grant, GrantId};
use govshare_domain::principal::Principal;
use govshare_domain::record::Record;
use govshare_domain::spreadsheet::{neutralise_cell, neutralise_owned};
use govshare_store::StoredRecord;
use serde_json::{Value, json};
use sm3::{Digest, Sm3};
use tokio::sync::mpsc;

use super::{ChangeRow, DisputedRow, Marks, SourceContext, sql_scope};
use crate::{Result, ServiceError, Services};

/// Records per chunk of the streamed export: each chunk is preceded by its own durable usage record.
pub const EXPORT_CHUNK: u32 = 5000;
/// Rows an Excel download holds at most: an Excel sheet has 1,048,576 rows, one of them the header.
pub const MAX_XLSX_ROWS: u64 = 1_048_575;
/// Records per store read of a download.
const DOWNLOAD_PAGE: u32 = 5000;

/// CSV and Excel downloads neutralise every cell against formula injection (see `govshare_domain::spreadsheet`).
/// The last column of a downloaded file: the number of the correction a row's record is under review by
/// (异议标注), or empty. No item code can take this name (codes start with a letter).
pub const DISPUTED_COLUMN: &str = "_disputed";

/// A streamed export: NDJSON lines, already governed chunk by chunk (see the module's documentation).
///
/// The first line is `{"grant_id", "items", "cursor"}`; then one line per change (`{seq, op, record, disputed,
/// correction}`, as in the paged feed); the last line is `{"complete": true, "rows", "next_cursor"}` — or, when the
/// export stopped (the daily volume reached, an internal failure), `{"complete": false, "rows", "next_cursor",
/// "error": {"code", "message"}}`, from whose `next_cursor` a later export continues. A stream that ends without
/// such a line was cut off: continue from the last `seq` received.
#[derive(Debug)]
pub struct Export {
    pub lines: mpsc::Receiver<Vec<u8>>,
}

/// A signed download: a ZIP holding the data file, `manifest.json` and `manifest.sig`, in a temporary file that
/// is gone when this is dropped.
#[derive(Debug)]
pub struct Download {
    pub file_name: String,
    pub file: std::fs::File,
    pub bytes: u64,
    pub manifest: Value,
}

/// One chunk of the export, encoded: its lines, the rows in it and the sequence number it ends at.
struct Chunk {
    lines: Vec<u8>,
    rows: u64,
    last_seq: Option<i64>,
}

impl Services {
    /// R-DEL-4 bulk exchange as one stream (see [`Export`]): the full snapshot (cursor 0) or the changes since a
    /// cursor. Refusals before the first byte (grant, method, rate) answer as errors and are recorded.
    pub async fn data_export(
        &self,
        principal: &Principal,
        id: GrantId,
        cursor: i64,
        started: Instant,
    ) -> Result<Export> {
        let admitted = async {
            let (grant, ctx) = self.admit(principal, id, DeliveryMethod::BulkExchange).await?;
            if !ctx.source.kind.is_hosted() {
                return Err(ServiceError::refused("exchange_not_supported", "接口代理类数据源不支持批量交换"));
            }
            let marks = self.marks(grant.entry).await?;
            Ok((grant, ctx, marks))
        }
        .await;
        let (grant, ctx, marks) = match admitted {
            Ok(admitted) => admitted,
            Err(err) => return Err(self.record_refusal(principal, id, "export", started, err).await),
        };
        let cursor = cursor.max(0);
        let header = json!({
            "grant_id": grant.id,
            "items": grant.returned_items().map(|i| i.code.as_str()).collect::<Vec<_>>(),
            "cursor": cursor,
        });
        let (tx, lines) = mpsc::channel(2);
        let _ = tx.try_send(line(&header));
        tokio::spawn(self.clone().export_pipeline(principal.clone(), grant, ctx, marks, cursor, started, tx));
        Ok(Export { lines })
    }

    #[allow(clippy::too_many_arguments)]
    async fn export_pipeline(
        self,
        principal: Principal,
        grant: Arc<Grant>,
        ctx: Arc<SourceContext>,
        marks: Arc<Marks>,
        cursor: i64,
        started: Instant,
        tx: mpsc::Sender<Vec<u8>>,
    ) {
        // Stage 1: the store's reads, ahead of the rest. The snapshot (cursor 0) starts with the live records; from
        // its second chunk on, as in the paged feed, deletions are included so that none made during the export is
        // missed.
        let (reader, mut pages) =
            read_ahead(&self, &grant, &ctx, cursor, Deletions::AfterFirstPage(cursor == 0), EXPORT_CHUNK);
        // Stage 2: decryption, projection and encoding, each chunk split across two blocking threads.
        let (chunk_tx, mut chunks) = mpsc::channel::<Result<Chunk>>(2);
        let encoder = {
            let (s, grant, ctx, marks) = (self.clone(), grant.clone(), ctx.clone(), marks.clone());
            tokio::spawn(async move {
                while let Some(page) = pages.recv().await {
                    let chunk = match page {
                        Ok(page) => encode_split(&s, &grant, &ctx, &marks, page).await,
                        Err(e) => Err(e),
                    };
                    let failed = chunk.is_err();
                    if chunk_tx.send(chunk).await.is_err() || failed {
                        return;
                    }
                }
            })
        };
        // Stage 3: the gate — volume and a durable usage record before each chunk leaves.
        let (mut rows, mut next, mut first) = (0u64, cursor, true);
        let outcome: Result<()> = async {
            while let Some(chunk) = chunks.recv().await {
                let chunk = chunk?;
                if chunk.rows > 0 || first {
                    let chunk_started = if first { started } else { Instant::now() };
                    if let Err(err) = self.take_volume(&grant, chunk.rows).await {
                        return Err(self.record_refusal(&principal, grant.id, "export", chunk_started, err).await);
                    }
                    self.record_usage(self.usage(&principal, &grant, "export", chunk.rows, "ok", chunk_started))
                        .await?;
                    first = false;
                }
                if tx.send(chunk.lines).await.is_err() {
                    return Ok(()); // the client went away; what it was sent is recorded
                }
                rows += chunk.rows;
                next = chunk.last_seq.unwrap_or(next);
            }
            Ok(())
        }
        .await;
        drop(chunks);
        reader.abort();
        encoder.abort();
        let trailer = match outcome {
            Ok(()) => json!({ "complete": true, "rows": rows, "next_cursor": next }),
            Err(err) => {
                let message = match &err {
                    ServiceError::Internal(e) => {
                        tracing::error!(error = %e, grant = %grant.id, "export stopped");
                        "导出因内部错误中断，请从 next_cursor 继续".to_owned()
                    }
                    other => other.to_string(),
                };
                json!({ "complete": false, "rows": rows, "next_cursor": next,
                        "error": { "code": err.code(), "message": message } })
            }
        };
        let _ = tx.send(line(&trailer)).await;
    }

    /// R-DEL-4 file download: every record in scope as CSV or Excel, with its SM3 digest in a manifest naming
    /// the requester and the grant, signed with the node's SM2 key (see the module's documentation).
    pub async fn data_download(
        &self,
        principal: &Principal,
        id: GrantId,
        format: &str,
        started: Instant,
    ) -> Result<Download> {
        let format = match format.trim() {
            "" | "csv" => Format::Csv,
            "xlsx" => Format::Xlsx,
            other => {
                return Err(ValidationError::new(
                    "format",
                    "unknown_value",
                    format!("「{other}」不是有效格式，可选：csv、xlsx"),
                )
                .into());
            }
        };
        self.governed(principal, id, "download", started, async |s: &Services| {
            let (grant, ctx) = s.admit(principal, id, DeliveryMethod::FileDownload).await?;
            if !ctx.source.kind.is_hosted() {
                return Err(ServiceError::refused("download_not_supported", "接口代理类数据源不支持文件下载"));
            }
            let marks = s.marks(grant.entry).await?;
            let requester = s.store.get_org(grant.requester).await?;
            let provider = s.store.get_org(grant.provider).await?;
            let items: Vec<String> = grant.returned_items().map(|i| i.code.clone()).collect();
            let file_name = format!("data.{}", format.extension());
            let manifest = json!({
                "platform": "govshare",
                "generated_at": s.now(),
                "grant_id": grant.id,
                "application_id": grant.application,
                "requester": { "id": requester.id, "name": requester.name, "credit_code": requester.credit_code.as_str() },
                "provider": { "id": provider.id, "name": provider.name },
                "entry": { "id": grant.entry, "name": ctx.content.name, "resource_code": ctx.content.resource_code },
                "purpose": grant.purpose,
                "items": items,
                "signature": { "algorithm": "SM2-with-SM3", "distid": crate::crypto::SM2_DISTID,
                               "public_key": s.keys.public_key_hex() },
            });
            // Three stages at once: the store's reads, decryption and projection on two threads, the writer.
            let (row_tx, rows) = mpsc::channel::<Projected>(2);
            let writer = {
                let (s, names) = (s.clone(), ctx_names(&ctx));
                let spool = Spool { format, file_name, items, manifest };
                tokio::task::spawn_blocking(move || spool.write(&s, &names, rows))
            };
            // In sequence order (the change feed's index), live records only.
            let (reader, mut pages) = read_ahead(s, &grant, &ctx, 0, Deletions::Never, DOWNLOAD_PAGE);
            let read: Result<()> = async {
                while let Some(page) = pages.recv().await {
                    let (s, grant, ctx, marks) = (s.clone(), grant.clone(), ctx.clone(), marks.clone());
                    let (mut a, b) = in_halves(page?, move |part| project(&s, &grant, &ctx, &marks, &part)).await?;
                    a.extend(b);
                    if row_tx.send(a).await.is_err() {
                        return Ok(()); // the writer stopped: its error says why
                    }
                }
                Ok(())
            }
            .await;
            reader.abort();
            drop(row_tx);
            let spooled = writer.await.map_err(|e| ServiceError::Internal(Box::new(e)))??;
            read?;
            s.take_volume(&grant, spooled.rows).await?;
            let download = Download {
                file_name: format!("govshare-{}-{}.zip", ctx.content.resource_code, s.now().format("%Y%m%d%H%M%S")),
                file: spooled.file,
                bytes: spooled.bytes,
                manifest: spooled.manifest,
            };
            Ok((download, spooled.rows, "ok", grant))
        })
        .await
    }
}

/// Each data item's name by its code.
fn ctx_names(ctx: &SourceContext) -> HashMap<String, String> {
    ctx.content.items.iter().map(|i| (i.code.clone(), i.name.clone())).collect()
}

fn line(value: &Value) -> Vec<u8> {
    let mut bytes = serde_json::to_vec(value).expect("a JSON value encodes");
    bytes.push(b'\n');
    bytes
}

/// Which deletions a read includes.
#[derive(Debug, Clone, Copy)]
enum Deletions {
    Never,
    /// All but on the first page when true (a snapshot starts with the live records), always when false.
    AfterFirstPage(bool),
}

/// Reads the entry's records in the grant's row scope after `cursor` in sequence order, pages of `page` ahead of
/// the reader of the channel (two pages at most); a failed read is the last item.
fn read_ahead(
    s: &Services,
    grant: &Grant,
    ctx: &SourceContext,
    cursor: i64,
    deletions: Deletions,
    page: u32,
) -> (tokio::task::JoinHandle<()>, mpsc::Receiver<Result<Vec<StoredRecord>>>) {
    let (page_tx, pages) = mpsc::channel(2);
    let store = s.store.clone();
    let (entry, prefixes) = (grant.entry, sql_scope(grant, ctx).map(<[String]>::to_vec));
    let reader = tokio::spawn(async move {
        let (mut after, mut live_only) = (cursor, !matches!(deletions, Deletions::AfterFirstPage(false)));
        loop {
            let read = store.record_changes(entry, prefixes.as_deref(), after, live_only, page).await;
            live_only = matches!(deletions, Deletions::Never);
            let last = match &read {
                Ok(rows) if rows.len() == page as usize => rows.last().map(|r| r.seq),
                _ => None,
            };
            if page_tx.send(read.map_err(ServiceError::from)).await.is_err() {
                return;
            }
            match last {
                Some(seq) => after = seq,
                None => return,
            }
        }
    });
    (reader, pages)
}

/// Runs `work` on the two halves of a page on two blocking threads; the halves' results in order.
async fn in_halves<T, F>(mut page: Vec<StoredRecord>, work: F) -> Result<(T, T)>
where
    T: Send + 'static,
    F: Fn(Vec<StoredRecord>) -> Result<T> + Clone + Send + 'static,
{
    let second = page.split_off(page.len() / 2);
    let other = work.clone();
    let (a, b) = (tokio::task::spawn_blocking(move || work(page)), tokio::task::spawn_blocking(move || other(second)));
    let join = |r: std::result::Result<Result<T>, tokio::task::JoinError>| r.map_err(internal)?;
    Ok((join(a.await)?, join(b.await)?))
}

/// Decrypts, projects and encodes a page of the export on two threads.
async fn encode_split(
    s: &Services,
    grant: &Arc<Grant>,
    ctx: &Arc<SourceContext>,
    marks: &Arc<Marks>,
    page: Vec<StoredRecord>,
) -> Result<Chunk> {
    let last_seq = page.last().map(|r| r.seq);
    let (s, grant, ctx, marks) = (s.clone(), grant.clone(), ctx.clone(), marks.clone());
    let ((mut lines, rows_a), (more, rows_b)) =
        in_halves(page, move |part| encode(&s, &grant, &ctx, &marks, &part)).await?;
    lines.extend_from_slice(&more);
    Ok(Chunk { lines, rows: rows_a + rows_b, last_seq })
}

/// A download's rows of a page, in the grant's scope, projected, each with its dispute mark.
type Projected = Vec<(Record, Option<String>)>;

fn project(
    s: &Services,
    grant: &Grant,
    ctx: &SourceContext,
    marks: &Marks,
    part: &[StoredRecord],
) -> Result<Projected> {
    let mut rows = Vec::with_capacity(part.len());
    let projector = grant.projector(&ctx.content);
    for stored in part {
        let record = s.open_record(ctx, stored)?;
        if grant.in_scope(&record) {
            rows.push((projector.project(&record), marks.disputed(&stored.key)));
        }
    }
    Ok(rows)
}

/// The lines of the changes among `part` that are in the grant's scope, and how many there are.
fn encode(
    s: &Services,
    grant: &Grant,
    ctx: &SourceContext,
    marks: &Marks,
    part: &[StoredRecord],
) -> Result<(Vec<u8>, u64)> {
    let mut lines = Vec::with_capacity(part.len() * 256);
    let mut rows = 0;
    let projector = grant.projector(&ctx.content);
    for stored in part {
        let record = s.open_record(ctx, stored)?;
        if !grant.in_scope(&record) {
            continue;
        }
        let change = ChangeRow {
            seq: stored.seq,
            op: if stored.deleted { "delete" } else { "upsert" },
            record: projector.project(&record),
            disputed: if stored.deleted { None } else { marks.disputed(&stored.key) },
            correction: marks.corrected.get(&stored.seq).cloned(),
        };
        serde_json::to_writer(&mut lines, &change).map_err(|e| ServiceError::Internal(Box::new(e)))?;
        lines.push(b'\n');
        rows += 1;
    }
    Ok((lines, rows))
}

#[derive(Debug, Clone, Copy)]
enum Format {
    Csv,
    Xlsx,
}

impl Format {
    fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Xlsx => "xlsx",
        }
    }
}

/// What the download's writer thread needs to know before the first row.
struct Spool {
    format: Format,
    file_name: String,
    items: Vec<String>,
    /// The manifest without what only the written file tells (rows, disputed rows, the file's size and SM3).
    manifest: Value,
}

/// The written ZIP, rewound.
struct Spooled {
    file: std::fs::File,
    bytes: u64,
    rows: u64,
    manifest: Value,
}

/// A writer that hashes and counts what passes through it.
struct Hashing<W> {
    inner: W,
    hash: Sm3,
    bytes: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn internal(e: impl std::error::Error + Send + Sync + 'static) -> ServiceError {
    ServiceError::Internal(Box::new(e))
}

fn cell(record: &Record, code: &str) -> String {
    record.get(code).map(govshare_domain::record::json_to_raw).unwrap_or_default()
}

impl Spool {
    /// Writes the ZIP from the pages as they come: the data file, then the manifest and its signature.
    fn write(
        self,
        s: &Services,
        names: &HashMap<String, String>,
        mut pages: mpsc::Receiver<Projected>,
    ) -> Result<Spooled> {
        let mut zip = zip::ZipWriter::new(tempfile::tempfile().map_err(internal)?);
        let options = zip::write::SimpleFileOptions::default().compression_method(match self.format {
            Format::Csv => zip::CompressionMethod::Deflated,
            Format::Xlsx => zip::CompressionMethod::Stored, // already compressed
        });
        zip.start_file(self.file_name.as_str(), options).map_err(internal)?;
        let mut data = Hashing { inner: &mut zip, hash: Sm3::new(), bytes: 0 };
        let mut rows = 0u64;
        let mut disputed: Vec<DisputedRow> = Vec::new();
        let mut each_row = |emit: &mut dyn FnMut(u64, &Record, &str) -> Result<()>| -> Result<()> {
            while let Some(page) = pages.blocking_recv() {
                for (record, mark) in page {
                    if let Some(correction) = &mark {
                        disputed.push(DisputedRow { row: rows as usize, correction: correction.clone() });
                    }
                    emit(rows, &record, mark.as_deref().unwrap_or(""))?;
                    rows += 1;
                }
            }
            Ok(())
        };
        match self.format {
            Format::Csv => {
                let mut w = csv::Writer::from_writer(&mut data);
                let header =
                    self.items.iter().map(|c| neutralise_cell(c).into_owned()).chain([DISPUTED_COLUMN.to_owned()]);
                w.write_record(header).map_err(internal)?;
                each_row(&mut |_, record, mark| {
                    w.write_record(
                        self.items.iter().map(|c| neutralise_owned(cell(record, c))).chain([mark.to_owned()]),
                    )
                    .map_err(internal)
                })?;
                w.flush().map_err(internal)?;
            }
            Format::Xlsx => {
                let mut book = rust_xlsxwriter::Workbook::new();
                let sheet = book.add_worksheet_with_constant_memory();
                sheet.set_name("数据").map_err(internal)?;
                for (c, code) in self.items.iter().enumerate() {
                    let name = names.get(code).map_or(code.as_str(), String::as_str);
                    sheet.write_string(0, c as u16, neutralise_cell(&format!("{name}（{code}）"))).map_err(internal)?;
                }
                let last = self.items.len() as u16;
                sheet.write_string(0, last, format!("异议标注（{DISPUTED_COLUMN}）")).map_err(internal)?;
                each_row(&mut |r, record, mark| {
                    if r >= MAX_XLSX_ROWS {
                        return Err(ServiceError::refused(
                            "download_too_large",
                            format!("Excel 文件最多 {MAX_XLSX_ROWS} 行，请选择 CSV 格式或使用批量交换接口"),
                        ));
                    }
                    let r = r as u32 + 1;
                    for (c, code) in self.items.iter().enumerate() {
                        sheet.write_string(r, c as u16, neutralise_owned(cell(record, code))).map_err(internal)?;
                    }
                    if !mark.is_empty() {
                        sheet.write_string(r, last, mark).map_err(internal)?;
                    }
                    Ok(())
                })?;
                let mut book_file = tempfile::tempfile().map_err(internal)?;
                book.save_to_writer(&mut book_file).map_err(internal)?;
                book_file.rewind().map_err(internal)?;
                std::io::copy(&mut book_file, &mut data).map_err(internal)?;
            }
        }
        let (sm3, bytes) = (hex::encode(data.hash.finalize()), data.bytes);
        let mut manifest = self.manifest;
        let fields = manifest.as_object_mut().expect("the manifest is an object");
        fields.insert("rows".into(), json!(rows));
        fields.insert("disputed".into(), json!(disputed));
        fields.insert(
            "file".into(),
            json!({ "name": self.file_name, "format": self.format.extension(), "bytes": bytes, "sm3": sm3 }),
        );
        let manifest_bytes = serde_json::to_vec_pretty(&manifest).map_err(internal)?;
        let signature = s.keys.sign(&manifest_bytes);
        for (name, content) in [("manifest.json", manifest_bytes.as_slice()), ("manifest.sig", signature.as_bytes())] {
            let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
            zip.start_file(name, options).map_err(internal)?;
            zip.write_all(content).map_err(internal)?;
        }
        let mut file = zip.finish().map_err(internal)?;
        let bytes = file.stream_position().map_err(internal)?;
        file.rewind().map_err(internal)?;
        Ok(Spooled { file, bytes, rows, manifest })
    }
}
