-- Token ids seen while Redis was unreachable, so replay protection holds (in
-- PostgreSQL, across processes) and callers are not locked out meanwhile.
CREATE TABLE token_replay (
  id text PRIMARY KEY,
  expires_at timestamptz NOT NULL
);
CREATE INDEX token_replay_expires_at ON token_replay (expires_at);
