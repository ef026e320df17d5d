//! SQL of incidents and stress check-ins on PostgreSQL.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;
use uuid::Uuid;

use super::super::{CheckInRow, IncidentRow};
use super::{opt_text, opt_time, text, time, unsigned, write_id};
use crate::error::{AppError, AppResult};
use crate::features::tactical::model::IncidentFilter;

// ---- incidents -----------------------------------------------------------------------------

const INCIDENT_COLUMNS: &str =
    "incident_id, title, description, severity, status, location, department, reported_by, escalations, reported_at, updated_at, resolved_at";

fn incident_of(r: &Row) -> AppResult<IncidentRow> {
    let escalations: i64 = r.try_get(8)?;
    Ok(IncidentRow {
        incident_id: r.try_get::<_, Uuid>(0)?.to_string(),
        title: r.try_get::<_, Option<String>>(1)?.unwrap_or_default(),
        description: r.try_get::<_, Option<String>>(2)?.unwrap_or_default(),
        severity: r.try_get::<_, Option<String>>(3)?.unwrap_or_else(|| "low".into()),
        status: r.try_get(4)?,
        location: r.try_get(5)?,
        department: r.try_get::<_, Option<String>>(6)?.unwrap_or_default(),
        reported_by: r.try_get::<_, Option<String>>(7)?.unwrap_or_default(),
        escalations: u32::try_from(escalations).map_err(AppError::internal)?,
        reported_at: text(r.try_get::<_, DateTime<Utc>>(9)?),
        updated_at: text(r.try_get::<_, DateTime<Utc>>(10)?),
        resolved_at: opt_text(r.try_get(11)?),
    })
}

pub(super) async fn insert_incident(c: &impl GenericClient, i: &IncidentRow) -> AppResult<()> {
    let (id, at) = (write_id(&i.incident_id)?, time(&i.reported_at)?);
    let stmt = c
        .prepare_cached(
            "INSERT INTO tactical_incidents (incident_id, title, description, severity, status, location, department, reported_by,
               escalations, reported_at, updated_at) VALUES ($1, $2, $3, $4, 'active', $5, $6, $7, 0, $8, $8)",
        )
        .await?;
    c.execute(&stmt, &[&id, &i.title, &i.description, &i.severity, &i.location, &i.department, &i.reported_by, &at]).await?;
    Ok(())
}

/// How a read incident is locked until the transaction ends.
#[derive(Clone, Copy)]
pub(super) enum Lock {
    /// None: a plain read.
    Plain,
    /// Against changes (an audience check reads it).
    Share,
    /// Against other changers (a status change reads it).
    Update,
}

pub(super) async fn incident(c: &impl GenericClient, incident_id: Uuid, lock: Lock) -> AppResult<Option<IncidentRow>> {
    let lock = match lock {
        Lock::Plain => "",
        Lock::Share => "FOR SHARE",
        Lock::Update => "FOR UPDATE",
    };
    let stmt = c.prepare_cached(&format!("SELECT {INCIDENT_COLUMNS} FROM tactical_incidents WHERE incident_id = $1 {lock}")).await?;
    c.query_opt(&stmt, &[&incident_id]).await?.as_ref().map(incident_of).transpose()
}

/// Saves the status, escalation count and times of `i` on the incident `incident_id`.
pub(super) async fn save_incident_status(c: &impl GenericClient, incident_id: Uuid, i: &IncidentRow) -> AppResult<()> {
    let (updated_at, resolved_at) = (time(&i.updated_at)?, opt_time(i.resolved_at.as_deref())?);
    let stmt = c
        .prepare_cached("UPDATE tactical_incidents SET status = $2, escalations = $3, updated_at = $4, resolved_at = $5 WHERE incident_id = $1")
        .await?;
    c.execute(&stmt, &[&incident_id, &i.status, &i64::from(i.escalations), &updated_at, &resolved_at]).await?;
    Ok(())
}

