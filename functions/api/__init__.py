"""The HTTP API behind API Gateway (via Mangum) and `golive serve` (via uvicorn).

Import graph: FastAPI, pydantic, ONNX Runtime, tokenizers, boto3 and Powertools; never torch or
transformers, so a cold Lambda starts fast.
"""
