"""Every module of weightreg that a DVC stage's command imports (transitively, function-level imports and the
`_target_` strings a stage instantiates included) is among the stage's declared deps in dvc.yaml, and no declared
module is one the stage never imports (editing it would rerun the stage for nothing).

    python tests/test_dependencies.py        # print each stage's deps, as dvc.yaml should list them (a package
                                             # whose every module the stage imports: its folder)
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
PACKAGE = "weightreg"
MODULE = re.compile(r"python -m (weightreg(?:\.\w+)+)")
TARGET = re.compile(rf"^{PACKAGE}(\.\w+)+$")  # a dotted name in a string: a `_target_` a stage may instantiate


def module_file(name: str) -> Path | None:
    """The file of a module or package of weightreg, e.g. weightreg.trainers.fit -> src/weightreg/trainers/fit.py."""
    path = SRC.joinpath(*name.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def named_modules(name: str) -> list[str]:
    """The modules importing `name` loads: each package on its path and, of the name itself, the longest prefix
    that is a module (an attribute such as weightreg.datasets.moons names weightreg.datasets)."""
    parts = name.split(".")
    found = [".".join(parts[:i]) for i in range(1, len(parts) + 1) if module_file(".".join(parts[:i])) is not None]
    return [m for m in found if m == PACKAGE or m.startswith(f"{PACKAGE}.")]


def imported_by(path: Path) -> set[str]:
    """Every weightreg module a file names in an import statement (at any depth) or as a dotted `_target_` string."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)  # a submodule imported by name
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and TARGET.match(node.value):
            names.add(node.value)
    return {module for name in names if name.split(".")[0] == PACKAGE for module in named_modules(name)}


def closure(start: str) -> set[Path]:
    """The files of `start` and of every weightreg module it imports, transitively."""
    seen, todo = set(), list(named_modules(start))
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo.extend(imported_by(module_file(name)) - seen)
    return {module_file(name).relative_to(ROOT) for name in seen}


def stages() -> dict[str, dict]:
    """dvc.yaml's stages, each `foreach` stage by its `do` body."""
    spec = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    return {name: body.get("do", body) for name, body in spec.items()}


def needed(stage: dict) -> set[Path]:
    modules = MODULE.findall(stage["cmd"])
    assert modules, f"{stage['cmd']!r}: no `python -m weightreg...` in the command"
    return set().union(*(closure(module) for module in modules))


def declared(stage: dict) -> set[Path]:
    """The stage's deps under src/ as files: a folder stands for every .py file under it."""
    files = set()
    for dep in stage.get("deps", []):
        path = ROOT / str(dep)
        if not str(dep).startswith("src/"):
            continue
        files.update(p.relative_to(ROOT) for p in path.rglob("*.py")) if path.is_dir() else files.add(Path(dep))
    return files


STAGES = stages()


@pytest.mark.parametrize("name", sorted(name for name, stage in STAGES.items() if MODULE.search(stage["cmd"])))
def test_a_stage_depends_on_exactly_the_modules_its_command_imports(name):
    stage = STAGES[name]
    missing = sorted(map(str, needed(stage) - declared(stage)))
    unused = sorted(map(str, declared(stage) - needed(stage)))
    assert not missing, f"dvc.yaml stage {name!r}: its command imports {missing}, which its deps do not list"
    assert not unused, f"dvc.yaml stage {name!r}: deps {unused} are never imported by its command (a needless rerun)"


def test_the_import_walk_follows_function_level_imports_and_targets():
    """The walk itself: train.py reaches the trainers only through imports inside functions and packages, and the
    data stages name the built-in data targets only through `_target_` strings."""
    train = closure("weightreg.train")
    assert Path("src/weightreg/trainers/fit.py") in train and Path("src/weightreg/trainers/__init__.py") in train
    assert Path("src/weightreg/trainers/text_stack.py") in train  # imported inside trainers.study.train
    assert Path("src/weightreg/aggregate.py") not in train
    assert Path("src/weightreg/datasets.py") in closure("weightreg.data_rules")  # "weightreg.datasets.moons"


def as_deps(files: set[Path]) -> list[str]:
    """Deps for dvc.yaml: a package whose every .py file is needed as its folder, other modules one by one."""
    folders = {path.parent for path in files if path.parent != SRC.relative_to(ROOT) / PACKAGE}
    whole = {folder for folder in folders if set(p.relative_to(ROOT) for p in (ROOT / folder).rglob("*.py")) <= files}
    return sorted([str(folder) for folder in whole] + [str(path) for path in files if path.parent not in whole])


@pytest.mark.parametrize("name", sorted(name for name, stage in STAGES.items() if MODULE.search(stage["cmd"])))
def test_a_stage_lists_a_package_it_needs_whole_as_its_folder(name):
    """dvc.yaml's src/ deps are what this file prints for the stage (`python tests/test_dependencies.py`)."""
    assert [str(dep) for dep in STAGES[name]["deps"] if str(dep).startswith("src/")] == as_deps(needed(STAGES[name]))


def test_the_training_stage_needs_the_trainers_package_whole():
    assert "src/weightreg/trainers" in as_deps(needed(STAGES["train"]))


if __name__ == "__main__":
    for name, stage in STAGES.items():
        if MODULE.search(stage["cmd"]):
            print(f"{name}:")
            print("\n".join(f"  - {dep}" for dep in as_deps(needed(stage))))
