"""Files in and out: bounded reads of whole inputs (the one atomic writer joins here)."""
