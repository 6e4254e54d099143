"""Rotation of the prediction-id signing key: the Lambda Secrets Manager calls on the secret's schedule.

Secrets Manager runs one rotation as four calls of this function, each with the secret and the new version's
ClientRequestToken, and retries a step that fails:

- createSecret: a new random key from Secrets Manager's GetRandomPassword, drawn like the stack's first key
  (64 letters and digits), stored as the new version with the AWSPENDING label (nothing is drawn again when
  the version already has a value: a retried step changes nothing).
- setSecret: nothing to do. Rotating a database password means setting it on the database here; an HMAC key
  lives only in this secret, and the API reads it from there.
- testSecret: nothing to log in to either; the step checks that the pending key is one the API will accept
  (readable, and long enough for the API's KeyRing: MIN_KEY_BYTES). Secrets Manager also calls this
  step alone when the schedule is set up (the stack does not rotate at deploy time): that changes nothing.
- finishSecret: AWSCURRENT moves to the new version (Secrets Manager moves AWSPREVIOUS to the old one), and
  AWSPENDING comes off it.
  The API signs with AWSCURRENT and still verifies AWSPREVIOUS, so an id stays valid until the second
  rotation after it was issued.

boto3, the standard library and the key's contract (golive/contracts/signing_keys.py): the function ships
this file and that one (infra/assets/rotation.py).
"""

from __future__ import annotations

import logging

import boto3

from golive.contracts.signing_keys import KEY_CHARS, MIN_KEY_BYTES  # drawn like the stack's first key

STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")

logger = logging.getLogger(__name__)
logger.setLevel(logging.INFO)


class RotationError(Exception):
    """The secret is not in the state this step expects; Secrets Manager records the failed rotation."""


def new_key(client) -> str:
    return client.get_random_password(PasswordLength=KEY_CHARS, ExcludePunctuation=True)["RandomPassword"]


def handler(event: dict, context, client=None) -> None:
    arn, token, step = event["SecretId"], event["ClientRequestToken"], event["Step"]
    if step not in STEPS:
        raise RotationError(f"unknown rotation step {step!r}; Secrets Manager calls {', '.join(STEPS)}")
    client = client or boto3.client("secretsmanager")
    metadata = client.describe_secret(SecretId=arn)
    if not metadata.get("RotationEnabled"):
        raise RotationError(f"rotation is not enabled on {arn}")
    stages = metadata.get("VersionIdsToStages", {})
    if token not in stages:
        raise RotationError(f"version {token} of {arn} has no stage: it is not a rotation in progress")
    if "AWSCURRENT" in stages[token]:
        logger.info("%s: version %s is already AWSCURRENT", step, token)
        return
    if "AWSPENDING" not in stages[token]:
        raise RotationError(f"version {token} of {arn} is not AWSPENDING")
    {"createSecret": step_create, "setSecret": step_set, "testSecret": step_test, "finishSecret": step_finish}[step](
        client, arn, token, stages
    )


def step_create(client, arn: str, token: str, stages: dict) -> None:
    client.get_secret_value(SecretId=arn, VersionStage="AWSCURRENT")  # the secret is readable at all
    try:
        client.get_secret_value(SecretId=arn, VersionId=token, VersionStage="AWSPENDING")
        logger.info("createSecret: version %s already holds a key", token)
        return
    except client.exceptions.ResourceNotFoundException:
        pass
    client.put_secret_value(
        SecretId=arn, ClientRequestToken=token, SecretString=new_key(client), VersionStages=["AWSPENDING"]
    )
    logger.info("createSecret: a new key is version %s (AWSPENDING)", token)


def step_set(client, arn: str, token: str, stages: dict) -> None:
    logger.info("setSecret: nothing to set; the key is used only by the API, which reads it from the secret")


def step_test(client, arn: str, token: str, stages: dict) -> None:
    try:
        key = client.get_secret_value(SecretId=arn, VersionId=token, VersionStage="AWSPENDING")["SecretString"]
    except client.exceptions.ResourceNotFoundException:
        # a rotation runs testSecret only after createSecret stored the key, so this is Secrets Manager checking
        # the configuration when the schedule is set up without rotating (RotateImmediately false)
        logger.info("testSecret: version %s holds no key yet: a configuration check, nothing to test", token)
        return
    if len(key.encode()) < MIN_KEY_BYTES:
        raise RotationError(f"the pending key of {arn} is {len(key.encode())} bytes; the API needs {MIN_KEY_BYTES}")
    logger.info("testSecret: version %s holds a usable key", token)


def step_finish(client, arn: str, token: str, stages: dict) -> None:
    current = next(version for version, labels in stages.items() if "AWSCURRENT" in labels)
    client.update_secret_version_stage(
        SecretId=arn, VersionStage="AWSCURRENT", MoveToVersionId=token, RemoveFromVersionId=current
    )
    # a finished rotation leaves no AWSPENDING behind (else the next one could be taken for one in progress)
    client.update_secret_version_stage(SecretId=arn, VersionStage="AWSPENDING", RemoveFromVersionId=token)
    logger.info("finishSecret: version %s is AWSCURRENT, %s AWSPREVIOUS", token, current)
