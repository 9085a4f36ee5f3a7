"""listener: social listening and sentiment monitoring worker.

Importing the package is cheap: heavy dependencies (torch, transformers, tweepy, praw,
slack_sdk, sqlalchemy) are imported lazily inside the adapters that need them.
"""

__version__ = "0.1.0"
