"""gradgold's benchmarks (issue 7): `make bench` runs bench/run.py; see bench/RESULTS.md."""
