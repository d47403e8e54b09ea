-- The catalogue, one document per version. Exactly one draft (what admins
-- edit) and at most one published version (what the public API serves);
-- earlier published versions are archived and can be restored.
CREATE TABLE catalogue_versions (
  version integer PRIMARY KEY,
  status text NOT NULL CHECK (status IN ('draft', 'published', 'archived')),
  document jsonb NOT NULL,
  digest text NOT NULL,
  based_on integer,
  created_at timestamptz NOT NULL DEFAULT now(),
  created_by text NOT NULL,
  published_at timestamptz,
  published_by text,
  note text
);
CREATE UNIQUE INDEX catalogue_versions_one_draft ON catalogue_versions (status) WHERE status = 'draft';
CREATE UNIQUE INDEX catalogue_versions_one_published ON catalogue_versions (status) WHERE status = 'published';

-- Every change to the catalogue: who, when, what, and the entity before and after.
CREATE TABLE catalogue_changes (
  id bigserial PRIMARY KEY,
  version integer NOT NULL REFERENCES catalogue_versions (version),
  at timestamptz NOT NULL DEFAULT now(),
  actor text NOT NULL,
  action text NOT NULL CHECK (action IN ('create', 'update', 'delete', 'import', 'restore', 'publish', 'seed')),
  collection text,
  key text,
  before jsonb,
  after jsonb
);
CREATE INDEX catalogue_changes_entity ON catalogue_changes (collection, key, id);
