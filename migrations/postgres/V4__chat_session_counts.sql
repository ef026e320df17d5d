-- A running count of each user's chat sessions, kept by triggers, so answering "how many
-- sessions" (the offline chat provider does on every message) is one row read instead of a
-- count over all of the user's sessions. migrations/sqlite/V4__chat_session_counts.sql with
-- its SQLite triggers as PL/pgSQL trigger functions; WITHOUT ROWID dropped (see V2).
CREATE TABLE chat_session_counts (
  user_id   text PRIMARY KEY,
  sessions  bigint NOT NULL CHECK (sessions >= 0)
);

INSERT INTO chat_session_counts (user_id, sessions)
  SELECT user_id, count(*) FROM chat_sessions GROUP BY user_id;

-- INSERT … ON CONFLICT is safe when two instances create a user's first sessions at once.
CREATE FUNCTION chat_session_counted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO chat_session_counts (user_id, sessions) VALUES (NEW.user_id, 1)
    ON CONFLICT (user_id) DO UPDATE SET sessions = chat_session_counts.sessions + 1;
  RETURN NULL;
END
$$;
CREATE TRIGGER chat_session_counted AFTER INSERT ON chat_sessions
  FOR EACH ROW EXECUTE FUNCTION chat_session_counted();

CREATE FUNCTION chat_session_uncounted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE chat_session_counts SET sessions = sessions - 1 WHERE user_id = OLD.user_id;
  RETURN NULL;
END
$$;
CREATE TRIGGER chat_session_uncounted AFTER DELETE ON chat_sessions
  FOR EACH ROW EXECUTE FUNCTION chat_session_uncounted();
