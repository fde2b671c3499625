//! 审计日志: the audit chain as people read it — who (by name, with their organisation), what (the operation in
//! words), on what (the object by its kind, linked), the content's main facts — filtered by operator, operation,
//! object and dates, paged, exported to Excel, and the chain verified.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use govshare_domain::application::Stage;
use govshare_domain::audit::{AuditFilter, AuditRecord};
use govshare_domain::catalog::AssessmentKind;
use govshare_domain::duty::DutyKind;
use govshare_domain::org::{OrgId, OrgKind};
use govshare_domain::role::Role;
use serde_json::Value;

use super::pages::{PageResult, actor_name, beijing, fail, layout};
use super::table::{EXPORT_LIMIT, TableState, day_start, xlsx};
use super::view::{Feedback, Layout};
use super::{ConsoleCaller, render};
use crate::AppState;
use crate::auth::Caller;

/// Operations by code, in words, in the order the filter offers them.
const ACTIONS: &[(&str, &str)] = &[
    ("session.login", "登录"),
    ("session.logout", "退出登录"),
    ("region.create", "创建行政区划"),
    ("org.create", "创建单位"),
    ("org.work_unit.update", "修改工作机构"),
    ("user.create", "创建账号"),
    ("user.disable", "停用账号"),
    ("user.enable", "启用账号"),
    ("user.password.reset", "重置密码"),
    ("user.password.change", "修改密码"),
    ("membership.grant", "授予角色"),
    ("membership.revoke", "撤销角色"),
    ("credential.issue", "签发 API 凭证"),
    ("credential.revoke", "吊销 API 凭证"),
    ("catalog.create", "起草目录"),
    ("catalog.edit", "修改目录草稿"),
    ("catalog.import", "导入目录"),
    ("catalog.draft.submit", "提交目录审核"),
    ("catalog.revision.create", "起草目录修订"),
    ("catalog.assessment.attach", "附加评估材料"),
    ("catalog.delete", "删除目录草稿"),
    ("catalog.assessment.remove", "移除评估材料"),
    ("catalog.assessment.report", "上传评估报告"),
    ("catalog.assessment.report.download", "下载评估报告"),
    ("catalog.head.approve", "负责人同意目录"),
    ("catalog.head.reject", "负责人退回目录"),
    ("catalog.authority.publish", "主管部门发布目录"),
    ("catalog.authority.return", "主管部门退回目录"),
    ("catalog.obligation.record", "登记目录更新触发"),
    ("catalog.obligation.extension.request", "申请目录更新延期"),
    ("catalog.obligation.extension.decide", "审批目录更新延期"),
    ("catalog.source.designate", "认定数源部门"),
    ("catalog.export", "导出目录"),
    ("application.create", "起草共享申请"),
    ("application.edit", "修改共享申请"),
    ("application.submit", "提交本单位负责人审核"),
    ("application.return", "负责人退回申请"),
    ("application.send", "负责人同意并提交申请"),
    ("application.withdraw", "撤回申请"),
    ("application.draft_reply", "拟定答复意见"),
    ("application.return_reply", "负责人退回答复意见"),
    ("application.approve_reply", "负责人同意答复"),
    ("application.supplement", "补正材料"),
    ("application.request_extension", "申请延长答复期限"),
    ("application.decide_extension", "审批延期申请"),
    ("application.record_delivery", "登记已共享"),
    ("grant.create", "创建共享授权"),
    ("grant.suspend", "暂停共享授权"),
    ("grant.resume", "恢复共享授权"),
    ("grant.rectify", "报告整改情况"),
    ("grant.propose_termination", "协商终止并报备案"),
    ("grant.record_filing", "共享服务终止备案"),
    ("grant.terminate", "终止共享授权"),
    ("source.bind", "绑定数据源"),
    ("source.load", "加载数据"),
    ("usage.seal", "封存使用记录"),
    ("usage.archive", "归档超过保存期限的使用记录"),
    ("usage.detach", "已归档的使用记录移出数据库"),
    ("calendar.import", "导入工作日历"),
    ("duty.backfill", "补建待办事项"),
    ("audit.evidence.export", "导出审计证据"),
    ("audit.guards.restore", "恢复审计保护"),
];

