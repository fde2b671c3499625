use chrono::{Duration, TimeZone};
use proptest::prelude::*;

use super::*;
use crate::catalog::{DataItem, DataType, Grade, SharingTerms};
use crate::grant::{GrantId, GrantState};
use crate::org::OrgId;

fn item(code: &str) -> DataItem {
    DataItem {
        name: code.to_uppercase(),
        code: code.into(),
        data_type: DataType::String,
        length: Some(50),
        grade: Grade { class: "一般数据".into(), level: 2 },
        personal_info: None,
        format: None,
    }
}

fn entry() -> EntryContent {
    EntryContent {
        name: "城乡低保对象信息".into(),
        resource_code: "330000-MZT-0001".into(),
        summary: "低保对象".into(),
        format: crate::catalog::DataFormat::Database,
        items: vec![item("name"), item("id_number"), item("amount"), item("address"), item("xzqh")],
        update_frequency: crate::catalog::UpdateFrequency::Monthly,
        sharing: SharingTerms::Unconditional,
        delivery_methods: [DeliveryMethod::ServiceApi].into_iter().collect(),
        usage_conditions: String::new(),
        grade: Grade { class: "一般数据".into(), level: 2 },
        open_to_public: false,
        related_codes: vec![],
    }
}

fn at(day: i64) -> DateTime<Utc> {
    chrono::Utc.with_ymd_and_hms(2026, 12, 1, 2, 0, 0).unwrap() + Duration::days(day)
}

fn grant() -> Grant {
    Grant {
        id: GrantId(uuid::Uuid::from_u128(9)),
        number: "GX-2026-000001".into(),
        application: crate::application::ApplicationId(uuid::Uuid::from_u128(8)),
        requester: OrgId(uuid::Uuid::from_u128(4)),
        provider: OrgId(uuid::Uuid::from_u128(2)),
        entry: crate::catalog::EntryId(uuid::Uuid::from_u128(7)),
        items: vec![
            GrantItem { code: "name".into(), masking: Masking::Mask },
            GrantItem { code: "id_number".into(), masking: Masking::Drop },
        ],
        purpose: "核验低保身份".into(),
        row_scope: Some(RowScope { item: "xzqh".into(), prefixes: vec!["3301".into()] }),
        delivery: [DeliveryMethod::ServiceApi].into(),
        valid_from: NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
        valid_until: NaiveDate::from_ymd_opt(2027, 12, 1).unwrap(),
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
        hash_key: String::new(),
        created_at: at(0),
        events: vec![GrantEvent { at: at(0), actor: "user:p".into(), action: "create".into(), ..Default::default() }],
    }
}

fn full_input() -> ChangeRequestInput {
    ChangeRequestInput {
        add_items: vec!["amount".into(), "id_number".into()],
        add_prefixes: "3302，3303".into(),
        all_rows: false,
        purpose: "就业援助对象认定".into(),
        third_party_name: "杭州市就业管理服务中心".into(),
        third_party_credit_code: String::new(),
        third_party_items: vec!["name".into(), "amount".into()],
        third_party_purpose: "就业援助补贴发放".into(),
        reasons: "扩大至宁波、温州的就业援助".into(),
        legal_basis: "《就业促进法》第五十二条".into(),
    }
}

fn rules<T: std::fmt::Debug>(r: Result<T, Vec<ValidationError>>) -> Vec<(String, &'static str)> {
    r.unwrap_err().into_iter().map(|p| (p.field.to_string(), p.rule)).collect()
}

