"""Hand-written companions of the generated ``ler`` contracts.

- ``ler_proto.events.<context>``: the Kafka topics of each bounded context, which event messages
  go on each, and how each record is keyed.
- ``ler_proto.registry``: CloudEvents ``ce_type`` -> protobuf message class, and ``decode``.

The generated code itself is the ``ler`` package (``ler.<context>.v1.*_pb2``), produced from
``protos/`` by ``scripts/gen_protos.py``.
"""
