"""Accepting one cdk-nag finding on one construct, with its reason next to the resource."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Validations
from constructs import Construct


def acknowledge(scope: Construct, rule: str, reason: str) -> None:
    """The ID carries the plugin name (`AwsSolutions::AwsSolutions-SQS3`), the form CDK's validation
    report prints, so the acknowledgment is matched to that plugin's finding and nothing else."""
    pack = rule.split("-", 1)[0]
    Validations.of(scope).acknowledge(Acknowledgment(id=f"{pack}::{rule}", reason=reason))
