-- Async DCI requests (registry/search and the like): acknowledged only once
-- stored here, answered by a job, the answer POSTed to the partner's callback.
-- `answer` is the signed envelope as sent (text: its signature covers the
-- bytes), so a resend is the same message with the same message_id.
CREATE TABLE dci_transactions (
  id bigserial PRIMARY KEY,
  partner_id text NOT NULL,
  registry text NOT NULL,
  action text NOT NULL,
  message_id text NOT NULL,
  transaction_id text NOT NULL,
  correlation_id text NOT NULL,
  request text NOT NULL,
  status text NOT NULL DEFAULT 'rcvd',
  answer text,
  callback_state text NOT NULL DEFAULT 'pending',
  callback_error text,
  queued_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (partner_id, message_id)
);
CREATE INDEX dci_transactions_transaction ON dci_transactions (partner_id, transaction_id);
CREATE INDEX dci_transactions_correlation ON dci_transactions (partner_id, correlation_id);
CREATE INDEX dci_transactions_unqueued ON dci_transactions (id) WHERE callback_state = 'pending';
