//! Catalog search (R-CAT-5): the in-memory index, kept in step with the store, and faceted queries over it.
//!
//! The store is the truth; the index a projection of its published versions. Three paths keep them in step:
//! the first search of a process builds the index from the store; every publication indexes the entry at once
//! (read-your-writes for the people who just published); and [`Services::sync_search_index`], run periodically by
//! a background job, reconciles the versions the index holds with those the store says are published, which
//! catches publications made through other instances and anything a failed index update missed.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use govshare_domain::ValidationError;
use govshare_domain::authz::Action;
use govshare_domain::catalog::{CatalogEntry, DataFormat, DeliveryMethod, EntryId, SharingAttribute};
use govshare_domain::federation::NodeId;
use govshare_domain::org::{OrgId, Organisation};
use govshare_domain::principal::Principal;
use govshare_domain::region::RegionCode;
use govshare_search::{CatalogIndex, Dimension, SearchDoc, SearchQuery, grade_key};
use serde::{Deserialize, Serialize};

use crate::{Result, ServiceError, Services};

/// A catalog search as a caller states it: free text plus optional facet values (codes or Chinese labels).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SearchRequest {
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub provider: String,
    #[serde(default)]
    pub attribute: String,
    /// `{class}-{level}`, e.g. `一般数据-3`.
    #[serde(default)]
    pub grade: String,
    #[serde(default)]
    pub format: String,
    #[serde(default)]
    pub delivery: String,
    #[serde(default)]
    pub region: String,
    /// The owning node, in a federated catalog (`city-330300` …).
    #[serde(default)]
    pub node: String,
    /// `national`: the national catalog (answered by the root); otherwise this node's index.
    #[serde(default)]
    pub scope: String,
    #[serde(default)]
    pub offset: usize,
    #[serde(default)]
    pub limit: Option<usize>,
}

/// One value of a facet, with a label for people.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FacetValue {
    pub value: String,
    pub label: String,
    pub count: u64,
    /// Whether the request filters on this value.
    pub selected: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Facet {
    pub dimension: Dimension,
    pub label: String,
    pub values: Vec<FacetValue>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CatalogSearchResults {
    pub total: usize,
    pub offset: usize,
    pub limit: usize,
    pub hits: Vec<SearchDoc>,
    pub facets: Vec<Facet>,
}

/// What a reconciliation did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncReport {
    pub indexed: usize,
    pub removed: usize,
    pub total: usize,
}

fn internal(err: impl std::error::Error + Send + Sync + 'static) -> ServiceError {
    ServiceError::Internal(Box::new(err))
}

pub(crate) fn new_index() -> Arc<CatalogIndex> {
    // Creating an in-memory index only fails if the process cannot spawn the indexing thread.
    Arc::new(CatalogIndex::in_memory().expect("an in-memory search index can be created"))
}

impl Services {
    fn search_docs(entries: &[CatalogEntry], orgs: &[Organisation], node: Option<&NodeId>) -> Vec<SearchDoc> {
        let by_id: HashMap<OrgId, &Organisation> = orgs.iter().map(|o| (o.id, o)).collect();
        entries
            .iter()
            .filter_map(|e| SearchDoc::of(e, by_id.get(&e.provider)?))
            .map(|d| SearchDoc { node: node.cloned(), ..d })
            .collect()
    }

    /// This node's id in the national system, once founded or joined.
    pub async fn own_node(&self) -> Result<Option<NodeId>> {
        Ok(self.store.federation_config().await?.map(|c| c.id))
    }

    /// Brings the index in step with the store's published versions and the entries other nodes delivered.
    pub async fn sync_search_index(&self) -> Result<SyncReport> {
        let local: HashMap<EntryId, u32> = self.store.published_versions().await?.into_iter().collect();
        let remote: HashMap<EntryId, u32> = self.store.federated_versions(None).await?.into_iter().collect();
        let held = self.search.versions().map_err(internal)?;
        let stale_local: HashSet<EntryId> =
            local.iter().filter(|(id, v)| held.get(id) != Some(v)).map(|(id, _)| *id).collect();
        let stale_remote: Vec<EntryId> = remote
            .iter()
            .filter(|(id, v)| !local.contains_key(id) && held.get(id) != Some(v))
            .map(|(id, _)| *id)
            .collect();
        let removed: Vec<EntryId> =
            held.keys().filter(|id| !local.contains_key(id) && !remote.contains_key(id)).copied().collect();
        if stale_local.is_empty() && stale_remote.is_empty() && removed.is_empty() {
            return Ok(SyncReport { total: held.len(), ..Default::default() });
        }
        let orgs = self.store.list_orgs().await?;
        // Many changes (a fresh process): one pass over the catalog beats one read per entry.
        let entries = if stale_local.len() > 64 {
            let mut all = self.store.list_entries(None).await?;
            all.retain(|e| stale_local.contains(&e.id));
            all
        } else {
            let mut some = Vec::with_capacity(stale_local.len());
            for id in &stale_local {
                some.push(self.store.get_entry(*id).await?);
            }
            some
        };
        let mut docs = Self::search_docs(&entries, &orgs, self.own_node().await?.as_ref());
        if !stale_remote.is_empty() {
            docs.extend(self.store.federated_entries(Some(&stale_remote)).await?.iter().map(SearchDoc::federated));
        }
        let report =
            SyncReport { indexed: docs.len(), removed: removed.len(), total: local.len() + stale_remote.len() };
        let index = self.search.clone();
        tokio::task::spawn_blocking(move || index.apply(&docs, &removed)).await.map_err(internal)?.map_err(internal)?;
        if report.indexed + report.removed > 0 {
            tracing::info!(
                indexed = report.indexed,
                removed = report.removed,
                total = report.total,
                "search index synced"
            );
        }
        Ok(report)
    }

