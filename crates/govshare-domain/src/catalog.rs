//! The government data catalog (R-CAT-1..4; Art. 12–17): entries, their data items, the three sharing
//! attributes with their rules, and the lifecycle from draft to publication.

use std::collections::BTreeSet;
use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::ValidationError;
use crate::error::{keep, required_text};
use crate::id::define_id;

macro_rules! coded_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => ($code:literal, $label:literal)),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn code(self) -> &'static str {
                match self { $($name::$variant => $code),+ }
            }

            pub fn label(self) -> &'static str {
                match self { $($name::$variant => $label),+ }
            }

            /// Accepts the English code or the Chinese label (as typed into an Excel template).
            pub fn parse(field: impl Into<std::borrow::Cow<'static, str>>, input: &str) -> Result<Self, ValidationError> {
                let input = input.trim();
                Self::ALL.iter().copied().find(|v| v.code() == input || v.label() == input).ok_or_else(|| {
                    let allowed: Vec<&str> = Self::ALL.iter().map(|v| v.label()).collect();
                    ValidationError::new(field, "unknown_value", format!("「{input}」不是有效取值，可选：{}", allowed.join("、")))
                })
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.code())
            }
        }
    };
}

coded_enum!(
    /// 共享属性 (Art. 14).
    SharingAttribute {
        Unconditional => ("unconditional", "无条件共享"),
        Conditional => ("conditional", "有条件共享"),
        NotShared => ("not_shared", "不予共享"),
    }
);

coded_enum!(
    /// 共享方式 (Art. 22).
    DeliveryMethod {
        ServiceApi => ("service_api", "服务接口"),
        BulkExchange => ("bulk_exchange", "批量交换"),
        FileDownload => ("file_download", "文件下载"),
    }
);

coded_enum!(
    /// 更新频率.
    UpdateFrequency {
        Realtime => ("realtime", "实时"),
        Daily => ("daily", "每日"),
        Weekly => ("weekly", "每周"),
        Monthly => ("monthly", "每月"),
        Quarterly => ("quarterly", "每季度"),
        HalfYearly => ("half_yearly", "每半年"),
        Yearly => ("yearly", "每年"),
        Irregular => ("irregular", "不定期"),
    }
);

coded_enum!(
    /// 数据格式, after the catalog-compilation guide's resource formats.
    DataFormat {
        Database => ("database", "数据库"),
        Spreadsheet => ("spreadsheet", "电子表格"),
        Document => ("document", "电子文件"),
        Image => ("image", "图形图像"),
        Media => ("media", "流媒体"),
        SelfDescribing => ("self_describing", "自描述格式"),
    }
);

coded_enum!(
    /// 数据项类型.
    DataType {
        String => ("string", "字符型"),
        Integer => ("integer", "整数型"),
        Decimal => ("decimal", "数值型"),
        Date => ("date", "日期型"),
        DateTime => ("datetime", "日期时间型"),
        Boolean => ("boolean", "布尔型"),
        Binary => ("binary", "二进制"),
    }
);

coded_enum!(
    /// Kinds of personal information a data item can hold; the data plane masks by these.
    PersonalInfoKind {
        Name => ("name", "姓名"),
        IdNumber => ("id_number", "身份证件号码"),
        Phone => ("phone", "电话号码"),
        Address => ("address", "地址"),
        BankCard => ("bank_card", "银行卡号"),
        CreditCode => ("credit_code", "统一社会信用代码"),
        Email => ("email", "电子邮箱"),
        Biometric => ("biometric", "生物识别信息"),
        Health => ("health", "医疗健康信息"),
        Financial => ("financial", "金融账户信息"),
        Location => ("location", "行踪轨迹"),
        Other => ("other", "其他个人信息"),
    }
);

coded_enum!(
    /// The format a data item's values must have (checked on every load and correction) and the pattern `mask`
    /// shows them in. Independent of personal information: an enterprise's credit code has a format and is not
    /// personal information; a person's address is personal information and has no checked format.
    ValueFormat {
        IdNumber => ("id_number", "居民身份证号码"),
        CreditCode => ("credit_code", "统一社会信用代码"),
        Phone => ("phone", "电话号码"),
        Email => ("email", "电子邮箱"),
        BankCard => ("bank_card", "银行卡号"),
    }
);

impl PersonalInfoKind {
    /// The format items of this kind had before formats were declared on their own: entries written then keep
    /// their checks.
    pub fn implied_format(self) -> Option<ValueFormat> {
        match self {
            PersonalInfoKind::IdNumber => Some(ValueFormat::IdNumber),
            PersonalInfoKind::CreditCode => Some(ValueFormat::CreditCode),
            PersonalInfoKind::Phone => Some(ValueFormat::Phone),
            PersonalInfoKind::Email => Some(ValueFormat::Email),
            PersonalInfoKind::BankCard => Some(ValueFormat::BankCard),
            _ => None,
        }
    }

    /// Sensitive personal information in the sense of PIPL Art. 28.
    pub fn is_sensitive(self) -> bool {
        matches!(
            self,
            PersonalInfoKind::IdNumber
                | PersonalInfoKind::BankCard
                | PersonalInfoKind::Biometric
                | PersonalInfoKind::Health
                | PersonalInfoKind::Financial
                | PersonalInfoKind::Location
        )
    }
}

/// A classification and grade (数据分类分级), e.g. 一般数据 · 2 级.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Grade {
    pub class: String,
    pub level: u8,
}

impl fmt::Display for Grade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} · {} 级", self.class, self.level)
    }
}

/// The configurable classification scheme: the classes from most to least protected, and the levels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GradeScheme {
    pub classes: Vec<String>,
    pub max_level: u8,
}

impl Default for GradeScheme {
    /// The default of the national data-classification rules: 核心数据 / 重要数据 / 一般数据, levels 1–4.
    fn default() -> Self {
        GradeScheme { classes: vec!["核心数据".into(), "重要数据".into(), "一般数据".into()], max_level: 4 }
    }
}

impl GradeScheme {
    pub fn parse(
        &self,
        field: impl Into<std::borrow::Cow<'static, str>>,
        class: &str,
        level: u8,
    ) -> Result<Grade, ValidationError> {
        let class = class.trim();
        if !self.classes.iter().any(|c| c == class) {
            return Err(ValidationError::new(
                field,
                "unknown_class",
                format!("数据分类「{class}」不在分类分级方案中，可选：{}", self.classes.join("、")),
            ));
        }
        if !(1..=self.max_level).contains(&level) {
            return Err(ValidationError::new(
                field,
                "level_range",
                format!("数据级别应为 1–{} 级，收到 {level}", self.max_level),
            ));
        }
        Ok(Grade { class: class.to_owned(), level })
    }

