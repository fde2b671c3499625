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

/// HTTP settings, from configuration.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Mark the session cookie `Secure`. Leave on except for plain-HTTP development on a non-localhost name.
    pub cookie_secure: bool,
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
            cookie_secure: true,
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
    /// The same for routes taking large uploads (the source load, up to 2 GiB).
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

#[derive(Debug, Clone)]
pub struct AppState {
    pub services: Services,
    pub settings: Arc<HttpSettings>,
    pub metrics: Option<PrometheusHandle>,
}

impl AppState {
    /// State with the process-wide Prometheus recorder.
    pub fn new(services: Services, settings: HttpSettings) -> Self {
        AppState { services, settings: Arc::new(settings), metrics: Some(ops::metrics_handle()) }
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
        upload_paths: table.iter().filter(|r| r.body_limit > routes::DEFAULT_BODY_LIMIT).map(|r| r.path).collect(),
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
