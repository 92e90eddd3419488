"""The keys file: each secure device's active auth key, for the operator who provisions them.

The inventory never carries keys; this file does, readable by its owner only.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Mapping
from pathlib import Path

from adapters import AuthKey

KEY_FILE_MODE = 0o600


def write_key_file(path: str | Path, keys: Mapping[str, AuthKey]) -> None:
    """``[{"device_id", "version", "secret_b64"}]`` at ``path``, created (or truncated) with mode 0600."""
    records = [{"device_id": device_id, "version": key.version,
                "secret_b64": base64.b64encode(key.secret).decode("ascii")} for device_id, key in keys.items()]
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, KEY_FILE_MODE)
    os.fchmod(descriptor, KEY_FILE_MODE)  # an existing file keeps its old mode otherwise
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(json.dumps(records, indent=2) + "\n")


def read_key_file(path: str | Path) -> dict[str, AuthKey]:
    """The keys of a file ``write_key_file`` wrote, by device id."""
    records = json.loads(Path(path).read_text(encoding="utf-8"))
    return {r["device_id"]: AuthKey(r["version"], base64.b64decode(r["secret_b64"])) for r in records}
