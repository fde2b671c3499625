//! Records of hosted data sources (R-DEL-1): how a provider's rows are checked against its entry's data items
//! before the platform keeps them — types, lengths, 公民身份号码 (GB 11643) and 统一社会信用代码 (GB 32100) check
//! characters — and how a source is bound to an entry.

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ValidationError;
use crate::catalog::{DataItem, DataType, EntryContent, ValueFormat};
use crate::credit_code::CreditCode;
use crate::error::keep;

/// One record as the platform keeps it: item code → value (string, number, bool or null).
pub type Record = serde_json::Map<String, Value>;

/// How a provider serves an entry's data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SourceKind {
    /// A table the platform hosts, loaded from files. `key_item` identifies a record (lookups, upserts);
    /// `scope_item` (optional) is the item row scopes match by prefix, e.g. a region code.
    Hosted { key_item: String, scope_item: Option<String> },
    /// The provider's own HTTP service: `url` contains `{key}`, which the platform replaces with the
    /// percent-encoded key and GETs; the answer is one JSON object of item codes (404: no record).
    Proxy { url: String, key_item: String },
}

impl SourceKind {
    pub fn key_item(&self) -> &str {
        match self {
            SourceKind::Hosted { key_item, .. } | SourceKind::Proxy { key_item, .. } => key_item,
        }
    }

    pub fn scope_item(&self) -> Option<&str> {
        match self {
            SourceKind::Hosted { scope_item, .. } => scope_item.as_deref(),
            SourceKind::Proxy { .. } => None,
        }
    }

    pub fn is_hosted(&self) -> bool {
        matches!(self, SourceKind::Hosted { .. })
    }
}

/// Unparsed binding, as the API and the console send it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SourceInput {
    /// `hosted` or `proxy`.
    pub kind: String,
    pub key_item: String,
    pub scope_item: String,
    pub url: String,
}

/// A proxied service's address: http(s), with the `{key}` placeholder, at most 500 bytes.
fn proxy_url(url: &str) -> Result<String, ValidationError> {
    let url = url.trim();
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(ValidationError::new("url", "scheme", "服务地址应以 http:// 或 https:// 开头"));
    }
    if !url.contains("{key}") || url.len() > 500 {
        return Err(ValidationError::new(
            "url",
            "key_placeholder",
            "服务地址应包含 {key} 占位符（查询键值将替换它），且不超过 500 个字符",
        ));
    }
    Ok(url.to_owned())
}

impl SourceKind {
    /// Checks a binding against the entry: every problem at once (at least one), in the order of the form.
    pub fn parse(input: &SourceInput, entry: &EntryContent) -> Result<SourceKind, Vec<ValidationError>> {
        let item = |field: &'static str, code: &str| -> Result<String, ValidationError> {
            let code = code.trim();
            if code.is_empty() {
                return Err(ValidationError::new(field, "required", "请选择数据项"));
            }
            entry
                .items
                .iter()
                .find(|i| i.code == code || i.name == code)
                .map(|i| i.code.clone())
                .ok_or_else(|| ValidationError::new(field, "not_in_entry", format!("「{code}」不是该目录的数据项")))
        };
        let mut problems = Vec::new();
        let hosted = match input.kind.trim() {
            "hosted" | "平台托管" => Some(true),
            "proxy" | "接口代理" => Some(false),
            "" => {
                problems.push(ValidationError::new("kind", "required", "请选择数据源类型"));
                None
            }
            other => {
                problems.push(ValidationError::new(
                    "kind",
                    "unknown_value",
                    format!("「{other}」不是有效的数据源类型，可选：hosted（平台托管）、proxy（接口代理）"),
                ));
                None
            }
        };
        let key_item = keep(&mut problems, item("key_item", &input.key_item));
        let kind = match hosted {
            Some(true) => {
                let scope_item = match input.scope_item.trim() {
                    "" => Some(None),
                    scope => keep(&mut problems, item("scope_item", scope)).map(Some),
                };
                key_item.zip(scope_item).map(|(key_item, scope_item)| SourceKind::Hosted { key_item, scope_item })
            }
            Some(false) => {
                let url = keep(&mut problems, proxy_url(&input.url));
                key_item.zip(url).map(|(key_item, url)| SourceKind::Proxy { url, key_item })
            }
            None => None,
        };
        match kind {
            Some(kind) if problems.is_empty() => Ok(kind),
            _ => Err(problems),
        }
    }
}

