"""The worker service: consumes worker jobs, runs their attempts, publishes results, logs and metrics.

`run_worker` (in `main`) is the entry point; `Worker` (in `service`) the consumer loop; task types are run
by the runners of `conveyor.worker.runners`, found through the `conveyor.runners` entry point group.
"""
