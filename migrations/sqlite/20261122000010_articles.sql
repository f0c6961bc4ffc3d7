-- The writing module. Times are Unix milliseconds (UTC).

-- One article of one user: its brief and, in `article_versions`, the text of
-- each generation (regenerating keeps the earlier versions).
CREATE TABLE articles (
    -- 128 random bits, hex: the id in the article's address.
    id          TEXT    PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title       TEXT    NOT NULL,
    -- 1 once the visitor saved a title of his own: a finished generation
    -- no longer names the article after its first heading.
    title_set   INTEGER NOT NULL DEFAULT 0,
    kind        TEXT    NOT NULL,
    -- The brief (JSON of the writing module's `Brief`).
    brief       TEXT    NOT NULL,
    -- The newest version's number.
    latest      INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
-- A user's list, newest first.
CREATE INDEX articles_by_user ON articles (user_id, updated_at DESC);

-- One generation of an article. A running one is written in batches: its
-- text so far is in `body` (`body_bytes` long), the rest in the server's
-- memory until the next batch.
CREATE TABLE article_versions (
    article_id        TEXT    NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    number            INTEGER NOT NULL,
    status            TEXT    NOT NULL
                      CHECK (status IN ('queued', 'running', 'done', 'stopped', 'failed', 'interrupted')),
    body              TEXT    NOT NULL DEFAULT '',
    body_bytes        INTEGER NOT NULL DEFAULT 0,
    reasoning         TEXT    NOT NULL DEFAULT '',
    reasoning_bytes   INTEGER NOT NULL DEFAULT 0,
    -- Raised by each edit the visitor saves: an event stream's position in
    -- the text before the edit means nothing after it.
    revision          INTEGER NOT NULL DEFAULT 0,
    -- Plain words for the visitor when it failed or stopped early.
    problem           TEXT,
    -- DeepSeek's usage, summed over the requests of this version; NULL
    -- until DeepSeek reported any.
    prompt_tokens     INTEGER,
    completion_tokens INTEGER,
    cache_hit_tokens  INTEGER,
    cache_miss_tokens INTEGER,
    reasoning_tokens  INTEGER,
    elapsed_ms        INTEGER NOT NULL DEFAULT 0,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    PRIMARY KEY (article_id, number)
);
-- What a restart must mark interrupted.
CREATE INDEX article_versions_unfinished ON article_versions (status)
    WHERE status IN ('queued', 'running');

-- One row per DeepSeek generation a user started (article, outline,
-- regeneration, continuation): the daily limit counts them. Kept when the
-- article is deleted, so deleting does not give generations back.
CREATE TABLE writing_generations (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    started_at  INTEGER NOT NULL
);
CREATE INDEX writing_generations_by_user ON writing_generations (user_id, started_at);
