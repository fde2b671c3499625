//! Federation (Art. 30–32, R-FED-1): the nodes of the national system, the directory that names them, the
//! signed messages they exchange and the catalog deltas that flow upward.
//!
//! - **Node identity**: a [`NodeId`] is the national node, a region's node (its level follows from the GB/T 2260
//!   code: province, city, county) or a State Council department's node (`ministry-…`). [`NodeId::may_parent`] is
//!   the one rule of who may admit whom: the national node admits provinces and ministries, a province its cities
//!   (and counties it administers directly), a city its counties.
//! - **The directory** ([`Directory`]): every node with its parent, endpoint and keys, versioned and expiring,
//!   signed by the root (national) node. [`SignedDirectory`] carries the signed bytes as they were signed: a
//!   receiver verifies the signature over those bytes first and only then parses them, so no canonical form has to
//!   be agreed. [`accept`] is the one decision a node makes about a directory it is offered (newer, signed by the
//!   trust anchor, well-formed, not expired); [`Freshness`] says when to warn before expiry.
//! - **Messages** ([`SignedMessage`]): every body between nodes is signed with the sender's SM2 key over
//!   sender, recipient, kind, time, a random nonce and the SM3 digest of the body; [`SignedMessage::check`]
//!   refuses a message for another node, from a node the directory does not name, with a bad signature, or too
//!   far from the receiver's clock. Replay of a nonce within the window is refused by the receiver's nonce store.
//! - **Catalog deltas** ([`CatalogDelta`]): the newest published version of an entry, with the node that owns it,
//!   numbered by the sending node's outbox sequence. A receiver keeps the highest version of each entry, so
//!   deliveries are idempotent and may arrive more than once.
//!
//! Pure: no IO, no clock; every time is passed in.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use sm3::{Digest, Sm3};

use crate::ValidationError;
use crate::catalog::{EntryContent, EntryId};
use crate::org::OrgId;
use crate::region::{RegionCode, RegionLevel};

// ---- node identity ----

/// The level of a node in the national system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeLevel {
    National,
    Ministry,
    Province,
    City,
    County,
}

impl NodeLevel {
    pub fn key(self) -> &'static str {
        match self {
            NodeLevel::National => "national",
            NodeLevel::Ministry => "ministry",
            NodeLevel::Province => "province",
            NodeLevel::City => "city",
            NodeLevel::County => "county",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            NodeLevel::National => "国家级",
            NodeLevel::Ministry => "国务院部门",
            NodeLevel::Province => "省级",
            NodeLevel::City => "市级",
            NodeLevel::County => "县级",
        }
    }
}

/// A node of the national system: `national`, `province-330000`, `city-330300`, `county-330302` or
/// `ministry-<code>` (a State Council department's code, 2 to 16 capital letters or digits).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum NodeId {
    National,
    Region(RegionCode),
    Ministry(String),
}

impl NodeId {
    pub fn parse(input: &str) -> Result<NodeId, ValidationError> {
        let raw = input.trim();
        let bad = |message: String| ValidationError::new("node_id", "format", message);
        if raw == "national" {
            return Ok(NodeId::National);
        }
        let Some((level, code)) = raw.split_once('-') else {
            return Err(bad(format!(
                "节点标识应写作「national」「province-330000」「city-330300」「county-330302」或「ministry-部门代码」，收到「{raw}」"
            )));
        };
        match level {
            "ministry" => {
                if !(2..=16).contains(&code.len())
                    || !code.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
                {
                    return Err(bad(format!("国务院部门代码应为 2 到 16 位大写字母或数字，收到「{code}」")));
                }
                Ok(NodeId::Ministry(code.to_owned()))
            }
            "province" | "city" | "county" => {
                let region = RegionCode::parse(code).map_err(|e| e.for_field("node_id"))?;
                let expected = match region.level() {
                    RegionLevel::Province => "province",
                    RegionLevel::City => "city",
                    RegionLevel::County => "county",
                };
                if expected != level {
                    return Err(ValidationError::new(
                        "node_id",
                        "level_mismatch",
                        format!("行政区划代码 {region} 是{}代码，节点层级应写作「{expected}」", region.level().label()),
                    ));
                }
                Ok(NodeId::Region(region))
            }
            other => Err(bad(format!("未知的节点层级「{other}」，应为 province、city、county 或 ministry"))),
        }
    }

    pub fn level(&self) -> NodeLevel {
        match self {
            NodeId::National => NodeLevel::National,
            NodeId::Ministry(_) => NodeLevel::Ministry,
            NodeId::Region(r) => match r.level() {
                RegionLevel::Province => NodeLevel::Province,
                RegionLevel::City => NodeLevel::City,
                RegionLevel::County => NodeLevel::County,
            },
        }
    }

    pub fn region(&self) -> Option<RegionCode> {
        match self {
            NodeId::Region(r) => Some(*r),
            _ => None,
        }
    }

    /// Whether this node may be `child`'s parent: the national node admits provinces and ministries; a
    /// province its cities and the counties it administers directly; a city its counties.
    pub fn may_parent(&self, child: &NodeId) -> bool {
        match (self, child) {
            (NodeId::National, NodeId::Ministry(_)) => true,
            (NodeId::National, NodeId::Region(r)) => r.level() == RegionLevel::Province,
            (NodeId::Region(p), NodeId::Region(c)) => match (p.level(), c.level()) {
                (RegionLevel::Province, RegionLevel::City | RegionLevel::County) => p.contains(*c),
                (RegionLevel::City, RegionLevel::County) => p.contains(*c),
                _ => false,
            },
            _ => false,
        }
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NodeId::National => f.write_str("national"),
            NodeId::Ministry(code) => write!(f, "ministry-{code}"),
            NodeId::Region(r) => write!(f, "{}-{r}", self.level().key()),
        }
    }
}

