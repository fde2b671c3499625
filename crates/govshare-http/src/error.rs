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
    PayloadTooLarge { limit: usize },
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
    /// For server errors: quote this id to the operator; the log has the details.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_id: Option<String>,
}

impl ApiError {
    pub fn bad_request(field: Option<&str>, message: impl Into<String>) -> Self {
        ApiError::BadRequest { field: field.map(str::to_owned), message: message.into() }
    }

    pub fn status_of(err: &ServiceError) -> StatusCode {
        match err {
            ServiceError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ServiceError::Unauthenticated { .. } => StatusCode::UNAUTHORIZED,
            ServiceError::Forbidden(_) => StatusCode::FORBIDDEN,
            ServiceError::NotFound(_) => StatusCode::NOT_FOUND,
            ServiceError::Conflict(_) => StatusCode::CONFLICT,
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
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        }
    }

    /// The body, logging server errors under a fresh id.
    pub fn detail(&self) -> ErrorDetail {
        let plain = |code: &str, message: String| ErrorDetail {
            code: code.to_owned(),
            message,
            field: None,
            rule: None,
            error_id: None,
        };
        match self {
            ApiError::Service(ServiceError::Validation(v)) => ErrorDetail {
                code: "validation_failed".into(),
                message: v.message.clone(),
                field: Some(v.field.to_string()),
                rule: Some(v.rule.to_owned()),
                error_id: None,
            },
            ApiError::Service(ServiceError::Internal(source)) => {
                let id = uuid::Uuid::new_v4().to_string();
                tracing::error!(error_id = %id, error = %source, "internal error");
                ErrorDetail {
                    error_id: Some(id),
                    ..plain("internal_error", "服务器内部错误,请联系平台运维人员并提供错误编号".into())
                }
            }
            ApiError::Service(e) => plain(e.code(), e.to_string()),
            ApiError::BadRequest { field, message } => {
                ErrorDetail { field: field.clone(), ..plain("bad_request", message.clone()) }
            }
            ApiError::Csrf => plain("csrf_failed", "页面已过期或请求来源不可信(CSRF 校验失败),请刷新页面后重试".into()),
            ApiError::PayloadTooLarge { limit } => {
                plain("payload_too_large", format!("请求体超过 {} 的上限", human_size(*limit)))
            }
        }
    }
}

/// A byte count for people: `2 MiB`, `512 KiB`.
pub fn human_size(bytes: usize) -> String {
    match bytes {
        b if b >= 1 << 30 && b % (1 << 30) == 0 => format!("{} GiB", b >> 30),
        b if b >= 1 << 20 => format!("{} MiB", b >> 20),
        b if b >= 1 << 10 => format!("{} KiB", b >> 10),
        b => format!("{b} 字节"),
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

/// A panic in a handler becomes a 500 with an error id, like any other internal error.
pub fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "panic".into());
    ApiError::Service(ServiceError::Internal(message.into())).into_response()
}
