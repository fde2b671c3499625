//! Supervision reports for the people's government (Art. 38 of the regulation), rendered three ways from
//! one [`Report`] model.
//!
//! A report is a title, a subtitle, the time it was generated and a list of [`Section`]s, each a heading and
//! a list of [`Block`]s: paragraphs, [`Table`]s and [`Chart`]s. This crate knows nothing about the rest of
//! govshare; the caller fills the model and picks the outputs:
//!
//! - [`svg`] draws one chart as a self-contained `<svg>` document (a `viewBox`, no width or height, so it
//!   scales to its container; a `<title>`; axis and value labels; a legend when a line chart has several
//!   series; no script and no stylesheet, so it prints as it shows). The web console inlines it, and [`pdf`]
//!   embeds the very same SVG, so the two never disagree. A chart without data says 「暂无数据」.
//! - [`xlsx`] writes an Excel workbook: a first sheet 「概况」 with the title, subtitle, generation time,
//!   every section heading and paragraph, and a line naming the sheet of each table and chart; then one
//!   sheet per table (counts as numbers, rates as fractions with a percent format, a bold frozen header)
//!   and one per chart holding the chart's figures as a table (label, value columns), so that every
//!   figure of a chart can be checked.
//! - [`pdf`] lays the report out on A4 pages: a header block with the title on the first page, section
//!   headings (also PDF bookmarks), paragraphs wrapped to the text width (CJK text breaks between any two
//!   characters, Latin text between words, with the usual Chinese line-breaking rules for punctuation),
//!   tables whose rows run over pages with the header row repeated, the charts, a running title on every
//!   page after the first and 「第 N 页 / 共 M 页」 at the foot of each page. The text is real text in an
//!   embedded, subset [`Font`] (it can be searched and copied). The PDF needs a font with Chinese glyphs:
//!   [`Font::discover`] finds one in the usual places (Debian's `fonts-noto-cjk` first).
//!
//! Figures are formatted the same way everywhere: [`Cell::Int`] with thousands separators (`1,234`),
//! [`Cell::Rate`] as a percentage with one decimal (`93.5%`), a missing rate as `—`.

mod font;
mod format;
mod pdf;
mod svg;
mod text;
mod xlsx;

pub use font::Font;
pub use format::{format_int, format_number, format_rate};
pub use pdf::pdf;
pub use svg::svg;
pub use xlsx::xlsx;

/// What the user sees for a missing figure.
pub const MISSING: &str = "—";

/// A whole report.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Report {
    /// The title, e.g. 「浙江省公共数据共享工作监督报告」.
    pub title: String,
    /// A line under the title, e.g. the period covered.
    pub subtitle: String,
    /// When the report was generated, as the caller wants it shown (e.g. 「2026-11-03 09:30」).
    pub generated_at: String,
    pub sections: Vec<Section>,
}

/// A heading and what follows it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Section {
    pub heading: String,
    pub blocks: Vec<Block>,
}

/// One piece of a section.
#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    /// A paragraph of running text. A `\n` starts a new paragraph.
    Paragraph(String),
    Table(Table),
    Chart(Chart),
}

/// A table with a title, a header row and data rows.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Table {
    /// Shown above the table; in the workbook it also names the table's sheet.
    pub title: String,
    pub columns: Vec<Column>,
    /// Rows of cells, one per column; a short row is padded with empty cells, extra cells are ignored.
    pub rows: Vec<Vec<Cell>>,
}

/// A column of a [`Table`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Column {
    pub name: String,
    /// Whether the column holds figures: they are right-aligned and never wrapped.
    pub numeric: bool,
}

impl Column {
    /// A column of text.
    pub fn text(name: impl Into<String>) -> Column {
        Column { name: name.into(), numeric: false }
    }

    /// A column of figures.
    pub fn numeric(name: impl Into<String>) -> Column {
        Column { name: name.into(), numeric: true }
    }
}

/// One cell of a [`Table`].
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Text(String),
    /// A count, shown with thousands separators (`1,234`).
    Int(i64),
    /// 0.0..=1.0 shown as a percentage with one decimal ("93.5%"); None shown as "—"
    Rate(Option<f64>),
}

impl Cell {
    /// The cell as the user reads it in the PDF (and in the console).
    pub fn display(&self) -> String {
        match self {
            Cell::Text(text) => text.clone(),
            Cell::Int(n) => format_int(*n),
            Cell::Rate(rate) => format_rate(*rate),
        }
    }
}

impl From<&str> for Cell {
    fn from(text: &str) -> Cell {
        Cell::Text(text.to_owned())
    }
}

impl From<String> for Cell {
    fn from(text: String) -> Cell {
        Cell::Text(text)
    }
}

impl From<i64> for Cell {
    fn from(n: i64) -> Cell {
        Cell::Int(n)
    }
}

/// A chart. A chart whose `unit` is `"%"` holds fractions (0.935) and is labelled as percentages
/// (`93.5%`), like [`Cell::Rate`]; any other unit is shown as 「单位：…」 beside the title and its values as
/// plain figures (`1,234`, `12.5`).
#[derive(Debug, Clone, PartialEq)]
pub enum Chart {
    /// Horizontal bars, one per label (department names, possibly long Chinese names: up to ~20 chars).
    Bars {
        title: String,
        unit: String,
        bars: Vec<(String, f64)>,
        /// The end of the value axis, e.g. `Some(1.0)` for rates shown as %; `None` rounds the largest
        /// value up to a round figure.
        max: Option<f64>,
    },
    /// One or more lines over the same x labels (dates like "11-03", or months "2026-10").
    Line { title: String, unit: String, labels: Vec<String>, series: Vec<Series> },
}

impl Chart {
    /// The chart's title.
    pub fn title(&self) -> &str {
        match self {
            Chart::Bars { title, .. } | Chart::Line { title, .. } => title,
        }
    }

    /// The chart's unit.
    pub fn unit(&self) -> &str {
        match self {
            Chart::Bars { unit, .. } | Chart::Line { unit, .. } => unit,
        }
    }

    /// Whether the values are fractions shown as percentages (the unit is `%`).
    pub fn is_percent(&self) -> bool {
        matches!(self.unit().trim(), "%" | "％")
    }
}

/// One line of a [`Chart::Line`]: a value per x label (a non-finite value leaves a gap).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Series {
    pub name: String,
    pub values: Vec<f64>,
}

/// Why a report could not be rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    /// No usable Chinese font; the message says what was looked for and how to fix it.
    #[error("{0}")]
    Font(String),
    /// The PDF or a chart could not be drawn.
    #[error("报表渲染失败（render failed）：{0}")]
    Render(String),
    /// The workbook could not be written.
    #[error("Excel 工作簿生成失败（xlsx failed）：{0}")]
    Xlsx(String),
}