impl TryFrom<String> for NodeId {
    type Error = ValidationError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        NodeId::parse(&value)
    }
}

impl From<NodeId> for String {
    fn from(value: NodeId) -> String {
        value.to_string()
    }
}

impl std::str::FromStr for NodeId {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        NodeId::parse(s)
    }
}

/// Checks an endpoint: an `http://` or `https://` URL of a host and optional port, without path, query or
/// credentials; returned without a trailing slash.
pub fn parse_endpoint(field: &'static str, raw: &str) -> Result<String, ValidationError> {
    let raw = raw.trim().trim_end_matches('/');
    let bad = || {
        ValidationError::new(field, "url", format!("节点地址应为「https://主机:端口」形式，不含路径，收到「{raw}」"))
    };
    let rest = raw.strip_prefix("https://").or_else(|| raw.strip_prefix("http://")).ok_or_else(bad)?;
    if rest.is_empty()
        || rest.len() > 253
        || !rest.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
    {
        return Err(bad());
    }
    if let Some((_, port)) = rest.rsplit_once(':')
        && !rest.ends_with(']')
        && port.parse::<u16>().is_err()
    {
        return Err(bad());
    }
    Ok(raw.to_owned())
}

/// Checks an SM2 public key: uncompressed SEC1, hex.
pub fn parse_public_key(field: &'static str, raw: &str) -> Result<String, ValidationError> {
    let raw = raw.trim().to_ascii_lowercase();
    let ok = hex::decode(&raw)
        .ok()
        .is_some_and(|bytes| sm2::dsa::VerifyingKey::from_sec1_bytes(crate::evidence::SM2_DISTID, &bytes).is_ok());
    if !ok {
        return Err(ValidationError::new(field, "sm2_public_key", "SM2 公钥应为十六进制的未压缩 SEC1 编码"));
    }
    Ok(raw)
}

// ---- this node's place ----

/// The parent a node was admitted by, as the anchor file named it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParentLink {
    pub id: NodeId,
    pub endpoint: String,
    pub sign_key: String,
}

/// This node's place in the national system, once it founded it (the root) or joined a parent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeConfig {
    pub id: NodeId,
    pub name: String,
    pub endpoint: String,
    /// The root's SM2 public key: every directory must be signed with it.
    pub anchor_key: String,
    /// None on the root.
    pub parent: Option<ParentLink>,
    /// The highest outbox sequence number the parent acknowledged (-1: nothing yet).
    pub parent_acked: i64,
    pub joined_at: DateTime<Utc>,
}

/// What a parent's admin hands the admin of a node it admitted: the trust anchor, the parent, and the
/// directory as the parent holds it (the child appears in it once the root has signed its admission).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnchorFile {
    /// The admitted node, as it asked to be admitted.
    pub request: AdmissionRequest,
    pub anchor_key: String,
    pub parent: ParentLink,
    pub directory: Option<SignedDirectory>,
}

/// A child as its parent knows it: what it was admitted with and what the parent last heard from it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChildNode {
    pub request: AdmissionRequest,
    pub admitted_at: DateTime<Utc>,
    /// The highest of its outbox sequence numbers whose deltas are applied here (-1: none yet).
    pub last_seq: i64,
    pub last_delta_at: Option<DateTime<Utc>>,
    pub last_seen_at: Option<DateTime<Utc>>,
    /// The directory version it held at its last message.
    pub directory_version: Option<u64>,
    /// Its clock minus this node's at its last message, in milliseconds.
    pub clock_skew_ms: Option<i64>,
}

// ---- the directory ----

/// One node as the directory names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryNode {
    pub id: NodeId,
    pub name: String,
    /// None for the root only.
    pub parent: Option<NodeId>,
    /// Where the node's federation endpoint listens (`https://host:port`).
    pub endpoint: String,
    /// The node's SM2 public key (uncompressed SEC1, hex): every message it sends is signed with it.
    pub sign_key: String,
    /// SHA-256 of the node's TLS certificate (DER, hex), when it serves TLS: the pin its peers hold it to.
    #[serde(default)]
    pub tls_pin: Option<String>,
    pub admitted_at: DateTime<Utc>,
}

/// What a node asks to be admitted with (the request file one admin hands the other).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdmissionRequest {
    pub id: NodeId,
    pub name: String,
    pub endpoint: String,
    pub sign_key: String,
    #[serde(default)]
    pub tls_pin: Option<String>,
}

impl AdmissionRequest {
    /// Checks every field; all problems at once.
    pub fn check(&self) -> Result<(), Vec<ValidationError>> {
        let mut problems = Vec::new();
        if self.name.trim().is_empty() || self.name.chars().count() > 100 {
            problems.push(ValidationError::new("name", "length", "节点名称应为 1 到 100 个字符"));
        }
        if let Err(e) = crate::error::check_characters("name", &self.name) {
            problems.push(e);
        }
        if let Err(e) = parse_endpoint("endpoint", &self.endpoint) {
            problems.push(e);
        }
        if let Err(e) = parse_public_key("sign_key", &self.sign_key) {
            problems.push(e);
        }
        if let Some(pin) = &self.tls_pin
            && (pin.len() != 64 || !pin.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            problems.push(ValidationError::new("tls_pin", "sha256_hex", "TLS 证书指纹应为 64 位十六进制 SHA-256"));
        }
        if problems.is_empty() { Ok(()) } else { Err(problems) }
    }

