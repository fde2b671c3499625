//! Public complaints and reports (Art. 37 ¶2, R-QC-3: 公民、法人和其他组织有权对政务数据共享过程中侵犯其合法权益的行为
//! 进行投诉、举报，接到投诉、举报的政府部门应当按照规定及时处理).
//!
//! Anyone files one without an account: which department, what happened, how to reach them for the answer. The
//! filing is answered with a tracking code ([`TrackingCode`]: 80 random bits, not guessable) and a receipt; the
//! case goes to the department named, or to the authority when the complainant cannot tell, and is a duty with a
//! handling period in working days. The handler accepts it (or declines it with reasons), may transfer it to the
//! department actually concerned, notes its work, and answers. The status page shows the public steps and the
//! answer: never the notes, the handlers' names, or anyone's personal data. The complainant's name and contact
//! are sealed with the node key and shown only to those handling the case.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::ValidationError;
use crate::attachment::AttachmentRef;
use crate::error::{keep, required_text, ymd};
use crate::id::define_id;
use crate::org::OrgId;
use crate::region::RegionCode;

define_id! {
    /// Identity of a public complaint or report.
    pub struct ComplaintId, field "complaint_id", message "投诉标识格式错误"
}

/// The default handling period in working days (configurable: `[sharing] complaint_days`).
pub const COMPLAINT_DAYS: u32 = 15;
pub const MAX_COMPLAINT_TEXT: usize = 3000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ComplaintKind {
    /// 投诉: one's own rights were infringed.
    Complaint,
    /// 举报: a report of a wrong seen.
    Report,
}

impl ComplaintKind {
    pub fn label(self) -> &'static str {
        match self {
            ComplaintKind::Complaint => "投诉",
            ComplaintKind::Report => "举报",
        }
    }

    pub fn parse(input: &str) -> Result<ComplaintKind, ValidationError> {
        match input.trim() {
            "complaint" | "投诉" => Ok(ComplaintKind::Complaint),
            "report" | "举报" => Ok(ComplaintKind::Report),
            other => Err(ValidationError::new(
                "kind",
                if other.is_empty() { "required" } else { "unknown_value" },
                "请选择类型：complaint（投诉）或 report（举报）",
            )),
        }
    }
}

/// A tracking code: 16 Crockford base-32 characters in groups of four (80 random bits). People read it aloud and
/// type it back; `0/O`, `1/I/L`, case, spaces and dashes are forgiven.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackingCode(String);

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

impl TrackingCode {
    pub fn from_random(bytes: [u8; 10]) -> TrackingCode {
        let mut bits: u128 = 0;
        for b in bytes {
            bits = (bits << 8) | b as u128;
        }
        let chars: Vec<u8> = (0..16).rev().map(|i| CROCKFORD[((bits >> (i * 5)) & 31) as usize]).collect();
        TrackingCode(String::from_utf8(chars).expect("ASCII"))
    }

    pub fn parse(input: &str) -> Result<TrackingCode, ValidationError> {
        let mut out = String::new();
        for c in input.trim().chars().filter(|c| !matches!(c, '-' | ' ' | '　')) {
            let c = match c.to_ascii_uppercase() {
                'O' => '0',
                'I' | 'L' => '1',
                c => c,
            };
            if !c.is_ascii() || !CROCKFORD.contains(&(c as u8)) || out.len() >= 16 {
                return Err(ValidationError::new("tracking_code", "format", "查询码格式错误：应为 16 位字母和数字"));
            }
            out.push(c);
        }
        if out.len() != 16 {
            return Err(ValidationError::new("tracking_code", "format", "查询码格式错误：应为 16 位字母和数字"));
        }
        Ok(TrackingCode(out))
    }

    /// The canonical 16 characters (what the store's digest is taken of).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `ABCD-EFGH-JKMN-PQRS`, as printed on the receipt.
    pub fn display(&self) -> String {
        self.0.as_bytes().chunks(4).map(|c| std::str::from_utf8(c).expect("ASCII")).collect::<Vec<_>>().join("-")
    }
}

