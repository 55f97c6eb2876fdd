"""Tests of the reference snippets in snippets/, run through the real service."""
