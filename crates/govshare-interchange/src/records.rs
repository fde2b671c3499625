//! Reading a data source's rows from CSV, Excel or JSON Lines, one row at a time.
//!
//! CSV and JSON Lines are streamed from the file (a file larger than memory reads fine); an Excel sheet's used
//! cells are read into memory within [`XLSX_LIMITS`] (see [`crate::sheet`]); larger sources belong in CSV. Every reader yields the header and then rows of
//! raw text in the header's order, with the row's number in the file for error reports.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use calamine::{Data, Xlsx, open_workbook};
use govshare_domain::record::json_to_raw;

/// How large a data source's Excel sheet may be: Excel's own row limit, 512 columns, five million non-empty
/// cells and 512 MiB of text (about a gigabyte of memory while the load is checked), 4 GiB unpacked.
pub const XLSX_LIMITS: crate::sheet::SheetLimits = crate::sheet::SheetLimits {
    max_rows: 1_048_576,
    max_columns: 512,
    max_cells: 5_000_000,
    max_text_bytes: 512 << 20,
    max_unpacked_bytes: 4 << 30,
};

/// A file format of hosted data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordFormat {
    Csv,
    Xlsx,
    JsonLines,
}

impl RecordFormat {
    /// From an explicit name (`csv`, `xlsx`, `jsonl`) or, when that is empty, the file name's extension.
    pub fn detect(explicit: &str, file_name: &str) -> Option<RecordFormat> {
        let name = if explicit.trim().is_empty() {
            file_name.rsplit('.').next().unwrap_or("").to_ascii_lowercase()
        } else {
            explicit.trim().to_ascii_lowercase()
        };
        match name.as_str() {
            "csv" => Some(RecordFormat::Csv),
            "xlsx" | "excel" => Some(RecordFormat::Xlsx),
            "jsonl" | "ndjson" | "json_lines" | "jsonlines" => Some(RecordFormat::JsonLines),
            _ => None,
        }
    }
}

/// A row as read: its number in the file and its values in the header's order.
pub type RawRow = (u64, Vec<String>);

/// A problem reading the file itself (not a bad value): the row, and what went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadError {
    pub row: u64,
    pub message: String,
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "第 {} 行：{}", self.row, self.message)
    }
}

/// Counts bytes as they are read, for progress bars.
#[derive(Debug)]
pub struct Counting<R> {
    inner: R,
    pub bytes: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bytes.fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(n)
    }
}

/// An open file of rows.
pub struct RowReader {
    headers: Vec<String>,
    rows: Box<dyn Iterator<Item = Result<RawRow, ReadError>> + Send>,
}

impl std::fmt::Debug for RowReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RowReader").field("headers", &self.headers).finish_non_exhaustive()
    }
}

impl RowReader {
    /// Opens `path`. For JSON Lines, `columns` (the entry's item codes) are the header: each line is an object
    /// keyed by item code (or name). `bytes` counts what has been read (Excel: the whole file at once).
    pub fn open(
        path: &Path,
        format: RecordFormat,
        columns: &[String],
        bytes: std::sync::Arc<std::sync::atomic::AtomicU64>,
    ) -> Result<RowReader, ReadError> {
        let io = |e: std::io::Error| ReadError { row: 0, message: format!("无法读取文件：{e}") };
        match format {
            RecordFormat::Csv => {
                let file = Counting { inner: File::open(path).map_err(io)?, bytes };
                let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(BufReader::new(file));
                let headers: Vec<String> = reader
                    .headers()
                    .map_err(|e| ReadError { row: 1, message: format!("表头无法读取：{e}") })?
                    .iter()
                    .map(|h| h.trim_start_matches('\u{feff}').trim().to_owned())
                    .collect();
                let rows = reader.into_records().enumerate().map(|(i, r)| {
                    let row = i as u64 + 2;
                    r.map(|rec| (rec.position().map_or(row, |p| p.line()), rec.iter().map(str::to_owned).collect()))
                        .map_err(|e| ReadError { row, message: format!("CSV 格式错误：{e}") })
                });
                Ok(RowReader { headers, rows: Box::new(rows) })
            }
            RecordFormat::JsonLines => {
                let file = Counting { inner: File::open(path).map_err(io)?, bytes };
                let columns = columns.to_vec();
                let headers = columns.clone();
                let lines = BufReader::new(file).lines().enumerate().filter_map(move |(i, line)| {
                    let row = i as u64 + 1;
                    let line = match line {
                        Ok(l) => l,
                        Err(e) => return Some(Err(ReadError { row, message: format!("无法读取：{e}") })),
                    };
                    if line.trim().is_empty() {
                        return None;
                    }
                    Some(json_row(row, &line, &columns))
                });
                Ok(RowReader { headers, rows: Box::new(lines) })
            }
            RecordFormat::Xlsx => {
                let size = std::fs::metadata(path).map_err(io)?.len();
                let too_large = |e: crate::sheet::SheetError| ReadError { row: 0, message: e.to_string() };
                crate::sheet::check_unpacked_size(File::open(path).map_err(io)?, &XLSX_LIMITS).map_err(too_large)?;
                let mut book: Xlsx<_> = open_workbook(path)
                    .map_err(|e| ReadError { row: 0, message: format!("不是有效的 Excel 文件：{e}") })?;
                let name = crate::sheet::first_sheet(&book)
                    .ok_or_else(|| ReadError { row: 0, message: "工作簿中没有工作表".into() })?;
                let mut rows =
                    crate::sheet::read_rows(&mut book, &name, &XLSX_LIMITS, cell_text).map_err(too_large)?.into_iter();
                bytes.fetch_add(size, std::sync::atomic::Ordering::Relaxed);
                let headers: Vec<String> = rows.next().map(|(_, cells)| cells).unwrap_or_default();
                let width = headers.len();
                let body: Vec<Result<RawRow, ReadError>> = rows
                    .map(|(row, mut values)| {
                        values.resize(width.max(values.len()), String::new());
                        while values.len() > width && values.last().is_some_and(String::is_empty) {
                            values.pop();
                        }
                        Ok((u64::from(row) + 1, values))
                    })
                    .collect();
                Ok(RowReader { headers, rows: Box::new(body.into_iter()) })
            }
        }
    }

