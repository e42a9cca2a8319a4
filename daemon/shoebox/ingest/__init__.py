"""The ingest pipeline: from files under the library roots to rows in the catalog.

`pipeline` states the stage order and versions; `scan` walks the roots; `worker` runs the
CPU-heavy stages (`identify`, `renditions`) in a process pool; `metadata` reads tags through
one long-lived exiftool; `grouping` turns files into photos; `run` drives a whole index run.
"""
