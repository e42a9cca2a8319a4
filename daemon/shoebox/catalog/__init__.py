"""The catalog: what shoebox knows about the library, in SQLite or MariaDB.

`models` declares the tables, `database` opens one from a URL, `migrations` brings its schema
up to date, and `photos` reads photos back out (for the CLI and the viewer alike). Every query
the viewer makes is a function of a module here, beside the indexes it needs: the viewer only
renders (`tests/test_layering.py`).
"""
