-- PostgreSQL schedules delivery; Redis only carries it. Every application on
-- its way has `due_at`: by then its job should have shown progress (started,
-- finished, or been put off to a later time, which moves `due_at` too). The
-- reconciler looks at the overdue ones, asks the queue whether their job is
-- still there, and puts back what Redis lost or BullMQ gave up on.
ALTER TABLE applications ADD COLUMN due_at timestamptz;
-- Attempts that count against this round's budget: answers from the agency
-- (5xx, a timeout of a reachable bus) and attempts cut short by a stopped
-- worker, never the bus's absence. An admin's retry starts a new round.
ALTER TABLE applications ADD COLUMN round_attempts integer NOT NULL DEFAULT 0;
UPDATE applications SET due_at = now(), round_attempts = attempts
  WHERE status IN ('queued', 'delivering') OR (status = 'delivered' AND adapter IS NOT NULL);
CREATE INDEX applications_due ON applications (due_at) WHERE due_at IS NOT NULL;

-- A status callback stays `notify` until it is settled (sent, or refused for
-- good), not only until it is queued; `notify_due_at` is set once it is queued
-- and says when the reconciler should look for its job.
ALTER TABLE application_events ADD COLUMN notify_due_at timestamptz;
