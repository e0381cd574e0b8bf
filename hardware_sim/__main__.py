"""`python -m hardware_sim run ...`: simulate meters running the real firmware."""

from hardware_sim.cli import main

raise SystemExit(main())
