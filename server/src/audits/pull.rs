//! Pull: what changed for an auditor since their cursor (SPEC §6).
//!
//! Without a cursor the auditor gets the whole current state, page by
//! page; after that, deltas from the change log. A cursor is a position in
//! the log (numbered in commit order, see `db::sync`), and while the first
//! pull is still paging, also the last assignment handed over.

use std::collections::{BTreeMap, BTreeSet};

use axum::body::Bytes;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use sea_orm::DatabaseConnection;
use storecheck_shared::sync::PullResponse;
use tracing::instrument;
use uuid::Uuid;

use crate::db;
use crate::db::sync::{AtPosition, LogHead};
use crate::entities::enums::{AssignmentStatus, ChangeEntity};
use crate::error::ApiError;

/// Where a pull resumes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Cursor {
    /// Paging the current state as of log position `upto`, after `after`.
    Snapshot { upto: i64, after: Uuid },
    /// Every change up to this position has been handed over.
    Log(i64),
}

impl Cursor {
    fn encode(self) -> String {
        match self {
            Cursor::Log(seq) => B64.encode(format!("v1:{seq}")),
            Cursor::Snapshot { upto, after } => B64.encode(format!("v1:{upto}:{after}")),
        }
    }

    fn decode(c: &str) -> Option<Cursor> {
        let raw = B64.decode(c).ok()?;
        let text = std::str::from_utf8(&raw).ok()?.strip_prefix("v1:")?;
        let mut parts = text.splitn(2, ':');
        let seq: i64 = parts.next()?.parse().ok().filter(|n: &i64| *n >= 0)?;
        match parts.next() {
            None => Some(Cursor::Log(seq)),
            Some(id) => Some(Cursor::Snapshot {
                upto: seq,
                after: Uuid::parse_str(id).ok()?,
            }),
        }
    }

    fn position(self) -> i64 {
        match self {
            Cursor::Log(n) | Cursor::Snapshot { upto: n, .. } => n,
        }
    }
}

/// Recent pull answers as sent, each with the log position it was made at.
/// The answer to a pull depends only on the auditor, the cursor, the page
/// size and the data, and every change to what a pull shows moves the log
/// (see `db::sync`): while the log stands where it stood, the same pull
/// gets the same answer, from any server.
pub struct PullCache(AtPosition<PullKey, Bytes>);

type PullKey = (Uuid, Option<Cursor>, u64);

/// Answers kept at most; the cache starts over when full.
const PULL_CACHE_ENTRIES: usize = 4096;
/// Larger answers are not kept.
const PULL_CACHE_MAX_ASSIGNMENTS: usize = 100;

impl Default for PullCache {
    fn default() -> Self {
        PullCache(AtPosition::new(PULL_CACHE_ENTRIES))
    }
}

fn resync(message: &str) -> ApiError {
    ApiError::conflict(
        "resync_required",
        format!("{message}: drop the cursor and pull again from scratch"),
    )
    .with_detail("cursor", "pull without a cursor")
}

/// One page of what changed for `auditor` since `cursor`, at most `limit`
/// assignments or log entries: the JSON body of the answer.
#[instrument(skip_all, fields(auditor = %auditor, first = cursor.is_none()))]
pub async fn pull(
    db: &DatabaseConnection,
    cache: &PullCache,
    head: &LogHead,
    auditor: Uuid,
    cursor: Option<&str>,
    limit: u64,
) -> Result<Bytes, ApiError> {
    let cursor = match cursor {
        None => None,
        Some(c) => Some(
            Cursor::decode(c).ok_or_else(|| resync("the cursor is not one this server gave"))?,
        ),
    };
    // Everything numbered up to here is committed (see db::sync); a cursor
    // another server gave may be ahead of what this one has heard of yet.
    let upto = head
        .position(db, cursor.map_or(0, Cursor::position))
        .await?;
    if cursor.is_some_and(|c| c.position() > upto) {
        return Err(resync("the cursor is ahead of this server's data"));
    }
    let key = (auditor, cursor, limit);
    if let Some(hit) = cache.0.get(&key, upto) {
        return Ok(hit);
    }
    let response = compute(db, auditor, cursor, upto, limit).await?;
    let body = Bytes::from(serde_json::to_vec(&response).map_err(ApiError::internal)?);
    if response.assignments.len() <= PULL_CACHE_MAX_ASSIGNMENTS {
        cache.0.put(key, upto, body.clone());
    }
    Ok(body)
}

