-- Named queries, loaded by gridjobs.store.queries. Parameters are $n only.

-- name: upsert_device
INSERT INTO devices (id, profile, host, port, unit_id, feeder, shed_priority, protected, rated_kw)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (id) DO UPDATE SET
    profile = EXCLUDED.profile, host = EXCLUDED.host, port = EXCLUDED.port,
    unit_id = EXCLUDED.unit_id, feeder = EXCLUDED.feeder,
    shed_priority = EXCLUDED.shed_priority, protected = EXCLUDED.protected,
    rated_kw = EXCLUDED.rated_kw, updated_at = now()
RETURNING *;

-- name: get_device
SELECT * FROM devices WHERE id = $1;

-- name: list_devices
SELECT * FROM devices
WHERE ($1::text IS NULL OR feeder = $1)
  AND ($2::text IS NULL OR profile = $2)
  AND ($3::text IS NULL OR id > $3)
  AND ($5::text[] IS NULL OR feeder = ANY($5))   -- the principal's area (NULL: every feeder)
ORDER BY id
LIMIT $4;

-- name: devices_by_ids
SELECT * FROM devices WHERE id = ANY($1::text[]) ORDER BY id;

-- name: devices_by_feeders
SELECT * FROM devices WHERE feeder = ANY($1::text[]) ORDER BY id;

-- name: lock_idempotency_key
-- The transaction-scoped advisory lock marks the key's request as in flight.
SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0)) AS locked,
       k.request_hash, k.operation_id
FROM (SELECT 1) AS one
LEFT JOIN idempotency_keys k ON k.key = $1 AND k.expires_at > now();

-- name: purge_idempotency_keys
DELETE FROM idempotency_keys WHERE expires_at <= now();

-- name: insert_operation
-- Insert, announce (NOTIFY is delivered at commit) and return the new resource.
WITH op AS (
    INSERT INTO operations (id, kind, status, priority, params, feeders, submitted_by)
    VALUES ($1, $2, 'queued', $3, $4, $5, $6)
    RETURNING *
), announced AS (
    SELECT pg_notify('gridjobs_queued', $1::text)
)
SELECT op.*, 0::bigint AS total, 0::bigint AS succeeded, 0::bigint AS failed, true AS key_saved
FROM op, announced;

-- name: insert_operation_with_key
-- As insert_operation, and keep the idempotency key (replacing an expired one).
-- key_saved is false when another request saved the same key first.
WITH op AS (
    INSERT INTO operations (id, kind, status, priority, params, feeders, submitted_by)
    VALUES ($1, $2, 'queued', $3, $4, $5, $6)
    RETURNING *
), saved AS (
    INSERT INTO idempotency_keys AS k (key, request_hash, operation_id, expires_at)
    SELECT $7, $8, op.id, now() + make_interval(secs => $9) FROM op
    ON CONFLICT (key) DO UPDATE SET
        request_hash = EXCLUDED.request_hash, operation_id = EXCLUDED.operation_id,
        created_at = now(), expires_at = EXCLUDED.expires_at
    WHERE k.expires_at <= now()
    RETURNING 1
), announced AS (
    SELECT pg_notify('gridjobs_queued', $1::text)
)
SELECT op.*, 0::bigint AS total, 0::bigint AS succeeded, 0::bigint AS failed,
       EXISTS (SELECT 1 FROM saved) AS key_saved
FROM op, announced;

-- name: find_idempotency_key
-- Without the in-flight lock: a refused submission only asks whether its key was accepted.
SELECT request_hash, operation_id FROM idempotency_keys WHERE key = $1 AND expires_at > now();

-- name: notify_cancel
SELECT pg_notify('gridjobs_cancel', $1::text);

-- name: get_operation
SELECT o.*, p.total, p.succeeded, p.failed
FROM operations o
CROSS JOIN LATERAL (
    SELECT count(*) AS total,
           count(*) FILTER (WHERE d.state = 'succeeded') AS succeeded,
           count(*) FILTER (WHERE d.state IN ('failed', 'cancelled')) AS failed
    FROM device_outcomes d WHERE d.operation_id = o.id
) p
WHERE o.id = $1;

-- name: list_operations
SELECT o.*, p.total, p.succeeded, p.failed
FROM operations o
CROSS JOIN LATERAL (
    SELECT count(*) AS total,
           count(*) FILTER (WHERE d.state = 'succeeded') AS succeeded,
           count(*) FILTER (WHERE d.state IN ('failed', 'cancelled')) AS failed
    FROM device_outcomes d WHERE d.operation_id = o.id
) p
WHERE ($1::text IS NULL OR o.kind = $1)
  AND ($2::text IS NULL OR o.status = $2)
  AND ($3::timestamptz IS NULL OR (o.created_at, o.id) < ($3, $4::uuid))
  AND ($6::text[] IS NULL OR o.feeders <@ $6)   -- the principal's area (NULL: every feeder)
