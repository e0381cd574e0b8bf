"""`python -m devservices.native [--clean]`: compile the ingest's hot path with mypyc, in place (make native).

The modules are ingest.compiled.HOT_PATH; the C sources go to build/mypyc. Without a C compiler or the
Python headers the build fails and the sources run as they are (slower, same results): this prints why
and exits 0, so `make test` still runs. `--clean` removes the compiled files (the sources run again).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import time

from ingest.compiled import GROUP, HOT_PATH, ROOT, extensions_of, source_of


def clean() -> int:
    """Remove every compiled hot-path module and the group's runtime library; how many files."""
    files = [ext for m in HOT_PATH for ext in extensions_of(m)] + sorted(ROOT.glob(f"{GROUP}__mypyc.*.so"))
    for f in files:
        f.unlink()
    return len(files)


def build() -> bool:
    """Compile in place; False (and the sources left to run) when it cannot."""
    try:
        from mypyc.build import mypycify
        from setuptools import setup
    except ImportError as err:
        print(f"native: mypyc or setuptools missing ({err}): the hot path runs as Python", file=sys.stderr)
        return False
    clean()
    paths = [str(source_of(m).relative_to(ROOT)) for m in HOT_PATH]
    log = io.StringIO()
    t0 = time.monotonic()
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
            setup(
                name=GROUP,
                ext_modules=mypycify(paths, group_name=GROUP, target_dir="build/mypyc", opt_level="3"),
                script_args=[
                    "build_ext",
                    "--inplace",
                    "--build-temp",
                    "build/mypyc/obj",
                    "--build-lib",
                    "build/mypyc/lib",
                ],
            )
    except (SystemExit, Exception) as err:  # setup() exits on a compiler error
        clean()
        print(log.getvalue()[-3000:], file=sys.stderr)
        print(f"native: the build failed ({err!r}): the hot path runs as Python", file=sys.stderr)
        return False
    finally:
        os.chdir(cwd)
    for m in HOT_PATH:  # an unchanged module's library is copied with its old time: stamp it as built now
        for ext in extensions_of(m):
            ext.touch()
    print(f"native: {len(HOT_PATH)} hot-path modules compiled in {time.monotonic() - t0:.0f} s")
    return True


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m devservices.native", description=__doc__)
    p.add_argument("--clean", action="store_true", help="remove the compiled modules")
    args = p.parse_args(argv)
    if args.clean:
        print(f"native: {clean()} compiled files removed")
        return 0
    build()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