/// A problem with one value of one row of a loaded file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowError {
    /// Line of the file (CSV and JSON Lines, header = line 1) or row of the sheet (Excel).
    pub row: u64,
    /// The item's code, or the file's column header when it matches no item.
    pub column: String,
    pub rule: String,
    pub message: String,
}

/// GB 11643 公民身份号码: 17 digits, a valid birth date, and the ISO 7064 MOD 11-2 check character.
pub fn check_id_number(input: &str) -> Result<(), (&'static str, String)> {
    let bytes = input.as_bytes();
    if bytes.len() != 18 {
        return Err(("id_length", format!("公民身份号码应为 18 位，实际 {} 位", input.chars().count())));
    }
    if !bytes[..17].iter().all(u8::is_ascii_digit) {
        return Err(("id_digits", "公民身份号码前 17 位应为数字".into()));
    }
    let birth = &input[6..14];
    if NaiveDate::parse_from_str(birth, "%Y%m%d").is_err() {
        return Err(("id_birth_date", format!("公民身份号码中的出生日期「{birth}」无效")));
    }
    let expected = id_check_character(&bytes[..17]);
    let actual = bytes[17].to_ascii_uppercase() as char;
    if actual != expected {
        return Err((
            "check_character",
            format!("公民身份号码校验位错误：第 18 位应为「{expected}」，实际为「{actual}」"),
        ));
    }
    Ok(())
}

/// The GB 11643 check character of the first 17 digits.
pub fn id_check_character(first17: &[u8]) -> char {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: &[u8; 11] = b"10X98765432";
    let sum: u32 = first17.iter().zip(WEIGHTS).map(|(d, w)| u32::from(d - b'0') * w).sum();
    CHECK[(sum % 11) as usize] as char
}

fn value_error(rule: &'static str, message: impl Into<String>) -> (&'static str, String) {
    (rule, message.into())
}

/// A date written exactly as `YYYY-MM-DD` (the canonical form, which loads keep as written): checked without
/// chrono's format parser, whose parsing of the format string showed in the profile of large loads.
fn iso_date(raw: &str) -> Option<NaiveDate> {
    let b = raw.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r.clone()].iter().all(u8::is_ascii_digit).then(|| &raw[r]);
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (y, m, d) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)
}

