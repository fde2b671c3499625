use chrono::{Duration, FixedOffset, TimeZone};
use proptest::prelude::*;

use super::*;
use crate::catalog::{DataItem, DataType, Grade, SharingTerms};

fn beijing(s: &str) -> DateTime<Utc> {
    let naive = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap();
    FixedOffset::east_opt(8 * 3600).unwrap().from_local_datetime(&naive).single().unwrap().with_timezone(&Utc)
}

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn item(name: &str, code: &str) -> DataItem {
    DataItem {
        name: name.into(),
        code: code.into(),
        data_type: DataType::String,
        length: Some(50),
        grade: Grade { class: "一般数据".into(), level: 2 },
        personal_info: None,
        format: None,
    }
}

fn entry(sharing: SharingTerms) -> EntryContent {
    EntryContent {
        name: "城乡低保对象信息".into(),
        resource_code: "330000-MZT-0001".into(),
        summary: "低保对象".into(),
        format: crate::catalog::DataFormat::Database,
        items: vec![item("姓名", "name"), item("公民身份号码", "id_number"), item("保障金额", "amount")],
        update_frequency: crate::catalog::UpdateFrequency::Monthly,
        sharing,
        delivery_methods: [DeliveryMethod::ServiceApi, DeliveryMethod::BulkExchange].into_iter().collect(),
        usage_conditions: String::new(),
        grade: Grade { class: "一般数据".into(), level: 2 },
        open_to_public: false,
        related_codes: vec![],
    }
}

fn conditional() -> SharingTerms {
    SharingTerms::Conditional { scope: "省内民政、人社部门".into(), purposes: vec!["社会救助".into()] }
}

fn input() -> ApplicationInput {
    ApplicationInput {
        items: vec!["name".into(), "公民身份号码".into()],
        legal_basis: "《社会救助暂行办法》第十一条".into(),
        basis_document: "国务院令第649号".into(),
        scenario: "就业困难人员认定时核验低保身份".into(),
        scope: "省人社厅就业处".into(),
        delivery: "service_api".into(),
        valid_from: "2026-11-23".into(),
        valid_until: "2027-11-22".into(),
    }
}

fn request() -> ApplicationRequest {
    ApplicationRequest::parse(&input(), &entry(conditional()), day("2026-11-23")).unwrap()
}

fn err(input: &ApplicationInput, sharing: SharingTerms) -> (String, &'static str) {
    let e = ApplicationRequest::parse(input, &entry(sharing), day("2026-11-23")).unwrap_err();
    (e.field.to_string(), e.rule)
}

#[test]
fn request_validation_names_field_and_rule() {
    let ok = request();
    assert_eq!(ok.items, vec!["name", "id_number"], "names are accepted and stored as codes, in entry order");
    assert_eq!(
        err(&input(), SharingTerms::NotShared { reason: "涉密".into(), legal_basis: "保密法".into() }),
        ("entry_id".into(), "not_shared")
    );
    type Mutation = Box<dyn Fn(&mut ApplicationInput)>;
    let cases: Vec<(Mutation, &str, &str)> = vec![
        (Box::new(|i| i.items.clear()), "items", "required"),
        (Box::new(|i| i.items.push("婚姻状况".into())), "items[2]", "not_in_entry"),
        (Box::new(|i| i.items.push("姓名".into())), "items[2]", "duplicate"),
        (Box::new(|i| i.legal_basis = " ".into()), "legal_basis", "required"),
        (Box::new(|i| i.basis_document.clear()), "basis_document", "required"),
        (Box::new(|i| i.scenario.clear()), "scenario", "required"),
        (Box::new(|i| i.scope = "x".repeat(501)), "scope", "too_long"),
        (Box::new(|i| i.delivery = "file_download".into()), "delivery", "not_offered"),
        (Box::new(|i| i.delivery = "carrier pigeon".into()), "delivery", "unknown_value"),
        (Box::new(|i| i.valid_from = "2026/11/23".into()), "valid_from", "date_format"),
        (Box::new(|i| i.valid_until = "2026-11-01".into()), "valid_until", "before_start"),
        (
            Box::new(|i| {
                i.valid_from = "2026-01-01".into();
                i.valid_until = "2026-06-30".into()
            }),
            "valid_until",
            "in_past",
        ),
        (Box::new(|i| i.valid_until = "2032-11-23".into()), "valid_until", "too_long"),
    ];
    for (mutate, field, rule) in cases {
        let mut i = input();
        mutate(&mut i);
        assert_eq!(err(&i, conditional()), (field.to_owned(), rule), "{field} {rule}");
    }
}

