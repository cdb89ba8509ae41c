-- The ledger schema on PostgreSQL: the same tables as migrations/sqlite, with BIGSERIAL for the
-- entry sequence and BIGINT for every integer (the shared SQL reads them all as 64-bit).
CREATE TABLE accounts (
    player_id      TEXT PRIMARY KEY NOT NULL,
    currency       TEXT NOT NULL,
    balance_minor  BIGINT NOT NULL CHECK (balance_minor >= 0),
    created_at_ms  BIGINT NOT NULL
);

CREATE TABLE ledger_entries (
    seq                  BIGSERIAL PRIMARY KEY,
    tx_id                TEXT NOT NULL UNIQUE,
    player_id            TEXT NOT NULL REFERENCES accounts (player_id),
    kind                 TEXT NOT NULL CHECK (kind IN ('deposit', 'bet', 'win', 'refund')),
    amount_minor         BIGINT NOT NULL,
    balance_after_minor  BIGINT NOT NULL CHECK (balance_after_minor >= 0),
    round_id             TEXT,
    created_at_ms        BIGINT NOT NULL
);
CREATE INDEX ledger_entries_player ON ledger_entries (player_id, seq);

CREATE TABLE rounds (
    round_id             TEXT PRIMARY KEY NOT NULL,
    player_id            TEXT NOT NULL REFERENCES accounts (player_id),
    req_id               TEXT NOT NULL,
    game                 TEXT NOT NULL,
    status               TEXT NOT NULL CHECK (status IN ('open', 'settled', 'void')),
    bet_minor            BIGINT NOT NULL CHECK (bet_minor >= 0),
    stake_minor          BIGINT NOT NULL CHECK (stake_minor >= 0),
    win_minor            BIGINT NOT NULL CHECK (win_minor >= 0),
    free_spin            BIGINT NOT NULL,
    multiplier           BIGINT NOT NULL,
    balance_after_minor  BIGINT NOT NULL,
    outcome              TEXT,
    created_at_ms        BIGINT NOT NULL,
    settled_at_ms        BIGINT,
    UNIQUE (player_id, req_id)
);
CREATE INDEX rounds_player ON rounds (player_id, created_at_ms);
CREATE INDEX rounds_open ON rounds (status) WHERE status = 'open';

CREATE TABLE free_spins (
    player_id   TEXT NOT NULL REFERENCES accounts (player_id),
    game        TEXT NOT NULL,
    remaining   BIGINT NOT NULL CHECK (remaining >= 0),
    bet_minor   BIGINT NOT NULL,
    multiplier  BIGINT NOT NULL,
    PRIMARY KEY (player_id, game)
);
