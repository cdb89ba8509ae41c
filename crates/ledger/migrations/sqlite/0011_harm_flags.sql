-- Harm flags (schema version 11; docs/jurisdictions.md, "Watching for harm"): a pattern of
-- one session that met a rule of its jurisdiction profile (loss chasing, long play). Raised at
-- most once per session and rule; kept for the operator's safer-gambling team.
CREATE TABLE harm_flags (
    player_id     TEXT NOT NULL,
    session_id    TEXT NOT NULL,
    rule          TEXT NOT NULL CHECK (rule IN ('loss_chasing', 'long_session')),
    profile       TEXT NOT NULL,
    raised_at_ms  BIGINT NOT NULL,
    PRIMARY KEY (player_id, session_id, rule)
);
CREATE INDEX harm_flags_player ON harm_flags (player_id, raised_at_ms);
