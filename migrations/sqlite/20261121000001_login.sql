-- WeChat QR login. Times are Unix milliseconds (UTC).

-- One row per WeChat user of our 服务号 (openid is per official account).
CREATE TABLE users (
    id              INTEGER PRIMARY KEY,
    openid          TEXT    NOT NULL UNIQUE,
    unionid         TEXT,
    -- WeChat no longer shares nicknames: a generated name the user may change.
    display_name    TEXT    NOT NULL,
    following       INTEGER NOT NULL DEFAULT 1,
    created_at      INTEGER NOT NULL,
    unsubscribed_at INTEGER
);

-- One QR code shown in one browser. The id is the QR's scene_str.
CREATE TABLE login_attempts (
    id            TEXT    PRIMARY KEY,
    -- SHA-256 of the secret in the starting browser's cookie: only that
    -- browser can follow and complete this attempt.
    binding_hash  BLOB    NOT NULL,
    -- 'expired' is not stored: it follows from the times below.
    status        TEXT    NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'awaiting_confirmation', 'confirmed', 'consumed')),
    openid        TEXT,
    user_id       INTEGER REFERENCES users (id) ON DELETE CASCADE,
    client_ip     TEXT    NOT NULL,
    user_agent    TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    scanned_at    INTEGER,
    confirmed_at  INTEGER,
    consumed_at   INTEGER
);
CREATE INDEX login_attempts_by_expiry ON login_attempts (expires_at);
CREATE INDEX login_attempts_by_openid ON login_attempts (openid, status);

-- A logged-in browser. Only a hash of the cookie's token is kept.
CREATE TABLE sessions (
    token_hash  BLOB    PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);
CREATE INDEX sessions_by_user ON sessions (user_id);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);

-- Pushes already handled, so WeChat's retries change nothing twice; the
-- reply is kept to answer a retry the same way.
CREATE TABLE wechat_events (
    dedup_key    TEXT    PRIMARY KEY,
    received_at  INTEGER NOT NULL,
    reply        TEXT
);
CREATE INDEX wechat_events_by_time ON wechat_events (received_at);

-- The one access_token every server process shares (fetching a new one
-- invalidates the old for cgi-bin/token and costs quota).
CREATE TABLE wechat_access_token (
    appid       TEXT    PRIMARY KEY,
    token       TEXT    NOT NULL,
    expires_at  INTEGER NOT NULL
);