    pub fn into_node(self, parent: Option<NodeId>, at: DateTime<Utc>) -> DirectoryNode {
        DirectoryNode {
            endpoint: parse_endpoint("endpoint", &self.endpoint).unwrap_or(self.endpoint),
            sign_key: self.sign_key.trim().to_ascii_lowercase(),
            id: self.id,
            name: self.name.trim().to_owned(),
            parent,
            tls_pin: self.tls_pin.map(|p| p.to_ascii_lowercase()),
            admitted_at: at,
        }
    }
}

/// The national system's directory: every node, its parent, endpoint and keys, as the root signed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Directory {
    /// Grows by one with every change the root signs.
    pub version: u64,
    pub issued_at: DateTime<Utc>,
    /// After this instant no node trusts this version: its holder must have fetched a newer one.
    pub expires_at: DateTime<Utc>,
    /// Sorted by id.
    pub nodes: Vec<DirectoryNode>,
}

/// Why an admission or a directory change is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdmissionError {
    #[error("node {0} is already in the directory with other keys or endpoint")]
    Conflict(NodeId),
    #[error("node {parent} may not admit node {child}")]
    NotItsParent { parent: NodeId, child: NodeId },
    #[error("node {0} is not in the directory")]
    UnknownParent(NodeId),
}

impl Directory {
    /// The first directory of a new national system: the root alone.
    pub fn founding(root: DirectoryNode, now: DateTime<Utc>, validity: Duration) -> Directory {
        Directory { version: 1, issued_at: now, expires_at: now + validity, nodes: vec![root] }
    }

    pub fn node(&self, id: &NodeId) -> Option<&DirectoryNode> {
        self.nodes.iter().find(|n| &n.id == id)
    }

    pub fn root(&self) -> Option<&DirectoryNode> {
        self.nodes.iter().find(|n| n.parent.is_none())
    }

    pub fn children<'a>(&'a self, id: &'a NodeId) -> impl Iterator<Item = &'a DirectoryNode> + 'a {
        self.nodes.iter().filter(move |n| n.parent.as_ref() == Some(id))
    }

    /// Whether `node` is `ancestor` or lies below it.
    pub fn is_within(&self, node: &NodeId, ancestor: &NodeId) -> bool {
        let mut current = self.node(node);
        let mut steps = 0;
        while let Some(n) = current {
            if &n.id == ancestor {
                return true;
            }
            steps += 1;
            if steps > self.nodes.len() {
                return false;
            }
            current = n.parent.as_ref().and_then(|p| self.node(p));
        }
        false
    }

    /// The next version with `node` admitted (or its entry replaced by the same node's new endpoint or keys),
    /// issued at `now` and valid for `validity`. The parent must be in the directory and may parent the node.
    pub fn admit(
        &self,
        node: DirectoryNode,
        now: DateTime<Utc>,
        validity: Duration,
    ) -> Result<Directory, AdmissionError> {
        let parent = node.parent.clone().ok_or_else(|| AdmissionError::Conflict(node.id.clone()))?;
        if self.node(&parent).is_none() {
            return Err(AdmissionError::UnknownParent(parent));
        }
        if !parent.may_parent(&node.id) {
            return Err(AdmissionError::NotItsParent { parent, child: node.id });
        }
        if let Some(held) = self.node(&node.id)
            && held.parent != node.parent
        {
            return Err(AdmissionError::Conflict(node.id));
        }
        let mut nodes: Vec<DirectoryNode> = self.nodes.iter().filter(|n| n.id != node.id).cloned().collect();
        nodes.push(node);
        nodes.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(Directory { version: self.version + 1, issued_at: now, expires_at: now + validity, nodes })
    }

    /// The same nodes under a new version with a new expiry (the root re-signs before expiry).
    pub fn renewed(&self, now: DateTime<Utc>, validity: Duration) -> Directory {
        Directory { version: self.version + 1, issued_at: now, expires_at: now + validity, nodes: self.nodes.clone() }
    }

    /// Checks the directory's shape: one root (the national node, no parent), unique ids, endpoints and keys,
    /// every other node's parent present and allowed to parent it, expiry after issue.
    pub fn check(&self) -> Result<(), Vec<ValidationError>> {
        let mut problems = Vec::new();
        let roots: Vec<&DirectoryNode> = self.nodes.iter().filter(|n| n.parent.is_none()).collect();
        if roots.len() != 1 || roots[0].id != NodeId::National {
            problems.push(ValidationError::new("nodes", "one_root", "目录应有且只有一个根节点，即国家级节点"));
        }
        let mut ids = BTreeSet::new();
        let mut keys = BTreeSet::new();
        for (i, n) in self.nodes.iter().enumerate() {
            let field = |f: &str| format!("nodes[{i}].{f}");
            if !ids.insert(&n.id) {
                problems.push(ValidationError::new(field("id"), "unique", format!("节点 {} 重复出现", n.id)));
            }
            if !keys.insert(&n.sign_key) {
                problems.push(ValidationError::new(field("sign_key"), "unique", "两个节点使用了同一签名公钥"));
            }
            if parse_public_key("sign_key", &n.sign_key).is_err() {
                problems.push(ValidationError::new(field("sign_key"), "sm2_public_key", "SM2 公钥格式错误"));
            }
            if parse_endpoint("endpoint", &n.endpoint).is_err() {
                problems.push(ValidationError::new(field("endpoint"), "url", "节点地址格式错误"));
            }
            if let Some(parent) = &n.parent {
                if self.node(parent).is_none() {
                    problems.push(ValidationError::new(
                        field("parent"),
                        "known",
                        format!("上级节点 {parent} 不在目录中"),
                    ));
                } else if !parent.may_parent(&n.id) {
                    problems.push(ValidationError::new(
                        field("parent"),
                        "hierarchy",
                        format!("节点 {parent} 不能作为 {} 的上级节点", n.id),
                    ));
                }
            }
        }
        if self.expires_at <= self.issued_at {
            problems.push(ValidationError::new("expires_at", "after_issue", "有效期截止时间应晚于签发时间"));
        }
        if problems.is_empty() { Ok(()) } else { Err(problems) }
    }
}

