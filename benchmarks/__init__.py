"""DiploLens benchmarks: language-ID accuracy and pipeline throughput (`python -m benchmarks`)."""
