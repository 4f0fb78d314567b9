"""Migrations are written expand-then-contract (docs/deploy.md, "Upgrading with no downtime"): while a
release's migration runs, the previous release's workers and desktops keep running against the same
database, so an upgrade only adds — tables, nullable columns or columns with a server default,
indexes, functions under new names. Whatever removes, renames or tightens (the contract) ships in a
later release, in a migration that says so with `CONTRACT = True` and names the last desktop release
that used what it removes (`CONTRACT_AFTER_DESKTOP = "0.2.0"`)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

VERSIONS = Path(__file__).resolve().parents[2] / "cmdesk" / "server" / "migrations" / "versions"
DESTRUCTIVE_SQL = re.compile(
    r"\b(DROP\s+(TABLE|COLUMN|TYPE|SCHEMA)|RENAME\s+(TO|COLUMN)|ALTER\s+COLUMN\s+\w+\s+(SET\s+NOT\s+NULL|TYPE))\b",
    re.IGNORECASE,
)


def _upgrade(tree: ast.Module) -> ast.FunctionDef:
    return next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "upgrade")


def _constants(tree: ast.Module) -> dict[str, object]:
    out: dict[str, object] = {}
    for node in tree.body:
        targets = (
            node.targets
            if isinstance(node, ast.Assign)
            else [node.target]
            if isinstance(node, ast.AnnAssign)
            else []
        )
        value = getattr(node, "value", None)
        for target in targets:
            if isinstance(target, ast.Name) and isinstance(value, ast.Constant):
                out[target.id] = value.value
    return out


def contract_operations(source: str) -> list[str]:
    """What an upgrade() does that the previous release could not live with."""
    tree = ast.parse(source)
    found = []
    for node in ast.walk(_upgrade(tree)):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        name = node.func.attr
        keywords = {k.arg: k.value for k in node.keywords}
        if name in ("drop_table", "drop_column", "rename_table", "drop_constraint"):
            found.append(name)
        elif name == "alter_column":
            nullable = keywords.get("nullable")
            if "new_column_name" in keywords or "type_" in keywords:
                found.append("alter_column (rename or new type)")
            elif isinstance(nullable, ast.Constant) and nullable.value is False:
                found.append("alter_column nullable=False")
        elif name == "add_column" and len(node.args) >= 2 and isinstance(node.args[1], ast.Call):
            column = {k.arg: k.value for k in node.args[1].keywords}
            nullable = column.get("nullable")
            if (
                isinstance(nullable, ast.Constant)
                and nullable.value is False
                and "server_default" not in column
            ):
                found.append("add_column NOT NULL without server_default")
        elif (
            name == "execute"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and DESTRUCTIVE_SQL.search(str(node.args[0].value))
        ):
            found.append("execute (destructive SQL)")
    return found


@pytest.mark.parametrize("path", sorted(VERSIONS.glob("[0-9]*.py")), ids=lambda p: p.name)
def test_an_upgrade_only_expands_unless_it_says_it_contracts(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    found = contract_operations(source)
    constants = _constants(ast.parse(source))
    if constants.get("CONTRACT") is True:
        assert isinstance(constants.get("CONTRACT_AFTER_DESKTOP"), str), (
            f"{path.name} contracts: name the last desktop release that used what it removes"
        )
    else:
        assert not found, f"{path.name} contracts ({', '.join(found)}) without CONTRACT = True"


def test_the_check_finds_what_breaks_the_previous_release() -> None:
    breaking = """
def upgrade():
    op.drop_column("clients", "phone")
    op.alter_column("clients", "email", nullable=False)
    op.alter_column("clients", "name", new_column_name="full_name")
    op.add_column("clients", sa.Column("tier", sa.Text(), nullable=False))
    op.execute("ALTER TABLE clients RENAME COLUMN rfc TO tax_id")
"""
    assert len(contract_operations(breaking)) == 5
    expanding = """
def upgrade():
    op.add_column("clients", sa.Column("tier", sa.Text(), nullable=True))
    op.add_column("clients", sa.Column("kind", sa.Text(), nullable=False, server_default="a"))
    op.create_index("ix_tier", "clients", ["tier"], postgresql_concurrently=True)
    op.execute("CREATE OR REPLACE FUNCTION cmdesk_consume_v2() RETURNS int AS 'select 1' LANGUAGE sql")

def downgrade():
    op.drop_column("clients", "tier")
"""
    assert contract_operations(expanding) == []
