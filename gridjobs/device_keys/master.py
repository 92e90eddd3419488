"""The master key: 32 random bytes in a file only its owner may read.

It wraps (encrypts) every device key in the store. It is read once at the
entry point; nothing prints it: repr and str show only its fingerprint.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from gridjobs.errors import ConfigError

MASTER_KEY_BYTES = 32          # AES-256
MASTER_KEY_FILENAME = "master.key"
FINGERPRINT_HEX = 16
_OPEN_TO_OTHERS = 0o077


@dataclass(frozen=True, repr=False)
class MasterKey:
    material: bytes
    path: Path | None = None

    def __post_init__(self) -> None:
        if len(self.material) != MASTER_KEY_BYTES:
            raise ConfigError(f"a master key is exactly {MASTER_KEY_BYTES} bytes")

    @property
    def fingerprint(self) -> str:
        """The first 16 hex digits of SHA-256 of the key: names it without revealing it."""
        return hashlib.sha256(self.material).hexdigest()[:FINGERPRINT_HEX]

    def __repr__(self) -> str:
        return f"MasterKey(fingerprint={self.fingerprint!r}, path={str(self.path)!r})"

    __str__ = __repr__


def load_master_key(path: Path) -> MasterKey:
    """Read a master key file; refuse one that is missing, short, or open to others."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError as exc:
        raise ConfigError(f"master key file {path} does not exist") from exc
    except OSError as exc:
        raise ConfigError(f"cannot open master key file {path}: {exc.strerror}") from exc
    try:
        check_private(path, os.fstat(fd))
        material = os.read(fd, MASTER_KEY_BYTES + 1)
    finally:
        os.close(fd)
    if len(material) != MASTER_KEY_BYTES:
        raise ConfigError(f"master key file {path} holds {len(material)} bytes"
                          f"{' or more' if len(material) > MASTER_KEY_BYTES else ''}; "
                          f"a master key is exactly {MASTER_KEY_BYTES} random bytes")
    return MasterKey(material, path)


def check_private(path: Path, st: os.stat_result) -> None:
    """A regular file that neither group nor others may read, write or run."""
    if not stat.S_ISREG(st.st_mode):
        raise ConfigError(f"{path} is not a regular file")
    mode = stat.S_IMODE(st.st_mode)
    if mode & _OPEN_TO_OTHERS:
        raise ConfigError(f"{path} is readable by group or others (mode {mode:04o}); chmod 600 it")


def ensure_master_key(path: Path) -> MasterKey:
    """Load the key at `path`, creating a fresh one (mode 0600) if there is none.

    The key is written to a private temporary file and linked into place, so a
    crash never leaves a short key and two processes never both create one.
    """
    path = Path(path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        _create(path)
    return load_master_key(path)


def _create(path: Path) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, os.urandom(MASTER_KEY_BYTES))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.link(tmp, path)
    except FileExistsError:
        pass  # another process created it first: use theirs
    finally:
        tmp.unlink(missing_ok=True)
