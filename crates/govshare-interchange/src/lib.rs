//! Catalog interchange (R-CAT-6): the Excel import template, batch import with a per-row, per-column error
//! report, Excel export that re-imports, and DCAT JSON-LD export.
//!
//! The workbook has a sheet 「目录」 with one row per entry and a sheet 「数据项」 with one row per data item,
//! linked to its entry by 资源代码. Columns are found by their header, so their order may change. Every value goes
//! through the same domain parsers as the API and the console; this crate only maps cells to fields and errors
//! back to cells.

pub mod records;
pub mod sheet;

use std::collections::{BTreeMap, HashMap};
use std::io::Cursor;

use calamine::{Data, Reader, Xlsx, open_workbook_from_rs};
use chrono::{DateTime, Utc};
use govshare_domain::catalog::{
    DataFormat, DataItemInput, DataType, DeliveryMethod, EntryContent, EntryInput, GradeScheme, PersonalInfoKind,
    SharingAttribute, UpdateFrequency, ValueFormat,
};
use govshare_domain::source::split_list;
use govshare_domain::spreadsheet::{neutralise_cell, restore_cell};
use rust_xlsxwriter::{DataValidation, Format, Workbook, Worksheet, XlsxError};
use serde::Serialize;
use serde_json::{Value, json};

pub const ENTRY_SHEET: &str = "目录";
pub const ITEM_SHEET: &str = "数据项";
pub const HELP_SHEET: &str = "填写说明";

/// A column: header, the input field it fills, whether it is required, and what to write in it.
struct Column {
    header: &'static str,
    field: &'static str,
    required: bool,
    help: &'static str,
}

const fn col(header: &'static str, field: &'static str, required: bool, help: &'static str) -> Column {
    Column { header, field, required, help }
}

const ENTRY_COLUMNS: &[Column] = &[
    col("资源代码", "resource_code", true, "目录的唯一代码，如 330000-GAT-0001；数据项表用它关联目录"),
    col("资源名称", "name", true, "政务数据资源名称"),
    col("摘要", "summary", true, "资源内容的简要说明"),
    col("数据格式", "format", true, "从下拉列表选择"),
    col("更新频率", "update_frequency", true, "从下拉列表选择"),
    col("共享属性", "sharing_attribute", true, "无条件共享 / 有条件共享 / 不予共享"),
    col("共享范围", "sharing_scope", false, "有条件共享时必填"),
    col("使用用途", "permitted_purposes", false, "有条件共享时必填；多个用途以分号或换行分隔"),
    col("不予共享理由", "not_shared_reason", false, "不予共享时必填"),
    col("法律依据", "legal_basis", false, "不予共享时必填：禁止共享的法律、行政法规或国务院决定"),
    col("共享方式", "delivery_methods", false, "服务接口、批量交换、文件下载，多个以顿号分隔；不予共享时留空"),
    col("使用条件", "usage_conditions", false, "可选"),
    col("分类", "grade_class", true, "从下拉列表选择"),
    col("级别", "grade_level", true, "数字，如 3"),
    col("是否向社会开放", "open_to_public", false, "是 / 否，留空为否"),
    col("关联目录", "related_codes", false, "关联目录的资源代码，多个以顿号分隔"),
];

/// Read-only columns an export adds after the importable ones.
const EXPORT_ONLY_COLUMNS: &[&str] = &["提供部门", "统一社会信用代码", "版本", "发布时间"];

const ITEM_COLUMNS: &[Column] = &[
    col("资源代码", "resource_code", true, "所属目录的资源代码"),
    col("数据项名称", "name", true, "如 公民身份号码"),
    col("数据项代码", "code", true, "字母开头，字母、数字、下划线"),
    col("数据类型", "data_type", true, "从下拉列表选择"),
    col("长度", "length", false, "数字，可选"),
    col("分类", "grade_class", true, "从下拉列表选择"),
    col("级别", "grade_level", true, "数字，不高于目录级别"),
    col("个人信息类别", "personal_info", false, "含个人信息时选择类别，否则留空"),
    col("格式校验", "format", false, "按格式校验数据并决定脱敏样式（如 统一社会信用代码），与个人信息无关；不校验留空"),
];

