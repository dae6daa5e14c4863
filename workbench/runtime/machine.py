"""The machine a measurement ran on: load averages and peak memory, reported beside every benchmark's timings."""


def load_average() -> list[float]:
    """The machine's 1, 5 and 15-minute load averages, rounded: reported before and after a benchmark's timings."""
    import os

    return [round(x, 2) for x in os.getloadavg()]


def status_mb(field: str) -> float | None:
    """A memory field of this process's ``/proc/self/status`` (``VmHWM``, ``VmRSS``, ``RssFile``) in MB;
    None where there is no such file or field."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(f"{field}:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def peak_memory_mb() -> int:
    """This process's peak resident memory in MB: ``VmHWM``, which starts afresh at exec.

    (``ru_maxrss`` does not: a child started from a big benchmark process
    reports the parent's size when it was started.)
    """
    peak = status_mb("VmHWM")
    if peak is not None:
        return round(peak)
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
