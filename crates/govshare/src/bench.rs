//! `govshare bench search`: builds a realistic catalog of N published entries in the search index and measures
//! query latency, against a baseline measured in the same run on the same entries: a linear scan that applies the
//! same matching rules (every word — or one of its synonyms — a substring of the name, abstract or a data item;
//! facet filters) and counts the same facets — what a database `LIKE` query or the first console filter did.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use govshare_domain::catalog::{DataFormat, DeliveryMethod, EntryId, SharingAttribute};
use govshare_domain::org::OrgId;
use govshare_domain::region::RegionCode;
use govshare_domain::source::search_aliases;
use govshare_search::{CatalogIndex, Dimension, SearchDoc, SearchQuery, grade_key};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

const REGIONS: &[(&str, &str)] = &[
    ("330000", "浙江省"),
    ("330100", "杭州市"),
    ("330200", "宁波市"),
    ("330300", "温州市"),
    ("330400", "嘉兴市"),
    ("330500", "湖州市"),
    ("330600", "绍兴市"),
    ("330700", "金华市"),
    ("330800", "衢州市"),
    ("330900", "舟山市"),
    ("331000", "台州市"),
    ("331100", "丽水市"),
];

/// Departments with the subjects of their catalogs.
const DEPARTMENTS: &[(&str, &[&str])] = &[
    ("公安", &["户籍人口", "居民身份证", "出入境证件", "机动车登记", "驾驶证", "流动人口居住登记"]),
    ("民政", &["城乡低保对象", "特困人员供养", "婚姻登记", "社会组织登记", "殡葬服务", "临时救助"]),
    ("人力资源和社会保障", &["社会保险参保", "养老保险缴费", "失业保险待遇", "职业资格证书", "就业登记"]),
    ("市场监督管理", &["企业营业执照", "个体工商户登记", "食品经营许可", "特种设备登记", "行政处罚"]),
    ("自然资源", &["不动产登记", "国有土地使用权出让", "建设用地规划许可", "测绘资质"]),
    ("卫生健康", &["出生医学证明", "医师执业注册", "预防接种记录", "医疗机构执业许可"]),
    ("教育", &["学籍信息", "学历证书", "教师资格证", "学生资助"]),
    ("住房和城乡建设", &["商品房预售许可", "建筑业企业资质", "住房公积金缴存", "公共租赁住房保障"]),
    ("医疗保障", &["医保参保登记", "医疗费用结算", "定点医药机构", "大病保险待遇"]),
    ("税务", &["纳税信用等级", "发票开具", "税务登记", "个人所得税纳税记录"]),
    ("交通运输", &["道路运输经营许可", "营运车辆", "网约车驾驶员证", "船舶登记"]),
    ("生态环境", &["排污许可", "环境影响评价审批", "环境行政处罚"]),
    ("农业农村", &["农村土地承包经营权", "农机购置补贴", "动物防疫合格证"]),
    ("司法", &["律师执业证", "公证书", "法律援助案件"]),
    ("退役军人事务", &["退役军人信息", "优抚对象", "退役士兵安置"]),
    ("残疾人联合会", &["残疾人证", "残疾人就业", "残疾人康复服务"]),
    ("应急管理", &["安全生产许可", "危险化学品经营许可", "特种作业操作证"]),
    ("水利", &["取水许可", "水土保持方案审批"]),
    ("文化和旅游", &["旅行社业务经营许可", "导游证", "文物保护单位"]),
    ("统计", &["统计调查项目", "经济普查"]),
];

const SUFFIXES: &[&str] = &["信息", "基本信息", "登记信息", "明细", "变更记录", "核验结果", "年度汇总", "统计数据"];
const ITEMS: &[&str] = &[
    "姓名",
    "公民身份号码",
    "性别",
    "出生日期",
    "民族",
    "联系电话",
    "户籍地址",
    "居住地址",
    "统一社会信用代码",
    "企业名称",
    "法定代表人",
    "注册资本",
    "登记日期",
    "发证机关",
    "证书编号",
    "有效期起",
    "有效期止",
    "状态",
    "金额",
    "缴费基数",
    "缴费月份",
    "救助金额",
    "审批结果",
    "办理时间",
    "经办机构",
    "备注",
    "所属区县",
    "街道乡镇",
];
const PURPOSES: &[&str] = &["社会救助资格核查", "政务服务一网通办", "跨部门业务协同", "事中事后监管", "统计分析"];

