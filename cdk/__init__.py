"""The AWS CDK app that deploys the collector (`cdk deploy` from the repository root)."""
