# Sourced by scripts/*: remember the directory the script was called from, run from the repository root
# (its .venv, ./data, .cache/models), install once, then `run MODULE ARGS...` starts a Python command
# through app.launch: relative path arguments are read from the caller's directory, and an operator
# error (a data folder in use, an unreachable store, a missing file) ends it with one line, exit 1.
export MULTIVEC_CALLER_DIR="$PWD"
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup

run() {
  MULTIVEC_COMMAND="scripts/$(basename "$0")" exec .venv/bin/python -m app.launch "$@"
}
