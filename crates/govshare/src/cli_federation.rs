//! `govshare federation …`: founding the national system, the admission files two admins exchange, joining,
//! a sync on demand and the node's status.
//!
//! The exchange, out of band (the files carry public keys and endpoints, no secret):
//! 1. the child's admin: `govshare federation request --node city-330300 --name … --endpoint … --out req.json`;
//! 2. the parent's admin checks it and runs `govshare federation admit req.json --out anchor.json`;
//! 3. the child's admin: `govshare federation join anchor.json`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;
use govshare_domain::federation::{AdmissionRequest, AnchorFile, Freshness};
use govshare_service::Services;

#[derive(Debug, Subcommand)]
pub enum FederationCommand {
    /// Found the national system on this node: it becomes the root (national node), its SM2 key the trust
    /// anchor, and it signs the first directory.
    Found {
        /// The node's name, e.g. 国家政务数据共享平台.
        #[arg(long)]
        name: String,
        /// Where other nodes reach this node (`https://host:port`).
        #[arg(long)]
        endpoint: String,
    },
    /// Write this node's admission request (its id, name, endpoint and public key) for the parent's admin.
    Request {
        /// `province-330000`, `city-330300`, `county-330302` or `ministry-<code>`.
        #[arg(long)]
        node: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        endpoint: String,
        /// Write to this file instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Admit a child from its request file and write the anchor file its admin joins with.
    Admit {
        request: PathBuf,
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Join the parent named by an anchor file.
    Join { anchor: PathBuf },
    /// Sync with the parent now (directory, admissions, catalog deltas); the server does this periodically.
    Sync,
    /// This node's place, its directory's version and expiry, its outbox and its children.
    Status,
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> anyhow::Result<T> {
    let text = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("{} is not a valid file of this kind: {e}", path.display()))
}

fn write_json(value: &impl serde::Serialize, out: Option<&Path>) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    match out {
        Some(path) => {
            std::fs::write(path, text + "\n").map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
            eprintln!("wrote {}", path.display());
        }
        None => println!("{text}"),
    }
    Ok(())
}

pub async fn run(services: &Services, command: FederationCommand) -> anyhow::Result<ExitCode> {
    let explain = crate::cli::explain;
    match command {
        FederationCommand::Found { name, endpoint } => {
            let config = services.found_federation(&name, &endpoint).await.map_err(explain)?;
            println!("founded the national system: this node is {} ({})", config.id, config.name);
            println!("trust anchor (root public key): {}", config.anchor_key);
        }
        FederationCommand::Request { node, name, endpoint, out } => {
            let request = services.admission_request(&node, &name, &endpoint).map_err(explain)?;
            write_json(&request, out.as_deref())?;
        }
        FederationCommand::Admit { request, out } => {
            let request: AdmissionRequest = read_json(&request)?;
            let anchor = services.admit_node(request).await.map_err(explain)?;
            write_json(&anchor, out.as_deref())?;
            eprintln!("admitted {} ({}); hand the anchor file to its admin", anchor.request.id, anchor.request.name);
        }
        FederationCommand::Join { anchor } => {
            let anchor: AnchorFile = read_json(&anchor)?;
            let config = services.join_federation(anchor).await.map_err(explain)?;
            let parent = config.parent.as_ref().map(|p| p.id.to_string()).unwrap_or_default();
            println!("joined: this node is {} under {parent}; the server syncs with it every few seconds", config.id);
        }
        FederationCommand::Sync => {
            let outcome = services.federation_sync().await.map_err(explain)?;
            println!(
                "synced: directory adopted {:?}, admissions forwarded {}, deltas sent {}, acknowledged through {:?}",
                outcome.adopted, outcome.admissions_forwarded, outcome.deltas_sent, outcome.acked
            );
        }
        FederationCommand::Status => {
            let s = services.federation_status().await.map_err(explain)?;
            let Some(config) = &s.config else {
                println!("not federated (govshare federation found / request + join)");
                return Ok(ExitCode::SUCCESS);
            };
            println!("node:      {} ({})", config.id, config.name);
            println!("endpoint:  {}", config.endpoint);
            match &config.parent {
                Some(p) => {
                    println!("parent:    {} at {} (acknowledged through {})", p.id, p.endpoint, config.parent_acked)
                }
                None => println!("parent:    none (root)"),
            }
            match (&s.directory, s.freshness) {
                (Some(d), Some(f)) => {
                    let state = match f {
                        Freshness::Valid { .. } => "valid",
                        Freshness::ExpiresSoon { .. } => "EXPIRES SOON",
                        Freshness::Expired { .. } => "EXPIRED",
                    };
                    println!(
                        "directory: version {}, {} nodes, expires {} ({state})",
                        d.version,
                        d.nodes.len(),
                        d.expires_at
                    );
                }
                _ => println!("directory: none yet (the first sync fetches it)"),
            }
            println!("outbox:    head {}", s.outbox_head);
            for c in &s.children {
                println!(
                    "child:     {} ({}) applied through {}, last seen {}",
                    c.request.id,
                    c.request.name,
                    c.last_seq,
                    c.last_seen_at.map(|t| t.to_rfc3339()).unwrap_or_else(|| "never".into())
                );
            }
            if s.freshness.is_some_and(|f| !matches!(f, Freshness::Valid { .. })) {
                return Ok(ExitCode::from(1));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
