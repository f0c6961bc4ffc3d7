-- The clean-up removes sessions revoked a day ago in small chunks; without
-- an index each chunk would scan every session.
CREATE INDEX sessions_by_revocation ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;
