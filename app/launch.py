"""Run an operator command the way scripts/* do: paths read from the caller's directory, errors in one line.

`scripts/common.sh` remembers the directory a script was called from (`MULTIVEC_CALLER_DIR`), moves to the
repository root (its .venv, ./data, .cache/models) and runs `python -m app.launch <module> <args>`. Here:

- every argument a command declares with `type=Path` (a dataset, `--beir`, `--queries`, ...), or with
  `type=out_folder` / `out_file` (`--out`: where it writes, app.settings_checks), that is given as a relative
  path is read against the caller's directory, in every argparse parser of the command, without each command
  having to know (defaults written in code stay relative to the repository); a place to write that is a file,
  a symlink to nothing or a loop, or cannot be written is refused then, before any work (a default place too,
  where the command parses with `app.settings_checks.parse_checked`);
- a command-line error is one line (`<command>: error: ... (see --help)`), exit status 2, as argparse's own
  status, without the usage lines argparse prints before it;
- an error of ours (`AppError`: a data folder in use, an unreachable store, a missing collection), a file
  that cannot be read, or settings that do not validate end the command with one line on stderr and exit 1,
  never a traceback. A bug still shows its traceback.
"""

from __future__ import annotations

import argparse
import os
import re
import runpy
import sys
import typing
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CALLER_DIR = "MULTIVEC_CALLER_DIR"


def from_caller(caller: Path) -> Callable[[str], Path]:
    """An argparse `type` that reads a relative path against `caller` (absolute paths are kept).

    Raises:
        argparse.ArgumentTypeError: a blank path (`Path("")` would be the caller's own folder: a store or a
            report written where the command ran), which argparse reports in one line naming the argument.
    """
    def convert(text: str) -> Path:
        if not text.strip():
            raise argparse.ArgumentTypeError(f"{text!r} is blank: name a path")
        path = Path(text).expanduser()
        return path if path.is_absolute() else caller / path
    return convert


@contextmanager
def caller_paths(caller: Path) -> Iterator[None]:
    """While open, every ArgumentParser made reads `type=Path` (and `out_folder`, `out_file`) arguments against
    `caller`."""
    from app.settings_checks import out_file, out_folder

    original = argparse.ArgumentParser.__init__
    convert = from_caller(caller)

    def init(self: argparse.ArgumentParser, *args: object, **kwargs: object) -> None:
        original(self, *args, **kwargs)  # type: ignore[arg-type]
        self.register("type", Path, convert)  # argparse looks converters up by the `type` given
        for checked in (out_folder, out_file):  # where a command writes: read from the caller, then checked
            self.register("type", checked, lambda text, check=checked: check(str(convert(text))))

    def error(self: argparse.ArgumentParser, message: str) -> typing.NoReturn:
        # one line, as every operator error (argparse's usage first made it three or more); --help has the usage
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")

    argparse.ArgumentParser.__init__ = init  # type: ignore[method-assign]
    original_error, argparse.ArgumentParser.error = argparse.ArgumentParser.error, error  # type: ignore[method-assign]
    try:
        yield
    finally:
        argparse.ArgumentParser.__init__ = original  # type: ignore[method-assign]
        argparse.ArgumentParser.error = original_error  # type: ignore[method-assign]


def one_line(error: BaseException) -> str | None:
    """The line an operator error ends a command with, or None for an error that is a bug."""
    from pydantic import ValidationError

    from app.errors import AppError

    if isinstance(error, AppError):
        return f"{error.code}: {error.message}"
    if isinstance(error, OSError):
        where = f": {error.filename}" if error.filename else ""
        return f"{error.strerror or error}{where}"
    if isinstance(error, RecursionError):  # JSON a command read (a corpus line, a profile file) nested past decoding
        return f"input nested too deeply to read ({error}): a JSON file or line the command was given?"
    from pydantic_settings import SettingsError

    if isinstance(error, ValidationError | SettingsError):
        return "settings are invalid: " + validation_line(error)
    return None


def validation_line(error: Any) -> str:
    """A pydantic `ValidationError` as one line: each error's location (none for a settings-wide check) and
    message, without pydantic's "Value error, " prefix; or a pydantic-settings `SettingsError` (a value it
    could not parse, such as JSON that is not), naming the variables to look at."""
    from pydantic_settings import SettingsError

    if isinstance(error, SettingsError):
        field = re.search(r'field "(\w+)"', str(error))
        where = f"MULTIVEC_{field.group(1).upper()}" if field else "a MULTIVEC_ variable"
        return f"{error} ({where} or one of its __ parts: a value that is not valid JSON?)"
    from app.domain.bounds import written_path

    lines = []
    for e in error.errors():
        where, msg = written_path(e["loc"]), e["msg"].removeprefix("Value error, ")  # `spaces[0].version`
        lines.append(msg if not where or msg.startswith(f"{where}.") else f"{where}: {msg}")  # named once
    return "; ".join(lines)


def warn_unknown_variables(name: str) -> None:
    """One line on stderr for each `MULTIVEC_` variable no setting reads (a misspelt name is otherwise ignored
    in silence), naming the closest one; every command but `serve` (app.cli.serve logs them)."""
    from app.settings import Settings
    from app.settings_checks import unknown_variable_lines

    for line in unknown_variable_lines(os.environ, Settings):
        print(f"{name}: warning: {line}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """`python -m app.launch <module> [args...]`: run the module as `__main__`; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:
        print("usage: python -m app.launch <module> [args...]", file=sys.stderr)
        return 2
    module, args = argv[0], argv[1:]
    name = os.environ.get("MULTIVEC_COMMAND") or module
    caller = Path(os.environ.get(CALLER_DIR) or os.getcwd())
    sys.argv = [name, *args]
    if args[:1] != ["serve"]:  # serve logs them itself, beside its other start-up lines
        warn_unknown_variables(name)
    try:
        with caller_paths(caller):
            runpy.run_module(module, run_name="__main__", alter_sys=True)
    except SystemExit as e:
        return _exit_code(e)
    except KeyboardInterrupt:
        print(f"{name}: interrupted", file=sys.stderr)
        return 130
    except Exception as e:
        line = one_line(e)
        if line is None:
            raise
        print(f"{name}: {line}", file=sys.stderr)
        return 1
    return 0


def _exit_code(e: SystemExit) -> int:
    if e.code is None or isinstance(e.code, int):
        return e.code or 0
    print(e.code, file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