    /// How protected a grade is: a more protected class outranks any level of a less protected one, and within a
    /// class a higher level is more protected.
    pub fn rank(&self, grade: &Grade) -> (usize, u8) {
        let class_rank = self.classes.iter().position(|c| *c == grade.class).map_or(0, |p| self.classes.len() - p);
        (class_rank, grade.level)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataItem {
    pub name: String,
    /// Identifier used in data and APIs: letters, digits and underscores, starting with a letter.
    pub code: String,
    pub data_type: DataType,
    pub length: Option<u32>,
    pub grade: Grade,
    pub personal_info: Option<PersonalInfoKind>,
    /// The values' format, when declared (entries written before formats existed have none: see
    /// [`DataItem::value_format`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<ValueFormat>,
}

impl DataItem {
    /// The format the values are checked against and masked by: the declared one, else the one the item's kind
    /// of personal information implied.
    pub fn value_format(&self) -> Option<ValueFormat> {
        self.format.or_else(|| self.personal_info.and_then(PersonalInfoKind::implied_format))
    }
}

/// The sharing attribute with what each kind must state (Art. 15).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "attribute", rename_all = "snake_case")]
pub enum SharingTerms {
    Unconditional,
    /// 共享范围 and 使用用途 are required.
    Conditional {
        scope: String,
        purposes: Vec<String>,
    },
    /// 理由 and the law / administrative regulation / State Council decision that forbids sharing are required.
    NotShared {
        reason: String,
        legal_basis: String,
    },
}

impl SharingTerms {
    pub fn attribute(&self) -> SharingAttribute {
        match self {
            SharingTerms::Unconditional => SharingAttribute::Unconditional,
            SharingTerms::Conditional { .. } => SharingAttribute::Conditional,
            SharingTerms::NotShared { .. } => SharingAttribute::NotShared,
        }
    }
}

/// What a catalog entry says (R-CAT-1). Field names follow 政务信息资源目录编制指南.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryContent {
    pub name: String,
    pub resource_code: String,
    pub summary: String,
    pub format: DataFormat,
    pub items: Vec<DataItem>,
    pub update_frequency: UpdateFrequency,
    pub sharing: SharingTerms,
    pub delivery_methods: BTreeSet<DeliveryMethod>,
    pub usage_conditions: String,
    pub grade: Grade,
    pub open_to_public: bool,
    pub related_codes: Vec<String>,
}

/// Unparsed input for an entry, as a form, the API or an Excel row provides it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct EntryInput {
    pub name: String,
    pub resource_code: String,
    pub summary: String,
    pub format: String,
    pub items: Vec<DataItemInput>,
    pub update_frequency: String,
    pub sharing_attribute: String,
    #[serde(default)]
    pub sharing_scope: String,
    #[serde(default)]
    pub permitted_purposes: Vec<String>,
    #[serde(default)]
    pub not_shared_reason: String,
    #[serde(default)]
    pub legal_basis: String,
    #[serde(default)]
    pub delivery_methods: Vec<String>,
    #[serde(default)]
    pub usage_conditions: String,
    pub grade_class: String,
    pub grade_level: u8,
    #[serde(default)]
    pub open_to_public: bool,
    #[serde(default)]
    pub related_codes: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DataItemInput {
    pub name: String,
    pub code: String,
    pub data_type: String,
    #[serde(default)]
    pub length: Option<u32>,
    pub grade_class: String,
    pub grade_level: u8,
    #[serde(default)]
    pub personal_info: Option<String>,
    /// `id_number`, `credit_code`, `phone`, `email`, `bank_card` (or the Chinese label); empty for none.
    #[serde(default)]
    pub format: Option<String>,
}

fn item_field(index: usize, field: &str) -> String {
    format!("items[{index}].{field}")
}

/// The longest reason a head or the authority may give for sending an entry back, in characters.
pub const MAX_RETURN_REASON: usize = 1000;

pub const MAX_ITEMS: usize = 500;

/// Resource codes: upper-case letters, digits, `-` and `/`, 4–64 characters (e.g. `330000-GAT-0001`).
fn parse_resource_code(field: &'static str, input: &str) -> Result<String, ValidationError> {
    let code = input.trim().to_ascii_uppercase();
    let ok_chars = code.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-' || c == '/');
    if !(4..=64).contains(&code.len()) || !ok_chars {
        return Err(ValidationError::new(
            field,
            "format",
            format!("资源代码「{}」格式错误：应为 4–64 位大写字母、数字、- 或 /", input.trim()),
        ));
    }
    Ok(code)
}

fn parse_item_code(field: String, input: &str) -> Result<String, ValidationError> {
    let code = input.trim().to_ascii_lowercase();
    let valid = code.len() <= 64
        && code.starts_with(|c: char| c.is_ascii_lowercase())
        && code.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !valid {
        return Err(ValidationError::new(
            field,
            "format",
            format!("数据项代码「{}」格式错误：应以字母开头，只含字母、数字和下划线，最长 64 位", input.trim()),
        ));
    }
    Ok(code)
}

impl EntryContent {
    /// The input that parses back to this content (for editing, Excel export, revisions through the API).
    pub fn to_input(&self) -> EntryInput {
        let (scope, purposes, reason, legal_basis) = match &self.sharing {
            SharingTerms::Unconditional => Default::default(),
            SharingTerms::Conditional { scope, purposes } => {
                (scope.clone(), purposes.clone(), String::new(), String::new())
            }
            SharingTerms::NotShared { reason, legal_basis } => {
                (String::new(), Vec::new(), reason.clone(), legal_basis.clone())
            }
        };
        EntryInput {
            name: self.name.clone(),
            resource_code: self.resource_code.clone(),
            summary: self.summary.clone(),
            format: self.format.code().to_owned(),
            items: self
                .items
                .iter()
                .map(|i| DataItemInput {
                    name: i.name.clone(),
                    code: i.code.clone(),
                    data_type: i.data_type.code().to_owned(),
                    length: i.length,
                    grade_class: i.grade.class.clone(),
                    grade_level: i.grade.level,
                    personal_info: i.personal_info.map(|p| p.code().to_owned()),
                    format: i.format.map(|f| f.code().to_owned()),
                })
                .collect(),
            update_frequency: self.update_frequency.code().to_owned(),
            sharing_attribute: self.sharing.attribute().code().to_owned(),
            sharing_scope: scope,
            permitted_purposes: purposes,
            not_shared_reason: reason,
            legal_basis,
            delivery_methods: self.delivery_methods.iter().map(|m| m.code().to_owned()).collect(),
            usage_conditions: self.usage_conditions.clone(),
            grade_class: self.grade.class.clone(),
            grade_level: self.grade.level,
            open_to_public: self.open_to_public,
            related_codes: self.related_codes.clone(),
        }
    }

    /// Parses and checks an entry against every rule of R-CAT-1/2, naming the first field at fault.
    pub fn parse(input: &EntryInput, scheme: &GradeScheme) -> Result<Self, ValidationError> {
        Self::parse_all(input, scheme).map_err(|mut problems| problems.swap_remove(0))
    }

