"""advisor: hardware selection and cost estimation for training large language models."""

__version__ = "0.1.0"