/// The column headers of the import template's two sheets (「目录」, 「数据项」), in order.
pub fn import_headers() -> (Vec<&'static str>, Vec<&'static str>) {
    (ENTRY_COLUMNS.iter().map(|c| c.header).collect(), ITEM_COLUMNS.iter().map(|c| c.header).collect())
}

#[derive(Debug, thiserror::Error)]
pub enum InterchangeError {
    /// The file as a whole cannot be used (not a workbook, a sheet or a required column missing).
    #[error("{0}")]
    Unreadable(String),
    #[error("Excel 文件生成失败：{0}")]
    Write(#[from] XlsxError),
}

/// One bad cell (or row) of an import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CellError {
    pub sheet: String,
    /// 1-based, as Excel shows it.
    pub row: u32,
    pub column: String,
    /// The input field, as the API names it (`items[2].length`).
    pub field: String,
    pub rule: String,
    pub message: String,
}

/// An entry read from the workbook.
#[derive(Debug, Clone, Serialize)]
pub struct ImportedEntry {
    /// The Excel row of its line on 「目录」.
    pub row: u32,
    pub input: EntryInput,
    /// It and all its data items passed every check.
    pub valid: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct ImportReport {
    pub entries: Vec<ImportedEntry>,
    /// The first [`MAX_REPORTED_CELL_ERRORS`] errors, each message at most
    /// [`govshare_domain::error::MAX_MESSAGE_CHARS`] characters.
    pub errors: Vec<CellError>,
    /// How many errors the file has in all.
    pub errors_total: usize,
}

/// The most cell errors an import report lists; `errors_total` counts them all.
pub const MAX_REPORTED_CELL_ERRORS: usize = 1000;

impl ImportReport {
    pub fn is_clean(&self) -> bool {
        self.errors.is_empty()
    }

