-- The node that opened each round: when that node leaves the cluster, the others refund its
-- open rounds at once instead of waiting for ledger.stale_round_seconds. NULL for rounds
-- opened before this step.
ALTER TABLE rounds ADD COLUMN node_id TEXT;
