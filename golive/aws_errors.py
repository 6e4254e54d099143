"""AWS failures a user can fix (no credentials, access denied, no network), as UserError with what to do."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from golive.errors import UserError

CREDENTIALS_HINT = (
    "configure them with `aws configure` or `aws sso login` (or set AWS_PROFILE, or "
    "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"
)
CREDENTIAL_CODES = (
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "SignatureDoesNotMatch",
    "InvalidAccessKeyId",
)


@contextmanager
def aws_errors(failure: str, needs: str = "") -> Iterator[None]:
    """AWS calls whose failure reads `failure: why; what to do` (e.g. "cannot read s3://b/k");
    `needs` names the IAM permission the call takes, for access-denied answers."""
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError, ProfileNotFound

    try:
        yield
    except NoCredentialsError:
        raise UserError(f"{failure}: no AWS credentials found; {CREDENTIALS_HINT}") from None
    except ProfileNotFound as exc:
        raise UserError(f"{failure}: {missing_profile(str(exc.kwargs.get('profile')))}") from None
    except NoRegionError:
        raise UserError(f"{failure}: no AWS region set; set AWS_DEFAULT_REGION or run `aws configure`") from None
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = str(error.get("Code"))
        forbidden = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 403  # S3's HEAD: no body, no code
        hint = ""
        if code in CREDENTIAL_CODES:
            hint = f"; your AWS credentials are not valid: {CREDENTIALS_HINT}"
        elif "AccessDenied" in code or "Unauthorized" in code or forbidden:
            hint = f"; your AWS credentials need {needs or 'permission for this call'}"
        raise UserError(f"{failure}: AWS answered {code}: {error.get('Message')}{hint}") from None
    except BotoCoreError as exc:
        raise UserError(f"{failure}: {exc}; check your network and AWS configuration") from None


def missing_profile(profile: str) -> str:
    """Why a named profile fails and how to fix it: botocore reads the profile before any call, so a stale
    AWS_PROFILE fails every command that touches AWS."""
    variable = next((name for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE") if os.environ.get(name) == profile), None)
    where = f" (set by {variable})" if variable else ""
    unset = f", or unset {variable} to use your default credentials" if variable else ""
    return (
        f"the AWS profile {profile!r}{where} is not in your AWS config files (~/.aws/config, ~/.aws/credentials); "
        f"create it with `aws configure --profile {profile}` (or `aws configure sso --profile {profile}`){unset}"
    )
