-- Mirrors of rows in the blob store (a project's `metadata.json`), written off the request
-- path: migrations/sqlite/V8__mirror_outbox.sql (read it for the design) with PostgreSQL's
-- types, its triggers as PL/pgSQL trigger functions (the kind is the trigger's argument), and
-- WITHOUT ROWID dropped (see V2). Workers of several servers claim due entries with
-- FOR UPDATE SKIP LOCKED, so no entry is written by two at once.
CREATE TABLE mirror_outbox (
  kind           text NOT NULL CHECK (kind IN ('music_project', 'writing_project')),
  subject_id     text NOT NULL,
  version        bigint NOT NULL DEFAULT 1,
  due_at         timestamptz NOT NULL DEFAULT now(),
  attempts       bigint NOT NULL DEFAULT 0,
  claimed_by     text,
  claimed_until  timestamptz,
  last_error     text,
  PRIMARY KEY (kind, subject_id)
);
CREATE INDEX mirror_outbox_due ON mirror_outbox (due_at);

-- INSERT … ON CONFLICT: two servers changing one project at once leave one entry, counted twice.
CREATE FUNCTION mirror_outbox_due() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO mirror_outbox (kind, subject_id, due_at) VALUES (TG_ARGV[0], NEW.project_id::text, now())
    ON CONFLICT (kind, subject_id) DO UPDATE
      SET version = mirror_outbox.version + 1, due_at = excluded.due_at, attempts = 0, last_error = NULL;
  RETURN NULL;
END
$$;

CREATE FUNCTION mirror_outbox_forget() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM mirror_outbox WHERE kind = TG_ARGV[0] AND subject_id = OLD.project_id::text;
  RETURN NULL;
END
$$;

-- A music project's mirror holds the project, its stems and its mix versions (stems and
-- versions are only ever inserted; they go with their project). A play alone does not rewrite it.
CREATE TRIGGER mirror_music_project_insert AFTER INSERT ON music_projects
  FOR EACH ROW EXECUTE FUNCTION mirror_outbox_due('music_project');
CREATE TRIGGER mirror_music_project_update AFTER UPDATE ON music_projects
  FOR EACH ROW WHEN (OLD.total_plays IS NOT DISTINCT FROM NEW.total_plays) EXECUTE FUNCTION mirror_outbox_due('music_project');
CREATE TRIGGER mirror_music_stem_insert AFTER INSERT ON music_stems
  FOR EACH ROW EXECUTE FUNCTION mirror_outbox_due('music_project');
CREATE TRIGGER mirror_music_mix_version_insert AFTER INSERT ON music_mix_versions
  FOR EACH ROW EXECUTE FUNCTION mirror_outbox_due('music_project');
CREATE TRIGGER mirror_music_project_delete AFTER DELETE ON music_projects
  FOR EACH ROW EXECUTE FUNCTION mirror_outbox_forget('music_project');

-- A writing project's mirror holds the project row.
CREATE TRIGGER mirror_writing_project_insert AFTER INSERT ON writing_projects
  FOR EACH ROW EXECUTE FUNCTION mirror_outbox_due('writing_project');
CREATE TRIGGER mirror_writing_project_update AFTER UPDATE ON writing_projects
  FOR EACH ROW EXECUTE FUNCTION mirror_outbox_due('writing_project');
CREATE TRIGGER mirror_writing_project_delete AFTER DELETE ON writing_projects
  FOR EACH ROW EXECUTE FUNCTION mirror_outbox_forget('writing_project');
