"""What the numbers were measured on: CPU, cores, load, library versions."""

from __future__ import annotations

import os
import platform
import sys


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _versions() -> dict:
    out = {}
    for name in ("numpy", "zstandard", "brotli", "pyppmd", "constriction", "torch", "transformers", "scipy"):
        mod = sys.modules.get(name)
        if mod is None:
            try:
                from importlib.metadata import version

                out[name] = version(name if name != "brotli" else "Brotli")
            except Exception:
                continue
        else:
            out[name] = getattr(mod, "__version__", "?")
    return out


def machine_info() -> dict:
    try:
        load = list(os.getloadavg())
    except OSError:
        load = None
    try:
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        mem = None
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_bytes": mem,
        "loadavg_1_5_15": load,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "versions": _versions(),
    }


def describe(info: dict) -> str:
    """One line for tables: 'Intel Xeon ..., 2 cores, load 3.1, Python 3.11'."""
    load = info.get("loadavg_1_5_15")
    load_txt = f", load avg {load[0]:.1f}" if load else ""
    return f"{info['cpu']}, {info['cores']} cores{load_txt}, Python {info['python']}, {info['platform']}"
