"""The package's imports run one way (README, "Architecture"), and nothing hides a cycle.

Every ``import`` statement of every module counts, including those inside functions:
a function-level import that closes a cycle is still a cycle. One exception, until
sk1dcnn 0.3: the deprecated 0.1 names resolve through ``importlib`` in
``sk1dcnn._compat`` (``sk1dcnn.datasets.load_mitdb_beats`` -> ``sk1dcnn.ecg``), which
no ``import`` statement shows; those modules only forward, and go with the aliases.
"""

import ast
from pathlib import Path

import pytest

import sk1dcnn

ROOT = Path(sk1dcnn.__file__).parent
#: the deprecated 0.1 paths: each resolves names lazily through sk1dcnn._compat
ALIASES = {"activations", "augment", "blocks", "initializers", "layers", "losses", "network",
           "ops", "optim", "schedules"}


def _module_name(path):
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path):
    """Absolute names of everything the module at ``path`` imports."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module
            out.add(module)
            out.update(f"{module}.{alias.name}" for alias in node.names)
    return out


MODULES = {
    _module_name(p): p for p in ROOT.rglob("*.py")
    if not (p.parent == ROOT and p.stem in ALIASES)
}
IMPORTS = {name: _imports(path) for name, path in MODULES.items()}


def _ours(name):
    """The sk1dcnn modules in ``IMPORTS[name]`` (a from-import of a name counts as its module)."""
    return {m for m in IMPORTS[name] if m in MODULES and m != name}


def _imports_any(name, prefixes):
    return sorted(m for m in IMPORTS[name]
                  if any(m == p or m.startswith(p + ".") for p in prefixes))


def test_the_layout_is_what_the_readme_shows():
    assert {"sk1dcnn.nn.fast_conv", "sk1dcnn.nn.layers", "sk1dcnn.ecg.beats",
            "sk1dcnn.audio.fsdd", "sk1dcnn.signal", "sk1dcnn._architecture"} <= set(MODULES)


@pytest.mark.parametrize("name", sorted(m for m in MODULES if m.startswith("sk1dcnn.nn")))
def test_the_engine_imports_only_the_engine(name):
    outside = [m for m in _imports_any(name, ["sk1dcnn", "sklearn"])
               if not m.startswith("sk1dcnn.nn")]
    assert outside == []


def test_signal_is_a_leaf():
    assert _imports_any("sk1dcnn.signal", ["sk1dcnn"]) == []


@pytest.mark.parametrize("name", sorted(m for m in MODULES if (m.split(".") + [""])[1] in (
    "signal", "preprocessing", "datasets", "ecg", "audio")))
def test_data_and_domain_code_never_import_the_engine_or_the_estimators(name):
    assert _imports_any(name, ["sk1dcnn.nn", "sk1dcnn.estimators", "sk1dcnn._training",
                               "sk1dcnn._architecture"]) == []


@pytest.mark.parametrize("name", ["sk1dcnn.signal", "sk1dcnn.preprocessing", "sk1dcnn.datasets"])
def test_generic_modules_never_import_the_domain_packages(name):
    assert _imports_any(name, ["sk1dcnn.ecg", "sk1dcnn.audio"]) == []


@pytest.mark.parametrize("name", sorted(MODULES))
def test_the_package_never_imports_the_workflows_or_mlflow(name):
    assert _imports_any(name, ["pipelines", "mlflow"]) == []


def test_no_import_cycles():
    graph = {name: _ours(name) for name in MODULES}
    # a package's __init__ re-exports its modules: an edge into it is an edge to them
    done, stack = set(), []

    def visit(node):
        if node in stack:
            cycle = stack[stack.index(node):] + [node]
            pytest.fail("import cycle: " + " -> ".join(cycle))
        if node in done:
            return
        stack.append(node)
        for nxt in sorted(graph[node]):
            if not node.startswith(nxt + "."):  # a module importing its own package's name
                visit(nxt)
        stack.pop()
        done.add(node)

    for name in sorted(graph):
        visit(name)
