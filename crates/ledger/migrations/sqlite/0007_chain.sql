-- The tamper-evident chain (schema version 7; the encoding is in src/chain.rs and
-- docs/integrity.md). Each money row carries its link: its number in its chain and its hash
-- over the link before. A player's chain holds their entries and their finalised rounds; a
-- jackpot level's chain holds its pool entries. Each chain's head (links so far, last hash) is
-- kept on the account or pool row that every movement already writes.
ALTER TABLE accounts ADD COLUMN chain_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN chain_head TEXT NOT NULL
    DEFAULT '0000000000000000000000000000000000000000000000000000000000000000';
ALTER TABLE ledger_entries ADD COLUMN chain_seq INTEGER;
ALTER TABLE ledger_entries ADD COLUMN chain_hash TEXT;
ALTER TABLE rounds ADD COLUMN chain_seq INTEGER;
ALTER TABLE rounds ADD COLUMN chain_hash TEXT;
ALTER TABLE jackpot_pools ADD COLUMN chain_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jackpot_pools ADD COLUMN chain_head TEXT NOT NULL
    DEFAULT '0000000000000000000000000000000000000000000000000000000000000000';
ALTER TABLE jackpot_entries ADD COLUMN chain_seq INTEGER;
ALTER TABLE jackpot_entries ADD COLUMN chain_hash TEXT;
-- Rows written before this version carry no link; the audit counts them as such. Anything
-- unlinked after this point is a row nobody wrote through the ledger.
CREATE TABLE chain_origin (
    entries_seq  INTEGER NOT NULL,
    jackpot_seq  INTEGER NOT NULL,
    at_ms        INTEGER NOT NULL
);
INSERT INTO chain_origin (entries_seq, jackpot_seq, at_ms) VALUES (
    COALESCE((SELECT MAX(seq) FROM ledger_entries), 0),
    COALESCE((SELECT MAX(seq) FROM jackpot_entries), 0),
    CAST(strftime('%s', 'now') AS INTEGER) * 1000);
