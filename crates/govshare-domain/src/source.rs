//! Source-of-record departments and the duplicate-collection check (R-CAT-7, Art. 19).
//!
//! Where several departments collect the same data, the authority designates one of them as the source of record
//! (数源部门) for that data subject in its region. Before a department collects data from citizens or businesses, it
//! checks its form's fields against the published catalog: a field some entry already shares is to be obtained by
//! sharing, not collected again (Art. 19 ¶1), preferably from the source of record.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ValidationError;
use crate::catalog::{EntryId, SharingAttribute};
use crate::error::required_text;
use crate::org::OrgId;
use crate::region::RegionCode;

/// The authority's designation of a source-of-record department for a data subject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceDesignation {
    pub id: uuid::Uuid,
    pub region: RegionCode,
    /// The data subject, e.g. 「户籍人口」.
    pub subject: String,
    /// The data items it covers, by name (e.g. 姓名, 公民身份号码, 户籍地址).
    pub items: Vec<String>,
    pub source_org: OrgId,
    /// The source's catalog entry that shares this data, if it has one yet.
    pub entry: Option<EntryId>,
    /// The decision or document the designation rests on.
    pub basis: String,
    pub designated_by: String,
    pub designated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct DesignationInput {
    pub subject: String,
    /// Item names, separated by 、，,；; or new lines.
    pub items: String,
    pub source_org: String,
    #[serde(default)]
    pub entry: String,
    pub basis: String,
}

/// Splits a list typed by people: new lines, 、，,；; all separate.
pub fn split_list(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for part in text.split(['\n', '\r', '、', ',', '，', ';', '；', '\t']) {
        let part = part.trim();
        if !part.is_empty() && !out.iter().any(|p| p == part) {
            out.push(part.to_owned());
        }
    }
    out
}

/// The validated parts of a designation; the caller checks that the organisation and entry exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedDesignation {
    pub subject: String,
    pub items: Vec<String>,
    pub source_org: OrgId,
    pub entry: Option<EntryId>,
    pub basis: String,
}

impl DesignationInput {
    pub fn parse(&self) -> Result<ParsedDesignation, ValidationError> {
        let subject = required_text("subject", "数据主题", &self.subject, 100)?;
        let items = split_list(&self.items);
        if items.is_empty() {
            return Err(ValidationError::new("items", "required", "至少列出一个数据项"));
        }
        if let Some(long) = items.iter().find(|i| i.chars().count() > 100) {
            return Err(ValidationError::new("items", "too_long", format!("数据项名称过长：{long}")));
        }
        let source_org = uuid::Uuid::parse_str(self.source_org.trim())
            .map(OrgId)
            .map_err(|_| ValidationError::new("source_org", "required", "请选择数源部门"))?;
        let entry = match self.entry.trim() {
            "" => None,
            text => Some(EntryId(
                uuid::Uuid::parse_str(text).map_err(|_| ValidationError::new("entry", "uuid", "目录标识应为 UUID"))?,
            )),
        };
        let basis = required_text("basis", "认定依据", &self.basis, 300)?;
        Ok(ParsedDesignation { subject, items, source_org, entry, basis })
    }
}

/// Groups of names that mean the same data item on government forms.
const SYNONYMS: &[&[&str]] = &[
    &["公民身份号码", "身份证号", "身份证号码", "居民身份证号码", "身份证件号码", "证件号码"],
    &["姓名", "名字", "申请人姓名"],
    &["联系电话", "手机号", "手机号码", "电话号码", "联系方式"],
    &["统一社会信用代码", "信用代码", "社会信用代码"],
    &["户籍地址", "户籍所在地", "户口所在地"],
    &["居住地址", "现住址", "住址", "家庭住址"],
    &["出生日期", "出生年月"],
    &["企业名称", "单位名称", "公司名称"],
    &["法定代表人", "法人代表", "法定代表人姓名"],
];

/// A name reduced to what matters for matching: no spaces or punctuation, ASCII lower-cased.
pub fn normalize(name: &str) -> String {
    name.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect()
}

/// The normalized names a form field may appear under in the catalog: itself and its synonyms.
pub fn field_aliases(field: &str) -> Vec<String> {
    let key = normalize(field);
    let mut aliases = vec![key.clone()];
    for group in SYNONYMS {
        if group.iter().any(|n| normalize(n) == key) {
            aliases.extend(group.iter().map(|n| normalize(n)).filter(|n| *n != key));
        }
    }
    aliases
}

/// The other names a catalog search word stands for, so that a search finds an entry under any of its synonyms
/// (「身份证」 finds 「公民身份号码」). A word stands for a synonym group when it is one of the group's names, or — if
/// it has at least three characters — part of one (「身份证」 in 「身份证号码」). Shorter parts such as 「姓名」 or
/// 「号码」 occur in the names of too many different items to stand for one of them. The word itself is not in the
/// list; names are normalized.
pub fn search_aliases(word: &str) -> Vec<String> {
    let key = normalize(word);
    if key.is_empty() {
        return Vec::new();
    }
    let part_counts = key.chars().count() >= 3;
    let mut aliases: Vec<String> = Vec::new();
    for group in SYNONYMS {
        let names: Vec<String> = group.iter().map(|n| normalize(n)).collect();
        if names.iter().any(|n| *n == key || (part_counts && n.contains(key.as_str()))) {
            for name in names {
                if name != key && !aliases.contains(&name) {
                    aliases.push(name);
                }
            }
        }
    }
    aliases
}

/// Whether a catalog data item (by name or code) carries a form field.
pub fn item_matches(aliases: &[String], item_name: &str, item_code: &str) -> bool {
    let name = normalize(item_name);
    let code = normalize(item_code);
    aliases.iter().any(|a| *a == name || *a == code)
}

