-- Tactical HQ: verification, teams with leads, addressed and encrypted comms with receipts and
-- attachments, encrypted verification documents, incidents by department, stress check-ins,
-- and the id of the master key that wraps new data keys.

ALTER TABLE tactical_users ADD COLUMN tactical_user_id TEXT;
ALTER TABLE tactical_users ADD COLUMN requested_clearance TEXT
  CHECK (requested_clearance IN ('public', 'confidential', 'secret', 'top_secret'));
ALTER TABLE tactical_users ADD COLUMN is_verifier INTEGER NOT NULL DEFAULT 0 CHECK (is_verifier IN (0, 1));
ALTER TABLE tactical_users ADD COLUMN verified_by TEXT;
ALTER TABLE tactical_users ADD COLUMN verified_at TEXT;
ALTER TABLE tactical_users ADD COLUMN updated_at TEXT;
CREATE UNIQUE INDEX tactical_users_by_tactical_id ON tactical_users (tactical_user_id);

ALTER TABLE tactical_teams ADD COLUMN lead_user_id TEXT;
CREATE INDEX tactical_teams_by_department ON tactical_teams (department);

-- `audience` says who a comm is for: its listed recipients, a team, or the sender's department.
-- `label` keeps the app's own word for the type (alert, briefing, …) beside the canonical one.
ALTER TABLE tactical_comms ADD COLUMN audience TEXT NOT NULL DEFAULT 'direct'
  CHECK (audience IN ('direct', 'team', 'department'));
ALTER TABLE tactical_comms ADD COLUMN label TEXT;
ALTER TABLE tactical_comms ADD COLUMN related_incident_id TEXT;
ALTER TABLE tactical_comms ADD COLUMN client_encrypted INTEGER NOT NULL DEFAULT 0 CHECK (client_encrypted IN (0, 1));
ALTER TABLE tactical_comms ADD COLUMN blob_path TEXT;
CREATE INDEX tactical_comms_by_department ON tactical_comms (department, sent_at);
-- Lists walk comms newest first and stop at a page: without it every list sorts every comm.
CREATE INDEX tactical_comms_by_time ON tactical_comms (sent_at, comm_id);

CREATE TABLE tactical_comm_recipients (
  comm_id  TEXT NOT NULL REFERENCES tactical_comms(comm_id),
  user_id  TEXT NOT NULL,
  PRIMARY KEY (comm_id, user_id)
) WITHOUT ROWID;
CREATE INDEX tactical_comm_recipients_by_user ON tactical_comm_recipients (user_id);

CREATE TABLE tactical_comm_receipts (
  comm_id          TEXT NOT NULL REFERENCES tactical_comms(comm_id),
  user_id          TEXT NOT NULL,
  read_at          TEXT,
  acknowledged_at  TEXT,
  PRIMARY KEY (comm_id, user_id)
) WITHOUT ROWID;

-- File names are sealed with the comm's data key: no plaintext of a secure comm in the database.
CREATE TABLE tactical_attachments (
  file_id       TEXT PRIMARY KEY,
  comm_id       TEXT NOT NULL REFERENCES tactical_comms(comm_id),
  name_sealed   BLOB NOT NULL,
  content_type  TEXT NOT NULL,
  size_bytes    INTEGER NOT NULL,
  blob_path     TEXT NOT NULL,
  uploaded_by   TEXT NOT NULL,
  created_at    TEXT NOT NULL
);
CREATE INDEX tactical_attachments_by_comm ON tactical_attachments (comm_id, created_at);

CREATE TABLE tactical_documents (
  document_id   TEXT PRIMARY KEY,
  user_id       TEXT NOT NULL REFERENCES tactical_users(user_id),
  name_sealed   BLOB NOT NULL,
  content_type  TEXT NOT NULL,
  size_bytes    INTEGER NOT NULL,
  blob_path     TEXT NOT NULL,
  wrapped_key   BLOB NOT NULL,
  key_id        TEXT NOT NULL,
  created_at    TEXT NOT NULL
);
CREATE INDEX tactical_documents_by_user ON tactical_documents (user_id, created_at);

ALTER TABLE tactical_incidents ADD COLUMN department TEXT;
ALTER TABLE tactical_incidents ADD COLUMN escalations INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tactical_incidents ADD COLUMN resolved_at TEXT;
CREATE INDEX tactical_incidents_by_department ON tactical_incidents (department, status, reported_at);

-- Stress-resilience check-ins: readable by their member only.
CREATE TABLE tactical_sr_checkins (
  session_id    TEXT PRIMARY KEY,
  user_id       TEXT NOT NULL,
  session_type  TEXT NOT NULL,
  indicators    TEXT NOT NULL,
  stress_level  REAL NOT NULL,
  band          TEXT NOT NULL,
  created_at    TEXT NOT NULL
);
CREATE INDEX tactical_sr_checkins_by_user ON tactical_sr_checkins (user_id, created_at);

-- Which master key wraps new data keys. `optima keys rotate` changes it in the transaction that
-- re-wraps the existing keys, so a server never wraps with a key the rotation has retired.
CREATE TABLE key_state (
  name    TEXT PRIMARY KEY,
  key_id  TEXT NOT NULL
);

CREATE INDEX audit_log_by_action ON audit_log (action, created_at);
