-- 0003: master key versions, encrypted per-device keys, the append-only audit log.

-- Which master key wrapped what: the fingerprint is the first 16 hex digits of
-- the key's SHA-256, never the key. The highest version is the current one.
CREATE TABLE master_keys (
    version      integer PRIMARY KEY CHECK (version >= 1),
    fingerprint  text NOT NULL CHECK (fingerprint ~ '^[0-9a-f]{16}$'),
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- Device secrets, AES-256-GCM under the master key with "<device_id>:<version>"
-- as associated data, so a ciphertext cannot be moved to another row.
CREATE TABLE device_keys (
    device_id       text NOT NULL,
    version         integer NOT NULL CHECK (version >= 0),
    state           text NOT NULL CHECK (state IN
                        ('pending', 'active', 'previous', 'retired', 'failed')),
    wrapped         bytea NOT NULL,
    nonce           bytea NOT NULL CHECK (octet_length(nonce) = 12),
    master_version  integer NOT NULL REFERENCES master_keys (version),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (device_id, version)
);
CREATE INDEX device_keys_master_idx ON device_keys (master_version);

-- What was done to which device's keys. Rows are only ever added: the
-- triggers refuse UPDATE, DELETE and TRUNCATE.
CREATE TABLE audit_log (
    id            bigserial PRIMARY KEY,
    at            timestamptz NOT NULL DEFAULT now(),
    operation_id  uuid,
    device_id     text NOT NULL,
    step          text NOT NULL,
    key_version   integer,
    outcome       text NOT NULL,
    detail        text
);
CREATE INDEX audit_log_device_idx ON audit_log (device_id, id DESC);
CREATE INDEX audit_log_operation_idx ON audit_log (operation_id, id DESC)
    WHERE operation_id IS NOT NULL;

CREATE FUNCTION audit_log_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change();
