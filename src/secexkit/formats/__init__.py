"""Wire formats: pure parse/serialize of the binary structures, no crypto, no files."""
