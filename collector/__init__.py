"""workmail-collector: observe Amazon WorkMail email flow without touching it."""

__version__ = "0.1.0"
