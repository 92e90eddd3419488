"""Without RAY_ADDRESS gridjobs starts a Ray of its own, whatever else runs on the machine.

Found by the chaos campaign: `ray.init()` with no address joins the cluster named in
`<ray temp dir>/ray_current_cluster`, which any `ray start` on the machine writes; a
gridjobs server then joined another user's cluster, and once that one was stopped,
every start hung on its dead GCS for a minute and failed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ELSEWHERE = "127.0.0.1:1"  # a cluster someone else started and stopped: nothing listens there
PROBE = """
import ray
from gridjobs.runtime import ensure_ray
started = ensure_ray(None)
print(started, ray.get_runtime_context().gcs_address)
ray.shutdown()
"""


def test_no_ray_address_starts_a_local_ray_even_when_another_cluster_is_recorded():
    with tempfile.TemporaryDirectory(prefix="gj-ray-") as tmp:  # short: Ray's socket paths must fit
        (Path(tmp) / "ray").mkdir()
        (Path(tmp) / "ray" / "ray_current_cluster").write_text(ELSEWHERE)
        env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"} | {"RAY_TMPDIR": tmp}
        done = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True,
                              timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    started, address = done.stdout.split()[-2:]
    assert started == "True" and address != ELSEWHERE