    /// As [`EntryContent::parse`], but reports every field at fault (at least one), in the order of the form, so
    /// that a form can show them all at once.
    pub fn parse_all(input: &EntryInput, scheme: &GradeScheme) -> Result<Self, Vec<ValidationError>> {
        let mut problems = Vec::new();
        let name = keep(&mut problems, required_text("name", "目录名称", &input.name, 100));
        let resource_code = keep(&mut problems, parse_resource_code("resource_code", &input.resource_code));
        let summary = keep(&mut problems, required_text("summary", "摘要", &input.summary, 2000));
        let format = keep(&mut problems, DataFormat::parse("format", &input.format));
        let update_frequency = keep(&mut problems, UpdateFrequency::parse("update_frequency", &input.update_frequency));
        let grade = keep(&mut problems, scheme.parse("grade", &input.grade_class, input.grade_level));

        if input.items.is_empty() {
            problems.push(ValidationError::new("items", "required", "目录至少应包含一个数据项"));
        }
        if input.items.len() > MAX_ITEMS {
            problems.push(ValidationError::new("items", "too_many", format!("一个目录最多 {MAX_ITEMS} 个数据项")));
        }
        let mut items = Vec::with_capacity(input.items.len());
        let mut codes = BTreeSet::new();
        for (i, raw) in input.items.iter().enumerate().take(MAX_ITEMS) {
            let n = i + 1;
            let name = keep(
                &mut problems,
                required_text(item_field(i, "name"), &format!("第 {n} 个数据项的名称"), &raw.name, 100),
            );
            let code = keep(&mut problems, parse_item_code(item_field(i, "code"), &raw.code));
            let data_type = keep(&mut problems, DataType::parse(item_field(i, "data_type"), &raw.data_type));
            let item_grade =
                keep(&mut problems, scheme.parse(item_field(i, "grade"), &raw.grade_class, raw.grade_level));
            let personal_info = match raw.personal_info.as_deref().map(str::trim) {
                None | Some("") => Some(None),
                Some(kind) => {
                    keep(&mut problems, PersonalInfoKind::parse(item_field(i, "personal_info"), kind)).map(Some)
                }
            };
            let format = match raw.format.as_deref().map(str::trim) {
                None | Some("") => Some(None),
                Some(f) => keep(&mut problems, ValueFormat::parse(item_field(i, "format"), f)).map(Some),
            };
            let label = name.clone().unwrap_or_else(|| format!("第 {n} 个"));
            if let (Some(Some(f)), Some(t)) = (format, data_type)
                && t != DataType::String
            {
                problems.push(ValidationError::new(
                    item_field(i, "format"),
                    "needs_string",
                    format!("数据项「{label}」声明了格式（{}），数据类型应为字符型", f.label()),
                ));
            }
            if let Some(code) = &code
                && !codes.insert(code.clone())
            {
                problems.push(ValidationError::new(
                    item_field(i, "code"),
                    "duplicate",
                    format!("数据项代码「{code}」重复"),
                ));
            }
            if raw.length == Some(0) || raw.length.is_some_and(|l| l > 1_000_000) {
                problems.push(ValidationError::new(
                    item_field(i, "length"),
                    "range",
                    format!("数据项「{label}」的长度应在 1–1000000 之间"),
                ));
            } else if data_type == Some(DataType::String) && raw.length.is_none() {
                problems.push(ValidationError::new(
                    item_field(i, "length"),
                    "required",
                    format!("字符型数据项「{label}」必须填写长度"),
                ));
            }
            if let (Some(item_grade), Some(grade)) = (&item_grade, &grade)
                && scheme.rank(item_grade) > scheme.rank(grade)
            {
                problems.push(ValidationError::new(
                    item_field(i, "grade"),
                    "above_entry",
                    format!("数据项「{label}」的分级（{item_grade}）高于目录的分级（{grade}），请提高目录分级"),
                ));
            }
            if let (Some(name), Some(code), Some(data_type), Some(grade), Some(personal_info), Some(format)) =
                (name, code, data_type, item_grade, personal_info, format)
            {
                items.push(DataItem { name, code, data_type, length: raw.length, grade, personal_info, format });
            }
        }

        let attribute = keep(&mut problems, SharingAttribute::parse("sharing_attribute", &input.sharing_attribute));
        let sharing = match attribute {
            None => None,
            Some(SharingAttribute::Unconditional) => Some(SharingTerms::Unconditional),
            Some(SharingAttribute::Conditional) => {
                let scope = input.sharing_scope.trim();
                let purposes: Vec<String> =
                    input.permitted_purposes.iter().map(|p| p.trim().to_owned()).filter(|p| !p.is_empty()).collect();
                if scope.is_empty() {
                    problems.push(ValidationError::new(
                        "sharing_scope",
                        "required_for_conditional",
                        "有条件共享的目录必须列明共享范围（第十五条）",
                    ));
                }
                if purposes.is_empty() {
                    problems.push(ValidationError::new(
                        "permitted_purposes",
                        "required_for_conditional",
                        "有条件共享的目录必须列明使用用途（第十五条）",
                    ));
                }
                let scope = if scope.is_empty() {
                    None
                } else {
                    keep(&mut problems, required_text("sharing_scope", "共享范围", scope, 500))
                };
                scope.filter(|_| !purposes.is_empty()).map(|scope| SharingTerms::Conditional { scope, purposes })
            }
            Some(SharingAttribute::NotShared) => {
                let reason = if input.not_shared_reason.trim().is_empty() {
                    problems.push(ValidationError::new(
                        "not_shared_reason",
                        "required_for_not_shared",
                        "不予共享的目录必须列明理由（第十五条）",
                    ));
                    None
                } else {
                    keep(
                        &mut problems,
                        required_text("not_shared_reason", "不予共享理由", &input.not_shared_reason, 1000),
                    )
                };
                let legal_basis = if input.legal_basis.trim().is_empty() {
                    problems.push(ValidationError::new(
                        "legal_basis",
                        "required_for_not_shared",
                        "不予共享的目录必须明确法律、行政法规或国务院决定依据（第十五条）",
                    ));
                    None
                } else {
                    keep(&mut problems, required_text("legal_basis", "不予共享依据", &input.legal_basis, 500))
                };
                reason.zip(legal_basis).map(|(reason, legal_basis)| SharingTerms::NotShared { reason, legal_basis })
            }
        };

        let mut delivery_methods = BTreeSet::new();
        for m in &input.delivery_methods {
            if let Some(m) = keep(&mut problems, DeliveryMethod::parse("delivery_methods", m)) {
                delivery_methods.insert(m);
            }
        }
        match attribute {
            Some(SharingAttribute::NotShared) if !delivery_methods.is_empty() => {
                problems.push(ValidationError::new(
                    "delivery_methods",
                    "not_for_not_shared",
                    "不予共享的目录不应设置共享方式",
                ));
            }
            Some(SharingAttribute::Unconditional | SharingAttribute::Conditional) if delivery_methods.is_empty() => {
                problems.push(ValidationError::new(
                    "delivery_methods",
                    "required",
                    "可共享的目录至少应提供一种共享方式",
                ));
            }
            _ => {}
        }
        let mut related_codes = Vec::new();
        for c in input.related_codes.iter().filter(|c| !c.trim().is_empty()) {
            if let Some(c) = keep(&mut problems, parse_resource_code("related_codes", c)) {
                related_codes.push(c);
            }
        }
        if resource_code.as_ref().is_some_and(|code| related_codes.contains(code)) {
            problems.push(ValidationError::new("related_codes", "self_reference", "关联目录不能是本目录自身"));
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        match (name, resource_code, summary, format, update_frequency, sharing, grade) {
            (
                Some(name),
                Some(resource_code),
                Some(summary),
                Some(format),
                Some(update_frequency),
                Some(sharing),
                Some(grade),
            ) => Ok(EntryContent {
                name,
                resource_code,
                summary,
                format,
                items,
                update_frequency,
                sharing,
                delivery_methods,
                usage_conditions: input.usage_conditions.trim().to_owned(),
                grade,
                open_to_public: input.open_to_public,
                related_codes,
            }),
            _ => Err(vec![ValidationError::new("entry", "invalid", "目录内容不完整")]),
        }
    }

    pub fn has_personal_info(&self) -> bool {
        self.items.iter().any(|i| i.personal_info.is_some())
    }
}

coded_enum!(
    /// The assessments Art. 13 requires before a catalog is approved.
    AssessmentKind {
        Confidentiality => ("confidentiality", "保密风险评估"),
        PersonalInfoImpact => ("personal_info_impact", "个人信息保护影响评估"),
    }
);

coded_enum!(
    AssessmentConclusion {
        Pass => ("pass", "通过"),
        PassWithMeasures => ("pass_with_measures", "采取措施后通过"),
        Fail => ("fail", "不通过"),
    }
);

define_id! {
    /// Identity of an assessment attached to a version of an entry.
    pub struct AssessmentId, field "assessment_id", message "评估标识格式错误"
}

define_id! {
    /// Identity of an uploaded assessment report file.
    pub struct ReportId, field "report_id", message "评估报告文件标识格式错误"
}

/// Largest assessment report file (the console's uploads are bounded at 12 MiB as a whole).
pub const MAX_REPORT_BYTES: usize = 10 * 1024 * 1024;

/// The assessment report itself, a PDF, as uploaded: the file is stored apart, this says what it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssessmentReport {
    pub id: ReportId,
    pub file_name: String,
    pub size: u64,
    /// SM3 digest of the file, hex: what the stored file must still be when it is handed out.
    pub sm3: String,
    pub uploaded_at: DateTime<Utc>,
    /// Who uploaded it, by name.
    pub uploaded_by: String,
}

/// The SM3 digest of a file, hex.
pub fn file_sm3(bytes: &[u8]) -> String {
    use sm3::Digest as _;
    hex::encode(sm3::Sm3::digest(bytes))
}

impl AssessmentReport {
    /// Checks an uploaded report and describes it: not empty, at most [`MAX_REPORT_BYTES`], and a PDF by its
    /// content (it starts with `%PDF-`), whatever its name says. Errors name the field `report`.
    pub fn parse(
        file_name: &str,
        bytes: &[u8],
        uploaded_at: DateTime<Utc>,
        uploaded_by: &str,
    ) -> Result<AssessmentReport, ValidationError> {
        if bytes.is_empty() {
            return Err(ValidationError::new("report", "required", "请选择评估报告文件（PDF）"));
        }
        if bytes.len() > MAX_REPORT_BYTES {
            return Err(ValidationError::new(
                "report",
                "too_large",
                format!(
                    "评估报告文件不能超过 {} MB（该文件 {:.1} MB）",
                    MAX_REPORT_BYTES / (1024 * 1024),
                    bytes.len() as f64 / (1024.0 * 1024.0)
                ),
            ));
        }
        if !bytes.starts_with(b"%PDF-") {
            return Err(ValidationError::new(
                "report",
                "not_pdf",
                "评估报告应为 PDF 文件：该文件的内容不是 PDF，请上传评估报告的 PDF 版本",
            ));
        }
        // The name as the person knows it: the last part of a path some browsers send, without characters no
        // text may hold, at most 200 characters.
        let base = file_name.rsplit(['/', '\\']).next().unwrap_or_default();
        let clean: String = base
            .chars()
            .filter(|c| !c.is_control() && crate::error::check_characters("report", &c.to_string()).is_ok())
            .take(200)
            .collect();
        let clean = clean.trim();
        Ok(AssessmentReport {
            id: ReportId::new(),
            file_name: if clean.is_empty() { "评估报告.pdf".to_owned() } else { clean.to_owned() },
            size: bytes.len() as u64,
            sm3: file_sm3(bytes),
            uploaded_at,
            uploaded_by: uploaded_by.to_owned(),
        })
    }

