"""The documented Docker Cloud service API, shared by every front door (`kubectl dcs`, the REST
API): the documented object a Service resource is shown as, the states and the actions they
allow, the default name, and aggregated log lines. Pure: no I/O."""
