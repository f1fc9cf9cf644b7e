"""Publishing report documents to Elasticsearch.

``settings`` (where and how to connect; the client), ``names`` (indices, aliases, document
ids), ``mappings`` (the bodies ``es-setup`` installs), ``setup`` (``es-setup``), ``errors``
(a failed request as one line), ``bulk`` (bulk lines, batches, dry-run files),
``publisher`` (bulk requests with retries) and ``run`` (a ``publish`` run: building,
batching, totals, status file). The package is not named ``elasticsearch`` so that it never
shadows the client.
"""
