"""The demo: the whole product on one machine, driving the sandbox CRMs.

It sits above the service and the sandboxes (as ``bench`` does): ``run`` starts and connects
everything, ``command`` is the ``cem-connector demo`` command the CLI loads when it is asked for.
"""
