//! The authorisation matrix (issue 10): every route the router serves × eight callers, with the expected outcome
//! declared once per route in [`MATRIX`]. The list of routes comes from the router itself
//! (`govshare_http::routes()`, the table the router is built from): a route without a declaration, or a
//! declaration without a route, fails the test.
//!
//! The callers: the owner (a person of the department that owns the object, with the role the action needs),
//! a clerk and a head of another department (教育厅), a contractor's engineer of the owner's department, the
//! owner department's own system key, another department's key, the provincial authority's key, and nobody.
//! Path parameters are real objects of the owner: 公安厅's hosted entry, its grants to 民政厅, and so on.
//!
//! Outcomes are classes: `O` — allowed (2xx, 3xx, or a 4xx about the request itself such as 409 or 422),
//! `D` — refused (403, or 404 for an object the caller may not know of), `U` — not signed in (401, or the
//! console's redirect to the login form). A 5xx never matches.
//!
//! The owner is asked last, so that an action it performs (revoking a role, publishing) does not change what
//! the others are asked about; reads are asked before writes, and the test checks that all the `GET`s together
//! changed nothing (the audit chain's head and which notifications are read stay as they were).

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::people::{self, STANDARD_ITEMS, id_number, standard_grant};
use common::{Backend, Client, PASSWORD, Reply, TestApp, spawn_with, test_settings};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    O,
    D,
    U,
}
use Expect::{D, O, U};

/// Who owns a route's object (and acts as its owner): a demo login.
type Owner = &'static str;
const GAT_CLERK: Owner = "gat.clerk";
const GAT_HEAD: Owner = "gat.head";
/// The requester of 公安厅's grants: the data plane's owner.
const MZT_CLERK: Owner = "mzt.clerk";
const ADMIN: Owner = "admin";
const REVIEWER: Owner = "reviewer";
const SUPERVISOR: Owner = "supervisor";

/// The callers, in the order of each row's outcomes.
const CALLERS: [&str; 8] =
    ["owner", "foreign clerk", "foreign head", "contractor", "own key", "foreign key", "authority key", "anonymous"];

/// Anyone, signed in or not.
const PUBLIC: [Expect; 8] = [O, O, O, O, O, O, O, O];
/// Anyone signed in, people and business systems.
const ANY_CALLER: [Expect; 8] = [O, O, O, O, O, O, O, U];
/// Any person (acting for their own organisation); no system key.
const ANY_PERSON: [Expect; 8] = [O, O, O, O, D, D, D, U];
/// A person of the owner's organisation, contractors included; no one else.
const OWN_PEOPLE: [Expect; 8] = [O, D, D, O, D, D, D, U];
/// A person of the owner's organisation, contractors included, and its business system; no one else.
const OWN_PEOPLE_AND_KEY: [Expect; 8] = [O, D, D, O, O, D, D, U];
/// A person of the owner's organisation with the role, not contractors.
const OWN_STAFF: [Expect; 8] = [O, D, D, D, D, D, D, U];
/// Only the owner (an administrator, reviewer or supervisor, or the one person concerned).
const ONLY_OWNER: [Expect; 8] = [O, D, D, D, D, D, D, U];
/// Clerks and heads for their own organisation, not contractors.
const STAFF: [Expect; 8] = [O, O, O, D, D, D, D, U];
/// The data plane: the requester's people and its business systems.
const GRANTEE: [Expect; 8] = [O, D, D, D, O, D, D, U];
/// Console pages any person may open; keys and nobody are sent to the login form.
const PAGE: [Expect; 8] = [O, O, O, O, U, U, U, U];
const OWN_PAGE: [Expect; 8] = [O, D, D, O, U, U, U, U];
const STAFF_PAGE: [Expect; 8] = [O, O, O, D, U, U, U, U];
const OWN_STAFF_PAGE: [Expect; 8] = [O, D, D, D, U, U, U, U];
const HEAD_PAGE: [Expect; 8] = [O, D, O, D, U, U, U, U];
const ONLY_OWNER_PAGE: [Expect; 8] = [O, D, D, D, U, U, U, U];
/// Nobody: a route that refuses everyone in this configuration.
const NOBODY: [Expect; 8] = [D, D, D, D, D, D, D, D];

