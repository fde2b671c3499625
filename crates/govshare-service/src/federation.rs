//! Federation (Art. 30–32): founding the national system (the root), admitting children, joining a parent,
//! the signed messages between nodes, the directory's relay and the catalog's deltas upward.
//!
//! Every message between nodes is a [`SignedMessage`] posted to the peer's `/federation/v1/messages`; the reply
//! is a signed message too, checked by the sender against the key it holds for the peer. A node keeps working
//! on its cached directory while its parent is unreachable, until the directory expires; [`Services::federation_sync`]
//! (run periodically by a job that backs off after failures) fetches the directory, forwards admissions and pushes
//! the outbox. Nothing here blocks a local use case on a remote node.

use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};
use govshare_domain::audit::AuditEvent;
use govshare_domain::catalog::{CatalogEntry, EntryId};
use govshare_domain::federation::{
    self as fed, AdmissionRequest, AnchorFile, CatalogDelta, ChildNode, DeltaBatch, Directory, FederatedEntry,
    Freshness, MessageRefusal, NodeConfig, NodeId, ParentLink, SignedDirectory, SignedMessage,
};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::search::{CatalogSearchResults, SearchRequest};
use crate::{Result, ServiceError, Services};

/// Message kinds.
pub const DIRECTORY_FETCH: &str = "directory.fetch";
pub const CATALOG_DELTAS: &str = "catalog.deltas";
pub const ADMIT: &str = "federation.admit";
pub const CATALOG_SEARCH: &str = "catalog.search";
pub const AUDIT_CHECKPOINT: &str = "audit.checkpoint";
pub const AUDIT_WITNESSED: &str = "audit.witnessed";
pub const PING: &str = "federation.ping";

/// The federation's timings.
#[derive(Debug, Clone)]
pub struct FederationSettings {
    /// How long a directory the root signs is valid.
    pub directory_validity: Duration,
    /// The root signs a renewal when less than this is left.
    pub renew_before: Duration,
    /// A node warns its admin when its directory has less than this left.
    pub warn_before: Duration,
    /// How far a message's time may be from the receiver's clock (and how long nonces are kept).
    pub max_skew: Duration,
    /// Deltas per message.
    pub batch: u32,
    /// How long a call to a peer may take.
    pub timeout: std::time::Duration,
}

impl Default for FederationSettings {
    fn default() -> Self {
        FederationSettings {
            directory_validity: Duration::days(7),
            renew_before: Duration::days(4),
            warn_before: Duration::days(2),
            max_skew: Duration::minutes(5),
            batch: 500,
            timeout: std::time::Duration::from_secs(20),
        }
    }
}

/// The federation's in-process state: the HTTP client and what the last sync saw.
#[derive(Debug, Default)]
pub(crate) struct FederationState {
    client: std::sync::OnceLock<reqwest::Client>,
    last: Mutex<Option<SyncOutcome>>,
    /// The sequence number of the newest checkpoint the parent witnessed, as far as this process knows.
    witnessed: std::sync::atomic::AtomicI64,
}

/// What one sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SyncOutcome {
    pub at: Option<DateTime<Utc>>,
    /// The directory version adopted by this run, if any.
    pub adopted: Option<u64>,
    pub admissions_forwarded: usize,
    pub deltas_sent: usize,
    /// The audit checkpoint the parent witnessed in this run, by sequence number.
    pub checkpoint_witnessed: Option<i64>,
    /// The parent's acknowledgement after this run.
    pub acked: Option<i64>,
    pub error: Option<String>,
}

/// This node's federation status, for the console, `federation status` and the readiness report.
#[derive(Debug, Clone, Serialize)]
pub struct FederationStatus {
    pub config: Option<NodeConfig>,
    pub directory: Option<Directory>,
    pub freshness: Option<Freshness>,
    pub outbox_head: i64,
    pub children: Vec<ChildNode>,
    /// The newest checkpoint witnessed for each child, in the order of `children`.
    pub witnessed: Vec<Option<govshare_domain::evidence::Checkpoint>>,
    pub last_sync: Option<SyncOutcome>,
}