const DIRECTORY_TAG: &[u8] = b"govshare-directory-v1\n";

/// A directory as signed by the root: the exact bytes signed and the SM2 signature over them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedDirectory {
    /// The directory's JSON, exactly as signed.
    pub body: String,
    /// SM2 signature (r ‖ s, hex) over `govshare-directory-v1\n` ‖ body.
    pub signature: String,
}

/// Why a node refuses a directory it is offered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DirectoryRefusal {
    #[error("the directory's signature does not verify with the trust anchor's key")]
    Signature,
    #[error("the directory is malformed: {0}")]
    Malformed(String),
    #[error("the directory expired at {0}")]
    Expired(DateTime<Utc>),
    #[error("the directory's version {offered} is older than the version {held} already held")]
    Older { held: u64, offered: u64 },
    #[error("version {0} differs from the version of that number already held")]
    Forked(u64),
}

impl SignedDirectory {
    /// Signs `directory` with the root's key (`sign` returns an SM2 signature, hex, of the bytes it is given).
    pub fn sign(directory: &Directory, sign: impl FnOnce(&[u8]) -> String) -> SignedDirectory {
        let body = serde_json::to_string(directory).expect("a directory serialises");
        let signature = sign(&Self::signed_bytes(&body));
        SignedDirectory { body, signature }
    }

    fn signed_bytes(body: &str) -> Vec<u8> {
        let mut bytes = DIRECTORY_TAG.to_vec();
        bytes.extend_from_slice(body.as_bytes());
        bytes
    }

    /// Verifies the signature with the trust anchor's key, then parses and checks the directory.
    pub fn open(&self, anchor_key: &str) -> Result<Directory, DirectoryRefusal> {
        if !crate::evidence::verify_sm2(anchor_key, &Self::signed_bytes(&self.body), &self.signature) {
            return Err(DirectoryRefusal::Signature);
        }
        let directory: Directory =
            serde_json::from_str(&self.body).map_err(|e| DirectoryRefusal::Malformed(e.to_string()))?;
        directory.check().map_err(|problems| {
            DirectoryRefusal::Malformed(problems.iter().map(|p| p.message.as_str()).collect::<Vec<_>>().join("；"))
        })?;
        match directory.root() {
            Some(root) if root.sign_key.eq_ignore_ascii_case(anchor_key.trim()) => Ok(directory),
            _ => Err(DirectoryRefusal::Malformed("the root node's key is not the trust anchor".into())),
        }
    }
}

/// The one decision about an offered directory: `Ok(Some(d))` to adopt `d`, `Ok(None)` when it is the version
/// already held, or why it is refused. A node adopts only a well-formed directory signed by its trust anchor,
/// not expired at `now`, and newer than the one it holds; the same version with other content is a fork.
pub fn accept(
    held: Option<&SignedDirectory>,
    offered: &SignedDirectory,
    anchor_key: &str,
    now: DateTime<Utc>,
) -> Result<Option<Directory>, DirectoryRefusal> {
    let directory = offered.open(anchor_key)?;
    if directory.expires_at <= now {
        return Err(DirectoryRefusal::Expired(directory.expires_at));
    }
    if let Some(held) = held {
        let held_dir: Directory =
            serde_json::from_str(&held.body).map_err(|e| DirectoryRefusal::Malformed(e.to_string()))?;
        if directory.version < held_dir.version {
            return Err(DirectoryRefusal::Older { held: held_dir.version, offered: directory.version });
        }
        if directory.version == held_dir.version {
            return if held.body == offered.body { Ok(None) } else { Err(DirectoryRefusal::Forked(directory.version)) };
        }
    }
    Ok(Some(directory))
}

/// How a held directory stands at a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Freshness {
    Valid {
        expires_at: DateTime<Utc>,
    },
    /// Less than the warning period left: the admin is warned (a node normally fetches a renewal long before).
    ExpiresSoon {
        expires_at: DateTime<Utc>,
    },
    Expired {
        expires_at: DateTime<Utc>,
    },
}

impl Freshness {
    pub fn of(directory: &Directory, now: DateTime<Utc>, warn_before: Duration) -> Freshness {
        let expires_at = directory.expires_at;
        if expires_at <= now {
            Freshness::Expired { expires_at }
        } else if expires_at - now <= warn_before {
            Freshness::ExpiresSoon { expires_at }
        } else {
            Freshness::Valid { expires_at }
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Freshness::Valid { .. } => "有效",
            Freshness::ExpiresSoon { .. } => "即将过期",
            Freshness::Expired { .. } => "已过期",
        }
    }
}

// ---- signed messages ----

const MESSAGE_TAG: &[u8] = b"govshare-message-v1\n";

/// A message between two nodes: header, body (JSON text) and the sender's SM2 signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedMessage {
    pub from: NodeId,
    pub to: NodeId,
    /// What the body is, e.g. `catalog.deltas`: a body signed for one purpose cannot be replayed for another.
    pub kind: String,
    pub at: DateTime<Utc>,
    /// 16 random bytes, hex: the receiver refuses a nonce it has seen from the sender within the window.
    pub nonce: String,
    pub body: String,
    /// SM2 signature (r ‖ s, hex) over [`SignedMessage::signed_bytes`].
    pub signature: String,
}

