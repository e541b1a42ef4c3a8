"""The review screen: a web application approvers decide in, beside the Prefect UI and the CLI."""
