"""Data: triples files (``triples``), dataset specs naming the sensitive and target relations
(``spec``), the encoded ``KnowledgeGraph`` (``graph``), built-in datasets and where they live
(``datasets``, ``locations``, ``download``), user uploads (``userdata``) and whitelists (``whitelist``).

Nothing is imported here: ``kgcore.data.locations`` must stay importable without torch."""
