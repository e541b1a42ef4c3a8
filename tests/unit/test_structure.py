"""The code's shape, held: workflows use only opsgate's face, and the platform's imports run one way.

Every import counts, at module level, inside a function or under ``TYPE_CHECKING``: an import
hidden in a function still ties the two modules together.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import opsgate

ROOT = Path(__file__).resolve().parents[2]
# Lowest first: a module may import modules of its own layer and of the layers below it, never above.
# The first layer is the modules directly in opsgate/ (errors, settings, models, the workflow spec...).
LAYERS = [
    "",
    "store",
    "reports",
    "writers",
    "policy",
    "proposing",
    "notify",
    "governance",
    "inputs",
    "intake",
    "learning",
    "orchestration",
    "web",
    "cli",
]
PREFECT_AWARE = {"orchestration"}  # the platform's only part that imports Prefect


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _python_files(folder: str) -> list[Path]:
    return sorted(p for p in (ROOT / folder).rglob("*.py"))


def _imports(path: Path) -> Iterator[tuple[int, str, list[str]]]:
    """(line, module, names) for every absolute import in the file; names is empty for ``import x``."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, []
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module, [alias.name for alias in node.names]


def _platform_modules() -> dict[str, Path]:
    return {_module_name(p): p for p in _python_files("opsgate")}


def _layer(module: str) -> int:
    parts = module.split(".")
    package = parts[1] if len(parts) > 2 or (len(parts) == 2 and (ROOT / "opsgate" / parts[1]).is_dir()) else ""
    return LAYERS.index(package)


def _platform_edges() -> dict[str, set[str]]:
    """Which platform modules each platform module imports (``from a import b`` counts as a.b when b is a module)."""
    modules = _platform_modules()
    edges: dict[str, set[str]] = {m: set() for m in modules}
    for module, path in modules.items():
        for _, imported, names in _imports(path):
            if imported == "opsgate" or imported.startswith("opsgate."):
                targets = [f"{imported}.{n}" for n in names if f"{imported}.{n}" in modules] or [imported]
                edges[module].update(t for t in targets if t in modules)
    return edges


def test_workflows_import_only_the_face() -> None:
    wrong = []
    for path in _python_files("tasks") + _python_files("flows"):
        for line, imported, names in _imports(path):
            where = f"{path.relative_to(ROOT)}:{line}"
            if imported.startswith("opsgate."):
                wrong.append(f"{where}: from {imported} (deeper than the face)")
            elif imported == "opsgate":
                wrong.extend(f"{where}: {name} is not on the face" for name in names if name not in opsgate.__all__)
                if not names:
                    wrong.append(f"{where}: import opsgate (use `from opsgate import name`)")
    assert wrong == []


def test_every_name_on_the_face_loads() -> None:
    missing = [name for name in opsgate.__all__ if getattr(opsgate, name, None) is None]
    assert missing == []


def test_the_platform_does_not_import_its_own_face() -> None:
    """The face sits on top: a platform module that used it would depend on everything."""
    wrong = [
        f"{module}: from opsgate import {', '.join(names)}"
        for module, path in _platform_modules().items()
        if module not in {"opsgate", "opsgate.__main__"}
        for _, imported, names in _imports(path)
        if imported == "opsgate"
    ]
    assert wrong == []


def test_platform_imports_run_downward() -> None:
    upward = [
        f"{module} ({LAYERS[_layer(module)] or 'opsgate/'}) imports {target} ({LAYERS[_layer(target)] or 'opsgate/'})"
        for module, targets in _platform_edges().items()
        if module not in {"opsgate", "opsgate.__main__"}
        for target in sorted(targets)
        if target != "opsgate" and _layer(target) > _layer(module)
    ]
    assert upward == []


def test_governance_leaves_consequences_to_orchestration() -> None:
    """The executor and the approval records say what happened; demotions and notices happen after,
    in orchestration, so a write's outcome never waits on a webhook."""
    wrong = [
        f"{module} imports {target}"
        for module, targets in _platform_edges().items()
        if module.startswith("opsgate.governance")
        for target in sorted(targets)
        if target.startswith(("opsgate.learning", "opsgate.notify"))
    ]
    assert wrong == []


def test_no_import_circles() -> None:
    edges = _platform_edges()
    for path in _python_files("tasks") + _python_files("flows"):
        module = _module_name(path)
        edges[module] = {imported for _, imported, _ in _imports(path) if imported.startswith(("tasks.", "flows."))}
    circles = []
    state: dict[str, str] = {}

    def visit(module: str, trail: list[str]) -> None:
        state[module] = "open"
        for target in sorted(edges.get(module, ())):
            if state.get(target) == "open":
                circles.append(" -> ".join([*trail[trail.index(target) :], target]))
            elif target not in state and target in edges:
                visit(target, [*trail, target])
        state[module] = "done"

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])
    assert circles == []


def test_only_orchestration_imports_prefect() -> None:
    wrong = [
        f"{module}: imports {imported}"
        for module, path in _platform_modules().items()
        if LAYERS[_layer(module)] not in PREFECT_AWARE
        for _, imported, _ in _imports(path)
        if imported == "prefect" or imported.startswith("prefect.")
    ]
    assert wrong == []
