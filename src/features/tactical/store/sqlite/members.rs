//! SQL of members: profiles, teams and verification documents.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::super::{FileRow, ProfileRow, TeamRow};
use super::comms::attachment_of;
use crate::db::CachedSql;

// ---- profiles ------------------------------------------------------------------------------

const PROFILE_COLUMNS: &str = "user_id, tactical_user_id, rank, department, service_branch, badge_number, clearance_level,
    requested_clearance, verified_status, operational_status, is_verifier, team_id, verified_by, verified_at, registered_at";

fn profile_of(r: &Row<'_>) -> rusqlite::Result<ProfileRow> {
    Ok(ProfileRow {
        user_id: r.get(0)?,
        tactical_user_id: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
        rank: r.get(2)?,
        department: r.get::<_, Option<String>>(3)?.unwrap_or_default(),
        service_branch: r.get::<_, Option<String>>(4)?.unwrap_or_default(),
        badge_number: r.get(5)?,
        clearance: r.get(6)?,
        requested_clearance: r.get(7)?,
        verified_status: r.get(8)?,
        operational_status: r.get(9)?,
        is_verifier: r.get(10)?,
        team_id: r.get(11)?,
        verified_by: r.get(12)?,
        verified_at: r.get(13)?,
        registered_at: r.get(14)?,
    })
}

pub(super) fn profile(c: &Connection, user_id: &str) -> rusqlite::Result<Option<ProfileRow>> {
    c.query_row_cached(&format!("SELECT {PROFILE_COLUMNS} FROM tactical_users WHERE user_id = ?1"), [user_id], profile_of).optional()
}

/// Profiles by verification status and department (all when `None`), oldest registration first.
pub(super) fn profiles(c: &Connection, status: Option<&str>, department: Option<&str>, limit: u32, offset: u32) -> rusqlite::Result<Vec<ProfileRow>> {
    let mut stmt = c.prepare_cached(&format!(
        "SELECT {PROFILE_COLUMNS} FROM tactical_users WHERE (?1 IS NULL OR verified_status = ?1) AND (?2 IS NULL OR department = ?2)
         ORDER BY registered_at, user_id LIMIT ?3 OFFSET ?4"
    ))?;
    stmt.query_map(params![status, department, limit, offset], profile_of)?.collect()
}

/// Inserts the profile; false when the user has one already.
pub(super) fn insert_profile(c: &Connection, p: &ProfileRow) -> rusqlite::Result<bool> {
    Ok(c.execute_cached(
        "INSERT INTO tactical_users (user_id, tactical_user_id, rank, department, service_branch, badge_number,
           clearance_level, requested_clearance, verified_status, operational_status, registered_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'public', ?7, 'pending', 'off_duty', ?8, ?8)
         ON CONFLICT (user_id) DO NOTHING",
        params![p.user_id, p.tactical_user_id, p.rank, p.department, p.service_branch, p.badge_number, p.requested_clearance, p.registered_at],
    )? == 1)
}

pub(super) fn set_verification(c: &Connection, user_id: &str, status: &str, clearance: &str, verifier: bool, by: &str, at: &str) -> rusqlite::Result<()> {
    c.execute_cached(
        "UPDATE tactical_users SET verified_status = ?2, clearance_level = ?3, is_verifier = ?4, verified_by = ?5,
           verified_at = ?6, updated_at = ?6 WHERE user_id = ?1",
        params![user_id, status, clearance, verifier, by, at],
    )?;
    Ok(())
}

pub(super) fn set_operational_status(c: &Connection, user_id: &str, status: &str, at: &str) -> rusqlite::Result<()> {
    c.execute_cached("UPDATE tactical_users SET operational_status = ?2, updated_at = ?3 WHERE user_id = ?1", params![user_id, status, at])?;
    Ok(())
}

pub(super) fn set_team(c: &Connection, user_id: &str, team_id: Option<&str>, at: &str) -> rusqlite::Result<()> {
    c.execute_cached("UPDATE tactical_users SET team_id = ?2, updated_at = ?3 WHERE user_id = ?1", params![user_id, team_id, at])?;
    Ok(())
}