    pub fn headers(&self) -> &[String] {
        &self.headers
    }
}

impl Iterator for RowReader {
    type Item = Result<RawRow, ReadError>;
    fn next(&mut self) -> Option<Self::Item> {
        self.rows.next()
    }
}

fn json_row(row: u64, line: &str, columns: &[String]) -> Result<RawRow, ReadError> {
    let value: serde_json::Value =
        serde_json::from_str(line).map_err(|e| ReadError { row, message: format!("不是有效的 JSON:{e}") })?;
    let serde_json::Value::Object(object) = value else {
        return Err(ReadError { row, message: "每行应为一个 JSON 对象".into() });
    };
    if let Some(unknown) = object.keys().find(|k| !columns.contains(k)) {
        return Err(ReadError { row, message: format!("字段「{unknown}」不是该目录的数据项") });
    }
    Ok((row, columns.iter().map(|c| object.get(c).map(json_to_raw).unwrap_or_default()).collect()))
}

fn cell_text(cell: &Data) -> String {
    match cell {
        Data::Empty => String::new(),
        Data::String(s) => s.clone(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Data::Float(f) => f.to_string(),
        Data::Int(i) => i.to_string(),
        Data::Bool(b) => b.to_string(),
        // Excel's serial date: days since 1899-12-30, the fraction is the time of day.
        Data::DateTime(d) => {
            let serial = d.as_f64();
            let base = chrono::NaiveDate::from_ymd_opt(1899, 12, 30).expect("valid date").and_hms_opt(0, 0, 0);
            let at = base.map(|b| b + chrono::Duration::milliseconds((serial * 86_400_000.0).round() as i64));
            match at {
                Some(t) if serial.fract() == 0.0 => t.format("%Y-%m-%d").to_string(),
                Some(t) => t.format("%Y-%m-%d %H:%M:%S").to_string(),
                None => serial.to_string(),
            }
        }
        Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Error(e) => format!("#{e:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn counter() -> std::sync::Arc<std::sync::atomic::AtomicU64> {
        Default::default()
    }

    #[test]
    fn csv_rows_carry_their_line_numbers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.csv");
        std::fs::write(&path, "\u{feff}xm,sfzh\n张三,11010519491231002X\n\"李,四\",x\n").unwrap();
        let reader = RowReader::open(&path, RecordFormat::Csv, &[], counter()).unwrap();
        assert_eq!(reader.headers(), ["xm", "sfzh"]);
        let rows: Vec<RawRow> = reader.map(Result::unwrap).collect();
        assert_eq!(rows[1], (3, vec!["李,四".to_owned(), "x".to_owned()]));
    }

    #[test]
    fn json_lines_are_objects_of_item_codes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.jsonl");
        let mut f = File::create(&path).unwrap();
        writeln!(f, "{{\"xm\": \"张三\", \"nl\": 30}}\n\n{{\"xx\": 1}}\nnot json").unwrap();
        let columns = vec!["xm".to_owned(), "nl".to_owned()];
        let rows: Vec<_> = RowReader::open(&path, RecordFormat::JsonLines, &columns, counter()).unwrap().collect();
        assert_eq!(rows[0], Ok((1, vec!["张三".to_owned(), "30".to_owned()])));
        assert_eq!(rows[1].as_ref().unwrap_err().row, 3);
        assert_eq!(rows[2].as_ref().unwrap_err().row, 4);
    }

    #[test]
    fn formats_are_detected_from_names() {
        assert_eq!(RecordFormat::detect("", "人口.XLSX"), Some(RecordFormat::Xlsx));
        assert_eq!(RecordFormat::detect("jsonl", "x.txt"), Some(RecordFormat::JsonLines));
        assert_eq!(RecordFormat::detect("", "x.doc"), None);
    }
}
