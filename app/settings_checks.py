"""Checks of settings and command-line paths beyond their types: a folder that names a file or cannot be written,
a blank path, a MULTIVEC_ variable no setting reads."""

from __future__ import annotations

import argparse
import difflib
import os
import tempfile
import types
import typing
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator

PREFIX = "MULTIVEC_"
# read by the scripts and the test suite, not by Settings: never reported as unknown
TOOL_VARIABLES = frozenset({"MULTIVEC_CALLER_DIR", "MULTIVEC_COMMAND", "MULTIVEC_INSPECT_SCREENSHOT",
                            "MULTIVEC_CHROMIUM", "MULTIVEC_CHROMEDRIVER"})


def _there(part: Path, path: Path, *, dangling: bool = False) -> bool:
    """Whether `part` (`path` or a folder above it) exists, refusing a symlink that leads nowhere: `exists()` is
    False for a dangling link or a loop, so it passed as a place to make, and the write failed at the end of the
    run ("File exists").

    Args:
        dangling: take a link to nothing (a file setting's: the file it names may be written later; a loop never).

    Raises:
        ValueError: `part` is a symlink to nothing, or a loop, naming it (and `path`, when `part` is above it).
    """
    if part.exists() or not part.is_symlink():
        return part.exists()
    above = "" if part == path else f" ({str(path)!r} lies under it)"
    try:
        part.resolve(strict=True)
    except FileNotFoundError:
        if dangling:
            return False
        raise ValueError(f"{str(part)!r} is a symlink to {os.readlink(part)!r}, which does not exist{above}: make "
                         "it, or name another place") from None
    except (OSError, RuntimeError):  # RuntimeError: pathlib's "Symlink loop from ..."
        pass
    raise ValueError(f"{str(part)!r} is a symlink loop{above}: name another place")


def a_folder(path: Path) -> Path:
    """`path` unchanged when it is a folder or can be made one (a settings validator: pydantic names the setting).

    Args:
        path: the configured folder (it need not exist yet).

    Raises:
        ValueError: `path`, or a folder above it, is an existing file (it could never be a folder), or a symlink
            to nothing or a loop (`exists()` is False for them: they passed as folders to make, then mkdir failed).
    """
    for part in (path, *path.parents):
        if _there(part, path):
            if not part.is_dir():
                where = "" if part == path else f" ({part} is a file)"
                raise ValueError(f"{str(path)!r} is not a folder{where}: name a folder")
            break
    return path


def writable(path: Path) -> Path:
    """`path` unchanged when this process can write there: in it, when it exists, else in the nearest folder
    above it that does (where it would be made). Tried by making and removing an empty file, since permission
    bits say nothing for root or a read-only mount.

    Raises:
        ValueError: nothing can be written there, naming the folder and the reason.
    """
    folder = next(p for p in (path, *path.parents) if p.exists())
    try:
        fd, probe = tempfile.mkstemp(prefix=".multivec-write-check-", dir=folder)
    except OSError as e:
        where = "" if folder == path else f" ({folder}, where it would be made)"
        raise ValueError(f"{str(path)!r} cannot be written{where}: {e.strerror or e}") from None
    os.close(fd)
    os.unlink(probe)
    return path


def out_folder(text: str) -> Path:
    """An argparse `type` for a folder a command writes into (a report, a store): refused when blank, when it
    or a folder above it is a file, a symlink to nothing or a loop, or when nothing can be written there, before
    any work is done.

    Raises:
        argparse.ArgumentTypeError: one line naming the path and why (argparse adds the option; exit status 2).
    """
    try:
        return writable(a_folder(Path(str(not_blank(text))).expanduser()))
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def out_file(text: str) -> Path:
    """An argparse `type` for a file a command writes: refused when blank, when it is a folder, a symlink to
    nothing or a loop, or when its folder is a file or cannot be written in, before any work is done.

    Raises:
        argparse.ArgumentTypeError: one line naming the path and why.
    """
    try:
        path = Path(str(not_blank_file(text))).expanduser()
        _there(path, path)  # written through: a link must lead to a file or a folder there is
        a_file(path)
        writable(path.parent)
        return path
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def parse_checked(parser: argparse.ArgumentParser, argv: Sequence[str],
                  **computed: Callable[[argparse.Namespace], Path]) -> argparse.Namespace:
    """`parser.parse_args(argv)`, with the places to write it was not given checked too: argparse runs a `type`
    only on what is typed (and string defaults), so a default report folder under a file (`reports` a file) was
    found when the report was written, at the end of the run. Walks into the subcommand chosen.

    Args:
        computed: option dest -> the default a command works out from the other arguments
            (`reports/eval-<dataset>-<split>`), filled in and checked when the option is not given.

    Raises:
        SystemExit: (`parser.error`) exit status 2 after one line naming the option, its default and why.
    """
    args = parser.parse_args(list(argv))
    _check_defaults(parser, args, computed)
    return args