/// The acknowledgement of a delta batch.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct DeltaAck {
    pub acked: i64,
}

/// A forwarded admission: the new node and the node it was admitted by.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Admission {
    request: AdmissionRequest,
    parent: NodeId,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct DirectoryRequest {
    held_version: Option<u64>,
}

/// What the CLI and tests see of the signed directory.
pub fn open_directory(signed: &SignedDirectory) -> Result<Directory> {
    serde_json::from_str(&signed.body).map_err(|e| ServiceError::Internal(Box::new(e)))
}

fn refused(refusal: MessageRefusal) -> ServiceError {
    ServiceError::unauthenticated(refusal.code(), format!("节点消息被拒绝：{refusal}"))
}

fn not_federated() -> ServiceError {
    ServiceError::NotFound("本节点尚未加入全国共享平台体系（federation found / join）".into())
}

fn internal(err: impl std::error::Error + Send + Sync + 'static) -> ServiceError {
    ServiceError::Internal(Box::new(err))
}

fn system_audit(action: &str, object: &str, detail: serde_json::Value) -> AuditEvent {
    AuditEvent::new("system:federation", None, action, "federation", object, detail)
}

impl Services {
    fn federation_settings(&self) -> &FederationSettings {
        &self.settings.federation
    }

    fn http(&self) -> &reqwest::Client {
        self.federation.client.get_or_init(|| {
            reqwest::Client::builder()
                .timeout(self.federation_settings().timeout)
                .build()
                .expect("an HTTP client without TLS options builds")
        })
    }

    /// The admission request this node's admin hands the parent's admin: who it is, where it listens and the
    /// public key it signs with.
    pub fn admission_request(&self, id: &str, name: &str, endpoint: &str) -> Result<AdmissionRequest> {
        let request = AdmissionRequest {
            id: NodeId::parse(id)?,
            name: name.trim().to_owned(),
            endpoint: endpoint.trim().to_owned(),
            sign_key: self.keys.public_key_hex(),
            tls_pin: None,
        };
        request.check()?;
        Ok(AdmissionRequest { endpoint: fed::parse_endpoint("endpoint", endpoint)?, ..request })
    }

    /// Founds the national system on this node: it becomes the root, its key the trust anchor, and it signs the
    /// first directory (itself alone).
    pub async fn found_federation(&self, name: &str, endpoint: &str) -> Result<NodeConfig> {
        let request = self.admission_request("national", name, endpoint)?;
        let now = self.now();
        let config = NodeConfig {
            id: NodeId::National,
            name: request.name.clone(),
            endpoint: request.endpoint.clone(),
            anchor_key: self.keys.public_key_hex(),
            parent: None,
            parent_acked: -1,
            joined_at: now,
        };
        let directory =
            Directory::founding(request.into_node(None, now), now, self.federation_settings().directory_validity);
        let signed = SignedDirectory::sign(&directory, |b| self.keys.sign(b));
        let audit = system_audit("federation.found", "national", json!({ "anchor_key": config.anchor_key }));
        self.store
            .save_federation_config(&config, Some((directory.version, directory.expires_at, &signed)), &audit)
            .await?;
        self.reindex_all().await;
        Ok(config)
    }

    /// Admits a child: records it, and on the root enters it in a newly signed directory (a lower node forwards
    /// the admission to its parent at its next sync). Returns the anchor file for the child's admin.
    pub async fn admit_node(&self, request: AdmissionRequest) -> Result<AnchorFile> {
        request.check()?;
        let config = self.store.federation_config().await?.ok_or_else(not_federated)?;
        if !config.id.may_parent(&request.id) {
            return Err(ServiceError::Forbidden(format!("节点 {} 不能作为节点 {} 的上级节点", config.id, request.id)));
        }
        if request.sign_key.trim().eq_ignore_ascii_case(&self.keys.public_key_hex()) {
            return Err(ServiceError::Conflict("下级节点不能使用本节点的签名密钥".into()));
        }
        let now = self.now();
        let audit = system_audit("federation.admit", &request.id.to_string(), json!({ "endpoint": request.endpoint }));
        self.store.admit_child(&request, now, &audit).await?;
        if config.parent.is_none() {
            self.enter_in_directory(request.clone(), config.id.clone()).await?;
        }
        Ok(AnchorFile {
            anchor_key: config.anchor_key.clone(),
            parent: ParentLink { id: config.id, endpoint: config.endpoint, sign_key: self.keys.public_key_hex() },
            directory: self.store.held_directory().await?,
            request,
        })
    }

