"""Constructs that group a stack's resources without renaming them in CloudFormation.

CDK derives a resource's logical ID from its construct path, so moving a resource from a stack into a
construct renames it, and CloudFormation replaces what it renames: a retained table would be orphaned (and
a new, empty one made), alarms and queues with fixed names would clash with themselves. An `Inline`
construct is left out of the path its resources' logical IDs are made from, in a `StableIdStack`: the
units read as constructs in code and in tests, and deployed stacks see the same IDs as before. In a plain
`cdk.Stack` (the construct tests) an `Inline` is an ordinary construct.
"""

from __future__ import annotations

import hashlib
import re

import aws_cdk as cdk
from constructs import Construct

# CDK's makeUniqueId (aws-cdk-lib core/lib/private/uniqueid.ts): every template's logical IDs depend on it,
# so it does not change; tests/test_constructs.py checks this copy against CDK's own on every resource
HIDDEN_ID = "Default"
HIDDEN_FROM_HUMAN_ID = "Resource"
HASH_LEN, MAX_HUMAN_LEN, MAX_ID_LEN = 8, 240, 255


class Inline(Construct):
    """A unit of a stack whose id is not part of its resources' logical IDs (in a `StableIdStack`)."""


def _alphanumeric(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "", text)


def unique_id(components: list[str]) -> str:
    """The logical ID CDK gives the element at this path below its stack."""
    components = [c for c in components if c != HIDDEN_ID]
    if len(components) == 1 and len(_alphanumeric(components[0])) <= MAX_ID_LEN:
        return _alphanumeric(components[0])
    digest = hashlib.md5("/".join(components).encode()).hexdigest()[:HASH_LEN].upper()
    human: list[str] = []
    for component in components:
        if not human or not human[-1].endswith(component):
            human.append(component)
    return "".join(_alphanumeric(c) for c in human if c != HIDDEN_FROM_HUMAN_ID)[:MAX_HUMAN_LEN] + digest


class StableIdStack(cdk.Stack):
    """A stack whose `Inline` units keep out of their resources' logical IDs."""

    def _allocate_logical_id(self, cfn_element: cdk.CfnElement) -> str:
        scopes = cfn_element.node.scopes
        below = scopes[next(i for i, scope in enumerate(scopes) if scope is self) + 1 :]
        return unique_id([scope.node.id for scope in below if not isinstance(scope, Inline)])
