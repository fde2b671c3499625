//! What the templates see: the page frame and the view models of each page.

use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;
use govshare_domain::principal::{Actor, Principal};
use govshare_domain::role::Role;
use govshare_service::{OrgChoice, ServiceError};

use super::render;
use crate::error::ApiError;

/// An entry of the side navigation.
#[derive(Debug, Clone)]
pub struct NavItem {
    pub href: &'static str,
    pub label: &'static str,
    pub active: bool,
    /// Workflows that later releases bring; shown so people see where the platform is going, not linked.
    pub planned: bool,
    /// A count shown beside the label (open duties on 首页).
    pub badge: Option<u64>,
}

#[derive(Debug, Clone)]
pub struct NavGroup {
    pub title: &'static str,
    pub items: Vec<NavItem>,
}

#[derive(Debug, Clone)]
pub struct OrgOption {
    pub id: String,
    pub name: String,
    pub selected: bool,
}

/// The frame around every signed-in page.
#[derive(Debug, Clone)]
pub struct Layout {
    pub node_name: String,
    pub title: String,
    pub user_name: String,
    pub username: String,
    pub contractor: bool,
    pub org_name: String,
    pub role_labels: Vec<&'static str>,
    pub orgs: Vec<OrgOption>,
    pub nav: Vec<NavGroup>,
    pub csrf: String,
    pub current_path: String,
    /// Shown on every page while deadlines may be computed without official holiday data (REQUIREMENTS §9).
    pub calendar_warning: Option<String>,
}

/// What a form held, as posted: its fields in order (a group of checkboxes repeats its name). Handlers read the
/// input from it; a page that comes back with problems shows it again.
#[derive(Debug, Clone, Default)]
pub struct Typed(pub Vec<(String, String)>);

impl Typed {
    /// The first value of `field`, or "".
    pub fn value(&self, field: &str) -> &str {
        self.0.iter().find(|(f, _)| f == field).map(|(_, v)| v.as_str()).unwrap_or("")
    }

    pub fn owned(&self, field: &str) -> String {
        self.value(field).to_owned()
    }

    /// Every value of `field` (a checkbox group).
    pub fn values(&self, field: &str) -> Vec<String> {
        self.0.iter().filter(|(f, _)| f == field).map(|(_, v)| v.clone()).collect()
    }

    /// Whether the checkbox `field` with `value` was ticked.
    pub fn ticked(&self, field: &str, value: &str) -> bool {
        self.0.iter().any(|(f, v)| f == field && v == value)
    }

