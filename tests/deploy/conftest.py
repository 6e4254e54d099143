"""Fixtures for the deploy check: one LocalStack for the session, boto3 clients on it, the bootstrapped CDK CLI."""

from __future__ import annotations

import boto3
import pytest

from tests.deploy.cdk_cli import Cdk
from tests.deploy.localstack_server import CREDENTIALS, running_localstack


@pytest.fixture(scope="session")
def localstack(tmp_path_factory):
    with running_localstack(tmp_path_factory.mktemp("localstack")) as server:
        yield server


@pytest.fixture(scope="session")
def aws(localstack):
    """A factory of boto3 clients on the emulator, with its dummy credentials (nothing read from ~/.aws)."""
    session = boto3.Session(
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        region_name=CREDENTIALS["AWS_REGION"],
    )
    return lambda service: session.client(service, endpoint_url=localstack.endpoint)


@pytest.fixture(scope="session")
def cdk(localstack, aws, tmp_path_factory) -> Cdk:
    """The pinned CDK CLI on the emulator, with the account bootstrapped (`cdk bootstrap`) once."""
    cli = Cdk(endpoint=localstack.endpoint, workdir=tmp_path_factory.mktemp("cdk-cli"))
    cli.bootstrap(aws("sts").get_caller_identity()["Account"], CREDENTIALS["AWS_REGION"])
    return cli


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed deploy test shows the tail of LocalStack's log next to the failure."""
    outcome = yield
    report = outcome.get_result()
    server = getattr(item, "funcargs", {}).get("localstack")
    if report.failed and server is not None:
        report.sections.append(("LocalStack log", server.log_tail(80)))
