"""dockercloud-operator: Docker Cloud services, reconciled into Kubernetes objects."""

__version__ = "0.1.0"