ORDER BY o.created_at DESC, o.id DESC
LIMIT $5;

-- name: lock_operation
-- What a cancel or resume checks first (kind, area, who submitted), locked until it commits.
SELECT id, kind, status, feeders, submitted_by, params->>'approval' AS approval
FROM operations WHERE id = $1 FOR UPDATE;

-- name: cancel_operation
UPDATE operations SET
    cancelled_by = $2,
    cancel_requested = true,
    status = CASE status WHEN 'queued' THEN 'cancelled' ELSE 'cancelling' END,
    finished_at = CASE status WHEN 'queued' THEN now() ELSE finished_at END,
    updated_at = now()
WHERE id = $1 AND status IN ('queued', 'running', 'cancelling', 'paused')
RETURNING status;

-- name: resume_operation
UPDATE operations SET resume_requested = true, resumed_by = $2, updated_at = now()
WHERE id = $1 AND status = 'paused'
RETURNING status;

-- name: notify_resume
SELECT pg_notify('gridjobs_resume', $1::text);

-- name: pause_operation
-- A paused operation taken over after a crash pauses again (status stays paused).
UPDATE operations SET status = 'paused', updated_at = now(),
    resume_requested = CASE status WHEN 'paused' THEN resume_requested ELSE false END
WHERE id = $1 AND fence = $2 AND status IN ('running', 'paused');

-- name: unpause_operation
UPDATE operations SET status = 'running', resume_requested = false, updated_at = now()
WHERE id = $1 AND fence = $2 AND status = 'paused';

-- name: claim_operation
WITH next AS (
    SELECT id FROM operations
    WHERE status = 'queued'
       OR (status IN ('running', 'cancelling', 'paused') AND lease_expires_at < now())
    ORDER BY priority DESC, created_at
    LIMIT 1
    FOR UPDATE SKIP LOCKED
)
UPDATE operations o SET
    status = CASE o.status WHEN 'queued' THEN 'running' ELSE o.status END,
    lease_owner = $1,
    lease_expires_at = now() + make_interval(secs => $2),
    fence = o.fence + 1,
    claims = o.claims + 1,
    started_at = coalesce(o.started_at, now()),
    updated_at = now()
FROM next
WHERE o.id = next.id
RETURNING o.*;

-- name: heartbeat
UPDATE operations SET lease_expires_at = now() + make_interval(secs => $3)
WHERE id = $1 AND fence = $2 AND status IN ('running', 'cancelling', 'paused')
RETURNING cancel_requested, resume_requested;

-- name: release_lease
-- Give the claim up now rather than at expiry, and wake every dispatcher (NOTIFY
-- is delivered at commit) so another process takes the operation over at once.
WITH released AS (
    UPDATE operations SET lease_expires_at = now(), lease_owner = NULL
    WHERE id = $1 AND fence = $2 AND status IN ('running', 'cancelling', 'paused')
    RETURNING id
)
SELECT pg_notify('gridjobs_queued', id::text) FROM released;

-- name: save_checkpoint
UPDATE operations SET checkpoint = $3, updated_at = now()
WHERE id = $1 AND fence = $2 AND status IN ('running', 'cancelling', 'paused');

-- name: finish_operation
UPDATE operations SET
    status = $3, result = $4, error_code = $5, error_detail = $6,
    finished_at = now(), updated_at = now(), lease_owner = NULL, lease_expires_at = NULL
WHERE id = $1 AND fence = $2 AND status IN ('running', 'cancelling', 'paused');

-- name: upsert_outcomes
INSERT INTO device_outcomes AS d
    (operation_id, device_id, state, step, code, detail, attempts, data, seq)
SELECT o.id, u.device_id, u.state, u.step, u.code, u.detail, u.attempts, u.data::jsonb, u.seq
FROM operations o,
     unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
            $8::integer[], $9::text[], $10::integer[])
         AS u(device_id, state, step, code, detail, attempts, data, seq)
WHERE o.id = $1 AND o.fence = $2 AND o.status IN ('running', 'cancelling', 'paused')
FOR SHARE OF o
ON CONFLICT (operation_id, device_id) DO UPDATE SET
    state = EXCLUDED.state, step = EXCLUDED.step, code = EXCLUDED.code,
    detail = EXCLUDED.detail, attempts = EXCLUDED.attempts, data = EXCLUDED.data,
    updated_at = now();

-- name: load_outcomes
SELECT * FROM device_outcomes WHERE operation_id = $1 ORDER BY seq;

