"""`make run` installs only pyproject's runtime dependencies: everything studio/ imports must be
among them, not merely present because a test extra pulled it in (cryptography came with daphne
once, and a fresh clone's `make run` failed at migrate)."""

import ast
import sys
import tomllib
from importlib.metadata import packages_distributions, requires
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]


def _needed(requirement: str, extra: str = "") -> str | None:
    """The distribution a requirement names, if it applies here (markers, extras)."""
    parsed = Requirement(requirement)
    if parsed.marker and not parsed.marker.evaluate({"extra": extra}):
        return None
    return parsed.name.lower().replace("_", "-")


def _runtime_distributions() -> set[str]:
    """The declared runtime dependencies and everything they require in turn."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    todo = [_needed(r) for r in project["dependencies"]]
    # uvicorn[standard]'s extras are what `make run` serves with.
    todo += [_needed(r, "standard") for r in requires("uvicorn") or []]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name and name not in seen:
            seen.add(name)
            todo += [_needed(r) for r in requires(name) or []]
    return seen


def _imported_top_levels() -> set[str]:
    names = set()
    for path in (ROOT / "studio").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name.partition(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.partition(".")[0])
    return names


def test_everything_the_studio_imports_is_a_runtime_dependency():
    runtime = _runtime_distributions()
    providers = packages_distributions()
    missing = {}
    for module in sorted(_imported_top_levels()):
        if module in sys.stdlib_module_names or module == "studio":
            continue
        distributions = {d.lower().replace("_", "-") for d in providers.get(module, [])}
        assert distributions, f"studio imports {module!r}, which no installed package provides"
        if not distributions & runtime:
            missing[module] = sorted(distributions)
    assert missing == {}, f"imported by studio/ but only installed for the tests: {missing}"
