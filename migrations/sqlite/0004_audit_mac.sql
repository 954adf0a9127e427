-- The keyed audit chain: each entry's HMAC-SHA256 (hex) under keys_dir/audit.key, over
-- its id and chain hash (see src/seal.rs, src/store/audit.rs). NULL on entries written
-- before the key existed; the key file says from which entry on every one has a MAC.
-- The key itself is never stored here; moat_meta's `audit_key` row holds only where the
-- keyed part starts and a MAC of that, so a wrong or missing key file is noticed at start.
ALTER TABLE moat_audit_log ADD COLUMN mac TEXT NULL;
