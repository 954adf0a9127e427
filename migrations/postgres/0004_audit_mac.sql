-- The keyed audit chain; see migrations/sqlite/0004_audit_mac.sql for the why.
ALTER TABLE moat_audit_log ADD COLUMN mac TEXT NULL;
