-- Provably fair seeds (schema version 8; docs/fairness.md). A player of a provably fair
-- operator has one seed in force at a time: its commitment (SHA-256 of the server seed, shown
-- before play), the key id it is derived under (the seed itself is never stored until it is
-- revealed: it is HMAC(key, player : seed_index), docs/fairness.md), the player's client seed
-- and the next nonce. A rotation reveals the seed in force (revealed_at_ms, server_seed) and
-- starts the next index. Every fair round takes one nonce in the transaction that opens it:
-- fair_rounds holds which, and no nonce of a seed is ever used twice.
CREATE TABLE fair_seeds (
    player_id       TEXT NOT NULL REFERENCES accounts (player_id),
    seed_index      BIGINT NOT NULL CHECK (seed_index >= 0),
    commitment      TEXT NOT NULL CHECK (length(commitment) = 64),
    key_id          TEXT NOT NULL,
    client_seed     TEXT NOT NULL CHECK (length(client_seed) BETWEEN 1 AND 64),
    next_nonce      BIGINT NOT NULL DEFAULT 0 CHECK (next_nonce >= 0),
    created_at_ms   BIGINT NOT NULL,
    revealed_at_ms  BIGINT,
    server_seed     TEXT CHECK (server_seed IS NULL OR length(server_seed) = 64),
    PRIMARY KEY (player_id, seed_index),
    CHECK ((revealed_at_ms IS NULL) = (server_seed IS NULL))
);
-- At most one seed in force per player.
CREATE UNIQUE INDEX fair_seeds_in_force ON fair_seeds (player_id) WHERE revealed_at_ms IS NULL;

CREATE TABLE fair_rounds (
    round_id    TEXT PRIMARY KEY REFERENCES rounds (round_id),
    player_id   TEXT NOT NULL,
    seed_index  BIGINT NOT NULL,
    nonce       BIGINT NOT NULL CHECK (nonce >= 0),
    UNIQUE (player_id, seed_index, nonce),
    FOREIGN KEY (player_id, seed_index) REFERENCES fair_seeds (player_id, seed_index)
);