/// A form shows every fault at once: `parse_all` reports each field in the order of the form (`parse` the first),
/// and a hostile list of items costs one problem, not one per element.
#[test]
fn every_problem_of_a_request_is_reported_at_once() {
    let mut i = input();
    i.items.push("婚姻状况".into());
    i.legal_basis.clear();
    i.delivery = "file_download".into();
    i.valid_until = "2026-11-01".into();
    let problems = ApplicationRequest::parse_all(&i, &entry(conditional()), day("2026-11-23")).unwrap_err();
    let found: Vec<(String, &str)> = problems.iter().map(|p| (p.field.to_string(), p.rule)).collect();
    assert_eq!(
        found,
        [
            ("items[2]".to_owned(), "not_in_entry"),
            ("legal_basis".to_owned(), "required"),
            ("delivery".to_owned(), "not_offered"),
            ("valid_until".to_owned(), "before_start"),
        ]
    );
    assert_eq!(err(&i, conditional()), ("items[2]".into(), "not_in_entry"), "parse gives the first");
    assert!(ApplicationRequest::parse_all(&input(), &entry(conditional()), day("2026-11-23")).is_ok());

    let mut flood = input();
    flood.items = (0..100_000).map(|n| format!("x{n}")).collect();
    let problems = ApplicationRequest::parse_all(&flood, &entry(conditional()), day("2026-11-23")).unwrap_err();
    assert_eq!((problems[0].field.as_ref(), problems[0].rule), ("items", "too_many"));
    assert!(problems.len() <= crate::catalog::MAX_ITEMS + 1, "{} problems", problems.len());
}

#[test]
fn reply_validation() {
    let parse = |decision: &str, reason: &str, materials: &[&str]| {
        Reply::parse(&ReplyInput {
            decision: decision.into(),
            conditions: String::new(),
            reason: reason.into(),
            materials: materials.iter().map(|m| m.to_string()).collect(),
        })
    };
    assert_eq!(parse("refuse", "  ", &[]).unwrap_err().rule, "required");
    assert_eq!(parse("refuse", "  ", &[]).unwrap_err().field, "reason");
    assert_eq!(parse("supplement", "", &["", " "]).unwrap_err().field, "materials");
    assert_eq!(parse("maybe", "", &[]).unwrap_err().rule, "unknown_value");
    assert_eq!(parse("", "", &[]).unwrap_err().rule, "required");
    assert_eq!(
        parse("supplement", "", &["部门职责说明", "", "经办人授权书"]).unwrap(),
        Reply::Supplement { materials: vec!["部门职责说明".into(), "经办人授权书".into()] }
    );
}

const REQUESTER: OrgId = OrgId(uuid::Uuid::from_u128(1));
const PROVIDER: OrgId = OrgId(uuid::Uuid::from_u128(2));

fn application(attribute: SharingAttribute, at: DateTime<Utc>) -> Application {
    Application {
        id: ApplicationId::new(),
        number: String::new(),
        requester: REQUESTER,
        provider: PROVIDER,
        entry: EntryId::new(),
        entry_version: 1,
        entry_name: "城乡低保对象信息".into(),
        attribute,
        created_at: at,
        events: vec![event(at, Step::Create { request: request() })],
    }
}

fn event(at: DateTime<Utc>, step: Step) -> ApplicationEvent {
    let org = match step.party() {
        Party::RequesterClerk | Party::RequesterHead => REQUESTER,
        _ => PROVIDER,
    };
    ApplicationEvent { at, actor: "user:test".into(), actor_name: "测试".into(), org, step }
}

fn cal() -> WorkingCalendar {
    WorkingCalendar::official()
}

/// An application sent (received by the provider) at `received`, Beijing time.
fn received(attribute: SharingAttribute, at: &str) -> Application {
    let at = beijing(at);
    let mut a = application(attribute, at - Duration::hours(1));
    a.apply(event(at - Duration::minutes(30), Step::Submit), &cal()).unwrap();
    a.apply(event(at, Step::Send { note: String::new() }), &cal()).unwrap();
    a
}

fn reply_due(a: &Application, now: DateTime<Utc>) -> NaiveDate {
    a.status(&cal(), now).unwrap().running.expect("a reply period runs").due_date
}