fn generate(n: usize, rng: &mut StdRng) -> Vec<SearchDoc> {
    let epoch = DateTime::parse_from_rfc3339("2025-08-01T00:00:00+08:00").expect("valid date").with_timezone(&Utc);
    let providers: Vec<(OrgId, String, RegionCode, usize)> = REGIONS
        .iter()
        .flat_map(|(code, region_name)| {
            DEPARTMENTS.iter().enumerate().map(move |(d, (dept, _))| {
                let suffix = if *code == "330000" { "厅" } else { "局" };
                let region = RegionCode::parse(code).expect("valid region code");
                (OrgId::new(), format!("{region_name}{dept}{suffix}"), region, d)
            })
        })
        .collect();
    (0..n)
        .map(|i| {
            let (provider, provider_name, region, d) = providers.choose(rng).expect("providers").clone();
            let subjects = DEPARTMENTS[d].1;
            let subject = subjects.choose(rng).expect("subjects");
            let suffix = SUFFIXES.choose(rng).expect("suffixes");
            let region_name = REGIONS.iter().find(|r| r.0 == region.to_string()).map(|r| r.1).unwrap_or("");
            let item_count = rng.gen_range(4..14);
            let delivery_count = rng.gen_range(1..=3);
            let items: Vec<(String, String)> = ITEMS
                .choose_multiple(rng, item_count)
                .enumerate()
                .map(|(k, name)| ((*name).to_owned(), format!("item_{k}")))
                .collect();
            let item_names: Vec<&str> = items.iter().take(3).map(|(n, _)| n.as_str()).collect();
            SearchDoc {
                id: EntryId::new(),
                version: 1,
                name: format!("{region_name}{subject}{suffix}"),
                resource_code: format!("{region}-{:02}-{i:06}", d),
                summary: format!(
                    "{provider_name}归集的{subject}{suffix}，包括{}等数据项，用于{}。",
                    item_names.join("、"),
                    PURPOSES.choose(rng).expect("purposes"),
                ),
                provider,
                provider_name,
                region,
                attribute: *[
                    SharingAttribute::Unconditional,
                    SharingAttribute::Conditional,
                    SharingAttribute::NotShared,
                ]
                .choose_weighted(rng, |a| match a {
                    SharingAttribute::Unconditional => 5,
                    SharingAttribute::Conditional => 4,
                    SharingAttribute::NotShared => 1,
                })
                .expect("weights"),
                grade: grade_key("一般数据", rng.gen_range(1..=4)),
                format: *DataFormat::ALL.choose(rng).expect("formats"),
                delivery: DeliveryMethod::ALL.choose_multiple(rng, delivery_count).copied().collect(),
                items,
                published_at: epoch + chrono::Duration::minutes(i as i64),
                node: None,
            }
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|mut d| {
            d.delivery.sort();
            d
        })
        .collect()
}

/// The kinds of query a department's staff type, with a facet filter on some.
fn queries(n: usize, docs: &[SearchDoc], rng: &mut StdRng) -> Vec<(&'static str, SearchQuery)> {
    let words =
        ["低保", "营业执照", "户籍", "社会保险", "不动产登记", "残疾人", "公积金", "学籍", "排污许可", "身份证"];
    let places = ["杭州", "宁波", "温州", "丽水"];
    (0..n)
        .map(|i| {
            let mut q = SearchQuery { limit: 20, ..Default::default() };
            let kind = match i % 5 {
                0 => {
                    q.text = (*words.choose(rng).expect("words")).to_owned();
                    "one word"
                }
                1 => {
                    q.text = format!("{} {}", places.choose(rng).expect("places"), words.choose(rng).expect("words"));
                    "two words"
                }
                2 => {
                    q.text = (*words.choose(rng).expect("words")).to_owned();
                    q.filters.insert(Dimension::Attribute, "conditional".into());
                    q.filters.insert(Dimension::Delivery, "service_api".into());
                    "word + 2 facets"
                }
                3 => {
                    q.filters.insert(Dimension::Region, "330100".into());
                    "browse a region"
                }
                _ => {
                    q.text = docs.choose(rng).expect("docs").resource_code.clone();
                    "resource code"
                }
            };
            (kind, q)
        })
        .collect()
}

/// The baseline: scan every entry with the same matching rules and count the same facets.
fn scan(docs: &[SearchDoc], q: &SearchQuery) -> (usize, BTreeMap<(Dimension, String), u64>, Vec<EntryId>) {
    // Each word with the synonyms the index also matches it as (`source::search_aliases`).
    let words: Vec<Vec<String>> = q
        .text
        .split_whitespace()
        .map(|w| std::iter::once(w.to_lowercase()).chain(search_aliases(w)).collect())
        .collect();
    let mut counts = BTreeMap::new();
    let mut hits = Vec::new();
    let mut total = 0;
    for d in docs {
        let matches = words.iter().all(|names| {
            names.iter().any(|w| {
                d.name.contains(w.as_str())
                    || d.summary.contains(w.as_str())
                    || d.resource_code.to_lowercase() == *w
                    || d.items.iter().any(|(n, _)| n.contains(w.as_str()))
            })
        });
        if !matches {
            continue;
        }
        let facets = [
            (Dimension::Provider, d.provider.to_string()),
            (Dimension::Attribute, d.attribute.code().to_owned()),
            (Dimension::Grade, d.grade.clone()),
            (Dimension::Format, d.format.code().to_owned()),
            (Dimension::Region, d.region.to_string()),
        ];
        let delivery = d.delivery.iter().map(|m| (Dimension::Delivery, m.code().to_owned()));
        let all: Vec<(Dimension, String)> = facets.into_iter().chain(delivery).collect();
        if !q.filters.iter().all(|(dim, v)| all.iter().any(|(d2, v2)| d2 == dim && v2 == v)) {
            continue;
        }
        total += 1;
        for key in all {
            *counts.entry(key).or_insert(0) += 1;
        }
        if hits.len() < q.limit {
            hits.push(d.id);
        }
    }
    (total, counts, hits)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

/// Runs the search benchmark and prints the report.
pub fn search(entries: usize, query_count: usize, seed: u64) -> anyhow::Result<()> {
    let mut rng = StdRng::seed_from_u64(seed);
    println!("generating {entries} published catalog entries (seed {seed}) …");
    let docs = generate(entries, &mut rng);
    let index = CatalogIndex::in_memory()?;
    let started = Instant::now();
    index.rebuild(docs.iter().cloned())?;
    let build = started.elapsed();
    println!(
        "indexed {} entries in {:.1} s ({:.0} entries/s)",
        index.len(),
        build.as_secs_f64(),
        entries as f64 / build.as_secs_f64()
    );

    let qs = queries(query_count, &docs, &mut rng);
    // Warm up both paths once, then measure them interleaved so that machine noise hits both alike.
    for (_, q) in qs.iter().take(20) {
        index.search(q)?;
        scan(&docs, q);
    }
    let mut indexed: BTreeMap<&str, Vec<Duration>> = BTreeMap::new();
    let mut scanned: BTreeMap<&str, Vec<Duration>> = BTreeMap::new();
    let mut disagreements = 0;
    for (kind, q) in &qs {
        let t = Instant::now();
        let found = index.search(q)?;
        indexed.entry(kind).or_default().push(t.elapsed());
        let t = Instant::now();
        let (total, _, _) = scan(&docs, q);
        scanned.entry(kind).or_default().push(t.elapsed());
        if total != found.total {
            disagreements += 1;
        }
    }
    println!();
    println!(
        "{:<18} {:>8} {:>12} {:>12} {:>14} {:>14} {:>10}",
        "query kind", "queries", "index p50", "index p99", "scan p50", "scan p99", "p50 ratio"
    );
    let mut all_i = Vec::new();
    let mut all_s = Vec::new();
    for (kind, times) in indexed.iter_mut() {
        let scan_times = scanned.get_mut(kind).expect("same kinds");
        times.sort();
        scan_times.sort();
        all_i.extend(times.iter().copied());
        all_s.extend(scan_times.iter().copied());
        let ratio = percentile(scan_times, 0.5).as_secs_f64() / percentile(times, 0.5).as_secs_f64().max(1e-9);
        println!(
            "{:<18} {:>8} {:>12} {:>12} {:>14} {:>14} {:>9.0}×",
            kind,
            times.len(),
            ms(percentile(times, 0.5)),
            ms(percentile(times, 0.99)),
            ms(percentile(scan_times, 0.5)),
            ms(percentile(scan_times, 0.99)),
            ratio
        );
    }
    all_i.sort();
    all_s.sort();
    println!(
        "{:<18} {:>8} {:>12} {:>12} {:>14} {:>14} {:>9.0}×",
        "all",
        all_i.len(),
        ms(percentile(&all_i, 0.5)),
        ms(percentile(&all_i, 0.99)),
        ms(percentile(&all_s, 0.5)),
        ms(percentile(&all_s, 0.99)),
        percentile(&all_s, 0.5).as_secs_f64() / percentile(&all_i, 0.5).as_secs_f64().max(1e-9)
    );
    println!();
    println!(
        "index = tantivy + jieba + bigrams with 6 facet counts; scan = linear substring scan with the same facets"
    );
    println!(
        "queries whose match count differed between index and scan: {disagreements} of {} \
         (the index also matches words jieba cuts differently; the scan matches raw substrings)",
        qs.len()
    );
    Ok(())
}
