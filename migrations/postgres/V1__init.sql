-- Optima schema, version 1, for PostgreSQL: the tables, columns, constraints and indexes of
-- migrations/sqlite/V1__init.sql one for one, in PostgreSQL's own types:
--
-- - uuid for the ids the server makes (Uuid::now_v7); text for user ids (a token names any
--   1-128 character id: `optima token --user test_user`) and for every id a client or a provider
--   makes (webhook events, receipts, slugs, key ids). Stores format a uuid with `to_string()`
--   (hyphenated lowercase, as SQLite holds it): blob paths and AES-GCM associated data embed it.
-- - timestamptz for times (SQLite: RFC 3339 text, UTC, milliseconds), `now()` for defaults.
-- - boolean for SQLite's 0/1 flags (their CHECK (x IN (0, 1)) is the type itself).
-- - bigint for every integer (counters, sizes, tokens: one Rust type, i64), double precision
--   for REAL, bytea for BLOB, text[] for string lists and jsonb for JSON documents.
-- - citext for the username: SQLite's COLLATE NOCASE column compares and is unique without
--   case; citext (a trusted extension since PostgreSQL 13) does both, for equality in WHERE
--   as well.
-- - Default constraint names (`<table>_<column>_check`, `<table>_<column>_key`): a violation
--   names its column, which src/db/postgres turns into the same answers as SQLite's.

CREATE EXTENSION IF NOT EXISTS citext;

-- Accounts -------------------------------------------------------------------------------
CREATE TABLE users (
  user_id        text PRIMARY KEY,
  username       citext NOT NULL UNIQUE,
  password_hash  text NOT NULL,
  role           text NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin', 'service')),
  created_at     timestamptz NOT NULL DEFAULT now()
);

-- Subscriptions and usage ----------------------------------------------------------------
CREATE TABLE subscription_tiers (
  user_id                   text PRIMARY KEY,
  tier                      text NOT NULL DEFAULT 'free' CHECK (tier IN ('free', 'premium', 'unlimited')),
  subscription_id           uuid NOT NULL,
  status                    text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'pending', 'canceled')),
  billing_period            text CHECK (billing_period IN ('monthly', 'yearly')),
  payment_provider          text,
  external_subscription_id  text,
  current_period_start      timestamptz,
  current_period_end        timestamptz,
  upgraded_at               timestamptz
);

-- One row per user, feature and calendar window: `used` is committed use, `reserved` is use
-- held by work in progress (released if the work fails).
CREATE TABLE usage_counters (
  user_id       text NOT NULL,
  feature       text NOT NULL,
  window_start  timestamptz NOT NULL,
  used          bigint NOT NULL DEFAULT 0 CHECK (used >= 0),
  reserved      bigint NOT NULL DEFAULT 0 CHECK (reserved >= 0),
  PRIMARY KEY (user_id, feature, window_start)
);

