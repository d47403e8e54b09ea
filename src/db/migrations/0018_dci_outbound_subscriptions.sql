-- The gateway subscribing to events in a partner's registry: the subscribe
-- is a dci_outbound row (action 'subscribe'), as asked (`criteria`); its
-- on-subscribe gives the partner's subscription codes. An unsubscribe is a
-- row of its own, naming the subscribe it ends; its succ on-unsubscribe ends
-- the subscription (`ended_at`).
ALTER TABLE dci_outbound
  ADD COLUMN criteria jsonb,
  ADD COLUMN subscription_codes text[] NOT NULL DEFAULT '{}',
  ADD COLUMN ended_at timestamptz,
  ADD COLUMN subscription_ref bigint REFERENCES dci_outbound (id) ON DELETE CASCADE;

-- A notify names the subscribe it follows by its reference_id.
CREATE INDEX dci_outbound_subscribe_reference ON dci_outbound (partner_id, reference_id) WHERE action = 'subscribe';
CREATE INDEX dci_outbound_subscription_ref ON dci_outbound (subscription_ref) WHERE subscription_ref IS NOT NULL;

-- What partners notified for the gateway's subscriptions: the notify_event
-- items of one received notify, per subscription. Personal data: kept no
-- longer than the DCI retention period.
CREATE TABLE dci_outbound_events (
  id bigserial PRIMARY KEY,
  partner_id text NOT NULL,
  outbound_id bigint NOT NULL REFERENCES dci_outbound (id) ON DELETE CASCADE,
  message_id text NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now(),
  events jsonb NOT NULL
);
CREATE INDEX dci_outbound_events_by_subscription ON dci_outbound_events (outbound_id, id DESC);
CREATE INDEX dci_outbound_events_received ON dci_outbound_events (received_at);
