-- 0013: the events trigger wakes the relays and streams only when its transaction wrote
-- an event.
--
-- It is a statement trigger, and PostgreSQL fires those for statements that insert no
-- row: every outcome write (its device.failed insert, empty when no device failed) and
-- every progress check that found nothing to say sent a NOTIFY. Each woke every
-- process's relay and event hub for a pass that read nothing, and the hub's next pass
-- then waited out its coalescing interval (gridjobs.outbox.waking.COALESCE_S): the
-- operation.progress that says "every device shed" reached a stream about 45 ms after
-- it was written, in a 1,000-device shed. A NOTIFY also makes its transaction take a
-- database-wide lock through its commit (0011), so the parts of a large outcome write
-- (gridjobs.store.parts), written at once, took turns at their commits.
CREATE OR REPLACE FUNCTION events_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('gridjobs.events_notify', true) IS DISTINCT FROM 'off'
       AND coalesce(nullif(current_setting('gridjobs.events_in_xact', true), ''), '0') <> '0' THEN
        PERFORM pg_notify('gridjobs_events', '');
    END IF;
    RETURN NULL;
END
$$;
