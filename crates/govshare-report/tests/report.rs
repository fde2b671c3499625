//! The three outputs, read back the way a person (or a checker) would: the SVG parsed, the workbook read
//! with calamine, the PDF's text extracted with poppler's `pdftotext`.

use std::io::{Cursor, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use calamine::{Data, Reader, Xlsx, open_workbook_from_rs};
use govshare_report::{Block, Cell, Chart, Column, Font, Report, Section, Series, Table, pdf, svg, xlsx};

const DEPARTMENTS: [&str; 12] = [
    "杭州市公安局",
    "浙江省市场监督管理局",
    "宁波市大数据发展管理局",
    "温州市人力资源和社会保障局",
    "浙江省自然资源厅",
    "绍兴市卫生健康委员会",
    "嘉兴市民政局",
    "湖州市住房和城乡建设局",
    "金华市教育局",
    "衢州市交通运输局",
    "舟山市港航和口岸管理局",
    "台州市生态环境局",
];

const LONG_PARAGRAPH: &str = "本报告依据《公共数据共享管理办法》第三十八条编制，统计期内全省共受理共享申请 1,234 件，按时办结率 93.5%，较上月提高 2.1 个百分点。各部门应当对照通报问题逐项整改，对逾期未办结的申请说明理由，并于下一统计期前完成 API 接口与数据目录的核对工作。";

fn table(rows: usize) -> Table {
    Table {
        title: "各部门共享申请办理情况".into(),
        columns: vec![
            Column::numeric("序号"),
            Column::text("部门"),
            Column::numeric("申请数"),
            Column::numeric("按时办结率"),
            Column::text("备注"),
        ],
        rows: (0..rows)
            .map(|i| {
                let name = if i < DEPARTMENTS.len() {
                    DEPARTMENTS[i].to_owned()
                } else {
                    format!("{}（第{}批）", DEPARTMENTS[i % DEPARTMENTS.len()], i / DEPARTMENTS.len() + 1)
                };
                let count = if i == 0 { 1234 } else { 10 + 7 * i as i64 };
                let rate = match i {
                    0 => Some(0.935),
                    1 => None,
                    _ => Some(0.5 + (i % 50) as f64 / 100.0),
                };
                let note = if i == 2 {
                    "接口调用量大幅增长，需扩容共享交换通道并完善异常告警机制"
                } else {
                    ""
                };
                vec![Cell::Int(i as i64 + 1), Cell::Text(name), Cell::Int(count), Cell::Rate(rate), note.into()]
            })
            .collect(),
    }
}

fn bars() -> Chart {
    Chart::Bars {
        title: "各部门按时办结率".into(),
        unit: "%".into(),
        bars: vec![
            ("杭州市公安局".into(), 0.935),
            ("浙江省市场监督管理局".into(), 0.871),
            ("宁波市大数据发展管理局".into(), 1.0),
        ],
        max: Some(1.0),
    }
}

fn line() -> Chart {
    Chart::Line {
        title: "每日共享调用量".into(),
        unit: "次".into(),
        labels: vec!["11-01".into(), "11-02".into(), "11-03".into(), "11-04".into()],
        series: vec![
            Series { name: "省级部门".into(), values: vec![1234.0, 1500.0, 980.0, 2048.0] },
            Series { name: "市级部门".into(), values: vec![300.0, 420.5, f64::NAN, 512.0] },
        ],
    }
}

fn report(rows: usize) -> Report {
    Report {
        title: "浙江省公共数据共享工作监督报告".into(),
        subtitle: "2026年10月".into(),
        generated_at: "2026-11-03 09:30".into(),
        sections: vec![
            Section {
                heading: "一、总体情况".into(),
                blocks: vec![Block::Paragraph(LONG_PARAGRAPH.into()), Block::Chart(bars())],
            },
            Section {
                heading: "二、各部门办理情况".into(),
                blocks: vec![Block::Table(table(rows)), Block::Paragraph("以上数据截至统计期末。".into())],
            },
            Section { heading: "三、调用趋势".into(), blocks: vec![Block::Chart(line())] },
        ],
    }
}

/// Parses an SVG strictly as XML and as SVG (usvg, what the PDF uses) and returns its texts.
fn parse_svg(svg: &str) -> Vec<String> {
    let doc = usvg::roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("not XML: {e}\n{svg}"));
    usvg::Tree::from_str(svg, &usvg::Options::default()).unwrap_or_else(|e| panic!("not SVG: {e}\n{svg}"));
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    doc.descendants().filter(|n| n.has_tag_name("text")).map(|n| n.text().unwrap_or_default().to_owned()).collect()
}