-- name: list_outcomes
SELECT * FROM device_outcomes
WHERE operation_id = $1 AND ($2::integer IS NULL OR seq > $2)
ORDER BY seq
LIMIT $3;

-- name: last_readings
SELECT device_id, last_kw FROM device_state
WHERE device_id = ANY($1::text[]) AND last_kw IS NOT NULL;

-- name: insert_firmware_chunk
INSERT INTO firmware_chunks (artifact_id, idx, data) VALUES ($1, $2, $3);

-- name: insert_firmware_artifact
-- Nothing is returned when (profile, version) or (profile, sha256) is taken;
-- a concurrent upload of either is waited for, then seen as taken.
INSERT INTO firmware_artifacts (id, version, profile, sha256, size)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT DO NOTHING
RETURNING *;

-- name: find_firmware_artifact
-- The artifacts an upload of (sha256, profile, version) clashes with, the exact match first.
SELECT * FROM firmware_artifacts
WHERE profile = $2 AND (sha256 = $1 OR version = $3)
ORDER BY (sha256 = $1 AND version = $3) DESC, created_at;

-- name: get_firmware_artifact
SELECT * FROM firmware_artifacts WHERE id = $1;

-- name: list_firmware_artifacts
SELECT * FROM firmware_artifacts
WHERE ($1::text IS NULL OR profile = $1)
  AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3::uuid))
ORDER BY created_at DESC, id DESC
LIMIT $4;

-- name: artifact_chunks_between
SELECT idx, data FROM firmware_chunks
WHERE artifact_id = $1 AND idx BETWEEN $2 AND $3
ORDER BY idx;

-- name: lock_master_keys
-- Serialises master key registration, device key writes and master key rotation.
SELECT pg_advisory_xact_lock(hashtextextended('gridjobs.master_keys', 0));

-- name: current_master_key
SELECT version, fingerprint FROM master_keys ORDER BY version DESC LIMIT 1;

-- name: insert_master_key
INSERT INTO master_keys (version, fingerprint) VALUES ($1, $2);

-- name: any_device_key
SELECT EXISTS (SELECT 1 FROM device_keys);

-- name: insert_device_key
-- Nothing is returned when (device_id, version) is already stored.
INSERT INTO device_keys (device_id, version, state, wrapped, nonce, master_version)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (device_id, version) DO NOTHING
RETURNING version;

-- name: get_device_key
SELECT k.device_id, k.version, k.state, k.wrapped, k.nonce, k.master_version,
       m.fingerprint AS master_fingerprint
FROM device_keys k JOIN master_keys m ON m.version = k.master_version
WHERE k.device_id = $1 AND k.version = $2;

-- name: device_keys_in_states
SELECT k.device_id, k.version, k.state, k.wrapped, k.nonce, k.master_version,
       m.fingerprint AS master_fingerprint
FROM device_keys k JOIN master_keys m ON m.version = k.master_version
WHERE k.device_id = ANY($1::text[]) AND k.state = ANY($2::text[])
ORDER BY k.device_id, k.version DESC;

-- name: set_device_key_state
UPDATE device_keys SET state = $3, updated_at = now()
WHERE device_id = $1 AND version = $2
RETURNING version;

-- name: device_key_slots
SELECT version, state FROM device_keys WHERE device_id = $1 ORDER BY version;

-- name: lock_device_keys
SELECT device_id, version, wrapped, nonce, master_version FROM device_keys
ORDER BY device_id, version
FOR UPDATE;

-- name: rewrap_device_keys
UPDATE device_keys AS k
SET wrapped = u.wrapped, nonce = u.nonce, master_version = $1, updated_at = now()
FROM unnest($2::text[], $3::integer[], $4::bytea[], $5::bytea[])
    AS u(device_id, version, wrapped, nonce)
WHERE k.device_id = u.device_id AND k.version = u.version;

-- name: insert_audit
INSERT INTO audit_log (operation_id, device_id, step, key_version, outcome, detail)
SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::integer[], $5::text[], $6::text[]);

-- name: list_audit
-- Newest first; $3 is the id of the last row of the previous page.
SELECT * FROM audit_log
WHERE ($1::text IS NULL OR device_id = $1)
  AND ($2::uuid IS NULL OR operation_id = $2)
  AND ($3::bigint IS NULL OR id < $3)
ORDER BY id DESC
LIMIT $4;

-- name: set_device_key_states
-- Several versions of one device at once: $2 versions, $3 their new states.
UPDATE device_keys AS k SET state = u.state, updated_at = now()
FROM unnest($2::integer[], $3::text[]) AS u(version, state)
WHERE k.device_id = $1 AND k.version = u.version
RETURNING k.version;

-- name: lock_migrations
SELECT pg_advisory_xact_lock($1);

