"""The deployment figures of the final table: packed size, float32 size, CPU latency.

After training the packed model is written beside the checkpoints as `<stem>.tpk`; after
`--eval` it is written to a temporary directory only to measure it, so evaluating never
changes what is on disk. The write goes through a temporary file and a rename like every
other output. A model the packed exporter cannot handle still gets its table, with the
sizes shown as not measured and the reason printed once on stderr; a write the file system
refuses (a full disk) ends the run with its one-line error instead.
"""

from __future__ import annotations

import copy
import sys
import tempfile
from pathlib import Path

import torch
from torch import nn

from triton_dsl.errors import UserError
from triton_dsl.export.packed import ExportError, save_packed
from triton_dsl.program.optimization import Deployment
from triton_dsl.train.checkpoint import atomic_write
from triton_dsl.train.latency import measure_cpu_latency
from triton_dsl.train.report import Measurements


def write_packed(model: nn.Module, path: Path, example: torch.Tensor, deploy: Deployment):
    """`save_packed` through a temporary file; returns its report."""
    reports = []

    def write(temp: str) -> None:
        reports.append(save_packed(model, temp, example_input=example, bits=deploy.bits,
                                   fuse_bn=deploy.fuse_bn))

    atomic_write(path, write)
    return reports[0]


def measure_deployment(model: nn.Module, example: torch.Tensor, measurements: Measurements, *,
                       packed_path: Path | None,
                       deploy: Deployment | None = None) -> Path | None:
    """Fills the size and latency fields of `measurements`; returns the written .tpk path."""
    # A copy, on the CPU, in the default memory format and eval mode: measuring must not
    # change the caller's model (its device, layout or mode).
    deploy = deploy or Deployment()
    cpu_model = copy.deepcopy(model).cpu().to(memory_format=torch.contiguous_format).eval()
    written = None
    try:
        if packed_path is not None:
            report = write_packed(cpu_model, packed_path, example, deploy)
            written = packed_path
        else:
            with tempfile.TemporaryDirectory(prefix="triton-measure-") as scratch:
                report = write_packed(cpu_model, Path(scratch) / "model.tpk", example, deploy)
        measurements.packed_bytes = report.packed_bytes
        measurements.float32_bytes = report.float32_bytes
    except ExportError as error:
        print(f"note: no packed model: {error}", file=sys.stderr)
    except UserError:
        raise  # the file system refused the write (a full disk): that is the run's error
    except Exception as error:  # noqa: BLE001 - the run's checkpoints are safe; say why
        # A failure inside the exporter must not cost the user the rest of the report.
        reason = str(error).strip().splitlines()[0] if str(error).strip() else ""
        print(f"warning: packed export failed: {type(error).__name__}: {reason}",
              file=sys.stderr)
    measurements.cpu_latency_ms = measure_cpu_latency(cpu_model, example, threads=deploy.threads)
    measurements.latency_threads = deploy.threads or torch.get_num_threads()
    return written
