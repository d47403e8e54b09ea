-- The relay reads the outbox oldest first, a page at a time.
CREATE INDEX application_outbox_created_at ON application_outbox (created_at);
