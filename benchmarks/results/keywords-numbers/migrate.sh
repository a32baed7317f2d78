#!/usr/bin/env bash
# Usage (from the repository root): DIR=benchmarks/results/keywords-numbers/migrations-cisi \
#   benchmarks/results/keywords-numbers/migrate.sh /work/idx/digits20-cisi   (a copy of /work/idx/s19-cisi)
# Ends the copy's open float16 rebuild (it records a revision 0010 of its own, benchmarks/results/float16-relevance/;
# a new version is refused while a rebuild is open), then applies and backfills migrations/0010_keywords_numbers.py,
# renumbered 0011 in DIR for that reason (and, on the SciFact copy, version 4: it already holds an experiment's v3).
set -euo pipefail
export PYTHONPATH=$PWD MULTIVEC_STORE__PATH=$1
M="nice -n 10 /work/main/.venv/bin/python -m app.launch app.versioning.cli --dir ${DIR:?the eval migrations folder}"
$M retire 0010 --force || true  # done already on a re-run
$M apply 0011
$M backfill 0011 --progress lines
$M status
