-- What the operator page (/admin) charts and no other table keeps: how
-- many logins (sessions created), follows gained through the login QR code,
-- generations and the tokens they used, and failures by kind (WeChat API
-- errors, refused callbacks, DeepSeek errors) happened on each day. One row
-- per Beijing day and kind, counted up: its size is bounded by days × kinds,
-- whatever the traffic. Rows older than 400 days are removed.
CREATE TABLE ops_events (
    -- Days since 1970-01-01 in Beijing time (UTC+8).
    day    INTEGER NOT NULL,
    -- e.g. 'login', 'follow_via_qr', 'wechat:40164', 'deepseek:timeout'.
    kind   TEXT    NOT NULL,
    count  INTEGER NOT NULL,
    PRIMARY KEY (day, kind)
) WITHOUT ROWID;

-- New users per day, for the same page.
CREATE INDEX users_by_creation ON users (created_at);

-- When the access token was fetched (Unix seconds), for the page's "token
-- age"; NULL for a token stored before this column existed.
ALTER TABLE wechat_access_token ADD COLUMN fetched_at INTEGER;
