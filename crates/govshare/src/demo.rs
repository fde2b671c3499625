//! The demo province: 浙江省 with three cities, the provincial authority, nine provincial departments and
//! people in every role. `serve --demo` creates it on a fresh node, through the same use cases an
//! administrator would use, so every record of it is validated and audited.

use govshare_domain::credit_code::check_character;
use govshare_domain::org::{NewOrganisationInput, OrgId};
use govshare_domain::principal::Principal;
use govshare_service::{NewUserInput, Services};

/// The password of every demo account. Demo nodes are for trying the platform, never for real data.
pub const DEMO_PASSWORD: &str = "Demo#Pass2026";

pub const REGIONS: [(&str, &str); 4] =
    [("330000", "浙江省"), ("330100", "杭州市"), ("330200", "宁波市"), ("330300", "温州市")];

/// (short key, name, work unit) of the provincial departments.
pub const DEPARTMENTS: [(&str, &str, &str); 9] = [
    ("gat", "浙江省公安厅", "科技信息化局"),
    ("rst", "浙江省人力资源和社会保障厅", "信息中心"),
    ("scjg", "浙江省市场监督管理局", "信息中心"),
    ("mzt", "浙江省民政厅", "办公室（数据管理处）"),
    ("zrzy", "浙江省自然资源厅", "信息中心"),
    ("wjw", "浙江省卫生健康委员会", "规划发展与信息化处"),
    ("jyt", "浙江省教育厅", "教育技术中心"),
    ("zjt", "浙江省住房和城乡建设厅", "信息中心"),
    ("ylbz", "浙江省医疗保障局", "信息中心"),
];

/// A demo login, printed when the demo starts.
#[derive(Debug, Clone)]
pub struct DemoLogin {
    pub username: String,
    pub display_name: String,
    pub org: String,
    pub roles: String,
}

/// A well-formed unified social credit code for a government body (登记管理部门 1 机构编制, 类别 1 机关)
/// in `region`, numbered `n`, with its GB 32100 check character.
pub fn government_credit_code(region: &str, n: u32) -> String {
    let body = format!("11{region}{:09}", 2_480_000 + n * 137);
    let check = check_character(body.as_bytes()).expect("digits are in the alphabet");
    format!("{body}{check}")
}

struct Seeder<'a> {
    services: &'a Services,
    operator: Principal,
    logins: Vec<DemoLogin>,
}

impl Seeder<'_> {
    async fn org(&self, kind: &str, region: &str, name: &str, work_unit: &str, n: u32) -> anyhow::Result<OrgId> {
        let input = NewOrganisationInput {
            kind: kind.into(),
            region_code: region.into(),
            name: name.into(),
            credit_code: government_credit_code(region, n),
            work_unit_name: work_unit.into(),
        };
        Ok(self.services.create_org(&self.operator, &input).await?.id)
    }

    async fn person(
        &mut self,
        org: OrgId,
        org_name: &str,
        username: &str,
        name: &str,
        roles: &[&str],
        contractor: bool,
    ) -> anyhow::Result<()> {
        let input = NewUserInput {
            username: username.into(),
            display_name: name.into(),
            password: DEMO_PASSWORD.into(),
            contractor,
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
        };
        self.services.create_user(&self.operator, org, input).await?;
        let labels: Vec<&str> =
            roles.iter().filter_map(|r| govshare_domain::role::Role::parse(r).ok()).map(|r| r.label()).collect();
        self.logins.push(DemoLogin {
            username: username.into(),
            display_name: name.into(),
            org: org_name.into(),
            roles: format!("{}{}", labels.join("、"), if contractor { "（受托方）" } else { "" }),
        });
        Ok(())
    }
}

