//! The report as a PDF: the layout is computed first (pages of drawing operations), then drawn with krilla,
//! so that every page can say how many pages there are.

use std::sync::Arc;

use krilla::Document;
use krilla::color::rgb;
use krilla::destination::XyzDestination;
use krilla::geom::{PathBuilder, Point, Rect, Size, Transform};
use krilla::metadata::Metadata;
use krilla::outline::{Outline, OutlineNode};
use krilla::page::PageSettings;
use krilla::paint::{Fill, Stroke};
use krilla::surface::Surface;
use krilla::text::TextDirection;
use krilla_svg::{SurfaceExt, SvgSettings};

use crate::text::wrap;
use crate::{Block, Font, MISSING, Report, ReportError, Table, svg};

const PAGE_W: f32 = 595.276;
const PAGE_H: f32 = 841.89;
const MARGIN_X: f32 = 56.7;
/// Where the content starts on a page (the running header sits above it).
const TOP: f32 = 64.0;
/// Where the content must end on a page (the page number sits below it).
const BOTTOM: f32 = PAGE_H - 60.0;
const CONTENT_W: f32 = PAGE_W - 2.0 * MARGIN_X;

type Rgb = (u8, u8, u8);
const INK: Rgb = (0x1a, 0x1a, 0x1a);
const MUTED: Rgb = (0x5f, 0x68, 0x73);
const ACCENT: Rgb = (0x1f, 0x5f, 0xa8);
const RULE: Rgb = (0x3c, 0x46, 0x52);
const HAIRLINE: Rgb = (0xdd, 0xe1, 0xe6);
const HEADER_BG: Rgb = (0xe8, 0xee, 0xf6);
const STRIPE_BG: Rgb = (0xf6, 0xf8, 0xfa);

/// How a line of text is set: the font size, the height of its line box, colour and weight.
#[derive(Debug, Clone, Copy)]
struct Style {
    size: f32,
    line: f32,
    color: Rgb,
    bold: bool,
}

const TITLE: Style = Style { size: 22.0, line: 22.0 * 1.45, color: INK, bold: true };
const SUBTITLE: Style = Style { size: 13.0, line: 13.0 * 1.6, color: MUTED, bold: false };
const NOTE: Style = Style { size: 10.0, line: 10.0 * 1.6, color: MUTED, bold: false };
const HEADING: Style = Style { size: 15.0, line: 15.0 * 1.5, color: INK, bold: true };
const BODY: Style = Style { size: 10.5, line: 10.5 * 1.75, color: INK, bold: false };
const CAPTION: Style = Style { size: 11.0, line: 11.0 * 1.6, color: INK, bold: true };
const CELL_SIZE: f32 = 9.0;
const CELL_LINE: f32 = 13.0;
const CELL: Style = Style { size: CELL_SIZE, line: CELL_LINE, color: INK, bold: false };
const CELL_BOLD: Style = Style { bold: true, ..CELL };
/// What an empty table says.
const NO_DATA: &str = "暂无数据";
const CELL_PAD_X: f32 = 5.0;
const CELL_PAD_Y: f32 = 4.0;

