"""What `cdk synth` runs (cdk.json -> scripts/cdk-app.sh: `python -m infra.cdk_entry`): the app, with user
mistakes as one message. Node is checked before aws_cdk is imported (that starts jsii's Node process).

A missing bundle, an unknown or empty `-c env=`, a bad config value or a cdk-nag finding prints
`error: ...` and exits 2 (the CDK CLI then reports the app failed); no Python traceback.
"""

from __future__ import annotations

import sys

from golive.errors import UserError
from golive.progress import Progress


def main() -> int:
    from infra.node_runtime import check_node

    try:
        note = check_node()  # before aws_cdk is imported: that starts jsii's Node process
        if note:
            print(note, file=sys.stderr)
        from infra.app import build_app, synthesize

        synthesize(build_app(progress=Progress()))
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
