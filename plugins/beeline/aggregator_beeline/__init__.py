"""Aggregator plugin for Beeline (Билайн): a token JSON API with several numbers per login."""

from .provider import BeelineProvider

__all__ = ["BeelineProvider"]
