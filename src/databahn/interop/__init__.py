"""Interoperability: harvesting protocols (OAI-PMH, OPTIMADE, signposting) and publishing to trusted repositories."""