/// Renders the report as an A4 PDF set in `font`.
///
/// The first page opens with the title, the subtitle and 「生成时间：…」 under a rule; each section has its
/// heading (also a bookmark) and its blocks: paragraphs with a two-character first-line indent, wrapped to
/// the text width (CJK text breaks between characters, Latin text between words, punctuation such as 「，」
/// never starts a line); tables as three-line tables with the header row repeated, under 「…（续）」, on
/// every page a table runs onto, figures right-aligned; charts drawn from the same SVG that [`svg()`] gives,
/// with their text as real text. Every page after the first shows the title at the top, and every page
/// shows 「第 N 页 / 共 M 页」 at the foot.
pub fn pdf(report: &Report, font: &Font) -> Result<Vec<u8>, ReportError> {
    let face = font.face();
    let metrics = Metrics::new(&face);
    let svg_options = svg_options(font);

    let mut layout = Layout::new(&metrics);
    layout.title_block(report);
    for section in &report.sections {
        let blocks: Vec<Prepared> =
            section.blocks.iter().map(|block| layout.prepare(block, &svg_options)).collect::<Result<_, _>>()?;
        // A heading stays with the beginning of what follows it.
        layout.heading(&section.heading, blocks.first().map(Prepared::lead).unwrap_or(0.0));
        for block in blocks {
            match block {
                Prepared::Paragraphs(paragraphs) => layout.paragraphs(paragraphs),
                Prepared::Table(table) => layout.table(table),
                Prepared::Chart(tree) => layout.chart(tree),
            }
        }
    }
    let Layout { pages, charts, bookmarks, .. } = layout;

    let krilla_font = krilla::text::Font::new(font.data().clone().into(), font.index())
        .ok_or_else(|| ReportError::Render(format!("krilla cannot read the font {}", font.source())))?;
    let mut document = Document::new();
    let total = pages.len();
    for (i, ops) in pages.iter().enumerate() {
        let settings =
            PageSettings::from_wh(PAGE_W, PAGE_H).ok_or_else(|| ReportError::Render("bad page size".into()))?;
        let mut page = document.start_page_with(settings);
        let mut surface = page.surface();
        let mut painter = Painter { surface: &mut surface, font: &krilla_font, charts: &charts };
        for op in ops {
            painter.draw(op)?;
        }
        // The running header and the page number.
        if i > 0 {
            let title = shorten(&metrics, &report.title, 9.0, CONTENT_W);
            painter.draw(&Op::Text { x: MARGIN_X, y: 40.0, size: 9.0, color: MUTED, bold: false, text: title })?;
            painter.draw(&Op::Line {
                x1: MARGIN_X,
                y1: 46.0,
                x2: PAGE_W - MARGIN_X,
                y2: 46.0,
                width: 0.5,
                color: HAIRLINE,
            })?;
        }
        let number = format!("第 {} 页 / 共 {total} 页", i + 1);
        let x = (PAGE_W - metrics.width(&number, 9.0)) / 2.0;
        painter.draw(&Op::Text { x, y: PAGE_H - 32.0, size: 9.0, color: MUTED, bold: false, text: number })?;
        surface.finish();
        page.finish();
    }

    let mut outline = Outline::new();
    for (title, page, y) in bookmarks {
        outline.push_child(OutlineNode::new(title, XyzDestination::new(page, Point::from_xy(MARGIN_X, y))));
    }
    document.set_outline(outline);
    let mut metadata = Metadata::new().title(report.title.clone()).language("zh-CN".into()).creator("govshare".into());
    if !report.subtitle.is_empty() {
        metadata = metadata.description(report.subtitle.clone());
    }
    document.set_metadata(metadata);
    document.finish().map_err(|e| ReportError::Render(e.to_string()))
}

/// usvg's options for the charts: a font database holding the report's face alone, which also stands for
/// every generic family, so that the charts are set in the same (embedded once) font as the text.
fn svg_options(font: &Font) -> usvg::Options<'static> {
    let mut db = usvg::fontdb::Database::new();
    let data: Arc<dyn AsRef<[u8]> + Send + Sync> = font.data().clone();
    db.load_font_source(usvg::fontdb::Source::Binary(data));
    let others: Vec<_> = db.faces().filter(|f| f.index != font.index()).map(|f| f.id).collect();
    for id in others {
        db.remove_face(id);
    }
    db.set_sans_serif_family(font.family());
    db.set_serif_family(font.family());
    usvg::Options { font_family: font.family().to_owned(), fontdb: Arc::new(db), ..usvg::Options::default() }
}

/// Advance widths from the font itself.
struct Metrics<'a> {
    face: &'a ttf_parser::Face<'a>,
    units_per_em: f32,
    /// Ascender and descender, in ems (the descender positive).
    ascent: f32,
    descent: f32,
}