async fn compute(
    db: &DatabaseConnection,
    auditor: Uuid,
    cursor: Option<Cursor>,
    upto: i64,
    limit: u64,
) -> Result<PullResponse, ApiError> {
    let page = usize::try_from(limit).unwrap_or(usize::MAX);
    let mut audit_ids = Vec::new();
    let (next, has_more, in_force, removed, stores) = match cursor {
        // The current state as of `upto`; changes after it come as deltas.
        None | Some(Cursor::Snapshot { .. }) => {
            let (upto, after) = match cursor {
                Some(Cursor::Snapshot { upto, after }) => (upto, Some(after)),
                _ => (upto, None),
            };
            if cursor.is_none() {
                // A phone starting afresh learns what it must send again.
                audit_ids = db::audits::returned_to(db, auditor).await?;
            }
            let mut rows = db::assignments::scheduled_for(db, auditor, after, limit).await?;
            let has_more = rows.len() > page;
            rows.truncate(page);
            let next = match rows.last() {
                Some((last, _)) if has_more => Cursor::Snapshot {
                    upto,
                    after: last.id,
                },
                _ => Cursor::Log(upto),
            };
            let mut stores = BTreeMap::new();
            let mut in_force = Vec::with_capacity(rows.len());
            for (a, store) in rows {
                let store = store.ok_or_else(|| {
                    ApiError::internal(anyhow::anyhow!("assignment {} has no store", a.id))
                })?;
                stores.insert(store.id, store);
                in_force.push(a);
            }
            (
                next,
                has_more,
                in_force,
                Vec::new(),
                stores.into_values().collect(),
            )
        }
        Some(Cursor::Log(after)) => {
            // Nothing was committed since: the common poll reads nothing.
            let mut changes = if after >= upto {
                Vec::new()
            } else {
                db::sync::changes(db, auditor, after, upto, limit).await?
            };
            let has_more = changes.len() > page;
            changes.truncate(page);
            let last = match changes.last() {
                Some(c) if has_more => c.seq,
                _ => upto,
            };
            let mut assignment_ids = BTreeSet::new();
            for c in changes {
                match c.entity {
                    ChangeEntity::Assignment => {
                        assignment_ids.insert(c.entity_id);
                    }
                    ChangeEntity::Audit => audit_ids.push(c.entity_id),
                }
            }
            let ids: Vec<Uuid> = assignment_ids.into_iter().collect();
            let rows = db::assignments::by_ids(db, &ids).await?;
            let (in_force, removed): (Vec<_>, Vec<_>) = rows
                .into_iter()
                .partition(|a| a.auditor_id == auditor && a.status == AssignmentStatus::Scheduled);
            let store_ids: Vec<Uuid> = in_force
                .iter()
                .map(|a| a.store_id)
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            let stores = db::stores::by_ids(db, &store_ids).await?;
            (
                Cursor::Log(last),
                has_more,
                in_force,
                removed.into_iter().map(|a| a.id).collect(),
                stores,
            )
        }
    };
    let versions: BTreeSet<Uuid> = in_force.iter().map(|a| a.checklist_version_id).collect();
    audit_ids.sort_unstable();
    audit_ids.dedup();
    let audits = if audit_ids.is_empty() {
        Vec::new()
    } else {
        let rows = db::audits::of_auditor(db, auditor, audit_ids).await?;
        let listed = db::photos::listed_in_force(db, &rows).await?;
        rows.iter()
            .map(|a| {
                let mut state = super::push::state_of(a)?;
                let own: Vec<_> = listed
                    .iter()
                    .filter(|p| p.audit_id == a.id)
                    .cloned()
                    .collect();
                state.photos = Some(crate::photos::progress(&own));
                Ok(state)
            })
            .collect::<Result<Vec<_>, ApiError>>()?
    };
    Ok(PullResponse {
        cursor: next.encode(),
        has_more,
        assignments: in_force.into_iter().map(db::assignments::to_wire).collect(),
        removed_assignments: removed,
        stores: stores.into_iter().map(db::stores::to_wire).collect(),
        checklist_version_ids: versions.into_iter().collect(),
        audits,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip() {
        let id = Uuid::now_v7();
        for c in [
            Cursor::Log(0),
            Cursor::Log(42),
            Cursor::Snapshot { upto: 7, after: id },
        ] {
            assert_eq!(Cursor::decode(&c.encode()), Some(c));
        }
        assert_eq!(Cursor::decode("not base64!"), None);
        assert_eq!(Cursor::decode(&B64.encode("v1:-1")), None);
        assert_eq!(Cursor::decode(&B64.encode("v1:3:nope")), None);
        assert_eq!(Cursor::decode(&B64.encode("v2:3")), None);
    }
}
