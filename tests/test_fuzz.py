"""Fuzzing: schema-driven requests on every operation, and mutated prescription Bundles, never get
a 5xx; every refusal is an OperationOutcome and stores nothing."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scripts.fuzz import fuzz
from tests.conftest import EXAMPLES, FHIR_JSON, Tokens, issue_codes
from tests.scenarios.test_create_refusals import stored_count

EXAMPLES_PER_OPERATION = 350  # about 2,000 cases in all: some operations have few distinct inputs


def test_schema_driven_requests_never_get_a_5xx(tmp_path: Path) -> None:
    counts = fuzz(EXAMPLES_PER_OPERATION, tmp_path)

    assert counts.cases > 1500
    assert counts.server_errors == []
    assert counts.not_outcomes == []


PROLACTINE = json.loads((EXAMPLES / "Bundle-prescription-prolactine.json").read_text())
ODD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
    st.lists(st.text(max_size=5), max_size=3),
    st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=3),
)


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to an element of the document."""
    found = [prefix] if prefix else []
    children: Any = []
    if isinstance(node, dict):
        children = node.items()
    elif isinstance(node, list):
        children = enumerate(node)
    for key, child in children:
        found += paths(child, (*prefix, key))
    return found


ELEMENT_PATHS = paths(PROLACTINE)


@st.composite
def mutated_bundles(draw: st.DrawFn) -> dict[str, Any]:
    """The prolactin prescription with a few elements dropped, duplicated, retyped or garbled."""
    bundle = copy.deepcopy(PROLACTINE)
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(ELEMENT_PATHS))
        *parents, last = path
        parent: Any = bundle
        try:
            for key in parents:
                parent = parent[key]
            current = parent[last]
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed or retyped this path
        if not isinstance(parent, dict | list):
            continue
        action = draw(st.sampled_from(["drop", "duplicate", "retype", "garble"]))
        if action == "drop":
            del parent[last]
        elif action == "duplicate" and isinstance(parent, list):
            parent.append(copy.deepcopy(current))
        elif action == "duplicate":
            parent[last] = [current, copy.deepcopy(current)]
        elif action == "retype":
            parent[last] = draw(ODD_VALUES)
        else:
            parent[last] = draw(st.text(min_size=0, max_size=60))
    return bundle


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(bundle=mutated_bundles())
def test_mutated_bundles_are_created_or_refused_cleanly(
    client: TestClient, tokens: Tokens, bundle: dict[str, Any]
) -> None:
    before = stored_count(client)
    bundle["identifier"] = None  # each example is a new request, not a retry of the previous one

    response = client.post("/fhir", json=bundle, headers={**tokens.prescriber(), **FHIR_JSON})

    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert issue_codes(response) is not None
        assert stored_count(client) == before
