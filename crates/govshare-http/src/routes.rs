//! The route table. Every route is registered through [`Routes`], which records its method, path and body
//! limit while it builds the axum router, so that [`crate::routes`] lists exactly what [`crate::router`] serves.
//! The authorisation matrix test reads that list: a route added here without a declared expectation fails it.

use std::fmt;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::handler::Handler;
use axum::http::Method;
use axum::routing::{MethodFilter, on};
use tower_http::limit::RequestBodyLimitLayer;

use crate::AppState;

/// Largest request body of any route that does not declare its own limit. JSON bodies are further limited to
/// [`JSON_BODY_LIMIT`] and form bodies to 2 MiB by their extractors.
pub const DEFAULT_BODY_LIMIT: usize = 12 * 1024 * 1024;
/// Largest JSON body (axum's default for its `Json` extractor, kept as ours); larger ones get 413.
pub const JSON_BODY_LIMIT: usize = 2 * 1024 * 1024;

/// One served route: a method on a path template (axum's syntax, `{id}` for a parameter).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Route {
    pub method: Method,
    pub path: &'static str,
    /// The largest request body accepted, in bytes.
    pub body_limit: usize,
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method, self.path)
    }
}

/// Builds the axum router and the list of its routes together.
#[derive(Debug)]
pub struct Routes {
    router: Router<AppState>,
    table: Vec<Route>,
}

impl Default for Routes {
    fn default() -> Self {
        Routes::new()
    }
}

impl Routes {
    pub fn new() -> Self {
        Routes { router: Router::new(), table: Vec::new() }
    }

    pub fn get<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, handler: H) -> Self {
        self.on(Method::GET, path, handler)
    }

    pub fn post<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, handler: H) -> Self {
        self.on(Method::POST, path, handler)
    }

    pub fn put<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, handler: H) -> Self {
        self.on(Method::PUT, path, handler)
    }

    pub fn patch<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, handler: H) -> Self {
        self.on(Method::PATCH, path, handler)
    }

    pub fn delete<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, handler: H) -> Self {
        self.on(Method::DELETE, path, handler)
    }

    /// A route with the default body limit.
    pub fn on<H: Handler<T, AppState>, T: 'static>(self, method: Method, path: &'static str, handler: H) -> Self {
        self.limited(method, path, handler, DEFAULT_BODY_LIMIT)
    }

    /// A route whose body may be up to `limit` bytes: both the extractors' limit and the hard limit on the body
    /// stream (handlers that read the raw body are bounded too).
    pub fn limited<H: Handler<T, AppState>, T: 'static>(
        mut self,
        method: Method,
        path: &'static str,
        handler: H,
        limit: usize,
    ) -> Self {
        let filter = MethodFilter::try_from(method.clone()).expect("routes use standard methods");
        let mut method_router = on(filter, handler).layer(RequestBodyLimitLayer::new(limit));
        if limit != DEFAULT_BODY_LIMIT {
            method_router = method_router.layer(DefaultBodyLimit::max(limit));
        }
        // axum merges method routers registered on the same path (and panics on a repeated method).
        self.router = self.router.route(path, method_router);
        self.table.push(Route { method, path, body_limit: limit });
        self
    }

    pub fn merge(mut self, other: Routes) -> Self {
        self.router = self.router.merge(other.router);
        self.table.extend(other.table);
        self
    }

    /// A router built by a library (the Swagger UI), whose routes are listed here by hand: they take no body
    /// and are all `GET`.
    pub fn merge_foreign(mut self, router: Router<AppState>, paths: &[&'static str]) -> Self {
        self.router = self.router.merge(router);
        self.table.extend(paths.iter().map(|path| Route { method: Method::GET, path, body_limit: 0 }));
        self
    }

    pub fn into_parts(self) -> (Router<AppState>, Vec<Route>) {
        (self.router, self.table)
    }
}
