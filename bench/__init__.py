"""Benchmarks of the order platform: ``python -m bench`` (``make bench``).

Starts a fresh local broker and both services through the same
:class:`~local_kafka.stack.LocalStack` as ``make run`` (Avro values through
the registry, as ``make run`` writes them), then measures each scenario
against a baseline taken in the same run on the same machine, so that
figures from a busy or slow machine still compare.

- ``__main__``: options, run order, table and JSON; ``sizes``: full and quick sizes
- ``run``: the stack up and always down, and what scenarios share; ``procstat``: CPU and RSS
  from /proc; ``cart_log``: the cart's restores, as its log tells them
- ``loadgen``: the aiohttp load generator; ``kafka_io``: raw aiokafka baselines, preloading
- ``wire``, ``dataset``: preloaded records in the services' wire format
- one module per scenario: ``projection``, ``memory``, ``restart``, ``coldstart``, ``scan``,
  ``throughput`` (with ``ceiling_app``, the HTTP ceiling), ``wrk`` (with ``wrk_create.lua``,
  its script, and ``bare_app``, the bare aiohttp baseline), ``latency``, ``scale``
- ``stats``, ``report``: figures, targets, the table
"""
