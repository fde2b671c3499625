//! Aggregation risk (Art. 25 ¶2, R-QC-5: 防范政务数据汇聚、关联引发的泄密风险).
//!
//! ## The rule
//! Before a grant is created or widened, the platform looks at what the requester would then hold across all its
//! running grants. A **joinable identifier** is an item that names a person or organisation uniquely — 身份证件号码,
//! 电话号码, 银行卡号, 电子邮箱, 统一社会信用代码 — returned **as held** (`keep`): a masked value does not join, a
//! hashed one joins only within its own grant (each grant has its own key). A **sensitive attribute** is any other
//! returned item (not `drop`) that is sensitive personal information (生物识别, 医疗健康, 金融账户, 行踪轨迹, 银行卡号),
//! or graded at [`AggregationRule::sensitive_level`] or above, or in a class above the scheme's lowest (重要数据,
//! 核心数据). For each kind of identifier, the sensitive attributes of every grant that also returns that identifier
//! can be joined person by person. The combination is a **risk** when it draws on at least two catalog entries,
//! holds at least [`AggregationRule::threshold`] sensitive attributes, and the grant being made (or widened)
//! contributes to it. Then the provider and the authority see the combination spelled out, and the grant is not
//! usable until the provider's same-level authority acknowledges it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::catalog::{EntryContent, EntryId, GradeScheme, PersonalInfoKind};
use crate::grant::{GrantId, GrantItem, Masking};

/// The configured rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AggregationRule {
    /// Sensitive attributes, joinable through one identifier across at least two entries, from which a warning is
    /// raised.
    pub threshold: usize,
    /// Items graded at this level or above are sensitive attributes.
    pub sensitive_level: u8,
    /// The grading scheme: items of a class above its lowest are sensitive attributes.
    pub scheme: GradeScheme,
}

pub const DEFAULT_THRESHOLD: usize = 3;
pub const DEFAULT_SENSITIVE_LEVEL: u8 = 3;

impl Default for AggregationRule {
    fn default() -> Self {
        AggregationRule {
            threshold: DEFAULT_THRESHOLD,
            sensitive_level: DEFAULT_SENSITIVE_LEVEL,
            scheme: GradeScheme::default(),
        }
    }
}

/// The identifiers that join records of different sources.
pub fn is_joinable_identifier(kind: PersonalInfoKind) -> bool {
    matches!(
        kind,
        PersonalInfoKind::IdNumber
            | PersonalInfoKind::Phone
            | PersonalInfoKind::BankCard
            | PersonalInfoKind::Email
            | PersonalInfoKind::CreditCode
    )
}

/// What one grant (or the grant being made) lets the requester hold.
#[derive(Debug, Clone, Copy)]
pub struct Holding<'a> {
    /// None: the grant being made.
    pub grant: Option<GrantId>,
    pub entry: EntryId,
    pub content: &'a EntryContent,
    pub items: &'a [GrantItem],
}

/// One sensitive attribute in a combination.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldAttribute {
    pub entry: EntryId,
    pub entry_name: String,
    /// None: the grant being made.
    pub grant: Option<GrantId>,
    pub item: String,
    pub item_name: String,
    /// Why it is sensitive, in words.
    pub why: String,
}

/// A warning: the identifier that joins, the attributes it joins, and the authority's acknowledgement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AggregationWarning {
    pub identifier: PersonalInfoKind,
    pub combination: Vec<HeldAttribute>,
    pub threshold: usize,
    pub found_at: DateTime<Utc>,
    /// The number of the grant's events when it was found (its duty's key).
    #[serde(default)]
    pub opened_by: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledged: Option<Acknowledgement>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acknowledgement {
    pub at: DateTime<Utc>,
    pub actor: String,
    /// The authority's measures or opinion.
    pub note: String,
}

impl AggregationWarning {
    /// The combination in one sentence.
    pub fn summary(&self) -> String {
        let mut entries: Vec<&str> = self.combination.iter().map(|a| a.entry_name.as_str()).collect();
        entries.dedup();
        let items: Vec<String> =
            self.combination.iter().map(|a| format!("{}·{}（{}）", a.entry_name, a.item_name, a.why)).collect();
        format!(
            "需求部门可通过「{}」关联 {} 个目录的 {} 项敏感数据：{}",
            self.identifier.label(),
            entries.len(),
            self.combination.len(),
            items.join("、")
        )
    }
}

fn why_sensitive(content: &EntryContent, item: &GrantItem, rule: &AggregationRule) -> Option<String> {
    if item.masking == Masking::Drop {
        return None;
    }
    let data = content.items.iter().find(|i| i.code == item.code)?;
    if let Some(kind) = data.personal_info {
        if is_joinable_identifier(kind) && kind != PersonalInfoKind::BankCard {
            return None;
        }
        if kind.is_sensitive() {
            return Some(format!("敏感个人信息：{}", kind.label()));
        }
    }
    let lowest = rule.scheme.classes.last().map(String::as_str);
    if Some(data.grade.class.as_str()) != lowest && !rule.scheme.classes.is_empty() {
        return Some(data.grade.class.clone());
    }
    (data.grade.level >= rule.sensitive_level).then(|| format!("{} 级数据", data.grade.level))
}

fn identifiers(h: &Holding<'_>) -> Vec<PersonalInfoKind> {
    let mut out: Vec<PersonalInfoKind> = h
        .items
        .iter()
        .filter(|i| i.masking == Masking::Keep)
        .filter_map(|i| h.content.items.iter().find(|d| d.code == i.code).and_then(|d| d.personal_info))
        .filter(|k| is_joinable_identifier(*k))
        .collect();
    out.dedup();
    out
}

