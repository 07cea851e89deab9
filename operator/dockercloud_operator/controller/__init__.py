"""The operator process: kopf handlers, the reconcile loop and its work queue, the store of what
it watches, the status and actions it computes, leader election, metrics, and every Kubernetes
call it makes."""
