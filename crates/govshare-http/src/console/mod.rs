//! The console: server-rendered pages in 简体中文 for departments' staff, reviewers and administrators.
//!
//! Pages are askama templates (checked at compile time). Every form posts back with the session's CSRF
//! token; a refused action re-renders its page with the reason, and a successful one redirects (303) to
//! the page with a notice, so reloading never repeats an action.

mod applications;
mod catalog;
mod grants;
mod interchange;
mod obligations;
mod pages;
mod view;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;

pub use view::error_page;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/console") }))
        .route("/login", get(pages::login_form).post(pages::login_submit))
        .route("/logout", post(pages::logout))
        .route("/console", get(pages::home))
        .route("/console/switch-org", post(pages::switch_org))
        .route("/console/org", get(pages::own_org))
        .route("/console/org/work-unit", post(pages::update_work_unit))
        .route("/console/users", get(pages::users).post(pages::create_user))
        .route("/console/users/grant", post(pages::grant_role))
        .route("/console/users/{user_id}/revoke", post(pages::revoke_role))
        .route("/console/users/{user_id}/disable", post(pages::disable_user))
        .route("/console/users/{user_id}/enable", post(pages::enable_user))
        .route("/console/users/{user_id}/password", post(pages::reset_password))
        .route("/console/credentials", get(pages::credentials).post(pages::issue_credential))
        .route("/console/credentials/{credential_id}/revoke", post(pages::revoke_credential))
        .route("/console/organisations", get(pages::organisations).post(pages::create_org))
        .route("/console/regions", post(pages::create_region))
        .route("/console/audit", get(pages::audit))
        .route("/console/audit/verify", post(pages::verify_audit))
        .route("/console/account", get(pages::account).post(pages::change_password))
        .route("/console/catalog", get(catalog::published))
        .route("/console/catalog/mine", get(catalog::mine))
        .route("/console/catalog/review", get(catalog::review_queue))
        .route(
            "/console/catalog/import",
            post(interchange::import)
                .layer(axum::extract::DefaultBodyLimit::max(govshare_service::MAX_IMPORT_BYTES + 64 * 1024)),
        )
        .route("/console/catalog/obligations", get(obligations::obligations).post(obligations::record))
        .route("/console/catalog/obligations/{obligation_id}/extension/{step}", post(obligations::extension))
        .route("/console/catalog/sources", get(obligations::sources).post(obligations::designate))
        .route("/console/catalog/sources/check", post(obligations::check_fields))
        .route("/console/catalog/new", get(catalog::new_form).post(catalog::create))
        .route("/console/catalog/{entry_id}", get(catalog::detail))
        .route("/console/catalog/{entry_id}/edit", get(catalog::edit_form).post(catalog::edit))
        .route("/console/catalog/{entry_id}/{action}", post(catalog::act))
        // More specific than `{entry_id}/{action}`: the router prefers the static segment.
        .route("/console/catalog/{entry_id}/source", post(grants::bind_source))
        .route(
            "/console/catalog/{entry_id}/source/load",
            post(grants::load_source)
                .layer(axum::extract::DefaultBodyLimit::max(grants::MAX_CONSOLE_LOAD_BYTES + 64 * 1024)),
        )
        .route("/console/applications", get(applications::list).post(applications::create))
        .route("/console/applications/new", get(applications::new_form))
        .route("/console/applications/{application_id}", get(applications::detail))
        .route("/console/applications/{application_id}/step", post(applications::step))
        .route("/console/applications/{application_id}/grant", post(applications::create_grant))
        .route("/console/grants", get(grants::list))
        .route("/console/grants/{grant_id}", get(grants::detail))
        .route("/console/grants/{grant_id}/state", post(grants::change_state))
        .route("/console/usage", get(grants::usage))
        .route("/console/notifications", get(catalog::notifications))
        .route("/console/notifications/{notification_id}", get(catalog::open_notification))
        .route(
            "/static/app.css",
            get(|| async { static_file("text/css; charset=utf-8", include_str!("../../static/app.css")) }),
        )
        .route(
            "/static/app.js",
            get(|| async { static_file("text/javascript; charset=utf-8", include_str!("../../static/app.js")) }),
        )
}

fn static_file(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "public, max-age=3600")], body).into_response()
}

/// A person signed in through the console. Anyone else is sent to the login form.
#[derive(Debug, Clone)]
pub struct ConsoleCaller(pub Caller);

impl<S: Send + Sync> FromRequestParts<S> for ConsoleCaller {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        match parts.extensions.get::<Caller>() {
            Some(caller) if caller.session.is_some() => Ok(ConsoleCaller(caller.clone())),
            _ => {
                let next = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/console");
                let target = format!("/login?next={}", urlencode(next));
                Err(Redirect::to(&target).into_response())
            }
        }
    }
}

pub(crate) fn urlencode(s: &str) -> String {
    serde_urlencoded::to_string([("", s)]).map(|q| q.trim_start_matches('=').to_owned()).unwrap_or_default()
}

/// Renders a template, turning a (never expected) render failure into a 500 page.
pub(crate) fn render<T: askama::Template>(status: StatusCode, page: &T) -> Response {
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(err) => {
            tracing::error!(error = %err, "template rendering failed");
            error_page(&ApiError::Service(govshare_service::ServiceError::Internal(Box::new(err))))
        }
    }
}