/// Why a node refuses a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageRefusal {
    #[error("the message is addressed to node {0}, not to this node")]
    WrongRecipient(NodeId),
    #[error("node {0} is not in the directory")]
    UnknownSender(NodeId),
    #[error("the message's signature does not verify with the key the directory holds for node {0}")]
    Signature(NodeId),
    #[error("the message was sent at {at}, more than {max_skew_secs} s from this node's clock")]
    Stale { at: DateTime<Utc>, max_skew_secs: i64 },
    #[error("the message's nonce was already used by node {0}")]
    Replayed(NodeId),
    #[error("this node's directory expired at {0}: it trusts no node until it holds a newer one")]
    DirectoryExpired(DateTime<Utc>),
    #[error("the message kind is {found}, not {expected}")]
    WrongKind { expected: String, found: String },
    #[error("the message is malformed: {0}")]
    Malformed(String),
}

impl MessageRefusal {
    /// The stable code of the refusal, for answers and the audit record.
    pub fn code(&self) -> &'static str {
        match self {
            MessageRefusal::WrongRecipient(_) => "wrong_recipient",
            MessageRefusal::UnknownSender(_) => "unknown_node",
            MessageRefusal::Signature(_) => "bad_signature",
            MessageRefusal::Stale { .. } => "stale_message",
            MessageRefusal::Replayed(_) => "replayed_message",
            MessageRefusal::DirectoryExpired(_) => "directory_expired",
            MessageRefusal::WrongKind { .. } => "wrong_kind",
            MessageRefusal::Malformed(_) => "malformed_message",
        }
    }
}

impl SignedMessage {
    /// The unsigned message; sign its [`SignedMessage::signed_bytes`] and set `signature`.
    pub fn unsigned(from: NodeId, to: NodeId, kind: &str, at: DateTime<Utc>, nonce: [u8; 16], body: String) -> Self {
        SignedMessage { from, to, kind: kind.to_owned(), at, nonce: hex::encode(nonce), body, signature: String::new() }
    }

    /// Tag ‖ from ‖ to ‖ kind ‖ time (µs) ‖ nonce ‖ SM3(body), newline-separated.
    pub fn signed_bytes(&self) -> Vec<u8> {
        let digest = hex::encode(Sm3::digest(self.body.as_bytes()));
        let mut bytes = MESSAGE_TAG.to_vec();
        for part in [
            self.from.to_string(),
            self.to.to_string(),
            self.kind.clone(),
            self.at.timestamp_micros().to_string(),
            self.nonce.clone(),
            digest,
        ] {
            bytes.extend_from_slice(part.as_bytes());
            bytes.push(b'\n');
        }
        bytes
    }

    /// Checks everything but the nonce's novelty (the receiver's store decides that): addressed to `me`, of
    /// the expected kind, from a node the (unexpired) directory names, signed with its key, sent within
    /// `max_skew` of `now`. Returns the sender's directory entry.
    pub fn check<'a>(
        &self,
        directory: &'a Directory,
        me: &NodeId,
        kind: &str,
        now: DateTime<Utc>,
        max_skew: Duration,
    ) -> Result<&'a DirectoryNode, MessageRefusal> {
        if directory.expires_at <= now {
            return Err(MessageRefusal::DirectoryExpired(directory.expires_at));
        }
        self.check_addressed(me, kind)?;
        let sender = directory.node(&self.from).ok_or_else(|| MessageRefusal::UnknownSender(self.from.clone()))?;
        self.check_sent_with(&sender.sign_key, now, max_skew)?;
        Ok(sender)
    }

    /// The same checks against a key the caller holds instead of the directory's: a reply from a peer, or a
    /// child admitted here that the directory does not list yet.
    pub fn check_with_key(
        &self,
        key: &str,
        me: &NodeId,
        kind: &str,
        now: DateTime<Utc>,
        max_skew: Duration,
    ) -> Result<(), MessageRefusal> {
        self.check_addressed(me, kind)?;
        self.check_sent_with(key, now, max_skew)
    }

    /// Addressed to `me`, of the expected kind, with a well-formed nonce.
    fn check_addressed(&self, me: &NodeId, kind: &str) -> Result<(), MessageRefusal> {
        if &self.to != me {
            return Err(MessageRefusal::WrongRecipient(self.to.clone()));
        }
        if self.kind != kind {
            return Err(MessageRefusal::WrongKind { expected: kind.to_owned(), found: self.kind.clone() });
        }
        if self.nonce.len() != 32 || !self.nonce.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(MessageRefusal::Malformed("the nonce is not 16 bytes in hex".into()));
        }
        Ok(())
    }

    /// Signed with `key`, and sent within `max_skew` of `now`.
    fn check_sent_with(&self, key: &str, now: DateTime<Utc>, max_skew: Duration) -> Result<(), MessageRefusal> {
        if !crate::evidence::verify_sm2(key, &self.signed_bytes(), &self.signature) {
            return Err(MessageRefusal::Signature(self.from.clone()));
        }
        if (now - self.at).abs() > max_skew {
            return Err(MessageRefusal::Stale { at: self.at, max_skew_secs: max_skew.num_seconds() });
        }
        Ok(())
    }
}

// ---- catalog deltas ----

