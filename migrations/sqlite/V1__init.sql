-- Optima schema, version 1: the seed's four table groups translated from PostgreSQL to SQLite
-- (names kept; UUIDs and times as TEXT, times RFC 3339 UTC with milliseconds, arrays as JSON
-- text, booleans as 0/1) plus the tables the features need.

-- Accounts -------------------------------------------------------------------------------
CREATE TABLE users (
  user_id        TEXT PRIMARY KEY,
  username       TEXT NOT NULL UNIQUE COLLATE NOCASE,
  password_hash  TEXT NOT NULL,
  role           TEXT NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin', 'service')),
  created_at     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

-- Subscriptions and usage ----------------------------------------------------------------
CREATE TABLE subscription_tiers (
  user_id                   TEXT PRIMARY KEY,
  tier                      TEXT NOT NULL DEFAULT 'free' CHECK (tier IN ('free', 'premium', 'unlimited')),
  subscription_id           TEXT NOT NULL,
  status                    TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'pending', 'canceled')),
  billing_period            TEXT CHECK (billing_period IN ('monthly', 'yearly')),
  payment_provider          TEXT,
  external_subscription_id  TEXT,
  current_period_start      TEXT,
  current_period_end        TEXT,
  upgraded_at               TEXT
);

-- One row per user, feature and calendar window: `used` is committed use, `reserved` is use
-- held by work in progress (released if the work fails).
CREATE TABLE usage_counters (
  user_id       TEXT NOT NULL,
  feature       TEXT NOT NULL,
  window_start  TEXT NOT NULL,
  used          INTEGER NOT NULL DEFAULT 0 CHECK (used >= 0),
  reserved      INTEGER NOT NULL DEFAULT 0 CHECK (reserved >= 0),
  PRIMARY KEY (user_id, feature, window_start)
);

