"""The migration routes (`/admin/migrations`) against the OpenAPI document, fuzzed as
tests/api/test_schemathesis.py fuzzes the other routes (tests/api/fuzzing.py: how), over this module's own
store."""

from __future__ import annotations

import pytest

from tests.api.fuzzing import MIGRATION_OPERATIONS, Fuzzed, body_mismatch, fuzz_operation


@pytest.mark.parametrize("label", MIGRATION_OPERATIONS)
def test_every_migration_operation_answers_within_its_declared_contract(fuzzed: Fuzzed, label: str) -> None:
    run = fuzz_operation(fuzzed, label)
    assert not run.failures, run.report()


@pytest.mark.parametrize("label", MIGRATION_OPERATIONS)
def test_a_body_is_required_exactly_where_the_schema_says(fuzzed: Fuzzed, label: str) -> None:
    assert body_mismatch(fuzzed, label) is None
