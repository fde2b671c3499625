//! The store contract: one suite of tests that every backend must pass. Each backend's `tests/contract.rs`
//! instantiates it with `store_contract_tests!(factory)`, where `factory` is an async expression producing a
//! fresh, migrated, empty `DynStore`.

use chrono::{DateTime, Duration, NaiveDate, SubsecRound, Utc};
use govshare_domain::application::{Application, ApplicationEvent, ApplicationId, ApplicationRequest, Step};
use govshare_domain::audit::{AuditEvent, ChainVerifier};
use govshare_domain::catalog::{
    Assessment, AssessmentConclusion, AssessmentId, AssessmentKind, AssessmentReport, CatalogEntry, DataItemInput,
    DeliveryMethod, EntryContent, EntryEvent, EntryId, EntryInput, EntryStatus, EntryVersion, GradeScheme, ReportId,
    SharingAttribute, file_sm3,
};
use govshare_domain::credit_code::check_character;
use govshare_domain::grant::{Grant, GrantEvent, GrantId, GrantItem, GrantState, Masking};
use govshare_domain::notification::Notification;
use govshare_domain::org::{NewOrganisationInput, OrgId, Organisation};
use govshare_domain::principal::{ApiCredential, CredentialId};
use govshare_domain::region::{Region, RegionCode};
use govshare_domain::role::Role;
use govshare_domain::user::{Membership, User, UserId, Username};
use govshare_store::{DynStore, Session, StoreError};

fn event(action: &str) -> AuditEvent {
    AuditEvent::new("operator:test", None, action, "test", "x", serde_json::json!({"k": "值"}))
}

fn code(region: &str, n: u32) -> String {
    let body = format!("11{region}{:09}", 1_000_000 + n);
    format!("{body}{}", check_character(body.as_bytes()).unwrap())
}

fn org(kind: &str, region: &str, name: &str, n: u32) -> Organisation {
    let input = NewOrganisationInput {
        kind: kind.into(),
        region_code: region.into(),
        name: name.into(),
        credit_code: code(region, n),
        work_unit_name: "信息中心".into(),
    };
    Organisation::parse(&input, Utc::now().trunc_subsecs(6)).unwrap()
}

fn user(name: &str) -> User {
    let mut u = User::parse(name, &format!("用户{name}"), false, Utc::now()).unwrap();
    u.created_at = u.created_at.trunc_subsecs(6);
    u
}

async fn audit_seq(store: &DynStore) -> i64 {
    store.audit_head().await.unwrap().map_or(0, |h| h.seq)
}

/// A province with one city, an authority and one department.
async fn base(store: &DynStore) -> (Organisation, Organisation) {
    store.create_region(&Region::parse("330000", "浙江省").unwrap(), &event("region.create")).await.unwrap();
    store.create_region(&Region::parse("330100", "杭州市").unwrap(), &event("region.create")).await.unwrap();
    let authority = org("authority", "330000", "浙江省大数据发展管理局", 1);
    let dept = org("department", "330000", "浙江省公安厅", 2);
    store.create_org(&authority, &event("org.create")).await.unwrap();
    store.create_org(&dept, &event("org.create")).await.unwrap();
    (authority, dept)
}

fn is_conflict<T: std::fmt::Debug>(r: Result<T, StoreError>) -> String {
    match r {
        Err(StoreError::Conflict(m)) => m,
        other => panic!("expected a conflict, got {other:?}"),
    }
}

pub async fn regions(store: DynStore) {
    assert!(store.list_regions().await.unwrap().is_empty());
    let missing_parent =
        store.create_region(&Region::parse("330100", "杭州市").unwrap(), &event("region.create")).await;
    assert!(is_conflict(missing_parent).contains("330000"));
    base(&store).await;
    let regions = store.list_regions().await.unwrap();
    assert_eq!(regions.iter().map(|r| r.code.to_string()).collect::<Vec<_>>(), ["330000", "330100"]);
    let hz = store.get_region(RegionCode::parse("330100").unwrap()).await.unwrap();
    assert_eq!((hz.name.as_str(), hz.parent.map(|p| p.to_string())), ("杭州市", Some("330000".into())));
    let dup = store.create_region(&Region::parse("330100", "杭州").unwrap(), &event("region.create")).await;
    assert!(is_conflict(dup).contains("已存在"));
    assert!(matches!(store.get_region(RegionCode::parse("330200").unwrap()).await, Err(StoreError::NotFound(_))));
}

pub async fn organisations(store: DynStore) {
    assert!(store.is_empty().await.unwrap());
    let (authority, dept) = base(&store).await;
    assert!(!store.is_empty().await.unwrap());
    assert_eq!(store.get_org(dept.id).await.unwrap(), dept, "round trip, timestamps included");
    let city_dept = org("department", "330100", "杭州市公安局", 3);
    store.create_org(&city_dept, &event("org.create")).await.unwrap();
    let names: Vec<String> = store.list_orgs().await.unwrap().into_iter().map(|o| o.name).collect();
    assert_eq!(
        names,
        ["浙江省大数据发展管理局", "浙江省公安厅", "杭州市公安局"],
        "authorities first, then region, then name"
    );

    let mut same_code = org("department", "330000", "浙江省民政厅", 9);
    same_code.credit_code = dept.credit_code.clone();
    assert!(is_conflict(store.create_org(&same_code, &event("org.create")).await).contains("浙江省公安厅"));
    let second_authority = org("authority", "330000", "另一个主管部门", 4);
    assert!(is_conflict(store.create_org(&second_authority, &event("org.create")).await).contains(&authority.name));
    let unknown_region = org("department", "330200", "宁波市公安局", 5);
    assert!(is_conflict(store.create_org(&unknown_region, &event("org.create")).await).contains("330200"));

    store.update_org_work_unit(dept.id, "科技信息化局", &event("org.work_unit.update")).await.unwrap();
    assert_eq!(store.get_org(dept.id).await.unwrap().work_unit_name, "科技信息化局");
    assert!(matches!(store.update_org_work_unit(OrgId::new(), "x", &event("x")).await, Err(StoreError::NotFound(_))));
    assert!(matches!(store.get_org(OrgId::new()).await, Err(StoreError::NotFound(_))));
}

pub async fn users_and_memberships(store: DynStore) {
    let (_, dept) = base(&store).await;
    let clerk = user("gat.clerk");
    store.create_user(&clerk, "$argon2id$hash", &event("user.create")).await.unwrap();
    assert!(is_conflict(store.create_user(&user("gat.clerk"), "h", &event("user.create")).await).contains("gat.clerk"));
    assert_eq!(store.get_user(clerk.id).await.unwrap(), clerk);
    let found = store.find_user_by_username(&Username::parse("GAT.CLERK").unwrap()).await.unwrap().unwrap();
    assert_eq!((found.user.id, found.password_hash.as_str()), (clerk.id, "$argon2id$hash"));
    assert!(store.find_user_by_username(&Username::parse("nobody").unwrap()).await.unwrap().is_none());
    store.set_password_hash(clerk.id, "$argon2id$new", None, &event("user.password.reset")).await.unwrap();
    let found = store.find_user_by_username(&clerk.username).await.unwrap().unwrap();
    assert_eq!(found.password_hash, "$argon2id$new");

    let as_clerk = Membership { user_id: clerk.id, org_id: dept.id, role: Role::Clerk };
    store.add_membership(&as_clerk, &event("membership.grant")).await.unwrap();
    assert!(is_conflict(store.add_membership(&as_clerk, &event("membership.grant")).await).contains("经办人"));
    let head = user("gat.head");
    store.create_user(&head, "h", &event("user.create")).await.unwrap();
    store
        .add_membership(&Membership { user_id: head.id, org_id: dept.id, role: Role::WorkUnitHead }, &event("m"))
        .await
        .unwrap();
    let second_head = Membership { user_id: clerk.id, org_id: dept.id, role: Role::WorkUnitHead };
    assert!(is_conflict(store.add_membership(&second_head, &event("m")).await).contains(&head.display_name));
    assert_eq!(store.work_unit_head(dept.id).await.unwrap().map(|u| u.id), Some(head.id));

    store
        .add_membership(&Membership { user_id: head.id, org_id: dept.id, role: Role::Clerk }, &event("m"))
        .await
        .unwrap();
    let members = store.members_of_org(dept.id).await.unwrap();
    let summary: Vec<(String, Vec<Role>)> =
        members.into_iter().map(|m| (m.user.username.to_string(), m.roles)).collect();
    assert_eq!(
        summary,
        [("gat.clerk".into(), vec![Role::Clerk]), ("gat.head".into(), vec![Role::Clerk, Role::WorkUnitHead])]
    );
    assert_eq!(store.memberships_of_user(head.id).await.unwrap().len(), 2);

    store.remove_membership(&as_clerk, &event("membership.revoke")).await.unwrap();
    assert!(matches!(store.remove_membership(&as_clerk, &event("m")).await, Err(StoreError::NotFound(_))));
    assert!(store.memberships_of_user(clerk.id).await.unwrap().is_empty());
    assert!(matches!(store.get_user(UserId::new()).await, Err(StoreError::NotFound(_))));
}

fn session(user: UserId, org: OrgId, token: &str, ttl: Duration) -> Session {
    let now = Utc::now().trunc_subsecs(6);
    Session {
        token_hash: token.into(),
        user_id: user,
        org_id: org,
        csrf_token: format!("csrf-{token}"),
        created_at: now,
        expires_at: now + ttl,
    }
}

pub async fn sessions(store: DynStore) {
    let (authority, dept) = base(&store).await;
    let u = user("liu.yang");
    store.create_user(&u, "h", &event("user.create")).await.unwrap();
    let live = session(u.id, dept.id, "live", Duration::hours(1));
    let stale = session(u.id, dept.id, "stale", Duration::seconds(-1));
    store.create_session(&live, &event("session.login")).await.unwrap();
    store.create_session(&stale, &event("session.login")).await.unwrap();
    let now = Utc::now();
    assert_eq!(store.get_session("live", now).await.unwrap(), Some(live.clone()));
    assert_eq!(store.get_session("stale", now).await.unwrap(), None, "expired sessions are not returned");
    assert_eq!(store.get_session("live", live.expires_at).await.unwrap(), None, "a session ends at its expiry");
    store.set_session_org("live", authority.id).await.unwrap();
    assert_eq!(store.get_session("live", now).await.unwrap().unwrap().org_id, authority.id);
    assert!(matches!(store.set_session_org("nope", authority.id).await, Err(StoreError::NotFound(_))));
    assert_eq!(store.purge_expired(now, now - Duration::hours(1)).await.unwrap(), 1);
    store.delete_session("live", &event("session.logout")).await.unwrap();
    assert_eq!(store.get_session("live", now).await.unwrap(), None);

    // Disabling a user ends their sessions in the same step.
    let again = session(u.id, dept.id, "again", Duration::hours(1));
    store.create_session(&again, &event("session.login")).await.unwrap();
    store.set_user_disabled(u.id, true, &event("user.disable")).await.unwrap();
    assert!(store.get_user(u.id).await.unwrap().disabled);
    assert_eq!(store.get_session("again", now).await.unwrap(), None);
    store.set_user_disabled(u.id, false, &event("user.enable")).await.unwrap();
    assert!(!store.get_user(u.id).await.unwrap().disabled);

    // A new password ends every other session of the person, in the same step; the one that changed it stays.
    let (mine, other, theirs) = (
        session(u.id, dept.id, "mine", Duration::hours(1)),
        session(u.id, dept.id, "other", Duration::hours(1)),
        session(user_in(&store, "someone.else").await, dept.id, "theirs", Duration::hours(1)),
    );
    for s in [&mine, &other, &theirs] {
        store.create_session(s, &event("session.login")).await.unwrap();
    }
    store.set_password_hash(u.id, "$argon2id$changed", Some("mine"), &event("user.password.change")).await.unwrap();
    assert!(store.get_session("mine", now).await.unwrap().is_some());
    assert_eq!(store.get_session("other", now).await.unwrap(), None);
    assert!(store.get_session("theirs", now).await.unwrap().is_some(), "other people's sessions stay");
    store.set_password_hash(u.id, "$argon2id$reset", None, &event("user.password.reset")).await.unwrap();
    assert_eq!(store.get_session("mine", now).await.unwrap(), None, "a reset ends them all");
}

async fn user_in(store: &DynStore, name: &str) -> UserId {
    let u = user(name);
    store.create_user(&u, "h", &event("user.create")).await.unwrap();
    u.id
}

pub async fn login_failures(store: DynStore) {
    let now = Utc::now();
    for _ in 0..3 {
        store.record_login_failure("zhangsan", "ip:10.0.0.1", now).await.unwrap();
    }
    store.record_login_failure("lisi", "ip:10.0.0.1", now).await.unwrap();
    store.record_login_failure("zhangsan", "ip:10.0.0.2", now - Duration::hours(2)).await.unwrap();
    store.record_login_failure("zhangsan", "device:abc", now - Duration::minutes(1)).await.unwrap();
    let since = now - Duration::minutes(15);
    let f = store.login_failures("zhangsan", "ip:10.0.0.1", since).await.unwrap();
    assert_eq!((f.pair, f.client, f.username_untrusted), (3, 4, 3), "{f:?}");
    assert_eq!(f.pair_last.map(|t| t.timestamp_micros()), Some(now.timestamp_micros()));
    let f = store.login_failures("zhangsan", "device:abc", since).await.unwrap();
    assert_eq!((f.pair, f.client, f.username_untrusted), (1, 1, 3), "a device's failures are its own: {f:?}");
    let f = store.login_failures("wangwu", "ip:10.0.0.1", since).await.unwrap();
    assert_eq!((f.pair, f.pair_last, f.client, f.username_untrusted), (0, None, 4, 0));
    let f = store.login_failures("zhangsan", "ip:10.0.0.2", now - Duration::hours(3)).await.unwrap();
    assert_eq!((f.pair, f.username_untrusted), (1, 4));
    store.clear_login_failures("zhangsan", "ip:10.0.0.1").await.unwrap();
    let f = store.login_failures("zhangsan", "ip:10.0.0.1", since).await.unwrap();
    assert_eq!((f.pair, f.client, f.username_untrusted), (0, 1, 0), "only that client's failures go: {f:?}");
    assert_eq!(store.login_failures("zhangsan", "device:abc", since).await.unwrap().pair, 1);
    store.record_login_failure("old", "ip:10.0.0.3", now - Duration::hours(5)).await.unwrap();
    assert_eq!(store.purge_expired(now, now - Duration::hours(1)).await.unwrap(), 2);
}

