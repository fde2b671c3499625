use super::*;

fn scheme() -> GradeScheme {
    GradeScheme::default()
}

fn household() -> EntryContent {
    let input = EntryInput {
        name: "居民户籍信息".into(),
        resource_code: "330000-GAT-0001".into(),
        summary: "全省户籍人口的登记信息".into(),
        format: "数据库".into(),
        update_frequency: "每日".into(),
        sharing_attribute: "有条件共享".into(),
        sharing_scope: "省级政府部门".into(),
        permitted_purposes: vec!["社会救助资格核查".into(), "户籍迁移业务协同".into()],
        delivery_methods: vec!["服务接口".into(), "批量交换".into()],
        usage_conditions: "仅限履职使用".into(),
        grade_class: "一般数据".into(),
        grade_level: 3,
        open_to_public: false,
        related_codes: vec!["330000-GAT-0002".into()],
        items: vec![
            DataItemInput {
                name: "姓名".into(),
                code: "xm".into(),
                data_type: "string".into(),
                length: Some(50),
                grade_class: "一般数据".into(),
                grade_level: 2,
                personal_info: Some("name".into()),
                format: None,
            },
            DataItemInput {
                name: "公民身份号码".into(),
                code: "gmsfhm".into(),
                data_type: "string".into(),
                length: Some(18),
                grade_class: "一般数据".into(),
                grade_level: 3,
                personal_info: Some("id_number".into()),
                format: None,
            },
        ],
        ..Default::default()
    };
    EntryContent::parse(&input, &scheme()).unwrap()
}

fn not_shared() -> EntryContent {
    let mut input = household().to_input();
    input.resource_code = "330000-MZT-0101".into();
    input.name = "婚姻登记档案".into();
    input.sharing_attribute = "not_shared".into();
    input.sharing_scope.clear();
    input.permitted_purposes.clear();
    input.not_shared_reason = "档案原件涉及个人隐私".into();
    input.legal_basis = "《婚姻登记档案管理办法》第十二条".into();
    input.delivery_methods.clear();
    input.open_to_public = false;
    input.related_codes.clear();
    EntryContent::parse(&input, &scheme()).unwrap()
}

fn unconditional() -> EntryContent {
    let mut input = household().to_input();
    input.resource_code = "330000-SCJG-0003".into();
    input.name = "企业营业执照信息".into();
    input.sharing_attribute = "unconditional".into();
    input.sharing_scope.clear();
    input.permitted_purposes.clear();
    input.delivery_methods = vec!["file_download".into()];
    input.update_frequency = "irregular".into();
    input.open_to_public = true;
    input.items.truncate(1);
    input.items[0].personal_info = None;
    EntryContent::parse(&input, &scheme()).unwrap()
}

fn export(contents: Vec<EntryContent>) -> Vec<ExportEntry> {
    contents
        .into_iter()
        .enumerate()
        .map(|(i, content)| ExportEntry {
            id: format!("00000000-0000-0000-0000-00000000000{i}"),
            content,
            provider_name: "浙江省公安厅".into(),
            provider_credit_code: "11330000002482051F".into(),
            version: 1,
            published_at: DateTime::from_timestamp(1_790_000_000, 0),
        })
        .collect()
}

#[test]
fn the_empty_template_imports_as_nothing() {
    let bytes = template_xlsx(&scheme()).unwrap();
    let report = parse_xlsx(&bytes, &scheme()).unwrap();
    assert!(report.entries.is_empty());
    assert!(report.is_clean());
    let mut wb: Xlsx<_> = open_workbook_from_rs(Cursor::new(bytes.as_slice())).unwrap();
    assert_eq!(wb.sheet_names(), [ENTRY_SHEET, ITEM_SHEET, HELP_SHEET]);
    let header: Vec<String> =
        wb.worksheet_range(ITEM_SHEET).unwrap().rows().next().unwrap().iter().map(cell_text).collect();
    assert_eq!(header[2], "数据项代码");
}

#[test]
fn an_export_re_imports_to_the_same_contents() {
    let contents = vec![household(), not_shared(), unconditional()];
    let bytes = export_xlsx(&export(contents.clone()), &scheme()).unwrap();
    let report = parse_xlsx(&bytes, &scheme()).unwrap();
    assert!(report.is_clean(), "{:?}", report.errors);
    let back: Vec<EntryContent> =
        report.valid_inputs().into_iter().map(|i| EntryContent::parse(i, &scheme()).unwrap()).collect();
    assert_eq!(back, contents);
}