    /// The size in words, e.g. 「1.2 MB」 or 「35 KB」.
    pub fn size_text(&self) -> String {
        if self.size >= 1024 * 1024 {
            format!("{:.1} MB", self.size as f64 / (1024.0 * 1024.0))
        } else {
            format!("{} KB", self.size.div_ceil(1024))
        }
    }
}

/// An assessment attached to a draft: a document with its date and conclusion, and the report file once uploaded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "StoredAssessment")]
pub struct Assessment {
    pub id: AssessmentId,
    pub kind: AssessmentKind,
    pub document_title: String,
    pub document_ref: String,
    pub assessed_on: NaiveDate,
    pub conclusion: AssessmentConclusion,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<AssessmentReport>,
}

/// An assessment as stored. Assessments attached before they had identities are stored without one; they get
/// one derived from what they say (SM3 of their fields), so that the same assessment has the same identity on
/// every read. Two such assessments can only share an identity if they say exactly the same thing.
#[derive(Deserialize)]
struct StoredAssessment {
    #[serde(default)]
    id: Option<AssessmentId>,
    kind: AssessmentKind,
    document_title: String,
    document_ref: String,
    assessed_on: NaiveDate,
    conclusion: AssessmentConclusion,
    #[serde(default)]
    report: Option<AssessmentReport>,
}

impl From<StoredAssessment> for Assessment {
    fn from(a: StoredAssessment) -> Self {
        let id = a.id.unwrap_or_else(|| {
            use sm3::Digest as _;
            let mut hasher = sm3::Sm3::new();
            for field in
                [a.kind.code(), &a.document_title, &a.document_ref, &a.assessed_on.to_string(), a.conclusion.code()]
            {
                hasher.update((field.len() as u64).to_be_bytes());
                hasher.update(field.as_bytes());
            }
            let digest = hasher.finalize();
            let mut bytes = [0u8; 16];
            bytes.copy_from_slice(&digest[..16]);
            AssessmentId(uuid::Builder::from_custom_bytes(bytes).into_uuid())
        });
        Assessment {
            id,
            kind: a.kind,
            document_title: a.document_title,
            document_ref: a.document_ref,
            assessed_on: a.assessed_on,
            conclusion: a.conclusion,
            report: a.report,
        }
    }
}

coded_enum!(
    /// Where a version of an entry stands (R-CAT-3).
    EntryStatus {
        Draft => ("draft", "草稿"),
        AwaitingHead => ("awaiting_head", "待负责人审核"),
        SubmittedToAuthority => ("submitted", "已报送主管部门"),
        Published => ("published", "已发布"),
        Returned => ("returned", "已退回"),
        Superseded => ("superseded", "已被新版本替代"),
    }
);

/// What someone does to a version of an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryCommand {
    Edit,
    /// The clerk asks the work-unit head to approve.
    SubmitToHead,
    HeadApprove,
    HeadReject {
        reason: String,
    },
    /// The authority publishes.
    Publish,
    /// The authority returns it with reasons.
    Return {
        reasons: String,
    },
    /// A newer version was published.
    Supersede,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransitionError {
    pub from: EntryStatus,
    pub message: String,
}

impl fmt::Display for TransitionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for TransitionError {}

/// Assessments the content requires before it can go to the head: always the confidentiality assessment, and the
/// personal-information impact assessment when any item holds personal information.
pub fn required_assessments(content: &EntryContent) -> BTreeSet<AssessmentKind> {
    let mut kinds = BTreeSet::from([AssessmentKind::Confidentiality]);
    if content.has_personal_info() {
        kinds.insert(AssessmentKind::PersonalInfoImpact);
    }
    kinds
}

/// The lifecycle state machine: the status after `command`, or why it cannot happen now.
pub fn transition(
    from: EntryStatus,
    command: &EntryCommand,
    content: &EntryContent,
    assessments: &[Assessment],
) -> Result<EntryStatus, TransitionError> {
    use EntryCommand as C;
    use EntryStatus as S;
    let refuse = |message: String| Err(TransitionError { from, message });
    match (from, command) {
        (S::Draft | S::Returned, C::Edit) => Ok(S::Draft),
        (S::Draft | S::Returned, C::SubmitToHead) => {
            for kind in required_assessments(content) {
                match assessments.iter().filter(|a| a.kind == kind).max_by_key(|a| a.assessed_on) {
                    None => return refuse(format!("报送前须附{}（第十三条）", kind.label())),
                    Some(a) if a.conclusion == AssessmentConclusion::Fail => {
                        return refuse(format!("{}结论为「不通过」，不能报送", kind.label()));
                    }
                    Some(_) => {}
                }
            }
            Ok(S::AwaitingHead)
        }
        (S::AwaitingHead, C::HeadApprove) => Ok(S::SubmittedToAuthority),
        (S::AwaitingHead, C::HeadReject { reason }) | (S::SubmittedToAuthority, C::Return { reasons: reason }) => {
            if reason.trim().is_empty() {
                refuse("退回必须说明理由".into())
            } else if reason.trim().chars().count() > MAX_RETURN_REASON {
                refuse(format!("退回理由最多 {MAX_RETURN_REASON} 个字符"))
            } else if from == S::AwaitingHead {
                Ok(S::Draft)
            } else {
                Ok(S::Returned)
            }
        }
        (S::SubmittedToAuthority, C::Publish) => Ok(S::Published),
        (S::Published, C::Supersede) => Ok(S::Superseded),
        (from, command) => {
            refuse(format!("目录处于「{}」状态，不能执行该操作（{}）", from.label(), command_label(command)))
        }
    }
}

fn command_label(command: &EntryCommand) -> &'static str {
    match command {
        EntryCommand::Edit => "编辑",
        EntryCommand::SubmitToHead => "提交负责人审核",
        EntryCommand::HeadApprove => "负责人同意",
        EntryCommand::HeadReject { .. } => "负责人退回",
        EntryCommand::Publish => "审核发布",
        EntryCommand::Return { .. } => "主管部门退回",
        EntryCommand::Supersede => "被新版本替代",
    }
}