pub async fn credentials(store: DynStore) {
    let (authority, dept) = base(&store).await;
    let now = Utc::now().trunc_subsecs(6);
    let make = |name: &str, offset: i64, org: OrgId| ApiCredential {
        id: CredentialId::new(),
        org_id: org,
        name: name.into(),
        created_by: "user:gat.head".into(),
        created_at: now + Duration::seconds(offset),
        expires_at: now + Duration::days(30),
        revoked_at: None,
    };
    let first = make("户籍系统", 0, dept.id);
    let second = make("出入境系统", 1, dept.id);
    let other = make("别的单位", 2, authority.id);
    for c in [&first, &second, &other] {
        store.create_credential(c, &format!("digest-{}", c.name), &event("credential.issue")).await.unwrap();
    }
    let (got, digest) = store.get_credential(first.id).await.unwrap().unwrap();
    assert_eq!((got, digest.as_str()), (first.clone(), "digest-户籍系统"));
    assert_eq!(store.get_credential(CredentialId::new()).await.unwrap(), None);
    let listed: Vec<String> = store.list_credentials(dept.id).await.unwrap().into_iter().map(|c| c.name).collect();
    assert_eq!(listed, ["出入境系统", "户籍系统"], "newest first, own organisation only");
    let at = now + Duration::minutes(5);
    store.revoke_credential(first.id, at, &event("credential.revoke")).await.unwrap();
    assert_eq!(store.get_credential(first.id).await.unwrap().unwrap().0.revoked_at, Some(at));
    assert!(is_conflict(store.revoke_credential(first.id, at, &event("credential.revoke")).await).contains("已吊销"));
    assert!(matches!(
        store.revoke_credential(CredentialId::new(), at, &event("x")).await,
        Err(StoreError::NotFound(_))
    ));
}

/// Every successful change appends exactly one record; a refused one appends none; the chain verifies.
pub async fn audit_chain(store: DynStore) {
    assert_eq!(store.audit_head().await.unwrap(), None);
    let (_, dept) = base(&store).await;
    assert_eq!(audit_seq(&store).await, 4);
    let dup = org("department", "330000", "重复", 2);
    let _ = store.create_org(&dup, &event("org.create")).await;
    assert_eq!(audit_seq(&store).await, 4, "a refused change leaves no record");
    let scoped = AuditEvent::new(
        "user:gat.head",
        Some(dept.id),
        "org.work_unit.update",
        "organisation",
        dept.id,
        serde_json::json!({"n": 1}),
    );
    store.update_org_work_unit(dept.id, "新机构", &scoped).await.unwrap();
    let appended = store.append_audit(&event("audit.note")).await.unwrap();
    assert_eq!(appended.seq, 6);

    let all = store.audit_records(0, 100).await.unwrap();
    assert_eq!(all.iter().map(|r| r.seq).collect::<Vec<_>>(), (1..=6).collect::<Vec<_>>());
    assert_eq!(all[5], appended, "read back exactly as sealed, timestamps included");
    assert_eq!(store.audit_records(4, 1).await.unwrap()[0].seq, 5, "paging");
    let mut verifier = ChainVerifier::default();
    for r in &all {
        verifier.push(r).unwrap();
    }
    assert_eq!(verifier.finish(store.audit_head().await.unwrap()), Ok(6));

    let recent: Vec<i64> = store.recent_audit(None, 3).await.unwrap().iter().map(|r| r.seq).collect();
    assert_eq!(recent, [6, 5, 4]);
    let mine = store.recent_audit(Some(dept.id), 10).await.unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].org_id, Some(dept.id));
    assert_eq!(mine[0].detail, r#"{"n":1}"#);
}

/// Concurrent changes from many tasks still form one unbroken chain.
pub async fn concurrent_appends(store: DynStore) {
    base(&store).await;
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(
                async move { store.create_user(&user(&format!("user{i:02}")), "h", &event("user.create")).await },
            )
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let all = store.audit_records(0, 1000).await.unwrap();
    assert_eq!(all.len(), 24);
    let mut verifier = ChainVerifier::default();
    for r in &all {
        verifier.push(r).unwrap();
    }
    assert_eq!(verifier.finish(store.audit_head().await.unwrap()), Ok(24));
}

