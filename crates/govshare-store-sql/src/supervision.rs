//! Supervision's reads over the duty ledger and the usage roll-up (R-SUP-1), and the roll-up's write.
//!
//! The tallies mirror `govshare_domain::supervision::classify` in SQL (the store contract test compares the two
//! on random ledgers); the late-duty reads repeat the predicate of the partial index `duties_late` so that both
//! backends read only the duties that ever were late.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use govshare_domain::duty::{Duty, DutyKind};
use govshare_domain::grant::UsageRecord;
use govshare_domain::org::OrgId;
use govshare_domain::supervision::{Tally, beijing_day};
use govshare_store::{DutyTally, OverdueChanges, Result, UsageBy, UsageKey, UsageTotal};
use uuid::Uuid;

use crate::data::ROWS_PER_STATEMENT;
use crate::driver::{Arg, Col, Dialect, Exec, Row, Sql, Tx, corrupt, sql, values};
use crate::duties::DUTY_COLUMNS;

/// The partial index `duties_late`'s predicate: duties that ever were overdue (met late, cut short after their due
/// time, or open). Late in [`govshare_domain::supervision::classify`]'s sense adds `met` for the closed ones.
const EVER_LATE: &str = "due_at IS NOT NULL AND (closed_at IS NULL OR closed_at > due_at)";

fn owners_filter<'a, D: Dialect>(q: &mut Sql<'a>, column: &str, owners: Option<&[OrgId]>) {
    if let Some(owners) = owners {
        let p = q.param(Arg::Ids(owners.iter().map(|o| o.0).collect()));
        q.text(&format!(" AND {}", D::any(column, &p))).planned_per_call();
    }
}

fn count(r: &impl Row, i: usize) -> Result<u64> {
    Ok(r.int(Col::At(i))?.unwrap_or(0).max(0) as u64)
}