    pub fn valid_inputs(&self) -> Vec<&EntryInput> {
        self.entries.iter().filter(|e| e.valid).map(|e| &e.input).collect()
    }
}

fn labels<T: Copy>(all: &[T], label: impl Fn(T) -> &'static str) -> Vec<&'static str> {
    all.iter().map(|v| label(*v)).collect()
}

fn header_format() -> Format {
    Format::new().set_bold().set_background_color("#DCE6F1").set_border(rust_xlsxwriter::FormatBorder::Thin)
}

fn write_headers(sheet: &mut Worksheet, headers: &[&str]) -> Result<(), XlsxError> {
    let bold = header_format();
    for (c, h) in headers.iter().enumerate() {
        sheet.write_string_with_format(0, c as u16, *h, &bold)?;
        sheet.set_column_width(c as u16, (h.chars().count() as f64 * 2.2).max(14.0))?;
    }
    sheet.set_freeze_panes(1, 0)?;
    Ok(())
}

fn list_validation(sheet: &mut Worksheet, column: usize, values: &[&str]) -> Result<(), XlsxError> {
    let validation = DataValidation::new().allow_list_strings(values)?;
    sheet.add_data_validation(1, column as u16, 10_000, column as u16, &validation)?;
    Ok(())
}

fn column_index(columns: &[Column], field: &str) -> usize {
    columns.iter().position(|c| c.field == field).unwrap_or(0)
}

fn entry_sheet(workbook: &mut Workbook, scheme: &GradeScheme, export: bool) -> Result<(), XlsxError> {
    let sheet = workbook.add_worksheet();
    sheet.set_name(ENTRY_SHEET)?;
    let mut headers: Vec<&str> = ENTRY_COLUMNS.iter().map(|c| c.header).collect();
    if export {
        headers.extend_from_slice(EXPORT_ONLY_COLUMNS);
    }
    write_headers(sheet, &headers)?;
    let classes: Vec<&str> = scheme.classes.iter().map(String::as_str).collect();
    list_validation(sheet, column_index(ENTRY_COLUMNS, "format"), &labels(DataFormat::ALL, DataFormat::label))?;
    list_validation(
        sheet,
        column_index(ENTRY_COLUMNS, "update_frequency"),
        &labels(UpdateFrequency::ALL, UpdateFrequency::label),
    )?;
    list_validation(
        sheet,
        column_index(ENTRY_COLUMNS, "sharing_attribute"),
        &labels(SharingAttribute::ALL, SharingAttribute::label),
    )?;
    list_validation(sheet, column_index(ENTRY_COLUMNS, "grade_class"), &classes)?;
    list_validation(sheet, column_index(ENTRY_COLUMNS, "open_to_public"), &["是", "否"])?;
    Ok(())
}

fn item_sheet(workbook: &mut Workbook, scheme: &GradeScheme) -> Result<(), XlsxError> {
    let sheet = workbook.add_worksheet();
    sheet.set_name(ITEM_SHEET)?;
    write_headers(sheet, &ITEM_COLUMNS.iter().map(|c| c.header).collect::<Vec<_>>())?;
    let classes: Vec<&str> = scheme.classes.iter().map(String::as_str).collect();
    list_validation(sheet, column_index(ITEM_COLUMNS, "data_type"), &labels(DataType::ALL, DataType::label))?;
    list_validation(sheet, column_index(ITEM_COLUMNS, "grade_class"), &classes)?;
    list_validation(
        sheet,
        column_index(ITEM_COLUMNS, "personal_info"),
        &labels(PersonalInfoKind::ALL, PersonalInfoKind::label),
    )?;
    list_validation(sheet, column_index(ITEM_COLUMNS, "format"), &labels(ValueFormat::ALL, ValueFormat::label))?;
    Ok(())
}

fn help_sheet(workbook: &mut Workbook, scheme: &GradeScheme) -> Result<(), XlsxError> {
    let sheet = workbook.add_worksheet();
    sheet.set_name(HELP_SHEET)?;
    write_headers(sheet, &["工作表", "列", "是否必填", "填写要求"])?;
    sheet.set_column_width(3, 80)?;
    let mut row = 1;
    for (name, columns) in [(ENTRY_SHEET, ENTRY_COLUMNS), (ITEM_SHEET, ITEM_COLUMNS)] {
        for c in columns {
            sheet.write_string(row, 0, name)?;
            sheet.write_string(row, 1, c.header)?;
            sheet.write_string(row, 2, if c.required { "必填" } else { "选填" })?;
            sheet.write_string(row, 3, c.help)?;
            row += 1;
        }
    }
    row += 1;
    let notes = [
        format!("分类可选：{}；级别 1–{}。数据项的级别不得高于所属目录的级别。", scheme.classes.join("、"), scheme.max_level),
        "示例：目录表一行「330000-GAT-0001 | 居民户籍信息 | … | 有条件共享 | 省级政府部门 | 社会救助资格核查」，数据项表两行「330000-GAT-0001 | 姓名 | xm | 字符型 | 50 | 一般数据 | 2 | 姓名」「330000-GAT-0001 | 公民身份号码 | gmsfhm | 字符型 | 18 | 一般数据 | 3 | 身份证件号码」。".to_owned(),
        "导入时逐行逐列校验；文件有任何错误时默认不导入任何目录，可在错误报告中选择只导入无误的目录。".to_owned(),
    ];
    for note in notes {
        sheet.write_string(row, 3, note)?;
        row += 1;
    }
    Ok(())
}

/// The empty import template.
pub fn template_xlsx(scheme: &GradeScheme) -> Result<Vec<u8>, InterchangeError> {
    let mut workbook = Workbook::new();
    entry_sheet(&mut workbook, scheme, false)?;
    item_sheet(&mut workbook, scheme)?;
    help_sheet(&mut workbook, scheme)?;
    Ok(workbook.save_to_buffer()?)
}

/// A published entry as exported.
#[derive(Debug, Clone)]
pub struct ExportEntry {
    pub id: String,
    pub content: EntryContent,
    pub provider_name: String,
    pub provider_credit_code: String,
    pub version: u32,
    pub published_at: Option<DateTime<Utc>>,
}

/// Entries in the template's layout (plus provider, version and publication time), so an export re-imports.
pub fn export_xlsx(entries: &[ExportEntry], scheme: &GradeScheme) -> Result<Vec<u8>, InterchangeError> {
    let mut workbook = Workbook::new();
    entry_sheet(&mut workbook, scheme, true)?;
    item_sheet(&mut workbook, scheme)?;
    let mut item_row = 1;
    for (i, e) in entries.iter().enumerate() {
        let row = i as u32 + 1;
        let c = &e.content;
        let input = c.to_input();
        let cells: Vec<String> = vec![
            c.resource_code.clone(),
            c.name.clone(),
            c.summary.clone(),
            c.format.label().to_owned(),
            c.update_frequency.label().to_owned(),
            c.sharing.attribute().label().to_owned(),
            input.sharing_scope,
            input.permitted_purposes.join(";"),
            input.not_shared_reason,
            input.legal_basis,
            c.delivery_methods.iter().map(|m| m.label()).collect::<Vec<_>>().join("、"),
            c.usage_conditions.clone(),
            c.grade.class.clone(),
            c.grade.level.to_string(),
            if c.open_to_public { "是" } else { "否" }.to_owned(),
            c.related_codes.join("、"),
            e.provider_name.clone(),
            e.provider_credit_code.clone(),
            e.version.to_string(),
            e.published_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
        ];
        let sheet = workbook.worksheet_from_name(ENTRY_SHEET)?;
        for (col, text) in cells.iter().enumerate() {
            sheet.write_string(row, col as u16, neutralise_cell(text))?;
        }
        let sheet = workbook.worksheet_from_name(ITEM_SHEET)?;
        for item in &c.items {
            let cells = [
                c.resource_code.clone(),
                item.name.clone(),
                item.code.clone(),
                item.data_type.label().to_owned(),
                item.length.map(|l| l.to_string()).unwrap_or_default(),
                item.grade.class.clone(),
                item.grade.level.to_string(),
                item.personal_info.map(|p| p.label().to_owned()).unwrap_or_default(),
                item.format.map(|f| f.label().to_owned()).unwrap_or_default(),
            ];
            for (col, text) in cells.iter().enumerate() {
                sheet.write_string(item_row, col as u16, neutralise_cell(text))?;
            }
            item_row += 1;
        }
    }
    Ok(workbook.save_to_buffer()?)
}

// ---- import ----

/// A cell as text; a cell that an export neutralised against formula injection reads back as its value.
fn cell_text(cell: &Data) -> String {
    match cell {
        Data::Empty => String::new(),
        Data::String(s) => restore_cell(s.trim()).to_owned(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Data::Bool(b) => if *b { "是" } else { "否" }.to_owned(),
        other => other.to_string().trim().to_owned(),
    }
}

/// A sheet's rows as text, with its header positions.
struct Sheet {
    name: &'static str,
    /// field → column index
    columns: HashMap<&'static str, usize>,
    headers: HashMap<&'static str, &'static str>,
    /// (Excel row number, cells)
    rows: Vec<(u32, Vec<String>)>,
}

impl Sheet {
    fn read(
        workbook: &mut Xlsx<Cursor<&[u8]>>,
        name: &'static str,
        spec: &[Column],
    ) -> Result<Sheet, InterchangeError> {
        if !workbook.sheet_names().iter().any(|n| n == name) {
            return Err(InterchangeError::Unreadable(format!("文件中缺少工作表「{name}」，请使用导入模板")));
        }
        let mut rows = sheet::read_rows(workbook, name, &IMPORT_LIMITS, cell_text)
            .map_err(|e| InterchangeError::Unreadable(e.to_string()))?
            .into_iter();
        let header: Vec<String> = rows.next().map(|(_, cells)| cells).unwrap_or_default();
        let mut columns = HashMap::new();
        let mut headers = HashMap::new();
        for c in spec {
            match header.iter().position(|h| h == c.header) {
                Some(i) => {
                    columns.insert(c.field, i);
                }
                None if c.required => {
                    return Err(InterchangeError::Unreadable(format!(
                        "工作表「{name}」缺少必填列「{}」，请使用导入模板",
                        c.header
                    )));
                }
                None => {}
            }
            headers.insert(c.field, c.header);
        }
        let rows = rows.map(|(row, cells)| (row + 1, cells)).collect();
        Ok(Sheet { name, columns, headers, rows })
    }

    fn get<'a>(&self, cells: &'a [String], field: &str) -> &'a str {
        self.columns.get(field).and_then(|i| cells.get(*i)).map(String::as_str).unwrap_or("")
    }

    fn error(&self, row: u32, field: &str, api_field: String, rule: &str, message: String) -> CellError {
        CellError {
            sheet: self.name.to_owned(),
            row,
            column: self.headers.get(field).copied().unwrap_or("").to_owned(),
            field: api_field,
            rule: rule.to_owned(),
            message,
        }
    }
}

fn parse_level(text: &str) -> Result<u8, String> {
    text.trim().parse::<u8>().map_err(|_| format!("「{text}」不是有效的级别数字"))
}

fn parse_bool(text: &str) -> Result<bool, String> {
    match text.trim() {
        "" | "否" | "false" | "FALSE" | "N" | "n" | "0" => Ok(false),
        "是" | "true" | "TRUE" | "Y" | "y" | "1" => Ok(true),
        other => Err(format!("「{other}」应填写「是」或「否」")),
    }
}

/// How large an import workbook's sheets may be: far beyond any real catalog file (the service also caps the
/// entries per import), far below what would strain the process.
pub const IMPORT_LIMITS: sheet::SheetLimits = sheet::SheetLimits {
    max_rows: 50_000,
    max_columns: 64,
    max_cells: 1_000_000,
    max_text_bytes: 64 << 20,
    max_unpacked_bytes: 256 << 20,
};

/// Reads an import workbook and checks every row against the domain's rules.
pub fn parse_xlsx(bytes: &[u8], scheme: &GradeScheme) -> Result<ImportReport, InterchangeError> {
    sheet::check_unpacked_size(Cursor::new(bytes), &IMPORT_LIMITS)
        .map_err(|e| InterchangeError::Unreadable(e.to_string()))?;
    let mut workbook: Xlsx<_> = open_workbook_from_rs(Cursor::new(bytes))
        .map_err(|_| InterchangeError::Unreadable("无法读取文件，请上传 .xlsx 格式的 Excel 工作簿".into()))?;
    let entries_sheet = Sheet::read(&mut workbook, ENTRY_SHEET, ENTRY_COLUMNS)?;
    let items_sheet = Sheet::read(&mut workbook, ITEM_SHEET, ITEM_COLUMNS)?;
    let mut errors = Vec::new();

    // Entries, in sheet order; codes must be unique in the file.
    let mut entries: Vec<(u32, EntryInput, bool)> = Vec::new();
    let mut by_code: BTreeMap<String, usize> = BTreeMap::new();
    for (row, cells) in &entries_sheet.rows {
        let s = &entries_sheet;
        let g = |f: &str| s.get(cells, f).to_owned();
        let mut ok = true;
        let mut err = |field: &str, rule: &str, message: String| {
            errors.push(s.error(*row, field, field.to_owned(), rule, message));
        };
        let grade_level = match parse_level(&g("grade_level")) {
            Ok(l) => l,
            Err(m) => {
                err("grade_level", "number", m);
                ok = false;
                0
            }
        };
        let open_to_public = match parse_bool(&g("open_to_public")) {
            Ok(b) => b,
            Err(m) => {
                err("open_to_public", "yes_no", m);
                ok = false;
                false
            }
        };
        let code = g("resource_code");
        if !code.is_empty() {
            if let Some(first) = by_code.get(&code) {
                let first_row = entries[*first].0;
                err("resource_code", "duplicate", format!("资源代码 {code} 与第 {first_row} 行重复"));
                ok = false;
            } else {
                by_code.insert(code.clone(), entries.len());
            }
        }
        let input = EntryInput {
            name: g("name"),
            resource_code: code,
            summary: g("summary"),
            format: g("format"),
            items: vec![],
            update_frequency: g("update_frequency"),
            sharing_attribute: g("sharing_attribute"),
            sharing_scope: g("sharing_scope"),
            permitted_purposes: g("permitted_purposes")
                .split(['\n', ';', ';'])
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(str::to_owned)
                .collect(),
            not_shared_reason: g("not_shared_reason"),
            legal_basis: g("legal_basis"),
            delivery_methods: split_list(&g("delivery_methods")),
            usage_conditions: g("usage_conditions"),
            grade_class: g("grade_class"),
            grade_level,
            open_to_public,
            related_codes: split_list(&g("related_codes")),
        };
        entries.push((*row, input, ok));
    }

    // Items join their entry by code; each item row is checked on its own so that every bad cell is reported.
    let mut item_rows: Vec<Vec<u32>> = vec![Vec::new(); entries.len()];
    for (row, cells) in &items_sheet.rows {
        let s = &items_sheet;
        let g = |f: &str| s.get(cells, f).to_owned();
        let code = g("resource_code");
        let Some(&index) = by_code.get(&code) else {
            let message = if code.is_empty() {
                "数据项未填写所属目录的资源代码".to_owned()
            } else {
                format!("目录表中没有资源代码为 {code} 的目录")
            };
            errors.push(s.error(*row, "resource_code", "resource_code".into(), "unknown_entry", message));
            continue;
        };
        let position = entries[index].1.items.len();
        let api = |f: &str| format!("items[{position}].{f}");
        let mut ok = true;
        let mut push = |field: &str, rule: &str, message: String| {
            errors.push(s.error(*row, field, api(field), rule, message));
        };
        let length = match g("length").as_str() {
            "" => None,
            text => match text.parse::<u32>() {
                Ok(l) => Some(l),
                Err(_) => {
                    push("length", "number", format!("「{text}」不是有效的长度数字"));
                    ok = false;
                    None
                }
            },
        };
        let grade_level = match parse_level(&g("grade_level")) {
            Ok(l) => l,
            Err(m) => {
                push("grade_level", "number", m);
                ok = false;
                0
            }
        };
        let personal_info = Some(g("personal_info")).filter(|p| !p.is_empty());
        let item = DataItemInput {
            name: g("name"),
            code: g("code"),
            data_type: g("data_type"),
            length,
            grade_class: g("grade_class"),
            grade_level,
            personal_info,
            format: Some(g("format")).filter(|f| !f.is_empty()),
        };
        if ok {
            // The item on its own, in a minimal entry that cannot fail for reasons of its own.
            let mut probe = EntryInput {
                name: "校验".into(),
                resource_code: "PROBE-0001".into(),
                summary: "校验".into(),
                format: DataFormat::Database.code().into(),
                update_frequency: UpdateFrequency::Daily.code().into(),
                sharing_attribute: SharingAttribute::Unconditional.code().into(),
                delivery_methods: vec![DeliveryMethod::ServiceApi.code().into()],
                grade_class: item.grade_class.clone(),
                grade_level: scheme.max_level,
                items: vec![item.clone()],
                ..Default::default()
            };
            if !scheme.classes.contains(&probe.grade_class) {
                probe.grade_class = scheme.classes.first().cloned().unwrap_or_default();
            }
            if let Err(e) = EntryContent::parse(&probe, scheme)
                && let Some(field) = e.field.strip_prefix("items[0].")
            {
                let field = field.split('.').next().unwrap_or(field);
                let column = if field == "grade" { "grade_level" } else { field };
                errors.push(s.error(*row, column, api(field), e.rule, e.message));
                ok = false;
            }
        }
        entries[index].1.items.push(item);
        item_rows[index].push(*row);
        if !ok {
            entries[index].2 = false;
        }
    }

    // Each entry as a whole: the sharing-attribute rules, grades against items, at least one item …
    for (index, (row, input, ok)) in entries.iter_mut().enumerate() {
        if !*ok {
            continue;
        }
        if let Err(e) = EntryContent::parse(input, scheme) {
            *ok = false;
            let field = e.field.to_string();
            let item = field
                .strip_prefix("items[")
                .and_then(|rest| rest.split_once(']'))
                .and_then(|(i, rest)| Some((i.parse::<usize>().ok()?, rest.trim_start_matches('.').to_owned())));
            match item {
                Some((i, item_field)) if i < item_rows[index].len() => {
                    let column = item_field.split('.').next().unwrap_or("").to_owned();
                    let column = if column == "grade" { "grade_level".to_owned() } else { column };
                    errors.push(items_sheet.error(item_rows[index][i], &column, field.clone(), e.rule, e.message));
                }
                _ => {
                    let column = match field.as_str() {
                        "grade" => "grade_level",
                        "items" => "",
                        f => f.split('[').next().unwrap_or(f),
                    };
                    let mut error = entries_sheet.error(*row, column, field.clone(), e.rule, e.message);
                    if column.is_empty() {
                        error.column = "数据项".to_owned();
                    }
                    errors.push(error);
                }
            }
        }
    }
    errors.sort_by(|a, b| (a.sheet != ENTRY_SHEET, a.row, &a.column).cmp(&(b.sheet != ENTRY_SHEET, b.row, &b.column)));
    let errors_total = errors.len();
    errors.truncate(MAX_REPORTED_CELL_ERRORS);
    for e in &mut errors {
        e.message = govshare_domain::error::clip_message(std::mem::take(&mut e.message));
    }
    Ok(ImportReport {
        entries: entries.into_iter().map(|(row, input, valid)| ImportedEntry { row, input, valid }).collect(),
        errors,
        errors_total,
    })
}

// ---- DCAT ----

/// The EU frequency vocabulary, which DCAT application profiles use for `dct:accrualPeriodicity`.
fn frequency_uri(f: UpdateFrequency) -> String {
    let code = match f {
        UpdateFrequency::Realtime => "CONT",
        UpdateFrequency::Daily => "DAILY",
        UpdateFrequency::Weekly => "WEEKLY",
        UpdateFrequency::Monthly => "MONTHLY",
        UpdateFrequency::Quarterly => "QUARTERLY",
        UpdateFrequency::HalfYearly => "ANNUAL_2",
        UpdateFrequency::Yearly => "ANNUAL",
        UpdateFrequency::Irregular => "IRREG",
    };
    format!("http://publications.europa.eu/resource/authority/frequency/{code}")
}

/// The published catalog as a DCAT `dcat:Catalog` in JSON-LD, one `dcat:Dataset` per entry.
pub fn dcat_jsonld(entries: &[ExportEntry], base_url: &str) -> Value {
    let base = base_url.trim_end_matches('/');
    let datasets: Vec<Value> = entries
        .iter()
        .map(|e| {
            let c = &e.content;
            let id = format!("{base}/catalog/{}", e.id);
            let distributions: Vec<Value> = c
                .delivery_methods
                .iter()
                .map(|m| {
                    json!({
                        "@id": format!("{id}#{}", m.code()),
                        "@type": "dcat:Distribution",
                        "dct:title": m.label(),
                        "dct:format": c.format.label(),
                        "govshare:deliveryMethod": m.code(),
                    })
                })
                .collect();
            let items: Vec<Value> = c
                .items
                .iter()
                .map(|i| {
                    json!({
                        "@type": "govshare:DataItem",
                        "dct:title": i.name,
                        "govshare:code": i.code,
                        "govshare:dataType": i.data_type.code(),
                        "govshare:length": i.length,
                        "govshare:grade": format!("{}-{}", i.grade.class, i.grade.level),
                        "govshare:personalInformation": i.personal_info.map(|p| p.code()),
                        "govshare:valueFormat": i.value_format().map(|f| f.code()),
                    })
                })
                .collect();
            let mut dataset = json!({
                "@id": id,
                "@type": "dcat:Dataset",
                "dct:identifier": c.resource_code,
                "dct:title": { "@value": c.name, "@language": "zh" },
                "dct:description": { "@value": c.summary, "@language": "zh" },
                "dct:language": "zh",
                "dct:publisher": {
                    "@type": "foaf:Organization",
                    "foaf:name": e.provider_name,
                    "dct:identifier": e.provider_credit_code,
                },
                "dct:accrualPeriodicity": { "@id": frequency_uri(c.update_frequency) },
                "dct:accessRights": c.sharing.attribute().label(),
                "govshare:sharingAttribute": c.sharing.attribute().code(),
                "govshare:grade": format!("{}-{}", c.grade.class, c.grade.level),
                "govshare:openToPublic": c.open_to_public,
                "govshare:version": e.version,
                "govshare:dataItems": items,
                "dcat:distribution": distributions,
                "dct:relation": c.related_codes,
            });
            if let Some(t) = e.published_at {
                dataset["dct:modified"] = json!({ "@value": t.to_rfc3339(), "@type": "xsd:dateTime" });
            }
            if !c.usage_conditions.is_empty() {
                dataset["govshare:usageConditions"] = json!(c.usage_conditions);
            }
            dataset
        })
        .collect();
    json!({
        "@context": {
            "dcat": "http://www.w3.org/ns/dcat#",
            "dct": "http://purl.org/dc/terms/",
            "foaf": "http://xmlns.com/foaf/0.1/",
            "xsd": "http://www.w3.org/2001/XMLSchema#",
            "govshare": format!("{base}/ns/govshare#"),
        },
        "@id": format!("{base}/catalog"),
        "@type": "dcat:Catalog",
        "dct:title": { "@value": "政务数据目录", "@language": "zh" },
        "dcat:dataset": datasets,
    })
}

#[cfg(test)]
mod tests;

/// A console table as an Excel workbook: one sheet, a bold header row, the rows as text (cells that a
/// spreadsheet would run as formulas are neutralised), columns sized to their content.
pub fn table_xlsx(sheet_name: &str, headers: &[&str], rows: &[Vec<String>]) -> Result<Vec<u8>, InterchangeError> {
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    sheet.set_name(sheet_name)?;
    let bold = Format::new().set_bold();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count() * 2).collect();
    for (col, h) in headers.iter().enumerate() {
        sheet.write_string_with_format(0, col as u16, *h, &bold)?;
    }
    for (i, row) in rows.iter().enumerate() {
        for (col, text) in row.iter().enumerate() {
            sheet.write_string(i as u32 + 1, col as u16, neutralise_cell(text))?;
            if let Some(w) = widths.get_mut(col) {
                *w = (*w).max(text.chars().map(|c| if c.is_ascii() { 1 } else { 2 }).sum::<usize>().min(60));
            }
        }
    }
    for (col, w) in widths.iter().enumerate() {
        sheet.set_column_width(col as u16, (*w as f64 + 2.0).min(62.0))?;
    }
    sheet.set_freeze_panes(1, 0)?;
    Ok(workbook.save_to_buffer()?)
}