CREATE TABLE subscription_changes (
  change_id    uuid PRIMARY KEY,
  user_id      text NOT NULL,
  changed_by   text NOT NULL,
  from_tier    text NOT NULL,
  to_tier      text NOT NULL,
  provider     text NOT NULL,
  receipt      text NOT NULL,
  changed_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX subscription_changes_by_user ON subscription_changes (user_id, changed_at);

-- Payments started with a provider and not yet confirmed by its webhook.
CREATE TABLE payments (
  payment_id      uuid PRIMARY KEY,
  external_id     text UNIQUE,
  user_id         text NOT NULL,
  tier            text NOT NULL,
  billing_period  text NOT NULL,
  amount_cents    bigint NOT NULL,
  currency        text NOT NULL,
  provider        text NOT NULL,
  status          text NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX payments_by_user ON payments (user_id, status, created_at);

-- Webhook events already applied: a replay of one is refused. The id is the provider's.
CREATE TABLE webhook_events (
  event_id     text PRIMARY KEY,
  provider     text NOT NULL,
  event_type   text NOT NULL,
  received_at  timestamptz NOT NULL DEFAULT now()
);

-- AI chat ----------------------------------------------------------------------------------
-- session_id is the server's; a client's own name for a session is `client_id` (V6).
CREATE TABLE chat_sessions (
  session_id  uuid PRIMARY KEY,
  user_id     text NOT NULL,
  context     text NOT NULL DEFAULT 'general',
  title       text,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX chat_sessions_by_user ON chat_sessions (user_id, updated_at);

CREATE TABLE chat_messages (
  message_id         uuid PRIMARY KEY,
  session_id         uuid NOT NULL REFERENCES chat_sessions(session_id) ON DELETE CASCADE,
  role               text NOT NULL CHECK (role IN ('user', 'assistant')),
  content            text NOT NULL,
  context            text NOT NULL DEFAULT 'general' CHECK (context IN ('general', 'writing', 'tactical')),
  model              text,
  prompt_tokens      bigint,
  completion_tokens  bigint,
  created_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX chat_messages_by_session ON chat_messages (session_id, created_at);

-- Music Studio -----------------------------------------------------------------------------
CREATE TABLE music_projects (
  project_id          uuid PRIMARY KEY,
  user_id             text NOT NULL,
  title               text NOT NULL,
  genre               text,
  bpm                 bigint CHECK (bpm BETWEEN 40 AND 200),
  mood                text,
  musical_key         text,
  status              text NOT NULL DEFAULT 'draft'
                      CHECK (status IN ('draft', 'generating', 'completed', 'published', 'archived')),
  visibility          text NOT NULL DEFAULT 'private' CHECK (visibility IN ('private', 'public')),
  storage_path        text NOT NULL,
  stem_count          bigint NOT NULL DEFAULT 0,
  total_plays         bigint NOT NULL DEFAULT 0,
  duration_seconds    double precision,
  current_version_id  uuid,
  last_error          text,
  -- The public share page's id (`/s/{share_slug}`), made when the project is first shared.
  share_slug          text UNIQUE,
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX music_projects_by_user ON music_projects (user_id, status, updated_at);

CREATE TABLE music_mix_versions (
  version_id        uuid PRIMARY KEY,
  project_id        uuid NOT NULL REFERENCES music_projects(project_id) ON DELETE CASCADE,
  storage_url       text NOT NULL,
  preview_url       text NOT NULL,
  midi_url          text,
  prompt            text,
  provider          text NOT NULL,
  duration_seconds  double precision NOT NULL,
  created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX music_mix_versions_by_project ON music_mix_versions (project_id, created_at);

-- storage_url holds the object path in r3al-studio-music; version_id is set for generated stems.
CREATE TABLE music_stems (
  stem_id       uuid PRIMARY KEY,
  project_id    uuid NOT NULL REFERENCES music_projects(project_id) ON DELETE CASCADE,
  version_id    uuid REFERENCES music_mix_versions(version_id) ON DELETE SET NULL,
  instrument    text NOT NULL,
  source        text NOT NULL CHECK (source IN ('generated', 'upload')),
  format        text NOT NULL,
  storage_url   text NOT NULL,
  size_bytes    bigint NOT NULL,
  duration      double precision NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX music_stems_by_project ON music_stems (project_id, created_at);

CREATE TABLE music_shares (
  share_id     uuid PRIMARY KEY,
  project_id   uuid NOT NULL REFERENCES music_projects(project_id) ON DELETE CASCADE,
  platform     text NOT NULL,
  share_url    text NOT NULL,
  share_count  bigint NOT NULL DEFAULT 0,
  caption      text,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  UNIQUE (project_id, platform)
);

-- Writers Guild ----------------------------------------------------------------------------
-- specialties: SQLite keeps a JSON array in text; here a text[].
CREATE TABLE guild_members (
  member_id            uuid PRIMARY KEY,
  user_id              text NOT NULL UNIQUE,
  pen_name             text,
  bio                  text,
  tier                 text NOT NULL DEFAULT 'novice' CHECK (tier IN ('novice', 'wordsmith', 'master')),
  total_words_written  bigint NOT NULL DEFAULT 0,
  total_projects       bigint NOT NULL DEFAULT 0,
  specialties          text[] NOT NULL DEFAULT '{}',
  joined_at            timestamptz NOT NULL DEFAULT now(),
  updated_at           timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE writing_projects (
  project_id          uuid PRIMARY KEY,
  user_id             text NOT NULL,
  title               text NOT NULL,
  genre               text,
  content_type        text NOT NULL DEFAULT 'other'
                      CHECK (content_type IN ('novel', 'short_story', 'screenplay', 'poetry', 'other')),
  description         text,
  word_count          bigint NOT NULL DEFAULT 0,
  mature_content      boolean NOT NULL DEFAULT false,
  status              text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'completed', 'archived')),
  storage_path        text NOT NULL,
  current_version_id  uuid,
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX writing_projects_by_user ON writing_projects (user_id, status, updated_at);

-- restored_from: the version (of the same project) this one restored.
CREATE TABLE writing_versions (
  version_id  uuid PRIMARY KEY,
  project_id  uuid NOT NULL REFERENCES writing_projects(project_id) ON DELETE CASCADE,
  author_id   text NOT NULL,
  word_count  bigint NOT NULL,
  size_bytes  bigint NOT NULL,
  sha256      text NOT NULL,
  restored_from uuid,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX writing_versions_by_project ON writing_versions (project_id, created_at);

CREATE TABLE writing_sessions (
  session_id        uuid PRIMARY KEY,
  project_id        uuid NOT NULL REFERENCES writing_projects(project_id) ON DELETE CASCADE,
  user_id           text NOT NULL,
  chapter_number    bigint,
  start_word_count  bigint NOT NULL DEFAULT 0,
  words_written     bigint NOT NULL DEFAULT 0,
  duration_seconds  bigint,
  started_at        timestamptz NOT NULL DEFAULT now(),
  last_activity_at  timestamptz NOT NULL DEFAULT now(),
  ended_at          timestamptz
);
CREATE INDEX writing_sessions_by_user ON writing_sessions (user_id, project_id, started_at);
CREATE INDEX writing_sessions_open ON writing_sessions (ended_at, last_activity_at);

-- Tactical HQ ------------------------------------------------------------------------------
CREATE TABLE tactical_teams (
  team_id      uuid PRIMARY KEY,
  team_name    text NOT NULL,
  team_type    text,
  department   text,
  created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE tactical_users (
  user_id             text PRIMARY KEY,
  rank                text,
  department          text,
  service_branch      text,
  badge_number        text,
  clearance_level     text NOT NULL DEFAULT 'public'
                      CHECK (clearance_level IN ('public', 'confidential', 'secret', 'top_secret')),
  verified_status     text NOT NULL DEFAULT 'pending' CHECK (verified_status IN ('pending', 'verified', 'denied')),
  operational_status  text NOT NULL DEFAULT 'off_duty' CHECK (operational_status IN ('off_duty', 'on_duty', 'deployed')),
  team_id             uuid REFERENCES tactical_teams(team_id),
  registered_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tactical_users_by_team ON tactical_users (team_id);
CREATE INDEX tactical_users_by_department ON tactical_users (department);

-- team_id is the sender's own team (the service refuses any other), so always a team's uuid.
CREATE TABLE tactical_comms (
  comm_id            uuid PRIMARY KEY,
  from_user_id       text REFERENCES tactical_users(user_id),
  to_user_id         text,
  team_id            uuid,
  department         text,
  message_type       text NOT NULL DEFAULT 'standard',
  priority           text NOT NULL DEFAULT 'normal',
  classification     text NOT NULL DEFAULT 'public',
  content            text,
  encrypted_content  text,
  is_encrypted       boolean NOT NULL DEFAULT false,
  wrapped_key        bytea,
  key_id             text,
  deleted_at         timestamptz,
  deleted_by         text,
  sent_at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tactical_comms_by_sender ON tactical_comms (from_user_id, sent_at);
CREATE INDEX tactical_comms_by_recipient ON tactical_comms (to_user_id, sent_at);
CREATE INDEX tactical_comms_by_team ON tactical_comms (team_id, sent_at);

CREATE TABLE tactical_incidents (
  incident_id  uuid PRIMARY KEY,
  title        text,
  description  text,
  severity     text CHECK (severity IN ('low', 'medium', 'high', 'critical')),
  status       text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'resolved', 'escalated')),
  location     text,
  reported_by  text REFERENCES tactical_users(user_id),
  reported_at  timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tactical_incidents_by_status ON tactical_incidents (status, reported_at);

-- Append-only, hash-chained record of security-relevant actions.
-- seq: SQLite's INTEGER PRIMARY KEY AUTOINCREMENT (never reused) is an identity column here.
-- BY DEFAULT rather than ALWAYS so that `optima db copy` can carry the SQLite numbers over (it
-- then moves the sequence past them with setval). A sequence hands out numbers in the order
-- transactions ask, not the order they commit: appends must take a lock first to keep the
-- chain one line (SQLite's single writer did that by itself).
-- detail stays text, not jsonb: entry_hash covers its exact bytes.
CREATE TABLE audit_log (
  seq         bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  actor_id    text NOT NULL,
  action      text NOT NULL,
  target      text,
  outcome     text NOT NULL,
  detail      text,
  prev_hash   text NOT NULL,
  entry_hash  text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_by_actor ON audit_log (actor_id, created_at);
-- SQLite's RAISE(ABORT) triggers. The error is an integrity constraint violation (SQLSTATE
-- 23000), answered as a 409 conflict like SQLite's. TRUNCATE, which SQLite does not have and
-- which fires no row trigger, is refused too.
CREATE FUNCTION audit_log_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only' USING ERRCODE = 'integrity_constraint_violation';
END
$$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION audit_log_is_append_only();
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION audit_log_is_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION audit_log_is_append_only();

-- Premium ----------------------------------------------------------------------------------
CREATE TABLE premium_image_generations (
  generation_id  uuid PRIMARY KEY,
  user_id        text NOT NULL,
  prompt         text NOT NULL,
  size           text,
  style          text,
  storage_url    text,
  thumbnail_url  text,
  model          text DEFAULT 'dall-e-3',
  created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX premium_image_generations_by_user ON premium_image_generations (user_id, created_at);
