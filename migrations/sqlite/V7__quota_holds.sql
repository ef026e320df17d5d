-- Each quota hold, with its age: `usage_counters.reserved` stays the sum the admission reads,
-- and a hold whose work can no longer finish (its server crashed) is released by age, not by
-- another server's start. Holds from before this version cannot be matched to rows: dropped.
CREATE TABLE quota_holds (
  hold_id       TEXT PRIMARY KEY,
  user_id       TEXT NOT NULL,
  feature       TEXT NOT NULL,
  window_start  TEXT NOT NULL,
  amount        INTEGER NOT NULL CHECK (amount > 0),
  held_at       TEXT NOT NULL
);
CREATE INDEX quota_holds_by_age ON quota_holds (held_at);
UPDATE usage_counters SET reserved = 0 WHERE reserved > 0;
