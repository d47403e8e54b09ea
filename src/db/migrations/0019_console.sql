-- The web console's server-side sessions. The cookie carries a random id;
-- only its SHA-256 is kept, so a copy of the table opens no session. Times
-- are epoch milliseconds from the gateway's clock (tests inject one).
CREATE TABLE console_sessions (
  id text PRIMARY KEY,
  principal jsonb NOT NULL,
  csrf text NOT NULL,
  created_ms bigint NOT NULL,
  seen_ms bigint NOT NULL
);
CREATE INDEX console_sessions_seen ON console_sessions (seen_ms);

-- Sign-ins under way: what the callback must check (state, nonce, PKCE
-- verifier), keyed by the digest of the browser's sign-in cookie.
CREATE TABLE console_logins (
  id text PRIMARY KEY,
  state text NOT NULL,
  nonce text NOT NULL,
  verifier text NOT NULL,
  redirect_uri text NOT NULL,
  return_to text NOT NULL,
  created_ms bigint NOT NULL
);
