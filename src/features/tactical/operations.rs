//! Tactical operations: incidents, the member dashboard, the situation report, stress-resilience
//! check-ins, and the audit log's API.

use chrono::{DateTime, Duration, Utc};

use super::situation::{self, CommFacts, IncidentFacts, ThreatReport};
use super::stress::{self, SessionType, StressReadings};
use super::audit::{self, Record};
use super::comms::since_field;
use super::model::*;
use super::service::{Member, TacticalService, ensure_self, now_text};
use super::store::{CheckInRow, IncidentRow, SituationFacts};
use crate::ai::text::{CallerFacts, TextRequest};
use crate::auth::{Caller, Role};
use crate::error::{AppError, AppResult};
use crate::features::fields::{required, trimmed};
use crate::features::page::Page;

const DASHBOARD_INCIDENTS: usize = 20;
/// Escalated and active incidents each that the dashboard reads before choosing its
/// [`DASHBOARD_INCIDENTS`].
const OPEN_INCIDENTS_READ: u32 = 200;

pub(super) fn incident_view(i: IncidentRow) -> Incident {
    Incident {
        severity: Severity::parse(&i.severity).unwrap_or(Severity::Low),
        status: IncidentStatus::parse(&i.status).unwrap_or(IncidentStatus::Active),
        incident_id: i.incident_id,
        title: i.title,
        description: i.description,
        location: i.location,
        department: i.department,
        reported_by: i.reported_by,
        escalations: i.escalations,
        reported_at: i.reported_at,
        updated_at: i.updated_at,
        resolved_at: i.resolved_at,
    }
}

fn parse_time(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).map(|t| t.with_timezone(&Utc)).unwrap_or_else(|_| Utc::now())
}

fn stored_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn incident_not_found(id: &str) -> AppError {
    AppError::NotFound { code: "incident_not_found", message: format!("no incident `{id}` in your department") }
}

impl TacticalService {
    pub async fn report_incident(&self, caller: &Caller, r: ReportIncident) -> AppResult<Incident> {
        audit::attempt("incident.report", &r.title);
        let me = self.member(caller).await?;
        let now = now_text();
        let row = IncidentRow {
            incident_id: uuid::Uuid::now_v7().to_string(),
            title: required("title", r.title, 200)?,
            description: required("description", r.description, 5_000)?,
            severity: Severity::field("severity", &r.severity)?.as_str().into(),
            status: IncidentStatus::Active.as_str().into(),
            location: trimmed("location", r.location, 200)?,
            department: me.profile.department.clone(),
            reported_by: caller.user_id.clone(),
            escalations: 0,
            reported_at: now.clone(),
            updated_at: now,
            resolved_at: None,
        };
        let detail = format!("severity={} department={}", row.severity, row.department);
        let record = Record::ok(&row.reported_by, "incident.report", &row.incident_id).detail(detail);
        self.store.insert_incident(row.clone(), record).await?;
        self.events.appended();
        audit::recorded();
        Ok(incident_view(row))
    }

    /// Moves an incident of the caller's department to `status`; each move to escalated counts.
    pub async fn update_incident(&self, caller: &Caller, incident_id: &str, u: IncidentUpdate) -> AppResult<Incident> {
        audit::attempt("incident.update", incident_id);
        let me = self.member(caller).await?;
        let status = IncidentStatus::field("status", &u.status)?;
        let (id, department, actor) = (incident_id.to_owned(), me.profile.department.clone(), caller.user_id.clone());
        let row = self
            .store
            .update_incident_status(
                incident_id,
                Box::new(move |current| {
                    let mut row = current.filter(|i| i.department == department).ok_or_else(|| incident_not_found(&id))?;
                    let before = row.status.clone();
                    let now = now_text();
                    if status == IncidentStatus::Escalated {
                        row.escalations += 1;
                    }
                    row.resolved_at = (status == IncidentStatus::Resolved).then(|| row.resolved_at.clone().unwrap_or_else(|| now.clone()));
                    row.status = status.as_str().into();
                    row.updated_at = now;
                    let record = Record::ok(&actor, "incident.update", &id).detail(format!("{before} -> {}", row.status));
                    Ok((row, record))
                }),
            )
            .await?;
        self.events.appended();
        audit::recorded();
        Ok(incident_view(row))
    }