-- name: migrations_table_exists
SELECT to_regclass('schema_migrations') IS NOT NULL;

-- name: applied_migrations
SELECT version FROM schema_migrations;

-- name: record_migration
INSERT INTO schema_migrations (version, name) VALUES ($1, $2);

-- name: ping
SELECT 1;

-- Shard services (gridjobs.store.shard_services): device state a restarted
-- DeviceShard rebuilds, and firmware transfer offsets.

-- name: load_device_state
SELECT device_id, holder_operation_id::text AS holder,
       extract(epoch FROM holder_until)::float8 AS holder_until, setpoint_pct, last_kw
FROM device_state WHERE device_id = ANY($1::text[]);

-- name: save_device_state
INSERT INTO device_state (device_id, holder_operation_id, holder_until, setpoint_pct, last_kw)
SELECT u.device_id, u.holder::uuid, to_timestamp(u.holder_until), u.setpoint_pct, u.last_kw
FROM unnest($1::text[], $2::text[], $3::float8[], $4::integer[], $5::float8[])
    AS u(device_id, holder, holder_until, setpoint_pct, last_kw)
ON CONFLICT (device_id) DO UPDATE SET
    holder_operation_id = EXCLUDED.holder_operation_id,
    holder_until = EXCLUDED.holder_until,
    setpoint_pct = EXCLUDED.setpoint_pct,
    last_kw = EXCLUDED.last_kw,
    updated_at = now();

-- name: transfer_offset
SELECT "offset" FROM firmware_transfers
WHERE operation_id = $1::uuid AND device_id = $2 AND artifact_id = $3::uuid;

-- name: save_transfer_offset
-- Offsets only move forward within one artifact; another artifact starts over.
INSERT INTO firmware_transfers AS t (operation_id, device_id, artifact_id, "offset")
VALUES ($1::uuid, $2, $3::uuid, $4)
ON CONFLICT (operation_id, device_id) DO UPDATE SET
    "offset" = CASE WHEN t.artifact_id = EXCLUDED.artifact_id
                    THEN greatest(t."offset", EXCLUDED."offset") ELSE EXCLUDED."offset" END,
    artifact_id = EXCLUDED.artifact_id,
    updated_at = now();

-- API tokens and the audit of requests (gridjobs.store.tokens, gridjobs.store.request_audit).

-- name: insert_api_token
INSERT INTO api_tokens (id, name, secret_sha256, roles, feeders, expires_at)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (name) DO NOTHING
RETURNING *;

-- name: find_api_token
SELECT * FROM api_tokens WHERE id = $1;

-- name: list_api_tokens
SELECT * FROM api_tokens ORDER BY name;

-- name: any_api_token
SELECT EXISTS (SELECT 1 FROM api_tokens);

-- name: revoke_api_token
-- Every API process drops the token from its cache when the NOTIFY arrives.
WITH revoked AS (
    UPDATE api_tokens SET revoked_at = now()
    WHERE name = $1 AND revoked_at IS NULL
    RETURNING id
)
SELECT id, pg_notify('gridjobs_tokens', id) FROM revoked;

-- name: touch_api_tokens
UPDATE api_tokens SET last_used_at = now() WHERE id = ANY($1::text[]);

-- name: insert_request_audit
INSERT INTO request_audit (principal, via, roles, method, route, target, request_id, status, detail)
SELECT u.principal, u.via, string_to_array(u.roles, ','), u.method, u.route, u.target, u.request_id,
       u.status, u.detail
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
            $8::integer[], $9::text[])
    AS u(principal, via, roles, method, route, target, request_id, status, detail);

-- name: list_request_audit
-- Newest first; $2 is the id of the last row of the previous page.
SELECT * FROM request_audit
WHERE ($1::text IS NULL OR principal = $1)
  AND ($2::bigint IS NULL OR id < $2)
ORDER BY id DESC
LIMIT $3;

-- name: queue_groups
-- The active operations by kind, status and priority, and the age of the oldest
-- queued one in each group (operations_active_idx). One grouped query for the
-- admission depth per lane and the queue gauges.
SELECT kind, status, priority, count(*) AS operations,
       extract(epoch FROM now() - min(created_at) FILTER (WHERE status = 'queued'))::float8
           AS oldest_queued_s
FROM operations
WHERE status IN ('queued', 'running', 'cancelling', 'paused')
GROUP BY kind, status, priority;

-- name: claimed_since
-- Operations that left `queued` in the last $1 seconds: started_at is set by the
-- first claim only, so each counts once (operations_started_idx).
SELECT kind, priority, count(*) AS operations
FROM operations
WHERE started_at > now() - make_interval(secs => $1)
GROUP BY kind, priority;