    /// On the root: signs the next directory version with the node in it.
    async fn enter_in_directory(&self, request: AdmissionRequest, parent: NodeId) -> Result<SignedDirectory> {
        let held = self.store.held_directory().await?.ok_or_else(not_federated)?;
        let directory = open_directory(&held)?;
        let node = request.into_node(Some(parent), self.now());
        if directory.node(&node.id).is_some_and(|n| n.sign_key == node.sign_key && n.endpoint == node.endpoint) {
            return Ok(held);
        }
        let next = directory
            .admit(node.clone(), self.now(), self.federation_settings().directory_validity)
            .map_err(|e| ServiceError::Conflict(format!("无法纳入目录：{e}")))?;
        self.sign_and_adopt(&next, "federation.directory.admit", json!({ "node": node.id.to_string() })).await
    }

    async fn sign_and_adopt(
        &self,
        next: &Directory,
        action: &str,
        detail: serde_json::Value,
    ) -> Result<SignedDirectory> {
        let signed = SignedDirectory::sign(next, |b| self.keys.sign(b));
        let audit = system_audit(action, &format!("directory-v{}", next.version), detail);
        if !self.store.adopt_directory(next.version, next.expires_at, &signed, self.now(), &audit).await? {
            return Err(ServiceError::Conflict("目录已被另一实例同时更新，请重试".into()));
        }
        Ok(signed)
    }

    /// Joins the parent named by an anchor file: the file's request must be this node's own.
    pub async fn join_federation(&self, anchor: AnchorFile) -> Result<NodeConfig> {
        if !anchor.request.sign_key.eq_ignore_ascii_case(&self.keys.public_key_hex()) {
            return Err(ServiceError::Conflict(
                "锚定文件中的签名公钥不是本节点的公钥：该文件是为另一个节点签发的".into(),
            ));
        }
        fed::parse_public_key("anchor_key", &anchor.anchor_key)?;
        fed::parse_public_key("parent.sign_key", &anchor.parent.sign_key)?;
        let parent_endpoint = fed::parse_endpoint("parent.endpoint", &anchor.parent.endpoint)?;
        if !anchor.parent.id.may_parent(&anchor.request.id) {
            return Err(ServiceError::Forbidden(format!(
                "节点 {} 不能作为节点 {} 的上级节点",
                anchor.parent.id, anchor.request.id
            )));
        }
        let now = self.now();
        let adopted = match &anchor.directory {
            Some(offered) => {
                let directory = fed::accept(None, offered, &anchor.anchor_key, now)
                    .map_err(|e| ServiceError::Conflict(format!("锚定文件中的目录不可用：{e}")))?;
                directory.map(|d| (d.version, d.expires_at, offered))
            }
            None => None,
        };
        let config = NodeConfig {
            id: anchor.request.id.clone(),
            name: anchor.request.name.clone(),
            endpoint: anchor.request.endpoint.clone(),
            anchor_key: anchor.anchor_key.trim().to_ascii_lowercase(),
            parent: Some(ParentLink {
                id: anchor.parent.id.clone(),
                endpoint: parent_endpoint,
                sign_key: anchor.parent.sign_key.trim().to_ascii_lowercase(),
            }),
            parent_acked: -1,
            joined_at: now,
        };
        let audit =
            system_audit("federation.join", &config.id.to_string(), json!({ "parent": anchor.parent.id.to_string() }));
        self.store.save_federation_config(&config, adopted, &audit).await?;
        self.reindex_all().await;
        Ok(config)
    }