pub async fn calendar_years(store: DynStore) {
    assert!(store.calendar_years().await.unwrap().is_empty());
    let years = vec![(2027, r#"{"years":{"2027":{}}}"#.to_owned()), (2028, "b".to_owned())];
    store.save_calendar_years(&years, &event("calendar.import")).await.unwrap();
    store.save_calendar_years(&[(2027, "replaced".to_owned())], &event("calendar.import")).await.unwrap();
    assert_eq!(store.calendar_years().await.unwrap(), vec![(2027, "replaced".to_owned()), (2028, "b".to_owned())]);
    assert_eq!(audit_seq(&store).await, 2);
}

fn content(code: &str, name: &str) -> EntryContent {
    let input = EntryInput {
        name: name.into(),
        resource_code: code.into(),
        summary: "摘要".into(),
        format: "database".into(),
        items: vec![DataItemInput {
            name: "姓名".into(),
            code: "xm".into(),
            data_type: "string".into(),
            length: Some(50),
            grade_class: "一般数据".into(),
            grade_level: 2,
            personal_info: Some("name".into()),
            format: None,
        }],
        update_frequency: "daily".into(),
        sharing_attribute: "unconditional".into(),
        delivery_methods: vec!["service_api".into()],
        grade_class: "一般数据".into(),
        grade_level: 2,
        ..Default::default()
    };
    EntryContent::parse(&input, &GradeScheme::default()).unwrap()
}

fn version(n: u32, status: EntryStatus, content: EntryContent) -> EntryVersion {
    EntryVersion { version: n, status, content, assessments: vec![], updated_at: Utc::now().trunc_subsecs(6) }
}

fn entry_event(n: u32, action: &str) -> EntryEvent {
    EntryEvent {
        version: n,
        at: Utc::now().trunc_subsecs(6),
        actor: "user:gat.clerk".into(),
        actor_name: "王警官".into(),
        action: action.into(),
        note: String::new(),
    }
}

/// A published entry of `provider` with resource code `code`, stored.
async fn published_entry(store: &DynStore, provider: OrgId, code: &str) -> CatalogEntry {
    let entry = CatalogEntry {
        id: EntryId::new(),
        provider,
        created_at: Utc::now().trunc_subsecs(6),
        versions: vec![version(1, EntryStatus::Published, content(code, "居民户籍信息"))],
        events: vec![entry_event(1, "draft.create")],
    };
    store.create_entry(&entry, &event("catalog.create")).await.unwrap();
    entry
}

/// The request of every application these tests make, valid from `from` to `until`.
fn app_request(from: NaiveDate, until: NaiveDate) -> ApplicationRequest {
    ApplicationRequest {
        items: vec!["name".into()],
        legal_basis: "《户口登记条例》".into(),
        basis_document: "国务院令".into(),
        scenario: "核验".into(),
        scope: "本厅".into(),
        delivery: DeliveryMethod::ServiceApi,
        valid_from: from,
        valid_until: until,
    }
}

/// A step of an application taken at `at` by a person of `org`.
fn app_step(org: OrgId, step: Step, at: DateTime<Utc>) -> ApplicationEvent {
    ApplicationEvent { at, actor: "user:x".into(), actor_name: "某人".into(), org, step }
}

/// A new, unnumbered application of `requester` to `provider` for `entry`, created at `at` with `request`.
fn new_application(
    requester: OrgId,
    provider: OrgId,
    entry: EntryId,
    request: &ApplicationRequest,
    at: DateTime<Utc>,
) -> Application {
    Application {
        id: ApplicationId::new(),
        number: String::new(),
        requester,
        provider,
        entry,
        entry_version: 1,
        entry_name: "居民户籍信息".into(),
        attribute: SharingAttribute::Conditional,
        created_at: at,
        events: vec![app_step(requester, Step::Create { request: request.clone() }, at)],
    }
}

/// A new, unnumbered, active grant under `app` for its request's period, created at `at`.
fn new_grant(app: &Application, request: &ApplicationRequest, at: DateTime<Utc>) -> Grant {
    Grant {
        id: GrantId::new(),
        number: String::new(),
        application: app.id,
        requester: app.requester,
        provider: app.provider,
        entry: app.entry,
        items: vec![GrantItem { code: "name".into(), masking: Masking::Mask }],
        purpose: "核验".into(),
        row_scope: None,
        delivery: [DeliveryMethod::ServiceApi].into(),
        valid_from: request.valid_from,
        valid_until: request.valid_until,
        rate_per_minute: 60,
        daily_rows: 1000,
        state: GrantState::Active,
        further_purposes: vec![],
        third_parties: vec![],
        past_terms: vec![],
        terms_since: None,
        aggregation: None,
        scheduled_narrowing: None,
        ends_on: None,
        hash_key: "00".into(),
        created_at: at,
        events: vec![GrantEvent {
            at,
            actor: "user:x".into(),
            action: "create".into(),
            reason: String::new(),
            ..Default::default()
        }],
    }
}

pub async fn catalog_entries(store: DynStore) {
    let (authority, dept) = base(&store).await;
    let entry = CatalogEntry {
        id: EntryId::new(),
        provider: dept.id,
        created_at: Utc::now().trunc_subsecs(6),
        versions: vec![version(1, EntryStatus::Draft, content("330000-GAT-0001", "居民户籍信息"))],
        events: vec![entry_event(1, "draft.create")],
    };
    store.create_entry(&entry, &event("catalog.create")).await.unwrap();
    assert_eq!(store.get_entry(entry.id).await.unwrap(), entry, "round trip");
    let clash = CatalogEntry { id: EntryId::new(), ..entry.clone() };
    assert!(is_conflict(store.create_entry(&clash, &event("catalog.create")).await).contains("330000-GAT-0001"));

    // Publish v1 with a notification to each organisation, then start v2 under a new code.
    let published = version(1, EntryStatus::Published, content("330000-GAT-0001", "居民户籍信息"));
    let notes: Vec<Notification> = [authority.id, dept.id]
        .into_iter()
        .map(|o| {
            Notification::new(
                o,
                Utc::now().trunc_subsecs(6),
                "catalog.published",
                "发布".into(),
                "正文".into(),
                "/x".into(),
            )
        })
        .collect();
    store
        .save_versions(
            entry.id,
            std::slice::from_ref(&published),
            &entry_event(1, "authority.publish"),
            &[],
            &notes,
            &event("catalog.publish"),
        )
        .await
        .unwrap();
    let v2 = version(2, EntryStatus::Draft, content("330000-GAT-0002", "居民户籍信息(新)"));
    store
        .save_versions(
            entry.id,
            std::slice::from_ref(&v2),
            &entry_event(2, "draft.create"),
            &[],
            &[],
            &event("catalog.revise"),
        )
        .await
        .unwrap();
    let got = store.get_entry(entry.id).await.unwrap();
    assert_eq!(got.versions, vec![published.clone(), v2.clone()]);
    assert_eq!(
        got.events.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
        ["draft.create", "authority.publish", "draft.create"]
    );
    assert_eq!(got.published().map(|v| v.version), Some(1));
    assert_eq!(got.working().map(|v| v.version), Some(2));

    // The entry is now known by its newest code; the old code is free.
    let reuse = CatalogEntry {
        id: EntryId::new(),
        provider: dept.id,
        created_at: Utc::now().trunc_subsecs(6),
        versions: vec![version(1, EntryStatus::Draft, content("330000-GAT-0001", "另一目录"))],
        events: vec![entry_event(1, "draft.create")],
    };
    store.create_entry(&reuse, &event("catalog.create")).await.unwrap();
    let v2_clash = version(2, EntryStatus::Draft, content("330000-GAT-0001", "冲突"));
    let before = audit_seq(&store).await;
    assert!(
        is_conflict(
            store.save_versions(entry.id, &[v2_clash], &entry_event(2, "draft.edit"), &[], &[], &event("x")).await
        )
        .contains("330000-GAT-0001")
    );
    assert_eq!(audit_seq(&store).await, before);
    assert_eq!(store.get_entry(entry.id).await.unwrap().versions[1], v2, "a refused save changes nothing");
    assert!(matches!(
        store.save_versions(EntryId::new(), &[], &entry_event(1, "x"), &[], &[], &event("x")).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(store.get_entry(EntryId::new()).await, Err(StoreError::NotFound(_))));

    assert_eq!(store.list_entries(None).await.unwrap().iter().map(|e| e.id).collect::<Vec<_>>(), [entry.id, reuse.id]);
    assert_eq!(store.list_entries(Some(authority.id)).await.unwrap().len(), 0);
    assert_eq!(store.list_entries(Some(dept.id)).await.unwrap().len(), 2);
    assert_eq!(store.published_versions().await.unwrap(), [(entry.id, 1)], "drafts are not published");

    // A batch is all or nothing.
    let batch = |code: &str| CatalogEntry {
        id: EntryId::new(),
        provider: dept.id,
        created_at: Utc::now().trunc_subsecs(6),
        versions: vec![version(1, EntryStatus::Draft, content(code, "批量导入"))],
        events: vec![entry_event(1, "import.create")],
    };
    let before = audit_seq(&store).await;
    let clash = [batch("330000-GAT-0101"), batch("330000-GAT-0001")];
    assert!(is_conflict(store.create_entries(&clash, &event("catalog.import")).await).contains("330000-GAT-0001"));
    assert_eq!(audit_seq(&store).await, before);
    assert_eq!(store.list_entries(Some(dept.id)).await.unwrap().len(), 2, "nothing of the batch was stored");
    let fine = [batch("330000-GAT-0101"), batch("330000-GAT-0102")];
    store.create_entries(&fine, &event("catalog.import")).await.unwrap();
    assert_eq!(audit_seq(&store).await, before + 1, "one audit record for the batch");
    assert_eq!(store.list_entries(Some(dept.id)).await.unwrap().len(), 4);

    let mine = store.notifications(dept.id, "user:clerk", 10).await.unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0], notes[1]);
    assert!(matches!(
        store.mark_notification_read(authority.id, "user:reviewer", mine[0].id, Utc::now()).await,
        Err(StoreError::NotFound(_))
    ));
    let at = Utc::now().trunc_subsecs(6);
    store.mark_notification_read(dept.id, "user:clerk", mine[0].id, at).await.unwrap();
    store.mark_notification_read(dept.id, "user:clerk", mine[0].id, at + Duration::hours(1)).await.unwrap();
    assert_eq!(
        store.notifications(dept.id, "user:clerk", 10).await.unwrap()[0].read_at,
        Some(at),
        "first reading counts"
    );
    // Each person reads on their own: the clerk's reading is not the head's.
    assert_eq!(store.notifications(dept.id, "user:head", 10).await.unwrap()[0].read_at, None);
    assert!(store.notifications(authority.id, "user:clerk", 10).await.unwrap().iter().all(|n| n.id != mine[0].id));
}

/// A draft is deleted with its versions and events, in one audited transaction, unless someone acted on it since
/// it was read; its resource code is free again.
pub async fn draft_deletion(store: DynStore) {
    let (_, dept) = base(&store).await;
    let draft = CatalogEntry {
        id: EntryId::new(),
        provider: dept.id,
        created_at: Utc::now().trunc_subsecs(6),
        versions: vec![version(1, EntryStatus::Draft, content("330000-GAT-0301", "误建目录"))],
        events: vec![entry_event(1, "draft.create")],
    };
    store.create_entry(&draft, &event("catalog.create")).await.unwrap();
    let kept = published_entry(&store, dept.id, "330000-GAT-0302").await;
    store
        .save_versions(
            draft.id,
            &[version(1, EntryStatus::Draft, content("330000-GAT-0301", "误建目录（改）"))],
            &entry_event(1, "draft.edit"),
            &[],
            &[],
            &event("catalog.edit"),
        )
        .await
        .unwrap();

    // Read before the edit: refused, and nothing changes.
    let before = audit_seq(&store).await;
    assert!(is_conflict(store.delete_entry(draft.id, 1, &event("catalog.delete")).await).contains("刷新"));
    assert_eq!(audit_seq(&store).await, before);
    assert_eq!(store.get_entry(draft.id).await.unwrap().events.len(), 2);

    store.delete_entry(draft.id, 2, &event("catalog.delete")).await.unwrap();
    assert_eq!(audit_seq(&store).await, before + 1, "audited in the same transaction");
    assert!(matches!(store.get_entry(draft.id).await, Err(StoreError::NotFound(_))));
    assert_eq!(store.list_entries(Some(dept.id)).await.unwrap().iter().map(|e| e.id).collect::<Vec<_>>(), [kept.id]);
    assert!(matches!(store.delete_entry(draft.id, 2, &event("catalog.delete")).await, Err(StoreError::NotFound(_))));
    assert_eq!(audit_seq(&store).await, before + 1);

    // The code is free for a new entry; the other entry is untouched.
    let again = CatalogEntry { id: EntryId::new(), ..draft.clone() };
    store.create_entry(&again, &event("catalog.create")).await.unwrap();
    assert_eq!(store.get_entry(kept.id).await.unwrap(), kept);
}

/// Report files are written and dropped with the version that names them, in its transaction; an entry's
/// deletion takes its files along.
pub async fn assessment_reports(store: DynStore) {
    let (_, dept) = base(&store).await;
    let mut draft = version(1, EntryStatus::Draft, content("330000-GAT-0401", "附报告的目录"));
    let entry = CatalogEntry {
        id: EntryId::new(),
        provider: dept.id,
        created_at: Utc::now().trunc_subsecs(6),
        versions: vec![draft.clone()],
        events: vec![entry_event(1, "draft.create")],
    };
    store.create_entry(&entry, &event("catalog.create")).await.unwrap();
    let (first, second) = (ReportId::new(), ReportId::new());
    let pdf = |n: u8| [b"%PDF-1.7\n".as_slice(), &[n; 300]].concat();
    draft.assessments = vec![Assessment {
        id: AssessmentId::new(),
        kind: AssessmentKind::Confidentiality,
        document_title: "保密风险评估报告".into(),
        document_ref: "浙公评〔2026〕1号".into(),
        assessed_on: NaiveDate::from_ymd_opt(2026, 11, 2).unwrap(),
        conclusion: AssessmentConclusion::Pass,
        report: Some(AssessmentReport {
            id: first,
            file_name: "报告.pdf".into(),
            size: 309,
            sm3: file_sm3(&pdf(1)),
            uploaded_at: Utc::now().trunc_subsecs(6),
            uploaded_by: "王警官".into(),
        }),
    }];
    let before = audit_seq(&store).await;
    let missing = store
        .save_assessments(EntryId::new(), &draft, Some((first, &pdf(1))), None, &entry_event(1, "x"), &event("x"))
        .await;
    assert!(matches!(missing, Err(StoreError::NotFound(_))));
    assert_eq!(store.report_file(entry.id, first).await.unwrap(), None, "nothing of a refused save is stored");
    store
        .save_assessments(
            entry.id,
            &draft,
            Some((first, &pdf(1))),
            None,
            &entry_event(1, "assessment.report"),
            &event("r"),
        )
        .await
        .unwrap();
    assert_eq!(audit_seq(&store).await, before + 1);
    assert_eq!(store.report_file(entry.id, first).await.unwrap(), Some(pdf(1)));
    assert_eq!(store.get_entry(entry.id).await.unwrap().versions, [draft.clone()], "the version names it");
    assert_eq!(store.report_file(EntryId::new(), first).await.unwrap(), None, "only under its own entry");

    // Replaced: the new file in, the old one out, in the same transaction.
    draft.assessments[0].report.as_mut().unwrap().id = second;
    store
        .save_assessments(
            entry.id,
            &draft,
            Some((second, &pdf(2))),
            Some(first),
            &entry_event(1, "assessment.report"),
            &event("r"),
        )
        .await
        .unwrap();
    assert_eq!(store.report_file(entry.id, first).await.unwrap(), None);
    assert_eq!(store.report_file(entry.id, second).await.unwrap(), Some(pdf(2)));
    let events = store.get_entry(entry.id).await.unwrap().events.len();
    store.delete_entry(entry.id, events, &event("catalog.delete")).await.unwrap();
    assert_eq!(store.report_file(entry.id, second).await.unwrap(), None, "deleted with its entry");
}

pub async fn obligations_and_sources(store: DynStore) {
    use govshare_domain::obligation::{Extension, ExtensionDecision, ObligationId, TriggerKind, UpdateObligation};
    use govshare_domain::source::SourceDesignation;

    let (authority, dept) = base(&store).await;
    let entry = published_entry(&store, dept.id, "330000-GAT-0009").await;
    let obligation = UpdateObligation {
        id: ObligationId::new(),
        entry: entry.id,
        kind: TriggerKind::DutyChange,
        changed_on: chrono::NaiveDate::from_ymd_opt(2026, 11, 2).unwrap(),
        description: "机构改革,职责划入".into(),
        recorded_by: "reviewer".into(),
        recorded_at: Utc::now().trunc_subsecs(6),
        extension: None,
    };
    let note = Notification::new(
        dept.id,
        Utc::now().trunc_subsecs(6),
        "catalog.obligation",
        "t".into(),
        "b".into(),
        "/x".into(),
    );
    store
        .create_obligation(&obligation, &[], std::slice::from_ref(&note), &event("catalog.obligation.record"))
        .await
        .unwrap();
    assert_eq!(store.get_obligation(obligation.id).await.unwrap(), obligation, "round trip");
    assert_eq!(store.notifications(dept.id, "user:clerk", 10).await.unwrap(), [note]);
    let orphan = UpdateObligation { id: ObligationId::new(), entry: EntryId::new(), ..obligation.clone() };
    let before = audit_seq(&store).await;
    assert!(matches!(store.create_obligation(&orphan, &[], &[], &event("x")).await, Err(StoreError::NotFound(_))));
    assert_eq!(audit_seq(&store).await, before, "nothing written");

    // Compare-and-set of the extension: the first writer wins, a stale writer gets a conflict.
    let requested = Extension {
        reason: "涉及多个处室".into(),
        requested_by: "gat.head".into(),
        requested_at: Utc::now().trunc_subsecs(6),
        decision: None,
    };
    store.set_obligation_extension(obligation.id, None, &requested, &[], &[], &event("ext.request")).await.unwrap();
    assert!(
        is_conflict(store.set_obligation_extension(obligation.id, None, &requested, &[], &[], &event("x")).await)
            .contains("刷新")
    );
    let decided = Extension {
        decision: Some(ExtensionDecision {
            granted: true,
            note: String::new(),
            decided_by: "reviewer".into(),
            decided_at: Utc::now().trunc_subsecs(6),
        }),
        ..requested.clone()
    };
    store
        .set_obligation_extension(obligation.id, Some(&requested), &decided, &[], &[], &event("ext.decide"))
        .await
        .unwrap();
    assert_eq!(store.get_obligation(obligation.id).await.unwrap().extension, Some(decided));
    assert!(matches!(
        store.set_obligation_extension(ObligationId::new(), None, &requested, &[], &[], &event("x")).await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(store.list_obligations(Some(dept.id)).await.unwrap().len(), 1);
    assert_eq!(store.list_obligations(Some(authority.id)).await.unwrap().len(), 0);
    assert_eq!(store.list_obligations(None).await.unwrap().len(), 1);

    // One designation per region and subject: a new one replaces the old.
    let region = dept.region;
    let first = SourceDesignation {
        id: uuid::Uuid::now_v7(),
        region,
        subject: "户籍人口".into(),
        items: vec!["姓名".into(), "公民身份号码".into()],
        source_org: dept.id,
        entry: Some(entry.id),
        basis: "浙数据〔2026〕3号".into(),
        designated_by: "reviewer".into(),
        designated_at: Utc::now().trunc_subsecs(6),
    };
    store.save_designation(&first, &[], &event("source.designate")).await.unwrap();
    assert_eq!(store.list_designations(Some(region)).await.unwrap(), std::slice::from_ref(&first));
    let second = SourceDesignation { id: uuid::Uuid::now_v7(), source_org: authority.id, entry: None, ..first.clone() };
    store.save_designation(&second, &[], &event("source.designate")).await.unwrap();
    assert_eq!(store.list_designations(None).await.unwrap(), [second]);
    assert!(store.list_designations(Some(RegionCode::parse("330100").unwrap())).await.unwrap().is_empty());
}

pub async fn applications_and_alerts(store: DynStore) {
    use govshare_domain::application::Stage;
    use govshare_domain::notification::{AlertKind, DeadlineAlert};

    let (authority, dept) = base(&store).await;
    let entry = published_entry(&store, dept.id, "330000-GAT-0010").await;
    let now = Utc::now().trunc_subsecs(6);
    let request = app_request(now.date_naive(), now.date_naive() + Duration::days(30));
    let step = |step: Step, at| app_step(authority.id, step, at);
    let mut application = new_application(authority.id, dept.id, entry.id, &request, now);
    let note = Notification::new(dept.id, now, "application.received", "t".into(), "b".into(), "/x".into());
    store
        .create_application(&mut application, &[], std::slice::from_ref(&note), &event("application.create"))
        .await
        .unwrap();
    let year = govshare_domain::number::number_year(now);
    assert_eq!(application.number, format!("SQ-{year}-000001"), "the store numbers what it creates");
    assert_eq!(store.get_application(application.id).await.unwrap(), application, "round trip");
    assert_eq!(store.notifications(dept.id, "user:clerk", 10).await.unwrap(), [note]);

    let mut orphan =
        Application { id: ApplicationId::new(), number: String::new(), entry: EntryId::new(), ..application.clone() };
    let before = audit_seq(&store).await;
    assert!(matches!(store.create_application(&mut orphan, &[], &[], &event("x")).await, Err(StoreError::NotFound(_))));
    assert!(orphan.number.is_empty(), "a failed creation gets no number");
    assert_eq!(audit_seq(&store).await, before, "nothing written");

    // Compare-and-set on the number of events: of two people acting on the same state, the second is refused.
    let mut submitted = application.clone();
    submitted.events.push(step(Step::Submit, now + Duration::seconds(1)));
    let mut edited = application.clone();
    edited.events.push(step(Step::Edit { request }, now));
    store.save_application(&submitted, 1, &[], &[], &event("application.submit")).await.unwrap();
    let before = audit_seq(&store).await;
    assert!(
        is_conflict(store.save_application(&edited, 1, &[], &[], &event("application.edit")).await).contains("刷新")
    );
    assert_eq!(audit_seq(&store).await, before, "the loser writes nothing");
    assert_eq!(store.get_application(application.id).await.unwrap().stage(), Stage::AwaitingRequesterHead);
    assert!(matches!(store.save_application(&orphan, 1, &[], &[], &event("x")).await, Err(StoreError::NotFound(_))));

    assert_eq!(store.list_applications(Some(dept.id), false).await.unwrap().len(), 1, "the provider's");
    assert_eq!(store.list_applications(Some(authority.id), true).await.unwrap().len(), 1, "the requester's");
    let mut withdrawn = submitted.clone();
    withdrawn.events.push(step(Step::Withdraw { note: String::new() }, now + Duration::seconds(2)));
    store.save_application(&withdrawn, 2, &[], &[], &event("application.withdraw")).await.unwrap();
    assert!(store.list_applications(None, true).await.unwrap().is_empty(), "withdrawn is not open");
    assert_eq!(store.list_applications(None, false).await.unwrap(), [withdrawn]);

    // An alert on a duty is recorded once, with its notifications, however many callers (sweeping instances) race for it.
    let duty = govshare_domain::duty::Duty {
        key: format!("application:{}:reply:2", application.id),
        kind: govshare_domain::duty::DutyKind::Reply,
        subject_kind: govshare_domain::duty::SubjectKind::Application,
        subject_id: application.id.0,
        title: "居民户籍信息".into(),
        owner: dept.id,
        role: Role::Clerk,
        counterpart: Some(authority.id),
        started_at: now - Duration::days(20),
        days: Some(10),
        due_at: Some(now),
        closed_at: None,
        met: false,
    };
    store.backfill_duties(std::slice::from_ref(&duty), &event("duty.backfill")).await.unwrap();
    let alert = DeadlineAlert {
        key: format!("application:{}:reply:2:2026-12-01:overdue", application.id),
        subject: format!("application:{}", application.id),
        kind: AlertKind::Overdue,
        due_at: now,
        created_at: now,
        note: "答复期限".into(),
    };
    let mut racers = Vec::new();
    for _ in 0..8 {
        let (store, alert, key) = (store.clone(), alert.clone(), duty.key.clone());
        let note = Notification::new(dept.id, now, "deadline.overdue", "逾期".into(), "b".into(), "/x".into());
        racers.push(tokio::spawn(async move {
            store.mark_duty(&key, now, &alert, &[note], &event("deadline.overdue")).await.unwrap()
        }));
    }
    let mut won = 0;
    for r in racers {
        won += usize::from(r.await.unwrap());
    }
    assert_eq!(won, 1, "exactly one caller records the alert");
    let overdue = store.notifications(dept.id, "user:clerk", 20).await.unwrap();
    assert_eq!(overdue.iter().filter(|n| n.kind == "deadline.overdue").count(), 1, "and one notification is sent");
    assert_eq!(store.deadline_alerts(&alert.subject).await.unwrap(), std::slice::from_ref(&alert));
    assert_eq!(store.overdue_marks(10).await.unwrap(), [alert]);
}

/// Human numbers: each kind counts per Beijing year from 1, in creation order, without gaps or repeats, however
/// many creations race; reads carry the number.
pub async fn numbers(store: DynStore) {
    use govshare_domain::number::number_year;

    let (authority, dept) = base(&store).await;
    let entry = published_entry(&store, dept.id, "330000-GAT-0030").await;
    let now = Utc::now().trunc_subsecs(6);
    let year = number_year(now);
    let request = app_request(now.date_naive(), now.date_naive() + Duration::days(30));
    let step = |step: Step, at| app_step(authority.id, step, at);
    let application = |at| new_application(authority.id, dept.id, entry.id, &request, at);
    let consecutive = |prefix: &str, year: i32, from: usize, n: usize| -> Vec<String> {
        (from..from + n).map(|i| format!("{prefix}-{year}-{i:06}")).collect()
    };

    // Eight applications created at once: eight distinct numbers, 1 to 8.
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (store, mut a) = (store.clone(), application(now));
            tokio::spawn(async move {
                store.create_application(&mut a, &[], &[], &event("application.create")).await.map(|()| a)
            })
        })
        .collect();
    let mut created = Vec::new();
    for t in tasks {
        created.push(t.await.unwrap().unwrap());
    }
    let mut numbers: Vec<String> = created.iter().map(|a| a.number.clone()).collect();
    numbers.sort();
    assert_eq!(numbers, consecutive("SQ", year, 1, 8), "distinct, consecutive, year-prefixed");
    for a in &created {
        assert_eq!(store.get_application(a.id).await.unwrap().number, a.number, "the read carries the number");
    }
    let listed: Vec<String> =
        store.list_applications(None, false).await.unwrap().into_iter().map(|a| a.number).collect();
    assert_eq!(listed.len(), 8);
    assert!(listed.iter().all(|n| numbers.contains(n)), "{listed:?}");

    // A failed creation uses no number; the next one follows on.
    let mut orphan = Application { entry: EntryId::new(), ..application(now) };
    assert!(store.create_application(&mut orphan, &[], &[], &event("x")).await.is_err());
    let mut ninth = application(now);
    store.create_application(&mut ninth, &[], &[], &event("application.create")).await.unwrap();
    assert_eq!(ninth.number, format!("SQ-{year}-000009"));

    // The year is Beijing's: 16:00 UTC on 31 December is already the next year, whose sequence starts at 1.
    let eve: chrono::DateTime<Utc> = "2030-12-31T15:59:59Z".parse().unwrap();
    let mut old_year = application(eve);
    store.create_application(&mut old_year, &[], &[], &event("application.create")).await.unwrap();
    let mut new_year = application(eve + Duration::seconds(1));
    store.create_application(&mut new_year, &[], &[], &event("application.create")).await.unwrap();
    assert_eq!((old_year.number.as_str(), new_year.number.as_str()), ("SQ-2030-000001", "SQ-2031-000001"));

    // Grants have their own sequence: eight created at once (each with its application's delivery step) are
    // numbered 1 to 8; a creation refused by the compare-and-set uses none.
    let grant = |app: &Application| new_grant(app, &request, now);
    let delivered = |app: &Application| {
        let mut app = app.clone();
        app.events.push(step(Step::RecordDelivery { note: "已创建共享授权".into() }, now));
        app
    };
    let mut stale = grant(&created[0]);
    assert!(
        store.create_grant(&mut stale, &delivered(&created[0]), 0, &[], &[], &event("grant.create")).await.is_err()
    );
    let tasks: Vec<_> = created
        .iter()
        .map(|app| {
            let (store, mut g, app) = (store.clone(), grant(app), delivered(app));
            tokio::spawn(async move {
                store.create_grant(&mut g, &app, 1, &[], &[], &event("grant.create")).await.map(|()| g)
            })
        })
        .collect();
    let mut grants = Vec::new();
    for t in tasks {
        grants.push(t.await.unwrap().unwrap());
    }
    let mut numbers: Vec<String> = grants.iter().map(|g| g.number.clone()).collect();
    numbers.sort();
    assert_eq!(numbers, consecutive("GX", year, 1, 8), "distinct, consecutive, year-prefixed");
    for g in &grants {
        assert_eq!(store.get_grant(g.id).await.unwrap().number, g.number, "the read carries the number");
    }
    let listed: Vec<String> = store.list_grants(None).await.unwrap().into_iter().map(|g| g.number).collect();
    assert_eq!(listed.len(), 8);
    assert!(listed.iter().all(|n| numbers.contains(n)), "{listed:?}");
}

/// A directory holding the shipped migrations in `shipped` older than `first_left_out` (a version prefix such as
/// `"0009"`), to build a database as an earlier release left it.
pub fn migrations_before(shipped: &std::path::Path, first_left_out: &str) -> tempfile::TempDir {
    let old = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(shipped).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        if name.as_str() < first_left_out {
            std::fs::copy(&path, old.path().join(name)).unwrap();
        }
    }
    old
}

