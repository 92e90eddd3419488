-- Named queries, loaded by gridjobs.store.queries. Parameters are $n only.

-- name: upsert_device
INSERT INTO devices (id, profile, host, port, unit_id, feeder, shed_priority, protected, rated_kw,
                     segment)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
ON CONFLICT (id) DO UPDATE SET
    profile = EXCLUDED.profile, host = EXCLUDED.host, port = EXCLUDED.port,
    unit_id = EXCLUDED.unit_id, feeder = EXCLUDED.feeder,
    shed_priority = EXCLUDED.shed_priority, protected = EXCLUDED.protected,
    rated_kw = EXCLUDED.rated_kw, segment = EXCLUDED.segment, updated_at = now()
RETURNING *;

-- name: notify_devices
-- The registry changed (delivered at commit): every process's device index drops itself.
SELECT pg_notify('gridjobs_devices', '');

-- name: all_devices_capped
-- The whole registry for a device index; $1 caps it (one more row says "too many").
SELECT * FROM devices ORDER BY id LIMIT $1;

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

-- name: purge_idempotency_keys
DELETE FROM idempotency_keys WHERE expires_at <= now();

-- name: insert_operation
-- Insert, write its operation.accepted event, announce (NOTIFY is delivered at
-- commit) and return the new resource.
WITH op AS (
    INSERT INTO operations (id, kind, status, priority, params, feeders, submitted_by, callback_webhook_id)
    VALUES ($1, $2, 'queued', $3, $4, $5, $6, $7)
    RETURNING *
), announced AS (
    SELECT pg_notify('gridjobs_queued', $1::text)
), accepted AS (
    INSERT INTO events (type, operation_id, data)
    SELECT 'operation.accepted', op.id,
           jsonb_build_object('operation_id', op.id, 'kind', op.kind, 'status', op.status)
    FROM op
)
SELECT op.*, 0::bigint AS total, 0::bigint AS succeeded, 0::bigint AS failed, true AS key_saved
FROM op, announced;

-- name: submit_operation_with_key
-- As insert_operation, keeping the idempotency key, in ONE statement and its own
-- transaction (one round trip): take the key's in-flight lock (held to the
-- statement's end), save the key unless an unexpired one is there (an expired one
-- is replaced), and only then insert the
-- operation, its operation.accepted event and the NOTIFY. The key row goes in first and
-- names the operation inserted after it: the foreign key is checked at the statement's
-- end. locked is false when another request holds the key; key_saved is false when the
-- key was accepted before (the caller reads it for the replay or the mismatch).
WITH gate AS MATERIALIZED (
    SELECT pg_try_advisory_xact_lock(hashtextextended($8, 0)) AS locked
), saved AS (
    INSERT INTO idempotency_keys AS k (key, request_hash, operation_id, expires_at)
    SELECT $8::text, $9::text, $1::uuid, now() + make_interval(secs => $10::float8)
    FROM gate WHERE gate.locked
    ON CONFLICT (key) DO UPDATE SET
        request_hash = EXCLUDED.request_hash, operation_id = EXCLUDED.operation_id,
        created_at = now(), expires_at = EXCLUDED.expires_at
    WHERE k.expires_at <= now()
    RETURNING operation_id
), op AS (
    INSERT INTO operations (id, kind, status, priority, params, feeders, submitted_by, callback_webhook_id)
    SELECT $1::uuid, $2::text, 'queued', $3::integer, $4::jsonb, $5::text[], $6::text, $7::uuid
    FROM saved
    RETURNING *
), announced AS (
    SELECT pg_notify('gridjobs_queued', op.id::text) AS sent FROM op
), accepted AS (
    INSERT INTO events (type, operation_id, data)
    SELECT 'operation.accepted', op.id,
           jsonb_build_object('operation_id', op.id, 'kind', op.kind, 'status', op.status)
    FROM op
)
SELECT gate.locked, op.*, 0::bigint AS total, 0::bigint AS succeeded, 0::bigint AS failed,
       op.id IS NOT NULL AS key_saved
FROM gate LEFT JOIN op ON true LEFT JOIN announced ON true;

