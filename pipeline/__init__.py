"""DiploLens: measure the digital diplomacy of states from archives of social-media posts.

The package folders follow the data flow:
ingest -> normalize -> langid -> (topics -> risk) -> metrics -> outputs.
"""

__version__ = "0.1.0"