    /// Whether a lone checkbox `field` was ticked (a browser sends `on`).
    pub fn checked(&self, field: &str) -> bool {
        self.0.iter().any(|(f, v)| f == field && matches!(v.as_str(), "on" | "true" | "1"))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A multipart form's text fields, and the file of its `attachment` part when one was chosen (a form sent without
/// choosing a file still has the part, empty and unnamed).
pub async fn read_upload_form(
    mut multipart: axum::extract::Multipart,
) -> Result<(Typed, Option<govshare_service::Upload>), ServiceError> {
    let unreadable = || govshare_domain::ValidationError::new("attachment", "unreadable", "上传内容不完整，请重新提交");
    let mut fields = Vec::new();
    let mut upload = None;
    while let Some(field) = multipart.next_field().await.map_err(|_| unreadable())? {
        let name = field.name().unwrap_or_default().to_owned();
        if name == "attachment" {
            let file_name = field.file_name().unwrap_or_default().to_owned();
            let bytes = field.bytes().await.map_err(|_| unreadable())?;
            if !(bytes.is_empty() && file_name.is_empty()) {
                upload = Some(govshare_service::Upload { name: file_name, data: bytes.to_vec() });
            }
        } else {
            fields.push((name, field.text().await.map_err(|_| unreadable())?));
        }
    }
    Ok((Typed(fields), upload))
}

/// What the page reports about the last action.
#[derive(Debug, Clone, Default)]
pub struct Feedback {
    pub notice: Option<String>,
    pub error: Option<String>,
    /// The field the error is about, so the form can mark it.
    pub error_field: Option<String>,
    /// The HTTP status of the error (a refusal is 403, a conflict 409); 422 for an error without one.
    pub error_status: Option<StatusCode>,
    /// Every field at fault when a form was checked as a whole: (field, message), in the form's order.
    pub problems: Vec<(String, String)>,
}

impl Feedback {
    pub fn notice(code: Option<&str>) -> Self {
        Feedback { notice: code.and_then(notice_text).map(str::to_owned), ..Default::default() }
    }

    pub fn from_error(err: &ServiceError) -> Self {
        // People read the message; the field is marked on the form, the rule's code is for the API.
        if let Some(problems) = err.problems() {
            return Self::from_problems(problems);
        }
        let error = match err {
            ServiceError::Internal(source) => {
                tracing::error!(error = %source, "internal error shown on a console page");
                "服务器内部错误，请稍后重试；如仍出错，请联系平台运维人员".to_owned()
            }
            other => other.to_string(),
        };
        Feedback {
            notice: None,
            error: Some(error),
            error_field: None,
            error_status: Some(crate::error::ApiError::status_of(err)),
            problems: Vec::new(),
        }
    }

    /// The status of the page showing this feedback: 200, or the error's own status, so that a refused action
    /// is a 403 for clients and monitors as it is in the API.
    pub fn status(&self) -> StatusCode {
        match (&self.error, self.error_status) {
            (None, _) => StatusCode::OK,
            (Some(_), Some(status)) => status,
            (Some(_), None) => StatusCode::UNPROCESSABLE_ENTITY,
        }
    }

    /// Every problem of a form at once: the page lists them and marks each field.
    pub fn from_problems(problems: &[govshare_domain::ValidationError]) -> Self {
        let problems: Vec<(String, String)> =
            problems.iter().map(|p| (p.field.to_string(), p.message.to_string())).collect();
        Feedback {
            notice: None,
            error: Some(match problems.len() {
                1 => problems[0].1.clone(),
                n => format!("共有 {n} 处需要修改，已在下方标出："),
            }),
            error_field: problems.first().map(|p| p.0.clone()),
            error_status: Some(StatusCode::UNPROCESSABLE_ENTITY),
            problems: if problems.len() > 1 { problems } else { Vec::new() },
        }
    }

    pub fn field_error(&self, field: &str) -> bool {
        self.error_field.as_deref() == Some(field) || self.problems.iter().any(|(f, _)| f == field)
    }

    /// Whether `field` or one of its parts (`field[2]`, `field.code`) is at fault: a group of controls.
    pub fn any_error(&self, field: &str) -> bool {
        let within = |f: &str| {
            f.strip_prefix(field).is_some_and(|rest| rest.is_empty() || rest.starts_with('[') || rest.starts_with('.'))
        };
        self.error_field.as_deref().is_some_and(within) || self.problems.iter().any(|(f, _)| within(f))
    }

    /// Whether a cell of an item row (`items[index].field`) is at fault.
    pub fn item_error(&self, index: &usize, field: &str) -> bool {
        self.field_error(&format!("items[{index}].{field}"))
    }
}

/// Notices shown after a successful action, by the code in the redirect's `notice` parameter.
fn notice_text(code: &str) -> Option<&'static str> {
    Some(match code {
        "user_created" => "账号已创建，请将初始密码通过安全渠道告知本人",
        "role_granted" => "角色已授予",
        "role_revoked" => "角色已撤销",
        "user_disabled" => "账号已停用，其登录会话已全部失效",
        "user_enabled" => "账号已启用",
        "password_reset" => "密码已重置",
        "password_changed" => "密码已修改",
        "credential_revoked" => "API 凭证已吊销，使用该凭证的调用将立即被拒绝",
        "org_created" => "单位已创建",
        "region_created" => "行政区划已创建",
        "work_unit_updated" => "工作机构信息已更新",
        "org_switched" => "已切换办理单位",
        "entry_saved" => "目录已保存",
        "assessment_attached" => "评估材料已附加",
        "entry_deleted" => "目录草稿已删除",
        "assessment_removed" => "评估材料已从草稿中移除",
        "report_uploaded" => "评估报告已上传",
        "entry_submitted" => "已提交本单位工作机构负责人审核",
        "entry_approved" => "已审核同意，目录已报送同级政务数据共享主管部门",
        "entry_sent_back" => "已退回经办人修改",
        "entry_published" => "目录已审核发布，已通告各政府部门",
        "entry_returned" => "目录已退回提供单位",
        "imported_1" => "目录已全部导入为草稿，请逐条附加评估材料后提交审核",
        "imported_0" => "文件中没有可导入的目录",
        "obligation_recorded" => "已登记目录更新触发，提供单位已收到更新期限通知",
        "extension_requested" => "延期申请已提交同级主管部门",
        "extension_decided" => "延期申请已审批，提供单位已收到通知",
        "source_designated" => "数源部门已认定，已通知该部门",
        "application_drafted" => "申请已保存为草稿",
        "application_submitted" => "申请已提交本单位负责人审核",
        "step_submit" => "已提交本单位负责人审核",
        "step_return" => "已退回经办人修改",
        "step_send" => "申请已提交提供部门，答复期限开始计算",
        "step_withdraw" => "申请已撤回",
        "step_edit" => "申请已修改",
        "step_draft_reply" => "答复意见已提交本单位负责人审核",
        "step_return_reply" => "答复意见已退回经办人",
        "step_approve_reply" => "已答复需求部门",
        "step_supplement" => "补正材料已提交，提供部门重新计算答复期限",
        "step_request_extension" => "延期申请已报同级主管部门",
        "step_decide_extension" => "延期审批结果已通知提供部门",
        "step_record_delivery" => "已登记共享交付，需求部门已收到通知",
        "grant_created" => "共享授权已创建，申请已登记为已共享，需求部门已收到通知",
        "grant_suspend" => "共享授权已暂停，按该授权的调用即刻被拒绝",
        "grant_resume" => "共享授权已恢复",
        "grant_terminate" => "共享授权已终止",
        "grant_rectify" => "已报告整改情况，暂停方审查后将恢复或终止授权",
        "grant_propose_termination" => "已提交终止备案，同级主管部门备案后按生效日期终止",
        "grant_record_filing" => "已备案，提供部门提出的终止或变更将按其生效日期生效",
        "grant_propose_narrowing" => "已提交协商变更，待同级主管部门备案后按生效日期生效",
        "grant_declare_ended" => "已结束使用，授权已终止；请按提供部门的要求处置数据并确认",
        "grant_require_disposal" => "处置要求已告知需求部门",
        "grant_confirm_disposal" => "数据处置已确认，待提供部门确认",
        "grant_acknowledge_disposal" => "已确认需求部门的数据处置",
        "grant_return_disposal" => "处置确认已退回，需求部门应重新处置并确认",
        "incident_reported" => "安全事件已报告：受影响的有效授权已暂停，主管部门已收到通知",
        "incident_progress" => "进展报告已提交，主管部门已收到通知",
        "incident_close" => "安全事件已结案",
        "correction_filed" => {
            "校核申请已提交：该记录在所有共享授权中标注为异议，提供部门应在 10 个工作日内核实、更正并反馈"
        }
        "correction_answered" => "校核结果已反馈，异议标注已解除；更正的值已推送至所有共享授权",
        "correction_corrected" => "数据已更正，并经批量交换推送至所有共享授权",
        "dispute_opened" => "共享争议已提出，请双方协商并记录协商情况",
        "dispute_step" => "已记录，相关单位已收到通知",
        "order_issued" => "已责令改正：被责令单位的工作机构负责人待办中已列入整改事项",
        "order_step" => "已办理，对方单位已收到通知",
        "notice_published" => "通报已发布，本行政区域内各单位已收到",
        "complaint_step" => "已办理；答复或不予受理的理由投诉人凭查询码可见",
        "grant_acknowledge_aggregation" => "已确认数据汇聚风险，该授权可以使用",
        "use_recorded" => "数据使用情况已记录；记录保存不少于 3 年，不可修改或删除，如需更正请再次记录该期间",
        "change_filed" => "变更申请已提出，待本单位工作机构负责人审核发送",
        "change_send" => "变更申请已发送提供部门，提供部门应在 10 个工作日内答复",
        "change_withdraw" => "变更申请已撤回",
        "change_draft_decision" => "变更答复已拟定，待本单位工作机构负责人审核",
        "change_return_decision" => "变更答复已退回经办人",
        "change_decide" => "变更申请已答复；同意的，授权条款已更新",
        "source_bound" => "数据源已绑定",
        "source_loaded" => "数据已加载，加载记录见「数据源」",
        _ => return None,
    })
}

/// Where a workflow stands at one of its steps, for the step indicator (`templates/steps.html`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepState {
    Done,
    /// The step the workflow is at now (highlighted).
    Current,
    Pending,
}

