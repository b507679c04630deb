"""Contracts apart from implementations (as lm-evaluation-harness keeps ``api/``).

Each module holds what the core calls and the registry typed by it; implementations import these
modules, never the other way round, and nothing here imports torch or an implementation:

- :mod:`luab_bench.api.protocol`: ``TrainingProtocol`` (a training protocol family), ``ProtocolConfig``,
  ``PROTOCOL_FAMILIES``;
- :mod:`luab_bench.api.suite`: ``Suite``, ``EvalSettings``, ``EvalOutcome``, ``TaskStatus``,
  ``MissingDataset``, ``TASK_ERRORS``, ``SUITES``, ``get_suite``;
- :mod:`luab_bench.api.source`: ``TrainSource`` (a training-data source), ``TRAIN_SOURCES``;
- :mod:`luab_bench.api.saliency`: ``SaliencyMethod`` (a saliency map of the human-alignment test).
"""
