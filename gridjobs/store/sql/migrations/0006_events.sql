-- 0006: the event outbox, webhook endpoints and their deliveries (README "Events and webhooks").

ALTER TABLE operations ADD COLUMN callback_webhook_id uuid;   -- a submission's "callback": its events go there too

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

-- Wake the relays and the streams; delivered at commit, once per transaction.
CREATE FUNCTION events_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('gridjobs_events', '');
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

-- How far each relay has read the outbox.
CREATE TABLE outbox_cursors (
    name      text PRIMARY KEY,
    position  bigint NOT NULL CHECK (position >= 0)
);
