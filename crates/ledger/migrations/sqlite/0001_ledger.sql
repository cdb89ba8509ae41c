-- The ledger schema. PostgreSQL runs the same tables (migrations/postgres), differing only in
-- the auto-increment column type.
CREATE TABLE accounts (
    player_id      TEXT PRIMARY KEY NOT NULL,
    currency       TEXT NOT NULL,
    balance_minor  BIGINT NOT NULL CHECK (balance_minor >= 0),
    created_at_ms  BIGINT NOT NULL
);

CREATE TABLE ledger_entries (
    seq                  INTEGER PRIMARY KEY AUTOINCREMENT,
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
    free_spin            INTEGER NOT NULL,
    multiplier           INTEGER NOT NULL,
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
    remaining   INTEGER NOT NULL CHECK (remaining >= 0),
    bet_minor   BIGINT NOT NULL,
    multiplier  INTEGER NOT NULL,
    PRIMARY KEY (player_id, game)
);
