-- Partner systems (social-protection MIS) that reach the registries through
-- the DCI face. `id` is both the OAuth client id and the DCI sender_id. Only a
-- salted scrypt hash of the client secret is kept; the JWKS holds the public
-- keys that sign the partner's messages; `callback_url` is the base URL of its
-- own DCI endpoints (on-search, on-subscribe, notify ...).
CREATE TABLE dci_partners (
  id text PRIMARY KEY,
  name text NOT NULL,
  secret_hash text NOT NULL,
  jwks jsonb NOT NULL,
  callback_url text,
  purposes text[] NOT NULL,
  record_types text[] NOT NULL,
  active boolean NOT NULL DEFAULT true,
  created_by text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_by text NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Messages received from partners, by sender and message_id: a retry of the
-- same message gets the same answer; another message under a used id is refused.
-- The answer is kept as sent (text, not jsonb: its signature covers the bytes).
CREATE TABLE dci_messages (
  sender_id text NOT NULL,
  message_id text NOT NULL,
  digest text NOT NULL,
  response text,
  received_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (sender_id, message_id)
);

-- Partner registrations go into the audit chain too.
ALTER TABLE audit_log DROP CONSTRAINT audit_log_record_type_check;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_record_type_check CHECK (record_type IN ('citizen_lookup', 'catalogue_change', 'partner_change'));
