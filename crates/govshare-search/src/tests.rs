use super::*;
use tantivy::tokenizer::Tokenizer;

fn doc(n: u128, name: &str, summary: &str, items: &[&str]) -> SearchDoc {
    SearchDoc {
        id: EntryId(uuid::Uuid::from_u128(n)),
        version: 1,
        name: name.into(),
        resource_code: format!("330000-MZT-{n:04}"),
        summary: summary.into(),
        provider: OrgId(uuid::Uuid::from_u128(1000 + n % 2)),
        provider_name: if n.is_multiple_of(2) { "省民政厅" } else { "省公安厅" }.into(),
        region: RegionCode::parse("330000").unwrap(),
        attribute: if n.is_multiple_of(3) { SharingAttribute::Conditional } else { SharingAttribute::Unconditional },
        grade: grade_key("一般数据", 2),
        format: DataFormat::Database,
        delivery: if n.is_multiple_of(2) {
            vec![DeliveryMethod::ServiceApi, DeliveryMethod::FileDownload]
        } else {
            vec![DeliveryMethod::ServiceApi]
        },
        items: items.iter().enumerate().map(|(i, name)| ((*name).to_owned(), format!("item_{i}"))).collect(),
        published_at: DateTime::from_timestamp(1_700_000_000 + n as i64 * 60, 0).unwrap(),
        node: None,
    }
}

fn corpus() -> CatalogIndex {
    let index = CatalogIndex::in_memory().unwrap();
    index
        .rebuild([
            doc(1, "城乡低保对象信息", "全省最低生活保障对象的家庭与救助金发放情况", &["姓名", "身份证号", "救助金额"]),
            doc(2, "人口户籍信息", "常住人口户籍登记信息", &["姓名", "身份证号", "户籍地址"]),
            doc(3, "企业营业执照信息", "市场主体登记的营业执照", &["统一社会信用代码", "企业名称"]),
            doc(4, "残疾人证信息", "残疾人证核发与残疾等级", &["姓名", "残疾等级"]),
            doc(5, "社会保险缴费记录", "职工基本养老保险缴费情况", &["姓名", "缴费基数"]),
        ])
        .unwrap();
    index
}

fn search(index: &CatalogIndex, text: &str) -> Vec<String> {
    let q = SearchQuery { text: text.into(), limit: 10, ..Default::default() };
    index.search(&q).unwrap().hits.into_iter().map(|h| h.name).collect()
}

#[test]
fn finds_entries_by_a_chinese_word_in_the_name() {
    let index = corpus();
    assert_eq!(search(&index, "低保"), vec!["城乡低保对象信息"]);
    assert_eq!(search(&index, "营业执照"), vec!["企业营业执照信息"]);
}

#[test]
fn finds_words_jieba_cuts_differently_in_the_entry() {
    let index = corpus();
    // 「生活保障」 sits inside 「最低生活保障对象」 in the abstract.
    assert_eq!(search(&index, "生活保障"), vec!["城乡低保对象信息"]);
    // 「信用代码」 inside the data item 「统一社会信用代码」.
    assert_eq!(search(&index, "信用代码"), vec!["企业营业执照信息"]);
}

#[test]
fn every_word_must_match_and_names_rank_first() {
    let index = corpus();
    assert_eq!(search(&index, "残疾 等级"), vec!["残疾人证信息"]);
    assert!(search(&index, "残疾 营业执照").is_empty());
    // 「户籍」 is in the name of entry 2 and only in an item of no other entry.
    assert_eq!(search(&index, "户籍")[0], "人口户籍信息");
    let names = search(&index, "身份证号");
    assert_eq!(names.len(), 2);
}

#[test]
fn a_word_finds_entries_under_its_synonyms() {
    let index = corpus();
    index
        .apply(
            &[
                doc(6, "居民户口簿信息", "户口登记", &["公民身份号码", "户主姓名"]),
                doc(7, "出入境证件信息", "护照与通行证", &["护照号码", "证件类型"]),
            ],
            &[],
        )
        .unwrap();
    let mut names = search(&index, "身份证");
    names.sort();
    // Entries 1 and 2 say 身份证号, entry 6 公民身份号码; entry 7 has 号码 and 证件 but no identity number.
    let mut expected = vec!["人口户籍信息", "城乡低保对象信息", "居民户口簿信息"];
    expected.sort();
    assert_eq!(names, expected);
    assert_eq!(search(&index, "公民身份号码").len(), 3, "and the other way round");
    // Every word must still match: the synonym stands for its word only.
    assert_eq!(search(&index, "户口 身份证"), vec!["居民户口簿信息"]);
    assert!(search(&index, "营业执照 身份证").is_empty());
    // A short part such as 「号码」 is no synonym: it finds only where it is written.
    let mut short = search(&index, "号码");
    short.sort();
    let mut expected = vec!["居民户口簿信息", "出入境证件信息"];
    expected.sort();
    assert_eq!(short, expected);
}

