"""The dashboards the stack deploys, rendered offline as HTML pages over EMF documents."""
