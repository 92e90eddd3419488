-- 0004: indexes for the admission refresher, which groups the active operations
-- and counts the recently claimed ones every ~0.5 s: it reads these, not the history.

CREATE INDEX operations_active_idx ON operations (kind, status, priority, created_at)
    WHERE status IN ('queued', 'running', 'cancelling', 'paused');
CREATE INDEX operations_started_idx ON operations (started_at) INCLUDE (kind, priority)
    WHERE started_at IS NOT NULL;