/// Hosted records as releases before migration 0020 kept them, for the upgrade test each backend runs on a schema
/// built up to 0019: every version in `source_changes` with its operation, the current one included. Three records
/// of two loads: k1 loaded once, k2 updated by the second load, k3 deleted by it. `statements` insert them (bytes
/// written by the backend's `blob`); [`history_kept_on_upgrade`] checks what the migration made of them.
#[derive(Debug)]
pub struct LegacyHistory {
    pub statements: Vec<String>,
    entry: EntryId,
    loads: [uuid::Uuid; 2],
}

pub fn legacy_history(blob: impl Fn(&[u8]) -> String) -> LegacyHistory {
    let entry = EntryId::new();
    let loads = [uuid::Uuid::now_v7(), uuid::Uuid::now_v7()];
    let record = |key: &str, seq: i64, payload: &str, deleted: bool| {
        format!(
            "INSERT INTO source_records (entry_id, key, scope, seq, digest, payload, deleted, load_no) \
             VALUES ('{entry}', '{key}', '', {seq}, 'd-{payload}', {}, {deleted}, 2)",
            blob(payload.as_bytes())
        )
    };
    let change = |seq: i64, key: &str, op: &str, payload: Option<&str>, load: uuid::Uuid| {
        format!(
            "INSERT INTO source_changes (entry_id, seq, key, op, digest, payload, load_id) \
             VALUES ('{entry}', {seq}, '{key}', '{op}', 'd-{}', {}, '{load}')",
            payload.unwrap_or("c"),
            payload.map_or_else(|| "NULL".to_owned(), |p| blob(p.as_bytes()))
        )
    };
    let [l1, l2] = loads;
    let statements = vec![
        record("k1", 1, "a", false),
        record("k2", 4, "b2", false),
        record("k3", 6, "c", true),
        change(1, "k1", "insert", Some("a"), l1),
        change(2, "k2", "insert", Some("b"), l1),
        change(3, "k3", "insert", Some("c"), l1),
        change(4, "k2", "update", Some("b2"), l2),
        change(6, "k3", "delete", None, l2),
    ];
    LegacyHistory { statements, entry, loads }
}

/// After the upgrade each version is stored once: the current ones only as records (naming the load that wrote
/// them), the replaced ones in the history, and every record's versions read as before.
pub async fn history_kept_on_upgrade(store: DynStore, legacy: &LegacyHistory) {
    let [l1, l2] = legacy.loads;
    let versions = async |key: &str| {
        let found = store.record_versions(legacy.entry, key).await.unwrap();
        found
            .into_iter()
            .map(|v| (v.seq, v.digest, v.payload.map(|p| String::from_utf8(p).unwrap()), v.written_by))
            .collect::<Vec<_>>()
    };
    let v = |seq: i64, payload: Option<&str>, load| {
        (seq, format!("d-{}", payload.unwrap_or("c")), payload.map(str::to_owned), load)
    };
    assert_eq!(versions("k1").await, [v(1, Some("a"), l1)]);
    assert_eq!(versions("k2").await, [v(2, Some("b"), l1), v(4, Some("b2"), l2)]);
    assert_eq!(versions("k3").await, [v(3, Some("c"), l1), v(6, None, l2)]);
    // The feed still reads the current versions, tombstone included.
    let changes = store.record_changes(legacy.entry, None, 0, false, 10).await.unwrap();
    assert_eq!(
        changes.iter().map(|r| (r.key.as_str(), r.seq, r.deleted)).collect::<Vec<_>>(),
        [("k1", 1, false), ("k2", 4, false), ("k3", 6, true)]
    );
}

/// Rows as a release before human numbers (migration 0009) kept them, for the upgrade test each backend runs on a
/// schema built up to 0008: `statements` insert them (instants written by the backend's `instant`), and
/// [`numbered_on_upgrade`] checks what the migration made of them.
#[derive(Debug)]
pub struct LegacyRows {
    pub statements: Vec<String>,
    /// The applications in insertion order (not creation order), and the grants.
    applications: Vec<govshare_domain::application::Application>,
    grants: Vec<govshare_domain::grant::Grant>,
}