impl<'a> Metrics<'a> {
    fn new(face: &'a ttf_parser::Face<'a>) -> Metrics<'a> {
        let units_per_em = f32::from(face.units_per_em());
        Metrics {
            face,
            units_per_em,
            ascent: f32::from(face.ascender()) / units_per_em,
            descent: -f32::from(face.descender()) / units_per_em,
        }
    }

    fn width(&self, text: &str, size: f32) -> f32 {
        let notdef = ttf_parser::GlyphId(0);
        let units: f32 = text
            .chars()
            .map(|c| {
                let glyph = self.face.glyph_index(c).unwrap_or(notdef);
                f32::from(self.face.glyph_hor_advance(glyph).unwrap_or(0))
            })
            .sum();
        units / self.units_per_em * size
    }

    /// The baseline of a line of `size` centred in a line box of `line` starting at `top`.
    fn baseline(&self, top: f32, size: f32, line: f32) -> f32 {
        top + (line - (self.ascent + self.descent) * size) / 2.0 + self.ascent * size
    }
}

/// Cuts a text to fit a width, ending it with 「…」.
fn shorten(metrics: &Metrics<'_>, text: &str, size: f32, width: f32) -> String {
    if metrics.width(text, size) <= width {
        return text.to_owned();
    }
    let room = width - metrics.width("…", size);
    let mut out = String::new();
    for c in text.chars() {
        if metrics.width(&out, size) + metrics.width(c.encode_utf8(&mut [0; 4]), size) > room {
            break;
        }
        out.push(c);
    }
    out + "…"
}

/// A drawing operation, in points from the page's top left corner; `y` of a text is its baseline.
enum Op {
    Text { x: f32, y: f32, size: f32, color: Rgb, bold: bool, text: String },
    Rect { x: f32, y: f32, w: f32, h: f32, color: Rgb },
    Line { x1: f32, y1: f32, x2: f32, y2: f32, width: f32, color: Rgb },
    Chart { index: usize, x: f32, y: f32, w: f32, h: f32 },
}

struct Layout<'a> {
    metrics: &'a Metrics<'a>,
    pages: Vec<Vec<Op>>,
    charts: Vec<usvg::Tree>,
    /// Section headings: title, page index, y.
    bookmarks: Vec<(String, usize, f32)>,
    y: f32,
}

