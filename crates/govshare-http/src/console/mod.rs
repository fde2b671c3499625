//! The console: server-rendered pages in 简体中文 for departments' staff, reviewers and administrators.
//!
//! Pages are askama templates (checked at compile time). Every form posts back with the session's CSRF
//! token; a refused action re-renders its page with the reason, and a successful one redirects (303) to
//! the page with a notice, so reloading never repeats an action.

mod applications;
mod audit;
mod catalog;
mod changes;
mod complaints;
mod corrections;
mod disposal;
mod disputes;
mod federation;
mod grants;
mod incidents;
mod interchange;
mod obligations;
mod pages;
pub(crate) mod report;
mod supervision;
pub(crate) mod table;
mod uses;
pub(crate) mod view;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{Method, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::routes::Routes;
use view::Feedback;

pub use view::error_page;

/// Shows an error page inside the console's frame when a signed-in person gets one (a refusal, an unknown
/// page, a conflict): the navigation stays, and the page says what the person can do. API paths, anonymous
/// callers and business systems get the response untouched.
pub async fn frame_errors(
    axum::extract::State(state): axum::extract::State<crate::AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    // The data plane's API calls pass straight through: nothing is copied on their path.
    if request.uri().path().starts_with("/api/") {
        return next.run(request).await;
    }
    let caller = request.extensions().get::<Caller>().filter(|c| c.session.is_some()).cloned();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    let (Some(caller), Some(shown)) = (caller, response.extensions().get::<view::ErrorShown>().cloned()) else {
        return response;
    };
    match pages::layout(&state, &caller, shown.title, &path).await {
        Ok(layout) => render(shown.status, &view::FramedErrorPage { layout, feedback: Feedback::default(), shown }),
        Err(_) => response,
    }
}

pub fn routes() -> Routes {
    Routes::new()
        .get("/", || async { Redirect::to("/console") })
        .get("/login", pages::login_form)
        .post("/login", pages::login_submit)
        .post("/logout", pages::logout)
        .get("/console", pages::home)
        .post("/console/switch-org", pages::switch_org)
        .get("/console/org", pages::own_org)
        .post("/console/org/work-unit", pages::update_work_unit)
        .get("/console/users", pages::users)
        .post("/console/users", pages::create_user)
        .post("/console/users/grant", pages::grant_role)
        .post("/console/users/{user_id}/revoke", pages::revoke_role)
        .post("/console/users/{user_id}/disable", pages::disable_user)
        .post("/console/users/{user_id}/enable", pages::enable_user)
        .post("/console/users/{user_id}/password", pages::reset_password)
        .get("/console/credentials", pages::credentials)
        .post("/console/credentials", pages::issue_credential)
        .post("/console/credentials/{credential_id}/revoke", pages::revoke_credential)
        .get("/console/organisations", pages::organisations)
        .post("/console/organisations", pages::create_org)
        .post("/console/regions", pages::create_region)
        .get("/console/audit", audit::page)
        .get("/console/federation", federation::page)
        .post("/console/audit/verify", audit::verify)
        .get("/console/account", pages::account)
        .post("/console/account", pages::change_password)
        .get("/console/catalog", catalog::published)
        .get("/console/catalog/mine", catalog::mine)
        .get("/console/catalog/review", catalog::review_queue)
        .limited(
            Method::POST,
            "/console/catalog/import",
            interchange::import,
            govshare_service::MAX_IMPORT_BYTES + 64 * 1024,
        )
        .get("/console/catalog/obligations", obligations::obligations)
        .post("/console/catalog/obligations", obligations::record)
        .post("/console/catalog/obligations/{obligation_id}/extension/{step}", obligations::extension)
        .get("/console/catalog/sources", obligations::sources)
        .post("/console/catalog/sources", obligations::designate)
        .post("/console/catalog/sources/check", obligations::check_fields)
        .get("/console/catalog/new", catalog::new_form)
        .post("/console/catalog/new", catalog::create)
        .get("/console/catalog/{entry_id}", catalog::detail)
        .get("/console/catalog/{entry_id}/edit", catalog::edit_form)
        .post("/console/catalog/{entry_id}/edit", catalog::edit)
        .post("/console/catalog/{entry_id}/{action}", catalog::act)
        // More specific than `{entry_id}/{action}`: the router prefers the static segment.
        .post("/console/catalog/{entry_id}/source", grants::bind_source)
        .limited(
            Method::POST,
            "/console/catalog/{entry_id}/assessments",
            catalog::attach_assessment,
            catalog::MAX_ASSESSMENT_FORM_BYTES,
        )
        .limited(
            Method::POST,
            "/console/catalog/{entry_id}/assessments/{assessment_id}/report",
            catalog::upload_report,
            catalog::MAX_ASSESSMENT_FORM_BYTES,
        )
        .limited(
            Method::POST,
            "/console/catalog/{entry_id}/source/load",
            grants::load_source,
            grants::MAX_CONSOLE_LOAD_BYTES + 64 * 1024,
        )
        .get("/console/applications", applications::list)
        .post("/console/applications", applications::create)
        .get("/console/applications/new", applications::new_form)
        .get("/console/applications/{application_id}", applications::detail)
        .get("/console/applications/{application_id}/print", applications::print)
        .post("/console/applications/{application_id}/step", applications::step)
        .post("/console/applications/{application_id}/grant", applications::create_grant)
        .get("/console/grants", grants::list)
        .get("/console/grants/{grant_id}", grants::detail)
        .post("/console/grants/{grant_id}/state", grants::change_state)
        .post("/console/grants/{grant_id}/changes", changes::file)
        .post("/console/grants/{grant_id}/changes/current", changes::step)
        .post("/console/grants/{grant_id}/use-records", uses::record)
        .get("/console/usage", grants::usage)
        .get("/console/incidents", incidents::list)
        .post("/console/incidents", incidents::report)
        .get("/console/incidents/{incident_id}", incidents::detail)
        .post("/console/incidents/{incident_id}/steps", incidents::step)
        .get("/console/corrections", corrections::list)
        .limited(Method::POST, "/console/corrections", corrections::file, corrections::MAX_FORM_BYTES)
        .get("/console/corrections/new", corrections::new_form)
        .get("/console/corrections/{correction_id}", corrections::detail)
        .post("/console/corrections/{correction_id}/answer", corrections::answer)
        .get("/console/corrections/{correction_id}/attachment", corrections::attachment)
        .post("/console/catalog/{entry_id}/corrections", corrections::correct)
        .get("/console/supervision", supervision::dashboard)
        .get("/console/supervision/report", supervision::report_file)
        .get("/console/supervision/departments/{org_id}", supervision::department)
        .get("/console/supervision/violations/{violation_key}", supervision::violation)
        .post("/console/supervision/orders", supervision::issue_order)
        .get("/console/supervision/orders", supervision::orders)
        .get("/console/supervision/orders/{order_id}", supervision::order)
        .post("/console/supervision/orders/{order_id}/steps", supervision::order_step)
        .get("/console/supervision/notices", supervision::notices)
        .post("/console/supervision/notices", supervision::publish_notice)
        .get("/console/supervision/notices/{notice_id}", supervision::notice)
        .get("/console/disputes", disputes::list)
        .post("/console/disputes", disputes::open)
        .get("/console/disputes/{dispute_id}", disputes::detail)
        .post("/console/disputes/{dispute_id}/steps", disputes::step)
        .get("/console/complaints", complaints::list)
        .get("/console/complaints/{complaint_id}", complaints::detail)
        .post("/console/complaints/{complaint_id}/steps", complaints::step)
        .get("/console/complaints/{complaint_id}/attachment", complaints::attachment)
        .get("/public/complaints", complaints::public_new)
        .limited(Method::POST, "/public/complaints", complaints::public_file, corrections::MAX_FORM_BYTES)
        .get("/public/complaints/status", complaints::public_status)
        .get("/console/notifications", catalog::notifications)
        .post("/console/notifications/{notification_id}/read", catalog::open_notification)
        .get("/static/app.css", || async {
            static_file("text/css; charset=utf-8", include_str!("../../static/app.css"))
        })
        .get("/static/app.js", || async {
            static_file("text/javascript; charset=utf-8", include_str!("../../static/app.js"))
        })
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
