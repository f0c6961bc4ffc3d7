-- The signed (timestamp, nonce) of every WeChat callback request seen within
-- the freshness window, with a SHA-256 of its body. In plain mode the
-- signature covers only the Token, the timestamp and the nonce, never the
-- body: the same stamp with another body is a forgery and is refused; with
-- the same body it is a retry and is answered as before. URL checks (GET)
-- are remembered too, under a digest no body can have, so their signed
-- triple cannot be replayed as a push. Rows older than the window are
-- removed by the clean-up.
CREATE TABLE push_nonces (
    -- Unix seconds, as signed.
    timestamp    INTEGER NOT NULL,
    nonce        TEXT    NOT NULL,
    body_hash    BLOB    NOT NULL,
    received_at  INTEGER NOT NULL,
    PRIMARY KEY (timestamp, nonce)
) WITHOUT ROWID;
