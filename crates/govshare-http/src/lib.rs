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

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, header};
use govshare_service::Services;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

/// HTTP settings, from configuration.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Mark the session cookie `Secure`. Leave on except for plain-HTTP development on a non-localhost name.
    pub cookie_secure: bool,
    /// Shown in the console header, e.g. 「浙江省政务数据共享平台」.
    pub node_name: String,
    /// Serve the bench's ungoverned baseline route (`govshare bench data` only; never in production).
    pub bench_baseline: bool,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings { cookie_secure: true, node_name: "政务数据共享平台".into(), bench_baseline: false }
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

/// The whole application: API, console, operations endpoints, with the common middleware.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(api::router())
        .merge(console::router())
        .merge(ops::router())
        .layer(axum::middleware::from_fn(input::check_text_input))
        .layer(axum::middleware::from_fn_with_state(state.clone(), auth::authenticate))
        .layer(axum::middleware::from_fn(ops::track_metrics))
        .layer(RequestBodyLimitLayer::new(12 * 1024 * 1024))
        .layer(TimeoutLayer::with_status_code(axum::http::StatusCode::REQUEST_TIMEOUT, Duration::from_secs(30)))
        .layer(SetResponseHeaderLayer::overriding(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
        .layer(SetResponseHeaderLayer::overriding(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'",
            ),
        ))
        .layer(SetResponseHeaderLayer::overriding(header::REFERRER_POLICY, HeaderValue::from_static("same-origin")))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(TraceLayer::new_for_http())
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .layer(CatchPanicLayer::custom(error::panic_response))
        .with_state(state)
}

/// Serves the application on `listener` until `shutdown` resolves, finishing requests in flight.
/// Tests call this with a listener on port 0.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await
}
