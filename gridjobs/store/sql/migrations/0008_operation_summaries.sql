-- 0008: what the API shows of an operation, without the runner's per-device checkpoint.

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
