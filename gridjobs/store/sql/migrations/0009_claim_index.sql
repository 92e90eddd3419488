-- 0009: a claim reads the head of the queue from an index, whatever the queue's depth.
--
-- claim_operation takes the first queued operation by (priority DESC, created_at), or
-- one whose lease ran out, paused ones included. operations_claim_idx leaves paused
-- operations out, so no index could serve that query: PostgreSQL read and sorted every
-- operation for each claim (30-50 ms with 100,000 queued). The claim now reads the
-- head of operations_claim_idx, and the paused operations' own head from this one.
-- (operations_claim_idx keeps its predicate: with paused in it, it matched the admission
-- refresher's grouped count too, which it cannot serve without sorting the queue.)

CREATE INDEX operations_paused_idx ON operations (priority DESC, created_at)
    WHERE status = 'paused';
