//! The data plane's API (R-DEL-1..5): data sources and loads, grants, governed delivery — lookup, query,
//! verification, the bulk-exchange feed, signed file downloads — and usage records.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Instant;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, Utc};
use govshare_domain::application::ApplicationId;
use govshare_domain::catalog::EntryId;
use govshare_domain::grant::{GrantId, GrantInput, UsageRecord};
use govshare_domain::record::{DataSource, RowError, SourceInput, SourceKind, SourceLoad};
use govshare_service::{GrantActionInput, GrantView, LoadReport, LoadRequest, ServiceError};
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{ApiJson, ApiResult, parse_id};
use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};

/// Largest file accepted by the load endpoint (the CLI has no limit).
pub const MAX_UPLOAD_BYTES: usize = 2 << 30;

// ---- sources ----

#[derive(Debug, Deserialize, ToSchema)]
pub struct SourceDto {
    /// `hosted` (the platform keeps the records, loaded from files) or `proxy` (the provider's HTTP service).
    pub kind: String,
    /// The data item that identifies a record (lookups, upserts, verification).
    pub key_item: String,
    /// Hosted: the item row scopes match by prefix (e.g. a region code), optional.
    #[serde(default)]
    pub scope_item: String,
    /// Proxy: URL with `{key}`, e.g. `https://gat.example/api/persons/{key}`; answers one JSON object or 404.
    #[serde(default)]
    pub url: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SourceStateDto {
    #[schema(value_type = Object)]
    pub source: Option<DataSource>,
    /// The change history: every load, newest first.
    #[schema(value_type = Vec<Object>)]
    pub loads: Vec<SourceLoad>,
}

/// Binds (or rebinds) the data source of one of the acting department's published entries.
#[utoipa::path(put, path = "/api/v1/catalog/{entry_id}/source", tag = "data", params(("entry_id" = Uuid, Path)),
    request_body = SourceDto, security(("session" = [])),
    responses((status = 200, body = SourceStateDto), (status = 422, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn bind_source(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<SourceDto>,
) -> ApiResult<Json<SourceStateDto>> {
    let entry: EntryId = parse_id(&id)?;
    let input = SourceInput { kind: body.kind, key_item: body.key_item, scope_item: body.scope_item, url: body.url };
    state.services.bind_source(&caller.principal, entry, &input).await?;
    let (source, loads) = state.services.get_source(&caller.principal, entry).await?;
    Ok(Json(SourceStateDto { source, loads }))
}

#[utoipa::path(get, path = "/api/v1/catalog/{entry_id}/source", tag = "data", params(("entry_id" = Uuid, Path)),
    security(("session" = [])), responses((status = 200, body = SourceStateDto)))]
pub async fn get_source(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<SourceStateDto>> {
    let entry: EntryId = parse_id(&id)?;
    let (source, loads) = state.services.get_source(&caller.principal, entry).await?;
    Ok(Json(SourceStateDto { source, loads }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct LoadParams {
    /// `csv`, `xlsx` or `jsonl`; default: from `file_name`.
    pub format: Option<String>,
    /// `replace` (default: the file is the whole table) or `upsert` (adds and changes, deletes nothing).
    pub mode: Option<String>,
    /// Load the valid rows of a file with errors (default false: any error loads nothing).
    #[serde(default)]
    pub accept_valid: bool,
    pub file_name: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LoadReportDto {
    pub loaded: bool,
    #[schema(value_type = Object)]
    pub load: Option<SourceLoad>,
    pub rows_read: u64,
    pub rows_with_errors: u64,
    /// The first errors: row (line in the file), column (item code), rule, message.
    #[schema(value_type = Vec<Object>)]
    pub errors: Vec<RowError>,
}

impl From<LoadReport> for LoadReportDto {
    fn from(r: LoadReport) -> Self {
        LoadReportDto {
            loaded: r.load.is_some(),
            load: r.load,
            rows_read: r.rows_read,
            rows_with_errors: r.rows_with_errors,
            errors: r.errors,
        }
    }
}

/// Loads a file (the request body) into the entry's hosted source: every row is checked against the entry's data
/// items first; 422 with the row-level report and nothing loaded when any row is bad (unless `accept_valid`).
#[utoipa::path(post, path = "/api/v1/catalog/{entry_id}/source/load", tag = "data",
    params(("entry_id" = Uuid, Path), LoadParams), request_body(content = Vec<u8>, content_type = "text/csv"),
    security(("session" = []), ("api_key" = [])),
    responses((status = 200, body = LoadReportDto), (status = 422, body = LoadReportDto)))]
pub async fn load_source(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(p): Query<LoadParams>,
    body: Body,
) -> ApiResult<Response> {
    let entry: EntryId = parse_id(&id)?;
    // The body goes to a temporary file as it arrives: a large file never sits in memory.
    let dir = tempfile::tempdir().map_err(|e| ApiError::Service(ServiceError::Internal(Box::new(e))))?;
    let path = dir.path().join("upload");
    let mut file =
        tokio::fs::File::create(&path).await.map_err(|e| ApiError::Service(ServiceError::Internal(Box::new(e))))?;
    let mut stream = body.into_data_stream();
    use futures_util::StreamExt;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| ApiError::bad_request(None, format!("上传中断：{e}")))?;
        file.write_all(&chunk).await.map_err(|e| ApiError::Service(ServiceError::Internal(Box::new(e))))?;
    }
    file.flush().await.map_err(|e| ApiError::Service(ServiceError::Internal(Box::new(e))))?;
    drop(file);
    let request = LoadRequest {
        format: p.format.unwrap_or_default(),
        mode: p.mode.unwrap_or_default(),
        accept_valid: p.accept_valid,
        file_name: p.file_name.unwrap_or_else(|| "upload".into()),
    };
    let report =
        state.services.load_source(&caller.principal, entry, &path, &request, Arc::new(AtomicU64::new(0))).await?;
    let status = if report.load.is_some() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    Ok((status, Json(LoadReportDto::from(report))).into_response())
}

// ---- grants ----

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewGrantDto {
    /// item code → `keep`, `mask`, `hash` (HMAC-SM3 under the grant's own key) or `drop`. Only items the
    /// application asked for.
    pub items: BTreeMap<String, String>,
    /// Row scope: the item and its value prefixes (e.g. `xzqh`, `["3301", "3302"]`); empty for all rows.
    #[serde(default)]
    pub scope_item: String,
    #[serde(default)]
    pub scope_prefixes: Vec<String>,
    /// Default: the application's usage period (a grant can only narrow it).
    pub valid_from: Option<NaiveDate>,
    pub valid_until: Option<NaiveDate>,
    /// Requests per minute (default 600) and rows per day (default 100000).
    pub rate_per_minute: Option<u32>,
    pub daily_rows: Option<u64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GrantDto {
    pub id: Uuid,
    /// The grant's number (授权编号), what people read and quote: `GX-`, the year of creation (Beijing time) and
    /// that year's sequence. The `id` stays the key of URLs and API calls.
    #[schema(example = "GX-2026-000123")]
    pub number: String,
    pub application_id: Uuid,
    pub requester_id: Uuid,
    pub requester_name: String,
    pub provider_id: Uuid,
    pub provider_name: String,
    pub entry_id: Uuid,
    pub entry_name: String,
    /// Granted items and how each leaves the platform.
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<govshare_domain::grant::GrantItem>,
    pub purpose: String,
    #[schema(value_type = Object)]
    pub row_scope: Option<govshare_domain::grant::RowScope>,
    pub delivery_methods: Vec<String>,
    pub valid_from: NaiveDate,
    pub valid_until: NaiveDate,
    pub rate_per_minute: u32,
    pub daily_rows: u64,
    /// `active`, `suspended`, `terminated`, `expired`, `not_yet_valid` or `awaiting_acknowledgement` (an
    /// aggregation risk the authority has not acknowledged yet).
    pub status: String,
    pub status_label: String,
    #[schema(value_type = Vec<Object>)]
    pub events: Vec<govshare_domain::grant::GrantEvent>,
    /// The version of the terms above: 1 as created, one more for each approved change request (Art. 25 ¶1).
    pub terms_version: u32,
    /// Purposes approved after `purpose` by change requests.
    pub further_purposes: Vec<String>,
    /// Third parties the requester may pass data to (approved change requests): `name`, `credit_code`,
    /// `items` (what it receives), `purpose`.
    #[schema(value_type = Vec<Object>)]
    pub third_parties: Vec<govshare_domain::change::ThirdParty>,
    /// Earlier versions of the terms, oldest first: `version`, `terms` (items, row_scope, purpose,
    /// further_purposes, third_parties, delivery, validity, limits), `from`, `until`.
    #[schema(value_type = Vec<Object>)]
    pub past_terms: Vec<govshare_domain::change::TermsVersion>,
    /// Every change request, oldest first: `no`, `request`, `filed_at`, `filed_by`, `sent_at`, `decision`
    /// (drafted or given), `stage` (`filed`, `sent`, `drafted` while open, else null) and `outcome`
    /// (`approved`, `refused`, `withdrawn`, `lapsed` once closed).
    #[schema(value_type = Vec<Object>)]
    pub change_requests: Vec<govshare_domain::change::ChangeCase>,
    /// The aggregation risk found when the grant was made or last widened (Art. 25 ¶2): `identifier` (the
    /// personal-information kind that joins), `combination` (entry, item and why each is sensitive), `threshold`,
    /// `found_at`, `acknowledged` (by the provider's same-level authority, with `action: acknowledge_aggregation`;
    /// until then `status` is `awaiting_acknowledgement` and the grant refuses access).
    #[schema(value_type = Object)]
    pub aggregation: Option<govshare_domain::aggregation::AggregationWarning>,
    /// A provider's filed narrowing waiting for its day (Art. 27 ¶3): `items` as they will be, `negotiation`,
    /// `effective_on`; from that day `items` are these.
    #[schema(value_type = Object)]
    pub scheduled_narrowing: Option<govshare_domain::change::Narrowing>,
}

impl From<GrantView> for GrantDto {
    fn from(v: GrantView) -> Self {
        let g = v.grant;
        let (terms_version, change_requests) = (g.terms_version(), govshare_domain::change::change_cases(&g.events));
        GrantDto {
            id: g.id.0,
            number: g.number,
            application_id: g.application.0,
            requester_id: g.requester.0,
            requester_name: v.requester_name,
            provider_id: g.provider.0,
            provider_name: v.provider_name,
            entry_id: g.entry.0,
            entry_name: v.entry_name,
            items: g.items,
            purpose: g.purpose,
            row_scope: g.row_scope,
            delivery_methods: g.delivery.iter().map(|m| m.code().to_owned()).collect(),
            valid_from: g.valid_from,
            valid_until: g.valid_until,
            rate_per_minute: g.rate_per_minute,
            daily_rows: g.daily_rows,
            status: v.status.code().to_owned(),
            status_label: v.status.label().to_owned(),
            terms_version,
            change_requests,
            aggregation: g.aggregation,
            scheduled_narrowing: g.scheduled_narrowing,
            further_purposes: g.further_purposes,
            third_parties: g.third_parties,
            past_terms: g.past_terms,
            events: g.events,
        }
    }
}

/// The provider creates the grant of an approved application; the application's delivery is recorded with it.
#[utoipa::path(post, path = "/api/v1/applications/{application_id}/grant", tag = "data",
    params(("application_id" = Uuid, Path)), request_body = NewGrantDto, security(("session" = [])),
    responses((status = 201, body = GrantDto), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_grant(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<NewGrantDto>,
) -> ApiResult<(StatusCode, Json<GrantDto>)> {
    let application: ApplicationId = parse_id(&id)?;
    let input = GrantInput {
        items: body.items,
        scope_item: body.scope_item,
        scope_prefixes: body.scope_prefixes.join(","),
        valid_from: body.valid_from.map(|d| d.to_string()).unwrap_or_default(),
        valid_until: body.valid_until.map(|d| d.to_string()).unwrap_or_default(),
        rate_per_minute: body.rate_per_minute,
        daily_rows: body.daily_rows,
    };
    let view = state.services.create_grant(&caller.principal, application, &input).await?;
    Ok((StatusCode::CREATED, Json(view.into())))
}

#[utoipa::path(get, path = "/api/v1/grants", tag = "data", security(("session" = []), ("api_key" = [])),
    responses((status = 200, body = [GrantDto])))]
pub async fn list_grants(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<GrantDto>>> {
    Ok(Json(state.services.list_grants(&caller.principal).await?.into_iter().map(Into::into).collect()))
}

#[utoipa::path(get, path = "/api/v1/grants/{grant_id}", tag = "data", params(("grant_id" = Uuid, Path)),
    security(("session" = []), ("api_key" = [])), responses((status = 200, body = GrantDto)))]
pub async fn get_grant(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<GrantDto>> {
    let id: GrantId = parse_id(&id)?;
    Ok(Json(state.services.get_grant(&caller.principal, id).await?.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct GrantActionDto {
    /// `suspend` (access stops at once), `resume`, `terminate` (the provider's head only for a grant suspended for
    /// misuse or expired; the authority always), `rectify` (the requester's head reports the rectification of a
    /// misuse the grant was suspended for), `propose_termination` or `propose_narrowing` (the provider's head,
    /// Art. 27 ¶3), `record_filing` (the provider's same-level authority records the filing; the ending or
    /// narrowing then takes effect on its date),
    /// `declare_ended` (the requester's head: the purpose is met, impossible or no longer necessary; the grant is
    /// terminated), `require_disposal` (the provider's staff state how the data is to be disposed of),
    /// `confirm_disposal` (the requester's staff, once the use has ended: due within 10 working days),
    /// `acknowledge_disposal` or `return_disposal` (the provider's staff; a return needs `reason`),
    /// `acknowledge_aggregation` (the provider's same-level authority's reviewer acknowledges the grant's
    /// aggregation risk; `reason`: its opinion or the measures required).
    pub action: String,
    /// Required to suspend or terminate, and for `rectify` (what was rectified, how); at most 500 characters.
    #[serde(default)]
    pub reason: String,
    /// To suspend for misuse (Art. 27 ¶2): `scope_exceeded`, `purpose_exceeded` or `third_party`; with
    /// `rectify_by`. Without both, a suspension for another reason.
    #[serde(default)]
    pub misuse: String,
    /// With `misuse`: the last day of the rectification period (YYYY-MM-DD, after today, at most 90 days away);
    /// the requester's head owes the rectification by then (a duty on its to-do list).
    #[serde(default)]
    pub rectify_by: String,
    /// For `propose_termination` (Art. 27 ¶3: the provider's head ends a running service only after negotiating
    /// with the requester, and only once the same-level authority records the filing with `record_filing`): the
    /// negotiation (when, who, positions, outcome; at most 1000 characters).
    #[serde(default)]
    pub negotiation: String,
    /// For `propose_termination`: the first day the service no longer runs (YYYY-MM-DD, today up to the grant's
    /// last day); it takes effect on that day or, if later, the day the filing is recorded.
    #[serde(default)]
    pub effective_on: String,
    /// For `declare_ended` (the requester's head ends its use, Art. 27 ¶1; the grant is terminated):
    /// `purpose_met`, `purpose_impossible` or `no_longer_necessary`, with `reason`.
    #[serde(default)]
    pub ended_because: String,
    /// For `require_disposal` (the provider's staff, any time) and `confirm_disposal` (the requester's staff,
    /// once the use has ended; the provider's required method if it stated one): `delete`, `return`,
    /// `seal_archive` or `other`.
    #[serde(default)]
    pub disposal_method: String,
    /// For `require_disposal`: what exactly is required (at most 1000 characters).
    #[serde(default)]
    pub disposal_note: String,
    /// For `confirm_disposal`: the day the disposal was done (YYYY-MM-DD, not after today).
    #[serde(default)]
    pub done_on: String,
    /// For `confirm_disposal`: the person responsible (name and post).
    #[serde(default)]
    pub responsible: String,
    /// For `confirm_disposal`: the evidence (record number, witness, receipt of return, seal number).
    #[serde(default)]
    pub evidence: String,
    /// For `suspend`: also suspend, in the same step, every other active grant the provider gave this grant's
    /// requester (Art. 27 ¶2: 暂停其政务数据共享权限). The answer is this grant; the others are named in the
    /// notification and the audit event.
    #[serde(default)]
    pub all_of_requester: bool,
    /// For `propose_narrowing` (the provider's head changes a running service, Art. 27 ¶3: with `negotiation`,
    /// `effective_on` and `reason`; in force only once the same-level authority records the filing with
    /// `record_filing`, and from that date): item code → `remove`, or a stricter masking (`drop` for any item;
    /// `mask` or `hash` for one granted as `keep`). Wider terms are only ever the requester's change request.
    #[serde(default)]
    pub narrow_items: BTreeMap<String, String>,
}

/// The provider's work-unit head or its same-level authority suspends (possibly for misuse, with a
/// rectification deadline), resumes or terminates a grant; the requester's head reports a rectification.
#[utoipa::path(post, path = "/api/v1/grants/{grant_id}/state", tag = "data", params(("grant_id" = Uuid, Path)),
    request_body = GrantActionDto, security(("session" = [])),
    responses((status = 200, body = GrantDto), (status = 409, body = ErrorBody)))]
pub async fn grant_action(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<GrantActionDto>,
) -> ApiResult<Json<GrantDto>> {
    let id: GrantId = parse_id(&id)?;
    let input = GrantActionInput {
        action: body.action,
        reason: body.reason,
        misuse: body.misuse,
        rectify_by: body.rectify_by,
        negotiation: body.negotiation,
        effective_on: body.effective_on,
        ended_because: body.ended_because,
        disposal_method: body.disposal_method,
        disposal_note: body.disposal_note,
        done_on: body.done_on,
        responsible: body.responsible,
        evidence: body.evidence,
        all_of_requester: body.all_of_requester,
        narrow_items: body.narrow_items,
    };
    Ok(Json(state.services.grant_action(&caller.principal, id, &input).await?.into()))
}

// ---- change requests (Art. 25 ¶1) ----

#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct ThirdPartyDto {
    /// The receiving organisation's name (at most 500 characters).
    pub name: String,
    /// Its unified social credit code (18 characters, check digit verified), if known.
    pub credit_code: String,
    /// The items it receives: granted (returned) items, or items this request adds.
    pub items: Vec<String>,
    /// What it uses them for.
    pub purpose: String,
}

#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct ChangeRequestDto {
    /// Items of the entry to receive in addition (codes or names); an item granted as `drop` may be asked for
    /// with its values.
    pub add_items: Vec<String>,
    /// Value prefixes to add to the grant's row scope (only for a grant with a row scope).
    pub add_prefixes: Vec<String>,
    /// Lift the row scope: every row.
    pub all_rows: bool,
    /// A further purpose to use the data for (at most 500 characters).
    pub purpose: String,
    /// Passing the data to a third party.
    pub third_party: Option<ThirdPartyDto>,
    /// Why the change is needed (required, at most 1000 characters).
    pub reasons: String,
    /// The legal basis for the wider use (required, at most 1000 characters).
    pub legal_basis: String,
}

/// The requester's clerk or head files a change request on a running grant: more items or rows, a further
/// purpose, or passing the data to a named third party (Art. 25 ¶1). It goes to the provider when the requester's
/// head sends it (`POST …/changes/current` with `send`). One change request is open at a time; every problem of
/// the request is reported at once (422, `error.problems`).
#[utoipa::path(post, path = "/api/v1/grants/{grant_id}/changes", tag = "data", params(("grant_id" = Uuid, Path)),
    request_body = ChangeRequestDto, security(("session" = [])),
    responses((status = 201, body = GrantDto), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn request_change(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ChangeRequestDto>,
) -> ApiResult<(StatusCode, Json<GrantDto>)> {
    let id: GrantId = parse_id(&id)?;
    let third = body.third_party.unwrap_or_default();
    let input = govshare_domain::change::ChangeRequestInput {
        add_items: body.add_items,
        add_prefixes: body.add_prefixes.join(","),
        all_rows: body.all_rows,
        purpose: body.purpose,
        third_party_name: third.name,
        third_party_credit_code: third.credit_code,
        third_party_items: third.items,
        third_party_purpose: third.purpose,
        reasons: body.reasons,
        legal_basis: body.legal_basis,
    };
    let view = state.services.request_change(&caller.principal, id, &input).await?;
    Ok((StatusCode::CREATED, Json(view.into())))
}

#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct ChangeDecisionDto {
    /// `approve` or `refuse`.
    pub decision: String,
    /// Approved items (among those asked for) → `keep`, `mask`, `hash` or `drop`.
    pub items: BTreeMap<String, String>,
    /// Approved row prefixes (among those asked for).
    pub add_prefixes: Vec<String>,
    /// The lifting of the row scope is approved (only if asked for).
    pub all_rows: bool,
    /// The further purpose is approved (only if asked for).
    pub purpose: bool,
    /// The items the third party may receive (among those asked for; an added item only if approved above).
    /// Empty: passing to the third party is not approved.
    pub third_party_items: Vec<String>,
    /// Required to refuse; the provider's opinion otherwise (at most 1000 characters).
    pub reason: String,
}

#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct ChangeStepDto {
    /// `send` (the requester's head sends the filed request to the provider; its answer is due in 10 working
    /// days), `withdraw` (the requester's head, any time before the decision; `note` required),
    /// `draft_decision` (the provider's clerk or head, with `decision`), `return_decision` (the provider's head
    /// sends the draft back; `note` required) or `decide` (the provider's head gives the drafted decision; an
    /// approval changes the grant at once, as its next terms version).
    pub step: String,
    /// The head's opinion, or the reason to withdraw or return (at most 1000 characters).
    pub note: String,
    /// For `draft_decision`.
    pub decision: Option<ChangeDecisionDto>,
}

