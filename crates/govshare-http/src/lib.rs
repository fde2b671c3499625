//! govshare's HTTP face: the JSON API under `/api/v1`, the console (server-rendered HTML, 简体中文) under
//! `/console`, operations endpoints, and the background jobs that run beside the server.
//!
//! Requests are authenticated once, by [`auth::authenticate`], which also enforces CSRF protection for
//! cookie sessions; handlers then act through [`govshare_service::Services`], where authorisation happens.

pub mod api;
pub mod auth;
pub mod console;
pub mod error;
pub mod input;
pub mod jobs;
pub mod ops;
pub mod routes;
mod server;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use govshare_service::Services;
use metrics_exporter_prometheus::PrometheusHandle;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

pub use routes::Route;
pub use server::serve;

/// Whether cookies are marked `Secure` (sent back by the client over HTTPS only).
///
/// `Auto`, the default, marks them when the request reached the node over HTTPS: the node speaks plain HTTP
/// itself, so that is what a TLS-terminating proxy in front says in `X-Forwarded-Proto: https` or
/// `Forwarded: proto=https`. A client of the plain-HTTP demo then keeps its session (a `Secure` cookie set over
/// http:// is dropped by scripted clients and by browsers on names other than localhost). A client that claims
/// HTTPS falsely only makes its own cookie stricter. `Always` for a production node whose proxy does not send
/// the header; `Never` only for development.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CookieSecure {
    Always,
    Never,
    #[default]
    Auto,
}

impl CookieSecure {
    /// Whether the cookies set in the answer to a request with these headers are `Secure`.
    pub fn for_request(self, headers: &axum::http::HeaderMap) -> bool {
        match self {
            CookieSecure::Always => true,
            CookieSecure::Never => false,
            CookieSecure::Auto => {
                let value = |name| headers.get_all(name).iter().filter_map(|v| v.to_str().ok());
                value("x-forwarded-proto")
                    .any(|v| v.split(',').next().is_some_and(|p| p.trim().eq_ignore_ascii_case("https")))
                    || value("forwarded").any(|v| {
                        v.split([';', ',']).any(|pair| {
                            pair.split_once('=').is_some_and(|(k, v)| {
                                k.trim().eq_ignore_ascii_case("proto")
                                    && v.trim().trim_matches('"').eq_ignore_ascii_case("https")
                            })
                        })
                    })
            }
        }
    }
}

impl serde::Serialize for CookieSecure {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            CookieSecure::Always => s.serialize_bool(true),
            CookieSecure::Never => s.serialize_bool(false),
            CookieSecure::Auto => s.serialize_str("auto"),
        }
    }
}

impl<'de> serde::Deserialize<'de> for CookieSecure {
    /// `true`, `false` or `"auto"` (the words `"true"` and `"false"` too, as environment variables give them).
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Flag(bool),
            Word(String),
        }
        match Raw::deserialize(d)? {
            Raw::Flag(true) => Ok(CookieSecure::Always),
            Raw::Flag(false) => Ok(CookieSecure::Never),
            Raw::Word(w) => match w.trim().to_ascii_lowercase().as_str() {
                "auto" => Ok(CookieSecure::Auto),
                "true" => Ok(CookieSecure::Always),
                "false" => Ok(CookieSecure::Never),
                _ => {
                    Err(serde::de::Error::custom(format!("cookie_secure: expected true, false or \"auto\", got {w:?}")))
                }
            },
        }
    }
}

/// HTTP settings, from configuration.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Whether the cookies the node sets (session, device, login CSRF) are marked `Secure`.
    pub cookie_secure: CookieSecure,
    /// Shown in the console header, e.g. 「浙江省政务数据共享平台」.
    pub node_name: String,
    /// Serve the bench's ungoverned baseline route (`govshare bench data` only; never in production).
    pub bench_baseline: bool,
    /// Send `Strict-Transport-Security` with this max-age on every response. Only for a node reached over
    /// HTTPS (its own TLS or a TLS-terminating proxy); `None` for plain-HTTP development.
    pub hsts_max_age: Option<Duration>,
    /// Connection handling: timeouts, keep-alive, the connection limit.
    pub server: ServerLimits,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            cookie_secure: CookieSecure::Auto,
            node_name: "政务数据共享平台".into(),
            bench_baseline: false,
            hsts_max_age: None,
            server: ServerLimits::default(),
        }
    }
}

/// How the server treats connections (see [`serve`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerLimits {
    /// A request's head (request line and headers) must arrive within this time of the connection being ready
    /// for it (accepted, or idle after the previous response); otherwise the connection is closed. It is also the
    /// idle timeout of a keep-alive connection.
    pub header_read_timeout: Duration,
    /// A request must be answered within this time (body included), else 408.
    pub request_timeout: Duration,
    /// The same for routes taking large uploads (the source load, up to 2 GiB) and for the file download, which
    /// writes the whole file before its first byte is sent.
    pub upload_timeout: Duration,
    /// Keep connections open between requests (HTTP/1.1 keep-alive).
    pub keep_alive: bool,
    /// A connection is closed (after its request in flight) once it is this old.
    pub max_connection_age: Duration,
    /// At most this many connections are served at once; further ones wait in the listen backlog until one
    /// closes.
    pub max_connections: usize,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            header_read_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            upload_timeout: Duration::from_secs(30 * 60),
            keep_alive: true,
            max_connection_age: Duration::from_secs(10 * 60),
            max_connections: 1024,
        }
    }
}

/// The router's state: one shared value. axum hands every extractor and middleware layer its own clone, several
/// per request, so a clone is one reference count (a profile of `bench data` found the per-field clones and drops
/// of the earlier by-value state at several percent of a governed lookup).
#[derive(Debug, Clone)]
pub struct AppState(Arc<AppStateInner>);

