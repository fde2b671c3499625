//! Charts as self-contained SVG documents: a small builder rather than a charting crate, so that the
//! Chinese labels are laid out for CJK widths and the SVG stays plain (text as `<text>`, no script, no CSS)
//! for both the browser and usvg (the PDF).

use std::fmt::Write as _;

use crate::format::{format_decimals, format_value};
use crate::text::estimate_ems;
use crate::{Chart, Series};

const FONT_FAMILY: &str = "'Noto Sans CJK SC','Source Han Sans SC','Microsoft YaHei',sans-serif";
/// The width of every chart's viewBox; heights follow the data.
const WIDTH: f64 = 680.0;
const PAD: f64 = 16.0;
const PALETTE: [&str; 6] = ["#1f5fa8", "#d9822b", "#2e8b57", "#c0392b", "#7d5ba6", "#5d6d7e"];
const INK: &str = "#1a1a1a";
const MUTED: &str = "#5f6873";
const GRID: &str = "#e3e6ea";
const AXIS: &str = "#9aa3ad";
/// What an empty chart says.
const NO_DATA: &str = "暂无数据";

/// Draws a chart as a self-contained `<svg>` document.
///
/// The document has a `viewBox` 680 units wide and no width or height, so it takes the width of its
/// container; a `<title>` (and `aria-label`) with the chart's title; the title and unit drawn at the top;
/// axis (tick) labels; a value label per bar or point (a long line chart labels only each series' last and
/// highest points); a legend when a line chart has several series. Fonts are named, never embedded:
/// 「Noto Sans CJK SC」, 「Source Han Sans SC」, 「Microsoft YaHei」, then any sans-serif. Every text is
/// XML-escaped. A chart without data (no bars; no labels, series or finite values) says 「暂无数据」.
pub fn svg(chart: &Chart) -> String {
    let percent = chart.is_percent();
    match chart {
        Chart::Bars { title, unit, bars, max } => bars_svg(title, unit, bars, *max, percent),
        Chart::Line { title, unit, labels, series } => line_svg(title, unit, labels, series, percent),
    }
}

