-- The tamper-evident chain (schema version 7), PostgreSQL: the same columns as
-- migrations/sqlite/0007_chain.sql, which says what they hold.
ALTER TABLE accounts ADD COLUMN chain_seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN chain_head TEXT NOT NULL
    DEFAULT '0000000000000000000000000000000000000000000000000000000000000000';
ALTER TABLE ledger_entries ADD COLUMN chain_seq BIGINT;
ALTER TABLE ledger_entries ADD COLUMN chain_hash TEXT;
ALTER TABLE rounds ADD COLUMN chain_seq BIGINT;
ALTER TABLE rounds ADD COLUMN chain_hash TEXT;
ALTER TABLE jackpot_pools ADD COLUMN chain_seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE jackpot_pools ADD COLUMN chain_head TEXT NOT NULL
    DEFAULT '0000000000000000000000000000000000000000000000000000000000000000';
ALTER TABLE jackpot_entries ADD COLUMN chain_seq BIGINT;
ALTER TABLE jackpot_entries ADD COLUMN chain_hash TEXT;
CREATE TABLE chain_origin (
    entries_seq  BIGINT NOT NULL,
    jackpot_seq  BIGINT NOT NULL,
    at_ms        BIGINT NOT NULL
);
INSERT INTO chain_origin (entries_seq, jackpot_seq, at_ms) VALUES (
    COALESCE((SELECT MAX(seq) FROM ledger_entries), 0),
    COALESCE((SELECT MAX(seq) FROM jackpot_entries), 0),
    CAST(EXTRACT(EPOCH FROM now()) * 1000 AS BIGINT));
-- The scheduled checkpoint reads accounts a page at a time in byte order (as Rust sorts the
-- export); the database's own collation may be a locale's, so it gets an index of its own.
CREATE INDEX accounts_player_bytes ON accounts (player_id COLLATE "C");