/// The risk the grant being made (the holding with `grant: None`) adds, if any: for the first identifier kind (in
/// the catalog's order) under which the rule fires, the combination it joins.
pub fn assess(holdings: &[Holding<'_>], rule: &AggregationRule, now: DateTime<Utc>) -> Option<AggregationWarning> {
    let candidate = holdings.iter().find(|h| h.grant.is_none())?;
    for kind in identifiers(candidate) {
        let mut combination = Vec::new();
        for h in holdings.iter().filter(|h| identifiers(h).contains(&kind)) {
            for item in h.items {
                if let Some(why) = why_sensitive(h.content, item, rule) {
                    let name = h.content.items.iter().find(|d| d.code == item.code).map(|d| d.name.clone());
                    combination.push(HeldAttribute {
                        entry: h.entry,
                        entry_name: h.content.name.clone(),
                        grant: h.grant,
                        item: item.code.clone(),
                        item_name: name.unwrap_or_else(|| item.code.clone()),
                        why,
                    });
                }
            }
        }
        let mut entries: Vec<EntryId> = combination.iter().map(|a| a.entry).collect();
        entries.sort();
        entries.dedup();
        let contributes = combination.iter().any(|a| a.grant.is_none());
        if entries.len() >= 2 && combination.len() >= rule.threshold.max(1) && contributes {
            return Some(AggregationWarning {
                identifier: kind,
                combination,
                threshold: rule.threshold,
                found_at: now,
                opened_by: 0,
                acknowledged: None,
            });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{DataItem, DataType, DeliveryMethod, Grade, SharingTerms};

    fn item(code: &str, kind: Option<PersonalInfoKind>, class: &str, level: u8) -> DataItem {
        DataItem {
            name: code.to_uppercase(),
            code: code.into(),
            data_type: DataType::String,
            length: Some(50),
            grade: Grade { class: class.into(), level },
            personal_info: kind,
            format: None,
        }
    }

    fn entry(name: &str, items: Vec<DataItem>) -> EntryContent {
        EntryContent {
            name: name.into(),
            resource_code: "330000-X-0001".into(),
            summary: "s".into(),
            format: crate::catalog::DataFormat::Database,
            items,
            update_frequency: crate::catalog::UpdateFrequency::Monthly,
            sharing: SharingTerms::Unconditional,
            delivery_methods: [DeliveryMethod::ServiceApi].into_iter().collect(),
            usage_conditions: String::new(),
            grade: Grade { class: "一般数据".into(), level: 2 },
            open_to_public: false,
            related_codes: vec![],
        }
    }

    fn keep(codes: &[&str]) -> Vec<GrantItem> {
        codes.iter().map(|c| GrantItem { code: (*c).into(), masking: Masking::Keep }).collect()
    }

    #[test]
    fn joining_sensitive_data_of_two_sources_through_an_id_number_warns() {
        use PersonalInfoKind::*;
        let rule = AggregationRule::default();
        let now = Utc::now();
        let health = entry(
            "门诊就诊记录",
            vec![item("sfzh", Some(IdNumber), "一般数据", 3), item("zd", Some(Health), "一般数据", 3)],
        );
        let assist = entry(
            "低保对象",
            vec![
                item("sfzh", Some(IdNumber), "一般数据", 3),
                item("je", Some(Financial), "一般数据", 2),
                item("qk", None, "重要数据", 2),
                item("bz", None, "一般数据", 1),
            ],
        );
        let (e1, e2) = (EntryId::new(), EntryId::new());
        let held = keep(&["sfzh", "zd"]);
        let asked = keep(&["sfzh", "je", "qk", "bz"]);
        let existing = Holding { grant: Some(GrantId::new()), entry: e1, content: &health, items: &held };
        let candidate = Holding { grant: None, entry: e2, content: &assist, items: &asked };
        let w = assess(&[existing, candidate], &rule, now).expect("three sensitive attributes of two entries");
        assert_eq!(w.identifier, IdNumber);
        let items: Vec<&str> = w.combination.iter().map(|a| a.item.as_str()).collect();
        assert_eq!(items, ["zd", "je", "qk"], "the identifier and the level-1 item are not sensitive attributes");
        assert!(w.summary().contains("关联 2 个目录的 3 项敏感数据"), "{}", w.summary());

        // Cases that must not fire: one source only; the identifier masked or hashed; below the threshold.
        assert!(assess(&[candidate], &rule, now).is_none(), "one entry joins nothing new");
        let hashed: Vec<GrantItem> = vec![
            GrantItem { code: "sfzh".into(), masking: Masking::Hash },
            GrantItem { code: "je".into(), masking: Masking::Keep },
        ];
        let hashed_candidate = Holding { items: &hashed, ..candidate };
        assert!(
            assess(&[existing, hashed_candidate], &rule, now).is_none(),
            "a hashed identifier joins only its grant"
        );
        let few = keep(&["sfzh", "bz"]);
        assert!(assess(&[existing, Holding { items: &few, ..candidate }], &rule, now).is_none(), "below the threshold");
        let strict = AggregationRule { threshold: 2, ..rule.clone() };
        assert!(
            assess(&[existing, Holding { items: &few, ..candidate }], &strict, now).is_none(),
            "the candidate adds nothing sensitive"
        );
        let loose = AggregationRule { threshold: 10, ..rule };
        assert!(assess(&[existing, candidate], &loose, now).is_none(), "the threshold is configurable");
    }
}
