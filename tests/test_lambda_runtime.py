"""The Lambda package as `golive package-lambda` ships it, run as the Lambda runtime runs it.

Built by the real command (Linux wheels for the runtime's CPython, pruned, bytecode compiled by the runtime's
Python), then imported and invoked under that Python, isolated (`-I -S`: no site-packages, no user site, no
PYTHON* variables), with only the package folder on sys.path as /var/task is, the runtime's variables and the
function's environment from the synthesised template, and real API Gateway REST (v1) and HTTP API (v2)
events: health, predict, feedback. DynamoDB is moto's, as a server in this process reached through
AWS_ENDPOINT_URL, so nothing is added to the package.
"""

from __future__ import annotations

import json
import os
import platform
import queue
import subprocess
import sys
import threading
from pathlib import Path

import boto3
import pytest

from golive import bundle
from golive.contracts.feedback_table import TEXT_KEY_PREFIX
from infra.assets.lambda_package import (
    LAMBDA_PYTHON_VERSION,
    PACKAGE_DIR,
    base_dependencies,
    find_python,
    wheel_options,
)
from tests.artifact_cache import cached, pip, run
from tests.conftest import REPO, api_event
from tests.lambda_runtime_bootstrap import MARK

pytestmark = pytest.mark.slow

BOOTSTRAP = Path(__file__).with_name("lambda_runtime_bootstrap.py")
ARCHITECTURE = {"x86_64": "x86_64", "aarch64": "arm64"}.get(platform.machine())
TABLE = "golive-test-feedback"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing"}


def runtime_python() -> Path:
    python = find_python(LAMBDA_PYTHON_VERSION)
    if python is None:
        pytest.fail(
            f"Python {LAMBDA_PYTHON_VERSION}, the Lambda runtime's, is not on this machine (PATH or pyenv): "
            f"install it (`pyenv install {LAMBDA_PYTHON_VERSION}`) to test the package under it"
        )
    return python


