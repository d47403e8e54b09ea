-- Combined benefit packages: one application whose parts are applications of
-- their own, one per agency. The package row has no adapter; its status
-- follows its parts.
ALTER TABLE applications ALTER COLUMN adapter DROP NOT NULL;
ALTER TABLE applications ADD COLUMN package_id uuid REFERENCES applications (id);
CREATE INDEX applications_package ON applications (package_id) WHERE package_id IS NOT NULL;
