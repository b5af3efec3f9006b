"""Which arithmetic a training run picks: the writer's --precision, or for auto what the hardware does natively."""

from __future__ import annotations

import platform
import sys
from pathlib import Path

import pytest
import torch

from scribe.training.precision import cpu_has_native_bfloat16, uses_bfloat16

CPU = torch.device("cpu")


def test_the_writer_s_choice_holds_on_any_device() -> None:
    for mode in ("scratch", "finetune", "lora"):
        assert uses_bfloat16("bfloat16", CPU, mode) and not uses_bfloat16("float32", CPU, mode)


def test_auto_on_a_cpu_takes_bfloat16_for_lora_only_where_the_cpu_has_its_instructions() -> None:
    assert not uses_bfloat16("auto", CPU, "finetune") and not uses_bfloat16("auto", CPU, "scratch")
    assert uses_bfloat16("auto", CPU, "lora") == cpu_has_native_bfloat16()


@pytest.mark.skipif(not sys.platform.startswith("linux") or platform.machine() != "x86_64",
                    reason="the flags of x86 Linux's /proc/cpuinfo")
def test_native_bfloat16_is_what_the_cpu_flags_say() -> None:
    flags = next(line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags")).split()
    assert cpu_has_native_bfloat16() == ("avx512_bf16" in flags or "amx_bf16" in flags)


def test_an_unknown_precision_is_refused_naming_the_setting() -> None:
    with pytest.raises(ValueError, match="--precision half: choose one of auto, float32, bfloat16"):
        uses_bfloat16("half", CPU, "lora")