fn pairs(p: &[(&str, &'static str)]) -> Vec<(String, &'static str)> {
    p.iter().map(|(f, r)| (f.to_string(), *r)).collect()
}

fn step(grant: &mut Grant, action: &str, request: Option<ChangeRequest>, decision: Option<ChangeDecision>) {
    let day = grant.events.len() as i64;
    grant.events.push(GrantEvent {
        at: at(day),
        actor: "user:x".into(),
        action: action.into(),
        change_request: request,
        change_decision: decision,
        ..Default::default()
    });
}

/// A grant whose change request (everything of `full_input`) is drafted for approval by `decision`.
fn drafted(decision: &ChangeDecision) -> (Grant, ChangeRequest) {
    let mut g = grant();
    let request = ChangeRequest::parse(&full_input(), &g, &entry()).unwrap();
    step(&mut g, "request_change", Some(request.clone()), None);
    step(&mut g, "send_change", None, None);
    step(&mut g, "draft_change_decision", None, Some(decision.clone()));
    (g, request)
}

fn approve_all() -> ChangeDecision {
    let mut items = BTreeMap::new();
    items.insert("amount".to_owned(), "keep".to_owned());
    items.insert("id_number".to_owned(), "mask".to_owned());
    let input = ChangeDecisionInput {
        decision: "approve".into(),
        items,
        add_prefixes: "3302".into(),
        all_rows: false,
        purpose: true,
        third_party_items: vec!["name".into(), "amount".into()],
        reason: String::new(),
    };
    ChangeDecision::parse(&input, &ChangeRequest::parse(&full_input(), &grant(), &entry()).unwrap()).unwrap()
}

#[test]
fn a_request_is_checked_against_the_grant_and_every_problem_is_named() {
    let g = grant();
    let ok = ChangeRequest::parse(&full_input(), &g, &entry()).unwrap();
    assert_eq!(ok.add_items, vec!["amount", "id_number"], "a dropped item may be asked for with its values");
    assert_eq!(ok.add_prefixes, vec!["3302", "3303"]);
    assert_eq!(ok.third_party.as_ref().unwrap().items, vec!["name", "amount"]);
    assert_eq!(
        ok.summary(),
        "增加数据项 2 项，扩大行范围（3302、3303），用于新的用途，向「杭州市就业管理服务中心」提供"
    );

    let bad = ChangeRequestInput {
        add_items: vec!["name".into(), "nope".into()],
        add_prefixes: "330101".into(),
        all_rows: true,
        purpose: "核验低保身份".into(),
        third_party_name: " ".into(),
        third_party_credit_code: "123".into(),
        third_party_items: vec!["address".into()],
        third_party_purpose: String::new(),
        reasons: String::new(),
        legal_basis: "x".repeat(1001),
    };
    assert_eq!(
        rules(ChangeRequest::parse(&bad, &g, &entry())),
        pairs(&[
            ("add_items.name", "already_granted"),
            ("add_items.nope", "not_in_entry"),
            ("add_prefixes", "already_granted"),
            ("add_prefixes", "with_all_rows"),
            ("purpose", "already_granted"),
            ("third_party_name", "required"),
            ("third_party_credit_code", "length"),
            ("third_party_purpose", "required"),
            ("third_party_items.address", "not_granted"),
            ("reasons", "required"),
            ("legal_basis", "too_long"),
        ])
    );
    let empty = ChangeRequestInput { reasons: "r".into(), legal_basis: "b".into(), ..Default::default() };
    assert_eq!(rules(ChangeRequest::parse(&empty, &g, &entry())), pairs(&[("change", "empty")]));
    let mut unscoped = grant();
    unscoped.row_scope = None;
    let rows = ChangeRequestInput { all_rows: true, ..empty.clone() };
    assert_eq!(rules(ChangeRequest::parse(&rows, &unscoped, &entry())), pairs(&[("all_rows", "no_row_scope")]));
}

#[test]
fn a_decision_approves_at_most_what_was_asked() {
    let request = ChangeRequest::parse(&full_input(), &grant(), &entry()).unwrap();
    let refuse = ChangeDecisionInput { decision: "refuse".into(), ..Default::default() };
    assert_eq!(rules(ChangeDecision::parse(&refuse, &request)), pairs(&[("reason", "required")]));
    let nothing = ChangeDecisionInput { decision: "approve".into(), ..Default::default() };
    assert_eq!(rules(ChangeDecision::parse(&nothing, &request)), pairs(&[("decision", "nothing_approved")]));
    let mut items = BTreeMap::new();
    items.insert("address".to_owned(), "keep".to_owned());
    items.insert("amount".to_owned(), "reveal".to_owned());
    let wider = ChangeDecisionInput {
        decision: "approve".into(),
        items,
        add_prefixes: "3309".into(),
        all_rows: true,
        purpose: true,
        third_party_items: vec!["id_number".into(), "amount".into()],
        reason: String::new(),
    };
    assert_eq!(
        rules(ChangeDecision::parse(&wider, &request)),
        pairs(&[
            ("items.address", "not_requested"),
            ("items.amount", "unknown_value"),
            ("add_prefixes", "not_requested"),
            ("all_rows", "not_requested"),
            ("third_party_items.id_number", "not_requested"),
            ("third_party_items.amount", "not_approved"),
        ])
    );
    let many = ChangeDecisionInput {
        decision: "approve".into(),
        purpose: true,
        third_party_items: (0..=crate::catalog::MAX_ITEMS).map(|i| format!("x{i}")).collect(),
        ..Default::default()
    };
    let problems = rules(ChangeDecision::parse(&many, &request));
    assert_eq!(problems[0], ("third_party_items".to_owned(), "too_many"), "a long list is bounded, never skipped");
    let d = approve_all();
    assert_eq!(d.items.len(), 2);
    assert_eq!(d.add_prefixes, vec!["3302"], "narrower than asked: one of the two prefixes");
}

#[test]
fn an_approved_change_makes_a_new_version_and_keeps_the_old() {
    let decision = approve_all();
    let (before, request) = drafted(&decision);
    let mut after = before.clone();
    step(&mut after, "decide_change", None, Some(decision.clone()));
    after.apply_change(&request, &decision, after.events.last().unwrap().at, Some(&entry()));
    assert_eq!(check_terms_change(&before, &after), Ok(()));
    assert_eq!(after.terms_version(), 2);
    assert_eq!(after.past_terms[0].terms, grant().terms(), "the first version is kept as it was");
    let codes: Vec<(&str, Masking)> = after.items.iter().map(|i| (i.code.as_str(), i.masking)).collect();
    assert_eq!(codes, vec![("name", Masking::Mask), ("id_number", Masking::Mask), ("amount", Masking::Keep)]);
    assert_eq!(after.row_scope.as_ref().unwrap().prefixes, vec!["3301", "3302"]);
    assert_eq!(after.purposes().collect::<Vec<_>>(), vec!["核验低保身份", "就业援助对象认定"]);
    assert_eq!(after.third_parties[0].name, "杭州市就业管理服务中心");
    assert_eq!(after.third_parties[0].items, vec!["name", "amount"]);
    let cases = change_cases(&after.events);
    assert_eq!(cases.len(), 1);
    assert_eq!((cases[0].stage, cases[0].outcome), (None, Some("approved")));
    assert!(after.open_change().is_none());

    // The same terms with more than was approved, or the history rewritten, are refused.
    let mut more = after.clone();
    more.items.push(GrantItem { code: "address".into(), masking: Masking::Keep });
    assert!(check_terms_change(&before, &more).is_err());
    let mut rewritten = after.clone();
    rewritten.past_terms.clear();
    assert!(check_terms_change(&before, &rewritten).is_err());
    // A decision that differs from the one drafted (the head cannot widen it) is refused.
    let (before, request) = drafted(&ChangeDecision { purpose: false, ..decision.clone() });
    let mut after = before.clone();
    step(&mut after, "decide_change", None, Some(decision.clone()));
    after.apply_change(&request, &decision, after.events.last().unwrap().at, None);
    assert!(check_terms_change(&before, &after).is_err());
}

#[test]
fn the_steps_of_a_change_request_are_read_off_the_events() {
    let mut g = grant();
    let request = ChangeRequest::parse(&full_input(), &g, &entry()).unwrap();
    step(&mut g, "request_change", Some(request.clone()), None);
    assert_eq!(g.open_change().unwrap().stage, Some(ChangeStage::Filed));
    step(&mut g, "send_change", None, None);
    assert_eq!(g.open_change().unwrap().stage, Some(ChangeStage::Sent));
    step(&mut g, "draft_change_decision", None, Some(approve_all()));
    assert_eq!(g.open_change().unwrap().stage, Some(ChangeStage::Drafted));
    step(&mut g, "return_change_decision", None, None);
    assert_eq!(g.open_change().unwrap().stage, Some(ChangeStage::Sent));
    step(&mut g, "withdraw_change", None, None);
    assert!(g.open_change().is_none());
    step(&mut g, "request_change", Some(request), None);
    let cases = change_cases(&g.events);
    assert_eq!(cases.iter().map(|c| c.no).collect::<Vec<_>>(), vec![1, 2]);
    assert_eq!(cases[0].outcome_label(), "已撤回");
    assert_eq!(cases[1].outcome_label(), "待需求部门负责人审核发送");
}

/// One way a stored grant could be altered outside an approved change.
#[derive(Debug, Clone)]
enum Edit {
    AddItem(usize, Masking),
    Remask(usize, Masking),
    RemoveItem(usize),
    LiftScope,
    AddPrefix(String),
    NarrowPrefix(String),
    AddPurpose,
    AddThirdParty,
    Extend(i64),
    Shorten(i64),
    RaiseRate(u32),
    LowerRate(u32),
    AddDelivery,
}

fn edit() -> impl Strategy<Value = Edit> {
    let masking = prop::sample::select(Masking::ALL.to_vec());
    prop_oneof![
        (0..5usize, masking.clone()).prop_map(|(i, m)| Edit::AddItem(i, m)),
        (0..2usize, masking).prop_map(|(i, m)| Edit::Remask(i, m)),
        (0..2usize).prop_map(Edit::RemoveItem),
        Just(Edit::LiftScope),
        "33[0-9]{2}".prop_map(Edit::AddPrefix),
        "[0-9]{2}".prop_map(|s| Edit::NarrowPrefix(format!("3301{s}"))),
        Just(Edit::AddPurpose),
        Just(Edit::AddThirdParty),
        (1..400i64).prop_map(Edit::Extend),
        (1..30i64).prop_map(Edit::Shorten),
        (1..1000u32).prop_map(Edit::RaiseRate),
        (1..59u32).prop_map(Edit::LowerRate),
        Just(Edit::AddDelivery),
    ]
}

fn narrowing() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (0..2usize).prop_map(|i| Edit::Remask(i, Masking::Drop)),
        (0..2usize).prop_map(Edit::RemoveItem),
        "[0-9]{2}".prop_map(|s| Edit::NarrowPrefix(format!("3301{s}"))),
        (1..30i64).prop_map(Edit::Shorten),
        (1..59u32).prop_map(Edit::LowerRate),
    ]
}