    /// This node's federation status, for the platform administrator.
    pub async fn federation_view(&self, principal: &govshare_domain::principal::Principal) -> Result<FederationStatus> {
        self.authorize(principal, govshare_domain::authz::Action::ManageOrganisations)?;
        self.federation_status().await
    }

    /// How the held directory stands now (None: none held); what the sync job warns on after every round.
    pub async fn directory_freshness(&self) -> Result<Option<Freshness>> {
        let held = self.store.held_directory().await?;
        Ok(held.map(|d| open_directory(&d)).transpose()?.map(|d| self.freshness_of(&d)))
    }

    fn freshness_of(&self, directory: &Directory) -> Freshness {
        Freshness::of(directory, self.now(), self.federation_settings().warn_before)
    }

    /// This node's federation status (the CLI, the console).
    pub async fn federation_status(&self) -> Result<FederationStatus> {
        let config = self.store.federation_config().await?;
        let directory = match self.store.held_directory().await? {
            Some(signed) => Some(open_directory(&signed)?),
            None => None,
        };
        let freshness = directory.as_ref().map(|d| self.freshness_of(d));
        let children = self.store.federation_children().await?;
        let mut witnessed = Vec::with_capacity(children.len());
        for c in &children {
            witnessed.push(self.store.witnessed_checkpoints(&c.request.id).await?.pop());
        }
        Ok(FederationStatus {
            config,
            directory,
            freshness,
            outbox_head: self.store.outbox_head().await?,
            children,
            witnessed,
            last_sync: self.federation.last.lock().map(|l| l.clone()).unwrap_or_default(),
        })
    }

    // ---- sending ----

    fn sign_message(&self, from: &NodeId, to: &NodeId, kind: &str, body: String) -> SignedMessage {
        let mut nonce = [0u8; 16];
        rand::thread_rng().fill_bytes(&mut nonce);
        let mut message = SignedMessage::unsigned(from.clone(), to.clone(), kind, self.now(), nonce, body);
        message.signature = self.keys.sign(&message.signed_bytes());
        message
    }

