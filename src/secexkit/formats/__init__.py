"""Wire formats: pure parse/serialize of the binary structures, no crypto, no files.

The single home of wire facts (ADR 0060): every fixed structure has one offset
table (:class:`~secexkit.formats._layout.Layout`) here, used by reader and writer.

* :mod:`.sizes` — sizes shared by several structures
* :mod:`.keyslot` — the key slot of requests and SE headers
* :mod:`.request` — add-secret request, secret header, secret and user-data types
* :mod:`.user_data` — layouts inside the user-data field (signature area, policy reference)
* :mod:`.retrievable` — retrievable secret types, payload sizes, the plaintext frame
* :mod:`.se_header` — SE header, encrypted area, header tags, image metadata, PCF/SCF bits
* :mod:`.image` — IPIB, boot-loader argument blocks, short PSW
* :mod:`.tweak` — component kinds and the XTS tweak of their pages
* :mod:`.secret_list` — the ultravisor's secret list
* :mod:`.uvio` — ``/dev/uv`` ioctl control block, argument blocks, ioctl numbers
* :mod:`.names` — display names of secret types, user-data types and flags

Nothing here imports anything of secexkit but :mod:`secexkit.errors`.
"""
