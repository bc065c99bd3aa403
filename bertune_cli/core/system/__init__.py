"""Process-wide matters, each in one place.

``runtime`` (the process settings an entry point applies once), ``allocator`` (glibc keeps
freed memory while training), ``distributed`` (rank 0 under torchrun), ``extras`` (optional
packages, refused with one line naming the extra).
"""

__all__ = ["runtime", "allocator", "distributed", "extras"]
