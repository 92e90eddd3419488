-- 0007: one shard set per Ray cluster (README "Running on a cluster").

-- The number of DeviceShard actors of the cluster, recorded by the first process
-- that attaches to it; a process started with another number is refused.
-- `gridjobs shards set-count` changes it, on purpose.
CREATE TABLE shard_layout (
    only_row     boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    shards       integer NOT NULL CHECK (shards >= 1),
    recorded_at  timestamptz NOT NULL DEFAULT now()
);

-- The network segment (e.g. a substation) whose Ray nodes drive the device; NULL: any node.
ALTER TABLE devices ADD COLUMN segment text CHECK (segment ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$');
