-- Tactical HQ: verification, teams with leads, addressed and encrypted comms with receipts and
-- attachments, encrypted verification documents, incidents by department, stress check-ins,
-- and the id of the master key that wraps new data keys. migrations/sqlite/V2__tactical.sql one
-- for one, in the types of V1 (uuid ids, timestamptz, boolean flags, bytea for sealed bytes).

ALTER TABLE tactical_users ADD COLUMN tactical_user_id uuid;
ALTER TABLE tactical_users ADD COLUMN requested_clearance text
  CHECK (requested_clearance IN ('public', 'confidential', 'secret', 'top_secret'));
ALTER TABLE tactical_users ADD COLUMN is_verifier boolean NOT NULL DEFAULT false;
ALTER TABLE tactical_users ADD COLUMN verified_by text;
ALTER TABLE tactical_users ADD COLUMN verified_at timestamptz;
ALTER TABLE tactical_users ADD COLUMN updated_at timestamptz;
CREATE UNIQUE INDEX tactical_users_by_tactical_id ON tactical_users (tactical_user_id);

ALTER TABLE tactical_teams ADD COLUMN lead_user_id text;
CREATE INDEX tactical_teams_by_department ON tactical_teams (department);

-- `audience` says who a comm is for: its listed recipients, a team, or the sender's department.
-- `label` keeps the app's own word for the type (alert, briefing, …) beside the canonical one.
-- `related_incident_id` is the client's free text (not checked against incidents): text.
ALTER TABLE tactical_comms ADD COLUMN audience text NOT NULL DEFAULT 'direct'
  CHECK (audience IN ('direct', 'team', 'department'));
ALTER TABLE tactical_comms ADD COLUMN label text;
ALTER TABLE tactical_comms ADD COLUMN related_incident_id text;
ALTER TABLE tactical_comms ADD COLUMN client_encrypted boolean NOT NULL DEFAULT false;
ALTER TABLE tactical_comms ADD COLUMN blob_path text;
CREATE INDEX tactical_comms_by_department ON tactical_comms (department, sent_at);
-- Lists walk comms newest first and stop at a page: without it every list sorts every comm.
CREATE INDEX tactical_comms_by_time ON tactical_comms (sent_at, comm_id);

-- SQLite's WITHOUT ROWID (a table clustered on its primary key) has no PostgreSQL equivalent
-- and needs none: these are plain tables with the same primary keys.
CREATE TABLE tactical_comm_recipients (
  comm_id  uuid NOT NULL REFERENCES tactical_comms(comm_id),
  user_id  text NOT NULL,
  PRIMARY KEY (comm_id, user_id)
);
CREATE INDEX tactical_comm_recipients_by_user ON tactical_comm_recipients (user_id);

CREATE TABLE tactical_comm_receipts (
  comm_id          uuid NOT NULL REFERENCES tactical_comms(comm_id),
  user_id          text NOT NULL,
  read_at          timestamptz,
  acknowledged_at  timestamptz,
  PRIMARY KEY (comm_id, user_id)
);

-- File names are sealed with the comm's data key: no plaintext of a secure comm in the database.
CREATE TABLE tactical_attachments (
  file_id       uuid PRIMARY KEY,
  comm_id       uuid NOT NULL REFERENCES tactical_comms(comm_id),
  name_sealed   bytea NOT NULL,
  content_type  text NOT NULL,
  size_bytes    bigint NOT NULL,
  blob_path     text NOT NULL,
  uploaded_by   text NOT NULL,
  created_at    timestamptz NOT NULL
);
CREATE INDEX tactical_attachments_by_comm ON tactical_attachments (comm_id, created_at);

CREATE TABLE tactical_documents (
  document_id   uuid PRIMARY KEY,
  user_id       text NOT NULL REFERENCES tactical_users(user_id),
  name_sealed   bytea NOT NULL,
  content_type  text NOT NULL,
  size_bytes    bigint NOT NULL,
  blob_path     text NOT NULL,
  wrapped_key   bytea NOT NULL,
  key_id        text NOT NULL,
  created_at    timestamptz NOT NULL
);
CREATE INDEX tactical_documents_by_user ON tactical_documents (user_id, created_at);

ALTER TABLE tactical_incidents ADD COLUMN department text;
ALTER TABLE tactical_incidents ADD COLUMN escalations bigint NOT NULL DEFAULT 0;
ALTER TABLE tactical_incidents ADD COLUMN resolved_at timestamptz;
CREATE INDEX tactical_incidents_by_department ON tactical_incidents (department, status, reported_at);

-- Stress-resilience check-ins: readable by their member only. `indicators` is a JSON document
-- (SQLite: its text).
CREATE TABLE tactical_sr_checkins (
  session_id    uuid PRIMARY KEY,
  user_id       text NOT NULL,
  session_type  text NOT NULL,
  indicators    jsonb NOT NULL,
  stress_level  double precision NOT NULL,
  band          text NOT NULL,
  created_at    timestamptz NOT NULL
);
CREATE INDEX tactical_sr_checkins_by_user ON tactical_sr_checkins (user_id, created_at);

-- Which master key wraps new data keys. `optima keys rotate` changes it in the transaction that
-- re-wraps the existing keys, so a server never wraps with a key the rotation has retired.
CREATE TABLE key_state (
  name    text PRIMARY KEY,
  key_id  text NOT NULL
);

CREATE INDEX audit_log_by_action ON audit_log (action, created_at);
