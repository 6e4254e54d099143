"""`golive synth`: the CDK app for one environment (infra/app.py), checked by cdk-nag, templates written."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from golive.errors import UserError


def add_synth(sub) -> None:
    synth = sub.add_parser(
        "synth", help="synthesise the CDK app for one environment (offline, no AWS credentials; needs Node.js)"
    )
    synth.add_argument("--env", default="dev", help="dev, staging or prod (infra/environments/<env>.json)")
    synth.add_argument("--out", default="cdk.out", help="where the templates go")
    synth.add_argument("--model", help="bundle to package into the Lambda (default: model_artifacts)")
    synth.add_argument("--lambda-package", help="a package built by `golive package-lambda` (default: build one now)")
    synth.add_argument(
        "--alarm-email",
        help="where alarms and budgets write (overrides alarm_email in the "
        "environment's file; staging and prod need one)",
    )
    synth.add_argument(
        "--compliance", help="more cdk-nag packs besides AwsSolutions and Serverless: hipaa, nist or hipaa,nist"
    )
    synth.set_defaults(func=_synth)


def _synth(ns: argparse.Namespace) -> int:
    from golive.progress import Progress
    from infra.config import load_config
    from infra.node_runtime import check_node

    # an unknown (or empty) environment, or staging/prod without alarm_email, is the first thing to say
    load_config(ns.env, overrides={"alarm_email": ns.alarm_email}, for_deploy=True)
    _require_folder(Path(ns.out))
    note = check_node()  # before aws_cdk is imported: that starts jsii's Node process
    if note:
        print(note, file=sys.stderr)
    progress = Progress()
    progress(f"synthesising golive-{ns.env} (the Lambda package is built from the bundle unless --lambda-package)")
    import aws_cdk as cdk

    from infra.app import build_app, synthesize
    from infra.compliance import ALWAYS, OPTIONAL, optional_packs

    options = {
        "lambda_package": ns.lambda_package,
        "model": ns.model,
        "alarm_email": ns.alarm_email,
        "compliance": ns.compliance,
    }
    context = {"env": ns.env, **{key: value for key, value in options.items() if value}}
    # a typo fails here, before the slow build
    packs = [*ALWAYS, *(OPTIONAL[name].__name__.removesuffix("Checks") for name in optional_packs(ns.compliance))]
    app = build_app(cdk.App(outdir=ns.out, context=context), progress=progress)
    progress(f"checking every stack with cdk-nag ({', '.join(packs)}) and writing the templates")
    assembly = synthesize(app)
    for stack in assembly.stacks:
        print(f"{stack.stack_name}: {ns.out}/{stack.template_file}")
    print(f"cdk-nag {', '.join(packs)}: no unacknowledged findings")
    return 0


def _require_folder(out: Path) -> None:
    """--out is a folder (made if missing): a file there, or in its way, is a clear error before the slow synth."""
    blocking = next((path for path in (out, *out.parents) if path.exists()), None)
    if blocking is None or blocking.is_dir():
        return
    if blocking == out:
        raise UserError(f"--out {out} is a file; pass a folder (it is made if missing)")
    raise UserError(f"--out {out} cannot be made: {blocking} is a file; pass a folder")
