-- A session the client named (the app makes `session_<ms>` ids itself) keeps the client's id
-- beside its own, unique per user: two users' clients may make the same id without meeting.
-- The client's id is its own text, not a uuid. The partial index is SQLite's as it stands
-- (PostgreSQL would not count NULLs as equal anyway); an INSERT … ON CONFLICT aimed at it
-- repeats its predicate: ON CONFLICT (user_id, client_id) WHERE client_id IS NOT NULL.
ALTER TABLE chat_sessions ADD COLUMN client_id text;
CREATE UNIQUE INDEX chat_sessions_by_client_id ON chat_sessions (user_id, client_id) WHERE client_id IS NOT NULL;
