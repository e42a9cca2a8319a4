"""shoebox: a self-hosted photo library for a household.

The `shoebox` package owns everything that writes: configuration, the catalog, the ingest
pipeline and the command line. The web viewer lives in the separate `shoebox_viewer` package.
"""

__version__ = "0.1.0"
