"""impl="auto" on a GPU: the PyTorch reference until the Triton kernels have passed on a real
GPU (before: auto picked Triton kernels checked only in Triton's interpreter, said so at INFO
level, which no command shows). No GPU here: CUDA tensors are stood in for."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from bertune_cli.core import ops
from bertune_cli.core.errors import KernelUnavailable

CUDA_LOGITS = SimpleNamespace(is_cuda=True, device="cuda:0")   # what resolve_impl looks at


def test_auto_on_cuda_runs_the_reference_until_the_kernels_are_validated(monkeypatch):
    monkeypatch.setattr(ops, "_reported", set())
    assert ops.TRITON_AUTO_ON_CUDA is False
    choice, why = ops.choose_impl("auto", "cuda")
    assert choice == "torch" and "not been validated on a GPU" in why and "--impl triton" in why
    assert ops.resolve_impl("auto", CUDA_LOGITS) == "torch"


def test_once_validated_auto_on_cuda_picks_triton(monkeypatch):
    pytest.importorskip("triton")
    monkeypatch.setattr(ops, "_reported", set())
    monkeypatch.setattr(ops, "TRITON_AUTO_ON_CUDA", True)
    assert ops.choose_impl("auto", "cuda:1") == ("triton", "impl=auto: CUDA tensors on cuda:1")
    assert ops.resolve_impl("auto", CUDA_LOGITS) == "triton"


def test_choices_on_the_cpu_and_explicit_ones(monkeypatch):
    assert ops.choose_impl("auto", "cpu") == ("torch", "impl=auto: tensors are on the CPU")
    assert ops.choose_impl("torch", "cuda") == ("torch", "impl=torch")
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    with pytest.raises(KernelUnavailable):      # no GPU here (or, on one: CPU tensors)
        ops.choose_impl("triton", "cpu")


def test_an_unknown_impl_is_refused():
    from bertune_cli.core.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown soft-embedding impl"):
        ops.choose_impl("cuda-magic", "cpu")
