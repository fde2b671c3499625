//! In-app notifications to an organisation (Art. 16: published catalogs are announced to all departments;
//! deadline reminders later).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::org::OrgId;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    pub id: Uuid,
    pub org_id: OrgId,
    pub created_at: DateTime<Utc>,
    /// Stable code, e.g. `catalog.published`.
    pub kind: String,
    pub title: String,
    pub body: String,
    /// Console path to the thing it is about.
    pub link: String,
    pub read_at: Option<DateTime<Utc>>,
}

impl Notification {
    pub fn new(org_id: OrgId, now: DateTime<Utc>, kind: &str, title: String, body: String, link: String) -> Self {
        Notification {
            id: Uuid::now_v7(),
            org_id,
            created_at: now,
            kind: kind.to_owned(),
            title,
            body,
            link,
            read_at: None,
        }
    }
}