CREATE TABLE subscription_changes (
  change_id    TEXT PRIMARY KEY,
  user_id      TEXT NOT NULL,
  changed_by   TEXT NOT NULL,
  from_tier    TEXT NOT NULL,
  to_tier      TEXT NOT NULL,
  provider     TEXT NOT NULL,
  receipt      TEXT NOT NULL,
  changed_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX subscription_changes_by_user ON subscription_changes (user_id, changed_at);

-- Payments started with a provider and not yet confirmed by its webhook.
CREATE TABLE payments (
  payment_id      TEXT PRIMARY KEY,
  external_id     TEXT UNIQUE,
  user_id         TEXT NOT NULL,
  tier            TEXT NOT NULL,
  billing_period  TEXT NOT NULL,
  amount_cents    INTEGER NOT NULL,
  currency        TEXT NOT NULL,
  provider        TEXT NOT NULL,
  status          TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
  created_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  updated_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX payments_by_user ON payments (user_id, status, created_at);

-- Webhook events already applied: a replay of one is refused.
CREATE TABLE webhook_events (
  event_id     TEXT PRIMARY KEY,
  provider     TEXT NOT NULL,
  event_type   TEXT NOT NULL,
  received_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

-- AI chat ----------------------------------------------------------------------------------
CREATE TABLE chat_sessions (
  session_id  TEXT PRIMARY KEY,
  user_id     TEXT NOT NULL,
  context     TEXT NOT NULL DEFAULT 'general',
  title       TEXT,
  created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  updated_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX chat_sessions_by_user ON chat_sessions (user_id, updated_at);

CREATE TABLE chat_messages (
  message_id         TEXT PRIMARY KEY,
  session_id         TEXT NOT NULL REFERENCES chat_sessions(session_id) ON DELETE CASCADE,
  role               TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
  content            TEXT NOT NULL,
  context            TEXT NOT NULL DEFAULT 'general' CHECK (context IN ('general', 'writing', 'tactical')),
  model              TEXT,
  prompt_tokens      INTEGER,
  completion_tokens  INTEGER,
  created_at         TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX chat_messages_by_session ON chat_messages (session_id, created_at);

-- Music Studio -----------------------------------------------------------------------------
CREATE TABLE music_projects (
  project_id          TEXT PRIMARY KEY,
  user_id             TEXT NOT NULL,
  title               TEXT NOT NULL,
  genre               TEXT,
  bpm                 INTEGER CHECK (bpm BETWEEN 40 AND 200),
  mood                TEXT,
  musical_key         TEXT,
  status              TEXT NOT NULL DEFAULT 'draft'
                      CHECK (status IN ('draft', 'generating', 'completed', 'published', 'archived')),
  visibility          TEXT NOT NULL DEFAULT 'private' CHECK (visibility IN ('private', 'public')),
  storage_path        TEXT NOT NULL,
  stem_count          INTEGER NOT NULL DEFAULT 0,
  total_plays         INTEGER NOT NULL DEFAULT 0,
  duration_seconds    REAL,
  current_version_id  TEXT,
  last_error          TEXT,
  -- The public share page's id (`/s/{share_slug}`), made when the project is first shared.
  share_slug          TEXT UNIQUE,
  created_at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  updated_at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX music_projects_by_user ON music_projects (user_id, status, updated_at);

CREATE TABLE music_mix_versions (
  version_id        TEXT PRIMARY KEY,
  project_id        TEXT NOT NULL REFERENCES music_projects(project_id) ON DELETE CASCADE,
  storage_url       TEXT NOT NULL,
  preview_url       TEXT NOT NULL,
  midi_url          TEXT,
  prompt            TEXT,
  provider          TEXT NOT NULL,
  duration_seconds  REAL NOT NULL,
  created_at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX music_mix_versions_by_project ON music_mix_versions (project_id, created_at);

-- storage_url holds the object path in r3al-studio-music; version_id is set for generated stems.
CREATE TABLE music_stems (
  stem_id       TEXT PRIMARY KEY,
  project_id    TEXT NOT NULL REFERENCES music_projects(project_id) ON DELETE CASCADE,
  version_id    TEXT REFERENCES music_mix_versions(version_id) ON DELETE SET NULL,
  instrument    TEXT NOT NULL,
  source        TEXT NOT NULL CHECK (source IN ('generated', 'upload')),
  format        TEXT NOT NULL,
  storage_url   TEXT NOT NULL,
  size_bytes    INTEGER NOT NULL,
  duration      REAL NOT NULL,
  created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX music_stems_by_project ON music_stems (project_id, created_at);

CREATE TABLE music_shares (
  share_id     TEXT PRIMARY KEY,
  project_id   TEXT NOT NULL REFERENCES music_projects(project_id) ON DELETE CASCADE,
  platform     TEXT NOT NULL,
  share_url    TEXT NOT NULL,
  share_count  INTEGER NOT NULL DEFAULT 0,
  caption      TEXT,
  created_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  updated_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  UNIQUE (project_id, platform)
);

-- Writers Guild ----------------------------------------------------------------------------
CREATE TABLE guild_members (
  member_id            TEXT PRIMARY KEY,
  user_id              TEXT NOT NULL UNIQUE,
  pen_name             TEXT,
  bio                  TEXT,
  tier                 TEXT NOT NULL DEFAULT 'novice' CHECK (tier IN ('novice', 'wordsmith', 'master')),
  total_words_written  INTEGER NOT NULL DEFAULT 0,
  total_projects       INTEGER NOT NULL DEFAULT 0,
  specialties          TEXT NOT NULL DEFAULT '[]',
  joined_at            TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  updated_at           TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TABLE writing_projects (
  project_id          TEXT PRIMARY KEY,
  user_id             TEXT NOT NULL,
  title               TEXT NOT NULL,
  genre               TEXT,
  content_type        TEXT NOT NULL DEFAULT 'other'
                      CHECK (content_type IN ('novel', 'short_story', 'screenplay', 'poetry', 'other')),
  description         TEXT,
  word_count          INTEGER NOT NULL DEFAULT 0,
  mature_content      INTEGER NOT NULL DEFAULT 0 CHECK (mature_content IN (0, 1)),
  status              TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'completed', 'archived')),
  storage_path        TEXT NOT NULL,
  current_version_id  TEXT,
  created_at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  updated_at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX writing_projects_by_user ON writing_projects (user_id, status, updated_at);

CREATE TABLE writing_versions (
  version_id  TEXT PRIMARY KEY,
  project_id  TEXT NOT NULL REFERENCES writing_projects(project_id) ON DELETE CASCADE,
  author_id   TEXT NOT NULL,
  word_count  INTEGER NOT NULL,
  size_bytes  INTEGER NOT NULL,
  sha256      TEXT NOT NULL,
  restored_from TEXT,
  created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX writing_versions_by_project ON writing_versions (project_id, created_at);

CREATE TABLE writing_sessions (
  session_id        TEXT PRIMARY KEY,
  project_id        TEXT NOT NULL REFERENCES writing_projects(project_id) ON DELETE CASCADE,
  user_id           TEXT NOT NULL,
  chapter_number    INTEGER,
  start_word_count  INTEGER NOT NULL DEFAULT 0,
  words_written     INTEGER NOT NULL DEFAULT 0,
  duration_seconds  INTEGER,
  started_at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  last_activity_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  ended_at          TEXT
);
CREATE INDEX writing_sessions_by_user ON writing_sessions (user_id, project_id, started_at);
CREATE INDEX writing_sessions_open ON writing_sessions (ended_at, last_activity_at);

-- Tactical HQ ------------------------------------------------------------------------------
CREATE TABLE tactical_teams (
  team_id      TEXT PRIMARY KEY,
  team_name    TEXT NOT NULL,
  team_type    TEXT,
  department   TEXT,
  created_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TABLE tactical_users (
  user_id             TEXT PRIMARY KEY,
  rank                TEXT,
  department          TEXT,
  service_branch      TEXT,
  badge_number        TEXT,
  clearance_level     TEXT NOT NULL DEFAULT 'public'
                      CHECK (clearance_level IN ('public', 'confidential', 'secret', 'top_secret')),
  verified_status     TEXT NOT NULL DEFAULT 'pending' CHECK (verified_status IN ('pending', 'verified', 'denied')),
  operational_status  TEXT NOT NULL DEFAULT 'off_duty' CHECK (operational_status IN ('off_duty', 'on_duty', 'deployed')),
  team_id             TEXT REFERENCES tactical_teams(team_id),
  registered_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX tactical_users_by_team ON tactical_users (team_id);
CREATE INDEX tactical_users_by_department ON tactical_users (department);

CREATE TABLE tactical_comms (
  comm_id            TEXT PRIMARY KEY,
  from_user_id       TEXT REFERENCES tactical_users(user_id),
  to_user_id         TEXT,
  team_id            TEXT,
  department         TEXT,
  message_type       TEXT NOT NULL DEFAULT 'standard',
  priority           TEXT NOT NULL DEFAULT 'normal',
  classification     TEXT NOT NULL DEFAULT 'public',
  content            TEXT,
  encrypted_content  TEXT,
  is_encrypted       INTEGER NOT NULL DEFAULT 0 CHECK (is_encrypted IN (0, 1)),
  wrapped_key        BLOB,
  key_id             TEXT,
  deleted_at         TEXT,
  deleted_by         TEXT,
  sent_at            TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX tactical_comms_by_sender ON tactical_comms (from_user_id, sent_at);
CREATE INDEX tactical_comms_by_recipient ON tactical_comms (to_user_id, sent_at);
CREATE INDEX tactical_comms_by_team ON tactical_comms (team_id, sent_at);

CREATE TABLE tactical_incidents (
  incident_id  TEXT PRIMARY KEY,
  title        TEXT,
  description  TEXT,
  severity     TEXT CHECK (severity IN ('low', 'medium', 'high', 'critical')),
  status       TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'resolved', 'escalated')),
  location     TEXT,
  reported_by  TEXT REFERENCES tactical_users(user_id),
  reported_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  updated_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX tactical_incidents_by_status ON tactical_incidents (status, reported_at);

-- Append-only, hash-chained record of security-relevant actions.
CREATE TABLE audit_log (
  seq         INTEGER PRIMARY KEY AUTOINCREMENT,
  actor_id    TEXT NOT NULL,
  action      TEXT NOT NULL,
  target      TEXT,
  outcome     TEXT NOT NULL,
  detail      TEXT,
  prev_hash   TEXT NOT NULL,
  entry_hash  TEXT NOT NULL,
  created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX audit_log_by_actor ON audit_log (actor_id, created_at);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
  BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
  BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;

-- Premium ----------------------------------------------------------------------------------
CREATE TABLE premium_image_generations (
  generation_id  TEXT PRIMARY KEY,
  user_id        TEXT NOT NULL,
  prompt         TEXT NOT NULL,
  size           TEXT,
  style          TEXT,
  storage_url    TEXT,
  thumbnail_url  TEXT,
  model          TEXT DEFAULT 'dall-e-3',
  created_at     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX premium_image_generations_by_user ON premium_image_generations (user_id, created_at);
