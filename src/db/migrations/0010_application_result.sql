-- What the applicant learns: the agency's result on approval (its published
-- result schema: a new registration number, a certificate number, an amount
-- granted) and its rejection reason in Mongolian; `reason` keeps the English.
ALTER TABLE applications ADD COLUMN result jsonb;
ALTER TABLE applications ADD COLUMN reason_mn text;