/// A step on the grant's open change request (see `step`): the requester's head sends or withdraws it, the
/// provider's clerk drafts the decision and its head returns or gives it. A refusal states its reason; an
/// approval may grant less than was asked, never more.
#[utoipa::path(post, path = "/api/v1/grants/{grant_id}/changes/current", tag = "data",
    params(("grant_id" = Uuid, Path)), request_body = ChangeStepDto, security(("session" = [])),
    responses((status = 200, body = GrantDto), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn change_step(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ChangeStepDto>,
) -> ApiResult<Json<GrantDto>> {
    let id: GrantId = parse_id(&id)?;
    let d = body.decision.unwrap_or_default();
    let input = govshare_service::ChangeStepInput {
        step: body.step,
        note: body.note,
        decision: govshare_domain::change::ChangeDecisionInput {
            decision: d.decision,
            items: d.items,
            add_prefixes: d.add_prefixes.join(","),
            all_rows: d.all_rows,
            purpose: d.purpose,
            third_party_items: d.third_party_items,
            reason: d.reason,
        },
    };
    Ok(Json(state.services.change_step(&caller.principal, id, &input).await?.into()))
}

// ---- records of use (Art. 29 ¶2) ----

#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct NewUseRecordDto {
    /// The first day of the period recorded (YYYY-MM-DD): one of the grant's `periods` that has ended.
    pub period_start: String,
    /// 使用场景: in which business the data was used (each field required, at most 2000 characters).
    pub scenario: String,
    /// 使用过程: how it was used (systems, people, volumes).
    pub process: String,
    /// 应用成效: what it achieved.
    pub results: String,
    /// 存储情况: where and how the data is kept.
    pub storage: String,
    /// 销毁情况: what was destroyed, when and how, or why nothing yet.
    pub destruction: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UseRecordDto {
    pub id: Uuid,
    pub grant_id: Uuid,
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    /// The final record of the grant's use.
    pub last: bool,
    pub scenario: String,
    pub process: String,
    pub results: String,
    pub storage: String,
    pub destruction: String,
    /// Who recorded it (`user:<id>`).
    pub recorded_by: String,
    pub recorded_at: chrono::DateTime<chrono::Utc>,
}

impl From<govshare_domain::use_record::UseRecord> for UseRecordDto {
    fn from(r: govshare_domain::use_record::UseRecord) -> Self {
        UseRecordDto {
            id: r.id,
            grant_id: r.grant.0,
            period_start: r.period_start,
            period_end: r.period_end,
            last: r.last,
            scenario: r.scenario,
            process: r.process,
            results: r.results,
            storage: r.storage,
            destruction: r.destruction,
            recorded_by: r.recorded_by,
            recorded_at: r.recorded_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UsePeriodDto {
    pub start: NaiveDate,
    pub end: NaiveDate,
    /// The last period of the grant's use: its record is the final one.
    pub last: bool,
    /// The last day its record is due (10 working days after `end`).
    pub due_date: Option<NaiveDate>,
    pub recorded: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UseRecordsDto {
    /// The length of a period in months, from 1 January (configuration `sharing.use_record_period_months`).
    pub period_months: u32,
    /// The grant's periods of use, the last one clipped at the end of its use.
    pub periods: Vec<UsePeriodDto>,
    /// Every record, oldest first; a later record for the same period amends an earlier one (none is changed).
    pub records: Vec<UseRecordDto>,
}

/// The requester's records of use of a grant and its periods (Art. 29 ¶2): readable by the grant's two parties and
/// their same-level authorities.
#[utoipa::path(get, path = "/api/v1/grants/{grant_id}/use-records", tag = "data", params(("grant_id" = Uuid, Path)),
    security(("session" = []), ("api_key" = [])), responses((status = 200, body = UseRecordsDto), (status = 403, body = ErrorBody)))]
pub async fn use_records(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<UseRecordsDto>> {
    let id: GrantId = parse_id(&id)?;
    let view = state.services.use_records(&caller.principal, id).await?;
    Ok(Json(UseRecordsDto {
        period_months: view.months,
        periods: view
            .periods
            .into_iter()
            .map(|p| UsePeriodDto {
                start: p.period.start,
                end: p.period.end,
                last: p.period.last,
                due_date: p.due_date,
                recorded: p.recorded,
            })
            .collect(),
        records: view.records.into_iter().map(Into::into).collect(),
    }))
}

/// The requester's clerk or head records how it used the grant's data in a period that has ended: usage scenario,
/// use process, results achieved, storage and destruction (Art. 29 ¶2). Each period's record is due within 10
/// working days of its end (a duty on the requester's to-do list). Records are kept at least three years and
/// never changed or deleted; to correct one, record the period again.
#[utoipa::path(post, path = "/api/v1/grants/{grant_id}/use-records", tag = "data", params(("grant_id" = Uuid, Path)),
    request_body = NewUseRecordDto, security(("session" = [])),
    responses((status = 201, body = UseRecordDto), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn record_use(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<NewUseRecordDto>,
) -> ApiResult<(StatusCode, Json<UseRecordDto>)> {
    let id: GrantId = parse_id(&id)?;
    let input = govshare_domain::use_record::UseRecordInput {
        period_start: body.period_start,
        scenario: body.scenario,
        process: body.process,
        results: body.results,
        storage: body.storage,
        destruction: body.destruction,
    };
    let record = state.services.record_use(&caller.principal, id, &input).await?;
    Ok((StatusCode::CREATED, Json(record.into())))
}

// ---- governed delivery ----

#[derive(Debug, Serialize, ToSchema)]
pub struct DataAnswerDto {
    pub grant_id: Uuid,
    /// The items each row carries (granted, not dropped), masked as granted.
    pub items: Vec<String>,
    #[schema(value_type = Vec<Object>)]
    pub rows: Vec<serde_json::Map<String, serde_json::Value>>,
    pub next_cursor: Option<String>,
    pub has_more: bool,
    /// The rows whose record is under a correction request (异议标注, Art. 26): `{row, correction}`, the row's
    /// index in `rows` and the request's number. Its values are contested until the provider answers.
    pub disputed: Vec<DisputedRowDto>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DisputedRowDto {
    pub row: usize,
    /// `JH-2026-000001` (校核编号).
    pub correction: String,
}

impl From<govshare_service::DataAnswer> for DataAnswerDto {
    fn from(a: govshare_service::DataAnswer) -> Self {
        DataAnswerDto {
            grant_id: a.grant_id.0,
            items: a.items,
            rows: a.rows,
            next_cursor: a.next_cursor,
            has_more: a.has_more,
            disputed: a.disputed.into_iter().map(|d| DisputedRowDto { row: d.row, correction: d.correction }).collect(),
        }
    }
}

/// Lookup by the key item's value (R-DEL-3): 200 with one row, or 404 `record_not_found` (no record with this key
/// inside the grant's scope; the lookup is recorded). An unknown grant is 404 `not_found`.
#[utoipa::path(get, path = "/api/v1/data/{grant_id}/records/{key}", tag = "data",
    params(("grant_id" = Uuid, Path), ("key" = String, Path)), security(("api_key" = []), ("session" = [])),
    responses((status = 200, body = DataAnswerDto), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 429, body = ErrorBody)))]
pub async fn lookup(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, key)): Path<(String, String)>,
) -> ApiResult<Response> {
    let started = Instant::now();
    let id: GrantId = parse_id(&id)?;
    let answer = state.services.data_lookup(&caller.principal, id, &key, started).await?;
    if answer.rows.is_empty() {
        return Err(ApiError::NoRecord);
    }
    Ok(Json(DataAnswerDto::from(answer)).into_response())
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct QueryParams {
    /// Continue after this cursor (from `next_cursor`).
    pub cursor: Option<String>,
    /// Rows per page, at most 1000 (default 100).
    pub limit: Option<u32>,
    /// Equality filters on granted items the grant returns in clear (`keep`): `?xzqh=330106&xb=1`. A filter on
    /// an item the grant masks, hashes or drops answers 403 `filter_not_allowed` (use `verify`); on an item of the
    /// entry outside the grant 403 `item_not_granted`; a parameter that is no item of the entry at all (`offset`,
    /// a typo) 400 `bad_request` naming it, and leaves no usage record.
    #[serde(flatten)]
    #[param(value_type = Object)]
    pub filters: BTreeMap<String, String>,
}

/// Filtered, paginated query (R-DEL-3): only permitted items, only rows inside the grant's row scope.
#[utoipa::path(get, path = "/api/v1/data/{grant_id}/records", tag = "data",
    params(("grant_id" = Uuid, Path), QueryParams), security(("api_key" = []), ("session" = [])),
    responses((status = 200, body = DataAnswerDto), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn query(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(p): Query<QueryParams>,
) -> ApiResult<Json<DataAnswerDto>> {
    let started = Instant::now();
    let id: GrantId = parse_id(&id)?;
    let filters: Vec<(String, String)> = p.filters.into_iter().collect();
    let answer = state.services.data_query(
        &caller.principal,
        id,
        &filters,
        p.cursor.as_deref(),
        p.limit.unwrap_or(100),
        started,
    );
    let answer = match answer.await {
        // A parameter that is neither `cursor`, `limit` nor an item of the entry: the request is malformed.
        Err(err) if govshare_service::is_unknown_parameter(&err) => {
            let problems = err.problems().unwrap_or_default();
            let names: Vec<String> = problems.iter().map(|p| format!("「{}」", p.field)).collect();
            return Err(ApiError::bad_request(
                problems.first().map(|p| p.field.as_ref()),
                format!("未知的查询参数：{}（只接受 cursor、limit 和该目录数据项的代码）", names.join("、")),
            ));
        }
        answer => answer?,
    };
    Ok(Json(answer.into()))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VerifyDto {
    /// Whether every given value matches the record with the given key; nothing of the record is returned.
    #[serde(rename = "match")]
    pub matched: bool,
}

/// 核验 (R-DEL-3): body `{"sfzh": "…", "xm": "…"}` with the key item and the values to check.
#[utoipa::path(post, path = "/api/v1/data/{grant_id}/verify", tag = "data", params(("grant_id" = Uuid, Path)),
    request_body = Object, security(("api_key" = []), ("session" = [])),
    responses((status = 200, body = VerifyDto), (status = 403, body = ErrorBody)))]
pub async fn verify(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<serde_json::Map<String, serde_json::Value>>,
) -> ApiResult<Json<VerifyDto>> {
    let started = Instant::now();
    let id: GrantId = parse_id(&id)?;
    Ok(Json(VerifyDto { matched: state.services.data_verify(&caller.principal, id, &body, started).await? }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ChangesParams {
    /// 0 (default): the full snapshot; then the `next_cursor` of the previous page.
    pub cursor: Option<i64>,
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChangesDto {
    pub grant_id: Uuid,
    pub items: Vec<String>,
    /// `{seq, op: upsert | delete, record, disputed, correction}` in sequence order: `disputed` is the number of
    /// the correction request the record is under review by (异议标注, its values contested), `correction` the
    /// number of the correction that wrote this version; both `null` otherwise.
    #[schema(value_type = Vec<Object>)]
    pub changes: Vec<govshare_service::ChangeRow>,
    pub next_cursor: i64,
    pub has_more: bool,
}

/// Bulk exchange (R-DEL-4): the full snapshot from cursor 0, then the changes since a cursor.
#[utoipa::path(get, path = "/api/v1/data/{grant_id}/changes", tag = "data",
    params(("grant_id" = Uuid, Path), ChangesParams), security(("api_key" = []), ("session" = [])),
    responses((status = 200, body = ChangesDto), (status = 403, body = ErrorBody)))]
pub async fn changes(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(p): Query<ChangesParams>,
) -> ApiResult<Json<ChangesDto>> {
    let started = Instant::now();
    let id: GrantId = parse_id(&id)?;
    let a = state
        .services
        .data_changes(&caller.principal, id, p.cursor.unwrap_or(0), p.limit.unwrap_or(500), started)
        .await?;
    Ok(Json(ChangesDto {
        grant_id: a.grant_id.0,
        items: a.items,
        changes: a.changes,
        next_cursor: a.next_cursor,
        has_more: a.has_more,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DownloadParams {
    /// `csv` (default) or `xlsx`.
    pub format: Option<String>,
}

/// File download (R-DEL-4): a ZIP with `data.csv` or `data.xlsx`, `manifest.json` (requester, grant, items, rows,
/// the file's SM3) and `manifest.sig` (SM2 signature of the manifest, hex; public key in the manifest and at
/// `/api/v1/node/signing-key`).
#[utoipa::path(get, path = "/api/v1/data/{grant_id}/download", tag = "data",
    params(("grant_id" = Uuid, Path), DownloadParams), security(("api_key" = []), ("session" = [])),
    responses((status = 200, content_type = "application/zip", body = Vec<u8>), (status = 403, body = ErrorBody)))]
pub async fn download(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(p): Query<DownloadParams>,
) -> ApiResult<Response> {
    let started = Instant::now();
    let id: GrantId = parse_id(&id)?;
    let d = state.services.data_download(&caller.principal, id, p.format.as_deref().unwrap_or(""), started).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/zip".to_owned()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{}\"", d.file_name)),
            (header::CONTENT_LENGTH, d.bytes.to_string()),
        ],
        file_body(d.file),
    )
        .into_response())
}

/// A spooled file as a streamed body, 64 KiB at a time.
fn file_body(file: std::fs::File) -> axum::body::Body {
    use tokio::io::AsyncReadExt;
    let file = tokio::fs::File::from_std(file);
    axum::body::Body::from_stream(futures_util::stream::unfold(file, |mut file| async move {
        let mut buf = vec![0u8; 64 * 1024];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<_, std::io::Error>(axum::body::Bytes::from(buf)), file))
            }
            Err(e) => Some((Err(e), file)),
        }
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ExportParams {
    /// 0 (default): the full snapshot; or the `next_cursor` of an earlier export or page, for the changes since.
    pub cursor: Option<i64>,
}

/// Bulk exchange as one stream (R-DEL-4): the full snapshot from cursor 0, or the changes since a cursor, as
/// NDJSON (`application/x-ndjson`), in bounded memory on both sides.
///
/// Line 1: `{"grant_id", "items", "cursor"}`. Then one line per change, `{seq, op: upsert | delete, record,
/// disputed, correction}` as in `GET /api/v1/data/{grant_id}/changes`. Last line: `{"complete": true, "rows",
/// "next_cursor"}`, or `{"complete": false, "rows", "next_cursor", "error": {"code", "message"}}` when the export
/// stopped after it began (`volume_exceeded`: the grant's daily volume reached; `internal_error`) — continue later
/// from its `next_cursor`. A stream that ends without such a line was cut off: continue from the last `seq`
/// received. The platform leaves one usage record (operation `export`) per chunk of up to 5,000 changes, made
/// durable before the chunk is sent. Refusals before the first line (grant, delivery method, rate) answer with the
/// usual error status and body.
#[utoipa::path(get, path = "/api/v1/data/{grant_id}/export", tag = "data",
    params(("grant_id" = Uuid, Path), ExportParams), security(("api_key" = []), ("session" = [])),
    responses((status = 200, content_type = "application/x-ndjson", body = String,
               description = "NDJSON: a header line, one line per change, a closing line"),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn export(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(p): Query<ExportParams>,
) -> ApiResult<Response> {
    let started = Instant::now();
    let id: GrantId = parse_id(&id)?;
    let export = state.services.data_export(&caller.principal, id, p.cursor.unwrap_or(0), started).await?;
    let lines = futures_util::stream::unfold(export.lines, |mut lines| async move {
        lines.recv().await.map(|chunk| (Ok::<_, std::io::Error>(axum::body::Bytes::from(chunk)), lines))
    });
    Ok(([(header::CONTENT_TYPE, "application/x-ndjson")], axum::body::Body::from_stream(lines)).into_response())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SigningKeyDto {
    pub algorithm: &'static str,
    pub distid: &'static str,
    /// Uncompressed SEC1 SM2 public key, hex.
    pub public_key: String,
}

/// The node's SM2 public key, to verify download manifests.
#[utoipa::path(get, path = "/api/v1/node/signing-key", tag = "data", responses((status = 200, body = SigningKeyDto)))]
pub async fn signing_key(State(state): State<AppState>) -> Json<SigningKeyDto> {
    Json(SigningKeyDto {
        algorithm: "SM2-with-SM3",
        distid: govshare_service::crypto::SM2_DISTID,
        public_key: state.services.node_keys().public_key_hex(),
    })
}

// ---- usage records ----

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct UsageParams {
    pub grant_id: Option<Uuid>,
    /// Older than this (the `at` of the last record of the previous page).
    pub before: Option<DateTime<Utc>>,
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UsageDto {
    #[schema(value_type = Vec<Object>)]
    pub records: Vec<UsageRecord>,
}

/// Usage records (Art. 29), newest first: the requester's and provider's own, an authority's region's.
#[utoipa::path(get, path = "/api/v1/usage", tag = "data", params(UsageParams), security(("session" = [])),
    responses((status = 200, body = UsageDto)))]
pub async fn usage(
    State(state): State<AppState>,
    caller: Caller,
    Query(p): Query<UsageParams>,
) -> ApiResult<Json<UsageDto>> {
    let records = state
        .services
        .usage_records(&caller.principal, p.grant_id.map(GrantId), p.before, p.limit.unwrap_or(100))
        .await?;
    Ok(Json(UsageDto { records }))
}

/// The bench's baseline: the same record read with no governance. 404 unless the node runs with
/// `data.bench_baseline = true` (only `govshare bench data` sets it).
pub async fn baseline(
    State(state): State<AppState>,
    Path((entry, key)): Path<(String, String)>,
) -> ApiResult<Response> {
    if !state.settings.bench_baseline {
        return Err(ApiError::Service(ServiceError::NotFound("not found".into())));
    }
    let entry: EntryId = parse_id(&entry)?;
    match state.services.baseline_lookup(entry, &key).await? {
        Some(record) => Ok(Json(record).into_response()),
        None => Err(ApiError::Service(ServiceError::NotFound("没有该记录".into()))),
    }
}

/// Which kind a source is, for the console.
pub fn kind_label(kind: &SourceKind) -> &'static str {
    match kind {
        SourceKind::Hosted { .. } => "平台托管",
        SourceKind::Proxy { .. } => "接口代理",
    }
}
