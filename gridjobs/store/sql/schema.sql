-- The truth about the gridjobs schema. The numbered files in migrations/
-- must reproduce it exactly (tests/integration/test_schema.py checks).

CREATE TABLE schema_migrations (
    version     integer PRIMARY KEY,
    name        text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE devices (
    id             text PRIMARY KEY,
    profile        text NOT NULL,
    host           text NOT NULL,
    port           integer NOT NULL CHECK (port BETWEEN 1 AND 65535),
    unit_id        integer NOT NULL CHECK (unit_id BETWEEN 0 AND 255),
    feeder         text NOT NULL,
    shed_priority  integer NOT NULL CHECK (shed_priority >= 1),
    protected      boolean NOT NULL DEFAULT false,
    rated_kw       double precision NOT NULL CHECK (rated_kw >= 0),
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    segment        text CHECK (segment ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$')  -- README "Running on a cluster"
);
CREATE INDEX devices_feeder_idx ON devices (feeder, id);
CREATE INDEX devices_profile_idx ON devices (profile, id);

CREATE TABLE operations (
    id                uuid PRIMARY KEY,
    kind              text NOT NULL,
    status            text NOT NULL CHECK (status IN
                        ('queued', 'running', 'cancelling', 'succeeded', 'failed', 'cancelled',
                         'paused')),
    priority          integer NOT NULL DEFAULT 0,
    params            jsonb NOT NULL,
    checkpoint        jsonb NOT NULL DEFAULT '{}'::jsonb,
    result            jsonb,
    error_code        text,
    error_detail      text,
    cancel_requested  boolean NOT NULL DEFAULT false,
    resume_requested  boolean NOT NULL DEFAULT false,
    lease_owner       text,
    lease_expires_at  timestamptz,
    fence             bigint NOT NULL DEFAULT 0,
    claims            integer NOT NULL DEFAULT 0,
    created_at        timestamptz NOT NULL DEFAULT now(),
    started_at        timestamptz,
    finished_at       timestamptz,
    updated_at        timestamptz NOT NULL DEFAULT now(),
    feeders           text[] NOT NULL DEFAULT '{}',   -- the scope's feeders, for areas of responsibility
    submitted_by      text,
    cancelled_by      text,
    resumed_by        text,
    callback_webhook_id uuid                         -- a submission's "callback": its events go there too
);
CREATE INDEX operations_claim_idx ON operations (priority DESC, created_at)
    WHERE status IN ('queued', 'running', 'cancelling');
CREATE INDEX operations_paused_idx ON operations (priority DESC, created_at)
    WHERE status = 'paused';
CREATE INDEX operations_newest_idx ON operations (created_at DESC, id DESC);
CREATE INDEX operations_feeders_idx ON operations USING gin (feeders);
-- The admission refresher groups the active operations and counts the recently
-- claimed ones every ~0.5 s: it reads these, not the whole history.
CREATE INDEX operations_active_idx ON operations (kind, status, priority, created_at)
    WHERE status IN ('queued', 'running', 'cancelling', 'paused');
CREATE INDEX operations_started_idx ON operations (started_at) INCLUDE (kind, priority)
    WHERE started_at IS NOT NULL;

CREATE TABLE idempotency_keys (
    key           text PRIMARY KEY,
    request_hash  text NOT NULL,
    operation_id  uuid NOT NULL REFERENCES operations (id) ON DELETE CASCADE,
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL
);
CREATE INDEX idempotency_keys_expiry_idx ON idempotency_keys (expires_at);

CREATE TABLE device_outcomes (
    operation_id  uuid NOT NULL REFERENCES operations (id) ON DELETE CASCADE,
    device_id     text NOT NULL,
    state         text NOT NULL CHECK (state IN
                    ('pending', 'running', 'succeeded', 'failed', 'cancelled')),
    step          text NOT NULL,
    code          text,
    detail        text,
    attempts      integer NOT NULL DEFAULT 0,
    data          jsonb NOT NULL DEFAULT '{}'::jsonb,
    seq           integer NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (operation_id, device_id)
);
CREATE INDEX device_outcomes_seq_idx ON device_outcomes (operation_id, seq);

-- Each operation's outcome counts, kept by statement triggers from the rows each
-- statement writes, so that a poll, a list or a progress event reads one row
-- instead of counting the operation's outcomes.
CREATE TABLE outcome_counts (
    operation_id  uuid PRIMARY KEY REFERENCES operations (id) ON DELETE CASCADE,
    total         bigint NOT NULL DEFAULT 0,
    succeeded     bigint NOT NULL DEFAULT 0,
    failed        bigint NOT NULL DEFAULT 0      -- failed or cancelled
);

-- One function for the three triggers: per operation, what the statement added
-- (new_rows) less what it took away (old_rows). The first outcome of an operation makes
-- its counts row; an update or a deletion changes the row its outcomes made. (Outcomes
-- are deleted only with their operation, ON DELETE CASCADE, whose counts row goes too.)
CREATE FUNCTION outcome_counts_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO outcome_counts AS c (operation_id, total, succeeded, failed)
        SELECT operation_id, count(*), count(*) FILTER (WHERE state = 'succeeded'),
               count(*) FILTER (WHERE state IN ('failed', 'cancelled'))
        FROM new_rows GROUP BY operation_id
        ON CONFLICT (operation_id) DO UPDATE SET
            total = c.total + EXCLUDED.total, succeeded = c.succeeded + EXCLUDED.succeeded,
            failed = c.failed + EXCLUDED.failed;
    ELSIF TG_OP = 'UPDATE' THEN
        UPDATE outcome_counts AS c SET
            total = c.total + d.total, succeeded = c.succeeded + d.succeeded, failed = c.failed + d.failed
        FROM (SELECT operation_id, sum(n) AS total,
                     coalesce(sum(n) FILTER (WHERE state = 'succeeded'), 0) AS succeeded,
                     coalesce(sum(n) FILTER (WHERE state IN ('failed', 'cancelled')), 0) AS failed
              FROM (SELECT operation_id, state, 1 AS n FROM new_rows
                    UNION ALL
                    SELECT operation_id, state, -1 FROM old_rows) AS moved
              GROUP BY operation_id) AS d
        WHERE c.operation_id = d.operation_id AND (d.total, d.succeeded, d.failed) <> (0, 0, 0);
    ELSE
        UPDATE outcome_counts AS c SET
            total = c.total - d.total, succeeded = c.succeeded - d.succeeded, failed = c.failed - d.failed
        FROM (SELECT operation_id, count(*) AS total,
                     count(*) FILTER (WHERE state = 'succeeded') AS succeeded,
                     count(*) FILTER (WHERE state IN ('failed', 'cancelled')) AS failed
              FROM old_rows GROUP BY operation_id) AS d
        WHERE c.operation_id = d.operation_id;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER device_outcomes_counted_insert AFTER INSERT ON device_outcomes
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION outcome_counts_apply();
CREATE TRIGGER device_outcomes_counted_update AFTER UPDATE ON device_outcomes
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION outcome_counts_apply();
CREATE TRIGGER device_outcomes_counted_delete AFTER DELETE ON device_outcomes
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION outcome_counts_apply();

CREATE TABLE device_state (
    device_id            text PRIMARY KEY,
    holder_operation_id  uuid,
    holder_until         timestamptz,
    setpoint_pct         integer,
    last_kw              double precision,
    updated_at           timestamptz NOT NULL DEFAULT now()
);

-- Firmware images. Within one profile a version names exactly one image and an
-- image carries exactly one version: the same bytes, version and profile again
-- are the same artifact; a clash on either key alone is refused.
CREATE TABLE firmware_artifacts (
    id          uuid PRIMARY KEY,
    version     text NOT NULL,
    profile     text NOT NULL,
    sha256      text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    size        bigint NOT NULL CHECK (size > 0),
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (profile, version),
    UNIQUE (profile, sha256)
);
CREATE INDEX firmware_artifacts_newest_idx ON firmware_artifacts (created_at DESC, id DESC);

-- The image in fixed-size rows (64 KiB; the last may be shorter). Chunks are
-- written while the upload streams, before the artifact row exists: the
-- foreign key is checked at commit.
CREATE TABLE firmware_chunks (
    artifact_id  uuid NOT NULL REFERENCES firmware_artifacts (id) ON DELETE CASCADE
                     DEFERRABLE INITIALLY DEFERRED,
    idx          integer NOT NULL CHECK (idx >= 0),
    data         bytea NOT NULL,
    PRIMARY KEY (artifact_id, idx)
);

-- How far each device's transfer got, written by the shards.
CREATE TABLE firmware_transfers (
    operation_id  uuid NOT NULL REFERENCES operations (id) ON DELETE CASCADE,
    device_id     text NOT NULL,
    artifact_id   uuid NOT NULL,
    "offset"      bigint NOT NULL DEFAULT 0 CHECK ("offset" >= 0),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (operation_id, device_id)
);

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

-- API tokens: "gjt_<id>_<secret>"; only the id and the SHA-256 of the secret are kept.
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

-- The outbox: every change an operation goes through, written by the statement
-- (or transaction) that makes the change, so neither exists without the other.
-- Readers (the webhook relay, the event streams) resume after an id, so ids must
-- grow in the order readers may see rows, not in the order rows were inserted:
-- events_position() makes the id (transaction id << 20) + the event's number
-- within its transaction, and readers take only ids below events_horizon(),
-- (the oldest transaction that may still write events << 20). A transaction in
-- flight, or one yet to come, has an id at or above the horizon, so nothing a
-- reader has passed can still appear behind it.
CREATE TABLE events (
    id            bigint PRIMARY KEY,       -- set by events_position(); never given
    type          text NOT NULL,
    operation_id  uuid,                     -- NULL: not about an operation (webhook.disabled)
    principal     text,                     -- NULL: whoever's area covers the operation
    data          jsonb NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX events_operation_idx ON events (operation_id, id) WHERE operation_id IS NOT NULL;
CREATE INDEX events_progress_idx ON events (operation_id, id) WHERE type = 'operation.progress';
CREATE INDEX events_created_idx ON events (created_at);

CREATE FUNCTION events_position() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    n integer := coalesce(nullif(current_setting('gridjobs.events_in_xact', true), ''), '0')::integer + 1;
BEGIN
    IF n >= 1048576 THEN
        RAISE EXCEPTION 'one transaction may write at most 1048575 events';
    END IF;
    PERFORM set_config('gridjobs.events_in_xact', n::text, true);   -- transaction-local
    NEW.id := (pg_current_xact_id()::text::bigint << 20) + n;
    RETURN NEW;
END
$$;
CREATE TRIGGER events_position BEFORE INSERT ON events
    FOR EACH ROW EXECUTE FUNCTION events_position();

-- The id below which every event is final: the oldest transaction that may still write
-- events (one in flight in this database, or not yet begun), shifted like the ids.
-- Transactions of other databases on the same server cannot write here and do not
-- hold it back (pg_stat_activity names their database; one it cannot see is kept).
CREATE FUNCTION events_horizon() RETURNS bigint LANGUAGE plpgsql STABLE AS $$
DECLARE
    snap       pg_snapshot := pg_current_snapshot();
    elsewhere  xid[];
    lowest     xid8;
    next       xid8 := pg_snapshot_xmax(snap);
BEGIN
    SELECT coalesce(array_agg(backend_xid), '{}') INTO elsewhere FROM pg_stat_activity
    WHERE backend_xid IS NOT NULL
      AND datid IS DISTINCT FROM (SELECT oid FROM pg_database WHERE datname = current_database());
    SELECT min(x) INTO lowest FROM pg_snapshot_xip(snap) AS x WHERE NOT x::xid = ANY (elsewhere);
    WHILE next::xid = ANY (elsewhere) LOOP   -- at most one step per other backend
        next := (next::text::bigint + 1)::text::xid8;
    END LOOP;
    RETURN least(coalesce(lowest, next), next)::text::bigint << 20;
END
$$;

-- Wake the relays and the streams; delivered at commit, once per transaction, and
-- only by a transaction that wrote an event (events_position counts them): a statement
-- that inserts no row fires this trigger too. A transaction that sets
-- gridjobs.events_notify to 'off' announces its events itself, after it commits
-- (submit_operations, whose batches must not take turns at commit).
CREATE FUNCTION events_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('gridjobs.events_notify', true) IS DISTINCT FROM 'off'
       AND coalesce(nullif(current_setting('gridjobs.events_in_xact', true), ''), '0') <> '0' THEN
        PERFORM pg_notify('gridjobs_events', '');
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER events_notify AFTER INSERT ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_notify();

-- Webhook endpoints (Standard Webhooks), each owned by the principal that made it.
CREATE TABLE webhook_endpoints (
    id               uuid PRIMARY KEY,
    principal        text NOT NULL,
    url              text NOT NULL,
    event_types      text[] NOT NULL CHECK (cardinality(event_types) >= 1),
    feeders          text[],                -- the filter within the owner's area; NULL: every feeder
    description      text,
    status           text NOT NULL DEFAULT 'enabled' CHECK (status IN ('enabled', 'disabled')),
    disabled_reason  text,
    failing_since    timestamptz,           -- the first failure since the last success
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_endpoints_principal_idx ON webhook_endpoints (principal, created_at);

-- Signing secrets, AES-256-GCM under the master key with "webhook:<id>:<version>"
-- as associated data (gridjobs.device_keys.wrapping). A rotated-out secret signs
-- beside the new one until expires_at.
CREATE TABLE webhook_secrets (
    endpoint_id     uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    version         integer NOT NULL CHECK (version >= 1),
    wrapped         bytea NOT NULL,
    nonce           bytea NOT NULL CHECK (octet_length(nonce) = 12),
    master_version  integer NOT NULL REFERENCES master_keys (version),
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz,            -- NULL: the current secret
    PRIMARY KEY (endpoint_id, version)
);
CREATE INDEX webhook_secrets_master_idx ON webhook_secrets (master_version);

-- One event to one endpoint. Claimed with a lease (state 'sending', claim fenced).
CREATE TABLE webhook_deliveries (
    id                bigserial PRIMARY KEY,
    endpoint_id       uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id          bigint NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    operation_id      uuid,                 -- one operation's deliveries to one endpoint go in order
    state             text NOT NULL DEFAULT 'pending'
                          CHECK (state IN ('pending', 'sending', 'delivered', 'failed')),
    attempts          integer NOT NULL DEFAULT 0,
    schedule_from     integer NOT NULL DEFAULT 0,   -- attempts made before the retry schedule (re)started
    next_attempt_at   timestamptz NOT NULL DEFAULT now(),
    claim             bigint NOT NULL DEFAULT 0,
    claim_expires_at  timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (endpoint_id, event_id)
);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (endpoint_id, next_attempt_at, event_id)
    WHERE state = 'pending';
CREATE INDEX webhook_deliveries_open_idx ON webhook_deliveries (endpoint_id, operation_id, event_id)
    WHERE state IN ('pending', 'sending');
CREATE INDEX webhook_deliveries_claimed_idx ON webhook_deliveries (claim_expires_at)
    WHERE state = 'sending';
CREATE INDEX webhook_deliveries_done_idx ON webhook_deliveries (updated_at)
    WHERE state IN ('delivered', 'failed');
CREATE INDEX webhook_deliveries_event_idx ON webhook_deliveries (event_id);
CREATE INDEX webhook_deliveries_newest_idx ON webhook_deliveries (endpoint_id, id DESC);

-- Each attempt: status, latency, error, and at most 1 KiB of the answer.
CREATE TABLE webhook_attempts (
    delivery_id      bigint NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempt          integer NOT NULL CHECK (attempt >= 1),
    at               timestamptz NOT NULL DEFAULT now(),
    status_code      integer,
    latency_ms       double precision,
    error            text,
    response         text,
    next_attempt_at  timestamptz,            -- when the next attempt is due; NULL: none
    PRIMARY KEY (delivery_id, attempt)
);

-- The queue as an API process last read it for admission, per key (the claim window):
-- the other processes take it while it is younger than their refresh interval, so N
-- processes count the queue about as often as one does (gridjobs.store.queue).
CREATE TABLE queue_readings (
    name      text PRIMARY KEY,
    taken_at  timestamptz NOT NULL,
    reading   jsonb NOT NULL
);

-- How far each relay has read the outbox.
CREATE TABLE outbox_cursors (
    name      text PRIMARY KEY,
    position  bigint NOT NULL CHECK (position >= 0)
);

-- The number of DeviceShard actors of the Ray cluster (README "Running on a cluster").
CREATE TABLE shard_layout (
    only_row     boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    shards       integer NOT NULL CHECK (shards >= 1),
    recorded_at  timestamptz NOT NULL DEFAULT now()
);

-- A shed's checkpoint holds every device's survey reading, a rollout's its waves of
-- device ids: megabytes at 50,000 devices, which a client polling GET
-- /v1/operations/{id} had decoded on every request. The API shows only the phase
-- fields of it (gridjobs/records.py phase_fields): the phase, the end of the hold,
-- the wave, and the waves' sizes (their count is what is shown); `readings` is kept
-- as an empty object, to say the survey is done.
CREATE VIEW operation_summaries AS
SELECT id, kind, status, priority, params, result, error_code, error_detail, cancel_requested,
       resume_requested, lease_owner, lease_expires_at, fence, claims, created_at, started_at,
       finished_at, updated_at, feeders, submitted_by, cancelled_by, resumed_by, callback_webhook_id,
       jsonb_strip_nulls(jsonb_build_object(
           'phase', checkpoint->'phase',
           'hold_until', checkpoint->'hold_until',
           'wave', checkpoint->'wave',
           'waves', (SELECT jsonb_agg(jsonb_array_length(w)) FROM jsonb_array_elements(checkpoint->'waves') w),
           'readings', CASE WHEN checkpoint ? 'readings' THEN '{}'::jsonb END
       )) AS checkpoint
FROM operations;