/// The old rows: three applications (two of 2025 inserted newest first, one created at 00:30 on 1 January 2026
/// in Beijing, still 2025 in UTC) and two grants, their documents without numbers.
pub fn legacy_rows(instant: impl Fn(chrono::DateTime<Utc>) -> String) -> LegacyRows {
    let at = |s: &str| -> chrono::DateTime<Utc> { s.parse().unwrap() };
    let (authority, dept, entry) = (OrgId::new(), OrgId::new(), EntryId::new());
    let request = app_request(at("2025-01-01T00:00:00Z").date_naive(), at("2027-01-01T00:00:00Z").date_naive());
    let application = |created: &str| new_application(authority, dept, entry, &request, at(created));
    let applications = vec![
        application("2025-06-01T02:00:00Z"),
        application("2025-03-01T02:00:00Z"),
        application("2025-12-31T16:30:00Z"),
    ];
    let grant = |app: &Application, created: &str| new_grant(app, &request, at(created));
    let grants = vec![grant(&applications[0], "2026-02-01T02:00:00Z"), grant(&applications[1], "2025-07-01T02:00:00Z")];
    // A document as the old release wrote it: no number.
    let document = |value: serde_json::Value| {
        let mut value = value;
        value.as_object_mut().unwrap().remove("number");
        value.to_string().replace('\'', "''")
    };
    let created = instant(at("2025-01-01T00:00:00Z"));
    let mut statements = vec![
        "INSERT INTO regions (code, name, parent) VALUES ('330000', '浙江省', NULL)".to_owned(),
        format!(
            "INSERT INTO organisations (id, kind, region, name, credit_code, work_unit_name, created_at) VALUES
             ('{authority}', 'authority', '330000', '浙江省大数据发展管理局', '{}', '信息中心', {created}),
             ('{dept}', 'department', '330000', '浙江省公安厅', '{}', '信息中心', {created})",
            code("330000", 1),
            code("330000", 2)
        ),
        format!(
            "INSERT INTO catalog_entries (id, provider, resource_code, created_at)
             VALUES ('{entry}', '{dept}', '330000-GAT-0040', {created})"
        ),
    ];
    for a in &applications {
        statements.push(format!(
            "INSERT INTO applications (id, requester, provider, entry_id, stage, is_open, events, created_at, updated_at,
                                       document)
             VALUES ('{}', '{authority}', '{dept}', '{entry}', 'draft', TRUE, 1, {at}, {at}, '{}')",
            a.id,
            document(serde_json::to_value(a).unwrap()),
            at = instant(a.created_at),
        ));
    }
    for g in &grants {
        statements.push(format!(
            "INSERT INTO grants (id, application_id, requester, provider, entry_id, events, created_at, document)
             VALUES ('{}', '{}', '{authority}', '{dept}', '{entry}', 1, {}, '{}')",
            g.id,
            g.application,
            instant(g.created_at),
            document(serde_json::to_value(g).unwrap()),
        ));
    }
    LegacyRows { statements, applications, grants }
}

/// After the upgrade: the old rows are numbered per Beijing year by creation time, reads carry the numbers, and
/// new creations continue each year's sequence.
pub async fn numbered_on_upgrade(store: DynStore, rows: &LegacyRows) {
    let mut numbers = Vec::new();
    for a in &rows.applications {
        numbers.push(store.get_application(a.id).await.unwrap().number);
    }
    assert_eq!(numbers[1], "SQ-2025-000001", "the oldest first");
    assert_eq!(numbers[0], "SQ-2025-000002");
    assert_eq!(numbers[2], "SQ-2026-000001", "00:30 on 1 January in Beijing is 2026");
    assert_eq!(store.get_grant(rows.grants[1].id).await.unwrap().number, "GX-2025-000001");
    assert_eq!(store.get_grant(rows.grants[0].id).await.unwrap().number, "GX-2026-000001");
    let listed: Vec<String> =
        store.list_applications(None, false).await.unwrap().into_iter().map(|a| a.number).collect();
    assert_eq!(listed, ["SQ-2026-000001", "SQ-2025-000002", "SQ-2025-000001"], "newest first, each numbered");

    // New creations continue after the migrated rows.
    let mut next = govshare_domain::application::Application {
        id: govshare_domain::application::ApplicationId::new(),
        created_at: "2025-08-01T02:00:00Z".parse().unwrap(),
        ..rows.applications[0].clone()
    };
    store.create_application(&mut next, &[], &[], &event("application.create")).await.unwrap();
    assert_eq!(next.number, "SQ-2025-000003");
    let mut app = store.get_application(rows.applications[2].id).await.unwrap();
    app.events.push(govshare_domain::application::ApplicationEvent {
        step: Step::RecordDelivery { note: "已创建共享授权".into() },
        ..app.events[0].clone()
    });
    let mut grant = govshare_domain::grant::Grant {
        id: govshare_domain::grant::GrantId::new(),
        application: app.id,
        ..rows.grants[0].clone()
    };
    store.create_grant(&mut grant, &app, 1, &[], &[], &event("grant.create")).await.unwrap();
    assert_eq!(grant.number, "GX-2026-000002");
}

pub async fn ping(store: DynStore) {
    store.ping().await.unwrap();
}

/// A feed over prepared batches; fails after `fail_after` batches when set.
struct Batches {
    batches: std::collections::VecDeque<Vec<govshare_store::StoredRecord>>,
    fail_after: Option<usize>,
    served: usize,
}

#[async_trait::async_trait]
impl govshare_store::RecordFeed for Batches {
    async fn next_batch(&mut self) -> govshare_store::Result<Option<Vec<govshare_store::StoredRecord>>> {
        if self.fail_after == Some(self.served) {
            return Err(StoreError::Other("the file ended early".into()));
        }
        self.served += 1;
        Ok(self.batches.pop_front())
    }
}

fn stored(key: &str, scope: &str, value: &str) -> govshare_store::StoredRecord {
    govshare_store::StoredRecord {
        key: key.into(),
        scope: scope.into(),
        seq: 0,
        digest: format!("digest-of-{value}"),
        payload: value.as_bytes().to_vec(),
        deleted: false,
    }
}

