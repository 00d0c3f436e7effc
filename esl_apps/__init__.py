"""esl-apps: FreeSWITCH Event Socket applications for call centres."""

__version__ = "0.1.0"
