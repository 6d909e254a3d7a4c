"""dcp-upload batch_validator package."""

__version__ = "0.1.0"