/// An operation in words; an unknown code is still described, never shown raw.
fn action_label(code: &str) -> String {
    if let Some((_, label)) = ACTIONS.iter().find(|(c, _)| *c == code) {
        return (*label).to_owned();
    }
    if let Some(kind) = code.strip_prefix("deadline.").and_then(DutyKind::parse) {
        return format!("期限提醒：{}", kind.label());
    }
    let family = match code.split('.').next().unwrap_or("") {
        "catalog" => "目录管理",
        "application" => "共享申请",
        "grant" | "source" | "usage" => "共享授权与数据",
        "user" | "membership" | "org" | "region" => "单位与人员",
        "credential" => "API 凭证",
        _ => "平台",
    };
    format!("{family}的其他操作")
}

fn object_label(kind: &str) -> &'static str {
    match kind {
        "organisation" | "org" => "单位",
        "region" => "行政区划",
        "user" => "账号",
        "membership" => "角色",
        "api_credential" | "credential" => "API 凭证",
        "session" => "登录会话",
        "catalog_entry" => "目录",
        "catalog_obligation" => "目录更新义务",
        "application" => "共享申请",
        "grant" => "共享授权",
        "data_source" | "source" => "数据源",
        "usage_batch" | "usage" => "使用记录",
        "usage_month" => "月度使用记录",
        "calendar" => "工作日历",
        "duty" => "待办事项",
        _ => "平台对象",
    }
}

/// The console page of an object, where there is one.
fn object_href(kind: &str, id: &str) -> Option<String> {
    let page = match kind {
        "catalog_entry" => "catalog",
        "application" => "applications",
        "grant" => "grants",
        _ => return None,
    };
    uuid::Uuid::parse_str(id).ok().map(|id| format!("/console/{page}/{id}"))
}

/// Detail keys people understand, in words, in the order they are shown.
const DETAIL_KEYS: &[(&str, &str)] = &[
    ("name", "名称"),
    ("display_name", "姓名"),
    ("username", "账号"),
    ("role", "角色"),
    ("roles", "角色"),
    ("kind", "类型"),
    ("resource_code", "资源代码"),
    ("version", "版本"),
    ("from", "原状态"),
    ("to", "新状态"),
    ("stage", "阶段"),
    ("decision", "决定"),
    ("reason", "理由"),
    ("note", "说明"),
    ("conditions", "共享条件"),
    ("valid_until", "有效期至"),
    ("work_unit_name", "工作机构"),
    ("credit_code", "统一社会信用代码"),
    ("file_name", "文件名"),
    ("inserted", "新增"),
    ("updated", "更新"),
    ("deleted", "删除"),
    ("rows", "行数"),
    ("count", "数量"),
    ("known_device", "常用设备"),
];

/// A value in words: roles, stages and steps by their Chinese names; codes and identifiers nobody can read are
/// left to the raw record.
fn value_text(value: &Value) -> Option<String> {
    match value {
        Value::Bool(b) => Some(if *b { "是" } else { "否" }.to_owned()),
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) if s.is_empty() => None,
        Value::String(s) => {
            if let Ok(role) = Role::parse(s) {
                return Some(role.label().to_owned());
            }
            if let Some(stage) = Stage::ALL.into_iter().find(|st| st.code() == s) {
                return Some(stage.label().to_owned());
            }
            // The kinds a record names (an organisation's, an assessment's): their Chinese labels.
            if let Some(kind) = [OrgKind::Authority, OrgKind::Department].into_iter().find(|k| k.code() == s) {
                return Some(kind.label().to_owned());
            }
            if let Some(kind) = AssessmentKind::ALL.iter().find(|k| k.code() == s) {
                return Some(kind.label().to_owned());
            }
            let machine = s.chars().all(|c| c.is_ascii_alphanumeric() || "_-.:".contains(c))
                && (s.contains('_') || uuid::Uuid::parse_str(s).is_ok());
            (!machine).then(|| s.chars().take(200).collect())
        }
        Value::Array(items) => {
            let texts: Vec<String> = items.iter().filter_map(value_text).collect();
            (!texts.is_empty()).then(|| texts.join("、"))
        }
        _ => None,
    }
}

