-- The keeper's index of contract events, shared as it is by SQLite and PostgreSQL: only BIGINT,
-- TEXT and BOOLEAN columns, and SQL both understand.
--
-- Addresses and hashes are lowercase 0x-prefixed hex TEXT. Token amounts can exceed 2^63, so they
-- are decimal TEXT (read back as u128; SQL never sums them). Wh, prices and timestamps are BIGINT.
--
-- Every event-derived table is append-only, keyed by the event's (block_number, log_index) and
-- tied to its block. Current state (a meter's status, a meter's live order) is the latest row for
-- its key, so undoing a reorg is deleting the rows above a block, and nothing else.

CREATE TABLE blocks (
    block_number BIGINT PRIMARY KEY,
    block_hash TEXT NOT NULL,
    parent_hash TEXT NOT NULL,
    block_timestamp BIGINT NOT NULL
);

CREATE TABLE participant_registrations (
    block_number BIGINT NOT NULL REFERENCES blocks (block_number),
    log_index BIGINT NOT NULL,
    account TEXT NOT NULL,
    participant_id BIGINT NOT NULL,
    PRIMARY KEY (block_number, log_index)
);
CREATE INDEX participant_registrations_by_account
    ON participant_registrations (account, block_number, log_index);

CREATE TABLE participant_deactivations (
    block_number BIGINT NOT NULL REFERENCES blocks (block_number),
    log_index BIGINT NOT NULL,
    account TEXT NOT NULL,
    PRIMARY KEY (block_number, log_index)
);
CREATE INDEX participant_deactivations_by_account
    ON participant_deactivations (account, block_number, log_index);

CREATE TABLE meter_registrations (
    block_number BIGINT NOT NULL REFERENCES blocks (block_number),
    log_index BIGINT NOT NULL,
    meter TEXT NOT NULL,
    owner TEXT NOT NULL,
    feeder BIGINT NOT NULL,
    kinds BIGINT NOT NULL,
    capacity_w BIGINT NOT NULL,
    PRIMARY KEY (block_number, log_index)
);
CREATE INDEX meter_registrations_by_meter ON meter_registrations (meter, block_number, log_index);

-- MeterDeactivated (active = FALSE) and MeterReactivated (active = TRUE).
CREATE TABLE meter_status_changes (
    block_number BIGINT NOT NULL REFERENCES blocks (block_number),
    log_index BIGINT NOT NULL,
    meter TEXT NOT NULL,
    active BOOLEAN NOT NULL,
    PRIMARY KEY (block_number, log_index)
);
CREATE INDEX meter_status_changes_by_meter ON meter_status_changes (meter, block_number, log_index);

CREATE TABLE readings (
    block_number BIGINT NOT NULL REFERENCES blocks (block_number),
    log_index BIGINT NOT NULL,
    meter TEXT NOT NULL,
    seq BIGINT NOT NULL,
    interval_end BIGINT NOT NULL,
    import_delta_wh BIGINT NOT NULL,
    export_delta_wh BIGINT NOT NULL,
    -- The volumes are tradable in the interval that ends at interval_end (no gap before it).
    marketable BOOLEAN NOT NULL,
    PRIMARY KEY (block_number, log_index)
);
CREATE INDEX readings_by_interval_end ON readings (interval_end);

-- OrderPlaced: a meter's latest placement is its order, unless a cancellation follows it. The
-- placement's (block_number, log_index) is the order's time priority.
CREATE TABLE orders (
    block_number BIGINT NOT NULL REFERENCES blocks (block_number),
    log_index BIGINT NOT NULL,
    meter TEXT NOT NULL,
    owner TEXT NOT NULL,
    sell_floor BIGINT,
    buy_ceiling BIGINT,
    cap_wh BIGINT,
    valid_from BIGINT NOT NULL,
    valid_until BIGINT,
    cover_from_credits BOOLEAN NOT NULL,
    PRIMARY KEY (block_number, log_index)
);
CREATE INDEX orders_by_meter ON orders (meter, block_number, log_index);

CREATE TABLE order_cancellations (
    block_number BIGINT NOT NULL REFERENCES blocks (block_number),
    log_index BIGINT NOT NULL,
    meter TEXT NOT NULL,
    PRIMARY KEY (block_number, log_index)
);
CREATE INDEX order_cancellations_by_meter ON order_cancellations (meter, block_number, log_index);

-- IntervalSettled, one row per settlement batch; the batch with closing = TRUE completes the
-- interval.
CREATE TABLE interval_settlements (
    block_number BIGINT NOT NULL REFERENCES blocks (block_number),
    log_index BIGINT NOT NULL,
    interval_index BIGINT NOT NULL,
    keeper TEXT NOT NULL,
    price BIGINT NOT NULL,
    traded_wh BIGINT NOT NULL,
    closing BOOLEAN NOT NULL,
    tx_hash TEXT NOT NULL,
    PRIMARY KEY (block_number, log_index)
);
CREATE INDEX interval_settlements_by_interval ON interval_settlements (interval_index);

-- One row per record of a MetersSettled event (a batch settles many meters in one event).
CREATE TABLE meter_settlements (
    block_number BIGINT NOT NULL REFERENCES blocks (block_number),
    log_index BIGINT NOT NULL,
    record_index BIGINT NOT NULL,
    meter TEXT NOT NULL,
    interval_index BIGINT NOT NULL,
    sold_wh BIGINT NOT NULL,
    bought_wh BIGINT NOT NULL,
    credited_wh BIGINT NOT NULL,
    covered_wh BIGINT NOT NULL,
    grid_supplied_wh BIGINT NOT NULL,
    -- Stablecoin base units, decimal: earned when the meter sold, paid when it bought.
    amount TEXT NOT NULL,
    carbon_grams BIGINT NOT NULL,
    PRIMARY KEY (block_number, log_index, record_index)
);
CREATE INDEX meter_settlements_by_interval ON meter_settlements (interval_index);
CREATE INDEX meter_settlements_by_meter ON meter_settlements (meter, interval_index);

-- Deposited and Withdrawn.
CREATE TABLE balance_changes (
    block_number BIGINT NOT NULL REFERENCES blocks (block_number),
    log_index BIGINT NOT NULL,
    account TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('deposit', 'withdrawal')),
    asset BIGINT NOT NULL,
    amount TEXT NOT NULL,
    PRIMARY KEY (block_number, log_index)
);
CREATE INDEX balance_changes_by_account ON balance_changes (account, block_number, log_index);

-- The keeper's own record of the settlement transactions it sent: not derived from events, and
-- never rewound, so a keeper that restarts (or sees a reorg) knows what it already sent.
CREATE TABLE settlement_attempts (
    tx_hash TEXT PRIMARY KEY,
    interval_index BIGINT NOT NULL,
    nonce BIGINT NOT NULL,
    -- Unix seconds.
    sent_at BIGINT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'reverted', 'replaced', 'dropped'))
);
CREATE INDEX settlement_attempts_by_interval ON settlement_attempts (interval_index);
