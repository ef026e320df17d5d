//! SQL of incidents and stress check-ins.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::super::{CheckInRow, IncidentRow};
use crate::features::tactical::model::IncidentFilter;
use crate::db::CachedSql;

// ---- incidents -----------------------------------------------------------------------------

const INCIDENT_COLUMNS: &str =
    "incident_id, title, description, severity, status, location, department, reported_by, escalations, reported_at, updated_at, resolved_at";

fn incident_of(r: &Row<'_>) -> rusqlite::Result<IncidentRow> {
    Ok(IncidentRow {
        incident_id: r.get(0)?,
        title: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
        description: r.get::<_, Option<String>>(2)?.unwrap_or_default(),
        severity: r.get::<_, Option<String>>(3)?.unwrap_or_else(|| "low".into()),
        status: r.get(4)?,
        location: r.get(5)?,
        department: r.get::<_, Option<String>>(6)?.unwrap_or_default(),
        reported_by: r.get::<_, Option<String>>(7)?.unwrap_or_default(),
        escalations: r.get(8)?,
        reported_at: r.get(9)?,
        updated_at: r.get(10)?,
        resolved_at: r.get(11)?,
    })
}

pub(super) fn insert_incident(c: &Connection, i: &IncidentRow) -> rusqlite::Result<()> {
    c.execute_cached(
        "INSERT INTO tactical_incidents (incident_id, title, description, severity, status, location, department, reported_by,
           escalations, reported_at, updated_at) VALUES (?1, ?2, ?3, ?4, 'active', ?5, ?6, ?7, 0, ?8, ?8)",
        params![i.incident_id, i.title, i.description, i.severity, i.location, i.department, i.reported_by, i.reported_at],
    )?;
    Ok(())
}

pub(super) fn incident(c: &Connection, incident_id: &str) -> rusqlite::Result<Option<IncidentRow>> {
    c.query_row_cached(&format!("SELECT {INCIDENT_COLUMNS} FROM tactical_incidents WHERE incident_id = ?1"), [incident_id], incident_of).optional()
}

pub(super) fn save_incident_status(c: &Connection, i: &IncidentRow) -> rusqlite::Result<()> {
    c.execute_cached(
        "UPDATE tactical_incidents SET status = ?2, escalations = ?3, updated_at = ?4, resolved_at = ?5 WHERE incident_id = ?1",
        params![i.incident_id, i.status, i.escalations, i.updated_at, i.resolved_at],
    )?;
    Ok(())
}

/// A department's incidents matching `f`, newest first, and how many match.
pub(super) fn incidents(c: &Connection, department: &str, f: &IncidentFilter) -> rusqlite::Result<(Vec<IncidentRow>, u64)> {
    let filter = "department = ?1 AND (?2 IS NULL OR status = ?2) AND (?3 IS NULL OR severity = ?3) AND (?4 IS NULL OR reported_at >= ?4)";
    let total = c.query_row_cached(
        &format!("SELECT COUNT(*) FROM tactical_incidents WHERE {filter}"),
        params![department, f.status, f.severity, f.since],
        |r| r.get(0),
    )?;
    let mut stmt = c.prepare_cached(&format!(
        "SELECT {INCIDENT_COLUMNS} FROM tactical_incidents WHERE {filter} ORDER BY reported_at DESC, incident_id DESC LIMIT ?5 OFFSET ?6"
    ))?;
    let rows = stmt
        .query_map(params![department, f.status, f.severity, f.since, f.limit, f.offset], incident_of)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok((rows, total))
}

/// A department's active and escalated incidents, and any reported since `since`.
pub(super) fn situation_incidents(c: &Connection, department: &str, since: &str) -> rusqlite::Result<Vec<IncidentRow>> {
    let mut stmt = c.prepare_cached(&format!(
        "SELECT {INCIDENT_COLUMNS} FROM tactical_incidents
         WHERE department = ?1 AND (status IN ('active', 'escalated') OR reported_at >= ?2) ORDER BY reported_at DESC"
    ))?;
    stmt.query_map(params![department, since], incident_of)?.collect()
}

// ---- stress check-ins ----------------------------------------------------------------------

pub(super) fn insert_checkin(c: &Connection, r: &CheckInRow) -> rusqlite::Result<()> {
    c.execute_cached(
        "INSERT INTO tactical_sr_checkins (session_id, user_id, session_type, indicators, stress_level, band, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![r.session_id, r.user_id, r.session_type, r.indicators, r.stress_level, r.band, r.created_at],
    )?;
    Ok(())
}

pub(super) fn checkins(c: &Connection, user_id: &str, limit: u32, offset: u32) -> rusqlite::Result<Vec<CheckInRow>> {
    let mut stmt = c.prepare_cached(
        "SELECT session_id, user_id, session_type, indicators, stress_level, band, created_at FROM tactical_sr_checkins
         WHERE user_id = ?1 ORDER BY created_at DESC, session_id DESC LIMIT ?2 OFFSET ?3",
    )?;
    stmt.query_map(params![user_id, limit, offset], |r| {
        Ok(CheckInRow {
            session_id: r.get(0)?,
            user_id: r.get(1)?,
            session_type: r.get(2)?,
            indicators: r.get(3)?,
            stress_level: r.get(4)?,
            band: r.get(5)?,
            created_at: r.get(6)?,
        })
    })?
    .collect()
}
