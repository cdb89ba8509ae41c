-- Progressive jackpots (schema version 2). Pools live here, in the ledger, so a win and the
-- reset of its pool commit together with the player's credit; PostgreSQL runs the same tables.
-- Amounts of pools are in micro-units: millionths of the currency's minor unit (exact shares).
CREATE TABLE jackpot_pools (
    pool_id         TEXT NOT NULL,
    level           TEXT NOT NULL,
    currency        TEXT NOT NULL,
    cycle           BIGINT NOT NULL CHECK (cycle >= 1),
    value_micro     BIGINT NOT NULL CHECK (value_micro >= 0),
    reserve_micro   BIGINT NOT NULL CHECK (reserve_micro >= 0),
    seed_micro      BIGINT NOT NULL CHECK (seed_micro > 0),
    last_won_at_ms  BIGINT,
    updated_at_ms   BIGINT NOT NULL,
    PRIMARY KEY (pool_id, level)
);

-- Every movement of a pool: seeds, contributions and reserve shares (aggregated per wallet
-- batch: `bets` says how many bets one row covers), payouts and reserve used for seeds.
CREATE TABLE jackpot_entries (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    tx_id          TEXT NOT NULL UNIQUE,
    pool_id        TEXT NOT NULL,
    level          TEXT NOT NULL,
    cycle          BIGINT NOT NULL,
    kind           TEXT NOT NULL CHECK (kind IN ('seed', 'contribution', 'reserve', 'payout', 'reserve_to_seed')),
    amount_micro   BIGINT NOT NULL CHECK (amount_micro >= 0),
    bets           BIGINT NOT NULL,
    round_id       TEXT,
    player_id      TEXT,
    created_at_ms  BIGINT NOT NULL,
    FOREIGN KEY (pool_id, level) REFERENCES jackpot_pools (pool_id, level)
);
CREATE INDEX jackpot_entries_level ON jackpot_entries (pool_id, level, seq);

-- One award per (pool, level, cycle): the key that makes a claim exactly-once.
CREATE TABLE jackpot_awards (
    pool_id        TEXT NOT NULL,
    level          TEXT NOT NULL,
    cycle          BIGINT NOT NULL,
    round_id       TEXT NOT NULL,
    player_id      TEXT NOT NULL,
    amount_minor   BIGINT NOT NULL CHECK (amount_minor >= 0),
    reason         TEXT NOT NULL CHECK (reason IN ('trigger', 'mystery', 'ceiling')),
    created_at_ms  BIGINT NOT NULL,
    PRIMARY KEY (pool_id, level, cycle)
);
CREATE INDEX jackpot_awards_round ON jackpot_awards (round_id);

-- What each bet gave its pool (contribution and reserve shares, all levels), on the bet's round.
ALTER TABLE rounds ADD COLUMN jackpot_pool TEXT;
ALTER TABLE rounds ADD COLUMN jackpot_micro BIGINT NOT NULL DEFAULT 0;

-- A ledger entry may now be a jackpot credit: SQLite cannot alter a CHECK, so the table is rebuilt.
CREATE TABLE ledger_entries_v2 (
    seq                  INTEGER PRIMARY KEY AUTOINCREMENT,
    tx_id                TEXT NOT NULL UNIQUE,
    player_id            TEXT NOT NULL REFERENCES accounts (player_id),
    kind                 TEXT NOT NULL CHECK (kind IN ('deposit', 'bet', 'win', 'refund', 'jackpot')),
    amount_minor         BIGINT NOT NULL,
    balance_after_minor  BIGINT NOT NULL CHECK (balance_after_minor >= 0),
    round_id             TEXT,
    created_at_ms        BIGINT NOT NULL
);
INSERT INTO ledger_entries_v2 SELECT * FROM ledger_entries;
DROP TABLE ledger_entries;
ALTER TABLE ledger_entries_v2 RENAME TO ledger_entries;
CREATE INDEX ledger_entries_player ON ledger_entries (player_id, seq);