/// One row per route: method and path as the router has them, the owner, the outcome for each caller.
const MATRIX: &[(&str, &str, Owner, [Expect; 8])] = &[
    // ---- session and directory ----
    ("POST", "/api/v1/auth/login", GAT_CLERK, PUBLIC),
    ("POST", "/api/v1/auth/logout", GAT_CLERK, ANY_PERSON),
    ("GET", "/api/v1/me", GAT_CLERK, ANY_CALLER),
    ("PUT", "/api/v1/me/org", GAT_CLERK, OWN_PEOPLE),
    ("PUT", "/api/v1/me/password", GAT_CLERK, ANY_PERSON),
    ("GET", "/api/v1/regions", GAT_CLERK, ANY_CALLER),
    ("POST", "/api/v1/regions", ADMIN, ONLY_OWNER),
    ("GET", "/api/v1/organisations", GAT_CLERK, ANY_CALLER),
    ("POST", "/api/v1/organisations", ADMIN, ONLY_OWNER),
    ("GET", "/api/v1/organisations/{org_id}", GAT_CLERK, ANY_CALLER),
    ("PATCH", "/api/v1/organisations/{org_id}", GAT_HEAD, OWN_STAFF),
    // ---- people and credentials of 公安厅 ----
    ("GET", "/api/v1/organisations/{org_id}/members", GAT_CLERK, OWN_STAFF),
    ("POST", "/api/v1/organisations/{org_id}/members", GAT_HEAD, OWN_STAFF),
    ("POST", "/api/v1/organisations/{org_id}/members/roles", GAT_HEAD, OWN_STAFF),
    ("DELETE", "/api/v1/organisations/{org_id}/members/{user_id}/roles/{role}", GAT_HEAD, OWN_STAFF),
    ("POST", "/api/v1/organisations/{org_id}/members/{user_id}/disable", GAT_HEAD, OWN_STAFF),
    ("POST", "/api/v1/organisations/{org_id}/members/{user_id}/enable", GAT_HEAD, OWN_STAFF),
    ("PUT", "/api/v1/organisations/{org_id}/members/{user_id}/password", GAT_HEAD, OWN_STAFF),
    ("GET", "/api/v1/organisations/{org_id}/credentials", GAT_CLERK, OWN_STAFF),
    ("POST", "/api/v1/organisations/{org_id}/credentials", GAT_HEAD, OWN_STAFF),
    ("DELETE", "/api/v1/organisations/{org_id}/credentials/{credential_id}", GAT_HEAD, OWN_STAFF),
    ("GET", "/api/v1/audit", SUPERVISOR, ONLY_OWNER),
    ("POST", "/api/v1/audit/verify", ADMIN, ONLY_OWNER),
    ("POST", "/api/v1/audit/checkpoints", ADMIN, ONLY_OWNER),
    // ---- federation ----
    ("GET", "/api/v1/federation", ADMIN, ONLY_OWNER),
    // Node-to-node: sessions and keys count for nothing; only an SM2-signed message from a node of the directory
    // does (tests/federation.rs). This node has founded no federation, so it answers 404 to everyone.
    ("POST", "/federation/v1/messages", ADMIN, NOBODY),
    // ---- catalog ----
    ("GET", "/api/v1/catalog", GAT_CLERK, ANY_CALLER),
    ("POST", "/api/v1/catalog", GAT_CLERK, [O, O, O, O, D, D, D, U]),
    ("GET", "/api/v1/catalog/search", GAT_CLERK, ANY_CALLER),
    ("GET", "/api/v1/catalog/template.xlsx", GAT_CLERK, ANY_CALLER),
    ("POST", "/api/v1/catalog/import", GAT_CLERK, ANY_PERSON),
    ("GET", "/api/v1/catalog/export.xlsx", GAT_CLERK, ANY_CALLER),
    ("GET", "/api/v1/catalog/export.jsonld", GAT_CLERK, ANY_CALLER),
    ("GET", "/api/v1/catalog/{entry_id}", GAT_CLERK, ANY_CALLER),
    ("PUT", "/api/v1/catalog/{entry_id}", GAT_CLERK, OWN_PEOPLE),
    // The entry is published: whoever may edit it is told it stays (409), everyone else is refused.
    ("DELETE", "/api/v1/catalog/{entry_id}", GAT_CLERK, OWN_PEOPLE),
    ("POST", "/api/v1/catalog/{entry_id}/assessments", GAT_CLERK, OWN_PEOPLE),
    // An assessment of the published version: it stays (409) for whoever may edit, refused to everyone else.
    ("DELETE", "/api/v1/catalog/{entry_id}/assessments/{assessment_id}", GAT_CLERK, OWN_PEOPLE),
    // A draft's assessment report: the draft is its department's (and its authority's) until published.
    ("PUT", "/api/v1/catalog/{entry_id}/assessments/{assessment_id}/report", GAT_CLERK, OWN_PEOPLE),
    ("GET", "/api/v1/catalog/{entry_id}/assessments/{assessment_id}/report", GAT_CLERK, OWN_PEOPLE),
    ("POST", "/api/v1/catalog/{entry_id}/submit", GAT_CLERK, OWN_PEOPLE),
    ("POST", "/api/v1/catalog/{entry_id}/head-decision", GAT_HEAD, OWN_STAFF),
    ("POST", "/api/v1/catalog/{entry_id}/review", REVIEWER, ONLY_OWNER),
    ("GET", "/api/v1/catalog/{entry_id}/diff", GAT_CLERK, ANY_CALLER),
    ("GET", "/api/v1/duties", GAT_CLERK, ANY_CALLER),
    ("GET", "/api/v1/notifications", GAT_CLERK, ANY_PERSON),
    ("POST", "/api/v1/notifications/{notification_id}/read", GAT_CLERK, OWN_PEOPLE),
    // ---- obligations and sources of record ----
    ("GET", "/api/v1/obligations", GAT_HEAD, ANY_PERSON),
    ("POST", "/api/v1/obligations", GAT_HEAD, OWN_STAFF),
    ("POST", "/api/v1/obligations/{obligation_id}/extension", GAT_HEAD, OWN_STAFF),
    ("POST", "/api/v1/obligations/{obligation_id}/extension-decision", REVIEWER, ONLY_OWNER),
    ("GET", "/api/v1/sources", GAT_CLERK, ANY_PERSON),
    ("POST", "/api/v1/sources", REVIEWER, ONLY_OWNER),
    ("POST", "/api/v1/sources/check", GAT_CLERK, ANY_PERSON),
    // ---- applications (民政厅 asked 公安厅) ----
    ("GET", "/api/v1/applications", GAT_CLERK, STAFF),
    ("POST", "/api/v1/applications", GAT_CLERK, STAFF),
    ("GET", "/api/v1/applications/{application_id}", GAT_CLERK, OWN_PEOPLE),
    ("POST", "/api/v1/applications/{application_id}/steps", GAT_CLERK, OWN_STAFF),
    ("GET", "/api/v1/deadlines/overdue", SUPERVISOR, ONLY_OWNER),
    // ---- data sources, grants, the data plane ----
    ("GET", "/api/v1/catalog/{entry_id}/source", GAT_CLERK, OWN_PEOPLE),
    ("PUT", "/api/v1/catalog/{entry_id}/source", GAT_CLERK, OWN_PEOPLE),
    // The provider's business system runs its daily loads; binding the source stays with its people.
    ("POST", "/api/v1/catalog/{entry_id}/source/load", GAT_CLERK, OWN_PEOPLE_AND_KEY),
    ("POST", "/api/v1/applications/{application_id}/grant", GAT_CLERK, OWN_STAFF),
    ("GET", "/api/v1/grants", MZT_CLERK, ANY_CALLER),
    ("GET", "/api/v1/grants/{grant_id}", MZT_CLERK, [O, D, D, O, O, D, D, U]),
    ("POST", "/api/v1/grants/{grant_id}/state", GAT_HEAD, OWN_STAFF),
    // ---- security incidents (公安厅 reported one) ----
    ("POST", "/api/v1/incidents", GAT_CLERK, STAFF),
    ("GET", "/api/v1/incidents", GAT_CLERK, STAFF),
    ("GET", "/api/v1/incidents/{incident_id}", GAT_CLERK, OWN_STAFF),
    ("POST", "/api/v1/incidents/{incident_id}/steps", GAT_CLERK, OWN_STAFF),
    // ---- corrections (民政厅 asked 公安厅 to check a record), disputes (民政厅 with 公安厅), complaints (to 公安厅) ----
    // Filing again on the same record is a conflict (409) for the requester; answering needs an outcome (422).
    ("POST", "/api/v1/corrections", MZT_CLERK, OWN_STAFF),
    ("GET", "/api/v1/corrections", MZT_CLERK, ANY_PERSON),
    ("GET", "/api/v1/corrections/figures", MZT_CLERK, ANY_PERSON),
    ("GET", "/api/v1/corrections/{correction_id}", MZT_CLERK, OWN_STAFF),
    ("POST", "/api/v1/corrections/{correction_id}/answer", GAT_CLERK, OWN_STAFF),
    ("GET", "/api/v1/corrections/{correction_id}/attachment", MZT_CLERK, OWN_STAFF),
    ("POST", "/api/v1/catalog/{entry_id}/corrections", GAT_CLERK, OWN_STAFF),
    // Any department's staff may open a dispute (教育厅 with 公安厅 too); a step needs its fields (422).
    ("GET", "/api/v1/supervision/dashboard", SUPERVISOR, ONLY_OWNER),
    ("GET", "/api/v1/supervision/report", SUPERVISOR, ONLY_OWNER),
    ("GET", "/api/v1/supervision/departments/{org_id}", GAT_CLERK, OWN_STAFF),
    ("GET", "/api/v1/supervision/violations/{violation_key}", SUPERVISOR, ONLY_OWNER),
    ("POST", "/api/v1/supervision/orders", SUPERVISOR, ONLY_OWNER),
    ("GET", "/api/v1/supervision/orders", GAT_CLERK, ANY_PERSON),
    ("GET", "/api/v1/supervision/orders/{order_id}", GAT_CLERK, OWN_STAFF),
    ("POST", "/api/v1/supervision/orders/{order_id}/steps", GAT_HEAD, OWN_STAFF),
    ("POST", "/api/v1/supervision/notices", SUPERVISOR, ONLY_OWNER),
    ("GET", "/api/v1/supervision/notices", GAT_CLERK, ANY_PERSON),
    ("GET", "/api/v1/supervision/notices/{notice_id}", GAT_CLERK, STAFF),
    ("POST", "/api/v1/disputes", MZT_CLERK, STAFF),
    ("GET", "/api/v1/disputes", MZT_CLERK, ANY_PERSON),
    ("GET", "/api/v1/disputes/{dispute_id}", MZT_CLERK, OWN_STAFF),
    ("POST", "/api/v1/disputes/{dispute_id}/steps", MZT_CLERK, OWN_STAFF),
    // An answer before acceptance is out of turn (409) for the handler.
    ("GET", "/api/v1/complaints", GAT_CLERK, ANY_PERSON),
    ("GET", "/api/v1/complaints/{complaint_id}", GAT_CLERK, OWN_STAFF),
    ("POST", "/api/v1/complaints/{complaint_id}/steps", GAT_CLERK, OWN_STAFF),
    ("GET", "/api/v1/complaints/{complaint_id}/attachment", GAT_CLERK, OWN_STAFF),
    // The public desk: anyone, signed in or not (a filing without a challenge answered is a 422, then 429).
    ("GET", "/api/v1/public/complaints/challenge", GAT_CLERK, PUBLIC),
    ("GET", "/api/v1/public/departments", GAT_CLERK, PUBLIC),
    ("POST", "/api/v1/public/complaints", GAT_CLERK, PUBLIC),
    ("GET", "/api/v1/public/complaints/{tracking_code}", GAT_CLERK, PUBLIC),
    // A change request is filed by the requester (the owner's is incomplete: 422); a step on it (the provider's
    // clerk drafting a decision, none being open: 409) by the side whose turn it is.
    ("POST", "/api/v1/grants/{grant_id}/changes", MZT_CLERK, OWN_STAFF),
    ("POST", "/api/v1/grants/{grant_id}/changes/current", GAT_CLERK, OWN_STAFF),
    // Records of use: read by whoever reads the grant (its parties' people and the requester's systems); written
    // by the requester's staff (the owner's is incomplete: 422).
    ("GET", "/api/v1/grants/{grant_id}/use-records", MZT_CLERK, [O, D, D, O, O, D, D, U]),
    ("POST", "/api/v1/grants/{grant_id}/use-records", MZT_CLERK, OWN_STAFF),
    ("GET", "/api/v1/data/{grant_id}/records", MZT_CLERK, GRANTEE),
    ("GET", "/api/v1/data/{grant_id}/records/{key}", MZT_CLERK, GRANTEE),
    ("POST", "/api/v1/data/{grant_id}/verify", MZT_CLERK, GRANTEE),
    ("GET", "/api/v1/data/{grant_id}/changes", MZT_CLERK, GRANTEE),
    ("GET", "/api/v1/data/{grant_id}/export", MZT_CLERK, GRANTEE),
    ("GET", "/api/v1/data/{grant_id}/download", MZT_CLERK, GRANTEE),
    // The node's public key, for checking signed answers offline.
    ("GET", "/api/v1/node/signing-key", MZT_CLERK, PUBLIC),
    ("GET", "/api/v1/usage", MZT_CLERK, [O, D, D, O, D, D, D, U]),
    // The bench's ungoverned read: 404 for everyone unless the node runs the bench.
    ("GET", "/bench/baseline/{entry_id}/{key}", GAT_CLERK, NOBODY),
    // ---- API documents ----
    ("GET", "/api/openapi.json", GAT_CLERK, PUBLIC),
    ("GET", "/api/docs", GAT_CLERK, PUBLIC),
    ("GET", "/api/docs/", GAT_CLERK, PUBLIC),
    ("GET", "/api/docs/{*rest}", GAT_CLERK, PUBLIC),
    ("GET", "/api/docs/openapi.json", GAT_CLERK, PUBLIC),
    // ---- console ----
    ("GET", "/", GAT_CLERK, PUBLIC),
    ("GET", "/login", GAT_CLERK, PUBLIC),
    // Refused for every caller here: none of them sends the login form's CSRF cookie.
    ("POST", "/login", GAT_CLERK, NOBODY),
    ("POST", "/logout", GAT_CLERK, PAGE),
    ("GET", "/console", GAT_CLERK, PAGE),
    ("POST", "/console/switch-org", GAT_CLERK, OWN_PAGE),
    ("GET", "/console/org", GAT_CLERK, PAGE),
    ("POST", "/console/org/work-unit", GAT_HEAD, HEAD_PAGE),
    ("GET", "/console/users", GAT_CLERK, STAFF_PAGE),
    ("POST", "/console/users", GAT_HEAD, HEAD_PAGE),
    ("POST", "/console/users/grant", GAT_HEAD, OWN_STAFF_PAGE),
    ("POST", "/console/users/{user_id}/revoke", GAT_HEAD, OWN_STAFF_PAGE),
    ("POST", "/console/users/{user_id}/disable", GAT_HEAD, OWN_STAFF_PAGE),
    ("POST", "/console/users/{user_id}/enable", GAT_HEAD, OWN_STAFF_PAGE),
    ("POST", "/console/users/{user_id}/password", GAT_HEAD, OWN_STAFF_PAGE),
    ("GET", "/console/credentials", GAT_CLERK, STAFF_PAGE),
    ("POST", "/console/credentials", GAT_HEAD, HEAD_PAGE),
    ("POST", "/console/credentials/{credential_id}/revoke", GAT_HEAD, OWN_STAFF_PAGE),
    ("GET", "/console/organisations", ADMIN, ONLY_OWNER_PAGE),
    ("POST", "/console/organisations", ADMIN, ONLY_OWNER_PAGE),
    ("POST", "/console/regions", ADMIN, ONLY_OWNER_PAGE),
    ("GET", "/console/audit", SUPERVISOR, ONLY_OWNER_PAGE),
    ("POST", "/console/audit/verify", ADMIN, ONLY_OWNER_PAGE),
    ("GET", "/console/account", GAT_CLERK, PAGE),
    ("POST", "/console/account", GAT_CLERK, PAGE),
    ("GET", "/console/catalog", GAT_CLERK, PAGE),
    ("GET", "/console/catalog/mine", GAT_CLERK, PAGE),
    ("GET", "/console/catalog/review", REVIEWER, ONLY_OWNER_PAGE),
    ("POST", "/console/catalog/import", GAT_CLERK, PAGE),
    ("GET", "/console/catalog/obligations", GAT_HEAD, PAGE),
    ("POST", "/console/catalog/obligations", GAT_HEAD, OWN_STAFF_PAGE),
    ("POST", "/console/catalog/obligations/{obligation_id}/extension/{step}", GAT_HEAD, OWN_STAFF_PAGE),
    ("GET", "/console/catalog/sources", GAT_CLERK, PAGE),
    ("POST", "/console/catalog/sources", REVIEWER, ONLY_OWNER_PAGE),
    ("POST", "/console/catalog/sources/check", GAT_CLERK, PAGE),
    ("GET", "/console/catalog/new", GAT_CLERK, PAGE),
    ("POST", "/console/catalog/new", GAT_CLERK, PAGE),
    ("GET", "/console/catalog/{entry_id}", GAT_CLERK, PAGE),
    ("GET", "/console/catalog/{entry_id}/edit", GAT_CLERK, OWN_PAGE),
    ("POST", "/console/catalog/{entry_id}/edit", GAT_CLERK, OWN_PAGE),
    ("POST", "/console/catalog/{entry_id}/{action}", GAT_CLERK, OWN_PAGE),
    ("POST", "/console/catalog/{entry_id}/source", GAT_CLERK, OWN_PAGE),
    ("POST", "/console/catalog/{entry_id}/assessments", GAT_CLERK, OWN_PAGE),
    ("POST", "/console/catalog/{entry_id}/assessments/{assessment_id}/report", GAT_CLERK, OWN_PAGE),
    ("POST", "/console/catalog/{entry_id}/source/load", GAT_CLERK, OWN_PAGE),
    ("GET", "/console/applications", GAT_CLERK, STAFF_PAGE),
    ("POST", "/console/applications", GAT_CLERK, STAFF_PAGE),
    ("GET", "/console/applications/new", GAT_CLERK, PAGE),
    ("GET", "/console/applications/{application_id}", GAT_CLERK, OWN_PAGE),
    ("GET", "/console/applications/{application_id}/print", GAT_CLERK, OWN_PAGE),
    ("POST", "/console/applications/{application_id}/step", GAT_CLERK, OWN_STAFF_PAGE),
    ("POST", "/console/applications/{application_id}/grant", GAT_CLERK, OWN_STAFF_PAGE),
    ("GET", "/console/grants", GAT_CLERK, PAGE),
    ("GET", "/console/grants/{grant_id}", MZT_CLERK, [O, D, D, O, U, U, U, U]),
    ("POST", "/console/grants/{grant_id}/state", GAT_HEAD, OWN_STAFF_PAGE),
    ("POST", "/console/grants/{grant_id}/changes", MZT_CLERK, OWN_STAFF_PAGE),
    ("POST", "/console/grants/{grant_id}/changes/current", GAT_CLERK, OWN_STAFF_PAGE),
    ("POST", "/console/grants/{grant_id}/use-records", MZT_CLERK, OWN_STAFF_PAGE),
    ("GET", "/console/incidents", GAT_CLERK, STAFF_PAGE),
    ("POST", "/console/incidents", GAT_CLERK, STAFF_PAGE),
    ("GET", "/console/incidents/{incident_id}", GAT_CLERK, OWN_STAFF_PAGE),
    ("POST", "/console/incidents/{incident_id}/steps", GAT_CLERK, OWN_STAFF_PAGE),
    ("GET", "/console/corrections", MZT_CLERK, PAGE),
    ("POST", "/console/corrections", MZT_CLERK, OWN_STAFF_PAGE),
    ("GET", "/console/corrections/new", MZT_CLERK, OWN_STAFF_PAGE),
    ("GET", "/console/corrections/{correction_id}", MZT_CLERK, OWN_STAFF_PAGE),
    ("POST", "/console/corrections/{correction_id}/answer", GAT_CLERK, OWN_STAFF_PAGE),
    ("GET", "/console/corrections/{correction_id}/attachment", MZT_CLERK, OWN_STAFF_PAGE),
    ("POST", "/console/catalog/{entry_id}/corrections", GAT_CLERK, OWN_STAFF_PAGE),
    // ---- supervision (the province's supervisor; 公安厅 stopped a service and was ordered to rectify) ----
    ("GET", "/console/supervision", SUPERVISOR, ONLY_OWNER_PAGE),
    ("GET", "/console/supervision/report", SUPERVISOR, ONLY_OWNER_PAGE),
    ("GET", "/console/supervision/departments/{org_id}", GAT_CLERK, OWN_STAFF_PAGE),
    ("GET", "/console/supervision/violations/{violation_key}", SUPERVISOR, ONLY_OWNER_PAGE),
    // An order on the violation exists already: the supervisor is told so (409), everyone else is refused.
    ("POST", "/console/supervision/orders", SUPERVISOR, ONLY_OWNER_PAGE),
    ("GET", "/console/supervision/orders", GAT_CLERK, PAGE),
    ("GET", "/console/supervision/orders/{order_id}", GAT_CLERK, OWN_STAFF_PAGE),
    ("POST", "/console/supervision/orders/{order_id}/steps", GAT_HEAD, OWN_STAFF_PAGE),
    ("GET", "/console/supervision/notices", GAT_CLERK, PAGE),
    ("POST", "/console/supervision/notices", SUPERVISOR, ONLY_OWNER_PAGE),
    // The notice went to the whole province: 教育厅 reads it too; a contractor's engineer does not.
    ("GET", "/console/supervision/notices/{notice_id}", GAT_CLERK, STAFF_PAGE),
    ("GET", "/console/disputes", MZT_CLERK, PAGE),
    ("POST", "/console/disputes", MZT_CLERK, STAFF_PAGE),
    ("GET", "/console/disputes/{dispute_id}", MZT_CLERK, OWN_STAFF_PAGE),
    ("POST", "/console/disputes/{dispute_id}/steps", MZT_CLERK, OWN_STAFF_PAGE),
    ("GET", "/console/complaints", GAT_CLERK, PAGE),
    ("GET", "/console/complaints/{complaint_id}", GAT_CLERK, OWN_STAFF_PAGE),
    ("POST", "/console/complaints/{complaint_id}/steps", GAT_CLERK, OWN_STAFF_PAGE),
    ("GET", "/console/complaints/{complaint_id}/attachment", GAT_CLERK, OWN_STAFF_PAGE),
    ("GET", "/public/complaints", GAT_CLERK, PUBLIC),
    ("POST", "/public/complaints", GAT_CLERK, PUBLIC),
    ("GET", "/public/complaints/status", GAT_CLERK, PUBLIC),
    ("GET", "/console/usage", GAT_CLERK, PAGE),
    ("GET", "/console/federation", ADMIN, ONLY_OWNER_PAGE),
    ("GET", "/console/notifications", GAT_CLERK, PAGE),
    ("POST", "/console/notifications/{notification_id}/read", GAT_CLERK, OWN_PAGE),
    ("GET", "/static/app.css", GAT_CLERK, PUBLIC),
    ("GET", "/static/app.js", GAT_CLERK, PUBLIC),
    // ---- operations ----
    ("GET", "/healthz", GAT_CLERK, PUBLIC),
    ("GET", "/readyz", GAT_CLERK, PUBLIC),
    ("GET", "/metrics", GAT_CLERK, PUBLIC),
];

