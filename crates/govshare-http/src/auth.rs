//! Authentication, once per request, and CSRF protection for cookie sessions.
//!
//! A request is authenticated by an API key (`Authorization: Bearer gsk_…`, business systems) or by the
//! console session cookie (people). The resolved [`Caller`] is put into the request's extensions for the
//! extractors. Unsafe methods (POST, PUT, PATCH, DELETE) authenticated by cookie must carry the session's
//! CSRF token, in the `X-CSRF-Token` header or, for HTML forms, in a `csrf_token` form field.

use axum::body::{Body, to_bytes};
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use govshare_domain::principal::Principal;
use govshare_service::ServiceError;
use govshare_service::secrets::digests_equal;
use govshare_store::Session;

use crate::AppState;
use crate::error::ApiError;

pub const SESSION_COOKIE: &str = "govshare_session";
pub const CSRF_HEADER: &str = "x-csrf-token";
pub const CSRF_FIELD: &str = "csrf_token";
/// Largest form body read for its CSRF field; larger forms must send the header.
const FORM_LIMIT: usize = 2 * 1024 * 1024;

/// Who made the request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: Principal,
    /// The console session, for people signed in through the browser; `None` for API keys.
    pub session: Option<Session>,
}

impl Caller {
    pub fn csrf_token(&self) -> &str {
        self.session.as_ref().map(|s| s.csrf_token.as_str()).unwrap_or_default()
    }
}

/// Marks a browser as one the person signed in from before, so that failed sign-ins elsewhere never hold it up.
pub const DEVICE_COOKIE: &str = "govshare_device";

/// The value of cookie `name` in the request's `Cookie` headers.
pub(crate) fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_owned())
}

pub fn session_token(headers: &HeaderMap) -> Option<String> {
    cookie_value(headers, SESSION_COOKIE)
}

pub fn device_token(headers: &HeaderMap) -> Option<String> {
    cookie_value(headers, DEVICE_COOKIE)
}

/// A `Set-Cookie` value for an HTTP-only, `SameSite=Strict` cookie on `path`, kept for `max_age`.
pub(crate) fn strict_cookie(
    name: &str,
    value: &str,
    path: &str,
    max_age: cookie::time::Duration,
    secure: bool,
) -> String {
    cookie::Cookie::build((name.to_owned(), value.to_owned()))
        .path(path.to_owned())
        .http_only(true)
        .secure(secure)
        .same_site(cookie::SameSite::Strict)
        .max_age(max_age)
        .build()
        .to_string()
}

/// The `Set-Cookie` value of the device cookie: a year, HTTP only, strict same-site; both sign-in routes (the
/// console's `/login` and the API's) read it, so it is set for the whole site.
pub fn device_cookie(token: &str, secure: bool) -> String {
    strict_cookie(DEVICE_COOKIE, token, "/", cookie::time::Duration::days(365), secure)
}

fn is_unsafe(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"))
}

fn is_multipart(headers: &HeaderMap) -> bool {
    headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"))
}

/// Largest multipart form (a file upload) read to find its CSRF field.
const MULTIPART_LIMIT: usize = 12 * 1024 * 1024;

/// An upload form carries the token as a `csrf_token` part; the body is read once and handed on intact.
async fn check_multipart_csrf(request: Request, expected: &str) -> Result<Request, Response> {
    let (parts, body) = request.into_parts();
    let bytes = match to_bytes(body, MULTIPART_LIMIT).await {
        Ok(bytes) => bytes,
        Err(_) => return Err(ApiError::bad_request(None, "上传内容过大").into_response()),
    };
    let mut probe = Request::new(Body::from(bytes.clone()));
    if let Some(ct) = parts.headers.get(axum::http::header::CONTENT_TYPE) {
        probe.headers_mut().insert(axum::http::header::CONTENT_TYPE, ct.clone());
    }
    let mut ok = false;
    if let Ok(mut multipart) =
        <axum::extract::Multipart as axum::extract::FromRequest<()>>::from_request(probe, &()).await
    {
        while let Ok(Some(field)) = multipart.next_field().await {
            if field.name() == Some(CSRF_FIELD) {
                ok = field.text().await.is_ok_and(|v: String| digests_equal(&v, expected));
                break;
            }
        }
    }
    let request = Request::from_parts(parts, Body::from(bytes));
    if ok { Ok(request) } else { Err(csrf_failure(&request)) }
}

/// Checks the CSRF token of an unsafe cookie-authenticated request, giving the request back intact.
async fn check_csrf(request: Request, expected: &str) -> Result<Request, Response> {
    if let Some(sent) = request.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok()) {
        return if digests_equal(sent, expected) { Ok(request) } else { Err(csrf_failure(&request)) };
    }
    if is_multipart(request.headers()) {
        return check_multipart_csrf(request, expected).await;
    }
    if !is_form(request.headers()) {
        return Err(csrf_failure(&request));
    }
    let (parts, body) = request.into_parts();
    let bytes = match to_bytes(body, FORM_LIMIT).await {
        Ok(bytes) => bytes,
        Err(_) => return Err(ApiError::bad_request(None, "表单过大").into_response()),
    };
    let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(&bytes).unwrap_or_default();
    let ok = fields.iter().any(|(k, v)| k == CSRF_FIELD && digests_equal(v, expected));
    let request = Request::from_parts(parts, Body::from(bytes));
    if ok { Ok(request) } else { Err(csrf_failure(&request)) }
}

fn csrf_failure(request: &Request) -> Response {
    tracing::warn!(path = %request.uri().path(), "CSRF check failed");
    if request.uri().path().starts_with("/api/") {
        ApiError::Csrf.into_response()
    } else {
        crate::console::error_page(&ApiError::Csrf)
    }
}

pub async fn authenticate(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let services = &state.services;
    if let Some(value) = request.headers().get(header::AUTHORIZATION) {
        let key = value.to_str().ok().and_then(|v| v.strip_prefix("Bearer ")).unwrap_or_default();
        match services.authenticate_api_key(key).await {
            Ok(principal) => {
                request.extensions_mut().insert(Caller { principal, session: None });
                return next.run(request).await;
            }
            Err(err) => return ApiError::from(err).into_response(),
        }
    }
    if let Some(token) = session_token(request.headers()) {
        match services.session_principal(&token).await {
            Ok((principal, session)) => {
                if is_unsafe(request.method()) {
                    request = match check_csrf(request, &session.csrf_token).await {
                        Ok(request) => request,
                        Err(response) => return response,
                    };
                }
                request.extensions_mut().insert(Caller { principal, session: Some(session) });
            }
            // An expired or unknown session is simply anonymous: pages send to the login form.
            Err(ServiceError::Unauthenticated { .. }) => {}
            Err(err) => return ApiError::from(err).into_response(),
        }
    }
    next.run(request).await
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or_else(|| ServiceError::unauthenticated("unauthenticated", "请先登录或提供 API 凭证").into())
    }
}

/// The caller's network address, for login throttling.
pub fn client_address(parts: &Parts) -> String {
    parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// The `Set-Cookie` value for a new session (or, with `None`, for removing it).
pub fn session_cookie(token: Option<&str>, max_age: chrono::Duration, secure: bool) -> String {
    let mut cookie = cookie::Cookie::build((SESSION_COOKIE, token.unwrap_or_default().to_owned()))
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(cookie::SameSite::Lax);
    cookie = match token {
        Some(_) => cookie.max_age(cookie::time::Duration::seconds(max_age.num_seconds())),
        None => cookie.max_age(cookie::time::Duration::ZERO),
    };
    cookie.build().to_string()
}