/// A workbook written cell by cell, as a person would fill the template.
fn workbook(entries: &[&[&str]], items: &[&[&str]]) -> Vec<u8> {
    let mut wb = Workbook::new();
    let sheet = wb.add_worksheet();
    sheet.set_name(ENTRY_SHEET).unwrap();
    for (c, col) in ENTRY_COLUMNS.iter().enumerate() {
        sheet.write_string(0, c as u16, col.header).unwrap();
    }
    for (r, row) in entries.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            sheet.write_string(r as u32 + 1, c as u16, *v).unwrap();
        }
    }
    let sheet = wb.add_worksheet();
    sheet.set_name(ITEM_SHEET).unwrap();
    // Columns in another order than the template's: headers decide.
    let order = [1, 0, 2, 3, 4, 5, 6, 7];
    for (c, i) in order.iter().enumerate() {
        sheet.write_string(0, c as u16, ITEM_COLUMNS[*i].header).unwrap();
    }
    for (r, row) in items.iter().enumerate() {
        for (c, i) in order.iter().enumerate() {
            if let Some(v) = row.get(*i) {
                sheet.write_string(r as u32 + 1, c as u16, *v).unwrap();
            }
        }
    }
    // A number typed as a number, not text.
    sheet.write_number(2, 4, 50).unwrap();
    wb.save_to_buffer().unwrap()
}

#[test]
fn every_bad_cell_is_reported_with_sheet_row_and_column() {
    let good: &[&str] = &[
        "330000-GAT-0001",
        "居民户籍信息",
        "户籍登记",
        "数据库",
        "每日",
        "无条件共享",
        "",
        "",
        "",
        "",
        "服务接口",
        "",
        "一般数据",
        "3",
        "否",
        "",
    ];
    let no_scope: &[&str] = &[
        "330000-GAT-0002",
        "流动人口信息",
        "居住登记",
        "数据库",
        "每日",
        "有条件共享",
        "",
        "",
        "",
        "",
        "服务接口",
        "",
        "一般数据",
        "3",
        "",
        "",
    ];
    let no_basis: &[&str] = &[
        "330000-GAT-0003",
        "出入境证件",
        "证件信息",
        "数据库",
        "每月",
        "不予共享",
        "",
        "",
        "涉密",
        "",
        "",
        "",
        "一般数据",
        "2",
        "",
        "",
    ];
    let bad_level: &[&str] = &[
        "330000-GAT-0004",
        "驾驶证信息",
        "驾驶证",
        "数据库",
        "每日",
        "无条件共享",
        "",
        "",
        "",
        "",
        "文件下载",
        "",
        "一般数据",
        "三级",
        "也许",
        "",
    ];
    let duplicate: &[&str] = &[
        "330000-GAT-0001",
        "重复",
        "重复",
        "数据库",
        "每日",
        "无条件共享",
        "",
        "",
        "",
        "",
        "服务接口",
        "",
        "一般数据",
        "3",
        "",
        "",
    ];
    let items: &[&[&str]] = &[
        &["330000-GAT-0001", "姓名", "xm", "字符型", "", "一般数据", "2", "姓名"],
        &["330000-GAT-0001", "出生日期", "csrq", "日期时间戳", "", "一般数据", "2", ""],
        &["330000-GAT-0001", "住址", "zz", "字符型", "很长", "一般数据", "9", ""],
        &["330000-GAT-0002", "姓名", "xm", "字符型", "50", "一般数据", "2", ""],
        &["330000-GAT-0003", "证件号码", "zjhm", "字符型", "20", "一般数据", "2", ""],
        &["330000-GAT-0009", "孤儿", "ge", "字符型", "", "一般数据", "2", ""],
    ];
    let bytes = workbook(&[good, no_scope, no_basis, bad_level, duplicate], items);
    let report = parse_xlsx(&bytes, &scheme()).unwrap();
    let found: Vec<(&str, u32, &str, &str)> =
        report.errors.iter().map(|e| (e.sheet.as_str(), e.row, e.column.as_str(), e.rule.as_str())).collect();
    for expected in [
        (ENTRY_SHEET, 3, "共享范围", "required_for_conditional"),
        (ENTRY_SHEET, 4, "法律依据", "required_for_not_shared"),
        (ENTRY_SHEET, 5, "级别", "number"),
        (ENTRY_SHEET, 5, "是否向社会开放", "yes_no"),
        (ENTRY_SHEET, 6, "资源代码", "duplicate"),
        (ITEM_SHEET, 3, "数据类型", "unknown_value"),
        (ITEM_SHEET, 4, "长度", "number"),
        (ITEM_SHEET, 7, "资源代码", "unknown_entry"),
    ] {
        assert!(found.contains(&expected), "missing {expected:?} in {found:#?}");
    }
    assert!(report.errors.iter().all(|e| !e.message.is_empty()));
    // 「级别」 9 is out of range; it is reported once 「长度」 is fixed, since the row already failed.
    assert!(!report.is_clean());
    let valid: Vec<&str> = report.valid_inputs().iter().map(|i| i.resource_code.as_str()).collect();
    assert!(valid.is_empty(), "entry 1 has bad items, the others bad cells: {valid:?}");
    let second = &report.entries[1];
    assert_eq!((second.row, second.valid), (3, false));
}

