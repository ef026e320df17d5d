-- Events that clients watch live (src/events): a comm sent, an incident reported or moved to
-- another status, a generation's progress, a streamed chat reply. Each has an id, `seq`, that
-- only grows: a client that reconnects with the last id it saw is sent every event after it,
-- in order. An event names what changed (`subject_id`), never its content: each subscriber is
-- sent the object as its own read would return it, under the same rules, so nothing secret is
-- stored here. `payload` holds what is not a row (progress, a reply's text so far) as JSON.
--
-- Tactical events are written by triggers in the transaction of the change itself, so an
-- event exists exactly when its change committed. Old events are removed by age and count
-- (`events.retention_*`); `event_horizon.seq` is the highest id removed, so a client whose
-- last id is older is told it missed events rather than silently skipping them.
CREATE TABLE events (
  seq         INTEGER PRIMARY KEY AUTOINCREMENT,
  topic       TEXT NOT NULL,
  kind        TEXT NOT NULL,
  subject_id  TEXT NOT NULL,
  payload     TEXT,
  created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX events_by_topic ON events (topic, seq);
CREATE INDEX events_by_time ON events (created_at);

CREATE TABLE event_horizon (
  id   INTEGER PRIMARY KEY CHECK (id = 1),
  seq  INTEGER NOT NULL
);
INSERT INTO event_horizon (id, seq) VALUES (1, 0);

CREATE TRIGGER events_comm_sent AFTER INSERT ON tactical_comms
BEGIN
  INSERT INTO events (topic, kind, subject_id) VALUES ('tactical', 'comm', NEW.comm_id);
END;

CREATE TRIGGER events_incident_reported AFTER INSERT ON tactical_incidents
BEGIN
  INSERT INTO events (topic, kind, subject_id, payload) VALUES ('tactical', 'incident', NEW.incident_id, '{"change":"reported"}');
END;

CREATE TRIGGER events_incident_status AFTER UPDATE OF status ON tactical_incidents WHEN OLD.status IS NOT NEW.status
BEGIN
  INSERT INTO events (topic, kind, subject_id, payload) VALUES ('tactical', 'incident', NEW.incident_id, '{"change":"status"}');
END;