/// Applies an edit; true if it gives the requester something it did not have.
fn apply(g: &mut Grant, e: &Edit) -> bool {
    let codes = ["name", "id_number", "amount", "address", "xzqh"];
    match e {
        Edit::AddItem(i, m) => {
            let code = codes[*i];
            if g.item(code).is_some() {
                return false;
            }
            g.items.push(GrantItem { code: code.into(), masking: *m });
            true
        }
        Edit::Remask(i, m) => match g.items.get_mut(*i) {
            Some(item) if item.masking != *m => {
                item.masking = *m;
                *m != Masking::Drop
            }
            _ => false,
        },
        Edit::RemoveItem(i) => {
            if *i < g.items.len() {
                g.items.remove(*i);
            }
            false
        }
        Edit::LiftScope => g.row_scope.take().is_some(),
        Edit::AddPrefix(p) => {
            let scope = g.row_scope.as_mut();
            match scope {
                Some(s) if !s.prefixes.iter().any(|q| p.starts_with(q.as_str())) => {
                    s.prefixes.push(p.clone());
                    true
                }
                _ => false,
            }
        }
        Edit::NarrowPrefix(p) => {
            if let Some(s) = g.row_scope.as_mut() {
                s.prefixes = vec![p.clone()];
            }
            false
        }
        Edit::AddPurpose => {
            g.further_purposes.push("另作他用".into());
            true
        }
        Edit::AddThirdParty => {
            g.third_parties.push(ThirdParty {
                name: "某公司".into(),
                credit_code: String::new(),
                items: vec!["name".into()],
                purpose: "营销".into(),
            });
            true
        }
        Edit::Extend(d) => {
            g.valid_until += Duration::days(*d);
            true
        }
        Edit::Shorten(d) => {
            g.valid_until -= Duration::days(*d);
            false
        }
        Edit::RaiseRate(n) => {
            g.rate_per_minute += n;
            true
        }
        Edit::LowerRate(n) => {
            g.rate_per_minute = g.rate_per_minute.saturating_sub(*n).max(1);
            false
        }
        Edit::AddDelivery => g.delivery.insert(DeliveryMethod::BulkExchange),
    }
}

