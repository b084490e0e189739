"""Write a run's files atomically: all of them, or none.

Files are written into a temporary folder beside the output folder, flushed
to disk, and the folder is renamed into place. An earlier run's folder is
first renamed aside and removed only once the new one is in place, so a run
killed at any moment leaves either the old outputs or the new ones, never
half of either. A folder that exists and holds no ``manifest.json`` is not
an echelon output: it is never replaced.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import sys
import tempfile
from importlib import metadata
from pathlib import Path

from optimizer.errors import InputError

__all__ = ["write_outputs", "sha256_file", "package_versions", "to_json"]

_PACKAGES = ("echelon", "pyomo", "highspy", "ngboost", "numpy", "pandas", "scipy", "scikit-learn", "pydantic",
             "PyYAML", "shap", "matplotlib")


def sha256_file(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def package_versions() -> dict:
    out = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def to_json(obj) -> str:
    """JSON with sorted keys and plain floats (NaN written as null)."""

    def clean(o):
        if isinstance(o, dict):
            return {str(k): clean(v) for k, v in o.items()}
        if isinstance(o, (list, tuple)):
            return [clean(v) for v in o]
        if hasattr(o, "item") and not isinstance(o, (str, bytes)):
            o = o.item()
        if isinstance(o, float) and o != o:
            return None
        return o

    return json.dumps(clean(obj), indent=2, sort_keys=True) + "\n"


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_outputs(out_dir, files: dict[str, bytes]) -> Path:
    """Write ``files`` (name -> bytes) as the folder ``out_dir``, atomically.

    Raises
    ------
    InputError
        ``out_dir`` exists but is not an echelon output folder (or is a file).
    """
    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / "manifest.json").is_file())):
        raise InputError(out, "--out", "exists and is not an echelon output folder",
                         "choose a new folder or an earlier run's output folder")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        for name, data in files.items():
            (tmp / name).parent.mkdir(parents=True, exist_ok=True)  # "plan/orders.csv": a subfolder
            with open(tmp / name, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        _fsync_dir(tmp)
        old = None
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            old.rmdir()
            out.rename(old)
        tmp.rename(out)
        _fsync_dir(out.parent)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def command_line() -> str:
    return " ".join([Path(sys.argv[0]).name] + sys.argv[1:])
