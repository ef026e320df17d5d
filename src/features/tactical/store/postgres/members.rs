//! SQL of members on PostgreSQL: profiles, teams and verification documents.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;
use uuid::Uuid;

use super::super::{FileRow, ProfileRow, TeamRow, Verification};
use super::{id_text, opt_text, signed, text, time, unsigned, write_id};
use crate::error::AppResult;

// ---- profiles ------------------------------------------------------------------------------

const PROFILE_COLUMNS: &str = "user_id, tactical_user_id, rank, department, service_branch, badge_number, clearance_level,
    requested_clearance, verified_status, operational_status, is_verifier, team_id, verified_by, verified_at, registered_at";

fn profile_of(r: &Row) -> AppResult<ProfileRow> {
    Ok(ProfileRow {
        user_id: r.try_get(0)?,
        tactical_user_id: id_text(r.try_get(1)?).unwrap_or_default(),
        rank: r.try_get(2)?,
        department: r.try_get::<_, Option<String>>(3)?.unwrap_or_default(),
        service_branch: r.try_get::<_, Option<String>>(4)?.unwrap_or_default(),
        badge_number: r.try_get(5)?,
        clearance: r.try_get(6)?,
        requested_clearance: r.try_get(7)?,
        verified_status: r.try_get(8)?,
        operational_status: r.try_get(9)?,
        is_verifier: r.try_get(10)?,
        team_id: id_text(r.try_get(11)?),
        verified_by: r.try_get(12)?,
        verified_at: opt_text(r.try_get(13)?),
        registered_at: text(r.try_get::<_, DateTime<Utc>>(14)?),
    })
}

/// The member's profile; with `share`, locked against changes until the transaction ends.
pub(super) async fn profile(c: &impl GenericClient, user_id: &str, share: bool) -> AppResult<Option<ProfileRow>> {
    let lock = if share { " FOR SHARE" } else { "" };
    let stmt = c.prepare_cached(&format!("SELECT {PROFILE_COLUMNS} FROM tactical_users WHERE user_id = $1{lock}")).await?;
    c.query_opt(&stmt, &[&user_id]).await?.as_ref().map(profile_of).transpose()
}

/// Profiles by verification status and department (all when `None`), oldest registration first.
pub(super) async fn profiles(c: &impl GenericClient, status: Option<&str>, department: Option<&str>, limit: u32, offset: u32) -> AppResult<Vec<ProfileRow>> {
    let stmt = c
        .prepare_cached(&format!(
            "SELECT {PROFILE_COLUMNS} FROM tactical_users
             WHERE ($1::text IS NULL OR verified_status = $1) AND ($2::text IS NULL OR department = $2)
             ORDER BY registered_at, user_id COLLATE \"C\" LIMIT $3 OFFSET $4"
        ))
        .await?;
    let rows = c.query(&stmt, &[&status, &department, &i64::from(limit), &i64::from(offset)]).await?;
    rows.iter().map(profile_of).collect()
}

/// Inserts the profile; false when the user has one already (a concurrent registration of the
/// same user waits for the first to commit, then finds it).
pub(super) async fn insert_profile(c: &impl GenericClient, p: &ProfileRow) -> AppResult<bool> {
    let (tactical_id, at) = (write_id(&p.tactical_user_id)?, time(&p.registered_at)?);
    let stmt = c
        .prepare_cached(
            "INSERT INTO tactical_users (user_id, tactical_user_id, rank, department, service_branch, badge_number,
               clearance_level, requested_clearance, verified_status, operational_status, registered_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, 'public', $7, 'pending', 'off_duty', $8, $8)
             ON CONFLICT (user_id) DO NOTHING",
        )
        .await?;
    let inserted = c
        .execute(&stmt, &[&p.user_id, &tactical_id, &p.rank, &p.department, &p.service_branch, &p.badge_number, &p.requested_clearance, &at])
        .await?;
    Ok(inserted == 1)
}

pub(super) async fn set_verification(c: &impl GenericClient, user_id: &str, v: &Verification) -> AppResult<()> {
    let at = time(&v.at)?;
    let stmt = c
        .prepare_cached(
            "UPDATE tactical_users SET verified_status = $2, clearance_level = $3, is_verifier = $4, verified_by = $5,
               verified_at = $6, updated_at = $6 WHERE user_id = $1",
        )
        .await?;
    c.execute(&stmt, &[&user_id, &v.status, &v.clearance, &v.verifier, &v.by, &at]).await?;
    Ok(())
}

pub(super) async fn set_operational_status(c: &impl GenericClient, user_id: &str, status: &str, at: DateTime<Utc>) -> AppResult<()> {
    let stmt = c.prepare_cached("UPDATE tactical_users SET operational_status = $2, updated_at = $3 WHERE user_id = $1").await?;
    c.execute(&stmt, &[&user_id, &status, &at]).await?;
    Ok(())
}

pub(super) async fn set_team(c: &impl GenericClient, user_id: &str, team_id: Option<Uuid>, at: DateTime<Utc>) -> AppResult<()> {
    let stmt = c.prepare_cached("UPDATE tactical_users SET team_id = $2, updated_at = $3 WHERE user_id = $1").await?;
    c.execute(&stmt, &[&user_id, &team_id, &at]).await?;
    Ok(())
}

