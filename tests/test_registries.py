"""Registries are explicit tuples; a module that defines a part but is not listed fails here."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import schedwarden
from schedwarden.analyzers.registry import ANALYZERS
from schedwarden.collectors.registry import COLLECTORS
from schedwarden.outputs.registry import WRITERS

PACKAGE = Path(schedwarden.__file__).parent


def _modules(subpackage: str) -> list[str]:
    package = importlib.import_module(f"schedwarden.{subpackage}")
    return [
        info.name
        for info in pkgutil.walk_packages(package.__path__, prefix=f"schedwarden.{subpackage}.")
        if not info.ispkg
    ]


def test_every_collector_is_registered() -> None:
    defined = []
    for name in _modules("collectors"):
        module = importlib.import_module(name)
        if "COLLECTOR" in vars(module):
            defined.append(module.COLLECTOR)
    assert defined, "no collector found at all"
    assert set(map(id, defined)) == set(map(id, COLLECTORS))
    assert len({c.name for c in COLLECTORS}) == len(COLLECTORS)


def test_every_analyzer_is_registered() -> None:
    defined = [
        importlib.import_module(n).ANALYZER
        for n in _modules("analyzers")
        if "ANALYZER" in vars(importlib.import_module(n))
    ]
    assert defined
    assert set(map(id, defined)) == set(map(id, ANALYZERS))


def test_every_writer_is_registered() -> None:
    defined = []
    for name in _modules("outputs"):
        module = importlib.import_module(name)
        defined += [
            v
            for k, v in vars(module).items()
            if k.startswith("write_") and callable(v) and v.__module__ == name
        ]
    assert defined
    assert set(defined) == set(WRITERS.values())


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level >= 1:
            found.add("." * node.level + (node.module or ""))
    return found


def test_layering_model_analyzers_outputs_import_only_the_model() -> None:
    """Data flows left to right: the model imports nothing of ours; analyzers and outputs only it."""
    for path in (PACKAGE / "model").glob("*.py"):
        assert all(i.startswith(".") and not i.startswith("..") for i in _imports(path)), path
    for folder in ("analyzers", "outputs"):
        for path in (PACKAGE / folder).glob("*.py"):
            for imported in _imports(path):
                if imported.startswith(".."):
                    assert imported == "..model", (path, imported)
