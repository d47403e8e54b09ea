-- Events for subscriptions with a frequency (a cron expression) wait here for
-- the time it names, then leave together as one notify transaction, taken
-- out of here in the same database transaction that stores it.
CREATE TABLE dci_notify_pending (
  code text NOT NULL,
  event_id text NOT NULL,
  partner_id text NOT NULL,
  registry text NOT NULL,
  event_type text NOT NULL,
  fire_at timestamptz NOT NULL,
  event text NOT NULL,
  PRIMARY KEY (code, event_id)
);
CREATE INDEX dci_notify_pending_due ON dci_notify_pending (fire_at);
