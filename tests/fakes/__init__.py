"""Fakes at the outer edge: services Codehook talks to, served for real on 127.0.0.1."""

from tests.fakes.hubspot import FakeHubSpot, RecordedRequest, Scripted

__all__ = ["FakeHubSpot", "RecordedRequest", "Scripted"]