/// What the complainant says about themselves, sealed with the node key at rest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Complainant {
    pub name: String,
    pub contact: String,
}

/// A step of the handling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ComplaintStep {
    /// Filed by the public (the first step).
    File,
    Accept,
    /// Not accepted, with reasons (not about data sharing, not this platform's matter …): closes the case.
    Decline,
    /// Handed to the department actually concerned (or to the authority).
    Transfer,
    /// An internal note of the work done: never shown to the public.
    Note,
    /// The answer to the complainant: closes the case.
    Answer,
}

impl ComplaintStep {
    pub fn code(self) -> &'static str {
        match self {
            ComplaintStep::File => "file",
            ComplaintStep::Accept => "accept",
            ComplaintStep::Decline => "decline",
            ComplaintStep::Transfer => "transfer",
            ComplaintStep::Note => "note",
            ComplaintStep::Answer => "answer",
        }
    }

    /// What the public status page says of it (`None`: not shown).
    pub fn public_label(self) -> Option<&'static str> {
        match self {
            ComplaintStep::File => Some("已收到"),
            ComplaintStep::Accept => Some("已受理，正在办理"),
            ComplaintStep::Decline => Some("不予受理"),
            ComplaintStep::Transfer => Some("已转有关部门办理"),
            ComplaintStep::Note => None,
            ComplaintStep::Answer => Some("已办结"),
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            ComplaintStep::File => "提交",
            ComplaintStep::Accept => "受理",
            ComplaintStep::Decline => "不予受理",
            ComplaintStep::Transfer => "转办",
            ComplaintStep::Note => "办理记录（内部）",
            ComplaintStep::Answer => "答复办结",
        }
    }

    pub fn parse(input: &str) -> Result<ComplaintStep, ValidationError> {
        [
            ComplaintStep::Accept,
            ComplaintStep::Decline,
            ComplaintStep::Transfer,
            ComplaintStep::Note,
            ComplaintStep::Answer,
        ]
        .into_iter()
        .find(|s| s.code() == input.trim())
        .ok_or_else(|| {
            ValidationError::new("step", "unknown_value", "可选步骤：accept、decline、transfer、note、answer")
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComplaintEvent {
    pub at: DateTime<Utc>,
    /// `公众` for the filing; the handler's audit name otherwise.
    pub actor: String,
    pub step: ComplaintStep,
    pub text: String,
    /// A transfer's new handler.
    #[serde(default)]
    pub to: Option<OrgId>,
}

/// Where a case stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ComplaintState {
    Received,
    Handling,
    Closed,
}

impl ComplaintState {
    pub fn label(self) -> &'static str {
        match self {
            ComplaintState::Received => "待受理",
            ComplaintState::Handling => "办理中",
            ComplaintState::Closed => "已办结",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Complaint {
    pub id: ComplaintId,
    /// `TS-2026-000001` (投诉编号, for the handlers), given by the store on insert.
    #[serde(default)]
    pub number: String,
    /// SM3 of the tracking code keyed with the node key: the store never holds the code itself.
    pub tracking_digest: String,
    pub kind: ComplaintKind,
    /// The department the complainant named, if any.
    pub concerned: Option<OrgId>,
    /// Who handles it now, and its region (whose authority sees the case).
    pub handler: OrgId,
    pub region: RegionCode,
    pub title: String,
    pub description: String,
    pub happened_on: Option<NaiveDate>,
    /// [`Complainant`] as JSON, SM4-sealed with the node key, hex.
    pub sealed: String,
    pub attachment: Option<AttachmentRef>,
    pub received_at: DateTime<Utc>,
    /// The handling period in working days, fixed at filing.
    pub days: u32,
    pub events: Vec<ComplaintEvent>,
}

impl Complaint {
    pub fn state(&self) -> ComplaintState {
        let mut state = ComplaintState::Received;
        for e in &self.events {
            state = match e.step {
                ComplaintStep::File | ComplaintStep::Transfer => ComplaintState::Received,
                ComplaintStep::Accept => ComplaintState::Handling,
                ComplaintStep::Note => state,
                ComplaintStep::Decline | ComplaintStep::Answer => ComplaintState::Closed,
            };
        }
        state
    }

    /// Whether `step` may be taken now: accept or decline a received case; note, transfer or answer one being
    /// handled (a transfer also from received); nothing on a closed one.
    pub fn check_step(&self, step: ComplaintStep) -> Result<(), (&'static str, &'static str)> {
        match (self.state(), step) {
            (ComplaintState::Closed, _) => Err(("complaint_closed", "该投诉举报已办结")),
            (ComplaintState::Received, ComplaintStep::Accept | ComplaintStep::Decline | ComplaintStep::Transfer) => {
                Ok(())
            }
            (ComplaintState::Received, _) => Err(("not_accepted", "请先受理（或不予受理、转办）")),
            (ComplaintState::Handling, ComplaintStep::Note | ComplaintStep::Transfer | ComplaintStep::Answer) => Ok(()),
            (ComplaintState::Handling, _) => Err(("already_accepted", "该投诉举报已受理")),
        }
    }

    /// The answer given (or the reasons for declining), once closed.
    pub fn answer(&self) -> Option<&ComplaintEvent> {
        self.events.iter().rev().find(|e| matches!(e.step, ComplaintStep::Answer | ComplaintStep::Decline))
    }
}

/// A filing as entered on the public page.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ComplaintInput {
    pub kind: String,
    /// The department concerned (its id), or empty when the complainant cannot tell.
    pub department: String,
    pub title: String,
    pub description: String,
    pub happened_on: String,
    pub name: String,
    pub contact: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewComplaint {
    pub kind: ComplaintKind,
    pub department: Option<OrgId>,
    pub title: String,
    pub description: String,
    pub happened_on: Option<NaiveDate>,
    pub complainant: Complainant,
}

impl NewComplaint {
    /// Every problem at once; `today` bounds the date it happened.
    pub fn parse(input: &ComplaintInput, today: NaiveDate) -> Result<NewComplaint, Vec<ValidationError>> {
        let mut problems = Vec::new();
        let kind = keep(&mut problems, ComplaintKind::parse(&input.kind));
        let department = match input.department.trim() {
            "" => None,
            raw => keep(&mut problems, raw.parse::<OrgId>().map_err(|e| e.for_field("department"))),
        };
        let title = keep(&mut problems, required_text("title", "标题", &input.title, 100));
        let description =
            keep(&mut problems, required_text("description", "事情经过和诉求", &input.description, MAX_COMPLAINT_TEXT));
        let happened_on = match input.happened_on.trim() {
            "" => Some(None),
            raw => match ymd("happened_on", "发生日期", raw) {
                Ok(d) if d > today => {
                    problems.push(ValidationError::new("happened_on", "in_future", "发生日期不能晚于今天"));
                    None
                }
                other => keep(&mut problems, other).map(Some),
            },
        };
        let name = match input.name.trim() {
            "" => Some(String::new()),
            raw => keep(&mut problems, required_text("name", "姓名或单位名称", raw, 100)),
        };
        let contact = keep(&mut problems, required_text("contact", "联系方式（用于答复）", &input.contact, 200));
        match (kind, title, description, happened_on, name, contact) {
            (Some(kind), Some(title), Some(description), Some(happened_on), Some(name), Some(contact))
                if problems.is_empty() =>
            {
                Ok(NewComplaint {
                    kind,
                    department,
                    title,
                    description,
                    happened_on,
                    complainant: Complainant { name, contact },
                })
            }
            _ => Err(problems),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(steps: &[ComplaintStep]) -> Complaint {
        Complaint {
            id: ComplaintId::new(),
            number: String::new(),
            tracking_digest: String::new(),
            kind: ComplaintKind::Complaint,
            concerned: None,
            handler: OrgId::new(),
            region: RegionCode::parse("330000").unwrap(),
            title: "t".into(),
            description: "d".into(),
            happened_on: None,
            sealed: String::new(),
            attachment: None,
            received_at: Utc::now(),
            days: COMPLAINT_DAYS,
            events: steps
                .iter()
                .map(|s| ComplaintEvent { at: Utc::now(), actor: "x".into(), step: *s, text: "t".into(), to: None })
                .collect(),
        }
    }

    #[test]
    fn the_state_machine_accepts_only_the_next_steps() {
        use ComplaintStep::*;
        let filed = case(&[File]);
        assert_eq!(filed.state(), ComplaintState::Received);
        assert!(
            filed.check_step(Accept).is_ok() && filed.check_step(Decline).is_ok() && filed.check_step(Transfer).is_ok()
        );
        assert_eq!(filed.check_step(Answer).unwrap_err().0, "not_accepted", "no answer before acceptance");
        assert_eq!(filed.check_step(Note).unwrap_err().0, "not_accepted");
        let handling = case(&[File, Accept, Note]);
        assert_eq!(handling.state(), ComplaintState::Handling);
        assert_eq!(handling.check_step(Accept).unwrap_err().0, "already_accepted");
        assert!(handling.check_step(Answer).is_ok() && handling.check_step(Transfer).is_ok());
        let moved = case(&[File, Accept, Transfer]);
        assert_eq!(moved.state(), ComplaintState::Received, "the new handler accepts it again");
        for closed in [case(&[File, Decline]), case(&[File, Accept, Answer])] {
            assert_eq!(closed.state(), ComplaintState::Closed);
            assert!(closed.answer().is_some());
            for s in [Accept, Decline, Transfer, Note, Answer] {
                assert_eq!(closed.check_step(s).unwrap_err().0, "complaint_closed");
            }
        }
        assert_eq!(Note.public_label(), None, "internal notes never reach the status page");
    }

    #[test]
    fn tracking_codes_are_16_characters_read_back_forgivingly() {
        let code = TrackingCode::from_random([0xff, 0, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0]);
        assert_eq!(code.as_str().len(), 16);
        let typed = code.display().to_lowercase().replace('0', "o").replace('1', "l");
        assert_eq!(TrackingCode::parse(&typed).unwrap(), code);
        assert_eq!(TrackingCode::parse(&format!(" {} ", code.display())).unwrap(), code);
        assert!(TrackingCode::parse("ABCD").is_err());
        assert!(TrackingCode::parse("ABCD-EFGH-JKMN-PQRSU").is_err(), "too long");
        assert!(TrackingCode::parse("ABCD-EFGH-JKMN-PQR!").is_err());
        assert_ne!(TrackingCode::from_random([1; 10]), TrackingCode::from_random([2; 10]));
    }

    #[test]
    fn a_filing_names_every_problem() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 3).unwrap();
        let input = ComplaintInput {
            kind: "gripe".into(),
            department: "not-an-id".into(),
            title: "".into(),
            description: "x".into(),
            happened_on: "2027-01-01".into(),
            name: "".into(),
            contact: " ".into(),
        };
        let rules: Vec<(String, &str)> = NewComplaint::parse(&input, today)
            .unwrap_err()
            .into_iter()
            .map(|p| (p.field.to_string(), p.rule))
            .collect();
        assert_eq!(
            rules,
            [
                ("kind", "unknown_value"),
                ("department", "format"),
                ("title", "required"),
                ("happened_on", "in_future"),
                ("contact", "required")
            ]
            .map(|(f, r)| (f.to_owned(), r))
        );
        let ok = ComplaintInput {
            kind: "投诉".into(),
            department: String::new(),
            title: "我的信息被共享给无关单位".into(),
            description: "经过……".into(),
            happened_on: "2026-11-30".into(),
            name: String::new(),
            contact: "13800000000".into(),
        };
        let c = NewComplaint::parse(&ok, today).unwrap();
        assert_eq!(
            (c.kind, c.department, c.complainant.name.as_str()),
            (ComplaintKind::Complaint, None, ""),
            "anonymous is allowed"
        );
    }
}