-- name: submit_operations
-- submit_operation_with_key for a batch of submissions (group commit): one statement,
-- one transaction, one commit for all. $1 is the batch as JSON text, an array of one
-- object per submission (the fields below); a null key takes no lock and saves no key.
-- The caller sends each key at most once per batch. One answer row per input row, by
-- request_id: whether it took its key's lock and saved it, and what the database gave
-- the new operation (status, created_at); the rest of it is what the caller sent.
-- It sends no NOTIFY, not even its events' (`quiet`): PostgreSQL makes the commits of
-- NOTIFYing transactions take turns, WAL flush included, so the batches of several API
-- processes could not share a flush. The caller announces after the commit
-- (announce_submitted).
WITH quiet AS MATERIALIZED (
    SELECT set_config('gridjobs.events_notify', 'off', true)
), gate AS MATERIALIZED (
    SELECT i.*, CASE WHEN i.key IS NULL THEN true
                     ELSE pg_try_advisory_xact_lock(hashtextextended(i.key, 0)) END AS locked
    FROM json_to_recordset($1::text::json)
         AS i(id uuid, kind text, priority integer, params jsonb, feeders text[],
              submitted_by text, callback_webhook_id uuid, key text, request_hash text,
              ttl_s float8)
         CROSS JOIN quiet
), saved AS (
    INSERT INTO idempotency_keys AS k (key, request_hash, operation_id, expires_at)
    SELECT g.key, g.request_hash, g.id, now() + make_interval(secs => g.ttl_s)
    FROM gate g WHERE g.locked AND g.key IS NOT NULL
    ON CONFLICT (key) DO UPDATE SET
        request_hash = EXCLUDED.request_hash, operation_id = EXCLUDED.operation_id,
        created_at = now(), expires_at = EXCLUDED.expires_at
    WHERE k.expires_at <= now()
    RETURNING operation_id
), op AS (
    INSERT INTO operations (id, kind, status, priority, params, feeders, submitted_by, callback_webhook_id)
    SELECT g.id, g.kind, 'queued', g.priority, g.params, g.feeders, g.submitted_by,
           g.callback_webhook_id
    FROM gate g
    WHERE g.locked AND (g.key IS NULL OR g.id IN (SELECT operation_id FROM saved))
    RETURNING *
), accepted AS (
    INSERT INTO events (type, operation_id, data)
    SELECT 'operation.accepted', op.id,
           jsonb_build_object('operation_id', op.id, 'kind', op.kind, 'status', op.status)
    FROM op
)
SELECT g.id AS request_id, g.locked, op.id IS NOT NULL AS key_saved, op.status, op.created_at
FROM gate g LEFT JOIN op ON op.id = g.id;

-- name: announce_submitted
-- After a batch of submit_operations has committed: wake every process's dispatchers
-- (queued operations) and its relays and streams (their operation.accepted events).
-- Payloads are empty: the listeners only wake, and read what is there. Nothing is
-- written, so the commit need not wait for a WAL flush.
SELECT set_config('synchronous_commit', 'off', true), pg_notify('gridjobs_queued', ''),
       pg_notify('gridjobs_events', '');

-- name: find_idempotency_key
-- Without the in-flight lock: a refused submission only asks whether its key was accepted.
SELECT request_hash, operation_id FROM idempotency_keys WHERE key = $1 AND expires_at > now();

-- name: notify_cancel
SELECT pg_notify('gridjobs_cancel', $1::text);

-- name: get_operation
SELECT o.*, coalesce(p.total, 0) AS total, coalesce(p.succeeded, 0) AS succeeded,
       coalesce(p.failed, 0) AS failed
FROM operations o
LEFT JOIN outcome_counts p ON p.operation_id = o.id
WHERE o.id = $1;

-- name: get_operation_summary
-- As get_operation, with the checkpoint cut to what the API shows (operation_summaries).
SELECT o.*, coalesce(p.total, 0) AS total, coalesce(p.succeeded, 0) AS succeeded,
       coalesce(p.failed, 0) AS failed
FROM operation_summaries o
LEFT JOIN outcome_counts p ON p.operation_id = o.id
WHERE o.id = $1;

-- name: list_operations
SELECT o.*, coalesce(p.total, 0) AS total, coalesce(p.succeeded, 0) AS succeeded,
       coalesce(p.failed, 0) AS failed
FROM operation_summaries o
LEFT JOIN outcome_counts p ON p.operation_id = o.id
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
-- A queued operation is cancelled here (and says so); a running one when its run finishes.
WITH cancelled AS (
    UPDATE operations SET
        cancelled_by = $2,
        cancel_requested = true,
        status = CASE status WHEN 'queued' THEN 'cancelled' ELSE 'cancelling' END,
        finished_at = CASE status WHEN 'queued' THEN now() ELSE finished_at END,
        updated_at = now()
    WHERE id = $1 AND status IN ('queued', 'running', 'cancelling', 'paused')
    RETURNING id, kind, status
), announced AS (
    INSERT INTO events (type, operation_id, data)
    SELECT 'operation.cancelled', id,
           jsonb_build_object('operation_id', id, 'kind', kind, 'status', status, 'error_code', 'cancelled',
                              'progress', jsonb_build_object('total', 0, 'succeeded', 0, 'failed', 0,
                                                             'pending', 0))
    FROM cancelled WHERE status = 'cancelled'
)
SELECT status FROM cancelled;

-- name: resume_operation
UPDATE operations SET resume_requested = true, resumed_by = $2, updated_at = now()
WHERE id = $1 AND status = 'paused'
RETURNING status;

