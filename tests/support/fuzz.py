"""(No tests here.) Hypothesis strategies shared by the fuzz tests of the parsers."""

from __future__ import annotations

from hypothesis import strategies as st


def mutations(sample: bytes) -> st.SearchStrategy[bytes]:
    """The sample with a few bytes changed, truncated or extended."""
    @st.composite
    def mutate(draw: st.DrawFn) -> bytes:
        data = bytearray(sample)
        for _ in range(draw(st.integers(0, 4))):
            pos = draw(st.integers(0, len(data) - 1))
            data[pos] = draw(st.integers(0, 255))
        cut = draw(st.integers(0, len(data)))
        tail = draw(st.binary(max_size=64))
        return bytes(data[:cut]) + tail if draw(st.booleans()) else bytes(data)
    return mutate()
