"""The harness version: a leaf module, so anything may import it without importing the API."""

__version__ = "0.1.0"
