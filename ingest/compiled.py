"""The ingest's hot path, compiled to C by mypyc where a C compiler is at hand (`make native`).

These modules are plain, type-checked Python; `make venv` compiles them in place (an extension module
beside each source, which Python imports instead of the source) and falls back to the sources when it
cannot. A compiled module older than its source would run the old code silently, so the worker refuses
to start with one (`stale`) and the test session stops (tests/conftest.py): run `make native` again.
Measured in `make bench` (docs/ingest.md, "The compiled hot path").
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
from pathlib import Path

# Every module a reading passes through in the worker's judge-and-write step, and the types it builds.
HOT_PATH = (
    "core.consumption",
    "core.ids",
    "core.readings",
    "core.units",
    "ingest.flood",
    "ingest.intake",
    "ingest.message",
    "ingest.packets",
    "ingest.payload",
    "ingest.pipeline",
    "ingest.state",
    "ingest.statelog",
    "storage.readings.base",
    "storage.readings.lineproto",
    "storage.readings.stream",
)
GROUP = "wm_hotpath"  # the name of mypyc's shared runtime library (wm_hotpath__mypyc*.so at the root)
ROOT = Path(__file__).resolve().parents[1]


def source_of(module: str, root: Path = ROOT) -> Path:
    """The source file of a hot-path module."""
    return root.joinpath(*module.split(".")).with_suffix(".py")


def extensions_of(module: str, root: Path = ROOT) -> list[Path]:
    """Compiled extension files of a module that sit beside its source (any Python version's)."""
    src = source_of(module, root)
    return sorted(src.parent.glob(f"{src.stem}.*.so"))


def _loaded_from(module: str) -> str | None:
    spec = importlib.util.find_spec(module)
    return spec.origin if spec else None


def compiled() -> list[str]:
    """The hot-path modules that import as compiled extensions in this interpreter."""
    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    return [m for m in HOT_PATH if (_loaded_from(m) or "").endswith(suffixes)]


def stale(root: Path = ROOT) -> list[str]:
    """Hot-path modules whose compiled extension is older than their source (edited since `make native`)."""
    out = []
    for m in HOT_PATH:
        src = source_of(m, root)
        if any(ext.stat().st_mtime < src.stat().st_mtime for ext in extensions_of(m, root)):
            out.append(m)
    return out


class _Sources(importlib.abc.MetaPathFinder):
    def find_spec(
        self, name: str, path: object = None, target: object = None
    ) -> importlib.machinery.ModuleSpec | None:
        if name not in HOT_PATH:
            return None
        return importlib.util.spec_from_file_location(name, source_of(name))


def prefer_sources() -> None:
    """Import the hot path from its sources even where it is compiled (call before any of it is imported):
    the test that compares the two, and a way to rule the compiler out when something looks wrong."""
    loaded = [m for m in HOT_PATH if m in sys.modules]
    if loaded:
        raise RuntimeError(f"already imported: {', '.join(loaded)}")
    sys.meta_path.insert(0, _Sources())


def status() -> str:
    """What runs, for the log and the health endpoint: compiled, pure Python, or partly compiled (k of n)."""
    k = len(compiled())
    if k == len(HOT_PATH):
        return "compiled"
    return "pure Python" if k == 0 else f"partly compiled ({k} of {len(HOT_PATH)})"