    pub async fn incidents(&self, caller: &Caller, f: IncidentFilter) -> AppResult<IncidentPage> {
        audit::attempt("incident.list", "department");
        let me = self.member(caller).await?;
        let page = Page::new(f.limit, f.offset)?;
        let filter = IncidentFilter {
            status: f.status.as_deref().map(|s| IncidentStatus::field("status", s).map(|s| s.as_str().to_owned())).transpose()?,
            severity: f.severity.as_deref().map(|s| Severity::field("severity", s).map(|s| s.as_str().to_owned())).transpose()?,
            since: since_field("since", f.since)?,
            limit: page.limit,
            offset: page.offset,
        };
        let (rows, total) = self.store.incidents(&me.profile.department, &filter).await?;
        let has_more = page.has_more(rows.len(), total);
        let incidents: Vec<Incident> = rows.into_iter().map(incident_view).collect();
        self.record(Record::ok(&caller.user_id, "incident.list", &me.profile.department).detail(format!("returned={}", incidents.len())))
            .await?;
        Ok(IncidentPage { incidents, total, has_more })
    }

    /// The facts behind a situation report: the department's open and recent incidents and the
    /// emergency comms the member may see, over the last 48 hours.
    async fn situation(&self, me: &Member, now: DateTime<Utc>) -> AppResult<ThreatReport> {
        let since = stored_time(now - Duration::hours(48));
        let SituationFacts { incidents, emergencies } = self.store.situation_facts(&me.reader(), &since).await?;
        let facts: Vec<IncidentFacts> = incidents
            .into_iter()
            .map(|i| IncidentFacts {
                severity: Severity::parse(&i.severity).unwrap_or(Severity::Low),
                status: IncidentStatus::parse(&i.status).unwrap_or(IncidentStatus::Active),
                reported_at: parse_time(&i.reported_at),
                incident_id: i.incident_id,
                title: i.title,
                escalations: i.escalations,
                location: i.location,
            })
            .collect();
        let comms: Vec<CommFacts> = emergencies.iter().map(|t| CommFacts { sent_at: parse_time(t), emergency: true }).collect();
        Ok(situation::situation_report(now, &facts, &comms))
    }

    pub async fn dashboard(&self, caller: &Caller, user_id: &str) -> AppResult<Dashboard> {
        audit::attempt("dashboard.read", user_id);
        ensure_self(caller, user_id)?;
        let me = self.member(caller).await?;
        let now = Utc::now();
        let report = self.situation(&me, now).await?;
        let since = stored_time(now - Duration::hours(24));
        let facts = self.store.dashboard_facts(&me.reader(), &since, OPEN_INCIDENTS_READ).await?;
        let mut active_incidents: Vec<Incident> = facts.open_incidents.into_iter().map(incident_view).collect();
        active_incidents.sort_by(|a, b| b.severity.cmp(&a.severity).then_with(|| b.reported_at.cmp(&a.reported_at)));
        active_incidents.truncate(DASHBOARD_INCIDENTS);
        let team = match facts.team {
            Some(t) => {
                let view = self.team_view(t).await?;
                Some(TeamSummary { team_id: view.team_id, team_name: view.team_name, team_type: view.team_type, active_member_count: view.active_member_count })
            }
            None => None,
        };
        let (recent, unread) = (facts.recent_comms, facts.unread_comms);
        let mut insights = vec![format!(
            "Threat level {} (score {:.2}) from {} active situation(s)",
            report.overall_threat_level.as_str(),
            report.threat_score,
            report.active_situations.len()
        )];
        if unread > 0 {
            insights.push(format!("{unread} of {recent} comm(s) from the last 24 h are unread"));
        }
        if let Some(t) = &team {
            insights.push(format!("{} member(s) of {} on duty or deployed", t.active_member_count, t.team_name));
        } else {
            insights.push("You are not in a team: ask a team lead to add you".into());
        }
        insights.extend(report.recommendations.iter().take(2).cloned());
        let user = self.profile_view(me.profile).await?;
        self.record(Record::ok(&caller.user_id, "dashboard.read", user_id)).await?;
        Ok(Dashboard {
            user,
            active_incidents,
            team,
            recent_comms: recent,
            unread_comms: unread,
            threat_level: report.overall_threat_level.as_str().into(),
            ai_insights: insights,
        })
    }