/// Routes after which the callers' sessions may have ended (sign-out, password change): everyone signs in again.
const ENDS_SESSIONS: &[&str] =
    &["/api/v1/auth/logout", "/api/v1/me/password", "/logout", "/console/account", "/console/switch-org"];

/// A small PDF: an assessment report.
const PDF: &[u8] = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n";

/// The owner's objects that fill path parameters.
struct Objects {
    gat: String,
    temp_users: [String; 3],
    spare_credentials: Vec<String>,
    entry: String,
    /// The published version's confidentiality assessment.
    assessment: String,
    /// A draft of 公安厅 with an assessment whose report (a PDF) is uploaded.
    report_entry: String,
    report_assessment: String,
    application: String,
    service_grant: String,
    bulk_grant: String,
    download_grant: String,
    obligation: String,
    notification: String,
    /// A security incident 公安厅 reported (on its entry: no grant suspended).
    incident: String,
    /// 民政厅's correction request on a record of its service grant (with a PDF), its dispute with 公安厅, and a
    /// public complaint about 公安厅 (with a PDF) and its tracking code.
    correction: String,
    dispute: String,
    complaint: String,
    tracking: String,
    /// 公安厅's stop of 民政厅's download service (Art. 39 (7)), the order it was given and the notice about it.
    violation: String,
    order: String,
    notice: String,
    template: Vec<u8>,
}