impl StepState {
    /// The CSS class suffix: `step-done`, `step-current`, `step-pending`.
    pub fn code(self) -> &'static str {
        match self {
            StepState::Done => "done",
            StepState::Current => "current",
            StepState::Pending => "pending",
        }
    }

    /// Read out by screen readers before the step's name.
    pub fn label(self) -> &'static str {
        match self {
            StepState::Done => "已完成",
            StepState::Current => "当前环节",
            StepState::Pending => "未开始",
        }
    }
}

/// A workflow's steps in order, the one at `current` highlighted, those before it done. `None`: all done (the
/// workflow has ended past its last step).
pub fn steps(labels: &[&'static str], current: Option<usize>) -> Vec<(&'static str, StepState)> {
    labels
        .iter()
        .enumerate()
        .map(|(i, label)| {
            let state = match current {
                Some(c) if i == c => StepState::Current,
                Some(c) if i > c => StepState::Pending,
                _ => StepState::Done,
            };
            (*label, state)
        })
        .collect()
}

pub fn role_labels(roles: &[Role]) -> Vec<&'static str> {
    roles.iter().map(|r| r.label()).collect()
}

impl Layout {
    /// The breadcrumbs: 工作台 › the navigation group › its section (linked) › this page, from where the page
    /// sits in the navigation. Each is (label, href); the last, this page, has no href.
    pub fn breadcrumbs(&self) -> Vec<(String, String)> {
        let mut crumbs = vec![("工作台".to_owned(), "/console".to_owned())];
        let active = self.nav.iter().find_map(|g| g.items.iter().find(|i| i.active).map(|i| (g.title, i)));
        if let Some((group, item)) = active
            && item.href != "/console"
        {
            if group != "工作台" {
                crumbs.push((group.to_owned(), String::new()));
            }
            if item.label != self.title {
                crumbs.push((item.label.to_owned(), item.href.to_owned()));
            }
        }
        if self.title != "工作台" {
            crumbs.push((self.title.clone(), String::new()));
        }
        crumbs
    }

