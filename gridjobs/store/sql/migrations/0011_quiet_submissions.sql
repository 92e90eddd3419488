-- 0011: a group commit of submissions sends no NOTIFY at its commit.
--
-- PostgreSQL makes every transaction that NOTIFYs take a database-wide lock from its
-- pre-commit to the end of its commit, WAL flush included. Each batch of submissions
-- sent two (gridjobs_queued, and gridjobs_events by this trigger), so with several API
-- processes their batches committed one after the other, each with its own flush: at
-- 4 processes, about two PostgreSQL backends waited on that lock at any moment.
-- submit_operations now sets gridjobs.events_notify to 'off' for its transaction, and
-- the API process announces its batches after they commit (announce_submitted), at
-- most once per 50 ms (group_commit.ANNOUNCE_EVERY_S). Every other writer of events
-- notifies as before.
CREATE OR REPLACE FUNCTION events_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('gridjobs.events_notify', true) IS DISTINCT FROM 'off' THEN
        PERFORM pg_notify('gridjobs_events', '');
    END IF;
    RETURN NULL;
END
$$;
