"""The viewer only renders: every query is a read (or write) function of `shoebox.catalog`,
beside the indexes it needs, and the viewer's route modules share no helpers with each other.

Each viewer module is parsed (never imported) and must not:
- import peewee or playhouse, or `shoebox.catalog.models` other than for type names (inside
  `if TYPE_CHECKING:`, where no query can run);
- call Peewee's query builders (`.select(`, `.where(`, `.execute(`, `.get_or_none(`, ...) on
  anything (not `.join(`, which strings and paths have too: a join needs a select);
- when it is a route module (its `install` adds routes), import another route module: what two
  route modules share belongs in the catalog or in a small viewer module about one thing
  (`grid`, `formats`, `archives`, ...).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import shoebox_viewer

VIEWER = Path(shoebox_viewer.__file__).parent
PACKAGE = "shoebox_viewer"
MODELS = "shoebox.catalog.models"
BANNED_PACKAGES = ("peewee", "playhouse")
QUERY_METHODS = frozenset({
    "select", "where", "switch", "execute", "get_or_none", "get_by_id", "tuples",
    "dicts", "objects", "scalar", "atomic", "save", "delete_instance", "insert_many",
    "on_conflict", "order_by", "group_by", "having", "paginate", "in_", "not_in", "is_null",
})  # fmt: skip
ROUTE_DECORATORS = frozenset({"get", "post", "put", "patch", "delete", "route"})
# (importer, imported) pairs of route modules that may import each other, and why.
ALLOWED_ROUTE_IMPORTS = {
    # Share links send their media through the members' `Media` (the same checks of what may
    # be sent, the same caches). media.py is being reworked for tiles at nginx speed (issue
    # 12, item 3); `Media` moves to a module of its own once that lands.
    ("shares", "media"),
}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.Module) -> list[tuple[str, list[str], bool]]:
    """(module, names, for type names only) of every import in the module."""
    found: list[tuple[str, list[str], bool]] = []

    def visit(nodes: list[ast.stmt], typing_only: bool) -> None:
        for node in nodes:
            if isinstance(node, ast.Import):
                found.extend((alias.name, [], typing_only) for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                module = "." * node.level + (node.module or "")
                found.append((module, [alias.name for alias in node.names], typing_only))
            elif isinstance(node, ast.If):
                visit(node.body, typing_only or _is_type_checking(node))
                visit(node.orelse, typing_only)
            else:
                for field in ("body", "orelse", "finalbody", "handlers"):
                    inner = getattr(node, field, None)
                    if isinstance(inner, list):
                        visit([n for n in inner if isinstance(n, ast.stmt)], typing_only)
                        for handler in inner:
                            if isinstance(handler, ast.ExceptHandler):
                                visit(handler.body, typing_only)

    visit(tree.body, False)
    return found


def _viewer_modules_imported(imports: list[tuple[str, list[str], bool]]) -> set[str]:
    """The names of the viewer's own modules that these imports bring in."""
    named: set[str] = set()
    for module, names, _ in imports:
        if module == PACKAGE or module == ".":
            named.update(names)
        elif module.startswith(PACKAGE + "."):
            named.add(module.split(".")[1])
        elif module.startswith(".") and module != ".":
            named.add(module.lstrip(".").split(".")[0])
    return named


def _adds_routes(tree: ast.Module) -> bool:
    """Whether the module's `install` adds routes (`@app.get(...)` and the like)."""
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == "install":
            for inner in ast.walk(node):
                called = inner.func if isinstance(inner, ast.Call) else None
                if (
                    isinstance(called, ast.Attribute)
                    and called.attr in ROUTE_DECORATORS
                    and isinstance(called.value, ast.Name)
                    and called.value.id == "app"
                ):
                    return True
    return False


def problems(source: str) -> list[str]:
    """What in this module's source breaks the first two rules."""
    tree = ast.parse(source)
    found = []
    for module, _, typing_only in _imports(tree):
        if module.split(".")[0] in BANNED_PACKAGES:
            found.append(f"imports {module}")
        elif module == MODELS and not typing_only:
            found.append(f"imports {MODELS} (type names only, inside `if TYPE_CHECKING:`)")
    for node in ast.walk(tree):
        called = node.func if isinstance(node, ast.Call) else None
        if isinstance(called, ast.Attribute) and called.attr in QUERY_METHODS:
            found.append(f"line {node.lineno}: calls .{called.attr}(")
    return found


def _modules() -> dict[str, ast.Module]:
    return {
        path.stem: ast.parse(path.read_text(), str(path)) for path in sorted(VIEWER.glob("*.py"))
    }


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from peewee import fn", ["imports peewee"]),
        ("import playhouse.migrate", ["imports playhouse.migrate"]),
        ("from shoebox.catalog.models import Photo", [f"imports {MODELS} (type names only"]),
        ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from shoebox.catalog.models import Share", []),
        ("def f(shares):\n    return shares.Share.get_or_none(1)", ["line 2: calls .get_or_none("]),
        ("rows = list(Photo.select(Photo.id).where(x))", ["calls .where(", "calls .select("]),
        ("found = albums.get(3)\nquery = bottle.request.query.get('q')", []),
    ],
)  # fmt: skip
def test_the_check_finds_sql(source: str, expected: list[str]) -> None:
    found = problems(source)
    assert len(found) == len(expected), found
    for problem, start in zip(sorted(found), sorted(expected), strict=True):
        assert start in problem


def test_the_check_knows_route_modules_and_their_imports() -> None:
    route = ast.parse(
        "from shoebox_viewer import access, pages\nfrom shoebox_viewer.grid import read_grid\n"
        "def install(app, ctx):\n    @app.get('/x')\n    def x(): ...\n"
    )
    hook_only = ast.parse(
        "def install(app, ctx):\n    @app.hook('before_request')\n    def h(): ..."
    )
    assert _adds_routes(route) and not _adds_routes(hook_only)
    assert _viewer_modules_imported(_imports(route)) == {"access", "pages", "grid"}


def test_no_viewer_module_issues_sql() -> None:
    modules = {path.name: problems(path.read_text()) for path in sorted(VIEWER.glob("*.py"))}
    assert len(modules) > 20  # every module was read
    assert {name: found for name, found in modules.items() if found} == {}


def test_route_modules_do_not_import_each_other() -> None:
    modules = _modules()
    routes = {name for name, tree in modules.items() if _adds_routes(tree)}
    assert {"pages", "api", "places", "labels", "people", "shares", "media", "login"} <= routes
    assert "access" not in routes  # the hook that knows who asks: every route module uses it
    crossing = {
        (name, imported)
        for name in routes
        for imported in _viewer_modules_imported(_imports(modules[name]))
        if imported in routes and imported != name
    }
    assert crossing - ALLOWED_ROUTE_IMPORTS == set()
    assert crossing >= ALLOWED_ROUTE_IMPORTS  # an allowance no longer needed is removed
