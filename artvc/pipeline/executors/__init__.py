"""Where stages run: the executor interface (``base``), today's local thread pool (``local``) and Dask
(``dask_backend``, client side; ``worker``, worker side), with the messages between them (``protocol``) and the
code tree workers check out (``codeship``). ``distributed`` is imported only by ``dask_backend`` and
``worker``, and only when ``--executor dask`` is used."""
