"""Allows `python -m shoebox`."""

from shoebox.cli import main

raise SystemExit(main())
