"""Aggregator plugin for Rostelecom (Ростелеком): an SSO passport and the client-api JSON."""

from .provider import RostelecomProvider

__all__ = ["RostelecomProvider"]
