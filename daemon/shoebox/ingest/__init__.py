"""The ingest pipeline: from files under the library roots to rows in the catalog.

`pipeline` states the stage order and versions; `scan` walks the roots; `worker` runs the
CPU-heavy stages (`identify`, `renditions`) in the worker processes of `pool`; `metadata` reads
tags through one long-lived exiftool (our client, `exiftool`); `health` tells how those helpers
are doing; `grouping` turns files into photos; `run` drives a whole index run.
"""
