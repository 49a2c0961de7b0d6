"""lock_order on legal lock patterns: nothing reported, nothing changed (bench/checks.py runs
each one 100 times; here each runs 20 times)."""

from __future__ import annotations

import pytest

from tests.catalogue.legal_locks import LEGAL_CASES, LegalCase, run_case

RUNS = 20


@pytest.mark.parametrize("case", LEGAL_CASES, ids=lambda c: c.name)
def test_legal_pattern_is_never_reported(case: LegalCase) -> None:
    for _ in range(2 if case.slow else RUNS):
        graph = run_case(case)  # raises if the program itself failed, in any thread
        assert not graph.found, graph.report()
        assert not graph.waiting


def test_the_catalogue_has_every_pattern_the_issue_names() -> None:
    names = " ".join(c.name for c in LEGAL_CASES)
    for word in ("signal", "handoff", "condition", "semaphore", "rlock", "barrier", "event"):
        assert word in names, word
    for word in ("queue", "one_block_used_in_the_next", "thread_pool", "process_pool"):
        assert word in names, word
    assert len(LEGAL_CASES) >= 15