    pub fn new(
        node_name: &str,
        title: &str,
        current_path: &str,
        principal: &Principal,
        choices: &[OrgChoice],
        csrf: &str,
    ) -> Self {
        let (user_name, username, contractor) = match &principal.actor {
            Actor::User { display_name, username, contractor, .. } => {
                (display_name.clone(), username.to_string(), *contractor)
            }
            other => (principal.display_name(), format!("{other:?}"), false),
        };
        let current = principal.org_id();
        Layout {
            node_name: node_name.to_owned(),
            title: title.to_owned(),
            user_name,
            username,
            contractor,
            org_name: principal.org.as_ref().map(|o| o.name.clone()).unwrap_or_default(),
            role_labels: principal.roles.iter().map(|r| r.label()).collect(),
            orgs: choices
                .iter()
                .map(|c| OrgOption {
                    id: c.org.id.to_string(),
                    name: c.org.name.clone(),
                    selected: Some(c.org.id) == current,
                })
                .collect(),
            nav: navigation(principal, current_path),
            csrf: csrf.to_owned(),
            current_path: current_path.to_owned(),
            calendar_warning: None,
        }
    }
}

/// The banner text when the calendar lacks official data for years that deadlines may reach: everyone is told
/// that deadlines may be off; only the administrator is told the command that fixes it.
pub fn calendar_warning(missing: &[i32], admin: bool) -> Option<String> {
    if missing.is_empty() {
        return None;
    }
    let years: Vec<String> = missing.iter().map(|y| format!("{y} 年")).collect();
    let what = if admin {
        "请尽快在服务器上执行 govshare calendar import 导入该年的安排。"
    } else {
        "请联系平台管理员导入。"
    };
    Some(format!(
        "工作日历缺少 {} 的国务院办公厅节假日安排，涉及该年的期限暂按仅扣除周末计算，可能不准确。{what}",
        years.join("、")
    ))
}

