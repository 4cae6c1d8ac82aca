"""Ray for the commands that fan out (`tune`, `evaluate --split-seeds`): on this machine by
default, or a running cluster by address; a Ray the caller started already is used as it is.

Workers on this machine import the harness the driver runs (a checkout on PYTHONPATH may shadow
an installed copy); a cluster's nodes need mpd-harness installed (docs/tuning.md).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any


def start_ray(address: str | None = None, cpus: int | None = None) -> bool:
    """Connect to Ray (start it here when `address` is None); True when this call started it,
    so the caller shuts it down. `cpus`: CPUs of a local instance (default: this machine's)."""
    import ray

    if ray.is_initialized():
        return False
    # Ray's own warnings (token authentication, …) would break the tables the CLI draws
    kwargs: dict[str, Any] = {"logging_level": logging.ERROR, "log_to_driver": False}
    if address:
        try:
            ray.init(address=address, **kwargs)
        except (ConnectionError, RuntimeError, ValueError) as e:
            from harness.errors import UsageError

            raise UsageError(f"--ray-address {address}: cannot connect ({e})") from None
        return True
    root = str(Path(__file__).resolve().parents[2])
    path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)
    env = {"env_vars": {"PYTHONPATH": path}}
    n = max(os.cpu_count() or 1, cpus or 0)
    ray.init(num_cpus=n, include_dashboard=False, runtime_env=env, **kwargs)
    return True


def total_cpus() -> int:
    """CPUs of the Ray instance this process is connected to."""
    import ray

    return max(1, int(ray.cluster_resources().get("CPU", 1)))
