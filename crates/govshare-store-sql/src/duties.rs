//! The duty ledger: duties as rows, upserted by key in the transaction of the step they were derived after.

use govshare_domain::duty::{Duty, DutyKind, SubjectKind};
use govshare_domain::role::Role;
use govshare_store::Result;

use crate::data::ROWS_PER_STATEMENT;
use crate::driver::{Dialect, FromRow, Row, Tx, corrupt, sql, values};

pub const DUTY_COLUMNS: &str =
    "key, kind, subject_kind, subject_id, title, owner, role, counterpart, started_at, days, due_at, closed_at, met";

/// Writes the duties; an existing duty keeps its alert state unless its due time moved (an extension).
pub async fn upsert<D: Dialect>(tx: &mut Tx<D>, duties: &[Duty]) -> Result<()> {
    for chunk in duties.chunks(ROWS_PER_STATEMENT) {
        let mut q = sql(format!(
            "INSERT INTO duties ({DUTY_COLUMNS}, alert) VALUES {}
             ON CONFLICT (key) DO UPDATE SET kind = excluded.kind, title = excluded.title, owner = excluded.owner,
                 role = excluded.role, counterpart = excluded.counterpart, started_at = excluded.started_at,
                 days = excluded.days, due_at = excluded.due_at, closed_at = excluded.closed_at, met = excluded.met,
                 alert = CASE WHEN duties.due_at IS NOT DISTINCT FROM excluded.due_at THEN duties.alert ELSE 0 END",
            values(1, chunk.len(), 14)
        ));
        for d in chunk {
            q.push(d.key.as_str()).push(d.kind.code()).push(d.subject_kind.code()).push(d.subject_id);
            q.push(d.title.as_str()).push(d.owner).push(d.role.code()).push(d.counterpart).push(d.started_at);
            q.push(d.days).push(d.due_at).push(d.closed_at).push(d.met).push(0i64);
        }
        q.execute(tx).await?;
    }
    Ok(())
}

impl FromRow for Duty {
    fn from_row(r: &impl Row) -> Result<Self> {
        let kind: String = r.get(1)?;
        let subject_kind: String = r.get(2)?;
        Ok(Duty {
            key: r.get(0)?,
            kind: DutyKind::parse(&kind).ok_or_else(|| corrupt(format!("duty kind {kind}")))?,
            subject_kind: SubjectKind::parse(&subject_kind)
                .ok_or_else(|| corrupt(format!("subject {subject_kind}")))?,
            subject_id: r.get(3)?,
            title: r.get(4)?,
            owner: r.get(5)?,
            role: r.get::<Role>(6)?,
            counterpart: r.get(7)?,
            started_at: r.get(8)?,
            days: r.get(9)?,
            due_at: r.get(10)?,
            closed_at: r.get(11)?,
            met: r.get(12)?,
        })
    }
}
