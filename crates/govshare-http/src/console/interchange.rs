//! Console: batch import of catalog entries from Excel, with the per-cell error report.

use askama::Template;
use axum::extract::{Multipart, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use govshare_service::{CellError, ServiceError};

use super::ConsoleCaller;
use super::pages::{PageResult, layout};
use super::render;
use super::view::{Feedback, Layout};
use crate::AppState;

#[derive(Template)]
#[template(path = "catalog_import.html")]
struct ImportPage {
    layout: Layout,
    feedback: Feedback,
    entries: usize,
    valid: usize,
    created: usize,
    errors: Vec<CellError>,
    /// All the file's errors; `errors` lists the first of them.
    errors_total: usize,
}

/// Reads the upload form: the file and whether to import the valid entries of a file with errors.
async fn read_form(mut multipart: Multipart) -> Result<(Vec<u8>, bool), ServiceError> {
    let mut file = None;
    let mut accept_valid = false;
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|_| govshare_domain::ValidationError::new("file", "unreadable", "上传内容不完整，请重新选择文件"))?
    {
        match field.name() {
            Some("file") => {
                let bytes = field
                    .bytes()
                    .await
                    .map_err(|_| govshare_domain::ValidationError::new("file", "unreadable", "文件读取失败"))?;
                file = Some(bytes.to_vec());
            }
            Some("accept_valid") => accept_valid = true,
            _ => {}
        }
    }
    match file.filter(|f| !f.is_empty()) {
        Some(f) => Ok((f, accept_valid)),
        None => Err(govshare_domain::ValidationError::new("file", "required", "请选择要导入的 Excel 文件").into()),
    }
}

pub async fn import(
    State(state): State<AppState>,
    ConsoleCaller(caller): ConsoleCaller,
    multipart: Multipart,
) -> PageResult {
    let layout = layout(&state, &caller, "目录批量导入", "/console/catalog/mine").await?;
    let outcome = match read_form(multipart).await {
        Ok((bytes, accept_valid)) => state.services.import_catalog(&caller.principal, &bytes, accept_valid).await,
        Err(err) => Err(err),
    };
    match outcome {
        Ok(o) if o.report.is_clean() => {
            Ok(Redirect::to(&format!("/console/catalog/mine?notice=imported_{}", o.created.len().min(1)))
                .into_response())
        }
        Ok(o) => {
            let page = ImportPage {
                layout,
                feedback: if o.created.is_empty() {
                    Feedback {
                        error: Some(
                            "文件有错误，未导入任何目录。请按下表修改后重新导入，或勾选「仅导入无误的目录」。".into(),
                        ),
                        ..Default::default()
                    }
                } else {
                    Feedback {
                        notice: Some(format!("已导入 {} 条无误的目录（草稿），有错误的目录未导入。", o.created.len())),
                        ..Default::default()
                    }
                },
                entries: o.report.entries.len(),
                valid: o.report.entries.iter().filter(|e| e.valid).count(),
                created: o.created.len(),
                errors_total: o.report.errors_total,
                errors: o.report.errors,
            };
            let status = if page.created == 0 { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
            Ok(render(status, &page))
        }
        Err(err) => {
            let page = ImportPage {
                layout,
                feedback: Feedback::from_error(&err),
                entries: 0,
                valid: 0,
                created: 0,
                errors: vec![],
                errors_total: 0,
            };
            Ok(render(crate::error::ApiError::status_of(&err), &page))
        }
    }
}
