-- Status callbacks to portals. An admin registers one URL per portal; every
-- status change of a portal's application is marked `notify` when it is
-- written, in the same transaction, so a change is never lost between the
-- database and the callback queue (the events table is its own outbox).
CREATE TABLE portal_callbacks (
  portal text PRIMARY KEY,
  url text NOT NULL,
  updated_by text NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE application_events ADD COLUMN notify boolean NOT NULL DEFAULT false;
CREATE INDEX application_events_notify ON application_events (id) WHERE notify;
