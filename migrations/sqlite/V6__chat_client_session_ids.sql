-- A session the client named (the app makes `session_<ms>` ids itself) keeps the client's id
-- beside its own, unique per user: two users' clients may make the same id without meeting.
ALTER TABLE chat_sessions ADD COLUMN client_id TEXT;
CREATE UNIQUE INDEX chat_sessions_by_client_id ON chat_sessions (user_id, client_id) WHERE client_id IS NOT NULL;
