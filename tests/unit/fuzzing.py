"""What the unit lane's property tests share: one Hypothesis profile (deterministic, so CI runs the same examples
every time) and strategies for the JSON a user's file or a server's answer may hold."""

from __future__ import annotations

from hypothesis import example, settings
from hypothesis import strategies as st

# derandomize: the examples follow from each test's code, not from a seed or the example database, so a run on
# CI is the run a developer gets; deadline None: a slow shared machine is no failure
FUZZ = settings(max_examples=200, deadline=None, derandomize=True)

json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)

# what a file may hold that is JSON only to a lenient reader, or that trips a reader over its limits
NESTED_TOO_DEEP = "[" * 100_000  # RecursionError in json.loads, not a JSONDecodeError
TOO_MANY_DIGITS = "1" * 5_000  # int(str) refuses over 4300 digits: a ValueError, not a JSONDecodeError


def with_json_past_its_limits(test):
    """`text` examples that json.loads refuses with another error than JSONDecodeError: the two above."""
    for text in (NESTED_TOO_DEEP, '{"n": ' + TOO_MANY_DIGITS + "}"):
        test = example(text=text)(test)
    return test