fn navigation(p: &Principal, current: &str) -> Vec<NavGroup> {
    let item = |href: &'static str, label: &'static str| NavItem {
        href,
        label,
        active: current == href,
        planned: false,
        badge: None,
    };
    let admin = p.has_role(Role::PlatformAdmin);
    let staff = admin || p.has_role(Role::WorkUnitHead) || (p.has_role(Role::Clerk) && !p.is_contractor());

    let mut catalog_items = vec![item("/console/catalog", "政务数据目录")];
    if p.has_role(Role::Clerk) || p.has_role(Role::WorkUnitHead) {
        catalog_items.push(item("/console/catalog/mine", "目录编制与报送"));
    }
    if p.has_role(Role::AuthorityReviewer) {
        catalog_items.push(item("/console/catalog/review", "目录审核"));
    }
    catalog_items.push(item("/console/catalog/obligations", "目录更新义务"));
    catalog_items.push(item("/console/catalog/sources", "数源部门与重复采集核对"));
    let mut groups = vec![
        NavGroup {
            title: "工作台", items: vec![item("/console", "首页"), item("/console/notifications", "消息通知")]
        },
        NavGroup { title: "目录管理", items: catalog_items },
        NavGroup {
            title: "共享使用",
            items: [
                // A contractor's engineer drafts catalogs and runs sources; sharing applications are the department's own.
                (!p.is_contractor() || admin).then(|| item("/console/applications", "共享申请与受理")),
                Some(NavItem {
                    href: "/console/grants",
                    label: "共享授权与使用记录",
                    active: current == "/console/grants" || current == "/console/usage",
                    planned: false,
                    badge: None,
                }),
                (!p.is_contractor() || admin).then(|| item("/console/incidents", "安全事件")),
                (!p.is_contractor()).then(|| item("/console/corrections", "数据校核")),
                (!p.is_contractor()).then(|| item("/console/disputes", "共享争议")),
                (!p.is_contractor()).then(|| item("/console/complaints", "投诉举报")),
            ]
            .into_iter()
            .flatten()
            .collect(),
        },
        NavGroup {
            title: "监督管理",
            items: [
                (p.org.as_ref().is_some_and(|o| o.kind == govshare_domain::org::OrgKind::Authority)
                    && (p.has_role(Role::AuthorityReviewer) || p.has_role(Role::AuthoritySupervisor))
                    && !p.is_contractor())
                .then(|| item("/console/supervision", "监督看板")),
                (!p.is_contractor()).then(|| item("/console/supervision/orders", "责令改正")),
                (!p.is_contractor()).then(|| item("/console/supervision/notices", "通报")),
            ]
            .into_iter()
            .flatten()
            .collect(),
        },
    ];
    let mut system = vec![item("/console/org", "本单位信息")];
    if staff {
        system.push(item("/console/users", "人员与角色"));
        system.push(item("/console/credentials", "API 凭证"));
    }
    if admin {
        system.push(item("/console/organisations", "组织机构"));
        system.push(item("/console/federation", "全国体系"));
    }
    if admin || p.has_role(Role::AuthoritySupervisor) {
        system.push(item("/console/audit", "审计日志"));
    }
    system.push(item("/console/account", "本人账号"));
    groups.push(NavGroup { title: "系统管理", items: system });
    groups
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    status: u16,
    title: &'static str,
    message: String,
    error_id: Option<String>,
}

/// What an error page says, kept on its response so that [`super::frame_errors`] can show it again inside the
/// console's frame (navigation, header) when the request came from a signed-in person.
#[derive(Debug, Clone)]
pub struct ErrorShown {
    pub status: StatusCode,
    pub title: &'static str,
    pub message: String,
    pub error_id: Option<String>,
}

impl ErrorShown {
    fn of(err: &ApiError) -> Self {
        let status = err.status_code();
        let detail = err.detail();
        let title = match status {
            StatusCode::FORBIDDEN => "无权办理",
            StatusCode::NOT_FOUND => "页面不存在",
            StatusCode::UNAUTHORIZED => "请先登录",
            StatusCode::CONFLICT => "事项状态已变化",
            s if s.is_server_error() => "系统错误",
            _ => "请求有误",
        };
        ErrorShown { status, title, message: detail.message, error_id: detail.error_id }
    }

