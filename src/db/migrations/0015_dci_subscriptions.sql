-- DCI subscriptions (registry/subscribe): a partner asks to be notified of
-- an event type, filtered by place or person. Created by the job answering
-- the subscribe transaction (one per subscribe_request item, so a rerun of
-- that job finds them instead of doubling them).
CREATE TABLE dci_subscriptions (
  code text PRIMARY KEY,
  partner_id text NOT NULL,
  registry text NOT NULL,
  transaction_ref bigint NOT NULL,
  reference_id text NOT NULL,
  -- As the partner named it, and bare (the key of seed/dci.yaml's events).
  reg_event_type text NOT NULL,
  event_type text NOT NULL,
  record_type text NOT NULL,
  purpose text NOT NULL,
  -- The subscription as the partner asked it (SubscriptionInfo's fields), and
  -- the filter as the feed applies it.
  criteria text NOT NULL,
  filter text NOT NULL,
  starts_at timestamptz,
  ends_at timestamptz,
  status text NOT NULL DEFAULT 'subscribe' CHECK (status IN ('subscribe', 'unsubscribe')),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (transaction_ref, reference_id)
);
CREATE INDEX dci_subscriptions_active ON dci_subscriptions (registry, event_type) WHERE status = 'subscribe';
CREATE INDEX dci_subscriptions_partner ON dci_subscriptions (partner_id, created_at);

-- How far the event feed has read application events (decisions), walked
-- in (xid, id) order below the horizon of running transactions, so an event
-- committed late is never skipped. One row; the feed locks it.
CREATE TABLE dci_event_cursor (
  id boolean PRIMARY KEY DEFAULT true CHECK (id),
  event_xid xid8 NOT NULL DEFAULT '0',
  event_id bigint NOT NULL DEFAULT 0,
  fed_at timestamptz
);
INSERT INTO dci_event_cursor DEFAULT VALUES;
