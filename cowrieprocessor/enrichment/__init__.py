"""Enrichment: who the attackers are (country, AS, DShield, VirusTotal, URLhaus, SPUR, ...).

``base`` is the provider interface, ``registry`` lists the providers, ``store`` reads and
writes the indicator tables, ``http`` sends online lookups within rate limits and budgets,
``runner`` runs providers over the stored sessions. See docs/enrichment.md.
"""