/// A department's incidents matching `f`, newest first, and how many match; run it in one
/// snapshot.
pub(super) async fn incidents(c: &impl GenericClient, department: &str, f: &IncidentFilter) -> AppResult<(Vec<IncidentRow>, u64)> {
    let filter = "department = $1 AND ($2::text IS NULL OR status = $2) AND ($3::text IS NULL OR severity = $3)
                  AND ($4::timestamptz IS NULL OR reported_at >= $4)";
    let since = opt_time(f.since.as_deref())?;
    let total = c.prepare_cached(&format!("SELECT COUNT(*) FROM tactical_incidents WHERE {filter}")).await?;
    let total = unsigned(c.query_one(&total, &[&department, &f.status, &f.severity, &since]).await?.try_get(0)?)?;
    let page = c
        .prepare_cached(&format!(
            "SELECT {INCIDENT_COLUMNS} FROM tactical_incidents WHERE {filter} ORDER BY reported_at DESC, incident_id DESC LIMIT $5 OFFSET $6"
        ))
        .await?;
    let rows = c.query(&page, &[&department, &f.status, &f.severity, &since, &i64::from(f.limit), &i64::from(f.offset)]).await?;
    Ok((rows.iter().map(incident_of).collect::<AppResult<Vec<_>>>()?, total))
}

/// A department's active and escalated incidents, and any reported since `since`, newest first.
pub(super) async fn situation_incidents(c: &impl GenericClient, department: &str, since: DateTime<Utc>) -> AppResult<Vec<IncidentRow>> {
    let stmt = c
        .prepare_cached(&format!(
            "SELECT {INCIDENT_COLUMNS} FROM tactical_incidents
             WHERE department = $1 AND (status IN ('active', 'escalated') OR reported_at >= $2) ORDER BY reported_at DESC, incident_id DESC"
        ))
        .await?;
    c.query(&stmt, &[&department, &since]).await?.iter().map(incident_of).collect()
}

// ---- stress check-ins ----------------------------------------------------------------------

pub(super) async fn insert_checkin(c: &impl GenericClient, r: &CheckInRow) -> AppResult<()> {
    let (id, at) = (write_id(&r.session_id)?, time(&r.created_at)?);
    let stmt = c
        .prepare_cached(
            "INSERT INTO tactical_sr_checkins (session_id, user_id, session_type, indicators, stress_level, band, created_at)
             VALUES ($1, $2, $3, $4::text::jsonb, $5, $6, $7)",
        )
        .await?;
    c.execute(&stmt, &[&id, &r.user_id, &r.session_type, &r.indicators, &r.stress_level, &r.band, &at]).await?;
    Ok(())
}

/// The member's check-ins, newest first. `indicators` (jsonb) comes back as compact JSON, its
/// keys in jsonb's order.
pub(super) async fn checkins(c: &impl GenericClient, user_id: &str, limit: u32, offset: u32) -> AppResult<Vec<CheckInRow>> {
    let stmt = c
        .prepare_cached(
            "SELECT session_id, user_id, session_type, indicators, stress_level, band, created_at FROM tactical_sr_checkins
             WHERE user_id = $1 ORDER BY created_at DESC, session_id DESC LIMIT $2 OFFSET $3",
        )
        .await?;
    let rows = c.query(&stmt, &[&user_id, &i64::from(limit), &i64::from(offset)]).await?;
    rows.iter()
        .map(|r| {
            Ok(CheckInRow {
                session_id: r.try_get::<_, Uuid>(0)?.to_string(),
                user_id: r.try_get(1)?,
                session_type: r.try_get(2)?,
                indicators: r.try_get::<_, serde_json::Value>(3)?.to_string(),
                stress_level: r.try_get(4)?,
                band: r.try_get(5)?,
                created_at: text(r.try_get::<_, DateTime<Utc>>(6)?),
            })
        })
        .collect()
}
