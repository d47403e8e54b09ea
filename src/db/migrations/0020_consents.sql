-- Citizens' consents to look-ups (seed/policies.yaml and seed/dci.yaml say
-- which purposes need one). A row is asked for by an officer (with a case) or given
-- standing by the citizen in a portal (no case). Times are epoch
-- milliseconds from the gateway's clock (tests inject one).
CREATE TABLE consents (
  id uuid PRIMARY KEY,
  citizen text NOT NULL,
  purpose text NOT NULL,
  sources text[] NOT NULL,
  fields jsonb NOT NULL,
  method text NOT NULL CHECK (method IN ('otp', 'portal')),
  state text NOT NULL CHECK (state IN ('pending', 'active', 'refused', 'revoked', 'expired')),
  case_ref text,
  asked_agency text,
  asked_unit text,
  asked_officer text,
  asked_portal text,
  -- For a partner system's purpose (DCI face): the one partner it is for; null: any granted it.
  partner text,
  -- KHUR's request id of the one-time code (WS100008).
  bus_request_id text,
  -- The code the citizen read out, sealed: XYP calls carry it in auth.citizen.
  otp_sealed text,
  created_ms bigint NOT NULL,
  pending_until_ms bigint,
  given_ms bigint,
  expires_ms bigint,
  ended_ms bigint
);
CREATE INDEX consents_citizen ON consents (citizen, created_ms DESC);

-- Wrong one-time codes, per citizen and per officer: after too many the key
-- is locked for a while, whoever asks.
CREATE TABLE consent_otp_guard (
  key text PRIMARY KEY,
  failures integer NOT NULL,
  locked_until_ms bigint NOT NULL
);

ALTER TABLE audit_log DROP CONSTRAINT audit_log_record_type_check;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_record_type_check CHECK (record_type IN ('citizen_lookup', 'catalogue_change', 'partner_change', 'consent_change'));
