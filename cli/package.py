"""`golive package`, `golive package-lambda` and `golive endpoint-image`: what ships, built from the bundle
(golive/bundle) and the code assets infra deploys (infra/assets)."""

from __future__ import annotations

import argparse

from cli.arguments import python_version
from infra.assets.lambda_package import LAMBDA_PYTHON_VERSION


def add_package(sub) -> None:
    package = sub.add_parser("package", help="pack a bundle as model.tar.gz for SageMaker")
    package.add_argument("--model", default="model_artifacts", help="bundle folder")
    package.add_argument("--out", default="model.tar.gz", help="the tarball to write")
    package.set_defaults(func=_package)


def add_endpoint_image(sub) -> None:
    image = sub.add_parser("endpoint-image", help="stage the GPU endpoint image's Docker build context")
    image.add_argument("--out", default="build/endpoint-image", help="build context folder")
    image.set_defaults(func=_endpoint_image)


def add_package_lambda(sub) -> None:
    lam = sub.add_parser(
        "package-lambda", help="build the API Lambda's package (code, Linux wheels, bundle) and report its size"
    )
    lam.add_argument("--model", default="model_artifacts", help="bundle folder")
    lam.add_argument("--out", default="build/lambda", help="package folder")
    lam.add_argument(
        "--variant",
        choices=["int8", "fp32", "none"],
        default="int8",
        help="ONNX model to include; none for the sagemaker backend",
    )
    lam.add_argument(
        "--python-version",
        type=python_version,
        default=LAMBDA_PYTHON_VERSION,
        help="the Lambda runtime's Python (the one infra deploys)",
    )
    lam.add_argument("--architecture", choices=["x86_64", "arm64"], default="x86_64", help="the Lambda's CPU")
    lam.set_defaults(func=_package_lambda)


def _package(ns: argparse.Namespace) -> int:
    from golive.bundle import pack_tarball

    print(pack_tarball(ns.model, ns.out))
    return 0


def _package_lambda(ns: argparse.Namespace) -> int:
    from golive.progress import Progress
    from infra.assets.lambda_package import build_lambda_package

    variant = None if ns.variant == "none" else ns.variant
    report = build_lambda_package(ns.model, ns.out, variant, ns.python_version, ns.architecture, progress=Progress())
    print(report.summary())
    return 0


def _endpoint_image(ns: argparse.Namespace) -> int:
    from infra.assets.endpoint_image import stage_image_context

    dest = stage_image_context(ns.out)
    print(
        f"endpoint image build context: {dest}\n"
        f"  docker build -t golive-endpoint {dest}\n"
        f"  docker run --gpus all -p 8080:8080 -v $PWD/model_artifacts:/opt/ml/model:ro golive-endpoint serve"
    )
    return 0