pub async fn duty_tallies<D: Dialect, E: Exec<D = D>>(
    e: &mut E,
    owners: Option<&[OrgId]>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Vec<DutyTally>> {
    let mut q = sql("SELECT owner, kind,
             SUM(CASE WHEN closed_at IS NOT NULL AND met AND closed_at <= due_at THEN 1 ELSE 0 END),
             SUM(CASE WHEN (closed_at IS NOT NULL AND met AND closed_at > due_at) OR (closed_at IS NULL AND due_at < $3)
                 THEN 1 ELSE 0 END),
             SUM(CASE WHEN closed_at IS NULL AND due_at >= $3 THEN 1 ELSE 0 END),
             SUM(CASE WHEN closed_at IS NOT NULL AND NOT met THEN 1 ELSE 0 END)
         FROM duties WHERE due_at IS NOT NULL AND due_at >= $1 AND due_at < $2")
    .binds((from, to, now));
    owners_filter::<D>(&mut q, "owner", owners);
    q.text(" GROUP BY owner, kind");
    let rows = q.rows(e).await?;
    rows.iter()
        .map(|r| {
            let kind: String = r.get(1)?;
            Ok(DutyTally {
                owner: r.get(0)?,
                kind: DutyKind::parse(&kind).ok_or_else(|| corrupt(format!("duty kind {kind}")))?,
                tally: Tally {
                    on_time: count(r, 2)?,
                    late: count(r, 3)?,
                    pending: count(r, 4)?,
                    cut_short: count(r, 5)?,
                },
            })
        })
        .collect()
}

pub async fn late_duties<D: Dialect, E: Exec<D = D>>(
    e: &mut E,
    owners: Option<&[OrgId]>,
    kinds: &[DutyKind],
    (from, to, now): (DateTime<Utc>, DateTime<Utc>, DateTime<Utc>),
    limit: u32,
) -> Result<Vec<Duty>> {
    // Two disjoint parts, each read by its own index: the duties still open past their due time (whenever they
    // fell due), and those met late that fell due in the period. One condition with an OR made the planner walk
    // the late duties of the whole history in due order. The second part spells out the partial index's condition
    // (`EVER_LATE`) because SQLite uses a partial index only when the query repeats its terms.
    let mut q = sql("").binds((now, from, to));
    let mut filter = String::new();
    let p = q.param(Arg::Texts(kinds.iter().map(|k| k.code()).collect()));
    filter.push_str(&format!(" AND {}", D::any("kind", &p)));
    if let Some(owners) = owners {
        let p = q.param(Arg::Ids(owners.iter().map(|o| o.0).collect()));
        filter.push_str(&format!(" AND {}", D::any("owner", &p)));
        q.planned_per_call();
    }
    let p = q.param(limit);
    q.text(&format!(
        "SELECT * FROM (
             SELECT {DUTY_COLUMNS} FROM duties WHERE due_at IS NOT NULL AND closed_at IS NULL AND due_at < $1{filter}
             UNION ALL
             SELECT {DUTY_COLUMNS} FROM duties WHERE {EVER_LATE} AND closed_at IS NOT NULL AND met AND due_at < $1
                 AND due_at >= $2 AND due_at < $3{filter}
         ) AS late ORDER BY due_at, key LIMIT {p}"
    ));
    q.all(e).await
}

pub async fn act_duties<D: Dialect, E: Exec<D = D>>(
    e: &mut E,
    owners: Option<&[OrgId]>,
    kinds: &[DutyKind],
    (from, to): (DateTime<Utc>, DateTime<Utc>),
    limit: u32,
) -> Result<Vec<Duty>> {
    let mut q = sql(format!("SELECT {DUTY_COLUMNS} FROM duties WHERE TRUE"));
    let p = q.param(Arg::Texts(kinds.iter().map(|k| k.code()).collect()));
    q.text(&format!(" AND {}", D::any("kind", &p)));
    let (f, t) = (q.param(from), q.param(to));
    q.text(&format!(" AND ((started_at >= {f} AND started_at < {t}) OR closed_at IS NULL)"));
    owners_filter::<D>(&mut q, "owner", owners);
    let p = q.param(limit);
    q.text(&format!(" ORDER BY started_at, key LIMIT {p}"));
    q.all(e).await
}

pub async fn overdue_changes<D: Dialect, E: Exec<D = D>>(
    e: &mut E,
    owners: Option<&[OrgId]>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<OverdueChanges> {
    let to = to.min(now);
    let mut start = sql(format!(
        "SELECT COUNT(*) FROM duties WHERE {EVER_LATE} AND due_at < $1 AND (closed_at IS NULL OR closed_at > $1)"
    ))
    .bind(from);
    owners_filter::<D>(&mut start, "owner", owners);
    let (at_start,): (i64,) = start.one(e).await?;
    let mut became =
        sql(format!("SELECT due_at FROM duties WHERE {EVER_LATE} AND due_at >= $1 AND due_at < $2")).binds((from, to));
    owners_filter::<D>(&mut became, "owner", owners);
    let mut ended = sql(format!(
        "SELECT closed_at FROM duties WHERE {EVER_LATE} AND closed_at IS NOT NULL AND closed_at >= $1 AND closed_at < $2"
    ))
    .binds((from, to));
    owners_filter::<D>(&mut ended, "owner", owners);
    let times = |rows: Vec<D::Row>| -> Result<Vec<DateTime<Utc>>> { rows.iter().map(|r| r.get(0)).collect() };
    Ok(OverdueChanges {
        at_start: at_start.max(0) as u64,
        became: times(became.rows(e).await?)?,
        ended: times(ended.rows(e).await?)?,
    })
}

pub async fn usage_totals<D: Dialect, E: Exec<D = D>>(
    e: &mut E,
    orgs: Option<&[OrgId]>,
    from: NaiveDate,
    to: NaiveDate,
    by: UsageBy,
) -> Result<Vec<UsageTotal>> {
    let key = match by {
        UsageBy::Requester => "requester",
        UsageBy::Provider => "provider",
        UsageBy::Entry => "entry_id",
        UsageBy::Grant => "grant_id",
        UsageBy::Day => "day",
    };
    let mut q = sql(format!(
        "SELECT {key}, CAST(SUM(accesses) AS BIGINT), CAST(SUM(rows) AS BIGINT), CAST(SUM(refusals) AS BIGINT)
         FROM usage_daily WHERE day >= $1 AND day <= $2"
    ))
    .binds((from, to));
    if let Some(orgs) = orgs {
        let p = q.param(Arg::Ids(orgs.iter().map(|o| o.0).collect()));
        let filter = match by {
            UsageBy::Requester => D::any("requester", &p),
            UsageBy::Provider => D::any("provider", &p),
            _ => format!("({} OR {})", D::any("requester", &p), D::any("provider", &p)),
        };
        q.text(&format!(" AND {filter}")).planned_per_call();
    }
    q.text(&format!(" GROUP BY {key} ORDER BY {key}"));
    let rows = q.rows(e).await?;
    rows.iter()
        .map(|r| {
            let key = match by {
                UsageBy::Requester | UsageBy::Provider => UsageKey::Org(r.get(0)?),
                UsageBy::Entry => UsageKey::Entry(r.get(0)?),
                UsageBy::Grant => {
                    let g: Uuid = r.get(0)?;
                    UsageKey::Grant((!g.is_nil()).then_some(govshare_domain::grant::GrantId(g)))
                }
                UsageBy::Day => UsageKey::Day(r.get(0)?),
            };
            Ok(UsageTotal { key, accesses: count(r, 1)?, rows: count(r, 2)?, refusals: count(r, 3)? })
        })
        .collect()
}

/// Adds a batch of usage records to the daily roll-up, in the batch's transaction: one upsert per group.
pub async fn roll_up<D: Dialect>(tx: &mut Tx<D>, records: &[UsageRecord]) -> Result<()> {
    type Group = (NaiveDate, OrgId, OrgId, Uuid, Uuid);
    let mut groups: HashMap<Group, (i64, i64, i64)> = HashMap::new();
    for r in records {
        let key = (beijing_day(r.at), r.requester, r.provider, r.entry.0, r.grant.map_or(Uuid::nil(), |g| g.0));
        let g = groups.entry(key).or_default();
        g.0 += 1;
        g.1 += i64::try_from(r.rows).unwrap_or(i64::MAX);
        g.2 += i64::from(!matches!(r.result.as_str(), "ok" | "not_found"));
    }
    let mut groups: Vec<(Group, (i64, i64, i64))> = groups.into_iter().collect();
    // One order for every writer, so that concurrent batches lock the roll-up's rows without deadlocking.
    groups.sort_unstable_by_key(|(k, _)| *k);
    for chunk in groups.chunks(ROWS_PER_STATEMENT) {
        let mut q = sql(format!(
            "INSERT INTO usage_daily (day, requester, provider, entry_id, grant_id, accesses, rows, refusals)
             VALUES {}
             ON CONFLICT (day, requester, provider, entry_id, grant_id) DO UPDATE SET
                 accesses = usage_daily.accesses + excluded.accesses, rows = usage_daily.rows + excluded.rows,
                 refusals = usage_daily.refusals + excluded.refusals",
            values(1, chunk.len(), 8)
        ));
        for ((day, requester, provider, entry, grant), (accesses, rows, refusals)) in chunk {
            q.push(*day).push(*requester).push(*provider).push(*entry).push(*grant);
            q.push(*accesses).push(*rows).push(*refusals);
        }
        q.execute(tx).await?;
    }
    Ok(())
}