/// The eight callers for one owner.
struct Callers {
    people: BTreeMap<&'static str, Client>,
    keys: BTreeMap<&'static str, Client>,
    anonymous: Client,
}

async fn sign_in_all(app: &TestApp) -> BTreeMap<&'static str, Client> {
    let mut people = BTreeMap::new();
    for name in [GAT_CLERK, GAT_HEAD, MZT_CLERK, ADMIN, REVIEWER, SUPERVISOR, "jyt.clerk", "jyt.head", "gat.vendor"] {
        people.insert(name, Client::login(app, name).await);
    }
    people
}

fn org_of(owner: Owner) -> &'static str {
    match owner {
        GAT_CLERK | GAT_HEAD => "gat",
        MZT_CLERK => "mzt",
        _ => "authority",
    }
}

impl Callers {
    fn for_owner(&self, owner: Owner) -> [&Client; 8] {
        [
            &self.people[owner],
            &self.people["jyt.clerk"],
            &self.people["jyt.head"],
            &self.people["gat.vendor"],
            &self.keys[org_of(owner)],
            &self.keys["jyt"],
            &self.keys["authority"],
            &self.anonymous,
        ]
    }
}

async fn setup(app: &TestApp) -> (Objects, Callers) {
    let admin = Client::login(app, ADMIN).await;
    let gat = admin.org_id("浙江省公安厅").await;
    let authority = admin.org_id("浙江省大数据发展管理局").await;
    // A contractor's engineer working for 公安厅, and a person the head's actions are tried on.
    for (username, contractor) in
        [("gat.vendor", true), ("gat.temp", false), ("gat.temp2", false), ("gat.temp3", false)]
    {
        let made = admin
            .post(
                &format!("/api/v1/organisations/{gat}/members"),
                json!({"username": username, "display_name": "矩阵测试", "password": PASSWORD, "contractor": contractor, "roles": ["clerk"]}),
            )
            .await;
        assert_eq!(made.status, StatusCode::CREATED, "{}", made.text);
    }
    let members = admin.get(&format!("/api/v1/organisations/{gat}/members")).await;
    let user_id = |username: &str| {
        members.body.as_array().unwrap().iter().find(|m| m["user"]["username"] == username).unwrap()["user"]["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    // Revoking a role ends a membership: the API's and the console's revocation each get their own person.
    let temp_users = [user_id("gat.temp"), user_id("gat.temp2"), user_id("gat.temp3")];

    let entry = people::hosted_entry(app).await;
    let application = people::approved(app, &entry, "mzt", "service_api", &STANDARD_ITEMS).await;
    let gat_clerk = Client::login(app, GAT_CLERK).await;
    let assessment =
        gat_clerk.get(&format!("/api/v1/catalog/{entry}")).await.body["versions"][0]["assessments"][0]["id"]
            .as_str()
            .expect("the published version's assessment")
            .to_owned();
    let mut draft = common::household_entry();
    draft["resource_code"] = json!("330000-GAT-0950");
    let made = gat_clerk.post("/api/v1/catalog", draft).await;
    let report_entry = made.body["id"].as_str().expect("a draft").to_owned();
    let today = people::today().to_string();
    let made = gat_clerk
        .post(&format!("/api/v1/catalog/{report_entry}/assessments"), common::assessment("confidentiality", &today))
        .await;
    let report_assessment = made.body["versions"][0]["assessments"][0]["id"].as_str().expect("assessed").to_owned();
    let report_path = format!("/api/v1/catalog/{report_entry}/assessments/{report_assessment}/report");
    let uploaded = send(&gat_clerk, "PUT", &report_path, &Body::Raw("application/pdf", PDF.to_vec())).await;
    assert_eq!(uploaded.status, StatusCode::OK, "{}", uploaded.text);
    let made = gat_clerk.post(&format!("/api/v1/applications/{application}/grant"), standard_grant()).await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.text);
    let service_grant = made.body["id"].as_str().unwrap().to_owned();
    let bulk_grant = people::granted(app, &entry, "mzt", "bulk_exchange", &STANDARD_ITEMS, standard_grant()).await;
    let download_grant = people::granted(app, &entry, "mzt", "file_download", &STANDARD_ITEMS, standard_grant()).await;

    let gat_head = Client::login(app, GAT_HEAD).await;
    let today = people::today().to_string();
    let trigger =
        json!({"entry_id": entry, "kind": "部门职责变化", "changed_on": today, "description": "机构改革,职责调整"});
    let recorded = gat_head.post("/api/v1/obligations", trigger).await;
    assert!(recorded.status.is_success(), "{}", recorded.text);
    let obligation = recorded.body["id"].as_str().expect("the obligation's id").to_owned();
    let reported = gat_clerk
        .post(
            "/api/v1/incidents",
            json!({"title": "矩阵测试事件", "description": "测试", "found_at": "2026-01-05 09:00", "severity": "general",
                   "entries": [entry], "emergency_plan": "启动应急预案"}),
        )
        .await;
    assert_eq!(reported.status, StatusCode::CREATED, "{}", reported.text);
    let incident = reported.body["id"].as_str().unwrap().to_owned();
    let mzt_clerk = Client::login(app, MZT_CLERK).await;
    let pdf = base64_pdf();
    let filed = mzt_clerk
        .post(
            "/api/v1/corrections",
            json!({"grant": service_grant, "key": id_number("330106", 1), "claims": [{"item": "sjhm", "value": "13900000001"}],
                   "evidence": "与本单位登记不一致", "attachment": {"file_name": "证明.pdf", "content_base64": pdf}}),
        )
        .await;
    assert_eq!(filed.status, StatusCode::CREATED, "{}", filed.text);
    let correction = filed.body["id"].as_str().unwrap().to_owned();
    let opened = mzt_clerk
        .post(
            "/api/v1/disputes",
            json!({"counterpart": gat, "matter": "other", "title": "矩阵争议", "description": "测试"}),
        )
        .await;
    assert_eq!(opened.status, StatusCode::CREATED, "{}", opened.text);
    let dispute = opened.body["id"].as_str().unwrap().to_owned();
    let receipt = common::file_complaint(
        &Client::anonymous(app),
        json!({"kind": "complaint", "department": gat, "title": "矩阵投诉", "description": "测试", "contact": "13800000000",
               "attachment": {"file_name": "材料.pdf", "content_base64": pdf}}),
    )
    .await;
    assert_eq!(receipt.status, StatusCode::CREATED, "{}", receipt.text);
    let tracking = receipt.body["tracking_code"].as_str().unwrap().to_owned();
    let complaints = gat_clerk.get("/api/v1/complaints").await;
    let complaint = complaints.body[0]["id"].as_str().expect("公安厅 has the complaint").to_owned();
    let notifications = gat_clerk.get("/api/v1/notifications").await;
    let notification = notifications.body[0]["id"].as_str().expect("公安厅 has notifications").to_owned();
    let state = format!("/api/v1/grants/{download_grant}/state");
    let r = gat_head.post(&state, json!({"action": "suspend", "reason": "矩阵测试暂停"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = gat_head.post(&state, json!({"action": "resume", "reason": "恢复"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let supervisor = Client::login(app, SUPERVISOR).await;
    let d = supervisor.get("/api/v1/supervision/dashboard?region=330000").await;
    let violation =
        d.body["violations"].as_array().and_then(|v| v.iter().find(|v| v["rule"] == "39-7")).expect(&d.text)["key"]
            .as_str()
            .unwrap()
            .to_owned();
    let deadline = (people::today() + chrono::Duration::days(30)).to_string();
    let issued = supervisor
        .post(
            "/api/v1/supervision/orders",
            json!({"violation": violation, "requirement": "恢复服务并备案", "deadline": deadline}),
        )
        .await;
    assert_eq!(issued.status, StatusCode::CREATED, "{}", issued.text);
    let order = issued.body["id"].as_str().unwrap().to_owned();
    let published = supervisor
        .post("/api/v1/supervision/notices", json!({"title": "矩阵通报", "body": "测试", "orders": [order]}))
        .await;
    assert_eq!(published.status, StatusCode::CREATED, "{}", published.text);
    let notice = published.body["id"].as_str().unwrap().to_owned();

    let mut keys = BTreeMap::new();
    let mut spare_credentials = Vec::new();
    for (dept, org) in
        [("gat", gat.clone()), ("mzt", admin.org_id("浙江省民政厅").await), ("jyt", admin.org_id("浙江省教育厅").await)]
    {
        keys.insert(dept, people::api_key(app, dept, "矩阵测试系统").await);
        if dept == "gat" {
            for name in ["备用凭证一", "备用凭证二"] {
                let spare = gat_head
                    .post(&format!("/api/v1/organisations/{org}/credentials"), json!({"name": name, "valid_days": 30}))
                    .await;
                spare_credentials.push(spare.body["credential"]["id"].as_str().unwrap().to_owned());
            }
        }
    }
    let issued = admin
        .post(
            &format!("/api/v1/organisations/{authority}/credentials"),
            json!({"name": "主管部门系统", "valid_days": 30}),
        )
        .await;
    assert_eq!(issued.status, StatusCode::CREATED, "{}", issued.text);
    keys.insert("authority", Client::with_key(app, issued.body["api_key"].as_str().unwrap()));

    let (status, _, template) = gat_clerk.download("/api/v1/catalog/template.xlsx").await;
    assert_eq!(status, StatusCode::OK);
    let objects = Objects {
        gat,
        temp_users,
        spare_credentials,
        entry,
        assessment,
        report_entry,
        report_assessment,
        application,
        service_grant,
        bulk_grant,
        download_grant,
        obligation,
        notification,
        incident,
        correction,
        dispute,
        complaint,
        tracking,
        violation,
        order,
        notice,
        template,
    };
    (objects, Callers { people: sign_in_all(app).await, keys, anonymous: Client::anonymous(app) })
}

/// The path with its parameters filled, and a query the route needs.
fn fill(path: &str, o: &Objects) -> String {
    let grant = if path.ends_with("/changes") || path.ends_with("/export") {
        &o.bulk_grant
    } else if path.ends_with("/download") {
        &o.download_grant
    } else {
        &o.service_grant
    };
    let credential = if path.starts_with("/console/") { &o.spare_credentials[1] } else { &o.spare_credentials[0] };
    let user = if path.ends_with("/roles/{role}") {
        &o.temp_users[1]
    } else if path.ends_with("/revoke") {
        &o.temp_users[2]
    } else {
        &o.temp_users[0]
    };
    // An assessment report belongs to the draft that has one.
    let (entry, assessment) =
        if path.ends_with("/report") { (&o.report_entry, &o.report_assessment) } else { (&o.entry, &o.assessment) };
    let filled = path
        .replace("{org_id}", &o.gat)
        .replace("{user_id}", user)
        .replace("{role}", "clerk")
        .replace("{credential_id}", credential)
        .replace("{entry_id}", entry)
        .replace("{assessment_id}", assessment)
        .replace("{application_id}", &o.application)
        .replace("{grant_id}", grant)
        .replace("{key}", &id_number("330106", 1))
        .replace("{obligation_id}", &o.obligation)
        .replace("{step}", "request")
        .replace("{notification_id}", &o.notification)
        .replace("{incident_id}", &o.incident)
        .replace("{correction_id}", &o.correction)
        .replace("{dispute_id}", &o.dispute)
        .replace("{complaint_id}", &o.complaint)
        .replace("{tracking_code}", &o.tracking)
        .replace("{violation_key}", &o.violation.replace(':', "%3A").replace('@', "%40"))
        .replace("{order_id}", &o.order)
        .replace("{notice_id}", &o.notice)
        .replace("{action}", "submit")
        .replace("{*rest}", "swagger-ui.css");
    let query = match path {
        "/api/v1/catalog/{entry_id}/diff" => "?from=1&to=1".to_owned(),
        "/api/v1/usage" => format!("?grant_id={}", o.service_grant),
        "/api/v1/data/{grant_id}/records" => "?xzqh=330106".to_owned(),
        "/api/v1/catalog/{entry_id}/source/load" => "?file_name=people.csv&mode=upsert".to_owned(),
        "/console/corrections/new" => format!("?grant={}", o.service_grant),
        _ => String::new(),
    };
    format!("{filled}{query}")
}

enum Body {
    None,
    Json(Value),
    Form(Vec<(&'static str, String)>),
    Raw(&'static str, Vec<u8>),
}

/// A well-formed request for each unsafe route, so that a refusal is about the caller, not the body.
fn body(method: &str, path: &str, o: &Objects) -> Body {
    let today = people::today();
    let application = json!({
        "entry_id": o.entry, "items": ["xm", "sfzh"], "legal_basis": "《社会救助暂行办法》第十一条",
        "basis_document": "国务院令第649号", "scenario": "社会救助资格核查", "scope": "本单位", "delivery": "service_api",
        "valid_from": today.to_string(), "valid_until": (today + chrono::Duration::days(90)).to_string()
    });
    let form =
        |fields: &[(&'static str, &str)]| Body::Form(fields.iter().map(|(k, v)| (*k, (*v).to_owned())).collect());
    let multipart = |field: &str, file_name: &str, bytes: &[u8]| {
        let mut raw = Vec::new();
        raw.extend_from_slice(
            format!("--MATRIX\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{file_name}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes(),
        );
        raw.extend_from_slice(bytes);
        raw.extend_from_slice(b"\r\n--MATRIX--\r\n");
        Body::Raw("multipart/form-data; boundary=MATRIX", raw)
    };
    let strong = "Matrix#Pass2026new";
    match (method, path) {
        ("GET", _) => Body::None,
        ("POST", "/api/v1/auth/login") => Body::Json(json!({"username": GAT_CLERK, "password": PASSWORD})),
        ("PUT", "/api/v1/me/org") => Body::Json(json!({"org_id": o.gat})),
        ("PUT", "/api/v1/me/password") => Body::Json(json!({"current_password": PASSWORD, "new_password": PASSWORD})),
        ("POST", "/api/v1/regions") => Body::Json(json!({"code": "330400", "name": "嘉兴市"})),
        ("POST", "/api/v1/organisations") => Body::Json(json!({
            "kind": "department", "region_code": "330000", "name": "浙江省矩阵测试厅",
            "credit_code": govshare::demo::government_credit_code("330000", 77), "work_unit_name": "信息中心"
        })),
        ("PATCH", "/api/v1/organisations/{org_id}") => Body::Json(json!({"work_unit_name": "科技信息化局"})),
        ("POST", "/api/v1/organisations/{org_id}/members") => Body::Json(json!({
            "username": "matrix.new", "display_name": "新经办人", "password": strong, "roles": ["clerk"]
        })),
        ("POST", "/api/v1/organisations/{org_id}/members/roles") => {
            Body::Json(json!({"username": "gat.temp", "role": "clerk"}))
        }
        ("PUT", "/api/v1/organisations/{org_id}/members/{user_id}/password") => {
            Body::Json(json!({"new_password": strong}))
        }
        ("POST", "/api/v1/organisations/{org_id}/credentials") => {
            Body::Json(json!({"name": "矩阵新系统", "valid_days": 30}))
        }
        ("POST", "/api/v1/catalog") => Body::Json(common::household_entry()),
        ("POST", "/api/v1/catalog/import") => Body::Raw("application/octet-stream", o.template.clone()),
        ("PUT", "/api/v1/catalog/{entry_id}") => Body::Json(people::people_entry()),
        ("POST", "/api/v1/catalog/{entry_id}/assessments") => {
            Body::Json(common::assessment("confidentiality", &today.to_string()))
        }
        ("PUT", "/api/v1/catalog/{entry_id}/assessments/{assessment_id}/report") => {
            Body::Raw("application/pdf", PDF.to_vec())
        }
        (
            "POST",
            "/console/catalog/{entry_id}/assessments"
            | "/console/catalog/{entry_id}/assessments/{assessment_id}/report",
        ) => multipart("report", "保密风险评估报告.pdf", PDF),
        ("POST", "/api/v1/catalog/{entry_id}/head-decision" | "/api/v1/catalog/{entry_id}/review") => {
            Body::Json(json!({"approve": true}))
        }
        ("POST", "/api/v1/obligations") => Body::Json(json!({
            "entry_id": o.entry, "kind": "部门职责变化", "changed_on": today.to_string(), "description": "职责调整"
        })),
        ("POST", "/api/v1/obligations/{obligation_id}/extension") => Body::Json(json!({"reason": "需要重新评估"})),
        ("POST", "/api/v1/obligations/{obligation_id}/extension-decision") => {
            Body::Json(json!({"approve": true, "reason": "同意"}))
        }
        ("POST", "/api/v1/sources") => Body::Json(json!({
            "subject": "常住人口", "items": ["公民身份号码"], "source_org_id": o.gat, "entry_id": o.entry,
            "basis": "浙政办发〔2026〕1号"
        })),
        ("POST", "/api/v1/sources/check") => Body::Json(json!({"fields": ["公民身份号码", "姓名"]})),
        ("POST", "/api/v1/applications") => Body::Json(application),
        ("POST", "/api/v1/applications/{application_id}/steps") => {
            Body::Json(json!({"step": "draft_reply", "decision": "approve", "conditions": "仅用于核查"}))
        }
        ("PUT", "/api/v1/catalog/{entry_id}/source") => {
            Body::Json(json!({"kind": "hosted", "key_item": "sfzh", "scope_item": "xzqh"}))
        }
        ("POST", "/api/v1/catalog/{entry_id}/source/load") => Body::Raw("text/csv", people::people_csv().into_bytes()),
        ("POST", "/api/v1/applications/{application_id}/grant") => Body::Json(standard_grant()),
        // Resuming an active grant changes nothing (409 for the one allowed to).
        ("POST", "/api/v1/grants/{grant_id}/state") => Body::Json(json!({"action": "resume"})),
        ("POST", "/api/v1/grants/{grant_id}/changes") => Body::Json(json!({"purpose": "另作他用"})),
        ("POST", "/api/v1/grants/{grant_id}/changes/current") => Body::Json(json!({"step": "draft_decision"})),
        ("POST", "/api/v1/grants/{grant_id}/use-records") => Body::Json(json!({"scenario": "x"})),
        ("POST", "/api/v1/incidents") => Body::Json(json!({"title": ""})),
        ("POST", "/api/v1/corrections") => Body::Json(json!({
            "grant": o.service_grant, "key": id_number("330106", 1), "claims": [{"item": "sjhm"}], "evidence": "核对"
        })),
        ("POST", "/console/corrections") => fields_multipart(&[
            ("grant", &o.service_grant),
            ("key", &id_number("330106", 1)),
            ("claim.sjhm", "on"),
            ("evidence", "核对"),
        ]),
        ("POST", "/api/v1/corrections/{correction_id}/answer") => Body::Json(json!({"outcome": ""})),
        ("POST", "/console/corrections/{correction_id}/answer") => form(&[("outcome", "")]),
        ("POST", "/api/v1/catalog/{entry_id}/corrections") => Body::Json(json!({"key": "", "reasons": ""})),
        ("POST", "/console/catalog/{entry_id}/corrections") => form(&[("key", "")]),
        ("POST", "/api/v1/disputes") => Body::Json(json!({
            "counterpart": o.gat, "matter": "other", "title": "矩阵争议", "description": "测试"
        })),
        ("POST", "/console/disputes") => {
            form(&[("counterpart", &o.gat), ("matter", "other"), ("title", "矩阵争议"), ("description", "测试")])
        }
        ("POST", "/api/v1/disputes/{dispute_id}/steps") => Body::Json(json!({"step": "negotiate"})),
        ("POST", "/api/v1/supervision/orders") => {
            Body::Json(json!({"violation": o.violation, "requirement": "再次责令",
            "deadline": (today + chrono::Duration::days(30)).to_string()}))
        }
        ("POST", "/console/supervision/orders") => Body::Form(vec![
            ("violation", o.violation.clone()),
            ("requirement", "再次责令".into()),
            ("deadline", (today + chrono::Duration::days(30)).to_string()),
        ]),
        ("POST", "/api/v1/supervision/orders/{order_id}/steps") => {
            Body::Json(json!({"step": "report", "text": "已恢复"}))
        }
        ("POST", "/console/supervision/orders/{order_id}/steps") => form(&[("step", "report"), ("text", "已恢复")]),
        ("POST", "/api/v1/supervision/notices") => {
            Body::Json(json!({"title": "再次通报", "body": "测试", "orders": []}))
        }
        ("POST", "/console/supervision/notices") => form(&[("title", "再次通报"), ("body", "测试")]),
        ("POST", "/console/disputes/{dispute_id}/steps") => form(&[("step", "negotiate")]),
        ("POST", "/api/v1/complaints/{complaint_id}/steps") => Body::Json(json!({"step": "answer", "text": "答复"})),
        ("POST", "/console/complaints/{complaint_id}/steps") => form(&[("step", "answer"), ("text", "答复")]),
        ("POST", "/api/v1/public/complaints") => Body::Json(json!({"kind": "complaint"})),
        ("POST", "/public/complaints") => fields_multipart(&[("kind", "complaint")]),
        ("POST", "/console/incidents") => form(&[("title", "")]),
        ("POST", "/console/incidents/{incident_id}/steps") => form(&[("step", "progress")]),
        ("POST", "/api/v1/incidents/{incident_id}/steps") => Body::Json(json!({"step": "progress"})),
        ("POST", "/api/v1/data/{grant_id}/verify") => Body::Json(json!({"sfzh": id_number("330106", 1), "xm": "张三"})),
        ("POST", "/console/switch-org") => form(&[("org_id", &o.gat), ("next", "/console")]),
        ("POST", "/console/org/work-unit") => form(&[("work_unit_name", "科技信息化局")]),
        ("POST", "/console/users") => form(&[
            ("username", "matrix.console"),
            ("display_name", "控制台新人"),
            ("password", strong),
            ("roles", "clerk"),
        ]),
        ("POST", "/console/users/grant") => form(&[("username", "gat.temp"), ("role", "clerk")]),
        ("POST", "/console/users/{user_id}/revoke") => form(&[("role", "clerk")]),
        ("POST", "/console/users/{user_id}/password") => form(&[("new_password", strong)]),
        ("POST", "/console/credentials") => form(&[("name", "控制台新系统"), ("valid_days", "30")]),
        ("POST", "/console/organisations") => form(&[
            ("kind", "department"),
            ("region_code", "330000"),
            ("name", "浙江省矩阵控制台厅"),
            ("credit_code", &govshare::demo::government_credit_code("330000", 78)),
            ("work_unit_name", "信息中心"),
        ]),
        ("POST", "/console/regions") => form(&[("code", "330500"), ("name", "湖州市")]),
        ("POST", "/console/account") => {
            form(&[("current_password", PASSWORD), ("new_password", PASSWORD), ("confirm_password", PASSWORD)])
        }
        ("POST", "/console/catalog/import") => multipart("file", "template.xlsx", &o.template),
        ("POST", "/console/catalog/obligations") => form(&[
            ("entry_id", &o.entry),
            ("kind", "部门职责变化"),
            ("changed_on", &today.to_string()),
            ("description", "职责调整"),
        ]),
        ("POST", "/console/catalog/obligations/{obligation_id}/extension/{step}") => {
            form(&[("reason", "需要重新评估")])
        }
        ("POST", "/console/catalog/sources") => form(&[
            ("subject", "常住人口"),
            ("items", "公民身份号码"),
            ("source_org", &o.gat),
            ("entry", &o.entry),
            ("basis", "浙政办发〔2026〕1号"),
        ]),
        ("POST", "/console/catalog/sources/check") => form(&[("fields", "公民身份号码")]),
        ("POST", "/console/catalog/new" | "/console/catalog/{entry_id}/edit") => form(&[
            ("name", "矩阵测试目录"),
            ("resource_code", "330000-GAT-0900"),
            ("summary", "用于授权矩阵测试的目录"),
            ("format", "database"),
            ("update_frequency", "daily"),
            ("sharing_attribute", "unconditional"),
            ("delivery_methods", "service_api"),
            ("grade_class", "一般数据"),
            ("grade_level", "1"),
            ("item_name", "姓名"),
            ("item_code", "xm"),
            ("item_data_type", "string"),
            ("item_grade_class", "一般数据"),
            ("item_grade_level", "1"),
        ]),
        ("POST", "/console/catalog/{entry_id}/source") => {
            form(&[("kind", "hosted"), ("key_item", "sfzh"), ("scope_item", "xzqh")])
        }
        ("POST", "/console/catalog/{entry_id}/source/load") => {
            multipart("file", "people.csv", people::people_csv().as_bytes())
        }
        ("POST", "/console/applications") => form(&[
            ("entry_id", &o.entry),
            ("items", "xm"),
            ("legal_basis", "《社会救助暂行办法》第十一条"),
            ("basis_document", "国务院令第649号"),
            ("scenario", "社会救助资格核查"),
            ("scope", "本单位"),
            ("delivery", "service_api"),
            ("valid_from", &today.to_string()),
            ("valid_until", &(today + chrono::Duration::days(90)).to_string()),
        ]),
        ("POST", "/console/applications/{application_id}/step") => {
            form(&[("step", "draft_reply"), ("decision", "approve"), ("conditions", "仅用于核查")])
        }
        ("POST", "/console/grants/{grant_id}/state") => form(&[("action", "resume")]),
        ("POST", "/console/grants/{grant_id}/changes") => form(&[("purpose", "另作他用")]),
        ("POST", "/console/grants/{grant_id}/changes/current") => form(&[("step", "draft_decision")]),
        ("POST", "/console/grants/{grant_id}/use-records") => form(&[("scenario", "x")]),
        _ => form(&[]),
    }
}

/// A multipart form of text fields.
fn fields_multipart(fields: &[(&str, &str)]) -> Body {
    let mut raw = Vec::new();
    for (name, value) in fields {
        raw.extend_from_slice(
            format!("--MATRIX\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes(),
        );
    }
    raw.extend_from_slice(b"--MATRIX--\r\n");
    Body::Raw("multipart/form-data; boundary=MATRIX", raw)
}

fn base64_pdf() -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(PDF)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Got {
    Is(Expect),
    ServerError,
}

fn classify(reply: &Reply) -> Got {
    let location = reply.headers.get("location").and_then(|v| v.to_str().ok()).unwrap_or_default();
    match reply.status {
        StatusCode::UNAUTHORIZED => Got::Is(U),
        s if s.is_redirection() && location.starts_with("/login?next=") => Got::Is(U),
        StatusCode::FORBIDDEN | StatusCode::NOT_FOUND => Got::Is(D),
        s if s.is_server_error() => Got::ServerError,
        _ => Got::Is(O),
    }
}

async fn send(client: &Client, method: &str, path: &str, body: &Body) -> Reply {
    let method = Method::from_bytes(method.as_bytes()).unwrap();
    let mut req = client.http.request(method.clone(), format!("{}{}", client.base, path));
    if let Some(cookie) = &client.cookie {
        req = req.header("cookie", cookie);
        if method != Method::GET
            && let Some(csrf) = &client.csrf
        {
            req = req.header("x-csrf-token", csrf);
        }
    }
    if let Some(key) = &client.bearer {
        req = req.header("authorization", format!("Bearer {key}"));
    }
    req = match body {
        Body::None => req,
        Body::Json(value) => req.json(value),
        Body::Form(fields) => req.form(fields),
        Body::Raw(content_type, bytes) => req.header("content-type", *content_type).body(bytes.clone()),
    };
    let resp = req.send().await.expect("request is answered");
    let status = resp.status();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Reply { status, body, text, headers }
}

/// What the GET routes must leave as they found it: the audit chain's head (every state change is audited) and
/// which notifications are read (marking one read is not audited).
async fn state_of(app: &TestApp, callers: &Callers) -> Vec<String> {
    let head = app.services.store().audit_head().await.unwrap();
    let mut state = vec![format!("{head:?}")];
    for person in [GAT_CLERK, MZT_CLERK, REVIEWER, "jyt.clerk"] {
        let list = callers.people[person].get("/api/v1/notifications").await;
        for n in list.body.as_array().expect("notifications") {
            state.push(format!("{person} {} {}", n["id"], n["read_at"]));
        }
    }
    state
}

fn audit_seq(_app: &TestApp, state: &[String]) -> i64 {
    state[0].split("seq: ").nth(1).and_then(|s| s.split(',').next()).and_then(|s| s.parse().ok()).unwrap_or(0)
}

/// What a reply says, in a few words: the API's error code or the console's alert.
fn gist(reply: &Reply) -> String {
    if let Some(code) = reply.body["error"]["code"].as_str() {
        return format!("{code}: {}", reply.body["error"]["message"].as_str().unwrap_or_default());
    }
    if let Some(start) = reply.text.find("alert-err") {
        let rest = &reply.text[start..];
        let text = rest.split('>').nth(1).and_then(|t| t.split('<').next()).unwrap_or_default();
        return text.trim().to_owned();
    }
    if let Some(start) = reply.text.find("<title>") {
        return reply.text[start + 7..].split('<').next().unwrap_or_default().to_owned();
    }
    reply.text.chars().take(80).collect()
}

async fn every_route_answers_each_caller_as_declared(backend: Backend) {
    // Every declared route is a served one, and every served one is declared (exactly once).
    let served: BTreeSet<String> = govshare_http::routes().iter().map(|r| format!("{} {}", r.method, r.path)).collect();
    let mut declared = BTreeSet::new();
    for (method, path, _, _) in MATRIX {
        assert!(declared.insert(format!("{method} {path}")), "declared twice: {method} {path}");
    }
    let undeclared: Vec<_> = served.difference(&declared).collect();
    let stale: Vec<_> = declared.difference(&served).collect();
    assert!(undeclared.is_empty(), "routes without a row in MATRIX: {undeclared:#?}");
    assert!(stale.is_empty(), "rows in MATRIX for routes the router does not serve: {stale:#?}");

    // The node as in production: the bench's baseline route is off.
    let app = spawn_with(backend, govshare_http::HttpSettings { bench_baseline: false, ..test_settings() }).await;
    let (objects, mut callers) = setup(&app).await;
    // Reads first (plain reads, then those that record the access as evidence: governed data reads write usage
    // records, exports and assessment report downloads are audited), then writes, each in the table's order.
    let evidence = |path: &str| {
        path.starts_with("/api/v1/data/")
            || path.contains("/export.")
            || path.ends_with("/assessments/{assessment_id}/report")
    };
    let phase = |method: &str, path: &str| match (method, evidence(path)) {
        ("GET", false) => 0,
        ("GET", true) => 1,
        _ => 2,
    };
    let mut rows: Vec<_> = MATRIX.iter().collect();
    rows.sort_by_key(|(method, path, ..)| phase(method, path));
    let mut mismatches = Vec::new();
    let before_reads = state_of(&app, &callers).await;
    let mut reads_checked = false;
    for (method, path, owner, expected) in rows {
        if phase(method, path) > 0 && !reads_checked {
            reads_checked = true;
            // Every plain GET of every caller so far, and none changed anything.
            let after_reads = state_of(&app, &callers).await;
            let written = app.services.store().audit_records(audit_seq(&app, &before_reads), 100).await.unwrap();
            let actions: Vec<_> =
                written.iter().map(|r| format!("{} {} by {}", r.action, r.object_type, r.actor)).collect();
            assert_eq!(after_reads, before_reads, "a GET changed state; audited: {actions:#?}");
        }
        let url = fill(path, &objects);
        let body = body(method, path, &objects);
        let clients = callers.for_owner(owner);
        let order = [1, 2, 3, 4, 5, 6, 7, 0];
        for i in order {
            let reply = send(clients[i], method, &url, &body).await;
            let got = classify(&reply);
            if got != Got::Is(expected[i]) {
                let text = gist(&reply);
                mismatches.push(format!(
                    "{method} {path} as {} ({}): expected {:?}, got {} {text}",
                    CALLERS[i],
                    if i == 0 { owner } else { "" },
                    expected[i],
                    reply.status
                ));
            }
        }
        if *method != "GET" && ENDS_SESSIONS.contains(path) {
            callers.people = sign_in_all(&app).await;
        }
    }
    assert!(mismatches.is_empty(), "{} answers differ from the matrix:\n{}", mismatches.len(), mismatches.join("\n"));
}

on_both_backends!(every_route_answers_each_caller_as_declared);

/// The OpenAPI document offers API-key access (`security: api_key`) on exactly the API routes where a business
/// system's key is let in (an `O` for some key in [`MATRIX`]); public routes declare no requirement. A client
/// written against the document then never meets a 403 the document did not announce.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_offers_api_keys_exactly_where_the_matrix_lets_keys_in() {
    let app = spawn_with(Backend::Sqlite, test_settings()).await;
    let spec = Client::anonymous(&app).get("/api/openapi.json").await;
    assert_eq!(spec.status, StatusCode::OK);
    let mut wrong = Vec::new();
    for (method, path, _, expected) in MATRIX.iter().filter(|(_, path, ..)| path.starts_with("/api/v1/")) {
        let operation = &spec.body["paths"][*path][method.to_lowercase()];
        if !operation.is_object() {
            wrong.push(format!("{method} {path}: not in the document"));
            continue;
        }
        let schemes: BTreeSet<String> = operation["security"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|requirement| requirement.as_object())
            .flat_map(|requirement| requirement.keys().cloned())
            .collect();
        if *expected == PUBLIC {
            if !schemes.is_empty() {
                wrong.push(format!("{method} {path}: public, but the document asks for {schemes:?}"));
            }
            continue;
        }
        let key_let_in = expected[4..7].contains(&O);
        let documented = schemes.contains("api_key");
        if key_let_in != documented {
            wrong.push(format!(
                "{method} {path}: a key is {}let in, the document {}",
                if key_let_in { "" } else { "not " },
                if documented { "offers api_key" } else { "does not offer api_key" }
            ));
        }
        if expected[..4].contains(&O) && !schemes.contains("session") {
            wrong.push(format!("{method} {path}: people are let in, the document does not offer the session"));
        }
    }
    assert!(wrong.is_empty(), "{} routes document their access wrongly:\n{}", wrong.len(), wrong.join("\n"));
}