fn detail_facts(detail: &str) -> Vec<(&'static str, String)> {
    let Ok(Value::Object(map)) = serde_json::from_str::<Value>(detail) else { return Vec::new() };
    DETAIL_KEYS.iter().filter_map(|(key, label)| map.get(*key).and_then(value_text).map(|v| (*label, v))).collect()
}

/// An operator in the filter: the name, and the account where it is a person's (two people may share a name).
fn actor_option(actor: &str, names: &HashMap<String, String>) -> String {
    match (names.get(actor), actor.strip_prefix("user:")) {
        (Some(name), Some(username)) => format!("{name}（{username}）"),
        _ => actor_name(actor, names),
    }
}

#[derive(Debug, Clone)]
pub struct AuditRow {
    pub seq: i64,
    pub at: String,
    pub actor: String,
    pub org: String,
    pub action: String,
    pub object_kind: &'static str,
    pub object_href: Option<String>,
    pub object_filter: String,
    pub facts: Vec<(&'static str, String)>,
    pub raw: String,
    pub hash: String,
}

#[derive(Debug, Clone)]
pub struct VerificationView {
    pub intact: bool,
    pub verified: i64,
    pub problem: Option<String>,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    layout: Layout,
    feedback: Feedback,
    rows: Vec<AuditRow>,
    table: TableState,
    actors: Vec<(String, String)>,
    actions: Vec<(&'static str, &'static str)>,
    object_filtered: bool,
    verification: Option<VerificationView>,
}

const FILTERS: [&str; 5] = ["actor", "action", "object", "from", "to"];

async fn audit_page(
    state: &AppState,
    caller: &Caller,
    query: &HashMap<String, String>,
    verification: Option<VerificationView>,
) -> PageResult {
    let mut table = TableState::from_query("/console/audit", query, &FILTERS, &["at"], true);
    let mut feedback = Feedback::default();
    let dates = day_start("from", table.filter("from"), false)
        .and_then(|from| Ok((from, day_start("to", table.filter("to"), true)?)));
    let (from, until) = match dates {
        Ok(range) => range,
        Err(err) => {
            feedback = Feedback::from_error(&err);
            (None, None)
        }
    };
    let text = |k: &str| Some(table.filter(k).to_owned()).filter(|v| !v.is_empty());
    let mut filter = AuditFilter {
        actor: text("actor"),
        action: text("action"),
        object_id: text("object"),
        from,
        until,
        newest_first: table.desc,
        offset: table.offset(),
        limit: table.per_page,
    };
    if table.export {
        filter.offset = 0;
        filter.limit = EXPORT_LIMIT;
    }
    let s = &state.services;
    let (records, total) = s.search_audit(&caller.principal, &filter).await.map_err(fail)?;
    table.total = total;
    let actors = s.audit_actors(&caller.principal).await.map_err(fail)?;
    let names: HashMap<String, String> =
        actors.iter().filter_map(|(actor, name)| name.clone().map(|n| (actor.clone(), n))).collect();
    let orgs = super::pages::org_names(state).await?;
    let rows: Vec<AuditRow> = records.iter().map(|r| row(r, &names, &orgs)).collect();
    if table.export {
        return export(&rows);
    }
    let layout = layout(state, caller, "审计日志", "/console/audit").await?;
    let mut actor_options: Vec<(String, String)> =
        actors.into_iter().map(|(actor, _)| (actor_option(&actor, &names), actor)).collect();
    actor_options.sort();
    let page = AuditPage {
        layout,
        object_filtered: !table.filter("object").is_empty(),
        feedback,
        rows,
        table,
        actors: actor_options,
        actions: ACTIONS.to_vec(),
        verification,
    };
    Ok(render(page.feedback.status(), &page))
}

fn row(r: &AuditRecord, names: &HashMap<String, String>, orgs: &HashMap<OrgId, String>) -> AuditRow {
    AuditRow {
        seq: r.seq,
        at: beijing(r.at),
        actor: actor_name(&r.actor, names),
        org: r.org_id.and_then(|id| orgs.get(&id).cloned()).unwrap_or_default(),
        action: action_label(&r.action),
        object_kind: object_label(&r.object_type),
        object_href: object_href(&r.object_type, &r.object_id),
        object_filter: super::urlencode(&r.object_id),
        facts: detail_facts(&r.detail),
        raw: r.detail.clone(),
        hash: hex::encode(&r.hash[..8]),
    }
}

fn export(rows: &[AuditRow]) -> PageResult {
    let headers =
        ["序号", "时间（北京时间）", "操作人", "所在单位", "操作", "对象", "内容", "原始记录", "SM3 摘要（前 8 字节）"];
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let facts: Vec<String> = r.facts.iter().map(|(k, v)| format!("{k}：{v}")).collect();
            vec![
                r.seq.to_string(),
                r.at.clone(),
                r.actor.clone(),
                r.org.clone(),
                r.action.clone(),
                r.object_kind.to_owned(),
                facts.join(";"),
                r.raw.clone(),
                r.hash.clone(),
            ]
        })
        .collect();
    xlsx("govshare-audit.xlsx", "审计日志.xlsx", &headers, &cells)
}

