//! The report as an Excel workbook.

use std::collections::HashSet;

use rust_xlsxwriter::{Color, DocProperties, Format, FormatAlign, FormatBorder, Workbook, Worksheet, XlsxError};

use crate::text::display_columns;
use crate::{Block, Cell, Chart, MISSING, Report, ReportError, Table};

const OVERVIEW: &str = "概况";
const PERCENT: &str = "0.0%";
const INTEGER: &str = "#,##0";
const DECIMAL: &str = "#,##0.00";
/// Width of the overview's text column, in characters.
const OVERVIEW_WIDTH: usize = 100;

/// Writes the report as an Excel workbook (`.xlsx`).
///
/// The first sheet, 「概况」, holds the title, the subtitle, 「生成时间：…」 and, section by section, the
/// heading, the paragraphs and a line naming the sheet that holds each table (「表格：…（见工作表「…」）」)
/// and chart. Then comes one sheet per table: its title in the first row, a bold header row (frozen, with
/// a filter), the rows with [`Cell::Int`] as numbers (`#,##0`), [`Cell::Rate`] as the fraction with a
/// percent format (`0.0%`) and a missing rate as 「—」. Then, in the same order, one sheet per chart with
/// its figures as a table: a bar chart as 「名称」 and a value column, a line chart as 「时间」 and a column
/// per series. Sheet names come from the titles, made to fit Excel's rules (at most 31 characters, none of
/// `[]:*?/\` — replaced by their full-width forms — and unique, a repeated name getting 「（2）」).
/// Column widths follow the content, a CJK character counting as two.
pub fn xlsx(report: &Report) -> Result<Vec<u8>, ReportError> {
    write(report).map_err(|e| ReportError::Xlsx(e.to_string()))
}

fn write(report: &Report) -> Result<Vec<u8>, XlsxError> {
    let mut names = SheetNames::default();
    names.claim(OVERVIEW);
    // Name every sheet first: the overview refers to them.
    let mut tables: Vec<(&Table, String)> = Vec::new();
    let mut charts: Vec<(&Chart, String)> = Vec::new();
    let mut refs: Vec<Vec<Option<String>>> = Vec::new();
    for section in &report.sections {
        let mut section_refs = Vec::new();
        for block in &section.blocks {
            section_refs.push(match block {
                Block::Paragraph(_) => None,
                Block::Table(table) => {
                    let name = names.claim(&default_title(&table.title, "表格", tables.len()));
                    tables.push((table, name.clone()));
                    Some(format!("表格：{}（见工作表「{name}」）", table.title))
                }
                Block::Chart(chart) => {
                    let name = names.claim(&default_title(chart.title(), "图表", charts.len()));
                    charts.push((chart, name.clone()));
                    Some(format!("图表：{}（数据见工作表「{name}」）", chart.title()))
                }
            });
        }
        refs.push(section_refs);
    }

    let mut workbook = Workbook::new();
    workbook.set_properties(&DocProperties::new().set_title(&report.title).set_subject(&report.subtitle));
    let formats = Formats::new();

    let sheet = workbook.add_worksheet();
    sheet.set_name(OVERVIEW)?;
    sheet.set_column_width(0, OVERVIEW_WIDTH as f64)?;
    let mut row = 0;
    sheet.write_string_with_format(row, 0, &report.title, &formats.title)?;
    sheet.set_row_height(row, 24)?;
    row += 1;
    if !report.subtitle.is_empty() {
        sheet.write_string(row, 0, &report.subtitle)?;
        row += 1;
    }
    if !report.generated_at.is_empty() {
        sheet.write_string(row, 0, format!("生成时间：{}", report.generated_at))?;
        row += 1;
    }
    for (section, section_refs) in report.sections.iter().zip(&refs) {
        row += 1;
        sheet.write_string_with_format(row, 0, &section.heading, &formats.heading)?;
        row += 1;
        for (block, reference) in section.blocks.iter().zip(section_refs) {
            if let Some(reference) = reference {
                sheet.write_string(row, 0, reference)?;
                row += 1;
                continue;
            }
            let Block::Paragraph(text) = block else { continue };
            for paragraph in text.split('\n').map(str::trim).filter(|p| !p.is_empty()) {
                sheet.write_string_with_format(row, 0, paragraph, &formats.wrap)?;
                let lines = display_columns(paragraph).div_ceil(OVERVIEW_WIDTH).max(1);
                sheet.set_row_height(row, 15.0 * lines as f64)?;
                row += 1;
            }
        }
    }

    for (table, name) in tables {
        let sheet = workbook.add_worksheet();
        sheet.set_name(&name)?;
        write_table(sheet, table, &formats)?;
    }
    for (chart, name) in charts {
        let sheet = workbook.add_worksheet();
        sheet.set_name(&name)?;
        write_chart(sheet, chart, &formats)?;
    }
    workbook.save_to_buffer()
}