    /// Rebuilds the whole index (after this node founds or joins a federation, its own entries gain their node).
    pub(crate) async fn reindex_all(&self) {
        let result = async {
            let orgs = self.store.list_orgs().await?;
            let entries = self.store.list_entries(None).await?;
            let mut docs = Self::search_docs(&entries, &orgs, self.own_node().await?.as_ref());
            docs.extend(self.store.federated_entries(None).await?.iter().map(SearchDoc::federated));
            let index = self.search.clone();
            tokio::task::spawn_blocking(move || index.rebuild(docs)).await.map_err(internal)?.map_err(internal)?;
            Ok::<_, ServiceError>(())
        }
        .await;
        if let Err(err) = result {
            tracing::warn!(error = %err, "rebuilding the search index failed; the periodic sync will retry");
        }
    }

    /// Indexes entries other nodes delivered (logged on failure; the periodic sync catches up).
    pub(crate) async fn index_federated(&self, entries: &[govshare_domain::federation::FederatedEntry]) {
        let docs: Vec<SearchDoc> = entries.iter().map(SearchDoc::federated).collect();
        let index = self.search.clone();
        let result = tokio::task::spawn_blocking(move || index.apply(&docs, &[])).await;
        if !matches!(result, Ok(Ok(()))) {
            tracing::warn!("indexing delivered entries failed; the periodic sync will retry");
        }
    }

    /// Indexes a just-published entry. A failure here is logged, not returned: the publication itself is
    /// durable, and the next reconciliation indexes it.
    pub(crate) async fn index_published(&self, entry: &CatalogEntry) {
        let result = async {
            let provider = self.store.get_org(entry.provider).await?;
            let node = self.own_node().await?;
            if let Some(doc) = SearchDoc::of(entry, &provider).map(|d| SearchDoc { node, ..d }) {
                let index = self.search.clone();
                tokio::task::spawn_blocking(move || index.apply(&[doc], &[]))
                    .await
                    .map_err(internal)?
                    .map_err(internal)?;
            }
            Ok::<_, ServiceError>(())
        }
        .await;
        if let Err(err) = result {
            tracing::warn!(entry = %entry.id, error = %err, "indexing a published entry failed; the periodic sync will retry");
        }
    }

    pub(crate) async fn ensure_index(&self) -> Result<()> {
        self.search_ready.get_or_try_init(|| async { self.sync_search_index().await.map(|_| ()) }).await?;
        Ok(())
    }

    fn filters(&self, req: &SearchRequest) -> Result<BTreeMap<Dimension, String>> {
        let mut filters = BTreeMap::new();
        let mut put = |dimension: Dimension, value: String| {
            filters.insert(dimension, value);
        };
        if !req.provider.trim().is_empty() {
            let id = uuid::Uuid::parse_str(req.provider.trim())
                .map_err(|_| ValidationError::new("provider", "uuid", "提供部门应为单位标识（UUID）"))?;
            put(Dimension::Provider, id.to_string());
        }
        if !req.attribute.trim().is_empty() {
            put(Dimension::Attribute, SharingAttribute::parse("attribute", &req.attribute)?.code().to_owned());
        }
        if !req.format.trim().is_empty() {
            put(Dimension::Format, DataFormat::parse("format", &req.format)?.code().to_owned());
        }
        if !req.delivery.trim().is_empty() {
            put(Dimension::Delivery, DeliveryMethod::parse("delivery", &req.delivery)?.code().to_owned());
        }
        if !req.region.trim().is_empty() {
            put(Dimension::Region, RegionCode::parse(&req.region).map_err(|e| e.for_field("region"))?.to_string());
        }
        if !req.node.trim().is_empty() {
            put(Dimension::Node, NodeId::parse(&req.node)?.to_string());
        }
        if !req.grade.trim().is_empty() {
            let (class, level) =
                req.grade.trim().rsplit_once('-').and_then(|(c, l)| Some((c, l.parse::<u8>().ok()?))).ok_or_else(
                    || ValidationError::new("grade", "format", "分级应写作「分类-级别」，如「一般数据-3」"),
                )?;
            let grade = self.settings.grade_scheme.parse("grade", class, level)?;
            put(Dimension::Grade, grade_key(&grade.class, grade.level));
        }
        Ok(filters)
    }

