"""Code that two or more experiments share.

``data`` (the bundled data sets under one split/standardisation protocol), ``models`` (the shared
Flax NNX networks), ``stats`` (the suite's one significance policy and its tests), ``tables``
(markdown tables from rows), ``plotting`` (figures), ``claims`` (the claim rows and the typed result
every experiment's ``run`` returns). Code moves here when a second experiment needs it, not before;
nothing here imports an experiment or takes an experiment's ``Config``.
"""
