-- 0009: the claim reads the queue in order from an index, whatever its depth.
--
-- claim_operation takes the first queued operation by (priority DESC, created_at), or
-- one whose lease ran out, paused ones included. operations_claim_idx left paused
-- operations out, so it could not serve that query: PostgreSQL read every operation
-- and sorted them for each claim (30-50 ms with 100,000 queued). With paused in its
-- predicate, the claim is the head of the index.

DROP INDEX operations_claim_idx;
CREATE INDEX operations_claim_idx ON operations (priority DESC, created_at)
    WHERE status IN ('queued', 'running', 'cancelling', 'paused');