/// Checks one raw value (as read from a file) against its data item and returns the value to keep.
/// Empty input is `null`.
pub fn parse_value(item: &DataItem, raw: &str) -> Result<Value, (&'static str, String)> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(Value::Null);
    }
    if let Some(max) = item.length {
        let len = raw.chars().count();
        if len > max as usize {
            return Err(value_error("too_long", format!("长度 {len} 超过数据项定义的 {max}")));
        }
    }
    let value = match item.data_type {
        DataType::String | DataType::Binary => Value::String(raw.to_owned()),
        DataType::Integer => {
            let n: i64 = raw.parse().map_err(|_| value_error("integer", format!("「{raw}」不是整数")))?;
            Value::from(n)
        }
        DataType::Decimal => {
            let ok = raw.parse::<f64>().is_ok_and(f64::is_finite)
                && raw.chars().all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '+'));
            if !ok {
                return Err(value_error("decimal", format!("「{raw}」不是数值")));
            }
            // Kept as written: a decimal is never rounded through a float.
            Value::String(raw.to_owned())
        }
        DataType::Date if iso_date(raw).is_some() => Value::String(raw.to_owned()),
        DataType::Date => {
            let date = ["%Y-%m-%d", "%Y%m%d", "%Y/%m/%d"]
                .iter()
                .find_map(|f| NaiveDate::parse_from_str(raw, f).ok())
                .ok_or_else(|| value_error("date", format!("「{raw}」不是有效日期（YYYY-MM-DD）")))?;
            Value::String(date.format("%Y-%m-%d").to_string())
        }
        DataType::DateTime => {
            let at = ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y/%m/%d %H:%M:%S", "%Y-%m-%d %H:%M"]
                .iter()
                .find_map(|f| NaiveDateTime::parse_from_str(raw, f).ok())
                .ok_or_else(|| value_error("datetime", format!("「{raw}」不是有效日期时间（YYYY-MM-DD HH:MM:SS）")))?;
            Value::String(at.format("%Y-%m-%d %H:%M:%S").to_string())
        }
        DataType::Boolean => match raw {
            "true" | "1" | "是" | "TRUE" | "True" => Value::Bool(true),
            "false" | "0" | "否" | "FALSE" | "False" => Value::Bool(false),
            _ => return Err(value_error("boolean", format!("「{raw}」不是布尔值（是/否）"))),
        },
    };
    match item.value_format() {
        Some(ValueFormat::IdNumber) => check_id_number(raw)?,
        Some(ValueFormat::CreditCode) => {
            CreditCode::parse(raw).map_err(|e| value_error("check_character", e.message))?;
        }
        Some(ValueFormat::Phone) => {
            let digits = raw.chars().filter(char::is_ascii_digit).count();
            if !(7..=15).contains(&digits) || !raw.chars().all(|c| c.is_ascii_digit() || matches!(c, '-' | '+' | ' ')) {
                return Err(value_error("phone", format!("「{raw}」不是有效电话号码")));
            }
        }
        Some(ValueFormat::Email) => {
            let ok = raw.split_once('@').is_some_and(|(user, host)| !user.is_empty() && host.contains('.'));
            if !ok {
                return Err(value_error("email", format!("「{raw}」不是有效电子邮箱")));
            }
        }
        _ => {}
    }
    Ok(value)
}

/// Turns a JSON value from a JSON Lines file into the raw text `parse_value` checks.
pub fn json_to_raw(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        other => other.to_string(),
    }
}

/// How the columns of a file map to the entry's data items (found by code or name in the header).
#[derive(Debug, Clone)]
pub struct ColumnMap {
    /// For each column of the file, the index of its item in the entry (None: not an item).
    columns: Vec<Option<usize>>,
    headers: Vec<String>,
}

impl ColumnMap {
    /// Matches a file's header row to the entry's items. Every item must have a column (a missing one is
    /// an error naming it); extra columns are an error too, so a mislabelled column cannot load silently.
    pub fn new(items: &[DataItem], headers: &[String]) -> Result<ColumnMap, Vec<RowError>> {
        let mut errors = Vec::new();
        let mut seen = BTreeMap::new();
        let columns: Vec<Option<usize>> = headers
            .iter()
            .map(|h| {
                let h = h.trim().trim_start_matches('\u{feff}');
                let found = items.iter().position(|i| i.code == h || i.name == h);
                match found {
                    None => errors.push(RowError {
                        row: 1,
                        column: h.to_owned(),
                        rule: "unknown_column".into(),
                        message: format!("列「{h}」不是该目录的数据项"),
                    }),
                    Some(i) => {
                        if seen.insert(i, ()).is_some() {
                            errors.push(RowError {
                                row: 1,
                                column: h.to_owned(),
                                rule: "duplicate_column".into(),
                                message: format!("数据项「{}」出现了两列", items[i].name),
                            });
                        }
                    }
                }
                found
            })
            .collect();
        for (i, item) in items.iter().enumerate() {
            if !seen.contains_key(&i) {
                errors.push(RowError {
                    row: 1,
                    column: item.code.clone(),
                    rule: "missing_column".into(),
                    message: format!("缺少数据项「{}」（{}）一列", item.name, item.code),
                });
            }
        }
        if errors.is_empty() { Ok(ColumnMap { columns, headers: headers.to_vec() }) } else { Err(errors) }
    }

