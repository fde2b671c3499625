//! Federation (Art. 30–32): the endpoint other nodes post signed messages to, and this node's federation status.
//!
//! `/federation/v1/messages` is node-to-node, not part of the business API: a caller is authenticated by the
//! SM2 signature of its message against the key the signed directory holds for it (see
//! `govshare_domain::federation`), never by a session or an API key. On a node that has not founded or joined a
//! federation it answers 404 to everyone.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use govshare_domain::federation::SignedMessage;
use govshare_service::ServiceError;
use serde::Serialize;
use utoipa::ToSchema;

use super::ApiResult;
use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};

/// The largest message a node accepts: a batch of 500 catalog deltas with their data items fits with room.
pub const MESSAGE_LIMIT: usize = 16 * 1024 * 1024;

/// Receives a signed message from another node and answers with this node's signed reply.
pub async fn message(State(state): State<AppState>, body: Bytes) -> Response {
    match state.services.own_node().await {
        Ok(Some(_)) => {}
        Ok(None) => {
            return ApiError::from(ServiceError::NotFound("本节点尚未加入全国共享平台体系".into())).into_response();
        }
        Err(err) => return ApiError::from(err).into_response(),
    }
    let message: SignedMessage = match serde_json::from_slice(&body) {
        Ok(m) => m,
        Err(err) => return ApiError::bad_request(None, format!("节点消息格式错误：{err}")).into_response(),
    };
    match state.services.receive_message(message).await {
        Ok(reply) => Json(reply).into_response(),
        Err(err) => ApiError::from(err).into_response(),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FederationChildDto {
    pub node: String,
    pub name: String,
    pub endpoint: String,
    pub admitted_at: chrono::DateTime<chrono::Utc>,
    /// Whether the signed directory lists it yet (the root signs admissions; a lower node forwards them).
    pub in_directory: bool,
    /// The highest of its outbox sequence numbers applied here (-1: none yet).
    pub last_seq: i64,
    pub last_delta_at: Option<chrono::DateTime<chrono::Utc>>,
    pub last_seen_at: Option<chrono::DateTime<chrono::Utc>>,
    pub directory_version: Option<u64>,
    /// Its clock minus this node's at its last message, in milliseconds.
    pub clock_skew_ms: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FederationStatusDto {
    /// This node (`national`, `province-330000` …); absent when not federated.
    pub node: Option<String>,
    pub parent: Option<String>,
    pub directory_version: Option<u64>,
    pub directory_expires_at: Option<chrono::DateTime<chrono::Utc>>,
    /// `valid`, `expires_soon` (the admin is warned) or `expired`.
    pub directory_state: Option<String>,
    pub nodes: usize,
    /// The highest outbox sequence number, and the one the parent acknowledged.
    pub outbox_head: i64,
    pub parent_acked: Option<i64>,
    pub children: Vec<FederationChildDto>,
    /// The last sync's error, if it failed.
    pub last_error: Option<String>,
}

/// This node's place in the national system: its directory, its outbox and its children's health (the
/// platform administrator).
#[utoipa::path(get, path = "/api/v1/federation", tag = "federation", security(("session" = [])),
    responses((status = 200, body = FederationStatusDto), (status = 403, body = ErrorBody)))]
pub async fn status(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<FederationStatusDto>> {
    let s = state.services.federation_view(&caller.principal).await?;
    let directory = s.directory.as_ref();
    Ok(Json(FederationStatusDto {
        node: s.config.as_ref().map(|c| c.id.to_string()),
        parent: s.config.as_ref().and_then(|c| c.parent.as_ref()).map(|p| p.id.to_string()),
        directory_version: directory.map(|d| d.version),
        directory_expires_at: directory.map(|d| d.expires_at),
        directory_state: s.freshness.map(|f| {
            serde_json::to_value(f).ok().and_then(|v| v["state"].as_str().map(str::to_owned)).unwrap_or_default()
        }),
        nodes: directory.map(|d| d.nodes.len()).unwrap_or(0),
        outbox_head: s.outbox_head,
        parent_acked: s.config.as_ref().filter(|c| c.parent.is_some()).map(|c| c.parent_acked),
        children: s
            .children
            .iter()
            .map(|c| FederationChildDto {
                node: c.request.id.to_string(),
                name: c.request.name.clone(),
                endpoint: c.request.endpoint.clone(),
                admitted_at: c.admitted_at,
                in_directory: directory.is_some_and(|d| d.node(&c.request.id).is_some()),
                last_seq: c.last_seq,
                last_delta_at: c.last_delta_at,
                last_seen_at: c.last_seen_at,
                directory_version: c.directory_version,
                clock_skew_ms: c.clock_skew_ms,
            })
            .collect(),
        last_error: s.last_sync.and_then(|l| l.error),
    }))
}