pub async fn data_plane(store: DynStore) {
    use govshare_domain::grant::UsageRecord;
    use govshare_domain::record::{DataSource, LoadCounts, LoadMode, SourceKind, SourceLoad};
    use govshare_store::UsageFilter;

    let (authority, dept) = base(&store).await;
    let entry = published_entry(&store, dept.id, "330000-GAT-0020").await;
    let now = Utc::now().trunc_subsecs(6);
    let source = DataSource {
        entry: entry.id,
        kind: SourceKind::Hosted { key_item: "name".into(), scope_item: None },
        encrypted: false,
        updated_at: now,
        updated_by: "user:x".into(),
    };
    let load = |mode| SourceLoad {
        id: uuid::Uuid::now_v7(),
        entry: entry.id,
        at: now,
        actor: "user:x".into(),
        file_name: "f.csv".into(),
        file_sm3: "00".into(),
        mode,
        rows_read: 0,
        rows_rejected: 0,
        counts: LoadCounts::default(),
    };
    let feed = |batches: Vec<Vec<govshare_store::StoredRecord>>, fail_after| Batches {
        batches: batches.into(),
        fail_after,
        served: 0,
    };
    // No source bound yet: nothing to load into.
    let mut empty = feed(vec![], None);
    let refused = store.load_records(&load(LoadMode::Replace), &mut empty, &event("source.load")).await;
    assert!(matches!(refused, Err(StoreError::NotFound(_))), "{refused:?}");
    store.save_source(&source, &event("source.bind")).await.unwrap();
    assert_eq!(store.get_source(entry.id).await.unwrap(), Some(source.clone()));

    let first = vec![vec![stored("k1", "330106", "a"), stored("k2", "330302", "b")], vec![stored("k3", "330106", "c")]];
    let first_load = load(LoadMode::Replace);
    let counts = store.load_records(&first_load, &mut feed(first, None), &event("source.load")).await.unwrap();
    assert_eq!(counts, LoadCounts { inserted: 3, ..LoadCounts::default() });
    let all = store.scan_records(entry.id, None, None, 10).await.unwrap();
    assert_eq!(all.iter().map(|r| (r.key.as_str(), r.seq)).collect::<Vec<_>>(), [("k1", 1), ("k2", 2), ("k3", 3)]);
    assert_eq!(all[1].payload, b"b");

    // A load whose feed fails part-way leaves nothing behind.
    let before = audit_seq(&store).await;
    let broken = vec![vec![stored("k9", "", "z")], vec![stored("k8", "", "y")]];
    let failed = store.load_records(&load(LoadMode::Upsert), &mut feed(broken, Some(1)), &event("source.load")).await;
    assert!(failed.is_err());
    assert_eq!(store.get_record(entry.id, "k9").await.unwrap(), None, "no partial load");
    assert_eq!(audit_seq(&store).await, before);
    assert_eq!(store.source_loads(entry.id, 10).await.unwrap().len(), 1);

    // Replace: k1 unchanged, k2 changed, k3 gone, k4 new.
    let second = vec![vec![stored("k1", "330106", "a"), stored("k2", "330302", "b2"), stored("k4", "330106", "d")]];
    let second_load = load(LoadMode::Replace);
    let counts = store.load_records(&second_load, &mut feed(second, None), &event("source.load")).await.unwrap();
    assert_eq!(counts, LoadCounts { inserted: 1, updated: 1, unchanged: 1, deleted: 1 });
    assert_eq!(store.get_record(entry.id, "k3").await.unwrap(), None);
    assert_eq!(store.get_record(entry.id, "k2").await.unwrap().unwrap().payload, b"b2");
    let changes = store.record_changes(entry.id, None, 3, false, 10).await.unwrap();
    assert_eq!(
        changes.iter().map(|r| (r.key.as_str(), r.seq, r.deleted)).collect::<Vec<_>>(),
        [("k2", 4, false), ("k4", 5, false), ("k3", 6, true)]
    );
    let snapshot = store.record_changes(entry.id, None, 0, true, 10).await.unwrap();
    assert_eq!(snapshot.len(), 3);
    let scoped = store.scan_records(entry.id, Some(&["3301".to_owned()]), None, 10).await.unwrap();
    assert_eq!(scoped.iter().map(|r| r.key.as_str()).collect::<Vec<_>>(), ["k1", "k4"]);
    let page = store.scan_records(entry.id, None, Some("k1"), 1).await.unwrap();
    assert_eq!(page[0].key, "k2");
    let nothing = store.scan_records(entry.id, Some(&[]), None, 10).await.unwrap();
    assert!(nothing.is_empty(), "an empty scope holds no rows");
    // Upsert deletes nothing; a deleted record loaded again comes back as new.
    let third = vec![vec![stored("k5", "330106", "e"), stored("k3", "330106", "c3")]];
    let third_load = load(LoadMode::Upsert);
    let counts = store.load_records(&third_load, &mut feed(third, None), &event("source.load")).await.unwrap();
    assert_eq!(counts, LoadCounts { inserted: 2, ..LoadCounts::default() });
    assert_eq!(store.scan_records(entry.id, None, None, 10).await.unwrap().len(), 5);
    assert_eq!(store.get_record(entry.id, "k3").await.unwrap().unwrap().payload, b"c3");
    // Every version each record has had, with the load that wrote it: the replaced ones from the change history
    // (a deletion without payload), then the current one. An unchanged record has one version.
    let versions = |key: &'static str| {
        let store = store.clone();
        async move {
            let found = store.record_versions(entry.id, key).await.unwrap();
            found
                .into_iter()
                .map(|v| (v.seq, v.payload.map(|p| String::from_utf8(p).unwrap()), v.written_by))
                .collect::<Vec<_>>()
        }
    };
    let some = |s: &str| Some(s.to_owned());
    assert_eq!(versions("k1").await, [(1, some("a"), first_load.id)]);
    assert_eq!(versions("k2").await, [(2, some("b"), first_load.id), (4, some("b2"), second_load.id)]);
    assert_eq!(
        versions("k3").await,
        [(3, some("c"), first_load.id), (6, None, second_load.id), (8, some("c3"), third_load.id)]
    );
    assert_eq!(versions("k4").await, [(5, some("d"), second_load.id)]);
    assert_eq!(versions("k5").await, [(7, some("e"), third_load.id)]);
    assert!(versions("never-loaded").await.is_empty());
    let loads = store.source_loads(entry.id, 10).await.unwrap();
    assert_eq!(loads.len(), 3);
    assert_eq!(loads[2].counts.inserted, 3, "history keeps every load's counts");

    // A grant is created together with the application's delivery step.
    let request = app_request(now.date_naive(), now.date_naive() + Duration::days(30));
    let step = |step: Step| app_step(authority.id, step, now);
    let mut application = new_application(authority.id, dept.id, entry.id, &request, now);
    store.create_application(&mut application, &[], &[], &event("application.create")).await.unwrap();
    application.events.push(step(Step::RecordDelivery { note: "授权".into() }));
    let mut grant = new_grant(&application, &request, now);
    // Stale application state: nothing is written.
    let stale = store.create_grant(&mut grant, &application, 0, &[], &[], &event("grant.create")).await;
    assert!(matches!(stale, Err(StoreError::Conflict(_))), "{stale:?}");
    assert!(store.get_grant(grant.id).await.is_err());
    assert!(grant.number.is_empty(), "a failed creation gets no number");
    store.create_grant(&mut grant, &application, 1, &[], &[], &event("grant.create")).await.unwrap();
    let year = govshare_domain::number::number_year(now);
    assert_eq!(grant.number, format!("GX-{year}-000001"), "the stale attempt used no number");
    assert_eq!(store.get_grant(grant.id).await.unwrap(), grant);
    assert_eq!(store.get_application(application.id).await.unwrap().events.len(), 2);
    let mut suspended = grant.clone();
    suspended.state = GrantState::Suspended;
    suspended.events.push(GrantEvent {
        at: now,
        actor: "user:y".into(),
        action: "suspend".into(),
        reason: "r".into(),
        ..Default::default()
    });
    store.save_grant(&suspended, 1, &[], &[], &event("grant.suspend")).await.unwrap();
    assert!(matches!(
        store.save_grant(&suspended, 1, &[], &[], &event("grant.suspend")).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.list_grants(Some(dept.id)).await.unwrap(), [suspended.clone()]);
    assert_eq!(store.list_grants(Some(authority.id)).await.unwrap().len(), 1);
    // R-DEL-6: a document that widens the terms outside an approved change request is refused, whoever wrote it.
    let mut widened = suspended.clone();
    widened.items.push(GrantItem { code: "id_number".into(), masking: Masking::Keep });
    widened.events.push(GrantEvent { at: now, actor: "user:y".into(), action: "resume".into(), ..Default::default() });
    let refused = store.save_grant(&widened, 2, &[], &[], &event("grant.resume")).await;
    assert!(matches!(&refused, Err(StoreError::Conflict(m)) if m.contains("第二十五条")), "{refused:?}");
    assert_eq!(store.get_grant(grant.id).await.unwrap(), suspended, "nothing of the refused write is kept");
    // Several grants are saved together or not at all.
    let mut resumed = suspended.clone();
    resumed.state = GrantState::Active;
    resumed.events.push(GrantEvent { at: now, actor: "user:y".into(), action: "resume".into(), ..Default::default() });
    let unknown = new_grant(&application, &request, now);
    let partial = store.save_grants(&[(&resumed, 2), (&unknown, 1)], &[], &[], &event("grant.resume")).await;
    assert!(matches!(partial, Err(StoreError::NotFound(_))), "{partial:?}");
    assert_eq!(store.get_grant(grant.id).await.unwrap(), suspended, "the first grant's write was rolled back");
    // A security incident is reported together with the suspension of the grants it touches.
    let mut halted = suspended.clone();
    halted.events.push(GrantEvent { at: now, actor: "user:y".into(), action: "note".into(), ..Default::default() });
    let mut incident = govshare_domain::incident::Incident {
        id: govshare_domain::incident::IncidentId::new(),
        number: String::new(),
        org: dept.id,
        region: dept.region,
        title: "接口凭证泄露".into(),
        description: "凭证被第三方使用".into(),
        found_at: now,
        severity: govshare_domain::incident::Severity::Significant,
        entries: vec![entry.id],
        grants: vec![grant.id],
        on_requester_side: true,
        responsible: vec![authority.id],
        emergency_plan: "启动应急预案".into(),
        created_at: now,
        events: vec![govshare_domain::incident::IncidentEvent {
            at: now,
            actor: "user:x".into(),
            step: "report".into(),
            text: "初始报告".into(),
        }],
    };
    let stale = store.report_incident(&mut incident, &[(&halted, 1)], &[], &[], &event("incident.report")).await;
    assert!(matches!(stale, Err(StoreError::Conflict(_))), "{stale:?}");
    assert!(incident.number.is_empty() && store.list_incidents(None, None).await.unwrap().is_empty(), "all or none");
    store.report_incident(&mut incident, &[(&halted, 2)], &[], &[], &event("incident.report")).await.unwrap();
    assert_eq!(incident.number, format!("SJ-{year}-000001"));
    assert_eq!(store.get_incident(incident.id).await.unwrap(), incident);
    assert_eq!(store.get_grant(grant.id).await.unwrap(), halted);
    assert_eq!(store.list_incidents(Some(dept.id), None).await.unwrap().len(), 1);
    assert_eq!(store.list_incidents(None, Some(dept.region)).await.unwrap().len(), 1);
    assert!(store.list_incidents(Some(authority.id), None).await.unwrap().is_empty());
    let mut progressed = incident.clone();
    progressed.events.push(govshare_domain::incident::IncidentEvent {
        at: now,
        actor: "user:x".into(),
        step: "progress".into(),
        text: "已吊销凭证".into(),
    });
    store.save_incident(&progressed, 1, &[], &event("incident.progress")).await.unwrap();
    let again = store.save_incident(&progressed, 1, &[], &event("incident.progress")).await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");

    // Records of use (Art. 29 ¶2) are appended with the grant's duties and read back oldest first.
    let use_record = |i: i64| govshare_domain::use_record::UseRecord {
        id: uuid::Uuid::now_v7(),
        grant: grant.id,
        requester: grant.requester,
        provider: grant.provider,
        period_start: grant.valid_from,
        period_end: grant.valid_until,
        last: true,
        scenario: "就业补贴审核".into(),
        process: format!("第 {i} 次记录"),
        results: "核验 120 人".into(),
        storage: "业务库加密存储".into(),
        destruction: "尚未销毁：授权有效".into(),
        recorded_by: "user:x".into(),
        recorded_at: now + Duration::seconds(i),
    };
    let (first, amended) = (use_record(2), use_record(1));
    store.add_use_record(&first, &[], &[], &event("grant.use_record")).await.unwrap();
    store.add_use_record(&amended, &[], &[], &event("grant.use_record")).await.unwrap();
    assert_eq!(store.use_records(grant.id).await.unwrap(), [amended, first], "oldest first");
    assert!(store.use_records(GrantId::new()).await.unwrap().is_empty());

    let usage = |i: i64, rows: u64| UsageRecord {
        id: uuid::Uuid::now_v7(),
        at: now + Duration::seconds(i),
        requester: authority.id,
        provider: dept.id,
        actor: "system:x".into(),
        system: Some("业务系统".into()),
        grant: Some(grant.id),
        entry: entry.id,
        purpose: "核验".into(),
        operation: "lookup".into(),
        items: vec!["name".into()],
        rows,
        result: "ok".into(),
        latency_us: 120,
    };
    let records: Vec<UsageRecord> = (0..3).map(|i| usage(i, 2)).collect();
    store.append_usage(&records).await.unwrap();
    let read = store.usage_records(&UsageFilter { grant: Some(grant.id), ..UsageFilter::default() }, 10).await.unwrap();
    assert_eq!(read.iter().map(|r| r.id).collect::<Vec<_>>(), records.iter().rev().map(|r| r.id).collect::<Vec<_>>());
    assert_eq!(read[0], records[2], "round trip");
    let older = UsageFilter { party: Some(dept.id), before: Some(records[2].at), ..UsageFilter::default() };
    assert_eq!(store.usage_records(&older, 10).await.unwrap().len(), 2);
    assert!(
        store
            .usage_records(&UsageFilter { entry: Some(EntryId::new()), ..UsageFilter::default() }, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.usage_rows_since(grant.id, now + Duration::seconds(1)).await.unwrap(), 4);

    // The console's table: a region, the other side, a period, a page, and the count of the whole selection.
    let city = org("department", "330100", "杭州市公安局", 3);
    store.create_org(&city, &event("org.create")).await.unwrap();
    let province = UsageFilter { region: Some(RegionCode::parse("330000").unwrap()), ..UsageFilter::default() };
    assert_eq!(store.count_usage(&province).await.unwrap(), 3);
    let hangzhou = UsageFilter { region: Some(RegionCode::parse("330100").unwrap()), ..UsageFilter::default() };
    assert_eq!(store.count_usage(&hangzhou).await.unwrap(), 0, "a region holds its own departments only");
    let with_city = UsageFilter { party: Some(dept.id), counterpart: Some(city.id), ..UsageFilter::default() };
    assert_eq!(store.count_usage(&with_city).await.unwrap(), 0);
    let with_authority = UsageFilter { counterpart: Some(authority.id), ..with_city };
    assert_eq!(store.count_usage(&with_authority).await.unwrap(), 3);
    let period = UsageFilter { since: Some(records[1].at), before: Some(records[2].at), ..province.clone() };
    assert_eq!(store.usage_records(&period, 10).await.unwrap(), [records[1].clone()], "since is inclusive");
    let second = UsageFilter { offset: 1, ..province.clone() };
    assert_eq!(store.usage_records(&second, 1).await.unwrap(), [records[1].clone()], "newest first, one skipped");
    assert_eq!(store.count_usage(&second).await.unwrap(), 3, "the count ignores the offset");
    let beyond = UsageFilter { offset: u64::MAX, ..province };
    assert!(store.usage_records(&beyond, 10).await.unwrap().is_empty(), "a hostile offset selects nothing");
}

/// A usage batch is sealed by one chained `usage.seal` record over its stored documents, in positions; the guards
/// are in place on a fresh store.
pub async fn usage_seals(store: DynStore) {
    use govshare_domain::evidence::{UsageColumns, UsageSeal, check_sealed_batch, usage_document};
    use govshare_domain::grant::UsageRecord;

    let (authority, dept) = base(&store).await;
    assert_eq!(store.missing_guards().await.unwrap(), Vec::<String>::new());
    let before = store.audit_head().await.unwrap().unwrap();
    let records: Vec<UsageRecord> = (0..3)
        .map(|i| UsageRecord {
            id: uuid::Uuid::now_v7(),
            at: Utc::now() + Duration::microseconds(i),
            requester: authority.id,
            provider: dept.id,
            actor: "system:x".into(),
            system: None,
            grant: None,
            entry: EntryId::new(),
            purpose: "核验".into(),
            operation: "verify".into(),
            items: vec![],
            rows: i as u64,
            result: "ok".into(),
            latency_us: 1,
        })
        .collect();
    store.append_usage(&records).await.unwrap();
    let head = store.audit_head().await.unwrap().unwrap();
    assert_eq!(head.seq, before.seq + 1, "one seal for the whole batch");
    let (batch, position) = store.usage_seal_of(records[2].id).await.unwrap().unwrap();
    assert_eq!(position, 2);
    let seal_record = store.seal_record(batch).await.unwrap().unwrap();
    assert_eq!(seal_record.seq, head.seq);
    let seal = UsageSeal::from_record(&seal_record).unwrap().unwrap();
    let documents: Vec<String> = records.iter().map(usage_document).collect();
    assert_eq!(seal, UsageSeal::over(batch, &documents, false));
    let rows: Vec<_> = store.sealed_usage(&[batch, uuid::Uuid::now_v7()]).await.unwrap();
    assert!(rows.iter().all(|(b, _)| *b == batch));
    let rows: Vec<_> = rows.into_iter().map(|(_, r)| r).collect();
    assert_eq!(rows.iter().map(|r| r.position).collect::<Vec<_>>(), vec![0, 1, 2]);
    assert_eq!(rows[1].columns, UsageColumns::of(&records[1]));
    assert_eq!(check_sealed_batch(seal_record.seq, &seal, &rows), Ok(()));
    assert_eq!(store.usage_count().await.unwrap(), 3);
    assert_eq!(store.usage_seal_of(uuid::Uuid::now_v7()).await.unwrap(), None);
    // Restoring guards that are all in place writes nothing.
    let event =
        AuditEvent::new("operator:test", None, "audit.guards.restore", "database", "guards", serde_json::json!({}));
    assert!(store.restore_guards(&event).await.unwrap().is_empty());
    assert_eq!(store.audit_head().await.unwrap(), Some(head));
}

pub async fn duty_ledger(store: DynStore) {
    use govshare_domain::duty::{Duty, DutyKind, SubjectKind};
    use govshare_domain::notification::{AlertKind, DeadlineAlert};
    use govshare_store::DutyFilter;

    let now = Utc::now().trunc_subsecs(6);
    let (authority, dept) = base(&store).await;
    let (owner, other) = (dept.id, authority.id);
    let duty = |n: u128, role: Role, due_in: Option<i64>, closed: bool| Duty {
        key: format!("application:{n}:reply:0"),
        kind: DutyKind::Reply,
        subject_kind: SubjectKind::Application,
        subject_id: uuid::Uuid::from_u128(n),
        title: "居民户籍信息".into(),
        owner,
        role,
        counterpart: Some(other),
        started_at: now,
        days: due_in.map(|_| 10),
        due_at: due_in.map(|h| now + Duration::hours(h)),
        closed_at: closed.then_some(now),
        met: closed,
    };
    let duties = vec![
        duty(1, Role::Clerk, Some(48), false),
        duty(2, Role::Clerk, Some(-2), false),
        duty(3, Role::WorkUnitHead, Some(24), false),
        duty(4, Role::Clerk, None, false),
        duty(5, Role::Clerk, Some(1), true),
    ];
    assert!(!store.duty_backfill_pending().await.unwrap(), "a new database has nothing to derive");
    store.backfill_duties(&duties, &event("duty.backfill")).await.unwrap();
    let filter = |roles: Option<Vec<Role>>, open: Option<bool>| DutyFilter {
        owner: Some(owner),
        roles,
        open,
        subject: None,
        started_by: None,
    };
    let keys = |list: Vec<Duty>| list.into_iter().map(|d| d.subject_id.as_u128()).collect::<Vec<_>>();
    // Open by due time, untimed last; only the roles asked for; closed apart.
    assert_eq!(keys(store.duties(&filter(Some(vec![Role::Clerk]), Some(true)), 10).await.unwrap()), [2, 1, 4]);
    assert_eq!(keys(store.duties(&filter(None, Some(true)), 10).await.unwrap()), [2, 3, 1, 4]);
    assert_eq!(keys(store.duties(&filter(None, Some(false)), 10).await.unwrap()), [5]);
    assert_eq!(store.count_duties(&filter(Some(vec![Role::Clerk]), Some(true))).await.unwrap(), 3);
    assert_eq!(store.count_duties(&DutyFilter { owner: Some(other), ..Default::default() }).await.unwrap(), 0);
    let mut read = store.duties(&DutyFilter::default(), 10).await.unwrap();
    read.sort_by_key(|d| d.subject_id);
    assert_eq!(read, duties, "every duty reads back as written");

    // The sweep's ranges: not yet reminded and due by the horizon; reminded and past due. Pages by (due, key).
    let horizon = now + Duration::hours(30);
    assert_eq!(keys(store.due_duties(None, horizon, None, 10).await.unwrap()), [2, 3]);
    let first = store.due_duties(None, horizon, None, 1).await.unwrap();
    let cursor = first[0].due_at.map(|d| (d, first[0].key.clone()));
    assert_eq!(keys(store.due_duties(None, horizon, cursor, 10).await.unwrap()), [3]);
    assert!(store.due_duties(Some(AlertKind::Reminder), now, None, 10).await.unwrap().is_empty());

    // An alert is recorded once; a second attempt (another instance) is refused and sends nothing.
    let alert = |d: &Duty, kind: AlertKind| DeadlineAlert {
        key: format!("{}:{}", d.key, kind.code()),
        subject: format!("application:{}", d.subject_id),
        kind,
        due_at: d.due_at.unwrap(),
        created_at: now,
        note: "答复期限".into(),
    };
    let note = Notification::new(owner, now, "deadline.reminder", "t".into(), "b".into(), "/console".into());
    let d3 = &duties[2];
    let due3 = d3.due_at.unwrap();
    assert!(
        store
            .mark_duty(
                &d3.key,
                due3,
                &alert(d3, AlertKind::Reminder),
                std::slice::from_ref(&note),
                &event("deadline.reminder")
            )
            .await
            .unwrap()
    );
    assert!(
        !store
            .mark_duty(
                &d3.key,
                due3,
                &alert(d3, AlertKind::Reminder),
                std::slice::from_ref(&note),
                &event("deadline.reminder")
            )
            .await
            .unwrap()
    );
    assert_eq!(store.notifications(owner, "user:clerk", 10).await.unwrap().len(), 1, "one notification");
    assert_eq!(keys(store.due_duties(None, horizon, None, 10).await.unwrap()), [2], "reminded: out of the first range");
    assert!(
        !store
            .mark_duty(&d3.key, due3 + Duration::hours(1), &alert(d3, AlertKind::Overdue), &[], &event("x"))
            .await
            .unwrap(),
        "a stale due time"
    );
    let d2 = &duties[1];
    assert!(
        store
            .mark_duty(&d2.key, d2.due_at.unwrap(), &alert(d2, AlertKind::Overdue), &[], &event("deadline.overdue"))
            .await
            .unwrap()
    );
    assert!(
        !store.mark_duty(&d2.key, d2.due_at.unwrap(), &alert(d2, AlertKind::Reminder), &[], &event("x")).await.unwrap(),
        "nothing after overdue"
    );
    assert!(keys(store.due_duties(None, horizon, None, 10).await.unwrap()).is_empty());
    assert_eq!(store.deadline_alerts(&format!("application:{}", d2.subject_id)).await.unwrap().len(), 1);

    // Written again unchanged, a duty keeps its alert; with a new due time (an extension) it is owed a reminder again.
    store.backfill_duties(&duties, &event("duty.backfill")).await.unwrap();
    assert!(store.due_duties(None, horizon, None, 10).await.unwrap().is_empty());
    let extended = Duty { days: Some(15), due_at: Some(due3 + Duration::hours(2)), ..d3.clone() };
    store.backfill_duties(std::slice::from_ref(&extended), &event("duty.backfill")).await.unwrap();
    assert_eq!(store.due_duties(None, horizon, None, 10).await.unwrap(), [extended]);
}

/// Corrections, disputes and complaints: numbered on insert, saved by compare-and-set on their steps; a corrected
/// record gets the entry's next sequence number in the same transaction, and the marks follow the cases.
pub async fn cases(store: DynStore) {
    use govshare_domain::attachment::AttachmentRef;
    use govshare_domain::complaint::{Complaint, ComplaintEvent, ComplaintId, ComplaintKind, ComplaintStep};
    use govshare_domain::correction::{Correction, CorrectionAnswer, CorrectionEvent, CorrectionId, Outcome};
    use govshare_domain::dispute::{Dispute, DisputeId, Matter, Stage};
    use govshare_domain::record::{DataSource, LoadCounts, LoadMode, SourceKind, SourceLoad};
    use govshare_store::CorrectionMark;

    let (_, dept) = base(&store).await;
    let requester = org("department", "330000", "浙江省民政厅", 3);
    store.create_org(&requester, &event("org.create")).await.unwrap();
    let entry = published_entry(&store, dept.id, "330000-GAT-0030").await;
    let now = Utc::now().trunc_subsecs(6);
    let source = DataSource {
        entry: entry.id,
        kind: SourceKind::Hosted { key_item: "name".into(), scope_item: None },
        encrypted: false,
        updated_at: now,
        updated_by: "user:x".into(),
    };
    store.save_source(&source, &event("source.bind")).await.unwrap();
    let load = SourceLoad {
        id: uuid::Uuid::now_v7(),
        entry: entry.id,
        at: now,
        actor: "user:x".into(),
        file_name: "f.csv".into(),
        file_sm3: "00".into(),
        mode: LoadMode::Replace,
        rows_read: 0,
        rows_rejected: 0,
        counts: LoadCounts::default(),
    };
    let mut feed = Batches {
        batches: vec![vec![stored("k1", "", "a"), stored("k2", "", "b")]].into(),
        fail_after: None,
        served: 0,
    };
    store.load_records(&load, &mut feed, &event("source.load")).await.unwrap();

    let attachment = AttachmentRef {
        id: uuid::Uuid::now_v7(),
        name: "证明.pdf".into(),
        content_type: "application/pdf".into(),
        bytes: 3,
        sm3: "s".into(),
    };
    let mut c = Correction {
        id: CorrectionId::new(),
        number: String::new(),
        entry: entry.id,
        provider: dept.id,
        region: dept.region,
        requester: Some(requester.id),
        grant: None,
        record_key: "k1".into(),
        key_hint: "k*".into(),
        items: vec!["name".into()],
        evidence: "e".into(),
        checked_against: String::new(),
        attachment: Some(attachment.clone()),
        sealed: "00".into(),
        received_at: now,
        events: vec![CorrectionEvent {
            at: now,
            actor: "user:x".into(),
            org: requester.id,
            step: "file".into(),
            text: "t".into(),
        }],
        answer: None,
    };
    store
        .create_correction(&mut c, Some((&attachment, b"sea".as_slice())), None, &[], &[], &event("correction.file"))
        .await
        .unwrap();
    assert_eq!(c.number, format!("JH-{}-000001", govshare_domain::number::number_year(now)));
    assert_eq!(store.get_correction(c.id).await.unwrap(), c);
    assert_eq!(store.get_attachment(c.id.0, attachment.id).await.unwrap().as_deref(), Some(b"sea".as_slice()));
    assert_eq!(store.get_attachment(uuid::Uuid::now_v7(), attachment.id).await.unwrap(), None, "only its owner's");
    let open = CorrectionMark { record_key: "k1".into(), number: c.number.clone(), open: true, applied_seq: None };
    assert_eq!(store.correction_marks(entry.id).await.unwrap(), [open]);
    assert_eq!(store.list_corrections(None, Some(requester.id)).await.unwrap().len(), 1);
    assert!(store.list_corrections(Some(EntryId::new()), None).await.unwrap().is_empty());

    // The answer writes the corrected record under the next sequence number; a stale step is refused.
    let mut answered = c.clone();
    answered.events.push(CorrectionEvent {
        at: now,
        actor: "user:y".into(),
        org: dept.id,
        step: "answer".into(),
        text: "t".into(),
    });
    answered.answer = Some(CorrectionAnswer {
        outcome: Outcome::Corrected,
        reasons: String::new(),
        changed_items: vec!["name".into()],
        applied_seq: None,
        at: now,
    });
    let before = audit_seq(&store).await;
    let mut gone = answered.clone();
    gone.record_key = "k9".into();
    let missing =
        store.save_correction(&mut gone, 1, Some(&stored("k9", "", "z")), &[], &[], &event("correction.answer")).await;
    assert!(matches!(missing, Err(StoreError::NotFound(_))), "{missing:?}");
    assert_eq!(audit_seq(&store).await, before, "nothing of the refused step remains");
    store
        .save_correction(&mut answered, 1, Some(&stored("k1", "", "a2")), &[], &[], &event("correction.answer"))
        .await
        .unwrap();
    let seq = answered.answer.as_ref().and_then(|a| a.applied_seq).expect("the version it wrote");
    assert_eq!(seq, 3, "after the load's two");
    let changes = store.record_changes(entry.id, None, 2, false, 10).await.unwrap();
    assert_eq!(
        changes.iter().map(|r| (r.key.as_str(), r.seq, r.payload.as_slice())).collect::<Vec<_>>(),
        [("k1", 3, b"a2".as_slice())]
    );
    let versions = store.record_versions(entry.id, "k1").await.unwrap();
    assert_eq!(
        versions.iter().map(|v| (v.seq, v.payload.as_deref(), v.written_by)).collect::<Vec<_>>(),
        [(1, Some(b"a".as_slice()), versions[0].written_by), (3, Some(b"a2".as_slice()), c.id.0)],
        "the corrected version names the correction; the one it replaced is kept"
    );
    let closed =
        CorrectionMark { record_key: "k1".into(), number: c.number.clone(), open: false, applied_seq: Some(3) };
    assert_eq!(store.correction_marks(entry.id).await.unwrap(), [closed]);
    let mut stale = c.clone();
    stale.events.push(stale.events[0].clone());
    is_conflict(store.save_correction(&mut stale, 1, None, &[], &[], &event("correction.answer")).await);

    let mut d = Dispute {
        id: DisputeId::new(),
        number: String::new(),
        opener: requester.id,
        opener_region: requester.region,
        counterpart: dept.id,
        counterpart_region: dept.region,
        matter: Matter::Other,
        application: None,
        grant: None,
        correction: Some(c.id),
        title: "t".into(),
        description: "d".into(),
        coordinator_region: Some(dept.region),
        coordinator: None,
        coordination_days: None,
        stage: Stage::Negotiation,
        created_at: now,
        steps: vec![],
    };
    store.create_dispute(&mut d, &[], &event("dispute.open")).await.unwrap();
    assert!(d.number.starts_with("ZY-"));
    assert_eq!(store.list_disputes(Some(dept.id)).await.unwrap(), [d.clone()]);
    is_conflict(store.save_dispute(&d, 1, &[], &[], &event("dispute.step")).await);
    assert!(matches!(store.get_dispute(DisputeId::new()).await, Err(StoreError::NotFound(_))));

    let mut complaint = Complaint {
        id: ComplaintId::new(),
        number: String::new(),
        tracking_digest: "digest-1".into(),
        kind: ComplaintKind::Report,
        concerned: None,
        handler: dept.id,
        region: dept.region,
        title: "t".into(),
        description: "d".into(),
        happened_on: None,
        sealed: "00".into(),
        attachment: None,
        received_at: now,
        days: 15,
        events: vec![ComplaintEvent {
            at: now,
            actor: "公众".into(),
            step: ComplaintStep::File,
            text: String::new(),
            to: Some(dept.id),
        }],
    };
    store.create_complaint(&mut complaint, None, &[], &[], &event("complaint.file")).await.unwrap();
    assert!(complaint.number.starts_with("TS-"));
    assert_eq!(store.complaint_by_tracking("digest-1").await.unwrap(), Some(complaint.clone()));
    assert_eq!(store.complaint_by_tracking("digest-2").await.unwrap(), None);
    let mut moved = complaint.clone();
    moved.events.push(ComplaintEvent {
        at: now,
        actor: "user:x".into(),
        step: ComplaintStep::Transfer,
        text: "t".into(),
        to: Some(requester.id),
    });
    moved.handler = requester.id;
    store.save_complaint(&moved, 1, &[], &[], &event("complaint.transfer")).await.unwrap();
    assert!(store.list_complaints(Some(dept.id)).await.unwrap().is_empty(), "the handler moved");
    assert_eq!(store.list_complaints(Some(requester.id)).await.unwrap(), [moved.clone()]);
    is_conflict(store.save_complaint(&moved, 1, &[], &[], &event("complaint.note")).await);
}

/// Supervision's reads (R-SUP-1): the SQL tallies, late duties, acts and overdue changes agree with the domain's
/// `classify` on a ledger of every combination of due time, closing time and outcome around `now` and the period's
/// edges; the usage roll-up sums what was appended.
pub async fn supervision(store: DynStore) {
    use govshare_domain::duty::{Duty, DutyKind, SubjectKind};
    use govshare_domain::supervision::{Tally, Timeliness, classify};

    let now = Utc::now().trunc_subsecs(6);
    let (authority, dept) = base(&store).await;
    let (from, to) = (now - Duration::days(10), now + Duration::days(10));
    let offsets = [-15i64, -10, -3, 0, 3, 10, 15]; // days from now: before, at and inside the period's edges
    let mut duties = Vec::new();
    let mut n = 0u128;
    for (k, kind) in [DutyKind::Reply, DutyKind::AnswerCorrection, DutyKind::RestoreService].into_iter().enumerate() {
        for due in offsets {
            for closed in [None, Some(-12i64), Some(-1), Some(0), Some(1), Some(12)] {
                for met in [true, false] {
                    if closed.is_none() && met {
                        continue;
                    }
                    n += 1;
                    let owner = if n.is_multiple_of(3) { authority.id } else { dept.id };
                    let due_at = now + Duration::days(due) + Duration::seconds(k as i64);
                    // A ledger is written as things happen: nothing closed after `now`.
                    if closed.is_some_and(|c| due_at + Duration::days(c) > now) {
                        continue;
                    }
                    duties.push(Duty {
                        key: format!("application:{n}:{}:0", kind.code()),
                        kind,
                        subject_kind: SubjectKind::Application,
                        subject_id: uuid::Uuid::from_u128(n),
                        title: "t".into(),
                        owner,
                        role: Role::Clerk,
                        counterpart: None,
                        started_at: due_at - Duration::days(14),
                        days: Some(10),
                        due_at: Some(due_at),
                        closed_at: closed.map(|c| due_at + Duration::days(c)),
                        met,
                    });
                }
            }
        }
    }
    store.backfill_duties(&duties, &event("duty.backfill")).await.unwrap();
    let in_period = |d: &&Duty| d.due_at.is_some_and(|due| due >= from && due < to);
    for owners in [None, Some(vec![dept.id])] {
        let picked = |d: &&Duty| owners.as_ref().is_none_or(|o| o.contains(&d.owner));
        let mut expected: std::collections::BTreeMap<(uuid::Uuid, &str), Tally> = Default::default();
        for d in duties.iter().filter(in_period).filter(picked) {
            expected.entry((d.owner.0, d.kind.code())).or_default().add(classify(d, now));
        }
        let got: std::collections::BTreeMap<(uuid::Uuid, &str), Tally> = store
            .duty_tallies(owners.as_deref(), from, to, now)
            .await
            .unwrap()
            .into_iter()
            .map(|t| ((t.owner.0, t.kind.code()), t.tally))
            .collect();
        assert_eq!(got, expected, "SQL tallies = classify, owners {owners:?}");

        let kinds = [DutyKind::Reply, DutyKind::AnswerCorrection];
        let mut late: Vec<String> = store
            .late_duties(owners.as_deref(), &kinds, from, to, now, 10_000)
            .await
            .unwrap()
            .into_iter()
            .map(|d| d.key)
            .collect();
        late.sort();
        let mut want: Vec<String> = duties
            .iter()
            .filter(picked)
            .filter(|d| kinds.contains(&d.kind) && classify(d, now) == Timeliness::Late)
            .filter(|d| in_period(d) || d.closed_at.is_none())
            .map(|d| d.key.clone())
            .collect();
        want.sort();
        assert_eq!(late, want, "late duties of the period and those still open");

        let acts = store.act_duties(owners.as_deref(), &[DutyKind::RestoreService], from, to, 10_000).await.unwrap();
        let want = duties
            .iter()
            .filter(picked)
            .filter(|d| d.kind == DutyKind::RestoreService)
            .filter(|d| (d.started_at >= from && d.started_at < to) || d.closed_at.is_none())
            .count();
        assert_eq!(acts.len(), want, "acts opened in the period or still open");

        let changes = store.overdue_changes(owners.as_deref(), from, to, now).await.unwrap();
        let ever_late = |d: &&Duty| d.closed_at.is_none_or(|c| c > d.due_at.unwrap());
        let at_start = duties
            .iter()
            .filter(picked)
            .filter(ever_late)
            .filter(|d| d.due_at.unwrap() < from && d.closed_at.is_none_or(|c| c > from))
            .count() as u64;
        assert_eq!(changes.at_start, at_start);
        let became = duties.iter().filter(picked).filter(ever_late).filter(|d| {
            let due = d.due_at.unwrap();
            due >= from && due < now
        });
        assert_eq!(changes.became.len(), became.count());
    }

    // The usage roll-up: what was appended, by day and party, refusals apart.
    let grant = govshare_domain::grant::GrantId::new();
    let record = |result: &str, rows: u64| govshare_domain::grant::UsageRecord {
        id: uuid::Uuid::now_v7(),
        at: now,
        requester: dept.id,
        provider: authority.id,
        actor: "system:x".into(),
        system: None,
        grant: Some(grant),
        entry: govshare_domain::catalog::EntryId::new(),
        purpose: "p".into(),
        operation: "lookup".into(),
        items: vec![],
        rows,
        result: result.into(),
        latency_us: 1,
    };
    let mut batch = vec![record("ok", 1), record("not_found", 0), record("item_not_granted", 0)];
    let entry = batch[0].entry;
    for r in &mut batch {
        r.entry = entry;
    }
    store.append_usage(&batch).await.unwrap();
    store
        .append_usage(&[batch[0].clone()].map(|mut r| {
            r.id = uuid::Uuid::now_v7();
            r
        }))
        .await
        .unwrap();
    let today = govshare_domain::supervision::beijing_day(now);
    let by = |b| store.usage_totals(Some(std::slice::from_ref(&dept.id)), today, today, b);
    let totals = by(govshare_store::UsageBy::Grant).await.unwrap();
    assert_eq!(totals.len(), 1);
    assert_eq!((totals[0].accesses, totals[0].rows, totals[0].refusals), (4, 2, 1));
    let providers =
        store.usage_totals(Some(&[authority.id]), today, today, govshare_store::UsageBy::Provider).await.unwrap();
    assert_eq!(providers.iter().map(|t| t.accesses).sum::<u64>(), 4);
    let requesters =
        store.usage_totals(Some(&[authority.id]), today, today, govshare_store::UsageBy::Requester).await.unwrap();
    assert!(requesters.is_empty(), "the authority requested nothing");
}

/// Federation: the configuration is set once; directories are adopted only upwards; a publication enters the
/// outbox under its audit record's number (after entries published before); a child's deltas are applied once,
/// only when they continue its cursor, and replace in place; nonces are used once.
pub async fn federation(store: DynStore) {
    use govshare_domain::federation::{AdmissionRequest, FederatedEntry, NodeConfig, NodeId, SignedDirectory};
    let (_, dept) = base(&store).await;
    let now = Utc::now().trunc_subsecs(6);
    assert!(store.federation_config().await.unwrap().is_none());
    assert_eq!(store.outbox_head().await.unwrap(), -1, "nothing owed yet");

    let config = NodeConfig {
        id: NodeId::parse("province-330000").unwrap(),
        name: "浙江省节点".into(),
        endpoint: "http://127.0.0.1:7002".into(),
        anchor_key: "04ab".into(),
        parent: Some(govshare_domain::federation::ParentLink {
            id: NodeId::National,
            endpoint: "http://127.0.0.1:7001".into(),
            sign_key: "04cd".into(),
        }),
        parent_acked: -1,
        joined_at: now,
    };
    let dir = |v: u64| SignedDirectory { body: format!("{{\"version\":{v}}}"), signature: format!("sig{v}") };
    store
        .save_federation_config(&config, Some((1, now + Duration::days(7), &dir(1))), &event("federation.join"))
        .await
        .unwrap();
    assert_eq!(store.federation_config().await.unwrap(), Some(config.clone()), "round trip");
    is_conflict(store.save_federation_config(&config, None, &event("federation.join")).await);
    assert_eq!(store.held_directory().await.unwrap(), Some(dir(1)));
    assert!(store.adopt_directory(3, now + Duration::days(7), &dir(3), now, &event("adopt")).await.unwrap());
    let head = audit_seq(&store).await;
    assert!(!store.adopt_directory(2, now + Duration::days(7), &dir(2), now, &event("adopt")).await.unwrap(), "older");
    assert!(!store.adopt_directory(3, now + Duration::days(7), &dir(3), now, &event("adopt")).await.unwrap(), "same");
    assert_eq!(audit_seq(&store).await, head, "a refused adoption writes nothing");
    assert_eq!(store.held_directory().await.unwrap(), Some(dir(3)));

    // A publication enters the outbox under its audit record; a draft does not.
    let entry = CatalogEntry {
        id: EntryId::new(),
        provider: dept.id,
        created_at: now,
        versions: vec![version(1, EntryStatus::Draft, content("330000-GAT-0101", "居民户籍信息"))],
        events: vec![entry_event(1, "draft.create")],
    };
    store.create_entry(&entry, &event("catalog.create")).await.unwrap();
    assert_eq!(store.outbox_head().await.unwrap(), -1, "a draft is not federated");
    let published = version(1, EntryStatus::Published, content("330000-GAT-0101", "居民户籍信息"));
    store
        .save_versions(
            entry.id,
            std::slice::from_ref(&published),
            &entry_event(1, "authority.publish"),
            &[],
            &[],
            &event("catalog.publish"),
        )
        .await
        .unwrap();
    let seq = audit_seq(&store).await;
    assert_eq!(store.outbox_after(-1, 10).await.unwrap(), vec![(seq, entry.id, true)]);
    assert!(store.outbox_after(seq, 10).await.unwrap().is_empty());
    store.set_parent_acked(seq).await.unwrap();
    assert_eq!(store.federation_config().await.unwrap().unwrap().parent_acked, seq);

    // A child's deltas.
    let child = NodeId::parse("city-330100").unwrap();
    let remote = |version: u32, summary: &str| FederatedEntry {
        id: EntryId(uuid::Uuid::from_u128(42)),
        origin: child.clone(),
        version,
        provider: OrgId(uuid::Uuid::from_u128(7)),
        provider_name: "杭州市公安局".into(),
        provider_region: RegionCode::parse("330100").unwrap(),
        content: EntryContent { summary: summary.into(), ..content("330100-GAT-0001", "流动人口") },
        published_at: now,
    };
    let unknown = store.apply_deltas(&child, -1, 5, &[remote(1, "一")], now, &event("federation.deltas")).await;
    assert!(matches!(unknown, Err(StoreError::NotFound(_))), "only an admitted child delivers");
    let request = AdmissionRequest {
        id: child.clone(),
        name: "杭州".into(),
        endpoint: "http://127.0.0.1:7003".into(),
        sign_key: "04ef".into(),
        tls_pin: None,
    };
    store.admit_child(&request, now, &event("federation.admit")).await.unwrap();
    assert_eq!(
        store.apply_deltas(&child, -1, 5, &[remote(1, "一")], now, &event("federation.deltas")).await.unwrap(),
        5
    );
    let relayed = audit_seq(&store).await;
    assert_eq!(store.outbox_after(seq, 10).await.unwrap(), vec![(relayed, remote(1, "").id, false)], "relayed upward");
    // The same batch again, or one that skips ahead of the cursor: nothing changes, the cursor is the answer.
    let before = audit_seq(&store).await;
    assert_eq!(
        store.apply_deltas(&child, -1, 5, &[remote(1, "一")], now, &event("federation.deltas")).await.unwrap(),
        5
    );
    assert_eq!(
        store.apply_deltas(&child, 7, 9, &[remote(2, "二")], now, &event("federation.deltas")).await.unwrap(),
        5
    );
    assert_eq!(audit_seq(&store).await, before, "nothing written");
    // A newer version replaces the row; an older one delivered late does not.
    assert_eq!(
        store.apply_deltas(&child, 5, 8, &[remote(2, "二")], now, &event("federation.deltas")).await.unwrap(),
        8
    );
    assert_eq!(
        store.apply_deltas(&child, 8, 9, &[remote(1, "一")], now, &event("federation.deltas")).await.unwrap(),
        9
    );
    let held = store.federated_entries(None).await.unwrap();
    assert_eq!(held.len(), 1);
    assert_eq!((held[0].version, held[0].content.summary.as_str()), (2, "二"));
    assert_eq!(store.federated_versions(None).await.unwrap(), vec![(held[0].id, 2)]);
    assert_eq!(store.federated_versions(Some(&[held[0].id, EntryId::new()])).await.unwrap(), vec![(held[0].id, 2)]);
    let children = store.federation_children().await.unwrap();
    assert_eq!((children.len(), children[0].last_seq), (1, 9));
    store.child_seen(&child, now, Some(3), -120).await.unwrap();
    let children = store.federation_children().await.unwrap();
    assert_eq!(
        (children[0].directory_version, children[0].clock_skew_ms, children[0].last_seen_at),
        (Some(3), Some(-120), Some(now))
    );

    // Witnessed checkpoints: once each; a different digest at a held sequence number is a rewritten chain.
    let checkpoint = |seq: i64, byte: u8| govshare_domain::evidence::Checkpoint {
        node: "杭州".into(),
        seq,
        hash: [byte; 32],
        at: now,
        public_key: "04ef".into(),
        signature: "00".into(),
    };
    assert!(store.witness_checkpoint(&child, &checkpoint(10, 1), now).await.unwrap());
    assert!(!store.witness_checkpoint(&child, &checkpoint(10, 1), now).await.unwrap(), "held already");
    is_conflict(store.witness_checkpoint(&child, &checkpoint(10, 2), now).await);
    assert!(store.witness_checkpoint(&child, &checkpoint(4, 3), now).await.unwrap());
    let seqs: Vec<i64> = store.witnessed_checkpoints(&child).await.unwrap().iter().map(|c| c.seq).collect();
    assert_eq!(seqs, vec![4, 10]);
    assert!(store.witnessed_checkpoints(&NodeId::National).await.unwrap().is_empty());

    // Nonces: once each per sender; forgotten after the window.
    assert!(store.use_nonce(&child, "n1", now, now - Duration::minutes(10)).await.unwrap());
    assert!(!store.use_nonce(&child, "n1", now, now - Duration::minutes(10)).await.unwrap(), "a replay");
    assert!(
        store.use_nonce(&NodeId::National, "n1", now, now - Duration::minutes(10)).await.unwrap(),
        "another sender"
    );
    let later = now + Duration::minutes(30);
    assert!(store.use_nonce(&child, "n1", later, later - Duration::minutes(10)).await.unwrap(), "outside the window");
}

#[macro_export]
macro_rules! store_contract_tests {
    ($factory:expr) => {
        $crate::store_contract_tests!(@tests $factory;
            regions, organisations, users_and_memberships, sessions, login_failures, credentials, audit_chain,
            concurrent_appends, calendar_years, catalog_entries, federation, draft_deletion, assessment_reports, obligations_and_sources, applications_and_alerts, numbers, data_plane, usage_seals, duty_ledger, cases, supervision, ping);
    };
    (@tests $factory:expr; $($name:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                $crate::$name($factory.await).await;
            }
        )*
    };
}