    /// Searches the published catalog (everyone who may see the directory may search it): this node's index,
    /// or with `scope=national` on a federated node below the root, the national catalog the root holds.
    pub async fn search_catalog(&self, principal: &Principal, req: &SearchRequest) -> Result<CatalogSearchResults> {
        self.authorize(principal, Action::ViewDirectory)?;
        match req.scope.trim() {
            "" | "local" => self.search_index(req).await,
            "national" => {
                self.check_search(req)?;
                match self.forward_search(req).await? {
                    Some(results) => Ok(results),
                    None => self.search_index(req).await,
                }
            }
            _ => Err(ValidationError::new("scope", "one_of", "检索范围应为 local（本节点）或 national（全国）").into()),
        }
    }

    /// The checks of a search request, before it is answered here or forwarded.
    pub(crate) fn check_search(&self, req: &SearchRequest) -> Result<()> {
        if req.q.chars().count() > 200 {
            return Err(ValidationError::new("q", "max_length", "检索词不能超过 200 个字符").into());
        }
        let limit = req.limit.unwrap_or(20);
        if !(1..=200).contains(&limit) {
            return Err(ValidationError::new("limit", "range", "每页条数应在 1 到 200 之间").into());
        }
        if req.offset > 10_000 {
            return Err(ValidationError::new("offset", "range", "偏移量不能超过 10000，请缩小检索范围").into());
        }
        self.filters(req)?;
        Ok(())
    }

    /// Answers a search from this node's index (the caller is authorised: a person here, or a node of the
    /// federation whose signed message was verified).
    pub(crate) async fn search_index(&self, req: &SearchRequest) -> Result<CatalogSearchResults> {
        self.check_search(req)?;
        let limit = req.limit.unwrap_or(20);
        let filters = self.filters(req)?;
        self.ensure_index().await?;
        let query = SearchQuery { text: req.q.trim().to_owned(), filters: filters.clone(), offset: req.offset, limit };
        let found = self.search.search(&query).map_err(internal)?;

        let orgs = self.store.list_orgs().await?;
        let regions = self.store.list_regions().await?;
        let nodes = match self.store.held_directory().await? {
            Some(signed) => crate::federation::open_directory(&signed)?.nodes,
            None => Vec::new(),
        };
        let label = |dimension: Dimension, value: &str| -> String {
            let known = match dimension {
                Dimension::Provider => {
                    orgs.iter().find(|o| o.id.to_string() == value).map(|o| o.name.clone()).or_else(|| {
                        found.hits.iter().find(|h| h.provider.to_string() == value).map(|h| h.provider_name.clone())
                    })
                }
                Dimension::Node => nodes.iter().find(|n| n.id.to_string() == value).map(|n| n.name.clone()),
                Dimension::Region => regions.iter().find(|r| r.code.to_string() == value).map(|r| r.name.clone()),
                Dimension::Attribute => SharingAttribute::parse("", value).ok().map(|a| a.label().to_owned()),
                Dimension::Format => DataFormat::parse("", value).ok().map(|a| a.label().to_owned()),
                Dimension::Delivery => DeliveryMethod::parse("", value).ok().map(|a| a.label().to_owned()),
                Dimension::Grade => value.rsplit_once('-').map(|(c, l)| format!("{c} · {l} 级")),
            };
            known.unwrap_or_else(|| value.to_owned())
        };
        let facets = found
            .facets
            .iter()
            .map(|(dimension, counts)| Facet {
                dimension: *dimension,
                label: dimension.label().to_owned(),
                values: counts
                    .iter()
                    .map(|c| FacetValue {
                        label: label(*dimension, &c.value),
                        selected: filters.get(dimension) == Some(&c.value),
                        value: c.value.clone(),
                        count: c.count,
                    })
                    .collect(),
            })
            .collect();
        Ok(CatalogSearchResults { total: found.total, offset: req.offset, limit, hits: found.hits, facets })
    }
}
