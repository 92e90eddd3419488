-- Shard-owned device facts (last reading, current holder), so a restarted
-- DeviceShard rebuilds its state. Table defined in gridjobs/store/sql/schema.sql.

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