impl<'a> Layout<'a> {
    fn new(metrics: &'a Metrics<'a>) -> Layout<'a> {
        Layout { metrics, pages: vec![Vec::new()], charts: Vec::new(), bookmarks: Vec::new(), y: TOP - 8.0 }
    }

    fn push(&mut self, op: Op) {
        self.pages.last_mut().expect("a page").push(op);
    }

    fn new_page(&mut self) {
        self.pages.push(Vec::new());
        self.y = TOP;
    }

    fn at_page_top(&self) -> bool {
        self.y <= TOP + 0.5
    }

    /// Starts a new page unless `height` still fits on this one (or this one is still empty).
    fn ensure(&mut self, height: f32) {
        if self.y + height > BOTTOM && !self.at_page_top() {
            self.new_page();
        }
    }

    /// A line of text whose line box starts at `top`.
    fn text(&mut self, x: f32, top: f32, style: Style, text: String) {
        if text.is_empty() {
            return;
        }
        let Style { size, line, color, bold } = style;
        let y = self.metrics.baseline(top, size, line);
        self.push(Op::Text { x, y, size, color, bold, text });
    }

    fn centered_lines(&mut self, text: &str, style: Style) {
        let measure = |s: &str| self.metrics.width(s, style.size);
        for text in wrap(text, CONTENT_W, CONTENT_W, &measure) {
            self.ensure(style.line);
            let x = MARGIN_X + (CONTENT_W - self.metrics.width(&text, style.size)) / 2.0;
            self.text(x, self.y, style, text);
            self.y += style.line;
        }
    }

    fn title_block(&mut self, report: &Report) {
        self.centered_lines(&report.title, TITLE);
        self.y += 4.0;
        self.centered_lines(&report.subtitle, SUBTITLE);
        if !report.generated_at.is_empty() {
            self.centered_lines(&format!("生成时间：{}", report.generated_at), NOTE);
        }
        self.y += 8.0;
        self.push(Op::Line { x1: MARGIN_X, y1: self.y, x2: PAGE_W - MARGIN_X, y2: self.y, width: 1.2, color: ACCENT });
        self.y += 10.0;
    }

    /// A section heading, on a new page unless `keep` (the beginning of what follows) fits under it.
    fn heading(&mut self, heading: &str, keep: f32) {
        if heading.trim().is_empty() {
            return;
        }
        let line = HEADING.line;
        let measure = |s: &str| self.metrics.width(s, HEADING.size);
        let lines = wrap(heading, CONTENT_W - 10.0, CONTENT_W - 10.0, &measure);
        self.ensure(lines.len() as f32 * line + 20.0 + keep);
        if !self.at_page_top() {
            self.y += 14.0;
        }
        self.bookmarks.push((heading.to_owned(), self.pages.len() - 1, self.y));
        let height = lines.len().max(1) as f32 * line;
        self.push(Op::Rect { x: MARGIN_X, y: self.y + 4.0, w: 3.5, h: height - 8.0, color: ACCENT });
        for text in lines {
            self.text(MARGIN_X + 10.0, self.y, HEADING, text);
            self.y += line;
        }
        self.y += 6.0;
    }

    /// Breaks a block into lines (text, table cells) or parses it (a chart), ready to be placed.
    fn prepare(&self, block: &Block, options: &usvg::Options<'_>) -> Result<Prepared, ReportError> {
        Ok(match block {
            Block::Paragraph(text) => {
                let indent = 2.0 * BODY.size;
                let measure = |s: &str| self.metrics.width(s, BODY.size);
                let paragraphs = text
                    .split('\n')
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .map(|p| wrap(p, CONTENT_W - indent, CONTENT_W, &measure))
                    .collect();
                Prepared::Paragraphs(paragraphs)
            }
            Block::Table(table) => Prepared::Table(TablePlan::new(table, self.metrics)),
            Block::Chart(chart) => {
                let tree = usvg::Tree::from_str(&svg(chart), options)
                    .map_err(|e| ReportError::Render(format!("图表「{}」无法绘制：{e}", chart.title())))?;
                Prepared::Chart(tree)
            }
        })
    }

    fn paragraphs(&mut self, paragraphs: Vec<Vec<String>>) {
        for lines in paragraphs {
            for (i, text) in lines.into_iter().enumerate() {
                self.ensure(BODY.line);
                let x = if i == 0 { MARGIN_X + 2.0 * BODY.size } else { MARGIN_X };
                self.text(x, self.y, BODY, text);
                self.y += BODY.line;
            }
            self.y += 6.0;
        }
    }

    fn table(&mut self, plan: TablePlan) {
        let metrics = self.metrics;
        let TablePlan { title, numeric, widths, caption, header, header_h, rows } = plan;
        self.ensure(caption.len() as f32 * CAPTION.line + header_h + rows.first().map_or(0.0, |r| r.1) + 4.0);
        self.y += 4.0;
        for text in caption {
            let x = MARGIN_X + (CONTENT_W - metrics.width(&text, CAPTION.size)) / 2.0;
            self.text(x, self.y, CAPTION, text);
            self.y += CAPTION.line;
        }

        let draw_header = |layout: &mut Layout<'_>| {
            let top = layout.y;
            layout.push(Op::Rect { x: MARGIN_X, y: top, w: CONTENT_W, h: header_h, color: HEADER_BG });
            layout.push(Op::Line { x1: MARGIN_X, y1: top, x2: PAGE_W - MARGIN_X, y2: top, width: 1.0, color: RULE });
            let mut x = MARGIN_X;
            for (lines, w) in header.iter().zip(&widths) {
                let block = lines.len() as f32 * CELL_LINE;
                let mut line_top = top + (header_h - block) / 2.0;
                for text in lines {
                    let tx = x + (w - metrics.width(text, CELL_SIZE)) / 2.0;
                    layout.text(tx, line_top, CELL_BOLD, text.clone());
                    line_top += CELL_LINE;
                }
                x += w;
            }
            layout.y += header_h;
            let y = layout.y;
            layout.push(Op::Line { x1: MARGIN_X, y1: y, x2: PAGE_W - MARGIN_X, y2: y, width: 0.6, color: RULE });
        };
        let bottom_rule = |layout: &mut Layout<'_>| {
            let y = layout.y;
            layout.push(Op::Line { x1: MARGIN_X, y1: y, x2: PAGE_W - MARGIN_X, y2: y, width: 1.0, color: RULE });
        };

        draw_header(self);
        if rows.is_empty() {
            let h = CELL_LINE + 2.0 * CELL_PAD_Y;
            let x = MARGIN_X + (CONTENT_W - metrics.width(NO_DATA, CELL_SIZE)) / 2.0;
            self.text(x, self.y + CELL_PAD_Y, Style { color: MUTED, ..CELL }, NO_DATA.to_owned());
            self.y += h;
        }
        let count = rows.len();
        for (r, (cells, h)) in rows.into_iter().enumerate() {
            if self.y + h > BOTTOM {
                bottom_rule(self);
                self.new_page();
                let continued = shorten(metrics, &format!("{title}（续）"), CELL_SIZE, CONTENT_W);
                let x = MARGIN_X + (CONTENT_W - metrics.width(&continued, CELL_SIZE)) / 2.0;
                self.text(x, self.y, Style { line: CELL_LINE + 4.0, color: MUTED, ..CELL }, continued);
                self.y += CELL_LINE + 4.0;
                draw_header(self);
            }
            let top = self.y;
            if r % 2 == 1 {
                self.push(Op::Rect { x: MARGIN_X, y: top, w: CONTENT_W, h, color: STRIPE_BG });
            }
            let mut x = MARGIN_X;
            for ((lines, w), numeric) in cells.into_iter().zip(&widths).zip(&numeric) {
                let mut line_top = top + CELL_PAD_Y;
                for text in lines {
                    let tx =
                        if *numeric { x + w - CELL_PAD_X - metrics.width(&text, CELL_SIZE) } else { x + CELL_PAD_X };
                    self.text(tx, line_top, CELL, text);
                    line_top += CELL_LINE;
                }
                x += w;
            }
            self.y += h;
            if r + 1 < count {
                let y = self.y;
                self.push(Op::Line { x1: MARGIN_X, y1: y, x2: PAGE_W - MARGIN_X, y2: y, width: 0.4, color: HAIRLINE });
            }
        }
        bottom_rule(self);
        self.y += 14.0;
    }

    fn chart(&mut self, tree: usvg::Tree) {
        let (w, h) = chart_size(&tree);
        self.ensure(h + 8.0);
        self.y += 4.0;
        let index = self.charts.len();
        self.charts.push(tree);
        self.push(Op::Chart { index, x: MARGIN_X + (CONTENT_W - w) / 2.0, y: self.y, w, h });
        self.y += h + 14.0;
    }
}

