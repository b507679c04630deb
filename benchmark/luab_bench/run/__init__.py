"""The jobs behind ``luab-bench run`` / ``train`` / ``evaluate``, one module per step (issue 15).

``spec`` (the specs as data, built once at the edge) · ``names`` (protocol lists, suite training
defaults, ``list``) · ``training`` (prepare the training source, train, checkpoint) · ``evaluation``
(evaluate a net, assemble the result once, write it once, signed) · ``keys`` (the throw-away signing
key) · ``orchestrate`` (``run``: train -> evaluate -> align -> one signed write per job -> site) ·
``tables`` (the CLI's result tables). :mod:`luab_bench.pipeline` re-exports the public names; this
``__init__`` imports nothing, so the submodules can import each other without a cycle.
"""
