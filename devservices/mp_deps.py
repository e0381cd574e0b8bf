"""MicroPython packages the firmware build needs, fetched from PyPI at install time (`make mp-deps`).

micropython-lib style packages on PyPI are old upip sdists that pip refuses to install
("neither setup.py nor pyproject.toml"), but `pip download --no-clean` leaves them unpacked:
we copy the package directory out of that. Nothing is fetched at test or run time.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEPS_DIR = REPO_ROOT / ".venv" / "mp-deps"
PACKAGES = {"esp32_ulp": "micropython-esp32-ulp==1.2.0"}  # import name -> pinned PyPI requirement


class DepsError(RuntimeError):
    """A MicroPython package is missing and could not be fetched."""


def package_dir(name: str, deps: Path = DEPS_DIR) -> Path:
    """Where an installed MicroPython package lives; DepsError (naming `make mp-deps`) if it does not."""
    path = deps / name
    if not (path / "__init__.py").exists():
        raise DepsError(f"MicroPython package {name} is not installed: run `make mp-deps` "
                        f"(python -m devservices.mp_deps)")
    return path


def fetch(name: str, requirement: str, deps: Path = DEPS_DIR) -> Path:
    """Download the sdist with pip and copy its package directory into deps."""
    deps.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, TMPDIR=tmp)
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-clean", "--quiet",
                        "--dest", tmp, requirement], env=env, capture_output=True, text=True)
        found = [p for p in Path(tmp).rglob(f"{name}/__init__.py")]
        if not found:
            raise DepsError(f"pip download {requirement} left no {name}/ package")
        target = deps / name
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(found[0].parent, target)
    return target


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m devservices.mp_deps", description=__doc__)
    p.add_argument("--dest", type=Path, default=DEPS_DIR)
    args = p.parse_args(argv)
    for name, req in PACKAGES.items():
        try:
            print(f"{req} -> {fetch(name, req, args.dest)}")
        except DepsError as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
