"""Serving: the Lambda FastAPI app (`functions.api`) and the GPU endpoint container."""