    pub fn headers(&self) -> &[String] {
        &self.headers
    }

    /// Checks one row (values in the file's column order) and builds the record. `key_item` must have a value.
    pub fn record(
        &self,
        items: &[DataItem],
        key_item: &str,
        row: u64,
        values: &[String],
    ) -> Result<Record, Vec<RowError>> {
        let mut errors = Vec::new();
        let mut record = Record::new();
        if values.len() != self.columns.len() {
            return Err(vec![RowError {
                row,
                column: String::new(),
                rule: "column_count".into(),
                message: format!("该行有 {} 列，表头有 {} 列", values.len(), self.columns.len()),
            }]);
        }
        for (raw, column) in values.iter().zip(&self.columns) {
            let Some(i) = column else { continue };
            let item = &items[*i];
            match parse_value(item, raw) {
                Ok(Value::Null) if item.code == key_item => errors.push(RowError {
                    row,
                    column: item.code.clone(),
                    rule: "required".into(),
                    message: format!("「{}」是记录的主键，不能为空", item.name),
                }),
                Ok(value) => {
                    record.insert(item.code.clone(), value);
                }
                Err((rule, message)) => errors.push(RowError {
                    row,
                    column: item.code.clone(),
                    rule: rule.into(),
                    message: format!("{}：{message}", item.name),
                }),
            }
        }
        if errors.is_empty() { Ok(record) } else { Err(errors) }
    }
}

/// The text of a record's key item, as lookups send it.
pub fn key_of(record: &Record, key_item: &str) -> Option<String> {
    match record.get(key_item)? {
        Value::Null => None,
        v => Some(json_to_raw(v)),
    }
}

/// A data source bound to a catalog entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataSource {
    pub entry: crate::catalog::EntryId,
    pub kind: SourceKind,
    /// Hosted records are kept SM4-encrypted (the entry's grade requires it; decided at binding).
    pub encrypted: bool,
    pub updated_at: chrono::DateTime<chrono::Utc>,
    pub updated_by: String,
}

/// `replace`: the file is the whole table (records not in it are deleted); `upsert`: the file adds or changes
/// records and deletes none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoadMode {
    Replace,
    Upsert,
}

impl LoadMode {
    pub fn parse(input: &str) -> Result<LoadMode, ValidationError> {
        match input.trim() {
            "" | "replace" | "全量替换" => Ok(LoadMode::Replace),
            "upsert" | "增量更新" => Ok(LoadMode::Upsert),
            other => Err(ValidationError::new(
                "mode",
                "unknown_value",
                format!("「{other}」不是有效的加载方式，可选：replace（全量替换）、upsert（增量更新）"),
            )),
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            LoadMode::Replace => "replace",
            LoadMode::Upsert => "upsert",
        }
    }
}