#[test]
fn no_match_across_punctuation_or_for_unrelated_words() {
    let index = corpus();
    assert!(search(&index, "公积金").is_empty());
    // 「情况」 ends the abstract of entry 1 and 5, but 「况全」 would only exist across entries or punctuation.
    assert!(search(&index, "况全").is_empty());
}

#[test]
fn finds_by_resource_code() {
    let index = corpus();
    assert_eq!(search(&index, "330000-MZT-0003"), vec!["企业营业执照信息"]);
}

#[test]
fn facets_count_the_matches_and_filters_narrow_them() {
    let index = corpus();
    let all = index.search(&SearchQuery { limit: 10, ..Default::default() }).unwrap();
    assert_eq!(all.total, 5);
    // Newest publication first when browsing.
    assert_eq!(all.hits[0].name, "社会保险缴费记录");
    let delivery = &all.facets[&Dimension::Delivery];
    assert_eq!(delivery[0].value, "service_api");
    assert_eq!(delivery[0].count, 5);
    assert_eq!(delivery[1].value, "file_download");
    assert_eq!(delivery[1].count, 2);
    let attribute = &all.facets[&Dimension::Attribute];
    assert_eq!(attribute.iter().find(|f| f.value == "conditional").unwrap().count, 1);

    let mut q = SearchQuery { text: "姓名".into(), limit: 10, ..Default::default() };
    q.filters.insert(Dimension::Delivery, "file_download".into());
    let filtered = index.search(&q).unwrap();
    let names: Vec<_> = filtered.hits.iter().map(|h| h.name.as_str()).collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names.contains(&"人口户籍信息") && names.contains(&"残疾人证信息"));
    assert_eq!(filtered.total, 2);
    assert_eq!(filtered.facets[&Dimension::Delivery][0].count, 2);
}

#[test]
fn pages_through_results() {
    let index = corpus();
    let page = |offset| {
        let q = SearchQuery { limit: 2, offset, ..Default::default() };
        index.search(&q).unwrap().hits.into_iter().map(|h| h.id).collect::<Vec<_>>()
    };
    let (a, b, c) = (page(0), page(2), page(4));
    assert_eq!((a.len(), b.len(), c.len()), (2, 2, 1));
    assert!(a.iter().chain(&b).all(|id| !c.contains(id)));
}

#[test]
fn a_new_version_replaces_the_old_and_removal_removes() {
    let index = corpus();
    let mut renamed = doc(1, "城乡最低生活保障家庭信息", "救助家庭", &["户主姓名"]);
    renamed.version = 2;
    index.apply(&[renamed], &[]).unwrap();
    assert_eq!(index.len(), 5);
    assert!(search(&index, "低保对象").is_empty());
    assert_eq!(search(&index, "保障家庭"), vec!["城乡最低生活保障家庭信息"]);
    assert_eq!(index.versions().unwrap()[&EntryId(uuid::Uuid::from_u128(1))], 2);
    index.apply(&[], &[EntryId(uuid::Uuid::from_u128(3))]).unwrap();
    assert_eq!(index.len(), 4);
    assert!(search(&index, "营业执照").is_empty());
}

#[test]
fn bigrams_are_numbered_and_split_at_punctuation() {
    assert_eq!(bigram::grams("低保,户"), vec!["低保", "户"]);
    let mut t = BigramTokenizer;
    let mut s = t.token_stream("最低保障 A");
    let mut out = vec![];
    while let Some(tok) = s.next() {
        out.push((tok.text.clone(), tok.position));
    }
    assert_eq!(out, vec![("最低".into(), 0), ("低保".into(), 1), ("保障".into(), 2), ("A".into(), 4)]);
}