/// A chart's size on the page: the text width, or less if it would be taller than a page.
fn chart_size(tree: &usvg::Tree) -> (f32, f32) {
    let size = tree.size();
    let (w, h) = (CONTENT_W, CONTENT_W * size.height() / size.width());
    let max_h = BOTTOM - TOP;
    if h > max_h { (w * max_h / h, max_h) } else { (w, h) }
}

/// A block broken into lines, ready to be placed on pages.
enum Prepared {
    /// Paragraphs, each its lines (the first one indented).
    Paragraphs(Vec<Vec<String>>),
    Table(TablePlan),
    Chart(usvg::Tree),
}

impl Prepared {
    /// The height of the beginning of the block, which its section heading must not be parted from.
    fn lead(&self) -> f32 {
        match self {
            Prepared::Paragraphs(paragraphs) => {
                paragraphs.first().map_or(0, |lines| lines.len().min(3)) as f32 * BODY.line
            }
            Prepared::Table(plan) => {
                plan.caption.len() as f32 * CAPTION.line + plan.header_h + plan.rows.first().map_or(0.0, |r| r.1) + 4.0
            }
            Prepared::Chart(tree) => chart_size(tree).1 + 8.0,
        }
    }
}

/// A table with its column widths and every cell broken into lines.
struct TablePlan {
    title: String,
    numeric: Vec<bool>,
    widths: Vec<f32>,
    caption: Vec<String>,
    header: Vec<Vec<String>>,
    header_h: f32,
    /// Each row's cells (as lines) and its height.
    rows: Vec<(Vec<Vec<String>>, f32)>,
}

