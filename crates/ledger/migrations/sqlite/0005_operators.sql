-- Operators (schema version 5). Each account names the operator owning it (NULL: a player of
-- no operator, demo play), so `croupier reconcile` can close the books per operator and
-- currency; and money may leave through an operator's withdrawal. SQLite cannot alter a
-- CHECK, so the entries table is rebuilt.
ALTER TABLE accounts ADD COLUMN operator_id TEXT;

CREATE TABLE ledger_entries_v5 (
    seq                  INTEGER PRIMARY KEY AUTOINCREMENT,
    tx_id                TEXT NOT NULL UNIQUE,
    player_id            TEXT NOT NULL REFERENCES accounts (player_id),
    kind                 TEXT NOT NULL CHECK (kind IN ('deposit', 'withdrawal', 'bet', 'win', 'refund', 'jackpot')),
    amount_minor         BIGINT NOT NULL,
    balance_after_minor  BIGINT NOT NULL CHECK (balance_after_minor >= 0),
    round_id             TEXT,
    created_at_ms        BIGINT NOT NULL
);
INSERT INTO ledger_entries_v5 SELECT * FROM ledger_entries;
DROP TABLE ledger_entries;
ALTER TABLE ledger_entries_v5 RENAME TO ledger_entries;
CREATE INDEX ledger_entries_player ON ledger_entries (player_id, seq);