    /// Sends `body` to a peer and returns the body of its signed reply, checked against `peer_key`.
    async fn call<B: Serialize, R: serde::de::DeserializeOwned>(
        &self,
        me: &NodeId,
        peer: (&NodeId, &str, &str),
        kind: &str,
        body: &B,
    ) -> Result<R> {
        let (peer_id, endpoint, peer_key) = peer;
        let message = self.sign_message(me, peer_id, kind, serde_json::to_string(body).map_err(internal)?);
        let url = format!("{endpoint}/federation/v1/messages");
        let response = self
            .http()
            .post(&url)
            .json(&message)
            .send()
            .await
            .map_err(|e| ServiceError::Upstream(format!("节点 {peer_id}（{endpoint}）无法连接：{e}")))?;
        let status = response.status();
        let text =
            response.text().await.map_err(|e| ServiceError::Upstream(format!("节点 {peer_id} 的应答中断：{e}")))?;
        if !status.is_success() {
            let code = serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|v| v["error"]["code"].as_str().map(str::to_owned))
                .unwrap_or_default();
            return Err(ServiceError::Upstream(format!(
                "节点 {peer_id} 拒绝了消息（{status} {code}）：{}",
                text.chars().take(300).collect::<String>()
            )));
        }
        let reply: SignedMessage = serde_json::from_str(&text)
            .map_err(|e| ServiceError::Upstream(format!("节点 {peer_id} 的应答不是签名消息：{e}")))?;
        if &reply.from != peer_id {
            return Err(ServiceError::Upstream(format!("应答来自节点 {}，而非节点 {peer_id}", reply.from)));
        }
        reply
            .check_with_key(peer_key, me, &format!("{kind}.reply"), self.now(), self.federation_settings().max_skew)
            .map_err(|e| ServiceError::Upstream(format!("节点 {peer_id} 的应答不可信：{e}")))?;
        serde_json::from_str(&reply.body)
            .map_err(|e| ServiceError::Upstream(format!("节点 {peer_id} 的应答内容无法解析：{e}")))
    }

    /// One round of federation work: on the root, renew the directory before it runs low; on every other node,
    /// forward admissions, fetch the directory and push the outbox to the parent. Errors are returned (the job
    /// backs off) and kept for the status page.
    pub async fn federation_sync(&self) -> Result<SyncOutcome> {
        let result = self.sync_once().await;
        let outcome = match &result {
            Ok(outcome) => outcome.clone(),
            Err(err) => SyncOutcome { at: Some(self.now()), error: Some(err.to_string()), ..Default::default() },
        };
        if let Ok(mut last) = self.federation.last.lock() {
            *last = Some(outcome);
        }
        result
    }

    async fn sync_once(&self) -> Result<SyncOutcome> {
        let mut outcome = SyncOutcome { at: Some(self.now()), ..Default::default() };
        let Some(config) = self.store.federation_config().await? else {
            return Ok(outcome);
        };
        let settings = self.federation_settings().clone();
        let held = self.store.held_directory().await?;
        let Some(parent) = &config.parent else {
            // The root: renew before the directory runs low.
            if let Some(held) = held {
                let directory = open_directory(&held)?;
                if directory.expires_at - self.now() <= settings.renew_before {
                    let next = directory.renewed(self.now(), settings.directory_validity);
                    self.sign_and_adopt(&next, "federation.directory.renew", json!({})).await?;
                    outcome.adopted = Some(next.version);
                }
            }
            return Ok(outcome);
        };
        let peer = (&parent.id, parent.endpoint.as_str(), parent.sign_key.as_str());

        // Admissions this node made that the directory does not hold yet go up to the root.
        let directory = held.as_ref().map(open_directory).transpose()?;
        for child in self.store.federation_children().await? {
            let listed = directory.as_ref().and_then(|d| d.node(&child.request.id));
            if listed.is_some_and(|n| n.sign_key == child.request.sign_key && n.endpoint == child.request.endpoint) {
                continue;
            }
            let admission = Admission { request: child.request.clone(), parent: config.id.clone() };
            let _: SignedDirectory = self.call(&config.id, peer, ADMIT, &admission).await?;
            outcome.admissions_forwarded += 1;
        }

        // The directory, from the parent.
        let mut directory = directory;
        let held_version = directory.as_ref().map(|d| d.version);
        let offered: SignedDirectory =
            self.call(&config.id, peer, DIRECTORY_FETCH, &DirectoryRequest { held_version }).await?;
        if let Some(next) = fed::accept(held.as_ref(), &offered, &config.anchor_key, self.now())
            .map_err(|e| ServiceError::Upstream(format!("上级节点提供的目录不可用：{e}")))?
        {
            let audit = system_audit(
                "federation.directory.adopt",
                &format!("directory-v{}", next.version),
                json!({ "from": parent.id.to_string() }),
            );
            if self.store.adopt_directory(next.version, next.expires_at, &offered, self.now(), &audit).await? {
                outcome.adopted = Some(next.version);
            }
            // Adopted here or, at the same version, by another instance of this node.
            directory = Some(next);
        }

        // Until the root has signed this node into the directory, its parent cannot verify anything else it
        // sends: wait (the parent forwards the admission at its next sync).
        if directory.is_none_or(|d| d.node(&config.id).is_none()) {
            tracing::info!(node = %config.id, "not yet in the signed directory; waiting for the root to sign the admission");
            return Ok(outcome);
        }

        // The outbox, from the last acknowledged sequence number.
        let mut acked = config.parent_acked;
        loop {
            let rows = self.store.outbox_after(acked, settings.batch).await?;
            let Some(&(through, _, _)) = rows.last() else { break };
            let deltas = self.deltas(&config.id, &rows).await?;
            let batch = DeltaBatch { after: acked, through, deltas };
            let sent = batch.deltas.len();
            let ack: DeltaAck = self.call(&config.id, peer, CATALOG_DELTAS, &batch).await?;
            self.store.set_parent_acked(ack.acked).await?;
            outcome.deltas_sent += sent;
            if ack.acked <= acked {
                // The parent holds less than we thought (restored from a backup): resend from its cursor next
                // round, so one round never loops.
                acked = ack.acked;
                break;
            }
            acked = ack.acked;
        }
        outcome.acked = Some(acked);

        // The newest signed audit checkpoint, to the parent to witness.
        if let Some(log) = &self.checkpoints
            && let Some(newest) = log.newest()?
            && newest.seq > self.federation.witnessed.load(std::sync::atomic::Ordering::Relaxed)
        {
            let _: serde_json::Value = self.call(&config.id, peer, AUDIT_CHECKPOINT, &newest).await?;
            self.federation.witnessed.fetch_max(newest.seq, std::sync::atomic::Ordering::Relaxed);
            outcome.checkpoint_witnessed = Some(newest.seq);
        }
        Ok(outcome)
    }

    /// A call to this node's parent (refused on the root, which has none).
    async fn call_parent<B: Serialize, R: serde::de::DeserializeOwned>(
        &self,
        config: &NodeConfig,
        kind: &str,
        body: &B,
    ) -> Result<R> {
        let parent = config.parent.as_ref().ok_or_else(|| ServiceError::Conflict("根节点没有上级节点".into()))?;
        self.call(&config.id, (&parent.id, &parent.endpoint, &parent.sign_key), kind, body).await
    }

    /// A signed round trip to the parent (reachability, keys and clocks in order): the bench's measure of a
    /// message's cost.
    pub async fn ping_parent(&self) -> Result<()> {
        let config = self.store.federation_config().await?.ok_or_else(not_federated)?;
        let _: serde_json::Value = self.call_parent(&config, PING, &json!({})).await?;
        Ok(())
    }

    /// The checkpoints of this node's audit chain its parent witnessed (for `audit verify --witnessed`).
    pub async fn witnessed_by_parent(&self) -> Result<Vec<govshare_domain::evidence::Checkpoint>> {
        let config = self.store.federation_config().await?.ok_or_else(not_federated)?;
        self.call_parent(&config, AUDIT_WITNESSED, &json!({})).await
    }

    /// The deltas of outbox rows: the newest published version of each entry (own or delivered), numbered by
    /// the row's sequence number; an entry named twice is sent once, at its last number.
    async fn deltas(&self, me: &NodeId, rows: &[(i64, EntryId, bool)]) -> Result<Vec<CatalogDelta>> {
        // Each entry once, at its last sequence number (rows ascend).
        let last: std::collections::BTreeMap<EntryId, (i64, bool)> =
            rows.iter().map(|&(seq, entry, local)| (entry, (seq, local))).collect();
        let remote: Vec<EntryId> = last.iter().filter(|(_, (_, local))| !local).map(|(id, _)| *id).collect();
        let mut entries: Vec<(i64, FederatedEntry)> = Vec::new();
        for f in self.store.federated_entries(Some(&remote)).await? {
            entries.push((last[&f.id].0, f));
        }
        let mut orgs = std::collections::HashMap::new();
        for (&id, &(seq, local)) in &last {
            if !local {
                continue;
            }
            let entry = self.store.get_entry(id).await?;
            if let std::collections::hash_map::Entry::Vacant(slot) = orgs.entry(entry.provider) {
                slot.insert(self.store.get_org(entry.provider).await?);
            }
            if let Some(f) = federated_of(me, &entry, &orgs[&entry.provider]) {
                entries.push((seq, f));
            }
        }
        entries.sort_by_key(|(seq, e)| (*seq, e.id));
        Ok(entries.into_iter().map(|(seq, entry)| CatalogDelta { seq, entry }).collect())
    }

    // ---- receiving ----

    /// Handles a message posted to `/federation/v1/messages`: authenticates it (signature, recipient, time,
    /// nonce), records the sender's health, does what it asks and returns the signed reply. Every refusal is
    /// recorded in the audit log.
    pub async fn receive_message(&self, message: SignedMessage) -> Result<SignedMessage> {
        match self.receive_checked(&message).await {
            Ok(reply) => Ok(reply),
            Err(err) => {
                if matches!(err, ServiceError::Unauthenticated { .. } | ServiceError::Forbidden(_)) {
                    let audit = system_audit(
                        "federation.refused",
                        &message.from.to_string(),
                        json!({ "kind": message.kind, "code": err.code(), "reason": err.to_string() }),
                    );
                    if let Err(e) = self.store.append_audit(&audit).await {
                        tracing::warn!(error = %e, "recording a refused federation message failed");
                    }
                }
                Err(err)
            }
        }
    }

    async fn receive_checked(&self, message: &SignedMessage) -> Result<SignedMessage> {
        let config = self.store.federation_config().await?.ok_or_else(not_federated)?;
        let held = self.store.held_directory().await?.ok_or_else(not_federated)?;
        let directory = open_directory(&held)?;
        let now = self.now();
        let settings = self.federation_settings();
        let children = self.store.federation_children().await?;
        let child = children.iter().find(|c| c.request.id == message.from);
        match message.check(&directory, &config.id, &message.kind, now, settings.max_skew) {
            Ok(_) => {}
            // A child admitted here but not yet in the directory may fetch it and forward nothing else.
            Err(MessageRefusal::UnknownSender(_)) if child.is_some() && message.kind == DIRECTORY_FETCH => {
                let key = &child.expect("matched").request.sign_key;
                message.check_with_key(key, &config.id, DIRECTORY_FETCH, now, settings.max_skew).map_err(refused)?;
            }
            Err(refusal) => return Err(refused(refusal)),
        }
        if !self.store.use_nonce(&message.from, &message.nonce, now, now - settings.max_skew * 2).await? {
            return Err(refused(MessageRefusal::Replayed(message.from.clone())));
        }
        let body = |e: serde_json::Error| refused(MessageRefusal::Malformed(e.to_string()));
        let fetch: Option<DirectoryRequest> = if message.kind == DIRECTORY_FETCH {
            Some(serde_json::from_str(&message.body).map_err(body)?)
        } else {
            None
        };
        // Every authenticated message from a child is news of its health (a fetch also says which directory it holds).
        if child.is_some() {
            let skew = (message.at - now).num_milliseconds();
            let held_version = fetch.as_ref().and_then(|f| f.held_version);
            self.store.child_seen(&message.from, now, held_version, skew).await?;
        }
        let require_child =
            || child.ok_or_else(|| ServiceError::Forbidden(format!("节点 {} 不是本节点的下级节点", message.from)));
        let reply = match message.kind.as_str() {
            DIRECTORY_FETCH => serde_json::to_string(&held).map_err(internal)?,
            CATALOG_DELTAS => {
                require_child()?;
                let batch: DeltaBatch = serde_json::from_str(&message.body).map_err(body)?;
                batch.check(&directory, &message.from).map_err(refused)?;
                let acked = self.apply_batch(&message.from, &batch).await?;
                serde_json::to_string(&DeltaAck { acked }).map_err(internal)?
            }
            ADMIT => {
                let admission: Admission = serde_json::from_str(&message.body).map_err(body)?;
                admission.request.check()?;
                // The sender must be the new node's parent, or lie between this node and it.
                if !directory.is_within(&admission.parent, &message.from)
                    || !admission.parent.may_parent(&admission.request.id)
                {
                    return Err(ServiceError::Forbidden(format!(
                        "节点 {} 无权为节点 {} 办理纳入",
                        message.from, admission.request.id
                    )));
                }
                let signed = match &config.parent {
                    None => self.enter_in_directory(admission.request, admission.parent).await?,
                    Some(_) => self.call_parent(&config, ADMIT, &admission).await?,
                };
                serde_json::to_string(&signed).map_err(internal)?
            }
            AUDIT_CHECKPOINT => {
                let child = require_child()?;
                let checkpoint: govshare_domain::evidence::Checkpoint =
                    serde_json::from_str(&message.body).map_err(body)?;
                let key = directory.node(&message.from).map(|n| n.sign_key.as_str()).unwrap_or_default();
                if !checkpoint.public_key.eq_ignore_ascii_case(key) || !checkpoint.signature_valid() {
                    return Err(refused(MessageRefusal::Malformed(
                        "the checkpoint is not signed with the sender's key".into(),
                    )));
                }
                match self.store.witness_checkpoint(&child.request.id, &checkpoint, now).await {
                    Ok(new) => json!({ "witnessed": new, "seq": checkpoint.seq }).to_string(),
                    Err(govshare_store::StoreError::Conflict(reason)) => {
                        // The child signed two different heads at one sequence number: its chain was rewritten.
                        let audit = system_audit(
                            "federation.checkpoint.conflict",
                            &message.from.to_string(),
                            json!({ "seq": checkpoint.seq, "hash": hex::encode(checkpoint.hash), "reason": reason }),
                        );
                        self.store.append_audit(&audit).await?;
                        tracing::error!(child = %message.from, seq = checkpoint.seq, "a child's audit checkpoint contradicts the one witnessed");
                        return Err(ServiceError::Conflict(reason));
                    }
                    Err(err) => return Err(err.into()),
                }
            }
            AUDIT_WITNESSED => {
                let child = require_child()?;
                serde_json::to_string(&self.store.witnessed_checkpoints(&child.request.id).await?).map_err(internal)?
            }
            PING => "{}".to_owned(),
            CATALOG_SEARCH => {
                let request: SearchRequest = serde_json::from_str(&message.body).map_err(body)?;
                let results = self.search_index(&request).await?;
                serde_json::to_string(&results).map_err(internal)?
            }
            other => return Err(refused(MessageRefusal::Malformed(format!("unknown message kind {other}")))),
        };
        Ok(self.sign_message(&config.id, &message.from, &format!("{}.reply", message.kind), reply))
    }

    async fn apply_batch(&self, child: &NodeId, batch: &DeltaBatch) -> Result<i64> {
        // Only the batch's entries are looked up (the root holds the whole national catalog).
        let ids: Vec<EntryId> = batch.deltas.iter().map(|d| d.entry.id).collect();
        let held: std::collections::BTreeMap<EntryId, u32> =
            self.store.federated_versions(Some(&ids)).await?.into_iter().collect();
        let newer: Vec<FederatedEntry> = fed::newer_entries(&held, &batch.deltas).into_iter().cloned().collect();
        let audit = system_audit(
            "federation.deltas",
            &child.to_string(),
            json!({ "after": batch.after, "through": batch.through, "deltas": batch.deltas.len(), "applied": newer.len() }),
        );
        let acked = self.store.apply_deltas(child, batch.after, batch.through, &newer, self.now(), &audit).await?;
        if !newer.is_empty() {
            self.index_federated(&newer).await;
        }
        Ok(acked)
    }

    /// Forwards a search of the national catalog to the root, which holds every node's entries; None on the
    /// root itself and on a node not federated (its own index answers).
    pub(crate) async fn forward_search(&self, req: &SearchRequest) -> Result<Option<CatalogSearchResults>> {
        let Some(config) = self.store.federation_config().await? else { return Ok(None) };
        if config.parent.is_none() {
            return Ok(None);
        }
        let held = self.store.held_directory().await?.ok_or_else(not_federated)?;
        let directory = open_directory(&held)?;
        if directory.expires_at <= self.now() {
            return Err(ServiceError::Upstream("本节点持有的节点目录已过期，暂不能检索全国目录".into()));
        }
        let root = directory.root().ok_or_else(not_federated)?;
        let results = self.call(&config.id, (&root.id, &root.endpoint, &root.sign_key), CATALOG_SEARCH, req).await?;
        Ok(Some(results))
    }
}

/// The federated form of a local entry's newest published version.
pub fn federated_of(
    me: &NodeId,
    entry: &CatalogEntry,
    provider: &govshare_domain::org::Organisation,
) -> Option<FederatedEntry> {
    let published = entry.published()?;
    Some(FederatedEntry {
        id: entry.id,
        origin: me.clone(),
        version: published.version,
        provider: provider.id,
        provider_name: provider.name.clone(),
        provider_region: provider.region,
        content: published.content.clone(),
        published_at: published.updated_at,
    })
}
