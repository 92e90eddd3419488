-- Firmware images and transfer offsets as the shards use them. Tables are
-- defined in gridjobs/store/sql/schema.sql.

-- name: artifact_chunks_between
SELECT idx, data FROM firmware_chunks
WHERE artifact_id = $1::uuid AND idx BETWEEN $2 AND $3
ORDER BY idx;

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