/// A published or in-progress version of an entry, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryVersion {
    pub version: u32,
    pub status: EntryStatus,
    pub content: EntryContent,
    pub assessments: Vec<Assessment>,
    pub updated_at: DateTime<Utc>,
}

#[cfg(test)]
pub(crate) mod tests {
    use proptest::prelude::*;

    use super::*;

    pub(crate) fn item(code: &str, pi: Option<&str>) -> DataItemInput {
        DataItemInput {
            name: format!("项{code}"),
            code: code.into(),
            data_type: "字符型".into(),
            length: Some(18),
            grade_class: "一般数据".into(),
            grade_level: 2,
            personal_info: pi.map(str::to_owned),
            format: None,
        }
    }

    pub(crate) fn input(attribute: &str) -> EntryInput {
        EntryInput {
            name: "居民户籍信息".into(),
            resource_code: "330000-GAT-0001".into(),
            summary: "全省常住人口户籍登记信息".into(),
            format: "数据库".into(),
            items: vec![item("name", Some("姓名")), item("id_number", Some("id_number"))],
            update_frequency: "每日".into(),
            sharing_attribute: attribute.into(),
            delivery_methods: vec!["服务接口".into()],
            grade_class: "一般数据".into(),
            grade_level: 3,
            ..Default::default()
        }
    }

    fn parse(input: &EntryInput) -> Result<EntryContent, ValidationError> {
        EntryContent::parse(input, &GradeScheme::default())
    }

    #[test]
    fn unconditional_entry_parses() {
        let entry = parse(&input("无条件共享")).unwrap();
        assert_eq!(entry.sharing.attribute(), SharingAttribute::Unconditional);
        assert!(entry.has_personal_info());
        assert_eq!(entry.items[1].personal_info, Some(PersonalInfoKind::IdNumber));
    }

    #[test]
    fn conditional_needs_scope_and_purposes() {
        let mut i = input("有条件共享");
        assert_eq!(parse(&i).unwrap_err().field, "sharing_scope");
        i.sharing_scope = "全省公安、民政部门".into();
        let err = parse(&i).unwrap_err();
        assert_eq!((err.field.as_ref(), err.rule), ("permitted_purposes", "required_for_conditional"));
        i.permitted_purposes = vec!["  ".into()];
        assert_eq!(parse(&i).unwrap_err().field, "permitted_purposes");
        i.permitted_purposes = vec!["社会救助资格核查".into()];
        assert!(matches!(parse(&i).unwrap().sharing, SharingTerms::Conditional { .. }));
    }

    #[test]
    fn not_shared_needs_reason_and_legal_basis_and_no_delivery() {
        let mut i = input("不予共享");
        i.delivery_methods.clear();
        assert_eq!(parse(&i).unwrap_err().field, "not_shared_reason");
        i.not_shared_reason = "涉及侦查工作秘密".into();
        let err = parse(&i).unwrap_err();
        assert_eq!((err.field.as_ref(), err.rule), ("legal_basis", "required_for_not_shared"));
        assert!(err.message.contains("法律、行政法规或国务院决定"));
        i.legal_basis = "《中华人民共和国刑事诉讼法》第一百五十二条".into();
        assert!(parse(&i).is_ok());
        i.delivery_methods = vec!["文件下载".into()];
        assert_eq!(parse(&i).unwrap_err().rule, "not_for_not_shared");
    }

    #[test]
    fn item_rules() {
        let mut i = input("无条件共享");
        i.items.push(item("name", None));
        let err = parse(&i).unwrap_err();
        assert_eq!((err.field.as_ref(), err.rule), ("items[2].code", "duplicate"));
        let mut i = input("无条件共享");
        i.items[0].grade_class = "重要数据".into();
        assert_eq!(parse(&i).unwrap_err().rule, "above_entry");
        let mut i = input("无条件共享");
        i.items[1].length = None;
        assert_eq!(parse(&i).unwrap_err().field, "items[1].length");
        let mut i = input("无条件共享");
        i.items[0].personal_info = Some("星座".into());
        assert_eq!(parse(&i).unwrap_err().rule, "unknown_value");
        let mut i = input("无条件共享");
        i.items.clear();
        assert_eq!(parse(&i).unwrap_err().field, "items");
        let mut i = input("无条件共享");
        i.grade_level = 5;
        assert_eq!(parse(&i).unwrap_err().rule, "level_range");
        let mut i = input("无条件共享");
        i.delivery_methods.clear();
        assert_eq!(parse(&i).unwrap_err().field, "delivery_methods");
        let mut i = input("无条件共享");
        i.resource_code = "gat 1".into();
        assert_eq!(parse(&i).unwrap_err().field, "resource_code");
    }

    fn assessment(kind: AssessmentKind, conclusion: AssessmentConclusion) -> Assessment {
        Assessment {
            id: AssessmentId::new(),
            kind,
            document_title: "评估报告".into(),
            document_ref: "浙公评〔2026〕1号".into(),
            assessed_on: NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
            conclusion,
            report: None,
        }
    }

