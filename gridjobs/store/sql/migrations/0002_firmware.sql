-- 0002: firmware artifacts stored in chunks, transfer offsets, paused operations.

ALTER TABLE operations DROP CONSTRAINT operations_status_check;
ALTER TABLE operations ADD CONSTRAINT operations_status_check CHECK (status IN
    ('queued', 'running', 'cancelling', 'succeeded', 'failed', 'cancelled', 'paused'));
ALTER TABLE operations ADD COLUMN resume_requested boolean NOT NULL DEFAULT false;

-- Firmware images. Within one profile a version names exactly one image and an
-- image carries exactly one version: the same bytes, version and profile again
-- are the same artifact; a clash on either key alone is refused.
CREATE TABLE firmware_artifacts (
    id          uuid PRIMARY KEY,
    version     text NOT NULL,
    profile     text NOT NULL,
    sha256      text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    size        bigint NOT NULL CHECK (size > 0),
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (profile, version),
    UNIQUE (profile, sha256)
);
CREATE INDEX firmware_artifacts_newest_idx ON firmware_artifacts (created_at DESC, id DESC);

-- The image in fixed-size rows (64 KiB; the last may be shorter). Chunks are
-- written while the upload streams, before the artifact row exists: the
-- foreign key is checked at commit.
CREATE TABLE firmware_chunks (
    artifact_id  uuid NOT NULL REFERENCES firmware_artifacts (id) ON DELETE CASCADE
                     DEFERRABLE INITIALLY DEFERRED,
    idx          integer NOT NULL CHECK (idx >= 0),
    data         bytea NOT NULL,
    PRIMARY KEY (artifact_id, idx)
);

-- How far each device's transfer got, written by the shards.
CREATE TABLE firmware_transfers (
    operation_id  uuid NOT NULL REFERENCES operations (id) ON DELETE CASCADE,
    device_id     text NOT NULL,
    artifact_id   uuid NOT NULL,
    "offset"      bigint NOT NULL DEFAULT 0 CHECK ("offset" >= 0),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (operation_id, device_id)
);