#[test]
fn bar_chart_has_labels_values_axis_and_title() {
    let svg = svg(&bars());
    save("bars.svg", svg.as_bytes());
    let texts = parse_svg(&svg);
    for expected in
        ["各部门按时办结率", "杭州市公安局", "浙江省市场监督管理局", "93.5%", "87.1%", "100.0%", "0%", "100%"]
    {
        assert!(texts.iter().any(|t| t == expected), "no text {expected:?} in {texts:?}");
    }
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 680 "), "{svg}");
    assert!(svg.contains("<title>各部门按时办结率</title>"));
    assert!(svg.contains(r#"font-family="'Noto Sans CJK SC','Source Han Sans SC','Microsoft YaHei',sans-serif""#));
    assert!(!svg.contains("<script") && !svg.contains("<style"), "{svg}");
    // A percent chart does not also say 「单位：%」.
    assert!(!svg.contains("单位"), "{svg}");
}

#[test]
fn long_department_names_fit_the_bar_chart() {
    let name = "浙江省经济和信息化厅数字经济发展与产业推进处";
    let chart =
        Chart::Bars { title: "调用量".into(), unit: "次".into(), bars: vec![(name.into(), 1234.0)], max: None };
    let svg = svg(&chart);
    let texts = parse_svg(&svg);
    assert!(texts.iter().any(|t| t == name), "{texts:?}");
    assert!(texts.iter().any(|t| t == "1,234"), "{texts:?}");
    assert!(texts.iter().any(|t| t == "单位：次"), "{texts:?}");
}

#[test]
fn chart_text_is_escaped() {
    let chart = Chart::Bars {
        title: "A&B <测试>".into(),
        unit: "件".into(),
        bars: vec![("<script>&\"'".into(), 3.0)],
        max: None,
    };
    let svg = svg(&chart);
    assert!(svg.contains("&lt;script&gt;&amp;&quot;&apos;"), "{svg}");
    assert!(svg.contains("<title>A&amp;B &lt;测试&gt;</title>"), "{svg}");
    assert!(!svg.contains("<script>") && !svg.contains("<测试>"), "{svg}");
    let texts = parse_svg(&svg);
    assert!(texts.iter().any(|t| t == "<script>&\"'"), "{texts:?}");
}

#[test]
fn line_chart_has_x_labels_values_and_a_legend() {
    let drawn = svg(&line());
    save("line.svg", drawn.as_bytes());
    let texts = parse_svg(&drawn);
    for expected in ["每日共享调用量", "单位：次", "11-01", "11-04", "1,234", "2,048", "420.5", "省级部门", "市级部门"]
    {
        assert!(texts.iter().any(|t| t == expected), "no text {expected:?} in {texts:?}");
    }
    // The NaN leaves a gap: the second series is a polyline and a lone point.
    assert_eq!(drawn.matches("<polyline").count(), 2, "{drawn}");
    assert_eq!(drawn.matches("<circle").count(), 7, "{drawn}");
    // A single series needs no legend.
    let single = Chart::Line {
        title: "月度".into(),
        unit: String::new(),
        labels: vec!["2026-09".into(), "2026-10".into()],
        series: vec![Series { name: "全省".into(), values: vec![1.0, 2.0] }],
    };
    let texts = parse_svg(&svg(&single));
    assert!(!texts.iter().any(|t| t == "全省"), "{texts:?}");
    assert!(texts.iter().any(|t| t == "2026-10"), "{texts:?}");
}

#[test]
fn a_long_line_chart_thins_its_labels_and_still_parses() {
    let labels: Vec<String> = (1..=60).map(|d| format!("{:02}-{:02}", 9 + d / 31, 1 + d % 30)).collect();
    let values: Vec<f64> = (0..60).map(|i| (i * 37 % 100) as f64).collect();
    let chart = Chart::Line {
        title: "近六十日".into(),
        unit: "件".into(),
        labels: labels.clone(),
        series: vec![Series { name: "申请".into(), values }],
    };
    let texts = parse_svg(&svg(&chart));
    let shown = labels.iter().filter(|l| texts.contains(l)).count();
    assert!(shown > 5 && shown < 40, "{shown} x labels shown");
}

#[test]
fn empty_charts_say_no_data() {
    let charts = [
        Chart::Bars { title: "空".into(), unit: "件".into(), bars: vec![], max: None },
        Chart::Line { title: "空".into(), unit: "件".into(), labels: vec![], series: vec![] },
        Chart::Line {
            title: "空".into(),
            unit: "件".into(),
            labels: vec!["11-01".into()],
            series: vec![Series { name: "甲".into(), values: vec![f64::NAN] }],
        },
    ];
    for chart in charts {
        let texts = parse_svg(&svg(&chart));
        assert!(texts.iter().any(|t| t == "暂无数据"), "{texts:?}");
    }
    assert!(!svg(&bars()).contains("暂无数据"));
}

fn cell(range: &calamine::Range<Data>, row: u32, col: u32) -> Data {
    range.get_value((row, col)).cloned().unwrap_or(Data::Empty)
}

#[test]
fn workbook_holds_the_names_and_figures() {
    let bytes = xlsx(&report(20)).unwrap();
    save("report.xlsx", &bytes);
    let mut book: Xlsx<_> = open_workbook_from_rs(Cursor::new(bytes.clone())).unwrap();
    assert_eq!(book.sheet_names(), ["概况", "各部门共享申请办理情况", "各部门按时办结率", "每日共享调用量"]);

    let overview = book.worksheet_range("概况").unwrap();
    assert_eq!(cell(&overview, 0, 0), Data::String("浙江省公共数据共享工作监督报告".into()));
    assert_eq!(cell(&overview, 1, 0), Data::String("2026年10月".into()));
    assert_eq!(cell(&overview, 2, 0), Data::String("生成时间：2026-11-03 09:30".into()));
    let texts: Vec<String> = overview.rows().map(|r| r[0].to_string()).collect();
    for expected in
        ["一、总体情况", LONG_PARAGRAPH, "表格：各部门共享申请办理情况（见工作表「各部门共享申请办理情况」）"]
    {
        assert!(texts.iter().any(|t| t == expected), "no {expected:?} in {texts:?}");
    }

    let sheet = book.worksheet_range("各部门共享申请办理情况").unwrap();
    assert_eq!(cell(&sheet, 0, 0), Data::String("各部门共享申请办理情况".into()));
    assert_eq!(cell(&sheet, 1, 1), Data::String("部门".into()));
    assert_eq!(cell(&sheet, 1, 3), Data::String("按时办结率".into()));
    assert_eq!(cell(&sheet, 2, 0), Data::Float(1.0));
    assert_eq!(cell(&sheet, 2, 1), Data::String("杭州市公安局".into()));
    assert_eq!(cell(&sheet, 2, 2), Data::Float(1234.0));
    assert_eq!(cell(&sheet, 2, 3), Data::Float(0.935), "the rate is stored as the fraction");
    assert_eq!(cell(&sheet, 3, 1), Data::String("浙江省市场监督管理局".into()));
    assert_eq!(cell(&sheet, 3, 3), Data::String("—".into()));
    assert_eq!(sheet.height(), 22);

    let bars = book.worksheet_range("各部门按时办结率").unwrap();
    assert_eq!(cell(&bars, 1, 0), Data::String("名称".into()));
    assert_eq!(cell(&bars, 2, 0), Data::String("杭州市公安局".into()));
    assert_eq!(cell(&bars, 2, 1), Data::Float(0.935));
    assert_eq!(cell(&bars, 4, 1), Data::Float(1.0));

    let lines = book.worksheet_range("每日共享调用量").unwrap();
    assert_eq!(cell(&lines, 1, 1), Data::String("省级部门（次）".into()));
    assert_eq!(cell(&lines, 2, 0), Data::String("11-01".into()));
    assert_eq!(cell(&lines, 2, 1), Data::Float(1234.0));
    assert_eq!(cell(&lines, 3, 2), Data::Float(420.5));
    assert_eq!(cell(&lines, 4, 2), Data::String("—".into()));

    // The rates carry a percent format, the counts a thousands separator.
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
    let mut styles = String::new();
    zip.by_name("xl/styles.xml").unwrap().read_to_string(&mut styles).unwrap();
    assert!(styles.contains(r#"formatCode="0.0%""#), "{styles}");
    assert!(styles.contains(r##"formatCode="#,##0""##), "{styles}");
}

#[test]
fn workbook_sheet_names_are_sanitized_and_unique() {
    let mut report = report(1);
    let long = "杭州市/宁波市[一季度]共享申请按时办结情况统计表：含未办结申请?*";
    let table = Table { title: long.into(), columns: vec![Column::text("部门")], rows: vec![vec!["甲".into()]] };
    report.sections.push(Section {
        heading: "四、附表".into(),
        blocks: vec![Block::Table(table.clone()), Block::Table(table), Block::Chart(bars())],
    });
    let bytes = xlsx(&report).unwrap();
    let book: Xlsx<_> = open_workbook_from_rs(Cursor::new(bytes)).unwrap();
    let names = book.sheet_names();
    assert_eq!(names.len(), 7, "{names:?}");
    for name in &names {
        assert!(name.chars().count() <= 31, "{name}");
        assert!(!name.contains(['[', ']', ':', '*', '?', '/', '\\']), "{name}");
    }
    assert!(names[2].starts_with("杭州市／宁波市［一季度］"), "{names:?}");
    assert!(names[3].starts_with("杭州市／宁波市［一季度］") && names[3].ends_with("（2）"), "{names:?}");
    assert_eq!(names[6], "各部门按时办结率（2）");
}

/// The font CI installs (scripts/test installs fonts-noto-cjk); no skipping: a missing font is a failure.
fn font() -> Font {
    Font::discover()
        .unwrap_or_else(|e| panic!("the PDF tests need a Chinese font (apt-get install fonts-noto-cjk): {e}"))
}

/// Keeps a copy of an output for a person to look at, when GOVSHARE_REPORT_SAVE_DIR names a folder.
fn save(name: &str, bytes: &[u8]) {
    if let Some(dir) = std::env::var_os("GOVSHARE_REPORT_SAVE_DIR") {
        std::fs::write(Path::new(&dir).join(name), bytes).unwrap();
    }
}

/// The PDF's text in the order it was drawn (`-raw`: poppler's default reading-order analysis drops the
/// spaces of a short line such as 「第 1 页 / 共 4 页」), pages separated by form feeds.
fn pdftotext(pdf: &[u8]) -> String {
    let mut child = Command::new("pdftotext")
        .args(["-raw", "-enc", "UTF-8", "-", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("the PDF tests need pdftotext (apt-get install poppler-utils): {e}"));
    child.stdin.take().unwrap().write_all(pdf).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "pdftotext failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn the_noto_face_for_simplified_chinese_is_found() {
    let path = Path::new("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc");
    assert!(path.exists(), "fonts-noto-cjk is not installed (apt-get install fonts-noto-cjk)");
    let font = font();
    assert_eq!((font.source(), font.index(), font.family()), (path.to_str().unwrap(), 2, "Noto Sans CJK SC"));
    assert_eq!(Font::from_file(path, 2).unwrap().family(), "Noto Sans CJK SC");
    assert_eq!(Font::from_file(path, 0).unwrap().family(), "Noto Sans CJK JP");
}

#[test]
fn pdf_holds_the_text_tables_and_charts_over_several_pages() {
    let pdf = pdf(&report(64), &font()).unwrap();
    save("report.pdf", &pdf);
    assert!(pdf.starts_with(b"%PDF-"));
    let text = pdftotext(&pdf);
    let pages: Vec<&str> = text.split('\u{c}').filter(|p| !p.trim().is_empty()).collect();
    assert!(pages.len() >= 3, "{} pages:\n{text}", pages.len());
    let total = pages.len();
    for (i, page) in pages.iter().enumerate() {
        let number = format!("第 {} 页 / 共 {total} 页", i + 1);
        assert!(page.contains(&number), "page {} lacks {number:?}:\n{page}", i + 1);
    }
    for expected in [
        "浙江省公共数据共享工作监督报告",
        "生成时间：2026-11-03 09:30",
        "一、总体情况",
        "二、各部门办理情况",
        "三、调用趋势",
        "杭州市公安局",
        "浙江省市场监督管理局",
        "温州市人力资源和社会保障局",
        "台州市生态环境局（第5批）",
        "93.5%",
        "1,234",
        "—",
        "各部门共享申请办理情况（续）",
        "以上数据截至统计期末。",
        // from the charts' SVG
        "各部门按时办结率",
        "87.1%",
        "每日共享调用量",
        "2,048",
        "省级部门",
        "11-03",
        "第 2 页",
    ] {
        assert!(text.contains(expected), "no {expected:?} in:\n{text}");
    }
    // The header row is repeated on every page the table runs onto.
    let with_header = pages.iter().filter(|p| p.contains("按时办结率") && p.contains("申请数")).count();
    assert!(with_header >= 2, "the header appears on {with_header} pages:\n{text}");
    // A heading is not left at the foot of a page without what follows it.
    for (heading, first) in [
        ("一、总体情况", "本报告依据"),
        ("二、各部门办理情况", "各部门共享申请办理情况"),
        ("三、调用趋势", "每日共享调用量"),
    ] {
        let page = pages.iter().position(|p| p.contains(heading)).unwrap();
        assert!(pages[page].contains(first), "{heading:?} is parted from {first:?}:\n{}", pages[page]);
    }
    // The wrapped paragraph loses nothing.
    let joined: String = text.split('\n').map(str::trim).collect();
    assert!(joined.contains(&LONG_PARAGRAPH.replace(' ', "")) || joined.contains(LONG_PARAGRAPH), "{joined}");
    // Every row is there, exactly once.
    for i in [12, 30, 63] {
        let name = format!("{}（第{}批）", DEPARTMENTS[i % 12], i / 12 + 1);
        assert_eq!(text.matches(&name).count(), 1, "{name}:\n{text}");
    }
}

#[test]
fn pdf_of_an_empty_report_is_one_page() {
    let report = Report { title: "空报告".into(), ..Report::default() };
    let text = pdftotext(&pdf(&report, &font()).unwrap());
    assert!(text.contains("空报告") && text.contains("第 1 页 / 共 1 页"), "{text}");
}
