"""The guest side: the ``/dev/uv`` device layer, SE-guest detection and secret retrieval."""
