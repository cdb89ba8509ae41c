-- Safer-gambling limits (schema version 10; docs/jurisdictions.md, "Player limits").
-- `limits_set` marks an account that holds (or held) a limit: only those accounts' stakes,
-- wins and deposits are counted in `player_activity` and checked, so a player without limits
-- costs no extra statement. It is read by the balance update the stake runs anyway.
ALTER TABLE accounts ADD COLUMN limits_set INTEGER NOT NULL DEFAULT 0;

-- One row per player and limit. `amount` is the limit in force (minor units of the account's
-- currency, minutes for session_time; NULL: none). A looser change waits in `pending_*` until
-- its cooling-off has passed (`pending_amount` NULL with `pending_from_ms` set: a removal).
CREATE TABLE player_limits (
    player_id        TEXT NOT NULL REFERENCES accounts (player_id),
    kind             TEXT NOT NULL CHECK (kind IN ('loss', 'wager', 'deposit', 'session_time')),
    period           TEXT NOT NULL CHECK (period IN ('day', 'week', 'month', 'session')),
    amount           BIGINT CHECK (amount IS NULL OR amount > 0),
    pending_amount   BIGINT CHECK (pending_amount IS NULL OR pending_amount > 0),
    pending_from_ms  BIGINT,
    set_at_ms        BIGINT NOT NULL,
    PRIMARY KEY (player_id, kind, period),
    CHECK (pending_amount IS NULL OR pending_from_ms IS NOT NULL)
);

-- What a limited player staked, won and deposited, per hour (`hour_ms`: the hour's start).
-- Rolling windows sum the hours that have not wholly left them; older rows are pruned.
CREATE TABLE player_activity (
    player_id        TEXT NOT NULL,
    hour_ms          BIGINT NOT NULL,
    wagered_minor    BIGINT NOT NULL DEFAULT 0,
    won_minor        BIGINT NOT NULL DEFAULT 0,
    deposited_minor  BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (player_id, hour_ms)
);
CREATE INDEX player_activity_hour ON player_activity (hour_ms);
