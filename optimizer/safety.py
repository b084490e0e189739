"""What a config file may do: plain YAML data, and files inside its folder tree.

A config is read by nightly jobs from places planners can write to, so reading
one must never run code, exhaust memory or read files the config's owner did
not mean to expose:

* YAML is parsed by ``yaml.safe_load`` only: a ``!!python/object`` tag (or any
  tag that builds an object) is a one-line error, never a constructor call.
* A document may hold at most :data:`MAX_NODES` values once its aliases are
  expanded (a "billion laughs" file of nested ``*aliases`` is refused before
  anything walks it) and at most :data:`MAX_BYTES` bytes.
* Every file a config names (``extends:`` and the data paths) must lie inside
  its *tree*: the config's own folder, unless the file says ``root: DIR``
  (relative to itself), which widens the tree for that file and the files it
  extends. Symbolic links are followed before the check, so a link cannot lead
  out of the tree either.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from optimizer.errors import InputError

__all__ = ["MAX_BYTES", "MAX_NODES", "check_inside", "read_yaml", "tree_of"]

#: Largest config file read, in bytes.
MAX_BYTES = 1 << 20
#: Most values (mappings, lists, scalars) a config may expand to.
MAX_NODES = 100_000


def _expanded_size(node, limit: int) -> int:
    """Values in ``node`` with every alias expanded, counting no further than ``limit``."""
    count, stack = 0, [node]
    while stack:
        value = stack.pop()
        count += 1
        if count > limit:
            return count
        if isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return count


def read_yaml(path: Path):
    """Parse the YAML file ``path`` as plain data (mappings, lists, scalars).

    Raises
    ------
    InputError
        Unreadable or too large file, YAML syntax error, a tag that would build
        an object, or too many values once aliases are expanded.
    """
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise InputError(path, "", f"config file is {size:,} bytes, more than {MAX_BYTES:,}",
                             "keep data in CSV files the config names, not in the YAML")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(path, "", "config file not found", "check the path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(path, "", f"cannot read the config ({exc.__class__.__name__})", "give a UTF-8 YAML file") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        if isinstance(exc, yaml.constructor.ConstructorError):
            tag = problem.rsplit(" ", 1)[-1]
            raise InputError(path, where, f"YAML tag {tag} is not allowed (a config holds plain data only)",
                             "remove the tag and write the value as a plain mapping, list or scalar") from None
        raise InputError(path, where, f"YAML syntax error: {problem}", "fix the YAML syntax") from None
    if _expanded_size(raw, MAX_NODES) > MAX_NODES:
        raise InputError(path, "", f"the YAML expands to more than {MAX_NODES:,} values (aliases repeated)",
                         "write the config without nested *aliases")
    return raw


def tree_of(path: Path, raw: dict, inherited: Path | None) -> Path:
    """The folder ``path`` and the files it extends may read from.

    ``root:`` in the file (relative to it) if given; else the tree of the file
    that extends it (``inherited``); else the file's own folder.
    """
    root = raw.pop("root", None)
    if root is None:
        return inherited if inherited is not None else path.resolve().parent
    if not isinstance(root, str):
        raise InputError(path, "root", f"expected a folder, received {root!r}",
                         "write root: .. (a folder relative to this file)")
    tree = (path.resolve().parent / root).resolve()
    if not tree.is_dir():
        raise InputError(path, "root", f"folder not found: {tree}", "give a folder relative to this file")
    return tree


def check_inside(target: Path, tree: Path, file: Path, key: str) -> Path:
    """``target`` resolved, if it lies inside ``tree``; otherwise an :class:`InputError`."""
    resolved = Path(target).resolve()
    if not resolved.is_relative_to(tree):
        raise InputError(file, key, f"{resolved} is outside the config's folder tree {tree}",
                         "move the file inside it, or widen the tree with root: (a folder relative to this file)")
    return resolved
