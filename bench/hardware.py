"""The machine a benchmark ran on, for its JSON result and printout (imported by the scripts in bench/)."""

from __future__ import annotations

import os
import platform

import torch


def hardware(device: str) -> dict[str, object]:
    """CPU model and count, torch threads, library versions, the load average, and the GPU on a CUDA device."""
    import transformers

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            cpu = next(line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    info: dict[str, object] = {
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "device": device,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "python": platform.python_version(),
        "load_average_1min": round(os.getloadavg()[0], 2),  # other work on the machine while measuring
    }
    if device.startswith("cuda"):
        info["gpu"] = torch.cuda.get_device_name(torch.device(device))
    return info
