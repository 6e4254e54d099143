"""The Node.js the CDK app runs on: aws-cdk-lib is a jsii library, so every synth starts a Node process.

jsii warns about a Node release it no longer supports with a banner that its Python runtime prints as bytes
literals (`b'!!  Node 20 is end-of-life ...'`). `check_node` says the same once, readably, and silences the
banner; with no Node at all it stops with how to install it (instead of jsii's traceback).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess

from golive.errors import UserError

# Node releases jsii (as shipped with aws-cdk-lib 2.275) supports; the README's prerequisites say the same
SUPPORTED_NODE_MAJORS = (22, 24)
# jsii's own switches for its banners (it reads them in the Node process it starts)
SILENCE = (
    "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION",
    "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION",
    "JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION",
    "JSII_SILENCE_WARNING_KNOWN_BROKEN_NODE_VERSION",
)
SUPPORTED_TEXT = " or ".join(str(m) for m in SUPPORTED_NODE_MAJORS)


def check_node() -> str | None:
    """Stop when there is no Node; otherwise a one-line note when its release is unsupported (None when fine).

    Call before aws_cdk is imported: that import starts jsii's Node process.
    """
    node = os.environ.get("JSII_NODE", "node")
    path = shutil.which(node)
    if path is None:
        raise UserError(
            f"the CDK app needs Node.js ({SUPPORTED_TEXT}) and `{node}` is not on PATH; install it from "
            "https://nodejs.org (or your package manager) and run again"
        )
    try:
        version = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise UserError(f"cannot run {path} --version ({exc}); check your Node.js install") from None
    match = re.match(r"v?(\d+)\.", version)
    if match is None or int(match.group(1)) in SUPPORTED_NODE_MAJORS:
        return None
    major = match.group(1)
    for name in SILENCE:
        os.environ.setdefault(name, major)  # END_OF_LIFE takes a list of majors; the others any value
    return (
        f"note: Node {version} is not a release the CDK's jsii runtime supports ({SUPPORTED_TEXT}); synth works "
        f"for now, but install Node {SUPPORTED_NODE_MAJORS[-1]} when you can"
    )
