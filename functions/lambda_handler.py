"""AWS Lambda entry point: the FastAPI app behind API Gateway (REST v1 and HTTP API v2) via Mangum.

Everything heavy happens at import, in Lambda's init phase: settings are validated and the bundle is
loaded (from the package, or once from S3). Logs are structured JSON with the request id, metrics
are EMF lines flushed at the end of each invocation, and X-Ray traces each call.
"""

from __future__ import annotations

import warnings

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging import correlation_paths
from mangum import Mangum

from functions.api.main import build_services, create_app
from functions.api.settings import Settings
from functions.api.telemetry import NAMESPACE, SERVICE, EmfTelemetry

# health and docs requests record no metrics; that is expected, not worth a warning per call
warnings.filterwarnings("ignore", message="No application metrics to publish")

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
tracer = Tracer(service=SERVICE)

app = create_app(build_services(Settings(), EmfTelemetry(metrics), logger))
_asgi = Mangum(app, lifespan="off", api_gateway_base_path="/")


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event, context):
    return _asgi(event, context)
