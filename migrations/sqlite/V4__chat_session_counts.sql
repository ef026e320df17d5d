-- A running count of each user's chat sessions, kept by triggers, so answering "how many
-- sessions" (the offline chat provider does on every message) is one row read instead of a
-- count over all of the user's sessions.
CREATE TABLE chat_session_counts (
  user_id   TEXT PRIMARY KEY,
  sessions  INTEGER NOT NULL CHECK (sessions >= 0)
) WITHOUT ROWID;

INSERT INTO chat_session_counts (user_id, sessions)
  SELECT user_id, count(*) FROM chat_sessions GROUP BY user_id;

CREATE TRIGGER chat_session_counted AFTER INSERT ON chat_sessions
BEGIN
  INSERT INTO chat_session_counts (user_id, sessions) VALUES (NEW.user_id, 1)
    ON CONFLICT (user_id) DO UPDATE SET sessions = sessions + 1;
END;

CREATE TRIGGER chat_session_uncounted AFTER DELETE ON chat_sessions
BEGIN
  UPDATE chat_session_counts SET sessions = sessions - 1 WHERE user_id = OLD.user_id;
END;
