-- Operators (schema version 5). Each account names the operator owning it (NULL: a player of
-- no operator, demo play), so `croupier reconcile` can close the books per operator and
-- currency; and money may leave through an operator's withdrawal.
ALTER TABLE accounts ADD COLUMN operator_id TEXT;

ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_kind_check;
ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_kind_check
    CHECK (kind IN ('deposit', 'withdrawal', 'bet', 'win', 'refund', 'jackpot'));
