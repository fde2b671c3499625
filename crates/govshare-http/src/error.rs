//! One error type for the API. Service errors map to it once, by `From`; 5xx responses carry an error id
//! and never internals.

use std::any::Any;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use govshare_service::ServiceError;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Service(#[from] ServiceError),
    /// The request itself is malformed (not JSON, wrong shape); the message names what.
    #[error("{message}")]
    BadRequest { field: Option<String>, message: String },
    #[error("CSRF check failed")]
    Csrf,
    /// The body is larger than the route accepts.
    #[error("payload too large")]
    PayloadTooLarge,
    /// The request was not answered within the route's time.
    #[error("request timeout")]
    Timeout,
    /// A part the answer needs is missing on this node (the PDF report's CJK font); the message says which.
    #[error("{0}")]
    Unavailable(String),
    /// A lookup found no record with the key inside the grant's scope (404 `record_not_found`, distinct from the
    /// `not_found` of an unknown grant or path).
    #[error("no record")]
    NoRecord,
}

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable code, e.g. `validation_failed`, `forbidden`, `csrf_failed`.
    pub code: String,
    /// Message for people, in Chinese.
    pub message: String,
    /// The input field at fault, for validation errors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The rule the field broke, for validation errors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// For validation errors: every field at fault, in the order of the input (the first is also given as
    /// `field`, `rule` and, when it is the only one, `message`). Fix them all before sending again.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<Problem>,
    /// For server errors: quote this id to the operator; the log has the details.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_id: Option<String>,
}

/// One field at fault.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// The input field, e.g. `legal_basis` or `items[2].code`.
    pub field: String,
    /// The rule it broke (stable English code), e.g. `required`, `too_long`, `not_in_entry`.
    pub rule: String,
    /// Message for people, in Chinese.
    pub message: String,
}

impl ApiError {
    pub fn bad_request(field: Option<&str>, message: impl Into<String>) -> Self {
        ApiError::BadRequest { field: field.map(str::to_owned), message: message.into() }
    }

    pub fn status_of(err: &ServiceError) -> StatusCode {
        match err {
            ServiceError::Validation(_) | ServiceError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ServiceError::Unauthenticated { .. } => StatusCode::UNAUTHORIZED,
            ServiceError::Forbidden(_) => StatusCode::FORBIDDEN,
            ServiceError::NotFound(_) => StatusCode::NOT_FOUND,
            ServiceError::Conflict(_) | ServiceError::OutOfTurn { .. } => StatusCode::CONFLICT,
            ServiceError::RateLimited { .. } | ServiceError::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
            ServiceError::Refused { .. } => StatusCode::FORBIDDEN,
            ServiceError::Upstream(_) => StatusCode::BAD_GATEWAY,
            ServiceError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Service(e) => Self::status_of(e),
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Csrf => StatusCode::FORBIDDEN,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Timeout => StatusCode::REQUEST_TIMEOUT,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::NoRecord => StatusCode::NOT_FOUND,
        }
    }