-- name: notify_resume
SELECT pg_notify('gridjobs_resume', $1::text);

-- name: pause_operation
-- A paused operation taken over after a crash pauses again (status stays paused, no new event).
-- Returns the number of rows changed (0: the fence moved).
WITH before AS (
    SELECT id, status AS was FROM operations
    WHERE id = $1 AND fence = $2 AND status IN ('running', 'paused')
    FOR UPDATE
), paused AS (
    UPDATE operations o SET status = 'paused', updated_at = now(),
        resume_requested = CASE before.was WHEN 'paused' THEN o.resume_requested ELSE false END
    FROM before WHERE o.id = before.id
    RETURNING o.id, o.kind, before.was
), announced AS (
    INSERT INTO events (type, operation_id, data)
    SELECT 'operation.paused', id, jsonb_build_object('operation_id', id, 'kind', kind, 'status', 'paused')
    FROM paused WHERE was = 'running'
)
SELECT count(*) FROM paused;

-- name: unpause_operation
WITH resumed AS (
    UPDATE operations SET status = 'running', resume_requested = false, updated_at = now()
    WHERE id = $1 AND fence = $2 AND status = 'paused'
    RETURNING id, kind, resumed_by
)
INSERT INTO events (type, operation_id, data)
SELECT 'operation.resumed', id,
       jsonb_build_object('operation_id', id, 'kind', kind, 'status', 'running', 'resumed_by', resumed_by)
FROM resumed;

-- name: claim_operation
-- The first claim of a queued operation starts it (operation.started); a takeover does not.
-- $3: operations the claiming process is still running; their own runner renews the
-- lease (or finds it taken over and stops), so the process never runs one twice.
-- The next one, by (priority DESC, created_at), is the better of two index heads: the
-- queue's (operations_claim_idx) and the paused operations' (operations_paused_idx).
-- Each WHERE repeats its index's predicate, so that neither reads the queue to sort it.
-- Both heads are locked; the one not claimed is free again when the statement commits.
WITH queue_head AS (
    SELECT id, status AS was, priority, created_at FROM operations
    WHERE status IN ('queued', 'running', 'cancelling')
      AND (status = 'queued' OR lease_expires_at < now())
      AND id <> ALL($3::uuid[])
    ORDER BY priority DESC, created_at
    LIMIT 1
    FOR UPDATE SKIP LOCKED
), paused_head AS (
    SELECT id, status AS was, priority, created_at FROM operations
    WHERE status = 'paused' AND lease_expires_at < now()
      AND id <> ALL($3::uuid[])
    ORDER BY priority DESC, created_at
    LIMIT 1
    FOR UPDATE SKIP LOCKED
), next AS (
    SELECT id, was FROM (SELECT * FROM queue_head UNION ALL SELECT * FROM paused_head) AS heads
    ORDER BY priority DESC, created_at
    LIMIT 1
), claimed AS (
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
    RETURNING o.*, next.was
), started AS (
    INSERT INTO events (type, operation_id, data)
    SELECT 'operation.started', id, jsonb_build_object('operation_id', id, 'kind', kind, 'status', status)
    FROM claimed WHERE was = 'queued'
)
SELECT * FROM claimed;

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
-- The terminal status and its event (operation.succeeded, .failed or .cancelled, with
-- the counts), in one statement. Returns the number of rows changed (0: the fence moved).
WITH finished AS (
    UPDATE operations SET
        status = $3, result = $4, error_code = $5, error_detail = $6,
        finished_at = now(), updated_at = now(), lease_owner = NULL, lease_expires_at = NULL
    WHERE id = $1 AND fence = $2 AND status IN ('running', 'cancelling', 'paused')
    RETURNING id, kind, status, error_code
), counts AS (
    SELECT coalesce(sum(total), 0)::bigint AS total, coalesce(sum(succeeded), 0)::bigint AS succeeded,
           coalesce(sum(failed), 0)::bigint AS failed   -- one row, or none before any outcome
    FROM outcome_counts WHERE operation_id = $1
), announced AS (
    INSERT INTO events (type, operation_id, data)
    SELECT 'operation.' || f.status, f.id,
           jsonb_build_object('operation_id', f.id, 'kind', f.kind, 'status', f.status,
                              'error_code', f.error_code,
                              'progress', jsonb_build_object('total', c.total, 'succeeded', c.succeeded,
                                                             'failed', c.failed,
                                                             'pending', c.total - c.succeeded - c.failed))
    FROM finished f, counts c
)
SELECT count(*) FROM finished;