/// An entry of the national catalog as it travels between nodes: its newest published version, the node that
/// owns it and the department that provides it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FederatedEntry {
    pub id: EntryId,
    /// The node where the entry is kept and applications for it are answered.
    pub origin: NodeId,
    pub version: u32,
    pub provider: OrgId,
    pub provider_name: String,
    pub provider_region: RegionCode,
    pub content: EntryContent,
    pub published_at: DateTime<Utc>,
}

/// One change on a sending node's outbox: `seq` is the sender's sequence number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogDelta {
    pub seq: i64,
    pub entry: FederatedEntry,
}

/// A batch of deltas: every delta with a sequence number up to `through` that the sender holds (a sequence
/// number the batch skips named no entry the receiver needs, e.g. an entry published again since).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeltaBatch {
    /// The receiver's acknowledgement the sender continues from.
    pub after: i64,
    pub deltas: Vec<CatalogDelta>,
    pub through: i64,
}

impl DeltaBatch {
    /// Checks a received batch: sequence numbers ascending and within `through`, each entry owned by a node
    /// that lies within the sender's subtree of `directory`.
    pub fn check(&self, directory: &Directory, sender: &NodeId) -> Result<(), MessageRefusal> {
        if self.through <= self.after {
            return Err(MessageRefusal::Malformed("`through` must be above `after`".into()));
        }
        // Several entries may share a sequence number (one transaction changed them all, e.g. an import).
        let mut last = self.after + 1;
        for d in &self.deltas {
            if d.seq < last || d.seq > self.through {
                return Err(MessageRefusal::Malformed(
                    "delta sequence numbers must not descend, and must lie above `after` and up to `through`".into(),
                ));
            }
            last = d.seq;
            if !directory.is_within(&d.entry.origin, sender) {
                return Err(MessageRefusal::Malformed(format!(
                    "entry {} is owned by node {}, which is not within node {sender}",
                    d.entry.id, d.entry.origin
                )));
            }
        }
        Ok(())
    }
}

/// Which of `incoming` supersede what a receiver holds (`held`: entry → version): a newer version of an entry,
/// or one it has not seen. Keeps the last delta per entry.
pub fn newer_entries<'a>(held: &BTreeMap<EntryId, u32>, incoming: &'a [CatalogDelta]) -> Vec<&'a FederatedEntry> {
    let mut newest: BTreeMap<EntryId, &FederatedEntry> = BTreeMap::new();
    for d in incoming {
        let e = &d.entry;
        if held.get(&e.id).is_some_and(|v| *v >= e.version) {
            continue;
        }
        match newest.get(&e.id) {
            Some(prev) if prev.version >= e.version => {}
            _ => {
                newest.insert(e.id, e);
            }
        }
    }
    newest.into_values().collect()
}