    /// What the person can do next, by the kind of error.
    /// What the person can do next; a contractor is told what contractors may do (Art. 36), not to ask for a role.
    pub fn advice(&self, contractor: bool) -> &'static str {
        match self.status {
            StatusCode::FORBIDDEN if contractor => {
                "左侧导航只列出受托方人员可以办理的事项（技术支撑工作）。共享申请、人员与凭证等事项由本单位经办人或工作机构负责人办理。"
            }
            StatusCode::FORBIDDEN => {
                "左侧导航只列出您当前身份可以办理的事项。如需办理此事项，请切换到有权办理的单位，或请本单位工作机构负责人为您授予相应角色。"
            }
            StatusCode::NOT_FOUND => "请从左侧导航或工作台重新进入；如是他人发来的链接，请确认链接完整。",
            StatusCode::CONFLICT => "该事项可能已被他人办理，请返回事项页面刷新后查看最新状态。",
            s if s.is_server_error() => "请稍后重试；如仍出错，请将错误编号告知平台运维人员。",
            _ => "请返回上一页检查填写的内容后重试。",
        }
    }
}

/// A standalone error page (where the page itself cannot be shown); inside the console it is shown again in the
/// console's frame by [`super::frame_errors`].
pub fn error_page(err: &ApiError) -> Response {
    let shown = ErrorShown::of(err);
    let page = ErrorPage {
        status: shown.status.as_u16(),
        title: shown.title,
        message: shown.message.clone(),
        error_id: shown.error_id.clone(),
    };
    let mut response = render(shown.status, &page);
    response.extensions_mut().insert(shown);
    response
}

#[derive(Template)]
#[template(path = "error_framed.html")]
pub struct FramedErrorPage {
    pub layout: Layout,
    pub feedback: Feedback,
    pub shown: ErrorShown,
}

#[cfg(test)]
mod tests {
    #[test]
    fn counts_are_grouped_by_thousands() {
        for (plain, shown) in [
            ("0", "0"),
            ("999", "999"),
            ("1000", "1,000"),
            ("100000", "100,000"),
            ("1234567", "1,234,567"),
            ("-45000", "-45,000"),
            ("12345.5", "12,345.5"),
            ("n/a", "n/a"),
        ] {
            assert_eq!(super::grouped(plain), shown);
        }
    }

    /// Chinese characters and the full-width punctuation around them.
    fn chinese(c: char) -> bool {
        matches!(c, '\u{4e00}'..='\u{9fff}' | '\u{3000}'..='\u{303f}' | '\u{ff01}'..='\u{ff5e}' | '“' | '”' | '…')
    }

    /// The text a person reads in a template: template code and markup become a placeholder (so text on either
    /// side of a tag is not joined), attribute values people read (placeholders, titles, confirmations) are kept.
    fn readable(template: &str) -> String {
        const READ: [&str; 5] = ["placeholder=\"", "title=\"", "data-confirm=\"", "aria-label=\"", "alt=\""];
        let mut out = String::new();
        let mut rest = template;
        while let Some(c) = rest.chars().next() {
            let close = if rest.starts_with("{{") {
                Some("}}")
            } else if rest.starts_with("{%") {
                Some("%}")
            } else if rest.starts_with("{#") {
                Some("#}")
            } else if rest.starts_with("<script") {
                Some("</script>")
            } else if rest.starts_with("<style") {
                Some("</style>")
            } else if c == '<' {
                Some(">")
            } else {
                None
            };
            match close {
                Some(close) => {
                    let end = rest.find(close).map_or(rest.len(), |i| i + close.len());
                    let markup = &rest[..end];
                    if c == '<' {
                        for attr in READ {
                            for (i, _) in markup.match_indices(attr) {
                                let value = &markup[i + attr.len()..];
                                out.push('\u{e000}');
                                out.push_str(&value[..value.find('"').unwrap_or(value.len())]);
                            }
                        }
                    }
                    out.push('\u{e000}');
                    rest = &rest[end..];
                }
                None => {
                    out.push(c);
                    rest = &rest[c.len_utf8()..];
                }
            }
        }
        out
    }

