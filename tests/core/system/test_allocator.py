"""keep_freed_memory: glibc keeps large freed blocks during training, defaults come back after."""
from __future__ import annotations

import torch

from bertune_cli.core.system import allocator


class FakeLibc:
    def __init__(self):
        self.calls = []

    def mallopt(self, param, value):
        self.calls.append(("mallopt", param, value))
        return 1

    def malloc_trim(self, pad):
        self.calls.append(("trim", pad))
        return 1


def test_nested_blocks_set_once_and_restore_glibcs_defaults_once(monkeypatch):
    libc = FakeLibc()
    monkeypatch.setattr(allocator, "_libc", lambda: libc)
    with allocator.keep_freed_memory() as applied:
        assert applied
        with allocator.keep_freed_memory():
            assert libc.calls == [("mallopt", -1, 2 ** 31 - 1), ("mallopt", -4, 0)]
        assert len(libc.calls) == 2                 # the inner block restores nothing
    assert libc.calls[2:] == [("mallopt", -1, 128 * 1024), ("mallopt", -4, 65536), ("trim", 0)]


def test_restored_after_an_error_and_a_no_op_without_glibc(monkeypatch):
    libc = FakeLibc()
    monkeypatch.setattr(allocator, "_libc", lambda: libc)
    try:
        with allocator.keep_freed_memory():
            raise KeyboardInterrupt
    except KeyboardInterrupt:
        pass
    assert libc.calls[-1] == ("trim", 0) and allocator._depth == 0
    monkeypatch.setattr(allocator, "_libc", lambda: None)
    with allocator.keep_freed_memory() as applied:
        assert applied is False


def test_the_real_allocator_still_computes_the_same():
    torch.manual_seed(0)
    x = torch.randn(3000, 3000)                     # 36 MB: above glibc's mmap threshold
    want = (x @ x).sum()
    with allocator.keep_freed_memory():
        for _ in range(2):
            got = (x @ x).sum()
    assert torch.equal(got, want)