impl TablePlan {
    fn new(table: &Table, metrics: &Metrics<'_>) -> TablePlan {
        let measure = |s: &str| metrics.width(s, CELL_SIZE);
        let columns = &table.columns;
        let texts: Vec<Vec<String>> = table
            .rows
            .iter()
            .map(|row| (0..columns.len()).map(|c| row.get(c).map(|cell| cell.display()).unwrap_or_default()).collect())
            .collect();
        let widths = column_widths(table, &texts, &measure);
        let inner = |w: f32| w - 2.0 * CELL_PAD_X;
        let height = |cells: &[Vec<String>]| {
            cells.iter().map(Vec::len).max().unwrap_or(1).max(1) as f32 * CELL_LINE + 2.0 * CELL_PAD_Y
        };
        let header: Vec<Vec<String>> =
            columns.iter().zip(&widths).map(|(c, w)| wrap(&c.name, inner(*w), inner(*w), &measure)).collect();
        let rows = texts
            .into_iter()
            .map(|row| {
                let cells: Vec<Vec<String>> = row
                    .into_iter()
                    .zip(columns.iter().zip(&widths))
                    .map(
                        |(text, (column, w))| {
                            if column.numeric { vec![text] } else { wrap(&text, inner(*w), inner(*w), &measure) }
                        },
                    )
                    .collect();
                let h = height(&cells);
                (cells, h)
            })
            .collect();
        TablePlan {
            title: table.title.clone(),
            numeric: columns.iter().map(|c| c.numeric).collect(),
            caption: wrap(&table.title, CONTENT_W, CONTENT_W, &|s: &str| metrics.width(s, CAPTION.size)),
            header_h: height(&header),
            header,
            widths,
            rows,
        }
    }
}