/// Creates the demo province on an empty node and returns its logins.
pub async fn seed(services: &Services) -> anyhow::Result<Vec<DemoLogin>> {
    let mut s = Seeder { services, operator: Principal::operator("demo"), logins: Vec::new() };
    for (code, name) in REGIONS {
        services.create_region(&s.operator, code, name).await?;
    }
    let authority_name = "浙江省大数据发展管理局";
    let authority = s.org("authority", "330000", authority_name, "数据资源处", 1).await?;
    let hz_authority = s.org("authority", "330100", "杭州市数据资源管理局", "数据共享处", 2).await?;

    s.person(authority, authority_name, "admin", "平台管理员", &["platform_admin"], false).await?;
    s.person(authority, authority_name, "reviewer", "周审核", &["authority_reviewer"], false).await?;
    s.person(authority, authority_name, "supervisor", "吴监管", &["authority_supervisor"], false).await?;
    s.person(
        hz_authority,
        "杭州市数据资源管理局",
        "hz.reviewer",
        "郑杭审",
        &["authority_reviewer", "authority_supervisor"],
        false,
    )
    .await?;

    const PEOPLE: [(&str, &str); 9] = [
        ("王警官", "陈科长"),
        ("李社保", "赵主任"),
        ("孙市监", "钱主任"),
        ("刘民政", "黄主任"),
        ("何自然", "林主任"),
        ("马卫健", "高处长"),
        ("罗教育", "梁主任"),
        ("宋住建", "唐主任"),
        ("许医保", "韩主任"),
    ];
    let mut ids = Vec::new();
    for (i, ((key, name, unit), (clerk, head))) in DEPARTMENTS.iter().zip(PEOPLE).enumerate() {
        let org = s.org("department", "330000", name, unit, 10 + i as u32).await?;
        s.person(org, name, &format!("{key}.clerk"), clerk, &["clerk"], false).await?;
        s.person(org, name, &format!("{key}.head"), head, &["work_unit_head"], false).await?;
        ids.push((org, *name));
    }
    // A contractor's engineer working for 人社厅 (Art. 36): clerk only.
    s.person(ids[1].0, ids[1].1, "rst.vendor", "外包工程师", &["clerk"], true).await?;
    // A person who serves two departments and switches between them.
    s.person(ids[3].0, ids[3].1, "liu.yang", "刘洋", &["clerk"], false).await?;
    services.grant_role(&s.operator, ids[5].0, "liu.yang", "clerk").await?;
    if let Some(login) = s.logins.last_mut() {
        login.org = format!("{}、{}", ids[3].1, ids[5].1);
    }
    Ok(s.logins)
}