struct Formats {
    title: Format,
    heading: Format,
    wrap: Format,
    header: Format,
    text: Format,
    integer: Format,
    decimal: Format,
    percent: Format,
    missing: Format,
}

impl Formats {
    fn new() -> Formats {
        let cell = Format::new().set_border(FormatBorder::Thin).set_border_color(Color::RGB(0xC8_CED6));
        Formats {
            title: Format::new().set_bold().set_font_size(16),
            heading: Format::new().set_bold().set_font_size(12),
            wrap: Format::new().set_text_wrap().set_align(FormatAlign::Top),
            header: cell
                .clone()
                .set_bold()
                .set_background_color(Color::RGB(0xE8_EEF6))
                .set_align(FormatAlign::Center)
                .set_align(FormatAlign::VerticalCenter)
                .set_text_wrap(),
            text: cell.clone(),
            integer: cell.clone().set_num_format(INTEGER),
            decimal: cell.clone().set_num_format(DECIMAL),
            percent: cell.clone().set_num_format(PERCENT),
            missing: cell.set_align(FormatAlign::Right),
        }
    }
}

/// Title in row 1, header in row 2, the data below.
fn write_table(sheet: &mut Worksheet, table: &Table, formats: &Formats) -> Result<(), XlsxError> {
    sheet.write_string_with_format(0, 0, &table.title, &formats.heading)?;
    let mut widths: Vec<usize> = table.columns.iter().map(|c| display_columns(&c.name)).collect();
    for (col, column) in table.columns.iter().enumerate() {
        sheet.write_string_with_format(1, col as u16, &column.name, &formats.header)?;
    }
    for (r, cells) in table.rows.iter().enumerate() {
        let row = 2 + r as u32;
        for (col, cell) in cells.iter().take(table.columns.len()).enumerate() {
            let c = col as u16;
            match cell {
                Cell::Text(text) => sheet.write_string_with_format(row, c, text, &formats.text)?,
                Cell::Int(n) => sheet.write_number_with_format(row, c, *n as f64, &formats.integer)?,
                Cell::Rate(Some(rate)) if rate.is_finite() => {
                    sheet.write_number_with_format(row, c, *rate, &formats.percent)?
                }
                Cell::Rate(_) => sheet.write_string_with_format(row, c, MISSING, &formats.missing)?,
            };
            widths[col] = widths[col].max(display_columns(&cell.display()));
        }
    }
    finish_sheet(sheet, &widths, table.rows.len())
}

/// A column of a chart's data: its header and values.
type Column = (String, Vec<f64>);

fn write_chart(sheet: &mut Worksheet, chart: &Chart, formats: &Formats) -> Result<(), XlsxError> {
    let percent = chart.is_percent();
    let unit = chart.unit().trim();
    sheet.write_string_with_format(0, 0, chart.title(), &formats.heading)?;
    let (label_header, labels, series): (&str, Vec<&str>, Vec<Column>) = match chart {
        Chart::Bars { bars, .. } => {
            let header = match () {
                _ if percent => "比例".to_owned(),
                _ if unit.is_empty() => "数值".to_owned(),
                _ => format!("数值（{unit}）"),
            };
            ("名称", bars.iter().map(|(l, _)| l.as_str()).collect(), vec![(header, bars.iter().map(|b| b.1).collect())])
        }
        Chart::Line { labels, series, .. } => {
            let suffix = if percent || unit.is_empty() { String::new() } else { format!("（{unit}）") };
            let series = series.iter().map(|s| (format!("{}{suffix}", s.name), s.values.clone())).collect();
            ("时间", labels.iter().map(String::as_str).collect(), series)
        }
    };
    let mut widths = vec![display_columns(label_header)];
    sheet.write_string_with_format(1, 0, label_header, &formats.header)?;
    for (k, (name, _)) in series.iter().enumerate() {
        sheet.write_string_with_format(1, 1 + k as u16, name, &formats.header)?;
        widths.push(display_columns(name));
    }
    for (r, label) in labels.iter().enumerate() {
        let row = 2 + r as u32;
        sheet.write_string_with_format(row, 0, *label, &formats.text)?;
        widths[0] = widths[0].max(display_columns(label));
        for (k, (_, values)) in series.iter().enumerate() {
            let col = 1 + k as u16;
            let integral = values.iter().all(|v| !v.is_finite() || v.fract() == 0.0);
            let format = match () {
                _ if percent => &formats.percent,
                _ if integral => &formats.integer,
                _ => &formats.decimal,
            };
            match values.get(r) {
                Some(v) if v.is_finite() => {
                    sheet.write_number_with_format(row, col, *v, format)?;
                    let shown = crate::format::format_value(*v, percent);
                    widths[1 + k] = widths[1 + k].max(display_columns(&shown));
                }
                _ => {
                    sheet.write_string_with_format(row, col, MISSING, &formats.missing)?;
                }
            }
        }
    }
    finish_sheet(sheet, &widths, labels.len())
}