    #[test]
    fn lifecycle_happy_path_and_assessments() {
        let content = parse(&input("无条件共享")).unwrap();
        let conf = assessment(AssessmentKind::Confidentiality, AssessmentConclusion::Pass);
        let pi = assessment(AssessmentKind::PersonalInfoImpact, AssessmentConclusion::PassWithMeasures);
        let err = transition(EntryStatus::Draft, &EntryCommand::SubmitToHead, &content, std::slice::from_ref(&conf))
            .unwrap_err();
        assert!(err.message.contains("个人信息保护影响评估"));
        let failing = assessment(AssessmentKind::PersonalInfoImpact, AssessmentConclusion::Fail);
        assert!(
            transition(EntryStatus::Draft, &EntryCommand::SubmitToHead, &content, &[conf.clone(), failing]).is_err()
        );
        let all = [conf, pi];
        let s = transition(EntryStatus::Draft, &EntryCommand::SubmitToHead, &content, &all).unwrap();
        assert_eq!(s, EntryStatus::AwaitingHead);
        let s = transition(s, &EntryCommand::HeadApprove, &content, &all).unwrap();
        assert_eq!(s, EntryStatus::SubmittedToAuthority);
        assert!(transition(s, &EntryCommand::Return { reasons: " ".into() }, &content, &all).is_err());
        assert_eq!(
            transition(s, &EntryCommand::Return { reasons: "数据项定义不清".into() }, &content, &all),
            Ok(EntryStatus::Returned)
        );
        assert_eq!(transition(s, &EntryCommand::Publish, &content, &all), Ok(EntryStatus::Published));
    }

    fn command() -> impl Strategy<Value = EntryCommand> {
        prop_oneof![
            Just(EntryCommand::Edit),
            Just(EntryCommand::SubmitToHead),
            Just(EntryCommand::HeadApprove),
            prop_oneof![Just(String::new()), Just("理由".to_owned())]
                .prop_map(|reason| EntryCommand::HeadReject { reason }),
            Just(EntryCommand::Publish),
            prop_oneof![Just(String::new()), Just("理由".to_owned())]
                .prop_map(|reasons| EntryCommand::Return { reasons }),
            Just(EntryCommand::Supersede),
        ]
    }

    proptest! {
        /// Whatever happens, an entry is published only by the authority after the head approved it, and once
        /// superseded nothing moves it again.
        #[test]
        fn only_head_approved_versions_are_published(commands in prop::collection::vec(command(), 0..30), with_assessments: bool) {
            let content = parse(&input("无条件共享")).unwrap();
            let assessments = if with_assessments {
                vec![assessment(AssessmentKind::Confidentiality, AssessmentConclusion::Pass),
                     assessment(AssessmentKind::PersonalInfoImpact, AssessmentConclusion::Pass)]
            } else { vec![] };
            let mut status = EntryStatus::Draft;
            let mut head_approved = false;
            for c in &commands {
                let before = status;
                match transition(status, c, &content, &assessments) {
                    Ok(next) => {
                        if next == EntryStatus::Published {
                            prop_assert!(head_approved && before == EntryStatus::SubmittedToAuthority);
                        }
                        if next == EntryStatus::AwaitingHead {
                            prop_assert!(with_assessments, "no submission without assessments");
                        }
                        if *c == EntryCommand::HeadApprove { head_approved = true; }
                        if matches!(next, EntryStatus::Draft | EntryStatus::Returned) { head_approved = false; }
                        status = next;
                    }
                    Err(e) => {
                        prop_assert_eq!(e.from, before);
                        prop_assert!(!e.message.is_empty());
                    }
                }
                if before == EntryStatus::Superseded {
                    prop_assert_eq!(status, EntryStatus::Superseded);
                }
            }
        }
    }
}

define_id! {
    /// Identity of a catalog entry across its versions.
    pub struct EntryId, field "entry_id", message "目录标识格式错误"
}

/// One step in an entry's life, for its timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryEvent {
    pub version: u32,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub actor_name: String,
    /// Stable code, e.g. `draft.create`, `head.approve`, `authority.publish`.
    pub action: String,
    pub note: String,
}

/// A catalog entry: one resource of a provider department, with every version it has had.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogEntry {
    pub id: EntryId,
    pub provider: crate::org::OrgId,
    pub created_at: DateTime<Utc>,
    /// Ascending by version number.
    pub versions: Vec<EntryVersion>,
    pub events: Vec<EntryEvent>,
}

impl CatalogEntry {
    pub fn published(&self) -> Option<&EntryVersion> {
        self.versions.iter().rev().find(|v| v.status == EntryStatus::Published)
    }

    /// The version being worked on (not yet published, not superseded), if any.
    pub fn working(&self) -> Option<&EntryVersion> {
        self.versions.last().filter(|v| !matches!(v.status, EntryStatus::Published | EntryStatus::Superseded))
    }

    pub fn latest(&self) -> &EntryVersion {
        self.versions.last().expect("an entry has at least one version")
    }

    pub fn version(&self, n: u32) -> Option<&EntryVersion> {
        self.versions.iter().find(|v| v.version == n)
    }

    /// The working version with the assessment `id` taken off, and the assessment removed; or why not. Only an
    /// editable draft (a draft, or returned) loses an assessment; one of a submitted or published version stays.
    /// `Ok(None)` when no version has such an assessment.
    pub fn without_assessment(&self, id: AssessmentId) -> Result<Option<(EntryVersion, Assessment)>, TransitionError> {
        Ok(self.in_draft(id, "移除")?.map(|(mut version, at)| {
            let removed = version.assessments.remove(at);
            (version, removed)
        }))
    }

    /// The working version with `report` as the assessment `id`'s report file, and the report it replaces; or
    /// why not (the same rule as removing: only an editable draft's assessments change). `Ok(None)`: no version
    /// has such an assessment.
    #[allow(clippy::type_complexity)]
    pub fn with_report(
        &self,
        id: AssessmentId,
        report: AssessmentReport,
    ) -> Result<Option<(EntryVersion, Option<AssessmentReport>)>, TransitionError> {
        Ok(self.in_draft(id, "上传报告")?.map(|(mut version, at)| {
            let replaced = version.assessments[at].report.replace(report);
            (version, replaced)
        }))
    }

    /// A copy of the editable working version and the assessment's position in it, or why it may not change.
    fn in_draft(&self, id: AssessmentId, doing: &str) -> Result<Option<(EntryVersion, usize)>, TransitionError> {
        let editable = self.working().filter(|v| matches!(v.status, EntryStatus::Draft | EntryStatus::Returned));
        if let Some(working) = editable
            && let Some(at) = working.assessments.iter().position(|a| a.id == id)
        {
            return Ok(Some((working.clone(), at)));
        }
        let Some(holder) = self.versions.iter().find(|v| v.assessments.iter().any(|a| a.id == id)) else {
            return Ok(None);
        };
        Err(TransitionError {
            from: holder.status,
            message: format!(
                "该评估属于「{}」的第 {} 版，不能{doing}（只能修改草稿或被退回的目录的评估）",
                holder.status.label(),
                holder.version
            ),
        })
    }

