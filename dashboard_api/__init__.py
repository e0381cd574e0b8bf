"""FastAPI service for utilities and residents: meters, usage, and more."""
