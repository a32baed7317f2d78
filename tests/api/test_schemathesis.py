"""The OpenAPI document is the contract: schemathesis fuzzes every operation of the real app (embedded store,
real models) with valid and invalid data, and no answer may be a server error or disagree with the schema
(tests/api/fuzzing.py: how). This file fuzzes the document, search, health and admin routes; the migration
routes are in test_schemathesis_migrations.py, so parallel workers share the cases. Run alone, with the
figures: `pytest tests/api/test_schemathesis.py tests/api/test_schemathesis_migrations.py -s`.
"""

from __future__ import annotations

import pytest

from tests.api.fuzzing import (
    EVERY_OPERATION,
    MIGRATION_OPERATIONS,
    OTHER_OPERATIONS,
    Fuzzed,
    body_mismatch,
    fuzz_operation,
)


def test_the_fuzzing_reaches_every_operation(fuzzed: Fuzzed) -> None:
    assert set(fuzzed.operations) == EVERY_OPERATION == set(OTHER_OPERATIONS) | set(MIGRATION_OPERATIONS)


@pytest.mark.parametrize("label", OTHER_OPERATIONS)
def test_every_operation_answers_within_its_declared_contract(fuzzed: Fuzzed, label: str) -> None:
    run = fuzz_operation(fuzzed, label)
    assert not run.failures, run.report()


@pytest.mark.parametrize("label", OTHER_OPERATIONS)
def test_a_body_is_required_exactly_where_the_schema_says(fuzzed: Fuzzed, label: str) -> None:
    assert body_mismatch(fuzzed, label) is None
