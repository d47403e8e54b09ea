-- The audit log: append-only and hash-chained. Each record carries the SHA-256
-- of its canonical form and of the record before it; `verify` recomputes both.
CREATE TABLE audit_log (
  seq bigint PRIMARY KEY,
  record_type text NOT NULL CHECK (record_type IN ('citizen_lookup', 'catalogue_change')),
  at timestamptz NOT NULL,
  request_id text NOT NULL,
  actor text NOT NULL,
  actor_unit text,
  actor_agency text,
  purpose text,
  case_ref text,
  -- The registration number itself: this log is where it legitimately lives.
  citizen text,
  sources_asked text[] NOT NULL DEFAULT '{}',
  sources_answered text[] NOT NULL DEFAULT '{}',
  result text NOT NULL,
  client_ip text,
  details jsonb,
  prev_hash text NOT NULL,
  hash text NOT NULL
);
CREATE INDEX audit_log_citizen ON audit_log (citizen, seq);
CREATE INDEX audit_log_actor ON audit_log (actor, seq);
CREATE INDEX audit_log_unit ON audit_log (actor_unit, seq);
CREATE INDEX audit_log_at ON audit_log (at);

-- The head of the chain. Writers lock this row, so records are chained one
-- after another even from several gateway processes.
CREATE TABLE audit_chain_head (
  chain text PRIMARY KEY,
  seq bigint NOT NULL,
  hash text NOT NULL
);
INSERT INTO audit_chain_head (chain, seq, hash) VALUES ('main', 0, 'genesis');

-- No update and no delete, whoever asks: the gateway has no such code path,
-- and the table refuses it too. Deployments also grant the application role
-- only INSERT and SELECT on it (see the README).
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only';
END;
$$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
