-- The last sequence number and boundary each meter signed: seq never repeats, even after its
-- readings have left the outbox.
CREATE TABLE meters (
    meter TEXT PRIMARY KEY NOT NULL,
    last_seq INTEGER NOT NULL,
    last_interval_end INTEGER
);

-- Every signed reading, written before it is sent. A row leaves only once the transaction that
-- counted it has the configured number of confirmations.
CREATE TABLE outbox (
    meter TEXT NOT NULL,
    seq INTEGER NOT NULL,
    interval_end INTEGER NOT NULL,
    import_wh INTEGER NOT NULL,
    export_wh INTEGER NOT NULL,
    r BLOB NOT NULL,
    vs BLOB NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'included', 'rejected')),
    tx_hash BLOB,
    block_number INTEGER,
    reason TEXT,
    signed_at INTEGER NOT NULL,
    PRIMARY KEY (meter, seq)
);

CREATE INDEX outbox_state ON outbox (state, interval_end);
