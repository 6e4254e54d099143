"""One API key and one usage plan (throttle and daily quota) per client app, from `api.clients`.

Each client's key is an output of the stack (`ApiKeyId<Name>`, and `ApiKeyId` for the client named "default"),
so a key can be handed out, rotated (a new client name) or revoked (remove the client) without touching the
others, and API Gateway's usage reports count each client apart.

The "default" client's key and plan keep the construct ids, and so the logical ids, that the single key of
earlier releases had: a deploy of this release keeps that key, and the clients that hold it keep working.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigw
from constructs import Construct

from infra.config import ApiClient, ApiSettings

DEFAULT_CLIENT = "default"


def output_name(client: str) -> str:
    """The stack output that holds a client's key id: mobile-app -> ApiKeyIdMobileApp; "default" -> ApiKeyId."""
    return "ApiKeyId" + ("" if client == DEFAULT_CLIENT else "".join(part.title() for part in client.split("-")))


class ClientKeys(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, api: apigw.RestApi, settings: ApiSettings, environment: str
    ) -> None:
        super().__init__(scope, construct_id)
        self.keys: dict[str, apigw.IApiKey] = {}
        self.plans: dict[str, apigw.UsagePlan] = {}
        for client in settings.clients:
            key, plan = self._key_and_plan(api, client, settings, environment)
            plan.add_api_key(key)
            self.keys[client.name], self.plans[client.name] = key, plan
            output = cdk.CfnOutput(
                self,
                output_name(client.name),
                value=key.key_id,
                description=f"API key of client {client.name!r}: aws apigateway get-api-key "
                "--include-value --api-key <this id>",
            )
            output.override_logical_id(output_name(client.name))

    def _key_and_plan(
        self, api: apigw.RestApi, client: ApiClient, settings: ApiSettings, environment: str
    ) -> tuple[apigw.IApiKey, apigw.UsagePlan]:
        rate, burst, quota = client.limits(settings)
        plan_props: dict[str, Any] = dict(
            name=f"golive-{environment}-{client.name}",
            description=f"golive {environment}: client {client.name!r}",
            throttle=apigw.ThrottleSettings(rate_limit=rate, burst_limit=burst),
            quota=apigw.QuotaSettings(limit=quota, period=apigw.Period.DAY) if quota else None,
        )
        if client.name == DEFAULT_CLIENT:  # the ids of earlier releases' single key (see the module docstring)
            key = api.add_api_key("ClientKey", description=f"golive {environment} client key")
            plan = api.add_usage_plan("UsagePlan", **plan_props)
        else:
            part = "".join(p.title() for p in client.name.split("-"))
            key = apigw.ApiKey(
                self,
                f"{part}Key",
                api_key_name=f"golive-{environment}-{client.name}",
                description=f"golive {environment} client key: {client.name}",
                stages=[api.deployment_stage],
            )
            plan = apigw.UsagePlan(self, f"{part}Plan", **plan_props)
        plan.add_api_stage(stage=api.deployment_stage)
        return key, plan
