"""CRM adapters: one package per platform behind the contract in ``adapters.base``.

Every platform package has the same inner names (``adapter``, ``auth``, ``client``, ``read``,
``install``, ``mapping`` ...) and exports its adapter class; platform-neutral pieces stay here:
``base`` (the contract), ``fields`` (the CEM field specs), ``errors`` (the exception root), ``http``.
"""
