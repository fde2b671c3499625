//! Regions, organisations and the audit log.

use govshare_domain::audit::{AuditEvent, AuditRecord};
use govshare_domain::authz::Action;
use govshare_domain::org::{NewOrganisationInput, OrgId, OrgKind, Organisation, parse_work_unit_name};
use govshare_domain::principal::Principal;
use govshare_domain::region::Region;
use serde_json::json;

use crate::{Result, Services};

impl Services {
    pub async fn list_regions(&self, principal: &Principal) -> Result<Vec<Region>> {
        self.authorize(principal, Action::ViewDirectory)?;
        Ok(self.store.list_regions().await?)
    }

    pub async fn create_region(&self, principal: &Principal, code: &str, name: &str) -> Result<Region> {
        self.authorize(principal, Action::ManageOrganisations)?;
        let region = Region::parse(code, name)?;
        let audit = AuditEvent::new(
            principal.audit_name(),
            principal.org_id(),
            "region.create",
            "region",
            region.code,
            json!({ "name": region.name }),
        );
        self.store.create_region(&region, &audit).await?;
        Ok(region)
    }

    pub async fn list_orgs(&self, principal: &Principal) -> Result<Vec<Organisation>> {
        self.authorize(principal, Action::ViewDirectory)?;
        Ok(self.store.list_orgs().await?)
    }

    pub async fn get_org(&self, principal: &Principal, id: OrgId) -> Result<Organisation> {
        self.authorize(principal, Action::ViewDirectory)?;
        Ok(self.store.get_org(id).await?)
    }

    pub async fn create_org(&self, principal: &Principal, input: &NewOrganisationInput) -> Result<Organisation> {
        self.authorize(principal, Action::ManageOrganisations)?;
        let org = Organisation::parse(input, self.now())?;
        let audit = AuditEvent::new(
            principal.audit_name(),
            principal.org_id(),
            "org.create",
            "organisation",
            org.id,
            json!({
                "kind": org.kind.code(),
                "name": org.name,
                "region": org.region,
                "credit_code": org.credit_code,
                "work_unit_name": org.work_unit_name,
            }),
        );
        self.store.create_org(&org, &audit).await?;
        Ok(org)
    }

    pub async fn update_work_unit(
        &self,
        principal: &Principal,
        id: OrgId,
        work_unit_name: &str,
    ) -> Result<Organisation> {
        self.authorize(principal, Action::EditOrganisation(id))?;
        let name = parse_work_unit_name(work_unit_name)?;
        let audit = AuditEvent::new(
            principal.audit_name(),
            Some(id),
            "org.work_unit.update",
            "organisation",
            id,
            json!({ "work_unit_name": name }),
        );
        self.store.update_org_work_unit(id, &name, &audit).await?;
        Ok(self.store.get_org(id).await?)
    }

    /// The authority of a region, the one that reviews its departments' catalogs.
    pub async fn authority_of(&self, region: govshare_domain::region::RegionCode) -> Result<Option<Organisation>> {
        Ok(self.store.list_orgs().await?.into_iter().find(|o| o.kind == OrgKind::Authority && o.region == region))
    }

    pub async fn recent_audit(
        &self,
        principal: &Principal,
        org: Option<OrgId>,
        limit: u32,
    ) -> Result<Vec<AuditRecord>> {
        self.authorize(principal, Action::ViewAudit)?;
        Ok(self.store.recent_audit(org, limit.clamp(1, 500)).await?)
    }

    /// Audit records as `filter` selects them (a page of at most 10,000), and how many match in all.
    pub async fn search_audit(
        &self,
        principal: &Principal,
        filter: &govshare_domain::audit::AuditFilter,
    ) -> Result<(Vec<AuditRecord>, u64)> {
        self.authorize(principal, Action::ViewAudit)?;
        let filter = govshare_domain::audit::AuditFilter { limit: filter.limit.clamp(1, 10_000), ..filter.clone() };
        Ok(self.store.search_audit(&filter).await?)
    }

    /// The people and systems that appear in the audit log, with the person's name where the actor is a user
    /// (for the operator filter and the names shown).
    pub async fn audit_actors(&self, principal: &Principal) -> Result<Vec<(String, Option<String>)>> {
        self.authorize(principal, Action::ViewAudit)?;
        Ok(self.store.audit_actors(1_000).await?)
    }
}