#[derive(Debug)]
pub struct AppStateInner {
    pub services: Services,
    pub settings: Arc<HttpSettings>,
    pub metrics: Option<PrometheusHandle>,
}

impl std::ops::Deref for AppState {
    type Target = AppStateInner;

    fn deref(&self) -> &AppStateInner {
        &self.0
    }
}

impl AppState {
    /// State with the process-wide Prometheus recorder.
    pub fn new(services: Services, settings: HttpSettings) -> Self {
        AppState(Arc::new(AppStateInner {
            services,
            settings: Arc::new(settings),
            metrics: Some(ops::metrics_handle()),
        }))
    }
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Every route the application serves, from the same table [`router`] is built from.
pub fn routes() -> Vec<Route> {
    app_routes().into_parts().1
}

fn app_routes() -> routes::Routes {
    routes::Routes::new().merge(api::routes()).merge(console::routes()).merge(ops::routes())
}

/// The whole application: API, console, operations endpoints, with the common middleware.
pub fn router(state: AppState) -> Router {
    let (app, table) = app_routes().into_parts();
    let deadlines = Arc::new(Deadlines {
        request: state.settings.server.request_timeout,
        upload: state.settings.server.upload_timeout,
        upload_paths: table
            .iter()
            .filter(|r| r.body_limit > routes::DEFAULT_BODY_LIMIT)
            .map(|r| r.path)
            .chain(api::LONG_RESPONSES.iter().copied())
            .collect(),
    });
    let hsts = state.settings.hsts_max_age.map(|age| {
        HeaderValue::from_str(&format!("max-age={}; includeSubDomains", age.as_secs()))
            .expect("a number is a valid header value")
    });
    app.fallback(not_found)
        .layer(axum::middleware::from_fn(input::check_text_input))
        .layer(axum::middleware::from_fn_with_state(state.clone(), console::frame_errors))
        .layer(axum::middleware::from_fn_with_state(state.clone(), auth::authenticate))
        .layer(axum::middleware::from_fn(ops::track_metrics))
        .layer(axum::middleware::from_fn_with_state(deadlines, deadline))
        .layer(axum::middleware::from_fn(error::api_errors_as_json))
        .layer(axum::middleware::map_response(close_after_refused_body))
        .layer(SetResponseHeaderLayer::overriding(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
        .layer(SetResponseHeaderLayer::overriding(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'",
            ),
        ))
        .layer(SetResponseHeaderLayer::overriding(header::REFERRER_POLICY, HeaderValue::from_static("same-origin")))
        // Nothing is cached unless a handler says so (only the static files do): API answers and console pages
        // carry personal data, new keys or a person's own view.
        .layer(SetResponseHeaderLayer::if_not_present(header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .layer(SetResponseHeaderLayer::overriding(header::STRICT_TRANSPORT_SECURITY, hsts))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(TraceLayer::new_for_http())
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .layer(CatchPanicLayer::custom(error::panic_response))
        .with_state(state)
}

/// A body refused for its size is left unread, so the connection cannot carry another request: say so
/// (`Connection: close`), or a client reusing it sees its next request fail as an incomplete message.
async fn close_after_refused_body(mut response: Response) -> Response {
    if response.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// An unknown path: under `/api/` the JSON `not_found` error (by `api_errors_as_json`), elsewhere the console's
/// error page in Chinese, never the browser's own empty 404.
async fn not_found(uri: axum::http::Uri) -> Response {
    if uri.path().starts_with("/api/") {
        return axum::http::StatusCode::NOT_FOUND.into_response();
    }
    let message = "您访问的页面不存在，可能是地址有误或该事项已删除。请从工作台重新进入。".to_owned();
    console::view::error_page(&error::ApiError::Service(govshare_service::ServiceError::NotFound(message)))
}

/// The time a request may take, by route.
#[derive(Debug)]
struct Deadlines {
    request: Duration,
    upload: Duration,
    upload_paths: HashSet<&'static str>,
}

/// Answers 408 when the request (reading its body included) takes longer than its route allows.
async fn deadline(State(deadlines): State<Arc<Deadlines>>, request: Request, next: Next) -> Response {
    let upload = request.extensions().get::<MatchedPath>().is_some_and(|p| deadlines.upload_paths.contains(p.as_str()));
    let limit = if upload { deadlines.upload } else { deadlines.request };
    let path = request.uri().path().to_owned();
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => error::response_for(&path, error::ApiError::Timeout),
    }
}

#[cfg(test)]
mod cookie_tests {
    use super::CookieSecure;
    use axum::http::HeaderMap;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn auto_follows_the_proxys_word_for_https_and_the_flags_do_not() {
        let plain = headers(&[]);
        let proxied = headers(&[("x-forwarded-proto", "https")]);
        let chained = headers(&[("x-forwarded-proto", "HTTPS, http")]);
        let forwarded = headers(&[("forwarded", "for=192.0.2.1;proto=https;by=proxy")]);
        let http = headers(&[("x-forwarded-proto", "http"), ("forwarded", "proto=http")]);
        assert!(!CookieSecure::Auto.for_request(&plain), "the plain-HTTP demo keeps its session");
        assert!(CookieSecure::Auto.for_request(&proxied));
        assert!(CookieSecure::Auto.for_request(&chained), "the first proxy's word counts");
        assert!(CookieSecure::Auto.for_request(&forwarded));
        assert!(!CookieSecure::Auto.for_request(&http));
        assert!(CookieSecure::Always.for_request(&plain));
        assert!(!CookieSecure::Never.for_request(&proxied));
    }
}
