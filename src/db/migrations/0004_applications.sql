-- Applications: written first, acknowledged second. Each keeps its history.
CREATE TABLE applications (
  id uuid PRIMARY KEY,
  service text NOT NULL,
  adapter text NOT NULL,
  unit text NOT NULL,
  channel text NOT NULL CHECK (channel IN ('oss_counter', 'mobile_oss', 'online')),
  applicant_regnum text NOT NULL,
  form jsonb NOT NULL,
  submitted_by text NOT NULL,
  submitted_role text NOT NULL,
  portal text,
  status text NOT NULL CHECK (status IN ('received', 'queued', 'delivering', 'delivered', 'decided', 'failed')),
  decision text CHECK (decision IN ('approved', 'rejected')),
  agency_reference text,
  reason text,
  attempts integer NOT NULL DEFAULT 0,
  polls integer NOT NULL DEFAULT 0,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX applications_applicant ON applications (applicant_regnum, created_at DESC);
CREATE INDEX applications_unit_status ON applications (unit, status, created_at DESC);
CREATE INDEX applications_status ON applications (status, updated_at);

CREATE TABLE application_events (
  id bigserial PRIMARY KEY,
  application_id uuid NOT NULL REFERENCES applications (id),
  at timestamptz NOT NULL DEFAULT now(),
  status text NOT NULL,
  attempt integer,
  detail text
);
CREATE INDEX application_events_application ON application_events (application_id, id);

-- The outbox: one row per application still to be handed to the queue. The
-- relay moves rows into BullMQ and deletes them; while Redis is away, they wait.
CREATE TABLE application_outbox (
  application_id uuid PRIMARY KEY REFERENCES applications (id),
  created_at timestamptz NOT NULL DEFAULT now(),
  -- An admin's retry of a failed application: the old failed job is replaced.
  retry boolean NOT NULL DEFAULT false
);