// ---- teams ---------------------------------------------------------------------------------

fn team_of(r: &Row<'_>) -> rusqlite::Result<TeamRow> {
    Ok(TeamRow {
        team_id: r.get(0)?,
        team_name: r.get(1)?,
        team_type: r.get(2)?,
        department: r.get::<_, Option<String>>(3)?.unwrap_or_default(),
        lead_user_id: r.get(4)?,
        created_at: r.get(5)?,
    })
}

const TEAM_COLUMNS: &str = "team_id, team_name, team_type, department, lead_user_id, created_at";

pub(super) fn team(c: &Connection, team_id: &str) -> rusqlite::Result<Option<TeamRow>> {
    c.query_row_cached(&format!("SELECT {TEAM_COLUMNS} FROM tactical_teams WHERE team_id = ?1"), [team_id], team_of).optional()
}

pub(super) fn teams_of_department(c: &Connection, department: &str) -> rusqlite::Result<Vec<TeamRow>> {
    let mut stmt = c.prepare_cached(&format!("SELECT {TEAM_COLUMNS} FROM tactical_teams WHERE department = ?1 ORDER BY team_name, team_id"))?;
    stmt.query_map([department], team_of)?.collect()
}

pub(super) fn insert_team(c: &Connection, t: &TeamRow) -> rusqlite::Result<()> {
    c.execute_cached(
        "INSERT INTO tactical_teams (team_id, team_name, team_type, department, lead_user_id, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![t.team_id, t.team_name, t.team_type, t.department, t.lead_user_id, t.created_at],
    )?;
    Ok(())
}

pub(super) fn set_team_lead(c: &Connection, team_id: &str, lead: Option<&str>) -> rusqlite::Result<()> {
    c.execute_cached("UPDATE tactical_teams SET lead_user_id = ?2 WHERE team_id = ?1", params![team_id, lead])?;
    Ok(())
}

pub(super) fn team_members(c: &Connection, team_id: &str) -> rusqlite::Result<Vec<ProfileRow>> {
    let mut stmt = c.prepare_cached(&format!("SELECT {PROFILE_COLUMNS} FROM tactical_users WHERE team_id = ?1 ORDER BY user_id"))?;
    stmt.query_map([team_id], profile_of)?.collect()
}

// ---- documents -----------------------------------------------------------------------------

fn document_of(r: &Row<'_>) -> rusqlite::Result<FileRow> {
    Ok(FileRow { wrapped_key: r.get(7)?, key_id: r.get(8)?, ..attachment_of(r)? })
}

const DOCUMENT_COLUMNS: &str = "document_id, user_id, name_sealed, content_type, size_bytes, blob_path, created_at, wrapped_key, key_id";

pub(super) fn insert_document(c: &Connection, f: &FileRow) -> rusqlite::Result<()> {
    c.execute_cached(
        "INSERT INTO tactical_documents (document_id, user_id, name_sealed, content_type, size_bytes, blob_path, wrapped_key, key_id, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![f.id, f.owner, f.name_sealed, f.content_type, f.size_bytes, f.blob_path, f.wrapped_key, f.key_id, f.created_at],
    )?;
    Ok(())
}

pub(super) fn documents(c: &Connection, user_id: &str) -> rusqlite::Result<Vec<FileRow>> {
    let mut stmt = c.prepare_cached(&format!("SELECT {DOCUMENT_COLUMNS} FROM tactical_documents WHERE user_id = ?1 ORDER BY created_at, document_id"))?;
    stmt.query_map([user_id], document_of)?.collect()
}

pub(super) fn document(c: &Connection, user_id: &str, document_id: &str) -> rusqlite::Result<Option<FileRow>> {
    c.query_row_cached(
        &format!("SELECT {DOCUMENT_COLUMNS} FROM tactical_documents WHERE user_id = ?1 AND document_id = ?2"),
        params![user_id, document_id],
        document_of,
    )
    .optional()
}

