"""Who may call the API's keyed routes besides holding an API key (`api.authorizer`):

- "none": the key alone (API Gateway checks it, and its usage plan meters and throttles the client);
- "iam": requests signed with SigV4 (service execute-api) by a principal allowed `execute-api:Invoke` on the
  stage. The stack creates that policy (output `InvokePolicyArn`): attach it to the clients' roles or users;
- "cognito": tokens of an existing Cognito user pool (`api.cognito.user_pool_arn`) in the Authorization
  header, access tokens carrying `api.cognito.scopes` when scopes are given.

A REST API has no native JWT authorizer: the choices are a Cognito user-pool authorizer or a Lambda authorizer.
Cognito's is API Gateway's own code: it checks the signature, expiry and issuer, caches the result, adds no
function to the request path (no cold start, nothing to patch), and the pool federates other identity providers
(OIDC, SAML) when the tokens must come from elsewhere. A Lambda authorizer would verify any issuer, at the cost
of code that fetches and caches JWKS on the request path.

The key stays required in every mode: it selects the client's usage plan (throttle and quota), while the
authorizer says who the caller is. Health and docs stay public (functions/api/api_gateway.py: PUBLIC_ROUTES).
"""

from __future__ import annotations

from typing import cast

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.compliance import accept
from infra.config import ApiSettings

AUTHORIZER_CACHE = cdk.Duration.minutes(5)


class ApiAuth(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, api: apigw.RestApi, settings: ApiSettings, stage_name: str
    ) -> None:
        super().__init__(scope, construct_id)
        self.mode = settings.authorizer
        self.invoke_policy: iam.ManagedPolicy | None = None
        self.authorizer: apigw.IAuthorizer | None = None
        self.scopes = list(settings.cognito.scopes) if settings.cognito else []
        if self.mode == "iam":
            self.invoke_policy = iam.ManagedPolicy(
                self,
                "InvokePolicy",
                description=f"calls the golive API's {stage_name} stage (SigV4, execute-api)",
                statements=[
                    iam.PolicyStatement(
                        actions=["execute-api:Invoke"], resources=[api.arn_for_execute_api("*", "/*", stage_name)]
                    )
                ],
            )
            stack = cdk.Stack.of(self)
            api_id = stack.get_logical_id(cast(cdk.CfnResource, api.node.default_child))
            region = "<AWS::Region>" if cdk.Token.is_unresolved(stack.region) else stack.region  # as cdk-nag prints it
            accept(
                self.invoke_policy,
                "execute-api:Invoke on every method and path of this stage only: the keyed "
                "routes are {proxy+} resources, so a narrower ARN would allow the same requests",
                f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:execute-api:{region}:<AWS::AccountId>:"
                f"<{api_id}>/{stage_name}/*/*]",
            )
            cdk.CfnOutput(
                self,
                "InvokePolicyArn",
                value=self.invoke_policy.managed_policy_arn,
                description="attach to the roles or users of clients that sign requests with SigV4",
            ).override_logical_id("InvokePolicyArn")
        elif self.mode == "cognito":
            assert settings.cognito is not None  # config: the cognito authorizer needs api.cognito
            pool = cognito.UserPool.from_user_pool_arn(self, "UserPool", settings.cognito.user_pool_arn)
            self.authorizer = apigw.CognitoUserPoolsAuthorizer(
                self, "Authorizer", cognito_user_pools=[pool], results_cache_ttl=AUTHORIZER_CACHE
            )

    def method_options(self) -> dict:
        """add_method's keyword arguments for a keyed route."""
        if self.mode == "iam":
            return {"authorization_type": apigw.AuthorizationType.IAM}
        if self.mode == "cognito":
            return {
                "authorization_type": apigw.AuthorizationType.COGNITO,
                "authorizer": self.authorizer,
                "authorization_scopes": self.scopes or None,
            }
        return {"authorization_type": apigw.AuthorizationType.NONE}

    def add_keyed_method(self, resource: apigw.IResource, http_method: str, **options) -> apigw.Method:
        """A method that needs a client's API key and, in this mode, the authorizer's credentials."""
        method = resource.add_method(http_method, api_key_required=True, **options, **self.method_options())
        if self.mode == "none":
            accept(
                method,
                "clients authenticate with their own API keys and usage plans (throttle, quota); set "
                "api.authorizer to iam or cognito for per-caller identity",
                "AwsSolutions-APIG4",
                "AwsSolutions-COG4",
            )
        elif self.mode == "iam":
            accept(
                method,
                "api.authorizer is iam: callers sign with SigV4 and need execute-api:Invoke (the "
                "InvokePolicyArn output), an identity Cognito would duplicate",
                "AwsSolutions-COG4",
            )
        return method