-- name: upsert_outcomes
-- Fenced; a device that turns failed gets its device.failed event in the same statement.
-- Returns the number of outcomes written (0: the fence moved).
WITH fenced AS (
    SELECT id FROM operations
    WHERE id = $1 AND fence = $2 AND status IN ('running', 'cancelling', 'paused')
    FOR SHARE
), prior AS (   -- only the devices turning failed need their state before this statement
    SELECT device_id, state FROM device_outcomes
    WHERE operation_id = $1
      AND device_id = ANY(ARRAY(SELECT u.device_id FROM unnest($3::text[], $4::text[]) AS u(device_id, state)
                                WHERE u.state = 'failed'))
), written AS (
    INSERT INTO device_outcomes AS d
        (operation_id, device_id, state, step, code, detail, attempts, data, seq)
    SELECT f.id, u.device_id, u.state, u.step, u.code, u.detail, u.attempts, u.data::jsonb, u.seq
    FROM fenced f,
         unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                $8::integer[], $9::text[], $10::integer[])
             AS u(device_id, state, step, code, detail, attempts, data, seq)
    ON CONFLICT (operation_id, device_id) DO UPDATE SET
        state = EXCLUDED.state, step = EXCLUDED.step, code = EXCLUDED.code,
        detail = EXCLUDED.detail, attempts = EXCLUDED.attempts, data = EXCLUDED.data,
        updated_at = now()
    RETURNING d.device_id, d.state, d.step, d.code, d.seq
), failed AS (
    INSERT INTO events (type, operation_id, data)
    SELECT 'device.failed', $1,
           jsonb_build_object('operation_id', $1::uuid, 'device_id', w.device_id, 'code', w.code,
                              'step', w.step)
    FROM written w LEFT JOIN prior p USING (device_id)
    WHERE w.state = 'failed' AND p.state IS DISTINCT FROM 'failed'
    ORDER BY w.seq
)
SELECT count(*) FROM written;

-- name: progress_event
-- operation.progress with the counts, only when they or the run's position moved since
-- the last one. At most one per operation per $2 seconds while the position stays (a
-- heartbeat writes the trailing one); a new position (phase, hold, wave) goes at once,
-- so that a stream hears "every device curtailed, holding" when it happens.
WITH last AS (
    SELECT data->'progress' AS progress, created_at FROM events
    WHERE operation_id = $1 AND type = 'operation.progress'
    ORDER BY id DESC LIMIT 1
), counts AS (
    SELECT coalesce(sum(total), 0)::bigint AS total, coalesce(sum(succeeded), 0)::bigint AS succeeded,
           coalesce(sum(failed), 0)::bigint AS failed   -- one row, or none before any outcome
    FROM outcome_counts WHERE operation_id = $1
), now_counts AS (
    -- the counts, and where the run is (gridjobs.records.phase_fields picks the same keys)
    SELECT jsonb_build_object('total', total, 'succeeded', succeeded, 'failed', failed,
                              'pending', total - succeeded - failed)
           || jsonb_strip_nulls(jsonb_build_object(
                  'phase', op.checkpoint->'phase', 'hold_until', op.checkpoint->'hold_until',
                  'wave', op.checkpoint->'wave',
                  'waves', CASE WHEN jsonb_typeof(op.checkpoint->'waves') = 'array'
                                THEN jsonb_array_length(op.checkpoint->'waves') END)) AS progress
    FROM counts, operations op WHERE op.id = $1
)
INSERT INTO events (type, operation_id, data)
SELECT 'operation.progress', o.id,
       jsonb_build_object('operation_id', o.id, 'kind', o.kind, 'status', o.status, 'progress', n.progress)
FROM operations o, now_counts n
WHERE o.id = $1 AND o.status IN ('running', 'cancelling', 'paused')
  AND (n.progress->>'total')::bigint > 0
  AND NOT EXISTS (SELECT 1 FROM last WHERE last.created_at > clock_timestamp() - make_interval(secs => $2)
                  AND last.progress - '{total,succeeded,failed,pending}'::text[]
                      = n.progress - '{total,succeeded,failed,pending}'::text[])
  AND NOT EXISTS (SELECT 1 FROM last WHERE last.progress = n.progress);

-- name: operation_event
-- An event a runner announces (rollout.wave_started, rollout.aborted), fenced like its writes.
INSERT INTO events (type, operation_id, data)
SELECT $3, o.id, jsonb_build_object('operation_id', o.id) || $4::jsonb
FROM operations o
WHERE o.id = $1 AND o.fence = $2 AND o.status IN ('running', 'cancelling', 'paused');

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
-- Anything sealed under the current master key: device keys or webhook secrets.
SELECT EXISTS (SELECT 1 FROM device_keys) OR EXISTS (SELECT 1 FROM webhook_secrets);

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

