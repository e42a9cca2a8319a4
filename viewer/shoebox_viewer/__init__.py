"""The shoebox web viewer (Bottle): the household's private view and visitors' share links.

It reads the catalog through `shoebox.catalog` and must never import asyncssh, watchdog or the
ML libraries, so that the web process stays small.
"""
