//! 全国体系 (Art. 30–32): this node's place in the national system, the directory it holds and how its child
//! nodes are doing — last directory version, last catalog delta, last witnessed checkpoint, clock skew. For the
//! platform administrator.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use govshare_domain::federation::Freshness;

use super::pages::{PageResult, beijing, fail, layout};
use super::view::{Feedback, Layout};
use super::{ConsoleCaller, render};
use crate::AppState;

pub struct ChildRow {
    pub name: String,
    pub id: String,
    pub listed: bool,
    pub directory: String,
    pub last_delta: String,
    pub applied: String,
    pub checkpoint: String,
    pub seen: String,
    pub skew: String,
    /// Not heard from for more than ten minutes, or its directory is older than this node's.
    pub lagging: bool,
}

#[derive(Template)]
#[template(path = "federation.html")]
struct FederationPage {
    layout: Layout,
    feedback: Feedback,
    federated: bool,
    node: String,
    parent: String,
    version: String,
    expires: String,
    state: &'static str,
    warn: bool,
    nodes: Vec<(String, String, String)>,
    outbox: String,
    last_error: Option<String>,
    children: Vec<ChildRow>,
}

pub async fn page(State(state): State<AppState>, ConsoleCaller(caller): ConsoleCaller) -> PageResult {
    let s = state.services.federation_view(&caller.principal).await.map_err(fail)?;
    let layout = layout(&state, &caller, "全国体系", "/console/federation").await?;
    let now = state.services.now();
    let directory = s.directory.as_ref();
    let mut children = Vec::new();
    for (c, checkpoint) in s.children.iter().zip(&s.witnessed) {
        let stale = c.last_seen_at.is_none_or(|t| now - t > chrono::Duration::minutes(10));
        let behind = directory.is_some_and(|d| c.directory_version.is_some_and(|v| v < d.version));
        children.push(ChildRow {
            name: c.request.name.clone(),
            id: c.request.id.to_string(),
            listed: directory.is_some_and(|d| d.node(&c.request.id).is_some()),
            directory: c.directory_version.map(|v| format!("第 {v} 版")).unwrap_or_else(|| "—".into()),
            last_delta: c.last_delta_at.map(beijing).unwrap_or_else(|| "尚未收到".into()),
            applied: if c.last_seq < 0 { "—".into() } else { c.last_seq.to_string() },
            checkpoint: checkpoint
                .as_ref()
                .map(|k| format!("序号 {}（{}）", k.seq, beijing(k.at)))
                .unwrap_or_else(|| "尚未收到".into()),
            seen: c.last_seen_at.map(beijing).unwrap_or_else(|| "从未".into()),
            skew: c.clock_skew_ms.map(|ms| format!("{:+.1} 秒", ms as f64 / 1000.0)).unwrap_or_else(|| "—".into()),
            lagging: stale || behind,
        });
    }
    let page = FederationPage {
        layout,
        feedback: Feedback::default(),
        federated: s.config.is_some(),
        node: s.config.as_ref().map(|c| format!("{}（{}）", c.name, c.id)).unwrap_or_default(),
        parent: s
            .config
            .as_ref()
            .and_then(|c| c.parent.as_ref())
            .map(|p| {
                let name = directory.and_then(|d| d.node(&p.id)).map(|n| n.name.clone()).unwrap_or_default();
                format!("{name}（{}）", p.id)
            })
            .unwrap_or_else(|| "无（本节点为国家级根节点）".into()),
        version: directory.map(|d| format!("第 {} 版", d.version)).unwrap_or_else(|| "尚未取得".into()),
        expires: directory.map(|d| beijing(d.expires_at)).unwrap_or_default(),
        state: s.freshness.map(Freshness::label).unwrap_or("尚未取得"),
        warn: s.freshness.is_some_and(|f| !matches!(f, Freshness::Valid { .. })),
        nodes: directory
            .map(|d| {
                d.nodes
                    .iter()
                    .map(|n| {
                        let parent = n
                            .parent
                            .as_ref()
                            .and_then(|p| d.node(p))
                            .map(|p| p.name.clone())
                            .unwrap_or_else(|| "—".into());
                        (n.name.clone(), n.id.level().label().to_owned(), parent)
                    })
                    .collect()
            })
            .unwrap_or_default(),
        outbox: match s.config.as_ref().filter(|c| c.parent.is_some()) {
            Some(c) => format!("已报送至序号 {}，待报送截至序号 {}", c.parent_acked.max(0), s.outbox_head.max(0)),
            None => "根节点不向上报送".into(),
        },
        last_error: s.last_sync.and_then(|l| l.error),
        children,
    };
    Ok(render(StatusCode::OK, &page))
}
