"""Checks of settings beyond their types: a folder setting that names a file, a MULTIVEC_ variable no setting reads."""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator

PREFIX = "MULTIVEC_"
# read by the scripts and the test suite, not by Settings: never reported as unknown
TOOL_VARIABLES = frozenset({"MULTIVEC_CALLER_DIR", "MULTIVEC_COMMAND", "MULTIVEC_INSPECT_SCREENSHOT",
                            "MULTIVEC_CHROMIUM", "MULTIVEC_CHROMEDRIVER"})


def a_folder(path: Path) -> Path:
    """`path` unchanged when it is a folder or can be made one (a settings validator: pydantic names the setting).

    Args:
        path: the configured folder (it need not exist yet).

    Raises:
        ValueError: `path`, or a folder above it, is an existing file (it could never be a folder).
    """
    for part in (path, *path.parents):
        if part.exists():
            if not part.is_dir():
                where = "" if part == path else f" ({part} is a file)"
                raise ValueError(f"{str(path)!r} is not a folder{where}: name a folder")
            break
    return path


def not_blank(value: object) -> object:
    """`value` unchanged unless it is an empty or all-blank string (a settings validator, before the path is made:
    `Path("")` is the current folder, so a blank `MULTIVEC_STORE__PATH` would put the store wherever the command ran).

    Raises:
        ValueError: the value is empty or only spaces.
    """
    if isinstance(value, str) and not value.strip():
        raise ValueError(f"{value!r} is blank: name a folder")
    return value


# a folder setting: refused at start when it is blank or names a file
Folder = Annotated[Path, BeforeValidator(not_blank), AfterValidator(a_folder)]


def _models(annotation: object) -> list[type[BaseModel]]:
    """The pydantic models inside an annotation (`X`, `X | None`)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return [m for arg in typing.get_args(annotation) for m in _models(arg)]
    return []


def _is_map(annotation: object) -> bool:
    """True for `dict[...]` and `dict[...] | None`."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return any(_is_map(arg) for arg in typing.get_args(annotation))
    return typing.get_origin(annotation) is dict


def setting_variables(model: type[BaseModel], prefix: str = PREFIX) -> tuple[set[str], set[str]]:
    """The environment variables a settings model reads (`__` nests).

    Returns:
        (names, open prefixes): every variable's name, upper-case; and the prefixes under which any name is
        read, one per map setting (`MULTIVEC_SEARCH__DEADLINES_MS__`: a key per space), its keys checked by
        the setting itself.
    """
    names: set[str] = set()
    open_prefixes: set[str] = set()
    for field, info in model.model_fields.items():
        name = f"{prefix}{field.upper()}"
        names.add(name)
        if _is_map(info.annotation):
            open_prefixes.add(f"{name}__")
        for sub in _models(info.annotation):
            sub_names, sub_open = setting_variables(sub, f"{name}__")
            names |= sub_names
            open_prefixes |= sub_open
    return names, open_prefixes


def unknown_variable_lines(environ: Mapping[str, str], model: type[BaseModel]) -> list[str]:
    """One line for each `MULTIVEC_` variable in `environ` that no setting of `model` reads (a misspelt name
    is otherwise ignored in silence), naming the closest variable that is read, when one is close."""
    names, open_prefixes = setting_variables(model)
    lines = []
    for variable in sorted(environ):
        upper = variable.upper()
        if not upper.startswith(PREFIX) or upper in names or upper in TOOL_VARIABLES:
            continue
        if any(upper.startswith(p) for p in open_prefixes):
            continue
        leaf = upper.rsplit("__", 1)[-1].removeprefix(PREFIX)  # the setting's own name, in whatever group
        same_leaf = sorted(n for n in names if n.rsplit("__", 1)[-1].removeprefix(PREFIX) == leaf)
        close = same_leaf[:1] or difflib.get_close_matches(upper, sorted(names), n=1, cutoff=0.8)
        hint = f": did you mean {close[0]}?" if close else ": see the README's Configuration table"
        lines.append(f"{variable} is not a setting and is ignored{hint}")
    return lines
