"""Benchmarks of the operator on the local control plane (`make bench`, `python -m bench.run`)."""
