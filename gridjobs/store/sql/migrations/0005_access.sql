-- 0005: API tokens, who did what to an operation, its feeders, and the audit of requests.

-- A token is "gjt_<id>_<secret>": only the id and the SHA-256 of the secret are kept.
CREATE TABLE api_tokens (
    id            text PRIMARY KEY CHECK (id ~ '^[0-9a-f]{16}$'),
    name          text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 64),
    secret_sha256 bytea NOT NULL CHECK (octet_length(secret_sha256) = 32),
    roles         text[] NOT NULL CHECK (cardinality(roles) >= 1),
    feeders       text[],                -- NULL: every feeder
    expires_at    timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    revoked_at    timestamptz,
    last_used_at  timestamptz
);

ALTER TABLE operations
    ADD COLUMN feeders      text[] NOT NULL DEFAULT '{}',
    ADD COLUMN submitted_by text,
    ADD COLUMN cancelled_by text,
    ADD COLUMN resumed_by   text;
CREATE INDEX operations_feeders_idx ON operations USING gin (feeders);

-- Every state-changing request, allowed or denied. Never the credential itself.
CREATE TABLE request_audit (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    principal   text,                    -- token name or JWT subject; NULL: no valid identity
    via         text,                    -- token | jwt | NULL
    roles       text[] NOT NULL DEFAULT '{}',
    method      text NOT NULL,
    route       text NOT NULL,
    target      text,
    request_id  text,
    status      integer NOT NULL,
    detail      text
);
CREATE INDEX request_audit_principal_idx ON request_audit (principal, id DESC);
CREATE TRIGGER request_audit_append_only BEFORE UPDATE OR DELETE ON request_audit
    FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_change();
CREATE TRIGGER request_audit_no_truncate BEFORE TRUNCATE ON request_audit
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change();
