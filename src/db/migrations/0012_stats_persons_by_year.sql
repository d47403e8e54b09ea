-- Persons served, kept with fewer writes: one row per person and year
-- listing where they applied in each month ("MM:unit"; usually one entry),
-- instead of a row for each month, the year, each of those units and every
-- unit above them. Whether a person is new to a unit in a month or in the
-- year follows from the list, since unit codes are prefixes of the units
-- beneath them (see src/stats/units.ts). A new person cost the fold eight
-- inserted rows and index entries; now one.
CREATE TABLE stats_persons_by_year (
  year date NOT NULL,
  person uuid NOT NULL,
  seen text[] NOT NULL,
  PRIMARY KEY (year, person)
);
-- Keep, from the month rows, the units with nothing of the person's beneath
-- them that month: where they applied. The year rows add nothing to them.
INSERT INTO stats_persons_by_year (year, person, seen)
SELECT date_trunc('year', s.period)::date, s.person, array_agg(to_char(s.period, 'MM') || ':' || s.unit ORDER BY s.period, s.unit)
FROM stats_persons_seen s
WHERE s.grain = 'month' AND NOT EXISTS (
  SELECT 1 FROM stats_persons_seen o
  WHERE o.grain = s.grain AND o.period = s.period AND o.person = s.person
    AND o.unit <> s.unit AND starts_with(o.unit, s.unit))
GROUP BY 1, 2;
DROP TABLE stats_persons_seen;
ALTER TABLE stats_persons_by_year RENAME TO stats_persons_seen;
ALTER TABLE stats_persons_seen RENAME CONSTRAINT stats_persons_by_year_pkey TO stats_persons_seen_pkey;
