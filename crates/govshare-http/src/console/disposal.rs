//! The disposal part of the grant's page (Art. 27 ¶1): how the provider requires the data to be disposed of, the
//! requester's declaration that ends its use and its confirmation of the disposal, the provider's acknowledgement.
//! Each form posts a step to the grant's state route.

use chrono::{DateTime, Utc};
use govshare_domain::authz::{Action, check};
use govshare_domain::disposal::{DisposalMethod, EndedBecause};
use govshare_domain::grant::Grant;
use govshare_domain::principal::Principal;

use super::pages::beijing;

#[derive(Debug, Clone, Default)]
pub struct DisposalSection {
    /// Where it stands, in words, and the tag's class.
    pub status: &'static str,
    pub status_class: &'static str,
    pub ended_because: Option<&'static str>,
    /// (method, what exactly)
    pub requirement: Option<(&'static str, String)>,
    /// (method, date, person responsible, evidence, when confirmed)
    pub confirmation: Option<(&'static str, String, String, String, String)>,
    pub can_declare_end: bool,
    pub can_require: bool,
    pub can_confirm: bool,
    pub can_acknowledge: bool,
    pub methods: Vec<(&'static str, &'static str)>,
    pub reasons: Vec<(&'static str, &'static str)>,
    /// The method the provider required, preselected in the confirmation form.
    pub required_method: &'static str,
}

pub fn section(p: &Principal, grant: &Grant, now: DateTime<Utc>) -> DisposalSection {
    let d = grant.disposal();
    let running = grant.is_running(now);
    let requester_staff = check(p, Action::PrepareSharing(grant.requester)).is_ok();
    let provider_staff = check(p, Action::PrepareSharing(grant.provider)).is_ok();
    let (status, status_class) = match (running, d.confirmation.is_some(), d.acknowledged) {
        (true, _, _) => ("使用中：使用结束后处置", ""),
        (false, false, _) => ("待需求部门处置并确认", "tag-warn"),
        (false, true, false) => ("待提供部门确认", "tag-warn"),
        (false, true, true) => ("处置已确认", "tag-ok"),
    };
    DisposalSection {
        status,
        status_class,
        ended_because: d.ended_because.map(EndedBecause::label),
        requirement: d.requirement.map(|r| (r.method.label(), r.note.clone())),
        confirmation: d.confirmation.map(|(e, c)| {
            (c.method.label(), c.done_on.to_string(), c.responsible.clone(), c.evidence.clone(), beijing(e.at))
        }),
        can_declare_end: running && check(p, Action::ApproveSharing(grant.requester)).is_ok(),
        can_require: provider_staff && !(d.confirmation.is_some() && d.acknowledged),
        can_confirm: !running && requester_staff && d.confirmation.is_none(),
        can_acknowledge: provider_staff && d.confirmation.is_some() && !d.acknowledged,
        methods: DisposalMethod::ALL.iter().map(|m| (m.code(), m.label())).collect(),
        reasons: EndedBecause::ALL.iter().map(|b| (b.code(), b.label())).collect(),
        required_method: d.requirement.map(|r| r.method.code()).unwrap_or(""),
    }
}
