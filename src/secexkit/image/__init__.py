"""SE images: layout, streaming component encryption, the SE header, and ``pvimg info``."""