def _check_defaults(parser: argparse.ArgumentParser, args: argparse.Namespace,
                    computed: Mapping[str, Callable[[argparse.Namespace], Path]]) -> None:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            chosen = action.choices.get(str(getattr(args, action.dest, None)))
            if chosen is not None:
                _check_defaults(chosen, args, computed)
            continue
        if action.type not in (out_folder, out_file):
            continue
        value = getattr(args, action.dest, None)
        if value is None and action.dest in computed:
            value = computed[action.dest](args)
            setattr(args, action.dest, value)
        elif value is not action.default or value is None:
            continue  # given, so checked by its `type`; or no default
        try:
            action.type(str(value))
        except argparse.ArgumentTypeError as e:
            option = "/".join(action.option_strings) or action.dest
            parser.error(f"argument {option}: {e} (the default: give {option} another place)")


def a_file(path: Path | None) -> Path | None:
    """`path` unchanged when it is a file or can be made one (None too: an optional file setting left unset).

    Raises:
        ValueError: `path` is an existing folder or a symlink loop, or a folder above it is an existing file, a
            symlink to nothing or a loop (a link to nothing is taken as `path`: a file written there later is read).
    """
    if path is not None:
        if path.is_dir():
            raise ValueError(f"{str(path)!r} is a folder: name a file")
        _there(path, path, dangling=True)
        for part in path.parents:
            if _there(part, path):
                if not part.is_dir():
                    raise ValueError(f"{str(path)!r} is not a file's path ({part} is a file): name a file")
                break
    return path


def _blank(value: object, kind: str) -> object:
    if isinstance(value, str) and not value.strip():
        raise ValueError(f"{value!r} is blank: name a {kind}")
    return value


def url_or_unset(value: str | None, name: str = "MULTIVEC_SERVICE_URL") -> str | None:
    """A URL setting: None when unset or empty (an empty variable means unset), else `value` as `service_url`
    takes it.

    Raises:
        ValueError: see `service_url` (", or leave it empty" added).
    """
    try:
        return service_url(value, name) if value else None
    except ValueError as e:
        raise ValueError(f"{e}, or leave it empty") from None


def service_url(value: str, name: str = "--url") -> str:
    """The running service's URL as given, without spaces at its ends (`--url`, MULTIVEC_SERVICE_URL).

    Raises:
        ValueError: it is only spaces (it was taken as a URL: "cannot reach the service at  "), or it has no
            `http://` or `https://` (`127.0.0.1:8000`: the HTTP client's "missing an 'http://' or 'https://'
            protocol", or `localhost:8000` read as a scheme).
    """
    url = value.strip()
    if not url:
        raise ValueError(f"{name} {value!r} is blank: name the service's URL (http://host:port)")
    scheme, sep, rest = url.partition("://")
    try:  # a port that is no number, an unclosed bracket: the HTTP client's traceback (a break test)
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018  (reading it raises ValueError for a port that is no number, or out of range)
        host = parts.hostname
    except ValueError:
        host = None
    if not sep or scheme.lower() not in ("http", "https") or not rest.strip("/") or not host:
        raise ValueError(f"{name} {value!r} is not the service's URL: write it as http://host:port")
    return url


def url_arg(text: str) -> str:
    """`service_url` as an argparse `type` (argparse names the option and exits 2 in one line)."""
    try:
        return service_url(text, "URL")
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def not_blank(value: object) -> object:
    """`value` unchanged unless it is an empty or all-blank string (a settings validator, before the path is made:
    `Path("")` is the current folder, so a blank `MULTIVEC_STORE__PATH` would put the store wherever the command ran).

    Raises:
        ValueError: the value is empty or only spaces.
    """
    return _blank(value, "folder")


def not_blank_file(value: object) -> object:
    """`not_blank` for a file setting: `Path("")` is the current folder, never the file meant.

    Raises:
        ValueError: the value is empty or only spaces ("... is blank: name a file").
    """
    return _blank(value, "file")


# a folder setting: refused at start when it is blank or names a file
Folder = Annotated[Path, BeforeValidator(not_blank), AfterValidator(a_folder)]
# an optional file setting (unset: None): refused at start when it is blank, a folder, or under a file
OptionalFile = Annotated[Path | None, BeforeValidator(not_blank_file), AfterValidator(a_file)]


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


def too_deep(environ: Mapping[str, str]) -> Exception:
    """The error for settings whose JSON was nested too deeply to decode (the decoder's RecursionError): a
    pydantic-settings `SettingsError` naming the `MULTIVEC_` variable nested deepest, so every command reports it
    in its one line (app.launch.validation_line)."""
    from pydantic_settings import SettingsError

    def depth(text: str) -> int:
        deepest = level = 0
        for ch in text:
            level += 1 if ch in "[{" else -1 if ch in "]}" else 0
            deepest = max(deepest, level)
        return deepest

    name = max((k for k in environ if k.upper().startswith("MULTIVEC_")), key=lambda k: depth(environ[k]), default="")
    field = name.upper().removeprefix("MULTIVEC_").split("__")[0].lower()
    return SettingsError(f'error parsing value for field "{field}": its JSON is nested too deeply to decode '
                         f"({name} is {depth(environ.get(name, ''))} levels deep)")
