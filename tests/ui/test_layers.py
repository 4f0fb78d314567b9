"""The desktop's screens only act through the kit: no module under `cmdesk.ui` names a server path, writes
the cache, or imports the server; every screen package has its `actions.py`. Read from the source
(text and syntax trees), so the rule holds for code no test runs."""

from __future__ import annotations

import ast
from pathlib import Path

import cmdesk.ui

UI = Path(cmdesk.ui.__file__).resolve().parent
MODULES = sorted(UI.rglob("*.py"))

# What changes the cache (`cmdesk.services.cache`): only the sync and the services call these.
CACHE_WRITES = frozenset(
    {
        "apply_page",
        "finish_pull",
        "apply_answer",
        "apply_local",
        "apply_deleted",
        "restore",
        "reset",
        "set_meta",
        "mark_synced",
        "set_catalog",
        "set_stamping_usage",
    }
)

SCREEN_PACKAGES = (
    "ayuda",
    "bitacora",
    "clientes",
    "compras",
    "distribuidores",
    "estados",
    "facturacion",
    "herramientas",
    "software",
    "timbrado",
)


def _name(path: Path) -> str:
    return str(path.relative_to(UI.parent.parent))


def test_no_module_under_ui_names_a_server_path() -> None:
    assert len(MODULES) > 40
    assert [_name(p) for p in MODULES if "/v1/" in p.read_text(encoding="utf-8")] == []


def test_no_module_under_ui_writes_the_cache() -> None:
    writes = []
    for path in MODULES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in CACHE_WRITES
                and "cache" in ast.unparse(node.func.value).lower()
            ):
                writes.append(f"{_name(path)}:{node.lineno} {ast.unparse(node.func)}")
    assert writes == []


def test_the_check_finds_a_cache_write() -> None:
    """The same walk over a line that writes the cache finds it: the check can fail."""
    call = ast.parse("self.context.session.cache.apply_answer('client', data)").body[0]
    assert isinstance(call, ast.Expr) and isinstance(call.value, ast.Call)
    func = call.value.func
    assert isinstance(func, ast.Attribute) and func.attr in CACHE_WRITES
    assert "cache" in ast.unparse(func.value)


def test_no_module_under_ui_imports_the_server() -> None:
    imports = []
    for path in MODULES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            imports += [f"{_name(path)}: {n}" for n in names if n.startswith("cmdesk.server")]
    assert imports == []


def test_every_screen_acts_through_its_actions_module() -> None:
    assert [p for p in SCREEN_PACKAGES if not (UI / p / "actions.py").is_file()] == []
