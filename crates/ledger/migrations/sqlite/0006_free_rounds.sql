-- Free rounds, and every jackpot draw kept with its round (schema version 6).
-- Free rounds: rounds an operator gives one player on one game at a fixed bet (a campaign),
-- played without a debit, their wins credited like any win. Distinct from a slot's own free
-- spins (the free_spins table) and never mixed with them. A grant's count of rounds left is
-- what its events add up to (grant and void +, play, cancel and expire -); the audit checks it.
CREATE TABLE free_rounds (
    player_id      TEXT NOT NULL REFERENCES accounts (player_id),
    campaign_id    TEXT NOT NULL,
    game           TEXT NOT NULL,
    bet_minor      BIGINT NOT NULL CHECK (bet_minor > 0),
    granted        INTEGER NOT NULL CHECK (granted > 0),
    remaining      INTEGER NOT NULL CHECK (remaining >= 0 AND remaining <= granted),
    expires_at_ms  BIGINT NOT NULL,
    status         TEXT NOT NULL CHECK (status IN ('active', 'cancelled', 'expired')),
    created_at_ms  BIGINT NOT NULL,
    closed_at_ms   BIGINT,
    PRIMARY KEY (player_id, campaign_id)
);
CREATE INDEX free_rounds_due ON free_rounds (expires_at_ms) WHERE status = 'active';

CREATE TABLE free_round_events (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    player_id      TEXT NOT NULL,
    campaign_id    TEXT NOT NULL,
    kind           TEXT NOT NULL CHECK (kind IN ('grant', 'play', 'void', 'cancel', 'expire')),
    rounds         INTEGER NOT NULL CHECK (rounds >= 0),
    round_id       TEXT,
    created_at_ms  BIGINT NOT NULL,
    FOREIGN KEY (player_id, campaign_id) REFERENCES free_rounds (player_id, campaign_id)
);
CREATE INDEX free_round_events_grant ON free_round_events (player_id, campaign_id, seq);
-- A round is played, and voided, at most once.
CREATE UNIQUE INDEX free_round_events_round ON free_round_events (round_id, kind)
    WHERE round_id IS NOT NULL;

-- The campaign a round was a free round of (NULL: not a free round).
ALTER TABLE rounds ADD COLUMN campaign_id TEXT;
-- Every jackpot draw of a round (JSON: each level's trigger and mystery draw with its odds and
-- the value drawn), so a recall holds every value the RNG produced for the round. NULL: it
-- fed no pool, or it was settled before this step.
ALTER TABLE rounds ADD COLUMN jackpot_draws TEXT;