    /// Whether the entry may be deleted, or why not. Only an entry that never left its drafter may go: one
    /// version, a draft, never submitted. Once the head or the authority has had it, it is part of the record
    /// (its timeline, the duties and notices it caused) and stays.
    pub fn check_deletable(&self) -> Result<(), TransitionError> {
        let from = self.latest().status;
        let refuse = |message: String| Err(TransitionError { from, message });
        const ONLY: &str = "只能删除从未提交审核的草稿";
        if self.versions.iter().any(|v| matches!(v.status, EntryStatus::Published | EntryStatus::Superseded)) {
            return refuse(format!("已发布的目录不能删除（{ONLY}）"));
        }
        if from != EntryStatus::Draft {
            return refuse(format!("目录处于「{}」状态，不能删除（{ONLY}）", from.label()));
        }
        if self.versions.len() > 1 || self.events.iter().any(|e| e.action == "draft.submit") {
            return refuse(format!("目录曾提交审核，已有办理记录，不能删除（{ONLY}）"));
        }
        Ok(())
    }
}

/// One field that differs between two versions, in words for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldChange {
    pub field: String,
    pub before: String,
    pub after: String,
}

fn item_text(i: &DataItem) -> String {
    let length = i.length.map(|l| format!("({l})")).unwrap_or_default();
    let pi = i.personal_info.map(|p| format!(",{}", p.label())).unwrap_or_default();
    format!("{} [{}] {}{}，{}{}", i.name, i.code, i.data_type.label(), length, i.grade, pi)
}

fn sharing_text(s: &SharingTerms) -> String {
    match s {
        SharingTerms::Unconditional => "无条件共享".into(),
        SharingTerms::Conditional { scope, purposes } => {
            format!("有条件共享；范围：{scope}；用途：{}", purposes.join("、"))
        }
        SharingTerms::NotShared { reason, legal_basis } => format!("不予共享；理由：{reason}；依据：{legal_basis}"),
    }
}

fn methods_text(m: &BTreeSet<DeliveryMethod>) -> String {
    m.iter().map(|d| d.label()).collect::<Vec<_>>().join("、")
}

/// What changed from `before` to `after`, field by field; data items are matched by code.
pub fn diff(before: &EntryContent, after: &EntryContent) -> Vec<FieldChange> {
    let mut changes = Vec::new();
    let mut field = |name: &str, a: String, b: String| {
        if a != b {
            changes.push(FieldChange { field: name.to_owned(), before: a, after: b });
        }
    };
    field("目录名称", before.name.clone(), after.name.clone());
    field("资源代码", before.resource_code.clone(), after.resource_code.clone());
    field("摘要", before.summary.clone(), after.summary.clone());
    field("数据格式", before.format.label().into(), after.format.label().into());
    field("更新频率", before.update_frequency.label().into(), after.update_frequency.label().into());
    field("共享属性", sharing_text(&before.sharing), sharing_text(&after.sharing));
    field("共享方式", methods_text(&before.delivery_methods), methods_text(&after.delivery_methods));
    field("使用条件", before.usage_conditions.clone(), after.usage_conditions.clone());
    field("分类分级", before.grade.to_string(), after.grade.to_string());
    field("向社会开放", before.open_to_public.to_string(), after.open_to_public.to_string());
    field("关联目录", before.related_codes.join("、"), after.related_codes.join("、"));
    for old in &before.items {
        match after.items.iter().find(|n| n.code == old.code) {
            None => field(&format!("数据项 {}", old.code), item_text(old), "（删除）".into()),
            Some(new) => field(&format!("数据项 {}", old.code), item_text(old), item_text(new)),
        }
    }
    for new in after.items.iter().filter(|n| !before.items.iter().any(|o| o.code == n.code)) {
        field(&format!("数据项 {}", new.code), "（新增）".into(), item_text(new));
    }
    changes
}

#[cfg(test)]
mod diff_tests {
    use super::*;

    #[test]
    fn diff_names_changed_added_and_removed_items() {
        let scheme = GradeScheme::default();
        let a = EntryContent::parse(&tests::input("无条件共享"), &scheme).unwrap();
        let mut changed = tests::input("有条件共享");
        changed.sharing_scope = "公安、民政".into();
        changed.permitted_purposes = vec!["救助核查".into()];
        changed.items.remove(0);
        changed.items.push(DataItemInput { code: "address".into(), name: "住址".into(), ..changed.items[0].clone() });
        let b = EntryContent::parse(&changed, &scheme).unwrap();
        let d = diff(&a, &b);
        let fields: Vec<&str> = d.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(fields, ["共享属性", "数据项 name", "数据项 address"]);
        assert_eq!(d[1].after, "（删除）");
        assert_eq!(d[2].before, "（新增）");
        assert!(diff(&a, &a).is_empty());
    }
}

#[cfg(test)]
mod all_problems_tests {
    use super::*;

    /// A form shows every fault at once: `parse_all` reports each field, in the form's order, and `parse` the first.
    #[test]
    fn every_field_at_fault_is_reported_at_once() {
        let scheme = GradeScheme::default();
        let mut input = tests::input("有条件共享");
        input.name = " ".into();
        input.sharing_scope = String::new();
        input.items[0].code = "1bad".into();
        input.items[1].length = Some(0);
        let problems = EntryContent::parse_all(&input, &scheme).unwrap_err();
        let fields: Vec<&str> = problems.iter().map(|p| p.field.as_ref()).collect();
        assert_eq!(
            fields,
            ["name", "items[0].code", "items[1].length", "sharing_scope", "permitted_purposes"],
            "{problems:?}"
        );
        assert_eq!(EntryContent::parse(&input, &scheme).unwrap_err().field, "name");
        assert!(EntryContent::parse_all(&tests::input("无条件共享"), &scheme).is_ok());
    }
}

#[cfg(test)]
mod deletion_tests {
    use super::*;

    fn entry(statuses: &[EntryStatus], actions: &[&str]) -> CatalogEntry {
        let content = EntryContent::parse(&tests::input("无条件共享"), &GradeScheme::default()).unwrap();
        let at = DateTime::from_timestamp(1_790_000_000, 0).unwrap();
        CatalogEntry {
            id: EntryId::new(),
            provider: crate::org::OrgId::new(),
            created_at: at,
            versions: statuses
                .iter()
                .enumerate()
                .map(|(i, status)| EntryVersion {
                    version: i as u32 + 1,
                    status: *status,
                    content: content.clone(),
                    assessments: vec![],
                    updated_at: at,
                })
                .collect(),
            events: actions
                .iter()
                .map(|a| EntryEvent {
                    version: 1,
                    at,
                    actor: "user:gat.clerk".into(),
                    actor_name: "王警官".into(),
                    action: (*a).into(),
                    note: String::new(),
                })
                .collect(),
        }
    }

    /// Only a draft that never left its drafter may be deleted.
    #[test]
    fn only_a_never_submitted_draft_may_be_deleted() {
        use EntryStatus as S;
        assert!(entry(&[S::Draft], &["draft.create", "draft.edit", "assessment.attach"]).check_deletable().is_ok());
        let refused = |e: CatalogEntry| e.check_deletable().unwrap_err().message;
        assert!(refused(entry(&[S::AwaitingHead], &["draft.create", "draft.submit"])).contains("待负责人审核"));
        assert!(refused(entry(&[S::Returned], &["draft.create", "draft.submit", "head.approve"])).contains("已退回"));
        // Sent back by the head, it is a draft again, but the head has seen it.
        let sent_back = entry(&[S::Draft], &["draft.create", "draft.submit", "head.reject"]);
        assert!(refused(sent_back).contains("曾提交审核"));
        assert!(refused(entry(&[S::Published], &["draft.create"])).contains("已发布"));
        // A revision of a published entry is a draft, but the entry is published.
        assert!(refused(entry(&[S::Published, S::Draft], &["draft.create", "revision.create"])).contains("已发布"));
        assert!(refused(entry(&[S::Superseded, S::Published], &["draft.create"])).contains("已发布"));
    }
}