/// What the check says about one form field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// A published entry shares it: obtain it by sharing, do not collect it again (Art. 19 ¶1).
    ObtainBySharing,
    /// Catalogued, but only in entries that are not shared.
    CataloguedNotShared,
    /// Nothing in the catalog: the department may collect it.
    Collect,
}

impl Verdict {
    pub fn label(self) -> &'static str {
        match self {
            Verdict::ObtainBySharing => "可通过共享获取，不应重复采集",
            Verdict::CataloguedNotShared => "目录中有，但属于不予共享",
            Verdict::Collect => "目录中没有，需自行采集",
        }
    }
}

/// A catalog entry that carries a form field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldSource {
    pub entry: EntryId,
    pub entry_name: String,
    pub provider: OrgId,
    pub provider_name: String,
    pub item_name: String,
    pub attribute: SharingAttribute,
    /// The provider is the designated source of record for a subject covering this field.
    pub source_of_record: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldCheck {
    pub field: String,
    pub verdict: Verdict,
    /// Sources of record first, then shareable entries, then the rest.
    pub sources: Vec<FieldSource>,
}

impl FieldCheck {
    pub fn new(field: String, mut sources: Vec<FieldSource>) -> FieldCheck {
        let shareable = |s: &FieldSource| s.attribute != SharingAttribute::NotShared;
        sources.sort_by_key(|s| (!s.source_of_record, !shareable(s), s.entry_name.clone()));
        let verdict = if sources.iter().any(shareable) {
            Verdict::ObtainBySharing
        } else if sources.is_empty() {
            Verdict::Collect
        } else {
            Verdict::CataloguedNotShared
        };
        FieldCheck { field, verdict, sources }
    }
}

/// Whether a designation covers a field (by the field's aliases).
pub fn designation_covers(designation: &SourceDesignation, aliases: &[String]) -> bool {
    designation.items.iter().any(|i| aliases.contains(&normalize(i)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synonyms_and_punctuation_match_codes_too() {
        let a = field_aliases("身份证号:");
        assert!(item_matches(&a, "公民身份号码", "gmsfhm"));
        assert!(item_matches(&field_aliases("XM"), "姓名", "xm"), "by code, case-insensitive");
        assert!(!item_matches(&field_aliases("姓名"), "企业名称", "qymc"));
        assert_eq!(field_aliases("不在同义词表中"), vec!["不在同义词表中"]);
    }

    #[test]
    fn search_words_stand_for_their_synonym_group() {
        let a = search_aliases("身份证");
        assert!(a.contains(&"公民身份号码".to_owned()) && a.contains(&"身份证号".to_owned()), "{a:?}");
        assert!(!a.contains(&"身份证".to_owned()), "the word itself is not an alias");
        assert!(search_aliases("公民身份号码").contains(&"身份证号码".to_owned()));
        // 「姓名」 is a name of its own group only, not of 「法定代表人姓名」's.
        let names = search_aliases("姓名");
        assert!(names.contains(&"名字".to_owned()) && !names.iter().any(|n| n.contains("法定代表人")), "{names:?}");
        // Two-character parts stand for nothing; unknown words neither.
        assert!(search_aliases("号码").is_empty());
        assert!(search_aliases("低保").is_empty());
        assert!(search_aliases("，").is_empty());
    }

    #[test]
    fn lists_split_on_chinese_and_latin_separators() {
        assert_eq!(split_list("姓名、身份证号，联系电话;住址\n姓名\n\n"), ["姓名", "身份证号", "联系电话", "住址"]);
    }

    fn source(name: &str, attribute: SharingAttribute, sor: bool) -> FieldSource {
        FieldSource {
            entry: EntryId::new(),
            entry_name: name.into(),
            provider: OrgId::new(),
            provider_name: "厅".into(),
            item_name: "姓名".into(),
            attribute,
            source_of_record: sor,
        }
    }

    #[test]
    fn verdicts_and_order() {
        assert_eq!(FieldCheck::new("x".into(), vec![]).verdict, Verdict::Collect);
        let hidden = FieldCheck::new("x".into(), vec![source("甲", SharingAttribute::NotShared, false)]);
        assert_eq!(hidden.verdict, Verdict::CataloguedNotShared);
        let c = FieldCheck::new(
            "x".into(),
            vec![
                source("甲", SharingAttribute::NotShared, false),
                source("乙", SharingAttribute::Conditional, false),
                source("丙", SharingAttribute::Unconditional, true),
            ],
        );
        assert_eq!(c.verdict, Verdict::ObtainBySharing);
        assert_eq!(c.sources.iter().map(|s| s.entry_name.as_str()).collect::<Vec<_>>(), ["丙", "乙", "甲"]);
    }

    #[test]
    fn designation_input_names_the_field() {
        let ok = DesignationInput {
            subject: "户籍人口".into(),
            items: "姓名、公民身份号码".into(),
            source_org: uuid::Uuid::nil().to_string(),
            entry: String::new(),
            basis: "浙数据〔2026〕3号".into(),
        };
        assert_eq!(ok.parse().unwrap().items, ["姓名", "公民身份号码"]);
        for (input, field) in [
            (DesignationInput { subject: " ".into(), ..ok.clone() }, "subject"),
            (DesignationInput { items: "、".into(), ..ok.clone() }, "items"),
            (DesignationInput { source_org: "公安厅".into(), ..ok.clone() }, "source_org"),
            (DesignationInput { entry: "x".into(), ..ok.clone() }, "entry"),
            (DesignationInput { basis: String::new(), ..ok.clone() }, "basis"),
        ] {
            assert_eq!(input.parse().unwrap_err().field, field);
        }
    }
}
