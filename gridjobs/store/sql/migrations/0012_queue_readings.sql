-- 0012: one reading of the queue, shared by the API processes.
--
-- Each API process counted the active operations by kind, status and priority every
-- half second for its admission gate and gauges: a read that grows with the queue,
-- made as many times as there are processes. With 4 processes and a deep queue, a
-- PostgreSQL backend was busy with those counts about a quarter of the time. A
-- process now takes the reading another made while it is younger than its own
-- refresh interval, or while another process is making the next one.
CREATE TABLE queue_readings (
    name      text PRIMARY KEY,
    taken_at  timestamptz NOT NULL,
    reading   jsonb NOT NULL
);
