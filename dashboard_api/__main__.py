"""`python -m dashboard_api`: serve the API with uvicorn (settings from WM_API_* and WM_STORAGE_* env)."""

from __future__ import annotations

import argparse

import uvicorn

from dashboard_api.app import create_app


def main(argv: list[str] | None = None) -> int:
    """Serve until interrupted."""
    p = argparse.ArgumentParser(prog="python -m dashboard_api")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    args = p.parse_args(argv)
    uvicorn.run(create_app(), host=args.host, port=args.port, log_level="info")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
