"""``aggregator plugins new NAME``: a new plugin folder shaped like the built-in ones.

The templates live in ``template/`` next to this module (package data). Every template file
ends in ``.j2`` (so that ruff, mypy and pytest never take a template for code); the folder
``__package__`` becomes ``aggregator_<name>``. Rendering uses Jinja2 with ``StrictUndefined``.
"""

from __future__ import annotations

import keyword
import re
import shutil
import sys
from pathlib import Path

__all__ = [
    "TEMPLATE_DIR",
    "adopting_workspace",
    "install_command",
    "scaffold_plugin",
    "template_context",
]

TEMPLATE_DIR = Path(__file__).with_name("template")
_NAME = re.compile(r"[a-z][a-z0-9_]{1,40}")


def template_context(name: str) -> dict[str, str]:
    """The names a template may use, derived from the plugin name (``demo_op``)."""
    if not _NAME.fullmatch(name) or keyword.iskeyword(name) or name.endswith("_"):
        raise ValueError(
            "plugin name must be 2-41 lower-case letters, digits and _, starting with a letter "
            "(e.g. my_operator)"
        )
    words = name.split("_")
    camel = "".join(w.capitalize() for w in words if w)
    title = " ".join(w.capitalize() for w in words if w)
    return {
        "name": name,  # demo_op: the entry point name and the provider id
        "package": f"aggregator_{name}",  # aggregator_demo_op
        "distribution": f"aggregator-{name.replace('_', '-')}",  # aggregator-demo-op
        "class_prefix": camel,  # DemoOp
        "title": title,  # Demo Op
    }


def scaffold_plugin(name: str, dest: Path) -> list[Path]:
    """Write a new plugin into ``dest`` (which must not exist or be empty); return the files."""
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    context = template_context(name)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise FileExistsError(f"{dest} already exists and is not empty")
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATE_DIR)),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )
    written: list[Path] = []
    try:
        for source in sorted(TEMPLATE_DIR.rglob("*.j2")):
            relative = source.relative_to(TEMPLATE_DIR)
            parts = [context["package"] if p == "__package__" else p for p in relative.parts]
            target = dest.joinpath(*parts).with_suffix("")  # drop .j2
            target.parent.mkdir(parents=True, exist_ok=True)
            template = env.get_template(relative.as_posix())
            target.write_text(template.render(**context), encoding="utf-8")
            written.append(target)
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)  # no half-written plugin left behind
        raise
    return written


def install_command(dest: Path) -> str:
    """The one command that installs the plugin (editable) into the running environment.

    uv from PATH, else the project-local one ``make`` installs (``.tools/uv`` next to the
    virtual environment, or under the current folder); pip only when this environment has it
    (uv's virtual environments do not).
    """
    import importlib.util

    candidates = [
        shutil.which("uv"),
        Path(sys.prefix).parent / ".tools" / "uv" / "bin" / "uv",
        Path(".tools") / "uv" / "bin" / "uv",
    ]
    uv = next((str(c) for c in candidates if c is not None and Path(c).exists()), None)
    python = sys.executable
    if uv is None and importlib.util.find_spec("pip") is not None:
        return f"{python} -m pip install -e {dest}"
    return f"{uv or 'uv'} pip install --python {python} -e {dest}"


def adopting_workspace(dest: Path) -> Path | None:
    """The root of a uv workspace whose ``members`` globs take ``dest`` in, or None.

    Such a workspace (this repository: ``plugins/*``) needs ``uv lock`` after a new member
    appears, or ``uv sync --frozen`` (what ``make`` runs) refuses the stale lockfile.
    """
    import fnmatch
    import tomllib

    target = dest.resolve()
    for root in target.parents:
        pyproject = root / "pyproject.toml"
        if not pyproject.is_file():
            continue
        try:
            config = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError):
            continue
        workspace = config.get("tool", {}).get("uv", {}).get("workspace")
        if not isinstance(workspace, dict):
            continue
        relative = target.relative_to(root).as_posix()
        members = [str(m) for m in workspace.get("members", [])]
        excluded = [str(m) for m in workspace.get("exclude", [])]
        if any(fnmatch.fnmatch(relative, m) for m in members) and not any(
            fnmatch.fnmatch(relative, m) for m in excluded
        ):
            return root
        return None
    return None