/// Column widths filling the text width. Every column gets its natural width (its widest cell on one line)
/// when they all fit, the room left over shared out in proportion. Otherwise the narrow columns keep their
/// natural width and the wide ones share the rest equally, none narrower than its widest word (figures are
/// never wrapped), so that it is the long texts that wrap.
fn column_widths(table: &Table, rows: &[Vec<String>], measure: &dyn Fn(&str) -> f32) -> Vec<f32> {
    let count = table.columns.len();
    let pad = 2.0 * CELL_PAD_X;
    let longest_unit = |text: &str| crate::text::break_units(text).iter().map(|u| measure(u)).fold(0.0, f32::max);
    let mut natural = vec![0.0_f32; count];
    let mut minimum = vec![0.0_f32; count];
    for (c, column) in table.columns.iter().enumerate() {
        natural[c] = measure(&column.name).max(measure(MISSING)) + pad;
        minimum[c] = longest_unit(&column.name) + pad;
        for row in rows {
            let width = measure(&row[c]) + pad;
            natural[c] = natural[c].max(width);
            minimum[c] = minimum[c].max(if column.numeric { width } else { longest_unit(&row[c]) + pad });
        }
        // Text wrapped narrower than four characters reads badly.
        minimum[c] = minimum[c].max((4.0 * CELL_SIZE + pad).min(natural[c]));
    }
    let natural_sum: f32 = natural.iter().sum();
    if natural_sum <= CONTENT_W {
        return natural.iter().map(|n| n + (CONTENT_W - natural_sum) * n / natural_sum).collect();
    }
    let mut widths: Vec<Option<f32>> = vec![None; count];
    let mut room = CONTENT_W;
    loop {
        let open: Vec<usize> = (0..count).filter(|&c| widths[c].is_none()).collect();
        if open.is_empty() {
            break;
        }
        let fair = room / open.len() as f32;
        let mut settled = false;
        for &c in &open {
            if natural[c] <= fair || minimum[c] >= fair {
                let w = if natural[c] <= fair { natural[c] } else { minimum[c] };
                widths[c] = Some(w);
                room -= w;
                settled = true;
            }
        }
        if !settled {
            for &c in &open {
                widths[c] = Some(fair);
            }
            break;
        }
    }
    let widths: Vec<f32> = widths.into_iter().map(Option::unwrap_or_default).collect();
    // Only when the widest words alone overflow: squeeze every column alike.
    let sum: f32 = widths.iter().sum();
    widths.iter().map(|w| w * CONTENT_W / sum).collect()
}

struct Painter<'s, 'p> {
    surface: &'s mut Surface<'p>,
    font: &'s krilla::text::Font,
    charts: &'s [usvg::Tree],
}

impl Painter<'_, '_> {
    fn draw(&mut self, op: &Op) -> Result<(), ReportError> {
        let paint = |(r, g, b): Rgb| rgb::Color::new(r, g, b).into();
        match op {
            Op::Text { x, y, size, color, bold, text } => {
                self.surface.set_fill(Some(Fill { paint: paint(*color), ..Fill::default() }));
                // Bold is the regular face filled and stroked: the text stays text.
                let stroke = bold.then(|| Stroke { paint: paint(*color), width: size * 0.035, ..Stroke::default() });
                self.surface.set_stroke(stroke);
                self.surface.draw_text(
                    Point::from_xy(*x, *y),
                    self.font.clone(),
                    *size,
                    text,
                    false,
                    TextDirection::Auto,
                );
            }
            Op::Rect { x, y, w, h, color } => {
                let Some(rect) = Rect::from_xywh(*x, *y, *w, *h) else { return Ok(()) };
                let mut builder = PathBuilder::new();
                builder.push_rect(rect);
                if let Some(path) = builder.finish() {
                    self.surface.set_stroke(None);
                    self.surface.set_fill(Some(Fill { paint: paint(*color), ..Fill::default() }));
                    self.surface.draw_path(&path);
                }
            }
            Op::Line { x1, y1, x2, y2, width, color } => {
                let mut builder = PathBuilder::new();
                builder.move_to(*x1, *y1);
                builder.line_to(*x2, *y2);
                if let Some(path) = builder.finish() {
                    self.surface.set_fill(None);
                    self.surface.set_stroke(Some(Stroke { paint: paint(*color), width: *width, ..Stroke::default() }));
                    self.surface.draw_path(&path);
                }
            }
            Op::Chart { index, x, y, w, h } => {
                let size = Size::from_wh(*w, *h).ok_or_else(|| ReportError::Render("empty chart".into()))?;
                self.surface.push_transform(&Transform::from_translate(*x, *y));
                let drawn = self.surface.draw_svg(&self.charts[*index], size, SvgSettings::default());
                self.surface.pop();
                drawn.ok_or_else(|| ReportError::Render("a chart could not be drawn".into()))?;
            }
        }
        Ok(())
    }
}