#[test]
fn reply_deadlines_received_on_a_holiday() {
    // 2026-10-03 is a Saturday inside the National Day holiday; the next working day is Thursday 10-08.
    let a = received(SharingAttribute::Unconditional, "2026-10-03 10:00");
    assert_eq!(reply_due(&a, a.events[2].at), day("2026-10-08"));
    // Ten working days: 10-08, 10-09, the make-up Saturday 10-10, then 10-12 … 10-16, 10-19, 10-20.
    let a = received(SharingAttribute::Conditional, "2026-10-03 10:00");
    assert_eq!(reply_due(&a, a.events[2].at), day("2026-10-20"));
}

#[test]
fn reply_deadlines_just_before_national_day() {
    let a = received(SharingAttribute::Unconditional, "2026-09-30 16:30");
    let status = a.status(&cal(), a.events[2].at).unwrap();
    let running = status.running.unwrap();
    assert_eq!(running.due_date, day("2026-10-08"), "the day of receipt does not count; the holiday does not count");
    assert_eq!(running.due_at, beijing("2026-10-08 23:59") + Duration::seconds(59));
    assert_eq!(status.working_days_left, Some(1), "the day of receipt is not one of the period's days: only 10-08 is");
    let a = received(SharingAttribute::Conditional, "2026-09-30 16:30");
    assert_eq!(reply_due(&a, a.events[2].at), day("2026-10-20"));
}

#[test]
fn reply_deadlines_across_a_makeup_working_day() {
    // Friday 2026-09-18: the next working day is the make-up Sunday 09-20.
    let a = received(SharingAttribute::Unconditional, "2026-09-18 15:00");
    assert_eq!(reply_due(&a, a.events[2].at), day("2026-09-20"));
    // Received 01:00 Saturday Beijing time (still Friday in UTC): the Beijing day is what counts.
    let a = received(SharingAttribute::Unconditional, "2026-09-19 01:00");
    assert_eq!(reply_due(&a, a.events[2].at), day("2026-09-20"));
    // Ten: 09-20, 21, 22, 23, 24, (中秋 25–27), 28, 29, 30, (国庆 10-01…07), 10-08, 10-09.
    let a = received(SharingAttribute::Conditional, "2026-09-18 15:00");
    assert_eq!(reply_due(&a, a.events[2].at), day("2026-10-09"));
}

fn draft_and_approve(a: &mut Application, at: DateTime<Utc>, reply: Reply) {
    a.apply(event(at, Step::DraftReply { reply }), &cal()).unwrap();
    a.apply(event(at + Duration::minutes(5), Step::ApproveReply { note: "同意".into() }), &cal()).unwrap();
}

#[test]
fn extension_needs_the_authority_and_lengthens_its_period_only() {
    let mut a = received(SharingAttribute::Conditional, "2026-09-30 16:30");
    let t = beijing("2026-10-12 09:00");
    a.apply(event(t, Step::RequestExtension { days: 10, reason: "需核对历史数据".into() }), &cal()).unwrap();
    assert_eq!(reply_due(&a, t), day("2026-10-20"), "asking is not enough: the due date stands");
    let second = event(t, Step::RequestExtension { days: 3, reason: "再延".into() });
    assert_eq!(a.apply(second, &cal()).unwrap_err().rule, "extension_once");
    a.apply(event(t + Duration::hours(2), Step::DecideExtension { granted: true, note: "同意".into() }), &cal())
        .unwrap();
    // 20 working days from 09-30: … 10-20 (10), 21, 22, 23, 26, 27, 28, 29, 30, 11-02, 11-03.
    let status = a.status(&cal(), t + Duration::hours(3)).unwrap();
    assert_eq!(status.running.as_ref().unwrap().due_date, day("2026-11-03"));
    assert_eq!(status.extension.as_ref().unwrap().granted, Some(true));
    let again = event(t, Step::DecideExtension { granted: false, note: "x".into() });
    assert_eq!(a.apply(again, &cal()).unwrap_err().rule, "already_decided");

    // A supplement notice stops the clock; the supplemented application starts a fresh 10 days, without the
    // extension of the first period.
    draft_and_approve(&mut a, beijing("2026-10-28 10:00"), Reply::Supplement { materials: vec!["授权书".into()] });
    let paused = a.status(&cal(), beijing("2026-11-20 10:00")).unwrap();
    assert_eq!(paused.stage, Stage::AwaitingSupplement);
    assert!(paused.running.is_none(), "no deadline runs while the requester supplements");
    assert!(!paused.late, "the notice came within the extended period");
    a.apply(
        event(beijing("2026-11-23 09:00"), Step::Supplement { request: request(), note: "已补授权书".into() }),
        &cal(),
    )
    .unwrap();
    assert_eq!(reply_due(&a, beijing("2026-11-23 09:00")), day("2026-12-07"));
}