    /// Half-width `,;:()?!` next to Chinese text, with some context.
    fn half_width_in_chinese(text: &str) -> Vec<String> {
        let chars: Vec<char> = text.chars().collect();
        let mut found = Vec::new();
        for (i, &c) in chars.iter().enumerate() {
            let before = i.checked_sub(1).map(|j| chars[j]);
            let after = chars.get(i + 1).copied();
            if ",;:()?!".contains(c) && (before.is_some_and(chinese) || after.is_some_and(chinese)) {
                let from = i.saturating_sub(8);
                let to = (i + 8).min(chars.len());
                found.push(chars[from..to].iter().collect::<String>().replace('\u{e000}', "…").replace('\n', " "));
            }
        }
        found
    }

    #[test]
    fn the_check_finds_half_width_punctuation_in_chinese_text_only() {
        assert_eq!(half_width_in_chinese(&readable("<p>审核通过,已发布</p>")).len(), 1);
        assert_eq!(half_width_in_chinese(&readable("<input placeholder=\"如:浙人社发\">")).len(), 1);
        assert_eq!(half_width_in_chinese(&readable("<p>见(第十条)</p>")).len(), 2);
        assert!(half_width_in_chinese(&readable("{% if a(b, c) %}审核{% endif %}")).is_empty());
        assert!(half_width_in_chinese(&readable("<a href=\"/x?a=1,2\">审核</a>, ok")).is_empty());
        assert!(half_width_in_chinese(&readable("<p>审核通过\u{ff0c}已发布\u{ff08}第十条\u{ff09}</p>")).is_empty());
    }

    #[derive(askama::Template)]
    #[template(source = "{% include \"steps.html\" %}", ext = "html")]
    struct StepsOnly {
        steps: Vec<(&'static str, super::StepState)>,
    }

    /// The step indicator: every step in order, the current one highlighted and announced, those before it done.
    #[test]
    fn the_step_indicator_marks_done_current_and_pending_steps() {
        use askama::Template as _;
        let labels = ["起草", "负责人审核", "主管部门审核", "已发布"];
        let html = StepsOnly { steps: super::steps(&labels, Some(1)) }.render().unwrap();
        let order: Vec<usize> = labels.iter().map(|l| html.find(l).unwrap()).collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{html}");
        assert_eq!(html.matches("step-done").count(), 1, "{html}");
        assert_eq!(html.matches("aria-current=\"step\"").count(), 1);
        assert!(html.contains("step-current") && html.matches("step-pending").count() == 2, "{html}");
        let ended = StepsOnly { steps: super::steps(&labels, None) }.render().unwrap();
        assert_eq!(ended.matches("step-done").count(), 4);
        assert!(!ended.contains("aria-current"));
    }

    /// Console text reads like official Chinese text (公文): full-width punctuation in Chinese.
    #[test]
    fn templates_use_full_width_punctuation_in_chinese_text() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        let mut problems = Vec::new();
        let mut files = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "html") {
                files += 1;
                let text = std::fs::read_to_string(&path).unwrap();
                for snippet in half_width_in_chinese(&readable(&text)) {
                    problems.push(format!("{}: 「{snippet}」", path.file_name().unwrap().to_string_lossy()));
                }
            }
        }
        assert!(files > 20, "the templates were found ({files})");
        assert!(problems.is_empty(), "half-width punctuation in Chinese text:\n{}", problems.join("\n"));
    }
}

/// The console's own template filters (askama looks them up as `filters::…` where a template is declared).
pub mod filters {
    /// A count with thousands separators, as a document writes it: 100000 → 100,000.
    pub fn grouped<T: std::fmt::Display>(value: T, _: &dyn askama::Values) -> askama::Result<String> {
        Ok(super::grouped(&value.to_string()))
    }
}

/// `digits` with a comma every three digits from the right (a sign or anything after a decimal point is kept).
pub fn grouped(digits: &str) -> String {
    let (sign, rest) = digits.strip_prefix('-').map_or(("", digits), |r| ("-", r));
    let (int, frac) = rest.split_once('.').map_or((rest, None), |(i, f)| (i, Some(f)));
    if !int.bytes().all(|b| b.is_ascii_digit()) {
        return digits.to_owned();
    }
    let mut out = String::with_capacity(digits.len() + int.len() / 3);
    out.push_str(sign);
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if let Some(frac) = frac {
        out.push('.');
        out.push_str(frac);
    }
    out
}