    /// The body, logging server errors under a fresh id.
    pub fn detail(&self) -> ErrorDetail {
        let plain = |code: &str, message: String| ErrorDetail {
            code: code.to_owned(),
            message,
            field: None,
            rule: None,
            problems: Vec::new(),
            error_id: None,
        };
        match self {
            ApiError::Service(err @ (ServiceError::Validation(_) | ServiceError::Invalid(_))) => {
                let all = err.problems().unwrap_or_default();
                let first = &all[0];
                ErrorDetail {
                    code: "validation_failed".into(),
                    message: match all.len() {
                        1 => first.message.clone(),
                        n => format!("共有 {n} 处输入需要修改：{}", first.message),
                    },
                    field: Some(first.field.to_string()),
                    rule: Some(first.rule.to_owned()),
                    problems: all
                        .iter()
                        .map(|p| Problem {
                            field: p.field.to_string(),
                            rule: p.rule.to_owned(),
                            message: p.message.clone(),
                        })
                        .collect(),
                    error_id: None,
                }
            }
            ApiError::Service(ServiceError::Internal(source)) => {
                let id = uuid::Uuid::new_v4().to_string();
                tracing::error!(error_id = %id, error = %source, "internal error");
                ErrorDetail {
                    error_id: Some(id),
                    ..plain("internal_error", "服务器内部错误，请联系平台运维人员并提供错误编号".into())
                }
            }
            ApiError::Service(e) => plain(e.code(), e.to_string()),
            ApiError::Unavailable(message) => plain("font_unavailable", message.clone()),
            ApiError::NoRecord => plain("record_not_found", "共享授权范围内没有该主键的记录".into()),
            ApiError::BadRequest { field, message } => {
                ErrorDetail { field: field.clone(), ..plain("bad_request", message.clone()) }
            }
            ApiError::Csrf => {
                plain("csrf_failed", "页面已过期或请求来源不可信（CSRF 校验失败），请刷新页面后重试".into())
            }
            ApiError::PayloadTooLarge => {
                plain("payload_too_large", "请求体超过该接口允许的大小，请查阅接口文档中的上传限制".into())
            }
            ApiError::Timeout => plain("request_timeout", "请求处理超时，请稍后重试".into()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status_code();
        let mut response = (status, Json(ErrorBody { error: self.detail() })).into_response();
        if let ApiError::Service(
            ServiceError::RateLimited { retry_after_secs } | ServiceError::Throttled { retry_after_secs, .. },
        ) = &self
            && let Ok(v) = retry_after_secs.to_string().parse()
        {
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, v);
        }
        response
    }
}

/// The error as the caller of `path` expects it: the JSON body under `/api/`, the console's error page elsewhere.
pub fn response_for(path: &str, err: ApiError) -> Response {
    if path.starts_with("/api/") { err.into_response() } else { crate::console::error_page(&err) }
}

/// Every error answer under `/api/` has the documented JSON body. axum's and tower-http's own rejections (a
/// malformed query string or path parameter, a body over the limit, an unknown path or method) are plain text;
/// they are rewritten here, keeping their status.
pub async fn api_errors_as_json(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let api = request.uri().path().starts_with("/api/");
    let response = next.run(request).await;
    let status = response.status();
    if !api || !(status.is_client_error() || status.is_server_error()) || is_json(&response) {
        return response;
    }
    let (parts, body) = response.into_parts();
    // The rejection's own text (English, from axum) is kept after the Chinese message: it names the parameter.
    let text = match axum::body::to_bytes(body, 4096).await {
        Ok(bytes) => String::from_utf8_lossy(&bytes).trim().to_owned(),
        Err(_) => String::new(),
    };
    let with_text = |message: &str| if text.is_empty() { message.to_owned() } else { format!("{message}：{text}") };
    let detail = match status {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge.detail(),
        StatusCode::REQUEST_TIMEOUT => ApiError::Timeout.detail(),
        StatusCode::NOT_FOUND => plain_detail("not_found", "接口不存在，请核对请求路径".into()),
        StatusCode::METHOD_NOT_ALLOWED => plain_detail("method_not_allowed", "该接口不支持此请求方法".into()),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => plain_detail(
            "unsupported_media_type",
            with_text("请求体类型不受支持（JSON 接口需要 Content-Type: application/json）"),
        ),
        s if s.is_server_error() => ApiError::Service(ServiceError::Internal(text.into())).detail(),
        _ => plain_detail("bad_request", with_text("请求参数格式错误")),
    };
    let mut response = (status, Json(ErrorBody { error: detail })).into_response();
    for (name, value) in parts.headers.iter() {
        if name != axum::http::header::CONTENT_TYPE && name != axum::http::header::CONTENT_LENGTH {
            response.headers_mut().insert(name.clone(), value.clone());
        }
    }
    response
}

fn is_json(response: &Response) -> bool {
    response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

fn plain_detail(code: &str, message: String) -> ErrorDetail {
    ErrorDetail { code: code.to_owned(), message, field: None, rule: None, problems: Vec::new(), error_id: None }
}

/// A panic in a handler becomes a 500 with an error id, like any other internal error.
pub fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "panic".into());
    ApiError::Service(ServiceError::Internal(message.into())).into_response()
}