-- name: save_transfer_offsets
-- The offsets of many transfers in one statement (a shard's round of chunks), one row
-- per (operation, device). Offsets only move forward within one artifact; another
-- artifact starts over.
INSERT INTO firmware_transfers AS t (operation_id, device_id, artifact_id, "offset")
SELECT * FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::bigint[])
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
-- Every API process drops the token from its cache when the NOTIFY arrives. The
-- token's webhook endpoints stop with it (webhook.disabled, reason principal_revoked).
WITH revoked AS (
    UPDATE api_tokens SET revoked_at = now()
    WHERE name = $1 AND revoked_at IS NULL
    RETURNING id, name
), stopped AS (
    UPDATE webhook_endpoints w SET status = 'disabled', disabled_reason = 'principal_revoked',
        updated_at = now()
    FROM revoked r WHERE w.principal = r.name AND w.status = 'enabled'
    RETURNING w.id, w.principal
), failed AS (
    UPDATE webhook_deliveries d SET state = 'failed', updated_at = now()
    FROM stopped s WHERE d.endpoint_id = s.id AND d.state = 'pending'
), announced AS (
    INSERT INTO events (type, principal, data)
    SELECT 'webhook.disabled', principal, jsonb_build_object('webhook_id', id, 'reason', 'principal_revoked')
    FROM stopped
)
SELECT id, pg_notify('gridjobs_tokens', id) FROM revoked;

-- name: touch_api_tokens
UPDATE api_tokens SET last_used_at = now() WHERE id = ANY($1::text[]);

-- name: insert_request_audit
-- $1: the entries as JSON text, an array of one object per entry (the fields below).
INSERT INTO request_audit (principal, via, roles, method, route, target, request_id, status, detail)
SELECT u.principal, u.via, u.roles, u.method, u.route, u.target, u.request_id, u.status, u.detail
FROM json_to_recordset($1::text::json)
    AS u(principal text, via text, roles text[], method text, route text, target text,
         request_id text, status integer, detail text);

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

-- name: queue_reading
-- The last shared reading of the queue under key $1, and how long ago it began.
SELECT reading, extract(epoch FROM clock_timestamp() - taken_at)::float8 AS age_s
FROM queue_readings WHERE name = $1;

-- name: lock_queue_reading
-- Whether this transaction may make the next reading under key $1 (held to its end):
-- false while another process makes it.
SELECT pg_try_advisory_xact_lock(hashtextextended('queue_readings ' || $1, 0));

-- name: save_queue_reading
-- In the transaction of the reads, so now() is when they began. An older reading never
-- replaces a newer one; the commit need not wait for the WAL flush (a lost one is read
-- again).
WITH lazy AS MATERIALIZED (
    SELECT set_config('synchronous_commit', 'off', true)
)
INSERT INTO queue_readings AS r (name, taken_at, reading)
SELECT $1, now(), $2::text::jsonb FROM lazy
ON CONFLICT (name) DO UPDATE SET taken_at = EXCLUDED.taken_at, reading = EXCLUDED.reading
WHERE r.taken_at < EXCLUDED.taken_at;

-- The event outbox (gridjobs.store.events). Readers take ids below events_horizon()
-- only: see schema.sql. Each event carries its operation's feeders for area checks.

-- name: events_after
-- Up to $2 events after id $1 and up to id $3 (NULL: the horizon), that match: the
-- operation $4, the types $5, feeders within $6 (the area) and within $7 (a filter),
-- and principal-addressed events ($8: whose; NULL: none of them).
SELECT e.id, e.type, e.operation_id, e.principal, e.data, e.created_at,
       coalesce(o.feeders, '{}') AS feeders
FROM events e
LEFT JOIN operations o ON o.id = e.operation_id
WHERE e.id > $1 AND e.id < (SELECT events_horizon()) AND ($3::bigint IS NULL OR e.id <= $3)
  AND ($4::uuid IS NULL OR e.operation_id = $4)
  AND ($5::text[] IS NULL OR e.type = ANY($5))
  AND ($6::text[] IS NULL OR coalesce(o.feeders, '{}') <@ $6)
  AND ($7::text[] IS NULL OR coalesce(o.feeders, '{}') <@ $7)
  AND (e.principal IS NULL OR e.principal = $8)
ORDER BY e.id
LIMIT $2;

-- name: last_event_id
-- The highest id a reader may pass now.
SELECT coalesce(max(id), 0) FROM events WHERE id < (SELECT events_horizon());

-- name: events_held_back
-- Whether committed events wait above the horizon (a transaction older than them is in flight).
SELECT coalesce((SELECT max(id) FROM events) >= (SELECT events_horizon()), false);

-- name: terminal_event_id
SELECT max(id) FROM events
WHERE operation_id = $1 AND type IN ('operation.succeeded', 'operation.failed', 'operation.cancelled');

-- name: purge_events
-- Events past retention that the relay has passed and no delivery still waits on.
DELETE FROM events WHERE id IN (
    SELECT e.id FROM events e
    WHERE e.created_at < now() - make_interval(secs => $1)
      AND e.id <= (SELECT coalesce(min(position), 0) FROM outbox_cursors)
      AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d
                      WHERE d.event_id = e.id AND d.state IN ('pending', 'sending'))
    ORDER BY e.created_at
    LIMIT $2
);

