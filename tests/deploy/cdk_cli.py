"""The pinned AWS CDK CLI, pointed at an emulator: bootstrap, deploy and destroy a synthesised cloud assembly.

The check deploys the way a user does (`cdk bootstrap`, `cdk deploy --all`, `cdk destroy --all`): the CLI
publishes the file assets (Lambda code zip, training source and model tarballs) to the bootstrap bucket
through the bootstrap roles, creates change sets in dependency order and waits on them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.deploy.localstack_server import CREDENTIALS, REPO

COMMAND_TIMEOUT_S = 600


class CdkError(RuntimeError):
    pass


def cdk_executable() -> Path:
    """The CLI pinned in package.json, as `npm ci` (scripts/env.sh) installs it."""
    cli = REPO / "node_modules" / ".bin" / "cdk"
    if not cli.exists():
        raise CdkError(
            f"the pinned CDK CLI is not installed ({cli} is missing): run `npm ci` (scripts/env.sh does; "
            "it needs Node.js)"
        )
    return cli


def without_docker_images(assembly: Path, dest: Path) -> list[str]:
    """A copy of the cloud assembly whose asset manifests list no Docker image: there is no Docker engine to build
    one (nor ECR in LocalStack's free edition). Returns "stack: asset" for each one left out."""
    shutil.copytree(assembly, dest)
    dropped = []
    for manifest in sorted(dest.glob("*.assets.json")):
        assets = json.loads(manifest.read_text())
        for asset_id, image in assets.get("dockerImages", {}).items():
            dropped.append(f"{manifest.name.removesuffix('.assets.json')}: {image.get('displayName', asset_id)}")
        if assets.get("dockerImages"):
            assets["dockerImages"] = {}
            manifest.write_text(json.dumps(assets, indent=1))
    return dropped


@dataclass
class Cdk:
    """The CLI with an emulator's endpoint and dummy credentials; nothing from the caller's AWS setup."""

    endpoint: str
    workdir: Path

    def environment(self) -> dict[str, str]:
        inherited = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CDK_"))}
        return {
            **inherited,
            **CREDENTIALS,
            "AWS_ENDPOINT_URL": self.endpoint,
            "CDK_DISABLE_VERSION_CHECK": "1",
            "CDK_DISABLE_CLI_TELEMETRY": "true",
        }

    def run(self, *args: str) -> str:
        cmd = [str(cdk_executable()), *args, "--no-notices", "--no-color"]
        try:
            result = subprocess.run(
                cmd, cwd=self.workdir, env=self.environment(), capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S
            )
        except subprocess.TimeoutExpired as error:
            output = (error.stdout or b"").decode(errors="replace") + (error.stderr or b"").decode(errors="replace")
            raise CdkError(f"`cdk {' '.join(args)}` ran over {COMMAND_TIMEOUT_S} s:\n{output[-4000:]}") from error
        output = result.stdout + result.stderr
        if result.returncode:
            raise CdkError(f"`cdk {' '.join(args)}` failed (exit {result.returncode}):\n{output[-6000:]}")
        return output

    def bootstrap(self, account: str, region: str) -> str:
        return self.run("bootstrap", f"aws://{account}/{region}")

    def deploy_all(self, assembly: Path) -> str:
        return self.run(
            "deploy",
            "--app",
            str(assembly),
            "--all",
            "--require-approval",
            "never",
            "--progress",
            "events",
            "--concurrency",
            "4",
        )

    def destroy_all(self, assembly: Path) -> str:
        return self.run("destroy", "--app", str(assembly), "--all", "--force")
