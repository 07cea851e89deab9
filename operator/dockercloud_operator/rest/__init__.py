"""The documented Docker Cloud REST API (and the logs websocket of its stream API), served
over Service resources with each caller's own Kubernetes credentials."""
