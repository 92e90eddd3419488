-- 0010: each operation's outcome counts, kept as its outcomes are written.
--
-- GET /v1/operations/{id}, the operation lists, every operation.progress event and the
-- terminal event counted the operation's outcome rows each time they were asked: 3-5 ms
-- of PostgreSQL at 10,000 devices, once per poll and once per recorded chunk, on the
-- cores a large shed needs for its Modbus traffic. Statement triggers now keep the counts
-- from the rows each statement wrote (its transition tables), so a read takes one row.
-- Every write to device_outcomes goes through them, whatever statement makes it.

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

-- The outcomes written before this migration. Writers wait meanwhile (SHARE blocks
-- them until this transaction commits), so none is counted twice or missed.
LOCK TABLE device_outcomes IN SHARE MODE;
INSERT INTO outcome_counts (operation_id, total, succeeded, failed)
SELECT operation_id, count(*), count(*) FILTER (WHERE state = 'succeeded'),
       count(*) FILTER (WHERE state IN ('failed', 'cancelled'))
FROM device_outcomes GROUP BY operation_id;
