"""`golive costs estimate --refresh-prices`: today's SageMaker instance prices from the AWS Pricing API.

Only the instance types the environment uses are refreshed (training and hosting: the lines that make
most of a bill), for the environment's own region; every other price stays the shipped table's, and
the estimate says which is which. Needs AWS credentials allowed `pricing:GetProducts`.
"""

from __future__ import annotations

import copy
import json
from datetime import date

from golive.aws_errors import aws_errors
from golive.errors import UserError

SERVICE_CODE = "AmazonSageMaker"
PRICING_REGION = "us-east-1"  # the Pricing API's endpoint (it answers for every region)
# price-table key -> the Pricing API's `component` for SageMaker ML instances
COMPONENTS = {"sagemaker_training_per_hour": "Training", "sagemaker_hosting_per_hour": "Hosting"}


def _hourly_usd(price_list: list[str]) -> float | None:
    """The lowest positive on-demand hourly USD price among the products the API returned."""
    prices = []
    for item in price_list:
        product = json.loads(item)
        for term in product.get("terms", {}).get("OnDemand", {}).values():
            for dimension in term.get("priceDimensions", {}).values():
                usd = float(dimension.get("pricePerUnit", {}).get("USD", 0) or 0)
                if dimension.get("unit", "").lower().startswith("hr") and usd > 0:
                    prices.append(usd)
    return min(prices) if prices else None


def fetch_instance_price(client, region: str, instance_type: str, component: str) -> float:
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    filters = [
        {"Type": "TERM_MATCH", "Field": field, "Value": value}
        for field, value in (
            ("productFamily", "ML Instance"),
            ("regionCode", region),
            ("instanceName", instance_type),
            ("component", component),
        )
    ]
    try:
        pages = client.get_paginator("get_products").paginate(
            ServiceCode=SERVICE_CODE, Filters=filters, FormatVersion="aws_v1"
        )
        price_list = [item for page in pages for item in page.get("PriceList", [])]
    except NoCredentialsError:
        raise UserError(
            "--refresh-prices asks the AWS Pricing API and needs AWS credentials (pricing:GetProducts); "
            "leave it out to use the shipped price table"
        ) from None
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise UserError(
            f"the AWS Pricing API refused: {error.get('Code')}: {error.get('Message')}; check that your "
            "credentials allow pricing:GetProducts, or leave --refresh-prices out"
        ) from None
    except BotoCoreError as exc:
        raise UserError(
            f"could not reach the AWS Pricing API ({exc}); leave --refresh-prices out to use the shipped price table"
        ) from None
    usd = _hourly_usd(price_list)
    if usd is None:
        raise UserError(
            f"the AWS Pricing API lists no on-demand {component.lower()} price for {instance_type} in "
            f"{region}; check the instance type and region in the environment config"
        )
    return usd


def refresh_prices(table: dict, config, client=None) -> dict:
    """A copy of `table` with the config's SageMaker instance prices replaced by the API's, and a note saying so."""
    import boto3

    with aws_errors("--refresh-prices cannot ask the AWS Pricing API", "pricing:GetProducts"):  # reads the profile
        client = client or boto3.client("pricing", region_name=PRICING_REGION)
    wanted = {"sagemaker_training_per_hour": config.training.instance_type}
    if config.endpoint.enabled:
        wanted["sagemaker_hosting_per_hour"] = config.endpoint.instance_type
    refreshed = copy.deepcopy(table)
    for key, instance_type in wanted.items():
        refreshed[key][instance_type] = fetch_instance_price(client, config.region, instance_type, COMPONENTS[key])
    refreshed["refreshed"] = {
        "on": date.today().isoformat(),
        "region": config.region,
        "prices": {key: {instance_type: refreshed[key][instance_type]} for key, instance_type in wanted.items()},
    }
    return refreshed
