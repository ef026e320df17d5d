-- Mirrors of rows in the blob store (a project's `metadata.json`), written off the request
-- path: a change to the rows a mirror is rendered from marks the mirror due here, by triggers,
-- in the change's own transaction; a background worker (src/features/mirrors) claims due
-- entries, writes each mirror from the rows as they are then, and deletes the entry unless it
-- changed meanwhile. Repeated changes coalesce into one entry (its `version` counts them).
-- `claimed_by`/`claimed_until`: the worker writing it, and until when its claim holds (a
-- crashed worker's claim runs out). `attempts`/`last_error`: failed writes since the last
-- change, retried with backoff from `due_at`.
CREATE TABLE mirror_outbox (
  kind           TEXT NOT NULL CHECK (kind IN ('music_project', 'writing_project')),
  subject_id     TEXT NOT NULL,
  version        INTEGER NOT NULL DEFAULT 1,
  due_at         TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  attempts       INTEGER NOT NULL DEFAULT 0,
  claimed_by     TEXT,
  claimed_until  TEXT,
  last_error     TEXT,
  PRIMARY KEY (kind, subject_id)
) WITHOUT ROWID;
CREATE INDEX mirror_outbox_due ON mirror_outbox (due_at);

-- A music project's mirror holds the project, its stems and its mix versions (stems and
-- versions are only ever inserted; they go with their project). A play alone does not rewrite
-- it (plays are counted on every listen of a shared track; the count catches up at the next
-- change, as it always has).
CREATE TRIGGER mirror_music_project_insert AFTER INSERT ON music_projects
BEGIN
  INSERT INTO mirror_outbox (kind, subject_id, due_at) VALUES ('music_project', NEW.project_id, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
    ON CONFLICT (kind, subject_id) DO UPDATE SET version = version + 1, due_at = excluded.due_at, attempts = 0, last_error = NULL;
END;

CREATE TRIGGER mirror_music_project_update AFTER UPDATE ON music_projects WHEN OLD.total_plays IS NEW.total_plays
BEGIN
  INSERT INTO mirror_outbox (kind, subject_id, due_at) VALUES ('music_project', NEW.project_id, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
    ON CONFLICT (kind, subject_id) DO UPDATE SET version = version + 1, due_at = excluded.due_at, attempts = 0, last_error = NULL;
END;

CREATE TRIGGER mirror_music_stem_insert AFTER INSERT ON music_stems
BEGIN
  INSERT INTO mirror_outbox (kind, subject_id, due_at) VALUES ('music_project', NEW.project_id, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
    ON CONFLICT (kind, subject_id) DO UPDATE SET version = version + 1, due_at = excluded.due_at, attempts = 0, last_error = NULL;
END;

CREATE TRIGGER mirror_music_mix_version_insert AFTER INSERT ON music_mix_versions
BEGIN
  INSERT INTO mirror_outbox (kind, subject_id, due_at) VALUES ('music_project', NEW.project_id, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
    ON CONFLICT (kind, subject_id) DO UPDATE SET version = version + 1, due_at = excluded.due_at, attempts = 0, last_error = NULL;
END;

-- A purged project has no mirror to write (its folder, `metadata.json` included, is deleted by
-- the purge).
CREATE TRIGGER mirror_music_project_delete AFTER DELETE ON music_projects
BEGIN
  DELETE FROM mirror_outbox WHERE kind = 'music_project' AND subject_id = OLD.project_id;
END;

-- A writing project's mirror holds the project row.
CREATE TRIGGER mirror_writing_project_insert AFTER INSERT ON writing_projects
BEGIN
  INSERT INTO mirror_outbox (kind, subject_id, due_at) VALUES ('writing_project', NEW.project_id, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
    ON CONFLICT (kind, subject_id) DO UPDATE SET version = version + 1, due_at = excluded.due_at, attempts = 0, last_error = NULL;
END;

CREATE TRIGGER mirror_writing_project_update AFTER UPDATE ON writing_projects
BEGIN
  INSERT INTO mirror_outbox (kind, subject_id, due_at) VALUES ('writing_project', NEW.project_id, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
    ON CONFLICT (kind, subject_id) DO UPDATE SET version = version + 1, due_at = excluded.due_at, attempts = 0, last_error = NULL;
END;

CREATE TRIGGER mirror_writing_project_delete AFTER DELETE ON writing_projects
BEGIN
  DELETE FROM mirror_outbox WHERE kind = 'writing_project' AND subject_id = OLD.project_id;
END;