#[cfg(test)]
mod assessment_tests {
    use super::*;

    fn stored(json: &str) -> Assessment {
        serde_json::from_str(json).unwrap()
    }

    /// An assessment stored before assessments had identities reads with the same identity every time, and one
    /// stored with its identity keeps it.
    #[test]
    fn identities_are_kept_or_derived_the_same_way_each_time() {
        let legacy = r#"{"kind":"confidentiality","document_title":"报告","document_ref":"浙评〔2026〕1号","assessed_on":"2026-11-01","conclusion":"pass"}"#;
        assert_eq!(stored(legacy).id, stored(legacy).id);
        let other = legacy.replace("1号", "2号");
        assert_ne!(stored(legacy).id, stored(&other).id, "what it says makes the identity");
        let mut a = stored(legacy);
        a.id = AssessmentId::new();
        assert_eq!(stored(&serde_json::to_string(&a).unwrap()), a, "a round trip keeps everything");
    }

    #[test]
    fn an_assessment_is_removed_only_from_an_editable_draft() {
        let content = EntryContent::parse(&tests::input("无条件共享"), &GradeScheme::default()).unwrap();
        let at = DateTime::from_timestamp(1_790_000_000, 0).unwrap();
        let assessment = |n: &str| Assessment {
            id: AssessmentId::new(),
            kind: AssessmentKind::Confidentiality,
            document_title: format!("报告{n}"),
            document_ref: format!("浙评〔2026〕{n}号"),
            assessed_on: NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
            conclusion: AssessmentConclusion::Pass,
            report: None,
        };
        let (a, b, old) = (assessment("1"), assessment("2"), assessment("0"));
        let version = |n: u32, status: EntryStatus, assessments: Vec<Assessment>| EntryVersion {
            version: n,
            status,
            content: content.clone(),
            assessments,
            updated_at: at,
        };
        let mut entry = CatalogEntry {
            id: EntryId::new(),
            provider: crate::org::OrgId::new(),
            created_at: at,
            versions: vec![
                version(1, EntryStatus::Published, vec![old.clone()]),
                version(2, EntryStatus::Draft, vec![a.clone(), b.clone()]),
            ],
            events: vec![],
        };
        let (left, removed) = entry.without_assessment(a.id).unwrap().unwrap();
        assert_eq!((left.version, left.assessments, removed), (2, vec![b.clone()], a.clone()));
        assert!(entry.without_assessment(AssessmentId::new()).unwrap().is_none(), "no such assessment");
        let refused = entry.without_assessment(old.id).unwrap_err();
        assert!(refused.message.contains("「已发布」的第 1 版，不能移除"), "{}", refused.message);
        entry.versions[1].status = EntryStatus::Returned;
        assert!(entry.without_assessment(b.id).unwrap().is_some(), "a returned draft is editable");
        for status in [EntryStatus::AwaitingHead, EntryStatus::SubmittedToAuthority] {
            entry.versions[1].status = status;
            assert!(entry.without_assessment(b.id).unwrap_err().message.contains(status.label()));
        }
    }
}

#[cfg(test)]
mod report_tests {
    use super::*;

    fn at() -> DateTime<Utc> {
        DateTime::from_timestamp(1_790_000_000, 0).unwrap()
    }

    #[test]
    fn a_report_is_a_pdf_by_its_content_and_bounded() {
        let pdf = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n%%EOF\n";
        let r = AssessmentReport::parse("C:\\报告\\保密风险评估报告.pdf", pdf, at(), "王警官").unwrap();
        assert_eq!((r.file_name.as_str(), r.size), ("保密风险评估报告.pdf", pdf.len() as u64));
        assert_eq!(r.sm3, file_sm3(pdf));
        assert_eq!(r.sm3.len(), 64);
        let refused = |name: &str, bytes: &[u8]| AssessmentReport::parse(name, bytes, at(), "王警官").unwrap_err();
        let e = refused("报告.pdf", b"PK\x03\x04 a zip renamed to .pdf");
        assert_eq!((e.field.as_ref(), e.rule), ("report", "not_pdf"));
        assert!(e.message.contains("不是 PDF"));
        assert_eq!(refused("报告.pdf", b"").rule, "required");
        let mut big = b"%PDF-1.4\n".to_vec();
        big.resize(MAX_REPORT_BYTES + 1, b' ');
        let e = refused("大.pdf", &big);
        assert_eq!((e.field.as_ref(), e.rule), ("report", "too_large"));
        assert!(e.message.contains("10 MB"), "{}", e.message);
        big.truncate(MAX_REPORT_BYTES);
        assert!(AssessmentReport::parse("大.pdf", &big, at(), "王警官").is_ok(), "the limit itself is fine");
        let odd = AssessmentReport::parse("\u{202e}fdp.exe\u{7}", pdf, at(), "王警官").unwrap();
        assert_eq!(odd.file_name, "fdp.exe", "no control or direction characters");
        assert_eq!(AssessmentReport::parse("  ", pdf, at(), "王警官").unwrap().file_name, "评估报告.pdf");
        assert_eq!(r.size_text(), "1 KB");
    }

    #[test]
    fn a_format_is_declared_apart_from_personal_information_and_needs_a_string_item() {
        let scheme = GradeScheme::default();
        let mut raw = tests::input("无条件共享");
        raw.items.push(DataItemInput { format: Some("credit_code".into()), ..tests::item("tyshxydm", None) });
        raw.items.push(DataItemInput { format: Some("统一社会信用代码".into()), ..tests::item("qydm", None) });
        let content = EntryContent::parse(&raw, &scheme).unwrap();
        let declared = content.items.iter().find(|i| i.code == "tyshxydm").unwrap();
        assert_eq!((declared.format, declared.personal_info), (Some(ValueFormat::CreditCode), None));
        assert!(!content.items.iter().filter(|i| i.format.is_some()).any(|i| i.personal_info.is_some()));
        assert_eq!(content.items.iter().find(|i| i.code == "qydm").unwrap().format, Some(ValueFormat::CreditCode));
        // The round trip keeps it.
        assert_eq!(EntryContent::parse(&content.to_input(), &scheme).unwrap(), content);

        let mut raw = tests::input("无条件共享");
        let n = raw.items.len();
        raw.items.push(DataItemInput { format: Some("credit_card".into()), ..tests::item("x1", None) });
        raw.items.push(DataItemInput {
            data_type: "整数型".into(),
            format: Some("phone".into()),
            ..tests::item("x2", None)
        });
        let problems = EntryContent::parse_all(&raw, &scheme).unwrap_err();
        let found: Vec<(String, &str)> = problems.iter().map(|p| (p.field.to_string(), p.rule)).collect();
        assert!(found.contains(&(format!("items[{n}].format"), "unknown_value")), "{found:?}");
        assert!(found.contains(&(format!("items[{}].format", n + 1), "needs_string")), "{found:?}");
    }
}
