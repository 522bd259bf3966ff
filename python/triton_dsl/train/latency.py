"""CPU inference latency at batch 1: the median of many timed runs after a warm-up.

The median (not the mean) is reported because a shared machine's occasional stalls land in
the tail. The model is copied to the CPU in eval mode, so measuring never disturbs the
trained model, its device, or its mode. The thread count is set for the measurement and
restored afterwards.
"""

from __future__ import annotations

import copy
import statistics
import time

import torch
from torch import nn


def measure_cpu_latency(model: nn.Module, example_input: torch.Tensor, *,
                        threads: int | None = None, warmup: int = 10, runs: int = 100,
                        budget_seconds: float = 5.0) -> float:
    """Median milliseconds of one forward pass on the CPU at `example_input`'s batch size.

    `runs` is an upper bound: a slow model stops after `budget_seconds` of timed runs (at
    least 5 runs), so a large network does not turn the report into a benchmark.
    """
    cpu_model = copy.deepcopy(model).to("cpu").float().eval()
    cpu_input = example_input.detach().to("cpu").float()
    previous_threads = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        timings: list[float] = []
        with torch.inference_mode():
            for _ in range(warmup):
                cpu_model(cpu_input)
            deadline = time.perf_counter() + budget_seconds
            while len(timings) < runs and (len(timings) < 5 or time.perf_counter() < deadline):
                start = time.perf_counter()
                cpu_model(cpu_input)
                timings.append(time.perf_counter() - start)
        return statistics.median(timings) * 1e3
    finally:
        torch.set_num_threads(previous_threads)