/// Data for the demo province's data plane, through the same use cases: 公安厅's population entry, published
/// and hosted with 300 generated people; 民政厅's application for it, approved and granted for the service API;
/// 人社厅's application, waiting for 公安厅's reply; 民政厅's system's first lookups through the grant, and its
/// change request for a further purpose, sent and waiting for 公安厅's answer.
pub async fn seed_data(services: &Services) -> anyhow::Result<()> {
    use rand::SeedableRng;
    let entry = crate::bench_data::publish_people_entry(services, "330000-GAT-0001").await?;
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("常住人口基本信息.csv");
    crate::bench_data::write_people(&file, 300, &mut rand::rngs::StdRng::seed_from_u64(809))?;
    let clerk = crate::bench_data::principal(services, "gat.clerk").await?;
    let request = govshare_service::LoadRequest {
        format: "csv".into(),
        mode: "replace".into(),
        accept_valid: false,
        file_name: "常住人口基本信息.csv".into(),
    };
    let report = services.load_source(&clerk, entry, &file, &request, Default::default()).await?;
    anyhow::ensure!(report.load.is_some(), "demo data did not load: {:?}", report.errors.first());
    let terms = crate::bench_data::standard_grant(600, 100_000);
    let (_, grant) = crate::bench_data::application(services, "mzt", entry, "service_api", Some(&terms)).await?;
    crate::bench_data::application(services, "rst", entry, "service_api", None).await?;
    // 民政厅's assistance system has used the grant: a few checks of applicants (one not on record), so that the
    // usage pages and the audit have something to show. Its key is not kept: the demo shows the credential only.
    let mzt_head = crate::bench_data::principal(services, "mzt.head").await?;
    let mzt = mzt_head.org_id().ok_or_else(|| anyhow::anyhow!("mzt.head acts for no organisation"))?;
    let issued = services.issue_credential(&mzt_head, mzt, "社会救助信息系统", 365).await?;
    let system = services.authenticate_api_key(&issued.api_key).await?;
    let grant = grant.ok_or_else(|| anyhow::anyhow!("the demo grant was not created"))?;
    for n in [0, 1, 2, 3, 5, 8, 13, 21] {
        let key = crate::bench_data::id_number(n);
        services.data_lookup(&system, grant, &key, std::time::Instant::now()).await?;
    }
    services.data_lookup(&system, grant, "330106199001010000", std::time::Instant::now()).await?;
    // 民政厅 asks to use the data for a further purpose too (Art. 25 ¶1); its head has sent the request, so 公安厅's
    // clerk finds 答复变更申请 on the to-do list.
    let mzt_clerk = crate::bench_data::principal(services, "mzt.clerk").await?;
    let change = govshare_domain::change::ChangeRequestInput {
        purpose: "临时救助对象身份核验".into(),
        reasons: "临时救助申请量增加，需在受理时核验申请人身份".into(),
        legal_basis: "《社会救助暂行办法》第四十七条".into(),
        ..Default::default()
    };
    services.request_change(&mzt_clerk, grant, &change).await?;
    let send =
        govshare_service::ChangeStepInput { step: "send".into(), note: "同意报送".into(), ..Default::default() };
    services.change_step(&mzt_head, grant, &send).await?;
    // 民政厅 found an applicant's phone number wrong and asked 公安厅 to check it (Art. 26): the record is marked
    // disputed until 公安厅's clerk answers (on the to-do list).
    let correction = govshare_domain::correction::CorrectionInput {
        grant: grant.to_string(),
        key: crate::bench_data::id_number(1),
        claims: vec![govshare_domain::correction::Claim { item: "sjhm".into(), value: "13957100001".into() }],
        evidence: "申请人到窗口办理临时救助时出示的手机号码与共享数据不一致".into(),
        checked_against: "窗口现场核验".into(),
    };
    services.file_correction(&mzt_clerk, &correction, None).await?;
    // The two disagree on a condition of the grant and have met once (Art. 28).
    let gat = crate::bench_data::principal(services, "gat.clerk")
        .await?
        .org_id()
        .ok_or_else(|| anyhow::anyhow!("gat.clerk acts for no organisation"))?;
    let dispute = govshare_domain::dispute::DisputeInput {
        counterpart: gat.to_string(),
        matter: "condition".into(),
        grant: grant.to_string(),
        title: "救助核查是否需要返回户籍地址".into(),
        description: "民政厅认为入户核查需要户籍地址，公安厅认为按目录仅可核验、不提供地址。".into(),
        ..Default::default()
    };
    let opened = services.open_dispute(&mzt_clerk, &dispute).await?;
    let met = govshare_domain::dispute::StepInput {
        step: "negotiate".into(),
        meeting: "2026年11月28日 视频会商".into(),
        positions: "民政厅：入户核查需要地址；公安厅：可改为核验地址是否一致".into(),
        outcome: "未达成一致，约定一周内再议".into(),
        ..Default::default()
    };
    services.dispute_step(&mzt_clerk, opened.dispute.id, &met).await?;
    // A citizen's complaint received by letter, for 公安厅 to handle (Art. 37 ¶2).
    let complaint = govshare_domain::complaint::ComplaintInput {
        kind: "complaint".into(),
        department: gat.to_string(),
        title: "户籍信息疑被用于与我无关的事项".into(),
        description: "我收到一家单位的电话，对方知道我的户籍地址，我从未向其提供。请核查是否经共享泄露。".into(),
        happened_on: String::new(),
        name: "张先生".into(),
        contact: "13700000000".into(),
    };
    services.enter_complaint(&Principal::operator("demo"), &complaint).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_credit_codes_are_valid_and_distinct() {
        let codes: Vec<String> = (0..30).map(|n| government_credit_code("330000", n)).collect();
        for code in &codes {
            govshare_domain::credit_code::CreditCode::parse(code).unwrap();
        }
        let unique: std::collections::BTreeSet<_> = codes.iter().collect();
        assert_eq!(unique.len(), codes.len());
    }
}
