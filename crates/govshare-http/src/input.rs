//! One check of every text a request carries, before any handler sees it (R-SEC-4): the path, the query
//! string, and the fields of JSON and form bodies may not hold NUL, other control characters or bidirectional
//! overrides (`govshare_domain::error::forbidden_character`). Such a request gets 422 naming the field and
//! the rule, and nothing runs. Without this, a NUL reaches PostgreSQL (which refuses it in text: a 500) and
//! an override character makes a name display as something it is not.
//!
//! File uploads (multipart, spreadsheets, CSV) are not inspected here: their parsers check every value.

use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use govshare_domain::ValidationError;
use govshare_domain::error::check_characters;
use govshare_service::ServiceError;
use serde_json::Value;

use crate::error::ApiError;

/// The largest JSON or form body the check reads: the JSON extractor's own limit.
pub const MAX_TEXT_BODY: usize = 2 * 1024 * 1024;

fn content_type(headers: &HeaderMap) -> &str {
    headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default()
}

/// Every string in a JSON document (keys included), with its path: `items[2].name`.
fn check_json(path: &str, value: &Value) -> Result<(), ValidationError> {
    match value {
        Value::String(s) => check_characters(path.to_owned(), s),
        Value::Array(items) => items.iter().enumerate().try_for_each(|(i, v)| check_json(&format!("{path}[{i}]"), v)),
        Value::Object(fields) => fields.iter().try_for_each(|(k, v)| {
            let field = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
            check_characters(if path.is_empty() { "(field name)".to_owned() } else { path.to_owned() }, k)?;
            check_json(&field, v)
        }),
        _ => Ok(()),
    }
}

fn check_pairs(pairs: &[(String, String)]) -> Result<(), ValidationError> {
    pairs.iter().try_for_each(|(k, v)| {
        check_characters("(field name)", k)?;
        check_characters(k.clone(), v)
    })
}

fn refuse(request_path: &str, err: ApiError) -> Response {
    if request_path.starts_with("/api/") { err.into_response() } else { crate::console::error_page(&err) }
}

pub async fn check_text_input(request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let decoded = percent_encoding::percent_decode_str(&path).decode_utf8_lossy().into_owned();
    if let Err(e) = check_characters("(path)", &decoded) {
        return refuse(&path, ApiError::Service(ServiceError::Validation(e)));
    }
    if let Some(query) = request.uri().query() {
        let checked = match serde_urlencoded::from_str::<Vec<(String, String)>>(query) {
            Ok(pairs) => check_pairs(&pairs).map_err(|e| ApiError::Service(ServiceError::Validation(e))),
            Err(_) => Err(ApiError::bad_request(Some("(query)"), "查询参数不是有效的 URL 编码（须为 UTF-8）")),
        };
        if let Err(err) = checked {
            return refuse(&path, err);
        }
    }
    let kind = content_type(request.headers());
    let json = kind.starts_with("application/json") || kind.contains("+json");
    let form = kind.starts_with("application/x-www-form-urlencoded");
    if !json && !form {
        return next.run(request).await;
    }
    // A declared length over the limit goes on unread: the route's own limit and the JSON and form extractors
    // (2 MiB) refuse it with 413 before any handler runs.
    let declared = request.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_TEXT_BODY as u64) {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let bytes = match to_bytes(body, MAX_TEXT_BODY).await {
        Ok(bytes) => bytes,
        Err(_) => return refuse(&path, ApiError::PayloadTooLarge),
    };
    let checked = if json {
        // A body that is not JSON is left to the extractor, which names the syntax error.
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(value) => check_json("", &value),
            Err(_) => Ok(()),
        }
    } else {
        match serde_urlencoded::from_bytes::<Vec<(String, String)>>(&bytes) {
            Ok(pairs) => check_pairs(&pairs),
            Err(_) => Ok(()),
        }
    };
    if let Err(e) = checked {
        return refuse(&path, ApiError::Service(ServiceError::Validation(e)));
    }
    next.run(Request::from_parts(parts, Body::from(bytes))).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_are_checked_with_their_path() {
        let doc: Value = serde_json::json!({"name": "居民户籍信息", "items": [{"code": "xm"}, {"code": "s\u{0}fzh"}]});
        let e = check_json("", &doc).unwrap_err();
        assert_eq!((e.field.as_ref(), e.rule), ("items[1].code", "control_character"));
        let doc: Value = serde_json::json!({"display_name": "张三\u{202e}"});
        assert_eq!(check_json("", &doc).unwrap_err().rule, "bidi_control");
        let doc: Value = serde_json::json!({"summary": "第一行\n第二行\t制表", "n": 1, "ok": true});
        assert!(check_json("", &doc).is_ok());
    }
}
