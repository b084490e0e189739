"""Write a run's files atomically: all of them, or none.

Files are written into a temporary folder beside the output folder, flushed
to disk, and the folder is renamed into place. An earlier run's folder is
first renamed aside and removed only once the new one is in place, so a run
killed at any moment leaves either the old outputs or the new ones, never
half of either. A folder that exists and holds no ``manifest.json`` is not
an echelon output: it is never replaced.

Faults: a write that fails (disk full, no permission) removes the temporary
folder, puts the earlier run back if it had been moved aside, and raises
:class:`~optimizer.errors.ResourceError` (exit code 5). A run killed after
moving the earlier run aside (``.NAME.old-*``) and before renaming the new one
into place leaves the earlier run there; the next write puts it back first.
Temporary folders of killed runs (``.NAME.tmp-PID-*``, the process gone) are
removed by the next write to the same folder.

Two halves: :func:`stage_outputs` (every file on disk, in the temporary folder)
and :func:`publish_outputs` (the renames), for a caller that commits a database
transaction between them (the nightly job); a run killed after its commit and
before the renames has its staged folder put in place by
``recover_outputs(out, keep=...)``, where ``keep`` recognises a committed run.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import json
import os
import platform
import shutil
import sys
import tempfile
from importlib import metadata
from pathlib import Path

from optimizer.errors import InputError, ResourceError

__all__ = ["write_outputs", "stage_outputs", "publish_outputs", "recover_outputs", "sha256_file", "package_versions",
           "to_json", "csv_bytes"]

_PACKAGES = ("echelon", "pyomo", "highspy", "ngboost", "numpy", "pandas", "scipy", "scikit-learn", "pydantic",
             "PyYAML", "shap", "matplotlib", "SQLAlchemy")


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


def csv_bytes(frame, float_format: str | None = "%.4f") -> bytes:
    """``frame`` as CSV bytes: no index, ``\\n`` line ends, floats written with ``float_format``
    (None: full precision), so the same table gives the same bytes on every platform."""
    buf = io.StringIO()
    frame.to_csv(buf, index=False, lineterminator="\n", float_format=float_format)
    return buf.getvalue().encode()


def png_bytes(fig) -> bytes:
    """A matplotlib figure as PNG bytes (110 dpi, tight box); the figure is closed."""
    plt = pyplot()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def pyplot():
    """``matplotlib.pyplot`` on the Agg backend (no display is needed; imported on first use)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def manifest(config_path=None, config=None, *, seed=None, timings=None, data_files=None, **extra) -> bytes:
    """The ``manifest.json`` of a command's output folder, as bytes.

    What reproduces the folder: the command line, the config file and its SHA-256, the resolved config,
    each data file read (path, SHA-256, bytes), the seed, the package versions and the stage timings
    (seconds), then ``extra`` (its keys win). Keys whose argument is None are left out.
    """
    body = {"command": command_line()}
    if config_path is not None:
        body.update(config_file=str(config_path), config_sha256=sha256_file(config_path))
    if config is not None:
        body["config"] = config.model_dump(mode="json")
    if data_files is not None:
        body["data"] = [{"path": str(p), "sha256": sha256_file(p), "bytes": Path(p).stat().st_size}
                        for p in data_files]
    body.update(seed=seed, packages=package_versions())
    if timings is not None:
        body["timings_s"] = timings
    body.update(extra)
    return to_json(body).encode()


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


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _manifest(folder: Path) -> dict | None:
    try:
        return json.loads((folder / "manifest.json").read_text())
    except (OSError, ValueError):
        return None


def recover_outputs(out_dir, keep=None) -> None:
    """Undo what a killed write left beside ``out_dir``: put an earlier run moved aside back
    (when ``out_dir`` is missing) and remove temporary folders whose process is gone.

    ``keep`` (a function of a folder's ``manifest.json`` contents), if given, picks a killed
    process's complete temporary folder to put in place instead of removing it: a run whose
    record was committed before it was killed (:func:`publish_outputs`).
    """
    out = Path(out_dir)
    if not out.parent.is_dir():
        return
    for tmp in sorted(out.parent.glob(f".{out.name}.tmp-*"), key=lambda p: p.stat().st_mtime):
        pid = tmp.name[len(out.name) + 6:].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            manifest = _manifest(tmp)
            if keep is not None and manifest is not None and keep(manifest):
                _publish(tmp, out)
            else:
                shutil.rmtree(tmp, ignore_errors=True)
    olds = sorted(out.parent.glob(f".{out.name}.old-*"), key=lambda p: p.stat().st_mtime)
    if olds and not out.exists() and (olds[-1] / "manifest.json").is_file():
        olds.pop().rename(out)
    if (out / "manifest.json").is_file():  # in place: an earlier run set aside is no longer needed
        for old in olds:
            shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def _resource_errors(out: Path):
    """OSError (disk full, permission) as :class:`ResourceError` naming ``out`` and the fix."""
    try:
        yield
    except OSError as exc:
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        fix = "free disk space and run again" if exc.errno in (errno.ENOSPC, errno.EDQUOT) else \
            "check that the folder is writable and run again"
        raise ResourceError(f"{out}: cannot write the outputs ({reason}); nothing was written and any "
                            f"earlier run there is untouched; {fix}") from exc


def write_outputs(out_dir, files: dict[str, bytes]) -> Path:
    """Write ``files`` (name -> bytes) as the folder ``out_dir``, atomically.

    Raises
    ------
    InputError
        ``out_dir`` exists but is not an echelon output folder (or is a file).
    ResourceError
        Writing failed (disk full, permission, ...); ``out_dir`` is as it was.
    """
    out = Path(out_dir)
    tmp = stage_outputs(out, files)
    try:
        publish_outputs(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def stage_outputs(out_dir, files: dict[str, bytes]) -> Path:
    """The first half of :func:`write_outputs`: every file written and synced into a temporary
    folder beside ``out_dir`` (``.NAME.tmp-PID-*``), returned; ``out_dir`` untouched.

    Raises
    ------
    InputError, ResourceError
        As :func:`write_outputs`; nothing is left behind.
    """
    out = Path(out_dir)
    with _resource_errors(out):
        recover_outputs(out)
        if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / "manifest.json").is_file())):
            raise InputError(out, "--out", "exists and is not an echelon output folder",
                             "choose a new folder or an earlier run's output folder")
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-{os.getpid()}-", dir=out.parent))
        try:
            for name, data in files.items():
                (tmp / name).parent.mkdir(parents=True, exist_ok=True)  # "plan/orders.csv": a subfolder
                with open(tmp / name, "wb") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
            _fsync_dir(tmp)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return tmp


def publish_outputs(tmp, out_dir) -> Path:
    """The second half of :func:`write_outputs`: the staged folder ``tmp`` renamed into place as
    ``out_dir``, the earlier run's folder moved aside first and removed once the new one is in.

    A failure puts the earlier run back and leaves ``tmp`` where it is (:class:`ResourceError`).
    """
    out = Path(out_dir)
    with _resource_errors(out):
        _publish(Path(tmp), out)
    return out


def _publish(tmp: Path, out: Path) -> None:
    old = None
    try:
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            old.rmdir()
            out.rename(old)
        tmp.rename(out)
    except BaseException:
        if old is not None and old.exists() and not out.exists():
            old.rename(out)
        raise
    _fsync_dir(out.parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def command_line() -> str:
    return " ".join([Path(sys.argv[0]).name] + sys.argv[1:])