// ---- teams ---------------------------------------------------------------------------------

const TEAM_COLUMNS: &str = "team_id, team_name, team_type, department, lead_user_id, created_at";

fn team_of(r: &Row) -> AppResult<TeamRow> {
    Ok(TeamRow {
        team_id: r.try_get::<_, Uuid>(0)?.to_string(),
        team_name: r.try_get(1)?,
        team_type: r.try_get(2)?,
        department: r.try_get::<_, Option<String>>(3)?.unwrap_or_default(),
        lead_user_id: r.try_get(4)?,
        created_at: text(r.try_get::<_, DateTime<Utc>>(5)?),
    })
}

pub(super) async fn team(c: &impl GenericClient, team_id: Uuid) -> AppResult<Option<TeamRow>> {
    let stmt = c.prepare_cached(&format!("SELECT {TEAM_COLUMNS} FROM tactical_teams WHERE team_id = $1")).await?;
    c.query_opt(&stmt, &[&team_id]).await?.as_ref().map(team_of).transpose()
}

pub(super) async fn teams_of_department(c: &impl GenericClient, department: &str) -> AppResult<Vec<TeamRow>> {
    let stmt = c
        .prepare_cached(&format!("SELECT {TEAM_COLUMNS} FROM tactical_teams WHERE department = $1 ORDER BY team_name COLLATE \"C\", team_id"))
        .await?;
    c.query(&stmt, &[&department]).await?.iter().map(team_of).collect()
}

pub(super) async fn insert_team(c: &impl GenericClient, t: &TeamRow) -> AppResult<()> {
    let (id, at) = (write_id(&t.team_id)?, time(&t.created_at)?);
    let stmt = c
        .prepare_cached("INSERT INTO tactical_teams (team_id, team_name, team_type, department, lead_user_id, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
        .await?;
    c.execute(&stmt, &[&id, &t.team_name, &t.team_type, &t.department, &t.lead_user_id, &at]).await?;
    Ok(())
}

pub(super) async fn clear_team_lead(c: &impl GenericClient, team_id: Uuid) -> AppResult<()> {
    let stmt = c.prepare_cached("UPDATE tactical_teams SET lead_user_id = NULL WHERE team_id = $1").await?;
    c.execute(&stmt, &[&team_id]).await?;
    Ok(())
}

pub(super) async fn team_members(c: &impl GenericClient, team_id: Uuid) -> AppResult<Vec<ProfileRow>> {
    let stmt = c.prepare_cached(&format!("SELECT {PROFILE_COLUMNS} FROM tactical_users WHERE team_id = $1 ORDER BY user_id COLLATE \"C\"")).await?;
    c.query(&stmt, &[&team_id]).await?.iter().map(profile_of).collect()
}

// ---- documents -----------------------------------------------------------------------------

const DOCUMENT_COLUMNS: &str = "document_id, user_id, name_sealed, content_type, size_bytes, blob_path, created_at, wrapped_key, key_id";

fn document_of(r: &Row) -> AppResult<FileRow> {
    Ok(FileRow {
        id: r.try_get::<_, Uuid>(0)?.to_string(),
        owner: r.try_get(1)?,
        name_sealed: r.try_get(2)?,
        content_type: r.try_get(3)?,
        size_bytes: unsigned(r.try_get(4)?)?,
        blob_path: r.try_get(5)?,
        created_at: text(r.try_get::<_, DateTime<Utc>>(6)?),
        wrapped_key: r.try_get(7)?,
        key_id: r.try_get(8)?,
    })
}

pub(super) async fn insert_document(c: &impl GenericClient, f: &FileRow) -> AppResult<()> {
    let (id, size, at) = (write_id(&f.id)?, signed(f.size_bytes)?, time(&f.created_at)?);
    let stmt = c
        .prepare_cached(
            "INSERT INTO tactical_documents (document_id, user_id, name_sealed, content_type, size_bytes, blob_path, wrapped_key, key_id, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .await?;
    c.execute(&stmt, &[&id, &f.owner, &f.name_sealed, &f.content_type, &size, &f.blob_path, &f.wrapped_key, &f.key_id, &at]).await?;
    Ok(())
}

pub(super) async fn documents(c: &impl GenericClient, user_id: &str) -> AppResult<Vec<FileRow>> {
    let stmt = c
        .prepare_cached(&format!("SELECT {DOCUMENT_COLUMNS} FROM tactical_documents WHERE user_id = $1 ORDER BY created_at, document_id"))
        .await?;
    c.query(&stmt, &[&user_id]).await?.iter().map(document_of).collect()
}

pub(super) async fn document(c: &impl GenericClient, user_id: &str, document_id: Uuid) -> AppResult<Option<FileRow>> {
    let stmt = c.prepare_cached(&format!("SELECT {DOCUMENT_COLUMNS} FROM tactical_documents WHERE user_id = $1 AND document_id = $2")).await?;
    c.query_opt(&stmt, &[&user_id, &document_id]).await?.as_ref().map(document_of).transpose()
}