fn bars_svg(title: &str, unit: &str, bars: &[(String, f64)], max: Option<f64>, percent: bool) -> String {
    if bars.is_empty() {
        return empty_svg(title, unit, percent);
    }
    const LABEL_SIZE: f64 = 13.0;
    const VALUE_SIZE: f64 = 12.0;
    const ROW: f64 = 30.0;
    const BAR: f64 = 18.0;
    const TOP: f64 = 52.0;

    let labels: Vec<String> = bars.iter().map(|(label, _)| fit(label, 300.0 / LABEL_SIZE)).collect();
    let values: Vec<String> = bars.iter().map(|(_, v)| format_value(*v, percent)).collect();
    let label_w = labels.iter().map(|l| estimate_ems(l) * LABEL_SIZE).fold(40.0, f64::max).min(300.0);
    let value_w = values.iter().map(|v| estimate_ems(v) * VALUE_SIZE).fold(0.0, f64::max) + 10.0;
    let x0 = PAD + label_w + 10.0;
    let x1 = WIDTH - PAD - value_w;

    let finite = bars.iter().map(|(_, v)| *v).filter(|v| v.is_finite());
    let (lo, hi) =
        finite.fold((0.0_f64, max.filter(|m| m.is_finite()).unwrap_or(0.0)), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let axis = Axis::new(lo, hi);
    let scale = |v: f64| x0 + (v - axis.lo) / (axis.hi - axis.lo) * (x1 - x0);

    let plot_h = bars.len() as f64 * ROW;
    let bottom = TOP + plot_h;
    let mut svg = Svg::new(bottom + 34.0, title);
    svg.header(title, unit, percent);
    for tick in axis.ticks() {
        let x = scale(tick);
        svg.line(x, TOP - 4.0, x, bottom, GRID, 1.0);
        svg.text(x, bottom + 17.0, 11.0, "middle", MUTED, false, &axis.label(tick, percent));
    }
    let zero = scale(0.0);
    svg.line(zero, TOP - 4.0, zero, bottom, AXIS, 1.0);
    for (i, ((label, v), (shown, value))) in bars.iter().zip(labels.iter().zip(&values)).enumerate() {
        let cy = TOP + i as f64 * ROW + ROW / 2.0;
        svg.open_group(&format!("{label}：{value}"));
        svg.text(x0 - 8.0, cy + LABEL_SIZE * 0.35, LABEL_SIZE, "end", INK, false, shown);
        let end = if v.is_finite() { scale(*v) } else { zero };
        if v.is_finite() {
            svg.rect(zero.min(end), cy - BAR / 2.0, (end - zero).abs(), BAR, PALETTE[0]);
        }
        svg.text(zero.max(end) + 6.0, cy + VALUE_SIZE * 0.35, VALUE_SIZE, "start", INK, false, value);
        svg.close_group();
    }
    svg.finish()
}

fn line_svg(title: &str, unit: &str, labels: &[String], series: &[Series], percent: bool) -> String {
    let point = |s: &Series, i: usize| s.values.get(i).copied().filter(|v| v.is_finite());
    let n = labels.len();
    let finite: Vec<f64> = series.iter().flat_map(|s| (0..n).filter_map(move |i| point(s, i))).collect();
    if finite.is_empty() {
        return empty_svg(title, unit, percent);
    }
    const LABEL_SIZE: f64 = 11.0;
    const VALUE_SIZE: f64 = 10.5;
    const PLOT_H: f64 = 240.0;

    // The legend, wrapped over as many rows as it needs.
    let mut legend = Vec::new();
    let mut top = 52.0;
    if series.len() > 1 {
        let (mut x, mut y) = (PAD, 50.0);
        for (k, s) in series.iter().enumerate() {
            let name = fit(&s.name, 20.0);
            let advance = 16.0 + estimate_ems(&name) * 12.0 + 20.0;
            if x + advance > WIDTH - PAD && x > PAD {
                x = PAD;
                y += 20.0;
            }
            legend.push((x, y, PALETTE[k % PALETTE.len()], name));
            x += advance;
        }
        top = y + 20.0;
    }
    top += 16.0; // room for the value labels above the highest points

    let (lo, hi) = finite.iter().fold((0.0_f64, 0.0_f64), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    let axis = Axis::new(lo, hi);
    let tick_w = axis.ticks().map(|t| estimate_ems(&axis.label(t, percent)) * LABEL_SIZE).fold(0.0, f64::max);
    let left = PAD + tick_w + 8.0;
    let right = WIDTH - PAD - 8.0;
    let bottom = top + PLOT_H;
    let x_of = |i: usize| {
        if n == 1 { (left + right) / 2.0 } else { left + 14.0 + i as f64 * (right - left - 28.0) / (n - 1) as f64 }
    };
    let y_of = |v: f64| bottom - (v - axis.lo) / (axis.hi - axis.lo) * PLOT_H;

    let mut svg = Svg::new(bottom + 40.0, title);
    svg.header(title, unit, percent);
    for (x, y, color, name) in &legend {
        svg.rect(*x, *y - 10.0, 12.0, 12.0, color);
        svg.text(x + 16.0, *y, 12.0, "start", INK, false, name);
    }
    for tick in axis.ticks() {
        let y = y_of(tick);
        svg.line(left, y, right, y, if tick == 0.0 { AXIS } else { GRID }, 1.0);
        svg.text(left - 6.0, y + LABEL_SIZE * 0.35, LABEL_SIZE, "end", MUTED, false, &axis.label(tick, percent));
    }
    svg.line(left, bottom, right, bottom, AXIS, 1.0);
    // Thin the x labels out so that they do not overlap.
    let label_w = labels.iter().map(|l| estimate_ems(l) * LABEL_SIZE).fold(0.0, f64::max) + 10.0;
    let every = if n > 1 { ((label_w * (n - 1) as f64) / (right - left - 28.0)).ceil().max(1.0) as usize } else { 1 };
    for (i, label) in labels.iter().enumerate() {
        if i % every == 0 {
            let x = x_of(i);
            svg.line(x, bottom, x, bottom + 4.0, AXIS, 1.0);
            svg.text(x, bottom + 18.0, LABEL_SIZE, "middle", MUTED, false, label);
        }
    }
    let label_all = n <= 12 || n * series.len() <= 24;
    for (k, s) in series.iter().enumerate() {
        let color = PALETTE[k % PALETTE.len()];
        let mut run: Vec<(f64, f64)> = Vec::new();
        for i in 0..=n {
            match (i < n).then(|| point(s, i)).flatten() {
                Some(v) => run.push((x_of(i), y_of(v))),
                None if !run.is_empty() => svg.polyline(&std::mem::take(&mut run), color),
                None => {}
            }
        }
        let last = (0..n).rev().find(|&i| point(s, i).is_some());
        let highest = (0..n)
            .filter(|&i| point(s, i).is_some())
            .max_by(|&a, &b| point(s, a).unwrap_or(0.0).total_cmp(&point(s, b).unwrap_or(0.0)).then(b.cmp(&a)));
        for (i, label) in labels.iter().enumerate() {
            let Some(v) = point(s, i) else { continue };
            let (x, y) = (x_of(i), y_of(v));
            let value = format_value(v, percent);
            let tip =
                if series.len() > 1 { format!("{label} {}：{value}", s.name) } else { format!("{label}：{value}") };
            svg.open_group(&tip);
            svg.circle(x, y, color);
            if label_all || Some(i) == last || Some(i) == highest {
                svg.text(x, y - 8.0, VALUE_SIZE, "middle", color, false, &value);
            }
            svg.close_group();
        }
    }
    svg.finish()
}

fn empty_svg(title: &str, unit: &str, percent: bool) -> String {
    let mut svg = Svg::new(220.0, title);
    svg.header(title, unit, percent);
    let _ = write!(
        svg.out,
        r#"<rect x="{}" y="52" width="{}" height="152" fill="none" stroke="{GRID}" stroke-dasharray="4 4"/>"#,
        n(PAD),
        n(WIDTH - 2.0 * PAD)
    );
    svg.text(WIDTH / 2.0, 134.0, 16.0, "middle", MUTED, false, NO_DATA);
    svg.finish()
}

/// The value axis: round ticks over the data's range (always including zero).
struct Axis {
    lo: f64,
    hi: f64,
    step: f64,
}

impl Axis {
    fn new(lo: f64, hi: f64) -> Axis {
        let hi = if hi - lo < 1e-12 { lo + 1.0 } else { hi };
        let step = nice_step((hi - lo) / 5.0);
        let lo = (lo / step + 1e-9).floor() * step;
        let hi = (hi / step - 1e-9).ceil() * step;
        Axis { lo, hi, step }
    }

    fn ticks(&self) -> impl Iterator<Item = f64> + '_ {
        let count = ((self.hi - self.lo) / self.step).round() as i64;
        (0..=count).map(move |i| {
            let t = self.lo + i as f64 * self.step;
            if t.abs() < self.step * 1e-9 { 0.0 } else { t }
        })
    }

    fn label(&self, tick: f64, percent: bool) -> String {
        let (value, step) = if percent { (tick * 100.0, self.step * 100.0) } else { (tick, self.step) };
        let decimals = if step >= 1.0 { 0 } else { (-step.log10()).ceil() as usize };
        let text = format_decimals(value, decimals);
        if percent { text + "%" } else { text }
    }
}

/// 1, 2, 2.5 or 5 times a power of ten, at least `raw`.
fn nice_step(raw: f64) -> f64 {
    let magnitude = 10f64.powf(raw.log10().floor());
    let fraction = raw / magnitude;
    let nice = [1.0, 2.0, 2.5, 5.0, 10.0].into_iter().find(|&f| fraction <= f + 1e-9).unwrap_or(10.0);
    nice * magnitude
}

/// Shortens a text to about `max_ems` ems, ending it with 「…」.
fn fit(text: &str, max_ems: f64) -> String {
    if estimate_ems(text) <= max_ems {
        return text.to_owned();
    }
    let mut out = String::new();
    for c in text.chars() {
        if estimate_ems(&out) + estimate_ems(c.encode_utf8(&mut [0; 4])) + 1.0 > max_ems {
            break;
        }
        out.push(c);
    }
    out + "…"
}

/// A coordinate, with one decimal at most.
fn n(v: f64) -> String {
    let text = format!("{v:.1}");
    text.strip_suffix(".0").map(str::to_owned).unwrap_or(text)
}

/// XML-escapes a text for an element or an attribute, dropping the control characters XML forbids.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

struct Svg {
    out: String,
}

impl Svg {
    fn new(height: f64, title: &str) -> Svg {
        let title = escape(title);
        let mut out = String::with_capacity(8 * 1024);
        let _ = write!(
            out,
            r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" preserveAspectRatio="xMidYMid meet" role="img" aria-label="{title}" font-family="{FONT_FAMILY}"><title>{title}</title><rect width="{w}" height="{h}" fill="#ffffff"/>"##,
            w = n(WIDTH),
            h = n(height),
        );
        Svg { out }
    }

    /// The title at the top left and 「单位：…」 at the top right.
    fn header(&mut self, title: &str, unit: &str, percent: bool) {
        let unit = unit.trim();
        let unit_text = if unit.is_empty() || percent { String::new() } else { format!("单位：{unit}") };
        let unit_w = estimate_ems(&unit_text) * 12.0;
        let title = fit(title, (WIDTH - 2.0 * PAD - unit_w - 16.0) / 18.0);
        self.text(PAD, 30.0, 18.0, "start", INK, true, &title);
        if !unit_text.is_empty() {
            self.text(WIDTH - PAD, 30.0, 12.0, "end", MUTED, false, &unit_text);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn text(&mut self, x: f64, y: f64, size: f64, anchor: &str, fill: &str, bold: bool, text: &str) {
        let weight = if bold { r#" font-weight="bold""# } else { "" };
        let _ = write!(
            self.out,
            r#"<text x="{}" y="{}" font-size="{}" text-anchor="{anchor}" fill="{fill}"{weight}>{}</text>"#,
            n(x),
            n(y),
            n(size),
            escape(text)
        );
    }

    fn line(&mut self, x1: f64, y1: f64, x2: f64, y2: f64, stroke: &str, width: f64) {
        let _ = write!(
            self.out,
            r#"<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{stroke}" stroke-width="{}"/>"#,
            n(x1),
            n(y1),
            n(x2),
            n(y2),
            n(width)
        );
    }

    fn rect(&mut self, x: f64, y: f64, w: f64, h: f64, fill: &str) {
        let _ = write!(
            self.out,
            r#"<rect x="{}" y="{}" width="{}" height="{}" fill="{fill}"/>"#,
            n(x),
            n(y),
            n(w.max(0.0)),
            n(h.max(0.0))
        );
    }

    fn circle(&mut self, x: f64, y: f64, stroke: &str) {
        let _ = write!(
            self.out,
            r##"<circle cx="{}" cy="{}" r="3" fill="#ffffff" stroke="{stroke}" stroke-width="2"/>"##,
            n(x),
            n(y)
        );
    }

    fn polyline(&mut self, points: &[(f64, f64)], stroke: &str) {
        if points.len() < 2 {
            return;
        }
        let points: Vec<String> = points.iter().map(|(x, y)| format!("{},{}", n(*x), n(*y))).collect();
        let _ = write!(
            self.out,
            r#"<polyline points="{}" fill="none" stroke="{stroke}" stroke-width="2" stroke-linejoin="round" stroke-linecap="round"/>"#,
            points.join(" ")
        );
    }

    /// A group whose `<title>` is the full text of its item (a tooltip in the browser).
    fn open_group(&mut self, tip: &str) {
        let _ = write!(self.out, "<g><title>{}</title>", escape(tip));
    }

    fn close_group(&mut self) {
        self.out.push_str("</g>");
    }

    fn finish(mut self) -> String {
        self.out.push_str("</svg>");
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round() {
        let axis = Axis::new(0.0, 1.0);
        assert_eq!(axis.ticks().collect::<Vec<_>>().len(), 6);
        assert_eq!(axis.label(0.6000000000000001, true), "60%");
        let axis = Axis::new(0.0, 1234.0);
        assert_eq!((axis.hi, axis.step), (1250.0, 250.0));
        assert_eq!(axis.label(1000.0, false), "1,000");
        let axis = Axis::new(-3.0, 7.0);
        assert_eq!((axis.lo, axis.hi, axis.step), (-4.0, 8.0, 2.0));
        let axis = Axis::new(0.0, 0.0);
        assert!(axis.hi > 0.0);
    }

    #[test]
    fn long_labels_are_shortened() {
        assert_eq!(fit("短名", 10.0), "短名");
        let long = fit("一二三四五六七八九十一二三四五六七八九十一二三", 10.0);
        assert_eq!(long, "一二三四五六七八九…");
    }

    #[test]
    fn escaping_covers_markup_and_control_characters() {
        assert_eq!(escape("a<b>&\"c'\u{1}\n"), "a&lt;b&gt;&amp;&quot;c&apos; ");
    }
}
