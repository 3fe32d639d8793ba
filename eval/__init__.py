"""Engine evaluation: labelled sets, harness and metrics (see eval/README.md)."""
