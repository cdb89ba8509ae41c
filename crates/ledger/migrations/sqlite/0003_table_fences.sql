-- Live-table fencing tokens (schema version 3). In a cluster the node holding a table's lease
-- (in Redis) raises the table's token here before it runs a round; every table bet and
-- settlement carries the token it was taken under and is refused once a newer one is raised,
-- so a node that lost its lease (paused, partitioned) can no longer take or pay a bet.
CREATE TABLE table_fences (
    table_id      TEXT PRIMARY KEY,
    token         BIGINT NOT NULL CHECK (token >= 1),
    raised_at_ms  BIGINT NOT NULL
);