    /// The situation report over what the member may see, with a narrative from a remote text
    /// provider when one is configured (the figures never depend on it). The one analysis type
    /// is `situational`, also when none is named.
    pub async fn situation_report(&self, caller: &Caller, user_id: &str, analysis_type: Option<&str>) -> AppResult<SituationReport> {
        let analysis_type = analysis_type.unwrap_or("situational");
        audit::attempt("analysis.situational", user_id);
        ensure_self(caller, user_id)?;
        if analysis_type != "situational" {
            return Err(AppError::invalid_field("analysisType", format!("unknown value `{analysis_type}`: use situational")));
        }
        let me = self.member(caller).await?;
        let report = self.situation(&me, Utc::now()).await?;
        let narrative = self.narrative(caller, &report).await;
        self.record(Record::ok(&caller.user_id, "analysis.situational", user_id).detail(format!("level={}", report.overall_threat_level.as_str())))
            .await?;
        Ok(SituationReport {
            user_id: user_id.to_owned(),
            analysis_type: analysis_type.to_owned(),
            threat_score: report.threat_score,
            overall_threat_level: report.overall_threat_level.as_str().into(),
            active_situations: report.active_situations.len() as u32,
            situations: report
                .active_situations
                .into_iter()
                .map(|s| Situation { incident_id: s.incident_id, title: s.title, severity: s.severity, status: s.status, score: s.score, location: s.location })
                .collect(),
            trends: Trends {
                incidents_last_24h: report.trends.incidents_last_24h,
                incidents_prior_24h: report.trends.incidents_prior_24h,
                escalated_now: report.trends.escalated_now,
                emergency_comms_last_24h: report.trends.emergency_comms_last_24h,
                direction: report.trends.direction.as_str().into(),
            },
            recommendations: report.recommendations,
            narrative,
            generated_at: now_text(),
        })
    }

    /// A short narrative of the computed figures (titles and counts only, never comm content).
    async fn narrative(&self, caller: &Caller, report: &ThreatReport) -> Option<String> {
        if self.text.model() == crate::ai::text::LOCAL_MODEL {
            return None;
        }
        let situations: Vec<String> =
            report.active_situations.iter().map(|s| format!("{} ({}, {}, score {:.2})", s.title, s.severity.as_str(), s.status.as_str(), s.score)).collect();
        let message = format!(
            "Threat level {} (score {:.2}). Active situations: {}. Incidents last 24 h: {}, the 24 h before: {}. Escalated: {}. Emergency comms last 24 h: {}. Recommendations: {}.",
            report.overall_threat_level.as_str(),
            report.threat_score,
            if situations.is_empty() { "none".into() } else { situations.join("; ") },
            report.trends.incidents_last_24h,
            report.trends.incidents_prior_24h,
            report.trends.escalated_now,
            report.trends.emergency_comms_last_24h,
            report.recommendations.join(" ")
        );
        let request = TextRequest {
            system: "You are a tactical operations analyst. Write a brief situation report narrative (at most five sentences) from the figures given. Do not invent facts.".into(),
            history: Vec::new(),
            message,
            temperature: 0.2,
            max_tokens: Some(300),
            facts: CallerFacts { tier: "unlimited".into(), ..CallerFacts::default() },
        };
        match self.text.complete(request).await {
            Ok(reply) => Some(reply.text),
            Err(e) => {
                tracing::warn!(user = %caller.user_id, error = %e, "situation report narrative unavailable");
                None
            }
        }
    }

