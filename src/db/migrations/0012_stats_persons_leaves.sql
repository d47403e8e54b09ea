-- Persons served, kept with fewer writes: one row per person and period
-- listing the units where the person applied (usually one), instead of a
-- row for each of those units and every unit above them. Whether a person
-- is new to a unit follows from the list, since unit codes are prefixes of
-- the units beneath them (see src/stats/units.ts). A new person cost the
-- fold six to eight inserted rows and index entries; now two.
CREATE TABLE stats_persons_where (
  grain text NOT NULL CHECK (grain IN ('month', 'year')),
  period date NOT NULL,
  person uuid NOT NULL,
  units text[] NOT NULL,
  PRIMARY KEY (grain, period, person)
);
-- Keep the units with nothing of the person's beneath them: where they applied.
INSERT INTO stats_persons_where (grain, period, person, units)
SELECT s.grain, s.period, s.person, array_agg(s.unit ORDER BY s.unit)
FROM stats_persons_seen s
WHERE NOT EXISTS (
  SELECT 1 FROM stats_persons_seen o
  WHERE o.grain = s.grain AND o.period = s.period AND o.person = s.person
    AND o.unit <> s.unit AND starts_with(o.unit, s.unit))
GROUP BY s.grain, s.period, s.person;
DROP TABLE stats_persons_seen;
ALTER TABLE stats_persons_where RENAME TO stats_persons_seen;
ALTER TABLE stats_persons_seen RENAME CONSTRAINT stats_persons_where_pkey TO stats_persons_seen_pkey;
