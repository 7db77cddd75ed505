"""The layout keeps its roles: what the image runs is in the image, host code stays on the
host, and the machinery leaves the task to task.py."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# What SageMaker runs: train execs train.py; serve runs the server module.
ENTRY_POINTS = ("train.py", "container/serving/server.py")
HOST_SIDE = ("submit.py", "aws")


def image_sources() -> list[str]:
    """The paths the Dockerfile copies into /opt/program."""
    sources = []
    for line in (REPO / "Dockerfile").read_text().splitlines():
        words = line.split()
        if words[:1] == ["COPY"] and words[-1].startswith("/opt/program"):
            sources += [word for word in words[1:-1] if not word.startswith("--")]
    return sources


def image_files() -> set[Path]:
    files = set()
    for source in image_sources():
        path = REPO / source
        found = path.rglob("*") if path.is_dir() else [path]
        files |= {file for file in found if file.is_file() and "__pycache__" not in file.parts}
    return files


def local_module(name: str) -> Path | None:
    """The repository's file for a dotted module name, or None for an installed package."""
    path = REPO.joinpath(*name.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imported_names(path: Path) -> set[str]:
    """Every module an import in path names, at the top or inside a function."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}  # from a import module
    return names


def local_imports(path: Path) -> set[Path]:
    return {file for name in imported_names(path) if (file := local_module(name))}


def reached_from(starts: list[Path]) -> set[Path]:
    seen, todo = set(), list(starts)
    while todo:
        path = todo.pop()
        if path not in seen:
            seen.add(path)
            todo += local_imports(path)
    return seen


def python_files(*roots: str) -> list[Path]:
    files = []
    for root in roots:
        path = REPO / root
        files += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    return files


def test_every_module_the_image_runs_is_in_the_image():
    in_image = image_files()
    reached = reached_from([REPO / entry for entry in ENTRY_POINTS])

    missing = sorted(str(path.relative_to(REPO)) for path in reached - in_image)
    assert not missing, f"the image lacks {missing}: put modules the image imports in container/"


def test_the_image_gets_the_four_files_by_name_and_container_whole():
    assert sorted(image_sources()) == sorted(["train", "serve", "train.py", "task.py", "container"])


def image_modules_imported(path: Path) -> set[str]:
    names = imported_names(path) - {"container"}  # "from container import x" names container.x too
    return {name for name in names if name.split(".")[0] in ("container", "train")}


def test_the_host_side_commands_import_the_task_and_the_contract_but_no_other_image_code():
    # container/sagemaker_env.py is the contract both sides share: UserError, the parsing of
    # hyperparameters, the metric lines. make predict MODEL= serves offline through the
    # server's own code, and reads files as training does.
    shared = ("container.sagemaker_env",)
    offline = ("container.serving", "container.recordings")
    for path in python_files(*HOST_SIDE):
        allowed = shared + offline if path.name == "predict.py" else shared
        others = {name for name in image_modules_imported(path) if not name.startswith(allowed)}

        assert not others, f"{path.relative_to(REPO)} imports {sorted(others)}: the host reads task.py only"


# The training loop, evaluation and serving work for any task: nothing of the example's.
TASK_FREE = ["train.py", "container/loop.py", "container/early_stopping.py", "container/serving"]
EXAMPLE_WORDS = re.compile(
    r"\beeg\b|members|n_classes|class_names|softmax|one_hot|categorical", re.IGNORECASE
)


@pytest.mark.parametrize("path", python_files(*TASK_FREE), ids=lambda path: str(path.relative_to(REPO)))
def test_the_loop_evaluation_and_serving_name_nothing_of_the_example(path):
    found = sorted({match.group(0) for match in EXAMPLE_WORDS.finditer(path.read_text())})

    assert not found, f"{path.relative_to(REPO)} names {found}: that belongs in task.py"


def test_the_user_may_delete_tools_without_anything_else_importing_it():
    outside_tools = [
        path
        for path in REPO.rglob("*.py")
        if not any(part in ("tools", "node_modules") or part.startswith(".venv") for part in path.parts)
    ]
    importers = [
        path for path in outside_tools if any(name.startswith("tools") for name in imported_names(path))
    ]

    assert not importers, f"{importers} import tools/, which a user may delete"