#[test]
fn a_clean_workbook_yields_valid_entries_in_order() {
    let a: &[&str] = &[
        "330000-GAT-0001",
        "居民户籍信息",
        "户籍登记",
        "数据库",
        "每日",
        "有条件共享",
        "省级部门",
        "核查;协同",
        "",
        "",
        "服务接口、批量交换",
        "",
        "一般数据",
        "3",
        "否",
        "",
    ];
    let b: &[&str] = &[
        "330000-GAT-0002",
        "驾驶证信息",
        "驾驶证",
        "电子表格",
        "每月",
        "无条件共享",
        "",
        "",
        "",
        "",
        "文件下载",
        "",
        "一般数据",
        "2",
        "是",
        "330000-GAT-0001",
    ];
    let items: &[&[&str]] = &[
        &["330000-GAT-0002", "证号", "zh", "字符型", "20", "一般数据", "2", ""],
        &["330000-GAT-0001", "姓名", "xm", "字符型", "", "一般数据", "2", "姓名"],
    ];
    let report = parse_xlsx(&workbook(&[a, b], items), &scheme()).unwrap();
    assert!(report.is_clean(), "{:#?}", report.errors);
    let inputs = report.valid_inputs();
    assert_eq!(inputs[0].permitted_purposes, ["核查", "协同"]);
    assert_eq!(inputs[0].items[0].length, Some(50), "a numeric cell");
    assert_eq!(inputs[1].related_codes, ["330000-GAT-0001"]);
    assert!(inputs[1].open_to_public);
}

#[test]
fn a_file_that_is_not_a_workbook_or_lacks_a_column_is_refused_as_a_whole() {
    assert!(matches!(parse_xlsx(b"not a zip", &scheme()), Err(InterchangeError::Unreadable(_))));
    let mut wb = Workbook::new();
    wb.add_worksheet().set_name(ENTRY_SHEET).unwrap().write_string(0, 0, "资源名称").unwrap();
    wb.add_worksheet().set_name(ITEM_SHEET).unwrap();
    match parse_xlsx(&wb.save_to_buffer().unwrap(), &scheme()) {
        Err(InterchangeError::Unreadable(m)) => assert!(m.contains("资源代码"), "{m}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn dcat_has_one_dataset_per_entry() {
    let doc = dcat_jsonld(&export(vec![household(), unconditional()]), "https://data.zj.gov.cn/");
    assert_eq!(doc["@type"], "dcat:Catalog");
    let datasets = doc["dcat:dataset"].as_array().unwrap();
    assert_eq!(datasets.len(), 2);
    for d in datasets {
        assert_eq!(d["@type"], "dcat:Dataset");
        assert!(d["@id"].as_str().unwrap().starts_with("https://data.zj.gov.cn/catalog/"));
        assert!(d["dct:identifier"].is_string());
    }
    assert_eq!(datasets[0]["dcat:distribution"].as_array().unwrap().len(), 2);
    assert_eq!(
        datasets[1]["dct:accrualPeriodicity"]["@id"],
        "http://publications.europa.eu/resource/authority/frequency/IRREG"
    );
    assert_eq!(datasets[0]["govshare:dataItems"][1]["govshare:personalInformation"], "id_number");
}