proptest! {
    /// Whatever one edit does to a grant's document outside an approved change request, it is stored only if it
    /// gives nothing new — with or without a step recorded beside it that claims an approval.
    #[test]
    fn a_grant_never_widens_without_an_approved_change(e in edit(), claim in any::<bool>()) {
        let before = grant();
        let mut after = before.clone();
        let widened = apply(&mut after, &e);
        if claim {
            // A decision in the last event without an open, drafted request behind it proves nothing.
            step(&mut after, "decide_change", None, Some(approve_all()));
        }
        prop_assert_eq!(check_terms_change(&before, &after).is_ok(), !widened, "edit {:?}", e);
    }

    /// Narrowing, however often, is always stored (a provider narrows by negotiation and filing, Art. 27 ¶3;
    /// that process is the service's, not this rule's).
    #[test]
    fn narrowing_edits_are_never_refused(edits in prop::collection::vec(narrowing(), 1..8)) {
        let before = grant();
        let mut after = before.clone();
        for e in &edits {
            prop_assert!(!apply(&mut after, e));
        }
        prop_assert!(check_terms_change(&before, &after).is_ok(), "edits {:?}", edits);
    }
}

#[test]
fn a_filed_narrowing_takes_effect_on_its_day_and_only_narrows() {
    let g = grant();
    let today = NaiveDate::from_ymd_opt(2026, 12, 2).unwrap();
    let mut changes = BTreeMap::new();
    changes.insert("name".to_owned(), "drop".to_owned());
    changes.insert("id_number".to_owned(), "remove".to_owned());
    let n = Narrowing::parse(&changes, "会商一致", "2026-12-05", &g, today).unwrap();
    assert_eq!(n.items, vec![GrantItem { code: "name".into(), masking: Masking::Drop }]);
    let mut wider = BTreeMap::new();
    wider.insert("id_number".to_owned(), "keep".to_owned());
    wider.insert("amount".to_owned(), "drop".to_owned());
    assert_eq!(
        rules(Narrowing::parse(&wider, "", "2026-12-05", &g, today)),
        pairs(&[
            ("negotiation", "required"),
            ("narrow_items.amount", "not_granted"),
            ("narrow_items.id_number", "not_narrower")
        ])
    );
    assert_eq!(
        rules(Narrowing::parse(&BTreeMap::new(), "会商", "2026-12-05", &g, today)),
        pairs(&[("narrow_items", "no_change")])
    );

    let mut scheduled = g.clone();
    scheduled.scheduled_narrowing = Some(n);
    let before = scheduled.clone();
    assert!(!scheduled.settle(at(2)), "not before its day (2026-12-03)");
    assert!(scheduled.settle(at(4)), "on 2026-12-05");
    assert_eq!((scheduled.terms_version(), scheduled.items.len()), (2, 1));
    assert_eq!(scheduled.past_terms[0].terms, g.terms(), "the earlier terms are kept");
    assert_eq!(check_terms_change(&before, &scheduled), Ok(()), "narrower, history appended");
    let mut forged = scheduled.clone();
    forged.items.push(GrantItem { code: "amount".into(), masking: Masking::Keep });
    assert!(check_terms_change(&before, &forged).is_err(), "a forged 'narrowing' that widens is refused");
}