pub async fn page(
    State(state): State<AppState>,
    ConsoleCaller(caller): ConsoleCaller,
    Query(query): Query<HashMap<String, String>>,
) -> PageResult {
    audit_page(&state, &caller, &query, None).await
}

pub async fn verify(
    State(state): State<AppState>,
    ConsoleCaller(caller): ConsoleCaller,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, Response> {
    let v = state.services.verify_audit(&caller.principal).await.map_err(fail)?;
    let guards =
        (!v.missing_guards.is_empty()).then(|| format!("数据库缺少只追加保护触发器：{}", v.missing_guards.join("、")));
    let view = VerificationView {
        intact: v.is_intact(),
        verified: v.verified,
        problem: v.first_break.map(|b| b.to_string()).into_iter().chain(guards).reduce(|a, b| format!("{a}；{b}")),
    };
    audit_page(&state, &caller, &query, Some(view)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_and_contents_read_in_words() {
        assert_eq!(action_label("grant.resume"), "恢复共享授权");
        assert_eq!(action_label("application.approve_reply"), "负责人同意答复");
        assert_eq!(action_label("deadline.reply"), format!("期限提醒\u{ff1a}{}", DutyKind::Reply.label()));
        assert_eq!(action_label("catalog.something_new"), "目录管理的其他操作");
        let facts = detail_facts(
            r#"{"username":"gat.head","roles":["work_unit_head"],"org":"01a236c1-4994-7514-b00e-06c852c0a4bd","stage":"reply_awaiting_head","x_y":"a_b"}"#,
        );
        assert_eq!(
            facts,
            vec![
                ("账号", "gat.head".to_owned()),
                ("角色", "工作机构负责人".to_owned()),
                ("阶段", "答复意见待提供部门负责人审核".to_owned())
            ]
        );
        assert_eq!(detail_facts(r#"{"kind":"department"}"#), vec![("类型", "政府部门".to_owned())]);
        assert_eq!(
            detail_facts(r#"{"kind":"personal_info_impact"}"#),
            vec![("类型", "个人信息保护影响评估".to_owned())]
        );
        // The codes the catalog use cases record (service catalog.rs, interchange.rs, obligations.rs) have labels.
        for code in ["catalog.create", "catalog.edit", "catalog.import", "catalog.obligation.extension.request"] {
            assert!(ACTIONS.iter().any(|(c, _)| *c == code), "{code} has no label");
        }
        let names = HashMap::from([("user:gat.head".to_owned(), "陈科长".to_owned())]);
        assert_eq!(actor_name("user:gat.head", &names), "陈科长");
        assert_eq!(actor_name("system:deadline-job", &names), "期限监测任务");
        assert_eq!(
            object_href("grant", "01a236c1-4994-7514-b00e-06c852c0a4bd").unwrap(),
            "/console/grants/01a236c1-4994-7514-b00e-06c852c0a4bd"
        );
        assert!(object_href("grant", "../admin").is_none());
    }
}