#[test]
fn extension_cannot_be_asked_for_after_the_deadline() {
    let mut a = received(SharingAttribute::Unconditional, "2026-11-23 09:00");
    let late = beijing("2026-11-25 09:00");
    let step = event(late, Step::RequestExtension { days: 2, reason: "迟了".into() });
    assert_eq!(a.apply(step, &cal()).unwrap_err().rule, "deadline_passed");
    let status = a.status(&cal(), late).unwrap();
    assert!(status.late && status.running.as_ref().unwrap().late);
    assert_eq!(status.working_days_left, Some(-1));
    let step = event(late, Step::RequestExtension { days: 11, reason: "太长".into() });
    let mut b = received(SharingAttribute::Conditional, "2026-11-23 09:00");
    assert_eq!(b.apply(step, &cal()).unwrap_err().rule, "range");
}

#[test]
fn one_supplement_notice_and_no_refusal_for_incompleteness() {
    let mut a = received(SharingAttribute::Conditional, "2026-11-23 09:00");
    let t = beijing("2026-11-24 09:00");
    let refusal = event(t, Step::DraftReply { reply: Reply::Refuse { reason: "申请材料不全".into() } });
    assert_eq!(a.apply(refusal, &cal()).unwrap_err().rule, "incomplete_materials");
    draft_and_approve(&mut a, t, Reply::Supplement { materials: vec!["职责依据".into(), "授权书".into()] });
    a.apply(event(t + Duration::hours(1), Step::Supplement { request: request(), note: String::new() }), &cal())
        .unwrap();
    let again = event(
        t + Duration::hours(2),
        Step::DraftReply { reply: Reply::Supplement { materials: vec!["身份证明".into()] } },
    );
    assert_eq!(a.apply(again, &cal()).unwrap_err().rule, "supplement_once");
    draft_and_approve(&mut a, t + Duration::hours(3), Reply::Refuse { reason: "职责依据与申请数据无关".into() });
    let status = a.status(&cal(), t + Duration::hours(4)).unwrap();
    assert_eq!(status.stage, Stage::Refused);
    assert_eq!(status.periods.len(), 2);
    assert!(status.periods.iter().all(|p| !p.late && p.met_at.is_some()));
}

#[test]
fn delivery_is_due_twenty_working_days_after_approval() {
    let mut a = received(SharingAttribute::Unconditional, "2026-09-30 09:00");
    draft_and_approve(&mut a, beijing("2026-09-30 14:00"), Reply::Approve { conditions: String::new() });
    let status = a.status(&cal(), beijing("2026-10-09 10:00")).unwrap();
    assert_eq!(status.stage, Stage::Approved);
    let running = status.running.unwrap();
    assert_eq!((running.kind, running.due_date), (ClockKind::Delivery, day("2026-11-03")));
    let step = event(beijing("2026-11-04 09:00"), Step::RecordDelivery { note: "服务接口已开通".into() });
    a.apply(step, &cal()).unwrap();
    let status = a.status(&cal(), beijing("2026-11-05 09:00")).unwrap();
    assert_eq!(status.stage, Stage::Delivered);
    assert!(status.late, "delivered a day late");
    assert!(status.running.is_none());
    let withdraw = event(beijing("2026-11-05 09:00"), Step::Withdraw { note: String::new() });
    assert_eq!(a.apply(withdraw, &cal()).unwrap_err().rule, "wrong_stage");
}

#[test]
fn reminders_fall_in_the_last_working_days() {
    assert!(reminder_due(1, 1));
    assert!(!reminder_due(1, 2));
    assert!(reminder_due(10, 3) && reminder_due(20, 1));
    assert!(!reminder_due(10, 4));
    assert!(!reminder_due(10, 0) && !reminder_due(10, -1), "overdue is marked, not reminded");
}

// ---- the state machine, property-tested ----

