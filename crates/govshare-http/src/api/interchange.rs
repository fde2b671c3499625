//! Catalog import and export (R-CAT-6): the Excel template, batch import with a per-cell report, Excel and
//! DCAT JSON-LD export.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use govshare_service::{CatalogScope, ImportOutcome};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::ApiResult;
use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};

pub const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

pub fn attachment(content_type: &'static str, filename: &str, body: Vec<u8>) -> Response {
    let extension = filename.rsplit('.').next().unwrap_or("bin");
    attachment_named(content_type, &format!("govshare-catalog.{extension}"), filename, body)
}

/// A download named `filename` (UTF-8), with `ascii_name` for clients that only read the plain parameter.
pub fn attachment_named(content_type: &'static str, ascii_name: &str, filename: &str, body: Vec<u8>) -> Response {
    // RFC 6266 / 5987: an ASCII fallback and the UTF-8 name.
    let encoded: String = filename
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") }
        })
        .collect();
    let disposition = format!("attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{encoded}");
    ([(header::CONTENT_TYPE, content_type.to_owned()), (header::CONTENT_DISPOSITION, disposition)], body)
        .into_response()
}

/// The Excel import template (sheets 目录, 数据项, 填写说明).
#[utoipa::path(get, path = "/api/v1/catalog/template.xlsx", tag = "catalog", security(("session" = []), ("api_key" = [])),
    responses((status = 200, content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", description = "the template")))]
pub async fn template(State(state): State<AppState>, caller: Caller) -> ApiResult<Response> {
    let bytes = state.services.catalog_template(&caller.principal)?;
    Ok(attachment(XLSX, "政务数据目录导入模板.xlsx", bytes))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ImportParams {
    /// Import the entries without errors even when others have errors (default: a file with any error imports
    /// nothing).
    #[serde(default)]
    pub accept_valid: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CellErrorDto {
    /// 目录 or 数据项
    pub sheet: String,
    /// Excel row number (1-based).
    pub row: u32,
    /// Column header.
    pub column: String,
    pub field: String,
    pub rule: String,
    pub message: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ImportResultDto {
    /// Entries read from the file.
    pub entries: usize,
    /// Entries without errors.
    pub valid: usize,
    /// Drafts created (empty when the file had errors and `accept_valid` was not set).
    pub created: Vec<Uuid>,
    /// The first 1,000 errors; each message quotes at most 200 characters.
    pub errors: Vec<CellErrorDto>,
    /// How many errors the file has in all.
    pub errors_total: usize,
}

impl From<ImportOutcome> for ImportResultDto {
    fn from(o: ImportOutcome) -> Self {
        ImportResultDto {
            entries: o.report.entries.len(),
            valid: o.report.entries.iter().filter(|e| e.valid).count(),
            created: o.created.iter().map(|id| id.0).collect(),
            errors_total: o.report.errors_total,
            errors: o
                .report
                .errors
                .into_iter()
                .map(|e| CellErrorDto {
                    sheet: e.sheet,
                    row: e.row,
                    column: e.column,
                    field: e.field,
                    rule: e.rule,
                    message: e.message,
                })
                .collect(),
        }
    }
}

/// Imports an Excel workbook (the template's layout; body = the .xlsx file) as drafts of the acting department.
/// 200 when entries were created; 422 with the per-cell report when the file has errors and nothing was imported.
#[utoipa::path(post, path = "/api/v1/catalog/import", tag = "catalog", params(ImportParams),
    request_body(content = Vec<u8>, content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    security(("session" = [])),
    responses((status = 200, body = ImportResultDto), (status = 422, body = ImportResultDto)))]
pub async fn import(
    State(state): State<AppState>,
    caller: Caller,
    Query(p): Query<ImportParams>,
    body: Bytes,
) -> ApiResult<Response> {
    let outcome = state.services.import_catalog(&caller.principal, &body, p.accept_valid).await?;
    let status = if outcome.created.is_empty() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    Ok((status, Json(ImportResultDto::from(outcome))).into_response())
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ExportParams {
    /// `published` (default): every published entry; `mine`: the acting department's published entries.
    pub scope: Option<String>,
}

fn scope(p: &ExportParams) -> Result<CatalogScope, ApiError> {
    match p.scope.as_deref().unwrap_or("published") {
        "published" => Ok(CatalogScope::Published),
        "mine" => Ok(CatalogScope::Mine),
        other => Err(ApiError::bad_request(Some("scope"), format!("scope 应为 published 或 mine，收到「{other}」"))),
    }
}

/// The published catalog as Excel, in the import template's layout.
#[utoipa::path(get, path = "/api/v1/catalog/export.xlsx", tag = "catalog", params(ExportParams), security(("session" = []), ("api_key" = [])),
    responses((status = 200, content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", description = "the catalog"), (status = 400, body = ErrorBody)))]
pub async fn export_xlsx(
    State(state): State<AppState>,
    caller: Caller,
    Query(p): Query<ExportParams>,
) -> ApiResult<Response> {
    let entries = state.services.export_catalog(&caller.principal, scope(&p)?).await?;
    let bytes = state.services.export_xlsx(&entries)?;
    Ok(attachment(XLSX, "政务数据目录.xlsx", bytes))
}

/// The published catalog as DCAT (JSON-LD).
#[utoipa::path(get, path = "/api/v1/catalog/export.jsonld", tag = "catalog", params(ExportParams), security(("session" = []), ("api_key" = [])),
    responses((status = 200, content_type = "application/ld+json", description = "a dcat:Catalog"), (status = 400, body = ErrorBody)))]
pub async fn export_dcat(
    State(state): State<AppState>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    Query(p): Query<ExportParams>,
) -> ApiResult<Response> {
    let entries = state.services.export_catalog(&caller.principal, scope(&p)?).await?;
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
    let doc = govshare_interchange::dcat_jsonld(&entries, &format!("http://{host}"));
    let body = serde_json::to_vec_pretty(&doc)
        .map_err(|e| ApiError::Service(govshare_service::ServiceError::Internal(Box::new(e))))?;
    Ok(attachment("application/ld+json", "政务数据目录.jsonld", body))
}