-- Webhook endpoints and their secrets (gridjobs.store.webhooks).

-- name: insert_webhook
INSERT INTO webhook_endpoints (id, principal, url, event_types, feeders, description)
VALUES ($1, $2, $3, $4, $5, $6)
RETURNING *;

-- name: insert_webhook_secret
-- A new current secret; the one it replaces signs beside it until now() + $6 seconds.
WITH retired AS (
    UPDATE webhook_secrets SET expires_at = now() + make_interval(secs => $6)
    WHERE endpoint_id = $1 AND expires_at IS NULL
)
INSERT INTO webhook_secrets (endpoint_id, version, wrapped, nonce, master_version)
VALUES ($1, $2, $3, $4, $5);

-- name: webhook_secret_version
-- The next secret version, the endpoint's row locked for the rotation.
SELECT coalesce((SELECT max(version) FROM webhook_secrets WHERE endpoint_id = w.id), 0) + 1
FROM webhook_endpoints w WHERE w.id = $1 AND w.principal = $2
FOR UPDATE OF w;

-- name: list_webhooks
SELECT * FROM webhook_endpoints WHERE principal = $1 ORDER BY created_at, id;

-- name: count_webhooks
SELECT count(*) FROM webhook_endpoints WHERE principal = $1;

-- name: get_webhook
SELECT * FROM webhook_endpoints WHERE id = $1;

-- name: delete_webhook
DELETE FROM webhook_endpoints WHERE id = $1 AND principal = $2 RETURNING id;

-- name: webhook_secrets
-- The secrets that sign now, newest first, with the fingerprint of the master key that sealed each.
SELECT s.endpoint_id, s.version, s.wrapped, s.nonce, s.master_version, m.fingerprint AS master_fingerprint
FROM webhook_secrets s JOIN master_keys m ON m.version = s.master_version
WHERE s.endpoint_id = ANY($1::uuid[]) AND (s.expires_at IS NULL OR s.expires_at > now())
ORDER BY s.endpoint_id, s.version DESC;

-- name: lock_webhook_secrets
SELECT endpoint_id, version, wrapped, nonce FROM webhook_secrets
ORDER BY endpoint_id, version
FOR UPDATE;

-- name: rewrap_webhook_secrets
UPDATE webhook_secrets AS s
SET wrapped = u.wrapped, nonce = u.nonce, master_version = $1
FROM unnest($2::uuid[], $3::integer[], $4::bytea[], $5::bytea[])
    AS u(endpoint_id, version, wrapped, nonce)
WHERE s.endpoint_id = u.endpoint_id AND s.version = u.version;