    /// A stress-resilience check-in: scored, stored for the member, answered with advice.
    pub async fn check_in(&self, caller: &Caller, r: CheckIn) -> AppResult<CheckInResult> {
        audit::attempt("analysis.checkin", &r.user_id);
        ensure_self(caller, &r.user_id)?;
        self.member(caller).await?;
        let session_type = SessionType::parse(r.session_type.trim()).ok_or_else(|| {
            AppError::invalid_field(
                "sessionType",
                format!("unknown value `{}`: use stress_assessment, pre_deployment, post_incident, routine_check or crisis", r.session_type),
            )
        })?;
        let given = &r.stress_indicators;
        let indicators = StressReadings {
            heart_rate: given.heart_rate,
            sleep_quality: given.sleep_quality,
            mood_rating: given.mood_rating,
            recent_incidents: given.recent_incidents.clone().unwrap_or_default().iter().map(|s| s.trim().to_owned()).collect(),
        };
        stress::validate(&indicators).map_err(|(field, why)| match field {
            "stressIndicators" => AppError::invalid_field(field, why),
            field => AppError::invalid_field(&format!("stressIndicators.{field}"), why),
        })?;
        let result = stress::assess_stress(session_type, &indicators);
        let stored = StressIndicators { recent_incidents: Some(indicators.recent_incidents.clone()), ..r.stress_indicators };
        let row = CheckInRow {
            session_id: uuid::Uuid::now_v7().to_string(),
            user_id: r.user_id.clone(),
            session_type: session_type.as_str().into(),
            indicators: serde_json::to_string(&stored).map_err(AppError::internal)?,
            stress_level: result.stress_level,
            band: result.band.as_str().into(),
            created_at: now_text(),
        };
        // The audit names the session only: levels are health data, for the member alone.
        let record = Record::ok(&row.user_id, "analysis.checkin", &row.session_id);
        self.store.insert_checkin(row.clone(), record).await?;
        audit::recorded();
        Ok(CheckInResult {
            session: checkin_view(row, stored),
            analysis: result.analysis,
            recommendations: result.recommendations,
            support_resources: self.config.support_resources.clone(),
        })
    }

    /// The member's own check-ins; nobody else (not even an admin) reads them.
    pub async fn check_ins(&self, caller: &Caller, user_id: &str, limit: u32, offset: u32) -> AppResult<Vec<CheckInSession>> {
        audit::attempt("analysis.checkins_read", user_id);
        if caller.user_id != user_id {
            return Err(AppError::forbidden_code("member_only", "check-ins are readable by their member only"));
        }
        let page = Page::new(limit, offset)?;
        let rows = self.store.checkins(user_id, page.limit, page.offset).await?;
        let sessions = rows
            .into_iter()
            .map(|row| {
                let indicators = serde_json::from_str(&row.indicators).unwrap_or_default();
                checkin_view(row, indicators)
            })
            .collect();
        self.record(Record::ok(&caller.user_id, "analysis.checkins_read", user_id)).await?;
        Ok(sessions)
    }

    // ---- audit ---------------------------------------------------------------------------

    pub async fn audit_entries(&self, caller: &Caller, f: AuditFilter) -> AppResult<AuditPage> {
        audit::attempt("audit.read", "audit_log");
        ensure_admin(caller)?;
        let page = Page::new(f.limit, f.offset)?;
        let filter = AuditFilter { since: since_field("since", f.since)?, limit: page.limit, offset: page.offset, ..f };
        let (entries, total) = self.store.audit_entries(&filter).await?;
        let has_more = page.has_more(entries.len(), total);
        Ok(AuditPage { entries, total, has_more })
    }

    pub async fn verify_audit(&self, caller: &Caller) -> AppResult<AuditVerification> {
        audit::attempt("audit.verify", "audit_log");
        ensure_admin(caller)?;
        self.store.verify_audit().await
    }
}

fn ensure_admin(caller: &Caller) -> AppResult<()> {
    if caller.role == Role::Admin { Ok(()) } else { Err(AppError::forbidden_code("admin_only", "the audit log is for admins")) }
}

fn checkin_view(row: CheckInRow, indicators: StressIndicators) -> CheckInSession {
    CheckInSession {
        session_id: row.session_id,
        session_type: row.session_type,
        stress_level: row.stress_level,
        band: row.band,
        indicators,
        created_at: row.created_at,
    }
}
