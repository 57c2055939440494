"""The house stays one a newcomer can find their way in: no module of app code over 350 lines, no function over 60.
Big modules and long functions are where rules hide and get copied; when this fails, split by concern (see
docs/ARCHITECTURE.md), do not raise the limits."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
APPS = ("eventhub", "subscriptions", "monitor", "dashboard", "tenants")
MAX_MODULE_LINES = 350
MAX_FUNCTION_LINES = 60
# Exceptions, each with its reason. Migrations are generated, not written, and never edited after they ship.
EXCLUDED_DIRS = {"migrations"}


def app_modules():
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if not EXCLUDED_DIRS.intersection(path.relative_to(ROOT).parts):
                yield path


def long_functions(tree):
    """(name, lines) of every function and method, nested ones too, longer than the limit (decorators not counted)."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            lines = node.end_lineno - node.lineno + 1
            if lines > MAX_FUNCTION_LINES:
                yield f"{node.name} (line {node.lineno})", lines


def test_the_walk_finds_the_app_code():
    found = {path.relative_to(ROOT).as_posix() for path in app_modules()}
    assert {"eventhub/settings.py", "subscriptions/core/conditions.py", "dashboard/forms.py", "monitor/bridge.py",
            "tenants/services.py"} <= found
    assert not any("/migrations/" in path for path in found)


@pytest.mark.parametrize("path", list(app_modules()), ids=lambda path: path.relative_to(ROOT).as_posix())
def test_no_module_is_over_350_lines_and_no_function_over_60(path):
    source = path.read_text()
    lines = len(source.splitlines())
    assert lines <= MAX_MODULE_LINES, f"{path.relative_to(ROOT)} has {lines} lines (at most {MAX_MODULE_LINES}): split it by concern"
    long = dict(long_functions(ast.parse(source)))
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines in {path.relative_to(ROOT)}: {long}"
