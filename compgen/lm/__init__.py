"""Language models as compgen Models (torch/transformers are imported only when used).

``compgen.load("smollm2")``, ``"hf:DIR"``, ``"gguf:FILE"`` and ``"byte-lm:DIR"`` build an
:class:`~compgen.lm.model.LMModel` through :mod:`compgen.lm.loading`.
"""
