"""The layers of docs/architecture.md hold: no module imports from a layer above its own, and
nothing inside the package imports the package root. Imports inside functions count too."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).parent.parent / "src" / "poolwise"

# lowest first; a module may import its own layer and those below it
LAYERS: list[tuple[str, ...]] = [
    ("_errors", "_cpus", "_version", "_transport"),
    ("backends",),
    ("measure", "report"),
    ("_options", "_batching", "_progress", "_dispatch", "_manager"),
    ("checks",),
    ("advisor",),
    ("_auto", "_api", "_executor"),
    ("comparison",),
    ("demo",),
    ("cli", "__main__"),
]
RANK = {name: i for i, names in enumerate(LAYERS) for name in names}


def _module(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(("poolwise", *parts)).removesuffix(".__init__")


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every poolwise import in the file, wherever it is."""
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "poolwise":
                out += [(node.lineno, f"poolwise.{a.name}") for a in node.names]
            elif node.module.startswith("poolwise."):
                out.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names if a.name.startswith("poolwise")]
    return out


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_every_module_has_a_layer() -> None:
    missing = {_layer(_module(p)) for p in SRC.rglob("*.py") if _module(p) != "poolwise"} - set(
        RANK
    )
    assert not missing, f"add these to LAYERS (and docs/architecture.md): {sorted(missing)}"


def test_no_import_goes_up_a_layer_or_to_the_package_root() -> None:
    wrong = []
    for path in sorted(SRC.rglob("*.py")):
        me = _module(path)
        if me == "poolwise":
            continue  # the root re-exports the public API from every layer
        for line, target in _imports(path):
            where = f"{path.relative_to(SRC.parent)}:{line} imports {target}"
            layer = _layer(target)
            if target == "poolwise" or (layer not in RANK and target.count(".") == 1):
                wrong.append(f"{where} (the package root)")
            elif RANK.get(layer, -1) > RANK[_layer(me)]:
                wrong.append(f"{where} (a layer above)")
    assert not wrong, "\n".join(wrong)


# each backend's module, and the module it runs in its workers (no other backend is imported:
# what they share is in _core, _base and _start; ``backends/__init__`` assembles them)
BACKEND_MODULES = {
    "_serial": (),
    "_thread": (),
    "_process": ("_worker", "_blame", "_arena", "_oob"),
    "_interpreter": ("_interp_worker",),
    "_dask": ("_dask_worker", "_dask_client", "_dask_stage", "_dask_collect"),
}


def test_no_backend_imports_another() -> None:
    wrong = []
    for name, own in BACKEND_MODULES.items():
        for module in (name, *own):
            path = SRC / "backends" / f"{module}.py"
            for line, target in _imports(path):
                other = target.removeprefix("poolwise.backends.")
                theirs = other in BACKEND_MODULES or any(
                    other in o for o in BACKEND_MODULES.values()
                )
                if theirs and other != name and other not in own:
                    wrong.append(f"backends/{module}.py:{line} imports {target}")
    assert not wrong, "\n".join(wrong)


def test_imports_inside_functions_say_why() -> None:
    """An import kept inside a function (start-up time, a heavy or optional module) says why in
    a short comment: on its line, or above its group of imports."""
    silent = []
    for path in sorted(SRC.rglob("*.py")):
        lines = path.read_text().split("\n")
        for fn in ast.walk(ast.parse(path.read_text())):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(fn):
                if isinstance(node, (ast.Import, ast.ImportFrom)) and not _explained(lines, node):
                    silent.append(f"{path.relative_to(SRC.parent)}:{node.lineno}")
    assert not silent, "say why these imports are inside functions:\n" + "\n".join(silent)


def _explained(lines: list[str], node: ast.stmt) -> bool:
    end = node.end_lineno or node.lineno
    if any("#" in lines[i - 1] for i in range(node.lineno, end + 1)):
        return True
    i = node.lineno - 2  # walk up over the imports (and blank lines) above it
    while i >= 0:
        text = lines[i].strip()
        if text.startswith("#") or ("#" in text and text.startswith(("import ", "from "))):
            return True
        if (
            not text
            or text.startswith(("import ", "from "))
            or text.endswith((",", "("))
            or text == ")"
        ):
            i -= 1
            continue
        return False
    return False


def test_import_poolwise_loads_only_what_running_work_needs() -> None:
    code = (
        "import sys, poolwise; "
        "print('\\n'.join(sorted(m for m in sys.modules if m.startswith('poolwise'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(out.stdout.split())
    heavy = {
        m
        for m in loaded
        if m.startswith(("poolwise.advisor", "poolwise.checks", "poolwise.comparison"))
        or m.startswith(("poolwise.demo", "poolwise.report", "poolwise.measure"))
        or m in {"poolwise.backends._process", "poolwise.backends._dask"}
    }
    assert not heavy, f"`import poolwise` loads {sorted(heavy)}: load them on first use"
    for name in ("multiprocessing", "rich", "psutil", "cloudpickle"):
        code = f"import sys, poolwise; print({name!r} in sys.modules)"
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        if out.stdout.strip() == "True":
            pytest.fail(f"`import poolwise` imports {name}")
