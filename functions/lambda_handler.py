"""AWS Lambda entry point: the FastAPI app behind API Gateway (REST v1 and HTTP API v2) via Mangum.

Everything heavy happens at import, in Lambda's init phase: settings are validated and the bundle is
loaded (from the package, or once from S3). Logs are structured JSON with the request id, metrics
are EMF lines flushed at the end of each invocation. X-Ray: the function's active tracing records
every invocation; the Powertools Tracer adds AWS-call subsegments where settings turn it on.

Cold start is the client's first impression, so the init phase is ordered for it: the garbage
collector is off while modules load (everything imported now lives as long as the process; collecting
it is wasted time), and the model loads on a worker thread while FastAPI imports and the key that
signs prediction ids is read from Secrets Manager (one call, AWSCURRENT). With SnapStart, this init runs once
per published version and functions/api/snapstart.py refreshes what restored environments must not share.
"""

from __future__ import annotations

import gc

gc.disable()
try:
    import os
    import warnings

    from functions.api.backends import start_backend
    from functions.api.settings import Settings

    settings = Settings.load()  # a bad variable fails the init phase with a message naming it
    if os.environ.get("AWS_LAMBDA_FUNCTION_NAME") and not settings.feedback_table:
        # SQLite in a Lambda would live in /tmp and vanish with the instance: feedback must not be lost quietly
        raise RuntimeError(
            "GOLIVE_FEEDBACK_TABLE is not set: the Lambda stores feedback in DynamoDB; deploy with infra/"
        )
    if os.environ.get("AWS_LAMBDA_FUNCTION_NAME") and not settings.signing_secret_arn:
        # a key file in /tmp would differ per instance: ids from one would be refused by the others
        raise RuntimeError(
            "GOLIVE_SIGNING_SECRET_ARN is not set: the Lambda signs prediction ids with a key from "
            "Secrets Manager; deploy with infra/"
        )
    backend_loading = start_backend(settings)

    from aws_lambda_powertools import Logger, Metrics
    from aws_lambda_powertools.logging import correlation_paths
    from mangum import Mangum

    from functions.api.api_gateway import StagePrefix
    from functions.api.main import build_services, create_app
    from functions.api.signing_keys import load_key_ring
    from functions.api.telemetry import EmfTelemetry
    from golive.contracts.telemetry import NAMESPACE, SERVICE

    # health and docs requests record no metrics; that is expected, not worth a warning per call
    warnings.filterwarnings("ignore", message="No application metrics to publish")

    logger = Logger(service=SERVICE)
    metrics = Metrics(namespace=NAMESPACE, service=SERVICE)

    keys = load_key_ring(settings)  # while the model is still loading on its thread
    app = create_app(
        build_services(
            settings, EmfTelemetry(metrics, settings.environment), logger, backend=backend_loading.result(), keys=keys
        )
    )
    _asgi = Mangum(StagePrefix(app), lifespan="off", api_gateway_base_path="/")
    if os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE") == "snap-start":  # nothing more to import otherwise
        from functions.api.snapstart import install_runtime_hooks

        install_runtime_hooks(app.state.services)

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
    @metrics.log_metrics
    def _handle(event, context):
        return _asgi(event, context)

    if settings.use_xray_sdk:
        from aws_lambda_powertools import Tracer

        tracer = Tracer(service=SERVICE)  # patches boto3, so invoke_endpoint and DynamoDB calls get subsegments
        handler = tracer.capture_lambda_handler(_handle)
    else:
        handler = _handle
finally:
    gc.enable()
gc.freeze()  # what init built stays out of every later collection