/// What one load did; kept as the source's change history together with the changed records.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoadCounts {
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub deleted: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceLoad {
    pub id: uuid::Uuid,
    pub entry: crate::catalog::EntryId,
    pub at: chrono::DateTime<chrono::Utc>,
    pub actor: String,
    pub file_name: String,
    /// SM3 of the file as received.
    pub file_sm3: String,
    pub mode: LoadMode,
    pub rows_read: u64,
    /// Rows left out because they had errors (only when the loader asked for the valid rows).
    pub rows_rejected: u64,
    pub counts: LoadCounts,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{Grade, PersonalInfoKind};

    #[test]
    fn the_iso_date_shortcut_takes_only_real_dates_in_the_canonical_form() {
        assert_eq!(iso_date("2024-02-29"), NaiveDate::from_ymd_opt(2024, 2, 29));
        for not in ["2025-02-29", "2025-13-01", "2025-1-01", "+025-01-01", "2025-01-0１", "20250101", "2025/01/01"] {
            assert_eq!(iso_date(not), None, "{not}");
        }
    }

    fn item(code: &str, data_type: DataType, length: Option<u32>, pi: Option<PersonalInfoKind>) -> DataItem {
        DataItem {
            name: code.to_uppercase(),
            code: code.into(),
            data_type,
            length,
            grade: Grade { class: "一般数据".into(), level: 2 },
            personal_info: pi,
            format: None,
        }
    }

    /// A binding's every problem at once, in the order of the form; a valid one of each kind parses.
    #[test]
    fn source_bindings_report_every_problem() {
        let entry = crate::catalog::EntryContent::parse(
            &crate::catalog::tests::input("无条件共享"),
            &crate::catalog::GradeScheme::default(),
        )
        .unwrap();
        let input = |kind: &str, key: &str, scope: &str, url: &str| SourceInput {
            kind: kind.into(),
            key_item: key.into(),
            scope_item: scope.into(),
            url: url.into(),
        };
        let problems = |i: SourceInput| -> Vec<(String, &'static str)> {
            SourceKind::parse(&i, &entry).unwrap_err().into_iter().map(|p| (p.field.to_string(), p.rule)).collect()
        };
        let named = |pairs: &[(&str, &'static str)]| -> Vec<(String, &'static str)> {
            pairs.iter().map(|(f, r)| (f.to_string(), *r)).collect()
        };
        assert_eq!(
            problems(input("proxy", "dz", "", "ftp://x")),
            named(&[("key_item", "not_in_entry"), ("url", "scheme")])
        );
        assert_eq!(
            problems(input("hosted", "", "nope", "")),
            named(&[("key_item", "required"), ("scope_item", "not_in_entry")])
        );
        assert_eq!(problems(input("", "", "", "")), named(&[("kind", "required"), ("key_item", "required")]));
        assert_eq!(
            problems(input("proxy", "id_number", "", "https://x.gov.cn/p")),
            named(&[("url", "key_placeholder")])
        );
        assert_eq!(
            SourceKind::parse(&input("平台托管", "id_number", "name", ""), &entry).unwrap(),
            SourceKind::Hosted { key_item: "id_number".into(), scope_item: Some("name".into()) }
        );
        assert!(SourceKind::parse(&input("proxy", "id_number", "", "https://x.gov.cn/p/{key}"), &entry).is_ok());
    }

    #[test]
    fn id_numbers_need_their_check_character_and_birth_date() {
        // 11010519491231002X is the standard's own example.
        assert!(check_id_number("11010519491231002X").is_ok());
        assert!(check_id_number("11010519491231002x").is_ok());
        assert_eq!(check_id_number("110105194912310021").unwrap_err().0, "check_character");
        assert_eq!(check_id_number("110105194913310023").unwrap_err().0, "id_birth_date");
        assert_eq!(check_id_number("1101051949123100").unwrap_err().0, "id_length");
    }

    #[test]
    fn values_are_checked_by_type_length_and_kind() {
        let name = item("xm", DataType::String, Some(4), Some(PersonalInfoKind::Name));
        assert_eq!(parse_value(&name, " 张三 ").unwrap(), Value::from("张三"));
        assert_eq!(parse_value(&name, "欧阳娜娜子").unwrap_err().0, "too_long");
        let age = item("nl", DataType::Integer, None, None);
        assert_eq!(parse_value(&age, "42").unwrap(), Value::from(42));
        assert_eq!(parse_value(&age, "4.2").unwrap_err().0, "integer");
        let amount = item("je", DataType::Decimal, None, None);
        assert_eq!(parse_value(&amount, "1234.50").unwrap(), Value::from("1234.50"));
        assert_eq!(parse_value(&amount, "1e5").unwrap_err().0, "decimal");
        let born = item("csrq", DataType::Date, None, None);
        assert_eq!(parse_value(&born, "19900102").unwrap(), Value::from("1990-01-02"));
        assert_eq!(parse_value(&born, "1990-02-30").unwrap_err().0, "date");
        let code = item("xydm", DataType::String, Some(18), Some(PersonalInfoKind::CreditCode));
        assert!(parse_value(&code, "91350100M000100Y43").is_ok());
        assert_eq!(parse_value(&code, "91350100M000100Y44").unwrap_err().0, "check_character");
        let mail = item("yx", DataType::String, None, Some(PersonalInfoKind::Email));
        assert_eq!(parse_value(&mail, "not-an-address").unwrap_err().0, "email");
        assert_eq!(parse_value(&mail, "").unwrap(), Value::Null);
    }

    #[test]
    fn a_declared_format_is_checked_without_making_the_item_personal_information() {
        // An enterprise's credit code: checked and masked as one, and no personal information at all.
        let mut enterprise = item("tyshxydm", DataType::String, Some(18), None);
        enterprise.format = Some(ValueFormat::CreditCode);
        assert_eq!(enterprise.value_format(), Some(ValueFormat::CreditCode));
        assert!(parse_value(&enterprise, "91350100M000100Y43").is_ok());
        assert_eq!(parse_value(&enterprise, "91350100M000100Y44").unwrap_err().0, "check_character");
        assert_eq!(crate::grant::mask_item(&enterprise, "91350100M000100Y43"), "913501********0Y43");
        // A phone number declared as a format on a non-personal item (a department's switchboard).
        let mut office = item("dh", DataType::String, Some(20), None);
        office.format = Some(ValueFormat::Phone);
        assert_eq!(parse_value(&office, "phone?").unwrap_err().0, "phone");
        assert_eq!(crate::grant::mask_item(&office, "13812345678"), "138****5678");
        // Without a format or a kind, nothing is checked beyond the type, and mask shows first and last.
        let plain = item("bz", DataType::String, Some(20), None);
        assert!(parse_value(&plain, "91350100M000100Y44").is_ok());
        assert_eq!(crate::grant::mask_item(&plain, "abcd"), "a**d");
        // An address is masked by its kind whatever its format.
        let mut address = item("dz", DataType::String, Some(100), Some(PersonalInfoKind::Address));
        address.format = None;
        assert_eq!(crate::grant::mask_item(&address, "浙江省杭州市西湖区文三路 1 号"), "浙江省杭州市****");
    }

    #[test]
    fn columns_are_matched_by_code_or_name_and_rows_report_every_bad_value() {
        let items = vec![
            item("sfzh", DataType::String, Some(18), Some(PersonalInfoKind::IdNumber)),
            item("nl", DataType::Integer, None, None),
        ];
        let bad = ColumnMap::new(&items, &["sfzh".into(), "年龄".into()]).unwrap_err();
        assert_eq!(bad.iter().map(|e| e.rule.as_str()).collect::<Vec<_>>(), ["unknown_column", "missing_column"]);
        let map = ColumnMap::new(&items, &["NL".into(), "sfzh".into()]).unwrap();
        let ok = map.record(&items, "sfzh", 2, &["30".into(), "11010519491231002X".into()]).unwrap();
        assert_eq!(key_of(&ok, "sfzh").as_deref(), Some("11010519491231002X"));
        let errors = map.record(&items, "sfzh", 3, &["x".into(), "".into()]).unwrap_err();
        assert_eq!(errors.len(), 2);
        assert_eq!((errors[0].row, errors[0].column.as_str(), errors[0].rule.as_str()), (3, "nl", "integer"));
        assert_eq!(errors[1].rule, "required");
    }
}