-- name: disable_webhook
-- Stop an endpoint (410 Gone, or failing too long): its waiting deliveries fail, and an
-- event (to the owner's other endpoints and streams) says so.
WITH stopped AS (
    UPDATE webhook_endpoints SET status = 'disabled', disabled_reason = $2, updated_at = now()
    WHERE id = $1 AND status = 'enabled'
    RETURNING id, principal
), failed AS (
    UPDATE webhook_deliveries d SET state = 'failed', updated_at = now()
    FROM stopped s WHERE d.endpoint_id = s.id AND d.state = 'pending'
), announced AS (
    INSERT INTO events (type, principal, data)
    SELECT 'webhook.disabled', principal, jsonb_build_object('webhook_id', id, 'reason', $2::text)
    FROM stopped
)
SELECT count(*) FROM stopped;

-- Deliveries (gridjobs.store.deliveries).

-- name: ensure_cursor
INSERT INTO outbox_cursors (name, position) VALUES ($1, 0) ON CONFLICT (name) DO NOTHING;

-- name: relay_events
-- One relay step, in one statement: up to $2 events after the cursor $1 (and below the
-- horizon) fanned out to the endpoints that take them, and the cursor moved past them.
-- An endpoint takes an event when it is the operation's callback, or when the type is
-- one it subscribed to, the event is not addressed to another principal, and the
-- operation's feeders lie within the endpoint's. held = 0: another process relays now.
-- Its commit does not wait for the WAL flush (`lazy`): lost in a crash, it is lost whole,
-- cursor and deliveries together, and the next step fans the same events out again. A
-- delivery is sent only after its claim has committed, whose flush makes this durable.
WITH lazy AS MATERIALIZED (
    SELECT set_config('synchronous_commit', 'off', true)
), cursor AS (
    SELECT position FROM outbox_cursors, lazy WHERE name = $1 FOR UPDATE OF outbox_cursors SKIP LOCKED
), batch AS (
    SELECT e.id, e.type, e.operation_id, e.principal, coalesce(o.feeders, '{}') AS feeders,
           o.callback_webhook_id AS callback
    FROM events e
    LEFT JOIN operations o ON o.id = e.operation_id
    WHERE e.id > (SELECT position FROM cursor) AND e.id < (SELECT events_horizon())
    ORDER BY e.id
    LIMIT $2
), fanned AS (
    INSERT INTO webhook_deliveries (endpoint_id, event_id, operation_id)
    SELECT w.id, b.id, b.operation_id
    FROM batch b JOIN webhook_endpoints w ON w.status = 'enabled' AND (
        b.callback = w.id
        OR (b.type = ANY (w.event_types)
            AND (b.principal IS NULL OR b.principal = w.principal)
            AND (w.feeders IS NULL OR b.feeders <@ w.feeders)))
    ORDER BY b.id
    ON CONFLICT (endpoint_id, event_id) DO NOTHING
    RETURNING 1
), moved AS (
    UPDATE outbox_cursors SET position = (SELECT max(id) FROM batch)
    WHERE name = $1 AND EXISTS (SELECT 1 FROM batch)
), woken AS (
    SELECT pg_notify('gridjobs_deliveries', '') WHERE EXISTS (SELECT 1 FROM fanned)
)
SELECT (SELECT count(*) FROM cursor) AS held, (SELECT count(*) FROM batch) AS events,
       (SELECT count(*) FROM fanned) AS deliveries, (SELECT count(*) FROM woken) AS woken,
       coalesce((SELECT max(id) FROM events) >= (SELECT events_horizon()), false) AS held_back;

-- name: rescue_deliveries
-- Claims whose holder went away (its lease ran out) are due again at once.
UPDATE webhook_deliveries SET state = 'pending', next_attempt_at = now(), updated_at = now()
WHERE state = 'sending' AND claim_expires_at < now();

-- name: claim_deliveries
-- Up to $2 due deliveries, at most $3 minus what this process sends already ($4, $5)
-- per endpoint, each the oldest open one of its operation at its endpoint (in order).
-- Claimed for $1 seconds; the claim number fences the result.
WITH busy AS (
    SELECT * FROM unnest($4::uuid[], $5::integer[]) AS b(endpoint_id, sending)
), chosen AS (
    SELECT d.id
    FROM webhook_endpoints w
    LEFT JOIN busy b ON b.endpoint_id = w.id
    CROSS JOIN LATERAL (
        SELECT d.id, d.next_attempt_at FROM webhook_deliveries d
        WHERE d.endpoint_id = w.id AND d.state = 'pending' AND d.next_attempt_at <= now()
          AND NOT EXISTS (SELECT 1 FROM webhook_deliveries p
                          WHERE p.endpoint_id = d.endpoint_id AND p.operation_id = d.operation_id
                            AND p.event_id < d.event_id AND p.state IN ('pending', 'sending'))
        ORDER BY d.next_attempt_at, d.event_id
        LIMIT greatest(0, $3 - coalesce(b.sending, 0))
        FOR UPDATE OF d SKIP LOCKED
    ) d
    WHERE w.status = 'enabled'
    ORDER BY d.next_attempt_at
    LIMIT $2
), claimed AS (
    UPDATE webhook_deliveries d SET state = 'sending', claim = d.claim + 1, attempts = d.attempts + 1,
        claim_expires_at = now() + make_interval(secs => $1), updated_at = now()
    FROM chosen WHERE d.id = chosen.id
    RETURNING d.*
)
SELECT c.id, c.endpoint_id, c.event_id, c.claim, c.attempts, c.schedule_from,
       w.url, w.failing_since, e.type, e.data, e.created_at AS event_at
FROM claimed c
JOIN webhook_endpoints w ON w.id = c.endpoint_id
JOIN events e ON e.id = c.event_id
ORDER BY c.event_id;

-- name: record_attempt
-- The result of claim $2 of delivery $1: its new state, the attempt, and the
-- endpoint's failing streak. Nothing happens when the claim is no longer held.
WITH settled AS (
    UPDATE webhook_deliveries SET state = $3, next_attempt_at = coalesce($4, next_attempt_at),
        claim_expires_at = NULL, updated_at = now()
    WHERE id = $1 AND claim = $2 AND state = 'sending'
    RETURNING id, endpoint_id, attempts
), logged AS (
    INSERT INTO webhook_attempts (delivery_id, attempt, at, status_code, latency_ms, error, response,
                                  next_attempt_at)
    SELECT id, attempts, $9, $5, $6, $7, $8, $4 FROM settled
    ON CONFLICT (delivery_id, attempt) DO NOTHING
), streak AS (
    UPDATE webhook_endpoints w SET
        failing_since = CASE WHEN $3 = 'delivered' THEN NULL ELSE coalesce(w.failing_since, now()) END
    FROM settled s WHERE w.id = s.endpoint_id
)
SELECT count(*) FROM settled;

-- name: release_delivery
-- A claim given back unsent (this process is stopping): due again at once.
UPDATE webhook_deliveries SET state = 'pending', next_attempt_at = now(), attempts = attempts - 1,
    claim_expires_at = NULL, updated_at = now()
WHERE id = $1 AND claim = $2 AND state = 'sending';

-- name: list_deliveries
-- Newest first; $3 is the id of the last delivery of the previous page.
SELECT d.id, d.event_id, d.operation_id, d.state, d.attempts, d.next_attempt_at, d.created_at,
       d.updated_at, e.type AS event_type,
       coalesce((SELECT jsonb_agg(jsonb_build_object(
                     'attempt', a.attempt, 'at', a.at, 'status_code', a.status_code,
                     'latency_ms', a.latency_ms, 'error', a.error, 'response', a.response)
                     ORDER BY a.attempt)
                 FROM webhook_attempts a WHERE a.delivery_id = d.id), '[]'::jsonb) AS attempt_log
FROM webhook_deliveries d JOIN events e ON e.id = d.event_id
WHERE d.endpoint_id = $1 AND ($3::bigint IS NULL OR d.id < $3)
ORDER BY d.id DESC
LIMIT $2;

-- name: retry_delivery
-- Send again now, with the retry schedule started over; not while it is being sent.
WITH again AS (
    UPDATE webhook_deliveries d SET state = 'pending', next_attempt_at = now(),
        schedule_from = d.attempts, updated_at = now()
    FROM webhook_endpoints w
    WHERE d.id = $2 AND d.endpoint_id = $1 AND w.id = d.endpoint_id AND w.status = 'enabled'
      AND d.state <> 'sending'
    RETURNING d.id
)
SELECT (SELECT count(*) FROM again) AS retried, pg_notify('gridjobs_deliveries', '') AS woken;

-- name: get_delivery
SELECT d.id, d.state, w.status AS endpoint_status
FROM webhook_deliveries d JOIN webhook_endpoints w ON w.id = d.endpoint_id
WHERE d.id = $2 AND d.endpoint_id = $1;

-- name: undelivered_ages
-- Per enabled endpoint, the age of the oldest event it still waits for.
SELECT d.endpoint_id, extract(epoch FROM now() - min(e.created_at))::float8 AS age_s
FROM webhook_deliveries d
JOIN webhook_endpoints w ON w.id = d.endpoint_id AND w.status = 'enabled'
JOIN events e ON e.id = d.event_id
WHERE d.state IN ('pending', 'sending')
GROUP BY d.endpoint_id;

-- name: purge_deliveries
DELETE FROM webhook_deliveries WHERE id IN (
    SELECT id FROM webhook_deliveries
    WHERE state IN ('delivered', 'failed') AND updated_at < now() - make_interval(secs => $1)
    ORDER BY updated_at
    LIMIT $2
);

-- name: page_operations
-- The control-room page's list: newest first, by kind, status and a feeder the scope reached.
SELECT o.*, coalesce(p.total, 0) AS total, coalesce(p.succeeded, 0) AS succeeded,
       coalesce(p.failed, 0) AS failed
FROM operation_summaries o
LEFT JOIN outcome_counts p ON p.operation_id = o.id
WHERE ($1::text IS NULL OR o.kind = $1)
  AND ($2::text IS NULL OR o.status = $2)
  AND ($3::text IS NULL OR $3 = ANY(o.feeders))
  AND ($5::text[] IS NULL OR o.feeders <@ $5)   -- the principal's area (NULL: every feeder)
ORDER BY o.created_at DESC, o.id DESC
LIMIT $4;

-- name: device_history
-- One device's outcomes across operations, newest operation first, within an area.
SELECT d.operation_id, o.kind, o.status AS operation_status, o.created_at, d.state, d.step,
       d.code, d.attempts, d.updated_at
FROM device_outcomes d
JOIN operations o ON o.id = d.operation_id
WHERE d.device_id = $1 AND ($3::text[] IS NULL OR o.feeders <@ $3)
ORDER BY o.created_at DESC
LIMIT $2;

-- name: record_shard_count
-- The cluster's shard count: $1 if none is recorded yet, else the recorded one.
WITH recorded AS (
    INSERT INTO shard_layout (shards) VALUES ($1) ON CONFLICT (only_row) DO NOTHING RETURNING shards
)
SELECT shards FROM recorded UNION ALL SELECT shards FROM shard_layout LIMIT 1;

-- name: set_shard_count
INSERT INTO shard_layout (shards) VALUES ($1)
ON CONFLICT (only_row) DO UPDATE SET shards = EXCLUDED.shards, recorded_at = now()
RETURNING shards;

-- name: active_operations
-- Operations a live process is running (a lease in force).
SELECT count(*) FROM operations
WHERE status IN ('running', 'cancelling') AND lease_expires_at > now();