/// The retry delay after `failures` consecutive failures: doubling from `base`, at most `max`.
pub fn backoff(failures: u32, base: std::time::Duration, max: std::time::Duration) -> std::time::Duration {
    if failures == 0 {
        return base;
    }
    let factor = 2u32.saturating_pow(failures.min(20));
    base.saturating_mul(factor).min(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(seed: u8) -> (sm2::dsa::SigningKey, String) {
        let mut bytes = [seed; 32];
        bytes[0] = 1;
        let sk = sm2::dsa::SigningKey::from_slice(crate::evidence::SM2_DISTID, &bytes).unwrap();
        let pk = hex::encode(sk.verifying_key().to_sec1_bytes());
        (sk, pk)
    }

    fn sign(sk: &sm2::dsa::SigningKey, bytes: &[u8]) -> String {
        use sm2::dsa::signature::Signer;
        let sig: sm2::dsa::Signature = sk.sign(bytes);
        hex::encode(sig.to_bytes())
    }

    fn node(id: &str, parent: Option<&str>, seed: u8) -> DirectoryNode {
        DirectoryNode {
            id: NodeId::parse(id).unwrap(),
            name: id.into(),
            parent: parent.map(|p| NodeId::parse(p).unwrap()),
            endpoint: format!("http://127.0.0.1:{}", 7000 + seed as u16),
            sign_key: key(seed).1,
            tls_pin: None,
            admitted_at: t(0),
        }
    }

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
    }

    fn federation() -> Directory {
        let d = Directory::founding(node("national", None, 1), t(0), Duration::days(7));
        let d = d.admit(node("province-330000", Some("national"), 2), t(1), Duration::days(7)).unwrap();
        let d = d.admit(node("city-330100", Some("province-330000"), 3), t(2), Duration::days(7)).unwrap();
        d.admit(node("city-330300", Some("province-330000"), 4), t(3), Duration::days(7)).unwrap()
    }

    #[test]
    fn node_ids_parse_with_their_level_and_print_back() {
        for raw in ["national", "province-330000", "city-330300", "county-330302", "ministry-MPS"] {
            assert_eq!(NodeId::parse(raw).unwrap().to_string(), raw);
        }
        assert_eq!(NodeId::parse("county-330302").unwrap().level(), NodeLevel::County);
        assert_eq!(NodeId::parse("city-330000").unwrap_err().rule, "level_mismatch");
        assert_eq!(NodeId::parse("province-990000").unwrap_err().rule, "unknown_province");
        assert_eq!(NodeId::parse("ministry-mps").unwrap_err().rule, "format");
        assert_eq!(NodeId::parse("town-330302").unwrap_err().rule, "format");
        assert_eq!(NodeId::parse("330000").unwrap_err().field, "node_id");
    }

    #[test]
    fn who_may_parent_whom_follows_the_region_tree() {
        let p = |s: &str| NodeId::parse(s).unwrap();
        assert!(p("national").may_parent(&p("province-330000")));
        assert!(p("national").may_parent(&p("ministry-MPS")));
        assert!(!p("national").may_parent(&p("city-330100")));
        assert!(p("province-330000").may_parent(&p("city-330100")));
        assert!(!p("province-330000").may_parent(&p("city-320100")), "another province's city");
        assert!(p("city-330300").may_parent(&p("county-330302")));
        assert!(!p("city-330100").may_parent(&p("county-330302")), "another city's county");
        assert!(!p("city-330100").may_parent(&p("province-330000")));
        assert!(!p("ministry-MPS").may_parent(&p("city-330100")));
    }

    #[test]
    fn admission_grows_the_version_and_keeps_the_hierarchy() {
        let d = federation();
        assert_eq!(d.version, 4);
        assert!(d.check().is_ok());
        assert!(d.is_within(&NodeId::parse("city-330300").unwrap(), &NodeId::parse("province-330000").unwrap()));
        assert!(!d.is_within(&NodeId::parse("city-330300").unwrap(), &NodeId::parse("city-330100").unwrap()));
        let wrong = d.admit(node("city-320100", Some("province-330000"), 9), t(5), Duration::days(7));
        assert!(matches!(wrong, Err(AdmissionError::NotItsParent { .. })));
        let orphan = d.admit(node("city-320100", Some("province-320000"), 9), t(5), Duration::days(7));
        assert!(matches!(orphan, Err(AdmissionError::UnknownParent(_))));
        // A node moves to another parent only by leaving first: re-admission under a new parent is a conflict.
        let d = d.admit(node("county-330302", Some("city-330300"), 5), t(5), Duration::days(7)).unwrap();
        let moved = d.admit(node("county-330302", Some("province-330000"), 5), t(6), Duration::days(7));
        assert!(matches!(moved, Err(AdmissionError::Conflict(_))));
        // The same node with a new endpoint replaces its entry in place, under a new version.
        let mut again = node("county-330302", Some("city-330300"), 5);
        again.endpoint = "http://127.0.0.1:9999".into();
        let renewed = d.admit(again, t(7), Duration::days(7)).unwrap();
        assert_eq!(renewed.nodes.len(), d.nodes.len());
        assert_eq!(renewed.node(&NodeId::parse("county-330302").unwrap()).unwrap().endpoint, "http://127.0.0.1:9999");
    }

    #[test]
    fn a_directory_is_adopted_only_when_signed_by_the_anchor_newer_and_unexpired() {
        let (root_key, anchor) = key(1);
        let d = federation();
        let signed = SignedDirectory::sign(&d, |b| sign(&root_key, b));
        assert_eq!(accept(None, &signed, &anchor, t(10)).unwrap().unwrap(), d);
        assert_eq!(accept(Some(&signed), &signed, &anchor, t(10)).unwrap(), None, "the same version again");

        // Signed by someone else (the province's key), or altered after signing.
        let (other, _) = key(2);
        let forged = SignedDirectory::sign(&d, |b| sign(&other, b));
        assert_eq!(accept(None, &forged, &anchor, t(10)), Err(DirectoryRefusal::Signature));
        let mut tampered = signed.clone();
        tampered.body = tampered.body.replace("127.0.0.1:7004", "10.0.0.66:7004");
        assert_eq!(accept(None, &tampered, &anchor, t(10)), Err(DirectoryRefusal::Signature));

        // Expired, older, forked.
        assert!(matches!(accept(None, &signed, &anchor, t(8 * 86_400)), Err(DirectoryRefusal::Expired(_))));
        let newer = SignedDirectory::sign(&d.renewed(t(20), Duration::days(7)), |b| sign(&root_key, b));
        assert!(accept(Some(&signed), &newer, &anchor, t(30)).unwrap().is_some());
        assert_eq!(accept(Some(&newer), &signed, &anchor, t(30)), Err(DirectoryRefusal::Older { held: 5, offered: 4 }));
        let fork = SignedDirectory::sign(&d.renewed(t(21), Duration::days(7)), |b| sign(&root_key, b));
        assert_eq!(accept(Some(&newer), &fork, &anchor, t(30)), Err(DirectoryRefusal::Forked(5)));
    }

    #[test]
    fn a_directory_whose_root_is_not_the_anchor_is_refused_even_if_the_anchor_signed_it() {
        let (root_key, anchor) = key(1);
        let mut d = federation();
        d.nodes.iter_mut().find(|n| n.id == NodeId::National).unwrap().sign_key = key(7).1;
        let signed = SignedDirectory::sign(&d, |b| sign(&root_key, b));
        assert!(matches!(accept(None, &signed, &anchor, t(10)), Err(DirectoryRefusal::Malformed(_))));
    }

    #[test]
    fn freshness_warns_within_the_warning_period() {
        let d = federation();
        let warn = Duration::days(2);
        assert!(matches!(Freshness::of(&d, t(3), warn), Freshness::Valid { .. }));
        assert!(matches!(Freshness::of(&d, t(6 * 86_400), warn), Freshness::ExpiresSoon { .. }));
        assert!(matches!(Freshness::of(&d, t(8 * 86_400), warn), Freshness::Expired { .. }));
    }

    #[test]
    fn messages_are_refused_when_tampered_misaddressed_unknown_stale_or_under_an_expired_directory() {
        let d = federation();
        let (city_key, _) = key(4);
        let from = NodeId::parse("city-330300").unwrap();
        let me = NodeId::parse("province-330000").unwrap();
        let mut m = SignedMessage::unsigned(from.clone(), me.clone(), "catalog.deltas", t(100), [7; 16], "{}".into());
        m.signature = sign(&city_key, &m.signed_bytes());
        let skew = Duration::seconds(300);
        assert_eq!(m.check(&d, &me, "catalog.deltas", t(101), skew).unwrap().id, from);

        let mut body = m.clone();
        body.body = "{\"x\":1}".into();
        assert_eq!(body.check(&d, &me, "catalog.deltas", t(101), skew), Err(MessageRefusal::Signature(from.clone())));
        let mut header = m.clone();
        header.at = t(102);
        assert!(matches!(header.check(&d, &me, "catalog.deltas", t(101), skew), Err(MessageRefusal::Signature(_))));
        assert!(matches!(m.check(&d, &from, "catalog.deltas", t(101), skew), Err(MessageRefusal::WrongRecipient(_))));
        assert!(matches!(m.check(&d, &me, "search", t(101), skew), Err(MessageRefusal::WrongKind { .. })));
        assert!(matches!(m.check(&d, &me, "catalog.deltas", t(500), skew), Err(MessageRefusal::Stale { .. })));
        assert!(matches!(
            m.check(&d, &me, "catalog.deltas", t(8 * 86_400), skew),
            Err(MessageRefusal::DirectoryExpired(_))
        ));

        let stranger = NodeId::parse("city-330200").unwrap();
        let (stranger_key, _) = key(9);
        let mut s =
            SignedMessage::unsigned(stranger.clone(), me.clone(), "catalog.deltas", t(100), [8; 16], "{}".into());
        s.signature = sign(&stranger_key, &s.signed_bytes());
        assert_eq!(s.check(&d, &me, "catalog.deltas", t(101), skew), Err(MessageRefusal::UnknownSender(stranger)));

        // A known node's name with another key: the signature does not verify.
        let mut impostor = m.clone();
        impostor.signature = sign(&stranger_key, &impostor.signed_bytes());
        assert!(matches!(impostor.check(&d, &me, "catalog.deltas", t(101), skew), Err(MessageRefusal::Signature(_))));
    }

    fn delta(seq: i64, id: u128, origin: &str, version: u32) -> CatalogDelta {
        let content: EntryContent = serde_json::from_value(serde_json::json!({
            "name": "低保对象名单", "resource_code": "330300-MZJ-0001", "summary": "s", "format": "database",
            "items": [], "update_frequency": "monthly", "sharing": {"attribute": "unconditional"},
            "delivery_methods": ["service_api"], "usage_conditions": "", "grade": {"class": "一般数据", "level": 2},
            "open_to_public": false, "related_codes": []
        }))
        .unwrap_or_else(|e| panic!("entry content: {e}"));
        CatalogDelta {
            seq,
            entry: FederatedEntry {
                id: EntryId(uuid::Uuid::from_u128(id)),
                origin: NodeId::parse(origin).unwrap(),
                version,
                provider: OrgId(uuid::Uuid::from_u128(7)),
                provider_name: "温州市民政局".into(),
                provider_region: RegionCode::parse("330300").unwrap(),
                content,
                published_at: t(0),
            },
        }
    }

    #[test]
    fn a_delta_batch_must_ascend_and_carry_only_entries_of_the_senders_subtree() {
        let d = federation();
        let province = NodeId::parse("province-330000").unwrap();
        let ok = DeltaBatch {
            after: 3,
            deltas: vec![delta(4, 1, "city-330300", 1), delta(6, 2, "province-330000", 1)],
            through: 7,
        };
        assert!(ok.check(&d, &province).is_ok());
        let city = NodeId::parse("city-330100").unwrap();
        assert!(matches!(ok.check(&d, &city), Err(MessageRefusal::Malformed(_))), "another city's entries");
        let shared = DeltaBatch {
            after: 3,
            deltas: vec![delta(4, 1, "city-330300", 1), delta(4, 2, "city-330300", 1)],
            through: 4,
        };
        assert!(shared.check(&d, &province).is_ok(), "one transaction, two entries");
        let unordered = DeltaBatch {
            after: 3,
            deltas: vec![delta(6, 1, "city-330300", 1), delta(4, 2, "city-330300", 1)],
            through: 7,
        };
        assert!(unordered.check(&d, &province).is_err());
        let beyond = DeltaBatch { after: 3, deltas: vec![delta(9, 1, "city-330300", 1)], through: 7 };
        assert!(beyond.check(&d, &province).is_err());
        let old = DeltaBatch { after: 3, deltas: vec![delta(3, 1, "city-330300", 1)], through: 7 };
        assert!(old.check(&d, &province).is_err(), "a delta at or below `after`");
    }

    #[test]
    fn only_newer_versions_supersede_what_is_held_and_the_last_of_an_entry_wins() {
        let held: BTreeMap<EntryId, u32> = [(EntryId(uuid::Uuid::from_u128(1)), 2)].into_iter().collect();
        let incoming = vec![
            delta(1, 1, "city-330300", 2),
            delta(2, 2, "city-330300", 1),
            delta(3, 2, "city-330300", 3),
            delta(4, 1, "city-330300", 3),
        ];
        let newer = newer_entries(&held, &incoming);
        let got: Vec<(u128, u32)> = newer.iter().map(|e| (e.id.0.as_u128(), e.version)).collect();
        assert_eq!(got, vec![(1, 3), (2, 3)]);
        assert!(newer_entries(&held, &incoming[..1]).is_empty(), "the version already held");
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let s = std::time::Duration::from_secs;
        assert_eq!(backoff(0, s(1), s(60)), s(1));
        assert_eq!(backoff(1, s(1), s(60)), s(2));
        assert_eq!(backoff(3, s(1), s(60)), s(8));
        assert_eq!(backoff(30, s(1), s(60)), s(60));
    }
}
