"""Tests for the CDK app (cdk/) and the observability layer (dashboards/)."""