fn any_step() -> impl Strategy<Value = Step> {
    let text = prop_oneof![Just(String::new()), Just("理由".to_owned()), Just("申请材料不全".to_owned())];
    prop_oneof![
        Just(Step::Edit { request: request() }),
        Just(Step::Submit),
        text.clone().prop_map(|note| Step::Return { note }),
        Just(Step::Send { note: String::new() }),
        text.clone().prop_map(|note| Step::Withdraw { note }),
        text.clone().prop_map(|conditions| Step::DraftReply { reply: Reply::Approve { conditions } }),
        text.clone().prop_map(|reason| Step::DraftReply { reply: Reply::Refuse { reason } }),
        Just(Step::DraftReply { reply: Reply::Supplement { materials: vec!["授权书".into()] } }),
        text.clone().prop_map(|note| Step::ReturnReply { note }),
        Just(Step::ApproveReply { note: "同意".into() }),
        Just(Step::Supplement { request: request(), note: String::new() }),
        (0u32..13).prop_map(|days| Step::RequestExtension { days, reason: "核对".into() }),
        any::<bool>().prop_map(|granted| Step::DecideExtension { granted, note: String::new() }),
        Just(Step::RecordDelivery { note: String::new() }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// Whatever anyone tries, in any order, at any pace: the timeline only ever holds allowed steps, and what it
    /// says agrees with the regulation.
    #[test]
    fn timelines_obey_the_regulation(
        attribute in prop_oneof![Just(SharingAttribute::Unconditional), Just(SharingAttribute::Conditional)],
        start_minutes in 0i64..(60 * 24 * 365),
        tries in proptest::collection::vec((any_step(), 0i64..(60 * 24 * 6)), 1..40),
    ) {
        let start = beijing("2026-01-01 00:00") + Duration::minutes(start_minutes);
        let mut a = application(attribute, start);
        let mut now = start;
        for (step, wait) in tries {
            now += Duration::minutes(wait);
            let before = a.status(&cal(), now).unwrap();
            let accepted = a.apply(event(now, step.clone()), &cal()).is_ok();
            if before.stage.is_final() {
                prop_assert!(!accepted, "nothing follows a final stage");
            }
            if accepted && before.stage == Stage::Approved {
                prop_assert!(matches!(step, Step::RecordDelivery { .. }), "only delivery follows approval");
            }
        }
        let status = a.status(&cal(), now).unwrap();
        let steps: Vec<&Step> = a.events.iter().map(|e| &e.step).collect();
        let count = |f: &dyn Fn(&Step) -> bool| steps.iter().filter(|s| f(s)).count();

        // One supplement notice, one extension request, at most one decision on it.
        let supplements = count(&|s| matches!(s, Step::Supplement { .. }));
        let requests = count(&|s| matches!(s, Step::RequestExtension { .. }));
        let decisions = count(&|s| matches!(s, Step::DecideExtension { .. }));
        prop_assert!(supplements <= 1, "supplemented {} times", supplements);
        prop_assert!(requests <= 1, "extension asked {} times", requests);
        prop_assert!(decisions <= requests, "{} decisions on {} requests", decisions, requests);
        prop_assert!(count(&|s| matches!(s, Step::Send { .. })) <= 1, "sent once: the head approves only from a draft");
        // Extensions: 1..=10 days, and the reply period never exceeds the base plus the granted extension.
        if let Some(x) = &status.extension {
            prop_assert!((1..=MAX_EXTENSION_DAYS).contains(&x.days));
        }
        for p in status.periods.iter().filter(|p| p.kind == ClockKind::Reply) {
            prop_assert!(p.days >= a.reply_days() && p.days <= a.reply_days() + MAX_EXTENSION_DAYS);
            prop_assert!(p.due_at > p.started_at);
        }
        // Refusals state their reason, and not incompleteness before the one supplement notice.
        if status.stage == Stage::Refused {
            let Some(Reply::Refuse { reason }) = &status.reply else { panic!("refused without a refusal") };
            prop_assert!(!reason.trim().is_empty());
        }
        // A running deadline exactly when the provider owes something.
        let owes = matches!(status.stage, Stage::AwaitingReply | Stage::ReplyAwaitingHead | Stage::Approved);
        prop_assert_eq!(status.running.is_some(), owes);
        prop_assert_eq!(status.working_days_left.is_some(), owes);
        // Approval and delivery only after the provider received the application.
        if matches!(status.stage, Stage::Approved | Stage::Delivered | Stage::Refused) {
            prop_assert!(status.replied_at.is_some());
            prop_assert!(steps.iter().any(|s| matches!(s, Step::Send { .. })), "a reply needs a sent application");
        }
        // The status is a pure function of the timeline: replaying the events one by one gives the same result.
        let mut replay = Application { events: vec![a.events[0].clone()], ..a.clone() };
        for e in &a.events[1..] {
            replay.apply(e.clone(), &cal()).unwrap();
        }
        prop_assert_eq!(replay.status(&cal(), now).unwrap(), status);
    }
}

// ---- duties, property-tested ----

const AUTHORITY: OrgId = OrgId(uuid::Uuid::from_u128(3));

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// The ledger kept step by step (after each step, the duties derived from the timeline so far, written by key)
    /// ends equal to the duties derived from the whole timeline; no duty ever disappears; and the open duties say
    /// who must act exactly as the stage does, with the status's deadlines.
    #[test]
    fn duties_kept_step_by_step_equal_those_of_the_whole_timeline(
        attribute in prop_oneof![Just(SharingAttribute::Unconditional), Just(SharingAttribute::Conditional)],
        start_minutes in 0i64..(60 * 24 * 365),
        tries in proptest::collection::vec((any_step(), 0i64..(60 * 24 * 6)), 1..40),
    ) {
        use crate::duty::{DutyKind, application_duties};
        use crate::role::Role;
        let start = beijing("2026-01-01 00:00") + Duration::minutes(start_minutes);
        let mut a = application(attribute, start);
        let mut ledger: std::collections::BTreeMap<String, crate::duty::Duty> = Default::default();
        let mut now = start;
        for d in application_duties(&a, &cal(), Some(AUTHORITY)).unwrap() {
            ledger.insert(d.key.clone(), d);
        }
        for (step, wait) in tries {
            now += Duration::minutes(wait);
            if a.apply(event(now, step), &cal()).is_err() {
                continue;
            }
            let derived = application_duties(&a, &cal(), Some(AUTHORITY)).unwrap();
            let keys: std::collections::BTreeSet<&String> = derived.iter().map(|d| &d.key).collect();
            prop_assert!(ledger.keys().all(|k| keys.contains(k)), "a step removed a duty");
            for d in derived {
                ledger.insert(d.key.clone(), d);
            }
        }
        let whole: std::collections::BTreeMap<String, crate::duty::Duty> =
            application_duties(&a, &cal(), Some(AUTHORITY)).unwrap().into_iter().map(|d| (d.key.clone(), d)).collect();
        prop_assert_eq!(&ledger, &whole);

        let status = a.status(&cal(), now).unwrap();
        let open: Vec<&crate::duty::Duty> = whole.values().filter(|d| d.is_open()).collect();
        let open_of = |kind: DutyKind| open.iter().filter(|d| d.kind == kind).count();
        let expected = match status.stage {
            Stage::Draft if a.events.iter().any(|e| matches!(e.step, Step::Return { .. })) => Some((DutyKind::ReviseApplication, REQUESTER, Role::Clerk)),
            Stage::AwaitingRequesterHead => Some((DutyKind::ApproveApplication, REQUESTER, Role::WorkUnitHead)),
            Stage::AwaitingReply => Some((DutyKind::Reply, PROVIDER, Role::Clerk)),
            Stage::ReplyAwaitingHead => Some((DutyKind::Reply, PROVIDER, Role::WorkUnitHead)),
            Stage::AwaitingSupplement => Some((DutyKind::Supplement, REQUESTER, Role::Clerk)),
            Stage::Approved => Some((DutyKind::Deliver, PROVIDER, Role::Clerk)),
            _ => None,
        };
        let undecided = status.extension.as_ref().is_some_and(|x| x.granted.is_none())
            && matches!(status.stage, Stage::AwaitingReply | Stage::ReplyAwaitingHead);
        prop_assert_eq!(open.len(), usize::from(expected.is_some()) + usize::from(undecided), "open duties: {:?}", open);
        if let Some((kind, owner, role)) = expected {
            let d = open.iter().find(|d| d.kind == kind).expect("the duty of the stage is open");
            prop_assert_eq!((d.owner, d.role), (owner, role));
        }
        if undecided {
            prop_assert_eq!(open_of(DutyKind::DecideReplyExtension), 1);
        }
        // Deadlines are the status's, period by period: due, met in time or not.
        for p in &status.periods {
            let kind = if p.kind == ClockKind::Reply { DutyKind::Reply } else { DutyKind::Deliver };
            let d = whole.values().find(|d| d.kind == kind && d.key.ends_with(&format!(":{}", p.started_by)));
            let d = d.expect("every period is a duty");
            prop_assert_eq!(d.due_at, Some(p.due_at));
            prop_assert_eq!(d.days, Some(p.days));
            prop_assert_eq!(d.late(now), p.late);
            prop_assert_eq!(d.is_open(), p.running);
        }
    }
}
