-- Monitoring and evaluation: roll-ups of the gateway's own history, folded
-- from application events and audit records by an idempotent job (see
-- src/stats/rollup.ts). Reports read only these tables.

-- The transaction that wrote each event. The fold takes events whose
-- transactions have all ended (xid below the snapshot's xmin), so an event
-- committed late is never skipped and none is counted twice.
ALTER TABLE application_events ADD COLUMN xid xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE INDEX application_events_xid ON application_events (xid, id);

-- How far the fold has come. One row; the fold locks it, so one process
-- folds at a time.
CREATE TABLE stats_cursor (
  id boolean PRIMARY KEY DEFAULT true CHECK (id),
  event_xid xid8 NOT NULL DEFAULT '0',
  event_id bigint NOT NULL DEFAULT 0,
  audit_seq bigint NOT NULL DEFAULT 0,
  folded_at timestamptz
);
INSERT INTO stats_cursor DEFAULT VALUES;

-- Committed events above the horizon, folded early because a long
-- transaction held the horizon back; the cursor skips them when it passes.
CREATE TABLE stats_folded_ahead (
  event_id bigint PRIMARY KEY,
  xid xid8 NOT NULL
);
CREATE INDEX stats_folded_ahead_xid ON stats_folded_ahead (xid);

-- Periods are Mongolian calendar days and months (UTC+8). `unit` is '' for
-- the country, then every level above and including the application's own
-- unit; `parent` is the unit above (null for the country), for rankings.
-- Keys start with the unit, then the period, so a unit's months are one
-- range of the index. In stats_flow and stats_durations the row with
-- service '' and channel '' is the total of its unit and period: answers
-- that need no service or channel read one row instead of hundreds.
CREATE TABLE stats_flow (
  grain text NOT NULL CHECK (grain IN ('day', 'month')),
  period date NOT NULL,
  unit text NOT NULL,
  parent text,
  service text NOT NULL,
  channel text NOT NULL,
  received integer NOT NULL DEFAULT 0,
  retried integer NOT NULL DEFAULT 0,
  delivered integer NOT NULL DEFAULT 0,
  decided integer NOT NULL DEFAULT 0,
  approved integer NOT NULL DEFAULT 0,
  rejected integer NOT NULL DEFAULT 0,
  failed integer NOT NULL DEFAULT 0,
  PRIMARY KEY (grain, unit, period, service, channel)
);
CREATE INDEX stats_flow_parent ON stats_flow (grain, parent, period);
-- The units below a parent by their totals: a ranking reads tens of rows, not tens of thousands.
CREATE INDEX stats_flow_parent_total ON stats_flow (grain, parent, period) WHERE service = '';

-- Duration histograms: `bucket` indexes the fixed bounds in
-- src/stats/buckets.ts. measure: delivered and decided (top-level
-- applications, from receipt), queue (every delivery, parts included).
CREATE TABLE stats_durations (
  grain text NOT NULL,
  period date NOT NULL,
  unit text NOT NULL,
  parent text,
  service text NOT NULL,
  channel text NOT NULL,
  measure text NOT NULL CHECK (measure IN ('delivered', 'decided', 'queue')),
  bucket smallint NOT NULL,
  n integer NOT NULL,
  PRIMARY KEY (grain, unit, period, service, channel, measure, bucket)
);
CREATE INDEX stats_durations_parent ON stats_durations (grain, parent, period);
CREATE INDEX stats_durations_parent_total ON stats_durations (grain, parent, period) WHERE service = '';

-- Delivery health: every delivery to an agency, package parts included.
CREATE TABLE stats_delivery (
  grain text NOT NULL,
  period date NOT NULL,
  service text NOT NULL,
  attempts integer NOT NULL DEFAULT 0,
  delivered integer NOT NULL DEFAULT 0,
  dead_lettered integer NOT NULL DEFAULT 0,
  PRIMARY KEY (grain, period, service)
);

-- Open applications by the day they were received: +1 when one opens
-- (receipt, or any step out of failed: an admin's retry), -1 when it ends
-- (decided, failed). Additive, so events folded in any order give the same
-- backlog; a cohort that comes to 0 is deleted.
CREATE TABLE stats_backlog (
  unit text NOT NULL,
  parent text,
  service text NOT NULL,
  channel text NOT NULL,
  cohort date NOT NULL,
  open integer NOT NULL,
  PRIMARY KEY (unit, service, channel, cohort)
);
CREATE INDEX stats_backlog_parent ON stats_backlog (parent);

-- Persons served: distinct applicants per month and year, which do not add
-- up across periods, so each is counted where first seen. `person` is a
-- digest of the registration number, only for that; it never leaves here.
CREATE TABLE stats_persons_seen (
  grain text NOT NULL CHECK (grain IN ('month', 'year')),
  period date NOT NULL,
  unit text NOT NULL,
  person uuid NOT NULL,
  PRIMARY KEY (grain, period, unit, person)
);
CREATE TABLE stats_persons (
  grain text NOT NULL,
  period date NOT NULL,
  unit text NOT NULL,
  parent text,
  sex text NOT NULL,
  age_band text NOT NULL,
  n integer NOT NULL DEFAULT 0,
  PRIMARY KEY (grain, unit, period, sex, age_band)
);
CREATE INDEX stats_persons_parent ON stats_persons (grain, parent, period);

-- Citizen look-ups, from the audit log, by the officer's unit.
CREATE TABLE stats_lookups (
  grain text NOT NULL,
  period date NOT NULL,
  unit text NOT NULL,
  parent text,
  purpose text NOT NULL,
  agency text NOT NULL,
  result text NOT NULL,
  n integer NOT NULL DEFAULT 0,
  PRIMARY KEY (grain, unit, period, purpose, agency, result)
);
CREATE INDEX stats_lookups_parent ON stats_lookups (grain, parent, period);
