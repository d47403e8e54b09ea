-- The gateway as a DCI client: a partner's own registry (its base URL, its
-- OAuth token URL, the client id and secret it issued to this gateway). The
-- secret is kept as given, since the gateway must present it; it is never
-- read back by the admin API, which only says whether one is set.
ALTER TABLE dci_partners
  ADD COLUMN registry_url text,
  ADD COLUMN registry_token_url text,
  ADD COLUMN registry_client_id text,
  ADD COLUMN registry_client_secret text;

-- Requests the gateway sent to a partner's registry, on behalf of an
-- officer: who asked, why (purpose, case), the partner's ACK and its answer
-- (the signed envelope as received: its signature covers the bytes).
CREATE TABLE dci_outbound (
  id bigserial PRIMARY KEY,
  partner_id text NOT NULL,
  registry text NOT NULL CHECK (registry IN ('social', 'crvs')),
  action text NOT NULL,
  mode text NOT NULL CHECK (mode IN ('sync', 'async')),
  message_id text NOT NULL,
  transaction_id text NOT NULL,
  reference_id text NOT NULL,
  record_type text NOT NULL,
  actor text NOT NULL,
  actor_issuer text NOT NULL,
  actor_unit text,
  actor_agency text,
  purpose text NOT NULL,
  case_ref text NOT NULL,
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'answered', 'failed')),
  ack text,
  answer text,
  error text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (partner_id, transaction_id)
);

-- Messages partners POSTed to the gateway's receiver (on-search, notify ...),
-- by sender and message_id: a re-delivery gets the same answer; another
-- message under a used id is refused. The answers themselves are kept with
-- the request they answer (dci_outbound.answer), nothing else is.
CREATE TABLE dci_inbound (
  partner_id text NOT NULL,
  message_id text NOT NULL,
  action text NOT NULL,
  digest text NOT NULL,
  transaction_id text,
  response text NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (partner_id, message_id)
);
