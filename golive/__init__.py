"""golive: from a Hugging Face text model to a live, monitored, cost-tracked API on AWS."""

__version__ = "0.1.0"
