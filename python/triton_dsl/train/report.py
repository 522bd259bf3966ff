"""The metrics table printed after training and after `--eval`: measured beside expected.

The expected column comes from the model file's `performance` section, so a reader sees at
once whether the compiled model meets what its author promised. A measurement that was not
taken in this run (training time after `--eval`) shows as `-`, and so does an expectation
the file does not state. Sizes are in KB of 1024 bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class Measurements:
    """What one run measured; `None` means not measured in this run."""

    test_accuracy: float | None = None  # fraction in [0, 1]
    top5_accuracy: float | None = None
    packed_bytes: int | None = None
    float32_bytes: int | None = None
    cpu_latency_ms: float | None = None
    latency_threads: int | None = None
    training_seconds: float | None = None
    images_per_second: float | None = None
    data_wait_share: float | None = None  # fraction of step time spent waiting for data
    best_epoch: int | None = None


def _first(performance: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        value = performance.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return value
    return None


def _percent(fraction: float | None) -> str:
    return "-" if fraction is None else f"{100.0 * fraction:.2f}%"


def _expected_percent(value: float | None) -> str:
    if value is None:
        return "-"
    # Files state accuracy either as a fraction (0.96) or in percent (96).
    return _percent(value if value <= 1.0 else value / 100.0)


def _kb(size: float | None) -> str:
    return "-" if size is None else f"{size / 1024.0:,.1f} KB"


def format_accuracy(fraction: float) -> str:
    """The one spelling of an accuracy used in epoch lines, the table and `--eval`."""
    return _percent(fraction)


def format_report(measured: Measurements, performance: dict[str, Any], *,
                  title: str = "results") -> str:
    """The table as text, one metric per row."""
    perf = performance or {}
    rows: list[tuple[str, str, str]] = []
    accuracy_label = "test accuracy"
    if measured.best_epoch is not None:
        accuracy_label += f" (best, epoch {measured.best_epoch})"
    rows.append((accuracy_label, _percent(measured.test_accuracy),
                 _expected_percent(_first(perf, "expected_accuracy", "accuracy",
                                          "top1_accuracy", "expected_top1"))))
    expected_top5 = _first(perf, "expected_top5", "expected_top5_accuracy", "top5_accuracy")
    if measured.top5_accuracy is not None and expected_top5 is not None:
        rows.append(("top-5 accuracy", _percent(measured.top5_accuracy),
                     _expected_percent(expected_top5)))
    expected_size = _first(perf, "model_size_kb")
    if expected_size is None and _first(perf, "model_size_mb") is not None:
        expected_size = _first(perf, "model_size_mb") * 1024.0
    rows.append(("packed size (2-bit)", _kb(measured.packed_bytes),
                 "-" if expected_size is None else _kb(expected_size * 1024.0)))
    rows.append(("float32 size", _kb(measured.float32_bytes), "-"))
    compression = None
    if measured.packed_bytes and measured.float32_bytes:
        compression = measured.float32_bytes / measured.packed_bytes
    expected_compression = _first(perf, "compression", "compression_ratio")
    rows.append(("compression vs float32",
                 "-" if compression is None else f"{compression:.1f}x",
                 "-" if expected_compression is None else f"{expected_compression:g}x"))
    threads = ""
    if measured.latency_threads:
        threads = f", {measured.latency_threads} thread{'s' if measured.latency_threads > 1 else ''}"
    expected_latency = _first(perf, "inference_ms", "inference_time_ms", "latency_ms")
    rows.append((f"CPU latency (batch 1{threads})",
                 "-" if measured.cpu_latency_ms is None else f"{measured.cpu_latency_ms:.3f} ms",
                 "-" if expected_latency is None else f"{expected_latency:g} ms"))
    expected_minutes = _first(perf, "training_minutes", "training_time_minutes")
    if expected_minutes is None and _first(perf, "training_hours") is not None:
        expected_minutes = _first(perf, "training_hours") * 60.0
    if expected_minutes is None and _first(perf, "training_days") is not None:
        expected_minutes = _first(perf, "training_days") * 24 * 60.0
    rows.append(("training time",
                 "-" if measured.training_seconds is None
                 else f"{measured.training_seconds / 60.0:.2f} min",
                 "-" if expected_minutes is None else f"{expected_minutes:g} min"))
    rows.append(("training images/s",
                 "-" if measured.images_per_second is None
                 else f"{measured.images_per_second:,.0f}", "-"))
    rows.append(("time waiting for data",
                 "-" if measured.data_wait_share is None
                 else f"{100.0 * measured.data_wait_share:.1f}% of step time", "-"))

    header = ("metric", "measured", "expected")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(3)]
    line = "+-" + "-+-".join("-" * w for w in widths) + "-+"

    def fmt(row: tuple[str, str, str]) -> str:
        return ("| " + row[0].ljust(widths[0]) + " | " + row[1].rjust(widths[1]) + " | "
                + row[2].rjust(widths[2]) + " |")

    return "\n".join([title, line, fmt(header), line, *(fmt(r) for r in rows), line])
