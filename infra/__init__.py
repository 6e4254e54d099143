"""CDK app and stacks (issue 5)."""
