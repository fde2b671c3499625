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

/// What a deadline alert says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// The deadline is near.
    Reminder,
    /// The deadline passed with the obligation unmet: marked for supervision (Art. 39).
    Overdue,
}

impl AlertKind {
    pub fn code(self) -> &'static str {
        match self {
            AlertKind::Reminder => "reminder",
            AlertKind::Overdue => "overdue",
        }
    }

    pub fn parse(code: &str) -> Option<AlertKind> {
        [AlertKind::Reminder, AlertKind::Overdue].into_iter().find(|k| k.code() == code)
    }

    pub fn label(self) -> &'static str {
        match self {
            AlertKind::Reminder => "到期提醒",
            AlertKind::Overdue => "逾期标记",
        }
    }
}

/// A reminder sent, or an overdue mark made, by the deadline job. The key names the deadline exactly (subject,
/// which clock, which period, which due date, which kind), so the store holds each at most once however many
/// instances run the job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadlineAlert {
    pub key: String,
    /// What it is about, e.g. `application:<id>` or `catalog_obligation:<id>`.
    pub subject: String,
    pub kind: AlertKind,
    pub due_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    /// What was due, for people (e.g. 答复期限).
    pub note: String,
}
