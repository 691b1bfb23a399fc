-- The registers of the last reading signed for each meter: a restarted gateway refuses a sample
-- whose registers went backwards before it signs anything.
ALTER TABLE meters ADD COLUMN last_import_wh INTEGER;
ALTER TABLE meters ADD COLUMN last_export_wh INTEGER;
