-- A day's count of one kind is spread over several rows, one per server
-- connection (`shard` = the backend's pid modulo 64), and read as their sum.
--
-- Why: a count made inside a busy write (a follow through the login QR code,
-- counted in the verified push's own transaction) updated one row per day
-- and kind, and PostgreSQL holds that row's lock until the commit is on
-- disk: every such push waited for the previous one's commit. Measured with
-- `loadtest --only engines`: 839–984 verified callbacks/s, with the server
-- and PostgreSQL both mostly idle and the log full of "still waiting for
-- ShareLock … while inserting index tuple … in relation ops_events".
-- SQLite needs none of this: its single writer commits batches.
ALTER TABLE ops_events ADD COLUMN shard SMALLINT NOT NULL DEFAULT 0;
ALTER TABLE ops_events DROP CONSTRAINT ops_events_pkey;
ALTER TABLE ops_events ADD PRIMARY KEY (day, kind, shard);
