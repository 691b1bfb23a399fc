-- A meter's settlements by position in the chain: `unsettled_meters` asks, for each reading, whether
-- a settlement of its meter comes after it, which without this index scanned every settlement of
-- the meter (seconds per interval once a neighbourhood has a day of readings).
CREATE INDEX meter_settlements_by_meter_position
    ON meter_settlements (meter, block_number, log_index);