/// Column widths, the frozen header and a filter over the data.
fn finish_sheet(sheet: &mut Worksheet, widths: &[usize], rows: usize) -> Result<(), XlsxError> {
    for (col, width) in widths.iter().enumerate() {
        sheet.set_column_width(col as u16, (*width + 3).clamp(8, 60) as f64)?;
    }
    sheet.set_freeze_panes(2, 0)?;
    if !widths.is_empty() && rows > 0 {
        sheet.autofilter(1, 0, 1 + rows as u32, widths.len() as u16 - 1)?;
    }
    Ok(())
}

fn default_title(title: &str, kind: &str, count: usize) -> String {
    if title.trim().is_empty() { format!("{kind}{}", count + 1) } else { title.to_owned() }
}

/// Sheet names as Excel takes them: at most 31 characters, none of `[]:*?/\` (replaced by their
/// full-width forms), not starting or ending with `'`, not 「History」, unique regardless of case.
#[derive(Debug, Default)]
struct SheetNames {
    used: HashSet<String>,
}

impl SheetNames {
    fn claim(&mut self, title: &str) -> String {
        let cleaned: String = title
            .chars()
            .map(|c| match c {
                '[' => '［',
                ']' => '］',
                ':' => '：',
                '*' => '＊',
                '?' => '？',
                '/' => '／',
                '\\' => '＼',
                c if c.is_control() => ' ',
                c => c,
            })
            .collect();
        let mut base = cleaned.trim().trim_matches('\'').trim().to_owned();
        if base.is_empty() {
            base = "工作表".to_owned();
        }
        if base.eq_ignore_ascii_case("history") {
            base.push('表');
        }
        let mut name = truncate(&base, 31);
        let mut n = 2;
        while self.used.contains(&name.to_lowercase()) {
            let suffix = format!("（{n}）");
            name = truncate(&base, 31 - suffix.chars().count()) + &suffix;
            n += 1;
        }
        self.used.insert(name.to_lowercase());
        name
    }
}

fn truncate(text: &str, max: usize) -> String {
    text.chars().take(max).collect::<String>().trim_end_matches('\'').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sheet_names_follow_excels_rules() {
        let mut names = SheetNames::default();
        assert_eq!(names.claim("概况"), "概况");
        assert_eq!(names.claim("概况"), "概况（2）");
        assert_eq!(names.claim("2026/10 [共享]: 率?*\\"), "2026／10 ［共享］： 率？＊＼");
        assert_eq!(names.claim("History"), "History表");
        assert_eq!(names.claim("'"), "工作表");
        let long = "浙江省各设区市公共数据共享平台接入与调用情况统计表（二〇二六年十月）";
        let first = names.claim(long);
        assert_eq!(first.chars().count(), 31);
        let second = names.claim(long);
        assert_eq!(second.chars().count(), 31);
        assert!(second.ends_with("（2）"));
        assert_eq!(names.claim("ABC"), "ABC");
        assert_eq!(names.claim("abc"), "abc（2）");
        for name in &names.used {
            assert!(!name.contains(['[', ']', ':', '*', '?', '/', '\\']), "{name}");
        }
    }
}