@pytest.fixture(scope="module")
def shipped(tiny_bundle, tmp_path_factory) -> tuple[Path, dict]:
    """`golive package-lambda` run as a user runs it; pip installs from a cached download of the same wheels."""
    if platform.system() != "Linux" or ARCHITECTURE is None:
        pytest.skip("the Lambda's wheels are Linux x86_64/aarch64 wheels")
    runtime_python()
    options = wheel_options(LAMBDA_PYTHON_VERSION, ARCHITECTURE)
    requirements = base_dependencies()
    wheels = cached(
        f"lambda-wheels-cp{LAMBDA_PYTHON_VERSION.replace('.', '')}-{ARCHITECTURE}",
        json.dumps([options, requirements]),
        lambda dest: run(
            pip("download", "--quiet", "--dest", str(dest), *options, *requirements),
            "pip download of the Lambda's wheels",
        ),
    )
    package = tmp_path_factory.mktemp("shipped") / "lambda"
    env = {**os.environ, "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(wheels)}
    built = run(
        [
            sys.executable,
            "-m",
            "cli",
            "package-lambda",
            "--model",
            tiny_bundle,
            "--out",
            package,
            "--architecture",
            ARCHITECTURE,
        ],
        "golive package-lambda",
        env=env,
        cwd=REPO,
    )
    print(built.stdout)
    return package, json.loads(package.with_name("lambda.size.json").read_text())


def deployed_function(synthesized) -> tuple[dict, dict]:
    """The dev API's function and feedback table as the template declares them."""
    api = synthesized["dev"]["api"]
    (function,) = api.find_resources(
        "AWS::Lambda::Function", {"Properties": {"Handler": "functions.lambda_handler.handler"}}
    ).values()
    (table,) = api.find_resources("AWS::DynamoDB::GlobalTable").values()
    return function["Properties"], table["Properties"]


class LambdaProcess:
    """The function's sandbox: one isolated interpreter that is initialised once and takes events in turn."""

    def __init__(self, argv: list[str], env: dict[str, str], cwd: Path, log: Path):
        self.stderr = log.open("w")
        self.proc = subprocess.Popen(
            argv, env=env, cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr, text=True
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.logs: list[str] = []
        self.log_path = log
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def next_report(self, timeout: float = 120) -> dict:
        while True:
            try:
                line = self.lines.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(f"the function did not answer in {timeout} s") from None
            if line is None:
                self.proc.wait(10)
                raise AssertionError(
                    f"the function's interpreter exited ({self.proc.returncode}):\n" + self.log_path.read_text()[-4000:]
                )
            if line.startswith(MARK):
                report = json.loads(line[len(MARK) :])
                assert report["kind"] != "error", report["error"] + "\n" + self.log_path.read_text()[-4000:]
                return report
            self.logs.append(line)

    def invoke_raw(self, event: dict) -> tuple[int, str]:
        self.proc.stdin.write(json.dumps(event) + "\n")
        self.proc.stdin.flush()
        response = self.next_report()["response"]
        return response["statusCode"], response["body"]

    def invoke(self, event: dict) -> tuple[int, dict]:
        status, body = self.invoke_raw(event)
        return status, json.loads(body)

    def finish(self) -> dict:
        self.proc.stdin.close()
        report = self.next_report()
        assert self.proc.wait(30) == 0, self.log_path.read_text()[-4000:]
        self.stderr.close()
        return report


def files_in(folder: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(folder)): (p.stat().st_mtime_ns, p.stat().st_size) for p in folder.rglob("*") if p.is_file()
    }


def test_package_runs_under_the_lambda_runtime_python_with_its_own_bytecode(shipped, moto_url, synthesized, tmp_path):
    package, report = shipped
    function, table = deployed_function(synthesized)
    runtime = function["Runtime"]
    assert runtime == f"python{report['python_version']}", "infra deploys another Python than the package is built for"
    python = runtime_python()

    # what was shipped: pruned, under the size limit, bytecode from the runtime's Python only, used unchecked
    assert report["bytecode_compiled"] and Path(report["compiled_by"]).resolve() == python.resolve(), report
    assert report["unzipped_bytes"] < report["limit_bytes"]
    assert not (package / "huggingface_hub").exists() and not (package / "onnxruntime" / "quantization").exists()
    assert {p.name for p in (package / PACKAGE_DIR).iterdir()} >= {bundle.MODEL_INT8, bundle.TOKENIZER, bundle.MANIFEST}
    tag = f"cpython-{LAMBDA_PYTHON_VERSION.replace('.', '')}"
    pycs = list(package.rglob("*.pyc"))
    assert len(pycs) > 1000 and all(p.name.split(".")[-2] == tag for p in pycs), "bytecode of another Python shipped"

    ddb = boto3.client(
        "dynamodb", endpoint_url=moto_url, region_name="us-east-1", **{k.lower(): v for k, v in CREDENTIALS.items()}
    )
    ddb.create_table(
        TableName=TABLE,
        KeySchema=table["KeySchema"],
        AttributeDefinitions=table["AttributeDefinitions"],
        BillingMode=table["BillingMode"],
    )

    secret = boto3.client(
        "secretsmanager",
        endpoint_url=moto_url,
        region_name="us-east-1",
        **{k.lower(): v for k, v in CREDENTIALS.items()},
    ).create_secret(Name="golive-dev-signing-key", SecretString="k" * 64)

    variables = {k: v for k, v in function["Environment"]["Variables"].items() if isinstance(v, str)}
    assert set(function["Environment"]["Variables"]) - set(variables) == {  # Refs to the stack's table and secret
        "GOLIVE_FEEDBACK_TABLE",
        "GOLIVE_SIGNING_SECRET_ARN",
    }
    function_name = "golive-dev-api"
    env = {
        # what the Lambda runtime sets (docs: "Defined runtime environment variables")
        "LAMBDA_TASK_ROOT": str(package),
        "LAMBDA_RUNTIME_DIR": str(BOOTSTRAP.parent),
        "_HANDLER": function["Handler"],
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{runtime}",
        "AWS_LAMBDA_FUNCTION_NAME": function_name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function["MemorySize"]),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function_name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2026/11/23/[$LATEST]0123",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
        "TZ": ":UTC",
        "LANG": "en_US.UTF-8",
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        **CREDENTIALS,
        # the function's own environment, from the template
        **variables,
        "GOLIVE_FEEDBACK_TABLE": TABLE,
        "GOLIVE_SIGNING_SECRET_ARN": secret["ARN"],
        # moto, outside the sandbox
        "AWS_ENDPOINT_URL": moto_url,
    }
    before = files_in(package)
    sandbox = LambdaProcess([str(python), "-I", "-S", str(BOOTSTRAP)], env, package, tmp_path / "function.log")
    print(f"init (cold start imports) under {python}: {sandbox.next_report()['seconds']:.2f} s")

    labels = bundle.read_manifest(package / PACKAGE_DIR).labels
    for version in ("rest_v1", "http_v2"):
        status, health = sandbox.invoke(api_event(version, "GET", "/v1/health"))
        assert status == 200 and health["status"] == "ok" and health["backend"] == "onnx", health
        status, predicted = sandbox.invoke(
            api_event(version, "POST", "/v1/predict", {"inputs": ["a lovely hotel", "rude staff"]})
        )
        assert status == 200 and len(predicted["predictions"]) == 2, predicted
        prediction = predicted["predictions"][0]
        assert prediction["label"] in labels
        feedback = {"prediction_id": prediction["prediction_id"], "label": labels[0]}
        answers = [sandbox.invoke(api_event(version, "POST", "/v1/feedback", feedback)) for _ in range(2)]
        assert [(s, b["status"]) for s, b in answers] == [(200, "recorded"), (200, "already_recorded")], answers
        status, error = sandbox.invoke(api_event(version, "POST", "/v1/predict", "{oops"))
        assert status == 422 and "not valid JSON" in error["error"]["message"], error
        status, script = sandbox.invoke_raw(api_event(version, "GET", "/docs/assets/swagger-ui-bundle.js"))
        assert (
            status == 200 and script == (package / "functions/api/static/swagger-ui/swagger-ui-bundle.js").read_text()
        )
        stored = ddb.get_item(TableName=TABLE, Key={"prediction_id": {"S": prediction["prediction_id"]}})["Item"]
        assert stored["label"]["S"] == labels[0] and stored["predicted_label"]["S"] == prediction["label"]
    done = sandbox.finish()
    items = ddb.scan(TableName=TABLE)["Items"]
    texts = [i["text"]["S"] for i in items if i["prediction_id"]["S"].startswith(TEXT_KEY_PREFIX)]
    assert len(items) - len(texts) == 2  # the two feedback records
    # dev as the tests synthesise it captures texts (api.capture_texts): each predicted text, once per call
    assert variables["GOLIVE_CAPTURE_TEXTS"] == "true" and sorted(texts) == ["a lovely hotel"] * 2 + ["rude staff"] * 2

    # the interpreter was the runtime's, isolated, and took every module of the package from the shipped .pyc
    assert (done["implementation"], done["version"]) == ("cpython", [int(n) for n in LAMBDA_PYTHON_VERSION.split(".")])
    assert done["flags"] == {
        "isolated": 1,
        "no_site": 1,
        "no_user_site": 1,
        "ignore_environment": 1,
        "dont_write_bytecode": 0,
    }, done["flags"]  # it would write any .pyc it had to compile
    assert done["path"][0] == str(package)
    assert all(p.startswith(done["base_prefix"]) and "site-packages" not in p for p in done["path"][1:]), done["path"]
    assert not [
        m for m in done["all_modules"] if m.split(".")[0] in ("torch", "transformers", "huggingface_hub", "httpx")
    ]
    loaded = {name: m for name, m in done["loaded"].items() if m["origin"].endswith(".py")}
    assert {"functions.lambda_handler", "fastapi", "mangum", "pydantic", "onnxruntime", "boto3"} <= set(loaded)
    for name, module in loaded.items():
        shipped_pyc = str(Path(module["cached"]).relative_to(package))
        assert shipped_pyc in before, f"{name} had no shipped bytecode ({shipped_pyc})"
    assert files_in(package) == before, "the interpreter wrote or changed files in the package (bytecode it compiled?)"
    for pyc in [Path(m["cached"]) for m in loaded.values()]:
        header = pyc.read_bytes()[:8]
        assert header[:4].hex() == done["magic"], f"{pyc} was compiled by another Python"
        assert int.from_bytes(header[4:8], "little") == 0b01, f"{pyc} is not unchecked-hash bytecode"

    # what CloudWatch would get: Powertools JSON logs with the Lambda context, and EMF metric lines
    records = [json.loads(line) for line in sandbox.logs if line.startswith("{")]
    predicted = [r for r in records if r.get("message") == "predicted"]
    assert len(predicted) == 2 and all(
        r["function_name"] == function_name and r["function_request_id"].startswith("00000000-") for r in predicted
    ), "".join(sandbox.logs)[-3000:]
    assert any("_aws" in r for r in records), "no EMF metrics were flushed"
