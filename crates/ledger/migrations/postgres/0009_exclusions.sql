-- Time-outs and self-exclusions (schema version 9; docs/jurisdictions.md). One row per player:
-- the exclusion in force or the last one. `until_ms` NULL is indefinite. A new exclusion
-- replaces the row only if it ends later (or the old one has ended): an exclusion is never
-- shortened, as the regulators require (UKGC LCCP SR 3.5.3: not reversible during its term).
CREATE TABLE player_exclusions (
    player_id   TEXT PRIMARY KEY,
    until_ms    BIGINT CHECK (until_ms IS NULL OR until_ms > set_at_ms),
    reason      TEXT NOT NULL CHECK (reason IN ('time_out', 'self_exclusion', 'operator')),
    set_at_ms   BIGINT NOT NULL
);
