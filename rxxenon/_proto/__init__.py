"""Code generated from ``protos/xenon.proto`` by ``scripts/generate_proto.py``. Never edit by hand."""
